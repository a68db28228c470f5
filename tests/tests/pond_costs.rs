//! Pond's costs, asserted exactly against `docs/costs.md`.
//!
//! Every formula of the document is a function of `protocols::pond::cost`, named after its table
//! row (the one source of the formulas: `sharescope check` estimates with the same functions);
//! each test runs the op on several shapes and compares the op's online bytes, offline bytes,
//! online and offline messages and online rounds (causal depth within the op) with the formula.
//! Explicit numbers (the dealer truncation, the polynomials' closed forms, the small network's
//! 17 and 9 rounds) check the functions themselves. The last tests check that a program's totals
//! are the sum of its ops and that its rounds are the causal depth the document predicts.

use protocols::cost::Cost;
use protocols::pond::cost::{
    avgpool2d, input_dense, input_seeded, local, output_private, output_public, polynomial,
    polynomial_products, product_private, product_public, reveal_private, truncation_dealer,
};
use protocols::pond::{InputSharing, Truncation, RELU, SIGMOID, TANH};
use protocols::program::Op;
use sharescope_tests::{assert_cost, cost_of, pattern, Pond};
use sim::RunResult;

fn numel(shape: &[usize]) -> u64 {
    shape.iter().product::<usize>() as u64
}

// ---- Checking -----------------------------------------------------------------------------

const TRUNCATIONS: [Truncation; 2] = [Truncation::Dealer, Truncation::Local];

// ---- Input, reveal, output ----------------------------------------------------------------

#[test]
fn input_sharing_costs_a_seed_plus_one_share_or_two_dense_shares() {
    for shape in [vec![1], vec![5], vec![3, 4], vec![2, 3, 4]] {
        let n = numel(&shape);
        for (sharing, formula) in [
            (InputSharing::Seeded, input_seeded as fn(u64) -> Cost),
            (InputSharing::Dense, input_dense),
        ] {
            let run = Pond::new(n)
                .input_sharing(sharing)
                .private("x", "alice", &shape, pattern(&shape, 1.0))
                .private("y", "bob", &shape, pattern(&shape, 2.0))
                .run_ok();
            assert_cost(&run, "input x", formula(n));
            assert_cost(&run, "input y", formula(n));
        }
    }
}

#[test]
fn reveal_to_the_servers_costs_one_share_each_way_and_nothing_for_public_values() {
    for shape in [vec![1], vec![6], vec![2, 5]] {
        let n = numel(&shape);
        let run = Pond::new(3)
            .private("x", "alice", &shape, pattern(&shape, 1.0))
            .public("p", &shape, pattern(&shape, 3.0))
            .op("r", Op::Reveal("x".into()))
            .op("q", Op::Reveal("p".into()))
            .run_ok();
        assert_cost(&run, "r", reveal_private(n));
        assert_cost(&run, "q", local());
    }
}

#[test]
fn output_costs_two_shares_for_private_values_and_one_copy_for_public_ones() {
    for shape in [vec![1], vec![7], vec![3, 3]] {
        let n = numel(&shape);
        let run = Pond::new(4)
            .private("x", "alice", &shape, pattern(&shape, 1.0))
            .public("p", &shape, pattern(&shape, 3.0))
            .op("r", Op::Reveal("x".into()))
            .output("x")
            .output("p")
            .output("r")
            .run_ok();
        assert_cost(&run, "output x", output_private(n));
        assert_cost(&run, "output p", output_public(n));
        // A revealed value is public: server0 alone sends it.
        assert_cost(&run, "output r", output_public(n));
    }
}

// ---- Local ops ----------------------------------------------------------------------------

