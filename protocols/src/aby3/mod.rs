//! **ABY3** (Mohassel & Rindal, CCS 2018) as tf-encrypted runs it (`tf_encrypted/protocol/aby3/`):
//! three servers hold a 2-out-of-3 **replicated** sharing of every private value over Z_2^64
//! (or Z_2^128 for the arithmetic part with `ring_bits: 128`: [`Aby3Party`] is generic) —
//! x = x_0 + x_1 + x_2 and server i holds the pair (x_i, x_{i+1}) ([`rep::Rep`]). Any two servers
//! can reconstruct; one server alone holds two of three additive components and the third is
//! uniform to it. Correlated randomness (zero-sharings, random sharings, truncation pairs) comes
//! from pairwise PRF keys set up once ([`rep::Keys`]), so there is no dealer. Semi-honest, at most
//! one corrupt server (honest majority).
//!
//! - [`rep`]: the share pair, the keys, resharing and opening (the core the boolean part uses).
//! - [`product`]: products with one round of resharing (mul, square, matmul, conv2d).
//! - [`truncate`]: fixed-point truncation, ABY3's Π_trunc1 (§5.1.1) and Π_trunc2 (§5.1.2).
//! - [`cost`]: every op's bytes, messages and rounds (the ABY3 rows of `docs/costs.md`) and the
//!   [`crate::protocol::CostModel`].
//! - [`Aby3`]: the protocol object behind [`crate::protocol::Protocol`]; [`Aby3Party`]: one
//!   party's state behind [`crate::protocol::Party`].
//!
//! `docs/aby3.md` describes the protocol, the truncation choices, their hazards and every
//! deviation from the paper.

mod activation;
mod compare;
pub mod cost;
mod explain;
mod gradient;
mod io;
mod linear;
pub mod product;
mod protocol;
pub mod rep;
pub mod truncate;

// Boolean circuits and the exact nonlinear ops (issue 10 §2, "Boolean circuits").
pub mod boolean;
pub mod boolean_cost;
pub mod circuit;
pub mod dmaxpool;
pub mod nonlinear;

pub use protocol::{approximation, reconstruct, supports, truncates, Aby3};

#[cfg(test)]
mod wide_tests {
    use super::*;
    #[test]
    fn relu_is_refused_at_128_bits_and_polynomials_are_not() {
        assert!(supports_wide(&Op::Relu("x".into()), 128).is_err());
        assert!(supports_wide(&Op::Relu("x".into()), 64).is_ok());
        assert!(supports_wide(&Op::Sigmoid("x".into()), 128).is_ok());
        let x = || "x".to_string();
        // Composites built from products and linear ops run at 128 bits …
        for op in [
            Op::Exp(x()),
            Op::Reciprocal(x()),
            Op::Mean {
                input: x(),
                axis: Some(0),
            },
        ] {
            assert!(supports_wide(&op, 128).is_ok(), "{}", op.kind());
        }
        // … those built on Greater do not, and say which primitive is missing.
        for op in [Op::Max(x(), x()), Op::Abs(x()), Op::Softmax(x())] {
            let why = supports_wide(&op, 128).expect_err(op.kind());
            assert!(why.contains("boolean part"), "{why}");
        }
    }
}

use crate::context::{Context, PartyId};
use crate::error::{ProtocolError, Result};
use crate::fixed::FixedConfig;
use crate::program::{infer_shape, Op};
use crate::protocol::{Seats, Settings};
use crate::ring::{Ring, Z2k};
use crate::tensor::Tensor;
use product::Bilinear;
use rep::{Keys, Rep};
use std::collections::HashMap;

