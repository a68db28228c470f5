//! Every file in scenarios/ parses, validates and runs; the fault-injection ones (named
//! `deadlock-…` or `fault-…`) end with the error their header documents. A few key numbers of
//! the teaching scenarios are pinned down.

use protocols::fixed::Hazard;
use sim::scenario::{self, Plan};
use sim::{RunResult, SimError};
use std::path::{Path, PathBuf};

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn shipped() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenarios_dir())
        .expect("scenarios/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "ron"))
        .collect();
    files.sort();
    files
}

fn load(name: &str) -> Plan {
    let path = scenarios_dir().join(format!("{name}.ron"));
    scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn run(name: &str) -> RunResult {
    sim::run(&load(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn op<'a>(r: &'a RunResult, name: &str) -> &'a sim::trace::OpRecord {
    r.trace
        .ops
        .iter()
        .find(|o| o.name == name)
        .unwrap_or_else(|| panic!("no op `{name}`"))
}

fn expected_to_fail(path: &Path) -> bool {
    let stem = path.file_stem().unwrap().to_string_lossy();
    stem.starts_with("deadlock-") || stem.starts_with("fault-")
}

#[test]
fn the_promised_scenarios_are_shipped() {
    let names: Vec<String> = shipped()
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in [
        "share-and-reveal",
        "beaver-multiplication",
        "truncation-dealer",
        "truncation-local-fails",
        "private-matmul",
        "logistic-regression",
        "mlp",
        "mlp-wan",
        "cnn-avgpool",
        "deadlock-held-link",
        "fault-server-panics",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "scenarios/{want}.ron is missing"
        );
    }
}

#[test]
fn every_shipped_scenario_runs_or_fails_as_documented() {
    let files = shipped();
    assert!(files.len() >= 10, "only {} scenarios found", files.len());
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.trim_start().starts_with("//"),
            "{}: every shipped scenario starts with a comment header saying what it teaches",
            path.display()
        );
        let plan = scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        assert_eq!(
            plan.scenario.name, stem,
            "a scenario's name is its file name"
        );
        match sim::run(&plan) {
            Ok(r) => {
                assert!(
                    !expected_to_fail(&path),
                    "{stem} should end with an error, it ran to completion"
                );
                assert_eq!(r.outputs.len(), plan.scenario.outputs.len(), "{stem}");
                for o in &r.outputs {
                    assert!(o.max_abs_error.is_finite(), "{stem}: output {}", o.name);
                    assert_eq!(o.values.len(), o.plaintext.len());
                }
                assert!(r.totals.bytes > 0, "{stem}: no online traffic");
            }
            Err(e) => {
                assert!(expected_to_fail(&path), "{stem} failed: {e}");
                assert!(
                    text.contains("EXPECTED TO FAIL"),
                    "{stem}: its header must say it is expected to fail"
                );
                assert!(
                    matches!(e, SimError::Deadlock { .. } | SimError::PartyFailed { .. }),
                    "{stem}: unexpected kind of failure: {e}"
                );
                assert!(e.is_user_error(), "{stem}: {e}");
            }
        }
    }
}

#[test]
fn held_link_ends_in_a_deadlock_naming_who_waits_for_whom() {
    let e = match sim::run(&load("deadlock-held-link")) {
        Err(e) => e,
        Ok(_) => panic!("the held link should deadlock"),
    };
    let SimError::Deadlock { op, waits } = &e else {
        panic!("expected a deadlock, got {e}");
    };
    assert_eq!(op, "z");
    // server1's shares of e and f never arrive at server0.
    // server1, which did get server0's, then waits for server0 at the truncation: a cycle.
    // carol waits for her output from server0. The report waits until every party is as far as
    // it can get, so its words never depend on which thread was slow: the same on every run.
    assert_eq!(
        waits,
        "server0 waits for server1 (itself waiting), server1 waits for server0 (itself waiting: \
         a cycle), carol waits for server0"
    );
    assert!(e.to_string().starts_with("deadlock in op `z`: "), "{e}");
    for _ in 0..4 {
        let again = sim::run(&load("deadlock-held-link")).unwrap_err();
        assert_eq!(again.to_string(), e.to_string());
    }
}

