//! Drawing the whole screen from the app state: header, panes, message line, key hints and the
//! overlays (help, breakpoints). Pure: reads the state, never changes it.

use crate::app::{App, Mode, Pane};
use crate::layout::{self, MIN_HEIGHT, MIN_WIDTH};
use crate::panes;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;
use sim::control::RunState;

/// Every key, for the help screen.
pub const KEYS: &[(&str, &str)] = &[
    ("s", "step into: one protocol step (10s: ten)"),
    ("n", "step over: run the next op to its end"),
    (
        "f",
        "step out: finish the innermost sub-protocol, then the op",
    ),
    ("c", "continue to a breakpoint or the end (Esc stops it)"),
    ("p / N", "step back through the recorded history"),
    ("P", "reverse-continue to the previous breakpoint"),
    ("g / G  I", "first / last step / training: open iteration K"),
    ("r / R", "restart with the same seed / a new seed"),
    ("b", "toggle a breakpoint on the selected op or step"),
    ("B", "breakpoint list (Enter edits, d deletes, : adds)"),
    (
        ":",
        "command line (break, tol, link, profile, seed, goto, export)",
    ),
    ("Tab / 1–7", "focus a pane; counts start with #: #10n, #5s"),
    (
        "↑↓ jk PgUp/Dn",
        "move the selection / scroll the focused pane",
    ),
    (
        "Enter Space ←→",
        "outline: go to the step, call or op / expand, collapse it",
    ),
    (
        "V  ← → h l",
        "view pane: one party's view so far / pick the party",
    ),
    (
        "v",
        "format of the value's ring (Z_2^64: auto/decoded/raw/hex)",
    ),
    (
        "[ ] < > a h l",
        "shares pane: value / slice index / leading axis / columns",
    ),
    ("w", "heat map: compute / waiting time"),
    ("mouse", "click focuses and selects; wheel scrolls"),
    ("?", "this help"),
    ("q / Ctrl-C", "quit"),
];

/// Draws the screen.
pub fn draw(f: &mut Frame, app: &App) {
    let size = f.area();
    let Some(areas) = layout::areas(size, app) else {
        too_small(f, size);
        return;
    };
    header(f, areas.header, app);
    let th = &app.theme;
    let mut tabs: Vec<Span> = Vec::new();
    for (i, (p, _)) in areas.tabs.iter().enumerate() {
        if i > 0 {
            tabs.push(Span::styled("│", th.dim()));
        }
        let label = layout::tab_label(*p, layout::compact_tabs(areas.tabbar.width));
        let shown = areas.panes.iter().any(|(q, _)| q == p);
        tabs.push(if *p == app.detail {
            Span::styled(label, th.current())
        } else if shown {
            Span::styled(label, th.title())
        } else {
            Span::raw(label)
        });
    }
    f.render_widget(Paragraph::new(Line::from(tabs)), areas.tabbar);
    for (p, r) in &areas.panes {
        panes::draw(f, *r, app, *p);
    }
    if let Some(r) = areas.totals {
        panes::totals::draw(f, r, app);
    }
    let msg = match &app.mode {
        Mode::Command(text) => {
            let (before, under, after) = crate::line_edit::render(text, &app.line);
            Line::from(vec![
                Span::styled(before, th.title()),
                Span::styled(
                    under,
                    th.title().add_modifier(ratatui::style::Modifier::REVERSED),
                ),
                Span::styled(after, th.title()),
            ])
        }
        _ => {
            let count = match app.count {
                Some(c) => format!("[#{c}] "),
                _ => String::new(),
            };
            let style = if app.message.starts_with("error") || app.message.starts_with("run failed")
            {
                th.bad()
            } else {
                Default::default()
            };
            Line::from(vec![
                Span::styled(count, th.title()),
                Span::styled(app.message.clone(), style),
            ])
        }
    };
    f.render_widget(
        Paragraph::new(msg).wrap(Wrap { trim: false }),
        areas.message,
    );
    f.render_widget(Paragraph::new(key_hints(app)).style(th.dim()), areas.keys);
    match &app.mode {
        Mode::Help => help(f, size, app),
        Mode::Breakpoints(sel) => breakpoints(f, size, app, *sel),
        _ => {}
    }
}

