//! Pond's ops reconstruct to the plaintext: property tests over random shapes, values, seeds,
//! public/private combinations, input sharing and truncation methods.
//!
//! Each case builds a scenario, runs it in the simulator, adds the servers' shares of every op's
//! result (the trace's `reconstructed`) and compares with the plaintext: the f64 shadow for exact
//! ops, the same polynomial evaluated in f64 for the activations. Tolerances are the error bounds
//! of `sharescope_tests::bounds`, derived from how each op is computed.
//!
//! Value ranges keep every value inside the integral bound (2^11 for the default fixed point), so
//! dealer-assisted truncation is always within one ulp. Local truncation fails with probability
//! about |z|·2^(2f−64) per element for a product z (encoded at scale 2f); with local truncation
//! the ranges keep |z| ≤ 2^6, i.e. below 2^−26 per element at f = 16, far below one failure over
//! the whole suite. The last tests show the failure on purpose.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use protocols::pond::{Approximation, InputSharing, Truncation, RELU, SIGMOID, TANH};
use protocols::program::Op;
use sharescope_tests::{bounds, max_abs, op, Pond};
use sim::RunResult;

const F: u32 = 16;

fn u() -> f64 {
    bounds::ulp(F)
}

fn cfg() -> ProptestConfig {
    ProptestConfig {
        cases: 32,
        ..ProptestConfig::default()
    }
}

fn s(n: &str) -> String {
    n.to_string()
}

fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

fn truncation() -> impl Strategy<Value = Truncation> {
    prop_oneof![Just(Truncation::Dealer), Just(Truncation::Local)]
}

fn sharing() -> impl Strategy<Value = InputSharing> {
    prop_oneof![Just(InputSharing::Seeded), Just(InputSharing::Dense)]
}

/// Largest input magnitude for products under truncation `t` (see the module docs).
fn product_range(t: Truncation) -> f64 {
    match t {
        Truncation::Dealer => 8.0,
        Truncation::Local => 1.5,
    }
}

fn vals(n: usize, b: f64) -> impl Strategy<Value = Vec<f64>> {
    proptest::collection::vec(-b..b, n)
}

/// A shape of 1 to `dims` axes of 1 to `side` elements.
fn shape(dims: usize, side: usize) -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(1..=side, 1..=dims)
}

/// Two shapes that broadcast: equal, or the second a trailing row, a column, or a scalar; in
/// either order.
fn broadcast_pair() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    (1..=3usize, 1..=4usize, 0..5usize, any::<bool>()).prop_map(|(r, c, kind, swap)| {
        let other = match kind {
            0 => vec![r, c],
            1 => vec![c],
            2 => vec![1, c],
            3 => vec![r, 1],
            _ => vec![1],
        };
        if swap {
            (other, vec![r, c])
        } else {
            (vec![r, c], other)
        }
    })
}

/// Adds `name` as a private input of `owner`, or as a public constant.
fn operand(p: Pond, name: &str, private: bool, owner: &str, shape: &[usize], v: &[f64]) -> Pond {
    if private {
        p.private(name, owner, shape, v.to_vec())
    } else {
        p.public(name, shape, v.to_vec())
    }
}

