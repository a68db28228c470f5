//! ABY3's arithmetic part: every op reconstructed and compared with plaintext over many random
//! shapes, values and seeds; its exact costs against the `CostModel`; and the servers' views.
//!
//! A small threaded harness (after `securenn.rs`'): one thread per party, std mpsc channels per
//! directed link, a [`Context`] that counts messages and bytes and computes causal rounds as
//! PROTOCOLS.md defines them (a message's round is 1 + the highest round its sender had received;
//! online and offline traffic each have their own depth, restarted for each action).

mod harness;

use harness::{Costs, Link, Meter};
use protocols::aby3::{self, cost, rep, Aby3};
use protocols::context::{Context, Message, Part, PartyId, RingKind, Traffic, ValueClass};
use protocols::encoded::Encoded;
use protocols::fixed::FixedConfig;
use protocols::pond::{InputSharing, Truncation};
use protocols::program::{infer_shape, Op};
use protocols::protocol::{self as proto, Held, Operand, Protocol, Settings};
use protocols::tensor::{self, Tensor};
use protocols::Result;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use std::collections::HashMap;

// ---------------------------------------------------------------- harness

/// Seats: server0 = party 2, server1 = party 0, server2 = party 3 (not the identity, so the
/// seat mapping is exercised); party 1 is the input provider, party 4 the output receiver.
const SEATS: [PartyId; 3] = [2, 0, 3];
const OWNER: PartyId = 1;
const RECEIVER: PartyId = 4;
const PARTIES: usize = 5;

/// One received message: sender, payload, layout.
type Received = (PartyId, Vec<u8>, Vec<Part>);

struct TestCtx {
    link: Link,
    rng: protocols::context::PartyRng,
    meter: Meter,
    steps: Vec<String>,
    received: Vec<Received>,
    opened: Vec<(String, Tensor<u64>)>,
}

impl Context for TestCtx {
    fn me(&self) -> PartyId {
        self.link.me
    }
    fn send(&mut self, to: PartyId, _label: &str, traffic: Traffic, msg: Message) -> Result<()> {
        self.link.send_metered(&mut self.meter, to, traffic, msg)
    }
    fn recv(&mut self, from: PartyId) -> Result<Vec<u8>> {
        let env = self.link.recv_metered(&mut self.meter, from)?;
        self.received.push((from, env.payload.clone(), env.parts));
        Ok(env.payload)
    }
    fn rng(&mut self) -> &mut protocols::context::PartyRng {
        &mut self.rng
    }
    fn step(&mut self, name: &str) -> Result<()> {
        self.steps.push(name.to_string());
        Ok(())
    }
    fn record(&mut self, class: ValueClass, label: &str, _kind: RingKind, value: &Tensor<u64>) {
        if class == ValueClass::Opened {
            self.opened.push((label.to_string(), value.clone()));
        }
    }
    fn charge(&mut self, _ring_ops: u64) {}
}

/// One action of a script.
#[derive(Debug, Clone)]
enum Act {
    /// The owner shares an input.
    Input(String, Tensor<u64>),
    /// A public value every party knows.
    Public(String, Tensor<u64>),
    /// A program op.
    Op(String, Op),
    /// Output to the receiver.
    Output(String),
}

/// What a run returns.
struct Run {
    /// Per action: the summed costs.
    costs: Vec<Costs>,
    /// Per party, per value: what it held at the end.
    held: Vec<HashMap<String, Held>>,
    /// What the receiver got, per output.
    outputs: Vec<Tensor<u64>>,
    /// Per party: everything it received, per action.
    received: Vec<Vec<Vec<Received>>>,
    /// Per party: every step name it walked.
    steps: Vec<Vec<String>>,
}

fn names(script: &[Act]) -> Vec<String> {
    script
        .iter()
        .filter_map(|a| match a {
            Act::Input(n, _) | Act::Public(n, _) | Act::Op(n, _) => Some(n.clone()),
            Act::Output(_) => None,
        })
        .collect()
}

/// Runs `script` under ABY3 with `settings` at every party.
fn run(settings: &Settings, seed: u64, script: &[Act]) -> Run {
    let all = names(script);
    let results: Vec<_> = harness::spawn(PARTIES, seed, |link, rng| {
        let me = link.me;
        let mut ctx = TestCtx {
            link,
            rng,
            meter: Meter::default(),
            steps: vec![],
            received: vec![],
            opened: vec![],
        };
        let mut party = Aby3.party(me, &SEATS, settings);
        let mut costs = vec![];
        let mut received = vec![];
        let mut outputs = vec![];
        for act in script {
            ctx.meter.begin();
            match act {
                Act::Input(name, v) => party
                    .share_input(
                        &mut ctx,
                        name,
                        OWNER,
                        v.shape(),
                        (me == OWNER).then(|| v.clone().into()).as_ref(),
                    )
                    .expect("input"),
                Act::Public(name, v) => party.set_public(name, v.clone().into()).expect("public"),
                Act::Op(name, op) => party.run_op(&mut ctx, name, op).expect("op runs"),
                Act::Output(name) => {
                    if let Some(v) = party.reveal_to(&mut ctx, name, RECEIVER).expect("output") {
                        outputs.push(v.as_z64().expect("over Z_2^64").clone());
                    }
                }
            }
            costs.push(ctx.meter.costs);
            received.push(std::mem::take(&mut ctx.received));
        }
        let held: HashMap<String, Held> = all.iter().map(|n| (n.clone(), party.held(n))).collect();
        (costs, held, outputs, received, ctx.steps)
    });
    let mut costs = vec![Costs::default(); script.len()];
    let mut out = Run {
        costs: vec![],
        held: vec![],
        outputs: vec![],
        received: vec![],
        steps: vec![],
    };
    for (c, held, outputs, received, steps) in results {
        for (k, ck) in c.iter().enumerate() {
            costs[k].merge(ck);
        }
        out.held.push(held);
        if !outputs.is_empty() {
            out.outputs = outputs;
        }
        out.received.push(received);
        out.steps.push(steps);
    }
    for p in 1..PARTIES {
        assert_eq!(
            out.steps[p], out.steps[0],
            "every party walks the same steps"
        );
    }
    out.costs = costs;
    out
}