/// The step names of ABY3 (the explain pane keys on them; see [`Aby3`]'s `explain`).
pub mod steps {
    /// Pairwise key setup, once per run.
    pub const KEY_SETUP: &str = super::rep::KEY_SETUP;
    /// Input sharing by an input provider.
    pub const SHARE_INPUT: &str = "share input";
    /// Opening to the three servers (`Op::Reveal`).
    pub const OPEN: &str = "open";
    /// Output to a receiver.
    pub const REVEAL_TO: &str = "reveal to receiver";
    /// A communication-free linear op.
    pub const LOCAL: &str = "local";
    /// A product with a public operand (local), before its truncation.
    pub const LOCAL_PRODUCT: &str = "local product";
    /// Average pooling's window sum (local), before its truncation.
    pub const WINDOW_SUM: &str = "window sum";
    /// AvgPool2dGrad's spread of each window's gradient · 1/k² (local), before its truncation.
    pub const GRADIENT_SPREAD: &str = crate::gradient::steps::SPREAD;
    /// Π_trunc1 fused with a product: the 3-out-of-3 product becomes 2-out-of-2.
    pub const PRODUCT_2OF2: &str = "product to 2-of-2";
    /// Π_trunc1: local truncation of the 2-out-of-2 sharing, then the 2-out-of-3 reshare.
    pub const TRUNC_RESHARE: &str = "truncate + reshare";
    /// Π_trunc2: the truncation pair (r, r/2^d) from the keys.
    pub const TRUNC_PAIR: &str = "truncation pair";
    /// Π_trunc2: opening z + r to server0 and server2.
    pub const OPEN_MASKED: &str = "open z + r";
    /// Π_trunc2: the truncated sharing from the opened value and r/2^d.
    pub const TRUNCATE: &str = "truncate";
    /// A product without truncation: local 3-out-of-3 share, rerandomised, reshared.
    pub const RESHARE: &str = "reshare";
    /// A polynomial on a public value.
    pub const LOCAL_POLYNOMIAL: &str = "local polynomial";
    /// The weighted sum of a polynomial's powers (local), before its truncation.
    pub const WEIGHTED_SUM: &str = "weighted sum";
}

/// What one party holds of a program value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<R: Ring = u64> {
    /// A secret-shared value: servers hold their pair, other parties only the shape.
    Private {
        /// This server's pair (x_i, x_{i+1}); `None` at a party that is not a server.
        share: Option<Rep<R>>,
        /// The value's shape (public).
        shape: Vec<usize>,
    },
    /// A public value (fixed-point encoded); `None` at parties it was not opened to.
    Public {
        /// The encoded value, if this party knows it.
        value: Option<Tensor<R>>,
        /// The value's shape.
        shape: Vec<usize>,
    },
}

impl<R: Ring> Value<R> {
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

/// One party's ABY3 state: its seat (if it is a server), the program's values, and the pairwise
/// keys (set up at the first op that needs randomness, in a step of its own).
///
/// Generic over the arithmetic ring: `Aby3Party<u64>` (Z_2^64, the default) runs every op;
/// `Aby3Party<u128>` (`ring_bits: 128`) runs the arithmetic part with the same code and refuses
/// the boolean part, whose circuits are over 64-bit words ([`supports_wide`]).
#[derive(Debug)]
pub struct Aby3Party<R: Z2k = u64> {
    me: PartyId,
    seats: Vec<PartyId>,
    seat: Option<usize>,
    settings: Settings,
    values: HashMap<String, Value<R>>,
    keys: Option<Keys>,
    prefix: String,
}

impl<R: Z2k> Aby3Party<R> {
    /// A fresh party `me`, with `seats[k]` sitting in `server{k}`.
    pub fn new(me: PartyId, seats: &Seats, settings: &Settings) -> Self {
        Aby3Party {
            me,
            seats: seats.to_vec(),
            seat: rep::seat_of(seats, me),
            settings: *settings,
            values: HashMap::new(),
            keys: None,
            prefix: String::new(),
        }
    }

    /// This party's id.
    pub fn me(&self) -> PartyId {
        self.me
    }

    /// This party's seat (0, 1 or 2) if it is a server.
    pub fn seat(&self) -> Option<usize> {
        self.seat
    }

