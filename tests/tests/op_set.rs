//! Issue 13 §1, the op set: public constants, Mean, Concat, Slice, the comparisons and
//! selections (Greater, Less, Max, Min, Abs, Sign, Where) and the approximated functions
//! (Reciprocal, Div, Exp, Sqrt, InvSqrt, Softmax). For every protocol that runs each op, the
//! reconstructed result agrees with the plaintext shadow over random shapes, values and seeds
//! (within the accuracy docs/scenario-format.md states), and the estimate equals the run's
//! accounting exactly, per op and in total. Protocols without an exact comparison refuse the
//! comparison ops with a located error naming one that has it.

use protocols::pond::Truncation;
use protocols::program::Op;
use sharescope_tests::{
    assert_costs_exact, error, one_element_stats, op, relative_error, Lcg, Pond,
};
use sim::scenario::ProtocolKind;

fn s(x: &str) -> String {
    x.to_string()
}

fn protocol(name: &str) -> ProtocolKind {
    ProtocolKind::named(name).expect("registered")
}

/// The local and linear ops (every protocol): constants, Mean, Concat, Slice, Pad.
fn linear_program(seed: u64, p: ProtocolKind, t: Truncation) -> (Pond, Vec<(&'static str, f64)>) {
    let mut g = Lcg(seed * 31 + 7);
    let (m, k, j) = (g.dim_up_to(5), g.dim_up_to(5), g.dim_up_to(5));
    let b = Pond::new(seed)
        .protocol(p)
        .truncation(t)
        .private("x", "alice", &[m, k], g.vals_in(m * k, -3.0, 3.0))
        .private("y", "bob", &[m, j], g.vals_in(m * j, -3.0, 3.0))
        .public("p", &[m, k], g.vals_in(m * k, -2.0, 2.0))
        .op("half", Op::Const(0.5))
        .op("xh", Op::Mul(s("x"), s("half")))
        .op("x1", Op::Add(s("x"), s("half")))
        .op(
            "mean_all",
            Op::Mean {
                input: s("x"),
                axis: None,
            },
        )
        .op(
            "mean_rows",
            Op::Mean {
                input: s("y"),
                axis: Some(1),
            },
        )
        .op(
            "cat",
            Op::Concat {
                inputs: vec![s("x"), s("y"), s("p")],
                axis: 1,
            },
        )
        .op(
            "cat0",
            Op::Concat {
                inputs: vec![s("x"), s("p")],
                axis: 0,
            },
        )
        .op(
            "sl",
            Op::Slice {
                input: s("cat"),
                axis: 1,
                start: k,
                end: k + j,
            },
        )
        .op(
            "pad",
            Op::Pad {
                input: s("x"),
                axis: 0,
                before: 1,
                after: 2,
            },
        )
        .output("cat");
    // Encoding and one truncation: a few ulps (2^-16); Mean adds the 1/n encoding's error
    // times the sum (|sum| ≤ 3·n, 1/n rounded to ±2^-17).
    let tol = vec![
        ("half", 1e-9),
        ("xh", 4e-5),
        ("x1", 4e-5),
        ("mean_all", 2e-4),
        ("mean_rows", 2e-4),
        ("cat", 4e-5),
        ("cat0", 4e-5),
        ("sl", 4e-5),
        ("pad", 4e-5),
    ];
    (b, tol)
}

#[test]
fn constants_mean_concat_slice_and_pad_reconstruct_under_every_protocol() {
    for seed in 0..8u64 {
        let t = if seed % 2 == 0 {
            Truncation::Dealer
        } else {
            Truncation::Local
        };
        for name in ["Pond", "SecureNN", "ABY3", "Additive"] {
            let t = if name == "Additive" {
                Truncation::Dealer
            } else {
                t
            };
            let (b, tols) = linear_program(seed, protocol(name), t);
            let run = assert_costs_exact(&b);
            for (op_name, tol) in tols {
                let e = error(&run, op_name);
                assert!(e <= tol, "{name} seed {seed} `{op_name}`: error {e}");
            }
            // The slice of the concatenation is y, exactly as shared.
            let sl = &op(&run, "sl").reconstructed;
            assert_eq!(sl.len(), op(&run, "input y").reconstructed.len());
        }
    }
}

/// Comparisons and selections (SecureNN, its variants, ABY3): exact up to the selection's one
/// truncation.
fn comparison_program(seed: u64, p: ProtocolKind, t: Truncation) -> Pond {
    let mut g = Lcg(seed * 17 + 3);
    let (m, k) = (g.dim_up_to(5), g.dim_up_to(5));
    let mut x = g.vals_in(m * k, -4.0, 4.0);
    // Some exact zeros and ties, where Sign and Greater's strictness matter.
    x[0] = 0.0;
    let mut y = g.vals_in(m * k, -4.0, 4.0);
    y[m * k - 1] = x[m * k - 1];
    Pond::new(seed)
        .protocol(p)
        .truncation(t)
        .private("x", "alice", &[m, k], x)
        .private("y", "bob", &[m, k], y)
        .public("p", &[1, k], g.vals_in(k, -4.0, 4.0))
        .op("gt", Op::Greater(s("x"), s("y")))
        .op("lt", Op::Less(s("x"), s("p")))
        .op("gtp", Op::Greater(s("p"), s("p")))
        .op("mx", Op::Max(s("x"), s("y")))
        .op("mn", Op::Min(s("x"), s("p")))
        .op("abs", Op::Abs(s("x")))
        .op("sign", Op::Sign(s("x")))
        .op("wh", Op::Where(s("gt"), s("p"), s("y")))
        .output("mx")
}

#[test]
fn comparisons_and_selections_reconstruct_under_securenn_and_aby3() {
    for seed in 0..6u64 {
        let t = if seed % 2 == 0 {
            Truncation::Dealer
        } else {
            Truncation::Local
        };
        for name in ["SecureNN", "SecureNN-shortcut", "ABY3"] {
            let Some(p) = ProtocolKind::named(name) else {
                continue;
            };
            let run = assert_costs_exact(&comparison_program(seed, p, t));
            for op_name in ["gt", "lt", "gtp", "sign"] {
                // Comparisons are exact: 0 or 1 (and −1), no truncation.
                assert_eq!(error(&run, op_name), 0.0, "{name} seed {seed} `{op_name}`");
            }
            for op_name in ["mx", "mn", "abs", "wh"] {
                let e = error(&run, op_name);
                assert!(e <= 4e-5, "{name} seed {seed} `{op_name}`: error {e}");
            }
        }
    }
}

#[test]
fn pond_and_additive_refuse_comparisons_naming_a_protocol_that_has_them() {
    for name in ["Pond", "Additive"] {
        for (label, o) in [
            ("gt", Op::Greater(s("x"), s("x"))),
            ("mx", Op::Max(s("x"), s("x"))),
            ("sm", Op::Softmax(s("x"))),
            ("ab", Op::Abs(s("x"))),
        ] {
            let b = Pond::new(1)
                .protocol(protocol(name))
                .private("x", "alice", &[2], vec![1.0, -1.0])
                .op(label, o);
            let e = b.plan().expect_err("refused").to_string();
            assert!(
                e.contains(name) && e.contains("SecureNN") && e.contains(label),
                "{name} `{label}`: {e}"
            );
        }
        // The composites built from products alone run everywhere.
        let b = Pond::new(1)
            .protocol(protocol(name))
            .private("x", "alice", &[2], vec![1.0, 2.0])
            .op("e", Op::Exp(s("x")))
            .op("r", Op::Reciprocal(s("x")));
        assert!(b.plan().is_ok(), "{name}");
    }
}

/// The approximated functions, each on inputs inside its stated range.
fn function_program(seed: u64, p: ProtocolKind, t: Truncation, compare: bool) -> Pond {
    let mut g = Lcg(seed * 13 + 5);
    let (m, k) = (g.dim_up_to(5), 1 + g.dim_up_to(5));
    let n = m * k;
    let mut b = Pond::new(seed)
        .protocol(p)
        .truncation(t)
        .private("e_in", "alice", &[m, k], g.vals_in(n, -8.0, 2.0))
        .private("r_in", "alice", &[m, k], g.vals_in(n, 0.05, 50.0))
        .private("num", "bob", &[m, k], g.vals_in(n, -3.0, 3.0))
        .private("q_in", "bob", &[m, k], g.vals_in(n, 0.1, 100.0))
        .op("exp", Op::Exp(s("e_in")))
        .op("rec", Op::Reciprocal(s("r_in")))
        .op("div", Op::Div(s("num"), s("r_in")))
        .op("isq", Op::InvSqrt(s("q_in")))
        .op("sqrt", Op::Sqrt(s("q_in")));
    if compare {
        b = b
            .private("logits", "bob", &[m, k], g.vals_in(n, -6.0, 6.0))
            .op("sm", Op::Softmax(s("logits")));
    }
    b.output("div")
}

#[test]
fn approximations_stay_within_their_stated_accuracy() {
    for seed in 0..4u64 {
        let t = if seed % 2 == 0 {
            Truncation::Dealer
        } else {
            Truncation::Local
        };
        for name in ["SecureNN", "ABY3", "Pond", "Additive"] {
            let compare = matches!(name, "SecureNN" | "ABY3");
            let t = if name == "Additive" {
                Truncation::Dealer
            } else {
                t
            };
            let run = assert_costs_exact(&function_program(seed, protocol(name), t, compare));
            let report = |o: &str| (error(&run, o), relative_error(&run, o, 1.0));
            let (e_abs, e_rel) = report("exp");
            eprintln!("{name} exp abs {e_abs:.2e} rel {e_rel:.2e}");
            assert!(e_rel <= 0.01, "{name} seed {seed} exp: {e_rel}");
            for o in ["rec", "div", "isq", "sqrt"] {
                let (a, r) = report(o);
                eprintln!("{name} {o} abs {a:.2e} rel {r:.2e}");
                assert!(r <= 2e-3, "{name} seed {seed} `{o}`: relative error {r}");
            }
            if compare {
                let e = error(&run, "sm");
                eprintln!("{name} softmax abs {e:.2e}");
                assert!(e <= 3e-3, "{name} seed {seed} softmax: error {e}");
                // Each row of a softmax sums to 1 (up to the approximations).
                let sm = &op(&run, "sm").reconstructed;
                let k = op(&run, "sm").shape[1];
                for row in sm.chunks(k) {
                    let sum: f64 = row.iter().sum();
                    assert!(
                        (sum - 1.0).abs() <= 5e-3,
                        "{name} seed {seed}: row sums to {sum}"
                    );
                }
            }
        }
    }
}

/// `n` points spread geometrically (`geometric`) or evenly over [lo, hi].
fn grid(lo: f64, hi: f64, n: usize, geometric: bool) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let t = i as f64 / (n - 1) as f64;
            if geometric {
                lo * (hi / lo).powf(t)
            } else {
                lo + (hi - lo) * t
            }
        })
        .collect()
}

