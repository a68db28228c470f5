//! Pond behind the protocol interface ([`crate::protocol`]): the [`Pond`] protocol object, the
//! [`Party`] impl of [`PondParty`], and the pieces tf-encrypted's SecureNN shares with it
//! (`crate::securenn::protocol` registers SecureNN as Pond with exact nonlinear layers, so the
//! seats, share layout, reconstruction and cost walk are the family's, parameterised by
//! [`Nonlinear`]).

use super::cost::{self as pond_cost, MaskCache};
use super::{Nonlinear, Placement, PondConfig, PondParty, Value, RELU, SIGMOID, TANH};
use crate::context::{Context, PartyId, RingKind};
use crate::encoded::{in_ring, sum_shares, Encoded};
use crate::error::Result;
use crate::program::Op;
use crate::protocol::{
    Approximation, CostModel, Explanation, Flaw, Held, OpCost, Operand, Party, Protocol, Remark,
    Role, Seats, Security, Settings, StepFacts, ViewFacts, ViewGrid,
};
use crate::ring::Z2k;
use crate::securenn::Variant;
use crate::tensor::Tensor;

/// Pond's seats (and SecureNN's: P0, P1 and the helper P2), in [`Seats`] order.
pub(crate) const ROLES: &[Role] = &[
    Role {
        name: "server0",
        about: "first share holder (SecureNN's P0)",
    },
    Role {
        name: "server1",
        about: "second share holder (SecureNN's P1)",
    },
    Role {
        name: "producer",
        about: "crypto producer: deals correlated randomness, sees no data (SecureNN's helper P2)",
    },
];

/// One share (of Z_2^64, or Z_2^128 with `ring_bits: 128`) at each server; the producer holds
/// none.
pub(crate) const LAYOUT: &[usize] = &[1, 1, 0];

/// The Pond seats of a [`Seats`] slice (`seats[0]`, `[1]`, `[2]`).
pub(crate) fn placement(seats: &Seats) -> Placement {
    Placement {
        server0: seats[0],
        server1: seats[1],
        producer: seats[2],
    }
}

/// The Pond configuration for `settings` and a nonlinear-layer choice.
pub(crate) fn config(settings: &Settings, nonlinear: Nonlinear) -> PondConfig {
    PondConfig {
        fixed: settings.fixed,
        truncation: settings.truncation,
        input_sharing: settings.input_sharing,
        nonlinear,
    }
}

/// ⟨x⟩₀ + ⟨x⟩₁ from the two servers' shares (in their ring), or the public value server0
/// holds.
pub(crate) fn reconstruct(seats: &Seats, held: &[Held]) -> Option<Encoded> {
    match held.get(*seats.first()?)? {
        Held::Public(v) => Some(v.clone()),
        Held::Shares(s0) => {
            let s0 = s0.first()?;
            let s1 = match held.get(*seats.get(1)?)? {
                Held::Shares(s1) => s1.first()?,
                _ => return None,
            };
            sum_shares([s0, s1])
        }
        Held::Nothing => None,
    }
}

/// Whether the family runs `op`: Pond has no exact comparison (MaxPool2d, Argmax). The text
/// before the first newline is what is missing, the rest what to use instead.
pub(crate) fn supports(nonlinear: Nonlinear, op: &Op) -> std::result::Result<(), String> {
    if let Some(r) = crate::composite::supports(op, &|p| supports(nonlinear, p)) {
        return r;
    }
    if crate::gradient::handles(op) {
        return crate::gradient::supports_pond(nonlinear, op);
    }
    if nonlinear != Nonlinear::Polynomial {
        return Ok(());
    }
    match op {
        Op::MaxPool2d { .. } => Err("Pond has no exact max pool\n\
             use AvgPool2d, or `protocol: SecureNN` (exact max pool)"
            .into()),
        Op::Argmax(_) => Err("Pond has no exact comparison for argmax\n\
             use `protocol: SecureNN`, or output the scores and take the argmax after"
            .into()),
        Op::Greater(..) => Err("Pond has no exact comparison\n\
             use `protocol: SecureNN` or `protocol: ABY3`, which compare exactly"
            .into()),
        _ => Ok(()),
    }
}

