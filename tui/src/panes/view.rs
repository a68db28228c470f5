//! Pane V: one party's **view** up to the cursor — every message part it received (from whom,
//! the message's label, the ring), every value it dealt or drew, every value opened to it — in
//! step order, grouped by op and step, each with a note on why it looks random (or, in an
//! insecure variant, what it gives away).
//!
//! Values are shown in their ring: Z_67 as 0–66, bits as 0/1, seeds and keys as hex bytes,
//! Z_2^64 and Z_(2^64−1) raw as the `v` format says (Z_2^64 also decoded as fixed point; the odd
//! ring has no fixed-point reading here, so "decoded" shows it unsigned). Tensors of two or more
//! dimensions are grids (rows × last axis) with row and column indices, cut into column blocks
//! that fit the pane. PrivateCompare's opened d marks its zeros (colour and `▸`).
//!
//! A view can be long (every step of a run), so only the visible blocks are drawn; heights come
//! from the same layout the drawing uses.

use crate::app::{App, Pane};
use crate::format::{self, fit, Formats, ValueFormat};
use crate::layout;
use crate::theme::Theme;
use protocols::context::RingKind;
use protocols::fixed::FixedConfig;
use protocols::protocol::{Remark as Note, ViewFacts, ViewGrid, ViewSource};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use sim::scenario::ProtocolKind;
use sim::trace::Trace;
use sim::view::{Source, ViewItem};

/// Indent of an item's note and values under its header.
const INDENT: usize = 4;

/// What the pane needs to lay out a view.
struct Ctx<'a> {
    t: &'a Trace,
    party: usize,
    /// The cursor: steps `..end` are in the view.
    end: usize,
    /// Inner width of the pane.
    width: usize,
    formats: Formats,
    cfg: FixedConfig,
    protocol: ProtocolKind,
    max_values: usize,
    th: Theme,
}

/// One block of the pane, drawn as one or more lines.
enum Block<'a> {
    /// The first line: whose view, how many items.
    Summary(usize, [usize; 3]),
    /// An op header.
    Op(usize),
    /// A step header.
    Step(usize),
    /// An item of the view.
    Item(Box<Item<'a>>),
    /// The cursor's step, when the party has nothing in it.
    Idle(usize),
}

/// A view item with its note and layout.
struct Item<'a> {
    item: ViewItem<'a>,
    note: Option<Note>,
    /// Lines about the zeros of an opened d.
    zeros: Vec<(bool, String)>,
    /// Whether the value's zeros are marked (the protocol says they mean something).
    mark_zeros: bool,
    body: Body,
}

/// How an item's values are laid out.
enum Body {
    /// No elements recorded.
    Empty,
    /// Hex bytes, `per_line` to a line.
    Seed { per_line: usize },
    /// One element per line (1-D values with wide elements).
    List { cell_w: usize },
    /// Rows × columns in column blocks of `chunk`.
    Grid(Grid),
}

struct Grid {
    /// Columns (the last axis).
    cols: usize,
    /// Rows with recorded elements.
    rows: usize,
    /// Columns per block.
    chunk: usize,
    /// Width of the row-label column.
    label_w: usize,
    /// Width of a cell.
    cell_w: usize,
    /// What the columns are (`bit`, `slot`, `col`, `#`).
    corner: &'static str,
    /// The leading axes (row labels are multi-indices over them); empty for one unlabelled row.
    lead: Vec<usize>,
}