impl Run {
    /// The reconstructed value `name`.
    fn value(&self, name: &str) -> Tensor<u64> {
        let held: Vec<Held> = (0..PARTIES).map(|p| self.held[p][name].clone()).collect();
        Aby3.reconstruct(&SEATS, &held)
            .and_then(|v| v.as_z64().cloned())
            .unwrap_or_else(|| panic!("`{name}` reconstructs"))
    }
}

/// The costs the model predicts for each action of `script`.
fn predicted(settings: &Settings, script: &[Act]) -> Vec<Costs> {
    let mut model = Aby3.cost_model(settings);
    let mut shapes: HashMap<String, (Vec<usize>, bool)> = HashMap::new();
    script
        .iter()
        .map(|act| {
            let c = match act {
                Act::Input(n, v) => {
                    shapes.insert(n.clone(), (v.shape().to_vec(), false));
                    model.input(n, v.shape())
                }
                Act::Public(n, v) => {
                    shapes.insert(n.clone(), (v.shape().to_vec(), true));
                    return Costs::default();
                }
                Act::Op(n, op) => {
                    let ops: Vec<Operand> = op
                        .operands()
                        .iter()
                        .map(|o| Operand {
                            name: o,
                            shape: &shapes[*o].0,
                            public: shapes[*o].1,
                        })
                        .collect();
                    let in_shapes: Vec<&[usize]> = ops.iter().map(|o| o.shape).collect();
                    let out = infer_shape(op, &in_shapes).expect("shape");
                    let public = matches!(op, Op::Reveal(_)) || ops.iter().all(|o| o.public);
                    let c = model.op(n, op, &ops, &out).expect("cost");
                    assert_eq!(c.cost.rounds, c.flow.rounds(), "rounds agree with the flow");
                    shapes.insert(n.clone(), (out, public));
                    c
                }
                Act::Output(n) => model.output(n, shapes[n].1, &shapes[n].0),
            };
            Costs {
                online_msgs: c.cost.messages,
                online_bytes: c.cost.bytes,
                online_rounds: c.cost.rounds,
                offline_msgs: c.cost.offline_messages,
                offline_bytes: c.cost.offline_bytes,
                offline_rounds: c.offline_setup as u32,
            }
        })
        .collect()
}

// ---------------------------------------------------------------- plaintext

fn settings(t: Truncation, s: InputSharing) -> Settings {
    Settings {
        fixed: FixedConfig::default(),
        truncation: t,
        input_sharing: s,
        sigmoid: Default::default(),
    }
}

const ALL: [(Truncation, InputSharing); 4] = [
    (Truncation::Dealer, InputSharing::Seeded),
    (Truncation::Local, InputSharing::Seeded),
    (Truncation::Dealer, InputSharing::Dense),
    (Truncation::Local, InputSharing::Dense),
];

/// A tensor of encoded reals uniform in (−bound, bound).
fn reals(shape: &[usize], bound: f64, rng: &mut ChaCha20Rng) -> Tensor<u64> {
    let cfg = FixedConfig::default();
    let n = shape.iter().product::<usize>();
    let v = (0..n)
        .map(|_| cfg.encode(rng.gen_range(-bound..bound)))
        .collect();
    Tensor::from_shape_vec(shape.to_vec(), v).unwrap()
}

fn shift(t: &Tensor<u64>) -> Tensor<u64> {
    aby3::truncate::truncate_public(t, FixedConfig::default().frac_bits)
}

/// The exact ring result of `op` on `args` (products truncated by an exact arithmetic shift),
/// and the ulps a protocol may be off by.
fn reference(op: &Op, args: &[Tensor<u64>], out_shape: &[usize]) -> Option<(Tensor<u64>, u64)> {
    let cfg = FixedConfig::default();
    let a = &args[0];
    Some(match op {
        Op::Add(..) => (tensor::add(a, &args[1]).unwrap(), 0),
        Op::Sub(..) => (tensor::sub(a, &args[1]).unwrap(), 0),
        Op::Neg(_) => (tensor::neg(a), 0),
        Op::Mul(..) => (shift(&tensor::mul(a, &args[1]).unwrap()), 1),
        Op::Square(_) => (shift(&tensor::mul(a, a).unwrap()), 1),
        Op::MatMul(..) => (shift(&tensor::matmul(a, &args[1]).unwrap()), 1),
        Op::Conv2d {
            stride, padding, ..
        } => (
            shift(&tensor::conv2d(a, &args[1], *stride, *padding).unwrap()),
            1,
        ),
        Op::ReduceSum { axis, .. } => (
            tensor::reshape(&tensor::reduce_sum(a, *axis), out_shape).unwrap(),
            0,
        ),
        Op::Transpose(_) => (tensor::transpose(a), 0),
        Op::Reshape { .. } | Op::Flatten(_) => (tensor::reshape(a, out_shape).unwrap(), 0),
        Op::Reveal(_) => (a.clone(), 0),
        // The exact nonlinear ops (boolean circuits): no error at all.
        Op::Relu(_) => (a.mapv(|e| if (e as i64) < 0 { 0 } else { e }), 0),
        Op::MaxPool2d { kernel, stride, .. } => {
            let st = stride.unwrap_or(*kernel);
            let mut out = tensor::zeros::<u64>(out_shape);
            for b in 0..out_shape[0] {
                for c in 0..out_shape[1] {
                    for i in 0..out_shape[2] {
                        for j in 0..out_shape[3] {
                            let mut best = i64::MIN;
                            for di in 0..*kernel {
                                for dj in 0..*kernel {
                                    best = best.max(a[[b, c, i * st + di, j * st + dj]] as i64);
                                }
                            }
                            out[[b, c, i, j]] = best as u64;
                        }
                    }
                }
            }
            (out, 0)
        }
        Op::Argmax(_) => {
            let k = *a.shape().last().unwrap();
            let flat: Vec<u64> = a.iter().copied().collect();
            let idx: Vec<u64> = flat
                .chunks(k)
                .map(|row| {
                    let mut best = 0;
                    for (i, e) in row.iter().enumerate() {
                        if (*e as i64) > (row[best] as i64) {
                            best = i;
                        }
                    }
                    (best as u64) << cfg.frac_bits
                })
                .collect();
            (
                Tensor::from_shape_vec(ndarray::IxDyn(out_shape), idx).unwrap(),
                0,
            )
        }
        Op::AvgPool2d { kernel, stride, .. } => {
            let st = stride.unwrap_or(*kernel);
            let inv = cfg.encode(1.0 / (kernel * kernel) as f64);
            let mut out = tensor::zeros::<u64>(out_shape);
            for b in 0..out_shape[0] {
                for c in 0..out_shape[1] {
                    for i in 0..out_shape[2] {
                        for j in 0..out_shape[3] {
                            let mut acc = 0u64;
                            for di in 0..*kernel {
                                for dj in 0..*kernel {
                                    acc = acc.wrapping_add(a[[b, c, i * st + di, j * st + dj]]);
                                }
                            }
                            out[[b, c, i, j]] = acc.wrapping_mul(inv);
                        }
                    }
                }
            }
            (shift(&out), 1)
        }
        _ => return None,
    })
}

