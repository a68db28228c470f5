//! The `:` line's editing (issue 9, item 7): history, Tab completion, cursor movement and the
//! Ctrl keys, driven through the app's update function; and how the line is drawn.

mod common;

use common::{app, keys};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use sim::control::Breakpoint;
use tui::app::{App, Mode};

fn press(a: &mut App, code: KeyCode) {
    a.handle_key(KeyEvent::new(code, KeyModifiers::NONE));
}

fn ctrl(a: &mut App, c: char) {
    a.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL));
}

fn line(a: &App) -> String {
    match &a.mode {
        Mode::Command(t) => t.clone(),
        other => panic!("not on the command line: {other:?}"),
    }
}

#[test]
fn up_and_down_walk_the_sessions_history_without_repeats() {
    let mut a = app();
    keys(&mut a, ":tol 0.5<Enter>:tol 0.5<Enter>:seed 3<Enter>:");
    assert_eq!(
        a.line.history,
        ["tol 0.5", "seed 3"],
        "a repeat is kept once"
    );
    keys(&mut a, "go");
    press(&mut a, KeyCode::Up);
    assert_eq!(line(&a), "seed 3");
    press(&mut a, KeyCode::Up);
    assert_eq!(line(&a), "tol 0.5");
    press(&mut a, KeyCode::Up);
    assert_eq!(line(&a), "tol 0.5", "the oldest entry stays");
    press(&mut a, KeyCode::Down);
    assert_eq!(line(&a), "seed 3");
    press(&mut a, KeyCode::Down);
    assert_eq!(line(&a), "go", "past the newest: the line being typed");
    // A recalled line runs like a typed one, and the cursor is at its end.
    press(&mut a, KeyCode::Up);
    press(&mut a, KeyCode::Up);
    keys(&mut a, "1<Enter>");
    assert_eq!(a.tolerance, 0.51);
    assert_eq!(a.line.history.last().unwrap(), "tol 0.51");
}

#[test]
fn the_cursor_moves_and_edits_in_the_middle_of_the_line() {
    let mut a = app();
    keys(&mut a, ":tol 5");
    press(&mut a, KeyCode::Left);
    keys(&mut a, "0.");
    assert_eq!(line(&a), "tol 0.5");
    press(&mut a, KeyCode::Home);
    keys(&mut a, "x");
    assert_eq!(line(&a), "xtol 0.5");
    press(&mut a, KeyCode::Left);
    press(&mut a, KeyCode::Delete);
    assert_eq!(line(&a), "tol 0.5");
    press(&mut a, KeyCode::End);
    press(&mut a, KeyCode::Left);
    press(&mut a, KeyCode::Backspace);
    assert_eq!(line(&a), "tol 05", "Backspace deletes before the cursor");
    press(&mut a, KeyCode::Right);
    press(&mut a, KeyCode::Right); // at the end already: stays
    keys(&mut a, "<BS>.25");
    assert_eq!(line(&a), "tol 0.25");
    keys(&mut a, "<Enter>");
    assert_eq!(a.tolerance, 0.25);
    assert_eq!(a.mode, Mode::Normal);
}

#[test]
fn ctrl_keys_move_and_kill_instead_of_inserting_letters() {
    let mut a = app();
    keys(&mut a, ":break op z");
    ctrl(&mut a, 'w');
    assert_eq!(line(&a), "break op ");
    ctrl(&mut a, 'w');
    assert_eq!(line(&a), "break ", "spaces, then the word before them");
    ctrl(&mut a, 'u');
    assert_eq!(line(&a), "");
    keys(&mut a, "abc");
    ctrl(&mut a, 'a');
    keys(&mut a, "x");
    ctrl(&mut a, 'e');
    keys(&mut a, "y");
    assert_eq!(line(&a), "xabcy");
    ctrl(&mut a, 'a');
    press(&mut a, KeyCode::Right);
    ctrl(&mut a, 'k');
    assert_eq!(line(&a), "x", "Ctrl-K kills to the end");
    keys(&mut a, "yz");
    ctrl(&mut a, 'b');
    ctrl(&mut a, 'u');
    assert_eq!(
        line(&a),
        "z",
        "Ctrl-U kills to the start, keeping what follows"
    );
    // Other chords are not text.
    ctrl(&mut a, 'x');
    assert_eq!(line(&a), "z");
    // Multi-byte text is edited by characters.
    ctrl(&mut a, 'e');
    ctrl(&mut a, 'u');
    keys(&mut a, "break step π·c");
    press(&mut a, KeyCode::Left);
    press(&mut a, KeyCode::Backspace);
    assert_eq!(line(&a), "break step πc");
    // Backspace on an empty line closes it, as before.
    ctrl(&mut a, 'e');
    ctrl(&mut a, 'u');
    keys(&mut a, "<BS>");
    assert_eq!(a.mode, Mode::Normal);
}

