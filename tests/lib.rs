//! Shared helpers for the workspace integration tests in `tests/tests/`.
//!
//! - [`Pond`] builds a Pond scenario in code (fixed point, truncation, inputs, program, outputs),
//!   validates it exactly as a scenario file would be, and runs it.
//! - [`op`] finds an op's record in a run's trace.
//! - View tests: [`Pond::plan`] with `sim::leak::assert_no_leak(&plan, runs)` checks that no
//!   party's view of the scenario depends on the others' secrets (docs/leak.md).
//! - [`bounds`] holds the fixed-point error bounds that property tests compare reconstructed
//!   results with, each derived from how Pond computes the op.
//! - [`Lcg`] varies shapes and values by seed; [`assert_costs_exact`] checks that `check`'s
//!   estimate is the run's accounting exactly, per op and in total; [`error`] and
//!   [`relative_error`] measure a reconstructed op against the plaintext shadow.

use protocols::cost::Cost;
use protocols::fixed::FixedConfig;
use protocols::pond::{InputSharing, Truncation};
use protocols::program::Op;
use sim::scenario::{Data, InputSpec, OutputSpec, Plan, ProtocolKind, Scenario, Source, Stmt};
use sim::trace::OpRecord;
use sim::{RunResult, ScenarioError, SimError};

/// The input providers every [`Pond`] scenario declares.
pub const PROVIDERS: [&str; 2] = ["alice", "bob"];
/// The output receiver every [`Pond`] scenario declares.
pub const RECEIVER: &str = "carol";

/// The scenario every builder starts from: three Pond seats, two input providers, one output
/// receiver, deterministic timing, and a trace that keeps every value whole. Its fixed point is
/// tf-encrypted's 64-bit preset with `weak_security` (dealer truncation has σ = 20 bits there):
/// these tests are about correctness and costs.
const SKELETON: &str = r#"Scenario(
    name: "test",
    fixed_point: (frac_bits: 16, int_bits: 11, weak_security: true),
    roles: (input_providers: ["alice", "bob"], output_receivers: ["carol"]),
    timing: Model(ns_per_ring_op: 1.0),
    seed: 0,
    inputs: [],
    program: [],
    trace: (max_values: 100000),
)"#;

fn source() -> Source {
    Source {
        name: "test".into(),
        dir: ".".into(),
        text: String::new(),
    }
}

/// A Pond scenario built in code.
///
/// ```
/// use protocols::program::Op;
/// let run = sharescope_tests::Pond::new(1)
///     .private("x", "alice", &[2], vec![1.5, -2.0])
///     .private("y", "bob", &[2], vec![2.0, 0.25])
///     .op("z", Op::Mul("x".into(), "y".into()))
///     .run_ok();
/// let z = &sharescope_tests::op(&run, "z").reconstructed;
/// assert!((z[0] - 3.0).abs() <= 1e-4 && (z[1] + 0.5).abs() <= 1e-4);
/// ```
#[derive(Debug, Clone)]
pub struct Pond {
    scenario: Scenario,
}

impl Pond {
    /// An empty scenario with seed `seed` and tf-encrypted's 64-bit fixed point (f = 16).
    pub fn new(seed: u64) -> Pond {
        let text = SKELETON.to_string();
        let src = Source { text, ..source() };
        let mut scenario = sim::scenario::parse(&src).expect("the skeleton scenario parses");
        scenario.seed = seed;
        Pond { scenario }
    }

    /// Sets the fixed-point encoding (with `weak_security`, as [`Pond::new`] does).
    pub fn fixed(mut self, frac_bits: u32, int_bits: u32, gap_bits: u32) -> Pond {
        self.scenario.fixed_point = FixedConfig {
            frac_bits,
            int_bits,
            gap_bits,
            weak_security: true,
            ring_bits: self.scenario.fixed_point.ring_bits,
        };
        self
    }

    /// An empty scenario over Z_2^128 with tf-encrypted's "high" fixed point
    /// (`ring_bits: 128`, f = 32, int_bits 20; dealer truncation σ = 43 bits).
    pub fn wide(seed: u64) -> Pond {
        let mut p = Pond::new(seed);
        p.scenario.fixed_point = FixedConfig::high();
        p
    }

    /// Sets the protocol (Pond by default; SecureNN for exact ReLU, MaxPool and Argmax).
    pub fn protocol(mut self, p: ProtocolKind) -> Pond {
        self.scenario.protocol = p;
        self
    }

