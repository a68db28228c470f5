//! Additive: every op reconstructed and compared with plaintext over random shapes, values and
//! seeds; every op's bytes, messages and rounds (and its flow of causal depths) equal to the
//! `CostModel`; and the view test (what a server receives does not depend on the secrets; the
//! dealer's view does not depend on them at all).
//!
//! A small threaded harness (the pattern of `securenn.rs`): one thread per party, std mpsc
//! channels per directed link, a [`Context`] that counts messages and bytes and computes causal
//! rounds as PROTOCOLS.md defines them (a message's round is 1 + the highest round its sender had
//! received). Parties 0, 1, 2 are the servers, 3 the dealer, 4 the input provider, 5 the output
//! receiver; every one of them runs the same program through `Additive.party(..)`.

mod harness;

use harness::{Envelope, Link};
use protocols::additive::{cost, Additive};
use protocols::context::{Context, Message, Part, PartyId, RingKind, Traffic, ValueClass};
use protocols::cost::Cost;
use protocols::fixed::FixedConfig;
use protocols::pond::{InputSharing, Truncation};
use protocols::program::{eval_f64, infer_shape, Op};
use protocols::protocol::{Flaw, Held, OpCost, Operand, Protocol, Settings};
use protocols::tensor::{self, Tensor};
use protocols::{ProtocolError, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use std::collections::HashMap;

const SEATS: [PartyId; 4] = [0, 1, 2, 3];
const DEALER: PartyId = 3;
const OWNER: PartyId = 4;
const RECEIVER: PartyId = 5;
const PARTIES: usize = 6;

// ---------------------------------------------------------------- harness

/// One action of a program, as every party runs it.
#[derive(Clone, Debug)]
enum Action {
    /// The owner shares `value` (encoded).
    Input(String, Tensor<u64>),
    /// A public constant every party knows.
    Public(String, Tensor<u64>),
    /// A program op.
    Op(String, Op),
    /// Reveal to the receiver.
    Output(String),
}

/// What one party recorded during one action.
#[derive(Default, Clone, Debug)]
struct Record {
    cost: Cost,
    steps: Vec<String>,
    /// Absolute depth at the start and the end, and the deepest absolute round sent.
    depth_before: u32,
    depth_after: u32,
    deepest_sent: Option<u32>,
    /// Everything received (sender, payload, layout) and recorded as opened or dealt.
    received: Vec<(PartyId, Vec<u8>, Vec<Part>)>,
    opened: Vec<(String, Tensor<u64>)>,
    dealt: Vec<(String, RingKind, Tensor<u64>)>,
    /// What the party holds of the action's value afterwards, and what the receiver got.
    held: Held,
    output: Option<Tensor<u64>>,
}

struct TestCtx {
    link: Link,
    rng: protocols::context::PartyRng,
    depth: u32,
    abs_depth: u32,
    rec: Record,
}

impl Context for TestCtx {
    fn me(&self) -> PartyId {
        self.link.me
    }
    fn send(&mut self, to: PartyId, _label: &str, traffic: Traffic, msg: Message) -> Result<()> {
        let (payload, parts) = msg.into_parts();
        let bytes = payload.len() as u64;
        let (round, abs_round) = match traffic {
            Traffic::Online => {
                self.rec.cost.messages += 1;
                self.rec.cost.bytes += bytes;
                let r = self.depth + 1;
                self.rec.cost.rounds = self.rec.cost.rounds.max(r);
                let a = self.abs_depth + 1;
                self.rec.deepest_sent = self.rec.deepest_sent.max(Some(a));
                (r, a)
            }
            Traffic::Offline => {
                self.rec.cost.offline_messages += 1;
                self.rec.cost.offline_bytes += bytes;
                (0, 0)
            }
        };
        self.link.send(
            to,
            Envelope {
                payload,
                parts,
                traffic,
                round,
                abs_round,
            },
        )
    }
    fn recv(&mut self, from: PartyId) -> Result<Vec<u8>> {
        let env = self.link.recv(from)?;
        if env.traffic == Traffic::Online {
            self.depth = self.depth.max(env.round);
            self.abs_depth = self.abs_depth.max(env.abs_round);
        }
        self.rec
            .received
            .push((from, env.payload.clone(), env.parts));
        Ok(env.payload)
    }
    fn rng(&mut self) -> &mut protocols::context::PartyRng {
        &mut self.rng
    }
    fn step(&mut self, name: &str) -> Result<()> {
        self.rec.steps.push(name.to_string());
        Ok(())
    }
    fn record(&mut self, class: ValueClass, label: &str, kind: RingKind, value: &Tensor<u64>) {
        match class {
            ValueClass::Share => {}
            ValueClass::Opened => self.rec.opened.push((label.to_string(), value.clone())),
            ValueClass::Dealt => self
                .rec
                .dealt
                .push((label.to_string(), kind, value.clone())),
        }
    }
    fn charge(&mut self, _ring_ops: u64) {}
}

/// A run: `records[p][k]` is what party p recorded in action k.
struct Run {
    records: Vec<Vec<Record>>,
}

/// Runs `program` on all six parties with `settings`; `flaw` plants one at every party.
fn run_with(program: &[Action], settings: &Settings, seed: u64, flaw: bool) -> Run {
    let records: Vec<Vec<Record>> = harness::spawn(PARTIES, seed, |link, rng| {
        let me = link.me;
        let mut ctx = TestCtx {
            link,
            rng,
            depth: 0,
            abs_depth: 0,
            rec: Record::default(),
        };
        let mut party = Additive.party(me, &SEATS, settings);
        party.plant(Flaw::ReuseMask, flaw);
        let mut out = Vec::new();
        for action in program {
            ctx.depth = 0;
            ctx.rec = Record {
                depth_before: ctx.abs_depth,
                ..Record::default()
            };
            let name = match action {
                Action::Input(name, v) => {
                    let shape = v.shape().to_vec();
                    let value = (me == OWNER).then(|| v.clone().into());
                    party
                        .share_input(&mut ctx, name, OWNER, &shape, value.as_ref())
                        .expect("input");
                    name
                }
                Action::Public(name, v) => {
                    party.set_public(name, v.clone().into()).expect("public");
                    name
                }
                Action::Op(name, op) => {
                    party.run_op(&mut ctx, name, op).expect("op runs");
                    name
                }
                Action::Output(name) => {
                    ctx.rec.output = party
                        .reveal_to(&mut ctx, name, RECEIVER)
                        .expect("output")
                        .map(|v| v.as_z64().expect("over Z_2^64").clone());
                    name
                }
            };
            ctx.rec.held = party.held(name);
            ctx.rec.depth_after = ctx.abs_depth;
            out.push(std::mem::take(&mut ctx.rec));
        }
        out
    });
    for p in 1..PARTIES {
        for (k, r) in records[p].iter().enumerate() {
            assert_eq!(
                r.steps, records[0][k].steps,
                "party {p} walks the steps of party 0 in action {k}"
            );
        }
    }
    Run { records }
}

fn settings() -> Settings {
    Settings::default()
}

fn run(program: &[Action], seed: u64) -> Run {
    run_with(program, &settings(), seed, false)
}

impl Run {
    /// The value of action `k`, reconstructed from what every party holds.
    fn value(&self, k: usize) -> Tensor<u64> {
        let held: Vec<Held> = self.records.iter().map(|r| r[k].held.clone()).collect();
        Additive
            .reconstruct(&SEATS, &held)
            .and_then(|v| v.as_z64().cloned())
            .unwrap_or_else(|| panic!("action {k} reconstructs"))
    }
}

// ---------------------------------------------------------------- plaintext and costs

/// Shapes and publicness of a program's values, and the plaintext (encoded) of each.
#[derive(Default)]
struct Plain {
    values: HashMap<String, (Tensor<u64>, bool)>,
}

fn decode(t: &Tensor<u64>) -> ndarray::ArrayD<f64> {
    let c = FixedConfig::default();
    t.mapv(|v| c.decode(v))
}

/// The exact plaintext of `op` on encodings: ring arithmetic, products shifted by f.
fn plain_op(op: &Op, args: &[&Tensor<u64>]) -> Tensor<u64> {
    let f = FixedConfig::default().frac_bits;
    let shift = |t: Tensor<u64>| t.mapv(|v| ((v as i64) >> f) as u64);
    match op {
        Op::Add(..) => tensor::add(args[0], args[1]).unwrap(),
        Op::Sub(..) => tensor::sub(args[0], args[1]).unwrap(),
        Op::Neg(_) => tensor::neg(args[0]),
        Op::Mul(..) => shift(tensor::mul(args[0], args[1]).unwrap()),
        Op::Square(_) => shift(tensor::mul(args[0], args[0]).unwrap()),
        Op::MatMul(..) => shift(tensor::matmul(args[0], args[1]).unwrap()),
        Op::ReduceSum { axis, .. } => {
            let shapes: Vec<&[usize]> = args.iter().map(|a| a.shape()).collect();
            let out = infer_shape(op, &shapes).unwrap();
            tensor::reshape(&tensor::reduce_sum(args[0], *axis), &out).unwrap()
        }
        Op::Transpose(_) => tensor::transpose(args[0]),
        Op::Reshape { shape, .. } => tensor::reshape(args[0], shape).unwrap(),
        Op::Flatten(_) => {
            let s = args[0].shape();
            tensor::reshape(args[0], &[s[0], s[1..].iter().product()]).unwrap()
        }
        Op::Reveal(_) => args[0].clone(),
        _ => unreachable!("not an Additive op"),
    }
}

/// Checks every action of `run` against plaintext and the cost model; returns the number of
/// values checked.
fn check(program: &[Action], run: &Run, settings: &Settings) -> usize {
    let mut plain = Plain::default();
    let mut model = Additive.cost_model(settings);
    let mut checked = 0;
    for (k, action) in program.iter().enumerate() {
        let (want, predicted): (Option<(Tensor<u64>, u64)>, Option<OpCost>) = match action {
            Action::Input(name, v) => {
                plain.values.insert(name.clone(), (v.clone(), false));
                (Some((v.clone(), 0)), Some(model.input(name, v.shape())))
            }
            Action::Public(name, v) => {
                plain.values.insert(name.clone(), (v.clone(), true));
                (None, None)
            }
            Action::Op(name, op) => {
                let args: Vec<(Tensor<u64>, bool)> = op
                    .operands()
                    .iter()
                    .map(|n| plain.values[*n].clone())
                    .collect();
                let operands: Vec<Operand> = op
                    .operands()
                    .into_iter()
                    .zip(&args)
                    .map(|(n, (v, public))| Operand {
                        name: n,
                        shape: v.shape(),
                        public: *public,
                    })
                    .collect();
                let refs: Vec<&Tensor<u64>> = args.iter().map(|a| &a.0).collect();
                let z = plain_op(op, &refs);
                let cost = model.op(name, op, &operands, z.shape()).expect("costed");
                let public = matches!(op, Op::Reveal(_)) || args.iter().all(|a| a.1);
                // Products are off by at most one ulp (dealer truncation).
                let tolerance = u64::from(Additive.truncates(op) && !public);
                // The f64 meaning agrees within the encoding's error.
                let reals: Vec<_> = refs.iter().map(|t| decode(t)).collect();
                let real_refs: Vec<_> = reals.iter().collect();
                let exact = eval_f64(op, &real_refs);
                let inner = match op {
                    Op::MatMul(..) => refs[0].shape()[1] as f64,
                    _ => 1.0,
                };
                for (a, b) in exact.iter().zip(decode(&z).iter()) {
                    assert!(
                        (a - b).abs() <= (inner + 1.0) / 65536.0,
                        "{op:?}: {a} vs {b}"
                    );
                }
                plain.values.insert(name.clone(), (z.clone(), public));
                (Some((z, tolerance)), Some(cost))
            }
            Action::Output(name) => {
                let (v, public) = plain.values[name].clone();
                let got = run.records[RECEIVER][k].output.clone().expect("receiver");
                assert_eq!(got, v, "output of {name}");
                for p in (0..PARTIES).filter(|&p| p != RECEIVER) {
                    assert!(run.records[p][k].output.is_none());
                }
                (None, Some(model.output(name, public, v.shape())))
            }
        };
        if let Some((want, tol)) = want {
            let got = run.value(k);
            assert_eq!(got.shape(), want.shape(), "action {k}: {action:?}");
            for (g, w) in got.iter().zip(want.iter()) {
                let d = (g.wrapping_sub(*w) as i64).unsigned_abs();
                assert!(d <= tol, "action {k} {action:?}: got {g}, want {w}");
            }
            checked += 1;
            // Later ops are checked on what this one really produced (its ulp included), so
            // each op is checked alone.
            if let Action::Op(name, _) = action {
                plain.values.get_mut(name).expect("stored").0 = got;
            }
        }
        if let Some(p) = predicted {
            check_cost(run, k, &p, action);
        }
    }
    checked
}

/// The run's accounting of action `k` equals the model: bytes, messages, rounds, and the flow
/// of every seat's causal depth.
fn check_cost(run: &Run, k: usize, p: &OpCost, action: &Action) {
    let mut total = Cost::ZERO;
    for r in &run.records {
        let c = r[k].cost;
        total.bytes += c.bytes;
        total.messages += c.messages;
        total.offline_bytes += c.offline_bytes;
        total.offline_messages += c.offline_messages;
        total.rounds = total.rounds.max(c.rounds);
    }
    assert_eq!(total, p.cost, "action {k}: {action:?}");
    if p.from_outside.is_empty() && p.to_outside.is_empty() {
        assert_eq!(p.flow.rounds(), p.cost.rounds, "flow rounds, {action:?}");
    }
    let before: Vec<u32> = SEATS
        .iter()
        .map(|&s| run.records[s][k].depth_before)
        .collect();
    let after: Vec<u32> = SEATS
        .iter()
        .map(|&s| run.records[s][k].depth_after)
        .collect();
    let (mut want, deepest) = p.flow.apply(&before);
    let owner = run.records[OWNER][k].depth_before;
    for &s in &p.from_outside {
        want[s] = want[s].max(owner + 1);
    }
    assert_eq!(after, want, "seat depths after {action:?}");
    let sent = SEATS
        .iter()
        .filter_map(|&s| run.records[s][k].deepest_sent)
        .max();
    if p.from_outside.is_empty() && p.to_outside.is_empty() {
        assert_eq!(sent, deepest, "deepest round of {action:?}");
    }
    if !p.to_outside.is_empty() {
        let senders = p.to_outside.iter().map(|&s| after[s]).max().unwrap();
        let rec = &run.records[RECEIVER][k];
        assert_eq!(rec.depth_after, rec.depth_before.max(senders + 1));
    }
}

// ---------------------------------------------------------------- random programs

fn rand_shape(rng: &mut ChaCha20Rng, rank: usize) -> Vec<usize> {
    (0..rank).map(|_| rng.gen_range(1..5)).collect()
}

/// Encoded values uniform in [−range, range] with f fractional bits of precision.
fn rand_values(rng: &mut ChaCha20Rng, shape: &[usize], range: f64) -> Tensor<u64> {
    let c = FixedConfig::default();
    let n = tensor::numel(shape);
    let v: Vec<u64> = (0..n)
        .map(|_| c.encode(rng.gen_range(-range..=range)))
        .collect();
    Tensor::from_shape_vec(shape.to_vec(), v).unwrap()
}

fn input(name: &str, v: Tensor<u64>) -> Action {
    Action::Input(name.into(), v)
}
fn public(name: &str, v: Tensor<u64>) -> Action {
    Action::Public(name.into(), v)
}
fn op(name: &str, op: Op) -> Action {
    Action::Op(name.into(), op)
}
fn s(n: &str) -> String {
    n.to_string()
}

/// A program exercising every op, with random shapes and values, private and public operands.
fn random_program(seed: u64) -> Vec<Action> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let rank = rng.gen_range(1..4);
    let sx = rand_shape(&mut rng, rank);
    // y broadcasts against x: some of its axes are 1, or it has fewer of them.
    let mut sy: Vec<usize> = sx.iter().map(|&d| if rng.gen() { d } else { 1 }).collect();
    if rng.gen() {
        sy.remove(0);
        if sy.is_empty() {
            sy.push(1);
        }
    }
    let (m, kk, n) = (
        rng.gen_range(1..5),
        rng.gen_range(1..5),
        rng.gen_range(1..5),
    );
    let mut p = vec![
        input("x", rand_values(&mut rng, &sx, 16.0)),
        input("y", rand_values(&mut rng, &sy, 16.0)),
        public("c", rand_values(&mut rng, &sy, 16.0)),
        input("a", rand_values(&mut rng, &[m, kk], 8.0)),
        input("b", rand_values(&mut rng, &[kk, n], 8.0)),
        public("w", rand_values(&mut rng, &[kk, n], 8.0)),
        public("v", rand_values(&mut rng, &[m, kk], 8.0)),
        op("add", Op::Add(s("x"), s("y"))),
        op("sub", Op::Sub(s("y"), s("x"))),
        op("neg", Op::Neg(s("x"))),
        op("add_pub", Op::Add(s("x"), s("c"))),
        op("pub_add", Op::Add(s("c"), s("x"))),
        op("sub_pub", Op::Sub(s("x"), s("c"))),
        op("pub_sub", Op::Sub(s("c"), s("x"))),
        op("pub_pub", Op::Sub(s("c"), s("c"))),
        op("neg_pub", Op::Neg(s("c"))),
        op("mul", Op::Mul(s("x"), s("y"))),
        op("mul_pub", Op::Mul(s("x"), s("c"))),
        op("pub_mul", Op::Mul(s("c"), s("y"))),
        op("pub_pub_mul", Op::Mul(s("c"), s("c"))),
        op("mul_self", Op::Mul(s("x"), s("x"))),
        op("square", Op::Square(s("y"))),
        op("matmul", Op::MatMul(s("a"), s("b"))),
        op("matmul_pub", Op::MatMul(s("a"), s("w"))),
        op("pub_matmul", Op::MatMul(s("v"), s("b"))),
        op(
            "sum",
            Op::ReduceSum {
                input: s("x"),
                axis: None,
            },
        ),
        op(
            "sum_axis",
            Op::ReduceSum {
                input: s("x"),
                axis: Some(rng.gen_range(0..rank)),
            },
        ),
        op("t", Op::Transpose(s("a"))),
        op(
            "r",
            Op::Reshape {
                input: s("a"),
                shape: vec![m * kk],
            },
        ),
        op("fl", Op::Flatten(s("matmul"))),
        // A chain: products of products, truncated each time.
        op("chain", Op::Mul(s("mul"), s("add"))),
        op("opened", Op::Reveal(s("chain"))),
        op("opened_pub", Op::Reveal(s("c"))),
        op("after_open", Op::Mul(s("opened"), s("x"))),
        Action::Output(s("matmul")),
        Action::Output(s("opened")),
    ];
    if rng.gen() {
        p.push(Action::Output(s("c")));
    }
    p
}

