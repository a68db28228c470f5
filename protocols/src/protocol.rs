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
pub use crate::encoded::Encoded;
use crate::error::Result;
use crate::fixed::{FixedConfig, Hazard};
use crate::program::Op;

pub use crate::fixed::{decode_tensor, encode_tensor};
pub use crate::pond::{Approximation, InputSharing, Truncation};

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
    /// How `Sigmoid` is approximated (a protocol lists the methods it has in
    /// [`Protocol::sigmoids`]; validation refuses the others).
    pub sigmoid: SigmoidMethod,
}

/// How a protocol approximates the logistic sigmoid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum SigmoidMethod {
    /// Pond's polynomial (tf-encrypted's degree-9 fit; `pond::SIGMOID`), with its range.
    #[default]
    Polynomial,
    /// tf-encrypted's piecewise-linear sigmoid over 5 pieces (needs comparisons: ABY3).
    Piecewise,
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
    /// (Pond: one share; ABY3: (x_i, x_{i+1})), each in the run's ring.
    Shares(Vec<Encoded>),
    /// The value in the clear (fixed-point encoded in the run's ring).
    Public(Encoded),
}

impl Held {
    /// The first tensor held (a share or the public value), if any.
    pub fn first(&self) -> Option<&Encoded> {
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

/// The explain pane's text for one step kind (see [`Protocol::explanation`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Explanation {
    /// One-line summary.
    pub title: &'static str,
    /// What it computes.
    pub computes: &'static str,
    /// Why it reveals nothing (an insecure variant's text starts with `INSECURE` and says what
    /// it gives away).
    pub private: &'static str,
    /// Its cost formula (n = elements of the value); empty if the protocol gives none.
    pub cost: &'static str,
}

impl Explanation {
    /// An explanation from one paragraph ([`Protocol::explain`]'s text): its first sentence is
    /// the title, the rest what the step computes.
    pub fn from_text(text: &'static str) -> Explanation {
        let (title, rest) = match text.find(". ") {
            Some(i) => (&text[..i], text[i + 2..].trim_start()),
            None => (text.trim_end_matches('.'), ""),
        };
        Explanation {
            title,
            computes: if rest.is_empty() { text } else { rest },
            private: "",
            cost: "",
        }
    }
}

/// A remark on a step of a run or on an item of a party's view: a fact of this run, or (`warn`)
/// what an insecure variant gives away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remark {
    /// Whether it is a warning (drawn as one).
    pub warn: bool,
    /// The text.
    pub text: String,
}

/// What the debugger knows of one step of a run, for [`Protocol::remarks`].
#[derive(Debug, Clone, Copy)]
pub struct StepFacts<'a> {
    /// The step's full name (with any op prefix such as `x^3: `).
    pub name: &'a str,
    /// The op's operands, by value name.
    pub operands: &'a [String],
    /// The labels of the step's messages, in the trace's order.
    pub labels: &'a [&'a str],
    /// The scenario's fixed-point encoding.
    pub fixed: FixedConfig,
}

/// How an item came into a party's view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewSource<'a> {
    /// Part `part` of a message labelled `message` from the party called `from`.
    Received {
        /// The message's label.
        message: &'a str,
        /// Which part of the message.
        part: usize,
        /// The sender's name.
        from: &'a str,
    },
    /// The party dealt or drew it itself.
    Dealt,
    /// It was opened to the party.
    Opened,
}

/// One item of a party's view, for [`Protocol::view_note`] and [`Protocol::view_grid`].
#[derive(Debug, Clone, Copy)]
pub struct ViewFacts<'a> {
    /// The name of the step it belongs to.
    pub step: &'a str,
    /// How the party got it.
    pub source: ViewSource<'a>,
    /// The value's label.
    pub label: &'a str,
    /// The value's ring.
    pub ring: RingKind,
}

/// How the view pane lays out a value a protocol knows more about (SecureNN's opened d).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ViewGrid {
    /// The grid's corner label (what a column is: `bit`, `slot`), if not the default.
    pub corner: Option<&'static str>,
    /// Lines about the value's zeros (which the pane then marks), if they mean something.
    pub zeros: Option<Vec<Remark>>,
}

