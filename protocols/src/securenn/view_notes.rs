//! The view pane's note per item: why what a party holds looks random to it (a one-time pad, a
//! seed, data-independent dealing) — or, in an insecure variant, what it gives away.

use super::Variant;
use crate::context::RingKind;
use crate::pond::explain::base_step_name;
use crate::protocol::{Remark as Note, ViewFacts, ViewGrid, ViewSource as Source};

fn safe(text: impl Into<String>) -> Option<Note> {
    Some(Note {
        warn: false,
        text: text.into(),
    })
}

fn leak(text: impl Into<String>) -> Option<Note> {
    Some(Note {
        warn: true,
        text: text.into(),
    })
}

/// Whether an item is the helper's opened d of PrivateCompare (whose zeros the pane marks).
pub(crate) fn is_opened_d(item: &ViewFacts<'_>) -> bool {
    item.source == Source::Opened && item.ring == RingKind::Zp && item.label.starts_with("d = ")
}

/// Whether an item is one half of the pair P0 or P1 sends the helper in PrivateCompare.
pub(crate) fn is_compare_half(item: &ViewFacts<'_>) -> bool {
    matches!(item.source, Source::Received { message, .. } if message.starts_with("⟨d⟩"))
}

/// What the note on `item` says, for a run of `variant`.
pub(crate) fn note(item: &ViewFacts<'_>, variant: Variant) -> Option<Note> {
    let step = item.step;
    let base = base_step_name(step);
    let algorithm = step.split([' ', ':']).next().unwrap_or("");
    // SecureNN's dealer is the helper P2; Pond's the crypto producer.
    let dealer = if matches!(algorithm, "MatMul" | "SelectShare") {
        "helper"
    } else {
        "producer"
    };
    match item.source {
        Source::Received {
            message,
            part,
            from,
        } => received(message, part, from, base, algorithm, dealer, variant),
        Source::Dealt => dealt(item.label, algorithm),
        Source::Opened => opened(item, base, algorithm, dealer, variant),
    }
}

