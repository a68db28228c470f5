//! The debugger's engine: a recorded history with a cursor, over a live simulation whose parties
//! are paused at step boundaries.
//!
//! The cursor `pos` counts executed steps: at `pos = k` steps `0..k` have run and step `k` is the
//! next one. Moving the cursor inside the recorded history never re-runs anything; moving it past
//! the frontier raises the step gate by one step and waits for every party to pause again. The
//! controller keeps the run one step ahead of the cursor when it can, so the next step's name and
//! op are known (a step's name is only recorded once the step begins); the state shown is always
//! the one at the cursor.
//! Breakpoints are predicates on a cursor position, evaluated on recorded data only, so the same
//! rule serves continue and reverse-continue.
//!
//! ```no_run
//! use sim::control::{Breakpoint, Controller};
//! let plan = sim::scenario::load(std::path::Path::new("scenarios/beaver-multiplication.ron")).unwrap();
//! let mut c = Controller::new(plan);
//! c.add_breakpoint(Breakpoint::Kind("mul".into()));
//! let stop = c.resume(); // runs to just before the first `mul` op
//! println!("{stop:?} at step {}", c.position());
//! ```

use crate::engine::{OutputValue, Simulation};
use crate::party::PartyStatus;
use crate::scenario::{BreakpointSpec, Plan};
use crate::trace::{StepRecord, Trace};
use protocols::context::Traffic;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A condition that stops continue / reverse-continue (and step over / out).
#[derive(Debug, Clone, PartialEq)]
pub enum Breakpoint {
    /// Before the first step of the op with this label (`z`, `input x`, `output z`).
    Op(String),
    /// Before the first step of every op of this kind (`mul`, `matmul`, …).
    Kind(String),
    /// Before every step with this name; a name without prefix also matches prefixed steps
    /// (`combine` matches `x^3: combine`).
    Step(String),
    /// After every step in which this party (by index) sends or receives a message.
    Party(usize),
    /// After an op whose reconstructed result differs from the plaintext shadow by more than ε.
    Divergence(f64),
    /// After a step that sends more than this many bytes (online and offline).
    Bytes(u64),
    /// After an op that raised any hazard.
    Hazard,
}

impl Breakpoint {
    /// The breakpoint a scenario preset means, resolved against the plan (an `Op` name that is
    /// not an op label is taken as a step name).
    pub fn from_spec(spec: &BreakpointSpec, plan: &Plan) -> Breakpoint {
        match spec {
            BreakpointSpec::Op(n) => {
                // In a training run, `it5/d.w1` names an op of a later (or earlier) iteration.
                if plan.ops.iter().any(|o| o.label() == *n)
                    || crate::train::names_iteration_op(plan, n)
                {
                    Breakpoint::Op(n.clone())
                } else {
                    Breakpoint::Step(n.clone())
                }
            }
            BreakpointSpec::Kind(k) => Breakpoint::Kind(k.clone()),
            BreakpointSpec::Divergence(e) => Breakpoint::Divergence(*e),
            BreakpointSpec::Bytes(b) => Breakpoint::Bytes(*b),
            BreakpointSpec::Hazard => Breakpoint::Hazard,
        }
    }

    /// A short description, naming parties from `parties`.
    pub fn describe(&self, parties: &[String]) -> String {
        match self {
            Breakpoint::Party(p) => format!(
                "party {}",
                parties.get(*p).map(String::as_str).unwrap_or("?")
            ),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for Breakpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Breakpoint::Op(n) => write!(f, "op {n}"),
            Breakpoint::Kind(k) => write!(f, "kind {k}"),
            Breakpoint::Step(s) => write!(f, "step {s}"),
            Breakpoint::Party(p) => write!(f, "party #{p}"),
            Breakpoint::Divergence(e) => write!(f, "divergence > {e}"),
            Breakpoint::Bytes(b) => write!(f, "bytes > {b}"),
            Breakpoint::Hazard => write!(f, "any hazard"),
        }
    }
}

/// Whether the run can still move forward.
#[derive(Debug, Clone, PartialEq)]
pub enum RunState {
    /// Parties are paused at the gate before step `completed`.
    Paused,
    /// Every party finished; the history is complete.
    Finished,
    /// A party failed (or the run deadlocked); the message says who, where and why.
    Failed(String),
}

/// Where a training iteration's plan sits in its run (docs/training.md, "Debugging").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IterationAt {
    /// The iteration, from 0 as in the op labels (`it5/…`).
    pub index: usize,
    /// Iterations in the run.
    pub iterations: usize,
    /// The epoch, from 1.
    pub epoch: usize,
    /// Epochs in the run.
    pub epochs: usize,
    /// The batch within the epoch, from 1.
    pub batch: usize,
    /// Batches per epoch.
    pub batches: usize,
}

impl fmt::Display for IterationAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "iteration {} of {} (epoch {} of {}, batch {} of {})",
            self.index, self.iterations, self.epoch, self.epochs, self.batch, self.batches
        )
    }
}

/// Why a movement stopped.
#[derive(Debug, Clone, PartialEq)]
pub enum Stop {
    /// It moved as far as asked.
    Done,
    /// A breakpoint hit (its description).
    Breakpoint(String),
    /// It reached the end of the run.
    End,
    /// It reached the beginning of the history.
    Start,
    /// The run failed on the way.
    Failed(String),
    /// The user interrupted it (see [`Controller::interrupt_handle`]); the history is complete up
    /// to where every party paused.
    Interrupted,
}

/// The name of a step without its sub-protocol prefix (`x^3: combine` → `combine`).
pub fn base_step_name(name: &str) -> &str {
    name.rsplit_once(": ").map(|(_, b)| b).unwrap_or(name)
}

/// The sub-protocol prefix of a step name (`x^3: combine` → `x^3`), if any.
pub fn step_prefix(name: &str) -> Option<&str> {
    name.rsplit_once(": ").map(|(p, _)| p)
}

