//! The program's DAG schedule: critical-path rounds and a DAG-aware predicted time, computed
//! after a run from what it recorded (docs/simulator.md, "The DAG schedule").
//!
//! The simulator runs ops strictly in program order (every party walks the same step sequence),
//! so independent ops never share rounds. A graph runtime (tf-encrypted's TensorFlow graph) runs
//! an op as soon as its inputs are ready. This module replays the run's recorded actions — each
//! party's computing, sends and receives, op by op — with each op starting on a party when that
//! party has finished the ops it depends on, under the same link model (transmission queues on
//! each link, then latency; the recorded latency, jitter and delay of every message are kept).
//! Causal rounds follow the run's rule (1 + the highest round the sender had received), with a
//! party's depth at an op's start taken from the ops it depends on instead of every earlier op.
//! Replayed in program order (each op depending on the one before) it reproduces the run exactly.

use crate::network::LinkModel;
use crate::scenario::{Plan, PlannedOp};
use crate::trace::Trace;
use protocols::context::Traffic;
use protocols::fastmap::{FastMap, FastSet};
use protocols::protocol::Operand;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// One thing a party did, in its order (recorded by `SimContext`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Act {
    /// The party entered op `k`.
    Op(usize),
    /// Computed for this long (virtual ns).
    Compute(u64),
    /// Sent its next recorded message (the trace holds it).
    Send,
    /// Received the next message from this party.
    Recv(usize),
}

/// The figures of one schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Schedule {
    /// Online rounds: the causal depth.
    pub rounds: u32,
    /// Virtual makespan, ns.
    pub virtual_time_ns: u64,
}

/// What op `k` waits for: the ops that make its operands, and the hidden protocol state it
/// relies on — the first op that named the same state in its cost (`OpCost::state`: the op that
/// first masked an operand it multiplies, Pond's mask reuse; the first exact SecureNN op, which
/// sets up the keys the later ones use). Indices into `plan.ops`, all < k.
pub fn dependencies(plan: &Plan) -> Vec<Vec<usize>> {
    let mut made: FastMap<&str, usize> = FastMap::default();
    let mut first: FastMap<String, usize> = FastMap::default();
    let mut model = plan.protocol().cost_model(&plan.settings());
    let mut deps = Vec::with_capacity(plan.ops.len());
    for (k, op) in plan.ops.iter().enumerate() {
        let mut d: Vec<usize> = Vec::new();
        let state = match op {
            PlannedOp::Input { name, .. } => {
                made.insert(name, k);
                model.input(name, &plan.shapes[name]).state
            }
            PlannedOp::Output { name, .. } => {
                d.extend(made.get(name.as_str()));
                let public = plan.public.get(name).copied().unwrap_or(false);
                model.output(name, public, &plan.shapes[name]).state
            }
            PlannedOp::Compute { name, op } => {
                let operands = op.operands();
                d.extend(operands.iter().filter_map(|n| made.get(n).copied()));
                let described: Vec<Operand> = operands
                    .iter()
                    .map(|o| Operand {
                        name: o,
                        shape: plan.shapes.get(*o).map_or(&[], Vec::as_slice),
                        public: plan.public.get(*o).copied().unwrap_or(false),
                    })
                    .collect();
                let shape = plan.shapes.get(name).map_or(&[][..], Vec::as_slice);
                let state = model
                    .op(name, op, &described, shape)
                    .map(|c| c.state)
                    .unwrap_or_default();
                made.insert(name, k);
                state
            }
        };
        for s in state {
            match first.get(&s) {
                Some(&f) => d.push(f),
                None => {
                    first.insert(s, k);
                }
            }
        }
        d.sort_unstable();
        d.dedup();
        d.retain(|&x| x != k);
        deps.push(d);
    }
    deps
}

/// Strict program order: every op depends on the one before.
pub fn program_order(ops: usize) -> Vec<Vec<usize>> {
    (0..ops)
        .map(|k| k.checked_sub(1).into_iter().collect())
        .collect()
}

/// One recorded message, for the replay.
struct Msg {
    from: usize,
    to: usize,
    op: usize,
    bytes: u64,
    online: bool,
    /// Delivery minus the end of its transmission in the run: latency, jitter, injected delay.
    after_tx: u64,
}

/// A party's actions in one op.
#[derive(Default)]
struct Task {
    items: Vec<Item>,
    pc: usize,
    t: u64,
    depth: u32,
    offline_depth: u32,
    waiting: usize,
    done: bool,
}

#[derive(Clone, Copy)]
enum Item {
    Compute(u64),
    Send(usize),
    Recv(usize),
}

/// A delivered message waiting for its receiver: (delivery, round, online).
type Arrival = (u64, u32, bool);