    /// The three servers' party ids, in seat order.
    pub fn seats(&self) -> &[PartyId] {
        &self.seats
    }

    /// The scenario's settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The fixed-point encoding.
    pub fn fixed(&self) -> FixedConfig {
        self.settings.fixed
    }

    /// What this party holds of `name`.
    pub fn value(&self, name: &str) -> Option<&Value<R>> {
        self.values.get(name)
    }

    /// What this party holds of `name`, or an error naming it.
    pub fn get(&self, name: &str) -> Result<&Value<R>> {
        self.values
            .get(name)
            .ok_or_else(|| ProtocolError::Missing(format!("no value named `{name}`")))
    }

    /// This party's pair of the private value `name` (`None` at a party that is not a server),
    /// or an error if `name` is public.
    pub fn rep_of(&self, name: &str) -> Result<Option<&Rep<R>>> {
        match self.get(name)? {
            Value::Private { share, .. } => Ok(share.as_ref()),
            Value::Public { .. } => Err(ProtocolError::Missing(format!(
                "`{name}` is public, not shared"
            ))),
        }
    }

    /// Binds `name` to `v`.
    pub fn set(&mut self, name: &str, v: Value<R>) {
        self.values.insert(name.to_string(), v);
    }

    /// Stores a public value known to every party (encoded in the party's ring).
    pub fn set_public(&mut self, name: &str, value: Tensor<R>) {
        let shape = value.shape().to_vec();
        self.set(
            name,
            Value::Public {
                value: Some(value),
                shape,
            },
        );
    }

    /// Starts the step `name` (with the current prefix, e.g. `x^3: `, inside polynomials).
    pub fn step(&self, ctx: &mut dyn Context, name: &str) -> Result<()> {
        if self.prefix.is_empty() {
            ctx.step(name)
        } else {
            ctx.step(&format!("{}: {name}", self.prefix))
        }
    }

    /// The pairwise keys, set up first (step [`steps::KEY_SETUP`]: 3 offline messages, 96 B) if
    /// this is the first op that needs them. Every party calls it at the same op, so all walk
    /// the key-setup step together; a party that is not a server gets empty keys.
    pub fn keys(&mut self, ctx: &mut dyn Context) -> Result<&mut Keys> {
        if self.keys.is_none() {
            self.keys = Some(Keys::setup(ctx, &self.seats)?);
        }
        Ok(self.keys.as_mut().expect("just set up"))
    }

    /// Whether the keys are set up.
    pub fn keys_ready(&self) -> bool {
        self.keys.is_some()
    }

