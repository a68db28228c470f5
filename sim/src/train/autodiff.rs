//! Reverse-mode differentiation of a forward program into program ops (docs/training.md,
//! "Backward pass"): the gradient ops are ordinary [`Op`]s, so the iteration program is a
//! program like any other (the debugger steps through it, the cost model prices it).

use crate::scenario::Stmt;
use protocols::program::{infer_shape, Op};
use std::collections::{HashMap, HashSet};

/// Where a generated statement comes from, so a refusal can point at the scenario text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The forward pass of program statement `i` (Relu lowered to Greater + Mul, MaxPool2d to
    /// MaxPool2dWithOneHot + Slice + Reshape).
    Forward(usize),
    /// The gradient of program statement `i`.
    Backward(usize),
    /// The batch inputs' assembly (Concat of the providers' parts).
    Data,
    /// The loss's gradient at the prediction.
    Loss,
    /// The optimiser's update.
    Update,
}

/// A generated statement and its origin.
pub type Gen = (Stmt, Origin);

/// The statements of a backward pass and each parameter's gradient value.
pub struct Backward {
    /// The statements, in order.
    pub stmts: Vec<Gen>,
    /// Parameter name → the name of its gradient (summed over the batch).
    pub grads: HashMap<String, String>,
}

struct Builder<'a> {
    stmts: Vec<Gen>,
    shapes: &'a mut HashMap<String, Vec<usize>>,
    counter: usize,
    origin: Origin,
}

impl Builder<'_> {
    fn push(&mut self, name: String, op: Op) -> Result<String, String> {
        let operands: Vec<&[usize]> = op
            .operands()
            .iter()
            .map(|o| self.shapes.get(*o).map(Vec::as_slice).unwrap_or(&[1]))
            .collect();
        let shape = infer_shape(&op, &operands)?;
        self.shapes.insert(name.clone(), shape);
        self.stmts.push((
            Stmt {
                name: name.clone(),
                op,
            },
            self.origin,
        ));
        Ok(name)
    }

    fn fresh(&mut self, base: &str) -> String {
        self.counter += 1;
        format!("{base}.{}", self.counter)
    }

    /// `g` summed down to `shape` (the reverse of NumPy broadcasting).
    fn unbroadcast(&mut self, g: String, target: &str, shape: &[usize]) -> Result<String, String> {
        let mut cur = self.shapes[&g].clone();
        let mut g = g;
        if cur == shape {
            return Ok(g);
        }
        while cur.len() > shape.len() {
            let name = self.fresh(&format!("d.{target}.sum"));
            g = self.push(
                name,
                Op::ReduceSum {
                    input: g,
                    axis: Some(0),
                },
            )?;
            cur = self.shapes[&g].clone();
        }
        for axis in (0..shape.len()).rev() {
            if shape[axis] == 1 && cur.get(axis).is_some_and(|&d| d > 1) {
                let name = self.fresh(&format!("d.{target}.sum"));
                g = self.push(
                    name,
                    Op::ReduceSum {
                        input: g,
                        axis: Some(axis),
                    },
                )?;
                cur = self.shapes[&g].clone();
            }
        }
        if cur != shape {
            let name = self.fresh(&format!("d.{target}.shape"));
            g = self.push(
                name,
                Op::Reshape {
                    input: g,
                    shape: shape.to_vec(),
                },
            )?;
        }
        Ok(g)
    }
}

impl Builder<'_> {
    /// `g`, the gradient of a sum of `x` (of shape `shape`) over `axis` (or every element),
    /// spread back over `x`'s shape: reshaped to keep the summed axis as 1, then broadcast by
    /// adding it to `x − x` (zeros of `x`'s shape; both local in every protocol).
    fn spread(
        &mut self,
        g: String,
        x: &str,
        shape: &[usize],
        axis: Option<usize>,
    ) -> Result<String, String> {
        let kept: Vec<usize> = match axis {
            Some(a) => {
                let mut k = shape.to_vec();
                k[a] = 1;
                k
            }
            None => vec![1; shape.len()],
        };
        let g = if self.shapes[&g] == kept {
            g
        } else {
            let n = self.fresh(&format!("d.{x}.kept"));
            self.push(
                n,
                Op::Reshape {
                    input: g,
                    shape: kept,
                },
            )?
        };
        let n = self.fresh(&format!("d.{x}.zeros"));
        let zeros = self.push(n, Op::Sub(x.to_string(), x.to_string()))?;
        let n = self.fresh(&format!("d.{x}"));
        self.push(n, Op::Add(zeros, g))
    }
}

