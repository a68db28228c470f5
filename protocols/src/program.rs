//! The program a scenario runs: named operations in SSA form, their shapes, and their plaintext
//! meaning.
//!
//! [`Op`] is protocol-independent. [`infer_shape`] is the single shape rule every party and the
//! validator use; [`eval_f64`] is the plaintext meaning the shadow computation runs.

use crate::kernels;
use crate::tensor::{broadcast_shape, checked_numel};
use ndarray::{ArrayD, Axis, IxDyn};
use serde::{Deserialize, Serialize};

/// One program operation. Operands name earlier values (inputs or op results).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// Elementwise sum (NumPy broadcasting).
    Add(String, String),
    /// Elementwise difference (NumPy broadcasting).
    Sub(String, String),
    /// Negation.
    Neg(String),
    /// Elementwise product (NumPy broadcasting).
    Mul(String, String),
    /// Elementwise square.
    Square(String),
    /// Matrix product of two 2-D tensors.
    MatMul(String, String),
    /// 2-D convolution, NCHW input, filters (out_c, in_c, kh, kw).
    Conv2d {
        /// Input (N, C, H, W).
        input: String,
        /// Filters (out_c, in_c, kh, kw).
        filters: String,
        /// Stride in both directions.
        #[serde(default = "one")]
        stride: usize,
        /// Zero padding on every side.
        #[serde(default)]
        padding: usize,
    },
    /// Average pooling over kernel × kernel windows, NCHW.
    AvgPool2d {
        /// Input (N, C, H, W).
        input: String,
        /// Window side.
        kernel: usize,
        /// Stride (defaults to the window side).
        #[serde(default)]
        stride: Option<usize>,
    },
    /// Max pooling over kernel × kernel windows, NCHW (SecureNN only).
    MaxPool2d {
        /// Input (N, C, H, W).
        input: String,
        /// Window side.
        kernel: usize,
        /// Stride (defaults to the window side).
        #[serde(default)]
        stride: Option<usize>,
    },
    /// Sum over one axis, or over all elements (result shape `[1]`).
    ReduceSum {
        /// Input.
        input: String,
        /// Axis, or none for all.
        #[serde(default)]
        axis: Option<usize>,
    },
    /// Matrix transpose (reverses the axes).
    Transpose(String),
    /// Reshape to a shape with the same number of elements.
    Reshape {
        /// Input.
        input: String,
        /// New shape.
        shape: Vec<usize>,
    },
    /// Flattens everything but the first (batch) axis.
    Flatten(String),
    /// Logistic sigmoid (Pond: degree-9 polynomial).
    Sigmoid(String),
    /// Hyperbolic tangent (Pond: degree-7 polynomial).
    Tanh(String),
    /// Rectifier (Pond: degree-8 polynomial; SecureNN: exact).
    Relu(String),
    /// Opens a private value to the computing parties: the result is public.
    Reveal(String),
    /// Index of the first maximum along the last axis (SecureNN only): `[batch, classes]` gives
    /// `[batch]`, a vector gives `[1]`. A classifier can reveal just its predicted class.
    Argmax(String),
    /// A public scalar constant, shape `[1]` (broadcasts against any shape): `c: Const(0.5)`.
    /// Every party knows it; a product with it is a public product (local, then truncated as the
    /// protocol truncates).
    Const(f64),
    /// Elements `start..end` of `axis` (local on every share).
    Slice {
        /// Input.
        input: String,
        /// The axis sliced.
        axis: usize,
        /// First index kept.
        start: usize,
        /// One past the last index kept.
        end: usize,
    },
    /// Zeros added before and after `axis` (local on every share).
    Pad {
        /// Input.
        input: String,
        /// The axis padded.
        axis: usize,
        /// Zeros before.
        #[serde(default)]
        before: usize,
        /// Zeros after.
        #[serde(default)]
        after: usize,
    },
    /// Concatenation along `axis` (every other axis equal); local: each input zero-padded to
    /// its place, then added.
    Concat {
        /// The inputs, in order.
        inputs: Vec<String>,
        /// The axis joined.
        #[serde(default)]
        axis: usize,
    },
    /// Mean over one axis, or over all elements (result shape `[1]`): the sum times the public
    /// constant 1/n.
    Mean {
        /// Input.
        input: String,
        /// Axis, or none for all.
        #[serde(default)]
        axis: Option<usize>,
    },
    /// [a > b] as 1 or 0 (broadcasting); needs an exact comparison (SecureNN, ABY3).
    Greater(String, String),
    /// [a < b] as 1 or 0 (broadcasting); needs an exact comparison (SecureNN, ABY3).
    Less(String, String),
    /// Elementwise maximum = Where(a > b, a, b).
    Max(String, String),
    /// Elementwise minimum = Where(a > b, b, a).
    Min(String, String),
    /// |x| = Where(x > 0, x, −x).
    Abs(String),
    /// sign(x) ∈ {−1, 0, 1} = [x > 0] − [x < 0].
    Sign(String),
    /// Where(c, a, b) = b + c·(a − b): `a` where c is 1, `b` where it is 0 (c as comparisons
    /// give it; another c interpolates). One product.
    Where(String, String, String),
    /// 1/x for positive x by Newton–Raphson (docs/scenario-format.md states the range).
    Reciprocal(String),
    /// a / b = a · Reciprocal(b), for positive b.
    Div(String, String),
    /// e^x by the limit (1 + x/2^8)^(2^8) (CrypTen's).
    Exp(String),
    /// √x for positive x = x · InvSqrt(x).
    Sqrt(String),
    /// 1/√x for positive x by Newton–Raphson.
    InvSqrt(String),
    /// Softmax along the last axis, numerically stable: e^(x − max x) / Σ e^(x − max x).
    Softmax(String),
    /// ln x for positive x by CrypTen's Householder iterations (docs/scenario-format.md states
    /// the range).
    Log(String),
    /// Maximum over one axis, or over all elements (result shape `[1]`): a tree of `Max`
    /// (log depth); needs an exact comparison (SecureNN, ABY3).
    ReduceMax {
        /// Input.
        input: String,
        /// Axis, or none for all.
        #[serde(default)]
        axis: Option<usize>,
    },
    /// dL/dX of `Conv2d { input, filters, stride, padding }` given dL/dY = `grad`: col2im(Wᵀ ·
    /// dY) (`crate::gradient`). Result shape `input_shape`.
    Conv2dGradInput {
        /// dL/dY (N, out_c, OH, OW).
        grad: String,
        /// The forward op's filters (out_c, in_c, kh, kw).
        filters: String,
        /// The forward op's input shape (N, C, H, W).
        input_shape: Vec<usize>,
        /// The forward op's stride.
        #[serde(default = "one")]
        stride: usize,
        /// The forward op's zero padding.
        #[serde(default)]
        padding: usize,
    },
    /// dL/dW of `Conv2d { input, filters, stride, padding }` given dL/dY = `grad`: dY · im2col(X)ᵀ
    /// (`crate::gradient`). Result shape (out_c, in_c, kernel, kernel).
    Conv2dGradFilters {
        /// The forward op's input (N, C, H, W).
        input: String,
        /// dL/dY (N, out_c, OH, OW).
        grad: String,
        /// The forward op's (square) filter side.
        kernel: usize,
        /// The forward op's stride.
        #[serde(default = "one")]
        stride: usize,
        /// The forward op's zero padding.
        #[serde(default)]
        padding: usize,
    },
    /// dL/dX of `AvgPool2d { kernel, stride }` given dL/dY = `grad`: each window's gradient
    /// times 1/k² spread over its inputs (overlapping windows add). Result shape `input_shape`.
    AvgPool2dGrad {
        /// dL/dY (N, C, OH, OW).
        grad: String,
        /// The forward op's input shape (N, C, H, W).
        input_shape: Vec<usize>,
        /// Window side.
        kernel: usize,
        /// Stride (defaults to the window side).
        #[serde(default)]
        stride: Option<usize>,
    },
    /// dL/dX of `MaxPool2d { input, kernel, stride }` given dL/dY = `grad`: each window's
    /// gradient routed to the window's first maximum (SecureNN's DMaxPool). Result shape of
    /// `input`.
    MaxPool2dGrad {
        /// dL/dY (N, C, OH, OW).
        grad: String,
        /// The forward op's input (N, C, H, W).
        input: String,
        /// Window side.
        kernel: usize,
        /// Stride (defaults to the window side).
        #[serde(default)]
        stride: Option<usize>,
    },
    /// Training's forward max pool that keeps its one-hot for the backward pass: shape
    /// `[1 + k, N, C, OH, OW]` (k = kernel²), row 0 each window's maximum (as `MaxPool2d`), rows
    /// 1..=k the one-hot of its first maximum (1 at that window position, 0 elsewhere). One
    /// comparison tree yields both (`docs/training.md`, "MaxPool").
    MaxPool2dWithOneHot {
        /// Input (N, C, H, W).
        input: String,
        /// Window side.
        kernel: usize,
        /// Stride (defaults to the window side).
        #[serde(default)]
        stride: Option<usize>,
    },
    /// dL/dX of a max pool from the one-hot it kept: `pooled` is `MaxPool2dWithOneHot`'s result
    /// `[1 + k, N, C, OH, OW]`, `grad` dL/dY (`[N, C, OH, OW]` or `[1, N, C, OH, OW]`); each
    /// window's gradient times its one-hot, routed back to the window's positions (no
    /// comparison). Result shape `input_shape`.
    MaxPool2dGradOneHot {
        /// dL/dY.
        grad: String,
        /// The forward `MaxPool2dWithOneHot`'s result.
        pooled: String,
        /// The forward op's input shape (N, C, H, W).
        input_shape: Vec<usize>,
        /// Window side.
        kernel: usize,
        /// Stride (defaults to the window side).
        #[serde(default)]
        stride: Option<usize>,
    },
}

