//! **PrivateCompare** (Alg. 3), **ShareConvert** (Alg. 4) and **ComputeMSB** (Alg. 5).

use super::shuffle::RowShuffle;
use super::zp_stream::ZpStream;
use super::{
    as_u64, bit, bits_zp, matmul, need, peer, recv_t, role, send_t, to_odd, wrap, Keys, Product,
    Role, Variant, ELL,
};
use crate::context::{within, Context, Message, PartyId, RingKind, Traffic, ValueClass};
use crate::error::{ProtocolError, Result};
use crate::pond::Placement;
use crate::ring::{skip_zp_vec, OddRing, Ring, Zp, SECURENN_P};
use crate::tensor::{self, Tensor};

/// A message to P1 holding its shares of the bits of `x`, ⟨x[i]⟩₁ = x[i] − ⟨x[i]⟩₀ over Z_p
/// ([n, ℓ], what `Message::tensor(&(bits_zp(x) − bits0))` holds), computed straight into the
/// payload (no tensor of the bits or of the difference), with room for `more` bytes after it.
fn bit_shares1(x: &[u64], bits0: &Tensor<Zp>, more: usize) -> Message {
    let n = x.len();
    let b0 = bits0.as_standard_layout();
    let b0 = b0.as_slice().expect("standard layout");
    let p = SECURENN_P;
    Message::with_capacity(n * ELL + more).and_computed::<Zp>(&[n, ELL], |start, piece| {
        for (i, out) in piece.iter_mut().enumerate() {
            let k = start + i;
            // x[i] − ⟨x[i]⟩₀ with x[i] ∈ {0, 1} and ⟨x[i]⟩₀ < p (drawn so): `Zp::sub`'s
            // value by one conditional subtraction.
            let v = bit(x[k / ELL], k % ELL) as u8 + (p - b0[k].0);
            *out = Zp(if v >= p { v - p } else { v });
        }
    })
}