// ---------------------------------------------------------------- tests

#[test]
fn every_op_reconstructs_to_plaintext_at_the_modelled_cost() {
    let mut checked = 0;
    for seed in 0..40 {
        let program = random_program(seed);
        checked += check(&program, &run(&program, seed), &settings());
    }
    assert!(checked >= 40 * 30, "{checked}");
}

#[test]
fn dense_input_sharing_and_another_fixed_point_cost_what_the_model_says() {
    let settings = Settings {
        input_sharing: InputSharing::Dense,
        ..Settings::default()
    };
    for seed in 100..110 {
        let program = random_program(seed);
        check(
            &program,
            &run_with(&program, &settings, seed, false),
            &settings,
        );
    }
}

#[test]
fn reveal_opens_to_the_servers_only() {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let x = rand_values(&mut rng, &[3, 2], 100.0);
    let program = vec![input("x", x.clone()), op("o", Op::Reveal(s("x")))];
    let r = run(&program, 7);
    for p in 0..3 {
        assert_eq!(r.records[p][1].held, Held::Public(x.clone().into()));
    }
    for p in [DEALER, OWNER, RECEIVER] {
        assert_eq!(r.records[p][1].held, Held::Nothing);
    }
    // Before the reveal each server holds one uniform-looking share, and none equals x.
    for p in 0..3 {
        let Held::Shares(sh) = &r.records[p][0].held else {
            panic!("server {p} holds a share")
        };
        assert_eq!(sh.len(), 1);
        assert_ne!(sh[0], x);
    }
}