#[test]
fn tab_completes_commands_keywords_ops_kinds_and_parties() {
    let mut a = app();
    keys(&mut a, ":br<Tab>");
    assert_eq!(line(&a), "break ");
    keys(&mut a, "k<Tab>");
    assert_eq!(line(&a), "break kind ");
    keys(&mut a, "m<Tab>");
    assert_eq!(line(&a), "break kind mul ");
    keys(&mut a, "<Enter>");
    assert_eq!(a.ctl.breakpoints(), &[Breakpoint::Kind("mul".into())]);
    keys(&mut a, ":break op <Tab>");
    assert_eq!(line(&a), "break op ", "several ops: nothing to add");
    assert_eq!(
        a.line.note,
        "5 candidates: input x  input y  output w  w  z"
    );
    keys(&mut a, "z<Tab><Enter>");
    assert!(a.ctl.breakpoints().contains(&Breakpoint::Op("z".into())));
    // The common prefix, with the candidates listed.
    keys(&mut a, ":break party s<Tab>");
    assert_eq!(line(&a), "break party server");
    assert_eq!(a.line.note, "2 candidates: server0  server1");
    keys(&mut a, "1<Tab>");
    assert_eq!(line(&a), "break party server1 ");
    assert!(a.line.note.is_empty());
    keys(&mut a, "<Esc>:e<Tab>");
    assert_eq!(line(&a), "e");
    assert_eq!(a.line.note, "2 candidates: edit  export");
    keys(&mut a, "x<Tab>c<Tab>");
    assert_eq!(line(&a), "export chrome ");
    keys(&mut a, "<Esc>:link a<Tab>");
    assert_eq!(line(&a), "link alice ");
    keys(&mut a, "c<Tab>lat<Tab>");
    assert_eq!(line(&a), "link alice carol latency=");
    keys(&mut a, "<Esc>:nosuch<Tab>");
    assert_eq!(a.line.note, "no completion for `nosuch`");
    // Completion works at the cursor, leaving what follows it.
    keys(&mut a, "<Esc>:to 0.5<Left><Left><Left><Left>");
    keys(&mut a, "<Tab>");
    assert_eq!(line(&a), "tol  0.5");
    keys(&mut a, "<Enter>");
    assert_eq!(a.tolerance, 0.5);
}

#[test]
fn tab_completes_recorded_step_names_with_their_spaces() {
    let mut a = app();
    keys(&mut a, "#4s");
    let names: Vec<String> = a.ctl.trace().steps.iter().map(|s| s.name.clone()).collect();
    let target = names
        .iter()
        .find(|n| n.contains(' '))
        .expect("a step name with a space")
        .clone();
    let (head, _) = target.split_once(' ').unwrap();
    keys(&mut a, &format!(":break step {head} "));
    keys(&mut a, "<Tab>");
    let got = line(&a);
    assert!(
        got == format!("break step {target} ") || a.line.note.contains(&target),
        "{got:?} / {}",
        a.line.note
    );
}

#[test]
fn colon_in_the_breakpoint_list_accepts_the_whole_command_after_its_prefill() {
    let mut a = app();
    keys(&mut a, "B:");
    assert_eq!(line(&a), "break ");
    // Typing the whole command after the pre-filled `break ` used to fail ("unknown
    // breakpoint kind `break`").
    keys(&mut a, "break bytes 100<Enter>");
    assert_eq!(a.ctl.breakpoints(), &[Breakpoint::Bytes(100)]);
    assert_eq!(a.message, "breakpoint set: bytes > 100");
    // And the short form after the prefill still works.
    keys(&mut a, "B:hazard<Enter>");
    assert_eq!(
        a.ctl.breakpoints(),
        &[Breakpoint::Bytes(100), Breakpoint::Hazard]
    );
    // The cursor of a pre-filled line is at its end.
    keys(&mut a, "B<Enter>");
    keys(&mut a, "0");
    assert_eq!(line(&a), "edit 1 bytes 1000");
}

#[test]
fn the_line_is_drawn_with_its_cursor_and_the_candidates_under_it() {
    let mut a = app();
    keys(&mut a, ":break party s<Tab>");
    let (rows, _) = draw(&mut a);
    let cmd = rows
        .iter()
        .position(|r| r.starts_with(":break party server"))
        .expect("the command line is drawn");
    assert!(
        rows[23].starts_with("2 candidates: server0  server1"),
        "{}",
        rows.join("\n")
    );
    // The next key clears the list; the cursor cell (the last `e` of `server`) is reversed.
    keys(&mut a, "<Left><Left>");
    let (rows, b) = draw(&mut a);
    assert!(rows[23].starts_with("Enter run"), "{}", rows[23]);
    let col = ":break party serv".chars().count() as u16;
    let cell = &b[(col, cmd as u16)];
    assert_eq!(cell.symbol(), "e");
    assert!(!b[(col - 1, cmd as u16)]
        .modifier
        .contains(ratatui::style::Modifier::REVERSED));
    assert!(cell.modifier.contains(ratatui::style::Modifier::REVERSED));
}

fn draw(a: &mut App) -> (Vec<String>, ratatui::buffer::Buffer) {
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    a.size = ratatui::layout::Rect::new(0, 0, 80, 24);
    let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
    term.draw(|f| tui::draw::draw(f, a)).unwrap();
    let b = term.backend().buffer().clone();
    let rows = (0..24)
        .map(|y| (0..80).map(|x| b[(x, y)].symbol().to_string()).collect())
        .collect();
    (rows, b)
}
