//! The estimate (`sim::estimate`, what `sharescope check` prints) equals the run's accounting on
//! random programs: random shapes, public and private operands, reused masks, reveals, polynomial
//! and exact activations, pooling, convolutions and outputs, under every truncation, input sharing
//! and protocol variant. Per op and in total, exactly.

use proptest::prelude::*;
use protocols::pond::{InputSharing, Truncation};
use protocols::program::Op;
use sharescope_tests::{Pond, PROVIDERS};
use sim::estimate::estimate;
use sim::scenario::ProtocolKind;

/// A small deterministic generator (xorshift64*), so a proptest seed names one program.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }
}

#[derive(Clone)]
struct Value {
    name: String,
    shape: Vec<usize>,
}

fn values(n: usize) -> Vec<f64> {
    (0..n).map(|i| ((i * 7) % 11) as f64 / 8.0 - 0.6).collect()
}

/// A random program of `len` statements on small 2-D and NCHW values, with some outputs.
fn program(seed: u64, len: usize, protocol: ProtocolKind) -> Pond {
    let mut g = Gen(seed | 1);
    let exact = protocol != ProtocolKind::named("Pond").unwrap();
    let mut b = Pond::new(seed)
        .protocol(protocol)
        .truncation(if g.coin() {
            Truncation::Dealer
        } else {
            Truncation::Local
        })
        .input_sharing(if g.coin() {
            InputSharing::Seeded
        } else {
            InputSharing::Dense
        });
    let mut pool: Vec<Value> = Vec::new();
    let mut inputs = 0;
    let mut new_input = |b: Pond, shape: Vec<usize>, g: &mut Gen, pool: &mut Vec<Value>| {
        inputs += 1;
        let name = format!("in{inputs}");
        let n = shape.iter().product();
        let b = match g.below(3) {
            0 => b.public(&name, &shape, values(n)),
            k => b.private(&name, PROVIDERS[k - 1], &shape, values(n)),
        };
        pool.push(Value {
            name: name.clone(),
            shape,
        });
        (b, name)
    };
    let dims = |g: &mut Gen| vec![1 + g.below(3), 1 + g.below(4)];
    for _ in 0..2 {
        let s = dims(&mut g);
        b = new_input(b, s, &mut g, &mut pool).0;
    }
    let image = vec![1, 2, 4, 4];
    b = new_input(b, image.clone(), &mut g, &mut pool).0;
    for i in 0..len {
        let name = format!("v{i}");
        let a = pool[g.below(pool.len())].clone();
        let flat = a.shape.len() == 2;
        let same = |g: &mut Gen, pool: &[Value]| {
            let like: Vec<&Value> = pool.iter().filter(|v| v.shape == a.shape).collect();
            like[g.below(like.len())].name.clone()
        };
        let (op, shape) = match g.below(if exact { 12 } else { 10 }) {
            0 => (
                Op::Mul(a.name.clone(), same(&mut g, &pool)),
                a.shape.clone(),
            ),
            1 => (Op::Square(a.name.clone()), a.shape.clone()),
            2 if flat => {
                let (m, k) = (a.shape[0], a.shape[1]);
                let w = match pool.iter().find(|v| v.shape.len() == 2 && v.shape[0] == k) {
                    Some(v) if g.coin() => v.clone(),
                    _ => {
                        let (b2, n) = new_input(b, vec![k, 1 + g.below(3)], &mut g, &mut pool);
                        b = b2;
                        pool.iter().find(|v| v.name == n).unwrap().clone()
                    }
                };
                (
                    Op::MatMul(a.name.clone(), w.name.clone()),
                    vec![m, w.shape[1]],
                )
            }
            3 => (Op::Reveal(a.name.clone()), a.shape.clone()),
            4 => (Op::Sigmoid(a.name.clone()), a.shape.clone()),
            5 => (Op::Tanh(a.name.clone()), a.shape.clone()),
            6 => (Op::Relu(a.name.clone()), a.shape.clone()),
            7 => (
                Op::Add(a.name.clone(), same(&mut g, &pool)),
                a.shape.clone(),
            ),
            8 if a.shape.len() == 4 && a.shape[2] >= 2 => {
                let (h, w) = (a.shape[2], a.shape[3]);
                let stride = 1 + g.below(2);
                let o = |x: usize| (x - 2) / stride + 1;
                let kind = g.below(if exact { 3 } else { 2 });
                let op = match kind {
                    0 => Op::AvgPool2d {
                        input: a.name.clone(),
                        kernel: 2,
                        stride: Some(stride),
                    },
                    1 => {
                        let (b2, f) = new_input(b, vec![2, a.shape[1], 2, 2], &mut g, &mut pool);
                        b = b2;
                        Op::Conv2d {
                            input: a.name.clone(),
                            filters: f,
                            stride,
                            padding: 0,
                        }
                    }
                    _ => Op::MaxPool2d {
                        input: a.name.clone(),
                        kernel: 2,
                        stride: Some(stride),
                    },
                };
                let c = if kind == 1 { 2 } else { a.shape[1] };
                (op, vec![a.shape[0], c, o(h), o(w)])
            }
            10 | 11 if flat => (Op::Argmax(a.name.clone()), vec![a.shape[0]]),
            _ if flat => (Op::Transpose(a.name.clone()), vec![a.shape[1], a.shape[0]]),
            _ => (Op::Neg(a.name.clone()), a.shape.clone()),
        };
        b = b.op(&name, op);
        pool.push(Value { name, shape });
    }
    for v in pool.iter().skip(3) {
        if g.below(3) == 0 {
            b = b.output(&v.name);
        }
    }
    b
}

