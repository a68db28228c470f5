//! The scenario's `protocol:` names any registered protocol (issue 10): the existing spellings
//! stay valid, an unknown name is a located error listing the registry, and `roles: (seats: …)`
//! names a protocol's other seats.

use sim::scenario::{load_source, ProtocolKind, Source};
use std::path::PathBuf;

fn scenario(protocol: &str, roles: &str) -> String {
    format!(
        r#"Scenario(
    name: "choice",
    protocol: {protocol},
    fixed_point: (frac_bits: 16, int_bits: 11, weak_security: true),
    roles: ({roles}input_providers: ["alice"], output_receivers: ["carol"]),
    seed: 1,
    inputs: [(name: "x", owner: "alice", shape: [3], data: Values([1.5, -2.0, 0.25]))],
    // An op every registered protocol runs (ABY3 has no exact ReLU until its boolean part).
    program: [(name: "r", op: Square("x"))],
    outputs: [(name: "r", to: "carol")],
)"#
    )
}

fn load(text: &str) -> Result<sim::scenario::Plan, sim::ScenarioError> {
    load_source(&Source {
        name: "choice.ron".into(),
        dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        text: text.into(),
    })
    .map_err(|e| match e {
        sim::SimError::Scenario(e) => e,
        other => panic!("expected a scenario error, got {other}"),
    })
}