/// Whether an op passes no gradient (its result is piecewise constant: a comparison's bit).
fn is_constant(op: &Op) -> bool {
    matches!(
        op,
        Op::Greater(..) | Op::Less(..) | Op::Sign(..) | Op::Argmax(..) | Op::Const(..)
    )
}

/// The values of `forward` that depend on a parameter (and so need a gradient).
pub fn needs_grad(forward: &[Stmt], params: &HashSet<String>) -> HashSet<String> {
    let mut set: HashSet<String> = params.clone();
    for s in forward {
        if !is_constant(&s.op) && s.op.operands().iter().any(|o| set.contains(*o)) {
            set.insert(s.name.clone());
        }
    }
    set
}

/// The backward pass of `forward` (statement `origins[i]` of the scenario's program made
/// `forward[i]`) from the gradient `seed` of `output`: every parameter's gradient. `shapes` holds
/// every forward value's shape and receives the new values'. An error names the scenario's
/// statement whose op has no gradient rule.
pub fn backward(
    forward: &[Stmt],
    origins: &[usize],
    params: &HashSet<String>,
    output: &str,
    seed: &str,
    shapes: &mut HashMap<String, Vec<usize>>,
    one: &str,
) -> Result<Backward, (usize, String)> {
    let needs = needs_grad(forward, params);
    let mut grad: HashMap<String, String> = HashMap::new();
    grad.insert(output.to_string(), seed.to_string());
    let mut b = Builder {
        stmts: Vec::new(),
        shapes,
        counter: 0,
        origin: Origin::Loss,
    };
    // The max pools that kept their one-hot (`MaxPool2dWithOneHot`, the lowering of MaxPool2d):
    // value → (input, kernel, stride).
    let kept: HashMap<&str, (&String, usize, Option<usize>)> = forward
        .iter()
        .filter_map(|s| match &s.op {
            Op::MaxPool2dWithOneHot {
                input,
                kernel,
                stride,
            } => Some((s.name.as_str(), (input, *kernel, *stride))),
            _ => None,
        })
        .collect();
    for (i, s) in forward.iter().enumerate().rev() {
        let Some(g) = grad.get(&s.name).cloned() else {
            continue;
        };
        let at = origins[i];
        b.origin = Origin::Backward(at);
        let wants = |n: &str| needs.contains(n);
        let mut contributions: Vec<(String, String)> = Vec::new();
        let r = (|| -> Result<(), String> {
            match &s.op {
                Op::Add(x, y) | Op::Sub(x, y) => {
                    if wants(x) {
                        let sx = b.shapes[x].clone();
                        let c = b.unbroadcast(g.clone(), x, &sx)?;
                        contributions.push((x.clone(), c));
                    }
                    if wants(y) {
                        let gy = if matches!(s.op, Op::Sub(..)) {
                            let n = b.fresh(&format!("d.{y}.neg"));
                            b.push(n, Op::Neg(g.clone()))?
                        } else {
                            g.clone()
                        };
                        let sy = b.shapes[y].clone();
                        let c = b.unbroadcast(gy, y, &sy)?;
                        contributions.push((y.clone(), c));
                    }
                }
                Op::Neg(x) => {
                    if wants(x) {
                        let n = b.fresh(&format!("d.{x}"));
                        let c = b.push(n, Op::Neg(g.clone()))?;
                        contributions.push((x.clone(), c));
                    }
                }
                Op::Mul(x, y) => {
                    for (a, other) in [(x, y), (y, x)] {
                        if wants(a) {
                            let n = b.fresh(&format!("d.{a}.mul"));
                            let p = b.push(n, Op::Mul(g.clone(), other.clone()))?;
                            let sa = b.shapes[a].clone();
                            let c = b.unbroadcast(p, a, &sa)?;
                            contributions.push((a.clone(), c));
                        }
                        if x == y {
                            break;
                        }
                    }
                }
                Op::Square(x) => {
                    if wants(x) {
                        let n = b.fresh(&format!("d.{x}.mul"));
                        let p = b.push(n, Op::Mul(g.clone(), x.clone()))?;
                        let n = b.fresh(&format!("d.{x}"));
                        let c = b.push(n, Op::Add(p.clone(), p))?;
                        contributions.push((x.clone(), c));
                    }
                }
                Op::MatMul(x, y) => {
                    if wants(x) {
                        let t = b.fresh(&format!("t.{y}"));
                        let t = b.push(t, Op::Transpose(y.clone()))?;
                        let n = b.fresh(&format!("d.{x}"));
                        let c = b.push(n, Op::MatMul(g.clone(), t))?;
                        contributions.push((x.clone(), c));
                    }
                    if wants(y) {
                        let t = b.fresh(&format!("t.{x}"));
                        let t = b.push(t, Op::Transpose(x.clone()))?;
                        let n = b.fresh(&format!("d.{y}"));
                        let c = b.push(n, Op::MatMul(t, g.clone()))?;
                        contributions.push((y.clone(), c));
                    }
                }
                Op::Transpose(x) => {
                    if wants(x) {
                        let n = b.fresh(&format!("d.{x}"));
                        let c = b.push(n, Op::Transpose(g.clone()))?;
                        contributions.push((x.clone(), c));
                    }
                }
                Op::Reshape { input: x, .. } | Op::Flatten(x) => {
                    if wants(x) {
                        let shape = b.shapes[x].clone();
                        let n = b.fresh(&format!("d.{x}"));
                        let c = b.push(
                            n,
                            Op::Reshape {
                                input: g.clone(),
                                shape,
                            },
                        )?;
                        contributions.push((x.clone(), c));
                    }
                }
                Op::Sigmoid(x) => {
                    if wants(x) {
                        // σ' = σ(1 − σ), from the forward result.
                        let n = b.fresh(&format!("d.{x}.1-s"));
                        let t = b.push(n, Op::Sub(one.to_string(), s.name.clone()))?;
                        let n = b.fresh(&format!("d.{x}.s'"));
                        let u = b.push(n, Op::Mul(s.name.clone(), t))?;
                        let n = b.fresh(&format!("d.{x}"));
                        let c = b.push(n, Op::Mul(g.clone(), u))?;
                        contributions.push((x.clone(), c));
                    }
                }
                Op::Tanh(x) => {
                    if wants(x) {
                        let n = b.fresh(&format!("d.{x}.t2"));
                        let t = b.push(n, Op::Square(s.name.clone()))?;
                        let n = b.fresh(&format!("d.{x}.1-t2"));
                        let u = b.push(n, Op::Sub(one.to_string(), t))?;
                        let n = b.fresh(&format!("d.{x}"));
                        let c = b.push(n, Op::Mul(g.clone(), u))?;
                        contributions.push((x.clone(), c));
                    }
                }
                Op::Conv2d {
                    input,
                    filters,
                    stride,
                    padding,
                } => {
                    if wants(input) {
                        let input_shape = b.shapes[input].clone();
                        let n = b.fresh(&format!("d.{input}"));
                        let c = b.push(
                            n,
                            Op::Conv2dGradInput {
                                grad: g.clone(),
                                filters: filters.clone(),
                                input_shape,
                                stride: *stride,
                                padding: *padding,
                            },
                        )?;
                        contributions.push((input.clone(), c));
                    }
                    if wants(filters) {
                        let kernel = b.shapes[filters].get(2).copied().unwrap_or(1);
                        let n = b.fresh(&format!("d.{filters}"));
                        let c = b.push(
                            n,
                            Op::Conv2dGradFilters {
                                input: input.clone(),
                                grad: g.clone(),
                                kernel,
                                stride: *stride,
                                padding: *padding,
                            },
                        )?;
                        contributions.push((filters.clone(), c));
                    }
                }
                Op::AvgPool2d {
                    input,
                    kernel,
                    stride,
                } => {
                    if wants(input) {
                        let input_shape = b.shapes[input].clone();
                        let n = b.fresh(&format!("d.{input}"));
                        let c = b.push(
                            n,
                            Op::AvgPool2dGrad {
                                grad: g.clone(),
                                input_shape,
                                kernel: *kernel,
                                stride: *stride,
                            },
                        )?;
                        contributions.push((input.clone(), c));
                    }
                }
                Op::MaxPool2d {
                    input,
                    kernel,
                    stride,
                } => {
                    if wants(input) {
                        let n = b.fresh(&format!("d.{input}"));
                        let c = b.push(
                            n,
                            Op::MaxPool2dGrad {
                                grad: g.clone(),
                                input: input.clone(),
                                kernel: *kernel,
                                stride: *stride,
                            },
                        )?;
                        contributions.push((input.clone(), c));
                    }
                }
                Op::ReduceSum { input: x, axis } | Op::Mean { input: x, axis } => {
                    if wants(x) {
                        let sx = b.shapes[x].clone();
                        let g = match &s.op {
                            Op::Mean { .. } => {
                                // ∂/∂x of the mean: g/n spread over the n elements averaged.
                                let n = match axis {
                                    Some(a) => sx[*a],
                                    None => sx.iter().product(),
                                };
                                let c = b.fresh(&format!("d.{x}.inv_n"));
                                let c = b.push(c, Op::Const(1.0 / n as f64))?;
                                let m = b.fresh(&format!("d.{x}.mean"));
                                b.push(m, Op::Mul(g.clone(), c))?
                            }
                            _ => g.clone(),
                        };
                        let c = b.spread(g, x, &sx, *axis)?;
                        contributions.push((x.clone(), c));
                    }
                }
                Op::Exp(x) => {
                    if wants(x) {
                        // (e^x)' = e^x, the forward result.
                        let n = b.fresh(&format!("d.{x}"));
                        let c = b.push(n, Op::Mul(g.clone(), s.name.clone()))?;
                        contributions.push((x.clone(), c));
                    }
                }
                Op::Softmax(x) => {
                    if wants(x) {
                        // y = softmax(x) along the last axis: ∂x = y ∘ (g − Σ_last(g ∘ y)).
                        let y = s.name.clone();
                        let sx = b.shapes[x].clone();
                        let last = sx.len() - 1;
                        let n = b.fresh(&format!("d.{x}.gy"));
                        let gy = b.push(n, Op::Mul(g.clone(), y.clone()))?;
                        let n = b.fresh(&format!("d.{x}.sum"));
                        let r = b.push(
                            n,
                            Op::ReduceSum {
                                input: gy,
                                axis: Some(last),
                            },
                        )?;
                        let mut kept = sx.clone();
                        kept[last] = 1;
                        let n = b.fresh(&format!("d.{x}.sum"));
                        let r = b.push(
                            n,
                            Op::Reshape {
                                input: r,
                                shape: kept,
                            },
                        )?;
                        let n = b.fresh(&format!("d.{x}.centred"));
                        let t = b.push(n, Op::Sub(g.clone(), r))?;
                        let n = b.fresh(&format!("d.{x}"));
                        let c = b.push(n, Op::Mul(y, t))?;
                        contributions.push((x.clone(), c));
                    }
                }
                Op::Slice {
                    input: keep,
                    axis: 0,
                    start: 0,
                    end: 1,
                } if kept.contains_key(keep.as_str()) => {
                    // The max of a pool that kept its one-hot: the gradient routed by it, no
                    // second comparison tree.
                    let (x, kernel, stride) = kept[keep.as_str()];
                    if wants(x) {
                        let input_shape = b.shapes[x].clone();
                        let n = b.fresh(&format!("d.{x}"));
                        let c = b.push(
                            n,
                            Op::MaxPool2dGradOneHot {
                                grad: g.clone(),
                                pooled: keep.clone(),
                                input_shape,
                                kernel,
                                stride,
                            },
                        )?;
                        contributions.push((x.clone(), c));
                    }
                }
                op if is_constant(op) => {}
                op => {
                    return Err(format!(
                        "training cannot differentiate `{}` yet: the backward pass knows MatMul, \
                         Conv2d, AvgPool2d, MaxPool2d, Add, Sub, Neg, Mul, Square, Relu, Sigmoid, \
                         Tanh, Exp, Softmax, Mean, ReduceSum, Transpose, Reshape and Flatten",
                        op.kind()
                    ))
                }
            }
            Ok(())
        })();
        r.map_err(|m| (at, m))?;
        for (target, c) in contributions {
            let total = match grad.get(&target).cloned() {
                Some(prev) => {
                    let n = b.fresh(&format!("d.{target}"));
                    b.push(n, Op::Add(prev, c)).map_err(|m| (at, m))?
                }
                None => c,
            };
            grad.insert(target, total);
        }
    }
    let grads = params
        .iter()
        .filter_map(|p| grad.get(p).map(|g| (p.clone(), g.clone())))
        .collect();
    Ok(Backward {
        stmts: b.stmts,
        grads,
    })
}