#[test]
fn a_failed_run_keeps_the_ops_that_completed_and_their_costs() {
    // The fault: server1 panics at the start of `h`, after `input x`, `input y` and `g`.
    let plan = load("fault-server-panics");
    let f = sim::run_keeping_partial(&plan).expect_err("the fault ends the run");
    assert!(
        matches!(f.error, SimError::PartyFailed { .. }),
        "{}",
        f.error
    );
    let partial = f.partial.as_ref().expect("a partial record");
    assert_eq!(f.completed_ops, 3);
    let names: Vec<&str> = partial.trace.ops.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["input x", "input y", "g", "h"]);
    // `g` costs what it costs in a run without the fault.
    let mut healthy = plan.clone();
    healthy.scenario.faults.clear();
    let whole = sim::run(&healthy).unwrap();
    assert_eq!(partial.trace.ops[2].stats, op(&whole, "g").stats);
    assert_eq!(partial.trace.ops[..3], whole.trace.ops[..3]);
    // Totals are those of the recorded steps; no output was revealed.
    let bytes: u64 = partial.trace.ops.iter().map(|o| o.stats.bytes).sum();
    assert_eq!(partial.totals.bytes, bytes);
    assert!(partial.outputs.is_empty());
    let text = sim::report::partial_text_report(&f).unwrap();
    assert!(text.starts_with("PARTIAL REPORT"), "{text}");

    // The deadlock: `z` stops half-way, with the traffic it had before the held link bit.
    let f = sim::run_keeping_partial(&load("deadlock-held-link")).unwrap_err();
    assert!(matches!(f.error, SimError::Deadlock { .. }), "{}", f.error);
    let partial = f.partial.as_ref().unwrap();
    assert_eq!(f.completed_ops, 2);
    let z = &partial.trace.ops[2];
    assert_eq!((z.name.as_str(), z.stats.bytes), ("z", 160));
    assert!(z.stats.virtual_time_ns > 0, "{:?}", z.stats);
    // Two 100 µs hops (the inputs, then z's open) and a few ns of modelled compute.
    let t = partial.totals.virtual_time_ns;
    assert!((200_000..201_000).contains(&t), "{t} ns");
    let latest = partial
        .trace
        .steps
        .iter()
        .flat_map(|s| &s.parties)
        .map(|p| p.end_ns);
    assert_eq!(latest.max(), Some(t));
    // Deterministic like a whole run.
    let again = sim::run_keeping_partial(&load("deadlock-held-link")).unwrap_err();
    assert_eq!(again.partial.unwrap().trace, partial.trace);
}

#[test]
fn the_default_timing_is_the_cost_model_so_virtual_times_repeat() {
    // A shipped scenario without its `timing` line: a new user's first scenario.
    let path = scenarios_dir().join("private-matmul.ron");
    let text = std::fs::read_to_string(&path).unwrap();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("timing:"))
        .unwrap();
    let source = scenario::Source {
        name: "private-matmul (no timing)".into(),
        dir: scenarios_dir(),
        text: text.replace(line, ""),
    };
    let plan = scenario::load_source(&source).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        plan.scenario.timing,
        scenario::Timing::Model {
            ns_per_ring_op: 1.0
        }
    );
    let runs: Vec<RunResult> = (0..3).map(|_| sim::run(&plan).unwrap()).collect();
    for r in &runs[1..] {
        assert_eq!(r.totals.virtual_time_ns, runs[0].totals.virtual_time_ns);
        assert_eq!(r.trace, runs[0].trace, "every step's clocks, too");
    }
    // Compute is charged by the model (1 ns per ring operation), not left out.
    let logits = op(&runs[0], "logits");
    let compute: u64 = runs[0].trace.steps[logits.first_step..logits.end_step]
        .iter()
        .flat_map(|s| &s.parties)
        .map(|p| p.compute_ns)
        .sum();
    assert!(compute >= 16 * 32 * 8, "{compute} ns of compute");
}

