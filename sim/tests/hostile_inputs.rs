//! Hostile scenario input (issue 8): numbers that overflow sizes, hostile `.npy` headers, special
//! files, memory the run would need and clock values that do not fit. Each is refused with a
//! located error (file:line:col, what is wrong, what to do) — never a panic, an abort or a hang.

use sim::scenario::{load_source, Source};
use sim::ScenarioError;
use std::path::PathBuf;

/// A small valid scenario; each test replaces one piece of it.
const BASE: &str = r#"Scenario(
    name: "hostile", truncation: Local,
    roles: (input_providers: ["alice"], output_receivers: ["bob"]),
    seed: 1,
    inputs: [
        (name: "x", owner: "alice", shape: [1, 1, 2, 2], data: Values([1.0, 2.0, 3.0, 4.0])),
        (name: "w", owner: "alice", shape: [1, 1, 1, 1], data: Values([0.5])),
    ],
    program: [
        (name: "y", op: Conv2d(input: "x", filters: "w")),
    ],
    outputs: [(name: "y", to: "bob")],
)
"#;

fn source(text: &str) -> Source {
    Source {
        name: "hostile.ron".into(),
        dir: std::env::temp_dir(),
        text: text.into(),
    }
}

/// `BASE` with `from` (which must occur exactly once) replaced by `to`.
fn edit(from: &str, to: &str) -> String {
    assert_eq!(BASE.matches(from).count(), 1, "`{from}` must occur once");
    BASE.replace(from, to)
}

/// The scenario error `text` gives; it must be located on a line of `text`.
fn error_of(text: &str) -> ScenarioError {
    let e = match load_source(&source(text)) {
        Ok(_) => panic!("expected an error, the scenario loaded:\n{text}"),
        Err(sim::SimError::Scenario(e)) => e,
        Err(other) => panic!("expected a scenario error, got {other}"),
    };
    assert_eq!(e.file, "hostile.ron");
    assert!(e.line > 0 && e.col > 0, "unlocated error: {e}");
    assert_eq!(e.line_text, text.lines().nth(e.line - 1).unwrap_or(""));
    assert!(!e.hint.is_empty(), "{e}");
    e
}

/// The text under the reported column.
fn pointed(e: &ScenarioError) -> String {
    e.line_text.chars().skip(e.col - 1).collect()
}

#[test]
fn the_base_scenario_is_valid() {
    load_source(&source(BASE)).unwrap_or_else(|e| panic!("{e}"));
}

// ---- Finding 3: shape products overflow usize ----

#[test]
fn a_reshape_whose_element_count_overflows_is_refused_at_the_op() {
    // 3 · 12297829382473034411 = 2 · 2^64 + 1: a wrapping product says 1 element, as `w` has.
    let e = error_of(&edit(
        r#"(name: "y", op: Conv2d(input: "x", filters: "w")),"#,
        r#"(name: "y", op: Reshape(input: "w", shape: [3, 12297829382473034411])),"#,
    ));
    assert!(e.message.contains("cannot reshape"), "{e}");
    assert!(e.message.contains("more than"), "{e}");
    assert!(pointed(&e).starts_with("Reshape("), "{e}");
}

#[test]
fn a_conv2d_padding_whose_output_overflows_is_refused_at_the_op() {
    let e = error_of(&edit(
        r#"Conv2d(input: "x", filters: "w")"#,
        r#"Conv2d(input: "x", filters: "w", padding: 2147483647)"#,
    ));
    assert!(e.message.starts_with("`y`: "), "{e}");
    assert!(e.message.contains("more than"), "{e}");
    assert!(pointed(&e).starts_with("Conv2d("), "{e}");
    // A padding that fits the element count but not the limit is refused by the limit.
    let e = error_of(&edit(
        r#"Conv2d(input: "x", filters: "w")"#,
        r#"Conv2d(input: "x", filters: "w", padding: 100000)"#,
    ));
    assert!(e.message.contains("more than 16777216 elements"), "{e}");
}

#[test]
fn a_huge_input_shape_is_refused_not_wrapped() {
    let e = error_of(&edit(
        "shape: [1, 1, 1, 1]",
        "shape: [4294967296, 4294967296, 1, 1]",
    ));
    assert!(e.message.contains("more than 16777216 elements"), "{e}");
}

// ---- Findings 6 and 7: hostile .npy files and special files ----

