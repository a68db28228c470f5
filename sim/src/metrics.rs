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
    /// The output already holds the classes (an `Argmax`), rather than one score per class.
    pub indices: bool,
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

/// Index of the first maximum of `row` (NumPy's `argmax`; NaN never wins): the shadow's rule.
pub fn argmax(row: &[f64]) -> usize {
    protocols::program::first_max(row)
}

impl Metrics {
    /// How the predictions were read: "argmax of `logits`" or "classes in `digit`".
    pub fn source(&self) -> String {
        if self.indices {
            format!("classes in `{}`", self.prediction)
        } else {
            format!("argmax of `{}`", self.prediction)
        }
    }
}

/// Argmax over the last axis of a row-major tensor with `classes` entries on it.
pub fn argmax_rows(values: &[f64], classes: usize) -> Vec<usize> {
    if classes == 0 {
        return vec![];
    }
    values.chunks(classes).map(argmax).collect()
}

/// Class indices held as (decoded) reals, as an `Argmax` output gives them: each rounded to the
/// nearest integer (a value that is not a valid index, which a wrong protocol could produce,
/// becomes `usize::MAX` and matches no label).
pub fn class_indices(values: &[f64]) -> Vec<usize> {
    values
        .iter()
        .map(|v| {
            let r = v.round();
            if (0.0..1e15).contains(&r) {
                r as usize
            } else {
                usize::MAX
            }
        })
        .collect()
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
    let per_row = if spec.indices { 1 } else { spec.classes };
    if out.values.len() != n * per_row || out.plaintext.len() != out.values.len() {
        return None;
    }
    let (private, plain) = if spec.indices {
        (class_indices(&out.values), class_indices(&out.plaintext))
    } else {
        (
            argmax_rows(&out.values, spec.classes),
            argmax_rows(&out.plaintext, spec.classes),
        )
    };
    let hits = |p: &[usize]| p.iter().zip(&spec.labels).filter(|(a, b)| a == b).count();
    let agree = private.iter().zip(&plain).filter(|(a, b)| a == b).count();
    Some(Metrics {
        prediction: spec.prediction.clone(),
        indices: spec.indices,
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
            indices: false,
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
    fn an_argmax_output_is_read_as_class_indices() {
        let spec = PlannedMetrics {
            prediction: "logits".into(),
            classes: 10,
            indices: true,
            labels: vec![3, 7, 0],
        };
        // Decoded fixed point is exact for small integers; a garbled value matches nothing.
        let o = output(vec![3.0, 6.0, -1.0], vec![3.0, 7.0, 0.0], vec![3]);
        let m = compute(&spec, &[o]).expect("metrics");
        assert_eq!(m.predictions, vec![3, 6, usize::MAX]);
        assert_eq!(m.plaintext_predictions, vec![3, 7, 0]);
        assert_eq!((m.accuracy, m.plaintext_accuracy), (1.0 / 3.0, 1.0));
        assert_eq!(m.agreement, 1.0 / 3.0);
    }

    #[test]
    fn a_missing_or_mis_sized_output_gives_none() {
        let spec = PlannedMetrics {
            prediction: "logits".into(),
            classes: 2,
            indices: false,
            labels: vec![0, 1],
        };
        assert!(compute(&spec, &[]).is_none());
        let o = output(vec![1.0, 0.0], vec![1.0, 0.0], vec![1, 2]);
        assert!(compute(&spec, &[o]).is_none());
    }
}