/// An attack a simulator can run on one seat's recorded view (SecureNN's helper recovering
/// PrivateCompare's inputs, `sim::attack`): who attacks, whose shares it targets, and the step
/// whose explanation shows the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// The attacking seat.
    pub attacker: usize,
    /// The seats holding the shares attacked.
    pub servers: [usize; 2],
    /// The name prefix of the step the explain pane shows the outcome at.
    pub at_step: &'static str,
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
    /// Stores a public value every party knows (a public input), encoded in the run's ring
    /// ([`Encoded::encode`] with the scenario's `fixed_point`). A value of another ring is an
    /// error.
    fn set_public(&mut self, name: &str, value: Encoded) -> Result<()>;
    /// Shares `owner`'s input `name` of `shape`; `value` is the encoded data at the owner only.
    fn share_input(
        &mut self,
        ctx: &mut dyn Context,
        name: &str,
        owner: PartyId,
        shape: &[usize],
        value: Option<&Encoded>,
    ) -> Result<()>;
    /// Runs program op `op`, storing its result under `name`.
    fn run_op(&mut self, ctx: &mut dyn Context, name: &str, op: &Op) -> Result<()>;
    /// Reveals `name` to `receiver`; the receiver returns the encoded value.
    fn reveal_to(
        &mut self,
        ctx: &mut dyn Context,
        name: &str,
        receiver: PartyId,
    ) -> Result<Option<Encoded>>;
    /// What this party holds of `name`.
    fn held(&self, name: &str) -> Held;
    /// What this party holds of `name`, moved out of it: the caller reads `name` no more and
    /// [`Party::forget`]s it next (the per-op results of a value no later op reads). Default:
    /// a copy ([`Party::held`]).
    fn take_held(&mut self, name: &str) -> Held {
        self.held(name)
    }
    /// Calls `f` with what this party holds of `name`, lent for the time of the call rather
    /// than copied where the protocol can (Pond): the simulator's per-op results read the last
    /// holder's part this way (issue 11, peak memory). Must leave the party's state as it was.
    /// Default: a copy ([`Party::held`]).
    fn with_held(&mut self, name: &str, f: &mut dyn FnMut(&Held)) {
        f(&self.held(name))
    }
    /// Drops `name` and any state kept only for it (Pond's cached mask): no later op reads it
    /// before binding it again (the simulator's liveness, `sim::liveness`). Must change no
    /// later share, message or step. Default: keeps it.
    fn forget(&mut self, _name: &str) {}
    /// The op the next [`Party::run_op`] runs is the last reader of `names` (its operands that
    /// the simulator's liveness says die with it, `sim::liveness`): the party may free them
    /// inside the op as soon as the op no longer needs them, rather than at the
    /// [`Party::forget`] after it (Pond: a Beaver product turns a dying operand's share into
    /// its masked value in place). Must change no share, message or step. Applies to that one
    /// op only. Default: ignored.
    fn last_use(&mut self, _names: &[String]) {}
    /// How many named values this party holds right now, if it counts them (liveness tests).
    /// Default: `None`.
    fn live_values(&self) -> Option<usize> {
        None
    }
    /// Switches a planted flaw on or off for the next op (tests only; default: ignored).
    fn plant(&mut self, _flaw: Flaw, _on: bool) {}
    /// Binds `name` (of `shape`) to what this party held of a value in an earlier run of the same
    /// seats ([`Party::take_held`] there): a training run carries its private weights from one
    /// iteration to the next as shares this way (`sim::train`), never opening them. Default: an
    /// error (the protocol cannot carry values).
    fn set_held(&mut self, name: &str, _shape: &[usize], _held: Held) -> Result<()> {
        Err(crate::error::ProtocolError::Unsupported(format!(
            "carrying `{name}` between runs"
        )))
    }
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
    /// The ring of every share at 64 bits, and how many shares each seat holds
    /// (`layout[k]` for `roles()[k]`; 0 for a dealer). With `ring_bits: 128` the shares are over
    /// Z_2^128 ([`RingKind::Z128`]) and the layout is the same.
    fn share_layout(&self) -> (RingKind, &'static [usize]);
    /// `Ok` if the protocol runs `op`, else why not and what to use instead (validation puts it
    /// in a located error naming the protocol and the op).
    fn supports(&self, op: &Op) -> std::result::Result<(), String>;
    /// [`Protocol::supports`] under the scenario's `settings` (validation asks this one): a
    /// protocol whose op set depends on a setting — ABY3's boolean part at `ring_bits: 128` —
    /// overrides it. The default is `supports`.
    fn supports_under(&self, op: &Op, settings: &Settings) -> std::result::Result<(), String> {
        let _ = settings;
        self.supports(op)
    }
    /// Whether `op`, with at least one private operand, truncates a fixed-point product (so
    /// validation checks the truncation's headroom and the shadow its hazards).
    fn truncates(&self, op: &Op) -> bool;
    /// A fresh party `me` with the scenario's seats and settings.
    fn party(&self, me: PartyId, seats: &Seats, settings: &Settings) -> Box<dyn Party>;
    /// A value from what every party held of it (`held[p]` for party `p`), if enough of them
    /// did; the public value if it is public.
    fn reconstruct(&self, seats: &Seats, held: &[Held]) -> Option<Encoded>;
    /// The protocol's cost formulas, fresh for a plan.
    fn cost_model(&self, settings: &Settings) -> Box<dyn CostModel>;
    /// The explain pane's text for a step (by the step's name, without an op prefix), if the
    /// protocol has one: why the step is needed and why what it sends reveals nothing.
    fn explain(&self, _step: &str) -> Option<&'static str> {
        None
    }
    /// `Ok` if the protocol runs under `settings`, else why not and what to choose instead
    /// (validation puts it in an error located at the setting). Default: every setting but
    /// `ring_bits: 128` is fine ([`refuse_wide_ring`]: a protocol runs over Z_2^128 only once it
    /// says so by overriding this; Pond does). Additive refuses `truncation: Local`, which is
    /// wrong half the time for three shares.
    fn check_settings(&self, settings: &Settings) -> std::result::Result<(), String> {
        refuse_wide_ring(self.name(), settings)
    }

    /// The name `compare --protocols` and its table use (lower case; `securenn-shortcut`).
    fn short_name(&self) -> String {
        self.name().to_ascii_lowercase()
    }
    /// What the protocol gives away, for the reports' warnings (`None` when it is secure).
    fn insecurity(&self) -> Option<&'static str> {
        match self.security() {
            Security::Insecure(why) => Some(why),
            Security::SemiHonest { .. } => None,
        }
    }
    /// The explain pane's sections for a step (by its full name; prefixes such as `x^3: ` are the
    /// protocol's to strip). The default makes them from [`Protocol::explain`].
    fn explanation(&self, step: &str) -> Option<Explanation> {
        let base = step.rsplit(": ").next().unwrap_or(step);
        self.explain(base).map(Explanation::from_text)
    }
    /// Facts of this run the explain pane adds under a step's numbers (mask reuse, statistical
    /// security here). Default: none.
    fn remarks(&self, _step: &StepFacts<'_>) -> Vec<Remark> {
        Vec::new()
    }
    /// The view pane's note on one item of a party's view: why it looks random to the party, or
    /// what an insecure variant gives away. Default: none.
    fn view_note(&self, _item: &ViewFacts<'_>) -> Option<Remark> {
        None
    }
    /// How the view pane lays out an item's `values` (rows of `cols`). Default: as any value.
    fn view_grid(&self, _item: &ViewFacts<'_>, _values: &[u64], _cols: usize) -> ViewGrid {
        ViewGrid::default()
    }
    /// The polynomial the protocol computes `op` with, if it approximates it (the plaintext
    /// shadow's range and overflow hazards use it). Default: every op is exact.
    fn approximation(&self, _op: &Op) -> Option<&'static Approximation> {
        None
    }
    /// [`Protocol::approximation`] under `settings` (a protocol whose `sigmoid` setting
    /// replaces the polynomial overrides this). Default: the settings do not matter.
    fn approximation_under(&self, op: &Op, _settings: &Settings) -> Option<&'static Approximation> {
        self.approximation(op)
    }
    /// The sigmoid methods the protocol runs ([`Settings::sigmoid`]). Default: the polynomial.
    fn sigmoids(&self) -> &'static [SigmoidMethod] {
        &[SigmoidMethod::Polynomial]
    }
    /// An attack on a seat's view that the simulator runs for `leak` and shows for insecure
    /// variants ([`Probe`]). Default: none.
    fn probe(&self) -> Option<Probe> {
        None
    }
    /// The statistical security, in bits, of the truncation `settings` choose, if it hides
    /// only statistically (validation refuses less than
    /// [`crate::fixed::MIN_STATISTICAL_SECURITY`] unless `fixed_point` sets `weak_security`).
    /// Default (Pond's, SecureNN's): dealer truncation's σ = 63 − (int + 2f); local truncation
    /// opens nothing (`None`).
    fn statistical_security(&self, settings: &Settings) -> Option<u32> {
        (settings.truncation == Truncation::Dealer).then(|| settings.fixed.statistical_security())
    }
    /// What [`Protocol::statistical_security`] means for `settings`, for validation's refusal
    /// and the reports' warning ("dealer truncation with int_bits 11, frac_bits 16 has 20 bits
    /// of statistical security (…), below the minimum of 40"). Default: Pond's dealer truncation.
    fn statistical_security_text(&self, settings: &Settings) -> String {
        settings.fixed.dealer_security_text()
    }
    /// How the statistically hiding truncation is named in a hint ("`z` truncates with the
    /// dealer"). Default: `the dealer`.
    fn truncation_label(&self, _settings: &Settings) -> &'static str {
        "the dealer"
    }
    /// `Ok` if the protocol can truncate with `settings`, else why not and what to change
    /// (validation asks when the program truncates and puts it in a located error). Default:
    /// any valid [`FixedConfig`] will do.
    fn check_truncation(&self, _settings: &Settings) -> std::result::Result<(), String> {
        Ok(())
    }
    /// The hazards of one truncation under `settings`, from the largest real magnitude that goes
    /// into it over `elements` elements (the plaintext shadow asks). Default (Pond's rule): the
    /// product headroom, and for local truncation a
    /// [`Hazard::LocalTruncationFailure`] once 10^-4 failures are expected.
    fn truncation_hazards(
        &self,
        settings: &Settings,
        pre_truncation: f64,
        elements: u64,
    ) -> Vec<Hazard> {
        let cfg = &settings.fixed;
        let mut out: Vec<Hazard> = cfg
            .check_product_headroom([pre_truncation])
            .into_iter()
            .collect();
        if settings.truncation == Truncation::Local {
            let encoded = pre_truncation * cfg.scale() * cfg.scale();
            let p = cfg.local_failure_probability(encoded);
            if p * elements as f64 >= 1e-4 {
                out.push(Hazard::LocalTruncationFailure {
                    probability: p,
                    elements,
                });
            }
        }
        out
    }
    /// The name of share `k` of those seat `seat` holds, for the debugger's column headers
    /// (ABY3: `x0`, `x1` at server0). Default: none (the party's name alone).
    fn share_name(&self, _seat: usize, _k: usize) -> Option<String> {
        None
    }
}

