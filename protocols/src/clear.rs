//! The exact nonlinear ops on a **public** encoded tensor, read as signed ring elements: what
//! every protocol computes locally, in the clear, when the operand of ReLU, MaxPool2d or Argmax
//! is public (Pond's SecureNN layers and ABY3 share these).

use crate::program::first_max;
use crate::tensor::Tensor;

/// ReLU of an encoded tensor: negative elements (signed reading) become 0.
pub fn relu(v: &Tensor<u64>) -> Tensor<u64> {
    v.mapv(|e| (e as i64).max(0) as u64)
}

/// Max pooling of an encoded [n, c, h, w] tensor over `kernel`×`kernel` windows with `stride`,
/// into `out_shape` (the program's shape rule has checked it).
pub fn maxpool2d(
    v: &Tensor<u64>,
    kernel: usize,
    stride: usize,
    out_shape: &[usize],
) -> Tensor<u64> {
    Tensor::from_shape_fn(ndarray::IxDyn(out_shape), |d| {
        let mut m = i64::MIN;
        for di in 0..kernel {
            for dj in 0..kernel {
                let e = v[[d[0], d[1], d[2] * stride + di, d[3] * stride + dj]];
                m = m.max(e as i64);
            }
        }
        m as u64
    })
}

/// The index of the first maximum along the last axis, times `one` (2^f, so the index is fixed
/// point like every program value), in `out_shape`.
pub fn argmax(v: &Tensor<u64>, out_shape: &[usize], one: u64) -> Tensor<u64> {
    let k = *v.shape().last().expect("validated: at least one axis");
    let idx: Vec<u64> = v
        .iter()
        .copied()
        .collect::<Vec<u64>>()
        .chunks(k)
        .map(|row| {
            let signed: Vec<i64> = row.iter().map(|e| *e as i64).collect();
            (first_max(&signed) as u64).wrapping_mul(one)
        })
        .collect();
    Tensor::from_shape_vec(ndarray::IxDyn(out_shape), idx).expect("one index per row")
}

/// [a > b] of two public encoded values (signed reading), broadcast to `out_shape`, as `one`
/// (2^f: fixed-point 1) or 0: the local path of `Greater` when both operands are public.
pub fn greater(
    a: &Tensor<u64>,
    b: &Tensor<u64>,
    out_shape: &[usize],
    one: u64,
) -> crate::Result<Tensor<u64>> {
    let shape = ndarray::IxDyn(out_shape);
    let bad = || crate::ProtocolError::Shape {
        op: "greater".into(),
        detail: format!(
            "{:?} and {:?} do not broadcast to {out_shape:?}",
            a.shape(),
            b.shape()
        ),
    };
    let av = a.broadcast(shape.clone()).ok_or_else(bad)?;
    let bv = b.broadcast(shape).ok_or_else(bad)?;
    let mut out = av.to_owned();
    ndarray::Zip::from(&mut out)
        .and(&bv)
        .for_each(|x, &y| *x = if (*x as i64) > (y as i64) { one } else { 0 });
    Ok(out)
}

/// The step of `Greater` on two public operands.
pub const GREATER_PUBLIC_STEP: &str = "greater of public values (local)";

/// **The public-operand fast path of `Greater`**, the same in every protocol that compares
/// (Pond with SecureNN's layers, ABY3): walks [`GREATER_PUBLIC_STEP`] by `step` and computes
/// [`greater`] at a party that knows both values; `None` at one that knows neither (it walks
/// the step and holds nothing).
pub fn greater_of_public(
    step: impl FnOnce(&str) -> crate::Result<()>,
    a: Option<&Tensor<u64>>,
    b: Option<&Tensor<u64>>,
    out_shape: &[usize],
    one: u64,
) -> crate::Result<Option<Tensor<u64>>> {
    step(GREATER_PUBLIC_STEP)?;
    match (a, b) {
        (Some(x), Some(y)) => Ok(Some(greater(x, y, out_shape, one)?)),
        _ => Ok(None),
    }
}
