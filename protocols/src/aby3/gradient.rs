//! The gradient ops (`crate::gradient`) in ABY3: Conv2dGradFilters and Conv2dGradInput as one
//! replicated product with B = the backward map (fused with its truncation, as Conv2d is);
//! AvgPool2dGrad as a local spread times the public 1/k² on both components, then a stand-alone
//! truncation. MaxPool2dGrad is refused (`gradient::supports_aby3`).

use super::product::Bilinear;
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
            other => Err(ProtocolError::Unsupported(
                gradient::refusal("ABY3", other).replace('\n', "; "),
            )),
        }
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
