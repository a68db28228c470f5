//! **ABY3's exact nonlinear ops** on arithmetic sharings, built on the boolean circuits of
//! [`super::boolean`]: DReLU and ReLU (§5.3 bit extraction + bit injection), greater/less,
//! MaxPool and argmax (a comparison tree, as `securenn::relu`), and tf-encrypted's piecewise-linear
//! sigmoid (`_sigmoid_private`, "5_piecewise_linear").
//!
//! Every function is called by every party (non-servers with `None`: they walk the same steps)
//! and returns the party's shares. Costs: `aby3::boolean_cost`.

use super::boolean::{self, at_servers, concat, flat, need, shaped, split};
use super::rep::{Keys, Rep};
use crate::context::{within, Context, RingKind, ValueClass};
use crate::error::{ProtocolError, Result};
use crate::fixed::FixedConfig;
use crate::protocol::Seats;
use crate::tensor::{self, Tensor};
use ndarray::{Axis, IxDyn};

/// Step: [x ≥ 0] = 1 ⊕ MSB(x), local.
pub const DRELU: &str = "DReLU = 1 ⊕ MSB";
/// Step: ReLU(x) = x · [x ≥ 0], one product.
pub const RELU_PRODUCT: &str = "ReLU product";
/// Step: d = y − x for [x > y] = MSB(y − x), local.
pub const GREATER_DIFF: &str = "greater d = y − x";
/// Step: MaxPool's windows gathered into candidate rows, local.
pub const MAXPOOL_WINDOWS: &str = "MaxPool windows";
/// Step: argmax's candidates along the last axis, local.
pub const ARGMAX_CANDIDATES: &str = "argmax candidates";
/// Step: a tree level's differences left − right, local.
pub const TREE_DIFF: &str = "tree d = left − right";
/// Step: a tree level's winners right + [left ≥ right]·(left − right), one product.
pub const TREE_SELECT: &str = "tree select";
/// Step: the sigmoid's pivot differences c_j − x, local.
pub const SIGMOID_PIVOTS: &str = "sigmoid pivots";
/// Step: the sigmoid's pieces selected by the pivot bits, one product, summed.
pub const SIGMOID_PIECES: &str = "sigmoid pieces";

/// The ABY3 product of two arithmetic sharings of the same shape at server `i` (§3.2):
/// [`super::product::product`] (local terms plus a zero-sharing, then the reshare) for a server.
/// One round, 3 messages of 8n bytes. Inside the caller's step; no truncation (callers multiply
/// by integers: bits).
fn product(
    ctx: &mut dyn Context,
    seats: &Seats,
    i: usize,
    keys: &mut Keys,
    x: &Rep,
    y: &Rep,
    label: &str,
) -> Result<Rep> {
    debug_assert_eq!(keys.seat(), Some(i));
    super::product::product(
        ctx,
        seats,
        keys,
        super::product::Bilinear::Elementwise,
        Some(x),
        Some(y),
        label,
    )?
    .ok_or_else(|| crate::ProtocolError::Missing(format!("server {i} holds no PRF keys")))
}

/// **DReLU**: a boolean sharing of [x ≥ 0] (bit 0 of each word) for an arithmetic sharing of x
/// read as a signed 64-bit integer: 1 ⊕ [`boolean::msb`]. Exact for every x ∈ Z_2^64 (no range
/// restriction). Cost: that of [`boolean::msb`].
pub fn drelu(
    ctx: &mut dyn Context,
    seats: &Seats,
    keys: &mut Keys,
    x: Option<&Rep>,
    shape: &[usize],
) -> Result<Option<Rep>> {
    within(ctx, "DReLU", |ctx| {
        let m = boolean::msb(ctx, seats, keys, x, shape)?;
        ctx.step(DRELU)?;
        at_servers(keys.seat(), |i| {
            let d = need(m.as_ref(), "MSB(x)")?
                .xor_public(i, &Tensor::from_elem(IxDyn(shape), 1u64))?;
            ctx.record(
                ValueClass::Share,
                "DReLU(x) (bit)",
                RingKind::BitWords,
                &d.lo,
            );
            Ok(d)
        })
    })
}

