//! The iteration loop (docs/training.md, "The loop"): iteration k is a run of its own plan
//! ([`TrainingPlan::iteration_plan`]); the private weights go from one run to the next as every
//! party's shares, the plaintext shadow's weights as f64. What is kept does not grow with the
//! number of iterations: the whole trace of the chosen iterations, per-epoch totals and
//! evaluations, the last iteration's carried values.

use super::{Iteration, TrainingPlan};
use crate::engine::{RunResult, Simulation, Totals};
use crate::error::{Result, SimError};
use crate::scenario::{Plan, PlannedOp};
use crate::trace::Trace;
use ndarray::ArrayD;
use protocols::protocol::Held;
use std::collections::HashMap;
use std::sync::Arc;

/// Loss and accuracy of one model, in f64.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Evaluation {
    /// The loss over the whole training set.
    pub train_loss: f64,
    /// Accuracy over the training set (classification only).
    pub train_accuracy: Option<f64>,
    /// Accuracy over the held-out set, if the scenario has one.
    pub test_accuracy: Option<f64>,
}

/// The costs of a set of iterations, summed.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Cost {
    /// Iterations summed.
    pub iterations: usize,
    /// Online bytes.
    pub bytes: u64,
    /// Offline (dealer) bytes.
    pub offline_bytes: u64,
    /// Online messages.
    pub messages: u64,
    /// Online rounds (each iteration's causal depth, summed: iterations run one after another).
    pub rounds: u64,
    /// Virtual time, ns (each iteration's makespan, summed).
    pub virtual_time_ns: u64,
    /// Wall-clock time of the simulation, ns.
    pub wall_time_ns: u64,
}

impl Cost {
    fn add(&mut self, t: &Totals) {
        self.iterations += 1;
        self.bytes += t.bytes;
        self.offline_bytes += t.offline_bytes;
        self.messages += t.messages;
        self.rounds += u64::from(t.rounds);
        self.virtual_time_ns += t.virtual_time_ns;
        self.wall_time_ns += t.wall_time_ns;
    }
}

/// One epoch's row of the report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EpochStats {
    /// The epoch (from 1).
    pub epoch: usize,
    /// The private model (its shares reconstructed by the simulator, which sees everything;
    /// no party learns it).
    pub private: Evaluation,
    /// The plaintext model trained in f64 from the same initial weights on the same batches.
    pub plaintext: Evaluation,
    /// Largest |private − plaintext| over every weight after any iteration of the epoch.
    pub max_weight_error: f64,
    /// Hazards raised in the epoch's iterations.
    pub hazards: usize,
    /// The epoch's costs.
    pub cost: Cost,
}

/// What a training run found.
#[derive(Debug, Clone)]
pub struct TrainingResult {
    /// The scenario's name.
    pub scenario: String,
    /// The protocol's name.
    pub protocol: String,
    /// Epochs and batches per epoch.
    pub epochs: usize,
    /// Batches (iterations) per epoch.
    pub batches_per_epoch: usize,
    /// Examples per batch.
    pub batch_size: usize,
    /// Before training.
    pub initial: (Evaluation, Evaluation),
    /// One row per epoch.
    pub per_epoch: Vec<EpochStats>,
    /// Iteration 0 alone (it also shares the initial weights).
    pub first_iteration: Cost,
    /// Iteration 1 alone, when there is one: a steady-state iteration (the weights carried).
    pub steady_iteration: Option<Cost>,
    /// Every iteration.
    pub total: Cost,
    /// The whole traces of the chosen iterations (`training.trace_iterations`).
    pub traces: Vec<(usize, Trace)>,
    /// The final reveal's run, if the scenario reveals anything.
    pub reveal: Option<RunResult>,
    /// Held-out examples the private model got wrong, as the `TestAccuracy` receiver learned
    /// it, and how many there are.
    pub revealed_test_errors: Option<(usize, usize)>,
    /// The plan's warnings.
    pub warnings: Vec<String>,
}

/// Progress through a training run, for a bar: (iterations done, iterations).
pub type Observer<'a> = &'a mut dyn FnMut(usize, usize);

