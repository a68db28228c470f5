//! Linear ABY3 operations: add, sub and neg for every public/private mix, the reshape family and
//! sums (all local), products (with a fused truncation), average pooling, and the opening of a
//! value to the three servers.

use super::product::Bilinear;
use super::rep::{self, Rep};
use super::truncate::{truncate_public, Input};
use super::{steps, Aby3Party, Value};
use crate::context::Context;
use crate::error::{ProtocolError, Result};
use crate::program::Op;
use crate::ring::Z2k;
use crate::tensor::{self, Tensor};

impl<R: Z2k> Aby3Party<R> {
    /// Add, sub and neg. Local: 0 bytes, 0 rounds. Private ± private adds the pairs
    /// componentwise; a public addend goes into component x_0 only (server0's `lo`, server2's
    /// `hi`), so the sum of the components moves by exactly it and every pair stays consistent.
    pub(crate) fn additive(
        &mut self,
        ctx: &mut dyn Context,
        op: &Op,
        operands: &[String],
        out_shape: &[usize],
    ) -> Result<Value<R>> {
        self.step(ctx, steps::LOCAL)?;
        let args: Vec<Value<R>> = operands
            .iter()
            .map(|n| self.get(n).cloned())
            .collect::<Result<_>>()?;
        let sub = matches!(op, Op::Sub(..));
        let pf = |a: &Tensor<R>, b: &Tensor<R>| {
            if sub {
                tensor::sub(a, b)
            } else {
                tensor::add(a, b)
            }
        };
        let out = out_shape.to_vec();
        let seat = self.seat;
        let private = |share: Option<Rep<R>>| Value::Private {
            share,
            shape: out.clone(),
        };
        let result = match (op, args.as_slice()) {
            (Op::Neg(_), [Value::Private { share, .. }]) => private(share.as_ref().map(Rep::neg)),
            (Op::Neg(_), [Value::Public { value, .. }]) => Value::Public {
                value: value.as_ref().map(tensor::neg),
                shape: out.clone(),
            },
            (_, [Value::Public { value: a, .. }, Value::Public { value: b, .. }]) => {
                let value = match (a, b) {
                    (Some(a), Some(b)) => Some(pf(a, b)?),
                    _ => None,
                };
                Value::Public {
                    value,
                    shape: out.clone(),
                }
            }
            (_, [Value::Private { share: a, .. }, Value::Private { share: b, .. }]) => {
                private(match (a, b) {
                    (Some(a), Some(b)) => Some(if sub { a.sub(b)? } else { a.add(b)? }),
                    _ => None,
                })
            }
            (_, [Value::Private { share: a, .. }, Value::Public { value: p, .. }]) => {
                private(match (seat, a, p) {
                    (Some(i), Some(a), Some(p)) => {
                        let p = if sub { tensor::neg(p) } else { p.clone() };
                        Some(a.add_public(i, &p)?)
                    }
                    _ => None,
                })
            }
            (_, [Value::Public { value: p, .. }, Value::Private { share: b, .. }]) => {
                private(match (seat, b, p) {
                    (Some(i), Some(b), Some(p)) => {
                        let b = if sub { b.neg() } else { b.clone() };
                        Some(b.add_public(i, p)?)
                    }
                    _ => None,
                })
            }
            _ => {
                return Err(ProtocolError::Shape {
                    op: op.kind().into(),
                    detail: "wrong number of operands".into(),
                })
            }
        };
        if let Value::Private { share: Some(s), .. } = &result {
            ctx.charge(2 * s.lo.len() as u64);
            s.record(ctx, "result");
        }
        Ok(result)
    }

    /// A local, linear, shape-changing map applied to both components (or the public value).
    pub(crate) fn unary_local(
        &mut self,
        ctx: &mut dyn Context,
        x: &str,
        out_shape: &[usize],
        f: impl Fn(&Tensor<R>) -> Tensor<R>,
    ) -> Result<Value<R>> {
        self.step(ctx, steps::LOCAL)?;
        let result = match self.get(x)? {
            Value::Private { share, .. } => Value::Private {
                share: share.as_ref().map(|r| r.map(&f)),
                shape: out_shape.to_vec(),
            },
            Value::Public { value, .. } => Value::Public {
                value: value.as_ref().map(&f),
                shape: out_shape.to_vec(),
            },
        };
        if let Value::Private { share: Some(s), .. } = &result {
            ctx.charge(2 * s.lo.len() as u64);
            s.record(ctx, "result");
        }
        Ok(result)
    }

