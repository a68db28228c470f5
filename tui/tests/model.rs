//! Model tests: key sequences drive the debugger's update function without a terminal.

mod common;

use common::{app, app_with, keys, shipped, SCENARIO};
use sim::control::{Breakpoint, RunState};
use tui::app::{Mode, Pane, Row};

#[test]
fn s_steps_into_and_p_steps_back_through_history() {
    let mut a = app();
    assert_eq!(a.ctl.position(), 0);
    keys(&mut a, "sss");
    assert_eq!(a.ctl.position(), 3);
    let frontier = a.ctl.completed();
    keys(&mut a, "pp");
    assert_eq!(a.ctl.position(), 1);
    assert_eq!(
        a.ctl.completed(),
        frontier,
        "stepping back never runs anything"
    );
    keys(&mut a, "N");
    assert_eq!(a.ctl.position(), 0);
    assert_eq!(a.selected, Row::Op(0), "the selection follows the cursor");
}

#[test]
fn counts_repeat_a_motion() {
    let mut a = app();
    keys(&mut a, "#4s");
    assert_eq!(a.ctl.position(), 4);
    keys(&mut a, "#3p");
    assert_eq!(a.ctl.position(), 1);
    // Digits 1–7 focus panes and are never a count: `3` then `7` is Shares, then Explain, and
    // the next `s` steps once (it used to read [37] and jump to the end).
    keys(&mut a, "3");
    assert_eq!(a.focus, Pane::Shares);
    keys(&mut a, "7s");
    assert_eq!(
        (a.focus, a.ctl.position(), a.count),
        (Pane::Explain, 2, None)
    );
    // Esc abandons a count.
    keys(&mut a, "#9<Esc>s");
    assert_eq!(a.ctl.position(), 3);
    keys(&mut a, "#2p");
    keys(&mut a, "#2n"); // input x has one step: run input y, then z
    let t = a.ctl.trace();
    let z = t.ops.iter().find(|o| o.name == "z").unwrap();
    assert_eq!(a.ctl.position(), z.end_step);
}

#[test]
fn digits_focus_panes_and_tab_cycles() {
    let mut a = app();
    keys(&mut a, "7");
    assert_eq!((a.focus, a.detail), (Pane::Explain, Pane::Explain));
    keys(&mut a, "<Esc>1");
    assert_eq!((a.focus, a.detail), (Pane::Outline, Pane::Explain));
    keys(&mut a, "<Esc><Tab>");
    assert_eq!(a.focus, Pane::Graph);
    keys(&mut a, "<BackTab><BackTab>");
    assert_eq!(a.focus, Pane::View, "Tab cycles through the view pane last");
    keys(&mut a, "<BackTab>");
    assert_eq!(a.focus, Pane::Explain);
}

#[test]
fn step_over_and_out_land_on_op_boundaries() {
    let mut a = app();
    keys(&mut a, "nnn");
    let z = a
        .ctl
        .trace()
        .ops
        .iter()
        .find(|o| o.name == "z")
        .unwrap()
        .clone();
    assert_eq!(a.ctl.position(), z.end_step);
    keys(&mut a, "gnns");
    assert_eq!(a.ctl.position(), z.first_step + 1);
    keys(&mut a, "f");
    assert_eq!(a.ctl.position(), z.end_step, "step out finishes the op");
}

#[test]
fn b_on_an_op_then_continue_stops_before_it_and_reverse_continue_comes_back() {
    let mut a = app();
    // Select op `w` in the outline and toggle a breakpoint on it.
    let w = a
        .ctl
        .trace()
        .ops
        .iter()
        .position(|o| o.name == "w")
        .unwrap();
    let at = a
        .outline_rows()
        .iter()
        .position(|r| *r == Row::Op(w))
        .unwrap();
    for _ in 0..at {
        keys(&mut a, "<Down>");
    }
    assert_eq!(a.selected, Row::Op(w));
    keys(&mut a, "b");
    assert_eq!(a.ctl.breakpoints(), &[Breakpoint::Op("w".into())]);
    keys(&mut a, "c");
    assert!(a.message.starts_with("breakpoint: op w"), "{}", a.message);
    assert_eq!(a.ctl.next_step().unwrap().op, w);
    let stop = a.ctl.position();
    keys(&mut a, "c");
    assert_eq!(*a.ctl.state(), RunState::Finished);
    assert_eq!(a.message, "end of the run");
    keys(&mut a, "P");
    assert_eq!(a.ctl.position(), stop);
    // b again clears it.
    a.selected = Row::Op(w);
    keys(&mut a, "b");
    assert!(a.ctl.breakpoints().is_empty());
}

#[test]
fn break_on_divergence_from_the_command_line() {
    let mut a = app();
    keys(&mut a, ":break div 1e-9<Enter>");
    assert_eq!(a.ctl.breakpoints(), &[Breakpoint::Divergence(1e-9)]);
    keys(&mut a, "c");
    assert!(
        a.message.starts_with("breakpoint: divergence"),
        "{}",
        a.message
    );
    let ops = &a.ctl.trace().ops;
    let op = &ops[a.ctl.current_step().unwrap().op];
    assert!(op.stats.max_abs_error.unwrap() > 1e-9);
    assert_eq!(
        a.ctl.position(),
        op.end_step,
        "stops right after the diverging op"
    );
    for earlier in &ops[..op.index] {
        assert!(
            earlier.stats.max_abs_error.unwrap_or(0.0) <= 1e-9,
            "{}",
            earlier.name
        );
    }
    // A looser tolerance skips the inputs and the exact-enough product.
    keys(&mut a, ":clear<Enter>:break div 0.5<Enter>g");
    keys(&mut a, "c");
    assert_eq!(a.message, "end of the run");
}

