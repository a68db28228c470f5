//! Semantic validation: names, roles, shapes and data, all checked before anything runs.

use super::format::*;
use super::PathSeg::{self, Field as F, Item as I};
use super::Source;
use crate::error::ScenarioError;
use crate::memory::{gib, MemoryBudget, Site};
use ndarray::{ArrayD, IxDyn};
use protocols::context::PartyId;
use protocols::fixed::MIN_STATISTICAL_SECURITY;
use protocols::program::{infer_shape, Op};
use std::collections::HashMap;

/// A validated input. Its data is not held: [`PlannedInput::values`] produces it when a run
/// starts (validation checks it without keeping it), so `check` allocates no input data and a
/// plan is cheap to clone.
#[derive(Debug, Clone)]
pub struct PlannedInput {
    /// Value name.
    pub name: String,
    /// Owner party, or `None` for a public constant.
    pub owner: Option<PartyId>,
    /// Shape.
    pub shape: Vec<usize>,
    /// Where the values come from.
    pub data: InputData,
}

/// Where a validated input's values come from.
#[derive(Debug, Clone)]
pub enum InputData {
    /// Inline values (checked finite, one per element).
    Values(std::sync::Arc<Vec<f64>>),
    /// Seeded random values: `distribution` drawn from a ChaCha20 stream seeded with `seed`
    /// (derived at validation from the scenario's seed and the input's position, so the data
    /// does not depend on when it is drawn).
    Random {
        /// The distribution (checked: every draw is finite).
        distribution: Distribution,
        /// The stream's seed.
        seed: u64,
    },
    /// A `.npy` file (its header, length and values checked at validation; read again, and
    /// checked again, when the run starts).
    Npy(std::path::PathBuf),
}

impl PlannedInput {
    /// The input's values (generated or read now). An error only if a `.npy` file changed
    /// since validation.
    pub fn values(&self) -> Result<ArrayD<f64>, String> {
        let n = protocols::tensor::numel(&self.shape);
        let values = match &self.data {
            InputData::Values(v) => v.as_ref().clone(),
            InputData::Random { distribution, seed } => random_values(*distribution, *seed, n),
            InputData::Npy(path) => {
                let changed = |m: String| {
                    format!(
                        "input `{}`: {m} (the file changed since it was validated)",
                        self.name
                    )
                };
                let file = crate::npy::NpyFile::open(path).map_err(changed)?;
                if file.header.len != n {
                    return Err(changed(format!(
                        "{} now holds shape {:?}, not {:?}",
                        path.display(),
                        file.header.shape,
                        self.shape
                    )));
                }
                let v = file.read().map_err(changed)?.values;
                if let Some(bad) = v.iter().find(|v| !v.is_finite()) {
                    return Err(changed(format!("{} now contains {bad}", path.display())));
                }
                v
            }
        };
        ArrayD::from_shape_vec(IxDyn(&self.shape), values)
            .map_err(|e| format!("input `{}`: {e}", self.name))
    }
}

