//! The graph walk: every ONNX node, in order, becomes zero or more program statements over the
//! client's private input and the model owner's weights. Constant subgraphs are folded at import
//! (initialisers and `Constant` nodes are known), BatchNormalization is folded into the linear
//! layer before it (`fold.rs`), a final Softmax is dropped (the logits are revealed).

use super::fold;
use super::graph::{self, node_at, refuse, Attrs, Refusal};
use super::onnx::{self, Dense, GraphProto, NodeProto};
use protocols::program::{eval_f64, infer_shape, Op, Real};
use protocols::protocol::Protocol;
use std::collections::{HashMap, HashSet};

/// Who holds a tensor of the scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The model owner (initialisers: the weights stay private).
    Model,
    /// Everybody (`Constant` nodes and constants the importer makes, e.g. 1/(H·W)).
    Public,
}

/// A tensor the scenario reads from a file or inline: a weight or a public constant.
#[derive(Debug, Clone, PartialEq)]
pub struct Weight {
    /// Its scenario name.
    pub name: String,
    /// Who holds it.
    pub owner: Owner,
    /// Its values.
    pub data: Dense,
    /// Where it came from (the initialiser's name, and what the import did to it).
    pub origin: String,
}

/// The client's input.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientInput {
    /// Its scenario name.
    pub name: String,
    /// Its name in the model.
    pub onnx_name: String,
    /// Its shape, batch first.
    pub shape: Vec<usize>,
}

/// The translated model.
#[derive(Debug, Clone, PartialEq)]
pub struct Translation {
    /// The client's input.
    pub input: ClientInput,
    /// Weights and public constants, in the order they are first used.
    pub weights: Vec<Weight>,
    /// The program.
    pub program: Vec<(String, Op)>,
    /// The values the client receives.
    pub outputs: Vec<String>,
    /// The output `metrics` reads: one whose last axis holds class scores, or an `Argmax`.
    pub scores: Option<String>,
    /// What the import did that a reader should know (folds, dropped nodes).
    pub notes: Vec<String>,
    /// The shape of every program value.
    pub shapes: HashMap<String, Vec<usize>>,
}

/// What the translation needs besides the graph.
pub struct Want<'a> {
    /// The protocol the scenario will run (ops it refuses are refused at import).
    pub protocol: &'a dyn Protocol,
    /// The batch size for a dynamic first dimension.
    pub batch: Option<usize>,
}

#[derive(Debug, Clone)]
enum Val {
    Private(String),
    Const { d: Dense, public: bool },
}

/// A linear layer's weights, kept so a BatchNormalization after it can be folded in.
#[derive(Debug, Clone, Copy)]
pub(super) struct Linear {
    /// Index of the weight in `weights`.
    pub weight: usize,
    /// The weight's output-channel axis (0 for conv filters, 1 for a [K, N] matrix).
    pub axis: usize,
    /// Index of the bias, if the layer has one.
    pub bias: Option<usize>,
    /// Whether the layer is a convolution (bias [C, 1, 1]) or dense (bias [N]).
    pub conv: bool,
}

pub(super) struct Tr<'g> {
    vals: HashMap<String, Val>,
    pub(super) shapes: HashMap<String, Vec<usize>>,
    used: HashSet<String>,
    pub(super) weights: Vec<Weight>,
    pub(super) program: Vec<(String, Op)>,
    pub(super) linear: HashMap<String, Linear>,
    materialised: HashMap<String, String>,
    pub(super) notes: Vec<String>,
    protocol: &'g dyn Protocol,
    uses: HashMap<&'g str, usize>,
    outputs: HashSet<&'g str>,
}

/// A scenario name from an ONNX name: letters, digits and `_`, never empty.
pub fn sanitise(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let s = s.trim_matches('_');
    let mut s = if s.is_empty() {
        "v".to_string()
    } else {
        s.to_string()
    };
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, 'v');
    }
    s
}

fn real(d: &Dense) -> Real {
    let shape = if d.shape.is_empty() {
        vec![1]
    } else {
        d.shape.clone()
    };
    Real::from_shape_vec(ndarray::IxDyn(&shape), d.values.clone()).expect("decoded shape")
}

fn dense(r: &Real) -> Dense {
    Dense {
        shape: r.shape().to_vec(),
        values: r.iter().copied().collect(),
    }
}

const PROTOCOL_HINT: &str =
    "choose a protocol that runs it with --protocol (securenn runs MaxPool2d, Argmax and an exact ReLU)";

impl<'g> Tr<'g> {
    fn fresh(&mut self, base: &str) -> String {
        let base = sanitise(base);
        let mut name = base.clone();
        let mut k = 2;
        while self.used.contains(&name) {
            name = format!("{base}_{k}");
            k += 1;
        }
        self.used.insert(name.clone());
        name
    }

    pub(super) fn shape(&self, name: &str) -> &[usize] {
        &self.shapes[name]
    }

    /// Appends `name = op`, checking its shape and that the protocol runs it.
    pub(super) fn emit(&mut self, at: &str, base: &str, op: Op) -> Result<String, Refusal> {
        let operand_shapes: Vec<Vec<usize>> = op
            .operands()
            .iter()
            .map(|o| self.shapes[*o].clone())
            .collect();
        let refs: Vec<&[usize]> = operand_shapes.iter().map(Vec::as_slice).collect();
        let shape = infer_shape(&op, &refs).map_err(|e| {
            refuse(
                at,
                format!("its {} does not fit: {e}", op.kind()),
                "check the model's shapes (onnx.shape_inference.infer_shapes), or fix the batch size with --batch",
            )
        })?;
        if let Err(why) = self.protocol.supports(&op) {
            return Err(refuse(
                at,
                format!(
                    "{} becomes `{}`, which {} does not run: {why}",
                    "the node",
                    op.kind(),
                    self.protocol.name()
                ),
                PROTOCOL_HINT,
            ));
        }
        let name = self.fresh(base);
        self.shapes.insert(name.clone(), shape);
        self.program.push((name.clone(), op));
        Ok(name)
    }