#[test]
fn the_rows_of_docs_costs_md_for_a_2x3_by_3x4_matmul() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let program = vec![
        input("a", rand_values(&mut rng, &[2, 3], 4.0)),
        input("b", rand_values(&mut rng, &[3, 4], 4.0)),
        op("z", Op::MatMul(s("a"), s("b"))),
        op("q", Op::Square(s("a"))),
        Action::Output(s("z")),
    ];
    let r = run(&program, 3);
    let total = |k: usize| {
        r.records.iter().fold(Cost::ZERO, |mut t, rec| {
            let c = rec[k].cost;
            t.bytes += c.bytes;
            t.messages += c.messages;
            t.offline_bytes += c.offline_bytes;
            t.offline_messages += c.offline_messages;
            t.rounds = t.rounds.max(c.rounds);
            t
        })
    };
    // Input of 6 elements, seeded: 2 seeds + 48 B.
    assert_eq!(
        (total(0).bytes, total(0).messages, total(0).rounds),
        (112, 3, 1)
    );
    // Matmul: triple 2·32 + 8·(6 + 12 + 8) = 272 offline, pair 2·32 + 16·8 = 192; online
    // 6·8·18 = 864 for e, f and 6·8·8 = 384 for z + r; 12 messages, 2 rounds.
    let z = total(2);
    assert_eq!(
        z,
        Cost {
            bytes: 1248,
            offline_bytes: 464,
            messages: 12,
            offline_messages: 6,
            rounds: 2
        }
    );
    assert_eq!(z, cost::product_private(6, 12, 8));
    // Square of 6: one mask: triple 64 + 8·(6 + 6), e alone 6·48; pair 64 + 96, z + r 6·48.
    let q = total(3);
    assert_eq!((q.bytes, q.offline_bytes), (576, 160 + 160));
    // Output of 8 elements: three shares of 64 B.
    assert_eq!((total(4).bytes, total(4).messages), (192, 3));
}