/// The refusal of `ring_bits: 128` by a protocol that runs over Z_2^64 only (`Ok` at 64
/// bits): what validation puts in its error located at `fixed_point`.
pub fn refuse_wide_ring(name: &str, settings: &Settings) -> std::result::Result<(), String> {
    if settings.fixed.ring_bits == 64 {
        return Ok(());
    }
    Err(format!(
        "{name} runs over Z_2^64 only, not ring_bits: {}\n\
         use ring_bits: 64, or `protocol: Pond` for Z_2^128",
        settings.fixed.ring_bits
    ))
}

/// Every protocol a scenario can name, in the order `sharescope man` and `compare` list them.
/// A protocol registers here, with one line (and one `pub mod` in `lib.rs`).
pub fn registry() -> &'static [&'static dyn Protocol] {
    &[
        &crate::pond::Pond,
        &crate::securenn::SECURENN,
        &crate::securenn::SECURENN_SHORTCUT,
        &crate::securenn::SECURENN_AS_PUBLISHED,
        &crate::aby3::Aby3,
        &crate::additive::Additive,
    ]
}

/// The protocol called `name` (ASCII case-insensitive), if registered.
pub fn by_name(name: &str) -> Option<&'static dyn Protocol> {
    registry()
        .iter()
        .copied()
        .find(|p| p.name().eq_ignore_ascii_case(name))
}
