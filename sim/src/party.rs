//! A party thread's view of the world: the simulator's implementation of
//! [`protocols::context::Context`] over crossbeam channels, with virtual clocks, exact
//! accounting, causal rounds, the step gate, and fault and deadlock detection.

use crate::error::SimError;
use crate::network::{Delivery, LinkModel};
use crate::scenario::{NetworkMode, Timing};
use crate::trace::{MessageRecord, PartyStep, ValueRecord};
use crossbeam_channel::{Receiver, Sender};
use protocols::context::{Context, Message, PartyId, RingKind, Traffic, ValueClass};
use protocols::error::{ProtocolError, Result};
use protocols::protocol::Held;
use protocols::tensor::Tensor;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};

/// Why a run stops when a virtual clock saturates.
pub(crate) const CLOCK_OVERFLOW: &str = "the virtual clock reached its maximum, 2^64 − 1 ns \
     (about 584 years), so its times would be wrong; use smaller latencies, jitters or \
     ns_per_ring_op, or fewer ops";
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A message in flight.
#[derive(Debug)]
pub(crate) struct Envelope {
    pub payload: Vec<u8>,
    pub delivery_ns: u64,
    pub traffic: Traffic,
    pub round: u32,
    pub op_round: u32,
    pub op: usize,
    /// The sender's clock when it sent, ns (where a receiver's idle time ends, see `engaged`).
    pub send_ns: u64,
}

/// What a party is doing, as the monitor sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartyStatus {
    /// Computing (or about to).
    Running,
    /// Blocked waiting for a message from this party.
    Waiting(PartyId),
    /// Paused at the step gate before this global step.
    AtGate(usize),
    /// Done with the program.
    Finished,
    /// Ended with an error.
    Failed,
}

/// State shared by all parties and the controller.
#[derive(Debug)]
pub(crate) struct MonitorState {
    pub status: Vec<PartyStatus>,
    /// Parties may begin steps with index < `gate`.
    pub gate: usize,
    /// The first failure (root cause); set once.
    pub failure: Option<SimError>,
    /// Set when the run is being torn down.
    pub cancelled: bool,
    /// The op each party is in.
    pub current_op: Vec<usize>,
    /// A party's failure not yet made the run's: the others go on as far as they can without
    /// the failed party (no further than its step), so a failed run stops in the same state on
    /// every run, as a deadlock does; the last party to settle makes it `failure`.
    pub pending: Option<SimError>,
    /// After a party's failure: the gate may not rise above `.0` (the failed step + 1), and
    /// `.1` is the op it failed in. What parties that had run ahead recorded at or after that
    /// step is dropped from the partial trace, so it is the same on every run.
    pub hold: Option<(usize, usize)>,
}

/// One party's recorded history.
#[derive(Debug, Default, Clone)]
pub(crate) struct PartyLog {
    /// Indexed by global step.
    pub steps: crate::steplog::StepLog<PartyStep>,
    /// (op index, name) of each step, as this party saw them. A name is shared by every step of
    /// this party that has it ([`SimContext::step_name`]): one allocation per distinct name, not
    /// per step.
    pub step_names: Vec<(usize, Arc<str>)>,
    /// The call path of each step (parallel to `step_names`), as this party walked it.
    pub step_paths: Vec<Arc<CallPath>>,
    /// How many ops (from the first) this party has ended; what it held of each op's result
    /// went to [`Shared::results`].
    pub ops_ended: usize,
    /// How many values the party held after each op (if its protocol counts them; liveness
    /// tests).
    pub live_values: Vec<usize>,
    /// Final virtual clock, ns.
    pub final_clock_ns: u64,
    /// Everything the party did, in order (for the DAG schedule, `crate::dag`); set at finish.
    pub acts: Vec<crate::dag::Act>,
}

/// The sub-protocols a party is in (see [`Context::enter`]): their names, outermost first, and
/// the global step at which each call began.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct CallPath {
    /// Names, outermost first.
    pub names: Vec<String>,
    /// The first step of each call.
    pub starts: Vec<usize>,
}