fn one() -> usize {
    1
}

impl Op {
    /// The op's kind as a short lowercase name (e.g. `matmul`), used in reports and breakpoints.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Add(..) => "add",
            Op::Sub(..) => "sub",
            Op::Neg(..) => "neg",
            Op::Mul(..) => "mul",
            Op::Square(..) => "square",
            Op::MatMul(..) => "matmul",
            Op::Conv2d { .. } => "conv2d",
            Op::AvgPool2d { .. } => "avgpool2d",
            Op::MaxPool2d { .. } => "maxpool2d",
            Op::ReduceSum { .. } => "reduce_sum",
            Op::Transpose(..) => "transpose",
            Op::Reshape { .. } => "reshape",
            Op::Flatten(..) => "flatten",
            Op::Sigmoid(..) => "sigmoid",
            Op::Tanh(..) => "tanh",
            Op::Relu(..) => "relu",
            Op::Reveal(..) => "reveal",
            Op::Argmax(..) => "argmax",
            Op::Const(..) => "const",
            Op::Slice { .. } => "slice",
            Op::Pad { .. } => "pad",
            Op::Concat { .. } => "concat",
            Op::Mean { .. } => "mean",
            Op::Greater(..) => "greater",
            Op::Less(..) => "less",
            Op::Max(..) => "max",
            Op::Min(..) => "min",
            Op::Abs(..) => "abs",
            Op::Sign(..) => "sign",
            Op::Where(..) => "where",
            Op::Reciprocal(..) => "reciprocal",
            Op::Div(..) => "div",
            Op::Exp(..) => "exp",
            Op::Sqrt(..) => "sqrt",
            Op::InvSqrt(..) => "inv_sqrt",
            Op::Softmax(..) => "softmax",
            Op::Log(..) => "log",
            Op::ReduceMax { .. } => "reduce_max",
            Op::Conv2dGradInput { .. } => "conv2d_grad_input",
            Op::Conv2dGradFilters { .. } => "conv2d_grad_filters",
            Op::AvgPool2dGrad { .. } => "avgpool2d_grad",
            Op::MaxPool2dGrad { .. } => "maxpool2d_grad",
            Op::MaxPool2dWithOneHot { .. } => "maxpool2d_with_onehot",
            Op::MaxPool2dGradOneHot { .. } => "maxpool2d_grad_onehot",
        }
    }

    /// The names of the values this op reads, in order.
    pub fn operands(&self) -> Vec<&str> {
        match self {
            Op::Add(a, b)
            | Op::Sub(a, b)
            | Op::Mul(a, b)
            | Op::MatMul(a, b)
            | Op::Greater(a, b)
            | Op::Less(a, b)
            | Op::Max(a, b)
            | Op::Min(a, b)
            | Op::Div(a, b) => vec![a, b],
            Op::Where(c, a, b) => vec![c, a, b],
            Op::Const(_) => vec![],
            Op::Concat { inputs, .. } => inputs.iter().map(String::as_str).collect(),
            Op::Abs(a)
            | Op::Sign(a)
            | Op::Reciprocal(a)
            | Op::Exp(a)
            | Op::Sqrt(a)
            | Op::InvSqrt(a)
            | Op::Softmax(a) => vec![a],
            Op::Conv2d { input, filters, .. } => vec![input, filters],
            Op::Neg(a)
            | Op::Square(a)
            | Op::Transpose(a)
            | Op::Flatten(a)
            | Op::Sigmoid(a)
            | Op::Tanh(a)
            | Op::Relu(a)
            | Op::Reveal(a)
            | Op::Argmax(a) => vec![a],
            Op::AvgPool2d { input, .. }
            | Op::MaxPool2d { input, .. }
            | Op::ReduceSum { input, .. }
            | Op::Mean { input, .. }
            | Op::Slice { input, .. }
            | Op::Pad { input, .. }
            | Op::Reshape { input, .. } => vec![input],
            Op::Log(a) => vec![a],
            Op::ReduceMax { input, .. } => vec![input],
            Op::Conv2dGradInput { grad, filters, .. } => vec![grad, filters],
            Op::Conv2dGradFilters { input, grad, .. } => vec![input, grad],
            Op::AvgPool2dGrad { grad, .. } => vec![grad],
            Op::MaxPool2dGrad { grad, input, .. } => vec![grad, input],
            Op::MaxPool2dWithOneHot { input, .. } => vec![input],
            Op::MaxPool2dGradOneHot { grad, pooled, .. } => vec![grad, pooled],
        }
    }
}

