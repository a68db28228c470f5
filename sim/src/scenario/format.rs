//! The RON scenario format. Every struct denies unknown fields, so a typo is an error, not a
//! silently ignored setting. Documented in `docs/scenario-format.md`.

use protocols::fixed::FixedConfig;
use protocols::program::Op;
use protocols::protocol::{InputSharing, Protocol, Security, Truncation};
use serde::{Deserialize, Serialize};

/// A complete scenario: protocol, parties, network, data, program and outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name.
    pub name: String,
    /// What the scenario shows.
    #[serde(default)]
    pub description: String,
    /// The protocol.
    #[serde(default)]
    pub protocol: ProtocolKind,
    /// Fixed-point encoding.
    #[serde(default)]
    pub fixed_point: FixedConfig,
    /// Truncation method after fixed-point products.
    #[serde(default)]
    pub truncation: Truncation,
    /// How inputs are shared.
    #[serde(default)]
    pub input_sharing: InputSharing,
    /// How `Sigmoid` is approximated: `Polynomial` (default) or `Piecewise` (ABY3 only).
    #[serde(default)]
    pub sigmoid: protocols::protocol::SigmoidMethod,
    /// Party names.
    #[serde(default)]
    pub roles: Roles,
    /// Network model.
    #[serde(default)]
    pub network: NetworkConfig,
    /// How local computation advances virtual clocks.
    #[serde(default)]
    pub timing: Timing,
    /// The seed every party's randomness derives from.
    pub seed: u64,
    /// Input tensors and their owners.
    pub inputs: Vec<InputSpec>,
    /// Named operations in SSA form.
    pub program: Vec<Stmt>,
    /// Who learns which value.
    #[serde(default)]
    pub outputs: Vec<OutputSpec>,
    /// Breakpoints preset for the debugger.
    #[serde(default)]
    pub breakpoints: Vec<BreakpointSpec>,
    /// What the trace keeps.
    #[serde(default)]
    pub trace: TraceConfig,
    /// Injected faults (for testing and teaching failure handling).
    #[serde(default)]
    pub faults: Vec<Fault>,
    /// Classification metrics computed after the run (accuracy, agreement with plaintext).
    #[serde(default)]
    pub metrics: Option<MetricsSpec>,
    /// Private training (docs/training.md): the program is the forward model, trained by SGD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<crate::train::format::TrainingSpec>,
}

impl Scenario {
    /// The scenario-wide settings its protocol receives ([`protocols::protocol::Settings`]).
    pub fn settings(&self) -> protocols::protocol::Settings {
        protocols::protocol::Settings {
            fixed: self.fixed_point,
            truncation: self.truncation,
            input_sharing: self.input_sharing,
            sigmoid: self.sigmoid,
        }
    }
}

/// Classification metrics: the argmax over the last axis of an output, compared with labels and
/// with the plaintext shadow's argmax. Documented in `docs/scenario-format.md`, "metrics".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSpec {
    /// An output (as its receiver learned it) whose last axis holds one score per class.
    pub prediction: String,
    /// The true class of every row: integers in [0, classes), one per row of `prediction`
    /// (`Values` or `Npy`; `Random` is refused).
    pub labels: Data,
}

/// A fault injected into one party at the start of one op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// The party that fails.
    pub party: String,
    /// The op (its trace label: statement name, `input x` or `output y`) at whose start it fails.
    pub op: String,
    /// How it fails.
    pub kind: FaultKind,
    /// A protocol step inside the op (the start of its name, e.g. "open masked inputs" or
    /// "PrivateCompare 1–13"): the fault fires when the party begins that step instead of at
    /// the op's start.
    #[serde(default)]
    pub step: Option<String>,
    /// For the message faults: only a message to this party (default: the party's next message).
    #[serde(default)]
    pub to: Option<String>,
}

