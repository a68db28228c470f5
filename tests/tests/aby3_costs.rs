//! ABY3's costs at sim level, asserted exactly against `docs/costs.md` (the ABY3 rows, the
//! functions of `protocols::aby3::cost`): each op run through the whole simulator on several
//! shapes, its online and offline bytes, messages and online rounds compared with the formula.
//! The first op that needs randomness also carries the 96-byte key setup (3 offline messages).

use protocols::aby3::cost::{
    input_dense, input_seeded, key_setup, open, output_private, output_public, polynomial,
    product_truncated, truncation,
};
use protocols::cost::Cost;
use protocols::pond::{InputSharing, Truncation, SIGMOID};
use protocols::program::Op;
use sharescope_tests::{assert_cost, cost_of, pattern, Pond};
use sim::scenario::ProtocolKind;

fn aby3(seed: u64) -> Pond {
    Pond::new(seed).protocol(ProtocolKind::named("ABY3").expect("ABY3 is registered"))
}

fn numel(shape: &[usize]) -> u64 {
    shape.iter().product::<usize>() as u64
}

const TRUNCATIONS: [Truncation; 2] = [Truncation::Dealer, Truncation::Local];

#[test]
fn input_sharing_costs_seeds_and_one_or_two_components() {
    for shape in [vec![1], vec![5], vec![3, 4], vec![2, 3, 4]] {
        let n = numel(&shape);
        for (sharing, formula) in [
            (InputSharing::Seeded, input_seeded as fn(u64) -> Cost),
            (InputSharing::Dense, input_dense),
        ] {
            let run = aby3(n)
                .input_sharing(sharing)
                .private("x", "alice", &shape, pattern(&shape, 1.0))
                .run_ok();
            assert_cost(&run, "input x", formula(n));
        }
    }
}

#[test]
fn reveal_and_outputs_cost_one_component_per_server() {
    for shape in [vec![1], vec![6], vec![2, 5]] {
        let n = numel(&shape);
        let run = aby3(3)
            .private("x", "alice", &shape, pattern(&shape, 1.0))
            .op("r", Op::Reveal("x".into()))
            .output("x")
            .output("r")
            .run_ok();
        assert_cost(&run, "r", open(n));
        assert_cost(&run, "output x", output_private(n));
        assert_cost(&run, "output r", output_public(n));
    }
}

#[test]
fn products_cost_their_fused_truncation_and_the_first_sets_up_the_keys() {
    for t in TRUNCATIONS {
        for (a, b, out) in [
            (vec![4], vec![4], vec![4]),
            (vec![2, 3], vec![3, 5], vec![2, 5]),
            (vec![7, 1], vec![1, 2], vec![7, 2]),
        ] {
            let matmul = a != b;
            let mk = |x: &str, y: &str| {
                if matmul {
                    Op::MatMul(x.into(), y.into())
                } else {
                    Op::Mul(x.into(), y.into())
                }
            };
            let n = numel(&out);
            let run = aby3(5)
                .truncation(t)
                .private("x", "alice", &a, pattern(&a, 1.0))
                .private("y", "bob", &b, pattern(&b, 0.5))
                .op("z", mk("x", "y"))
                .op("w", mk("x", "y"))
                .op("s", Op::Square("x".into()))
                .run_ok();
            assert_cost(&run, "z", product_truncated(t, n).then(key_setup()));
            assert_cost(&run, "w", product_truncated(t, n));
            assert_cost(&run, "s", product_truncated(t, numel(&a)));
        }
    }
}

#[test]
fn a_product_with_a_public_operand_is_local_then_a_stand_alone_truncation() {
    for t in TRUNCATIONS {
        let shape = vec![3, 2];
        let run = aby3(7)
            .truncation(t)
            .private("x", "alice", &shape, pattern(&shape, 1.0))
            .public("p", &shape, pattern(&shape, 2.0))
            .op("z", Op::Mul("x".into(), "p".into()))
            .op("w", Op::Mul("x".into(), "p".into()))
            .run_ok();
        assert_cost(&run, "z", truncation(t, 6).then(key_setup()));
        assert_cost(&run, "w", truncation(t, 6));
    }
}

#[test]
fn the_polynomial_sigmoid_costs_its_products_and_one_truncation() {
    for t in TRUNCATIONS {
        for shape in [vec![1], vec![4], vec![2, 3]] {
            let n = numel(&shape);
            let run = aby3(9)
                .truncation(t)
                .private("x", "alice", &shape, pattern(&shape, 1.0))
                .op("k", Op::Square("x".into()))
                .op("s", Op::Sigmoid("x".into()))
                .run_ok();
            let c = cost_of(&run, "s");
            let f = polynomial(&SIGMOID, t, n);
            // Bytes and messages are the rows' sums; the rounds are at most their sum (powers
            // computed side by side overlap).
            assert_eq!(
                (c.bytes, c.messages, c.offline_bytes, c.offline_messages),
                (f.bytes, f.messages, 0, 0),
                "{t:?} {shape:?}"
            );
            assert!(
                c.rounds >= 1 && c.rounds <= f.rounds,
                "{t:?}: {c:?} vs {f:?}"
            );
        }
    }
}

#[test]
fn local_ops_cost_nothing() {
    let shape = vec![2, 3];
    let run = aby3(2)
        .private("x", "alice", &shape, pattern(&shape, 1.0))
        .private("y", "bob", &shape, pattern(&shape, 1.0))
        .public("p", &shape, pattern(&shape, 1.0))
        .op("a", Op::Add("x".into(), "y".into()))
        .op("b", Op::Sub("a".into(), "p".into()))
        .op("c", Op::Neg("b".into()))
        .op("d", Op::Transpose("c".into()))
        .run_ok();
    for o in ["a", "b", "c", "d"] {
        assert_cost(&run, o, Cost::ZERO);
    }
}