    /// A new weight (or public constant) named after `base`; its index.
    pub(super) fn add_weight(
        &mut self,
        base: &str,
        data: Dense,
        owner: Owner,
        origin: String,
    ) -> usize {
        let name = self.fresh(base);
        let shape = if data.shape.is_empty() {
            vec![1]
        } else {
            data.shape.clone()
        };
        self.shapes.insert(name.clone(), shape.clone());
        self.weights.push(Weight {
            name,
            owner,
            data: Dense {
                shape,
                values: data.values,
            },
            origin,
        });
        self.weights.len() - 1
    }

    fn val(&self, at: &str, onnx_name: &str) -> Result<Val, Refusal> {
        self.vals.get(onnx_name).cloned().ok_or_else(|| {
            refuse(
                at,
                format!("its input `{onnx_name}` is not the graph's input, an initialiser or an earlier node's output"),
                "save the model with its nodes in topological order (onnx.checker.check_model tells)",
            )
        })
    }

    /// Input `i` of `node` (refused when missing).
    fn input(&self, at: &str, node: &NodeProto, i: usize) -> Result<Val, Refusal> {
        match node.input.get(i).filter(|s| !s.is_empty()) {
            Some(n) => self.val(at, n),
            None => Err(refuse(
                at,
                format!("input {} is missing", i + 1),
                "export the model again; onnx.checker.check_model finds such errors",
            )),
        }
    }

    fn optional_input(&self, at: &str, node: &NodeProto, i: usize) -> Result<Option<Val>, Refusal> {
        match node.input.get(i).filter(|s| !s.is_empty()) {
            Some(n) => self.val(at, n).map(Some),
            None => Ok(None),
        }
    }

    /// The scenario name of a value: private values are themselves, constants become a weight
    /// (initialisers: the model owner's) or a public constant (`Constant` nodes).
    fn private(&mut self, node: &NodeProto, i: usize, v: Val) -> String {
        match v {
            Val::Private(n) => n,
            Val::Const { d, public } => {
                let onnx_name = node.input[i].clone();
                if let Some(n) = self.materialised.get(&onnx_name) {
                    return n.clone();
                }
                let owner = if public { Owner::Public } else { Owner::Model };
                let idx = self.add_weight(&onnx_name, d, owner, format!("`{onnx_name}`"));
                let n = self.weights[idx].name.clone();
                self.materialised.insert(onnx_name, n.clone());
                n
            }
        }
    }

    fn set(&mut self, onnx_name: &str, v: Val) {
        self.vals.insert(onnx_name.to_string(), v);
    }

    fn uses(&self, onnx_name: &str) -> usize {
        self.uses.get(onnx_name).copied().unwrap_or(0)
    }

    fn is_output(&self, onnx_name: &str) -> bool {
        self.outputs.contains(onnx_name)
    }
}

/// Folds an op over constants with the program's own plaintext meaning.
fn fold_const(at: &str, op: &Op, args: &[&Dense]) -> Result<Dense, Refusal> {
    let reals: Vec<Real> = args.iter().map(|d| real(d)).collect();
    let shapes: Vec<&[usize]> = reals.iter().map(|r| r.shape()).collect();
    infer_shape(op, &shapes).map_err(|e| {
        refuse(
            at,
            format!("its constant operands do not fit: {e}"),
            "check the model with onnx.checker.check_model(model, full_check=True)",
        )
    })?;
    let refs: Vec<&Real> = reals.iter().collect();
    Ok(dense(&eval_f64(op, &refs)))
}

fn ints_of(at: &str, d: &Dense, what: &str) -> Result<Vec<i64>, Refusal> {
    d.values
        .iter()
        .map(|&v| {
            if v.fract() == 0.0 && v.abs() < 9.0e15 {
                Ok(v as i64)
            } else {
                Err(refuse(
                    at,
                    format!("{what} holds {v}, not an integer"),
                    "export it as INT64",
                ))
            }
        })
        .collect()
}

/// Translates `graph` for `want`.
pub fn translate(graph: &GraphProto, want: &Want) -> Result<Translation, Refusal> {
    let inits = graph::initialisers(graph)?;
    let mut tr = Tr {
        vals: HashMap::new(),
        shapes: HashMap::new(),
        used: HashSet::new(),
        weights: Vec::new(),
        program: Vec::new(),
        linear: HashMap::new(),
        materialised: HashMap::new(),
        notes: Vec::new(),
        protocol: want.protocol,
        uses: graph::use_counts(graph),
        outputs: graph.output.iter().map(|o| o.name.as_str()).collect(),
    };
    for (name, d) in &inits {
        tr.set(
            name,
            Val::Const {
                d: d.clone(),
                public: false,
            },
        );
    }
    let input = client_input(graph, &inits, want)?;
    tr.used.insert(input.name.clone());
    tr.shapes.insert(input.name.clone(), input.shape.clone());
    tr.set(&input.onnx_name, Val::Private(input.name.clone()));

    let count = graph.node.len();
    for (i, node) in graph.node.iter().enumerate() {
        let at = node_at(i, count, node);
        node_op(&mut tr, &at, node)?;
    }
    if graph.output.is_empty() {
        return Err(refuse(
            "the model",
            "the graph has no output",
            "export the model with its outputs",
        ));
    }
    let mut outputs = Vec::new();
    let mut scores = None;
    for o in &graph.output {
        let at = format!("output `{}`", o.name);
        match tr.val(&at, &o.name)? {
            Val::Private(n) => {
                if !outputs.contains(&n) {
                    outputs.push(n.clone());
                }
                let s = tr.shape(&n);
                if s.len() >= 2 && s[s.len() - 1] >= 2 && scores.is_none() {
                    scores = Some(n);
                }
            }
            Val::Const { .. } => {
                return Err(refuse(
                    &at,
                    "the output does not depend on the input (it is a constant)",
                    "export the model with an output computed from its input",
                ))
            }
        }
    }
    // An Argmax output holds the classes: `metrics` reads them as they are.
    if scores.is_none() {
        scores = outputs
            .iter()
            .find(|o| {
                tr.program
                    .iter()
                    .any(|(n, op)| n == *o && matches!(op, Op::Argmax(_)))
            })
            .cloned();
    }
    Ok(Translation {
        input,
        weights: tr.weights,
        program: tr.program,
        outputs,
        scores,
        notes: tr.notes,
        shapes: tr.shapes,
    })
}

