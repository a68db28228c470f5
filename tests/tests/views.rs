//! View tests, one per protocol op (the standing rule of issue 7 §6): no party's view of the op
//! depends on the secrets of the others. Each builds the smallest scenario that exercises the op
//! and runs `sim::leak::assert_no_leak` — the scenario re-run with fresh seeds under its own
//! inputs and under extreme ones, every party's view compared feature by feature
//! (docs/leak.md). Few runs keep them quick; a leak of the kinds the checker is tested against
//! (sim/tests/leak.rs) shows within far fewer.

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

fn two_inputs() -> Pond {
    Pond::new(3)
        .private("x", "alice", &[2, 3], vals(6, 2.0))
        .private("y", "bob", &[2, 3], vals(6, -1.5))
}

#[test]
fn input_sharing_shows_no_leak() {
    check(
        Pond::new(1)
            .private("x", "alice", &[6], vals(6, 3.0))
            .op("y", Op::Neg(s("x")))
            .output("y"),
        "input x",
    );
}

#[test]
fn dense_input_sharing_shows_no_leak() {
    check(
        Pond::new(2)
            .input_sharing(protocols::pond::InputSharing::Dense)
            .private("x", "alice", &[6], vals(6, 3.0))
            .op("y", Op::Neg(s("x")))
            .output("y"),
        "input x",
    );
}

#[test]
fn add_shows_no_leak() {
    // Local: nothing to see in the op itself, but the inputs and the output are there.
    let plan = two_inputs()
        .op("z", Op::Add(s("x"), s("y")))
        .output("z")
        .plan()
        .unwrap();
    assert_no_leak(&plan, RUNS);
}

#[test]
fn mul_shows_no_leak() {
    check(
        two_inputs().op("z", Op::Mul(s("x"), s("y"))).output("z"),
        "z",
    );
}

#[test]
fn matmul_shows_no_leak() {
    check(
        Pond::new(4)
            .private("x", "alice", &[2, 3], vals(6, 2.0))
            .private("w", "bob", &[3, 2], vals(6, 1.0))
            .op("z", Op::MatMul(s("x"), s("w")))
            .output("z"),
        "z",
    );
}

#[test]
fn dealer_truncation_shows_no_leak() {
    // A private × public product: no Beaver triple, only the dealer's truncation.
    check(
        Pond::new(5)
            .truncation(Truncation::Dealer)
            .private("x", "alice", &[8], vals(8, 4.0))
            .public("c", &[8], vals(8, 1.25))
            .op("z", Op::Mul(s("x"), s("c")))
            .output("z"),
        "z",
    );
}

#[test]
fn reveal_shows_no_leak_beyond_the_revealed_value() {
    let r = check(
        two_inputs()
            .op("z", Op::Mul(s("x"), s("y")))
            .op("open", Op::Reveal(s("z")))
            .output("open"),
        "z",
    );
    // The servers learn `open`: their test leaves it out and says so.
    let s0 = r.parties.iter().find(|p| p.party == "server0").unwrap();
    let op = s0.ops.iter().find(|o| o.name == "open").unwrap();
    assert!(op.excluded.is_some(), "{op:?}");
}

#[test]
fn sigmoid_shows_no_leak() {
    check(
        Pond::new(6)
            .private("x", "alice", &[6], vals(6, 3.0))
            .op("p", Op::Sigmoid(s("x")))
            .output("p"),
        "p",
    );
}

fn securenn() -> Pond {
    Pond::new(7).protocol(ProtocolKind::named("SecureNN").unwrap())
}

#[test]
fn securenn_relu_shows_no_leak() {
    check(
        securenn()
            .private("x", "alice", &[8], vals(8, 3.0))
            .op("r", Op::Relu(s("x")))
            .output("r"),
        "r",
    );
}

#[test]
fn securenn_maxpool_shows_no_leak() {
    check(
        securenn()
            .private("x", "alice", &[1, 1, 4, 4], vals(16, 3.0))
            .op(
                "m",
                Op::MaxPool2d {
                    input: s("x"),
                    kernel: 2,
                    stride: None,
                },
            )
            .output("m"),
        "m",
    );
}

#[test]
fn securenn_argmax_shows_no_leak() {
    check(
        securenn()
            .private("x", "alice", &[2, 4], vals(8, 3.0))
            .op("k", Op::Argmax(s("x")))
            .output("k"),
        "k",
    );
}

// ---- ABY3 (issue 10 §2) --------------------------------------------------------------------

fn aby3(b: Pond) -> Pond {
    b.protocol(ProtocolKind::named("ABY3").expect("ABY3 is registered"))
}

#[test]
fn aby3_input_sharing_shows_no_leak() {
    for sharing in [
        protocols::pond::InputSharing::Seeded,
        protocols::pond::InputSharing::Dense,
    ] {
        check(
            aby3(Pond::new(1))
                .input_sharing(sharing)
                .private("x", "alice", &[6], vals(6, 3.0))
                .op("y", Op::Neg(s("x")))
                .output("y"),
            "input x",
        );
    }
}

