//! BatchNormalization at import: folded into the convolution or dense layer before it (its
//! weights are scaled per output channel, its bias shifted), so it costs nothing at run time;
//! where no linear layer precedes it, applied as one product and one sum with the model owner's
//! per-channel constants.
//!
//! In inference mode BatchNormalization is y = s·x + t per channel c, with
//! s = γ / √(σ² + ε) and t = β − μ·s. After a layer x = W·a + b (W's output channel c scaled):
//! y = (s·W)·a + (s·b + t).

use super::graph::{refuse, Attrs, Refusal};
use super::onnx::{Dense, NodeProto};
use super::translate::{const_input, private_input, set_private, value_uses, Owner, Tr};
use protocols::program::Op;

/// Per-channel scale and shift of a BatchNormalization (`C` values each).
pub fn scale_shift(
    gamma: &[f64],
    beta: &[f64],
    mean: &[f64],
    var: &[f64],
    eps: f64,
) -> Result<(Vec<f64>, Vec<f64>), String> {
    let mut s = Vec::with_capacity(gamma.len());
    let mut t = Vec::with_capacity(gamma.len());
    for c in 0..gamma.len() {
        let d = var[c] + eps;
        if d <= 0.0 || !d.is_finite() {
            return Err(format!(
                "channel {c} has variance + epsilon = {d}, not positive"
            ));
        }
        let sc = gamma[c] / d.sqrt();
        s.push(sc);
        t.push(beta[c] - mean[c] * sc);
    }
    Ok((s, t))
}

/// Multiplies `w`'s slices along `axis` by `s` (one factor per index of that axis).
pub fn scale_axis(w: &mut Dense, axis: usize, s: &[f64]) {
    let inner: usize = w.shape[axis + 1..].iter().product();
    let n = w.shape[axis];
    for (i, v) in w.values.iter_mut().enumerate() {
        *v *= s[(i / inner) % n];
    }
}

