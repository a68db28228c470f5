//! The outline as a tree of sub-protocol calls, step out leaving the innermost call, the
//! outline's width and columns, and what the header names (issue 9 items 8 and 9).

mod common;

use common::{app_with, keys, shipped, SCENARIO};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use sim::control::Breakpoint;
use tui::app::{App, Row};

/// The test scenario with a SecureNN ReLU in place of the add.
fn relu_scenario() -> String {
    SCENARIO
        .replace(
            "name: \"debugger-test\",",
            "name: \"debugger-test\",\n    protocol: SecureNN,",
        )
        .replace("Add(\"z\", \"x\")", "Relu(\"z\")")
}

fn screen(app: &mut App, w: u16, h: u16) -> String {
    app.size = ratatui::layout::Rect::new(0, 0, w, h);
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| tui::draw::draw(f, app)).unwrap();
    let b = term.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        let line: String = (0..w).map(|x| b[(x, y)].symbol().to_string()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Removes every breakpoint (the scenarios' presets too).
fn clear_breakpoints(a: &mut App) {
    while a.ctl.remove_breakpoint(0).is_some() {}
}

/// Runs to just before the first step whose name starts with `prefix` (the whole run is
/// recorded by then), with no breakpoints left.
fn run_to(a: &mut App, prefix: &str) {
    clear_breakpoints(a);
    let name = {
        a.ctl.last();
        let s = a
            .ctl
            .trace()
            .steps
            .iter()
            .find(|s| s.name.starts_with(prefix));
        s.unwrap_or_else(|| panic!("no step `{prefix}…`"))
            .name
            .clone()
    };
    keys(a, "g");
    a.ctl.add_breakpoint(Breakpoint::Step(name.clone()));
    keys(a, "c");
    clear_breakpoints(a);
    assert_eq!(a.ctl.next_step().unwrap().name, name);
}

fn next_name(a: &App) -> String {
    a.ctl
        .next_step()
        .map(|s| s.name.clone())
        .unwrap_or_default()
}

fn next_path(a: &App) -> String {
    a.ctl
        .next_step()
        .map(|s| s.path.join(" › "))
        .unwrap_or_default()
}

#[test]
fn step_out_leaves_the_innermost_sub_protocol_first_then_the_op() {
    let mut a = app_with(&relu_scenario(), true);
    clear_breakpoints(&mut a);
    run_to(&mut a, "ComputeMSB 2–3");
    keys(&mut a, "s"); // inside ComputeMSB: its step 2–3 has run
    assert_eq!(
        a.ctl.current_step().unwrap().full_name(),
        "ReLU › DReLU › ComputeMSB › ComputeMSB 2–3: open r = 2a + x (Z_{L−1})"
    );
    // f: the rest of ComputeMSB (its PrivateCompare, MatMul and step 9) and no more.
    keys(&mut a, "f");
    assert!(
        a.ctl
            .current_step()
            .unwrap()
            .name
            .starts_with("ComputeMSB 9"),
        "{}",
        a.ctl.current_step().unwrap().name
    );
    assert!(next_name(&a).starts_with("DReLU 4"), "{}", next_name(&a));
    assert_eq!(next_path(&a), "ReLU › DReLU");
    // f again: the rest of DReLU; then SelectShare begins, still inside ReLU.
    keys(&mut a, "f");
    assert!(
        next_name(&a).starts_with("SelectShare 1"),
        "{}",
        next_name(&a)
    );
    assert_eq!(next_path(&a), "ReLU › SelectShare");
    // f again: the rest of ReLU, which is the rest of the op.
    keys(&mut a, "f");
    let relu = a.ctl.trace().ops.iter().find(|o| o.name == "w").unwrap();
    assert_eq!(a.ctl.position(), relu.end_step);
    assert_ne!(a.ctl.next_step().unwrap().op, relu.index);
}

#[test]
fn step_out_of_private_compare_inside_share_convert_returns_to_share_convert() {
    let mut a = app_with(&relu_scenario(), true);
    run_to(&mut a, "PrivateCompare 1–13");
    keys(&mut a, "s");
    assert_eq!(
        a.ctl.current_step().unwrap().path.join(" › "),
        "ReLU › DReLU › ShareConvert › PrivateCompare"
    );
    keys(&mut a, "f");
    assert!(
        next_name(&a).starts_with("ShareConvert 6"),
        "{}",
        next_name(&a)
    );
    assert_eq!(next_path(&a), "ReLU › DReLU › ShareConvert");
    assert!(
        a.message.starts_with("step out → after step"),
        "{}",
        a.message
    );
    // From ShareConvert's first step, f runs the rest of ShareConvert (its PrivateCompare too)
    // and stops where ComputeMSB begins.
    run_to(&mut a, "ShareConvert 3–4");
    keys(&mut a, "f");
    assert!(
        next_name(&a).starts_with("ComputeMSB 1"),
        "{}",
        next_name(&a)
    );
    assert_eq!(next_path(&a), "ReLU › DReLU › ComputeMSB");
}

#[test]
fn the_outline_is_a_tree_of_calls_that_opens_where_the_cursor_is() {
    let mut a = app_with(&relu_scenario(), true);
    run_to(&mut a, "ComputeMSB 2–3");
    keys(&mut a, "s");
    let rows = a.outline_rows();
    let t = a.ctl.trace();
    let scope_names: Vec<String> = rows
        .iter()
        .filter_map(|r| match *r {
            Row::Scope(start, d) => Some(format!("{d}:{}", t.steps[start].path[d])),
            _ => None,
        })
        .collect();
    // ReLU › DReLU open (the cursor is in them); ShareConvert closed (behind the cursor);
    // ComputeMSB open, its PrivateCompare (next) open; its MatMul and ReLU's SelectShare
    // (ahead, recorded) closed.
    assert_eq!(
        scope_names,
        [
            "0:ReLU",
            "1:DReLU",
            "2:ShareConvert",
            "2:ComputeMSB",
            "3:PrivateCompare",
            "3:MatMul",
            "1:SelectShare"
        ],
        "{rows:?}"
    );
    let sc = rows
        .iter()
        .find_map(|r| match *r {
            Row::Scope(start, 2) if t.steps[start].path[2] == "ShareConvert" => Some(start),
            _ => None,
        })
        .unwrap();
    assert!(
        !rows
            .iter()
            .any(|r| matches!(*r, Row::Step(k) if t.steps[k].name.starts_with("ShareConvert 6"))),
        "a closed call hides its steps"
    );
    // → on the closed call opens it; again closes it.
    a.selected = Row::Scope(sc, 2);
    keys(&mut a, "<Right>");
    assert!(a.outline_rows().iter().any(
        |r| matches!(*r, Row::Step(k) if a.ctl.trace().steps[k].name.starts_with("ShareConvert 6"))
    ));
    keys(&mut a, "<Right>");
    assert_eq!(a.outline_rows(), rows);
    // Enter on a call goes to its start.
    keys(&mut a, "<Enter>");
    assert_eq!(a.ctl.position(), sc);
    let s = screen(&mut a, 160, 48);
    insta::assert_snapshot!("tree_at_the_start_of_share_convert_160x48", s);
}

#[test]
fn tree_outline_inside_compute_msb_on_a_wan_160x48() {
    let mut a = shipped("mlp-securenn.ron", true);
    keys(&mut a, ":wan<Enter>");
    run_to(&mut a, "ComputeMSB 2–3");
    keys(&mut a, "s");
    let s = screen(&mut a, 160, 48);
    // Step names under their call, shown whole (no truncation at 160 columns).
    assert!(s.contains("▾ ComputeMSB"), "{s}");
    assert!(s.contains("2–3: open r = 2a + x (Z_{L−1})"), "{s}");
    assert!(s.contains("▸ ShareConvert · 6 steps"), "{s}");
    no_collisions(&s);
    insta::assert_snapshot!(s);
}

/// No bytes column runs into the time column (`384 B100.01 ms`).
fn no_collisions(s: &str) {
    for line in s.lines() {
        let chars: Vec<char> = line.chars().collect();
        for w in chars.windows(2) {
            assert!(
                !(w[0] == 'B' && w[1].is_ascii_digit()),
                "columns collide: {line}"
            );
        }
    }
}

#[test]
fn outline_columns_stay_apart_on_a_wan_80x24_and_160x48() {
    for (w, h) in [(80, 24), (160, 48)] {
        let mut a = shipped("mlp-wan.ron", true);
        keys(&mut a, ":wan<Enter>");
        clear_breakpoints(&mut a);
        a.ctl.add_breakpoint(Breakpoint::Op("logits".into()));
        keys(&mut a, "c");
        keys(&mut a, "p"); // inside out_lin, whose steps take 100 ms
        let s = screen(&mut a, w, h);
        no_collisions(&s);
        if (w, h) == (80, 24) {
            // Too narrow for the time column: it is left out, not squeezed.
            insta::assert_snapshot!("wan_columns_80x24", s);
        } else {
            // The widest time (a 40 ms op on the 20 ms WAN) stands apart from its bytes.
            assert!(s.contains("14.4 kB  40.45 ms"), "{s}");
            insta::assert_snapshot!("wan_columns_160x48", s);
        }
    }
}

#[test]
fn the_outline_widens_for_its_names_up_to_half_the_screen() {
    let mut a = shipped("mlp-securenn.ron", true);
    run_to(&mut a, "ComputeMSB 2–3");
    keys(&mut a, "s");
    let layout = |a: &App, w: u16| {
        let areas = tui::layout::areas(ratatui::layout::Rect::new(0, 0, w, 48), a).unwrap();
        areas.panes[0].1.width
    };
    let want = tui::panes::outline::wanted_width(&a);
    assert!(
        want > 160 * 36 / 100,
        "SecureNN names need more than the usual share: {want}"
    );
    assert_eq!(layout(&a, 160), want.min(80));
    assert_eq!(layout(&a, 240), want.min(120));
    // Short names keep the usual share.
    let small = common::app();
    assert_eq!(layout(&small, 160), 57);
}

#[test]
fn the_header_names_the_op_about_to_run_after_continue() {
    let mut a = shipped("mlp-securenn.ron", true);
    clear_breakpoints(&mut a);
    a.ctl.add_breakpoint(Breakpoint::Op("logits".into()));
    keys(&mut a, "c");
    let t = a.ctl.trace();
    assert_eq!(t.ops[a.ctl.current_step().unwrap().op].name, "out_lin");
    assert_eq!(t.ops[a.ctl.next_step().unwrap().op].name, "logits");
    assert_eq!(tui::draw::header_op(&a.ctl), "op logits");
    let s = screen(&mut a, 160, 48);
    let header = s.lines().next().unwrap();
    assert!(header.contains("· op logits ·"), "{header}");
    // One step back, inside out_lin: the op itself.
    keys(&mut a, "p");
    assert_eq!(tui::draw::header_op(&a.ctl), "op out_lin");
    // At the start: the first op; at the end: the last.
    keys(&mut a, "g");
    assert_eq!(tui::draw::header_op(&a.ctl), "op input x");
    keys(&mut a, "G");
    assert_eq!(tui::draw::header_op(&a.ctl), "op output logits");
    insta::assert_snapshot!("header_after_continue_to_logits_80x24", {
        let mut a = shipped("mlp-securenn.ron", true);
        clear_breakpoints(&mut a);
        a.ctl.add_breakpoint(Breakpoint::Op("logits".into()));
        keys(&mut a, "c");
        screen(&mut a, 80, 24)
    });
}

#[test]
fn the_header_of_a_failed_run_names_the_op_that_failed() {
    let mut a = shipped("fault-server-panics.ron", true);
    keys(&mut a, "c");
    assert_eq!(a.ctl.failed_op(), Some("h"));
    let s = screen(&mut a, 80, 24);
    let header = s.lines().next().unwrap();
    assert!(header.contains("op h · FAILED"), "{header}");
    // Back in the history the header names the cursor's op again.
    keys(&mut a, "p");
    assert_eq!(tui::draw::header_op(&a.ctl), "op g");
    insta::assert_snapshot!("fault_header_80x24", s);
}