#[test]
fn linear_and_shape_ops_are_free_for_every_public_private_combination() {
    let s = |n: &str| n.to_string();
    let run = Pond::new(5)
        .private("x", "alice", &[2, 3], pattern(&[2, 3], 1.0))
        .private("y", "bob", &[3], pattern(&[3], 1.0))
        .public("p", &[2, 3], pattern(&[2, 3], 2.0))
        .public("q", &[1, 3], pattern(&[1, 3], 2.0))
        .op("a1", Op::Add(s("x"), s("y")))
        .op("a2", Op::Add(s("x"), s("p")))
        .op("a3", Op::Add(s("q"), s("x")))
        .op("a4", Op::Add(s("p"), s("q")))
        .op("s1", Op::Sub(s("y"), s("x")))
        .op("s2", Op::Sub(s("x"), s("q")))
        .op("s3", Op::Sub(s("p"), s("x")))
        .op("n1", Op::Neg(s("x")))
        .op("n2", Op::Neg(s("p")))
        .op(
            "r1",
            Op::ReduceSum {
                input: s("x"),
                axis: Some(1),
            },
        )
        .op(
            "r2",
            Op::ReduceSum {
                input: s("x"),
                axis: None,
            },
        )
        .op("t", Op::Transpose(s("x")))
        .op(
            "re",
            Op::Reshape {
                input: s("x"),
                shape: vec![3, 2],
            },
        )
        .op("f", Op::Flatten(s("t")))
        .op("pp", Op::Mul(s("p"), s("q")))
        .op("pt", Op::Transpose(s("p")))
        .op("pm", Op::MatMul(s("p"), s("pt")))
        .run_ok();
    for label in [
        "a1", "a2", "a3", "a4", "s1", "s2", "s3", "n1", "n2", "r1", "r2", "t", "re", "f", "pp",
        "pt", "pm",
    ] {
        assert_cost(&run, label, local());
    }
}

// ---- Products -------------------------------------------------------------------------------

#[test]
fn private_mul_and_square_cost_a_triple_two_openings_and_a_truncation() {
    let s = |n: &str| n.to_string();
    // (shape of x, shape of y): equal shapes and broadcasting ones.
    let cases: [(&[usize], &[usize]); 5] = [
        (&[1], &[1]),
        (&[6], &[6]),
        (&[2, 3], &[2, 3]),
        (&[2, 3], &[3]),
        (&[4, 1], &[1, 5]),
    ];
    for t in TRUNCATIONS {
        for (sx, sy) in cases {
            let out = protocols::tensor::broadcast_shape(sx, sy).unwrap();
            let (nx, ny, n) = (numel(sx), numel(sy), numel(&out));
            let run = Pond::new(6)
                .truncation(t)
                .private("x", "alice", sx, pattern(sx, 1.0))
                .private("y", "bob", sy, pattern(sy, 1.0))
                .op("z", Op::Mul(s("x"), s("y")))
                .op("sq", Op::Square(s("y")))
                .run_ok();
            assert_cost(&run, "z", product_private(nx + ny, n, t));
            // y's mask is cached by z: squaring it opens nothing.
            assert_cost(&run, "sq", product_private(0, ny, t));
            let fresh = Pond::new(6)
                .truncation(t)
                .private("x", "alice", sx, pattern(sx, 1.0))
                .op("sq", Op::Square(s("x")))
                .op("xx", Op::Mul(s("x"), s("x")))
                .run_ok();
            assert_cost(&fresh, "sq", product_private(nx, nx, t));
            assert_cost(&fresh, "xx", product_private(0, nx, t));
        }
    }
}

#[test]
fn mask_reuse_opens_only_the_operands_without_a_cached_mask() {
    let s = |n: &str| n.to_string();
    for t in TRUNCATIONS {
        for (m, k, p) in [(1, 1, 1), (2, 3, 4), (3, 5, 2)] {
            let run = Pond::new(7)
                .truncation(t)
                .private("x", "alice", &[m, k], pattern(&[m, k], 1.0))
                .private("w", "bob", &[k, p], pattern(&[k, p], 1.0))
                .private("v", "bob", &[k, p], pattern(&[k, p], 0.5))
                .op("h", Op::MatMul(s("x"), s("w")))
                .op("g", Op::MatMul(s("x"), s("v")))
                .op("h2", Op::MatMul(s("x"), s("w")))
                .run_ok();
            let (nx, nw, n) = ((m * k) as u64, (k * p) as u64, (m * p) as u64);
            assert_cost(&run, "h", product_private(nx + nw, n, t));
            assert_cost(&run, "g", product_private(nw, n, t));
            assert_cost(&run, "h2", product_private(0, n, t));
        }
    }
}

#[test]
fn private_matmul_opens_both_operands_and_truncates_the_output() {
    let s = |n: &str| n.to_string();
    for t in TRUNCATIONS {
        for (m, k, p) in [(1, 1, 1), (1, 5, 1), (2, 3, 4), (4, 4, 4), (5, 2, 3)] {
            let run = Pond::new(8)
                .truncation(t)
                .private("x", "alice", &[m, k], pattern(&[m, k], 1.0))
                .private("w", "bob", &[k, p], pattern(&[k, p], 1.0))
                .op("z", Op::MatMul(s("x"), s("w")))
                .run_ok();
            let fresh = (m * k + k * p) as u64;
            assert_cost(&run, "z", product_private(fresh, (m * p) as u64, t));
        }
    }
}

