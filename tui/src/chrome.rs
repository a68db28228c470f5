//! Export of a trace as Chrome / Perfetto trace-event JSON, so timelines open in standard
//! viewers (chrome://tracing, ui.perfetto.dev). Times are virtual microseconds.
//!
//! - One process, one thread (track) per party.
//! - Each op is a complete event (`X`, category `op`) on the track of every party that takes
//!   part in it (sends, records, computes, waits or receives in it), spanning that party's steps
//!   of the op; the party's steps are complete events nested inside it (named after the step, in
//!   the op's category), and waiting inside a step is a nested `wait` event.
//! - Each delivered message is a flow (`s` → `f`, `bp: "e"`) from sender to receiver. Both ends
//!   lie inside a slice on their track, so viewers bind them to it: the start at the send time,
//!   inside the sender's step; the end at the delivery time, or — when the message arrived before
//!   the receiver reached the op — at the start of the receiver's part of the op, where it took
//!   the message (messages are received in the op that sent them). Held or dropped messages are
//!   never delivered and have no flow.
//! - A counter (`C`) track `bytes in flight`: bytes sent and not yet delivered, over time (held
//!   messages are left out: they never arrive). It starts and ends at 0.

use serde_json::{json, Value};
use sim::trace::{PartyStep, Trace};

/// A message the viewer cannot show as arriving: held by its link or dropped by a fault.
fn undelivered(delivery_ns: u64) -> bool {
    delivery_ns == u64::MAX
}

/// Whether a party has no part in a step (nothing sent, recorded, computed or awaited).
fn idle(p: &PartyStep) -> bool {
    p.sent.is_empty()
        && p.shares.is_empty()
        && p.opened.is_empty()
        && p.compute_ns == 0
        && p.wait_ns == 0
}

/// The trace as a trace-event JSON object.
pub fn chrome_trace(trace: &Trace) -> Value {
    let us = |ns: u64| ns as f64 / 1000.0;
    let n = trace.parties.len();
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
    // Each party's span of each op ([first step start, last step end] over its steps of the
    // op), and whether it takes part (a step that is not idle, or a message it receives). An
    // idle record at time 0 (a step the party had not reached when a run failed) has no place.
    let ops = trace.ops.len();
    let mut span: Vec<Vec<Option<(u64, u64)>>> = vec![vec![None; n]; ops];
    let mut part = vec![vec![false; n]; ops];
    let widen = |sp: &mut Option<(u64, u64)>, a: u64, b: u64| {
        let v = sp.get_or_insert((a, b));
        *v = (v.0.min(a), v.1.max(b));
    };
    for s in trace.steps.iter().filter(|s| s.op < ops) {
        for (i, p) in s.parties.iter().enumerate().take(n) {
            if !(idle(p) && p.end_ns == 0) {
                widen(&mut span[s.op][i], p.start_ns, p.end_ns);
            }
            part[s.op][i] |= !idle(p);
        }
    }
    // A receiver with no step of its own to show there spans its deliveries.
    let mut received: Vec<Vec<Option<(u64, u64)>>> = vec![vec![None; n]; ops];
    for s in trace.steps.iter().filter(|s| s.op < ops) {
        for m in s
            .messages()
            .filter(|m| m.to < n && !undelivered(m.delivery_ns))
        {
            part[s.op][m.to] = true;
            widen(&mut received[s.op][m.to], m.delivery_ns, m.delivery_ns);
        }
    }
    for (sp, r) in span.iter_mut().flatten().zip(received.iter().flatten()) {
        *sp = sp.or(*r);
    }
    let mut flow = 0u64;
    let mut in_flight: Vec<(u64, i128)> = Vec::new();
    for (o, op) in trace.ops.iter().enumerate() {
        for i in 0..n {
            let Some((start, end)) = span[o][i].filter(|_| part[o][i]) else {
                continue;
            };
            events.push(json!({
                "name": op.name, "cat": "op", "ph": "X", "pid": 1, "tid": i,
                "ts": us(start), "dur": us(end - start),
                "args": {
                    "op": op.index, "kind": op.kind, "online_bytes": op.stats.bytes,
                    "offline_bytes": op.stats.offline_bytes, "rounds": op.stats.rounds,
                    "virtual_time_ns": op.stats.virtual_time_ns
                }
            }));
        }
        let steps = trace
            .steps
            .get(op.first_step..op.end_step)
            .unwrap_or_default();
        for s in steps {
            for (i, p) in s.parties.iter().enumerate().take(n) {
                if idle(p) {
                    continue;
                }
                let bytes: u64 = p.sent.iter().map(|m| m.bytes).sum();
                events.push(json!({
                    "name": s.name, "cat": op.name, "ph": "X", "pid": 1, "tid": i,
                    "ts": us(p.start_ns), "dur": us(p.end_ns - p.start_ns),
                    "args": {
                        "step": s.index, "op": op.name, "compute_ns": p.compute_ns,
                        "wait_ns": p.wait_ns, "bytes_sent": bytes
                    }
                }));
                if p.wait_ns > 0 {
                    let from = p.end_ns.saturating_sub(p.wait_ns).max(p.start_ns);
                    events.push(json!({
                        "name": "wait", "cat": "wait", "ph": "X", "pid": 1, "tid": i,
                        "ts": us(from), "dur": us(p.end_ns - from),
                    }));
                }
                for m in p.sent.iter().filter(|m| m.to < n) {
                    if undelivered(m.delivery_ns) {
                        continue;
                    }
                    in_flight.push((m.send_ns, i128::from(m.bytes)));
                    in_flight.push((m.delivery_ns, -i128::from(m.bytes)));
                    // Taken when delivered, or when the receiver reached the op if later.
                    let (r0, r1) = span[o][m.to].unwrap_or((m.delivery_ns, m.delivery_ns));
                    let taken = m.delivery_ns.clamp(r0, r1);
                    flow += 1;
                    let common = json!({
                        "name": m.label, "cat": "message", "id": flow, "pid": 1, "bp": "e"
                    });
                    let mut start = common.clone();
                    start["ph"] = json!("s");
                    start["tid"] = json!(m.from);
                    start["ts"] = json!(us(m.send_ns.clamp(p.start_ns, p.end_ns)));
                    start["args"] = json!({
                        "bytes": m.bytes, "to": trace.parties.get(m.to),
                        "delivery_us": us(m.delivery_ns)
                    });
                    let mut end = common;
                    end["ph"] = json!("f");
                    end["tid"] = json!(m.to);
                    end["ts"] = json!(us(taken));
                    events.push(start);
                    events.push(end);
                }
            }
        }
    }
    events.extend(counter(&mut in_flight).into_iter().map(|(ns, bytes)| {
        json!({
            "name": "bytes in flight", "ph": "C", "pid": 1, "ts": us(ns),
            "args": { "bytes": bytes }
        })
    }));
    json!({ "traceEvents": events, "displayTimeUnit": "ns" })
}

/// The counter's samples from (time, change) pairs: one sample per distinct time, after every
/// change at that time, starting with 0 at time 0.
fn counter(changes: &mut [(u64, i128)]) -> Vec<(u64, i128)> {
    changes.sort_unstable_by_key(|c| c.0);
    let mut out = vec![(0u64, 0i128)];
    let mut level = 0i128;
    for &(t, d) in changes.iter() {
        level += d;
        match out.last_mut() {
            Some(last) if last.0 == t => last.1 = level,
            _ => out.push((t, level)),
        }
    }
    out
}