#[test]
fn injected_panic_ends_the_run_naming_party_and_op() {
    let e = match sim::run(&load("fault-server-panics")) {
        Err(e) => e,
        Ok(_) => panic!("the injected fault should end the run"),
    };
    let SimError::PartyFailed {
        party, op, message, ..
    } = &e
    else {
        panic!("expected a party failure, got {e}");
    };
    assert_eq!(party, "server1");
    assert_eq!(op, "h");
    assert!(message.contains("injected fault"), "{message}");
}

#[test]
fn the_builtin_default_is_the_shipped_beaver_multiplication() {
    let text = std::fs::read_to_string(scenarios_dir().join("beaver-multiplication.ron")).unwrap();
    assert_eq!(text, scenario::BUILTIN_DEFAULT);
    let r = run("beaver-multiplication");
    let z = &r.outputs[0];
    assert_eq!(z.receiver, "carol");
    assert_eq!(z.plaintext, vec![3.0, -9.0, -4.5, 1.25]);
    assert!(z.max_abs_error < 1e-4, "{}", z.max_abs_error);
}

#[test]
fn local_truncation_fails_visibly_where_dealer_truncation_does_not() {
    let (dealer_plan, local_plan) = (load("truncation-dealer"), load("truncation-local-fails"));
    // Twins: same config and data, only the truncation method differs.
    assert_eq!(
        dealer_plan.scenario.fixed_point,
        local_plan.scenario.fixed_point
    );
    assert_eq!(dealer_plan.scenario.seed, local_plan.scenario.seed);
    for (a, b) in dealer_plan.inputs.iter().zip(&local_plan.inputs) {
        assert_eq!(a.values(), b.values(), "input {} differs", a.name);
    }
    let dealer = sim::run(&dealer_plan).unwrap();
    let local = sim::run(&local_plan).unwrap();

    let dz = op(&dealer, "z");
    assert!(dz.stats.max_abs_error.unwrap() < 1e-3, "{:?}", dz.stats);
    assert!(
        !dz.hazards
            .iter()
            .any(|h| matches!(h, Hazard::LocalTruncationFailure { .. })),
        "{:?}",
        dz.hazards
    );
    let lz = op(&local, "z");
    assert!(lz.stats.max_abs_error.unwrap() > 1.0, "{:?}", lz.stats);
    assert!(
        lz.hazards
            .iter()
            .any(|h| matches!(h, Hazard::LocalTruncationFailure { .. })),
        "the shadow must flag the local truncation: {:?}",
        lz.hazards
    );
    // A failed element is off by 2^(64 − 2f) = 2^24; most elements are still right.
    let out = &local.outputs[0];
    let wrong: Vec<f64> = out
        .values
        .iter()
        .zip(&out.plaintext)
        .map(|(a, b)| (a - b).abs())
        .filter(|e| *e > 1.0)
        .collect();
    assert!(!wrong.is_empty());
    assert!(wrong.len() < out.values.len() / 4, "{} wrong", wrong.len());
    for e in wrong {
        assert!((e - 2f64.powi(24)).abs() < 1.0, "error {e}");
    }
    // Local truncation costs no online round; the dealer's costs one.
    assert_eq!(dz.stats.rounds, lz.stats.rounds + 1);
}

#[test]
fn private_matmul_reuses_the_mask_of_x() {
    let r = run("private-matmul");
    let (first, second) = (op(&r, "logits"), op(&r, "scores"));
    // X (16×32) is opened once: the second product only opens V − B (32×8), both servers.
    assert_eq!(
        first.stats.bytes - second.stats.bytes,
        2 * 8 * 16 * 32,
        "{:?} vs {:?}",
        first.stats,
        second.stats
    );
    assert!(r.outputs[0].max_abs_error < 1e-3);
}

