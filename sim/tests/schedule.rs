//! How virtual time is attributed: a party's idle time before its first message in an op is not
//! that op's cost (issue 9 item 5), and the DAG schedule's critical-path rounds and predicted
//! time beside the sequential ones (issue 9 item 10). Asserts on the virtual clock only.

use sim::scenario::{load_source, Plan, Source};
use std::path::PathBuf;

fn plan(text: &str) -> Plan {
    let src = Source {
        name: "test.ron".into(),
        dir: PathBuf::from("."),
        text: text.to_string(),
    };
    load_source(&src).unwrap_or_else(|e| panic!("{e}"))
}

/// 100 µs one way, 10 Gbit/s, 1 ns per ring operation: every time below is exact.
fn scenario(inputs: &str, program: &str, outputs: &str) -> String {
    format!(
        r#"Scenario(
    name: "schedule",
    fixed_point: (frac_bits: 16, int_bits: 11, weak_security: true),
    roles: (input_providers: ["alice"], output_receivers: ["carol"]),
    network: (default: (latency_us: 100, bandwidth_bps: 10_000_000_000)),
    timing: Model(ns_per_ring_op: 1.0),
    seed: 3,
    inputs: [{inputs}],
    program: [{program}],
    outputs: [{outputs}],
)"#
    )
}

const LATENCY_NS: u64 = 100_000;

/// Transmission of `bytes` at 10 Gbit/s, ns (the link model's rule, rounded up).
fn tx_ns(bytes: u64) -> u64 {
    (bytes * 8 * 1_000_000_000).div_ceil(10_000_000_000)
}

#[test]
fn an_output_receiver_is_charged_only_the_reveal_it_waits_for() {
    // x ⋅ x takes three rounds before carol gets anything: she idles through them.
    let p = plan(&scenario(
        r#"(name: "x", owner: "alice", shape: [4], data: Values([1.5, -2.0, 0.5, 3.0]))"#,
        r#"(name: "y", op: Square("x")), (name: "z", op: Square("y"))"#,
        r#"(name: "z", to: "carol")"#,
    ));
    let r = sim::run(&p).unwrap();
    let t = &r.trace;
    let carol = t.parties.iter().position(|p| p == "carol").unwrap();
    let out = t.ops.iter().find(|o| o.kind == "output").unwrap();
    let steps = &t.steps[out.first_step..out.end_step];
    let msgs: Vec<_> = steps.iter().flat_map(|s| s.messages()).collect();
    assert_eq!(msgs.len(), 2);
    assert!(msgs.iter().all(|m| m.to == carol && m.bytes == 32));
    // The link model's prediction: from the first share's send to the last one's delivery.
    let first_send = msgs.iter().map(|m| m.send_ns).min().unwrap();
    let last_send = msgs.iter().map(|m| m.send_ns).max().unwrap();
    let predicted = last_send + tx_ns(32) + LATENCY_NS - first_send;
    assert!(
        first_send > 300_000,
        "the servers reach the output after 3 rounds"
    );
    // Carol's step: it starts when the first share is sent, and waits only for the link.
    let c = steps
        .iter()
        .find(|s| !s.parties[carol].sent.is_empty() || s.parties[carol].wait_ns > 0);
    let c = &c.expect("carol receives in the output op").parties[carol];
    assert_eq!(
        c.start_ns, first_send,
        "carol's idle time is not the reveal's"
    );
    assert_eq!(c.end_ns, last_send + tx_ns(32) + LATENCY_NS);
    assert_eq!(c.wait_ns, predicted);
    // The longest any party spent in a step of the op (what the outline shows) and the op's
    // virtual time are the link model's prediction, not the whole run.
    let span = steps
        .iter()
        .flat_map(|s| s.parties.iter().map(|p| p.end_ns - p.start_ns))
        .max()
        .unwrap();
    assert_eq!(span, predicted);
    assert_eq!(out.stats.virtual_time_ns, tx_ns(32) + LATENCY_NS);
    // Carol waited in no other op, and her idle time is nowhere.
    let carol_wait: u64 = t.steps.iter().map(|s| s.parties[carol].wait_ns).sum();
    assert_eq!(carol_wait, predicted);
    // Every step still spans exactly its computing and waiting.
    for s in &t.steps {
        for p in &s.parties {
            assert_eq!(
                p.end_ns - p.start_ns,
                p.compute_ns + p.wait_ns,
                "step {}",
                s.name
            );
        }
    }
    assert_eq!(r.totals.virtual_time_ns, c.end_ns);
}

