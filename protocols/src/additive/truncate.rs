//! Truncation of a fixed-point product from 2f back to f fractional bits, for three servers.
//!
//! **Dealer truncation** (Catrina–Saxena, FC 2010, the method `pond/truncate.rs` uses for two
//! servers, generalised to n): let k = int + 2f, so |z| < 2^k.
//! 1. *deal pair* (offline): the dealer draws r uniform on [0, 2^64 − 2^(k+1)) and deals shares
//!    of r and r' = r >> f (seeds to server0 and server1, server2's shares in full: 3 messages,
//!    2·32 + 16n bytes).
//! 2. *open z + r*: server i sends cᵢ = zᵢ + rᵢ (+ 2^k at server0) to each other server
//!    (6 messages of 8n bytes, one round); c = z + 2^k + r, and 0 ≤ z + 2^k < 2^(k+1) means c
//!    does not wrap around.
//! 3. *truncate*: z'₀ = (c >> f) − 2^(k−f) − r'₀ and z'ᵢ = −r'ᵢ for i > 0. Then
//!    Σz'ᵢ = ⌊(z + 2^k + r)/2^f⌋ − 2^(k−f) − ⌊r/2^f⌋ ∈ {⌊z/2^f⌋, ⌊z/2^f⌋ + 1}: off by at most
//!    one ulp, whatever n is.
//!
//! *Hazards* (as for Pond, [`crate::fixed`]): the product must respect |z| < 2^k (the shadow
//! reports `TruncationHeadroom` otherwise, and the result is then wrong), and c hides z only up
//! to statistical distance 2^(k+1−64) per element: σ = 63 − k bits of statistical security
//! ([`crate::fixed::FixedConfig::statistical_security`]; 20 for the 16/11 preset, which a scenario
//! must accept with `weak_security`).
//!
//! **Why not local truncation.** With two servers SecureML's local truncation (server0 shifts
//! x₀, server1 shifts −(−x₁)) fails only when the two shares straddle the wrap-around, with
//! probability |z|/2^64. With three uniform shares it fails about half the time, whatever z is:
//! read the shares as integers in [0, 2^64); their integer sum is z + w·2^64 and shifting each
//! share by f adds up to (z + w·2^64)/2^f, i.e. an error of w·2^(64−f) (a huge one) unless w = 0.
//! For two shares one sign choice makes w = 0 certain but for |z|/2^64; for three, w is the
//! integer part of a sum of three uniforms landing near an integer, which is 1 or 2 with
//! probability ½ each (the Irwin–Hall density at 1 and 2), and every choice of signs only moves
//! which two integers these are. So at best half of all elements come out wrong
//! ([`local_truncate_sum`] and its test measure it). Additive therefore refuses
//! `truncation: Local` ([`LOCAL_REFUSAL`]).

use super::{AdditiveParty, SERVERS};
use crate::context::{Context, Message, RingKind, Traffic};
use crate::error::{ProtocolError, Result};
use crate::ring::Ring;
use crate::tensor::{self, Prg, Tensor};
use rand::SeedableRng;

/// Why Additive refuses `truncation: Local` (validation and the party say it): the error, a
/// newline, the hint.
pub const LOCAL_REFUSAL: &str = "Additive truncates with the dealer only: local truncation of \
     three additive shares is wrong for about half of all elements (their integer sum wraps \
     around 1 or 2 times; see protocols/src/additive/truncate.rs)\nuse `truncation: Dealer`, or \
     `protocol: Pond` for local truncation with two servers";

/// Local truncation of three shares with a sign per share (`true`: the share is read as the
/// negative number xᵢ − 2^64 and shifted as −((−xᵢ) >> f), SecureML's server1 rule): the sum of
/// the shifted shares. Off by at most a few ulps from z >> f only when the shares' integer sum
/// (with those signs) is exactly z.
pub fn local_truncate_sum(shares: &[u64], negative: &[bool], f: u32) -> u64 {
    shares
        .iter()
        .zip(negative)
        .map(|(&v, &neg)| {
            if neg {
                (v.wrapping_neg() >> f).wrapping_neg()
            } else {
                v >> f
            }
        })
        .fold(0u64, u64::wrapping_add)
}

/// A server's shares of the truncation pair (r, r >> f).
struct PairShare {
    r: Tensor<u64>,
    r_shift: Tensor<u64>,
}

fn expand_pair(seed: &[u8; 32], shape: &[usize]) -> PairShare {
    let mut prg = Prg::from_seed(*seed);
    let r = tensor::random(shape, &mut prg);
    let r_shift = tensor::random(shape, &mut prg);
    PairShare { r, r_shift }
}

