//! How far a headless job (`sharescope run`, `compare`, `leak`) has got, for a progress display.
//! The simulator only counts; whether and how to show it is the caller's business.

use crate::engine::{FailedRun, RunResult, Simulation};
use crate::scenario::Plan;
use std::sync::atomic::AtomicBool;

/// How far a job has got: `done` of `total` units (ops of a run, or runs), and the steps every
/// party has begun in the run under way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Advance {
    /// Units done.
    pub done: u64,
    /// Units in the whole job.
    pub total: u64,
    /// Steps every party has begun in the current run (0 when not counted).
    pub steps: u64,
}

/// [`crate::run`], telling `observe` how many of the plan's ops are complete: once at the
/// start, about every 100 ms while the run goes on (the engine's progress tick, the one the
/// debugger's running status uses), and once at the end of a run that succeeded. Same result
/// and trace as [`crate::run`]; only the waiting differs. A failed run keeps what it recorded,
/// as [`crate::run_keeping_partial`] does.
pub fn run_observed(
    plan: &Plan,
    observe: &mut dyn FnMut(Advance),
) -> std::result::Result<RunResult, Box<FailedRun>> {
    let total = plan.ops.len() as u64;
    observe(Advance {
        done: 0,
        total,
        steps: 0,
    });
    let sim = Simulation::start(plan, usize::MAX).map_err(|error| {
        Box::new(FailedRun {
            error,
            partial: None,
            completed_ops: 0,
        })
    })?;
    let never = AtomicBool::new(false);
    let mut tick = || {
        let steps = sim.steps_begun().into_iter().min().unwrap_or(0) as u64;
        observe(Advance {
            done: (sim.ops_reached() as u64).min(total),
            total,
            steps,
        });
    };
    // No interrupt is ever raised, so the wait ends only when every party is done or failed.
    let _ = sim.wait_idle_watching(&never, &mut tick);
    let result = sim.finish_keeping_partial()?;
    observe(Advance {
        done: total,
        total,
        steps: result.trace.steps.len() as u64,
    });
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCENARIO: &str = r#"Scenario(
        name: "progress",
        fixed_point: (frac_bits: 16, int_bits: 11, weak_security: true),
        truncation: Dealer,
        roles: (input_providers: ["alice", "bob"], output_receivers: ["carol"]),
        timing: Model(ns_per_ring_op: 1.0),
        seed: 7,
        inputs: [
            (name: "x", owner: "alice", shape: [4], data: Values([1.5, -2.25, 3.0, 0.1])),
            (name: "y", owner: "bob", shape: [4], data: Values([2.0, 4.0, -1.5, 10.0])),
        ],
        program: [
            (name: "z", op: Mul("x", "y")),
            (name: "w", op: Add("z", "x")),
        ],
        outputs: [(name: "w", to: "carol")],
    )"#;

    fn plan() -> Plan {
        crate::scenario::load_source(&crate::scenario::Source {
            name: "test".into(),
            dir: ".".into(),
            text: SCENARIO.into(),
        })
        .unwrap()
    }

    #[test]
    fn observed_run_reports_start_and_end_and_gives_the_same_trace() {
        let plan = plan();
        let mut heard = Vec::new();
        let r = run_observed(&plan, &mut |a| heard.push(a)).unwrap();
        let total = plan.ops.len() as u64;
        assert!(total > 0);
        assert_eq!(
            heard.first(),
            Some(&Advance {
                done: 0,
                total,
                steps: 0
            })
        );
        assert_eq!(
            heard.last(),
            Some(&Advance {
                done: total,
                total,
                steps: r.trace.steps.len() as u64
            })
        );
        // Monotone, never past the total.
        assert!(heard.windows(2).all(|w| w[0].done <= w[1].done));
        assert!(heard.iter().all(|a| a.done <= a.total));
        // The same trace as an unobserved run, but for wall-clock readings.
        fn no_wall(v: &mut serde_json::Value) {
            match v {
                serde_json::Value::Object(m) => {
                    m.retain(|k, _| !k.starts_with("wall"));
                    m.values_mut().for_each(no_wall);
                }
                serde_json::Value::Array(a) => a.iter_mut().for_each(no_wall),
                _ => {}
            }
        }
        let json = |t: &crate::trace::Trace| {
            let mut v = serde_json::to_value(t).unwrap();
            no_wall(&mut v);
            v
        };
        let plain = crate::run(&plan).unwrap();
        assert!(json(&plain.trace) == json(&r.trace), "the traces differ");
        assert_eq!(plain.totals.bytes, r.totals.bytes);
        assert_eq!(plain.totals.virtual_time_ns, r.totals.virtual_time_ns);
    }

    #[test]
    fn leak_counts_every_run_up_to_its_total() {
        let plan = plan();
        let mut heard = Vec::new();
        let opts = crate::leak::Options::new(3);
        let report = crate::leak::check_observed(&plan, &opts, &mut |a| heard.push(a)).unwrap();
        let plain = crate::leak::check(&plan, &opts).unwrap();
        assert_eq!(report.leak, plain.leak);
        let total = heard[0].total;
        assert!(total >= 6, "two assignments × 3 runs at least: {total}");
        let done: Vec<u64> = heard.iter().map(|a| a.done).collect();
        assert_eq!(
            done,
            (0..=total).collect::<Vec<_>>(),
            "one report per run, in order"
        );
    }

    #[test]
    fn a_failed_run_reports_no_end() {
        // A run that fails: the producer panics at the first op.
        let text = SCENARIO.replace(
            "outputs:",
            r#"faults: [(party: "server0", op: "z", kind: Panic)], outputs:"#,
        );
        let bad = crate::scenario::load_source(&crate::scenario::Source {
            name: "test".into(),
            dir: ".".into(),
            text,
        })
        .unwrap();
        let mut heard = Vec::new();
        assert!(run_observed(&bad, &mut |a| heard.push(a)).is_err());
        assert!(heard.iter().all(|a| a.done < a.total), "{heard:?}");
    }
}