/// Everything the threads share.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Mirror of `MonitorState::gate` for the lock-free fast path of `step`.
    pub gate: AtomicUsize,
    /// Set once the run has failed or is being cancelled (mirror for the fast paths).
    pub abort: AtomicBool,
    /// Messages sent but not yet received, `in_flight[from * n + to]`.
    pub in_flight: Vec<AtomicU64>,
    pub parties: Vec<String>,
    pub op_labels: Vec<String>,
    pub monitor: Mutex<MonitorState>,
    pub changed: Condvar,
    pub logs: Vec<Mutex<PartyLog>>,
    /// Every op's result, collected as the parties end it (reconstructed once, summarised).
    pub results: crate::results::OpResults,
    /// Per scenario fault: whether it has fired (message faults and faults at a step).
    pub faults_fired: Vec<AtomicBool>,
    /// One wake-up channel per party (capacity 1): a party blocked on a link or sleeping until
    /// a realtime delivery also listens here, so a failure or a cancellation ends its wait at
    /// once — nobody polls.
    pub wakers: Vec<Sender<()>>,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, MonitorState> {
        self.monitor.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn log(&self, p: PartyId) -> MutexGuard<'_, PartyLog> {
        self.logs[p].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Messages in flight from `from` to `to`.
    pub fn in_flight(&self, from: PartyId, to: PartyId) -> u64 {
        self.in_flight[from * self.parties.len() + to].load(SeqCst)
    }

    /// Sets the gate (under the monitor lock) and wakes paused parties.
    pub fn set_gate(&self, st: &mut MonitorState, gate: usize) {
        let gate = st.hold.map_or(gate, |h| gate.min(h.0));
        st.gate = gate;
        self.gate.store(gate, SeqCst);
        self.changed.notify_all();
    }

    /// Records the first failure and wakes everyone.
    pub fn fail(&self, st: &mut MonitorState, e: SimError) {
        if st.failure.is_none() {
            // A pending party failure is the root cause of whatever fails after it.
            st.failure = Some(st.pending.take().unwrap_or(e));
        }
        self.abort.store(true, SeqCst);
        self.wake_all();
    }

    /// Records that a party failed in op `op`, in a step below `gate`: the others may still
    /// begin steps below `gate`, and the run fails (with this error) once every party has
    /// settled.
    ///
    /// A party that fails while another's failure is pending (a consequence of it, or a second
    /// fault) settles the same way: it does not end the run at once, which would stop the others
    /// wherever the threads' speeds had left them (a party still finishing an earlier op would
    /// lose it, and the partial trace would change from run to run). The hold moves down to the
    /// earlier of the two steps; the first failure stays the run's error.
    pub fn fail_party(&self, st: &mut MonitorState, e: SimError, gate: usize, op: usize) {
        if st.failure.is_some() || st.cancelled {
            return self.fail(st, e);
        }
        match st.hold {
            Some((g, _)) if st.pending.is_some() => {
                if gate < g {
                    st.hold = Some((gate, op));
                }
            }
            _ => {
                st.pending = Some(e);
                st.hold = Some((gate, op));
            }
        }
        let g = st.gate.min(gate);
        self.set_gate(st, g);
        self.settle_failure(st);
    }

    /// Makes a pending party failure the run's once no party can move; true if it did.
    fn settle_failure(&self, st: &mut MonitorState) -> bool {
        if st.pending.is_none() || !(0..st.status.len()).all(|p| self.quiescent(st, p)) {
            return false;
        }
        let e = st.pending.take().expect("pending failure");
        self.fail(st, e);
        true
    }

    /// Marks the run as being torn down and wakes everyone.
    pub fn cancel(&self, st: &mut MonitorState) {
        st.cancelled = true;
        self.abort.store(true, SeqCst);
        self.wake_all();
    }

    /// Wakes every party wherever it waits: at the gate (the condvar), on a link or in a
    /// realtime sleep (its wake-up channel).
    fn wake_all(&self) {
        self.changed.notify_all();
        for w in &self.wakers {
            let _ = w.try_send(());
        }
    }

    /// Fails the run with a deadlock report if every party is quiescent and some party waits
    /// forever. Called on every move into a quiescent state (waiting on an empty link, pausing at
    /// the gate, finishing), so the last party to settle reports it — nobody polls.
    pub fn check_deadlock(&self, st: &mut MonitorState) -> bool {
        if st.pending.is_some() {
            return self.settle_failure(st);
        }
        if st.failure.is_some() || st.cancelled {
            return false;
        }
        let Some(waits) = self.deadlock(st) else {
            return false;
        };
        // The earliest op anyone is stuck in is where the run stopped.
        let first = st.current_op.iter().copied().min().unwrap_or(0);
        let op = self.op_labels.get(first).cloned().unwrap_or_default();
        self.fail(st, SimError::Deadlock { op, waits });
        true
    }

    /// Whether party `p` cannot move by itself: done, paused at the gate, or waiting on a link
    /// with nothing in flight.
    fn quiescent(&self, st: &MonitorState, p: PartyId) -> bool {
        match st.status[p] {
            PartyStatus::Finished | PartyStatus::Failed => true,
            PartyStatus::AtGate(k) => k >= st.gate,
            PartyStatus::Waiting(q) => self.in_flight(q, p) == 0,
            PartyStatus::Running => false,
        }
    }

    /// The chain of waits from `start` if it can never move: the parties on it and the party
    /// the last one waits for. A chain over links with nothing in flight that comes back on
    /// itself, or ends at a party that has finished (or failed), can never move, whatever the
    /// others do; one that ends at a gated party may still move.
    fn stuck_chain(&self, st: &MonitorState, start: PartyId) -> Option<(Vec<PartyId>, PartyId)> {
        let mut chain = vec![start];
        let mut at = start;
        loop {
            let PartyStatus::Waiting(q) = st.status[at] else {
                return None;
            };
            if self.in_flight(q, at) > 0 {
                return None;
            }
            let closes = chain.contains(&q);
            let ends = matches!(st.status[q], PartyStatus::Finished | PartyStatus::Failed);
            if closes || ends {
                return Some((chain, q));
            }
            chain.push(q);
            at = q;
        }
    }

    /// If some party waits forever, describes who waits for whom.
    ///
    /// Reported only once every party is quiescent, so the run always stops in the same state
    /// (each party as far as it can get) with the same words, whatever the threads' speeds: a
    /// deadlock found while a slow party is still catching up waits for it (the waiting parties
    /// re-check on every poll). The description follows the chain of the first stuck party in
    /// role order, then names the other stuck parties.
    pub fn deadlock(&self, st: &MonitorState) -> Option<String> {
        let n = self.parties.len();
        if !(0..n).all(|p| self.quiescent(st, p)) {
            return None;
        }
        let stuck: Vec<(PartyId, Vec<PartyId>, PartyId)> = (0..n)
            .filter_map(|p| self.stuck_chain(st, p).map(|(c, q)| (p, c, q)))
            .collect();
        let (_, chain, q) = stuck.first()?;
        let mut waits: Vec<String> = chain
            .windows(2)
            .map(|w| {
                format!(
                    "{} waits for {} (itself waiting)",
                    self.parties[w[0]], self.parties[w[1]]
                )
            })
            .collect();
        let last = match st.status[*q] {
            PartyStatus::Finished => " (finished)",
            PartyStatus::Failed => " (failed)",
            _ => " (itself waiting: a cycle)",
        };
        let at = *chain.last().expect("a chain starts with its party");
        waits.push(format!(
            "{} waits for {}{}",
            self.parties[at], self.parties[*q], last
        ));
        for (p, _, _) in &stuck {
            if let (false, PartyStatus::Waiting(r)) = (chain.contains(p), st.status[*p]) {
                waits.push(format!(
                    "{} waits for {}",
                    self.parties[*p], self.parties[r]
                ));
            }
        }
        Some(waits.join(", "))
    }
}

