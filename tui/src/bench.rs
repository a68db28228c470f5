//! `sharescope bench`: issue 11's workloads W1–W4 and the MNIST Networks A–D at batch 128, each
//! timed against a plaintext f64 computation of the same program measured in the same run
//! (docs/performance.md).
//!
//! The scenarios are compiled in (`scenarios/bench/*.ron`, `scenarios/mnist-network-*.ron`);
//! their inputs are `Random(…)`, generated from the scenario's seed when a run starts, so
//! nothing large is shipped and the command runs from any directory.

use sim::scenario::{self, Plan, Source};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// One benchmark: a compiled-in scenario and the target for it.
struct Workload {
    /// The name `sharescope bench NAME` filters on.
    name: &'static str,
    /// The scenario's text.
    text: &'static str,
    /// Replace the first input's leading (batch) axis with this.
    batch: Option<usize>,
    /// Override the trace's `max_values` (the networks are measured with 1, as in the issue).
    max_values: Option<usize>,
    /// Issue 11's target for `totals.wall_time_us`, in ms.
    target_ms: f64,
}

const WORKLOADS: &[Workload] = &[
    Workload {
        name: "w1-product",
        text: include_str!("../../scenarios/bench/w1-product.ron"),
        batch: None,
        max_values: None,
        target_ms: 22.0,
    },
    Workload {
        name: "w2-matmul",
        text: include_str!("../../scenarios/bench/w2-matmul.ron"),
        batch: None,
        max_values: None,
        target_ms: 8.0,
    },
    Workload {
        name: "w3-logreg",
        text: include_str!("../../scenarios/bench/w3-logreg.ron"),
        batch: None,
        max_values: None,
        target_ms: 1.7,
    },
    Workload {
        name: "w4-mlp-poly",
        text: include_str!("../../scenarios/bench/w4-mlp-poly.ron"),
        batch: None,
        max_values: None,
        target_ms: 17.0,
    },
    Workload {
        name: "w4-mlp-exact",
        text: include_str!("../../scenarios/bench/w4-mlp-exact.ron"),
        batch: None,
        max_values: None,
        target_ms: 77.0,
    },
    Workload {
        name: "train-network-a",
        text: include_str!("../../scenarios/bench/train-network-a.ron"),
        batch: None,
        max_values: None,
        // Issue 13's target: one SGD iteration of Network A at batch 128 under 0.3 s.
        target_ms: 300.0,
    },
    Workload {
        name: "mnist-network-a",
        text: include_str!("../../scenarios/mnist-network-a.ron"),
        batch: Some(128),
        max_values: Some(1),
        target_ms: 190.0,
    },
    Workload {
        name: "mnist-network-b",
        text: include_str!("../../scenarios/mnist-network-b.ron"),
        batch: Some(128),
        max_values: Some(1),
        target_ms: 3600.0,
    },
    Workload {
        name: "mnist-network-c",
        text: include_str!("../../scenarios/mnist-network-c.ron"),
        batch: Some(128),
        max_values: Some(1),
        target_ms: 5400.0,
    },
    Workload {
        name: "mnist-network-d",
        text: include_str!("../../scenarios/mnist-network-d.ron"),
        batch: Some(128),
        max_values: Some(1),
        target_ms: 1300.0,
    },
];

/// The names `sharescope bench` knows, in the order it runs them.
pub fn workload_names() -> Vec<&'static str> {
    WORKLOADS.iter().map(|w| w.name).collect()
}

/// The plan of workload `w`, with its batch and trace overrides applied.
fn plan_of(w: &Workload) -> Result<Plan, String> {
    let source = Source {
        name: format!("<bench {}>", w.name),
        dir: PathBuf::from("."),
        text: w.text.to_string(),
    };
    let plan = scenario::load_source(&source).map_err(|e| e.to_string())?;
    if w.batch.is_none() && w.max_values.is_none() {
        return Ok(plan);
    }
    let mut sc = plan.scenario.clone();
    if let (Some(b), Some(first)) = (w.batch, sc.inputs.first_mut()) {
        first.shape[0] = b;
    }
    if let Some(m) = w.max_values {
        sc.trace.max_values = m;
    }
    Plan::new(&source, sc).map_err(|e| e.to_string())
}

