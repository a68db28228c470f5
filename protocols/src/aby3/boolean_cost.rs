//! The exact costs of ABY3's boolean circuits and nonlinear ops ([`super::boolean`],
//! [`super::nonlinear`]): the rows of docs/costs.md's "ABY3 boolean" section as functions, each
//! a [`Price`] — bytes and messages, and the [`Flow`] over the three servers (seats 0, 1, 2)
//! from which the rounds follow. All traffic is online (the PRF keys make the correlated
//! randomness; key setup is the core's, once per run). `protocols/tests/aby3_boolean.rs`
//! asserts every one against runs.
//!
//! n is the number of elements (words) of the op's input unless said otherwise.

use crate::cost::{Cost, Flow, ELEMENT};
use crate::protocol::OpCost;

/// An op's traffic and its flow. The rounds are the flow's ([`Price::cost`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    /// Online bytes.
    pub bytes: u64,
    /// Online messages.
    pub messages: u64,
    /// Offline bytes (none of this module's functions has any; a truncation passed to
    /// [`sigmoid_piecewise`] may).
    pub offline_bytes: u64,
    /// Offline messages.
    pub offline_messages: u64,
    /// Who sends to whom online, in order.
    pub flow: Flow,
}

impl Price {
    /// Nothing sent.
    pub const LOCAL: Price = Price {
        bytes: 0,
        messages: 0,
        offline_bytes: 0,
        offline_messages: 0,
        flow: Flow::LOCAL,
    };

    /// Online traffic of `bytes` in `messages` moving along `flow`.
    pub fn online(bytes: u64, messages: u64, flow: Flow) -> Price {
        Price {
            bytes,
            messages,
            flow,
            ..Price::LOCAL
        }
    }

    /// The price of another module's op (e.g. a truncation) from its cost and flow (the cost's
    /// rounds are dropped: they follow from the flow).
    pub fn from_cost(cost: Cost, flow: Flow) -> Price {
        Price {
            bytes: cost.bytes,
            messages: cost.messages,
            offline_bytes: cost.offline_bytes,
            offline_messages: cost.offline_messages,
            flow,
        }
    }

    /// `self`, then `next` (every server runs its part of `next` after its part of `self`).
    pub fn then(self, next: Price) -> Price {
        Price {
            bytes: self.bytes + next.bytes,
            messages: self.messages + next.messages,
            offline_bytes: self.offline_bytes + next.offline_bytes,
            offline_messages: self.offline_messages + next.offline_messages,
            flow: self.flow.then(next.flow),
        }
    }

    /// `self` `k` times in a row.
    pub fn times(self, k: u64) -> Price {
        (0..k).fold(Price::LOCAL, |acc, _| acc.then(self))
    }

    /// The [`Cost`]: bytes, messages and the flow's rounds.
    pub fn cost(&self) -> Cost {
        Cost {
            bytes: self.bytes,
            offline_bytes: self.offline_bytes,
            messages: self.messages,
            offline_messages: self.offline_messages,
            rounds: self.flow.rounds(),
        }
    }

    /// As a cost model's answer for a program op ([`OpCost`]: the cost and the flow).
    pub fn op_cost(&self) -> OpCost {
        OpCost::new(self.cost(), self.flow)
    }
}

/// Every server i sends one message to server i − 1 (a resharing: 0 → 2, 1 → 0, 2 → 1).
pub fn ring_flow() -> Flow {
    Flow::send(0, &[2])
        .beside(Flow::send(1, &[0]))
        .beside(Flow::send(2, &[1]))
}

/// One resharing of `words` elements (an AND layer of that many words, or one arithmetic
/// product): 3 messages of 8·words bytes, 1 round.
pub fn reshare(words: u64) -> Price {
    Price::online(3 * ELEMENT * words, 3, ring_flow())
}

/// [`super::boolean::and`] of n words: a resharing, 24n bytes, 3 messages, 1 round.
pub fn and(n: u64) -> Price {
    reshare(n)
}

/// Server0's input of x₀ + x₁ (or of a bit) to server2: 1 message of 8n bytes.
pub fn input0(n: u64) -> Price {
    Price::online(ELEMENT * n, 1, Flow::send(0, &[2]))
}

/// The Kogge–Stone adder ([`super::circuit::kogge_stone`]) on n words: AND layers of n, then
/// five of 2n, then one of n words (12n words): 21 messages, 288n bytes, 7 rounds.
pub fn kogge_stone(n: u64) -> Price {
    and(n).then(and(2 * n).times(5)).then(and(n))
}

/// The carry tree ([`super::circuit::msb_of_sum`]) on n words: 7 AND layers of n words:
/// 21 messages, 168n bytes, 7 rounds.
pub fn carry_tree(n: u64) -> Price {
    and(n).times(7)
}

/// [`super::boolean::a2b`]: input, Kogge–Stone: 22 messages, 296n bytes, 8 rounds.
pub fn a2b(n: u64) -> Price {
    input0(n).then(kogge_stone(n))
}

/// [`super::boolean::msb`]: input, carry tree: 22 messages, 176n bytes, 8 rounds.
pub fn msb(n: u64) -> Price {
    input0(n).then(carry_tree(n))
}

