//! `sharescope compare --protocols pond,securenn,aby3` on the digits and MNIST scenarios (issue
//! 10 §2): ABY3 gets a row of its own — numbers where it runs the program, a clear skip naming
//! the op where it cannot (exact ReLU and MaxPool need its boolean part) — and the Pond and
//! SecureNN rows are exactly what they are without it.

use sim::compare::{self, Comparison};
use sim::scenario::{self, Plan};

fn load(name: &str) -> Plan {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(format!("{name}.ron"));
    scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn compare_all(plan: &Plan) -> (Comparison, Comparison) {
    let three = compare::parse_protocols("pond,securenn,aby3").expect("valid list");
    let with = compare::compare(plan, &three).unwrap_or_else(|e| panic!("{e}"));
    let without = compare::compare(plan, &three[..2]).unwrap_or_else(|e| panic!("{e}"));
    (with, without)
}

#[test]
fn aby3_runs_the_digits_logistic_regression_beside_pond_and_securenn() {
    let plan = load("digits-logreg");
    let (c, without) = compare_all(&plan);
    assert_eq!(c.rows.len(), 3);
    assert_eq!(&c.rows[..2], &without.rows[..]);
    let aby3 = &c.rows[2];
    assert_eq!(compare::protocol_name(aby3.protocol), "aby3");
    assert!(aby3.skipped.is_none(), "{:?}", aby3.skipped);
    // The same numbers as a plain run of the scenario under ABY3.
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/digits-logreg.ron"),
    )
    .unwrap()
    .replace("protocol: Pond,", "protocol: ABY3,");
    let direct_plan = scenario::load_source(&scenario::Source {
        name: "digits-logreg-aby3".into(),
        dir: std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios"),
        text,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let direct = sim::run(&direct_plan).unwrap();
    assert_eq!(aby3.bytes, direct.totals.bytes);
    assert_eq!(aby3.offline_bytes, direct.totals.offline_bytes);
    assert_eq!(aby3.rounds, direct.totals.rounds);
    assert_eq!(aby3.metrics, direct.metrics);
    let m = aby3.metrics.as_ref().expect("metrics");
    assert!(m.agreement >= 0.99, "{m:?}");
    // No dealer: the only offline traffic is the 96-byte key setup.
    assert_eq!(aby3.offline_bytes, 96);
    let table = c.table();
    assert!(table.lines().any(|l| l.starts_with("aby3 ")), "{table}");
}

#[test]
fn aby3_rows_on_relu_and_maxpool_networks_say_what_is_missing_and_leave_the_others_unchanged() {
    let relu_ok = protocols::aby3::supports(&protocols::program::Op::Relu("x".into())).is_ok();
    for (name, op) in [
        ("digits-mlp-pond", "Relu"),
        ("mnist-network-a", "Relu"),
        ("digits-cnn-securenn", "MaxPool2d"),
    ] {
        let plan = load(name);
        let (c, without) = compare_all(&plan);
        assert_eq!(&c.rows[..2], &without.rows[..], "{name}");
        let aby3 = &c.rows[2];
        let table = c.table();
        match &aby3.skipped {
            Some(why) => {
                assert!(
                    !relu_ok || op != "Relu",
                    "{name}: skipped although ABY3 runs ReLU"
                );
                assert!(
                    why.starts_with("ABY3's exact") && why.ends_with(&format!("({op})")),
                    "{name}: {why}"
                );
                let line = table
                    .lines()
                    .find(|l| l.starts_with("aby3 "))
                    .unwrap_or_else(|| panic!("{table}"));
                assert!(line.contains(&format!("skipped: {why}")), "{table}");
            }
            None => assert!(relu_ok, "{name}: ABY3 ran without an exact {op}"),
        }
    }
}
