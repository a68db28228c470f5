//! The helper's attack on PrivateCompare, run over a recorded trace: what P2 recovers from its
//! own view of every DReLU (so of every ReLU, MaxPool, greater/less and argmax) when
//! PrivateCompare runs as published or as tf-encrypted's shortcut
//! ([`protocols::securenn::attack`] has the arithmetic and the explanation).
//!
//! The search reads only P2's view: the Z_p shares of the bits it dealt ("bits of x" and P0's
//! share "⟨x[i]⟩₀"), the pairs it received in each PrivateCompare, the masked value ã it opened
//! in ShareConvert and the x it dealt in ComputeMSB. The *true* inputs shown beside the
//! recovered ones come from elsewhere in the trace — the r = 2a + x the servers opened in
//! ComputeMSB — never from the attack.

use crate::trace::{Trace, ValueRecord};
use crate::view::{view, Source, ViewItem};
use protocols::ring::{Ring, Zp};
use protocols::securenn::attack::{self, CompareView};

/// Search nodes allowed per element (the as-published search needs at most tens of thousands).
pub const NODE_BUDGET: u64 = 1 << 20;

/// What the helper recovered of one DReLU.
#[derive(Debug, Clone, PartialEq)]
pub struct DreluRecovery {
    /// The op the DReLU belongs to.
    pub op: usize,
    /// The step of ComputeMSB's PrivateCompare.
    pub step: usize,
    /// Whether DReLU ran the shortcut (no ShareConvert): then the values are a + θ over
    /// Z_(2^64−1) (θ the wrap bit of the shares), which P2 learns the same way.
    pub shortcut: bool,
    /// Per element (as far as the trace recorded every value): the true DReLU input (Z_L).
    pub truth: Vec<u64>,
    /// Per element: every input consistent with the helper's view.
    pub candidates: Vec<Vec<u64>>,
}

impl DreluRecovery {
    /// The first `n` elements as (true input, what the helper recovered), decoded as fixed
    /// point with `frac_bits`: the recovered value, "nothing", or "K candidates".
    pub fn rows(&self, frac_bits: u32, n: usize) -> Vec<(f64, String)> {
        let scale = (1u64 << frac_bits.min(62)) as f64;
        let decode = |v: u64| v as i64 as f64 / scale;
        self.truth
            .iter()
            .zip(&self.candidates)
            .take(n)
            .map(|(&t, c)| {
                let got = match c.as_slice() {
                    [] => "nothing".to_string(),
                    [v] => format!("{:.6}", decode(*v)),
                    more => format!("{} candidates", more.len()),
                };
                (decode(t), got)
            })
            .collect()
    }

    /// Elements whose only candidate is the true input.
    pub fn recovered(&self) -> usize {
        self.truth
            .iter()
            .zip(&self.candidates)
            .filter(|(t, c)| c.as_slice() == [**t])
            .count()
    }
}

/// Finds every DReLU in the trace and runs the helper's search on it. `helper` is P2's index,
/// `servers` P0's and P1's. Elements beyond the recorded values (`max_values`) are skipped.
pub fn recover(trace: &Trace, helper: usize, servers: [usize; 2]) -> Vec<DreluRecovery> {
    let items = view(trace, helper, usize::MAX);
    let mut out = Vec::new();
    // What the helper last dealt / opened, and ShareConvert's pending candidates.
    let mut bits: Option<&ValueRecord> = None;
    let mut bits0: Option<&ValueRecord> = None;
    let mut x_msb: Option<&ValueRecord> = None;
    let mut masked: Option<&ValueRecord> = None;
    let mut from_sc: Option<(usize, Vec<Vec<u64>>)> = None;
    for (i, it) in items.iter().enumerate() {
        match it.source {
            Source::Dealt if it.value.label == "bits of x" => bits = Some(it.value),
            Source::Dealt if it.value.label.starts_with("⟨x[i]⟩₀") => bits0 = Some(it.value),
            Source::Dealt if it.value.label == "x" => x_msb = Some(it.value),
            Source::Opened if it.value.label.starts_with("x = a + r") => masked = Some(it.value),
            Source::Received { message, .. }
                if message.from == servers[0] && is_compare(trace, it.step) =>
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
                let found = search(b, b0, it.value, d1.value);
                let stage = trace.steps[it.step.saturating_sub(1)].name.as_str();
                if stage.starts_with("ShareConvert") {
                    let Some(m) = masked else { continue };
                    let c = found
                        .iter()
                        .zip(&m.values)
                        .map(|(rs, &mv)| {
                            rs.iter()
                                .map(|&r1| attack::share_convert_input(r1, mv))
                                .collect()
                        })
                        .collect();
                    from_sc = Some((it.op, c));
                } else if let Some(x) = x_msb {
                    let sc = from_sc.take().filter(|(op, _)| *op == it.op).map(|s| s.1);
                    out.push(drelu(trace, it, servers, x, &found, sc));
                }
            }
            _ => {}
        }
    }
    out
}

