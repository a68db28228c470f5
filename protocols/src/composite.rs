//! Program ops written **once**, as compositions of primitive ops, for every protocol that runs
//! the primitives (a protocol-independent lowering, as CrypTen writes its functions over its
//! arithmetic): `Mean`, `Concat`, `Less`, `Max`, `Min`, `Abs`, `Sign`, `Where`, `Reciprocal`,
//! `Div`, `Exp`, `Sqrt`, `InvSqrt`, `Softmax`, `Log`, `ReduceMax`; and the public scalar `Const`.
//!
//! A composite op runs as its [`lower`]ing: each sub-op goes through the protocol's own
//! [`Party::run_op`] under a temporary name (`y~3`), inside the sub-protocol named by the op's
//! kind (the trace's call path reads `softmax › exp`), so its steps are the primitives' steps and
//! its cost is exactly the primitives' costs composed ([`cost`]: bytes and messages add, rounds
//! are the max-plus composition of the sub-ops' flows). A protocol supports a composite op when
//! it supports every primitive the op is built from ([`supports`]).
//!
//! The approximations (docs/scenario-format.md, "Composite ops", states them and their measured
//! accuracy):
//! - `Exp(x)` = (1 + x/2^8)^(2^8): one public product and 8 squarings (CrypTen's limit).
//! - `Reciprocal(x)`, x > 0: Newton–Raphson y ← y·(2 − x·y), 10 iterations, from CrypTen's
//!   initial guess y₀ = 3·e^(0.5 − x) + 0.003.
//! - `InvSqrt(x)`, x > 0: Newton–Raphson y ← y·(1.5 − (x/2)·y²), 8 iterations (CrypTen runs 3,
//!   accurate only near 1), from CrypTen's
//!   y₀ = 2.2·e^(−(x/2 + 0.2)) + 0.2 − x/1024; `Sqrt(x)` = x · InvSqrt(x).
//! - `Softmax(x)` along the last axis: m = the row maximum (a tree of `Max` over halves of the
//!   row), e = Exp(x − m), e · Reciprocal(Σ e); every e^(x − m) ≤ 1 and Σ e ∈ [1, k].
//! - `Log(x)`, x > 0: CrypTen's y₀ = x/120 − 20·e^(−2x − 1) + 3, then 2 Householder iterations
//!   of order 8, h = 1 − x·e^(−y), y ← y − Σ_{k=1..8} h^k/k; then y + y²/2^9, which undoes the
//!   bias of `Exp`'s limit in the iterations' fixed point.
//! - `ReduceMax(x)` over an axis (or everything): the tree of `Max` Softmax takes its row
//!   maximum with (exact).
//!
//! Inputs ≤ 0 of `Reciprocal`, `Div`'s divisor, `InvSqrt`, `Sqrt` and `Log` are outside their
//! methods (no sign handling: it would need `Greater`, refused by Pond and Additive); the
//! shadow's hazard says so and, for a division, how to write the signed one
//! (docs/scenario-format.md, "Inputs ≤ 0").

use crate::context::{within, Context};
use crate::cost::{Cost, Flow};
use crate::encoded::Encoded;
use crate::error::{ProtocolError, Result};
use crate::fixed::FixedConfig;
use crate::program::{infer_shape, Op};
use crate::protocol::{CostModel, OpCost, Operand, Party};
use ndarray::IxDyn;

/// The squarings of [`Op::Exp`]'s limit: e^x ≈ (1 + x/2^n)^(2^n).
pub const EXP_SQUARINGS: u32 = 8;
/// The Newton–Raphson iterations of [`Op::Reciprocal`].
pub const RECIPROCAL_ITERATIONS: usize = 10;
/// The Newton–Raphson iterations of [`Op::InvSqrt`].
pub const INV_SQRT_ITERATIONS: usize = 8;
/// The Householder iterations of [`Op::Log`] (CrypTen's `log_iterations`).
pub const LOG_ITERATIONS: usize = 2;
/// The range [`Op::Log`] is accurate on (docs/scenario-format.md states its measured error).
pub const LOG_DOMAIN: (f64, f64) = (0.01, 250.0);
/// The order of [`Op::Log`]'s Householder step: the terms h^k/k, k = 1..8 (CrypTen's
/// `log_order`).
pub const LOG_ORDER: usize = 8;

