//! The `:` command line: what keys do not cover.
//!
//! - `break op NAME | kind KIND | step NAME | party NAME | div EPS | bytes N | hazard`
//! - `delete N` (1-based, as the breakpoint list shows), `clear`
//! - `edit N SPEC` — replace breakpoint N in place by `break SPEC` (Enter in the list pre-fills it)
//! - `tol EPS` — the tolerance that marks reconstructed elements
//! - `link FROM TO [profile=NAME] [latency=US] [bandwidth=BPS] [jitter=US] [both]` — change a
//!   link and re-run
//! - `profile NAME` — every link takes a network profile (`sim::profiles`: lan, wan,
//!   securenn-lan, securenn-wan), re-run; `lan` and `wan` are short for `profile lan|wan`
//! - `seed N` — restart with seed N
//! - `goto N` — go to step N
//! - `iteration K` — a training run: open iteration K before its first step (docs/training.md)
//! - `export chrome FILE` | `export json FILE`
//! - `quit`

use crate::app::App;
use sim::control::Breakpoint;

/// The commands, for the help screen.
pub const HELP: &[(&str, &str)] = &[
    ("break op|kind|step|party NAME", "add a breakpoint"),
    (
        "break div EPS | bytes N | hazard",
        "conditional breakpoints",
    ),
    ("delete N / clear", "remove breakpoint N / all"),
    ("edit N SPEC", "replace breakpoint N (Enter in the list)"),
    ("tol EPS", "tolerance for marking divergent elements"),
    (
        "link A B latency=US bandwidth=BPS [both]",
        "change a link (profile=P too)",
    ),
    (
        "profile NAME",
        "every link: lan, wan, securenn-lan, securenn-wan; re-run",
    ),
    ("lan / wan", "short for profile lan / profile wan"),
    ("seed N / goto N", "restart with seed N / go to step N"),
    (
        "iteration K",
        "training: open iteration K (s, c past an end: the next)",
    ),
    ("export chrome FILE / export json FILE", "write the trace"),
];

fn party(app: &App, name: &str) -> Result<usize, String> {
    app.ctl
        .plan()
        .parties
        .iter()
        .position(|p| p == name)
        .ok_or_else(|| {
            format!(
                "no party `{name}` (parties: {})",
                app.ctl.plan().parties.join(", ")
            )
        })
}

fn number<T: std::str::FromStr>(s: Option<&str>, what: &str) -> Result<T, String> {
    let s = s.ok_or_else(|| format!("{what} is missing"))?;
    s.parse()
        .map_err(|_| format!("`{s}` is not a valid {what}"))
}

/// The `break` arguments that set `b` again: `edit` pre-fills the command line with them.
pub fn breakpoint_spec(app: &App, b: &Breakpoint) -> String {
    match b {
        Breakpoint::Op(n) => format!("op {n}"),
        Breakpoint::Kind(k) => format!("kind {k}"),
        Breakpoint::Step(s) => format!("step {s}"),
        Breakpoint::Party(p) => format!(
            "party {}",
            app.ctl.plan().parties.get(*p).map_or("?", String::as_str)
        ),
        Breakpoint::Divergence(e) => format!("div {e}"),
        Breakpoint::Bytes(n) => format!("bytes {n}"),
        Breakpoint::Hazard => "hazard".into(),
    }
}