impl Ctx<'_> {
    fn new(app: &App, width: usize) -> Ctx<'_> {
        let t = app.ctl.trace();
        let plan = app.ctl.plan();
        Ctx {
            t,
            party: app.view_party.min(t.parties.len().saturating_sub(1)),
            end: app.ctl.position(),
            width: width.max(10),
            formats: app.formats,
            cfg: plan.scenario.fixed_point,
            protocol: plan.scenario.protocol,
            max_values: plan.scenario.trace.max_values,
            th: app.theme,
        }
    }

    fn party_name(&self) -> &str {
        self.t.parties.get(self.party).map_or("?", |s| s.as_str())
    }

    /// The blocks of the view, in order.
    fn blocks(&self) -> Vec<Block<'_>> {
        let items = sim::view::view(self.t, self.party, self.end);
        let mut counts = [0usize; 3];
        for it in &items {
            counts[match it.source {
                Source::Received { .. } => 0,
                Source::Dealt => 1,
                Source::Opened => 2,
            }] += 1;
        }
        let mut out = vec![Block::Summary(items.len(), counts)];
        let (mut op, mut step) = (None, None);
        for it in items {
            if op != Some(it.op) {
                op = Some(it.op);
                out.push(Block::Op(it.op));
            }
            if step != Some(it.step) {
                step = Some(it.step);
                out.push(Block::Step(it.step));
            }
            out.push(Block::Item(Box::new(self.item(it))));
        }
        if self.end > 0 && step != Some(self.end - 1) {
            if let Some(s) = self.t.steps.get(self.end - 1) {
                if op != Some(s.op) {
                    out.push(Block::Op(s.op));
                }
                out.push(Block::Idle(s.index));
            }
        }
        out
    }

    fn item<'a>(&self, item: ViewItem<'a>) -> Item<'a> {
        let facts = facts(self.t, &item);
        let note = self.protocol.view_note(&facts);
        let grid = self.grid(&item);
        let mark_zeros = grid.zeros.is_some();
        let zeros = grid
            .zeros
            .unwrap_or_default()
            .into_iter()
            .map(|r| (r.warn, r.text))
            .collect();
        let body = self.body(&item);
        Item {
            item,
            note,
            zeros,
            mark_zeros,
            body,
        }
    }

    /// What the protocol says of an item's layout (SecureNN's opened d and compared pair).
    fn grid(&self, item: &ViewItem<'_>) -> ViewGrid {
        let v = item.value;
        let cols = v.shape.last().copied().unwrap_or(1).max(1);
        self.protocol
            .view_grid(&facts(self.t, item), &v.values, cols)
    }

    fn body(&self, item: &ViewItem<'_>) -> Body {
        let v = item.value;
        if v.values.is_empty() {
            return Body::Empty;
        }
        let avail = self.width.saturating_sub(INDENT);
        if v.kind == RingKind::Seed {
            let per_line = if avail >= 4 + 16 * 2 + 3 { 16 } else { 8 };
            return Body::Seed { per_line };
        }
        let narrow = matches!(v.kind, RingKind::Zp | RingKind::Bit);
        let value_w = cell_width(v.kind, self.formats.get(v.kind), shown_raw(item));
        if v.shape.len() <= 1 && !narrow {
            return Body::List { cell_w: value_w };
        }
        let (cols, lead) = if v.shape.len() >= 2 {
            (
                v.shape[v.shape.len() - 1].max(1),
                v.shape[..v.shape.len() - 1].to_vec(),
            )
        } else {
            (v.values.len().max(1), Vec::new())
        };
        let rows = v.values.len().div_ceil(cols);
        let corner = if v.shape.len() <= 1 {
            "#"
        } else if let Some(corner) = self.grid(item).corner {
            corner
        } else if v.kind == RingKind::Zp && cols == 64 {
            "bit"
        } else {
            "col"
        };
        let label_w = (0..rows)
            .map(|r| row_label(&lead, r).chars().count())
            .max()
            .unwrap_or(0)
            .max(corner.len());
        let cell_w = value_w
            .max(digits(cols - 1))
            .max(if narrow { 2 } else { 1 });
        let per = cell_w + 1;
        let mut chunk = (avail.saturating_sub(label_w) / per).max(1);
        if chunk >= cols {
            chunk = cols;
        } else if chunk >= 8 {
            chunk -= chunk % 8;
        }
        Body::Grid(Grid {
            cols,
            rows,
            chunk,
            label_w,
            cell_w,
            corner,
            lead,
        })
    }

    fn height(&self, b: &Block<'_>) -> usize {
        match b {
            Block::Summary(..) | Block::Op(_) | Block::Step(_) | Block::Idle(_) => 1,
            Block::Item(it) => {
                let text_w = self.width.saturating_sub(INDENT);
                let note = it
                    .note
                    .as_ref()
                    .map_or(0, |n| wrap_count(&note_text(n), text_w));
                let zeros: usize = it.zeros.iter().map(|(_, z)| wrap_count(z, text_w)).sum();
                let v = it.item.value;
                let body = match &it.body {
                    Body::Empty => 0,
                    Body::Seed { per_line } => v.values.len().div_ceil(*per_line),
                    Body::List { .. } => v.values.len(),
                    Body::Grid(g) => g.cols.div_ceil(g.chunk) * (1 + g.rows),
                };
                2 + note + zeros + body + usize::from(!v.complete)
            }
        }
    }

    fn lines(&self, b: &Block<'_>) -> Vec<Line<'static>> {
        let th = &self.th;
        let w = self.width;
        match b {
            Block::Summary(n, [r, d, o]) => {
                let who = self.party_name();
                let text = if self.end == 0 {
                    format!("Before the first step: nothing in {who}'s view yet.")
                } else if *n == 0 {
                    format!(
                        "{who} received, dealt and saw opened nothing up to step {}.",
                        self.end
                    )
                } else {
                    format!(
                        "{who}'s view up to step {}: {n} items — {r} received, {d} dealt, {o} \
                         opened",
                        self.end
                    )
                };
                vec![Line::styled(fit(&text, w), th.title())]
            }
            Block::Op(i) => {
                let op = &self.t.ops[*i];
                vec![Line::styled(
                    fit(&format!("op {} [{}]", op.name, op.kind), w),
                    th.title(),
                )]
            }
            Block::Step(k) => vec![self.step_line(*k, "")],
            Block::Idle(k) => {
                let tail = format!(" — nothing for {}", self.party_name());
                vec![self.step_line(*k, &tail)]
            }
            Block::Item(it) => self.item_lines(it),
        }
    }

    fn step_line(&self, k: usize, tail: &str) -> Line<'static> {
        let th = &self.th;
        let s = &self.t.steps[k];
        let current = k + 1 == self.end;
        let (mark, style) = if current {
            ("▶", th.current())
        } else {
            (" ", th.dim())
        };
        let head = format!(" {mark} step {} ", k + 1);
        let rest = self.width.saturating_sub(head.chars().count());
        Line::from(vec![
            Span::styled(head, style),
            Span::raw(fit(&format!("· {}{tail}", s.name), rest)),
        ])
    }

    fn item_lines(&self, it: &Item<'_>) -> Vec<Line<'static>> {
        let th = &self.th;
        let v = it.item.value;
        let label = it.item.label();
        let mut out = Vec::new();
        // Header: where it came from and what it is.
        let mut head = match it.item.source {
            Source::Received { message, .. } => vec![
                Span::raw("  ← "),
                Span::styled(self.t.parties[message.from].clone(), th.party(message.from)),
                Span::raw(": "),
            ],
            Source::Dealt => vec![Span::raw("  ✦ dealt: ")],
            Source::Opened => vec![Span::raw("  ◉ opened: ")],
        };
        let used: usize = head.iter().map(|s| s.content.chars().count()).sum();
        head.push(Span::styled(
            fit(&label, self.width.saturating_sub(used)),
            th.title(),
        ));
        out.push(Line::from(head));
        // Ring, shape, how much is recorded.
        let n: usize = v.shape.iter().product();
        let ring = match v.kind {
            RingKind::Seed => format!("seed · {n} bytes"),
            k => format!("{} ({}) · {:?}", k.name(), self.reading(&it.item), v.shape),
        };
        let recorded = if v.complete {
            String::new()
        } else {
            format!(" · {} of {n} recorded", v.values.len())
        };
        out.push(Line::styled(
            fit(&format!("{:INDENT$}{ring}{recorded}", ""), self.width),
            th.dim(),
        ));
        let text_w = self.width.saturating_sub(INDENT);
        let pad = " ".repeat(INDENT);
        if let Some(n) = &it.note {
            let style = if n.warn { th.bad() } else { th.good() };
            wrap_with(&note_text(n), text_w, |l| {
                out.push(Line::styled(format!("{pad}{l}"), style))
            });
        }
        for (bad, z) in &it.zeros {
            let style = if *bad { th.bad() } else { th.good() };
            wrap_with(z, text_w, |l| {
                out.push(Line::styled(format!("{pad}{l}"), style))
            });
        }
        self.body_lines(it, &mut out);
        if !v.complete {
            out.push(Line::styled(
                format!(
                    "{pad}… {} more not recorded (max_values {})",
                    n - v.values.len(),
                    self.max_values
                ),
                th.dim(),
            ));
        }
        out
    }

    fn body_lines(&self, it: &Item<'_>, out: &mut Vec<Line<'static>>) {
        let th = &self.th;
        let v = it.item.value;
        let pad = " ".repeat(INDENT);
        match &it.body {
            Body::Empty => {}
            Body::Seed { per_line } => {
                for (i, bytes) in v.values.chunks(*per_line).enumerate() {
                    let mut s = format!("{pad}{:>3} ", i * per_line);
                    for group in bytes.chunks(4) {
                        s.push(' ');
                        for b in group {
                            s.push_str(&format!("{b:02x}"));
                        }
                    }
                    out.push(Line::from(s));
                }
            }
            Body::List { cell_w } => {
                for (i, x) in v.values.iter().enumerate() {
                    out.push(Line::from(vec![
                        Span::styled(format!("{pad}{i:>4}"), th.dim()),
                        Span::raw(format!(
                            "  {:>cell_w$}",
                            self.cell(&it.item, *x, *cell_w),
                            cell_w = *cell_w
                        )),
                    ]));
                }
            }
            Body::Grid(g) => {
                let mark_zeros = it.mark_zeros;
                let cw = g.cell_w;
                for c0 in (0..g.cols).step_by(g.chunk) {
                    let c1 = (c0 + g.chunk).min(g.cols);
                    let mut head = format!("{pad}{:>w$}", g.corner, w = g.label_w);
                    for c in c0..c1 {
                        head.push_str(&format!(" {c:>cw$}"));
                    }
                    out.push(Line::styled(head, th.dim()));
                    for r in 0..g.rows {
                        let mut spans = vec![Span::styled(
                            format!("{pad}{:>w$}", row_label(&g.lead, r), w = g.label_w),
                            th.dim(),
                        )];
                        for c in c0..c1 {
                            let Some(&x) = v.values.get(r * g.cols + c) else {
                                break;
                            };
                            if mark_zeros && x == 0 {
                                spans.push(Span::styled(format!(" {:>cw$}", "▸0"), th.bad()));
                            } else {
                                spans.push(Span::raw(format!(
                                    " {:>cw$}",
                                    self.cell(&it.item, x, cw)
                                )));
                            }
                        }
                        out.push(Line::from(spans));
                    }
                }
            }
        }
    }

    /// One element of `item`, at most `w` wide.
    fn cell(&self, item: &ViewItem<'_>, x: u64, w: usize) -> String {
        let kind = item.value.kind;
        let s = format::element(
            x,
            kind,
            self.formats.get(kind),
            shown_raw(item),
            format::scale_of(&item.value.label),
            &self.cfg,
        );
        fit(&s, w)
    }

    /// How `item`'s elements read in the chosen format (`Z_2^64 (unsigned)`, …).
    fn reading(&self, item: &ViewItem<'_>) -> &'static str {
        let kind = item.value.kind;
        let fmt = self.formats.get(kind);
        match (kind, fmt) {
            (RingKind::Z64, ValueFormat::Auto) if shown_raw(item) => "unsigned",
            (RingKind::Z64, ValueFormat::Auto) => "decoded",
            _ => format::name(kind, fmt),
        }
    }
}

/// Whether `item` reads raw in the `Auto` format: what a party received or dealt (shares,
/// masks) is; what was opened to it is decoded.
fn shown_raw(item: &ViewItem<'_>) -> bool {
    !matches!(item.source, Source::Opened)
}

/// The width of one element of `kind` in format `fmt` (`raw`: shown raw in `Auto`).
fn cell_width(kind: RingKind, fmt: ValueFormat, raw: bool) -> usize {
    match (kind, fmt) {
        (RingKind::Zp, ValueFormat::Signed) => 3,
        (RingKind::Zp, _) => 2,
        (RingKind::Bit, _) => 1,
        (RingKind::Seed, _) => 2,
        (_, ValueFormat::Hex) => 18,
        (RingKind::Z64, ValueFormat::Decoded) => 12,
        (RingKind::Z64, ValueFormat::Auto) if !raw => 12,
        _ => 20,
    }
}

fn digits(n: usize) -> usize {
    n.max(1).ilog10() as usize + 1
}

/// Row `r`'s label: its multi-index over the leading axes (`[3]`, `[0,2]`), or none.
fn row_label(lead: &[usize], r: usize) -> String {
    if lead.is_empty() {
        return String::new();
    }
    let mut idx = vec![0; lead.len()];
    let mut rest = r;
    for (i, d) in lead.iter().enumerate().rev() {
        idx[i] = rest % d.max(&1);
        rest /= d.max(&1);
    }
    let parts: Vec<String> = idx.iter().map(|i| i.to_string()).collect();
    format!("[{}]", parts.join(","))
}

/// The protocol's description of a view item.
fn facts<'a>(t: &'a Trace, item: &ViewItem<'a>) -> ViewFacts<'a> {
    ViewFacts {
        step: t.steps.get(item.step).map_or("", |s| s.name.as_str()),
        source: match item.source {
            Source::Received { message, part } => ViewSource::Received {
                message: &message.label,
                part,
                from: t.parties.get(message.from).map_or("?", String::as_str),
            },
            Source::Dealt => ViewSource::Dealt,
            Source::Opened => ViewSource::Opened,
        },
        label: &item.value.label,
        ring: item.value.kind,
    }
}

/// The view pane's note on `item` of trace `t` under `protocol`: why it looks random to the
/// party, or what an insecure variant gives away ([`protocols::protocol::Protocol::view_note`]).
pub fn note(protocol: ProtocolKind, t: &Trace, item: &ViewItem<'_>) -> Option<Note> {
    protocol.view_note(&facts(t, item))
}

fn note_text(n: &Note) -> String {
    if n.warn {
        format!("⚠ {}", n.text)
    } else {
        n.text.clone()
    }
}

/// Greedy word wrap of `text` at `width` characters, one call of `emit` per line (a word longer
/// than the width gets a line of its own, cut by the border).
fn wrap_with<'t>(text: &'t str, width: usize, mut emit: impl FnMut(&'t str)) {
    let width = width.max(1);
    let mut line: Option<(usize, usize, usize)> = None; // (start, end, chars)
    let mut at = 0;
    for word in text.split(' ') {
        let start = at;
        at += word.len() + 1;
        if word.is_empty() {
            continue;
        }
        let n = word.chars().count();
        let end = start + word.len();
        line = match line {
            None => Some((start, end, n)),
            Some((s, _, len)) if len + 1 + n <= width => Some((s, end, len + 1 + n)),
            Some((s, e, _)) => {
                emit(&text[s..e]);
                Some((start, end, n))
            }
        };
    }
    if let Some((s, e, _)) = line {
        emit(&text[s..e]);
    }
}

fn wrap_count(text: &str, width: usize) -> usize {
    let mut n = 0;
    wrap_with(text, width, |_| n += 1);
    n
}

/// The inner size of the view pane (the detail area, where it is drawn) for the app's terminal.
fn inner_size(app: &App) -> (usize, usize) {
    match layout::areas(app.size, app) {
        Some(a) => {
            let r = a.panes.get(1).map(|p| p.1).unwrap_or(a.tabbar);
            (
                r.width.saturating_sub(2) as usize,
                r.height.saturating_sub(2) as usize,
            )
        }
        None => (layout::MIN_WIDTH as usize, 1),
    }
}

/// The view's total lines and the line where the cursor's step begins (its op header when the
/// step is the op's first in the view), for a pane `width` wide.
fn measure(app: &App, width: usize) -> (usize, usize) {
    let ctx = Ctx::new(app, width);
    let blocks = ctx.blocks();
    let (mut y, mut anchor) = (0, 0);
    let mut prev_op = None;
    for b in &blocks {
        match b {
            Block::Op(_) => prev_op = Some(y),
            Block::Step(_) | Block::Idle(_) => {
                anchor = prev_op.unwrap_or(y);
                prev_op = None;
            }
            _ => prev_op = None,
        }
        y += ctx.height(b);
    }
    (y, anchor)
}

/// The largest useful scroll offset of the view pane.
pub fn max_scroll(app: &App) -> usize {
    let (w, h) = inner_size(app);
    measure(app, w).0.saturating_sub(h)
}

/// The scroll offset that shows the cursor's step at the top (or the end of the view at the
/// bottom, when that is shorter than the pane).
pub fn anchor(app: &App) -> usize {
    let (w, h) = inner_size(app);
    let (total, anchor) = measure(app, w);
    anchor.min(total.saturating_sub(h))
}

/// Draws the pane.
pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let width = area.width.saturating_sub(2) as usize;
    let inner_h = area.height.saturating_sub(2) as usize;
    let ctx = Ctx::new(app, width);
    let blocks = ctx.blocks();
    let heights: Vec<usize> = blocks.iter().map(|b| ctx.height(b)).collect();
    let total: usize = heights.iter().sum();
    let off = app.scroll[Pane::View.number() - 1].min(total.saturating_sub(inner_h));
    let mut lines = Vec::with_capacity(inner_h);
    let mut y = 0;
    for (b, h) in blocks.iter().zip(&heights) {
        if y >= off + inner_h {
            break;
        }
        if y + h > off {
            let ls = ctx.lines(b);
            debug_assert_eq!(ls.len(), *h, "a view block's height matches its lines");
            lines.extend(ls.into_iter().skip(off.saturating_sub(y)));
        }
        y += h;
    }
    lines.truncate(inner_h);
    let extra = format!(
        "{} · step {} · values: {}",
        ctx.party_name(),
        ctx.end,
        format::name(RingKind::Z64, app.formats.get(RingKind::Z64))
    );
    let block = super::block(app, Pane::View, &extra);
    let block = super::lines_footer(block, off, inner_h, total);
    f.render_widget(Paragraph::new(lines).block(block), area);
}

/// Every line of the view for a pane `width` wide (tests and the height check).
pub fn all_lines(app: &App, width: usize) -> Vec<Line<'static>> {
    let ctx = Ctx::new(app, width);
    let blocks = ctx.blocks();
    let mut out = Vec::new();
    for b in &blocks {
        let ls = ctx.lines(b);
        assert_eq!(
            ls.len(),
            ctx.height(b),
            "a view block's height matches its lines"
        );
        out.extend(ls);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_words_and_counts_lines() {
        let mut lines = Vec::new();
        wrap_with("one two three four five", 9, |l| lines.push(l.to_string()));
        assert_eq!(lines, ["one two", "three", "four five"]);
        assert_eq!(wrap_count("one two three four five", 9), 3);
        assert_eq!(wrap_count("", 9), 0);
        assert_eq!(wrap_count("⟨d⟩₀ ⟨d⟩₁", 5), 2);
    }

    #[test]
    fn row_labels_are_multi_indices() {
        assert_eq!(row_label(&[8], 3), "[3]");
        assert_eq!(row_label(&[2, 3], 4), "[1,1]");
        assert_eq!(row_label(&[], 0), "");
        assert_eq!(digits(63), 2);
        assert_eq!(digits(0), 1);
    }
}
