//! The real `sharescope` binary: exit codes 0 / 1 / 2, what `run` prints, the JSON report's
//! schema, `check`, and the errors a user sees.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(name)
}

fn sharescope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sharescope"))
        .args(args)
        .output()
        .expect("the sharescope binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A path in the temp dir unique to this process and call.
fn temp_path(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("sharescope-cli-{}-{n}-{name}", std::process::id()))
}

#[test]
fn run_prints_outputs_the_op_table_and_totals() {
    let path = scenario("beaver-multiplication.ron");
    let o = sharescope(&["run", path.to_str().unwrap()]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{}", stderr(&o));
    assert!(
        out.contains("scenario beaver-multiplication  (protocol pond, seed 42)"),
        "{out}"
    );
    // The output, revealed to carol, next to the plaintext shadow.
    assert!(out.contains("z → carol"), "{out}");
    assert!(
        out.contains("secure     [3.0000, -9.0000, -4.5000, 1.2500]"),
        "{out}"
    );
    assert!(
        out.contains("plaintext  [3.0000, -9.0000, -4.5000, 1.2500]"),
        "{out}"
    );
    assert!(out.contains("max |error|"), "{out}");
    // The per-op table: a header and one row per op.
    let header = out
        .lines()
        .find(|l| l.starts_with("op "))
        .expect("table header");
    for col in [
        "kind",
        "online",
        "offline",
        "msgs",
        "rounds",
        "virt. time",
        "max |err|",
    ] {
        assert!(header.contains(col), "missing column {col}: {header}");
    }
    for row in ["input x", "input y", "output z"] {
        assert!(
            out.lines().any(|l| l.starts_with(row)),
            "no row {row}:\n{out}"
        );
    }
    assert!(
        out.lines()
            .any(|l| l.starts_with("z ") && l.contains(" mul ")),
        "no row for z:\n{out}"
    );
    assert!(out.lines().any(|l| l.starts_with("total: ")), "{out}");
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}

#[test]
fn no_arguments_runs_the_builtin_scenario_headless_when_not_on_a_terminal() {
    let o = sharescope(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("scenario beaver-multiplication"));
}

/// Issue 11: the JSON report is bounded by default (the first `trace.max_values` values of each
/// output, with the count) and complete with `--values all`. Before, it always wrote every
/// value (56 MB for a product of 10^6).
#[test]
fn run_json_bounds_output_values_unless_values_all() {
    let path = scenario("bench/w2-matmul.ron");
    let report = |extra: &[&str]| -> Value {
        let json_path = temp_path("bounded.json");
        let mut args = vec![
            "run",
            path.to_str().unwrap(),
            "--json",
            json_path.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = sharescope(&args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let text = std::fs::read_to_string(&json_path).expect("the JSON report was written");
        std::fs::remove_file(&json_path).ok();
        serde_json::from_str(&text).expect("valid JSON")
    };
    let bounded = report(&[]);
    let c = &bounded["outputs"]["C"];
    assert_eq!(c["count"], 65536);
    assert_eq!(c["complete"], false);
    assert_eq!(c["values"].as_array().unwrap().len(), 256);
    assert_eq!(c["plaintext"].as_array().unwrap().len(), 256);
    let all = report(&["--values", "all"]);
    let c_all = &all["outputs"]["C"];
    assert_eq!(c_all["complete"], true);
    assert_eq!(c_all["values"].as_array().unwrap().len(), 65536);
    // The bounded values are the full report's first ones.
    assert_eq!(c["values"][255], c_all["values"][255]);
    assert_eq!(c["max_abs_error"], c_all["max_abs_error"]);
    let o = sharescope(&["run", path.to_str().unwrap(), "--values", "some"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "a wrong --values is the user's error"
    );
}

#[test]
fn run_json_writes_the_documented_report() {
    let path = scenario("beaver-multiplication.ron");
    let json_path = temp_path("report.json");
    let o = sharescope(&[
        "run",
        path.to_str().unwrap(),
        "--json",
        json_path.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(&json_path).expect("the JSON report was written");
    std::fs::remove_file(&json_path).ok();
    let r: Value = serde_json::from_str(&text).expect("valid JSON");

    assert_eq!(r["seed"], 42);
    assert_eq!(r["scenario"], "beaver-multiplication");

    let z = &r["outputs"]["z"];
    assert_eq!(z["receiver"], "carol");
    let num = |v: &Value| v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"));
    let plaintext: Vec<f64> = z["plaintext"].as_array().unwrap().iter().map(num).collect();
    assert_eq!(plaintext, vec![3.0, -9.0, -4.5, 1.25]);
    let values: Vec<f64> = z["values"].as_array().unwrap().iter().map(num).collect();
    for (v, p) in values.iter().zip(&plaintext) {
        assert!((v - p).abs() < 1e-4, "{v} vs {p}");
    }
    assert!(num(&z["max_abs_error"]) < 1e-4);

    let ops = r["ops"].as_array().expect("ops is a list");
    let names: Vec<&str> = ops.iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["input x", "input y", "z", "output z"]);
    for op in ops {
        for key in [
            "name",
            "kind",
            "bytes",
            "offline_bytes",
            "messages",
            "rounds",
            "virtual_time_us",
            "max_abs_error",
        ] {
            assert!(op.get(key).is_some(), "op {} lacks `{key}`", op["name"]);
        }
    }
    let mul = &ops[2];
    assert_eq!(mul["kind"], "mul");
    assert!(
        mul["offline_bytes"].as_u64().unwrap() > 0,
        "the triple is offline traffic"
    );
    assert!(mul["rounds"].as_u64().unwrap() >= 1);

    let t = &r["totals"];
    for key in [
        "bytes",
        "offline_bytes",
        "messages",
        "rounds",
        "virtual_time_us",
        "wall_time_us",
    ] {
        assert!(t.get(key).is_some(), "totals lack `{key}`");
    }
    let sum = |k: &str| ops.iter().map(|o| o[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!(t["bytes"].as_u64().unwrap(), sum("bytes"));
    assert_eq!(t["offline_bytes"].as_u64().unwrap(), sum("offline_bytes"));
    assert_eq!(t["messages"].as_u64().unwrap(), sum("messages"));
    assert!(num(&t["wall_time_us"]) > 0.0);
}

#[test]
fn run_seed_overrides_the_scenarios_seed() {
    let path = scenario("beaver-multiplication.ron");
    let json_path = temp_path("seeded.json");
    let o = sharescope(&[
        "run",
        path.to_str().unwrap(),
        "--seed",
        "7",
        "--json",
        json_path.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains(", seed 7)"));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    std::fs::remove_file(&json_path).ok();
    assert_eq!(r["seed"], 7);
}

#[test]
fn run_json_to_an_unwritable_place_is_a_user_error() {
    let path = scenario("beaver-multiplication.ron");
    let dir = std::env::temp_dir(); // a directory, not a file
    let o = sharescope(&[
        "run",
        path.to_str().unwrap(),
        "--json",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cannot write the JSON report"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn check_accepts_a_valid_scenario() {
    let path = scenario("private-matmul.ron");
    let o = sharescope(&["check", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains(": ok"), "{out}");
    // It lists every value with its shape.
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with("logits") && l.contains("[16, 8]")),
        "{out}"
    );
    // In program order, with the kind of op that makes each value (they were sorted by name).
    let mlp = scenario("mlp.ron");
    let out = stdout(&sharescope(&["check", mlp.to_str().unwrap()]));
    let names: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names.first(), Some(&"x"), "{out}");
    assert_eq!(names.last(), Some(&"logits"), "{out}");
    let h1 = out
        .lines()
        .find(|l| l.trim_start().starts_with("h1 "))
        .unwrap();
    assert!(h1.contains("relu") && h1.contains("[4, 32]"), "{h1}");
    let pos = |n: &str| names.iter().position(|&m| m == n).unwrap();
    assert!(
        pos("h1_lin") < pos("h1_pre") && pos("h1_pre") < pos("h1") && pos("h1") < pos("h2_lin")
    );
}

#[test]
fn check_prints_the_cost_a_run_then_accounts_without_running() {
    for name in [
        "mlp-securenn.ron",
        "logistic-regression.ron",
        "securenn-shortcut.ron",
    ] {
        let path = scenario(name);
        let p = path.to_str().unwrap();
        let o = sharescope(&["check", p, "--json", "-"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        // The text goes to standard error when the JSON takes standard output.
        let text = stderr(&o);
        assert!(text.contains("cost estimate"), "{text}");
        assert!(
            text.contains("msgs on") && text.contains("rounds"),
            "{text}"
        );
        let est: Value = serde_json::from_str(&stdout(&o)).expect("check --json - is JSON");
        let run: Value = serde_json::from_str(&stdout(&sharescope(&["run", p, "--json", "-"])))
            .expect("run --json - is JSON");
        let fields = [
            "bytes",
            "offline_bytes",
            "messages",
            "offline_messages",
            "rounds",
        ];
        let (e_ops, r_ops) = (
            est["ops"].as_array().unwrap(),
            run["ops"].as_array().unwrap(),
        );
        assert_eq!(e_ops.len(), r_ops.len(), "{name}");
        for (e, r) in e_ops.iter().zip(r_ops) {
            assert_eq!(e["name"], r["name"]);
            for f in fields {
                assert_eq!(e[f], r[f], "{name}: op {} field {f}", e["name"]);
            }
        }
        for f in fields.iter().chain(&["offline_rounds"]) {
            assert_eq!(est["totals"][f], run["totals"][f], "{name}: total {f}");
        }
        // The text table shows the same totals.
        let rounds = run["totals"]["rounds"].as_u64().unwrap();
        assert!(
            text.contains(&format!("{rounds} rounds online (the run's causal depth")),
            "{text}"
        );
    }
}

#[test]
fn check_rejects_a_typo_with_file_line_column_and_a_hint() {
    let text = std::fs::read_to_string(scenario("beaver-multiplication.ron"))
        .unwrap()
        .replace("latency_us: 100", "latncy_us: 100");
    let bad = temp_path("typo.ron");
    std::fs::write(&bad, &text).unwrap();
    let o = sharescope(&["check", bad.to_str().unwrap()]);
    std::fs::remove_file(&bad).ok();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    let (line_no, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains("latncy_us"))
        .unwrap();
    let col = line.find("latncy_us").unwrap() + 1;
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "error: {}:{}:{col}: unknown field `latncy_us` in `LinkConfig`",
            bad.display(),
            line_no + 1
        ),
        "{err}"
    );
    assert_eq!(lines[1], format!("{} | {line}", line_no + 1), "{err}");
    assert_eq!(
        lines[2].find('^'),
        Some(format!("{} | ", line_no + 1).len() + col - 1),
        "{err}"
    );
    assert!(
        lines[3].starts_with("hint: did you mean `latency_us`?"),
        "{err}"
    );
    assert!(stdout(&o).is_empty());
}

#[test]
fn run_rejects_an_invalid_scenario_before_running_it() {
    let text = std::fs::read_to_string(scenario("beaver-multiplication.ron"))
        .unwrap()
        .replace("Mul(\"x\", \"y\")", "Mul(\"x\", \"yy\")");
    let bad = temp_path("unknown-name.ron");
    std::fs::write(&bad, &text).unwrap();
    let o = sharescope(&["run", bad.to_str().unwrap()]);
    std::fs::remove_file(&bad).ok();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("`z` uses `yy`, which is not defined before it (did you mean `y`?)"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty(), "nothing ran: {}", stdout(&o));
}

#[test]
fn a_missing_file_is_a_clear_user_error() {
    for cmd in ["run", "check"] {
        let o = sharescope(&[cmd, "no/such/scenario.ron"]);
        assert_eq!(o.status.code(), Some(1), "{cmd}");
        let err = stderr(&o);
        assert!(
            err.starts_with("error: no/such/scenario.ron: no such scenario file"),
            "{cmd}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn a_wrong_command_line_is_a_user_error_not_an_internal_one() {
    let o = sharescope(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let o = sharescope(&["run"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let o = sharescope(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("run"));
}

#[test]
fn the_deadlock_scenario_exits_1_naming_who_waits_for_whom() {
    let path = scenario("deadlock-held-link.ron");
    let o = sharescope(&["run", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(err.starts_with("error: deadlock in op `z`: "), "{err}");
    // The held link server1 → server0 leaves the two servers waiting for each other: a cycle.
    assert!(err.contains("server0 waits for server1"), "{err}");
    assert!(err.contains("server1 waits for server0"), "{err}");
    assert!(err.contains("cycle"), "{err}");
    // `check` only validates: the scenario itself is well formed.
    let o = sharescope(&["check", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn leak_exits_3_on_a_leak_naming_op_step_message_and_feature() {
    let path = scenario("planted-mask-reuse.ron");
    let json = temp_path("leak.json");
    let o = sharescope(&[
        "leak",
        path.to_str().unwrap(),
        "--runs",
        "20",
        "--party",
        "server1",
        "--json",
        json.to_str().unwrap(),
    ]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(3), "{out}\n{}", stderr(&o));
    assert!(out.contains("warning: PLANTED FLAW"), "{out}");
    assert!(out.contains("server1"), "{out}");
    assert!(
        out.contains("LEAK op `z` step 3 “open masked inputs”: difference of opened"),
        "{out}"
    );
    assert!(out.contains("verdict: LEAK"), "{out}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let _ = std::fs::remove_file(&json);
    assert_eq!(report["leak"], true);
    assert_eq!(report["runs"], 20);
    let party = &report["parties"][0];
    assert_eq!(party["party"], "server1");
    let f = &party["findings"][0];
    assert_eq!(f["op_name"], "z");
    assert!(f["p"].as_f64().unwrap() < 1e-6, "{f}");
}

#[test]
fn leak_exits_0_without_evidence_and_1_on_user_errors() {
    let path = scenario("beaver-multiplication.ron");
    let p = path.to_str().unwrap();
    let o = sharescope(&["leak", p, "--runs", "10", "--alt", "redraw"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{}", stderr(&o));
    assert!(out.contains("verdict: no evidence of a leak"), "{out}");
    assert!(out.contains("left out: the party's output"), "{out}");
    // A party that is not in the scenario.
    let o = sharescope(&["leak", p, "--party", "sever0"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains("--party") && err.contains("did you mean `server0`"),
        "{err}"
    );
    // An alternative file whose inputs do not match: located in that file.
    let alt = scenario("private-matmul.ron");
    let o = sharescope(&["leak", p, "--alt", alt.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(err.contains("private-matmul.ron:"), "{err}");
    assert!(err.contains("has no input `x`"), "{err}");
    // A missing alternative file, too few runs, a scenario whose runs fail.
    let o = sharescope(&["leak", p, "--alt", "no-such.ron"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let o = sharescope(&["leak", p, "--runs", "1"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("--runs"), "{}", stderr(&o));
    let fault = scenario("fault-server-panics.ron");
    let o = sharescope(&["leak", fault.to_str().unwrap(), "--runs", "2"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked at"), "{}", stderr(&o));
}

#[test]
fn compare_refuses_held_links_and_faults_instead_of_dropping_them() {
    // It used to replace the network and exit 0 on the held link.
    for (name, line, what) in [
        ("deadlock-held-link.ron", ":30:53:", "this link is held"),
        ("fault-server-panics.ron", ":37:9:", "injects faults"),
    ] {
        let path = scenario(name);
        let o = sharescope(&["compare", path.to_str().unwrap(), "--protocols", "pond"]);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains(line) && e.contains(what), "{name}: {e}");
    }
}

#[test]
fn a_dash_writes_the_json_to_standard_output_and_the_report_to_standard_error() {
    let path = scenario("beaver-multiplication.ron");
    let o = sharescope(&["run", path.to_str().unwrap(), "--json", "-"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: Value = serde_json::from_str(&stdout(&o)).expect("stdout is one JSON document");
    assert_eq!(r["scenario"], "beaver-multiplication");
    assert!(stderr(&o).contains("scenario beaver-multiplication"));
    assert!(!std::path::Path::new("-").exists(), "no file named `-`");
    // The Chrome trace too; but not both on one stdout.
    let o = sharescope(&["run", path.to_str().unwrap(), "--chrome-trace", "-"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let _: Value = serde_json::from_str(&stdout(&o)).expect("a trace-event document");
    let o = sharescope(&[
        "run",
        path.to_str().unwrap(),
        "--json",
        "-",
        "--chrome-trace",
        "-",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("only one of --json and --chrome-trace"));
}

#[test]
fn debug_without_a_terminal_reports_a_missing_file_first() {
    let o = sharescope(&["debug", "nosuch.ron"]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("nosuch.ron") && e.contains("no such scenario file"),
        "{e}"
    );
    // A valid scenario still gets the terminal message.
    let path = scenario("beaver-multiplication.ron");
    let o = sharescope(&["debug", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("needs a terminal"), "{}", stderr(&o));
}

#[test]
fn strict_fails_a_run_with_a_hazard_or_an_output_off_by_more_than_the_tolerance() {
    // It used to exit 0 whatever the error.
    let pond = scenario("digits-mlp-pond.ron");
    let o = sharescope(&["run", pond.to_str().unwrap(), "--strict"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("hazard") && e.contains("output `logits`"), "{e}");
    assert!(stdout(&o).contains("total:"), "the report is still printed");
    // One ulp of error shows in the report, and fails a zero tolerance only.
    let shortcut = scenario("securenn-shortcut.ron");
    let o = sharescope(&["run", shortcut.to_str().unwrap(), "--strict"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("max |error| 1.526e-5 (1.0 ulp)"),
        "{}",
        stdout(&o)
    );
    let o = sharescope(&["run", shortcut.to_str().unwrap(), "--strict", "0"]);
    assert_eq!(o.status.code(), Some(4));
    let o = sharescope(&["run", shortcut.to_str().unwrap(), "--strict", "-1"]);
    assert_eq!(o.status.code(), Some(1));
    // Without --strict nothing changes.
    let o = sharescope(&["run", pond.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
}

/// The op rows of a text report's op table: (name, kind, online bytes, virtual time).
fn op_rows(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .skip_while(|l| !l.starts_with("op "))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter(|l| !l.trim_start().starts_with('⚠'))
        .map(|l| {
            l.split("  ")
                .filter(|c| !c.is_empty())
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

#[test]
fn a_failed_run_prints_the_partial_report_then_the_error_with_the_same_exit_code() {
    // A fault: server1 panics at the start of `h`. `input x`, `input y` and `g` completed.
    let path = scenario("fault-server-panics.ron");
    let o = sharescope(&["run", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let (out, err) = (stdout(&o), stderr(&o));
    assert!(out.starts_with("PARTIAL REPORT: the run failed"), "{out}");
    assert!(out.contains("3 op(s) completed before it"), "{out}");
    assert!(out.contains("op `h` did not complete"), "{out}");
    let names: Vec<String> = op_rows(&out).iter().map(|r| r[0].clone()).collect();
    assert_eq!(names, ["input x", "input y", "g", "h"], "{out}");
    // g's costs as a healthy run reports them (Pond matmul of 2×2: 192 B online).
    let g = &op_rows(&out)[2];
    assert_eq!((g[1].as_str(), g[2].as_str()), ("matmul", "192 B"), "{out}");
    assert!(out.contains("\ntotal: "), "{out}");
    assert!(
        err.starts_with("error: party `server1` failed in op `h`"),
        "the error alone on stderr: {err}"
    );
    // A deadlock: the held link stops `z` half-way; its row shows what it sent.
    let path = scenario("deadlock-held-link.ron");
    let o = sharescope(&["run", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    let rows = op_rows(&out);
    let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(names, ["input x", "input y", "z"], "{out}");
    assert_eq!(rows[2][2], "160 B", "{out}");
    assert!(out.contains("op `z` did not complete"), "{out}");
    assert!(stderr(&o).starts_with("error: deadlock in op `z`: "));
    // With the JSON on stdout, the partial report goes to stderr before the error, and stdout
    // holds the partial JSON report, marked as failed.
    let o = sharescope(&["run", path.to_str().unwrap(), "--json", "-"]);
    assert_eq!(o.status.code(), Some(1));
    let r: Value = serde_json::from_str(&stdout(&o)).expect("the partial JSON report");
    assert_eq!(r["failure"]["failed_op"], "z", "{r}");
    let err = stderr(&o);
    let (report, error) = (err.find("PARTIAL REPORT"), err.find("error: deadlock"));
    assert!(report.is_some() && report < error, "{err}");
}

#[test]
fn compare_predicts_times_on_the_named_profiles() {
    let path = scenario("beaver-multiplication.ron");
    let p = path.to_str().unwrap();
    let o = sharescope(&[
        "compare",
        p,
        "--protocols",
        "pond",
        "--profiles",
        "lan,wan,securenn-lan",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(
            "on lan (100.0 µs one way, 10 Gbit/s), wan (20.00 ms one way, 100 Mbit/s), \
             securenn-lan (110.0 µs one way, 5 Gbit/s))"
        ),
        "{out}"
    );
    let head = out.lines().find(|l| l.starts_with("protocol")).unwrap();
    let cols: Vec<&str> = head.split_whitespace().collect();
    assert_eq!(
        cols[cols.len() - 4..],
        ["lan", "wan", "securenn-lan", "hazards"],
        "{out}"
    );
    let o = sharescope(&["compare", p, "--profiles", "lan,wna"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("did you mean `wan`?"), "{}", stderr(&o));
}

#[test]
fn timing_measured_is_opt_in_on_the_command_line() {
    let path = scenario("beaver-multiplication.ron");
    let p = path.to_str().unwrap();
    for mode in ["model", "measured"] {
        let o = sharescope(&["run", p, "--timing", mode]);
        assert_eq!(o.status.code(), Some(0), "{mode}: {}", stderr(&o));
    }
    let o = sharescope(&["run", p, "--timing", "wall"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("measured"), "{}", stderr(&o));
}

#[test]
fn the_timing_flag_overrides_the_scenario_and_keeps_its_model_rate() {
    use sim::scenario::Timing;
    use tui::cli::{apply_timing, TimingMode};
    let mut plan = tui::cli::load_plan(Some(&scenario("beaver-multiplication.ron"))).unwrap();
    plan.scenario.timing = Timing::Model {
        ns_per_ring_op: 3.0,
    };
    apply_timing(&mut plan, None);
    assert_eq!(
        plan.scenario.timing,
        Timing::Model {
            ns_per_ring_op: 3.0
        }
    );
    apply_timing(&mut plan, Some(TimingMode::Model));
    assert_eq!(
        plan.scenario.timing,
        Timing::Model {
            ns_per_ring_op: 3.0
        }
    );
    apply_timing(&mut plan, Some(TimingMode::Measured));
    assert_eq!(plan.scenario.timing, Timing::Measured);
    apply_timing(&mut plan, Some(TimingMode::Model));
    assert_eq!(plan.scenario.timing, Timing::default());
}

/// issue 12: `sharescope import` writes a scenario that `check` accepts and `run` runs, and
/// prints the cost estimate and the fixed-point bound; a model it refuses is exit 1 with the
/// node and a hint.
#[test]
fn import_writes_a_runnable_scenario_and_prints_its_cost() {
    let models = scenario("models");
    let digits = scenario("data/digits");
    let dir = temp_path("import");
    let out = dir.join("logreg.ron");
    let o = sharescope(&[
        "import",
        models.join("logreg.onnx").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--protocol",
        "pond",
        "--inputs",
        digits.join("test_images.npy").to_str().unwrap(),
        "--labels",
        digits.join("test_labels.npy").to_str().unwrap(),
    ]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{text}\n{}", stderr(&o));
    assert!(text.contains("final Softmax is dropped"), "{text}");
    assert!(text.contains("cost estimate"), "{text}");
    assert!(
        text.contains("fixed-point error bound on the outputs: ≤ 1.0"),
        "{text}"
    );
    assert!(dir.join("logreg-weights/W.npy").is_file());
    let o = sharescope(&["run", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("accuracy 0.9700"), "{}", stdout(&o));

    // The batch is dynamic and nothing fixes it: refused, nothing written.
    let out2 = dir.join("none.ron");
    let o = sharescope(&[
        "import",
        models.join("cnn.onnx").to_str().unwrap(),
        "-o",
        out2.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains("input `input`") && err.contains("--batch"),
        "{err}"
    );
    assert!(!out2.exists());
    // MaxPool under Pond: the node, and the protocol to choose.
    let o = sharescope(&[
        "import",
        models.join("cnn.onnx").to_str().unwrap(),
        "-o",
        out2.to_str().unwrap(),
        "--batch",
        "2",
        "--protocol",
        "pond",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("node 4 of 7 `/pool/MaxPool` (MaxPool)"),
        "{err}"
    );
    assert!(err.contains("--protocol"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 13: `run` on a training scenario trains it and prints the per-epoch report; `check`
/// prices an iteration and the whole run; `--json` writes the per-epoch numbers.
#[test]
fn run_trains_a_training_scenario_and_check_prices_it() {
    let dir = temp_path("train");
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(scenario("train-digits-logreg.ron"))
        .unwrap()
        .replace(
            "data/digits/",
            &format!("{}/data/digits/", scenario("").display()),
        )
        .replace("batch_size: 32", "batch_size: 256")
        .replace("epochs: 2", "epochs: 1");
    let path = dir.join("t.ron");
    std::fs::write(&path, text).unwrap();
    let json = dir.join("t.json");
    let o = sharescope(&[
        "run",
        path.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("1 epoch(s) × 5 batches of 256"), "{out}");
    assert!(out.contains("private: loss"), "{out}");
    assert!(out.contains("steady (weights carried as shares)"), "{out}");
    assert!(out.contains("test accuracy to its receiver only"), "{out}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["per_epoch"].as_array().unwrap().len(), 1);
    // Five large-batch steps already beat the random initialisation.
    let after = v["per_epoch"][0]["private"]["test_accuracy"]
        .as_f64()
        .unwrap();
    let before = v["initial"]["private"]["test_accuracy"].as_f64().unwrap();
    assert!(after > before, "{before} → {after}");
    let o = sharescope(&["check", path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("it0/d.w"), "{out}");
    assert!(out.contains("training: 1 epoch(s) × 5 iterations"), "{out}");
}

#[test]
fn a_failed_run_still_writes_its_json_report_and_chrome_trace_marked_as_failed() {
    // Before, `--json` and `--chrome-trace` wrote nothing when the run failed.
    let path = scenario("fault-server-panics.ron");
    let (json, chrome) = (
        temp_path("failed-report.json"),
        temp_path("failed-trace.json"),
    );
    let o = sharescope(&[
        "run",
        path.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        "--chrome-trace",
        chrome.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).expect("report written"))
        .expect("one JSON document");
    assert_eq!(r["failure"]["completed_ops"], 3, "{r}");
    assert_eq!(r["failure"]["failed_op"], "h", "{r}");
    let error = r["failure"]["error"].as_str().unwrap();
    assert!(
        error.starts_with("party `server1` failed in op `h`"),
        "{error}"
    );
    let names: Vec<&str> = r["ops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["input x", "input y", "g", "h"]);
    assert_eq!(r["ops"][2]["bytes"], 192);
    let t: Value = serde_json::from_str(&std::fs::read_to_string(&chrome).expect("trace written"))
        .expect("a trace-event document");
    assert!(t.to_string().contains("\"g\""), "the trace has op g");
    // A completed run's report has no `failure` key.
    let ok = scenario("beaver-multiplication.ron");
    let o = sharescope(&["run", ok.to_str().unwrap(), "--json", "-"]);
    let r: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(r.get("failure").is_none());
    let _ = std::fs::remove_file(json);
    let _ = std::fs::remove_file(chrome);
}
