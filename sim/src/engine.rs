//! Running a plan: one OS thread per party, a crossbeam channel per directed link, the step gate
//! the controller drives, and the assembly of the trace.

use crate::error::{Result, SimError};
use crate::network::LinkModel;
use crate::party::{CallPath, MonitorState, PartyLog, PartyStatus, Shared, SimContext};
use crate::scenario::{FaultKind, Plan, PlannedOp};
use crate::shadow;
use crate::trace::{OpRecord, OpStats, PartyStep, StepRecord, Trace};
use ndarray::ArrayD;
use protocols::context::Traffic;
use protocols::error::ProtocolError;
use protocols::protocol::{Encoded, Flaw, Held};
use protocols::tensor;
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
    shadow: Arc<shadow::ShadowStore>,
    started: Instant,
}

/// The faults party `me` injects at a step or into a message (the op-start Panic and Error, and
/// the dealer's planted ReuseMask, are applied by `party_main`).
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

/// A party's part of an op's result, handed over to the per-op results
/// (`crate::results::Handover`).
struct PartyPart<'a> {
    party: &'a mut dyn protocols::protocol::Party,
    name: &'a str,
    /// No later op reads it: moved out rather than copied.
    dead: bool,
}

impl crate::results::Handover for PartyPart<'_> {
    fn give(&mut self) -> Held {
        if self.dead {
            self.party.take_held(self.name)
        } else {
            self.party.held(self.name)
        }
    }
    fn lend(&mut self, f: &mut dyn FnMut(&Held)) {
        if self.dead {
            f(&self.party.take_held(self.name))
        } else {
            self.party.with_held(self.name, f)
        }
    }
}

/// One party's whole program. `inputs` (the public inputs and the party's own) is dropped once
/// the party has encoded them.
fn party_main(
    ctx: &mut SimContext,
    plan: &Plan,
    inputs: HashMap<String, Arc<ArrayD<f64>>>,
) -> std::result::Result<(), ProtocolError> {
    let settings = plan.settings();
    let cfg = settings;
    ctx.mark = Instant::now();
    let mut party = plan.protocol().party(ctx.me, &plan.seats, &settings);
    // A party encodes only what it knows: public inputs and its own.
    let me = ctx.me;
    // In the ring the scenario's `fixed_point.ring_bits` names.
    let mut encoded: HashMap<&str, Encoded> = plan
        .inputs
        .iter()
        .filter(|i| i.owner.is_none() || i.owner == Some(me))
        .map(|i| {
            (
                i.name.as_str(),
                Encoded::encode(&cfg.fixed, &inputs[&i.name]),
            )
        })
        .collect();
    drop(inputs);
    for inp in plan.inputs.iter().filter(|i| i.owner.is_none()) {
        let v = encoded
            .remove(inp.name.as_str())
            .expect("public inputs are encoded");
        party.set_public(&inp.name, v)?;
    }
    crate::train::bind_carried(&mut *party, plan, ctx.me)?;
    // Every party drops each value after its last use (issue 11, peak memory).
    let liveness = crate::liveness::Liveness::of(plan);
    for n in &liveness.unread {
        party.forget(n);
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
        // A planted flaw changes what the dealer deals, so every party applies it (the servers
        // expand their mask shares to match).
        party.plant(
            Flaw::ReuseMask,
            plan.scenario
                .faults
                .iter()
                .any(|f| f.op == label && f.kind == FaultKind::ReuseMask),
        );
        let dead = &liveness.after[i];
        let result = match op {
            PlannedOp::Input { name, owner } => {
                // The owner's encoded input is dropped once shared.
                let mine = encoded.remove(name.as_str()).filter(|_| ctx.me == *owner);
                party.share_input(ctx, name, *owner, &plan.shapes[name], mine.as_ref())?;
                drop(mine);
                name
            }
            PlannedOp::Compute { name, op } => {
                // Its operands that die with it may be freed inside the op.
                let operands = op.operands();
                let last: Vec<String> = dead
                    .iter()
                    .filter(|n| operands.contains(&n.as_str()))
                    .cloned()
                    .collect();
                if !last.is_empty() {
                    party.last_use(&last);
                }
                party.run_op(ctx, name, op)?;
                name
            }
            PlannedOp::Output { name, to } => {
                let out = match party.reveal_to(ctx, name, *to)? {
                    Some(v) => Held::Public(v),
                    None => Held::Nothing,
                };
                for n in dead {
                    party.forget(n);
                }
                ctx.end_op(out, party.live_values());
                continue;
            }
        };
        // The other dead values go first, so that the result is handed over with less held.
        for n in dead.iter().filter(|n| *n != result) {
            party.forget(n);
        }
        // A result no later op reads is moved to the per-op results, not copied; a live one is
        // copied, or lent by the last party to hand it over.
        let dead = dead.contains(result);
        ctx.end_op_from(&mut PartyPart {
            party: &mut *party,
            name: result,
            dead,
        });
        if dead {
            party.forget(result);
        }
        ctx.log_ended(party.live_values());
    }
    ctx.check_clock()
}

