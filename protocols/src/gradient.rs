//! The backward (gradient) program ops of private training: [`Op::Conv2dGradInput`],
//! [`Op::Conv2dGradFilters`], [`Op::AvgPool2dGrad`] and [`Op::MaxPool2dGrad`] — their shape rule
//! ([`infer`], called by `program::infer_shape`), their plaintext meaning ([`eval_f64`], called
//! by `program::eval_f64`), and the public linear maps every protocol applies to its shares
//! alike (im2col / col2im, the NCHW ↔ matrix reorders, the pooling spreads).
//!
//! With `Y = Conv2d(X, W)` and `dY = ∂L/∂Y`:
//! - `dW = Conv2dGradFilters(X, dY) = dY_mat · im2col(X)ᵀ`, reshaped to (out_c, in_c, k, k),
//!   where `dY_mat` is dY as an out_c × (N·OH·OW) matrix (the column order of [`kernels::im2col`]);
//! - `dX = Conv2dGradInput(dY, W) = col2im(W_matᵀ · dY_mat)`, `W_mat` the filters as an
//!   out_c × (in_c·kh·kw) matrix and [`col2im`] the adjoint of im2col (overlapping patches add).
//!
//! Both are bilinear in their two operands, so a protocol computes them as one private × private
//! product (a Beaver product with ∘ = the map, as it does Conv2d), the reorders being local.
//! `AvgPool2dGrad` spreads each window's gradient over its k² inputs times the public 1/k²
//! (windows may overlap: contributions add); `MaxPool2dGrad` routes each window's gradient to the
//! window's first maximum (row-major order within the window, as `program::first_max`).

use crate::kernels;
use crate::program::{Op, Real};
use crate::ring::Ring;
use crate::tensor::Tensor;
use ndarray::{ArrayD, IxDyn};

/// Whether `op` is one of this module's ops.
pub fn handles(op: &Op) -> bool {
    matches!(
        op,
        Op::Conv2dGradInput { .. }
            | Op::Conv2dGradFilters { .. }
            | Op::AvgPool2dGrad { .. }
            | Op::MaxPool2dGrad { .. }
            | Op::MaxPool2dWithOneHot { .. }
            | Op::MaxPool2dGradOneHot { .. }
    )
}

/// The step names the gradient ops add (Pond, SecureNN and ABY3 walk the same names).
pub mod steps {
    /// AvgPool2dGrad's local spread of each window's gradient times 1/k², before truncation.
    pub const SPREAD: &str = "spread window gradients · 1/k²";
    /// DMaxPool on a public input: the one-hot in the clear.
    pub const PUBLIC_ONEHOT: &str = "one-hot of a public input's maxima (local)";
    /// MaxPool2dGrad with a public operand: the one-hot times the gradient, locally.
    pub const LOCAL_ROUTE_PRODUCT: &str = "one-hot · gradient (local)";
    /// MaxPool2dGrad's last step: each window's row back to its positions.
    pub const ROUTE: &str = "route gradients to the maxima (local)";
    /// DMaxPool's gather of the window candidates.
    pub const GATHER: &str = "DMaxPool: gather windows (local)";
    /// DMaxPool's first level: the pairs' one-hot rows are α and 1 − α.
    pub const LEVEL1_ONEHOT: &str = "DMaxPool level 1: one-hot rows (α, 1 − α) (local)";
    /// The prefix of DMaxPool's level steps.
    pub const LEVEL: &str = "DMaxPool tree level";
    /// MaxPool2dWithOneHot: the maxima and the one-hot · 2^f stacked (local).
    pub const KEEP: &str = "stack the maxima and the one-hot · 2^f (local)";
    /// MaxPool2dWithOneHot of a public input: the maxima and the one-hot in the clear.
    pub const PUBLIC_KEPT: &str = "maxima and one-hot of a public input (local)";
}