/// The seed of input `idx`'s random stream under scenario seed `seed`.
pub(crate) fn random_seed(seed: u64, idx: usize) -> u64 {
    seed ^ 0x5eed_da7a ^ (idx as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Values drawn on two threads from this many on (issue 11: W1's 10⁶ normal draws).
const DRAW_SPLIT_AT: usize = 1 << 17;

/// `n` values of `d` from the AES-CTR stream ([`protocols::prg::AesCtrPrg`]) whose 32-byte seed
/// is [`protocols::prg::derived_seed`]`(seed, 0)`. Value i reads the stream's bytes 8i..8i + 8
/// as a little-endian u64 and turns its top 53 bits into u ∈ [0, 1) (`(w >> 11)·2⁻⁵³`, what
/// `rand`'s `gen::<f64>` does). Uniform: lo + (hi − lo)·u. Normal: Box–Muller on the pair
/// (2j, 2j + 1): u₁ = 1 − u_{2j} ∈ (0, 1], u₂ = u_{2j+1}, r = √(−2 ln u₁), value 2j is
/// m + s·r·cos 2πu₂ and value 2j + 1 is m + s·r·sin 2πu₂ (both values of the pair, so one
/// logarithm per two draws; an odd n drops the last sine). Since value i starts at byte 8i,
/// from [`DRAW_SPLIT_AT`] values on the second half (from an even index) is drawn on a second
/// thread from its own position of the same stream: the same values, in half the wall time.
pub(crate) fn random_values(d: Distribution, seed: u64, n: usize) -> Vec<f64> {
    let key = protocols::prg::derived_seed(seed, 0);
    let mut out = vec![0f64; n];
    if n < DRAW_SPLIT_AT {
        draw_values(d, key, 0, &mut out);
        return out;
    }
    let half = n / 2 / 2 * 2;
    let (lo, hi) = out.split_at_mut(half);
    std::thread::scope(|s| {
        s.spawn(|| draw_values(d, key, 0, lo));
        draw_values(d, key, half, hi);
    });
    out
}

/// u ∈ [0, 1) from the top 53 bits of `w`.
fn unit(w: u64) -> f64 {
    (w >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Fills `out` with draws `first..first + out.len()` of `d` (`first` even) from the stream of
/// `key` (see [`random_values`]).
fn draw_values(d: Distribution, key: [u8; 32], first: usize, out: &mut [f64]) {
    use rand::RngCore;
    debug_assert_eq!(first % 2, 0);
    let mut rng = protocols::prg::AesCtrPrg::from_seed_at(key, first as u64 * 8);
    match d {
        Distribution::Uniform(lo, hi) => {
            for v in out {
                *v = lo + (hi - lo) * unit(rng.next_u64());
            }
        }
        Distribution::Normal(m, s) => {
            for pair in out.chunks_mut(2) {
                // Box–Muller, both outputs.
                let u1 = 1.0 - unit(rng.next_u64());
                let u2 = unit(rng.next_u64());
                let r = (-2.0 * u1.ln()).sqrt();
                let (sin, cos) = (2.0 * std::f64::consts::PI * u2).sin_cos();
                pair[0] = m + s * r * cos;
                if let Some(v) = pair.get_mut(1) {
                    *v = m + s * r * sin;
                }
            }
        }
    }
}

/// Whether every draw of `d` is finite: uniform needs finite low < high with a finite width;
/// a normal draw is at most √(−2 ln 2^−53) < 8.6 standard deviations from the mean.
pub(crate) fn distribution_is_valid(d: Distribution) -> bool {
    match d {
        Distribution::Uniform(lo, hi) => lo < hi && (hi - lo).is_finite(),
        Distribution::Normal(m, s) => s >= 0.0 && (m.abs() + 8.6 * s).is_finite(),
    }
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
    /// The party in each of the protocol's seats: `seats[k]` sits in `protocol.roles()[k]`.
    pub seats: Vec<PartyId>,
    /// The scenario's source, so a variant of the plan under another protocol (`compare`) can be
    /// validated again.
    pub source: Source,
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
    /// Classification metrics to compute after the run, with the labels loaded.
    pub metrics: Option<PlannedMetrics>,
    /// What the run's report must say although the scenario is valid: dealer truncation below
    /// [`MIN_STATISTICAL_SECURITY`] accepted because `fixed_point` sets `weak_security`.
    pub warnings: Vec<String>,
    /// A training run's iteration this plan is (`None` for every other plan): the shares it
    /// starts from and the values it hands on ([`crate::train::Iteration`]).
    pub training: Option<std::sync::Arc<crate::train::Iteration>>,
    /// The estimated peak memory of a run, bytes ([`crate::memory::estimate`]).
    pub memory: u64,
    /// The budget the estimate was checked against (and that `compare` checks its protocol
    /// variants against).
    pub memory_budget: MemoryBudget,
}

/// Whether `op` truncates a fixed-point product when it runs under `protocol`: an op the
/// protocol says truncates ([`protocols::protocol::Protocol::truncates`]) with at least one
/// private operand (`public` says which values are public). An all-public op is computed exactly.
fn op_truncates(op: &Op, public: &HashMap<String, bool>, protocol: ProtocolKind) -> bool {
    let all_public = op
        .operands()
        .iter()
        .all(|o| public.get(*o).copied().unwrap_or(false));
    !all_public && protocol.truncates(op)
}

impl Plan {
    /// Whether program op `op` truncates a fixed-point product ([`op_truncates`]).
    pub fn truncates(&self, op: &Op) -> bool {
        op_truncates(op, &self.public, self.scenario.protocol)
    }

    /// The protocol the plan runs (the scenario's).
    pub fn protocol(&self) -> &'static dyn protocols::protocol::Protocol {
        self.scenario.protocol.get()
    }

    /// The scenario-wide settings the protocol receives.
    pub fn settings(&self) -> protocols::protocol::Settings {
        self.scenario.settings()
    }

    /// The parties that hold shares (seats whose layout holds at least one share).
    pub fn share_holders(&self) -> Vec<PartyId> {
        let (_, layout) = self.protocol().share_layout();
        self.seats
            .iter()
            .zip(layout)
            .filter(|(_, &n)| n > 0)
            .map(|(&p, _)| p)
            .collect()
    }
}

/// A validated `metrics` section.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedMetrics {
    /// The output whose last axis holds the class scores — or, when `indices`, the classes
    /// themselves (the result of an `Argmax`).
    pub prediction: String,
    /// Number of classes: the size of the prediction's last axis (of the argmax's operand when
    /// `indices`).
    pub classes: usize,
    /// The prediction holds one class index per row (it is an `Argmax`), not scores.
    pub indices: bool,
    /// One true class per row of the prediction.
    pub labels: Vec<usize>,
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
    "argmax",
    "const",
    "slice",
    "pad",
    "concat",
    "mean",
    "greater",
    "less",
    "max",
    "min",
    "abs",
    "sign",
    "where",
    "reciprocal",
    "div",
    "exp",
    "sqrt",
    "inv_sqrt",
    "softmax",
    "log",
    "reduce_max",
    "conv2d_grad_input",
    "conv2d_grad_filters",
    "avgpool2d_grad",
    "maxpool2d_grad",
    "maxpool2d_with_onehot",
    "maxpool2d_grad_onehot",
];

/// Where operand `j` of `op` is written: the j-th item of `Mul("a", "b")`, or the named field of
/// `Conv2d(input: .., filters: ..)`.
fn operand_seg(op: &Op, j: usize) -> PathSeg<'static> {
    match op {
        Op::Conv2d { .. } => F(if j == 0 { "input" } else { "filters" }),
        Op::Conv2dGradInput { .. } => F(if j == 0 { "grad" } else { "filters" }),
        Op::Conv2dGradFilters { .. } => F(if j == 0 { "input" } else { "grad" }),
        Op::AvgPool2dGrad { .. } => F("grad"),
        Op::MaxPool2dGrad { .. } => F(if j == 0 { "grad" } else { "input" }),
        Op::MaxPool2dWithOneHot { .. } => F("input"),
        Op::MaxPool2dGradOneHot { .. } => F(if j == 0 { "grad" } else { "pooled" }),
        Op::AvgPool2d { .. }
        | Op::MaxPool2d { .. }
        | Op::ReduceSum { .. }
        | Op::Reshape { .. }
        | Op::Mean { .. }
        | Op::ReduceMax { .. }
        | Op::Slice { .. }
        | Op::Pad { .. } => F("input"),
        // The list as a whole (a path segment names one level).
        Op::Concat { .. } => F("inputs"),
        _ => I(j),
    }
}

/// Where party name `p` is declared in `roles`.
fn role_path<'a>(r: &'a Roles, p: &str) -> Vec<PathSeg<'a>> {
    if let Some(field) = Roles::FIELDS.iter().find(|f| r.seat(f) == p) {
        return vec![F("roles"), F(field)];
    }
    if let Some(role) = r.seats.iter().find(|(_, q)| *q == p).map(|(k, _)| k) {
        return vec![F("roles"), F("seats"), F(role)];
    }
    if let Some(i) = r.input_providers.iter().position(|x| x == p) {
        return vec![F("roles"), F("input_providers"), I(i)];
    }
    if let Some(i) = r.output_receivers.iter().position(|x| x == p) {
        return vec![F("roles"), F("output_receivers"), I(i)];
    }
    vec![F("roles")]
}

impl Plan {
    /// Validates `scenario` (read from `source`) and resolves it, with the machine's memory
    /// budget ([`MemoryBudget::machine`]).
    pub fn new(source: &Source, scenario: Scenario) -> Result<Plan, ScenarioError> {
        Plan::with_budget(source, scenario, MemoryBudget::machine())
    }

