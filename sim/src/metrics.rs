//! Classification metrics of a finished run (the scenario's `metrics` section): private
//! predictions (argmax of the output as its receiver learned it) against the labels and against
//! the plaintext shadow's predictions.

use crate::engine::OutputValue;
use crate::scenario::PlannedMetrics;
use serde::Serialize;

/// Accuracy and agreement of a run's predictions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// The output the predictions are read from.
    pub prediction: String,
    /// Number of rows (images) classified.
    pub images: usize,
    /// Fraction of rows whose private prediction equals the label.
    pub accuracy: f64,
    /// Fraction of rows whose plaintext prediction equals the label.
    pub plaintext_accuracy: f64,
    /// Fraction of rows whose private prediction equals the plaintext prediction.
    pub agreement: f64,
    /// Private prediction of every row.
    pub predictions: Vec<usize>,
    /// Plaintext prediction of every row.
    pub plaintext_predictions: Vec<usize>,
}

/// Index of the first maximum of `row` (NumPy's `argmax`; NaN never wins).
pub fn argmax(row: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in row.iter().enumerate() {
        if *v > row[best] || (row[best].is_nan() && !v.is_nan()) {
            best = i;
        }
    }
    best
}

/// Argmax over the last axis of a row-major tensor with `classes` entries on it.
pub fn argmax_rows(values: &[f64], classes: usize) -> Vec<usize> {
    if classes == 0 {
        return vec![];
    }
    values.chunks(classes).map(argmax).collect()
}

fn fraction(hits: usize, n: usize) -> f64 {
    if n == 0 {
        0.0
    } else {
        hits as f64 / n as f64
    }
}

/// Computes the metrics from the run's outputs; `None` if the prediction output is missing or
/// its size does not match the labels (validation rules both out).
pub fn compute(spec: &PlannedMetrics, outputs: &[OutputValue]) -> Option<Metrics> {
    let out = outputs.iter().find(|o| o.name == spec.prediction)?;
    let n = spec.labels.len();
    if out.values.len() != n * spec.classes || out.plaintext.len() != out.values.len() {
        return None;
    }
    let private = argmax_rows(&out.values, spec.classes);
    let plain = argmax_rows(&out.plaintext, spec.classes);
    let hits = |p: &[usize]| p.iter().zip(&spec.labels).filter(|(a, b)| a == b).count();
    let agree = private.iter().zip(&plain).filter(|(a, b)| a == b).count();
    Some(Metrics {
        prediction: spec.prediction.clone(),
        images: n,
        accuracy: fraction(hits(&private), n),
        plaintext_accuracy: fraction(hits(&plain), n),
        agreement: fraction(agree, n),
        predictions: private,
        plaintext_predictions: plain,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(values: Vec<f64>, plaintext: Vec<f64>, shape: Vec<usize>) -> OutputValue {
        OutputValue {
            name: "logits".into(),
            receiver: "alice".into(),
            shape,
            values,
            plaintext,
            max_abs_error: 0.0,
        }
    }

    #[test]
    fn argmax_takes_the_first_maximum() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, -1.0]), 1);
        assert_eq!(argmax(&[-5.0]), 0);
        assert_eq!(argmax(&[f64::NAN, 2.0, 1.0]), 1);
        assert_eq!(argmax_rows(&[0.0, 1.0, 5.0, 2.0, 0.0, 0.0], 3), vec![2, 0]);
    }

    #[test]
    fn accuracy_and_agreement_count_rows() {
        let spec = PlannedMetrics {
            prediction: "logits".into(),
            classes: 2,
            labels: vec![0, 1, 1, 0],
        };
        // private: 0, 1, 0, 1; plaintext: 0, 1, 1, 1; labels 0, 1, 1, 0.
        let o = output(
            vec![1.0, 0.0, 0.0, 1.0, 2.0, 1.0, 0.0, 3.0],
            vec![1.0, 0.0, 0.0, 1.0, 1.0, 2.0, 0.0, 3.0],
            vec![4, 2],
        );
        let m = compute(&spec, &[o]).expect("metrics");
        assert_eq!(m.images, 4);
        assert_eq!(m.predictions, vec![0, 1, 0, 1]);
        assert_eq!(m.plaintext_predictions, vec![0, 1, 1, 1]);
        assert_eq!(m.accuracy, 0.5);
        assert_eq!(m.plaintext_accuracy, 0.75);
        assert_eq!(m.agreement, 0.75);
    }

    #[test]
    fn a_missing_or_mis_sized_output_gives_none() {
        let spec = PlannedMetrics {
            prediction: "logits".into(),
            classes: 2,
            labels: vec![0, 1],
        };
        assert!(compute(&spec, &[]).is_none());
        let o = output(vec![1.0, 0.0], vec![1.0, 0.0], vec![1, 2]);
        assert!(compute(&spec, &[o]).is_none());
    }
}
