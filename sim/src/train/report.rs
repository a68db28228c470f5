//! The training run's report: per-epoch loss and accuracy of the private and the plaintext
//! model, the weights' drift, and the cost per iteration and per epoch (text and JSON).

use super::run::{Cost, Evaluation, TrainingResult};
use crate::units::{bytes, duration as duration_ns};
use serde_json::{json, Value};
use std::fmt::Write as _;

fn pct(a: Option<f64>) -> String {
    a.map_or("—".into(), |a| format!("{:.1}%", 100.0 * a))
}

fn cost_line(c: &Cost) -> String {
    let n = c.iterations.max(1) as u64;
    format!(
        "{} online + {} offline, {} messages, {} rounds, {} virtual ({} wall)",
        bytes(c.bytes / n),
        bytes(c.offline_bytes / n),
        c.messages / n,
        c.rounds / n,
        duration_ns(c.virtual_time_ns / n),
        duration_ns(c.wall_time_ns / n),
    )
}

/// The text report.
pub fn text_report(r: &TrainingResult) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "training `{}` under {}: {} epoch(s) × {} batches of {}",
        r.scenario, r.protocol, r.epochs, r.batches_per_epoch, r.batch_size
    );
    for w in &r.warnings {
        let _ = writeln!(s, "⚠ warning: {w}");
    }
    let _ = writeln!(
        s,
        "\n epoch │ private: loss   train    test │ plaintext: loss   train    test │ max |Δw|  hazards"
    );
    let row = |s: &mut String, label: &str, p: &Evaluation, q: &Evaluation, dw: f64, h: usize| {
        let _ = writeln!(
            s,
            " {label:>5} │ {:>13.4} {:>7} {:>7} │ {:>15.4} {:>7} {:>7} │ {:>8.2e} {:>8}",
            p.train_loss,
            pct(p.train_accuracy),
            pct(p.test_accuracy),
            q.train_loss,
            pct(q.train_accuracy),
            pct(q.test_accuracy),
            dw,
            h
        );
    };
    row(&mut s, "init", &r.initial.0, &r.initial.1, 0.0, 0);
    for e in &r.per_epoch {
        row(
            &mut s,
            &e.epoch.to_string(),
            &e.private,
            &e.plaintext,
            e.max_weight_error,
            e.hazards,
        );
    }
    let _ = writeln!(
        s,
        "(the private model's numbers are the simulator's reconstruction of the shared weights: \
         no party learns them)"
    );
    let _ = writeln!(s, "\ncost per iteration:");
    let _ = writeln!(
        s,
        "  first (shares the initial weights): {}",
        cost_line(&r.first_iteration)
    );
    if let Some(c) = &r.steady_iteration {
        let _ = writeln!(s, "  steady (weights carried as shares): {}", cost_line(c));
    }
    if let Some(e) = r.per_epoch.last() {
        let _ = writeln!(
            s,
            "cost per epoch (epoch {}): {} online + {} offline, {} rounds, {} virtual",
            e.epoch,
            bytes(e.cost.bytes),
            bytes(e.cost.offline_bytes),
            e.cost.rounds,
            duration_ns(e.cost.virtual_time_ns)
        );
    }
    let _ = writeln!(
        s,
        "total: {} iterations, {} online + {} offline, {} virtual, {} wall",
        r.total.iterations,
        bytes(r.total.bytes),
        bytes(r.total.offline_bytes),
        duration_ns(r.total.virtual_time_ns),
        duration_ns(r.total.wall_time_ns)
    );
    if let Some(reveal) = &r.reveal {
        let _ = writeln!(s, "\nrevealed at the end:");
        for o in &reveal.outputs {
            if o.name == "final/errors" {
                continue;
            }
            let _ = writeln!(
                s,
                "  {} {:?} to {} (max |error| vs plaintext {:.2e})",
                o.name, o.shape, o.receiver, o.max_abs_error
            );
        }
        if let Some((wrong, n)) = r.revealed_test_errors {
            let _ = writeln!(
                s,
                "  test accuracy to its receiver only: {wrong} of {n} wrong ({:.1}%)",
                100.0 * (n - wrong.min(n)) as f64 / n.max(1) as f64
            );
        }
    }
    let kept: Vec<String> = r.traces.iter().map(|(k, _)| k.to_string()).collect();
    let _ = writeln!(
        s,
        "traces kept step by step: iteration(s) {}",
        if kept.is_empty() {
            "none".into()
        } else {
            kept.join(", ")
        }
    );
    s
}

/// The JSON report.
pub fn json_report(r: &TrainingResult) -> Value {
    json!({
        "scenario": r.scenario,
        "protocol": r.protocol,
        "epochs": r.epochs,
        "batches_per_epoch": r.batches_per_epoch,
        "batch_size": r.batch_size,
        "initial": {"private": r.initial.0, "plaintext": r.initial.1},
        "per_epoch": r.per_epoch,
        "first_iteration": r.first_iteration,
        "steady_iteration": r.steady_iteration,
        "total": r.total,
        "traced_iterations": r.traces.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
        "revealed": r.reveal.as_ref().map(|x| x.outputs.iter().map(|o| json!({
            "name": o.name, "receiver": o.receiver, "shape": o.shape,
            "max_abs_error": o.max_abs_error,
        })).collect::<Vec<_>>()),
        "revealed_test_errors": r.revealed_test_errors.map(|(w, n)| json!({"wrong": w, "of": n})),
        "warnings": r.warnings,
    })
}
