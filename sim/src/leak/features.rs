//! Features of one party's view of one run: small categorical values whose distribution over
//! runs a secure protocol keeps independent of the other parties' secrets.
//!
//! A *subject* is a sequence of elements taken from the view:
//! - an **item**: one received message part, one value the party dealt, or one value opened to it;
//! - a **pair** of items of one ring and size, combined element by element: in the same step
//!   (whatever their origin: two senders' messages at the same position, two parts of one
//!   message, two opened values — a reused mask shows here, x − a and y − a differ by x − y), and a
//!   received item with a value the party dealt in another step of the same op. Z_2^64, Z_2^128
//!   and Z_(2^64−1) pairs give their sum and difference in the ring, Z_67 pairs their difference
//!   and ratio (the projective class of the pair), bits and seeds their xor;
//! - a **probe**: the outcome of SecureNN's helper attack on one DReLU ([`crate::attack`]): the
//!   helper runs the PrivateCompare ratio search on its own view; whether it finds a candidate,
//!   and the input it recovers, are features of its view like any other. Against the fixed
//!   protocol the search finds nothing whatever the inputs; as published (or with tf-encrypted's
//!   shortcut) it recovers each compared value, so its outcome follows the secrets.
//!
//! Why a probe is needed at all: each pair (s·⟨c_i⟩₀, s·⟨c_i⟩₁) the helper receives as
//! published, and their ratio, is on its own distributed the same whatever x is — a per-element
//! test of the messages, even of the ratio against the bit shares the helper dealt, cannot tell
//! the secrets apart. Only the 64 ratios of one element *together with* the 128 Z_p bit shares
//! the helper dealt, tied by PrivateCompare's structure (c_i depends on all the bits above i), pin
//! x down; no generic feature of bounded size sees that combination.
//!
//! Each subject yields *measures*, categories per element: a ring element its low 4 bits, its top
//! 4 bits and a 4-bit fold of all its bits (the xor of its nibbles: any value that is fixed in
//! one sample and different in the other shows in it); a Z_67 element its value and whether it is
//! 0; a bit its value; a seed byte its two nibbles; a ratio its class (69); the probe its outcome
//! and the recovered input's low 4 bits and fold.
//!
//! Each (subject, measure) gives **per-position features** (one category per run) at the first
//! [`POSITIONS`] elements, and one **pooled feature** (a histogram per run) over the first
//! [`POOLED`] elements. Pairs are bounded per step ([`PAIRS_PER_STEP`]) and per op
//! ([`PAIRS_PER_OP`]); the probe searches the first [`PROBE_ELEMENTS`] elements of each DReLU.

use crate::attack::DreluRecovery;
use crate::view::{Source, ViewItem};
use protocols::context::RingKind;
use serde::Serialize;

/// Elements per subject with a feature of their own.
pub const POSITIONS: usize = 8;
/// Elements per subject pooled into one histogram (the trace keeps at least this many).
pub const POOLED: usize = 4096;
/// Pairs formed within one step, at most.
pub const PAIRS_PER_STEP: usize = 32;
/// Pairs of a received item with a dealt one from another step of the same op, at most.
pub const PAIRS_PER_OP: usize = 32;
/// Elements of each DReLU the helper's search is run on.
pub const PROBE_ELEMENTS: usize = 64;

/// A categorical function of one element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Measure {
    /// Low 4 bits of a ring element.
    Low4,
    /// Top 4 bits of a 64-bit ring element (Z_2^128: of its low word).
    Top4,
    /// The xor of the 16 nibbles of a ring element.
    Fold,
    /// A Z_67 element (67 categories).
    Value,
    /// Whether a Z_67 element is 0.
    Zero,
    /// The projective class of a Z_67 pair (69 categories).
    Ratio,
    /// A bit.
    Bit,
    /// High nibble of a seed byte.
    SeedHigh,
    /// Low nibble of a seed byte.
    SeedLow,
    /// The probe's outcome: no input, one, several.
    Outcome,
    /// Low 4 bits of the probe's recovered input (a 17th category: none recovered).
    RecoveredLow4,
    /// Nibble fold of the probe's recovered input (17th category: none).
    RecoveredFold,
}

impl Measure {
    /// Number of categories.
    pub fn categories(self) -> usize {
        match self {
            Measure::Low4 | Measure::Top4 | Measure::Fold => 16,
            Measure::Value => 67,
            Measure::Zero | Measure::Bit => 2,
            Measure::Ratio => 69,
            Measure::SeedHigh | Measure::SeedLow => 16,
            Measure::Outcome => 3,
            Measure::RecoveredLow4 | Measure::RecoveredFold => 17,
        }
    }

