//! One module per pane; each draws from the app state and nothing else.

pub mod explain;
pub mod graph;
pub mod heatmap;
pub mod network;
pub mod outline;
pub mod shares;
pub mod tensor_grid;
pub mod timeline;
pub mod totals;
pub mod view;

use crate::app::{App, Pane};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

/// The bordered block of pane `p`, its title and key, highlighted when focused.
pub fn block<'a>(app: &App, p: Pane, extra: &str) -> Block<'a> {
    let focused = app.focus == p;
    let mut title = format!(" {} {} ", p.key(), p.title());
    if !extra.is_empty() {
        title.push_str(&format!("· {extra} "));
    }
    let b = Block::default().borders(Borders::ALL).title(title);
    if focused {
        b.border_style(app.theme.focus_border())
    } else {
        b.border_style(app.theme.dim())
    }
}

/// Draws pane `p` in `area`.
pub fn draw(f: &mut Frame, area: Rect, app: &App, p: Pane) {
    match p {
        Pane::Outline => outline::draw(f, area, app),
        Pane::Graph => scrolled(f, area, app, p, "", graph::lines(app)),
        Pane::Shares => shares::draw(f, area, app),
        Pane::Network => scrolled(f, area, app, p, "", network::lines(app)),
        Pane::Heatmaps => {
            let h = area.height.saturating_sub(2) as usize;
            scrolled(
                f,
                area,
                app,
                p,
                heatmap::subtitle(app),
                heatmap::lines(app, h),
            )
        }
        Pane::Timeline => {
            let w = area.width.saturating_sub(2) as usize;
            scrolled(f, area, app, p, "virtual time", timeline::lines(app, w))
        }
        Pane::Explain => {
            let inner_w = area.width.saturating_sub(2).max(1) as usize;
            let inner_h = area.height.saturating_sub(2) as usize;
            let lines = explain::lines(app);
            // Rows after wrapping (an estimate by characters; enough to clamp the scroll).
            let rows: usize = lines
                .iter()
                .map(|l| l.width().div_ceil(inner_w).max(1))
                .sum();
            let off = app.scroll[p.number() - 1].min(rows.saturating_sub(inner_h));
            let para = Paragraph::new(lines)
                .block(block(app, p, ""))
                .wrap(Wrap { trim: false })
                .scroll((off.min(u16::MAX as usize) as u16, 0));
            f.render_widget(para, area);
        }
        Pane::View => view::draw(f, area, app),
    }
}

/// A paragraph of `lines` scrolled by the pane's offset (clamped to the content).
fn scrolled(f: &mut Frame, area: Rect, app: &App, p: Pane, extra: &str, lines: Vec<Line<'_>>) {
    let inner_h = area.height.saturating_sub(2) as usize;
    let max = lines.len().saturating_sub(inner_h);
    let off = app.scroll[p.number() - 1].min(max);
    let para = Paragraph::new(lines)
        .block(block(app, p, extra))
        .scroll((off.min(u16::MAX as usize) as u16, 0));
    f.render_widget(para, area);
}

/// A message's route and size as one line: `  server0 → server1      64 B{tail}`, with the
/// parties in their colours. Shared by the shares and network panes.
pub(crate) fn message_line(
    t: &sim::trace::Trace,
    th: &crate::theme::Theme,
    m: &sim::trace::MessageRecord,
    tail: &str,
) -> Line<'static> {
    use crate::format::{self, fit};
    Line::from(vec![
        Span::styled(
            format!("  {:>9}", fit(&t.parties[m.from], 9)),
            th.party(m.from),
        ),
        Span::raw(" → "),
        Span::styled(format!("{:<9}", fit(&t.parties[m.to], 9)), th.party(m.to)),
        Span::raw(format!(" {:>8}{tail}", format::bytes(m.bytes))),
    ])
}

/// A scrolled pane's footer, "lines a–b of n", when its `total` lines do not fit in `inner_h`.
pub(crate) fn lines_footer(
    block: ratatui::widgets::Block<'_>,
    off: usize,
    inner_h: usize,
    total: usize,
) -> ratatui::widgets::Block<'_> {
    if total <= inner_h {
        return block;
    }
    block.title_bottom(
        ratatui::text::Line::from(format!(
            " lines {}–{} of {total} ",
            off + 1,
            (off + inner_h).min(total)
        ))
        .right_aligned(),
    )
}