/// Checks every op of `script` against the reference on its reconstructed operands.
fn check_values(script: &[Act], r: &Run, what: &str) {
    let mut shapes: HashMap<String, Vec<usize>> = HashMap::new();
    let cfg = FixedConfig::default();
    let mut outputs = r.outputs.iter();
    for act in script {
        match act {
            Act::Input(n, v) | Act::Public(n, v) => {
                assert_eq!(&r.value(n), v, "{what}: `{n}` reconstructs to the input");
                shapes.insert(n.clone(), v.shape().to_vec());
            }
            Act::Op(n, op) => {
                let args: Vec<Tensor<u64>> = op.operands().iter().map(|o| r.value(o)).collect();
                let in_shapes: Vec<&[usize]> = args.iter().map(|a| a.shape()).collect();
                let out_shape = infer_shape(op, &in_shapes).unwrap();
                let got = r.value(n);
                assert_eq!(got.shape(), out_shape.as_slice(), "{what}: `{n}` shape");
                match reference(op, &args, &out_shape) {
                    Some((want, ulps)) => {
                        for (g, w) in got.iter().zip(want.iter()) {
                            let diff = (g.wrapping_sub(*w) as i64).unsigned_abs();
                            assert!(
                                diff <= ulps,
                                "{what}: `{n}` = {op:?} off by {diff} ulps (got {g}, want {w})"
                            );
                        }
                    }
                    None => {
                        // Polynomials: compare with the approximation in f64, with its
                        // coefficients as the protocol encodes them (f fractional bits).
                        let approx = aby3::approximation(op).expect("a polynomial");
                        for (g, x) in got.iter().zip(args[0].iter()) {
                            let xf = cfg.decode(*x);
                            let want: f64 = approx
                                .terms
                                .iter()
                                .map(|&(k, c)| cfg.decode(cfg.encode(c)) * xf.powi(k as i32))
                                .sum();
                            let g = cfg.decode(*g);
                            assert!(
                                (g - want).abs() < 2e-3,
                                "{what}: `{n}` = {op:?} at {}: got {g}, want {want}",
                                cfg.decode(*x)
                            );
                        }
                    }
                }
                shapes.insert(n.clone(), out_shape);
            }
            Act::Output(n) => {
                let got = outputs.next().expect("an output per output action");
                assert_eq!(got, &r.value(n), "{what}: output of `{n}`");
            }
        }
    }
}