/// [`super::boolean::b2a`]: server1's masked input to server0 (1 message, 8n), the
/// Kogge–Stone adder, the opening to servers 0 and 2 (2 messages, 16n): 24 messages, 312n
/// bytes, 8 rounds (the mask reaches server0 while servers 1 and 2 start the adder).
pub fn b2a(n: u64) -> Price {
    let mask = Price::online(ELEMENT * n, 1, Flow::send(1, &[0]));
    let open = Price::online(
        2 * ELEMENT * n,
        2,
        Flow::send(0, &[2]).beside(Flow::send(1, &[0])),
    );
    mask.then(kogge_stone(n)).then(open)
}

/// [`super::boolean::b2a_bit`]: input, one product: 4 messages, 32n bytes, 2 rounds.
pub fn b2a_bit(n: u64) -> Price {
    input0(n).then(reshare(n))
}

/// [`super::nonlinear::drelu`], [`super::nonlinear::greater`], [`super::nonlinear::less`]:
/// that of [`msb`].
pub fn drelu(n: u64) -> Price {
    msb(n)
}

/// [`super::nonlinear::relu`]: DReLU, bit2A, one product: 29 messages, 232n bytes, 10 rounds
/// (bit2A's input from server0 overlaps the carry tree's last layer).
pub fn relu(n: u64) -> Price {
    drelu(n).then(b2a_bit(n)).then(reshare(n))
}

/// The comparison tree over k candidates for m columns (`with_index`: values and indices):
/// ⌈log₂ k⌉ levels; a level with q pairs costs drelu(qm), b2a_bit(qm) and a product of qm
/// (2qm with indices) elements.
pub fn tree(k: u64, m: u64, with_index: bool) -> Price {
    let mut p = Price::LOCAL;
    let mut count = k;
    while count > 1 {
        let q = count / 2;
        let width = if with_index { 2 * q * m } else { q * m };
        p = p
            .then(drelu(q * m))
            .then(b2a_bit(q * m))
            .then(reshare(width));
        count = q + count % 2;
    }
    p
}

/// [`super::nonlinear::maxpool2d`] with k = kernel² and m output elements. With
/// L = ⌈log₂ k⌉ levels and k − 1 comparisons of m elements in all: 29·L messages,
/// 232(k − 1)m bytes, [`tree_rounds`]`(L)` rounds.
pub fn maxpool2d(k: u64, m: u64) -> Price {
    tree(k, m, false)
}

/// [`super::nonlinear::argmax`] over k classes for m rows: 29·L messages, 256(k − 1)m bytes,
/// [`tree_rounds`]`(L)` rounds.
pub fn argmax(k: u64, m: u64) -> Price {
    tree(k, m, true)
}

/// [`super::nonlinear::sigmoid_piecewise`] on n elements, with `truncate` the price of the
/// truncation of n elements it ends with: DReLU, bit2A and a product on 4n, then the
/// truncation: 29 messages, 928n bytes, 10 rounds before it (rounds after it: the flow's).
pub fn sigmoid_piecewise(n: u64, truncate: Price) -> Price {
    drelu(4 * n)
        .then(b2a_bit(4 * n))
        .then(reshare(4 * n))
        .then(truncate)
}

/// The rounds of a comparison tree of `l` levels (the flow's): 0, 10, then 9l + 2 for l ≥ 2
/// (a level's DReLU starts while the previous product's last message is in flight).
pub fn tree_rounds(l: u64) -> u32 {
    match l {
        0 => 0,
        1 => 10,
        l => 9 * l as u32 + 2,
    }
}

/// The number of levels of a comparison tree over k candidates: ⌈log₂ k⌉.
pub fn levels(k: u64) -> u64 {
    let (mut count, mut l) = (k, 0);
    while count > 1 {
        count = count / 2 + count % 2;
        l += 1;
    }
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(p: Price) -> (u64, u64, u32) {
        let c = p.cost();
        (c.messages, c.bytes, c.rounds)
    }

    #[test]
    fn the_rows_of_docs_costs() {
        for n in [1u64, 7, 100] {
            assert_eq!(c(and(n)), (3, 24 * n, 1));
            assert_eq!(c(kogge_stone(n)), (21, 288 * n, 7));
            assert_eq!(c(carry_tree(n)), (21, 168 * n, 7));
            assert_eq!(c(a2b(n)), (22, 296 * n, 8));
            assert_eq!(c(msb(n)), (22, 176 * n, 8));
            assert_eq!(c(b2a(n)), (24, 312 * n, 8));
            assert_eq!(c(b2a_bit(n)), (4, 32 * n, 2));
            assert_eq!(c(relu(n)), (29, 232 * n, 10));
            let t = reshare(n);
            assert_eq!(c(sigmoid_piecewise(n, t)), (32, 952 * n, 11));
        }
        for (k, m) in [(4u64, 9u64), (9, 2), (2, 5), (10, 1), (3, 3)] {
            let l = levels(k);
            assert_eq!(
                c(maxpool2d(k, m)),
                (29 * l, 232 * (k - 1) * m, tree_rounds(l))
            );
            assert_eq!(c(argmax(k, m)), (29 * l, 256 * (k - 1) * m, tree_rounds(l)));
        }
        // With the arithmetic part's truncations.
        use crate::pond::Truncation;
        for (t, want) in [
            (Truncation::Local, (30, 936, 10)),
            (Truncation::Dealer, (31, 944, 11)),
        ] {
            let n = 5;
            let tp = Price::from_cost(
                super::super::cost::truncation(t, n),
                super::super::cost::truncation_flow(t),
            );
            let (m, b, r) = c(sigmoid_piecewise(n, tp));
            assert_eq!((m, b / n, r), want, "{t:?}");
        }
        assert_eq!(levels(1), 0);
        assert_eq!(levels(9), 4);
    }
}
