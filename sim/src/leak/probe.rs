//! The protocol-specific probe: SecureNN's helper runs the PrivateCompare ratio search
//! ([`protocols::securenn::attack`]) on its own view of every DReLU. Its outcome — whether it
//! found a candidate, and the recovered input — is a feature of the helper's view like any
//! other: against the fixed protocol the search finds nothing whatever the inputs; as published
//! (or with tf-encrypted's shortcut) it recovers each compared value, so its outcome follows the
//! secrets.
//!
//! Why a probe is needed at all: each pair (s·⟨c_i⟩₀, s·⟨c_i⟩₁) the helper receives, and their
//! ratio, is on its own uniformly distributed whatever x is — a per-element test of the
//! messages, even of the ratio against the bit shares the helper dealt, cannot tell the secrets
//! apart. Only the 64 ratios of one element *together with* the 128 Z_p bit shares the helper
//! dealt, tied by PrivateCompare's structure (c_i depends on all bits above i), pin x down; no
//! generic feature of bounded size sees that combination.

use crate::trace::ValueRecord;
use crate::view::{Source, ViewItem};
use protocols::ring::{Ring, Zp};
use protocols::securenn::attack::{self, CompareView};
use protocols::securenn::ELL;

/// Search nodes allowed per element (the as-published search needs at most tens of thousands).
pub const NODE_BUDGET: u64 = 1 << 20;

/// The outcome of the search for one element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// No input is consistent with the view.
    Nothing,
    /// Exactly one input is: the recovered one.
    Unique(u64),
    /// Several are.
    Several,
    /// The search ran out of its node budget.
    Unfinished,
}

/// The helper's search over one DReLU.
#[derive(Debug, Clone, PartialEq)]
pub struct DreluProbe {
    /// Op index.
    pub op: usize,
    /// The step of ComputeMSB's PrivateCompare (where the second pair of messages arrived).
    pub step: usize,
    /// Per element searched (at most the `elements` asked for).
    pub outcomes: Vec<Outcome>,
}

/// Runs the helper's search on every DReLU in `items` (the helper's view, in order), over the
/// first `elements` elements of each. `step_name(k)` names global step `k`; `servers` are P0's
/// and P1's indices.
pub fn probe(
    items: &[ViewItem<'_>],
    step_name: &dyn Fn(usize) -> String,
    servers: [usize; 2],
    elements: usize,
) -> Vec<DreluProbe> {
    let mut out = Vec::new();
    let mut bits: Option<&ValueRecord> = None;
    let mut bits0: Option<&ValueRecord> = None;
    let mut x_msb: Option<&ValueRecord> = None;
    let mut masked: Option<&ValueRecord> = None;
    // ShareConvert's candidates (op, per element), waiting for ComputeMSB's.
    let mut from_sc: Option<(usize, Vec<(Vec<u64>, bool)>)> = None;
    for (i, it) in items.iter().enumerate() {
        match it.source {
            Source::Dealt if it.value.label == "bits of x" => bits = Some(it.value),
            Source::Dealt if it.value.label.starts_with("⟨x[i]⟩₀") => bits0 = Some(it.value),
            Source::Dealt if it.value.label == "x" => x_msb = Some(it.value),
            Source::Opened if it.value.label.starts_with("x = a + r") => masked = Some(it.value),
            Source::Received { message, .. }
                if message.from == servers[0]
                    && step_name(it.step).starts_with("PrivateCompare 1–13") =>
            {
                let Some(d1) = items[i..].iter().find(|o| {
                    o.step == it.step
                        && matches!(o.source, Source::Received { message, .. } if message.from == servers[1])
                }) else {
                    continue;
                };
                let (Some(b), Some(b0)) = (bits, bits0) else {
                    continue;
                };
                let found = search(b, b0, it.value, d1.value, elements);
                let stage = step_name(it.step.saturating_sub(1));
                if stage.starts_with("ShareConvert") {
                    let Some(m) = masked else { continue };
                    let c = found
                        .into_iter()
                        .zip(&m.values)
                        .map(|((rs, done), &mv)| {
                            let c = rs
                                .iter()
                                .map(|&r1| attack::share_convert_input(r1, mv))
                                .collect();
                            (c, done)
                        })
                        .collect();
                    from_sc = Some((it.op, c));
                } else if let Some(x) = x_msb {
                    let sc = from_sc.take().filter(|(op, _)| *op == it.op).map(|s| s.1);
                    let outcomes = found
                        .iter()
                        .zip(&x.values)
                        .enumerate()
                        .map(|(e, ((rs, done), &xv))| {
                            let mut c: Vec<u64> = rs
                                .iter()
                                .map(|&r| attack::compute_msb_input(r, xv))
                                .collect();
                            let mut done = *done;
                            if let Some(sc) = &sc {
                                let (sc_c, sc_done) = sc.get(e).cloned().unwrap_or_default();
                                done &= sc_done;
                                c.retain(|v| sc_c.contains(v));
                                c = c.into_iter().map(attack::drelu_input).collect();
                            }
                            c.sort_unstable();
                            c.dedup();
                            match (c.as_slice(), done) {
                                ([v], _) => Outcome::Unique(*v),
                                ([], true) => Outcome::Nothing,
                                ([], false) => Outcome::Unfinished,
                                _ => Outcome::Several,
                            }
                        })
                        .collect();
                    out.push(DreluProbe {
                        op: it.op,
                        step: it.step,
                        outcomes,
                    });
                }
            }
            _ => {}
        }
    }
    out
}

/// The search over the first `elements` fully recorded elements of one PrivateCompare: per
/// element the candidates for the public r and whether the search completed.
fn search(
    bits: &ValueRecord,
    bits0: &ValueRecord,
    d0: &ValueRecord,
    d1: &ValueRecord,
    elements: usize,
) -> Vec<(Vec<u64>, bool)> {
    let rows = [bits, bits0, d0, d1]
        .iter()
        .map(|v| v.values.len() / ELL)
        .min()
        .unwrap_or(0)
        .min(elements);
    let zp = |v: &ValueRecord| -> Vec<Zp> {
        v.values[..rows * ELL]
            .iter()
            .map(|&e| Zp((e % 67) as u8))
            .collect()
    };
    let (b, b0, d0, d1) = (zp(bits), zp(bits0), zp(d0), zp(d1));
    let b1: Vec<Zp> = b.iter().zip(&b0).map(|(&x, &x0)| x.sub(x0)).collect();
    (0..rows)
        .map(|e| {
            let r = e * ELL..(e + 1) * ELL;
            let rec = attack::recover_r(
                CompareView {
                    bits0: &b0[r.clone()],
                    bits1: &b1[r.clone()],
                    d0: &d0[r.clone()],
                    d1: &d1[r],
                },
                NODE_BUDGET,
            );
            (rec.candidates, rec.complete)
        })
        .collect()
}