    /// Short description.
    pub fn name(self) -> &'static str {
        match self {
            Measure::Low4 => "low 4 bits",
            Measure::Top4 => "top 4 bits",
            Measure::Fold => "nibble fold",
            Measure::Value => "value",
            Measure::Zero => "is zero",
            Measure::Ratio => "ratio class",
            Measure::Bit => "bit",
            Measure::SeedHigh => "byte high nibble",
            Measure::SeedLow => "byte low nibble",
            Measure::Outcome => "outcome (no input / one / several)",
            Measure::RecoveredLow4 => "recovered input, low 4 bits",
            Measure::RecoveredFold => "recovered input, nibble fold",
        }
    }
}

fn fold(v: u64) -> u8 {
    let v = v ^ (v >> 32);
    let v = v ^ (v >> 16);
    let v = v ^ (v >> 8);
    ((v ^ (v >> 4)) & 15) as u8
}

/// How two items are combined element by element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Combine {
    /// a + b in the ring.
    Sum,
    /// a − b in the ring.
    Difference,
    /// The projective class of (a, b) in Z_67.
    Ratio,
    /// a ⊕ b (bits, seed bytes).
    Xor,
}

impl Combine {
    fn name(self) -> &'static str {
        match self {
            Combine::Sum => "sum",
            Combine::Difference => "difference",
            Combine::Ratio => "ratio",
            Combine::Xor => "xor",
        }
    }
}

/// One item of the view, as a feature description names it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemRef {
    /// Global step index.
    pub step: usize,
    /// The item's label (the message's label for a received part).
    pub label: String,
    /// `received`, `dealt` or `opened`.
    pub origin: &'static str,
    /// The sender of a received item.
    pub sender: Option<String>,
    /// The ring.
    pub ring: &'static str,
}

impl ItemRef {
    fn text(&self) -> String {
        match &self.sender {
            Some(s) => format!("“{}” from {s}", self.label),
            None => format!("{} “{}”", self.origin, self.label),
        }
    }
}

/// What a feature is computed from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Subject {
    /// One item.
    Item(ItemRef),
    /// Two items combined element by element.
    Pair {
        /// How.
        combine: Combine,
        /// The first item.
        first: ItemRef,
        /// The second item.
        second: ItemRef,
    },
    /// The helper's PrivateCompare ratio search on one DReLU.
    Probe,
}

/// One feature: a measure of one subject at one position, or pooled over positions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureDesc {
    /// Op index.
    pub op: usize,
    /// Global step index (the later item's, for a pair).
    pub step: usize,
    /// What it is computed from.
    pub subject: Subject,
    /// The measure.
    pub measure: Measure,
    /// The element, or `None` for a histogram pooled over elements.
    pub position: Option<usize>,
}

impl FeatureDesc {
    /// A one-line description.
    pub fn text(&self) -> String {
        let at = match self.position {
            Some(p) => format!("element {p}"),
            None => "pooled over elements".to_string(),
        };
        let what = match &self.subject {
            Subject::Item(i) => i.text(),
            Subject::Pair {
                combine,
                first,
                second,
            } => format!(
                "{} of {} and {}",
                combine.name(),
                first.text(),
                second.text()
            ),
            Subject::Probe => "probe: the helper's PrivateCompare ratio search".to_string(),
        };
        format!("{what}: {}, {at}", self.measure.name())
    }

    /// The message a feature reads (label and sender), if it reads a received one.
    pub fn message(&self) -> Option<(&str, &str)> {
        let r = match &self.subject {
            Subject::Item(i) => i,
            Subject::Pair { first, second, .. } => {
                if first.sender.is_some() {
                    first
                } else {
                    second
                }
            }
            Subject::Probe => return None,
        };
        r.sender.as_deref().map(|s| (r.label.as_str(), s))
    }
}

/// Where the features of one run went: per-position categories and pooled histograms, in the
/// order of the schema.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extracted {
    /// A hash of the view's layout (steps, origins, labels, rings, sizes): runs whose layout
    /// differs from the reference run's cannot be compared feature by feature.
    pub layout: u64,
    /// One category per per-position feature.
    pub positions: Vec<u8>,
    /// The histograms of the pooled features, concatenated.
    pub pooled: Vec<u32>,
}