/// Replays the run's actions (`acts[p]` for party `p`, the messages from `trace`) with op `k`
/// starting on each party once it has finished `deps[k]`. `None` if the record does not replay
/// (a message never delivered, as on a held link — such a run does not finish anyway).
pub(crate) fn replay(
    plan: &Plan,
    trace: &Trace,
    acts: &[Vec<Act>],
    deps: &[Vec<usize>],
) -> Option<Schedule> {
    let (n, ops) = (trace.parties.len(), plan.ops.len());
    // The messages in each sender's order, and the part of each delivery after transmission.
    let mut msgs: Vec<Msg> = Vec::new();
    let mut sent_by: Vec<VecDeque<usize>> = vec![VecDeque::new(); n];
    let mut free = vec![vec![0u64; n]; n];
    let models: Vec<Vec<LinkModel>> = (0..n)
        .map(|a| {
            (0..n)
                .map(|b| LinkModel::new(plan.links[a][b], 0, a, b))
                .collect()
        })
        .collect();
    for s in &trace.steps {
        for (p, ps) in s.parties.iter().enumerate() {
            for m in &ps.sent {
                sent_by[p].push_back(msgs.len());
                let start = m.send_ns.max(free[m.from][m.to]);
                let done = start.saturating_add(models[m.from][m.to].transmission_ns(m.bytes));
                free[m.from][m.to] = done;
                if m.delivery_ns == u64::MAX {
                    return None;
                }
                msgs.push(Msg {
                    from: m.from,
                    to: m.to,
                    op: s.op,
                    bytes: m.bytes,
                    online: m.traffic == Traffic::Online,
                    after_tx: m.delivery_ns.saturating_sub(done),
                });
            }
        }
    }
    // A party's messages within a step are in its order, and its steps are in order, so
    // `sent_by[p]` is its send order; links are FIFO, so each link's messages follow it.
    // Each party's actions, op by op; what it did before its first op delays all its ops.
    let mut tasks: Vec<Vec<Task>> = (0..n)
        .map(|_| (0..ops).map(|_| Task::default()).collect())
        .collect();
    let mut setup = vec![0u64; n];
    for (p, list) in acts.iter().enumerate().take(n) {
        let mut op: Option<usize> = None;
        for a in list {
            match (*a, op) {
                (Act::Op(k), _) if k < ops => op = Some(k),
                (Act::Compute(d), None) => setup[p] = setup[p].saturating_add(d),
                (Act::Compute(d), Some(k)) => tasks[p][k].items.push(Item::Compute(d)),
                (Act::Send, Some(k)) => {
                    let id = sent_by[p].pop_front()?;
                    if msgs[id].op != k {
                        return None;
                    }
                    tasks[p][k].items.push(Item::Send(id));
                }
                (Act::Recv(q), Some(k)) if q < n => tasks[p][k].items.push(Item::Recv(q)),
                _ => return None,
            }
        }
    }
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); ops];
    for (k, d) in deps.iter().enumerate() {
        for &x in d {
            dependents[x].push(k);
        }
    }
    let mut heap: BinaryHeap<Reverse<(u64, usize, usize)>> = BinaryHeap::new();
    for (p, row) in tasks.iter_mut().enumerate() {
        for (k, task) in row.iter_mut().enumerate() {
            task.waiting = deps[k].len();
            if task.waiting == 0 {
                task.t = setup[p];
                heap.push(Reverse((task.t, p, k)));
            }
        }
    }
    // Per (from, to, op): messages delivered and not yet received; a receiver blocked on one.
    let mut arrived: FastMap<(usize, usize, usize), VecDeque<Arrival>> = FastMap::default();
    let mut blocked: FastSet<(usize, usize, usize)> = FastSet::default();
    let mut free = vec![vec![0u64; n]; n];
    let mut out = Schedule::default();
    let receive = |task: &mut Task, (delivery, round, online): Arrival| {
        task.t = task.t.max(delivery);
        match online {
            true => task.depth = task.depth.max(round),
            false => task.offline_depth = task.offline_depth.max(round),
        }
        task.pc += 1;
    };
    // One action per pop, so every link's sends are scheduled in time order.
    while let Some(Reverse((_, p, k))) = heap.pop() {
        let task = &mut tasks[p][k];
        match task.items.get(task.pc).copied() {
            None => {
                task.done = true;
                let (t, depth, od) = (task.t, task.depth, task.offline_depth);
                out.virtual_time_ns = out.virtual_time_ns.max(t);
                for &k2 in &dependents[k] {
                    let next = &mut tasks[p][k2];
                    next.t = next.t.max(t).max(setup[p]);
                    next.depth = next.depth.max(depth);
                    next.offline_depth = next.offline_depth.max(od);
                    next.waiting -= 1;
                    if next.waiting == 0 {
                        heap.push(Reverse((next.t, p, k2)));
                    }
                }
            }
            Some(Item::Compute(d)) => {
                task.t = task.t.saturating_add(d);
                task.pc += 1;
                heap.push(Reverse((task.t, p, k)));
            }
            Some(Item::Send(id)) => {
                let m = &msgs[id];
                let start = task.t.max(free[m.from][m.to]);
                let done = start.saturating_add(models[m.from][m.to].transmission_ns(m.bytes));
                free[m.from][m.to] = done;
                let round = match m.online {
                    true => task.depth + 1,
                    false => task.offline_depth + 1,
                };
                if m.online {
                    out.rounds = out.rounds.max(round);
                }
                let arrival = (done.saturating_add(m.after_tx), round, m.online);
                task.pc += 1;
                heap.push(Reverse((task.t, p, k)));
                let key = (m.from, m.to, m.op);
                if blocked.remove(&key) {
                    let r = &mut tasks[m.to][m.op];
                    receive(r, arrival);
                    heap.push(Reverse((r.t, m.to, m.op)));
                } else {
                    arrived.entry(key).or_default().push_back(arrival);
                }
            }
            Some(Item::Recv(q)) => match arrived.get_mut(&(q, p, k)).and_then(|a| a.pop_front()) {
                Some(arrival) => {
                    receive(task, arrival);
                    heap.push(Reverse((task.t, p, k)));
                }
                None => {
                    blocked.insert((q, p, k));
                }
            },
        }
    }
    let all_done = tasks.iter().flatten().all(|t| t.done);
    all_done.then(|| Schedule {
        virtual_time_ns: out
            .virtual_time_ns
            .max(setup.iter().copied().max().unwrap_or(0)),
        ..out
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{load_source, Source};

    fn plan(text: &str) -> Plan {
        let src = Source {
            name: "t.ron".into(),
            dir: ".".into(),
            text: text.into(),
        };
        load_source(&src).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Replayed in program order, the record reproduces the run's rounds and time exactly —
    /// under bandwidth queueing, jitter and measured timing too.
    #[test]
    fn program_order_replays_the_run_exactly() {
        for (network, timing) in [
            (
                "(default: (latency_us: 100, bandwidth_bps: 1_000_000))",
                "Model(ns_per_ring_op: 3.0)",
            ),
            (
                "(default: (latency_us: 50, jitter_us: 40, bandwidth_bps: 10_000_000))",
                "Measured",
            ),
        ] {
            let p = plan(&format!(
                r#"Scenario(
    name: "replay",
    fixed_point: (frac_bits: 16, int_bits: 11, weak_security: true),
    truncation: Dealer,
    roles: (input_providers: ["alice", "bob"], output_receivers: ["carol", "dave"]),
    network: {network},
    timing: {timing},
    seed: 5,
    inputs: [
        (name: "x", owner: "alice", shape: [3, 4], data: Random(Uniform(-1.0, 1.0))),
        (name: "w", owner: "bob", shape: [4, 2], data: Random(Normal(0.0, 0.5))),
    ],
    program: [
        (name: "h", op: MatMul("x", "w")),
        (name: "s", op: Square("x")),
        (name: "y", op: Sigmoid("h")),
    ],
    outputs: [(name: "y", to: "carol"), (name: "s", to: "dave")],
)"#
            ));
            let sim = crate::Simulation::start(&p, usize::MAX).unwrap();
            let (r, acts) = sim.finish_recording().unwrap();
            let seq = replay(&p, &r.trace, &acts, &program_order(p.ops.len())).unwrap();
            assert_eq!(seq.rounds, r.totals.rounds, "{timing}");
            assert_eq!(seq.virtual_time_ns, r.totals.virtual_time_ns, "{timing}");
            assert!(r.totals.critical_path_rounds <= r.totals.rounds);
        }
    }

    #[test]
    fn dependencies_follow_operands_and_mask_reuse() {
        let p = plan(
            r#"Scenario(
    name: "deps",
    seed: 1,
    fixed_point: (frac_bits: 16, int_bits: 11, weak_security: true),
    roles: (input_providers: ["alice"], output_receivers: ["carol"]),
    inputs: [
        (name: "x", owner: "alice", shape: [4], data: Values([1.0, 2.0, 3.0, 4.0])),
        (name: "c", owner: "public", shape: [1], data: Values([0.5])),
    ],
    program: [
        (name: "a", op: Square("x")),
        (name: "b", op: Mul("x", "c")),
        (name: "d", op: Mul("x", "a")),
    ],
    outputs: [(name: "d", to: "carol")],
)"#,
        );
        // input x, a, b, d, output d: b reads x and a public c (no mask); d multiplies x, whose
        // mask `a` opened, so it waits for `a` twice over.
        assert_eq!(
            dependencies(&p),
            vec![vec![], vec![0], vec![0], vec![0, 1], vec![3]]
        );
    }
}
