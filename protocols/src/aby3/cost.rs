//! ABY3's costs as `docs/costs.md` states them (the ABY3 section): one function per row, their
//! flows (who sends to whom, for the rounds), and [`Aby3Costs`], the
//! [`CostModel`](crate::protocol::CostModel) a plan is walked with. n is the number of elements
//! of the op's result (of the input, for input sharing and outputs). Seats: 0, 1, 2 = server0..2.
//!
//! `protocols/tests/aby3.rs` runs every op on many shapes and asserts a run's accounting equals
//! these exactly.

use super::activation::{computes_power, degree, polynomial_products};
use crate::cost::{Cost, Flow, ELEMENT, SEED};
use crate::pond::{Approximation, InputSharing, Truncation, SIGMOID, TANH};
use crate::program::Op;
use crate::protocol::{CostModel, OpCost, Operand, Settings};

/// The state name of the pairwise keys (the DAG schedule's edge from the op that sets them up).
pub const KEYS_STATE: &str = "aby3 keys";

fn online(bytes: u64, messages: u64, rounds: u32) -> Cost {
    Cost {
        bytes,
        messages,
        rounds,
        ..Cost::ZERO
    }
}

// ---- The rows of docs/costs.md (ABY3) ---------------------------------------------------------

/// Key setup, once per run, at the first op that needs randomness: each server sends its key to
/// the previous one. 3 offline messages, 96 B; no online round.
pub fn key_setup() -> Cost {
    Cost {
        offline_bytes: 3 * SEED,
        offline_messages: 3,
        ..Cost::ZERO
    }
}

/// Input sharing, seeded: t → server0, (s_1, x_2) → server1, (s_0, x_2) → server2.
pub fn input_seeded(n: u64) -> Cost {
    online(3 * SEED + 2 * ELEMENT * n, 3, 1)
}

/// Input sharing, dense: each server gets both its components.
pub fn input_dense(n: u64) -> Cost {
    online(6 * ELEMENT * n, 3, 1)
}

/// Input sharing with the configured method.
pub fn input(sharing: InputSharing, n: u64) -> Cost {
    match sharing {
        InputSharing::Seeded => input_seeded(n),
        InputSharing::Dense => input_dense(n),
    }
}

/// Opening to the three servers (`reveal`): server i sends x_{i+1} to server i − 1.
pub fn open(n: u64) -> Cost {
    online(3 * ELEMENT * n, 3, 1)
}

/// Output of a private value to a receiver: each server sends its x_i.
pub fn output_private(n: u64) -> Cost {
    online(3 * ELEMENT * n, 3, 1)
}

/// Output of a public value to a receiver: server0 sends it.
pub fn output_public(n: u64) -> Cost {
    online(ELEMENT * n, 1, 1)
}

/// A product without truncation (`aby3::product::product`): z_i + α_i to server i − 1.
pub fn reshare(n: u64) -> Cost {
    online(3 * ELEMENT * n, 3, 1)
}

/// A private × private product fused with its truncation: Π_trunc1 3n elements in 2 rounds,
/// Π_trunc2 4n elements in 1 round.
pub fn product_truncated(t: Truncation, n: u64) -> Cost {
    match t {
        Truncation::Local => online(3 * ELEMENT * n, 3, 2),
        Truncation::Dealer => online(4 * ELEMENT * n, 4, 1),
    }
}

/// A stand-alone truncation of a replicated sharing (after a product with a public operand,
/// average pooling, a polynomial's weighted sum): Π_trunc1 one message of n elements, Π_trunc2
/// two (server0 and server2 exchange the component each lacks).
pub fn truncation(t: Truncation, n: u64) -> Cost {
    match t {
        Truncation::Local => online(ELEMENT * n, 1, 1),
        Truncation::Dealer => online(2 * ELEMENT * n, 2, 1),
    }
}

/// A polynomial activation on a private value: P products fused with their truncations, then
/// one stand-alone truncation of the weighted sum. (Bytes and messages; the rounds here are the
/// rows' sum, an upper bound: [`op_cost`] takes the exact rounds from [`polynomial_flow`].)
pub fn polynomial(approx: &Approximation, t: Truncation, n: u64) -> Cost {
    product_truncated(t, n)
        .times(polynomial_products(approx) as u64)
        .then(truncation(t, n))
}

// ---- Flows -------------------------------------------------------------------------------------

/// Every server i sends one message to server i − 1 (an opening, a reshare).
pub fn ring_flow() -> Flow {
    Flow::send(0, &[2])
        .beside(Flow::send(1, &[0]))
        .beside(Flow::send(2, &[1]))
}

/// A fused product and truncation.
pub fn product_truncated_flow(t: Truncation) -> Flow {
    match t {
        // server2 → server1 (2-of-2), then server0 → server2 and server1 → server0.
        Truncation::Local => {
            Flow::send(2, &[1]).then(Flow::send(0, &[2]).beside(Flow::send(1, &[0])))
        }
        // server1 → server0, server2; server0 → server2; server2 → server0.
        Truncation::Dealer => Flow::send(1, &[0, 2])
            .beside(Flow::send(0, &[2]))
            .beside(Flow::send(2, &[0])),
    }
}

