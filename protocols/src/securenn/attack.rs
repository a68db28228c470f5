//! **The PrivateCompare flaw, as an attack**: what the helper P2 recovers from its own view when
//! PrivateCompare runs as published ([`Variant::AsPublished`](super::Variant::AsPublished), or
//! the shortcut).
//!
//! As published (SecureNN Alg. 3 steps 6–7, also the reference implementation and tf-encrypted's
//! `_private_compare`), P_j sends P2 `π(s·⟨c⟩ⱼ)`: per bit the pair (s_i·⟨c_i⟩₀, s_i·⟨c_i⟩₁),
//! permuted by π but not re-randomised. The common mask s_i cancels in the ratio
//! ⟨c_i⟩₀ : ⟨c_i⟩₁, and P2 itself dealt both Z_p shares of the compared bits (ShareConvert
//! step 4, ComputeMSB step 1), so for any guess of the top bits of the public r it can compute
//! the ratio the protocol would produce at that bit and check that a received pair has it.
//! A depth-first search from the most significant bit, over both values of the hidden β, with
//! each received pair used once, recovers r: the paper's claim that P2's messages "can be
//! generated from a uniformly random value" overlooks that P2 dealt the bit shares.
//!
//! With the fix ([`Variant::Secure`](super::Variant::Secure)), P0 and P1 add a common
//! zero-sharing v to the pair (⟨d⟩₀ + v, ⟨d⟩₁ − v): the first half is uniform, and the search
//! finds nothing.
//!
//! Everything here is pure arithmetic on a view; the simulator and the tests extract the view.

use super::ELL;
use crate::ring::{OddRing, Ring, Zp};

/// The number of projective classes of a Z_p pair, plus one for (0, 0): 67 + 1 + 1.
const CLASSES: usize = 69;

/// What P2 holds of one element of one PrivateCompare: both Z_p shares of the bits of the
/// compared x it dealt (index k = bit k), and the two ℓ-element vectors it received.
#[derive(Debug, Clone, Copy)]
pub struct CompareView<'a> {
    /// P0's share of bit k of x, at k.
    pub bits0: &'a [Zp],
    /// P1's share of bit k of x, at k.
    pub bits1: &'a [Zp],
    /// What P0 sent (π(s·⟨c⟩₀), or with the fix π(s·⟨c⟩₀) + v).
    pub d0: &'a [Zp],
    /// What P1 sent.
    pub d1: &'a [Zp],
}

/// The outcome of the search for one element.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recovery {
    /// Every value of the public r consistent with the view (the true one among them when the
    /// search completed against the as-published protocol).
    pub candidates: Vec<u64>,
    /// Search nodes visited.
    pub nodes: u64,
    /// Whether the search ran to the end within its budget.
    pub complete: bool,
}

/// The inverse of every non-zero element of Z_67 (0 at 0).
fn inverses() -> [u8; 67] {
    let mut inv = [0u8; 67];
    for a in 1..67u32 {
        inv[a as usize] = (1..67u32).find(|b| a * b % 67 == 1).expect("67 is prime") as u8;
    }
    inv
}

/// The projective class of (a, b): pairs equal up to a non-zero factor share it.
fn class(inv: &[u8; 67], a: Zp, b: Zp) -> usize {
    if a != Zp(0) {
        b.mul(Zp(inv[a.0 as usize])).0 as usize
    } else if b != Zp(0) {
        67
    } else {
        68
    }
}

/// Recovers the public r of one PrivateCompare element from P2's view (at most `budget` search
/// nodes). Against the as-published protocol the true r is among the candidates (almost always
/// the only one); against the fixed protocol the search finds none.
pub fn recover_r(view: CompareView<'_>, budget: u64) -> Recovery {
    let inv = inverses();
    let mut counts = [0u8; CLASSES];
    for (&a, &b) in view.d0.iter().zip(view.d1) {
        counts[class(&inv, a, b)] += 1;
    }
    let mut search = Search {
        inv,
        view,
        counts,
        nodes: 0,
        budget,
        found: Vec::new(),
    };
    let mut complete = true;
    for beta in [0u8, 1] {
        complete &= search.descend(beta, ELL, Zp(0), Zp(0), 0);
    }
    let mut candidates = search.found;
    candidates.sort_unstable();
    candidates.dedup();
    Recovery {
        candidates,
        nodes: search.nodes,
        complete,
    }
}

struct Search<'a> {
    inv: [u8; 67],
    view: CompareView<'a>,
    counts: [u8; CLASSES],
    nodes: u64,
    budget: u64,
    found: Vec<u64>,
}