fn check(seed: u64, len: usize, protocol: ProtocolKind) -> Result<(), TestCaseError> {
    let b = program(seed, len, protocol);
    let plan = b.plan().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let est = estimate(&plan);
    let run = sim::run(&plan).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(est.ops.len(), run.trace.ops.len());
    for (e, r) in est.ops.iter().zip(&run.trace.ops) {
        prop_assert_eq!(&e.name, &r.name);
        let c = e
            .cost
            .as_ref()
            .map_err(|w| TestCaseError::fail(w.clone()))?;
        let s = &r.stats;
        prop_assert_eq!(
            (
                c.bytes,
                c.offline_bytes,
                c.messages,
                c.offline_messages,
                c.rounds
            ),
            (
                s.bytes,
                s.offline_bytes,
                s.messages,
                s.offline_messages,
                s.rounds
            ),
            "op `{}` ({}) of {:?}",
            r.name,
            r.kind,
            plan.scenario.program
        );
    }
    let t = est.totals.expect("every op costed");
    let rt = &run.totals;
    prop_assert_eq!(
        (
            t.bytes,
            t.offline_bytes,
            t.messages,
            t.offline_messages,
            t.rounds,
            t.offline_rounds
        ),
        (
            rt.bytes,
            rt.offline_bytes,
            rt.messages,
            rt.offline_messages,
            rt.rounds,
            rt.offline_rounds
        ),
        "totals of {:?}",
        plan.scenario.program
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn the_estimate_equals_the_run_on_random_pond_programs(seed in any::<u64>(), len in 1usize..10) {
        check(seed, len, ProtocolKind::named("Pond").unwrap())?;
    }

    #[test]
    fn the_estimate_equals_the_run_on_random_securenn_programs(
        seed in any::<u64>(),
        len in 1usize..8,
        variant in 0usize..3,
    ) {
        let protocol = [
            ProtocolKind::named("SecureNN").unwrap(),
            ProtocolKind::named("SecureNNShortcut").unwrap(),
            ProtocolKind::named("SecureNNAsPublished").unwrap(),
        ][variant];
        check(seed, len, protocol)?;
    }
}

/// The first program the random test found wrong when the estimate assumed both servers leave
/// every op at one depth (both at max(d₀, d₁) + the op's rounds): in SecureNN server1's last
/// messages wait for the helper and server0's do not, so the servers leave a ReLU or argmax at
/// different depths, and that model said 13 rounds for a run of 12.
#[test]
fn the_servers_can_leave_a_securenn_op_at_different_depths() {
    check(
        9_460_089_223_789_161_720,
        7,
        ProtocolKind::named("SecureNN").unwrap(),
    )
    .unwrap();
}

/// var = mean(x²) − mean(x)²: two independent branches from x. Run in program order they take
/// 8 rounds (the run and the estimate agree); along the data dependencies the longer branch
/// (x → x² → mean(x²), or x → mean(x) → mean(x)²) is 4 deep, and the output makes 5.
#[test]
fn two_independent_branches_have_a_shorter_critical_path_than_the_sequential_run() {
    let s = |n: &str| n.to_string();
    let sum = |x: &str| Op::ReduceSum {
        input: x.into(),
        axis: None,
    };
    let plan = Pond::new(3)
        .truncation(Truncation::Dealer)
        .private("x", "alice", &[8], values(8))
        .public("inv_n", &[1], vec![0.125])
        .op("x2", Op::Square(s("x")))
        .op("s2", sum("x2"))
        .op("m2", Op::Mul(s("s2"), s("inv_n")))
        .op("s1", sum("x"))
        .op("m", Op::Mul(s("s1"), s("inv_n")))
        .op("mm", Op::Square(s("m")))
        .op("var", Op::Sub(s("m2"), s("mm")))
        .output("var")
        .plan()
        .unwrap();
    let est = estimate(&plan);
    let run = sim::run(&plan).unwrap();
    assert_eq!(run.totals.rounds, 8);
    assert_eq!(est.totals.unwrap().rounds, 8);
    assert_eq!(est.critical_path_rounds, Some(5));
    // input 1 + x² 2 + mean 1 + mean 1 + (mean)² 2 + output 1, one after another.
    assert_eq!(est.sum_of_op_rounds(), 8);
}

/// Two chained ABY3 products with Π_trunc1 (2 rounds each): the second starts with server2 →
/// server1, and server2 waited only on the first's first round, so the two overlap by one
/// round. Both in program order and on the critical path (a chain) that is input 1 + 3 +
/// output 1 = 5 rounds, not the 1 + 2 + 2 + 1 = 6 a sum of op rounds along the path gives
/// (what `check` printed before, one above the run; with Π_trunc2 nothing overlaps: 4).
#[test]
fn chained_aby3_products_overlap_on_the_critical_path_as_in_the_run() {
    let s = |n: &str| n.to_string();
    for (t, rounds) in [(Truncation::Local, 5), (Truncation::Dealer, 4)] {
        let plan = Pond::new(1)
            .protocol(ProtocolKind::named("ABY3").expect("registered"))
            .truncation(t)
            .private("x", "alice", &[2], vec![1.0, 2.0])
            .private("y", "bob", &[2], vec![0.5, 1.5])
            .op("z", Op::Mul(s("x"), s("y")))
            .op("w", Op::Mul(s("z"), s("y")))
            .output("w")
            .plan()
            .unwrap();
        let run = sharescope_tests::assert_plan_costs_exact(&plan);
        assert_eq!(run.totals.rounds, rounds, "{t:?}");
        assert_eq!(run.totals.critical_path_rounds, rounds, "{t:?}");
        assert_eq!(estimate(&plan).critical_path_rounds, Some(rounds), "{t:?}");
    }
}