fn received(
    label: &str,
    part: usize,
    from: &str,
    base: &str,
    algorithm: &str,
    dealer: &str,
    variant: Variant,
) -> Option<Note> {
    if label.starts_with("seed → ") {
        return safe(format!(
            "A 32-byte seed {from} drew at random; a PRG expands it to this party's share, so it \
             is uniform and independent of every secret."
        ));
    }
    if label.starts_with("key ") {
        return safe(format!(
            "A 32-byte key {from} drew at random before any data existed; it seeds the randomness \
             the two of them share."
        ));
    }
    if label.starts_with("⟨d⟩") {
        return match variant {
            Variant::Secure => safe(format!(
                "{from}'s half of the pair, re-randomised by the servers' common zero-sharing v \
                 (⟨d⟩₀ + v, ⟨d⟩₁ − v): alone it is uniform on Z_67, and with the other half it \
                 gives only d, which π and s make simulatable from β′."
            )),
            Variant::AsPublished => leak(format!(
                "INSECURE (as published, no v): {from} sends s·⟨c⟩ⱼ. With the other half, each \
                 position is a pair (s·⟨c⟩₀, s·⟨c⟩₁) whose ratio ⟨c⟩₀ : ⟨c⟩₁ does not depend on \
                 s; the helper dealt both Z_p shares of the compared bits, so the ratios reveal \
                 the compared value bit by bit (protocols::securenn::attack)."
            )),
            Variant::Shortcut => leak(format!(
                "INSECURE (shortcut, no π, no v): {from} sends s·⟨c⟩ⱼ in bit order (column k = \
                 bit k). The pair's ratio ⟨c⟩₀ : ⟨c⟩₁ leaks as in the published version, and the \
                 opened d shows where the zero is."
            )),
        };
    }
    if label.starts_with("⟨ã⟩") {
        return safe(
            "⟨a⟩ⱼ + ⟨r⟩ⱼ: the servers' common mask r (from the P0–P1 key, which the helper does \
             not hold) pads a, so the helper gets ã = a + r, uniform whatever a is.",
        );
    }
    if label.starts_with("⟨x[i]⟩₁") {
        return safe(if part == 0 {
            "P1's Z_p shares of the bits the helper dealt: bits − ⟨bits⟩₀, with ⟨bits⟩₀ drawn \
             from the P2–P0 key that P1 does not hold — uniform on Z_67 to P1."
        } else {
            "P1's share of a value the helper dealt, padded by P0's share drawn from the P2–P0 \
             key: uniform to P1."
        });
    }
    if label.starts_with("⟨β′⟩") || label.starts_with("⟨η′⟩") {
        return safe(
            "P1's share of a bit the helper dealt, padded by P0's share drawn from the P2–P0 key: \
             uniform to P1.",
        );
    }
    if label.starts_with("⟨C⟩₁") || label.starts_with("⟨c⟩₁") {
        return safe(format!(
            "c − ⟨c⟩₀: a share of the {dealer}'s c = a∘b, padded by the share server0 expands \
             from its seed or key. The triple depends on no data."
        ));
    }
    if algorithm == "ComputeMSB" && label.starts_with("⟨r⟩") {
        return safe(format!(
            "{from}'s share of r = 2a + x over Z_(2^64−1): with this party's own share it opens \
             r, one-time-padded by the helper's random x."
        ));
    }
    Some(match base {
        "share input" => Note {
            warn: false,
            text: format!(
                "The input minus server0's share, which server0 expands from the seed {from} sent \
                 it: a one-time pad, uniform on Z_2^64 whatever the input is."
            ),
        },
        "deal truncation pair" => Note {
            warn: false,
            text: "Shares of the producer's r and r >> f, padded by the shares server0 expands \
                   from its seed: randomness that depends on no data."
                .into(),
        },
        "open z + r" => Note {
            warn: false,
            text: format!(
                "{from}'s share of z + 2^k + r: with this server's own share it opens the product \
                 masked by the producer's r, drawn from a range 2^(64−k−1) times wider than z — \
                 statistically hidden."
            ),
        },
        "open" => Note {
            warn: false,
            text: format!(
                "{from}'s share of a value the program opens to both servers: it is public from \
                 now on, on purpose."
            ),
        },
        "reveal to receiver" => Note {
            warn: false,
            text: format!(
                "{from}'s share of an output the program reveals to this party: alone uniform; \
                 with the other server's share it is the output, as intended."
            ),
        },
        _ if base.starts_with("open") => Note {
            warn: false,
            text: format!(
                "{from}'s share of a masked value (x − a): with this server's own share it opens \
                 x − a, one-time-padded by the {dealer}'s mask a, which neither server knows."
            ),
        },
        _ => return None,
    })
}

fn dealt(label: &str, algorithm: &str) -> Option<Note> {
    if label.starts_with("key ") {
        return safe("Drawn by this party at random: its own randomness, no data.");
    }
    Some(Note {
        warn: false,
        text: match label {
            "bits of x" if algorithm == "ShareConvert" => {
                "The bits of x = ã = a + r, which the helper opened: it knows them in the clear and \
                 deals both Z_p shares of each (P0's from the P2–P0 key, P1's in a message) — so \
                 PrivateCompare must hide from it how they compare with r."
                    .into()
            }
            "bits of x" => "The bits of the helper's own random x: it knows them and deals both \
                            Z_p shares of each (P0's from the P2–P0 key, P1's in a message) — so \
                            what it receives in PrivateCompare must not relate to them."
                .into(),
            l if l.starts_with("⟨x[i]⟩₀") => {
                "P0's Z_p shares of those bits, drawn from the P2–P0 key: the helper holds both \
                 shares of every bit, which is why PrivateCompare must re-randomise the pair it \
                 sends the helper (the fix v)."
                    .into()
            }
            "x" => "The helper's random mask x ∈ Z_(2^64−1) for r = 2a + x: its own randomness.".into(),
            l if l.starts_with("δ = wrap") => {
                "Whether ⟨ã⟩₀ + ⟨ã⟩₁ wrapped around 2^64: a function of what the helper received, \
                 so nothing new to it."
                    .into()
            }
            "β′" | "η′" => "A bit the helper learned in PrivateCompare, dealt back as shares: \
                            β′ = β ⊕ (x > r) is uniform to it because the servers' β is."
                .into(),
            _ => "Randomness this dealer drew (masks, products of masks): it depends on no input \
                  and could be dealt before the data exists."
                .into(),
        },
    })
}