/// A fault one party injects at a protocol step or into one of its messages.
#[derive(Debug, Clone)]
pub(crate) struct PartyFault {
    /// Index in the scenario's `faults`.
    pub index: usize,
    /// The op it belongs to.
    pub op: usize,
    /// The step (start of its name) it fires at; `None`: the op's start.
    pub step: Option<String>,
    /// What it does.
    pub kind: crate::scenario::FaultKind,
    /// For message faults: the receiver (`None`: any).
    pub to: Option<PartyId>,
    /// A message fault waiting for its message.
    pub armed: bool,
    /// Encoded deviation δ (fixed point), for `Deviate`.
    pub delta: u64,
}

impl PartyFault {
    fn is_message_fault(&self) -> bool {
        self.kind.is_message_fault()
    }
}

/// What a message fault did to a payload (changed in place), for the trace.
fn apply_fault(f: &PartyFault, payload: &mut [u8], parts: &[protocols::context::Part]) -> String {
    use crate::scenario::FaultKind;
    use protocols::context::RingKind;
    match f.kind {
        FaultKind::Corrupt => {
            let Some(p) = parts.first().filter(|p| !p.is_empty()) else {
                return "corrupted (an empty message: nothing to change)".into();
            };
            match p.kind.width() {
                1 => {
                    let b = &mut payload[0];
                    *b = match p.kind {
                        RingKind::Zp => (*b + 1) % 67,
                        _ => *b ^ 1,
                    };
                }
                _ => {
                    let v = u64::from_le_bytes(payload[..8].try_into().expect("8 bytes"));
                    let v = match p.kind {
                        RingKind::Odd => {
                            use protocols::ring::{OddRing, Ring};
                            OddRing::from_u64(v).add(OddRing(1)).0
                        }
                        _ => v.wrapping_add(1),
                    };
                    payload[..8].copy_from_slice(&v.to_le_bytes());
                }
            }
            format!("corrupted: element 0 of {} plus one", p.kind.name())
        }
        FaultKind::Deviate(d) => {
            let mut off = 0;
            let mut changed = 0;
            for p in parts {
                if p.kind == RingKind::Z64 {
                    for c in payload[off..off + p.bytes()].chunks_exact_mut(8) {
                        let v = u64::from_le_bytes((&*c).try_into().expect("8 bytes"));
                        c.copy_from_slice(&v.wrapping_add(f.delta).to_le_bytes());
                        changed += 1;
                    }
                }
                off += p.bytes();
            }
            format!("deviated: δ = {d} added to {changed} Z_2^64 element(s)")
        }
        FaultKind::Drop => "dropped: never delivered".into(),
        FaultKind::Delay(us) => format!("delayed by {us} µs"),
        _ => String::new(),
    }
}

