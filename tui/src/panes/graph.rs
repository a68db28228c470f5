//! Pane 2: the program's data-flow DAG — ops by depth, each with the values that feed it and the
//! ops it feeds — and the current op highlighted.

use crate::app::App;
use ratatui::text::{Line, Span};
use std::collections::HashMap;

/// The depth of every op: 0 for ops fed by no op, else 1 + the deepest op feeding it.
pub fn depths(app: &App) -> Vec<usize> {
    let t = app.ctl.trace();
    let mut maker: HashMap<String, usize> = HashMap::new();
    let mut depth = vec![0usize; t.ops.len()];
    for (i, op) in t.ops.iter().enumerate() {
        let d = op
            .operands
            .iter()
            .filter_map(|v| maker.get(v))
            .map(|p| depth[*p] + 1)
            .max()
            .unwrap_or(0);
        depth[i] = d;
        if op.kind != "output" {
            maker.insert(value_name(&op.name).to_string(), i);
        }
    }
    depth
}

fn value_name(label: &str) -> &str {
    label.strip_prefix("input ").unwrap_or(label)
}

/// The pane's lines.
pub fn lines(app: &App) -> Vec<Line<'static>> {
    let th = &app.theme;
    let t = app.ctl.trace();
    let depth = depths(app);
    let cur = app.ctl.current_op();
    let max = depth.iter().copied().max().unwrap_or(0);
    let produced: HashMap<&str, usize> = t
        .ops
        .iter()
        .filter(|o| o.kind != "output")
        .map(|o| (value_name(&o.name), o.index))
        .collect();
    // The ops that read each value, in program order.
    let mut readers: HashMap<&str, Vec<&str>> = HashMap::new();
    for op in &t.ops {
        for v in &op.operands {
            readers
                .entry(v.as_str())
                .or_default()
                .push(op.name.as_str());
        }
    }
    let mut out = vec![Line::styled(
        "depth  op ◀ operands ─▶ the ops it feeds (▶ marks the op at the cursor)",
        th.dim(),
    )];
    for d in 0..=max {
        for op in t.ops.iter().filter(|o| depth[o.index] == d) {
            let is_cur = Some(op.index) == cur;
            let style = if is_cur { th.current() } else { th.title() };
            let mut spans = vec![
                Span::raw(format!(
                    "{:>5}  ",
                    if op.index == first_at(&depth, d) {
                        d.to_string()
                    } else {
                        String::new()
                    }
                )),
                Span::styled(
                    format!(
                        "{}{} [{}]",
                        if is_cur { "▶ " } else { "" },
                        op.name,
                        op.kind
                    ),
                    style,
                ),
            ];
            if !op.operands.is_empty() {
                spans.push(Span::raw(" ◀ "));
                let feeds: Vec<String> = op
                    .operands
                    .iter()
                    .map(|v| match produced.get(v.as_str()) {
                        Some(_) => v.clone(),
                        None => format!("{v} (public)"),
                    })
                    .collect();
                spans.push(Span::raw(feeds.join(", ")));
            }
            if let Some(r) = readers
                .get(value_name(&op.name))
                .filter(|_| op.kind != "output")
            {
                spans.push(Span::styled(format!(" ─▶ {}", r.join(", ")), th.dim()));
            }
            if op.kind == "output" {
                if let Some(to) = app.ctl.plan().ops.get(op.index).and_then(|o| match o {
                    sim::scenario::PlannedOp::Output { to, .. } => Some(*to),
                    _ => None,
                }) {
                    spans.push(Span::raw(" ─▶ "));
                    spans.push(Span::styled(t.parties[to].clone(), th.party(to)));
                }
            }
            out.push(Line::from(spans));
        }
    }
    out
}

fn first_at(depth: &[usize], d: usize) -> usize {
    depth.iter().position(|x| *x == d).unwrap_or(usize::MAX)
}