/// A script exercising every arithmetic op on random shapes, mixing public and private.
fn random_script(rng: &mut ChaCha20Rng) -> Vec<Act> {
    let (m, k, n) = (
        rng.gen_range(1..5),
        rng.gen_range(1..5),
        rng.gen_range(1..5),
    );
    let mut s = vec![];
    let inp = |s: &mut Vec<Act>, name: &str, shape: &[usize], bound: f64, rng: &mut ChaCha20Rng| {
        s.push(Act::Input(name.into(), reals(shape, bound, rng)));
    };
    let op = |s: &mut Vec<Act>, name: &str, op: Op| s.push(Act::Op(name.into(), op));
    let o = |n: &str| n.to_string();
    inp(&mut s, "a", &[m, k], 8.0, rng);
    inp(&mut s, "b", &[k, n], 8.0, rng);
    inp(&mut s, "c", &[m, k], 8.0, rng);
    s.push(Public("p", reals(&[m, k], 8.0, rng)));
    s.push(Public("w", reals(&[k, n], 8.0, rng)));
    s.push(Public("row", reals(&[k], 8.0, rng)));
    op(&mut s, "add", Op::Add(o("a"), o("c")));
    op(&mut s, "sub", Op::Sub(o("a"), o("c")));
    op(&mut s, "neg", Op::Neg(o("a")));
    op(&mut s, "add_pub", Op::Add(o("a"), o("p")));
    op(&mut s, "pub_add", Op::Add(o("p"), o("a")));
    op(&mut s, "sub_pub", Op::Sub(o("a"), o("p")));
    op(&mut s, "pub_sub", Op::Sub(o("p"), o("a")));
    op(&mut s, "add_row", Op::Add(o("a"), o("row")));
    op(&mut s, "pub_pub", Op::Add(o("p"), o("p")));
    op(&mut s, "mul", Op::Mul(o("a"), o("c")));
    op(&mut s, "mul_row", Op::Mul(o("row"), o("a")));
    op(&mut s, "mul_pub", Op::Mul(o("a"), o("p")));
    op(&mut s, "mul_pp", Op::Mul(o("p"), o("p")));
    op(&mut s, "sq", Op::Square(o("c")));
    op(&mut s, "mm", Op::MatMul(o("a"), o("b")));
    op(&mut s, "mm_pub", Op::MatMul(o("a"), o("w")));
    op(&mut s, "pub_mm", Op::MatMul(o("p"), o("b")));
    op(&mut s, "chain", Op::Mul(o("mm"), o("mm")));
    op(
        &mut s,
        "sum",
        Op::ReduceSum {
            input: o("mm"),
            axis: None,
        },
    );
    op(
        &mut s,
        "sum0",
        Op::ReduceSum {
            input: o("mm"),
            axis: Some(0),
        },
    );
    op(&mut s, "t", Op::Transpose(o("mm")));
    op(&mut s, "flat", Op::Flatten(o("mm")));
    op(
        &mut s,
        "rs",
        Op::Reshape {
            input: o("mm"),
            shape: vec![m * n],
        },
    );
    op(&mut s, "rev", Op::Reveal(o("mm")));
    op(&mut s, "rev_mul", Op::Mul(o("rev"), o("mm")));
    op(&mut s, "relu", Op::Relu(o("mm")));
    op(&mut s, "relu_pub", Op::Relu(o("rev")));
    op(&mut s, "argmax", Op::Argmax(o("mm")));
    op(&mut s, "argmax_pub", Op::Argmax(o("p")));
    s.push(Act::Output(o("mm")));
    s.push(Act::Output(o("rev")));
    // Convolution and pooling on NCHW.
    let (c, h) = (rng.gen_range(1..3), rng.gen_range(3..6));
    let kk = rng.gen_range(1..3);
    inp(&mut s, "img", &[1, c, h, h], 4.0, rng);
    inp(&mut s, "filt", &[2, c, kk, kk], 2.0, rng);
    s.push(Public("pfilt", reals(&[2, c, kk, kk], 2.0, rng)));
    let padding = rng.gen_range(0..2);
    op(
        &mut s,
        "conv",
        Op::Conv2d {
            input: o("img"),
            filters: o("filt"),
            stride: 1,
            padding,
        },
    );
    op(
        &mut s,
        "conv_pub",
        Op::Conv2d {
            input: o("img"),
            filters: o("pfilt"),
            stride: 2,
            padding: 0,
        },
    );
    op(
        &mut s,
        "pool",
        Op::AvgPool2d {
            input: o("img"),
            kernel: 2,
            stride: Some(1),
        },
    );
    op(
        &mut s,
        "maxpool",
        Op::MaxPool2d {
            input: o("img"),
            kernel: 2,
            stride: Some(1),
        },
    );
    op(
        &mut s,
        "maxpool_relu",
        Op::MaxPool2d {
            input: o("conv"),
            kernel: 1,
            stride: None,
        },
    );
    s
}

#[allow(non_snake_case)]
fn Public(name: &str, v: Tensor<u64>) -> Act {
    Act::Public(name.into(), v)
}

// ---------------------------------------------------------------- tests

#[test]
fn every_op_reconstructs_to_plaintext_and_costs_exactly_the_model() {
    for seed in 0..12u64 {
        let (t, s) = ALL[seed as usize % 4];
        let st = settings(t, s);
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let script = random_script(&mut rng);
        let r = run(&st, seed, &script);
        let what = format!("seed {seed}, {t:?}, {s:?}");
        check_values(&script, &r, &what);
        let want = predicted(&st, &script);
        for (k, act) in script.iter().enumerate() {
            assert_eq!(r.costs[k], want[k], "{what}: cost of {act:?}");
        }
    }
}

#[test]
fn polynomials_match_their_approximation() {
    for (seed, (t, s)) in ALL.iter().enumerate() {
        let st = settings(*t, *s);
        let mut rng = ChaCha20Rng::seed_from_u64(100 + seed as u64);
        let n = rng.gen_range(1..20);
        let script = vec![
            Act::Input("x".into(), reals(&[n], 3.0, &mut rng)),
            Act::Input("y".into(), reals(&[n], 1.5, &mut rng)),
            Act::Op("s".into(), Op::Sigmoid("x".into())),
            Act::Op("h".into(), Op::Tanh("y".into())),
            Public("px", reals(&[n], 3.0, &mut rng)),
            Act::Op("ps".into(), Op::Sigmoid("px".into())),
        ];
        let r = run(&st, seed as u64, &script);
        check_values(&script[..4], &r, &format!("{t:?}"));
        let want = predicted(&st, &script);
        for (k, act) in script.iter().enumerate() {
            assert_eq!(r.costs[k], want[k], "{t:?}: cost of {act:?}");
        }
        // The powers' steps carry the prefix `x^k: `.
        assert!(r.steps[0]
            .iter()
            .any(|s| s == "x^9: open z + r" || s == "x^9: truncate + reshare"));
    }
}

#[test]
fn the_cost_rows_are_the_documented_formulas() {
    let n = 10;
    assert_eq!(cost::input_seeded(n).bytes, 96 + 16 * n);
    assert_eq!(cost::input_dense(n).bytes, 48 * n);
    assert_eq!(cost::open(n).bytes, 24 * n);
    assert_eq!(cost::reshare(n).bytes, 24 * n);
    assert_eq!(cost::product_truncated(Truncation::Local, n).bytes, 24 * n);
    assert_eq!(cost::product_truncated(Truncation::Local, n).rounds, 2);
    assert_eq!(cost::product_truncated(Truncation::Dealer, n).bytes, 32 * n);
    assert_eq!(cost::product_truncated(Truncation::Dealer, n).rounds, 1);
    assert_eq!(cost::truncation(Truncation::Local, n).bytes, 8 * n);
    assert_eq!(cost::truncation(Truncation::Dealer, n).bytes, 16 * n);
    assert_eq!(cost::key_setup().offline_bytes, 96);
    // Consecutive Π_trunc1 products overlap: x² then x³ = x·x² takes 3 rounds, not 4.
    let f = cost::product_truncated_flow(Truncation::Local);
    assert_eq!(f.then(f).rounds(), 3);
}

