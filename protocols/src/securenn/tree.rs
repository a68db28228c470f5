//! **The comparison tree** of SecureNN's MaxPool, argmax and DMaxPool (`relu::maxpool`,
//! `relu::argmax`, `dmaxpool::maxpool_onehot`): one walk for all three, by what it carries beside
//! the candidates' values ([`Carry`]).
//!
//! Each level pairs the candidates still in the running (2i, 2i + 1), keeps the left one when
//! left ≥ right (ties go to the lower position, so the first maximum wins) and carries an odd one
//! out: ⌈log₂ k⌉ levels, each a sub-protocol `level L` with one DReLU of the q·m differences
//! left − right and one SelectShare of, side by side, the pairs' winning values (not at the last
//! level when only the one-hot is wanted) and what the tree carries — the winners' indices, or
//! the one-hot rows the pairs cover (from level 2 on; level 1's rows are α and 1 − α, local).

use super::relu::drelu_of;
use super::{role, select_share, Keys, Role, Variant};
use crate::context::Context;
use crate::error::Result;
use crate::pond::Placement;
use crate::ring::Ring;
use crate::tensor::{self, Tensor};
use ndarray::{Axis, IxDyn};
use std::borrow::Cow;

/// What the tree carries beside the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Carry {
    /// Nothing: the maximum only (MaxPool).
    Nothing,
    /// The index of each candidate, selected with the values (argmax).
    Index,
    /// The one-hot rows of the positions each candidate covers (DMaxPool).
    OneHot,
}

/// How a tree is walked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tree<'a> {
    /// The level steps' prefix (`MaxPool tree level`, `DMaxPool tree level`).
    pub level_step: &'a str,
    /// What is carried.
    pub carry: Carry,
    /// Whether the last level selects the winners' values (the maximum) too.
    pub values_at_last: bool,
}

/// A server's result of the tree: the maxima `[m]` (when selected at the last level), the
/// indices `[m]` ([`Carry::Index`]) or the one-hot `[k, m]` ([`Carry::OneHot`]).
pub(crate) struct Won {
    /// The maxima.
    pub max: Option<Tensor<u64>>,
    /// The first maximum's index.
    pub index: Option<Tensor<u64>>,
    /// The first maximum's one-hot.
    pub onehot: Option<Tensor<u64>>,
}

/// The rows `[start, start + size)` of the one-hot that each candidate of a level covers.
pub(crate) type Ranges = Vec<(usize, usize)>;

/// The tree's levels for k candidates: per level, the pairs' count q.
pub(crate) fn levels(k: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut count = k;
    while count > 1 {
        out.push(count / 2);
        count = count / 2 + count % 2;
    }
    out
}

/// The candidates after a level of q pairs.
pub(crate) fn merge(ranges: &Ranges, q: usize) -> Ranges {
    let mut next: Ranges = (0..q)
        .map(|i| (ranges[2 * i].0, ranges[2 * i].1 + ranges[2 * i + 1].1))
        .collect();
    if ranges.len() % 2 == 1 {
        next.push(*ranges.last().expect("odd count"));
    }
    next
}

/// The SelectShare width of each level of `tree` over k candidates for m columns, in elements:
/// the winners' values (q·m) unless it is the last level and the tree does not select them, then
/// the carried part — the indices (q·m), or the one-hot rows the pairs cover (from level 2 on).
pub(crate) fn widths(tree: &Tree<'_>, k: usize, m: usize) -> Vec<usize> {
    let ls = levels(k);
    let mut ranges: Ranges = (0..k).map(|i| (i, 1)).collect();
    let mut out = Vec::new();
    for (l, &q) in ls.iter().enumerate() {
        let last = l + 1 == ls.len();
        let values = if last && !tree.values_at_last {
            0
        } else {
            q * m
        };
        let carried = match tree.carry {
            Carry::Nothing => 0,
            Carry::Index => q * m,
            Carry::OneHot if l == 0 => 0,
            Carry::OneHot => ranges[..2 * q].iter().map(|r| r.1).sum::<usize>() * m,
        };
        out.push(values + carried);
        ranges = merge(&ranges, q);
    }
    out
}

