//! Private training (issue 13 §2, docs/training.md): a scenario's `training` section turns its
//! forward program into an iteration program — the batch's inputs, the forward pass (ReLU as
//! Greater + Mul, so the DReLU bit is computed once and reused backward), the loss's gradient,
//! the backward pass ([`autodiff`]) and the SGD update — and [`run::train`] runs it
//! `epochs × batches` times, each iteration a run of its own whose private weights are carried
//! to the next as shares ([`Iteration::carried_in`], `Party::set_held`), never opened.
//!
//! [`plan`] validates the section (located errors) and gives iteration 0's plan, which `check`,
//! `debug` and `compare` use like any plan; [`TrainingPlan::iteration_plan`] makes iteration k's.

pub mod autodiff;
pub mod format;
pub mod report;
pub mod run;

use crate::error::ScenarioError;
use crate::memory::MemoryBudget;
use crate::scenario::PathSeg::{self, Field as F, Item as I};
use crate::scenario::{Data, InputSpec, OutputSpec, Plan, PlannedOp, Scenario, Source, Stmt};
use autodiff::{Gen, Origin};
use format::*;
use ndarray::{ArrayD, Axis, IxDyn};
use protocols::program::{eval_f64, infer_shape, Op};
use protocols::protocol::Held;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// What a plan of a training run carries: which iteration it is, the shares it starts from and
/// the values it hands on.
#[derive(Debug, Clone)]
pub struct Iteration {
    /// The training run.
    pub training: Arc<TrainingPlan>,
    /// The iteration's index (the final reveal's plan has index `iterations`).
    pub index: usize,
    /// Carried value → what every party held of it after the previous iteration (empty for
    /// iteration 0, whose weights are inputs). Bound before the first op (`Party::set_held`).
    pub carried_in: HashMap<String, Vec<Held>>,
    /// Value the iteration computes → the carried name it becomes in the next iteration
    /// (`it3/w1` → `w1`); their shares are kept whole, not only summarised.
    pub carry_out: HashMap<String, String>,
}

/// A validated training section, with its data loaded.
#[derive(Debug)]
pub struct TrainingPlan {
    /// The section as written.
    pub spec: TrainingSpec,
    /// The scenario without its training section, inputs, program and outputs: what every
    /// generated scenario starts from.
    template: Scenario,
    source: Source,
    budget: MemoryBudget,
    /// The scenario's forward program as written.
    pub forward: Vec<Stmt>,
    /// Parameters in order, with their shapes.
    pub params: Vec<(String, Vec<usize>)>,
    /// The initial weights (momentum states included, zeros).
    pub init: HashMap<String, ArrayD<f64>>,
    /// Each provider's features.
    features: Vec<ArrayD<f64>>,
    /// Each label part's targets (one-hot when `classes` is given).
    labels: Vec<ArrayD<f64>>,
    /// Each label part's class indices (with `classes`).
    label_classes: Vec<Vec<usize>>,
    /// Held-out features and their targets / classes.
    test: Option<(ArrayD<f64>, ArrayD<f64>, Vec<usize>)>,
    /// The held-out set as its providers input it for `TestAccuracy`: each features part with
    /// its owner, and each labels part (class indices) with its owner.
    test_inputs: (Parts, Parts),
    /// Batches per epoch.
    pub batches_per_epoch: usize,
    /// Examples each provider contributes to a batch.
    per_provider: usize,
    /// The iteration program without iteration prefixes.
    program: Vec<Gen>,
    /// Carried name → the template name of its new value (`w1` → `@w1`).
    carried: Vec<(String, String)>,
    /// The step factor learning_rate / batch_size.
    pub step: f64,
}

/// A held-out set: features, targets and class indices.
type HeldOut = (ArrayD<f64>, ArrayD<f64>, Vec<usize>);

/// A data set's parts, each with the provider who inputs it.
type Parts = Vec<(String, ArrayD<f64>)>;

/// Names the generator uses for the batch's targets and constants.
const TARGET: &str = "target";

impl TrainingPlan {
    /// Iterations in the whole run.
    pub fn iterations(&self) -> usize {
        self.spec.epochs * self.batches_per_epoch
    }

    /// Whether iteration `k` keeps its whole trace.
    pub fn keeps_trace(&self, k: usize) -> bool {
        match &self.spec.trace_iterations {
            Some(list) => list.contains(&k),
            None => k == 0 || k + 1 == self.iterations(),
        }
    }

    /// Carried names in order (parameters, then momentum states).
    pub fn carried_names(&self) -> impl Iterator<Item = &str> {
        self.carried.iter().map(|(c, _)| c.as_str())
    }

    /// The rows each provider contributes to iteration `k` (a seeded permutation per epoch).
    fn rows(&self, k: usize) -> Vec<Vec<usize>> {
        let epoch = k / self.batches_per_epoch;
        let b = k % self.batches_per_epoch;
        let m = self.per_provider;
        let seed = self.template.seed;
        let perm = |n: usize, part: usize| -> Vec<usize> {
            let mut idx: Vec<usize> = (0..n).collect();
            if self.spec.shuffle {
                let mut rng = ChaCha20Rng::seed_from_u64(
                    seed ^ 0x7a41_u64.wrapping_mul(epoch as u64 + 1)
                        ^ (part as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                );
                rand::seq::SliceRandom::shuffle(idx.as_mut_slice(), &mut rng);
            }
            idx[b * m..(b + 1) * m].to_vec()
        };
        match self.spec.split {
            Split::Rows => self
                .features
                .iter()
                .enumerate()
                .map(|(j, f)| perm(f.shape()[0], j))
                .collect(),
            Split::Columns => {
                let rows = perm(self.features[0].shape()[0], 0);
                vec![rows; self.features.len()]
            }
        }
    }

    /// The names an iteration's prefix applies to: everything but the carried values.
    fn renamer(&self, prefix: &str) -> impl Fn(&str) -> String + '_ {
        let carried: HashSet<&str> = self.carried_names().collect();
        let prefix = prefix.to_string();
        move |n: &str| {
            if carried.contains(n) {
                n.to_string()
            } else if let Some(rest) = n.strip_prefix('@') {
                format!("{prefix}{rest}")
            } else {
                format!("{prefix}{n}")
            }
        }
    }

    /// Iteration `k`'s scenario: the carried values as the owner's inputs (their data the
    /// plaintext shadow's current weights), the batch's parts, and the iteration program.
    fn iteration_scenario(&self, k: usize, weights: &HashMap<String, ArrayD<f64>>) -> Scenario {
        let prefix = format!("it{k}/");
        let rename = self.renamer(&prefix);
        let mut s = self.template.clone();
        s.seed = iteration_seed(self.template.seed, k);
        s.inputs = self.carried_inputs(weights);
        let rows = self.rows(k);
        let parts = self.features.len();
        for (j, f) in self.features.iter().enumerate() {
            let name = if parts == 1 {
                self.spec.input.clone()
            } else {
                format!("{}.{}", self.spec.input, self.spec.features[j].owner)
            };
            s.inputs.push(take_rows(
                rename(&name),
                &self.spec.features[j].owner,
                f,
                &rows[j],
            ));
        }
        let label_parts = self.labels.len();
        for (j, l) in self.labels.iter().enumerate() {
            let name = if label_parts == 1 {
                TARGET.to_string()
            } else {
                format!("{TARGET}.{}", self.spec.labels[j].owner)
            };
            s.inputs.push(take_rows(
                rename(&name),
                &self.spec.labels[j].owner,
                l,
                &rows[j],
            ));
        }
        s.program = self
            .program
            .iter()
            .map(|(st, _)| rename_stmt(st, &rename))
            .collect();
        s
    }