/// Whether `op` (with a private operand) truncates: products, average pooling and the
/// polynomial activations; SecureNN's ReLU is exact.
pub(crate) fn truncates(nonlinear: Nonlinear, op: &Op) -> bool {
    if let Some(t) = crate::composite::truncates(op, &|p| truncates(nonlinear, p)) {
        return t;
    }
    if crate::gradient::handles(op) {
        // The one-hot of DMaxPool is an integer: its product needs no truncation.
        // MaxPool2dWithOneHot only compares and selects.
        return !matches!(
            op,
            Op::MaxPool2dGrad { .. } | Op::MaxPool2dWithOneHot { .. }
        );
    }
    let exact_relu = matches!(op, Op::Relu(_)) && nonlinear != Nonlinear::Polynomial;
    !exact_relu
        && matches!(
            op,
            Op::Mul(..)
                | Op::Square(_)
                | Op::MatMul(..)
                | Op::Conv2d { .. }
                | Op::AvgPool2d { .. }
                | Op::Sigmoid(_)
                | Op::Tanh(_)
                | Op::Relu(_)
        )
}

/// The polynomial the family computes `op` with (SecureNN's ReLU is exact).
pub(crate) fn approximation(nonlinear: Nonlinear, op: &Op) -> Option<&'static Approximation> {
    match op {
        Op::Sigmoid(_) => Some(&SIGMOID),
        Op::Tanh(_) => Some(&TANH),
        Op::Relu(_) if nonlinear == Nonlinear::Polynomial => Some(&RELU),
        _ => None,
    }
}

/// The state name of the mask cached for value `name`.
fn mask_state(name: &str) -> String {
    format!("mask {name}")
}

/// The state name of SecureNN's pairwise keys.
const KEYS_STATE: &str = "securenn keys";

/// The family's cost walk: [`pond_cost::op_cost`] over a [`MaskCache`], with the state each op
/// relies on named for the DAG schedule (the masks of a Beaver product's private operands and of
/// a polynomial's input; SecureNN's keys for every exact nonlinear op).
pub(crate) struct Costs {
    cfg: PondConfig,
    cache: MaskCache,
}

impl Costs {
    pub(crate) fn new(cfg: PondConfig) -> Costs {
        Costs {
            cfg,
            cache: MaskCache::new(),
        }
    }
}

impl CostModel for Costs {
    fn input(&mut self, name: &str, shape: &[usize]) -> OpCost {
        self.cache.bind(name);
        let n = shape.iter().product::<usize>() as u64 * pond_cost::words(&self.cfg);
        let mut c = OpCost::new(
            pond_cost::input(self.cfg.input_sharing, n),
            crate::cost::Flow::LOCAL,
        );
        c.from_outside = vec![0, 1];
        c
    }