/// The features' descriptions, built for the reference run.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    /// Per-position features, in order.
    pub positions: Vec<FeatureDesc>,
    /// Pooled features, in order, with their number of categories.
    pub pooled: Vec<(FeatureDesc, usize)>,
}

/// What extraction needs to know besides the view.
pub struct Context<'a> {
    /// Party names.
    pub parties: &'a [String],
    /// Name of global step k.
    pub step_name: &'a dyn Fn(usize) -> String,
    /// The helper's search over every DReLU of the run (when this party is SecureNN's helper).
    pub probe: Option<&'a [DreluRecovery]>,
}

/// One item with its elements (at most [`POOLED`]).
struct Obs<'v> {
    step: usize,
    op: usize,
    received: Option<usize>,
    dealt: bool,
    kind: RingKind,
    len: usize,
    values: &'v [u64],
    item: &'v ViewItem<'v>,
}

fn origin_name(it: &ViewItem<'_>) -> &'static str {
    match it.source {
        Source::Received { .. } => "received",
        Source::Dealt => "dealt",
        Source::Opened => "opened",
    }
}

fn item_ref(o: &Obs<'_>, parties: &[String]) -> ItemRef {
    ItemRef {
        step: o.step,
        label: o.item.label(),
        origin: origin_name(o.item),
        sender: o.received.map(|s| {
            parties
                .get(s)
                .cloned()
                .unwrap_or_else(|| format!("party {s}"))
        }),
        ring: o.kind.name(),
    }
}

/// Accumulates features in schema order.
struct Sink {
    out: Extracted,
    schema: Option<Schema>,
    hist: Vec<u32>,
}

impl Sink {
    /// Emits the per-position and pooled features of one measure of a subject, given each
    /// element's category.
    fn emit(
        &mut self,
        cats: &[u8],
        measure: Measure,
        desc: &dyn Fn(Measure, Option<usize>) -> FeatureDesc,
    ) {
        for (p, &c) in cats.iter().take(POSITIONS).enumerate() {
            self.out.positions.push(c);
            if let Some(s) = &mut self.schema {
                s.positions.push(desc(measure, Some(p)));
            }
        }
        if cats.len() > 1 {
            let k = measure.categories();
            self.hist.clear();
            self.hist.resize(k, 0);
            for &c in cats {
                self.hist[c as usize] += 1;
            }
            self.out.pooled.extend_from_slice(&self.hist);
            if let Some(s) = &mut self.schema {
                s.pooled.push((desc(measure, None), k));
            }
        }
    }

    /// Emits every measure of a series of ring elements of kind `kind`.
    fn ring_series(
        &mut self,
        kind: RingKind,
        values: &[u64],
        desc: &dyn Fn(Measure, Option<usize>) -> FeatureDesc,
    ) {
        let measures: &[Measure] = match kind {
            RingKind::Z64 | RingKind::Z128 | RingKind::Odd | RingKind::BitWords => {
                &[Measure::Low4, Measure::Top4, Measure::Fold]
            }
            RingKind::Zp => &[Measure::Value, Measure::Zero],
            RingKind::Bit => &[Measure::Bit],
            RingKind::Seed => &[Measure::SeedHigh, Measure::SeedLow],
        };
        let mut cats = Vec::with_capacity(values.len());
        for &m in measures {
            cats.clear();
            cats.extend(values.iter().map(|&v| category(m, v)));
            self.emit(&cats, m, desc);
        }
    }
}

fn category(m: Measure, v: u64) -> u8 {
    match m {
        Measure::Low4 | Measure::SeedLow => (v & 15) as u8,
        Measure::Top4 => (v >> 60) as u8,
        Measure::SeedHigh => ((v >> 4) & 15) as u8,
        Measure::Fold => fold(v),
        Measure::Value => (v % 67) as u8,
        Measure::Zero => v.is_multiple_of(67) as u8,
        Measure::Bit => (v & 1) as u8,
        Measure::Ratio => v.min(68) as u8,
        Measure::Outcome | Measure::RecoveredLow4 | Measure::RecoveredFold => {
            unreachable!("probe categories are computed by the probe")
        }
    }
}

const ODD: u128 = u64::MAX as u128; // 2^64 − 1

fn inverses() -> &'static [u8; 67] {
    static INV: std::sync::OnceLock<[u8; 67]> = std::sync::OnceLock::new();
    INV.get_or_init(|| {
        let mut inv = [0u8; 67];
        for a in 1..67u32 {
            inv[a as usize] = (1..67u32).find(|b| a * b % 67 == 1).expect("67 is prime") as u8;
        }
        inv
    })
}

