//! The cost of a plan before running it (`sharescope check`): every op's online and offline
//! bytes, messages and rounds from the protocol's documented formulas
//! ([`protocols::pond::cost`], [`protocols::securenn::cost`]), and the run's totals, without
//! executing anything.
//!
//! The walk follows the plan in program order and keeps the protocol state that costs depend on:
//! Pond's mask cache and whether SecureNN's keys are set up ([`MaskCache`]). The totals follow the
//! simulator's round rule (`party.rs`, ARCHITECTURE.md invariant 3) over the whole run: a
//! message's round is 1 + the highest round its sender had received, online and offline apart.
//! The walk keeps every party's online depth:
//!
//! - an input's two messages leave its owner at the owner's depth + 1 (owners receive nothing
//!   before their inputs, so every input is at round 1, in parallel);
//! - a program op moves the depths of server0, server1 and the producer by its
//!   [`Flow`](protocols::cost::Flow): the pattern of who sends to whom, in the order each party
//!   sends and receives. The servers need not end an op at one depth — in SecureNN P1 hears from the
//!   helper and P0 does not — so the next op's rounds start from each server's own depth;
//! - an output leaves the servers at their depth + 1 (server0 alone for a public value).
//!
//! The run's rounds are the largest of these. Offline, the producer receives nothing, so its
//! messages have depth 1; the one other offline sender is server0, which sends SecureNN's P0–P1
//! key at its offline depth + 1: 2 if an earlier op dealt it anything (every Pond op with
//! offline traffic does), else 1.
//!
//! `sim/tests/estimate.rs` runs every shipped scenario and asserts the estimate equals the run's
//! accounting exactly, per op and in total.

use crate::scenario::{Plan, PlannedOp, ProtocolKind};
use crate::units;
use protocols::cost::Cost;
use protocols::pond::cost::{self as pond, MaskCache, Operand};
use protocols::pond::{Nonlinear, PondConfig};
use serde::Serialize;
use serde_json::json;
use std::fmt::Write;

/// The Pond configuration a plan runs with (SecureNN is Pond with exact nonlinear layers).
pub fn pond_config(plan: &Plan) -> PondConfig {
    PondConfig {
        fixed: plan.scenario.fixed_point,
        truncation: plan.scenario.truncation,
        input_sharing: plan.scenario.input_sharing,
        nonlinear: match plan.scenario.protocol {
            ProtocolKind::Pond => Nonlinear::Polynomial,
            ProtocolKind::SecureNN => Nonlinear::SecureNN,
            ProtocolKind::SecureNNShortcut => Nonlinear::SecureNNShortcut,
            ProtocolKind::SecureNNAsPublished => Nonlinear::SecureNNAsPublished,
        },
    }
}

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
    /// Whether the op sets up SecureNN's keys (its cost includes them).
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
    /// The longest path of op rounds over the program's DAG (`crate::dag::dependencies`: data,
    /// plus the op that first masked a reused operand and SecureNN's key setup): the rounds a runtime that overlaps independent ops (tf-encrypted's graph) would
    /// need, against the strictly sequential `totals.rounds`. `None` when some op could not be
    /// costed.
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
        let _ = writeln!(
            s,
            "{:<24} {:<11} {:>12} {:>12} {:>7} {:>8} {:>6}",
            "op", "kind", "online B", "offline B", "msgs on", "msgs off", "rounds"
        );
        for op in &self.ops {
            let mut name = op.name.clone();
            if name.chars().count() > 24 {
                name = name.chars().take(23).collect::<String>() + "…";
            }
            match &op.cost {
                Ok(c) => {
                    let _ = writeln!(
                        s,
                        "{:<24} {:<11} {:>12} {:>12} {:>7} {:>8} {:>6}{}",
                        name,
                        op.kind,
                        c.bytes,
                        c.offline_bytes,
                        c.messages,
                        c.offline_messages,
                        c.rounds,
                        if op.key_setup {
                            "  (incl. SecureNN key setup: 3 offline msgs, 96 B)"
                        } else {
                            ""
                        }
                    );
                }
                Err(why) => {
                    let _ = writeln!(s, "{name:<24} {:<11} NOT COSTED: {why}", op.kind);
                }
            }
        }
        match &self.totals {
            Some(t) => {
                let _ = writeln!(
                    s,
                    "{:<24} {:<11} {:>12} {:>12} {:>7} {:>8} {:>6}",
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

fn numel(shape: &[usize]) -> u64 {
    shape.iter().product::<usize>() as u64
}

/// Estimates the cost of running `plan` (faults are not modelled: the estimate is that of the
/// protocol as specified).
pub fn estimate(plan: &Plan) -> Estimate {
    let cfg = pond_config(plan);
    let place = plan.placement;
    let (s0, s1) = (place.server0, place.server1);
    let mut cache = MaskCache::new();
    // Online depth of every party; whether server0 has received an offline message.
    let mut depth = vec![0u32; plan.parties.len()];
    let mut server0_dealt = false;
    let mut totals = EstimatedTotals::default();
    let mut complete = true;
    let mut ops = Vec::with_capacity(plan.ops.len());
    // Critical path: the round at which each op is done when ops overlap as far as the
    // program's DAG allows (the one definition the run's DAG schedule uses, `crate::dag`).
    let deps = crate::dag::dependencies(plan);
    let mut done = vec![0u32; plan.ops.len()];
    let mut critical = 0u32;
    for (index, op) in plan.ops.iter().enumerate() {
        let mut key_setup = false;
        let cost = match op {
            PlannedOp::Input { name, owner } => {
                let cost = pond::input(cfg.input_sharing, numel(&plan.shapes[name]));
                cache.bind(name);
                let r = depth[*owner] + 1;
                for s in [s0, s1] {
                    depth[s] = depth[s].max(r);
                }
                totals.rounds = totals.rounds.max(r);
                Ok(cost)
            }
            PlannedOp::Output { name, to } => {
                let public = plan.public[name];
                let cost = pond::output(public, numel(&plan.shapes[name]));
                let r = if public {
                    depth[s0] + 1
                } else {
                    depth[s0].max(depth[s1]) + 1
                };
                depth[*to] = depth[*to].max(r);
                totals.rounds = totals.rounds.max(r);
                Ok(cost)
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
                match pond::op_cost(&cfg, &mut cache, name, op, &operands, &plan.shapes[name]) {
                    Ok(c) => {
                        key_setup = c.key_setup;
                        let seats = [s0, s1, place.producer];
                        let (after, deepest) = c.flow.apply(&seats.map(|p| depth[p]));
                        for (p, d) in seats.into_iter().zip(after) {
                            depth[p] = d;
                        }
                        totals.rounds = totals.rounds.max(deepest.unwrap_or(0));
                        if c.key_setup {
                            totals.offline_rounds =
                                totals.offline_rounds.max(1 + u32::from(server0_dealt));
                        }
                        Ok(c.cost)
                    }
                    Err(e) => Err(e.to_string()),
                }
            }
        };
        if let Ok(c) = &cost {
            let start = deps[index].iter().map(|&d| done[d]).max().unwrap_or(0);
            done[index] = start + c.rounds;
            critical = critical.max(done[index]);
        }
        match &cost {
            Ok(c) => {
                totals.bytes += c.bytes;
                totals.offline_bytes += c.offline_bytes;
                totals.messages += c.messages;
                totals.offline_messages += c.offline_messages;
                if c.offline_messages > 0 {
                    totals.offline_rounds = totals.offline_rounds.max(1);
                    server0_dealt = true;
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