#[test]
fn aby3_mul_shows_no_leak_under_both_truncations() {
    for t in [Truncation::Dealer, Truncation::Local] {
        check(
            aby3(two_inputs())
                .truncation(t)
                .op("z", Op::Mul(s("x"), s("y")))
                .output("z"),
            "z",
        );
    }
}

#[test]
fn aby3_matmul_shows_no_leak() {
    check(
        aby3(Pond::new(4))
            .private("x", "alice", &[2, 3], vals(6, 2.0))
            .private("w", "bob", &[3, 2], vals(6, -1.0))
            .op("z", Op::MatMul(s("x"), s("w")))
            .output("z"),
        "z",
    );
}

#[test]
fn aby3_square_and_public_product_truncations_show_no_leak() {
    for t in [Truncation::Dealer, Truncation::Local] {
        check(
            aby3(Pond::new(5))
                .truncation(t)
                .private("x", "alice", &[6], vals(6, 2.0))
                .public("p", &[6], vals(6, 1.0))
                .op("sq", Op::Square(s("x")))
                .op("z", Op::Mul(s("sq"), s("p")))
                .output("z"),
            "sq",
        );
    }
}

#[test]
fn aby3_reveal_and_output_show_no_leak_beyond_the_value() {
    let r = check(
        aby3(two_inputs())
            .op("z", Op::Mul(s("x"), s("y")))
            .op("open", Op::Reveal(s("z")))
            .output("open")
            .output("x"),
        "z",
    );
    // The three servers learn `open`: their tests leave it out and say so.
    for server in ["server0", "server1", "server2"] {
        let p = r.parties.iter().find(|p| p.party == server).unwrap();
        let op = p.ops.iter().find(|o| o.name == "open").unwrap();
        assert!(op.excluded.is_some(), "{server}: {op:?}");
    }
}

#[test]
fn aby3_polynomial_sigmoid_shows_no_leak() {
    check(
        aby3(Pond::new(6))
            .private("x", "alice", &[4], vals(4, 1.0))
            .op("s", Op::Sigmoid(s("x")))
            .output("s"),
        "s",
    );
}

/// ABY3's arithmetic part over Z_2^128 (tf-encrypted's "high" preset): no party's view of an
/// input sharing, a product with Π_trunc1 or Π_trunc2, a polynomial or an output depends on the
/// others' secrets.
#[test]
fn aby3_128_bit_products_and_polynomial_show_no_leak() {
    for t in [Truncation::Dealer, Truncation::Local] {
        check(
            aby3(Pond::wide(11))
                .truncation(t)
                .private("x", "alice", &[2, 3], vals(6, 700.0))
                .private("y", "bob", &[2, 3], vals(6, -1.5))
                .op("z", Op::Mul(s("x"), s("y")))
                .op("t", Op::Tanh(s("y")))
                .output("z")
                .output("t"),
            "z",
        );
    }
}

// ---- ABY3's boolean part: exact ReLU, MaxPool, argmax, piecewise sigmoid ----------------------

#[test]
fn aby3_relu_shows_no_leak() {
    // Signs differ between the scenario's and the alternative secrets (vals spans ±).
    check(
        aby3(Pond::new(7))
            .private("x", "alice", &[8], vals(8, 3.0))
            .op("r", Op::Relu(s("x")))
            .output("r"),
        "r",
    );
}

#[test]
fn aby3_maxpool_and_argmax_show_no_leak() {
    check(
        aby3(Pond::new(8))
            .private("img", "alice", &[1, 1, 4, 4], vals(16, 2.0))
            .op(
                "m",
                Op::MaxPool2d {
                    input: s("img"),
                    kernel: 2,
                    stride: None,
                },
            )
            .output("m"),
        "m",
    );
    check(
        aby3(Pond::new(9))
            .private("x", "alice", &[2, 4], vals(8, 2.0))
            .op("a", Op::Argmax(s("x")))
            .output("a"),
        "a",
    );
}

#[test]
fn aby3_piecewise_sigmoid_shows_no_leak() {
    check(
        aby3(Pond::new(10))
            .sigmoid(protocols::protocol::SigmoidMethod::Piecewise)
            .private("x", "alice", &[8], vals(8, 5.0))
            .op("y", Op::Sigmoid(s("x")))
            .output("y"),
        "y",
    );
}

// ---- The op set (issue 13 §1) ----------------------------------------------------------------

