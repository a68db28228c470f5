//! The command line: `sharescope [run|check|debug] …`; no subcommand opens the debugger on the
//! built-in scenario when stdout is a terminal, and prints the headless report otherwise.

use clap::{Parser, Subcommand};
use sim::memory::MemoryBudget;
use sim::scenario::{self, Plan, Source};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// sharescope: a simulator and interactive debugger for secret-sharing MPC.
#[derive(Debug, Parser)]
#[command(name = "sharescope", version, about, long_about = None)]
pub struct Cli {
    /// What to do (default: open the built-in scenario).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario headless and print outputs, errors and a per-op cost table.
    Run {
        /// Scenario file (RON).
        scenario: PathBuf,
        /// Also write the JSON report here (`-`: standard output; the text report then goes to
        /// standard error).
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Also write the trace as Chrome / Perfetto trace-event JSON here (open it in
        /// chrome://tracing or ui.perfetto.dev; `-`: standard output).
        #[arg(long, value_name = "FILE")]
        chrome_trace: Option<PathBuf>,
        /// Memory budget the run's estimated peak must fit, e.g. 8G, 512M or bytes (default:
        /// half of this machine's physical memory).
        #[arg(long, value_name = "SIZE", value_parser = parse_memory_limit)]
        memory_limit: Option<u64>,
        /// Exit with code 4 if a hazard fired or an output's max |error| exceeds TOL
        /// (default 1e-3 when the flag is given without a value).
        #[arg(long, value_name = "TOL", num_args = 0..=1, default_missing_value = "1e-3")]
        strict: Option<f64>,
        /// How computation advances virtual clocks, overriding the scenario's `timing`.
        #[arg(long, value_enum, value_name = "MODE")]
        timing: Option<TimingMode>,
        /// How many of each output's values the JSON report writes: `summary` (the first
        /// `trace.max_values`, 256 by default, with the count) or `all`.
        #[arg(long, value_enum, value_name = "WHICH", default_value = "summary")]
        values: ValuesMode,
    },
    /// Open the interactive debugger on a scenario.
    Debug {
        /// Scenario file (RON); the built-in scenario when omitted.
        scenario: Option<PathBuf>,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// How computation advances virtual clocks, overriding the scenario's `timing`.
        #[arg(long, value_enum, value_name = "MODE")]
        timing: Option<TimingMode>,
        /// Memory budget the run's estimated peak must fit, e.g. 8G, 512M or bytes (default:
        /// half of this machine's physical memory).
        #[arg(long, value_name = "SIZE", value_parser = parse_memory_limit)]
        memory_limit: Option<u64>,
        /// A training scenario: open the debugger at this iteration (the ones before it run
        /// headless first, carrying the weights as shares); default 0, the first.
        #[arg(long, value_name = "K")]
        iteration: Option<usize>,
    },
    /// Test whether a party's view depends on the other parties' secrets: re-run the scenario
    /// with fresh seeds under its own inputs and under an alternative, and compare each party's
    /// view feature by feature (docs/leak.md). Exit 0: no evidence; 3: a leak was found.
    Leak {
        /// Scenario file (RON).
        scenario: PathBuf,
        /// Test only this party (default: every party).
        #[arg(long, value_name = "P")]
        party: Option<String>,
        /// Runs per assignment.
        #[arg(long, value_name = "N", default_value_t = 50)]
        runs: usize,
        /// The alternative inputs: `extremes` (0, −1, ±2^(int_bits−1), −1 ulp), `redraw` (from the
        /// same distribution), or a scenario FILE with the same input names and shapes.
        #[arg(long, value_name = "FILE|redraw|extremes", default_value = "extremes")]
        alt: String,
        /// Override the scenario's seed (the run seeds derive from it).
        #[arg(long)]
        seed: Option<u64>,
        /// Also write the figures as JSON here (`-`: standard output).
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// Validate a scenario (exit 0 if it is runnable, 1 with the error otherwise) and print what a
    /// run would cost, per op and in total, without running it.
    Check {
        /// Scenario file (RON).
        scenario: PathBuf,
        /// Also write the cost estimate as JSON here (`-`: standard output; the text then goes
        /// to standard error).
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Memory budget the run's estimated peak must fit, e.g. 8G, 512M or bytes (default:
        /// half of this machine's physical memory).
        #[arg(long, value_name = "SIZE", value_parser = parse_memory_limit)]
        memory_limit: Option<u64>,
    },
    /// Run a scenario under several protocols and print one table: accuracy, error, bytes,
    /// rounds, and predicted time on each network profile.
    Compare {
        /// Scenario file (RON).
        scenario: PathBuf,
        /// Comma-separated protocols, any registered one: pond, securenn, securenn-shortcut,
        /// securenn-as-published, … (an unknown name lists them all).
        #[arg(long, default_value = "pond,securenn")]
        protocols: String,
        /// Comma-separated network profiles to predict times on: lan, wan, securenn-lan,
        /// securenn-wan.
        #[arg(long, default_value = "lan,wan")]
        profiles: String,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Memory budget the run's estimated peak must fit, e.g. 8G, 512M or bytes (default:
        /// half of this machine's physical memory).
        #[arg(long, value_name = "SIZE", value_parser = parse_memory_limit)]
        memory_limit: Option<u64>,
    },
    /// Turn an ONNX model into a scenario (docs/import.md): the client holds the input, the model
    /// owner the weights (written as .npy files in NAME-weights/ beside the scenario); prints
    /// what `check` prints for it.
    Import {
        /// The model (.onnx).
        model: PathBuf,
        /// The scenario to write (.ron).
        #[arg(short, long, value_name = "SCENARIO.ron")]
        output: PathBuf,
        /// The protocol the scenario runs, any registered one (pond, securenn, …).
        #[arg(long, default_value = "securenn")]
        protocol: String,
        /// The batch size, for a model whose batch dimension is dynamic (default: the first
        /// dimension of --inputs).
        #[arg(long, value_name = "N")]
        batch: Option<usize>,
        /// The client's data (.npy, batch first); random stand-in data when omitted.
        #[arg(long, value_name = "DATA.npy")]
        inputs: Option<PathBuf>,
        /// One class label per row (.npy): the scenario then reports accuracy and agreement.
        #[arg(long, value_name = "LABELS.npy")]
        labels: Option<PathBuf>,
    },
    /// Print a completion script for SHELL to standard output, e.g.
    /// `sharescope completions bash > ~/.local/share/bash-completion/completions/sharescope`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to standard output, e.g. `sharescope man | man -l -`; with a
    /// subcommand, that subcommand's page.
    Man {
        /// A subcommand (`run`, `check`, …) for its own page.
        subcommand: Option<String>,
    },
    /// Time issue 11's workloads (W1–W4: product of 10^6, matmul 256, logistic regression,
    /// MLP) and the MNIST Networks A–D at batch 128, each against a plaintext f64 computation of
    /// the same program in the same run: wall, CPU time, peak memory (docs/performance.md).
    /// Build with `--release`.
    Bench {
        /// Only the benchmarks whose name contains one of these (e.g. `w1`, `network-c`).
        filter: Vec<String>,
        /// Runs per benchmark; each figure is the fastest (a shared machine is noisy).
        #[arg(long, value_name = "N", default_value_t = 3)]
        repeat: usize,
        /// Internal: measure the one benchmark named so in this process and print the figures
        /// (`bench` runs each measurement as such a child, so that peak memory is its own).
        #[arg(long, value_name = "NAME", hide = true)]
        child: Option<String>,
    },
}

/// `--timing`: how computation advances virtual clocks (docs/scenario-format.md, "timing").
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TimingMode {
    /// The cost model (the default): ring operations × ns_per_ring_op (the scenario's, else
    /// 1 ns); the same virtual times on every run.
    Model,
    /// The measured wall time of each computation: virtual times vary from run to run.
    Measured,
}

/// `--values`: how many of each output's values the JSON report writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ValuesMode {
    /// The first `trace.max_values` values of each output, with their count (a bounded report).
    #[default]
    Summary,
    /// Every value of every output.
    All,
}

/// `plan` under `--timing` when given (a `Model` scenario keeps its `ns_per_ring_op`).
pub fn apply_timing(plan: &mut Plan, mode: Option<TimingMode>) {
    plan.scenario.timing = match (mode, plan.scenario.timing) {
        (None, t) | (Some(TimingMode::Model), t @ scenario::Timing::Model { .. }) => t,
        (Some(TimingMode::Model), scenario::Timing::Measured) => scenario::Timing::default(),
        (Some(TimingMode::Measured), _) => scenario::Timing::Measured,
    };
}

/// How a command ended.
#[derive(Debug)]
pub enum Outcome {
    /// Success.
    Ok,
    /// `leak` found evidence of a leak (exit 3); the report is printed.
    Leak,
    /// `run --strict`: the run completed, but a hazard fired or an output's error exceeded the
    /// tolerance (exit 4); the report is printed, the reasons go to standard error.
    Strict(String),
    /// The user's input was wrong (exit 1).
    UserError(String),
    /// sharescope failed (exit 2).
    Internal(String),
}

fn sim_error(e: sim::SimError) -> Outcome {
    if e.is_user_error() {
        Outcome::UserError(e.to_string())
    } else {
        Outcome::Internal(e.to_string())
    }
}

/// `--memory-limit`'s value: bytes, or a number with K, M, G or T (powers of 1024).
fn parse_memory_limit(s: &str) -> Result<u64, String> {
    sim::memory::parse_size(s)
}

/// Loads a scenario file, or the built-in one when `path` is `None`, with the machine's memory
/// budget.
pub fn load_plan(path: Option<&Path>) -> Result<Plan, sim::SimError> {
    load_plan_within(path, None)
}

/// [`load_plan`] with `--memory-limit` (bytes) when given, else the machine's budget.
pub fn load_plan_within(path: Option<&Path>, limit: Option<u64>) -> Result<Plan, sim::SimError> {
    let budget = limit.map_or_else(MemoryBudget::machine, MemoryBudget::given);
    match path {
        Some(p) => scenario::load_with_budget(p, budget),
        None => scenario::load_source_with_budget(&Source::builtin(), budget),
    }
}

/// Runs `plan` headless, printing the text report; writes JSON if asked.
pub fn run_headless(plan: Plan, json: Option<&Path>, seed: Option<u64>) -> Outcome {
    run_headless_with(plan, json, seed, None, None)
}

/// Why a finished run fails `--strict` with tolerance `tol` (`None`: it passes).
pub fn strict_failure(r: &sim::RunResult, tol: f64) -> Option<String> {
    let mut why: Vec<String> = r
        .trace
        .ops
        .iter()
        .filter(|o| !o.hazards.is_empty())
        .map(|o| {
            format!(
                "op `{}`: {} hazard(s), first: {}",
                o.name,
                o.hazards.len(),
                o.hazards[0]
            )
        })
        .collect();
    why.extend(
        r.outputs
            .iter()
            .filter(|o| o.max_abs_error > tol || o.max_abs_error.is_nan())
            .map(|o| {
                format!(
                    "output `{}`: max |error| {:.3e} > {tol:e}",
                    o.name, o.max_abs_error
                )
            }),
    );
    (!why.is_empty()).then(|| why.join("; "))
}

/// Whether `path` is `-`: standard output.
fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Writes `text` to `path`, or to standard output when `path` is `-`; `what` names it in errors.
fn write_output(path: &Path, text: &str, what: &str) -> Result<(), String> {
    if is_stdout(path) {
        let mut out = std::io::stdout().lock();
        return out
            .write_all(text.as_bytes())
            .and_then(|()| out.write_all(b"\n"))
            .map_err(|e| format!("cannot write the {what} to standard output: {e}"));
    }
    std::fs::write(path, text)
        .map_err(|e| format!("{}: cannot write the {what}: {e}", path.display()))
}

/// The text report goes to standard output, or to standard error when a JSON output takes
/// standard output (`--json -`), so that stdout stays one JSON document.
fn print_report(text: &str, json_on_stdout: bool) {
    if json_on_stdout {
        let _ = std::io::stderr().write_all(text.as_bytes());
    } else {
        print!("{text}");
    }
}

/// Writes `trace` as Chrome trace-event JSON to `path` (`-`: standard output).
pub fn write_chrome_trace(trace: &sim::trace::Trace, path: &Path) -> Result<(), String> {
    let text = serde_json::to_string(&crate::chrome::chrome_trace(trace))
        .map_err(|e| format!("cannot encode the Chrome trace: {e}"))?;
    write_output(path, &text, "Chrome trace")
}

/// Opens the debugger on `plan`; the terminal is restored however it ends.
pub fn debug(mut plan: Plan, seed: Option<u64>) -> Outcome {
    if let Some(s) = seed {
        plan.scenario.seed = s;
    }
    match crate::terminal::run(plan) {
        Ok(()) => Outcome::Ok,
        Err(e) => Outcome::Internal(format!("terminal error: {e}")),
    }
}

/// Like [`run_headless`], also writing a Chrome trace if asked.
pub fn run_headless_with(
    plan: Plan,
    json: Option<&Path>,
    seed: Option<u64>,
    chrome_trace: Option<&Path>,
    strict: Option<f64>,
) -> Outcome {
    run_headless_values(plan, json, seed, chrome_trace, strict, ValuesMode::Summary)
}

/// [`run_headless_with`], the JSON report writing `values` of each output (`--values`).
pub fn run_headless_values(
    mut plan: Plan,
    json: Option<&Path>,
    seed: Option<u64>,
    chrome_trace: Option<&Path>,
    strict: Option<f64>,
    values: ValuesMode,
) -> Outcome {
    let report_values = match values {
        ValuesMode::Summary => sim::report::ReportValues::First(plan.scenario.trace.max_values),
        ValuesMode::All => sim::report::ReportValues::All,
    };
    if strict.is_some_and(|t| t.is_nan() || t < 0.0) {
        return Outcome::UserError("--strict takes a tolerance ≥ 0, e.g. --strict 1e-3".into());
    }
    if plan.training.is_some() {
        return run_training(plan, json, seed, chrome_trace, strict);
    }
    if let Some(s) = seed {
        plan.scenario.seed = s;
    }
    let on_stdout = [json, chrome_trace]
        .iter()
        .flatten()
        .filter(|p| is_stdout(p))
        .count();
    if on_stdout > 1 {
        return Outcome::UserError(
            "only one of --json and --chrome-trace can be `-` (standard output)".into(),
        );
    }
    let result = match crate::progress::run(&plan) {
        Ok(r) => r,
        Err(failed) => {
            // What completed before a fault or a deadlock, then the error (on stderr).
            if let Some(text) = sim::report::partial_text_report(&failed) {
                print_report(&text, on_stdout == 1);
            }
            // The JSON report and the Chrome trace of what was recorded, marked as failed.
            if let (Some(path), Some(partial)) = (chrome_trace, &failed.partial) {
                if let Err(e) = write_chrome_trace(&partial.trace, path) {
                    return Outcome::UserError(e);
                }
            }
            if let Some(path) = json {
                if let Some(report) = sim::report::partial_json_report(&failed, report_values) {
                    let text = serde_json::to_string_pretty(&report).expect("report serialises");
                    if let Err(e) = write_output(path, &text, "JSON report") {
                        return Outcome::UserError(e);
                    }
                }
            }
            return sim_error(failed.error);
        }
    };
    print_report(&sim::report::text_report(&result), on_stdout == 1);
    if let Some(path) = chrome_trace {
        if let Err(e) = write_chrome_trace(&result.trace, path) {
            return Outcome::UserError(e);
        }
    }
    if let Some(path) = json {
        let text =
            serde_json::to_string_pretty(&sim::report::json_report_with(&result, report_values))
                .expect("report serialises");
        if let Err(e) = write_output(path, &text, "JSON report") {
            return Outcome::UserError(e);
        }
    }
    match strict.and_then(|tol| strict_failure(&result, tol)) {
        Some(why) => Outcome::Strict(why),
        None => Outcome::Ok,
    }
}

/// `sharescope run` on a training scenario: every iteration, then the training report
/// (docs/training.md); `--chrome-trace` writes the first kept iteration's trace; `--strict`
/// fails on a hazard or a weight drifting more than TOL from the plaintext model's.
fn run_training(
    mut plan: Plan,
    json: Option<&Path>,
    seed: Option<u64>,
    chrome_trace: Option<&Path>,
    strict: Option<f64>,
) -> Outcome {
    if let Some(s) = seed {
        match sim::train::reseeded(&plan, s) {
            Ok(p) => {
                let (timing, network, links) = (
                    plan.scenario.timing,
                    plan.scenario.network.clone(),
                    plan.links.clone(),
                );
                plan = p;
                plan.scenario.timing = timing;
                plan.scenario.network = network;
                plan.links = links;
            }
            Err(e) => return sim_error(e),
        }
    }
    let on_stdout = [json, chrome_trace]
        .iter()
        .flatten()
        .filter(|p| is_stdout(p))
        .count();
    if on_stdout > 1 {
        return Outcome::UserError(
            "only one of --json and --chrome-trace can be `-` (standard output)".into(),
        );
    }
    let result = match crate::progress::train(&plan) {
        Ok(r) => r,
        Err(e) => return sim_error(e),
    };
    print_report(&sim::train::report::text_report(&result), on_stdout == 1);
    if let (Some(path), Some((_, trace))) = (chrome_trace, result.traces.first()) {
        if let Err(e) = write_chrome_trace(trace, path) {
            return Outcome::UserError(e);
        }
    }
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&sim::train::report::json_report(&result))
            .expect("report serialises");
        if let Err(e) = write_output(path, &text, "JSON report") {
            return Outcome::UserError(e);
        }
    }
    let Some(tol) = strict else {
        return Outcome::Ok;
    };
    let hazards: usize = result.per_epoch.iter().map(|e| e.hazards).sum();
    let drift = result
        .per_epoch
        .iter()
        .map(|e| e.max_weight_error)
        .fold(0.0, f64::max);
    if hazards > 0 {
        Outcome::Strict(format!("{hazards} hazard(s) fired during training"))
    } else if drift > tol {
        Outcome::Strict(format!(
            "a private weight drifted {drift:.3e} from the plaintext model's, more than {tol:e}"
        ))
    } else {
        Outcome::Ok
    }
}