#[test]
fn local_truncation_is_refused_with_a_reason() {
    let settings = Settings {
        truncation: Truncation::Local,
        ..Settings::default()
    };
    let why = Additive.check_settings(&settings).unwrap_err();
    assert!(why.contains("Dealer") && why.contains("Pond"), "{why}");
    let mut model = Additive.cost_model(&settings);
    let shape = [2usize];
    let x = Operand {
        name: "x",
        shape: &shape,
        public: false,
    };
    let err = model
        .op("z", &Op::Square(s("x")), &[x], &shape)
        .unwrap_err();
    assert!(
        err.starts_with("`z`: Additive truncates with the dealer only"),
        "{err}"
    );
    // Linear ops are fine under the same settings.
    assert!(model.op("n", &Op::Neg(s("x")), &[x], &shape).is_ok());
    assert!(Additive.check_settings(&Settings::default()).is_ok());
}

#[test]
fn unsupported_ops_are_refused_by_the_party_too() {
    let mut ctx_party = Additive.party(0, &SEATS, &settings());
    struct Nowhere;
    impl Context for Nowhere {
        fn me(&self) -> PartyId {
            0
        }
        fn send(&mut self, _: PartyId, _: &str, _: Traffic, _: Message) -> Result<()> {
            panic!("nothing is sent for a refused op")
        }
        fn recv(&mut self, _: PartyId) -> Result<Vec<u8>> {
            panic!("nothing is received for a refused op")
        }
        fn rng(&mut self) -> &mut protocols::context::PartyRng {
            unreachable!()
        }
        fn step(&mut self, _: &str) -> Result<()> {
            panic!("no step starts for a refused op")
        }
        fn record(&mut self, _: ValueClass, _: &str, _: RingKind, _: &Tensor<u64>) {}
        fn charge(&mut self, _: u64) {}
    }
    ctx_party
        .set_public("x", tensor::zeros::<u64>(&[2]).into())
        .unwrap();
    let err = ctx_party
        .run_op(&mut Nowhere, "r", &Op::Relu(s("x")))
        .unwrap_err();
    assert!(
        matches!(&err, ProtocolError::Unsupported(m) if m.contains("SecureNN")),
        "{err}"
    );
}