/// The explain pane's text of a gradient op's own steps (the Beaver, truncation, DReLU and
/// SelectShare steps inside them have their protocols' texts): first sentence the title.
pub fn explain(step: &str) -> Option<&'static str> {
    let step = step.trim();
    if step.starts_with(steps::LEVEL) {
        return Some(
            "DMaxPool, one level of the comparison tree. The window candidates still in the \
             running are paired (2i, 2i + 1); each server subtracts its shares, d = left − right, \
             and DReLU(d) gives shares of α = [left ≥ right] (ties go left, so the first maximum \
             wins). One SelectShare then keeps, per pair, the larger value (below the last level) \
             and the one-hot rows α·E_left beside (1 − α)·E_right of the positions the pair \
             covers: after ⌈log₂ k⌉ levels E is the one-hot of each window's first maximum. Only \
             masked values and shared bits travel (DReLU's and SelectShare's own guarantees); \
             the servers never learn which position won. Cost per level: DReLU of q·m pairs \
             (408 B online, 80 B offline each) and SelectShare of its width (32 B online, 8 B \
             offline per element); docs/costs.md gives the widths.",
        );
    }
    Some(match step {
        steps::SPREAD => {
            "AvgPool2dGrad: spread each window's gradient. Each server adds every window's \
             gradient share, times the public encoding of 1/k², to each of the window's k² input \
             positions (overlapping windows add): the adjoint of average pooling, a public linear \
             map applied to each share alike, so the shares stay a sharing of ∂L/∂x at scale 2f. \
             Local: nothing is sent, nothing is revealed. The truncation that follows costs as \
             for a public product (dealer: 16 B online per element). This step: 0 B."
        }
        steps::GATHER => {
            "DMaxPool: gather the windows. Each server lays its shares of each kernel×kernel \
             window out as k candidates (one row per window position, one column per output \
             element), and the one-hot E starts as all ones (server0 holds the 1s): every \
             position is still in the running. Local: a public rearrangement of each share, \
             nothing sent or revealed. Cost: 0 B."
        }
        steps::LEVEL1_ONEHOT => {
            "DMaxPool, level 1's one-hot rows. For the first level the rows of a pair are \
             just α and 1 − α (server0 holds the 1): no product is needed, each server writes its \
             share of the comparison bit into the one-hot. Local: nothing sent or revealed. Cost: \
             0 B."
        }
        steps::PUBLIC_ONEHOT => {
            "MaxPool2dGrad of a public input: the one-hot of each window's first maximum, \
             computed in the clear by the parties that know the input (signed fixed-point \
             reading). Nothing secret is involved, so nothing is sent. Cost: 0 B."
        }
        steps::LOCAL_ROUTE_PRODUCT => {
            "MaxPool2dGrad with a public operand: the one-hot times the gradient broadcast over \
             each window, locally on each share (a public 0/1 mask or a public gradient times a \
             share is a share). The one-hot is an integer, so nothing is truncated. Nothing sent \
             or revealed. Cost: 0 B."
        }
        steps::KEEP => {
            "MaxPool2dWithOneHot: keep the one-hot. The tree above selected, at its last level, \
             each window's maximum beside the one-hot E of its first maximum (one tree for both: \
             the backward pass reads E from this value instead of running the comparisons \
             again). Each server stacks its shares: row 0 the maxima, rows 1..=k the one-hot \
             times the public 2^f, so E is a fixed-point 0/1 like every program value (and the \
             backward product truncates once), plus a fresh sharing: a zero-sharing from the \
             servers' common randomness (SecureNN) or, for a 1×1 window whose one-hot saw no \
             selection, one reshare (ABY3, 24 B per element). Otherwise local: nothing sent or \
             revealed."
        }
        steps::PUBLIC_KEPT => {
            "MaxPool2dWithOneHot of a public input: each window's maximum and the one-hot of its \
             first maximum, computed in the clear by the parties that know the input. Nothing \
             secret is involved, so nothing is sent. Cost: 0 B."
        }
        steps::ROUTE => {
            "MaxPool2dGrad: route the gradients back. Each server adds every window's row \
             E·dY (shares at scale f: the one-hot is 0/1) to the input positions the window read \
             (overlapping windows add): a public linear map applied to each share alike, so the \
             result is a sharing of ∂L/∂x, the gradient at each window's first maximum and 0 \
             elsewhere. (MaxPool2dGradOneHot routes the same way from its kept one-hot, which is \
             fixed point: the rows are at scale 2f, and one truncation follows.) Local: nothing \
             sent or revealed. Cost: 0 B."
        }
        _ => return None,
    })
}

/// The refusal of a gradient op `op` by a protocol `protocol` that has no kernel for it: what is
/// missing (before the newline) and which protocol to use (after it), as `Protocol::supports`
/// words it.
pub fn refusal(protocol: &str, op: &Op) -> String {
    let instead = match op {
        Op::MaxPool2dGrad { .. } | Op::MaxPool2dWithOneHot { .. } => {
            "use `protocol: SecureNN` (DMaxPool: the argmax one-hot of \
                                     the forward max pool's comparisons)"
        }
        _ => "use `protocol: SecureNN` or `protocol: Pond`, which run it as one Beaver product",
    };
    format!("{protocol} has no {} kernel\n{instead}", op.kind())
}

/// Whether the Pond family (Pond, SecureNN and its variants: `nonlinear` says which) runs
/// gradient op `op`.
/// Conv2dGradInput, Conv2dGradFilters and AvgPool2dGrad everywhere (Beaver products and a local
/// spread); MaxPool2dGrad with SecureNN's comparisons only (DMaxPool).
pub fn supports_pond(nonlinear: crate::pond::Nonlinear, op: &Op) -> Result<(), String> {
    match (op, nonlinear) {
        (Op::MaxPool2dGrad { .. }, crate::pond::Nonlinear::Polynomial) => Err(
            "Pond has no exact comparison, so no maxpool2d_grad (DMaxPool)\n\
             use `protocol: SecureNN` (DMaxPool: the one-hot of each window's maximum), or \
             AvgPool2d and AvgPool2dGrad"
                .into(),
        ),
        (Op::MaxPool2dWithOneHot { .. }, crate::pond::Nonlinear::Polynomial) => Err(
            "Pond has no exact comparison, so no maxpool2d_with_onehot (a max pool's tree)\n\
             use `protocol: SecureNN` or `protocol: ABY3`, or AvgPool2d"
                .into(),
        ),
        _ => Ok(()),
    }
}