/// Waits for the parties to pause. If some are stuck at the gate — waiting on a party that is
/// paused there, as behind a held link — lets the run go on without a gate, so the monitor can
/// report the deadlock (or the run finishes): stepping never hangs. [`settle_or_interrupt`]
/// without an interrupt or an observer.
fn settle(sim: &Simulation) -> crate::engine::Progress {
    let never = AtomicBool::new(false);
    let silent = &mut Ticker {
        observer: None,
        last: Instant::now(),
    };
    settle_or_interrupt(sim, 0, &never, silent).0
}

/// Whether a settled run has a party waiting inside a step below the gate: that step cannot
/// complete until the party it waits for moves, so the gate must open (the monitor then reports
/// a deadlock, or the run goes on). A party that ran ahead of a lowered gate and waits in a later
/// step holds nothing up.
fn stuck(sim: &Simulation, progress: &crate::engine::Progress) -> bool {
    if progress.done || sim.failure().is_some() {
        return false;
    }
    let (begun, gate) = (sim.steps_begun(), sim.gate());
    progress
        .status
        .iter()
        .enumerate()
        .any(|(p, s)| matches!(s, PartyStatus::Waiting(_)) && begun[p] <= gate)
}

/// The step every party has reached: the fewest steps any party has begun (a finished party has
/// begun them all). Parties that never wait, like a dealer, run ahead of it.
fn common_step(sim: &Simulation) -> usize {
    sim.steps_begun().into_iter().min().unwrap_or(0)
}

/// Waits as [`settle`] says, telling `progress` how far the run has got, and stopping early if
/// `interrupt` is set: then the gate comes down to the slowest party's next step boundary (at
/// least one step past `completed`, so the movement still moves). Parties already past it stop at
/// their own next boundary; every step before the gate is complete. Returns whether it was
/// interrupted.
fn settle_or_interrupt(
    sim: &Simulation,
    completed: usize,
    interrupt: &AtomicBool,
    progress: &mut Ticker,
) -> (crate::engine::Progress, bool) {
    let stop_soon = || {
        sim.set_gate(common_step(sim).max(completed + 1));
        (settle(sim), true)
    };
    let mut tick = || progress.report(|| common_step(sim));
    let Some(p) = sim.wait_idle_watching(interrupt, &mut tick) else {
        return stop_soon();
    };
    // Parties stuck behind the gate let the run go on without one.
    if !stuck(sim, &p) {
        return (p, false);
    }
    sim.set_gate(usize::MAX);
    match sim.wait_idle_watching(interrupt, &mut tick) {
        Some(p) => (p, false),
        None => stop_soon(),
    }
}

/// Called about every 100 ms while a movement runs ahead, with the number of steps every party
/// has reached — for a "running… N steps" display.
pub type ProgressObserver = Box<dyn FnMut(usize)>;

/// The progress observer and its rate limit.
struct Ticker {
    observer: Option<ProgressObserver>,
    last: Instant,
}

impl Ticker {
    const EVERY: Duration = Duration::from_millis(100);

    /// Tells the observer, at most every [`Ticker::EVERY`].
    /// `steps` is only evaluated when the observer is told.
    fn report(&mut self, steps: impl FnOnce() -> usize) {
        if let Some(f) = &mut self.observer {
            if self.last.elapsed() >= Self::EVERY {
                self.last = Instant::now();
                f(steps());
            }
        }
    }
}

/// The debugger's engine: history, cursor, breakpoints and the live run.
pub struct Controller {
    plan: Plan,
    sim: Option<Simulation>,
    trace: Trace,
    completed: usize,
    pos: usize,
    state: RunState,
    breakpoints: Vec<Breakpoint>,
    status: Vec<PartyStatus>,
    outputs: Vec<OutputValue>,
    /// The finished run's totals and metrics (`None` until it has finished).
    finished: Option<(crate::engine::Totals, Option<crate::metrics::Metrics>)>,
    ops_stale: bool,
    /// Set from another thread to stop a long movement at the next step boundary.
    interrupt: Arc<AtomicBool>,
    /// The last extension was cut short by `interrupt`.
    interrupted: bool,
    progress: Ticker,
    /// The label of the op the run failed in, when it failed in one.
    failed_op: Option<String>,
    /// A finished training iteration's hand-on (every party's shares of the updated weights
    /// and the shadow's), from which the next iteration opens.
    carried: Option<crate::train::run::Carried>,
}

impl Controller {
    /// Starts `plan` paused before its first step, with the scenario's preset breakpoints.
    pub fn new(plan: Plan) -> Controller {
        let breakpoints = plan
            .scenario
            .breakpoints
            .iter()
            .map(|b| Breakpoint::from_spec(b, &plan))
            .collect();
        let mut c = Controller {
            trace: Trace {
                scenario: plan.scenario.name.clone(),
                seed: plan.scenario.seed,
                protocol: plan.scenario.protocol,
                frac_bits: plan.scenario.fixed_point.frac_bits,
                parties: plan.parties.clone(),
                ops: vec![],
                steps: vec![],
            },
            plan,
            sim: None,
            completed: 0,
            pos: 0,
            state: RunState::Paused,
            breakpoints,
            status: vec![],
            outputs: vec![],
            finished: None,
            ops_stale: false,
            interrupt: Arc::new(AtomicBool::new(false)),
            interrupted: false,
            progress: Ticker {
                observer: None,
                last: Instant::now(),
            },
            failed_op: None,
            carried: None,
        };
        c.launch();
        c
    }

    fn launch(&mut self) {
        self.sim = None; // cancels and joins the previous run, if any
        self.finished = None;
        self.carried = None;
        let sim = match Simulation::start(&self.plan, 0) {
            Ok(sim) => sim,
            Err(e) => {
                self.trace.steps.clear();
                self.trace.ops.clear();
                self.completed = 0;
                self.pos = 0;
                self.outputs.clear();
                self.fail(e.to_string());
                return;
            }
        };
        let progress = settle(&sim);
        self.status = progress.status;
        self.trace = sim.trace();
        self.completed = 0;
        self.pos = 0;
        self.outputs.clear();
        self.ops_stale = false;
        self.state = RunState::Paused;
        self.failed_op = None;
        self.sim = Some(sim);
        if let Some(f) = self.sim.as_ref().and_then(Simulation::failure) {
            self.fail(f);
        } else if progress.done {
            self.conclude();
        }
        self.peek();
    }