// ---------------------------------------------------------------- views

/// The features of one server's view in one run: for each received message and each opened
/// value (by position), the low, the high and a mixed byte of every element; and for each pair
/// of opened values of one shape recorded in one action, the same of their difference (a reused
/// mask makes e − f = x − y).
fn features(run: &Run, party: PartyId) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let bytes = |t: &Tensor<u64>, name: String, out: &mut Vec<(String, Vec<u8>)>| {
        out.push((format!("{name} low"), t.iter().map(|v| *v as u8).collect()));
        out.push((
            format!("{name} high"),
            t.iter().map(|v| (v >> 56) as u8).collect(),
        ));
        // A byte that depends on all 64 bits: uniform for a uniform element, and far from it
        // for a value that is fixed or structured (a low-entropy secret in the middle bits).
        out.push((
            format!("{name} mixed"),
            t.iter()
                .map(|v| (v.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8)
                .collect(),
        ));
    };
    for (k, rec) in run.records[party].iter().enumerate() {
        for (m, (from, payload, parts)) in rec.received.iter().enumerate() {
            let mut off = 0;
            for (j, part) in parts.iter().enumerate() {
                let chunk = &payload[off..off + part.bytes()];
                off += part.bytes();
                let name = format!("action {k} message {m} from {from} part {j}");
                if part.kind == RingKind::Seed {
                    out.push((name, chunk.to_vec()));
                } else {
                    bytes(
                        &tensor::decode(chunk, &part.shape, *from).unwrap(),
                        name,
                        &mut out,
                    );
                }
            }
        }
        for (j, (label, v)) in rec.opened.iter().enumerate() {
            bytes(v, format!("action {k} opened {j} ({label})"), &mut out);
            for (label2, w) in rec.opened.iter().skip(j + 1) {
                if v.shape() == w.shape() {
                    let d = tensor::sub(v, w).unwrap();
                    bytes(&d, format!("action {k} {label} − {label2}"), &mut out);
                }
            }
        }
    }
    out
}

