//! **SecureNN** (Wagh, Gupta, Chandran, PETS 2019): exact comparison, ReLU and MaxPool for
//! three parties.
//!
//! P0 = `server0` and P1 = `server1` hold 2-of-2 additive shares over Z_L (L = 2^64); P2 =
//! `producer` is the *helper*: it deals correlated randomness and takes part in comparisons, but
//! never sees a value in the clear (semi-honest, no collusion). Three rings are used: Z_L
//! ([`u64`]), the odd ring Z_{L−1} ([`OddRing`]) and Z_p with p = 67 ([`Zp`](crate::ring::Zp)).
//!
//! One function per algorithm of the paper, with its step numbers in comments:
//! [`matmul`] (Alg. 1), [`select_share`] (Alg. 2), [`private_compare`] (Alg. 3),
//! [`share_convert`] (Alg. 4), [`compute_msb`] (Alg. 5), [`drelu`] (ReLU′), [`relu`],
//! [`maxpool`] (a comparison tree), and built on them [`greater`], [`less`] and [`argmax`].
//!
//! Every function operates elementwise on whole tensors: all elements of a step travel in one
//! message, so bytes grow with the number of elements and rounds do not. Every party calls every
//! function with the same public arguments (shapes, variant) and walks the same sequence of
//! [`Context::step`]s; a party with nothing to do in a step just passes through it. Parties other
//! than P0, P1, P2 (input providers, receivers) may call them too and do nothing.
//!
//! ## Randomness
//! - **Common randomness of P0 and P1** (which P2 never sees: the masks s_i, the permutation π,
//!   the bit β, the mask r of ShareConvert, the zero-shares u): a ChaCha12 stream (`tensor::Prg`) both servers
//!   expand from a 32-byte key that P0 draws and sends to P1 once, in [`Keys::setup`].
//! - **Helper keys**: P2 sends each server a 32-byte key once (also in [`Keys::setup`]); the
//!   helper's share for P_j of anything it deals is drawn from key j, so only P1's *difference*
//!   share travels (as tf-encrypted and the reference implementation do). Random values the
//!   helper needs but does not choose (Beaver masks A, B and the random x of ComputeMSB) are the
//!   sum of the two key streams and cost no bytes at all.
//!
//! [`Keys::setup`] costs 3 offline messages, 96 bytes, once per run (not per op). Each stream is
//! drawn by exactly the parties holding it, in the same order, so they stay in step.
//!
//! ## Traffic
//! Helper-dealt randomness that does not depend on data (Beaver's ⟨C⟩₁, ComputeMSB's x) is
//! [`Traffic::Offline`]; everything that depends on data — including what P2 sends back after
//! seeing masked data in ShareConvert and ComputeMSB — is [`Traffic::Online`].
//!
//! ## The insecure shortcut
//! [`Variant::Shortcut`] reproduces what tf-encrypted's SecureNN does: DReLU skips ShareConvert
//! (it casts the Z_L shares of a to Z_{L−1} as they are, which is off by one whenever the shares
//! wrap around: DReLU(−1) is always wrong, DReLU(−2) and DReLU(2^63 − 1) whenever the shares
//! wrap), and PrivateCompare skips the permutation π (the helper learns the position of the first
//! bit where x and r differ). tf-encrypted also uses p = 107; we
//! keep p = 67 (any prime > ℓ + 2 works, and it changes no byte counts: both fit one byte).
//! Never the default.
//!
//! Costs (messages, bytes, rounds) of every function are functions in [`cost`] (the table of
//! `docs/securenn.md`), pinned by `protocols/tests/securenn.rs`.

pub mod attack;
mod compare;
pub mod cost;
pub mod dmaxpool;
pub(crate) mod explain;
mod matmul;
pub mod protocol;
mod relu;
mod shuffle;
mod tree;
pub(crate) mod view_notes;
mod zp_stream;

pub use compare::{compute_msb, private_compare, share_convert};
pub use matmul::{matmul, select_share, Product};
pub use protocol::{SecureNN, SECURENN, SECURENN_AS_PUBLISHED, SECURENN_SHORTCUT};
pub(crate) use relu::maxpool_of;
pub use relu::{argmax, drelu, greater, less, maxpool, relu};