/// The key hints that apply now.
pub fn key_hints(app: &App) -> String {
    match &app.mode {
        Mode::Command(_) if !app.line.note.is_empty() => app.line.note.clone(),
        Mode::Command(_) => "Enter run · Esc cancel · Tab complete · ↑↓ history · commands: \
                             break edit tol link wan seed goto iteration export"
            .into(),
        Mode::Help => "Esc / ? close help".into(),
        Mode::Breakpoints(_) => "↑↓ select · Enter edit · d delete · : add · Esc close".into(),
        Mode::Normal => {
            let forward = match app.ctl.state() {
                RunState::Paused => true,
                // The end of a training iteration: the next one opens.
                RunState::Finished
                    if app
                        .ctl
                        .iteration()
                        .is_some_and(|i| i.index + 1 < i.iterations) =>
                {
                    true
                }
                _ => app.ctl.position() < app.ctl.completed(),
            };
            let mut keys = Vec::new();
            if forward {
                keys.push("s step  n over  f out  c cont");
            }
            if app.ctl.position() > 0 {
                keys.push("p back  P rev");
            }
            if app.focus == Pane::View {
                keys.insert(0, "←→ party  ↑↓ scroll");
            }
            if app.focus == Pane::Shares {
                keys.insert(0, "[] value  <>a slice  v format");
            }
            keys.push("b break  : cmd  Tab pane  ? help  q quit");
            keys.join("  ")
        }
    }
}

