//! The scenario's `training` section (docs/training.md). Every struct denies unknown fields.

use crate::scenario::Data;
use serde::{Deserialize, Serialize};

/// Private training: the scenario's `program` is the forward model, from the batch `input` to
/// the `prediction`; the simulator derives the backward pass and the update from it and runs the
/// resulting iteration program `epochs × batches` times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingSpec {
    /// The forward program's batch of features (a name the program reads, not an input).
    pub input: String,
    /// The forward program's output (one row per example).
    pub prediction: String,
    /// The party that inputs the initial weights (the model owner).
    pub owner: String,
    /// The trainable weights.
    pub parameters: Vec<Parameter>,
    /// The training features, one part per provider.
    pub features: Vec<Dataset>,
    /// The training labels, one part per provider (`Rows`) or one part (`Columns`).
    pub labels: Vec<Dataset>,
    /// How the features are split between their providers.
    #[serde(default)]
    pub split: Split,
    /// Labels are class indices one-hot encoded to this many classes; without it they are the
    /// targets as given (one row per example, the prediction's shape).
    #[serde(default)]
    pub classes: Option<usize>,
    /// The loss.
    pub loss: Loss,
    /// The optimiser.
    pub optimizer: Optimizer,
    /// Passes over the training data.
    pub epochs: usize,
    /// Examples per iteration (an incomplete last batch is dropped).
    pub batch_size: usize,
    /// Whether each epoch visits the examples in a seeded random order (default true).
    #[serde(default = "yes")]
    pub shuffle: bool,
    /// Held-out data the report measures accuracy on (and `TestAccuracy` reveals).
    #[serde(default)]
    pub test: Option<TestSet>,
    /// Held-out data split between several providers as the training data is (`split`),
    /// instead of `test`: what `TestAccuracy` computes on, each part input by its provider.
    #[serde(default)]
    pub test_parts: Option<TestParts>,
    /// What the run reveals at the end (nothing by default: the model stays shared).
    #[serde(default)]
    pub reveal: Vec<Reveal>,
    /// The iterations whose trace is kept step by step (default: the first and the last); every
    /// other iteration keeps only its totals.
    #[serde(default)]
    pub trace_iterations: Option<Vec<usize>>,
}

fn yes() -> bool {
    true
}

/// One trainable weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    /// The name the forward program reads it by.
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its initial value.
    pub init: Init,
}

/// How a weight starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Init {
    /// All zeros.
    Zeros,
    /// Glorot (Xavier) uniform: U(−a, a), a = √(6 / (fan_in + fan_out)), seeded.
    GlorotUniform,
    /// He normal: N(0, 2 / fan_in), seeded.
    HeNormal,
    /// Given values (inline, `.npy`, or a seeded distribution), as an input's `data`.
    Data(Data),
}

/// One provider's part of a data set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    /// The input provider holding it.
    pub owner: String,
    /// Its values (`Npy` gives its own shape).
    pub data: Data,
    /// The shape, needed for `Values` and `Random` (checked against a `.npy` file's).
    #[serde(default)]
    pub shape: Option<Vec<usize>>,
}

/// How the training features are split between providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Split {
    /// Horizontally: each provider holds some examples (all columns) and their labels; every
    /// batch takes `batch_size / providers` examples from each.
    #[default]
    Rows,
    /// Vertically: each provider holds some columns of every example; one party holds the
    /// labels.
    Columns,
}

/// The loss the gradient is taken of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Loss {
    /// ½ · mean over the batch of Σ (prediction − y)²; gradient prediction − y.
    Mse,
    /// Softmax cross-entropy on the prediction as logits; gradient softmax − y.
    SoftmaxCrossEntropy,
    /// Binary cross-entropy on the prediction as logits; gradient sigmoid − y.
    Logistic,
}

/// The optimiser.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Optimizer {
    /// Stochastic gradient descent: w ← w − (learning_rate / batch_size) · Σ_batch ∂loss/∂w,
    /// with momentum v ← μ·v + g, w ← w − lr/B · v when `momentum` > 0.
    Sgd {
        /// The step size.
        learning_rate: f64,
        /// The momentum μ in [0, 1) (default 0: none).
        #[serde(default)]
        momentum: f64,
    },
}

/// Held-out data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestSet {
    /// The party holding it (who inputs it for `TestAccuracy`).
    pub owner: String,
    /// Features, one row per example.
    pub features: Data,
    /// Labels (class indices with `classes`, else targets).
    pub labels: Data,
    /// The features' shape, for `Values` and `Random`.
    #[serde(default)]
    pub shape: Option<Vec<usize>>,
}

/// Held-out data split between providers (docs/training.md, "The section").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestParts {
    /// The features, one part per provider: split by `Rows`, each holds some examples (all
    /// columns); by `Columns`, some columns of every example.
    pub features: Vec<Dataset>,
    /// The labels: `Rows`, one part per features part (same owner and rows); `Columns`, one part
    /// (any provider).
    pub labels: Vec<Dataset>,
}

/// What a training run reveals once it is done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Reveal {
    /// Every trained weight, to this party.
    Model {
        /// The receiver (an output receiver).
        to: String,
    },
    /// Only the number of held-out examples the private model classifies wrongly, computed
    /// privately (argmax, compare with the label), to this party.
    TestAccuracy {
        /// The receiver (an output receiver).
        to: String,
    },
}