impl AdditiveParty {
    /// Truncates a server's share `z` of a product (scale 2f) to scale f with the dealer.
    /// `None` in, `None` out (parties that are not servers walk the steps with nothing).
    pub(crate) fn truncate(
        &mut self,
        ctx: &mut dyn Context,
        z: Option<Tensor<u64>>,
        shape: &[usize],
    ) -> Result<Option<Tensor<u64>>> {
        let f = self.settings.fixed.frac_bits;
        let k = self.settings.fixed.product_bits();
        // r < 2^64 − 2^(k+1): room above the 2^(k+1) values z + 2^k takes.
        let limit = 1u64
            .checked_shl(k + 1)
            .map(u64::wrapping_neg)
            .filter(|_| k + 1 < 64);
        let Some(limit) = limit else {
            return Err(ProtocolError::Unsupported(format!(
                "dealer truncation needs int_bits + 2·frac_bits < 63 to leave room for its mask \
                 r, got {k}; lower int_bits or frac_bits"
            )));
        };

        // Step 1 (offline): the dealer deals (r, r >> f).
        ctx.step("deal pair")?;
        if self.is_dealer() {
            let rng = ctx.rng();
            let mut r: Tensor<u64> = tensor::random(shape, rng);
            // Uniform on [0, limit): redraw the rare words (probability 2^(k+1−64)) above it.
            r.mapv_inplace(|mut v| {
                while v >= limit {
                    v = u64::random(rng);
                }
                v
            });
            let r_shift = r.mapv(|v| v >> f);
            ctx.record_dealt("r (truncation mask)", RingKind::Z64, &r);
            ctx.record_dealt("r >> f", RingKind::Z64, &r_shift);
            let (mut r_last, mut rs_last) = (r, r_shift);
            for i in 0..SERVERS - 1 {
                let seed = tensor::fresh_seed(ctx.rng());
                let p = expand_pair(&seed, shape);
                r_last = tensor::sub(&r_last, &p.r)?;
                rs_last = tensor::sub(&rs_last, &p.r_shift)?;
                ctx.send(
                    self.server_id(i),
                    &format!("seed → ⟨r⟩{i}, ⟨r>>f⟩{i}"),
                    Traffic::Offline,
                    Message::seed(&seed),
                )?;
            }
            let l = SERVERS - 1;
            ctx.send(
                self.server_id(l),
                &format!("⟨r⟩{l}, ⟨r>>f⟩{l}"),
                Traffic::Offline,
                Message::tensor(&r_last).and(&rs_last),
            )?;
            ctx.charge((4 * SERVERS * tensor::numel(shape)) as u64);
        }
        let pair = match self.server() {
            Some(i) => {
                let dealer = self.dealer_id();
                let msg = ctx.recv(dealer)?;
                Some(if i < SERVERS - 1 {
                    expand_pair(&tensor::decode_seed(&msg, dealer)?, shape)
                } else {
                    let n8 = 8 * tensor::numel(shape);
                    if msg.len() != 2 * n8 {
                        return Err(ProtocolError::Malformed {
                            from: dealer,
                            expected: 2 * n8,
                            got: msg.len(),
                        });
                    }
                    PairShare {
                        r: tensor::decode(&msg[..n8], shape, dealer)?,
                        r_shift: tensor::decode(&msg[n8..], shape, dealer)?,
                    }
                })
            }
            None => None,
        };

        // Step 2 (online): open c = z + 2^k + r.
        ctx.step("open z + r")?;
        let mut opened = None;
        if let (Some(i), Some(z), Some(p)) = (self.server(), &z, &pair) {
            let shift = if i == 0 { 1u64 << k } else { 0 };
            let c_i = tensor::add(z, &p.r)?.mapv(|v| v.wrapping_add(shift));
            let c = self.open_shares(ctx, i, &format!("⟨z + r⟩{i}"), &c_i)?;
            ctx.record_opened("c = z + 2^k + r (masked product)", &c);
            opened = Some(c);
        }

        // Step 3: z'₀ = (c >> f) − 2^(k−f) − ⟨r >> f⟩₀, z'ᵢ = −⟨r >> f⟩ᵢ.
        ctx.step("truncate")?;
        let (Some(i), Some(c), Some(p)) = (self.server(), opened, pair) else {
            return Ok(None);
        };
        let out = if i == 0 {
            let top = 1u64 << (k - f);
            tensor::sub(&c.mapv(|v| (v >> f).wrapping_sub(top)), &p.r_shift)?
        } else {
            tensor::neg(&p.r_shift)
        };
        ctx.charge(2 * out.len() as u64);
        ctx.record_share("truncated", &out);
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::local_truncate_sum;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha20Rng;

    /// Fraction of random sharings of `z` into `n` shares whose local truncation (with the given
    /// signs) is off by more than `n` ulps.
    fn failure_rate(z: i64, negative: &[bool], trials: u32, seed: u64) -> f64 {
        let f = 16;
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let n = negative.len();
        let bad = (0..trials)
            .filter(|_| {
                let mut shares: Vec<u64> = (0..n - 1).map(|_| rng.gen()).collect();
                let rest = shares.iter().fold(z as u64, |acc, &s| acc.wrapping_sub(s));
                shares.push(rest);
                let t = local_truncate_sum(&shares, negative, f);
                (t as i64).wrapping_sub(z >> f).unsigned_abs() > n as u64
            })
            .count();
        bad as f64 / trials as f64
    }

    #[test]
    fn local_truncation_works_for_two_shares_and_fails_half_the_time_for_three() {
        let trials = 20_000;
        for z in [0i64, 1 << 20, -(1 << 30), 12_345_678] {
            // Two servers, SecureML's signs: fails with probability |z|/2^64, i.e. never here.
            assert_eq!(failure_rate(z, &[false, true], trials, 1), 0.0, "z = {z}");
            // Three servers: with mixed signs one of the two likely wrap counts is 0, so half
            // the elements fail; with equal signs neither is, and nearly all fail (±5 sd).
            let sd = (0.25f64 / trials as f64).sqrt();
            for (signs, expected) in [
                ([false, true, true], 0.5),
                ([false, false, true], 0.5),
                ([false, false, false], 1.0),
                ([true, true, true], 1.0),
            ] {
                let p = failure_rate(z, &signs, trials, 2);
                assert!(
                    (p - expected).abs() <= 5.0 * sd,
                    "z = {z}, signs {signs:?}: failure rate {p}, expected {expected}"
                );
            }
        }
    }
}
