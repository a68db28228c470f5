//! `sharescope leak`: does a party's view depend on the other parties' secrets?
//!
//! Secure computation promises that what a party sees — the messages it receives, the randomness
//! it draws and deals, the values opened to it — has a distribution that depends only on its own
//! inputs and outputs. The check re-runs a scenario many times with fresh seeds under two
//! assignments of the secret inputs, (A) the scenario's own and (B) an [`Alternative`], and
//! tests, feature by feature ([`features`]), whether each party's view is distributed the same
//! way under both ([`stats`]). When party P is tested only inputs P does not own change, and the
//! ops whose result is revealed to P (its outputs, and `Reveal`s for the servers) are left out:
//! they legitimately differ. The method, its features, statistics and limits are in
//! docs/leak.md.
//!
//! A finding is evidence, not proof, and no finding is not a proof of security: the test sees
//! only what its features and its number of runs can see.

pub mod features;
pub mod stats;

use crate::error::{Result, SimError};
use crate::scenario::{
    self, Data, Distribution, NetworkMode, PathSeg, Plan, PlannedInput, PlannedOp, Timing,
};
use features::{Extracted, FeatureDesc, Schema};
use protocols::program::Op;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

/// The family-wise error rate of the whole check: Holm within a party, Bonferroni across the
/// parties tested.
pub const ALPHA: f64 = 0.01;
/// The most runs per assignment `sharescope leak` accepts.
pub const MAX_RUNS: usize = 100_000;

/// The second assignment of the secret inputs.
#[derive(Debug, Clone)]
pub enum Alternative {
    /// Element i of the j-th input is E[(i + j) mod 5] with E = (0, −1, 2^(int_bits−1),
    /// −2^(int_bits−1), −2^−frac_bits): zero, the ends of the range, and the values whose
    /// encodings are all ones (−1 ulp) — the inputs most unlike typical data. The default.
    Extremes,
    /// Each input drawn again from its distribution (`Random(..)`), or resampled with
    /// replacement from its own values (`Values`, `Npy`), with a seed derived from the scenario's.
    Redraw,
    /// The inputs of a second scenario with the same input names and shapes.
    Scenario {
        /// Where they came from.
        name: String,
        /// Its inputs.
        inputs: Vec<PlannedInput>,
    },
}

impl Alternative {
    /// A short description for the report.
    pub fn describe(&self) -> String {
        match self {
            Alternative::Extremes => {
                "extremes (0, −1, ±2^(int_bits−1), −2^−frac_bits, cycling over elements)".into()
            }
            Alternative::Redraw => "a re-draw from the same distribution".into(),
            Alternative::Scenario { name, .. } => format!("the inputs of {name}"),
        }
    }

    /// Reads the alternative inputs from scenario file `path`: it must hold every private input
    /// of `plan` with the same shape (a located error otherwise).
    pub fn from_file(plan: &Plan, path: &Path) -> Result<Alternative> {
        let source = scenario::Source::from_file(path)?;
        let alt = scenario::load_source(&source)?;
        for inp in plan.inputs.iter().filter(|i| i.owner.is_some()) {
            let Some(idx) = alt.scenario.inputs.iter().position(|i| i.name == inp.name) else {
                return Err(source
                    .error_at_path(
                        &[PathSeg::Field("inputs")],
                        format!(
                            "the alternative has no input `{}` (a private input of {})",
                            inp.name, plan.source_name
                        ),
                        "the alternative scenario must define every private input of the tested \
                         one, with the same names and shapes",
                    )
                    .into());
            };
            let (want, got) = (&inp.shape, &alt.inputs[idx].shape);
            if want != got {
                return Err(source
                    .error_at_path(
                        &[
                            PathSeg::Field("inputs"),
                            PathSeg::Item(idx),
                            PathSeg::Field("shape"),
                        ],
                        format!(
                            "input `{}` has shape {got:?} here but {want:?} in {}",
                            inp.name, plan.source_name
                        ),
                        "give it the tested scenario's shape",
                    )
                    .into());
            }
        }
        Ok(Alternative::Scenario {
            name: source.name.clone(),
            inputs: alt.inputs,
        })
    }