    /// Validates `scenario` (read from `source`) and resolves it; its estimated peak memory
    /// must fit `budget`.
    pub fn with_budget(
        source: &Source,
        scenario: Scenario,
        budget: MemoryBudget,
    ) -> Result<Plan, ScenarioError> {
        let err = |path: &[PathSeg], msg: String, hint: &str| source.error_at_path(path, msg, hint);

        if scenario.training.is_some() {
            return crate::train::plan(source, scenario, budget);
        }
        if let Err(m) = scenario.fixed_point.validate() {
            let field = if m.starts_with("frac_bits") {
                vec![F("fixed_point"), F("frac_bits")]
            } else if m.starts_with("ring_bits") {
                vec![F("fixed_point"), F("ring_bits")]
            } else {
                vec![F("fixed_point")]
            };
            return Err(err(
                &field,
                m,
                "tf-encrypted's 64-bit preset is frac_bits: 16, int_bits: 11, gap_bits: 20; \
                 its 128-bit one ring_bits: 128, frac_bits: 32, int_bits: 20",
            ));
        }

        // Parties: the protocol's seats, then input providers, then output receivers.
        let r = &scenario.roles;
        let protocol = scenario.protocol;
        let roles = protocol.roles();
        for role in r.seats.keys() {
            let at = vec![F("roles"), F("seats"), F(role.as_str())];
            if Roles::FIELDS.contains(&role.as_str()) {
                return Err(err(
                    &at,
                    format!("seat `{role}` is named by its own field"),
                    &format!("write `{role}: \"…\"` in `roles` instead"),
                ));
            }
            if !roles.iter().any(|x| x.name == role) {
                let names: Vec<&str> = roles.iter().map(|x| x.name).collect();
                return Err(err(
                    &at,
                    format!("{} has no seat `{role}`", protocol.name()),
                    &format!("its seats are {}", names.join(", ")),
                ));
            }
        }
        let seats: Vec<(&str, &str)> = roles.iter().map(|x| (x.name, r.seat(x.name))).collect();
        let seat_path = |role: &'static str| -> Vec<PathSeg<'static>> {
            if Roles::FIELDS.contains(&role) {
                vec![F("roles"), F(role)]
            } else {
                vec![F("roles"), F("seats"), F(role)]
            }
        };
        for (i, (seat, p)) in seats.iter().enumerate() {
            if let Some((other, _)) = seats[..i].iter().find(|(_, q)| q == p) {
                let names: Vec<&str> = seats.iter().map(|(n, _)| *n).collect();
                return Err(err(
                    &seat_path(seat),
                    format!(
                        "party `{p}` holds two {} seats ({other} and {seat})",
                        protocol.name()
                    ),
                    &format!(
                        "{} must be {} different parties",
                        and_list(&names),
                        count_word(names.len())
                    ),
                ));
            }
        }
        let mut parties: Vec<String> = seats.iter().map(|(_, p)| p.to_string()).collect();
        let (_, layout) = protocol.share_layout();
        let holders: Vec<&str> = seats
            .iter()
            .zip(layout)
            .filter(|(_, &n)| n > 0)
            .map(|((_, p), _)| *p)
            .collect();
        for p in r.input_providers.iter().chain(&r.output_receivers) {
            if !parties.contains(p) {
                if parties.len() == MAX_PARTIES {
                    return Err(err(
                        &role_path(r, p),
                        format!("`{p}` would be party {}, more than the {MAX_PARTIES} a run can have", MAX_PARTIES + 1),
                        "every party is a thread with a link to every other; simulate fewer input providers and output receivers",
                    ));
                }
                parties.push(p.clone());
            }
        }
        for p in &parties {
            if p.is_empty() || p == "public" {
                return Err(err(
                    &role_path(r, p),
                    format!("`{p}` cannot be a party name"),
                    "\"public\" is reserved for public inputs; names must be non-empty",
                ));
            }
        }
        // Pond's servers hold shares; input providers and output receivers are other players
        // (a server has no link to itself to send its own input or output through).
        for (list, field, what) in [
            (&r.input_providers, "input_providers", "an input provider"),
            (
                &r.output_receivers,
                "output_receivers",
                "an output receiver",
            ),
        ] {
            for (i, p) in list.iter().enumerate() {
                if holders.contains(&p.as_str()) {
                    return Err(err(
                        &[F("roles"), F(field), I(i)],
                        format!(
                            "`{p}` is a {} server and cannot also be {what}",
                            protocol.name()
                        ),
                        &format!(
                            "input providers and output receivers are separate players in {}; \
                             add a new party such as \"alice\"",
                            protocol.name()
                        ),
                    ));
                }
            }
        }
        let party = |n: &str| parties.iter().position(|p| p == n);

        // Inputs.
        let mut shapes: HashMap<String, Vec<usize>> = HashMap::new();
        let mut public: HashMap<String, bool> = HashMap::new();
        let mut inputs = Vec::new();
        let mut ops = Vec::new();
        for (idx, inp) in scenario.inputs.iter().enumerate() {
            let at = |f: &'static str| [F("inputs"), I(idx), F(f)];
            if shapes.contains_key(&inp.name) {
                return Err(err(
                    &at("name"),
                    format!("input `{}` is defined twice", inp.name),
                    "give every value a unique name",
                ));
            }
            let owner = if inp.owner == "public" {
                None
            } else if r.input_providers.contains(&inp.owner) {
                party(&inp.owner)
            } else {
                let close = closest(
                    &inp.owner,
                    r.input_providers
                        .iter()
                        .map(String::as_str)
                        .chain(["public"]),
                )
                .map(|c| format!("did you mean \"{c}\"? otherwise "))
                .unwrap_or_default();
                return Err(err(
                    &at("owner"),
                    format!(
                        "input `{}` is owned by `{}`, which is not an input provider",
                        inp.name, inp.owner
                    ),
                    &format!(
                        "{close}add \"{}\" to roles.input_providers, or use owner: \"public\" for a constant",
                        inp.owner
                    ),
                ));
            };
            if inp.shape.is_empty() || inp.shape.contains(&0) {
                return Err(err(
                    &at("shape"),
                    format!("input `{}` has shape {:?}", inp.name, inp.shape),
                    "shapes are non-empty lists of positive sizes, e.g. [2, 3]",
                ));
            }
            let n = inp
                .shape
                .iter()
                .try_fold(1usize, |a, &d| a.checked_mul(d))
                .filter(|&n| n <= MAX_ELEMENTS)
                .ok_or_else(|| {
                    err(
                        &at("shape"),
                        format!(
                            "input `{}` has shape {:?}: more than {MAX_ELEMENTS} elements",
                            inp.name, inp.shape
                        ),
                        "sharescope simulates in memory; use a smaller shape",
                    )
                })?;
            let data_at = [F("inputs"), I(idx), F("data"), I(0)];
            let non_finite = |bad: f64| {
                err(
                    &at("data"),
                    format!("input `{}` contains {bad}", inp.name),
                    "inputs must be finite numbers",
                )
            };
            let data = match &inp.data {
                Data::Values(v) => {
                    if v.len() != n {
                        return Err(err(
                            &at("data"),
                            format!(
                                "input `{}` has {} values but shape {:?} needs {n}",
                                inp.name,
                                v.len(),
                                inp.shape
                            ),
                            "list exactly one value per element, row-major",
                        ));
                    }
                    if let Some(bad) = v.iter().find(|v| !v.is_finite()) {
                        return Err(non_finite(*bad));
                    }
                    InputData::Values(std::sync::Arc::new(v.clone()))
                }
                Data::Random(d) => {
                    if !distribution_is_valid(*d) {
                        return Err(err(
                            &data_at,
                            format!("input `{}` has an invalid distribution {d:?}", inp.name),
                            "Uniform(low, high) needs finite low < high; Normal(mean, std) needs a finite std ≥ 0 (with |mean| + 8.6·std finite)",
                        ));
                    }
                    InputData::Random {
                        distribution: *d,
                        seed: random_seed(scenario.seed, idx),
                    }
                }
                Data::Npy(path) => {
                    let full = source.dir.join(path);
                    let npy_err = |m: String| {
                        err(
                            &data_at,
                            format!("input `{}`: {m}", inp.name),
                            "paths are relative to the scenario file; write the array with \
                             numpy.save(path, array.astype(numpy.float64))",
                        )
                    };
                    let file = crate::npy::NpyFile::open(&full).map_err(npy_err)?;
                    if file.header.len != n {
                        return Err(err(
                            &data_at,
                            format!(
                                "input `{}`: {} holds shape {:?} but the scenario says {:?}",
                                inp.name, path, file.header.shape, inp.shape
                            ),
                            "make the scenario's shape match the file (a reshape with the same element count is fine)",
                        ));
                    }
                    // Streamed: checked without holding the array.
                    let mut bad = None;
                    file.for_each(|v| {
                        if bad.is_none() && !v.is_finite() {
                            bad = Some(v);
                        }
                    })
                    .map_err(npy_err)?;
                    if let Some(bad) = bad {
                        return Err(non_finite(bad));
                    }
                    InputData::Npy(full)
                }
            };
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
                shape: inp.shape.clone(),
                data,
            });
        }

        // Program.
        for (i, st) in scenario.program.iter().enumerate() {
            let op_at = [F("program"), I(i), F("op")];
            if shapes.contains_key(&st.name) {
                let first = if scenario.inputs.iter().any(|x| x.name == st.name) {
                    "an input"
                } else {
                    "an earlier statement"
                };
                return Err(err(
                    &[F("program"), I(i), F("name")],
                    format!("`{}` is defined twice (it is already {first})", st.name),
                    "the program is in SSA form: every statement needs a new name",
                ));
            }
            let mut arg_shapes = Vec::new();
            for (j, o) in st.op.operands().into_iter().enumerate() {
                match shapes.get(o) {
                    Some(s) => arg_shapes.push(s.as_slice()),
                    None => {
                        let later = scenario.program[i..].iter().any(|s| s.name == o);
                        let close = closest(o, shapes.keys().map(String::as_str))
                            .map(|k| format!(" (did you mean `{k}`?)"))
                            .unwrap_or_default();
                        let hint = if later {
                            format!(
                                "`{o}` is defined later; move its statement before `{}`",
                                st.name
                            )
                        } else {
                            "operands must name an input or an earlier statement".to_string()
                        };
                        return Err(err(
                            &[F("program"), I(i), F("op"), operand_seg(&st.op, j)],
                            format!(
                                "`{}` uses `{o}`, which is not defined before it{close}",
                                st.name
                            ),
                            &hint,
                        ));
                    }
                }
            }
            // A constant must fit the fixed point (every party encodes it).
            if let Op::Const(c) = st.op {
                let bound = scenario.fixed_point.bound();
                if c.is_finite() && c.abs() >= bound {
                    return Err(err(
                        &op_at,
                        format!("`{}`: constant {c} does not fit the fixed point", st.name),
                        &format!("|c| must stay below 2^int_bits = {bound}; raise `fixed_point.int_bits` or scale the constant"),
                    ));
                }
            }
            // Ops the protocol cannot run.
            if let Err(why) = scenario
                .protocol
                .supports_under(&st.op, &scenario.settings())
            {
                let (what, hint) = why.split_once('\n').unwrap_or((
                    why.as_str(),
                    "`sharescope man` lists what each protocol supports",
                ));
                return Err(err(&op_at, format!("`{}`: {what}", st.name), hint));
            }
            let shape = infer_shape(&st.op, &arg_shapes).map_err(|m| {
                let shown: Vec<String> = st
                    .op
                    .operands()
                    .iter()
                    .zip(&arg_shapes)
                    .map(|(o, s)| format!("`{o}` is {s:?}"))
                    .collect();
                err(
                    &op_at,
                    format!("`{}`: {m}", st.name),
                    &format!(
                        "{}; `sharescope check` prints every value's shape",
                        shown.join(", ")
                    ),
                )
            })?;
            let n = protocols::tensor::checked_numel(&shape).unwrap_or(usize::MAX);
            if n > MAX_ELEMENTS {
                return Err(err(
                    &op_at,
                    format!(
                        "`{}` would have shape {shape:?}: more than {MAX_ELEMENTS} elements",
                        st.name
                    ),
                    "sharescope simulates in memory; use smaller shapes",
                ));
            }
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
        for (i, out) in scenario.outputs.iter().enumerate() {
            if !shapes.contains_key(&out.name) {
                let close = closest(&out.name, shapes.keys().map(String::as_str))
                    .map(|k| format!(" (did you mean `{k}`?)"))
                    .unwrap_or_default();
                return Err(err(
                    &[F("outputs"), I(i), F("name")],
                    format!("output `{}` is not a value of the program{close}", out.name),
                    "name an input or a program statement",
                ));
            }
            if !r.output_receivers.contains(&out.to) {
                let close = closest(&out.to, r.output_receivers.iter().map(String::as_str))
                    .map(|c| format!("did you mean \"{c}\"? otherwise "))
                    .unwrap_or_default();
                return Err(err(
                    &[F("outputs"), I(i), F("to")],
                    format!(
                        "output `{}` goes to `{}`, which is not an output receiver",
                        out.name, out.to
                    ),
                    &format!("{close}add \"{}\" to roles.output_receivers", out.to),
                ));
            }
            ops.push(PlannedOp::Output {
                name: out.name.clone(),
                to: party(&out.to).expect("receiver is a party"),
            });
        }

        // Metrics.
        let metrics = match &scenario.metrics {
            None => None,
            Some(m) => Some(plan_metrics(source, &scenario, m, &shapes)?),
        };

        // Network.
        let profile = |name: &str, at: &[PathSeg]| {
            crate::profiles::lookup(name).map_err(|_| {
                err(
                    at,
                    format!("unknown network profile `{name}`"),
                    &crate::profiles::unknown_hint(name),
                )
            })
        };
        let default_link = match &scenario.network.profile {
            None => scenario.network.default,
            Some(name) => {
                let p = profile(name, &[F("network"), F("profile")])?;
                if source.has_path(&[F("network"), F("default")]) {
                    return Err(err(
                        &[F("network"), F("default")],
                        format!("`network` gives both `profile: \"{name}\"` and `default`"),
                        "keep one: the profile is the default link; change single links with \
                         `links` overrides",
                    ));
                }
                p.link
            }
        };
        if let Err((field, m)) = crate::network::check_link(&default_link) {
            return Err(err(
                &[F("network"), F("default"), F(field)],
                format!("network.default: {m}"),
                "latencies and jitters are in microseconds, e.g. latency_us: 20000 for 20 ms",
            ));
        }
        let n = parties.len();
        let mut links = vec![vec![default_link; n]; n];
        for (i, l) in scenario.network.links.iter().enumerate() {
            let at = |f: &'static str| [F("network"), F("links"), I(i), F(f)];
            let base = match &l.profile {
                Some(name) => Some(profile(name, &at("profile"))?.link),
                None => None,
            };
            let given = LinkConfig {
                latency_us: l.latency_us.unwrap_or(0),
                jitter_us: l.jitter_us.unwrap_or(0),
                ..LinkConfig::default()
            };
            if let Err((field, m)) = crate::network::check_link(&given) {
                return Err(err(
                    &at(field),
                    format!("link {} → {}: {m}", l.from, l.to),
                    "latencies and jitters are in microseconds, e.g. latency_us: 20000 for 20 ms",
                ));
            }
            for (field, name) in [("from", &l.from), ("to", &l.to)] {
                if party(name).is_none() {
                    let close = closest(name, parties.iter().map(String::as_str))
                        .map(|c| format!("did you mean \"{c}\"? "))
                        .unwrap_or_default();
                    return Err(err(
                        &at(field),
                        format!("link names unknown party `{name}`"),
                        &format!("{close}the parties are: {}", parties.join(", ")),
                    ));
                }
            }
            let (a, b) = (
                party(&l.from).expect("checked"),
                party(&l.to).expect("checked"),
            );
            if a == b {
                return Err(err(
                    &at("to"),
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
                if let Some(b) = base {
                    (link.latency_us, link.jitter_us, link.bandwidth_bps) =
                        (b.latency_us, b.jitter_us, b.bandwidth_bps);
                }
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
            if !(ns_per_ring_op.is_finite() && (0.0..=MAX_NS_PER_RING_OP).contains(&ns_per_ring_op))
            {
                return Err(err(
                    &[F("timing"), F("ns_per_ring_op")],
                    format!(
                        "ns_per_ring_op = {ns_per_ring_op} is not a number from 0 to \
                         {MAX_NS_PER_RING_OP} (one millisecond per ring operation)"
                    ),
                    "use e.g. Model(ns_per_ring_op: 1.0)",
                ));
            }
        }

        // Breakpoints.
        for (i, b) in scenario.breakpoints.iter().enumerate() {
            let at = [F("breakpoints"), I(i), I(0)];
            match b {
                BreakpointSpec::Op(name) if !ops.iter().any(|o| o.label() == *name) => {
                    let labels: Vec<String> = ops.iter().map(PlannedOp::label).collect();
                    let close = closest(name, labels.iter().map(String::as_str))
                        .map(|c| format!("did you mean \"{c}\"? "))
                        .unwrap_or_default();
                    return Err(err(
                        &at,
                        format!("breakpoint on unknown op `{name}`"),
                        &format!("{close}name a program statement, \"input x\" or \"output y\""),
                    ));
                }
                BreakpointSpec::Kind(k) if !OP_KINDS.contains(&k.as_str()) => {
                    let close = closest(k, OP_KINDS.iter().copied())
                        .map(|c| format!("did you mean \"{c}\"? "))
                        .unwrap_or_default();
                    return Err(err(
                        &at,
                        format!("unknown op kind `{k}`"),
                        &format!("{close}the kinds are: {}", OP_KINDS.join(", ")),
                    ));
                }
                BreakpointSpec::Divergence(t) if !(t.is_finite() && *t >= 0.0) => {
                    return Err(err(
                        &at,
                        format!("divergence threshold {t} is not a non-negative number"),
                        "use e.g. Divergence(0.01)",
                    ));
                }
                _ => {}
            }
        }

        // Faults.
        for (i, f) in scenario.faults.iter().enumerate() {
            let at = |field: &'static str| [F("faults"), I(i), F(field)];
            if party(&f.party).is_none() {
                let close = closest(&f.party, parties.iter().map(String::as_str))
                    .map(|c| format!("did you mean \"{c}\"? "))
                    .unwrap_or_default();
                return Err(err(
                    &at("party"),
                    format!("fault names unknown party `{}`", f.party),
                    &format!("{close}the parties are: {}", parties.join(", ")),
                ));
            }
            if !ops.iter().any(|o| o.label() == f.op) {
                let labels: Vec<String> = ops.iter().map(PlannedOp::label).collect();
                let close = closest(&f.op, labels.iter().map(String::as_str))
                    .map(|c| format!("did you mean \"{c}\"? "))
                    .unwrap_or_default();
                return Err(err(
                    &at("op"),
                    format!("fault names unknown op `{}`", f.op),
                    &format!("{close}name a program statement, \"input x\" or \"output y\""),
                ));
            }
            if f.step.as_deref().is_some_and(|s| s.trim().is_empty()) {
                return Err(err(
                    &at("step"),
                    "a fault's step is empty".into(),
                    "name the start of a step of the op, e.g. step: \"open masked inputs\"; the \
                     debugger's outline lists them",
                ));
            }
            if let Some(t) = &f.to {
                if party(t).is_none() || t == &f.party {
                    return Err(err(
                        &at("to"),
                        format!("a fault's receiver `{t}` is not another party"),
                        &format!("the parties are: {}", parties.join(", ")),
                    ));
                }
                if !f.kind.is_message_fault() {
                    return Err(err(
                        &at("to"),
                        "`to` only applies to the message faults (Drop, Corrupt, Delay, Deviate)"
                            .into(),
                        "remove `to`",
                    ));
                }
            }
            match f.kind {
                FaultKind::Delay(us) if us > 1_000_000_000_000 => {
                    return Err(err(
                        &at("kind"),
                        format!("a delay of {us} µs is beyond the virtual clock's range"),
                        "delay by at most 10^12 µs (11.6 days)",
                    ));
                }
                FaultKind::Deviate(d)
                    if !d.is_finite() || d.abs() >= scenario.fixed_point.bound() =>
                {
                    return Err(err(
                        &at("kind"),
                        format!("a deviation of {d} is not a finite fixed-point value"),
                        &format!(
                            "deviate by less than 2^int_bits = {} in magnitude",
                            scenario.fixed_point.bound()
                        ),
                    ));
                }
                _ => {}
            }
            if f.kind == FaultKind::ReuseMask {
                // Planted in the dealer: the seat that holds no shares.
                let dealer = seats
                    .iter()
                    .zip(layout)
                    .find(|(_, &n)| n == 0)
                    .map(|(s, _)| *s);
                let Some((dealer_role, dealer)) = dealer else {
                    return Err(err(
                        &at("kind"),
                        format!(
                            "{} has no dealer to plant a ReuseMask fault in",
                            protocol.name()
                        ),
                        "ReuseMask plants a flaw in a dealer's Beaver masks; remove the fault",
                    ));
                };
                if f.party != dealer {
                    return Err(err(
                        &at("party"),
                        format!(
                            "a ReuseMask fault is planted in the {dealer_role}, not in `{}`",
                            f.party
                        ),
                        &format!(
                            "the {dealer_role} deals the Beaver masks: write party: \"{dealer}\""
                        ),
                    ));
                }
                let operands = ops.iter().find_map(|o| match o {
                    PlannedOp::Compute {
                        name,
                        op: Op::Mul(x, y) | Op::MatMul(x, y),
                    } if *name == f.op => Some((x, y)),
                    PlannedOp::Compute {
                        name,
                        op: Op::Conv2d { input, filters, .. },
                    } if *name == f.op => Some((input, filters)),
                    _ => None,
                });
                let fits = operands.is_some_and(|(x, y)| {
                    x != y && !public[x] && !public[y] && shapes[x] == shapes[y]
                });
                if !fits {
                    return Err(err(
                        &at("op"),
                        format!(
                            "a ReuseMask fault needs a product of two different private values of \
                             one shape; `{}` is not",
                            f.op
                        ),
                        "plant it on e.g. (name: \"z\", op: Mul(\"x\", \"y\")) with x and y private and of \
                         the same shape",
                    ));
                }
            }
        }

        protocol_settings(source, &scenario)?;
        let warnings = dealer_security(source, &scenario, &ops, &public)?;

        let mut plan = Plan {
            seats: (0..roles.len()).collect(),
            source: source.clone(),
            source_name: source.name.clone(),
            scenario,
            parties,
            inputs,
            ops,
            shapes,
            public,
            links,
            metrics,
            warnings,
            memory: 0,
            memory_budget: budget,
            training: None,
        };
        plan.memory = check_memory(source, &plan, budget)?;
        Ok(plan)
    }
}

/// The plan's estimated peak memory ([`crate::memory::estimate`]), or the located error at the
/// input or op that takes it past `budget`.
fn check_memory(source: &Source, plan: &Plan, budget: MemoryBudget) -> Result<u64, ScenarioError> {
    let est = crate::memory::estimate(plan);
    if est.peak <= budget.bytes {
        return Ok(est.peak);
    }
    let site = est
        .running
        .iter()
        .find(|(_, b)| *b > budget.bytes)
        .or(est.running.last())
        .map(|(s, _)| *s);
    let (path, what): (Vec<PathSeg>, String) = match site {
        Some(Site::Input(i)) => (
            vec![F("inputs"), I(i), F("shape")],
            format!("input `{}`", plan.inputs[i].name),
        ),
        Some(Site::Op(i)) => match &plan.ops[i] {
            PlannedOp::Input { name, .. } => {
                let k = plan
                    .inputs
                    .iter()
                    .position(|x| x.name == *name)
                    .unwrap_or(0);
                (
                    vec![F("inputs"), I(k), F("shape")],
                    format!("sharing input `{name}`"),
                )
            }
            PlannedOp::Compute { name, .. } => {
                let k = plan
                    .scenario
                    .program
                    .iter()
                    .position(|st| st.name == *name)
                    .unwrap_or(0);
                (vec![F("program"), I(k), F("op")], format!("`{name}`"))
            }
            PlannedOp::Output { name, .. } => {
                let k = plan
                    .scenario
                    .outputs
                    .iter()
                    .position(|o| o.name == *name)
                    .unwrap_or(0);
                (
                    vec![F("outputs"), I(k), F("name")],
                    format!("the output of `{name}`"),
                )
            }
        },
        None => (vec![], "the run".to_string()),
    };
    let by_then = site
        .and_then(|s| est.running.iter().find(|(t, _)| *t == s))
        .map_or(est.peak, |(_, b)| *b);
    // Exact bytes when the rounded sizes would read the same.
    let (need, have) = match (gib(by_then), gib(budget.bytes)) {
        (a, b) if a == b => (
            format!("{by_then} bytes"),
            format!("{} bytes = {}", budget.bytes, budget.describe()),
        ),
        (a, _) => (a, budget.describe()),
    };
    let fits = est.peak.div_ceil(1 << 30);
    Err(source.error_at_path(
        &path,
        format!(
            "the run would need an estimated {need} of memory by {what} ({} in all), more than \
             the budget of {have}",
            gib(est.peak),
        ),
        format!(
            "use smaller shapes or fewer values, or a smaller trace.max_values; or raise the \
             budget with --memory-limit SIZE (the whole run needs --memory-limit {fits}G); the \
             estimate is explained in docs/scenario-format.md, \"Memory\""
        ),
    ))
}

/// The scenario-wide settings the protocol cannot run under ([`Protocol::check_settings`]:
/// Additive refuses local truncation), located at `truncation` when the scenario sets it, else
/// at `protocol`.
///
/// [`Protocol::check_settings`]: protocols::protocol::Protocol::check_settings
fn protocol_settings(source: &Source, scenario: &Scenario) -> Result<(), ScenarioError> {
    let settings = scenario.settings();
    if !scenario.protocol.sigmoids().contains(&scenario.sigmoid) {
        let names: Vec<String> = scenario
            .protocol
            .sigmoids()
            .iter()
            .map(|m| format!("`{m:?}`"))
            .collect();
        return Err(source.error_at_path(
            &[F("sigmoid")],
            format!(
                "protocol {} has no {:?} sigmoid",
                scenario.protocol.name(),
                scenario.sigmoid
            ),
            format!(
                "use `sigmoid: {}` with it, or `protocol: ABY3` for the piecewise-linear sigmoid",
                names.join(" or ")
            ),
        ));
    }
    let Err(why) = scenario.protocol.check_settings(&settings) else {
        return Ok(());
    };
    let present = |field: &str| source.locate_path(&[F(field)]) != source.locate_path(&[]);
    // A refusal the same settings at 64 bits do not get is the ring's: point at `ring_bits`.
    let narrow = protocols::protocol::Settings {
        fixed: protocols::fixed::FixedConfig {
            ring_bits: 64,
            ..settings.fixed
        },
        ..settings
    };
    let at: &[PathSeg] =
        if settings.fixed.ring_bits != 64 && scenario.protocol.check_settings(&narrow).is_ok() {
            &[F("fixed_point"), F("ring_bits")]
        } else if present("truncation") {
            &[F("truncation")]
        } else {
            &[F("protocol")]
        };
    let (what, hint) = why.split_once('\n').unwrap_or((
        why.as_str(),
        "`sharescope man` lists what each protocol supports",
    ));
    Err(source.error_at_path(
        at,
        format!("protocol {}: {what}", scenario.protocol.name()),
        hint,
    ))
}

/// The truncation's limits and statistical security, checked last (it needs the whole
/// program), as the protocol states them: when the program truncates, the protocol must accept
/// the settings ([`protocols::protocol::Protocol::check_truncation`]: ABY3's Π_trunc2 needs
/// int + 2f ≤ 60), and when its truncation hides only statistically with σ below
/// [`MIN_STATISTICAL_SECURITY`] ([`protocols::protocol::Protocol::statistical_security`]: Pond's
/// dealer truncation σ = 63 − (int_bits + 2·frac_bits), ABY3's Π_trunc2 61 − …), the scenario is
/// refused unless `fixed_point` sets `weak_security`, and then the returned warning states σ.
fn dealer_security(
    source: &Source,
    scenario: &Scenario,
    ops: &[PlannedOp],
    public: &HashMap<String, bool>,
) -> Result<Vec<String>, ScenarioError> {
    let fp = &scenario.fixed_point;
    let protocol = scenario.protocol.get();
    let settings = scenario.settings();
    let Some(first) = ops.iter().find_map(|o| match o {
        PlannedOp::Compute { name, op } if op_truncates(op, public, scenario.protocol) => {
            Some(name)
        }
        _ => None,
    }) else {
        return Ok(vec![]);
    };
    // Point at `fixed_point`, or, when it is left at tf-encrypted's preset, at `truncation`, or
    // at the scenario itself.
    let present = |field: &str| source.locate_path(&[F(field)]) != source.locate_path(&[]);
    let at: &[PathSeg] = if present("fixed_point") {
        &[F("fixed_point")]
    } else if present("truncation") {
        &[F("truncation")]
    } else {
        &[]
    };
    if let Err(why) = protocol.check_truncation(&settings) {
        let (what, how) = why.split_once("; ").unwrap_or((why.as_str(), ""));
        return Err(source.error_at_path(
            at,
            format!("{what} (`{first}` truncates)"),
            if how.is_empty() {
                format!(
                    "change fixed_point or truncation so that {} can truncate",
                    protocol.name()
                )
            } else {
                how.to_string()
            },
        ));
    }
    let Some(sigma) = protocol.statistical_security(&settings) else {
        return Ok(vec![]);
    };
    if sigma >= MIN_STATISTICAL_SECURITY {
        return Ok(vec![]);
    }
    let text = protocol.statistical_security_text(&settings);
    if fp.weak_security {
        return Ok(vec![format!(
            "{text}; accepted because fixed_point sets weak_security (never use it for real data)"
        )]);
    }
    // σ + k is the protocol's constant (63 for Pond's dealer truncation, 61 for ABY3's
    // Π_trunc2): the largest k with σ ≥ the minimum, and an example encoding with 8 fractional
    // bits that meets it.
    let k_max = (fp.product_bits() + sigma).saturating_sub(MIN_STATISTICAL_SECURITY);
    let example = if k_max > 16 {
        format!(" (e.g. frac_bits: 8, int_bits: {})", k_max - 16)
    } else {
        String::new()
    };
    let set = if present("fixed_point") {
        "set `weak_security: true` in fixed_point".to_string()
    } else {
        format!(
            "write `fixed_point: (frac_bits: {}, int_bits: {}, weak_security: true)`",
            fp.frac_bits, fp.int_bits
        )
    };
    Err(source.error_at_path(
        at,
        text,
        format!(
            "`{first}` truncates with {}; lower int_bits and frac_bits so that \
             int_bits + 2·frac_bits ≤ {k_max}{example}, or, for teaching, {set}",
            protocol.truncation_label(&settings)
        ),
    ))
}

/// Validates the `metrics` section: `prediction` is an output with a class axis, and `labels`
/// holds one class index per row.
fn plan_metrics(
    source: &Source,
    scenario: &Scenario,
    m: &MetricsSpec,
    shapes: &HashMap<String, Vec<usize>>,
) -> Result<PlannedMetrics, ScenarioError> {
    let err = |path: &[PathSeg], msg: String, hint: &str| source.error_at_path(path, msg, hint);
    let pred_at = [F("metrics"), F("prediction")];
    let labels_at = [F("metrics"), F("labels")];
    if !scenario.outputs.iter().any(|o| o.name == m.prediction) {
        let close = closest(
            &m.prediction,
            scenario.outputs.iter().map(|o| o.name.as_str()),
        )
        .map(|k| format!("did you mean `{k}`? "))
        .unwrap_or_default();
        let what = if shapes.contains_key(&m.prediction) {
            "is a value but not an output"
        } else {
            "is not an output"
        };
        return Err(err(
            &pred_at,
            format!("metrics: prediction `{}` {what}", m.prediction),
            &format!(
                "{close}metrics read an output as its receiver learned it; add                  (name: \"{}\", to: ...) to outputs",
                m.prediction
            ),
        ));
    }
    let shape = &shapes[&m.prediction];
    // A private argmax already holds the classes: one index per row.
    let argmax_of = scenario.program.iter().find_map(|st| match &st.op {
        Op::Argmax(x) if st.name == m.prediction => Some(x),
        _ => None,
    });
    let (classes, rows) = match argmax_of {
        Some(x) => (
            shapes.get(x).and_then(|s| s.last()).copied().unwrap_or(1),
            protocols::tensor::numel(shape),
        ),
        None => (
            *shape.last().unwrap_or(&1),
            protocols::tensor::numel(&shape[..shape.len().saturating_sub(1)]),
        ),
    };
    if classes < 2 {
        return Err(err(
            &pred_at,
            format!(
                "metrics: prediction `{}` has shape {shape:?}: its last axis must hold at least two class scores",
                m.prediction
            ),
            "the prediction is the argmax over the last axis, e.g. logits of shape [images, classes]",
        ));
    }
    let values: Vec<f64> = match &m.labels {
        Data::Values(v) => v.clone(),
        Data::Npy(path) => {
            let npy_err = |e: String| {
                err(
                    &labels_at,
                    format!("metrics: labels: {e}"),
                    "paths are relative to the scenario file; write the labels with \
                     numpy.save(path, labels.astype(numpy.int64))",
                )
            };
            let file = crate::npy::NpyFile::open(&source.dir.join(path)).map_err(npy_err)?;
            if file.header.len != rows {
                return Err(err(
                    &labels_at,
                    format!(
                        "metrics: {} labels for prediction `{}` of shape {shape:?}, which has {rows} rows",
                        file.header.len, m.prediction
                    ),
                    "give one label per row (every axis of the prediction but the last)",
                ));
            }
            file.read().map_err(npy_err)?.values
        }
        Data::Random(_) => {
            return Err(err(
                &labels_at,
                "metrics: labels cannot be random".to_string(),
                "use Values([..]) or Npy(\"labels.npy\") with one class index per image",
            ))
        }
    };
    if values.len() != rows {
        return Err(err(
            &labels_at,
            format!(
                "metrics: {} labels for prediction `{}` of shape {shape:?}, which has {rows} rows",
                values.len(),
                m.prediction
            ),
            "give one label per row (every axis of the prediction but the last)",
        ));
    }
    let mut labels = Vec::with_capacity(rows);
    for (i, v) in values.iter().enumerate() {
        if !(v.is_finite() && v.fract() == 0.0 && *v >= 0.0 && *v < classes as f64) {
            return Err(err(
                &labels_at,
                format!("metrics: label {i} is {v}, not a class index in 0..{classes}"),
                "labels are integers from 0 to the number of classes − 1",
            ));
        }
        labels.push(*v as usize);
    }
    Ok(PlannedMetrics {
        prediction: m.prediction.clone(),
        classes,
        indices: argmax_of.is_some(),
        labels,
    })
}

/// The most parties a run may have (the three seats, input providers and output receivers):
/// each is a thread, with a channel and a link model to every other.
pub const MAX_PARTIES: usize = 64;

/// The largest `ns_per_ring_op` of a `Model` timing: 10^6 ns (a millisecond per ring
/// operation, a million times slower than a real one), so that virtual clocks (ns in a `u64`)
/// stay far from saturating.
pub const MAX_NS_PER_RING_OP: f64 = 1e6;

/// The largest tensor a scenario may declare (inputs and results), so that a typo in a shape
/// is an error rather than an out-of-memory abort.
pub const MAX_ELEMENTS: usize = 1 << 24;

/// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo
/// (at most 2 edits, and fewer edits than the longer name has characters). Ties go to the
/// alphabetically first, so hints are deterministic.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= 2 && *d < word.chars().count().max(c.chars().count()))
        .min()
        .map(|(_, c)| c)
}

/// Levenshtein distance, for "did you mean" hints.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
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

/// `a, b and c`.
fn and_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// `three` for 3 (up to ten), else the digits.
fn count_word(n: usize) -> String {
    const WORDS: [&str; 11] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    ];
    WORDS
        .get(n)
        .map_or_else(|| n.to_string(), |w| w.to_string())
}