/// How an injected fault manifests.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum FaultKind {
    /// The party's thread panics.
    Panic,
    /// The party's protocol code returns an error.
    Error,
    /// The party's next message (at the fault's op or step, to `to` if given) is lost: it is
    /// recorded as sent and never delivered. The receiver waits for it: a deadlock report.
    Drop,
    /// The party's next message arrives with one element changed (its first element plus one
    /// in its ring). The protocol cannot tell: the run completes with a wrong result, which the
    /// report shows against the plaintext shadow.
    Corrupt,
    /// The party's next message arrives this many microseconds late (virtual time).
    Delay(u64),
    /// The party deviates: it adds δ (in fixed point) to every Z_2^64 element of its next
    /// message — a semi-honest protocol's result is then off, visibly against the shadow.
    Deviate(f64),
    /// **Planted flaw, for testing `sharescope leak`**: the producer (the fault's party) deals
    /// one Beaver mask for both fresh operands of the op, a product of two different private
    /// values of one shape. The result stays correct, but the servers open x − a and y − a,
    /// whose difference is x − y. Never something a real protocol does.
    ReuseMask,
}

impl FaultKind {
    /// Whether the fault acts on one of the party's messages (rather than ending the party, or
    /// changing what the producer deals).
    pub fn is_message_fault(self) -> bool {
        matches!(
            self,
            FaultKind::Drop | FaultKind::Corrupt | FaultKind::Delay(_) | FaultKind::Deviate(_)
        )
    }
}

/// The protocol a scenario runs: any protocol in [`protocols::protocol::registry`], written by
/// its name as a bare identifier (`protocol: Pond`, `protocol: SecureNN`); the first registered
/// one is the default. Compared by name; dereferences to the protocol.
#[derive(Clone, Copy)]
pub struct ProtocolKind(pub &'static dyn Protocol);

impl ProtocolKind {
    /// The registered protocol called `name` (ASCII case-insensitive), if any.
    pub fn named(name: &str) -> Option<ProtocolKind> {
        protocols::protocol::by_name(name).map(ProtocolKind)
    }

    /// The protocol.
    pub fn get(self) -> &'static dyn Protocol {
        self.0
    }

    /// Its name, as scenarios write it.
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// Whether the protocol is a labelled insecure teaching variant.
    pub fn is_insecure(self) -> bool {
        self.insecurity().is_some()
    }

    /// What the protocol gives away, for the reports' warnings (`None` when secure).
    pub fn insecurity(self) -> Option<&'static str> {
        match self.0.security() {
            Security::Insecure(why) => Some(why),
            Security::SemiHonest { .. } => None,
        }
    }
}

impl std::ops::Deref for ProtocolKind {
    type Target = dyn Protocol;
    fn deref(&self) -> &Self::Target {
        self.0
    }
}

impl Default for ProtocolKind {
    fn default() -> Self {
        ProtocolKind(protocols::protocol::registry()[0])
    }
}

impl PartialEq for ProtocolKind {
    fn eq(&self, other: &Self) -> bool {
        self.0.name() == other.0.name()
    }
}

impl Eq for ProtocolKind {}

impl std::fmt::Debug for ProtocolKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.name())
    }
}

/// Every registered protocol's name, for serde's "the variants are …".
fn protocol_names() -> &'static [&'static str] {
    static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        protocols::protocol::registry()
            .iter()
            .map(|p| p.name())
            .collect()
    })
}

impl Serialize for ProtocolKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let index = protocol_names()
            .iter()
            .position(|n| *n == self.0.name())
            .unwrap_or(0);
        s.serialize_unit_variant("ProtocolKind", index as u32, self.0.name())
    }
}

impl<'de> Deserialize<'de> for ProtocolKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = ProtocolKind;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(f, "a protocol name ({})", protocol_names().join(", "))
            }
            fn visit_enum<A: serde::de::EnumAccess<'de>>(
                self,
                a: A,
            ) -> Result<Self::Value, A::Error> {
                use serde::de::VariantAccess;
                let (Ident(name), rest) = a.variant()?;
                rest.unit_variant()?;
                self.visit_str(&name)
            }
            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Self::Value, E> {
                protocol_names()
                    .iter()
                    .find(|n| **n == name)
                    .and_then(|n| ProtocolKind::named(n))
                    .ok_or_else(|| E::unknown_variant(name, protocol_names()))
            }
        }
        d.deserialize_enum("ProtocolKind", protocol_names(), Visit)
    }
}

