//! View tests for the gradient ops (issue 13 §2), in `views.rs`'s style: no party's view of
//! Conv2dGradFilters, Conv2dGradInput, AvgPool2dGrad or MaxPool2dGrad (SecureNN's DMaxPool)
//! depends on the secrets of the others (`sim::leak::assert_no_leak`: the scenario re-run with
//! fresh seeds under its own and under extreme inputs, every party's view compared).

use protocols::pond::Truncation;
use protocols::program::Op;
use sharescope_tests::Pond;
use sim::leak::{assert_no_leak, LeakReport};
use sim::scenario::ProtocolKind;

const RUNS: usize = 20;

fn s(n: &str) -> String {
    n.to_string()
}

fn vals(n: usize, scale: f64) -> Vec<f64> {
    (0..n)
        .map(|i| scale * ((i * 37 % 17) as f64 - 8.0) / 8.0)
        .collect()
}

/// Asserts no leak and that the op named `op` was looked at by some party.
fn check(b: Pond, op: &str) -> LeakReport {
    let plan = b.plan().expect("the test scenario is valid");
    let r = assert_no_leak(&plan, RUNS);
    let seen: usize = r
        .parties
        .iter()
        .flat_map(|p| &p.ops)
        .filter(|o| o.name == op)
        .map(|o| o.features)
        .sum();
    assert!(seen > 0, "no party saw anything of `{op}`:\n{}", r.text());
    r
}

/// A conv layer's three gradients under `protocol`: dW and dX (fresh dY, X and W masked by the
/// forward conv) and the average pool's spread.
fn conv_grads(protocol: &str, t: Truncation) -> Pond {
    Pond::new(9)
        .protocol(ProtocolKind::named(protocol).expect("registered"))
        .truncation(t)
        .private("x", "alice", &[1, 2, 4, 4], vals(32, 2.0))
        .private("w", "bob", &[2, 2, 3, 3], vals(36, -1.0))
        .private("dy", "bob", &[1, 2, 2, 2], vals(8, 1.5))
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
                input_shape: vec![1, 2, 4, 4],
                stride: 1,
                padding: 0,
            },
        )
        .op(
            "da",
            Op::AvgPool2dGrad {
                grad: s("dy"),
                input_shape: vec![1, 2, 4, 4],
                kernel: 2,
                stride: None,
            },
        )
        .output("dw")
        .output("dx")
}

#[test]
fn pond_conv_and_avgpool_gradients_show_no_leak() {
    // With local truncation only dW sends anything (dY's opening): dX reuses every mask and
    // the spread is local.
    for (t, ops) in [
        (Truncation::Dealer, &["dw", "dx", "da"][..]),
        (Truncation::Local, &["dw"][..]),
    ] {
        let b = conv_grads("Pond", t);
        for op in ops {
            check(b.clone(), op);
        }
    }
}

#[test]
fn aby3_conv_and_avgpool_gradients_show_no_leak() {
    let b = conv_grads("ABY3", Truncation::Dealer);
    for op in ["dw", "dx", "da"] {
        check(b.clone(), op);
    }
}

#[test]
fn securenn_dmaxpool_shows_no_leak() {
    dmaxpool_shows_no_leak("SecureNN");
}

/// ABY3's DMaxPool: the comparison tree carrying the one-hot (DReLU, bit2A, one product per
/// level), then the product E · dY.
#[test]
fn aby3_dmaxpool_shows_no_leak() {
    dmaxpool_shows_no_leak("ABY3");
}

fn dmaxpool_shows_no_leak(protocol: &str) {
    // 2×2 windows (2 tree levels) and 3×3 windows with stride 1 (4 levels, overlapping).
    for (kernel, stride) in [(2, None), (3, Some(1))] {
        let b = Pond::new(12)
            .protocol(ProtocolKind::named(protocol).unwrap())
            .private("x", "alice", &[1, 1, 4, 4], vals(16, 3.0))
            .private("dy", "bob", &[1, 1, 2, 2], vals(4, 1.0))
            .op(
                "dm",
                Op::MaxPool2dGrad {
                    grad: s("dy"),
                    input: s("x"),
                    kernel,
                    stride,
                },
            )
            .output("dm");
        check(b, "dm");
    }
}

/// Training's kept max pool (one tree for the maxima and the one-hot) and the gradient routed by
/// the kept one-hot, under SecureNN and ABY3.
#[test]
fn kept_max_pool_and_its_gradient_show_no_leak() {
    for protocol in ["SecureNN", "ABY3"] {
        for (kernel, stride) in [(2, None), (3, Some(1))] {
            let b = Pond::new(13)
                .protocol(ProtocolKind::named(protocol).unwrap())
                .private("x", "alice", &[1, 1, 4, 4], vals(16, 3.0))
                .private("dy", "bob", &[1, 1, 2, 2], vals(4, 1.0))
                .op(
                    "kp",
                    Op::MaxPool2dWithOneHot {
                        input: s("x"),
                        kernel,
                        stride,
                    },
                )
                .op(
                    "dk",
                    Op::MaxPool2dGradOneHot {
                        grad: s("dy"),
                        pooled: s("kp"),
                        input_shape: vec![1, 1, 4, 4],
                        kernel,
                        stride,
                    },
                )
                .output("dk");
            check(b.clone(), "kp");
            check(b, "dk");
        }
    }
}
