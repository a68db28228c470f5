//! **Additive**: n-party additive secret sharing over Z_2^64 with a trusted dealer, for n = 3
//! servers — the smallest real protocol behind [`crate::protocol::Protocol`], and the worked
//! example of `docs/new-protocol.md`.
//!
//! A secret x is held as x = x₀ + x₁ + x₂ mod 2^64, server i holding xᵢ. Any two shares are
//! uniform and independent of x, so any two servers together learn nothing; the dealer holds no
//! shares at all, only the correlated randomness it deals (Beaver triples and truncation pairs),
//! which it draws before it sees anything. Semi-honest; the dealer must not collude with a server
//! (it knows every mask a, and a server knows every opened e = x − a). Values are fixed point as
//! in Pond ([`crate::fixed`]).
//!
//! The folder, one file per concern:
//! - `mod.rs` — the protocol object [`Additive`] (`impl Protocol`: seats, layout, supported ops,
//!   reconstruction, explain texts) and one party's state [`AdditiveParty`] (`impl Party`).
//! - `sharing.rs` — input sharing, opening (Reveal), output to a receiver, the local ops.
//! - `beaver.rs` — Beaver products (mul, square, matmul) with dealer triples.
//! - `truncate.rs` — dealer truncation generalised to n servers, and why local truncation fails.
//! - `cost.rs` — the formulas of docs/costs.md ("Additive") and the [`CostModel`] over them.
//! - `view_notes.rs` — the view pane's note on each item of a party's view.
//!
//! Every party (servers, dealer, input providers, output receivers) runs every op and walks the
//! same steps; a party with nothing to do in a step just moves on.

mod beaver;
pub mod cost;
mod sharing;
pub mod truncate;
mod view_notes;

use crate::context::{Context, PartyId, RingKind};
use crate::encoded::{in_ring, Encoded};
use crate::error::{ProtocolError, Result};
use crate::pond::Truncation;
use crate::program::{infer_shape, Op};
use crate::protocol::{
    CostModel, Flaw, Held, Party, Protocol, Remark, Role, Seats, Security, Settings, ViewFacts,
};
use crate::tensor::{self, Tensor};
use std::collections::HashMap;

/// The number of share-holding servers.
pub const SERVERS: usize = 3;
/// The dealer's seat index (after the servers).
pub const DEALER: usize = SERVERS;

/// The seats: three servers, then the dealer (4 seats: the most a [`crate::cost::Flow`] covers).
pub const ROLES: &[Role] = &[
    Role {
        name: "server0",
        about: "holds one additive share x₀ of every secret; adds public constants",
    },
    Role {
        name: "server1",
        about: "holds one additive share x₁ of every secret",
    },
    Role {
        name: "server2",
        about: "holds one additive share x₂ of every secret",
    },
    Role {
        name: "dealer",
        about: "deals Beaver triples and truncation pairs; holds no shares, sees no data",
    },
];

/// The Additive protocol (registered as `Additive`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Additive;

/// The protocol object the registry holds.
pub static ADDITIVE: Additive = Additive;

/// What one party holds of a program value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// Secret-shared: a server's share; `None` at every other party (they know only the shape).
    Private {
        share: Option<Tensor<u64>>,
        shape: Vec<usize>,
    },
    /// Public, fixed-point encoded: `None` at parties it was not opened to (an opened value is
    /// known to the servers only).
    Public {
        value: Option<Tensor<u64>>,
        shape: Vec<usize>,
    },
}

impl Value {
    pub(crate) fn shape(&self) -> &[usize] {
        match self {
            Value::Private { shape, .. } | Value::Public { shape, .. } => shape,
        }
    }
    pub(crate) fn is_private(&self) -> bool {
        matches!(self, Value::Private { .. })
    }
}

/// One party's state under Additive: the values it holds, by name.
#[derive(Debug)]
pub struct AdditiveParty {
    me: PartyId,
    /// `seats[k]` is the party in seat `ROLES[k]`.
    seats: [PartyId; SERVERS + 1],
    settings: Settings,
    values: HashMap<String, Value>,
    /// **Planted flaw** (leak-checker tests only): the dealer deals one mask for both operands.
    reuse_mask: bool,
}

