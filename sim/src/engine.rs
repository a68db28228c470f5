//! Running a plan: one OS thread per party, a crossbeam channel per directed link, the step gate
//! the controller drives, and the assembly of the trace.

use crate::error::{Result, SimError};
use crate::network::LinkModel;
use crate::party::{MonitorState, PartyLog, PartyStatus, Shared, SimContext};
use crate::scenario::{FaultKind, Plan, PlannedOp, ProtocolKind};
use crate::shadow;
use crate::trace::{OpRecord, OpStats, PartyStep, StepRecord, Trace};
use ndarray::ArrayD;
use protocols::context::Traffic;
use protocols::error::ProtocolError;
use protocols::pond::{decode_tensor, encode_tensor, Nonlinear, PondConfig, PondParty, Value};
use protocols::tensor::{self, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Totals over a run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, Default)]
pub struct Totals {
    /// Online bytes.
    pub bytes: u64,
    /// Offline (dealer) bytes.
    pub offline_bytes: u64,
    /// Online messages.
    pub messages: u64,
    /// Offline messages.
    pub offline_messages: u64,
    /// Online rounds: the causal depth of the run.
    pub rounds: u32,
    /// Offline rounds (the dealer's causal depth).
    pub offline_rounds: u32,
    /// Virtual makespan (largest final party clock), ns.
    pub virtual_time_ns: u64,
    /// Wall-clock time of the run, ns.
    pub wall_time_ns: u64,
    /// Online rounds on the program's critical path: the causal depth when each op starts as
    /// soon as the ops it depends on are done (`crate::dag`), ≤ `rounds` (which follows program
    /// order). Equal to it for a chain.
    pub critical_path_rounds: u32,
    /// Predicted virtual makespan of the DAG schedule (independent ops' messages overlap under
    /// the same link model), ns; ≤ `virtual_time_ns` up to link queueing, equal for a chain.
    pub dag_virtual_time_ns: u64,
}

/// One output as its receiver learned it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OutputValue {
    /// Value name.
    pub name: String,
    /// Receiver.
    pub receiver: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Decoded values.
    pub values: Vec<f64>,
    /// Plaintext shadow.
    pub plaintext: Vec<f64>,
    /// Max |values − plaintext|.
    pub max_abs_error: f64,
}

/// The result of a finished run.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// The full trace.
    pub trace: Trace,
    /// Outputs at their receivers.
    pub outputs: Vec<OutputValue>,
    /// Totals.
    pub totals: Totals,
    /// Classification metrics, when the scenario asks for them.
    pub metrics: Option<crate::metrics::Metrics>,
    /// The plan's warnings ([`crate::scenario::Plan::warnings`]), for the reports.
    pub warnings: Vec<String>,
}

/// Where the run stands, as the controller sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Each party's status.
    pub status: Vec<PartyStatus>,
    /// Whether every party is finished (or failed).
    pub done: bool,
    /// Steps that have begun so far.
    pub steps_begun: usize,
}

/// A running (or paused) simulation.
pub struct Simulation {
    plan: Arc<Plan>,
    shared: Arc<Shared>,
    handles: Vec<JoinHandle<()>>,
    shadow: Arc<HashMap<String, ArrayD<f64>>>,
    started: Instant,
}

fn held(v: Option<&Value>) -> Option<Tensor<u64>> {
    match v? {
        Value::Private { share, .. } => share.clone(),
        Value::Public { value, .. } => value.clone(),
    }
}

/// The faults party `me` injects at a step or into a message (the op-start Panic and Error, and
/// the producer's planted ReuseMask, are applied by `party_main`).
fn party_faults(plan: &Plan, me: usize) -> Vec<crate::party::PartyFault> {
    let labels: Vec<String> = plan.ops.iter().map(PlannedOp::label).collect();
    plan.scenario
        .faults
        .iter()
        .enumerate()
        .filter(|(_, f)| plan.parties[me] == f.party && f.kind != FaultKind::ReuseMask)
        .filter(|(_, f)| f.step.is_some() || f.kind.is_message_fault())
        .filter_map(|(index, f)| {
            Some(crate::party::PartyFault {
                index,
                op: labels.iter().position(|l| *l == f.op)?,
                step: f.step.clone(),
                kind: f.kind,
                to: f
                    .to
                    .as_ref()
                    .and_then(|t| plan.parties.iter().position(|p| p == t)),
                armed: false,
                delta: match f.kind {
                    FaultKind::Deviate(d) => plan.scenario.fixed_point.encode(d),
                    _ => 0,
                },
            })
        })
        .collect()
}