/// Whether ABY3 runs gradient op `op`: every one — Conv2dGradInput, Conv2dGradFilters (one
/// fused product + truncation), AvgPool2dGrad (a local spread, then truncation) and
/// MaxPool2dGrad (the one-hot of ABY3's comparison tree, `aby3::dmaxpool`, times the gradient).
/// Z_2^128 refuses MaxPool2dGrad separately (`aby3::supports_wide`).
pub fn supports_aby3(_op: &Op) -> Result<(), String> {
    Ok(())
}

/// The geometry of one convolution (or pooling, with `o = c` and no filters): input
/// (n, c, h, w), `o` output channels, a kh × kw window, stride, padding, output oh × ow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeom {
    /// Batch.
    pub n: usize,
    /// Input channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels.
    pub o: usize,
    /// Window height.
    pub kh: usize,
    /// Window width.
    pub kw: usize,
    /// Stride (both directions).
    pub stride: usize,
    /// Zero padding on every side.
    pub pad: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
}

impl ConvGeom {
    /// The geometry of a `kh × kw` window over input `x` (NCHW) with `o` output channels, or why
    /// it does not fit.
    pub fn new(
        x: &[usize],
        o: usize,
        kh: usize,
        kw: usize,
        stride: usize,
        pad: usize,
    ) -> Result<ConvGeom, String> {
        let &[n, c, h, w] = x else {
            return Err(format!("needs an NCHW (4-D) input shape, got {x:?}"));
        };
        if stride == 0 {
            return Err("stride must be at least 1".into());
        }
        if kh == 0 || kw == 0 {
            return Err("kernel must be at least 1".into());
        }
        let (oh, ow) = kernels::conv2d_output_hw(h, w, kh, kw, stride, pad).ok_or_else(|| {
            format!("window {kh}×{kw} does not fit input {h}×{w} with padding {pad}")
        })?;
        Ok(ConvGeom {
            n,
            c,
            h,
            w,
            o,
            kh,
            kw,
            stride,
            pad,
            oh,
            ow,
        })
    }

    /// The output (gradient) shape (n, o, oh, ow).
    pub fn out_shape(&self) -> Vec<usize> {
        vec![self.n, self.o, self.oh, self.ow]
    }

    /// The input shape (n, c, h, w).
    pub fn in_shape(&self) -> Vec<usize> {
        vec![self.n, self.c, self.h, self.w]
    }

    /// The input index `(iy, ix)` that window position `(ki, kj)` of output `(oy, ox)` reads, or
    /// `None` in the padding.
    fn source(&self, oy: usize, ox: usize, ki: usize, kj: usize) -> Option<(usize, usize)> {
        let iy = (oy * self.stride + ki)
            .checked_sub(self.pad)
            .filter(|&i| i < self.h)?;
        let ix = (ox * self.stride + kj)
            .checked_sub(self.pad)
            .filter(|&i| i < self.w)?;
        Some((iy, ix))
    }
}