/// The simulator's [`Context`] for one party.
pub(crate) struct SimContext {
    pub me: PartyId,
    pub shared: Arc<Shared>,
    pub senders: Vec<Option<Sender<Envelope>>>,
    pub receivers: Vec<Option<Receiver<Envelope>>>,
    /// This party's wake-up channel (see [`Shared::wakers`]).
    pub wake: Receiver<()>,
    /// The scenario's faults that this party injects at a step or into a message.
    pub faults: Vec<PartyFault>,
    pub links: Vec<Option<LinkModel>>,
    pub rng: protocols::context::PartyRng,
    pub timing: Timing,
    pub mode: NetworkMode,
    pub max_values: usize,
    pub run_start: Instant,
    // Clocks and depth.
    pub clock_ns: u64,
    pub mark: Instant,
    pub depth: u32,
    pub offline_depth: u32,
    pub op_depth: u32,
    pub op: usize,
    pub step: Option<usize>,
    pub next_step: usize,
    pub current: PartyStep,
    /// The sub-protocols the party is in now (shared with the log's entries until it changes).
    pub path: Arc<CallPath>,
    /// Whether this party has sent or received a message in the current op. Until it has, a
    /// receive's wait up to the message's send time is idle (the party had nothing to do in the
    /// op yet), not the op's cost: it is left out of `wait_ns` and the step starts after it
    /// (docs/simulator.md, "Idle time").
    pub engaged: bool,
    /// What this party did so far, in order (see [`crate::dag::Act`]).
    pub acts: Vec<crate::dag::Act>,
    /// The step names used so far, each once ([`SimContext::step_name`]).
    pub known_step_names: protocols::fastmap::FastSet<Arc<str>>,
}

/// Pushes `x` onto `v`, growing an empty or full `v` to exactly twice its length (1 when empty)
/// instead of `Vec`'s minimum of 4 elements: a step's records are mostly one or two, and a long
/// trace keeps hundreds of thousands of them (issue 11: 840 B of unused capacity per step of a
/// Pond multiplication chain before).
fn push_exact<T>(v: &mut Vec<T>, x: T) {
    if v.len() == v.capacity() {
        v.reserve_exact(v.len().max(1));
    }
    v.push(x);
}

impl SimContext {
    /// The shared copy of step name `name` (made on its first use; a protocol has a few dozen).
    fn step_name(&mut self, name: &str) -> Arc<str> {
        if let Some(n) = self.known_step_names.get(name) {
            return n.clone();
        }
        let n: Arc<str> = name.into();
        self.known_step_names.insert(n.clone());
        n
    }

    /// Files a recorded value with the step's shares, opened values or dealt values.
    fn push_record(&mut self, class: ValueClass, rec: ValueRecord) {
        match class {
            ValueClass::Share => push_exact(&mut self.current.shares, rec),
            ValueClass::Opened => push_exact(&mut self.current.opened, rec),
            ValueClass::Dealt => push_exact(&mut self.current.dealt, rec),
        }
    }

    fn name(&self) -> &str {
        &self.shared.parties[self.me]
    }

    /// Current (op label, step name), for error messages.
    pub fn position(&self) -> (String, String) {
        let op = self
            .shared
            .op_labels
            .get(self.op)
            .cloned()
            .unwrap_or_else(|| "setup".into());
        let step = self
            .shared
            .log(self.me)
            .step_names
            .last()
            .filter(|(o, _)| *o == self.op)
            .map(|s| s.1.to_string())
            .unwrap_or_default();
        (op, step)
    }

    /// Adds measured compute time since the last mark (measured timing only).
    fn advance_compute(&mut self) {
        let now = Instant::now();
        if self.timing == Timing::Measured {
            let d = u64::try_from((now - self.mark).as_nanos()).unwrap_or(u64::MAX);
            self.computed(d);
        }
        self.mark = now;
    }

    /// Advances the clock by `d` ns of computing (and records it for the DAG schedule).
    fn computed(&mut self, d: u64) {
        self.clock_ns = self.clock_ns.saturating_add(d);
        self.current.compute_ns = self.current.compute_ns.saturating_add(d);
        match self.acts.last_mut() {
            Some(crate::dag::Act::Compute(c)) => *c = c.saturating_add(d),
            _ if d > 0 => self.acts.push(crate::dag::Act::Compute(d)),
            _ => {}
        }
    }