#[test]
fn key_setup_happens_once_at_the_first_op_that_needs_it() {
    let st = settings(Truncation::Dealer, InputSharing::Seeded);
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let script = vec![
        Act::Input("x".into(), reals(&[3], 2.0, &mut rng)),
        Act::Op("y".into(), Op::Add("x".into(), "x".into())),
        Act::Op("z".into(), Op::Mul("x".into(), "y".into())),
        Act::Op("w".into(), Op::Mul("z".into(), "y".into())),
    ];
    let r = run(&st, 5, &script);
    assert_eq!(r.costs[1].offline_msgs, 0);
    assert_eq!(r.costs[2].offline_msgs, 3);
    assert_eq!(r.costs[2].offline_bytes, 96);
    assert_eq!(r.costs[3].offline_msgs, 0);
    assert_eq!(
        r.steps[0].iter().filter(|s| *s == rep::KEY_SETUP).count(),
        1
    );
}

#[test]
fn reconstruct_checks_that_the_pairs_agree() {
    let t = |v: u64| Encoded::from(Tensor::from_shape_vec(vec![1], vec![v]).unwrap());
    let pair = |a, b| Held::Shares(vec![t(a), t(b)]);
    // Components 1, 2, 3: server i holds (x_i, x_{i+1}); seats [2, 0, 3].
    let mut held = vec![Held::Nothing; PARTIES];
    held[2] = pair(1, 2);
    held[0] = pair(2, 3);
    held[3] = pair(3, 1);
    assert_eq!(Aby3.reconstruct(&SEATS, &held), Some(t(6)));
    // Any two servers suffice.
    let mut two = held.clone();
    two[3] = Held::Nothing;
    assert_eq!(Aby3.reconstruct(&SEATS, &two), Some(t(6)));
    // One server is not enough.
    let mut one = two.clone();
    one[0] = Held::Nothing;
    assert_eq!(Aby3.reconstruct(&SEATS, &one), None);
    // An inconsistent pair is refused.
    let mut bad = held.clone();
    bad[0] = pair(2, 4);
    assert_eq!(Aby3.reconstruct(&SEATS, &bad), None);
    // A wrong number of shares is refused.
    let mut odd = held.clone();
    odd[0] = Held::Shares(vec![t(2)]);
    odd[3] = Held::Nothing;
    assert_eq!(Aby3.reconstruct(&SEATS, &odd), None);
    // A public value.
    let mut public = vec![Held::Nothing; PARTIES];
    public[2] = Held::Public(t(9));
    assert_eq!(Aby3.reconstruct(&SEATS, &public), Some(t(9)));
}

#[test]
fn the_protocol_object_describes_itself() {
    let p = proto::by_name("aby3").expect("registered");
    assert_eq!(p.name(), "ABY3");
    assert_eq!(p.roles().len(), 3);
    assert_eq!(p.share_layout(), (RingKind::Z64, &[2usize, 2, 2][..]));
    assert!(p.supports(&Op::Relu("x".into())).is_ok());
    assert!(p
        .supports(&Op::MaxPool2d {
            input: "x".into(),
            kernel: 2,
            stride: None
        })
        .is_ok());
    assert!(p.supports(&Op::Argmax("x".into())).is_ok());
    assert!(p.supports(&Op::Sigmoid("x".into())).is_ok());
    assert!(p.truncates(&Op::MatMul("a".into(), "b".into())));
    assert!(!p.truncates(&Op::Add("a".into(), "b".into())));
    // Every step a run walks has an explanation.
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    for (t, s) in ALL {
        let script = random_script(&mut rng);
        let r = run(&settings(t, s), 9, &script);
        for step in &r.steps[0] {
            assert!(
                p.explain(step).is_some(),
                "no explanation for step `{step}`"
            );
        }
    }
}

// ---------------------------------------------------------------- views

/// Histograms of the low and high nibble of every Z_2^64 element party `p` received in action
/// `act`, per (sender, message index, part) position.
fn nibbles(
    r: &Run,
    p: PartyId,
    act: usize,
    into: &mut HashMap<(PartyId, usize, usize, bool), [u64; 16]>,
) {
    let mut index: HashMap<PartyId, usize> = HashMap::new();
    for (from, payload, parts) in &r.received[p][act] {
        let k = *index.entry(*from).and_modify(|k| *k += 1).or_insert(0);
        let mut off = 0;
        for (pi, part) in parts.iter().enumerate() {
            if part.kind == RingKind::Z64 {
                for e in 0..part.len() {
                    let v = RingKind::Z64.element(&payload[off..], e);
                    into.entry((*from, k, pi, false)).or_insert([0; 16])[(v & 15) as usize] += 1;
                    into.entry((*from, k, pi, true)).or_insert([0; 16])[(v >> 60) as usize] += 1;
                }
            }
            off += part.bytes();
        }
    }
}

/// Two-sample χ² of two histograms (15 degrees of freedom).
fn chi2(a: &[u64; 16], b: &[u64; 16]) -> f64 {
    let (na, nb) = (a.iter().sum::<u64>() as f64, b.iter().sum::<u64>() as f64);
    let (ka, kb) = ((nb / na).sqrt(), (na / nb).sqrt());
    a.iter()
        .zip(b)
        .filter(|(x, y)| **x + **y > 0)
        .map(|(&x, &y)| {
            let d = ka * x as f64 - kb * y as f64;
            d * d / (x + y) as f64
        })
        .sum()
}

/// χ² of a histogram against uniform.
fn chi2_uniform(a: &[u64; 16]) -> f64 {
    let n = a.iter().sum::<u64>() as f64;
    let e = n / 16.0;
    a.iter().map(|&x| (x as f64 - e).powi(2) / e).sum()
}