/// The geometry of `op` (one of [`handles`]'s ops) from its operand shapes, in
/// [`Op::operands`] order, or why they do not fit.
pub fn geometry(op: &Op, shapes: &[&[usize]]) -> Result<ConvGeom, String> {
    let four = |what: &str, s: &[usize]| {
        if s.len() == 4 {
            Ok(())
        } else {
            Err(format!("{} needs a 4-D {what}, got {s:?}", op.kind()))
        }
    };
    let expect_grad = |g: &[usize], geom: &ConvGeom| {
        if g == geom.out_shape().as_slice() {
            Ok(())
        } else {
            Err(format!(
                "{}: the gradient is {g:?} but the forward op's output is {:?}",
                op.kind(),
                geom.out_shape()
            ))
        }
    };
    let in_kind = |r: Result<ConvGeom, String>| r.map_err(|e| format!("{}: {e}", op.kind()));
    match op {
        Op::Conv2dGradInput {
            input_shape,
            stride,
            padding,
            ..
        } => {
            let (g, w) = (shapes[0], shapes[1]);
            four("gradient (N, out_c, OH, OW)", g)?;
            four("filters (out_c, in_c, kh, kw)", w)?;
            four("input_shape (N, C, H, W)", input_shape)?;
            if w[1] != input_shape[1] {
                return Err(format!(
                    "conv2d_grad_input: input_shape has {} channels but the filters expect {}",
                    input_shape[1], w[1]
                ));
            }
            let geom = in_kind(ConvGeom::new(
                input_shape,
                w[0],
                w[2],
                w[3],
                *stride,
                *padding,
            ))?;
            expect_grad(g, &geom)?;
            Ok(geom)
        }
        Op::Conv2dGradFilters {
            kernel,
            stride,
            padding,
            ..
        } => {
            let (x, g) = (shapes[0], shapes[1]);
            four("input (N, C, H, W)", x)?;
            four("gradient (N, out_c, OH, OW)", g)?;
            let geom = in_kind(ConvGeom::new(x, g[1], *kernel, *kernel, *stride, *padding))?;
            expect_grad(g, &geom)?;
            Ok(geom)
        }
        Op::AvgPool2dGrad {
            input_shape,
            kernel,
            stride,
            ..
        } => {
            let g = shapes[0];
            four("input_shape (N, C, H, W)", input_shape)?;
            four("gradient (N, C, OH, OW)", g)?;
            let st = stride.unwrap_or(*kernel);
            let geom = in_kind(ConvGeom::new(
                input_shape,
                input_shape[1],
                *kernel,
                *kernel,
                st,
                0,
            ))?;
            expect_grad(g, &geom)?;
            Ok(geom)
        }
        Op::MaxPool2dGrad { kernel, stride, .. } => {
            let (g, x) = (shapes[0], shapes[1]);
            four("input (N, C, H, W)", x)?;
            four("gradient (N, C, OH, OW)", g)?;
            let st = stride.unwrap_or(*kernel);
            let geom = in_kind(ConvGeom::new(x, x[1], *kernel, *kernel, st, 0))?;
            expect_grad(g, &geom)?;
            Ok(geom)
        }
        Op::MaxPool2dWithOneHot { kernel, stride, .. } => {
            let x = shapes[0];
            four("input (N, C, H, W)", x)?;
            let st = stride.unwrap_or(*kernel);
            in_kind(ConvGeom::new(x, x[1], *kernel, *kernel, st, 0))
        }
        Op::MaxPool2dGradOneHot {
            input_shape,
            kernel,
            stride,
            ..
        } => {
            let (g, p) = (shapes[0], shapes[1]);
            four("input_shape (N, C, H, W)", input_shape)?;
            let st = stride.unwrap_or(*kernel);
            let geom = in_kind(ConvGeom::new(
                input_shape,
                input_shape[1],
                *kernel,
                *kernel,
                st,
                0,
            ))?;
            let out = geom.out_shape();
            let kept: Vec<usize> = std::iter::once(1 + geom.kh * geom.kw)
                .chain(out.iter().copied())
                .collect();
            if p != kept.as_slice() {
                return Err(format!(
                    "maxpool2d_grad_onehot: the kept pool is {p:?} but a {}×{} max pool of \
                     {input_shape:?} keeps {kept:?} (its maximum and its one-hot)",
                    geom.kh, geom.kw
                ));
            }
            let lifted: Vec<usize> = std::iter::once(1).chain(out.iter().copied()).collect();
            if g != out.as_slice() && g != lifted.as_slice() {
                return Err(format!(
                    "maxpool2d_grad_onehot: the gradient is {g:?} but the forward pool's output \
                     is {out:?}"
                ));
            }
            Ok(geom)
        }
        other => Err(format!("{} is not a gradient op", other.kind())),
    }
}

/// The result shape of `op` (one of [`handles`]'s ops): the shape rule `program::infer_shape`
/// applies to them.
pub fn infer(op: &Op, shapes: &[&[usize]]) -> Result<Vec<usize>, String> {
    let g = geometry(op, shapes)?;
    Ok(match op {
        Op::Conv2dGradFilters { .. } => vec![g.o, g.c, g.kh, g.kw],
        Op::MaxPool2dWithOneHot { .. } => vec![1 + g.kh * g.kw, g.n, g.c, g.oh, g.ow],
        _ => g.in_shape(),
    })
}