#[test]
fn the_wan_mlp_computes_the_same_thing_with_round_bound_time() {
    let lan = run("mlp");
    let wan = run("mlp-wan");
    // Its network is the `wan` profile, the one `compare` and the debugger's `:wan` use.
    assert_eq!(
        load("mlp-wan").scenario.network.profile.as_deref(),
        Some("wan")
    );
    assert!(load("mlp-wan").links[0][1] == sim::profiles::WAN.link);
    assert_eq!(lan.outputs[0].values, wan.outputs[0].values);
    assert_eq!(lan.totals.bytes, wan.totals.bytes);
    assert_eq!(lan.totals.rounds, wan.totals.rounds);
    // Every online round crosses a 20 ms link at least once.
    assert!(
        wan.totals.virtual_time_ns >= u64::from(wan.totals.rounds) * 20_000_000,
        "{} ns for {} rounds",
        wan.totals.virtual_time_ns,
        wan.totals.rounds
    );
    assert!(wan.totals.virtual_time_ns > 50 * lan.totals.virtual_time_ns);
    // The polynomial ReLU is the error: the protocol is exact before the first activation.
    assert!(op(&lan, "h1_pre").stats.max_abs_error.unwrap() < 1e-3);
    assert!(op(&lan, "h1").stats.max_abs_error.unwrap() > 0.1);
}

#[test]
fn logistic_regression_predicts_close_to_the_true_sigmoid() {
    let r = run("logistic-regression");
    let p = &r.outputs[0];
    assert_eq!(p.shape, vec![8, 1]);
    // The degree-9 polynomial is within 0.024 of the sigmoid on its range.
    assert!(p.max_abs_error < 0.03, "{}", p.max_abs_error);
    assert!(p.values.iter().all(|v| (0.0..=1.0).contains(v)));
    assert!(op(&r, "prob").hazards.is_empty());
}

#[test]
fn cnn_reads_its_images_from_npy() {
    let plan = load("cnn-avgpool");
    let images = plan.inputs.iter().find(|i| i.name == "images").unwrap();
    let file = sim::npy::read_npy(&scenarios_dir().join("data/digits-2x1x8x8.npy")).unwrap();
    assert_eq!(file.shape, vec![2, 1, 8, 8]);
    assert_eq!(
        images.values().unwrap().iter().copied().collect::<Vec<_>>(),
        file.values
    );
    let r = sim::run(&plan).unwrap();
    assert_eq!(r.outputs[0].shape, vec![2, 10]);
    assert!(r.outputs[0].max_abs_error < 1e-3);
    assert_eq!(op(&r, "flat").stats.bytes, 0, "flatten is local");
}

#[test]
fn share_and_reveal_costs_what_its_header_says() {
    let r = run("share-and-reveal");
    // Seeded sharing of 6 elements: a 32-byte seed to server0, 8·6 bytes to server1.
    assert_eq!(op(&r, "input x").stats.bytes, 32 + 8 * 6);
    assert_eq!(op(&r, "shifted").stats.bytes, 0);
    // Reveal: each server sends its share.
    assert_eq!(op(&r, "opened").stats.bytes, 2 * 8 * 6);
    assert_eq!(op(&r, "opened").stats.rounds, 1);
    for o in &r.outputs {
        assert!(o.max_abs_error < 1e-4, "{}: {}", o.name, o.max_abs_error);
    }
}

#[test]
fn shipped_scenarios_opt_in_to_weak_dealer_truncation_and_say_why() {
    for path in shipped() {
        let plan = scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let fp = plan.scenario.fixed_point;
        let text = std::fs::read_to_string(&path).unwrap();
        if fp.weak_security {
            // The opt-in is commented on the line above it.
            let lines: Vec<&str> = text.lines().collect();
            let at = lines
                .iter()
                .position(|l| l.contains("weak_security: true"))
                .unwrap();
            assert!(
                lines[at - 1].trim_start().starts_with("//")
                    && lines[at - 1].contains("statistical security"),
                "{}: weak_security without a comment saying why",
                path.display()
            );
        }
        for w in &plan.warnings {
            assert!(fp.weak_security, "{}: {w}", path.display());
            let sigma = plan
                .protocol()
                .statistical_security(&plan.settings())
                .expect("a warning means a statistically hiding truncation");
            assert!(
                w.contains(&format!("has {sigma} bits of statistical security")),
                "{}: {w}",
                path.display()
            );
        }
    }
}

