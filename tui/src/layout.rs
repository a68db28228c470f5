//! Where each pane goes, as a pure function of the terminal size and the app state (shared by
//! drawing and mouse hit-testing).

use crate::app::{App, Pane};
use ratatui::layout::{Constraint, Direction, Layout, Rect};

/// The smallest terminal the debugger draws in.
pub const MIN_WIDTH: u16 = 60;
/// The smallest terminal height the debugger draws in.
pub const MIN_HEIGHT: u16 = 15;
/// From this height on, the totals strip (`panes::totals`) is shown under the outline.
pub const TOTALS_MIN_HEIGHT: u16 = 30;
/// From this size on, a second detail pane (explain, or shares) is shown under the first.
pub const WIDE: (u16, u16) = (140, 40);

/// The screen's regions.
#[derive(Debug, Clone, PartialEq)]
pub struct Areas {
    /// The title line.
    pub header: Rect,
    /// The pane number bar above the detail pane.
    pub tabbar: Rect,
    /// Clickable tab labels.
    pub tabs: Vec<(Pane, Rect)>,
    /// Visible panes.
    pub panes: Vec<(Pane, Rect)>,
    /// The message or command line.
    pub message: Rect,
    /// The key hints.
    pub keys: Rect,
    /// The totals strip under the outline, on terminals at least [`TOTALS_MIN_HEIGHT`] high.
    pub totals: Option<Rect>,
}

/// The second pane shown on wide terminals.
pub fn companion(detail: Pane) -> Pane {
    if detail == Pane::Explain {
        Pane::Shares
    } else {
        Pane::Explain
    }
}

/// The label of each tab in the bar (`compact` for narrow bars).
pub fn tab_label(p: Pane, compact: bool) -> String {
    let short = match p {
        Pane::Network => "Net",
        Pane::Heatmaps => "Heat",
        Pane::Timeline => "Time",
        Pane::Explain if compact => "Expl",
        other => other.title(),
    };
    format!("{} {}", p.key(), short)
}

/// Whether the tab bar needs the compact labels to fit in `width` columns.
pub fn compact_tabs(width: u16) -> bool {
    let full: usize = Pane::ALL
        .iter()
        .skip(1)
        .map(|p| tab_label(*p, false).chars().count() + 1)
        .sum();
    full > width as usize + 1
}

/// The layout for a terminal of `size`, or `None` when it is too small.
pub fn areas(size: Rect, app: &App) -> Option<Areas> {
    if size.width < MIN_WIDTH || size.height < MIN_HEIGHT {
        return None;
    }
    let msg_h = if app.message.chars().count() + 8 > size.width as usize {
        2
    } else {
        1
    };
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(1),
            Constraint::Min(5),
            Constraint::Length(msg_h),
            Constraint::Length(1),
        ])
        .split(size);
    // The outline takes what its names need (it lists ops, sub-protocols and steps), from its
    // usual share of the screen up to half of a wide one (from 120 columns: a narrower screen
    // keeps its room for the detail pane).
    let base_w = (size.width * 36 / 100).clamp(30, 64);
    let max_w = if size.width >= 120 {
        size.width / 2
    } else {
        base_w
    };
    let left_w = crate::panes::outline::wanted_width(app).clamp(base_w, max_w.max(base_w));
    let cols = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Length(left_w), Constraint::Min(20)])
        .split(rows[1]);
    let right = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Length(1), Constraint::Min(3)])
        .split(cols[1]);
    let (outline, totals) = if size.height >= TOTALS_MIN_HEIGHT {
        let h = crate::panes::totals::height(app);
        let split = Layout::default()
            .direction(Direction::Vertical)
            .constraints([Constraint::Min(5), Constraint::Length(h)])
            .split(cols[0]);
        (split[0], Some(split[1]))
    } else {
        (cols[0], None)
    };
    let mut panes = vec![(Pane::Outline, outline)];
    if size.width >= WIDE.0 && size.height >= WIDE.1 {
        let split = Layout::default()
            .direction(Direction::Vertical)
            .constraints([Constraint::Percentage(55), Constraint::Percentage(45)])
            .split(right[1]);
        panes.push((app.detail, split[0]));
        panes.push((companion(app.detail), split[1]));
    } else {
        panes.push((app.detail, right[1]));
    }
    let mut tabs = Vec::new();
    let mut x = right[0].x;
    let compact = compact_tabs(right[0].width);
    for p in Pane::ALL.iter().skip(1) {
        let w = tab_label(*p, compact).chars().count() as u16;
        if x + w > right[0].x + right[0].width {
            break;
        }
        tabs.push((*p, Rect::new(x, right[0].y, w, 1)));
        x += w + 1;
    }
    Some(Areas {
        header: rows[0],
        tabbar: right[0],
        tabs,
        panes,
        message: rows[2],
        keys: rows[3],
        totals,
    })
}
