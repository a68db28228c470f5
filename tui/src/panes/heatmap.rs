//! Pane 5: heat maps of op × party (compute or waiting time, `w` switches) and op × link (bytes),
//! up to the cursor. Each cell is a glyph (· ░ ▒ ▓ █, readable without colour) in a viridis
//! colour, with a legend and the scale.

use crate::app::{App, HeatMetric};
use crate::format::{self, fit};
use crate::theme::HEAT_GLYPHS;
use ratatui::text::{Line, Span};

/// The pane's subtitle.
pub fn subtitle(app: &App) -> &'static str {
    match app.heat_metric {
        HeatMetric::Compute => "compute time · w: waiting",
        HeatMetric::Wait => "waiting time · w: compute",
    }
}

/// The pane's lines for a pane `height` rows high.
pub fn lines(app: &App, height: usize) -> Vec<Line<'static>> {
    let th = &app.theme;
    let t = app.ctl.trace();
    let pos = app.ctl.position();
    let n = t.parties.len();
    let mut time = vec![vec![0u64; n]; t.ops.len()];
    let mut links: Vec<(usize, usize)> = Vec::new();
    let mut bytes: Vec<Vec<u64>> = vec![Vec::new(); t.ops.len()];
    for s in t.steps.iter().take(pos) {
        for (p, ps) in s.parties.iter().enumerate() {
            time[s.op][p] += match app.heat_metric {
                HeatMetric::Compute => ps.compute_ns,
                HeatMetric::Wait => ps.wait_ns,
            };
        }
        for m in s.messages() {
            let l = match links.iter().position(|l| *l == (m.from, m.to)) {
                Some(l) => l,
                None => {
                    links.push((m.from, m.to));
                    links.len() - 1
                }
            };
            if bytes[s.op].len() <= l {
                bytes[s.op].resize(l + 1, 0);
            }
            bytes[s.op][l] += m.bytes;
        }
    }
    let max_t = time.iter().flatten().copied().max().unwrap_or(0);
    let max_b = bytes.iter().flatten().copied().max().unwrap_or(0);
    let legend: String = HEAT_GLYPHS
        .iter()
        .enumerate()
        .map(|(i, g)| match i {
            0 => format!("{g} 0"),
            i => format!("{g} ≤{}%", i * 25),
        })
        .collect::<Vec<_>>()
        .join("  ");
    let metric = match app.heat_metric {
        HeatMetric::Compute => "compute",
        HeatMetric::Wait => "waiting",
    };
    let mut out = vec![
        Line::styled(legend, th.dim()),
        Line::styled(
            format!(
                "scale: {metric} max {} per op·party │ bytes max {} per op·link",
                format::ns(max_t),
                format::bytes(max_b)
            ),
            th.dim(),
        ),
    ];
    let mut key = vec![Span::styled("parties: ", th.dim())];
    for (p, name) in t.parties.iter().enumerate() {
        key.push(Span::styled(format!("{p} {name}  "), th.party(p)));
    }
    out.push(Line::from(key));
    let mut header = vec![Span::styled(format!("{:<16}", "op"), th.dim())];
    for p in 0..n {
        header.push(Span::styled(format!("{p:>4}"), th.party(p)));
    }
    header.push(Span::styled(" │", th.dim()));
    for (a, b) in &links {
        header.push(Span::styled(format!("{:>5}", format!("{a}→{b}")), th.dim()));
    }
    out.push(Line::from(header));
    // A window of ops around the cursor's op.
    let rows = height.saturating_sub(out.len()).max(1);
    let cur = app.ctl.current_op().unwrap_or(0);
    let first = cur
        .saturating_sub(rows / 2)
        .min(t.ops.len().saturating_sub(rows));
    for op in t.ops.iter().skip(first).take(rows) {
        let style = if op.index == cur {
            th.current()
        } else {
            Default::default()
        };
        let mut row = vec![Span::styled(format!("{:<16}", fit(&op.name, 16)), style)];
        for &v in &time[op.index] {
            let (g, st) = th.heat(if max_t == 0 {
                0.0
            } else {
                v as f64 / max_t as f64
            });
            row.push(Span::styled(format!("  {g}{g}"), st));
        }
        row.push(Span::styled(" │", th.dim()));
        for l in 0..links.len() {
            let v = bytes[op.index].get(l).copied().unwrap_or(0);
            let (g, st) = th.heat(if max_b == 0 {
                0.0
            } else {
                v as f64 / max_b as f64
            });
            row.push(Span::styled(format!("   {g}{g}"), st));
        }
        out.push(Line::from(row));
    }
    out
}