/// A stand-alone truncation.
pub fn truncation_flow(t: Truncation) -> Flow {
    match t {
        Truncation::Local => Flow::send(1, &[0]),
        Truncation::Dealer => Flow::send(0, &[2]).beside(Flow::send(2, &[0])),
    }
}

/// A polynomial: its products in sequence, then the stand-alone truncation.
pub fn polynomial_flow(approx: &Approximation, t: Truncation) -> Flow {
    let mut f = Flow::LOCAL;
    for _ in (2..=degree(approx)).filter(|&k| computes_power(approx, k)) {
        f = f.then(product_truncated_flow(t));
    }
    f.then(truncation_flow(t))
}

// ---- Program ops -------------------------------------------------------------------------------

/// The cost, flow and whether it needs the pairwise keys, of program op `op` whose result has
/// `n` elements, from which of its operands are private.
pub fn op_cost(
    t: Truncation,
    op: &Op,
    private: &[bool],
    n: u64,
) -> std::result::Result<(Cost, Flow, bool), String> {
    let any = private.iter().any(|&p| p);
    let all = !private.is_empty() && private.iter().all(|&p| p);
    let local = (Cost::ZERO, Flow::LOCAL, false);
    let (mut cost, flow, keys) = match op {
        Op::Add(..)
        | Op::Sub(..)
        | Op::Neg(_)
        | Op::ReduceSum { .. }
        | Op::Transpose(_)
        | Op::Reshape { .. }
        | Op::Flatten(_)
        | Op::Slice { .. }
        | Op::Pad { .. } => local,
        _ if !any => local,
        Op::Reveal(_) => (open(n), ring_flow(), false),
        Op::Square(_) => (product_truncated(t, n), product_truncated_flow(t), true),
        Op::Mul(..)
        | Op::MatMul(..)
        | Op::Conv2d { .. }
        | Op::Conv2dGradFilters { .. }
        | Op::Conv2dGradInput { .. }
            if all =>
        {
            (product_truncated(t, n), product_truncated_flow(t), true)
        }
        Op::Mul(..)
        | Op::MatMul(..)
        | Op::Conv2d { .. }
        | Op::AvgPool2d { .. }
        | Op::Conv2dGradFilters { .. }
        | Op::Conv2dGradInput { .. }
        | Op::AvgPool2dGrad { .. } => (truncation(t, n), truncation_flow(t), true),
        Op::MaxPool2dGradOneHot { .. } => {
            return Err(
                "maxpool2d_grad_onehot needs its operands' shapes: `Aby3Costs::op` costs it".into(),
            )
        }
        Op::Sigmoid(_) => (
            polynomial(&SIGMOID, t, n),
            polynomial_flow(&SIGMOID, t),
            true,
        ),
        Op::Tanh(_) => (polynomial(&TANH, t, n), polynomial_flow(&TANH, t), true),
        Op::Relu(_) | Op::MaxPool2d { .. } | Op::Argmax(_) | Op::Greater(..) => {
            return Err(format!(
                "{} needs its operand's shape: `Aby3Costs::op` costs it",
                op.kind()
            ))
        }
        other => {
            return Err(format!(
                "{} is a composite op: `crate::composite::cost` costs it",
                other.kind()
            ))
        }
    };
    // Rounds are the causal depth of the op's messages from its start: consecutive products
    // overlap (a server that heard nothing in one sends early in the next), so take them from the
    // flow rather than adding the rows' rounds.
    cost.rounds = flow.rounds();
    Ok((cost, flow, keys))
}

/// ABY3's [`CostModel`]: [`op_cost`] per op, plus the key setup at the first op that needs keys.
#[derive(Debug, Clone)]
pub struct Aby3Costs {
    settings: Settings,
    keys: bool,
}

/// Machine words (of 8 bytes) per ring element: 1 at Z_2^64, 2 at Z_2^128. Every arithmetic
/// row is `ELEMENT · n` bytes plus seeds, so a row at Z_2^128 is the row at `words · n` elements
/// (16 B each); seeds, keys, messages and rounds do not change.
pub fn words(settings: &Settings) -> u64 {
    if settings.fixed.ring_bits == 128 {
        2
    } else {
        1
    }
}

impl Aby3Costs {
    /// A fresh walk (no keys yet).
    pub fn new(settings: &Settings) -> Self {
        Aby3Costs {
            settings: *settings,
            keys: false,
        }
    }

    /// Whether an op so far set the keys up.
    pub fn keys_ready(&self) -> bool {
        self.keys
    }

    /// Adds the key setup to `c` if the keys are not set up yet, and names the keys' state: the
    /// coordinator's hook for the boolean ops (every one needs keys).
    pub fn with_keys(&mut self, mut c: OpCost) -> OpCost {
        if !self.keys {
            self.keys = true;
            c.cost = c.cost.then(key_setup());
            c.offline_setup = true;
        }
        c.state.push(KEYS_STATE.into());
        c
    }
}

