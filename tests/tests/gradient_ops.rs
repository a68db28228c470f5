//! Issue 13 §2, the backward ops: Conv2dGradInput, Conv2dGradFilters, AvgPool2dGrad and
//! MaxPool2dGrad (SecureNN's DMaxPool). For every protocol that runs each op, the reconstructed
//! result agrees with the plaintext shadow (`gradient::eval_f64`, itself checked against finite
//! differences) over random shapes, values and seeds, within the fixed-point bound of how the
//! protocol computes it; the estimate equals the run's accounting exactly, per op and in total;
//! protocols without a kernel refuse with a located error naming one that has it.

use proptest::prelude::*;
use protocols::pond::Truncation;
use protocols::program::Op;
use sharescope_tests::{bounds, max_abs, op, Pond};
use sim::estimate::estimate;
use sim::scenario::ProtocolKind;

const F: u32 = 16;

fn u() -> f64 {
    bounds::ulp(F)
}

fn s(x: &str) -> String {
    x.to_string()
}

/// A small deterministic generator: shapes and values vary by seed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }
    /// n values on the grid k/32, |k| ≤ 32 (exact in fixed point, so ties in a max pool window
    /// are ties in the shadow too, and some windows have them).
    fn grid(&mut self, n: usize) -> Vec<f64> {
        (0..n)
            .map(|_| (self.below(65) as f64 - 32.0) / 32.0)
            .collect()
    }
}

fn error(run: &sim::RunResult, name: &str) -> f64 {
    let o = op(run, name);
    assert_eq!(o.reconstructed.len(), o.plaintext.len(), "{name}");
    let d: Vec<f64> = o
        .reconstructed
        .iter()
        .zip(&o.plaintext)
        .map(|(a, b)| a - b)
        .collect();
    max_abs(&d)
}

/// Runs `b`, asserting the estimate equals the run per op and in total.
fn run_exact_costs(b: &Pond) -> sim::RunResult {
    let plan = b.plan().expect("valid");
    let est = estimate(&plan);
    let run = sim::run(&plan).expect("runs");
    assert_eq!(est.ops.len(), run.trace.ops.len());
    for (e, r) in est.ops.iter().zip(&run.trace.ops) {
        let c = e.cost.as_ref().expect("costed");
        let st = &r.stats;
        assert_eq!(
            (
                c.bytes,
                c.offline_bytes,
                c.messages,
                c.offline_messages,
                c.rounds
            ),
            (
                st.bytes,
                st.offline_bytes,
                st.messages,
                st.offline_messages,
                st.rounds
            ),
            "op `{}` ({}) under {}",
            r.name,
            r.kind,
            plan.protocol().name()
        );
    }
    let (t, rt) = (est.totals.expect("costed"), &run.totals);
    assert_eq!(
        (t.bytes, t.messages, t.rounds, t.offline_bytes),
        (rt.bytes, rt.messages, rt.rounds, rt.offline_bytes),
        "totals under {}",
        plan.protocol().name()
    );
    run
}

/// One forward conv + pool and the four backward ops on random shapes.
struct Case {
    b: Pond,
    /// How many pooling windows cover one input element at most.
    overlap: usize,
}

