//! The gradient ops (`crate::gradient`) in ABY3: Conv2dGradFilters and Conv2dGradInput as one
//! replicated product with B = the backward map (fused with its truncation, as Conv2d is);
//! AvgPool2dGrad as a local spread times the public 1/k² on both components, then a stand-alone
//! truncation; MaxPool2dGrad as the one-hot of ABY3's comparison tree (`aby3::dmaxpool`) times
//! the gradient broadcast over each window (one product, no truncation: the one-hot is 0/1), then
//! routed back to the window positions (local).

use super::product::Bilinear;
use super::rep::Rep;
use super::truncate::{truncate_public, Input};
use super::{steps, Aby3Party, Value};
use crate::context::Context;
use crate::error::{ProtocolError, Result};
use crate::gradient::{self, ConvGeom, ConvMap};
use crate::program::Op;
use crate::ring::Z2k;
use crate::tensor::Tensor;
use ndarray::IxDyn;

impl<R: Z2k> Aby3Party<R> {
    /// Runs gradient op `op` (one of `gradient::handles`'s) and returns its result.
    pub(crate) fn gradient_op(
        &mut self,
        ctx: &mut dyn Context,
        name: &str,
        op: &Op,
        operands: &[String],
        out_shape: &[usize],
    ) -> Result<Value<R>> {
        let shapes: Vec<Vec<usize>> = operands
            .iter()
            .map(|n| self.get(n).map(|v| v.shape().to_vec()))
            .collect::<Result<_>>()?;
        let refs: Vec<&[usize]> = shapes.iter().map(Vec::as_slice).collect();
        let geom = gradient::geometry(op, &refs).map_err(|detail| ProtocolError::Shape {
            op: name.into(),
            detail,
        })?;
        match op {
            Op::Conv2dGradFilters { .. } => self.product_op(
                ctx,
                Bilinear::Gradient(ConvMap::Filters(geom)),
                &operands[0],
                &operands[1],
                out_shape,
            ),
            Op::Conv2dGradInput { .. } => self.product_op(
                ctx,
                Bilinear::Gradient(ConvMap::Input(geom)),
                &operands[0],
                &operands[1],
                out_shape,
            ),
            Op::AvgPool2dGrad { .. } => self.avgpool2d_grad(ctx, &operands[0], &geom),
            Op::MaxPool2dGrad { kernel, stride, .. } => {
                // The comparison tree is the boolean part's: Z_2^64 only (`supports_wide`).
                let me: &mut dyn std::any::Any = self;
                let narrow = me.downcast_mut::<Aby3Party<u64>>().ok_or_else(|| {
                    ProtocolError::Unsupported(
                        "ABY3's DMaxPool runs over Z_2^64 only; use ring_bits: 64".into(),
                    )
                })?;
                let v = narrow.maxpool2d_grad(
                    ctx,
                    &operands[0],
                    &operands[1],
                    *kernel,
                    stride.unwrap_or(*kernel),
                    &geom,
                )?;
                let any: Box<dyn std::any::Any> = Box::new(v);
                Ok(*any.downcast::<Value<R>>().expect("R is u64 here"))
            }
            Op::MaxPool2dWithOneHot { kernel, stride, .. } => {
                let me: &mut dyn std::any::Any = self;
                let narrow = me.downcast_mut::<Aby3Party<u64>>().ok_or_else(|| {
                    ProtocolError::Unsupported(
                        "ABY3's comparison tree runs over Z_2^64 only; use ring_bits: 64".into(),
                    )
                })?;
                let v = narrow.maxpool_with_onehot(
                    ctx,
                    &operands[0],
                    *kernel,
                    stride.unwrap_or(*kernel),
                    &geom,
                )?;
                let any: Box<dyn std::any::Any> = Box::new(v);
                Ok(*any.downcast::<Value<R>>().expect("R is u64 here"))
            }
            Op::MaxPool2dGradOneHot { .. } => {
                self.maxpool2d_grad_onehot(ctx, &operands[0], &operands[1], &geom)
            }
            other => Err(ProtocolError::Unsupported(
                gradient::refusal("ABY3", other).replace('\n', "; "),
            )),
        }
    }

