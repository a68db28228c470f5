//! The totals strip under the outline: the run's online and offline bytes, messages, rounds and
//! virtual time up to the cursor and at the end; the DAG schedule's critical-path rounds and
//! time; the rounds of the op at the cursor so far; accuracy and agreement at the end for a
//! scenario with `metrics`. One pass over the steps up to the cursor, nothing cached.

use crate::app::App;
use crate::format::{self, fit};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;
use sim::trace::{StepRecord, Trace};

/// Costs of a stretch of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// Online bytes.
    pub bytes: u64,
    /// Online messages.
    pub messages: u64,
    /// Online rounds (the causal depth so far).
    pub rounds: u32,
    /// Offline (dealer) bytes.
    pub offline_bytes: u64,
    /// Offline messages.
    pub offline_messages: u64,
    /// Virtual time: the latest party clock, ns.
    pub virtual_time_ns: u64,
}

/// The costs of the first `pos` steps of `t` (the state at a cursor at `pos`).
pub fn up_to(t: &Trace, pos: usize) -> Summary {
    let mut s = Summary::default();
    for step in t.steps.iter().take(pos) {
        add_step(&mut s, step);
    }
    s
}

fn add_step(s: &mut Summary, step: &StepRecord) {
    use protocols::context::Traffic;
    for p in &step.parties {
        s.virtual_time_ns = s.virtual_time_ns.max(p.end_ns);
    }
    for m in step.messages() {
        match m.traffic {
            Traffic::Online => {
                s.bytes += m.bytes;
                s.messages += 1;
                s.rounds = s.rounds.max(m.round);
            }
            Traffic::Offline => {
                s.offline_bytes += m.bytes;
                s.offline_messages += 1;
            }
        }
    }
}

/// How many rows the strip needs (borders included) for `app`'s scenario.
pub fn height(app: &App) -> u16 {
    if app.ctl.plan().metrics.is_some() {
        10
    } else {
        9
    }
}

/// The strip's lines for `width` columns inside its border: a row per measure, a column for the
/// cursor and one for the end of the run.
pub fn lines(app: &App, width: usize) -> Vec<Line<'static>> {
    let th = &app.theme;
    let t = app.ctl.trace();
    let pos = app.ctl.position();
    let cell = (width.saturating_sub(8) / 2).clamp(8, 20);
    let here = up_to(t, pos);
    let end = app.ctl.totals();
    let row = |label: &str, a: String, b: Option<String>| -> Line<'static> {
        let b = b.unwrap_or_else(|| "—".into());
        Line::from(vec![
            Span::styled(format!("{:<8}", fit(label, 8)), th.dim()),
            Span::raw(fit(
                &format!("{:>cell$}{:>cell$}", fit(&a, cell - 1), fit(&b, cell - 1)),
                width.saturating_sub(8),
            )),
        ])
    };
    let traffic = |bytes: u64, msgs: u64| format!("{} · {msgs} msg", format::bytes(bytes));
    let mut out = vec![
        Line::styled(
            fit(
                &format!("{:<8}{:>cell$}{:>cell$}", "", "cursor", "end"),
                width,
            ),
            th.dim(),
        ),
        row(
            "online",
            traffic(here.bytes, here.messages),
            end.map(|e| traffic(e.bytes, e.messages)),
        ),
        row(
            "offline",
            traffic(here.offline_bytes, here.offline_messages),
            end.map(|e| traffic(e.offline_bytes, e.offline_messages)),
        ),
        row(
            "rounds",
            here.rounds.to_string(),
            end.map(|e| e.rounds.to_string()),
        ),
        row(
            "time",
            format::ns(here.virtual_time_ns),
            end.map(|e| format::ns(e.virtual_time_ns)),
        ),
    ];
    // The DAG schedule, and why the end column is empty.
    let dag = match (end, app.ctl.state()) {
        (Some(e), _) => format!(
            "critical path {} rounds, {} (independent ops overlapped)",
            e.critical_path_rounds,
            format::ns(e.dag_virtual_time_ns)
        ),
        (None, sim::control::RunState::Failed(_)) => "— (the run failed: no end)".into(),
        (None, _) => "— once the run has finished (G runs to it)".into(),
    };
    out.push(Line::from(vec![
        Span::styled(format!("{:<8}", "DAG"), th.dim()),
        Span::raw(fit(&dag, width.saturating_sub(8))),
    ]));
    // The op at the cursor: its rounds and traffic so far.
    if let Some(op) = app.ctl.current_op().and_then(|k| t.ops.get(k)) {
        let last = pos.min(op.end_step);
        let mut s = Summary::default();
        let mut rounds = 0;
        for step in t.steps.iter().take(last).skip(op.first_step) {
            add_step(&mut s, step);
            rounds = step
                .messages()
                .filter(|m| m.traffic == protocols::context::Traffic::Online)
                .map(|m| m.op_round)
                .fold(rounds, u32::max);
        }
        let done = if pos >= op.end_step && op.end_step > op.first_step {
            ""
        } else {
            " so far"
        };
        out.push(Line::from(vec![
            Span::styled(format!("{:<8}", "op"), th.dim()),
            Span::styled(
                fit(
                    &format!(
                        "{}: {rounds} rounds{done}, {} online, {} offline",
                        op.name,
                        format::bytes(s.bytes),
                        format::bytes(s.offline_bytes)
                    ),
                    width.saturating_sub(8),
                ),
                th.title(),
            ),
        ]));
    }
    if app.ctl.plan().metrics.is_some() {
        let text = match app.ctl.metrics() {
            Some(m) => format!(
                "accuracy {:.4} (plaintext {:.4}) · agreement {:.4} · {} images",
                m.accuracy, m.plaintext_accuracy, m.agreement, m.images
            ),
            None => "accuracy, agreement: once the run has finished".into(),
        };
        out.push(Line::from(fit(&text, width)));
    }
    out
}

/// Draws the strip in `area`.
pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let w = area.width.saturating_sub(2) as usize;
    let title = format!(" Totals · up to step {} ", app.ctl.position());
    let block = Block::default()
        .borders(Borders::ALL)
        .title(title)
        .border_style(app.theme.dim());
    f.render_widget(Paragraph::new(lines(app, w)).block(block), area);
}
