//! The model's graph as the translator reads it: initialisers, the client's input, attributes,
//! and the located errors ("node 3 of 7 `/conv/Conv` (Conv): …").

use super::onnx::{self, AttributeProto, GraphProto, ModelProto, NodeProto};
use std::collections::HashMap;

/// The opsets of the default domain the importer accepts (their operator semantics, for the
/// operators it translates, are the ones it implements).
pub const OPSETS: std::ops::RangeInclusive<i64> = 7..=22;

/// Why an import is refused: where (a node, or the model), what, and what to do.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// "node 3 of 7 `/conv/Conv` (Conv)", or "the model", or "input `x`".
    pub at: String,
    /// What is wrong.
    pub what: String,
    /// What to do about it.
    pub hint: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}\nhint: {}", self.at, self.what, self.hint)
    }
}

/// A refusal located at `at`.
pub fn refuse(at: &str, what: impl Into<String>, hint: impl Into<String>) -> Refusal {
    Refusal {
        at: at.to_string(),
        what: what.into(),
        hint: hint.into(),
    }
}

/// Where a node is, for errors: its position (1-based), the node count, its name and op type.
pub fn node_at(index: usize, count: usize, node: &NodeProto) -> String {
    let name = if node.name.is_empty() {
        node.output.first().map_or("", String::as_str)
    } else {
        &node.name
    };
    format!("node {} of {count} `{name}` ({})", index + 1, node.op_type)
}

/// The model's default-domain opset, checked, and its graph.
pub fn checked_graph(model: &ModelProto) -> Result<(i64, &GraphProto), Refusal> {
    let graph = model.graph.as_ref().ok_or_else(|| {
        refuse(
            "the model",
            "the file has no graph",
            "export the model again (torch.onnx.export, skl2onnx, tf2onnx)",
        )
    })?;
    let opset = model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        // IR version 3 and earlier files may omit opset_import: opset 1, refused below.
        .unwrap_or(1);
    if !OPSETS.contains(&opset) {
        return Err(refuse(
            "the model",
            format!(
                "opset {opset} of the default domain is not supported (opsets {} to {} are)",
                OPSETS.start(),
                OPSETS.end()
            ),
            format!(
                "convert it: onnx.version_converter.convert_version(model, {}), or export with \
                 opset_version={}",
                OPSETS.end().min(&17),
                OPSETS.end().min(&17)
            ),
        ));
    }
    Ok((opset, graph))
}

/// A node's attributes by name.
pub struct Attrs<'a> {
    map: HashMap<&'a str, &'a AttributeProto>,
    at: &'a str,
}

impl<'a> Attrs<'a> {
    /// The attributes of `node` (errors located at `at`).
    pub fn of(node: &'a NodeProto, at: &'a str) -> Attrs<'a> {
        Attrs {
            map: node
                .attribute
                .iter()
                .map(|a| (a.name.as_str(), a))
                .collect(),
            at,
        }
    }

    /// Whether the attribute is present.
    pub fn has(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// An int attribute, or `default`.
    pub fn int(&self, name: &str, default: i64) -> i64 {
        self.map.get(name).map_or(default, |a| a.i)
    }

    /// A float attribute, or `default`.
    pub fn float(&self, name: &str, default: f32) -> f32 {
        self.map.get(name).map_or(default, |a| a.f)
    }

    /// A string attribute, or `default`.
    pub fn string(&self, name: &str, default: &str) -> String {
        self.map.get(name).map_or(default.to_string(), |a| {
            String::from_utf8_lossy(&a.s).into_owned()
        })
    }

    /// An ints attribute, or `None`.
    pub fn ints(&self, name: &str) -> Option<&'a [i64]> {
        self.map.get(name).map(|a| a.ints.as_slice())
    }

    /// Refuses every attribute not in `known`, naming it.
    pub fn only(&self, known: &[&str]) -> Result<(), Refusal> {
        let mut unknown: Vec<&str> = self
            .map
            .keys()
            .copied()
            .filter(|k| !known.contains(k))
            .collect();
        unknown.sort_unstable();
        match unknown.first() {
            None => Ok(()),
            Some(k) => Err(refuse(
                self.at,
                format!("attribute `{k}` is not supported"),
                "export without it, or open an issue with the model",
            )),
        }
    }
}

/// The graph's initialisers, decoded, by name (errors located at the initialiser).
pub fn initialisers(graph: &GraphProto) -> Result<HashMap<String, onnx::Dense>, Refusal> {
    if let Some(s) = graph.sparse_initializer.first() {
        let name = s.values.as_ref().map_or("?", |v| v.name.as_str());
        return Err(refuse(
            &format!("initialiser `{name}`"),
            "sparse initialisers are not supported",
            "store the weights dense (onnx's numpy_helper.from_array)",
        ));
    }
    let mut out = HashMap::new();
    for t in &graph.initializer {
        let d = onnx::decode_tensor(t).map_err(|e| {
            refuse(
                &format!("initialiser `{}`", t.name),
                e,
                "export the weights as float32 or float64 tensors",
            )
        })?;
        out.insert(t.name.clone(), d);
    }
    Ok(out)
}

/// How many times each value is read (node inputs and graph outputs).
pub fn use_counts(graph: &GraphProto) -> HashMap<&str, usize> {
    let mut uses: HashMap<&str, usize> = HashMap::new();
    for n in &graph.node {
        for i in n.input.iter().filter(|i| !i.is_empty()) {
            *uses.entry(i.as_str()).or_default() += 1;
        }
    }
    for o in &graph.output {
        *uses.entry(o.name.as_str()).or_default() += 1;
    }
    uses
}