/// Every input's values, produced once when a run starts (see [`crate::scenario::PlannedInput`]).
pub type InputValues = HashMap<String, ArrayD<f64>>;

/// Produces every input's values; an error names the input whose `.npy` file changed since
/// validation.
pub fn input_values(plan: &Plan) -> Result<InputValues> {
    plan.inputs
        .iter()
        .map(|i| {
            let v = i.values().map_err(|message| SimError::Io {
                path: match &i.data {
                    crate::scenario::InputData::Npy(p) => p.display().to_string(),
                    _ => i.name.clone(),
                },
                message,
            })?;
            Ok((i.name.clone(), v))
        })
        .collect()
}

/// One party's whole program. `inputs` is dropped once the party has encoded what it knows.
fn party_main(
    ctx: &mut SimContext,
    plan: &Plan,
    inputs: Arc<InputValues>,
) -> std::result::Result<(), ProtocolError> {
    let cfg = PondConfig {
        fixed: plan.scenario.fixed_point,
        truncation: plan.scenario.truncation,
        input_sharing: plan.scenario.input_sharing,
        nonlinear: match plan.scenario.protocol {
            ProtocolKind::Pond => Nonlinear::Polynomial,
            ProtocolKind::SecureNN => Nonlinear::SecureNN,
            ProtocolKind::SecureNNShortcut => Nonlinear::SecureNNShortcut,
            ProtocolKind::SecureNNAsPublished => Nonlinear::SecureNNAsPublished,
        },
    };
    ctx.mark = Instant::now();
    let mut party = PondParty::new(ctx.me, plan.placement, cfg);
    // A party encodes only what it knows: public inputs and its own.
    let me = ctx.me;
    let mut encoded: HashMap<&str, Tensor<u64>> = plan
        .inputs
        .iter()
        .filter(|i| i.owner.is_none() || i.owner == Some(me))
        .map(|i| (i.name.as_str(), encode_tensor(&cfg.fixed, &inputs[&i.name])))
        .collect();
    drop(inputs);
    for inp in plan.inputs.iter().filter(|i| i.owner.is_none()) {
        let v = encoded
            .remove(inp.name.as_str())
            .expect("public inputs are encoded");
        party.set_public(&inp.name, v);
    }
    for (i, op) in plan.ops.iter().enumerate() {
        ctx.begin_op(i);
        let label = op.label();
        let me = &plan.parties[ctx.me];
        if let Some(f) = plan.scenario.faults.iter().find(|f| {
            f.op == label
                && &f.party == me
                && f.step.is_none()
                && matches!(f.kind, FaultKind::Panic | FaultKind::Error)
        }) {
            match f.kind {
                FaultKind::Panic => panic!("injected fault: {me} panics at the start of `{label}`"),
                _ => {
                    return Err(ProtocolError::Transport(format!(
                        "injected fault: {me} fails at the start of `{label}`"
                    )))
                }
            }
        }
        // A planted flaw changes what the producer deals, so every party applies it (the servers
        // expand their mask shares to match).
        party.plant_mask_reuse(
            plan.scenario
                .faults
                .iter()
                .any(|f| f.op == label && f.kind == FaultKind::ReuseMask),
        );
        let out = match op {
            PlannedOp::Input { name, owner } => {
                let mine = encoded.get(name.as_str()).filter(|_| ctx.me == *owner);
                party.share_input(ctx, name, *owner, &plan.shapes[name], mine)?;
                held(party.value(name))
            }
            PlannedOp::Compute { name, op } => {
                party.run_op(ctx, name, op)?;
                held(party.value(name))
            }
            PlannedOp::Output { name, to } => party.reveal_to(ctx, name, *to)?,
        };
        ctx.end_op(out);
    }
    ctx.check_clock()
}

