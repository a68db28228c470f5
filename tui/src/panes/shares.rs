//! Pane 3: for the step at the cursor, the step's messages, the values opened in it and each
//! party's shares with their reconstruction beside the plaintext shadow and the error.
//!
//! Every value is shown in its ring, in the format chosen for that ring (`v` cycles the formats
//! of the selected value's ring; Z_2^64 defaults to raw shares and decoded values). A value is
//! laid out whole (as far as the trace recorded it, `max_values`): 1-D values as a list with
//! indices, one column per party and the reconstruction; tensors as matrices over their last
//! two axes with row and column indices, one matrix per party and for the reconstruction, the
//! leading axes fixed at a slice the keys choose (`[n=0, c=1, :, :]`). Only the visible lines
//! are formatted: heights come from shapes, column widths from the extremes of the values.
//!
//! Keys while the pane is focused: `[` `]` select the value, `j` `k` / PgUp PgDn scroll, `h`
//! `l` (`←` `→`) scroll a matrix's columns, `<` `>` change the selected leading axis's index,
//! `a` selects the next leading axis.

use super::tensor_grid::{self, Slice};
use crate::app::{App, Pane};
use crate::format::{self, fit, Scale, ValueFormat, DECODED_SHARE_NOTE};
use crate::layout;
use crossterm::event::KeyCode;
use protocols::context::{RingKind, Traffic};
use protocols::fixed::FixedConfig;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use sim::trace::{StepRecord, ValueRecord};
use std::rc::Rc;

/// Which value of the step the pane's keys act on, and where its matrix is scrolled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor {
    /// The selected value (opened values first, then shares), clamped to the step's values.
    pub value: usize,
    /// The first matrix column shown.
    pub col: usize,
    /// The index of each leading axis (all but the last two).
    pub lead: Vec<usize>,
    /// The leading axis `<` `>` move.
    pub axis: usize,
}

/// The elements one column of a value's table reads.
#[derive(Clone)]
enum Source<'a> {
    /// One recorded tensor.
    One(&'a [u64]),
    /// The value the protocol reconstructs from the shares ([`protocols::protocol::Protocol::reconstruct`]).
    Rebuilt(Rc<[u64]>),
}

impl Source<'_> {
    fn get(&self, i: usize) -> Option<u64> {
        match self {
            Source::One(v) => v.get(i).copied(),
            Source::Rebuilt(v) => v.get(i).copied(),
        }
    }
    fn len(&self) -> usize {
        match self {
            Source::One(v) => v.len(),
            Source::Rebuilt(v) => v.len(),
        }
    }
}

/// One column of a value's table (one matrix of a tensor).
#[derive(Clone)]
enum Col<'a> {
    /// Party `p`'s `k`-th share recorded under the label.
    Share(usize, usize, &'a [u64]),
    /// The value: opened, or reconstructed from the shares (`true`).
    Value(Source<'a>, bool),
    /// The plaintext shadow.
    Plain(&'a [f64]),
    /// Value (decoded) − plaintext.
    Error(Source<'a>, &'a [f64]),
}

/// One value of the step, ready to lay out.
struct ValueBlock<'a> {
    title: String,
    kind: RingKind,
    shape: &'a [usize],
    scale: Scale,
    cols: Vec<Col<'a>>,
    /// Elements recorded (the least any column has).
    recorded: usize,
    /// Column widths in a list (cells and header).
    widths: Vec<usize>,
    /// The widest cell of each column (a matrix's cells).
    cells: Vec<usize>,
    /// The slice shown (tensors of two or more axes).
    slice: Option<Slice>,
    /// Whether the keys act on it.
    selected: bool,
}

/// Everything the pane shows for a pane `width` wide.
struct Model<'a> {
    app: &'a App,
    width: usize,
    head: Vec<Line<'static>>,
    values: Vec<ValueBlock<'a>>,
    tail: Vec<Line<'static>>,
}

const LIST_INDEX: &str = "#";

