//! The explain pane's texts for every ABY3 step: what the step computes, why what it sends
//! reveals nothing, and (for truncation) how it can fail. The first sentence of each is its
//! title.

use super::{boolean, circuit, nonlinear, steps};
use crate::fixed::MIN_STATISTICAL_SECURITY;
use crate::protocol::{Remark, StepFacts, ViewFacts, ViewSource};

/// The text for `step` (a step name, with or without a `x^k: ` prefix), if ABY3 uses it.
pub fn explain(step: &str) -> Option<&'static str> {
    let base = step.rsplit(": ").next().unwrap_or(step);
    Some(match base {
        "relu of a public value (local)"
        | "maxpool2d of a public value (local)"
        | "argmax of a public value (local)" => {
            "The operand is public (every party knows it), so the op is computed in the clear, \
             locally, on the ring's signed reading of the encoded value: no message, nothing to \
             hide. Only a private operand goes through the boolean circuits (A2B, the carry \
             chain to the most significant bit, bit2A)."
        }
        steps::KEY_SETUP => {
            "Pairwise PRF keys, once per run. Every server i draws a 32-byte key k_i and sends it \
             to server i−1, so server i holds k_i and k_{i+1} and each key is shared by exactly \
             two servers. From them every later op draws, without any message, zero-sharings \
             α_i = F(k_i) − F(k_{i+1}) (they sum to 0) and random sharings r_i = F(k_i). The \
             keys depend on no data (offline traffic: 3 messages, 96 B); a single server learns \
             two of the three keys, and the third makes everything it did not draw look uniform."
        }
        steps::SHARE_INPUT => {
            "Input sharing by its owner. The owner splits x = x0 + x1 + x2 (mod 2^64) with x0, \
             x1 uniform and gives server i the pair (x_i, x_{i+1}); seeded, x0 and x1 travel as \
             32-byte seeds and only x2 = x − x0 − x1 in full. Why a pair reveals nothing: each \
             server lacks exactly one component, and the one it lacks is uniform and unknown to \
             it, so the two it holds are distributed the same whatever x is. Any two servers \
             together hold all three components (2-out-of-3)."
        }
        steps::OPEN => {
            "Opening to the three servers. Server i already holds x_i and x_{i+1}; it lacks only \
             x_{i+2}, which server i+1 holds as its second component and sends it (one message \
             per server, one round). The value becomes public to the servers, by the program's \
             choice; the component received is exactly what makes the sum, nothing more."
        }
        steps::REVEAL_TO => {
            "Output to a receiver. Each server sends its first component x_i; the receiver adds \
             x0 + x1 + x2. The receiver learns the value, which is the point; the servers learn \
             nothing new. A public value is sent by server0 alone."
        }
        steps::LOCAL => {
            "A local linear op. Adding two shared values adds their pairs componentwise; \
             reshape, transpose and sums apply to both components. A public constant is added \
             to component x0 only — server0 holds it as its first and server2 as its second \
             component, so both add it and the pairs stay consistent. No message: nothing new \
             is seen."
        }
        steps::LOCAL_PRODUCT => {
            "A product with a public operand. Multiplying by a public matrix (or elementwise by a \
             public tensor) is linear, so each server applies it to both components locally; the \
             result carries 2f fractional bits and is truncated next. No message."
        }
        steps::WINDOW_SUM => {
            "Average pooling's window sum. Each server sums every k×k window of both components \
             and multiplies by the public 1/k² (at f fractional bits): local and linear, the \
             result has 2f fractional bits and is truncated next. No message."
        }
        steps::RESHARE => {
            "A product with one round of resharing. Server i computes z_i = x_i·y_i + x_i·y_{i+1} \
             + x_{i+1}·y_i from its two pairs: the three z_i add up to x·y, but z_i alone is a \
             3-out-of-3 share — no server has two of them, so the product is not yet replicated \
             and could not be multiplied again. Each server adds α_i (a zero-sharing from the \
             keys) and sends z_i + α_i to server i−1, which then holds (z_{i−1}, z_i): a fresh \
             2-out-of-3 sharing. Why it reveals nothing: α_i = F(k_i) − F(k_{i+1}) and the \
             receiver lacks k_{i+1}, so what it receives is uniform; without α it would see \
             x_i·y_i + …, a function of shares it partly knows. 3n elements in all, one round."
        }
        steps::PRODUCT_2OF2 => {
            "Π_trunc1, step 1: the product becomes 2-out-of-2. Each server computes its \
             3-out-of-3 share z_i = x_i·y_i + x_i·y_{i+1} + x_{i+1}·y_i and rerandomises it with \
             α_i; server2 sends z'2 to server1, so server0 holds A = z'0 and server1 holds \
             B = z'1 + z'2, with A + B = x·y (at 2f fractional bits). server1 cannot read z'2: \
             α2 comes from k0, a key it does not hold."
        }
        steps::TRUNC_RESHARE => {
            "Π_trunc1, step 2: local truncation, then a 2-out-of-3 reshare (ABY3 §5.1.1, \
             SecureML's truncation made three-party). server0 computes y0 = A >> f, server1 \
             y1 = −((−B) >> f) − r with r = F(k2), a value it shares with server2; the new \
             components are (y0, y1, r): server0 sends y0 to server2 and server1 sends y1 to \
             server0 (after a product with a public operand server2 holds x0 already and only y1 \
             travels). y1 is masked by r, which server0 does not know. How it fails: the two \
             shifted halves add up to the truncated value within one ulp unless A and B straddle \
             the wrap-around of Z_2^64 — probability |z|/2^64 per element, and then the result is \
             off by about 2^(64−f): a huge error, flagged as a local-truncation hazard when it \
             becomes likely."
        }
        steps::TRUNC_PAIR => {
            "Π_trunc2, step 1: the truncation pair (r, r/2^f), replicated. ABY3 §5.1.2 \
             preprocesses a random r with its shift r/2^f; here (deviation D1, docs/aby3.md) the \
             pair comes from the keys with no message: components r1 = F(k1) >> 2 and \
             r2 = F(k2) >> 2 (uniform below 2^62), r0 = 0, and r/2^f taken componentwise. Each \
             server lacks one component of r, which is uniform to it."
        }
        steps::OPEN_MASKED => {
            "Π_trunc2, step 2: open c = z + 2^k + r to server0 and server2. After a product each \
             server's share of c is its z_i + α_i + r_i; server1 sends its own to both, server0 \
             and server2 to each other (one round). Why it reveals nothing: z + 2^k lies in \
             [0, 2^(k+1)) when |z| < 2^k (k = int + 2f), and r's component the receiver lacks is \
             uniform on [0, 2^62), so c is within statistical distance 2^(k+1−62) of a value \
             independent of z (σ = 61 − k bits)."
        }
        steps::TRUNCATE => {
            "Π_trunc2, step 3: the truncated sharing. z' = (c >> f) − 2^(k−f) − 1 − r/2^f: the \
             public part goes into component 0 (server0 and server2 opened c), the rest is minus \
             the pair's shifted components. c never wraps, so the result is within one ulp of \
             ⌊z/2^f⌋ — unless |z| ≥ 2^k, where the headroom hazard says the result is wrong."
        }
        steps::LOCAL_POLYNOMIAL => {
            "A polynomial on a public value, computed in the clear by every party. No message."
        }
        steps::WEIGHTED_SUM => {
            "A polynomial's weighted sum. The powers x^k were computed by products (steps \
             x^k: …); each server multiplies both components of each power by the public \
             coefficient c_k and adds them up (c_0 goes into component x0); the sum has 2f \
             fractional bits and is truncated once. Local: no message."
        }
        _ => return None,
    })
}