use crate::context::{Context, Message, PartyId, RingKind, Traffic};
use crate::error::{ProtocolError, Result};
use crate::pond::Placement;
use crate::ring::{OddRing, Ring};
use crate::tensor::Prg;
use crate::tensor::{self, Tensor};
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// ℓ: bits of the ring Z_L.
pub const ELL: usize = 64;

/// Which SecureNN to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Variant {
    /// The paper's protocols (ShareConvert, the permutation π in PrivateCompare) with one fix
    /// that is **not in the paper**: in PrivateCompare P0 and P1 re-randomise the pair they send
    /// with a common zero-sharing v (⟨d⟩₀ + v, ⟨d⟩₁ − v), so P2 sees (uniform, d − uniform), which
    /// it can simulate from d. Same bytes, messages and rounds. The default.
    #[default]
    Secure,
    /// **Insecure**: PrivateCompare exactly as published (SecureNN Alg. 3 steps 6–7; also the
    /// reference implementation and tf-encrypted). P2 receives s·⟨c⟩₀ and s·⟨c⟩₁ per bit; since
    /// P2 itself dealt both Z_p shares of the compared bits (ShareConvert step 4, ComputeMSB
    /// step 1), the ratio ⟨c⟩₀ : ⟨c⟩₁ tells it the compared value bit by bit
    /// ([`attack`](crate::securenn::attack)). For teaching only; never the default.
    AsPublished,
    /// **Insecure** tf-encrypted shortcut: no ShareConvert in DReLU (wrong for a = −1, and for
    /// a ∈ {−2, 2^63 − 1} when the shares wrap), no permutation and no re-randomisation in
    /// PrivateCompare (the helper learns the position of the first differing bit, and the
    /// compared value as in [`Variant::AsPublished`]). For teaching only.
    Shortcut,
}

impl Variant {
    /// Whether this variant leaks to the helper (every variant but [`Variant::Secure`]).
    pub fn is_insecure(self) -> bool {
        self != Variant::Secure
    }
}

/// The role a party plays in SecureNN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// P0 (j = 0) or P1 (j = 1).
    Server(usize),
    /// P2.
    Helper,
    /// Any other party: walks the steps, does nothing.
    Bystander,
}

pub(crate) fn role(ctx: &dyn Context, place: &Placement) -> Role {
    let me = ctx.me();
    if me == place.server0 {
        Role::Server(0)
    } else if me == place.server1 {
        Role::Server(1)
    } else if me == place.producer {
        Role::Helper
    } else {
        Role::Bystander
    }
}

/// The other server of server j.
pub(crate) fn peer(place: &Placement, j: usize) -> PartyId {
    if j == 0 {
        place.server1
    } else {
        place.server0
    }
}

/// Pairwise keys of one party (see the module docs). Streams a party does not hold are `None`.
#[derive(Debug, Clone)]
pub struct Keys {
    /// P0–P1 common randomness (never P2).
    common: Option<Prg>,
    /// P2–P0 stream: P0's share of everything the helper deals.
    helper0: Option<Prg>,
    /// P2–P1 stream: P1's share of the helper's random masks.
    helper1: Option<Prg>,
}

impl Keys {
    /// Key setup, once per run: P0 draws the P0–P1 key and sends it to P1; P2 draws one key per
    /// server and sends it. 3 offline messages, 96 bytes, one (offline) round. One step.
    pub fn setup(ctx: &mut dyn Context, place: &Placement) -> Result<Keys> {
        ctx.step("SecureNN key setup")?;
        let mut keys = Keys {
            common: None,
            helper0: None,
            helper1: None,
        };
        match role(ctx, place) {
            Role::Helper => {
                let k0 = tensor::fresh_seed(ctx.rng());
                let k1 = tensor::fresh_seed(ctx.rng());
                ctx.record_dealt("key P2–P0", RingKind::Seed, &seed_tensor(&k0));
                ctx.record_dealt("key P2–P1", RingKind::Seed, &seed_tensor(&k1));
                ctx.send(
                    place.server0,
                    "key P2–P0",
                    Traffic::Offline,
                    Message::seed(&k0),
                )?;
                ctx.send(
                    place.server1,
                    "key P2–P1",
                    Traffic::Offline,
                    Message::seed(&k1),
                )?;
                keys.helper0 = Some(Prg::from_seed(k0));
                keys.helper1 = Some(Prg::from_seed(k1));
            }
            Role::Server(0) => {
                let k = tensor::fresh_seed(ctx.rng());
                ctx.record_dealt("key P0–P1", RingKind::Seed, &seed_tensor(&k));
                ctx.send(
                    place.server1,
                    "key P0–P1",
                    Traffic::Offline,
                    Message::seed(&k),
                )?;
                keys.common = Some(Prg::from_seed(k));
                let k0 = tensor::decode_seed(&ctx.recv(place.producer)?, place.producer)?;
                keys.helper0 = Some(Prg::from_seed(k0));
            }
            Role::Server(_) => {
                let k1 = tensor::decode_seed(&ctx.recv(place.producer)?, place.producer)?;
                keys.helper1 = Some(Prg::from_seed(k1));
                let k = tensor::decode_seed(&ctx.recv(place.server0)?, place.server0)?;
                keys.common = Some(Prg::from_seed(k));
            }
            Role::Bystander => {}
        }
        Ok(keys)
    }