/// Over a grid of each function's stated range (docs/scenario-format.md), the error stays
/// within the stated bound, and the shadow flags an input outside it.
#[test]
fn the_stated_ranges_hold_over_a_grid_and_leaving_them_is_a_hazard() {
    let n = 256;
    let cases: [(&str, Op, f64, f64, bool, f64, f64); 5] = [
        // name, op, lo, hi, geometric grid, max relative error (floor 1), max absolute error
        (
            "exp",
            Op::Exp(s("x")),
            -64.0,
            4.0,
            false,
            0.032,
            f64::INFINITY,
        ),
        (
            "rec",
            Op::Reciprocal(s("x")),
            0.01,
            500.0,
            true,
            1e-3,
            f64::INFINITY,
        ),
        (
            "isq",
            Op::InvSqrt(s("x")),
            0.02,
            180.0,
            true,
            2e-3,
            f64::INFINITY,
        ),
        (
            "sqrt",
            Op::Sqrt(s("x")),
            0.02,
            180.0,
            true,
            5e-3,
            f64::INFINITY,
        ),
        (
            "div",
            Op::Div(s("one"), s("x")),
            0.01,
            500.0,
            true,
            1e-3,
            f64::INFINITY,
        ),
    ];
    for (name, o, lo, hi, geo, rel, abs) in cases {
        let b = Pond::new(9)
            .protocol(protocol("SecureNN"))
            .private("x", "alice", &[1, n], grid(lo, hi, n, geo))
            .public("one", &[1], vec![1.0])
            .op(name, o.clone());
        let run = b.run_ok();
        let (a, r) = (error(&run, name), relative_error(&run, name, 1.0));
        eprintln!("{name} on [{lo}, {hi}]: abs {a:.3e}, rel {r:.3e}");
        assert!(r <= rel && a <= abs, "{name}: abs {a}, rel {r}");
        let flagged = |run: &sim::RunResult| {
            op(run, name)
                .hazards
                .iter()
                .any(|h| matches!(h, protocols::fixed::Hazard::OutsideRange { .. }))
        };
        assert!(!flagged(&run), "{name}: no range hazard inside the range");
        // Just outside the range: the shadow says so.
        let outside = if lo > 0.0 { lo / 2.0 } else { hi + 1.0 };
        let b = Pond::new(9)
            .protocol(protocol("SecureNN"))
            .private("x", "alice", &[2], vec![outside, (lo + hi) / 2.0])
            .public("one", &[1], vec![1.0])
            .op(name, o);
        let run = b.run_ok();
        assert!(
            flagged(&run),
            "{name}: {outside} is outside [{lo}, {hi}]: {:?}",
            op(&run, name).hazards
        );
    }
}

