//! **Bit-sliced boolean circuits** over u64 words, written once against [`Gates`] so that the
//! plaintext circuit ([`Plain`]) and the secure one (`aby3::boolean::Shared`, where AND is
//! ABY3's one-round AND of replicated XOR sharings) are the *same* circuit: only the AND gate
//! differs. Every element of a batch is one 64-bit word; bit j of the word is bit j of the value.
//!
//! - [`kogge_stone`]: the parallel prefix adder ABY3 (Mohassel & Rindal, CCS 2018, §5.3) and
//!   tf-encrypted (`_ppa_kogge_stone_private_private`) use for bit decomposition: one AND layer
//!   for the generate bits, then log₂ 64 = 6 prefix layers. 7 AND rounds.
//! - [`msb_of_sum`]: the bit-extraction variant (tf-encrypted's `_carry_computation`): only the
//!   carry into bit 63 is needed, so each layer halves the number of (generate, propagate)
//!   groups and both of its ANDs fit in one word. Also 1 + 6 AND rounds, half the words.
//!
//! XOR, shifts, masks with public constants and bit permutations are XOR-linear, so on shares
//! they are applied to each component locally (free); only AND costs a round.

use crate::error::Result;

/// Word width: bits per element.
pub const BITS: u32 = 64;
/// Prefix layers of a 64-bit Kogge–Stone adder (and levels of the carry tree): log₂ 64.
pub const LAYERS: u32 = 6;

/// The gates a bit-sliced circuit is built from. `W` is a batch of words: the plaintext words,
/// or one party's shares of them (or nothing, at a party that holds none but walks the steps).
pub trait Gates {
    /// A batch of words.
    type W: Clone;
    /// Local: a ⊕ b.
    fn xor(&self, a: &Self::W, b: &Self::W) -> Self::W;
    /// Local: an XOR-linear map `f` on every word (f(a ⊕ b) = f(a) ⊕ f(b), f(0) = 0: shifts,
    /// masks with public constants, bit permutations). On shares it maps each component.
    fn linear(&self, a: &Self::W, f: &dyn Fn(u64) -> u64) -> Self::W;
    /// Local: a ⊕ c for a public word c (on shares: into one component).
    fn xor_const(&self, a: &Self::W, c: u64) -> Self::W;
    /// Starts the next step of the circuit (one AND layer and the free gates around it).
    fn step(&mut self, name: &str) -> Result<()>;
    /// One layer of ANDs: the products of the pairs, in one round (one message per server).
    fn and(&mut self, pairs: &[(&Self::W, &Self::W)]) -> Result<Vec<Self::W>>;
}

/// The plaintext circuit: words in the clear. Counts AND layers and ANDed words, which the
/// secure costs are made of.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plain {
    /// Steps walked, in order.
    pub steps: Vec<String>,
    /// AND layers (rounds).
    pub layers: u32,
    /// Words ANDed, over all layers.
    pub words: u64,
}

impl Gates for Plain {
    type W = Vec<u64>;
    fn xor(&self, a: &Vec<u64>, b: &Vec<u64>) -> Vec<u64> {
        a.iter().zip(b).map(|(x, y)| x ^ y).collect()
    }
    fn linear(&self, a: &Vec<u64>, f: &dyn Fn(u64) -> u64) -> Vec<u64> {
        a.iter().map(|&x| f(x)).collect()
    }
    fn xor_const(&self, a: &Vec<u64>, c: u64) -> Vec<u64> {
        a.iter().map(|x| x ^ c).collect()
    }
    fn step(&mut self, name: &str) -> Result<()> {
        self.steps.push(name.to_string());
        Ok(())
    }
    fn and(&mut self, pairs: &[(&Vec<u64>, &Vec<u64>)]) -> Result<Vec<Vec<u64>>> {
        self.layers += 1;
        self.words += pairs.iter().map(|(a, _)| a.len() as u64).sum::<u64>();
        Ok(pairs
            .iter()
            .map(|(a, b)| a.iter().zip(b.iter()).map(|(x, y)| x & y).collect())
            .collect())
    }
}

/// The step names of the Kogge–Stone adder: the generate layer, then layer 1..=6.
pub const KS_GENERATE: &str = "KS generate";
/// Prefix of the Kogge–Stone layer steps (`KS layer 3`).
pub const KS_LAYER: &str = "KS layer";
/// The step name of the carry tree's generate layer.
pub const CARRY_GENERATE: &str = "carry generate";
/// Prefix of the carry tree's level steps (`carry level 2`).
pub const CARRY_LEVEL: &str = "carry level";

