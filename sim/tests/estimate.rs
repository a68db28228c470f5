//! The estimate `sharescope check` prints equals the accounting of a real run, exactly: for every
//! shipped scenario, per op (online and offline bytes and messages, online rounds) and in total
//! (the same plus the run's causal rounds, online and offline).

use protocols::cost::Cost;
use sim::estimate::{estimate, Estimate, EstimatedTotals};
use sim::scenario::{self, LinkState, Plan};
use sim::RunResult;
use std::path::{Path, PathBuf};

fn shipped() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("scenarios/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "ron"))
        .collect();
    files.sort();
    files
}

/// What the run accounted, in the estimate's terms.
fn measured(run: &RunResult) -> (Vec<(String, String, Cost)>, EstimatedTotals) {
    let ops = run
        .trace
        .ops
        .iter()
        .map(|o| {
            let s = &o.stats;
            let cost = Cost {
                bytes: s.bytes,
                offline_bytes: s.offline_bytes,
                messages: s.messages,
                offline_messages: s.offline_messages,
                rounds: s.rounds,
            };
            (o.name.clone(), o.kind.clone(), cost)
        })
        .collect();
    let t = &run.totals;
    let totals = EstimatedTotals {
        bytes: t.bytes,
        offline_bytes: t.offline_bytes,
        messages: t.messages,
        offline_messages: t.offline_messages,
        rounds: t.rounds,
        offline_rounds: t.offline_rounds,
    };
    (ops, totals)
}

/// Every difference between the estimate and the run, one line each (empty: they agree).
fn differences(est: &Estimate, run: &RunResult) -> Vec<String> {
    let (ops, totals) = measured(run);
    let mut diffs = Vec::new();
    if est.ops.len() != ops.len() {
        diffs.push(format!(
            "{} ops estimated, {} run",
            est.ops.len(),
            ops.len()
        ));
    }
    for (e, (name, kind, cost)) in est.ops.iter().zip(&ops) {
        if (&e.name, &e.kind) != (name, kind) {
            diffs.push(format!(
                "op {}: estimated `{}` ({}), ran `{name}` ({kind})",
                e.index, e.name, e.kind
            ));
        }
        match &e.cost {
            Ok(c) if c == cost => {}
            Ok(c) => diffs.push(format!(
                "op `{name}` ({kind}): estimated {c:?}, run {cost:?}"
            )),
            Err(why) => diffs.push(format!("op `{name}` ({kind}) not costed: {why}")),
        }
    }
    match est.totals {
        Some(t) if t == totals => {}
        Some(t) => diffs.push(format!("totals: estimated {t:?}, run {totals:?}")),
        None => diffs.push("no estimated totals".into()),
    }
    if est.critical_path_rounds != Some(run.totals.critical_path_rounds) {
        diffs.push(format!(
            "critical path: estimated {:?} rounds, run {}",
            est.critical_path_rounds, run.totals.critical_path_rounds
        ));
    }
    diffs
}

/// The plan of a shipped scenario, without its injected faults and held links: the fault
/// scenarios (a held link, a panicking server) end early by design, and the estimate is that of
/// the protocol as specified.
fn fault_free(path: &Path) -> Plan {
    let mut plan = scenario::load(path).unwrap_or_else(|e| panic!("{e}"));
    plan.scenario.faults.clear();
    for link in plan.links.iter_mut().flatten() {
        link.state = LinkState::Healthy;
    }
    plan
}

#[test]
fn the_estimate_equals_the_run_for_every_shipped_scenario() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for path in shipped() {
        let plan = fault_free(&path);
        let est = estimate(&plan);
        let run = sim::run(&plan).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let diffs = differences(&est, &run);
        if !diffs.is_empty() {
            failures.push(format!("{}:\n  {}", path.display(), diffs.join("\n  ")));
        }
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} shipped scenarios found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// An op the formulas cannot cost is named, in the table and the JSON, and there are no totals:
/// never a silent zero. (Validation refuses MaxPool under Pond; a plan changed after validation
/// is the only way to get one.)
#[test]
fn an_op_the_formulas_cannot_cost_is_reported_never_zero() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/cnn-securenn.ron");
    let mut plan = fault_free(&path);
    plan.scenario.protocol = sim::scenario::ProtocolKind::named("Pond").unwrap();
    let est = estimate(&plan);
    let gaps: Vec<_> = est
        .uncosted()
        .map(|(o, why)| (o.kind.clone(), why.to_string()))
        .collect();
    assert!(!gaps.is_empty());
    assert!(
        gaps.iter()
            .any(|(k, why)| k == "maxpool2d" && why.contains("securenn")),
        "{gaps:?}"
    );
    assert_eq!(est.totals, None);
    assert_eq!(est.critical_path_rounds, None);
    let table = est.table();
    assert!(table.contains("NOT COSTED"), "{table}");
    assert!(table.contains("total: not estimated"), "{table}");
    assert!(est.json()["totals"].is_null());
}

/// The character index just past the end of `label` in `header` (right-aligned columns end there).
fn column_end(header: &str, label: &str) -> usize {
    let at = header.find(label).expect("the header names the column");
    header[..at].chars().count() + label.chars().count()
}

/// Every row of a table whose header starts with `op ` ends its `label` column where the header
/// does: a long op kind (`conv2d_grad_filters`, 19 characters) widens the kind column instead of
/// pushing the numbers out of line (as it did before, by eight characters).
fn assert_aligned(table: &str, label: &str) {
    let lines: Vec<&str> = table.lines().collect();
    let h = lines
        .iter()
        .position(|l| l.starts_with("op "))
        .expect("a table header");
    let end = column_end(lines[h], label);
    let mut rows = 0;
    for line in &lines[h + 1..] {
        if line.starts_with("total:") || line.trim().is_empty() {
            break;
        }
        if line.starts_with(' ') || line.contains("NOT COSTED") {
            continue; // a hazard line under its op
        }
        let chars: Vec<char> = line.chars().collect();
        assert!(
            chars.len() > end && chars[end - 1] != ' ' && (chars[end] == ' ' || end == chars.len()),
            "column `{label}` out of line in\n{line}\n(header: {})",
            lines[h]
        );
        rows += 1;
    }
    assert!(rows > 20, "only {rows} rows checked");
}

#[test]
fn the_check_and_run_tables_stay_aligned_with_long_op_kinds() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/backprop-cnn-layer.ron");
    let plan = fault_free(&path);
    let est = estimate(&plan);
    assert!(est.ops.iter().any(|o| o.kind == "conv2d_grad_filters"));
    assert_aligned(&est.table(), "online B");
    let run = sim::run(&plan).unwrap_or_else(|e| panic!("{e}"));
    assert_aligned(&sim::report::text_report(&run), "online");
}