fn case(seed: u64, p: ProtocolKind, t: Truncation, maxpool: bool, public_grad: bool) -> Case {
    let mut g = Lcg(seed.wrapping_mul(2654435761).wrapping_add(11));
    let (n, c, o) = (1 + g.below(2), 1 + g.below(3), 1 + g.below(3));
    let k = 1 + g.below(3);
    let stride = 1 + g.below(2);
    let padding = g.below(2);
    let (h, w) = (k + g.below(4), k + g.below(4));
    let (oh, ow) = (
        (h + 2 * padding - k) / stride + 1,
        (w + 2 * padding - k) / stride + 1,
    );
    let pk = 2 + g.below(2);
    let pstride = [None, Some(1), Some(2)][g.below(3)];
    let ps = pstride.unwrap_or(pk);
    let (ph, pw) = (pk + g.below(4), pk + g.below(4));
    let (poh, pow) = ((ph - pk) / ps + 1, (pw - pk) / ps + 1);
    let mut b = Pond::new(seed)
        .protocol(p)
        .truncation(t)
        .private("x", "alice", &[n, c, h, w], g.grid(n * c * h * w))
        .private("w", "bob", &[o, c, k, k], g.grid(o * c * k * k));
    let dy_vals = g.grid(n * o * oh * ow);
    let pool_in = g.grid(n * c * ph * pw);
    let dp_vals = g.grid(n * c * poh * pow);
    b = if public_grad {
        b.public("dy", &[n, o, oh, ow], dy_vals)
            .public("dp", &[n, c, poh, pow], dp_vals)
    } else {
        b.private("dy", "bob", &[n, o, oh, ow], dy_vals).private(
            "dp",
            "alice",
            &[n, c, poh, pow],
            dp_vals,
        )
    };
    b = b
        .private("px", "alice", &[n, c, ph, pw], pool_in)
        .op(
            "y",
            Op::Conv2d {
                input: s("x"),
                filters: s("w"),
                stride,
                padding,
            },
        )
        .op(
            "dw",
            Op::Conv2dGradFilters {
                input: s("x"),
                grad: s("dy"),
                kernel: k,
                stride,
                padding,
            },
        )
        .op(
            "dx",
            Op::Conv2dGradInput {
                grad: s("dy"),
                filters: s("w"),
                input_shape: vec![n, c, h, w],
                stride,
                padding,
            },
        )
        .op(
            "dpa",
            Op::AvgPool2dGrad {
                grad: s("dp"),
                input_shape: vec![n, c, ph, pw],
                kernel: pk,
                stride: pstride,
            },
        );
    if maxpool {
        b = b
            .op(
                "pm",
                Op::MaxPool2d {
                    input: s("px"),
                    kernel: pk,
                    stride: pstride,
                },
            )
            .op(
                "dpm",
                Op::MaxPool2dGrad {
                    grad: s("dp"),
                    input: s("px"),
                    kernel: pk,
                    stride: pstride,
                },
            );
    }
    Case {
        b: b.output("dw").output("dx"),
        overlap: pk.div_ceil(ps).pow(2),
    }
}