/// What one workload measured: the fastest of the repeats for each figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// Workload name.
    pub name: String,
    /// `totals.wall_time_us` of the run, ms.
    pub run_ms: f64,
    /// The whole `sharescope run --json` path in this process (load, run, text and JSON
    /// reports), ms.
    pub process_ms: f64,
    /// CPU time (user + system, every thread) of that path, ms.
    pub cpu_ms: f64,
    /// Peak resident memory of the process that ran it, bytes (`None` where the platform does
    /// not report it: Linux's `VmHWM`).
    pub peak_bytes: Option<u64>,
    /// The plaintext f64 computation of the same program on the same inputs, ms.
    pub plain_ms: f64,
    /// Issue 11's target for `run_ms`.
    pub target_ms: f64,
}

impl Measurement {
    /// `run_ms / plain_ms`.
    pub fn ratio(&self) -> f64 {
        self.run_ms / self.plain_ms.max(1e-9)
    }
}

/// CPU time of this process so far (user + system, all threads).
fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the struct we pass and nothing else.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// The process's peak RSS (Linux `VmHWM`), bytes; `None` elsewhere.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

impl Measurement {
    /// Workload `w` before its first repetition: every time infinite, so the minimum is taken.
    fn unmeasured(w: &Workload) -> Self {
        Measurement {
            name: w.name.to_string(),
            run_ms: f64::INFINITY,
            process_ms: f64::INFINITY,
            cpu_ms: f64::INFINITY,
            peak_bytes: None,
            plain_ms: f64::INFINITY,
            target_ms: w.target_ms,
        }
    }
}

/// Measures workload `w`, `repeat` times, keeping the fastest (and smallest) figures.
fn measure(w: &Workload, repeat: usize) -> Result<Measurement, String> {
    let mut m = Measurement::unmeasured(w);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    for _ in 0..repeat.max(1) {
        // The plaintext: the same program in f64 on the same inputs (generated beforehand).
        let plan = plan_of(w)?;
        let inputs = sim::engine::input_values(&plan).map_err(|e| e.to_string())?;
        let t = Instant::now();
        std::hint::black_box(sim::shadow::shadow(&plan, &inputs));
        m.plain_ms = m.plain_ms.min(ms(t.elapsed()));
        drop((plan, inputs));

        let (t, cpu) = (Instant::now(), cpu_time());
        let plan = plan_of(w)?;
        let r = sim::run(&plan).map_err(|e| format!("{}: {e}", w.name))?;
        let text = sim::report::text_report(&r);
        let values = sim::report::ReportValues::First(plan.scenario.trace.max_values);
        let json = serde_json::to_string_pretty(&sim::report::json_report_with(&r, values))
            .map_err(|e| e.to_string())?;
        std::hint::black_box((text.len(), json.len()));
        m.run_ms = m.run_ms.min(r.totals.wall_time_ns as f64 / 1e6);
        drop(r);
        m.process_ms = m.process_ms.min(ms(t.elapsed()));
        m.cpu_ms = m.cpu_ms.min(ms(cpu_time().saturating_sub(cpu)));
        m.peak_bytes = peak_rss().map(|p| m.peak_bytes.map_or(p, |q| q.min(p)));
    }
    Ok(m)
}

/// One measurement of workload `name` in this process, printed as one line for the parent
/// (`sharescope bench --child NAME`): run, process, CPU and plaintext ms, and peak RSS bytes.
pub fn child(name: &str, out: &mut dyn std::io::Write) -> Result<(), String> {
    let w = WORKLOADS
        .iter()
        .find(|w| w.name == name)
        .ok_or_else(|| format!("no benchmark named {name}"))?;
    let m = measure(w, 1)?;
    writeln!(
        out,
        "{} {} {} {} {}",
        m.run_ms,
        m.process_ms,
        m.cpu_ms,
        m.plain_ms,
        peak_rss().unwrap_or(0)
    )
    .map_err(|e| format!("cannot write the measurement: {e}"))
}

