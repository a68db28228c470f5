//! The plaintext shadow: the scenario's program run in f64, and the hazards its values reveal.

use crate::scenario::{Plan, PlannedOp};
use ndarray::ArrayD;
use protocols::fixed::{FixedConfig, Hazard};
use protocols::program::eval_f64;
use std::borrow::Borrow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Every value of the program computed in f64, from the inputs' values.
pub fn shadow(plan: &Plan, inputs: &HashMap<String, ArrayD<f64>>) -> HashMap<String, ArrayD<f64>> {
    let inputs = inputs
        .iter()
        .map(|(n, v)| (n.clone(), Arc::new(v.clone())))
        .collect();
    let vals = shadow_shared(plan, &inputs);
    // The inputs' only other holder goes first, so unwrapping moves them instead of copying.
    drop(inputs);
    vals.into_iter()
        .map(|(n, v)| (n, Arc::unwrap_or_clone(v)))
        .collect()
}

/// [`shadow`] over shared input arrays: the same values, the inputs' arrays shared rather than
/// copied (issue 11, peak memory).
pub(crate) fn shadow_shared(
    plan: &Plan,
    inputs: &HashMap<String, Arc<ArrayD<f64>>>,
) -> HashMap<String, Arc<ArrayD<f64>>> {
    let mut vals = inputs.clone();
    for op in &plan.ops {
        if let PlannedOp::Compute { name, op } = op {
            let args: Vec<&ArrayD<f64>> = op.operands().iter().map(|o| &*vals[*o]).collect();
            let v = eval_f64(op, &args);
            vals.insert(name.clone(), Arc::new(v));
        }
    }
    vals
}

/// The value name an op defines (or outputs).
pub(crate) fn value_name(op: &PlannedOp) -> &str {
    match op {
        PlannedOp::Input { name, .. }
        | PlannedOp::Compute { name, .. }
        | PlannedOp::Output { name, .. } => name,
    }
}

/// The shadow as a run uses it (issue 11, peak memory): what the trace shows of every op —
/// its first `max_values` plaintext elements and its hazards, computed once from the whole
/// shadow — and the whole values only for as long as something still reads them: an op's
/// summary against the shadow (released when the op's summary is done), an output's plaintext
/// (kept to the end of the run), a training iteration's carried value (kept). A value whose
/// last use is released is dropped, so a run does not hold every value of the program in f64
/// until it ends.
#[derive(Debug)]
pub(crate) struct ShadowStore {
    /// Per op: its value's first `max_values` plaintext elements and its hazards
    /// ([`hazards`]); set by [`ShadowStore::complete`].
    view: OnceLock<Vec<(Vec<f64>, Vec<Hazard>)>>,
    /// The whole values still used, with how many uses are left.
    live: Mutex<Live>,
}

#[derive(Debug, Default)]
struct Live {
    values: HashMap<String, (Arc<ArrayD<f64>>, usize)>,
    /// The view is computed: a value whose last use is released can go.
    complete: bool,
}

impl ShadowStore {
    /// The store of `plan`'s shadow `vals` (from [`shadow_shared`]); the summaries may read it
    /// at once, the trace after [`ShadowStore::complete`].
    pub(crate) fn new(plan: &Plan, vals: HashMap<String, Arc<ArrayD<f64>>>) -> ShadowStore {
        let mut uses: HashMap<&str, usize> = HashMap::new();
        for op in &plan.ops {
            *uses.entry(value_name(op)).or_default() += 1;
            match op {
                // The run's result reports the output's plaintext whole.
                PlannedOp::Output { name, .. } => *uses.entry(name).or_default() += 1,
                // A training iteration hands its carried values' shadow on.
                PlannedOp::Compute { name, .. }
                    if plan
                        .training
                        .as_ref()
                        .is_some_and(|it| it.carry_out.contains_key(name)) =>
                {
                    *uses.entry(name).or_default() += 1
                }
                _ => {}
            }
        }
        // Every value is kept until the view is computed (hazards read operands too).
        let values = vals
            .into_iter()
            .map(|(n, v)| {
                let u = uses.get(n.as_str()).copied().unwrap_or(0);
                (n, (v, u))
            })
            .collect();
        ShadowStore {
            view: OnceLock::new(),
            live: Mutex::new(Live {
                values,
                complete: false,
            }),
        }
    }

