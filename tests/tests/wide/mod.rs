//! What the 128-bit property tests of Pond (`pond_int128.rs`) and ABY3 (`aby3_int128.rs`) share:
//! the ulp of f = 32, the value and shape strategies, the reconstruct-vs-plaintext checks, and
//! the body of the linear-ops property (the same program under either protocol).

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use protocols::pond::{InputSharing, Truncation};
use protocols::program::Op;
use sharescope_tests::{bounds, op, Pond};
use sim::RunResult;

/// The fractional bits of the 128-bit preset.
pub const F: u32 = 32;

/// One ulp at f = 32.
pub fn u() -> f64 {
    bounds::ulp(F)
}

/// An operand name.
pub fn s(n: &str) -> String {
    n.to_string()
}

/// Either truncation.
pub fn truncations() -> impl Strategy<Value = Truncation> {
    prop_oneof![Just(Truncation::Dealer), Just(Truncation::Local)]
}

/// `n` values in (−b, b).
pub fn vals(n: usize, b: f64) -> impl Strategy<Value = Vec<f64>> {
    proptest::collection::vec(-b..b, n)
}

/// A shape of 1 to `dims` axes, each 1 to `side` long.
pub fn shape(dims: usize, side: usize) -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(1..=side, 1..=dims)
}

/// `got` is within `tol` (plus the shadow's slack) of `want`, element by element.
pub fn close(what: &str, got: &[f64], want: &[f64], tol: f64) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.len(), want.len(), "{}: element count", what);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let t = tol + bounds::SHADOW_SLACK;
        prop_assert!(
            (g - w).abs() <= t,
            "{}[{}]: reconstructed {} but plaintext {} (|err| {:e} > {:e})",
            what,
            i,
            g,
            w,
            (g - w).abs(),
            t
        );
    }
    Ok(())
}

/// Op `label` reconstructs to its plaintext within `tol`.
pub fn check(run: &RunResult, label: &str, tol: f64) -> Result<(), TestCaseError> {
    let o = op(run, label);
    close(label, &o.reconstructed, &o.plaintext, tol)
}

/// Runs `p`, a failure as a test-case failure.
pub fn run(p: &Pond) -> Result<RunResult, TestCaseError> {
    p.run()
        .map_err(|e| TestCaseError::fail(format!("run failed: {e}")))
}

/// `p` with input `name`: private (owned by `owner`) or public.
pub fn operand(
    p: Pond,
    name: &str,
    private: bool,
    owner: &str,
    shape: &[usize],
    v: &[f64],
) -> Pond {
    if private {
        p.private(name, owner, shape, v.to_vec())
    } else {
        p.public(name, shape, v.to_vec())
    }
}

/// Add, sub, neg, reduce_sum, transpose and flatten of x and y (each public or private, values
/// `v`, `w` cut to `sh`), a reveal and two outputs, all exact to 2 ulps (the sum to `sh[0]` × 2).
#[allow(clippy::too_many_arguments)]
pub fn linear_ops_are_exact(
    p: Pond,
    sh: &[usize],
    px: bool,
    py: bool,
    sharing: InputSharing,
    v: &[f64],
    w: &[f64],
) -> Result<(), TestCaseError> {
    let n: usize = sh.iter().product();
    let p = operand(p.input_sharing(sharing), "x", px, "alice", sh, &v[..n]);
    let p = operand(p, "y", py, "bob", sh, &w[..n])
        .op("a", Op::Add(s("x"), s("y")))
        .op("b", Op::Sub(s("x"), s("y")))
        .op("c", Op::Neg(s("b")))
        .op(
            "r",
            Op::ReduceSum {
                input: s("a"),
                axis: Some(0),
            },
        )
        .op("t", Op::Transpose(s("c")))
        .op("l", Op::Flatten(s("t")))
        .op("o", Op::Reveal(s("a")))
        .output("b")
        .output("l");
    let r = run(&p)?;
    for l in ["a", "b", "c", "t", "l", "o", "output b", "output l"] {
        check(&r, l, 2.0 * u())?;
    }
    check(&r, "r", sh[0] as f64 * 2.0 * u())
}
