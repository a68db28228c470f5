//! tf-encrypted's polynomial activations (the approximations of [`crate::pond`]) under ABY3:
//! powers x² = x·x and x^k = x^(k−2)·x², each a product fused with its truncation, then the
//! weighted sum Σ c_k·x^k at scale 2f (local) and one stand-alone truncation.

use super::product::Bilinear;
use super::rep::Rep;
use super::truncate::Input;
use super::{steps, Aby3Party, Value};
use crate::context::Context;
use crate::error::Result;
use crate::pond::Approximation;
use crate::ring::Z2k;
use crate::tensor::{self, Tensor};
use std::collections::HashMap;

/// Whether the evaluation computes power k (x², and the powers of each parity up to the degree).
pub(crate) fn computes_power(approx: &Approximation, k: u32) -> bool {
    k == 2 || approx.terms.iter().any(|&(p, _)| p >= k && p % 2 == k % 2)
}

/// The polynomial's degree.
pub(crate) fn degree(approx: &Approximation) -> u32 {
    approx.terms.iter().map(|t| t.0).max().unwrap_or(0)
}

/// P: the products an evaluation performs.
pub fn polynomial_products(approx: &Approximation) -> u32 {
    (2..=degree(approx))
        .filter(|&k| computes_power(approx, k))
        .count() as u32
}

impl<R: Z2k> Aby3Party<R> {
    /// Evaluates `approx` on `x`; the power products' steps carry the prefix `x^k: `.
    pub(crate) fn polynomial(
        &mut self,
        ctx: &mut dyn Context,
        _out: &str,
        x: &str,
        approx: &Approximation,
    ) -> Result<Value<R>> {
        let vx = self.get(x)?.clone();
        let shape = vx.shape().to_vec();
        let cfg = self.fixed();
        let xs = match vx {
            Value::Public { value, .. } => {
                self.step(ctx, steps::LOCAL_POLYNOMIAL)?;
                let value =
                    value.map(|v| v.mapv(|e| cfg.encode_in::<R>(approx.eval(cfg.decode_in(e)))));
                return Ok(Value::Public { value, shape });
            }
            Value::Private { share, .. } => share,
        };
        self.keys(ctx)?;
        let mut powers: HashMap<u32, Option<Rep<R>>> = HashMap::new();
        powers.insert(1, xs);
        for k in 2..=degree(approx) {
            if !computes_power(approx, k) {
                continue;
            }
            let (a, b) = if k == 2 { (1, 1) } else { (k - 2, 2) };
            let input = match (powers[&a].clone(), powers[&b].clone()) {
                (Some(x), Some(y)) => Some(Input::Product {
                    kind: Bilinear::Elementwise,
                    x,
                    y,
                }),
                _ => None,
            };
            let saved = std::mem::replace(&mut self.prefix, format!("{x}^{k}"));
            // The power's product is a sub-protocol of the op: its steps carry the path `x^k`.
            ctx.enter(&self.prefix.clone());
            let r = self.truncate(ctx, input, true, &shape);
            ctx.leave();
            self.prefix = saved;
            powers.insert(k, r?);
        }
        // Σ c_k · x^k at scale 2f (c_0 enters as c_0·2^f into component 0), then one truncation.
        self.step(ctx, steps::WEIGHTED_SUM)?;
        let acc = match self.seat {
            Some(i) => {
                let zeros: Tensor<R> = tensor::zeros(&shape);
                let mut acc = Rep::new(zeros.clone(), zeros);
                for &(k, c) in approx.terms {
                    let ck: R = cfg.encode_in(c);
                    if k == 0 {
                        let c0 = ck.mul(R::pow2(cfg.frac_bits).expect("f < the ring width"));
                        acc = acc.add_public(i, &Tensor::from_elem(shape.as_slice(), c0))?;
                    } else if let Some(Some(p)) = powers.get(&k) {
                        acc = acc.add(&p.map(|t| tensor::scale(t, ck)))?;
                    }
                }
                ctx.charge((2 * approx.terms.len() * acc.lo.len()) as u64);
                acc.record(ctx, "Σ c_k·x^k (scale 2f)");
                Some(acc)
            }
            None => None,
        };
        let share = self.truncate(ctx, acc.map(Input::Shared), false, &shape)?;
        Ok(Value::Private { share, shape })
    }
}
