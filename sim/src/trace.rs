//! The trace: the single record of a run that reports and the debugger read.
//!
//! Hierarchy: program op → protocol step → (per party) messages and recorded values. Steps are
//! numbered globally: every party walks the same step sequence, so step `k` means the same
//! protocol moment on every party, whatever the thread interleaving was.

use protocols::context::{Part, RingKind, Traffic};
use protocols::fixed::Hazard;
use serde::Serialize;

/// One message as sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageRecord {
    /// Sender.
    pub from: usize,
    /// Receiver.
    pub to: usize,
    /// What it carries (e.g. "⟨x − a⟩0").
    pub label: String,
    /// Exact encoded size in bytes.
    pub bytes: u64,
    /// Online or offline (dealer) traffic.
    pub traffic: Traffic,
    /// Sender's virtual time at sending, ns.
    pub send_ns: u64,
    /// Virtual delivery time, ns.
    pub delivery_ns: u64,
    /// Causal depth over the whole run (online messages; offline messages count their own).
    pub round: u32,
    /// Causal depth within its op.
    pub op_round: u32,
    /// The payload decoded in its rings, one record per part (bounded like recorded values):
    /// what the receiver's view holds.
    pub payload: Vec<ValueRecord>,
    /// An injected fault that hit this message (dropped, corrupted, delayed, deviated).
    pub fault: Option<String>,
}

/// A recorded tensor: whole when small, summarised when large.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValueRecord {
    /// What the value is (e.g. "product (scale 2f)").
    pub label: String,
    /// The ring its elements are in.
    pub kind: RingKind,
    /// Shape.
    pub shape: Vec<usize>,
    /// The first `min(len, max_values)` raw ring elements (for Z_2^128: their low words).
    pub values: Vec<u64>,
    /// For Z_2^128 ([`RingKind::Z128`]): the high word of each element of `values` (element i
    /// is `high[i] · 2^64 + values[i]`); empty for every other ring.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub high: Vec<u64>,
    /// Whether `values` holds every element.
    pub complete: bool,
    /// A hash of the kept elements (`values`) and of the element count (FNV-style, one 64-bit
    /// word at a time), to compare records across runs. Only what is kept is hashed, so that
    /// recording costs O(`max_values`) whatever the tensor's size (issue 11): two values that
    /// differ only beyond the kept prefix hash alike.
    pub hash: u64,
}

impl ValueRecord {
    /// Records `t` (elements of ring `kind`), keeping at most `max_values` elements.
    pub fn new(
        label: &str,
        kind: RingKind,
        t: &protocols::tensor::Tensor<u64>,
        max_values: usize,
    ) -> Self {
        let values: Vec<u64> = match t.as_slice() {
            Some(s) => s[..s.len().min(max_values)].to_vec(),
            None => t.iter().take(max_values).copied().collect(),
        };
        Self::from_prefix(label, kind, t.shape(), values, max_values)
    }

    /// Records a value of `shape` (`len` elements) from its first elements `values` (at least
    /// `min(len, max_values)` of them): exactly the record [`ValueRecord::new`] makes of the
    /// whole tensor, without the tensor.
    pub fn from_prefix(
        label: &str,
        kind: RingKind,
        shape: &[usize],
        mut values: Vec<u64>,
        max_values: usize,
    ) -> Self {
        let len = protocols::tensor::numel(shape);
        values.truncate(len.min(max_values));
        ValueRecord {
            label: label.to_string(),
            kind,
            shape: shape.to_vec(),
            hash: kept_hash(&values, len),
            values,
            high: Vec::new(),
            complete: len <= max_values,
        }
    }

    /// Records a Z_p tensor `t` exactly as [`ValueRecord::new`] records it widened to u64
    /// (`RingKind::Zp`, the same values, shape, hash and completeness), reading only the
    /// `max_values` elements it keeps: no widened copy of the whole tensor (issue 11).
    pub fn new_zp(
        label: &str,
        t: &protocols::tensor::Tensor<protocols::ring::Zp>,
        max_values: usize,
    ) -> Self {
        let values: Vec<u64> = match t.as_slice() {
            Some(s) => s[..s.len().min(max_values)]
                .iter()
                .map(|z| z.0 as u64)
                .collect(),
            None => t.iter().take(max_values).map(|z| z.0 as u64).collect(),
        };
        Self::from_prefix(label, RingKind::Zp, t.shape(), values, max_values)
    }