/// Translates a BatchNormalization node (see the module's comment).
pub(super) fn batch_norm(
    tr: &mut Tr,
    at: &str,
    node: &NodeProto,
    attrs: &Attrs,
    out: &str,
) -> Result<(), Refusal> {
    attrs.only(&["epsilon", "momentum", "training_mode", "spatial"])?;
    if attrs.int("training_mode", 0) != 0 {
        return Err(refuse(
            at,
            "training_mode is set: the statistics would come from the batch",
            "export in inference mode (model.eval() before torch.onnx.export)",
        ));
    }
    if attrs.int("spatial", 1) != 1 {
        return Err(refuse(
            at,
            "spatial 0 is not supported",
            "export with opset ≥ 9",
        ));
    }
    let eps = attrs.float("epsilon", 1e-5) as f64;
    let Some(x) = private_input(tr, at, node)? else {
        return Err(refuse(
            at,
            "its input is a constant",
            "export a model whose normalisation reads the data",
        ));
    };
    let xs = tr.shape(&x).to_vec();
    if xs.len() < 2 {
        return Err(refuse(
            at,
            format!("input {xs:?} has no channel axis"),
            "export [N, C, …] data",
        ));
    }
    let channels = xs[1];
    let mut params = Vec::new();
    for (i, what) in [(1, "scale"), (2, "bias"), (3, "mean"), (4, "variance")] {
        let d = const_input(tr, at, node, i, what)?;
        if d.values.len() != channels {
            return Err(refuse(
                at,
                format!(
                    "its {what} has {} values for {channels} channels",
                    d.values.len()
                ),
                "export the model again",
            ));
        }
        params.push(d.values);
    }
    let (s, t) = scale_shift(&params[0], &params[1], &params[2], &params[3], eps).map_err(|e| {
        refuse(
            at,
            e,
            "export the model again: its running variance is broken",
        )
    })?;

    let linear =
        tr.linear.get(&x).copied().filter(|l| {
            value_uses(tr, &x) == 1 && tr.weights[l.weight].data.shape[l.axis] == channels
        });
    if let Some(mut l) = linear {
        // Folded: scale the layer's weight per output channel, shift (or add) its bias.
        let w = &mut tr.weights[l.weight];
        scale_axis(&mut w.data, l.axis, &s);
        w.origin
            .push_str(&format!(" × BatchNormalization `{}` scale", node.name));
        let result = match l.bias {
            Some(b) => {
                let bias = &mut tr.weights[b];
                for (c, v) in bias.data.values.iter_mut().enumerate() {
                    *v = *v * s[c] + t[c];
                }
                bias.origin
                    .push_str(&format!(" folded with BatchNormalization `{}`", node.name));
                x.clone()
            }
            None => {
                let shape = if l.conv {
                    vec![channels, 1, 1]
                } else {
                    vec![channels]
                };
                let idx = tr.add_weight(
                    &format!("{out}_shift"),
                    Dense { shape, values: t },
                    Owner::Model,
                    format!("BatchNormalization `{}` shift", node.name),
                );
                l.bias = Some(idx);
                let b = tr.weights[idx].name.clone();
                tr.emit(at, out, Op::Add(x.clone(), b))?
            }
        };
        tr.linear.remove(&x);
        tr.linear.insert(result.clone(), l);
        tr.notes.push(format!(
            "{at}: folded into the weights of `{x}` (no run-time cost)"
        ));
        set_private(tr, out, result);
        return Ok(());
    }
    // Not after a linear layer: y = x·s + t with per-channel constants of the model owner.
    let mut shape = vec![channels];
    shape.extend(std::iter::repeat_n(1, xs.len() - 2));
    let si = tr.add_weight(
        &format!("{out}_scale"),
        Dense {
            shape: shape.clone(),
            values: s,
        },
        Owner::Model,
        format!("BatchNormalization `{}` scale", node.name),
    );
    let ti = tr.add_weight(
        &format!("{out}_shift"),
        Dense { shape, values: t },
        Owner::Model,
        format!("BatchNormalization `{}` shift", node.name),
    );
    let (sn, tn) = (tr.weights[si].name.clone(), tr.weights[ti].name.clone());
    let m = tr.emit(at, &format!("{out}_scaled"), Op::Mul(x, sn))?;
    let r = tr.emit(at, out, Op::Add(m, tn))?;
    tr.notes.push(format!(
        "{at}: not after a convolution or dense layer, so applied as a product and a sum"
    ));
    set_private(tr, out, r);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_matches_normalising_after_the_layer() {
        // One dense layer [K=2, N=3] then BN over 3 channels, at one input row.
        let a = [0.5, -1.0];
        let w = Dense {
            shape: vec![2, 3],
            values: vec![1.0, 2.0, -1.0, 0.5, 0.0, 3.0],
        };
        let b = [0.1, -0.2, 0.3];
        let (gamma, beta, mean, var) = (
            [2.0, 0.5, 1.0],
            [0.0, 1.0, -1.0],
            [0.2, -0.1, 0.0],
            [4.0, 1.0, 0.25],
        );
        let eps: f64 = 1e-5;
        let layer = |w: &Dense, b: &[f64]| -> Vec<f64> {
            (0..3)
                .map(|n| a[0] * w.values[n] + a[1] * w.values[3 + n] + b[n])
                .collect()
        };
        let direct: Vec<f64> = layer(&w, &b)
            .iter()
            .enumerate()
            .map(|(c, x)| gamma[c] * (x - mean[c]) / (var[c] + eps).sqrt() + beta[c])
            .collect();
        let (s, t) = scale_shift(&gamma, &beta, &mean, &var, eps).unwrap();
        let mut wf = w.clone();
        scale_axis(&mut wf, 1, &s);
        let bf: Vec<f64> = (0..3).map(|c| b[c] * s[c] + t[c]).collect();
        for (x, y) in layer(&wf, &bf).iter().zip(&direct) {
            assert!((x - y).abs() < 1e-12, "{x} vs {y}");
        }
        // Conv filters [O=2, C=1, 1, 2] scaled along axis 0.
        let mut f = Dense {
            shape: vec![2, 1, 1, 2],
            values: vec![1.0, 1.0, 1.0, 1.0],
        };
        scale_axis(&mut f, 0, &[2.0, 3.0]);
        assert_eq!(f.values, vec![2.0, 2.0, 3.0, 3.0]);
        assert!(scale_shift(&[1.0], &[0.0], &[0.0], &[-1.0], 0.0).is_err());
    }
}
