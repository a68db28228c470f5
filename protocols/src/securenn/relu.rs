//! **DReLU** (the paper's ReLU′), **ReLU**, **MaxPool**, and comparisons and argmax built on them.

use super::compare::share_convert_of;
use super::{compute_msb, need, role, select_share, to_odd, Keys, Role, Variant};
use crate::context::{within, Context};
use crate::error::{ProtocolError, Result};
use crate::pond::Placement;
use crate::ring::Ring;
use crate::tensor::{self, Tensor};
use ndarray::IxDyn;
use std::borrow::Cow;

/// **DReLU** (ReLU′): shares over Z_L of [a ≥ 0] for shares of a over Z_L.
///
/// Domain: a ∈ [−2^62, 2^62) read as a signed 64-bit integer. As in the paper's implementation,
/// DReLU works on c = 2a, which is even and so never L − 1 (ShareConvert's one excluded value);
/// the price is one bit of range: MSB(2a) = MSB(a) only when a does not use bit 62.
///
/// [`Variant::Secure`] (and the insecure [`Variant::AsPublished`], same costs): step 1, [`share_convert`], [`compute_msb`], step 4 — online 13 messages,
/// 408n bytes, 8 rounds; offline 2 messages, 80n bytes. 18 steps.
/// [`Variant::Shortcut`] (**insecure, sometimes wrong**), as tf-encrypted: the shares of a itself
/// are cast to Z_{L−1} without ShareConvert (and without doubling). They then sum to a + θ mod
/// (L − 1), θ the wrap bit of the shares, so DReLU(−1) is always 1, and DReLU(−2) = 1 and
/// DReLU(2^63 − 1) = 0 whenever the shares wrap; every other a ∈ Z_L comes out right. Online 7
/// messages, 184n bytes, 4 rounds; offline 2 messages, 80n bytes. 12 steps.
pub fn drelu(
    ctx: &mut dyn Context,
    place: &Placement,
    keys: &mut Keys,
    variant: Variant,
    a: Option<&Tensor<u64>>,
    shape: &[usize],
) -> Result<Option<Tensor<u64>>> {
    drelu_of(ctx, place, keys, variant, a.map(Cow::Borrowed), shape)
}

/// [`drelu`] of a borrowed or owned share `a`: an owned one (nothing reads it afterwards) is
/// doubled in its own buffer, which ShareConvert drops once it has masked it (issue 11: C's peak
/// memory).
pub(crate) fn drelu_of(
    ctx: &mut dyn Context,
    place: &Placement,
    keys: &mut Keys,
    variant: Variant,
    a: Option<Cow<'_, Tensor<u64>>>,
    shape: &[usize],
) -> Result<Option<Tensor<u64>>> {
    within(ctx, "DReLU", |ctx| {
        drelu_steps(ctx, place, keys, variant, a, shape)
    })
}

/// The steps of [`drelu`], inside its sub-protocol (the call path the trace records).
fn drelu_steps(
    ctx: &mut dyn Context,
    place: &Placement,
    keys: &mut Keys,
    variant: Variant,
    a: Option<Cow<'_, Tensor<u64>>>,
    shape: &[usize],
) -> Result<Option<Tensor<u64>>> {
    let me = role(ctx, place);
    let y = match variant {
        Variant::Secure | Variant::AsPublished => {
            // Step 1: ⟨c⟩ⱼ = 2⟨a⟩ⱼ (even, so c ≠ L − 1 as ShareConvert requires).
            ctx.step("DReLU 1: ⟨c⟩ⱼ = 2⟨a⟩ⱼ")?;
            let c = match (me, a) {
                (Role::Server(_), Some(Cow::Owned(mut a))) => {
                    a.mapv_inplace(|v| v.mul(2u64));
                    Some(a)
                }
                (Role::Server(_), a) => Some(tensor::scale(need(a.as_deref(), "a")?, 2u64)),
                _ => None,
            };
            // Step 2: ShareConvert c to Z_{L−1}.
            share_convert_of(ctx, place, keys, variant, c.map(Cow::Owned), shape)?
        }
        Variant::Shortcut => {
            // tf-encrypted: cast the shares of a to Z_{L−1} as they are (no ShareConvert).
            ctx.step("DReLU 1–2 (shortcut, insecure): reinterpret ⟨a⟩ⱼ in Z_{L−1}")?;
            match me {
                Role::Server(_) => Some(to_odd(need(a.as_deref(), "a")?)),
                _ => None,
            }
        }
    };
    // Step 3: ComputeMSB of y.
    let alpha = compute_msb(ctx, place, keys, variant, y.as_ref(), shape)?;
    // Step 4: ⟨γ⟩ⱼ = j − ⟨α⟩ⱼ + uⱼ.
    ctx.step("DReLU 4: ⟨γ⟩ⱼ = j − ⟨α⟩ⱼ + uⱼ")?;
    if let (Role::Server(j), Some(alpha)) = (me, alpha) {
        let u: Tensor<u64> = keys.zero_share(j, shape)?;
        let gamma = ndarray::Zip::from(&alpha)
            .and(&u)
            .map_collect(|&al, &uj| (j as u64).sub(al).add(uj));
        ctx.record_share("DReLU(a) = [a ≥ 0]", &gamma);
        return Ok(Some(gamma));
    }
    Ok(None)
}

