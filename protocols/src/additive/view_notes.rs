//! The view pane's note on each item of a party's view under Additive: why what it received,
//! dealt or was opened looks random to it — or that learning it is the point (a reveal, an
//! output, its own input).

use crate::protocol::{Remark, ViewFacts, ViewSource};

fn note(text: impl Into<String>) -> Option<Remark> {
    Some(Remark {
        warn: false,
        text: text.into(),
    })
}

/// The note on `item` (every item Additive records has one).
pub(crate) fn view_note(item: &ViewFacts<'_>) -> Option<Remark> {
    let step = item.step.rsplit(": ").next().unwrap_or(item.step);
    match item.source {
        ViewSource::Received { message, from, .. } => received(step, message, from),
        ViewSource::Dealt => dealt(item.label),
        ViewSource::Opened => opened(step, item.label),
    }
}

fn received(step: &str, message: &str, from: &str) -> Option<Remark> {
    if message.starts_with("seed → ") {
        return note(format!(
            "A 32-byte seed {from} drew at random; a PRG expands it to this party's shares, so it \
             is uniform and independent of every secret."
        ));
    }
    match step {
        "share input" => note(format!(
            "This party's share from {from}: x minus the two other shares, which are uniform and \
             which this party does not see (or, with dense sharing, a uniform share itself). A \
             one-time pad: uniform on Z_2^64 whatever x is."
        )),
        "deal triple" | "deal pair" => note(format!(
            "server2's shares of the {from}'s random masks, padded by the shares server0 and \
             server1 expand from seeds server2 never sees: uniform, and drawn before any data."
        )),
        "open e, f" => note(format!(
            "{from}'s eⱼ = xⱼ − aⱼ (and fⱼ = yⱼ − bⱼ): its share of the operand padded by its share \
             of the dealer's fresh mask, which this party does not hold. Uniform; with this \
             party's own it adds up to e = x − a, itself uniform."
        )),
        "open z + r" => note(format!(
            "{from}'s share of c = z + 2^k + r: its share of the product padded by its share of \
             the dealer's r. All three give c, which hides z up to 2^−σ per element."
        )),
        "open" => note(format!(
            "{from}'s share of a value the program reveals to the servers: with the other shares \
             it gives the value, which is the point of Reveal."
        )),
        "output" => note(format!(
            "{from}'s share of an output this party receives (or the public value itself): the \
             three add up to the value it is meant to learn."
        )),
        _ => None,
    }
}

fn dealt(label: &str) -> Option<Remark> {
    if label.starts_with("input ") {
        return note("This party's own input: it knows it already; the servers get only shares.");
    }
    note(format!(
        "The dealer's {label}: randomness drawn before any data exists (and c = a∘b computed \
         from it); the dealer receives nothing, so its view is the same whatever the secrets."
    ))
}

fn opened(step: &str, label: &str) -> Option<Remark> {
    Some(match step {
        "open e, f" => Remark {
            warn: false,
            text: format!(
                "{label}: the operand one-time padded by a mask the dealer drew uniformly and uses \
                 once, so it is uniform whatever the operand is."
            ),
        },
        "open z + r" => Remark {
            warn: false,
            text:
                "z + 2^k + r: the product (below 2^(k+1) after the shift) padded by r, uniform on \
                   [0, 2^64 − 2^(k+1)); it hides z up to statistical distance 2^(k+1−64) per \
                   element."
                    .into(),
        },
        "open" => Remark {
            warn: false,
            text: format!(
                "`{label}`, revealed to the servers by the program: learning it is the point."
            ),
        },
        "output" => Remark {
            warn: false,
            text: format!("`{label}`, the output this party receives: learning it is the point."),
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::RingKind;

    fn item<'a>(step: &'a str, source: ViewSource<'a>, label: &'a str) -> ViewFacts<'a> {
        ViewFacts {
            step,
            source,
            label,
            ring: RingKind::Z64,
        }
    }

    #[test]
    fn every_kind_of_item_has_a_note() {
        let rx = |message| ViewSource::Received {
            message,
            part: 0,
            from: "server1",
        };
        for (step, source, label) in [
            ("share input", rx("seed → ⟨x⟩0"), "x"),
            ("share input", rx("⟨x⟩2 = x − ⟨x⟩0 − ⟨x⟩1"), "x"),
            (
                "deal triple",
                rx("a2, b2, c2 = (a, b, c) − the seeded shares"),
                "a",
            ),
            ("deal pair", rx("⟨r⟩2, ⟨r>>f⟩2"), "r"),
            ("open e, f", rx("e1 = ⟨x⟩1 − a1, f1 = ⟨y⟩1 − b1"), "e"),
            ("open z + r", rx("⟨z + r⟩1"), "c"),
            ("open", rx("⟨x⟩1"), "x"),
            ("output", rx("⟨z⟩1"), "z"),
            ("share input", ViewSource::Dealt, "input x"),
            ("deal triple", ViewSource::Dealt, "mask a"),
            ("open e, f", ViewSource::Opened, "e = x − a (masked x)"),
            (
                "open z + r",
                ViewSource::Opened,
                "c = z + 2^k + r (masked product)",
            ),
            ("open", ViewSource::Opened, "x"),
            ("z: output", ViewSource::Opened, "z"),
        ] {
            let n = view_note(&item(step, source, label));
            assert!(n.is_some_and(|n| !n.warn), "{step} / {label}");
        }
        assert!(view_note(&item("combine", ViewSource::Opened, "z")).is_none());
    }
}