impl<'a> Model<'a> {
    fn new(app: &'a App, width: usize) -> Model<'a> {
        let th = &app.theme;
        let width = width.max(20);
        let mut m = Model {
            app,
            width,
            head: Vec::new(),
            values: Vec::new(),
            tail: Vec::new(),
        };
        let Some(step) = app.ctl.current_step() else {
            m.head.push(Line::styled(
                "Before the first step: nothing has run yet.",
                th.title(),
            ));
            if let Some(n) = app.ctl.next_step() {
                m.head
                    .push(Line::from(format!("Next: {} (press s to run it).", n.name)));
            }
            return m;
        };
        let t = app.ctl.trace();
        let op = &t.ops[step.op];
        m.head.push(Line::styled(
            fit(
                &format!(
                    "step {} · {} · op {} [{}]",
                    step.index + 1,
                    step.name,
                    op.name,
                    op.kind
                ),
                width,
            ),
            th.title(),
        ));
        messages(app, step, &mut m.head);
        let last_of_op = step.index + 1 == op.end_step;
        // Values opened in the step, once per label with who saw them.
        let mut opened: Vec<(&ValueRecord, Vec<usize>)> = Vec::new();
        for (p, ps) in step.parties.iter().enumerate() {
            for v in &ps.opened {
                match opened
                    .iter_mut()
                    .find(|(o, _)| o.label == v.label && o.values == v.values)
                {
                    Some((_, who)) => who.push(p),
                    None => opened.push((v, vec![p])),
                }
            }
        }
        for (v, who) in &opened {
            let names: Vec<&str> = who.iter().map(|p| t.parties[*p].as_str()).collect();
            let mut cols = vec![Col::Value(Source::One(&v.values), false)];
            // An output in Z_2^128 reads exactly from its low word too: validation keeps
            // int + f < 63, so every value at scale f fits a signed 64-bit reading.
            if last_of_op && op.kind == "output" && matches!(v.kind, RingKind::Z64 | RingKind::Z128)
            {
                cols.push(Col::Plain(&op.plaintext));
                cols.push(Col::Error(Source::One(&v.values), &op.plaintext));
            }
            m.push(
                format!("opened: {} — seen by {}", v.label, names.join(", ")),
                v,
                cols,
            );
        }
        let mut labels: Vec<&str> = Vec::new();
        for ps in &step.parties {
            for v in &ps.shares {
                if !labels.contains(&v.label.as_str()) {
                    labels.push(&v.label);
                }
            }
        }
        for label in labels {
            // Every share recorded under the label, a party's several shares (ABY3's pair)
            // in the order it recorded them.
            let holders: Vec<(usize, &ValueRecord)> = step
                .parties
                .iter()
                .enumerate()
                .flat_map(|(p, ps)| {
                    ps.shares
                        .iter()
                        .filter(move |v| v.label == label)
                        .map(move |v| (p, v))
                })
                .collect();
            let scale = format::scale_of(label);
            let mut cols: Vec<Col> = holders
                .iter()
                .enumerate()
                .map(|(j, (p, v))| {
                    let k = holders[..j].iter().filter(|h| h.0 == *p).count();
                    Col::Share(*p, k, &v.values[..])
                })
                .collect();
            // The reconstruction, when every seat that holds shares recorded exactly as many
            // under the label as the protocol's layout gives it (Pond's two additive shares,
            // ABY3's three pairs, n one-share seats): the protocol rebuilds the value.
            if let Some(rebuilt) = rebuild(app, &holders) {
                let value = Source::Rebuilt(rebuilt);
                cols.push(Col::Value(value.clone(), true));
                if last_of_op && scale != Scale::Double && op.kind != "output" {
                    cols.push(Col::Plain(&op.plaintext));
                    cols.push(Col::Error(value, &op.plaintext));
                }
            }
            let tail = if scale == Scale::Double {
                " — 2f fractional bits until truncated"
            } else {
                ""
            };
            m.push(format!("shares: {label}{tail}"), holders[0].1, cols);
        }
        if !op.hazards.is_empty() && last_of_op {
            m.tail.push(Line::from(""));
            for h in &op.hazards {
                m.tail
                    .push(Line::styled(format!("⚠ hazard: {h}"), th.bad()));
            }
        }
        // The selection and its slice.
        if !m.values.is_empty() {
            let sel = app.shares.value.min(m.values.len() - 1);
            let cursor = &app.shares;
            let v = &mut m.values[sel];
            v.selected = true;
            if v.shape.len() >= 2 {
                v.slice = Some(Slice::new(v.shape, &cursor.lead, cursor.axis, cursor.col));
            }
        }
        for v in &mut m.values {
            if v.shape.len() >= 2 && v.slice.is_none() {
                v.slice = Some(Slice::new(v.shape, &[], 0, 0));
            }
        }
        m
    }

    fn push(&mut self, title: String, v: &'a ValueRecord, cols: Vec<Col<'a>>) {
        let app = self.app;
        let cfg = app.ctl.plan().scenario.fixed_point;
        let fmt = app.formats.get(v.kind);
        let scale = format::scale_of(&v.label);
        let recorded = cols
            .iter()
            .filter_map(|c| match c {
                Col::Share(_, _, x) => Some(x.len()),
                Col::Value(s, _) => Some(s.len()),
                _ => None,
            })
            .min()
            .unwrap_or(0);
        let cells = cols
            .iter()
            .map(|c| {
                let cell = match c {
                    Col::Share(_, _, x) => {
                        format::element_width(x.iter().copied(), v.kind, fmt, true, scale, &cfg)
                    }
                    Col::Value(s, _) => format::element_width(
                        (0..s.len()).filter_map(|i| s.get(i)),
                        v.kind,
                        fmt,
                        false,
                        scale,
                        &cfg,
                    ),
                    Col::Plain(p) => {
                        let mut e = format::RealExtremes::default();
                        p.iter()
                            .take(recorded.min(format::WIDTH_SCAN))
                            .for_each(|x| e.add(*x));
                        e.width()
                    }
                    Col::Error(..) => 10 + 2,
                };
                cell
            })
            .collect::<Vec<usize>>();
        let widths = cols
            .iter()
            .zip(&cells)
            .map(|(c, w)| (*w).max(self.col_name(c).chars().count()))
            .collect();
        self.values.push(ValueBlock {
            title,
            kind: v.kind,
            shape: &v.shape,
            scale,
            cols,
            recorded,
            widths,
            cells,
            slice: None,
            selected: false,
        });
    }

    fn col_name(&self, c: &Col) -> String {
        match c {
            Col::Share(p, k, _) => {
                let party = self.app.ctl.trace().parties[*p].clone();
                let plan = self.app.ctl.plan();
                match plan.seats.iter().position(|s| s == p) {
                    Some(seat) => match plan.protocol().share_name(seat, *k) {
                        Some(n) => format!("{party} {n}"),
                        None => party,
                    },
                    None => party,
                }
            }
            Col::Value(_, true) => "reconstructed".into(),
            Col::Value(_, false) => "value".into(),
            Col::Plain(_) => "plaintext".into(),
            Col::Error(..) => "error  ".into(),
        }
    }

    fn col_style(&self, c: &Col) -> Style {
        match c {
            Col::Share(p, _, _) => self.app.theme.party(*p),
            _ => self.app.theme.dim(),
        }
    }

    /// The lines of the pane before value `i`.
    fn start_of(&self, i: usize) -> usize {
        self.head.len()
            + self.values[..i.min(self.values.len())]
                .iter()
                .map(|v| self.height(v))
                .sum::<usize>()
    }

    fn total(&self) -> usize {
        self.start_of(self.values.len()) + self.tail.len()
    }

    /// Lines of the info part of a value block: blank, title, ring line, and the note on
    /// decoded shares when they are shown decoded.
    fn info(&self, v: &ValueBlock) -> Vec<Line<'static>> {
        let th = &self.app.theme;
        let fmt = self.app.formats.get(v.kind);
        let mark = if v.selected { "▶ " } else { "  " };
        let mut out = vec![
            Line::from(""),
            Line::styled(fit(&format!("{mark}{}", v.title), self.width), th.title()),
        ];
        let n: usize = v.shape.iter().product();
        let mut ring = format!(
            "  {} · {} · {:?}",
            v.kind.name(),
            format::describe(v.kind, fmt),
            v.shape
        );
        if v.scale == Scale::Integer && v.kind == RingKind::Z64 {
            ring.push_str(" · an integer, not fixed point");
        }
        out.push(Line::styled(fit(&ring, self.width), th.dim()));
        if v.recorded < n {
            let text = format!(
                "  {} of {n} recorded (trace max_values {}): the rest is not shown",
                v.recorded,
                self.app.ctl.plan().scenario.trace.max_values
            );
            out.push(Line::styled(fit(&text, self.width), th.dim()));
        }
        let decoded_shares = v.kind == RingKind::Z64
            && fmt == ValueFormat::Decoded
            && v.cols.iter().any(|c| matches!(c, Col::Share(..)));
        if decoded_shares {
            out.push(Line::styled(
                fit(
                    &format!("  decoded shares: {DECODED_SHARE_NOTE}"),
                    self.width,
                ),
                th.dim(),
            ));
        }
        out
    }

