//! ABY3 behind the protocol interface ([`crate::protocol`]): the [`Aby3`] protocol object and the
//! [`Party`] impl of [`Aby3Party`].

use super::cost::Aby3Costs;
use super::rep::next;
use super::{explain, Aby3Party, Value};
use crate::context::{Context, PartyId, RingKind};
use crate::encoded::{in_ring, Encoded};
use crate::error::Result;
use crate::fixed::{Hazard, MIN_STATISTICAL_SECURITY};
use crate::pond::Truncation;
use crate::pond::{Approximation, SIGMOID, TANH};
use crate::program::Op;
use crate::protocol::{
    CostModel, Held, Party, Protocol, Remark, Role, Seats, Security, Settings, SigmoidMethod,
    StepFacts, ViewFacts,
};
use crate::ring::Z2k;
use crate::tensor::Tensor;

/// ABY3's seats, in [`Seats`] order.
pub(crate) const ROLES: &[Role] = &[
    Role {
        name: "server0",
        about: "ABY3 server 0: holds the pair (x0, x1) of every private value",
    },
    Role {
        name: "server1",
        about: "ABY3 server 1: holds the pair (x1, x2) of every private value",
    },
    Role {
        name: "server2",
        about: "ABY3 server 2: holds the pair (x2, x0) of every private value",
    },
];

/// Two shares at each server (of Z_2^64, or Z_2^128 with `ring_bits: 128`).
pub(crate) const LAYOUT: &[usize] = &[2, 2, 2];

/// **ABY3** (Mohassel & Rindal, CCS 2018), tf-encrypted's default protocol since its TF2 port:
/// three servers with 2-out-of-3 replicated sharing over Z_2^64 (the arithmetic part also over
/// Z_2^128). Registered as `ABY3`.
#[derive(Debug, Clone, Copy)]
pub struct Aby3;

/// The polynomial ABY3 computes `op` with, if any (sigmoid and tanh: Pond's approximations).
pub fn approximation(op: &Op) -> Option<&'static Approximation> {
    match op {
        Op::Sigmoid(_) => Some(&SIGMOID),
        Op::Tanh(_) => Some(&TANH),
        _ => None,
    }
}

/// x_0 + x_1 + x_2 from the servers' pairs, after checking they are consistent: server i's `hi`
/// must equal server i+1's `lo` wherever both are held. Works from all three servers or from
/// any two (two adjacent servers hold all three components); a public value is returned as
/// server0 (or any server) holds it. `None` if too little is held or the pairs disagree.
pub fn reconstruct(seats: &Seats, held: &[Held]) -> Option<Encoded> {
    if seats.len() < 3 {
        return None;
    }
    let at = |k: usize| held.get(seats[k]);
    if let Some(v) = (0..3).find_map(|k| match at(k) {
        Some(Held::Public(v)) => Some(v.clone()),
        _ => None,
    }) {
        return Some(v);
    }
    // The ring is the shares' own (Z_2^64, or Z_2^128 with `ring_bits: 128`).
    let kind = (0..3).find_map(|k| match at(k) {
        Some(Held::Shares(s)) => s.first().map(Encoded::kind),
        _ => None,
    })?;
    match kind {
        RingKind::Z128 => reconstruct_in::<u128>(seats, held).map(Encoded::Z128),
        _ => reconstruct_in::<u64>(seats, held).map(Encoded::Z64),
    }
}

/// [`reconstruct`] of shares over the ring `R`.
fn reconstruct_in<R: Z2k>(seats: &Seats, held: &[Held]) -> Option<Tensor<R>> {
    let at = |k: usize| held.get(seats[k]);
    let pairs: Vec<Option<(&Tensor<R>, &Tensor<R>)>> = (0..3)
        .map(|k| match at(k) {
            Some(Held::Shares(s)) if s.len() == 2 && s[0].shape() == s[1].shape() => {
                Some((s[0].as_ring::<R>()?, s[1].as_ring::<R>()?))
            }
            _ => None,
        })
        .collect();
    let shape = pairs.iter().flatten().next()?.0.shape().to_vec();
    if pairs
        .iter()
        .flatten()
        .any(|p| p.0.shape() != shape.as_slice())
    {
        return None;
    }
    // Consistency: server i's hi = server i+1's lo.
    for i in 0..3 {
        if let (Some(a), Some(b)) = (pairs[i], pairs[next(i)]) {
            if a.1 != b.0 {
                return None;
            }
        }
    }
    // Component j: server j's lo or server j−1's hi.
    let comp = |j: usize| -> Option<&Tensor<R>> {
        pairs[j]
            .map(|p| p.0)
            .or_else(|| pairs[(j + 2) % 3].map(|p| p.1))
    };
    let (c0, c1, c2) = (comp(0)?, comp(1)?, comp(2)?);
    let mut sum = c0.clone();
    ndarray::Zip::from(&mut sum)
        .and(c1)
        .and(c2)
        .for_each(|s, &b, &c| *s = s.add(b).add(c));
    Some(sum)
}