    /// Closes the step in progress, recording what the party did in it (also called when the
    /// party fails, so the trace shows the failing step as far as it got).
    pub(crate) fn close_step(&mut self) {
        self.advance_compute();
        // `take`: a step is closed once, so a second close (on failure) cannot overwrite it.
        if let Some(s) = self.step.take() {
            self.current.end_ns = self.clock_ns;
            self.current.wall_end_ns = self.run_start.elapsed().as_nanos() as u64;
            let rec = std::mem::take(&mut self.current);
            let mut log = self.shared.log(self.me);
            log.steps.set(s, rec);
        }
    }

    /// An error once the virtual clock has saturated at `u64::MAX` ns: times would be wrong from
    /// here on, so the run stops instead of reporting them.
    pub(crate) fn check_clock(&self) -> Result<()> {
        if self.clock_ns == u64::MAX {
            return Err(ProtocolError::Transport(CLOCK_OVERFLOW.into()));
        }
        Ok(())
    }

    /// Marks the start of op `op` (and arms the message faults set for its start).
    pub fn begin_op(&mut self, op: usize) {
        // Work before the op (setting up, encoding inputs) is recorded before it.
        self.advance_compute();
        self.acts.push(crate::dag::Act::Op(op));
        self.shared.lock().current_op[self.me] = op;
        self.op = op;
        self.op_depth = 0;
        self.engaged = false;
        for f in &mut self.faults {
            if f.op == op && f.step.is_none() && f.is_message_fault() {
                f.armed = true;
            }
        }
    }

    /// Fires the faults set for the step `name` that begins now.
    fn step_faults(&mut self, name: &str) -> Result<()> {
        use crate::scenario::FaultKind;
        let me = self.shared.parties[self.me].clone();
        for f in &mut self.faults {
            let at = f.op == self.op
                && f.step.as_deref().is_some_and(|p| name.starts_with(p))
                && !self.shared.faults_fired[f.index].load(SeqCst);
            if !at {
                continue;
            }
            if f.is_message_fault() {
                f.armed = true;
                continue;
            }
            self.shared.faults_fired[f.index].store(true, SeqCst);
            match f.kind {
                FaultKind::Panic => panic!("injected fault: {me} panics at step `{name}`"),
                _ => {
                    return Err(ProtocolError::Transport(format!(
                        "injected fault: {me} fails at step `{name}`"
                    )))
                }
            }
        }
        Ok(())
    }

    /// Hands the op's result as this party holds it to the run's per-op results.
    /// `live` is how many values the party holds after it (if its protocol counts them).
    pub fn end_op(&mut self, value: Held, live: Option<usize>) {
        self.log_ended(live);
        self.shared.results.report(self.op, self.me, value);
    }

    /// Hands the op's result over as `part` gives or lends it (`crate::results`); the party
    /// then logs the op ended ([`SimContext::log_ended`]).
    pub(crate) fn end_op_from(&mut self, part: &mut dyn crate::results::Handover) {
        self.shared.results.report_from(self.op, self.me, part);
    }

    /// Logs the op ended, `live` values held after it (if the protocol counts them).
    pub fn log_ended(&mut self, live: Option<usize>) {
        let mut log = self.shared.log(self.me);
        log.ops_ended = log.ops_ended.max(self.op + 1);
        if let Some(n) = live {
            log.live_values.resize(self.op, 0);
            log.live_values.push(n);
        }
    }

    /// Closes the last step and marks the party finished.
    pub fn finish(&mut self) {
        self.close_step();
        self.step = None;
        let mut log = self.shared.log(self.me);
        log.final_clock_ns = self.clock_ns;
        log.acts = std::mem::take(&mut self.acts);
        drop(log);
        let mut st = self.shared.lock();
        st.status[self.me] = PartyStatus::Finished;
        self.shared.changed.notify_all();
        self.shared.check_deadlock(&mut st);
    }

    fn aborted(st: &MonitorState) -> bool {
        st.failure.is_some() || st.cancelled
    }
}

impl Context for SimContext {
    fn me(&self) -> PartyId {
        self.me
    }

