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

/// A complete event: (tid, start ns, end ns, the event). Times are read in whole nanoseconds,
/// as viewers do (the export writes microseconds with three decimals).
type Slice<'a> = (u64, i64, i64, &'a Value);

/// A time field in ns.
fn ns(v: &Value) -> i64 {
    (v.as_f64().unwrap() * 1000.0).round() as i64
}

/// Checks the export of `trace` the way a viewer reads it, and returns (op slices, flows).
fn check_export(trace: &sim::trace::Trace, complete: bool) -> (usize, usize) {
    let what = &trace.scenario;
    // The JSON parses back.
    let text = serde_json::to_string(&tui::chrome::chrome_trace(trace)).unwrap();
    let v: Value = serde_json::from_str(&text).expect("the export is JSON");
    let events = v["traceEvents"].as_array().unwrap();
    let slices: Vec<Slice> = events
        .iter()
        .filter(|e| e["ph"] == "X")
        .map(|e| {
            let (ts, dur) = (ns(&e["ts"]), ns(&e["dur"]));
            assert!(dur >= 0, "{what}: {e}");
            (e["tid"].as_u64().unwrap(), ts, ts + dur, e)
        })
        .collect();
    let inside = |tid: u64, t: i64, s: &Slice| s.0 == tid && s.1 <= t && t <= s.2;
    let ops: Vec<&Slice> = slices.iter().filter(|s| s.3["cat"] == "op").collect();
    // Every step slice lies in the op slice of its op on its track; op slices on a track do
    // not overlap (they nest only their own steps).
    for s in slices.iter().filter(|s| s.3["args"]["step"].is_u64()) {
        let op = &s.3["args"]["op"];
        assert!(
            ops.iter()
                .any(|o| o.3["name"] == *op && inside(s.0, s.1, o) && inside(s.0, s.2, o)),
            "{what}: step slice {} is outside op `{op}`'s slice",
            s.3
        );
    }
    for tid in 0..trace.parties.len() as u64 {
        let mut mine: Vec<&&Slice> = ops.iter().filter(|o| o.0 == tid).collect();
        mine.sort_by_key(|o| o.1);
        for w in mine.windows(2) {
            assert!(
                w[0].2 <= w[1].1,
                "{what}: op slices overlap: {} {}",
                w[0].3,
                w[1].3
            );
        }
    }
    // Flows: one start and one end per id, each inside a slice on its own track (`bp: "e"`
    // binds it to that enclosing slice), the end not before the start.
    let mut starts = std::collections::HashMap::new();
    for e in events.iter().filter(|e| e["ph"] == "s" || e["ph"] == "f") {
        assert_eq!(e["bp"], "e", "{what}: {e}");
        let (tid, ts) = (e["tid"].as_u64().unwrap(), ns(&e["ts"]));
        assert!(
            slices.iter().any(|s| inside(tid, ts, s)),
            "{what}: flow event outside every slice of its track: {e}"
        );
        let id = e["id"].as_u64().unwrap();
        if e["ph"] == "s" {
            assert!(starts.insert(id, ts).is_none(), "{what}: id {id} twice");
        } else {
            let t0 = starts.remove(&id).expect("an end after its start");
            assert!(
                !complete || ts >= t0,
                "{what}: flow {id} ends before it starts"
            );
        }
    }
    assert!(starts.is_empty(), "{what}: flows without an end");
    let delivered = trace
        .steps
        .iter()
        .flat_map(|s| s.messages())
        .filter(|m| m.delivery_ns != u64::MAX)
        .count();
    let flows = events.iter().filter(|e| e["ph"] == "f").count();
    assert_eq!(flows, delivered, "{what}");
    // The bytes-in-flight counter: present, never negative, back to 0 at the end, and as high
    // as the largest message at some point.
    let counter: Vec<(i64, i64)> = events
        .iter()
        .filter(|e| e["ph"] == "C" && e["name"] == "bytes in flight")
        .map(|e| (ns(&e["ts"]), e["args"]["bytes"].as_i64().unwrap()))
        .collect();
    assert!(counter.len() > 1, "{what}: no counter track");
    assert!(
        counter.windows(2).all(|w| w[0].0 < w[1].0),
        "{what}: times go back"
    );
    assert!(counter.iter().all(|c| c.1 >= 0), "{what}: {counter:?}");
    assert_eq!(counter.last().unwrap().1, 0, "{what}: {counter:?}");
    let largest = trace
        .steps
        .iter()
        .flat_map(|s| s.messages())
        .map(|m| m.bytes)
        .max();
    let peak = counter.iter().map(|c| c.1).max().unwrap();
    assert!(peak as u64 >= largest.unwrap_or(0), "{what}: peak {peak}");
    (ops.len(), flows)
}

#[test]
fn op_slices_contain_their_steps_flows_bind_to_slices_and_bytes_in_flight_return_to_zero() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    for name in [
        "beaver-multiplication",
        "mlp-wan",
        "mlp-securenn",
        "private-matmul",
    ] {
        let plan = sim::scenario::load(&dir.join(format!("{name}.ron"))).unwrap();
        let r = sim::run(&plan).unwrap();
        let (ops, flows) = check_export(&r.trace, true);
        // Every op has a slice on the track of each party taking part: at least the servers.
        assert!(ops >= 2 * r.trace.ops.len(), "{name}: {ops} op slices");
        assert!(flows > 0, "{name}");
    }
    // A deadlocked run's partial trace: the held messages have no flow and stay out of the
    // counter, which still returns to 0.
    let plan = sim::scenario::load(&dir.join("deadlock-held-link.ron")).unwrap();
    let f = sim::run_keeping_partial(&plan).unwrap_err();
    check_export(&f.partial.unwrap().trace, false);
}

#[test]
fn a_message_that_arrives_before_its_receiver_reaches_the_op_ends_where_it_is_taken() {
    // On the WAN, alice's shares of x reach the servers 20 ms after she sends them; the end of
    // each flow is inside the receiver's op slice, never in a gap between slices.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let plan = sim::scenario::load(&dir.join("mlp-wan.ron")).unwrap();
    let r = sim::run(&plan).unwrap();
    let v = tui::chrome::chrome_trace(&r.trace);
    let ev = v["traceEvents"].as_array().unwrap();
    let op = ev
        .iter()
        .find(|e| e["cat"] == "op" && e["name"] == "input x" && e["tid"] == 0)
        .expect("server0 takes part in input x");
    let end = ev.iter().find(|e| e["ph"] == "f" && e["tid"] == 0).unwrap();
    let (t, a) = (end["ts"].as_f64().unwrap(), op["ts"].as_f64().unwrap());
    assert!(
        t >= a && t <= a + op["dur"].as_f64().unwrap(),
        "{end} not in {op}"
    );
    assert!(t >= 20_000.0, "delivered after the 20 ms latency: {t} µs");
}