/// Whether ABY3 runs `op` now. The text before the first newline is what is missing, the rest
/// what to use instead.
pub fn supports(op: &Op) -> std::result::Result<(), String> {
    // Every program op: linear ops locally, products with resharing, ReLU / MaxPool2d / Argmax
    // with the boolean circuits (`nonlinear`); the gradient ops as `crate::gradient` says.
    if crate::gradient::handles(op) {
        return crate::gradient::supports_aby3(op);
    }
    Ok(())
}

/// Whether `op` with a private operand truncates a fixed-point product.
pub fn truncates(op: &Op) -> bool {
    if let Some(t) = crate::composite::truncates(op, &truncates) {
        return t;
    }
    matches!(
        op,
        Op::Mul(..)
            | Op::Square(_)
            | Op::MatMul(..)
            | Op::Conv2d { .. }
            | Op::AvgPool2d { .. }
            | Op::Sigmoid(_)
            | Op::Tanh(_)
            | Op::Conv2dGradFilters { .. }
            | Op::Conv2dGradInput { .. }
            | Op::AvgPool2dGrad { .. }
            | Op::MaxPool2dGradOneHot { .. }
    )
}

impl Protocol for Aby3 {
    fn name(&self) -> &'static str {
        "ABY3"
    }
    fn about(&self) -> &'static str {
        "ABY3 (Mohassel & Rindal, CCS 2018) as tf-encrypted runs it: three servers hold a \
         2-out-of-3 replicated sharing over Z_2^64 (server i holds x_i and x_{i+1}); zero-sharings \
         from pairwise PRF keys set up once, so no dealer; products with one round of resharing; \
         truncation by Π_trunc1 (local, SecureML-style) or Π_trunc2 (with a (r, r/2^d) pair). \
         Semi-honest, honest majority."
    }
    fn security(&self) -> Security {
        Security::SemiHonest { corrupt: 1 }
    }
    fn roles(&self) -> &'static [Role] {
        ROLES
    }
    fn share_layout(&self) -> (RingKind, &'static [usize]) {
        (RingKind::Z64, LAYOUT)
    }
    fn supports(&self, op: &Op) -> std::result::Result<(), String> {
        supports(op)
    }
    fn truncates(&self, op: &Op) -> bool {
        truncates(op)
    }
    /// The one place the arithmetic ring is picked: `Aby3Party<u128>` at `ring_bits: 128`.
    fn party(&self, me: PartyId, seats: &Seats, settings: &Settings) -> Box<dyn Party> {
        match settings.fixed.ring_bits {
            128 => Box::new(Aby3Party::<u128>::new(me, seats, settings)),
            _ => Box::new(Aby3Party::<u64>::new(me, seats, settings)),
        }
    }
    fn supports_under(&self, op: &Op, settings: &Settings) -> std::result::Result<(), String> {
        supports(op)?;
        super::supports_wide(op, settings.fixed.ring_bits)
    }
    /// ABY3's arithmetic part runs over Z_2^128 too; its boolean part (and so the piecewise
    /// sigmoid) over Z_2^64 only.
    fn check_settings(&self, settings: &Settings) -> std::result::Result<(), String> {
        if settings.fixed.ring_bits != 64 && settings.sigmoid == SigmoidMethod::Piecewise {
            return Err(format!(
                "ABY3's piecewise sigmoid needs its boolean part, which runs over Z_2^64 only, \
                 not ring_bits: {}\n\
                 use `sigmoid: Polynomial` at 128 bits, or ring_bits: 64",
                settings.fixed.ring_bits
            ));
        }
        Ok(())
    }
    fn reconstruct(&self, seats: &Seats, held: &[Held]) -> Option<Encoded> {
        reconstruct(seats, held)
    }
    fn cost_model(&self, settings: &Settings) -> Box<dyn CostModel> {
        Box::new(Aby3Costs::new(settings))
    }
    fn explain(&self, step: &str) -> Option<&'static str> {
        explain::explain(step)
            .or_else(|| super::nonlinear::explain(step))
            .or_else(|| super::dmaxpool::explain(step))
            .or_else(|| crate::composite::explain(step))
            .or_else(|| crate::gradient::explain(step))
    }
    fn remarks(&self, step: &StepFacts<'_>) -> Vec<Remark> {
        explain::remarks(step)
    }
    fn view_note(&self, item: &ViewFacts<'_>) -> Option<Remark> {
        explain::view_note(item)
    }
    fn approximation(&self, op: &Op) -> Option<&'static Approximation> {
        approximation(op)
    }
    fn approximation_under(&self, op: &Op, settings: &Settings) -> Option<&'static Approximation> {
        // The piecewise-linear sigmoid has no range: every input lands on one of its pieces.
        match op {
            Op::Sigmoid(_) if settings.sigmoid == SigmoidMethod::Piecewise => None,
            _ => approximation(op),
        }
    }
    fn sigmoids(&self) -> &'static [SigmoidMethod] {
        &[SigmoidMethod::Polynomial, SigmoidMethod::Piecewise]
    }
    fn statistical_security(&self, settings: &Settings) -> Option<u32> {
        (settings.truncation == Truncation::Dealer)
            .then(|| super::truncate::statistical_security(&settings.fixed))
    }
    fn statistical_security_text(&self, settings: &Settings) -> String {
        let cfg = &settings.fixed;
        let sigma = super::truncate::statistical_security(cfg);
        let verdict = if sigma < MIN_STATISTICAL_SECURITY {
            "below"
        } else {
            "at least"
        };
        format!(
            "ABY3's Π_trunc2 with int_bits {}, frac_bits {} has {sigma} bits of statistical \
             security (an opened value leaks with advantage up to 2^-{sigma} per element), \
             {verdict} the minimum of {MIN_STATISTICAL_SECURITY}",
            cfg.int_bits, cfg.frac_bits
        )
    }
    fn truncation_label(&self, _settings: &Settings) -> &'static str {
        "Π_trunc2"
    }
    fn check_truncation(&self, settings: &Settings) -> std::result::Result<(), String> {
        match settings.truncation {
            Truncation::Dealer => super::truncate::check_trunc2(&settings.fixed),
            Truncation::Local => Ok(()),
        }
    }
    fn truncation_hazards(
        &self,
        settings: &Settings,
        pre_truncation: f64,
        elements: u64,
    ) -> Vec<Hazard> {
        super::truncate::hazards(
            &settings.fixed,
            settings.truncation,
            pre_truncation,
            elements,
        )
    }
    fn share_name(&self, seat: usize, k: usize) -> Option<String> {
        (seat < 3 && k < 2).then(|| format!("x{}", (seat + k) % 3))
    }
}

