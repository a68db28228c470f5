//! The gradient ops (`crate::gradient`) in the Pond family: Conv2dGradFilters and
//! Conv2dGradInput as one Beaver product with ∘ = the backward map (the operands' masks cached
//! and reused as for any product, so X masked by the forward Conv2d opens nothing again), then
//! truncation; AvgPool2dGrad as a local spread times the public 1/k², then truncation;
//! MaxPool2dGrad (SecureNN only) as DMaxPool's one-hot (`securenn::dmaxpool`) times the gradient
//! broadcast over the window (one Beaver product, no truncation: the one-hot is an integer),
//! routed back to the window positions (local).

use super::beaver::Bilinear;
use super::{Nonlinear, PondParty, Value};
use crate::context::{Context, ValueClass};
use crate::error::{ProtocolError, Result};
use crate::gradient::{self, ConvGeom, ConvMap};
use crate::program::Op;
use crate::ring::Z2k;
use crate::tensor::{self, Tensor};
use ndarray::IxDyn;

impl<R: Z2k> PondParty<R> {
    /// Runs gradient op `op` (one of `gradient::handles`'s), storing the result under `name`.
    pub(crate) fn run_gradient(
        &mut self,
        ctx: &mut dyn Context,
        name: &str,
        op: &Op,
        operands: &[String],
        out_shape: &[usize],
    ) -> Result<()> {
        let shapes: Vec<Vec<usize>> = operands
            .iter()
            .map(|n| self.get(n).map(|v| v.shape().to_vec()))
            .collect::<Result<_>>()?;
        let refs: Vec<&[usize]> = shapes.iter().map(Vec::as_slice).collect();
        let shape_err = |detail: String| ProtocolError::Shape {
            op: name.into(),
            detail,
        };
        let geom = gradient::geometry(op, &refs).map_err(shape_err)?;
        let result = match op {
            Op::Conv2dGradFilters { .. } | Op::Conv2dGradInput { .. } => {
                let map = match op {
                    Op::Conv2dGradFilters { .. } => ConvMap::Filters(geom),
                    _ => ConvMap::Input(geom),
                };
                self.product(
                    ctx,
                    Bilinear::Gradient(map),
                    &operands[0],
                    &operands[1],
                    out_shape,
                )?
            }
            Op::AvgPool2dGrad { .. } => self.avgpool2d_grad(ctx, &operands[0], &geom)?,
            Op::MaxPool2dGrad { kernel, stride, .. } => {
                if self.cfg.nonlinear == Nonlinear::Polynomial {
                    return Err(ProtocolError::Unsupported(gradient::refusal("Pond", op)));
                }
                let me: &mut dyn std::any::Any = self;
                let narrow = me.downcast_mut::<PondParty<u64>>().ok_or_else(|| {
                    ProtocolError::Unsupported(
                        "SecureNN's DMaxPool runs over Z_2^64 only; use ring_bits: 64".into(),
                    )
                })?;
                let v = narrow.dmaxpool(
                    ctx,
                    name,
                    &operands[0],
                    &operands[1],
                    *kernel,
                    stride.unwrap_or(*kernel),
                    &geom,
                )?;
                narrow.set(name, v);
                return Ok(());
            }
            Op::MaxPool2dWithOneHot { kernel, stride, .. } => {
                if self.cfg.nonlinear == Nonlinear::Polynomial {
                    return Err(ProtocolError::Unsupported(gradient::refusal("Pond", op)));
                }
                let me: &mut dyn std::any::Any = self;
                let narrow = me.downcast_mut::<PondParty<u64>>().ok_or_else(|| {
                    ProtocolError::Unsupported(
                        "SecureNN's comparison tree runs over Z_2^64 only; use ring_bits: 64"
                            .into(),
                    )
                })?;
                let v = narrow.maxpool_with_onehot(
                    ctx,
                    &operands[0],
                    *kernel,
                    stride.unwrap_or(*kernel),
                    &geom,
                )?;
                narrow.set(name, v);
                return Ok(());
            }
            Op::MaxPool2dGradOneHot { .. } => {
                self.maxpool2d_grad_onehot(ctx, name, &operands[0], &operands[1], &geom)?
            }
            other => {
                return Err(ProtocolError::Unsupported(format!(
                    "{} is not a gradient op",
                    other.kind()
                )))
            }
        };
        self.set(name, result);
        Ok(())
    }

