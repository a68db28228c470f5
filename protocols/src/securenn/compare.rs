//! **PrivateCompare** (Alg. 3), **ShareConvert** (Alg. 4) and **ComputeMSB** (Alg. 5).

use super::shuffle::RowShuffle;
use super::zp_stream::ZpStream;
use super::{
    as_u64, bit, matmul, need, peer, recv_t, role, send_t, to_odd, wrap, Keys, Product, Role,
    Variant, ELL,
};
use crate::context::{within, Context, Message, PartyId, RingKind, Traffic, ValueClass};
use crate::error::{ProtocolError, Result};
use crate::pond::Placement;
use crate::ring::{skip_zp_vec, OddRing, Ring, Zp, SECURENN_P};
use crate::tensor::{self, Tensor};
use std::borrow::Cow;

/// A message to P1 holding its shares of the bits of `x`, ⟨x[i]⟩₁ = x[i] − ⟨x[i]⟩₀ over Z_p
/// ([n, ℓ], what `Message::tensor(&(bits_zp(x) − bits0))` holds), computed straight into the
/// payload, with room for `more` bytes after it. P0's shares ⟨x[i]⟩₀ are drawn from the P2–P0
/// stream `key0` a piece at a time, exactly as `key_share0(keys, &[n, ℓ])` draws them whole
/// (and `key0` is left where that leaves it): no tensor of the bits, of P0's shares or of the
/// difference is built.
fn bit_shares1(x: &[u64], key0: &mut crate::tensor::Prg, more: usize) -> Message {
    let n = x.len();
    let p = SECURENN_P;
    let mut b0 = ZpStream::new(&mut *key0, n * ELL, false);
    let mut buf = [0u8; tensor::PIECE];
    let msg =
        Message::with_capacity(n * ELL + more).and_computed::<Zp>(&[n, ELL], |start, piece| {
            let b0 = {
                let b = &mut buf[..piece.len()];
                b0.fill(b);
                b
            };
            for (i, (out, &s0)) in piece.iter_mut().zip(b0.iter()).enumerate() {
                let k = start + i;
                // x[i] − ⟨x[i]⟩₀ with x[i] ∈ {0, 1} and ⟨x[i]⟩₀ < p (drawn so): `Zp::sub`'s
                // value by one conditional subtraction.
                let v = bit(x[k / ELL], k % ELL) as u8 + (p - s0);
                *out = Zp(if v >= p { v - p } else { v });
            }
        });
    b0.finish();
    msg
}

/// Records P2's dealt bits of `x` ([n, ℓ] over Z_p, "bits of x") and P0's shares of them
/// (drawn from a copy of the P2–P0 stream `key0` where they start: `key0` itself is not moved),
/// each computed only as far as the record keeps it ([`Context::record_with`]).
fn record_dealt_bits(ctx: &mut dyn Context, x: &[u64], key0: &crate::tensor::Prg) {
    let shape = [x.len(), ELL];
    let mut at = 0;
    ctx.record_with(
        ValueClass::Dealt,
        "bits of x",
        RingKind::Zp,
        &shape,
        &mut |piece| {
            for (i, v) in piece.iter_mut().enumerate() {
                let k = at + i;
                *v = bit(x[k / ELL], k % ELL);
            }
            at += piece.len();
        },
    );
    let mut b0 = ZpStream::new(key0.clone(), x.len() * ELL, false);
    let mut buf = [0u8; tensor::PIECE];
    ctx.record_with(
        ValueClass::Dealt,
        "⟨x[i]⟩₀ (P0's share, from the P2–P0 key)",
        RingKind::Zp,
        &shape,
        &mut |piece| {
            let b = &mut buf[..piece.len()];
            b0.fill(b);
            piece
                .iter_mut()
                .zip(b.iter())
                .for_each(|(v, &z)| *v = z as u64);
        },
    );
}

/// P1's side of [`bit_shares1`]: its bit shares ([n, ℓ] row-major, decoded in place in the
/// message's own buffer, no copy) and the n elements of ring R after them, from `from`'s
/// message `msg`.
fn bit_shares_and<R: Ring>(
    mut msg: Vec<u8>,
    n: usize,
    from: PartyId,
) -> Result<(Vec<Zp>, Tensor<R>)> {
    let bits = n * ELL;
    if msg.len() != bits + n * R::BYTES {
        return Err(ProtocolError::Malformed {
            from,
            expected: bits + n * R::BYTES,
            got: msg.len(),
        });
    }
    let rest = tensor::decode(&msg[bits..], &[n], from)?;
    msg.truncate(bits);
    // Read as `Zp::decode` reads a byte; collected in place (same size and alignment).
    let b: Vec<Zp> = msg.into_iter().map(|x| Zp(x % SECURENN_P)).collect();
    Ok((b, rest))
}

/// The next message from `from`, which must be `bytes` long.
fn recv_sized(ctx: &mut dyn Context, from: PartyId, bytes: usize) -> Result<Vec<u8>> {
    let msg = ctx.recv(from)?;
    if msg.len() != bytes {
        return Err(ProtocolError::Malformed {
            from,
            expected: bytes,
            got: msg.len(),
        });
    }
    Ok(msg)
}

/// P0's share of a value the helper deals: drawn from the P2–P0 key, identically at P2 and at P0,
/// so it costs no bytes; only P1's difference share `v − ⟨v⟩₀` is sent.
fn key_share0<R: Ring>(keys: &mut Keys, shape: &[usize]) -> Result<Tensor<R>> {
    Ok(tensor::random(shape, keys.helper(0)?))
}

