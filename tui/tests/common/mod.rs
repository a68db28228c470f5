//! Shared by the debugger's tests: a deterministic scenario and a key-sequence driver.

#![allow(dead_code)]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use sim::control::Controller;
use sim::scenario::{load_source, Plan, Source};
use tui::app::App;
use tui::theme::Theme;

/// Beaver multiplication plus a local add, with modelled compute time (deterministic clocks).
pub const SCENARIO: &str = r#"Scenario(
    name: "debugger-test",
    fixed_point: (frac_bits: 16, int_bits: 11, weak_security: true),
    truncation: Dealer,
    roles: (input_providers: ["alice", "bob"], output_receivers: ["carol"]),
    timing: Model(ns_per_ring_op: 1.0),
    seed: 42,
    inputs: [
        (name: "x", owner: "alice", shape: [4], data: Values([1.5, -2.25, 3.0, 0.1])),
        (name: "y", owner: "bob", shape: [4], data: Values([2.0, 4.0, -1.5, 10.0])),
    ],
    program: [
        (name: "z", op: Mul("x", "y")),
        (name: "w", op: Add("z", "x")),
    ],
    outputs: [(name: "w", to: "carol")],
)"#;

/// A plan from scenario text.
pub fn plan(text: &str) -> Plan {
    load_source(&Source {
        name: "test".into(),
        dir: ".".into(),
        text: text.into(),
    })
    .expect("test scenario is valid")
}

/// A debugger on `text`, in colour or not.
pub fn app_with(text: &str, color: bool) -> App {
    App::new(Controller::new(plan(text)), Theme { color })
}

/// A debugger on the test scenario.
pub fn app() -> App {
    app_with(SCENARIO, true)
}

/// A debugger on the shipped scenario `scenarios/{file}`, in colour or not.
pub fn shipped(file: &str, color: bool) -> App {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(file);
    let plan = sim::scenario::load(&path).expect("shipped scenario is valid");
    App::new(Controller::new(plan), Theme { color })
}

/// Feeds keys: plain characters, or `<Enter>`, `<Esc>`, `<Tab>`, `<BackTab>`, `<Up>`, `<Down>`,
/// `<Space>`, `<BS>`, `<Left>`, `<Right>`, `<PgUp>`, `<PgDn>`, `<C-c>`.
pub fn keys(app: &mut App, seq: &str) {
    let mut rest = seq;
    while let Some(c) = rest.chars().next() {
        if c == '<' {
            if let Some(end) = rest.find('>') {
                let name = &rest[1..end];
                rest = &rest[end + 1..];
                let (code, mods) = match name {
                    "Enter" => (KeyCode::Enter, KeyModifiers::NONE),
                    "Esc" => (KeyCode::Esc, KeyModifiers::NONE),
                    "Tab" => (KeyCode::Tab, KeyModifiers::NONE),
                    "BackTab" => (KeyCode::BackTab, KeyModifiers::SHIFT),
                    "Up" => (KeyCode::Up, KeyModifiers::NONE),
                    "Down" => (KeyCode::Down, KeyModifiers::NONE),
                    "Space" => (KeyCode::Char(' '), KeyModifiers::NONE),
                    "Left" => (KeyCode::Left, KeyModifiers::NONE),
                    "Right" => (KeyCode::Right, KeyModifiers::NONE),
                    "PgUp" => (KeyCode::PageUp, KeyModifiers::NONE),
                    "PgDn" => (KeyCode::PageDown, KeyModifiers::NONE),
                    "BS" => (KeyCode::Backspace, KeyModifiers::NONE),
                    "C-c" => (KeyCode::Char('c'), KeyModifiers::CONTROL),
                    other => panic!("unknown key <{other}>"),
                };
                app.handle_key(KeyEvent::new(code, mods));
                continue;
            }
        }
        rest = &rest[c.len_utf8()..];
        let mods = if c.is_ascii_uppercase() {
            KeyModifiers::SHIFT
        } else {
            KeyModifiers::NONE
        };
        app.handle_key(KeyEvent::new(KeyCode::Char(c), mods));
    }
}

/// `scenarios/train-digits-logreg.ron` made small (one epoch of five batches of 256), with its
/// data files named by absolute paths (so the text works from any directory).
pub fn small_training_text() -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let text = std::fs::read_to_string(dir.join("train-digits-logreg.ron")).unwrap();
    let data = format!("Npy(\"{}/data/", dir.display());
    text.replace("epochs: 2", "epochs: 1")
        .replace("batch_size: 32", "batch_size: 256")
        .replace("Npy(\"data/", &data)
}

/// A debugger on [`small_training_text`].
pub fn small_training() -> App {
    App::new(
        Controller::new(plan(&small_training_text())),
        Theme { color: false },
    )
}