    /// AvgPool2dGrad: each window's gradient times the public 1/k², added to every input of the
    /// window (local on each share), then truncated as a public product is.
    fn avgpool2d_grad(
        &mut self,
        ctx: &mut dyn Context,
        grad: &str,
        g: &ConvGeom,
    ) -> Result<Value<R>> {
        self.step(ctx, gradient::steps::SPREAD)?;
        let inv: R = self.cfg.fixed.encode_in(1.0 / (g.kh * g.kw) as f64);
        let shape = g.in_shape();
        let spread = |t: &Tensor<R>| -> Tensor<R> {
            let v: Vec<R> = t.iter().copied().collect();
            let out = gradient::pool_spread_with(&v, g, R::zero(), R::add);
            let out: Vec<R> = out.into_iter().map(|x| x.mul(inv)).collect();
            Tensor::from_shape_vec(IxDyn(&shape), out).expect("n·c·h·w")
        };
        match self.get(grad)?.clone() {
            Value::Public { value, .. } => Ok(Value::Public {
                value: value.map(|v| self.truncate_public(&spread(&v))),
                shape,
            }),
            Value::Private { share, .. } => {
                let z = share.map(|s| spread(&s));
                if let Some(z) = &z {
                    ctx.charge((g.n * g.c * g.oh * g.ow * g.kh * g.kw) as u64 * 2);
                    R::record(
                        ctx,
                        ValueClass::Share,
                        "spread gradient · 1/k² (scale 2f)",
                        z,
                    );
                }
                let share = self.truncate(ctx, z, &shape)?;
                Ok(Value::Private { share, shape })
            }
        }
    }
}

impl<R: Z2k> PondParty<R> {
    /// The one-hot `onehot` (`wide` = [k, N, C, OH, OW]) times dY `grad` broadcast over each
    /// window — a Beaver product when both are private, local otherwise — routed back to the
    /// window positions (local): the product step DMaxPool and MaxPool2dGradOneHot share. The
    /// result has the input's shape; the caller records and truncates it as its scale needs.
    fn route_by_onehot(
        &mut self,
        ctx: &mut dyn Context,
        name: &str,
        onehot: Value<R>,
        grad: &str,
        wide: &[usize],
        g: &ConvGeom,
    ) -> Result<Value<R>> {
        let (k, m) = (wide[0], wide[1..].iter().product::<usize>());
        let wide = wide.to_vec();
        let tmp = format!("{name}: one-hot");
        let both_private = onehot.is_private() && self.get(grad)?.is_private();
        self.set(&tmp, onehot);
        let routed: Value<R> = if both_private {
            let z = self.beaver(ctx, Bilinear::Elementwise, &tmp, grad, &wide, &[])?;
            Value::Private {
                share: z,
                shape: wide.clone(),
            }
        } else {
            self.step(ctx, gradient::steps::LOCAL_ROUTE_PRODUCT)?;
            match (self.get(&tmp)?.clone(), self.get(grad)?.clone()) {
                (Value::Public { value: e, .. }, Value::Public { value: d, .. }) => Value::Public {
                    value: match (e, d) {
                        (Some(e), Some(d)) => Some(tensor::mul(&e, &d)?),
                        _ => None,
                    },
                    shape: wide.clone(),
                },
                (Value::Public { value: p, .. }, Value::Private { share: s, .. })
                | (Value::Private { share: s, .. }, Value::Public { value: p, .. }) => {
                    let share = match (s, p) {
                        (Some(s), Some(p)) => {
                            let z = tensor::mul(&s, &p)?;
                            ctx.charge(z.len() as u64);
                            Some(z)
                        }
                        _ => None,
                    };
                    Value::Private {
                        share,
                        shape: wide.clone(),
                    }
                }
                (Value::Private { .. }, Value::Private { .. }) => unreachable!("handled above"),
            }
        };
        self.take_value(&tmp);
        self.step(ctx, gradient::steps::ROUTE)?;
        let back = |t: &Tensor<R>| -> Tensor<R> {
            let v: Vec<R> = t.iter().copied().collect();
            let rows = gradient::transpose_mat(&v, k, m);
            let out = gradient::unwindows_with(&rows, g, R::zero(), R::add);
            Tensor::from_shape_vec(IxDyn(&g.in_shape()), out).expect("n·c·h·w")
        };
        Ok(match routed {
            Value::Public { value, .. } => Value::Public {
                value: value.map(|v| back(&v)),
                shape: g.in_shape(),
            },
            Value::Private { share, .. } => Value::Private {
                share: share.map(|s| back(&s)),
                shape: g.in_shape(),
            },
        })
    }

