//! Every step of every shipped scenario (Pond and SecureNN) has teaching text in the explain
//! pane, and the texts carry the three parts a student needs.

mod common;

use sim::control::Controller;
use tui::panes::explain::{explanation, explanation_in};

/// The explain pane's text for the debugger's current position, one line per row.
fn explain_text(a: &tui::app::App) -> String {
    tui::panes::explain::lines(a)
        .iter()
        .map(|l| {
            l.spans
                .iter()
                .map(|s| s.content.as_ref())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

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
            return explain_text(&a);
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

/// The shortcut scenario run under `protocol` (all steps recorded).
fn run_under(protocol: &str) -> Controller {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/securenn-shortcut.ron");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "protocol: SecureNNShortcut",
        &format!("protocol: {protocol}"),
    );
    let plan = sim::scenario::load_source(&sim::scenario::Source {
        name: format!("securenn-{protocol}"),
        dir: path.parent().unwrap().into(),
        text,
    })
    .unwrap();
    let mut c = Controller::new(plan);
    c.last();
    c
}

#[test]
fn private_compare_has_one_text_per_variant_on_both_of_its_steps() {
    use sim::scenario::ProtocolKind;
    let mut texts = Vec::new();
    for (name, protocol) in [
        ("SecureNN", ProtocolKind::named("SecureNN").unwrap()),
        (
            "SecureNNAsPublished",
            ProtocolKind::named("SecureNNAsPublished").unwrap(),
        ),
        (
            "SecureNNShortcut",
            ProtocolKind::named("SecureNNShortcut").unwrap(),
        ),
    ] {
        let c = run_under(name);
        assert_eq!(c.plan().scenario.protocol, protocol);
        let mut seen = std::collections::BTreeSet::new();
        let mut steps = std::collections::BTreeSet::new();
        for s in &c.trace().steps {
            let e = explanation_in(&s.name, protocol)
                .unwrap_or_else(|| panic!("{name}: no text for {}", s.name));
            if s.name.starts_with("PrivateCompare") {
                seen.insert((e.title, e.computes, e.private));
                steps.insert(s.name.split(':').next().unwrap().to_string());
            }
        }
        assert_eq!(steps.len(), 2, "{name}: steps 1–13 and 14–15: {steps:?}");
        assert_eq!(seen.len(), 1, "{name}: both steps get the same text");
        texts.push(seen.into_iter().next().unwrap());
    }
    let [secure, published, shortcut] = &texts[..] else {
        unreachable!()
    };
    // Secure: π, s and v each hide something, and v is the deviation that fixes the flaw.
    assert!(!secure.0.contains("INSECURE"), "{}", secure.0);
    for part in [
        "π hides where a zero is",
        "s hides the non-zero values",
        "v makes each half",
        "simulatable from d",
        "deviation from the paper",
    ] {
        assert!(
            secure.2.contains(part),
            "secure text lacks {part:?}: {}",
            secure.2
        );
    }
    // As published: no re-randomisation; the ratio leaks because P2 dealt the bit shares.
    assert!(published.0.contains("INSECURE"), "{}", published.0);
    for part in [
        "INSECURE",
        "no re-randomisation",
        "ratio",
        "P2 dealt the bit shares",
    ] {
        assert!(
            published.2.contains(part),
            "as-published text lacks {part:?}: {}",
            published.2
        );
    }
    // Shortcut: no π (the zero's position), and no v.
    assert!(shortcut.0.contains("INSECURE"), "{}", shortcut.0);
    for part in ["INSECURE", "without π", "position", "without v"] {
        assert!(
            shortcut.2.contains(part),
            "shortcut text lacks {part:?}: {}",
            shortcut.2
        );
    }
    assert!(secure.2 != published.2 && published.2 != shortcut.2 && secure.2 != shortcut.2);
    assert!(
        secure.1 != shortcut.1,
        "the shortcut computes without π and v"
    );
}

#[test]
fn the_explain_pane_gives_step_14_15_the_text_of_the_variant_that_ran() {
    // Step 14–15's name does not carry the variant; the pane takes it from the scenario.
    for (protocol, insecure) in [
        ("SecureNN", false),
        ("SecureNNAsPublished", true),
        ("SecureNNShortcut", true),
    ] {
        let mut c = run_under(protocol);
        let k = c
            .trace()
            .steps
            .iter()
            .position(|s| s.name.starts_with("PrivateCompare 14–15"))
            .unwrap();
        c.goto(k + 1);
        let app = tui::app::App::new(c, tui::theme::Theme { color: false });
        let text: String = tui::panes::explain::lines(&app)
            .iter()
            .map(|l| l.to_string() + "\n")
            .collect();
        assert_eq!(text.contains("INSECURE"), insecure, "{protocol}:\n{text}");
        assert_eq!(
            text.contains("What it gives away"),
            insecure,
            "{protocol}:\n{text}"
        );
    }
}

#[test]
fn the_explain_pane_shows_what_the_helper_recovers_in_the_as_published_variant() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/securenn-as-published.ron");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut a = common::app_with(&text, false);
    let mut seen = 0;
    for _ in 0..200 {
        if a.ctl
            .current_step()
            .is_some_and(|s| s.name.starts_with("PrivateCompare 1–13"))
        {
            seen += 1;
            if seen == 2 {
                // ComputeMSB's comparison: the whole DReLU is in the trace.
                let t = explain_text(&a);
                assert!(t.contains("What the helper recovers"), "{t}");
                assert!(t.contains("16 of 16 inputs exactly"), "{t}");
                assert!(t.contains("true     1.500000   recovered 1.500000"), "{t}");
                break;
            }
        }
        common::keys(&mut a, "s");
    }
    assert_eq!(seen, 2, "two PrivateCompares in a DReLU");
    // The same scenario under the fixed protocol says nothing of the kind.
    let fixed = text.replace("protocol: SecureNNAsPublished", "protocol: SecureNN");
    let mut b = common::app_with(&fixed, false);
    for _ in 0..200 {
        if b.ctl
            .current_step()
            .is_some_and(|s| s.name.starts_with("PrivateCompare 1–13"))
        {
            assert!(!explain_text(&b).contains("What the helper recovers"));
        }
        common::keys(&mut b, "s");
    }
}

#[test]
fn explain_texts_state_the_real_costs_and_say_when_a_mask_is_reused() {
    let combine = explanation("combine").unwrap();
    assert!(combine.cost.contains("two products"), "{}", combine.cost);
    let setup = explanation_in(
        "SecureNN key setup",
        sim::scenario::ProtocolKind::named("SecureNN").unwrap(),
    )
    .unwrap();
    assert!(
        setup.cost.contains("3 messages") && setup.cost.contains("96 B"),
        "{}",
        setup.cost
    );
    // u = x·y opens x and y; v = x·z reuses x's mask and opens z only.
    let text = common::SCENARIO.replace(
        r#"(name: "w", op: Add("z", "x")),"#,
        r#"(name: "w", op: Mul("x", "z")),"#,
    );
    let mut a = common::app_with(&text, false);
    let mut seen = vec![];
    for _ in 0..60 {
        if let Some(s) = a.ctl.current_step() {
            if s.name == "open masked inputs" {
                seen.push((a.ctl.trace().ops[s.op].name.clone(), explain_text(&a)));
            }
        }
        common::keys(&mut a, "s");
    }
    let z = &seen
        .iter()
        .find(|(op, _)| op == "z")
        .expect("z opens its operands")
        .1;
    assert!(!z.contains("Mask reuse here"), "{z}");
    let w = &seen.iter().find(|(op, _)| op == "w").expect("w opens z").1;
    assert!(w.contains("Mask reuse here: x was masked"), "{w}");
}
