//! The cost of a plan before running it (`sharescope check`): every op's online and offline
//! bytes, messages and rounds from the protocol's documented formulas (its
//! [`CostModel`](protocols::protocol::CostModel)), and the run's totals, without executing
//! anything.
//!
//! The walk follows the plan in program order with one fresh cost model, which keeps the
//! protocol state that costs depend on (Pond's mask cache, whether SecureNN's keys are set up).
//! The totals follow the simulator's round rule (`party.rs`, ARCHITECTURE.md invariant 3) over
//! the whole run: a message's round is 1 + the highest round its sender had received, online
//! and offline apart. The walk keeps every party's online depth:
//!
//! - an input leaves its owner at the owner's depth + 1 for the seats the model names
//!   (`OpCost::from_outside`; owners receive nothing before their inputs, so every input is at
//!   round 1, in parallel);
//! - a program op moves the depths of the protocol's seats (`plan.seats`) by its
//!   [`Flow`](protocols::cost::Flow): the pattern of who sends to whom, in the order each party
//!   sends and receives. The seats need not end an op at one depth, so the next op's rounds
//!   start from each seat's own depth;
//! - an output reaches its receiver at the deepest of the seats that send to it
//!   (`OpCost::to_outside`) + 1.
//!
//! The run's rounds are the largest of these. Offline, dealers receive nothing, so their
//! messages have depth 1; an op with an offline setup (`OpCost::offline_setup`: SecureNN's key
//! setup, in which server0 sends too) adds one offline round after anything dealt before it.
//!
//! The critical path (`Estimate::critical_path_rounds`) is the same walk with each op starting
//! from the parties' depths after the ops it depends on (`crate::dag::dependencies`) instead of
//! after every earlier op: a causal depth like the run's DAG schedule, not a sum of op rounds.
//!
//! `sim/tests/estimate.rs` runs every shipped scenario and asserts the estimate equals the run's
//! accounting exactly, per op and in total.

use crate::scenario::{Plan, PlannedOp};
use crate::units;
use protocols::cost::Cost;
use protocols::protocol::Operand;
use serde::Serialize;
use serde_json::json;
use std::fmt::Write;

/// The estimate of one op of the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpEstimate {
    /// Index in the op sequence (the trace's op index).
    pub index: usize,
    /// Name as the trace shows it (`input x`, statement name, `output y`).
    pub name: String,
    /// Kind (`input`, `mul`, …, `output`).
    pub kind: String,
    /// The op's accounting, or why the formulas cannot cost it.
    pub cost: Result<Cost, String>,
    /// Whether the op has an offline setup of its own (SecureNN's keys; its cost includes it).
    pub key_setup: bool,
}

/// The estimated totals of a run: the figures of [`crate::Totals`] that do not depend on time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct EstimatedTotals {
    /// Online bytes.
    pub bytes: u64,
    /// Offline (dealer) bytes.
    pub offline_bytes: u64,
    /// Online messages.
    pub messages: u64,
    /// Offline messages.
    pub offline_messages: u64,
    /// Online rounds: the causal depth of the whole run (not the sum of the ops' rounds).
    pub rounds: u32,
    /// Offline rounds.
    pub offline_rounds: u32,
}

/// The estimate of a whole plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// Every op, in program order.
    pub ops: Vec<OpEstimate>,
    /// The totals; `None` when some op could not be costed (see its `cost`).
    pub totals: Option<EstimatedTotals>,
    /// The causal depth over the program's DAG (`crate::dag::dependencies`: data, plus the op
    /// that first masked a reused operand and the op that set up the keys): every op moves the
    /// parties' depths by its flow, starting from the depths the ops it depends on left. The
    /// rounds a runtime that overlaps independent ops (tf-encrypted's graph) would need, against
    /// the strictly sequential `totals.rounds`; the run's `critical_path_rounds` exactly. Not a
    /// sum of op rounds: consecutive ops overlap when a seat that waits last in one sends first
    /// in the next (two chained ABY3 Π_trunc1 products: 3 rounds, not 2 + 2). `None` when some
    /// op could not be costed.
    pub critical_path_rounds: Option<u32>,
}

