//! Writing the imported scenario: the RON file, and the weights as `.npy` files in a folder
//! beside it (`NAME-weights/`).

use super::translate::{Owner, Translation};
use crate::npy::write_npy_bytes;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

/// The scenario's client (holds the input, receives the output) and model owner (holds the
/// weights).
pub const CLIENT: &str = "client";
/// See [`CLIENT`].
pub const OWNER: &str = "owner";

/// Public constants up to this many values are written inline (`Values([...])`).
const INLINE: usize = 16;

/// What the scenario says besides the translation.
pub struct Meta<'a> {
    /// The scenario's name.
    pub name: String,
    /// The model file, as given.
    pub model: &'a Path,
    /// "producer version, opset N, K nodes".
    pub provenance: String,
    /// The protocol's name as scenarios write it.
    pub protocol: &'a str,
    /// The input data file, relative to the scenario's folder.
    pub inputs: Option<String>,
    /// The labels file, relative to the scenario's folder.
    pub labels: Option<String>,
}

/// `to` relative to the folder `from` (both made absolute); `to` as given when that fails.
pub fn relative(from: &Path, to: &Path) -> String {
    let (Ok(from), Ok(to_abs)) = (from.canonicalize(), to.canonicalize()) else {
        return to.display().to_string();
    };
    let a: Vec<Component> = from.components().collect();
    let b: Vec<Component> = to_abs.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..a.len() {
        out.push("..");
    }
    for c in &b[common..] {
        out.push(c.as_os_str());
    }
    out.display().to_string()
}

fn ron_str(s: &str) -> String {
    format!("{s:?}")
}

/// The folder (beside the scenario) the weights go into, e.g. `cnn-weights`.
pub fn weights_folder(name: &str) -> String {
    format!("{name}-weights")
}

/// The scenario's RON text.
pub fn scenario_text(t: &Translation, meta: &Meta) -> String {
    let mut s = String::new();
    let folder = weights_folder(&meta.name);
    let _ = writeln!(
        s,
        "// Imported by `sharescope import` from {} ({}).",
        meta.model.display(),
        meta.provenance
    );
    let _ = writeln!(
        s,
        "// The client `{CLIENT}` holds the input and receives the output; the model owner `{OWNER}`\n\
         // holds the weights ({folder}/*.npy). What the import did:"
    );
    for n in &t.notes {
        let _ = writeln!(s, "// - {n}");
    }
    if meta.inputs.is_none() {
        let _ = writeln!(
            s,
            "// - the input is random stand-in data in [0, 1): import with --inputs DATA.npy for real data"
        );
    }
    let _ = writeln!(s, "Scenario(");
    let _ = writeln!(s, "    name: {},", ron_str(&meta.name));
    let _ = writeln!(
        s,
        "    description: {},",
        ron_str(&format!(
            "{} imported from ONNX: {} ops on a batch of {}.",
            meta.name,
            t.program.len(),
            t.input.shape[0]
        ))
    );
    let _ = writeln!(s, "    protocol: {},", meta.protocol);
    let _ = writeln!(
        s,
        "    // tf-encrypted's 64-bit preset: dealer truncation has only 20 bits of statistical security here."
    );
    let _ = writeln!(
        s,
        "    fixed_point: (frac_bits: 16, int_bits: 11, weak_security: true),"
    );
    let _ = writeln!(s, "    truncation: Dealer,");
    let _ = writeln!(
        s,
        "    roles: (\n        input_providers: [{}, {}],\n        output_receivers: [{}],\n    ),",
        ron_str(CLIENT),
        ron_str(OWNER),
        ron_str(CLIENT)
    );
    let _ = writeln!(s, "    seed: 1,");
    let _ = writeln!(s, "    inputs: [");
    let data = match &meta.inputs {
        Some(p) => format!("Npy({})", ron_str(p)),
        None => "Random(Uniform(0.0, 1.0))".to_string(),
    };
    let _ = writeln!(
        s,
        "        (name: {}, owner: {}, shape: {:?}, data: {data}),",
        ron_str(&t.input.name),
        ron_str(CLIENT),
        t.input.shape
    );
    for w in &t.weights {
        let (owner, data) = match w.owner {
            Owner::Public if w.data.values.len() <= INLINE => (
                "public",
                format!(
                    "Values([{}])",
                    w.data
                        .values
                        .iter()
                        .map(|v| format!("{v:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            o => (
                if o == Owner::Public { "public" } else { OWNER },
                format!("Npy({})", ron_str(&format!("{folder}/{}.npy", w.name))),
            ),
        };
        let _ = writeln!(
            s,
            "        (name: {}, owner: {}, shape: {:?}, data: {data}), // {}",
            ron_str(&w.name),
            ron_str(owner),
            w.data.shape,
            w.origin
        );
    }
    let _ = writeln!(s, "    ],");
    let _ = writeln!(s, "    program: [");
    for (name, op) in &t.program {
        let op = ron::to_string(op).expect("an op serialises");
        let _ = writeln!(s, "        (name: {}, op: {op}),", ron_str(name));
    }
    let _ = writeln!(s, "    ],");
    let _ = writeln!(s, "    outputs: [");
    for o in &t.outputs {
        let _ = writeln!(
            s,
            "        (name: {}, to: {}),",
            ron_str(o),
            ron_str(CLIENT)
        );
    }
    let _ = writeln!(s, "    ],");
    if let (Some(labels), Some(scores)) = (&meta.labels, &t.scores) {
        let _ = writeln!(
            s,
            "    metrics: (prediction: {}, labels: Npy({})),",
            ron_str(scores),
            ron_str(labels)
        );
    }
    let _ = writeln!(s, ")");
    s
}

/// The weight files to write: (path relative to the scenario's folder, bytes).
pub fn weight_files(t: &Translation, name: &str) -> Vec<(String, Vec<u8>)> {
    let folder = weights_folder(name);
    t.weights
        .iter()
        .filter(|w| !(w.owner == Owner::Public && w.data.values.len() <= INLINE))
        .map(|w| {
            (
                format!("{folder}/{}.npy", w.name),
                write_npy_bytes(&w.data.shape, &w.data.values),
            )
        })
        .collect()
}
