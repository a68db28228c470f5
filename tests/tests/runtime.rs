//! Runtime behaviour of the simulator: determinism, the virtual clock against realtime,
//! faults, deadlocks and the step gate.

use sim::scenario::{load_source, Plan, Source};
use sim::{PartyStatus, SimError, Simulation};
use std::path::PathBuf;

fn plan(text: &str) -> Plan {
    let src = Source {
        name: "test.ron".into(),
        dir: PathBuf::from("."),
        text: text.to_string(),
    };
    load_source(&src).unwrap_or_else(|e| panic!("{e}"))
}

/// A small two-layer program exercising input sharing, Beaver matmul with mask reuse,
/// truncation, a polynomial activation and output.
fn program(seed: u64, network: &str, timing: &str) -> String {
    format!(
        r#"Scenario(
    name: "runtime",
    fixed_point: (frac_bits: 16, int_bits: 11, weak_security: true),
    roles: (input_providers: ["alice"], output_receivers: ["bob"]),
    network: {network},
    timing: {timing},
    seed: {seed},
    inputs: [
        (name: "x", owner: "alice", shape: [3, 4], data: Random(Uniform(-1.0, 1.0))),
        (name: "w", owner: "alice", shape: [4, 2], data: Random(Normal(0.0, 0.5))),
        (name: "v", owner: "alice", shape: [4, 2], data: Random(Normal(0.0, 0.5))),
    ],
    program: [
        (name: "h", op: MatMul("x", "w")),
        (name: "g", op: MatMul("x", "v")),
        (name: "s", op: Add("h", "g")),
        (name: "y", op: Sigmoid("s")),
    ],
    outputs: [(name: "y", to: "bob")],
    trace: (max_values: 1000),
)"#
    )
}

const LAN: &str = "(default: (latency_us: 100, bandwidth_bps: 1_000_000_000))";
const MODEL: &str = "Model(ns_per_ring_op: 2.0)";

#[test]
fn same_seed_gives_the_same_trace_shares_messages_and_virtual_times() {
    let a = sim::run(&plan(&program(7, LAN, MODEL))).unwrap();
    let b = sim::run(&plan(&program(7, LAN, MODEL))).unwrap();
    assert_eq!(
        a.trace, b.trace,
        "traces differ between two runs with one seed"
    );
    assert_eq!(a.outputs, b.outputs);
    let mut ta = a.totals.clone();
    let mut tb = b.totals.clone();
    ta.wall_time_ns = 0;
    tb.wall_time_ns = 0;
    assert_eq!(ta, tb);
    // The trace really holds shares: a different seed changes them but not the costs.
    let c = sim::run(&plan(&program(8, LAN, MODEL))).unwrap();
    assert_ne!(a.trace.steps, c.trace.steps);
    assert_eq!(a.totals.bytes, c.totals.bytes);
    assert_eq!(a.totals.rounds, c.totals.rounds);
}

#[test]
fn shares_look_random_but_reconstruct_to_the_result() {
    let r = sim::run(&plan(&program(3, LAN, MODEL))).unwrap();
    let h = r.trace.ops.iter().find(|o| o.name == "h").unwrap();
    let err = h.stats.max_abs_error.unwrap();
    assert!(err < 1e-3, "h error {err}");
    // server0's share of the input is PRG output: it does not equal the encoded input.
    let step = &r.trace.steps[0];
    let s0 = &step.parties[0].shares[0].values;
    let cfg = protocols::fixed::FixedConfig::default();
    let decoded: Vec<f64> = s0.iter().map(|&v| cfg.decode(v).abs()).collect();
    assert!(
        decoded.iter().any(|v| *v > 2.0),
        "share looks like the plaintext: {decoded:?}"
    );
}

#[test]
fn virtual_time_in_model_mode_follows_the_latency_formula() {
    // With zero compute cost and unlimited bandwidth, every online round costs exactly one
    // latency on the critical path; the run's makespan is rounds·latency plus the dealer's
    // messages that overlap.
    let net = "(default: (latency_us: 5000, bandwidth_bps: 0))";
    let r = sim::run(&plan(&program(1, net, "Model(ns_per_ring_op: 0.0)"))).unwrap();
    let rounds = r.totals.rounds as u64;
    let t = r.totals.virtual_time_ns;
    assert_eq!(
        t % 5_000_000,
        0,
        "makespan {t} is not a whole number of latencies"
    );
    assert!(
        t >= rounds * 5_000_000,
        "makespan {t} shorter than {rounds} rounds"
    );
    assert!(
        t <= (rounds + 2) * 5_000_000,
        "makespan {t} much longer than {rounds} rounds"
    );
}