    fn send(&mut self, to: PartyId, label: &str, traffic: Traffic, msg: Message) -> Result<()> {
        self.advance_compute();
        self.check_clock()?;
        let (payload, parts) = msg.into_parts();
        let bytes = payload.len() as u64;
        let (round, op_round) = match traffic {
            Traffic::Online => (self.depth + 1, self.op_depth + 1),
            Traffic::Offline => (self.offline_depth + 1, 0),
        };
        let (mut payload, parts) = (payload, parts);
        // An armed message fault takes this message if it is for the fault's receiver.
        let mut fault = None;
        if let Some(f) = self
            .faults
            .iter_mut()
            .find(|f| f.armed && f.to.is_none_or(|t| t == to))
        {
            f.armed = false;
            self.shared.faults_fired[f.index].store(true, SeqCst);
            fault = Some((apply_fault(f, &mut payload, &parts), f.kind));
        }
        let link = self.links[to]
            .as_mut()
            .ok_or_else(|| ProtocolError::Transport(format!("no link to party {to}")))?;
        let mut delivery = link.schedule(self.clock_ns, bytes);
        match (fault.as_ref().map(|f| f.1), delivery) {
            (Some(crate::scenario::FaultKind::Drop), _) => delivery = Delivery::Held,
            (Some(crate::scenario::FaultKind::Delay(us)), Delivery::At(t)) => {
                delivery = Delivery::At(t.saturating_add(us.saturating_mul(1000)))
            }
            _ => {}
        }
        push_exact(
            &mut self.current.sent,
            MessageRecord {
                from: self.me,
                to,
                label: label.to_string(),
                bytes,
                traffic,
                send_ns: self.clock_ns,
                delivery_ns: match delivery {
                    Delivery::At(t) => t,
                    Delivery::Held => u64::MAX,
                },
                round,
                op_round,
                payload: ValueRecord::decode_payload(&payload, &parts, self.max_values),
                fault: fault.map(|f| f.0),
            },
        );
        self.acts.push(crate::dag::Act::Send);
        let Delivery::At(delivery_ns) = delivery else {
            return Ok(()); // held: recorded as sent, never delivered
        };
        let env = Envelope {
            payload,
            delivery_ns,
            traffic,
            round,
            op_round,
            op: self.op,
            send_ns: self.clock_ns,
        };
        self.engaged = true;
        if self.shared.abort.load(SeqCst) {
            return Err(ProtocolError::Transport("run aborted".into()));
        }
        // Counted before it is queued, so a deadlock check never misses a message in flight.
        self.shared.in_flight[self.me * self.shared.parties.len() + to].fetch_add(1, SeqCst);
        let sent = self.senders[to].as_ref().expect("link exists").send(env);
        if sent.is_err() && self.shared.lock().status[to] == PartyStatus::Failed {
            // The receiver failed and its thread has ended: the message goes nowhere, as it would
            // on a wire to a crashed peer. Not this party's failure (which would end the run
            // before the others had gone as far as they can without the failed party).
            self.shared.in_flight[self.me * self.shared.parties.len() + to].fetch_sub(1, SeqCst);
            return Ok(());
        }
        sent.map_err(|_| ProtocolError::Transport(format!("{} has gone", self.shared.parties[to])))
    }

