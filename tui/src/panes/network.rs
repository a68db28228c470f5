//! Pane 4: bytes per link (from × to) for the step at the cursor and cumulative up to it, each
//! link's model, and, at the frontier, which party waits on whom.

use crate::app::App;
use crate::format::{self, fit};
use ratatui::text::{Line, Span};
use sim::scenario::LinkState;
use sim::PartyStatus;

fn matrix(app: &App, title: String, m: &[Vec<u64>], out: &mut Vec<Line<'static>>) {
    let th = &app.theme;
    let t = app.ctl.trace();
    let n = t.parties.len();
    out.push(Line::styled(title, th.title()));
    let mut header = vec![Span::styled(format!("{:<10}", "from \\ to"), th.dim())];
    for j in 0..n {
        header.push(Span::styled(format!(" {j:>5}"), th.party(j)));
    }
    out.push(Line::from(header));
    for (i, from) in m.iter().enumerate().take(n) {
        let mut row = vec![Span::styled(
            format!("{:<10}", fit(&format!("{i} {}", t.parties[i]), 10)),
            th.party(i),
        )];
        for (j, &b) in from.iter().enumerate().take(n) {
            let cell = if i == j {
                "·".to_string()
            } else if b == 0 {
                "-".to_string()
            } else {
                compact_bytes(b)
            };
            row.push(Span::raw(format!(" {cell:>5}")));
        }
        out.push(Line::from(row));
    }
}

/// Bytes in at most five characters: `812B`, `12k`, `3.1M`.
fn compact_bytes(b: u64) -> String {
    match b {
        b if b < 10_000 => format!("{b}B"),
        b if b < 1_000_000 => format!("{}k", b / 1000),
        b if b < 10_000_000 => format!("{:.1}M", b as f64 / 1e6),
        b if b < 1_000_000_000 => format!("{}M", b / 1_000_000),
        b => format!("{}G", b / 1_000_000_000),
    }
}

/// Messages in flight in virtual time at the cursor: sent by then, but not yet delivered when
/// their receiver's clock stood where the cursor leaves it (dealer traffic often is: it is
/// delivered while the servers are busy). Held messages never arrive.
fn in_flight(app: &App, out: &mut Vec<Line<'static>>) {
    let th = &app.theme;
    let t = app.ctl.trace();
    let pos = app.ctl.position();
    let mut clock = vec![0u64; t.parties.len()];
    for s in t.steps.iter().take(pos) {
        for (p, ps) in s.parties.iter().enumerate() {
            clock[p] = clock[p].max(ps.end_ns);
        }
    }
    let flying: Vec<_> = t
        .steps
        .iter()
        .take(pos)
        .flat_map(|s| s.messages())
        .filter(|m| m.delivery_ns > clock[m.to])
        .collect();
    out.push(Line::from(""));
    out.push(Line::styled(
        format!("in flight at the cursor ({})", flying.len()),
        th.title(),
    ));
    if flying.is_empty() {
        out.push(Line::styled(
            "  none: every message sent has arrived",
            th.dim(),
        ));
    }
    for m in flying.iter().take(12) {
        let when = if m.delivery_ns == u64::MAX {
            "held: never delivered".to_string()
        } else {
            format!(
                "arrives at {}, {} after {}'s clock",
                format::ns(m.delivery_ns),
                format::ns(m.delivery_ns - clock[m.to]),
                t.parties[m.to]
            )
        };
        out.push(super::message_line(t, th, m, &format!("  {when}")));
    }
}

/// The pane's lines.
pub fn lines(app: &App) -> Vec<Line<'static>> {
    let th = &app.theme;
    let t = app.ctl.trace();
    let plan = app.ctl.plan();
    let n = t.parties.len();
    let pos = app.ctl.position();
    let mut step_m = vec![vec![0u64; n]; n];
    let mut total_m = vec![vec![0u64; n]; n];
    for s in t.steps.iter().take(pos) {
        for m in s.messages() {
            total_m[m.from][m.to] += m.bytes;
        }
    }
    let mut out = Vec::new();
    if let Some(s) = app.ctl.current_step() {
        for m in s.messages() {
            step_m[m.from][m.to] += m.bytes;
        }
        matrix(
            app,
            format!("bytes in step {} ({}), from × to", s.index + 1, s.name),
            &step_m,
            &mut out,
        );
        out.push(Line::from(""));
    }
    matrix(
        app,
        format!("bytes up to step {pos} (online + offline)"),
        &total_m,
        &mut out,
    );
    out.push(Line::from(""));
    out.push(Line::styled("links with traffic", th.title()));
    out.push(Line::styled(
        format!(
            "{:>21}  {:>9} {:>13}  state",
            "link", "latency", "bandwidth"
        ),
        th.dim(),
    ));
    for i in 0..n {
        for j in 0..n {
            if i == j || total_m[i][j] == 0 && step_m[i][j] == 0 {
                continue;
            }
            let l = plan.links[i][j];
            let state = match l.state {
                LinkState::Healthy => "healthy",
                LinkState::Held => "HELD (never delivers)",
            };
            out.push(Line::from(vec![
                Span::styled(format!("{:>10}", fit(&t.parties[i], 10)), th.party(i)),
                Span::raw("→"),
                Span::styled(format!("{:<10}", fit(&t.parties[j], 10)), th.party(j)),
                Span::raw(format!(
                    "  {:>9} {:>13}  {state}{}",
                    format::ns(l.latency_us * 1000),
                    format::bps(l.bandwidth_bps),
                    if l.jitter_us > 0 {
                        format!(" (jitter {} µs)", l.jitter_us)
                    } else {
                        String::new()
                    }
                )),
            ]));
        }
    }
    in_flight(app, &mut out);
    out.push(Line::from(""));
    out.push(Line::styled(
        format!(
            "party threads at the frontier ({} steps recorded)",
            app.ctl.completed()
        ),
        th.title(),
    ));
    for (i, st) in app.ctl.party_status().iter().enumerate() {
        let what = match st {
            PartyStatus::Running => "running".to_string(),
            PartyStatus::Waiting(q) => format!(
                "waiting for {}",
                t.parties.get(*q).map(String::as_str).unwrap_or("?")
            ),
            PartyStatus::AtGate(k) => format!("paused before step {k}"),
            PartyStatus::Finished => "finished".to_string(),
            PartyStatus::Failed => "FAILED".to_string(),
        };
        out.push(Line::from(vec![
            Span::styled(format!("  {:>10}", fit(&t.parties[i], 10)), th.party(i)),
            Span::raw(format!("  {what}")),
        ]));
    }
    out
}
