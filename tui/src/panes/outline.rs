//! Pane 1: the program's ops as a tree that expands into protocol steps — grouped by the
//! sub-protocol calls they run in (`ReLU › DReLU › ComputeMSB › 2–3: …`) — with markers for the
//! cursor, breakpoints, executed and pending steps, and columns for bytes and virtual time.
//!
//! The pane is as wide as its longest name needs, up to half of a wide screen
//! ([`wanted_width`]); names that still do not fit are cut in the middle, so both a step's
//! number and the end of its formula stay readable (in a narrow pane, and for messages, at
//! their end). The bytes and time columns are as wide as their widest entry on
//! screen, with a space before each, so they never run into each other.

use crate::app::{App, Pane, Row};
use crate::format;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use sim::control::Breakpoint;
use sim::trace::StepRecord;

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

/// A step's name as the tree shows it: without the name of the sub-protocol it sits under
/// (`ComputeMSB 2–3: open r` under `ComputeMSB` is `2–3: open r`; `x^3: combine` is `combine`).
pub fn short_step_name(s: &StepRecord) -> &str {
    if let Some(rest) = s
        .path
        .last()
        .and_then(|p| s.name.strip_prefix(p.as_str()))
        .and_then(|r| r.strip_prefix(": ").or_else(|| r.strip_prefix(' ')))
        .filter(|r| !r.is_empty())
    {
        return rest;
    }
    &s.name
}

/// `s` cut to at most `w` characters by replacing its middle with an ellipsis, so its start
/// (a step's number) and its end (what it computes) both stay.
pub fn fit_middle(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n <= w {
        return s.to_string();
    }
    if w <= 1 {
        return "…".chars().take(w).collect();
    }
    let keep = w - 1;
    let head = keep.div_ceil(2);
    let tail = keep - head;
    let mut out: String = s.chars().take(head).collect();
    out.push('…');
    out.extend(s.chars().skip(n - tail));
    out
}

/// What one row shows, before fitting: marker, indentation, name, the op name without its kind
/// (for narrow panes), bytes, time and style.
struct Cells {
    marker: &'static str,
    /// Indentation before the tree levels, and the number of levels.
    indent: usize,
    levels: usize,
    name: String,
    short: Option<String>,
    bytes: String,
    time: String,
    style: Style,
    party: Option<usize>,
}

/// The recorded steps of the call of depth `depth` that began at `start`.
fn scope_steps(app: &App, start: usize, depth: usize) -> &[StepRecord] {
    let steps = &app.ctl.trace().steps;
    let end = app.scope_end(start, depth).min(steps.len());
    steps.get(start..end).unwrap_or_default()
}

/// The longest any party spent from the start of the first of `steps` to the end of the last.
fn span(steps: &[StepRecord]) -> u64 {
    let (Some(first), Some(last)) = (steps.first(), steps.last()) else {
        return 0;
    };
    first
        .parties
        .iter()
        .zip(&last.parties)
        .map(|(a, b)| b.end_ns.saturating_sub(a.start_ns))
        .max()
        .unwrap_or(0)
}

fn bytes_of<'a>(steps: impl IntoIterator<Item = &'a StepRecord>) -> u64 {
    steps
        .into_iter()
        .flat_map(|s| s.messages())
        .map(|m| m.bytes)
        .sum()
}