/// Compares `got` with `want` elementwise within `tol(i)`; the lengths must agree.
fn close(
    what: &str,
    got: &[f64],
    want: &[f64],
    tol: impl Fn(usize) -> f64,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.len(), want.len(), "{}: element count", what);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let t = tol(i) + bounds::SHADOW_SLACK;
        prop_assert!(
            (g - w).abs() <= t,
            "{}[{}]: reconstructed {} but plaintext {} (|err| {:e} > tolerance {:e})",
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

/// The op's reconstruction against its plaintext shadow within a uniform tolerance; a share the
/// servers hold of the result has the op's shape.
fn check(run: &RunResult, label: &str, tol: f64) -> Result<(), TestCaseError> {
    let o = op(run, label);
    if let Some(held) = server0_result_shape(run, label) {
        prop_assert_eq!(&held, &o.shape, "shape of {}'s share", label);
    }
    close(label, &o.reconstructed, &o.plaintext, |_| tol)
}

/// The shape of the last share server0 recorded during op `label`.
fn server0_result_shape(run: &RunResult, label: &str) -> Option<Vec<usize>> {
    let o = op(run, label);
    run.trace.steps[o.first_step..o.end_step]
        .iter()
        .flat_map(|st| st.parties[0].shares.iter())
        .last()
        .map(|v| v.shape.clone())
}

fn run(p: &Pond) -> Result<RunResult, TestCaseError> {
    p.run()
        .map_err(|e| TestCaseError::fail(format!("run failed: {e}")))
}

/// The public factor of the reveal test: |x| < 1000, so |x·C| < 1 and its square stays small.
const C: f64 = 0.001;

// ---- Input sharing, reveal, output --------------------------------------------------------

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn input_sharing_reconstructs_the_encoded_input(
        (sh, v) in shape(3, 5).prop_flat_map(|sh| { let n = numel(&sh); (Just(sh), vals(n, 1000.0)) }),
        sharing in sharing(),
        seed in any::<u64>(),
    ) {
        let r = run(&Pond::new(seed).input_sharing(sharing).private("x", "alice", &sh, v))?;
        check(&r, "input x", bounds::encoding(u()))?;
    }

    #[test]
    fn reveal_and_output_give_the_value_to_the_servers_and_the_receiver(
        (sh, v, w) in shape(3, 4).prop_flat_map(|sh| {
            let n = numel(&sh);
            (Just(sh), vals(n, 1000.0), vals(n, 1000.0))
        }),
        sharing in sharing(),
        seed in any::<u64>(),
    ) {
        let r = run(&Pond::new(seed)
            .input_sharing(sharing)
            .private("x", "alice", &sh, v.clone())
            .public("p", &sh, w.clone())
            .public("c", &[1], vec![C])
            .op("r", Op::Reveal(s("x")))
            .op("q", Op::Reveal(s("p")))
            .op("small", Op::Mul(s("x"), s("c")))
            .op("opened", Op::Reveal(s("small")))
            .op("rx", Op::Mul(s("opened"), s("small")))
            .op("rsum", Op::Add(s("opened"), s("x")))
            .output("x")
            .output("r")
            .output("p"))?;
        check(&r, "r", bounds::encoding(u()))?;
        check(&r, "q", bounds::encoding(u()))?;
        // A revealed value is public to the servers and feeds public × private ops.
        let small = bounds::product(1, max_abs(&v), C, u());
        check(&r, "opened", small)?;
        let bs = max_abs(&v) * C;
        check(&r, "rx", bounds::product_of_results(1, bs, small, bs, small, u()))?;
        check(&r, "rsum", small + bounds::encoding(u()))?;
        prop_assert_eq!(r.outputs.len(), 3);
        for (out, want) in r.outputs.iter().zip([&v, &v, &w]) {
            prop_assert_eq!(&out.shape, &sh);
            close(&out.name, &out.values, want, |_| bounds::encoding(u()))?;
        }
    }
}

