//! `sharescope import`: an ONNX model becomes a scenario. The client holds the input, the model
//! owner the weights (`.npy` files beside the scenario); the program is the graph translated node
//! by node (docs/import.md has the operator table and the decisions).
//!
//! - `onnx.rs`: the protobuf messages (hand-written `prost` messages) and tensor decoding;
//! - `graph.rs`: opset checks, attributes, initialisers, located refusals;
//! - `translate.rs`: the graph walk, node by node, with constant folding;
//! - `fold.rs`: BatchNormalization folded into the layer before it;
//! - `write.rs`: the scenario's RON text and its weight files.

pub mod bound;
pub mod fold;
pub mod graph;
pub mod onnx;
pub mod translate;
pub mod write;

use crate::error::SimError;
use crate::scenario::{self, Plan, ProtocolKind};
use std::path::{Path, PathBuf};

/// What `sharescope import` was asked.
#[derive(Debug, Clone)]
pub struct Options {
    /// The `.onnx` file.
    pub model: PathBuf,
    /// The scenario to write (`.ron`); the weights go to `NAME-weights/` beside it.
    pub output: PathBuf,
    /// The protocol the scenario runs.
    pub protocol: ProtocolKind,
    /// The batch size for a dynamic batch dimension.
    pub batch: Option<usize>,
    /// The client's data (`.npy`); its first dimension is the batch unless `batch` is given.
    pub inputs: Option<PathBuf>,
    /// One class label per row (`.npy`): the scenario then has `metrics`.
    pub labels: Option<PathBuf>,
}

/// A written scenario.
#[derive(Debug)]
pub struct Imported {
    /// The scenario file.
    pub scenario: PathBuf,
    /// Every file written (the scenario first).
    pub files: Vec<PathBuf>,
    /// What the import did that a reader should know.
    pub notes: Vec<String>,
    /// The scenario, loaded and validated as `sharescope check` does.
    pub plan: Plan,
    /// A worst-case bound on the outputs' fixed-point error (`bound.rs`), or why there is none.
    pub bound: Result<f64, String>,
}

fn io(path: &Path, e: impl std::fmt::Display) -> SimError {
    SimError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

fn refusal(model: &Path, r: graph::Refusal) -> SimError {
    SimError::Import(format!("{}: {r}", model.display()))
}

/// What [`translate_bytes`] read about the model besides its translation.
#[derive(Debug, Clone)]
pub struct Provenance {
    /// "exporter version" or "unknown exporter".
    pub exporter: String,
    /// The default domain's opset.
    pub opset: i64,
    /// The graph's node count.
    pub nodes: usize,
}

/// Decodes and translates a model's bytes (`model` names it in errors); writes nothing.
pub fn translate_bytes(
    bytes: &[u8],
    model: &Path,
    protocol: ProtocolKind,
    batch: Option<usize>,
) -> Result<(Provenance, translate::Translation), SimError> {
    let m = onnx::decode_model(bytes).map_err(|e| {
        SimError::Import(format!(
            "{}: {e}\nhint: give an .onnx file (onnx.checker.check_model(path) checks one)",
            model.display()
        ))
    })?;
    let (opset, graph) = graph::checked_graph(&m).map_err(|r| refusal(model, r))?;
    let want = translate::Want {
        protocol: protocol.get(),
        batch,
    };
    let t = translate::translate(graph, &want).map_err(|r| refusal(model, r))?;
    let exporter = if m.producer_name.is_empty() {
        "unknown exporter".to_string()
    } else {
        format!("{} {}", m.producer_name, m.producer_version)
            .trim()
            .to_string()
    };
    let p = Provenance {
        exporter,
        opset,
        nodes: graph.node.len(),
    };
    Ok((p, t))
}

/// Reads, translates and writes; the written scenario is loaded back (validated) before this
/// returns. Nothing is written when the model is refused.
pub fn import(opts: &Options) -> Result<Imported, SimError> {
    let bytes = read_model(&opts.model)?;
    if opts.batch == Some(0) {
        return Err(SimError::Usage("--batch must be at least 1".into()));
    }
    let batch = match (opts.batch, &opts.inputs) {
        (Some(b), _) => Some(b),
        (None, Some(p)) => {
            let h = crate::npy::NpyFile::open(p)
                .map_err(SimError::Usage)?
                .header;
            h.shape.first().copied()
        }
        (None, None) => None,
    };
    let (prov, mut t) = translate_bytes(&bytes, &opts.model, opts.protocol, batch)?;
    if opts.labels.is_some() && t.scores.is_none() {
        t.notes.push(
            "--labels given, but no output holds class scores (or classes): no metrics".into(),
        );
    }
    let dir = match opts.output.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
    let name = opts
        .output
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| SimError::Usage("-o needs a file name, e.g. -o model.ron".into()))?;
    let check_file = |p: &Option<PathBuf>| -> Result<Option<String>, SimError> {
        p.as_ref()
            .map(|p| {
                crate::npy::NpyFile::open(p).map_err(SimError::Usage)?;
                Ok(write::relative(&dir, p))
            })
            .transpose()
    };
    let meta = write::Meta {
        name: name.clone(),
        model: &opts.model,
        provenance: format!(
            "{}, opset {}, {} nodes",
            prov.exporter, prov.opset, prov.nodes
        ),
        protocol: opts.protocol.name(),
        inputs: check_file(&opts.inputs)?,
        labels: check_file(&opts.labels)?,
    };
    let text = write::scenario_text(&t, &meta);
    let mut files = vec![opts.output.clone()];
    let weights = write::weight_files(&t, &name);
    if !weights.is_empty() {
        let folder = dir.join(write::weights_folder(&name));
        std::fs::create_dir_all(&folder).map_err(|e| io(&folder, e))?;
    }
    for (rel, bytes) in weights {
        let path = dir.join(rel);
        std::fs::write(&path, bytes).map_err(|e| io(&path, e))?;
        files.push(path);
    }
    std::fs::write(&opts.output, text).map_err(|e| io(&opts.output, e))?;
    let plan = scenario::load(&opts.output)?;
    let input_max = match &opts.inputs {
        Some(p) => crate::npy::read_npy(p)
            .map_err(SimError::Usage)?
            .values
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs())),
        None => 1.0,
    };
    let exact = ["SecureNN", "ABY3"]
        .iter()
        .any(|p| opts.protocol.name().starts_with(p));
    let bound = bound::output_bound(&t, plan.scenario.fixed_point.frac_bits, input_max, exact);
    Ok(Imported {
        bound,
        scenario: opts.output.clone(),
        files,
        notes: t.notes,
        plan,
    })
}

/// The model file's bytes: a regular file of at most [`onnx::MAX_FILE_BYTES`].
fn read_model(path: &Path) -> Result<Vec<u8>, SimError> {
    let (mut file, len) = crate::files::open_regular(path).map_err(|e| io(path, e))?;
    if len > onnx::MAX_FILE_BYTES {
        return Err(SimError::Import(format!(
            "{}: the file has {len} bytes, more than the {} the importer reads\nhint: the models sharescope simulates are small; export a smaller one",
            path.display(),
            onnx::MAX_FILE_BYTES
        )));
    }
    crate::files::read_exact_len(&mut file, len).map_err(|e| io(path, e))
}
