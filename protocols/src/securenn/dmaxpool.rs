//! **DMaxPool**: the derivative of MaxPool — shares of the one-hot vector of each window's first
//! maximum — with SecureNN's comparison tree carrying the index as a one-hot vector.
//!
//! The paper's MaxPool keeps, beside the running maximum, the index of the maximum; its DMaxPool
//! (for windows that do not overlap) is that index as a one-hot vector E of the window's n
//! positions, and the gradient is E · dY (one product of n + 1 opened elements per window). Here
//! the tree is MaxPool's own (`super::tree`, shared with `relu::maxpool` and `relu::argmax`:
//! pairs (2i, 2i + 1), the left one kept on ties, an odd one carried), carrying
//! [`Carry::OneHot`]: each candidate carries the one-hot rows of the positions it covers, and a level's
//! SelectShare picks, for a pair with α = [left ≥ right], the rows α·E_left beside (1 − α)·E_right.
//! Level 1's one-hot rows are α and 1 − α themselves (local); the last level selects no value
//! (only the one-hot is needed). Overlapping windows are independent trees on gathered copies,
//! so every stride works; their gradients add when routed back (`crate::gradient`).

use super::{need, role, Keys, Role, Variant};
use crate::context::{within, Context};
use crate::error::{ProtocolError, Result};
use crate::pond::Placement;
use crate::tensor::Tensor;
use ndarray::IxDyn;

/// Shares over Z_L of the one-hot `[k, m]` (integers 0/1, not fixed point) of the first maximum
/// of each kernel×kernel window (`stride`) of the NCHW tensor `x` of shape `shape`: row w is
/// window position (w / kernel, w % kernel), column the output element (b, c, oy, ox).
/// Cost: [`super::cost::dmaxpool`]. Domain: differences within a window in [−2^62, 2^62).
#[allow(clippy::too_many_arguments)]
pub fn maxpool_onehot(
    ctx: &mut dyn Context,
    place: &Placement,
    keys: &mut Keys,
    variant: Variant,
    x: Option<&Tensor<u64>>,
    shape: &[usize],
    kernel: usize,
    stride: usize,
) -> Result<Option<Tensor<u64>>> {
    within(ctx, "DMaxPool", |ctx| {
        onehot_steps(ctx, place, keys, variant, x, shape, kernel, stride, false)
    })
    .map(|r| r.map(|(_, e)| e))
}

/// Shares over Z_L of each window's maximum `[m]` (fixed point, as [`super::maxpool`]) and of the
/// one-hot `[k, m]` of its first maximum (integers), from **one** tree: [`maxpool_onehot`]'s with
/// the last level selecting the winners' values too (m more SelectShare elements). Training's
/// forward max pool (`Op::MaxPool2dWithOneHot`), so the backward pass needs no second tree.
/// Cost: [`cost_with`]`(variant, k, m, true)`.
#[allow(clippy::too_many_arguments)]
pub fn maxpool_with_onehot(
    ctx: &mut dyn Context,
    place: &Placement,
    keys: &mut Keys,
    variant: Variant,
    x: Option<&Tensor<u64>>,
    shape: &[usize],
    kernel: usize,
    stride: usize,
) -> Result<Option<(Tensor<u64>, Tensor<u64>)>> {
    within(ctx, "DMaxPool", |ctx| {
        onehot_steps(ctx, place, keys, variant, x, shape, kernel, stride, true)
    })
    .map(|r| r.map(|(max, e)| (max.expect("with_max selects the maxima"), e)))
}

pub(crate) use super::tree::{levels, merge, Ranges};
use super::tree::{Carry, Tree};

/// The tree DMaxPool walks (`with_max`: the last level selects the maxima too).
fn tree(with_max: bool) -> Tree<'static> {
    Tree {
        level_step: crate::gradient::steps::LEVEL,
        carry: Carry::OneHot,
        values_at_last: with_max,
    }
}

/// The SelectShare widths of each level (in elements, for m columns): the values of the pairs'
/// winners unless it is the last level (with `with_max`, there too: the tree then yields each
/// window's maximum beside its one-hot), and the one-hot rows the pairs cover from level 2 on.
pub(crate) fn select_widths_with(k: usize, m: usize, with_max: bool) -> Vec<usize> {
    super::tree::widths(&tree(with_max), k, m)
}

/// The NCHW geometry of a max pool: (k = kernel², m = windows, oh, ow), or a shape error.
fn geometry(shape: &[usize], kernel: usize, stride: usize) -> Result<(usize, usize, usize, usize)> {
    let bad = |detail: String| ProtocolError::Shape {
        op: "DMaxPool".into(),
        detail,
    };
    if shape.len() != 4 {
        return Err(bad(format!("needs NCHW, got {shape:?}")));
    }
    let (oh, ow) = crate::kernels::conv2d_output_hw(shape[2], shape[3], kernel, kernel, stride, 0)
        .ok_or_else(|| {
            bad(format!(
                "window {kernel} stride {stride} does not fit {shape:?}"
            ))
        })?;
    Ok((kernel * kernel, shape[0] * shape[1] * oh * ow, oh, ow))
}