fn header(f: &mut Frame, area: Rect, app: &App) {
    let th = &app.theme;
    let c = &app.ctl;
    let t = c.trace();
    let total = match c.state() {
        RunState::Finished => format!("{}", c.completed()),
        _ => "?".into(),
    };
    let op = header_op(c);
    let (state, st_style) = match c.state() {
        RunState::Paused => ("paused", th.good()),
        RunState::Finished => ("run finished", th.good()),
        RunState::Failed(_) => ("FAILED", th.bad()),
    };
    let mut spans = vec![
        Span::styled(" sharescope ", th.current()),
        Span::styled(format!(" {} ", t.scenario), th.title()),
    ];
    // The teaching variants that leak say so first, whatever else has to give way.
    if c.plan().scenario.protocol.is_insecure() {
        spans.push(Span::styled("⚠ INSECURE VARIANT", th.bad()));
        spans.push(Span::raw(" "));
    }
    let width = |spans: &[Span]| spans.iter().map(|s| s.width()).sum::<usize>();
    // A training run: which iteration, epoch and batch (docs/training.md, "Debugging").
    let (long_it, short_it) = match c.iteration() {
        Some(i) => (
            format!("{i} · "),
            format!("it {}/{} · ", i.index, i.iterations),
        ),
        None => (String::new(), String::new()),
    };
    let tail = [
        format!(
            "· {long_it}seed {} · step {}/{} · {op} · ",
            t.seed,
            c.position(),
            total
        ),
        format!(
            "· {short_it}seed {} · step {}/{} · {op} · ",
            t.seed,
            c.position(),
            total
        ),
        format!("· {short_it}step {}/{} · ", c.position(), total),
        format!("· step {}/{} · ", c.position(), total),
    ];
    let room = (area.width as usize).saturating_sub(width(&spans) + state.chars().count());
    let tail = tail
        .iter()
        .find(|s| s.chars().count() <= room)
        .unwrap_or(&tail[3]);
    spans.push(Span::raw(tail.clone()));
    spans.push(Span::styled(state, st_style));
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The op the header names: the op about to run, i.e. the next step's. Inside an op that is
/// the op itself; at an op boundary — after `c` stopped before `logits` — the op the next step
/// begins (`op logits`, though the step just run was the previous op's); after the last step,
/// the last op; at the end of a failed run, the op that failed (the history may end before its
/// first step: a party can fail at its very start).
pub fn header_op(c: &sim::control::Controller) -> String {
    let t = c.trace();
    let name = |i: usize| t.ops.get(i).map_or("?", |o| o.name.as_str());
    if matches!(c.state(), RunState::Failed(_)) && c.position() >= c.completed() {
        if let Some(op) = c.failed_op() {
            return format!("op {op}");
        }
    }
    match c.next_step().or_else(|| c.current_step()) {
        Some(s) => format!("op {}", name(s.op)),
        None => String::new(),
    }
}

fn too_small(f: &mut Frame, size: Rect) {
    let text = format!(
        "Terminal too small: {}×{}.\nsharescope needs at least {MIN_WIDTH}×{MIN_HEIGHT}.\nEnlarge the window, or press q to quit.",
        size.width, size.height
    );
    f.render_widget(
        Paragraph::new(text)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        size,
    );
}

fn centered(size: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(size.width);
    let h = h.min(size.height);
    Rect::new(
        size.x + (size.width - w) / 2,
        size.y + (size.height - h) / 2,
        w,
        h,
    )
}

fn help(f: &mut Frame, size: Rect, app: &App) {
    let th = &app.theme;
    let mut lines = vec![Line::styled("Keys", th.title())];
    for (k, d) in KEYS {
        lines.push(Line::from(vec![
            Span::styled(format!("{k:>14}  "), th.title()),
            Span::raw(*d),
        ]));
    }
    // The command list only when it fits (the key list always does from 24 rows on).
    let room = size.height.saturating_sub(2) as usize;
    if lines.len() + 2 + crate::command::HELP.len() > room {
        lines.push(Line::styled(
            "(a taller terminal also lists the : commands)",
            th.dim(),
        ));
        return finish_help(f, size, lines);
    }
    lines.push(Line::from(""));
    lines.push(Line::styled("Commands (after :)", th.title()));
    for (k, d) in crate::command::HELP {
        lines.push(Line::from(vec![
            Span::styled(format!("  {k}"), th.title()),
            Span::raw(format!(" — {d}")),
        ]));
    }
    lines.push(Line::styled("Editing the command line", th.title()));
    for (k, d) in crate::line_edit::HELP {
        lines.push(Line::from(vec![
            Span::styled(format!("  {k}"), th.title()),
            Span::raw(format!(" — {d}")),
        ]));
    }
    if lines.len() + 4 <= room {
        lines.push(Line::from(""));
        lines.push(Line::styled(
            "From 30 rows a totals strip sits under the outline: bytes, messages, rounds,",
            th.dim(),
        ));
        lines.push(Line::styled(
            "virtual time to the cursor and at the end; DAG schedule; op rounds; metrics.",
            th.dim(),
        ));
    }
    finish_help(f, size, lines);
}

fn finish_help(f: &mut Frame, size: Rect, lines: Vec<Line<'static>>) {
    let area = centered(size, 78, lines.len() as u16 + 2);
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Help · Esc closes "),
        ),
        area,
    );
}

fn breakpoints(f: &mut Frame, size: Rect, app: &App, sel: usize) {
    let th = &app.theme;
    let parties = &app.ctl.plan().parties;
    let mut lines: Vec<Line> = app
        .ctl
        .breakpoints()
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let text = format!("{:>3}  {}", i + 1, b.describe(parties));
            if i == sel {
                Line::styled(text, th.selected())
            } else {
                Line::from(text)
            }
        })
        .collect();
    if lines.is_empty() {
        lines.push(Line::styled(
            "No breakpoints. b on the outline sets one;",
            th.dim(),
        ));
    }
    lines.push(Line::from(""));
    lines.push(Line::styled(
        ":break op|kind|step|party NAME · div EPS · bytes N · hazard",
        th.dim(),
    ));
    let area = centered(size, 64, lines.len() as u16 + 2);
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Breakpoints "),
        ),
        area,
    );
}
