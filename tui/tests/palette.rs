//! The 256-colour fallback (issue 9, item 21): the nearest xterm-256 index of the theme's RGB
//! colours, the palette the environment advertises, and NO_COLOR — with the environment's values
//! passed in (the process environment is never changed: tests run in parallel).

mod common;

use ratatui::backend::TestBackend;
use ratatui::style::Color;
use ratatui::Terminal;
use std::ffi::OsStr;
use tui::theme::{xterm256, xterm256_rgb, Palette, Theme};

#[test]
fn every_xterm_colour_maps_to_itself_and_known_colours_to_their_neighbours() {
    for i in 16..=255u8 {
        let (r, g, b) = xterm256_rgb(i).unwrap();
        assert_eq!(xterm256(r, g, b), i, "index {i} = ({r}, {g}, {b})");
    }
    assert_eq!(
        xterm256_rgb(7),
        None,
        "the ANSI colours have no fixed value"
    );
    assert_eq!(xterm256(0, 0, 0), 16);
    assert_eq!(xterm256(255, 255, 255), 231);
    assert_eq!(xterm256(255, 0, 0), 196);
    assert_eq!(xterm256(128, 128, 128), 244, "a grey goes to the grey ramp");
    assert_eq!(
        xterm256(250, 250, 250),
        231,
        "nearer white than the last grey (238)"
    );
    // The Okabe–Ito orange (230, 159, 0) → (215, 175, 0); its sky blue (86, 180, 233) →
    // (95, 175, 215); viridis' dark purple (68, 1, 84) → (95, 0, 95).
    assert_eq!(xterm256(230, 159, 0), 178);
    assert_eq!(xterm256(86, 180, 233), 74);
    assert_eq!(xterm256(68, 1, 84), 53);
    // Nearest means nearest: no other index is closer, for a sweep of colours.
    let dist = |(a, b, c): (u8, u8, u8), (x, y, z): (u8, u8, u8)| {
        let d = |p: u8, q: u8| (p as i32 - q as i32).pow(2);
        d(a, x) + d(b, y) + d(c, z)
    };
    for r in (0..=255).step_by(17) {
        for g in (0..=255).step_by(51) {
            for b in (0..=255).step_by(15) {
                let got = dist((r, g, b), xterm256_rgb(xterm256(r, g, b)).unwrap());
                let best = (16..=255u8)
                    .map(|i| dist((r, g, b), xterm256_rgb(i).unwrap()))
                    .min()
                    .unwrap();
                assert_eq!(got, best, "({r}, {g}, {b})");
            }
        }
    }
}

#[test]
fn the_palette_follows_colorterm_and_term() {
    use Palette::*;
    assert_eq!(
        Palette::detect(Some("truecolor"), Some("xterm-256color")),
        TrueColor
    );
    assert_eq!(Palette::detect(Some("24bit"), None), TrueColor);
    assert_eq!(Palette::detect(Some("TrueColor"), None), TrueColor);
    assert_eq!(Palette::detect(None, Some("xterm-direct")), TrueColor);
    assert_eq!(Palette::detect(None, Some("xterm-256color")), Indexed256);
    assert_eq!(Palette::detect(Some(""), Some("screen")), Indexed256);
    assert_eq!(Palette::detect(Some("yes"), None), Indexed256);
    assert_eq!(Palette::detect(None, None), Indexed256);
    assert_eq!(Indexed256.color(Color::Rgb(255, 0, 0)), Color::Indexed(196));
    assert_eq!(
        TrueColor.color(Color::Rgb(255, 0, 0)),
        Color::Rgb(255, 0, 0)
    );
    assert_eq!(
        Indexed256.color(Color::DarkGray),
        Color::DarkGray,
        "ANSI colours stay"
    );
}

#[test]
fn no_color_turns_colour_off_when_set_and_non_empty() {
    assert!(!Theme::for_no_color(Some(OsStr::new("1"))).color);
    assert!(Theme::for_no_color(Some(OsStr::new(""))).color);
    assert!(Theme::for_no_color(None).color);
}

#[test]
fn a_frame_drawn_for_256_colours_has_no_rgb_cell_left() {
    let mut a = common::app();
    common::keys(&mut a, "#3s");
    a.size = ratatui::layout::Rect::new(0, 0, 160, 48);
    let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
    let draw = |term: &mut Terminal<TestBackend>, a: &tui::app::App, p: Palette| {
        term.draw(|f| {
            tui::draw::draw(f, a);
            p.apply(f.buffer_mut());
        })
        .unwrap();
        term.backend().buffer().clone()
    };
    let rgb = |c: Color| matches!(c, Color::Rgb(..));
    let true_colour = draw(&mut term, &a, Palette::TrueColor);
    let rgb_cells = true_colour
        .content
        .iter()
        .filter(|c| rgb(c.fg) || rgb(c.bg))
        .count();
    assert!(rgb_cells > 0, "the theme draws in RGB");
    let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
    let indexed = draw(&mut term, &a, Palette::Indexed256);
    assert!(indexed.content.iter().all(|c| !rgb(c.fg) && !rgb(c.bg)));
    // Cell by cell: the same text, each colour its nearest index.
    for (t, i) in true_colour.content.iter().zip(&indexed.content) {
        assert_eq!(t.symbol(), i.symbol());
        assert_eq!(Palette::Indexed256.color(t.fg), i.fg);
        assert_eq!(Palette::Indexed256.color(t.bg), i.bg);
    }
}