// ---- Local ops ----------------------------------------------------------------------------

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn add_sub_neg_match_for_every_public_private_combination_and_broadcast(
        ((sx, sy), vx, vy) in broadcast_pair().prop_flat_map(|(a, b)| {
            let (na, nb) = (numel(&a), numel(&b));
            (Just((a, b)), vals(na, 500.0), vals(nb, 500.0))
        }),
        (px, py) in (any::<bool>(), any::<bool>()),
        sharing in sharing(),
        seed in any::<u64>(),
    ) {
        let p = Pond::new(seed).input_sharing(sharing);
        let p = operand(p, "x", px, "alice", &sx, &vx);
        let p = operand(p, "y", py, "bob", &sy, &vy);
        let r = run(&p
            .op("add", Op::Add(s("x"), s("y")))
            .op("sub", Op::Sub(s("x"), s("y")))
            .op("rsub", Op::Sub(s("y"), s("x")))
            .op("negx", Op::Neg(s("x")))
            .op("negy", Op::Neg(s("y")))
            .op("chain", Op::Add(s("sub"), s("negx"))))?;
        for label in ["add", "sub", "rsub"] {
            check(&r, label, bounds::sum(2, u()))?;
        }
        check(&r, "negx", bounds::encoding(u()))?;
        check(&r, "negy", bounds::encoding(u()))?;
        // (x − y) + (−x): x's rounding cancels exactly, y's remains.
        check(&r, "chain", bounds::sum(3, u()))?;
    }

    #[test]
    fn reduce_sum_transpose_reshape_flatten_match(
        (sh, v) in shape(3, 4).prop_flat_map(|sh| { let n = numel(&sh); (Just(sh), vals(n, 30.0)) }),
        private in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let n = numel(&sh);
        let mut p = operand(Pond::new(seed), "x", private, "alice", &sh, &v)
            .op("all", Op::ReduceSum { input: s("x"), axis: None })
            .op("t", Op::Transpose(s("x")))
            .op("flat", Op::Flatten(s("x")))
            .op("rev", Op::Reshape { input: s("x"), shape: sh.iter().rev().copied().collect() })
            .op("line", Op::Reshape { input: s("t"), shape: vec![n] });
        for axis in 0..sh.len() {
            p = p.op(&format!("sum{axis}"), Op::ReduceSum { input: s("x"), axis: Some(axis) });
        }
        let r = run(&p)?;
        check(&r, "all", bounds::sum(n, u()))?;
        for label in ["t", "flat", "rev", "line"] {
            check(&r, label, bounds::encoding(u()))?;
        }
        for (axis, len) in sh.iter().enumerate() {
            check(&r, &format!("sum{axis}"), bounds::sum(*len, u()))?;
        }
        if private {
            // The servers hold shares of every result, with the op's shape (e.g. [1] for a sum
            // over the only axis of a 1-D value).
            for o in &r.trace.ops {
                let held = server0_result_shape(&r, &o.name);
                prop_assert_eq!(held.as_ref(), Some(&o.shape), "shape of {}'s share", o.name);
            }
        }
    }
}