impl Estimate {
    /// The sum of the ops' own rounds (what a run would take if no two ops' messages overlapped:
    /// more than the run's causal depth, since inputs go out in parallel and so do outputs).
    pub fn sum_of_op_rounds(&self) -> u32 {
        self.ops
            .iter()
            .filter_map(|o| o.cost.as_ref().ok())
            .map(|c| c.rounds)
            .sum()
    }

    /// The table `sharescope check` prints: one row per op (exact bytes), then the totals.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "cost estimate (the formulas of docs/costs.md and docs/securenn.md; nothing is run)"
        );
        let kw = units::column_width(11, self.ops.iter().map(|o| o.kind.as_str()));
        let _ = writeln!(
            s,
            "{:<24} {:<kw$} {:>12} {:>12} {:>7} {:>8} {:>6}",
            "op", "kind", "online B", "offline B", "msgs on", "msgs off", "rounds"
        );
        for op in &self.ops {
            let name = units::fit(&op.name, 24);
            match &op.cost {
                Ok(c) => {
                    let _ = writeln!(
                        s,
                        "{:<24} {:<kw$} {:>12} {:>12} {:>7} {:>8} {:>6}{}",
                        name,
                        op.kind,
                        c.bytes,
                        c.offline_bytes,
                        c.messages,
                        c.offline_messages,
                        c.rounds,
                        if op.key_setup {
                            "  (incl. key setup)"
                        } else {
                            ""
                        }
                    );
                }
                Err(why) => {
                    let _ = writeln!(s, "{name:<24} {:<kw$} NOT COSTED: {why}", op.kind);
                }
            }
        }
        match &self.totals {
            Some(t) => {
                let _ = writeln!(
                    s,
                    "{:<24} {:<kw$} {:>12} {:>12} {:>7} {:>8} {:>6}",
                    "total", "", t.bytes, t.offline_bytes, t.messages, t.offline_messages, t.rounds
                );
                let _ = writeln!(
                    s,
                    "total: {} online ({} msgs), {} offline ({} msgs), {} rounds online \
                     (the run's causal depth; the ops' own rounds sum to {}), {} offline",
                    units::bytes(t.bytes),
                    t.messages,
                    units::bytes(t.offline_bytes),
                    t.offline_messages,
                    t.rounds,
                    self.sum_of_op_rounds(),
                    t.offline_rounds
                );
                if let Some(c) = self.critical_path_rounds {
                    let _ = writeln!(
                        s,
                        "critical path over the program's data dependencies: {c} rounds (if \
                         independent ops overlapped; ops run in program order here)"
                    );
                }
            }
            None => {
                let _ = writeln!(
                    s,
                    "total: not estimated — {} op(s) above could not be costed",
                    self.uncosted().count()
                );
            }
        }
        s
    }

    /// The estimate as JSON: `ops` (name, kind and the cost figures, or `error`) and `totals`
    /// (`null` when some op could not be costed).
    pub fn json(&self) -> serde_json::Value {
        let ops: Vec<serde_json::Value> = self
            .ops
            .iter()
            .map(|o| match &o.cost {
                Ok(c) => json!({
                    "name": o.name,
                    "kind": o.kind,
                    "bytes": c.bytes,
                    "offline_bytes": c.offline_bytes,
                    "messages": c.messages,
                    "offline_messages": c.offline_messages,
                    "rounds": c.rounds,
                    "key_setup": o.key_setup,
                }),
                Err(why) => json!({ "name": o.name, "kind": o.kind, "error": why }),
            })
            .collect();
        json!({
            "ops": ops,
            "totals": self.totals,
            "sum_of_op_rounds": self.sum_of_op_rounds(),
            "critical_path_rounds": self.critical_path_rounds,
        })
    }

    /// The ops the formulas could not cost, with the reason.
    pub fn uncosted(&self) -> impl Iterator<Item = (&OpEstimate, &str)> {
        self.ops
            .iter()
            .filter_map(|o| o.cost.as_ref().err().map(|e| (o, e.as_str())))
    }
}

