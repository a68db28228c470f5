//! Truncation of a fixed-point product from 2f back to f fractional bits.
//!
//! - **Dealer-assisted** (Catrina–Saxena style). Let k = int + 2f, so |z| < 2^k. The producer
//!   deals r uniform in [0, 2^64 − 2^(k+1)) and r' = r >> f, shared. Step 1: the servers open
//!   c = z + 2^k + r (no wrap-around: 0 ≤ z + 2^k < 2^(k+1)). Step 2:
//!   ⟨z'⟩ᵢ = [i=0]·((c >> f) − 2^(k−f)) − ⟨r'⟩ᵢ. Off by at most one ulp; c hides z up to
//!   statistical distance 2^(k+1−64) per element, i.e. σ = 63 − k bits of statistical security
//!   ([`crate::fixed::FixedConfig::statistical_security`]; 20 for tf-encrypted's 16/11 preset).
//!   `gap_bits` is only the lower bound σ must meet; scenarios also need σ ≥
//!   [`crate::fixed::MIN_STATISTICAL_SECURITY`] unless they set `weak_security`.
//! - **Local** (SecureML): server0 computes ⟨z⟩₀ >> f, server1 computes −((−⟨z⟩₁) >> f). No
//!   communication, off by one ulp, and wrong (a huge error) with probability |z|/2^64 per
//!   element (the shares straddle the wrap-around; [`local_truncate_share`]).

use super::{PondParty, Truncation};
use crate::context::{Context, Message, Traffic, ValueClass};
use crate::error::Result;
use crate::ring::Z2k;
use crate::tensor::{self, Tensor};

/// SecureML's local truncation of server `i`'s share `v` by `f` bits: server0 computes
/// ⟨z⟩₀ >> f, server1 computes −((−⟨z⟩₁) >> f).
///
/// With ⟨z⟩₀ uniform, the two results add up to ⌊z/2^f⌋ or ⌊z/2^f⌋ + 1 unless the shares
/// straddle the wrap-around: for z ≥ 0 when ⟨z⟩₀ < z, for z < 0 when ⟨z⟩₀ ≥ 2^ℓ − |z|. So it
/// fails with probability exactly |z|/2^ℓ per element over Z_2^ℓ
/// ([`crate::fixed::FixedConfig::local_failure_probability`]).
pub(crate) fn local_truncate_share<R: Z2k>(i: usize, v: R, f: u32) -> R {
    if i == 0 {
        v.shr(f)
    } else {
        v.neg().shr(f).neg()
    }
}

impl<R: Z2k> PondParty<R> {
    /// Truncates a public encoded product exactly (arithmetic shift).
    pub(crate) fn truncate_public(&self, z: &Tensor<R>) -> Tensor<R> {
        let f = self.cfg.fixed.frac_bits;
        z.mapv(|v| v.sar(f))
    }

    /// Truncates a shared product (scale 2f) to scale f with the scenario's method.
    pub(crate) fn truncate(
        &mut self,
        ctx: &mut dyn Context,
        z: Option<Tensor<R>>,
        shape: &[usize],
    ) -> Result<Option<Tensor<R>>> {
        match self.cfg.truncation {
            Truncation::Dealer => self.truncate_dealer(ctx, z, shape),
            Truncation::Local => self.truncate_local(ctx, z),
        }
    }

    fn truncate_local(
        &mut self,
        ctx: &mut dyn Context,
        z: Option<Tensor<R>>,
    ) -> Result<Option<Tensor<R>>> {
        self.step(ctx, "truncate locally")?;
        let f = self.cfg.fixed.frac_bits;
        let out = match (self.server_index(), z) {
            (Some(i), Some(mut z)) => {
                z.mapv_inplace(|v| local_truncate_share(i, v, f));
                Some(z)
            }
            _ => None,
        };
        if let Some(s) = &out {
            ctx.charge(s.len() as u64);
            R::record(ctx, ValueClass::Share, "truncated", s);
        }
        Ok(out)
    }