/// A bare identifier (RON reads a variant name through `deserialize_identifier`).
struct Ident(String);

impl<'de> Deserialize<'de> for Ident {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Ident;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a protocol name")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Ident, E> {
                Ok(Ident(v.to_string()))
            }
        }
        d.deserialize_identifier(Visit)
    }
}

/// Names of the parties. The protocol's seats (`Protocol::roles`) are named by the fields
/// `server0`, `server1`, `producer` where a seat has that name, else by `seats`; input providers
/// and output receivers are extra parties.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Roles {
    /// First server.
    #[serde(default = "default_s0")]
    pub server0: String,
    /// Second server.
    #[serde(default = "default_s1")]
    pub server1: String,
    /// Crypto producer (dealer).
    #[serde(default = "default_cp")]
    pub producer: String,
    /// Parties that own inputs.
    #[serde(default)]
    pub input_providers: Vec<String>,
    /// Parties that receive outputs.
    #[serde(default)]
    pub output_receivers: Vec<String>,
    /// The party in each of the protocol's other seats, by role name (`seats: {"server2":
    /// "carol"}`); a seat not named here is taken by a party called like its role.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub seats: std::collections::BTreeMap<String, String>,
}

impl Roles {
    /// The fields that name a seat themselves (`server0: "alice"`), beside `seats`.
    pub const FIELDS: [&'static str; 3] = ["server0", "server1", "producer"];

    /// The party in the seat of role `role`: the field of that name if there is one, else the
    /// entry of `seats`, else a party called `role`.
    pub fn seat<'a>(&'a self, role: &'a str) -> &'a str {
        match role {
            "server0" => &self.server0,
            "server1" => &self.server1,
            "producer" => &self.producer,
            _ => self.seats.get(role).map_or(role, String::as_str),
        }
    }
}

fn default_s0() -> String {
    "server0".into()
}
fn default_s1() -> String {
    "server1".into()
}
fn default_cp() -> String {
    "producer".into()
}

impl Default for Roles {
    fn default() -> Self {
        Roles {
            server0: default_s0(),
            server1: default_s1(),
            producer: default_cp(),
            input_providers: vec![],
            output_receivers: vec![],
            seats: Default::default(),
        }
    }
}

/// Whether a link delivers messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum LinkState {
    /// Delivers after latency and transmission time.
    #[default]
    Healthy,
    /// Holds every message forever (fault injection: the receiver will wait, and the run ends
    /// with a deadlock report).
    Held,
}

/// One directed link's model. A field left out takes the LAN default (100 µs, 10 Gbit/s,
/// no jitter, healthy), so `default: (latency_us: 20000)` keeps the LAN bandwidth.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinkConfig {
    /// One-way latency in microseconds.
    pub latency_us: u64,
    /// Extra latency drawn uniformly from [0, jitter_us] per message (seeded).
    pub jitter_us: u64,
    /// Bandwidth in bits per second; 0 means unlimited.
    pub bandwidth_bps: u64,
    /// Link state.
    pub state: LinkState,
}

impl Default for LinkConfig {
    /// A LAN: 100 µs one way, 10 Gbit/s.
    fn default() -> Self {
        LinkConfig {
            latency_us: 100,
            jitter_us: 0,
            bandwidth_bps: 10_000_000_000,
            state: LinkState::Healthy,
        }
    }
}