    /// Keeps the run one step ahead of the cursor, so the next step is known.
    fn peek(&mut self) {
        if self.pos == self.completed {
            self.extend();
        }
    }

    /// A flag that interrupts the movement in progress (continue, step over or out, a long
    /// step count, go to) when set from another thread: the parties pause at the next common
    /// step boundary and the movement returns [`Stop::Interrupted`]. A flag set while nothing
    /// runs interrupts the next movement at once.
    pub fn interrupt_handle(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.interrupt)
    }

    /// Sets (or removes) the observer told how far the run has got while a movement runs ahead.
    pub fn set_progress_observer(&mut self, observer: Option<ProgressObserver>) {
        self.progress = Ticker {
            observer,
            last: Instant::now(),
        };
    }

    /// Whether the movement in progress was interrupted; if so, forgets the interrupt.
    fn take_interrupted(&mut self) -> bool {
        if !self.interrupted {
            return false;
        }
        self.interrupted = false;
        self.interrupt.store(false, Ordering::SeqCst);
        true
    }

    /// The plan being debugged.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The recorded history: every completed step (one ahead of the cursor at the frontier; all
    /// of them once finished). Op stats cover what has run.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// The cursor: how many steps have executed at the state shown.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// How many steps have been recorded (the frontier).
    pub fn completed(&self) -> usize {
        self.completed
    }

    /// The run's state.
    pub fn state(&self) -> &RunState {
        &self.state
    }

    /// Each party's status at the frontier.
    pub fn party_status(&self) -> &[PartyStatus] {
        &self.status
    }

    /// Outputs at their receivers (once the run has finished).
    pub fn outputs(&self) -> &[OutputValue] {
        &self.outputs
    }

    /// The finished run's totals (`None` until every party has finished).
    pub fn totals(&self) -> Option<&crate::engine::Totals> {
        self.finished.as_ref().map(|f| &f.0)
    }

    /// The finished run's classification metrics, for a scenario with `metrics`.
    pub fn metrics(&self) -> Option<&crate::metrics::Metrics> {
        self.finished.as_ref().and_then(|f| f.1.as_ref())
    }

    /// The step just executed at the cursor (`None` before the first).
    pub fn current_step(&self) -> Option<&StepRecord> {
        self.pos
            .checked_sub(1)
            .and_then(|i| self.trace.steps.get(i))
    }

    /// The step that runs next from the cursor (`None` at the end, or where the run failed).
    pub fn next_step(&self) -> Option<&StepRecord> {
        self.trace.steps.get(self.pos)
    }

    /// The op the cursor is in: the current step's op, else the next step's.
    pub fn current_op(&self) -> Option<usize> {
        self.current_step()
            .or_else(|| self.next_step())
            .map(|s| s.op)
    }

    /// The label of the op the run failed in (a party's failure or a deadlock), once it has.
    /// The history may end before that op's first step: a party can fail at its very start.
    pub fn failed_op(&self) -> Option<&str> {
        self.failed_op.as_deref()
    }

    /// The breakpoints.
    pub fn breakpoints(&self) -> &[Breakpoint] {
        &self.breakpoints
    }

    /// Adds a breakpoint (no duplicates).
    pub fn add_breakpoint(&mut self, b: Breakpoint) {
        if !self.breakpoints.contains(&b) {
            self.breakpoints.push(b);
        }
    }

    /// Removes breakpoint `i`, if it exists.
    pub fn remove_breakpoint(&mut self, i: usize) -> Option<Breakpoint> {
        (i < self.breakpoints.len()).then(|| self.breakpoints.remove(i))
    }

    /// Puts `b` in place of breakpoint `i` (if `b` is already set elsewhere, breakpoint `i` just
    /// goes, so there are no duplicates); returns the one replaced.
    pub fn replace_breakpoint(&mut self, i: usize, b: Breakpoint) -> Option<Breakpoint> {
        if i >= self.breakpoints.len() {
            return None;
        }
        if self
            .breakpoints
            .iter()
            .enumerate()
            .any(|(k, x)| k != i && *x == b)
        {
            return Some(self.breakpoints.remove(i));
        }
        Some(std::mem::replace(&mut self.breakpoints[i], b))
    }

    /// Adds `b`, or removes it if present; returns whether it is now set.
    pub fn toggle_breakpoint(&mut self, b: Breakpoint) -> bool {
        if let Some(i) = self.breakpoints.iter().position(|x| *x == b) {
            self.breakpoints.remove(i);
            false
        } else {
            self.breakpoints.push(b);
            true
        }
    }

    fn fail(&mut self, message: String) {
        if let Some(sim) = &mut self.sim {
            self.failed_op = sim.failed_op();
            // Every party stops at its next message, step or gate: wait, so the trace is final.
            sim.join();
            self.status = sim.wait_idle().status;
            let tail = sim.steps_since(self.completed);
            self.trace.steps.truncate(self.completed);
            self.trace.steps.extend(tail);
            self.trace.ops = sim.trace().ops;
            // The history ends with the step the first stopped party was in, shown as far as it
            // got (parties that finished may have walked further through steps nobody else ran).
            let begun = sim.steps_begun();
            let reached = (0..begun.len())
                .filter(|p| self.status.get(*p) != Some(&PartyStatus::Finished))
                .map(|p| begun[p])
                .min()
                .unwrap_or(self.trace.steps.len());
            self.trace.steps.truncate(reached.max(self.completed));
        }
        self.completed = self.trace.steps.len();
        self.ops_stale = false;
        self.state = RunState::Failed(message);
    }

    /// Every party has finished: join them and keep the final trace and outputs.
    fn conclude(&mut self) {
        let Some(mut sim) = self.sim.take() else {
            return;
        };
        if self.plan.training.is_some() {
            let (held, shadow) = sim.take_carried();
            self.carried = Some(crate::train::run::Carried { held, shadow });
        }
        match sim.finish() {
            Ok(result) => {
                self.trace = result.trace;
                self.outputs = result.outputs;
                self.finished = Some((result.totals, result.metrics));
                self.completed = self.trace.steps.len();
                self.ops_stale = false;
                self.state = RunState::Finished;
            }
            Err(e) => {
                self.carried = None;
                self.completed = self.trace.steps.len();
                self.failed_op = e.op().map(str::to_string);
                self.state = RunState::Failed(e.to_string());
            }
        }
    }

    /// Runs one more step at the frontier; false if the run cannot move.
    fn extend(&mut self) -> bool {
        self.extend_by(1)
    }

    /// Runs up to `n` more steps at the frontier; whether the history grew.
    fn extend_by(&mut self, n: usize) -> bool {
        if self.state != RunState::Paused {
            return false;
        }
        let Some(sim) = &self.sim else { return false };
        let before = self.completed;
        // Once interrupted, the movement only keeps the run one step ahead of the cursor.
        let progress = if self.interrupted || self.interrupt.load(Ordering::SeqCst) {
            self.interrupted = true;
            sim.set_gate(self.completed.saturating_add(n.min(1)));
            settle(sim)
        } else {
            sim.set_gate(self.completed.saturating_add(n));
            let (progress, interrupted) =
                settle_or_interrupt(sim, self.completed, &self.interrupt, &mut self.progress);
            self.interrupted = interrupted;
            progress
        };
        self.status = progress.status;
        if let Some(f) = sim.failure() {
            self.fail(f);
            return self.completed > before;
        }
        let mut tail = sim.steps_since(self.completed);
        // Every party is paused at the gate or past it (or done): each step before the gate is
        // complete. Parties that ran ahead of an interrupt have begun later steps; those are
        // recorded when everyone has reached them.
        tail.truncate(sim.gate().saturating_sub(self.completed));
        self.trace.steps.truncate(self.completed);
        self.trace.steps.extend(tail);
        self.completed = self.trace.steps.len();
        self.ops_stale = true;
        if progress.done {
            self.conclude();
        }
        self.completed > before
    }

    /// Refreshes per-op stats (reconstructed values, errors) from the live run.
    fn refresh_ops(&mut self) {
        if self.ops_stale {
            if let Some(sim) = &self.sim {
                self.trace.ops = sim.trace().ops;
            }
            self.ops_stale = false;
        }
    }

    /// Runs the whole rest of the run at once (no breakpoints), then records it.
    fn run_to_end(&mut self) {
        self.extend_by(usize::MAX);
    }

    /// Moves the cursor one step forward, extending the history if needed.
    fn forward(&mut self) -> bool {
        self.forward_batch(1)
    }

    /// Like [`Controller::forward`], running `batch` steps ahead when at the frontier.
    fn forward_batch(&mut self, batch: usize) -> bool {
        let moved = if self.pos < self.completed {
            self.pos += 1;
            true
        } else if self.extend_by(batch) {
            self.pos = self.completed.min(self.pos + 1);
            true
        } else {
            self.pos = self.pos.min(self.completed);
            false
        };
        // Keep the run ahead of the cursor (by one step, or by the batch).
        if self.pos == self.completed {
            self.extend_by(batch);
        }
        moved
    }

    fn blocked(&self) -> Stop {
        match &self.state {
            RunState::Failed(m) => Stop::Failed(m.clone()),
            _ => Stop::End,
        }
    }

    /// Step into: `n` protocol steps forward (stops early at the end, on failure or on an
    /// interrupt).
    ///
    /// In a training run, a step past the end of an iteration opens the next one, before its
    /// first step (that counts as one step).
    pub fn step(&mut self, n: usize) -> Stop {
        self.step_within(n, true)
    }

    /// [`Controller::step`]; `cross` says whether a step past the end of a training iteration
    /// opens the next.
    fn step_within(&mut self, n: usize, cross: bool) -> Stop {
        for _ in 0..n {
            if !self.forward() {
                let interrupted = self.take_interrupted();
                if cross && !interrupted && self.open_next_iteration() {
                    continue;
                }
                self.refresh_ops();
                return self.blocked();
            }
            if self.take_interrupted() {
                self.refresh_ops();
                return Stop::Interrupted;
            }
            let completed = self.completed;
            self.progress.report(|| completed);
        }
        self.refresh_ops();
        Stop::Done
    }

    /// Step back: `n` steps back through the history (never re-runs).
    pub fn step_back(&mut self, n: usize) -> Stop {
        if self.pos == 0 {
            return Stop::Start;
        }
        self.pos = self.pos.saturating_sub(n);
        Stop::Done
    }

    /// Moves forward until `until(self)` holds at the new position or a breakpoint hits.
    ///
    /// At the frontier the run goes ahead in growing batches (16, 32, … 1024 steps): every
    /// breakpoint is a predicate on recorded data, so positions are checked one by one in the
    /// history afterwards, and the parties simply wait further ahead of the cursor.
    fn run_until(&mut self, until: impl Fn(&Controller) -> bool) -> Stop {
        let mut batch = 16;
        loop {
            // Interrupted: the recorded history is still checked for breakpoints, up to the
            // frontier, but nothing more runs.
            if self.interrupted && self.pos + 1 >= self.completed && self.take_interrupted() {
                self.refresh_ops();
                return Stop::Interrupted;
            }
            if self.pos + 1 >= self.completed {
                batch = (batch * 2).min(1024);
            }
            if !self.forward_batch(batch) {
                let interrupted = self.take_interrupted();
                if !interrupted && self.open_next_iteration() {
                    // On into the next training iteration, checked from its start.
                    batch = 16;
                    if let Some(b) = self.hit_at(self.pos) {
                        self.refresh_ops();
                        return Stop::Breakpoint(b);
                    }
                    if until(self) {
                        self.refresh_ops();
                        return Stop::Done;
                    }
                    continue;
                }
                self.refresh_ops();
                return self.blocked();
            }
            let completed = self.completed;
            self.progress.report(|| completed);
            if self.op_ended_at(self.pos) && self.wants_op_stats() {
                self.refresh_ops(); // divergence needs the finished op's error
            }
            if let Some(b) = self.hit_at(self.pos) {
                self.take_interrupted(); // the breakpoint came first
                self.refresh_ops();
                return Stop::Breakpoint(b);
            }
            if until(self) {
                self.take_interrupted();
                self.refresh_ops();
                return Stop::Done;
            }
        }
    }

    fn wants_op_stats(&self) -> bool {
        self.breakpoints
            .iter()
            .any(|b| matches!(b, Breakpoint::Divergence(_)))
    }

    /// Whether an op ended with step `p − 1`.
    fn op_ended_at(&self, p: usize) -> bool {
        let steps = &self.trace.steps;
        match (p.checked_sub(1).and_then(|i| steps.get(i)), steps.get(p)) {
            (Some(q), Some(s)) => q.op != s.op,
            (Some(_), None) => true,
            _ => false,
        }
    }

    /// Step over: run the next op to its end (stopping at breakpoints inside it).
    pub fn step_over(&mut self) -> Stop {
        let Some(op) = self.next_step().map(|s| s.op) else {
            return self.step(1);
        };
        self.run_until(move |c| c.next_step().is_none_or(|s| s.op != op))
    }

    /// Step out: finish the innermost sub-protocol call the cursor is in (ComputeMSB inside
    /// DReLU inside ReLU, `x^3` inside a sigmoid; see [`StepRecord::path`]), or the op when it is
    /// in none. The cursor is in a call when both the step just run and the next step belong to
    /// it: at the end of ComputeMSB (its last step just ran) `f` finishes DReLU. At an op
    /// boundary (or before the first step) it runs the next op to its end, as step over does.
    pub fn step_out(&mut self) -> Stop {
        let Some(next) = self.next_step() else {
            return self.step(1);
        };
        let op = next.op;
        let call = match self.current_step() {
            Some(cur) => match cur.common_depth(next) {
                0 => None,
                d => Some((d - 1, next.path_starts[d - 1])),
            },
            None => None,
        };
        self.run_until(move |c| match c.next_step() {
            None => true,
            Some(s) => s.op != op || call.is_some_and(|(d, start)| !s.is_within(d, start)),
        })
    }

    /// Continue: run to the next breakpoint, the end, or a failure. In a training run it goes
    /// on through the later iterations (each opened as [`Controller::step`] opens it), to the
    /// end of the last.
    pub fn resume(&mut self) -> Stop {
        if self.breakpoints.is_empty() && self.pos == self.completed {
            loop {
                self.run_to_end();
                self.pos = self.completed;
                if self.take_interrupted() {
                    self.refresh_ops();
                    return Stop::Interrupted;
                }
                if !self.open_next_iteration() {
                    return self.blocked();
                }
            }
        }
        self.run_until(|_| false)
    }

    /// Reverse-continue: back to the previous breakpoint position in the history, or the start.
    pub fn reverse_resume(&mut self) -> Stop {
        self.refresh_ops();
        while self.pos > 0 {
            self.pos -= 1;
            if let Some(b) = self.hit_at(self.pos) {
                return Stop::Breakpoint(b);
            }
        }
        Stop::Start
    }

    /// Moves the cursor to `target` (running forward without breakpoints if needed).
    pub fn goto(&mut self, target: usize) -> Stop {
        if target <= self.completed {
            self.pos = target;
            self.peek();
            self.refresh_ops();
            return Stop::Done;
        }
        self.pos = self.completed;
        let stop = self.step_within(target - self.pos, false);
        if self.pos == target {
            Stop::Done
        } else {
            stop
        }
    }

    /// Go to the first position (before any step).
    pub fn first(&mut self) -> Stop {
        self.pos = 0;
        Stop::Start
    }

    /// Go to the last position: runs the rest without breakpoints.
    pub fn last(&mut self) -> Stop {
        self.run_to_end();
        self.pos = self.completed;
        if self.take_interrupted() {
            self.refresh_ops();
            return Stop::Interrupted;
        }
        self.blocked()
    }

    /// Restarts the run from the beginning with the same plan, or with a new seed.
    pub fn restart(&mut self, seed: Option<u64>) {
        if let Some(s) = seed {
            self.plan.scenario.seed = s;
        }
        self.launch();
    }

    /// Replaces the plan (e.g. a changed link) and re-runs from the start to the same cursor
    /// position (or as far as the new run goes).
    pub fn replan(&mut self, plan: Plan) -> Stop {
        let target = self.pos;
        self.plan = plan;
        self.launch();
        self.goto(target)
    }

    /// Where the plan sits in its training run (`None` for a plan that is not a training
    /// iteration).
    pub fn iteration(&self) -> Option<IterationAt> {
        let it = self.plan.training.as_ref()?;
        let tp = &it.training;
        let batches = tp.batches_per_epoch.max(1);
        Some(IterationAt {
            index: it.index,
            iterations: tp.iterations(),
            epoch: it.index / batches + 1,
            epochs: tp.spec.epochs,
            batch: it.index % batches + 1,
            batches,
        })
    }

    /// At the end of a finished training iteration that is not the last, opens the next one
    /// before its first step, from the shares and shadow weights this one handed on (so it is
    /// the iteration `sharescope debug --iteration K+1` opens). Whether it did.
    fn open_next_iteration(&mut self) -> bool {
        if self.state != RunState::Finished || self.pos < self.completed {
            return false;
        }
        let Some(carried) = self.carried.take() else {
            return false;
        };
        match crate::train::run::next_plan(&self.plan, carried) {
            Ok(Some(plan)) => {
                self.plan = plan;
                self.launch();
                true
            }
            Ok(None) => false,
            Err(e) => {
                self.state = RunState::Failed(format!("opening the next iteration: {e}"));
                false
            }
        }
    }

    /// Opens training iteration `k` before its first step: the next one from this one's
    /// hand-on when this one has finished, a later one by running the iterations between
    /// headless, an earlier one (or this one again) from iteration 0. Breakpoints stay.
    pub fn open_iteration(&mut self, k: usize) -> Result<(), String> {
        let Some(at) = self.iteration() else {
            return Err("this is not a training scenario (docs/training.md)".into());
        };
        if k >= at.iterations {
            return Err(format!(
                "iteration {k} does not exist: the run has {} (0..{})",
                at.iterations,
                at.iterations - 1
            ));
        }
        let plan = if k > at.index {
            let from = match (self.state == RunState::Finished, self.carried.take()) {
                (true, Some(c)) => crate::train::run::next_plan(&self.plan, c)
                    .map_err(|e| e.to_string())?
                    .ok_or("no next iteration")?,
                _ => self.plan.clone(),
            };
            let done = from.training.as_ref().map_or(0, |i| i.index);
            crate::train::run::advance(&from, k - done).map_err(|e| e.to_string())?
        } else {
            let first = crate::train::run::first_plan(&self.plan).map_err(|e| e.to_string())?;
            crate::train::run::advance(&first, k).map_err(|e| e.to_string())?
        };
        self.plan = plan;
        self.launch();
        Ok(())
    }

    /// The breakpoint that stops at cursor position `p`, if any (its description).
    pub fn hit_at(&self, p: usize) -> Option<String> {
        self.breakpoints
            .iter()
            .find(|b| self.hits(b, p))
            .map(|b| b.describe(&self.plan.parties))
    }

    fn hits(&self, b: &Breakpoint, p: usize) -> bool {
        let steps = &self.trace.steps;
        let prev = p.checked_sub(1).and_then(|i| steps.get(i));
        let next = steps.get(p);
        let op_start = |s: &StepRecord| prev.is_none_or(|q| q.op != s.op);
        // The op that ended with step p − 1, if it did.
        let op_end = prev.and_then(|q| {
            let ended = match next {
                Some(s) => s.op != q.op,
                None => self.state == RunState::Finished,
            };
            ended.then_some(q.op)
        });
        match b {
            Breakpoint::Op(name) => next.is_some_and(|s| {
                op_start(s) && self.trace.ops.get(s.op).is_some_and(|o| o.name == *name)
            }),
            Breakpoint::Kind(kind) => next.is_some_and(|s| {
                op_start(s) && self.trace.ops.get(s.op).is_some_and(|o| o.kind == *kind)
            }),
            Breakpoint::Step(name) => {
                next.is_some_and(|s| s.name == *name || base_step_name(&s.name) == name)
            }
            Breakpoint::Party(party) => {
                prev.is_some_and(|s| s.messages().any(|m| m.from == *party || m.to == *party))
            }
            Breakpoint::Bytes(limit) => {
                prev.is_some_and(|s| s.messages().map(|m| m.bytes).sum::<u64>() > *limit)
            }
            Breakpoint::Divergence(eps) => op_end.is_some_and(|o| {
                self.trace
                    .ops
                    .get(o)
                    .and_then(|r| r.stats.max_abs_error)
                    .is_some_and(|e| e > *eps)
            }),
            Breakpoint::Hazard => {
                op_end.is_some_and(|o| self.trace.ops.get(o).is_some_and(|r| !r.hazards.is_empty()))
            }
        }
    }
}

