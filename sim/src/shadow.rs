//! The plaintext shadow: the scenario's program run in f64, and the hazards its values reveal.

use crate::scenario::{Plan, PlannedOp};
use ndarray::ArrayD;
use protocols::fixed::{FixedConfig, Hazard};
use protocols::program::eval_f64;
use std::collections::HashMap;

/// Every value of the program computed in f64, from the inputs' values.
pub fn shadow(plan: &Plan, inputs: &HashMap<String, ArrayD<f64>>) -> HashMap<String, ArrayD<f64>> {
    let mut vals: HashMap<String, ArrayD<f64>> = inputs.clone();
    for op in &plan.ops {
        if let PlannedOp::Compute { name, op } = op {
            let args: Vec<&ArrayD<f64>> = op.operands().iter().map(|o| &vals[*o]).collect();
            let v = eval_f64(op, &args);
            vals.insert(name.clone(), v);
        }
    }
    vals
}

fn max_abs(a: &ArrayD<f64>) -> f64 {
    a.iter().fold(0f64, |m, v| m.max(v.abs()))
}

/// Hazards of one planned op, judged from the shadow values.
pub fn hazards(plan: &Plan, op: &PlannedOp, vals: &HashMap<String, ArrayD<f64>>) -> Vec<Hazard> {
    let cfg: &FixedConfig = &plan.scenario.fixed_point;
    let mut out = Vec::new();
    let (name, inner) = match op {
        PlannedOp::Input { name, .. } => {
            out.extend(cfg.check_bound(vals[name].iter().copied()));
            return out;
        }
        PlannedOp::Output { .. } => return out,
        PlannedOp::Compute { name, op } => (name, op),
    };
    let result = &vals[name];
    out.extend(cfg.check_bound(result.iter().copied()));
    // The polynomial the protocol approximates the op with, if any (SecureNN's ReLU is exact).
    let approximation = plan.protocol().approximation_under(inner, &plan.settings());
    let truncates = plan.truncates(inner);
    // The largest magnitude that goes into a truncation: the result, or for polynomials the
    // highest power of the input.
    let mut pre_truncation = max_abs(result);
    if let (Some(approx), [x]) = (approximation, inner.operands().as_slice()) {
        let xs = &vals[*x];
        out.extend(approx.check_range(xs.iter().copied()));
        let top = approx.terms.iter().map(|t| t.0).max().unwrap_or(1) as i32;
        let biggest_power = max_abs(xs).powi(top);
        if biggest_power >= cfg.bound() {
            out.push(Hazard::Overflow {
                max_abs: biggest_power,
                bound: cfg.bound(),
            });
        }
        pre_truncation = pre_truncation.max(biggest_power);
    }
    // A composite op's approximation (exp, reciprocal, …) and the range it is accurate on.
    if let Some(d) = protocols::composite::domain(inner) {
        if let Some(x) = inner.operands().get(d.operand) {
            let xs = &vals[*x];
            let checked: Vec<f64> = match inner {
                // Softmax exponentiates x − max(x) of each row.
                protocols::program::Op::Softmax(_) => {
                    let k = xs.shape().last().copied().unwrap_or(1).max(1);
                    let v: Vec<f64> = xs.iter().copied().collect();
                    v.chunks(k)
                        .flat_map(|row| {
                            let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                            row.iter().map(move |x| x - m)
                        })
                        .collect()
                }
                _ => xs.iter().copied().collect(),
            };
            let min = checked.iter().copied().fold(f64::INFINITY, f64::min);
            let max = checked.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if min < d.lo || max > d.hi {
                out.push(Hazard::OutsideRange {
                    function: d.hazard_name(min),
                    min,
                    max,
                    lo: d.lo,
                    hi: d.hi,
                });
            }
        }
    }
    if truncates {
        // The protocol's truncation rules (Pond's dealer/local, ABY3's Π_trunc2/Π_trunc1).
        out.extend(plan.protocol().truncation_hazards(
            &plan.settings(),
            pre_truncation,
            result.len() as u64,
        ));
    }
    out
}