/// χ²(15) exceeds 60 with probability < 10^-6.
const CHI2_LIMIT: f64 = 60.0;

#[test]
fn what_each_server_receives_does_not_depend_on_the_secrets() {
    // Secret A: zeros; secret B: large values. Every op that sends something.
    let cfg = FixedConfig::default();
    let script = |big: bool| {
        let v = |x: f64| Tensor::from_elem(vec![4, 4], cfg.encode(if big { x } else { 0.0 }));
        vec![
            Act::Input("x".into(), v(7.5)),
            Act::Input("y".into(), v(-6.25)),
            Act::Op("m".into(), Op::Mul("x".into(), "y".into())),
            Act::Op("mm".into(), Op::MatMul("x".into(), "y".into())),
            Public("p", Tensor::from_elem(vec![4, 4], cfg.encode(1.5))),
            Act::Op("mp".into(), Op::Mul("x".into(), "p".into())),
            Act::Op("s".into(), Op::Sigmoid("x".into())),
        ]
    };
    for (t, s) in ALL {
        let st = settings(t, s);
        let (sa, sb) = (script(false), script(true));
        let mut ha: Vec<HashMap<_, [u64; 16]>> = vec![HashMap::new(); 3];
        let mut hb: Vec<HashMap<_, [u64; 16]>> = vec![HashMap::new(); 3];
        for seed in 0..40u64 {
            let (ra, rb) = (run(&st, seed, &sa), run(&st, seed, &sb));
            for (k, &p) in SEATS.iter().enumerate() {
                for act in 0..sa.len() {
                    nibbles(&ra, p, act, &mut ha[k]);
                    nibbles(&rb, p, act, &mut hb[k]);
                }
                // The joint distribution of each pair a server holds (the sum of its two
                // components), per value: the position (p, value index, 0, false) is unused by
                // messages (senders are other parties).
                for (vi, name) in names(&sa).iter().enumerate() {
                    for (r, h) in [(&ra, &mut ha[k]), (&rb, &mut hb[k])] {
                        if let Held::Shares(s) = &r.held[p][name] {
                            let e = h.entry((p, vi, 0, false)).or_insert([0; 16]);
                            let (s0, s1) = (s[0].as_z64().unwrap(), s[1].as_z64().unwrap());
                            for (a, b) in s0.iter().zip(s1.iter()) {
                                pair_sum(e, *a, *b);
                            }
                        }
                    }
                }
            }
        }
        for k in 0..3 {
            assert!(!ha[k].is_empty(), "server{k} receives something");
            for (pos, a) in &ha[k] {
                let b = &hb[k][pos];
                let c = chi2(a, b);
                assert!(
                    c < CHI2_LIMIT,
                    "{t:?}/{s:?}: server{k} {pos:?}: χ² {c} between secrets"
                );
                // Low nibbles of everything a server receives are uniform.
                if !pos.3 {
                    let u = chi2_uniform(a);
                    assert!(
                        u < CHI2_LIMIT,
                        "{t:?}/{s:?}: server{k} {pos:?}: χ² {u} vs uniform"
                    );
                }
            }
        }
    }
}

#[test]
fn a_planted_leak_is_caught_by_the_view_test() {
    // The statistic must be able to fail. An owner whose x0 is always 0 (a broken PRG) gives
    // server1 the pair (x1, x2 = x − x1): each component alone is uniform, but their sum is x.
    // The view test histograms pair sums, so it must see secret 0 and secret 7.5 apart.
    let cfg = FixedConfig::default();
    let mut ha = [0u64; 16];
    let mut hb = [0u64; 16];
    for seed in 0..200u64 {
        let mut g = ChaCha20Rng::seed_from_u64(seed);
        for (h, x) in [(&mut ha, 0.0), (&mut hb, 7.5 + g.gen_range(0.0..1.0))] {
            let x = cfg.encode(x);
            let x1: u64 = g.gen();
            let x2 = x.wrapping_sub(x1);
            pair_sum(h, x1, x2);
        }
    }
    assert!(
        chi2(&ha, &hb) > CHI2_LIMIT,
        "the test statistic detects a dependence on the secret"
    );
}

/// Adds the low nibble of a pair's sum to a histogram.
fn pair_sum(h: &mut [u64; 16], lo: u64, hi: u64) {
    h[(lo.wrapping_add(hi) & 15) as usize] += 1;
}

#[test]
fn polynomial_rounds_and_bytes_are_the_documented_ones() {
    use protocols::pond::{SIGMOID, TANH};
    let row = |op: Op, t| cost::op_cost(t, &op, &[true], 10).unwrap().0;
    let s = |t| row(Op::Sigmoid("x".into()), t);
    let h = |t| row(Op::Tanh("x".into()), t);
    // Sigmoid: P = 5 products (x², x³, x⁵, x⁷, x⁹); tanh: P = 4 (x², x³, x⁵, x⁷).
    assert_eq!(aby3_products(&SIGMOID), 5);
    assert_eq!(aby3_products(&TANH), 4);
    // Π_trunc1: 3n per product + n, rounds from the flow (products overlap).
    assert_eq!(
        (s(Truncation::Local).bytes, s(Truncation::Local).messages),
        (8 * 10 * 16, 16)
    );
    assert_eq!(s(Truncation::Local).rounds, 8);
    assert_eq!(h(Truncation::Local).rounds, 6);
    // Π_trunc2: 4n per product + 2n; server1 never waits, so each product adds one round.
    assert_eq!(
        (s(Truncation::Dealer).bytes, s(Truncation::Dealer).messages),
        (8 * 10 * 22, 22)
    );
    assert_eq!(s(Truncation::Dealer).rounds, 6);
    assert_eq!(h(Truncation::Dealer).rounds, 5);
}