impl AdditiveParty {
    /// Party `me` with the seats of a run (`seats.len()` must be 4: server0..2, dealer).
    pub fn new(me: PartyId, seats: &Seats, settings: &Settings) -> Self {
        let mut s = [usize::MAX; SERVERS + 1];
        for (k, p) in seats.iter().take(SERVERS + 1).enumerate() {
            s[k] = *p;
        }
        AdditiveParty {
            me,
            seats: s,
            settings: *settings,
            values: HashMap::new(),
            reuse_mask: false,
        }
    }

    /// `Some(i)` if this party is server i.
    pub(crate) fn server(&self) -> Option<usize> {
        self.seats[..SERVERS].iter().position(|&p| p == self.me)
    }

    pub(crate) fn is_dealer(&self) -> bool {
        self.seats[DEALER] == self.me
    }

    /// The party in server seat `i`.
    pub(crate) fn server_id(&self, i: usize) -> PartyId {
        self.seats[i]
    }

    pub(crate) fn dealer_id(&self) -> PartyId {
        self.seats[DEALER]
    }

    pub(crate) fn get(&self, name: &str) -> Result<&Value> {
        self.values
            .get(name)
            .ok_or_else(|| ProtocolError::Missing(format!("no value named `{name}`")))
    }

    pub(crate) fn set(&mut self, name: &str, v: Value) {
        self.values.insert(name.to_string(), v);
    }

    /// Refuses to run without a party in each of the four seats (the engine always fills them;
    /// this turns a wrong call into an error instead of a send to nowhere).
    fn check_seats(&self) -> Result<()> {
        if self.seats.contains(&usize::MAX) {
            return Err(ProtocolError::Missing(format!(
                "Additive needs a party in each of its {} seats ({}), got fewer",
                ROLES.len(),
                ROLES.iter().map(|r| r.name).collect::<Vec<_>>().join(", ")
            )));
        }
        Ok(())
    }

    /// Refuses local truncation before an op that would need it (see [`truncate`]).
    fn check_truncation(&self, name: &str) -> Result<()> {
        match self.settings.truncation {
            Truncation::Dealer => Ok(()),
            Truncation::Local => Err(ProtocolError::Unsupported(format!(
                "`{name}`: {}",
                truncate::LOCAL_REFUSAL.replace('\n', ": ")
            ))),
        }
    }
}

impl Party for AdditiveParty {
    fn set_public(&mut self, name: &str, value: Encoded) -> Result<()> {
        let value = in_ring::<u64>(name, &value)?.clone();
        let shape = value.shape().to_vec();
        self.set(
            name,
            Value::Public {
                value: Some(value),
                shape,
            },
        );
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
        self.check_seats()?;
        // Additive computes over Z_2^64 (it refuses `ring_bits: 128`).
        let value = value.map(|v| in_ring::<u64>(name, v)).transpose()?;
        self.input(ctx, name, owner, shape, value)
    }

    fn run_op(&mut self, ctx: &mut dyn Context, name: &str, op: &Op) -> Result<()> {
        self.check_seats()?;
        Additive
            .supports(op)
            .map_err(|why| ProtocolError::Unsupported(why.replace('\n', ": ")))?;
        if crate::composite::handles(op) {
            let shapes =
                crate::composite::operand_shapes(op, |n| self.get(n).map(|v| v.shape().to_vec()))?;
            let fixed = self.settings.fixed;
            return crate::composite::run(self, ctx, name, op, &shapes, &fixed);
        }
        let operands: Vec<String> = op.operands().iter().map(|s| s.to_string()).collect();
        let args: Vec<Value> = operands
            .iter()
            .map(|n| self.get(n).cloned())
            .collect::<Result<_>>()?;
        let shapes: Vec<&[usize]> = args.iter().map(Value::shape).collect();
        let out_shape = infer_shape(op, &shapes).map_err(|detail| ProtocolError::Shape {
            op: name.into(),
            detail,
        })?;
        let result = match op {
            Op::Add(..) | Op::Sub(..) | Op::Neg(_) => self.linear(ctx, op, &args, &out_shape)?,
            Op::ReduceSum { axis, .. } => {
                let s = out_shape.clone();
                self.reshaping(ctx, &args[0], &out_shape, move |t| {
                    let sum = tensor::reduce_sum(t, *axis);
                    tensor::reshape(&sum, &s).expect("a sum has the inferred size")
                })?
            }
            Op::Transpose(_) => self.reshaping(ctx, &args[0], &out_shape, tensor::transpose)?,
            Op::Reshape { .. } | Op::Flatten(_) => {
                let s = out_shape.clone();
                self.reshaping(ctx, &args[0], &out_shape, move |t| {
                    tensor::reshape(t, &s).expect("validated reshape")
                })?
            }
            Op::Reveal(_) => self.open(ctx, &operands[0], &args[0])?,
            Op::Slice { .. } | Op::Pad { .. } => {
                self.reshaping(ctx, &args[0], &out_shape, |t| crate::local::apply(op, t))?
            }
            Op::Mul(..) | Op::Square(_) | Op::MatMul(..) => {
                if args.iter().any(Value::is_private) {
                    self.check_truncation(name)?;
                }
                let map = if matches!(op, Op::MatMul(..)) {
                    beaver::Bilinear::MatMul
                } else {
                    beaver::Bilinear::Elementwise
                };
                let y = operands.get(1).unwrap_or(&operands[0]);
                self.product(ctx, map, &operands[0], y, &out_shape)?
            }
            _ => unreachable!("refused by supports above"),
        };
        self.set(name, result);
        Ok(())
    }

