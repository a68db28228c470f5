//! ABY3 in the simulator outside its kernels (issue 10 §2): validation asks the protocol for its
//! truncation's limits and statistical security (Π_trunc2: σ = 61 − k, refused beyond k = 60),
//! the plaintext shadow for its approximations and truncation hazards, and `check`'s table says
//! "key setup" without naming another protocol.

use protocols::fixed::Hazard;
use sim::scenario::{load_source, Source};
use std::path::PathBuf;

fn source(text: &str) -> Source {
    Source {
        name: "aby3.ron".into(),
        dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        text: text.into(),
    }
}

/// An ABY3 scenario: `x` (alice's, `values`) times itself, then `program`, with `settings`
/// (e.g. `fixed_point: …, truncation: …,`) spliced in.
fn scenario(settings: &str, values: &str, program: &str, output: &str) -> String {
    format!(
        r#"Scenario(
    name: "aby3", protocol: ABY3,
    {settings}
    roles: (input_providers: ["alice"], output_receivers: ["carol"]),
    seed: 1,
    inputs: [(name: "x", owner: "alice", shape: [4], data: Values({values}))],
    program: [{program}],
    outputs: [(name: "{output}", to: "carol")],
)"#
    )
}

const SQUARE: &str = r#"(name: "z", op: Square("x"))"#;

fn error_of(text: &str) -> sim::ScenarioError {
    match load_source(&source(text)) {
        Err(sim::SimError::Scenario(e)) => e,
        Err(e) => panic!("expected a scenario error, got {e}"),
        Ok(_) => panic!("expected a scenario error, got a plan"),
    }
}

#[test]
fn trunc2_below_40_bits_is_refused_with_abys_own_sigma() {
    let e = error_of(&scenario(
        "fixed_point: (frac_bits: 16, int_bits: 11),",
        "[1.0, 2.0, 3.0, 4.0]",
        SQUARE,
        "z",
    ));
    assert_eq!(
        e.message,
        "ABY3's Π_trunc2 with int_bits 11, frac_bits 16 has 18 bits of statistical security (an \
         opened value leaks with advantage up to 2^-18 per element), below the minimum of 40"
    );
    assert_eq!((e.line, e.col), (3, 18), "{e}");
    assert_eq!(
        e.hint,
        "`z` truncates with Π_trunc2; lower int_bits and frac_bits so that int_bits + \
         2·frac_bits ≤ 21 (e.g. frac_bits: 8, int_bits: 5), or, for teaching, set \
         `weak_security: true` in fixed_point"
    );
    // What the hint proposes is accepted, with no warning; k = 23 (Pond's limit) is not.
    let ok = scenario(
        "fixed_point: (frac_bits: 8, int_bits: 5),",
        "[1.0, 2.0, 3.0, 4.0]",
        SQUARE,
        "z",
    );
    let plan = load_source(&source(&ok)).unwrap_or_else(|e| panic!("{e}"));
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    let e = error_of(&scenario(
        "fixed_point: (frac_bits: 8, int_bits: 7),",
        "[1.0, 2.0, 3.0, 4.0]",
        SQUARE,
        "z",
    ));
    assert!(e.message.contains("has 38 bits"), "{e}");
}

#[test]
fn trunc2_with_weak_security_warns_with_its_sigma_and_trunc1_needs_no_opt_in() {
    let text = scenario(
        "fixed_point: (frac_bits: 16, int_bits: 11, weak_security: true),",
        "[1.0, 2.0, 3.0, 4.0]",
        SQUARE,
        "z",
    );
    let plan = load_source(&source(&text)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.warnings.len(), 1);
    assert!(
        plan.warnings[0].starts_with("ABY3's Π_trunc2 with int_bits 11, frac_bits 16 has 18 bits"),
        "{}",
        plan.warnings[0]
    );
    let local = scenario(
        "fixed_point: (frac_bits: 16, int_bits: 11), truncation: Local,",
        "[1.0, 2.0, 3.0, 4.0]",
        SQUARE,
        "z",
    );
    let plan = load_source(&source(&local)).unwrap_or_else(|e| panic!("{e}"));
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
}