/// **ReLU**: an arithmetic sharing of max(x, 0) = x · [x ≥ 0]: [`drelu`], the bit to arithmetic
/// ([`boolean::b2a_bit`]), then one ABY3 product (a bit times x: no truncation, any scale).
/// tf-encrypted's `_relu_with_cmp_private` selects with `mul_ab` (bit injection by OT); this
/// injects by [`boolean::b2a_bit`] and a product. Exact for every x. Cost (`boolean_cost::relu`):
/// 29 messages, 232n bytes, 10 rounds.
pub fn relu(
    ctx: &mut dyn Context,
    seats: &Seats,
    keys: &mut Keys,
    x: Option<&Rep>,
    shape: &[usize],
) -> Result<Option<Rep>> {
    within(ctx, "ReLU", |ctx| {
        let d = drelu(ctx, seats, keys, x, shape)?;
        let b = boolean::b2a_bit(ctx, seats, keys, d.as_ref(), shape)?;
        ctx.step(RELU_PRODUCT)?;
        at_servers(keys.seat(), |i| {
            let (x, b) = (need(x, "x")?, need(b.as_ref(), "[x ≥ 0]")?);
            let y = product(ctx, seats, i, keys, x, b, "ReLU(x)")?;
            ctx.record_share("ReLU(x)", &y.lo);
            Ok(y)
        })
    })
}

/// **greater**: a boolean sharing of [x > y] (bit 0) = MSB(y − x), exact when y − x does not
/// wrap (|x − y| < 2^63; always for fixed-point values in range). Cost: that of
/// [`boolean::msb`].
pub fn greater(
    ctx: &mut dyn Context,
    seats: &Seats,
    keys: &mut Keys,
    x: Option<&Rep>,
    y: Option<&Rep>,
    shape: &[usize],
) -> Result<Option<Rep>> {
    within(ctx, "greater", |ctx| {
        ctx.step(GREATER_DIFF)?;
        let d = at_servers(keys.seat(), |_| need(y, "y")?.sub(need(x, "x")?))?;
        boolean::msb(ctx, seats, keys, d.as_ref(), shape)
    })
}

/// **less**: [x < y] = [`greater`](y, x). Same cost.
pub fn less(
    ctx: &mut dyn Context,
    seats: &Seats,
    keys: &mut Keys,
    x: Option<&Rep>,
    y: Option<&Rep>,
    shape: &[usize],
) -> Result<Option<Rep>> {
    greater(ctx, seats, keys, y, x, shape)
}

/// The rows `off, off + 2, …` (q of them) of a [k, m] component, as one [q·m] vector.
pub(crate) fn rows(t: &Tensor<u64>, q: usize, off: usize, m: usize) -> Tensor<u64> {
    let v: Vec<u64> = (0..q)
        .flat_map(|r| t.index_axis(Axis(0), 2 * r + off).to_owned().into_iter())
        .collect();
    Tensor::from_shape_vec(IxDyn(&[q * m]), v).expect("q·m")
}