/// The local and product-only new ops under Pond: a constant, Mean, Concat, Slice and Where
/// (a public product and a Beaver product with truncations).
#[test]
fn pond_constants_mean_concat_slice_and_where_show_no_leak() {
    let b = two_inputs()
        .op("c", Op::Const(0.25))
        .op("cx", Op::Mul(s("x"), s("c")))
        .op(
            "m",
            Op::Mean {
                input: s("x"),
                axis: Some(1),
            },
        )
        .op(
            "j",
            Op::Concat {
                inputs: vec![s("x"), s("y")],
                axis: 0,
            },
        )
        .op(
            "sl",
            Op::Slice {
                input: s("j"),
                axis: 0,
                start: 1,
                end: 3,
            },
        )
        .op("w", Op::Where(s("x"), s("y"), s("cx")))
        .output("sl")
        .output("w");
    for op in ["cx", "m", "w"] {
        check(b.clone(), op);
    }
}

/// SecureNN's Greater (DReLU of the difference) and Max built on it.
#[test]
fn securenn_greater_and_max_show_no_leak() {
    let b = securenn()
        .private("x", "alice", &[8], vals(8, 3.0))
        .private("y", "bob", &[8], vals(8, -2.0))
        .op("g", Op::Greater(s("x"), s("y")))
        .op("mx", Op::Max(s("x"), s("y")))
        .output("g")
        .output("mx");
    check(b.clone(), "g");
    check(b, "mx");
}

/// ABY3's Greater (MSB of the difference, bit2A) and Abs built on it.
#[test]
fn aby3_greater_and_abs_show_no_leak() {
    let b = aby3(Pond::new(5))
        .private("x", "alice", &[6], vals(6, 3.0))
        .private("y", "bob", &[6], vals(6, -2.0))
        .op("g", Op::Greater(s("x"), s("y")))
        .op("a", Op::Abs(s("x")))
        .output("g")
        .output("a");
    check(b.clone(), "g");
    check(b, "a");
}

/// The approximations: Exp and Reciprocal (products only) under Pond, Softmax under SecureNN.
#[test]
fn exp_reciprocal_and_softmax_show_no_leak() {
    let b = Pond::new(4)
        .private("x", "alice", &[4], vec![0.5, 1.0, 2.0, 3.0])
        .op("e", Op::Exp(s("x")))
        .op("r", Op::Reciprocal(s("x")))
        .output("r");
    check(b.clone(), "e");
    check(b, "r");
    let b = securenn()
        .private("x", "alice", &[2, 3], vals(6, 2.0))
        .op("sm", Op::Softmax(s("x")))
        .output("sm");
    check(b, "sm");
}

/// Log (products only) under Pond; ReduceMax (a tree of Max) under SecureNN and ABY3. (Log
/// under ABY3 has its own test below: the checker's extreme inputs overflow it.)
#[test]
fn log_and_reduce_max_show_no_leak() {
    let b = Pond::new(6)
        .private("x", "alice", &[4], vec![0.5, 1.0, 20.0, 3.0])
        .op("ln", Op::Log(s("x")))
        .output("ln");
    check(b, "ln");
    let b = securenn()
        .private("x", "alice", &[2, 3], vals(6, 2.0))
        .op(
            "mx",
            Op::ReduceMax {
                input: s("x"),
                axis: Some(1),
            },
        )
        .op(
            "all",
            Op::ReduceMax {
                input: s("x"),
                axis: None,
            },
        )
        .output("mx");
    check(b.clone(), "mx");
    check(b.clone(), "all");
    check(aby3(b), "mx");
}

/// Log under ABY3, against a second assignment inside Log's accuracy range
/// (`composite::LOG_DOMAIN`). The default alternative, the extremes ±2^10, overflows Log's
/// e^(−2x − 1) — far outside its range, a hazard — and Π_trunc2 then shows the overflowed
/// products' top bits, as it would for any op overflowing; inside the range no party's view of
/// Log depends on x, under either truncation.
#[test]
fn aby3_log_shows_no_leak_inside_its_range() {
    use sim::leak::{check as leak_check, Alternative, Options};
    let (lo, hi) = protocols::composite::LOG_DOMAIN;
    for t in [Truncation::Dealer, Truncation::Local] {
        let with = |x: Vec<f64>| {
            aby3(Pond::new(6))
                .truncation(t)
                .private("x", "alice", &[5], x)
                .op("ln", Op::Log(s("x")))
                .output("ln")
                .plan()
                .expect("the test scenario is valid")
        };
        let plan = with(vec![0.5, 1.0, 20.0, 3.0, 7.5]);
        let other = with(vec![lo, hi, 1.0, 0.03, 120.0]);
        let opts = Options {
            alternative: Alternative::Scenario {
                name: "x at the ends of Log's range".into(),
                inputs: other.inputs.clone(),
            },
            ..Options::new(RUNS)
        };
        let r = leak_check(&plan, &opts).expect("the check runs");
        assert!(!r.leak, "{t:?}:\n{}", r.text());
        let seen: usize = r
            .parties
            .iter()
            .flat_map(|p| &p.ops)
            .filter(|o| o.name == "ln")
            .map(|o| o.features)
            .sum();
        assert!(seen > 0, "no party saw anything of `ln`:\n{}", r.text());
    }
}