/// Executes a parsed command line.
pub fn execute(cli: Cli) -> Outcome {
    match cli.command {
        None => match load_plan(None) {
            // The debugger when a person is watching; the headless report for pipes and CI.
            Ok(plan) if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() => {
                debug(plan, None)
            }
            Ok(plan) => run_headless(plan, None, None),
            Err(e) => Outcome::Internal(format!("the built-in scenario is broken: {e}")),
        },
        Some(Command::Run {
            scenario,
            json,
            seed,
            chrome_trace,
            memory_limit,
            strict,
            timing,
            values,
        }) => match load_plan_within(Some(&scenario), memory_limit) {
            Ok(mut plan) => {
                apply_timing(&mut plan, timing);
                run_headless_values(
                    plan,
                    json.as_deref(),
                    seed,
                    chrome_trace.as_deref(),
                    strict,
                    values,
                )
            }
            Err(e) => sim_error(e),
        },
        Some(Command::Debug {
            scenario,
            seed,
            timing,
            memory_limit,
            iteration,
        }) => {
            // The scenario first: a missing or broken file is the error to report, terminal
            // or not.
            match load_plan_within(scenario.as_deref(), memory_limit) {
                Ok(_) if !std::io::stdout().is_terminal() => Outcome::UserError(
                    "the debugger needs a terminal; use `sharescope run SCENARIO` for a report"
                        .into(),
                ),
                Ok(mut plan) => {
                    if plan.training.is_some() {
                        // The seed shapes every iteration (data order, initial weights).
                        if let Some(s) = seed {
                            match sim::train::reseeded(&plan, s) {
                                Ok(p) => plan = p,
                                Err(e) => return sim_error(e),
                            }
                        }
                        apply_timing(&mut plan, timing);
                        // Without --iteration, the first iteration a preset `Op("itK/…")`
                        // breakpoint names.
                        let iteration =
                            iteration.or_else(|| sim::train::first_breakpoint_iteration(&plan));
                        if let Some(k) = iteration.filter(|&k| k > 0) {
                            match sim::train::run::plan_at(&plan, k) {
                                Ok(p) => plan = p,
                                Err(e) => return sim_error(e),
                            }
                        }
                        return debug(plan, None);
                    }
                    if iteration.is_some() {
                        return Outcome::UserError(
                            "--iteration applies to training scenarios (docs/training.md)".into(),
                        );
                    }
                    apply_timing(&mut plan, timing);
                    debug(plan, seed)
                }
                Err(e) => sim_error(e),
            }
        }
        Some(Command::Compare {
            scenario,
            protocols,
            profiles,
            seed,
            memory_limit,
        }) => {
            let protocols = match sim::compare::parse_protocols(&protocols) {
                Ok(p) => p,
                Err(e) => return Outcome::UserError(e),
            };
            let profiles = match sim::profiles::parse_list(&profiles) {
                Ok(p) => p,
                Err(e) => return Outcome::UserError(e),
            };
            let source = match Source::from_file(&scenario) {
                Ok(s) => s,
                Err(e) => return sim_error(e),
            };
            let budget = memory_limit.map_or_else(MemoryBudget::machine, MemoryBudget::given);
            match scenario::load_source_with_budget(&source, budget) {
                Ok(mut plan) => {
                    if let Some(s) = seed {
                        plan.scenario.seed = s;
                    }
                    if let Err(e) = sim::compare::refuse_faults(&source, &plan) {
                        return sim_error(e.into());
                    }
                    match crate::progress::compare(&plan, &protocols, &profiles) {
                        Ok(c) => {
                            print!("{}", c.table());
                            Outcome::Ok
                        }
                        Err(e) => sim_error(e),
                    }
                }
                Err(e) => sim_error(e),
            }
        }
        Some(Command::Leak {
            scenario,
            party,
            runs,
            alt,
            seed,
            json,
        }) => leak(
            &scenario,
            party.as_deref(),
            runs,
            &alt,
            seed,
            json.as_deref(),
        ),
        Some(Command::Import {
            model,
            output,
            protocol,
            batch,
            inputs,
            labels,
        }) => {
            let protocol = match sim::compare::parse_protocol(&protocol) {
                Ok(p) => p,
                Err(e) => return Outcome::UserError(e),
            };
            let opts = sim::import::Options {
                model,
                output,
                protocol,
                batch,
                inputs,
                labels,
            };
            match sim::import::import(&opts) {
                Ok(done) => {
                    let mut s = format!(
                        "{}: imported {} → {} ({} files)\n",
                        opts.model.display(),
                        opts.output.display(),
                        done.plan.scenario.name,
                        done.files.len()
                    );
                    for n in &done.notes {
                        s.push_str(&format!("  {n}\n"));
                    }
                    match &done.bound {
                        Ok(b) => s.push_str(&format!(
                            "fixed-point error bound on the outputs: ≤ {b:.3e} (worst case, docs/import.md)\n"
                        )),
                        Err(why) => s.push_str(&format!("no fixed-point error bound: {why}\n")),
                    }
                    print_report(&s, false);
                    check(&done.scenario, &done.plan, None)
                }
                Err(e) => sim_error(e),
            }
        }
        Some(Command::Bench {
            filter,
            repeat,
            child,
        }) => {
            let out = &mut std::io::stdout().lock();
            let done = match child {
                Some(name) => crate::bench::child(&name, out),
                None => crate::bench::run(&filter, repeat, out).map(|_| ()),
            };
            match done {
                Ok(()) => Outcome::Ok,
                Err(e) => Outcome::UserError(e),
            }
        }
        Some(Command::Completions { shell }) => print_stdout(&crate::manual::completions(shell)),
        Some(Command::Man { subcommand }) => match crate::manual::man_page(subcommand.as_deref()) {
            Ok(page) => print_stdout(&page),
            Err(e) => Outcome::UserError(e),
        },
        Some(Command::Check {
            scenario,
            memory_limit,
            json,
        }) => match load_plan_within(Some(&scenario), memory_limit) {
            Ok(plan) => check(&scenario, &plan, json.as_deref()),
            Err(e) => sim_error(e),
        },
    }
}

