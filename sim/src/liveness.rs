//! Liveness of a plan's values (issue 11, peak memory): from the program's ops and outputs,
//! known before the run, which values each party can drop after each op. A value dies after
//! the last op that reads it before it is bound again; a value no later op reads dies right
//! after the op that binds it. Parties drop dead values ([`protocols::protocol::Party::forget`]),
//! so a run holds only what is still to be read, not every value until the run ends.
//!
//! Dropping only dead values changes no share, message or step: nothing reads a dead value, and
//! a protocol's cached state keyed by a value (Pond's masks) is only looked up by the ops that
//! read that value.

use crate::scenario::{Plan, PlannedOp};
use std::collections::HashSet;

/// The names an op reads.
fn reads(op: &PlannedOp) -> Vec<&str> {
    match op {
        PlannedOp::Input { .. } => Vec::new(),
        PlannedOp::Compute { op, .. } => op.operands(),
        PlannedOp::Output { name, .. } => vec![name.as_str()],
    }
}

/// The name an op binds, if any.
fn binds(op: &PlannedOp) -> Option<&str> {
    match op {
        PlannedOp::Input { name, .. } | PlannedOp::Compute { name, .. } => Some(name),
        PlannedOp::Output { .. } => None,
    }
}

/// What every party drops, and when.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Liveness {
    /// Public inputs no op reads: dropped once set, before the first op.
    pub unread: Vec<String>,
    /// `after[i]`: the values that die with op `i` (read or bound by it, read by no later op
    /// before being bound again), in a fixed order.
    pub after: Vec<Vec<String>>,
}

impl Liveness {
    /// The liveness of `plan`'s values.
    pub fn of(plan: &Plan) -> Liveness {
        let mut live: HashSet<&str> = HashSet::new();
        let mut after = vec![Vec::new(); plan.ops.len()];
        for (i, op) in plan.ops.iter().enumerate().rev() {
            let r = reads(op);
            let mut dead: Vec<String> = r
                .iter()
                .copied()
                .chain(binds(op))
                .filter(|n| !live.contains(n))
                .map(str::to_string)
                .collect();
            dead.sort();
            dead.dedup();
            after[i] = dead;
            if let Some(b) = binds(op) {
                live.remove(b);
            }
            live.extend(r);
        }
        let mut unread: Vec<String> = plan
            .inputs
            .iter()
            .filter(|i| i.owner.is_none() && !live.contains(i.name.as_str()))
            .map(|i| i.name.clone())
            .collect();
        unread.sort();
        unread.dedup();
        Liveness { unread, after }
    }
}

/// The values live after op `i` of `plan`, by the definition rather than the walk above (for
/// tests): bound by then (a public input or an op up to `i`) and read by a later op before any
/// later op binds them again.
#[cfg(test)]
pub(crate) fn live_after(plan: &Plan, i: usize) -> Vec<String> {
    let mut bound: Vec<&str> = plan
        .inputs
        .iter()
        .filter(|p| p.owner.is_none())
        .map(|p| p.name.as_str())
        .chain(plan.ops[..=i].iter().filter_map(binds))
        .collect();
    bound.sort();
    bound.dedup();
    bound
        .into_iter()
        .filter(|n| {
            for op in &plan.ops[i + 1..] {
                if reads(op).contains(n) {
                    return true;
                }
                if binds(op) == Some(n) {
                    return false;
                }
            }
            false
        })
        .map(str::to_string)
        .collect()
}