/// The output shape of `op` given its operand shapes, or a sentence saying why it does not fit.
/// Never overflows: a shape whose element count does not fit in `usize` (operands or result) is
/// an error.
pub fn infer_shape(op: &Op, shapes: &[&[usize]]) -> Result<Vec<usize>, String> {
    for s in shapes {
        if checked_numel(s).is_none() {
            return Err(format!(
                "operand shape {s:?} has more than {} elements",
                usize::MAX
            ));
        }
    }
    let out = infer_shape_unchecked(op, shapes)?;
    if checked_numel(&out).is_none() {
        return Err(format!(
            "the result would have shape {out:?}: more than {} elements",
            usize::MAX
        ));
    }
    Ok(out)
}

/// [`infer_shape`] for operand shapes whose element counts fit in `usize`.
fn infer_shape_unchecked(op: &Op, shapes: &[&[usize]]) -> Result<Vec<usize>, String> {
    use crate::tensor::numel; // saturating; operand sizes are checked above
    let s = |i: usize| shapes[i];
    match op {
        Op::Add(..)
        | Op::Sub(..)
        | Op::Mul(..)
        | Op::Greater(..)
        | Op::Less(..)
        | Op::Max(..)
        | Op::Min(..)
        | Op::Div(..) => broadcast_shape(s(0), s(1)).ok_or_else(|| {
            format!(
                "shapes {:?} and {:?} do not broadcast (NumPy rules)",
                s(0),
                s(1)
            )
        }),
        Op::Neg(_)
        | Op::Square(_)
        | Op::Sigmoid(_)
        | Op::Tanh(_)
        | Op::Relu(_)
        | Op::Reveal(_)
        | Op::Abs(_)
        | Op::Sign(_)
        | Op::Reciprocal(_)
        | Op::Exp(_)
        | Op::Sqrt(_)
        | Op::InvSqrt(_) => Ok(s(0).to_vec()),
        Op::Const(c) if c.is_finite() => Ok(vec![1]),
        Op::Const(c) => Err(format!("a constant must be a finite number, got {c}")),
        Op::Where(..) => broadcast_shape(s(0), s(1))
            .and_then(|ab| broadcast_shape(&ab, s(2)))
            .ok_or_else(|| {
                format!(
                    "shapes {:?}, {:?} and {:?} do not broadcast (NumPy rules)",
                    s(0),
                    s(1),
                    s(2)
                )
            }),
        Op::Softmax(_) => match s(0) {
            [] | [.., 0] => Err(format!(
                "softmax needs a last axis with at least one element, got {:?}",
                s(0)
            )),
            x => Ok(x.to_vec()),
        },
        Op::Slice {
            axis, start, end, ..
        } => {
            let x = s(0);
            let Some(&dim) = x.get(*axis) else {
                return Err(format!("axis {axis} out of range for shape {x:?}"));
            };
            if start >= end || *end > dim {
                return Err(format!(
                    "slice {start}..{end} of axis {axis} (length {dim}) must satisfy start < end ≤ {dim}"
                ));
            }
            let mut out = x.to_vec();
            out[*axis] = end - start;
            Ok(out)
        }
        Op::Pad {
            axis,
            before,
            after,
            ..
        } => {
            let x = s(0);
            let Some(&dim) = x.get(*axis) else {
                return Err(format!("axis {axis} out of range for shape {x:?}"));
            };
            let len = dim
                .checked_add(*before)
                .and_then(|d| d.checked_add(*after))
                .ok_or_else(|| {
                    format!("padding of axis {axis}: more than {} elements", usize::MAX)
                })?;
            let mut out = x.to_vec();
            out[*axis] = len;
            Ok(out)
        }
        Op::Concat { axis, .. } => {
            let Some(first) = shapes.first() else {
                return Err("concat needs at least one input".into());
            };
            if *axis >= first.len() {
                return Err(format!("axis {axis} out of range for shape {first:?}"));
            }
            let mut out = first.to_vec();
            for x in &shapes[1..] {
                let same_rest = x.len() == first.len()
                    && x.iter()
                        .zip(first.iter())
                        .enumerate()
                        .all(|(i, (a, b))| i == *axis || a == b);
                if !same_rest {
                    return Err(format!(
                        "concat along axis {axis}: {x:?} does not match {first:?} on the other axes"
                    ));
                }
                out[*axis] = out[*axis]
                    .checked_add(x[*axis])
                    .ok_or_else(|| format!("concat: more than {} elements", usize::MAX))?;
            }
            Ok(out)
        }
        Op::MatMul(..) => {
            let (a, b) = (s(0), s(1));
            if a.len() != 2 || b.len() != 2 {
                return Err(format!("matmul needs two 2-D tensors, got {a:?} and {b:?}"));
            }
            if a[1] != b[0] {
                return Err(format!(
                    "matmul of {a:?} by {b:?}: inner dimensions {} and {} differ",
                    a[1], b[0]
                ));
            }
            Ok(vec![a[0], b[1]])
        }
        Op::Conv2d {
            stride, padding, ..
        } => {
            let (x, w) = (s(0), s(1));
            if x.len() != 4 || w.len() != 4 {
                return Err(format!("conv2d needs NCHW input and (out_c, in_c, kh, kw) filters, got {x:?} and {w:?}"));
            }
            if x[1] != w[1] {
                return Err(format!(
                    "conv2d input has {} channels but filters expect {}",
                    x[1], w[1]
                ));
            }
            if *stride == 0 {
                return Err("conv2d stride must be at least 1".into());
            }
            let (oh, ow) = kernels::conv2d_output_hw(x[2], x[3], w[2], w[3], *stride, *padding)
                .ok_or_else(|| {
                    format!(
                        "conv2d filter {}×{} does not fit input {}×{} with padding {padding}",
                        w[2], w[3], x[2], x[3]
                    )
                })?;
            Ok(vec![x[0], w[0], oh, ow])
        }
        Op::AvgPool2d { kernel, stride, .. } | Op::MaxPool2d { kernel, stride, .. } => {
            let x = s(0);
            if x.len() != 4 {
                return Err(format!("{} needs an NCHW input, got {x:?}", op.kind()));
            }
            let st = stride.unwrap_or(*kernel);
            if *kernel == 0 || st == 0 {
                return Err("pool kernel and stride must be at least 1".into());
            }
            let (oh, ow) = kernels::conv2d_output_hw(x[2], x[3], *kernel, *kernel, st, 0)
                .ok_or_else(|| {
                    format!("pool window {kernel} does not fit input {}×{}", x[2], x[3])
                })?;
            Ok(vec![x[0], x[1], oh, ow])
        }
        Op::Mean { axis, .. }
            if numel(s(0)) == 0 || axis.is_some_and(|a| s(0).get(a) == Some(&0)) =>
        {
            Err(format!(
                "the mean of an empty tensor ({:?}) is undefined",
                s(0)
            ))
        }
        Op::ReduceSum { axis, .. } | Op::Mean { axis, .. } => match axis {
            None => Ok(vec![1]),
            Some(a) if *a < s(0).len() => {
                let mut out = s(0).to_vec();
                out.remove(*a);
                if out.is_empty() {
                    out.push(1);
                }
                Ok(out)
            }
            Some(a) => Err(format!("axis {a} out of range for shape {:?}", s(0))),
        },
        Op::Transpose(_) => Ok(s(0).iter().rev().copied().collect()),
        Op::Reshape { shape, .. } => match checked_numel(shape) {
            Some(n) if n == numel(s(0)) => Ok(shape.clone()),
            Some(n) => Err(format!(
                "cannot reshape {:?} ({} elements) to {shape:?} ({n} elements)",
                s(0),
                numel(s(0)),
            )),
            None => Err(format!(
                "cannot reshape {:?} ({} elements) to {shape:?} (more than {} elements)",
                s(0),
                numel(s(0)),
                usize::MAX
            )),
        },
        Op::Flatten(_) => {
            let x = s(0);
            if x.is_empty() {
                return Ok(vec![1]);
            }
            let rest = checked_numel(&x[1..])
                .ok_or_else(|| format!("flatten of {x:?}: more than {} elements", usize::MAX))?;
            Ok(vec![x[0], rest])
        }
        Op::Argmax(_) => match s(0) {
            [] | [.., 0] => Err(format!(
                "argmax needs a last axis with at least one element, got {:?}",
                s(0)
            )),
            [_] => Ok(vec![1]),
            [rest @ .., _] => Ok(rest.to_vec()),
        },
        Op::Log(_) => Ok(s(0).to_vec()),
        Op::ReduceMax { axis, .. }
            if numel(s(0)) == 0 || axis.is_some_and(|a| s(0).get(a) == Some(&0)) =>
        {
            Err(format!(
                "the maximum of an empty tensor ({:?}) is undefined",
                s(0)
            ))
        }
        Op::ReduceMax { axis, .. } => infer_shape_unchecked(
            &Op::ReduceSum {
                input: String::new(),
                axis: *axis,
            },
            shapes,
        ),
        Op::Conv2dGradInput { .. }
        | Op::Conv2dGradFilters { .. }
        | Op::AvgPool2dGrad { .. }
        | Op::MaxPool2dGrad { .. } => crate::gradient::infer(op, shapes),
        Op::MaxPool2dWithOneHot { .. } | Op::MaxPool2dGradOneHot { .. } => {
            crate::gradient::infer(op, shapes)
        }
    }
}