    /// The P0–P1 common stream.
    pub(crate) fn common(&mut self) -> Result<&mut Prg> {
        self.common
            .as_mut()
            .ok_or_else(|| ProtocolError::Missing("no P0–P1 common key (run Keys::setup)".into()))
    }

    /// The helper stream shared with server j.
    pub(crate) fn helper(&mut self, j: usize) -> Result<&mut Prg> {
        let k = if j == 0 {
            &mut self.helper0
        } else {
            &mut self.helper1
        };
        k.as_mut()
            .ok_or_else(|| ProtocolError::Missing(format!("no P2–P{j} key (run Keys::setup)")))
    }

    /// The P0–P1 common stream and the P2–P0 stream at once (P0's PrivateCompare draws its bit
    /// shares from the second while it masks them with the first).
    pub(crate) fn common_and_helper0(&mut self) -> Result<(&mut Prg, &mut Prg)> {
        match (&mut self.common, &mut self.helper0) {
            (Some(c), Some(h)) => Ok((c, h)),
            (None, _) => Err(ProtocolError::Missing(
                "no P0–P1 common key (run Keys::setup)".into(),
            )),
            (_, None) => Err(ProtocolError::Missing(
                "no P2–P0 key (run Keys::setup)".into(),
            )),
        }
    }

    /// Shares of zero over R: P0 gets u, P1 gets −u, from the common stream.
    pub(crate) fn zero_share<R: Ring>(&mut self, j: usize, shape: &[usize]) -> Result<Tensor<R>> {
        let u: Tensor<R> = tensor::random(shape, self.common()?);
        Ok(if j == 0 { u } else { tensor::neg(&u) })
    }

    /// Common random bits (as 0/1 in Z_L).
    pub(crate) fn common_bits(&mut self, shape: &[usize]) -> Result<Tensor<u64>> {
        let rng = self.common()?;
        let v: Vec<u64> = (0..tensor::numel(shape))
            .map(|_| rng.gen::<bool>() as u64)
            .collect();
        Ok(Tensor::from_shape_vec(shape.to_vec(), v).expect("shape matches"))
    }
}

/// A seed as a tensor of its 32 bytes, for recording.
pub(crate) fn seed_tensor(seed: &[u8; 32]) -> Tensor<u64> {
    Tensor::from_shape_vec(vec![32], seed.iter().map(|&b| b as u64).collect()).expect("32 bytes")
}

/// wrap(a, b, L): 1 iff a + b ≥ L as integers.
#[inline(always)]
pub(crate) fn wrap(a: u64, b: u64) -> u64 {
    a.overflowing_add(b).1 as u64
}

/// Bit k (k = 0 is the least significant) of x.
#[inline(always)]
pub(crate) fn bit(x: u64, k: usize) -> u64 {
    (x >> k) & 1
}

/// Bit decomposition of each element of `x` ([n]) as Z_p elements, shape [n, ℓ], column k = bit k
/// (the dealing computes them as it goes; the tests' reference).
#[cfg(test)]
pub(crate) fn bits_zp(x: &[u64]) -> Tensor<crate::ring::Zp> {
    use crate::ring::Zp;
    let mut v = vec![Zp(0); x.len() * ELL];
    for (row, &xe) in v.chunks_exact_mut(ELL).zip(x) {
        for (k, b) in row.iter_mut().enumerate() {
            *b = Zp(bit(xe, k) as u8);
        }
    }
    Tensor::from_shape_vec(vec![x.len(), ELL], v).expect("n·ℓ elements")
}