// ---- Products -----------------------------------------------------------------------------

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn mul_matches_for_every_public_private_combination_and_broadcast(
        ((sx, sy), vx, vy, vz) in broadcast_pair().prop_flat_map(|(a, b)| {
            let (na, nb) = (numel(&a), numel(&b));
            (Just((a, b)), vals(na, 1.0), vals(nb, 1.0), vals(nb, 1.0))
        }),
        (px, py) in (any::<bool>(), any::<bool>()),
        t in truncation(),
        sharing in sharing(),
        seed in any::<u64>(),
    ) {
        // Scale the unit values to the truncation's safe range.
        let b = product_range(t);
        let sc = |v: &[f64]| v.iter().map(|e| e * b).collect::<Vec<_>>();
        let (vx, vy, vz) = (sc(&vx), sc(&vy), sc(&vz));
        let p = Pond::new(seed).truncation(t).input_sharing(sharing);
        let p = operand(p, "x", px, "alice", &sx, &vx);
        let p = operand(p, "y", py, "bob", &sy, &vy);
        let p = operand(p, "z", py, "bob", &sy, &vz);
        let r = run(&p
            .op("xy", Op::Mul(s("x"), s("y")))
            .op("xz", Op::Mul(s("x"), s("z")))   // reuses x's mask
            .op("yx", Op::Mul(s("y"), s("x")))   // reuses both masks
            .op("xx", Op::Mul(s("x"), s("x"))))?;
        let (bx, by, bz) = (max_abs(&vx), max_abs(&vy), max_abs(&vz));
        check(&r, "xy", bounds::product(1, bx, by, u()))?;
        check(&r, "xz", bounds::product(1, bx, bz, u()))?;
        check(&r, "yx", bounds::product(1, by, bx, u()))?;
        check(&r, "xx", bounds::product(1, bx, bx, u()))?;
    }

    #[test]
    fn square_matches_with_fresh_and_reused_masks(
        (sh, v) in shape(3, 4).prop_flat_map(|sh| { let n = numel(&sh); (Just(sh), vals(n, 1.0)) }),
        private in any::<bool>(),
        t in truncation(),
        seed in any::<u64>(),
    ) {
        let b = product_range(t);
        let v: Vec<f64> = v.iter().map(|e| e * b).collect();
        let r = run(&operand(Pond::new(seed).truncation(t), "x", private, "alice", &sh, &v)
            .op("sq", Op::Square(s("x")))
            .op("sq2", Op::Square(s("x")))
            .op("xsq", Op::Mul(s("x"), s("sq"))))?;
        let bx = max_abs(&v);
        check(&r, "sq", bounds::product(1, bx, bx, u()))?;
        check(&r, "sq2", bounds::product(1, bx, bx, u()))?;
        // x · x²: x² carries its own error into the second product.
        let e2 = bounds::product(1, bx, bx, u());
        let xsq = bounds::product_of_results(1, bx, bounds::encoding(u()), bx * bx, e2, u());
        check(&r, "xsq", xsq)?;
    }

    #[test]
    fn matmul_matches_for_every_public_private_combination(
        ((m, k, n), vx, vw, vv) in (1..=4usize, 1..=4usize, 1..=4usize).prop_flat_map(|(m, k, n)| {
            (Just((m, k, n)), vals(m * k, 1.0), vals(k * n, 1.0), vals(k * n, 1.0))
        }),
        (px, pw) in (any::<bool>(), any::<bool>()),
        t in truncation(),
        sharing in sharing(),
        seed in any::<u64>(),
    ) {
        let b = product_range(t);
        let sc = |v: &[f64]| v.iter().map(|e| e * b).collect::<Vec<_>>();
        let (vx, vw, vv) = (sc(&vx), sc(&vw), sc(&vv));
        let p = Pond::new(seed).truncation(t).input_sharing(sharing);
        let p = operand(p, "x", px, "alice", &[m, k], &vx);
        let p = operand(p, "w", pw, "bob", &[k, n], &vw);
        let p = operand(p, "v", pw, "bob", &[k, n], &vv);
        let r = run(&p
            .op("xw", Op::MatMul(s("x"), s("w")))
            .op("xv", Op::MatMul(s("x"), s("v")))   // reuses x's mask
            .op("wt", Op::Transpose(s("w")))
            .op("xvwt", Op::MatMul(s("xv"), s("wt"))))?;
        let (bx, bw, bv) = (max_abs(&vx), max_abs(&vw), max_abs(&vv));
        check(&r, "xw", bounds::product(k, bx, bw, u()))?;
        let exv = bounds::product(k, bx, bv, u());
        check(&r, "xv", exv)?;
        // (x·v)·wᵀ: the first factor carries the first product's error.
        let bxv = k as f64 * bx * bv;
        check(&r, "xvwt", bounds::product_of_results(n, bxv, exv, bw, bounds::encoding(u()), u()))?;
    }

    #[test]
    fn conv2d_matches_with_stride_and_padding(
        ((xs, ws, stride, padding), vx, vw) in (
            1..=2usize, 1..=2usize, 3..=6usize, 3..=6usize, 1..=2usize, 1..=3usize, 1..=3usize,
            1..=2usize, 0..=1usize,
        ).prop_flat_map(|(n, c, h, w, o, kh, kw, stride, padding)| {
            let (xs, ws) = ([n, c, h, w], [o, c, kh, kw]);
            (Just((xs, ws, stride, padding)), vals(numel(&xs), 1.0), vals(numel(&ws), 1.0))
        }),
        (px, pw) in (any::<bool>(), any::<bool>()),
        t in truncation(),
        seed in any::<u64>(),
    ) {
        let b = product_range(t);
        let sc = |v: &[f64]| v.iter().map(|e| e * b).collect::<Vec<_>>();
        let (vx, vw) = (sc(&vx), sc(&vw));
        let p = Pond::new(seed).truncation(t);
        let p = operand(p, "x", px, "alice", &xs, &vx);
        let p = operand(p, "w", pw, "bob", &ws, &vw);
        let r = run(&p.op("y", Op::Conv2d { input: s("x"), filters: s("w"), stride, padding }))?;
        let fan_in = ws[1] * ws[2] * ws[3];
        check(&r, "y", bounds::product(fan_in, max_abs(&vx), max_abs(&vw), u()))?;
        let y = op(&r, "y");
        let oh = (xs[2] + 2 * padding - ws[2]) / stride + 1;
        let ow = (xs[3] + 2 * padding - ws[3]) / stride + 1;
        prop_assert_eq!(&y.shape, &vec![xs[0], ws[0], oh, ow]);
    }

    #[test]
    fn avgpool2d_matches(
        ((sh, kernel, stride), v) in (1..=2usize, 1..=2usize, 1..=3usize, proptest::option::of(1..=3usize))
            .prop_flat_map(|(n, c, kernel, stride)| {
                (Just((n, c, kernel, stride)), kernel..=6usize, kernel..=6usize)
            })
            .prop_flat_map(|((n, c, kernel, stride), h, w)| {
                let sh = vec![n, c, h, w];
                let len = numel(&sh);
                (Just((sh, kernel, stride)), vals(len, 1.0))
            }),
        private in any::<bool>(),
        t in truncation(),
        seed in any::<u64>(),
    ) {
        let b = 8.0 * product_range(t);
        let v: Vec<f64> = v.iter().map(|e| e * b).collect();
        let r = run(&operand(Pond::new(seed).truncation(t), "x", private, "alice", &sh, &v)
            .op("y", Op::AvgPool2d { input: s("x"), kernel, stride }))?;
        check(&r, "y", bounds::avgpool(kernel, max_abs(&v), u()))?;
    }
}

