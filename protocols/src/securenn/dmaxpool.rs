//! **DMaxPool**: the derivative of MaxPool — shares of the one-hot vector of each window's first
//! maximum — with SecureNN's comparison tree carrying the index as a one-hot vector.
//!
//! The paper's MaxPool keeps, beside the running maximum, the index of the maximum; its DMaxPool
//! (for windows that do not overlap) is that index as a one-hot vector E of the window's n
//! positions, and the gradient is E · dY (one product of n + 1 opened elements per window). Here
//! the tree is `relu::tournament`'s (pairs (2i, 2i + 1), the left one kept on ties, an odd one
//! carried): each candidate carries the one-hot rows of the positions it covers, and a level's
//! SelectShare picks, for a pair with α = [left ≥ right], the rows α·E_left beside (1 − α)·E_right.
//! Level 1's one-hot rows are α and 1 − α themselves (local); the last level selects no value
//! (only the one-hot is needed). Overlapping windows are independent trees on gathered copies,
//! so every stride works; their gradients add when routed back (`crate::gradient`).

use super::{drelu, need, role, select_share, Keys, Role, Variant};
use crate::context::{within, Context};
use crate::error::{ProtocolError, Result};
use crate::pond::Placement;
use crate::ring::Ring;
use crate::tensor::{self, Tensor};
use ndarray::{Axis, IxDyn};

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
        onehot_steps(ctx, place, keys, variant, x, shape, kernel, stride)
    })
}

/// The rows `[start, start + size)` of the one-hot that each candidate of a level covers.
type Ranges = Vec<(usize, usize)>;

/// The tree's levels for k candidates: per level, the pairs' count q and whether it is the last.
fn levels(k: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut count = k;
    while count > 1 {
        out.push(count / 2);
        count = count / 2 + count % 2;
    }
    out
}

/// The SelectShare widths of each level (in elements, for m columns): the values of the pairs'
/// winners unless it is the last level, and the one-hot rows the pairs cover from level 2 on.
pub(crate) fn select_widths(k: usize, m: usize) -> Vec<usize> {
    let ls = levels(k);
    let mut ranges: Ranges = (0..k).map(|i| (i, 1)).collect();
    let mut out = Vec::new();
    for (l, &q) in ls.iter().enumerate() {
        let last = l + 1 == ls.len();
        let values = if last { 0 } else { q * m };
        let rows: usize = if l == 0 {
            0
        } else {
            ranges[..2 * q].iter().map(|r| r.1).sum()
        };
        out.push(values + rows * m);
        ranges = merge(&ranges, q);
    }
    out
}