/// The example column of docs/costs.md ("Composite ops"): each op on one private element under
/// SecureNN with dealer truncation, after the keys are set up (a ReLU first) — online messages,
/// bytes and rounds of the run.
#[test]
fn the_documented_one_element_costs_are_the_runs() {
    let rows: [(&str, Op, (u64, u64, u32)); 14] = [
        ("const", Op::Const(2.0), (0, 0, 0)),
        (
            "slice",
            Op::Slice {
                input: s("x"),
                axis: 0,
                start: 0,
                end: 1,
            },
            (0, 0, 0),
        ),
        (
            "concat",
            Op::Concat {
                inputs: vec![s("x"), s("y")],
                axis: 0,
            },
            (0, 0, 0),
        ),
        (
            "mean",
            Op::Mean {
                input: s("x"),
                axis: None,
            },
            (2, 16, 1),
        ),
        ("greater", Op::Greater(s("x"), s("y")), (13, 408, 8)),
        ("where", Op::Where(s("x"), s("y"), s("x")), (4, 48, 2)),
        ("max", Op::Max(s("x"), s("y")), (17, 456, 10)),
        ("sign", Op::Sign(s("x")), (26, 816, 16)),
        ("exp", Op::Exp(s("x")), (34, 272, 17)),
        ("reciprocal", Op::Reciprocal(s("y")), (116, 944, 58)),
        ("div", Op::Div(s("x"), s("y")), (120, 992, 60)),
        ("inv_sqrt", Op::InvSqrt(s("y")), (136, 1104, 68)),
        ("sqrt", Op::Sqrt(s("y")), (140, 1152, 70)),
        ("abs", Op::Abs(s("x")), (17, 456, 10)),
    ];
    for (name, o, want) in rows {
        assert_eq!(one_element_stats(name, o, &[1]), want, "{name}");
    }
}