fn conv_out(x: [usize; 4], w: [usize; 4], stride: usize, padding: usize) -> [usize; 4] {
    let oh = (x[2] + 2 * padding - w[2]) / stride + 1;
    let ow = (x[3] + 2 * padding - w[3]) / stride + 1;
    [x[0], w[0], oh, ow]
}

#[test]
fn private_conv2d_opens_input_and_filters_and_truncates_the_output() {
    let cases = [
        ([1, 1, 3, 3], [1, 1, 3, 3], 1, 0),
        ([1, 2, 5, 5], [3, 2, 3, 3], 1, 0),
        ([1, 2, 5, 5], [3, 2, 3, 3], 2, 1),
        ([2, 1, 6, 4], [2, 1, 2, 3], 2, 0),
        ([1, 3, 4, 4], [2, 3, 1, 1], 1, 1),
    ];
    for t in TRUNCATIONS {
        for (xs, ws, stride, padding) in cases {
            let out = conv_out(xs, ws, stride, padding);
            let conv = |input: &str, filters: &str| Op::Conv2d {
                input: input.into(),
                filters: filters.into(),
                stride,
                padding,
            };
            let run = Pond::new(9)
                .truncation(t)
                .private("x", "alice", &xs, pattern(&xs, 1.0))
                .private("w", "bob", &ws, pattern(&ws, 0.5))
                .public("pw", &ws, pattern(&ws, 0.25))
                .op("z", conv("x", "w"))
                .op("zp", conv("x", "pw"))
                .run_ok();
            assert_cost(
                &run,
                "z",
                product_private(numel(&xs) + numel(&ws), numel(&out), t),
            );
            assert_cost(&run, "zp", product_public(numel(&out), t));
        }
    }
}

#[test]
fn public_by_private_products_cost_only_their_truncation_and_public_by_public_nothing() {
    let s = |n: &str| n.to_string();
    for t in TRUNCATIONS {
        for (m, k, p) in [(1, 1, 1), (2, 3, 4), (3, 2, 5)] {
            let run = Pond::new(10)
                .truncation(t)
                .private("x", "alice", &[m, k], pattern(&[m, k], 1.0))
                .public("a", &[m, k], pattern(&[m, k], 2.0))
                .public("w", &[k, p], pattern(&[k, p], 0.5))
                .public("c", &[1], vec![0.75])
                .op("xa", Op::Mul(s("x"), s("a")))
                .op("cx", Op::Mul(s("c"), s("x")))
                .op("xw", Op::MatMul(s("x"), s("w")))
                .op("aw", Op::MatMul(s("a"), s("w")))
                .op("ac", Op::Mul(s("a"), s("c")))
                .run_ok();
            let (n, mp) = ((m * k) as u64, (m * p) as u64);
            assert_cost(&run, "xa", product_public(n, t));
            assert_cost(&run, "cx", product_public(n, t));
            assert_cost(&run, "xw", product_public(mp, t));
            assert_cost(&run, "aw", local());
            assert_cost(&run, "ac", local());
        }
    }
}

#[test]
fn truncation_dealer_costs_a_seed_and_two_dense_shares_offline_and_one_round_online() {
    // Isolate the truncation: a public × private product costs exactly one truncation.
    let s = |n: &str| n.to_string();
    for shape in [vec![1], vec![9], vec![4, 5]] {
        let n = numel(&shape);
        let run = Pond::new(11)
            .truncation(Truncation::Dealer)
            .private("x", "alice", &shape, pattern(&shape, 1.0))
            .public("c", &[1], vec![1.5])
            .op("z", Op::Mul(s("x"), s("c")))
            .run_ok();
        assert_eq!(
            cost_of(&run, "z"),
            Cost {
                bytes: 16 * n,
                offline_bytes: 32 + 16 * n,
                messages: 2,
                offline_messages: 2,
                rounds: 1,
            }
        );
        assert_eq!(truncation_dealer(n), cost_of(&run, "z"));
    }
}

