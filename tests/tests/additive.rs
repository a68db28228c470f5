//! Additive through the simulator (docs/new-protocol.md): scenarios select it by name, its
//! estimate equals the run op by op and in total, every op has a view test with the `leak`
//! machinery, and the checker catches a planted reused mask under it as under Pond.

use protocols::program::Op;
use sharescope_tests::Pond as Builder;
use sim::estimate::estimate;
use sim::leak::{self, assert_leak, assert_no_leak};
use sim::scenario::ProtocolKind;

const RUNS: usize = 20;

fn s(n: &str) -> String {
    n.to_string()
}

fn vals(n: usize, scale: f64) -> Vec<f64> {
    (0..n)
        .map(|i| scale * ((i * 37 % 17) as f64 - 8.0) / 8.0)
        .collect()
}

fn additive(seed: u64) -> Builder {
    Builder::new(seed).protocol(ProtocolKind::named("additive").expect("registered"))
}

/// Every op Additive has, private and public operands mixed.
fn every_op(seed: u64) -> Builder {
    additive(seed)
        .private("x", "alice", &[2, 3], vals(6, 2.0))
        .private("y", "bob", &[2, 3], vals(6, -1.5))
        .private("w", "bob", &[3, 2], vals(6, 1.0))
        .public("c", &[3], vals(3, 0.75))
        .op("sum", Op::Add(s("x"), s("y")))
        .op("diff", Op::Sub(s("c"), s("x")))
        .op("neg", Op::Neg(s("y")))
        .op("prod", Op::Mul(s("x"), s("y")))
        .op("scaled", Op::Mul(s("x"), s("c")))
        .op("sq", Op::Square(s("sum")))
        .op("mm", Op::MatMul(s("x"), s("w")))
        .op("t", Op::Transpose(s("mm")))
        .op(
            "flat",
            Op::Reshape {
                input: s("prod"),
                shape: vec![6],
            },
        )
        .op(
            "rows",
            Op::ReduceSum {
                input: s("sq"),
                axis: Some(1),
            },
        )
        .op("open", Op::Reveal(s("rows")))
        .op("later", Op::Mul(s("open"), s("open")))
        .output("t")
        .output("flat")
        .output("later")
}

#[test]
fn a_scenario_selects_additive_and_it_computes_every_op_right() {
    let run = every_op(1).run_ok();
    for o in &run.outputs {
        assert!(o.max_abs_error < 1e-3, "{o:?}");
    }
    let plan = every_op(1).plan().unwrap();
    let seats: Vec<&str> = plan
        .seats
        .iter()
        .map(|&p| plan.parties[p].as_str())
        .collect();
    assert_eq!(seats, ["server0", "server1", "server2", "dealer"]);
}

#[test]
fn the_estimate_equals_the_run_op_by_op_and_in_total() {
    for seed in 0..4 {
        for dense in [false, true] {
            let mut b = every_op(seed);
            if dense {
                b = b.input_sharing(protocols::pond::InputSharing::Dense);
            }
            let plan = b.plan().unwrap();
            let run = sharescope_tests::assert_plan_costs_exact(&plan);
            let est = estimate(&plan);
            assert_eq!(
                est.critical_path_rounds,
                Some(run.totals.critical_path_rounds)
            );
        }
    }
}

#[test]
fn input_sharing_and_linear_ops_show_no_leak() {
    let plan = additive(2)
        .private("x", "alice", &[6], vals(6, 3.0))
        .public("c", &[6], vals(6, 1.0))
        .op("y", Op::Sub(s("c"), s("x")))
        .op(
            "r",
            Op::ReduceSum {
                input: s("y"),
                axis: None,
            },
        )
        .output("y")
        .plan()
        .unwrap();
    assert_no_leak(&plan, RUNS);
}

#[test]
fn beaver_products_show_no_leak() {
    for op in [
        Op::Mul(s("x"), s("y")),
        Op::Square(s("x")),
        Op::MatMul(s("x"), s("w")),
    ] {
        let plan = additive(3)
            .private("x", "alice", &[3, 3], vals(9, 2.0))
            .private("y", "bob", &[3, 3], vals(9, -1.0))
            .private("w", "bob", &[3, 3], vals(9, 0.5))
            .op("z", op)
            .output("z")
            .plan()
            .unwrap();
        let r = assert_no_leak(&plan, RUNS);
        let seen: usize = r
            .parties
            .iter()
            .flat_map(|p| &p.ops)
            .filter(|o| o.name == "z")
            .map(|o| o.features)
            .sum();
        assert!(seen > 0, "nobody saw anything of z:\n{}", r.text());
    }
}

