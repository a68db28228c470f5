//! The fixed-point error bound of an imported network (docs/import.md, "How close to the
//! framework"): a worst-case bound on |private output − exact real output|, computed from the
//! weights alone, for programs of linear layers and exact comparisons.
//!
//! With u = 2^-f (f fractional bits), every value is encoded within u/2, and every truncated
//! product within one more u (dealer truncation is correct to one ulp). For each value v the
//! walk keeps A(v), a bound on |v|, and e(v), a bound on its error:
//! - input: A = max |data|, e = u/2; weight: A = max |w|, e = u/2;
//! - x·W (MatMul, Conv2d; K terms per output, ‖W‖ the largest Σ|w| of one output):
//!   A = ‖W‖·A(x), e = (‖W‖ + K·u/2)·e(x) + K·A(x)·u/2 + u;
//! - a ± b: A and e add; a·b (elementwise): A = A(a)·A(b), e = e(a)·(A(b) + e(b)) + A(a)·e(b) + u;
//! - AvgPool2d k×k: e = e(x) + k²·A(x)·u/2 + u; ReduceSum over n: A, e times n;
//! - ReLU, MaxPool2d (exact in SecureNN and ABY3), Flatten, Reshape, Transpose, Neg: unchanged.
//!
//! A polynomial activation (Pond's ReLU, every Sigmoid and Tanh) has an approximation error the
//! walk does not bound: then there is no bound.

use super::translate::Translation;
use protocols::program::Op;
use std::collections::HashMap;

/// The bound on every output's error, or why there is none.
pub fn output_bound(
    t: &Translation,
    frac_bits: u32,
    input_max: f64,
    exact_comparisons: bool,
) -> Result<f64, String> {
    let u = 2f64.powi(-(frac_bits as i32));
    let mut ae: HashMap<&str, (f64, f64)> = HashMap::new();
    ae.insert(&t.input.name, (input_max, u / 2.0));
    let mut weights = HashMap::new();
    for w in &t.weights {
        let a = w.data.values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        ae.insert(&w.name, (a, u / 2.0));
        weights.insert(w.name.as_str(), w);
    }
    for (name, op) in &t.program {
        let get = |n: &str| {
            ae.get(n)
                .copied()
                .ok_or_else(|| format!("`{n}` has no bound"))
        };
        let (a, e) = match op {
            Op::MatMul(x, w)
            | Op::Conv2d {
                input: x,
                filters: w,
                ..
            } => {
                let conv = matches!(op, Op::Conv2d { .. });
                let Some(wt) = weights.get(w.as_str()) else {
                    return Err(format!("`{name}` multiplies two computed values"));
                };
                let s = &wt.data.shape;
                let (outs, k) = if conv {
                    (s[0], s[1..].iter().product::<usize>())
                } else {
                    (s[1], s[0])
                };
                let v = &wt.data.values;
                let norm = (0..outs)
                    .map(|o| {
                        if conv {
                            v[o * k..(o + 1) * k].iter().map(|x| x.abs()).sum::<f64>()
                        } else {
                            (0..k).map(|r| v[r * outs + o].abs()).sum::<f64>()
                        }
                    })
                    .fold(0.0, f64::max);
                let (ax, ex) = get(x)?;
                let kf = k as f64;
                (
                    norm * ax,
                    (norm + kf * u / 2.0) * ex + kf * ax * u / 2.0 + u,
                )
            }
            Op::Add(x, y) | Op::Sub(x, y) => {
                let ((ax, ex), (ay, ey)) = (get(x)?, get(y)?);
                (ax + ay, ex + ey)
            }
            Op::Mul(x, y) => {
                let ((ax, ex), (ay, ey)) = (get(x)?, get(y)?);
                (ax * ay, ex * (ay + ey) + ax * ey + u)
            }
            Op::AvgPool2d { input, kernel, .. } => {
                let (ax, ex) = get(input)?;
                let k2 = (kernel * kernel) as f64;
                (ax, ex + k2 * ax * u / 2.0 + u)
            }
            Op::ReduceSum { input, axis } => {
                let (ax, ex) = get(input)?;
                let shape = &t.shapes[input.as_str()];
                let n = match axis {
                    Some(i) => shape[*i],
                    None => shape.iter().product(),
                } as f64;
                (ax * n, ex * n)
            }
            Op::Relu(x) | Op::MaxPool2d { input: x, .. } if exact_comparisons => get(x)?,
            Op::Flatten(x)
            | Op::Transpose(x)
            | Op::Neg(x)
            | Op::Reveal(x)
            | Op::Reshape { input: x, .. } => get(x)?,
            Op::Argmax(_) => continue,
            other => {
                return Err(format!(
                    "`{name}` is a {} the protocol approximates",
                    other.kind()
                ))
            }
        };
        ae.insert(name, (a, e));
    }
    t.outputs
        .iter()
        .filter_map(|o| ae.get(o.as_str()).map(|&(_, e)| e))
        .reduce(f64::max)
        .ok_or_else(|| "no output is bounded".to_string())
}
