//! **DMaxPool under ABY3**: replicated shares of the one-hot of each window's first maximum (and,
//! on request, the maximum itself) by the comparison tree of [`super::nonlinear`] carrying the
//! one-hot, as SecureNN's `securenn::dmaxpool` does with its DReLU and SelectShare.
//!
//! The tree pairs candidates (2i, 2i + 1), keeps the left one on ties (so the first maximum wins)
//! and carries an odd one out (`securenn::dmaxpool::levels`). Each level is one [`drelu`] of the
//! q·m differences left − right, one [`boolean::b2a_bit`] making b = [left ≥ right] an arithmetic
//! 0/1, and **one product** of b with, side by side: the differences (winner = right + b·d; not at
//! the last level unless the maximum is wanted) and, from level 2 on, the one-hot rows the pair
//! covers (left rows become b·E_left, right rows E_right − b·E_right). Level 1's rows are b and
//! 1 − b themselves (local). The widths are SecureNN's (`securenn::dmaxpool::select_widths_with`).
//! Cost: [`price`].
//!
//! [`drelu`]: super::nonlinear::drelu

use super::boolean::{self, at_servers, concat, need};
use super::boolean_cost::{self, Price};
use super::nonlinear::{self, TREE_DIFF};
use super::product::Bilinear;
use super::rep::{Keys, Rep};
use crate::context::{within, Context};
use crate::error::{ProtocolError, Result};
use crate::protocol::Seats;
use crate::securenn::dmaxpool::{levels, merge, select_widths_with, Ranges};
use crate::tensor::Tensor;
use ndarray::{Axis, IxDyn};

/// Step: DMaxPool's windows gathered into candidate rows, local.
pub const DMAXPOOL_WINDOWS: &str = "DMaxPool windows";
/// Step: level 1's one-hot rows b and 1 − b, local.
pub const LEVEL1_ONEHOT: &str = "DMaxPool level 1 one-hot rows";
/// Step: a level's product of b with the differences and the covered one-hot rows.
pub const ONEHOT_SELECT: &str = "tree select with one-hot";
/// Step: MaxPool2dGrad's product of the one-hot with the gradient broadcast over each window.
pub const ROUTE_PRODUCT: &str = "one-hot · gradient";

