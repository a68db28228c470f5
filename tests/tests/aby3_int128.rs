//! ABY3's arithmetic part over Z_2^128 (`fixed_point: (ring_bits: 128, frac_bits: 32,
//! int_bits: 20)`, tf-encrypted's ABY3 "high" preset): every arithmetic op reconstructs to the
//! plaintext over random shapes, values and seeds; bytes are the 64-bit rows with 16-byte
//! elements (keys and seeds unchanged), messages and rounds unchanged, and `check`'s estimate is
//! the run's accounting exactly. Before, ABY3 refused `ring_bits: 128` outright.

mod wide;

use proptest::prelude::*;
use protocols::aby3::cost::{
    input_dense, input_seeded, key_setup, open, output_private, polynomial, product_truncated,
    truncation,
};
use protocols::context::RingKind;
use protocols::pond::{InputSharing, Truncation, SIGMOID, TANH};
use protocols::program::Op;
use sharescope_tests::{bounds, cost_of, op, pattern, Pond};
use sim::scenario::ProtocolKind;
use wide::*;

fn aby3(seed: u64, t: Truncation) -> Pond {
    Pond::wide(seed)
        .protocol(ProtocolKind::named("ABY3").expect("ABY3 is registered"))
        .truncation(t)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Linear ops for every public/private mix, both input sharings, reveal and output.
    #[test]
    fn linear_ops_reveal_and_output_are_exact(
        sh in shape(3, 4), seed in any::<u64>(), px in any::<bool>(), py in any::<bool>(),
        dense in any::<bool>(), v in vals(64, 1000.0), w in vals(64, 1000.0),
    ) {
        let sharing = if dense { InputSharing::Dense } else { InputSharing::Seeded };
        linear_ops_are_exact(aby3(seed, Truncation::Dealer), &sh, px, py, sharing, &v, &w)?;
    }

    /// Products of values up to 2^19 (products up to 2^38, far past the 64-bit preset's bound),
    /// public and private operands, Π_trunc1 and Π_trunc2.
    #[test]
    fn mul_square_matmul_conv2d_reconstruct(
        sh in shape(2, 4), seed in any::<u64>(), t in truncations(), px in any::<bool>(),
        py in any::<bool>(), v in vals(16, 1000.0), w in vals(16, 500.0),
        m in 1..4usize, k in 1..5usize,
    ) {
        let n: usize = sh.iter().product();
        let p = operand(aby3(seed, t), "x", px, "alice", &sh, &v[..n]);
        let p = operand(p, "y", py, "bob", &sh, &w[..n])
            .op("z", Op::Mul(s("x"), s("y")))
            .op("q", Op::Square(s("x")))
            .private("a", "alice", &[m, k], v[..m * k].to_vec())
            .private("b", "bob", &[k, 2], w[..k * 2].to_vec())
            .op("h", Op::MatMul(s("a"), s("b")))
            .private("img", "alice", &[1, 1, 4, 4], v[..16].to_vec())
            .private("f", "bob", &[2, 1, 2, 2], w[..8].to_vec())
            .op("c", Op::Conv2d { input: s("img"), filters: s("f"), stride: 1, padding: 1 });
        let r = run(&p)?;
        check(&r, "z", bounds::product(1, 1000.0, 500.0, u()))?;
        check(&r, "q", bounds::product(1, 1000.0, 1000.0, u()))?;
        check(&r, "h", bounds::product(k, 1000.0, 500.0, u()))?;
        check(&r, "c", bounds::product(4, 1000.0, 500.0, u()))?;
    }

    /// Average pooling and the polynomial sigmoid and tanh.
    #[test]
    fn avgpool_and_polynomials_reconstruct(
        seed in any::<u64>(), t in truncations(), v in vals(32, 1.9), big in vals(16, 1000.0),
    ) {
        let p = aby3(seed, t)
            .private("img", "alice", &[1, 2, 4, 4], big.iter().chain(&big).copied().collect())
            .op("a", Op::AvgPool2d { input: s("img"), kernel: 2, stride: None })
            .private("x", "bob", &[4, 8], v.clone())
            .op("sg", Op::Sigmoid(s("x")))
            .op("th", Op::Tanh(s("x")));
        let r = run(&p)?;
        check(&r, "a", bounds::avgpool(2, 1000.0, u()))?;
        for (l, approx) in [("sg", SIGMOID), ("th", TANH)] {
            let want: Vec<f64> = v.iter().map(|&x| approx.eval(x)).collect();
            close(l, &op(&r, l).reconstructed, &want, 1e-6)?;
        }
    }
}