/// The index of the first maximum of `row` (NumPy's `argmax` on ordered values); an unordered
/// value (NaN) never wins. 0 for an empty row.
pub fn first_max<T: PartialOrd>(row: &[T]) -> usize {
    let unordered = |x: &T| x.partial_cmp(x).is_none();
    let mut best = 0;
    for (i, x) in row.iter().enumerate() {
        if *x > row[best] || (unordered(&row[best]) && !unordered(x)) {
            best = i;
        }
    }
    best
}

/// The index of the first maximum along the last axis of `a` (shape as [`infer_shape`] gives).
pub fn argmax_f64(a: &Real) -> Real {
    let k = *a.shape().last().expect("validated: at least one axis");
    let v = row_major(a);
    let idx: Vec<f64> = v.chunks(k).map(|row| first_max(row) as f64).collect();
    let shape = infer_shape(&Op::Argmax(String::new()), &[a.shape()]).expect("validated");
    ArrayD::from_shape_vec(IxDyn(&shape), idx).expect("one index per row")
}

/// A plaintext tensor.
pub type Real = ArrayD<f64>;

/// `a`'s elements in row-major order: borrowed when `a` is already contiguous in that order
/// (the common case), else copied (an element-by-element walk of a dynamic-rank array costs
/// ~25 instructions per element, 10% of a logistic regression's run).
fn row_major(a: &Real) -> std::borrow::Cow<'_, [f64]> {
    match a.as_slice() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(a.iter().copied().collect()),
    }
}

