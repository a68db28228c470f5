//! Export of a trace as Chrome / Perfetto trace-event JSON, so timelines open in standard
//! viewers (chrome://tracing, ui.perfetto.dev).
//!
//! One process, one thread per party. Each party's part of each step is a complete event (`X`)
//! named after the step, in the op's category, at its virtual start time; waiting inside a step is
//! a nested `wait` event; each message is a flow (`s` → `f`) from sender to receiver. Times are
//! virtual microseconds.

use serde_json::{json, Value};
use sim::trace::Trace;

/// The trace as a trace-event JSON object.
pub fn chrome_trace(trace: &Trace) -> Value {
    let us = |ns: u64| ns as f64 / 1000.0;
    let mut events = vec![json!({
        "name": "process_name", "ph": "M", "pid": 1,
        "args": { "name": format!("sharescope: {} (seed {})", trace.scenario, trace.seed) }
    })];
    for (i, p) in trace.parties.iter().enumerate() {
        events.push(json!({
            "name": "thread_name", "ph": "M", "pid": 1, "tid": i, "args": { "name": p }
        }));
        events.push(json!({
            "name": "thread_sort_index", "ph": "M", "pid": 1, "tid": i, "args": { "sort_index": i }
        }));
    }
    let mut flow = 0u64;
    for s in &trace.steps {
        let op = trace.ops.get(s.op).map(|o| o.name.as_str()).unwrap_or("?");
        for (i, p) in s.parties.iter().enumerate() {
            // A party with no part in the step (nothing sent, recorded, computed or awaited).
            let idle = p.sent.is_empty()
                && p.shares.is_empty()
                && p.opened.is_empty()
                && p.compute_ns == 0
                && p.wait_ns == 0;
            if idle {
                continue;
            }
            let bytes: u64 = p.sent.iter().map(|m| m.bytes).sum();
            events.push(json!({
                "name": s.name, "cat": op, "ph": "X", "pid": 1, "tid": i,
                "ts": us(p.start_ns), "dur": us(p.end_ns.saturating_sub(p.start_ns)),
                "args": {
                    "step": s.index, "op": op, "compute_ns": p.compute_ns,
                    "wait_ns": p.wait_ns, "bytes_sent": bytes
                }
            }));
            if p.wait_ns > 0 {
                events.push(json!({
                    "name": "wait", "cat": "wait", "ph": "X", "pid": 1, "tid": i,
                    "ts": us(p.end_ns.saturating_sub(p.wait_ns)), "dur": us(p.wait_ns),
                }));
            }
            for m in &p.sent {
                if m.delivery_ns == u64::MAX {
                    continue; // held: never delivered
                }
                flow += 1;
                let common = json!({ "name": m.label, "cat": "message", "id": flow, "pid": 1 });
                let mut start = common.clone();
                start["ph"] = json!("s");
                start["tid"] = json!(m.from);
                start["ts"] = json!(us(m.send_ns));
                start["args"] = json!({ "bytes": m.bytes, "to": trace.parties.get(m.to) });
                let mut end = common;
                end["ph"] = json!("f");
                end["bp"] = json!("e");
                end["tid"] = json!(m.to);
                end["ts"] = json!(us(m.delivery_ns));
                events.push(start);
                events.push(end);
            }
        }
    }
    json!({ "traceEvents": events, "displayTimeUnit": "ns" })
}
