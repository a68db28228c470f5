//! Per-op results collected while a run goes (issue 11): each party hands over what it holds
//! of an op's result when it ends the op; when the last party has, the value is reconstructed
//! once, its error against the plaintext shadow computed in one pass, its first `max_values`
//! elements kept, and the shares dropped. No party keeps a copy of every op's result until the
//! end of the run; what stays is bounded by `max_values` per op, plus each output's value at its
//! receiver (the run's result).
//!
//! The last holder to end an op lends its part rather than copying it
//! ([`Handover::lend`], Pond's `Party::with_held`), and the value is rebuilt and compared a
//! piece ([`PIECE`] elements) at a time: an op's result costs at most one copy per holder but
//! the last, not one copy per holder plus the reconstructed value in the ring and in f64.

use crate::scenario::{Plan, PlannedOp};
use crate::shadow::value_name;
use ndarray::ArrayD;
use protocols::encoded::Encoded;
use protocols::protocol::Held;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// Elements rebuilt and compared at a time when an op's result is summarised.
pub(crate) const PIECE: usize = 1 << 14;

/// How a party hands over its part of an op's result.
pub(crate) trait Handover {
    /// Its part, owned: a copy, or the value itself moved out when nothing reads it later.
    fn give(&mut self) -> Held;
    /// Its part, lent to `f` for the time of the call (no copy where the protocol can lend).
    fn lend(&mut self, f: &mut dyn FnMut(&Held));
}

/// An owned part hands itself over.
impl Handover for Held {
    fn give(&mut self) -> Held {
        std::mem::take(self)
    }
    fn lend(&mut self, f: &mut dyn FnMut(&Held)) {
        f(self)
    }
}

/// The plaintext shadow as the run holds it.
pub(crate) type ShadowValues = crate::shadow::ShadowStore;

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
    /// How many of them hold shares (`OpResults::holders`).
    holders_reported: usize,
    /// The most bytes of parts waiting here at once (what recording the op cost; tests).
    most_waiting: usize,
    /// Every party has handed over (`held`) but the shadow was not ready: summarised when it is.
    pending: bool,
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
    /// The parties in the seats that hold shares (sorted, distinct).
    holders: Vec<usize>,
    slots: Vec<Mutex<Slot>>,
    shadow: OnceLock<Arc<ShadowValues>>,
}

/// The parties whose parts `Protocol::reconstruct` reads: the seats with shares in the
/// protocol's layout (all seats if the layout does not say).
fn share_holders(plan: &Plan) -> Vec<usize> {
    let (_, layout) = plan.protocol().share_layout();
    if layout.len() != plan.seats.len() {
        return plan.seats.to_vec();
    }
    plan.seats
        .iter()
        .zip(layout)
        .filter(|(_, &shares)| shares > 0)
        .map(|(&p, _)| p)
        .collect()
}

/// Bytes of the tensors in `h`.
fn held_len(h: &Held) -> usize {
    let bytes = |t: &Encoded| match t {
        Encoded::Z64(t) => t.len() * 8,
        Encoded::Z128(t) => t.len() * 16,
    };
    match h {
        Held::Nothing => 0,
        Held::Shares(s) => s.iter().map(bytes).sum(),
        Held::Public(t) => bytes(t),
    }
}

/// Elements `at..at + len` of `t` (in its logical order) as a one-dimensional tensor; `None`
/// unless `t` is contiguous in standard order with at least `at + len` elements.
fn piece_of(t: &Encoded, at: usize, len: usize) -> Option<Encoded> {
    let shape = ndarray::IxDyn(&[len]);
    Some(match t {
        Encoded::Z64(t) => Encoded::Z64(
            ArrayD::from_shape_vec(shape, t.as_slice()?.get(at..at + len)?.to_vec()).ok()?,
        ),
        Encoded::Z128(t) => Encoded::Z128(
            ArrayD::from_shape_vec(shape, t.as_slice()?.get(at..at + len)?.to_vec()).ok()?,
        ),
    })
}

/// Elements `at..at + len` of every tensor in `h`.
fn held_piece(h: &Held, at: usize, len: usize) -> Option<Held> {
    Some(match h {
        Held::Nothing => Held::Nothing,
        Held::Shares(s) => Held::Shares(
            s.iter()
                .map(|t| piece_of(t, at, len))
                .collect::<Option<_>>()?,
        ),
        Held::Public(t) => Held::Public(piece_of(t, at, len)?),
    })
}