// ---- Polynomial activations ---------------------------------------------------------------

/// Largest |x| for the activations: x⁹ stays inside the integral bound 2^11 for the dealer;
/// with local truncation every truncated value stays below 1 (failure below 2^−31).
fn activation_range(t: Truncation) -> f64 {
    match t {
        Truncation::Dealer => 2.0,
        Truncation::Local => 1.0,
    }
}

/// |p′(x)| bounded by Σ k·|c_k|·|x|^(k−1): how far the polynomial moves over half an ulp.
fn lipschitz(approx: &Approximation, x: f64) -> f64 {
    approx
        .terms
        .iter()
        .filter(|t| t.0 > 0)
        .map(|&(k, c)| k as f64 * c.abs() * x.abs().powi(k as i32 - 1))
        .sum()
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn sigmoid_tanh_relu_match_their_polynomials(
        (sh, v) in shape(2, 4).prop_flat_map(|sh| { let n = numel(&sh); (Just(sh), vals(n, 1.0)) }),
        private in any::<bool>(),
        masked_before in any::<bool>(),
        t in truncation(),
        seed in any::<u64>(),
    ) {
        let b = activation_range(t);
        let v: Vec<f64> = v.iter().map(|e| e * b).collect();
        let mut p = operand(Pond::new(seed).truncation(t), "x", private, "alice", &sh, &v);
        if masked_before {
            // x's mask is then cached before the activations (their x² reuses it).
            p = p.op("xx", Op::Mul(s("x"), s("x")));
        }
        let r = run(&p
            .op("sigmoid", Op::Sigmoid(s("x")))
            .op("tanh", Op::Tanh(s("x")))
            .op("relu", Op::Relu(s("x"))))?;
        for (label, approx) in [("sigmoid", SIGMOID), ("tanh", TANH), ("relu", RELU)] {
            let want: Vec<f64> = v.iter().map(|&x| approx.eval(x)).collect();
            let got = &op(&r, label).reconstructed;
            if private {
                close(label, got, &want, |i| bounds::polynomial(&approx, v[i], u()))?;
            } else {
                // Public: evaluated in f64 on the decoded input, then encoded.
                close(label, got, &want, |i| {
                    lipschitz(&approx, v[i].abs() + u()) * bounds::encoding(u()) + bounds::encoding(u())
                })?;
            }
        }
    }
}

// ---- Truncation: the local method's failure, and mask reuse -------------------------------

/// Inputs of magnitude up to 1000 at f = 20: products reach 2^59.9 at scale 2f, so local
/// truncation fails with probability ≈ |z|/2^64 (about 1/64 on average) per element.
fn large_product(seed: u64, t: Truncation, n: usize) -> RunResult {
    let spread = |a: u64, b: u64| -> Vec<f64> {
        (0..n as u64)
            .map(|i| ((i * a + seed * b) % 2001) as f64 - 1000.0)
            .collect()
    };
    Pond::new(seed)
        .fixed(20, 20, 3)
        .truncation(t)
        .private("x", "alice", &[n], spread(7919, 31))
        .private("y", "bob", &[n], spread(104_729, 17))
        .op("z", Op::Mul(s("x"), s("y")))
        .run_ok()
}