/// A per-link override of the default link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkOverride {
    /// Sending party.
    pub from: String,
    /// Receiving party.
    pub to: String,
    /// Apply to the reverse direction too.
    #[serde(default)]
    pub both_ways: bool,
    /// A named profile whose latency, jitter and bandwidth the link takes first; the fields
    /// given below override it.
    #[serde(default)]
    pub profile: Option<String>,
    /// Latency override.
    #[serde(default)]
    pub latency_us: Option<u64>,
    /// Jitter override.
    #[serde(default)]
    pub jitter_us: Option<u64>,
    /// Bandwidth override.
    #[serde(default)]
    pub bandwidth_bps: Option<u64>,
    /// State override.
    #[serde(default)]
    pub state: Option<LinkState>,
}

/// Whether receivers really wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum NetworkMode {
    /// Event-driven virtual time: nobody sleeps; clocks are computed.
    #[default]
    Virtual,
    /// Receivers sleep until each message's delivery time (for checking the virtual model).
    Realtime,
}

/// The network: a default link, overrides, and the mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// A named profile ([`crate::profiles`]: `lan`, `wan`, `securenn-lan`, `securenn-wan`) as
    /// every directed link's model unless overridden; instead of `default`, not with it.
    #[serde(default)]
    pub profile: Option<String>,
    /// Every directed link unless overridden.
    #[serde(default)]
    pub default: LinkConfig,
    /// Overrides for specific links.
    #[serde(default)]
    pub links: Vec<LinkOverride>,
    /// Virtual or realtime.
    #[serde(default)]
    pub mode: NetworkMode,
}

/// How local computation advances a party's virtual clock.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Timing {
    /// By the measured wall time of the computation (virtual times vary from run to run).
    Measured,
    /// By a deterministic cost model: every declared ring operation costs this many nanoseconds
    /// (reproducible virtual times).
    Model {
        /// Nanoseconds per ring operation.
        ns_per_ring_op: f64,
    },
}

impl Timing {
    /// The cost model's default rate: one nanosecond per ring operation.
    pub const DEFAULT_NS_PER_RING_OP: f64 = 1.0;
}

impl Default for Timing {
    /// `Model(ns_per_ring_op: 1.0)`: one seed gives the same virtual times on every run;
    /// `Measured` is opt-in.
    fn default() -> Self {
        Timing::Model {
            ns_per_ring_op: Timing::DEFAULT_NS_PER_RING_OP,
        }
    }
}

/// Input data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Data {
    /// Values inline, row-major.
    Values(Vec<f64>),
    /// Seeded random values.
    Random(Distribution),
    /// A NumPy `.npy` file (f64, f32, i64 or i32, C order), relative to the scenario file.
    Npy(String),
}

/// A distribution for seeded random inputs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Distribution {
    /// Uniform on [low, high).
    Uniform(f64, f64),
    /// Normal with mean and standard deviation.
    Normal(f64, f64),
}

/// One input tensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// Value name.
    pub name: String,
    /// An input provider's name, or `"public"` for a constant every party knows.
    pub owner: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Data.
    pub data: Data,
}

/// One program statement: `name = op(...)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stmt {
    /// Name of the result.
    pub name: String,
    /// The operation.
    pub op: Op,
}

/// One output: value `name` is revealed to party `to`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// The value.
    pub name: String,
    /// An output receiver's name.
    pub to: String,
}

/// A breakpoint preset in the scenario (the debugger's breakpoint list starts with these).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BreakpointSpec {
    /// Before the op (or step) with this name.
    Op(String),
    /// Before every op of this kind (e.g. "matmul").
    Kind(String),
    /// When an op's reconstructed result differs from the plaintext shadow by more than this.
    Divergence(f64),
    /// When a step sends more than this many bytes.
    Bytes(u64),
    /// When any hazard is raised.
    Hazard,
}

/// What the trace keeps of each recorded value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceConfig {
    /// Values up to this many elements are kept whole; larger ones as a summary.
    #[serde(default = "default_max_values")]
    pub max_values: usize,
}

fn default_max_values() -> usize {
    256
}

impl Default for TraceConfig {
    fn default() -> Self {
        TraceConfig {
            max_values: default_max_values(),
        }
    }
}
