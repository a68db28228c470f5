//! Reports of a run: the JSON report and the human-readable table (also of a failed run's
//! partial record).

use crate::engine::RunResult;
use crate::units;
use serde_json::{json, Map, Value};
use std::fmt::Write;

/// The messages an injected fault hit, and where the result first left the plaintext shadow.
fn injected_faults(s: &mut String, trace: &crate::trace::Trace) {
    let hits: Vec<_> = trace
        .steps
        .iter()
        .flat_map(|st| st.messages().map(move |m| (st, m)))
        .filter(|(_, m)| m.fault.is_some())
        .collect();
    if hits.is_empty() {
        return;
    }
    let _ = writeln!(s, "\ninjected faults");
    for (st, m) in &hits {
        let _ = writeln!(
            s,
            "  op `{}` step {} “{}”: {} → {} “{}”: {}",
            trace.ops[st.op].name,
            st.index,
            st.name,
            trace.parties[m.from],
            trace.parties[m.to],
            m.label,
            m.fault.as_deref().unwrap_or_default()
        );
    }
    if let Some((op, i, a, b)) = first_divergence(trace) {
        let _ = writeln!(
            s,
            "  first divergence from the plaintext: op `{}` element {i}: secure {a:.6}, plaintext {b:.6}",
            trace.ops[op].name
        );
    } else {
        let _ = writeln!(s, "  the recorded results still agree with the plaintext");
    }
}

/// The first op (in order) with an element off the plaintext by more than 10^-3 + 10^-3·|x|,
/// and that element: (op, flat index, secure, plaintext).
pub fn first_divergence(trace: &crate::trace::Trace) -> Option<(usize, usize, f64, f64)> {
    trace.ops.iter().find_map(|op| {
        op.reconstructed
            .iter()
            .zip(&op.plaintext)
            .enumerate()
            .find(|(_, (a, b))| (*a - *b).abs() > 1e-3 + 1e-3 * b.abs())
            .map(|(i, (a, b))| (op.index, i, *a, *b))
    })
}

/// The helper's attack on an insecure SecureNN run: per op, how many DReLU inputs P2
/// recovers from its own view, and the first few beside the true ones.
fn helper_attack(s: &mut String, trace: &crate::trace::Trace) {
    // Seats are the first parties (validation puts them there), so a seat is its party index.
    let Some(probe) = trace.protocol.probe() else {
        return;
    };
    let found = crate::attack::recover(trace, probe.attacker, probe.servers);
    if found.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "\nwhat the helper ({}) recovers from its own view (attack on PrivateCompare)",
        trace.parties[probe.attacker]
    );
    for d in &found {
        let what = if d.shortcut { "a + θ of" } else { "input of" };
        let _ = writeln!(
            s,
            "  {} (step {}): {} of {} DReLU inputs recovered exactly",
            trace.ops[d.op].name,
            d.step,
            d.recovered(),
            d.truth.len()
        );
        for (t, got) in d.rows(trace.frac_bits, 16) {
            let _ = writeln!(s, "    true {what} DReLU {t:>12.6}   recovered {got}");
        }
    }
}

/// How much of each output's values the JSON report writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportValues {
    /// The first `n` values and plaintext values of each output (the default, with the
    /// scenario's `trace.max_values`): the report's size is bounded whatever the outputs' size.
    First(usize),
    /// Every value (`sharescope run --values all`).
    All,
}

impl Default for ReportValues {
    /// The first 256 values, the default `trace.max_values`.
    fn default() -> Self {
        ReportValues::First(256)
    }
}

/// The JSON report (schema in docs/scenario-format.md, "Reports"), each output's values bounded
/// as [`ReportValues::default`] says.
pub fn json_report(r: &RunResult) -> Value {
    json_report_with(r, ReportValues::default())
}

