//! The program op `Greater` inside a Pond program with SecureNN's nonlinear layers: [a > b] as
//! shares of 0 or 2^f (fixed-point 0 or 1), by SecureNN's `greater` (1 − DReLU(b − a)), the
//! same comparison its MaxPool tree uses. Operands broadcast; a public operand enters as the
//! sharing (value, 0) at (server0, server1); two public operands are compared in the clear.
//! `Where`, `Max`, `Min`, `Abs`, `Sign` and `Less` are built on it (`crate::composite`).

use super::{PondParty, Value};
use crate::context::Context;
use crate::error::Result;
use crate::securenn;
use crate::tensor::{self, Tensor};

impl PondParty<u64> {
    /// A server's sharing of operand `x` at `shape` (broadcast), or `None` at other parties.
    fn share_at(&self, x: &str, shape: &[usize]) -> Result<Option<Tensor<u64>>> {
        let Some(i) = self.server_index() else {
            return Ok(None);
        };
        let zero = tensor::zeros::<u64>(shape);
        let t = match self.get(x)? {
            Value::Private { share, .. } => share.clone(),
            Value::Public { value, .. } if i == 0 => value.clone(),
            Value::Public { .. } => Some(zero.clone()),
        };
        // Adding a broadcast zero gives the operand at the joint shape.
        t.map(|t| tensor::add(&zero, &t)).transpose()
    }

    /// [a > b] in fixed point (0 or 2^f), SecureNN's exact comparison (`securenn::greater`).
    pub(crate) fn securenn_greater(
        &mut self,
        ctx: &mut dyn Context,
        a: &str,
        b: &str,
        out_shape: &[usize],
    ) -> Result<Value<u64>> {
        let variant = self.securenn_variant()?;
        let one = 1u64 << self.cfg.fixed.frac_bits;
        if let (Value::Public { value: va, .. }, Value::Public { value: vb, .. }) =
            (self.get(a)?.clone(), self.get(b)?.clone())
        {
            let step = |name: &str| self.step(ctx, name);
            let value =
                crate::clear::greater_of_public(step, va.as_ref(), vb.as_ref(), out_shape, one)?;
            return Ok(Value::Public {
                value,
                shape: out_shape.to_vec(),
            });
        }
        let x = self.share_at(a, out_shape)?;
        let y = self.share_at(b, out_shape)?;
        let place = self.place;
        let bit = self.with_securenn_keys(ctx, |ctx, keys| {
            securenn::greater(
                ctx,
                &place,
                keys,
                variant,
                x.as_ref(),
                y.as_ref(),
                out_shape,
            )
        })?;
        let share = bit.map(|g| {
            let fixed = tensor::scale(&g, one);
            ctx.record_share("[a > b] · 2^f (fixed point)", &fixed);
            fixed
        });
        Ok(Value::Private {
            share,
            shape: out_shape.to_vec(),
        })
    }
}