impl Simulation {
    /// Starts every party; they may begin steps with index below `gate` and then pause. Fails
    /// before starting anything if an input's data cannot be produced (a `.npy` file that
    /// changed since validation).
    pub fn start(plan: &Plan, gate: usize) -> Result<Simulation> {
        let inputs = Arc::new(input_values(plan)?);
        let plan = Arc::new(plan.clone());
        let n = plan.parties.len();
        let (wake_tx, mut wake_rx): (Vec<_>, Vec<_>) =
            (0..n).map(|_| crossbeam_channel::bounded(1)).unzip();
        let shared = Arc::new(Shared {
            gate: gate.into(),
            abort: false.into(),
            in_flight: (0..n * n).map(|_| 0.into()).collect(),
            parties: plan.parties.clone(),
            op_labels: plan.ops.iter().map(PlannedOp::label).collect(),
            monitor: Mutex::new(MonitorState {
                status: vec![PartyStatus::Running; n],
                gate,
                failure: None,
                cancelled: false,
                current_op: vec![0; n],
            }),
            changed: Default::default(),
            logs: (0..n).map(|_| Mutex::new(PartyLog::default())).collect(),
            faults_fired: plan.scenario.faults.iter().map(|_| false.into()).collect(),
            wakers: wake_tx,
        });
        // One channel per directed link.
        let mut senders: Vec<Vec<Option<_>>> =
            (0..n).map(|_| (0..n).map(|_| None).collect()).collect();
        let mut receivers: Vec<Vec<Option<_>>> =
            (0..n).map(|_| (0..n).map(|_| None).collect()).collect();
        for a in 0..n {
            for b in 0..n {
                if a != b {
                    let (tx, rx) = crossbeam_channel::unbounded();
                    senders[a][b] = Some(tx);
                    receivers[b][a] = Some(rx);
                }
            }
        }
        let started = Instant::now();
        let seed = plan.scenario.seed;
        let mut handles = Vec::new();
        for (me, (tx, rx)) in senders.into_iter().zip(receivers).enumerate() {
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            rng.set_stream(me as u64 + 1);
            let links = (0..n)
                .map(|to| (to != me).then(|| LinkModel::new(plan.links[me][to], seed, me, to)))
                .collect();
            let mut ctx = SimContext {
                me,
                shared: shared.clone(),
                senders: tx,
                receivers: rx,
                wake: wake_rx.remove(0),
                faults: party_faults(&plan, me),
                links,
                rng,
                timing: plan.scenario.timing,
                mode: plan.scenario.network.mode,
                max_values: plan.scenario.trace.max_values,
                run_start: started,
                clock_ns: 0,
                mark: Instant::now(),
                depth: 0,
                offline_depth: 0,
                op_depth: 0,
                op: 0,
                step: None,
                next_step: 0,
                current: PartyStep::default(),
                engaged: false,
                acts: Vec::new(),
            };
            let plan = plan.clone();
            let shared = shared.clone();
            let inputs = inputs.clone();
            let h = std::thread::Builder::new()
                .name(plan.parties[me].clone())
                .spawn(move || {
                    let outcome =
                        catch_unwind(AssertUnwindSafe(|| party_main(&mut ctx, &plan, inputs)));
                    let message = match outcome {
                        Ok(Ok(())) => {
                            ctx.finish();
                            return;
                        }
                        Ok(Err(e)) => e.to_string(),
                        Err(panic) => {
                            let m = panic
                                .downcast_ref::<String>()
                                .cloned()
                                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                                .unwrap_or_else(|| "unknown panic".into());
                            format!("panicked: {m}")
                        }
                    };
                    let (op, step) = ctx.position();
                    ctx.close_step();
                    let mut st = shared.lock();
                    st.status[me] = PartyStatus::Failed;
                    let failure = SimError::PartyFailed {
                        party: shared.parties[me].clone(),
                        op,
                        step,
                        message,
                    };
                    shared.fail(&mut st, failure);
                })
                .expect("spawn party thread");
            handles.push(h);
        }
        let shadow = Arc::new(shadow::shadow(&plan, &inputs));
        drop(inputs);
        Ok(Simulation {
            plan,
            shared,
            handles,
            shadow,
            started,
        })
    }