fn opened(
    item: &ViewFacts<'_>,
    base: &str,
    algorithm: &str,
    dealer: &str,
    variant: Variant,
) -> Option<Note> {
    let label = item.label;
    if is_opened_d(item) {
        return match variant {
            Variant::Secure => safe(
                "d = π(s·c): one zero exactly when β′ = 1; π puts it at a uniformly random slot and \
                 s makes the non-zeros uniform on Z_67*, so d is simulatable from β′ alone.",
            ),
            Variant::AsPublished => safe(
                "d = π(s·c) itself is still simulatable from β′ (π hides the zero's slot, s the \
                 values); the leak is the pair above, whose ratio the helper can read.",
            ),
            Variant::Shortcut => leak(
                "INSECURE (shortcut, no π): the zero of d (▸) sits at the position of the first \
                 differing bit of x and r (r + 1 if β = 1). The helper dealt x, so it learns the \
                 top bits of r — and r − x = 2a: how large the secret a is.",
            ),
        };
    }
    if label.starts_with("β′") {
        return safe(
            "β′ = β ⊕ (x > r) is uniform: the servers' common random bit β, which the helper never \
             sees, flips the comparison.",
        );
    }
    if algorithm == "ComputeMSB" && label.starts_with("r = ") {
        return safe(
            "r = 2a + x, one-time-padded by the helper's x, uniform on Z_(2^64−1): nothing \
             about a.",
        );
    }
    if label.starts_with("x = a + r") {
        return safe(
            "ã = a + r, padded by the servers' common r (from the P0–P1 key): uniform whatever a \
             is.",
        );
    }
    if label.contains("(masked product)") {
        return safe(
            "z + 2^k + r: the producer's r is drawn from a range 2^(64−k−1) times wider than \
             z + 2^k, so this is statistically close to uniform whatever z is.",
        );
    }
    if label.contains("(masked ") || label.starts_with("E = ") || label.starts_with("F = ") {
        return safe(format!(
            "One-time-padded by the {dealer}'s mask (a, or A and B), uniform and unknown to the \
             servers: it looks the same whatever the secret."
        ));
    }
    match base {
        "reveal to receiver" => {
            safe("The output the program reveals to this party: meant to be seen.")
        }
        "open" => safe("Declared public by the program: both servers see it, on purpose."),
        _ => None,
    }
}

/// How the view pane lays out PrivateCompare's pair and opened d: columns are bits (the
/// shortcut keeps bit order) or slots (π shuffles them), and the zeros of d say where x and r
/// first differ (the shortcut) or only β′.
pub(crate) fn grid(
    item: &ViewFacts<'_>,
    values: &[u64],
    cols: usize,
    variant: Variant,
) -> ViewGrid {
    let shortcut = variant == Variant::Shortcut;
    let opened_d = is_opened_d(item);
    let corner =
        (opened_d || is_compare_half(item)).then_some(if shortcut { "bit" } else { "slot" });
    if !opened_d {
        return ViewGrid {
            corner,
            zeros: None,
        };
    }
    let cols = cols.max(1);
    let mut out = Vec::new();
    for (r, row) in values.chunks(cols).enumerate() {
        for k in row
            .iter()
            .enumerate()
            .filter(|(_, &x)| x == 0)
            .map(|(k, _)| k)
        {
            out.push(if shortcut {
                Note {
                    warn: true,
                    text: format!(
                        "row {r}: zero at bit {k} → r equals x above bit {k}, so |2a| = \
                         |r − x| ≤ 2^{}",
                        k + 1
                    ),
                }
            } else {
                Note {
                    warn: false,
                    text: format!(
                        "row {r}: one zero, at slot {k}: β′ = 1 (π put it at a uniformly \
                         random slot)"
                    ),
                }
            });
        }
    }
    if out.is_empty() && !values.is_empty() {
        out.push(Note {
            warn: false,
            text: "no zero in the recorded rows: β′ = 0 for them".into(),
        });
    }
    ViewGrid {
        corner,
        zeros: Some(out),
    }
}
