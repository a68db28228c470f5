//! Semantic validation: names, roles, shapes and data, all checked before anything runs.

use super::format::*;
use super::Source;
use crate::error::ScenarioError;
use ndarray::{ArrayD, IxDyn};
use protocols::context::PartyId;
use protocols::pond::Placement;
use protocols::program::{infer_shape, Op};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::collections::HashMap;

/// An input with its data loaded.
#[derive(Debug, Clone)]
pub struct PlannedInput {
    /// Value name.
    pub name: String,
    /// Owner party, or `None` for a public constant.
    pub owner: Option<PartyId>,
    /// Real values.
    pub values: ArrayD<f64>,
}

/// One entry of the run's op sequence, as the trace shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum PlannedOp {
    /// An input provider shares an input (public inputs need no op).
    Input {
        /// Value name.
        name: String,
        /// Owner party.
        owner: PartyId,
    },
    /// A program statement.
    Compute {
        /// Result name.
        name: String,
        /// The op.
        op: Op,
    },
    /// An output revealed to a receiver.
    Output {
        /// Value name.
        name: String,
        /// Receiver party.
        to: PartyId,
    },
}

impl PlannedOp {
    /// The name shown for this op.
    pub fn label(&self) -> String {
        match self {
            PlannedOp::Input { name, .. } => format!("input {name}"),
            PlannedOp::Compute { name, .. } => name.clone(),
            PlannedOp::Output { name, .. } => format!("output {name}"),
        }
    }
    /// The op kind (`input`, `output` or the program op's kind).
    pub fn kind(&self) -> &'static str {
        match self {
            PlannedOp::Input { .. } => "input",
            PlannedOp::Compute { op, .. } => op.kind(),
            PlannedOp::Output { .. } => "output",
        }
    }
    /// Names of the values the op reads.
    pub fn operands(&self) -> Vec<String> {
        match self {
            PlannedOp::Input { .. } => vec![],
            PlannedOp::Compute { op, .. } => op.operands().iter().map(|s| s.to_string()).collect(),
            PlannedOp::Output { name, .. } => vec![name.clone()],
        }
    }
}

/// A validated scenario, resolved into what the simulator runs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The scenario as written.
    pub scenario: Scenario,
    /// Where it came from.
    pub source_name: String,
    /// Party names; the index is the [`PartyId`].
    pub parties: Vec<String>,
    /// Pond seats.
    pub placement: Placement,
    /// Inputs with data.
    pub inputs: Vec<PlannedInput>,
    /// The op sequence: input sharing, program, outputs.
    pub ops: Vec<PlannedOp>,
    /// Shape of every value.
    pub shapes: HashMap<String, Vec<usize>>,
    /// Whether each value is public.
    pub public: HashMap<String, bool>,
    /// Resolved link model, `links[from][to]`.
    pub links: Vec<Vec<LinkConfig>>,
}

const OP_KINDS: &[&str] = &[
    "input",
    "output",
    "add",
    "sub",
    "neg",
    "mul",
    "square",
    "matmul",
    "conv2d",
    "avgpool2d",
    "maxpool2d",
    "reduce_sum",
    "transpose",
    "reshape",
    "flatten",
    "sigmoid",
    "tanh",
    "relu",
    "reveal",
];

