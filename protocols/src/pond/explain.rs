//! The explain pane's texts for Pond's steps (by step name, without an op prefix), and the
//! remarks on a step of a run (mask reuse, the statistical security of a truncation's opening).

use crate::fixed::MIN_STATISTICAL_SECURITY;
use crate::protocol::{Explanation, Remark, StepFacts};

/// A step name without its sub-protocol prefix (`x^3: combine` → `combine`).
pub(crate) fn base_step_name(name: &str) -> &str {
    name.rsplit_once(": ").map(|(_, b)| b).unwrap_or(name)
}

/// Pond's steps by name.
pub(crate) fn explanation(name: &str) -> Option<Explanation> {
    let e = |title, computes, private, cost| Explanation {
        title,
        computes,
        private,
        cost,
    };
    Some(match name {
        "share input" => e(
            "Input sharing: a secret becomes two random-looking numbers",
            "The owner O of x (n elements) picks a share ⟨x⟩₀ at random — expanded from a 32-byte \
             seed (seeded sharing) or drawn in full (dense) — and computes ⟨x⟩₁ = x − ⟨x⟩₀ modulo \
             2^64. It sends ⟨x⟩₀ (or just the seed) to server0 and ⟨x⟩₁ to server1. Together the \
             shares add up to x: ⟨x⟩₀ + ⟨x⟩₁ = x (mod 2^64).",
            "⟨x⟩₀ is uniform on Z_2^64 and independent of x, so ⟨x⟩₁ = x − ⟨x⟩₀ is uniform too: it \
             is a one-time pad over the ring. server0 sees a random seed, server1 sees x minus a \
             random number — each share alone has the same distribution whatever x is. Only the \
             sum of both reveals x, and the servers never exchange their shares of x.",
            "Seeded: 32 B to server0 + 8n B to server1. Dense: 8n B to each server. 1 round, no \
             dealer traffic.",
        ),
        "deal triple" => e(
            "Beaver triple: the crypto producer deals correlated randomness",
            "The crypto producer (CP) draws random masks a and b with the operands' shapes and \
             computes c = a∘b, where ∘ is the product being computed (elementwise, matmul or \
             conv2d). server0 receives one 32-byte seed from which it expands ⟨a⟩₀, ⟨b⟩₀, ⟨c⟩₀; \
             server1 receives a seed for ⟨a⟩₁, ⟨b⟩₁ at once, then ⟨c⟩₁ = c − ⟨c⟩₀ in full once \
             CP has computed c (the servers need it only to combine, so they open their masked \
             inputs meanwhile). Masks are dealt only for operands not masked before (mask reuse).",
            "The triple does not depend on any data: it could be dealt before the inputs exist. \
             Each server's pieces are uniform shares, so neither learns a, b or c. CP sees no data \
             at all; Pond assumes CP does not collude with a server (semi-honest).",
            "Offline only, 3 messages: CP→server0 32 B, CP→server1 32 B and then 8m B (m = \
             elements of the product). 0 online bytes, 0 online rounds.",
        ),
        "open masked inputs" => e(
            "Open e = x − a and f = y − b",
            "Each server computes ⟨e⟩ᵢ = ⟨x⟩ᵢ − ⟨a⟩ᵢ (and ⟨f⟩ᵢ = ⟨y⟩ᵢ − ⟨b⟩ᵢ) and sends it to the \
             other server, so both learn e = x − a and f = y − b. These public differences are \
             what lets a bilinear product be computed on shares.",
            "a is uniform and known to neither server, so e = x − a is uniform whatever x is: \
             again a one-time pad. Looking at e (shown in the shares pane as 'opened') tells a \
             server nothing about x. The pad must not be reused for a different value — that \
             would reveal the difference of the two values — so each value keeps its own mask.",
            "Each server sends 8n B per freshly masked operand: 2·8·(n_x + n_y) B in total for a \
             product of two fresh operands, 1 round.",
        ),
        "reuse masks" => e(
            "Mask reuse: the operands were opened before",
            "Both operands were already masked and opened in an earlier product, so the servers \
             reuse the cached (⟨a⟩ᵢ, e) pairs: nothing is opened again. tf-encrypted caches masks \
             the same way; polynomial activations reuse the masks of x and x² for every power.",
            "The same e = x − a for the same x reveals nothing new. Reusing a mask is safe only \
             for the same value, which is why the cache is keyed by the value's name.",
            "0 B, 0 rounds: the saving is the whole opening step.",
        ),
        "combine" => e(
            "Combine: each server computes its share of the product locally",
            "⟨z⟩ᵢ = ⟨c⟩ᵢ + e∘⟨b⟩ᵢ + ⟨a⟩ᵢ∘f + [i=0]·e∘f. Summed over both servers this is \
             c + e∘b + a∘f + e∘f = (a + e)∘(b + f) = x∘y, because ∘ is bilinear. The result \
             carries 2f fractional bits (a product of two fixed-point numbers), so a truncation \
             follows.",
            "Nothing is sent. Each ⟨z⟩ᵢ contains ⟨c⟩ᵢ, a fresh uniform share from the dealer, so \
             the new shares are as random as any other sharing of z.",
            "0 B, 0 rounds; two products ∘ of local work per server (server0 folds its two \
             e-terms into one, e∘(⟨b⟩₀ + f)).",
        ),
        "deal truncation pair" => e(
            "Truncation pair: the dealer deals r and r >> f",
            "To divide a shared product by 2^f, CP draws r uniform in [0, 2^64 − 2^(k+1)) with \
             k = int + 2f bits, and shares both r and r >> f (r shifted right by f bits). server0 \
             gets a 32-byte seed for its two shares; server1 gets its two shares in full.",
            "r is independent of the data, and each server gets uniform shares of r and r >> f.",
            "Offline only: CP→server0 32 B, CP→server1 16n B. 0 online bytes.",
        ),
        "open z + r" => e(
            "Open the masked product c = z + 2^k + r",
            "Each server sends its share of z + r (server0 also adds 2^k, which makes the value \
             non-negative), and both learn c = z + 2^k + r. Because 0 ≤ z + 2^k < 2^(k+1) and r \
             is below 2^64 − 2^(k+1), the sum never wraps around the ring.",
            "r is drawn from a range 2^(63−k) times wider than z + 2^k, so c is almost uniform: \
             the statistical distance to a value that does not depend on z is at most \
             2^(k+1−64) = 2^−σ per element, σ = 63 − k bits of statistical security (only 20 for \
             tf-encrypted's 64-bit preset, frac_bits 16 and int_bits 11). Scenarios need σ ≥ 40 \
             unless fixed_point sets weak_security; gap_bits is only the least σ the \
             configuration must allow. A product that needs more than k bits is a \
             truncation-headroom hazard.",
            "8n B per server, 16n B in total, 1 round.",
        ),
        "truncate" => e(
            "Truncate: shift the opened value and remove the mask",
            "⟨z′⟩₀ = (c >> f) − 2^(k−f) − ⟨r >> f⟩₀ and ⟨z′⟩₁ = −⟨r >> f⟩₁. Summed: \
             (z + 2^k + r) >> f − 2^(k−f) − (r >> f) = z >> f, off by at most one unit in the \
             last place (the carry of the low bits of z + r that the split shift loses).",
            "Local; the only public value used is c, which is already masked by r.",
            "0 B, 0 rounds.",
        ),
        "truncate locally" => e(
            "Local truncation (SecureML): shift each share on its own",
            "server0 computes ⟨z⟩₀ >> f and server1 computes −((−⟨z⟩₁) >> f). When the shares do \
             not straddle the wrap-around of the ring the result is z >> f up to one ulp.",
            "No communication at all, so nothing is revealed. The price is correctness: with \
             probability |z|/2^64 per element (z the product at scale 2f) the shares straddle \
             the wrap and the result is off by about 2^(64−f) — a huge error. A hazard is raised \
             when that probability is not negligible.",
            "0 B, 0 rounds.",
        ),
        "local" => e(
            "Local linear operation",
            "Addition, subtraction, negation, reshape, transpose and sums are linear, so applying \
             them to each share gives shares of the result: L(⟨x⟩₀) + L(⟨x⟩₁) = L(x). A public \
             constant is added by server0 only, so it is counted once.",
            "Nothing is sent; the outputs are functions of each server's own shares only.",
            "0 B, 0 rounds.",
        ),
        "local product" => e(
            "Product with a public value",
            "When one factor p is public, each server multiplies its own share by it: \
             p∘⟨x⟩₀ + p∘⟨x⟩₁ = p∘x. No triple is needed. The product has 2f fractional bits and \
             is truncated next.",
            "Nothing is sent; p is public by definition.",
            "0 B, 0 rounds for the product (the truncation has its own cost).",
        ),
        "local polynomial" => e(
            "Polynomial of a public value",
            "The input is public, so every party evaluates the polynomial directly.",
            "Nothing secret is involved.",
            "0 B, 0 rounds.",
        ),
        "window sum" => e(
            "Average pooling: window sums times 1/k²",
            "Each server sums its shares over every k×k window and multiplies by the public \
             constant 1/k² (encoded in fixed point), which leaves 2f fractional bits; a \
             truncation follows.",
            "Sums and public scalings are linear: local, nothing revealed.",
            "0 B, 0 rounds (plus the truncation).",
        ),
        "weighted sum" => e(
            "Polynomial activation: Σ cₖ·x^k",
            "The powers x^k were computed with Beaver products (reusing the masks of x and x²). \
             Each server now forms Σ cₖ·⟨x^k⟩ᵢ with the public coefficients cₖ (server0 adds the \
             constant c₀), at scale 2f, and one truncation follows.",
            "Linear in the shares with public coefficients: local, nothing revealed. Note the \
             polynomial is only accurate on a limited input range — an approximation-range \
             hazard says when inputs leave it.",
            "0 B, 0 rounds (plus one truncation for the whole sum).",
        ),
        "open" => e(
            "Reveal to both servers",
            "Each server sends its share to the other, and both compute x = ⟨x⟩₀ + ⟨x⟩₁. The \
             value is public from now on.",
            "This step reveals x to the servers on purpose: the program declared it public. \
             Everything before it stays hidden.",
            "8n B per server, 16n B in total, 1 round.",
        ),
        "reveal to receiver" => e(
            "Output to a receiver",
            "server0 and server1 each send their share ⟨x⟩ᵢ to the receiver R, which adds them: \
             x = ⟨x⟩₀ + ⟨x⟩₁. A public value is sent by server0 alone.",
            "Only R sees both shares. Each server sent one uniform-looking share and learns \
             nothing from the step.",
            "8n B from each server, 16n B in total, 1 round.",
        ),
        _ => return None,
    })
}