/// Trains `plan` (iteration 0's plan of a training scenario) to the end.
pub fn train(plan: &Plan) -> Result<TrainingResult> {
    train_observed(plan, &mut |_, _| {})
}

/// What one iteration handed on.
pub struct Carried {
    /// Carried name → every party's shares.
    pub held: HashMap<String, Vec<Held>>,
    /// Carried name → the shadow's f64 value.
    pub shadow: HashMap<String, ArrayD<f64>>,
}

/// Runs one iteration's plan; returns its result and what it hands on.
pub fn run_iteration(plan: &Plan) -> Result<(RunResult, Carried)> {
    let mut sim = Simulation::start(plan, usize::MAX)?;
    let (held, shadow) = sim.take_carried();
    let r = sim.finish()?;
    Ok((r, Carried { held, shadow }))
}

/// [`train`], calling `observe` after every iteration.
pub fn train_observed(plan: &Plan, observe: Observer<'_>) -> Result<TrainingResult> {
    let Some(it) = &plan.training else {
        return Err(SimError::Usage(
            "the scenario has no training section".into(),
        ));
    };
    let tp: Arc<TrainingPlan> = it.training.clone();
    let iterations = tp.iterations();
    let mut weights = tp.init.clone();
    let initial = (evaluate(&tp, &tp.init), evaluate(&tp, &weights));
    let mut carried: HashMap<String, Vec<Held>> = HashMap::new();
    let mut per_epoch = Vec::new();
    let mut epoch = fresh_epoch(1);
    let mut first_iteration = Cost::default();
    let mut steady_iteration = None;
    let mut total = Cost::default();
    let mut traces = Vec::new();
    let mut warnings = plan.warnings.clone();
    for k in 0..iterations {
        let plan_k = if k == 0 {
            plan.clone()
        } else {
            inherit(
                tp.iteration_plan(k, &weights, std::mem::take(&mut carried))?,
                plan,
            )
        };
        let (r, out) = run_iteration(&plan_k)?;
        let missing = tp.carried_names().find(|c| !out.held.contains_key(*c));
        if let Some(c) = missing {
            return Err(SimError::Internal(format!(
                "iteration {k} handed on no shares of `{c}`"
            )));
        }
        carried = out.held;
        weights = out.shadow;
        let weight_error = weight_errors(&plan_k, &r);
        epoch.max_weight_error = epoch.max_weight_error.max(weight_error);
        epoch.hazards += r.trace.ops.iter().map(|o| o.hazards.len()).sum::<usize>();
        epoch.cost.add(&r.totals);
        total.add(&r.totals);
        if k == 0 {
            first_iteration.add(&r.totals);
        } else if k == 1 {
            let mut c = Cost::default();
            c.add(&r.totals);
            steady_iteration = Some(c);
        }
        for w in &r.warnings {
            if !warnings.contains(w) {
                warnings.push(w.clone());
            }
        }
        if tp.keeps_trace(k) {
            traces.push((k, r.trace));
        }
        if (k + 1) % tp.batches_per_epoch == 0 {
            let private = reconstruct(&plan_k, &carried)?;
            epoch.private = evaluate(&tp, &private);
            epoch.plaintext = evaluate(&tp, &weights);
            let next = epoch.epoch + 1;
            per_epoch.push(std::mem::replace(&mut epoch, fresh_epoch(next)));
        }
        observe(k + 1, iterations);
    }
    let mut reveal = None;
    let mut revealed_test_errors = None;
    if let Some(final_plan) = tp.final_plan(&weights, carried)? {
        let r = crate::engine::run(&inherit(final_plan, plan))?;
        if let Some(o) = r.outputs.iter().find(|o| o.name == "final/errors") {
            let n = tp.test_set().map_or(0, |t| t.0.shape()[0]);
            revealed_test_errors = Some((o.values[0].round().max(0.0) as usize, n));
        }
        reveal = Some(r);
    }
    Ok(TrainingResult {
        scenario: plan.scenario.name.clone(),
        protocol: plan.scenario.protocol.name().to_string(),
        epochs: tp.spec.epochs,
        batches_per_epoch: tp.batches_per_epoch,
        batch_size: tp.spec.batch_size,
        initial,
        per_epoch,
        first_iteration,
        steady_iteration,
        total,
        traces,
        reveal,
        revealed_test_errors,
        warnings,
    })
}