    /// MaxPool2dGradOneHot: the one-hot rows 1..=k of the kept pool `pooled` times dY broadcast
    /// over each window (a Beaver product when both are private, local otherwise), routed back
    /// to the window positions (local), then truncated (the one-hot is fixed point: scale 2f).
    fn maxpool2d_grad_onehot(
        &mut self,
        ctx: &mut dyn Context,
        name: &str,
        grad: &str,
        pooled: &str,
        g: &ConvGeom,
    ) -> Result<Value<R>> {
        let k = g.kh * g.kw;
        let wide: Vec<usize> = [k, g.n, g.c, g.oh, g.ow].to_vec();
        let rows = |t: &Tensor<R>| t.slice_axis(ndarray::Axis(0), (1..1 + k).into()).to_owned();
        let onehot = match self.get(pooled)?.clone() {
            Value::Public { value, .. } => Value::Public {
                value: value.map(|v| rows(&v)),
                shape: wide.clone(),
            },
            Value::Private { share, .. } => Value::Private {
                share: share.map(|s| rows(&s)),
                shape: wide.clone(),
            },
        };
        let routed = self.route_by_onehot(ctx, name, onehot, grad, &wide, g)?;
        let shape = g.in_shape();
        Ok(match routed {
            Value::Public { value, .. } => Value::Public {
                value: value.map(|v| self.truncate_public(&v)),
                shape,
            },
            Value::Private { share: z, .. } => {
                if let Some(z) = &z {
                    R::record(
                        ctx,
                        ValueClass::Share,
                        "∂L/∂x at each window's maximum (scale 2f)",
                        z,
                    );
                }
                let share = self.truncate(ctx, z, &shape)?;
                Value::Private { share, shape }
            }
        })
    }
}

impl PondParty<u64> {
    /// MaxPoolWithOneHot by SecureNN's tree (`securenn::dmaxpool::maxpool_with_onehot`): each
    /// window's maximum and the one-hot of its first maximum stacked `[1 + k, N, C, OH, OW]`,
    /// the one-hot scaled to fixed point (× 2^f, local); of a public input, in the clear.
    fn maxpool_with_onehot(
        &mut self,
        ctx: &mut dyn Context,
        input: &str,
        kernel: usize,
        stride: usize,
        g: &ConvGeom,
    ) -> Result<Value> {
        let variant = self.securenn_variant()?;
        let one = 1u64 << self.cfg.fixed.frac_bits;
        let k = g.kh * g.kw;
        let kept: Vec<usize> = [1 + k, g.n, g.c, g.oh, g.ow].to_vec();
        Ok(match self.get(input)?.clone() {
            Value::Public { value, .. } => {
                self.step(ctx, gradient::steps::PUBLIC_KEPT)?;
                Value::Public {
                    value: value.map(|v| clear_kept(&v, g, one)),
                    shape: kept,
                }
            }
            Value::Private { share, shape } => {
                let place = self.place;
                let won = self.with_securenn_keys(ctx, |ctx, keys| {
                    let won = crate::securenn::dmaxpool::maxpool_with_onehot(
                        ctx,
                        &place,
                        keys,
                        variant,
                        share.as_ref(),
                        &shape,
                        kernel,
                        stride,
                    )?;
                    // A fresh sharing of the stack (a zero-sharing from P0–P1's common PRG, no
                    // message): a 1×1 window's one-hot never went through a selection, and its
                    // shares (1, 0) would break a later local truncation.
                    match (won, crate::securenn::role(ctx, &place)) {
                        (Some(w), crate::securenn::Role::Server(j)) => {
                            let z = keys.zero_share::<u64>(j, &kept)?;
                            Ok(Some((w, z)))
                        }
                        _ => Ok(None),
                    }
                })?;
                self.step(ctx, gradient::steps::KEEP)?;
                let share = won.map(|((max, e), z)| {
                    let v: Vec<u64> = max
                        .iter()
                        .copied()
                        .chain(e.iter().map(|&b| b.wrapping_mul(one)))
                        .zip(z.iter())
                        .map(|(v, &r)| v.wrapping_add(r))
                        .collect();
                    let t = Tensor::from_shape_vec(IxDyn(&kept), v).expect("(1 + k)·m");
                    ctx.record_share(
                        "MaxPool2dWithOneHot: the maxima, then the one-hot · 2^f",
                        &t,
                    );
                    t
                });
                Value::Private { share, shape: kept }
            }
        })
    }