/// The range an approximated op is accurate on, checked by the plaintext shadow (a hazard when an
/// input leaves it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Domain {
    /// The function's name, as the hazard says it.
    pub function: &'static str,
    /// Which operand is checked (Div: the divisor).
    pub operand: usize,
    /// The smallest accurate input.
    pub lo: f64,
    /// The largest accurate input.
    pub hi: f64,
    /// For a function of positive inputs (`lo > 0`): what an input ≤ 0 gets and what to write
    /// instead, which the hazard adds when it sees one. Empty otherwise.
    pub nonpositive: &'static str,
}

impl Domain {
    /// The function as the hazard names it for inputs spanning [`min`, `max`]: its name, and
    /// for an input ≤ 0 of a function of positive inputs, what that gets and what to do.
    pub fn hazard_name(&self, min: f64) -> String {
        if min <= 0.0 && self.lo > 0.0 && !self.nonpositive.is_empty() {
            format!("{} ({})", self.function, self.nonpositive)
        } else {
            self.function.to_string()
        }
    }
}

/// What an input ≤ 0 of `Reciprocal` (and `Div`'s divisor) gets, and the signed division to
/// write instead (CrypTen's sign · reciprocal(sign · x); docs/scenario-format.md).
const SIGNED_RECIPROCAL: &str = "its method is for x > 0 and gives garbage for x ≤ 0; for a \
     signed x write s = Sign(x), then Mul(s, Reciprocal(Mul(s, x))) (SecureNN, ABY3)";
/// What an input ≤ 0 of the square roots and the logarithm gets.
const UNDEFINED_BELOW_ZERO: &str =
    "undefined for x < 0, and its method does not converge at 0: the result is garbage";

/// The accurate range of `op`'s approximation, if it approximates (docs/scenario-format.md
/// states each with its measured error). Softmax's inputs are checked as x − max(x) by the shadow.
pub fn domain(op: &Op) -> Option<Domain> {
    let d = |function, operand, lo, hi, nonpositive| {
        Some(Domain {
            function,
            operand,
            lo,
            hi,
            nonpositive,
        })
    };
    match op {
        Op::Exp(_) => d("exp", 0, -64.0, 4.0, ""),
        Op::Softmax(_) => d("softmax (x − max x)", 0, -64.0, 0.0, ""),
        Op::Reciprocal(_) => d("reciprocal", 0, 0.01, 500.0, SIGNED_RECIPROCAL),
        Op::Div(..) => d("division (divisor)", 1, 0.01, 500.0, SIGNED_RECIPROCAL),
        Op::InvSqrt(_) => d("inverse square root", 0, 0.02, 180.0, UNDEFINED_BELOW_ZERO),
        Op::Sqrt(_) => d("square root", 0, 0.02, 180.0, UNDEFINED_BELOW_ZERO),
        Op::Log(_) => d("log", 0, LOG_DOMAIN.0, LOG_DOMAIN.1, UNDEFINED_BELOW_ZERO),
        _ => None,
    }
}

/// Whether `op` is run by this module ([`run`]) rather than by a protocol's own kernel.
pub fn handles(op: &Op) -> bool {
    matches!(
        op,
        Op::Const(_)
            | Op::Mean { .. }
            | Op::Concat { .. }
            | Op::Less(..)
            | Op::Max(..)
            | Op::Min(..)
            | Op::Abs(_)
            | Op::Sign(_)
            | Op::Where(..)
            | Op::Reciprocal(_)
            | Op::Div(..)
            | Op::Exp(_)
            | Op::Sqrt(_)
            | Op::InvSqrt(_)
            | Op::Softmax(_)
            | Op::Log(_)
            | Op::ReduceMax { .. }
    )
}

/// Builds a lowering: sub-ops under temporary names `{name}~k`; the last one is renamed `name`.
struct Lowering<'a> {
    name: &'a str,
    ops: Vec<(String, Op)>,
}