    /// The plan being run.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Lets parties begin steps with index below `gate`.
    pub fn set_gate(&self, gate: usize) {
        let mut st = self.shared.lock();
        self.shared.set_gate(&mut st, gate);
    }

    /// The current gate: parties may begin steps with index below it.
    pub fn gate(&self) -> usize {
        self.shared.gate.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Blocks until every party is finished, failed, or paused at the gate.
    pub fn wait_idle(&self) -> Progress {
        self.wait_idle_unless(None)
            .expect("only an interrupt ends the wait early")
    }

    /// Like [`Simulation::wait_idle`], but returns `None` within 50 ms of `interrupt` being set
    /// (from another thread), leaving the parties running; and calls `tick` about every 100 ms
    /// while it waits (without holding any lock), e.g. to show progress.
    pub fn wait_idle_watching(
        &self,
        interrupt: &AtomicBool,
        tick: &mut dyn FnMut(),
    ) -> Option<Progress> {
        self.wait_idle_unless(Some((interrupt, tick)))
    }

    fn wait_idle_unless(
        &self,
        mut watch: Option<(&AtomicBool, &mut dyn FnMut())>,
    ) -> Option<Progress> {
        const TICK: Duration = Duration::from_millis(100);
        let mut last_tick = Instant::now();
        let mut st = self.shared.lock();
        loop {
            let idle = st.failure.is_some()
                || (0..st.status.len()).all(|p| blocked_at_gate(&self.shared, &st, p));
            if idle {
                break;
            }
            if let Some((interrupt, tick)) = &mut watch {
                if interrupt.load(std::sync::atomic::Ordering::SeqCst) {
                    return None;
                }
                if last_tick.elapsed() >= TICK {
                    drop(st);
                    tick();
                    last_tick = Instant::now();
                    st = self.shared.lock();
                    continue;
                }
            }
            st = self
                .shared
                .changed
                .wait_timeout(st, Duration::from_millis(50))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let done = st
            .status
            .iter()
            .all(|s| matches!(s, PartyStatus::Finished | PartyStatus::Failed));
        let status = st.status.clone();
        drop(st);
        let steps_begun = (0..self.plan.parties.len())
            .map(|p| self.shared.log(p).step_names.len())
            .max()
            .unwrap_or(0);
        Some(Progress {
            status,
            done,
            steps_begun,
        })
    }

    /// Waits for every party thread to end. Only meaningful once the run has failed (every party
    /// then stops at its next message, step or gate) or finished; the trace is final afterwards.
    pub fn join(&mut self) {
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }

    /// How many steps each party has begun (its position in the common step sequence).
    pub fn steps_begun(&self) -> Vec<usize> {
        (0..self.plan.parties.len())
            .map(|p| self.shared.log(p).step_names.len())
            .collect()
    }

    /// The run's first failure, if any.
    pub fn failure(&self) -> Option<String> {
        self.shared.lock().failure.as_ref().map(|e| e.to_string())
    }

    /// The trace recorded so far (steps completed by every party are final).
    pub fn trace(&self) -> Trace {
        let mut logs: Vec<PartyLog> = (0..self.plan.parties.len())
            .map(|p| self.shared.log(p).clone())
            .collect();
        build_trace(&self.plan, &self.shadow, &mut logs)
    }

    /// The steps from global index `from` on, as recorded so far, without rebuilding the whole
    /// trace: completed steps are final; a step some party has begun but not every party has
    /// closed (the pending one at the gate) has default records for those parties. Cheap when
    /// `from` is near the frontier, so a controller can extend its history one step at a time.
    pub fn steps_since(&self, from: usize) -> Vec<StepRecord> {
        // One log locked at a time, cloning only the tail.
        type Tail = (Vec<(usize, String)>, Vec<PartyStep>);
        let tails: Vec<Tail> = (0..self.plan.parties.len())
            .map(|p| {
                let l = self.shared.log(p);
                (
                    l.step_names.get(from..).unwrap_or_default().to_vec(),
                    l.steps.get(from..).unwrap_or_default().to_vec(),
                )
            })
            .collect();
        let names = tails
            .iter()
            .map(|t| &t.0)
            .max_by_key(|n| n.len())
            .cloned()
            .unwrap_or_default();
        names
            .into_iter()
            .enumerate()
            .map(|(k, (op, name))| StepRecord {
                index: from + k,
                op,
                name,
                parties: tails
                    .iter()
                    .map(|t| t.1.get(k).cloned().unwrap_or_default())
                    .collect(),
            })
            .collect()
    }

    /// Runs to the end, joins every party and returns the result, or the first failure.
    pub fn finish(self) -> Result<RunResult> {
        self.finish_recording().map(|(r, _)| r)
    }

    /// [`Simulation::finish`], also returning every party's recorded actions (`crate::dag`).
    pub(crate) fn finish_recording(mut self) -> Result<(RunResult, Vec<Vec<crate::dag::Act>>)> {
        self.set_gate(usize::MAX);
        for h in self.handles.drain(..) {
            if h.join().is_err() {
                return Err(SimError::Internal(
                    "a party thread died outside its guard".into(),
                ));
            }
        }
        let wall = self.started.elapsed();
        if let Some(e) = self.shared.lock().failure.take() {
            return Err(e);
        }
        let mut logs: Vec<PartyLog> = (0..self.plan.parties.len())
            .map(|p| std::mem::take(&mut *self.shared.log(p)))
            .collect();
        let trace = build_trace(&self.plan, &self.shadow, &mut logs);
        let mut totals = Totals {
            wall_time_ns: wall.as_nanos() as u64,
            ..Totals::default()
        };
        let all = tally(trace.steps.iter().flat_map(|s| s.messages()));
        totals.bytes = all.bytes;
        totals.messages = all.messages;
        totals.rounds = all.rounds;
        totals.offline_bytes = all.offline_bytes;
        totals.offline_messages = all.offline_messages;
        totals.offline_rounds = all.offline_rounds;
        totals.virtual_time_ns = logs.iter().map(|l| l.final_clock_ns).max().unwrap_or(0);
        let acts: Vec<Vec<crate::dag::Act>> = logs
            .iter_mut()
            .map(|l| std::mem::take(&mut l.acts))
            .collect();
        // A record that does not replay (it cannot happen in a finished run) keeps program order.
        let dag = crate::dag::replay(
            &self.plan,
            &trace,
            &acts,
            &crate::dag::dependencies(&self.plan),
        )
        .unwrap_or(crate::dag::Schedule {
            rounds: totals.rounds,
            virtual_time_ns: totals.virtual_time_ns,
        });
        totals.critical_path_rounds = dag.rounds;
        totals.dag_virtual_time_ns = dag.virtual_time_ns;
        let cfg = self.plan.scenario.fixed_point;
        let mut outputs = Vec::new();
        for (i, op) in self.plan.ops.iter().enumerate() {
            if let PlannedOp::Output { name, to } = op {
                let t = logs[*to]
                    .op_outputs
                    .get(i)
                    .and_then(Option::as_ref)
                    .ok_or_else(|| {
                        SimError::Internal(format!("receiver of `{name}` recorded no value"))
                    })?;
                let values = tensor::into_row_major(decode_tensor(&cfg, t));
                let plaintext = tensor::into_row_major(self.shadow[name].clone());
                let max_abs_error = values
                    .iter()
                    .zip(&plaintext)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max);
                outputs.push(OutputValue {
                    name: name.clone(),
                    receiver: self.plan.parties[*to].clone(),
                    shape: t.shape().to_vec(),
                    values,
                    plaintext,
                    max_abs_error,
                });
            }
        }
        let metrics = self
            .plan
            .metrics
            .as_ref()
            .and_then(|m| crate::metrics::compute(m, &outputs));
        let mut warnings = self.plan.warnings.clone();
        for (i, f) in self.plan.scenario.faults.iter().enumerate() {
            let message = f.kind.is_message_fault();
            if (message || f.step.is_some())
                && !self.shared.faults_fired[i].load(std::sync::atomic::Ordering::SeqCst)
            {
                warnings.push(format!(
                    "fault {} of {} in `{}`{} never fired: {}",
                    i + 1,
                    f.party,
                    f.op,
                    f.step
                        .as_ref()
                        .map(|s| format!(" at step `{s}`"))
                        .unwrap_or_default(),
                    if message {
                        "the party sent no matching message there"
                    } else {
                        "the op has no step whose name starts so"
                    }
                ));
            }
        }
        Ok((
            RunResult {
                trace,
                outputs,
                totals,
                metrics,
                warnings,
            },
            acts,
        ))
    }
}

impl Drop for Simulation {
    fn drop(&mut self) {
        if self.handles.is_empty() {
            return;
        }
        {
            let mut st = self.shared.lock();
            self.shared.cancel(&mut st);
        }
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

/// Whether party `p` cannot move until the gate opens: done, paused at it, or waiting (with
/// nothing in flight) on a chain of parties that ends at one paused at the gate — a held link, or
/// a protocol that receives before its peer's step; `wait_idle` returns rather than waiting
/// forever, and the caller decides.
fn blocked_at_gate(shared: &Shared, st: &MonitorState, p: usize) -> bool {
    // A party is settled if it is done, or paused at the gate, or waits (through a chain of waits
    // over empty links) for a party paused at the gate. A chain that ends at a finished party or
    // closes on itself is a deadlock the monitor reports within one polling interval: not
    // settled yet, so that `wait_idle` returns with the failure, not before it.
    match st.status[p] {
        PartyStatus::Finished | PartyStatus::Failed => return true,
        _ => {}
    }
    let mut seen = vec![p];
    let mut at = p;
    loop {
        match st.status[at] {
            PartyStatus::Finished | PartyStatus::Failed => return false,
            PartyStatus::AtGate(k) => return k >= st.gate,
            PartyStatus::Running => return false,
            PartyStatus::Waiting(q) => {
                if shared.in_flight(q, at) > 0 || seen.contains(&q) {
                    return false;
                }
                seen.push(q);
                at = q;
            }
        }
    }
}

/// Runs a plan to the end.
pub fn run(plan: &Plan) -> Result<RunResult> {
    Simulation::start(plan, usize::MAX)?.finish()
}

/// Message counts of a set of messages, online and offline apart.
#[derive(Default)]
struct Tally {
    bytes: u64,
    messages: u64,
    /// Highest run-wide round of an online message.
    rounds: u32,
    /// Highest within-op round of an online message.
    op_rounds: u32,
    offline_bytes: u64,
    offline_messages: u64,
    offline_rounds: u32,
}

fn tally<'a>(messages: impl Iterator<Item = &'a crate::trace::MessageRecord>) -> Tally {
    let mut t = Tally::default();
    for m in messages {
        match m.traffic {
            Traffic::Online => {
                t.bytes += m.bytes;
                t.messages += 1;
                t.rounds = t.rounds.max(m.round);
                t.op_rounds = t.op_rounds.max(m.op_round);
            }
            Traffic::Offline => {
                t.offline_bytes += m.bytes;
                t.offline_messages += 1;
                t.offline_rounds = t.offline_rounds.max(m.round);
            }
        }
    }
    t
}

/// The reconstructed (decoded) result of op `i`, if the logs hold it.
fn reconstruct(plan: &Plan, i: usize, logs: &[PartyLog]) -> Option<ArrayD<f64>> {
    let cfg = plan.scenario.fixed_point;
    let out = |p: usize| logs.get(p).and_then(|l| l.op_outputs.get(i)?.as_ref());
    let decoded = match &plan.ops[i] {
        PlannedOp::Output { to, .. } => decode_tensor(&cfg, out(*to)?),
        PlannedOp::Input { name, .. } | PlannedOp::Compute { name, .. } => {
            let s0 = out(plan.placement.server0)?;
            if plan.public[name] {
                decode_tensor(&cfg, s0)
            } else {
                let s1 = out(plan.placement.server1)?;
                if s0.shape() != s1.shape() {
                    return None;
                }
                // ⟨x⟩₀ + ⟨x⟩₁, decoded in the same pass.
                let mut d = ArrayD::<f64>::zeros(s0.raw_dim());
                ndarray::Zip::from(&mut d)
                    .and(s0)
                    .and(s1)
                    .for_each(|d, &a, &b| *d = cfg.decode(a.wrapping_add(b)));
                d
            }
        }
    };
    Some(decoded)
}

/// The largest absolute and relative error of `got` against `want` (same shape).
fn max_errors(got: &ArrayD<f64>, want: &ArrayD<f64>) -> (f64, f64) {
    let (mut abs, mut rel) = (0f64, 0f64);
    let mut visit = |a: f64, b: f64| {
        let e = (a - b).abs();
        abs = abs.max(e);
        rel = rel.max(e / b.abs().max(1e-9));
    };
    match (got.as_slice(), want.as_slice()) {
        (Some(g), Some(w)) => g.iter().zip(w).for_each(|(a, b)| visit(*a, *b)),
        _ => got.iter().zip(want).for_each(|(a, b)| visit(*a, *b)),
    }
    (abs, rel)
}

fn build_trace(
    plan: &Plan,
    shadow_vals: &HashMap<String, ArrayD<f64>>,
    logs: &mut [PartyLog],
) -> Trace {
    let max_values = plan.scenario.trace.max_values;
    let names = logs
        .iter()
        .max_by_key(|l| l.step_names.len())
        .map(|l| l.step_names.clone())
        .unwrap_or_default();
    let completed = logs.iter().map(|l| l.steps.len()).max().unwrap_or(0);
    let steps: Vec<StepRecord> = names
        .iter()
        .enumerate()
        .take(completed.max(names.len()))
        .map(|(index, (op, name))| StepRecord {
            index,
            op: *op,
            name: name.clone(),
            // Moved out of the logs, not cloned: a long run has hundreds of thousands of them.
            parties: logs
                .iter_mut()
                .map(|l| {
                    l.steps
                        .get_mut(index)
                        .map(std::mem::take)
                        .unwrap_or_default()
                })
                .collect(),
        })
        .collect();
    let makespan_at = |s: &StepRecord| s.parties.iter().map(|p| p.end_ns).max().unwrap_or(0);
    let mut prev_end = 0u64;
    // Steps of an op are contiguous: one pass finds every op's range.
    let mut ranges: Vec<Option<(usize, usize)>> = vec![None; plan.ops.len()];
    for s in &steps {
        let r = ranges[s.op].get_or_insert((s.index, s.index));
        r.1 = s.index + 1;
    }
    let mut next_first = 0usize;
    let ops = plan
        .ops
        .iter()
        .enumerate()
        .map(|(i, op)| {
            let (first, end) = ranges[i].unwrap_or((next_first, next_first));
            next_first = end;
            let t = tally(steps[first..end].iter().flat_map(|s| s.messages()));
            let mut stats = OpStats {
                bytes: t.bytes,
                offline_bytes: t.offline_bytes,
                messages: t.messages,
                offline_messages: t.offline_messages,
                rounds: t.op_rounds,
                ..OpStats::default()
            };
            // An op's virtual time is how far it pushed the makespan: the latest party clock at
            // its end minus the latest at the end of the op before it.
            let end_max = if first < end {
                makespan_at(&steps[end - 1])
            } else {
                prev_end
            };
            let start_max = prev_end;
            prev_end = end_max.max(prev_end);
            stats.virtual_time_ns = end_max.saturating_sub(start_max);
            let value_name = match op {
                PlannedOp::Input { name, .. }
                | PlannedOp::Compute { name, .. }
                | PlannedOp::Output { name, .. } => name,
            };
            let shadow_v = &shadow_vals[value_name];
            let recon = reconstruct(plan, i, logs);
            if let Some(r) = &recon {
                let (abs, rel) = max_errors(r, shadow_v);
                stats.max_abs_error = Some(abs);
                stats.max_rel_error = Some(rel);
            }
            OpRecord {
                index: i,
                name: op.label(),
                kind: op.kind().to_string(),
                operands: op.operands(),
                shape: plan.shapes[value_name].clone(),
                first_step: first,
                end_step: end,
                stats,
                reconstructed: recon
                    .map(|r| r.iter().take(max_values).copied().collect())
                    .unwrap_or_default(),
                plaintext: shadow_v.iter().take(max_values).copied().collect(),
                hazards: shadow::hazards(plan, op, shadow_vals),
            }
        })
        .collect();
    Trace {
        scenario: plan.scenario.name.clone(),
        seed: plan.scenario.seed,
        protocol: plan.scenario.protocol,
        frac_bits: plan.scenario.fixed_point.frac_bits,
        parties: plan.parties.clone(),
        ops,
        steps,
    }
}