    /// Input `j`'s values under this alternative, row-major.
    fn values(&self, plan: &Plan, j: usize, inp: &PlannedInput) -> Result<Vec<f64>> {
        let n: usize = inp.shape.iter().product();
        let stored = |i: &PlannedInput| -> Result<Vec<f64>> {
            i.values()
                .map(|v| v.iter().copied().collect())
                .map_err(|message| SimError::Io {
                    path: i.name.clone(),
                    message,
                })
        };
        Ok(match self {
            Alternative::Extremes => {
                let cfg = plan.scenario.fixed_point;
                let big = (2f64).powi(cfg.int_bits as i32 - 1);
                let e = [0.0, -1.0, big, -big, -(2f64).powi(-(cfg.frac_bits as i32))];
                (0..n).map(|k| e[(k + j) % e.len()]).collect()
            }
            Alternative::Redraw => {
                let mut rng = ChaCha20Rng::seed_from_u64(
                    plan.scenario.seed
                        ^ 0x7ed7_a1e5
                        ^ (j as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                );
                let dist = plan
                    .scenario
                    .inputs
                    .iter()
                    .find(|s| s.name == inp.name)
                    .and_then(|s| match s.data {
                        Data::Random(d) => Some(d),
                        _ => None,
                    });
                match dist {
                    Some(Distribution::Uniform(lo, hi)) => {
                        (0..n).map(|_| lo + (hi - lo) * rng.gen::<f64>()).collect()
                    }
                    Some(Distribution::Normal(m, s)) => (0..n)
                        .map(|_| {
                            let u1: f64 = 1.0 - rng.gen::<f64>();
                            let u2: f64 = rng.gen();
                            m + s
                                * (-2.0 * u1.ln()).sqrt()
                                * (2.0 * std::f64::consts::PI * u2).cos()
                        })
                        .collect(),
                    None => {
                        let flat = stored(inp)?;
                        (0..n)
                            .map(|_| flat[rng.gen_range(0..flat.len().max(1))])
                            .collect()
                    }
                }
            }
            Alternative::Scenario { inputs, .. } => {
                stored(inputs.iter().find(|i| i.name == inp.name).unwrap_or(inp))?
            }
        })
    }
}

/// What to check.
#[derive(Debug, Clone)]
pub struct Options {
    /// Runs per assignment.
    pub runs: usize,
    /// Test only this party (an index), or every party.
    pub party: Option<usize>,
    /// The second assignment.
    pub alternative: Alternative,
    /// Family-wise error rate.
    pub alpha: f64,
    /// Runs simulated at once (0: one per core).
    pub workers: usize,
}

impl Options {
    /// `runs` runs per assignment against the default alternative (extremes), every party.
    pub fn new(runs: usize) -> Options {
        Options {
            runs,
            party: None,
            alternative: Alternative::Extremes,
            alpha: ALPHA,
            workers: 0,
        }
    }
}

/// The index of party `name` in `plan`, or a usage error with the parties listed.
pub fn party_index(plan: &Plan, name: &str) -> Result<usize> {
    plan.parties.iter().position(|p| p == name).ok_or_else(|| {
        let close = scenario::closest(name, plan.parties.iter().map(String::as_str))
            .map(|c| format!("did you mean `{c}`? "))
            .unwrap_or_default();
        SimError::Usage(format!(
            "--party: {} has no party `{name}`; {close}its parties are: {}",
            plan.source_name,
            plan.parties.join(", ")
        ))
    })
}

/// An op left out of a party's test: its result is the party's to learn.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Excluded {
    /// Op index.
    pub op: usize,
    /// Op label.
    pub name: String,
    /// Why.
    pub reason: String,
}

