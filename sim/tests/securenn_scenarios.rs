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
    assert_eq!(
        plan.scenario.protocol,
        ProtocolKind::named("SecureNNShortcut").unwrap()
    );
    let short = run(&plan);
    let out = &short.outputs[0];
    assert_eq!(out.plaintext[0], 0.0);
    assert_eq!(out.values[0], -ulp, "relu(−1 ulp) passes −1 ulp through");
    for i in 1..8 {
        assert_eq!(out.values[i], out.plaintext[i], "element {i}");
    }
    let act = stats(&short, "act");
    assert_eq!((act.messages, act.bytes, act.rounds), (9, 216 * 8, 5));

    plan.scenario.protocol = ProtocolKind::named("SecureNN").unwrap();
    let exact = run(&plan);
    assert_eq!(exact.outputs[0].values, exact.outputs[0].plaintext);
    let act = stats(&exact, "act");
    assert_eq!((act.messages, act.bytes, act.rounds), (15, 440 * 8, 9));
}

/// A program that takes the argmax of `x` (shape [m, k], `owner` "alice" or "public").
fn argmax_text(m: usize, k: usize, values: &[f64], owner: &str, protocol: &str) -> String {
    let vals: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    format!(
        r#"Scenario(
    name: "argmax",
    protocol: {protocol},
    roles: (input_providers: ["alice"], output_receivers: ["carol"]),
    timing: Model(ns_per_ring_op: 1.0),
    seed: {m}{k},
    inputs: [(name: "x", owner: "{owner}", shape: [{m}, {k}], data: Values([{}]))],
    program: [(name: "i", op: Argmax("x"))],
    outputs: [(name: "i", to: "carol")],
)"#,
        vals.join(", ")
    )
}

fn load_text(text: String) -> Result<Plan, sim::SimError> {
    scenario::load_source(&scenario::Source {
        name: "argmax.ron".into(),
        dir: ".".into(),
        text,
    })
}

fn argmax_program(m: usize, k: usize, values: &[f64], owner: &str) -> Plan {
    load_text(argmax_text(m, k, values, owner, "SecureNN")).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn argmax_op_reveals_the_index_of_the_first_maximum_private_or_public() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
    for case in 0..12 {
        let (m, k) = (rng.gen_range(1..5usize), rng.gen_range(1..12usize));
        // Few distinct values (ties are common), negative ones too, in fixed point.
        let values: Vec<f64> = (0..m * k)
            .map(|_| rng.gen_range(-3i32..4) as f64 * 0.25)
            .collect();
        let want: Vec<f64> = values
            .chunks(k)
            .map(|row| {
                let best = row.iter().cloned().fold(f64::MIN, f64::max);
                row.iter().position(|v| *v == best).unwrap() as f64
            })
            .collect();
        for owner in ["alice", "public"] {
            let r = run(&argmax_program(m, k, &values, owner));
            let out = &r.outputs[0];
            assert_eq!(out.shape, vec![m], "case {case} ({owner})");
            assert_eq!(out.values, want, "case {case} ({owner}): {values:?}");
            assert_eq!(out.plaintext, want, "case {case} ({owner})");
            let s = stats(&r, "i");
            if owner == "public" {
                // Computed in the clear by every party that knows x: nothing travels.
                assert_eq!(
                    (s.messages, s.bytes, s.offline_bytes),
                    (0, 0, 0),
                    "case {case}"
                );
                continue;
            }
            // ⌈log₂ k⌉ tree levels over (k − 1)·m comparisons (docs/securenn.md), plus the key
            // setup (3 offline messages, 96 B) at this first SecureNN op.
            let levels = (usize::BITS - (k - 1).leading_zeros()) as u64;
            let comps = ((k - 1) * m) as u64;
            assert_eq!(
                (s.messages, s.bytes, s.rounds),
                (15 * levels, 472 * comps, 9 * levels as u32),
                "case {case}: m {m} k {k}"
            );
            assert_eq!(
                (s.offline_messages, s.offline_bytes),
                (3 + 3 * levels, 96 + 96 * comps),
                "case {case}: m {m} k {k}"
            );
        }
    }
}

#[test]
fn argmax_needs_securenn() {
    let text = argmax_text(1, 3, &[1.0, 2.0, 0.5], "alice", "Pond");
    let e = load_text(text).expect_err("Pond has no exact comparison");
    let shown = e.to_string();
    assert!(shown.contains("argmax.ron:8:"), "{shown}");
    assert!(
        shown.contains("Pond has no exact comparison for argmax"),
        "{shown}"
    );
    assert!(shown.contains("protocol: SecureNN"), "{shown}");
}

/// `securenn-as-published.ron` with 1000 ReLU inputs uniform in [−1000, 1000) under `protocol`,
/// every value recorded.
fn thousand_relu_inputs(protocol: &str) -> Plan {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/securenn-as-published.ron");
    let mut source = scenario::Source::from_file(&path).unwrap();
    let text = &source.text;
    let start = text.find("(name: \"x\"").unwrap();
    let end = start + text[start..].find("])),").unwrap() + 4;
    source.text = format!(
        "{}(name: \"x\", owner: \"alice\", shape: [1000], data: Random(Uniform(-1000.0, 1000.0))),{}",
        &text[..start],
        &text[end..]
    )
    .replace("max_values: 1024", "max_values: 64000")
    .replace("protocol: SecureNNAsPublished", &format!("protocol: {protocol}"));
    scenario::load_source(&source).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_helper_recovers_the_relu_inputs_from_its_recorded_view_only_as_published() {
    let plan = thousand_relu_inputs("SecureNNAsPublished");
    let r = run(&plan);
    let found = sim::attack::recover(&r.trace, 2, [0, 1]);
    assert_eq!(found.len(), 1, "one DReLU");
    let d = &found[0];
    assert_eq!(d.truth.len(), 1000);
    // The truth (from the servers' opened r) is the ReLU's input, as the shadow has it.
    let act = r.trace.ops.iter().find(|o| o.name == "input x").unwrap();
    let scale = (1u64 << plan.scenario.fixed_point.frac_bits) as f64;
    for (t, p) in d.truth.iter().zip(&act.reconstructed) {
        assert!((*t as i64 as f64 / scale - p).abs() < 1e-9, "{t} vs {p}");
    }
    let recovered = d.recovered();
    eprintln!("as published: {recovered} of 1000 recovered uniquely");
    assert!(recovered >= 990, "recovered {recovered} of 1000");
    // The report says so.
    let text = sim::report::text_report(&r);
    assert!(
        text.contains("WARNING: INSECURE variant securenn-as-published"),
        "{text}"
    );
    assert!(text.contains(&format!(
        "{recovered} of 1000 DReLU inputs recovered exactly"
    )));

    let fixed = run(&thousand_relu_inputs("SecureNN"));
    let found = sim::attack::recover(&fixed.trace, 2, [0, 1]);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].truth.len(), 1000);
    let hits = found[0]
        .truth
        .iter()
        .zip(&found[0].candidates)
        .filter(|(t, c)| c.contains(t))
        .count();
    assert_eq!(hits, 0, "the fixed PrivateCompare gives nothing away");
    assert!(!sim::report::text_report(&fixed).contains("WARNING"));
}
