//! Pond's costs as `docs/costs.md` states them: one function per row of its table, and
//! [`op_cost`], the cost of a program op from its operands' shapes, which of them are public and
//! which already have a cached Beaver mask.
//!
//! `tests/tests/pond_costs.rs` runs every op on several shapes and asserts the simulator's
//! accounting is exactly these functions; `sim::estimate` walks a whole plan with them (and
//! [`MaskCache`], which follows the mask reuse of [`PondParty`](super::PondParty)) and
//! `sharescope check` prints the result before anything runs.

use super::activation::{Approximation, RELU, SIGMOID, TANH};
use super::{InputSharing, Nonlinear, PondConfig, Truncation};
use crate::cost::{Cost, Flow, ELEMENT, SEED};
use crate::error::{ProtocolError, Result};
use crate::program::Op;
use crate::securenn::{self, Variant};
use std::collections::HashSet;

fn numel(shape: &[usize]) -> u64 {
    shape.iter().product::<usize>() as u64
}

/// The 8-byte words one ring element takes: 1 over Z_2^64, 2 over Z_2^128. Every row below is
/// written for Z_2^64 (8 bytes per element, 32 per seed); over Z_2^128 it holds with n counted
/// in words, n·(ℓ/64) — elements cost 16 bytes, seeds still 32, messages and rounds do not
/// change. [`op_cost`], `Pond`'s input and output costs apply it.
pub fn words(cfg: &PondConfig) -> u64 {
    if cfg.fixed.ring_bits == 128 {
        2
    } else {
        1
    }
}

// ---- The rows of docs/costs.md ----------------------------------------------------------------

/// Row 1, "input, seeded": owner → server0 a seed, owner → server1 x − PRG(seed).
pub fn input_seeded(n: u64) -> Cost {
    Cost {
        bytes: SEED + ELEMENT * n,
        messages: 2,
        rounds: 1,
        ..Cost::ZERO
    }
}

/// Row 2, "input, dense": owner → each server a full share.
pub fn input_dense(n: u64) -> Cost {
    Cost {
        bytes: 2 * ELEMENT * n,
        messages: 2,
        rounds: 1,
        ..Cost::ZERO
    }
}

/// Input sharing of n elements with the configured method.
pub fn input(sharing: InputSharing, n: u64) -> Cost {
    match sharing {
        InputSharing::Seeded => input_seeded(n),
        InputSharing::Dense => input_dense(n),
    }
}

/// Row 3, "reveal (to both servers), private": each server sends its share to the other.
pub fn reveal_private(n: u64) -> Cost {
    Cost {
        bytes: 2 * ELEMENT * n,
        messages: 2,
        rounds: 1,
        ..Cost::ZERO
    }
}

/// Row 4, "output to a receiver, private": each server sends its share to the receiver.
pub fn output_private(n: u64) -> Cost {
    Cost {
        bytes: 2 * ELEMENT * n,
        messages: 2,
        rounds: 1,
        ..Cost::ZERO
    }
}

/// Row 5, "output to a receiver, public": server0 sends the value.
pub fn output_public(n: u64) -> Cost {
    Cost {
        bytes: ELEMENT * n,
        messages: 1,
        rounds: 1,
        ..Cost::ZERO
    }
}

/// Output of n elements to a receiver (never a server: validation keeps them apart).
pub fn output(public: bool, n: u64) -> Cost {
    if public {
        output_public(n)
    } else {
        output_private(n)
    }
}

/// Row 6, "local ops" (add, sub, neg, reduce_sum, transpose, reshape, flatten; reveal of a
/// public value; every op on public operands): nothing.
pub fn local() -> Cost {
    Cost::ZERO
}

/// Row 8, "truncation, dealer": offline seed → server0 and ⟨r⟩₁, ⟨r >> f⟩₁ → server1; online
/// each server sends its share of z + 2^k + r.
pub fn truncation_dealer(n: u64) -> Cost {
    Cost {
        bytes: 2 * ELEMENT * n,
        offline_bytes: SEED + 2 * ELEMENT * n,
        messages: 2,
        offline_messages: 2,
        rounds: 1,
    }
}

/// Row 9, "truncation, local": nothing.
pub fn truncation_local() -> Cost {
    Cost::ZERO
}

/// T(n): one truncation of n elements with method `t`.
pub fn truncation(t: Truncation, n: u64) -> Cost {
    match t {
        Truncation::Dealer => truncation_dealer(n),
        Truncation::Local => truncation_local(),
    }
}