    /// Records a Z_2^128 tensor `t` whole (low words in `values`, high words in `high`),
    /// keeping at most `max_values` elements; the hash runs over both words of each element.
    pub fn new_wide(label: &str, t: &protocols::tensor::Tensor<u128>, max_values: usize) -> Self {
        let values: Vec<u64> = t.iter().take(max_values).map(|&v| v as u64).collect();
        let high: Vec<u64> = t
            .iter()
            .take(max_values)
            .map(|&v| (v >> 64) as u64)
            .collect();
        ValueRecord {
            label: label.to_string(),
            kind: RingKind::Z128,
            shape: t.shape().to_vec(),
            hash: kept_hash_wide(&values, &high, t.len()),
            values,
            high,
            complete: t.len() <= max_values,
        }
    }

    /// Element `i` whole: `high[i] · 2^64 + values[i]` (just `values[i]` outside Z_2^128).
    pub fn wide(&self, i: usize) -> u128 {
        let hi = self.high.get(i).copied().unwrap_or(0) as u128;
        (hi << 64) | self.values[i] as u128
    }
}

impl ValueRecord {
    /// Decodes the parts of a message payload (each part's first `max_values` elements kept and
    /// hashed). A payload that does not match its parts yields one raw byte record.
    pub fn decode_payload(payload: &[u8], parts: &[Part], max_values: usize) -> Vec<ValueRecord> {
        let total: usize = parts.iter().map(Part::bytes).sum();
        let raw = [Part {
            kind: RingKind::Seed,
            shape: vec![payload.len()],
        }];
        let parts = if total == payload.len() { parts } else { &raw };
        let mut off = 0;
        parts
            .iter()
            .map(|p| {
                let bytes = &payload[off..off + p.bytes()];
                off += p.bytes();
                let n = p.len();
                let w = p.kind.width();
                let values: Vec<u64> = (0..n.min(max_values))
                    .map(|i| p.kind.element(bytes, i))
                    .collect();
                // Both words of every kept Z_2^128 element, as `new_wide` hashes them.
                let high: Vec<u64> = if w == 16 {
                    (0..n.min(max_values))
                        .map(|i| p.kind.high(bytes, i))
                        .collect()
                } else {
                    Vec::new()
                };
                let hash = if w == 16 {
                    kept_hash_wide(&values, &high, n)
                } else {
                    kept_hash(&values, n)
                };
                ValueRecord {
                    label: String::new(),
                    kind: p.kind,
                    shape: p.shape.clone(),
                    hash,
                    values,
                    high,
                    complete: n <= max_values,
                }
            })
            .collect()
    }
}

/// The hash of a record: its kept elements, then the element count.
fn kept_hash(values: &[u64], len: usize) -> u64 {
    fnv1a(values.iter().copied().chain([len as u64]))
}

/// [`kept_hash`] of a Z_2^128 record: both words of each kept element (low, high), then the count.
fn kept_hash_wide(low: &[u64], high: &[u64], len: usize) -> u64 {
    fnv1a(
        low.iter()
            .zip(high)
            .flat_map(|(&l, &h)| [l, h])
            .chain([len as u64]),
    )
}

/// FNV-1a over 64-bit words, in row-major order (a contiguous tensor is hashed from its slice,
/// which is several times faster than ndarray's n-dimensional iterator).
fn fnv1a(values: impl Iterator<Item = u64>) -> u64 {
    values.fold(0xcbf2_9ce4_8422_2325u64, |h, v| {
        (h ^ v).wrapping_mul(0x100_0000_01b3)
    })
}

