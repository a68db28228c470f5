//! SecureNN's costs as `docs/securenn.md` states them: one function per algorithm, built from the
//! messages each one sends (n elements; ℓ = 64; a Z_p element is one byte).
//!
//! `protocols/tests/securenn.rs` runs every algorithm and asserts its accounting is exactly these
//! functions (and that they are the table's numbers). Every offline message here comes from the
//! helper P2, which receives no offline message, so each has offline depth 1; the rounds are the
//! online depth within the function.
//!
//! Beside each cost, its [`Flow`]: who sends to whom in which order, which moves the three
//! parties' causal depths (the servers can leave a function at different depths: P1 hears from
//! P2, P0 does not), so that a run's rounds can be composed exactly from its ops.

use super::{Variant, ELL};
use crate::cost::{Cost, Flow, ELEMENT, SEED};

/// Bytes of ℓ elements of Z_p: the bits of one value, one byte each.
const BITS: u64 = ELL as u64;

fn online(messages: u64, bytes: u64, rounds: u32) -> Cost {
    Cost {
        bytes,
        messages,
        rounds,
        ..Cost::ZERO
    }
}

fn offline(messages: u64, bytes: u64) -> Cost {
    Cost {
        offline_bytes: bytes,
        offline_messages: messages,
        ..Cost::ZERO
    }
}

/// Two costs in parallel (offline dealing beside the online phase): traffic adds, rounds are the
/// larger.
fn beside(a: Cost, b: Cost) -> Cost {
    Cost {
        rounds: a.rounds.max(b.rounds),
        ..a.then(Cost { rounds: 0, ..b })
    }
}

/// `Keys::setup`, once per run: P0 → P1 the common key, P2 → P0 and P2 → P1 a key each.
pub fn key_setup() -> Cost {
    offline(3, 3 * SEED)
}

/// MatMul (Alg. 1) of x (n_x elements) and y (n_y) into z (n_z): P2 deals ⟨C⟩₁ (A, B and ⟨C⟩₀
/// come from the keys); P0 and P1 open E and F in one message each, crossing: one round.
pub fn matmul(n_x: u64, n_y: u64, n_z: u64) -> Cost {
    beside(
        online(2, 2 * ELEMENT * (n_x + n_y), 1),
        offline(1, ELEMENT * n_z),
    )
}

/// SelectShare (Alg. 2) of n elements: one elementwise MatMul α·(y − x).
pub fn select_share(n: u64) -> Cost {
    matmul(n, n, n)
}

/// PrivateCompare (Alg. 3) of n values: each server sends P2 ℓ Z_p elements per value.
pub fn private_compare(n: u64) -> Cost {
    online(2, 2 * BITS * n, 1)
}

/// ShareConvert (Alg. 4) of n values: ã to P2 (2 × 8n) → the bits of x and δ to P1 (64n + 8n) →
/// PrivateCompare → η′ to P1 (8n).
pub fn share_convert(n: u64) -> Cost {
    online(2, 2 * ELEMENT * n, 1)
        .then(online(1, (BITS + ELEMENT) * n, 1))
        .then(private_compare(n))
        .then(online(1, ELEMENT * n, 1))
}

/// ComputeMSB (Alg. 5) of n values: offline the bits of x and x\[0\] to P1 (64n + 8n); online r
/// (2 × 8n) → PrivateCompare → β′ to P1 (8n) → the MatMul γ·δ.
pub fn compute_msb(n: u64) -> Cost {
    beside(
        online(2, 2 * ELEMENT * n, 1)
            .then(private_compare(n))
            .then(online(1, ELEMENT * n, 1)),
        offline(1, (BITS + ELEMENT) * n),
    )
    .then(matmul(n, n, n))
}

/// DReLU of n values: ShareConvert then ComputeMSB; the insecure shortcut skips ShareConvert.
pub fn drelu(variant: Variant, n: u64) -> Cost {
    match variant {
        Variant::Secure | Variant::AsPublished => share_convert(n).then(compute_msb(n)),
        Variant::Shortcut => compute_msb(n),
    }
}