/// One feature whose distribution differs between the assignments.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Op index.
    pub op: usize,
    /// Op label.
    pub op_name: String,
    /// Global step index.
    pub step: usize,
    /// Step name.
    pub step_name: String,
    /// The message it reads, if any: its label.
    pub message: Option<String>,
    /// … and its sender.
    pub sender: Option<String>,
    /// The feature.
    pub feature: String,
    /// The feature's description, structured.
    pub detail: Option<FeatureDesc>,
    /// Chi-square statistic (after the design-effect correction for pooled features).
    pub statistic: f64,
    /// Degrees of freedom.
    pub df: usize,
    /// Uncorrected p-value.
    pub p_raw: f64,
    /// Corrected p-value (Holm within the party, times the number of parties with features).
    pub p: f64,
}

/// The verdict on one op for one party.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpVerdict {
    /// Op index.
    pub op: usize,
    /// Op label.
    pub name: String,
    /// Op kind.
    pub kind: String,
    /// Features tested in the op.
    pub features: usize,
    /// Smallest corrected p-value among them (1 without features).
    pub min_p: f64,
    /// Whether one of them is below α.
    pub leak: bool,
    /// Why the op was not tested, if it was excluded.
    pub excluded: Option<String>,
}

/// The verdict on one party.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartyReport {
    /// Party name.
    pub party: String,
    /// Inputs that differ between the assignments (those the party does not own).
    pub changed: Vec<String>,
    /// The party's own inputs (fixed).
    pub own: Vec<String>,
    /// Ops left out as the party's legitimate output.
    pub excluded: Vec<Excluded>,
    /// Features tested.
    pub features: usize,
    /// Runs per assignment whose view layout matched the reference run's (A, B).
    pub comparable_runs: [usize; 2],
    /// Smallest corrected p-value (1 without features).
    pub min_p: f64,
    /// Whether a leak was found.
    pub leak: bool,
    /// Per op.
    pub ops: Vec<OpVerdict>,
    /// Features below α, strongest first (at most 100).
    pub findings: Vec<Finding>,
}

/// The whole check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeakReport {
    /// Scenario name.
    pub scenario: String,
    /// Protocol.
    pub protocol: String,
    /// What the protocol gives away by design, if it is a labelled insecure variant.
    pub insecurity: Option<String>,
    /// Planted flaws in the scenario (faults of kind ReuseMask).
    pub planted: Vec<String>,
    /// Runs per assignment.
    pub runs: usize,
    /// The alternative assignment.
    pub alternative: String,
    /// The family-wise error rate.
    pub alpha: f64,
    /// Per party.
    pub parties: Vec<PartyReport>,
    /// Notes (e.g. an alternative equal to the scenario's inputs).
    pub notes: Vec<String>,
    /// Whether some party's view leaks.
    pub leak: bool,
}

/// One assignment of the inputs and the parties whose views are taken from its runs.
struct RunSet {
    inputs: Vec<PlannedInput>,
    tag: u64,
    parties: Vec<usize>,
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The seed of run `k` of the assignment tagged `tag`: every run has its own, all derived from
/// the scenario's seed.
pub fn run_seed(scenario_seed: u64, tag: u64, k: usize) -> u64 {
    splitmix(splitmix(scenario_seed ^ splitmix(tag)) ^ k as u64)
}

/// The plan a leak run simulates: deterministic model timing, virtual network, and a trace that
/// keeps enough of every value for the features.
fn leak_plan(plan: &Plan) -> Plan {
    let mut p = plan.clone();
    if matches!(p.scenario.timing, Timing::Measured) {
        p.scenario.timing = Timing::Model {
            ns_per_ring_op: 1.0,
        };
    }
    p.scenario.network.mode = NetworkMode::Virtual;
    p.scenario.trace.max_values = p.scenario.trace.max_values.max(features::POOLED);
    p.metrics = None;
    p
}

/// Ops whose result `party` legitimately learns: its outputs, and `Reveal`s at the servers.
fn legitimate(plan: &Plan, party: usize) -> Vec<Excluded> {
    let servers = plan.share_holders();
    plan.ops
        .iter()
        .enumerate()
        .filter_map(|(i, op)| {
            let reason = match op {
                PlannedOp::Output { to, .. } if *to == party => {
                    "the party's output: revealed to it".to_string()
                }
                PlannedOp::Compute {
                    op: Op::Reveal(x), ..
                } if servers.contains(&party) => format!("`{x}` is opened to the servers"),
                _ => return None,
            };
            Some(Excluded {
                op: i,
                name: op.label(),
                reason,
            })
        })
        .collect()
}

/// Per party, what its runs accumulate.
struct Acc {
    schema: Schema,
    reference: u64,
    pos_offsets: Vec<usize>,
    pos_counts: [Vec<u64>; 2],
    pooled: [Vec<stats::Pooled>; 2],
    layout: [[u64; 2]; 2],
}

impl Acc {
    fn new(schema: Schema, reference: u64) -> Acc {
        let mut offsets = Vec::with_capacity(schema.positions.len() + 1);
        let mut off = 0;
        for f in &schema.positions {
            offsets.push(off);
            off += f.measure.categories();
        }
        offsets.push(off);
        let pooled: Vec<stats::Pooled> = schema
            .pooled
            .iter()
            .map(|(_, k)| stats::Pooled::new(*k))
            .collect();
        Acc {
            schema,
            reference,
            pos_offsets: offsets,
            pos_counts: [vec![0; off], vec![0; off]],
            pooled: [pooled.clone(), pooled],
            layout: [[0; 2]; 2],
        }
    }