impl Lowering<'_> {
    fn push(&mut self, op: Op) -> String {
        let n = format!("{}~{}", self.name, self.ops.len() + 1);
        self.ops.push((n.clone(), op));
        n
    }
    fn constant(&mut self, c: f64) -> String {
        self.push(Op::Const(c))
    }
    /// b + c·(a − b).
    fn select(&mut self, c: &str, a: &str, b: &str) -> String {
        let d = self.push(Op::Sub(a.into(), b.into()));
        let m = self.push(Op::Mul(c.into(), d));
        self.push(Op::Add(b.into(), m))
    }
    /// The maximum along `axis` (of length `len`) of `x`, keeping the axis (length 1): a tree
    /// of `Max` over the halves of what is left (an odd element carried to the next level by a
    /// `Concat`), ⌈log₂ len⌉ levels. `x` itself when `len` is 1.
    fn max_tree(&mut self, x: &str, axis: usize, len: usize) -> String {
        let mut cur = x.to_string();
        let mut len = len;
        while len > 1 {
            let h = len / 2;
            let half = |l: &mut Lowering, start, end| {
                l.push(Op::Slice {
                    input: cur.clone(),
                    axis,
                    start,
                    end,
                })
            };
            let left = half(self, 0, h);
            let right = half(self, h, 2 * h);
            let m = self.push(Op::Max(left, right));
            cur = if len % 2 == 1 {
                let rest = half(self, 2 * h, len);
                self.push(Op::Concat {
                    inputs: vec![m, rest],
                    axis,
                })
            } else {
                m
            };
            len = h + len % 2;
        }
        cur
    }
    fn finish(mut self) -> Vec<(String, Op)> {
        if let Some(last) = self.ops.last_mut() {
            last.0 = self.name.to_string();
        }
        self.ops
    }
}