impl Search<'_> {
    /// Tries bit `k − 1` (bits above it fixed in `value`, with the running sums Σ⟨w⟩ⱼ of
    /// PrivateCompare steps 4 / 7). Returns false if the budget ran out.
    fn descend(&mut self, beta: u8, k: usize, sum0: Zp, sum1: Zp, value: u64) -> bool {
        if k == 0 {
            // β = 0 compared x > r; β = 1 compared x < t = r + 1 (t = 0 is the case r = L − 1
            // that steps 9–10 handle separately).
            match (beta, value) {
                (0, v) => self.found.push(v),
                (_, 0) => {}
                (_, t) => self.found.push(t - 1),
            }
            return true;
        }
        let k = k - 1;
        let (x0, x1) = (self.view.bits0[k], self.view.bits1[k]);
        for b in [0u8, 1] {
            self.nodes += 1;
            if self.nodes > self.budget {
                return false;
            }
            let bz = Zp(b);
            // ⟨w⟩ⱼ = ⟨x⟩ⱼ + j·b − 2b⟨x⟩ⱼ (steps 4 and 7, with b = r[k] or t[k]).
            let w0 = x0.sub(Zp(2).mul(bz).mul(x0));
            let w1 = x1.add(bz).sub(Zp(2).mul(bz).mul(x1));
            // Step 5: ⟨c⟩ⱼ = j·r[k] − ⟨x⟩ⱼ + j + Σ⟨w⟩ⱼ; step 8: −j·t[k] + ⟨x⟩ⱼ + j + Σ⟨w⟩ⱼ.
            let (c0, c1) = if beta == 0 {
                (sum0.sub(x0), bz.sub(x1).add(Zp(1)).add(sum1))
            } else {
                (x0.add(sum0), bz.neg().add(x1).add(Zp(1)).add(sum1))
            };
            let id = class(&self.inv, c0, c1);
            if self.counts[id] == 0 {
                continue;
            }
            self.counts[id] -= 1;
            let ok = self.descend(beta, k, sum0.add(w0), sum1.add(w1), value | (b as u64) << k);
            self.counts[id] += 1;
            if !ok {
                return false;
            }
        }
        true
    }
}

/// ComputeMSB opens r = 2a + x over Z_{L−1} with x dealt by P2: the input a = (r − x)/2
/// (2 is invertible in the odd ring: 2⁻¹ = 2^63).
pub fn compute_msb_input(r: u64, x: u64) -> u64 {
    let a = OddRing::from_u64(r)
        .sub(OddRing::from_u64(x))
        .mul(OddRing(1 << 63));
    a.to_u128() as u64
}

/// ShareConvert compares its opened x = ã = a + r with r − 1 (over Z_L): from the recovered
/// r − 1 and ã, the input a = ã − r.
pub fn share_convert_input(r_minus_1: u64, masked: u64) -> u64 {
    masked.wrapping_sub(r_minus_1.wrapping_add(1))
}

/// DReLU runs on c = 2a (a in its domain [−2^62, 2^62)): a = c / 2, sign kept.
pub fn drelu_input(c: u64) -> u64 {
    ((c as i64) >> 1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_identify_pairs_up_to_a_nonzero_factor() {
        let inv = inverses();
        for a in 0..67u8 {
            for b in 0..67u8 {
                for s in 1..67u8 {
                    let (sa, sb) = (Zp(s).mul(Zp(a)), Zp(s).mul(Zp(b)));
                    assert_eq!(class(&inv, Zp(a), Zp(b)), class(&inv, sa, sb));
                }
            }
        }
        assert_eq!(class(&inv, Zp(0), Zp(0)), 68);
        assert_ne!(class(&inv, Zp(1), Zp(2)), class(&inv, Zp(1), Zp(3)));
    }

    #[test]
    fn the_input_maps_invert_the_protocols_masks() {
        for (a, x) in [(5u64, 9u64), (u64::MAX - 7, 3), (1 << 62, u64::MAX - 1)] {
            let a = OddRing::from_u64(a);
            let x = OddRing::from_u64(x);
            let r = a.mul(OddRing(2)).add(x);
            assert_eq!(
                compute_msb_input(r.to_u128() as u64, x.to_u128() as u64),
                a.to_u128() as u64
            );
        }
        assert_eq!(share_convert_input(41, 100), 58);
        assert_eq!(drelu_input((-6i64) as u64), (-3i64) as u64);
    }
}