    fn info_height(&self, v: &ValueBlock) -> usize {
        let decoded_shares = v.kind == RingKind::Z64
            && self.app.formats.get(v.kind) == ValueFormat::Decoded
            && v.cols.iter().any(|c| matches!(c, Col::Share(..)));
        let n: usize = v.shape.iter().product();
        3 + usize::from(decoded_shares) + usize::from(v.recorded < n)
    }

    /// The column groups of a list: as many columns side by side as fit the width.
    fn groups(&self, v: &ValueBlock) -> Vec<std::ops::Range<usize>> {
        let idx_w = self.list_index_width(v);
        let mut out = Vec::new();
        let mut start = 0;
        let mut used = idx_w;
        for (i, w) in v.widths.iter().enumerate() {
            if i > start && used + 2 + w > self.width {
                out.push(start..i);
                start = i;
                used = idx_w;
            }
            used += 2 + w;
        }
        if start < v.widths.len() {
            out.push(start..v.widths.len());
        }
        out
    }

    fn list_rows(&self, v: &ValueBlock) -> usize {
        let n: usize = v.shape.iter().product();
        n.min(v.recorded)
    }

    fn list_index_width(&self, v: &ValueBlock) -> usize {
        tensor_grid::digits(self.list_rows(v).saturating_sub(1)).max(LIST_INDEX.len()) + 2
    }