    /// MaxPool2dGrad by SecureNN's DMaxPool: the one-hot E of each window's first maximum of
    /// `input` (private: `securenn::dmaxpool`; public: in the clear), E · dY with dY broadcast
    /// over the window's positions (a Beaver product when both are private, local otherwise; no
    /// truncation, E being 0/1 integers), then each window's row routed back to its positions.
    #[allow(clippy::too_many_arguments)]
    fn dmaxpool(
        &mut self,
        ctx: &mut dyn Context,
        name: &str,
        grad: &str,
        input: &str,
        kernel: usize,
        stride: usize,
        g: &ConvGeom,
    ) -> Result<Value> {
        let variant = self.securenn_variant()?;
        let k = g.kh * g.kw;
        // [k, N, C, OH, OW]: dY broadcasts against it.
        let wide: Vec<usize> = [k, g.n, g.c, g.oh, g.ow].to_vec();
        let onehot = match self.get(input)?.clone() {
            Value::Public { value, .. } => {
                self.step(ctx, gradient::steps::PUBLIC_ONEHOT)?;
                Value::Public {
                    value: value.map(|v| clear_onehot(&v, g)),
                    shape: wide.clone(),
                }
            }
            Value::Private { share, shape } => {
                let place = self.place;
                let e = self.with_securenn_keys(ctx, |ctx, keys| {
                    crate::securenn::dmaxpool::maxpool_onehot(
                        ctx,
                        &place,
                        keys,
                        variant,
                        share.as_ref(),
                        &shape,
                        kernel,
                        stride,
                    )
                })?;
                Value::Private {
                    share: e.map(|e| tensor::reshape(&e, &wide).expect("k·m")),
                    shape: wide.clone(),
                }
            }
        };
        let routed = self.route_by_onehot(ctx, name, onehot, grad, &wide, g)?;
        let shape = g.in_shape();
        Ok(match routed {
            Value::Public { value, .. } => Value::Public { value, shape },
            Value::Private { share, .. } => {
                if let Some(s) = &share {
                    ctx.record_share("∂L/∂x: gradient at each window's maximum", s);
                }
                Value::Private { share, shape }
            }
        })
    }
}

/// The kept pool `[1 + k, N, C, OH, OW]` of a public encoded value: each window's maximum, then
/// the one-hot of its first maximum times `one` (2^f: fixed point).
pub(crate) fn clear_kept(x: &Tensor<u64>, g: &ConvGeom, one: u64) -> Tensor<u64> {
    let k = g.kh * g.kw;
    let signed: Vec<i64> = x.iter().map(|&v| v as i64).collect();
    let wins = gradient::windows_with(&signed, g, i64::MIN);
    let m = wins.len() / k.max(1);
    let mut out = vec![0u64; (1 + k) * m];
    for (row, win) in wins.chunks(k).enumerate() {
        let at = crate::program::first_max(win);
        out[row] = win[at] as u64;
        out[(1 + at) * m + row] = one;
    }
    Tensor::from_shape_vec(IxDyn(&[1 + k, g.n, g.c, g.oh, g.ow]), out).expect("(1 + k)·m")
}

/// The one-hot `[k, N, C, OH, OW]` (integers) of each window's first maximum of a public encoded
/// value (signed reading).
pub(crate) fn clear_onehot(x: &Tensor<u64>, g: &ConvGeom) -> Tensor<u64> {
    let k = g.kh * g.kw;
    let signed: Vec<i64> = x.iter().map(|&v| v as i64).collect();
    let wins = gradient::windows_with(&signed, g, i64::MIN);
    let m = wins.len() / k.max(1);
    let mut out = vec![0u64; k * m];
    for (row, win) in wins.chunks(k).enumerate() {
        out[crate::program::first_max(win) * m + row] = 1;
    }
    Tensor::from_shape_vec(IxDyn(&[k, g.n, g.c, g.oh, g.ow]), out).expect("k·m")
}

/// The cost of MaxPool2dGrad over k = kernel² positions and m windows, and its flow: DMaxPool's
/// tree on a private input (`securenn::dmaxpool::cost`), then — both private — one Beaver
/// product opening the one-hot (k·m) and, unless already masked, dY (m); no truncation. `w` is
/// the words per element (1: SecureNN runs over Z_2^64).
pub(crate) fn dmaxpool_cost(
    v: crate::securenn::Variant,
    k: usize,
    m: usize,
    x_private: bool,
    dy_private: bool,
    dy_fresh: bool,
    w: u64,
) -> (crate::cost::Cost, crate::cost::Flow) {
    use crate::cost::{Cost, Flow};
    let (mut cost, mut flow) = (Cost::ZERO, Flow::LOCAL);
    if x_private {
        cost = crate::securenn::dmaxpool::cost(v, k, m);
        flow = crate::securenn::dmaxpool::flow(v, k, m);
        if dy_private {
            let fresh = (k * m + if dy_fresh { m } else { 0 }) as u64 * w;
            cost = cost.then(super::cost::beaver(fresh, (k * m) as u64 * w));
            flow = flow.then(super::cost::beaver_flow(fresh));
        }
    }
    (cost, flow)
}

/// The cost of MaxPool2dWithOneHot over k = kernel² positions and m windows: on a private input
/// the tree with the maxima (`securenn::dmaxpool::cost_with(v, k, m, true)`); the stacking is
/// local.
pub(crate) fn kept_cost(
    v: crate::securenn::Variant,
    k: usize,
    m: usize,
) -> (crate::cost::Cost, crate::cost::Flow) {
    (
        crate::securenn::dmaxpool::cost_with(v, k, m, true),
        crate::securenn::dmaxpool::flow_with(v, k, m, true),
    )
}