/// Rows `off, off + 2, …` (q of them) of a `[count, m]` tensor as one `[q·m]` vector.
fn rows(t: &Tensor<u64>, q: usize, off: usize, m: usize) -> Tensor<u64> {
    let v: Vec<u64> = (0..q)
        .flat_map(|i| t.index_axis(Axis(0), 2 * i + off).to_owned().into_iter())
        .collect();
    Tensor::from_shape_vec(IxDyn(&[q * m]), v).expect("q·m")
}

/// The q winners `[q·m]` as `[q, m]`, with the odd last row of `all` (of `count` rows) carried.
fn grow(won: &Tensor<u64>, all: &Tensor<u64>, q: usize, m: usize, count: usize) -> Tensor<u64> {
    let w = tensor::reshape(won, &[q, m]).expect("q·m");
    if count % 2 == 1 {
        let last = all.slice_axis(Axis(0), (count - 1..count).into());
        ndarray::concatenate(Axis(0), &[w.view(), last]).expect("2-D")
    } else {
        w
    }
}

/// A server's state between levels.
struct State {
    /// The candidates' values `[count, m]`.
    vals: Tensor<u64>,
    /// The candidates' indices `[count, m]` ([`Carry::Index`]) or the one-hot `[k, m]`
    /// ([`Carry::OneHot`]); empty for [`Carry::Nothing`].
    carried: Tensor<u64>,
}