/// The ABY3 rows of docs/costs.md at 128 bits: n counted in 8-byte words (2n), the keys' 96 B
/// offline and the seeds' 32 B unchanged, messages and rounds as at 64 bits.
#[test]
fn bytes_messages_and_rounds_are_the_64_bit_rows_with_16_byte_elements() {
    for t in [Truncation::Dealer, Truncation::Local] {
        for sh in [vec![1usize], vec![3, 4]] {
            let n = sh.iter().product::<usize>() as u64;
            for sharing in [InputSharing::Seeded, InputSharing::Dense] {
                let r = aby3(n, t)
                    .input_sharing(sharing)
                    .private("x", "alice", &sh, pattern(&sh, 1.0))
                    .private("y", "bob", &sh, pattern(&sh, 1.0))
                    .public("p", &sh, pattern(&sh, 1.0))
                    .op("z", Op::Mul(s("x"), s("y")))
                    .op("z2", Op::Mul(s("x"), s("y")))
                    .op("q", Op::Mul(s("p"), s("x")))
                    .op("sg", Op::Sigmoid(s("z")))
                    .op("o", Op::Reveal(s("z")))
                    .output("z2")
                    .run_ok();
                let input = match sharing {
                    InputSharing::Seeded => input_seeded(2 * n),
                    InputSharing::Dense => input_dense(2 * n),
                };
                assert_eq!(cost_of(&r, "input x"), input);
                let mut first = product_truncated(t, 2 * n);
                let keys = key_setup();
                first.offline_bytes += keys.offline_bytes;
                first.offline_messages += keys.offline_messages;
                assert_eq!(cost_of(&r, "z"), first);
                assert_eq!(cost_of(&r, "z2"), product_truncated(t, 2 * n));
                assert_eq!(cost_of(&r, "q"), truncation(t, 2 * n));
                let sg = cost_of(&r, "sg");
                let row = polynomial(&SIGMOID, t, 2 * n);
                assert_eq!((sg.bytes, sg.messages), (row.bytes, row.messages));
                assert_eq!(cost_of(&r, "o"), open(2 * n));
                assert_eq!(cost_of(&r, "output z2"), output_private(2 * n));
            }
        }
    }
    // Explicit numbers: a Π_trunc2 product of 3 elements is 4·16·3 = 192 B in 4 messages; the
    // seeded input of 3 elements 96 + 2·16·3 = 192 B.
    let r = aby3(1, Truncation::Dealer)
        .private("x", "alice", &[3], pattern(&[3], 1.0))
        .private("y", "bob", &[3], pattern(&[3], 1.0))
        .op("z", Op::Mul(s("x"), s("y")))
        .run_ok();
    let z = cost_of(&r, "z");
    assert_eq!(
        (z.bytes, z.messages, z.rounds, z.offline_bytes),
        (192, 4, 1, 96)
    );
    assert_eq!(cost_of(&r, "input x").bytes, 96 + 96);
    // `check`'s estimate is the run's accounting exactly.
    let plan = aby3(1, Truncation::Local)
        .private("x", "alice", &[2, 3], pattern(&[6], 1.0))
        .private("w", "bob", &[3, 2], pattern(&[6], 1.0))
        .op("h", Op::MatMul(s("x"), s("w")))
        .op("s", Op::Sigmoid(s("h")))
        .op(
            "a",
            Op::Mean {
                input: s("h"),
                axis: Some(1),
            },
        )
        .output("s")
        .plan()
        .unwrap();
    sharescope_tests::assert_plan_costs_exact(&plan);
}

/// The trace holds 128-bit pairs whole: every server records its two components over Z_2^128,
/// 16 bytes per element travel, and the servers' components add up to the encoding.
#[test]
fn the_trace_shows_128_bit_pairs() {
    let x = vec![1.5, -2.25, 1000.0, -0.001];
    let r = aby3(3, Truncation::Dealer)
        .input_sharing(InputSharing::Dense)
        .private("x", "alice", &[4], x.clone())
        .run_ok();
    let o = op(&r, "input x");
    let step = &r.trace.steps[o.first_step];
    let cfg = protocols::fixed::FixedConfig::high();
    // server0 holds (x0, x1), server1 (x1, x2): x0 + x1 + x2.
    let (s0, s1) = (&step.parties[0].shares, &step.parties[1].shares);
    assert!(s0.iter().chain(s1).all(|s| s.kind == RingKind::Z128));
    for (i, &v) in x.iter().enumerate() {
        let sum = s0[0]
            .wide(i)
            .wrapping_add(s0[1].wide(i))
            .wrapping_add(s1[1].wide(i));
        assert_eq!(sum, cfg.encode_in::<u128>(v), "element {i}");
    }
    for m in step.parties.iter().flat_map(|p| p.sent.iter()) {
        assert_eq!(m.bytes, 2 * 64, "two components of 4 elements of 16 bytes");
    }
}

/// ReLU needs the boolean part (Z_2^64 only): refused at 128 bits, naming the op and what to do.
#[test]
fn the_boolean_part_is_refused_at_128_bits() {
    let err = aby3(1, Truncation::Dealer)
        .private("x", "alice", &[2], pattern(&[2], 1.0))
        .op("r", Op::Relu(s("x")))
        .run()
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("boolean part") && err.contains("use ring_bits: 64"),
        "{err}"
    );
}
