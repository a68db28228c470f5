//! Pond over Z_2^128 (`fixed_point: (ring_bits: 128, frac_bits: 32, int_bits: 20)`): every op
//! reconstructs to the plaintext over random shapes, values and seeds, with the 2^-32 ulp of
//! f = 32; its bytes, messages and rounds are the rows of docs/costs.md with every element
//! counted as two 8-byte words (seeds stay 32 B); and the trace holds the 128-bit shares whole.
//!
//! These fail on a Pond whose party state is Z_2^64 only: the scenario is refused, or the
//! shares are 8 bytes, or the products of two values near 2^20 at 2f = 64 fractional bits wrap.

mod wide;

use proptest::prelude::*;
use protocols::context::RingKind;
use protocols::pond::cost::{
    avgpool2d, input_dense, input_seeded, output_private, polynomial, product_private,
    product_public, reveal_private,
};
use protocols::pond::{InputSharing, Truncation, RELU, SIGMOID, TANH};
use protocols::program::Op;
use sharescope_tests::{bounds, cost_of, op, pattern, Pond};
use wide::*;

fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

fn cfg() -> ProptestConfig {
    ProptestConfig {
        cases: 16,
        ..ProptestConfig::default()
    }
}

fn sharing() -> impl Strategy<Value = InputSharing> {
    prop_oneof![Just(InputSharing::Seeded), Just(InputSharing::Dense)]
}

proptest! {
    #![proptest_config(cfg())]

    /// Add, sub, neg, reduce_sum, transpose, reshape and flatten, every public/private mix, both
    /// input sharings; reveal and output.
    #[test]
    fn linear_ops_reveal_and_output_are_exact(
        sh in shape(3, 4), seed in any::<u64>(), px in any::<bool>(), py in any::<bool>(),
        sharing in sharing(), v in vals(64, 1000.0), w in vals(64, 1000.0),
    ) {
        linear_ops_are_exact(Pond::wide(seed), &sh, px, py, sharing, &v, &w)?;
    }

    /// Elementwise products and squares of values up to 2^19 (products up to 2^38: far past
    /// 64-bit Pond's 2^11 bound), public and private operands, both truncations.
    #[test]
    fn mul_and_square_reconstruct(
        sh in shape(2, 4), seed in any::<u64>(), t in truncations(), px in any::<bool>(),
        py in any::<bool>(), v in vals(16, 1000.0), w in vals(16, 500.0),
    ) {
        let n = numel(&sh);
        let p = operand(Pond::wide(seed).truncation(t), "x", px, "alice", &sh, &v[..n]);
        let p = operand(p, "y", py, "bob", &sh, &w[..n])
            .op("z", Op::Mul(s("x"), s("y")))
            .op("q", Op::Square(s("x")))
            .op("z2", Op::Mul(s("x"), s("q")));
        let r = run(&p)?;
        // |x·y| ≤ 5·10^5: the encoding errors (u/2 each) times the other operand, plus the
        // truncation's ulp; 2^-32 keeps it below 10^-3.
        check(&r, "z", bounds::product(1, 1000.0, 500.0, u()))?;
        check(&r, "q", bounds::product(1, 1000.0, 1000.0, u()))?;
        let eq = bounds::product(1, 1000.0, 1000.0, u());
        check(&r, "z2", bounds::product_of_results(1, 1000.0, u(), 1e6, eq, u()))?;
    }

    /// Matmul and conv2d (mask reuse: `w` is used twice), public and private.
    #[test]
    fn matmul_and_conv2d_reconstruct(
        m in 1..4usize, k in 1..5usize, nn in 1..4usize, seed in any::<u64>(),
        t in truncations(), pw in any::<bool>(), v in vals(64, 30.0), w in vals(64, 30.0),
    ) {
        let p = Pond::wide(seed).truncation(t)
            .private("x", "alice", &[m, k], v[..m * k].to_vec());
        let p = operand(p, "w", !pw, "bob", &[k, nn], &w[..k * nn])
            .op("h", Op::MatMul(s("x"), s("w")))
            .op("h2", Op::MatMul(s("x"), s("w")))
            .private("img", "alice", &[1, 1, 4, 4], v[..16].to_vec())
            .private("f", "bob", &[2, 1, 2, 2], w[..8].to_vec())
            .op("c", Op::Conv2d { input: s("img"), filters: s("f"), stride: 1, padding: 1 });
        let r = run(&p)?;
        check(&r, "h", bounds::product(k, 30.0, 30.0, u()))?;
        check(&r, "h2", bounds::product(k, 30.0, 30.0, u()))?;
        check(&r, "c", bounds::product(4, 30.0, 30.0, u()))?;
    }

    /// Average pooling and the polynomial activations on their ranges.
    #[test]
    fn avgpool_and_polynomials_reconstruct(
        seed in any::<u64>(), t in truncations(), v in vals(32, 1.9), big in vals(16, 1000.0),
    ) {
        let p = Pond::wide(seed).truncation(t)
            .private("img", "alice", &[1, 2, 4, 4], big.iter().chain(&big).copied().collect())
            .op("a", Op::AvgPool2d { input: s("img"), kernel: 2, stride: None })
            .private("x", "bob", &[4, 8], v.clone())
            .op("sg", Op::Sigmoid(s("x")))
            .op("th", Op::Tanh(s("x")))
            .op("re", Op::Relu(s("x")));
        let r = run(&p)?;
        check(&r, "a", bounds::avgpool(2, 1000.0, u()))?;
        for (l, approx) in [("sg", SIGMOID), ("th", TANH), ("re", RELU)] {
            // Against the polynomial itself: the protocol's only error is fixed point.
            let want: Vec<f64> = v.iter().map(|&x| approx.eval(x)).collect();
            close(l, &op(&r, l).reconstructed, &want, 1e-6)?;
        }
    }
}