#[cfg(test)]
mod draw_tests {
    use super::*;

    /// The draws as one sequential pass over the stream, written out from the documented
    /// recipe (not through `draw_values`).
    fn sequential(d: Distribution, seed: u64, n: usize) -> Vec<f64> {
        use rand::{RngCore, SeedableRng};
        let mut rng = protocols::prg::AesCtrPrg::from_seed(protocols::prg::derived_seed(seed, 0));
        let mut out = Vec::with_capacity(n + 1);
        while out.len() < n {
            match d {
                Distribution::Uniform(lo, hi) => {
                    let u = (rng.next_u64() >> 11) as f64 / 9007199254740992.0;
                    out.push(lo + (hi - lo) * u);
                }
                Distribution::Normal(m, s) => {
                    let u1 = 1.0 - (rng.next_u64() >> 11) as f64 / 9007199254740992.0;
                    let u2 = (rng.next_u64() >> 11) as f64 / 9007199254740992.0;
                    let r = (-2.0 * u1.ln()).sqrt();
                    let t = 2.0 * std::f64::consts::PI * u2;
                    out.push(m + s * r * t.cos());
                    out.push(m + s * r * t.sin());
                }
            }
        }
        out.truncate(n);
        out
    }

    /// Mean, variance, and the fraction within one standard deviation, of 2¹⁸ draws.
    #[test]
    fn draws_have_the_distributions_moments() {
        let n = 1 << 18;
        let tol = 6.0 / (n as f64).sqrt(); // ≥ 6 standard errors
        let v = random_values(Distribution::Normal(1.5, 2.0), 3, n);
        let mean = v.iter().sum::<f64>() / n as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        let within = v.iter().filter(|x| (*x - 1.5).abs() < 2.0).count() as f64 / n as f64;
        assert!((mean - 1.5).abs() < 2.0 * tol, "normal mean {mean}");
        assert!(
            (var / 4.0 - 1.0).abs() < 2.0 * tol * 1.5,
            "normal variance {var}"
        );
        assert!(
            (within - 0.682_689).abs() < tol,
            "normal within 1 sd {within}"
        );
        // The cosine and sine halves are each N(m, s²) and uncorrelated.
        let ev: Vec<f64> = v.iter().copied().step_by(2).collect();
        let od: Vec<f64> = v.iter().copied().skip(1).step_by(2).collect();
        let cov = ev
            .iter()
            .zip(&od)
            .map(|(a, b)| (a - 1.5) * (b - 1.5))
            .sum::<f64>()
            / ev.len() as f64;
        assert!((cov / 4.0).abs() < 2.0 * tol, "pair covariance {cov}");
        let u = random_values(Distribution::Uniform(-1.0, 3.0), 4, n);
        let mean = u.iter().sum::<f64>() / n as f64;
        let var = u.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!((mean - 1.0).abs() < 4.0 * tol, "uniform mean {mean}");
        assert!(
            (var / (16.0 / 12.0) - 1.0).abs() < 2.0 * tol,
            "uniform variance {var}"
        );
        assert!(u.iter().all(|x| (-1.0..3.0).contains(x)));
    }

    #[test]
    fn draws_split_over_two_threads_are_the_sequential_draws_bit_for_bit() {
        for d in [
            Distribution::Uniform(-1.0, 3.0),
            Distribution::Normal(0.5, 2.0),
        ] {
            for n in [
                5,
                6,
                DRAW_SPLIT_AT - 1,
                DRAW_SPLIT_AT,
                DRAW_SPLIT_AT + 3,
                2 * DRAW_SPLIT_AT + 1,
            ] {
                let got = random_values(d, 11, n);
                let want = sequential(d, 11, n);
                assert_eq!(got.len(), n);
                let same = got
                    .iter()
                    .zip(&want)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{d:?}, n = {n}");
            }
        }
    }
}
