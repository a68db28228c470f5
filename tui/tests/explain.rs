//! Every step of every shipped scenario (Pond and SecureNN) has teaching text in the explain
//! pane, and the texts carry the three parts a student needs.

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