    /// The width of the cells of column `c`'s matrix (at least the column indices' width).
    fn cell_width(&self, v: &ValueBlock, c: usize) -> usize {
        let s = v
            .slice
            .as_ref()
            .map_or(1, |s| tensor_grid::digits(s.cols.saturating_sub(1)));
        v.cells[c].max(s)
    }

    /// The columns of column `c`'s matrix that fit the pane.
    fn visible_cols(&self, v: &ValueBlock, s: &Slice, c: usize) -> usize {
        let label_w = tensor_grid::digits(s.rows.saturating_sub(1)) + 2;
        ((self.width.saturating_sub(label_w)) / (self.cell_width(v, c) + 1)).max(1)
    }

    /// The columns the narrowest matrix of `v` shows (what `h` `l` scroll by).
    fn min_visible_cols(&self, v: &ValueBlock, s: &Slice) -> usize {
        (0..v.cols.len())
            .map(|c| self.visible_cols(v, s, c))
            .min()
            .unwrap_or(1)
    }

    fn height(&self, v: &ValueBlock) -> usize {
        let info = self.info_height(v);
        match &v.slice {
            None => {
                let rows = self.list_rows(v);
                info + self.groups(v).len() * (1 + rows)
            }
            Some(s) => {
                let rows = s.recorded_rows(v.recorded);
                let gap = usize::from(rows < s.rows);
                info + 1 + v.cols.len() * (2 + rows + gap)
            }
        }
    }

