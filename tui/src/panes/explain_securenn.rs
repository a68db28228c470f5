//! Explain-pane texts for SecureNN's steps (Wagh, Gupta, Chandran, PETS 2019), one per
//! algorithm: the step names carry the paper's algorithm name and step numbers.

use super::explain::Explanation;

/// The text for a SecureNN step, by the algorithm named at the start of `step_name`.
pub fn explanation(step_name: &str) -> Option<Explanation> {
    let e = |title, computes, private, cost| Explanation {
        title,
        computes,
        private,
        cost,
    };
    let algorithm = step_name.split([' ', ':']).next().unwrap_or("");
    let shortcut = step_name.contains("shortcut");
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
        "PrivateCompare" => e(
            if shortcut {
                "PrivateCompare, tf-encrypted shortcut (INSECURE: no permutation)"
            } else {
                "SecureNN PrivateCompare (Alg. 3): is x > r, told only to the helper, masked by β"
            },
            "P0 and P1 hold shares over Z_p (p = 67) of the bits of x, a public r and a common \
             random bit β. For each bit i they form cᵢ, which is zero exactly at a position that \
             decides the comparison; they multiply every cᵢ by a common random sᵢ ≠ 0 and send \
             them to P2, which opens them and sets β′ = [some dᵢ = 0] = β ⊕ (x > r).",
            if shortcut {
                "Without the common permutation π the helper sees WHERE the zero is: the position \
                 of the first differing bit of x and r — a leak tf-encrypted's shortcut accepts."
            } else {
                "The sᵢ hide every non-zero cᵢ, the common permutation π hides where a zero is, and \
                 β hides which way the comparison went: P2 learns a uniformly random bit."
            },
            "Each of P0, P1 sends ℓ elements of Z_p (1 B each) per compared element; 1 round.",
        ),
        "ShareConvert" => e(
            "SecureNN ShareConvert (Alg. 4): from Z_L to the odd ring Z_{L−1}",
            "Shares over Z_L become shares of the same a over Z_{L−1}. P0 and P1 mask a with a \
             common r and send the masked shares to P2, which learns whether their sum wrapped \
             around and deals shares of that wrap bit and of the bits of the masked value; \
             PrivateCompare computes the remaining wrap; the result subtracts all wraps.",
            "P2 sees a + r with r uniform: nothing about a. The wrap bits travel as shares.",
            "8 B per element from each party to P2, PrivateCompare's ℓ B, and P2's dealing \
             (docs/securenn.md has the formula this code meets).",
        ),
        "ComputeMSB" => e(
            "SecureNN ComputeMSB (Alg. 5): the sign bit of a shared value",
            "Over the odd ring Z_{L−1}, MSB(a) = LSB(2a): doubling wraps exactly when the top bit \
             is set, and wrapping an odd modulus flips the parity. P2 deals a random x with \
             shares of its bits (Z_p) and of x[0]; P0 and P1 open r = 2a + x; PrivateCompare \
             gives (x > r) masked by β; parity arithmetic on r[0], x[0] and β yields MSB(a).",
            "r is one-time-padded by x; PrivateCompare reveals only a β-masked bit to P2.",
            "Opening r: 8n B per party; PrivateCompare: ℓ B per party per element; P2's dealing.",
        ),
        "DReLU" => e(
            if shortcut {
                "DReLU, tf-encrypted shortcut (INSECURE: shares reinterpreted, no ShareConvert)"
            } else {
                "SecureNN DReLU: is x ≥ 0, as a shared bit"
            },
            "DReLU(a) = 1 − MSB(a), computed after ShareConvert moves the shares to the odd ring; \
             ReLU(a) = DReLU(a)·a with SelectShare.",
            if shortcut {
                "Reinterpreting Z_L shares in Z_{L−1} is wrong whenever the shares wrap around, so \
                 DReLU (and ReLU) silently return wrong signs on some elements."
            } else {
                "Every sub-protocol reveals only masked values or β-masked bits."
            },
            "ShareConvert + ComputeMSB + SelectShare: B per element as listed in docs/securenn.md.",
        ),
        "MaxPool" => e(
            "SecureNN MaxPool: a comparison tree",
            "Each window's values are paired; d = left − right, DReLU(d) says which is larger, and \
             SelectShare keeps the larger one; log₂(window) levels give the maximum.",
            "Only shared comparison bits and masked values travel.",
            "Per level: one DReLU and one SelectShare per pair (B as for those).",
        ),
        "argmax" => e(
            "Argmax: a comparison tree that carries the index along",
            "The scores along the last axis are laid out as candidates, each with its index as a \
             public constant. Pairs are compared as in MaxPool (d = left − right, DReLU(d)), and \
             one SelectShare picks both the larger value and its index; ⌈log₂ k⌉ levels leave the \
             index of the first maximum. Each server then multiplies its share by 2^f so the \
             index reads as a fixed-point number.",
            "Only shared comparison bits and masked values travel; the receiver of the result \
             learns the winning class and nothing about the scores.",
            "Per level: one DReLU and one SelectShare (value and index) per pair: 472 B online and \
             96 B offline per comparison, 9 rounds per level; this candidates step is local.",
        ),
        "SecureNN" => e(
            "SecureNN key setup",
            "P0 and P1 agree on a common PRF key the helper does not know. It generates the zero \
             sharings uⱼ, the masks sᵢ, the permutation π and the bits β.",
            "The key is exchanged once, before any data is involved.",
            "One 32-byte seed (32 B); 1 round, once per run.",
        ),
        _ => return None,
    })
}