/// The explain pane's facts of this run under a step: Π_trunc2's statistical security at its
/// opening (σ = 61 − k, [`super::truncate::statistical_security`]).
pub fn remarks(step: &StepFacts<'_>) -> Vec<Remark> {
    let base = step.name.rsplit(": ").next().unwrap_or(step.name);
    let mut out = Vec::new();
    if base == steps::OPEN_MASKED {
        let cfg = step.fixed;
        let sigma = super::truncate::statistical_security(&cfg);
        let verdict = if sigma < MIN_STATISTICAL_SECURITY {
            format!(
                ", below the minimum of {MIN_STATISTICAL_SECURITY}: accepted only because \
                 fixed_point sets weak_security"
            )
        } else {
            String::new()
        };
        out.push(Remark {
            warn: sigma < MIN_STATISTICAL_SECURITY,
            text: format!(
                "Here: k = int_bits + 2·frac_bits = {}, so σ = {} − k = {sigma} bits (advantage \
                 up to 2^-{sigma} per element){verdict}.",
                cfg.product_bits(),
                cfg.ring_bits - 3
            ),
        });
    }
    if base == steps::RESHARE && !step.labels.is_empty() {
        out.push(Remark {
            warn: false,
            text: "Each z_{i+1} received here carries α_{i+1} = F(k_{i+1}) − F(k_{i+2}); the \
                   receiver lacks k_{i+2}, so the value is a one-time pad to it."
                .into(),
        });
    }
    out
}

