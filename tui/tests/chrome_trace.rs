//! `sharescope run SCENARIO --chrome-trace FILE` writes trace-event JSON that standard viewers
//! (chrome://tracing, Perfetto) read: metadata naming one thread per party, complete events per
//! party and step on the virtual clock, and message flows from sender to receiver.

mod common;

use serde_json::Value;
use std::process::Command;

#[test]
fn run_with_chrome_trace_writes_events_for_every_party_step_and_message() {
    let dir = std::env::temp_dir().join(format!("sharescope-chrome-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("s.ron");
    std::fs::write(&scenario, common::SCENARIO).unwrap();
    let out = dir.join("trace.json");
    let status = Command::new(env!("CARGO_BIN_EXE_sharescope"))
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--chrome-trace",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let events = v["traceEvents"].as_array().unwrap();
    let threads: Vec<&str> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| e["args"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        threads,
        ["server0", "server1", "producer", "alice", "bob", "carol"]
    );
    // The open of the masked inputs: one complete event on each server, 64 B sent by each.
    let open: Vec<&Value> = events
        .iter()
        .filter(|e| e["ph"] == "X" && e["name"] == "open masked inputs")
        .collect();
    assert_eq!(open.len(), 2, "{open:?}");
    assert!(open
        .iter()
        .all(|e| e["args"]["bytes_sent"] == 64 && e["cat"] == "z"));
    // Every delivered message is one flow start and one flow end with the same id.
    let starts = events.iter().filter(|e| e["ph"] == "s").count();
    let ends = events.iter().filter(|e| e["ph"] == "f").count();
    assert_eq!(starts, ends);
    assert!(starts >= 10, "{starts} flows");
    // With modelled compute time, timestamps are virtual and deterministic: the first server
    // cannot finish opening before a 100 µs link delivers the peer's share.
    assert!(open
        .iter()
        .all(|e| e["ts"].as_f64().unwrap() + e["dur"].as_f64().unwrap() >= 100.0));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unwritable_chrome_trace_path_is_a_user_error() {
    let dir = std::env::temp_dir().join(format!("sharescope-chrome-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("s.ron");
    std::fs::write(&scenario, common::SCENARIO).unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_sharescope"))
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--chrome-trace",
            "/nonexistent-dir/t.json",
        ])
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&status.stderr).contains("cannot write the Chrome trace"));
    std::fs::remove_dir_all(&dir).unwrap();
}