    fn carried_inputs(&self, weights: &HashMap<String, ArrayD<f64>>) -> Vec<InputSpec> {
        self.carried
            .iter()
            .map(|(c, _)| {
                let w = &weights[c];
                InputSpec {
                    name: c.clone(),
                    owner: self.spec.owner.clone(),
                    shape: w.shape().to_vec(),
                    data: Data::Values(w.iter().copied().collect()),
                }
            })
            .collect()
    }

    /// Iteration `k`'s plan: the shadow's weights `weights`, and — after the first iteration —
    /// the shares every party carries in (`carried_in`), in place of the weights' input ops.
    pub fn iteration_plan(
        self: &Arc<Self>,
        k: usize,
        weights: &HashMap<String, ArrayD<f64>>,
        carried_in: HashMap<String, Vec<Held>>,
    ) -> Result<Plan, ScenarioError> {
        let scenario = self.iteration_scenario(k, weights);
        let rename = self.renamer(&format!("it{k}/"));
        let carry_out = self
            .carried
            .iter()
            .map(|(c, new)| (rename(new), c.clone()))
            .collect();
        self.finish_plan(scenario, k, carried_in, carry_out)
    }

    fn finish_plan(
        self: &Arc<Self>,
        scenario: Scenario,
        index: usize,
        carried_in: HashMap<String, Vec<Held>>,
        carry_out: HashMap<String, String>,
    ) -> Result<Plan, ScenarioError> {
        let mut plan =
            Plan::with_budget(&self.source, scenario, self.budget).map_err(|mut e| {
                e.message = format!("in the generated training iteration {index}: {}", e.message);
                e
            })?;
        if !carried_in.is_empty() {
            plan.ops.retain(|op| match op {
                PlannedOp::Input { name, .. } => !carried_in.contains_key(name),
                _ => true,
            });
        }
        plan.training = Some(Arc::new(Iteration {
            training: self.clone(),
            index,
            carried_in,
            carry_out,
        }));
        Ok(plan)
    }

    /// The plan that reveals what the scenario's `reveal` asks for, from the trained shares, or
    /// `None` when it reveals nothing.
    pub fn final_plan(
        self: &Arc<Self>,
        weights: &HashMap<String, ArrayD<f64>>,
        carried_in: HashMap<String, Vec<Held>>,
    ) -> Result<Option<Plan>, ScenarioError> {
        if self.spec.reveal.is_empty() {
            return Ok(None);
        }
        let k = self.iterations();
        let rename = self.renamer("final/");
        let mut s = self.template.clone();
        s.seed = iteration_seed(self.template.seed, k);
        s.inputs = self.carried_inputs(weights);
        for r in &self.spec.reveal {
            match r {
                Reveal::Model { to } => {
                    for (p, _) in &self.params {
                        s.outputs.push(OutputSpec {
                            name: p.clone(),
                            to: to.clone(),
                        });
                    }
                }
                Reveal::TestAccuracy { to } => {
                    // Each provider inputs its part; several parts are joined like a batch.
                    let axis = match self.spec.split {
                        Split::Rows => 0,
                        Split::Columns => 1,
                    };
                    let (xs, ls) = &self.test_inputs;
                    for (base, parts, axis) in
                        [(&self.spec.input, xs, axis), (&"labels".to_string(), ls, 0)]
                    {
                        let names: Vec<String> = parts
                            .iter()
                            .map(|(owner, _)| match parts.len() {
                                1 => rename(base),
                                _ => rename(&format!("{base}.{owner}")),
                            })
                            .collect();
                        for ((owner, a), name) in parts.iter().zip(&names) {
                            let all: Vec<usize> = (0..a.shape()[0]).collect();
                            s.inputs.push(take_rows(name.clone(), owner, a, &all));
                        }
                        if parts.len() > 1 {
                            s.program.push(stmt(
                                &rename(base),
                                Op::Concat {
                                    inputs: names,
                                    axis,
                                },
                            ));
                        }
                    }
                    for st in &self.forward {
                        s.program.push(rename_stmt(st, &rename));
                    }
                    let pred = rename(&self.spec.prediction);
                    let n = |x: &str| rename(x);
                    s.program.extend([
                        stmt(&n("class"), Op::Argmax(pred)),
                        stmt(&n("diff"), Op::Sub(n("class"), n("labels"))),
                        stmt(&n("diff2"), Op::Square(n("diff"))),
                        stmt(&n("half"), Op::Const(0.5)),
                        stmt(&n("wrong"), Op::Greater(n("diff2"), n("half"))),
                        stmt(
                            &n("errors"),
                            Op::ReduceSum {
                                input: n("wrong"),
                                axis: None,
                            },
                        ),
                    ]);
                    s.outputs.push(OutputSpec {
                        name: n("errors"),
                        to: to.clone(),
                    });
                }
            }
        }
        self.finish_plan(s, k, carried_in, HashMap::new()).map(Some)
    }

    /// The forward program's prediction in f64 from `weights` on `features` (every row).
    pub fn predict(&self, weights: &HashMap<String, ArrayD<f64>>, x: &ArrayD<f64>) -> ArrayD<f64> {
        let mut vals: HashMap<&str, ArrayD<f64>> = HashMap::new();
        for (p, _) in &self.params {
            vals.insert(p, weights[p].clone());
        }
        vals.insert(&self.spec.input, x.clone());
        for s in &self.forward {
            let args: Vec<&ArrayD<f64>> = s.op.operands().iter().map(|o| &vals[*o]).collect();
            let v = eval_f64(&s.op, &args);
            vals.insert(&s.name, v);
        }
        vals.remove(self.spec.prediction.as_str())
            .expect("validated: the prediction is computed")
    }

    /// The training features of every example (the providers' parts joined).
    pub fn train_features(&self) -> ArrayD<f64> {
        let views: Vec<_> = self.features.iter().map(|a| a.view()).collect();
        let axis = match self.spec.split {
            Split::Rows => 0,
            Split::Columns => 1,
        };
        ndarray::concatenate(Axis(axis), &views).expect("validated shapes")
    }

    /// The training targets and classes of every example, in [`Self::train_features`]' order.
    pub fn train_targets(&self) -> (ArrayD<f64>, Vec<usize>) {
        let views: Vec<_> = self.labels.iter().map(|a| a.view()).collect();
        let t = ndarray::concatenate(Axis(0), &views).expect("validated shapes");
        (t, self.label_classes.concat())
    }

    /// The held-out features, targets and classes, if the scenario has them.
    pub fn test_set(&self) -> Option<&(ArrayD<f64>, ArrayD<f64>, Vec<usize>)> {
        self.test.as_ref()
    }
}

/// Binds the shares `plan` carries in from the previous iteration at party `me` (before the
/// plan's first op; nothing for a plan that is not a training iteration).
pub(crate) fn bind_carried(
    party: &mut dyn protocols::protocol::Party,
    plan: &Plan,
    me: usize,
) -> Result<(), protocols::error::ProtocolError> {
    let Some(it) = &plan.training else {
        return Ok(());
    };
    let mut names: Vec<&String> = it.carried_in.keys().collect();
    names.sort();
    for name in names {
        let held = it.carried_in[name].get(me).cloned().unwrap_or_default();
        party.set_held(name, &plan.shapes[name], held)?;
    }
    Ok(())
}

