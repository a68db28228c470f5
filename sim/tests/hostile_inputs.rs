//! Hostile scenario input (issue 8): numbers that overflow sizes, hostile `.npy` headers, special
//! files, memory the run would need and clock values that do not fit. Each is refused with a
//! located error (file:line:col, what is wrong, what to do) — never a panic, an abort or a hang.

use sim::scenario::{load_source, Source};
use sim::ScenarioError;
use std::path::PathBuf;

/// A small valid scenario; each test replaces one piece of it.
const BASE: &str = r#"Scenario(
    name: "hostile", truncation: Local,
    roles: (input_providers: ["alice"], output_receivers: ["bob"]),
    seed: 1,
    inputs: [
        (name: "x", owner: "alice", shape: [1, 1, 2, 2], data: Values([1.0, 2.0, 3.0, 4.0])),
        (name: "w", owner: "alice", shape: [1, 1, 1, 1], data: Values([0.5])),
    ],
    program: [
        (name: "y", op: Conv2d(input: "x", filters: "w")),
    ],
    outputs: [(name: "y", to: "bob")],
)
"#;

fn source(text: &str) -> Source {
    Source {
        name: "hostile.ron".into(),
        dir: std::env::temp_dir(),
        text: text.into(),
    }
}

/// `BASE` with `from` (which must occur exactly once) replaced by `to`.
fn edit(from: &str, to: &str) -> String {
    assert_eq!(BASE.matches(from).count(), 1, "`{from}` must occur once");
    BASE.replace(from, to)
}

/// The scenario error `text` gives; it must be located on a line of `text`.
fn error_of(text: &str) -> ScenarioError {
    let e = match load_source(&source(text)) {
        Ok(_) => panic!("expected an error, the scenario loaded:\n{text}"),
        Err(sim::SimError::Scenario(e)) => e,
        Err(other) => panic!("expected a scenario error, got {other}"),
    };
    assert_eq!(e.file, "hostile.ron");
    assert!(e.line > 0 && e.col > 0, "unlocated error: {e}");
    assert_eq!(e.line_text, text.lines().nth(e.line - 1).unwrap_or(""));
    assert!(!e.hint.is_empty(), "{e}");
    e
}

/// The text under the reported column.
fn pointed(e: &ScenarioError) -> String {
    e.line_text.chars().skip(e.col - 1).collect()
}

#[test]
fn the_base_scenario_is_valid() {
    load_source(&source(BASE)).unwrap_or_else(|e| panic!("{e}"));
}

// ---- Finding 3: shape products overflow usize ----

#[test]
fn a_reshape_whose_element_count_overflows_is_refused_at_the_op() {
    // 3 · 12297829382473034411 = 2 · 2^64 + 1: a wrapping product says 1 element, as `w` has.
    let e = error_of(&edit(
        r#"(name: "y", op: Conv2d(input: "x", filters: "w")),"#,
        r#"(name: "y", op: Reshape(input: "w", shape: [3, 12297829382473034411])),"#,
    ));
    assert!(e.message.contains("cannot reshape"), "{e}");
    assert!(e.message.contains("more than"), "{e}");
    assert!(pointed(&e).starts_with("Reshape("), "{e}");
}

#[test]
fn a_conv2d_padding_whose_output_overflows_is_refused_at_the_op() {
    let e = error_of(&edit(
        r#"Conv2d(input: "x", filters: "w")"#,
        r#"Conv2d(input: "x", filters: "w", padding: 2147483647)"#,
    ));
    assert!(e.message.starts_with("`y`: "), "{e}");
    assert!(e.message.contains("more than"), "{e}");
    assert!(pointed(&e).starts_with("Conv2d("), "{e}");
    // A padding that fits the element count but not the limit is refused by the limit.
    let e = error_of(&edit(
        r#"Conv2d(input: "x", filters: "w")"#,
        r#"Conv2d(input: "x", filters: "w", padding: 100000)"#,
    ));
    assert!(e.message.contains("more than 16777216 elements"), "{e}");
}

#[test]
fn a_huge_input_shape_is_refused_not_wrapped() {
    let e = error_of(&edit(
        "shape: [1, 1, 1, 1]",
        "shape: [4294967296, 4294967296, 1, 1]",
    ));
    assert!(e.message.contains("more than 16777216 elements"), "{e}");
}