#[test]
fn the_builtin_default_states_its_20_bits_of_statistical_security() {
    let plan = scenario::load_source(&scenario::Source::builtin()).unwrap();
    assert_eq!(plan.scenario.fixed_point.statistical_security(), 20);
    assert_eq!(plan.warnings.len(), 1);
    assert!(
        plan.warnings[0].contains("has 20 bits of statistical security"),
        "{}",
        plan.warnings[0]
    );
}

#[test]
fn a_failed_run_stops_in_the_same_state_every_time() {
    // Before, the first failure cancelled everyone at once, so how far the others had got in
    // `g` (and whether `g` counted as completed) depended on the threads' speeds: 2 or 3
    // completed ops from one run to the next. Now the others go as far as they can without
    // the failed party, up to its step, and the run stops there: the same partial trace.
    let plan = load("fault-server-panics");
    let first = sim::run_keeping_partial(&plan).unwrap_err();
    let trace = first.partial.as_ref().unwrap().trace.clone();
    for _ in 0..20 {
        let again = sim::run_keeping_partial(&plan).unwrap_err();
        assert_eq!(again.completed_ops, first.completed_ops);
        assert_eq!(again.error.to_string(), first.error.to_string());
        assert_eq!(again.partial.unwrap().trace, trace);
    }
}

/// ABY3's arithmetic part over Z_2^128: the pond-int128 data under three servers, 128-bit pairs
/// in the trace, plaintext accuracy without hazards, σ = 125 − 84 = 41 (no opt-in), and every
/// element 16 bytes (the squared 4×8 input under Π_trunc2: 4·16·32 = 2048 B).
#[test]
fn aby3_int128_runs_the_arithmetic_part_over_z2_128() {
    let wide = run("aby3-int128");
    assert_eq!(wide.trace.protocol.name(), "ABY3");
    let energy = op(&wide, "energy");
    let server = &wide.trace.steps[energy.first_step + 1].parties[0];
    assert!(!server.shares.is_empty());
    assert!(server
        .shares
        .iter()
        .chain(&server.opened)
        .all(|v| v.kind == protocols::context::RingKind::Z128));
    for o in &wide.outputs {
        assert!(o.max_abs_error < 1e-6, "{}: {}", o.name, o.max_abs_error);
    }
    assert!(wide.trace.ops.iter().all(|o| o.hazards.is_empty()));
    assert!(
        load("aby3-int128").warnings.is_empty(),
        "σ = 41 needs no opt-in"
    );
    assert_eq!((energy.stats.bytes, energy.stats.offline_bytes), (2048, 96));
}