/// Pond's remarks on a step of a run: which operands reused a cached mask, and the statistical
/// security of a dealer truncation's opening.
pub(crate) fn remarks(step: &StepFacts<'_>) -> Vec<Remark> {
    let mut out = Vec::new();
    let base = base_step_name(step.name);
    if base == "open masked inputs" {
        // An operand whose mask was cached is not opened again: say which.
        let opened = |n: &str| {
            step.labels
                .iter()
                .any(|l| l.contains(&format!("⟨{n} − a_{n}⟩")))
        };
        let mut reused: Vec<&str> = step
            .operands
            .iter()
            .map(String::as_str)
            .filter(|n| !opened(n))
            .collect();
        reused.dedup();
        if !reused.is_empty() && !step.labels.is_empty() {
            out.push(Remark {
                warn: false,
                text: format!(
                    "Mask reuse here: {} was masked and opened in an earlier product, so only \
                     the other operand is opened now.",
                    reused.join(", ")
                ),
            });
        }
    }
    if base == "open z + r" {
        let cfg = step.fixed;
        let sigma = cfg.statistical_security();
        let verdict = if sigma < MIN_STATISTICAL_SECURITY {
            format!(", below the minimum of {MIN_STATISTICAL_SECURITY}: accepted only because fixed_point sets weak_security")
        } else {
            String::new()
        };
        out.push(Remark {
            warn: sigma < MIN_STATISTICAL_SECURITY,
            text: format!(
                "Here: k = int_bits + 2·frac_bits = {}, so σ = {sigma} bits (advantage up to \
                 2^-{sigma} per element){verdict}.",
                cfg.product_bits()
            ),
        });
    }
    out
}