/// A reciprocal of 0 and an Exp far out of range: the shadow's values are infinite, the run
/// still ends (the result is garbage, as the hazards say) instead of a panic in the headroom
/// check (it overflowed computing the bits an infinite product needs).
#[test]
fn a_division_by_zero_is_a_hazard_not_a_panic() {
    let run = Pond::new(3)
        .private("x", "alice", &[2], vec![0.0, 1.0])
        .private("big", "alice", &[1], vec![1000.0])
        .op("r", Op::Reciprocal(s("x")))
        .op("e", Op::Exp(s("big")))
        .output("r")
        .run_ok();
    for name in ["r", "e"] {
        let h = &op(&run, name).hazards;
        assert!(
            h.iter()
                .any(|h| matches!(h, protocols::fixed::Hazard::OutsideRange { .. })),
            "{name}: {h:?}"
        );
    }
}

/// A constant outside the fixed point's integral bits is refused before the run, located.
#[test]
fn a_constant_too_large_for_the_fixed_point_is_refused_by_validation() {
    let e = Pond::new(1)
        .private("x", "alice", &[1], vec![1.0])
        .op("big", Op::Const(5000.0))
        .op("y", Op::Mul(s("x"), s("big")))
        .plan()
        .expect_err("refused")
        .to_string();
    assert!(e.contains("`big`: constant 5000 does not fit"), "{e}");
    let e = Pond::new(1)
        .op("nan", Op::Const(f64::NAN))
        .plan()
        .expect_err("refused")
        .to_string();
    assert!(e.contains("finite"), "{e}");
}