/// A fresh directory for one test's files.
fn temp_dir(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sharescope-hostile-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A version-1 `.npy` file with header text `h` and `data`.
fn npy_with_header(h: &str, data: &[u8]) -> Vec<u8> {
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((h.len() as u16).to_le_bytes());
    out.extend(h.as_bytes());
    out.extend(data);
    out
}

/// `BASE` with input `x` read from `path`, loaded from `dir`, on another thread: the error it
/// gives within 20 s (a hang fails the test instead of hanging it).
fn npy_error(dir: &std::path::Path, path: &str) -> ScenarioError {
    let text = edit(
        "data: Values([1.0, 2.0, 3.0, 4.0])",
        &format!("data: Npy({path:?})"),
    );
    let src = Source {
        name: "hostile.ron".into(),
        dir: dir.to_path_buf(),
        text: text.clone(),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(load_source(&src).map(|_| ()));
    });
    let e = match rx.recv_timeout(std::time::Duration::from_secs(20)) {
        Ok(Err(sim::SimError::Scenario(e))) => e,
        Ok(other) => panic!("expected a scenario error, got {other:?}"),
        Err(_) => panic!("loading {path} hangs"),
    };
    assert_eq!(e.line_text, text.lines().nth(e.line - 1).unwrap_or(""));
    assert!(pointed(&e).starts_with(&format!("{path:?}")), "{e}");
    e
}