/// **PrivateCompare** (Alg. 3). P0 and P1 hold shares over Z_p of the bits of x (`x_bits`, shape
/// [n, ℓ], column k = bit k), a common public r and a common random bit β (both [n]). P2 learns
/// β′ = β ⊕ (x > r) (returned at P2 as 0/1, shape [n]); nothing else is returned.
///
/// Every c_i is masked by a common random s_i ∈ Z_p* and (in [`Variant::Secure`] and
/// [`Variant::AsPublished`]) the ℓ values of each element are shuffled by a common random
/// permutation π, so the opened d = π(s·c) has one zero (if x > r) among uniformly random
/// non-zeros.
///
/// **Deviation from the paper (the default, [`Variant::Secure`])**: P0 and P1 also add a common
/// zero-sharing v ∈ Z_p^ℓ to what they send (⟨d⟩₀ + v, ⟨d⟩₁ − v). As published, P2 receives
/// (s·⟨c⟩₀, s·⟨c⟩₁) — and since P2 dealt both shares of the bits of x, the ratio ⟨c⟩₀ : ⟨c⟩₁
/// gives x away ([`super::attack`]). With v, P2's pair is (uniform, d − uniform): simulatable
/// from d alone. Same bytes, messages and rounds. The case β = 1, r = 2^ℓ − 1 (where r + 1 wraps) uses the
/// paper's steps 9–10: exactly one zero. p = 67 > ℓ + 2 keeps every non-zero c_i non-zero.
///
/// Cost: online 2 messages (P0→P2, P1→P2), 2ℓn = 128n bytes, 1 round. Steps: 2.
#[allow(clippy::too_many_arguments)]
pub fn private_compare(
    ctx: &mut dyn Context,
    place: &Placement,
    keys: &mut Keys,
    variant: Variant,
    x_bits: Option<&Tensor<Zp>>,
    r: Option<&Tensor<u64>>,
    beta: Option<&Tensor<u64>>,
    n: usize,
) -> Result<Option<Tensor<u64>>> {
    let xbv = x_bits.map(|t| t.as_standard_layout());
    let bits = xbv
        .as_ref()
        .map(|v| BitShares::Borrowed(v.as_slice().expect("standard layout")));
    within(ctx, "PrivateCompare", |ctx| {
        private_compare_steps(ctx, place, keys, variant, bits, r, beta, n)
    })
}

/// A server's shares over Z_p of the bits of x, as PrivateCompare reads them ([n, ℓ]
/// row-major, column k = bit k).
pub(crate) enum BitShares<'a> {
    /// Held whole and borrowed: ⟨d⟩ⱼ is computed in a buffer of its own.
    Borrowed(&'a [Zp]),
    /// Held whole and not needed after PrivateCompare: ⟨d⟩ⱼ is computed in their buffer.
    Owned(Vec<Zp>),
    /// P0's shares as the helper dealt them, not held: drawn from the P2–P0 stream (which the
    /// dealing left at their start) as PrivateCompare reads them, exactly as
    /// `key_share0(keys, &[n, ℓ])` draws them whole, and the stream left where that leaves it.
    Drawn,
}

/// [`private_compare`] with the servers' bit shares as [`BitShares`] (the comparisons inside
/// ShareConvert and ComputeMSB: P1's are dropped into ⟨d⟩₁, P0's drawn as they are read).
#[allow(clippy::too_many_arguments)]
pub(crate) fn private_compare_of(
    ctx: &mut dyn Context,
    place: &Placement,
    keys: &mut Keys,
    variant: Variant,
    x_bits: Option<BitShares<'_>>,
    r: Option<&Tensor<u64>>,
    beta: Option<&Tensor<u64>>,
    n: usize,
) -> Result<Option<Tensor<u64>>> {
    within(ctx, "PrivateCompare", |ctx| {
        private_compare_steps(ctx, place, keys, variant, x_bits, r, beta, n)
    })
}

/// The steps of [`private_compare`], inside its sub-protocol (the call path the trace records).
#[allow(clippy::too_many_arguments)]
fn private_compare_steps(
    ctx: &mut dyn Context,
    place: &Placement,
    keys: &mut Keys,
    variant: Variant,
    x_bits: Option<BitShares<'_>>,
    r: Option<&Tensor<u64>>,
    beta: Option<&Tensor<u64>>,
    n: usize,
) -> Result<Option<Tensor<u64>>> {
    let me = role(ctx, place);
    ctx.step(match variant {
        Variant::Secure => "PrivateCompare 1–13: Pⱼ sends π(s·⟨c⟩ⱼ) ± v to P2",
        Variant::AsPublished => {
            "PrivateCompare 1–13 (as published, insecure: no v!): Pⱼ sends π(s·⟨c⟩ⱼ) to P2"
        }
        Variant::Shortcut => "PrivateCompare 1–13 (shortcut, no π, no v!): Pⱼ sends s·⟨c⟩ⱼ to P2",
    })?;
    let mut received = None;
    match me {
        Role::Server(j) => {
            let xb = x_bits
                .ok_or_else(|| ProtocolError::Missing("server holds no share of x bits".into()))?;
            let (r, beta) = (need(r, "r")?, need(beta, "β")?);
            let (rv, bv) = (r.as_standard_layout(), beta.as_standard_layout());
            let (rs, bs) = (
                rv.as_slice().expect("standard layout"),
                bv.as_slice().expect("standard layout"),
            );
            let bits = match &xb {
                BitShares::Borrowed(x) => x.len(),
                BitShares::Owned(x) => x.len(),
                BitShares::Drawn => n * ELL,
            };
            if bits != n * ELL || rs.len() != n || bs.len() != n {
                return Err(ProtocolError::Shape {
                    op: "PrivateCompare".into(),
                    detail: format!(
                        "{n} elements, but {bits} bits, {} r and {} β",
                        rs.len(),
                        bs.len()
                    ),
                });
            }
            let total = n * ELL;
            let d = match xb {
                BitShares::Borrowed(x) => {
                    server_d(j, variant, Bits::Slice(x), rs, bs, keys.common()?)
                }
                BitShares::Owned(x) => {
                    server_d(j, variant, Bits::InPlace(x), rs, bs, keys.common()?)
                }
                BitShares::Drawn => {
                    let (common, key0) = keys.common_and_helper0()?;
                    server_d(j, variant, Bits::Drawn(key0), rs, bs, common)
                }
            };
            let with_v = variant == Variant::Secure && total > 0;
            ctx.charge((6 + with_v as usize) as u64 * total as u64);
            // The wire encoding of a Z_p tensor is its bytes: d becomes the payload in place.
            let payload: Vec<u8> = d.into_iter().map(|z| z.0).collect();
            let msg = Message::from_payload::<Zp>(&[n, ELL], payload).ok_or_else(|| {
                ProtocolError::Missing("PrivateCompare: d is not n·ℓ elements".into())
            })?;
            ctx.send(
                place.producer,
                &format!("⟨d⟩{j} = π(s·⟨c⟩{j})"),
                Traffic::Online,
                msg,
            )?;
        }
        Role::Helper => {
            // Checked on arrival, added (in place, into the first) once both are here.
            let d0 = recv_sized(ctx, place.server0, n * ELL)?;
            let d1 = recv_sized(ctx, place.server1, n * ELL)?;
            received = Some((d0, d1));
        }
        Role::Bystander => {}
    }

    // Steps 14–15: P2 reconstructs every d_i and outputs β′ = 1 iff some d_i = 0.
    ctx.step("PrivateCompare 14–15: P2 opens d, β′ = [∃i: d_i = 0]")?;
    if let Some((mut d, d1)) = received {
        // d = ⟨d⟩₀ + ⟨d⟩₁ over Z_p, each byte read as `Zp::decode` reads it (mod p).
        let p = SECURENN_P;
        for (a, &b) in d.iter_mut().zip(&d1) {
            *a = (*a % p + b % p) % p;
        }
        drop(d1);
        let d: Vec<Zp> = d.into_iter().map(Zp).collect();
        let d = Tensor::from_shape_vec(vec![n, ELL], d).expect("n·ℓ elements");
        ctx.record_zp(ValueClass::Opened, "d = π(s·c) (helper's view)", &d);
        let out: Vec<u64> = d
            .rows()
            .into_iter()
            .map(|row| row.iter().any(|&v| v == Zp(0)) as u64)
            .collect();
        let out = Tensor::from_shape_vec(vec![n], out).expect("n elements");
        ctx.charge((n * ELL) as u64);
        ctx.record(ValueClass::Opened, "β′ = β ⊕ (x > r)", RingKind::Bit, &out);
        return Ok(Some(out));
    }
    Ok(None)
}

