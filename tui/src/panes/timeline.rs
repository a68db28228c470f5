//! Pane 6: one lane per party in virtual time over the recent steps up to the cursor: computing
//! (█), waiting (░), sending (↑), idle (space). The cursor step's span is marked on the axis.

use crate::app::App;
use crate::format::{self, fit};
use ratatui::text::{Line, Span};

/// How many steps before the cursor the window covers.
const WINDOW_STEPS: usize = 24;

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
    let t0 = steps
        .iter()
        .flat_map(|s| s.parties.iter().map(|p| p.start_ns))
        .min()
        .unwrap_or(0);
    let t1 = steps
        .iter()
        .flat_map(|s| s.parties.iter().map(|p| p.end_ns))
        .max()
        .unwrap_or(0)
        .max(t0 + 1);
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
    for (p, name) in t.parties.iter().enumerate() {
        let mut lane = vec![' '; lane_w];
        for s in steps {
            let ps = &s.parties[p];
            if ps.end_ns <= ps.start_ns && ps.sent.is_empty() {
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
    // The cursor step's span on the axis.
    let cur = &t.steps[pos - 1];
    let a = cur.parties.iter().map(|p| p.start_ns).min().unwrap_or(t0);
    let b = cur.parties.iter().map(|p| p.end_ns).max().unwrap_or(t0);
    let mut axis = vec!['─'; lane_w];
    for c in axis.iter_mut().take(col(b) + 1).skip(col(a)) {
        *c = '▀';
    }
    out.push(Line::from(vec![
        Span::raw(format!("{:>label_w$} ", "step")),
        Span::styled(axis.into_iter().collect::<String>(), th.title()),
    ]));
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