/// What one party did in one step. Equality ignores `wall_end_ns`: two traces are equal when
/// the protocol did the same thing (shares, messages, bytes, rounds, virtual times), which one seed
/// reproduces; wall-clock times never repeat.
#[derive(Debug, Clone, Serialize, Default)]
pub struct PartyStep {
    /// Virtual clock at the start of the step, ns.
    pub start_ns: u64,
    /// Virtual clock at the end of the step, ns.
    pub end_ns: u64,
    /// Virtual time spent computing, ns.
    pub compute_ns: u64,
    /// Virtual time spent waiting for messages, ns.
    pub wait_ns: u64,
    /// Wall-clock time since the run started when the step ended, ns (not deterministic).
    pub wall_end_ns: u64,
    /// Messages this party sent in the step.
    pub sent: Vec<MessageRecord>,
    /// Shares (or local values) recorded at the step.
    pub shares: Vec<ValueRecord>,
    /// Values this party saw opened.
    pub opened: Vec<ValueRecord>,
    /// Randomness this party drew and values it dealt (seeds, keys, masks, bits it shared out).
    pub dealt: Vec<ValueRecord>,
}

impl PartialEq for PartyStep {
    fn eq(&self, o: &Self) -> bool {
        let PartyStep {
            start_ns,
            end_ns,
            compute_ns,
            wait_ns,
            wall_end_ns: _,
            sent,
            shares,
            opened,
            dealt,
        } = self;
        (
            start_ns, end_ns, compute_ns, wait_ns, sent, shares, opened, dealt,
        ) == (
            &o.start_ns,
            &o.end_ns,
            &o.compute_ns,
            &o.wait_ns,
            &o.sent,
            &o.shares,
            &o.opened,
            &o.dealt,
        )
    }
}

/// One protocol step across all parties.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRecord {
    /// Global step index.
    pub index: usize,
    /// Index of the op the step belongs to.
    pub op: usize,
    /// Step name (e.g. "open masked inputs").
    pub name: String,
    /// One entry per party.
    pub parties: Vec<PartyStep>,
    /// The sub-protocols the step runs in, outermost first (`["ReLU", "DReLU", "ComputeMSB"]`;
    /// empty for a step of the op itself). Every party walks the same path.
    pub path: Vec<String>,
    /// For each entry of `path`, the global index of the first step of that call of the
    /// sub-protocol: two calls of the same sub-protocol (the DReLU of each MaxPool level) differ.
    pub path_starts: Vec<usize>,
}

impl StepRecord {
    /// Whether the step runs inside the call of a sub-protocol that is entry `depth` (from 0,
    /// outermost) of a path and began at step `start`.
    pub fn is_within(&self, depth: usize, start: usize) -> bool {
        self.path_starts.get(depth) == Some(&start)
    }

    /// How many sub-protocol calls, outermost first, this step shares with `other` (the depth of
    /// their deepest common call; 0 when they share none or belong to different ops).
    pub fn common_depth(&self, other: &StepRecord) -> usize {
        if self.op != other.op {
            return 0;
        }
        self.path_starts
            .iter()
            .zip(&other.path_starts)
            .take_while(|(a, b)| a == b)
            .count()
    }

    /// The step's call path and name, e.g. `ReLU › DReLU › ComputeMSB › ComputeMSB 2–3: …`.
    pub fn full_name(&self) -> String {
        let mut s = String::new();
        for p in &self.path {
            s.push_str(p);
            s.push_str(" › ");
        }
        s.push_str(&self.name);
        s
    }

    /// All messages of the step.
    pub fn messages(&self) -> impl Iterator<Item = &MessageRecord> {
        self.parties.iter().flat_map(|p| p.sent.iter())
    }
}

/// Accounting and accuracy of one program op.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct OpStats {
    /// Online bytes.
    pub bytes: u64,
    /// Offline (dealer) bytes.
    pub offline_bytes: u64,
    /// Online messages.
    pub messages: u64,
    /// Offline messages.
    pub offline_messages: u64,
    /// Online rounds (causal depth within the op).
    pub rounds: u32,
    /// Virtual time the op took (makespan across parties), ns.
    pub virtual_time_ns: u64,
    /// Max |reconstructed − plaintext shadow|, if the op has a value to compare.
    pub max_abs_error: Option<f64>,
    /// Max relative error (|err| / max(|shadow|, 1e-9)).
    pub max_rel_error: Option<f64>,
}

