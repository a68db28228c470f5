//! Pond benchmarks, each reported as a ratio against a plaintext baseline measured in the same
//! run (`cargo bench -p sharescope-sim --bench pond`).
//!
//! 1. The ring matmul kernel (512×512) against the naive i-k-j loop.
//! 2. Pond private matmul n×n · n×n for n = 256, 512 — input sharing, Beaver product, dealer
//!    truncation and reveal, with every party a thread — against one plaintext ring matmul.
//! 3. 10,000 sequential scalar multiplications: the runtime's per-op overhead.

// mimalloc, as the `sharescope` binary uses: the trace allocates many small records.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use protocols::kernels;
use sim::scenario::*;
use std::path::PathBuf;

#[path = "support/timing.rs"]
mod timing;
use timing::{best_of, best_of_pair, ms};

fn scenario(inputs: Vec<InputSpec>, program: Vec<Stmt>, outputs: Vec<OutputSpec>) -> Plan {
    let sc = Scenario {
        name: "bench".into(),
        description: String::new(),
        protocol: ProtocolKind::named("Pond").unwrap(),
        // tf-encrypted's 64-bit preset, whose dealer truncation needs the weak_security opt-in.
        fixed_point: protocols::fixed::FixedConfig {
            weak_security: true,
            ..Default::default()
        },
        truncation: Default::default(),
        input_sharing: Default::default(),
        sigmoid: Default::default(),
        roles: Roles {
            input_providers: vec!["alice".into()],
            output_receivers: vec!["bob".into()],
            ..Roles::default()
        },
        network: NetworkConfig::default(),
        timing: Timing::Model {
            ns_per_ring_op: 1.0,
        },
        seed: 1,
        inputs,
        program,
        outputs,
        breakpoints: vec![],
        trace: TraceConfig { max_values: 16 },
        faults: vec![],
        metrics: None,
        training: None,
    };
    let src = Source {
        name: "bench".into(),
        dir: PathBuf::from("."),
        text: String::new(),
    };
    Plan::new(&src, sc).expect("valid bench scenario")
}

fn input(name: &str, shape: &[usize], data: Data) -> InputSpec {
    InputSpec {
        name: name.into(),
        owner: "alice".into(),
        shape: shape.to_vec(),
        data,
    }
}

fn main() {
    println!(
        "sharescope Pond benchmarks (u64 kernel path: {})\n",
        kernels::matmul_u64_path()
    );
    // `cargo bench --bench pond -- seq` runs only the benchmarks whose name contains "seq".
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let want = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    if want("kernel") {
        kernel();
    }
    if want("matmul") {
        pond_matmul();
    }
    if want("seq") {
        sequential();
    }
}

fn kernel() {
    let n = 512;
    let a: Vec<u64> = (0..n * n)
        .map(|i| (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .collect();
    let b: Vec<u64> = (0..n * n)
        .map(|i| (i as u64).wrapping_mul(0xbf58_476d_1ce4_e5b9))
        .collect();
    let naive = best_of(3, || kernels::matmul_naive_ikj(&a, &b, n, n, n));
    let fast = best_of(3, || kernels::matmul(&a, &b, n, n, n));
    println!(
        "ring matmul 512:   kernel {:8.2} ms   naive i-k-j {:8.2} ms   kernel is {:.2}× faster (target ≥ 1×)",
        ms(fast),
        ms(naive),
        naive.as_secs_f64() / fast.as_secs_f64()
    );
}

fn pond_matmul() {
    for n in [256usize, 512] {
        let plan = scenario(
            vec![
                input("x", &[n, n], Data::Random(Distribution::Uniform(-1.0, 1.0))),
                input(
                    "w",
                    &[n, n],
                    Data::Random(Distribution::Uniform(-0.05, 0.05)),
                ),
            ],
            vec![Stmt {
                name: "y".into(),
                op: protocols::program::Op::MatMul("x".into(), "w".into()),
            }],
            vec![OutputSpec {
                name: "y".into(),
                to: "bob".into(),
            }],
        );
        let a: Vec<u64> = (0..n * n).map(|i| i as u64 * 3).collect();
        let mut result = None;
        let (plain, pond) = best_of_pair(
            7,
            || kernels::matmul(&a, &a, n, n, n),
            || {
                result = Some(sim::run(&plan).expect("bench run"));
            },
        );
        let r = result.expect("ran");
        println!(
            "Pond matmul {n}:   secure {:8.2} ms   plaintext ring matmul {:8.2} ms   ratio {:.2}× (target ≤ 3×, issue 11)   online {} B, offline {} B, {} rounds, max err {:.1e}",
            ms(pond),
            ms(plain),
            pond.as_secs_f64() / plain.as_secs_f64(),
            r.totals.bytes,
            r.totals.offline_bytes,
            r.totals.rounds,
            r.outputs[0].max_abs_error,
        );
    }
}

fn sequential() {
    let count = 10_000;
    let mut program = Vec::with_capacity(count);
    let mut prev = "x".to_string();
    for i in 0..count {
        let name = format!("z{i}");
        program.push(Stmt {
            name: name.clone(),
            op: protocols::program::Op::Mul(prev.clone(), "one".into()),
        });
        prev = name;
    }
    let plan = scenario(
        vec![
            input("x", &[1], Data::Values(vec![1.5])),
            input("one", &[1], Data::Values(vec![1.0])),
        ],
        program,
        vec![OutputSpec {
            name: prev.clone(),
            to: "bob".into(),
        }],
    );
    let mut result = None;
    let secure = best_of(1, || {
        result = Some(sim::run(&plan).expect("bench run"));
    });
    let mut acc = 1.5f64;
    let plain = best_of(3, || {
        for _ in 0..count {
            acc = std::hint::black_box(acc * 1.0);
        }
        acc
    });
    let r = result.expect("ran");
    println!(
        "{count} sequential scalar muls: {:8.1} ms total, {:.1} µs per mul (target ≤ 10 µs, issue 11); plaintext {:.3} µs per mul; {} steps, {} rounds, result {:.4} (plaintext 1.5)",
        ms(secure),
        secure.as_secs_f64() * 1e6 / count as f64,
        plain.as_secs_f64() * 1e6 / count as f64,
        r.trace.steps.len(),
        r.totals.rounds,
        r.outputs[0].values[0],
    );
}