    /// Line `k` of value block `v`.
    fn line(&self, v: &ValueBlock, k: usize) -> Line<'static> {
        let info = self.info_height(v);
        if k < info {
            return self.info(v).swap_remove(k);
        }
        let k = k - info;
        let th = &self.app.theme;
        match &v.slice {
            None => {
                let rows = self.list_rows(v);
                let groups = self.groups(v);
                let g = &groups[(k / (1 + rows)).min(groups.len() - 1)];
                let r = k % (1 + rows);
                let idx_w = self.list_index_width(v);
                if r == 0 {
                    let mut spans = vec![Span::styled(
                        format!("{:>w$}", LIST_INDEX, w = idx_w),
                        th.dim(),
                    )];
                    for c in g.clone() {
                        let col = &v.cols[c];
                        spans.push(Span::styled(
                            format!(
                                "  {:>w$}",
                                fit(&self.col_name(col), v.widths[c]),
                                w = v.widths[c]
                            ),
                            self.col_style(col),
                        ));
                    }
                    return Line::from(spans);
                }
                let i = r - 1;
                let mut spans = vec![Span::styled(format!("{i:>w$}", w = idx_w), th.dim())];
                for c in g.clone() {
                    let (text, style) = self.cell(v, &v.cols[c], i);
                    let w = v.widths[c];
                    spans.push(Span::styled(format!("  {:>w$}", fit(&text, w)), style));
                }
                Line::from(spans)
            }
            Some(s) => {
                if k == 0 {
                    return self.slice_line(v, s);
                }
                let k = k - 1;
                let rows = s.recorded_rows(v.recorded);
                let gap = usize::from(rows < s.rows);
                let per = 2 + rows + gap;
                let ci = (k / per).min(v.cols.len() - 1);
                let col = &v.cols[ci];
                let r = k % per;
                let cw = self.cell_width(v, ci);
                let label_w = tensor_grid::digits(s.rows.saturating_sub(1)) + 2;
                let vis = self.visible_cols(v, s, ci);
                let c0 = s.col0(vis);
                let c1 = (c0 + vis).min(s.cols);
                match r {
                    0 => Line::styled(format!("  {}", self.col_name(col)), self.col_style(col)),
                    1 => {
                        let mut head = format!("{:>label_w$}", s.corner());
                        for c in c0..c1 {
                            head.push_str(&format!(" {c:>cw$}"));
                        }
                        Line::styled(head, th.dim())
                    }
                    r if r - 2 < rows => {
                        let row = r - 2;
                        let mut spans = vec![Span::styled(format!("{row:>label_w$}"), th.dim())];
                        for c in c0..c1 {
                            let i = s.flat(row, c);
                            if i >= v.recorded {
                                break;
                            }
                            let (text, style) = self.cell(v, col, i);
                            spans.push(Span::styled(format!(" {:>cw$}", fit(&text, cw)), style));
                        }
                        Line::from(spans)
                    }
                    _ => Line::styled(
                        format!(
                            "{:>label_w$} … rows {rows}–{} of this slice not recorded (trace \
                             max_values {})",
                            "",
                            s.rows - 1,
                            self.app.ctl.plan().scenario.trace.max_values
                        ),
                        th.dim(),
                    ),
                }
            }
        }
    }

    fn slice_line(&self, v: &ValueBlock, s: &Slice) -> Line<'static> {
        let vis = self.min_visible_cols(v, s);
        let c0 = s.col0(vis);
        let c1 = (c0 + vis).min(s.cols);
        let mut text = format!(
            "  slice {}",
            s.label(v.selected && !s.lead_shape.is_empty())
        );
        if c0 > 0 || c1 < s.cols {
            text.push_str(&format!(" · columns {c0}–{} of {}", c1 - 1, s.cols));
        }
        if v.selected {
            let mut keys = Vec::new();
            if s.cols > vis {
                keys.push("h l columns");
            }
            if !s.lead_shape.is_empty() {
                keys.push("< > index");
            }
            if s.lead_shape.len() > 1 {
                keys.push("a axis");
            }
            if !keys.is_empty() {
                text.push_str(&format!(" ({})", keys.join(", ")));
            }
        }
        Line::styled(fit(&text, self.width), self.app.theme.dim())
    }

    /// Element `i` of column `col`, and its style.
    fn cell(&self, v: &ValueBlock, col: &Col, i: usize) -> (String, Style) {
        let app = self.app;
        let cfg = app.ctl.plan().scenario.fixed_point;
        let fmt = app.formats.get(v.kind);
        let el = |x: u64, share: bool| format::element(x, v.kind, fmt, share, v.scale, &cfg);
        match col {
            Col::Share(_, _, x) => (
                x.get(i).map(|x| el(*x, true)).unwrap_or_default(),
                Style::default(),
            ),
            Col::Value(s, _) => (
                s.get(i).map(|x| el(x, false)).unwrap_or_default(),
                Style::default(),
            ),
            Col::Plain(p) => (
                p.get(i).map(|x| format::real(*x)).unwrap_or_default(),
                Style::default(),
            ),
            Col::Error(s, p) => match (s.get(i), p.get(i)) {
                (Some(x), Some(p)) => {
                    let e = real_of(x, v.scale, &cfg) - p;
                    let over = e.abs() > app.tolerance;
                    let text = format!(
                        "{:>10}{}",
                        format!("{e:+.2e}"),
                        if over { " !" } else { "  " }
                    );
                    (
                        text,
                        if over {
                            app.theme.bad()
                        } else {
                            Style::default()
                        },
                    )
                }
                _ => (String::new(), Style::default()),
            },
        }
    }

    /// Lines `from..to` of the pane.
    fn lines(&self, from: usize, to: usize) -> Vec<Line<'static>> {
        let mut out = Vec::with_capacity(to.saturating_sub(from));
        let mut y = 0;
        for l in &self.head {
            if (from..to).contains(&y) {
                out.push(l.clone());
            }
            y += 1;
        }
        for v in &self.values {
            let h = self.height(v);
            if y + h > from && y < to {
                for k in from.saturating_sub(y)..h.min(to - y) {
                    out.push(self.line(v, k));
                }
            }
            y += h;
        }
        for l in &self.tail {
            if (from..to).contains(&y) {
                out.push(l.clone());
            }
            y += 1;
        }
        out
    }
}