/// Softmax along the last axis, computed stably (the maximum subtracted first).
pub fn softmax_f64(a: &Real) -> Real {
    let k = *a.shape().last().expect("validated: at least one axis");
    let mut v: Vec<f64> = a.iter().copied().collect();
    for row in v.chunks_mut(k) {
        let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut sum = 0.0;
        for x in row.iter_mut() {
            *x = (*x - m).exp();
            sum += *x;
        }
        for x in row.iter_mut() {
            *x /= sum;
        }
    }
    ArrayD::from_shape_vec(IxDyn(a.shape()), v).expect("same shape")
}

fn zip_f64(a: &Real, b: &Real, f: impl Fn(f64, f64) -> f64) -> Real {
    let shape = broadcast_shape(a.shape(), b.shape()).expect("validated shapes");
    let av = a.broadcast(IxDyn(&shape)).expect("validated");
    let bv = b.broadcast(IxDyn(&shape)).expect("validated");
    let mut out = av.to_owned();
    ndarray::Zip::from(&mut out)
        .and(&bv)
        .for_each(|o, &y| *o = f(*o, y));
    out
}

/// Sums (or maxes) `kernel`×`kernel` windows of an NCHW tensor.
pub fn pool_f64(x: &Real, kernel: usize, stride: usize, max: bool) -> Real {
    let s = x.shape();
    let (n, c, h, w) = (s[0], s[1], s[2], s[3]);
    let oh = (h - kernel) / stride + 1;
    let ow = (w - kernel) / stride + 1;
    let mut out = ArrayD::zeros(IxDyn(&[n, c, oh, ow]));
    for b in 0..n {
        for ch in 0..c {
            for i in 0..oh {
                for j in 0..ow {
                    let mut acc = if max { f64::NEG_INFINITY } else { 0.0 };
                    for di in 0..kernel {
                        for dj in 0..kernel {
                            let v = x[[b, ch, i * stride + di, j * stride + dj]];
                            acc = if max { acc.max(v) } else { acc + v };
                        }
                    }
                    out[[b, ch, i, j]] = if max {
                        acc
                    } else {
                        acc / (kernel * kernel) as f64
                    };
                }
            }
        }
    }
    out
}