/// **Kogge–Stone parallel prefix adder** (ABY3 §5.3; tf-encrypted's `_ppa_kogge_stone`):
/// a + b mod 2^64 on words.
///
/// Generate g_j = a_j ∧ b_j (one AND layer), propagate p_j = a_j ⊕ b_j (free). Layer i
/// (i = 0..5, span s = 2^i) combines each position with the one s below it:
/// (G, P) ← (G ⊕ (P ∧ (G ≪ s)), P ∧ ((P ≪ s) ⊕ (2^s − 1))). The ⊕ may replace the carry
/// operator's ∨ because a group never both generates and propagates; the constant 2^s − 1 keeps
/// the low s positions (their (G, P) are final). After layer i, G_j is the carry out of
/// position j over the 2^(i+1) positions ending at j, so after log₂ 64 = 6 layers G_j is the
/// carry out of position j, and the sum is a ⊕ b ⊕ (G ≪ 1). Each layer's two ANDs travel
/// together (2 words per element); the last layer needs only G (1 word).
///
/// ANDed words per element: 1 + 2·5 + 1 = 12, in 7 layers.
pub fn kogge_stone<G: Gates>(g: &mut G, a: &G::W, b: &G::W) -> Result<G::W> {
    g.step(KS_GENERATE)?;
    let p0 = g.xor(a, b);
    let mut gen = g.and(&[(a, b)])?.remove(0);
    let mut prop = p0.clone();
    for i in 0..LAYERS {
        g.step(&format!("{KS_LAYER} {}", i + 1))?;
        let s = 1u32 << i;
        let g1 = g.linear(&gen, &|w| w << s);
        if i + 1 < LAYERS {
            let keep = (1u64 << s) - 1;
            let p1 = g.xor_const(&g.linear(&prop, &|w| w << s), keep);
            let mut out = g.and(&[(&prop, &g1), (&prop, &p1)])?;
            let pp = out.pop().expect("two products");
            let pg = out.pop().expect("two products");
            gen = g.xor(&gen, &pg);
            prop = pp;
        } else {
            let pg = g.and(&[(&prop, &g1)])?.remove(0);
            gen = g.xor(&gen, &pg);
        }
    }
    Ok(g.xor(&p0, &g.linear(&gen, &|w| w << 1)))
}

/// The even bits of `w` (bits 0, 2, …, 62) packed into its low 32 bits. XOR-linear.
pub fn evens(w: u64) -> u64 {
    let mut x = w & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0f0f_0f0f_0f0f_0f0f;
    x = (x | (x >> 4)) & 0x00ff_00ff_00ff_00ff;
    x = (x | (x >> 8)) & 0x0000_ffff_0000_ffff;
    (x | (x >> 16)) & 0x0000_0000_ffff_ffff
}

/// The odd bits of `w` (bits 1, 3, …, 63) packed into its low 32 bits. XOR-linear.
pub fn odds(w: u64) -> u64 {
    evens(w >> 1)
}

