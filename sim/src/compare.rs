//! `sharescope compare`: one scenario under several protocols, side by side.
//!
//! Each protocol is run once per network profile (`--profiles`, default `lan,wan`; the profiles
//! are [`crate::profiles`]), every run with `timing: Model(ns_per_ring_op: 1.0)` (so virtual
//! times are deterministic) and a clean network (no per-link overrides, no jitter, virtual
//! clocks). Values, bytes and rounds do not depend on the network or the timing, so accuracy,
//! errors, bytes and rounds come from the first profile's run; the predicted times are each
//! run's virtual makespan. Documented in `docs/securenn.md`, "Comparing protocols".

use crate::error::{Result, SimError};
use crate::metrics::Metrics;
use crate::profiles::Profile;
use crate::scenario::{LinkConfig, NetworkConfig, NetworkMode, Plan, ProtocolKind, Timing};
use crate::units;
use protocols::program::Op;
use std::fmt::Write;

/// The profiles `compare` predicts times on unless told otherwise: `lan` and `wan`.
pub const DEFAULT_PROFILES: [Profile; 2] = [crate::profiles::LAN, crate::profiles::WAN];

/// The cost model the predicted times use: nanoseconds per declared ring operation.
pub const NS_PER_RING_OP: f64 = Timing::DEFAULT_NS_PER_RING_OP;

/// One protocol's results.
#[derive(Debug, Clone, PartialEq)]
pub struct ProtocolRow {
    /// The protocol.
    pub protocol: ProtocolKind,
    /// Why it could not run (e.g. Pond has no max pool), or `None` when the numbers are valid.
    pub skipped: Option<String>,
    /// Accuracy and agreement, if the scenario has a `metrics` section.
    pub metrics: Option<Metrics>,
    /// Largest |private − plaintext| over all outputs.
    pub max_output_error: f64,
    /// Online bytes.
    pub bytes: u64,
    /// Offline (producer / helper) bytes.
    pub offline_bytes: u64,
    /// Online rounds.
    pub rounds: u32,
    /// Offline rounds.
    pub offline_rounds: u32,
    /// Predicted time (virtual makespan) on each profile of [`Comparison::profiles`], ns.
    pub times_ns: Vec<u64>,
    /// Hazards raised over the run (count).
    pub hazards: usize,
    /// Online rounds on the program's critical path (the DAG schedule, `crate::dag`).
    pub critical_path_rounds: u32,
    /// Predicted time of the DAG schedule on each profile of [`Comparison::profiles`], ns.
    pub dag_times_ns: Vec<u64>,
}

/// The comparison of one scenario under several protocols.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The scenario's name.
    pub scenario: String,
    /// The seed used.
    pub seed: u64,
    /// The network profiles the times were predicted on, in the order asked.
    pub profiles: Vec<Profile>,
    /// One row per protocol, in the order asked.
    pub rows: Vec<ProtocolRow>,
    /// A training scenario (docs/training.md): the rows are one iteration (the first, which
    /// also shares the initial weights); `(iterations per epoch, epochs)` scale them.
    pub training: Option<(usize, usize)>,
}

