//! **Pond**: tf-encrypted's two-server protocol with a crypto producer (Dahl et al., 2018).
//!
//! server0 and server1 hold 2-of-2 additive shares over Z_2^64 (or Z_2^128 with
//! `fixed_point.ring_bits: 128`) of fixed-point values; the crypto
//! producer deals correlated randomness (Beaver triples, truncation pairs) and never sees data.
//! Input providers share their inputs; output receivers get revealed results. Semi-honest, the
//! producer does not collude.
//!
//! A [`PondParty`] is one party's state. Every party runs the same program through it, op by op;
//! each op walks the same sequence of protocol steps on every party, so the simulator can pause
//! all parties at the same step boundary.
//!
//! **One code path for both rings.** [`PondParty<R>`] and every kernel are generic over
//! `R: `[`Z2k`] (Z_2^64 = `u64`, Z_2^128 = `u128`); [`Pond`]'s `party` instantiates the one the
//! settings name. Only SecureNN's exact layers ([`Nonlinear`]) need Z_2^64 (they convert to
//! Z_(2^64−1) and decompose 64-bit values): they run on `PondParty<u64>` alone, and the SecureNN
//! protocols refuse `ring_bits: 128`.

mod activation;
mod beaver;
mod compare;
pub mod cost;
mod exact;
pub(crate) mod explain;
pub(crate) mod gradient;
mod io;
mod linear;
pub mod protocol;
mod truncate;

pub use activation::{Approximation, RELU, SIGMOID, TANH};
pub use protocol::Pond;

use crate::context::{Context, PartyId};
use crate::error::{ProtocolError, Result};
use crate::fastmap::FastMap;
use crate::fixed::FixedConfig;
use crate::program::{infer_shape, Op};
use crate::ring::Z2k;
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// Which party index plays which Pond role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// First share holder.
    pub server0: PartyId,
    /// Second share holder.
    pub server1: PartyId,
    /// The dealer of correlated randomness.
    pub producer: PartyId,
}

/// How a fixed-point product is brought back to f fractional bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Truncation {
    /// Catrina–Saxena style, with a truncation pair (r, r >> f) from the producer: one round,
    /// correct up to one ulp whenever the value respects the bound.
    #[default]
    Dealer,
    /// SecureML's local truncation: no communication, but fails with probability |z|/2^64 per
    /// element (z the product at scale 2f).
    Local,
}

/// How an input provider shares its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum InputSharing {
    /// server0's share is a 32-byte PRG seed; server1 gets x − PRG(seed).
    #[default]
    Seeded,
    /// Both shares are sent in full.
    Dense,
}

/// Pond's knobs.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PondConfig {
    /// Fixed-point encoding.
    pub fixed: FixedConfig,
    /// Truncation method.
    pub truncation: Truncation,
    /// Input sharing method.
    pub input_sharing: InputSharing,
    /// How ReLU and MaxPool are computed.
    pub nonlinear: Nonlinear,
}

/// How a Pond program computes ReLU and MaxPool (tf-encrypted's `SecureNN` protocol is Pond with
/// SecureNN's exact nonlinear layers; the crypto producer is SecureNN's helper).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Nonlinear {
    /// Pond's polynomial ReLU; no MaxPool.
    #[default]
    Polynomial,
    /// SecureNN's exact ReLU and MaxPool ([`crate::securenn`]).
    SecureNN,
    /// **Insecure** tf-encrypted shortcut of SecureNN (no ShareConvert, no permutation): for
    /// showing what the helper learns and when the result is wrong. Never the default.
    SecureNNShortcut,
    /// **Insecure** SecureNN with PrivateCompare exactly as published (no re-randomisation of
    /// the pair P2 receives): the helper recovers every compared value. Teaching only.
    SecureNNAsPublished,
}

/// What one party holds of a program value (over the party's ring `R`).
#[derive(Debug, Clone, PartialEq)]
pub enum Value<R = u64> {
    /// A secret-shared value: servers hold their share, other parties only the shape.
    Private {
        /// This party's share, if it is a server.
        share: Option<Tensor<R>>,
        /// The value's shape (public).
        shape: Vec<usize>,
    },
    /// A public value (fixed-point encoded); `value` is `None` at parties it was not opened to.
    Public {
        /// The encoded value, if this party knows it.
        value: Option<Tensor<R>>,
        /// The value's shape.
        shape: Vec<usize>,
    },
}

impl<R> Value<R> {
    /// The value's shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            Value::Private { shape, .. } | Value::Public { shape, .. } => shape,
        }
    }
    /// Whether the value is secret-shared.
    pub fn is_private(&self) -> bool {
        matches!(self, Value::Private { .. })
    }
}