/// **Bit extraction of the MSB of a sum** (tf-encrypted's `_carry_computation`, the
/// bit-extraction circuit of ABY3 §5.3): bit 0 of the result is MSB(a + b mod 2^64), the other
/// bits are 0.
///
/// MSB(a + b) = a₆₃ ⊕ b₆₃ ⊕ c₆₃, with c₆₃ the carry into bit 63: the group generate of
/// positions 0..62. Shifting a and b left by one puts those positions at 1..63 with an inert
/// (0, 0) at position 0, so c₆₃ is the generate of the whole shifted word. Generate g = a ∧ b
/// (one AND layer); then each level pairs adjacent groups (hi, lo) into
/// (g_hi ⊕ (p_hi ∧ g_lo), p_hi ∧ p_lo): the groups' bits are packed (even groups = lo,
/// odd = hi, a free bit permutation) so that both ANDs of a level, m/2 bits each, fit in one
/// word. 64 → 32 → … → 1 group: log₂ 64 = 6 levels.
///
/// ANDed words per element: 1 + 6 = 7, in 7 layers.
pub fn msb_of_sum<G: Gates>(g: &mut G, a: &G::W, b: &G::W) -> Result<G::W> {
    g.step(CARRY_GENERATE)?;
    let a1 = g.linear(a, &|w| w << 1);
    let b1 = g.linear(b, &|w| w << 1);
    let top = g.linear(&g.xor(a, b), &|w| w >> 63);
    let mut prop = g.xor(&a1, &b1);
    let mut gen = g.and(&[(&a1, &b1)])?.remove(0);
    for level in 1..=LAYERS {
        g.step(&format!("{CARRY_LEVEL} {level}"))?;
        // m = 2^(7 − level) groups now; h = m / 2 after this level.
        let h = 1u32 << (LAYERS - level);
        let mask = (1u64 << h) - 1;
        let left = g.linear(&prop, &|w| {
            let o = odds(w);
            o | (o << h)
        });
        let right = g.xor(
            &g.linear(&gen, &evens),
            &g.linear(&prop, &|w| evens(w) << h),
        );
        let t = g.and(&[(&left, &right)])?.remove(0);
        gen = g.xor(&g.linear(&gen, &odds), &g.linear(&t, &|w| w & mask));
        prop = g.linear(&t, &|w| (w >> h) & mask);
    }
    Ok(g.xor(&top, &gen))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha20Rng;

    fn edge_words() -> Vec<u64> {
        vec![
            0,
            1,
            u64::MAX,
            u64::MAX - 1,
            1 << 63,
            (1 << 63) - 1,
            (1 << 63) + 1,
            (1 << 62),
            0x5555_5555_5555_5555,
            0xaaaa_aaaa_aaaa_aaaa,
        ]
    }

    fn pairs(seed: u64, n: usize) -> (Vec<u64>, Vec<u64>) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let e = edge_words();
        let mut a: Vec<u64> = (0..n).map(|_| rng.gen()).collect();
        let mut b: Vec<u64> = (0..n).map(|_| rng.gen()).collect();
        // Every pair of edge words, and edge words against their negations (long carry chains).
        for &x in &e {
            for &y in &e {
                a.push(x);
                b.push(y);
            }
            a.push(x);
            b.push(x.wrapping_neg());
        }
        (a, b)
    }

    #[test]
    fn kogge_stone_adds_mod_2_64_in_seven_and_layers_of_twelve_words() {
        for seed in 0..20 {
            let (a, b) = pairs(seed, 500);
            let mut g = Plain::default();
            let s = kogge_stone(&mut g, &a, &b).unwrap();
            for k in 0..a.len() {
                assert_eq!(s[k], a[k].wrapping_add(b[k]), "{:#x} + {:#x}", a[k], b[k]);
            }
            assert_eq!(g.layers, 7);
            assert_eq!(g.words, 12 * a.len() as u64);
            assert_eq!(g.steps.len(), 7);
            assert_eq!(g.steps[0], KS_GENERATE);
            assert_eq!(g.steps[6], "KS layer 6");
        }
    }

    #[test]
    fn carry_tree_gives_the_msb_of_the_sum_in_seven_layers_of_one_word() {
        for seed in 0..20 {
            let (a, b) = pairs(seed, 500);
            let mut g = Plain::default();
            let m = msb_of_sum(&mut g, &a, &b).unwrap();
            for k in 0..a.len() {
                assert_eq!(
                    m[k],
                    a[k].wrapping_add(b[k]) >> 63,
                    "{:#x} + {:#x}",
                    a[k],
                    b[k]
                );
            }
            assert_eq!(g.layers, 7);
            assert_eq!(g.words, 7 * a.len() as u64);
        }
    }

    #[test]
    fn the_bit_permutations_are_xor_linear_and_split_a_word() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        for _ in 0..1000 {
            let (x, y): (u64, u64) = (rng.gen(), rng.gen());
            assert_eq!(evens(x ^ y), evens(x) ^ evens(y));
            assert_eq!(odds(x ^ y), odds(x) ^ odds(y));
            // Interleaving back gives the word.
            let back = (0..32).fold(0u64, |w, j| {
                w | ((evens(x) >> j) & 1) << (2 * j) | ((odds(x) >> j) & 1) << (2 * j + 1)
            });
            assert_eq!(back, x);
        }
        assert_eq!(evens(u64::MAX), 0xffff_ffff);
        assert_eq!(odds(0xaaaa_aaaa_aaaa_aaaa), 0xffff_ffff);
    }
}