/// The candidates after a level of q pairs.
fn merge(ranges: &Ranges, q: usize) -> Ranges {
    let mut next: Ranges = (0..q)
        .map(|i| (ranges[2 * i].0, ranges[2 * i].1 + ranges[2 * i + 1].1))
        .collect();
    if ranges.len() % 2 == 1 {
        next.push(*ranges.last().expect("odd count"));
    }
    next
}

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
) -> Result<Option<Tensor<u64>>> {
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
    let (k, m) = (kernel * kernel, shape[0] * shape[1] * oh * ow);
    let me = role(ctx, place);
    ctx.step(crate::gradient::steps::GATHER)?;
    // Candidate values [count, m] and the one-hot [k, m]; P0 holds 1 for "every position is
    // still in the running", P1 holds 0.
    let mut state = match me {
        Role::Server(j) => {
            let x = need(x, "x")?;
            let vals = Tensor::from_shape_fn(IxDyn(&[k, m]), |d| {
                let (w, mut o) = (d[0], d[1]);
                let jx = o % ow;
                o /= ow;
                let i = o % oh;
                o /= oh;
                let c = o % shape[1];
                let b = o / shape[1];
                x[[b, c, i * stride + w / kernel, jx * stride + w % kernel]]
            });
            let one = Tensor::from_elem(IxDyn(&[k, m]), u64::from(j == 0));
            Some((vals, one))
        }
        _ => None,
    };
    let ls = levels(k);
    let widths = select_widths(k, m);
    let mut ranges: Ranges = (0..k).map(|i| (i, 1)).collect();
    for (l, &q) in ls.iter().enumerate() {
        let level = l + 1;
        let last = level == ls.len();
        ctx.enter(&format!("level {level}"));
        ctx.step(&format!(
            "{} {level}: {q} pair(s), d = left − right",
            crate::gradient::steps::LEVEL
        ))?;
        let rows_of = |t: &Tensor<u64>, off: usize| -> Tensor<u64> {
            let v: Vec<u64> = (0..q)
                .flat_map(|i| t.index_axis(Axis(0), 2 * i + off).to_owned().into_iter())
                .collect();
            Tensor::from_shape_vec(IxDyn(&[q * m]), v).expect("q·m")
        };
        let d = match &state {
            Some((vals, _)) => Some(tensor::sub(&rows_of(vals, 0), &rows_of(vals, 1))?),
            None => None,
        };
        // α = [left ≥ right] for each pair.
        let alpha = drelu(ctx, place, keys, variant, d.as_ref(), &[q * m])?;
        let width = widths[l];
        let mut selected = None;
        if level == 1 {
            ctx.step(crate::gradient::steps::LEVEL1_ONEHOT)?;
        }
        if let (Role::Server(j), Some(a), Some((vals, onehot))) = (me, &alpha, &mut state) {
            if level == 1 {
                // The pairs' rows are α and 1 − α (P0 holds the 1).
                for i in 0..q {
                    let ai = a.slice_axis(Axis(0), (i * m..(i + 1) * m).into());
                    onehot.index_axis_mut(Axis(0), 2 * i).assign(&ai);
                    let not = ai.mapv(|v| u64::from(j == 0).sub(v));
                    onehot.index_axis_mut(Axis(0), 2 * i + 1).assign(&not);
                }
            }
            // x (taken where α = 0) and y (where α = 1): the winners' values, then the one-hot
            // rows: a pair's left rows are 0 / E_left, its right rows E_right / 0.
            let (mut xs, mut ys, mut al) = (Vec::new(), Vec::new(), Vec::new());
            if !last {
                xs.extend(rows_of(vals, 1));
                ys.extend(rows_of(vals, 0));
                al.extend(a.iter().copied());
            }
            if level > 1 {
                for i in 0..q {
                    let ai = a.slice_axis(Axis(0), (i * m..(i + 1) * m).into());
                    for (side, &(start, size)) in
                        [ranges[2 * i], ranges[2 * i + 1]].iter().enumerate()
                    {
                        for r in start..start + size {
                            let row = onehot.index_axis(Axis(0), r);
                            if side == 0 {
                                xs.extend(std::iter::repeat_n(0, m));
                                ys.extend(row.iter().copied());
                            } else {
                                xs.extend(row.iter().copied());
                                ys.extend(std::iter::repeat_n(0, m));
                            }
                            al.extend(ai.iter().copied());
                        }
                    }
                }
            }
            debug_assert_eq!(xs.len(), width);
            let t = |v: Vec<u64>| Tensor::from_shape_vec(IxDyn(&[width]), v).expect("width");
            selected = Some((t(al), t(xs), t(ys)));
        }
        if width > 0 {
            let won = select_share(
                ctx,
                place,
                keys,
                selected.as_ref().map(|s| &s.0),
                selected.as_ref().map(|s| &s.1),
                selected.as_ref().map(|s| &s.2),
                &[width],
            )?;
            if let (Some(won), Some((vals, onehot))) = (won, &mut state) {
                let mut off = 0;
                if !last {
                    let wv = won.slice_axis(Axis(0), (0..q * m).into()).to_owned();
                    let wv = tensor::reshape(&wv, &[q, m])?;
                    let count = vals.shape()[0];
                    let nv = if count % 2 == 1 {
                        let lastv = vals.slice_axis(Axis(0), (count - 1..count).into());
                        ndarray::concatenate(Axis(0), &[wv.view(), lastv]).expect("2-D")
                    } else {
                        wv
                    };
                    *vals = nv;
                    off = q * m;
                }
                if level > 1 {
                    let covered: usize = ranges[..2 * q].iter().map(|r| r.1).sum();
                    for r in 0..covered {
                        let row = won.slice_axis(Axis(0), (off + r * m..off + (r + 1) * m).into());
                        onehot.index_axis_mut(Axis(0), r).assign(&row);
                    }
                }
            }
        }
        ranges = merge(&ranges, q);
        ctx.leave();
    }
    match state {
        Some((_, onehot)) => {
            ctx.record_share("DMaxPool: one-hot of each window's first maximum", &onehot);
            Ok(Some(onehot))
        }
        None => Ok(None),
    }
}

/// The cost of [`maxpool_onehot`] over k = kernel² positions for m windows: per tree level one
/// DReLU of q·m pair differences and, unless its width is 0, one SelectShare of
/// [`select_widths`] elements (the winners' values below the last level, the one-hot rows the
/// pairs cover from level 2 on). For a 2×2 window (k = 4): DReLU(2m), SelectShare(2m), DReLU(m),
/// SelectShare(4m).
pub fn cost(variant: Variant, k: usize, m: usize) -> crate::cost::Cost {
    use super::cost as snn;
    levels(k)
        .into_iter()
        .zip(select_widths(k, m))
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
    use super::cost as snn;
    select_widths(k, m)
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
        assert_eq!(select_widths(4, 3), vec![6, 12]);
        // 3×3 (k = 9): levels of 4, 2, 1, 1 pairs; rows covered from level 2: 8, 8, 9.
        assert_eq!(select_widths(9, 1), vec![4, 2 + 8, 1 + 8, 9]);
        assert_eq!(select_widths(2, 5), vec![0]);
        assert!(select_widths(1, 5).is_empty());
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
