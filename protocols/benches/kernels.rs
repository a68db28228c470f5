//! Matmul throughput over Z_2^64: the blocked, CPU-dispatched [`matmul`] against the textbook
//! i-k-j loop [`matmul_naive_ikj`]. Plain `std::time::Instant`, best of 5 runs per kernel.
//!
//! Run with `cargo bench -p sharescope-protocols --bench kernels`.

use protocols::kernels::{matmul, matmul_naive_ikj, matmul_u64_path};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Runs `f` `runs` times and returns the fastest wall time and the last result.
fn best_of(runs: usize, mut f: impl FnMut() -> Vec<u64>) -> (Duration, Vec<u64>) {
    let mut best = Duration::MAX;
    let mut out = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        out = black_box(f());
        best = best.min(start.elapsed());
    }
    (best, out)
}

fn main() {
    const RUNS: usize = 5;
    println!("u64 matmul kernel path: {}", matmul_u64_path());
    let mut rng = ChaCha20Rng::seed_from_u64(0x5eed);
    for size in [256usize, 512] {
        let a: Vec<u64> = (0..size * size).map(|_| rng.next_u64()).collect();
        let b: Vec<u64> = (0..size * size).map(|_| rng.next_u64()).collect();
        let (a, b) = (black_box(a), black_box(b));
        let (t_naive, c_naive) = best_of(RUNS, || matmul_naive_ikj(&a, &b, size, size, size));
        let (t_fast, c_fast) = best_of(RUNS, || matmul(&a, &b, size, size, size));
        assert_eq!(c_naive, c_fast, "kernels disagree at {size}");
        let mul_adds = (size * size * size) as f64;
        for (name, t) in [
            ("matmul_naive_ikj", t_naive),
            ("matmul (blocked, dispatched)", t_fast),
        ] {
            println!(
                "{name:<30} u64 {size}x{size}x{size}: {:>9.3} ms  ({:.2} G mul-add/s, best of {RUNS})",
                t.as_secs_f64() * 1e3,
                mul_adds / t.as_secs_f64() / 1e9,
            );
        }
        println!(
            "{size}: blocked/dispatched kernel is {:.2}x faster than naive i-k-j",
            t_naive.as_secs_f64() / t_fast.as_secs_f64()
        );
    }
}