/// The graph's one non-initialiser input, with its batch dimension fixed.
fn client_input(
    graph: &GraphProto,
    inits: &HashMap<String, Dense>,
    want: &Want,
) -> Result<ClientInput, Refusal> {
    let inputs: Vec<_> = graph
        .input
        .iter()
        .filter(|i| !inits.contains_key(&i.name))
        .collect();
    let vi = match inputs.as_slice() {
        [one] => *one,
        [] => {
            return Err(refuse(
                "the model",
                "the graph has no input besides its initialisers",
                "export the model with its data input",
            ))
        }
        more => {
            return Err(refuse(
                "the model",
                format!(
                    "the graph has {} inputs ({}); the importer makes one client input",
                    more.len(),
                    more.iter()
                        .map(|i| format!("`{}`", i.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "export a model with a single data input (make the others initialisers)",
            ))
        }
    };
    let at = format!("input `{}`", vi.name);
    let tt = vi
        .r#type
        .as_ref()
        .and_then(|t| t.tensor_type.as_ref())
        .ok_or_else(|| refuse(&at, "it is not a tensor", "export a tensor input"))?;
    if tt.elem_type != 1 && tt.elem_type != 11 {
        return Err(refuse(
            &at,
            format!("its data type is {}", onnx::data_type_name(tt.elem_type)),
            "export the model with a FLOAT (or DOUBLE) input: the scenario's inputs are real numbers",
        ));
    }
    let dims = &tt
        .shape
        .as_ref()
        .ok_or_else(|| {
            refuse(&at, "it has no shape", "export the model with the input's shape (e.g. torch.onnx.export with a sample input)")
        })?
        .dim;
    if dims.is_empty() {
        return Err(refuse(
            &at,
            "it is a scalar",
            "export an input with a batch axis",
        ));
    }
    let mut shape = Vec::new();
    for (axis, d) in dims.iter().enumerate() {
        let fixed = d.dim_value.filter(|&v| v > 0);
        let size = match (axis, fixed, want.batch) {
            (0, Some(v), Some(b)) if v as usize != b => {
                return Err(refuse(
                    &at,
                    format!("the model fixes the batch size at {v}, but --batch is {b}"),
                    format!("leave out --batch, or export the model with a dynamic batch axis (torch.onnx.export(..., dynamic_axes={{'{}': {{0: 'N'}}}}))", vi.name),
                ));
            }
            (_, Some(v), _) => v as usize,
            (0, None, Some(b)) => b,
            (0, None, None) => {
                return Err(refuse(
                    &at,
                    format!(
                        "its batch dimension is dynamic (`{}`)",
                        d.dim_param.as_deref().unwrap_or("?")
                    ),
                    "fix the batch size with --batch N (or give --inputs DATA.npy: its first dimension is the batch)",
                ))
            }
            (axis, None, _) => {
                return Err(refuse(
                    &at,
                    format!(
                        "dimension {axis} is dynamic (`{}`); only the batch may be",
                        d.dim_param.as_deref().unwrap_or("?")
                    ),
                    "export the model with a fixed input size",
                ))
            }
        };
        shape.push(size);
    }
    if protocols::tensor::checked_numel(&shape).is_none_or(|n| n > onnx::MAX_ELEMENTS) {
        return Err(refuse(
            &at,
            format!(
                "shape {shape:?} has more than {} elements",
                onnx::MAX_ELEMENTS
            ),
            "use a smaller --batch",
        ));
    }
    Ok(ClientInput {
        name: sanitise(&vi.name),
        onnx_name: vi.name.clone(),
        shape,
    })
}

fn out_name(node: &NodeProto) -> &str {
    node.output.first().map_or("", String::as_str)
}

/// Translates one node.
fn node_op(tr: &mut Tr, at: &str, node: &NodeProto) -> Result<(), Refusal> {
    if !(node.domain.is_empty() || node.domain == "ai.onnx") {
        return Err(refuse(
            at,
            format!("operator domain `{}` is not supported (only ONNX's default domain is)", node.domain),
            "export without custom or ML-domain operators (skl2onnx: options={'zipmap': False} and a plain classifier)",
        ));
    }
    let out = out_name(node).to_string();
    if out.is_empty() {
        return Err(refuse(at, "it has no output", "export the model again"));
    }
    // Only the first output is translated; a used second output (Dropout's mask, MaxPool's
    // indices, BatchNormalization's training statistics) is refused.
    if let Some(extra) = node
        .output
        .iter()
        .skip(1)
        .find(|o| !o.is_empty() && tr.uses(o) > 0)
    {
        return Err(refuse(
            at,
            format!("its extra output `{extra}` is used"),
            "export in inference mode (model.eval()), where only the first output is read",
        ));
    }
    let attrs = Attrs::of(node, at);
    match node.op_type.as_str() {
        "Identity" | "Dropout" => {
            let x = tr.input(at, node, 0)?;
            tr.set(&out, x);
            tr.notes.push(format!("{at}: dropped (the identity at inference)"));
        }
        "Constant" => {
            let d = constant_value(at, node)?;
            tr.set(&out, Val::Const { d, public: true });
        }
        "Add" | "Sub" | "Mul" => binary(tr, at, node, &out)?,
        "Relu" | "Sigmoid" | "Tanh" => {
            attrs.only(&[])?;
            let x = tr.input(at, node, 0)?;
            let make = |n: String| match node.op_type.as_str() {
                "Relu" => Op::Relu(n),
                "Sigmoid" => Op::Sigmoid(n),
                _ => Op::Tanh(n),
            };
            match x {
                Val::Const { d, public } => {
                    let r = fold_const(at, &make(String::new()), &[&d])?;
                    tr.set(&out, Val::Const { d: r, public });
                }
                Val::Private(n) => {
                    let r = tr.emit(at, &out, make(n))?;
                    tr.set(&out, Val::Private(r));
                }
            }
        }
        "Gemm" => gemm(tr, at, node, &attrs, &out)?,
        "MatMul" => matmul(tr, at, node, &out)?,
        "Conv" => conv(tr, at, node, &attrs, &out)?,
        "BatchNormalization" => fold::batch_norm(tr, at, node, &attrs, &out)?,
        "MaxPool" | "AveragePool" => pool(tr, at, node, &attrs, &out)?,
        "GlobalAveragePool" => global_avg(tr, at, node, &out)?,
        "Flatten" => {
            attrs.only(&["axis"])?;
            let x = tr.input(at, node, 0)?;
            let shape = shape_of(tr, &x);
            let rank = shape.len() as i64;
            let mut axis = attrs.int("axis", 1);
            if axis < 0 {
                axis += rank;
            }
            if !(0..=rank).contains(&axis) {
                return Err(refuse(at, format!("axis {} is out of range for rank {rank}", attrs.int("axis", 1)), "export with a valid axis"));
            }
            let a = axis as usize;
            let target = vec![shape[..a].iter().product(), shape[a..].iter().product()];
            reshape_to(tr, at, node, x, target, &out, a == 1 && shape.len() >= 2)?;
        }
        "Reshape" => {
            attrs.only(&["allowzero"])?;
            let x = tr.input(at, node, 0)?;
            let spec = match tr.input(at, node, 1)? {
                Val::Const { d, .. } => ints_of(at, &d, "the target shape")?,
                Val::Private(_) => {
                    return Err(refuse(
                        at,
                        "its target shape is computed from the input",
                        "export with a constant target shape (in PyTorch: x.flatten(1) or x.view(-1, K) with a fixed K)",
                    ))
                }
            };
            let shape = shape_of(tr, &x);
            let target = reshape_target(at, &shape, &spec, attrs.int("allowzero", 0) != 0)?;
            reshape_to(tr, at, node, x, target, &out, false)?;
        }
        "Transpose" => {
            attrs.only(&["perm"])?;
            let x = tr.input(at, node, 0)?;
            let rank = shape_of(tr, &x).len();
            let perm: Vec<i64> = attrs
                .ints("perm")
                .map(<[i64]>::to_vec)
                .unwrap_or_else(|| (0..rank as i64).rev().collect());
            let mut sorted = perm.clone();
            sorted.sort_unstable();
            if sorted != (0..rank as i64).collect::<Vec<_>>() {
                return Err(refuse(at, format!("perm {perm:?} is not a permutation of the {rank} axes"), "export the model again"));
            }
            let perm: Vec<usize> = perm.iter().map(|&p| p as usize).collect();
            match x {
                Val::Const { d, public } if d.shape.is_empty() => {
                    tr.set(&out, Val::Const { d, public });
                }
                Val::Const { d, public } => {
                    let r = real(&d).permuted_axes(ndarray::IxDyn(&perm));
                    let r = r.as_standard_layout().to_owned();
                    tr.set(&out, Val::Const { d: dense(&r), public });
                }
                Val::Private(n) => {
                    if perm.iter().enumerate().all(|(i, &p)| i == p) {
                        tr.set(&out, Val::Private(n));
                    } else if perm.iter().rev().enumerate().all(|(i, &p)| i == p) {
                        let r = tr.emit(at, &out, Op::Transpose(n))?;
                        tr.set(&out, Val::Private(r));
                    } else {
                        return Err(refuse(
                            at,
                            format!("perm {perm:?} on a private value: the program's Transpose only reverses the axes"),
                            "export without the permutation (e.g. keep NCHW throughout), or transpose a weight instead",
                        ));
                    }
                }
            }
        }
        "Shape" => {
            attrs.only(&[])?;
            let x = tr.input(at, node, 0)?;
            let s = shape_of(tr, &x);
            let d = Dense { shape: vec![s.len()], values: s.iter().map(|&v| v as f64).collect() };
            tr.set(&out, Val::Const { d, public: true });
        }
        "Softmax" | "LogSoftmax" => {
            let x = tr.input(at, node, 0)?;
            let rank = shape_of(tr, &x).len() as i64;
            let axis = attrs.int("axis", -1);
            let last = axis == -1 || axis == rank - 1;
            match x {
                Val::Private(n) if tr.is_output(&out) && tr.uses(&out) == 1 && last => {
                    tr.notes.push(format!(
                        "{at}: the final {} is dropped, the logits `{n}` are revealed instead (it is monotone: same argmax, and the private Softmax op costs a maximum tree, an exponential and a division per row)",
                        node.op_type
                    ));
                    tr.set(&out, Val::Private(n));
                }
                // Inside the network: the program's numerically stable Softmax op (issue 13),
                // refused by `emit` with the protocol's reason where it has no exact comparison.
                Val::Private(n) if node.op_type == "Softmax" && last => {
                    let r = tr.emit(at, &out, Op::Softmax(n))?;
                    tr.set(&out, Val::Private(r));
                }
                _ => {
                    return Err(refuse(
                        at,
                        format!(
                            "a {} that is not over the last axis, or a LogSoftmax that is not the graph's output: the program's Softmax runs over the last axis, and a LogSoftmax inside the network is not translated (the program's Log is accurate on [0.01, 250], and log-probabilities go far below ln 0.01)",
                            node.op_type
                        ),
                        "export the model with the softmax over the last axis, or without it (output the logits); a final Softmax or LogSoftmax is dropped at import",
                    ))
                }
            }
        }
        "ArgMax" => {
            attrs.only(&["axis", "keepdims", "select_last_index"])?;
            let x = tr.input(at, node, 0)?;
            let rank = shape_of(tr, &x).len() as i64;
            let axis = attrs.int("axis", 0);
            let last = axis == -1 || axis == rank - 1;
            let n = match x {
                Val::Private(n) if tr.is_output(&out) && last && attrs.int("select_last_index", 0) == 0 => n,
                _ => {
                    return Err(refuse(
                        at,
                        "an ArgMax that is not a graph output over the last axis (first index of the maximum)",
                        "export the model with the ArgMax over the class axis as its output, or output the logits",
                    ))
                }
            };
            let op = Op::Argmax(n.clone());
            if tr.protocol.supports(&op).is_ok() {
                let r = tr.emit(at, &out, op)?;
                tr.notes.push(format!("{at}: only the predicted class is revealed (shape [batch], not keepdims)"));
                tr.set(&out, Val::Private(r));
            } else {
                tr.notes.push(format!(
                    "{at}: {} has no Argmax; the logits `{n}` are revealed instead (the class is their argmax)",
                    tr.protocol.name()
                ));
                tr.set(&out, Val::Private(n));
            }
        }
        other => {
            return Err(refuse(
                at,
                format!("operator {other} is not supported"),
                format!(
                    "the supported operators are {} (docs/import.md); export the model without {other}, or simplify it (onnxsim)",
                    SUPPORTED.join(", ")
                ),
            ))
        }
    }
    Ok(())
}

/// The operators [`translate`] knows.
pub const SUPPORTED: &[&str] = &[
    "Gemm",
    "MatMul",
    "Add",
    "Sub",
    "Mul",
    "Relu",
    "Sigmoid",
    "Tanh",
    "Conv",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "Flatten",
    "Reshape",
    "Transpose",
    "BatchNormalization",
    "Softmax",
    "LogSoftmax (final)",
    "ArgMax (final)",
    "Identity",
    "Dropout",
    "Constant",
    "Shape",
];

fn shape_of(tr: &Tr, v: &Val) -> Vec<usize> {
    match v {
        Val::Private(n) => tr.shape(n).to_vec(),
        Val::Const { d, .. } => d.shape.clone(),
    }
}

fn constant_value(at: &str, node: &NodeProto) -> Result<Dense, Refusal> {
    let a = node
        .attribute
        .first()
        .ok_or_else(|| refuse(at, "it has no value", "export the model again"))?;
    let bad = |e: String| refuse(at, e, "export the constant as a FLOAT or INT64 tensor");
    match a.name.as_str() {
        "value" => onnx::decode_tensor(
            a.t.as_ref()
                .ok_or_else(|| bad("its value is not a tensor".into()))?,
        )
        .map_err(bad),
        "value_float" => Ok(Dense {
            shape: vec![],
            values: vec![a.f as f64],
        }),
        "value_int" => Ok(Dense {
            shape: vec![],
            values: vec![a.i as f64],
        }),
        "value_floats" => Ok(Dense {
            shape: vec![a.floats.len()],
            values: a.floats.iter().map(|&v| v as f64).collect(),
        }),
        "value_ints" => Ok(Dense {
            shape: vec![a.ints.len()],
            values: a.ints.iter().map(|&v| v as f64).collect(),
        }),
        other => Err(bad(format!(
            "a constant given as `{other}` is not supported"
        ))),
    }
}

fn binary(tr: &mut Tr, at: &str, node: &NodeProto, out: &str) -> Result<(), Refusal> {
    let a = tr.input(at, node, 0)?;
    let b = tr.input(at, node, 1)?;
    let make = |x: String, y: String| match node.op_type.as_str() {
        "Add" => Op::Add(x, y),
        "Sub" => Op::Sub(x, y),
        _ => Op::Mul(x, y),
    };
    if let (Val::Const { d: da, public: pa }, Val::Const { d: db, public: pb }) = (&a, &b) {
        let r = fold_const(at, &make(String::new(), String::new()), &[da, db])?;
        tr.set(
            out,
            Val::Const {
                d: r,
                public: *pa && *pb,
            },
        );
        return Ok(());
    }
    // `MatMul` then `Add` of a bias vector is a dense layer: remember the bias for a
    // BatchNormalization that may follow.
    let bias_of = match (&a, &b, node.op_type.as_str()) {
        (Val::Private(n), Val::Const { d, public: false }, "Add") => tr
            .linear
            .get(n)
            .filter(|l| l.bias.is_none() && !l.conv)
            .filter(|_| {
                let s = tr.shape(n);
                d.shape.last() == s.last() && d.values.len() == *s.last().unwrap_or(&0)
            })
            .copied(),
        _ => None,
    };
    let once = matches!(&a, Val::Private(n) if value_uses(tr, n) == 1);
    let x = tr.private(node, 0, a);
    let y = if let (Some(_), Val::Const { d, .. }) = (bias_of, &b) {
        let n = d.values.len();
        let idx = tr.add_weight(
            &node.input[1],
            Dense {
                shape: vec![n],
                values: d.values.clone(),
            },
            Owner::Model,
            format!("`{}`", node.input[1]),
        );
        tr.weights[idx].name.clone()
    } else {
        tr.private(node, 1, b)
    };
    let r = tr.emit(at, out, make(x.clone(), y.clone()))?;
    if let Some(mut l) = bias_of {
        if once {
            l.bias = tr.weights.iter().position(|w| w.name == y);
            tr.linear.insert(r.clone(), l);
        }
    }
    tr.set(out, Val::Private(r));
    Ok(())
}

fn gemm(tr: &mut Tr, at: &str, node: &NodeProto, attrs: &Attrs, out: &str) -> Result<(), Refusal> {
    attrs.only(&["alpha", "beta", "transA", "transB"])?;
    let alpha = attrs.float("alpha", 1.0) as f64;
    let beta = attrs.float("beta", 1.0) as f64;
    let a = tr.input(at, node, 0)?;
    let b = tr.input(at, node, 1)?;
    let c = tr.optional_input(at, node, 2)?;
    let Val::Private(mut x) = a else {
        return Err(refuse(
            at,
            "its first operand is a constant",
            "export the layer with the data as Gemm's first input (x @ W^T)",
        ));
    };
    if tr.shape(&x).len() != 2 {
        return Err(refuse(
            at,
            format!("its input has shape {:?}, not 2-D", tr.shape(&x)),
            "flatten before the Gemm (Flatten axis 1)",
        ));
    }
    if attrs.int("transA", 0) != 0 {
        x = tr.emit(at, &format!("{out}_xt"), Op::Transpose(x))?;
    }
    let (w, linear) = match b {
        Val::Const { d, public } => {
            if d.shape.len() != 2 {
                return Err(refuse(
                    at,
                    format!("its weight has shape {:?}, not 2-D", d.shape),
                    "export a 2-D weight",
                ));
            }
            let mut r = real(&d);
            if attrs.int("transB", 0) != 0 {
                r = r.t().as_standard_layout().to_owned();
            }
            r.mapv_inplace(|v| v * alpha);
            let origin = format!(
                "`{}`{}{}",
                node.input[1],
                if attrs.int("transB", 0) != 0 {
                    " transposed"
                } else {
                    ""
                },
                if alpha != 1.0 {
                    format!(" × alpha {alpha}")
                } else {
                    String::new()
                }
            );
            let owner = if public { Owner::Public } else { Owner::Model };
            let idx = tr.add_weight(&node.input[1], dense(&r), owner, origin);
            (tr.weights[idx].name.clone(), Some(idx))
        }
        Val::Private(n) => {
            if alpha != 1.0 {
                return Err(refuse(
                    at,
                    "alpha ≠ 1 with a private second operand",
                    "fold alpha into a weight before exporting",
                ));
            }
            let n = if attrs.int("transB", 0) != 0 {
                tr.emit(at, &format!("{out}_wt"), Op::Transpose(n))?
            } else {
                n
            };
            (n, None)
        }
    };
    let mm = tr.emit(at, &format!("{out}_mm"), Op::MatMul(x, w))?;
    let cols = tr.shape(&mm)[1];
    let mut bias = None;
    let result = if let Some(c) = c {
        let cn = match c {
            Val::Const { d, public } => {
                let mut d = d;
                d.values.iter_mut().for_each(|v| *v *= beta);
                let vector = d.values.len() == cols && d.shape.last() == Some(&cols);
                if vector {
                    d.shape = vec![cols];
                }
                let owner = if public { Owner::Public } else { Owner::Model };
                let idx = tr.add_weight(&node.input[2], d, owner, format!("`{}`", node.input[2]));
                if vector {
                    bias = Some(idx);
                }
                tr.weights[idx].name.clone()
            }
            Val::Private(n) => {
                if beta != 1.0 {
                    return Err(refuse(
                        at,
                        "beta ≠ 1 with a private bias",
                        "fold beta into the bias before exporting",
                    ));
                }
                n
            }
        };
        tr.emit(at, out, Op::Add(mm, cn))?
    } else {
        // The MatMul is the result: give it the node's name.
        rename_last(tr, out)
    };
    if let Some(weight) = linear {
        tr.linear.insert(
            result.clone(),
            Linear {
                weight,
                axis: 1,
                bias,
                conv: false,
            },
        );
    }
    tr.set(out, Val::Private(result));
    Ok(())
}

/// Renames the last statement (just emitted as `<out>_…`) to the node's output name; the new name.
fn rename_last(tr: &mut Tr, out: &str) -> String {
    let (old, _) = tr.program.last().expect("a statement").clone();
    tr.used.remove(&old);
    let new = tr.fresh(out);
    let shape = tr.shapes.remove(&old).expect("its shape");
    tr.shapes.insert(new.clone(), shape);
    tr.program.last_mut().expect("a statement").0 = new.clone();
    new
}

fn matmul(tr: &mut Tr, at: &str, node: &NodeProto, out: &str) -> Result<(), Refusal> {
    let a = tr.input(at, node, 0)?;
    let b = tr.input(at, node, 1)?;
    let (sa, sb) = (shape_of(tr, &a), shape_of(tr, &b));
    if sa.len() != 2 || sb.len() != 2 {
        return Err(refuse(
            at,
            format!("operands of shapes {sa:?} and {sb:?}: the program's MatMul is 2-D"),
            "flatten to [batch, features] before the MatMul",
        ));
    }
    if let (Val::Const { d: da, public: pa }, Val::Const { d: db, public: pb }) = (&a, &b) {
        let r = fold_const(at, &Op::MatMul(String::new(), String::new()), &[da, db])?;
        tr.set(
            out,
            Val::Const {
                d: r,
                public: *pa && *pb,
            },
        );
        return Ok(());
    }
    let weight = match &b {
        Val::Const { d, public } => {
            let owner = if *public { Owner::Public } else { Owner::Model };
            Some(tr.add_weight(
                &node.input[1],
                d.clone(),
                owner,
                format!("`{}`", node.input[1]),
            ))
        }
        Val::Private(_) => None,
    };
    let x = tr.private(node, 0, a);
    let w = match weight {
        Some(idx) => tr.weights[idx].name.clone(),
        None => tr.private(node, 1, b),
    };
    let r = tr.emit(at, out, Op::MatMul(x, w))?;
    if let Some(weight) = weight {
        tr.linear.insert(
            r.clone(),
            Linear {
                weight,
                axis: 1,
                bias: None,
                conv: false,
            },
        );
    }
    tr.set(out, Val::Private(r));
    Ok(())
}

/// Symmetric padding from ONNX `pads` / `auto_pad`, or a refusal.
fn symmetric_pad(
    at: &str,
    attrs: &Attrs,
    hw: (usize, usize),
    k: (usize, usize),
    stride: usize,
) -> Result<usize, Refusal> {
    let auto = attrs.string("auto_pad", "NOTSET");
    match auto.as_str() {
        "NOTSET" | "" => {
            let pads = attrs
                .ints("pads")
                .map(<[i64]>::to_vec)
                .unwrap_or(vec![0; 4]);
            if pads.len() != 4 || pads.iter().any(|&p| p != pads[0]) || pads[0] < 0 {
                return Err(refuse(
                    at,
                    format!("pads {pads:?} are not the same on every side: the program pads every side alike"),
                    "export with symmetric padding (e.g. padding=1 for a 3×3 kernel), or pad the input beforehand",
                ));
            }
            Ok(pads[0] as usize)
        }
        "VALID" => Ok(0),
        "SAME_UPPER" | "SAME_LOWER" => {
            let total = |n: usize, k: usize| {
                let out = n.div_ceil(stride);
                ((out - 1) * stride + k).saturating_sub(n)
            };
            let (th, tw) = (total(hw.0, k.0), total(hw.1, k.1));
            if th != tw || th % 2 != 0 {
                return Err(refuse(
                    at,
                    format!("auto_pad {auto} needs {th} rows and {tw} columns of padding, not the same on every side"),
                    "export with explicit symmetric pads",
                ));
            }
            Ok(th / 2)
        }
        other => Err(refuse(
            at,
            format!("auto_pad `{other}` is unknown"),
            "export with explicit pads",
        )),
    }
}

fn square_stride(at: &str, attrs: &Attrs) -> Result<usize, Refusal> {
    let strides = attrs
        .ints("strides")
        .map(<[i64]>::to_vec)
        .unwrap_or(vec![1, 1]);
    if strides.len() != 2 || strides[0] != strides[1] || strides[0] < 1 {
        return Err(refuse(
            at,
            format!("strides {strides:?}: the program takes one stride ≥ 1 for both directions"),
            "export with equal strides",
        ));
    }
    if let Some(d) = attrs.ints("dilations") {
        if d.iter().any(|&v| v != 1) {
            return Err(refuse(
                at,
                format!("dilations {d:?} are not supported"),
                "export without dilation",
            ));
        }
    }
    Ok(strides[0] as usize)
}

fn conv(tr: &mut Tr, at: &str, node: &NodeProto, attrs: &Attrs, out: &str) -> Result<(), Refusal> {
    attrs.only(&[
        "auto_pad",
        "dilations",
        "group",
        "kernel_shape",
        "pads",
        "strides",
    ])?;
    if attrs.int("group", 1) != 1 {
        return Err(refuse(
            at,
            format!(
                "group {} (grouped or depthwise convolution) is not supported",
                attrs.int("group", 1)
            ),
            "export with groups=1",
        ));
    }
    let x = tr.input(at, node, 0)?;
    let w = tr.input(at, node, 1)?;
    let bias = tr.optional_input(at, node, 2)?;
    let Val::Private(xn) = x else {
        return Err(refuse(
            at,
            "its input is a constant",
            "export a model whose convolution reads the data",
        ));
    };
    let xs = tr.shape(&xn).to_vec();
    let ws = shape_of(tr, &w);
    if xs.len() != 4 || ws.len() != 4 {
        return Err(refuse(
            at,
            format!("input {xs:?} and filters {ws:?}: only 2-D convolutions (NCHW input, 4-D filters) are supported"),
            "export a Conv2d (a Conv1d can be exported as a Conv2d with height 1)",
        ));
    }
    if let Some(k) = attrs.ints("kernel_shape") {
        if k != [ws[2] as i64, ws[3] as i64] {
            return Err(refuse(
                at,
                format!(
                    "kernel_shape {k:?} differs from the filters' {:?}",
                    &ws[2..]
                ),
                "export the model again",
            ));
        }
    }
    let stride = square_stride(at, attrs)?;
    let padding = symmetric_pad(at, attrs, (xs[2], xs[3]), (ws[2], ws[3]), stride)?;
    let (wn, weight) = match w {
        Val::Const { d, public } => {
            let owner = if public { Owner::Public } else { Owner::Model };
            let idx = tr.add_weight(&node.input[1], d, owner, format!("`{}`", node.input[1]));
            (tr.weights[idx].name.clone(), Some(idx))
        }
        Val::Private(n) => (n, None),
    };
    let op = Op::Conv2d {
        input: xn,
        filters: wn,
        stride,
        padding,
    };
    let c = tr.emit(at, &format!("{out}_conv"), op)?;
    let channels = ws[0];
    let mut bias_idx = None;
    let result = match bias {
        Some(Val::Const { d, public }) => {
            if d.values.len() != channels {
                return Err(refuse(
                    at,
                    format!(
                        "its bias has {} values for {channels} filters",
                        d.values.len()
                    ),
                    "export the model again",
                ));
            }
            let owner = if public { Owner::Public } else { Owner::Model };
            let idx = tr.add_weight(
                &node.input[2],
                Dense {
                    shape: vec![channels, 1, 1],
                    values: d.values,
                },
                owner,
                format!("`{}` as [C, 1, 1]", node.input[2]),
            );
            bias_idx = Some(idx);
            let bn = tr.weights[idx].name.clone();
            tr.emit(at, out, Op::Add(c, bn))?
        }
        Some(Val::Private(_)) => {
            return Err(refuse(
                at,
                "its bias is computed from the input",
                "export the bias as an initialiser",
            ));
        }
        None => rename_last(tr, out),
    };
    if let Some(weight) = weight {
        tr.linear.insert(
            result.clone(),
            Linear {
                weight,
                axis: 0,
                bias: bias_idx,
                conv: true,
            },
        );
    }
    tr.set(out, Val::Private(result));
    Ok(())
}

fn pool(tr: &mut Tr, at: &str, node: &NodeProto, attrs: &Attrs, out: &str) -> Result<(), Refusal> {
    let max = node.op_type == "MaxPool";
    attrs.only(&[
        "auto_pad",
        "ceil_mode",
        "count_include_pad",
        "dilations",
        "kernel_shape",
        "pads",
        "storage_order",
        "strides",
    ])?;
    let (xn, xs) = pool_input(tr, at, node)?;
    let k = attrs
        .ints("kernel_shape")
        .map(<[i64]>::to_vec)
        .unwrap_or_default();
    if k.len() != 2 || k[0] != k[1] || k[0] < 1 {
        return Err(refuse(
            at,
            format!("kernel_shape {k:?}: the program pools square windows"),
            "export a square pooling window",
        ));
    }
    let kernel = k[0] as usize;
    let stride = square_stride(at, attrs)?;
    let pad = symmetric_pad(at, attrs, (xs[2], xs[3]), (kernel, kernel), stride)?;
    if pad != 0 {
        return Err(refuse(
            at,
            format!("padding {pad}: the program's pooling has no padding"),
            "export the pooling without padding",
        ));
    }
    let tiles = |n: usize| n >= kernel && (n - kernel).is_multiple_of(stride);
    if attrs.int("ceil_mode", 0) != 0 && !(tiles(xs[2]) && tiles(xs[3])) {
        return Err(refuse(
            at,
            "ceil_mode 1 with windows that do not tile the input",
            "export with ceil_mode=False",
        ));
    }
    let op = if max {
        Op::MaxPool2d {
            input: xn,
            kernel,
            stride: Some(stride),
        }
    } else {
        Op::AvgPool2d {
            input: xn,
            kernel,
            stride: Some(stride),
        }
    };
    let r = tr.emit(at, out, op)?;
    tr.set(out, Val::Private(r));
    Ok(())
}

/// A pooling node's input: a private NCHW value (its name and shape), else why not.
fn pool_input(tr: &mut Tr, at: &str, node: &NodeProto) -> Result<(String, Vec<usize>), Refusal> {
    let Val::Private(xn) = tr.input(at, node, 0)? else {
        return Err(refuse(
            at,
            "its input is a constant",
            "export a model whose pooling reads the data",
        ));
    };
    let xs = tr.shape(&xn).to_vec();
    if xs.len() != 4 {
        return Err(refuse(
            at,
            format!("input {xs:?} is not NCHW"),
            "export 2-D pooling",
        ));
    }
    Ok((xn, xs))
}

fn global_avg(tr: &mut Tr, at: &str, node: &NodeProto, out: &str) -> Result<(), Refusal> {
    let (xn, xs) = pool_input(tr, at, node)?;
    let r = if xs[2] == xs[3] {
        tr.emit(
            at,
            out,
            Op::AvgPool2d {
                input: xn,
                kernel: xs[2],
                stride: Some(xs[2]),
            },
        )?
    } else {
        // Sum the rows and columns, scale by the public 1/(H·W), restore [N, C, 1, 1].
        let s3 = tr.emit(
            at,
            &format!("{out}_sumw"),
            Op::ReduceSum {
                input: xn,
                axis: Some(3),
            },
        )?;
        let s2 = tr.emit(
            at,
            &format!("{out}_sumhw"),
            Op::ReduceSum {
                input: s3,
                axis: Some(2),
            },
        )?;
        let inv = Dense {
            shape: vec![1],
            values: vec![1.0 / (xs[2] * xs[3]) as f64],
        };
        let idx = tr.add_weight(
            &format!("{out}_inv_hw"),
            inv,
            Owner::Public,
            format!("1/({}·{})", xs[2], xs[3]),
        );
        let inv = tr.weights[idx].name.clone();
        let m = tr.emit(at, &format!("{out}_mean"), Op::Mul(s2, inv))?;
        tr.emit(
            at,
            out,
            Op::Reshape {
                input: m,
                shape: vec![xs[0], xs[1], 1, 1],
            },
        )?
    };
    tr.set(out, Val::Private(r));
    Ok(())
}

/// ONNX Reshape's target: 0 copies the input's dimension (unless allowzero), -1 is inferred.
fn reshape_target(
    at: &str,
    shape: &[usize],
    spec: &[i64],
    allowzero: bool,
) -> Result<Vec<usize>, Refusal> {
    let total: usize = shape.iter().product();
    let mut out = Vec::with_capacity(spec.len());
    let mut infer = None;
    for (i, &d) in spec.iter().enumerate() {
        match d {
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            0 if !allowzero => match shape.get(i) {
                Some(&s) => out.push(s),
                None => {
                    return Err(refuse(
                        at,
                        format!(
                            "target {spec:?} copies dimension {i}, which the input {shape:?} lacks"
                        ),
                        "export the model again",
                    ))
                }
            },
            d if d >= 1 => out.push(d as usize),
            _ => {
                return Err(refuse(
                    at,
                    format!("target shape {spec:?} is not supported"),
                    "export a target with sizes ≥ 1 and at most one -1",
                ))
            }
        }
    }
    let Some(known) = out.iter().try_fold(1usize, |a, &d| a.checked_mul(d)) else {
        return Err(refuse(
            at,
            format!("target shape {spec:?} has more elements than fit in memory"),
            "export the model again",
        ));
    };
    if let Some(i) = infer {
        if known == 0 || !total.is_multiple_of(known) {
            return Err(refuse(at, format!("cannot reshape {shape:?} to {spec:?}"), "fix the batch size with --batch to the one the model was exported with, or export with -1 for the batch"));
        }
        out[i] = total / known;
    }
    if out.iter().try_fold(1usize, |a, &d| a.checked_mul(d)) != Some(total) {
        return Err(refuse(
            at,
            format!("cannot reshape {shape:?} ({total} elements) to {out:?}: the target fixes a size (often the batch)"),
            "fix the batch size with --batch to the one the model was exported with, or export the Reshape with -1 for the batch",
        ));
    }
    Ok(out)
}

fn reshape_to(
    tr: &mut Tr,
    at: &str,
    node: &NodeProto,
    x: Val,
    target: Vec<usize>,
    out: &str,
    flatten: bool,
) -> Result<(), Refusal> {
    let _ = node;
    match x {
        Val::Const { mut d, public } => {
            d.shape = target;
            tr.set(out, Val::Const { d, public });
        }
        Val::Private(n) => {
            if tr.shape(&n) == target.as_slice() {
                tr.set(out, Val::Private(n));
                return Ok(());
            }
            let op = if flatten {
                Op::Flatten(n)
            } else {
                Op::Reshape {
                    input: n,
                    shape: target,
                }
            };
            let r = tr.emit(at, out, op)?;
            tr.set(out, Val::Private(r));
        }
    }
    Ok(())
}

/// A constant value of the translation, for `fold.rs`.
pub(super) fn const_input(
    tr: &Tr,
    at: &str,
    node: &NodeProto,
    i: usize,
    what: &str,
) -> Result<Dense, Refusal> {
    match tr.input(at, node, i)? {
        Val::Const { d, .. } => Ok(d),
        Val::Private(_) => Err(refuse(
            at,
            format!("its {what} is computed from the input"),
            "export the statistics as initialisers (inference mode)",
        )),
    }
}

/// The private first input of `node`, for `fold.rs`.
pub(super) fn private_input(
    tr: &Tr,
    at: &str,
    node: &NodeProto,
) -> Result<Option<String>, Refusal> {
    Ok(match tr.input(at, node, 0)? {
        Val::Private(n) => Some(n),
        Val::Const { .. } => None,
    })
}

/// Sets a node's output to a private value, for `fold.rs`.
pub(super) fn set_private(tr: &mut Tr, out: &str, name: String) {
    tr.set(out, Val::Private(name));
}

/// How many times the model reads a program value (under any of its ONNX names: Identity and
/// Dropout alias them), graph outputs included. 1 means only the node at hand reads it.
pub(super) fn value_uses(tr: &Tr, name: &str) -> usize {
    tr.vals
        .iter()
        .filter(|(_, v)| matches!(v, Val::Private(n) if n == name))
        .map(|(onnx_name, _)| tr.uses(onnx_name))
        .sum()
}