/// Iteration plan `p` with the timing and network of iteration 0's `plan` (which `--timing`
/// and `compare` may have changed).
fn inherit(mut p: Plan, plan: &Plan) -> Plan {
    p.scenario.timing = plan.scenario.timing;
    p.scenario.network = plan.scenario.network.clone();
    p.links = plan.links.clone();
    p
}

/// Iteration `k`'s plan of the training run `plan` starts (iteration 0's plan), with the shares
/// the iterations before it hand on (they run first, headless): what `sharescope debug
/// --iteration K` opens.
pub fn plan_at(plan: &Plan, k: usize) -> Result<Plan> {
    let Some(it) = &plan.training else {
        return Err(SimError::Usage(
            "the scenario has no training section".into(),
        ));
    };
    let tp = it.training.clone();
    let n = tp.iterations();
    if k >= n {
        return Err(SimError::Usage(format!(
            "iteration {k} does not exist: the run has {n} (0..{n})"
        )));
    }
    advance(plan, k)
}

/// The iteration plan `k` iterations after `plan`'s own (an iteration plan of a training run),
/// running the ones between headless from `plan` on: `plan_at(plan0, k)` is
/// `advance(plan0, k)`. The timing, network and links are `plan`'s.
pub fn advance(plan: &Plan, k: usize) -> Result<Plan> {
    let Some(it) = &plan.training else {
        return Err(SimError::Usage(
            "the scenario has no training section".into(),
        ));
    };
    let tp = it.training.clone();
    let n = tp.iterations();
    let target = it.index + k;
    if target >= n {
        return Err(SimError::Usage(format!(
            "iteration {target} does not exist: the run has {n} (0..{n})"
        )));
    }
    let mut current = plan.clone();
    for i in it.index..target {
        let (_, out) = run_iteration(&current)?;
        current = inherit(tp.iteration_plan(i + 1, &out.shadow, out.held)?, plan);
    }
    Ok(current)
}

/// The plan of the iteration after iteration plan `plan`'s, from what `plan`'s run handed on
/// (`carried`): what the debugger opens when the cursor steps past the end of an iteration.
/// `None` after the last iteration (or for a plan that is not a training iteration).
pub fn next_plan(plan: &Plan, carried: Carried) -> Result<Option<Plan>> {
    let Some(it) = &plan.training else {
        return Ok(None);
    };
    let tp = it.training.clone();
    if it.index + 1 >= tp.iterations() {
        return Ok(None);
    }
    let next = tp.iteration_plan(it.index + 1, &carried.shadow, carried.held)?;
    Ok(Some(inherit(next, plan)))
}

/// Iteration 0's plan of the training run iteration plan `plan` belongs to (its timing,
/// network and links `plan`'s): where the debugger starts to reopen an earlier iteration.
pub fn first_plan(plan: &Plan) -> Result<Plan> {
    let Some(it) = &plan.training else {
        return Err(SimError::Usage(
            "the scenario has no training section".into(),
        ));
    };
    let tp = it.training.clone();
    let first = tp.iteration_plan(0, &tp.init, HashMap::new())?;
    Ok(inherit(first, plan))
}

fn fresh_epoch(epoch: usize) -> EpochStats {
    EpochStats {
        epoch,
        private: Evaluation::default(),
        plaintext: Evaluation::default(),
        max_weight_error: 0.0,
        hazards: 0,
        cost: Cost::default(),
    }
}

/// The largest error against the shadow of an iteration's updated weights (not the momentum
/// states).
fn weight_errors(plan: &Plan, r: &RunResult) -> f64 {
    let Some(it) = &plan.training else {
        return 0.0;
    };
    let params = &it.training.params;
    r.trace
        .ops
        .iter()
        .filter(|o| {
            it.carry_out
                .get(&o.name)
                .is_some_and(|c| params.iter().any(|(p, _)| p == c))
        })
        .filter_map(|o| o.stats.max_abs_error)
        .fold(0.0, f64::max)
}

