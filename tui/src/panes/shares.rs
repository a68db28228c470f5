//! Pane 3: for the step at the cursor, each party's shares as a table (raw ring value or decoded),
//! the reconstructed value beside the plaintext shadow with the error, values opened in the step,
//! and the step's messages.

use crate::app::App;
use crate::format::{self, fit, ValueFormat};
use protocols::context::{RingKind, Traffic};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use sim::trace::{StepRecord, ValueRecord};

/// Elements shown per value (the rest are summarised).
const MAX_ROWS: usize = 64;

fn is_double(label: &str) -> bool {
    label.contains("scale 2f")
}

/// The pane's lines for a pane `width` columns wide (inside its border).
pub fn lines(app: &App, width: usize) -> Vec<Line<'static>> {
    let th = &app.theme;
    let Some(step) = app.ctl.current_step() else {
        let mut out = vec![Line::styled(
            "Before the first step: nothing has run yet.",
            th.title(),
        )];
        if let Some(n) = app.ctl.next_step() {
            out.push(Line::from(format!("Next: {} (press s to run it).", n.name)));
        }
        return out;
    };
    let t = app.ctl.trace();
    let op = &t.ops[step.op];
    let cfg = app.ctl.plan().scenario.fixed_point;
    let mut out = vec![Line::styled(
        format!(
            "step {} · {} · op {} [{}]",
            step.index + 1,
            step.name,
            op.name,
            op.kind
        ),
        th.title(),
    )];
    messages(app, step, &mut out);
    // Values opened in the step, once per label with who saw them.
    let mut opened: Vec<(&ValueRecord, Vec<usize>)> = Vec::new();
    for (p, ps) in step.parties.iter().enumerate() {
        for v in &ps.opened {
            match opened
                .iter_mut()
                .find(|(o, _)| o.label == v.label && o.values == v.values)
            {
                Some((_, who)) => who.push(p),
                None => opened.push((v, vec![p])),
            }
        }
    }
    let last_of_op = step.index + 1 == op.end_step;
    for (v, who) in &opened {
        let names: Vec<&str> = who.iter().map(|p| t.parties[*p].as_str()).collect();
        out.push(Line::from(""));
        out.push(Line::styled(
            format!("opened: {} — seen by {}", v.label, names.join(", ")),
            th.title(),
        ));
        // Only Z_2^64 holds fixed point; Z_67 elements, bits and the odd ring are shown as the
        // ring elements they are (the view pane, V, lays tensors out as grids).
        if v.kind != RingKind::Z64 {
            out.push(Line::styled(
                format!(
                    "{:>5}  {:>20}   ({:?}; grid in the view pane, V)",
                    "#",
                    format!("value ({})", v.kind.name()),
                    v.shape
                ),
                th.dim(),
            ));
            for (i, raw) in v.values.iter().enumerate().take(MAX_ROWS) {
                let x = match v.kind {
                    RingKind::Seed => format!("{raw:02x}"),
                    _ => raw.to_string(),
                };
                out.push(Line::from(format!("{i:>5}  {x:>20}")));
            }
            more(v, &mut out, th.dim());
            continue;
        }
        let compare = last_of_op && op.kind == "output";
        let double = is_double(&v.label);
        let mut header = format!("{:>5}  {:>20}", "#", "value (decoded)");
        if compare {
            header.push_str(&format!("  {:>12}  {:>10}", "plaintext", "error"));
        }
        out.push(Line::styled(header, th.dim()));
        for (i, raw) in v.values.iter().enumerate().take(MAX_ROWS) {
            let x = if double {
                cfg.decode_double(*raw)
            } else {
                cfg.decode(*raw)
            };
            let mut spans = vec![Span::raw(format!("{i:>5}  {:>20}", format::real(x)))];
            if compare {
                spans.extend(error_spans(app, x, op.plaintext.get(i).copied()));
            }
            out.push(Line::from(spans));
        }
        more(v, &mut out, th.dim());
    }
    shares(app, step, last_of_op, width, &mut out);
    if !op.hazards.is_empty() && last_of_op {
        out.push(Line::from(""));
        for h in &op.hazards {
            out.push(Line::styled(format!("⚠ hazard: {h}"), th.bad()));
        }
    }
    let _ = ValueFormat::Decoded;
    out
}

fn more(v: &ValueRecord, out: &mut Vec<Line<'static>>, dim: Style) {
    let n: usize = v.shape.iter().product();
    if n > MAX_ROWS.min(v.values.len()) {
        let kept = if v.complete {
            ""
        } else {
            " (the trace keeps the first values only)"
        };
        out.push(Line::styled(
            format!(
                "      … {} more of {n} elements, shape {:?}{kept}",
                n - MAX_ROWS.min(v.values.len()),
                v.shape
            ),
            dim,
        ));
    }
}

fn error_spans(app: &App, x: f64, plain: Option<f64>) -> Vec<Span<'static>> {
    match plain {
        Some(p) => {
            let e = x - p;
            let over = e.abs() > app.tolerance;
            let mark = if over { " !" } else { "  " };
            let st = if over {
                app.theme.bad()
            } else {
                Style::default()
            };
            vec![
                Span::raw(format!("  {:>12}", format::real(p))),
                Span::styled(format!("  {:>10}{mark}", format!("{e:+.2e}")), st),
            ]
        }
        None => vec![],
    }
}