/// The masks a private value was opened with, kept so later products reuse them (mask reuse).
#[derive(Debug, Clone)]
pub(crate) enum Mask<R> {
    /// A server's share of the mask `a` (as the stream it is drawn from) and the opened
    /// `e = x − a`.
    Server { a: Box<MaskShare>, e: Tensor<R> },
    /// The producer's full mask `a` = ⟨a⟩₀ + ⟨a⟩₁, as the two streams it is drawn from.
    Producer { a: Box<ProducerMask> },
    /// At a party that holds no part of the mask (an input provider or output receiver): only
    /// the fact that the value was masked, so every party makes the same reuse decision and
    /// walks the same steps.
    Elsewhere,
}

/// A server's share of a Beaver mask as the PRG stream it is drawn from (issue 11, peak
/// memory): its elements are expanded a piece at a time where they are used — the masked input
/// at the open step, the combine step — never held as a whole tensor. `prg` stands at the
/// share's first element; a clone reads the same elements every time.
#[derive(Debug, Clone)]
pub(crate) struct MaskShare {
    /// The seed's stream, at the share's first element.
    pub(crate) prg: crate::tensor::Prg,
    /// The share's shape (its elements are the stream's next `numel(shape)` ring elements).
    pub(crate) shape: Vec<usize>,
}

impl MaskShare {
    /// The share as a whole tensor (the non-elementwise products).
    pub(crate) fn tensor<R: Z2k>(&self) -> Tensor<R> {
        crate::tensor::random(&self.shape, &mut self.prg.clone())
    }
}

/// The producer's mask a = ⟨a⟩₀ + ⟨a⟩₁ as the two seed streams its shares are drawn from
/// (issue 11, peak memory): expanded where it is used, a piece at a time for an elementwise
/// product. `s0`, `s1` stand at the shares' first elements.
#[derive(Debug, Clone)]
pub(crate) struct ProducerMask {
    /// server0's seed stream, at ⟨a⟩₀'s first element.
    pub(crate) s0: crate::tensor::Prg,
    /// server1's seed stream, at ⟨a⟩₁'s first element.
    pub(crate) s1: crate::tensor::Prg,
    /// The mask's shape.
    pub(crate) shape: Vec<usize>,
}

impl ProducerMask {
    /// The mask as a whole tensor: ⟨a⟩₀ expanded, ⟨a⟩₁ added in place.
    pub(crate) fn tensor<R: Z2k>(&self) -> Tensor<R> {
        let mut a = crate::tensor::random(&self.shape, &mut self.s0.clone());
        crate::tensor::add_random_assign(&mut a, &mut self.s1.clone());
        a
    }

    /// The mask's elements in row-major order, piece by piece.
    pub(crate) fn stream<R: Z2k>(&self) -> MaskStream<R> {
        MaskStream {
            s0: self.s0.clone(),
            s1: self.s1.clone(),
            tmp: crate::tensor::piece_buf(crate::tensor::numel(&self.shape)),
        }
    }
}

/// A [`ProducerMask`] read in order.
pub(crate) struct MaskStream<R> {
    s0: crate::tensor::Prg,
    s1: crate::tensor::Prg,
    tmp: Vec<R>,
}

impl<R: Z2k> MaskStream<R> {
    /// The next `out.len()` (≤ [`crate::tensor::PIECE`]) elements of the mask.
    pub(crate) fn fill(&mut self, out: &mut [R]) {
        R::random_fill(out, &mut self.s0);
        let t = &mut self.tmp[..out.len()];
        R::random_fill(t, &mut self.s1);
        out.iter_mut()
            .zip(t.iter())
            .for_each(|(o, &r)| *o = o.add(r));
    }
}

/// One party's Pond state, over the ring `R` its shares live in (Z_2^64 by default).
#[derive(Debug)]
pub struct PondParty<R: Z2k = u64> {
    me: PartyId,
    place: Placement,
    cfg: PondConfig,
    values: FastMap<String, Value<R>>,
    masks: FastMap<String, Mask<R>>,
    prefix: String,
    /// SecureNN's pairwise keys, set up at the first exact nonlinear op.
    securenn_keys: Option<crate::securenn::Keys>,
    /// **Planted flaw** (tests of the leak checker only): the next Beaver products deal one mask
    /// for both fresh operands. See [`PondParty::plant_mask_reuse`].
    planted_mask_reuse: bool,
    /// The next op's operands that die with it ([`crate::protocol::Party::last_use`]); taken
    /// by `run_op` when it starts, so that it applies to that op alone (not to the sub-ops of
    /// a composite, which may read an operand several times).
    last_use: Vec<String>,
}