    fn op(
        &mut self,
        name: &str,
        op: &Op,
        operands: &[Operand<'_>],
        out_shape: &[usize],
    ) -> std::result::Result<OpCost, String> {
        if let Some(c) = crate::composite::cost(self, name, op, operands, out_shape) {
            return c;
        }
        let private = |n: &str| operands.iter().any(|o| o.name == n && !o.public);
        let exact = self.cfg.nonlinear != Nonlinear::Polynomial;
        // The state the op relies on, as `crate::pond` keeps it (the DAG schedule's edges).
        let mut state: Vec<String> = match op {
            Op::Mul(..) | Op::MatMul(..) | Op::Conv2d { .. }
                if op.operands().iter().all(|n| private(n)) =>
            {
                op.operands().iter().map(|n| mask_state(n)).collect()
            }
            Op::Conv2dGradFilters { .. } | Op::Conv2dGradInput { .. }
                if op.operands().iter().all(|n| private(n)) =>
            {
                op.operands().iter().map(|n| mask_state(n)).collect()
            }
            Op::MaxPool2dGrad { grad, input, .. } if private(input) => {
                let mut s = vec![KEYS_STATE.to_string()];
                if private(grad) {
                    s.push(mask_state(grad));
                }
                s
            }
            Op::MaxPool2dWithOneHot { input, .. } if private(input) => {
                vec![KEYS_STATE.to_string()]
            }
            Op::MaxPool2dGradOneHot { grad, pooled, .. } if private(grad) && private(pooled) => {
                vec![mask_state(grad)]
            }
            Op::Square(a) | Op::Sigmoid(a) | Op::Tanh(a) if private(a) => vec![mask_state(a)],
            Op::Relu(a) if !exact && private(a) => vec![mask_state(a)],
            _ => vec![],
        };
        if exact
            && matches!(
                op,
                Op::Relu(_) | Op::MaxPool2d { .. } | Op::Argmax(_) | Op::Greater(..)
            )
        {
            state.push(KEYS_STATE.into());
        }
        let ops: Vec<pond_cost::Operand> = operands
            .iter()
            .map(|o| pond_cost::Operand {
                name: o.name,
                shape: o.shape,
                public: o.public,
            })
            .collect();
        let c = pond_cost::op_cost(&self.cfg, &mut self.cache, name, op, &ops, out_shape)
            .map_err(|e| e.to_string())?;
        let mut out = OpCost::new(c.cost, c.flow);
        out.offline_setup = c.key_setup;
        out.state = state;
        Ok(out)
    }

    fn output(&mut self, _name: &str, public: bool, shape: &[usize]) -> OpCost {
        let n = shape.iter().product::<usize>() as u64 * pond_cost::words(&self.cfg);
        let mut c = OpCost::new(pond_cost::output(public, n), crate::cost::Flow::LOCAL);
        c.to_outside = if public { vec![0] } else { vec![0, 1] };
        c
    }
}

/// The family's explanation of a step: Pond's texts, then SecureNN's for `variant` (or the
/// variant the step name carries).
pub(crate) fn explanation(step: &str, variant: Variant) -> Option<Explanation> {
    super::explain::explanation(super::explain::base_step_name(step))
        .or_else(|| crate::securenn::explain::explanation(step, variant))
        .or_else(|| crate::composite::explain(step).map(Explanation::from_text))
        .or_else(|| crate::gradient::explain(step).map(Explanation::from_text))
}

/// A fresh party of the family, over the ring `settings.fixed.ring_bits` names: the one place
/// the share type is picked.
pub(crate) fn party(
    me: PartyId,
    seats: &Seats,
    settings: &Settings,
    nonlinear: Nonlinear,
) -> Box<dyn Party> {
    let (place, cfg) = (placement(seats), config(settings, nonlinear));
    match settings.fixed.ring_bits {
        128 => Box::new(PondParty::<u128>::new(me, place, cfg)),
        _ => Box::new(PondParty::<u64>::new(me, place, cfg)),
    }
}

/// **Pond** (Dahl et al., 2018), tf-encrypted's default protocol before ABY3: two servers with
/// 2-of-2 additive shares over Z_2^64 and a crypto producer dealing Beaver triples and
/// truncation pairs. Registered as `Pond`.
#[derive(Debug, Clone, Copy)]
pub struct Pond;

impl Protocol for Pond {
    fn name(&self) -> &'static str {
        "Pond"
    }
    fn about(&self) -> &'static str {
        "tf-encrypted's Pond (Dahl et al., 2018): server0 and server1 hold 2-of-2 additive shares \
         over Z_2^64 of fixed-point values; a crypto producer deals Beaver triples and truncation \
         pairs and never sees data. Polynomial sigmoid, tanh and ReLU; no exact comparison."
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
        supports(Nonlinear::Polynomial, op)
    }
    fn truncates(&self, op: &Op) -> bool {
        truncates(Nonlinear::Polynomial, op)
    }
    fn party(&self, me: PartyId, seats: &Seats, settings: &Settings) -> Box<dyn Party> {
        party(me, seats, settings, Nonlinear::Polynomial)
    }
    fn reconstruct(&self, seats: &Seats, held: &[Held]) -> Option<Encoded> {
        reconstruct(seats, held)
    }
    /// Pond runs over Z_2^64 and Z_2^128 alike: every setting is fine.
    fn check_settings(&self, _settings: &Settings) -> std::result::Result<(), String> {
        Ok(())
    }
    fn cost_model(&self, settings: &Settings) -> Box<dyn CostModel> {
        Box::new(Costs::new(config(settings, Nonlinear::Polynomial)))
    }
    fn explain(&self, step: &str) -> Option<&'static str> {
        self.explanation(step).map(|e| e.computes)
    }
    fn explanation(&self, step: &str) -> Option<Explanation> {
        explanation(step, Variant::Secure)
    }
    fn remarks(&self, step: &StepFacts<'_>) -> Vec<Remark> {
        super::explain::remarks(step)
    }
    fn view_note(&self, item: &ViewFacts<'_>) -> Option<Remark> {
        crate::securenn::view_notes::note(item, Variant::Secure)
    }
    fn view_grid(&self, item: &ViewFacts<'_>, values: &[u64], cols: usize) -> ViewGrid {
        crate::securenn::view_notes::grid(item, values, cols, Variant::Secure)
    }
    fn approximation(&self, op: &Op) -> Option<&'static Approximation> {
        approximation(Nonlinear::Polynomial, op)
    }
}