/// Two-sample chi-square statistic over 256 byte bins, with its degrees of freedom.
fn chi_square(a: &[u8], b: &[u8]) -> (f64, usize) {
    let (mut ha, mut hb) = ([0f64; 256], [0f64; 256]);
    a.iter().for_each(|&v| ha[v as usize] += 1.0);
    b.iter().for_each(|&v| hb[v as usize] += 1.0);
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (ka, kb) = ((nb / na).sqrt(), (na / nb).sqrt());
    let mut stat = 0.0;
    let mut bins = 0;
    for i in 0..256 {
        if ha[i] + hb[i] > 0.0 {
            stat += (ka * ha[i] - kb * hb[i]).powi(2) / (ha[i] + hb[i]);
            bins += 1;
        }
    }
    (stat, bins.max(2) - 1)
}

/// The chi-square value a statistic with `dof` degrees of freedom exceeds with probability
/// about 1e-7 (Wilson–Hilferty).
fn critical(dof: usize) -> f64 {
    let k = dof as f64;
    let z = 5.2;
    k * (1.0 - 2.0 / (9.0 * k) + z * (2.0 / (9.0 * k)).sqrt()).powi(3)
}

/// For each of `parties`, the features whose distribution differs between the programs `a` and
/// `b` over `seeds` runs each.
fn leaking_features(
    a: &[Action],
    b: &[Action],
    parties: &[PartyId],
    seeds: std::ops::Range<u64>,
    flaw: bool,
) -> Vec<Vec<String>> {
    type Pool = Vec<(String, Vec<u8>, Vec<u8>)>;
    let mut pooled: Vec<Pool> = vec![Vec::new(); parties.len()];
    for seed in seeds {
        let (ra, rb) = (
            run_with(a, &settings(), seed, flaw),
            run_with(b, &settings(), seed + 1_000_000, flaw),
        );
        for (pool, &party) in pooled.iter_mut().zip(parties) {
            let (fa, fb) = (features(&ra, party), features(&rb, party));
            if pool.is_empty() {
                *pool = fa
                    .iter()
                    .map(|(n, _)| (n.clone(), vec![], vec![]))
                    .collect();
            }
            assert_eq!(
                fa.len(),
                pool.len(),
                "the view's layout does not depend on the secret"
            );
            assert_eq!(fb.len(), pool.len());
            for (p, ((_, x), (_, y))) in pool.iter_mut().zip(fa.into_iter().zip(fb)) {
                p.1.extend(x);
                p.2.extend(y);
            }
        }
    }
    pooled
        .into_iter()
        .map(|pool| {
            pool.into_iter()
                .filter_map(|(name, x, y)| {
                    let (stat, dof) = chi_square(&x, &y);
                    (stat > critical(dof)).then(|| format!("{name}: χ² = {stat:.0} on {dof} dof"))
                })
                .collect()
        })
        .collect()
}