#[test]
fn every_registered_name_is_a_valid_protocol() {
    for p in protocols::protocol::registry() {
        // The program is one ReLU, or a negation for a protocol without one (Additive).
        let mut text = scenario(p.name(), "");
        if p.supports(&protocols::program::Op::Relu("x".into()))
            .is_err()
        {
            text = text.replace(r#"op: Relu("x")"#, r#"op: Neg("x")"#);
        }
        let plan = load(&text).unwrap_or_else(|e| panic!("{}: {e}", p.name()));
        assert_eq!(
            plan.scenario.protocol,
            ProtocolKind::named(p.name()).unwrap()
        );
        assert_eq!(plan.protocol().name(), p.name());
        assert_eq!(plan.seats.len(), p.roles().len());
    }
    // The spellings scenarios have always used.
    for name in [
        "Pond",
        "SecureNN",
        "SecureNNShortcut",
        "SecureNNAsPublished",
    ] {
        assert!(load(&scenario(name, "")).is_ok(), "{name}");
    }
}

#[test]
fn an_unknown_protocol_is_located_and_the_registry_is_listed() {
    let e = load(&scenario("Spdz", "")).unwrap_err();
    assert_eq!((e.line, e.col), (3, 15), "{e}");
    assert_eq!(e.message, "unknown protocol `Spdz`");
    for p in protocols::protocol::registry() {
        assert!(e.hint.contains(p.name()), "{}: {}", p.name(), e.hint);
    }
}

#[test]
fn the_protocol_is_written_back_under_its_name() {
    let plan = load(&scenario("SecureNNShortcut", "")).unwrap();
    let json = serde_json::to_string(&plan.scenario.protocol).unwrap();
    assert_eq!(json, "\"SecureNNShortcut\"");
    let ron = ron::to_string(&plan.scenario).unwrap();
    assert!(ron.contains("protocol:SecureNNShortcut"), "{ron}");
}

#[test]
fn seats_names_a_seat_and_refuses_a_seat_the_protocol_lacks() {
    // Pond's seats are server0, server1 and producer: all named by their own fields.
    let e = load(&scenario("Pond", r#"seats: {"server2": "dave"}, "#)).unwrap_err();
    assert_eq!(e.message, "Pond has no seat `server2`", "{e}");
    assert!(e.hint.contains("server0, server1, producer"), "{}", e.hint);
    let e = load(&scenario("Pond", r#"seats: {"producer": "dave"}, "#)).unwrap_err();
    assert_eq!(
        e.message, "seat `producer` is named by its own field",
        "{e}"
    );
    // The fields still name Pond's seats.
    let plan = load(&scenario("Pond", r#"producer: "dealer", "#)).unwrap();
    assert_eq!(plan.parties[plan.seats[2]], "dealer");
}

#[test]
fn compare_takes_names_from_the_registry() {
    let e = sim::compare::parse_protocols("pond,spdz").unwrap_err();
    for p in protocols::protocol::registry() {
        assert!(e.contains(&p.short_name()), "{e}");
    }
    assert_eq!(
        sim::compare::parse_protocols("Pond,SecureNNAsPublished,securenn-shortcut").unwrap(),
        ["Pond", "SecureNNAsPublished", "SecureNNShortcut"]
            .map(|n| ProtocolKind::named(n).unwrap())
            .to_vec()
    );
}

#[test]
fn the_piecewise_sigmoid_is_abys_and_refused_elsewhere_with_a_located_error() {
    let with = |protocol: &str| {
        scenario(protocol, "")
            .replace("    seed: 1,", "    sigmoid: Piecewise,\n    seed: 1,")
            .replace("Square(\"x\")", "Sigmoid(\"x\")")
    };
    let plan = load(&with("ABY3")).expect("ABY3 runs the piecewise sigmoid");
    let run = sim::run(&plan).expect("it runs");
    let got = &run.outputs[0].values;
    // tf-encrypted's pieces at 1.5, −2 and 0.25, to within the truncation's ulp.
    for (g, x) in got.iter().zip([1.5f64, -2.0, 0.25]) {
        let want = protocols::aby3::nonlinear::sigmoid_piecewise_f64(x);
        assert!((g - want).abs() < 1e-4, "{g} vs {want} at {x}");
    }
    for protocol in ["Pond", "SecureNN"] {
        let err = load(&with(protocol)).expect_err("refused").to_string();
        assert!(
            err.contains("choice.ron:") && err.contains("no Piecewise sigmoid"),
            "{protocol}: {err}"
        );
    }
}

/// `fixed_point.ring_bits`: 64 (the default) or 128; anything else is refused at the field, and
/// a protocol that runs over Z_2^64 only refuses 128 at the field with what to do instead.
#[test]
fn ring_bits_is_64_or_128_and_protocols_without_z2_128_refuse_it_at_the_field() {
    let with = |protocol: &str, fixed: &str| {
        scenario(protocol, "").replace(
            "fixed_point: (frac_bits: 16, int_bits: 11, weak_security: true),",
            &format!("fixed_point: {fixed},"),
        )
    };
    let high = "(\n        ring_bits: 128, frac_bits: 32, int_bits: 20)";
    // Line 4 of the scenario holds `fixed_point`; `ring_bits` is on the line after.
    let err = load(&with(
        "Pond",
        "(\n        ring_bits: 96, frac_bits: 16, int_bits: 11)",
    ))
    .expect_err("96 bits refused")
    .to_string();
    assert!(
        err.contains("choice.ron:5:") && err.contains("ring_bits = 96 is not a ring"),
        "{err}"
    );
    let plan = load(&with("Pond", high)).expect("Pond runs over Z_2^128");
    let run = sim::run(&plan).expect("it runs");
    for (g, x) in run.outputs[0].values.iter().zip([1.5f64, -2.0, 0.25]) {
        assert!((g - x * x).abs() < 1e-9, "{g} vs {}", x * x);
    }
    // ABY3's arithmetic part runs over Z_2^128 too; its boolean part is refused at the op.
    let plan = load(&with("ABY3", high)).expect("ABY3 runs its arithmetic over Z_2^128");
    let run = sim::run(&plan).expect("it runs");
    for (g, x) in run.outputs[0].values.iter().zip([1.5f64, -2.0, 0.25]) {
        assert!((g - x * x).abs() < 1e-9, "{g} vs {}", x * x);
    }
    // ReLU needs ABY3's boolean part (64-bit words): refused at the op (line 10 of the
    // scenario with `fixed_point` on two lines), saying what to do.
    let relu = with("ABY3", high).replace("op: Square(\"x\")", "op: Relu(\"x\")");
    let err = load(&relu).expect_err("ReLU refused at 128").to_string();
    assert!(
        err.contains("choice.ron:10:")
            && err.contains("ABY3's relu needs its boolean part")
            && err.contains("use ring_bits: 64"),
        "{err}"
    );
    // So is the piecewise sigmoid, a setting: at `ring_bits`.
    let piecewise = with("ABY3", high).replace("seed: 1,", "seed: 1, sigmoid: Piecewise,");
    let err = load(&piecewise)
        .expect_err("piecewise refused at 128")
        .to_string();
    assert!(
        err.contains("choice.ron:5:")
            && err.contains("piecewise sigmoid")
            && err.contains("Polynomial"),
        "{err}"
    );
    for protocol in ["SecureNN", "Additive"] {
        let err = load(&with(protocol, high))
            .expect_err("refused")
            .to_string();
        assert!(
            err.contains("choice.ron:5:")
                && err.contains("runs over Z_2^64 only, not ring_bits: 128")
                && err.contains("use ring_bits: 64"),
            "{protocol}: {err}"
        );
    }
    // The headroom rules are the 128-bit ring's: int + 2f + gap + 1 ≤ 128.
    let tight = "(ring_bits: 128, frac_bits: 40, int_bits: 22, gap_bits: 30)";
    let err = load(&with("Pond", tight)).expect_err("no gap").to_string();
    assert!(err.contains("= 133 exceeds 128"), "{err}");
}