    fn truncate_dealer(
        &mut self,
        ctx: &mut dyn Context,
        z: Option<Tensor<R>>,
        shape: &[usize],
    ) -> Result<Option<Tensor<R>>> {
        let f = self.cfg.fixed.frac_bits;
        let k = self.cfg.fixed.product_bits();
        let (s0, s1, cp) = (self.place.server0, self.place.server1, self.place.producer);

        // Offline: the producer deals (r, r >> f).
        self.step(ctx, "deal truncation pair")?;
        let mut pair: Option<Pair<R>> = None;
        // 2^k and 2^(k−f): validation keeps k + 1 < ℓ.
        let (Some(two_k), Some(top)) = (R::pow2(k), R::pow2(k.saturating_sub(f))) else {
            return Err(crate::error::ProtocolError::Unsupported(format!(
                "dealer truncation needs int_bits + 2·frac_bits < {} to leave room for its \
                 mask r, got {k}; lower int_bits or frac_bits",
                R::BITS - 1
            )));
        };
        if self.is_producer() {
            // r < 2^ℓ − 2^(k+1): there must be room above the 2^(k+1) values z + 2^k takes.
            let Some(limit) = R::pow2(k + 1).map(R::neg) else {
                return Err(crate::error::ProtocolError::Unsupported(format!(
                    "dealer truncation needs int_bits + 2·frac_bits < {} to leave room for its \
                     mask r, got {k}; lower int_bits or frac_bits",
                    R::BITS - 1
                )));
            };
            let n = tensor::numel(shape);
            // Uniform on [0, limit): whole words drawn, then each of the rare ones (probability
            // 2^(k+1−64)) that fall above redrawn in turn. Drawn once ahead on a copy of the
            // stream to find the redraws; r is then read from the stream again wherever it is
            // used (its records, both halves of server1's message), never held whole.
            let (start, redrawn) = {
                let rng = ctx.rng();
                let start = rng.clone();
                let redrawn = redraws(rng, n, limit);
                (start, redrawn)
            };
            let r = TruncationMask { start, redrawn, n };
            let seed = tensor::fresh_seed(ctx.rng());
            let mut prg = <tensor::Prg as rand::SeedableRng>::from_seed(seed);
            let mut rs = r.stream();
            R::record_with(
                ctx,
                ValueClass::Dealt,
                "r (truncation mask)",
                shape,
                &mut |p| rs.fill(p),
            );
            let mut rs = r.stream();
            R::record_with(ctx, ValueClass::Dealt, "r >> f", shape, &mut |p| {
                rs.fill(p);
                p.iter_mut().for_each(|v| *v = v.shr(f));
            });
            // server1's shares r − ⟨r⟩₀ and (r >> f) − ⟨r >> f⟩₀, straight into the message as
            // server0's are expanded (⟨r⟩₀ first, then ⟨r >> f⟩₀, as server0 draws them).
            let msg = Message::with_capacity(2 * n * R::BYTES)
                .and_computed(shape, r.minus_stream(0, &mut prg))
                .and_computed(shape, r.minus_stream(f, &mut prg));
            ctx.send(
                s0,
                "seed → ⟨r⟩₀, ⟨r>>f⟩₀",
                Traffic::Offline,
                Message::seed(&seed),
            )?;
            ctx.send(s1, "⟨r⟩₁, ⟨r>>f⟩₁", Traffic::Offline, msg)?;
            ctx.charge(3 * n as u64);
        }
        match self.server_index() {
            // server0 keeps its seed's PRG and expands ⟨r⟩₀, then ⟨r >> f⟩₀, when it uses them.
            Some(0) => {
                let seed = tensor::decode_seed(&ctx.recv(cp)?, cp)?;
                pair = Some(Pair::Seeded(Box::new(
                    <tensor::Prg as rand::SeedableRng>::from_seed(seed),
                )));
            }
            // server1 keeps the message and decodes each half when it uses it.
            Some(_) => {
                let msg = ctx.recv(cp)?;
                let n8 = R::BYTES * tensor::numel(shape);
                if msg.len() != 2 * n8 {
                    return Err(crate::error::ProtocolError::Malformed {
                        from: cp,
                        expected: 2 * n8,
                        got: msg.len(),
                    });
                }
                pair = Some(Pair::Sent(msg, std::marker::PhantomData));
            }
            None => {}
        }

        // Step 1 (online): open c = z + 2^k + r, computed in place in z.
        self.step(ctx, "open z + r")?;
        let mut opened: Option<Tensor<R>> = None;
        if let (Some(i), Some(mut c), Some(pair)) = (self.server_index(), z, pair.as_mut()) {
            if c.shape() != shape {
                return Err(crate::error::ProtocolError::Shape {
                    op: "truncate".into(),
                    detail: format!("product is {:?}, expected {shape:?}", c.shape()),
                });
            }
            // ⟨c⟩ᵢ = ⟨z⟩ᵢ + ⟨r⟩ᵢ (+ 2^k at server0).
            match pair {
                Pair::Seeded(prg) => {
                    tensor::zip_random_assign(&mut c, prg.as_mut(), |z, r| z.add(r).add(two_k))
                }
                Pair::Sent(msg, _) => tensor::decode_add_assign(&mut c, &msg[..msg.len() / 2], cp)?,
            }
            let peer = self.peer(i);
            ctx.send(
                peer,
                &format!("⟨z + r⟩{i}"),
                Traffic::Online,
                Message::tensor(&c),
            )?;
            tensor::decode_add_assign(&mut c, &ctx.recv(peer)?, peer)?;
            R::record(ctx, ValueClass::Opened, "z + 2^k + r (masked product)", &c);
            opened = Some(c);
        }

        // Step 2: ⟨z'⟩ᵢ = [i=0]·((c >> f) − 2^(k−f)) − ⟨r >> f⟩ᵢ, in place in c's buffer.
        self.step(ctx, "truncate")?;
        if let (Some(_), Some(mut out), Some(pair)) = (self.server_index(), opened, pair) {
            match pair {
                Pair::Seeded(mut prg) => {
                    tensor::zip_random_assign(&mut out, prg.as_mut(), |c, rs| {
                        c.shr(f).sub(top).sub(rs)
                    })
                }
                Pair::Sent(msg, _) => {
                    tensor::decode_zip_assign(&mut out, &msg[msg.len() / 2..], cp, |_, rs| {
                        rs.neg()
                    })?
                }
            }
            ctx.charge(2 * out.len() as u64);
            R::record(ctx, ValueClass::Share, "truncated", &out);
            return Ok(Some(out));
        }
        Ok(None)
    }
}