#[test]
fn local_truncation_of_large_products_sometimes_fails_hugely_where_dealer_truncation_does_not() {
    let n = 512;
    let u = bounds::ulp(20);
    // A failed local truncation is off by the ring's wrap-around, 2^64 at scale 2f: 2^(64−2f).
    let wrap = (2f64).powi(64 - 2 * 20);
    let (mut failures, mut expected) = (0usize, 0.0);
    for seed in 0..4 {
        let local = large_product(seed, Truncation::Local, n);
        let dealer = large_product(seed, Truncation::Dealer, n);
        let (zl, zd) = (op(&local, "z"), op(&dealer, "z"));
        assert_eq!(zl.plaintext, zd.plaintext);
        for ((l, d), w) in zl
            .reconstructed
            .iter()
            .zip(&zd.reconstructed)
            .zip(&zl.plaintext)
        {
            // Integer inputs encode exactly: dealer truncation is within one ulp.
            assert!((d - w).abs() <= u, "dealer truncation: {d} vs {w}");
            let err = (l - w).abs();
            if err > 1.0 {
                assert!(
                    (err - wrap).abs() <= 2.0 * u,
                    "a failure is one wrap-around: {err}"
                );
                failures += 1;
            } else {
                assert!(err <= u, "local truncation: {l} vs {w}");
            }
            expected += w.abs() * (2f64).powi(2 * 20 - 64);
        }
        assert!(
            zl.hazards
                .iter()
                .any(|h| matches!(h, protocols::fixed::Hazard::LocalTruncationFailure { .. })),
            "the shadow warns about local truncation: {:?}",
            zl.hazards
        );
    }
    // About |z|/2^64 per element: ~30 expected over the 2048 elements.
    assert!(
        failures >= 1,
        "local truncation never failed ({expected:.1} expected)"
    );
    assert!(
        (failures as f64) > expected / 3.0 && (failures as f64) < expected * 3.0,
        "{failures} failures, {expected:.1} expected"
    );
}

#[test]
fn mask_reuse_sends_only_the_fresh_operand_and_stays_correct() {
    let n = 6;
    let v = |k: f64| (0..n).map(|i| k * (i as f64 - 2.5)).collect::<Vec<_>>();
    let r = Pond::new(99)
        .private("x", "alice", &[n], v(0.5))
        .private("y", "bob", &[n], v(-0.75))
        .private("z", "bob", &[n], v(1.25))
        .op("xy", Op::Mul(s("x"), s("y")))
        .op("xz", Op::Mul(s("x"), s("z")))
        .run_ok();
    let n8 = 8 * n as u64;
    let (xy, xz) = (op(&r, "xy"), op(&r, "xz"));
    // Both products also truncate (16n bytes); the openings differ.
    assert_eq!(xy.stats.bytes, 2 * (n8 + n8) + 2 * n8);
    assert_eq!(xz.stats.bytes, 2 * n8 + 2 * n8);
    assert_eq!(
        xy.stats.bytes - xz.stats.bytes,
        2 * n8,
        "x's masked value is not resent"
    );
    // The trace shows what was opened: x and y in the first product, only z in the second.
    let opened = |o: &sim::trace::OpRecord| -> Vec<String> {
        r.trace.steps[o.first_step..o.end_step]
            .iter()
            .filter(|st| st.name.contains("open masked"))
            .flat_map(|st| st.messages().map(|m| m.label.clone()))
            .collect()
    };
    let (first, second) = (opened(xy), opened(xz));
    assert!(
        first
            .iter()
            .all(|l| l.contains("x − a_x") && l.contains("y − a_y")),
        "{first:?}"
    );
    assert!(
        second
            .iter()
            .all(|l| l.contains("z − a_z") && !l.contains("x − a_x")),
        "{second:?}"
    );
    assert_eq!(second.len(), 2);
    for (label, other) in [("xy", v(-0.75)), ("xz", v(1.25))] {
        let o = op(&r, label);
        let tol = bounds::product(1, max_abs(&v(0.5)), max_abs(&other), u());
        assert_eq!(o.reconstructed.len(), n);
        for (g, w) in o.reconstructed.iter().zip(&o.plaintext) {
            assert!((g - w).abs() <= tol, "{label}: {g} vs {w}");
        }
    }
}

