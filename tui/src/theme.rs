//! Colours and glyphs: Okabe–Ito for parties, viridis for heat, and a monochrome theme for
//! `NO_COLOR` in which every colour-coded fact is also carried by a glyph or a modifier.

use ratatui::style::{Color, Modifier, Style};

/// The Okabe–Ito palette (colour-blind safe), one colour per party index (cycling).
const OKABE_ITO: [Color; 7] = [
    Color::Rgb(230, 159, 0),   // orange
    Color::Rgb(86, 180, 233),  // sky blue
    Color::Rgb(0, 158, 115),   // bluish green
    Color::Rgb(240, 228, 66),  // yellow
    Color::Rgb(0, 114, 178),   // blue
    Color::Rgb(213, 94, 0),    // vermillion
    Color::Rgb(204, 121, 167), // reddish purple
];

/// Viridis at five stops, dark to bright.
const VIRIDIS: [Color; 5] = [
    Color::Rgb(68, 1, 84),
    Color::Rgb(59, 82, 139),
    Color::Rgb(33, 145, 140),
    Color::Rgb(94, 201, 98),
    Color::Rgb(253, 231, 37),
];

/// Heat glyphs from nothing to the maximum; they carry the value without colour.
pub const HEAT_GLYPHS: [&str; 5] = ["·", "░", "▒", "▓", "█"];

/// The styles the panes draw with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// Whether colours are used (false under `NO_COLOR`).
    pub color: bool,
}

impl Theme {
    /// The theme the environment asks for: monochrome when `NO_COLOR` is set and non-empty.
    pub fn from_env() -> Theme {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Theme { color: !no_color }
    }

    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    /// A party's colour.
    pub fn party(&self, i: usize) -> Style {
        self.fg(OKABE_ITO[i % OKABE_ITO.len()])
    }

    /// Titles and headings.
    pub fn title(&self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }

    /// Secondary text.
    pub fn dim(&self) -> Style {
        if self.color {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default()
        }
    }

    /// Errors, divergences, hazards (vermillion; underlined without colour).
    pub fn bad(&self) -> Style {
        if self.color {
            Style::default()
                .fg(OKABE_ITO[5])
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        }
    }

    /// Good news (bluish green).
    pub fn good(&self) -> Style {
        self.fg(OKABE_ITO[2])
    }

    /// Breakpoint markers (reddish purple).
    pub fn breakpoint(&self) -> Style {
        self.fg(OKABE_ITO[6]).add_modifier(Modifier::BOLD)
    }

    /// The cursor row or current item.
    pub fn current(&self) -> Style {
        if self.color {
            Style::default()
                .fg(Color::Black)
                .bg(OKABE_ITO[1])
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }

    /// The selection in a list (when it is not the cursor).
    pub fn selected(&self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }

    /// The border of the focused pane.
    pub fn focus_border(&self) -> Style {
        if self.color {
            Style::default()
                .fg(OKABE_ITO[1])
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::BOLD)
        }
    }

    /// Heat cell for a fraction in [0, 1]: a glyph and its viridis colour.
    pub fn heat(&self, fraction: f64) -> (&'static str, Style) {
        let level = heat_level(fraction);
        (HEAT_GLYPHS[level], self.fg(VIRIDIS[level]))
    }
}

/// The heat level 0..=4 of a fraction of the maximum (0 only for exactly nothing).
pub fn heat_level(fraction: f64) -> usize {
    if fraction.is_nan() || fraction <= 0.0 {
        0
    } else {
        ((fraction * 4.0).ceil() as usize).clamp(1, 4)
    }
}