    /// MaxPool2dGradOneHot: the one-hot rows 1..=k of the kept pool times dY broadcast over each
    /// window (one product without truncation when both are private, local otherwise), routed
    /// back to the window positions (local), then one stand-alone truncation (the one-hot is
    /// fixed point, so the routed gradient has 2f fractional bits).
    fn maxpool2d_grad_onehot(
        &mut self,
        ctx: &mut dyn Context,
        grad: &str,
        pooled: &str,
        g: &ConvGeom,
    ) -> Result<Value<R>> {
        let cfg = self.fixed();
        let k = g.kh * g.kw;
        let m = g.n * g.c * g.oh * g.ow;
        let shape = g.in_shape();
        let rows = |t: &Tensor<R>| t.slice_axis(ndarray::Axis(0), (1..1 + k).into()).to_owned();
        let back = |t: &Tensor<R>| -> Tensor<R> {
            let v: Vec<R> = t.iter().copied().collect();
            let rows = gradient::transpose_mat(&v, k, m);
            let out = gradient::unwindows_with(&rows, g, R::zero(), R::add);
            Tensor::from_shape_vec(IxDyn(&shape), out).expect("n·c·h·w")
        };
        let (kept, dy) = (self.get(pooled)?.clone(), self.get(grad)?.clone());
        if let (Value::Public { value: e, .. }, Value::Public { value: d, .. }) = (&kept, &dy) {
            self.step(ctx, gradient::steps::LOCAL_ROUTE_PRODUCT)?;
            let value = match (e, d) {
                (Some(e), Some(d)) => Some(truncate_public(
                    &back(&crate::tensor::mul(&rows(e), d)?),
                    cfg.frac_bits,
                )),
                _ => None,
            };
            return Ok(Value::Public { value, shape });
        }
        let seats = self.seats.clone();
        let routed: Option<Rep<R>> = match (kept, dy) {
            (Value::Private { share: e, .. }, Value::Private { share: d, .. }) => {
                self.step(ctx, super::dmaxpool::ROUTE_PRODUCT)?;
                let keys = self.keys(ctx)?;
                let e = e.map(|e| e.map(rows));
                let z = super::product::product(
                    ctx,
                    &seats,
                    keys,
                    Bilinear::Elementwise,
                    e.as_ref(),
                    d.as_ref(),
                    "one-hot · gradient (scale 2f)",
                )?;
                self.step(ctx, gradient::steps::ROUTE)?;
                z.map(|z| z.map(back))
            }
            (Value::Private { share: s, .. }, Value::Public { value: p, .. })
            | (Value::Public { value: p, .. }, Value::Private { share: s, .. }) => {
                self.keys(ctx)?;
                self.step(ctx, gradient::steps::LOCAL_ROUTE_PRODUCT)?;
                let z = match (s, p) {
                    (Some(s), Some(p)) => {
                        // Whichever is the kept pool gives its one-hot rows.
                        let (s, p) = if self.get(pooled)?.is_private() {
                            (s.map(rows), p)
                        } else {
                            (s, rows(&p))
                        };
                        let z = s.try_map(|t| crate::tensor::mul(t, &p))?;
                        ctx.charge(2 * z.lo.len() as u64);
                        Some(z)
                    }
                    _ => None,
                };
                self.step(ctx, gradient::steps::ROUTE)?;
                z.map(|z| z.map(back))
            }
            (Value::Public { .. }, Value::Public { .. }) => unreachable!("handled above"),
        };
        if let Some(z) = &routed {
            z.record(ctx, "∂L/∂x at each window's maximum (scale 2f)");
        }
        let share = self.truncate(ctx, routed.map(Input::Shared), false, &shape)?;
        Ok(Value::Private { share, shape })
    }