/// The maximum (and with `with_index` the index of its first occurrence, an integer) of k
/// candidates for m columns, `cands` [k, m]: a comparison **tree**, as `securenn::relu`'s. Each
/// level pairs rows (2r, 2r + 1), keeps left when left ≥ right (ties go to the lower index) and
/// carries an odd row out: ⌈log₂ k⌉ levels, each a sub-protocol `level L` with one [`drelu`] of
/// left − right on all q·m pairs, one [`boolean::b2a_bit`] and one product selecting values
/// (and indices) together: winner = right + [left ≥ right]·(left − right).
#[allow(clippy::too_many_arguments)]
fn tournament(
    ctx: &mut dyn Context,
    seats: &Seats,
    keys: &mut Keys,
    cands: Option<Rep>,
    k: usize,
    m: usize,
    with_index: bool,
) -> Result<Option<(Rep, Rep)>> {
    let seat = keys.seat();
    let mut state = at_servers(seat, |i| {
        let idx = Tensor::from_shape_fn(IxDyn(&[k, m]), |d| d[0] as u64);
        Ok((need(cands, "the candidates")?, Rep::public(i, &idx)))
    })?;
    let (mut count, mut level) = (k, 0);
    while count > 1 {
        level += 1;
        let q = count / 2;
        let lvl = within(ctx, &format!("level {level}"), |ctx| {
            ctx.step(TREE_DIFF)?;
            let pairs = state.as_ref().map(|(v, ix)| {
                let pick = |r: &Rep, off| r.map(|t| rows(t, q, off, m));
                (pick(v, 0), pick(v, 1), pick(ix, 0), pick(ix, 1))
            });
            let d = at_servers(seat, |_| {
                let (lv, rv, _, _) = need(pairs.as_ref(), "a tree level")?;
                lv.sub(rv)
            })?;
            let ge = drelu(ctx, seats, keys, d.as_ref(), &[q * m])?;
            let b = boolean::b2a_bit(ctx, seats, keys, ge.as_ref(), &[q * m])?;
            ctx.step(TREE_SELECT)?;
            at_servers(seat, |i| {
                let (_, rv, li, ri) = need(pairs, "a tree level")?;
                let (b, d) = (need(b, "[left ≥ right]")?, need(d, "d")?);
                let (bb, diff, base) = if with_index {
                    (
                        concat(&[b.clone(), b]),
                        concat(&[d, li.sub(&ri)?]),
                        concat(&[rv, ri]),
                    )
                } else {
                    (b, d, rv)
                };
                let won = base.add(&product(ctx, seats, i, keys, &bb, &diff, "winners")?)?;
                let parts = if with_index {
                    split(&won, &[q * m, q * m])
                } else {
                    vec![won.clone(), won]
                };
                Ok((parts[0].clone(), parts[1].clone()))
            })
        })?;
        if let (Some((wv, wi)), Some((vals, idx))) = (lvl, state.take()) {
            let grow = |w: Rep, all: &Rep| -> Result<Rep> {
                let w = shaped(w, &[q, m])?;
                if count % 2 == 1 {
                    let last = |t: &Tensor<u64>, l: &Tensor<u64>| {
                        let tail = l.slice_axis(Axis(0), (count - 1..count).into());
                        ndarray::concatenate(Axis(0), &[t.view(), tail]).expect("2-D")
                    };
                    Ok(Rep::new(last(&w.lo, &all.lo), last(&w.hi, &all.hi)))
                } else {
                    Ok(w)
                }
            };
            state = Some((grow(wv, &vals)?, grow(wi, &idx)?));
        }
        count = q + count % 2;
    }
    Ok(state.map(|(v, ix)| (flat(&v), flat(&ix))))
}

/// **MaxPool** over kernel × kernel windows with `stride`, NCHW, by a comparison tree of
/// [`drelu`]s (k = kernel² candidates, m output elements, ⌈log₂ k⌉ levels). Exact when the
/// differences within a window do not wrap. Cost (`boolean_cost::maxpool2d`).
#[allow(clippy::too_many_arguments)]
pub fn maxpool2d(
    ctx: &mut dyn Context,
    seats: &Seats,
    keys: &mut Keys,
    x: Option<&Rep>,
    shape: &[usize],
    kernel: usize,
    stride: usize,
) -> Result<Option<Rep>> {
    within(ctx, "MaxPool", |ctx| {
        if shape.len() != 4 {
            return Err(ProtocolError::Shape {
                op: "maxpool2d".into(),
                detail: format!("needs NCHW, got {shape:?}"),
            });
        }
        let (oh, ow) =
            crate::kernels::conv2d_output_hw(shape[2], shape[3], kernel, kernel, stride, 0)
                .ok_or_else(|| ProtocolError::Shape {
                    op: "maxpool2d".into(),
                    detail: format!("window {kernel} stride {stride} does not fit {shape:?}"),
                })?;
        let out_shape = [shape[0], shape[1], oh, ow];
        let (k, m) = (kernel * kernel, tensor::numel(&out_shape));
        ctx.step(MAXPOOL_WINDOWS)?;
        let cands = at_servers(keys.seat(), |_| {
            Ok(need(x, "x")?.map(|t| {
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
            }))
        })?;
        let won = tournament(ctx, seats, keys, cands, k, m, false)?;
        won.map(|(v, _)| {
            let v = shaped(v, &out_shape)?;
            ctx.record_share("MaxPool(x)", &v.lo);
            Ok(v)
        })
        .transpose()
    })
}

