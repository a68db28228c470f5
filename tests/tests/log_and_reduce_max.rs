//! Issue 13 §1's last two ops: `Log` (CrypTen's Householder iterations, written once in
//! `protocols::composite` over products) and `ReduceMax` (a tree of `Max` over an axis, or over
//! everything). For every protocol that runs each, the reconstructed result agrees with the
//! plaintext shadow over random shapes, values, axes and seeds (within the accuracy
//! docs/scenario-format.md states), `check`'s estimate equals the run's accounting exactly, every
//! step has an explanation, and the protocols without an exact comparison refuse `ReduceMax`
//! with a located error naming one that has it.

use protocols::composite::LOG_DOMAIN;
use protocols::fixed::Hazard;
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

fn truncation(seed: u64, name: &str) -> Truncation {
    if seed.is_multiple_of(2) || name == "Additive" {
        Truncation::Dealer
    } else {
        Truncation::Local
    }
}

/// `n` values spread geometrically over [lo, hi] (log-uniform), from the generator.
fn log_uniform(g: &mut Lcg, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    g.vals_in(n, 0.0, 1.0)
        .into_iter()
        .map(|t| lo * (hi / lo).powf(t))
        .collect()
}

/// The relative error (floor 1: |error| / max(1, |ln x|)) docs/scenario-format.md states for
/// `Log` on its range.
const LOG_RELATIVE_ERROR: f64 = 1e-2;

#[test]
fn log_reconstructs_within_its_stated_accuracy_under_every_protocol() {
    for seed in 0..4u64 {
        for name in ["Pond", "SecureNN", "ABY3", "Additive"] {
            let mut g = Lcg(seed * 11 + 2);
            let (m, k) = (g.dim_up_to(4), g.dim_up_to(5));
            let x = log_uniform(&mut g, m * k, LOG_DOMAIN.0, LOG_DOMAIN.1);
            let b = Pond::new(seed)
                .protocol(protocol(name))
                .truncation(truncation(seed, name))
                .private("x", "alice", &[m, k], x)
                .op("ln", Op::Log(s("x")))
                .output("ln");
            let run = assert_costs_exact(&b);
            let (a, r) = (error(&run, "ln"), relative_error(&run, "ln", 1.0));
            eprintln!("{name} seed {seed} log: abs {a:.2e} rel {r:.2e}");
            assert!(r <= LOG_RELATIVE_ERROR, "{name} seed {seed}: relative {r}");
            assert!(op(&run, "ln").hazards.is_empty(), "{name} seed {seed}");
        }
    }
}

/// `n` points spread geometrically over [lo, hi].
fn grid(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| lo * (hi / lo).powf(i as f64 / (n - 1) as f64))
        .collect()
}

/// Over a grid of the stated range the error stays within the stated bound; an input below
/// it, above it or negative is an approximation-range hazard naming the op and the range.
#[test]
fn log_holds_its_range_over_a_grid_and_leaving_it_is_a_hazard() {
    let (lo, hi) = LOG_DOMAIN;
    let run = Pond::new(9)
        .protocol(protocol("SecureNN"))
        .private("x", "alice", &[1, 256], grid(lo, hi, 256))
        .op("ln", Op::Log(s("x")))
        .run_ok();
    let (a, r) = (error(&run, "ln"), relative_error(&run, "ln", 1.0));
    eprintln!("log on [{lo}, {hi}]: abs {a:.3e}, rel {r:.3e}");
    assert!(r <= LOG_RELATIVE_ERROR, "log: abs {a}, rel {r}");
    assert!(op(&run, "ln").hazards.is_empty());
    for outside in [lo / 2.0, hi * 1.5, -1.0, 0.0] {
        let run = Pond::new(9)
            .private("x", "alice", &[2], vec![outside, 1.0])
            .op("ln", Op::Log(s("x")))
            .run_ok();
        let h = &op(&run, "ln").hazards;
        let text: Vec<String> = h.iter().map(|h| h.to_string()).collect();
        assert!(
            h.iter().any(|h| matches!(h, Hazard::OutsideRange { .. }))
                && text
                    .iter()
                    .any(|t| t.contains("log") && t.contains(&format!("[{lo}, {hi}]"))),
            "{outside}: {text:?}"
        );
    }
}

/// One element, after the keys are set up: the rows docs/costs.md ("Composite ops") gives for
/// `Log` and `ReduceMax` under SecureNN with dealer truncation (online messages, bytes, rounds).
#[test]
fn the_documented_one_element_costs_of_log_and_reduce_max_are_the_runs() {
    type Row<'a> = (&'a str, Op, &'a [usize], (u64, u64, u32));
    let rows: [Row; 3] = [
        ("log", Op::Log(s("x")), &[1], (196, 1584, 98)),
        (
            "reduce_max",
            Op::ReduceMax {
                input: s("x"),
                axis: None,
            },
            &[1],
            (0, 0, 0),
        ),
        (
            "reduce_max4",
            Op::ReduceMax {
                input: s("x"),
                axis: Some(0),
            },
            &[4],
            (34, 1368, 20),
        ),
    ];
    for (name, o, shape, want) in rows {
        assert_eq!(one_element_stats(name, o, shape), want, "{name}");
    }
}

