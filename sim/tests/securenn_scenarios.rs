//! SecureNN inside Pond programs: the shipped securenn scenarios run exactly, cost what
//! docs/securenn.md says, and the shortcut is wrong where it should be.

use sim::scenario::{self, Plan, ProtocolKind};
use sim::RunResult;
use std::path::Path;

fn load(name: &str) -> Plan {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../scenarios/{name}.ron"));
    scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn run(plan: &Plan) -> RunResult {
    sim::run(plan).unwrap_or_else(|e| panic!("{}: {e}", plan.scenario.name))
}

fn stats<'a>(r: &'a RunResult, name: &str) -> &'a sim::trace::OpStats {
    &r.trace
        .ops
        .iter()
        .find(|o| o.name == name)
        .unwrap_or_else(|| panic!("no op `{name}`"))
        .stats
}

#[test]
fn securenn_relu_is_exact_where_the_polynomial_is_not() {
    let exact = run(&load("mlp-securenn"));
    let poly = run(&load("mlp"));
    for relu in ["h1", "h2"] {
        let e = stats(&exact, relu).max_abs_error.unwrap();
        let p = stats(&poly, relu).max_abs_error.unwrap();
        // Only the matmul's one-ulp truncation error reaches the ReLU's output.
        assert!(e < 1e-3, "{relu}: securenn error {e}");
        assert!(p > 0.1, "{relu}: polynomial error {p}");
    }
    // 4 × 32 elements per ReLU layer: 15 messages, 440 bytes an element, 9 rounds online;
    // 3 offline messages, 88 bytes an element. The first ReLU also sets up the keys.
    let n = 4 * 32;
    let h1 = stats(&exact, "h1");
    assert_eq!((h1.messages, h1.bytes, h1.rounds), (15, 440 * n, 9));
    assert_eq!(
        (h1.offline_messages, h1.offline_bytes),
        (3 + 3, 88 * n + 96)
    );
    let h2 = stats(&exact, "h2");
    assert_eq!((h2.messages, h2.bytes, h2.rounds), (15, 440 * n, 9));
    assert_eq!((h2.offline_messages, h2.offline_bytes), (3, 88 * n));
}

#[test]
fn securenn_maxpool_and_relu_in_a_cnn_cost_the_documented_amounts() {
    let r = run(&load("cnn-securenn"));
    // conv output 2×4×6×6, 2×2 windows: m = 2·4·3·3 = 72 outputs, k = 4, two tree levels,
    // (k − 1)·m = 216 comparisons.
    let pool = stats(&r, "pool");
    assert_eq!(
        (pool.messages, pool.bytes, pool.rounds),
        (30, 440 * 216, 18)
    );
    assert_eq!(
        (pool.offline_messages, pool.offline_bytes),
        (6 + 3, 88 * 216 + 96)
    );
    assert!(pool.max_abs_error.unwrap() < 1e-3, "{pool:?}");
    let act = stats(&r, "act");
    assert_eq!((act.messages, act.bytes, act.rounds), (15, 440 * 72, 9));
    assert!(act.max_abs_error.unwrap() < 1e-3, "{act:?}");
    assert!(
        r.outputs[0].max_abs_error < 1e-2,
        "{}",
        r.outputs[0].max_abs_error
    );
}

#[test]
fn the_shortcut_gets_relu_of_minus_one_ulp_wrong_and_securenn_does_not() {
    let ulp = 2f64.powi(-16);
    let mut plan = load("securenn-shortcut");
    assert_eq!(plan.scenario.protocol, ProtocolKind::SecureNNShortcut);
    let short = run(&plan);
    let out = &short.outputs[0];
    assert_eq!(out.plaintext[0], 0.0);
    assert_eq!(out.values[0], -ulp, "relu(−1 ulp) passes −1 ulp through");
    for i in 1..8 {
        assert_eq!(out.values[i], out.plaintext[i], "element {i}");
    }
    let act = stats(&short, "act");
    assert_eq!((act.messages, act.bytes, act.rounds), (9, 216 * 8, 5));

    plan.scenario.protocol = ProtocolKind::SecureNN;
    let exact = run(&plan);
    assert_eq!(exact.outputs[0].values, exact.outputs[0].plaintext);
    let act = stats(&exact, "act");
    assert_eq!((act.messages, act.bytes, act.rounds), (15, 440 * 8, 9));
}
