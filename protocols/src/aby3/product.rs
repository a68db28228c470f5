//! **Products of replicated sharings** (ABY3 §3.2 for the arithmetic case): each server computes
//! a 3-out-of-3 share z_i of the product locally from its two pairs, rerandomises it with a
//! zero-sharing α_i, and reshares (sends z_i to server i − 1). One round, 3n elements.
//!
//! The bilinear maps (elementwise with broadcasting, matmul, conv2d) use the fast kernels of
//! [`crate::tensor`] / [`crate::kernels`]. By bilinearity, z_i = B(x_i, y_i + y_{i+1}) +
//! B(x_{i+1}, y_i): two kernel calls per server instead of three.

use super::rep::{self, Keys, Rep};
use crate::context::Context;
use crate::error::Result;
use crate::protocol::Seats;
use crate::ring::{Ring, Z2k};
use crate::tensor::{self, Tensor};

/// Which bilinear map a product applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bilinear {
    /// Elementwise, NumPy broadcasting.
    Elementwise,
    /// Matrix product of 2-D tensors.
    MatMul,
    /// NCHW convolution of an input with filters.
    Conv2d {
        /// Stride.
        stride: usize,
        /// Zero padding.
        padding: usize,
    },
    /// A convolution's backward map (`crate::gradient`): dW from (X, dY), or dX from (dY, W).
    Gradient(crate::gradient::ConvMap),
}

impl Bilinear {
    /// B(a, b) over the ring `R`.
    pub fn apply<R: Ring>(self, a: &Tensor<R>, b: &Tensor<R>) -> Result<Tensor<R>> {
        match self {
            Bilinear::Elementwise => tensor::mul(a, b),
            Bilinear::MatMul => tensor::matmul(a, b),
            Bilinear::Conv2d { stride, padding } => tensor::conv2d(a, b, stride, padding),
            Bilinear::Gradient(m) => Ok(m.apply(a, b)),
        }
    }

    /// Ring multiplications one application costs (for [`Context::charge`]).
    pub fn work(self, a: &[usize], b: &[usize], out: &[usize]) -> u64 {
        let n = |s: &[usize]| s.iter().product::<usize>() as u64;
        match self {
            Bilinear::Elementwise => n(out),
            Bilinear::MatMul => n(out) * a.get(1).copied().unwrap_or(1) as u64,
            Bilinear::Conv2d { .. } => n(out) * b.iter().skip(1).product::<usize>() as u64,
            Bilinear::Gradient(m) => m.work(),
        }
    }
}

/// The local 3-out-of-3 share z_i = B(x_i, y_i) + B(x_i, y_{i+1}) + B(x_{i+1}, y_i) (before
/// rerandomisation). Σ_i z_i = B(x, y).
pub fn local_product<R: Ring>(kind: Bilinear, x: &Rep<R>, y: &Rep<R>) -> Result<Tensor<R>> {
    let y_sum = tensor::add(&y.lo, &y.hi)?;
    let a = kind.apply(&x.lo, &y_sum)?;
    let b = kind.apply(&x.hi, &y.lo)?;
    tensor::add(&a, &b)
}

/// A product B(x, y) of two replicated sharings **without truncation** (integer products, or a
/// fixed-point value times a 0/1 bit): the local z_i + α_i, then [`rep::reshare`]. One round,
/// 3 messages of 8n bytes (16n at Z_2^128). Runs inside the caller's step; servers pass `Some` sharings and
/// `seat`, other parties `None` and get `None`.
pub fn product<R: Z2k>(
    ctx: &mut dyn Context,
    seats: &Seats,
    keys: &mut Keys,
    kind: Bilinear,
    x: Option<&Rep<R>>,
    y: Option<&Rep<R>>,
    label: &str,
) -> Result<Option<Rep<R>>> {
    let (Some(i), Some(x), Some(y)) = (keys.seat(), x, y) else {
        return Ok(None);
    };
    let z = local_product(kind, x, y)?;
    ctx.charge(2 * kind.work(x.shape(), y.shape(), z.shape()) + 2 * z.len() as u64);
    let z = tensor::add(&z, &keys.zero_in::<R>(z.shape()))?;
    Ok(Some(rep::reshare(ctx, seats, i, z, label)?))
}
