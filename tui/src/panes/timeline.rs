//! Pane 6: one lane per party in virtual time over the recent steps up to the cursor: computing
//! (█), waiting (░), sending (↑), idle (space). Above the lanes, the ops of the window over
//! their spans (├ name ┤); below them, a time axis with ticks and the cursor step's span.
//!
//! A party's step counts only where the party did something (computed, waited or sent): a party
//! idle through earlier ops (an output receiver) neither stretches the window nor draws a bar
//! (its idle time is not the op's cost, docs/simulator.md).

use crate::app::App;
use crate::format::{self, fit};
use ratatui::text::{Line, Span};
use sim::trace::{PartyStep, StepRecord};

/// How many steps before the cursor the window covers.
const WINDOW_STEPS: usize = 24;

/// Whether the party did anything in the step.
fn active(ps: &PartyStep) -> bool {
    ps.end_ns > ps.start_ns || !ps.sent.is_empty()
}

/// The virtual-time span of the parties' activity in `steps`, if any.
fn span<'a>(steps: impl IntoIterator<Item = &'a StepRecord>) -> Option<(u64, u64)> {
    steps
        .into_iter()
        .flat_map(|s| s.parties.iter().filter(|p| active(p)))
        .map(|p| (p.start_ns, p.end_ns))
        .reduce(|(a, b), (c, d)| (a.min(c), b.max(d)))
}

/// Writes `text` into `row` from column `at`, never past `end` (exclusive).
fn put(row: &mut [char], at: usize, end: usize, text: &str) {
    for (c, ch) in (at..end.min(row.len())).zip(text.chars()) {
        row[c] = ch;
    }
}

/// The pane's lines for a pane `width` columns wide.
pub fn lines(app: &App, width: usize) -> Vec<Line<'static>> {
    let th = &app.theme;
    let t = app.ctl.trace();
    let pos = app.ctl.position();
    if pos == 0 {
        return vec![Line::from("Nothing has run yet: press s to step.")];
    }
    let first = pos.saturating_sub(WINDOW_STEPS);
    let steps = &t.steps[first..pos];
    let (t0, t1) = span(steps).unwrap_or((0, 0));
    let t1 = t1.max(t0 + 1);
    let label_w = 10;
    let lane_w = width.saturating_sub(label_w + 1).max(10);
    let col = |ns: u64| -> usize {
        (((ns.saturating_sub(t0)) as f64 / (t1 - t0) as f64) * (lane_w - 1) as f64).round() as usize
    };
    let mut out = vec![Line::styled(
        format!(
            "steps {}–{pos} · {} → {} · █ compute ░ wait ↑ send",
            first + 1,
            format::ns(t0),
            format::ns(t1)
        ),
        th.dim(),
    )];
    // The ops of the window over their spans; an op that took no time gets a │ where it fits.
    // An op spans how far it pushed the makespan (as its virtual time in the report), so the
    // spans tile the axis even where the dealer ran ahead.
    let end_of = |s: &StepRecord| s.parties.iter().map(|p| p.end_ns).max().unwrap_or(0);
    let mut made = t.steps[..first].iter().map(end_of).max().unwrap_or(0);
    let mut ops = vec![' '; lane_w];
    let mut s = 0;
    while s < steps.len() {
        let op = steps[s].op;
        let n = steps[s..].iter().take_while(|x| x.op == op).count();
        let end = steps[s..s + n].iter().map(end_of).fold(made, u64::max);
        let (a, b) = (col(made.max(t0)), col(end).min(lane_w - 1));
        made = end;
        s += n;
        if b > a {
            ops[a] = '├';
            ops[b] = '┤';
            for c in &mut ops[a + 1..b] {
                *c = '─';
            }
            let name = fit(&t.ops[op].name, b - a - 1);
            put(&mut ops, a + 1, b, &name);
        } else if ops[a] == ' ' {
            ops[a] = '│';
        }
    }
    out.push(Line::from(vec![
        Span::styled(format!("{:>label_w$} ", "op"), th.dim()),
        Span::styled(ops.into_iter().collect::<String>(), th.title()),
    ]));
    for (p, name) in t.parties.iter().enumerate() {
        let mut lane = vec![' '; lane_w];
        for s in steps {
            let ps = &s.parties[p];
            if !active(ps) {
                continue;
            }
            let (a, b) = (col(ps.start_ns), col(ps.end_ns));
            let split = col(ps.start_ns + ps.compute_ns);
            for (c, cell) in lane.iter_mut().enumerate().take(b + 1).skip(a) {
                *cell = if c <= split && ps.compute_ns > 0 {
                    '█'
                } else if ps.wait_ns > 0 {
                    '░'
                } else {
                    '█'
                };
            }
            for m in &ps.sent {
                lane[col(m.send_ns).min(lane_w - 1)] = '↑';
            }
        }
        out.push(Line::from(vec![
            Span::styled(format!("{:>label_w$} ", fit(name, label_w)), th.party(p)),
            Span::styled(lane.into_iter().collect::<String>(), th.party(p)),
        ]));
    }
    // The cursor step's span on the axis (▀), and ticks (┬) with their times below.
    let cur = &t.steps[pos - 1];
    let (a, b) = span([cur]).unwrap_or((t0, t0));
    let mut axis = vec!['─'; lane_w];
    for c in axis.iter_mut().take(col(b) + 1).skip(col(a)) {
        *c = '▀';
    }
    let ticks = (lane_w / 14).clamp(1, 6);
    let mut labels = vec![' '; lane_w];
    let mut taken = vec![false; lane_w];
    // The two ends first, then the ticks between where their times fit without touching another.
    let order = [0, ticks].into_iter().chain(1..ticks);
    for k in order {
        let c = (lane_w - 1) * k / ticks;
        if axis[c] == '─' {
            axis[c] = '┬';
        }
        let text = format::ns(t0 + (t1 - t0) * k as u64 / ticks as u64);
        let len = text.chars().count();
        // The last label ends at the last column.
        let at = if k == ticks {
            (c + 1).saturating_sub(len)
        } else {
            c
        };
        let room = at.saturating_sub(1)..(at + len + 1).min(lane_w);
        if at + len <= lane_w && !taken[room.clone()].iter().any(|&x| x) {
            put(&mut labels, at, lane_w, &text);
            taken[at..at + len].iter_mut().for_each(|x| *x = true);
        }
    }
    out.push(Line::from(vec![
        Span::raw(format!("{:>label_w$} ", "time")),
        Span::styled(axis.into_iter().collect::<String>(), th.title()),
    ]));
    out.push(Line::styled(
        format!(
            "{:>label_w$} {}",
            "",
            labels.into_iter().collect::<String>()
        ),
        th.dim(),
    ));
    out.push(Line::styled(
        format!(
            "{:>label_w$} ▀ = step {} ({}), {} → {}",
            "",
            cur.index + 1,
            cur.name,
            format::ns(a),
            format::ns(b)
        ),
        th.dim(),
    ));
    out
}