fn safe(text: impl Into<String>) -> Option<Remark> {
    Some(Remark {
        warn: false,
        text: text.into(),
    })
}

/// The view pane's note on one item of a party's view under ABY3: why it looks random to the
/// party (a fresh key, a component it lacks, a zero-sharing it cannot cancel), or that it was
/// opened by the program's choice.
pub fn view_note(item: &ViewFacts<'_>) -> Option<Remark> {
    let base = item.step.rsplit(": ").next().unwrap_or(item.step);
    match item.source {
        ViewSource::Received {
            message,
            part,
            from,
        } => match base {
            steps::KEY_SETUP => safe(format!(
                "{from}'s PRF key, 32 uniform bytes drawn before any data: with its own key it \
                 lets this server draw its half of every zero-sharing; the third key, which it \
                 lacks, keeps the other servers' draws uniform to it."
            )),
            steps::SHARE_INPUT if message.starts_with("seed") && part == 0 => safe(
                "A fresh 32-byte PRG seed from the owner, drawn independently of the input: it \
                 expands to uniform components.",
            ),
            steps::SHARE_INPUT if message.starts_with("seed") => safe(
                "x2 = x − x0 − x1, masked by the component this server lacks (x0 at server1, x1 \
                 at server2): that component is uniform and unknown to it, so x2 is uniform \
                 whatever x is.",
            ),
            steps::SHARE_INPUT => safe(
                "A component of the owner's input. This server gets two of the three; the one \
                 it lacks is uniform to it, so its pair is distributed the same whatever x is.",
            ),
            steps::RESHARE => safe(format!(
                "{from}'s product share z_{{i+1}} + α_{{i+1}}: α_{{i+1}} = F(k_{{i+1}}) − \
                 F(k_{{i+2}}) needs a key this server lacks, so it is a one-time pad on a value \
                 computed from shares; the pair (z_i, z_{{i+1}}) is a fresh sharing."
            )),
            steps::PRODUCT_2OF2 => safe(
                "server2's product share z'2 = z2 + α2: α2 = F(k2) − F(k0) and server1 lacks k0, \
                 so z'2 is uniform to it; B = z'1 + z'2 is one half of a 2-out-of-2 sharing.",
            ),
            steps::TRUNC_RESHARE if message.starts_with("y0") => safe(
                "server0's truncated half y0 = A >> d: A = z'0 carries α0 = F(k0) − F(k1) and \
                 server2 lacks k1, so A and its shift are uniform to it (up to the top d bits).",
            ),
            steps::TRUNC_RESHARE => safe(
                "server1's y1 = −((−B) >> d) − r: r = F(k2) comes from a key server0 lacks, so \
                 y1 is a one-time pad to it.",
            ),
            steps::OPEN_MASKED => safe(
                "A share of c = z + 2^k + r: c is opened to server0 and server2 anyway, and r's \
                 component the receiver lacks (uniform on [0, 2^62)) hides z statistically \
                 (σ = 61 − k bits).",
            ),
            steps::OPEN => safe(
                "The one component this server lacked: with it the value is opened, as the \
                 program asked (Reveal). Nothing beyond the value itself.",
            ),
            steps::REVEAL_TO => safe(format!(
                "{from}'s component of the output: the receiver is meant to learn the sum; any \
                 one or two components alone are uniform."
            )),
            _ => boolean_view_note(base, message, from, false),
        },
        ViewSource::Dealt => match base {
            steps::KEY_SETUP => safe(
                "A PRF key (this server's own, or the one its neighbour sent): uniform, drawn \
                 before any data.",
            ),
            steps::SHARE_INPUT => safe("The owner's own input: it knows it already."),
            _ => boolean_view_note(base, item.label, "", true),
        },
        ViewSource::Opened => match base {
            steps::OPEN_MASKED => safe(
                "c = z + 2^k + r, opened to server0 and server2: r (below 2^62, two components \
                 from keys each lacks one of) hides z within statistical distance 2^−σ, \
                 σ = 61 − k.",
            ),
            steps::OPEN => {
                safe("Opened to the servers by the program's Reveal: public from here on.")
            }
            steps::REVEAL_TO => safe("The output, which this receiver is meant to learn."),
            b if b == boolean::B2A_OPEN => safe(
                "x − r₁ − r₂, opened for B2A: r₁ and r₂ are uniform words from keys, and each \
                 server lacks the key of at least one of them, so the opened value is uniform to \
                 it whatever x is.",
            ),
            _ => None,
        },
    }
}