#[test]
fn dealer_truncation_of_a_public_product_shows_no_leak() {
    let plan = additive(4)
        .private("x", "alice", &[8], vals(8, 4.0))
        .public("c", &[8], vals(8, 1.25))
        .op("z", Op::Mul(s("x"), s("c")))
        .output("z")
        .plan()
        .unwrap();
    assert_no_leak(&plan, RUNS);
}

#[test]
fn reveal_shows_no_leak_beyond_the_revealed_value() {
    let plan = additive(5)
        .private("x", "alice", &[4], vals(4, 2.0))
        .private("y", "bob", &[4], vals(4, 1.0))
        .op("z", Op::Mul(s("x"), s("y")))
        .op("open", Op::Reveal(s("z")))
        .output("open")
        .plan()
        .unwrap();
    assert_no_leak(&plan, RUNS);
}

#[test]
fn a_planted_reused_mask_leaks_under_additive_too() {
    // Through validation: the ReuseMask fault goes to the seat that holds no shares, the dealer.
    let text = SHIPPED.replace(
        "    outputs: [",
        "    faults: [(party: \"dealer\", op: \"z\", kind: ReuseMask)],\n    outputs: [",
    );
    assert_ne!(text, SHIPPED);
    let plan = load_text(&text).unwrap_or_else(|e| panic!("{e}"));
    let mut clean = plan.clone();
    clean.scenario.faults.clear();
    let run = sim::run(&plan).unwrap();
    for o in &run.outputs {
        assert!(o.max_abs_error < 1e-2, "the product stays right: {o:?}");
    }
    let r = assert_leak(&plan, RUNS);
    for server in ["server0", "server1", "server2"] {
        let p = r.parties.iter().find(|p| p.party == server).unwrap();
        assert!(p.leak, "{server} sees e − f = x − y:\n{}", r.text());
    }
    for p in r.parties.iter().filter(|p| p.party == "dealer") {
        assert!(!p.leak, "the dealer hears nothing:\n{}", r.text());
    }
    assert!(!leak::check(&clean, &leak::Options::new(RUNS)).unwrap().leak);
    // A fault on a server is refused, naming the dealer.
    let wrong = text.replace("(party: \"dealer\"", "(party: \"server1\"");
    let err = load_text(&wrong).unwrap_err().to_string();
    assert!(err.contains("planted in the dealer"), "{err}");
}

fn load_text(text: &str) -> Result<sim::scenario::Plan, sim::SimError> {
    sim::scenario::load_source(&sim::scenario::Source {
        name: "additive.ron".into(),
        dir: ".".into(),
        text: text.into(),
    })
}

const SHIPPED: &str = include_str!("../../scenarios/additive-three-servers.ron");

#[test]
fn local_truncation_and_unsupported_ops_are_located_errors_naming_the_protocol() {
    let local = SHIPPED.replace("truncation: Dealer", "truncation: Local");
    let err = load_text(&local).unwrap_err().to_string();
    let line = local
        .lines()
        .position(|l| l.contains("truncation: Local"))
        .unwrap()
        + 1;
    assert!(err.contains(&format!("additive.ron:{line}:")), "{err}");
    assert!(
        err.contains("protocol Additive: Additive truncates with the dealer only"),
        "{err}"
    );
    assert!(err.contains("hint: use `truncation: Dealer`"), "{err}");

    let relu = SHIPPED.replace(
        r#"(name: "shifted", op: Add("z", "offset")),"#,
        r#"(name: "shifted", op: Relu("z")),"#,
    );
    assert_ne!(relu, SHIPPED);
    let err = load_text(&relu).unwrap_err().to_string();
    assert!(
        err.contains("`shifted`: Additive has no comparison, so no relu"),
        "{err}"
    );
    assert!(err.contains("hint: use `protocol: SecureNN`"), "{err}");
    // The shipped scenario itself is valid.
    load_text(SHIPPED).unwrap();
}

#[test]
fn seats_place_other_parties_in_additives_seats() {
    let text = SHIPPED.replace(
        "        input_providers:",
        "        seats: {\"dealer\": \"ttp\", \"server2\": \"dave\"},\n        input_providers:",
    );
    assert_ne!(text, SHIPPED);
    let plan = load_text(&text).unwrap_or_else(|e| panic!("{e}"));
    let seated: Vec<&str> = plan
        .seats
        .iter()
        .map(|&p| plan.parties[p].as_str())
        .collect();
    assert_eq!(seated, ["server0", "server1", "dave", "ttp"]);
    let run = sim::run(&plan).unwrap();
    assert!(
        run.outputs.iter().all(|o| o.max_abs_error == 0.0),
        "{:?}",
        run.outputs
    );
    let err = load_text(&SHIPPED.replace(
        "        input_providers:",
        "        seats: {\"producer2\": \"x\"},\n        input_providers:",
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("Additive has no seat `producer2`"), "{err}");
}