/// Estimates the cost of running `plan` (faults are not modelled: the estimate is that of the
/// protocol as specified).
pub fn estimate(plan: &Plan) -> Estimate {
    let seats = &plan.seats;
    let mut model = plan.protocol().cost_model(&plan.settings());
    // Online depth of every party; whether anything was dealt offline before.
    let mut depth = vec![0u32; plan.parties.len()];
    let mut dealt = false;
    let mut totals = EstimatedTotals::default();
    let mut complete = true;
    let mut ops = Vec::with_capacity(plan.ops.len());
    // Critical path: the round at which each op is done when ops overlap as far as the
    // program's DAG allows (the one definition the run's DAG schedule uses, `crate::dag`).
    // Each op moves the parties' depths as in program order, but from the depths the ops it
    // depends on left (`after[k]`, every party), not those of every earlier op.
    let deps = crate::dag::dependencies(plan);
    let mut after: Vec<Vec<u32>> = Vec::with_capacity(plan.ops.len());
    let mut critical = 0u32;
    for (index, op) in plan.ops.iter().enumerate() {
        let mut key_setup = false;
        let mut start = vec![0u32; plan.parties.len()];
        for &d in &deps[index] {
            for (s, &a) in start.iter_mut().zip(&after[d]) {
                *s = (*s).max(a);
            }
        }
        let cost = match op {
            PlannedOp::Input { name, owner } => {
                let c = model.input(name, &plan.shapes[name]);
                let share = |depth: &mut [u32]| {
                    let r = depth[*owner] + 1;
                    for &k in &c.from_outside {
                        let s = seats[k];
                        depth[s] = depth[s].max(r);
                    }
                    r
                };
                totals.rounds = totals.rounds.max(share(&mut depth));
                critical = critical.max(share(&mut start));
                Ok(c.cost)
            }
            PlannedOp::Output { name, to } => {
                let public = plan.public[name];
                let c = model.output(name, public, &plan.shapes[name]);
                let reveal = |depth: &mut [u32]| {
                    let r = c
                        .to_outside
                        .iter()
                        .map(|&k| depth[seats[k]])
                        .max()
                        .unwrap_or(0)
                        + 1;
                    depth[*to] = depth[*to].max(r);
                    r
                };
                totals.rounds = totals.rounds.max(reveal(&mut depth));
                critical = critical.max(reveal(&mut start));
                Ok(c.cost)
            }
            PlannedOp::Compute { name, op } => {
                let operands: Vec<Operand> = op
                    .operands()
                    .into_iter()
                    .map(|o| Operand {
                        name: o,
                        shape: &plan.shapes[o],
                        public: plan.public[o],
                    })
                    .collect();
                match model.op(name, op, &operands, &plan.shapes[name]) {
                    Ok(c) => {
                        key_setup = c.offline_setup;
                        let flow = |depth: &mut [u32]| {
                            let before: Vec<u32> = seats.iter().map(|&p| depth[p]).collect();
                            let (moved, deepest) = c.flow.apply(&before);
                            for (&p, d) in seats.iter().zip(moved) {
                                depth[p] = d;
                            }
                            deepest.unwrap_or(0)
                        };
                        totals.rounds = totals.rounds.max(flow(&mut depth));
                        critical = critical.max(flow(&mut start));
                        if c.offline_setup {
                            totals.offline_rounds = totals.offline_rounds.max(1 + u32::from(dealt));
                        }
                        Ok(c.cost)
                    }
                    Err(e) => Err(e),
                }
            }
        };
        after.push(start);
        match &cost {
            Ok(c) => {
                totals.bytes += c.bytes;
                totals.offline_bytes += c.offline_bytes;
                totals.messages += c.messages;
                totals.offline_messages += c.offline_messages;
                if c.offline_messages > 0 {
                    totals.offline_rounds = totals.offline_rounds.max(1);
                    dealt = true;
                }
            }
            Err(_) => complete = false,
        }
        ops.push(OpEstimate {
            index,
            name: op.label(),
            kind: op.kind().to_string(),
            cost,
            key_setup,
        });
    }
    Estimate {
        ops,
        totals: complete.then_some(totals),
        critical_path_rounds: complete.then_some(critical),
    }
}