    /// Runs program op `op`, storing its result under `name`.
    pub fn run_op(&mut self, ctx: &mut dyn Context, name: &str, op: &Op) -> Result<()> {
        if crate::composite::handles(op) {
            let shapes =
                crate::composite::operand_shapes(op, |n| self.get(n).map(|v| v.shape().to_vec()))?;
            let fixed = self.fixed();
            return crate::composite::run(self, ctx, name, op, &shapes, &fixed);
        }
        if let Err(why) = supports_wide(op, R::BITS) {
            return Err(ProtocolError::Unsupported(why.replace('\n', "; ")));
        }
        if matches!(
            op,
            Op::Relu(_) | Op::MaxPool2d { .. } | Op::Argmax(_) | Op::Greater(..)
        ) || (matches!(op, Op::Sigmoid(_))
            && self.settings.sigmoid == crate::protocol::SigmoidMethod::Piecewise)
        {
            // The boolean part's circuits are over 64-bit words: only `Aby3Party<u64>` runs them.
            let me: &mut dyn std::any::Any = self;
            let narrow = me.downcast_mut::<Aby3Party<u64>>().ok_or_else(|| {
                ProtocolError::Unsupported(format!(
                    "ABY3's boolean part ({}) runs over Z_2^64 only; use ring_bits: 64",
                    op.kind()
                ))
            })?;
            return narrow.run_boolean(ctx, name, op);
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
            let result = self.gradient_op(ctx, name, op, &operands, &out_shape)?;
            self.set(name, result);
            return Ok(());
        }
        let result = match op {
            Op::Add(..) | Op::Sub(..) | Op::Neg(_) => {
                self.additive(ctx, op, &operands, &out_shape)?
            }
            Op::ReduceSum { axis, .. } => {
                // A sum over the only axis of a 1-D tensor is 0-d; the shape rule calls it [1].
                let s = out_shape.clone();
                let axis = *axis;
                self.unary_local(ctx, &operands[0], &out_shape, move |t| {
                    let sum = crate::tensor::reduce_sum(t, axis);
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
            Op::Mul(a, b) => self.product_op(ctx, Bilinear::Elementwise, a, b, &out_shape)?,
            Op::Square(a) => self.product_op(ctx, Bilinear::Elementwise, a, a, &out_shape)?,
            Op::MatMul(a, b) => self.product_op(ctx, Bilinear::MatMul, a, b, &out_shape)?,
            Op::Conv2d {
                input,
                filters,
                stride,
                padding,
            } => self.product_op(
                ctx,
                Bilinear::Conv2d {
                    stride: *stride,
                    padding: *padding,
                },
                input,
                filters,
                &out_shape,
            )?,
            Op::AvgPool2d { kernel, stride, .. } => self.avgpool2d(
                ctx,
                &operands[0],
                *kernel,
                stride.unwrap_or(*kernel),
                &out_shape,
            )?,
            Op::Sigmoid(_) => self.polynomial(ctx, name, &operands[0], &crate::pond::SIGMOID)?,
            Op::Tanh(_) => self.polynomial(ctx, name, &operands[0], &crate::pond::TANH)?,
            Op::Reveal(_) => self.reveal(ctx, &operands[0])?,
            Op::Slice { .. } | Op::Pad { .. } => {
                self.unary_local(ctx, &operands[0], &out_shape, |t| {
                    crate::local::apply(op, t)
                })?
            }
            other => {
                return Err(ProtocolError::Unsupported(format!(
                    "{} is a composite op (`crate::composite` runs it)",
                    other.kind()
                )))
            }
        };
        self.set(name, result);
        Ok(())
    }
}

/// Whether ABY3 over Z_2^`bits` runs `op`: every op at 64 bits; at 128 bits the arithmetic
/// part only — ReLU, MaxPool2d, Argmax, Greater (and the composites built on it) and
/// MaxPool2dGrad and MaxPool2dWithOneHot need the
/// boolean part's 64-bit circuits. The text before the first newline is what is missing, the
/// rest what to use instead. (The piecewise sigmoid is a setting, refused by `check_settings`.)
pub fn supports_wide(op: &Op, bits: u32) -> std::result::Result<(), String> {
    if bits == 64 {
        return Ok(());
    }
    if let Some(r) = crate::composite::supports(op, &|sub| supports_wide(sub, bits)) {
        return r;
    }
    match op {
        Op::Relu(_)
        | Op::MaxPool2d { .. }
        | Op::Argmax(_)
        | Op::Greater(..)
        | Op::MaxPool2dGrad { .. }
        | Op::MaxPool2dWithOneHot { .. } => Err(format!(
            "ABY3's {} needs its boolean part, which runs over Z_2^64 only, not ring_bits: {bits}\n\
             use ring_bits: 64, or a polynomial op (Sigmoid, Tanh) at 128 bits",
            op.kind()
        )),
        _ => Ok(()),
    }
}

impl Aby3Party<u64> {
    /// The ops of the boolean part (Z_2^64 only): ReLU, MaxPool2d, Argmax, Greater, the
    /// piecewise sigmoid.
    fn run_boolean(&mut self, ctx: &mut dyn Context, name: &str, op: &Op) -> Result<()> {
        let args: Vec<&Value> = op
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
        let result = match op {
            Op::Greater(..) => self.greater_op(ctx, &operands[0], &operands[1], &out_shape)?,
            Op::Sigmoid(_) => self.sigmoid_piecewise(ctx, &operands[0], &out_shape)?,
            _ => self.exact(ctx, op, &operands[0], &out_shape)?,
        };
        self.set(name, result);
        Ok(())
    }

    /// ReLU, MaxPool2d or Argmax of `x` with ABY3's boolean circuits (`nonlinear`); of a public
    /// `x`, computed locally in the clear (one local step, so every party walks the same steps).
    /// Argmax indices come out of the circuit as integers; they are scaled by 2^f here (a local
    /// multiplication by a public constant) so that, like every program value, they are fixed
    /// point and reconstruct to the index itself.
    fn exact(
        &mut self,
        ctx: &mut dyn Context,
        op: &Op,
        x: &str,
        out_shape: &[usize],
    ) -> Result<Value> {
        let in_shape = self.get(x)?.shape().to_vec();
        let one = 1u64 << self.fixed().frac_bits;
        if let Value::Public { value, .. } = self.get(x)?.clone() {
            self.step(ctx, &format!("{} of a public value (local)", op.kind()))?;
            let value = value.map(|v| match op {
                Op::Relu(_) => crate::clear::relu(&v),
                Op::MaxPool2d { kernel, stride, .. } => {
                    crate::clear::maxpool2d(&v, *kernel, stride.unwrap_or(*kernel), out_shape)
                }
                _ => crate::clear::argmax(&v, out_shape, one),
            });
            return Ok(Value::Public {
                value,
                shape: out_shape.to_vec(),
            });
        }
        let share = self.rep_of(x)?.cloned();
        let seats = self.seats.clone();
        let keys = self.keys(ctx)?;
        let share = match op {
            Op::Relu(_) => nonlinear::relu(ctx, &seats, keys, share.as_ref(), &in_shape)?,
            Op::MaxPool2d { kernel, stride, .. } => nonlinear::maxpool2d(
                ctx,
                &seats,
                keys,
                share.as_ref(),
                &in_shape,
                *kernel,
                stride.unwrap_or(*kernel),
            )?,
            _ => nonlinear::argmax(ctx, &seats, keys, share.as_ref(), &in_shape)?
                .map(|r| r.map(|t| t.mapv(|e| e.wrapping_mul(one)))),
        };
        Ok(Value::Private {
            share,
            shape: out_shape.to_vec(),
        })
    }
}

impl Aby3Party<u64> {
    /// tf-encrypted's piecewise-linear sigmoid (`nonlinear::sigmoid_pieces`, at scale 2f) and its
    /// truncation, inside the call `sigmoid`; of a public operand, the same pieces in the clear.
    fn sigmoid_piecewise(
        &mut self,
        ctx: &mut dyn Context,
        x: &str,
        out_shape: &[usize],
    ) -> Result<Value> {
        let fixed = self.fixed();
        if let Value::Public { value, .. } = self.get(x)?.clone() {
            self.step(ctx, "piecewise sigmoid of a public value (local)")?;
            // The same pieces as the circuit, at scale 2f, then the public shift.
            let value = value.map(|v| {
                let y2 = v.mapv(|e| nonlinear::sigmoid_piecewise_plain(&fixed, e));
                truncate::truncate_public(&y2, fixed.frac_bits)
            });
            return Ok(Value::Public {
                value,
                shape: out_shape.to_vec(),
            });
        }
        let share = self.rep_of(x)?.cloned();
        let seats = self.seats.clone();
        ctx.enter("sigmoid");
        let keys = self.keys(ctx)?;
        let y2 = nonlinear::sigmoid_pieces(ctx, &seats, keys, &fixed, share.as_ref(), out_shape);
        let result = match y2 {
            Ok(y2) => self.truncate(ctx, y2.map(truncate::Input::Shared), false, out_shape),
            Err(e) => Err(e),
        };
        ctx.leave();
        Ok(Value::Private {
            share: result?,
            shape: out_shape.to_vec(),
        })
    }
}