impl<R: Z2k> Party for Aby3Party<R> {
    fn set_public(&mut self, name: &str, value: Encoded) -> Result<()> {
        let v = in_ring::<R>(name, &value)?.clone();
        Aby3Party::set_public(self, name, v);
        Ok(())
    }
    fn share_input(
        &mut self,
        ctx: &mut dyn Context,
        name: &str,
        owner: PartyId,
        shape: &[usize],
        value: Option<&Encoded>,
    ) -> Result<()> {
        let value = value.map(|v| in_ring::<R>(name, v)).transpose()?;
        Aby3Party::share_input(self, ctx, name, owner, shape, value)
    }
    fn run_op(&mut self, ctx: &mut dyn Context, name: &str, op: &Op) -> Result<()> {
        Aby3Party::run_op(self, ctx, name, op)
    }
    fn reveal_to(
        &mut self,
        ctx: &mut dyn Context,
        name: &str,
        receiver: PartyId,
    ) -> Result<Option<Encoded>> {
        Ok(Aby3Party::reveal_to(self, ctx, name, receiver)?.map(R::wrap))
    }
    fn held(&self, name: &str) -> Held {
        match self.value(name) {
            Some(Value::Private { share: Some(r), .. }) => {
                Held::Shares(vec![R::wrap(r.lo.clone()), R::wrap(r.hi.clone())])
            }
            Some(Value::Public { value: Some(v), .. }) => Held::Public(R::wrap(v.clone())),
            _ => Held::Nothing,
        }
    }
    fn forget(&mut self, name: &str) {
        self.values.remove(name);
    }
    fn set_held(&mut self, name: &str, shape: &[usize], held: Held) -> Result<()> {
        let shape = shape.to_vec();
        let v = match held {
            Held::Nothing => Value::Private { share: None, shape },
            Held::Shares(s) if s.len() == 2 => Value::Private {
                share: Some(super::rep::Rep {
                    lo: in_ring::<R>(name, &s[0])?.clone(),
                    hi: in_ring::<R>(name, &s[1])?.clone(),
                }),
                shape,
            },
            Held::Shares(s) => {
                return Err(crate::error::ProtocolError::Missing(format!(
                    "`{name}`: an ABY3 server holds two shares, not {}",
                    s.len()
                )))
            }
            Held::Public(v) => Value::Public {
                value: Some(in_ring::<R>(name, &v)?.clone()),
                shape,
            },
        };
        self.values.insert(name.to_string(), v);
        Ok(())
    }
    fn live_values(&self) -> Option<usize> {
        Some(self.values.len())
    }
}