/// A training run's cost from one iteration's estimate (`sharescope check`): iteration 0 shares
/// the initial weights, every later iteration carries them (the same ops without the weights'
/// input ops), so the run's bytes and messages are exact; its rounds are each iteration's
/// causal depth summed.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RunEstimate {
    /// Epochs.
    pub epochs: usize,
    /// Iterations per epoch.
    pub batches_per_epoch: usize,
    /// Iteration 0.
    pub first: crate::estimate::EstimatedTotals,
    /// Every later iteration.
    pub steady: crate::estimate::EstimatedTotals,
}

impl RunEstimate {
    /// Iterations in the run.
    pub fn iterations(&self) -> u64 {
        (self.epochs * self.batches_per_epoch) as u64
    }

    /// Online and offline bytes of the whole run.
    pub fn total_bytes(&self) -> (u64, u64) {
        let later = self.iterations().saturating_sub(1);
        (
            self.first.bytes + later * self.steady.bytes,
            self.first.offline_bytes + later * self.steady.offline_bytes,
        )
    }

    /// The lines `sharescope check` prints.
    pub fn text(&self) -> String {
        use crate::units::bytes;
        let (on, off) = self.total_bytes();
        format!(
            "training: {} epoch(s) × {} iterations; the table is iteration 0, which also shares the \
             initial weights\n  every later iteration (weights carried as shares): {} online + {} \
             offline, {} messages, {} rounds\n  per epoch: {} online + {} offline; whole run: {} \
             online + {} offline\n",
            self.epochs,
            self.batches_per_epoch,
            bytes(self.steady.bytes),
            bytes(self.steady.offline_bytes),
            self.steady.messages,
            self.steady.rounds,
            bytes(self.first.bytes + (self.batches_per_epoch as u64 - 1) * self.steady.bytes),
            bytes(
                self.first.offline_bytes
                    + (self.batches_per_epoch as u64 - 1) * self.steady.offline_bytes
            ),
            bytes(on),
            bytes(off),
        )
    }
}

/// [`RunEstimate`] of a training scenario's iteration-0 `plan` from its estimate (`None` for
/// another plan, or one whose ops could not all be costed).
pub fn estimate_run(plan: &Plan, est: &crate::estimate::Estimate) -> Option<RunEstimate> {
    let it = plan.training.as_ref()?;
    let first = est.totals?;
    let mut steady_plan = plan.clone();
    let carried: HashSet<&str> = it.training.carried_names().collect();
    steady_plan.ops.retain(|op| match op {
        PlannedOp::Input { name, .. } => !carried.contains(name.as_str()),
        _ => true,
    });
    let steady = crate::estimate::estimate(&steady_plan).totals?;
    Some(RunEstimate {
        epochs: it.training.spec.epochs,
        batches_per_epoch: it.training.batches_per_epoch,
        first,
        steady,
    })
}

/// The lowest iteration a preset breakpoint of the scenario names by an op label `it<K>/…`
/// (`breakpoints: [Op("it5/d.w1")]`), so `sharescope debug` opens that iteration.
pub fn first_breakpoint_iteration(plan: &Plan) -> Option<usize> {
    plan.training.as_ref()?;
    plan.scenario
        .breakpoints
        .iter()
        .filter_map(|b| match b {
            crate::scenario::BreakpointSpec::Op(label) => label
                .strip_prefix("it")?
                .split_once('/')
                .and_then(|(k, _)| k.parse::<usize>().ok()),
            _ => None,
        })
        .min()
}

/// The iteration an op label of a training run names and the label without its iteration
/// prefix: `it5/d.w1` → (5, `d.w1`), `input it5/x` → (5, `input x`); `None` for another label.
pub fn label_iteration(label: &str) -> Option<(usize, String)> {
    let (kind, rest) = match label.split_once(' ') {
        Some((kind, rest)) if !kind.contains('/') => (Some(kind), rest),
        _ => (None, label),
    };
    let (k, name) = rest.strip_prefix("it")?.split_once('/')?;
    let k = k.parse::<usize>().ok()?;
    let name = match kind {
        Some(kind) => format!("{kind} {name}"),
        None => name.to_string(),
    };
    Some((k, name))
}

/// Whether `label` names an op of some iteration of the training run iteration plan `plan`
/// belongs to: `it<K>/…` with K an iteration of the run, and the same op in `plan`'s own
/// iteration (every iteration runs the same program; only iteration 0 also inputs the initial
/// weights, whose labels carry no prefix). False for a plan that is not a training iteration.
pub fn names_iteration_op(plan: &Plan, label: &str) -> bool {
    let Some(it) = &plan.training else {
        return false;
    };
    let Some((k, name)) = label_iteration(label) else {
        return false;
    };
    if k >= it.training.iterations() {
        return false;
    }
    plan.ops
        .iter()
        .any(|o| label_iteration(&o.label()).is_some_and(|(j, n)| j == it.index && n == name))
}