/// Whether `step` is PrivateCompare's first step (the one where P2 receives the pairs).
fn is_compare(trace: &Trace, step: usize) -> bool {
    trace.steps[step].name.starts_with("PrivateCompare 1–13")
}

/// The search for every fully recorded element of one PrivateCompare.
fn search(
    bits: &ValueRecord,
    bits0: &ValueRecord,
    d0: &ValueRecord,
    d1: &ValueRecord,
) -> Vec<Vec<u64>> {
    const ELL: usize = protocols::securenn::ELL;
    let rows = [bits, bits0, d0, d1]
        .iter()
        .map(|v| v.values.len() / ELL)
        .min()
        .unwrap_or(0);
    let zp = |v: &ValueRecord| -> Vec<Zp> { v.values.iter().map(|&e| Zp(e as u8)).collect() };
    let (b, b0, d0, d1) = (zp(bits), zp(bits0), zp(d0), zp(d1));
    let b1: Vec<Zp> = b.iter().zip(&b0).map(|(&x, &x0)| x.sub(x0)).collect();
    (0..rows)
        .map(|e| {
            let r = e * ELL..(e + 1) * ELL;
            attack::recover_r(
                CompareView {
                    bits0: &b0[r.clone()],
                    bits1: &b1[r.clone()],
                    d0: &d0[r.clone()],
                    d1: &d1[r],
                },
                NODE_BUDGET,
            )
            .candidates
        })
        .collect()
}

/// One DReLU's recovery from ComputeMSB's candidates (intersected with ShareConvert's when it
/// ran), with the truth from the servers' opened r.
fn drelu(
    trace: &Trace,
    it: &ViewItem<'_>,
    servers: [usize; 2],
    x: &ValueRecord,
    found: &[Vec<u64>],
    from_sc: Option<Vec<Vec<u64>>>,
) -> DreluRecovery {
    let shortcut = from_sc.is_none();
    // The servers' opened r = 2y + x of this ComputeMSB: the last one before this step.
    let opened_r = trace.steps[..it.step]
        .iter()
        .rev()
        .filter(|s| s.op == it.op)
        .find_map(|s| {
            s.parties[servers[0]]
                .opened
                .iter()
                .find(|v| v.label.starts_with("r = 2a + x"))
        });
    let input = |y: u64| {
        if shortcut {
            y
        } else {
            attack::drelu_input(y)
        }
    };
    let n = found.len().min(x.values.len());
    let truth = opened_r
        .map(|r| {
            (0..n.min(r.values.len()))
                .map(|e| input(attack::compute_msb_input(r.values[e], x.values[e])))
                .collect()
        })
        .unwrap_or_default();
    let candidates = (0..n)
        .map(|e| {
            let mut c: Vec<u64> = found[e]
                .iter()
                .map(|&r| attack::compute_msb_input(r, x.values[e]))
                .filter(|y| {
                    from_sc
                        .as_ref()
                        .is_none_or(|sc| sc.get(e).is_some_and(|c| c.contains(y)))
                })
                .map(input)
                .collect();
            c.dedup();
            c
        })
        .collect();
    DreluRecovery {
        op: it.op,
        step: it.step,
        shortcut,
        truth,
        candidates,
    }
}