fn real_of(x: u64, scale: Scale, cfg: &FixedConfig) -> f64 {
    match scale {
        Scale::Fixed => cfg.decode(x),
        Scale::Double => cfg.decode_double(x),
        Scale::Integer => x as i64 as f64,
    }
}

fn messages(app: &App, step: &StepRecord, out: &mut Vec<Line<'static>>) {
    let t = app.ctl.trace();
    let th = &app.theme;
    let msgs: Vec<_> = step.messages().collect();
    out.push(Line::from(""));
    if msgs.is_empty() {
        out.push(Line::styled("messages: none — a local step", th.dim()));
        return;
    }
    out.push(Line::styled(
        format!("messages ({})", msgs.len()),
        th.title(),
    ));
    for m in msgs {
        let kind = match m.traffic {
            Traffic::Online => "online",
            Traffic::Offline => "offline",
        };
        out.push(super::message_line(t, th, m, &format!(" {kind}")));
        out.push(Line::from(vec![
            Span::raw(format!("      carries {}", m.label)),
            Span::styled(
                format!(
                    "  ({} → {})",
                    format::ns(m.send_ns),
                    format::ns(m.delivery_ns)
                ),
                th.dim(),
            ),
        ]));
    }
}

/// The inner size of the shares pane for the app's terminal (where it is drawn, or the detail
/// area when it is not shown).
fn inner_size(app: &App) -> (usize, usize) {
    match layout::areas(app.size, app) {
        Some(a) => {
            let r = a
                .panes
                .iter()
                .find(|p| p.0 == Pane::Shares)
                .or(a.panes.get(1))
                .map(|p| p.1)
                .unwrap_or(a.tabbar);
            (
                r.width.saturating_sub(2) as usize,
                r.height.saturating_sub(2) as usize,
            )
        }
        None => (layout::MIN_WIDTH as usize, 1),
    }
}