/// ReduceMax over an axis or over everything, under the protocols with an exact comparison:
/// the maximum, up to the selection products' truncation, over random shapes, axes and seeds.
#[test]
fn reduce_max_reconstructs_over_random_shapes_axes_and_seeds() {
    for seed in 0..8u64 {
        for name in ["SecureNN", "SecureNN-shortcut", "ABY3"] {
            let Some(p) = ProtocolKind::named(name) else {
                continue;
            };
            let mut g = Lcg(seed * 29 + 1);
            let rank = g.dim_up_to(3);
            let shape: Vec<usize> = (0..rank).map(|_| g.dim_up_to(5)).collect();
            let n = shape.iter().product();
            let mut x = g.vals_in(n, -6.0, 6.0);
            // A tie, where the tree's selection must still give the maximum.
            if n > 1 {
                x[n - 1] = x[0];
            }
            let axis = (g.next_bits() % rank as u64) as usize;
            let b = Pond::new(seed)
                .protocol(p)
                .truncation(truncation(seed, name))
                .private("x", "alice", &shape, x)
                .public("p", &shape, g.vals_in(n, -6.0, 6.0))
                .op(
                    "m_axis",
                    Op::ReduceMax {
                        input: s("x"),
                        axis: Some(axis),
                    },
                )
                .op(
                    "m_all",
                    Op::ReduceMax {
                        input: s("x"),
                        axis: None,
                    },
                )
                .op(
                    "m_pub",
                    Op::ReduceMax {
                        input: s("p"),
                        axis: Some(axis),
                    },
                )
                .output("m_axis");
            let run = assert_costs_exact(&b);
            for (o, want_shape) in [
                ("m_axis", {
                    let mut s = shape.clone();
                    s.remove(axis);
                    if s.is_empty() {
                        s.push(1);
                    }
                    s
                }),
                ("m_all", vec![1]),
            ] {
                assert_eq!(op(&run, o).shape, want_shape, "{name} seed {seed} `{o}`");
                // Each tree level selects with one product: a few ulps per level.
                let e = error(&run, o);
                assert!(
                    e <= 1e-4,
                    "{name} seed {seed} `{o}` on {shape:?}: error {e}"
                );
            }
            // Of a public operand: computed in the clear (the selections' public products
            // still round to the fixed point).
            let e = error(&run, "m_pub");
            assert!(e <= 1e-4, "{name} seed {seed} `m_pub`: error {e}");
        }
    }
}

#[test]
fn reduce_max_is_refused_without_an_exact_comparison_and_on_bad_axes() {
    for name in ["Pond", "Additive"] {
        let e = Pond::new(1)
            .protocol(protocol(name))
            .private("x", "alice", &[2, 2], vec![1.0, -1.0, 2.0, 0.5])
            .op(
                "mx",
                Op::ReduceMax {
                    input: s("x"),
                    axis: Some(1),
                },
            )
            .plan()
            .expect_err("refused")
            .to_string();
        assert!(
            e.contains(name) && e.contains("SecureNN") && e.contains("mx"),
            "{name}: {e}"
        );
    }
    for (axis, shape, want) in [
        (Some(2), vec![2, 2], "axis 2 out of range"),
        (Some(1), vec![3], "axis 1 out of range"),
    ] {
        let n = shape.iter().product();
        let e = Pond::new(1)
            .protocol(protocol("SecureNN"))
            .private("x", "alice", &shape, vec![1.0; n])
            .op(
                "mx",
                Op::ReduceMax {
                    input: s("x"),
                    axis,
                },
            )
            .plan()
            .expect_err("refused")
            .to_string();
        assert!(
            e.contains("mx") && e.contains(want),
            "{axis:?} {shape:?}: {e}"
        );
    }
}

/// Every step of a Log and a ReduceMax run is one the explain pane has a text for (their steps
/// are their primitives' steps, inside calls named `log` and `reduce_max`).
#[test]
fn every_step_of_log_and_reduce_max_is_explained() {
    for name in ["SecureNN", "ABY3", "Pond"] {
        let p = protocol(name);
        let mut b = Pond::new(4)
            .protocol(p)
            .private("x", "alice", &[2, 3], vec![0.5, 1.0, 2.0, 3.0, 40.0, 0.1])
            .op("ln", Op::Log(s("x")));
        if name != "Pond" {
            b = b.op(
                "mx",
                Op::ReduceMax {
                    input: s("x"),
                    axis: Some(1),
                },
            );
        }
        let run = b.run_ok();
        let mut calls = std::collections::BTreeSet::new();
        for step in &run.trace.steps {
            assert!(
                p.explanation(&step.name).is_some(),
                "{name}: no explanation for `{}`",
                step.name
            );
            if let Some(first) = step.path.first() {
                calls.insert(first.clone());
            }
        }
        assert!(calls.contains("log"), "{name}: {calls:?}");
        if name != "Pond" {
            assert!(calls.contains("reduce_max"), "{name}: {calls:?}");
        }
    }
}