/// `name` without case, `-` and `_`: how protocol names are matched.
fn folded(name: &str) -> String {
    name.trim()
        .chars()
        .filter(|c| !matches!(c, '-' | '_'))
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Parses a protocol name as the command line writes it: any registered protocol
/// ([`protocols::protocol::registry`]) by its table name (`pond`, `securenn-shortcut`) or its
/// scenario name (`SecureNNShortcut`), case-insensitive, `_` and `-` alike or left out.
pub fn parse_protocol(name: &str) -> std::result::Result<ProtocolKind, String> {
    let want = folded(name);
    protocols::protocol::registry()
        .iter()
        .find(|p| folded(&p.short_name()) == want || folded(p.name()) == want)
        .map(|&p| ProtocolKind(p))
        .ok_or_else(|| {
            let names: Vec<String> = protocols::protocol::registry()
                .iter()
                .map(|p| p.short_name())
                .collect();
            format!(
                "unknown protocol `{}`; the protocols are {}",
                name.trim().to_ascii_lowercase().replace('_', "-"),
                names.join(", ")
            )
        })
}

/// Parses a comma-separated protocol list (`pond,securenn`); at least one, no repeats.
pub fn parse_protocols(list: &str) -> std::result::Result<Vec<ProtocolKind>, String> {
    let mut out = Vec::new();
    for name in list.split(',').filter(|s| !s.trim().is_empty()) {
        let p = parse_protocol(name)?;
        if out.contains(&p) {
            return Err(format!("protocol `{}` is listed twice", name.trim()));
        }
        out.push(p);
    }
    if out.is_empty() {
        return Err("name at least one protocol, e.g. --protocols pond,securenn".into());
    }
    Ok(out)
}

/// The name the table prints for a protocol ([`protocols::protocol::Protocol::short_name`]).
pub fn protocol_name(p: ProtocolKind) -> String {
    p.short_name()
}

/// `plan` under `protocol`: the same plan if the protocol has the same seats, else the scenario
/// validated again with the protocol's seats (an error says why it cannot run it).
fn under(plan: &Plan, protocol: ProtocolKind) -> std::result::Result<Plan, String> {
    let same_seats = protocol.roles() == plan.protocol().roles();
    if same_seats {
        let mut p = plan.clone();
        p.scenario.protocol = protocol;
        return Ok(p);
    }
    let mut scenario = plan.scenario.clone();
    scenario.protocol = protocol;
    crate::scenario::Plan::with_budget(&plan.source, scenario, plan.memory_budget)
        .map_err(|e| e.message)
}

/// `plan` with the timing model and a clean network of one profile.
fn variant(plan: &Plan, link: LinkConfig) -> Plan {
    let mut p = plan.clone();
    p.scenario.timing = Timing::Model {
        ns_per_ring_op: NS_PER_RING_OP,
    };
    p.scenario.network = NetworkConfig {
        profile: None,
        default: link,
        links: vec![],
        mode: NetworkMode::Virtual,
    };
    let n = p.parties.len();
    p.links = vec![vec![link; n]; n];
    p
}

/// `compare` predicts the costs of healthy runs on clean links: a scenario with
/// injected faults or held links is refused (located in `source`), rather than silently run
/// without them.
pub fn refuse_faults(
    source: &crate::scenario::Source,
    plan: &Plan,
) -> std::result::Result<(), crate::ScenarioError> {
    use crate::scenario::PathSeg::{Field as F, Item as I};
    if !plan.scenario.faults.is_empty() {
        return Err(source.error_at_path(
            &[F("faults"), I(0)],
            "`compare` predicts the costs of healthy runs, and this scenario injects faults",
            "remove `faults` to compare the protocols; run the faulty scenario with `sharescope run`",
        ));
    }
    if let Some(i) = plan
        .scenario
        .network
        .links
        .iter()
        .position(|l| l.state == Some(crate::scenario::LinkState::Held))
    {
        return Err(source.error_at_path(
            &[F("network"), F("links"), I(i), F("state")],
            "`compare` runs every protocol on clean links of its profiles, and this link is held",
            "remove the held link to compare the protocols; `sharescope run` shows its deadlock",
        ));
    }
    Ok(())
}

/// [`compare_on`] the [`DEFAULT_PROFILES`], `lan` and `wan`.
pub fn compare(plan: &Plan, protocols: &[ProtocolKind]) -> Result<Comparison> {
    compare_on(plan, protocols, &DEFAULT_PROFILES)
}

/// Runs `plan` under each protocol on each profile (at least one) and collects one row per
/// protocol. A protocol that cannot run the program (Pond and `MaxPool2d` or `Argmax`) gets a
/// row with `skipped` set; a run that fails (e.g. an injected fault) is an error.
pub fn compare_on(
    plan: &Plan,
    protocols: &[ProtocolKind],
    profiles: &[Profile],
) -> Result<Comparison> {
    let Some(first) = profiles.first() else {
        return Err(SimError::Usage(format!(
            "name at least one network profile ({})",
            crate::profiles::names()
        )));
    };
    let mut rows = Vec::new();
    for &protocol in protocols {
        // An op the protocol cannot run: the row says which and why.
        let unsupported = plan.ops.iter().find_map(|o| match o {
            crate::scenario::PlannedOp::Compute { op, .. } => {
                protocol.supports(op).err().map(|why| {
                    let what = why.split('\n').next().unwrap_or_default().to_string();
                    format!("{what} ({})", op_name(op))
                })
            }
            _ => None,
        });
        let skip = |why: String| ProtocolRow {
            protocol,
            skipped: Some(why),
            metrics: None,
            max_output_error: 0.0,
            bytes: 0,
            offline_bytes: 0,
            rounds: 0,
            offline_rounds: 0,
            times_ns: vec![],
            hazards: 0,
            critical_path_rounds: 0,
            dag_times_ns: vec![],
        };
        if let Some(why) = unsupported {
            rows.push(skip(why));
            continue;
        }
        let base = match under(plan, protocol) {
            Ok(p) => p,
            Err(why) => {
                rows.push(skip(why));
                continue;
            }
        };
        // The plan's memory estimate is for its own protocol; another one (SecureNN's exact
        // comparisons) may need much more.
        let first_plan = variant(&base, first.link);
        let need = crate::memory::estimate(&first_plan).peak;
        if need > plan.memory_budget.bytes {
            rows.push(skip(format!(
                "needs an estimated {} of memory, more than the budget of {}; raise it with \
                 --memory-limit SIZE",
                crate::memory::gib(need),
                plan.memory_budget.describe()
            )));
            continue;
        }
        let name = protocol_name(protocol);
        let name = name.as_str();
        let lan = crate::run(&first_plan).map_err(|e| annotate(e, name))?;
        let mut times_ns = vec![lan.totals.virtual_time_ns];
        let mut dag_times_ns = vec![lan.totals.dag_virtual_time_ns];
        for p in &profiles[1..] {
            let r = crate::run(&variant(&base, p.link)).map_err(|e| annotate(e, name))?;
            times_ns.push(r.totals.virtual_time_ns);
            dag_times_ns.push(r.totals.dag_virtual_time_ns);
        }
        rows.push(ProtocolRow {
            protocol,
            skipped: None,
            metrics: lan.metrics.clone(),
            max_output_error: lan
                .outputs
                .iter()
                .map(|o| o.max_abs_error)
                .fold(0.0, f64::max),
            bytes: lan.totals.bytes,
            offline_bytes: lan.totals.offline_bytes,
            rounds: lan.totals.rounds,
            offline_rounds: lan.totals.offline_rounds,
            times_ns,
            hazards: lan.trace.ops.iter().map(|o| o.hazards.len()).sum(),
            critical_path_rounds: lan.totals.critical_path_rounds,
            dag_times_ns,
        });
    }
    Ok(Comparison {
        scenario: plan.scenario.name.clone(),
        seed: plan.scenario.seed,
        profiles: profiles.to_vec(),
        rows,
        training: plan
            .training
            .as_ref()
            .map(|t| (t.training.batches_per_epoch, t.training.spec.epochs)),
    })
}

fn annotate(e: SimError, protocol: &str) -> SimError {
    match e {
        SimError::Internal(m) => SimError::Internal(format!("under {protocol}: {m}")),
        SimError::PartyFailed {
            party,
            op,
            step,
            message,
        } => SimError::PartyFailed {
            party,
            op,
            step,
            message: format!("{message} (under {protocol})"),
        },
        other => other,
    }
}

impl Comparison {
    /// The table `sharescope compare` prints.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let on: Vec<String> = self.profiles.iter().map(Profile::describe).collect();
        let _ = writeln!(
            s,
            "compare {}  (seed {}; times predicted with Model(ns_per_ring_op: {NS_PER_RING_OP}) on \
             {})",
            self.scenario,
            self.seed,
            on.join(", "),
        );
        let with_metrics = self.rows.iter().any(|r| r.metrics.is_some());
        let mut head = format!("\n{:<23}", "protocol");
        if with_metrics {
            let _ = write!(
                head,
                " {:>9} {:>9} {:>7}",
                "accuracy", "agreement", "images"
            );
        }
        let _ = write!(
            head,
            " {:>10} {:>10} {:>10} {:>7} {:>7}",
            "max |err|", "online", "offline", "rounds", "off.rds"
        );
        for p in &self.profiles {
            let _ = write!(head, " {:>12}", p.name);
        }
        let _ = write!(head, " {:>7}", "hazards");
        let _ = writeln!(s, "{head}");
        for r in &self.rows {
            let name = match r.protocol.is_insecure() {
                true => format!("{}!", protocol_name(r.protocol)),
                false => protocol_name(r.protocol).to_string(),
            };
            let mut line = format!("{name:<23}");
            if let Some(why) = &r.skipped {
                let _ = writeln!(s, "{line} skipped: {why}");
                continue;
            }
            if with_metrics {
                match &r.metrics {
                    Some(m) => {
                        let _ = write!(
                            line,
                            " {:>9.4} {:>9.4} {:>7}",
                            m.accuracy, m.agreement, m.images
                        );
                    }
                    None => {
                        let _ = write!(line, " {:>9} {:>9} {:>7}", "-", "-", "-");
                    }
                }
            }
            let _ = write!(
                line,
                " {:>10.2e} {:>10} {:>10} {:>7} {:>7}",
                r.max_output_error,
                units::bytes(r.bytes),
                units::bytes(r.offline_bytes),
                r.rounds,
                r.offline_rounds,
            );
            for t in &r.times_ns {
                let _ = write!(line, " {:>12}", units::duration(*t));
            }
            let _ = write!(line, " {:>7}", r.hazards);
            let _ = writeln!(s, "{line}");
        }
        // The same runs on the program's DAG: independent ops overlap (docs/simulator.md).
        let _ = writeln!(
            s,
            "\nDAG schedule (independent ops overlap; the table above runs ops in program order)"
        );
        let mut head = format!("{:<23} {:>7} {:>7}", "protocol", "rounds", "crit.");
        for p in &self.profiles {
            let _ = write!(head, " {:>12}", p.name);
        }
        let _ = writeln!(s, "{head}");
        for r in self.rows.iter().filter(|r| r.skipped.is_none()) {
            let mut line = format!(
                "{:<23} {:>7} {:>7}",
                protocol_name(r.protocol),
                r.rounds,
                r.critical_path_rounds
            );
            for t in &r.dag_times_ns {
                let _ = write!(line, " {:>12}", units::duration(*t));
            }
            let _ = writeln!(s, "{line}");
        }
        if let Some((per_epoch, epochs)) = self.training {
            let _ = writeln!(
                s,
                "\ntraining: the rows above are one iteration (the first, which also shares the \
                 initial weights); an epoch is {per_epoch} iterations, the run {epochs} epoch(s)"
            );
            let mut head = format!("{:<23} {:>10} {:>10}", "per epoch", "online", "offline");
            for p in &self.profiles {
                let _ = write!(head, " {:>12}", p.name);
            }
            let _ = writeln!(s, "{head}");
            let n = per_epoch as u64;
            for r in self.rows.iter().filter(|r| r.skipped.is_none()) {
                let mut line = format!(
                    "{:<23} {:>10} {:>10}",
                    protocol_name(r.protocol),
                    units::bytes(r.bytes * n),
                    units::bytes(r.offline_bytes * n)
                );
                for t in &r.times_ns {
                    let _ = write!(line, " {:>12}", units::duration(*t * n));
                }
                let _ = writeln!(s, "{line}");
            }
        }
        for r in self.rows.iter().filter(|r| r.protocol.is_insecure()) {
            if let Some(why) = r.protocol.insecurity() {
                let _ = writeln!(s, "\n! {why}");
            }
        }
        if let Some(m) = self.rows.iter().find_map(|r| r.metrics.as_ref()) {
            let _ = writeln!(
                s,
                "\nplaintext accuracy {:.4} on {} images ({})",
                m.plaintext_accuracy,
                m.images,
                m.source()
            );
        }
        s
    }
}

/// The op's variant name as scenarios write it (`MaxPool2d`, `Argmax`).
fn op_name(op: &Op) -> String {
    let kind = op.kind();
    match kind {
        "maxpool2d" => "MaxPool2d".into(),
        "avgpool2d" => "AvgPool2d".into(),
        "matmul" => "MatMul".into(),
        "conv2d" => "Conv2d".into(),
        "reduce_sum" => "ReduceSum".into(),
        "conv2d_grad_input" => "Conv2dGradInput".into(),
        "conv2d_grad_filters" => "Conv2dGradFilters".into(),
        "avgpool2d_grad" => "AvgPool2dGrad".into(),
        "maxpool2d_grad" => "MaxPool2dGrad".into(),
        "maxpool2d_with_onehot" => "MaxPool2dWithOneHot".into(),
        "maxpool2d_grad_onehot" => "MaxPool2dGradOneHot".into(),
        other => {
            let mut c = other.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        }
    }
}