    /// AvgPool2dGrad: each window's gradient times 1/k² added to its inputs (local), then a
    /// stand-alone truncation.
    fn avgpool2d_grad(
        &mut self,
        ctx: &mut dyn Context,
        grad: &str,
        g: &ConvGeom,
    ) -> Result<Value<R>> {
        let cfg = self.fixed();
        let inv: R = cfg.encode_in(1.0 / (g.kh * g.kw) as f64);
        let shape = g.in_shape();
        let spread = |t: &Tensor<R>| -> Tensor<R> {
            let v: Vec<R> = t.iter().copied().collect();
            let out: Vec<R> = gradient::pool_spread_with(&v, g, R::zero(), R::add)
                .into_iter()
                .map(|x| x.mul(inv))
                .collect();
            Tensor::from_shape_vec(IxDyn(&shape), out).expect("n·c·h·w")
        };
        match self.get(grad)?.clone() {
            Value::Public { value, .. } => {
                self.step(ctx, steps::GRADIENT_SPREAD)?;
                Ok(Value::Public {
                    value: value.map(|v| truncate_public(&spread(&v), cfg.frac_bits)),
                    shape,
                })
            }
            Value::Private { share, .. } => {
                self.keys(ctx)?;
                self.step(ctx, steps::GRADIENT_SPREAD)?;
                let spread_share = share.map(|s| s.map(spread));
                if let Some(s) = &spread_share {
                    ctx.charge((4 * g.n * g.c * g.oh * g.ow * g.kh * g.kw) as u64);
                    s.record(ctx, "spread gradient · 1/k² (scale 2f)");
                }
                let share = self.truncate(ctx, spread_share.map(Input::Shared), false, &shape)?;
                Ok(Value::Private { share, shape })
            }
        }
    }
}

impl Aby3Party<u64> {
    /// MaxPool2dGrad: the one-hot E `[k, N, C, OH, OW]` of each window's first maximum of
    /// `input` (private: `dmaxpool::maxpool_onehot`; public: in the clear), E · dY with dY
    /// broadcast over the window's positions (one product when both are private, local
    /// otherwise; no truncation), then each window's row routed back to its positions (local).
    fn maxpool2d_grad(
        &mut self,
        ctx: &mut dyn Context,
        grad: &str,
        input: &str,
        kernel: usize,
        stride: usize,
        g: &ConvGeom,
    ) -> Result<Value> {
        let k = g.kh * g.kw;
        let m = g.n * g.c * g.oh * g.ow;
        let wide = [k, g.n, g.c, g.oh, g.ow];
        let to_wide = |t: &Tensor<u64>| crate::tensor::reshape(t, &wide).expect("k·m");
        // The one-hot: Ok(public) or Err(private share).
        let onehot: std::result::Result<Option<Tensor<u64>>, Option<Rep>> =
            match self.get(input)?.clone() {
                Value::Public { value, .. } => {
                    self.step(ctx, gradient::steps::PUBLIC_ONEHOT)?;
                    Ok(value.map(|v| crate::pond::gradient::clear_onehot(&v, g)))
                }
                Value::Private { share, shape } => {
                    let seats = self.seats.clone();
                    let keys = self.keys(ctx)?;
                    let e = super::dmaxpool::maxpool_onehot(
                        ctx,
                        &seats,
                        keys,
                        share.as_ref(),
                        &shape,
                        kernel,
                        stride,
                        false,
                    )?;
                    Err(e.map(|(_, e)| e.map(to_wide)))
                }
            };
        let dy = self.get(grad)?.clone();
        let routed: Value = match (onehot, dy) {
            (Err(e), Value::Private { share: d, .. }) => {
                self.step(ctx, super::dmaxpool::ROUTE_PRODUCT)?;
                let seats = self.seats.clone();
                let keys = self.keys(ctx)?;
                let z = super::product::product(
                    ctx,
                    &seats,
                    keys,
                    Bilinear::Elementwise,
                    e.as_ref(),
                    d.as_ref(),
                    "one-hot · gradient",
                )?;
                Value::Private {
                    share: z,
                    shape: wide.to_vec(),
                }
            }
            (onehot, dy) => {
                self.step(ctx, gradient::steps::LOCAL_ROUTE_PRODUCT)?;
                let times = |r: &Rep, p: &Tensor<u64>| -> Result<Rep> {
                    r.try_map(|t| crate::tensor::mul(t, p))
                };
                match (onehot, dy) {
                    (Ok(e), Value::Public { value: d, .. }) => Value::Public {
                        value: match (e, d) {
                            (Some(e), Some(d)) => Some(crate::tensor::mul(&e, &d)?),
                            _ => None,
                        },
                        shape: wide.to_vec(),
                    },
                    (Ok(p), Value::Private { share: s, .. })
                    | (Err(s), Value::Public { value: p, .. }) => {
                        let share = match (s, p) {
                            (Some(s), Some(p)) => {
                                let z = times(&s, &p)?;
                                ctx.charge(2 * z.lo.len() as u64);
                                Some(z)
                            }
                            _ => None,
                        };
                        Value::Private {
                            share,
                            shape: wide.to_vec(),
                        }
                    }
                    (Err(_), Value::Private { .. }) => unreachable!("handled above"),
                }
            }
        };
        self.step(ctx, gradient::steps::ROUTE)?;
        let back = |t: &Tensor<u64>| -> Tensor<u64> {
            let v: Vec<u64> = t.iter().copied().collect();
            let rows = gradient::transpose_mat(&v, k, m);
            let out = gradient::unwindows_with(&rows, g, 0u64, u64::wrapping_add);
            Tensor::from_shape_vec(IxDyn(&g.in_shape()), out).expect("n·c·h·w")
        };
        let shape = g.in_shape();
        Ok(match routed {
            Value::Public { value, .. } => Value::Public {
                value: value.map(|v| back(&v)),
                shape,
            },
            Value::Private { share, .. } => {
                let share = share.map(|s| s.map(back));
                if let Some(s) = &share {
                    ctx.record_share("∂L/∂x: gradient at each window's maximum", &s.lo);
                }
                Value::Private { share, shape }
            }
        })
    }
}