impl CostModel for Aby3Costs {
    fn input(&mut self, _name: &str, shape: &[usize]) -> OpCost {
        let n = shape.iter().product::<usize>() as u64 * words(&self.settings);
        let mut c = OpCost::new(input(self.settings.input_sharing, n), Flow::LOCAL);
        c.from_outside = vec![0, 1, 2];
        c
    }

    fn op(
        &mut self,
        _name: &str,
        op: &Op,
        operands: &[Operand<'_>],
        out_shape: &[usize],
    ) -> std::result::Result<OpCost, String> {
        if let Some(c) = crate::composite::cost(self, _name, op, operands, out_shape) {
            return c;
        }
        let private: Vec<bool> = op
            .operands()
            .iter()
            .map(|n| operands.iter().any(|o| o.name == *n && !o.public))
            .collect();
        let n = out_shape.iter().product::<usize>() as u64;
        let any_private = private.iter().any(|&p| p);
        // The exact nonlinear ops (`boolean_cost`): their rounds come from their flows.
        let exact = match op {
            Op::Relu(_) if any_private => Some(crate::aby3::boolean_cost::relu(n)),
            Op::MaxPool2d { kernel, .. } if any_private => Some(
                crate::aby3::boolean_cost::maxpool2d((kernel * kernel) as u64, n),
            ),
            Op::Argmax(_) if any_private => {
                let k = operands
                    .first()
                    .and_then(|o| o.shape.last())
                    .copied()
                    .unwrap_or(1) as u64;
                Some(crate::aby3::boolean_cost::argmax(k, n))
            }
            Op::Greater(..) if any_private => Some(
                crate::aby3::boolean_cost::drelu(n).then(crate::aby3::boolean_cost::b2a_bit(n)),
            ),
            Op::MaxPool2dGrad { kernel, grad, .. } if private[1] => {
                let m = operands
                    .iter()
                    .find(|o| o.name == grad.as_str())
                    .map(|o| o.shape.iter().product::<usize>())
                    .unwrap_or(1);
                Some(crate::aby3::dmaxpool::maxpool2d_grad(
                    kernel * kernel,
                    m,
                    true,
                    private[0],
                ))
            }
            Op::MaxPool2dWithOneHot { kernel, .. } if any_private => {
                let k = kernel * kernel;
                let m = n as usize / (1 + k);
                let tree = crate::aby3::dmaxpool::price(k, m, true);
                // A 1×1 window: no tree, one reshare of the one-hot (fresh shares).
                Some(if k == 1 {
                    tree.then(crate::aby3::boolean_cost::reshare(m as u64))
                } else {
                    tree
                })
            }
            Op::Relu(_)
            | Op::MaxPool2d { .. }
            | Op::Argmax(_)
            | Op::Greater(..)
            | Op::MaxPool2dGrad { .. }
            | Op::MaxPool2dWithOneHot { .. } => return Ok(OpCost::new(Cost::ZERO, Flow::LOCAL)),
            _ => None,
        };
        if let Some(price) = exact {
            return Ok(self.with_keys(price.op_cost()));
        }
        if matches!(op, Op::Sigmoid(_))
            && any_private
            && self.settings.sigmoid == crate::protocol::SigmoidMethod::Piecewise
        {
            let t = self.settings.truncation;
            let price = crate::aby3::boolean_cost::sigmoid_piecewise(
                n,
                crate::aby3::boolean_cost::Price::from_cost(truncation(t, n), truncation_flow(t)),
            );
            return Ok(self.with_keys(price.op_cost()));
        }
        let wide = n * words(&self.settings);
        if let Op::MaxPool2dGradOneHot { kernel, grad, .. } = op {
            // One-hot · dY without truncation (k·m, both private), then T(n) after the routing.
            if !any_private {
                return Ok(OpCost::new(Cost::ZERO, Flow::LOCAL));
            }
            let t = self.settings.truncation;
            let m = operands
                .iter()
                .find(|o| o.name == grad.as_str())
                .map(|o| o.shape.iter().product::<usize>())
                .unwrap_or(1) as u64;
            let km = (kernel * kernel) as u64 * m * words(&self.settings);
            let product = if private.iter().all(|&p| p) {
                crate::aby3::boolean_cost::reshare(km)
            } else {
                crate::aby3::boolean_cost::Price::LOCAL
            };
            let price = product.then(crate::aby3::boolean_cost::Price::from_cost(
                truncation(t, wide),
                truncation_flow(t),
            ));
            return Ok(self.with_keys(price.op_cost()));
        }
        let (cost, flow, keys) = op_cost(self.settings.truncation, op, &private, wide)?;
        let c = OpCost::new(cost, flow);
        Ok(if keys { self.with_keys(c) } else { c })
    }

    fn output(&mut self, _name: &str, public: bool, shape: &[usize]) -> OpCost {
        let n = shape.iter().product::<usize>() as u64 * words(&self.settings);
        if public {
            let mut c = OpCost::new(output_public(n), Flow::LOCAL);
            c.to_outside = vec![0];
            c
        } else {
            let mut c = OpCost::new(output_private(n), Flow::LOCAL);
            c.to_outside = vec![0, 1, 2];
            c
        }
    }
}