    /// Sets the truncation method.
    pub fn truncation(mut self, t: Truncation) -> Pond {
        self.scenario.truncation = t;
        self
    }

    /// Sets how `Sigmoid` is approximated.
    pub fn sigmoid(mut self, m: protocols::protocol::SigmoidMethod) -> Pond {
        self.scenario.sigmoid = m;
        self
    }

    /// Sets the input sharing method.
    pub fn input_sharing(mut self, s: InputSharing) -> Pond {
        self.scenario.input_sharing = s;
        self
    }

    /// Adds an input owned by `owner` (an input provider, or `"public"`).
    pub fn input(mut self, name: &str, owner: &str, shape: &[usize], values: Vec<f64>) -> Pond {
        self.scenario.inputs.push(InputSpec {
            name: name.into(),
            owner: owner.into(),
            shape: shape.to_vec(),
            data: Data::Values(values),
        });
        self
    }

    /// Adds a private input owned by input provider `owner`.
    pub fn private(self, name: &str, owner: &str, shape: &[usize], values: Vec<f64>) -> Pond {
        self.input(name, owner, shape, values)
    }

    /// Adds a public constant.
    pub fn public(self, name: &str, shape: &[usize], values: Vec<f64>) -> Pond {
        self.input(name, "public", shape, values)
    }

    /// Adds the statement `name = op`.
    pub fn op(mut self, name: &str, op: Op) -> Pond {
        self.scenario.program.push(Stmt {
            name: name.into(),
            op,
        });
        self
    }

    /// Reveals `name` to the output receiver [`RECEIVER`].
    pub fn output(mut self, name: &str) -> Pond {
        self.scenario.outputs.push(OutputSpec {
            name: name.into(),
            to: RECEIVER.into(),
        });
        self
    }

    /// The scenario as built.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The fixed-point configuration.
    pub fn fixed_config(&self) -> FixedConfig {
        self.scenario.fixed_point
    }

    /// Validates the scenario into a plan.
    pub fn plan(&self) -> Result<Plan, ScenarioError> {
        Plan::new(&source(), self.scenario.clone())
    }

    /// Validates and runs the scenario.
    pub fn run(&self) -> Result<RunResult, SimError> {
        sim::run(&self.plan().map_err(SimError::Scenario)?)
    }

    /// Validates and runs the scenario; a failure is a test failure that prints the error.
    pub fn run_ok(&self) -> RunResult {
        self.run().unwrap_or_else(|e| panic!("run failed: {e}"))
    }
}

/// The record of the op labelled `label` (a statement name, `input x` or `output y`).
pub fn op<'a>(run: &'a RunResult, label: &str) -> &'a OpRecord {
    run.trace
        .ops
        .iter()
        .find(|o| o.name == label)
        .unwrap_or_else(|| panic!("no op `{label}` in the trace"))
}

/// The accounted cost of the op labelled `label`, as a [`Cost`] (to compare with a formula).
pub fn cost_of(run: &RunResult, label: &str) -> Cost {
    let s = &op(run, label).stats;
    Cost {
        bytes: s.bytes,
        offline_bytes: s.offline_bytes,
        messages: s.messages,
        offline_messages: s.offline_messages,
        rounds: s.rounds,
    }
}

/// Asserts that op `label` cost exactly `expected`.
#[track_caller]
pub fn assert_cost(run: &RunResult, label: &str, expected: Cost) {
    assert_eq!(cost_of(run, label), expected, "op `{label}`");
}

/// A fixed pattern of `numel(shape)` values in [−scale, scale] (thirteen levels), for tests
/// whose subject is cost rather than value.
pub fn pattern(shape: &[usize], scale: f64) -> Vec<f64> {
    (0..shape.iter().product::<usize>())
        .map(|i| scale * (((i * 7919) % 13) as f64 - 6.0) / 6.0)
        .collect()
}