/// The largest useful scroll offset.
pub fn max_scroll(app: &App) -> usize {
    let (w, h) = inner_size(app);
    Model::new(app, w).total().saturating_sub(h)
}

/// The ring of the selected value (Z_2^64 when the step has none).
pub fn selected_ring(app: &App) -> RingKind {
    let m = Model::new(app, inner_size(app).0);
    m.values
        .iter()
        .find(|v| v.selected)
        .map_or(RingKind::Z64, |v| v.kind)
}

/// The title's note: the selected value's ring and its format, and which value it is.
pub fn title(app: &App, width: usize) -> String {
    title_of(&Model::new(app, width))
}

fn title_of(m: &Model) -> String {
    let app = m.app;
    let n = m.values.len();
    match m.values.iter().position(|v| v.selected) {
        Some(i) => {
            let v = &m.values[i];
            let fmt = app.formats.get(v.kind);
            format!(
                "{} {} · value {}/{n}",
                v.kind.name(),
                format::name(v.kind, fmt),
                i + 1
            )
        }
        None => format!(
            "Z_2^64 {}",
            format::name(RingKind::Z64, app.formats.get(RingKind::Z64))
        ),
    }
}

/// `v`: the next format of the selected value's ring (of Z_2^64 when the shares pane is not
/// shown); returns the message line.
pub fn cycle_format(app: &mut App) -> String {
    let kind = if app.detail == Pane::Shares || app.focus == Pane::Shares {
        selected_ring(app)
    } else {
        RingKind::Z64
    };
    let all = format::formats(kind);
    let fmt = app.formats.cycle(kind);
    if all.len() == 1 {
        format!(
            "{} values have one format: {}",
            kind.name(),
            format::name(kind, fmt)
        )
    } else {
        format!(
            "{} values shown as {}",
            kind.name(),
            format::describe(kind, fmt)
        )
    }
}

/// Handles a key of the focused shares pane (`[` `]` `h` `l` `←` `→` `<` `>` `a`); returns
/// whether it was one.
pub fn key(app: &mut App, code: KeyCode) -> bool {
    let (w, _) = inner_size(app);
    let (count, sel) = {
        let m = Model::new(app, w);
        let sel = m.values.iter().position(|v| v.selected);
        let info = sel.map(|i| {
            let v = &m.values[i];
            let cols = v.slice.as_ref().map(|s| {
                let vis = m.min_visible_cols(v, s);
                (
                    s.cols.saturating_sub(vis),
                    s.lead_shape.clone(),
                    s.label(true),
                )
            });
            (m.start_of(i), cols)
        });
        (m.values.len(), info)
    };
    let cur = &mut app.shares;
    cur.value = cur.value.min(count.saturating_sub(1));
    match code {
        KeyCode::Char('[') | KeyCode::Char(']') => {
            if count == 0 {
                app.set_message("no values in this step");
                return true;
            }
            cur.value = if code == KeyCode::Char(']') {
                (cur.value + 1) % count
            } else {
                (cur.value + count - 1) % count
            };
            cur.col = 0;
            cur.lead.clear();
            cur.axis = 0;
            let m = Model::new(app, w);
            let start = m.start_of(app.shares.value);
            let max = max_scroll(app);
            app.scroll[Pane::Shares.number() - 1] = (start + 1).min(max);
            app.set_message(format!("value {}/{count}", app.shares.value + 1));
            true
        }
        KeyCode::Char('h') | KeyCode::Left | KeyCode::Char('l') | KeyCode::Right => {
            if let Some((_, Some((max_col, ..)))) = sel {
                let right = matches!(code, KeyCode::Char('l') | KeyCode::Right);
                cur.col = if right {
                    (cur.col + 1).min(max_col)
                } else {
                    cur.col.min(max_col).saturating_sub(1)
                };
            }
            true
        }
        KeyCode::Char('<') | KeyCode::Char('>') | KeyCode::Char('a') => {
            let Some((_, Some((_, lead, _)))) = sel else {
                app.set_message("the selected value has no leading axes ([ ] selects another)");
                return true;
            };
            if lead.is_empty() {
                app.set_message("the selected value has no leading axes ([ ] selects another)");
                return true;
            }
            cur.lead.resize(lead.len(), 0);
            cur.axis = cur.axis.min(lead.len() - 1);
            match code {
                KeyCode::Char('a') => cur.axis = (cur.axis + 1) % lead.len(),
                c => {
                    let n = lead[cur.axis].max(1);
                    let i = cur.lead[cur.axis].min(n - 1);
                    cur.lead[cur.axis] = if c == KeyCode::Char('>') {
                        (i + 1) % n
                    } else {
                        (i + n - 1) % n
                    };
                }
            }
            let m = Model::new(app, w);
            let label = m
                .values
                .iter()
                .find(|v| v.selected)
                .and_then(|v| v.slice.as_ref().map(|s| s.label(true)))
                .unwrap_or_default();
            app.set_message(format!("slice {label}"));
            true
        }
        _ => false,
    }
}