/// Parses the arguments of `break`.
pub fn parse_breakpoint(app: &App, args: &[&str]) -> Result<Breakpoint, String> {
    let rest = args.get(1..).unwrap_or_default().join(" ");
    let need = |what: &str| {
        if rest.is_empty() {
            Err(format!("break {what} needs a name"))
        } else {
            Ok(rest.clone())
        }
    };
    match args.first().copied() {
        Some("op") => {
            let n = need("op")?;
            if app.ctl.trace().ops.iter().any(|o| o.name == n)
                || sim::train::names_iteration_op(app.ctl.plan(), &n)
            {
                Ok(Breakpoint::Op(n))
            } else if let Some(at) = app
                .ctl
                .iteration()
                .filter(|_| sim::train::label_iteration(&n).is_some())
            {
                Err(format!(
                    "no op named `{n}`: the run's iterations are 0..{} and each runs this \
                     iteration's ops (it{}/…)",
                    at.iterations - 1,
                    at.index
                ))
            } else {
                Err(format!("no op named `{n}`"))
            }
        }
        Some("kind") => {
            // Against the plan: a kind no op has would never fire.
            let k = need("kind")?;
            let mut kinds: Vec<&str> = app.ctl.plan().ops.iter().map(|o| o.kind()).collect();
            kinds.sort_unstable();
            kinds.dedup();
            if kinds.contains(&k.as_str()) {
                return Ok(Breakpoint::Kind(k));
            }
            let hint = sim::scenario::closest(&k, kinds.iter().copied())
                .map(|c| format!("did you mean `{c}`? "))
                .unwrap_or_default();
            Err(format!(
                "no op of kind `{k}` in this program; {hint}its kinds are {}",
                kinds.join(", ")
            ))
        }
        Some("step") => {
            // Against the recorded steps (full names and without their sub-protocol prefix);
            // once the history is complete, a name that never occurs is refused.
            let n = need("step")?;
            let t = app.ctl.trace();
            let mut names: Vec<&str> = t
                .steps
                .iter()
                .flat_map(|s| [s.name.as_str(), sim::control::base_step_name(&s.name)])
                .collect();
            names.sort_unstable();
            names.dedup();
            if names.contains(&n.as_str())
                || !matches!(app.ctl.state(), sim::control::RunState::Finished)
            {
                return Ok(Breakpoint::Step(n));
            }
            let hint = sim::scenario::closest(&n, names.iter().copied())
                .map(|c| format!(" did you mean `{c}`?"))
                .unwrap_or_default();
            Err(format!(
                "no step named `{n}` in this run;{hint} the outline lists the step names"
            ))
        }
        Some("party") => Ok(Breakpoint::Party(party(app, &need("party")?)?)),
        Some("div") | Some("divergence") => {
            let e: f64 = number(args.get(1).copied(), "tolerance")?;
            if e.is_finite() && e >= 0.0 {
                Ok(Breakpoint::Divergence(e))
            } else {
                Err("the divergence tolerance must be a non-negative number".into())
            }
        }
        Some("bytes") => Ok(Breakpoint::Bytes(number(
            args.get(1).copied(),
            "byte count",
        )?)),
        Some("hazard") => Ok(Breakpoint::Hazard),
        Some(other) => Err(format!(
            "unknown breakpoint kind `{other}` (op, kind, step, party, div, bytes, hazard)"
        )),
        None => Err("break what? op, kind, step, party, div, bytes or hazard".into()),
    }
}

