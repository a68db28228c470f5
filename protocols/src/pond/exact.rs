//! Exact ReLU, MaxPool and argmax inside a Pond program, by SecureNN (as tf-encrypted's `SecureNN`
//! protocol extends Pond): Pond's linear layers, SecureNN's nonlinear ones, the crypto producer
//! as SecureNN's helper P2. The SecureNN keys are set up at the first such op (3 offline
//! messages, 96 bytes) and reused for the rest of the run.

use super::{Nonlinear, PondParty, Value};
use crate::context::Context;
use crate::error::{ProtocolError, Result};
use crate::program::Op;
use crate::securenn::{self, Keys, Variant};
use crate::tensor;

impl PondParty<u64> {
    /// Runs an exact nonlinear op (ReLU, MaxPool2d, Argmax) by SecureNN and stores its result
    /// under `name`.
    pub(crate) fn run_exact(
        &mut self,
        ctx: &mut dyn Context,
        name: &str,
        op: &Op,
        operands: &[String],
        out_shape: &[usize],
        dying: &[String],
    ) -> Result<()> {
        let result = match op {
            Op::Relu(_) => {
                let x = self.operand(&operands[0], dying)?;
                self.securenn_relu(ctx, x)?
            }
            Op::MaxPool2d { kernel, stride, .. } => {
                let x = self.operand(&operands[0], dying)?;
                self.securenn_maxpool(ctx, x, *kernel, stride.unwrap_or(*kernel), out_shape)?
            }
            Op::Argmax(_) => {
                let x = self.operand(&operands[0], dying)?;
                self.securenn_argmax(ctx, x, out_shape)?
            }
            Op::Greater(..) => self.securenn_greater(ctx, &operands[0], &operands[1], out_shape)?,
            _ => {
                return Err(ProtocolError::Unsupported(format!(
                    "`{}` is not an exact nonlinear op",
                    op.kind()
                )))
            }
        };
        self.set(name, result);
        Ok(())
    }

    /// The value of a one-operand exact op's operand `x`: moved out of this party's values when
    /// it dies with the op (`dying`, [`crate::protocol::Party::last_use`]: no later op reads it,
    /// and it is forgotten after this one), else a copy (issue 11: C's peak memory).
    fn operand(&mut self, x: &str, dying: &[String]) -> Result<Value<u64>> {
        if dying.iter().any(|d| d == x) {
            if let Some(v) = self.take_value(x) {
                return Ok(v);
            }
        }
        Ok(self.get(x)?.clone())
    }

    pub(super) fn securenn_variant(&self) -> Result<Variant> {
        match self.cfg.nonlinear {
            Nonlinear::SecureNN => Ok(Variant::Secure),
            Nonlinear::SecureNNAsPublished => Ok(Variant::AsPublished),
            Nonlinear::SecureNNShortcut => Ok(Variant::Shortcut),
            Nonlinear::Polynomial => Err(ProtocolError::Unsupported(
                "exact nonlinear layers need the securenn protocol".into(),
            )),
        }
    }

    /// Runs `f` with this party's SecureNN keys, setting them up on first use.
    pub(super) fn with_securenn_keys<T>(
        &mut self,
        ctx: &mut dyn Context,
        f: impl FnOnce(&mut dyn Context, &mut Keys) -> Result<T>,
    ) -> Result<T> {
        let mut keys = match self.securenn_keys.take() {
            Some(k) => k,
            None => Keys::setup(ctx, &self.place)?,
        };
        let out = f(ctx, &mut keys);
        self.securenn_keys = Some(keys);
        out
    }

    /// Exact ReLU: SecureNN's DReLU and SelectShare on a private value; a public value is
    /// computed in the clear by the parties that know it. No truncation is needed.
    pub(crate) fn securenn_relu(&mut self, ctx: &mut dyn Context, x: Value) -> Result<Value> {
        let variant = self.securenn_variant()?;
        match x {
            Value::Public { value, shape } => {
                self.step(ctx, "relu of a public value (local)")?;
                let value = value.map(|v| crate::clear::relu(&v));
                Ok(Value::Public { value, shape })
            }
            Value::Private { share, shape } => {
                let place = self.place;
                let share = self.with_securenn_keys(ctx, |ctx, keys| {
                    securenn::relu(ctx, &place, keys, variant, share.as_ref(), &shape)
                })?;
                Ok(Value::Private { share, shape })
            }
        }
    }

    /// Exact MaxPool (SecureNN comparison tree) over kernel×kernel windows with `stride`.
    pub(crate) fn securenn_maxpool(
        &mut self,
        ctx: &mut dyn Context,
        x: Value,
        kernel: usize,
        stride: usize,
        out_shape: &[usize],
    ) -> Result<Value> {
        let variant = self.securenn_variant()?;
        match x {
            Value::Public { value, .. } => {
                self.step(ctx, "maxpool of a public value (local)")?;
                let value = value.map(|v| crate::clear::maxpool2d(&v, kernel, stride, out_shape));
                Ok(Value::Public {
                    value,
                    shape: out_shape.to_vec(),
                })
            }
            Value::Private { share, shape } => {
                let place = self.place;
                let share = self.with_securenn_keys(ctx, |ctx, keys| {
                    let share = share.map(std::borrow::Cow::Owned);
                    securenn::maxpool_of(ctx, &place, keys, variant, share, &shape, kernel, stride)
                })?;
                Ok(Value::Private {
                    share,
                    shape: out_shape.to_vec(),
                })
            }
        }
    }

    /// Exact argmax along the last axis (SecureNN comparison tree selecting value and index).
    /// SecureNN yields shares of the index as an integer; each server multiplies its share by
    /// 2^f (local, exact), so the result is the index in the program's fixed point.
    pub(crate) fn securenn_argmax(
        &mut self,
        ctx: &mut dyn Context,
        x: Value,
        out_shape: &[usize],
    ) -> Result<Value> {
        let variant = self.securenn_variant()?;
        let one = 1u64 << self.cfg.fixed.frac_bits;
        match x {
            Value::Public { value, .. } => {
                self.step(ctx, "argmax of a public value (local)")?;
                let value = value.map(|v| crate::clear::argmax(&v, out_shape, one));
                Ok(Value::Public {
                    value,
                    shape: out_shape.to_vec(),
                })
            }
            Value::Private { share, shape } => {
                let place = self.place;
                let index = self.with_securenn_keys(ctx, |ctx, keys| {
                    securenn::argmax(ctx, &place, keys, variant, share.as_ref(), &shape)
                })?;
                let share = index.map(|i| {
                    let fixed = tensor::scale(&i, one);
                    ctx.record_share("argmax(x) · 2^f (fixed point)", &fixed);
                    fixed
                });
                Ok(Value::Private {
                    share,
                    shape: out_shape.to_vec(),
                })
            }
        }
    }
}
