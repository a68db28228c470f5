//! Colours and glyphs: Okabe–Ito for parties, viridis for heat, and a monochrome theme for
//! `NO_COLOR` in which every colour-coded fact is also carried by a glyph or a modifier. The
//! theme is written in RGB; [`Palette`] maps a drawn frame to the nearest xterm-256 colours when
//! the terminal does not advertise truecolor (`COLORTERM`).

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
        Theme::for_no_color(std::env::var_os("NO_COLOR").as_deref())
    }

    /// The theme for a value of `NO_COLOR` (`None`: unset): monochrome when it is non-empty
    /// (<https://no-color.org>).
    pub fn for_no_color(no_color: Option<&std::ffi::OsStr>) -> Theme {
        Theme {
            color: no_color.is_none_or(|v| v.is_empty()),
        }
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

/// The colours the terminal can show. The theme is written in 24-bit RGB; a terminal that does
/// not advertise truecolor gets each RGB colour as its nearest xterm-256 index instead (named
/// ANSI colours are left as they are).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Palette {
    /// 24-bit colour (`COLORTERM=truecolor` or `24bit`).
    TrueColor,
    /// The xterm 256-colour palette.
    Indexed256,
}

impl Palette {
    /// The palette the environment advertises (`COLORTERM`, and `TERM` for `*-direct`).
    pub fn from_env() -> Palette {
        let var = |k| std::env::var(k).ok();
        Palette::detect(var("COLORTERM").as_deref(), var("TERM").as_deref())
    }

    /// The palette for these values of `COLORTERM` and `TERM` (`None`: unset): truecolor when
    /// `COLORTERM` is `truecolor` or `24bit` or `TERM` ends in `-direct` (terminfo's name for
    /// direct colour), else 256 colours.
    pub fn detect(colorterm: Option<&str>, term: Option<&str>) -> Palette {
        let colorterm = colorterm.map(str::trim).unwrap_or_default();
        if colorterm.eq_ignore_ascii_case("truecolor")
            || colorterm.eq_ignore_ascii_case("24bit")
            || term.is_some_and(|t| t.ends_with("-direct"))
        {
            Palette::TrueColor
        } else {
            Palette::Indexed256
        }
    }

    /// `c` as this palette shows it.
    pub fn color(self, c: Color) -> Color {
        match (self, c) {
            (Palette::Indexed256, Color::Rgb(r, g, b)) => Color::Indexed(xterm256(r, g, b)),
            _ => c,
        }
    }

    /// Maps every cell's colours of a drawn frame to this palette.
    pub fn apply(self, buf: &mut ratatui::buffer::Buffer) {
        if self == Palette::TrueColor {
            return;
        }
        for cell in buf.content.iter_mut() {
            cell.fg = self.color(cell.fg);
            cell.bg = self.color(cell.bg);
            cell.underline_color = self.color(cell.underline_color);
        }
    }
}

/// The levels of the xterm-256 colour cube (indices 16–231) on each axis.
const CUBE: [u8; 6] = [0, 95, 135, 175, 215, 255];

/// The RGB value of xterm-256 index `i` (16–255: the 6×6×6 cube and the 24 greys; 0–15 are
/// the terminal's own ANSI colours and have no fixed value).
pub fn xterm256_rgb(i: u8) -> Option<(u8, u8, u8)> {
    match i {
        0..=15 => None,
        16..=231 => {
            let k = (i - 16) as usize;
            Some((CUBE[k / 36], CUBE[(k / 6) % 6], CUBE[k % 6]))
        }
        _ => {
            let v = 8 + 10 * (i - 232);
            Some((v, v, v))
        }
    }
}

/// The xterm-256 index (16–255) nearest to an RGB colour: the nearest of the cube's colour and
/// the grey ramp's, by squared distance (the ANSI colours 0–15 are never chosen: terminals
/// redefine them).
pub fn xterm256(r: u8, g: u8, b: u8) -> u8 {
    let d = |(x, y, z): (u8, u8, u8)| {
        let sq = |a: u8, b: u8| (a as i32 - b as i32).pow(2);
        sq(x, r) + sq(y, g) + sq(z, b)
    };
    let level = |v: u8| {
        (0..6)
            .min_by_key(|&k| (CUBE[k] as i32 - v as i32).abs())
            .unwrap_or(0) as u8
    };
    let cube = 16 + 36 * level(r) + 6 * level(g) + level(b);
    let mean = (r as u32 + g as u32 + b as u32) / 3;
    let grey = 232 + ((mean.saturating_sub(3)) / 10).min(23) as u8;
    let dist = |i: u8| xterm256_rgb(i).map_or(i32::MAX, d);
    if dist(grey) < dist(cube) {
        grey
    } else {
        cube
    }
}