    fn recv(&mut self, from: PartyId) -> Result<Vec<u8>> {
        self.advance_compute();
        let rx = self.receivers[from]
            .clone()
            .ok_or_else(|| ProtocolError::Transport(format!("no link from party {from}")))?;
        // Fast path: the message is there, or arrives while we yield the core a few times.
        let mut early = None;
        for _ in 0..16 {
            if let Ok(env) = rx.try_recv() {
                early = Some(env);
                break;
            }
            std::thread::yield_now();
        }
        let mut marked_waiting = false;
        // Once the sender has finished (or failed) and its link is empty, nothing can arrive:
        // only a wake-up (the run's failure — a deadlock report if everyone else settles too —
        // or its cancellation) ends the wait.
        let mut gone = false;
        let env = loop {
            if let Some(env) = early.take() {
                break env;
            }
            match rx.try_recv() {
                Ok(env) => break env,
                Err(_) => {
                    marked_waiting = true;
                    let mut st = self.shared.lock();
                    if Self::aborted(&st) {
                        return Err(ProtocolError::Transport("run aborted".into()));
                    }
                    if st.status[self.me] != PartyStatus::Waiting(from) {
                        st.status[self.me] = PartyStatus::Waiting(from);
                        self.shared.changed.notify_all();
                    }
                    if self.shared.in_flight(from, self.me) == 0
                        && self.shared.check_deadlock(&mut st)
                    {
                        return Err(ProtocolError::Transport("deadlock".into()));
                    }
                }
            }
            if gone {
                let _ = self.wake.recv();
                continue;
            }
            crossbeam_channel::select! {
                recv(rx) -> msg => match msg {
                    Ok(env) => break env,
                    Err(_) => gone = true,
                },
                recv(self.wake) -> _ => continue,
            }
        };
        // Running again *before* the message stops counting as in flight: otherwise a deadlock
        // check in between sees this party waiting on an empty link although it has its
        // message, and reports a deadlock that is not there.
        if marked_waiting {
            self.shared.lock().status[self.me] = PartyStatus::Running;
        }
        self.shared.in_flight[from * self.shared.parties.len() + self.me].fetch_sub(1, SeqCst);
        if env.op != self.op {
            return Err(ProtocolError::Transport(format!(
                "{} received a message from {} sent in op `{}` while in op `{}` (protocol bug)",
                self.name(),
                self.shared.parties[from],
                self.shared.op_labels[env.op],
                self.shared.op_labels[self.op]
            )));
        }
        if self.mode == NetworkMode::Realtime {
            // Sleep until the delivery time, unless the run fails or is cancelled first (a
            // failure fills the wake-up channel). A time past the Instant range sleeps until then.
            let due = self
                .run_start
                .checked_add(Duration::from_nanos(env.delivery_ns));
            let left = due.map_or(Duration::MAX, |d| {
                d.saturating_duration_since(Instant::now())
            });
            if !left.is_zero() && self.wake.recv_timeout(left).is_ok() {
                return Err(ProtocolError::Transport("run aborted".into()));
            }
        }
        if !self.engaged && env.send_ns > self.clock_ns {
            // Idle until the first message of the op was even sent: the step starts there (its
            // computing so far is taken as done just before), so a receiver with nothing to do
            // in the earlier ops is not charged their time.
            let idle = env.send_ns - self.clock_ns;
            self.current.start_ns = self.current.start_ns.saturating_add(idle);
            self.clock_ns = env.send_ns;
        }
        self.engaged = true;
        if env.delivery_ns > self.clock_ns {
            self.current.wait_ns = self
                .current
                .wait_ns
                .saturating_add(env.delivery_ns - self.clock_ns);
            self.clock_ns = env.delivery_ns;
        }
        match env.traffic {
            Traffic::Online => {
                self.depth = self.depth.max(env.round);
                self.op_depth = self.op_depth.max(env.op_round);
            }
            Traffic::Offline => self.offline_depth = self.offline_depth.max(env.round),
        }
        self.acts.push(crate::dag::Act::Recv(from));
        self.mark = Instant::now();
        self.check_clock()?;
        Ok(env.payload)
    }

    fn rng(&mut self) -> &mut protocols::context::PartyRng {
        &mut self.rng
    }

    fn step(&mut self, name: &str) -> Result<()> {
        self.close_step();
        self.check_clock()?;
        let s = self.next_step;
        self.next_step += 1;
        if self.shared.abort.load(SeqCst) {
            return Err(ProtocolError::Transport("run aborted".into()));
        }
        // Fast path: the gate is open past this step; no lock.
        if s >= self.shared.gate.load(SeqCst) {
            let mut st = self.shared.lock();
            if st.gate <= s && !Self::aborted(&st) {
                // Say so once (the controller waits for everyone to pause, and a party waiting on
                // this one may now be stuck for good), then sleep until the gate moves: a paused
                // run costs no CPU.
                st.status[self.me] = PartyStatus::AtGate(s);
                self.shared.changed.notify_all();
                self.shared.check_deadlock(&mut st);
            }
            while st.gate <= s && !Self::aborted(&st) {
                st = self
                    .shared
                    .changed
                    .wait(st)
                    .unwrap_or_else(|e| e.into_inner());
            }
            if Self::aborted(&st) {
                return Err(ProtocolError::Transport("run aborted".into()));
            }
            st.status[self.me] = PartyStatus::Running;
        }
        {
            let name = self.step_name(name);
            let mut log = self.shared.log(self.me);
            log.step_names.push((self.op, name));
            log.step_paths.push(self.path.clone());
        }
        self.mark = Instant::now();
        self.step = Some(s);
        self.current = PartyStep {
            start_ns: self.clock_ns,
            end_ns: self.clock_ns,
            ..PartyStep::default()
        };
        if !self.faults.is_empty() {
            self.step_faults(name)?;
        }
        Ok(())
    }

    fn record(&mut self, class: ValueClass, label: &str, kind: RingKind, value: &Tensor<u64>) {
        let rec = ValueRecord::new(label, kind, value, self.max_values);
        self.push_record(class, rec);
    }

    fn record_with(
        &mut self,
        class: ValueClass,
        label: &str,
        kind: RingKind,
        shape: &[usize],
        fill: &mut dyn FnMut(&mut [u64]),
    ) {
        // Only the elements the record keeps are computed.
        let kept = protocols::tensor::numel(shape).min(self.max_values);
        let mut values = vec![0u64; kept];
        values
            .chunks_mut(protocols::tensor::PIECE)
            .for_each(&mut *fill);
        let rec = ValueRecord::from_prefix(label, kind, shape, values, self.max_values);
        self.push_record(class, rec);
    }