#[test]
fn realtime_mode_agrees_with_the_virtual_prediction() {
    for latency_ms in [10u64, 25, 50] {
        let net_v = format!(
            "(default: (latency_us: {}, bandwidth_bps: 1_000_000_000), mode: Virtual)",
            latency_ms * 1000
        );
        let net_r = format!(
            "(default: (latency_us: {}, bandwidth_bps: 1_000_000_000), mode: Realtime)",
            latency_ms * 1000
        );
        let v = sim::run(&plan(&program(5, &net_v, "Measured"))).unwrap();
        let r = sim::run(&plan(&program(5, &net_r, "Measured"))).unwrap();
        let predicted = v.totals.virtual_time_ns as f64;
        let actual = r.totals.wall_time_ns as f64;
        // The prediction is a lower bound up to scheduling noise, and real time exceeds it only by
        // thread start-up and scheduling: allow 25 % plus 30 ms.
        assert!(
            actual >= predicted * 0.9 && actual <= predicted * 1.25 + 30e6,
            "latency {latency_ms} ms: virtual {predicted} ns vs realtime {actual} ns"
        );
    }
}

fn fault_scenario(fault: &str) -> String {
    program(2, LAN, MODEL).replace(
        "trace: (max_values: 1000),",
        &format!("trace: (max_values: 1000),\n    faults: [{fault}],"),
    )
}

#[test]
fn a_party_that_errors_ends_the_run_naming_party_and_op() {
    let e = sim::run(&plan(&fault_scenario(
        r#"(party: "server1", op: "g", kind: Error)"#,
    )))
    .unwrap_err();
    let SimError::PartyFailed { party, op, .. } = &e else {
        panic!("wrong error {e}")
    };
    assert_eq!(party, "server1");
    assert_eq!(op, "g");
}

#[test]
fn a_party_that_panics_ends_the_run_and_releases_the_others() {
    let e = sim::run(&plan(&fault_scenario(
        r#"(party: "producer", op: "y", kind: Panic)"#,
    )))
    .unwrap_err();
    let SimError::PartyFailed {
        party, op, message, ..
    } = &e
    else {
        panic!("wrong error {e}")
    };
    assert_eq!((party.as_str(), op.as_str()), ("producer", "y"));
    assert!(message.contains("panicked"), "{message}");
}

#[test]
fn a_held_link_is_reported_as_a_deadlock_with_who_waits_for_whom() {
    let net =
        r#"(default: (latency_us: 100), links: [(from: "server0", to: "server1", state: Held)])"#;
    let e = sim::run(&plan(&program(2, net, MODEL))).unwrap_err();
    let SimError::Deadlock { op, waits } = &e else {
        panic!("wrong error {e}")
    };
    assert_eq!(op, "h", "the first exchange between the servers is in h");
    assert!(waits.contains("server1 waits for server0"), "{waits}");
}

#[test]
fn the_gate_pauses_every_party_at_the_same_step_and_resumes() {
    let p = plan(&program(4, LAN, MODEL));
    let full = sim::run(&p).unwrap();
    let sim = Simulation::start(&p, 3).unwrap();
    let prog = sim.wait_idle();
    assert!(!prog.done);
    assert_eq!(prog.steps_begun, 3);
    for s in &prog.status {
        assert!(matches!(s, PartyStatus::AtGate(3)), "status {s:?}");
    }
    sim.set_gate(7);
    let prog = sim.wait_idle();
    assert_eq!(prog.steps_begun, 7);
    let partial = sim.trace();
    assert_eq!(
        partial.steps[..6],
        full.trace.steps[..6],
        "paused run diverges from the full run"
    );
    let done = sim.finish().unwrap();
    assert_eq!(done.trace, full.trace);
}

#[test]
fn dropping_a_paused_simulation_releases_its_threads() {
    let p = plan(&program(4, LAN, MODEL));
    let sim = Simulation::start(&p, 2).unwrap();
    sim.wait_idle();
    drop(sim); // must return: parties at the gate are cancelled and joined
}