/// Every entry of the im2col matrix that reads the input (padding skipped), in im2col's loop
/// order: `f(at, entry)` for the flat NCHW input index and the flat index of the entry in the
/// `(c·kh·kw) × (n·oh·ow)` matrix. im2col and its adjoint col2im walk the same entries.
fn for_each_entry(g: &ConvGeom, mut f: impl FnMut(usize, usize)) {
    let cols = g.n * g.oh * g.ow;
    for ci in 0..g.c {
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let row = (ci * g.kh + ki) * g.kw + kj;
                for b in 0..g.n {
                    for oy in 0..g.oh {
                        for ox in 0..g.ow {
                            if let Some((iy, ix)) = g.source(oy, ox, ki, kj) {
                                let col = (b * g.oh + oy) * g.ow + ox;
                                f(((b * g.c + ci) * g.h + iy) * g.w + ix, row * cols + col);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// im2col over any element type (see [`kernels::im2col`], the ring version, for the layout):
/// `(c·kh·kw) × (n·oh·ow)`, zero in the padding.
pub fn im2col_with<T: Copy>(x: &[T], g: &ConvGeom, zero: T) -> Vec<T> {
    let mut out = vec![zero; g.c * g.kh * g.kw * g.n * g.oh * g.ow];
    for_each_entry(g, |at, entry| out[entry] = x[at]);
    out
}

/// col2im, the adjoint of im2col: a `(c·kh·kw) × (n·oh·ow)` matrix back to an NCHW tensor,
/// every entry added to the input element it was read from (overlapping windows add, padding
/// entries are dropped). A public linear map: applied to each share alike it gives a sharing.
pub fn col2im_with<T: Copy>(cols: &[T], g: &ConvGeom, zero: T, add: impl Fn(T, T) -> T) -> Vec<T> {
    let mut out = vec![zero; g.n * g.c * g.h * g.w];
    for_each_entry(g, |at, entry| out[at] = add(out[at], cols[entry]));
    out
}

/// An NCHW tensor `(n, c, plane)` as the `c × (n·plane)` matrix the conv's matmul produces
/// (column `b·plane + p`), the order of [`kernels::im2col`]'s columns.
pub fn nchw_to_mat<T: Copy>(y: &[T], n: usize, c: usize, plane: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(y.len());
    for ch in 0..c {
        for b in 0..n {
            out.extend_from_slice(&y[(b * c + ch) * plane..][..plane]);
        }
    }
    out
}

/// The row-major transpose of an `r × c` matrix.
pub fn transpose_mat<T: Copy>(m: &[T], r: usize, c: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(m.len());
    for j in 0..c {
        for i in 0..r {
            out.push(m[i * c + j]);
        }
    }
    out
}

/// Each pooling window's gradient added to every one of its k² inputs (no 1/k² yet): the
/// average pool's backward map before its public scale.
pub fn pool_spread_with<T: Copy>(
    grad: &[T],
    g: &ConvGeom,
    zero: T,
    add: impl Fn(T, T) -> T,
) -> Vec<T> {
    let mut out = vec![zero; g.n * g.c * g.h * g.w];
    for b in 0..g.n {
        for ch in 0..g.c {
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    let v = grad[((b * g.c + ch) * g.oh + oy) * g.ow + ox];
                    for ki in 0..g.kh {
                        for kj in 0..g.kw {
                            if let Some((iy, ix)) = g.source(oy, ox, ki, kj) {
                                let at = ((b * g.c + ch) * g.h + iy) * g.w + ix;
                                out[at] = add(out[at], v);
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// The windows of an NCHW tensor as rows of k² elements, one row per output element
/// (`(b, ch, oy, ox)` order), window positions row-major: the layout of the one-hot argmax.
pub fn windows_with<T: Copy>(x: &[T], g: &ConvGeom, zero: T) -> Vec<T> {
    let k2 = g.kh * g.kw;
    let mut out = vec![zero; g.n * g.c * g.oh * g.ow * k2];
    for b in 0..g.n {
        for ch in 0..g.c {
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    let row = ((b * g.c + ch) * g.oh + oy) * g.ow + ox;
                    for ki in 0..g.kh {
                        for kj in 0..g.kw {
                            if let Some((iy, ix)) = g.source(oy, ox, ki, kj) {
                                out[row * k2 + ki * g.kw + kj] =
                                    x[((b * g.c + ch) * g.h + iy) * g.w + ix];
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// The adjoint of [`windows_with`]: rows of k² per output element added back to the input
/// positions they were read from.
pub fn unwindows_with<T: Copy>(
    rows: &[T],
    g: &ConvGeom,
    zero: T,
    add: impl Fn(T, T) -> T,
) -> Vec<T> {
    let k2 = g.kh * g.kw;
    let mut out = vec![zero; g.n * g.c * g.h * g.w];
    for b in 0..g.n {
        for ch in 0..g.c {
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    let row = ((b * g.c + ch) * g.oh + oy) * g.ow + ox;
                    for ki in 0..g.kh {
                        for kj in 0..g.kw {
                            if let Some((iy, ix)) = g.source(oy, ox, ki, kj) {
                                let at = ((b * g.c + ch) * g.h + iy) * g.w + ix;
                                out[at] = add(out[at], rows[row * k2 + ki * g.kw + kj]);
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// dW = dY_mat · im2col(X)ᵀ over a ring, as (o, c, kh, kw): the map ∘ of a Conv2dGradFilters
/// product (bilinear in `x` and `dy`).
pub fn conv2d_grad_filters<R: Ring>(x: &Tensor<R>, dy: &Tensor<R>, g: &ConvGeom) -> Tensor<R> {
    let xv: Vec<R> = x.iter().copied().collect();
    let dyv: Vec<R> = dy.iter().copied().collect();
    let (cols, rows, ncols) = kernels::im2col(&xv, g.n, g.c, g.h, g.w, g.kh, g.kw, g.stride, g.pad);
    let dy_mat = nchw_to_mat(&dyv, g.n, g.o, g.oh * g.ow);
    let cols_t = transpose_mat(&cols, rows, ncols);
    let dw = kernels::matmul(&dy_mat, &cols_t, g.o, ncols, rows);
    Tensor::from_shape_vec(IxDyn(&[g.o, g.c, g.kh, g.kw]), dw).expect("o·c·kh·kw")
}

/// dX = col2im(W_matᵀ · dY_mat) over a ring, as (n, c, h, w): the map ∘ of a Conv2dGradInput
/// product (bilinear in `dy` and `w`).
pub fn conv2d_grad_input<R: Ring>(dy: &Tensor<R>, w: &Tensor<R>, g: &ConvGeom) -> Tensor<R> {
    let dyv: Vec<R> = dy.iter().copied().collect();
    let wv: Vec<R> = w.iter().copied().collect();
    let rows = g.c * g.kh * g.kw;
    let ncols = g.n * g.oh * g.ow;
    let w_t = transpose_mat(&wv, g.o, rows);
    let dy_mat = nchw_to_mat(&dyv, g.n, g.o, g.oh * g.ow);
    let dcols = kernels::matmul(&w_t, &dy_mat, rows, g.o, ncols);
    let dx = col2im_with(&dcols, g, R::zero(), R::add);
    Tensor::from_shape_vec(IxDyn(&g.in_shape()), dx).expect("n·c·h·w")
}

/// A convolution's backward map as the bilinear map ∘ of a product: `Filters` takes (X, dY) to
/// dW, `Input` takes (dY, W) to dX.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvMap {
    /// [`conv2d_grad_filters`].
    Filters(ConvGeom),
    /// [`conv2d_grad_input`].
    Input(ConvGeom),
}

impl ConvMap {
    /// The map of a Conv2dGradFilters or Conv2dGradInput op with these operand shapes (`None`
    /// for any other op).
    pub fn of(op: &Op, shapes: &[&[usize]]) -> Option<Result<ConvMap, String>> {
        match op {
            Op::Conv2dGradFilters { .. } => Some(geometry(op, shapes).map(ConvMap::Filters)),
            Op::Conv2dGradInput { .. } => Some(geometry(op, shapes).map(ConvMap::Input)),
            _ => None,
        }
    }

    /// x ∘ y over a ring.
    pub fn apply<R: Ring>(&self, x: &Tensor<R>, y: &Tensor<R>) -> Tensor<R> {
        match self {
            ConvMap::Filters(g) => conv2d_grad_filters(x, y, g),
            ConvMap::Input(g) => conv2d_grad_input(x, y, g),
        }
    }

    /// Ring multiplications of one x ∘ y.
    pub fn work(&self) -> u64 {
        match self {
            ConvMap::Filters(g) | ConvMap::Input(g) => product_work(g),
        }
    }
}

/// Ring multiplications of one Conv2dGradFilters or Conv2dGradInput map (the matmul's), for the
/// cost models' `work`.
pub fn product_work(g: &ConvGeom) -> u64 {
    (g.o as u64) * (g.c * g.kh * g.kw) as u64 * (g.n * g.oh * g.ow) as u64
}

/// The elements of the largest intermediate one party computes for `op` (operand shapes in
/// [`Op::operands`] order; 0 if they do not fit): the patch matrix and its transpose beside the
/// gradient as a matrix and the result for the convolution gradients, the spread for
/// AvgPool2dGrad, the k·m one-hot with its candidates and selections for MaxPool2dGrad. For
/// `sim::memory`'s estimate.
pub fn working_elements(op: &Op, shapes: &[&[usize]]) -> u64 {
    let Ok(g) = geometry(op, shapes) else {
        return 0;
    };
    let u = |v: usize| v as u64;
    let cols = u(g.n) * u(g.oh) * u(g.ow);
    let rows = u(g.c) * u(g.kh) * u(g.kw);
    let input = u(g.n) * u(g.c) * u(g.h) * u(g.w);
    match op {
        Op::Conv2dGradFilters { .. } | Op::Conv2dGradInput { .. } => (2 * rows)
            .saturating_mul(cols)
            .saturating_add(u(g.o).saturating_mul(cols + rows))
            .saturating_add(input),
        Op::AvgPool2dGrad { .. } => input.saturating_add(cols * u(g.c)),
        _ => (6 * u(g.kh) * u(g.kw))
            .saturating_mul(cols * u(g.c))
            .saturating_add(input),
    }
}

fn flat(a: &Real) -> Vec<f64> {
    a.iter().copied().collect()
}

/// Every tap of the forward convolution, in the definition's loop order: `f(y, x, k)` for the
/// flat indices of the output element (N, O, OH, OW), the input element it reads (N, C, H, W) and
/// the filter weight (O, C, KH, KW); taps that fall in the zero padding are skipped.
fn for_each_tap(g: &ConvGeom, mut f: impl FnMut(usize, usize, usize)) {
    for b in 0..g.n {
        for o in 0..g.o {
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    let y = ((b * g.o + o) * g.oh + oy) * g.ow + ox;
                    for ci in 0..g.c {
                        for ki in 0..g.kh {
                            for kj in 0..g.kw {
                                if let Some((iy, ix)) = g.source(oy, ox, ki, kj) {
                                    let x = ((b * g.c + ci) * g.h + iy) * g.w + ix;
                                    let k = ((o * g.c + ci) * g.kh + ki) * g.kw + kj;
                                    f(y, x, k);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The plaintext meaning of `op` (one of [`handles`]'s ops) on real operands — the shadow.
/// Computed by direct loops over the definitions (not through im2col), so the protocols'
/// matrix formulation is checked against an independent one.
pub fn eval_f64(op: &Op, args: &[&Real]) -> Real {
    let shapes: Vec<&[usize]> = args.iter().map(|a| a.shape()).collect();
    let g = geometry(op, &shapes).expect("validated gradient op");
    let out = match op {
        Op::Conv2dGradInput { .. } => {
            let (dy, w) = (flat(args[0]), flat(args[1]));
            let mut dx = vec![0.0; g.n * g.c * g.h * g.w];
            for_each_tap(&g, |y, x, k| dx[x] += dy[y] * w[k]);
            dx
        }
        Op::Conv2dGradFilters { .. } => {
            let (x, dy) = (flat(args[0]), flat(args[1]));
            let mut dw = vec![0.0; g.o * g.c * g.kh * g.kw];
            for_each_tap(&g, |y, i, k| dw[k] += dy[y] * x[i]);
            dw
        }
        Op::AvgPool2dGrad { .. } => {
            let k2 = (g.kh * g.kw) as f64;
            pool_spread_with(&flat(args[0]), &g, 0.0, |a, b| a + b)
                .into_iter()
                .map(|v| v / k2)
                .collect()
        }
        Op::MaxPool2dGrad { .. } => {
            let (dy, x) = (flat(args[0]), flat(args[1]));
            let k2 = g.kh * g.kw;
            let wins = windows_with(&x, &g, 0.0);
            let mut routed = vec![0.0; wins.len()];
            for (row, win) in wins.chunks(k2).enumerate() {
                routed[row * k2 + crate::program::first_max(win)] = dy[row];
            }
            unwindows_with(&routed, &g, 0.0, |a, b| a + b)
        }
        Op::MaxPool2dWithOneHot { .. } => {
            let k2 = g.kh * g.kw;
            let wins = windows_with(&flat(args[0]), &g, 0.0);
            let m = wins.len() / k2.max(1);
            let mut out = vec![0.0; (1 + k2) * m];
            for (row, win) in wins.chunks(k2).enumerate() {
                let at = crate::program::first_max(win);
                out[row] = win[at];
                out[(1 + at) * m + row] = 1.0;
            }
            out
        }
        Op::MaxPool2dGradOneHot { .. } => {
            let (dy, kept) = (flat(args[0]), flat(args[1]));
            let k2 = g.kh * g.kw;
            let m = dy.len();
            // Window-major rows of the one-hot times the window's gradient.
            let mut routed = vec![0.0; k2 * m];
            for row in 0..m {
                for w in 0..k2 {
                    routed[row * k2 + w] = kept[(1 + w) * m + row] * dy[row];
                }
            }
            unwindows_with(&routed, &g, 0.0, |a, b| a + b)
        }
        other => unreachable!("{} is not a gradient op", other.kind()),
    };
    let shape = infer(op, &shapes).expect("validated gradient op");
    ArrayD::from_shape_vec(IxDyn(&shape), out).expect("the inferred shape")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::{eval_f64 as eval, infer_shape};
    use rand::{Rng, SeedableRng};

    fn random(shape: &[usize], rng: &mut rand::rngs::StdRng) -> Real {
        let n = shape.iter().product();
        let v: Vec<f64> = (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect();
        ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
    }

    /// L(t) = Σ r ⊙ forward(t): the loss whose gradient with respect to t is what the gradient
    /// op computes from dL/dY = r.
    fn loss(forward: &Op, args: &[&Real], r: &Real) -> f64 {
        (eval(forward, args) * r).sum()
    }

    /// Central finite differences of `loss` with respect to operand `which` of `forward`.
    fn numeric_grad(forward: &Op, args: &[Real], which: usize, r: &Real) -> Real {
        let h = 1e-5;
        let mut out = args[which].clone();
        for (i, o) in out.iter_mut().enumerate() {
            let mut plus = args.to_vec();
            let mut minus = args.to_vec();
            plus[which].as_slice_mut().unwrap()[i] += h;
            minus[which].as_slice_mut().unwrap()[i] -= h;
            let lp = loss(forward, &plus.iter().collect::<Vec<_>>(), r);
            let lm = loss(forward, &minus.iter().collect::<Vec<_>>(), r);
            *o = (lp - lm) / (2.0 * h);
        }
        out
    }

    fn assert_close(a: &Real, b: &Real, what: &str) {
        assert_eq!(a.shape(), b.shape(), "{what}");
        for (x, y) in a.iter().zip(b.iter()) {
            assert!((x - y).abs() < 1e-6, "{what}: {x} vs {y}\n{a}\n{b}");
        }
    }

    #[test]
    fn conv2d_gradients_match_finite_differences() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(13);
        for &(n, c, h, o, k, stride, padding) in &[
            (1, 1, 4, 1, 3, 1, 0),
            (2, 3, 5, 2, 3, 1, 1),
            (1, 2, 6, 3, 2, 2, 0),
            (2, 2, 7, 2, 3, 2, 1),
            (1, 1, 5, 2, 1, 3, 2),
        ] {
            let x = random(&[n, c, h, h + 1], &mut rng);
            let w = random(&[o, c, k, k], &mut rng);
            let fwd = Op::Conv2d {
                input: "x".into(),
                filters: "w".into(),
                stride,
                padding,
            };
            let y_shape = infer_shape(&fwd, &[x.shape(), w.shape()]).unwrap();
            let r = random(&y_shape, &mut rng);
            let args = [x.clone(), w.clone()];
            let gi = Op::Conv2dGradInput {
                grad: "r".into(),
                filters: "w".into(),
                input_shape: x.shape().to_vec(),
                stride,
                padding,
            };
            assert_eq!(
                infer_shape(&gi, &[r.shape(), w.shape()]).unwrap(),
                x.shape()
            );
            let dx = eval(&gi, &[&r, &w]);
            assert_close(&dx, &numeric_grad(&fwd, &args, 0, &r), "dX");
            let gf = Op::Conv2dGradFilters {
                input: "x".into(),
                grad: "r".into(),
                kernel: k,
                stride,
                padding,
            };
            assert_eq!(
                infer_shape(&gf, &[x.shape(), r.shape()]).unwrap(),
                w.shape()
            );
            let dw = eval(&gf, &[&x, &r]);
            assert_close(&dw, &numeric_grad(&fwd, &args, 1, &r), "dW");
            // The ring formulation (im2col, matmul, col2im) agrees with the loops on integers.
            let to_ring = |a: &Real| a.mapv(|v| (v * 100.0).round() as i64 as u64);
            let geom = geometry(&gf, &[x.shape(), r.shape()]).unwrap();
            let (xi, wi, ri) = (to_ring(&x), to_ring(&w), to_ring(&r));
            let back = |a: &Real| a.mapv(|v| (v * 100.0).round() / 100.0);
            let dw_ring = conv2d_grad_filters(&xi, &ri, &geom);
            let dw_int = eval(&gf, &[&back(&x), &back(&r)]);
            for (a, b) in dw_ring.iter().zip(dw_int.iter()) {
                assert_eq!(*a as i64, (b * 1e4).round() as i64);
            }
            let dx_ring = conv2d_grad_input(&ri, &wi, &geom);
            let dx_int = eval(&gi, &[&back(&r), &back(&w)]);
            for (a, b) in dx_ring.iter().zip(dx_int.iter()) {
                assert_eq!(*a as i64, (b * 1e4).round() as i64);
            }
        }
    }

    #[test]
    fn pool_gradients_match_finite_differences() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for &(n, c, h, k, stride) in &[
            (1, 1, 4, 2, None),
            (2, 3, 6, 3, None),
            (1, 2, 5, 2, Some(1)),
            (2, 1, 7, 3, Some(2)),
        ] {
            let x = random(&[n, c, h, h + 2], &mut rng);
            for max in [false, true] {
                let fwd = if max {
                    Op::MaxPool2d {
                        input: "x".into(),
                        kernel: k,
                        stride,
                    }
                } else {
                    Op::AvgPool2d {
                        input: "x".into(),
                        kernel: k,
                        stride,
                    }
                };
                let y_shape = infer_shape(&fwd, &[x.shape()]).unwrap();
                let r = random(&y_shape, &mut rng);
                let (op, got) = if max {
                    let op = Op::MaxPool2dGrad {
                        grad: "r".into(),
                        input: "x".into(),
                        kernel: k,
                        stride,
                    };
                    let got = eval(&op, &[&r, &x]);
                    (op, got)
                } else {
                    let op = Op::AvgPool2dGrad {
                        grad: "r".into(),
                        input_shape: x.shape().to_vec(),
                        kernel: k,
                        stride,
                    };
                    let got = eval(&op, &[&r]);
                    (op, got)
                };
                assert_eq!(got.shape(), x.shape(), "{}", op.kind());
                let num = numeric_grad(&fwd, std::slice::from_ref(&x), 0, &r);
                assert_close(&got, &num, op.kind());
            }
        }
    }

    #[test]
    fn mismatched_gradient_shapes_are_errors() {
        let gi = Op::Conv2dGradInput {
            grad: "g".into(),
            filters: "w".into(),
            input_shape: vec![1, 2, 5, 5],
            stride: 1,
            padding: 0,
        };
        let e = infer_shape(&gi, &[&[1, 3, 3, 3], &[3, 2, 3, 3]]).unwrap();
        assert_eq!(e, vec![1, 2, 5, 5]);
        let e = infer_shape(&gi, &[&[1, 3, 4, 3], &[3, 2, 3, 3]]).unwrap_err();
        assert!(e.contains("forward op's output is [1, 3, 3, 3]"), "{e}");
        let e = infer_shape(&gi, &[&[1, 3, 3, 3], &[3, 1, 3, 3]]).unwrap_err();
        assert!(e.contains("channels"), "{e}");
        let mp = Op::MaxPool2dGrad {
            grad: "g".into(),
            input: "x".into(),
            kernel: 0,
            stride: None,
        };
        assert!(infer_shape(&mp, &[&[1, 1, 1, 1], &[1, 1, 2, 2]]).is_err());
        let ap = Op::AvgPool2dGrad {
            grad: "g".into(),
            input_shape: vec![1, 1, 4],
            kernel: 2,
            stride: None,
        };
        assert!(infer_shape(&ap, &[&[1, 1, 2, 2]])
            .unwrap_err()
            .contains("4-D"));
    }
}