/// ReLU of n values: DReLU, then SelectShare.
pub fn relu(variant: Variant, n: u64) -> Cost {
    drelu(variant, n).then(select_share(n))
}

/// greater or less of n pairs: a local difference, then DReLU.
pub fn greater(variant: Variant, n: u64) -> Cost {
    drelu(variant, n)
}

/// The comparison tree over k candidates of m columns, as `tournament` walks it: each level
/// pairs q = ⌊count/2⌋ candidates, one DReLU of q·m and one SelectShare of q·m values (2q·m with
/// the index), and carries an odd one out. ⌈log₂ k⌉ levels, k − 1 comparisons in all.
fn tree(variant: Variant, k: u64, m: u64, with_index: bool) -> Cost {
    let width = if with_index { 2 } else { 1 };
    let mut count = k;
    let mut cost = Cost::ZERO;
    while count > 1 {
        let q = count / 2;
        cost = cost
            .then(drelu(variant, q * m))
            .then(select_share(width * q * m));
        count = q + count % 2;
    }
    cost
}

/// MaxPool over k = kernel² candidates for each of m outputs.
pub fn maxpool(variant: Variant, k: u64, m: u64) -> Cost {
    tree(variant, k, m, false)
}

/// argmax over the last axis (k candidates) for each of m rows: the tree selects value and index.
pub fn argmax(variant: Variant, k: u64, m: u64) -> Cost {
    tree(variant, k, m, true)
}

// ---- Flows --------------------------------------------------------------------------------------

/// P2 → P1, one message.
fn helper_to_p1() -> Flow {
    Flow::send(2, &[1])
}

/// MatMul and SelectShare: the servers open E and F, crossing.
pub fn matmul_flow() -> Flow {
    Flow::exchange()
}

/// PrivateCompare: each server sends P2 its masked bits.
pub fn private_compare_flow() -> Flow {
    Flow::to_helper()
}

/// ShareConvert: ã to P2 → bits and δ to P1 → PrivateCompare → η′ to P1.
pub fn share_convert_flow() -> Flow {
    Flow::to_helper()
        .then(helper_to_p1())
        .then(private_compare_flow())
        .then(helper_to_p1())
}

/// ComputeMSB: open r → PrivateCompare → β′ to P1 → MatMul.
pub fn compute_msb_flow() -> Flow {
    Flow::exchange()
        .then(private_compare_flow())
        .then(helper_to_p1())
        .then(matmul_flow())
}

/// DReLU.
pub fn drelu_flow(variant: Variant) -> Flow {
    match variant {
        Variant::Secure | Variant::AsPublished => share_convert_flow().then(compute_msb_flow()),
        Variant::Shortcut => compute_msb_flow(),
    }
}

/// ReLU: DReLU, then SelectShare.
pub fn relu_flow(variant: Variant) -> Flow {
    drelu_flow(variant).then(matmul_flow())
}

/// ⌈log₂ k⌉: the levels of a comparison tree over k candidates.
pub fn tree_levels(k: u64) -> u64 {
    if k <= 1 {
        0
    } else {
        64 - u64::from((k - 1).leading_zeros())
    }
}