    fn record_zp(&mut self, class: ValueClass, label: &str, value: &Tensor<protocols::ring::Zp>) {
        let rec = ValueRecord::new_zp(label, value, self.max_values);
        self.push_record(class, rec);
    }

    fn record_wide(&mut self, class: ValueClass, label: &str, value: &Tensor<u128>) {
        let rec = ValueRecord::new_wide(label, value, self.max_values);
        self.push_record(class, rec);
    }

    fn enter(&mut self, name: &str) {
        let path = Arc::make_mut(&mut self.path);
        path.names.push(name.to_string());
        path.starts.push(self.next_step);
    }

    fn leave(&mut self) {
        let path = Arc::make_mut(&mut self.path);
        path.names.pop();
        path.starts.pop();
    }

    fn charge(&mut self, ring_ops: u64) {
        if let Timing::Model { ns_per_ring_op } = self.timing {
            // `as` saturates: a product beyond u64 is u64::MAX, never a wrap.
            let d = (ring_ops as f64 * ns_per_ring_op).round() as u64;
            self.computed(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The monitor of a three-party run, everyone running, no gate.
    fn shared() -> Shared {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios/fault-server-panics.ron");
        let plan = Arc::new(crate::scenario::load(&path).expect("shipped scenario loads"));
        let n = plan.parties.len();
        Shared {
            gate: usize::MAX.into(),
            abort: false.into(),
            in_flight: (0..n * n).map(|_| 0.into()).collect(),
            parties: plan.parties.clone(),
            op_labels: plan
                .ops
                .iter()
                .map(crate::scenario::PlannedOp::label)
                .collect(),
            monitor: Mutex::new(MonitorState {
                status: vec![PartyStatus::Running; n],
                gate: usize::MAX,
                failure: None,
                cancelled: false,
                current_op: vec![0; n],
                pending: None,
                hold: None,
            }),
            changed: Default::default(),
            logs: (0..n).map(|_| Mutex::new(PartyLog::default())).collect(),
            results: crate::results::OpResults::new(plan.clone(), n),
            faults_fired: Vec::new(),
            wakers: (0..n).map(|_| crossbeam_channel::bounded(1).0).collect(),
        }
    }

    fn failed(party: &str) -> SimError {
        SimError::PartyFailed {
            party: party.into(),
            op: "h".into(),
            step: "s".into(),
            message: "boom".into(),
        }
    }

    /// The flake of `a_failed_run_stops_in_the_same_state_every_time` (1 run in ~300): server1
    /// failed at the start of `h`; the producer, already in `h`, failed too (its message to
    /// server1 could not be queued) and that second failure ended the run at once, while
    /// server0 was still finishing `g` — so `g` sometimes did not count as completed. A second
    /// failure now settles like the first: the run fails (with the first error) only once every
    /// party has stopped.
    #[test]
    fn a_second_failure_waits_for_the_others_to_settle() {
        let sh = shared();
        let seat = |name: &str| sh.parties.iter().position(|p| p == name).expect("a party");
        let mut st = sh.lock();
        // server1 fails in op 3, whose first step is 10; the others are running.
        st.status[seat("server1")] = PartyStatus::Failed;
        sh.fail_party(&mut st, failed("server1"), 10, 3);
        assert!(st.failure.is_none(), "the others are still running");
        assert_eq!(st.gate, 10);
        // The producer fails in step 10 (a consequence); server0 is still in op 2.
        st.status[seat("producer")] = PartyStatus::Failed;
        sh.fail_party(&mut st, failed("producer"), 11, 3);
        assert!(st.failure.is_none(), "server0 has not settled yet");
        assert!(!sh.abort.load(SeqCst));
        assert_eq!(st.hold, Some((10, 3)));
        // Everyone else settles: at the gate.
        for p in 0..st.status.len() {
            if st.status[p] == PartyStatus::Running {
                st.status[p] = PartyStatus::AtGate(10);
            }
        }
        assert!(sh.check_deadlock(&mut st));
        let e = st.failure.as_ref().expect("the run has failed").to_string();
        assert!(e.contains("server1"), "the first failure is the run's: {e}");
    }

    /// A second failure in an earlier step than the first lowers the hold: nobody goes past
    /// what either failed party reached.
    #[test]
    fn an_earlier_second_failure_lowers_the_hold() {
        let sh = shared();
        let seat = |name: &str| sh.parties.iter().position(|p| p == name).expect("a party");
        let mut st = sh.lock();
        st.status[seat("server1")] = PartyStatus::Failed;
        sh.fail_party(&mut st, failed("server1"), 10, 3);
        st.status[seat("producer")] = PartyStatus::Failed;
        sh.fail_party(&mut st, failed("producer"), 7, 2);
        assert_eq!((st.hold, st.gate), (Some((7, 2)), 7));
    }
}