/// Draws `n` elements from `rng` and redraws, in order, each that is ≥ `limit` until it is
/// below: the stream as drawing a tensor of `n` and then redrawing its rejected elements in
/// place leaves it. Returns the redrawn elements' positions and values.
fn redraws<R: Z2k>(rng: &mut crate::context::PartyRng, n: usize, limit: R) -> Vec<(usize, R)> {
    let mut rejected = Vec::new();
    let mut piece = tensor::piece_buf::<R>(n);
    let mut at = 0;
    while at < n {
        let len = tensor::PIECE.min(n - at);
        R::random_fill(&mut piece[..len], rng);
        rejected.extend((0..len).filter(|&j| piece[j] >= limit).map(|j| at + j));
        at += len;
    }
    rejected
        .into_iter()
        .map(|k| {
            let mut v = R::random(rng);
            while v >= limit {
                v = R::random(rng);
            }
            (k, v)
        })
        .collect()
}

/// The producer's truncation mask r as its stream: the party stream's `n` elements from
/// `start`, with the rejected ones replaced by their redraws ([`redraws`]).
struct TruncationMask<R> {
    start: crate::context::PartyRng,
    redrawn: Vec<(usize, R)>,
    n: usize,
}

impl<R: Z2k> TruncationMask<R> {
    /// (r >> `shift`) − the next elements of `prg`, piece by piece: a filler for
    /// [`Message::and_computed`].
    fn minus_stream<'a>(
        &'a self,
        shift: u32,
        prg: &'a mut tensor::Prg,
    ) -> impl FnMut(usize, &mut [R]) + 'a {
        let mut rs = self.stream();
        let mut mask = tensor::piece_buf::<R>(self.n);
        move |_, piece| {
            rs.fill(piece);
            let m = &mut mask[..piece.len()];
            R::random_fill(m, prg);
            for (v, &m) in piece.iter_mut().zip(m.iter()) {
                *v = v.shr(shift).sub(m);
            }
        }
    }

    /// r's elements in row-major order, piece by piece.
    fn stream(&self) -> TruncationStream<'_, R> {
        TruncationStream {
            prg: self.start.clone(),
            redrawn: &self.redrawn,
            at: 0,
            next: 0,
            n: self.n,
        }
    }
}