#[test]
fn a_config_without_room_for_the_truncation_mask_is_rejected_before_running() {
    // int + 2f = 63 leaves no room for the mask r < 2^64 − 2^(int+2f+1). This used to panic with
    // a shift overflow in the producer; validation now names the problem before anything runs
    // (and the producer still fails cleanly if reached).
    let result = Pond::new(1)
        .fixed(30, 3, 0)
        .private("x", "alice", &[3], vec![0.5, -1.0, 2.0])
        .public("c", &[1], vec![1.5])
        .op("z", Op::Mul(s("x"), s("c")))
        .run();
    let message = result.expect_err("the run cannot succeed").to_string();
    assert!(!message.contains("panicked"), "{message}");
    assert!(
        message.contains("no room for the truncation mask"),
        "{message}"
    );
    // One bit less leaves a one-bit gap and works.
    let r = Pond::new(1)
        .fixed(30, 2, 1)
        .private("x", "alice", &[3], vec![0.5, -1.0, 2.0])
        .public("c", &[1], vec![1.5])
        .op("z", Op::Mul(s("x"), s("c")))
        .run_ok();
    let z = op(&r, "z");
    for (g, w) in z.reconstructed.iter().zip(&z.plaintext) {
        assert!(
            (g - w).abs() <= bounds::product(1, 2.0, 1.5, bounds::ulp(30)),
            "{g} vs {w}"
        );
    }
}

#[test]
fn a_product_of_two_cached_masks_is_traced_as_reusing_them() {
    let r = Pond::new(1)
        .private("x", "alice", &[3], vec![1.0, 2.0, 3.0])
        .private("w", "bob", &[3], vec![1.0, -2.0, 0.5])
        .op("a", Op::Mul(s("x"), s("w")))
        .op("b", Op::Mul(s("w"), s("x")))
        .output("b")
        .run_ok();
    let b = op(&r, "b");
    let names: Vec<&str> = r.trace.steps[b.first_step..b.end_step]
        .iter()
        .map(|st| st.name.as_str())
        .collect();
    // Every party (input providers and receivers too) names the step the same way.
    assert!(names.contains(&"reuse masks"), "{names:?}");
    assert!(!names.contains(&"open masked inputs"), "{names:?}");
    let reuse = r.trace.steps[b.first_step..b.end_step]
        .iter()
        .find(|st| st.name == "reuse masks")
        .unwrap();
    assert_eq!(reuse.messages().count(), 0);
    check(&r, "b", bounds::product(1, 3.0, 2.0, u())).unwrap();
}

#[test]
fn activation_powers_neither_overwrite_program_values_nor_reuse_their_masks() {
    let v = vec![0.5, -1.0, 1.5];
    let want = |approx: &Approximation| v.iter().map(|&x| approx.eval(x)).collect::<Vec<_>>();
    // A value named like sigmoid's x², masked by a product, before the activation and used
    // after it.
    let r = Pond::new(1)
        .private("x", "alice", &[3], v.clone())
        .private("w", "bob", &[3], vec![1.0, 2.0, 3.0])
        .op("y.x^2", Op::Mul(s("x"), s("w")))
        .op("t", Op::Mul(s("y.x^2"), s("w")))
        .op("y", Op::Sigmoid(s("x")))
        .op("after", Op::Add(s("y.x^2"), s("w")))
        .run_ok();
    let y = op(&r, "y");
    close("y", &y.reconstructed, &want(&SIGMOID), |i| {
        bounds::polynomial(&SIGMOID, v[i], u())
    })
    .unwrap();
    check(
        &r,
        "after",
        bounds::product(1, 1.5, 3.0, u()) + bounds::encoding(u()),
    )
    .unwrap();
    // A value named like an earlier activation's x³, defined after it and multiplied.
    let r = Pond::new(1)
        .private("x", "alice", &[3], v.clone())
        .private("w", "bob", &[3], vec![1.0, 2.0, 3.0])
        .op("y", Op::Tanh(s("x")))
        .op("y.x^3", Op::Mul(s("w"), s("w")))
        .op("z", Op::Mul(s("y.x^3"), s("w")))
        .run_ok();
    let e9 = bounds::product(1, 3.0, 3.0, u());
    check(
        &r,
        "z",
        bounds::product_of_results(1, 9.0, e9, 3.0, bounds::encoding(u()), u()),
    )
    .unwrap();
}