#[test]
fn hazard_breakpoint_stops_after_the_op_that_raises_it() {
    // 3000 is above 2^11: an overflow hazard on the input.
    let text = SCENARIO.replace("0.1])", "3000.0])");
    let mut a = app_with(&text, true);
    keys(&mut a, ":break hazard<Enter>c");
    assert!(
        a.message.starts_with("breakpoint: any hazard"),
        "{}",
        a.message
    );
    let op = &a.ctl.trace().ops[a.ctl.current_step().unwrap().op];
    assert!(!op.hazards.is_empty());
}

#[test]
fn bad_commands_report_errors_and_change_nothing() {
    let mut a = app();
    keys(&mut a, ":break party mallory<Enter>");
    assert!(
        a.message.starts_with("error: no party `mallory`"),
        "{}",
        a.message
    );
    keys(&mut a, ":tol -1<Enter>");
    assert!(a.message.starts_with("error"), "{}", a.message);
    keys(&mut a, ":frobnicate<Enter>");
    assert!(a.message.contains("unknown command"), "{}", a.message);
    keys(&mut a, ":link server0<Enter>");
    assert!(a.message.starts_with("error"), "{}", a.message);
    assert!(a.ctl.breakpoints().is_empty());
    assert_eq!(a.ctl.position(), 0);
    assert!(!a.quit);
}

#[test]
fn restart_with_the_same_seed_is_deterministic_and_r_upper_changes_it() {
    let mut a = app();
    keys(&mut a, "G");
    let first = a.ctl.trace().clone();
    keys(&mut a, "r");
    assert_eq!(a.ctl.position(), 0);
    keys(&mut a, "G");
    assert_eq!(
        a.ctl.trace(),
        &first,
        "same seed, same trace (model timing)"
    );
    keys(&mut a, "R");
    assert_ne!(a.ctl.plan().scenario.seed, 42);
    keys(&mut a, "G");
    assert_ne!(a.ctl.trace().steps, first.steps);
}

#[test]
fn a_slower_link_reruns_to_the_same_position_with_later_clocks() {
    let mut a = app();
    keys(&mut a, "nnn");
    let pos = a.ctl.position();
    let before = a.ctl.trace().steps[pos - 1].parties[0].end_ns;
    keys(&mut a, ":link server0 server1 latency=50000 both<Enter>");
    assert!(
        a.message.starts_with("link server0 → server1"),
        "{}",
        a.message
    );
    assert_eq!(a.ctl.position(), pos);
    let after = a.ctl.trace().steps[pos - 1].parties[0].end_ns;
    assert!(after > before + 40_000_000, "{before} → {after}");
}

#[test]
fn breakpoint_list_deletes_entries() {
    let mut a = app();
    keys(&mut a, ":break kind mul<Enter>:break bytes 100<Enter>B");
    assert_eq!(a.mode, Mode::Breakpoints(0));
    keys(&mut a, "d");
    assert_eq!(a.ctl.breakpoints(), &[Breakpoint::Bytes(100)]);
    keys(&mut a, "<Esc>");
    assert_eq!(a.mode, Mode::Normal);
}

#[test]
fn breakpoint_list_edits_an_entry_in_place() {
    let mut a = app();
    keys(
        &mut a,
        ":break kind mul<Enter>:break div 0.5<Enter>:break party server1<Enter>B<Down>",
    );
    assert_eq!(a.mode, Mode::Breakpoints(1));
    // Enter pre-fills the command line with the entry's own spec.
    keys(&mut a, "<Enter>");
    assert_eq!(a.mode, Mode::Command("edit 2 div 0.5".into()));
    keys(&mut a, "<BS><BS><BS>0.001<Enter>");
    assert_eq!(
        a.ctl.breakpoints(),
        &[
            Breakpoint::Kind("mul".into()),
            Breakpoint::Divergence(0.001),
            Breakpoint::Party(1),
        ]
    );
    assert_eq!(a.message, "breakpoint 2 is now: divergence > 0.001");
    // A party is spelled by name; an edit that duplicates another entry just removes this one.
    keys(&mut a, "B<Down><Down>e");
    assert_eq!(a.mode, Mode::Command("edit 3 party server1".into()));
    keys(&mut a, "<Esc>:edit 3 kind mul<Enter>");
    assert_eq!(
        a.ctl.breakpoints(),
        &[
            Breakpoint::Kind("mul".into()),
            Breakpoint::Divergence(0.001)
        ]
    );
    keys(&mut a, ":edit 7 hazard<Enter>");
    assert_eq!(a.message, "error: there is no breakpoint 7");
    keys(&mut a, ":edit 1 colour blue<Enter>");
    assert!(
        a.message.contains("unknown breakpoint kind `colour`"),
        "{}",
        a.message
    );
    assert_eq!(a.ctl.breakpoints().len(), 2);
}

#[test]
fn help_command_line_and_quit_keys() {
    let mut a = app();
    keys(&mut a, "?");
    assert_eq!(a.mode, Mode::Help);
    keys(&mut a, "s<Esc>");
    assert_eq!(
        (a.mode.clone(), a.ctl.position()),
        (Mode::Normal, 0),
        "help swallows keys"
    );
    keys(&mut a, ":tol 0.5<BS><BS>");
    assert_eq!(a.mode, Mode::Command("tol 0".into()));
    keys(&mut a, "<Esc>q");
    assert!(a.quit);
    let mut a = app();
    keys(&mut a, "<C-c>");
    assert!(a.quit);
}