fn cells(app: &App, row: Row, wide_names: bool) -> Option<Cells> {
    let t = app.ctl.trace();
    let pos = app.ctl.position();
    let th = &app.theme;
    let cur_op = app.ctl.current_op();
    let c = match row {
        Row::Message(k, i) => {
            let s = t.steps.get(k)?;
            let m = s.messages().nth(i)?;
            // Narrow outlines name parties by index (as the network pane's matrix does).
            let text = if wide_names {
                format!("↳ {} → {}: {}", t.parties[m.from], t.parties[m.to], m.label)
            } else {
                format!("↳ {}→{} {}", m.from, m.to, m.label)
            };
            Cells {
                marker: " ",
                indent: 3,
                levels: s.path.len(),
                name: text,
                short: None,
                bytes: format::bytes(m.bytes),
                time: String::new(),
                style: th.party(m.from),
                party: Some(m.from),
            }
        }
        Row::Op(i) => {
            let op = t.ops.get(i)?;
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
            // At the cursor: an op in progress shows the bytes of its steps so far.
            let (bytes, time) = if done {
                (
                    format::bytes(op.stats.bytes + op.stats.offline_bytes),
                    format::ns(op.stats.virtual_time_ns),
                )
            } else if begun {
                let sent = bytes_of(&t.steps[op.first_step..pos.min(op.end_step)]);
                (format::bytes(sent), "…".to_string())
            } else {
                (String::new(), String::new())
            };
            Cells {
                marker,
                indent: 0,
                levels: 0,
                name: format!("{open} {} [{}]{hz}", op.name, op.kind),
                short: Some(format!("{open} {}{hz}", op.name)),
                bytes,
                time,
                style: if begun { Style::default() } else { th.dim() },
                party: None,
            }
        }
        Row::Scope(start, depth) => {
            let steps = scope_steps(app, start, depth);
            let first = steps.first()?;
            let name = first.path.get(depth)?;
            let end = start + steps.len();
            let done = end <= pos;
            let begun = start < pos;
            let marker = if done {
                "●"
            } else if begun {
                "▶"
            } else {
                "○"
            };
            let open = app.scope_open(start, depth);
            let more =
                end >= app.ctl.completed() && *app.ctl.state() == sim::control::RunState::Paused;
            let label = if open {
                format!("▾ {name}")
            } else {
                let n = steps.len();
                let plus = if more { "+" } else { "" };
                let unit = if n == 1 && !more { "step" } else { "steps" };
                format!("▸ {name} · {n}{plus} {unit}")
            };
            let (bytes, time) = if begun && !done {
                (format::bytes(bytes_of(&steps[..pos - start])), "…".into())
            } else {
                (format::bytes(bytes_of(steps)), format::ns(span(steps)))
            };
            Cells {
                marker,
                indent: 4,
                levels: depth,
                name: label,
                short: None,
                bytes,
                time,
                style: if begun { Style::default() } else { th.dim() },
                party: None,
            }
        }
        Row::Step(k) => {
            let s = t.steps.get(k)?;
            let marker = if k + 1 == pos {
                "▶"
            } else if k < pos {
                "●"
            } else {
                "○"
            };
            Cells {
                marker,
                indent: 4,
                levels: s.path.len(),
                name: short_step_name(s).to_string(),
                short: None,
                bytes: format::bytes(bytes_of([s])),
                time: format::ns(span(std::slice::from_ref(s))),
                style: if k < pos { Style::default() } else { th.dim() },
                party: None,
            }
        }
    };
    Some(c)
}

/// The least room for a name that is cut in the middle rather than at its end.
const MIDDLE_CUT: usize = 24;
/// Columns besides the name: marker, breakpoint and a space.
const LEAD: usize = 3;
/// The narrowest bytes and time columns; wider entries (`1023.9 kB`, `100.01 ms`) widen their
/// column so that a space always comes before them.
const COLUMN: usize = 9;

/// The width the outline would like: its longest op, call or step row at full length (message
/// rows are cut to fit), with its columns and borders (the layout gives it this much within
/// its share of the screen).
pub fn wanted_width(app: &App) -> u16 {
    let rows = app.outline_rows();
    let longest = rows
        .iter()
        .filter(|r| !matches!(r, Row::Message(..)))
        .filter_map(|r| cells(app, *r, true))
        .map(|c| c.indent + 2 * c.levels + c.name.chars().count())
        .max()
        .unwrap_or(0)
        .max("op / step".len());
    let w = 2 + LEAD + longest + 2 * (1 + COLUMN);
    // A space between the name and the columns.
    let w = w + 1;
    w.min(u16::MAX as usize) as u16
}

