//! **The protocol interface**: everything the simulator, the reports, `compare`, `leak` and the
//! debugger need from a secret-sharing protocol, and nothing more. A protocol is one folder under
//! `protocols/src/` that implements [`Protocol`] (what the protocol *is*: its seats, share layout,
//! supported ops, reconstruction, costs and explain texts) and [`Party`] (one party's state while
//! a program runs), and one line in [`registry`]. See `docs/new-protocol.md`.
//!
//! The shape follows SecretFlow SPU's split (a protocol object that registers its kernels, a
//! per-party state the kernels act on) and moose's placements (a protocol names the seats it
//! needs; a scenario says which party sits where). Like every kernel here, a [`Party`] reaches
//! the world only through [`Context`]; nothing in this module knows of threads or of the
//! simulator.
//!
//! Malicious security is not modelled yet; the room left for it is [`Protocol::security`] and the
//! fact that a [`Party`] may fail an op with [`crate::ProtocolError`] (an abort).

use crate::context::{Context, PartyId, RingKind};
use crate::cost::{Cost, Flow};
use crate::error::Result;
use crate::fixed::FixedConfig;
use crate::pond::{InputSharing, Truncation};
use crate::program::Op;
use crate::tensor::Tensor;

/// One seat a protocol needs filled by a party (server0, the producer, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Role {
    /// The seat's name, as scenarios' `roles` and the reports write it (`server0`).
    pub name: &'static str,
    /// What a party in this seat does, in one line (for `sharescope man`, the debugger, errors).
    pub about: &'static str,
}

/// Which party sits in each of a protocol's seats: `seats[k]` is the [`PartyId`] of
/// `protocol.roles()[k]`. Input providers and output receivers are not seats; they are the
/// scenario's other parties.
pub type Seats = [PartyId];

/// The scenario-wide settings every protocol receives (each reads what applies to it and says
/// in its docs how it reads the rest).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Settings {
    /// Fixed-point encoding.
    pub fixed: FixedConfig,
    /// Truncation method after fixed-point products.
    pub truncation: Truncation,
    /// How an input provider shares its input.
    pub input_sharing: InputSharing,
}

/// The threat model a protocol is secure in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Semi-honest (honest-but-curious) parties, at most `corrupt` of them colluding.
    SemiHonest {
        /// The largest coalition that learns nothing.
        corrupt: usize,
    },
    /// **Insecure** teaching variant: what it gives away, for the reports' warnings.
    Insecure(&'static str),
}

/// What one party holds of a value after an op: its shares in the protocol's layout, or the
/// public value, or nothing (a party outside the value's holders).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Held {
    /// The party holds no part of the value.
    #[default]
    Nothing,
    /// The party's shares of a secret value, in the order of [`Protocol::share_layout`]
    /// (Pond: one share; ABY3: (x_i, x_{i+1})).
    Shares(Vec<Tensor<u64>>),
    /// The value in the clear (fixed-point encoded).
    Public(Tensor<u64>),
}

impl Held {
    /// The first tensor held (a share or the public value), if any.
    pub fn first(&self) -> Option<&Tensor<u64>> {
        match self {
            Held::Nothing => None,
            Held::Shares(s) => s.first(),
            Held::Public(v) => Some(v),
        }
    }
}

/// A planted flaw a test switches on for one op at every party (the leak checker's must-catch
/// cases). Protocols that cannot plant it ignore it (the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flaw {
    /// The dealer deals one Beaver mask for both fresh operands of a product.
    ReuseMask,
}

/// One operand of an op, as a cost formula sees it.
#[derive(Debug, Clone, Copy)]
pub struct Operand<'a> {
    /// Value name.
    pub name: &'a str,
    /// Shape.
    pub shape: &'a [usize],
    /// Whether the value is public.
    pub public: bool,
}

/// An op's predicted cost, for `sharescope check`, the estimate and the DAG schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct OpCost {
    /// Bytes, messages and rounds.
    pub cost: Cost,
    /// How the op moves the causal depths of the protocol's seats (indexed like
    /// [`Protocol::roles`]); input sharing and outputs also move an outside party's depth, which
    /// `from_outside` / `to_outside` say.
    pub flow: Flow,
    /// For input sharing: the seats the owner sends to (each reaches the owner's depth + 1).
    pub from_outside: Vec<usize>,
    /// For an output: the seats that send to the receiver (it reaches their deepest + 1).
    pub to_outside: Vec<usize>,
    /// Protocol state the op relies on that an earlier op created (a cached mask, pairwise keys),
    /// by a name of the protocol's choosing: the first op that names it creates it, and every
    /// later op that names it depends on that one (the DAG schedule's extra edges).
    pub state: Vec<String>,
    /// Offline rounds the op adds after the offline material already dealt (key setup), if any.
    pub offline_setup: bool,
}

impl OpCost {
    /// A cost with a flow and nothing else.
    pub fn new(cost: Cost, flow: Flow) -> Self {
        OpCost {
            cost,
            flow,
            from_outside: Vec::new(),
            to_outside: Vec::new(),
            state: Vec::new(),
            offline_setup: false,
        }
    }
}