/// Row 7, "Beaver product" (before truncation): offline a seed to each server, then ⟨c⟩₁ (the
/// size of the output) to server1 in its own message; online each server sends its shares of
/// the masked operands that have no cached mask (`fresh` elements in all), one round if there
/// are any.
pub fn beaver(fresh: u64, n_out: u64) -> Cost {
    Cost {
        bytes: 2 * ELEMENT * fresh,
        offline_bytes: 2 * SEED + ELEMENT * n_out,
        messages: if fresh > 0 { 2 } else { 0 },
        offline_messages: 3,
        rounds: u32::from(fresh > 0),
    }
}

/// Row 10, "mul / square / matmul / conv2d, private × private": Beaver, then truncation.
pub fn product_private(fresh: u64, n_out: u64, t: Truncation) -> Cost {
    beaver(fresh, n_out).then(truncation(t, n_out))
}

/// Row 11, "mul / matmul / conv2d, public × private": a local product, then truncation.
pub fn product_public(n_out: u64, t: Truncation) -> Cost {
    truncation(t, n_out)
}

/// Row 12, "avgpool2d, private": a local window sum times 1/k², then truncation.
pub fn avgpool2d(n_out: u64, t: Truncation) -> Cost {
    truncation(t, n_out)
}

/// Whether the polynomial evaluation computes x^k: x², then x^k = x^(k−2)·x² for every k up to
/// the degree with the parity of some term of at least that power.
fn computes_power(approx: &Approximation, k: u32) -> bool {
    k == 2 || approx.terms.iter().any(|&(p, _)| p >= k && p % 2 == k % 2)
}

fn degree(approx: &Approximation) -> u32 {
    approx.terms.iter().map(|p| p.0).max().unwrap_or(0)
}

/// P: the Beaver products a polynomial evaluation performs (x², x³, x⁵, … or x², x⁴, x⁶, …).
pub fn polynomial_products(approx: &Approximation) -> u32 {
    (2..=degree(approx))
        .filter(|&k| computes_power(approx, k))
        .count() as u32
}

/// Row 13, "sigmoid / tanh / relu": P Beaver products, each truncated, each opening exactly one
/// fresh n-element operand — except x² when x already has a mask (`x_masked`) — then one more
/// truncation of the weighted sum.
pub fn polynomial(approx: &Approximation, n: u64, x_masked: bool, t: Truncation) -> Cost {
    let mut cost = Cost::ZERO;
    for k in (2..=degree(approx)).filter(|&k| computes_power(approx, k)) {
        let fresh = if k == 2 && x_masked { 0 } else { n };
        cost = cost.then(product_private(fresh, n, t));
    }
    cost.then(truncation(t, n))
}

// ---- Flows: who sends to whom, for the run's rounds -------------------------------------------

/// The online pattern of a Beaver product: an opening if any operand is fresh.
pub fn beaver_flow(fresh: u64) -> Flow {
    if fresh > 0 {
        Flow::exchange()
    } else {
        Flow::LOCAL
    }
}

/// The online pattern of one truncation: an opening of z + r with the dealer, nothing locally.
pub fn truncation_flow(t: Truncation) -> Flow {
    match t {
        Truncation::Dealer => Flow::exchange(),
        Truncation::Local => Flow::LOCAL,
    }
}

/// A private × private product: Beaver, then truncation.
pub fn product_private_flow(fresh: u64, t: Truncation) -> Flow {
    beaver_flow(fresh).then(truncation_flow(t))
}

/// A polynomial activation: its P products and the last truncation, in sequence.
pub fn polynomial_flow(approx: &Approximation, x_masked: bool, t: Truncation) -> Flow {
    let mut flow = Flow::LOCAL;
    for k in (2..=degree(approx)).filter(|&k| computes_power(approx, k)) {
        let fresh = u64::from(!(k == 2 && x_masked));
        flow = flow.then(product_private_flow(fresh, t));
    }
    flow.then(truncation_flow(t))
}

// ---- Program ops -------------------------------------------------------------------------------

/// What [`op_cost`] needs to know of one operand.
#[derive(Debug, Clone, Copy)]
pub struct Operand<'a> {
    /// Its name (masks are cached by name).
    pub name: &'a str,
    /// Its shape.
    pub shape: &'a [usize],
    /// Whether it is public (an input constant, a revealed value, or computed from public
    /// values only).
    pub public: bool,
}