/// A server's maxima (when asked for) and one-hot.
type MaxAndOneHot = (Option<Tensor<u64>>, Tensor<u64>);

/// The steps of [`maxpool_onehot`] and [`maxpool_with_onehot`]: the gather, then the tree
/// carrying the one-hot; the maxima beside it with `with_max`.
#[allow(clippy::too_many_arguments)]
fn onehot_steps(
    ctx: &mut dyn Context,
    place: &Placement,
    keys: &mut Keys,
    variant: Variant,
    x: Option<&Tensor<u64>>,
    shape: &[usize],
    kernel: usize,
    stride: usize,
    with_max: bool,
) -> Result<Option<MaxAndOneHot>> {
    let (k, m, oh, ow) = geometry(shape, kernel, stride)?;
    ctx.step(crate::gradient::steps::GATHER)?;
    // Candidate values [k, m].
    let cands = match role(ctx, place) {
        Role::Server(_) => {
            let x = need(x, "x")?;
            Some(Tensor::from_shape_fn(IxDyn(&[k, m]), |d| {
                let (w, mut o) = (d[0], d[1]);
                let jx = o % ow;
                o /= ow;
                let i = o % oh;
                o /= oh;
                let c = o % shape[1];
                let b = o / shape[1];
                x[[b, c, i * stride + w / kernel, jx * stride + w % kernel]]
            }))
        }
        _ => None,
    };
    let won = super::tree::run(ctx, place, keys, variant, cands, k, m, &tree(with_max))?;
    match won {
        Some(w) => {
            let onehot = w.onehot.expect("the tree carries the one-hot");
            ctx.record_share("DMaxPool: one-hot of each window's first maximum", &onehot);
            Ok(Some((w.max.filter(|_| with_max), onehot)))
        }
        None => Ok(None),
    }
}

/// The cost of [`maxpool_onehot`] over k = kernel² positions for m windows: per tree level one
/// DReLU of q·m pair differences and, unless its width is 0, one SelectShare of
/// [`select_widths_with`] elements (the winners' values below the last level, the one-hot rows the
/// pairs cover from level 2 on). For a 2×2 window (k = 4): DReLU(2m), SelectShare(2m), DReLU(m),
/// SelectShare(4m).
pub fn cost(variant: Variant, k: usize, m: usize) -> crate::cost::Cost {
    cost_with(variant, k, m, false)
}

/// [`cost`], with `with_max` the last level's m maxima selected too ([`maxpool_with_onehot`]).
/// For a 2×2 window: DReLU(2m), SelectShare(2m), DReLU(m), SelectShare(5m).
pub fn cost_with(variant: Variant, k: usize, m: usize, with_max: bool) -> crate::cost::Cost {
    use super::cost as snn;
    levels(k)
        .into_iter()
        .zip(select_widths_with(k, m, with_max))
        .fold(crate::cost::Cost::ZERO, |c, (q, w)| {
            let c = c.then(snn::drelu(variant, (q * m) as u64));
            if w > 0 {
                c.then(snn::select_share(w as u64))
            } else {
                c
            }
        })
}

/// The flow of [`cost`]: DReLU then (if any) SelectShare per level.
pub fn flow(variant: Variant, k: usize, m: usize) -> crate::cost::Flow {
    flow_with(variant, k, m, false)
}

/// The flow of [`cost_with`].
pub fn flow_with(variant: Variant, k: usize, m: usize, with_max: bool) -> crate::cost::Flow {
    use super::cost as snn;
    select_widths_with(k, m, with_max)
        .into_iter()
        .fold(crate::cost::Flow::LOCAL, |f, w| {
            let f = f.then(snn::drelu_flow(variant));
            if w > 0 {
                f.then(snn::matmul_flow())
            } else {
                f
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_widths_cover_the_values_and_the_merged_rows() {
        // 2×2: level 1 selects the two winners' values (2m), level 2 only the four one-hot rows.
        assert_eq!(select_widths_with(4, 3, false), vec![6, 12]);
        // 3×3 (k = 9): levels of 4, 2, 1, 1 pairs; rows covered from level 2: 8, 8, 9.
        assert_eq!(select_widths_with(9, 1, false), vec![4, 2 + 8, 1 + 8, 9]);
        assert_eq!(select_widths_with(2, 5, false), vec![0]);
        assert!(select_widths_with(1, 5, false).is_empty());
    }

    #[test]
    fn the_flow_has_the_rounds_of_the_cost() {
        for v in [Variant::Secure, Variant::Shortcut] {
            for k in 1..12 {
                assert_eq!(flow(v, k, 3).rounds(), cost(v, k, 3).rounds, "k = {k}");
            }
        }
    }
}
