//! Memory: validation allocates no input data, and (issue 8, finding 5) the plan's estimate of a
//! run's peak memory bounds what the run allocates. This binary counts every allocation with its
//! own global allocator, so its tests run one at a time (a lock) and never in parallel with each
//! other's measurements.

use sim::scenario::{load_source, Source};
use std::path::PathBuf;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Mutex;

#[path = "support/counting.rs"]
mod counting;
use counting::{IN_USE, PEAK};

/// One measurement at a time.
static LOCK: Mutex<()> = Mutex::new(());

/// What `f` returns and the most heap it had in use at once beyond what was in use before.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = IN_USE.load(SeqCst);
    PEAK.store(base, SeqCst);
    let out = f();
    (out, PEAK.load(SeqCst).saturating_sub(base))
}

fn source(text: &str) -> Source {
    Source {
        name: "memory.ron".into(),
        dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        text: text.into(),
    }
}

#[test]
fn validation_does_not_generate_random_inputs() {
    let _one = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    // Two inputs of 2^22 random elements: 64 MiB of f64 if validation drew them.
    let text = r#"Scenario(
        name: "big-random", seed: 3,
        roles: (input_providers: ["alice"]),
        inputs: [
            (name: "a", owner: "alice", shape: [4194304], data: Random(Uniform(-1.0, 1.0))),
            (name: "b", owner: "alice", shape: [2048, 2048], data: Random(Normal(0.0, 1.0))),
        ],
        program: [],
    )"#;
    let (plan, peak) = peak_of(|| load_source(&source(text)).unwrap_or_else(|e| panic!("{e}")));
    assert!(peak < 1 << 20, "validation allocated {peak} bytes");
    // The data is drawn when asked for, the same every time.
    let a = plan.inputs[0].values().unwrap();
    assert_eq!(a.len(), 4_194_304);
    assert_eq!(a, plan.inputs[0].values().unwrap());
    assert!(a.iter().all(|v| (-1.0..1.0).contains(v)));
}

/// A scenario with `inputs` (name, owner, shape; seeded uniform data), `program` and one output,
/// under `protocol` and `truncation`, keeping `max_values` elements per recorded value.
fn scenario(
    protocol: &str,
    truncation: &str,
    max_values: usize,
    inputs: &[(&str, &str, &[usize])],
    program: &[(&str, &str)],
    output: &str,
) -> String {
    let inputs: Vec<String> = inputs
        .iter()
        .map(|(n, o, s)| {
            format!(
                "(name: \"{n}\", owner: \"{o}\", shape: {s:?}, data: Random(Uniform(-1.0, 1.0)))"
            )
        })
        .collect();
    let program: Vec<String> = program
        .iter()
        .map(|(n, op)| format!("(name: \"{n}\", op: {op})"))
        .collect();
    format!(
        r#"Scenario(name: "m", protocol: {protocol}, truncation: {truncation},
        fixed_point: (frac_bits: 16, int_bits: 11, weak_security: true),
        roles: (input_providers: ["alice", "bob"], output_receivers: ["carol"]),
        timing: Model(ns_per_ring_op: 1.0), trace: (max_values: {max_values}), seed: 1,
        inputs: [{}], program: [{}], outputs: [(name: "{output}", to: "carol")])"#,
        inputs.join(", "),
        program.join(", ")
    )
}