    /// Computes what the trace shows of every op from the whole shadow, then drops the values
    /// no use is left for.
    pub(crate) fn complete(&self, plan: &Plan) {
        let vals: HashMap<String, Arc<ArrayD<f64>>> = self
            .live()
            .values
            .iter()
            .map(|(n, (v, _))| (n.clone(), v.clone()))
            .collect();
        let max_values = plan.scenario.trace.max_values;
        let view = plan
            .ops
            .iter()
            .map(|op| {
                let plain = vals
                    .get(value_name(op))
                    .map(|v| v.iter().take(max_values).copied().collect())
                    .unwrap_or_default();
                (plain, hazards(plan, op, &vals))
            })
            .collect();
        drop(vals);
        let _ = self.view.set(view);
        let mut live = self.live();
        live.complete = true;
        live.values.retain(|_, (_, uses)| *uses > 0);
    }

    fn live(&self) -> std::sync::MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The whole value of `name`, if something still uses it.
    pub(crate) fn get(&self, name: &str) -> Option<Arc<ArrayD<f64>>> {
        self.live().values.get(name).map(|(v, _)| v.clone())
    }

    /// One use of `name` is over (an op's summary is done); the value is dropped after its last
    /// (once the view is computed).
    pub(crate) fn release(&self, name: &str) {
        let mut live = self.live();
        let complete = live.complete;
        if let Some((_, uses)) = live.values.get_mut(name) {
            *uses = uses.saturating_sub(1);
            if *uses == 0 && complete {
                live.values.remove(name);
            }
        }
    }

    /// Op `i`'s first `max_values` plaintext elements.
    pub(crate) fn plaintext(&self, i: usize) -> &[f64] {
        self.view
            .get()
            .and_then(|v| v.get(i))
            .map_or(&[], |(p, _)| p.as_slice())
    }

    /// Op `i`'s hazards.
    pub(crate) fn hazards(&self, i: usize) -> &[Hazard] {
        self.view
            .get()
            .and_then(|v| v.get(i))
            .map_or(&[], |(_, h)| h.as_slice())
    }

    /// How many whole values are held (tests).
    #[cfg(test)]
    pub(crate) fn held_values(&self) -> usize {
        self.live().values.len()
    }
}

fn max_abs(a: &ArrayD<f64>) -> f64 {
    a.iter().fold(0f64, |m, v| m.max(v.abs()))
}

/// Hazards of one planned op, judged from the shadow values.
pub fn hazards<V: Borrow<ArrayD<f64>>>(
    plan: &Plan,
    op: &PlannedOp,
    vals: &HashMap<String, V>,
) -> Vec<Hazard> {
    let cfg: &FixedConfig = &plan.scenario.fixed_point;
    let mut out = Vec::new();
    let (name, inner) = match op {
        PlannedOp::Input { name, .. } => {
            out.extend(cfg.check_bound(vals[name].borrow().iter().copied()));
            return out;
        }
        PlannedOp::Output { .. } => return out,
        PlannedOp::Compute { name, op } => (name, op),
    };
    let result: &ArrayD<f64> = vals[name].borrow();
    out.extend(cfg.check_bound(result.iter().copied()));
    // The polynomial the protocol approximates the op with, if any (SecureNN's ReLU is exact).
    let approximation = plan.protocol().approximation_under(inner, &plan.settings());
    let truncates = plan.truncates(inner);
    // The largest magnitude that goes into a truncation: the result, or for polynomials the
    // highest power of the input.
    let mut pre_truncation = max_abs(result);
    if let (Some(approx), [x]) = (approximation, inner.operands().as_slice()) {
        let xs: &ArrayD<f64> = vals[*x].borrow();
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
            let xs: &ArrayD<f64> = vals[*x].borrow();
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