    fn add(&mut self, sample: usize, x: &Extracted) {
        let same = x.layout == self.reference
            && x.positions.len() == self.schema.positions.len()
            && x.pooled.len() == self.schema.pooled.iter().map(|(_, k)| *k).sum::<usize>();
        self.layout[sample][usize::from(!same)] += 1;
        if !same {
            return;
        }
        for (f, &c) in x.positions.iter().enumerate() {
            self.pos_counts[sample][self.pos_offsets[f] + c as usize] += 1;
        }
        let mut off = 0;
        for (f, (_, k)) in self.schema.pooled.iter().enumerate() {
            self.pooled[sample][f].add(&x.pooled[off..off + k]);
            off += k;
        }
    }
}

/// Checks whether the parties' views in `plan` depend on the other parties' secrets.
pub fn check(plan: &Plan, opts: &Options) -> Result<LeakReport> {
    check_observed(plan, opts, &mut |_| {})
}

/// [`check`], telling `observe` how many of its runs are done (runs of both assignments, the
/// reference run included): at the start, after each run, and so at the end.
pub fn check_observed(
    plan: &Plan,
    opts: &Options,
    observe: &mut dyn FnMut(crate::progress::Advance),
) -> Result<LeakReport> {
    if opts.runs < 2 || opts.runs > MAX_RUNS {
        return Err(SimError::Usage(format!(
            "--runs: {} runs per assignment; give 2 to {MAX_RUNS} (30 or more for a useful test)",
            opts.runs
        )));
    }
    let base = leak_plan(plan);
    let n = plan.parties.len();
    let tested: Vec<usize> = match opts.party {
        Some(p) if p < n => vec![p],
        Some(p) => return Err(SimError::Usage(format!("--party: no party with index {p}"))),
        None => (0..n).collect(),
    };
    let owned = |p: usize| -> Vec<usize> {
        (0..plan.inputs.len())
            .filter(|&i| plan.inputs[i].owner == Some(p))
            .collect()
    };
    // Assignment A, then one B per distinct set of fixed (own) inputs.
    let mut sets = vec![RunSet {
        inputs: plan.inputs.clone(),
        tag: 0xA,
        parties: tested.clone(),
    }];
    let mut notes = plan.warnings.clone();
    for &p in &tested {
        let own = owned(p);
        let tag = own.iter().fold(0xB_u64, |h, &i| splitmix(h ^ i as u64));
        if let Some(s) = sets.iter_mut().skip(1).find(|s| s.tag == tag) {
            s.parties.push(p);
            continue;
        }
        let inputs: Vec<PlannedInput> = plan
            .inputs
            .iter()
            .enumerate()
            .map(|(j, inp)| {
                let mut inp = inp.clone();
                if inp.owner.is_some() && !own.contains(&j) {
                    let v = opts.alternative.values(plan, j, &inp)?;
                    inp.data = scenario::InputData::Values(std::sync::Arc::new(v));
                }
                Ok(inp)
            })
            .collect::<Result<_>>()?;
        let changed: Vec<&str> = plan
            .inputs
            .iter()
            .zip(&inputs)
            .filter(|(a, b)| a.owner.is_some() && a.values().ok() != b.values().ok())
            .map(|(a, _)| a.name.as_str())
            .collect();
        let candidates = plan
            .inputs
            .iter()
            .enumerate()
            .filter(|(j, i)| i.owner.is_some() && !own.contains(j))
            .count();
        if candidates == 0 {
            notes.push(format!(
                "for {}: every input is public or its own; nothing secret can change",
                plan.parties[p]
            ));
        } else if changed.len() < candidates {
            notes.push(format!(
                "for {}: the alternative leaves {} of {candidates} secret inputs as they are",
                plan.parties[p],
                candidates - changed.len()
            ));
        }
        sets.push(RunSet {
            inputs,
            tag,
            parties: vec![p],
        });
    }

    // The reference run (A, run 0) fixes each party's features; then every run in parallel.
    let step_names = |t: &crate::trace::Trace| -> Vec<String> {
        t.steps.iter().map(|s| s.name.clone()).collect()
    };
    let excluded: Vec<Vec<Excluded>> = (0..n).map(|p| legitimate(plan, p)).collect();
    // The protocol's attack on a seat's view, if it has one (SecureNN's helper probe).
    let probe_of = plan.protocol().probe();
    let helper = probe_of.map_or(usize::MAX, |p| plan.seats[p.attacker]);
    type Views = Vec<(usize, Extracted, Option<Schema>)>;
    let run_one = |set: usize, k: usize, schema: bool| -> Result<(Views, Vec<String>)> {
        let mut p = base.clone();
        p.inputs = sets[set].inputs.clone();
        p.scenario.seed = run_seed(plan.scenario.seed, sets[set].tag, k);
        let r = crate::engine::run(&p).map_err(|e| match (set, e) {
            (0, e) => e,
            (
                _,
                SimError::PartyFailed {
                    party,
                    op,
                    step,
                    message,
                },
            ) => SimError::PartyFailed {
                party,
                op,
                step,
                message: format!("{message} (with the alternative inputs)"),
            },
            (_, e) => e,
        })?;
        let names = step_names(&r.trace);
        let probe = probe_of
            .filter(|_| sets[set].parties.contains(&helper))
            .map(|pr| {
                let servers = pr.servers.map(|k| plan.seats[k]);
                crate::attack::recover(&r.trace, helper, servers)
            });
        let step_name = |k: usize| names.get(k).cloned().unwrap_or_default();
        let out = sets[set]
            .parties
            .iter()
            .map(|&party| {
                let items: Vec<_> = crate::view::view(&r.trace, party, usize::MAX)
                    .into_iter()
                    .filter(|it| !excluded[party].iter().any(|e| e.op == it.op))
                    .collect();
                let cx = features::Context {
                    parties: &plan.parties,
                    step_name: &step_name,
                    probe: probe.as_deref().filter(|_| party == helper),
                };
                let (x, s) = features::extract(&items, &cx, schema);
                (party, x, s)
            })
            .collect();
        Ok((out, if schema { names } else { Vec::new() }))
    };
    let mut accs: Vec<Option<Acc>> = (0..n).map(|_| None).collect();
    let total = (sets.len() * opts.runs) as u64;
    let mut done = 0;
    let mut advance = |done: u64| {
        observe(crate::progress::Advance {
            done,
            total,
            steps: 0,
        })
    };
    advance(done);
    let (reference, names) = run_one(0, 0, true)?;
    done += 1;
    advance(done);
    for (party, x, s) in reference {
        let mut acc = Acc::new(s.expect("schema asked for"), x.layout);
        acc.add(0, &x);
        accs[party] = Some(acc);
    }
    let jobs: Vec<(usize, usize)> = (0..sets.len())
        .flat_map(|s| (0..opts.runs).map(move |k| (s, k)))
        .filter(|&j| j != (0, 0))
        .collect();
    let workers = match opts.workers {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        w => w,
    }
    .min(jobs.len().max(1));
    let next = AtomicUsize::new(0);
    let failure: std::sync::Mutex<Option<SimError>> = std::sync::Mutex::new(None);
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<(usize, Views)>(2 * workers);
        for _ in 0..workers {
            let tx = tx.clone();
            let (jobs, next, failure, run_one) = (&jobs, &next, &failure, &run_one);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(set, k)) = jobs.get(i) else { break };
                if failure.lock().map(|f| f.is_some()).unwrap_or(true) {
                    break;
                }
                match run_one(set, k, false) {
                    Ok((x, _)) => {
                        if tx.send((set, x)).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        if let Ok(mut f) = failure.lock() {
                            f.get_or_insert(e);
                        }
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (set, xs) in rx {
            done += 1;
            advance(done);
            let sample = usize::from(set != 0);
            for (party, x, _) in xs {
                if let Some(acc) = &mut accs[party] {
                    acc.add(sample, &x);
                }
            }
        }
    });
    if let Some(e) = failure.into_inner().ok().flatten() {
        return Err(e);
    }

    // Tests. The Bonferroni factor counts the parties that have something to test.
    let families = accs
        .iter()
        .flatten()
        .filter(|a| !a.schema.positions.is_empty() || !a.schema.pooled.is_empty())
        .count()
        .max(1);
    let parties = tested
        .iter()
        .map(|&p| {
            let acc = accs[p]
                .take()
                .expect("every tested party has a reference run");
            party_report(plan, &names, p, acc, &excluded[p], families, opts.alpha)
        })
        .collect::<Vec<_>>();
    let leak = parties.iter().any(|p| p.leak);
    Ok(LeakReport {
        scenario: plan.scenario.name.clone(),
        protocol: format!("{:?}", plan.scenario.protocol),
        insecurity: plan.scenario.protocol.insecurity().map(str::to_string),
        planted: plan
            .scenario
            .faults
            .iter()
            .filter(|f| f.kind == scenario::FaultKind::ReuseMask)
            .map(|f| {
                format!(
                    "ReuseMask in `{}` (one Beaver mask for both operands)",
                    f.op
                )
            })
            .collect(),
        runs: opts.runs,
        alternative: opts.alternative.describe(),
        alpha: opts.alpha,
        parties,
        notes,
        leak,
    })
}

fn party_report(
    plan: &Plan,
    names: &[String],
    party: usize,
    acc: Acc,
    excluded: &[Excluded],
    parties_tested: usize,
    alpha: f64,
) -> PartyReport {
    // Every feature's test: the layout first, then per-position, then pooled.
    let mut tests: Vec<(Option<&FeatureDesc>, stats::Test)> = Vec::new();
    let lay = acc.layout;
    tests.push((
        None,
        stats::chi_square(
            &stats::Table {
                a: &lay[0],
                b: &lay[1],
            },
            1.0,
        ),
    ));
    for (f, desc) in acc.schema.positions.iter().enumerate() {
        let (lo, hi) = (acc.pos_offsets[f], acc.pos_offsets[f + 1]);
        let t = stats::chi_square(
            &stats::Table {
                a: &acc.pos_counts[0][lo..hi],
                b: &acc.pos_counts[1][lo..hi],
            },
            1.0,
        );
        tests.push((Some(desc), t));
    }
    for (f, (desc, _)) in acc.schema.pooled.iter().enumerate() {
        let (a, b) = (&acc.pooled[0][f], &acc.pooled[1][f]);
        let d = stats::design_effect([a, b]);
        let t = stats::chi_square(
            &stats::Table {
                a: &a.sum,
                b: &b.sum,
            },
            d,
        );
        tests.push((Some(desc), t));
    }
    let raw: Vec<f64> = tests.iter().map(|(_, t)| t.p).collect();
    let adjusted: Vec<f64> = stats::holm(&raw)
        .into_iter()
        .map(|p| (p * parties_tested as f64).min(1.0))
        .collect();
    let step_name = |k: usize| names.get(k).cloned().unwrap_or_default();
    let mut findings: Vec<Finding> = tests
        .iter()
        .zip(&adjusted)
        .filter(|(_, &p)| p < alpha)
        .map(|((desc, t), &p)| match desc {
            Some(d) => {
                let (message, sender) = match d.message() {
                    Some((l, s)) => (Some(l.to_string()), Some(s.to_string())),
                    None => (None, None),
                };
                Finding {
                    op: d.op,
                    op_name: plan.ops.get(d.op).map(PlannedOp::label).unwrap_or_default(),
                    step: d.step,
                    step_name: step_name(d.step),
                    message,
                    sender,
                    feature: d.text(),
                    detail: Some((*d).clone()),
                    statistic: t.statistic,
                    df: t.df,
                    p_raw: t.p,
                    p,
                }
            }
            None => Finding {
                op: 0,
                op_name: String::new(),
                step: 0,
                step_name: String::new(),
                message: None,
                sender: None,
                feature: "the view's layout (which items arrive, their sizes) differs from run \
                          to run"
                    .into(),
                detail: None,
                statistic: t.statistic,
                df: t.df,
                p_raw: t.p,
                p,
            },
        })
        .collect();
    findings.sort_by(|a, b| a.p.total_cmp(&b.p).then(a.step.cmp(&b.step)));
    findings.truncate(100);
    let ops = plan
        .ops
        .iter()
        .enumerate()
        .map(|(i, op)| {
            let mine: Vec<f64> = tests
                .iter()
                .zip(&adjusted)
                .filter(|((d, _), _)| d.is_some_and(|d| d.op == i))
                .map(|(_, &p)| p)
                .collect();
            let min_p = mine.iter().copied().fold(1.0, f64::min);
            OpVerdict {
                op: i,
                name: op.label(),
                kind: op.kind().to_string(),
                features: mine.len(),
                min_p,
                leak: min_p < alpha,
                excluded: excluded
                    .iter()
                    .find(|e| e.op == i)
                    .map(|e| e.reason.clone()),
            }
        })
        .collect();
    let min_p = adjusted.iter().copied().fold(1.0, f64::min);
    let own: Vec<String> = plan
        .inputs
        .iter()
        .filter(|i| i.owner == Some(party))
        .map(|i| i.name.clone())
        .collect();
    PartyReport {
        party: plan.parties[party].clone(),
        changed: plan
            .inputs
            .iter()
            .filter(|i| i.owner.is_some() && i.owner != Some(party))
            .map(|i| i.name.clone())
            .collect(),
        own,
        excluded: excluded.to_vec(),
        features: tests.len() - 1,
        comparable_runs: [lay[0][0] as usize, lay[1][0] as usize],
        min_p,
        leak: min_p < alpha,
        ops,
        findings,
    }
}

fn fmt_p(p: f64) -> String {
    if p >= 0.01 {
        format!("{p:.2}")
    } else {
        format!("{p:.1e}")
    }
}

impl LeakReport {
    /// The table `sharescope leak` prints.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "leak check: scenario {}  (protocol {})",
            self.scenario, self.protocol
        );
        if let Some(w) = &self.insecurity {
            let _ = writeln!(s, "warning: {w}");
        }
        for p in &self.planted {
            let _ = writeln!(s, "warning: PLANTED FLAW {p}");
        }
        let _ = writeln!(
            s,
            "{} runs per assignment: (A) the scenario's inputs, (B) {}",
            self.runs, self.alternative
        );
        let _ = writeln!(
            s,
            "α = {} for the whole check (Holm within a party, Bonferroni across the {} parties \
             with features)",
            self.alpha,
            self.parties.iter().filter(|p| p.features > 0).count()
        );
        for n in &self.notes {
            let _ = writeln!(s, "note: {n}");
        }
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "{:<12} {:<24} {:>9} {:>13}  verdict",
            "party", "secrets changed", "features", "min p (corr.)"
        );
        for p in &self.parties {
            let changed = if p.changed.is_empty() {
                "(none)".to_string()
            } else {
                p.changed.join(", ")
            };
            let verdict = if p.leak {
                "LEAK"
            } else if p.features == 0 {
                "nothing to test"
            } else {
                "no evidence"
            };
            let _ = writeln!(
                s,
                "{:<12} {:<24} {:>9} {:>13}  {verdict}",
                p.party,
                truncate(&changed, 24),
                p.features,
                if p.features == 0 {
                    "—".to_string()
                } else {
                    fmt_p(p.min_p)
                }
            );
        }
        for p in &self.parties {
            let _ = writeln!(s);
            let own = if p.own.is_empty() {
                String::new()
            } else {
                format!("; its own inputs fixed: {}", p.own.join(", "))
            };
            let _ = writeln!(
                s,
                "{} — runs compared: {} (A), {} (B){own}",
                p.party, p.comparable_runs[0], p.comparable_runs[1]
            );
            let _ = writeln!(
                s,
                "  {:<22} {:<10} {:>9} {:>13}  verdict",
                "op", "kind", "features", "min p (corr.)"
            );
            for o in &p.ops {
                let (feat, minp, verdict) = match &o.excluded {
                    Some(why) => ("—".to_string(), "—".to_string(), format!("left out: {why}")),
                    None if o.features == 0 => {
                        ("0".to_string(), "—".to_string(), "nothing seen".to_string())
                    }
                    None => (
                        o.features.to_string(),
                        fmt_p(o.min_p),
                        if o.leak { "LEAK" } else { "no evidence" }.to_string(),
                    ),
                };
                let _ = writeln!(
                    s,
                    "  {:<22} {:<10} {:>9} {:>13}  {verdict}",
                    truncate(&o.name, 22),
                    o.kind,
                    feat,
                    minp
                );
            }
            for f in p.findings.iter().take(5) {
                let at = if f.step_name.is_empty() {
                    String::new()
                } else {
                    format!("op `{}` step {} “{}”: ", f.op_name, f.step, f.step_name)
                };
                let msg = match (&f.message, &f.sender) {
                    (Some(m), Some(s)) => format!("\n      message “{m}” from {s}"),
                    _ => String::new(),
                };
                let _ = writeln!(
                    s,
                    "  LEAK {at}{}{msg}\n      p = {} (corrected; uncorrected {}, χ² = {:.1}, df {})",
                    f.feature,
                    fmt_p(f.p),
                    fmt_p(f.p_raw),
                    f.statistic,
                    f.df
                );
            }
            if p.findings.len() > 5 {
                let _ = writeln!(
                    s,
                    "  … and {} more features below α (all in --json)",
                    p.findings.len() - 5
                );
            }
        }
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "{}",
            if self.leak {
                "verdict: LEAK — some party's view depends on secrets it should not learn"
            } else {
                "verdict: no evidence of a leak (within what these features and runs can see)"
            }
        );
        s
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let t: String = s.chars().take(n - 1).collect();
        format!("{t}…")
    }
}

/// Runs the check with `runs` runs per assignment (extremes, every party) and panics with the
/// report if some party's view leaks: the view test every protocol op should have.
pub fn assert_no_leak(plan: &Plan, runs: usize) -> LeakReport {
    let r = check(plan, &Options::new(runs)).unwrap_or_else(|e| panic!("leak check failed: {e}"));
    assert!(!r.leak, "{}", r.text());
    r
}

/// Runs the check and panics unless it finds a leak; returns the report.
pub fn assert_leak(plan: &Plan, runs: usize) -> LeakReport {
    let r = check(plan, &Options::new(runs)).unwrap_or_else(|e| panic!("leak check failed: {e}"));
    assert!(r.leak, "expected a leak:\n{}", r.text());
    r
}