/// **argmax** over the last axis: an arithmetic sharing of the index (an integer, not fixed
/// point) of the first maximum; shape = `shape` without its last axis ([1] for a vector). The
/// tree of [`maxpool2d`], selecting values and indices together. Cost (`boolean_cost::argmax`).
pub fn argmax(
    ctx: &mut dyn Context,
    seats: &Seats,
    keys: &mut Keys,
    x: Option<&Rep>,
    shape: &[usize],
) -> Result<Option<Rep>> {
    within(ctx, "argmax", |ctx| {
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
        ctx.step(ARGMAX_CANDIDATES)?;
        let cands = at_servers(keys.seat(), |_| {
            need(x, "x")?.try_map(|t| Ok(tensor::transpose(&tensor::reshape(t, &[m, k])?)))
        })?;
        let won = tournament(ctx, seats, keys, cands, k, m, true)?;
        won.map(|(_, ix)| {
            let ix = shaped(ix, &out_shape)?;
            ctx.record_share("argmax(x)", &ix.lo);
            Ok(ix)
        })
        .transpose()
    })
}

/// tf-encrypted's "5_piecewise_linear" sigmoid (`_sigmoid_private`): pivots c and pieces
/// (a_k, b_k), piece k = a_k + b_k·x on c_{k−1} < x ≤ c_k.
pub const SIGMOID_PIVOTS_AT: [f64; 4] = [-4.0, -1.5, 1.5, 4.0];
/// The pieces (intercept, slope) of [`SIGMOID_PIVOTS_AT`]'s five intervals.
pub const SIGMOID_PIECES_AB: [(f64, f64); 5] = [
    (1e-4, 0.0),
    (0.281, 0.066),
    (0.5, 0.212),
    (0.719, 0.066),
    (1.0 - 1e-4, 0.0),
];

/// The piecewise-linear sigmoid in f64 (the function the secure one approximates exactly up to
/// fixed-point rounding): the piece of the first pivot ≥ x.
pub fn sigmoid_piecewise_f64(x: f64) -> f64 {
    let k = SIGMOID_PIVOTS_AT
        .iter()
        .position(|&c| x <= c)
        .unwrap_or(SIGMOID_PIVOTS_AT.len());
    let (a, b) = SIGMOID_PIECES_AB[k];
    a + b * x
}

/// The fixed-point pieces: (A_k, B_k) with A_k = round(a_k·2^{2f}) and B_k = round(b_k·2^f), so
/// A_k + B_k·x is piece k at scale 2f for x at scale f; and the pivots at scale f.
pub fn sigmoid_fixed(fixed: &FixedConfig) -> ([u64; 4], [(u64, u64); 5]) {
    let f = fixed.frac_bits as i32;
    let enc = |v: f64, s: i32| (v * 2f64.powi(s)).round() as i64 as u64;
    (
        SIGMOID_PIVOTS_AT.map(|c| enc(c, f)),
        SIGMOID_PIECES_AB.map(|(a, b)| (enc(a, 2 * f), enc(b, f))),
    )
}