fn messages(app: &App, step: &StepRecord, out: &mut Vec<Line<'static>>) {
    let t = app.ctl.trace();
    let th = &app.theme;
    let msgs: Vec<_> = step.messages().collect();
    out.push(Line::from(""));
    if msgs.is_empty() {
        out.push(Line::styled("messages: none — a local step", th.dim()));
        return;
    }
    out.push(Line::styled(
        format!("messages ({})", msgs.len()),
        th.title(),
    ));
    for m in msgs {
        let kind = match m.traffic {
            Traffic::Online => "online",
            Traffic::Offline => "offline",
        };
        out.push(super::message_line(t, th, m, &format!(" {kind}")));
        out.push(Line::from(vec![
            Span::raw(format!("      carries {}", m.label)),
            Span::styled(
                format!(
                    "  ({} → {})",
                    format::ns(m.send_ns),
                    format::ns(m.delivery_ns)
                ),
                th.dim(),
            ),
        ]));
    }
}

fn shares(
    app: &App,
    step: &StepRecord,
    last_of_op: bool,
    width: usize,
    out: &mut Vec<Line<'static>>,
) {
    let t = app.ctl.trace();
    let th = &app.theme;
    let op = &t.ops[step.op];
    let cfg = app.ctl.plan().scenario.fixed_point;
    let fmt = app.value_format;
    let mut labels: Vec<&str> = Vec::new();
    for ps in &step.parties {
        for v in &ps.shares {
            if !labels.contains(&v.label.as_str()) {
                labels.push(&v.label);
            }
        }
    }
    for label in labels {
        let holders: Vec<(usize, &ValueRecord)> = step
            .parties
            .iter()
            .enumerate()
            .filter_map(|(p, ps)| ps.shares.iter().find(|v| v.label == label).map(|v| (p, v)))
            .collect();
        let double = is_double(label);
        out.push(Line::from(""));
        out.push(Line::styled(
            format!(
                "shares: {label}{}",
                if double {
                    " — 2f fractional bits until truncated"
                } else {
                    ""
                }
            ),
            th.title(),
        ));
        let pair = (
            holders.iter().find(|(p, _)| *p == 0).map(|h| h.1),
            holders.iter().find(|(p, _)| *p == 1).map(|h| h.1),
        );
        let compare = last_of_op && !double && op.kind != "output";
        let w = if fmt == ValueFormat::Hex { 18 } else { 12 };
        let recon = matches!(pair, (Some(_), Some(_)));
        let share_w = 5 + holders.len() * (w + 2);
        let extra_w = if recon {
            14 + if compare { 28 } else { 0 }
        } else {
            0
        };
        // Narrow panes get the reconstruction as a second table.
        let split = share_w + extra_w > width;
        let mut header = vec![Span::styled(format!("{:>5}", "#"), th.dim())];
        for (p, _) in &holders {
            header.push(Span::styled(
                format!("  {:>w$}", fit(&t.parties[*p], w)),
                th.party(*p),
            ));
        }
        let recon_header = |header: &mut Vec<Span<'static>>| {
            header.push(Span::styled(format!("  {:>12}", "reconstructed"), th.dim()));
            if compare {
                header.push(Span::styled(
                    format!("  {:>12}  {:>10}", "plaintext", "error"),
                    th.dim(),
                ));
            }
        };
        if recon && !split {
            recon_header(&mut header);
        }
        out.push(Line::from(header));
        let n = holders
            .iter()
            .map(|(_, v)| v.values.len())
            .max()
            .unwrap_or(0)
            .min(MAX_ROWS);
        let recon_cells = |i: usize| -> Vec<Span<'static>> {
            let mut spans = Vec::new();
            if let (Some(a), Some(b)) = pair {
                if let (Some(x0), Some(x1)) = (a.values.get(i), b.values.get(i)) {
                    let sum = x0.wrapping_add(*x1);
                    let x = if double {
                        cfg.decode_double(sum)
                    } else {
                        cfg.decode(sum)
                    };
                    spans.push(Span::raw(format!("  {:>12}", format::real(x))));
                    if compare {
                        spans.extend(error_spans(app, x, op.plaintext.get(i).copied()));
                    }
                }
            }
            spans
        };
        for i in 0..n {
            let mut spans = vec![Span::raw(format!("{i:>5}"))];
            for (_, v) in &holders {
                let cell = v
                    .values
                    .get(i)
                    .map(|x| format::ring(*x, fmt, &cfg, double))
                    .unwrap_or_default();
                spans.push(Span::raw(format!("  {:>w$}", fit(&cell, w))));
            }
            if !split {
                spans.extend(recon_cells(i));
            }
            out.push(Line::from(spans));
        }
        if recon && split {
            out.push(Line::styled(
                "  reconstructed = ⟨·⟩₀ + ⟨·⟩₁ (mod 2^64), decoded",
                th.dim(),
            ));
            let mut header = vec![Span::styled(format!("{:>5}", "#"), th.dim())];
            recon_header(&mut header);
            out.push(Line::from(header));
            for i in 0..n {
                let mut spans = vec![Span::raw(format!("{i:>5}"))];
                spans.extend(recon_cells(i));
                out.push(Line::from(spans));
            }
        }
        if let Some((_, v)) = holders.first() {
            more(v, out, th.dim());
        }
    }
}
