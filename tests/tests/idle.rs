//! A paused run costs no CPU: parties paused at the step gate sleep until the gate moves (they
//! used to wake each other about 70,000 times a second). Alone in its test binary, so the
//! process's CPU time is this run's.

use sim::scenario::load;
use sim::Simulation;
use std::path::Path;
use std::time::Duration;

/// User + system CPU time of this process so far, in seconds (Linux: /proc/self/stat).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

#[test]
fn a_paused_run_uses_no_cpu() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/mlp-securenn.ron");
    let plan = load(&path).unwrap();
    // Pause a few steps in: every party sits at the gate (or behind one that does).
    let sim = Simulation::start(&plan, 5).unwrap();
    let p = sim.wait_idle();
    assert!(!p.done);
    let Some(before) = cpu_seconds() else {
        return; // not Linux: nothing to measure
    };
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_seconds().unwrap() - before;
    // Before the fix: 0.3–0.8 s of CPU per second paused. Now the threads sleep on a condvar.
    assert!(used < 0.1, "a paused run used {used:.3} s of CPU in 1 s");
    drop(sim);
}