/// Measures workload `w` `repeat` times, each in a fresh `sharescope bench --child` process (so
/// that the peak memory is that run's, not an earlier workload's that the allocator kept), and
/// keeps the fastest (and smallest) figures.
fn measure_in_children(w: &Workload, repeat: usize) -> Result<Measurement, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let mut best = Measurement::unmeasured(w);
    for _ in 0..repeat.max(1) {
        let o = std::process::Command::new(&exe)
            .args(["bench", "--child", w.name])
            .output()
            .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
        let text = String::from_utf8_lossy(&o.stdout);
        if !o.status.success() {
            return Err(format!(
                "{}: {}",
                w.name,
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        let f: Vec<f64> = text
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        let [run, process, cpu, plain, peak] = f[..] else {
            return Err(format!(
                "{}: unexpected measurement `{}`",
                w.name,
                text.trim()
            ));
        };
        best.run_ms = best.run_ms.min(run);
        best.process_ms = best.process_ms.min(process);
        best.cpu_ms = best.cpu_ms.min(cpu);
        best.plain_ms = best.plain_ms.min(plain);
        if peak > 0.0 {
            best.peak_bytes = Some(best.peak_bytes.map_or(peak as u64, |b| b.min(peak as u64)));
        }
    }
    Ok(best)
}

/// Runs the workloads whose name contains one of `filters` (all when empty), `repeat` times
/// each, printing a table row as each finishes; returns the measurements.
pub fn run(
    filters: &[String],
    repeat: usize,
    out: &mut dyn std::io::Write,
) -> Result<Vec<Measurement>, String> {
    let chosen: Vec<&Workload> = WORKLOADS
        .iter()
        .filter(|w| filters.is_empty() || filters.iter().any(|f| w.name.contains(f.as_str())))
        .collect();
    if chosen.is_empty() {
        return Err(format!(
            "no benchmark matches {}; the benchmarks are: {}",
            filters.join(", "),
            workload_names().join(", ")
        ));
    }
    let io = |e: std::io::Error| format!("cannot write the table: {e}");
    writeln!(
        out,
        "sharescope bench: fastest of {} run(s) each, each in its own process; u64 matmul kernel: {}",
        repeat.max(1),
        protocols::kernels::matmul_u64_path()
    )
    .map_err(io)?;
    writeln!(
        out,
        "{:<16} {:>10} {:>10} {:>9} {:>10} {:>10} {:>9} {:>10}",
        "workload", "run ms", "target", "process", "cpu ms", "peak MB", "plain ms", "run/plain"
    )
    .map_err(io)?;
    let mut all = Vec::new();
    for w in chosen {
        let m = measure_in_children(w, repeat)?;
        writeln!(
            out,
            "{:<16} {:>10.2} {:>10.1} {:>9.2} {:>10.2} {:>10} {:>9.3} {:>10.1}",
            m.name,
            m.run_ms,
            m.target_ms,
            m.process_ms,
            m.cpu_ms,
            m.peak_bytes
                .map_or_else(|| "n/a".to_string(), |b| format!("{:.1}", b as f64 / 1e6)),
            m.plain_ms,
            m.ratio()
        )
        .map_err(io)?;
        all.push(m);
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workload_is_a_valid_scenario_with_generated_inputs() {
        for w in WORKLOADS {
            let plan = plan_of(w).unwrap_or_else(|e| panic!("{}: {e}", w.name));
            // A training workload's inputs are its batches: its data must be generated.
            let generated = match &plan.training {
                Some(t) => t
                    .training
                    .spec
                    .features
                    .iter()
                    .chain(&t.training.spec.labels)
                    .all(|d| matches!(d.data, scenario::Data::Random(_))),
                None => plan
                    .scenario
                    .inputs
                    .iter()
                    .all(|i| matches!(i.data, scenario::Data::Random(_))),
            };
            assert!(
                generated,
                "{}: bench inputs are generated from the seed",
                w.name
            );
            if let Some(b) = w.batch {
                assert_eq!(plan.scenario.inputs[0].shape[0], b);
            }
        }
    }

    #[test]
    fn a_child_measures_one_workload_in_five_numbers() {
        let mut out = Vec::new();
        child("w3-logreg", &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let f: Vec<f64> = text
            .split_whitespace()
            .map(|x| x.parse().unwrap())
            .collect();
        assert_eq!(f.len(), 5, "{text}");
        assert!(f.iter().all(|x| x.is_finite() && *x >= 0.0), "{text}");
        assert!(child("nope", &mut Vec::new()).is_err());
    }

    #[test]
    fn an_unknown_filter_is_refused_with_the_names() {
        let mut out = Vec::new();
        let e = run(&["nope".into()], 1, &mut out).unwrap_err();
        assert!(
            e.contains("w1-product") && e.contains("mnist-network-d"),
            "{e}"
        );
    }
}
