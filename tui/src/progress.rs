//! The progress bar of long headless commands (`run`, `compare`, `leak`): on standard error,
//! only when standard error is a terminal, and erased when the command ends, so piped output
//! (and every test that reads it) is byte for byte what it was without it.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sim::progress::Advance;
use std::io::IsTerminal;

/// A progress bar, or nothing when standard error is not a terminal.
pub struct Bar {
    bar: Option<ProgressBar>,
    /// What the units are: "ops", "runs", "protocols".
    unit: &'static str,
}

impl Bar {
    /// A bar for `what` (shown before it) counting `unit`s, drawn only when standard error is a
    /// terminal.
    pub fn stderr(what: &str, unit: &'static str) -> Bar {
        Bar::new(what, unit, std::io::stderr().is_terminal())
    }

    /// A bar drawn on standard error if `terminal`, else one that draws nothing.
    pub fn new(what: &str, unit: &'static str, terminal: bool) -> Bar {
        let bar = terminal.then(|| {
            let style = ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} {msg} · {elapsed} elapsed, ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr())
                .with_style(style)
                .with_prefix(what.to_string())
                .with_message(unit);
            // Drawn at once, whatever the rate limit: a run shorter than a redraw still shows.
            bar.tick();
            bar
        });
        Bar { bar, unit }
    }

    /// Whether anything is drawn.
    pub fn is_shown(&self) -> bool {
        self.bar.is_some()
    }

    /// Moves the bar to `a`.
    pub fn update(&self, a: Advance) {
        if let Some(b) = &self.bar {
            b.set_length(a.total);
            b.set_position(a.done);
            if a.steps > 0 {
                b.set_message(format!("{} · {} steps", self.unit, a.steps));
            }
        }
    }

    /// Shows the label of the unit under way (a protocol's name).
    pub fn label(&self, text: &str) {
        if let Some(b) = &self.bar {
            b.set_message(format!("{} · {text}", self.unit));
        }
    }

    /// Draws the final state once and erases the bar (the report follows on the same terminal).
    pub fn finish(self) {
        if let Some(b) = self.bar {
            if let Some(len) = b.length() {
                b.set_position(b.position().min(len));
            }
            // `finish` draws the final count whatever the rate limit; then the bar is erased.
            b.finish();
            b.finish_and_clear();
        }
    }
}

/// [`sim::run`] with a bar over the plan's ops when standard error is a terminal.
pub fn run(plan: &sim::scenario::Plan) -> std::result::Result<sim::RunResult, Box<sim::FailedRun>> {
    let bar = Bar::stderr("sharescope run", "ops");
    if !bar.is_shown() {
        return sim::run_keeping_partial(plan);
    }
    let result = sim::progress::run_observed(plan, &mut |a| bar.update(a));
    bar.finish();
    result
}

/// [`sim::train::run::train`] with a bar over its iterations when standard error is a terminal.
pub fn train(plan: &sim::scenario::Plan) -> sim::Result<sim::train::run::TrainingResult> {
    let bar = Bar::stderr("sharescope run", "iterations");
    if !bar.is_shown() {
        return sim::train::run::train(plan);
    }
    let r = sim::train::run::train_observed(plan, &mut |done, total| {
        bar.update(sim::progress::Advance {
            done: done as u64,
            total: total as u64,
            steps: 0,
        })
    });
    bar.finish();
    r
}

/// [`sim::leak::check`] with a bar over its runs when standard error is a terminal.
pub fn leak(
    plan: &sim::scenario::Plan,
    opts: &sim::leak::Options,
) -> sim::Result<sim::leak::LeakReport> {
    let bar = Bar::stderr("sharescope leak", "runs");
    if !bar.is_shown() {
        return sim::leak::check(plan, opts);
    }
    let report = sim::leak::check_observed(plan, opts, &mut |a| bar.update(a));
    bar.finish();
    report
}

/// [`sim::compare::compare`] with a bar over the protocols when standard error is a terminal
/// (one protocol at a time: the same rows as one call with all of them).
pub fn compare(
    plan: &sim::scenario::Plan,
    protocols: &[sim::scenario::ProtocolKind],
    profiles: &[sim::profiles::Profile],
) -> sim::Result<sim::compare::Comparison> {
    let bar = Bar::stderr("sharescope compare", "protocols");
    if !bar.is_shown() {
        return sim::compare::compare_on(plan, protocols, profiles);
    }
    let total = protocols.len() as u64;
    let mut all: Option<sim::compare::Comparison> = None;
    for (i, p) in protocols.iter().enumerate() {
        bar.update(Advance {
            done: i as u64,
            total,
            steps: 0,
        });
        bar.label(&sim::compare::protocol_name(*p));
        let c = match sim::compare::compare_on(plan, std::slice::from_ref(p), profiles) {
            Ok(c) => c,
            Err(e) => {
                bar.finish();
                return Err(e);
            }
        };
        match &mut all {
            Some(a) => a.rows.extend(c.rows),
            None => all = Some(c),
        }
    }
    bar.update(Advance {
        done: total,
        total,
        steps: 0,
    });
    bar.finish();
    match all {
        Some(c) => Ok(c),
        None => sim::compare::compare_on(plan, protocols, profiles),
    }
}