/// Draws the outline.
pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let pos = app.ctl.position();
    let rows = app.outline_rows();
    let height = area.height.saturating_sub(3) as usize;
    let first = first_visible(&rows, app.selected, height);
    let inner_w = area.width.saturating_sub(2) as usize;
    let th = &app.theme;
    let wide_names = inner_w >= 42;
    let shown: Vec<(Row, Cells)> = rows
        .iter()
        .skip(first)
        .take(height)
        .filter_map(|r| cells(app, *r, wide_names).map(|c| (*r, c)))
        .collect();
    // Each column as wide as its widest entry, after a space; narrow outlines drop the time.
    let col = |get: fn(&Cells) -> &String| {
        let widest = shown.iter().map(|(_, c)| get(c).chars().count()).max();
        (1 + widest.unwrap_or(0)).max(COLUMN)
    };
    let bytes_w = col(|c| &c.bytes);
    let time_w = if inner_w >= 44 { col(|c| &c.time) } else { 0 };
    let name_w = inner_w.saturating_sub(LEAD + bytes_w + time_w);
    let time_head = if time_w > 0 { "time" } else { "" };
    let mut lines = vec![Line::styled(
        format!(
            "{:LEAD$}{:<name_w$}{:>bytes_w$}{:>time_w$}",
            "", "op / step", "bytes", time_head
        ),
        th.dim(),
    )];
    for (row, c) in shown {
        let bp = if has_breakpoint(app, row) { "◆" } else { " " };
        let name = match &c.short {
            Some(short) if name_w < 24 => short,
            _ => &c.name,
        };
        // Two columns a tree level; one in a narrow pane.
        let per_level = if name_w >= 30 { 2 } else { 1 };
        let indent = (c.indent + per_level * c.levels).min(name_w / 2);
        let room = name_w.saturating_sub(indent);
        // Cut in the middle when there is room for both ends; messages (and narrow panes) keep
        // their start.
        let text = if c.party.is_none() && room >= MIDDLE_CUT {
            fit_middle(name, room)
        } else {
            format::fit(name, room)
        };
        let pad = name_w.saturating_sub(indent + text.chars().count());
        let cell = format!("{:indent$}{text}{:pad$}", "", "");
        let is_cursor = matches!(row, Row::Step(k) if k + 1 == pos);
        let selected = row == app.selected && app.focus == Pane::Outline;
        let mut style = c.style;
        if is_cursor {
            style = th.current();
        }
        if selected && !is_cursor {
            style = style.patch(th.selected());
        }
        let time = if time_w > 0 { c.time.as_str() } else { "" };
        let columns = format!("{:>bytes_w$}{:>time_w$}", c.bytes, time);
        let line = match c.party {
            // A message: its name in the sender's colour, the selection over the whole row.
            Some(_) => {
                let mut spans = vec![
                    Span::raw(format!("{}{bp} ", c.marker)),
                    Span::styled(cell, c.style),
                    Span::raw(columns),
                ];
                if selected {
                    spans
                        .iter_mut()
                        .for_each(|s| s.style = s.style.patch(th.selected()));
                }
                spans
            }
            None => vec![
                Span::styled(c.marker.to_string(), style),
                Span::styled(bp.to_string(), th.breakpoint()),
                Span::styled(format!(" {cell}{columns}"), style),
            ],
        };
        lines.push(Line::from(line));
    }
    let t = app.ctl.trace();
    let extra = format!("{} ops", t.ops.len());
    let para = Paragraph::new(lines).block(super::block(app, Pane::Outline, &extra));
    f.render_widget(para, area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cut_in_the_middle() {
        assert_eq!(fit_middle("abcdefghij", 10), "abcdefghij");
        assert_eq!(fit_middle("abcdefghij", 7), "abc…hij");
        assert_eq!(fit_middle("abcdefghij", 6), "abc…ij");
        assert_eq!(fit_middle("abcdefghij", 1), "…");
        assert_eq!(fit_middle("abcdefghij", 0), "");
    }
}