#[test]
fn pond_int128_is_accurate_where_the_64_bit_preset_is_not() {
    let wide = run("pond-int128");
    assert_eq!(wide.trace.protocol.name(), "Pond");
    let share = &wide.trace.steps[op(&wide, "energy").first_step].parties[0];
    assert!(share
        .dealt
        .iter()
        .chain(&share.shares)
        .chain(&share.opened)
        .all(|v| v.kind == protocols::context::RingKind::Z128));
    for o in &wide.outputs {
        assert!(o.max_abs_error < 1e-6, "{}: {}", o.name, o.max_abs_error);
    }
    assert!(wide.trace.ops.iter().all(|o| o.hazards.is_empty()));
    assert!(
        load("pond-int128").warnings.is_empty(),
        "σ = 43 needs no opt-in"
    );
    // The same data under tf-encrypted's 64-bit preset: hazards and errors 10^4 times larger.
    let text = std::fs::read_to_string(scenarios_dir().join("pond-int128.ron")).unwrap();
    let narrow = text.replace(
        "fixed_point: (ring_bits: 128, frac_bits: 32, int_bits: 20),",
        "fixed_point: (frac_bits: 16, int_bits: 11, weak_security: true),",
    );
    assert_ne!(narrow, text);
    let plan = scenario::load_source(&scenario::Source {
        name: "pond-int128 at 64 bits".into(),
        dir: scenarios_dir(),
        text: narrow,
    })
    .unwrap();
    let r = sim::run(&plan).unwrap();
    for (o, w) in r.outputs.iter().zip(&wide.outputs) {
        assert!(
            o.max_abs_error > 1e3 * w.max_abs_error,
            "{}: {} at 64 bits, {} at 128",
            o.name,
            o.max_abs_error,
            w.max_abs_error
        );
    }
    assert!(!op(&r, "energy").hazards.is_empty());
    // Every element costs 16 bytes instead of 8; seeds stay 32.
    let (b64, b128) = (
        op(&r, "energy").stats.bytes,
        op(&wide, "energy").stats.bytes,
    );
    assert_eq!(b128, 2 * b64);
}

#[test]
fn softmax_and_division_shows_the_op_set_within_its_stated_accuracy() {
    let r = run("softmax-and-division");
    // Exact comparisons inside: the softmax's rows sum to 1, its error is the approximations'.
    let probs = op(&r, "probs");
    assert!(probs.hazards.is_empty(), "{:?}", probs.hazards);
    for row in probs.reconstructed.chunks(5) {
        let sum: f64 = row.iter().sum();
        assert!((sum - 1.0).abs() < 5e-3, "a row sums to {sum}");
    }
    let err = |name: &str| {
        let o = op(&r, name);
        o.reconstructed
            .iter()
            .zip(&o.plaintext)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max)
    };
    assert!(err("probs") < 3e-3, "probs: {}", err("probs"));
    assert!(err("abs") < 1e-3, "abs: {}", err("abs"));
    assert!(err("unit") < 5e-3, "unit: {}", err("unit"));
    assert!(err("inv_std") < 5e-3, "inv_std: {}", err("inv_std"));
    // The softmax runs inside its call: its steps' paths start with it.
    let steps = &r.trace.steps[probs.first_step..probs.end_step];
    assert!(steps
        .iter()
        .all(|s| s.path.first().map(String::as_str) == Some("softmax")));
}

#[test]
fn backprop_cnn_layer_runs_the_gradient_ops_close_to_the_shadow() {
    let r = run("backprop-cnn-layer");
    let err = |name: &str| {
        let o = op(&r, name);
        assert_eq!(o.reconstructed.len(), o.plaintext.len(), "{name}");
        o.reconstructed
            .iter()
            .zip(&o.plaintext)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max)
    };
    // DMaxPool routes dpool exactly (0/1 one-hot, no truncation): its error is dpool's.
    assert!(err("dconv") <= err("dpool"), "dconv {}", err("dconv"));
    for (name, tol) in [
        ("dconv", 1e-4),
        ("avg_dconv", 1e-4),
        ("dfilters", 5e-4),
        ("dimages", 1e-4),
        ("filters_next", 1e-4),
    ] {
        assert!(err(name) < tol, "{name}: {}", err(name));
        assert!(op(&r, name).hazards.is_empty(), "{name}");
    }
    // The gradient at the maxima only: at most one nonzero per 2×2 window of each channel.
    let dconv = &op(&r, "dconv").plaintext;
    let nonzero = dconv.iter().filter(|v| **v != 0.0).count();
    assert!(nonzero <= dconv.len() / 4, "{nonzero} of {}", dconv.len());
    // The conv gradients reuse the forward conv's masks of images and filters: dimages opens
    // nothing fresh (dconv was masked by dfilters), so it only truncates (2·8·128 B).
    assert_eq!(op(&r, "dimages").stats.bytes, 2 * 8 * 128);
}