/// Runs one command line against the app; returns the message to show.
pub fn run(app: &mut App, text: &str) -> Result<String, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let Some((&cmd, args)) = words.split_first() else {
        return Ok(String::new());
    };
    match cmd {
        "b" | "break" => {
            // The breakpoint list's `:` pre-fills `break `; typing the whole command after it
            // (`break break bytes 100`) means the same.
            let args = args.strip_prefix(&["break"]).unwrap_or(args);
            let b = parse_breakpoint(app, args)?;
            let d = b.describe(&app.ctl.plan().parties);
            app.ctl.add_breakpoint(b);
            Ok(format!("breakpoint set: {d}"))
        }
        "d" | "delete" => {
            let i: usize = number(args.first().copied(), "breakpoint number")?;
            match i.checked_sub(1).and_then(|i| app.ctl.remove_breakpoint(i)) {
                Some(b) => Ok(format!(
                    "deleted breakpoint: {}",
                    b.describe(&app.ctl.plan().parties)
                )),
                None => Err(format!("there is no breakpoint {i}")),
            }
        }
        "edit" => {
            let i: usize = number(args.first().copied(), "breakpoint number")?;
            let slot = i
                .checked_sub(1)
                .filter(|k| *k < app.ctl.breakpoints().len())
                .ok_or_else(|| format!("there is no breakpoint {i}"))?;
            let b = parse_breakpoint(app, args.get(1..).unwrap_or_default())?;
            let d = b.describe(&app.ctl.plan().parties);
            app.ctl.replace_breakpoint(slot, b);
            Ok(format!("breakpoint {i} is now: {d}"))
        }
        "clear" => {
            while app.ctl.remove_breakpoint(0).is_some() {}
            Ok("all breakpoints deleted".into())
        }
        "tol" | "tolerance" => {
            let e: f64 = number(args.first().copied(), "tolerance")?;
            if !(e.is_finite() && e >= 0.0) {
                return Err("the tolerance must be a non-negative number".into());
            }
            app.tolerance = e;
            Ok(format!("tolerance set to {e}"))
        }
        "link" => {
            let (from, to) = match args {
                [a, b, ..] => (party(app, a)?, party(app, b)?),
                _ => return Err("usage: link FROM TO latency=US bandwidth=BPS [both]".into()),
            };
            let mut plan = app.ctl.plan().clone();
            let mut cfg = plan.links[from][to];
            let mut both = false;
            for kv in &args[2..] {
                match kv.split_once('=') {
                    Some(("profile", v)) => {
                        let p = sim::profiles::lookup(v)?.link;
                        (cfg.latency_us, cfg.jitter_us, cfg.bandwidth_bps) =
                            (p.latency_us, p.jitter_us, p.bandwidth_bps);
                    }
                    Some(("latency" | "latency_us", v)) => {
                        cfg.latency_us = number(Some(v), "latency")?
                    }
                    Some(("bandwidth" | "bandwidth_bps" | "bw", v)) => {
                        cfg.bandwidth_bps = number(Some(v), "bandwidth")?
                    }
                    Some(("jitter" | "jitter_us", v)) => cfg.jitter_us = number(Some(v), "jitter")?,
                    None if *kv == "both" => both = true,
                    _ => return Err(format!("unknown link setting `{kv}`")),
                }
            }
            // The same limits as the scenario's links: the virtual clock counts ns in a u64.
            if let Err((field, m)) = sim::network::check_link(&cfg) {
                let setting = field.trim_end_matches("_us");
                return Err(format!("{setting}: {m}; the link is unchanged"));
            }
            plan.links[from][to] = cfg;
            if both {
                plan.links[to][from] = cfg;
            }
            let stop = app.ctl.replan(plan);
            Ok(format!(
                "link {} → {} now {} µs, {}; re-ran to step {} ({stop:?})",
                args[0],
                args[1],
                cfg.latency_us,
                crate::format::bps(cfg.bandwidth_bps),
                app.ctl.position()
            ))
        }
        "profile" | "lan" | "wan" => {
            let name = match (cmd, args) {
                ("profile", [name]) => *name,
                ("profile", _) => {
                    return Err(format!(
                        "usage: profile NAME (the profiles are {})",
                        sim::profiles::names()
                    ))
                }
                (alias, _) => alias,
            };
            let p = sim::profiles::lookup(name)?;
            let mut plan = app.ctl.plan().clone();
            // Latency, jitter and bandwidth; a held link stays held.
            for l in plan.links.iter_mut().flatten() {
                (l.latency_us, l.jitter_us, l.bandwidth_bps) =
                    (p.link.latency_us, p.link.jitter_us, p.link.bandwidth_bps);
            }
            app.ctl.replan(plan);
            Ok(format!(
                "every link is now {}; re-ran to step {}",
                p.describe(),
                app.ctl.position()
            ))
        }
        "seed" => {
            let s: u64 = number(args.first().copied(), "seed")?;
            app.ctl.restart(Some(s));
            Ok(format!("restarted with seed {s}"))
        }
        "iteration" | "it" => {
            let k: usize = number(args.first().copied(), "iteration number")?;
            app.ctl.open_iteration(k)?;
            Ok("paused before the first step".into())
        }
        "goto" | "g" => {
            let n: usize = number(args.first().copied(), "step number")?;
            let stop = app.ctl.goto(n);
            Ok(crate::app::stop_message("goto", stop, app.ctl.position()))
        }
        "export" => {
            let (what, file) = match args {
                [w, f] => (*w, *f),
                _ => return Err("usage: export chrome FILE | export json FILE".into()),
            };
            let value = match what {
                "chrome" => crate::chrome::chrome_trace(app.ctl.trace()),
                "json" => serde_json::to_value(app.ctl.trace()).map_err(|e| e.to_string())?,
                _ => return Err(format!("unknown export format `{what}` (chrome, json)")),
            };
            let text = serde_json::to_string(&value).map_err(|e| e.to_string())?;
            std::fs::write(file, text).map_err(|e| format!("{file}: {e}"))?;
            Ok(format!(
                "wrote {what} trace of {} steps to {file}",
                app.ctl.completed()
            ))
        }
        "q" | "quit" => {
            app.quit = true;
            Ok(String::new())
        }
        other => Err(format!("unknown command `{other}`; ? lists commands")),
    }
}