/// The view program: two secrets x, y of one shape; every op that sends something except the
/// reveals and outputs (whose results the parties are meant to learn).
fn view_program(x: Tensor<u64>, y: Tensor<u64>, m: Tensor<u64>) -> Vec<Action> {
    let c = x.mapv(|_| FixedConfig::default().encode(1.5));
    vec![
        input("x", x),
        input("y", y),
        input("m", m),
        public("c", c),
        op("xy", Op::Mul(s("x"), s("y"))),
        op("sq", Op::Square(s("x"))),
        op("xc", Op::Mul(s("x"), s("c"))),
        op("sum", Op::Add(s("xy"), s("c"))),
        op("mm", Op::MatMul(s("m"), s("m"))),
    ]
}

fn secrets(which: u64) -> Vec<Action> {
    let enc = |v: f64| FixedConfig::default().encode(v);
    let t = |v: Vec<f64>, shape: &[usize]| {
        Tensor::from_shape_vec(shape.to_vec(), v.into_iter().map(enc).collect()).unwrap()
    };
    match which {
        0 => view_program(
            t(vec![0.0; 16], &[16]),
            t(vec![0.0; 16], &[16]),
            t(vec![0.0; 16], &[4, 4]),
        ),
        _ => view_program(
            t((0..16).map(|i| 30.0 - 3.5 * i as f64).collect(), &[16]),
            t((0..16).map(|i| -1.25 * i as f64).collect(), &[16]),
            t((0..16).map(|i| (i % 5) as f64 - 2.0).collect(), &[4, 4]),
        ),
    }
}

