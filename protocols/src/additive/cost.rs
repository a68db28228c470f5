//! Additive's costs as `docs/costs.md` ("Additive") states them, one function per row, and
//! [`AdditiveCosts`], the [`CostModel`] `sharescope check`, the estimate and the DAG walk.
//!
//! With n = 3 servers and m elements: every opening is all-to-all (n(n−1) = 6 messages of 8m
//! bytes, one round); the dealer's triple and pair go out as two seeds and one dense message.
//! There is no cache, so an op's cost is a function of its operands' shapes and publicness
//! alone. `protocols/tests/additive.rs` asserts every row against runs.

use super::SERVERS;
use crate::cost::{Cost, Flow, ELEMENT, SEED};
use crate::pond::{InputSharing, Truncation};
use crate::program::Op;
use crate::protocol::{CostModel, OpCost, Operand, Settings};

const N: u64 = SERVERS as u64;
/// Messages of one all-to-all opening among the servers.
const OPENING: u64 = N * (N - 1);

fn numel(shape: &[usize]) -> u64 {
    shape.iter().product::<usize>() as u64
}

/// Input sharing of m elements: seeded, (n−1) seeds and one dense share; dense, n shares.
pub fn input(sharing: InputSharing, m: u64) -> Cost {
    let bytes = match sharing {
        InputSharing::Seeded => (N - 1) * SEED + ELEMENT * m,
        InputSharing::Dense => N * ELEMENT * m,
    };
    Cost {
        bytes,
        messages: N,
        rounds: 1,
        ..Cost::ZERO
    }
}

/// An all-to-all opening of m elements (Reveal; the online part of Beaver and truncation).
pub fn opening(m: u64) -> Cost {
    Cost {
        bytes: OPENING * ELEMENT * m,
        messages: OPENING,
        rounds: 1,
        ..Cost::ZERO
    }
}

/// Output of m elements to a receiver: every server's share, or server0's public value.
pub fn output(public: bool, m: u64) -> Cost {
    let senders = if public { 1 } else { N };
    Cost {
        bytes: senders * ELEMENT * m,
        messages: senders,
        rounds: 1,
        ..Cost::ZERO
    }
}

/// The dealer's triple for operands of `nx` and `ny` elements (`ny` = 0 for a square) and an
/// output of `nz`: (n−1) seeds and the last server's shares in full.
pub fn deal_triple(nx: u64, ny: u64, nz: u64) -> Cost {
    Cost {
        offline_bytes: (N - 1) * SEED + ELEMENT * (nx + ny + nz),
        offline_messages: N,
        ..Cost::ZERO
    }
}

/// A Beaver product before truncation: the triple, then the opening of e (and f).
pub fn beaver(nx: u64, ny: u64, nz: u64) -> Cost {
    deal_triple(nx, ny, nz).then(opening(nx + ny))
}

/// Dealer truncation of m elements: the pair (r, r >> f), then the opening of z + r.
pub fn truncation(m: u64) -> Cost {
    Cost {
        offline_bytes: (N - 1) * SEED + 2 * ELEMENT * m,
        offline_messages: N,
        ..Cost::ZERO
    }
    .then(opening(m))
}

/// Private × private mul / square / matmul: Beaver, then truncation. `ny` = 0 when both operands
/// are one value (square, `mul(x, x)`).
pub fn product_private(nx: u64, ny: u64, nz: u64) -> Cost {
    beaver(nx, ny, nz).then(truncation(nz))
}

/// Public × private: a local product, then truncation.
pub fn product_public(nz: u64) -> Cost {
    truncation(nz)
}

/// The online pattern of an opening: every server sends to every other one.
pub fn opening_flow() -> Flow {
    (0..SERVERS).fold(Flow::LOCAL, |f, i| {
        let others: Vec<usize> = (0..SERVERS).filter(|&j| j != i).collect();
        f.beside(Flow::send(i, &others))
    })
}

/// Additive's [`CostModel`]: stateless (no mask cache, no keys), so each op's cost is its row.
#[derive(Debug, Clone)]
pub struct AdditiveCosts {
    sharing: InputSharing,
    truncation: Truncation,
}

impl AdditiveCosts {
    /// The model for a scenario's settings.
    pub fn new(settings: &Settings) -> Self {
        AdditiveCosts {
            sharing: settings.input_sharing,
            truncation: settings.truncation,
        }
    }
}