fn check(name: &str, seed: u64, t: Truncation, maxpool: bool, public_grad: bool) {
    let p = ProtocolKind::named(name).expect("registered");
    let c = case(seed, p, t, maxpool, public_grad);
    let run = run_exact_costs(&c.b);
    // Values are exact on the grid (no encoding error), so each product is off by its one
    // truncation (an ulp); a public gradient is the same product done locally.
    let (ew, ex) = (error(&run, "dw"), error(&run, "dx"));
    assert!(ew <= 2.0 * u(), "{name} seed {seed}: dW error {ew}");
    assert!(ex <= 2.0 * u(), "{name} seed {seed}: dX error {ex}");
    // The spread: each input sums ≤ overlap windows times enc(1/k²) (exact for k = 2, off by
    // u/2 for k = 3), then one truncation.
    let ea = error(&run, "dpa");
    let tol = c.overlap as f64 * u() + 2.0 * u();
    assert!(
        ea <= tol,
        "{name} seed {seed}: avgpool grad error {ea} > {tol}"
    );
    if maxpool {
        // Routing is exact: the one-hot is 0/1 and the product is not truncated.
        assert_eq!(error(&run, "dpm"), 0.0, "{name} seed {seed}: maxpool grad");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn conv_and_pool_gradients_reconstruct_under_pond_securenn_and_aby3(
        seed in any::<u64>(),
        dealer in any::<bool>(),
        public_grad in any::<bool>(),
    ) {
        let t = if dealer { Truncation::Dealer } else { Truncation::Local };
        check("Pond", seed, t, false, public_grad);
        check("ABY3", seed, t, true, public_grad);
        check("SecureNN", seed, t, true, public_grad);
        check("SecureNNShortcut", seed, t, true, public_grad);
    }
}

#[test]
fn dmaxpool_routes_ties_to_the_first_maximum_of_each_window() {
    for name in ["SecureNN", "ABY3"] {
        dmaxpool_ties(name);
    }
}

fn dmaxpool_ties(name: &str) {
    // Two windows of 2×2, the first with a tie at positions 1 and 2, the second all equal.
    let b = Pond::new(3)
        .protocol(ProtocolKind::named(name).unwrap())
        .private(
            "x",
            "alice",
            &[1, 1, 2, 4],
            vec![0.5, 2.0, 1.0, 1.0, 2.0, -1.0, 1.0, 1.0],
        )
        .private("dy", "bob", &[1, 1, 1, 2], vec![3.0, -0.25])
        .op(
            "dx",
            Op::MaxPool2dGrad {
                grad: s("dy"),
                input: s("x"),
                kernel: 2,
                stride: None,
            },
        )
        .output("dx");
    let run = run_exact_costs(&b);
    let dx = &op(&run, "dx").reconstructed;
    assert_eq!(
        dx,
        &vec![0.0, 3.0, -0.25, 0.0, 0.0, 0.0, 0.0, 0.0],
        "{name}"
    );
}

#[test]
fn protocols_without_a_kernel_refuse_naming_one_that_has_it() {
    let grad_ops = [
        Op::Conv2dGradInput {
            grad: s("g"),
            filters: s("w"),
            input_shape: vec![1, 1, 2, 2],
            stride: 1,
            padding: 0,
        },
        Op::MaxPool2dGrad {
            grad: s("g"),
            input: s("x"),
            kernel: 2,
            stride: None,
        },
    ];
    for (proto, label, o) in [
        ("Additive", "gi", grad_ops[0].clone()),
        ("Additive", "gm", grad_ops[1].clone()),
        ("Pond", "gm", grad_ops[1].clone()),
    ] {
        let b = Pond::new(1)
            .protocol(ProtocolKind::named(proto).unwrap())
            .private("x", "alice", &[1, 1, 2, 2], vec![1.0, 2.0, 3.0, 4.0])
            .private("w", "alice", &[1, 1, 1, 1], vec![1.0])
            .private("g", "alice", &[1, 1, 1, 1], vec![1.0])
            .op(label, o);
        let e = b.plan().expect_err("refused").to_string();
        assert!(
            e.contains(proto) && e.contains("SecureNN") && e.contains(label),
            "{proto} `{label}`: {e}"
        );
    }
}

/// Training's max pool that keeps its one-hot and the gradient routed by it, on random shapes,
/// windows and strides: MaxPool2dWithOneHot reconstructs exactly (values on the grid: the maxima
/// and the 0/1 one-hot), MaxPool2dGradOneHot within its one truncation; the estimate equals the
/// run per op. `lifted` gives dY as `[1, N, C, OH, OW]` (what training's lowering passes).
fn check_kept(name: &str, seed: u64, t: Truncation, public_grad: bool, lifted: bool) {
    let mut g = Lcg(seed.wrapping_mul(0x9e37_79b9).wrapping_add(5));
    let (n, c) = (1 + g.below(2), 1 + g.below(3));
    let pk = 1 + g.below(3);
    let pstride = [None, Some(1), Some(2)][g.below(3)];
    let ps = pstride.unwrap_or(pk);
    let (ph, pw) = (pk + g.below(4), pk + g.below(4));
    let (poh, pow) = ((ph - pk) / ps + 1, (pw - pk) / ps + 1);
    let dshape: Vec<usize> = if lifted {
        vec![1, n, c, poh, pow]
    } else {
        vec![n, c, poh, pow]
    };
    let dvals = g.grid(n * c * poh * pow);
    let mut b = Pond::new(seed)
        .protocol(ProtocolKind::named(name).unwrap())
        .truncation(t)
        .private("px", "alice", &[n, c, ph, pw], g.grid(n * c * ph * pw));
    b = if public_grad {
        b.public("dp", &dshape, dvals)
    } else {
        b.private("dp", "bob", &dshape, dvals)
    };
    let b = b
        .op(
            "kp",
            Op::MaxPool2dWithOneHot {
                input: s("px"),
                kernel: pk,
                stride: pstride,
            },
        )
        .op(
            "dk",
            Op::MaxPool2dGradOneHot {
                grad: s("dp"),
                pooled: s("kp"),
                input_shape: vec![n, c, ph, pw],
                kernel: pk,
                stride: pstride,
            },
        )
        .output("dk");
    let run = run_exact_costs(&b);
    assert_eq!(error(&run, "kp"), 0.0, "{name} seed {seed}: kept pool");
    let e = error(&run, "dk");
    assert!(
        e <= 2.0 * u(),
        "{name} seed {seed}: routed gradient error {e}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn kept_max_pools_and_their_gradients_reconstruct_under_securenn_and_aby3(
        seed in any::<u64>(),
        dealer in any::<bool>(),
        public_grad in any::<bool>(),
        lifted in any::<bool>(),
    ) {
        let t = if dealer { Truncation::Dealer } else { Truncation::Local };
        for name in ["SecureNN", "SecureNNShortcut", "ABY3"] {
            check_kept(name, seed, t, public_grad, lifted);
        }
    }
}

/// A 1×1 window's one-hot never goes through a selection: without a fresh sharing of the kept
/// pool its shares (1, 0) made the local truncation after a product with a public gradient fail
/// (off by 2^(64 − 2f)). The case proptest found, under every protocol.
#[test]
fn a_kept_one_by_one_pool_routes_a_public_gradient_under_local_truncation() {
    for name in ["SecureNN", "SecureNNShortcut", "ABY3"] {
        check_kept(name, 2874717650677447490, Truncation::Local, true, false);
    }
}

/// MaxPool2dGradOneHot needs no comparison, so Pond (and ABY3 over Z_2^128) run it on a kept
/// pool they are given; MaxPool2dWithOneHot is refused there with what to use instead.
#[test]
fn the_routing_by_a_kept_one_hot_runs_without_comparisons() {
    // Two 2×2 windows of a [1, 1, 2, 4] input: maxima 2 and 1, at positions 1 and 3.
    let mut kept = vec![2.0, 1.0];
    kept.extend([0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
    let grad = Op::MaxPool2dGradOneHot {
        grad: s("dy"),
        pooled: s("kp"),
        input_shape: vec![1, 1, 2, 4],
        kernel: 2,
        stride: None,
    };
    for (name, wide) in [("Pond", false), ("ABY3", true), ("SecureNN", false)] {
        let b = if wide { Pond::wide(2) } else { Pond::new(2) };
        let b = b
            .protocol(ProtocolKind::named(name).unwrap())
            .private("kp", "alice", &[5, 1, 1, 1, 2], kept.clone())
            .private("dy", "bob", &[1, 1, 1, 2], vec![0.75, -1.5])
            .op("dx", grad.clone())
            .output("dx");
        let run = run_exact_costs(&b);
        let dx = &op(&run, "dx").reconstructed;
        let want = [0.0, 0.75, 0.0, 0.0, 0.0, 0.0, 0.0, -1.5];
        let tol = bounds::ulp(if wide { 32 } else { F });
        assert!(
            dx.iter().zip(want).all(|(a, b)| (a - b).abs() <= tol),
            "{name}: {dx:?}"
        );
    }
    for (name, wide) in [("Pond", false), ("ABY3", true)] {
        let b = if wide { Pond::wide(2) } else { Pond::new(2) };
        let e = b
            .protocol(ProtocolKind::named(name).unwrap())
            .private("x", "alice", &[1, 1, 2, 2], vec![1.0, 2.0, 3.0, 4.0])
            .op(
                "kp",
                Op::MaxPool2dWithOneHot {
                    input: s("x"),
                    kernel: 2,
                    stride: None,
                },
            )
            .output("kp")
            .plan()
            .expect_err("refused")
            .to_string();
        assert!(
            e.contains("kp") && (e.contains("SecureNN") || e.contains("ring_bits: 64")),
            "{name}: {e}"
        );
    }
}

/// The formulas of docs/costs.md ("Gradient ops") on fixed shapes, against the run.
#[test]
fn gradient_costs_are_the_documented_formulas() {
    let stats = |run: &sim::RunResult, name: &str| {
        let st = &op(run, name).stats;
        (
            st.bytes,
            st.offline_bytes,
            st.messages,
            st.offline_messages,
            st.rounds,
        )
    };
    // Pond, dealer truncation: x [1,2,5,5], w [3,2,3,3] → y, dy [1,3,3,3].
    let (nx, nw, ny) = (50u64, 54u64, 27u64);
    let b = Pond::new(5)
        .private("x", "alice", &[1, 2, 5, 5], vec![0.25; 50])
        .private("w", "bob", &[3, 2, 3, 3], vec![-0.5; 54])
        .private("dy", "bob", &[1, 3, 3, 3], vec![0.75; 27])
        .op(
            "y",
            Op::Conv2d {
                input: s("x"),
                filters: s("w"),
                stride: 1,
                padding: 0,
            },
        )
        .op(
            "dw",
            Op::Conv2dGradFilters {
                input: s("x"),
                grad: s("dy"),
                kernel: 3,
                stride: 1,
                padding: 0,
            },
        )
        .op(
            "dx",
            Op::Conv2dGradInput {
                grad: s("dy"),
                filters: s("w"),
                input_shape: vec![1, 2, 5, 5],
                stride: 1,
                padding: 0,
            },
        )
        .op(
            "da",
            Op::AvgPool2dGrad {
                grad: s("dy"),
                input_shape: vec![1, 3, 6, 6],
                kernel: 2,
                stride: Some(2),
            },
        )
        .output("dw");
    let run = run_exact_costs(&b);
    // dW: x masked by the forward conv, dy fresh: beaver(27, 54) then T(54).
    assert_eq!(
        stats(&run, "dw"),
        (16 * ny + 16 * nw, 64 + 8 * nw + 32 + 16 * nw, 4, 5, 2)
    );
    // dX: both masks cached, only T(50).
    assert_eq!(
        stats(&run, "dx"),
        (16 * nx, 64 + 8 * nx + 32 + 16 * nx, 2, 5, 1)
    );
    // AvgPool2dGrad: T(input elements) = T(108).
    assert_eq!(stats(&run, "da"), (16 * 108, 32 + 16 * 108, 2, 2, 1));

    // SecureNN DMaxPool, 2×2 windows, after a forward MaxPool2d (keys set up): m = 2·3·3.
    let m = 18u64;
    let b = Pond::new(6)
        .protocol(ProtocolKind::named("SecureNN").unwrap())
        .private(
            "x",
            "alice",
            &[1, 2, 6, 6],
            (0..72).map(|i| (i % 7) as f64).collect(),
        )
        .private("dy", "bob", &[1, 2, 3, 3], vec![0.5; 18])
        .op(
            "p",
            Op::MaxPool2d {
                input: s("x"),
                kernel: 2,
                stride: None,
            },
        )
        .op(
            "dm",
            Op::MaxPool2dGrad {
                grad: s("dy"),
                input: s("x"),
                kernel: 2,
                stride: None,
            },
        )
        .output("dm");
    let run = run_exact_costs(&b);
    assert_eq!(stats(&run, "dm"), (1496 * m, 320 * m + 64, 32, 9, 19));
    // 1.13× the forward pool's 440 B per comparison (3 per window).
    assert_eq!(stats(&run, "p").0, 1320 * m);

    // ABY3 DMaxPool, the same shapes (keys set up by the forward pool): level 1 drelu(2m) +
    // b2a_bit(2m) + product(2m), level 2 drelu(m) + b2a_bit(m) + product(4m), then the product
    // E · dY of 4m: 61 messages, 864m bytes, no offline traffic, 21 rounds (the tree's 20 and
    // the product's one).
    let run = run_exact_costs(&b.clone().protocol(ProtocolKind::named("ABY3").unwrap()));
    assert_eq!(stats(&run, "dm"), (864 * m, 0, 61, 0, 21));
    // 1.24× the forward pool's 232 B per comparison.
    assert_eq!(stats(&run, "p").0, 696 * m);
}

/// ABY3's DMaxPool is its boolean part's, Z_2^64 only: over Z_2^128 MaxPool2dGrad is refused
/// with what to use instead.
#[test]
fn aby3_refuses_maxpool2d_grad_over_z2_128() {
    let b = Pond::wide(4)
        .protocol(ProtocolKind::named("ABY3").unwrap())
        .private("x", "alice", &[1, 1, 2, 2], vec![1.0, 2.0, 3.0, 4.0])
        .private("g", "bob", &[1, 1, 1, 1], vec![1.0])
        .op(
            "gm",
            Op::MaxPool2dGrad {
                grad: s("g"),
                input: s("x"),
                kernel: 2,
                stride: None,
            },
        )
        .output("gm");
    let e = b.plan().expect_err("refused").to_string();
    assert!(
        e.contains("gm") && e.contains("ring_bits: 64"),
        "ABY3 at 128 bits: {e}"
    );
}

/// Over Z_2^128 (f = 32) the conv and average-pool gradients run in Pond and ABY3 with 16-byte
/// elements (docs/costs.md, "Ring width"), within a few 2^−32 ulps; SecureNN's DMaxPool is
/// Z_2^64 only (SecureNN refuses ring_bits: 128 as a whole).
#[test]
fn conv_and_pool_gradients_run_over_z2_128() {
    for name in ["Pond", "ABY3"] {
        let mut g = Lcg(99);
        let b = Pond::wide(4)
            .protocol(ProtocolKind::named(name).unwrap())
            .private("x", "alice", &[2, 2, 5, 4], g.grid(80))
            .private("dy", "bob", &[2, 3, 3, 2], g.grid(36))
            .private("w", "bob", &[3, 2, 3, 3], g.grid(54))
            .op(
                "dw",
                Op::Conv2dGradFilters {
                    input: s("x"),
                    grad: s("dy"),
                    kernel: 3,
                    stride: 1,
                    padding: 0,
                },
            )
            .op(
                "dx",
                Op::Conv2dGradInput {
                    grad: s("dy"),
                    filters: s("w"),
                    input_shape: vec![2, 2, 5, 4],
                    stride: 1,
                    padding: 0,
                },
            )
            .op(
                "da",
                Op::AvgPool2dGrad {
                    grad: s("dy"),
                    input_shape: vec![2, 3, 4, 3],
                    kernel: 2,
                    stride: Some(1),
                },
            )
            .output("dw");
        let run = run_exact_costs(&b);
        let ulp = bounds::ulp(32);
        for (op_name, tol) in [("dw", 2.0 * ulp), ("dx", 2.0 * ulp), ("da", 6.0 * ulp)] {
            let e = error(&run, op_name);
            assert!(e <= tol, "{name} `{op_name}`: error {e}");
        }
    }
}
