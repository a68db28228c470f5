//! `sim::leak`: the leak checker catches the known leaks — tf-encrypted's SecureNN shortcut,
//! PrivateCompare as published, dealer truncation with too few gap bits, a planted reused Beaver
//! mask — and finds no evidence in Pond and the fixed SecureNN on the shipped scenarios small
//! enough for a test. Few runs each (the leaks show with p-values far below α at 20–30 runs).
//!
//! The MNIST-sized scenarios (digits-*, mnist-network-*) are left to a manual run
//! (`sharescope leak scenarios/digits-mlp-securenn.ron --runs 30`, about half a minute on two
//! cores): each of their runs takes tens of milliseconds to seconds, too slow for dozens of runs
//! in a test.

use sim::leak::{self, Alternative, LeakReport, Options, PartyReport};
use sim::scenario::{self, Plan, ProtocolKind};
use std::path::{Path, PathBuf};

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn load(name: &str) -> Plan {
    scenario::load(&scenarios_dir().join(format!("{name}.ron"))).unwrap_or_else(|e| panic!("{e}"))
}

fn party<'a>(r: &'a LeakReport, name: &str) -> &'a PartyReport {
    r.parties
        .iter()
        .find(|p| p.party == name)
        .unwrap_or_else(|| panic!("no party {name}"))
}

/// A ReLU on 8 of alice's values under `protocol`, revealed to alice.
fn small_relu(protocol: ProtocolKind) -> Plan {
    let text = format!(
        r#"Scenario(
    name: "small-relu",
    protocol: {protocol:?},
    roles: (input_providers: ["alice"], output_receivers: ["alice"]),
    timing: Model(ns_per_ring_op: 1.0),
    seed: 21,
    inputs: [(name: "x", owner: "alice", shape: [8],
              data: Values([1.5, -0.25, 3.0, -3.0, 0.75, -1.125, 2.5, -0.5]))],
    program: [(name: "r", op: Relu("x"))],
    outputs: [(name: "r", to: "alice")],
)"#
    );
    let source = scenario::Source {
        name: "small-relu".into(),
        dir: scenarios_dir(),
        text,
    };
    scenario::load_source(&source).unwrap_or_else(|e| panic!("{e}"))
}

/// The strongest finding of `party`, printed for the record.
fn strongest<'a>(r: &'a LeakReport, who: &str) -> &'a leak::Finding {
    let p = party(r, who);
    assert!(p.leak, "{who} should leak:\n{}", r.text());
    let f = &p.findings[0];
    eprintln!(
        "{}: {who}: p = {:.2e} (uncorrected {:.2e}) — op `{}` step {}: {}",
        r.scenario, f.p, f.p_raw, f.op_name, f.step, f.feature
    );
    f
}

#[test]
fn the_securenn_shortcut_leaks_to_the_helper() {
    let r = leak::assert_leak(&load("securenn-shortcut"), 20);
    let f = strongest(&r, "producer");
    assert_eq!(f.op_name, "act");
    assert!(f.p < 1e-6, "{}", r.text());
    assert!(r.insecurity.is_some());
}

#[test]
fn private_compare_as_published_leaks_only_through_the_helpers_search() {
    let r = leak::assert_leak(
        &small_relu(ProtocolKind::named("SecureNNAsPublished").unwrap()),
        20,
    );
    let f = strongest(&r, "producer");
    assert!(f.p < 1e-6, "{}", r.text());
    // Every feature that leaks is the probe's: the messages themselves, element by element and
    // pair by pair, look the same whatever the input.
    for f in &party(&r, "producer").findings {
        assert!(
            matches!(
                f.detail.as_ref().map(|d| &d.subject),
                Some(leak::features::Subject::Probe)
            ),
            "not the probe: {}",
            f.feature
        );
    }
    assert!(!party(&r, "server0").leak && !party(&r, "server1").leak);
}

#[test]
fn dealer_truncation_with_three_gap_bits_leaks_the_product_to_the_servers() {
    // int_bits 20, frac_bits 20, gap_bits 3: z + 2^k + r hides z only up to 2^−3.
    let plan = load("truncation-dealer");
    assert_eq!(plan.scenario.fixed_point.gap_bits, 3);
    let r = leak::assert_leak(&plan, 20);
    for who in ["server0", "server1"] {
        let f = strongest(&r, who);
        assert!(f.p < 1e-6, "{}", r.text());
        assert_eq!(f.step_name, "open z + r");
        assert!(f.feature.contains("top 4 bits"), "{}", f.feature);
    }
    assert!(!party(&r, "producer").leak);
}

#[test]
fn a_planted_reused_mask_leaks_the_difference_of_the_operands() {
    let plan = load("planted-mask-reuse");
    // The flaw leaves the product right: only privacy is broken.
    let run = sim::run(&plan).unwrap();
    assert!(run.outputs[0].max_abs_error < 1e-3, "{:?}", run.outputs);
    let r = leak::assert_leak(&plan, 20);
    assert_eq!(r.planted.len(), 1);
    for who in ["server0", "server1"] {
        let f = strongest(&r, who);
        assert!(f.p < 1e-6, "{}", r.text());
        assert_eq!(f.op_name, "z");
        assert!(
            f.feature.starts_with("difference of opened"),
            "{}",
            f.feature
        );
    }
    // Without the flaw the same scenario shows nothing.
    let mut clean = plan.clone();
    clean.scenario.faults.clear();
    leak::assert_no_leak(&clean, 20);
}