/// The primitive (or further composite) ops `op` runs as, in order, each with the name it binds;
/// the last binds `name`. `shapes` are the operands' shapes (validated by [`infer_shape`]).
/// Empty for an op this module does not lower (`Const` included: [`run`] binds it directly).
pub fn lower(name: &str, op: &Op, shapes: &[Vec<usize>]) -> Vec<(String, Op)> {
    let mut l = Lowering {
        name,
        ops: Vec::new(),
    };
    let s = |s: &str| s.to_string();
    match op {
        Op::Mean { input, axis } => {
            let x = &shapes[0];
            let n = match axis {
                Some(a) => x[*a],
                None => x.iter().product(),
            };
            let sum = l.push(Op::ReduceSum {
                input: s(input),
                axis: *axis,
            });
            let c = l.constant(1.0 / n as f64);
            l.push(Op::Mul(sum, c));
        }
        Op::Concat { inputs, axis } => {
            let total: usize = shapes.iter().map(|x| x[*axis]).sum();
            let mut offset = 0;
            let mut acc: Option<String> = None;
            for (input, x) in inputs.iter().zip(shapes) {
                let len = x[*axis];
                let p = l.push(Op::Pad {
                    input: s(input),
                    axis: *axis,
                    before: offset,
                    after: total - offset - len,
                });
                offset += len;
                acc = Some(match acc {
                    None => p,
                    Some(a) => l.push(Op::Add(a, p)),
                });
            }
        }
        Op::Less(a, b) => {
            l.push(Op::Greater(s(b), s(a)));
        }
        Op::Max(a, b) => {
            let g = l.push(Op::Greater(s(a), s(b)));
            l.select(&g, a, b);
        }
        Op::Min(a, b) => {
            let g = l.push(Op::Greater(s(a), s(b)));
            l.select(&g, b, a);
        }
        Op::Abs(x) => {
            let z = l.constant(0.0);
            let g = l.push(Op::Greater(s(x), z));
            let n = l.push(Op::Neg(s(x)));
            l.select(&g, x, &n);
        }
        Op::Sign(x) => {
            let z = l.constant(0.0);
            let p = l.push(Op::Greater(s(x), z.clone()));
            let q = l.push(Op::Greater(z, s(x)));
            l.push(Op::Sub(p, q));
        }
        Op::Where(c, a, b) => {
            l.select(c, a, b);
        }
        Op::Exp(x) => {
            let c = l.constant(1.0 / f64::from(1u32 << EXP_SQUARINGS));
            let y = l.push(Op::Mul(s(x), c));
            let one = l.constant(1.0);
            let mut y = l.push(Op::Add(y, one));
            for _ in 0..EXP_SQUARINGS {
                y = l.push(Op::Square(y));
            }
        }
        Op::Reciprocal(x) => {
            let h = l.constant(0.5);
            let d = l.push(Op::Sub(h, s(x)));
            let e = l.push(Op::Exp(d));
            let three = l.constant(3.0);
            let y = l.push(Op::Mul(e, three));
            let c = l.constant(0.003);
            let mut y = l.push(Op::Add(y, c));
            let two = l.constant(2.0);
            for _ in 0..RECIPROCAL_ITERATIONS {
                let p = l.push(Op::Mul(s(x), y.clone()));
                let q = l.push(Op::Sub(two.clone(), p));
                y = l.push(Op::Mul(y, q));
            }
        }
        Op::Div(a, b) => {
            let r = l.push(Op::Reciprocal(s(b)));
            l.push(Op::Mul(s(a), r));
        }
        Op::InvSqrt(x) => {
            let half = l.constant(0.5);
            let xh = l.push(Op::Mul(s(x), half));
            let c = l.constant(0.2);
            let a = l.push(Op::Add(xh.clone(), c.clone()));
            let a = l.push(Op::Neg(a));
            let e = l.push(Op::Exp(a));
            let k = l.constant(2.2);
            let y = l.push(Op::Mul(e, k));
            let y = l.push(Op::Add(y, c));
            let k = l.constant(1.0 / 1024.0);
            let t = l.push(Op::Mul(s(x), k));
            let mut y = l.push(Op::Sub(y, t));
            // y ← y·(1.5 − (x/2)·y²), x/2 computed once above.
            let c = l.constant(1.5);
            for _ in 0..INV_SQRT_ITERATIONS {
                let sq = l.push(Op::Square(y.clone()));
                let p = l.push(Op::Mul(xh.clone(), sq));
                let q = l.push(Op::Sub(c.clone(), p));
                y = l.push(Op::Mul(y, q));
            }
        }
        Op::Sqrt(x) => {
            let r = l.push(Op::InvSqrt(s(x)));
            l.push(Op::Mul(s(x), r));
        }
        Op::Softmax(x) => {
            let shape = &shapes[0];
            let axis = shape.len() - 1;
            let k = shape[axis];
            let m = l.max_tree(x, axis, k);
            let d = l.push(Op::Sub(s(x), m));
            let e = l.push(Op::Exp(d));
            let sum = l.push(Op::ReduceSum {
                input: e.clone(),
                axis: Some(axis),
            });
            let mut keep = shape.clone();
            keep[axis] = 1;
            let sum = l.push(Op::Reshape {
                input: sum,
                shape: keep,
            });
            let r = l.push(Op::Reciprocal(sum));
            l.push(Op::Mul(e, r));
        }
        Op::Log(x) => {
            // CrypTen's initial guess y₀ = x/120 − 20·e^(−2x − 1) + 3 (2x as x + x: local).
            let c = l.constant(1.0 / 120.0);
            let t1 = l.push(Op::Mul(s(x), c));
            let x2 = l.push(Op::Add(s(x), s(x)));
            let one = l.constant(1.0);
            let a = l.push(Op::Add(x2, one.clone()));
            let a = l.push(Op::Neg(a));
            let e = l.push(Op::Exp(a));
            let c = l.constant(20.0);
            let t2 = l.push(Op::Mul(e, c));
            let y = l.push(Op::Sub(t1, t2));
            let c = l.constant(3.0);
            let mut y = l.push(Op::Add(y, c));
            let coefficients: Vec<String> = (2..=LOG_ORDER)
                .map(|k| l.constant(1.0 / k as f64))
                .collect();
            for _ in 0..LOG_ITERATIONS {
                // h = 1 − x·e^(−y); y ← y − Σ_{k=1..8} h^k / k.
                let ny = l.push(Op::Neg(y.clone()));
                let e = l.push(Op::Exp(ny));
                let p = l.push(Op::Mul(s(x), e));
                let h = l.push(Op::Sub(one.clone(), p));
                // h^k by squarings and one product each (depth 3 for order 8).
                let mut powers = vec![h.clone()];
                for k in 2..=LOG_ORDER {
                    let power = if k % 2 == 0 {
                        l.push(Op::Square(powers[k / 2 - 1].clone()))
                    } else {
                        l.push(Op::Mul(powers[k - 2].clone(), h.clone()))
                    };
                    powers.push(power);
                }
                let mut sum = h;
                for (power, c) in powers[1..].iter().zip(&coefficients) {
                    let t = l.push(Op::Mul(power.clone(), c.clone()));
                    sum = l.push(Op::Add(sum, t));
                }
                y = l.push(Op::Sub(y, sum));
            }
            // The iterations solve x·Exp(−y) = 1 for Exp's limit, (1 + z/2^8)^(2^8) =
            // e^(z − z²/2^9 + …): their y is ln x − (ln x)²/2^9 + …, so ln x ≈ y + y²/2^9.
            let sq = l.push(Op::Square(y.clone()));
            let c = l.constant(1.0 / f64::from(2u32 << EXP_SQUARINGS));
            let t = l.push(Op::Mul(sq, c));
            l.push(Op::Add(y, t));
        }
        Op::ReduceMax { input, axis } => {
            let x = &shapes[0];
            let out = infer_shape(op, &[x]).unwrap_or_else(|_| vec![1]);
            // Over everything: the elements as one axis first.
            let (flat, axis, len) = match axis {
                Some(a) => (s(input), *a, x[*a]),
                None => {
                    let n = x.iter().product();
                    let f = l.push(Op::Reshape {
                        input: s(input),
                        shape: vec![n],
                    });
                    (f, 0, n)
                }
            };
            let m = l.max_tree(&flat, axis, len);
            // The kept axis (length 1) dropped.
            l.push(Op::Reshape {
                input: m,
                shape: out,
            });
        }
        _ => return Vec::new(),
    }
    l.finish()
}