/// For every op kind (and both truncations, public operands, a large `trace.max_values`), the
/// modelled heap bounds what a headless run and the debugger (run to the end) allocate at once,
/// and is not uselessly far above it.
#[test]
fn the_estimate_bounds_the_heap_of_every_op_kind() {
    let _one = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let n = 1usize << 14;
    let v: &[usize] = &[n];
    let pair = |x: &'static str, y: &'static str| [("x", x, v), ("y", y, v)];
    let mut cases: Vec<(&str, String)> = vec![
        (
            "input, output",
            scenario("Pond", "Dealer", 256, &[("x", "alice", v)], &[], "x"),
        ),
        (
            "add",
            scenario(
                "Pond",
                "Dealer",
                256,
                &pair("alice", "bob"),
                &[("z", r#"Add("x", "y")"#)],
                "z",
            ),
        ),
        (
            "mul",
            scenario(
                "Pond",
                "Dealer",
                256,
                &pair("alice", "bob"),
                &[("z", r#"Mul("x", "y")"#)],
                "z",
            ),
        ),
        (
            "mul, local truncation",
            scenario(
                "Pond",
                "Local",
                256,
                &pair("alice", "bob"),
                &[("z", r#"Mul("x", "y")"#)],
                "z",
            ),
        ),
        (
            "mul by a public value",
            scenario(
                "Pond",
                "Dealer",
                256,
                &pair("alice", "public"),
                &[("z", r#"Mul("x", "y")"#)],
                "z",
            ),
        ),
        (
            "public only",
            scenario(
                "Pond",
                "Dealer",
                256,
                &pair("public", "public"),
                &[("a", r#"Mul("x", "y")"#), ("b", r#"Sigmoid("a")"#)],
                "b",
            ),
        ),
        (
            "square, reveal",
            scenario(
                "Pond",
                "Dealer",
                256,
                &[("x", "alice", v)],
                &[("a", r#"Square("x")"#), ("b", r#"Reveal("a")"#)],
                "b",
            ),
        ),
        (
            "sigmoid",
            scenario(
                "Pond",
                "Dealer",
                256,
                &[("x", "alice", v)],
                &[("z", r#"Sigmoid("x")"#)],
                "z",
            ),
        ),
        (
            "polynomial relu",
            scenario(
                "Pond",
                "Dealer",
                256,
                &[("x", "alice", v)],
                &[("z", r#"Relu("x")"#)],
                "z",
            ),
        ),
        (
            "mul, whole trace",
            scenario(
                "Pond",
                "Dealer",
                usize::MAX,
                &pair("alice", "bob"),
                &[("z", r#"Mul("x", "y")"#)],
                "z",
            ),
        ),
        (
            "securenn relu",
            scenario(
                "SecureNN",
                "Dealer",
                256,
                &[("x", "alice", v)],
                &[("z", r#"Relu("x")"#)],
                "z",
            ),
        ),
        (
            "securenn relu, whole trace",
            scenario(
                "SecureNN",
                "Dealer",
                usize::MAX,
                &[("x", "alice", v)],
                &[("z", r#"Relu("x")"#)],
                "z",
            ),
        ),
        (
            "shortcut relu",
            scenario(
                "SecureNNShortcut",
                "Dealer",
                256,
                &[("x", "alice", v)],
                &[("z", r#"Relu("x")"#)],
                "z",
            ),
        ),
        (
            "local ops",
            scenario(
                "Pond",
                "Dealer",
                256,
                &[("x", "alice", &[32, 512])],
                &[
                    ("a", r#"Neg("x")"#),
                    ("b", r#"Transpose("a")"#),
                    ("c", r#"Reshape(input: "b", shape: [256, 64])"#),
                    ("d", r#"ReduceSum(input: "c", axis: Some(0))"#),
                ],
                "d",
            ),
        ),
    ];
    let xs: &[usize] = &[2, 4, 16, 16];
    let ws: &[usize] = &[8, 4, 5, 5];
    let conv = r#"Conv2d(input: "x", filters: "w", padding: 2)"#;
    cases.push((
        "conv2d",
        scenario(
            "Pond",
            "Dealer",
            256,
            &[("x", "alice", xs), ("w", "bob", ws)],
            &[("z", conv)],
            "z",
        ),
    ));
    cases.push((
        "conv2d by public filters",
        scenario(
            "Pond",
            "Dealer",
            256,
            &[("x", "alice", xs), ("w", "public", ws)],
            &[("z", conv)],
            "z",
        ),
    ));
    cases.push((
        "matmul",
        scenario(
            "Pond",
            "Dealer",
            256,
            &[("x", "alice", &[64, 128]), ("y", "bob", &[128, 64])],
            &[("z", r#"MatMul("x", "y")"#)],
            "z",
        ),
    ));
    let img: &[usize] = &[2, 4, 32, 32];
    for (name, protocol, op) in [
        ("avgpool2d", "Pond", r#"AvgPool2d(input: "x", kernel: 2)"#),
        (
            "maxpool2d",
            "SecureNN",
            r#"MaxPool2d(input: "x", kernel: 2)"#,
        ),
    ] {
        cases.push((
            name,
            scenario(
                protocol,
                "Dealer",
                256,
                &[("x", "alice", img)],
                &[("z", op)],
                "z",
            ),
        ));
    }
    cases.push((
        "argmax",
        scenario(
            "SecureNN",
            "Dealer",
            256,
            &[("x", "alice", &[2048, 8])],
            &[("z", r#"Argmax("x")"#)],
            "z",
        ),
    ));
    // ABY3: two shares per server, products with resharing, both truncations.
    let m: &[usize] = &[64, 128];
    let mt: &[usize] = &[128, 64];
    for (name, truncation, inputs, program, out) in [
        (
            "aby3 input, output",
            "Dealer",
            vec![("x", "alice", v)],
            vec![],
            "x",
        ),
        (
            "aby3 mul",
            "Dealer",
            pair("alice", "bob").to_vec(),
            vec![("z", r#"Mul("x", "y")"#)],
            "z",
        ),
        (
            "aby3 mul, Π_trunc1",
            "Local",
            pair("alice", "bob").to_vec(),
            vec![("z", r#"Mul("x", "y")"#)],
            "z",
        ),
        (
            "aby3 mul by a public value",
            "Dealer",
            pair("alice", "public").to_vec(),
            vec![("z", r#"Mul("x", "y")"#)],
            "z",
        ),
        (
            "aby3 square, reveal",
            "Dealer",
            vec![("x", "alice", v)],
            vec![("a", r#"Square("x")"#), ("b", r#"Reveal("a")"#)],
            "b",
        ),
        (
            "aby3 matmul",
            "Dealer",
            vec![("x", "alice", m), ("y", "bob", mt)],
            vec![("z", r#"MatMul("x", "y")"#)],
            "z",
        ),
        (
            "aby3 sigmoid",
            "Dealer",
            vec![("x", "alice", v)],
            vec![("z", r#"Sigmoid("x")"#)],
            "z",
        ),
        (
            "aby3 avgpool2d",
            "Local",
            vec![("x", "alice", img)],
            vec![("z", r#"AvgPool2d(input: "x", kernel: 2)"#)],
            "z",
        ),
    ] {
        cases.push((
            name,
            scenario("ABY3", truncation, 256, &inputs, &program, out),
        ));
    }
    for (name, truncation, program) in [
        ("aby3 mul, whole trace", "Dealer", r#"Mul("x", "y")"#),
        (
            "aby3 mul, Π_trunc1, whole trace",
            "Local",
            r#"Mul("x", "y")"#,
        ),
        ("aby3 sigmoid, whole trace", "Dealer", r#"Sigmoid("x")"#),
    ] {
        cases.push((
            name,
            scenario(
                "ABY3",
                truncation,
                usize::MAX,
                &pair("alice", "bob"),
                &[("z", program)],
                "z",
            ),
        ));
    }
    for (name, text) in cases {
        let plan = load_source(&source(&text)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let est = sim::memory::estimate(&plan);
        assert_eq!(est.peak, plan.memory);
        let (r, run) = peak_of(|| sim::run(&plan).unwrap_or_else(|e| panic!("{name}: {e}")));
        drop(r);
        let (c, debugger) = peak_of(|| {
            let mut c = sim::control::Controller::new(plan.clone());
            c.last();
            c
        });
        assert!(
            matches!(c.state(), sim::control::RunState::Finished),
            "{name}: {:?}",
            c.state()
        );
        drop(c);
        let measured = run.max(debugger);
        assert!(
            measured <= est.heap as usize,
            "{name}: the run allocated {measured} bytes at once, the estimate says {}",
            est.heap
        );
        assert!(
            est.heap as usize <= 10 * measured,
            "{name}: estimate {} is far above the {measured} bytes allocated",
            est.heap
        );
    }
}

/// Issue 8, finding 5: 200 random inputs of 2^24 elements aborted `check`, which drew all 25 GiB
/// of them. Now validation draws nothing and refuses the plan at the input that takes the
/// estimate past the budget.
#[test]
fn two_hundred_huge_random_inputs_are_refused_without_being_drawn() {
    let _one = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let inputs: Vec<String> = (0..200)
        .map(|i| {
            format!(
                "        (name: \"x{i}\", owner: \"alice\", shape: [16777216], data: Random(Uniform(0.0, 1.0))),\n"
            )
        })
        .collect();
    let text = format!(
        "Scenario(\n    name: \"big\", seed: 1,\n    roles: (input_providers: [\"alice\"]),\n    inputs: [\n{}    ],\n    program: [],\n)\n",
        inputs.concat()
    );
    let budget = sim::memory::MemoryBudget::given(16 << 30);
    let (r, peak) =
        peak_of(|| sim::scenario::load_source_with_budget(&source(&text), budget).map(|_| ()));
    assert!(peak < 4 << 20, "validation allocated {peak} bytes");
    let Err(sim::SimError::Scenario(e)) = r else {
        panic!("expected a scenario error, got {r:?}")
    };
    assert!(
        e.message.starts_with("the run would need an estimated "),
        "{e}"
    );
    assert!(e.message.contains("16.0 GiB (--memory-limit)"), "{e}");
    // 16 GiB hold a few of the inputs: the error points at the first one too many.
    let k: usize = e.message["the run would need an estimated ".len()..]
        .split("by input `x")
        .nth(1)
        .and_then(|r| r.split('`').next())
        .and_then(|k| k.parse().ok())
        .unwrap_or_else(|| panic!("{e}"));
    assert!((1..100).contains(&k), "{e}");
    assert_eq!(e.line, 5 + k, "{e}");
    assert!(e.line_text.contains(&format!("\"x{k}\"")), "{e}");
    assert!(e.hint.contains("--memory-limit"), "{e}");
}

/// Issue 11 (W1's peak memory): a private × private product of n values, revealed — W1 of
/// `sharescope bench` at n = 2^18 — allocates at most 17 · 8n bytes at once over the whole
/// run (inputs, shadow, every party, the result). Before session 21 it took 22.1–26.1 · 8n
/// (12.1–15.1 after): each server held its mask shares ⟨a⟩ᵢ, ⟨b⟩ᵢ and the masked inputs as
/// whole tensors beside its operands' shares and both open messages, the producer a, b, c,
/// ⟨c⟩₁'s message and the truncation pair, and the main thread a copy of the inputs and every
/// shadow value for the whole run. Now the mask shares are PRG streams, a dying operand's share
/// becomes its masked value in place and its opened value the product's buffer, the producer
/// streams its triple and truncation pair into their messages, and the shadow shares the
/// inputs' arrays and drops each value after its last use.
#[test]
fn a_w1_product_allocates_at_most_seventeen_values_at_once() {
    let _one = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let n = 1usize << 18;
    let v: &[usize] = &[n];
    let text = scenario(
        "Pond",
        "Dealer",
        256,
        &[("a", "alice", v), ("b", "bob", v)],
        &[("c", r#"Mul("a", "b")"#)],
        "c",
    );
    let plan = load_source(&source(&text)).unwrap_or_else(|e| panic!("{e}"));
    let (r, peak) = peak_of(|| sim::run(&plan).unwrap_or_else(|e| panic!("{e}")));
    assert!(r.outputs[0].max_abs_error < 1e-3);
    drop(r);
    let value = 8 * n;
    eprintln!(
        "W1 at n = {n}: {peak} bytes at once, {:.1} values",
        peak as f64 / value as f64
    );
    assert!(
        peak <= 17 * value,
        "the product allocated {peak} bytes at once, {:.1} values of {value} bytes",
        peak as f64 / value as f64
    );
}