#[test]
fn avgpool2d_costs_one_truncation_of_the_output() {
    for t in TRUNCATIONS {
        for (shape, kernel, stride) in [
            ([1, 1, 4, 4], 2, None),
            ([2, 3, 6, 6], 3, None),
            ([1, 2, 5, 5], 2, Some(1)),
            ([1, 1, 5, 7], 3, Some(2)),
        ] {
            let st = stride.unwrap_or(kernel);
            let out = [
                shape[0],
                shape[1],
                (shape[2] - kernel) / st + 1,
                (shape[3] - kernel) / st + 1,
            ];
            let pool = |input: &str| Op::AvgPool2d {
                input: input.into(),
                kernel,
                stride,
            };
            let run = Pond::new(12)
                .truncation(t)
                .private("x", "alice", &shape, pattern(&shape, 1.0))
                .public("p", &shape, pattern(&shape, 1.0))
                .op("z", pool("x"))
                .op("zp", pool("p"))
                .run_ok();
            assert_cost(&run, "z", avgpool2d(numel(&out), t));
            assert_cost(&run, "zp", local());
        }
    }
}

// ---- Polynomial activations ---------------------------------------------------------------

#[test]
fn polynomial_activations_count_their_beaver_products_and_truncations() {
    assert_eq!(polynomial_products(&SIGMOID), 5, "x², x³, x⁵, x⁷, x⁹");
    assert_eq!(polynomial_products(&TANH), 4, "x², x³, x⁵, x⁷");
    assert_eq!(polynomial_products(&RELU), 4, "x², x⁴, x⁶, x⁸");
    // The closed forms of docs/costs.md: P products, P + 1 truncations.
    for (approx, p) in [(SIGMOID, 5u64), (TANH, 4), (RELU, 4)] {
        for n in [1u64, 3, 10] {
            let dealer = polynomial(&approx, n, false, Truncation::Dealer);
            assert_eq!(dealer.bytes, 16 * n * p + 16 * n * (p + 1));
            assert_eq!(
                dealer.offline_bytes,
                p * (64 + 8 * n) + (p + 1) * (32 + 16 * n)
            );
            assert_eq!(dealer.messages, 2 * p + 2 * (p + 1));
            assert_eq!(dealer.rounds as u64, 2 * p + 1);
            let local = polynomial(&approx, n, false, Truncation::Local);
            assert_eq!(local.bytes, 16 * n * p);
            assert_eq!(local.offline_bytes, p * (64 + 8 * n));
            assert_eq!(local.rounds as u64, p);
        }
    }
    for t in TRUNCATIONS {
        for shape in [vec![1], vec![4], vec![2, 3]] {
            let n = numel(&shape);
            let s = |n: &str| n.to_string();
            let run = Pond::new(13)
                .truncation(t)
                .private("x", "alice", &shape, pattern(&shape, 1.5))
                .private("y", "bob", &shape, pattern(&shape, 1.5))
                .op("sig", Op::Sigmoid(s("x")))
                .op("tanh", Op::Tanh(s("y")))
                .op("relu", Op::Relu(s("sig")))
                .run_ok();
            assert_cost(&run, "sig", polynomial(&SIGMOID, n, false, t));
            assert_cost(&run, "tanh", polynomial(&TANH, n, false, t));
            assert_cost(&run, "relu", polynomial(&RELU, n, false, t));
        }
    }
}

#[test]
fn a_polynomial_on_an_already_masked_input_skips_the_first_opening() {
    let s = |n: &str| n.to_string();
    for t in TRUNCATIONS {
        let shape = [2, 2];
        let n = numel(&shape);
        let run = Pond::new(14)
            .truncation(t)
            .private("x", "alice", &shape, pattern(&shape, 1.0))
            .private("y", "bob", &shape, pattern(&shape, 1.0))
            .op("xy", Op::Mul(s("x"), s("y")))
            .op("sig", Op::Sigmoid(s("x")))
            .op("relu", Op::Relu(s("y")))
            .op("tanh", Op::Tanh(s("x")))
            .run_ok();
        assert_cost(&run, "sig", polynomial(&SIGMOID, n, true, t));
        assert_cost(&run, "relu", polynomial(&RELU, n, true, t));
        assert_cost(&run, "tanh", polynomial(&TANH, n, true, t));
        let saved = polynomial(&SIGMOID, n, false, t).bytes - cost_of(&run, "sig").bytes;
        assert_eq!(saved, 16 * n, "x's mask is reused for x²");
    }
}

#[test]
fn public_polynomials_are_local() {
    let s = |n: &str| n.to_string();
    let run = Pond::new(15)
        .public("p", &[3], vec![-1.0, 0.0, 1.0])
        .op("a", Op::Sigmoid(s("p")))
        .op("b", Op::Tanh(s("p")))
        .op("c", Op::Relu(s("p")))
        .run_ok();
    for label in ["a", "b", "c"] {
        assert_cost(&run, label, local());
    }
}

