//! Per-op results collected while a run goes (issue 11): each party hands over what it holds
//! of an op's result when it ends the op; when the last party has, the value is reconstructed
//! once, its error against the plaintext shadow computed in one pass, its first `max_values`
//! elements kept, and the shares dropped. No party keeps a copy of every op's result until the
//! end of the run; what stays is bounded by `max_values` per op, plus each output's value at its
//! receiver (the run's result).

use crate::scenario::{Plan, PlannedOp};
use ndarray::ArrayD;
use protocols::protocol::Held;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// The plaintext shadow: every value of the program in f64.
pub(crate) type ShadowValues = HashMap<String, ArrayD<f64>>;

/// What the trace keeps of one op's result.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Summary {
    /// The first `max_values` elements of the reconstructed (decoded) value; empty when it
    /// could not be reconstructed.
    pub kept: Vec<f64>,
    /// Max |error| and max relative error against the shadow, when reconstructed.
    pub errors: Option<(f64, f64)>,
}

/// One op's collection state.
#[derive(Debug, Default)]
struct Slot {
    /// What each party handed over, until every party has.
    held: Vec<Held>,
    /// How many parties have handed over.
    reported: usize,
    /// Reconstructed and decoded, waiting for the shadow (only when the shadow was not ready).
    pending: Option<ArrayD<f64>>,
    /// The summary, once every party has reported (and the shadow is ready).
    done: Option<Summary>,
    /// An output's value as its receiver holds it (kept whole: it is the run's result).
    output: Held,
    /// A training iteration's carried value: every party's shares, kept whole for the next
    /// iteration (`crate::train`).
    carried: Vec<Held>,
}

/// The per-op results of a run, shared by the party threads.
#[derive(Debug)]
pub(crate) struct OpResults {
    plan: Arc<Plan>,
    parties: usize,
    slots: Vec<Mutex<Slot>>,
    shadow: OnceLock<Arc<ShadowValues>>,
}