/// Writes generated text to standard output (a closed pipe is not an error worth a panic).
fn print_stdout(bytes: &[u8]) -> Outcome {
    match std::io::stdout().lock().write_all(bytes) {
        Ok(()) => Outcome::Ok,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Outcome::Ok,
        Err(e) => Outcome::UserError(format!("cannot write to standard output: {e}")),
    }
}

/// `sharescope check`: the plan's summary, its values in program order, and the cost estimate
/// (`sim::estimate`) — per op and in total — without running anything.
fn check(scenario: &Path, plan: &Plan, json: Option<&Path>) -> Outcome {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}: ok — {} parties, {} ops",
        scenario.display(),
        plan.parties.len(),
        plan.ops.len()
    );
    let _ = writeln!(
        s,
        "memory: estimated peak {}; budget {}",
        sim::memory::gib(plan.memory),
        plan.memory_budget.describe()
    );
    for w in &plan.warnings {
        let _ = writeln!(s, "⚠ warning: {w}");
    }
    // Values in program order (inputs, then statements), with what makes them; the columns as
    // wide as their longest entry (names up to 32 characters).
    let valued = || {
        plan.ops.iter().filter_map(|op| match op {
            scenario::PlannedOp::Input { name, .. } | scenario::PlannedOp::Compute { name, .. } => {
                Some((name, op))
            }
            scenario::PlannedOp::Output { .. } => None,
        })
    };
    let nw = sim::units::column_width(20, valued().map(|(n, _)| n.as_str())).min(32);
    let kw = sim::units::column_width(11, valued().map(|(_, op)| op.kind()));
    for (name, op) in valued() {
        let vis = if plan.public[name] {
            "public"
        } else {
            "private"
        };
        let shape = &plan.shapes[name];
        let _ = writeln!(
            s,
            "  {:<nw$} {:<kw$} {:<18} {vis}",
            sim::units::fit(name, nw),
            op.kind(),
            format!("{shape:?}")
        );
    }
    let estimate = sim::estimate::estimate(plan);
    let _ = write!(s, "\n{}", estimate.table());
    if let Some(t) = sim::train::estimate_run(plan, &estimate) {
        let _ = write!(s, "\n{}", t.text());
    }
    let held = plan
        .links
        .iter()
        .flatten()
        .filter(|l| l.state == scenario::LinkState::Held)
        .count();
    if !plan.scenario.faults.is_empty() || held > 0 {
        let _ = writeln!(
            s,
            "note: this is the protocol as specified; the scenario's {} injected fault(s) and {held} \
             held link(s) change what a run does (it may stop early)",
            plan.scenario.faults.len()
        );
    }
    print_report(&s, json.is_some_and(is_stdout));
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&estimate.json())
            .expect("the estimate serialises to JSON");
        if let Err(e) = write_output(path, &text, "JSON estimate") {
            return Outcome::UserError(e);
        }
    }
    // Never a silent zero: an op the formulas cannot cost is an internal gap, said loudly.
    let gap = estimate.uncosted().next().map(|(op, why)| {
        format!(
            "the cost formulas cannot cost op `{}` ({}): {why}",
            op.name, op.kind
        )
    });
    gap.map_or(Outcome::Ok, Outcome::Internal)
}