/// The primitive ops `op`'s lowering uses (operand names are placeholders), for [`supports`] and
/// [`truncates`]; nested composites are expanded.
fn primitives(op: &Op) -> Vec<Op> {
    // Placeholder operand shapes of a rank that fits the op's axis.
    let placeholders = |op: &Op| -> Vec<Vec<usize>> {
        let rank = match op {
            Op::Mean { axis: Some(a), .. }
            | Op::ReduceMax { axis: Some(a), .. }
            | Op::Concat { axis: a, .. } => a.saturating_add(1),
            _ => 2,
        };
        let shape = vec![3usize; rank.min(8)];
        op.operands().iter().map(|_| shape.clone()).collect()
    };
    let mut out = Vec::new();
    if matches!(op, Op::Mean { axis: Some(a), .. }
        | Op::ReduceMax { axis: Some(a), .. }
        | Op::Concat { axis: a, .. } if *a >= 8)
    {
        // An axis this large is refused by the shape rule; the primitives are those of axis 0.
        return primitives(&match op {
            Op::Mean { input, .. } => Op::Mean {
                input: input.clone(),
                axis: Some(0),
            },
            Op::Concat { inputs, .. } => Op::Concat {
                inputs: inputs.clone(),
                axis: 0,
            },
            Op::ReduceMax { input, .. } => Op::ReduceMax {
                input: input.clone(),
                axis: Some(0),
            },
            _ => unreachable!("matched above"),
        });
    }
    let mut stack = lower("y", op, &placeholders(op));
    while let Some((_, sub)) = stack.pop() {
        if handles(&sub) && !matches!(sub, Op::Const(_)) {
            stack.extend(lower("y", &sub, &placeholders(&sub)));
        } else if !out.iter().any(|o: &Op| o.kind() == sub.kind()) {
            out.push(sub);
        }
    }
    out
}

/// For a composite op: `Ok` if `primitive` accepts every op it is built from, else the first
/// refusal, saying which primitive is missing (the text before the first newline is what is
/// missing, the rest what to use instead, as [`crate::protocol::Protocol::supports`] has it).
/// `None` for an op this module does not handle.
pub fn supports(
    op: &Op,
    primitive: &dyn Fn(&Op) -> std::result::Result<(), String>,
) -> Option<std::result::Result<(), String>> {
    if !handles(op) {
        return None;
    }
    for sub in primitives(op) {
        if let Err(why) = primitive(&sub) {
            let (missing, instead) = why.split_once('\n').unwrap_or((&why, ""));
            return Some(Err(format!(
                "{} is built from {} ({missing})\n{instead}",
                op.kind(),
                sub.kind()
            )));
        }
    }
    Some(Ok(()))
}

/// For a composite op: whether any primitive it is built from truncates (`primitive` says so for
/// each); `None` for an op this module does not handle.
pub fn truncates(op: &Op, primitive: &dyn Fn(&Op) -> bool) -> Option<bool> {
    handles(op).then(|| primitives(op).iter().any(primitive))
}

/// The shapes of `op`'s operands, by `shape_of` (a party's lookup of its own values): what
/// [`run`] takes, so each protocol's `run_op` hands a composite op over in one line.
pub fn operand_shapes(
    op: &Op,
    shape_of: impl Fn(&str) -> Result<Vec<usize>>,
) -> Result<Vec<Vec<usize>>> {
    op.operands().into_iter().map(shape_of).collect()
}

