//! Every step of every shipped scenario (Pond and SecureNN) has teaching text in the explain
//! pane, and the texts carry the three parts a student needs.

mod common;

use sim::control::Controller;
use tui::panes::explain::explanation;

#[test]
fn every_step_kind_in_the_shipped_scenarios_is_explained() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut missing = std::collections::BTreeSet::new();
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "ron") {
            continue;
        }
        let Ok(plan) = sim::scenario::load(&path) else {
            continue;
        };
        let mut c = Controller::new(plan);
        c.last();
        for s in &c.trace().steps {
            seen += 1;
            if explanation(&s.name).is_none() {
                missing.insert(format!(
                    "{} ({})",
                    s.name,
                    path.file_name().unwrap().to_string_lossy()
                ));
            }
        }
    }
    assert!(seen > 50, "only {seen} steps found");
    assert!(
        missing.is_empty(),
        "steps without an explanation: {missing:#?}"
    );
}

#[test]
fn explanations_say_what_why_and_how_much() {
    for name in [
        "share input",
        "deal triple",
        "open masked inputs",
        "reuse masks",
        "combine",
        "deal truncation pair",
        "open z + r",
        "truncate",
        "truncate locally",
        "local",
        "local product",
        "window sum",
        "weighted sum",
        "open",
        "reveal to receiver",
        "x^3: combine",
    ] {
        let e = explanation(name).unwrap_or_else(|| panic!("no text for {name}"));
        assert!(
            e.computes.len() > 80 && e.private.len() > 40,
            "{name}: too thin"
        );
        assert!(e.cost.contains('B'), "{name}: the cost names bytes");
    }
    assert!(explanation("no such step").is_none());
}

/// The explain pane's text at the first step named `name` of the test scenario with
/// `fixed_point` replaced by `fixed`.
fn explained_at(name: &str, fixed: &str) -> String {
    let text = common::SCENARIO.replace(
        "fixed_point: (frac_bits: 16, int_bits: 11, weak_security: true)",
        fixed,
    );
    let mut a = common::app_with(&text, false);
    for _ in 0..100 {
        if a.ctl.current_step().is_some_and(|s| s.name == name) {
            let lines = tui::panes::explain::lines(&a);
            return lines
                .iter()
                .map(|l| {
                    l.spans
                        .iter()
                        .map(|s| s.content.as_ref())
                        .collect::<String>()
                })
                .collect::<Vec<_>>()
                .join("\n");
        }
        common::keys(&mut a, "s");
    }
    panic!("no step `{name}`");
}

#[test]
fn the_opening_of_a_dealer_truncation_states_its_statistical_security() {
    let weak = explained_at(
        "open z + r",
        "fixed_point: (frac_bits: 16, int_bits: 11, weak_security: true)",
    );
    assert!(
        weak.contains(
            "Here: k = int_bits + 2·frac_bits = 43, so σ = 20 bits (advantage up to 2^-20 per \
             element), below the minimum of 40: accepted only because fixed_point sets \
             weak_security."
        ),
        "{weak}"
    );
    let secure = explained_at("open z + r", "fixed_point: (frac_bits: 8, int_bits: 7)");
    assert!(
        secure.contains(
            "Here: k = int_bits + 2·frac_bits = 23, so σ = 40 bits (advantage up to 2^-40 per \
             element)."
        ),
        "{secure}"
    );
    // Other steps say nothing about it.
    assert!(!explained_at("truncate", "fixed_point: (frac_bits: 8, int_bits: 7)").contains("σ ="));
}