/// The carried weights' values from every party's shares (what the simulator sees; no party
/// learns them).
pub fn reconstruct(
    plan: &Plan,
    carried: &HashMap<String, Vec<Held>>,
) -> Result<HashMap<String, ArrayD<f64>>> {
    let cfg = plan.scenario.fixed_point;
    carried
        .iter()
        .map(|(name, held)| {
            let v = plan
                .protocol()
                .reconstruct(&plan.seats, held)
                .ok_or_else(|| SimError::Internal(format!("`{name}` cannot be reconstructed")))?;
            Ok((name.clone(), v.decode(&cfg)))
        })
        .collect()
}

/// The loss and accuracies of the model `weights`.
pub fn evaluate(tp: &TrainingPlan, weights: &HashMap<String, ArrayD<f64>>) -> Evaluation {
    let x = tp.train_features();
    let (targets, classes) = tp.train_targets();
    let pred = tp.predict(weights, &x);
    let train_loss = loss(tp.spec.loss, &pred, &targets);
    let train_accuracy = accuracy(tp, &pred, &targets, &classes);
    let test_accuracy = tp.test_set().and_then(|(x, t, c)| {
        let p = tp.predict(weights, x);
        accuracy(tp, &p, t, c)
    });
    Evaluation {
        train_loss,
        train_accuracy,
        test_accuracy,
    }
}

/// Mean loss of predictions `p` against targets `t` (rows of examples).
pub fn loss(kind: super::Loss, p: &ArrayD<f64>, t: &ArrayD<f64>) -> f64 {
    let n = p.shape()[0].max(1) as f64;
    let rows = |a: &ArrayD<f64>| {
        let cols = a.len() / a.shape()[0].max(1);
        a.iter()
            .copied()
            .collect::<Vec<f64>>()
            .chunks(cols.max(1))
            .map(<[f64]>::to_vec)
            .collect::<Vec<_>>()
    };
    let (pr, tr) = (rows(p), rows(t));
    let sum: f64 = pr
        .iter()
        .zip(&tr)
        .map(|(p, t)| match kind {
            super::Loss::Mse => 0.5 * p.iter().zip(t).map(|(a, b)| (a - b).powi(2)).sum::<f64>(),
            super::Loss::SoftmaxCrossEntropy => {
                let m = p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let lse = m + p.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
                p.iter().zip(t).map(|(z, y)| y * (lse - z)).sum::<f64>()
            }
            super::Loss::Logistic => p
                .iter()
                .zip(t)
                .map(|(z, y)| {
                    // log(1 + e^z) − y·z, stably.
                    z.max(0.0) + (-z.abs()).exp().ln_1p() - y * z
                })
                .sum::<f64>(),
        })
        .sum();
    sum / n
}

/// Classification accuracy: argmax with class labels, else the sign for one logistic output.
fn accuracy(tp: &TrainingPlan, p: &ArrayD<f64>, t: &ArrayD<f64>, classes: &[usize]) -> Option<f64> {
    let n = p.shape()[0];
    if n == 0 {
        return None;
    }
    if tp.spec.classes.is_some() {
        let cols = p.len() / n;
        let flat: Vec<f64> = p.iter().copied().collect();
        let pred = crate::metrics::argmax_rows(&flat, cols);
        let right = pred.iter().zip(classes).filter(|(a, b)| a == b).count();
        return Some(right as f64 / n as f64);
    }
    if tp.spec.loss == super::Loss::Logistic && p.len() == n {
        let right = p
            .iter()
            .zip(t.iter())
            .filter(|(z, y)| (**z > 0.0) == (**y > 0.5))
            .count();
        return Some(right as f64 / n as f64);
    }
    None
}

/// Whether `op` of an iteration plan hands its value on (kept whole by the per-op results).
pub(crate) fn carries(it: &Iteration, op: &PlannedOp) -> bool {
    match op {
        PlannedOp::Compute { name, .. } => it.carry_out.contains_key(name),
        _ => false,
    }
}