/// The mask cache of [`PondParty`](super::PondParty), as far as costs go: which values have been
/// opened masked (so a later product reuses the mask and opens nothing), and whether SecureNN's
/// keys are set up. Every party holds the same cache, so one copy models them all.
#[derive(Debug, Clone, Default)]
pub struct MaskCache {
    masked: HashSet<String>,
    keys: bool,
}

impl MaskCache {
    /// An empty cache: the state at the start of a run.
    pub fn new() -> Self {
        MaskCache::default()
    }

    /// Whether `name` has a cached mask.
    pub fn is_masked(&self, name: &str) -> bool {
        self.masked.contains(name)
    }

    /// Whether SecureNN's keys are set up (an earlier exact nonlinear op on a private value).
    pub fn keys_ready(&self) -> bool {
        self.keys
    }

    /// Storing a value under `name` drops the mask of what was there (`PondParty::set`).
    pub fn bind(&mut self, name: &str) {
        self.masked.remove(name);
    }
}

/// The estimate of one program op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpCost {
    /// Its accounting.
    pub cost: Cost,
    /// How it moves the causal depths of server0, server1 and the producer (for the run's
    /// rounds); `flow.rounds() == cost.rounds`.
    pub flow: Flow,
    /// Whether the op sets up SecureNN's keys (included in `cost`: 3 offline messages, 96 B;
    /// server0 sends one of them, so its offline depth is server0's plus one).
    pub key_setup: bool,
}

fn variant(nonlinear: Nonlinear) -> Result<Variant> {
    match nonlinear {
        Nonlinear::SecureNN => Ok(Variant::Secure),
        Nonlinear::SecureNNAsPublished => Ok(Variant::AsPublished),
        Nonlinear::SecureNNShortcut => Ok(Variant::Shortcut),
        Nonlinear::Polynomial => Err(ProtocolError::Unsupported(
            "exact nonlinear layers need the securenn protocol".into(),
        )),
    }
}