#[test]
fn export_writes_a_chrome_trace() {
    let mut a = app();
    let dir = std::env::temp_dir().join(format!("sharescope-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("trace.json");
    keys(&mut a, "G");
    keys(&mut a, &format!(":export chrome {}<Enter>", file.display()));
    assert!(a.message.starts_with("wrote chrome trace"), "{}", a.message);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let events = v["traceEvents"].as_array().unwrap();
    assert!(events
        .iter()
        .any(|e| e["ph"] == "X" && e["name"] == "open masked inputs"));
    assert!(events.iter().any(|e| e["ph"] == "s") && events.iter().any(|e| e["ph"] == "f"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_failing_party_shows_its_error_and_keys_keep_working() {
    let text = SCENARIO.replace(
        "outputs: [",
        "faults: [(party: \"server0\", op: \"w\", kind: Error)],\n    outputs: [",
    );
    let mut a = app_with(&text, true);
    keys(&mut a, "c");
    assert!(a.message.starts_with("run failed:"), "{}", a.message);
    assert!(a.message.contains("server0"), "{}", a.message);
    keys(&mut a, "spPgGnfc");
    assert!(matches!(a.ctl.state(), RunState::Failed(_)));
}

#[test]
fn scenario_breakpoints_are_preset() {
    let text = SCENARIO.replace(
        "outputs: [",
        "breakpoints: [Op(\"z\"), Kind(\"add\"), Bytes(100), Hazard],\n    outputs: [",
    );
    let mut a = app_with(&text, true);
    assert_eq!(
        a.ctl.breakpoints(),
        &[
            Breakpoint::Op("z".into()),
            Breakpoint::Kind("add".into()),
            Breakpoint::Bytes(100),
            Breakpoint::Hazard
        ]
    );
    keys(&mut a, "c");
    assert!(a.message.starts_with("breakpoint: op z"), "{}", a.message);
    assert_eq!(a.ctl.next_step().unwrap().name, "deal triple");
    keys(&mut a, "c");
    assert!(
        a.message.starts_with("breakpoint: bytes > 100"),
        "{}",
        a.message
    );
    assert_eq!(a.ctl.current_step().unwrap().name, "open masked inputs");
    keys(&mut a, "c");
    assert!(
        a.message.starts_with("breakpoint: kind add"),
        "{}",
        a.message
    );
}

#[test]
fn mouse_clicks_focus_panes_and_select_outline_rows() {
    use crossterm::event::{KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
    use ratatui::layout::Rect;
    let mut a = app();
    a.size = Rect::new(0, 0, 80, 24);
    let click = |column, row| MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column,
        row,
        modifiers: KeyModifiers::NONE,
    };
    let areas = tui::layout::areas(a.size, &a).unwrap();
    // A tab in the bar selects its pane.
    let (_, net) = areas
        .tabs
        .iter()
        .find(|(p, _)| *p == Pane::Network)
        .copied()
        .unwrap();
    a.handle_mouse(click(net.x, net.y));
    assert_eq!((a.focus, a.detail), (Pane::Network, Pane::Network));
    // A click on the third op row of the outline (border, header, then rows) selects it.
    let (_, outline) = areas.panes[0];
    a.handle_mouse(click(outline.x + 5, outline.y + 2 + 2));
    assert_eq!(a.focus, Pane::Outline);
    assert_eq!(a.selected, Row::Op(2));
    // The wheel scrolls the pane under the mouse.
    let (_, detail) = areas.panes[1];
    a.handle_mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: detail.x + 2,
        row: detail.y + 2,
        modifiers: KeyModifiers::NONE,
    });
    assert_eq!(a.focus, Pane::Network);
    assert_eq!(a.scroll[Pane::Network.number() - 1], 3);
}

#[test]
fn enter_on_an_outline_step_moves_the_cursor_there() {
    let mut a = app();
    keys(&mut a, "G1");
    keys(&mut a, "<Esc>");
    let z = a
        .ctl
        .trace()
        .ops
        .iter()
        .find(|o| o.name == "z")
        .unwrap()
        .clone();
    a.selected = Row::Step(z.first_step + 1);
    keys(&mut a, "<Enter>");
    assert_eq!(a.ctl.position(), z.first_step + 2);
    a.selected = Row::Op(z.index);
    keys(&mut a, "<Enter>");
    assert_eq!(a.ctl.position(), z.first_step);
}

#[test]
fn deferred_long_keys_show_running_first_then_do_exactly_what_they_would_have() {
    let mut direct = app();
    keys(&mut direct, "#2n");
    keys(&mut direct, "c");
    let mut a = app();
    a.defer_long = true;
    keys(&mut a, "#2n");
    assert_eq!(a.ctl.position(), 0, "a deferred key runs nothing yet");
    assert!(a.message.contains("running (step over)"), "{}", a.message);
    a.run_pending();
    keys(&mut a, "c");
    assert!(a.message.contains("running (continue)"), "{}", a.message);
    a.run_pending();
    assert!(a.pending.is_none());
    assert_eq!(a.ctl.position(), direct.ctl.position());
    assert_eq!(a.message, direct.message);
    // Keys that never run long stay immediate; a single step too.
    keys(&mut a, "g");
    assert_eq!(a.ctl.position(), 0);
    keys(&mut a, "s");
    assert_eq!(a.ctl.position(), 1);
    // A step count and `G` are deferred like continue.
    keys(&mut a, "#3s");
    assert!(a.message.contains("running (step into)"), "{}", a.message);
    a.run_pending();
    assert_eq!(a.ctl.position(), 4);
    keys(&mut a, "G");
    assert!(a.message.contains("running (last)"), "{}", a.message);
    a.run_pending();
    assert_eq!(a.message, "end of the run");
}

#[test]
fn an_interrupted_movement_says_where_it_paused() {
    let mut a = app();
    a.ctl
        .interrupt_handle()
        .store(true, std::sync::atomic::Ordering::SeqCst);
    keys(&mut a, "c");
    let pos = a.ctl.position();
    assert!(pos < a.ctl.plan().ops.len() * 3, "stopped early at {pos}");
    assert_eq!(
        a.message,
        format!("continue interrupted → paused after step {pos}")
    );
    // Only the movement it interrupted: the next continue runs to the end.
    keys(&mut a, "c");
    assert_eq!(a.message, "end of the run");
}

/// The view pane's scroll offset.
fn view_scroll(a: &tui::app::App) -> usize {
    a.scroll[Pane::View.number() - 1]
}

/// The view pane's first visible line, as text.
fn view_top(a: &tui::app::App) -> String {
    let areas = tui::layout::areas(a.size, a).unwrap();
    let w = areas.panes[1].1.width as usize - 2;
    tui::panes::view::all_lines(a, w)[view_scroll(a)].to_string()
}

#[test]
fn capital_v_opens_the_view_pane_and_left_right_cycle_the_party() {
    let mut a = app();
    let parties = a.ctl.trace().parties.clone();
    keys(&mut a, "nV");
    assert_eq!((a.focus, a.detail), (Pane::View, Pane::View));
    assert_eq!(a.view_party, 0);
    assert_eq!(a.count, None, "V is a letter: no count starts");
    keys(&mut a, "l");
    assert_eq!(a.view_party, 1);
    assert_eq!(a.message, format!("view of {}", parties[1]));
    keys(&mut a, "<Right><Right>");
    assert_eq!(a.view_party, 3);
    keys(&mut a, "<Left>h");
    assert_eq!(a.view_party, 1);
    keys(&mut a, "hh");
    assert_eq!(a.view_party, parties.len() - 1, "cycling wraps around");
    keys(&mut a, "l");
    assert_eq!(a.view_party, 0);
    // The party stays when the pane loses focus; ← → are the outline's again there.
    keys(&mut a, "l1");
    assert_eq!(a.focus, Pane::Outline);
    let cur = a.ctl.current_op().unwrap();
    keys(&mut a, "<Esc><Right>");
    assert_eq!(a.view_party, 1);
    assert_eq!(a.selected, Row::Op(cur), "→ toggled the op in the outline");
    // A digit still focuses its pane, and V comes back to the same view.
    keys(&mut a, "<Esc>3");
    assert_eq!(a.focus, Pane::Shares);
    keys(&mut a, "<Esc>V");
    assert_eq!((a.focus, a.view_party), (Pane::View, 1));
}

#[test]
fn the_view_pane_scrolls_within_its_content_and_follows_the_cursor() {
    let mut a = shipped("securenn-shortcut.ron", true);
    let helper = a.ctl.plan().seats[2];
    // Run to PrivateCompare 14–15 and look at the helper.
    keys(&mut a, "c");
    let pc = loop {
        keys(&mut a, "s");
        let s = a.ctl.current_step().unwrap();
        if s.name.starts_with("PrivateCompare 14–15") {
            break s.index;
        }
    };
    keys(&mut a, "V");
    while a.view_party != helper {
        keys(&mut a, "l");
    }
    let anchored = view_scroll(&a);
    assert!(
        anchored > 0,
        "the helper's view is long: the cursor's step is further down"
    );
    assert!(
        view_top(&a).contains(&format!("▶ step {}", pc + 1)),
        "the pane opens at the cursor's step: {}",
        view_top(&a)
    );
    // j / k / PgUp / PgDn scroll by one and ten lines, never past either end.
    keys(&mut a, "jj");
    assert_eq!(view_scroll(&a), anchored + 2);
    keys(&mut a, "k");
    assert_eq!(view_scroll(&a), anchored + 1);
    let max = tui::panes::view::max_scroll(&a);
    for _ in 0..max / 10 + 2 {
        keys(&mut a, "<PgDn>");
    }
    assert_eq!(view_scroll(&a), max, "PgDn stops at the end of the view");
    keys(&mut a, "j");
    assert_eq!(view_scroll(&a), max);
    for _ in 0..max / 10 + 2 {
        keys(&mut a, "<PgUp>");
    }
    assert_eq!(view_scroll(&a), 0);
    assert!(view_top(&a).contains("view up to step"), "{}", view_top(&a));
    keys(&mut a, "k");
    assert_eq!(view_scroll(&a), 0, "k stops at the top");
    // A command that does not move the cursor keeps the scroll; a step moves it to the new
    // step (the end of the view: it is the last group).
    keys(&mut a, "jjj:tol 1e-6<Enter>");
    assert_eq!(view_scroll(&a), 3);
    keys(&mut a, "s");
    assert_eq!(view_scroll(&a), tui::panes::view::anchor(&a));
    assert!(view_scroll(&a) > anchored);
    // Stepping back returns to the step's own place.
    keys(&mut a, "p");
    assert_eq!(view_scroll(&a), anchored);
    // Another party's view opens at the cursor's step too (a server: no items there, so the
    // end of its view is at the bottom of the pane).
    keys(&mut a, "h");
    assert_eq!(view_scroll(&a), tui::panes::view::anchor(&a));
    assert_eq!(view_scroll(&a), tui::panes::view::max_scroll(&a));
}

#[test]
fn breakpoints_on_kinds_and_steps_that_never_occur_are_refused_with_a_hint() {
    let mut a = app();
    // `break kind foo` used to be accepted and never fire.
    keys(&mut a, ":break kind mull<Enter>");
    assert!(a.message.contains("no op of kind `mull`"), "{}", a.message);
    assert!(a.message.contains("did you mean `mul`?"), "{}", a.message);
    assert!(a.ctl.breakpoints().is_empty());
    keys(&mut a, ":break kind mul<Enter>");
    assert_eq!(a.ctl.breakpoints().len(), 1, "{}", a.message);
    // Once the whole run is recorded, a step name that never occurs is refused too.
    keys(&mut a, "G");
    keys(&mut a, ":break step combin<Enter>");
    assert!(
        a.message.contains("no step named `combin`"),
        "{}",
        a.message
    );
    assert!(
        a.message.contains("did you mean `combine`?"),
        "{}",
        a.message
    );
    keys(&mut a, ":break step combine<Enter>");
    assert_eq!(a.ctl.breakpoints().len(), 2, "{}", a.message);
    // :goto speaks English, not Rust enum names.
    keys(&mut a, ":goto 2<Enter>");
    assert_eq!(a.message, "goto → after step 2");
    keys(&mut a, ":goto 100000<Enter>");
    assert_eq!(a.message, "end of the run");
}

#[test]
fn profile_commands_set_every_link_to_the_one_named_profile() {
    use sim::profiles;
    let mut a = app();
    // `:wan` is the `wan` profile (it used to be 50 ms, while compare and mlp-wan used 20 ms).
    for (command, p) in [
        (":wan", profiles::WAN),
        (":profile securenn-wan", profiles::SECURENN_WAN),
        (":profile SecureNN_LAN", profiles::SECURENN_LAN),
        (":lan", profiles::LAN),
    ] {
        keys(&mut a, &format!("{command}<Enter>"));
        assert!(a.message.starts_with("every link is now"), "{}", a.message);
        let n = a.ctl.plan().parties.len();
        for (i, row) in a.ctl.plan().links.iter().enumerate() {
            for (j, l) in row.iter().enumerate() {
                assert!(i == j || *l == p.link, "{command}: {i} → {j} is {l:?}");
            }
            assert_eq!(row.len(), n);
        }
    }
    // One link from a profile, with an override on top.
    keys(&mut a, ":link server0 server1 profile=wan latency=7<Enter>");
    let l = a.ctl.plan().links[0][1];
    assert_eq!((l.latency_us, l.bandwidth_bps), (7, 100_000_000));
    // Unknown names are refused with a hint and change nothing.
    let before = a.ctl.plan().links.clone();
    keys(&mut a, ":profile wna<Enter>");
    assert!(
        a.message
            .contains("unknown network profile `wna`; did you mean `wan`?"),
        "{}",
        a.message
    );
    keys(&mut a, ":link server0 server1 profile=moon<Enter>");
    assert!(a.message.starts_with("error"), "{}", a.message);
    keys(&mut a, ":profile<Enter>");
    assert!(a.message.contains("usage: profile NAME"), "{}", a.message);
    assert_eq!(a.ctl.plan().links, before);
}

/// The totals strip: costs up to the cursor add up the recorded steps, and at the last step
/// they are the run's own totals; the end row, the DAG figures and the metrics come from the
/// finished run.
#[test]
fn totals_up_to_the_cursor_reach_the_run_totals_at_the_end() {
    use tui::panes::totals::{up_to, Summary};
    let mut a = app();
    keys(&mut a, "sss");
    let t = a.ctl.trace();
    let here = up_to(t, 3);
    let online = protocols::context::Traffic::Online;
    let msgs = || t.steps[..3].iter().flat_map(|s| s.messages());
    let bytes: u64 = msgs()
        .filter(|m| m.traffic == online)
        .map(|m| m.bytes)
        .sum();
    assert_eq!(here.bytes, bytes);
    let offline = msgs().filter(|m| m.traffic != online).count() as u64;
    assert_eq!(here.offline_messages, offline);
    assert_eq!(here.rounds, 1, "the inputs are one round");
    keys(&mut a, "G");
    let t = a.ctl.trace();
    let end = up_to(t, t.steps.len());
    let want = a.ctl.totals().expect("the run finished").clone();
    assert_eq!(
        end,
        Summary {
            bytes: want.bytes,
            messages: want.messages,
            rounds: want.rounds,
            offline_bytes: want.offline_bytes,
            offline_messages: want.offline_messages,
            virtual_time_ns: want.virtual_time_ns,
        }
    );
    assert_eq!((want.rounds, want.critical_path_rounds), (4, 4));
    let text: String = tui::panes::totals::lines(&a, 60)
        .iter()
        .map(|l| l.to_string() + "\n")
        .collect();
    assert!(text.contains("critical path 4 rounds, 400.1 µs"), "{text}");
    assert!(text.contains("output w: 1 rounds, 64 B online"), "{text}");
    // Restarting forgets the end until the new run has finished.
    keys(&mut a, "g");
    assert_eq!(a.ctl.position(), 0);
}

#[test]
fn totals_show_accuracy_and_agreement_at_the_end_of_a_scenario_with_metrics() {
    let mut a = shipped("digits-logreg.ron", true);
    let before: String = tui::panes::totals::lines(&a, 60)
        .iter()
        .map(|l| l.to_string() + "\n")
        .collect();
    assert!(
        before.contains("accuracy, agreement: once the run has finished"),
        "{before}"
    );
    keys(&mut a, "G");
    let m = a.ctl.metrics().expect("digits-logreg has metrics").clone();
    let text: String = tui::panes::totals::lines(&a, 60)
        .iter()
        .map(|l| l.to_string() + "\n")
        .collect();
    let want = format!(
        "accuracy {:.4} (plaintext {:.4}) · agreement {:.4}",
        m.accuracy, m.plaintext_accuracy, m.agreement
    );
    assert!(text.contains(&want), "{text}");
}

/// Moves `a` (run to the end first) to the `nth` step whose name starts with `name` and
/// focuses the shares pane.
fn shares_at(a: &mut tui::app::App, name: &str, nth: usize) {
    a.size = ratatui::layout::Rect::new(0, 0, 160, 48);
    a.ctl.last();
    let k = a
        .ctl
        .trace()
        .steps
        .iter()
        .filter(|s| s.name.starts_with(name))
        .nth(nth)
        .unwrap_or_else(|| panic!("no step {name}"))
        .index;
    keys(a, &format!(":goto {}<Enter>3", k + 1));
}

/// The shares pane's lines for a pane `w` wide, as text.
fn shares_text(a: &tui::app::App, w: usize) -> Vec<String> {
    tui::panes::shares::lines(a, w)
        .iter()
        .map(|l| l.to_string())
        .collect()
}

/// The shares pane's visible lines on a 160×48 terminal.
fn shares_screen(a: &tui::app::App) -> Vec<String> {
    let all = shares_text(a, 101);
    let h = 48 - 7; // header, tabs, message and key lines, the companion pane's share
    let max = tui::panes::shares::max_scroll(a);
    let off = a.scroll[Pane::Shares.number() - 1].min(max);
    all.into_iter().skip(off).take(h).collect()
}

#[test]
fn the_shares_pane_scrolls_over_the_whole_recorded_tensor_and_says_where_it_was_cut() {
    // 300 elements, 256 recorded (the default max_values): the table used to stop at 64 rows.
    let text = SCENARIO
        .replace(
            "shape: [4], data: Values([1.5, -2.25, 3.0, 0.1])",
            "shape: [300], data: Random(Normal(0.0, 1.0))",
        )
        .replace(
            "shape: [4], data: Values([2.0, 4.0, -1.5, 10.0])",
            "shape: [300], data: Random(Normal(0.0, 1.0))",
        );
    let mut a = app_with(&text, false);
    shares_at(&mut a, "share input", 0);
    let all = shares_text(&a, 101);
    assert!(
        all.iter()
            .any(|l| l.contains("256 of 300 recorded (trace max_values 256)")),
        "{all:#?}"
    );
    // Full digits: no 20-digit share is cut.
    assert!(!all.iter().skip(10).any(|l| l.contains('…')), "{all:#?}");
    let row = |i: usize| format!("{i:>5}  ");
    let max = tui::panes::shares::max_scroll(&a);
    assert!(max > 200, "the pane scrolls over 256 rows: {max}");
    // j and PgDn scroll, clamped to the content; the last recorded row comes into view.
    keys(&mut a, "jjj");
    assert_eq!(a.scroll[Pane::Shares.number() - 1], 3);
    for _ in 0..40 {
        keys(&mut a, "<PgDn>");
    }
    assert_eq!(a.scroll[Pane::Shares.number() - 1], max);
    let screen = shares_screen(&a);
    assert!(screen.last().unwrap().starts_with(&row(255)), "{screen:#?}");
    assert!(
        !all.iter().any(|l| l.starts_with(&row(256))),
        "unrecorded rows are not shown"
    );
    keys(&mut a, "<PgUp>k");
    assert_eq!(a.scroll[Pane::Shares.number() - 1], max - 11);
}

#[test]
fn tensors_are_matrices_whose_leading_axes_and_columns_the_keys_choose() {
    // cnn-avgpool: the first truncation's result is [2, 4, 6, 6] (n, c, h, w).
    let mut a = shipped("cnn-avgpool.ron", false);
    shares_at(&mut a, "truncate", 0);
    let step = a.ctl.current_step().unwrap().clone();
    let (s0, s1) = (&step.parties[0].shares[0], &step.parties[1].shares[0]);
    assert_eq!(s0.shape, [2, 4, 6, 6]);
    let cfg = a.ctl.plan().scenario.fixed_point;
    let recon = |i: usize| tui::format::real(cfg.decode(s0.values[i].wrapping_add(s1.values[i])));
    let find = |a: &tui::app::App, pat: &str| -> usize {
        let all = shares_text(a, 101);
        all.iter()
            .position(|l| l.contains(pat))
            .unwrap_or_else(|| panic!("{pat} in {all:#?}"))
    };
    let all = shares_text(&a, 101);
    let slice = find(&a, "slice [n=‹0›, c=0, :, :]");
    // Below the slice: server0's matrix, its column header (h\w 0 1 2 …), row 0.
    assert_eq!(all[slice + 1].trim(), "server0");
    assert!(
        all[slice + 2].trim_start().starts_with("h\\w  "),
        "{}",
        all[slice + 2]
    );
    // The reconstruction's row 0 of slice [0, 0] holds elements 0..6.
    let rec = find(&a, "  reconstructed");
    let row0: Vec<&str> = all[rec + 2].split_whitespace().collect();
    assert_eq!(row0[0], "0");
    assert_eq!(row0[1..], (0..6).map(recon).collect::<Vec<_>>()[..]);
    // > moves n to 1, a selects c and > > moves it to 2: slice [1, 2] starts at element
    // (1·4 + 2)·36.
    keys(&mut a, ">a>>");
    assert!(
        a.message.contains("slice [n=1, c=‹2›, :, :]"),
        "{}",
        a.message
    );
    let all = shares_text(&a, 101);
    let rec = find(&a, "  reconstructed");
    let row0: Vec<&str> = all[rec + 2].split_whitespace().collect();
    let base = (4 + 2) * 36;
    assert_eq!(
        row0[1..],
        (base..base + 6).map(recon).collect::<Vec<_>>()[..]
    );
    // Indices wrap: two more > bring c back to 0; < from 0 goes to the last.
    keys(&mut a, ">><");
    assert!(a.message.contains("c=‹3›"), "{}", a.message);
    // Columns: at 40 columns the 20-digit shares do not fit; l scrolls them, clamped.
    a.size = ratatui::layout::Rect::new(0, 0, 100, 30);
    let narrow = |a: &tui::app::App| {
        let w = tui::layout::areas(a.size, a)
            .unwrap()
            .panes
            .iter()
            .find(|p| p.0 == Pane::Shares)
            .unwrap()
            .1
            .width as usize
            - 2;
        shares_text(a, w)
    };
    let first = narrow(&a);
    assert!(
        first.iter().any(|l| l.contains("· columns 0–")),
        "{first:#?}"
    );
    keys(&mut a, "llllllllll");
    let last = narrow(&a);
    assert!(
        last.iter().any(|l| l.contains("of 6 (h l columns")),
        "{last:#?}"
    );
    let header = last
        .iter()
        .find(|l| l.trim_start().starts_with("h\\w"))
        .unwrap();
    assert!(
        header.trim_end().ends_with(" 5"),
        "the last column is in view: {header}"
    );
    keys(&mut a, "hhhhhhhhhhhh");
    assert_eq!(narrow(&a), first);
    // A 1-D value has no leading axes: the keys say so.
    let mut b = shipped("securenn-shortcut.ron", false);
    shares_at(&mut b, "share input", 0);
    keys(&mut b, ">");
    assert!(b.message.contains("no leading axes"), "{}", b.message);
}

#[test]
fn v_cycles_the_formats_of_the_selected_values_ring() {
    use protocols::context::RingKind;
    use tui::format::ValueFormat;
    // PrivateCompare 14–15 opens d (Z_67) and β′ (a bit).
    let mut a = shipped("securenn-shortcut.ron", false);
    shares_at(&mut a, "PrivateCompare 14–15", 0);
    let title = |a: &tui::app::App| tui::panes::shares::title(a, 101);
    assert_eq!(title(&a), "Z_67 0–66 · value 1/2");
    keys(&mut a, "v");
    assert_eq!(a.formats.get(RingKind::Zp), ValueFormat::Signed);
    assert_eq!(title(&a), "Z_67 signed −33…33 · value 1/2");
    assert!(shares_text(&a, 101).iter().any(|l| l.contains("-")));
    keys(&mut a, "v");
    assert_eq!(a.formats.get(RingKind::Zp), ValueFormat::Unsigned);
    // ] selects β′: bits have one format.
    keys(&mut a, "]");
    assert_eq!(title(&a), "bits 0/1 · value 2/2");
    keys(&mut a, "v");
    assert!(a.message.contains("one format: 0/1"), "{}", a.message);
    assert_eq!(
        a.formats.get(RingKind::Z64),
        ValueFormat::Auto,
        "Z_2^64 untouched"
    );
    // ComputeMSB 2–3 opens r in the odd ring: unsigned → signed → hex → unsigned.
    shares_at(&mut a, "ComputeMSB 2–3", 0);
    let mut seen = vec![a.formats.get(RingKind::Odd)];
    for _ in 0..3 {
        keys(&mut a, "v");
        seen.push(a.formats.get(RingKind::Odd));
    }
    assert_eq!(
        seen,
        [
            ValueFormat::Unsigned,
            ValueFormat::Signed,
            ValueFormat::Hex,
            ValueFormat::Unsigned
        ]
    );
    // A Z_2^64 step cycles its five formats; the Z_67 choice stays.
    shares_at(&mut a, "share input", 0);
    let mut names = vec![title(&a)];
    for _ in 0..5 {
        keys(&mut a, "v");
        names.push(title(&a));
    }
    assert_eq!(
        names,
        [
            "Z_2^64 auto · value 1/1",
            "Z_2^64 decoded · value 1/1",
            "Z_2^64 unsigned · value 1/1",
            "Z_2^64 signed · value 1/1",
            "Z_2^64 hex · value 1/1",
            "Z_2^64 auto · value 1/1",
        ]
    );
    assert_eq!(a.formats.get(RingKind::Zp), ValueFormat::Unsigned);
}

#[test]
fn shares_show_raw_and_reconstructions_decoded_and_decoding_a_share_is_explained() {
    let mut a = app_with(SCENARIO, false);
    shares_at(&mut a, "truncate", 0);
    let step = a.ctl.current_step().unwrap();
    let share0 = step.parties[0].shares[0].values[0];
    let text = shares_text(&a, 101);
    let row0 = text.iter().find(|l| l.starts_with("  0  ")).unwrap();
    // x·y = 1.5·2 = 3: the raw share, the decoded reconstruction beside it.
    assert!(
        row0.contains(&share0.to_string()) && row0.contains("3.000000"),
        "{row0}"
    );
    assert!(!text.iter().any(|l| l.contains("decoded shares:")));
    keys(&mut a, "v"); // decoded: the shares too, with what that means
    let text = shares_text(&a, 101);
    assert!(
        text.iter()
            .any(|l| l.contains("decoded shares: a share decoded alone is a uniformly random")),
        "{text:#?}"
    );
    // SecureNN's DReLU bit is an integer: its reconstruction reads 0/1, not 1.526e-5.
    let mut b = shipped("securenn-shortcut.ron", false);
    shares_at(&mut b, "DReLU 4", 0);
    let text = shares_text(&b, 101);
    assert!(
        text.iter()
            .any(|l| l.contains("an integer, not fixed point")),
        "{text:#?}"
    );
    assert!(!text.iter().any(|l| l.contains("e-5")), "{text:#?}");
}

#[test]
fn beaver_opens_e_and_f_with_the_explain_panes_letters() {
    let mut a = shipped("beaver-multiplication.ron", false);
    shares_at(&mut a, "open masked inputs", 0);
    let text = shares_text(&a, 101);
    let opened: Vec<&String> = text.iter().filter(|l| l.contains("opened:")).collect();
    assert_eq!(opened.len(), 2, "{text:#?}");
    assert!(
        opened[0].contains("opened: e = x − a (masked x)"),
        "{}",
        opened[0]
    );
    // It read "y − a (masked y)" while the explain pane opens f = y − b.
    assert!(
        opened[1].contains("opened: f = y − b (masked y)"),
        "{}",
        opened[1]
    );
    assert!(
        !text
            .iter()
            .any(|l| l.contains("y − a (") || l.contains("y − a ·")),
        "{text:#?}"
    );
    let explain: String = tui::panes::explain::lines(&a)
        .iter()
        .map(|l| l.to_string())
        .collect();
    assert!(explain.contains("e = x − a and f = y − b"), "{explain}");
}

#[test]
fn a_128_bit_output_is_decoded_beside_its_plaintext() {
    // pond-int128: shares over Z_2^128; the receiver's opened `energy` is decoded from its low
    // word (exact: int + f < 63) and the pane sets the plaintext and the error beside it.
    let mut a = shipped("pond-int128.ron", false);
    shares_at(&mut a, "reveal to receiver", 0);
    let step = a.ctl.current_step().unwrap().clone();
    let alice = a
        .ctl
        .plan()
        .parties
        .iter()
        .position(|p| p == "alice")
        .unwrap();
    let opened = &step.parties[alice].opened[0];
    assert_eq!(opened.kind, protocols::context::RingKind::Z128);
    assert_eq!(opened.high.len(), opened.values.len());
    let all = shares_text(&a, 101);
    let at = |h: &str| {
        all.iter()
            .position(|l| l.trim_end() == h)
            .unwrap_or_else(|| panic!("{h:?} in {all:#?}"))
    };
    let (plain, error) = (at("  plaintext"), at("  error"));
    assert!(plain < error, "{all:#?}");
    // Every error of the 4×5 slice is below 10^-6: the low words decode to the plaintext.
    let errors: Vec<f64> = all[error + 2..error + 6]
        .iter()
        .flat_map(|l| l.split_whitespace().skip(1))
        .map(|e| e.trim_end_matches('!').parse::<f64>().unwrap())
        .collect();
    assert!(errors.len() >= 20, "{all:#?}");
    assert!(errors.iter().all(|e| e.abs() < 1e-6), "{errors:?}");
}

/// Training (docs/training.md, "Debugging"): `s` past the end of an iteration opens the next,
/// `c` runs on into later iterations to an `Op("itK/…")` breakpoint, `I` / `:iteration K`
/// jump, and the outline starts afresh in each iteration.
#[test]
fn the_debugger_steps_and_continues_from_one_training_iteration_into_the_next() {
    let mut a = common::small_training();
    assert_eq!(a.ctl.iteration().unwrap().index, 0);
    keys(&mut a, "G");
    assert_eq!(a.message, "end of iteration 0 · s or c opens iteration 1");
    keys(&mut a, "<Space>");
    keys(&mut a, "s");
    let at = a.ctl.iteration().unwrap();
    assert_eq!(at.index, 1);
    assert_eq!(a.ctl.position(), 0);
    assert!(
        a.message
            .starts_with("opened iteration 1 of 5 (epoch 1 of 1, batch 2 of 5)"),
        "{}",
        a.message
    );
    assert!(a.expanded.is_empty());
    // A later iteration's op: accepted (it exists there), and continue reaches it.
    keys(&mut a, ":break op it3/d.w<Enter>");
    assert_eq!(a.message, "breakpoint set: op it3/d.w");
    keys(&mut a, ":break op it9/d.w<Enter>");
    assert!(a.message.contains("iterations are 0..4"), "{}", a.message);
    keys(&mut a, "c");
    assert_eq!(a.ctl.iteration().unwrap().index, 3);
    assert!(
        a.message.contains("breakpoint: op it3/d.w"),
        "{}",
        a.message
    );
    let op = a.ctl.next_step().unwrap().op;
    assert_eq!(a.ctl.trace().ops[op].name, "it3/d.w");
    // I opens the command line for `iteration`.
    keys(&mut a, "I");
    assert_eq!(a.mode, Mode::Command("iteration ".into()));
    keys(&mut a, "1<Enter>");
    assert_eq!(a.ctl.iteration().unwrap().index, 1);
    assert!(
        a.message.starts_with("opened iteration 1 of 5"),
        "{}",
        a.message
    );
    keys(&mut a, ":it 5<Enter>");
    assert!(a.message.contains("does not exist"), "{}", a.message);
    assert_eq!(a.ctl.iteration().unwrap().index, 1);
    // The last iteration ends the run.
    keys(&mut a, ":clear<Enter>:it 4<Enter>Gs");
    assert_eq!(a.message, "end of the run (iteration 4, the last)");
    // Outside training, I says what it is for.
    let mut b = app();
    keys(&mut b, "I");
    assert_eq!(b.mode, Mode::Normal);
    assert!(b.message.contains("not a training run"), "{}", b.message);
}