/// Inputs ≤ 0 (docs/scenario-format.md, "Inputs ≤ 0"): Reciprocal and Div's divisor are for
/// x > 0, the square roots and Log undefined below 0. The hazard names the op and its range and
/// says what an input ≤ 0 gets — for a division, how to write the signed one; that composition
/// (Sign, then Reciprocal of the magnitude) gives 1/b for negative b under SecureNN and ABY3.
#[test]
fn inputs_below_zero_are_hazards_that_say_what_to_do_and_the_signed_division_works() {
    let cases = [
        (
            "r",
            Op::Reciprocal(s("x")),
            "reciprocal",
            "[0.01, 500]",
            "Sign(x)",
        ),
        (
            "d",
            Op::Div(s("one"), s("x")),
            "division",
            "[0.01, 500]",
            "Sign(x)",
        ),
        (
            "q",
            Op::InvSqrt(s("x")),
            "inverse square root",
            "[0.02, 180]",
            "undefined",
        ),
        (
            "sq",
            Op::Sqrt(s("x")),
            "square root",
            "[0.02, 180]",
            "undefined",
        ),
        ("ln", Op::Log(s("x")), "log", "[0.01, 250]", "undefined"),
    ];
    let hazards = |name: &str, o: &Op, x: Vec<f64>| -> Vec<String> {
        let run = Pond::new(3)
            .private("x", "alice", &[x.len()], x)
            .public("one", &[1], vec![1.0])
            .op(name, o.clone())
            .run_ok();
        let h = &op(&run, name).hazards;
        h.iter().map(|h| h.to_string()).collect()
    };
    for (name, o, function, range, what) in cases {
        let texts = hazards(name, &o, vec![-2.0, 0.5, 4.0]);
        assert!(
            texts.iter().any(|t| t.starts_with(function)
                && t.contains(range)
                && t.contains(what)
                && t.contains("-2.0000")),
            "`{name}`: {texts:?}"
        );
        // A small positive input is outside the range too, without the note about x ≤ 0.
        let texts = hazards(name, &o, vec![0.001, 0.5]);
        assert!(
            texts.iter().any(|t| t.contains(range) && !t.contains(what)),
            "`{name}`: {texts:?}"
        );
    }
    for p in ["SecureNN", "ABY3"] {
        let mut g = Lcg(5);
        let n = 6;
        let b: Vec<f64> = g
            .vals_in(n, 0.05, 40.0)
            .into_iter()
            .enumerate()
            .map(|(i, v)| if i % 2 == 0 { -v } else { v })
            .collect();
        let run = Pond::new(4)
            .protocol(protocol(p))
            .private("a", "alice", &[n], g.vals_in(n, -3.0, 3.0))
            .private("b", "bob", &[n], b)
            .op("s", Op::Sign(s("b")))
            .op("sb", Op::Mul(s("s"), s("b")))
            .op("rb", Op::Reciprocal(s("sb")))
            .op("inv", Op::Mul(s("s"), s("rb")))
            .op("q", Op::Mul(s("a"), s("inv")))
            .op("q_plain", Op::Div(s("a"), s("b")))
            .run_ok();
        assert!(op(&run, "inv").hazards.is_empty() && op(&run, "rb").hazards.is_empty());
        let r = relative_error(&run, "inv", 1.0);
        assert!(r <= 2e-3, "{p}: signed reciprocal off by {r}");
        let e = error(&run, "q");
        assert!(e <= 6e-3, "{p}: signed division off by {e}");
        // The plain Div of a negative divisor is garbage, and flagged.
        assert!(error(&run, "q_plain") > 0.1);
        assert!(!op(&run, "q_plain").hazards.is_empty());
    }
}