/// The NCHW geometry of a max pool's windows: (k = kernel², m = windows, oh, ow), or a located
/// shape error.
pub(crate) fn windows(
    op: &str,
    shape: &[usize],
    kernel: usize,
    stride: usize,
) -> Result<(usize, usize, usize, usize)> {
    let bad = |detail: String| ProtocolError::Shape {
        op: op.into(),
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

/// One component's window candidates `[k, m]`: row w is window position (w / kernel, w % kernel),
/// column the output element (b, c, oy, ox).
fn gather(
    t: &Tensor<u64>,
    shape: &[usize],
    kernel: usize,
    stride: usize,
    oh: usize,
    ow: usize,
) -> Tensor<u64> {
    let k = kernel * kernel;
    let m = shape[0] * shape[1] * oh * ow;
    Tensor::from_shape_fn(IxDyn(&[k, m]), |d| {
        let (w, mut o) = (d[0], d[1]);
        let j = o % ow;
        o /= ow;
        let i = o % oh;
        o /= oh;
        let c = o % shape[1];
        let b = o / shape[1];
        t[[b, c, i * stride + w / kernel, j * stride + w % kernel]]
    })
}

/// Row `r` of a `[rows, m]` sharing, as an `[m]` sharing.
fn row(x: &Rep, r: usize) -> Rep {
    x.map(|t| t.index_axis(Axis(0), r).to_owned())
}

/// Elements `[r·m, (r + 1)·m)` of a flat sharing.
fn chunk(x: &Rep, r: usize, m: usize) -> Rep {
    x.map(|t| {
        t.slice_axis(Axis(0), (r * m..(r + 1) * m).into())
            .to_owned()
    })
}

/// Writes `v` ([m]) into row `r` of `x`.
fn set_row(x: &mut Rep, r: usize, v: &Rep) {
    x.lo.index_axis_mut(Axis(0), r).assign(&v.lo);
    x.hi.index_axis_mut(Axis(0), r).assign(&v.hi);
}

/// **DMaxPool**: shares of the one-hot `[k, m]` (integers 0/1, not fixed point) of each
/// kernel×kernel window's (`stride`) first maximum of the NCHW sharing `x` of shape `shape`, and
/// with `with_max` the maxima `[m]` too. Called by every party (non-servers with `None`). Exact
/// while the differences within a window do not wrap. Cost: [`price`].
#[allow(clippy::too_many_arguments)]
pub fn maxpool_onehot(
    ctx: &mut dyn Context,
    seats: &Seats,
    keys: &mut Keys,
    x: Option<&Rep>,
    shape: &[usize],
    kernel: usize,
    stride: usize,
    with_max: bool,
) -> Result<Option<(Option<Rep>, Rep)>> {
    within(ctx, "DMaxPool", |ctx| {
        let (k, m, oh, ow) = windows("DMaxPool", shape, kernel, stride)?;
        ctx.step(DMAXPOOL_WINDOWS)?;
        let seat = keys.seat();
        // Candidate values [count, m] and the one-hot [k, m] (all ones: every position is still
        // in the running).
        let mut state = at_servers(seat, |i| {
            let vals = need(x, "x")?.map(|t| gather(t, shape, kernel, stride, oh, ow));
            let ones = Rep::public(i, &Tensor::from_elem(IxDyn(&[k, m]), 1u64));
            Ok((vals, ones))
        })?;
        let ls = levels(k);
        let widths = select_widths_with(k, m, with_max);
        let mut ranges: Ranges = (0..k).map(|i| (i, 1)).collect();
        for (l, &q) in ls.iter().enumerate() {
            let level = l + 1;
            let with_values = level < ls.len() || with_max;
            let width = widths[l];
            let rs = &ranges;
            let st = &mut state;
            within(ctx, &format!("level {level}"), |ctx| {
                ctx.step(TREE_DIFF)?;
                let d = at_servers(seat, |_| {
                    let (v, _) = need(st.as_ref(), "a tree level")?;
                    let pick = |off| v.map(|t| nonlinear::rows(t, q, off, m));
                    pick(0).sub(&pick(1))
                })?;
                let ge = nonlinear::drelu(ctx, seats, keys, d.as_ref(), &[q * m])?;
                let b = boolean::b2a_bit(ctx, seats, keys, ge.as_ref(), &[q * m])?;
                if level == 1 {
                    ctx.step(LEVEL1_ONEHOT)?;
                    if let (Some(i), Some(b), Some((_, e))) = (seat, &b, st.as_mut()) {
                        let one = Tensor::from_elem(IxDyn(&[m]), 1u64);
                        for r in 0..q {
                            let br = chunk(b, r, m);
                            set_row(e, 2 * r, &br);
                            set_row(e, 2 * r + 1, &br.neg().add_public(i, &one)?);
                        }
                    }
                }
                if width == 0 {
                    return Ok(());
                }
                ctx.step(ONEHOT_SELECT)?;
                let (Some(i), Some(b), Some(d), Some((vals, e))) = (seat, b, d, st.as_mut()) else {
                    return Ok(());
                };
                let (mut bs, mut xs) = (Vec::new(), Vec::new());
                if with_values {
                    bs.push(b.clone());
                    xs.push(d);
                }
                if level > 1 {
                    for r in 0..q {
                        let br = chunk(&b, r, m);
                        for &(start, size) in &[rs[2 * r], rs[2 * r + 1]] {
                            for e_row in start..start + size {
                                bs.push(br.clone());
                                xs.push(row(e, e_row));
                            }
                        }
                    }
                }
                let (bs, xs) = (concat(&bs), concat(&xs));
                debug_assert_eq!(bs.lo.len(), width);
                let p = super::product::product(
                    ctx,
                    seats,
                    keys,
                    Bilinear::Elementwise,
                    Some(&bs),
                    Some(&xs),
                    "winners and one-hot rows",
                )?
                .ok_or_else(|| ProtocolError::Missing(format!("server {i} holds no PRF keys")))?;
                let mut off = 0;
                if with_values {
                    let count = vals.lo.shape()[0];
                    let right = vals.map(|t| nonlinear::rows(t, q, 1, m));
                    let won = right.add(&chunk(&p, 0, q * m))?;
                    let won = boolean::shaped(won, &[q, m])?;
                    *vals = if count % 2 == 1 {
                        let tail = |w: &Tensor<u64>, a: &Tensor<u64>| {
                            let last = a.slice_axis(Axis(0), (count - 1..count).into());
                            ndarray::concatenate(Axis(0), &[w.view(), last]).expect("2-D")
                        };
                        Rep::new(tail(&won.lo, &vals.lo), tail(&won.hi, &vals.hi))
                    } else {
                        won
                    };
                    off = q;
                }
                if level > 1 {
                    let mut at = off;
                    for r in 0..q {
                        for (side, &(start, size)) in [rs[2 * r], rs[2 * r + 1]].iter().enumerate()
                        {
                            for e_row in start..start + size {
                                let pr = chunk(&p, at, m);
                                let new = if side == 0 {
                                    pr
                                } else {
                                    row(e, e_row).sub(&pr)?
                                };
                                set_row(e, e_row, &new);
                                at += 1;
                            }
                        }
                    }
                }
                Ok(())
            })?;
            ranges = merge(&ranges, q);
        }
        Ok(state.map(|(vals, e)| {
            ctx.record_share("DMaxPool: one-hot of each window's first maximum", &e.lo);
            let max = with_max.then(|| boolean::flat(&vals));
            (max, e)
        }))
    })
}

/// The cost of [`maxpool_onehot`] over k candidates for m windows: per level `drelu(q·m)`,
/// `b2a_bit(q·m)` and, unless its width is 0, one product (`reshare`) of
/// `select_widths_with(k, m, with_max)` elements. For 2×2 windows without the maximum:
/// drelu(2m) + b2a_bit(2m) + reshare(2m), then drelu(m) + b2a_bit(m) + reshare(4m): 58 messages,
/// 768m bytes, 20 rounds; MaxPool2dGrad after it ([`maxpool2d_grad`], dY private): 61
/// messages, 864m bytes, 21 rounds.
pub fn price(k: usize, m: usize, with_max: bool) -> Price {
    levels(k)
        .into_iter()
        .zip(select_widths_with(k, m, with_max))
        .fold(Price::LOCAL, |p, (q, w)| {
            let p = p
                .then(boolean_cost::drelu((q * m) as u64))
                .then(boolean_cost::b2a_bit((q * m) as u64));
            if w > 0 {
                p.then(boolean_cost::reshare(w as u64))
            } else {
                p
            }
        })
}

/// MaxPool2dGrad's cost under ABY3 over k = kernel² positions and m windows: the tree of
/// [`price`] on a private input, then — both private — one product (`reshare`) of the k·m
/// one-hot entries with the broadcast gradient; no truncation (the one-hot is 0/1). Local
/// (nothing sent) when the input is public.
pub fn maxpool2d_grad(k: usize, m: usize, x_private: bool, dy_private: bool) -> Price {
    if !x_private {
        return Price::LOCAL;
    }
    let tree = price(k, m, false);
    if dy_private {
        tree.then(boolean_cost::reshare((k * m) as u64))
    } else {
        tree
    }
}

/// The explain pane's text for this module's steps.
pub fn explain(step: &str) -> Option<&'static str> {
    Some(match step {
        DMAXPOOL_WINDOWS => {
            "DMaxPool: gather the windows. Each server lays both components of its shares of \
             every kernel×kernel window out as k candidates (one row per window position, one \
             column per output element), and the one-hot E starts as all ones (a public 1 in \
             component 0): every position is still in the running. Local: a public \
             rearrangement of each component, nothing sent or revealed. Cost: 0 B."
        }
        LEVEL1_ONEHOT => {
            "DMaxPool, level 1's one-hot rows. For the first level a pair's rows are b and \
             1 − b themselves (b = [left ≥ right] from DReLU and bit2A; the public 1 goes into \
             component 0): no product is needed. Local: nothing sent or revealed. Cost: 0 B."
        }
        ONEHOT_SELECT => {
            "DMaxPool, one level's selection: one ABY3 product of the comparison bit b (an \
             arithmetic 0/1) with, side by side, the pairs' differences d = left − right \
             (winner = right + b·d, below the last level) and the one-hot rows each pair covers \
             (left rows become b·E_left, right rows E_right − b·E_right). After ⌈log₂ k⌉ levels \
             E is the one-hot of each window's first maximum (ties keep the left one). The \
             product is rerandomised by a zero-sharing and reshared, so what a server receives \
             is uniform; no truncation (b is an integer). Cost: 24 B per element, one round; \
             docs/costs.md gives the widths."
        }
        ROUTE_PRODUCT => {
            "MaxPool2dGrad: the one-hot times the gradient. One ABY3 product of E (k·m shared \
             0/1 integers) with dY broadcast over each window's k positions, rerandomised and \
             reshared: the receiver sees a uniform word. No truncation: E is an integer, so \
             E·dY keeps dY's f fractional bits. Cost: 24 B per one-hot entry, one round."
        }
        _ => return None,
    })
}