/// The plaintext model of [`sigmoid_piecewise`] before its truncation, exactly as the secure
/// circuit computes it in Z_2^64: A_k + B_k·x at scale 2f for the piece k of x (x encoded at f,
/// read as signed).
pub fn sigmoid_piecewise_plain(fixed: &FixedConfig, x: u64) -> u64 {
    let (c, ab) = sigmoid_fixed(fixed);
    let k = c
        .iter()
        .position(|&c| (x as i64) <= (c as i64))
        .unwrap_or(4);
    ab[k].0.wrapping_add(ab[k].1.wrapping_mul(x))
}

/// A truncation by f the caller supplies (the scenario's method: ABY3's Π_trunc1 or
/// Π_trunc2): called by every party with its shares of the value at scale 2f (`None` at a
/// non-server), it walks its own steps and returns the shares at scale f.
pub type Truncate<'a> =
    dyn FnMut(&mut dyn Context, &mut Keys, Option<Rep>) -> Result<Option<Rep>> + 'a;

/// **Piecewise-linear sigmoid** (tf-encrypted's `_polynomial_piecewise_private` with the
/// "5_piecewise_linear" pieces): an arithmetic sharing of σ(x) at scale f.
///
/// [`SIGMOID_PIVOTS`]: the four differences c_j − x (local). Their [`drelu`]s in one batch (4n
/// elements) give L_j = [x ≤ c_j]; [`boolean::b2a_bit`] makes them arithmetic. Because the
/// pivots ascend, L_j ≥ L_{j−1}, and the piece of x is telescoped instead of selected with the
/// ANDs tf-encrypted uses: σ(x) = F₄(x) + Σ_{j<4} L_j·(F_j(x) − F_{j+1}(x)), F_k = A_k + B_k·x
/// at scale 2f ([`sigmoid_fixed`]). [`SIGMOID_PIECES`]: one product of the 4n bits with the 4n
/// differences (local affine maps of x), summed: exactly [`sigmoid_piecewise_plain`]. Then
/// `truncate` (the scenario's truncation, by f) brings it to scale f. Exact comparisons when
/// |c_j − x| < 2^63. Cost (`boolean_cost::sigmoid_piecewise`): that of the DReLU, bit2A and
/// product on 4n, then the truncation's.
#[allow(clippy::too_many_arguments)]
pub fn sigmoid_piecewise(
    ctx: &mut dyn Context,
    seats: &Seats,
    keys: &mut Keys,
    fixed: &FixedConfig,
    x: Option<&Rep>,
    shape: &[usize],
    truncate: &mut Truncate<'_>,
) -> Result<Option<Rep>> {
    within(ctx, "sigmoid", |ctx| {
        let y2 = sigmoid_pieces(ctx, seats, keys, fixed, x, shape)?;
        let y = truncate(ctx, keys, y2)?;
        if let Some(y) = &y {
            ctx.record_share("σ(x) (piecewise)", &y.lo);
        }
        Ok(y)
    })
}