impl CostModel for AdditiveCosts {
    fn input(&mut self, _name: &str, shape: &[usize]) -> OpCost {
        OpCost {
            from_outside: (0..SERVERS).collect(),
            ..OpCost::new(input(self.sharing, numel(shape)), Flow::LOCAL)
        }
    }

    fn op(
        &mut self,
        name: &str,
        op: &Op,
        operands: &[Operand<'_>],
        out_shape: &[usize],
    ) -> std::result::Result<OpCost, String> {
        use crate::protocol::Protocol;
        super::Additive
            .supports(op)
            .map_err(|why| format!("`{name}`: {}", why.replace('\n', ": ")))?;
        if let Some(c) = crate::composite::cost(self, name, op, operands, out_shape) {
            return c;
        }
        if operands.len() != op.operands().len() {
            return Err(format!(
                "`{name}`: `{}` takes {} operand(s), got {}",
                op.kind(),
                op.operands().len(),
                operands.len()
            ));
        }
        let nz = numel(out_shape);
        let any_private = operands.iter().any(|o| !o.public);
        let local = || OpCost::new(Cost::ZERO, Flow::LOCAL);
        Ok(match op {
            _ if !any_private => local(),
            Op::Add(..)
            | Op::Sub(..)
            | Op::Neg(_)
            | Op::ReduceSum { .. }
            | Op::Transpose(_)
            | Op::Reshape { .. }
            | Op::Flatten(_)
            | Op::Slice { .. }
            | Op::Pad { .. } => local(),
            Op::Reveal(_) => OpCost::new(opening(nz), opening_flow()),
            Op::Mul(..) | Op::Square(_) | Op::MatMul(..) => {
                if self.truncation == Truncation::Local {
                    return Err(format!(
                        "`{name}`: {}",
                        super::truncate::LOCAL_REFUSAL.replace('\n', ": ")
                    ));
                }
                let x = operands[0];
                let y = *operands.get(1).unwrap_or(&x);
                if x.public || y.public {
                    OpCost::new(product_public(nz), opening_flow())
                } else {
                    let ny = if y.name == x.name { 0 } else { numel(y.shape) };
                    OpCost::new(
                        product_private(numel(x.shape), ny, nz),
                        opening_flow().then(opening_flow()),
                    )
                }
            }
            _ => unreachable!("refused by supports above"),
        })
    }

    fn output(&mut self, _name: &str, public: bool, shape: &[usize]) -> OpCost {
        OpCost {
            to_outside: if public {
                vec![0]
            } else {
                (0..SERVERS).collect()
            },
            ..OpCost::new(output(public, numel(shape)), Flow::LOCAL)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rows_of_docs_costs_md() {
        // Input of 10 elements: seeded 2·32 + 80, dense 3·80; 3 messages.
        assert_eq!(input(InputSharing::Seeded, 10).bytes, 144);
        assert_eq!(input(InputSharing::Dense, 10).bytes, 240);
        // Reveal of 10: 6 messages of 80 B.
        assert_eq!(
            opening(10),
            Cost {
                bytes: 480,
                messages: 6,
                rounds: 1,
                ..Cost::ZERO
            }
        );
        // A 2×3 by 3×4 matmul: triple 64 + 8(6 + 12 + 8) offline, e and f opened (6 · 8 · 18),
        // then a pair 64 + 16 · 8 and z + r opened (6 · 8 · 8).
        let c = product_private(6, 12, 8);
        assert_eq!(c.offline_bytes, 64 + 208 + 64 + 128);
        assert_eq!(c.bytes, 864 + 384);
        assert_eq!((c.messages, c.offline_messages, c.rounds), (12, 6, 2));
    }

    #[test]
    fn flows_have_the_rounds_of_their_costs() {
        assert_eq!(opening_flow().rounds(), opening(3).rounds);
        assert_eq!(
            opening_flow().then(opening_flow()).rounds(),
            product_private(2, 2, 2).rounds
        );
        // Servers at different depths: each sends at its depth + 1; the deepest (server1, at 4)
        // hears only shallower messages and stays, the others end at 5; the dealer stays.
        assert_eq!(
            opening_flow().apply(&[1, 4, 2, 0]),
            (vec![5, 4, 5, 0], Some(5))
        );
    }
}