/// The rows of docs/costs.md at 128 bits: each formula with n counted in 8-byte words (2n),
/// seeds 32 bytes, messages and rounds as at 64 bits.
#[test]
fn bytes_messages_and_rounds_are_the_64_bit_rows_with_16_byte_elements() {
    for t in [Truncation::Dealer, Truncation::Local] {
        for sh in [vec![1usize], vec![3, 4]] {
            let n = numel(&sh) as u64;
            for sharing in [InputSharing::Seeded, InputSharing::Dense] {
                let r = Pond::wide(n)
                    .truncation(t)
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
                assert_eq!(cost_of(&r, "z"), product_private(4 * n, 2 * n, t));
                // Both masks are cached: nothing opened, only the truncation online.
                assert_eq!(cost_of(&r, "z2"), product_private(0, 2 * n, t));
                assert_eq!(cost_of(&r, "q"), product_public(2 * n, t));
                assert_eq!(cost_of(&r, "sg"), polynomial(&SIGMOID, 2 * n, false, t));
                assert_eq!(cost_of(&r, "o"), reveal_private(2 * n));
                assert_eq!(cost_of(&r, "output z2"), output_private(2 * n));
            }
        }
    }
    // Explicit numbers: a dealer truncation of 3 elements is 2·16·3 = 96 B online and
    // 32 + 96 = 128 B offline; the seeded input of 3 elements 32 + 48 B.
    let r = Pond::wide(1)
        .private("x", "alice", &[1, 1, 2, 6], pattern(&[12], 1.0))
        .op(
            "a",
            Op::AvgPool2d {
                input: s("x"),
                kernel: 2,
                stride: None,
            },
        )
        .run_ok();
    assert_eq!(cost_of(&r, "a"), avgpool2d(6, Truncation::Dealer));
    assert_eq!(
        (cost_of(&r, "a").bytes, cost_of(&r, "a").offline_bytes),
        (96, 128)
    );
    assert_eq!(cost_of(&r, "input x").bytes, 32 + 12 * 16);
    // `check`'s estimate is the run's accounting exactly.
    let plan = Pond::wide(1)
        .private("x", "alice", &[2, 3], pattern(&[6], 1.0))
        .private("w", "bob", &[3, 2], pattern(&[6], 1.0))
        .op("h", Op::MatMul(s("x"), s("w")))
        .op("s", Op::Sigmoid(s("h")))
        .output("s")
        .plan()
        .unwrap();
    sharescope_tests::assert_plan_costs_exact(&plan);
}

/// The trace holds 128-bit shares and messages whole: Z_2^128 records with their high words,
/// 16 bytes per element on the wire, and server0's and server1's shares add up (mod 2^128) to
/// the encoding of the plaintext.
#[test]
fn the_trace_shows_128_bit_shares_and_messages() {
    let x = vec![1.5, -2.25, 1000.0, -0.001];
    let r = Pond::wide(3)
        .input_sharing(InputSharing::Dense)
        .private("x", "alice", &[4], x.clone())
        .run_ok();
    let o = op(&r, "input x");
    let step = &r.trace.steps[o.first_step];
    let (p0, p1) = (&step.parties[0].shares[0], &step.parties[1].shares[0]);
    assert_eq!((p0.kind, p1.kind), (RingKind::Z128, RingKind::Z128));
    assert_eq!(p0.high.len(), 4);
    let cfg = protocols::fixed::FixedConfig::high();
    for (i, &v) in x.iter().enumerate() {
        let sum = p0.wide(i).wrapping_add(p1.wide(i));
        assert_eq!(sum, cfg.encode_in::<u128>(v), "element {i}");
    }
    // A uniform 128-bit share has a nonzero high word (all four zero: 2^-256).
    assert!(p0.high.iter().any(|&h| h != 0));
    let msgs: Vec<_> = step.parties.iter().flat_map(|p| p.sent.iter()).collect();
    assert!(!msgs.is_empty());
    for m in msgs {
        assert_eq!(m.bytes, 64, "4 elements of 16 bytes: {}", m.label);
        assert_eq!(m.payload[0].kind, RingKind::Z128);
        assert_eq!(m.payload[0].high.len(), 4);
    }
}

/// The view test at 128 bits: no party's view of a Beaver product, a truncation, a polynomial
/// or an output depends on the others' secrets.
#[test]
fn a_128_bit_product_and_polynomial_show_no_leak() {
    let v = |n: usize, k: f64| -> Vec<f64> {
        (0..n)
            .map(|i| k * ((i * 37 % 17) as f64 - 8.0) / 8.0)
            .collect()
    };
    let plan = Pond::wide(3)
        .private("x", "alice", &[2, 3], v(6, 700.0))
        .private("y", "bob", &[2, 3], v(6, -1.5))
        .op("z", Op::Mul(s("x"), s("y")))
        .op("t", Op::Tanh(s("y")))
        .output("z")
        .plan()
        .expect("valid");
    let r = sim::leak::assert_no_leak(&plan, 20);
    let seen: usize = r
        .parties
        .iter()
        .flat_map(|p| &p.ops)
        .filter(|o| o.name == "z")
        .map(|o| o.features)
        .sum();
    assert!(seen > 0, "{}", r.text());
}