/// A protocol's cost formulas, walked over a plan in program order (the formulas may keep state:
/// Pond's mask cache, SecureNN's key setup). Every figure must equal a run's accounting exactly;
/// `sim/tests/estimate.rs` checks it on every shipped scenario.
pub trait CostModel {
    /// Sharing an input of `shape` by an outside owner.
    fn input(&mut self, name: &str, shape: &[usize]) -> OpCost;
    /// A program op producing `name` of `out_shape`.
    fn op(
        &mut self,
        name: &str,
        op: &Op,
        operands: &[Operand<'_>],
        out_shape: &[usize],
    ) -> std::result::Result<OpCost, String>;
    /// Revealing `name` (public or not) to an outside receiver.
    fn output(&mut self, name: &str, public: bool, shape: &[usize]) -> OpCost;
}

/// One party's state while a program runs under a protocol. Every party runs the same ops in the
/// same order and walks the same [`Context::step`]s in each (ARCHITECTURE.md, invariant 1).
pub trait Party: Send {
    /// Stores a public value every party knows (a public input).
    fn set_public(&mut self, name: &str, value: Tensor<u64>);
    /// Shares `owner`'s input `name` of `shape`; `value` is the encoded data at the owner only.
    fn share_input(
        &mut self,
        ctx: &mut dyn Context,
        name: &str,
        owner: PartyId,
        shape: &[usize],
        value: Option<&Tensor<u64>>,
    ) -> Result<()>;
    /// Runs program op `op`, storing its result under `name`.
    fn run_op(&mut self, ctx: &mut dyn Context, name: &str, op: &Op) -> Result<()>;
    /// Reveals `name` to `receiver`; the receiver returns the encoded value.
    fn reveal_to(
        &mut self,
        ctx: &mut dyn Context,
        name: &str,
        receiver: PartyId,
    ) -> Result<Option<Tensor<u64>>>;
    /// What this party holds of `name`.
    fn held(&self, name: &str) -> Held;
    /// Switches a planted flaw on or off for the next op (tests only; default: ignored).
    fn plant(&mut self, _flaw: Flaw, _on: bool) {}
}

/// A secret-sharing protocol: its seats, share layout, ops, reconstruction, costs and texts.
pub trait Protocol: Send + Sync + std::fmt::Debug {
    /// The name scenarios use (`protocol: Pond`) and reports print.
    fn name(&self) -> &'static str;
    /// One paragraph: what it is and where it comes from.
    fn about(&self) -> &'static str;
    /// Its threat model; insecure teaching variants say what they give away.
    fn security(&self) -> Security;
    /// The seats it needs filled, in order (a [`Seats`] slice is indexed by this).
    fn roles(&self) -> &'static [Role];
    /// The ring of every share, and how many shares each seat holds
    /// (`layout[k]` for `roles()[k]`; 0 for a dealer).
    fn share_layout(&self) -> (RingKind, &'static [usize]);
    /// `Ok` if the protocol runs `op`, else why not and what to use instead (validation puts it
    /// in a located error naming the protocol and the op).
    fn supports(&self, op: &Op) -> std::result::Result<(), String>;
    /// Whether `op`, with at least one private operand, truncates a fixed-point product (so
    /// validation checks the truncation's headroom and the shadow its hazards).
    fn truncates(&self, op: &Op) -> bool;
    /// A fresh party `me` with the scenario's seats and settings.
    fn party(&self, me: PartyId, seats: &Seats, settings: &Settings) -> Box<dyn Party>;
    /// A value from what every party held of it (`held[p]` for party `p`), if enough of them
    /// did; the public value if it is public.
    fn reconstruct(&self, seats: &Seats, held: &[Held]) -> Option<Tensor<u64>>;
    /// The protocol's cost formulas, fresh for a plan.
    fn cost_model(&self, settings: &Settings) -> Box<dyn CostModel>;
    /// The explain pane's text for a step (by the step's name, without an op prefix), if the
    /// protocol has one: why the step is needed and why what it sends reveals nothing.
    fn explain(&self, _step: &str) -> Option<&'static str> {
        None
    }
    /// `Ok` if the protocol runs under `settings`, else why not and what to choose instead
    /// (validation puts it in an error located at the setting). Default: every setting is
    /// fine. Additive refuses `truncation: Local`, which is wrong half the time for three shares.
    fn check_settings(&self, _settings: &Settings) -> std::result::Result<(), String> {
        Ok(())
    }
}

/// Every protocol a scenario can name, in the order `sharescope man` and `compare` list them.
pub fn registry() -> &'static [&'static dyn Protocol] {
    &[&crate::additive::Additive]
}

/// The protocol called `name` (ASCII case-insensitive), if registered.
pub fn by_name(name: &str) -> Option<&'static dyn Protocol> {
    registry()
        .iter()
        .copied()
        .find(|p| p.name().eq_ignore_ascii_case(name))
}