impl Plan {
    /// Validates `scenario` (read from `source`) and resolves it.
    pub fn new(source: &Source, scenario: Scenario) -> Result<Plan, ScenarioError> {
        let err = |anchors: &[&str], msg: String, hint: &str| source.error_near(anchors, msg, hint);
        let q = |s: &str| format!("\"{s}\"");

        if let Err(m) = scenario.fixed_point.validate() {
            return Err(err(
                &["fixed_point"],
                m,
                "tf-encrypted's 64-bit preset is frac_bits: 16, int_bits: 11, gap_bits: 20",
            ));
        }

        // Parties: the three Pond seats, then input providers, then output receivers.
        let r = &scenario.roles;
        let mut parties = vec![r.server0.clone(), r.server1.clone(), r.producer.clone()];
        for p in r.input_providers.iter().chain(&r.output_receivers) {
            if !parties.contains(p) {
                parties.push(p.clone());
            }
        }
        let mut seen = std::collections::HashSet::new();
        for p in [&r.server0, &r.server1, &r.producer] {
            if !seen.insert(p) {
                return Err(err(
                    &["roles", &q(p)],
                    format!("party `{p}` holds two Pond seats"),
                    "server0, server1 and producer must be three different parties",
                ));
            }
        }
        for p in &parties {
            if p.is_empty() || p == "public" {
                return Err(err(
                    &["roles", &q(p)],
                    format!("`{p}` cannot be a party name"),
                    "\"public\" is reserved for public inputs; names must be non-empty",
                ));
            }
        }
        let party = |n: &str| parties.iter().position(|p| p == n);

        // Inputs.
        let mut shapes: HashMap<String, Vec<usize>> = HashMap::new();
        let mut public: HashMap<String, bool> = HashMap::new();
        let mut inputs = Vec::new();
        let mut ops = Vec::new();
        for (idx, inp) in scenario.inputs.iter().enumerate() {
            let at = ["inputs", &format!("name: {}", q(&inp.name))];
            if shapes.contains_key(&inp.name) {
                return Err(err(
                    &at,
                    format!("input `{}` is defined twice", inp.name),
                    "give every value a unique name",
                ));
            }
            let owner = if inp.owner == "public" {
                None
            } else if r.input_providers.contains(&inp.owner) {
                party(&inp.owner)
            } else {
                return Err(err(
                    &[&at[..], &[&q(&inp.owner)]].concat(),
                    format!("input `{}` is owned by `{}`, which is not an input provider", inp.name, inp.owner),
                    &format!("add \"{}\" to roles.input_providers, or use owner: \"public\" for a constant", inp.owner),
                ));
            };
            if inp.shape.is_empty() || inp.shape.contains(&0) {
                return Err(err(
                    &[&at[..], &["shape"]].concat(),
                    format!("input `{}` has shape {:?}", inp.name, inp.shape),
                    "shapes are non-empty lists of positive sizes, e.g. [2, 3]",
                ));
            }
            let n: usize = inp.shape.iter().product();
            let values: Vec<f64> = match &inp.data {
                Data::Values(v) => {
                    if v.len() != n {
                        return Err(err(
                            &[&at[..], &["Values"]].concat(),
                            format!(
                                "input `{}` has {} values but shape {:?} needs {n}",
                                inp.name,
                                v.len(),
                                inp.shape
                            ),
                            "list exactly one value per element, row-major",
                        ));
                    }
                    v.clone()
                }
                Data::Random(d) => {
                    let mut rng = ChaCha20Rng::seed_from_u64(
                        scenario.seed
                            ^ 0x5eed_da7a
                            ^ (idx as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                    );
                    match *d {
                        Distribution::Uniform(lo, hi)
                            if lo < hi && lo.is_finite() && hi.is_finite() =>
                        {
                            (0..n)
                                .map(|_| lo + (hi - lo) * rand::Rng::gen::<f64>(&mut rng))
                                .collect()
                        }
                        Distribution::Normal(m, s)
                            if s >= 0.0 && m.is_finite() && s.is_finite() =>
                        {
                            (0..n)
                                .map(|_| {
                                    // Box–Muller.
                                    let u1: f64 = 1.0 - rand::Rng::gen::<f64>(&mut rng);
                                    let u2: f64 = rand::Rng::gen(&mut rng);
                                    m + s
                                        * (-2.0 * u1.ln()).sqrt()
                                        * (2.0 * std::f64::consts::PI * u2).cos()
                                })
                                .collect()
                        }
                        _ => {
                            return Err(err(&[&at[..], &["Random"]].concat(), format!("input `{}` has an invalid distribution {d:?}", inp.name), "Uniform(low, high) needs low < high; Normal(mean, std) needs std ≥ 0"));
                        }
                    }
                }
                Data::Npy(path) => {
                    let full = source.dir.join(path);
                    let arr = crate::npy::read_npy(&full).map_err(|m| err(&[&at[..], &[&q(path)]].concat(), format!("input `{}`: {m}", inp.name), "export the array with numpy.save(path, array.astype(numpy.float64)); paths are relative to the scenario file"))?;
                    if arr.values.len() != n {
                        return Err(err(&[&at[..], &[&q(path)]].concat(), format!("input `{}`: {} holds shape {:?} but the scenario says {:?}", inp.name, path, arr.shape, inp.shape), "make the scenario's shape match the file (a reshape with the same element count is fine)"));
                    }
                    arr.values
                }
            };
            if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
                return Err(err(
                    &at,
                    format!("input `{}` contains {bad}", inp.name),
                    "inputs must be finite numbers",
                ));
            }
            shapes.insert(inp.name.clone(), inp.shape.clone());
            public.insert(inp.name.clone(), owner.is_none());
            if let Some(o) = owner {
                ops.push(PlannedOp::Input {
                    name: inp.name.clone(),
                    owner: o,
                });
            }
            inputs.push(PlannedInput {
                name: inp.name.clone(),
                owner,
                values: ArrayD::from_shape_vec(IxDyn(&inp.shape), values).expect("checked length"),
            });
        }

        // Program.
        for st in &scenario.program {
            let at = ["program", &format!("name: {}", q(&st.name))];
            if shapes.contains_key(&st.name) {
                return Err(err(
                    &at,
                    format!("`{}` is defined twice", st.name),
                    "the program is in SSA form: every statement needs a new name",
                ));
            }
            let mut arg_shapes = Vec::new();
            for o in st.op.operands() {
                match shapes.get(o) {
                    Some(s) => arg_shapes.push(s.as_slice()),
                    None => {
                        let known: Vec<&str> = shapes.keys().map(String::as_str).collect();
                        let close = known
                            .iter()
                            .find(|k| edit_distance(k, o) <= 2)
                            .map(|k| format!(" (did you mean `{k}`?)"))
                            .unwrap_or_default();
                        return Err(err(
                            &[&at[..], &[&q(o)]].concat(),
                            format!(
                                "`{}` uses `{o}`, which is not defined before it{close}",
                                st.name
                            ),
                            "operands must name an input or an earlier statement",
                        ));
                    }
                }
            }
            if matches!(st.op, Op::MaxPool2d { .. }) && scenario.protocol == ProtocolKind::Pond {
                return Err(err(
                    &[&at[..], &["MaxPool2d"]].concat(),
                    format!("`{}`: Pond has no exact max pool", st.name),
                    "use AvgPool2d, or the securenn protocol",
                ));
            }
            let shape = infer_shape(&st.op, &arg_shapes).map_err(|m| {
                err(
                    &at,
                    format!("`{}`: {m}", st.name),
                    "fix the operand shapes; `sharescope check` prints every value's shape",
                )
            })?;
            let all_public = st.op.operands().iter().all(|o| public[*o]);
            let is_public = matches!(st.op, Op::Reveal(_)) || all_public;
            shapes.insert(st.name.clone(), shape);
            public.insert(st.name.clone(), is_public);
            ops.push(PlannedOp::Compute {
                name: st.name.clone(),
                op: st.op.clone(),
            });
        }

        // Outputs.
        for out in &scenario.outputs {
            let at = ["outputs", &format!("name: {}", q(&out.name))];
            if !shapes.contains_key(&out.name) {
                return Err(err(
                    &at,
                    format!("output `{}` is not a value of the program", out.name),
                    "name an input or a program statement",
                ));
            }
            if !r.output_receivers.contains(&out.to) {
                return Err(err(
                    &[&at[..], &[&q(&out.to)]].concat(),
                    format!(
                        "output `{}` goes to `{}`, which is not an output receiver",
                        out.name, out.to
                    ),
                    &format!("add \"{}\" to roles.output_receivers", out.to),
                ));
            }
            ops.push(PlannedOp::Output {
                name: out.name.clone(),
                to: party(&out.to).expect("receiver is a party"),
            });
        }

        // Network.
        let n = parties.len();
        let mut links = vec![vec![scenario.network.default; n]; n];
        for l in &scenario.network.links {
            let at = ["links", &format!("from: {}", q(&l.from))];
            let (Some(a), Some(b)) = (party(&l.from), party(&l.to)) else {
                let bad = if party(&l.from).is_none() {
                    &l.from
                } else {
                    &l.to
                };
                return Err(err(
                    &[&at[..], &[&q(bad)]].concat(),
                    format!("link names unknown party `{bad}`"),
                    &format!("parties are: {}", parties.join(", ")),
                ));
            };
            if a == b {
                return Err(err(
                    &at,
                    format!("link from `{}` to itself", l.from),
                    "links join two different parties",
                ));
            }
            let pairs = if l.both_ways {
                vec![(a, b), (b, a)]
            } else {
                vec![(a, b)]
            };
            for (x, y) in pairs {
                let link = &mut links[x][y];
                if let Some(v) = l.latency_us {
                    link.latency_us = v;
                }
                if let Some(v) = l.jitter_us {
                    link.jitter_us = v;
                }
                if let Some(v) = l.bandwidth_bps {
                    link.bandwidth_bps = v;
                }
                if let Some(v) = l.state {
                    link.state = v;
                }
            }
        }
        if let Timing::Model { ns_per_ring_op } = scenario.timing {
            if !(ns_per_ring_op.is_finite() && ns_per_ring_op >= 0.0) {
                return Err(err(
                    &["timing"],
                    format!("ns_per_ring_op = {ns_per_ring_op} is not a non-negative number"),
                    "use e.g. Model(ns_per_ring_op: 1.0)",
                ));
            }
        }

        // Breakpoints.
        for b in &scenario.breakpoints {
            match b {
                BreakpointSpec::Op(name) if !ops.iter().any(|o| o.label() == *name) => {
                    return Err(err(
                        &["breakpoints", &q(name)],
                        format!("breakpoint on unknown op `{name}`"),
                        "name a program statement, `input x` or `output y`",
                    ));
                }
                BreakpointSpec::Kind(k) if !OP_KINDS.contains(&k.as_str()) => {
                    return Err(err(
                        &["breakpoints", &q(k)],
                        format!("unknown op kind `{k}`"),
                        &format!("kinds are: {}", OP_KINDS.join(", ")),
                    ));
                }
                _ => {}
            }
        }

        // Faults.
        for f in &scenario.faults {
            if party(&f.party).is_none() {
                return Err(err(
                    &["faults", &q(&f.party)],
                    format!("fault names unknown party `{}`", f.party),
                    &format!("parties are: {}", parties.join(", ")),
                ));
            }
            if !ops.iter().any(|o| o.label() == f.op) {
                return Err(err(
                    &["faults", &q(&f.op)],
                    format!("fault names unknown op `{}`", f.op),
                    "name a program statement, `input x` or `output y`",
                ));
            }
        }

        Ok(Plan {
            placement: Placement {
                server0: 0,
                server1: 1,
                producer: 2,
            },
            source_name: source.name.clone(),
            scenario,
            parties,
            inputs,
            ops,
            shapes,
            public,
            links,
        })
    }
}

/// Levenshtein distance, for "did you mean" hints.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}