/// Runs a composite op (or binds a `Const`) at one party: the sub-ops of [`lower`] through the
/// party's own `run_op`, inside the sub-protocol named by the op's kind. `shapes` are the
/// operands' shapes; `fixed` encodes constants.
pub fn run(
    party: &mut dyn Party,
    ctx: &mut dyn Context,
    name: &str,
    op: &Op,
    shapes: &[Vec<usize>],
    fixed: &FixedConfig,
) -> Result<()> {
    if let Op::Const(c) = op {
        if !c.is_finite() || c.abs() >= fixed.bound() {
            return Err(ProtocolError::Shape {
                op: name.into(),
                detail: format!(
                    "constant {c} does not fit the fixed point (|c| < {})",
                    fixed.bound()
                ),
            });
        }
        ctx.step("constant (public, local)")?;
        party.set_public(
            name,
            Encoded::encode(fixed, &ndarray::ArrayD::from_elem(IxDyn(&[1]), *c)),
        )?;
        return Ok(());
    }
    let refs: Vec<&[usize]> = shapes.iter().map(Vec::as_slice).collect();
    infer_shape(op, &refs).map_err(|detail| ProtocolError::Shape {
        op: name.into(),
        detail,
    })?;
    let subs = lower(name, op, shapes);
    let dead = dead_temporaries(name, &subs);
    within(ctx, op.kind(), |ctx| {
        for ((n, sub), dead) in subs.iter().zip(&dead) {
            party.run_op(ctx, n, sub)?;
            for t in dead {
                party.forget(t);
            }
        }
        Ok(())
    })
}

/// `dead[k]`: the temporaries (every sub-op's result but the op's own, `name`) no sub-op after
/// `k` reads: each party drops them after sub-op `k` (issue 11, peak memory).
fn dead_temporaries(name: &str, subs: &[(String, Op)]) -> Vec<Vec<String>> {
    let mut dead = vec![Vec::new(); subs.len()];
    let mut seen = std::collections::HashSet::new();
    for (k, (n, sub)) in subs.iter().enumerate().rev() {
        for t in sub.operands().into_iter().chain([n.as_str()]) {
            let temporary = t != name && subs.iter().any(|(m, _)| m == t);
            if temporary && seen.insert(t.to_string()) {
                dead[k].push(t.to_string());
            }
        }
    }
    dead
}