/// Whether every tensor in `h` has `n` elements in standard order (so that its pieces line up
/// with the shadow's elements).
fn lines_up(h: &Held, n: usize) -> bool {
    let ok = |t: &Encoded| {
        t.len() == n
            && match t {
                Encoded::Z64(t) => t.is_standard_layout(),
                Encoded::Z128(t) => t.is_standard_layout(),
            }
    };
    match h {
        Held::Nothing => true,
        Held::Shares(s) => s.iter().all(ok),
        Held::Public(t) => ok(t),
    }
}

/// The largest absolute and relative error of `got` against `want` (same shape), in one pass.
pub(crate) fn max_errors(got: &ArrayD<f64>, want: &ArrayD<f64>) -> (f64, f64) {
    match (got.as_slice(), want.as_slice()) {
        (Some(g), Some(w)) => max_errors_of(g.iter().zip(w)),
        _ => max_errors_of(got.iter().zip(want)),
    }
}

/// The largest absolute and relative error over pairs (got, want).
fn max_errors_of<'a>(pairs: impl Iterator<Item = (&'a f64, &'a f64)>) -> (f64, f64) {
    let (mut abs, mut rel) = (0f64, 0f64);
    for (a, b) in pairs {
        let e = (a - b).abs();
        abs = abs.max(e);
        rel = rel.max(e / b.abs().max(1e-9));
    }
    (abs, rel)
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
        let mut holders = share_holders(&plan);
        holders.sort_unstable();
        holders.dedup();
        OpResults {
            holders,
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
                if std::mem::take(&mut s.pending) {
                    self.finish(i, &mut s, &shadow);
                }
            }
        }
    }

    /// The summary of a whole decoded value.
    fn summarise(&self, i: usize, value: &ArrayD<f64>, shadow: &ShadowValues) -> Summary {
        let max_values = self.plan.scenario.trace.max_values;
        let kept = match value.as_slice() {
            Some(s) => s[..s.len().min(max_values)].to_vec(),
            None => value.iter().take(max_values).copied().collect(),
        };
        let want = shadow.get(value_name(&self.plan.ops[i]));
        Summary {
            kept,
            errors: want.map(|w| max_errors(value, &w)),
        }
    }

    /// The summary of op `i`'s value from every party's part (`parts[k]`: party k's): rebuilt
    /// and compared [`PIECE`] elements at a time — the same elements, errors and kept prefix as
    /// rebuilding the whole value, since reconstruction and decoding are elementwise and a
    /// maximum does not depend on how the elements are grouped. Parts that do not line up
    /// with the shadow element for element are rebuilt whole.
    fn summarise_parts(&self, i: usize, parts: &[&Held], shadow: &ShadowValues) -> Summary {
        let Some(want) = shadow.get(value_name(&self.plan.ops[i])) else {
            return Summary::default();
        };
        let n = want.len();
        let whole = || {
            let owned: Vec<Held> = parts.iter().map(|h| (*h).clone()).collect();
            match crate::engine::reconstruct_held(&self.plan, i, &owned) {
                Some(v) => self.summarise(i, &v, shadow),
                None => Summary::default(),
            }
        };
        let w = match want.as_slice() {
            Some(w) if n > PIECE && parts.iter().all(|h| lines_up(h, n)) => w,
            _ => return whole(),
        };
        let max_values = self.plan.scenario.trace.max_values;
        let mut kept = Vec::with_capacity(n.min(max_values));
        let (mut abs, mut rel) = (0f64, 0f64);
        for at in (0..n).step_by(PIECE) {
            let len = PIECE.min(n - at);
            let piece: Option<Vec<Held>> = parts.iter().map(|h| held_piece(h, at, len)).collect();
            let value = piece.and_then(|p| crate::engine::reconstruct_held(&self.plan, i, &p));
            let Some(value) = value else {
                return Summary::default();
            };
            let Some(v) = value.as_slice().filter(|v| v.len() == len) else {
                return whole();
            };
            let room = max_values.saturating_sub(kept.len());
            kept.extend_from_slice(&v[..room.min(len)]);
            let (a, r) = max_errors_of(v.iter().zip(&w[at..at + len]));
            abs = abs.max(a);
            rel = rel.max(r);
        }
        Summary {
            kept,
            errors: Some((abs, rel)),
        }
    }

    /// Every party has handed over op `op` and the shadow is ready: summarises it, keeps an
    /// output's value at its receiver and a training iteration's carried shares, drops the rest.
    fn finish(&self, op: usize, s: &mut Slot, shadow: &ShadowValues) {
        let mut held = std::mem::take(&mut s.held);
        let parts: Vec<&Held> = held.iter().collect();
        s.done = Some(self.summarise_parts(op, &parts, shadow));
        shadow.release(value_name(&self.plan.ops[op]));
        if let PlannedOp::Output { to, .. } = &self.plan.ops[op] {
            s.output = held.get_mut(*to).map(std::mem::take).unwrap_or_default();
        }
        if self.keeps_all(op) {
            s.carried = held;
        }
    }

    /// Whether op `op`'s shares are kept whole after it (a training iteration's carried value).
    fn keeps_all(&self, op: usize) -> bool {
        self.plan
            .training
            .as_ref()
            .is_some_and(|it| crate::train::run::carries(it, &self.plan.ops[op]))
    }

    /// Party `party` ended op `op` holding `held`. The last party to do so reconstructs the
    /// value and summarises it; the shares are dropped.
    pub fn report(&self, op: usize, party: usize, mut held: Held) {
        self.report_from(op, party, &mut held);
    }

    /// Party `party` ended op `op` and hands over its part. An input or computed value is
    /// rebuilt from the share holders' parts alone (`Protocol::reconstruct` reads
    /// `held[seats[k]]` of the seats that hold shares), so any other party (an input provider,
    /// a dealer) hands over nothing; a holder before the last one gives its part
    /// (a copy, or the value itself when nothing reads it later); the last seat lends it, and
    /// the value is summarised from every part with no copy of the last (unless the shadow is
    /// not ready yet). An output (kept whole at its receiver) and a training iteration's carried
    /// value (every party's shares kept) take every party's part.
    pub fn report_from(&self, op: usize, party: usize, part: &mut dyn Handover) {
        let Some(mut s) = self.slot(op) else {
            return;
        };
        s.reported += 1;
        let every_party =
            matches!(self.plan.ops[op], PlannedOp::Output { .. }) || self.keeps_all(op);
        let (complete, lend) = if every_party {
            (s.reported >= self.parties, false)
        } else if self.holders.binary_search(&party).is_err() || s.done.is_some() {
            return;
        } else {
            s.holders_reported += 1;
            let last = s.holders_reported >= self.holders.len();
            (last, last && party < s.held.len())
        };
        match self.shadow.get() {
            Some(shadow) if lend => {
                let held = std::mem::take(&mut s.held);
                let mut summary = Summary::default();
                part.lend(&mut |mine| {
                    let parts: Vec<&Held> = held
                        .iter()
                        .enumerate()
                        .map(|(k, h)| if k == party { mine } else { h })
                        .collect();
                    summary = self.summarise_parts(op, &parts, shadow);
                });
                drop(held);
                s.done = Some(summary);
                shadow.release(value_name(&self.plan.ops[op]));
            }
            _ => {
                let h = part.give();
                if let Some(slot) = s.held.get_mut(party) {
                    *slot = h;
                }
                let waiting = s.held.iter().map(held_len).sum();
                s.most_waiting = s.most_waiting.max(waiting);
                if !complete {
                    return;
                }
                match self.shadow.get() {
                    Some(shadow) => self.finish(op, &mut s, shadow),
                    None => s.pending = true,
                }
            }
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
        if s.pending {
            let parts: Vec<&Held> = s.held.iter().collect();
            return self.summarise_parts(i, &parts, shadow);
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

    /// The bytes of op results held right now (shares handed over, summaries, outputs): what
    /// recording costs in memory (tests bound it by `max_values`).
    #[cfg(test)]
    pub fn held_bytes(&self) -> usize {
        (0..self.slots.len())
            .filter_map(|i| self.slot(i))
            .map(|s| {
                s.held.iter().map(held_len).sum::<usize>()
                    + s.done.as_ref().map_or(0, |d| d.kept.len() * 8)
                    + held_len(&s.output)
            })
            .sum()
    }

    /// The most bytes of parts handed over and waiting to be summarised at once for any one op
    /// (the copies recording an op costs; tests bound it).
    #[cfg(test)]
    pub fn most_waiting(&self) -> usize {
        (0..self.slots.len())
            .filter_map(|i| self.slot(i))
            .map(|s| s.most_waiting)
            .max()
            .unwrap_or(0)
    }
}
