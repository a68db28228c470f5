//! Every step carries its call path — the sub-protocols it runs in — and every party walks the
//! same one (issue 9 item 8).

use sim::scenario::{load_source, Plan, Source};
use sim::trace::{StepRecord, Trace};

/// A SecureNN ReLU and a MaxPool (a comparison tree of two levels) on a few elements.
const SCENARIO: &str = r#"Scenario(
    name: "paths",
    protocol: SecureNN,
    fixed_point: (frac_bits: 16, int_bits: 11, weak_security: true),
    truncation: Dealer,
    roles: (input_providers: ["alice"], output_receivers: ["carol"]),
    timing: Model(ns_per_ring_op: 1.0),
    seed: 11,
    inputs: [
        (name: "x", owner: "alice", shape: [1, 1, 2, 2], data: Values([1.5, -2.0, 0.25, -0.5])),
    ],
    program: [
        (name: "r", op: Relu("x")),
        (name: "m", op: MaxPool2d(input: "r", kernel: 2)),
    ],
    outputs: [(name: "m", to: "carol")],
)"#;

fn plan(text: &str) -> Plan {
    load_source(&Source {
        name: "test".into(),
        dir: ".".into(),
        text: text.into(),
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

fn trace() -> Trace {
    sim::run(&plan(SCENARIO))
        .unwrap_or_else(|e| panic!("{e}"))
        .trace
}

fn step<'a>(t: &'a Trace, prefix: &str) -> &'a StepRecord {
    t.steps
        .iter()
        .find(|s| s.name.starts_with(prefix))
        .unwrap_or_else(|| panic!("no step `{prefix}…`"))
}

#[test]
fn steps_record_the_sub_protocols_they_run_in() {
    let t = trace();
    let path = |prefix: &str| step(&t, prefix).path.join(" › ");
    assert_eq!(path("SecureNN key setup"), "");
    assert_eq!(path("DReLU 1:"), "ReLU › DReLU");
    assert_eq!(path("ShareConvert 1–2"), "ReLU › DReLU › ShareConvert");
    // The first PrivateCompare is ShareConvert's, the second ComputeMSB's.
    assert_eq!(
        path("PrivateCompare 1–13"),
        "ReLU › DReLU › ShareConvert › PrivateCompare"
    );
    assert_eq!(path("ComputeMSB 2–3"), "ReLU › DReLU › ComputeMSB");
    assert_eq!(path("SelectShare 1"), "ReLU › SelectShare");
    assert_eq!(path("MaxPool: gather"), "MaxPool");
    assert_eq!(path("MaxPool tree level 1"), "MaxPool › level 1");
    let second_pc = t
        .steps
        .iter()
        .filter(|s| s.name.starts_with("PrivateCompare 1–13"))
        .nth(1)
        .unwrap();
    assert_eq!(
        second_pc.full_name(),
        format!(
            "ReLU › DReLU › ComputeMSB › PrivateCompare › {}",
            second_pc.name
        )
    );
    for s in &t.steps {
        assert_eq!(s.path.len(), s.path_starts.len(), "step {}", s.index);
        // Each call begins at its first step, and its steps are contiguous.
        for (d, &start) in s.path_starts.iter().enumerate() {
            assert!(start <= s.index, "step {}", s.index);
            let first = &t.steps[start];
            assert_eq!(first.path_starts.get(d), Some(&start), "step {}", s.index);
            assert_eq!(first.path[..=d], s.path[..=d], "step {}", s.index);
            assert!(
                t.steps[start..=s.index]
                    .iter()
                    .all(|q| q.is_within(d, start)),
                "step {}",
                s.index
            );
        }
        // Ops that run no sub-protocol have no path.
        if ["input x", "output m"].contains(&t.ops[s.op].name.as_str()) {
            assert!(s.path.is_empty(), "{}", s.name);
        }
    }
    // The two levels' DReLUs are two calls with the same path, told apart by where they began.
    let drelus: Vec<&StepRecord> = t
        .steps
        .iter()
        .filter(|s| {
            s.name.starts_with("DReLU 1:") && s.path.first().map(String::as_str) == Some("MaxPool")
        })
        .collect();
    assert_eq!(drelus.len(), 2);
    assert_eq!(drelus[0].path[2], "DReLU");
    assert_ne!(drelus[0].path_starts[2], drelus[1].path_starts[2]);
}

#[test]
fn paths_are_deterministic_and_in_the_json_trace() {
    let (a, b) = (trace(), trace());
    let paths = |t: &Trace| -> Vec<(Vec<String>, Vec<usize>)> {
        t.steps
            .iter()
            .map(|s| (s.path.clone(), s.path_starts.clone()))
            .collect()
    };
    assert_eq!(paths(&a), paths(&b));
    let json = serde_json::to_value(&a).unwrap();
    let s = &json["steps"][a
        .steps
        .iter()
        .position(|s| s.name.starts_with("ComputeMSB 2–3"))
        .unwrap()];
    assert_eq!(
        s["path"],
        serde_json::json!(["ReLU", "DReLU", "ComputeMSB"])
    );
    assert!(s["path_starts"].is_array());
    assert!(
        s["name"].is_string(),
        "the existing fields stay as they were"
    );
}
