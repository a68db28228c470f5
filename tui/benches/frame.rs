//! Debugger performance (a benchmark, not a test): rendering a frame with a 10,000-step trace
//! loaded, stepping back and forth across it, and the memory the recorded trace takes — for the
//! synthetic long trace and for every shipped scenario.
//!
//! Run: `cargo bench -p sharescope --bench frame`.

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use sim::control::{trace_heap_bytes, Controller};
use sim::scenario::{load, load_source, Source};
use std::time::{Duration, Instant};
use tui::app::App;
use tui::theme::Theme;

/// `muls` elementwise products of the same two private inputs: six steps each (deal triple,
/// reuse masks after the first, combine, deal truncation pair, open z + r, truncate).
fn long_scenario(muls: usize) -> String {
    let mut program = String::new();
    for i in 0..muls {
        program.push_str(&format!("(name: \"z{i}\", op: Mul(\"x\", \"y\")),\n"));
    }
    format!(
        r#"Scenario(
    name: "long-trace",
    fixed_point: (frac_bits: 16, int_bits: 11, weak_security: true),
    roles: (input_providers: ["alice", "bob"], output_receivers: ["carol"]),
    timing: Model(ns_per_ring_op: 1.0),
    seed: 1,
    inputs: [
        (name: "x", owner: "alice", shape: [4], data: Values([1.5, -2.25, 3.0, 0.1])),
        (name: "y", owner: "bob", shape: [4], data: Values([2.0, 4.0, -1.5, 10.0])),
    ],
    program: [{program}],
    outputs: [(name: "z{}", to: "carol")],
)"#,
        muls - 1
    )
}

fn stats(mut v: Vec<Duration>) -> String {
    v.sort();
    let mean = v.iter().sum::<Duration>() / v.len() as u32;
    format!(
        "mean {:>8.3} ms  p50 {:>8.3} ms  p99 {:>8.3} ms  max {:>8.3} ms  (n = {})",
        mean.as_secs_f64() * 1e3,
        v[v.len() / 2].as_secs_f64() * 1e3,
        v[v.len() * 99 / 100].as_secs_f64() * 1e3,
        v[v.len() - 1].as_secs_f64() * 1e3,
        v.len()
    )
}

fn frame(term: &mut Terminal<TestBackend>, app: &mut App) -> Duration {
    let t = Instant::now();
    let size = term.size().unwrap();
    app.size = ratatui::layout::Rect::new(0, 0, size.width, size.height);
    term.draw(|f| tui::draw::draw(f, app)).unwrap();
    t.elapsed()
}

fn main() {
    let text = long_scenario(1667);
    let plan = load_source(&Source {
        name: "long".into(),
        dir: ".".into(),
        text,
    })
    .expect("bench scenario");
    let t = Instant::now();
    let mut ctl = Controller::new(plan);
    ctl.last();
    let steps = ctl.completed();
    println!(
        "long trace: {steps} steps, {} ops, recorded in {:.2} s, trace memory ≈ {:.2} MB",
        ctl.trace().ops.len(),
        t.elapsed().as_secs_f64(),
        trace_heap_bytes(ctl.trace()) as f64 / 1e6
    );
    // Continue with a breakpoint that never hits: the run advances one gated step at a time.
    let plan = ctl.plan().clone();
    let mut gated = Controller::new(plan);
    gated.add_breakpoint(sim::control::Breakpoint::Bytes(u64::MAX));
    let t = Instant::now();
    gated.resume();
    println!(
        "continue step by step (breakpoint checked after each of {} steps): {:.2} s, {:.1} µs per step",
        gated.completed(),
        t.elapsed().as_secs_f64(),
        t.elapsed().as_secs_f64() * 1e6 / gated.completed().max(1) as f64
    );
    let mut app = App::new(ctl, Theme { color: true });
    for (w, h) in [(80u16, 24u16), (160, 48)] {
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        for pane in tui::app::Pane::ALL {
            app.focus_pane(pane);
            app.ctl.goto(steps / 2);
            app.follow_cursor();
            let v: Vec<Duration> = (0..50).map(|_| frame(&mut term, &mut app)).collect();
            println!("frame {w}×{h} {:<9} {}", pane.title(), stats(v));
        }
        // Stepping across the whole recorded history: one step and one frame each.
        app.focus_pane(tui::app::Pane::Shares);
        app.ctl.first();
        let mut fwd = Vec::new();
        for _ in 0..steps.min(2000) {
            let t = Instant::now();
            app.ctl.step(1);
            app.follow_cursor();
            frame(&mut term, &mut app);
            fwd.push(t.elapsed());
        }
        let mut back = Vec::new();
        app.ctl.last();
        for _ in 0..steps.min(2000) {
            let t = Instant::now();
            app.ctl.step_back(1);
            app.follow_cursor();
            frame(&mut term, &mut app);
            back.push(t.elapsed());
        }
        println!("step forward + frame {w}×{h}  {}", stats(fwd));
        println!("step back + frame {w}×{h}     {}", stats(back));
    }
    // Shipped scenarios: trace memory.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "ron"));
    files.sort();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let Ok(plan) = load(&f) else {
            println!("{name}: does not load");
            continue;
        };
        let t = Instant::now();
        let mut ctl = Controller::new(plan);
        ctl.last();
        println!(
            "{name:<32} {:>6} steps  trace ≈ {:>8.3} MB  ({:?}, {:.2} s)",
            ctl.completed(),
            trace_heap_bytes(ctl.trace()) as f64 / 1e6,
            ctl.state(),
            t.elapsed().as_secs_f64()
        );
    }
}