/// **ReLU**: shares of max(a, 0) = DReLU(a)·a, via [`drelu`] and [`select_share`] (select between
/// 0 and a). Domain as [`drelu`]. Exact: no approximation, any fixed-point scale.
///
/// Paper: online 15 messages, 440n bytes, 9 rounds; offline 3 messages, 88n bytes. 23 steps.
/// Shortcut: online 9 messages, 216n bytes, 5 rounds; offline 3 messages, 88n bytes. 17 steps.
pub fn relu(
    ctx: &mut dyn Context,
    place: &Placement,
    keys: &mut Keys,
    variant: Variant,
    a: Option<&Tensor<u64>>,
    shape: &[usize],
) -> Result<Option<Tensor<u64>>> {
    within(ctx, "ReLU", |ctx| {
        relu_steps(ctx, place, keys, variant, a, shape)
    })
}

/// The steps of [`relu`], inside its sub-protocol (the call path the trace records).
fn relu_steps(
    ctx: &mut dyn Context,
    place: &Placement,
    keys: &mut Keys,
    variant: Variant,
    a: Option<&Tensor<u64>>,
    shape: &[usize],
) -> Result<Option<Tensor<u64>>> {
    let alpha = drelu(ctx, place, keys, variant, a, shape)?;
    let zero = a.map(|_| tensor::zeros::<u64>(shape));
    let z = select_share(ctx, place, keys, alpha.as_ref(), zero.as_ref(), a, shape)?;
    if let Some(z) = &z {
        ctx.record_share("ReLU(a)", z);
    }
    Ok(z)
}

/// **greater**: shares over Z_L of [x > y] = 1 − DReLU(y − x), for |x − y| < 2^62.
/// Cost: that of [`drelu`] on n elements; 20 steps (paper), 14 (shortcut).
#[allow(clippy::too_many_arguments)]
pub fn greater(
    ctx: &mut dyn Context,
    place: &Placement,
    keys: &mut Keys,
    variant: Variant,
    x: Option<&Tensor<u64>>,
    y: Option<&Tensor<u64>>,
    shape: &[usize],
) -> Result<Option<Tensor<u64>>> {
    within(ctx, "greater", |ctx| {
        greater_steps(ctx, place, keys, variant, x, y, shape)
    })
}

/// The steps of [`greater`], inside its sub-protocol (the call path the trace records).
#[allow(clippy::too_many_arguments)]
fn greater_steps(
    ctx: &mut dyn Context,
    place: &Placement,
    keys: &mut Keys,
    variant: Variant,
    x: Option<&Tensor<u64>>,
    y: Option<&Tensor<u64>>,
    shape: &[usize],
) -> Result<Option<Tensor<u64>>> {
    let me = role(ctx, place);
    ctx.step("greater: d = y − x")?;
    let d = match me {
        Role::Server(_) => Some(tensor::sub(need(y, "y")?, need(x, "x")?)?),
        _ => None,
    };
    let ge = drelu(ctx, place, keys, variant, d.as_ref(), shape)?;
    ctx.step("greater: [x > y] = 1 − DReLU(y − x)")?;
    if let (Role::Server(j), Some(ge)) = (me, ge) {
        let gt = ge.mapv(|v| (1 - j as u64).sub(v));
        ctx.record_share("[x > y]", &gt);
        return Ok(Some(gt));
    }
    Ok(None)
}