/// Iteration `k`'s seed under the scenario's `seed` (every party's randomness in it): the
/// scenario's own for iteration 0, a SplitMix64 mix of it and k for the others.
pub fn iteration_seed(seed: u64, k: usize) -> u64 {
    if k == 0 {
        return seed;
    }
    let mut z = seed ^ (k as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn stmt(name: &str, op: Op) -> Stmt {
    Stmt {
        name: name.to_string(),
        op,
    }
}

/// An input holding rows `rows` of `a`.
fn take_rows(name: String, owner: &str, a: &ArrayD<f64>, rows: &[usize]) -> InputSpec {
    let part = a.select(Axis(0), rows);
    InputSpec {
        name,
        owner: owner.to_string(),
        shape: part.shape().to_vec(),
        data: Data::Values(part.iter().copied().collect()),
    }
}

/// `s` with its name and every operand renamed (every string in an op is a value name).
fn rename_stmt(s: &Stmt, rename: &dyn Fn(&str) -> String) -> Stmt {
    fn walk(v: &mut serde_json::Value, rename: &dyn Fn(&str) -> String) {
        match v {
            serde_json::Value::String(s) => *s = rename(s),
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| walk(x, rename)),
            serde_json::Value::Object(o) => o.values_mut().for_each(|x| walk(x, rename)),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(&s.op).expect("an op serialises");
    walk(&mut v, rename);
    Stmt {
        name: rename(&s.name),
        op: serde_json::from_value(v).expect("a renamed op deserialises"),
    }
}

/// `plan` (a training scenario's) under another seed: the data order, the initial weights and
/// every iteration's randomness follow the seed, so the section is resolved again.
pub fn reseeded(plan: &Plan, seed: u64) -> Result<Plan, crate::error::SimError> {
    let Some(it) = &plan.training else {
        let mut p = plan.clone();
        p.scenario.seed = seed;
        return Ok(p);
    };
    let tp = &it.training;
    let mut scenario = crate::scenario::parse(&tp.source)?;
    scenario.seed = seed;
    scenario.protocol = plan.scenario.protocol;
    Ok(self::plan(&tp.source, scenario, tp.budget)?)
}

/// Validates `scenario`'s training section and gives iteration 0's plan.
pub fn plan(
    source: &Source,
    scenario: Scenario,
    budget: MemoryBudget,
) -> Result<Plan, ScenarioError> {
    let tp = Arc::new(resolve(source, scenario, budget)?);
    let init = tp.init.clone();
    tp.iteration_plan(0, &init, HashMap::new())
}

/// Loads one data set (`.npy` relative to the scenario, inline values or seeded draws).
fn load_data(
    source: &Source,
    data: &Data,
    shape: Option<&[usize]>,
    seed: u64,
    at: &[PathSeg],
) -> Result<ArrayD<f64>, ScenarioError> {
    let err = |m: String, hint: &str| source.error_at_path(at, m, hint);
    let values_shape = |n: usize| -> Result<Vec<usize>, ScenarioError> {
        match shape {
            Some(s) => Ok(s.to_vec()),
            None => Err(err(
                format!("{n} values need a `shape`"),
                "add shape: [rows, columns] beside data",
            )),
        }
    };
    let (shape, values) = match data {
        Data::Npy(p) => {
            let full = source.dir.join(p);
            let a = crate::npy::read_npy(&full).map_err(|m| {
                err(
                    m,
                    "paths are relative to the scenario file; write the array with numpy.save",
                )
            })?;
            match shape {
                // A reshape with the same element count is fine ([N, 64] as [N, 1, 8, 8]).
                Some(s) if s.iter().product::<usize>() != a.values.len() => {
                    return Err(err(
                        format!(
                            "{p} holds shape {:?} ({} values), the scenario says {s:?}",
                            a.shape,
                            a.values.len()
                        ),
                        "make `shape` hold as many elements as the file, or leave it out",
                    ));
                }
                Some(s) => (s.to_vec(), a.values),
                None => (a.shape, a.values),
            }
        }
        Data::Values(v) => (values_shape(v.len())?, v.clone()),
        Data::Random(d) => {
            let s = values_shape(0)?;
            if !crate::scenario::distribution_is_valid(*d) {
                return Err(err(
                    format!("{d:?} cannot be drawn from"),
                    "uniform needs low < high; normal a standard deviation ≥ 0",
                ));
            }
            let n = s.iter().product();
            (s, crate::scenario::random_values(*d, seed, n))
        }
    };
    if shape.iter().product::<usize>() != values.len() || shape.is_empty() || shape.contains(&0) {
        return Err(err(
            format!("{} values do not fill shape {shape:?}", values.len()),
            "give one value per element, row-major, and no zero dimension",
        ));
    }
    if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
        return Err(err(
            format!("the data contains {bad}"),
            "data must be finite",
        ));
    }
    Ok(ArrayD::from_shape_vec(IxDyn(&shape), values).expect("checked size"))
}

/// Class indices `labels` (one per row) one-hot to `classes` columns.
/// Class indices as one value per example (what `TestAccuracy`'s label input holds).
fn class_column(classes: &[usize]) -> ArrayD<f64> {
    ArrayD::from_shape_vec(
        IxDyn(&[classes.len()]),
        classes.iter().map(|&c| c as f64).collect(),
    )
    .expect("one label per row")
}

/// A held-out set split between providers (`training.test_parts`): the joined features,
/// targets and classes (for the f64 evaluation), and each part as its provider inputs it.
fn test_parts(
    source: &Source,
    spec: &TrainingSpec,
    tp: &TestParts,
    x_shape: &[usize],
    is_provider: &dyn Fn(&str) -> bool,
    seed: u64,
) -> Result<(HeldOut, (Parts, Parts)), ScenarioError> {
    let err = |path: &[PathSeg], msg: String, hint: &str| source.error_at_path(path, msg, hint);
    let at = |f: &'static str| vec![F("training"), F("test_parts"), F(f)];
    if tp.features.is_empty() {
        return Err(err(
            &at("features"),
            "no test features".into(),
            "one part per provider: features: [(owner: \"alice\", data: Npy(\"test_x.npy\"))]",
        ));
    }
    let mut xs: Parts = Vec::new();
    for (j, d) in tp.features.iter().enumerate() {
        let path = [F("training"), F("test_parts"), F("features"), I(j)];
        let mut owner_at = path.to_vec();
        owner_at.push(F("owner"));
        if !is_provider(&d.owner) {
            return Err(err(
                &owner_at,
                format!("`{}` is not an input provider", d.owner),
                "add it to roles.input_providers",
            ));
        }
        if xs.iter().any(|(o, _)| *o == d.owner) {
            return Err(err(
                &owner_at,
                format!("`{}` holds two parts of the test set", d.owner),
                "one part per provider",
            ));
        }
        let mut data_at = path.to_vec();
        data_at.extend([F("data"), I(0)]);
        let a = load_data(
            source,
            &d.data,
            d.shape.as_deref(),
            crate::scenario::random_seed(seed ^ 0x7e57, j),
            &data_at,
        )?;
        let fits = match spec.split {
            Split::Rows => a.ndim() == x_shape.len() && a.shape()[1..] == x_shape[1..],
            Split::Columns => {
                a.ndim() == x_shape.len()
                    && a.shape()[2..] == x_shape[2..]
                    && xs.first().is_none_or(|(_, f)| f.shape()[0] == a.shape()[0])
            }
        };
        if !fits {
            return Err(err(
                &path,
                format!(
                    "test features of shape {:?} do not fit the batch's rows {:?} split by {:?}",
                    a.shape(),
                    &x_shape[1..],
                    spec.split
                ),
                "Rows: every part has the training features' columns; Columns: the same \
                 examples in every part, the parts' columns adding up to the training features'",
            ));
        }
        xs.push((d.owner.clone(), a));
    }
    let axis = match spec.split {
        Split::Rows => 0,
        Split::Columns => 1,
    };
    let views: Vec<_> = xs.iter().map(|(_, a)| a.view()).collect();
    let x = ndarray::concatenate(Axis(axis), &views).expect("checked shapes");
    if x.shape()[1..] != x_shape[1..] {
        return Err(err(
            &at("features"),
            format!(
                "the test parts join to rows of {:?}, the batch's are {:?}",
                &x.shape()[1..],
                &x_shape[1..]
            ),
            "split by Columns, the parts' columns add up to the training features'",
        ));
    }
    let want = match spec.split {
        Split::Rows => xs.len(),
        Split::Columns => 1,
    };
    if tp.labels.len() != want {
        return Err(err(
            &at("labels"),
            format!(
                "{} label part(s) for {} test feature part(s) split by {:?}",
                tp.labels.len(),
                xs.len(),
                spec.split
            ),
            "Rows: one label part per feature part, same owner and rows; Columns: one label part",
        ));
    }
    let mut ls: Parts = Vec::new();
    let mut targets = Vec::new();
    let mut classes = Vec::new();
    for (j, d) in tp.labels.iter().enumerate() {
        let path = [F("training"), F("test_parts"), F("labels"), I(j)];
        let mut owner_at = path.to_vec();
        owner_at.push(F("owner"));
        if !is_provider(&d.owner) {
            return Err(err(
                &owner_at,
                format!("`{}` is not an input provider", d.owner),
                "add it to roles.input_providers",
            ));
        }
        if spec.split == Split::Rows && d.owner != xs[j].0 {
            return Err(err(
                &owner_at,
                format!(
                    "test label part {j} is `{}`'s, its features `{}`'s",
                    d.owner, xs[j].0
                ),
                "split by Rows, each provider holds its examples' labels",
            ));
        }
        let rows = match spec.split {
            Split::Rows => xs[j].1.shape()[0],
            Split::Columns => x.shape()[0],
        };
        let lshape = [rows];
        let shape = match (&d.shape, &d.data) {
            (Some(s), _) => Some(s.as_slice()),
            (None, Data::Npy(_)) => None,
            (None, _) => Some(&lshape[..]),
        };
        let mut data_at = path.to_vec();
        data_at.extend([F("data"), I(0)]);
        let raw = load_data(
            source,
            &d.data,
            shape,
            crate::scenario::random_seed(seed ^ 0x7e58, j),
            &data_at,
        )?;
        if raw.shape()[0] != rows {
            return Err(err(
                &path,
                format!("{} test labels for {rows} test examples", raw.shape()[0]),
                "one label per example",
            ));
        }
        let e = |m: String| err(&path, m, "labels are class indices with `classes`");
        let (t, c) = match spec.classes {
            Some(k) => one_hot(&raw, k, &e)?,
            None => (raw, Vec::new()),
        };
        ls.push((d.owner.clone(), class_column(&c)));
        targets.push(t);
        classes.extend(c);
    }
    let views: Vec<_> = targets.iter().map(|a| a.view()).collect();
    let t = ndarray::concatenate(Axis(0), &views).expect("one target row per example");
    Ok(((x, t, classes), (xs, ls)))
}

fn one_hot(
    labels: &ArrayD<f64>,
    classes: usize,
    err: &dyn Fn(String) -> ScenarioError,
) -> Result<(ArrayD<f64>, Vec<usize>), ScenarioError> {
    let n = labels.shape()[0];
    if labels.len() != n {
        return Err(err(format!(
            "labels of shape {:?} are not one class index per row",
            labels.shape()
        )));
    }
    let mut out = ArrayD::zeros(IxDyn(&[n, classes]));
    let mut idx = Vec::with_capacity(n);
    for (i, &v) in labels.iter().enumerate() {
        let c = v.floor();
        if c < 0.0 || c >= classes as f64 {
            return Err(err(format!(
                "label {v} of row {i} is not a class in 0..{classes}"
            )));
        }
        out[[i, c as usize]] = 1.0;
        idx.push(c as usize);
    }
    Ok((out, idx))
}

/// Seeded initial values of a parameter of `shape`.
fn initial(init: &Init, shape: &[usize], seed: u64) -> Option<Vec<f64>> {
    let n: usize = shape.iter().product();
    let (fan_in, fan_out) = match shape {
        [a] => (*a, *a),
        [a, b] => (*a, *b),
        [o, i, rest @ ..] => {
            let r: usize = rest.iter().product();
            (i * r, o * r)
        }
        [] => (1, 1),
    };
    use crate::scenario::Distribution;
    match init {
        Init::Zeros => Some(vec![0.0; n]),
        Init::GlorotUniform => {
            let a = (6.0 / (fan_in + fan_out) as f64).sqrt();
            Some(crate::scenario::random_values(
                Distribution::Uniform(-a, a),
                seed,
                n,
            ))
        }
        Init::HeNormal => Some(crate::scenario::random_values(
            Distribution::Normal(0.0, (2.0 / fan_in as f64).sqrt()),
            seed,
            n,
        )),
        Init::Data(_) => None,
    }
}

fn resolve(
    source: &Source,
    mut scenario: Scenario,
    budget: MemoryBudget,
) -> Result<TrainingPlan, ScenarioError> {
    let spec = scenario
        .training
        .take()
        .expect("called with a training section");
    let err = |path: &[PathSeg], msg: String, hint: &str| source.error_at_path(path, msg, hint);
    let t = |f: &'static str| vec![F("training"), F(f)];
    // What the generator writes itself.
    for (field, what) in [
        ("inputs", "the training data and weights are the inputs"),
        ("outputs", "`training.reveal` says what is revealed"),
    ] {
        let empty = match field {
            "inputs" => scenario.inputs.is_empty(),
            _ => scenario.outputs.is_empty(),
        };
        if !empty {
            return Err(err(
                &[F(field)],
                format!("a training scenario has no `{field}`: {what}"),
                "remove the list; see docs/training.md",
            ));
        }
    }
    if !scenario.faults.is_empty() {
        return Err(err(
            &[F("faults")],
            "faults are not supported in training scenarios".into(),
            "inject faults in a scenario of one program run",
        ));
    }
    if scenario.metrics.is_some() {
        return Err(err(
            &[F("metrics")],
            "a training scenario reports its accuracy itself".into(),
            "remove `metrics`; give `training.test` for held-out accuracy",
        ));
    }
    let providers = &scenario.roles.input_providers;
    let receivers = &scenario.roles.output_receivers;
    let is_provider = |p: &str| providers.iter().any(|q| q == p);
    if !is_provider(&spec.owner) {
        return Err(err(
            &t("owner"),
            format!("model owner `{}` is not an input provider", spec.owner),
            "the owner inputs the initial weights: add it to roles.input_providers",
        ));
    }
    if spec.epochs == 0 {
        return Err(err(
            &t("epochs"),
            "epochs must be at least 1".into(),
            "e.g. epochs: 2",
        ));
    }
    if spec.batch_size == 0 {
        return Err(err(
            &t("batch_size"),
            "batch_size must be at least 1".into(),
            "e.g. batch_size: 32",
        ));
    }
    let Optimizer::Sgd {
        learning_rate,
        momentum,
    } = spec.optimizer;
    if !(learning_rate.is_finite() && learning_rate > 0.0) {
        return Err(err(
            &[F("training"), F("optimizer"), F("learning_rate")],
            format!("learning rate {learning_rate} is not a positive number"),
            "e.g. Sgd(learning_rate: 0.5)",
        ));
    }
    if !(0.0..1.0).contains(&momentum) {
        return Err(err(
            &[F("training"), F("optimizer"), F("momentum")],
            format!("momentum {momentum} is not in [0, 1)"),
            "e.g. momentum: 0.9, or leave it out",
        ));
    }
    // Parameters.
    let mut params = Vec::new();
    let mut init = HashMap::new();
    let forward_names: HashSet<&str> = scenario.program.iter().map(|s| s.name.as_str()).collect();
    for (i, p) in spec.parameters.iter().enumerate() {
        let at = [F("training"), F("parameters"), I(i)];
        if p.name == spec.input || forward_names.contains(p.name.as_str()) {
            return Err(err(
                &[F("training"), F("parameters"), I(i), F("name")],
                format!("parameter `{}` is also a value of the program", p.name),
                "give every parameter a name of its own",
            ));
        }
        if params.iter().any(|(n, _)| n == &p.name) {
            return Err(err(
                &[F("training"), F("parameters"), I(i), F("name")],
                format!("parameter `{}` is declared twice", p.name),
                "remove one",
            ));
        }
        if p.shape.is_empty() || p.shape.contains(&0) {
            return Err(err(
                &[F("training"), F("parameters"), I(i), F("shape")],
                format!("parameter `{}` has shape {:?}", p.name, p.shape),
                "a weight needs at least one element",
            ));
        }
        let seed = crate::scenario::random_seed(scenario.seed ^ 0x77e1_6475, i);
        let values = match initial(&p.init, &p.shape, seed) {
            Some(v) => ArrayD::from_shape_vec(IxDyn(&p.shape), v).expect("sized"),
            None => {
                let Init::Data(d) = &p.init else {
                    unreachable!()
                };
                let mut path = at.to_vec();
                path.extend([F("init"), I(0)]);
                load_data(source, d, Some(&p.shape), seed, &path)?
            }
        };
        params.push((p.name.clone(), p.shape.clone()));
        init.insert(p.name.clone(), values);
    }
    if params.is_empty() {
        return Err(err(
            &t("parameters"),
            "a training section needs at least one parameter".into(),
            "e.g. parameters: [(name: \"w\", shape: [64, 10], init: GlorotUniform)]",
        ));
    }
    // Data.
    if spec.features.is_empty() {
        return Err(err(
            &t("features"),
            "no training features".into(),
            "e.g. features: [(owner: \"alice\", data: Npy(\"train_x.npy\"))]",
        ));
    }
    let mut features = Vec::new();
    for (j, d) in spec.features.iter().enumerate() {
        if !is_provider(&d.owner) {
            return Err(err(
                &[F("training"), F("features"), I(j), F("owner")],
                format!("`{}` is not an input provider", d.owner),
                "add it to roles.input_providers",
            ));
        }
        let seed = crate::scenario::random_seed(scenario.seed ^ 0xfea7, j);
        let a = load_data(
            source,
            &d.data,
            d.shape.as_deref(),
            seed,
            &[F("training"), F("features"), I(j), F("data"), I(0)],
        )?;
        if a.ndim() < 2 {
            return Err(err(
                &[F("training"), F("features"), I(j), F("data")],
                format!("features of shape {:?} have no example axis", a.shape()),
                "one row per example: shape [examples, …]",
            ));
        }
        features.push(a);
    }
    let want_labels = match spec.split {
        Split::Rows => spec.features.len(),
        Split::Columns => 1,
    };
    if spec.labels.len() != want_labels {
        return Err(err(
            &t("labels"),
            format!(
                "{} label part(s) for {} feature part(s) split by {:?}",
                spec.labels.len(),
                spec.features.len(),
                spec.split
            ),
            "Rows: one label part per feature part, same owner and rows; Columns: one label part",
        ));
    }
    let mut labels = Vec::new();
    let mut label_classes = Vec::new();
    for (j, d) in spec.labels.iter().enumerate() {
        let at = [F("training"), F("labels"), I(j)];
        if !is_provider(&d.owner) {
            return Err(err(
                &[F("training"), F("labels"), I(j), F("owner")],
                format!("`{}` is not an input provider", d.owner),
                "add it to roles.input_providers",
            ));
        }
        let seed = crate::scenario::random_seed(scenario.seed ^ 0x1abe1, j);
        let mut path = at.to_vec();
        path.extend([F("data"), I(0)]);
        let raw = load_data(source, &d.data, d.shape.as_deref(), seed, &path)?;
        let rows = match spec.split {
            Split::Rows => features[j].shape()[0],
            Split::Columns => features[0].shape()[0],
        };
        if spec.split == Split::Rows && d.owner != spec.features[j].owner {
            return Err(err(
                &[F("training"), F("labels"), I(j), F("owner")],
                format!(
                    "label part {j} is `{}`'s, its features `{}`'s",
                    d.owner, spec.features[j].owner
                ),
                "split by Rows, each provider holds its examples' labels",
            ));
        }
        if raw.shape()[0] != rows {
            return Err(err(
                &at,
                format!("{} labels for {rows} examples", raw.shape()[0]),
                "one label per example",
            ));
        }
        let e = |m: String| err(&at, m, "labels are class indices 0, 1, … with `classes`");
        let (targets, classes) = match spec.classes {
            Some(c) => one_hot(&raw, c, &e)?,
            None => {
                let t = if raw.ndim() == 1 {
                    raw.into_shape_with_order(IxDyn(&[rows, 1])).expect("sized")
                } else {
                    raw
                };
                (t, Vec::new())
            }
        };
        labels.push(targets);
        label_classes.push(classes);
    }
    if spec.split == Split::Columns {
        let n = features[0].shape()[0];
        if let Some(j) = features.iter().position(|f| f.shape()[0] != n) {
            return Err(err(
                &[F("training"), F("features"), I(j)],
                format!(
                    "split by Columns, every part has the same examples: {} rows here, {n} in the first",
                    features[j].shape()[0]
                ),
                "give every provider the same rows",
            ));
        }
    }
    let providers_in_batch = match spec.split {
        Split::Rows => spec.features.len(),
        Split::Columns => 1,
    };
    if !spec.batch_size.is_multiple_of(providers_in_batch) {
        return Err(err(
            &t("batch_size"),
            format!(
                "batch size {} does not split evenly between {providers_in_batch} providers",
                spec.batch_size
            ),
            "split by Rows, every batch takes batch_size / providers examples from each",
        ));
    }
    let per_provider = spec.batch_size / providers_in_batch;
    let batches_per_epoch = features
        .iter()
        .map(|f| f.shape()[0] / per_provider)
        .min()
        .unwrap_or(0);
    if batches_per_epoch == 0 {
        return Err(err(
            &t("batch_size"),
            format!(
                "batch size {} is larger than the training data",
                spec.batch_size
            ),
            "use a smaller batch",
        ));
    }
    // The batch's feature shape, as the forward program sees it.
    let x_shape: Vec<usize> = {
        let mut s = features[0].shape().to_vec();
        s[0] = spec.batch_size;
        if spec.split == Split::Columns {
            s[1] = features.iter().map(|f| f.shape()[1]).sum();
        }
        s
    };
    if spec.split == Split::Rows {
        if let Some(j) = features
            .iter()
            .position(|f| f.shape()[1..] != features[0].shape()[1..])
        {
            return Err(err(
                &[F("training"), F("features"), I(j)],
                format!(
                    "split by Rows, every part has the same columns: {:?} here, {:?} in the first",
                    &features[j].shape()[1..],
                    &features[0].shape()[1..]
                ),
                "give every provider the same columns",
            ));
        }
    }
    // The forward program: its shapes, and that it computes the prediction.
    let mut shapes: HashMap<String, Vec<usize>> = HashMap::new();
    shapes.insert(spec.input.clone(), x_shape.clone());
    for (p, s) in &params {
        shapes.insert(p.clone(), s.clone());
    }
    for (i, s) in scenario.program.iter().enumerate() {
        let mut operand_shapes = Vec::new();
        for (j, o) in s.op.operands().iter().enumerate() {
            match shapes.get(*o) {
                Some(sh) => operand_shapes.push(sh.clone()),
                None => {
                    return Err(err(
                        &[F("program"), I(i), F("op"), I(j)],
                        format!("`{}` reads `{o}`, which is not defined before it", s.name),
                        &format!(
                            "the forward program reads the batch `{}`, the parameters and earlier values",
                            spec.input
                        ),
                    ))
                }
            }
        }
        let refs: Vec<&[usize]> = operand_shapes.iter().map(Vec::as_slice).collect();
        let shape = infer_shape(&s.op, &refs).map_err(|m| {
            err(
                &[F("program"), I(i), F("op")],
                format!("`{}`: {m}", s.name),
                "check the parameters' shapes against the batch's",
            )
        })?;
        if shapes.insert(s.name.clone(), shape).is_some() {
            return Err(err(
                &[F("program"), I(i), F("name")],
                format!("`{}` is defined twice", s.name),
                "every value has one definition",
            ));
        }
    }
    // The f64 evaluation runs the program on the whole training and test sets: it must not
    // depend on the batch size.
    let mut rows_checked = vec![features.iter().map(|f| f.shape()[0]).sum::<usize>()];
    if spec.split == Split::Columns {
        rows_checked = vec![features[0].shape()[0]];
    }
    for rows in rows_checked {
        let mut s2: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut xs = x_shape.clone();
        xs[0] = rows;
        s2.insert(&spec.input, xs);
        for (p, s) in &params {
            s2.insert(p, s.clone());
        }
        for (i, s) in scenario.program.iter().enumerate() {
            let refs: Vec<&[usize]> = s.op.operands().iter().map(|o| s2[*o].as_slice()).collect();
            let shape = infer_shape(&s.op, &refs).map_err(|m| {
                err(
                    &[F("program"), I(i), F("op")],
                    format!(
                        "`{}` depends on the batch size: on all {rows} training examples {m}",
                        s.name
                    ),
                    "the report evaluates the model on the whole data set; give the data its \
                     shape in `features` (e.g. shape: [1437, 1, 8, 8]) instead of reshaping the batch",
                )
            })?;
            s2.insert(&s.name, shape);
        }
    }
    let Some(pred_shape) = shapes.get(&spec.prediction).cloned() else {
        return Err(err(
            &t("prediction"),
            format!("the program computes no `{}`", spec.prediction),
            "name the forward program's last value",
        ));
    };
    if pred_shape[0] != spec.batch_size || pred_shape.len() != 2 {
        return Err(err(
            &t("prediction"),
            format!("the prediction has shape {pred_shape:?}, not [batch_size, outputs]"),
            "the prediction holds one row per example",
        ));
    }
    let target_cols = labels[0].shape()[1..].to_vec();
    if pred_shape[1..] != target_cols[..] {
        return Err(err(
            &t("labels"),
            format!(
                "the targets have {:?} columns per example, the prediction {:?}",
                target_cols,
                &pred_shape[1..]
            ),
            "with class indices set `classes` to the prediction's width",
        ));
    }
    // The generated names must not collide with the program's.
    let taken: HashSet<String> = shapes.keys().cloned().collect();
    for reserved in [TARGET, "zero", "one", "lr", "mu"] {
        if taken.contains(reserved) {
            return Err(err(
                &[F("program")],
                format!("`{reserved}` is a name the training program uses itself"),
                "rename the value",
            ));
        }
    }
    // The iteration program.
    let mut program: Vec<Gen> = Vec::new();
    let c = |name: &str, v: f64| (stmt(name, Op::Const(v)), Origin::Data);
    program.push(c("zero", 0.0));
    program.push(c("one", 1.0));
    let step = learning_rate / spec.batch_size as f64;
    program.push(c("lr", step));
    if momentum > 0.0 {
        program.push(c("mu", momentum));
    }
    if features.len() > 1 {
        let inputs = spec
            .features
            .iter()
            .map(|d| format!("{}.{}", spec.input, d.owner))
            .collect();
        let axis = match spec.split {
            Split::Rows => 0,
            Split::Columns => 1,
        };
        program.push((stmt(&spec.input, Op::Concat { inputs, axis }), Origin::Data));
    }
    if labels.len() > 1 {
        let inputs = spec
            .labels
            .iter()
            .map(|d| format!("{TARGET}.{}", d.owner))
            .collect();
        program.push((stmt(TARGET, Op::Concat { inputs, axis: 0 }), Origin::Data));
    }
    shapes.insert(TARGET.into(), pred_shape.clone());
    for n in ["zero", "one", "lr", "mu"] {
        shapes.insert(n.into(), vec![1]);
    }
    // Forward, ReLU and MaxPool lowered (the DReLU bit and the max pool's one-hot kept for the
    // backward pass).
    let mut lowered = Vec::new();
    let mut origins = Vec::new();
    for (i, s) in scenario.program.iter().enumerate() {
        match &s.op {
            Op::Relu(x) => {
                let mask = format!("{}.mask", s.name);
                shapes.insert(mask.clone(), shapes[x].clone());
                lowered.push(stmt(&mask, Op::Greater(x.clone(), "zero".into())));
                lowered.push(stmt(&s.name, Op::Mul(x.clone(), mask)));
                origins.extend([i, i]);
            }
            Op::MaxPool2d {
                input,
                kernel,
                stride,
            } => {
                // One comparison tree for the max and the one-hot the backward pass reads
                // (`autodiff`: MaxPool2dGradOneHot), instead of DMaxPool's second tree.
                let (keep, max) = (format!("{}.keep", s.name), format!("{}.max", s.name));
                let out = shapes[&s.name].clone();
                let k = kernel * kernel;
                shapes.insert(
                    keep.clone(),
                    [1 + k].into_iter().chain(out.clone()).collect(),
                );
                shapes.insert(max.clone(), [1].into_iter().chain(out.clone()).collect());
                lowered.push(stmt(
                    &keep,
                    Op::MaxPool2dWithOneHot {
                        input: input.clone(),
                        kernel: *kernel,
                        stride: *stride,
                    },
                ));
                lowered.push(stmt(
                    &max,
                    Op::Slice {
                        input: keep,
                        axis: 0,
                        start: 0,
                        end: 1,
                    },
                ));
                lowered.push(stmt(
                    &s.name,
                    Op::Reshape {
                        input: max,
                        shape: out,
                    },
                ));
                origins.extend([i, i, i]);
            }
            _ => {
                lowered.push(s.clone());
                origins.push(i);
            }
        }
    }
    for (s, &i) in lowered.iter().zip(&origins) {
        program.push((s.clone(), Origin::Forward(i)));
    }
    // The loss's gradient at the prediction (per example; 1/B is in the step).
    let pred = spec.prediction.clone();
    let seed_grad = format!("d.{pred}");
    match spec.loss {
        Loss::SoftmaxCrossEntropy => {
            program.push((stmt("prob", Op::Softmax(pred.clone())), Origin::Loss));
            program.push((
                stmt(&seed_grad, Op::Sub("prob".into(), TARGET.into())),
                Origin::Loss,
            ));
        }
        Loss::Logistic => {
            program.push((stmt("prob", Op::Sigmoid(pred.clone())), Origin::Loss));
            program.push((
                stmt(&seed_grad, Op::Sub("prob".into(), TARGET.into())),
                Origin::Loss,
            ));
        }
        Loss::Mse => {
            program.push((
                stmt(&seed_grad, Op::Sub(pred.clone(), TARGET.into())),
                Origin::Loss,
            ));
        }
    }
    shapes.insert("prob".into(), pred_shape.clone());
    shapes.insert(seed_grad.clone(), pred_shape.clone());
    let param_set: HashSet<String> = params.iter().map(|(p, _)| p.clone()).collect();
    let back = autodiff::backward(
        &lowered,
        &origins,
        &param_set,
        &pred,
        &seed_grad,
        &mut shapes,
        "one",
    )
    .map_err(|(i, m)| {
        err(
            &[F("program"), I(i), F("op")],
            m,
            "see docs/training.md, \"Backward pass\"",
        )
    })?;
    program.extend(back.stmts);
    // The update.
    let mut carried = Vec::new();
    for (i, (p, _)) in params.iter().enumerate() {
        let Some(g) = back.grads.get(p) else {
            return Err(err(
                &[F("training"), F("parameters"), I(i), F("name")],
                format!("parameter `{p}` does not affect the prediction `{pred}`"),
                "remove it, or use it in the program",
            ));
        };
        // The parameter's gradient is called d.<p>.
        let dp = format!("d.{p}");
        if *g != dp {
            for (st, _) in program.iter_mut() {
                if st.name == *g {
                    st.name = dp.clone();
                }
            }
        }
        let u = Origin::Update;
        let direction = if momentum > 0.0 {
            let v = format!("v.{p}");
            init.insert(v.clone(), ArrayD::zeros(IxDyn(&params[i].1)));
            program.push((stmt(&format!("mv.{p}"), Op::Mul(v.clone(), "mu".into())), u));
            program.push((
                stmt(&format!("@{v}"), Op::Add(format!("mv.{p}"), dp.clone())),
                u,
            ));
            carried.push((v.clone(), format!("@{v}")));
            format!("@{v}")
        } else {
            dp.clone()
        };
        program.push((
            stmt(&format!("step.{p}"), Op::Mul(direction, "lr".into())),
            u,
        ));
        program.push((
            stmt(&format!("@{p}"), Op::Sub(p.clone(), format!("step.{p}"))),
            u,
        ));
        carried.push((p.clone(), format!("@{p}")));
    }
    // Parameters first among the carried values (momentum states after).
    carried.sort_by_key(|(c, _)| c.starts_with("v."));
    // Every generated op must run under the protocol: refused ops are located at what made them.
    let settings = scenario.settings();
    for (st, origin) in &program {
        if let Err(why) = scenario.protocol.supports_under(&st.op, &settings) {
            let first = why.lines().next().unwrap_or_default();
            let (path, what): (Vec<PathSeg>, String) = match origin {
                Origin::Forward(i) => (
                    vec![F("program"), I(*i), F("op")],
                    format!("its forward pass for training needs `{}`", st.op.kind()),
                ),
                Origin::Backward(i) => (
                    vec![F("program"), I(*i), F("op")],
                    format!("its gradient needs `{}`", st.op.kind()),
                ),
                Origin::Loss => (
                    t("loss"),
                    format!("the loss's gradient needs `{}`", st.op.kind()),
                ),
                Origin::Update => (
                    t("optimizer"),
                    format!("the update needs `{}`", st.op.kind()),
                ),
                Origin::Data => (t("features"), format!("the batch needs `{}`", st.op.kind())),
            };
            return Err(err(
                &path,
                format!(
                    "{} cannot train this: {what}: {first}",
                    scenario.protocol.name()
                ),
                "SecureNN and ABY3 have exact comparisons (ReLU, softmax); with Pond use \
                 Sigmoid/Tanh activations and the Mse or Logistic loss",
            ));
        }
    }
    // Test set and reveal.
    let mut test = None;
    let mut test_inputs = (Vec::new(), Vec::new());
    if let (Some(_), Some(_)) = (&spec.test, &spec.test_parts) {
        return Err(err(
            &t("test_parts"),
            "both `test` and `test_parts`".into(),
            "give the held-out set once: `test` (one provider) or `test_parts` (several)",
        ));
    }
    if let Some(tp) = &spec.test_parts {
        let parts = test_parts(source, &spec, tp, &x_shape, &is_provider, scenario.seed)?;
        test = Some(parts.0);
        test_inputs = parts.1;
    }
    if let Some(ts) = &spec.test {
        if !is_provider(&ts.owner) {
            return Err(err(
                &[F("training"), F("test"), F("owner")],
                format!("`{}` is not an input provider", ts.owner),
                "add it to roles.input_providers",
            ));
        }
        let x = load_data(
            source,
            &ts.features,
            ts.shape.as_deref(),
            scenario.seed ^ 0x7e57,
            &[F("training"), F("test"), F("features"), I(0)],
        )?;
        if x.shape()[1..] != x_shape[1..] {
            return Err(err(
                &[F("training"), F("test"), F("features")],
                format!(
                    "test features of shape {:?}, the batch's rows are {:?}",
                    x.shape(),
                    &x_shape[1..]
                ),
                "the test set has the training features' columns",
            ));
        }
        let n = x.shape()[0];
        let lshape = [n];
        let raw = load_data(
            source,
            &ts.labels,
            Some(&lshape)
                .filter(|_| !matches!(ts.labels, Data::Npy(_)))
                .map(|s| &s[..]),
            scenario.seed ^ 0x7e58,
            &[F("training"), F("test"), F("labels"), I(0)],
        )?;
        if raw.shape()[0] != n {
            return Err(err(
                &[F("training"), F("test"), F("labels")],
                format!("{} test labels for {n} test examples", raw.shape()[0]),
                "one label per example",
            ));
        }
        let e = |m: String| {
            err(
                &[F("training"), F("test"), F("labels")],
                m,
                "labels are class indices with `classes`",
            )
        };
        let (targets, classes) = match spec.classes {
            Some(c) => one_hot(&raw, c, &e)?,
            None => (raw, Vec::new()),
        };
        test_inputs = (
            vec![(ts.owner.clone(), x.clone())],
            vec![(ts.owner.clone(), class_column(&classes))],
        );
        test = Some((x, targets, classes));
    }
    for (i, r) in spec.reveal.iter().enumerate() {
        let (Reveal::Model { to } | Reveal::TestAccuracy { to }) = r;
        if !receivers.iter().any(|q| q == to) {
            return Err(err(
                &[F("training"), F("reveal"), I(i), I(0)],
                format!("`{to}` is not an output receiver"),
                "add it to roles.output_receivers",
            ));
        }
        if matches!(r, Reveal::TestAccuracy { .. }) {
            if test.is_none() || spec.classes.is_none() {
                return Err(err(
                    &[F("training"), F("reveal"), I(i)],
                    "TestAccuracy needs a `test` set and class labels (`classes`)".into(),
                    "add training.test (or training.test_parts) and training.classes",
                ));
            }
            for op in [Op::Argmax("p".into()), Op::Greater("a".into(), "b".into())] {
                if let Err(why) = scenario.protocol.supports_under(&op, &settings) {
                    return Err(err(
                        &[F("training"), F("reveal"), I(i)],
                        format!(
                            "{} cannot reveal only the test accuracy: {}",
                            scenario.protocol.name(),
                            why.lines().next().unwrap_or_default()
                        ),
                        "reveal the Model instead",
                    ));
                }
            }
        }
    }
    if let Some(list) = &spec.trace_iterations {
        let n = spec.epochs * batches_per_epoch;
        if let Some(j) = list.iter().position(|&k| k >= n) {
            return Err(err(
                &[F("training"), F("trace_iterations"), I(j)],
                format!(
                    "iteration {} does not exist: the run has {n} (0..{n})",
                    list[j]
                ),
                "name iterations below epochs × batches per epoch",
            ));
        }
    }
    let forward = scenario.program.clone();
    let mut template = scenario;
    template.program = Vec::new();
    template.inputs = Vec::new();
    template.outputs = Vec::new();
    Ok(TrainingPlan {
        forward,
        spec,
        template,
        source: source.clone(),
        budget,
        params,
        init,
        features,
        labels,
        label_classes,
        test,
        test_inputs,
        batches_per_epoch,
        per_provider,
        program,
        carried,
        step,
    })
}