/// The largest absolute and relative error of `got` against `want` (same shape), in one pass.
pub(crate) fn max_errors(got: &ArrayD<f64>, want: &ArrayD<f64>) -> (f64, f64) {
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

/// The value name an op defines.
fn value_name(op: &PlannedOp) -> &str {
    match op {
        PlannedOp::Input { name, .. }
        | PlannedOp::Compute { name, .. }
        | PlannedOp::Output { name, .. } => name,
    }
}

impl OpResults {
    /// Empty slots for every op of `plan`, run by `parties` parties.
    pub fn new(plan: Arc<Plan>, parties: usize) -> OpResults {
        let slots = (0..plan.ops.len())
            .map(|_| {
                Mutex::new(Slot {
                    held: vec![Held::Nothing; parties],
                    ..Slot::default()
                })
            })
            .collect();
        OpResults {
            plan,
            parties,
            slots,
            shadow: OnceLock::new(),
        }
    }

    fn slot(&self, op: usize) -> Option<MutexGuard<'_, Slot>> {
        // A party thread that panicked while holding a slot poisons only that op's record.
        self.slots
            .get(op)
            .map(|m| m.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The shadow is ready: ops completed before it get their summaries now.
    pub fn set_shadow(&self, shadow: Arc<ShadowValues>) {
        let _ = self.shadow.set(shadow.clone());
        for i in 0..self.slots.len() {
            if let Some(mut s) = self.slot(i) {
                if let Some(v) = s.pending.take() {
                    s.done = Some(self.summarise(i, &v, &shadow));
                }
            }
        }
    }

    fn summarise(&self, i: usize, value: &ArrayD<f64>, shadow: &ShadowValues) -> Summary {
        let max_values = self.plan.scenario.trace.max_values;
        let kept = match value.as_slice() {
            Some(s) => s[..s.len().min(max_values)].to_vec(),
            None => value.iter().take(max_values).copied().collect(),
        };
        let want = &shadow[value_name(&self.plan.ops[i])];
        Summary {
            kept,
            errors: Some(max_errors(value, want)),
        }
    }

    /// Party `party` ended op `op` holding `held`. The last party to do so reconstructs the
    /// value and summarises it; the shares are dropped.
    pub fn report(&self, op: usize, party: usize, held: Held) {
        let Some(mut s) = self.slot(op) else {
            return;
        };
        if let Some(h) = s.held.get_mut(party) {
            *h = held;
        }
        s.reported += 1;
        if s.reported < self.parties {
            return;
        }
        let mut held = std::mem::take(&mut s.held);
        let value = crate::engine::reconstruct_held(&self.plan, op, &held);
        if let PlannedOp::Output { to, .. } = &self.plan.ops[op] {
            s.output = held.get_mut(*to).map(std::mem::take).unwrap_or_default();
        }
        if let Some(it) = &self.plan.training {
            if crate::train::run::carries(it, &self.plan.ops[op]) {
                s.carried = std::mem::take(&mut held);
            }
        }
        drop(held);
        match (value, self.shadow.get()) {
            (Some(v), Some(shadow)) => s.done = Some(self.summarise(op, &v, shadow)),
            (Some(v), None) => s.pending = Some(v),
            (None, _) => s.done = Some(Summary::default()),
        }
    }

    /// What the trace keeps of op `i`: the final summary, or — for an op not every party has
    /// ended yet (a trace taken mid-run) — the value as far as what was handed over rebuilds it.
    pub fn summary(&self, i: usize, shadow: &ShadowValues) -> Summary {
        let Some(s) = self.slot(i) else {
            return Summary::default();
        };
        if let Some(d) = &s.done {
            return d.clone();
        }
        if let Some(v) = &s.pending {
            return self.summarise(i, v, shadow);
        }
        match crate::engine::reconstruct_held(&self.plan, i, &s.held) {
            Some(v) => self.summarise(i, &v, shadow),
            None => Summary::default(),
        }
    }

    /// Output op `i`'s value as its receiver holds it (`Held::Nothing` before it was received),
    /// moved out.
    pub fn take_output(&self, i: usize) -> Held {
        let Some(mut s) = self.slot(i) else {
            return Held::Nothing;
        };
        let to = match &self.plan.ops[i] {
            PlannedOp::Output { to, .. } => *to,
            _ => return Held::Nothing,
        };
        match std::mem::take(&mut s.output) {
            // Not every party ended the op (a failed run): the receiver's own hand-over.
            Held::Nothing => s.held.get_mut(to).map(std::mem::take).unwrap_or_default(),
            h => h,
        }
    }

    /// A training iteration's carried value of op `i`: every party's shares, moved out (empty
    /// if the op carries nothing or not every party ended it).
    pub fn take_carried(&self, i: usize) -> Vec<Held> {
        self.slot(i)
            .map(|mut s| std::mem::take(&mut s.carried))
            .unwrap_or_default()
    }

    /// Forgets ops `from..` (a failed run's partial trace keeps the ops before the failure).
    pub fn clear_from(&self, from: usize) {
        for i in from..self.slots.len() {
            if let Some(mut s) = self.slot(i) {
                *s = Slot {
                    held: vec![Held::Nothing; self.parties],
                    ..Slot::default()
                };
            }
        }
    }

    /// The bytes of op results held right now (shares handed over, pending values, summaries,
    /// outputs): what recording costs in memory (tests bound it by `max_values`).
    #[cfg(test)]
    pub fn held_bytes(&self) -> usize {
        let held_len = |h: &Held| match h {
            Held::Nothing => 0,
            Held::Shares(s) => s.iter().map(|t| t.len() * 8).sum(),
            Held::Public(t) => t.len() * 8,
        };
        (0..self.slots.len())
            .filter_map(|i| self.slot(i))
            .map(|s| {
                s.held.iter().map(held_len).sum::<usize>()
                    + s.pending.as_ref().map_or(0, |v| v.len() * 8)
                    + s.done.as_ref().map_or(0, |d| d.kept.len() * 8)
                    + held_len(&s.output)
            })
            .sum()
    }
}