#[test]
fn trunc2_beyond_60_product_bits_is_refused_even_with_weak_security() {
    // k = 29 + 2·16 = 61: Pond's dealer truncation would still run (σ = 2), Π_trunc2 cannot.
    let fp = "fixed_point: (frac_bits: 16, int_bits: 29, gap_bits: 2, weak_security: true),";
    let e = error_of(&scenario(fp, "[1.0, 2.0, 3.0, 4.0]", SQUARE, "z"));
    assert!(
        e.message
            .starts_with("ABY3's Π_trunc2 needs int_bits + 2·frac_bits ≤ 60")
            && e.message.ends_with("got 61 (`z` truncates)"),
        "{e}"
    );
    assert!(e.hint.contains("truncation: Local"), "{}", e.hint);
    assert_eq!((e.line, e.col), (3, 18), "{e}");
    // The same encoding under Π_trunc1 is accepted.
    let local = fp.replace("),", "), truncation: Local,");
    assert!(load_source(&source(&scenario(
        &local,
        "[1.0, 2.0, 3.0, 4.0]",
        SQUARE,
        "z"
    )))
    .is_ok());
    // A program that never truncates is not refused.
    let linear = r#"(name: "z", op: Add("x", "x"))"#;
    assert!(load_source(&source(&scenario(fp, "[1.0, 2.0, 3.0, 4.0]", linear, "z"))).is_ok());
}

fn hazards_of(text: &str, op: &str) -> Vec<Hazard> {
    let plan = load_source(&source(text)).unwrap_or_else(|e| panic!("{e}"));
    let r = sim::run(&plan).unwrap_or_else(|e| panic!("{e}"));
    r.trace
        .ops
        .iter()
        .find(|o| o.name == op)
        .unwrap_or_else(|| panic!("no op {op}"))
        .hazards
        .clone()
}

#[test]
fn the_shadow_flags_abys_sigmoid_outside_its_range() {
    let fp = "fixed_point: (frac_bits: 16, int_bits: 11, weak_security: true),";
    let sig = r#"(name: "s", op: Sigmoid("x"))"#;
    let h = hazards_of(&scenario(fp, "[1.0, -2.0, 30.0, 0.5]", sig, "s"), "s");
    assert!(
        h.iter()
            .any(|h| matches!(h, Hazard::ApproximationRange { max_abs, .. } if *max_abs == 30.0)),
        "{h:?}"
    );
    let h = hazards_of(&scenario(fp, "[1.0, -1.0, 0.25, 0.5]", sig, "s"), "s");
    assert!(h.is_empty(), "{h:?}");
}

#[test]
fn the_shadow_flags_abys_truncation_hazards() {
    // Π_trunc1 on products near the bound: failures become likely (|z|/2^64 per element).
    let fp = "fixed_point: (frac_bits: 20, int_bits: 20, gap_bits: 3), truncation: Local,";
    let h = hazards_of(
        &scenario(fp, "[900.0, -900.0, 900.0, 900.0]", SQUARE, "z"),
        "z",
    );
    assert!(
        h.iter()
            .any(|h| matches!(h, Hazard::LocalTruncationFailure { elements: 4, .. })),
        "{h:?}"
    );
    // Π_trunc2 beyond its headroom (|z| ≥ 2^k).
    let fp = "fixed_point: (frac_bits: 8, int_bits: 5),";
    let h = hazards_of(&scenario(fp, "[20.0, 1.0, 1.0, 1.0]", SQUARE, "z"), "z");
    assert!(
        h.iter()
            .any(|h| matches!(h, Hazard::TruncationHeadroom { .. })),
        "{h:?}"
    );
}

#[test]
fn check_says_key_setup_without_naming_another_protocol() {
    let fp = "fixed_point: (frac_bits: 16, int_bits: 11, weak_security: true),";
    let plan = load_source(&source(&scenario(fp, "[1.0, 2.0, 3.0, 4.0]", SQUARE, "z"))).unwrap();
    let table = sim::estimate::estimate(&plan).table();
    let line = table
        .lines()
        .find(|l| l.starts_with("z "))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(line.ends_with("(incl. key setup)"), "{table}");
    assert!(!table.contains("SecureNN"), "{table}");
}
