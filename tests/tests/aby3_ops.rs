//! ABY3 at sim level: every arithmetic op's reconstructed result (the three servers' pairs,
//! `Protocol::reconstruct`) agrees with the plaintext shadow over random shapes, values and
//! seeds, under both truncations.

use protocols::pond::Truncation;
use protocols::program::Op;
use sharescope_tests::{error, Lcg, Pond};
use sim::scenario::ProtocolKind;

fn aby3(seed: u64, t: Truncation) -> Pond {
    Pond::new(seed)
        .protocol(ProtocolKind::named("ABY3").expect("ABY3 is registered"))
        .truncation(t)
}

#[test]
fn arithmetic_ops_reconstruct_to_the_plaintext_over_random_shapes_and_seeds() {
    for seed in 0..24u64 {
        let t = if seed % 2 == 0 {
            Truncation::Dealer
        } else {
            Truncation::Local
        };
        let mut g = Lcg(seed * 7 + 1);
        let (m, k, n) = (g.dim_up_to(6), g.dim_up_to(6), g.dim_up_to(6));
        let run = aby3(seed, t)
            .private("x", "alice", &[m, k], g.vals_scaled(m * k, 2.0))
            .private("y", "bob", &[m, k], g.vals_scaled(m * k, 2.0))
            .private("w", "bob", &[k, n], g.vals_scaled(k * n, 1.0))
            .public("p", &[m, k], g.vals_scaled(m * k, 1.5))
            .op("add", Op::Add("x".into(), "y".into()))
            .op("sub", Op::Sub("x".into(), "p".into()))
            .op("neg", Op::Neg("y".into()))
            .op("mul", Op::Mul("x".into(), "y".into()))
            .op("pmul", Op::Mul("x".into(), "p".into()))
            .op("sq", Op::Square("x".into()))
            .op("mm", Op::MatMul("x".into(), "w".into()))
            .op("tr", Op::Transpose("mm".into()))
            .op(
                "rs",
                Op::ReduceSum {
                    input: "mm".into(),
                    axis: Some(1),
                },
            )
            .op("sig", Op::Sigmoid("neg".into()))
            .op("rev", Op::Reveal("mul".into()))
            .output("mm")
            .run_ok();
        for name in [
            "add", "sub", "neg", "mul", "pmul", "sq", "mm", "tr", "rs", "sig", "rev",
        ] {
            // Fixed-point rounding (f = 16) over at most 6-term sums; for the sigmoid the
            // polynomial's own error against the true sigmoid the shadow computes (within
            // ±0.024 on [-8, 8]).
            let tol = if name == "sig" { 0.025 } else { 2e-3 };
            let e = error(&run, name);
            assert!(
                e <= tol,
                "seed {seed} {t:?} `{name}` ({m}×{k}, {k}×{n}): error {e}"
            );
        }
    }
}