/// The cost of program op `op` storing its result under `name` with shape `out_shape`, and the
/// cache after it, as `PondParty::run_op` does it: a private × private product opens the operands
/// without a cached mask and caches both; a polynomial caches x (its powers are internal); the
/// first exact nonlinear op on a private value sets up SecureNN's keys. An op this protocol cannot
/// run is an error, never a zero.
pub fn op_cost(
    cfg: &PondConfig,
    cache: &mut MaskCache,
    name: &str,
    op: &Op,
    operands: &[Operand],
    out_shape: &[usize],
) -> Result<OpCost> {
    let wrong_arity = || ProtocolError::Shape {
        op: name.into(),
        detail: format!(
            "`{}` takes {} operand(s), the estimate got {}",
            op.kind(),
            op.operands().len(),
            operands.len()
        ),
    };
    if operands.len() != op.operands().len() {
        return Err(wrong_arity());
    }
    let t = cfg.truncation;
    let w = words(cfg);
    let n = numel(out_shape) * w;
    let any_private = operands.iter().any(|o| !o.public);
    let mut key_setup = false;
    let (cost, flow) = match op {
        Op::Add(..)
        | Op::Sub(..)
        | Op::Neg(_)
        | Op::ReduceSum { .. }
        | Op::Transpose(_)
        | Op::Reshape { .. }
        | Op::Flatten(_)
        | Op::Slice { .. }
        | Op::Pad { .. } => (local(), Flow::LOCAL),
        _ if !any_private => (local(), Flow::LOCAL),
        Op::Reveal(_) => (reveal_private(n), Flow::exchange()),
        Op::Mul(..)
        | Op::Square(_)
        | Op::MatMul(..)
        | Op::Conv2d { .. }
        | Op::Conv2dGradFilters { .. }
        | Op::Conv2dGradInput { .. } => {
            let (x, y) = (operands[0], *operands.get(1).unwrap_or(&operands[0]));
            if x.public || y.public {
                (product_public(n, t), truncation_flow(t))
            } else {
                // The fresh operands, deduplicated (x·x opens x once), opened at their own shapes.
                let mut fresh = 0;
                for (i, o) in [x, y].iter().enumerate() {
                    let repeat = i == 1 && o.name == x.name;
                    if !repeat && !cache.is_masked(o.name) {
                        fresh += numel(o.shape) * w;
                    }
                }
                for o in [x, y] {
                    cache.masked.insert(o.name.to_string());
                }
                (product_private(fresh, n, t), product_private_flow(fresh, t))
            }
        }
        Op::AvgPool2d { .. } | Op::AvgPool2dGrad { .. } => (avgpool2d(n, t), truncation_flow(t)),
        Op::MaxPool2dGrad { kernel, .. } => {
            let v = variant(cfg.nonlinear).map_err(|_| {
                ProtocolError::Unsupported(format!(
                    "`{name}`: {}",
                    crate::gradient::refusal("Pond", op)
                ))
            })?;
            let (dy, x) = (operands[0], operands[1]);
            let (k, m) = (*kernel * *kernel, numel(dy.shape) as usize);
            let fresh_dy = !dy.public && !cache.is_masked(dy.name);
            let c = super::gradient::dmaxpool_cost(v, k, m, !x.public, !dy.public, fresh_dy, w);
            if !x.public {
                key_setup = !cache.keys;
                cache.keys = true;
            }
            if !x.public && !dy.public {
                cache.masked.insert(dy.name.to_string());
            }
            let cost = if key_setup {
                securenn::cost::key_setup().then(c.0)
            } else {
                c.0
            };
            (cost, c.1)
        }
        Op::MaxPool2dWithOneHot { kernel, .. } => {
            let v = variant(cfg.nonlinear).map_err(|_| {
                ProtocolError::Unsupported(format!(
                    "`{name}`: {}",
                    crate::gradient::refusal("Pond", op)
                ))
            })?;
            let k = *kernel * *kernel;
            let m = (n / w) as usize / (1 + k);
            let (c, f) = super::gradient::kept_cost(v, k, m);
            key_setup = !cache.keys;
            cache.keys = true;
            let cost = if key_setup {
                securenn::cost::key_setup().then(c)
            } else {
                c
            };
            (cost, f)
        }
        Op::MaxPool2dGradOneHot { kernel, .. } => {
            // One-hot · dY (k·m), then T(n) after the routing.
            let (dy, kept) = (operands[0], operands[1]);
            let km = ((*kernel * *kernel) as u64) * numel(dy.shape) * w;
            if dy.public || kept.public {
                (truncation(t, n), truncation_flow(t))
            } else {
                // The one-hot rows are a fresh value (never masked); dY may be.
                let fresh = km
                    + if cache.is_masked(dy.name) {
                        0
                    } else {
                        numel(dy.shape) * w
                    };
                cache.masked.insert(dy.name.to_string());
                (
                    beaver(fresh, km).then(truncation(t, n)),
                    beaver_flow(fresh).then(truncation_flow(t)),
                )
            }
        }
        Op::Relu(_) if cfg.nonlinear != Nonlinear::Polynomial => {
            exact_nonlinear(cfg, cache, name, op, operands[0], n / w, &mut key_setup)?
        }
        Op::Sigmoid(_) | Op::Tanh(_) | Op::Relu(_) => {
            let approx = match op {
                Op::Sigmoid(_) => &SIGMOID,
                Op::Tanh(_) => &TANH,
                _ => &RELU,
            };
            let x = operands[0];
            let masked = cache.is_masked(x.name);
            cache.masked.insert(x.name.to_string());
            (
                polynomial(approx, numel(x.shape) * w, masked, t),
                polynomial_flow(approx, masked, t),
            )
        }
        Op::MaxPool2d { .. } | Op::Argmax(_) | Op::Greater(..) => {
            exact_nonlinear(cfg, cache, name, op, operands[0], n / w, &mut key_setup)?
        }
        other => {
            return Err(ProtocolError::Unsupported(format!(
                "`{name}`: {} is a composite op; `crate::composite::cost` costs it",
                other.kind()
            )))
        }
    };
    cache.bind(name);
    Ok(OpCost {
        cost,
        flow,
        key_setup,
    })
}