/// var = mean(x²) − mean(x)²: two independent branches from x, each three rounds (square +
/// truncation, then the mean's truncation; the mean's truncation, then square + truncation).
fn variance() -> Plan {
    let mut text = scenario(
        r#"(name: "x", owner: "alice", shape: [4], data: Values([1.0, 2.0, 3.0, 4.0])),
        (name: "inv_n", owner: "public", shape: [1], data: Values([0.25]))"#,
        r#"(name: "x2", op: Square("x")),
        (name: "s2", op: ReduceSum(input: "x2")),
        (name: "m2", op: Mul("s2", "inv_n")),
        (name: "s", op: ReduceSum(input: "x")),
        (name: "m", op: Mul("s", "inv_n")),
        (name: "mm", op: Square("m")),
        (name: "var", op: Sub("m2", "mm"))"#,
        r#"(name: "var", to: "carol")"#,
    );
    text = text.replace("timing:", "truncation: Dealer,\n    timing:");
    plan(&text)
}

#[test]
fn independent_branches_share_rounds_on_the_critical_path() {
    let p = variance();
    let r = sim::run(&p).unwrap();
    assert!((r.outputs[0].values[0] - 1.25).abs() < 1e-3);
    let rounds: Vec<(String, u32)> = r
        .trace
        .ops
        .iter()
        .map(|o| (o.name.clone(), o.stats.rounds))
        .collect();
    let want = [
        ("input x", 1),
        ("x2", 2),
        ("s2", 0),
        ("m2", 1),
        ("s", 0),
        ("m", 1),
        ("mm", 2),
        ("var", 0),
        ("output var", 1),
    ];
    let want: Vec<(String, u32)> = want.iter().map(|(n, k)| (n.to_string(), *k)).collect();
    assert_eq!(rounds, want);
    // In program order the branches run one after the other: 1 + 2 + 1 + 1 + 2 + 1.
    assert_eq!(r.totals.rounds, 8);
    // On the DAG they overlap: 1 + max(2 + 1, 1 + 2) + 1.
    assert_eq!(r.totals.critical_path_rounds, 5);
    // And so do their messages: the DAG time is the critical path's, well below the sequential
    // time (5 vs 8 latencies of 100 µs, plus transmission and computing).
    assert!(r.totals.virtual_time_ns > 8 * LATENCY_NS, "{:?}", r.totals);
    assert!(
        r.totals.dag_virtual_time_ns > 5 * LATENCY_NS,
        "{:?}",
        r.totals
    );
    assert!(
        r.totals.dag_virtual_time_ns < 6 * LATENCY_NS,
        "{:?}",
        r.totals
    );
}

#[test]
fn a_chain_has_the_same_figures_either_way() {
    // Every op reads the one before: the DAG is the program order.
    let p = plan(&scenario(
        r#"(name: "x", owner: "alice", shape: [4], data: Values([1.5, -2.0, 0.5, 3.0]))"#,
        r#"(name: "y", op: Square("x")), (name: "z", op: Square("y")), (name: "o", op: Reveal("z"))"#,
        r#"(name: "o", to: "carol")"#,
    ));
    let r = sim::run(&p).unwrap();
    assert!(r.totals.rounds >= 5, "{:?}", r.totals);
    assert_eq!(r.totals.critical_path_rounds, r.totals.rounds);
    assert_eq!(r.totals.dag_virtual_time_ns, r.totals.virtual_time_ns);
}

#[test]
fn compare_shows_both_schedules() {
    let c = sim::compare::compare(
        &variance(),
        &[sim::scenario::ProtocolKind::named("Pond").unwrap()],
    )
    .unwrap();
    let row = &c.rows[0];
    assert_eq!((row.rounds, row.critical_path_rounds), (8, 5));
    // The default profiles: lan, then wan.
    assert_eq!(c.profiles[1].name, "wan");
    let (lan, wan) = (row.times_ns[0], row.times_ns[1]);
    let (lan_dag, wan_dag) = (row.dag_times_ns[0], row.dag_times_ns[1]);
    assert!(wan_dag < wan && lan_dag < lan, "{row:?}");
    // 20 ms one way: the WAN times are dominated by 8 and 5 latencies.
    assert!(wan > 8 * 20_000_000 && wan_dag < 6 * 20_000_000, "{row:?}");
    let table = c.table();
    let dag = table.split("DAG schedule").nth(1).expect("a DAG section");
    let line = dag.lines().find(|l| l.starts_with("pond")).unwrap();
    assert_eq!(
        line.split_whitespace().take(3).collect::<Vec<_>>(),
        ["pond", "8", "5"]
    );
}
