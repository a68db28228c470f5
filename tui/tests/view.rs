//! The view pane over every shipped scenario: every item of every party's view has a note (why
//! it looks random, or what an insecure variant gives away), and the pane's layout (heights,
//! the visible window) agrees with the lines it draws, at two widths and in every value format.

use sim::control::Controller;
use tui::app::App;
use tui::format::ValueFormat;
use tui::panes::view::note;

/// Every shipped scenario, run to the end, and the SecureNN ones also as published.
fn runs() -> Vec<(String, Controller)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut texts = vec![(name.clone(), text.clone())];
        if text.contains("protocol: SecureNN,") {
            texts.push((
                format!("{name} as published"),
                text.replace("protocol: SecureNN,", "protocol: SecureNNAsPublished,"),
            ));
        }
        for (label, text) in texts {
            let Ok(plan) = sim::scenario::load_source(&sim::scenario::Source {
                name: label.clone(),
                dir: dir.clone(),
                text,
            }) else {
                continue;
            };
            let mut c = Controller::new(plan);
            c.last();
            out.push((label, c));
        }
    }
    out
}

#[test]
fn every_item_of_every_view_has_a_note_and_the_layout_matches_the_lines() {
    let mut missing = std::collections::BTreeSet::new();
    let mut items = 0;
    for (name, c) in runs() {
        let v = c.plan().scenario.protocol;
        let t = c.trace();
        for p in 0..t.parties.len() {
            for it in sim::view::view(t, p, usize::MAX) {
                items += 1;
                if note(v, t, &it).is_none() {
                    missing.insert(format!(
                        "{} — {} ({name})",
                        it.label(),
                        t.steps[it.step].name
                    ));
                }
            }
        }
        // The layout: all_lines checks each block's height against its lines.
        let parties = t.parties.len();
        let mut app = App::new(c, tui::theme::Theme { color: false });
        for p in 0..parties {
            app.view_party = p;
            for (fmt, w) in [
                (ValueFormat::Auto, 48),
                (ValueFormat::Decoded, 48),
                (ValueFormat::Hex, 101),
                (ValueFormat::Unsigned, 48),
                (ValueFormat::Signed, 101),
            ] {
                app.formats.set(protocols::context::RingKind::Z64, fmt);
                let lines = tui::panes::view::all_lines(&app, w);
                assert!(lines.len() > 1, "{name}: party {p} has a view");
            }
        }
    }
    assert!(items > 1000, "only {items} view items");
    assert!(
        missing.is_empty(),
        "view items without a note: {missing:#?}"
    );
}