    fn reveal_to(
        &mut self,
        ctx: &mut dyn Context,
        name: &str,
        receiver: PartyId,
    ) -> Result<Option<Encoded>> {
        self.check_seats()?;
        Ok(self.output(ctx, name, receiver)?.map(Encoded::Z64))
    }

    fn held(&self, name: &str) -> Held {
        match self.values.get(name) {
            Some(Value::Private { share: Some(s), .. }) => Held::Shares(vec![s.clone().into()]),
            Some(Value::Public { value: Some(v), .. }) => Held::Public(v.clone().into()),
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
            Held::Shares(s) => {
                let share = s.first().ok_or_else(|| {
                    crate::error::ProtocolError::Missing(format!("no share of `{name}`"))
                })?;
                Value::Private {
                    share: Some(in_ring::<u64>(name, share)?.clone()),
                    shape,
                }
            }
            Held::Public(v) => Value::Public {
                value: Some(in_ring::<u64>(name, &v)?.clone()),
                shape,
            },
        };
        self.set(name, v);
        Ok(())
    }

    fn live_values(&self) -> Option<usize> {
        Some(self.values.len())
    }

    fn plant(&mut self, flaw: Flaw, on: bool) {
        match flaw {
            Flaw::ReuseMask => self.reuse_mask = on,
        }
    }
}

/// Why an op is not part of Additive, and which registered protocol has it: the first line is
/// the error, the second the hint (validation shows them so).
fn refusal(op: &Op) -> Option<&'static str> {
    Some(match op {
        Op::Conv2d { .. } => {
            "Additive has no conv2d (it would be Beaver with ∘ = conv, left out to keep the \
             example small)\nuse `protocol: Pond` or `protocol: ABY3`, which have it"
        }
        Op::AvgPool2d { .. } => {
            "Additive has no avgpool2d (a window sum and a public scaling)\nuse `protocol: Pond` or \
             `protocol: ABY3`, which have it"
        }
        Op::MaxPool2d { .. } => {
            "Additive has no comparison, so no maxpool2d\nuse `protocol: SecureNN` or \
             `protocol: ABY3`, which have an exact one"
        }
        Op::Sigmoid(_) | Op::Tanh(_) => {
            "Additive has no nonlinear activations\nuse `protocol: Pond` or \
             `protocol: ABY3`, which have polynomial sigmoid and tanh"
        }
        Op::Relu(_) => {
            "Additive has no comparison, so no relu\nuse `protocol: SecureNN` or \
             `protocol: ABY3` for an exact one (Pond has a polynomial)"
        }
        Op::Argmax(_) => {
            "Additive has no comparison, so no argmax\nuse `protocol: SecureNN` or \
             `protocol: ABY3`, which have one"
        }
        Op::Greater(..) => {
            "Additive has no comparison\nuse `protocol: SecureNN` or `protocol: ABY3`, which \
             compare exactly"
        }
        _ => return None,
    })
}