/// SecureNN's ReLU, MaxPool or argmax on a private x (n output elements), with the key setup
/// in front if this is the run's first.
fn exact_nonlinear(
    cfg: &PondConfig,
    cache: &mut MaskCache,
    name: &str,
    op: &Op,
    x: Operand,
    n: u64,
    key_setup: &mut bool,
) -> Result<(Cost, Flow)> {
    let v = variant(cfg.nonlinear).map_err(|_| {
        ProtocolError::Unsupported(format!(
            "`{name}`: Pond has no exact {}; it needs the securenn protocol",
            op.kind()
        ))
    })?;
    use securenn::cost as snn;
    let (exact, flow) = match op {
        Op::MaxPool2d { kernel, .. } => {
            let k = (*kernel * *kernel) as u64;
            (snn::maxpool(v, k, n), snn::tree_flow(v, k))
        }
        Op::Argmax(_) => {
            let (&k, rest) = x.shape.split_last().ok_or_else(|| ProtocolError::Shape {
                op: name.into(),
                detail: "argmax needs at least one axis".into(),
            })?;
            let k = k as u64;
            (snn::argmax(v, k, numel(rest)), snn::tree_flow(v, k))
        }
        Op::Greater(..) => (snn::greater(v, n), snn::drelu_flow(v)),
        _ => (snn::relu(v, numel(x.shape)), snn::relu_flow(v)),
    };
    *key_setup = !cache.keys;
    cache.keys = true;
    let cost = if *key_setup {
        snn::key_setup().then(exact)
    } else {
        exact
    };
    Ok((cost, flow))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRUNCATIONS: [Truncation; 2] = [Truncation::Dealer, Truncation::Local];

    #[test]
    fn every_flow_has_the_rounds_of_its_cost() {
        for t in TRUNCATIONS {
            assert_eq!(truncation_flow(t).rounds(), truncation(t, 5).rounds);
            for fresh in [0, 3] {
                assert_eq!(beaver_flow(fresh).rounds(), beaver(fresh, 4).rounds);
                assert_eq!(
                    product_private_flow(fresh, t).rounds(),
                    product_private(fresh, 4, t).rounds
                );
            }
            for approx in [SIGMOID, TANH, RELU] {
                for masked in [false, true] {
                    assert_eq!(
                        polynomial_flow(&approx, masked, t).rounds(),
                        polynomial(&approx, 6, masked, t).rounds
                    );
                }
            }
        }
    }

    fn operand<'a>(name: &'a str, shape: &'a [usize], public: bool) -> Operand<'a> {
        Operand {
            name,
            shape,
            public,
        }
    }

    #[test]
    fn products_cache_both_masks_and_a_rebound_name_loses_its_mask() {
        let cfg = PondConfig::default();
        let mut cache = MaskCache::new();
        let (sx, sw) = ([2usize, 3], [3usize, 4]);
        let x = operand("x", &sx, false);
        let w = operand("w", &sw, false);
        let h = op_cost(
            &cfg,
            &mut cache,
            "h",
            &Op::MatMul("x".into(), "w".into()),
            &[x, w],
            &[2, 4],
        )
        .unwrap();
        assert_eq!(h.cost, product_private(6 + 12, 8, Truncation::Dealer));
        assert!(cache.is_masked("x") && cache.is_masked("w") && !cache.is_masked("h"));
        let again = op_cost(
            &cfg,
            &mut cache,
            "h2",
            &Op::MatMul("x".into(), "w".into()),
            &[x, w],
            &[2, 4],
        )
        .unwrap();
        assert_eq!(again.cost, product_private(0, 8, Truncation::Dealer));
        assert_eq!(again.flow.rounds(), 1);
        cache.bind("x");
        let sq = op_cost(&cfg, &mut cache, "s", &Op::Square("x".into()), &[x], &sx).unwrap();
        assert_eq!(sq.cost, product_private(6, 6, Truncation::Dealer));
    }

    #[test]
    fn exact_ops_set_up_the_keys_once_and_pond_cannot_cost_them() {
        let mut cfg = PondConfig::default();
        let shape = [4usize, 10];
        let x = operand("x", &shape, false);
        let mut cache = MaskCache::new();
        let err = op_cost(&cfg, &mut cache, "a", &Op::Argmax("x".into()), &[x], &[4]).unwrap_err();
        assert!(err.to_string().contains("securenn"), "{err}");
        cfg.nonlinear = Nonlinear::SecureNN;
        let first = op_cost(&cfg, &mut cache, "r", &Op::Relu("x".into()), &[x], &shape).unwrap();
        assert!(first.key_setup);
        assert_eq!(
            first.cost,
            securenn::cost::key_setup().then(securenn::cost::relu(Variant::Secure, 40))
        );
        let second = op_cost(&cfg, &mut cache, "a", &Op::Argmax("x".into()), &[x], &[4]).unwrap();
        assert!(!second.key_setup);
        assert_eq!(second.cost, securenn::cost::argmax(Variant::Secure, 10, 4));
        // A public operand: computed in the clear, no keys, nothing sent.
        let p = operand("p", &shape, true);
        let mut fresh = MaskCache::new();
        let public = op_cost(&cfg, &mut fresh, "q", &Op::Relu("p".into()), &[p], &shape).unwrap();
        assert_eq!((public.cost, public.key_setup), (Cost::ZERO, false));
        assert!(!fresh.keys_ready());
    }
}