/// The steps of [`sigmoid_piecewise`] before its truncation: an arithmetic sharing of σ(x) at
/// scale **2f**, exactly [`sigmoid_piecewise_plain`]. For a caller that truncates itself (inside
/// its own `within(ctx, "sigmoid", …)`, so the call path is the same). Cost
/// (`boolean_cost::sigmoid_piecewise` with [`Price::LOCAL`](super::boolean_cost::Price::LOCAL)):
/// 29 messages, 928n bytes, 10 rounds.
pub fn sigmoid_pieces(
    ctx: &mut dyn Context,
    seats: &Seats,
    keys: &mut Keys,
    fixed: &FixedConfig,
    x: Option<&Rep>,
    shape: &[usize],
) -> Result<Option<Rep>> {
    let n = tensor::numel(shape);
    let (c, ab) = sigmoid_fixed(fixed);
    ctx.step(SIGMOID_PIVOTS)?;
    let seat = keys.seat();
    let x = at_servers(seat, |_| Ok(flat(need(x, "x")?)))?;
    let diffs = at_servers(seat, |i| {
        let parts: Vec<Rep> = c
            .iter()
            .map(|&cj| {
                need(x.as_ref(), "x")?
                    .neg()
                    .add_public(i, &Tensor::from_elem(IxDyn(&[n]), cj))
            })
            .collect::<Result<_>>()?;
        Ok(concat(&parts))
    })?;
    let le = drelu(ctx, seats, keys, diffs.as_ref(), &[4 * n])?;
    let l = boolean::b2a_bit(ctx, seats, keys, le.as_ref(), &[4 * n])?;
    ctx.step(SIGMOID_PIECES)?;
    at_servers(seat, |i| {
        let (l, x) = (need(l.as_ref(), "L")?, need(x.as_ref(), "x")?);
        let piece = |k: usize| -> Result<Rep> {
            let (a, b) = ab[k];
            x.map(|t| tensor::scale(t, b))
                .add_public(i, &Tensor::from_elem(IxDyn(&[n]), a))
        };
        let gaps: Vec<Rep> = (0..4)
            .map(|j| piece(j)?.sub(&piece(j + 1)?))
            .collect::<Result<_>>()?;
        let p = product(ctx, seats, i, keys, l, &concat(&gaps), "L·(F_j − F_j+1)")?;
        let mut y = piece(4)?;
        for part in split(&p, &[n; 4]) {
            y = y.add(&part)?;
        }
        ctx.record_share("σ(x) before truncation (scale 2f)", &y.lo);
        shaped(y, shape)
    })
}

/// The explain pane's text for the nonlinear steps (and, delegating, the boolean ones).
pub fn explain(step: &str) -> Option<&'static str> {
    if let Some(t) = boolean::explain(step) {
        return Some(t);
    }
    Some(match step {
        DRELU => {
            "DReLU(x) = [x ≥ 0]. In two's complement the most significant bit of a 64-bit word is \
             its sign: x < 0 exactly when bit 63 is 1. So DReLU is 1 ⊕ MSB(x), an XOR with a \
             public 1 that one share component absorbs: free."
        }
        RELU_PRODUCT => {
            "ReLU(x) = x · [x ≥ 0]. The bit, now an arithmetic 0/1 sharing, multiplies x in one \
             ABY3 product: local terms, rerandomised by a zero-sharing, reshared to the \
             neighbour. No truncation: a bit is an integer. Exact — no polynomial approximation."
        }
        GREATER_DIFF => {
            "x > y exactly when y − x is negative, i.e. when the MSB of y − x is 1 (as long as \
             the difference does not wrap around 2^64). The difference is local."
        }
        MAXPOOL_WINDOWS | ARGMAX_CANDIDATES => {
            "The candidates of each window (or row) are laid out as rows of a table, one column \
             per output: local rearrangement of each share component."
        }
        TREE_DIFF => {
            "A comparison tree: candidates are paired, and each pair's difference left − right \
             goes through DReLU to give [left ≥ right] (ties keep the lower index). All pairs of \
             a level are compared in one batch, so the rounds grow with log₂ of the window."
        }
        TREE_SELECT => {
            "Each pair's winner is right + [left ≥ right]·(left − right): one product of the \
             comparison bit (arithmetic) with the difference, for the values (and, for argmax, \
             the indices, which are integers) in the same message."
        }
        SIGMOID_PIVOTS => {
            "tf-encrypted's piecewise-linear sigmoid has five pieces split at −4, −1.5, 1.5, 4. \
             Each pivot is compared with x (c − x ≥ 0), all four in one batch of DReLUs."
        }
        SIGMOID_PIECES => {
            "The comparison bits select the piece: since the pivots ascend, σ(x) = F₄(x) + \
             Σ_j [x ≤ c_j]·(F_j(x) − F_{j+1}(x)) telescopes to x's own piece. One product of the \
             four bits with the four differences; the result has 2f fractional bits and is \
             truncated next."
        }
        _ => return None,
    })
}