// ---- Whole programs -----------------------------------------------------------------------

/// A small network: inputs, a matmul, a public bias, sigmoid, a reused mask, a reveal, and two
/// outputs. Returns the run and the per-op formulas in op order.
fn small_program(t: Truncation, sharing: InputSharing) -> (RunResult, Vec<(&'static str, Cost)>) {
    let s = |n: &str| n.to_string();
    let (m, k, p) = (3, 4, 2);
    let run = Pond::new(16)
        .truncation(t)
        .input_sharing(sharing)
        .private("x", "alice", &[m, k], pattern(&[m, k], 1.0))
        .private("w", "bob", &[k, p], pattern(&[k, p], 0.5))
        .public("b", &[p], vec![0.25, -0.5])
        .op("h", Op::MatMul(s("x"), s("w")))
        .op("hb", Op::Add(s("h"), s("b")))
        .op("y", Op::Sigmoid(s("hb")))
        .op("xx", Op::Square(s("x")))
        .op("r", Op::Reveal(s("h")))
        .op(
            "sum",
            Op::ReduceSum {
                input: s("y"),
                axis: None,
            },
        )
        .output("y")
        .output("r")
        .output("sum")
        .run_ok();
    let input = |n| match sharing {
        InputSharing::Seeded => input_seeded(n),
        InputSharing::Dense => input_dense(n),
    };
    let (mk, kp, mp) = ((m * k) as u64, (k * p) as u64, (m * p) as u64);
    let expected = vec![
        ("input x", input(mk)),
        ("input w", input(kp)),
        ("h", product_private(mk + kp, mp, t)),
        ("hb", local()),
        ("y", polynomial(&SIGMOID, mp, false, t)),
        ("xx", product_private(0, mk, t)),
        ("r", reveal_private(mp)),
        ("sum", local()),
        ("output y", output_private(mp)),
        ("output r", output_public(mp)),
        ("output sum", output_private(1)),
    ];
    (run, expected)
}

#[test]
fn run_totals_are_the_sum_of_the_op_formulas() {
    for t in TRUNCATIONS {
        for sharing in [InputSharing::Seeded, InputSharing::Dense] {
            let (run, expected) = small_program(t, sharing);
            assert_eq!(run.trace.ops.len(), expected.len());
            let mut sum = Cost::default();
            for (label, cost) in &expected {
                assert_cost(&run, label, *cost);
                sum = sum.then(*cost);
            }
            let tot = &run.totals;
            assert_eq!(tot.bytes, sum.bytes, "{t:?} {sharing:?}");
            assert_eq!(tot.offline_bytes, sum.offline_bytes);
            assert_eq!(tot.messages, sum.messages);
            assert_eq!(tot.offline_messages, sum.offline_messages);
            // The producer never receives anything: every dealer message is at depth 1.
            assert_eq!(tot.offline_rounds, 1);
        }
    }
}

#[test]
fn run_rounds_are_the_causal_depth_not_the_sum_of_op_rounds() {
    for t in TRUNCATIONS {
        let (run, expected) = small_program(t, InputSharing::Seeded);
        let rounds = |label: &str| expected.iter().find(|e| e.0 == label).unwrap().1.rounds;
        // Input providers never receive, so both inputs are at depth 1 in parallel. The servers
        // then run the program's ops one after another, each adding its own depth. The outputs
        // are sent in parallel by servers that receive nothing from the receiver in between:
        // together they add one round.
        let server_ops: u32 = ["h", "hb", "y", "xx", "r", "sum"]
            .iter()
            .map(|l| rounds(l))
            .sum();
        let depth = 1 + server_ops + 1;
        assert_eq!(run.totals.rounds, depth, "{t:?}");
        let sum_of_op_rounds: u32 = expected.iter().map(|e| e.1.rounds).sum();
        assert!(sum_of_op_rounds > depth, "inputs and outputs overlap");
        match t {
            // 1 + (2 + 0 + 11 + 1 + 1 + 0) + 1
            Truncation::Dealer => assert_eq!(depth, 17),
            // 1 + (1 + 0 + 5 + 0 + 1 + 0) + 1
            Truncation::Local => assert_eq!(depth, 9),
        }
        // Every message's global round is 1 + its sender's depth: the last outputs sit at the
        // run's depth.
        let last = run.trace.steps.last().unwrap();
        assert!(last.messages().all(|m| m.round == depth));
    }
}