/// **less**: shares of [x < y] = [`greater`](y, x). Same cost.
#[allow(clippy::too_many_arguments)]
pub fn less(
    ctx: &mut dyn Context,
    place: &Placement,
    keys: &mut Keys,
    variant: Variant,
    x: Option<&Tensor<u64>>,
    y: Option<&Tensor<u64>>,
    shape: &[usize],
) -> Result<Option<Tensor<u64>>> {
    greater(ctx, place, keys, variant, y, x, shape)
}

/// The maximum (and, with `with_index`, the index of its first occurrence) of k candidates, for m
/// independent columns: `cands` is [k, m]. A comparison **tree** (`super::tree`, shared with
/// DMaxPool): each level pairs candidates (2i, 2i + 1), keeps left if left ≥ right (so ties go
/// to the lower index), and carries an odd one out. ⌈log₂ k⌉ levels, k − 1 comparisons of m
/// elements in all; every level is one DReLU and one SelectShare on all its pairs at once
/// (values and indices selected together).
#[allow(clippy::too_many_arguments)]
fn tournament(
    ctx: &mut dyn Context,
    place: &Placement,
    keys: &mut Keys,
    variant: Variant,
    cands: Option<Tensor<u64>>,
    k: usize,
    m: usize,
    with_index: bool,
) -> Result<Option<(Tensor<u64>, Tensor<u64>)>> {
    let tree = super::tree::Tree {
        level_step: "MaxPool tree level",
        carry: if with_index {
            super::tree::Carry::Index
        } else {
            super::tree::Carry::Nothing
        },
        values_at_last: true,
    };
    let won = super::tree::run(ctx, place, keys, variant, cands, k, m, &tree)?;
    Ok(won.map(|w| {
        let max = w.max.expect("the tree selects the maxima");
        let index = w.index.unwrap_or_else(|| tensor::zeros(&[m]));
        (max, index)
    }))
}

/// **MaxPool** over kernel×kernel windows (stride defaults to the kernel in the program IR) of an
/// NCHW tensor, with a comparison tree (an optimisation the paper allows; the paper's MaxPool is
/// sequential, 9(k−1) rounds). Domain: differences of values in a window within [−2^62, 2^62).
///
/// With k = kernel², m = output elements and levels = ⌈log₂ k⌉: online 15·levels messages,
/// 440(k−1)m bytes, 9·levels rounds; offline 3·levels messages, 88(k−1)m bytes (paper variant).
/// Shortcut: online 9·levels messages, 216(k−1)m bytes, 5·levels rounds; same offline.
#[allow(clippy::too_many_arguments)]
pub fn maxpool(
    ctx: &mut dyn Context,
    place: &Placement,
    keys: &mut Keys,
    variant: Variant,
    x: Option<&Tensor<u64>>,
    shape: &[usize],
    kernel: usize,
    stride: usize,
) -> Result<Option<Tensor<u64>>> {
    maxpool_of(
        ctx,
        place,
        keys,
        variant,
        x.map(Cow::Borrowed),
        shape,
        kernel,
        stride,
    )
}

/// [`maxpool`] of a borrowed or owned share `x`: an owned one (no later op reads it) is dropped
/// as soon as the windows are gathered (issue 11: C's peak memory).
#[allow(clippy::too_many_arguments)]
pub(crate) fn maxpool_of(
    ctx: &mut dyn Context,
    place: &Placement,
    keys: &mut Keys,
    variant: Variant,
    x: Option<Cow<'_, Tensor<u64>>>,
    shape: &[usize],
    kernel: usize,
    stride: usize,
) -> Result<Option<Tensor<u64>>> {
    within(ctx, "MaxPool", |ctx| {
        maxpool_steps(ctx, place, keys, variant, x, shape, kernel, stride)
    })
}