/// An estimate of the heap memory a trace holds, in bytes (for reporting).
pub fn trace_heap_bytes(t: &Trace) -> usize {
    use crate::trace::{MessageRecord, PartyStep, ValueRecord};
    use std::mem::size_of;
    let value = |v: &ValueRecord| {
        size_of::<ValueRecord>() + v.label.capacity() + v.shape.len() * 8 + v.values.capacity() * 8
    };
    let party = |p: &PartyStep| {
        size_of::<PartyStep>()
            + p.sent
                .iter()
                .map(|m| size_of::<MessageRecord>() + m.label.capacity())
                .sum::<usize>()
            + p.shares.iter().chain(&p.opened).map(value).sum::<usize>()
    };
    let steps: usize = t
        .steps
        .iter()
        .map(|s| {
            size_of::<StepRecord>() + s.name.capacity() + s.parties.iter().map(party).sum::<usize>()
        })
        .sum();
    let ops: usize = t
        .ops
        .iter()
        .map(|o| {
            size_of::<crate::trace::OpRecord>()
                + o.name.len()
                + o.kind.len()
                + (o.reconstructed.len() + o.plaintext.len()) * 8
        })
        .sum();
    steps + ops
}

/// Online bytes sent in `step`.
pub fn online_bytes(step: &StepRecord) -> u64 {
    step.messages()
        .filter(|m| m.traffic == Traffic::Online)
        .map(|m| m.bytes)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{load_source, Source};

    const SCENARIO: &str = r#"Scenario(
    name: "t",
    fixed_point: (frac_bits: 16, int_bits: 11, weak_security: true),
    truncation: Dealer,
    roles: (input_providers: ["alice", "bob"], output_receivers: ["carol"]),
    timing: Model(ns_per_ring_op: 1.0),
    seed: 7,
    inputs: [
        (name: "x", owner: "alice", shape: [3], data: Values([1.1, -2.3, 0.7])),
        (name: "y", owner: "bob", shape: [3], data: Values([2.9, 3.3, -4.1])),
    ],
    program: [
        (name: "z", op: Mul("x", "y")),
        (name: "w", op: Add("z", "x")),
    ],
    outputs: [(name: "w", to: "carol")],
)"#;

    fn plan(text: &str) -> Plan {
        load_source(&Source {
            name: "test".into(),
            dir: ".".into(),
            text: text.into(),
        })
        .expect("test scenario is valid")
    }

    #[test]
    fn stepping_back_never_reruns_and_forward_replays_the_same_history() {
        let mut c = Controller::new(plan(SCENARIO));
        assert_eq!(c.position(), 0);
        assert_eq!(c.step(3), Stop::Done);
        assert_eq!(
            (c.position(), c.completed()),
            (3, 4),
            "the run stays one step ahead"
        );
        let third = c.current_step().unwrap().clone();
        c.step_back(2);
        assert_eq!((c.position(), c.completed()), (1, 4));
        c.step(2);
        assert_eq!(c.current_step().unwrap(), &third);
    }

    #[test]
    fn step_over_runs_exactly_one_op() {
        let mut c = Controller::new(plan(SCENARIO));
        c.step_over(); // input x
        c.step_over(); // input y
        c.step_over(); // z
        let t = c.trace();
        let z = t.ops.iter().find(|o| o.name == "z").unwrap();
        assert_eq!(c.position(), z.end_step);
        assert_eq!(c.next_step().unwrap().op, z.index + 1);
        assert!(z.stats.max_abs_error.is_some(), "op stats are refreshed");
    }

    #[test]
    fn continue_stops_before_the_op_kind_and_reverse_continue_returns() {
        let mut c = Controller::new(plan(SCENARIO));
        c.add_breakpoint(Breakpoint::Kind("add".into()));
        let stop = c.resume();
        assert_eq!(stop, Stop::Breakpoint("kind add".into()));
        assert_eq!(c.trace().ops[c.next_step().unwrap().op].name, "w");
        let at = c.position();
        assert_eq!(c.resume(), Stop::End);
        assert_eq!(*c.state(), RunState::Finished);
        assert_eq!(c.outputs().len(), 1);
        assert_eq!(c.reverse_resume(), Stop::Breakpoint("kind add".into()));
        assert_eq!(c.position(), at);
        assert_eq!(c.reverse_resume(), Stop::Start);
    }

    #[test]
    fn divergence_breakpoint_stops_after_the_op_that_diverges() {
        // 1.1 has no exact fixed-point encoding: the first input already diverges.
        let mut c = Controller::new(plan(SCENARIO));
        c.add_breakpoint(Breakpoint::Divergence(1e-9));
        let stop = c.resume();
        assert!(
            matches!(stop, Stop::Breakpoint(ref s) if s.starts_with("divergence")),
            "{stop:?}"
        );
        let op = c.current_step().unwrap().op;
        let err = c.trace().ops[op].stats.max_abs_error.unwrap();
        assert!(err > 1e-9, "stopped after an op with error {err}");
        assert_eq!(c.position(), c.trace().ops[op].end_step);
    }

    #[test]
    fn bytes_and_party_breakpoints_stop_after_matching_steps() {
        let mut c = Controller::new(plan(SCENARIO));
        let carol = c.plan().parties.iter().position(|p| p == "carol").unwrap();
        c.add_breakpoint(Breakpoint::Party(carol));
        assert!(matches!(c.resume(), Stop::Breakpoint(_)));
        assert_eq!(c.current_step().unwrap().name, "reveal to receiver");
        let mut c = Controller::new(plan(SCENARIO));
        c.add_breakpoint(Breakpoint::Bytes(40));
        assert!(matches!(c.resume(), Stop::Breakpoint(_)));
        let bytes: u64 = c.current_step().unwrap().messages().map(|m| m.bytes).sum();
        assert!(bytes > 40);
    }

    #[test]
    fn restart_with_the_same_seed_reproduces_the_trace() {
        let mut c = Controller::new(plan(SCENARIO));
        c.last();
        let first = c.trace().clone();
        c.restart(None);
        assert_eq!(c.position(), 0);
        c.last();
        assert_eq!(c.trace(), &first);
        c.restart(Some(99));
        c.last();
        assert_ne!(c.trace().steps, first.steps, "a new seed draws new shares");
    }

    #[test]
    fn a_failing_party_ends_the_run_with_its_error_and_never_hangs() {
        let text = SCENARIO.replace(
            "outputs: [",
            "faults: [(party: \"server1\", op: \"w\", kind: Panic)],\n    outputs: [",
        );
        let mut c = Controller::new(plan(&text));
        let stop = c.resume();
        let Stop::Failed(m) = stop else {
            panic!("{stop:?}")
        };
        assert!(m.contains("server1") && m.contains("injected fault"), "{m}");
        assert!(matches!(c.state(), RunState::Failed(_)));
        assert!(matches!(c.step(1), Stop::Failed(_)));
        c.step_back(1);
        assert!(c.position() < c.completed());
    }

    #[test]
    fn a_held_link_ends_in_a_deadlock_report_whether_stepping_or_continuing() {
        let text = SCENARIO.replace(
            "seed: 7,",
            "network: (links: [(from: \"server1\", to: \"server0\", state: Held)]),\n    seed: 7,",
        );
        let mut c = Controller::new(plan(&text));
        let stop = c.step(100);
        let Stop::Failed(m) = stop else {
            panic!("{stop:?}")
        };
        assert!(m.contains("deadlock"), "{m}");
        let mut c = Controller::new(plan(&text));
        c.add_breakpoint(Breakpoint::Kind("add".into()));
        let stop = c.resume();
        assert!(
            matches!(stop, Stop::Failed(ref m) if m.contains("deadlock")),
            "{stop:?}"
        );
        // The history up to the failure stays browsable.
        assert!(c.completed() > 3);
        c.goto(3);
        assert_eq!(c.position(), 3);
        // A failing run is as deterministic as a finishing one: the report waits until every
        // party is as far as it can get, so the history and the message never depend on which
        // thread was slow.
        for _ in 0..8 {
            let mut again = Controller::new(plan(&text));
            again.add_breakpoint(Breakpoint::Kind("add".into()));
            assert_eq!(again.resume(), stop);
            assert_eq!(again.trace().steps, c.trace().steps);
        }
    }

    #[test]
    fn an_interrupt_pauses_at_a_step_boundary_and_the_run_goes_on_unchanged() {
        let text = SCENARIO.replace("Add(\"z\", \"x\")", "Sigmoid(\"z\")");
        let mut full = Controller::new(plan(&text));
        assert_eq!(full.resume(), Stop::End);
        let reference = full.trace().steps.clone();
        // Continue without breakpoints, continue to a breakpoint, and a long step count.
        type Movement = fn(&mut Controller) -> Stop;
        let movements: [Movement; 3] = [
            |c| c.resume(),
            |c| {
                c.add_breakpoint(Breakpoint::Kind("output".into()));
                c.resume()
            },
            |c| c.step(1000),
        ];
        for (i, movement) in movements.into_iter().enumerate() {
            let mut c = Controller::new(plan(&text));
            c.interrupt_handle().store(true, Ordering::SeqCst);
            assert_eq!(movement(&mut c), Stop::Interrupted, "movement {i}");
            assert!(c.position() < reference.len(), "movement {i}");
            assert_eq!(c.state(), &RunState::Paused, "movement {i}");
            // The interrupt is spent; what is recorded is what an uninterrupted run records.
            c.remove_breakpoint(0);
            assert_eq!(c.resume(), Stop::End, "movement {i}");
            assert_eq!(c.trace().steps, reference, "movement {i}");
        }
    }

    /// `text` in realtime mode with links of `latency_ms`: runs take real time.
    fn realtime(text: &str, latency_ms: u64) -> String {
        text.replace(
            "seed: 7,",
            &format!(
                "network: (default: (latency_us: {}), mode: Realtime),\n    seed: 7,",
                latency_ms * 1000
            ),
        )
    }

    /// Continues `c`, with its interrupt flag set from another thread `after_ms` after the run
    /// is seen under way (its first progress report), so a loaded machine that is slow to start
    /// the parties cannot make the interrupt come too early or too late for the test.
    fn resume_interrupted_after(c: &mut Controller, after_ms: u64) -> Stop {
        let flag = c.interrupt_handle();
        let (tx, rx) = std::sync::mpsc::channel();
        c.set_progress_observer(Some(Box::new(move |_| {
            let _ = tx.send(());
        })));
        let setter = std::thread::spawn(move || {
            if rx.recv().is_ok() {
                std::thread::sleep(std::time::Duration::from_millis(after_ms));
                flag.store(true, Ordering::SeqCst);
            }
        });
        let stop = c.resume();
        c.set_progress_observer(None);
        setter.join().expect("the setter thread");
        stop
    }

    #[test]
    fn an_interrupt_from_another_thread_stops_a_running_continue() {
        // Realtime mode with 50 ms links: the run takes most of a second of wall time, and the
        // interrupt comes after 50 ms, while the parties are between steps or inside one.
        let text = realtime(&SCENARIO.replace("Add(\"z\", \"x\")", "Sigmoid(\"z\")"), 50);
        let mut c = Controller::new(plan(&text));
        assert_eq!(resume_interrupted_after(&mut c, 50), Stop::Interrupted);
        // The cursor is where the run paused, which stays one step ahead as always.
        assert_eq!(c.position() + 1, c.completed());
        let at = c.completed();
        // Every recorded step is complete: each party has a record of it.
        for s in &c.trace().steps {
            assert_eq!(s.parties.len(), c.trace().parties.len());
        }
        let mut full = Controller::new(plan(&text));
        full.goto(at);
        assert_eq!(c.trace().steps[..at], full.trace().steps[..at]);
        // A progress observer hears how far the run has got while a movement runs: what it
        // hears after the interrupt only moves forward, from where the run paused. (How much is
        // left after the interrupt depends on the machine's load, so whether it hears anything
        // there is not asserted; the whole run below lasts most of a second of wall time, ten
        // ticks, however loaded the machine — load only makes it longer.)
        let heard = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let sink = std::rc::Rc::clone(&heard);
        c.set_progress_observer(Some(Box::new(move |n| sink.borrow_mut().push(n))));
        assert_eq!(c.resume(), Stop::End);
        let heard = heard.borrow().clone();
        assert!(heard.windows(2).all(|w| w[0] <= w[1]), "{heard:?}");
        if let (Some(first), Some(last)) = (heard.first(), heard.last()) {
            assert!(*first >= at && *last <= c.completed(), "{heard:?}");
        }
        let whole = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let sink = std::rc::Rc::clone(&whole);
        let mut fresh = Controller::new(plan(&text));
        fresh.set_progress_observer(Some(Box::new(move |n| sink.borrow_mut().push(n))));
        assert_eq!(fresh.resume(), Stop::End);
        let whole = whole.borrow();
        assert!(!whole.is_empty(), "no progress reported");
        assert!(whole.windows(2).all(|w| w[0] <= w[1]), "{whole:?}");
        assert!(*whole.last().unwrap() <= fresh.completed(), "{whole:?}");
        // Parties that ran ahead of the interrupt (the dealer never waits) left no trace of it.
        full.last();
        assert_eq!(c.trace().steps, full.trace().steps);
    }

    #[test]
    fn an_interrupt_is_not_undone_by_a_receiver_waiting_ahead() {
        // A short program: the whole run fits in the first batch, so the output receiver races
        // to the last step and waits there for the servers. The interrupt comes while they are
        // still at the start; the receiver waiting far ahead must not count as stuck at the gate
        // (which would let the run go on to the end).
        // 300 ms links: the run lasts seconds, the interrupt comes at its first progress report
        // (~100 ms in), so even a loaded machine cannot finish first.
        let text = realtime(SCENARIO, 300);
        let mut c = Controller::new(plan(&text));
        assert_eq!(resume_interrupted_after(&mut c, 0), Stop::Interrupted);
        assert_eq!(c.state(), &RunState::Paused);
        let at = c.completed();
        let mut full = Controller::new(plan(&text));
        assert_eq!(full.resume(), Stop::End);
        assert!(
            at < full.completed(),
            "stopped at {at} of {}",
            full.completed()
        );
        assert_eq!(c.resume(), Stop::End);
        assert_eq!(c.trace().steps, full.trace().steps);
    }

    #[test]
    fn step_out_leaves_a_sub_protocol() {
        let text = SCENARIO.replace("Add(\"z\", \"x\")", "Sigmoid(\"z\")");
        let mut c = Controller::new(plan(&text));
        c.add_breakpoint(Breakpoint::Step("x^3: combine".into()));
        // Sigmoid's powers are named after the operand: `z^3: …`.
        c.remove_breakpoint(0);
        c.add_breakpoint(Breakpoint::Step("z^3: combine".into()));
        assert!(matches!(c.resume(), Stop::Breakpoint(_)));
        assert_eq!(c.next_step().unwrap().name, "z^3: combine");
        c.remove_breakpoint(0);
        c.step_out();
        let next = c.next_step().unwrap();
        assert_ne!(step_prefix(&next.name), Some("z^3"), "{}", next.name);
        assert_eq!(step_prefix(&c.current_step().unwrap().name), Some("z^3"));
    }
}