impl<R: Z2k> PondParty<R> {
    /// A fresh party `me` under `place` with configuration `cfg` (over `R`, whatever
    /// `cfg.fixed.ring_bits` says: [`Pond`]'s `party` picks `R` from it).
    pub fn new(me: PartyId, place: Placement, cfg: PondConfig) -> Self {
        PondParty {
            me,
            place,
            cfg,
            values: FastMap::default(),
            masks: FastMap::default(),
            prefix: String::new(),
            securenn_keys: None,
            planted_mask_reuse: false,
            last_use: Vec::new(),
        }
    }

    /// **Planted flaw, for testing leak detection only**: while on, a Beaver product whose two
    /// operands are both fresh (not yet masked) and of one shape gets one mask for both — the
    /// producer deals a, and b = a. The product is still correct (c = a∘a), but the servers open
    /// x − a and y − a, whose difference x − y is in the clear. Every party must set the same
    /// value for the same op (the simulator does, from a `ReuseMask` fault). Never use it
    /// otherwise.
    pub fn plant_mask_reuse(&mut self, on: bool) {
        self.planted_mask_reuse = on;
    }

    /// The Pond configuration.
    pub fn config(&self) -> &PondConfig {
        &self.cfg
    }

    /// Index 0 or 1 if this party is a server.
    pub(crate) fn server_index(&self) -> Option<usize> {
        if self.me == self.place.server0 {
            Some(0)
        } else if self.me == self.place.server1 {
            Some(1)
        } else {
            None
        }
    }

    pub(crate) fn is_producer(&self) -> bool {
        self.me == self.place.producer
    }

    /// The other server of server `i`.
    pub(crate) fn peer(&self, i: usize) -> PartyId {
        if i == 0 {
            self.place.server1
        } else {
            self.place.server0
        }
    }

    pub(crate) fn step(&self, ctx: &mut dyn Context, name: &str) -> Result<()> {
        if self.prefix.is_empty() {
            ctx.step(name)
        } else {
            ctx.step(&format!("{}: {name}", self.prefix))
        }
    }

    /// What this party holds of `name`.
    pub fn value(&self, name: &str) -> Option<&Value<R>> {
        self.values.get(name)
    }

    pub(crate) fn get(&self, name: &str) -> Result<&Value<R>> {
        self.values
            .get(name)
            .ok_or_else(|| ProtocolError::Missing(format!("no value named `{name}`")))
    }

    pub(crate) fn share_of(&self, name: &str) -> Result<Option<&Tensor<R>>> {
        match self.get(name)? {
            Value::Private { share, .. } => Ok(share.as_ref()),
            Value::Public { .. } => Err(ProtocolError::Missing(format!(
                "`{name}` is public, not shared"
            ))),
        }
    }

    /// Removes `name` and its cached mask (a dead value: no later op reads it before binding
    /// it again, so no later product looks the mask up), returning the value.
    pub(crate) fn take_value(&mut self, name: &str) -> Option<Value<R>> {
        self.masks.remove(name);
        self.values.remove(name)
    }

    /// How many named values this party holds (liveness tests).
    pub fn live_values(&self) -> usize {
        self.values.len()
    }

    /// Binds `name` to `v`. A mask cached for an earlier value of `name` belongs to that value
    /// (its e = x_old − a is public), so rebinding drops it: the next product masks the new value
    /// afresh. Every party rebinds the same names in the same order, so reuse decisions agree.
    pub(crate) fn set(&mut self, name: &str, v: Value<R>) {
        self.masks.remove(name);
        self.values.insert(name.to_string(), v);
    }

    /// Stores a public value known to every party (a public input or constant).
    pub fn set_public(&mut self, name: &str, value: Tensor<u64>) {
        self.set_public_in(name, value.mapv(|v| R::from_i128(v as i64 as i128)))
    }

    /// Stores a public value known to every party, encoded in the party's ring.
    pub fn set_public_in(&mut self, name: &str, value: Tensor<R>) {
        let shape = value.shape().to_vec();
        self.set(
            name,
            Value::Public {
                value: Some(value),
                shape,
            },
        );
    }

