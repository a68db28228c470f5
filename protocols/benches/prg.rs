//! Keystream throughput of the AES-128-CTR generator ([`protocols::prg::AesCtrPrg`]) on each
//! backend this CPU can run, in the same run: the `aes` crate (the path before session 22)
//! and VAES. Plain `std::time::Instant`, best of 7 runs per case.
//!
//! Run with `cargo bench -p sharescope-protocols --bench prg`.

use protocols::prg::{prg_backend, AesCtrPrg, PrgBackend};
use rand::RngCore;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Bytes of keystream per run of a case.
const TOTAL: usize = 64 << 20;

/// The fastest of `runs` runs of `f`.
fn best_of(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    const RUNS: usize = 7;
    println!("AesCtrPrg backend on this CPU: {}", prg_backend().name());
    let seed = [0x5e; 32];
    let backends: Vec<PrgBackend> = [PrgBackend::AesCrate, PrgBackend::Vaes]
        .into_iter()
        .filter(|b| b.available())
        .collect();
    // fill_bytes in pieces of `piece` bytes (8 KiB: tensor::PIECE of Z_2^64; 256: the Z_p
    // rejection buffer; 1 MiB: one bulk fill), and next_u64 words.
    for piece in [1 << 20, 8 << 10, 256, 8] {
        for &b in &backends {
            let mut buf = vec![0u8; piece];
            let t = best_of(RUNS, || {
                let mut g = AesCtrPrg::from_seed_with(seed, b).expect("available");
                if piece == 8 {
                    let mut acc = 0u64;
                    for _ in 0..TOTAL / 8 {
                        acc ^= g.next_u64();
                    }
                    black_box(acc);
                } else {
                    for _ in 0..TOTAL / piece {
                        g.fill_bytes(&mut buf);
                        black_box(&buf);
                    }
                }
            });
            let what = if piece == 8 {
                "next_u64".to_string()
            } else {
                format!("fill_bytes({piece})")
            };
            println!(
                "{:<10} {what:<20} {:>6.2} GB/s  (best of {RUNS}, {} MiB)",
                b.name(),
                TOTAL as f64 / t.as_secs_f64() / 1e9,
                TOTAL >> 20
            );
        }
    }
}