/// A [`TruncationMask`] read in order.
struct TruncationStream<'a, R> {
    prg: crate::context::PartyRng,
    redrawn: &'a [(usize, R)],
    /// Elements handed out so far.
    at: usize,
    /// The first redraw not yet applied.
    next: usize,
    n: usize,
}

impl<R: Z2k> TruncationStream<'_, R> {
    /// The next `out.len()` elements of r (no more than the `n` it has).
    fn fill(&mut self, out: &mut [R]) {
        let len = out.len().min(self.n.saturating_sub(self.at));
        let out = &mut out[..len];
        R::random_fill(out, &mut self.prg);
        while let Some(&(k, v)) = self.redrawn.get(self.next) {
            if k >= self.at + len {
                break;
            }
            out[k - self.at] = v;
            self.next += 1;
        }
        self.at += len;
    }
}

/// A server's part of the truncation pair (⟨r⟩ᵢ, ⟨r >> f⟩ᵢ), held until it is used.
enum Pair<R> {
    /// server0: the PRG of its seed, positioned at ⟨r⟩₀ (then ⟨r >> f⟩₀ follows).
    Seeded(Box<tensor::Prg>),
    /// server1: the producer's message, ⟨r⟩₁ then ⟨r >> f⟩₁ (checked to be 2n elements).
    Sent(Vec<u8>, std::marker::PhantomData<R>),
}

#[cfg(test)]
mod tests {
    use super::local_truncate_share;
    use crate::fixed::FixedConfig;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha20Rng;

    /// Fraction of `trials` random sharings of the encoded `z` whose local truncation is off by
    /// more than one ulp.
    fn failure_rate(z: i64, f: u32, trials: u32, rng: &mut ChaCha20Rng) -> f64 {
        let exact = z >> f;
        let failures = (0..trials)
            .filter(|_| {
                let z0: u64 = rng.gen();
                let z1 = (z as u64).wrapping_sub(z0);
                let t = local_truncate_share(0, z0, f).wrapping_add(local_truncate_share(1, z1, f));
                (t as i64).wrapping_sub(exact).unsigned_abs() > 1
            })
            .count();
        failures as f64 / trials as f64
    }

    #[test]
    fn local_truncation_fails_at_the_rate_of_the_formula() {
        let mut rng = ChaCha20Rng::seed_from_u64(64);
        let trials = 100_000u32;
        let f = 16;
        for magnitude in [1u64 << 60, 1 << 58, 3 << 58, 1 << 56] {
            for sign in [1i64, -1] {
                let z = sign * magnitude as i64;
                let p = FixedConfig::local_truncation_failure_probability(magnitude as f64);
                let measured = failure_rate(z, f, trials, &mut rng);
                // Six standard deviations of a binomial rate: the seeded test is deterministic,
                // and a formula off by a factor of two (2^(⌊log₂|z|⌋+1−64) for |z| = 3·2^58, say)
                // is dozens of deviations away.
                let sd = (p * (1.0 - p) / trials as f64).sqrt();
                assert!(
                    (measured - p).abs() <= 6.0 * sd,
                    "z = {z}: measured failure rate {measured}, formula {p} (sd {sd})"
                );
            }
        }
    }

    #[test]
    fn local_truncation_of_zero_never_fails() {
        let mut rng = ChaCha20Rng::seed_from_u64(0);
        assert_eq!(failure_rate(0, 16, 10_000, &mut rng), 0.0);
        assert_eq!(FixedConfig::local_truncation_failure_probability(0.0), 0.0);
    }
}