/// P1's side of [`bit_shares1`]: its bit shares ([n, ℓ], decoded in place in the message's
/// own buffer, no copy) and the n elements of ring R after them, from `from`'s message `msg`.
fn bit_shares_and<R: Ring>(
    mut msg: Vec<u8>,
    n: usize,
    from: PartyId,
) -> Result<(Tensor<Zp>, Tensor<R>)> {
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
    let b = Tensor::from_shape_vec(vec![n, ELL], b).expect("n·ℓ elements");
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
    x_bits: Option<&Tensor<Zp>>,
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
            let (xb, r, beta) = (need(x_bits, "x bits")?, need(r, "r")?, need(beta, "β")?);
            let (xbv, rv, bv) = (
                xb.as_standard_layout(),
                r.as_standard_layout(),
                beta.as_standard_layout(),
            );
            let (xbs, rs, bs) = (
                xbv.as_slice().expect("standard layout"),
                rv.as_slice().expect("standard layout"),
                bv.as_slice().expect("standard layout"),
            );
            if xbs.len() != n * ELL || rs.len() != n || bs.len() != n {
                return Err(ProtocolError::Shape {
                    op: "PrivateCompare".into(),
                    detail: format!(
                        "{n} elements, but {} bits, {} r and {} β",
                        xbs.len(),
                        rs.len(),
                        bs.len()
                    ),
                });
            }
            let total = n * ELL;
            let d = server_d(j, variant, xbs, rs, bs, keys.common()?);
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

/// Server j's ⟨d⟩ⱼ of PrivateCompare steps 1–13 (before it is sent): π(s·⟨c⟩ⱼ) ± v for the n
/// elements of bit shares `xbs` ([n, ℓ] row-major), public `rs` and bits `bs`, reading s, u, v
/// and π from the common stream exactly as drawing each whole would (`random_zp_vec`,
/// `skip_zp_vec`, row-by-row `SliceRandom::shuffle`). `xbs` is n·ℓ long, `rs` and `bs` n.
fn server_d(
    j: usize,
    variant: Variant,
    xbs: &[Zp],
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
    // n·ℓ buffer is d, computed in place and sent as it is (issue 11: C's peak memory).
    //
    // Steps 1–13 before π, row by row with s streamed: d = s·c (for a special element,
    // s itself until u is read).
    let mut d = vec![Zp(0); total];
    let mut s = ZpStream::new(&mut *common, total, true);
    let mut row = [0u8; ELL];
    for (e, de) in d.chunks_exact_mut(ELL).enumerate() {
        s.fill(&mut row);
        if special_at(e) {
            de.iter_mut().zip(&row).for_each(|(dk, &sk)| *dk = Zp(sk));
        } else {
            masked_c(j, rs[e], bs[e], &xbs[e * ELL..(e + 1) * ELL], &row, &[], de);
        }
    }
    s.finish();
    // u: read for the special elements only; otherwise the stream is advanced past it
    // as if it had been drawn.
    if special {
        let mut u = ZpStream::new(&mut *common, total, false);
        for (e, de) in d.chunks_exact_mut(ELL).enumerate() {
            u.fill(&mut row);
            if special_at(e) {
                let mut se = [0u8; ELL];
                se.iter_mut().zip(&*de).for_each(|(sk, dk)| *sk = dk.0);
                masked_c(j, rs[e], bs[e], &xbs[e * ELL..(e + 1) * ELL], &se, &row, de);
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
    a: Option<&Tensor<u64>>,
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
            let aj = tensor::reshape(need(a, "a")?, &flat)?;
            let eta2 = keys.common_bits(&flat)?;
            let r0: Tensor<u64> = tensor::random(&flat, keys.common()?);
            let r1: Tensor<u64> = tensor::random(&flat, keys.common()?);
            let rj = if j == 0 { &r0 } else { &r1 };
            let at = tensor::add(&aj, rj)?;
            let betaj = ndarray::Zip::from(&aj)
                .and(rj)
                .map_collect(|&x, &y| wrap(x, y));
            let r = tensor::add(&r0, &r1)?;
            let alpha = ndarray::Zip::from(&r0)
                .and(&r1)
                .map_collect(|&x, &y| wrap(x, y));
            send_t(
                ctx,
                place.producer,
                &format!("⟨ã⟩{j} = ⟨a⟩{j} + ⟨r⟩{j}"),
                Traffic::Online,
                &at,
            )?;
            ctx.charge(4 * n as u64);
            mine = Some((j, aj, eta2, r, alpha, betaj));
        }
        Role::Helper => {
            let a0: Tensor<u64> = recv_t(ctx, place.server0, &flat)?;
            let a1: Tensor<u64> = recv_t(ctx, place.server1, &flat)?;
            masked = Some((a0, a1));
        }
        Role::Bystander => {}
    }

    // Steps 3–4: P2 computes x = ã, δ = wrap(⟨ã⟩₀, ⟨ã⟩₁, L) and deals the bits of x over Z_p and
    // δ over Z_{L−1}.
    ctx.step("ShareConvert 3–4: P2 opens x = ã, deals bits of x (Z_p) and δ = wrap (Z_{L−1})")?;
    let mut dealt = None;
    match me {
        Role::Helper => {
            let (a0, a1) = masked.take().expect("received ã");
            let x = tensor::add(&a0, &a1)?;
            let delta = ndarray::Zip::from(&a0)
                .and(&a1)
                .map_collect(|&p, &q| wrap(p, q));
            ctx.record_opened("x = a + r (helper's view)", &x);
            let xs = x.as_slice().expect("standard layout");
            // The bits are recorded and dropped before P0's shares are drawn (recording reads
            // no stream), and P1's shares are computed straight into the message.
            ctx.record_zp(ValueClass::Dealt, "bits of x", &bits_zp(xs));
            let bits0: Tensor<Zp> = key_share0(keys, &[n, ELL])?;
            let delta0: Tensor<OddRing> = key_share0(keys, &flat)?;
            ctx.record_zp(
                ValueClass::Dealt,
                "⟨x[i]⟩₀ (P0's share, from the P2–P0 key)",
                &bits0,
            );
            ctx.record_dealt("δ = wrap(⟨ã⟩₀, ⟨ã⟩₁)", RingKind::Bit, &delta);
            let msg = bit_shares1(xs, &bits0, 8 * n).and(&tensor::sub(&to_odd(&delta), &delta0)?);
            ctx.send(
                place.server1,
                "⟨x[i]⟩₁ (Z_p), ⟨δ⟩₁ (Z_{L−1})",
                Traffic::Online,
                msg,
            )?;
            ctx.charge((2 * n * ELL) as u64);
        }
        Role::Server(0) => {
            let bits0: Tensor<Zp> = key_share0(keys, &[n, ELL])?;
            let delta0: Tensor<OddRing> = key_share0(keys, &flat)?;
            dealt = Some((bits0, delta0));
        }
        Role::Server(_) => {
            let msg = ctx.recv(place.producer)?;
            let (bits1, delta1) = bit_shares_and::<OddRing>(msg, n, place.producer)?;
            dealt = Some((bits1, delta1));
        }
        Role::Bystander => {}
    }

    // Step 5: PrivateCompare with ({⟨x[i]⟩ⱼ}, r − 1, η″); P2 learns η′ = η″ ⊕ (x > r − 1).
    let (bits, r_minus_1, eta2) = match (&mine, &dealt) {
        (Some((_, _, eta2, r, ..)), Some((bits, _))) => (
            Some(bits),
            Some(r.mapv(|v| v.wrapping_sub(1))),
            Some(eta2.clone()),
        ),
        _ => (None, None, None),
    };
    let eta1 = private_compare(
        ctx,
        place,
        keys,
        variant,
        bits,
        r_minus_1.as_ref(),
        eta2.as_ref(),
        n,
    )?;

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
    if let (Some((j, aj, eta2, r, alpha, betaj)), Some((_, delta)), Some(e1)) =
        (mine, dealt, eta1_share)
    {
        let u: Tensor<OddRing> = keys.zero_share(j, &flat)?;
        let not_j = OddRing(1 - j as u64);
        let mut y = Vec::with_capacity(n);
        for e in 0..n {
            let h2 = OddRing(eta2[e]);
            // Step 7: ⟨η⟩ⱼ = ⟨η′⟩ⱼ + (1 − j)η″ − 2η″⟨η′⟩ⱼ.
            let mut eta = e1[e].add(not_j.mul(h2)).sub(OddRing(2).mul(h2).mul(e1[e]));
            if r[e] == 0 {
                // Footnote 4: r − 1 wrapped, so PrivateCompare answered x > L − 1 (false) where
                // x ≥ 0 (true) was meant; flip the shared bit.
                eta = not_j.sub(eta);
            }
            // Step 8: ⟨θ⟩ⱼ = βⱼ + (1 − j)(−α − 1) + ⟨δ⟩ⱼ + ⟨η⟩ⱼ.
            let theta = OddRing(betaj[e])
                .add(not_j.mul(OddRing::from_u64(alpha[e]).add(OddRing(1)).neg()))
                .add(delta[e])
                .add(eta);
            // Step 9: ⟨y⟩ⱼ = ⟨a⟩ⱼ − ⟨θ⟩ⱼ + uⱼ.
            y.push(OddRing::from_u64(aj[e]).sub(theta).add(u[e]));
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
    let mut dealt = None;
    match me {
        Role::Helper => {
            let x0: Tensor<OddRing> = tensor::random(&flat, keys.helper(0)?);
            let x1: Tensor<OddRing> = tensor::random(&flat, keys.helper(1)?);
            let x = as_u64(&tensor::add(&x0, &x1)?);
            let xs = x.as_slice().expect("standard layout");
            let lsb = x.mapv(|v| v & 1);
            ctx.record_dealt("x", RingKind::Odd, &x);
            // As in ShareConvert: the bits recorded and dropped before P0's shares are drawn,
            // P1's computed straight into the message.
            ctx.record_zp(ValueClass::Dealt, "bits of x", &bits_zp(xs));
            let bits0: Tensor<Zp> = key_share0(keys, &[n, ELL])?;
            let lsb0: Tensor<u64> = key_share0(keys, &flat)?;
            ctx.record_zp(
                ValueClass::Dealt,
                "⟨x[i]⟩₀ (P0's share, from the P2–P0 key)",
                &bits0,
            );
            let msg = bit_shares1(xs, &bits0, 8 * n).and(&tensor::sub(&lsb, &lsb0)?);
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
                let bits0: Tensor<Zp> = key_share0(keys, &[n, ELL])?;
                let lsb0: Tensor<u64> = key_share0(keys, &flat)?;
                dealt = Some((xj, bits0, lsb0));
            } else {
                let msg = ctx.recv(place.producer)?;
                let (bits1, lsb1) = bit_shares_and::<u64>(msg, n, place.producer)?;
                dealt = Some((xj, bits1, lsb1));
            }
        }
        Role::Bystander => {}
    }

    // Steps 2–3: ⟨y⟩ⱼ = 2⟨a⟩ⱼ, ⟨r⟩ⱼ = ⟨y⟩ⱼ + ⟨x⟩ⱼ; P0 and P1 open r.
    ctx.step("ComputeMSB 2–3: open r = 2a + x (Z_{L−1})")?;
    let mut opened = None;
    if let (Role::Server(j), Some((xj, ..))) = (me, &dealt) {
        let aj = tensor::reshape(need(a, "a")?, &flat)?;
        let rj = tensor::add(&tensor::scale(&aj, OddRing(2)), xj)?;
        let other = peer(place, j);
        send_t(ctx, other, &format!("⟨r⟩{j}"), Traffic::Online, &rj)?;
        let r = tensor::add(&rj, &recv_t(ctx, other, &flat)?)?;
        let r = as_u64(&r);
        ctx.record(ValueClass::Opened, "r = 2a + x", RingKind::Odd, &r);
        // Common randomness: the bit β of step 4.
        let beta = keys.common_bits(&flat)?;
        opened = Some((r, beta));
    }

    // Step 4: PrivateCompare with ({⟨x[i]⟩ⱼ}, r, β); P2 learns β′ = β ⊕ (x > r).
    let beta1 = private_compare(
        ctx,
        place,
        keys,
        variant,
        dealt.as_ref().map(|d| &d.1),
        opened.as_ref().map(|o| &o.0),
        opened.as_ref().map(|o| &o.1),
        n,
    )?;

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
    if let (Role::Server(j), Some((r, beta)), Some(b1), Some((_, _, lsb))) =
        (me, &opened, &b1_share, &dealt)
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
    use super::{masked_c, server_d, ELL};
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
                    let got = server_d(j, variant, &xbs, &rs, &bs, &mut a);
                    let want = reference(j, variant, &xbs, &rs, &bs, &mut b);
                    assert_eq!(got, want, "n {n}, {variant:?}, j {j}");
                    assert_eq!(a.next_u64(), b.next_u64(), "stream position");
                }
            }
        }
    }
}