/// The steps of [`maxpool`], inside its sub-protocol (the call path the trace records).
#[allow(clippy::too_many_arguments)]
fn maxpool_steps(
    ctx: &mut dyn Context,
    place: &Placement,
    keys: &mut Keys,
    variant: Variant,
    x: Option<Cow<'_, Tensor<u64>>>,
    shape: &[usize],
    kernel: usize,
    stride: usize,
) -> Result<Option<Tensor<u64>>> {
    if shape.len() != 4 {
        return Err(ProtocolError::Shape {
            op: "maxpool".into(),
            detail: format!("needs NCHW, got {shape:?}"),
        });
    }
    let (oh, ow) = crate::kernels::conv2d_output_hw(shape[2], shape[3], kernel, kernel, stride, 0)
        .ok_or_else(|| ProtocolError::Shape {
            op: "maxpool".into(),
            detail: format!("window {kernel} stride {stride} does not fit {shape:?}"),
        })?;
    let out_shape = [shape[0], shape[1], oh, ow];
    let (k, m) = (kernel * kernel, tensor::numel(&out_shape));
    ctx.step("MaxPool: gather windows (local)")?;
    let cands = match role(ctx, place) {
        Role::Server(_) => {
            let x = need(x.as_deref(), "x")?;
            Some(Tensor::from_shape_fn(IxDyn(&[k, m]), |d| {
                let (w, mut o) = (d[0], d[1]);
                let j = o % ow;
                o /= ow;
                let i = o % oh;
                o /= oh;
                let c = o % shape[1];
                let b = o / shape[1];
                x[[b, c, i * stride + w / kernel, j * stride + w % kernel]]
            }))
        }
        _ => None,
    };
    drop(x);
    let out = tournament(ctx, place, keys, variant, cands, k, m, false)?;
    match out {
        Some((v, _)) => {
            let v = tensor::reshape(&v, &out_shape)?;
            ctx.record_share("MaxPool(x)", &v);
            Ok(Some(v))
        }
        None => Ok(None),
    }
}

/// **argmax** over the last axis: shares over Z_L of the index (an integer, not fixed point) of
/// the first maximum, shape = `shape` without its last axis (or [1] for a vector). A comparison
/// tree as in [`maxpool`], selecting value and index together: with k = last axis, m = the other
/// elements, levels = ⌈log₂ k⌉: online 15·levels messages, 472(k−1)m bytes, 9·levels rounds;
/// offline 3·levels messages, 96(k−1)m bytes (paper variant).
pub fn argmax(
    ctx: &mut dyn Context,
    place: &Placement,
    keys: &mut Keys,
    variant: Variant,
    x: Option<&Tensor<u64>>,
    shape: &[usize],
) -> Result<Option<Tensor<u64>>> {
    within(ctx, "argmax", |ctx| {
        argmax_steps(ctx, place, keys, variant, x, shape)
    })
}

/// The steps of [`argmax`], inside its sub-protocol (the call path the trace records).
fn argmax_steps(
    ctx: &mut dyn Context,
    place: &Placement,
    keys: &mut Keys,
    variant: Variant,
    x: Option<&Tensor<u64>>,
    shape: &[usize],
) -> Result<Option<Tensor<u64>>> {
    let (&k, rest) = shape.split_last().ok_or_else(|| ProtocolError::Shape {
        op: "argmax".into(),
        detail: "needs at least one axis".into(),
    })?;
    let m = tensor::numel(rest);
    let out_shape: Vec<usize> = if rest.is_empty() {
        vec![1]
    } else {
        rest.to_vec()
    };
    ctx.step("argmax: candidates along the last axis (local)")?;
    let cands = match role(ctx, place) {
        Role::Server(_) => {
            let x = tensor::reshape(need(x, "x")?, &[m, k])?;
            Some(tensor::transpose(&x))
        }
        _ => None,
    };
    let out = tournament(ctx, place, keys, variant, cands, k, m, true)?;
    match out {
        Some((_, i)) => {
            let i = tensor::reshape(&i, &out_shape)?;
            ctx.record_share("argmax(x)", &i);
            Ok(Some(i))
        }
        None => Ok(None),
    }
}
