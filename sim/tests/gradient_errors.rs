//! Validation of the gradient ops (issue 13 §2): a scenario using them validates under the
//! protocols that run them; the others refuse at the op with a located error naming a protocol
//! that has it; a gradient whose shape is not the forward op's output, or an operand that is not
//! defined, is located at the op (or the operand's field).

use sim::scenario::{load_source, Source};
use sim::ScenarioError;
use std::path::PathBuf;

const BASE: &str = r#"// Gradient ops.
Scenario(
    name: "grad-errors", protocol: SecureNN, truncation: Local,
    roles: (input_providers: ["alice"], output_receivers: ["alice"]),
    network: (default: (latency_us: 100, bandwidth_bps: 1_000_000_000)),
    seed: 1,
    inputs: [
        (name: "x", owner: "alice", shape: [1, 1, 4, 4], data: Random(Uniform(-1.0, 1.0))),
        (name: "w", owner: "alice", shape: [2, 1, 3, 3], data: Random(Uniform(-1.0, 1.0))),
        (name: "dy", owner: "alice", shape: [1, 2, 2, 2], data: Random(Uniform(-1.0, 1.0))),
        (name: "dp", owner: "alice", shape: [1, 1, 2, 2], data: Random(Uniform(-1.0, 1.0))),
    ],
    program: [
        (name: "dw", op: Conv2dGradFilters(input: "x", grad: "dy", kernel: 3)),
        (name: "dx", op: Conv2dGradInput(grad: "dy", filters: "w", input_shape: [1, 1, 4, 4])),
        (name: "da", op: AvgPool2dGrad(grad: "dp", input_shape: [1, 1, 4, 4], kernel: 2)),
        (name: "dm", op: MaxPool2dGrad(grad: "dp", input: "x", kernel: 2)),
    ],
    outputs: [(name: "dm", to: "alice")],
)
"#;

fn source(text: &str) -> Source {
    Source {
        name: "grad-errors.ron".into(),
        dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        text: text.into(),
    }
}

fn edit(from: &str, to: &str) -> String {
    assert_eq!(BASE.matches(from).count(), 1, "`{from}` must occur once");
    BASE.replace(from, to)
}

fn error_of(text: &str) -> ScenarioError {
    match load_source(&source(text)) {
        Ok(_) => panic!("expected an error, the scenario loaded:\n{text}"),
        Err(sim::SimError::Scenario(e)) => {
            assert!(e.line > 0 && e.col > 0, "unlocated error: {e}");
            e
        }
        Err(other) => panic!("expected a scenario error, got {other}"),
    }
}

#[test]
fn the_gradient_ops_validate_under_securenn_and_aby3_and_every_but_dmaxpool_under_pond() {
    load_source(&source(BASE)).expect("SecureNN runs all four");
    load_source(&source(&edit("protocol: SecureNN", "protocol: ABY3")))
        .expect("ABY3 runs all four (its DMaxPool)");
    {
        let p = "Pond";
        let text = edit("protocol: SecureNN", &format!("protocol: {p}"));
        let e = error_of(&text);
        assert_eq!((e.line, e.col), (17, 26), "{p}: {e}");
        assert!(e.message.starts_with("`dm`: "), "{p}: {e}");
        assert!(e.hint.contains("SecureNN"), "{p}: {e}");
        // Without the max pool's gradient the rest validates.
        let rest = text.replace(
            "        (name: \"dm\", op: MaxPool2dGrad(grad: \"dp\", input: \"x\", kernel: 2)),\n",
            "",
        );
        let rest = rest.replace(
            "(name: \"dm\", to: \"alice\")",
            "(name: \"dx\", to: \"alice\")",
        );
        load_source(&source(&rest)).unwrap_or_else(|e| panic!("{p}: {e}"));
    }
    let e = error_of(&edit("protocol: SecureNN", "protocol: Additive"));
    assert_eq!((e.line, e.col), (14, 26), "{e}");
    assert!(
        e.message.contains("Additive has no conv2d_grad_filters"),
        "{e}"
    );
    assert!(e.hint.contains("SecureNN"), "{e}");
}

#[test]
fn a_gradient_that_is_not_the_forward_output_shape_is_located_at_the_op() {
    let e = error_of(&edit("kernel: 3)),", "kernel: 2)),"));
    assert_eq!((e.line, e.col), (14, 26), "{e}");
    assert!(
        e.message
            .contains("the gradient is [1, 2, 2, 2] but the forward op's output is [1, 2, 3, 3]"),
        "{e}"
    );
    let e = error_of(&edit(
        "input_shape: [1, 1, 4, 4], kernel: 2",
        "input_shape: [1, 1, 4], kernel: 2",
    ));
    assert!(e.message.contains("4-D"), "{e}");
}

#[test]
fn an_undefined_operand_is_located_at_its_field() {
    let e = error_of(&edit(
        "grad: \"dp\", input: \"x\"",
        "grad: \"dp\", input: \"xx\"",
    ));
    assert_eq!(e.line, 17, "{e}");
    // The caret sits on the value of the `input` field (operand 1), not on `grad`'s.
    assert!(e.line_text[e.col - 1..].starts_with("\"xx\""), "{e}");
    assert!(e.line_text[..e.col - 1].ends_with("input: "), "{e}");
}

/// Training's kept max pool and its gradient, as a scenario writes them: they validate under
/// SecureNN and ABY3; Pond refuses the kept pool at its statement (no exact comparison) but runs
/// the routing by a kept one-hot it is given.
#[test]
fn the_kept_max_pool_ops_validate_where_they_run() {
    let kept = BASE
        .replace(
            r#"        (name: "dm", op: MaxPool2dGrad(grad: "dp", input: "x", kernel: 2)),"#,
            r#"        (name: "kp", op: MaxPool2dWithOneHot(input: "x", kernel: 2)),
        (name: "dm", op: MaxPool2dGradOneHot(grad: "dp", pooled: "kp", input_shape: [1, 1, 4, 4], kernel: 2)),"#,
        );
    for p in ["SecureNN", "ABY3"] {
        let text = kept.replace("protocol: SecureNN", &format!("protocol: {p}"));
        load_source(&source(&text)).unwrap_or_else(|e| panic!("{p}: {e}"));
    }
    let e = error_of(&kept.replace("protocol: SecureNN", "protocol: Pond"));
    assert_eq!(e.line, 17, "{e}");
    assert!(e.message.starts_with("`kp`: "), "{e}");
    assert!(e.hint.contains("SecureNN"), "{e}");
    // A kept pool of the wrong shape is located at the gradient op.
    let bad = kept.replace(
        r#"pooled: "kp", input_shape: [1, 1, 4, 4]"#,
        r#"pooled: "kp", input_shape: [1, 1, 6, 6]"#,
    );
    let e = error_of(&bad);
    assert_eq!(e.line, 18, "{e}");
    assert!(e.message.contains("kept pool"), "{e}");
}
