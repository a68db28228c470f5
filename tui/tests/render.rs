//! Render snapshots: the whole screen through ratatui's TestBackend at 80×24 and 160×48, in
//! colour and under NO_COLOR. The scenario models compute time, so every number is deterministic.

mod common;

use common::{app, app_with, keys, shipped, SCENARIO};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use ratatui::Terminal;
use tui::app::App;

fn render(app: &mut App, w: u16, h: u16) -> Buffer {
    app.size = ratatui::layout::Rect::new(0, 0, w, h);
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| tui::draw::draw(f, app)).unwrap();
    term.backend().buffer().clone()
}

fn text(b: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..b.area.height {
        let mut line = String::new();
        for x in 0..b.area.width {
            line.push_str(b[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn screen(app: &mut App, w: u16, h: u16) -> String {
    text(&render(app, w, h))
}

#[test]
fn start_screen_80x24() {
    let mut a = app();
    insta::assert_snapshot!(screen(&mut a, 80, 24));
}

#[test]
fn shares_of_the_opened_masks_80x24() {
    let mut a = app();
    keys(&mut a, "nnss");
    insta::assert_snapshot!(screen(&mut a, 80, 24));
}

#[test]
fn shares_of_the_truncated_product_in_hex_80x24() {
    let mut a = app();
    keys(&mut a, "nnnvj");
    insta::assert_snapshot!(screen(&mut a, 80, 24));
}

#[test]
fn each_detail_pane_80x24() {
    for (key, name) in [
        ("2", "graph"),
        ("4", "network"),
        ("5", "heatmaps"),
        ("6", "timeline"),
        ("7", "explain"),
    ] {
        let mut a = app();
        keys(&mut a, "nns<Esc>");
        keys(&mut a, key);
        keys(&mut a, "<Esc>");
        insta::assert_snapshot!(format!("pane_{name}_80x24"), screen(&mut a, 80, 24));
    }
}

#[test]
fn wide_layout_shows_explain_under_the_detail_pane_160x48() {
    let mut a = app();
    keys(&mut a, ":break kind add<Enter>c");
    insta::assert_snapshot!(screen(&mut a, 160, 48));
}

#[test]
fn help_overlay_160x48() {
    let mut a = app();
    keys(&mut a, "?");
    insta::assert_snapshot!(screen(&mut a, 160, 48));
}

#[test]
fn help_overlay_fits_80x24() {
    let mut a = app();
    keys(&mut a, "?");
    let s = screen(&mut a, 80, 24);
    assert!(s.contains("q / Ctrl-C") && s.contains("step into"), "{s}");
    insta::assert_snapshot!(s);
}

#[test]
fn failed_run_shows_the_error_80x24() {
    let text = SCENARIO.replace(
        "outputs: [",
        "faults: [(party: \"server1\", op: \"w\", kind: Panic)],\n    outputs: [",
    );
    let mut a = app_with(&text, true);
    keys(&mut a, "c");
    insta::assert_snapshot!(screen(&mut a, 80, 24));
}

#[test]
fn too_small_terminal_gets_a_message() {
    let mut a = app();
    let s = screen(&mut a, 40, 10);
    assert!(s.contains("Terminal too small: 40×10"), "{s}");
    insta::assert_snapshot!(s);
}

#[test]
fn resizing_redraws_at_the_new_size() {
    let mut a = app();
    keys(&mut a, "nns");
    let small = screen(&mut a, 80, 24);
    let big = screen(&mut a, 160, 48);
    assert_eq!(small.lines().count(), 24);
    assert_eq!(big.lines().count(), 48);
    assert!(big.contains("7 Explain") && big.contains("3 Shares"));
}

#[test]
fn no_color_uses_no_colours_and_keeps_every_marker() {
    let mut a = app_with(SCENARIO, false);
    keys(&mut a, "nnn5");
    let b = render(&mut a, 80, 24);
    for cell in b.content() {
        assert!(
            matches!(cell.fg, Color::Reset) && matches!(cell.bg, Color::Reset),
            "coloured cell {cell:?} under NO_COLOR"
        );
    }
    let s = text(&b);
    assert!(
        s.contains('▶') && s.contains('●'),
        "cursor and executed markers stay"
    );
    insta::assert_snapshot!(s);
    // The colour theme does colour the same screen.
    let mut c = app();
    keys(&mut c, "nnn5");
    let b = render(&mut c, 80, 24);
    assert!(b.content().iter().any(|cell| cell.fg != Color::Reset));
}

#[test]
fn elements_over_the_tolerance_are_marked() {
    let mut a = app();
    keys(&mut a, "nnn");
    let before = screen(&mut a, 160, 48);
    assert!(!before.contains("e-5 !"), "{before}");
    // 0.1 · 10 reconstructs as 1.000061: 6.1e-5 off, over a tolerance of 1e-6.
    keys(&mut a, ":tol 1e-6<Enter>");
    let after = screen(&mut a, 160, 48);
    let marked: Vec<&str> = after.lines().filter(|l| l.contains(" !")).collect();
    assert_eq!(marked.len(), 1, "{after}");
    assert!(
        marked[0].contains("1.000061") && marked[0].contains("+6.10e-5"),
        "{}",
        marked[0]
    );
}

#[test]
fn insecure_variants_warn_in_the_title() {
    for (file, insecure) in [
        ("securenn-shortcut.ron", true),
        ("mlp-securenn.ron", false),
        ("beaver-multiplication.ron", false),
    ] {
        let mut a = shipped(file, false);
        for (w, h) in [(80, 24), (160, 48)] {
            let s = screen(&mut a, w, h);
            let title = s.lines().next().unwrap();
            assert_eq!(
                title.contains("⚠ INSECURE VARIANT"),
                insecure,
                "{file}: {title}"
            );
            assert!(
                title.ends_with("paused"),
                "the state stays in the title: {title}"
            );
        }
    }
}