impl<R: Z2k> Party for PondParty<R> {
    fn set_public(&mut self, name: &str, value: Encoded) -> Result<()> {
        let v = in_ring::<R>(name, &value)?.clone();
        PondParty::set_public_in(self, name, v);
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
        PondParty::share_input(self, ctx, name, owner, shape, value)
    }
    fn run_op(&mut self, ctx: &mut dyn Context, name: &str, op: &Op) -> Result<()> {
        PondParty::run_op(self, ctx, name, op)
    }
    fn reveal_to(
        &mut self,
        ctx: &mut dyn Context,
        name: &str,
        receiver: PartyId,
    ) -> Result<Option<Encoded>> {
        Ok(PondParty::reveal_to(self, ctx, name, receiver)?.map(R::wrap))
    }
    fn held(&self, name: &str) -> Held {
        match self.value(name) {
            Some(Value::Private { share: Some(s), .. }) => Held::Shares(vec![R::wrap(s.clone())]),
            Some(Value::Public { value: Some(v), .. }) => Held::Public(R::wrap(v.clone())),
            _ => Held::Nothing,
        }
    }
    fn take_held(&mut self, name: &str) -> Held {
        match self.take_value(name) {
            Some(Value::Private { share: Some(s), .. }) => Held::Shares(vec![R::wrap(s)]),
            Some(Value::Public { value: Some(v), .. }) => Held::Public(R::wrap(v)),
            _ => Held::Nothing,
        }
    }
    fn with_held(&mut self, name: &str, f: &mut dyn FnMut(&Held)) {
        // The tensor is moved into the `Held` and back (no copy); the mask cache is untouched.
        let public = matches!(self.values.get(name), Some(Value::Public { .. }));
        let Some(Value::Private { share: Some(s), .. } | Value::Public { value: Some(s), .. }) =
            self.values.get_mut(name)
        else {
            return f(&Held::Nothing);
        };
        let t = std::mem::replace(s, Tensor::from_elem(ndarray::IxDyn(&[0]), R::default()));
        let wrapped = R::wrap(t);
        let held = if public {
            Held::Public(wrapped)
        } else {
            Held::Shares(vec![wrapped])
        };
        f(&held);
        let back = match held {
            Held::Public(e) => Some(e),
            Held::Shares(mut v) => v.pop(),
            Held::Nothing => None,
        };
        if let (
            Some(t),
            Some(Value::Private { share: Some(s), .. } | Value::Public { value: Some(s), .. }),
        ) = (back.and_then(unwrap_owned::<R>), self.values.get_mut(name))
        {
            *s = t;
        }
    }
    fn forget(&mut self, name: &str) {
        self.take_value(name);
    }
    fn last_use(&mut self, names: &[String]) {
        self.last_use = names.to_vec();
    }
    fn set_held(&mut self, name: &str, shape: &[usize], held: Held) -> Result<()> {
        let shape = shape.to_vec();
        let v = match held {
            Held::Nothing => Value::Private { share: None, shape },
            Held::Shares(s) => {
                let share = s.first().ok_or_else(|| {
                    crate::error::ProtocolError::Missing(format!("no share of `{name}`"))
                })?;
                Value::Private {
                    share: Some(in_ring::<R>(name, share)?.clone()),
                    shape,
                }
            }
            Held::Public(v) => Value::Public {
                value: Some(in_ring::<R>(name, &v)?.clone()),
                shape,
            },
        };
        self.set(name, v);
        Ok(())
    }
    fn live_values(&self) -> Option<usize> {
        Some(self.live_values())
    }
    fn plant(&mut self, flaw: Flaw, on: bool) {
        match flaw {
            Flaw::ReuseMask => self.plant_mask_reuse(on),
        }
    }
}