/// The plaintext meaning of `op` on real operands (the shadow computation). Sigmoid, tanh and
/// relu are the exact functions, not their approximations.
pub fn eval_f64(op: &Op, args: &[&Real]) -> Real {
    match op {
        Op::Const(c) => return ArrayD::from_elem(IxDyn(&[1]), *c),
        Op::Concat { axis, .. } => {
            let views: Vec<_> = args.iter().map(|a| a.view()).collect();
            return ndarray::concatenate(Axis(*axis), &views).expect("validated concat");
        }
        Op::Where(..) => {
            let d = zip_f64(args[1], args[2], |a, b| a - b);
            let cd = zip_f64(args[0], &d, |c, d| c * d);
            return zip_f64(args[2], &cd, |b, cd| b + cd);
        }
        _ => {}
    }
    let a = args[0];
    match op {
        Op::Const(_) | Op::Concat { .. } | Op::Where(..) => unreachable!("returned above"),
        Op::Greater(..) => zip_f64(a, args[1], |x, y| f64::from(u8::from(x > y))),
        Op::Less(..) => zip_f64(a, args[1], |x, y| f64::from(u8::from(x < y))),
        Op::Max(..) => zip_f64(a, args[1], f64::max),
        Op::Min(..) => zip_f64(a, args[1], f64::min),
        Op::Div(..) => zip_f64(a, args[1], |x, y| x / y),
        Op::Abs(_) => a.mapv(f64::abs),
        Op::Sign(_) => a.mapv(|x| {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            }
        }),
        Op::Reciprocal(_) => a.mapv(|x| 1.0 / x),
        Op::Exp(_) => a.mapv(f64::exp),
        Op::Sqrt(_) => a.mapv(f64::sqrt),
        Op::InvSqrt(_) => a.mapv(|x| 1.0 / x.sqrt()),
        Op::Softmax(_) => softmax_f64(a),
        Op::Slice { .. } | Op::Pad { .. } => crate::local::apply_with(op, a, 0.0),
        Op::Mean { axis, .. } => {
            let n = match axis {
                Some(ax) => a.shape()[*ax],
                None => a.len(),
            };
            let sum = eval_f64(
                &Op::ReduceSum {
                    input: String::new(),
                    axis: *axis,
                },
                args,
            );
            sum.mapv(|s| s / n as f64)
        }
        Op::Add(..) => zip_f64(a, args[1], |x, y| x + y),
        Op::Sub(..) => zip_f64(a, args[1], |x, y| x - y),
        Op::Mul(..) => zip_f64(a, args[1], |x, y| x * y),
        Op::Neg(_) => a.mapv(|x| -x),
        Op::Square(_) => a.mapv(|x| x * x),
        Op::MatMul(..) => {
            let b = args[1];
            let (m, k, n) = (a.shape()[0], a.shape()[1], b.shape()[1]);
            let (av, bv) = (row_major(a), row_major(b));
            ArrayD::from_shape_vec(IxDyn(&[m, n]), kernels::matmul_f64(&av, &bv, m, k, n))
                .expect("m·n")
        }
        Op::Conv2d {
            stride, padding, ..
        } => {
            let w = args[1];
            let (xs, ws) = (a.shape(), w.shape());
            let (xv, wv) = (row_major(a), row_major(w));
            let (out, shape) = kernels::conv2d_f64(
                &xv,
                [xs[0], xs[1], xs[2], xs[3]],
                &wv,
                [ws[0], ws[1], ws[2], ws[3]],
                *stride,
                *padding,
            );
            ArrayD::from_shape_vec(IxDyn(&shape), out).expect("conv shape")
        }
        Op::AvgPool2d { kernel, stride, .. } => {
            pool_f64(a, *kernel, stride.unwrap_or(*kernel), false)
        }
        Op::MaxPool2d { kernel, stride, .. } => {
            pool_f64(a, *kernel, stride.unwrap_or(*kernel), true)
        }
        Op::ReduceSum { axis, .. } => match axis {
            Some(ax) => {
                let r = a.sum_axis(Axis(*ax));
                if r.ndim() == 0 {
                    r.into_shape_with_order(IxDyn(&[1])).expect("scalar")
                } else {
                    r
                }
            }
            None => ArrayD::from_elem(IxDyn(&[1]), a.sum()),
        },
        Op::Transpose(_) => a.t().as_standard_layout().to_owned(),
        Op::Reshape { shape, .. } => {
            let v = row_major(a).into_owned();
            ArrayD::from_shape_vec(IxDyn(shape), v).expect("validated reshape")
        }
        Op::Flatten(_) => {
            let shape = infer_shape(op, &[a.shape()]).expect("validated");
            let v = row_major(a).into_owned();
            ArrayD::from_shape_vec(IxDyn(&shape), v).expect("flatten")
        }
        Op::Sigmoid(_) => a.mapv(|x| 1.0 / (1.0 + (-x).exp())),
        Op::Tanh(_) => a.mapv(f64::tanh),
        Op::Relu(_) => a.mapv(|x| x.max(0.0)),
        Op::Reveal(_) => a.clone(),
        Op::Argmax(_) => argmax_f64(a),
        Op::Log(_) => a.mapv(f64::ln),
        Op::ReduceMax { axis, .. } => match axis {
            Some(ax) => {
                let r = a.fold_axis(Axis(*ax), f64::NEG_INFINITY, |m, &x| m.max(x));
                if r.ndim() == 0 {
                    r.into_shape_with_order(IxDyn(&[1])).expect("scalar")
                } else {
                    r
                }
            }
            None => ArrayD::from_elem(IxDyn(&[1]), a.fold(f64::NEG_INFINITY, |m, &x| m.max(x))),
        },
        Op::Conv2dGradInput { .. }
        | Op::Conv2dGradFilters { .. }
        | Op::AvgPool2dGrad { .. }
        | Op::MaxPool2dGrad { .. } => crate::gradient::eval_f64(op, args),
        Op::MaxPool2dWithOneHot { .. } | Op::MaxPool2dGradOneHot { .. } => {
            crate::gradient::eval_f64(op, args)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_major_borrows_a_contiguous_array_and_copies_a_transposed_one() {
        let a = ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
            .expect("2·3");
        assert!(matches!(row_major(&a), std::borrow::Cow::Borrowed(_)));
        // Reversed axes: the same buffer in column-major order, read in the transpose's rows.
        let transposed = a.reversed_axes();
        assert!(matches!(row_major(&transposed), std::borrow::Cow::Owned(_)));
        assert_eq!(
            row_major(&transposed).as_ref(),
            &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
        );
    }

    #[test]
    fn first_max_takes_the_first_of_equal_maxima_and_never_nan() {
        assert_eq!(first_max(&[1i64, 3, 3, -2]), 1);
        assert_eq!(first_max(&[-5i64]), 0);
        assert_eq!(first_max::<i64>(&[]), 0);
        assert_eq!(first_max(&[f64::NAN, 2.0, 1.0]), 1);
        assert_eq!(first_max(&[0.5, f64::NAN, 0.7]), 2);
        let a = ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![0.0, 2.0, 2.0, 1.0, 0.0, -1.0])
            .expect("2×3");
        assert_eq!(argmax_f64(&a).into_raw_vec_and_offset().0, vec![1.0, 0.0]);
    }

    #[test]
    fn shapes_whose_element_count_overflows_are_errors_not_wraps() {
        let huge = usize::MAX / 2 + 1;
        // 3 · 12297829382473034411 ≡ 1 (mod 2^64): a wrapping product would accept it.
        let reshape = Op::Reshape {
            input: "x".into(),
            shape: vec![3, 12297829382473034411],
        };
        assert!(infer_shape(&reshape, &[&[1]])
            .unwrap_err()
            .contains("more than"));
        let conv = Op::Conv2d {
            input: "x".into(),
            filters: "w".into(),
            stride: 1,
            padding: 2147483647,
        };
        let e = infer_shape(&conv, &[&[1, 1, 2, 2], &[1, 1, 1, 1]]).unwrap_err();
        assert!(e.contains("more than"), "{e}");
        let flat = Op::Flatten("x".into());
        assert!(infer_shape(&flat, &[&[0, huge, 4]]).is_err());
        assert!(infer_shape(&Op::Neg("x".into()), &[&[huge, 2]]).is_err());
        let mm = Op::MatMul("a".into(), "b".into());
        assert!(infer_shape(&mm, &[&[huge, 1], &[1, 4]]).is_err());
    }

    #[test]
    fn reduce_max_keeps_reduce_sums_shapes_and_refuses_an_empty_axis() {
        let m = |axis| Op::ReduceMax {
            input: "x".into(),
            axis,
        };
        assert_eq!(infer_shape(&m(Some(1)), &[&[2, 3]]), Ok(vec![2]));
        assert_eq!(infer_shape(&m(Some(0)), &[&[4]]), Ok(vec![1]));
        assert_eq!(infer_shape(&m(None), &[&[2, 3]]), Ok(vec![1]));
        assert!(infer_shape(&m(Some(2)), &[&[2, 3]])
            .unwrap_err()
            .contains("out of range"));
        for (axis, shape) in [(Some(0), [0usize, 2]), (None, [3, 0])] {
            let e = infer_shape(&m(axis), &[&shape]).unwrap_err();
            assert!(e.contains("maximum of an empty tensor"), "{e}");
        }
        let x = ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![1.0, -2.0, 5.0, 0.5, 7.0, -1.0])
            .expect("2×3");
        let v = |op: &Op| eval_f64(op, &[&x]).into_raw_vec_and_offset().0;
        assert_eq!(v(&m(Some(0))), vec![1.0, 7.0, 5.0]);
        assert_eq!(v(&m(Some(1))), vec![5.0, 7.0]);
        assert_eq!(v(&m(None)), vec![7.0]);
    }
}