fn aby3_products(a: &protocols::pond::Approximation) -> u32 {
    (2..=a.terms.iter().map(|t| t.0).max().unwrap())
        .filter(|&k| k == 2 || a.terms.iter().any(|&(p, _)| p >= k && p % 2 == k % 2))
        .count() as u32
}

#[test]
fn trunc1_fails_at_the_rate_of_the_formula_and_trunc2_does_not() {
    // |z| = 2^60 at scale 2^32 (x = y = 2^14, far beyond the bound 2^11, on purpose): Π_trunc1
    // fails with probability 2^60 / 2^64 = 1/16 per element.
    let cfg = FixedConfig::default();
    let n = 4096usize;
    let x = Tensor::from_elem(vec![n], cfg.encode(16384.0));
    let script = vec![
        Act::Input("x".into(), x.clone()),
        Act::Op("z".into(), Op::Mul("x".into(), "x".into())),
    ];
    let want = 1u64 << 44;
    let failures = |t| {
        let r = run(&settings(t, InputSharing::Seeded), 77, &script);
        r.value("z")
            .iter()
            .filter(|&&g| (g.wrapping_sub(want) as i64).unsigned_abs() > 1)
            .count() as f64
    };
    let p = aby3::truncate::trunc1_failure_probability((1u64 << 60) as f64);
    assert_eq!(p, 1.0 / 16.0);
    let (mean, sd) = (p * n as f64, (n as f64 * p * (1.0 - p)).sqrt());
    let got = failures(Truncation::Local);
    assert!(
        (got - mean).abs() <= 6.0 * sd,
        "{got} failures, expected {mean} ± {sd}"
    );
    // Π_trunc2 with a wider encoding that has room for |z| = 2^60 (k = 60): never wrong.
    let wide = Settings {
        fixed: FixedConfig {
            frac_bits: 16,
            int_bits: 28,
            gap_bits: 0,
            weak_security: true,
            ring_bits: 64,
        },
        truncation: Truncation::Dealer,
        input_sharing: InputSharing::Seeded,
        sigmoid: Default::default(),
    };
    let r = run(&wide, 77, &script);
    assert!(r
        .value("z")
        .iter()
        .all(|&g| (g.wrapping_sub(want) as i64).unsigned_abs() <= 1));
}

#[test]
fn truncation_hazards_and_limits() {
    let cfg = FixedConfig::default();
    // Within bounds: no hazard for Π_trunc2, none for Π_trunc1 on few elements.
    assert!(aby3::truncate::hazards(&cfg, Truncation::Dealer, 100.0, 10).is_empty());
    assert!(aby3::truncate::hazards(&cfg, Truncation::Local, 1.0, 10).is_empty());
    // A product beyond 2^int: headroom for both.
    for t in [Truncation::Dealer, Truncation::Local] {
        assert!(aby3::truncate::hazards(&cfg, t, 4096.0, 1)
            .iter()
            .any(|h| matches!(h, protocols::fixed::Hazard::TruncationHeadroom { .. })));
    }
    // Many large products: Π_trunc1's failure becomes likely.
    assert!(
        aby3::truncate::hazards(&cfg, Truncation::Local, 1000.0, 1_000_000)
            .iter()
            .any(|h| matches!(h, protocols::fixed::Hazard::LocalTruncationFailure { .. }))
    );
    // Π_trunc2's statistical security is 61 − k bits and needs k ≤ 60.
    assert_eq!(aby3::truncate::statistical_security(&cfg), 61 - 43);
    assert!(aby3::truncate::check_trunc2(&cfg).is_ok());
    let tight = FixedConfig {
        frac_bits: 25,
        int_bits: 12,
        gap_bits: 0,
        weak_security: true,
        ring_bits: 64,
    };
    assert!(aby3::truncate::check_trunc2(&tight)
        .unwrap_err()
        .contains("Π_trunc2"));
}

#[test]
fn server0s_view_of_input_sharing_is_the_same_for_any_secret() {
    // server0 receives t (seeded) or (x0, x1) (dense): a function of the owner's randomness
    // alone. With the same seed, its view under two different secrets is equal bit for bit.
    let cfg = FixedConfig::default();
    for (t, s) in ALL {
        let st = settings(t, s);
        let view = |x: f64| {
            let script = vec![Act::Input(
                "x".into(),
                Tensor::from_elem(vec![3, 2], cfg.encode(x)),
            )];
            run(&st, 11, &script).received[SEATS[0]][0].clone()
        };
        let (a, b) = (view(0.0), view(-3.75));
        assert!(!a.is_empty());
        assert_eq!(a, b, "{s:?}: server0's view depends on the secret");
        // And server1's does differ (it holds x2 = x − x0 − x1): the comparison can fail.
        let v1 = |x: f64| {
            let script = vec![Act::Input(
                "x".into(),
                Tensor::from_elem(vec![3, 2], cfg.encode(x)),
            )];
            run(&st, 11, &script).received[SEATS[1]][0].clone()
        };
        assert_ne!(v1(0.0), v1(-3.75));
    }
}

#[test]
fn parties_outside_the_seats_hold_nothing_private() {
    let st = settings(Truncation::Dealer, InputSharing::Seeded);
    let mut rng = ChaCha20Rng::seed_from_u64(21);
    let script = random_script(&mut rng);
    let r = run(&st, 21, &script);
    for name in names(&script) {
        for p in [OWNER, RECEIVER] {
            assert!(
                !matches!(r.held[p][&name], Held::Shares(_)),
                "party {p} holds shares of `{name}`"
            );
        }
    }
    // The receiver got exactly the outputs, the owner nothing opened.
    assert_eq!(r.outputs.len(), 2);
}