/// The combinations a pair of items of ring `kind` gives.
fn combinations(kind: RingKind) -> &'static [Combine] {
    match kind {
        RingKind::Z64 | RingKind::Z128 | RingKind::Odd => &[Combine::Sum, Combine::Difference],
        RingKind::Zp => &[Combine::Difference, Combine::Ratio],
        RingKind::Bit | RingKind::Seed | RingKind::BitWords => &[Combine::Xor],
    }
}

fn combine(kind: RingKind, c: Combine, a: u64, b: u64) -> u64 {
    match (kind, c) {
        (RingKind::Odd, Combine::Sum) => ((a as u128 % ODD + b as u128 % ODD) % ODD) as u64,
        (RingKind::Odd, Combine::Difference) => {
            ((a as u128 % ODD + ODD - b as u128 % ODD) % ODD) as u64
        }
        (RingKind::Zp, Combine::Difference) => (a % 67 + 67 - b % 67) % 67,
        (RingKind::Zp, Combine::Ratio) => {
            let (a, b) = (a % 67, b % 67);
            if a != 0 {
                b * inverses()[a as usize] as u64 % 67
            } else if b != 0 {
                67
            } else {
                68
            }
        }
        (_, Combine::Sum) => a.wrapping_add(b),
        (_, Combine::Difference) => a.wrapping_sub(b),
        (_, _) => a ^ b,
    }
}

/// The kind of the combined series: a ratio is its own category set.
fn combined_kind(kind: RingKind, c: Combine) -> Option<RingKind> {
    (c != Combine::Ratio).then_some(kind)
}

fn fnv(h: u64, v: u64) -> u64 {
    (h ^ v).wrapping_mul(0x100_0000_01b3)
}

fn fnv_str(mut h: u64, s: &str) -> u64 {
    for b in s.bytes() {
        h = fnv(h, b as u64);
    }
    h
}