    /// A product B(a, b) (mul, square, matmul, conv2d) with its truncation.
    ///
    /// - public × public: local, truncated exactly;
    /// - private × public: B applied to both components (local, step `local product`), then a
    ///   stand-alone truncation;
    /// - private × private: the 3-out-of-3 product fused with the truncation (Π_trunc1: 3n
    ///   elements, two rounds; Π_trunc2: 4n elements, one round; see [`super::truncate`]).
    pub(crate) fn product_op(
        &mut self,
        ctx: &mut dyn Context,
        kind: Bilinear,
        a: &str,
        b: &str,
        out_shape: &[usize],
    ) -> Result<Value<R>> {
        let (va, vb) = (self.get(a)?.clone(), self.get(b)?.clone());
        let d = self.fixed().frac_bits;
        let private = |share| Value::Private {
            share,
            shape: out_shape.to_vec(),
        };
        match (va, vb) {
            (Value::Public { value: pa, .. }, Value::Public { value: pb, .. }) => {
                self.step(ctx, steps::LOCAL)?;
                let value = match (pa, pb) {
                    (Some(x), Some(y)) => Some(truncate_public(&kind.apply(&x, &y)?, d)),
                    _ => None,
                };
                Ok(Value::Public {
                    value,
                    shape: out_shape.to_vec(),
                })
            }
            (Value::Private { share: x, .. }, Value::Private { share: y, .. }) => {
                self.keys(ctx)?;
                let input = match (x, y) {
                    (Some(x), Some(y)) => Some(Input::Product { kind, x, y }),
                    _ => None,
                };
                Ok(private(self.truncate(ctx, input, true, out_shape)?))
            }
            (x, y) => {
                self.keys(ctx)?;
                self.step(ctx, steps::LOCAL_PRODUCT)?;
                let scaled = match (x, y) {
                    (
                        Value::Private { share: Some(x), .. },
                        Value::Public { value: Some(p), .. },
                    ) => Some(x.try_map(|t| kind.apply(t, &p))?),
                    (
                        Value::Public { value: Some(p), .. },
                        Value::Private { share: Some(y), .. },
                    ) => Some(y.try_map(|t| kind.apply(&p, t))?),
                    _ => None,
                };
                if let Some(s) = &scaled {
                    ctx.charge(2 * s.lo.len() as u64);
                    s.record(ctx, "product (scale 2f)");
                }
                let share = self.truncate(ctx, scaled.map(Input::Shared), false, out_shape)?;
                Ok(private(share))
            }
        }
    }

    /// Average pooling: a local window sum times the public 1/(k·k), then a stand-alone
    /// truncation.
    pub(crate) fn avgpool2d(
        &mut self,
        ctx: &mut dyn Context,
        x: &str,
        kernel: usize,
        stride: usize,
        out_shape: &[usize],
    ) -> Result<Value<R>> {
        let cfg = self.fixed();
        let inv: R = cfg.encode_in(1.0 / (kernel * kernel) as f64);
        let pool = |t: &Tensor<R>| -> Tensor<R> {
            let s = t.shape();
            let mut out = tensor::zeros::<R>(out_shape);
            for b in 0..s[0] {
                for c in 0..s[1] {
                    for i in 0..out_shape[2] {
                        for j in 0..out_shape[3] {
                            let mut acc = R::zero();
                            for di in 0..kernel {
                                for dj in 0..kernel {
                                    acc = acc.add(t[[b, c, i * stride + di, j * stride + dj]]);
                                }
                            }
                            out[[b, c, i, j]] = acc.mul(inv);
                        }
                    }
                }
            }
            out
        };
        match self.get(x)?.clone() {
            Value::Public { value, .. } => {
                self.step(ctx, steps::WINDOW_SUM)?;
                Ok(Value::Public {
                    value: value.map(|v| truncate_public(&pool(&v), cfg.frac_bits)),
                    shape: out_shape.to_vec(),
                })
            }
            Value::Private { share, .. } => {
                self.keys(ctx)?;
                self.step(ctx, steps::WINDOW_SUM)?;
                let summed = share.map(|s| s.map(pool));
                if let Some(s) = &summed {
                    ctx.charge((2 * s.lo.len() * kernel * kernel) as u64);
                    s.record(ctx, "window sum · 1/k² (scale 2f)");
                }
                let share = self.truncate(ctx, summed.map(Input::Shared), false, out_shape)?;
                Ok(Value::Private {
                    share,
                    shape: out_shape.to_vec(),
                })
            }
        }
    }

    /// **Opening** a private value to the three servers ([`rep::open`]: server i sends x_{i+1}
    /// to server i − 1; 3 messages of 8n bytes, one round). The result is public to the servers.
    pub(crate) fn reveal(&mut self, ctx: &mut dyn Context, x: &str) -> Result<Value<R>> {
        self.step(ctx, steps::OPEN)?;
        let v = self.get(x)?.clone();
        let shape = v.shape().to_vec();
        match v {
            Value::Public { .. } => Ok(v),
            Value::Private { share, .. } => {
                let value = match (self.seat, share) {
                    (Some(i), Some(s)) => Some(rep::open(ctx, &self.seats.clone(), i, &s, x)?),
                    _ => None,
                };
                Ok(Value::Public { value, shape })
            }
        }
    }
}