/// The JSON report with `values` of each output's values.
pub fn json_report_with(r: &RunResult, values: ReportValues) -> Value {
    let mut outputs = Map::new();
    for o in &r.outputs {
        let n = match values {
            ReportValues::First(n) => n.min(o.values.len()),
            ReportValues::All => o.values.len(),
        };
        outputs.insert(
            o.name.clone(),
            json!({
                "receiver": o.receiver,
                "shape": o.shape,
                "count": o.values.len(),
                "complete": n == o.values.len(),
                "values": o.values[..n],
                "plaintext": o.plaintext[..n.min(o.plaintext.len())],
                "max_abs_error": o.max_abs_error,
            }),
        );
    }
    let ops: Vec<Value> = r
        .trace
        .ops
        .iter()
        .map(|op| {
            json!({
                "name": op.name,
                "kind": op.kind,
                "shape": op.shape,
                "bytes": op.stats.bytes,
                "offline_bytes": op.stats.offline_bytes,
                "messages": op.stats.messages,
                "offline_messages": op.stats.offline_messages,
                "rounds": op.stats.rounds,
                "virtual_time_us": op.stats.virtual_time_ns as f64 / 1000.0,
                "max_abs_error": op.stats.max_abs_error,
                "max_rel_error": op.stats.max_rel_error,
                "hazards": op.hazards.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let links: Vec<Value> = link_table(r)
        .into_iter()
        .map(|l| {
            json!({
                "from": r.trace.parties[l.from],
                "to": r.trace.parties[l.to],
                "bytes": l.bytes,
                "offline_bytes": l.offline_bytes,
                "messages": l.messages,
            })
        })
        .collect();
    let t = &r.totals;
    let mut report = json!({
        "links": links,
        "scenario": r.trace.scenario,
        "seed": r.trace.seed,
        "protocol": crate::compare::protocol_name(r.trace.protocol),
        "insecure": r.trace.protocol.insecurity(),
        "warnings": r.warnings,
        "parties": r.trace.parties,
        "outputs": outputs,
        "ops": ops,
        "totals": {
            "bytes": t.bytes,
            "offline_bytes": t.offline_bytes,
            "messages": t.messages,
            "offline_messages": t.offline_messages,
            "rounds": t.rounds,
            "offline_rounds": t.offline_rounds,
            "virtual_time_us": t.virtual_time_ns as f64 / 1000.0,
            "wall_time_us": t.wall_time_ns as f64 / 1000.0,
            "critical_path_rounds": t.critical_path_rounds,
            "dag_virtual_time_us": t.dag_virtual_time_ns as f64 / 1000.0,
        },
    });
    // Only scenarios with a `metrics` section have the key.
    if let (Some(m), Some(obj)) = (&r.metrics, report.as_object_mut()) {
        obj.insert(
            "metrics".into(),
            json!({
                "prediction": m.prediction,
                "images": m.images,
                "accuracy": m.accuracy,
                "plaintext_accuracy": m.plaintext_accuracy,
                "agreement": m.agreement,
            }),
        );
    }
    report
}

/// Traffic on one directed link over a whole run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LinkTotals {
    /// Sender index.
    pub from: usize,
    /// Receiver index.
    pub to: usize,
    /// Online bytes.
    pub bytes: u64,
    /// Offline bytes.
    pub offline_bytes: u64,
    /// Messages (online and offline).
    pub messages: u64,
}

/// Per-link totals of a run, for every link that carried at least one message, ordered by
/// (from, to).
pub fn link_table(r: &RunResult) -> Vec<LinkTotals> {
    let mut map: std::collections::BTreeMap<(usize, usize), LinkTotals> = Default::default();
    for m in r.trace.steps.iter().flat_map(|s| s.messages()) {
        let e = map.entry((m.from, m.to)).or_insert(LinkTotals {
            from: m.from,
            to: m.to,
            ..Default::default()
        });
        match m.traffic {
            protocols::context::Traffic::Online => e.bytes += m.bytes,
            protocols::context::Traffic::Offline => e.offline_bytes += m.bytes,
        }
        e.messages += 1;
    }
    map.into_values().collect()
}

fn preview(v: &[f64], n: usize) -> String {
    let mut s: Vec<String> = v.iter().take(n).map(|x| format!("{x:.4}")).collect();
    if v.len() > n {
        s.push(format!("… ({} values)", v.len()));
    }
    format!("[{}]", s.join(", "))
}

/// The report `sharescope run` prints before the error of a failed run: what the run recorded
/// up to the failure (the ops every party completed, the op that failed as far as it got, their
/// costs), under a header that says so. `None` when nothing was recorded.
pub fn partial_text_report(f: &crate::engine::FailedRun) -> Option<String> {
    let r = f.partial.as_ref()?;
    let mut s = String::new();
    let done = f.completed_ops.min(r.trace.ops.len());
    let _ = writeln!(
        s,
        "PARTIAL REPORT: the run failed (the error follows on standard error); {done} op(s) \
         completed before it"
    );
    if let Some(op) = r.trace.ops.get(done) {
        let _ = writeln!(
            s,
            "  op `{}` did not complete: its row shows what it did before the failure, and the \
             ops after it never ran",
            op.name
        );
    }
    s.push('\n');
    s.push_str(&text_report(r));
    Some(s)
}

/// The JSON report of a failed run (`sharescope run --json` after a fault or a deadlock): the
/// report of what was recorded up to the failure ([`json_report_with`] of the partial run) with a
/// `failure` object — the error as text, and `completed_ops`, how many ops (from the first) every
/// party completed; `ops[completed_ops]` is the op that failed, as far as it got. A report
/// without a `failure` key is that of a completed run. `None` when nothing was recorded.
pub fn partial_json_report(f: &crate::engine::FailedRun, values: ReportValues) -> Option<Value> {
    let r = f.partial.as_ref()?;
    let mut report = json_report_with(r, values);
    let done = f.completed_ops.min(r.trace.ops.len());
    if let Some(obj) = report.as_object_mut() {
        obj.insert(
            "failure".into(),
            json!({
                "error": f.error.to_string(),
                "completed_ops": done,
                "failed_op": r.trace.ops.get(done).map(|o| o.name.clone()),
            }),
        );
    }
    Some(report)
}

/// The human-readable report `sharescope run` prints.
pub fn text_report(r: &RunResult) -> String {
    let mut s = String::new();
    let protocol = crate::compare::protocol_name(r.trace.protocol);
    let _ = writeln!(
        s,
        "scenario {}  (protocol {protocol}, seed {})",
        r.trace.scenario, r.trace.seed
    );
    if let Some(why) = r.trace.protocol.insecurity() {
        let _ = writeln!(s, "WARNING: {why}");
    }
    for w in &r.warnings {
        let _ = writeln!(s, "⚠ warning: {w}");
    }
    let _ = writeln!(s, "\noutputs");
    if r.outputs.is_empty() {
        let _ = writeln!(s, "  (none)");
    }
    for o in &r.outputs {
        let _ = writeln!(s, "  {} → {}  shape {:?}", o.name, o.receiver, o.shape);
        let _ = writeln!(s, "    secure     {}", preview(&o.values, 6));
        let _ = writeln!(s, "    plaintext  {}", preview(&o.plaintext, 6));
        // In ulps too: a one-ulp error (2^−16 = 1.5e-5) is invisible at four decimals.
        let ulps = o.max_abs_error * (1u64 << r.trace.frac_bits.min(62)) as f64;
        let _ = writeln!(s, "    max |error| {:.3e} ({ulps:.1} ulp)", o.max_abs_error);
    }
    if let Some(m) = &r.metrics {
        let _ = writeln!(s, "\nmetrics ({}, {} images)", m.source(), m.images);
        let _ = writeln!(
            s,
            "  accuracy {:.4}  (plaintext {:.4})  agreement with plaintext {:.4}",
            m.accuracy, m.plaintext_accuracy, m.agreement
        );
    }
    if r.trace.protocol.is_insecure() {
        helper_attack(&mut s, &r.trace);
    }
    injected_faults(&mut s, &r.trace);
    let kw = units::column_width(11, r.trace.ops.iter().map(|o| o.kind.as_str()));
    let _ = writeln!(
        s,
        "\n{:<24} {:<kw$} {:>10} {:>10} {:>5} {:>6} {:>11} {:>10}",
        "op", "kind", "online", "offline", "msgs", "rounds", "virt. time", "max |err|"
    );
    for op in &r.trace.ops {
        let err = op
            .stats
            .max_abs_error
            .map(|e| format!("{e:.2e}"))
            .unwrap_or_else(|| "-".into());
        let name = units::fit(&op.name, 24);
        let _ = writeln!(
            s,
            "{:<24} {:<kw$} {:>10} {:>10} {:>5} {:>6} {:>11} {:>10}",
            name,
            op.kind,
            units::bytes(op.stats.bytes),
            units::bytes(op.stats.offline_bytes),
            op.stats.messages + op.stats.offline_messages,
            op.stats.rounds,
            units::duration(op.stats.virtual_time_ns),
            err
        );
        for h in &op.hazards {
            let _ = writeln!(s, "    ⚠ hazard: {h}");
        }
    }
    let _ = writeln!(
        s,
        "\n{:<24} {:>10} {:>10} {:>6}",
        "link", "online", "offline", "msgs"
    );
    for l in link_table(r) {
        let name = format!("{} → {}", r.trace.parties[l.from], r.trace.parties[l.to]);
        let _ = writeln!(
            s,
            "{:<24} {:>10} {:>10} {:>6}",
            name,
            units::bytes(l.bytes),
            units::bytes(l.offline_bytes),
            l.messages
        );
    }
    let t = &r.totals;
    let _ = writeln!(
        s,
        "\ntotal: {} online ({} msgs), {} offline ({} msgs), {} rounds online, {} offline; virtual time {}, wall {}",
        units::bytes(t.bytes),
        t.messages,
        units::bytes(t.offline_bytes),
        t.offline_messages,
        t.rounds,
        t.offline_rounds,
        units::duration(t.virtual_time_ns),
        units::duration(t.wall_time_ns)
    );
    // Ops run in program order; a graph runtime overlaps independent ones (docs/simulator.md).
    let _ = writeln!(
        s,
        "DAG schedule (independent ops overlap): {} rounds online on the critical path, \
         virtual time {}",
        t.critical_path_rounds,
        units::duration(t.dag_virtual_time_ns)
    );
    s
}