#[test]
fn a_servers_view_does_not_depend_on_the_secrets() {
    let (a, b) = (secrets(0), secrets(1));
    let leaks = leaking_features(&a, &b, &[0, 1, 2], 0..150, false);
    for (server, l) in leaks.iter().enumerate() {
        assert!(l.is_empty(), "server{server} leaks: {l:#?}");
    }
}

#[test]
fn the_view_test_catches_a_reused_mask_and_an_output() {
    // With the planted flaw the dealer deals b = a for x and y, and e − f = x − y is opened.
    let (a, b) = (secrets(0), secrets(1));
    let leaks = leaking_features(&a[..5], &b[..5], &[1], 0..30, true).remove(0);
    assert!(
        leaks
            .iter()
            .any(|l| l.contains("e = x − a (masked x) − f = y − b")),
        "{leaks:#?}"
    );
    // The receiver of an output is meant to learn it, and the test sees that it does.
    let mut oa = a[..1].to_vec();
    let mut ob = b[..1].to_vec();
    oa.push(Action::Output(s("x")));
    ob.push(Action::Output(s("x")));
    let sums = |prog: &[Action], seed: u64| {
        let r = run(prog, seed);
        r.records[RECEIVER][1].output.clone().unwrap()
    };
    // The sum of the three received shares is x itself: the chi-square of its integer part's
    // low byte tells the two secrets apart.
    let bytes = |prog: &[Action]| -> Vec<u8> {
        (0..30)
            .flat_map(|seed| {
                sums(prog, seed)
                    .iter()
                    .map(|v| (v >> 16) as u8)
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let (xa, xb) = (bytes(&oa), bytes(&ob));
    let (stat, dof) = chi_square(&xa, &xb);
    assert!(stat > critical(dof), "χ² = {stat} on {dof}");
}

#[test]
fn the_dealers_view_is_the_same_bit_for_bit_whatever_the_secrets() {
    let (a, b) = (secrets(0), secrets(1));
    for seed in 0..20 {
        let (ra, rb) = (run(&a, seed), run(&b, seed));
        for (k, (x, y)) in ra.records[DEALER]
            .iter()
            .zip(&rb.records[DEALER])
            .enumerate()
        {
            assert!(
                x.received.is_empty() && x.opened.is_empty(),
                "the dealer hears nothing"
            );
            assert_eq!(x.dealt, y.dealt, "seed {seed}, action {k}");
            assert_eq!(x.held, y.held);
        }
        // And it does deal: a triple and a pair per private product.
        let dealt: usize = ra.records[DEALER].iter().map(|r| r.dealt.len()).sum();
        // x·y: a, b, c, r, r >> f; x²: a, c, r, r >> f; x·1.5: r, r >> f; m·m: a, c, r, r >> f.
        assert_eq!(dealt, 5 + 4 + 2 + 4);
    }
}

#[test]
fn a_party_without_its_seats_refuses_instead_of_sending_nowhere() {
    let mut party = Additive.party(0, &SEATS[..2], &settings());
    party
        .set_public("x", tensor::zeros::<u64>(&[2]).into())
        .unwrap();
    let mut rng = protocols::context::PartyRng::seed_from_u64(0);
    struct Silent<'a>(&'a mut protocols::context::PartyRng);
    impl Context for Silent<'_> {
        fn me(&self) -> PartyId {
            0
        }
        fn send(&mut self, _: PartyId, _: &str, _: Traffic, _: Message) -> Result<()> {
            panic!("nothing is sent")
        }
        fn recv(&mut self, _: PartyId) -> Result<Vec<u8>> {
            panic!("nothing is received")
        }
        fn rng(&mut self) -> &mut protocols::context::PartyRng {
            self.0
        }
        fn step(&mut self, _: &str) -> Result<()> {
            Ok(())
        }
        fn record(&mut self, _: ValueClass, _: &str, _: RingKind, _: &Tensor<u64>) {}
        fn charge(&mut self, _: u64) {}
    }
    let err = party
        .run_op(&mut Silent(&mut rng), "o", &Op::Reveal(s("x")))
        .unwrap_err();
    assert!(err.to_string().contains("4 seats"), "{err}");
    let err = party
        .share_input(&mut Silent(&mut rng), "y", 4, &[1], None)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("server0, server1, server2, dealer"),
        "{err}"
    );
}