#[test]
fn a_large_matmul_and_conv_reconstruct() {
    for (t, s) in [ALL[0], ALL[1]] {
        let st = settings(t, s);
        let mut rng = ChaCha20Rng::seed_from_u64(31);
        let script = vec![
            Act::Input("a".into(), reals(&[32, 48], 4.0, &mut rng)),
            Act::Input("b".into(), reals(&[48, 16], 0.25, &mut rng)),
            Act::Op("c".into(), Op::MatMul("a".into(), "b".into())),
            Act::Input("x".into(), reals(&[2, 3, 12, 12], 2.0, &mut rng)),
            Act::Input("w".into(), reals(&[4, 3, 3, 3], 0.5, &mut rng)),
            Act::Op(
                "y".into(),
                Op::Conv2d {
                    input: "x".into(),
                    filters: "w".into(),
                    stride: 1,
                    padding: 1,
                },
            ),
            Act::Op(
                "p".into(),
                Op::AvgPool2d {
                    input: "y".into(),
                    kernel: 2,
                    stride: None,
                },
            ),
        ];
        let r = run(&st, 31, &script);
        check_values(&script, &r, &format!("{t:?}"));
        let want = predicted(&st, &script);
        assert_eq!(r.costs, want);
    }
}

#[test]
fn the_product_share_a_server_receives_is_masked_by_alpha_alone() {
    // Π_trunc1's first step: server1 receives z'_2 = z_2 + α_2. Knowing the secrets, the test
    // can compute z_2 = x2·y2 + x2·y0 + x0·y2 from server1's pairs (x1, x2), (y1, y2) and
    // x0 = x − x1 − x2, y0 = y − y1 − y2. What is left must be α_2 — the same for any secrets
    // under the same keys (bit for bit) and uniform over seeds. A reshare that forgot α would
    // leave 0 and fail the uniformity test.
    let cfg = FixedConfig::default();
    let st = settings(Truncation::Local, InputSharing::Seeded);
    let n = 8;
    let residual = |xv: f64, yv: f64, seed: u64| -> Vec<u64> {
        let (x, y) = (cfg.encode(xv), cfg.encode(yv));
        let script = vec![
            Act::Input("x".into(), Tensor::from_elem(vec![n], x)),
            Act::Input("y".into(), Tensor::from_elem(vec![n], y)),
            Act::Op("z".into(), Op::Mul("x".into(), "y".into())),
        ];
        let r = run(&st, seed, &script);
        let s1 = SEATS[1];
        let pair = |name: &str| match &r.held[s1][name] {
            Held::Shares(s) => (
                s[0].as_z64().unwrap().clone(),
                s[1].as_z64().unwrap().clone(),
            ),
            _ => panic!("server1 holds shares"),
        };
        let ((x1, x2), (y1, y2)) = (pair("x"), pair("y"));
        // The first Z_2^64 message from server2 in the product (after its key k2).
        let (_, payload, _) = r.received[s1][2]
            .iter()
            .find(|(from, _, parts)| *from == SEATS[2] && parts[0].kind == RingKind::Z64)
            .expect("server2 sends z'2 to server1");
        (0..n)
            .map(|e| {
                let x0 = x.wrapping_sub(x1[e]).wrapping_sub(x2[e]);
                let y0 = y.wrapping_sub(y1[e]).wrapping_sub(y2[e]);
                let z2 = x2[e]
                    .wrapping_mul(y2[e])
                    .wrapping_add(x2[e].wrapping_mul(y0))
                    .wrapping_add(x0.wrapping_mul(y2[e]));
                RingKind::Z64.element(payload, e).wrapping_sub(z2)
            })
            .collect()
    };
    let mut hist = [0u64; 16];
    for seed in 0..60u64 {
        let a = residual(0.0, 0.0, seed);
        let b = residual(5.5, -7.25, seed);
        assert_eq!(
            a, b,
            "seed {seed}: what is left besides z_2 depends on the secrets"
        );
        for v in a {
            hist[(v & 15) as usize] += 1;
            hist[(v >> 60) as usize] += 1;
        }
    }
    let u = chi2_uniform(&hist);
    assert!(u < CHI2_LIMIT, "α_2 is not uniform: χ² {u}");
}

#[test]
fn the_piecewise_sigmoid_is_the_pieces_up_to_one_ulp_and_costs_exactly_the_model() {
    use protocols::protocol::SigmoidMethod;
    let cfg = FixedConfig::default();
    for seed in 0..8u64 {
        let (t, s) = ALL[seed as usize % 4];
        let st = Settings {
            sigmoid: SigmoidMethod::Piecewise,
            ..settings(t, s)
        };
        let mut rng = ChaCha20Rng::seed_from_u64(100 + seed);
        let shape = [rng.gen_range(1..4), rng.gen_range(1..6)];
        let x = reals(&shape, 8.0, &mut rng);
        let px = reals(&shape, 8.0, &mut rng);
        let script = vec![
            Act::Input("x".into(), x.clone()),
            Public("px", px.clone()),
            Act::Op("s".into(), Op::Sigmoid("x".into())),
            Act::Op("ps".into(), Op::Sigmoid("px".into())),
            Act::Output("s".into()),
        ];
        let r = run(&st, seed, &script);
        let what = format!("seed {seed}, {t:?}, {s:?}");
        for (name, input) in [("s", &x), ("ps", &px)] {
            let got = r.value(name);
            for (g, e) in got.iter().zip(input.iter()) {
                let want = ((aby3::nonlinear::sigmoid_piecewise_plain(&cfg, *e) as i64)
                    >> cfg.frac_bits) as u64;
                let diff = (g.wrapping_sub(want) as i64).unsigned_abs();
                assert!(
                    diff <= 1,
                    "{what}: {name} off by {diff} ulps at {}",
                    cfg.decode(*e)
                );
                // And the pieces are within 0.03 of the true sigmoid (tf-encrypted's fit).
                let xf = cfg.decode(*e);
                assert!(
                    (cfg.decode(*g) - 1.0 / (1.0 + (-xf).exp())).abs() < 0.08,
                    "{what}"
                );
            }
        }
        let want = predicted(&st, &script);
        for (k, act) in script.iter().enumerate() {
            assert_eq!(r.costs[k], want[k], "{what}: cost of {act:?}");
        }
    }
}