/// Draws the pane: only its visible lines are laid out.
pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let width = area.width.saturating_sub(2) as usize;
    let inner_h = area.height.saturating_sub(2) as usize;
    let m = Model::new(app, width);
    let total = m.total();
    let off = app.scroll[Pane::Shares.number() - 1].min(total.saturating_sub(inner_h));
    let lines = m.lines(off, off + inner_h);
    let block = super::block(app, Pane::Shares, &title_of(&m));
    let block = super::lines_footer(block, off, inner_h, total);
    f.render_widget(Paragraph::new(lines).block(block), area);
}

/// Every line of the pane for a pane `width` wide (tests).
pub fn lines(app: &App, width: usize) -> Vec<Line<'static>> {
    let m = Model::new(app, width);
    let total = m.total();
    m.lines(0, total)
}

/// The value the protocol reconstructs from the shares recorded under one label (`holders`:
/// party and record, in the trace's order), if every share-holding seat recorded exactly its
/// layout's number of shares, all of one length (the recorded prefix). Z_2^128 shares are
/// rebuilt whole (low and high words) and the result given by its low words, as the pane shows
/// Z_2^128 elements.
fn rebuild(app: &App, holders: &[(usize, &ValueRecord)]) -> Option<Rc<[u64]>> {
    let plan = app.ctl.plan();
    let protocol = plan.protocol();
    let (_, layout) = protocol.share_layout();
    let len = holders.iter().map(|(_, v)| v.values.len()).min()?;
    let parties = app.ctl.trace().parties.len();
    let mut held = vec![protocols::protocol::Held::Nothing; parties];
    for (&p, &n) in plan.seats.iter().zip(layout) {
        if n == 0 {
            continue;
        }
        let mine: Vec<protocols::protocol::Encoded> = holders
            .iter()
            .filter(|h| h.0 == p)
            .map(|h| {
                let v = h.1;
                if v.kind == protocols::context::RingKind::Z128 {
                    let wide: Vec<u128> = (0..len).map(|i| v.wide(i)).collect();
                    protocols::tensor::Tensor::from_shape_vec(vec![len], wide).map(Into::into)
                } else {
                    protocols::tensor::Tensor::from_shape_vec(vec![len], v.values[..len].to_vec())
                        .map(Into::into)
                }
            })
            .collect::<Result<_, _>>()
            .ok()?;
        if mine.len() != n {
            return None;
        }
        *held.get_mut(p)? = protocols::protocol::Held::Shares(mine);
    }
    let v = protocol.reconstruct(&plan.seats, &held)?;
    (v.len() == len).then(|| v.to_u128_vec().into_iter().map(|x| x as u64).collect())
}