/// The tensor of `e` if it is in ring `R`, moved out (`Party::with_held` puts a lent tensor
/// back this way).
fn unwrap_owned<R: Z2k>(e: Encoded) -> Option<Tensor<R>> {
    let any: Box<dyn std::any::Any> = match e {
        Encoded::Z64(t) => Box::new(t),
        Encoded::Z128(t) => Box::new(t),
    };
    any.downcast::<Tensor<R>>().ok().map(|t| *t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::registry;

    fn t(v: &[u64]) -> Encoded {
        crate::tensor::Tensor::from_shape_vec(ndarray::IxDyn(&[v.len()]), v.to_vec())
            .unwrap()
            .into()
    }

    #[test]
    fn reconstruction_adds_the_two_servers_shares_or_takes_the_public_value() {
        let seats = [3, 1, 0];
        let mut held = vec![Held::Nothing; 5];
        held[3] = Held::Shares(vec![t(&[5, u64::MAX])]);
        held[1] = Held::Shares(vec![t(&[7, 3])]);
        assert_eq!(Pond.reconstruct(&seats, &held), Some(t(&[12, 2])));
        // A missing share, or shares of different shapes, reconstruct nothing.
        held[1] = Held::Nothing;
        assert_eq!(Pond.reconstruct(&seats, &held), None);
        held[1] = Held::Shares(vec![t(&[1])]);
        assert_eq!(Pond.reconstruct(&seats, &held), None);
        held[3] = Held::Public(t(&[9]));
        assert_eq!(Pond.reconstruct(&seats, &held), Some(t(&[9])));
    }

    #[test]
    fn the_family_differs_only_where_securenn_is_exact() {
        let relu = Op::Relu("x".into());
        let pool = Op::MaxPool2d {
            input: "x".into(),
            kernel: 2,
            stride: None,
        };
        assert!(Pond.truncates(&relu) && Pond.approximation(&relu).is_some());
        let err = Pond.supports(&pool).unwrap_err();
        assert!(err.starts_with("Pond has no exact max pool\n"), "{err}");
        for p in &registry()[1..4] {
            assert!(
                !p.truncates(&relu) && p.approximation(&relu).is_none(),
                "{}",
                p.name()
            );
            assert!(p.supports(&pool).is_ok());
            assert_eq!(p.roles(), Pond.roles());
            assert!(p.probe().is_some());
        }
        assert_eq!(registry()[0].name(), "Pond");
        assert!(Pond.insecurity().is_none() && registry()[2].insecurity().is_some());
    }

    #[test]
    fn the_cost_model_names_the_state_an_op_relies_on() {
        let settings = Settings::default();
        let mut m = Pond.cost_model(&settings);
        let s = [2usize, 2];
        let x = Operand {
            name: "x",
            shape: &s,
            public: false,
        };
        let input = m.input("x", &s);
        assert_eq!(input.from_outside, vec![0, 1]);
        let sq = m.op("y", &Op::Square("x".into()), &[x], &s).unwrap();
        assert_eq!(sq.state, vec!["mask x".to_string()]);
        assert_eq!(
            sq.cost,
            pond_cost::product_private(4, 4, settings.truncation)
        );
        let out = m.output("y", false, &s);
        assert_eq!(out.to_outside, vec![0, 1]);
        let mut exact = crate::securenn::SECURENN.cost_model(&settings);
        let r = exact.op("r", &Op::Relu("x".into()), &[x], &s).unwrap();
        assert!(r.offline_setup && r.state == vec![KEYS_STATE.to_string()]);
        let again = exact.op("r2", &Op::Relu("x".into()), &[x], &s).unwrap();
        assert!(!again.offline_setup);
    }

    #[test]
    fn an_explanation_from_one_paragraph() {
        let e = Explanation::from_text("Share x. Each party adds its share.");
        assert_eq!(
            (e.title, e.computes),
            ("Share x", "Each party adds its share.")
        );
        assert_eq!(Explanation::from_text("Local.").title, "Local");
    }
}