/// The largest |v| in `values` (0 for none).
pub fn max_abs(values: &[f64]) -> f64 {
    values.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// A small deterministic generator, so shapes and values vary by seed.
#[derive(Debug, Clone)]
pub struct Lcg(pub u64);

impl Lcg {
    /// The next 31 pseudo-random bits.
    pub fn next_bits(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    /// A dimension in 1..=`max`.
    pub fn dim_up_to(&mut self, max: usize) -> usize {
        1 + (self.next_bits() % max as u64) as usize
    }
    /// `n` values uniform in [lo, hi] on a grid of 10 000 steps.
    pub fn vals_in(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n)
            .map(|_| lo + (hi - lo) * (self.next_bits() % 10001) as f64 / 10000.0)
            .collect()
    }
    /// `n` values uniform in [−scale, scale] on a grid of 2 000 steps.
    pub fn vals_scaled(&mut self, n: usize, scale: f64) -> Vec<f64> {
        (0..n)
            .map(|_| scale * ((self.next_bits() % 2001) as f64 / 1000.0 - 1.0))
            .collect()
    }
}

/// `check`'s estimate of `plan` equals the run's accounting exactly — online and offline
/// bytes and messages and rounds per op, and the totals, including the critical-path rounds
/// (the DAG schedule's causal depth) — and the run.
pub fn assert_plan_costs_exact(plan: &Plan) -> RunResult {
    let est = sim::estimate::estimate(plan);
    let run = sim::run(plan).unwrap_or_else(|e| panic!("run failed: {e}"));
    assert_eq!(est.ops.len(), run.trace.ops.len());
    let protocol = plan.protocol().name();
    for (e, r) in est.ops.iter().zip(&run.trace.ops) {
        assert_eq!(e.name, r.name);
        let c = e
            .cost
            .as_ref()
            .unwrap_or_else(|w| panic!("`{}` not costed: {w}", e.name));
        let st = &r.stats;
        assert_eq!(
            (
                c.bytes,
                c.offline_bytes,
                c.messages,
                c.offline_messages,
                c.rounds
            ),
            (
                st.bytes,
                st.offline_bytes,
                st.messages,
                st.offline_messages,
                st.rounds
            ),
            "op `{}` ({}) under {protocol}",
            r.name,
            r.kind,
        );
    }
    let t = est.totals.expect("every op costed");
    let rt = &run.totals;
    assert_eq!(
        (
            t.bytes,
            t.messages,
            t.rounds,
            t.offline_bytes,
            t.offline_rounds
        ),
        (
            rt.bytes,
            rt.messages,
            rt.rounds,
            rt.offline_bytes,
            rt.offline_rounds
        ),
        "totals under {protocol}",
    );
    assert_eq!(
        est.critical_path_rounds,
        Some(rt.critical_path_rounds),
        "critical-path rounds under {protocol}",
    );
    run
}

/// [`assert_plan_costs_exact`] of the builder's plan (which must validate).
pub fn assert_costs_exact(b: &Pond) -> RunResult {
    assert_plan_costs_exact(&b.plan().unwrap_or_else(|e| panic!("invalid: {e}")))
}

/// The example column of docs/costs.md ("Composite ops"): op `o`, bound to `name`, under
/// SecureNN with dealer truncation after the keys are set up (a ReLU first), on private
/// `x` of `shape` (0.7, 1.7, …) and `y` = [1.3]: its online (messages, bytes, rounds), the
/// estimate having matched the run.
pub fn one_element_stats(name: &str, o: Op, shape: &[usize]) -> (u64, u64, u32) {
    let n = shape.iter().product();
    let b = Pond::new(2)
        .protocol(ProtocolKind::named("SecureNN").expect("registered"))
        .private(
            "x",
            "alice",
            shape,
            (0..n).map(|i| 0.7 + i as f64).collect(),
        )
        .private("y", "bob", &[1], vec![1.3])
        .op("warm", Op::Relu("x".into()))
        .op(name, o);
    let run = assert_costs_exact(&b);
    let st = &op(&run, name).stats;
    (st.messages, st.bytes, st.rounds)
}

/// The largest |reconstructed − plaintext| of op `name`.
pub fn error(run: &RunResult, name: &str) -> f64 {
    let o = op(run, name);
    assert_eq!(o.reconstructed.len(), o.plaintext.len(), "{name}");
    let err: Vec<f64> = o
        .reconstructed
        .iter()
        .zip(&o.plaintext)
        .map(|(a, b)| a - b)
        .collect();
    max_abs(&err)
}

/// The largest relative error of op `name`: |r − p| / max(|p|, floor).
pub fn relative_error(run: &RunResult, name: &str, floor: f64) -> f64 {
    let o = op(run, name);
    o.reconstructed
        .iter()
        .zip(&o.plaintext)
        .map(|(a, b)| (a - b).abs() / b.abs().max(floor))
        .fold(0.0, f64::max)
}

/// Fixed-point error bounds, derived from how Pond computes each op.
///
/// Let u = 2^−f be one ulp. Three facts give every bound:
/// 1. Encoding rounds to nearest: |enc(x) − x| ≤ u/2.
/// 2. Ring arithmetic on encodings is exact (no wrap-around within the integral bound), so sums
///    add the operands' errors and a product x̃·ỹ of encodings with errors δx, δy is off by
///    |x|·|δy| + |y|·|δx| + |δx·δy| before truncation.
/// 3. Either truncation (dealer-assisted, or local when it does not fail) returns
///    ⌊z / 2^f⌋ or ⌊z / 2^f⌋ + 1, so it adds at most one ulp.
pub mod bounds {
    use protocols::pond::Approximation;

    /// Slack for the f64 shadow's own rounding (far below one ulp at f ≤ 30).
    pub const SHADOW_SLACK: f64 = 1e-9;

    /// One ulp, 2^−f.
    pub fn ulp(frac_bits: u32) -> f64 {
        (2f64).powi(-(frac_bits as i32))
    }

    /// Error of an encoded input: u/2.
    pub fn encoding(u: f64) -> f64 {
        u / 2.0
    }

    /// A sum of `terms` encoded inputs (add, sub, reduce_sum over `terms` elements).
    pub fn sum(terms: usize, u: f64) -> f64 {
        terms as f64 * encoding(u)
    }

    /// A fixed-point product of encoded inputs bounded by `bx` and `by` in magnitude, summed
    /// over `fan_in` terms before one truncation (1 for mul and square, the inner dimension for
    /// matmul, in_c·kh·kw for conv2d).
    pub fn product(fan_in: usize, bx: f64, by: f64, u: f64) -> f64 {
        product_of_results(fan_in, bx, encoding(u), by, encoding(u), u)
    }

    /// A fixed-point product of two values that are themselves results: true magnitudes bounded
    /// by `bx` and `by`, errors bounded by `ex` and `ey`. Each of the `fan_in` terms is off by
    /// at most bx·ey + by·ex + ex·ey; the truncation adds one ulp.
    pub fn product_of_results(fan_in: usize, bx: f64, ex: f64, by: f64, ey: f64, u: f64) -> f64 {
        fan_in as f64 * (bx * ey + by * ex + ex * ey) + u
    }

    /// Average pooling of encoded inputs bounded by `b` over k×k windows: the window sum (k²
    /// encoding errors) times enc(1/k²) (error u/2), then one truncation.
    pub fn avgpool(kernel: usize, b: f64, u: f64) -> f64 {
        let k2 = (kernel * kernel) as f64;
        let sum_err = k2 * encoding(u);
        let inv = 1.0 / k2;
        sum_err * inv + (k2 * b + sum_err) * encoding(u) + sum_err * encoding(u) + u
    }

    /// Error of Pond's evaluation of `approx` at `x` against the same polynomial in f64.
    ///
    /// Powers follow the protocol: x² = x·x and x^k = x^(k−2)·x², each truncated, so with
    /// e_k the error of x^k: e₁ = u/2, e₂ = 2|x|e₁ + e₁² + u and
    /// e_k = |x|^(k−2)·e₂ + |x|²·e_(k−2) + e_(k−2)·e₂ + u. The weighted sum Σ enc(c_k)·x^k is
    /// formed at scale 2f (enc(c_k) off by u/2) and truncated once.
    pub fn polynomial(approx: &Approximation, x: f64, u: f64) -> f64 {
        let ax = x.abs();
        let max_power = approx.terms.iter().map(|t| t.0).max().unwrap_or(0) as usize;
        let mut e = vec![0.0; max_power.max(2) + 1];
        e[1] = encoding(u);
        e[2] = 2.0 * ax * e[1] + e[1] * e[1] + u;
        for k in 3..=max_power {
            e[k] = ax.powi(k as i32 - 2) * e[2] + ax * ax * e[k - 2] + e[k - 2] * e[2] + u;
        }
        let weighted: f64 = approx
            .terms
            .iter()
            .map(|&(k, c)| {
                if k == 0 {
                    encoding(u)
                } else {
                    let k = k as usize;
                    c.abs() * e[k] + encoding(u) * (ax.powi(k as i32) + e[k])
                }
            })
            .sum();
        weighted + u
    }
}
