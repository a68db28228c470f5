//! Explain-pane texts for SecureNN's steps (Wagh, Gupta, Chandran, PETS 2019), one per
//! algorithm: the step names carry the paper's algorithm name and step numbers. The texts depend
//! on the variant that ran (the secure default, PrivateCompare as published, tf-encrypted's
//! shortcut): the insecure ones say what they give away.

use super::Variant;
use crate::protocol::Explanation;

/// The variant a step name says it belongs to, if it says (`(shortcut, …)`, `(as published, …)`).
/// Only some steps carry it (PrivateCompare 1–13 does, its step 14–15 does not).
pub(crate) fn variant_in_name(step_name: &str) -> Option<Variant> {
    if step_name.contains("shortcut") {
        Some(Variant::Shortcut)
    } else if step_name.contains("as published") {
        Some(Variant::AsPublished)
    } else {
        None
    }
}

/// The text for a SecureNN step, by the algorithm named at the start of `step_name`, for the
/// variant the name carries or else `variant` (the scenario's).
pub(crate) fn explanation(step_name: &str, variant: Variant) -> Option<Explanation> {
    let e = |title, computes, private, cost| Explanation {
        title,
        computes,
        private,
        cost,
    };
    let algorithm = step_name.split([' ', ':']).next().unwrap_or("");
    let variant = variant_in_name(step_name).unwrap_or(variant);
    let shortcut = variant == Variant::Shortcut;
    let published = variant == Variant::AsPublished;
    // What an algorithm that runs PrivateCompare inside gives away in an insecure variant.
    let leaks_inside = match variant {
        Variant::Secure => None,
        Variant::AsPublished => Some(
            "INSECURE variant (PrivateCompare as published): every sub-protocol still reveals \
             only masked values, but the PrivateCompare inside gives the helper the compared value \
             bit by bit (the ratio of the pair it receives, see PrivateCompare), and with it this \
             step's secret input.",
        ),
        Variant::Shortcut => Some(
            "INSECURE variant (tf-encrypted's shortcut): no ShareConvert, and the PrivateCompare \
             inside has no permutation π and no re-randomisation v, so the helper sees where the \
             zero of d sits — the first bit where its x and the masked value differ — and the \
             pair's ratio as well.",
        ),
    };
    Some(match algorithm {
        "MatMul" => e(
            "SecureNN MatMul (Alg. 1): Beaver's product with the helper as dealer",
            "The helper P2 deals shares of masks A, B and C = A∘B. P0 and P1 open E = X − A and \
             F = Y − B, then ⟨Z⟩ⱼ = −j·E∘F + ⟨X⟩ⱼ∘F + E∘⟨Y⟩ⱼ + ⟨C⟩ⱼ + uⱼ, where u₀ + u₁ = 0 is a \
             fresh sharing of zero from the randomness P0 and P1 share. The sum is X∘Y.",
            "E and F are one-time-padded by A and B, which P0 and P1 never see; the zero shares \
             uⱼ make the output shares fresh. P2 sees no data.",
            "Offline: P2's triple. Online: each of P0, P1 sends 8(n_X + n_Y) B; 1 round.",
        ),
        "SelectShare" => e(
            "SecureNN SelectShare (Alg. 2): choose x or y by a shared bit",
            "z = x + α·(y − x) for a secret-shared bit α: w = y − x is local, the product α·w is \
             one Beaver-style multiplication, and the sum is local again (with zero shares uⱼ).",
            "Nobody learns α: the product reveals only masked values.",
            "One multiplication: 8·2n B per party online, 1 round, plus the helper's triple.",
        ),
        "PrivateCompare" => match variant {
            Variant::Secure => e(
                "SecureNN PrivateCompare (Alg. 3, with a fix): is x > r, told only to the helper, \
                 masked by β",
                "P0 and P1 hold shares over Z_p (p = 67) of the bits of x, a public r and a common \
                 random bit β. For each bit i they form cᵢ, which is zero exactly at a position \
                 that decides the comparison; they multiply every cᵢ by a common random sᵢ ≠ 0, \
                 shuffle the ℓ values with a common permutation π, add a common zero-sharing v \
                 (⟨d⟩₀ + v, ⟨d⟩₁ − v) and send them to P2, which opens d = π(s·c) and sets \
                 β′ = [some dᵢ = 0] = β ⊕ (x > r).",
                "π hides where a zero is, s hides the non-zero values (uniform on Z_67*), and β \
                 hides which way the comparison went: d is simulatable from the uniformly random \
                 bit β′. v makes each half of the pair P2 receives uniform, so the pair \
                 (uniform, d − uniform) is simulatable from d alone. v is a deviation from the \
                 paper that fixes a flaw: as published P2 receives (s·⟨c⟩₀, s·⟨c⟩₁), and since P2 \
                 dealt both Z_p shares of the compared bits, the ratio ⟨c⟩₀ : ⟨c⟩₁ gives x away \
                 (protocol SecureNNAsPublished shows it). Same bytes and rounds.",
                "Each of P0, P1 sends ℓ elements of Z_p (1 B each) per compared element; 1 round.",
            ),
            Variant::AsPublished => e(
                "PrivateCompare as published (INSECURE: no re-randomisation, the ratio leaks)",
                "P0 and P1 hold shares over Z_p (p = 67) of the bits of x, a public r and a common \
                 random bit β. For each bit i they form cᵢ, zero exactly at a position that \
                 decides the comparison, multiply it by a common random sᵢ ≠ 0, shuffle with a \
                 common permutation π and send π(s·⟨c⟩ⱼ) to P2 exactly as the paper's Alg. 3 \
                 (and tf-encrypted) do; P2 opens d and sets β′ = [some dᵢ = 0] = β ⊕ (x > r).",
                "INSECURE: there is no re-randomisation of the pair. Per bit P2 receives \
                 (s·⟨c⟩₀, s·⟨c⟩₁); s cancels in the ratio ⟨c⟩₀ : ⟨c⟩₁, and P2 dealt the bit \
                 shares itself (both Z_p shares of every compared bit: ShareConvert step 4, \
                 ComputeMSB step 1). So it can check guesses of r from the top bit down against \
                 the ratios it received and recovers x bit by bit (protocols::securenn::attack). \
                 π and s still hide d; the pair is the leak. The default SecureNN adds a common \
                 zero-sharing v, which makes each half uniform.",
                "Each of P0, P1 sends ℓ elements of Z_p (1 B each) per compared element; 1 round.",
            ),
            Variant::Shortcut => e(
                "PrivateCompare, tf-encrypted shortcut (INSECURE: no permutation π, no v)",
                "P0 and P1 hold shares over Z_p (p = 67) of the bits of x, a public r and a common \
                 random bit β. For each bit i they form cᵢ, zero exactly at a position that \
                 decides the comparison, multiply it by a common random sᵢ ≠ 0 and send s·⟨c⟩ⱼ to \
                 P2 in bit order — no permutation, no re-randomisation; P2 opens d and sets \
                 β′ = [some dᵢ = 0] = β ⊕ (x > r).",
                "INSECURE: without π the zero of d stays at its position: the first bit where x \
                 and r (r + 1 when β = 1) differ. P2 dealt x, so it learns the top bits of r — \
                 see P2's d in the view pane (V), where the zero is marked. And without v the \
                 pair (s·⟨c⟩₀, s·⟨c⟩₁) leaks through its ratio as in the published version.",
                "Each of P0, P1 sends ℓ elements of Z_p (1 B each) per compared element; 1 round.",
            ),
        },
        "ShareConvert" => e(
            "SecureNN ShareConvert (Alg. 4): from Z_L to the odd ring Z_{L−1}",
            "Shares over Z_L become shares of the same a over Z_{L−1}. P0 and P1 mask a with a \
             common r and send the masked shares to P2, which learns whether their sum wrapped \
             around and deals shares of that wrap bit and of the bits of the masked value; \
             PrivateCompare computes the remaining wrap; the result subtracts all wraps.",
            leaks_inside.unwrap_or(
                "P2 sees a + r with r uniform: nothing about a. The wrap bits travel as shares.",
            ),
            "8 B per element from each party to P2, PrivateCompare's ℓ B, and P2's dealing \
             (docs/securenn.md has the formula this code meets).",
        ),
        "ComputeMSB" => e(
            "SecureNN ComputeMSB (Alg. 5): the sign bit of a shared value",
            "Over the odd ring Z_{L−1}, MSB(a) = LSB(2a): doubling wraps exactly when the top bit \
             is set, and wrapping an odd modulus flips the parity. P2 deals a random x with \
             shares of its bits (Z_p) and of x[0]; P0 and P1 open r = 2a + x; PrivateCompare \
             gives (x > r) masked by β; parity arithmetic on r[0], x[0] and β yields MSB(a).",
            match variant {
                Variant::Secure => {
                    "r is one-time-padded by x; PrivateCompare reveals only a β-masked bit to P2."
                }
                Variant::AsPublished => {
                    "INSECURE variant: r is one-time-padded by x for P0 and P1, but the \
                     PrivateCompare as published gives P2 the public r bit by bit — and P2 dealt \
                     x, so it learns 2a = r − x, and a."
                }
                Variant::Shortcut => {
                    "INSECURE variant: r is one-time-padded by x for P0 and P1, but the shortcut \
                     PrivateCompare shows P2 the first bit where r and its x differ (and the \
                     pair's ratio): P2 dealt x, so it learns the top bits of r = 2a + x."
                }
            },
            "Opening r: 8n B per party; PrivateCompare: ℓ B per party per element; P2's dealing.",
        ),
        "DReLU" => e(
            if shortcut {
                "DReLU, tf-encrypted shortcut (INSECURE: shares reinterpreted, no ShareConvert)"
            } else if published {
                "SecureNN DReLU with PrivateCompare as published (INSECURE: leaks to the helper)"
            } else {
                "SecureNN DReLU: is x ≥ 0, as a shared bit"
            },
            if shortcut {
                "DReLU(a) = 1 − MSB(a), with the Z_L shares of a cast to the odd ring as they are \
                 (tf-encrypted's shortcut skips ShareConvert); ReLU(a) = DReLU(a)·a with \
                 SelectShare."
            } else {
                "DReLU(a) = 1 − MSB(a), computed after ShareConvert moves the shares to the odd \
                 ring; ReLU(a) = DReLU(a)·a with SelectShare."
            },
            if shortcut {
                "INSECURE variant: reinterpreting Z_L shares in Z_{L−1} is wrong whenever the \
                 shares wrap around, so DReLU (and ReLU) silently return wrong signs on some \
                 elements; and the shortcut PrivateCompare inside shows the helper where the \
                 zero of d sits (no π) and the pair's ratio (no v)."
            } else {
                leaks_inside
                    .unwrap_or("Every sub-protocol reveals only masked values or β-masked bits.")
            },
            "ShareConvert + ComputeMSB + SelectShare: B per element as listed in docs/securenn.md.",
        ),
        "MaxPool" => e(
            "SecureNN MaxPool: a comparison tree",
            "Each window's values are paired; d = left − right, DReLU(d) says which is larger, and \
             SelectShare keeps the larger one; log₂(window) levels give the maximum.",
            leaks_inside.unwrap_or("Only shared comparison bits and masked values travel."),
            "Per level: one DReLU and one SelectShare per pair (B as for those).",
        ),
        "argmax" => e(
            "Argmax: a comparison tree that carries the index along",
            "The scores along the last axis are laid out as candidates, each with its index as a \
             public constant. Pairs are compared as in MaxPool (d = left − right, DReLU(d)), and \
             one SelectShare picks both the larger value and its index; ⌈log₂ k⌉ levels leave the \
             index of the first maximum. Each server then multiplies its share by 2^f so the \
             index reads as a fixed-point number.",
            leaks_inside.unwrap_or(
                "Only shared comparison bits and masked values travel; the receiver of the result \
                 learns the winning class and nothing about the scores.",
            ),
            "Per level: one DReLU and one SelectShare (value and index) per pair: 472 B online and \
             96 B offline per comparison, 9 rounds per level; this candidates step is local.",
        ),
        "SecureNN" => e(
            "SecureNN key setup",
            "P0 draws a common PRF key and sends it to P1; the helper does not know it. It \
             generates the zero sharings uⱼ, the masks sᵢ, the permutation π, the bits β and the \
             re-randomisation v. P2 draws one key per server and sends it: P_j's share of \
             everything P2 deals is expanded from key j, so only P1's difference shares travel.",
            "The key is exchanged once, before any data is involved.",
            "Offline, once per run: 3 messages of one 32-byte key each (96 B) — P0→P1 the common \
             key, P2→P0 and P2→P1 the helper keys; 1 round.",
        ),
        _ => return None,
    })
}