/// Walks `tree` over the candidates `cands` `[k, m]` (a server's shares; `None` elsewhere: every
/// party walks the same steps). Index shares: server0 holds the index, server1 0; the one-hot
/// starts as all ones (server0 holds the 1s).
#[allow(clippy::too_many_arguments)]
pub(crate) fn run(
    ctx: &mut dyn Context,
    place: &Placement,
    keys: &mut Keys,
    variant: Variant,
    cands: Option<Tensor<u64>>,
    k: usize,
    m: usize,
    tree: &Tree<'_>,
) -> Result<Option<Won>> {
    let me = role(ctx, place);
    let mut state = match (me, cands) {
        (Role::Server(j), Some(vals)) => {
            let carried = match tree.carry {
                // Not read: no [k, m] tensor (issue 11: C's peak memory).
                Carry::Nothing => Tensor::from_shape_vec(IxDyn(&[0]), Vec::new()).expect("empty"),
                Carry::Index => {
                    Tensor::from_shape_fn(IxDyn(&[k, m]), |d| if j == 0 { d[0] as u64 } else { 0 })
                }
                Carry::OneHot => Tensor::from_elem(IxDyn(&[k, m]), u64::from(j == 0)),
            };
            Some(State { vals, carried })
        }
        _ => None,
    };
    let ls = levels(k);
    let ws = widths(tree, k, m);
    let mut ranges: Ranges = (0..k).map(|i| (i, 1)).collect();
    let mut count = k;
    for (l, &q) in ls.iter().enumerate() {
        let level = l + 1;
        let last = level == ls.len();
        let with_values = !last || tree.values_at_last;
        // Each level is a sub-protocol of its own (`MaxPool › level 2 › DReLU › …`), so step out
        // can finish one level. An error ends the party, so no `leave` is owed on that path.
        ctx.enter(&format!("level {level}"));
        ctx.step(&format!(
            "{} {level}: {q} pair(s), d = left − right",
            tree.level_step
        ))?;
        let d = match &state {
            Some(s) => Some(tensor::sub(
                &rows(&s.vals, q, 0, m),
                &rows(&s.vals, q, 1, m),
            )?),
            None => None,
        };
        // α = [left ≥ right] for each pair.
        // d is read by nothing else: DReLU doubles it in place and frees it once masked.
        let alpha = drelu_of(ctx, place, keys, variant, d.map(Cow::Owned), &[q * m])?;
        if tree.carry == Carry::OneHot && level == 1 {
            ctx.step(crate::gradient::steps::LEVEL1_ONEHOT)?;
        }
        let width = ws[l];
        // x (taken where α = 0) and y (where α = 1), and α for each element.
        let mut selected = None;
        if let (Role::Server(j), Some(a), Some(s)) = (me, &alpha, &mut state) {
            let (mut xs, mut ys, mut al) = (Vec::new(), Vec::new(), Vec::new());
            if with_values {
                xs.extend(rows(&s.vals, q, 1, m));
                ys.extend(rows(&s.vals, q, 0, m));
                al.extend(a.iter().copied());
            }
            match tree.carry {
                Carry::Nothing => {}
                Carry::Index => {
                    xs.extend(rows(&s.carried, q, 1, m));
                    ys.extend(rows(&s.carried, q, 0, m));
                    al.extend(a.iter().copied());
                }
                Carry::OneHot if level == 1 => {
                    // The pairs' rows are α and 1 − α (server0 holds the 1).
                    for i in 0..q {
                        let ai = a.slice_axis(Axis(0), (i * m..(i + 1) * m).into());
                        s.carried.index_axis_mut(Axis(0), 2 * i).assign(&ai);
                        let not = ai.mapv(|v| u64::from(j == 0).sub(v));
                        s.carried.index_axis_mut(Axis(0), 2 * i + 1).assign(&not);
                    }
                }
                Carry::OneHot => {
                    // A pair's left rows are 0 / E_left, its right rows E_right / 0.
                    for i in 0..q {
                        let ai = a.slice_axis(Axis(0), (i * m..(i + 1) * m).into());
                        for (side, &(start, size)) in
                            [ranges[2 * i], ranges[2 * i + 1]].iter().enumerate()
                        {
                            for r in start..start + size {
                                let row = s.carried.index_axis(Axis(0), r);
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
            if let (Some(won), Some(s)) = (won, &mut state) {
                let part = |at: usize, n: usize| won.slice_axis(Axis(0), (at..at + n).into());
                let mut off = 0;
                if with_values {
                    s.vals = grow(&part(0, q * m).to_owned(), &s.vals, q, m, count);
                    off = q * m;
                }
                match tree.carry {
                    Carry::Nothing => {}
                    Carry::Index => {
                        s.carried = grow(&part(off, q * m).to_owned(), &s.carried, q, m, count);
                    }
                    Carry::OneHot if level == 1 => {}
                    Carry::OneHot => {
                        let covered: usize = ranges[..2 * q].iter().map(|r| r.1).sum();
                        for r in 0..covered {
                            s.carried
                                .index_axis_mut(Axis(0), r)
                                .assign(&part(off + r * m, m));
                        }
                    }
                }
            }
        }
        ranges = merge(&ranges, q);
        count = q + count % 2;
        ctx.leave();
    }
    Ok(state.map(|s| {
        let one = |t: &Tensor<u64>| tensor::reshape(t, &[m]).expect("one row");
        Won {
            max: (ls.is_empty() || tree.values_at_last).then(|| one(&s.vals)),
            index: (tree.carry == Carry::Index).then(|| one(&s.carried)),
            onehot: (tree.carry == Carry::OneHot).then_some(s.carried),
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_cover_the_values_and_what_is_carried() {
        let onehot = |values_at_last| Tree {
            level_step: "t",
            carry: Carry::OneHot,
            values_at_last,
        };
        // 2×2: level 1 selects the two winners' values (2m), level 2 only the four one-hot rows.
        assert_eq!(widths(&onehot(false), 4, 3), vec![6, 12]);
        // With the maximum: the last level's winner too.
        assert_eq!(widths(&onehot(true), 4, 3), vec![6, 15]);
        // 3×3 (k = 9): levels of 4, 2, 1, 1 pairs; rows covered from level 2: 8, 8, 9.
        assert_eq!(widths(&onehot(false), 9, 1), vec![4, 2 + 8, 1 + 8, 9]);
        assert_eq!(widths(&onehot(false), 2, 5), vec![0]);
        assert!(widths(&onehot(false), 1, 5).is_empty());
        let index = Tree {
            level_step: "t",
            carry: Carry::Index,
            values_at_last: true,
        };
        assert_eq!(widths(&index, 5, 2), vec![8, 4, 4]);
        let plain = Tree {
            carry: Carry::Nothing,
            ..index
        };
        assert_eq!(widths(&plain, 5, 2), vec![4, 2, 2]);
    }
}