/// `sharescope leak`.
pub fn leak(
    scenario: &Path,
    party: Option<&str>,
    runs: usize,
    alt: &str,
    seed: Option<u64>,
    json: Option<&Path>,
) -> Outcome {
    use sim::leak::{self, Alternative, Options};
    let mut plan = match load_plan(Some(scenario)) {
        Ok(p) => p,
        Err(e) => return sim_error(e),
    };
    if let Some(s) = seed {
        plan.scenario.seed = s;
    }
    let alternative = match alt {
        "extremes" => Alternative::Extremes,
        "redraw" => Alternative::Redraw,
        file => match Alternative::from_file(&plan, Path::new(file)) {
            Ok(a) => a,
            Err(e) => return sim_error(e),
        },
    };
    let party = match party.map(|p| leak::party_index(&plan, p)).transpose() {
        Ok(p) => p,
        Err(e) => return sim_error(e),
    };
    let opts = Options {
        runs,
        party,
        alternative,
        ..Options::new(runs)
    };
    let report = match crate::progress::leak(&plan, &opts) {
        Ok(r) => r,
        Err(e) => return sim_error(e),
    };
    print_report(&report.text(), json.is_some_and(is_stdout));
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&report).expect("the leak report serialises");
        if let Err(e) = write_output(path, &text, "JSON report") {
            return Outcome::UserError(e);
        }
    }
    if report.leak {
        Outcome::Leak
    } else {
        Outcome::Ok
    }
}