impl Aby3Party<u64> {
    /// MaxPool2dWithOneHot: ABY3's tree with the maxima (`dmaxpool::maxpool_onehot`,
    /// `with_max`), the maxima and the one-hot · 2^f stacked `[1 + k, N, C, OH, OW]` (local); of a
    /// public input, in the clear.
    fn maxpool_with_onehot(
        &mut self,
        ctx: &mut dyn Context,
        input: &str,
        kernel: usize,
        stride: usize,
        g: &ConvGeom,
    ) -> Result<Value> {
        let one = 1u64 << self.fixed().frac_bits;
        let k = g.kh * g.kw;
        let kept = vec![1 + k, g.n, g.c, g.oh, g.ow];
        match self.get(input)?.clone() {
            Value::Public { value, .. } => {
                self.step(ctx, gradient::steps::PUBLIC_KEPT)?;
                Ok(Value::Public {
                    value: value.map(|v| crate::pond::gradient::clear_kept(&v, g, one)),
                    shape: kept,
                })
            }
            Value::Private { share, shape } => {
                let seats = self.seats.clone();
                let keys = self.keys(ctx)?;
                let won = super::dmaxpool::maxpool_onehot(
                    ctx,
                    &seats,
                    keys,
                    share.as_ref(),
                    &shape,
                    kernel,
                    stride,
                    true,
                )?;
                self.step(ctx, gradient::steps::KEEP)?;
                // A 1×1 window's one-hot went through no product: its components (1, 0, 0) would
                // break a later local truncation, so one reshare (E · 1) makes them fresh.
                let won = match won {
                    Some((max, e)) if k == 1 => {
                        let i = self.seat.expect("a server holds shares");
                        let ones = Rep::public(i, &Tensor::from_elem(IxDyn(e.shape()), 1u64));
                        let keys = self.keys(ctx)?;
                        let e = super::product::product(
                            ctx,
                            &seats,
                            keys,
                            Bilinear::Elementwise,
                            Some(&e),
                            Some(&ones),
                            "one-hot, reshared",
                        )?
                        .ok_or_else(|| ProtocolError::Missing("the one-hot's reshare".into()))?;
                        Some((max, e))
                    }
                    other => other,
                };
                let share = match won {
                    Some((Some(max), e)) => {
                        let stack = |mx: &Tensor<u64>, e: &Tensor<u64>| -> Tensor<u64> {
                            let v: Vec<u64> = mx
                                .iter()
                                .copied()
                                .chain(e.iter().map(|&b| b.wrapping_mul(one)))
                                .collect();
                            Tensor::from_shape_vec(IxDyn(&kept), v).expect("(1 + k)·m")
                        };
                        let r = Rep::new(stack(&max.lo, &e.lo), stack(&max.hi, &e.hi));
                        ctx.record_share(
                            "MaxPool2dWithOneHot: the maxima, then the one-hot · 2^f",
                            &r.lo,
                        );
                        Some(r)
                    }
                    _ => None,
                };
                Ok(Value::Private { share, shape: kept })
            }
        }
    }
}