/// One program op in the trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpRecord {
    /// Index in the op sequence.
    pub index: usize,
    /// Name (`input x`, statement name, `output y`).
    pub name: String,
    /// Kind (`input`, `mul`, …).
    pub kind: String,
    /// Operands.
    pub operands: Vec<String>,
    /// Output shape.
    pub shape: Vec<usize>,
    /// Steps belonging to this op: `first_step..end_step`.
    pub first_step: usize,
    /// One past the last step.
    pub end_step: usize,
    /// Accounting.
    pub stats: OpStats,
    /// Reconstructed result (decoded), whole when small.
    pub reconstructed: Vec<f64>,
    /// Plaintext shadow result, whole when small.
    pub plaintext: Vec<f64>,
    /// Hazards raised by this op.
    pub hazards: Vec<Hazard>,
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trace {
    /// Scenario name.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// The protocol the run used (the insecure teaching variants are labelled).
    pub protocol: crate::scenario::ProtocolKind,
    /// Fractional bits of the fixed-point encoding (to decode recorded values).
    pub frac_bits: u32,
    /// Party names, by index.
    pub parties: Vec<String>,
    /// Ops in execution order.
    pub ops: Vec<OpRecord>,
    /// Steps in execution order.
    pub steps: Vec<StepRecord>,
}

#[cfg(test)]
mod recording_tests {
    use super::*;
    use protocols::context::{Part, RingKind};

    /// Recording reads only the kept prefix (issue 11): a tensor that differs from another
    /// only past `max_values` gives the same record, so the cost is O(max_values), not O(len).
    #[test]
    fn a_record_depends_only_on_the_kept_prefix_and_the_length() {
        let n = 10_000;
        let a = protocols::tensor::Tensor::<u64>::from_shape_vec(vec![n], (0..n as u64).collect())
            .unwrap();
        let mut b = a.clone();
        b[[n - 1]] ^= 1;
        let ra = ValueRecord::new("x", RingKind::Z64, &a, 16);
        let rb = ValueRecord::new("x", RingKind::Z64, &b, 16);
        assert_eq!(ra, rb);
        assert_eq!(ra.values.len(), 16);
        // The length is part of it: a shorter tensor with the same prefix hashes differently.
        let short =
            protocols::tensor::Tensor::<u64>::from_shape_vec(vec![16], (0..16).collect()).unwrap();
        assert_ne!(
            ValueRecord::new("x", RingKind::Z64, &short, 16).hash,
            ra.hash
        );
        // A payload records its parts the same way.
        let bytes = |t: &protocols::tensor::Tensor<u64>| -> Vec<u8> {
            t.iter().flat_map(|v| v.to_le_bytes()).collect()
        };
        let parts = [Part {
            kind: RingKind::Z64,
            shape: vec![n],
        }];
        let pa = ValueRecord::decode_payload(&bytes(&a), &parts, 16);
        let pb = ValueRecord::decode_payload(&bytes(&b), &parts, 16);
        assert_eq!(pa, pb);
        assert_eq!(pa[0].hash, ra.hash);
    }

    /// `new_zp` (the simulator's `Context::record_zp`) gives exactly the record of the old
    /// path, the Z_p tensor widened to u64 and recorded by `new`: same values kept, length,
    /// shape, completeness and hash, below, at and above `max_values`, and for a transposed
    /// (non-contiguous) view.
    #[test]
    fn a_zp_record_equals_the_widened_record() {
        use protocols::ring::Zp;
        use protocols::tensor::Tensor;
        let (n, ell) = (37, 64);
        let t = Tensor::<Zp>::from_shape_vec(
            vec![n, ell],
            (0..n * ell).map(|i| Zp((i * 31 % 67) as u8)).collect(),
        )
        .unwrap();
        let widened = |t: &Tensor<Zp>| t.mapv(|z| z.0 as u64);
        // Column-major memory: `as_slice` is None, the record reads in row-major order.
        let transposed = t.t().to_owned();
        assert!(transposed.as_slice().is_none());
        for max_values in [0, 1, 256, n * ell, n * ell + 5] {
            for t in [&t, &transposed] {
                let new = ValueRecord::new_zp("d", t, max_values);
                let old = ValueRecord::new("d", RingKind::Zp, &widened(t), max_values);
                assert_eq!(new, old, "max_values {max_values}");
                assert_eq!(new.hash, old.hash);
                assert_eq!(new.values.len(), (n * ell).min(max_values));
            }
        }
        // The values kept are the Z_p elements themselves.
        let r = ValueRecord::new_zp("d", &t, 4);
        assert_eq!(r.values, vec![0, 31, 62, 26]);
        assert!(!r.complete);
    }
}