/// Extracts the features of `items` (one party's view of one run, without the ops excluded as
/// its legitimate output). With `schema`, also describes them.
pub fn extract(
    items: &[ViewItem<'_>],
    cx: &Context<'_>,
    schema: bool,
) -> (Extracted, Option<Schema>) {
    let obs: Vec<Obs<'_>> = items
        .iter()
        .filter(|it| !it.value.values.is_empty())
        .map(|it| Obs {
            step: it.step,
            op: it.op,
            received: match it.source {
                Source::Received { message, .. } => Some(message.from),
                _ => None,
            },
            dealt: it.source == Source::Dealt,
            kind: it.value.kind,
            len: it.value.shape.iter().product(),
            values: &it.value.values[..it.value.values.len().min(POOLED)],
            item: it,
        })
        .collect();
    let mut layout = 0xcbf2_9ce4_8422_2325u64;
    for o in &obs {
        layout = fnv(layout, o.step as u64);
        layout = fnv(layout, o.received.map_or(u64::MAX, |s| s as u64));
        layout = fnv(layout, o.dealt as u64);
        layout = fnv(layout, o.kind as u64);
        layout = fnv(layout, o.len as u64);
        layout = fnv(layout, o.values.len() as u64);
        layout = fnv_str(layout, &o.item.value.label);
        if let Source::Received { message, .. } = o.item.source {
            layout = fnv_str(layout, &message.label);
        }
    }
    let mut sink = Sink {
        out: Extracted {
            layout: 0,
            positions: Vec::new(),
            pooled: Vec::new(),
        },
        schema: schema.then(Schema::default),
        hist: Vec::new(),
    };
    let parties = cx.parties;

    // Items.
    for o in &obs {
        let desc = |measure, position| FeatureDesc {
            op: o.op,
            step: o.step,
            subject: Subject::Item(item_ref(o, parties)),
            measure,
            position,
        };
        sink.ring_series(o.kind, o.values, &desc);
    }

    // Pairs: within a step, and received × dealt across the steps of one op.
    let mut combined = Vec::new();
    let mut pair = |sink: &mut Sink, a: &Obs<'_>, b: &Obs<'_>| {
        let n = a.values.len().min(b.values.len());
        for &c in combinations(a.kind) {
            combined.clear();
            combined.extend(
                a.values[..n]
                    .iter()
                    .zip(&b.values[..n])
                    .map(|(&x, &y)| combine(a.kind, c, x, y)),
            );
            let desc = |measure, position| FeatureDesc {
                op: b.op,
                step: b.step,
                subject: Subject::Pair {
                    combine: c,
                    first: item_ref(a, parties),
                    second: item_ref(b, parties),
                },
                measure,
                position,
            };
            match combined_kind(a.kind, c) {
                Some(k) => sink.ring_series(k, &combined, &desc),
                None => {
                    let cats: Vec<u8> = combined.iter().map(|&v| v as u8).collect();
                    sink.emit(&cats, Measure::Ratio, &desc);
                }
            }
        }
    };
    let same = |a: &Obs<'_>, b: &Obs<'_>| a.kind == b.kind && a.len == b.len;
    let mut start = 0;
    while start < obs.len() {
        let end = start
            + obs[start..]
                .iter()
                .take_while(|o| o.step == obs[start].step)
                .count();
        let mut made = 0;
        'step: for i in start..end {
            for j in i + 1..end {
                if made == PAIRS_PER_STEP {
                    break 'step;
                }
                if same(&obs[i], &obs[j]) {
                    pair(&mut sink, &obs[i], &obs[j]);
                    made += 1;
                }
            }
        }
        start = end;
    }
    let mut start = 0;
    while start < obs.len() {
        let end = start
            + obs[start..]
                .iter()
                .take_while(|o| o.op == obs[start].op)
                .count();
        let mut made = 0;
        'op: for i in start..end {
            for j in start..end {
                if made == PAIRS_PER_OP {
                    break 'op;
                }
                let (r, d) = (&obs[i], &obs[j]);
                if r.received.is_some() && d.dealt && r.step != d.step && same(r, d) {
                    let (a, b) = if d.step < r.step { (d, r) } else { (r, d) };
                    pair(&mut sink, a, b);
                    made += 1;
                }
            }
        }
        start = end;
    }

    // The probe: the first PROBE_ELEMENTS elements of each DReLU.
    for p in cx.probe.unwrap_or_default() {
        let cands = &p.candidates[..p.candidates.len().min(PROBE_ELEMENTS)];
        layout = fnv(layout, p.step as u64);
        layout = fnv(layout, cands.len() as u64);
        let desc = |measure, position| FeatureDesc {
            op: p.op,
            step: p.step,
            subject: Subject::Probe,
            measure,
            position,
        };
        let outcome: Vec<u8> = cands.iter().map(|c| c.len().min(2) as u8).collect();
        sink.emit(&outcome, Measure::Outcome, &desc);
        for (m, f) in [
            (
                Measure::RecoveredLow4,
                (|v| (v & 15) as u8) as fn(u64) -> u8,
            ),
            (Measure::RecoveredFold, fold as fn(u64) -> u8),
        ] {
            let cats: Vec<u8> = cands
                .iter()
                .map(|c| match c.as_slice() {
                    [v] => f(*v),
                    _ => 16,
                })
                .collect();
            sink.emit(&cats, m, &desc);
        }
    }
    sink.out.layout = layout;
    (sink.out, sink.schema)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_combinations_are_the_rings_own() {
        assert_eq!(combine(RingKind::Z64, Combine::Sum, u64::MAX, 2), 1);
        assert_eq!(combine(RingKind::Z64, Combine::Difference, 1, 2), u64::MAX);
        // Z_(2^64 − 1): (2^64 − 2) + 3 = 2.
        assert_eq!(combine(RingKind::Odd, Combine::Sum, u64::MAX - 1, 3), 2);
        assert_eq!(
            combine(RingKind::Odd, Combine::Difference, 1, 2),
            u64::MAX - 1
        );
        assert_eq!(combine(RingKind::Zp, Combine::Difference, 3, 5), 65);
        // (a, b) and (s·a, s·b) share a class.
        let c = combine(RingKind::Zp, Combine::Ratio, 3, 5);
        assert_eq!(combine(RingKind::Zp, Combine::Ratio, 6, 10), c);
        assert_eq!(combine(RingKind::Zp, Combine::Ratio, 0, 4), 67);
        assert_eq!(combine(RingKind::Zp, Combine::Ratio, 0, 0), 68);
        assert_eq!(combine(RingKind::Bit, Combine::Xor, 1, 1), 0);
    }

    #[test]
    fn the_fold_sees_every_bit() {
        for b in 0..64 {
            assert_ne!(fold(1u64 << b), fold(0), "bit {b}");
        }
    }
}
