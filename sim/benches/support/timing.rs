//! Timing helpers shared by the benchmarks (included with `#[path]`, not a bench itself).

use std::time::{Duration, Instant};

/// The fastest of `runs` runs of `f`.
pub fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed()
        })
        .min()
        .expect("at least one run")
}

/// A duration in milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The fastest of `runs` runs of `a` and of `b`, measured alternately (a, b, a, b, …) so that a
/// noisy stretch of a shared machine slows both sides of a ratio alike rather than one.
#[allow(dead_code)] // not every bench compares two sides
pub fn best_of_pair<S, T>(
    runs: usize,
    mut a: impl FnMut() -> S,
    mut b: impl FnMut() -> T,
) -> (Duration, Duration) {
    let (mut best_a, mut best_b) = (Duration::MAX, Duration::MAX);
    for _ in 0..runs {
        best_a = best_a.min(best_of(1, &mut a));
        best_b = best_b.min(best_of(1, &mut b));
    }
    (best_a, best_b)
}