/// Whether `base` is a step of the boolean circuits or the exact nonlinear ops.
fn is_boolean_step(base: &str) -> bool {
    base.starts_with(circuit::CARRY_LEVEL)
        || base.starts_with(circuit::KS_LAYER)
        || [
            circuit::CARRY_GENERATE,
            circuit::KS_GENERATE,
            boolean::A2B_INPUT,
            boolean::MSB_INPUT,
            boolean::B2A_MASK,
            boolean::B2A_OPEN,
            boolean::BIT2A_INPUT,
            boolean::BIT2A_PRODUCT,
            nonlinear::DRELU,
            nonlinear::RELU_PRODUCT,
            nonlinear::GREATER_DIFF,
            nonlinear::MAXPOOL_WINDOWS,
            nonlinear::ARGMAX_CANDIDATES,
            nonlinear::TREE_DIFF,
            nonlinear::TREE_SELECT,
            nonlinear::SIGMOID_PIVOTS,
            nonlinear::SIGMOID_PIECES,
        ]
        .contains(&base)
}

/// The view note on an item of the boolean part (`boolean`, `circuit`, `nonlinear`): a received
/// AND or product share (padded by a zero-sharing), a word masked by a PRF value from a key the
/// receiver lacks, or what the server itself computed and sent.
fn boolean_view_note(base: &str, label: &str, from: &str, dealt: bool) -> Option<Remark> {
    if !is_boolean_step(base) {
        return None;
    }
    if dealt {
        return safe(
            "What this server computed from its own shares and a PRF value, and sent on: \
             nothing it did not know already.",
        );
    }
    if label.starts_with('z') {
        return safe(format!(
            "{from}'s share z_{{i+1}} of an AND or a product (the carry chain's generate and \
             propagate words, a bit times a value), padded with its zero-sharing α_{{i+1}} = \
             F(k_{{i+1}}) ⊕ F(k_{{i+2}}) (− for arithmetic): k_{{i+2}} is a key this server \
             lacks, so the word is a one-time pad to it, and the pair it now holds is a fresh \
             sharing."
        ));
    }
    if base == boolean::B2A_OPEN {
        return safe(format!(
            "{from}'s component of x − r₁ − r₂, opened for B2A: masked by r₁ + r₂, uniform \
             words from keys this server does not both hold."
        ));
    }
    safe(format!(
        "{from}'s masked input to the circuit ({label}): the mask is a PRF word from a key \
         this server lacks (server2 does not hold k₁), so it is a one-time pad on a value \
         computed from shares."
    ))
}