impl Protocol for Additive {
    fn name(&self) -> &'static str {
        "Additive"
    }

    fn about(&self) -> &'static str {
        "n-party additive secret sharing over Z_2^64 (x = x₀ + x₁ + x₂) with a trusted dealer of \
         Beaver triples (Beaver, CRYPTO 1991) and truncation pairs (Catrina–Saxena, FC 2010), \
         for three servers; fixed point as in Pond. The worked example of docs/new-protocol.md."
    }

    fn security(&self) -> Security {
        // Any two servers together learn nothing, but the dealer with any one server learns
        // everything (it knows the masks a, the server the opened e = x − a): the largest
        // coalition that is safe whoever it holds is one party.
        Security::SemiHonest { corrupt: 1 }
    }

    fn roles(&self) -> &'static [Role] {
        ROLES
    }

    fn share_layout(&self) -> (RingKind, &'static [usize]) {
        (RingKind::Z64, &[1, 1, 1, 0])
    }

    fn supports(&self, op: &Op) -> std::result::Result<(), String> {
        if let Some(r) = crate::composite::supports(op, &|p| self.supports(p)) {
            return r;
        }
        if crate::gradient::handles(op) {
            return Err(crate::gradient::refusal("Additive", op));
        }
        match refusal(op) {
            Some(why) => Err(why.to_string()),
            None => Ok(()),
        }
    }

    fn truncates(&self, op: &Op) -> bool {
        if let Some(t) = crate::composite::truncates(op, &|p| self.truncates(p)) {
            return t;
        }
        matches!(op, Op::Mul(..) | Op::Square(_) | Op::MatMul(..))
    }

    fn party(&self, me: PartyId, seats: &Seats, settings: &Settings) -> Box<dyn Party> {
        Box::new(AdditiveParty::new(me, seats, settings))
    }

    fn reconstruct(&self, seats: &Seats, held: &[Held]) -> Option<Encoded> {
        if let Some(v) = held.iter().find_map(|h| match h {
            Held::Public(v) => Some(v),
            _ => None,
        }) {
            return Some(v.clone());
        }
        // x = x₀ + x₁ + x₂: all three servers' shares are needed.
        let mut shares = Vec::with_capacity(SERVERS);
        for &p in seats.get(..SERVERS)? {
            let Held::Shares(s) = held.get(p)? else {
                return None;
            };
            shares.push(s.first()?);
        }
        crate::encoded::sum_shares(shares)
    }

    fn cost_model(&self, settings: &Settings) -> Box<dyn CostModel> {
        Box::new(cost::AdditiveCosts::new(settings))
    }

    fn explain(&self, step: &str) -> Option<&'static str> {
        explain(step).or_else(|| crate::composite::explain(step))
    }

    fn view_note(&self, item: &ViewFacts<'_>) -> Option<Remark> {
        view_notes::view_note(item)
    }

    fn check_settings(&self, settings: &Settings) -> std::result::Result<(), String> {
        crate::protocol::refuse_wide_ring(self.name(), settings)?;
        match settings.truncation {
            Truncation::Dealer => Ok(()),
            Truncation::Local => Err(truncate::LOCAL_REFUSAL.to_string()),
        }
    }
}