    /// Runs program op `op`, storing its result under `name`.
    pub fn run_op(&mut self, ctx: &mut dyn Context, name: &str, op: &Op) -> Result<()> {
        let dying = std::mem::take(&mut self.last_use);
        if crate::composite::handles(op) {
            let shapes =
                crate::composite::operand_shapes(op, |n| self.get(n).map(|v| v.shape().to_vec()))?;
            let fixed = self.cfg.fixed;
            return crate::composite::run(self, ctx, name, op, &shapes, &fixed);
        }
        let args: Vec<&Value<R>> = op
            .operands()
            .iter()
            .map(|n| self.get(n))
            .collect::<Result<_>>()?;
        let shapes: Vec<&[usize]> = args.iter().map(|v| v.shape()).collect();
        let out_shape = infer_shape(op, &shapes).map_err(|detail| ProtocolError::Shape {
            op: name.into(),
            detail,
        })?;
        let operands: Vec<String> = op.operands().iter().map(|s| s.to_string()).collect();
        if crate::gradient::handles(op) {
            return self.run_gradient(ctx, name, op, &operands, &out_shape);
        }
        let exact = matches!(
            op,
            Op::Relu(_) | Op::MaxPool2d { .. } | Op::Argmax(_) | Op::Greater(..)
        );
        if exact && self.cfg.nonlinear != Nonlinear::Polynomial {
            // SecureNN's layers are Z_2^64 protocols: only `PondParty<u64>` runs them.
            let me: &mut dyn std::any::Any = self;
            let narrow = me.downcast_mut::<PondParty<u64>>().ok_or_else(|| {
                ProtocolError::Unsupported(
                    "SecureNN's exact layers run over Z_2^64 only; use ring_bits: 64".into(),
                )
            })?;
            return narrow.run_exact(ctx, name, op, &operands, &out_shape, &dying);
        }
        let result = match op {
            Op::Add(..) | Op::Sub(..) | Op::Neg(_) => {
                self.additive(ctx, op, &operands, &out_shape)?
            }
            Op::ReduceSum { axis, .. } => {
                // Summing the only axis of a 1-D tensor leaves a 0-d array; the program's shape
                // rule (and the shadow) call that [1].
                let s = out_shape.clone();
                self.unary_local(ctx, &operands[0], &out_shape, move |t| {
                    let sum = crate::tensor::reduce_sum(t, *axis);
                    crate::tensor::reshape(&sum, &s).expect("a sum has the inferred size")
                })?
            }
            Op::Transpose(_) => {
                self.unary_local(ctx, &operands[0], &out_shape, crate::tensor::transpose)?
            }
            Op::Reshape { .. } | Op::Flatten(_) => {
                let s = out_shape.clone();
                self.unary_local(ctx, &operands[0], &out_shape, move |t| {
                    crate::tensor::reshape(t, &s).expect("validated reshape")
                })?
            }
            Op::Mul(..) => self.product_consuming(
                ctx,
                beaver::Bilinear::Elementwise,
                (&operands[0], &operands[1]),
                &out_shape,
                &dying,
            )?,
            Op::Square(_) => self.product_consuming(
                ctx,
                beaver::Bilinear::Elementwise,
                (&operands[0], &operands[0]),
                &out_shape,
                &dying,
            )?,
            Op::MatMul(..) => self.product_consuming(
                ctx,
                beaver::Bilinear::MatMul,
                (&operands[0], &operands[1]),
                &out_shape,
                &dying,
            )?,
            Op::Conv2d {
                stride, padding, ..
            } => self.product_consuming(
                ctx,
                beaver::Bilinear::Conv2d {
                    stride: *stride,
                    padding: *padding,
                },
                (&operands[0], &operands[1]),
                &out_shape,
                &dying,
            )?,
            Op::AvgPool2d { kernel, stride, .. } => self.avgpool2d(
                ctx,
                &operands[0],
                *kernel,
                stride.unwrap_or(*kernel),
                &out_shape,
            )?,
            Op::Sigmoid(_) => self.polynomial(ctx, name, &operands[0], &SIGMOID)?,
            Op::Tanh(_) => self.polynomial(ctx, name, &operands[0], &TANH)?,
            Op::Relu(_) => self.polynomial(ctx, name, &operands[0], &RELU)?,
            Op::Reveal(_) => self.reveal(ctx, &operands[0])?,
            Op::MaxPool2d { .. } => {
                return Err(ProtocolError::Unsupported(
                    "Pond has no exact max pool; use the securenn protocol or avgpool2d".into(),
                ))
            }
            Op::Argmax(_) => {
                return Err(ProtocolError::Unsupported(
                    "Pond has no exact comparison; argmax needs the securenn protocol".into(),
                ))
            }
            Op::Slice { .. } | Op::Pad { .. } => {
                self.unary_local(ctx, &operands[0], &out_shape, |t| {
                    crate::local::apply(op, t)
                })?
            }
            other => {
                return Err(ProtocolError::Unsupported(format!(
                    "Pond has no exact comparison; {} needs the securenn protocol",
                    other.kind()
                )))
            }
        };
        self.set(name, result);
        Ok(())
    }
}

pub use crate::fixed::{decode_tensor, encode_tensor};
