//! Memory: validation allocates no input data, and (issue 8, finding 5) the plan's estimate of a
//! run's peak memory bounds what the run allocates. This binary counts every allocation with its
//! own global allocator, so its tests run one at a time (a lock) and never in parallel with each
//! other's measurements.

use sim::scenario::{load_source, Source};
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;

/// The system allocator, counting the bytes in use and their peak.
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = IN_USE.fetch_add(l.size(), SeqCst) + l.size();
            PEAK.fetch_max(now, SeqCst);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        IN_USE.fetch_sub(l.size(), SeqCst);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            if new > l.size() {
                let now = IN_USE.fetch_add(new - l.size(), SeqCst) + new - l.size();
                PEAK.fetch_max(now, SeqCst);
            } else {
                IN_USE.fetch_sub(l.size() - new, SeqCst);
            }
        }
        q
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// One measurement at a time.
static LOCK: Mutex<()> = Mutex::new(());

/// What `f` returns and the most heap it had in use at once beyond what was in use before.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = IN_USE.load(SeqCst);
    PEAK.store(base, SeqCst);
    let out = f();
    (out, PEAK.load(SeqCst).saturating_sub(base))
}

fn source(text: &str) -> Source {
    Source {
        name: "memory.ron".into(),
        dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        text: text.into(),
    }
}

#[test]
fn validation_does_not_generate_random_inputs() {
    let _one = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    // Two inputs of 2^22 random elements: 64 MiB of f64 if validation drew them.
    let text = r#"Scenario(
        name: "big-random", seed: 3,
        roles: (input_providers: ["alice"]),
        inputs: [
            (name: "a", owner: "alice", shape: [4194304], data: Random(Uniform(-1.0, 1.0))),
            (name: "b", owner: "alice", shape: [2048, 2048], data: Random(Normal(0.0, 1.0))),
        ],
        program: [],
    )"#;
    let (plan, peak) = peak_of(|| load_source(&source(text)).unwrap_or_else(|e| panic!("{e}")));
    assert!(peak < 1 << 20, "validation allocated {peak} bytes");
    // The data is drawn when asked for, the same every time.
    let a = plan.inputs[0].values().unwrap();
    assert_eq!(a.len(), 4_194_304);
    assert_eq!(a, plan.inputs[0].values().unwrap());
    assert!(a.iter().all(|v| (-1.0..1.0).contains(v)));
}