/// The exact cost of a composite op under `model`: its sub-ops' costs as `model` states them,
/// walked in order (bytes and messages add; rounds are the composed flow's, since a sub-op's
/// first messages may overlap the previous one's last), their state and key setup combined.
/// `Const` is free (every party binds it locally). `None` for an op this module does not handle.
pub fn cost(
    model: &mut dyn CostModel,
    name: &str,
    op: &Op,
    operands: &[Operand<'_>],
    out_shape: &[usize],
) -> Option<std::result::Result<OpCost, String>> {
    if !handles(op) {
        return None;
    }
    Some(cost_of(model, name, op, operands, out_shape))
}

fn cost_of(
    model: &mut dyn CostModel,
    name: &str,
    op: &Op,
    operands: &[Operand<'_>],
    out_shape: &[usize],
) -> std::result::Result<OpCost, String> {
    if matches!(op, Op::Const(_)) {
        let _ = out_shape;
        return Ok(OpCost::new(Cost::ZERO, Flow::LOCAL));
    }
    // What each value seen so far is: (shape, public).
    let mut known: Vec<(String, Vec<usize>, bool)> = Vec::new();
    let mut shapes = Vec::new();
    for n in op.operands() {
        let o = operands
            .iter()
            .find(|o| o.name == n)
            .ok_or_else(|| format!("`{name}`: the estimate has no operand `{n}`"))?;
        shapes.push(o.shape.to_vec());
        known.push((n.to_string(), o.shape.to_vec(), o.public));
    }
    let mut total = OpCost::new(Cost::ZERO, Flow::LOCAL);
    for (sub_name, sub) in lower(name, op, &shapes) {
        let mut sub_ops: Vec<(String, Vec<usize>, bool)> = Vec::new();
        for n in sub.operands() {
            let k = known
                .iter()
                .rev()
                .find(|k| k.0 == n)
                .ok_or_else(|| format!("`{sub_name}`: no value `{n}` in the lowering"))?;
            sub_ops.push(k.clone());
        }
        let ops: Vec<Operand<'_>> = sub_ops
            .iter()
            .map(|(n, s, p)| Operand {
                name: n,
                shape: s,
                public: *p,
            })
            .collect();
        let refs: Vec<&[usize]> = sub_ops.iter().map(|k| k.1.as_slice()).collect();
        let out = infer_shape(&sub, &refs)?;
        let public = sub_ops.iter().all(|k| k.2);
        let c = model.op(&sub_name, &sub, &ops, &out)?;
        total.cost = total.cost.then(c.cost);
        total.flow = total.flow.then(c.flow);
        total.offline_setup |= c.offline_setup;
        for st in c.state {
            if !total.state.contains(&st) {
                total.state.push(st);
            }
        }
        known.push((sub_name, out, public));
    }
    total.cost.rounds = total.flow.rounds();
    Ok(total)
}

/// The explain pane's text for the steps this module's ops add to the protocols' own (every
/// protocol's `explain` falls back to it): binding a constant, comparing public values, and
/// SecureNN's two local steps around the DReLU of `Greater`.
pub fn explain(step: &str) -> Option<&'static str> {
    Some(match step {
        "constant (public, local)" => {
            "A public constant. Every party binds the program's constant, encoded in fixed \
             point, as a public value: nothing is sent and nothing is secret. A product with it \
             is a public product (each share multiplied locally, then truncated as the protocol \
             truncates); a sum adds it once (at one share). Cost: 0 B, 0 messages, 0 rounds."
        }
        crate::clear::GREATER_PUBLIC_STEP => {
            "[a > b] of two public values, computed in the clear by every party that knows them \
             (signed fixed-point reading, 1 or 0 in fixed point). Nothing secret is involved, so \
             nothing is sent. Cost: 0 B, 0 messages, 0 rounds."
        }
        "greater: d = y − x" => {
            "Greater, step 1: each server subtracts its shares locally, d = b − a (a public \
             operand enters as its value at server0 and 0 at server1, broadcast to the result's \
             shape). [a > b] is then 1 − DReLU(d): the sign of d, which the DReLU that follows \
             computes exactly on shares. Local: nothing is sent, so nothing is revealed. Cost: \
             0 B."
        }
        "greater: [x > y] = 1 − DReLU(y − x)" => {
            "Greater, last step: each server turns its share of DReLU(b − a) into a share of \
             [a > b] = 1 − DReLU(b − a) (server0 takes 1 − its share, server1 the negation), \
             then scales it by 2^f so the bit reads as a fixed-point 0 or 1 that Where, Max, \
             Min, Abs and Sign multiply with. Local: nothing is sent. Cost: 0 B."
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_sub_op_binds_the_name_and_temporaries_are_numbered() {
        let l = lower("m", &Op::Max("a".into(), "b".into()), &[vec![2], vec![2]]);
        let names: Vec<&str> = l.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, vec!["m~1", "m~2", "m~3", "m"]);
        assert_eq!(l[0].1, Op::Greater("a".into(), "b".into()));
        assert_eq!(l[3].1, Op::Add("b".into(), "m~3".into()));
    }

    #[test]
    fn composites_list_their_primitives_and_refuse_with_the_missing_one() {
        let no_compare = |op: &Op| match op {
            Op::Greater(..) => Err("no exact comparison\nuse SecureNN".to_string()),
            _ => Ok(()),
        };
        let e = supports(&Op::Softmax("x".into()), &no_compare)
            .unwrap()
            .unwrap_err();
        assert_eq!(
            e,
            "softmax is built from greater (no exact comparison)\nuse SecureNN"
        );
        assert_eq!(supports(&Op::Exp("x".into()), &no_compare), Some(Ok(())));
        assert_eq!(supports(&Op::Relu("x".into()), &no_compare), None);
        let mul = |op: &Op| matches!(op, Op::Mul(..) | Op::Square(_));
        assert_eq!(truncates(&Op::Exp("x".into()), &mul), Some(true));
        assert_eq!(truncates(&Op::Sign("x".into()), &mul), Some(false));
    }

    #[test]
    fn softmax_takes_the_row_maximum_by_a_tree_of_halves() {
        let l = lower("s", &Op::Softmax("x".into()), &[vec![2, 5]]);
        let maxes = l.iter().filter(|(_, o)| o.kind() == "max").count();
        // 5 → 3 → 2 → 1: three levels of one Max each.
        assert_eq!(maxes, 3);
        assert_eq!(l.last().unwrap().0, "s");
    }
}