impl Simulation {
    /// Starts every party; they may begin steps with index below `gate` and then pause. Fails
    /// before starting anything if an input's data cannot be produced (a `.npy` file that
    /// changed since validation).
    pub fn start(plan: &Plan, gate: usize) -> Result<Simulation> {
        // Each array is shared by the parties that encode it and the shadow, not copied.
        let inputs: HashMap<String, Arc<ArrayD<f64>>> = input_values(plan)?
            .into_iter()
            .map(|(n, v)| (n, Arc::new(v)))
            .collect();
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
                pending: None,
                hold: None,
            }),
            changed: Default::default(),
            logs: (0..n).map(|_| Mutex::new(PartyLog::default())).collect(),
            results: crate::results::OpResults::new(plan.clone(), n),
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
            let rng = protocols::prg::party_rng(seed, me);
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
                path: Arc::default(),
                engaged: false,
                acts: Vec::new(),
                known_step_names: Default::default(),
            };
            let plan = plan.clone();
            let shared = shared.clone();
            let inputs: HashMap<String, Arc<ArrayD<f64>>> = plan
                .inputs
                .iter()
                .filter(|i| i.owner.is_none() || i.owner == Some(me))
                .filter_map(|i| Some((i.name.clone(), inputs.get(&i.name)?.clone())))
                .collect();
            let realtime = plan.scenario.network.mode == crate::scenario::NetworkMode::Realtime;
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
                    // The others may finish the steps up to the one this party failed in.
                    let gate = ctx.step.map_or(ctx.next_step, |s| s + 1);
                    let failed_op = ctx.op;
                    ctx.close_step();
                    let mut st = shared.lock();
                    st.status[me] = PartyStatus::Failed;
                    let failure = SimError::PartyFailed {
                        party: shared.parties[me].clone(),
                        op,
                        step,
                        message,
                    };
                    if realtime {
                        // Realtime parties may sleep until a far delivery: end the run now.
                        shared.fail(&mut st, failure);
                    } else {
                        shared.fail_party(&mut st, failure, gate, failed_op);
                    }
                })
                .expect("spawn party thread");
            handles.push(h);
        }
        let values = shadow::shadow_shared(&plan, &inputs);
        drop(inputs);
        let shadow = Arc::new(shadow::ShadowStore::new(&plan, values));
        shared.results.set_shadow(shadow.clone());
        shadow.complete(&plan);
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

    /// The op every party has reached: the lowest op of a step that an unfinished party has
    /// begun last (the number of ops when every party is done). Every op before it is complete.
    pub fn ops_reached(&self) -> usize {
        let done: Vec<bool> = {
            let st = self.shared.lock();
            st.status
                .iter()
                .map(|s| matches!(s, PartyStatus::Finished | PartyStatus::Failed))
                .collect()
        };
        (0..self.plan.parties.len())
            .filter(|&p| !done[p])
            .map(|p| {
                self.shared
                    .log(p)
                    .step_names
                    .last()
                    .map_or(0, |(op, _)| *op)
            })
            .min()
            .unwrap_or(self.plan.ops.len())
    }

    /// The run's first failure, if any.
    pub fn failure(&self) -> Option<String> {
        self.shared.lock().failure.as_ref().map(|e| e.to_string())
    }

    /// The label of the op the run's first failure happened in, if it happened in one.
    pub fn failed_op(&self) -> Option<String> {
        self.shared
            .lock()
            .failure
            .as_ref()
            .and_then(|e| e.op().map(str::to_string))
    }

    /// The trace recorded so far (steps completed by every party are final).
    pub fn trace(&self) -> Trace {
        let mut logs: Vec<PartyLog> = (0..self.plan.parties.len())
            .map(|p| self.shared.log(p).clone())
            .collect();
        build_trace(&self.plan, &self.shadow, &mut logs, &self.shared.results)
    }

    /// The steps from global index `from` on, as recorded so far, without rebuilding the whole
    /// trace: completed steps are final; a step some party has begun but not every party has
    /// closed (the pending one at the gate) has default records for those parties. Cheap when
    /// `from` is near the frontier, so a controller can extend its history one step at a time.
    pub fn steps_since(&self, from: usize) -> Vec<StepRecord> {
        // One log locked at a time, cloning only the tail.
        type Tail = (Vec<(usize, Arc<str>)>, Vec<PartyStep>, Vec<Arc<CallPath>>);
        let tails: Vec<Tail> = (0..self.plan.parties.len())
            .map(|p| {
                let l = self.shared.log(p);
                (
                    l.step_names.get(from..).unwrap_or_default().to_vec(),
                    l.steps.tail(from),
                    l.step_paths.get(from..).unwrap_or_default().to_vec(),
                )
            })
            .collect();
        let (names, paths) = tails
            .iter()
            .max_by_key(|t| t.0.len())
            .map(|t| (t.0.clone(), t.2.clone()))
            .unwrap_or_default();
        names
            .into_iter()
            .enumerate()
            .map(|(k, (op, name))| {
                let path = paths.get(k).map(|p| &**p).cloned().unwrap_or_default();
                StepRecord {
                    index: from + k,
                    op,
                    name: name.to_string(),
                    parties: tails
                        .iter()
                        .map(|t| t.1.get(k).cloned().unwrap_or_default())
                        .collect(),
                    path: path.names,
                    path_starts: path.starts,
                }
            })
            .collect()
    }

    /// A training iteration (`crate::train`): runs to the end, joins every party, and moves out
    /// the values the plan hands on — carried name → every party's shares, and carried name →
    /// the plaintext shadow's value. Empty for a plan that is not a training iteration, or a run
    /// that failed ([`Simulation::finish`] then says why).
    #[allow(clippy::type_complexity)]
    pub fn take_carried(&mut self) -> (HashMap<String, Vec<Held>>, HashMap<String, ArrayD<f64>>) {
        let mut held = HashMap::new();
        let mut shadow = HashMap::new();
        let Some(it) = self.plan.training.clone() else {
            return (held, shadow);
        };
        self.set_gate(usize::MAX);
        for h in std::mem::take(&mut self.handles) {
            let _ = h.join();
        }
        for (i, op) in self.plan.ops.iter().enumerate() {
            if let PlannedOp::Compute { name, .. } = op {
                if let Some(carried) = it.carry_out.get(name) {
                    let shares = self.shared.results.take_carried(i);
                    if !shares.is_empty() {
                        held.insert(carried.clone(), shares);
                    }
                    if let Some(v) = self.shadow.get(name) {
                        shadow.insert(carried.clone(), (*v).clone());
                    }
                }
            }
        }
        (held, shadow)
    }

    /// Runs to the end, joins every party and returns the result, or the first failure.
    pub fn finish(self) -> Result<RunResult> {
        self.finish_keeping_partial().map_err(|f| f.error)
    }

    /// Like [`Simulation::finish`], but a failed run also returns what it recorded before the
    /// failure ([`FailedRun`]), for the partial report.
    pub fn finish_keeping_partial(self) -> std::result::Result<RunResult, Box<FailedRun>> {
        self.finish_recording().map(|(r, _)| r)
    }

    /// [`Simulation::finish_keeping_partial`], also returning every party's recorded actions
    /// (`crate::dag`).
    #[allow(clippy::type_complexity)]
    pub(crate) fn finish_recording(
        mut self,
    ) -> std::result::Result<(RunResult, Vec<Vec<crate::dag::Act>>), Box<FailedRun>> {
        self.set_gate(usize::MAX);
        for h in self.handles.drain(..) {
            if h.join().is_err() {
                return Err(Box::new(FailedRun {
                    error: SimError::Internal("a party thread died outside its guard".into()),
                    partial: None,
                    completed_ops: 0,
                }));
            }
        }
        let wall = self.started.elapsed();
        let (failure, hold) = {
            let mut st = self.shared.lock();
            (st.failure.take(), st.hold)
        };
        let mut logs: Vec<PartyLog> = (0..self.plan.parties.len())
            .map(|p| std::mem::take(&mut *self.shared.log(p)))
            .collect();
        if let (Some(_), Some((gate, op))) = (&failure, hold) {
            // Parties that had run past the failed step before it happened: their later records
            // go, so the partial trace is the same on every run (each party as far as it gets
            // without the failed one, up to its step).
            for l in &mut logs {
                l.steps.truncate(gate);
                l.step_names.truncate(gate);
                l.step_paths.truncate(gate);
                l.ops_ended = l.ops_ended.min(op);
            }
            self.shared.results.clear_from(op);
        }
        if failure.is_none() {
            if let Some(d) = step_disagreement(&logs, &self.plan.parties) {
                return Err(Box::new(FailedRun {
                    error: SimError::Internal(d),
                    partial: None,
                    completed_ops: 0,
                }));
            }
        }
        let mut trace = build_trace(&self.plan, &self.shadow, &mut logs, &self.shared.results);
        // Ops every party ended; on a failure the trace keeps those and the op that failed.
        let completed_ops = logs.iter().map(|l| l.ops_ended).min().unwrap_or(0);
        if failure.is_some() {
            let keep = (completed_ops + 1).min(trace.ops.len());
            trace.ops.truncate(keep);
            trace.steps.retain(|s| s.op < keep);
            // The failed op's time: how far its recorded steps pushed the makespan (its last
            // step, which build_trace reads, may not have been reached by anyone).
            let latest = |ops: std::ops::Range<usize>| {
                let steps = trace.steps.iter().filter(|s| ops.contains(&s.op));
                steps.flat_map(|s| &s.parties).map(|p| p.end_ns).max()
            };
            let (before, end) = (latest(0..completed_ops), latest(completed_ops..keep));
            if let (Some(op), Some(end)) = (trace.ops.get_mut(completed_ops), end) {
                op.stats.virtual_time_ns = end.saturating_sub(before.unwrap_or(0));
            }
        }
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
        totals.virtual_time_ns = match failure {
            None => logs.iter().map(|l| l.final_clock_ns).max().unwrap_or(0),
            // Failed parties never set a final clock: the latest step end recorded.
            Some(_) => trace
                .steps
                .iter()
                .flat_map(|s| &s.parties)
                .map(|p| p.end_ns)
                .max()
                .unwrap_or(0),
        };
        let acts: Vec<Vec<crate::dag::Act>> = logs
            .iter_mut()
            .map(|l| std::mem::take(&mut l.acts))
            .collect();
        // The DAG schedule of a finished run; a failed run (or a record that does not replay,
        // which cannot happen in a finished run) keeps program order.
        let dag = match failure {
            None => crate::dag::replay(
                &self.plan,
                &trace,
                &acts,
                &crate::dag::dependencies(&self.plan),
            ),
            Some(_) => None,
        }
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
                let held = self.shared.results.take_output(i);
                let t = match held.first() {
                    Some(t) => t,
                    // A failed run reports the outputs revealed before the failure.
                    None if failure.is_some() => continue,
                    None => {
                        return Err(Box::new(FailedRun {
                            error: SimError::Internal(format!(
                                "receiver of `{name}` recorded no value"
                            )),
                            partial: None,
                            completed_ops,
                        }))
                    }
                };
                let values = tensor::into_row_major(t.decode(&cfg));
                let Some(plain) = self.shadow.get(name) else {
                    return Err(Box::new(FailedRun {
                        error: SimError::Internal(format!("no plaintext shadow of `{name}`")),
                        partial: None,
                        completed_ops,
                    }));
                };
                let plaintext = tensor::into_row_major((*plain).clone());
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
        let faults = if failure.is_some() {
            &[][..]
        } else {
            &self.plan.scenario.faults[..]
        };
        for (i, f) in faults.iter().enumerate() {
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
        let result = RunResult {
            trace,
            outputs,
            totals,
            metrics,
            warnings,
        };
        match failure {
            None => Ok((result, acts)),
            Some(error) => Err(Box::new(FailedRun {
                error,
                partial: Some(result),
                completed_ops,
            })),
        }
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

/// A run that ended with an error, and what it recorded before (the partial report's data).
#[derive(Debug)]
pub struct FailedRun {
    /// Why the run ended.
    pub error: SimError,
    /// The run up to the failure: its trace keeps the ops every party completed and the op that
    /// failed (whose steps are as far as they got); totals and outputs cover those. `None` when
    /// the run never started or its threads broke.
    pub partial: Option<RunResult>,
    /// How many ops (from the first) every party completed.
    pub completed_ops: usize,
}

/// [`run`], keeping the partial result of a run that fails (a fault, a deadlock).
pub fn run_keeping_partial(plan: &Plan) -> std::result::Result<RunResult, Box<FailedRun>> {
    match Simulation::start(plan, usize::MAX) {
        Ok(sim) => sim.finish_keeping_partial(),
        Err(error) => Err(Box::new(FailedRun {
            error,
            partial: None,
            completed_ops: 0,
        })),
    }
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

/// The reconstructed (decoded) result of op `i` from what every party held of it (`held[p]`):
/// an output as its receiver got it, any other value as the protocol reconstructs it.
pub(crate) fn reconstruct_held(plan: &Plan, i: usize, held: &[Held]) -> Option<ArrayD<f64>> {
    let cfg = plan.scenario.fixed_point;
    if let PlannedOp::Output { to, .. } = &plan.ops[i] {
        return held.get(*to)?.first().map(|t| t.decode(&cfg));
    }
    let value = plan.protocol().reconstruct(&plan.seats, held);
    Some(value?.decode(&cfg))
}

/// The first step on which the parties' logs disagree — its op, name or call path — described;
/// `None` when every party walked the same steps as far as it got (invariant 1: a global step
/// names the same protocol moment, in the same sub-protocol, on every party).
pub(crate) fn step_disagreement(logs: &[PartyLog], parties: &[String]) -> Option<String> {
    let (r, reference) = logs
        .iter()
        .enumerate()
        .max_by_key(|(_, l)| l.step_names.len())?;
    let path_text = |p: Option<&Arc<CallPath>>| p.map(|p| p.names.join(" › ")).unwrap_or_default();
    for (p, log) in logs.iter().enumerate() {
        for (k, step) in log.step_names.iter().enumerate() {
            let same_step = reference.step_names.get(k) == Some(step);
            let same_path =
                reference.step_paths.get(k).map(|c| &**c) == log.step_paths.get(k).map(|c| &**c);
            if !(same_step && same_path) {
                let name = |s: Option<&(usize, Arc<str>)>| {
                    s.map(|s| format!("op {} step `{}`", s.0, s.1))
                        .unwrap_or_default()
                };
                return Some(format!(
                    "parties disagree on step {k}: {} is at {} (path `{}`), {} at {} (path `{}`)",
                    parties.get(r).map_or("?", String::as_str),
                    name(reference.step_names.get(k)),
                    path_text(reference.step_paths.get(k)),
                    parties.get(p).map_or("?", String::as_str),
                    name(Some(step)),
                    path_text(log.step_paths.get(k)),
                ));
            }
        }
    }
    None
}

/// The step records of a run, moved out of the parties' logs: step k's name and call path from
/// the log that got furthest, each party's record of it (a default where the party never closed
/// it). Built from the last step back, each log shrinking as it empties, so the logs and the new
/// records together hold little more than the records alone (issue 11: the logs' buffers stayed
/// whole beside the built trace before). The step records leave in chunks
/// ([`crate::steplog::StepLog::pop`]); the names and paths buffers are halved as they empty.
/// The logs' names, paths and step records are left empty.
fn steps_from_logs(logs: &mut [PartyLog]) -> Vec<StepRecord> {
    /// Halves `v`'s buffer once it is a quarter full (amortised O(1) per pop; 64 elements or
    /// fewer are left alone).
    fn shrink<T>(v: &mut Vec<T>) {
        if v.capacity() > 64 && v.capacity() > 4 * v.len() {
            v.shrink_to(2 * v.len());
        }
    }
    let longest = (0..logs.len()).max_by_key(|&p| logs[p].step_names.len());
    let (mut names, mut paths) = match longest {
        Some(p) => (
            std::mem::take(&mut logs[p].step_names),
            std::mem::take(&mut logs[p].step_paths),
        ),
        None => Default::default(),
    };
    let n = names.len();
    for l in logs.iter_mut() {
        l.steps.truncate(n);
    }
    let mut steps: Vec<StepRecord> = Vec::with_capacity(n);
    while let Some((op, name)) = names.pop() {
        let index = names.len();
        let path = if paths.len() > index {
            paths.pop().map(Arc::unwrap_or_clone)
        } else {
            None
        }
        .unwrap_or_default();
        let parties = logs
            .iter_mut()
            .map(|l| {
                if l.steps.len() > index {
                    l.steps.pop().unwrap_or_default()
                } else {
                    PartyStep::default()
                }
            })
            .collect();
        shrink(&mut names);
        shrink(&mut paths);
        steps.push(StepRecord {
            index,
            op,
            name: name.to_string(),
            parties,
            path: path.names,
            path_starts: path.starts,
        });
    }
    steps.reverse();
    steps
}

fn build_trace(
    plan: &Plan,
    shadow_vals: &shadow::ShadowStore,
    logs: &mut [PartyLog],
    results: &crate::results::OpResults,
) -> Trace {
    let steps = steps_from_logs(logs);
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
            let value_name = shadow::value_name(op);
            let summary = results.summary(i, shadow_vals);
            if let Some((abs, rel)) = summary.errors {
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
                reconstructed: summary.kept,
                plaintext: shadow_vals.plaintext(i).to_vec(),
                hazards: shadow_vals.hazards(i).to_vec(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{load_source, Source};

    /// A SecureNN ReLU: sub-protocols three deep, with parties that only pass through.
    const RELU: &str = r#"Scenario(
    name: "paths",
    protocol: SecureNN,
    fixed_point: (frac_bits: 16, int_bits: 11, weak_security: true),
    truncation: Dealer,
    roles: (input_providers: ["alice"], output_receivers: ["carol"]),
    timing: Model(ns_per_ring_op: 1.0),
    seed: 3,
    inputs: [(name: "x", owner: "alice", shape: [3], data: Values([1.5, -2.0, 0.25]))],
    program: [(name: "r", op: Relu("x"))],
    outputs: [(name: "r", to: "carol")],
)"#;

    fn logs_of_a_run() -> (Vec<PartyLog>, Vec<String>) {
        let plan = load_source(&Source {
            name: "test".into(),
            dir: ".".into(),
            text: RELU.into(),
        })
        .unwrap();
        let mut sim = Simulation::start(&plan, usize::MAX).unwrap();
        sim.join();
        assert_eq!(sim.failure(), None);
        let logs = (0..plan.parties.len())
            .map(|p| sim.shared.log(p).clone())
            .collect();
        (logs, plan.parties.clone())
    }

    /// Issue 11: a finished run keeps, per op, at most `max_values` reconstructed elements
    /// (plus each output whole at its receiver), not every op's full result on every party.
    /// Issue 11, peak memory: after every op, every party holds exactly the values the plan
    /// still reads (`liveness::live_after`, by definition) — a product's operands, a revealed
    /// value, a composite's temporaries and an unread public input are dropped — and the run's
    /// results are the same. Before, every party kept every value until the run ended.
    #[test]
    fn every_party_holds_only_the_values_the_plan_still_reads() {
        for protocol in ["Pond", "SecureNN", "ABY3", "Additive"] {
            let text = format!(
                r#"Scenario(
    name: "live",
    protocol: {protocol},
    fixed_point: (frac_bits: 16, int_bits: 11, weak_security: true),
    truncation: Dealer,
    roles: (input_providers: ["alice", "bob"], output_receivers: ["alice"]),
    seed: 9,
    inputs: [
        (name: "a", owner: "alice", shape: [4], data: Random(Normal(0.0, 1.0))),
        (name: "b", owner: "bob", shape: [4], data: Random(Normal(0.0, 1.0))),
        (name: "w", owner: "public", shape: [4], data: Values([1.0, 2.0, 3.0, 4.0])),
        (name: "unused", owner: "public", shape: [1], data: Values([5.0])),
    ],
    program: [
        (name: "c", op: Mul("a", "b")),
        (name: "d", op: Add("c", "w")),
        (name: "e", op: Mean(input: "d", axis: None)),
        (name: "f", op: Mul("c", "c")),
        (name: "g", op: Sub("f", "a")),
    ],
    outputs: [(name: "e", to: "alice"), (name: "g", to: "alice")],
)"#
            );
            let plan = load_source(&Source {
                name: "test".into(),
                dir: ".".into(),
                text,
            })
            .unwrap_or_else(|e| panic!("{protocol}: {e}"));
            let mut sim = Simulation::start(&plan, usize::MAX).unwrap();
            sim.join();
            assert_eq!(sim.failure(), None, "{protocol}");
            let want: Vec<usize> = (0..plan.ops.len())
                .map(|i| crate::liveness::live_after(&plan, i).len())
                .collect();
            // The last op leaves nothing to read.
            assert_eq!(want.last(), Some(&0), "{protocol}");
            for p in 0..plan.parties.len() {
                let got = sim.shared.log(p).live_values.clone();
                assert_eq!(got, want, "{protocol}, party {}", plan.parties[p]);
            }
            let trace = sim.trace();
            for op in &trace.ops {
                assert!(
                    op.stats.max_abs_error.unwrap() < 1e-2,
                    "{protocol} {}",
                    op.name
                );
            }
        }
    }

    /// `c = a·b; d = c + a` on `n` random values of alice's and bob's under Pond, `d` revealed to
    /// alice, the trace keeping 8 values of each record.
    fn mul_add_plan(name: &str, seed: u64, n: usize) -> Plan {
        let text = format!(
            r#"Scenario(
    name: "{name}",
    protocol: Pond,
    fixed_point: (frac_bits: 16, int_bits: 11, weak_security: true),
    truncation: Dealer,
    roles: (input_providers: ["alice", "bob"], output_receivers: ["alice"]),
    seed: {seed},
    trace: (max_values: 8),
    inputs: [
        (name: "a", owner: "alice", shape: [{n}], data: Random(Normal(0.0, 1.0))),
        (name: "b", owner: "bob", shape: [{n}], data: Random(Normal(0.0, 1.0))),
    ],
    program: [(name: "c", op: Mul("a", "b")), (name: "d", op: Add("c", "a"))],
    outputs: [(name: "d", to: "alice")],
)"#
        );
        load_source(&Source {
            name: "test".into(),
            dir: ".".into(),
            text,
        })
        .unwrap()
    }

    /// Before, every party's log held a full copy of every op's result until the run ended:
    /// here 4 parties × 6 values of 20,000 elements.
    #[test]
    fn op_results_are_kept_bounded_by_max_values() {
        let n = 20_000;
        let plan = mul_add_plan("bounded", 9, n);
        let mut sim = Simulation::start(&plan, usize::MAX).unwrap();
        sim.join();
        assert_eq!(sim.failure(), None);
        let ops = plan.ops.len();
        let bound = (ops * 8 + n) * 8;
        let kept = sim.shared.results.held_bytes();
        assert!(kept <= bound, "{kept} bytes kept, bound {bound}");
        // The summaries are still exact: every op's error against the shadow is small, and
        // the trace keeps 8 values of each.
        let trace = sim.trace();
        for op in &trace.ops {
            assert_eq!(op.reconstructed.len(), 8, "{}", op.name);
            assert!(op.stats.max_abs_error.unwrap() < 1e-3, "{}", op.name);
        }
        let r = sim.finish().unwrap();
        assert_eq!(r.outputs[0].values.len(), n);
    }

    /// Issue 11 (peak memory): each server used to hand over a full copy of every op's result,
    /// and the last one rebuilt the whole value in the ring and in f64. Now the last holder lends
    /// its part and the value is summarised a piece at a time: at most one copy is waiting at any
    /// moment (the first server's), with the same summaries.
    #[test]
    fn the_last_holder_lends_its_part_of_each_result() {
        let n = 50_000;
        let plan = mul_add_plan("lent", 4, n);
        // Gate 0: the shadow is ready before any party ends an op.
        let mut sim = Simulation::start(&plan, 0).unwrap();
        sim.set_gate(usize::MAX);
        sim.join();
        assert_eq!(sim.failure(), None);
        let waiting = sim.shared.results.most_waiting();
        assert!(
            waiting <= n * 8,
            "{waiting} bytes of one op's parts waiting at once, one share is {}",
            n * 8
        );
        let trace = sim.trace();
        for op in &trace.ops {
            assert_eq!(op.reconstructed.len(), 8, "{}", op.name);
            assert!(op.stats.max_abs_error.unwrap() < 1e-3, "{}", op.name);
        }
        // The lent shares are back in place: the run went on to the right output.
        let r = sim.finish().unwrap();
        assert_eq!(r.outputs[0].values.len(), n);
        assert!(r.outputs[0].max_abs_error < 1e-3);
    }

    /// Issue 11 (peak memory): the shadow used to hold every value of the program in f64 for
    /// the whole run. Now each value goes once its last use is over (here the inputs after
    /// their own ops' summaries and `d`'s, `c` after `c`'s and `d`'s): after the run only the
    /// output's plaintext is left, and the trace shows the same plaintext and errors.
    #[test]
    fn the_shadow_drops_each_value_after_its_last_use() {
        let n = 20_000;
        let plan = mul_add_plan("shadow", 5, n);
        let mut sim = Simulation::start(&plan, usize::MAX).unwrap();
        sim.join();
        assert_eq!(sim.failure(), None);
        assert_eq!(sim.shadow.held_values(), 1, "only the output `d` is left");
        let trace = sim.trace();
        for op in &trace.ops {
            assert_eq!(op.plaintext.len(), 8, "{}", op.name);
            assert!(op.stats.max_abs_error.unwrap() < 1e-3, "{}", op.name);
        }
        let r = sim.finish().unwrap();
        assert_eq!(r.outputs[0].plaintext.len(), n);
        assert!(r.outputs[0].max_abs_error < 1e-3);
    }

    #[test]
    fn every_party_walks_the_same_call_path() {
        let (logs, parties) = logs_of_a_run();
        assert!(parties.len() >= 5, "servers, helper, provider and receiver");
        for l in &logs {
            assert_eq!(l.step_paths.len(), l.step_names.len());
            assert_eq!(l.step_names.len(), logs[0].step_names.len());
        }
        assert!(logs[0].step_paths.iter().any(|p| p.names.len() == 4));
        assert_eq!(step_disagreement(&logs, &parties), None);
        for k in 0..logs[0].step_paths.len() {
            for l in &logs {
                assert_eq!(l.step_paths[k], logs[0].step_paths[k], "step {k}");
            }
        }
    }

    #[test]
    fn a_party_on_another_path_is_reported() {
        let (mut logs, parties) = logs_of_a_run();
        let k = logs[1]
            .step_names
            .iter()
            .position(|s| s.1.starts_with("ComputeMSB 2–3"))
            .unwrap();
        let mut wrong = (*logs[1].step_paths[k]).clone();
        wrong.names[2] = "ShareConvert".into();
        logs[1].step_paths[k] = Arc::new(wrong);
        let d = step_disagreement(&logs, &parties).expect("found");
        assert!(d.contains(&format!("step {k}")), "{d}");
        assert!(d.contains("ReLU › DReLU › ShareConvert"), "{d}");
        assert!(d.contains(&parties[1]), "{d}");
    }
}