#[test]
fn malformed_npy_shapes_are_located_errors_not_panics() {
    let dir = temp_dir("npy-shapes");
    for (file, header) in [
        (
            "paren.npy",
            "{'descr': '<f8', 'fortran_order': False, 'shape': ), }",
        ),
        (
            "utf8.npy",
            "{'descr': '<f8', 'fortran_order': False, 'shape': é4,), }",
        ),
        (
            "wraps.npy",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 2), }",
        ),
    ] {
        std::fs::write(dir.join(file), npy_with_header(header, &[])).unwrap();
        let e = npy_error(&dir, file);
        assert!(e.message.starts_with("input `x`: "), "{e}");
        assert!(e.message.contains(file), "{e}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_npy_file_longer_than_its_header_promises_is_refused() {
    let dir = temp_dir("npy-long");
    let mut bytes = sim::npy::write_npy_bytes(&[4], &[1.0, 2.0, 3.0, 4.0]);
    bytes.extend([0u8; 8]);
    std::fs::write(dir.join("long.npy"), bytes).unwrap();
    let e = npy_error(&dir, "long.npy");
    assert!(e.message.contains("data holds 40 bytes"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[cfg(unix)]
#[test]
fn special_files_as_npy_data_are_refused_without_reading_them() {
    let e = npy_error(std::path::Path::new("/"), "/dev/zero");
    assert!(
        e.message.contains("character device, not a regular file"),
        "{e}"
    );
    let dir = temp_dir("npy-fifo");
    let fifo = dir.join("pipe.npy");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        let e = npy_error(&dir, "pipe.npy");
        assert!(e.message.contains("FIFO"), "{e}");
    }
    let e = npy_error(&dir, ".");
    assert!(e.message.contains("directory"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

/// `sim::scenario::load(path)` on another thread: its error within 20 s.
fn load_error(path: &std::path::Path) -> String {
    let p = path.to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(sim::scenario::load(&p).map(|_| ()));
    });
    match rx.recv_timeout(std::time::Duration::from_secs(20)) {
        Ok(Err(e @ sim::SimError::Io { .. })) => e.to_string(),
        Ok(other) => panic!("expected an I/O error, got {other:?}"),
        Err(_) => panic!("loading {} hangs", path.display()),
    }
}

#[cfg(unix)]
#[test]
fn special_files_as_the_scenario_are_refused_without_reading_them() {
    let e = load_error(std::path::Path::new("/dev/zero"));
    assert!(e.starts_with("/dev/zero: "), "{e}");
    assert!(e.contains("character device, not a regular file"), "{e}");
    let dir = temp_dir("scenario-fifo");
    let fifo = dir.join("pipe.ron");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        let e = load_error(&fifo);
        assert!(e.contains("FIFO"), "{e}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_scenario_file_over_the_maximum_size_is_refused_before_it_is_read() {
    let dir = temp_dir("scenario-big");
    let big = dir.join("big.ron");
    // Sparse: no disk space, and never read.
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(sim::scenario::MAX_SCENARIO_BYTES + 1).unwrap();
    let e = load_error(&big);
    assert!(e.contains("more than the 67108864 accepted"), "{e}");
    assert!(e.contains(".npy"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

// ---- Finding 8: virtual time ----

#[test]
fn latencies_and_jitters_the_virtual_clock_cannot_hold_are_refused_where_written() {
    // 18446744073709552 µs = 2^64 ns + 385 ns: the run used to report "virtual time 1.7 µs".
    let e = error_of(&edit(
        "seed: 1,",
        "seed: 1, network: (default: (latency_us: 18446744073709552)),",
    ));
    assert!(
        e.message.contains("latency_us = 18446744073709552 µs"),
        "{e}"
    );
    assert!(e.message.contains("at most 1000000000000 µs"), "{e}");
    assert!(pointed(&e).starts_with("18446744073709552"), "{e}");
    let e = error_of(&edit(
        "seed: 1,",
        "seed: 1, network: (default: (jitter_us: 18446744073709551615)),",
    ));
    assert!(e.message.contains("jitter_us"), "{e}");
    assert!(pointed(&e).starts_with("18446744073709551615"), "{e}");
    let e = error_of(&edit(
        "seed: 1,",
        r#"seed: 1, network: (links: [(from: "alice", to: "server0", latency_us: 1_000_000_000_001)]),"#,
    ));
    assert!(
        e.message.starts_with("link alice → server0: latency_us"),
        "{e}"
    );
    assert!(pointed(&e).starts_with("1_000_000_000_001"), "{e}");
    // The largest accepted values, and any bandwidth, run with a finite clock.
    let text = edit(
        "seed: 1,",
        "seed: 1, network: (default: (latency_us: 1_000_000_000_000, jitter_us: 1_000_000_000_000, bandwidth_bps: 1)),",
    );
    let plan = load_source(&source(&text)).unwrap_or_else(|e| panic!("{e}"));
    let r = sim::run(&plan).unwrap_or_else(|e| panic!("{e}"));
    let t = r.totals.virtual_time_ns;
    assert!((2 * 1_000_000_000_000_000..u64::MAX).contains(&t), "{t}");
}

#[test]
fn a_cost_model_the_virtual_clock_cannot_hold_is_refused() {
    for v in ["1e300", "1000000.5"] {
        let e = error_of(&edit(
            "seed: 1,",
            &format!("seed: 1, timing: Model(ns_per_ring_op: {v}),"),
        ));
        assert!(e.message.contains("from 0 to 1000000"), "{e}");
        assert!(pointed(&e).starts_with(v), "{e}");
    }
}

// ---- Finding 5 (part): input data is produced when a run starts ----

#[test]
fn an_npy_file_that_changes_after_validation_fails_the_run_cleanly() {
    let dir = temp_dir("npy-changed");
    let x = dir.join("x.npy");
    std::fs::write(
        &x,
        sim::npy::write_npy_bytes(&[1, 1, 2, 2], &[1.0, 2.0, 3.0, 4.0]),
    )
    .unwrap();
    let text = edit(
        "data: Values([1.0, 2.0, 3.0, 4.0])",
        r#"data: Npy("x.npy")"#,
    );
    let src = Source {
        name: "hostile.ron".into(),
        dir: dir.clone(),
        text,
    };
    let plan = load_source(&src).unwrap_or_else(|e| panic!("{e}"));
    assert!(sim::run(&plan).is_ok());
    std::fs::write(&x, sim::npy::write_npy_bytes(&[3], &[1.0, 2.0, 3.0])).unwrap();
    let e = sim::run(&plan).expect_err("the file changed");
    assert!(matches!(e, sim::SimError::Io { .. }), "{e}");
    assert!(
        e.to_string().contains("changed since it was validated"),
        "{e}"
    );
    std::fs::write(
        &x,
        sim::npy::write_npy_bytes(&[1, 1, 2, 2], &[1.0, f64::NAN, 3.0, 4.0]),
    )
    .unwrap();
    let e = sim::run(&plan).expect_err("the file changed");
    assert!(e.to_string().contains("now contains NaN"), "{e}");
    // The debugger's controller reports it as a failed run.
    let ctl = sim::control::Controller::new(plan);
    assert!(
        matches!(ctl.state(), sim::control::RunState::Failed(m) if m.contains("changed")),
        "{:?}",
        ctl.state()
    );
    std::fs::remove_dir_all(&dir).ok();
}

// ---- Finding 5: the memory budget ----

/// The error loading `text` under a 16 GiB budget gives.
fn budget_error(text: &str) -> ScenarioError {
    let budget = sim::memory::MemoryBudget::given(16 << 30);
    match sim::scenario::load_source_with_budget(&source(text), budget) {
        Err(sim::SimError::Scenario(e)) => {
            assert_eq!(e.line_text, text.lines().nth(e.line - 1).unwrap_or(""));
            assert!(e.message.contains("16.0 GiB (--memory-limit)"), "{e}");
            assert!(e.hint.contains("--memory-limit SIZE"), "{e}");
            e
        }
        Ok(p) => panic!("accepted, estimated at {} bytes", p.memory),
        Err(e) => panic!("expected a scenario error, got {e}"),
    }
}

#[test]
fn two_hundred_private_adds_of_huge_tensors_are_refused_at_the_op_that_overflows_the_budget() {
    // Each result is 2^24 elements on both servers (and in the shadow): 7.5 GB aborted `run`.
    let adds: Vec<String> = (0..200)
        .map(|i| {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("s{}", i - 1)
            };
            format!("        (name: \"s{i}\", op: Add(\"{prev}\", \"a\")),\n")
        })
        .collect();
    let text = format!(
        "Scenario(\n    name: \"adds\", seed: 1,\n    roles: (input_providers: [\"alice\"]),\n    inputs: [(name: \"a\", owner: \"alice\", shape: [16777216], data: Random(Uniform(0.0, 1.0)))],\n    program: [\n{}    ],\n)\n",
        adds.concat()
    );
    let e = budget_error(&text);
    assert!(e.message.contains("by `s"), "{e}");
    assert!(pointed(&e).starts_with("Add("), "{e}");
    // Well before the 200th.
    assert!(e.line < 6 + 60, "{e}");
}

#[test]
fn a_conv2d_whose_im2col_buffer_exceeds_the_budget_is_refused_at_the_op() {
    // Every tensor is within 2^24 elements, but the patch matrix is 4096 × 16,265,089 elements
    // (533 GB) on each of three parties.
    let e = budget_error(&edit(
        r#"(name: "x", owner: "alice", shape: [1, 1, 2, 2], data: Values([1.0, 2.0, 3.0, 4.0])),
        (name: "w", owner: "alice", shape: [1, 1, 1, 1], data: Values([0.5])),"#,
        r#"(name: "x", owner: "alice", shape: [1, 1, 4096, 4096], data: Random(Uniform(0.0, 1.0))),
        (name: "w", owner: "alice", shape: [1, 1, 64, 64], data: Random(Uniform(0.0, 1.0))),"#,
    ));
    assert!(e.message.contains("by `y`"), "{e}");
    assert!(e.message.contains(" TiB"), "{e}");
    assert!(pointed(&e).starts_with("Conv2d("), "{e}");
}

#[test]
fn the_estimate_is_in_the_plan_and_small_plans_fit_small_budgets() {
    let plan = load_source(&source(BASE)).unwrap_or_else(|e| panic!("{e}"));
    assert!(plan.memory > 0 && plan.memory < 1 << 30, "{}", plan.memory);
    let tight = sim::memory::MemoryBudget::given(plan.memory);
    assert!(sim::scenario::load_source_with_budget(&source(BASE), tight).is_ok());
    let under = sim::memory::MemoryBudget::given(plan.memory - 1);
    let Err(sim::SimError::Scenario(e)) =
        sim::scenario::load_source_with_budget(&source(BASE), under)
    else {
        panic!("a budget one byte short must refuse")
    };
    assert!(e.message.contains("(--memory-limit)"), "{e}");
}

#[test]
fn more_parties_than_a_run_can_have_are_refused_before_anything_is_allocated_for_them() {
    // 30,000 input providers used to allocate a 30,000² link matrix (29 GB) and abort.
    let names: Vec<String> = (0..30_000).map(|i| format!("\"p{i}\"")).collect();
    let text = edit(
        r#"roles: (input_providers: ["alice"], output_receivers: ["bob"]),"#,
        &format!(
            "roles: (input_providers: [\"alice\", {}], output_receivers: [\"bob\"]),",
            names.join(", ")
        ),
    );
    let e = error_of(&text);
    assert!(e.message.contains("more than the 64 a run can have"), "{e}");
    assert!(pointed(&e).starts_with("\"p60\""), "{e}");
}
