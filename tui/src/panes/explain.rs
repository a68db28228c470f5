//! Pane 7: teaching text for the step at the cursor — what it computes, why it reveals nothing
//! (what each party sees, and why it looks random), and what it costs — followed by the actual
//! numbers of this step.

use crate::app::App;
use crate::format;
use protocols::context::Traffic;
pub use protocols::protocol::Explanation;
use protocols::protocol::StepFacts;
use ratatui::text::Line;
use sim::control::step_prefix;
use sim::scenario::ProtocolKind;

/// The explanation of a step by its name, from the first registered protocol that has one
/// (prefix such as `x^3: ` ignored; SecureNN steps get the secure variant's text unless the name
/// says the variant; see [`explanation_in`]).
pub fn explanation(step_name: &str) -> Option<Explanation> {
    protocols::protocol::registry()
        .iter()
        .find_map(|p| p.explanation(step_name))
}

/// The explanation of a step of a run under `protocol`, as the protocol gives it
/// ([`protocols::protocol::Protocol::explanation`]).
pub fn explanation_in(step_name: &str, protocol: ProtocolKind) -> Option<Explanation> {
    protocol.explanation(step_name)
}

/// The pane's lines.
pub fn lines(app: &App) -> Vec<Line<'static>> {
    let th = &app.theme;
    let (step, which) = match (app.ctl.current_step(), app.ctl.next_step()) {
        (Some(s), _) => (s, "this step"),
        (None, Some(s)) => (s, "the next step"),
        (None, None) => return vec![Line::from("No step to explain.")],
    };
    let mut out = Vec::new();
    let op = &app.ctl.trace().ops[step.op];
    let protocol = app.ctl.plan().scenario.protocol;
    let Some(e) = explanation_in(&step.name, protocol) else {
        return vec![Line::from(format!(
            "{} — no explanation for this step kind yet.",
            step.name
        ))];
    };
    out.push(Line::styled(e.title.to_string(), th.title()));
    if let Some(p) = step_prefix(&step.name).filter(|p| p.contains('^')) {
        out.push(Line::styled(
            format!("(part of computing {p} for {} [{}])", op.name, op.kind),
            th.dim(),
        ));
    }
    out.push(Line::from(""));
    out.push(Line::styled("What it computes", th.title()));
    out.push(Line::from(e.computes.to_string()));
    if e.private.starts_with("INSECURE") {
        out.push(Line::from(""));
        out.push(Line::styled("⚠ What it gives away", th.bad()));
        out.push(Line::from(e.private.to_string()));
    } else if !e.private.is_empty() {
        out.push(Line::from(""));
        out.push(Line::styled("Why it reveals nothing", th.title()));
        out.push(Line::from(e.private.to_string()));
    }
    if !e.cost.is_empty() {
        out.push(Line::from(""));
        out.push(Line::styled("Cost", th.title()));
        out.push(Line::from(e.cost.to_string()));
    }
    let n: usize = op.shape.iter().product();
    let (mut on, mut off, mut msgs) = (0u64, 0u64, 0usize);
    for m in step.messages() {
        msgs += 1;
        match m.traffic {
            Traffic::Online => on += m.bytes,
            Traffic::Offline => off += m.bytes,
        }
    }
    out.push(Line::styled(
        format!(
            "Here ({which}): n = {n} ({:?}), {msgs} message(s), {} online, {} offline.",
            op.shape,
            format::bytes(on),
            format::bytes(off)
        ),
        th.good(),
    ));
    // The protocol's facts of this run (mask reuse, statistical security here).
    let labels: Vec<&str> = step.messages().map(|m| m.label.as_str()).collect();
    let facts = StepFacts {
        name: &step.name,
        operands: &op.operands,
        labels: &labels,
        fixed: app.ctl.plan().scenario.fixed_point,
    };
    for r in protocol.remarks(&facts) {
        out.push(Line::styled(
            r.text,
            if r.warn { th.bad() } else { th.good() },
        ));
    }
    if let Some(probe) = protocol.probe() {
        if step.name.starts_with(probe.at_step) && protocol.is_insecure() {
            out.extend(recovered_here(app, step.index, step.op));
        }
    }
    out
}

/// At an insecure PrivateCompare: what the helper recovers of the DReLU this step belongs to,
/// from its own recorded view (`sim::attack`), beside the true inputs (from the servers'
/// opened r, never from the attack).
fn recovered_here(app: &App, step: usize, op: usize) -> Vec<Line<'static>> {
    let th = &app.theme;
    let plan = app.ctl.plan();
    let Some(probe) = plan.protocol().probe() else {
        return Vec::new();
    };
    let trace = app.ctl.trace();
    let servers = probe.servers.map(|k| plan.seats[k]);
    // The DReLU whose comparison is this step or the next one of the same op.
    let Some(d) = sim::attack::recover(trace, plan.seats[probe.attacker], servers)
        .into_iter()
        .find(|d| d.op == op && d.step >= step)
    else {
        return vec![Line::styled(
            "The helper's attack needs this DReLU's whole comparison in the trace: step on.",
            th.dim(),
        )];
    };
    let mut out = vec![
        Line::from(""),
        Line::styled(
            format!(
                "⚠ What the helper recovers (sim::attack): {} of {} inputs exactly",
                d.recovered(),
                d.truth.len()
            ),
            th.bad(),
        ),
    ];
    let rows = d.rows(plan.scenario.fixed_point.frac_bits, 16);
    for (i, (t, got)) in rows.into_iter().enumerate() {
        out.push(Line::from(format!(
            "  [{i}] true {t:>12.6}   recovered {got}"
        )));
    }
    out
}
