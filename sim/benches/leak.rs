//! The leak checker's speed: 2,000 runs (1,000 per assignment) of a SecureNN ReLU on 16
//! elements, every party's view extracted and tested — the target is under 60 s on 2 cores.
//!
//! ```sh
//! cargo bench -p sharescope-sim --bench leak
//! ```

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use sim::leak::{self, Options};
use sim::scenario::{self, Source};
use std::time::Instant;

const SCENARIO: &str = r#"Scenario(
    name: "relu-16",
    protocol: SecureNN,
    roles: (input_providers: ["alice"], output_receivers: ["alice"]),
    timing: Model(ns_per_ring_op: 1.0),
    seed: 16,
    inputs: [(name: "x", owner: "alice", shape: [16], data: Random(Uniform(-4.0, 4.0)))],
    program: [(name: "y", op: Relu("x"))],
    outputs: [(name: "y", to: "alice")],
)"#;

fn main() {
    let source = Source {
        name: "relu-16".into(),
        dir: ".".into(),
        text: SCENARIO.into(),
    };
    let plan = scenario::load_source(&source).expect("the benchmark scenario is valid");
    let runs = 1000;
    let start = Instant::now();
    let report = leak::check(&plan, &Options::new(runs)).expect("the check runs");
    let secs = start.elapsed().as_secs_f64();
    let features: usize = report.parties.iter().map(|p| p.features).sum();
    println!(
        "leak relu-16: {} runs ({runs} per assignment, {} workers) in {secs:.2} s = {:.2} ms/run; \
         {features} features over {} parties; leak: {}",
        2 * runs,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        1e3 * secs / (2 * runs) as f64,
        report.parties.len(),
        report.leak
    );
    assert!(!report.leak, "{}", report.text());
}