#[test]
fn shipped_pond_and_securenn_scenarios_show_no_leak() {
    for name in [
        "beaver-multiplication",
        "share-and-reveal",
        "private-matmul",
        "truncation-local-fails",
        "logistic-regression",
        "mlp",
        "cnn-avgpool",
        "mlp-securenn",
        "cnn-securenn",
    ] {
        let r = leak::assert_no_leak(&load(name), 20);
        let tested: usize = r.parties.iter().map(|p| p.features).sum();
        assert!(tested > 0, "{name}: nothing tested");
    }
}

#[test]
fn fixed_securenn_relu_and_maxpool_show_no_leak() {
    let r = leak::assert_no_leak(&small_relu(ProtocolKind::named("SecureNN").unwrap()), 20);
    // The helper's search ran, and found nothing either way.
    assert!(party(&r, "producer").features > 0);
    let text = r#"Scenario(
    name: "small-maxpool",
    protocol: SecureNN,
    roles: (input_providers: ["alice"], output_receivers: ["bob"]),
    timing: Model(ns_per_ring_op: 1.0),
    seed: 22,
    inputs: [(name: "x", owner: "alice", shape: [1, 2, 4, 4], data: Random(Normal(0.0, 2.0)))],
    program: [(name: "m", op: MaxPool2d(input: "x", kernel: 2)), (name: "r", op: Relu("m"))],
    outputs: [(name: "r", to: "bob")],
)"#;
    let source = scenario::Source {
        name: "small-maxpool".into(),
        dir: scenarios_dir(),
        text: text.into(),
    };
    let plan = scenario::load_source(&source).unwrap();
    let r = leak::assert_no_leak(&plan, 20);
    let helper = party(&r, "producer");
    assert!(helper.ops.iter().any(|o| o.name == "m" && o.features > 0));
}

#[test]
fn the_check_is_deterministic_and_a_party_learns_its_output_legitimately() {
    let plan = load("beaver-multiplication");
    let opts = Options {
        workers: 2,
        ..Options::new(10)
    };
    let a = leak::check(&plan, &opts).unwrap();
    let b = leak::check(&plan, &Options { workers: 1, ..opts }).unwrap();
    assert_eq!(a, b);
    // carol's only view is her output: left out, reported.
    let carol = party(&a, "carol");
    assert_eq!(carol.features, 0);
    assert_eq!(carol.excluded.len(), 1);
    assert_eq!(carol.excluded[0].name, "output z");
    // alice keeps x; only bob's y changes for her.
    assert_eq!(party(&a, "alice").changed, vec!["y".to_string()]);
}

#[test]
fn one_party_alternatives_and_their_errors() {
    let plan = load("planted-mask-reuse");
    let s0 = leak::party_index(&plan, "server0").unwrap();
    // The same scenario with other values, as an alternative file.
    let text = std::fs::read_to_string(scenarios_dir().join("planted-mask-reuse.ron"))
        .unwrap()
        .replace(
            "Random(Uniform(-4.0, 4.0))",
            "Values([0, 0, 0, 0, 1, 1, 1, 1])",
        );
    let alt_path =
        std::env::temp_dir().join(format!("sharescope-leak-alt-{}.ron", std::process::id()));
    std::fs::write(&alt_path, text).unwrap();
    let from_file = Alternative::from_file(&plan, &alt_path);
    let _ = std::fs::remove_file(&alt_path);
    for alt in [Alternative::Redraw, from_file.unwrap()] {
        let r = leak::check(
            &plan,
            &Options {
                party: Some(s0),
                alternative: alt,
                ..Options::new(20)
            },
        )
        .unwrap();
        assert_eq!(r.parties.len(), 1);
        assert!(r.leak, "{}", r.text());
    }
    // A party that does not exist, with a hint.
    let e = leak::party_index(&plan, "server3").unwrap_err().to_string();
    assert!(e.contains("did you mean `server0`"), "{e}");
    assert!(
        e.contains("server0, server1, producer, alice, bob, carol"),
        "{e}"
    );
    // An alternative whose shapes differ: located in the alternative's file.
    let e = Alternative::from_file(&plan, &scenarios_dir().join("private-matmul.ron"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("private-matmul.ron:"), "{e}");
    assert!(e.contains("no input `x`"), "{e}");
    let e = Alternative::from_file(&plan, &scenarios_dir().join("truncation-dealer.ron"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("has shape [32, 32] here but [8]"), "{e}");
    // Too few runs.
    let e = leak::check(&plan, &Options::new(1))
        .unwrap_err()
        .to_string();
    assert!(e.contains("--runs"), "{e}");
    // A scenario whose runs fail is the user's error, reported as the run's.
    let e = leak::check(&load("fault-server-panics"), &Options::new(2)).unwrap_err();
    assert!(
        e.is_user_error() && e.to_string().contains("injected fault"),
        "{e}"
    );
}