/// A ring tensor as u64 values, for recording.
pub(crate) fn as_u64<R: Ring>(t: &Tensor<R>) -> Tensor<u64> {
    t.mapv(|v| v.to_u128() as u64)
}

/// Odd-ring tensor from Z_L values (reduced: L − 1 becomes 0).
pub(crate) fn to_odd(t: &Tensor<u64>) -> Tensor<OddRing> {
    t.mapv(OddRing::from_u64)
}

/// Sends a tensor.
pub(crate) fn send_t<R: Ring>(
    ctx: &mut dyn Context,
    to: PartyId,
    label: &str,
    traffic: Traffic,
    t: &Tensor<R>,
) -> Result<()> {
    ctx.send(to, label, traffic, Message::tensor(t))
}

/// Receives a tensor of a known shape.
pub(crate) fn recv_t<R: Ring>(
    ctx: &mut dyn Context,
    from: PartyId,
    shape: &[usize],
) -> Result<Tensor<R>> {
    tensor::decode(&ctx.recv(from)?, shape, from)
}

/// Splits a message into parts of the given byte lengths (checking the total), borrowed from
/// it (no copy of the parts).
pub(crate) fn split<'m>(msg: &'m [u8], lens: &[usize], from: PartyId) -> Result<Vec<&'m [u8]>> {
    let total: usize = lens.iter().sum();
    if msg.len() != total {
        return Err(ProtocolError::Malformed {
            from,
            expected: total,
            got: msg.len(),
        });
    }
    let mut off = 0;
    Ok(lens
        .iter()
        .map(|&l| {
            let part = &msg[off..off + l];
            off += l;
            part
        })
        .collect())
}

/// Checks that a server holds its share of an operand.
pub(crate) fn need<'a, T>(v: Option<&'a T>, what: &str) -> Result<&'a T> {
    v.ok_or_else(|| ProtocolError::Missing(format!("server holds no share of {what}")))
}

#[cfg(test)]
mod sampling_tests {
    use crate::ring::random_zp_vec;
    use rand::SeedableRng;

    #[test]
    fn zp_sampling_is_uniform_and_nonzero_when_asked() {
        let mut rng = crate::tensor::Prg::seed_from_u64(3);
        for nonzero in [false, true] {
            let v = random_zp_vec(67 * 3000, &mut rng, nonzero);
            assert_eq!(v.len(), 67 * 3000);
            let mut counts = [0usize; 67];
            for z in &v {
                counts[z.0 as usize] += 1;
            }
            let (lo, values) = if nonzero { (1, 66.0) } else { (0, 67.0) };
            assert_eq!(nonzero, counts[0] == 0, "zero drawn: {}", counts[0]);
            // Pearson's χ² with 65 or 66 degrees of freedom: mean ≈ 66, 99.9th percentile ≈ 110.
            let expect = v.len() as f64 / values;
            let chi2: f64 = counts[lo..]
                .iter()
                .map(|&c| (c as f64 - expect).powi(2) / expect)
                .sum();
            assert!(chi2 < 120.0, "χ² = {chi2} (nonzero = {nonzero})");
        }
    }

    #[test]
    fn zp_sampling_keeps_the_accepted_bytes_in_stream_order() {
        use rand::RngCore;
        // The reference: read 256-byte buffers, keep the accepted bytes in order.
        fn reference(n: usize, seed: u64, nonzero: bool) -> Vec<u8> {
            let mut rng = crate::tensor::Prg::seed_from_u64(seed);
            let mut out = Vec::new();
            while out.len() < n {
                let mut buf = [0u8; 256];
                rng.fill_bytes(&mut buf);
                for b in buf {
                    match (nonzero, b) {
                        (true, 0..=197) => out.push(b % 66 + 1),
                        (false, 0..=200) => out.push(b % 67),
                        _ => {}
                    }
                }
            }
            out.truncate(n);
            out
        }
        for n in [0, 1, 2, 197, 198, 255, 256, 257, 1000, 4099] {
            for nonzero in [false, true] {
                let mut rng = crate::tensor::Prg::seed_from_u64(n as u64);
                let got: Vec<u8> = random_zp_vec(n, &mut rng, nonzero)
                    .iter()
                    .map(|z| z.0)
                    .collect();
                assert_eq!(got, reference(n, n as u64, nonzero), "n = {n}");
            }
        }
    }
}
