//! Pane 1: the program's ops as a tree that expands into protocol steps, with markers for the
//! cursor, breakpoints, executed and pending steps, and columns for bytes and virtual time.

use crate::app::{App, Pane, Row};
use crate::format::{self, fit};
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use sim::control::Breakpoint;

/// The first row shown so that the selection stays visible (centred when possible).
pub fn first_visible(rows: &[Row], selected: Row, height: usize) -> usize {
    let at = rows.iter().position(|r| *r == selected).unwrap_or(0);
    let max = rows.len().saturating_sub(height);
    at.saturating_sub(height / 2).min(max)
}

fn has_breakpoint(app: &App, row: Row) -> bool {
    let t = app.ctl.trace();
    app.ctl.breakpoints().iter().any(|b| match (b, row) {
        (Breakpoint::Op(n), Row::Op(i)) => t.ops[i].name == *n,
        (Breakpoint::Kind(k), Row::Op(i)) => t.ops[i].kind == *k,
        (Breakpoint::Step(n), Row::Step(k)) => t
            .steps
            .get(k)
            .is_some_and(|s| s.name == *n || sim::control::base_step_name(&s.name) == n),
        _ => false,
    })
}

/// Draws the outline.
pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let t = app.ctl.trace();
    let pos = app.ctl.position();
    let rows = app.outline_rows();
    let height = area.height.saturating_sub(3) as usize;
    let first = first_visible(&rows, app.selected, height);
    let inner_w = area.width.saturating_sub(2) as usize;
    // Narrow outlines drop the time column so names stay readable.
    let time_w = if inner_w >= 44 { 9 } else { 0 };
    let name_w = inner_w.saturating_sub(3 + 9 + time_w);
    let th = &app.theme;
    let time_head = if time_w > 0 { "time" } else { "" };
    let mut lines = vec![Line::styled(
        format!(
            "   {:<name_w$}{:>9}{:>time_w$}",
            "op / step", "bytes", time_head
        ),
        th.dim(),
    )];
    let cur_op = app.ctl.current_op();
    for row in rows.iter().skip(first).take(height) {
        if let Row::Message(k, i) = *row {
            if let Some(m) = t.steps.get(k).and_then(|s| s.messages().nth(i)) {
                // Narrow outlines name parties by index (as the network pane's matrix does).
                let text = if name_w >= 30 {
                    format!("{} → {}: {}", t.parties[m.from], t.parties[m.to], m.label)
                } else {
                    format!("{}→{} {}", m.from, m.to, m.label)
                };
                let mut line = vec![
                    Span::raw("      ↳ "),
                    Span::styled(
                        format!(
                            "{:<w$}",
                            fit(&text, name_w.saturating_sub(5)),
                            w = name_w.saturating_sub(5)
                        ),
                        th.party(m.from),
                    ),
                    Span::raw(format!("{:>9}", format::bytes(m.bytes))),
                ];
                if *row == app.selected && app.focus == Pane::Outline {
                    line.iter_mut()
                        .for_each(|s| s.style = s.style.patch(th.selected()));
                }
                lines.push(Line::from(line));
            }
            continue;
        }
        let bp = if has_breakpoint(app, *row) {
            "◆"
        } else {
            " "
        };
        let (marker, name, bytes, time, mut style) = match *row {
            Row::Op(i) => {
                let op = &t.ops[i];
                let begun = op.first_step < op.end_step && op.first_step < pos;
                let done = begun && op.end_step <= pos;
                let marker = if Some(i) == cur_op && begun && !done {
                    "▶"
                } else if done {
                    "●"
                } else {
                    "○"
                };
                let open = if Some(i) == cur_op || app.expanded.contains(&i) {
                    "▾"
                } else {
                    "▸"
                };
                let hz = if op.hazards.is_empty() { "" } else { " ⚠" };
                let name = if name_w >= 24 {
                    format!("{open} {} [{}]{hz}", op.name, op.kind)
                } else {
                    format!("{open} {}{hz}", op.name)
                };
                // At the cursor: an op in progress shows the bytes of its steps so far.
                let (b, tm) = if done {
                    (
                        format::bytes(op.stats.bytes + op.stats.offline_bytes),
                        format::ns(op.stats.virtual_time_ns),
                    )
                } else if begun {
                    let sent: u64 = t.steps[op.first_step..pos.min(op.end_step)]
                        .iter()
                        .flat_map(|s| s.messages())
                        .map(|m| m.bytes)
                        .sum();
                    (format::bytes(sent), "…".to_string())
                } else {
                    (String::new(), String::new())
                };
                let style = if done || begun {
                    Style::default()
                } else {
                    th.dim()
                };
                (marker, name, b, tm, style)
            }
            Row::Message(..) => continue, // drawn above
            Row::Step(k) => {
                let s = &t.steps[k];
                let marker = if k + 1 == pos {
                    "▶"
                } else if k < pos {
                    "●"
                } else {
                    "○"
                };
                let b: u64 = s.messages().map(|m| m.bytes).sum();
                // The longest any party spent in the step.
                let span = s
                    .parties
                    .iter()
                    .map(|p| p.end_ns.saturating_sub(p.start_ns))
                    .max()
                    .unwrap_or(0);
                let style = if k < pos { Style::default() } else { th.dim() };
                (
                    marker,
                    format!("    {}", s.name),
                    format::bytes(b),
                    format::ns(span),
                    style,
                )
            }
        };
        let is_cursor = matches!(*row, Row::Step(k) if k + 1 == pos);
        if is_cursor {
            style = th.current();
        }
        if *row == app.selected && app.focus == Pane::Outline && !is_cursor {
            style = style.patch(th.selected());
        }
        lines.push(Line::from(vec![
            Span::styled(marker.to_string(), style),
            Span::styled(bp.to_string(), th.breakpoint()),
            Span::styled(
                format!(
                    " {:<name_w$}{:>9}{:>time_w$}",
                    fit(&name, name_w),
                    bytes,
                    if time_w > 0 { time } else { String::new() }
                ),
                style,
            ),
        ]));
    }
    let extra = format!("{} ops", t.ops.len());
    let para = Paragraph::new(lines).block(super::block(app, Pane::Outline, &extra));
    f.render_widget(para, area);
}
