//! tf-encrypted's polynomial activations: sigmoid, tanh and relu as fixed polynomials evaluated
//! with Beaver products, reusing the masks of x and x².
//!
//! Powers are built as x² = x·x and x^k = x^(k−2)·x², so every power after x² reuses the opened
//! mask of x² (and of x^(k−2) from the step before). The weighted sum Σ cₖ·x^k is formed at scale
//! 2f and truncated once.

use super::{PondParty, Value};
use crate::context::{Context, ValueClass};
use crate::error::Result;
use crate::fixed::Hazard;
use crate::ring::Z2k;
use crate::tensor::{self, Tensor};

/// A polynomial approximation of an activation function.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Approximation {
    /// Name of the approximated function.
    pub function: &'static str,
    /// (power, coefficient) pairs.
    pub terms: &'static [(u32, f64)],
    /// The approximation is within [`Approximation::accuracy`] of the function on [-range, range].
    pub range: f64,
    /// Largest absolute error on the accurate range.
    pub accuracy: f64,
}

/// tf-encrypted's degree-9 sigmoid.
pub const SIGMOID: Approximation = Approximation {
    function: "sigmoid",
    terms: &[
        (0, 0.5),
        (1, 0.2159198015),
        (3, -0.0082176259),
        (5, 0.0001825597),
        (7, -0.0000018848),
        (9, 0.0000000072),
    ],
    range: 8.0,
    accuracy: 0.024,
};

/// tf-encrypted's degree-7 tanh.
pub const TANH: Approximation = Approximation {
    function: "tanh",
    terms: &[
        (1, 0.852721056),
        (3, -0.12494112),
        (5, 0.010654528),
        (7, -0.000423424),
    ],
    range: 2.0,
    accuracy: 0.052,
};

/// tf-encrypted's degree-8 relu (inaccurate away from the origin: tf-encrypted issue #164).
pub const RELU: Approximation = Approximation {
    function: "relu",
    terms: &[
        (0, 0.44015372000819103),
        (1, 0.5),
        (2, 0.11217537671414643),
        (4, -0.0013660836712429923),
        (6, 9.009136367360004e-06),
        (8, -2.1097433984e-08),
    ],
    range: 10.0,
    accuracy: 0.45,
};

impl Approximation {
    /// Evaluates the polynomial in f64 (the reference the protocol must match).
    pub fn eval(&self, x: f64) -> f64 {
        self.terms.iter().map(|&(k, c)| c * x.powi(k as i32)).sum()
    }

    /// An [`Hazard::ApproximationRange`] if any input lies outside the accurate range.
    pub fn check_range(&self, inputs: impl IntoIterator<Item = f64>) -> Option<Hazard> {
        let max_abs = inputs.into_iter().fold(0f64, |m, v| m.max(v.abs()));
        (max_abs > self.range).then(|| Hazard::ApproximationRange {
            function: self.function.to_string(),
            max_abs,
            range: self.range,
        })
    }
}

impl<R: Z2k> PondParty<R> {
    /// Evaluates `approx` on `x`, naming intermediate powers `{out}.x^k`.
    pub(crate) fn polynomial(
        &mut self,
        ctx: &mut dyn Context,
        out: &str,
        x: &str,
        approx: &Approximation,
    ) -> Result<Value<R>> {
        let vx = self.get(x)?.clone();
        let shape = vx.shape().to_vec();
        if let Value::Public { value, .. } = vx {
            self.step(ctx, "local polynomial")?;
            let cfg = self.cfg.fixed;
            let value = value.map(|v| v.mapv(|e| cfg.encode_in(approx.eval(cfg.decode_in(e)))));
            return Ok(Value::Public { value, shape });
        }
        let max_power = approx.terms.iter().map(|t| t.0).max().unwrap_or(0);
        // Intermediate powers are named `{out}.{x}^k`, primed until no program value or cached
        // mask starts with that name: a power must neither overwrite a value nor reuse its mask.
        let mut stem = format!("{out}.{x}^");
        while self
            .values
            .keys()
            .chain(self.masks.keys())
            .any(|n| n.starts_with(&stem))
        {
            stem.push('\'');
        }
        let power_name = |k: u32| {
            if k == 1 {
                x.to_string()
            } else {
                format!("{stem}{k}")
            }
        };
        // Powers x², then x^k = x^(k−2) · x² for the parities the polynomial needs.
        let needed = |k: u32| k == 2 || approx.terms.iter().any(|&(p, _)| p >= k && p % 2 == k % 2);
        let saved_prefix = std::mem::take(&mut self.prefix);
        let mut result: Result<()> = Ok(());
        for k in 2..=max_power {
            if !needed(k) {
                continue;
            }
            let (a, b) = if k == 2 {
                (power_name(1), power_name(1))
            } else {
                (power_name(k - 2), power_name(2))
            };
            self.prefix = format!("{x}^{k}");
            // The power's product is a sub-protocol of the op: its steps carry the path `x^k`.
            ctx.enter(&self.prefix);
            result = self
                .product(ctx, super::beaver::Bilinear::Elementwise, &a, &b, &shape)
                .map(|v| self.set(&power_name(k), v));
            ctx.leave();
            if result.is_err() {
                break;
            }
        }
        self.prefix = saved_prefix;
        result?;

        // Σ cₖ · x^k at scale 2f (c₀ enters as c₀·2^f on server0), then one truncation.
        self.step(ctx, "weighted sum")?;
        let cfg = self.cfg.fixed;
        let acc = match self.server_index() {
            Some(i) => {
                let mut acc: Tensor<R> = tensor::zeros(&shape);
                let one = R::pow2(cfg.frac_bits).expect("frac_bits < ring bits");
                for &(k, c) in approx.terms {
                    let ck: R = cfg.encode_in(c);
                    if k == 0 {
                        if i == 0 {
                            let c0 = ck.mul(one);
                            acc.mapv_inplace(|v| v.add(c0));
                        }
                    } else {
                        let p = self
                            .share_of(&power_name(k))?
                            .expect("server holds shares")
                            .clone();
                        acc = tensor::add(&acc, &tensor::scale(&p, ck))?;
                    }
                }
                ctx.charge((approx.terms.len() * acc.len()) as u64);
                R::record(ctx, ValueClass::Share, "Σ cₖ·x^k (scale 2f)", &acc);
                Some(acc)
            }
            None => None,
        };
        let share = self.truncate(ctx, acc, &shape)?;
        // The powers are internal to this op: drop them and their masks, so that a later value
        // of the same name starts fresh.
        for k in 2..=max_power {
            self.values.remove(&power_name(k));
            self.masks.remove(&power_name(k));
        }
        Ok(Value::Private { share, shape })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(name: &str, x: f64) -> f64 {
        match name {
            "sigmoid" => 1.0 / (1.0 + (-x).exp()),
            "tanh" => x.tanh(),
            _ => x.max(0.0),
        }
    }

    #[test]
    fn approximations_meet_their_documented_accuracy_on_their_range() {
        for a in [SIGMOID, TANH, RELU] {
            let worst = (0..=2000)
                .map(|i| -a.range + 2.0 * a.range * i as f64 / 2000.0)
                .map(|x| (a.eval(x) - exact(a.function, x)).abs())
                .fold(0f64, f64::max);
            assert!(
                worst <= a.accuracy,
                "{}: worst error {worst} > {}",
                a.function,
                a.accuracy
            );
        }
    }
}