/// Where [`server_d`] reads a server's bit shares of x ([n, ℓ] row-major).
enum Bits<'a> {
    /// A slice of n·ℓ shares; d is a buffer of its own.
    Slice(&'a [Zp]),
    /// n·ℓ shares that d overwrites, row by row (each row read before it is written).
    InPlace(Vec<Zp>),
    /// Drawn from this stream as `random_zp_vec(n·ℓ, …, false)` draws them (P0's shares from
    /// the P2–P0 key), which is left where that leaves it.
    Drawn(&'a mut crate::tensor::Prg),
}

/// Server j's ⟨d⟩ⱼ of PrivateCompare steps 1–13 (before it is sent): π(s·⟨c⟩ⱼ) ± v for the n
/// elements of bit shares `x` ([n, ℓ]), public `rs` and bits `bs`, reading s, u, v and π from
/// the common stream exactly as drawing each whole would (`random_zp_vec`, `skip_zp_vec`,
/// row-by-row `SliceRandom::shuffle`). `x` holds n·ℓ shares, `rs` and `bs` n.
fn server_d(
    j: usize,
    variant: Variant,
    x: Bits<'_>,
    rs: &[u64],
    bs: &[u64],
    common: &mut crate::tensor::Prg,
) -> Vec<Zp> {
    let n = rs.len();
    let total = n * ELL;
    // u serves only the case r = 2^ℓ − 1, β = 1 (probability 2^−65 per element).
    let special_at = |e: usize| bs[e] == 1 && rs[e] == u64::MAX;
    let special = (0..n).any(special_at);
    // The common stream holds s (n·ℓ elements of Z_p*), u and v (n·ℓ of Z_p each, as
    // `random_zp_vec` draws them), then π's words. None of them is built whole: the one
    // n·ℓ buffer is d, computed in place (in the bit shares' own buffer when they die here,
    // issue 11: C's peak memory) and sent as it is.
    //
    // Steps 1–13 before π, row by row with s streamed: d = s·c (for a special element,
    // s itself until u is read, its bits kept aside for then).
    let (mut d, slice, mut drawn) = match x {
        Bits::Slice(x) => (vec![Zp(0); total], Some(x), None),
        Bits::InPlace(x) => (x, None, None),
        Bits::Drawn(key0) => (
            vec![Zp(0); total],
            None,
            Some(ZpStream::new(key0, total, false)),
        ),
    };
    let mut kept: Vec<[Zp; ELL]> = Vec::new();
    let mut s = ZpStream::new(&mut *common, total, true);
    let mut row = [0u8; ELL];
    for (e, de) in d.chunks_exact_mut(ELL).enumerate() {
        let mut xe = [Zp(0); ELL];
        if let Some(x) = slice {
            xe.copy_from_slice(&x[e * ELL..(e + 1) * ELL]);
        } else if let Some(b0) = &mut drawn {
            let mut b = [0u8; ELL];
            b0.fill(&mut b);
            xe.iter_mut().zip(&b).for_each(|(xk, &bk)| *xk = Zp(bk));
        } else {
            xe.copy_from_slice(de);
        }
        s.fill(&mut row);
        if special_at(e) {
            kept.push(xe);
            de.iter_mut().zip(&row).for_each(|(dk, &sk)| *dk = Zp(sk));
        } else {
            masked_c(j, rs[e], bs[e], &xe, &row, &[], de);
        }
    }
    s.finish();
    if let Some(b0) = drawn.take() {
        b0.finish();
    }
    // u: read for the special elements only; otherwise the stream is advanced past it
    // as if it had been drawn.
    if special {
        let mut u = ZpStream::new(&mut *common, total, false);
        let mut kept = kept.iter();
        for (e, de) in d.chunks_exact_mut(ELL).enumerate() {
            u.fill(&mut row);
            if special_at(e) {
                let mut se = [0u8; ELL];
                se.iter_mut().zip(&*de).for_each(|(sk, dk)| *sk = dk.0);
                let xe = kept.next().expect("a special element's bits were kept");
                masked_c(j, rs[e], bs[e], xe, &se, &row, de);
            }
        }
        u.finish();
    } else {
        skip_zp_vec(total, common, false);
    }
    // Not in the paper: the common zero-sharing v that re-randomises the pair P2 gets.
    // It is added after π, whose words follow it in the stream: v is read from a copy
    // of the stream at its start, and the stream itself skips it.
    let mut v = match variant {
        Variant::Secure => {
            let at_v = common.clone();
            skip_zp_vec(total, common, false);
            Some(ZpStream::new(at_v, total, false))
        }
        _ => None,
    };
    let mut pi = (variant != Variant::Shortcut).then(|| RowShuffle::<ELL, _>::new(common, n));
    if pi.is_some() || v.is_some() {
        let p = SECURENN_P;
        for de in d.chunks_exact_mut(ELL) {
            let de: &mut [Zp; ELL] = de.try_into().expect("rows of ℓ");
            if let Some(pi) = &mut pi {
                pi.shuffle(de);
            }
            if let Some(v) = &mut v {
                // ⟨d⟩₀ + v, ⟨d⟩₁ − v: the sum is unchanged, each half is now uniform.
                v.fill(&mut row);
                for (dk, &vk) in de.iter_mut().zip(&row) {
                    let x = if j == 0 { dk.0 + vk } else { dk.0 + (p - vk) };
                    *dk = Zp(if x >= p { x - p } else { x });
                }
            }
        }
    }
    d
}

/// ⟨d_k⟩ⱼ = s_k·⟨c_k⟩ⱼ for the ℓ bits of one element (PrivateCompare steps 1–13 before π), at
/// server j with public r, bit β, the element's bit shares `x`, masks `s` and (for the case
/// r = 2^ℓ − 1, β = 1) `u`. Byte arithmetic with one reduction per value; the same values as the
/// step-by-step Z_p formulas in the comments.
#[inline]
fn masked_c(j: usize, r: u64, beta: u64, x: &[Zp], s: &[u8], u: &[u8], d: &mut [Zp]) {
    let p = SECURENN_P;
    let (x, s, d) = (&x[..ELL], &s[..ELL], &mut d[..ELL]);
    let mut c = [0u16; ELL];
    if beta == 1 && r == u64::MAX {
        // Steps 9–10: r = 2^ℓ − 1 and β = 1: c_i reconstructs to 1 except at the lowest bit
        // (i = 1 in the paper, k = 0 here), where it reconstructs to 0.
        let jz = Zp(j as u8);
        for (k, ck) in c.iter_mut().enumerate() {
            let uk = Zp(u[k]);
            *ck = if k != 0 {
                Zp((1 - j) as u8).mul(uk.add(Zp(1))).sub(jz.mul(uk))
            } else if j == 0 {
                uk
            } else {
                uk.neg()
            }
            .0 as u16;
        }
    } else {
        // Steps 2–8, bits from the most significant (i = ℓ) down. With q = r (β = 0) or
        // t = r + 1 (β = 1, step 1) and w_i = x_i ⊕ q_i:
        //   steps 4 and 7: ⟨w_i⟩ⱼ = ⟨x[i]⟩ⱼ + j·q[i] − 2q[i]⟨x[i]⟩ⱼ, i.e. ⟨x[i]⟩ⱼ if q[i] = 0
        //                  and j − ⟨x[i]⟩ⱼ if q[i] = 1;
        //   step 5 (β = 0): ⟨c_i⟩ⱼ = j·r[i] − ⟨x[i]⟩ⱼ + j + Σ_{k>i} ⟨w_k⟩ⱼ;
        //   step 8 (β = 1): ⟨c_i⟩ⱼ = −j·t[i] + ⟨x[i]⟩ⱼ + j + Σ_{k>i} ⟨w_k⟩ⱼ.
        // Every term is kept non-negative (a negation as p − ·, shares are in [0, p)) and the
        // sum of the w's is left unreduced (at most ℓ·(p + 1) < 2^16), so each c_i is reduced
        // once, below.
        let q = if beta == 0 { r } else { r.wrapping_add(1) };
        let (jj, pp) = (j as u16, p as u16);
        let mut sum_w: u16 = 0;
        for k in (0..ELL).rev() {
            let xk = x[k].0 as u16;
            let qk = bit(q, k) as u16;
            c[k] = if beta == 0 {
                jj * qk + (pp - xk) + jj + sum_w
            } else {
                jj * (1 - qk) + xk + sum_w
            };
            sum_w += if qk == 1 { jj + (pp - xk) } else { xk };
        }
    }
    // Step 13 (before π): ⟨d_i⟩ⱼ = s_i·⟨c_i⟩ⱼ.
    for ((dk, &ck), &sk) in d.iter_mut().zip(&c).zip(s) {
        *dk = Zp((ck % p as u16 * sk as u16 % p as u16) as u8);
    }
}

/// **ShareConvert** (Alg. 4): shares of a over Z_L (a ≠ L − 1) to shares of the same a over the
/// odd ring Z_{L−1}. With a = ⟨a⟩₀ + ⟨a⟩₁ − θ·L (θ the wrap bit of the shares) and L ≡ 1 mod L − 1,
/// ⟨a⟩₀ + ⟨a⟩₁ − θ ≡ a; θ is computed from the wrap bits of a masked copy ã = a + r that P2 sees.
///
/// PrivateCompare runs in `variant` (the as-published one leaks x, and so a, to P2).
///
/// The case r = 0 (probability 2^−64): step 5 compares x > r − 1, which wraps; there x ≥ r holds
/// always, so the servers flip η locally — the paper's footnote 4 (its proof's reading; the
/// algorithm box differs, see docs/securenn.md).
///
/// Cost: online 6 messages, 224n bytes (ã: 16n, bits of x and δ to P1: 72n, PrivateCompare:
/// 128n, η′ to P1: 8n), 4 rounds; offline none. Steps: 6.
pub fn share_convert(
    ctx: &mut dyn Context,
    place: &Placement,
    keys: &mut Keys,
    variant: Variant,
    a: Option<&Tensor<u64>>,
    shape: &[usize],
) -> Result<Option<Tensor<OddRing>>> {
    share_convert_of(ctx, place, keys, variant, a.map(Cow::Borrowed), shape)
}

/// [`share_convert`] of a borrowed or owned share `a`: an owned one (nothing reads it
/// afterwards) is dropped once masked (step 2), so it is not held across PrivateCompare (issue
/// 11: C's peak memory).
pub(crate) fn share_convert_of(
    ctx: &mut dyn Context,
    place: &Placement,
    keys: &mut Keys,
    variant: Variant,
    a: Option<Cow<'_, Tensor<u64>>>,
    shape: &[usize],
) -> Result<Option<Tensor<OddRing>>> {
    within(ctx, "ShareConvert", |ctx| {
        share_convert_steps(ctx, place, keys, variant, a, shape)
    })
}

/// The steps of [`share_convert`], inside its sub-protocol (the call path the trace records).
fn share_convert_steps(
    ctx: &mut dyn Context,
    place: &Placement,
    keys: &mut Keys,
    variant: Variant,
    a: Option<Cow<'_, Tensor<u64>>>,
    shape: &[usize],
) -> Result<Option<Tensor<OddRing>>> {
    let n = tensor::numel(shape);
    let me = role(ctx, place);
    let flat = [n];

    // Steps 1–2: Pⱼ computes ⟨ã⟩ⱼ = ⟨a⟩ⱼ + ⟨r⟩ⱼ and βⱼ = wrap(⟨a⟩ⱼ, ⟨r⟩ⱼ, L); sends ⟨ã⟩ⱼ to P2.
    // Common randomness: η″ (bit), r with shares ⟨r⟩₀, ⟨r⟩₁ and α = wrap(⟨r⟩₀, ⟨r⟩₁, L).
    ctx.step("ShareConvert 1–2: ⟨ã⟩ⱼ = ⟨a⟩ⱼ + ⟨r⟩ⱼ to P2")?;
    let mut mine = None;
    let mut masked = None;
    match me {
        Role::Server(j) => {
            let a = need(a.as_deref(), "a")?;
            if a.len() != n {
                return Err(ProtocolError::Shape {
                    op: "reshape".into(),
                    detail: format!(
                        "{:?} has {} elements, {:?} needs {n}",
                        a.shape(),
                        a.len(),
                        flat
                    ),
                });
            }
            let av = a.as_standard_layout();
            let aj = av.as_slice().expect("standard layout");
            let eta2 = keys.common_bits(&flat)?;
            let r0: Tensor<u64> = tensor::random(&flat, keys.common()?);
            let r1: Tensor<u64> = tensor::random(&flat, keys.common()?);
            let (r0s, r1s) = (
                r0.as_slice().expect("standard layout"),
                r1.as_slice().expect("standard layout"),
            );
            // Kept for steps 5–9 (three n-element vectors, issue 11: C's peak memory):
            // r − 1 (PrivateCompare's public input; r = 0 is r − 1 = L − 1), η″, and the part
            // of ⟨y⟩ⱼ known now, ⟨a⟩ⱼ − βⱼ − (1 − j)(−α − 1) over Z_{L−1} (steps 8–9 subtract
            // ⟨δ⟩ⱼ + ⟨η⟩ⱼ and add uⱼ: the same sum).
            let not_j = OddRing(1 - j as u64);
            let mut at = Vec::with_capacity(n);
            let mut pre = Vec::with_capacity(n);
            let mut r_minus_1 = Vec::with_capacity(n);
            for ((&x, &p), &q) in aj.iter().zip(r0s).zip(r1s) {
                let y = if j == 0 { p } else { q };
                at.push(x.wrapping_add(y));
                let betaj = wrap(x, y);
                let alpha = wrap(p, q);
                r_minus_1.push(p.wrapping_add(q).wrapping_sub(1));
                let part =
                    OddRing(betaj).add(not_j.mul(OddRing::from_u64(alpha).add(OddRing(1)).neg()));
                pre.push(OddRing::from_u64(x).sub(part));
            }
            drop((r0, r1, av));
            let at = Tensor::from_shape_vec(vec![n], at).expect("n elements");
            send_t(
                ctx,
                place.producer,
                &format!("⟨ã⟩{j} = ⟨a⟩{j} + ⟨r⟩{j}"),
                Traffic::Online,
                &at,
            )?;
            ctx.charge(4 * n as u64);
            let r_minus_1 = Tensor::from_shape_vec(vec![n], r_minus_1).expect("n elements");
            mine = Some((j, pre, eta2, r_minus_1));
        }
        Role::Helper => {
            let a0: Tensor<u64> = recv_t(ctx, place.server0, &flat)?;
            let a1: Tensor<u64> = recv_t(ctx, place.server1, &flat)?;
            masked = Some((a0, a1));
        }
        Role::Bystander => {}
    }
    // ⟨a⟩ⱼ is in ⟨y⟩ⱼ's part now: an owned share is freed here.
    drop(a);

    // Steps 3–4: P2 computes x = ã, δ = wrap(⟨ã⟩₀, ⟨ã⟩₁, L) and deals the bits of x over Z_p and
    // δ over Z_{L−1}.
    ctx.step("ShareConvert 3–4: P2 opens x = ã, deals bits of x (Z_p) and δ = wrap (Z_{L−1})")?;
    // The servers' bit shares (P0's drawn later, in PrivateCompare) and ⟨δ⟩ⱼ (P0's drawn after
    // PrivateCompare, where its stream then stands).
    let mut bits = None;
    let mut delta_share = None;
    match me {
        Role::Helper => {
            let (a0, a1) = masked.take().expect("received ã");
            let x = tensor::add(&a0, &a1)?;
            let delta = ndarray::Zip::from(&a0)
                .and(&a1)
                .map_collect(|&p, &q| wrap(p, q));
            drop((a0, a1));
            ctx.record_opened("x = a + r (helper's view)", &x);
            let xs = x.as_slice().expect("standard layout");
            // The bits and P0's shares are recorded as far as the record keeps them, and P1's
            // shares computed straight into the message as P0's are drawn.
            record_dealt_bits(ctx, xs, keys.helper(0)?);
            let msg = bit_shares1(xs, keys.helper(0)?, 8 * n);
            let delta0: Tensor<OddRing> = key_share0(keys, &flat)?;
            ctx.record_dealt("δ = wrap(⟨ã⟩₀, ⟨ã⟩₁)", RingKind::Bit, &delta);
            let msg = msg.and(&tensor::sub(&to_odd(&delta), &delta0)?);
            ctx.send(
                place.server1,
                "⟨x[i]⟩₁ (Z_p), ⟨δ⟩₁ (Z_{L−1})",
                Traffic::Online,
                msg,
            )?;
            ctx.charge((2 * n * ELL) as u64);
        }
        Role::Server(0) => bits = Some(BitShares::Drawn),
        Role::Server(_) => {
            let msg = ctx.recv(place.producer)?;
            let (bits1, delta1) = bit_shares_and::<OddRing>(msg, n, place.producer)?;
            bits = Some(BitShares::Owned(bits1));
            delta_share = Some(delta1);
        }
        Role::Bystander => {}
    }

    // Step 5: PrivateCompare with ({⟨x[i]⟩ⱼ}, r − 1, η″); P2 learns η′ = η″ ⊕ (x > r − 1).
    let eta1 = private_compare_of(
        ctx,
        place,
        keys,
        variant,
        mine.as_ref().and(bits),
        mine.as_ref().map(|m| &m.3),
        mine.as_ref().map(|m| &m.2),
        n,
    )?;
    if me == Role::Server(0) {
        delta_share = Some(key_share0::<OddRing>(keys, &flat)?);
    }

    // Step 6: P2 deals η′ over Z_{L−1}.
    ctx.step("ShareConvert 6: P2 deals η′ (Z_{L−1})")?;
    let mut eta1_share = None;
    match me {
        Role::Helper => {
            let eta1 = eta1.expect("P2 learns η′");
            ctx.record_dealt("η′", RingKind::Bit, &eta1);
            let eta1 = to_odd(&eta1);
            let e0: Tensor<OddRing> = key_share0(keys, &flat)?;
            send_t(
                ctx,
                place.server1,
                "⟨η′⟩₁ (Z_{L−1})",
                Traffic::Online,
                &tensor::sub(&eta1, &e0)?,
            )?;
        }
        Role::Server(0) => eta1_share = Some(key_share0::<OddRing>(keys, &flat)?),
        Role::Server(_) => eta1_share = Some(recv_t::<OddRing>(ctx, place.producer, &flat)?),
        Role::Bystander => {}
    }

    // Steps 7–9: η = η′ ⊕ η″, θ = β₀ + β₁ − α − 1 + δ + η, ⟨y⟩ⱼ = ⟨a⟩ⱼ − ⟨θ⟩ⱼ + uⱼ over Z_{L−1}.
    ctx.step("ShareConvert 7–9: ⟨y⟩ⱼ = ⟨a⟩ⱼ − ⟨θ⟩ⱼ + uⱼ over Z_{L−1}")?;
    if let (Some((j, pre, eta2, r_minus_1)), Some(delta), Some(e1)) =
        (mine, delta_share, eta1_share)
    {
        let u: Tensor<OddRing> = keys.zero_share(j, &flat)?;
        let not_j = OddRing(1 - j as u64);
        let mut y = pre;
        for (e, ye) in y.iter_mut().enumerate() {
            let h2 = OddRing(eta2[e]);
            // Step 7: ⟨η⟩ⱼ = ⟨η′⟩ⱼ + (1 − j)η″ − 2η″⟨η′⟩ⱼ.
            let mut eta = e1[e].add(not_j.mul(h2)).sub(OddRing(2).mul(h2).mul(e1[e]));
            if r_minus_1[e] == u64::MAX {
                // Footnote 4 (r = 0): r − 1 wrapped, so PrivateCompare answered x > L − 1
                // (false) where x ≥ 0 (true) was meant; flip the shared bit.
                eta = not_j.sub(eta);
            }
            // Step 8: ⟨θ⟩ⱼ = βⱼ + (1 − j)(−α − 1) + ⟨δ⟩ⱼ + ⟨η⟩ⱼ, the first two already in
            // ⟨y⟩ⱼ's part; step 9: ⟨y⟩ⱼ = ⟨a⟩ⱼ − ⟨θ⟩ⱼ + uⱼ.
            *ye = ye.sub(delta[e].add(eta)).add(u[e]);
        }
        ctx.charge(10 * n as u64);
        // Not recorded: the trace reconstructs recorded shares in Z_L, and these are Z_{L−1}.
        return Ok(Some(
            Tensor::from_shape_vec(shape.to_vec(), y).expect("n elements"),
        ));
    }
    Ok(None)
}

/// **ComputeMSB** (Alg. 5): shares of a over Z_{L−1} to shares of MSB(a) (bit ℓ−1 of a ∈ [0, L−1))
/// over Z_L. Over the odd ring MSB(a) = LSB(2a); with r = 2a + x opened for a random x from P2,
/// LSB(2a) = r[0] ⊕ x[0] ⊕ (x > r), and x > r comes from PrivateCompare.
///
/// Cost: online 7 messages, 184n bytes (r: 16n, PrivateCompare: 128n, β′ to P1: 8n, MatMul: 32n),
/// 4 rounds; offline 2 messages, 80n bytes (bits of x and x[0] to P1: 72n, ⟨C⟩₁: 8n). Steps: 10.
pub fn compute_msb(
    ctx: &mut dyn Context,
    place: &Placement,
    keys: &mut Keys,
    variant: Variant,
    a: Option<&Tensor<OddRing>>,
    shape: &[usize],
) -> Result<Option<Tensor<u64>>> {
    within(ctx, "ComputeMSB", |ctx| {
        compute_msb_steps(ctx, place, keys, variant, a, shape)
    })
}

/// The steps of [`compute_msb`], inside its sub-protocol (the call path the trace records).
fn compute_msb_steps(
    ctx: &mut dyn Context,
    place: &Placement,
    keys: &mut Keys,
    variant: Variant,
    a: Option<&Tensor<OddRing>>,
    shape: &[usize],
) -> Result<Option<Tensor<u64>>> {
    let n = tensor::numel(shape);
    let me = role(ctx, place);
    let flat = [n];

    // Step 1 (offline): P2 picks x ∈ Z_{L−1} (⟨x⟩ⱼ from the P2–Pⱼ keys) and deals the bits of x
    // over Z_p and x[0] over Z_L.
    ctx.step("ComputeMSB 1: P2 deals x (Z_{L−1}), its bits (Z_p) and x[0] (Z_L)")?;
    // A server's ⟨x⟩ⱼ, its bit shares (P0's drawn later, in PrivateCompare) and ⟨x[0]⟩ⱼ (P0's
    // drawn after PrivateCompare, where its stream then stands).
    let mut dealt = None;
    let mut bits = None;
    let mut lsb_share = None;
    match me {
        Role::Helper => {
            let x0: Tensor<OddRing> = tensor::random(&flat, keys.helper(0)?);
            let x1: Tensor<OddRing> = tensor::random(&flat, keys.helper(1)?);
            let x = as_u64(&tensor::add(&x0, &x1)?);
            drop((x0, x1));
            let xs = x.as_slice().expect("standard layout");
            let lsb = x.mapv(|v| v & 1);
            ctx.record_dealt("x", RingKind::Odd, &x);
            // As in ShareConvert: the bits and P0's shares recorded as far as the record keeps
            // them, P1's shares computed straight into the message as P0's are drawn.
            record_dealt_bits(ctx, xs, keys.helper(0)?);
            let msg = bit_shares1(xs, keys.helper(0)?, 8 * n);
            let lsb0: Tensor<u64> = key_share0(keys, &flat)?;
            let msg = msg.and(&tensor::sub(&lsb, &lsb0)?);
            ctx.send(
                place.server1,
                "⟨x[i]⟩₁ (Z_p), ⟨x[0]⟩₁ (Z_L)",
                Traffic::Offline,
                msg,
            )?;
            ctx.charge((2 * n * ELL) as u64);
        }
        Role::Server(j) => {
            let xj: Tensor<OddRing> = tensor::random(&flat, keys.helper(j)?);
            if j == 0 {
                bits = Some(BitShares::Drawn);
            } else {
                let msg = ctx.recv(place.producer)?;
                let (bits1, lsb1) = bit_shares_and::<u64>(msg, n, place.producer)?;
                bits = Some(BitShares::Owned(bits1));
                lsb_share = Some(lsb1);
            }
            dealt = Some(xj);
        }
        Role::Bystander => {}
    }

    // Steps 2–3: ⟨y⟩ⱼ = 2⟨a⟩ⱼ, ⟨r⟩ⱼ = ⟨y⟩ⱼ + ⟨x⟩ⱼ; P0 and P1 open r.
    ctx.step("ComputeMSB 2–3: open r = 2a + x (Z_{L−1})")?;
    let mut opened = None;
    if let (Role::Server(j), Some(xj)) = (me, dealt.take()) {
        let aj = tensor::reshape(need(a, "a")?, &flat)?;
        let rj = tensor::add(&tensor::scale(&aj, OddRing(2)), &xj)?;
        drop((aj, xj));
        let other = peer(place, j);
        send_t(ctx, other, &format!("⟨r⟩{j}"), Traffic::Online, &rj)?;
        let r = tensor::add(&rj, &recv_t(ctx, other, &flat)?)?;
        drop(rj);
        let r = as_u64(&r);
        ctx.record(ValueClass::Opened, "r = 2a + x", RingKind::Odd, &r);
        // Common randomness: the bit β of step 4.
        let beta = keys.common_bits(&flat)?;
        opened = Some((r, beta));
    }

    // Step 4: PrivateCompare with ({⟨x[i]⟩ⱼ}, r, β); P2 learns β′ = β ⊕ (x > r).
    let beta1 = private_compare_of(
        ctx,
        place,
        keys,
        variant,
        opened.as_ref().and(bits),
        opened.as_ref().map(|o| &o.0),
        opened.as_ref().map(|o| &o.1),
        n,
    )?;
    if me == Role::Server(0) {
        lsb_share = Some(key_share0::<u64>(keys, &flat)?);
    }

    // Step 5: P2 deals β′ over Z_L.
    ctx.step("ComputeMSB 5: P2 deals β′ (Z_L)")?;
    let mut b1_share = None;
    match me {
        Role::Helper => {
            let b1 = beta1.expect("P2 learns β′");
            ctx.record_dealt("β′", RingKind::Bit, &b1);
            let s0: Tensor<u64> = key_share0(keys, &flat)?;
            send_t(
                ctx,
                place.server1,
                "⟨β′⟩₁ (Z_L)",
                Traffic::Online,
                &tensor::sub(&b1, &s0)?,
            )?;
        }
        Role::Server(0) => b1_share = Some(key_share0::<u64>(keys, &flat)?),
        Role::Server(_) => b1_share = Some(recv_t::<u64>(ctx, place.producer, &flat)?),
        Role::Bystander => {}
    }

    // Steps 6–7: γ = β′ ⊕ β = (x > r) and δ = x[0] ⊕ r[0], as shares over Z_L.
    ctx.step("ComputeMSB 6–7: γ = β′ ⊕ β, δ = x[0] ⊕ r[0]")?;
    let mut gd = None;
    if let (Role::Server(j), Some((r, beta)), Some(b1), Some(lsb)) =
        (me, &opened, &b1_share, &lsb_share)
    {
        let jj = j as u64;
        let gamma = ndarray::Zip::from(b1)
            .and(beta)
            .map_collect(|&s, &b| s.add(jj.mul(b)).sub(2u64.mul(b).mul(s)));
        let delta = ndarray::Zip::from(lsb)
            .and(r)
            .map_collect(|&s, &rv| s.add(jj.mul(rv & 1)).sub((2 * (rv & 1)).mul(s)));
        ctx.charge(6 * n as u64);
        gd = Some((gamma, delta));
    }

    // Step 8: θ = γ·δ (MatMul, elementwise).
    let theta = matmul(
        ctx,
        place,
        keys,
        Product::Elementwise,
        gd.as_ref().map(|g| &g.0),
        gd.as_ref().map(|g| &g.1),
        &flat,
        &flat,
    )?;

    // Step 9: ⟨α⟩ⱼ = ⟨γ⟩ⱼ + ⟨δ⟩ⱼ − 2⟨θ⟩ⱼ + uⱼ.
    ctx.step("ComputeMSB 9: ⟨α⟩ⱼ = ⟨γ⟩ⱼ + ⟨δ⟩ⱼ − 2⟨θ⟩ⱼ + uⱼ")?;
    if let (Role::Server(j), Some((gamma, delta)), Some(theta)) = (me, gd, theta) {
        let u: Tensor<u64> = keys.zero_share(j, &flat)?;
        let mut alpha = tensor::add(&gamma, &delta)?;
        alpha = tensor::sub(&alpha, &tensor::scale(&theta, 2))?;
        alpha = tensor::add(&alpha, &u)?;
        let alpha = tensor::reshape(&alpha, shape)?;
        ctx.record_share("MSB(a) (Z_L)", &alpha);
        return Ok(Some(alpha));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::{bit_shares1, masked_c, server_d, Bits, ELL};
    use crate::ring::{random_zp_vec, skip_zp_vec, Ring, Zp, SECURENN_P};
    use crate::securenn::Variant;
    use rand::seq::SliceRandom;
    use rand::{Rng, RngCore, SeedableRng};

    /// ⟨d⟩ⱼ as PrivateCompare computed it before session 21: s, u and v drawn whole, then
    /// every row's c, then π row by row with `SliceRandom::shuffle`, then ± v.
    fn reference(
        j: usize,
        variant: Variant,
        xbs: &[Zp],
        rs: &[u64],
        bs: &[u64],
        common: &mut crate::tensor::Prg,
    ) -> Vec<Zp> {
        let n = rs.len();
        let s = random_zp_vec(n * ELL, common, true);
        let special = rs.iter().zip(bs).any(|(&r, &b)| b == 1 && r == u64::MAX);
        let u = if special {
            random_zp_vec(n * ELL, common, false)
        } else {
            skip_zp_vec(n * ELL, common, false);
            Vec::new()
        };
        let v = match variant {
            Variant::Secure => random_zp_vec(n * ELL, common, false),
            _ => Vec::new(),
        };
        let bytes = |z: &[Zp]| z.iter().map(|z| z.0).collect::<Vec<u8>>();
        let (s, u) = (bytes(&s), bytes(&u));
        let mut d = vec![Zp(0); n * ELL];
        for (e, de) in d.chunks_exact_mut(ELL).enumerate() {
            let range = e * ELL..(e + 1) * ELL;
            let ue = u.get(range.clone()).unwrap_or(&[]);
            masked_c(j, rs[e], bs[e], &xbs[range.clone()], &s[range], ue, de);
        }
        if variant != Variant::Shortcut {
            for row in d.chunks_exact_mut(ELL) {
                row.shuffle(common);
            }
        }
        for (dk, vk) in d.iter_mut().zip(&v) {
            *dk = if j == 0 { dk.add(*vk) } else { dk.sub(*vk) };
        }
        d
    }

    /// P1's message of the bit dealing, streamed from the P2–P0 key, is the message built from
    /// the bits and P0's shares drawn whole, and the key is left where that draw leaves it.
    #[test]
    fn bit_shares_streamed_from_the_key_are_the_message_of_whole_draws() {
        use crate::context::Message;
        use crate::securenn::bits_zp;
        use crate::tensor::{self, Tensor};
        for n in [0usize, 1, 5, 300] {
            let mut data = crate::tensor::Prg::seed_from_u64(n as u64);
            let mut x: Vec<u64> = (0..n).map(|_| data.gen()).collect();
            if n > 2 {
                (x[0], x[1]) = (0, u64::MAX);
            }
            let mut key = crate::tensor::Prg::seed_from_u64(1000 + n as u64);
            let mut whole = key.clone();
            let bits0: Tensor<Zp> = tensor::random(&[n, ELL], &mut whole);
            let diff = tensor::sub(&bits_zp(&x), &bits0).expect("same shape");
            let tail = Tensor::from_elem(ndarray::IxDyn(&[n]), 9u64);
            let want = Message::with_capacity(0).and(&diff).and(&tail);
            let got = bit_shares1(&x, &mut key, 8 * n).and(&tail);
            assert_eq!(got, want, "n {n}");
            assert_eq!(
                key.next_u64(),
                whole.next_u64(),
                "key stream position, n {n}"
            );
        }
    }

    #[test]
    fn streamed_masks_give_the_d_and_the_stream_position_of_whole_draws() {
        for (n, special) in [
            (0usize, false),
            (1, false),
            (3, true),
            (37, false),
            (200, true),
        ] {
            for variant in [Variant::Secure, Variant::AsPublished, Variant::Shortcut] {
                for j in 0..2 {
                    let mut data = crate::tensor::Prg::seed_from_u64(n as u64 * 11 + j as u64);
                    let xbs: Vec<Zp> = (0..n * ELL)
                        .map(|_| Zp(data.gen_range(0..SECURENN_P)))
                        .collect();
                    let mut rs: Vec<u64> = (0..n).map(|_| data.gen()).collect();
                    let mut bs: Vec<u64> = (0..n).map(|_| data.gen_range(0..2)).collect();
                    if special {
                        // r = 2^ℓ − 1 with β = 1 (the case that needs u), and with β = 0.
                        (rs[0], bs[0]) = (u64::MAX, 1);
                        (rs[n - 1], bs[n - 1]) = (u64::MAX, 0);
                    }
                    let mut a = crate::tensor::Prg::seed_from_u64(99 + n as u64);
                    let mut b = a.clone();
                    let want = reference(j, variant, &xbs, &rs, &bs, &mut b);
                    let got = server_d(j, variant, Bits::Slice(&xbs), &rs, &bs, &mut a.clone());
                    assert_eq!(got, want, "n {n}, {variant:?}, j {j}");
                    // The same d computed in the bit shares' own buffer.
                    let got = server_d(
                        j,
                        variant,
                        Bits::InPlace(xbs.clone()),
                        &rs,
                        &bs,
                        &mut a.clone(),
                    );
                    assert_eq!(got, want, "in place: n {n}, {variant:?}, j {j}");
                    // And with the bit shares drawn from a stream as they are read: the d of
                    // the shares drawn whole from it, and that stream left where drawing them
                    // whole leaves it.
                    let mut key = crate::tensor::Prg::seed_from_u64(7 + n as u64);
                    let mut whole = key.clone();
                    let drawn = random_zp_vec(n * ELL, &mut whole, false);
                    let want_drawn = reference(j, variant, &drawn, &rs, &bs, &mut a.clone());
                    let got = server_d(j, variant, Bits::Drawn(&mut key), &rs, &bs, &mut a);
                    assert_eq!(got, want_drawn, "drawn: n {n}, {variant:?}, j {j}");
                    assert_eq!(key.next_u64(), whole.next_u64(), "key stream position");
                    assert_eq!(a.next_u64(), b.next_u64(), "stream position");
                }
            }
        }
    }
}