/// MaxPool and argmax over k candidates: one ReLU-like level per tree level.
pub fn tree_flow(variant: Variant, k: u64) -> Flow {
    relu_flow(variant).times(tree_levels(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flow_has_the_rounds_of_its_cost() {
        assert_eq!(matmul_flow().rounds(), matmul(1, 1, 1).rounds);
        assert_eq!(private_compare_flow().rounds(), private_compare(1).rounds);
        assert_eq!(share_convert_flow().rounds(), share_convert(1).rounds);
        assert_eq!(compute_msb_flow().rounds(), compute_msb(1).rounds);
        for v in [Variant::Secure, Variant::AsPublished, Variant::Shortcut] {
            assert_eq!(drelu_flow(v).rounds(), drelu(v, 1).rounds);
            assert_eq!(relu_flow(v).rounds(), relu(v, 1).rounds);
            for k in 1..20 {
                assert_eq!(tree_flow(v, k).rounds(), maxpool(v, k, 3).rounds, "k = {k}");
                assert_eq!(tree_flow(v, k).rounds(), argmax(v, k, 3).rounds);
            }
        }
    }

    #[test]
    fn drelu_ends_with_the_servers_at_different_depths() {
        // The critical path runs through P1 (docs/securenn.md): P1 sends the MatMul's E, F at
        // round 8 and P0 hears it; P0 sent its own at 6 (it never waits for P2), so P1 ends at
        // 7, where β′ left it; P2 last heard PrivateCompare at 6.
        let (after, deepest) = drelu_flow(Variant::Secure).apply(&[0, 0, 0]);
        assert_eq!(deepest, Some(8));
        assert_eq!(after, [8, 7, 6]);
    }

    fn levels(k: u64) -> u64 {
        tree_levels(k)
    }

    #[test]
    fn the_functions_give_the_table_of_docs_securenn_md() {
        let c = |messages, bytes, rounds, offline_messages, offline_bytes| Cost {
            bytes,
            offline_bytes,
            messages,
            offline_messages,
            rounds,
        };
        assert_eq!(key_setup(), c(0, 0, 0, 3, 96));
        for n in [1u64, 2, 7, 100, 12_345] {
            assert_eq!(matmul(n, 2 * n, 3 * n), c(2, 48 * n, 1, 1, 24 * n));
            assert_eq!(select_share(n), c(2, 32 * n, 1, 1, 8 * n));
            assert_eq!(private_compare(n), c(2, 128 * n, 1, 0, 0));
            assert_eq!(share_convert(n), c(6, 224 * n, 4, 0, 0));
            assert_eq!(compute_msb(n), c(7, 184 * n, 4, 2, 80 * n));
            for v in [Variant::Secure, Variant::AsPublished] {
                assert_eq!(drelu(v, n), c(13, 408 * n, 8, 2, 80 * n));
                assert_eq!(greater(v, n), c(13, 408 * n, 8, 2, 80 * n));
                assert_eq!(relu(v, n), c(15, 440 * n, 9, 3, 88 * n));
            }
            assert_eq!(drelu(Variant::Shortcut, n), c(7, 184 * n, 4, 2, 80 * n));
            assert_eq!(relu(Variant::Shortcut, n), c(9, 216 * n, 5, 3, 88 * n));
        }
    }

    #[test]
    fn trees_cost_k_minus_one_comparisons_in_ceil_log2_k_levels() {
        for k in 1u64..=25 {
            for m in [1u64, 3, 10] {
                let (l, comps) = (levels(k), (k - 1) * m);
                for v in [Variant::Secure, Variant::AsPublished] {
                    assert_eq!(
                        maxpool(v, k, m),
                        Cost {
                            bytes: 440 * comps,
                            offline_bytes: 88 * comps,
                            messages: 15 * l,
                            offline_messages: 3 * l,
                            rounds: 9 * l as u32,
                        },
                        "k = {k}, m = {m}"
                    );
                    assert_eq!(
                        argmax(v, k, m),
                        Cost {
                            bytes: 472 * comps,
                            offline_bytes: 96 * comps,
                            messages: 15 * l,
                            offline_messages: 3 * l,
                            rounds: 9 * l as u32,
                        }
                    );
                }
                assert_eq!(
                    maxpool(Variant::Shortcut, k, m),
                    Cost {
                        bytes: 216 * comps,
                        offline_bytes: 88 * comps,
                        messages: 9 * l,
                        offline_messages: 3 * l,
                        rounds: 5 * l as u32,
                    }
                );
            }
        }
    }
}
