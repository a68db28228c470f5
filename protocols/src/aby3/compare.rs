//! The program op `Greater` under ABY3: [a > b] as a replicated sharing of 0 or 2^f (fixed-point
//! 0 or 1): the boolean MSB of b − a (`nonlinear::greater`, the comparison ABY3's MaxPool tree
//! uses), bit2A, and a local scaling by 2^f. Operands broadcast; a public operand enters as the
//! sharing (c, 0, 0); two public operands are compared in the clear. `Where`, `Max`, `Min`,
//! `Abs`, `Sign` and `Less` are built on it (`crate::composite`).

use super::rep::Rep;
use super::{boolean, nonlinear, Aby3Party, Value};
use crate::context::Context;
use crate::error::Result;
use crate::tensor::{self, Tensor};

impl Aby3Party {
    /// This server's pair of operand `x` at `shape` (broadcast), or `None` at other parties.
    fn rep_at(&self, x: &str, shape: &[usize]) -> Result<Option<Rep>> {
        let Some(i) = self.seat else {
            return Ok(None);
        };
        let zero = tensor::zeros::<u64>(shape);
        let widen = |t: &Tensor<u64>| tensor::add(&zero, t);
        Ok(match self.get(x)? {
            Value::Private { share, .. } => match share {
                Some(r) => Some(r.try_map(widen)?),
                None => None,
            },
            Value::Public { value, .. } => match value {
                Some(v) => Some(Rep::public(i, &widen(v)?)),
                None => None,
            },
        })
    }

    /// [a > b] in fixed point (0 or 2^f): MSB(b − a) in the boolean part, bit2A, × 2^f.
    pub(crate) fn greater_op(
        &mut self,
        ctx: &mut dyn Context,
        a: &str,
        b: &str,
        out_shape: &[usize],
    ) -> Result<Value> {
        let one = 1u64 << self.fixed().frac_bits;
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
        let x = self.rep_at(a, out_shape)?;
        let y = self.rep_at(b, out_shape)?;
        let seats = self.seats.clone();
        let keys = self.keys(ctx)?;
        let bit = nonlinear::greater(ctx, &seats, keys, x.as_ref(), y.as_ref(), out_shape)?;
        let arith = boolean::b2a_bit(ctx, &seats, keys, bit.as_ref(), out_shape)?;
        let share = arith.map(|r| {
            let fixed = r.map(|t| tensor::scale(t, one));
            ctx.record_share("[a > b] · 2^f (fixed point)", &fixed.lo);
            fixed
        });
        Ok(Value::Private {
            share,
            shape: out_shape.to_vec(),
        })
    }
}