/// The explain pane's text for each step name Additive uses.
pub fn explain(step: &str) -> Option<&'static str> {
    Some(match step {
        "share input" => {
            "Input sharing: three random-looking numbers that add up to x. The owner draws x₀ \
             and x₁ uniformly at random (sent as 32-byte seeds, or in full with dense sharing) \
             and sends server2 x₂ = x − x₀ − x₁ mod 2^64. Each server gets one share. Any two \
             shares are uniform and independent of x, so no two servers learn anything."
        }
        "open" => {
            "Reveal: all three servers learn the value. Every server sends its share to the two \
             others (n(n−1) = 6 messages) and adds the three. The value is public to the \
             servers from now on: open only what the program means to reveal."
        }
        "output" => {
            "Output: the receiver adds the three shares. Each server sends its share to the \
             receiver; a server learns nothing new, only the receiver sees the value. A public \
             value is sent by server0 alone."
        }
        "local" => {
            "A local op: no messages. Linear maps act on each share separately: \
             (x + y)ᵢ = xᵢ + yᵢ, (−x)ᵢ = −xᵢ, and sums, transposes and reshapes of the shares \
             are shares of the result. A public constant is added by server0 only, so it is \
             counted once."
        }
        "local product" => {
            "A product with a public operand: no triple needed. Each server multiplies its \
             share by the public value (c·x = Σ c·xᵢ); between two public values the product \
             is computed in the clear. The result carries 2f fractional bits and is truncated \
             next."
        }
        "deal triple" => {
            "Beaver triple: the dealer deals correlated randomness. Offline, before any data, \
             the dealer draws masks a, b, computes c = a∘b and deals additive shares of all \
             three: server0 and server1 get 32-byte seeds that expand to theirs, server2 gets \
             a₂, b₂, c₂ that make the sums come out right. The dealer never sees x or y, and a \
             single server's shares are uniform."
        }
        "open e, f" => {
            "Open e = x − a and f = y − b to every server. Each server sends eᵢ = xᵢ − aᵢ and \
             fᵢ = yᵢ − bᵢ to each other server (6 messages). Since a and b are uniform and used \
             once, e and f are uniform whatever x and y are: one-time pads. A square opens only \
             e."
        }
        "combine" => {
            "Combine: shares of x∘y from the opened e and f. Beaver's identity \
             x∘y = c + e∘b + a∘f + e∘f, split over the servers: zᵢ = cᵢ + e∘bᵢ + aᵢ∘f, and \
             server0 alone adds the public e∘f. Local; the shares of z carry 2f fractional bits."
        }
        "deal pair" => {
            "Truncation pair: the dealer deals (r, r >> f). Offline, the dealer draws r uniform \
             on [0, 2^64 − 2^(k+1)) (k = int + 2f) and deals shares of r and of r >> f."
        }
        "open z + r" => {
            "Open the masked product z + r. Each server sends its share of c = z + 2^k + r to \
             the two others. Since z + 2^k is in [0, 2^(k+1)) no wrap-around occurs, and r hides \
             z up to statistical distance 2^(k+1−64) per element (σ = 63 − k bits)."
        }
        "truncate" => {
            "Truncate: back to f fractional bits. z >> f ≈ (c >> f) − 2^(k−f) − (r >> f): \
             server0 takes the public part, every server subtracts its share of r >> f; off by \
             at most one ulp. Local truncation (each server shifting its own share) would be \
             wrong about half the time with three shares; see additive/truncate.rs."
        }
        _ => return None,
    })
}

/// Every step name Additive uses (the explain pane has a text for each).
pub const STEPS: &[&str] = &[
    "share input",
    "open",
    "output",
    "local",
    "local product",
    "deal triple",
    "open e, f",
    "combine",
    "deal pair",
    "open z + r",
    "truncate",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_has_an_explain_text_whose_first_sentence_is_a_title() {
        for s in STEPS {
            let text = explain(s).unwrap_or_else(|| panic!("{s}"));
            let title = text.split(". ").next().unwrap();
            assert!(
                title.len() < 70 && title.len() < text.len() / 3,
                "{s}: {title}"
            );
        }
        assert!(explain("no such step").is_none());
    }

    #[test]
    fn refusals_name_a_protocol_that_has_the_op() {
        for op in [
            Op::Relu("x".into()),
            Op::Sigmoid("x".into()),
            Op::Argmax("x".into()),
            Op::AvgPool2d {
                input: "x".into(),
                kernel: 2,
                stride: None,
            },
        ] {
            let why = Additive.supports(&op).unwrap_err();
            assert!(why.contains("Pond") || why.contains("SecureNN"), "{why}");
            assert!(why.starts_with("Additive has no"), "{why}");
        }
        assert!(Additive
            .supports(&Op::MatMul("a".into(), "b".into()))
            .is_ok());
    }

    #[test]
    fn reconstruction_needs_all_three_shares() {
        let t = |v: u64| Encoded::from(Tensor::from_elem(ndarray::IxDyn(&[2]), v));
        let seats = [0, 1, 2, 3];
        let held = vec![
            Held::Shares(vec![t(5)]),
            Held::Shares(vec![t(7)]),
            Held::Shares(vec![t(u64::MAX)]),
            Held::Nothing,
        ];
        assert_eq!(Additive.reconstruct(&seats, &held), Some(t(11)));
        let mut missing = held.clone();
        missing[2] = Held::Nothing;
        assert_eq!(Additive.reconstruct(&seats, &missing), None);
        let mut public = missing;
        public[3] = Held::Public(t(9));
        assert_eq!(Additive.reconstruct(&seats, &public), Some(t(9)));
    }
}
