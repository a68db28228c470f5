//! **Fixed-point truncation** of a product from 2d back to d fractional bits (d = f), the two
//! methods of ABY3 §5.1, each fused with the product that needs it (as the paper does) and in a
//! stand-alone form for a replicated sharing (after a product with a public operand, average
//! pooling, a polynomial's weighted sum).
//!
//! `Settings::truncation` chooses: [`Truncation::Local`] → **Π_trunc1**, [`Truncation::Dealer`]
//! (the default) → **Π_trunc2**. ABY3 has no dealer; the name is the setting's, shared with Pond,
//! where it means "with a preprocessed pair" — which is what Π_trunc2 is.
//!
//! ## Π_trunc1 (§5.1.1): SecureML's local truncation made 3-party
//! The 3-out-of-3 product shares z'_i = z_i + α_i become a 2-out-of-2 sharing: server2 sends
//! z'_2 to server1, so server0 holds A = z'_0 and server1 holds B = z'_1 + z'_2 (A + B = z).
//! Each truncates its share locally as SecureML does (server0: A >> d; server1: −((−B) >> d)),
//! then they rebuild a 2-out-of-3 sharing with a random r = F(k_2) that server1 and server2 share:
//! components (y_0, y_1, y_2) = (A >> d, −((−B) >> d) − r, r); server0 sends y_0 to server2 and
//! server1 sends y_1 to server0. 3 messages, 3n elements (the product's own communication), two
//! rounds. Off by at most one ulp — unless A and B straddle the wrap-around, which happens with
//! probability |z|/2^ℓ per element (A is uniform), and then the result is off by about 2^(ℓ−d):
//! a [`Hazard::LocalTruncationFailure`]. Stand-alone on a replicated sharing the 2-out-of-2 split
//! is free (A = x_0, B = x_1 + x_2) and server2 already holds x_0: only y_1 travels (n elements,
//! one round).
//!
//! ## Π_trunc2 (§5.1.2): with a preprocessed pair (r, r/2^d)
//! The servers open c = z + 2^k + r (k = int + 2f bits bound |z|) to server0 and server2 — the two
//! holders of component 0 — which is one round fused with the product (server1 sends its share of
//! c to both, server0 and server2 send theirs to each other: 4 messages), then
//! z' = (c >> d) − 2^(k−d) − 1 − r/2^d: the public part goes into component 0. No wrap-around, so
//! no large error: within one ulp of ⌊z/2^d⌋ whenever |z| < 2^k (else a
//! [`Hazard::TruncationHeadroom`]).
//!
//! **Deviation (labelled D1 in `docs/aby3.md`).** The paper (and tf-encrypted's `mul_trunc2`)
//! makes r uniform over the whole ring and r/2^d its arithmetic shift, with a boolean circuit
//! (a random boolean sharing, shifted, then two B2A conversions — a Kogge–Stone adder each).
//! Here the pair comes from the pairwise keys without any communication, Catrina–Saxena style:
//! r = r_1 + r_2 with r_j = F(k_j) >> 2 uniform on [0, 2^62) (component 0 is zero), and
//! r/2^d is taken componentwise (r_j >> d). Because r is bounded, c never wraps and the
//! truncation needs no carry; the price is statistical rather than perfect hiding: the server
//! that lacks r_j sees c within statistical distance 2^(k+1−62) of a value independent of z,
//! σ = 61 − k bits (over Z_2^ℓ the components are ℓ − 2 bits and σ = ℓ − 3 − k: 125 − k at
//! `ring_bits: 128`) ([`statistical_security`]; 18 for the 16/11 preset, 2 bits below Pond's dealer
//! truncation). Offline traffic: none (honestly 0 bytes: the keys are the only preprocessing).

use super::product::{local_product, Bilinear};
use super::rep::record_share;
use super::rep::{next, Rep};
use super::{steps, Aby3Party};
use crate::context::{Context, Message, Traffic, ValueClass};
use crate::error::{ProtocolError, Result};
use crate::fixed::{FixedConfig, Hazard};
use crate::pond::Truncation;
use crate::ring::{Ring, Z2k};
use crate::tensor::{self, Tensor};

/// Bits of each nonzero component of Π_trunc2's mask r at Z_2^64 (r_j uniform on
/// [0, 2^MASK_BITS)); in general ℓ − 2 ([`mask_bits`]).
pub const MASK_BITS: u32 = 62;

/// Bits of Π_trunc2's mask components in Z_2^ℓ (ℓ = `ring_bits`): ℓ − 2 (62, or 126).
pub fn mask_bits(cfg: &FixedConfig) -> u32 {
    cfg.ring_bits - 2
}

/// Π_trunc2's statistical security: σ = ℓ − 3 − k bits (k = int + 2f; 61 − k at Z_2^64,
/// 125 − k at Z_2^128), or 0 if the encoding leaves no room for the mask.
pub fn statistical_security(cfg: &FixedConfig) -> u32 {
    (mask_bits(cfg) - 1).saturating_sub(cfg.product_bits())
}

/// `Ok` if Π_trunc2 can run with `cfg` (k = int + 2f ≤ ℓ − 4, so c = z + 2^k + r < 2^ℓ and
/// σ ≥ 1), else why not and what to change.
pub fn check_trunc2(cfg: &FixedConfig) -> std::result::Result<(), String> {
    if statistical_security(cfg) == 0 {
        return Err(format!(
            "ABY3's Π_trunc2 needs int_bits + 2·frac_bits ≤ {} to leave room for its {}-bit \
             mask, got {}; lower int_bits or frac_bits, or use `truncation: Local` (Π_trunc1)",
            cfg.ring_bits - 4,
            mask_bits(cfg),
            cfg.product_bits()
        ));
    }
    Ok(())
}

/// SecureML's local truncation of a 2-out-of-2 share `v` by `d` bits at holder `h` (0: A >> d;
/// 1: −((−B) >> d)). Fails (a huge error) with probability |z|/2^ℓ when A is uniform.
pub fn local_truncate_share<R: Z2k>(h: usize, v: R, d: u32) -> R {
    if h == 0 {
        v.shr(d)
    } else {
        v.neg().shr(d).neg()
    }
}

/// Π_trunc1's failure probability per element at Z_2^64 for a product of magnitude
/// `encoded_abs` (at scale 2^(2f)): |z|/2^64, as SecureML's (the ring-aware form is
/// [`FixedConfig::local_failure_probability`], which [`hazards`] uses).
pub fn trunc1_failure_probability(encoded_abs: f64) -> f64 {
    FixedConfig::local_truncation_failure_probability(encoded_abs)
}

/// The hazards of one truncation under `method`, from the largest magnitude that goes into it
/// (`pre_truncation`, a real) over `elements` elements: the product headroom (both methods: Π_trunc2
/// is wrong beyond 2^k, Π_trunc1 needs it for its failure bound) and, for Π_trunc1, a
/// [`Hazard::LocalTruncationFailure`] when at least 10^-4 failures are expected — the same
/// rules the plaintext shadow applies to Pond.
pub fn hazards(
    cfg: &FixedConfig,
    method: Truncation,
    pre_truncation: f64,
    elements: u64,
) -> Vec<Hazard> {
    let mut out: Vec<Hazard> = cfg
        .check_product_headroom([pre_truncation])
        .into_iter()
        .collect();
    if method == Truncation::Local {
        let p = cfg.local_failure_probability(pre_truncation * cfg.scale() * cfg.scale());
        if p * elements as f64 >= 1e-4 {
            out.push(Hazard::LocalTruncationFailure {
                probability: p,
                elements,
            });
        }
    }
    out
}

/// The arithmetic shift of a public encoded product by `d` bits.
pub fn truncate_public<R: Z2k>(z: &Tensor<R>, d: u32) -> Tensor<R> {
    z.mapv(|v| v.sar(d))
}

/// What goes into a truncation at a server: a 3-out-of-3 share of a product (fused) or a
/// replicated sharing (stand-alone).
#[allow(clippy::large_enum_variant)] // built once per op, never stored
pub(crate) enum Input<R: Ring = u64> {
    /// The product B(x, y) of two replicated sharings: the truncation computes the 3-out-of-3
    /// share z_i = x_i·y_i + x_i·y_{i+1} + x_{i+1}·y_i inside its first communicating step.
    Product {
        /// Which bilinear map.
        kind: Bilinear,
        /// Left operand.
        x: Rep<R>,
        /// Right operand.
        y: Rep<R>,
    },
    /// A replicated sharing at scale 2d.
    Shared(Rep<R>),
}

/// The local 3-out-of-3 product share, charged and recorded.
fn product_share<R: Z2k>(
    ctx: &mut dyn Context,
    kind: Bilinear,
    x: &Rep<R>,
    y: &Rep<R>,
) -> Result<Tensor<R>> {
    let z = local_product(kind, x, y)?;
    ctx.charge(2 * kind.work(x.shape(), y.shape(), z.shape()) + 2 * z.len() as u64);
    record_share(ctx, "z = x_i·y_i + x_i·y_{i+1} + x_{i+1}·y_i (3-of-3)", &z);
    Ok(z)
}

/// 2^e in `R` (e < R::BITS: `check_trunc2` bounds k = int + 2f below the ring width).
fn pow2<R: Z2k>(e: u32) -> R {
    R::pow2(e).expect("check_trunc2 keeps k below the ring width")
}

impl<R: Z2k> Aby3Party<R> {
    /// Truncates `z` (fused or stand-alone, see [`Input`]) with the scenario's method. Every party
    /// calls it with the same kind of input (`fused`: whether servers pass [`Input::Product`]);
    /// non-servers pass `None`. The keys must be
    /// set up (every caller did, at the op's start).
    pub(crate) fn truncate(
        &mut self,
        ctx: &mut dyn Context,
        z: Option<Input<R>>,
        fused: bool,
        shape: &[usize],
    ) -> Result<Option<Rep<R>>> {
        match self.settings.truncation {
            Truncation::Local => self.trunc1(ctx, z, fused, shape),
            Truncation::Dealer => self.trunc2(ctx, z, shape),
        }
    }

    /// **Π_trunc1** (see the module docs).
    fn trunc1(
        &mut self,
        ctx: &mut dyn Context,
        z: Option<Input<R>>,
        fused: bool,
        shape: &[usize],
    ) -> Result<Option<Rep<R>>> {
        let d = self.fixed().frac_bits;
        let seats = self.seats.clone();
        let seat = self.seat;
        // Step 1 (fused only): the rerandomised 3-out-of-3 shares become 2-out-of-2: server2
        // sends z'_2 = z_2 + α_2 to server1.
        // `half`: server0's A (and, stand-alone, server2's copy of x_0), or server1's B.
        let mut half_in: Option<Tensor<R>> = None;
        if fused {
            self.step(ctx, steps::PRODUCT_2OF2)?;
            let keys = self.keys.as_mut().expect("keys set up by the op");
            if let (Some(i), Some(Input::Product { kind, x, y })) = (seat, &z) {
                let zi = product_share(ctx, *kind, x, y)?;
                let zi = tensor::add(&zi, &keys.zero_in::<R>(zi.shape()))?;
                record_share(ctx, "z' = z + α (3-of-3)", &zi);
                match i {
                    2 => ctx.send(
                        seats[1],
                        "z'2 (product share)",
                        Traffic::Online,
                        Message::tensor(&zi),
                    )?,
                    1 => {
                        let z2: Tensor<R> = tensor::decode(&ctx.recv(seats[2])?, shape, seats[2])?;
                        let b = tensor::add(&zi, &z2)?;
                        record_share(ctx, "B = z'1 + z'2 (2-of-2)", &b);
                        half_in = Some(b);
                    }
                    _ => half_in = Some(zi),
                }
            }
        } else if let (Some(i), Some(Input::Shared(x))) = (seat, &z) {
            half_in = match i {
                0 => Some(x.lo.clone()),
                1 => Some(tensor::add(&x.lo, &x.hi)?),
                _ => Some(x.hi.clone()),
            };
        }
        // Step 2: truncate locally, rebuild the 2-out-of-3 sharing (y_0, y_1, y_2 = r).
        self.step(ctx, steps::TRUNC_RESHARE)?;
        let keys = self.keys.as_mut().expect("keys set up by the op");
        let r = keys.random_in::<R>(shape);
        let Some(i) = seat else { return Ok(None) };
        let half = |h: Option<Tensor<R>>| {
            h.ok_or_else(|| ProtocolError::Missing("truncation input missing at a server".into()))
        };
        let out = match i {
            0 => {
                let y0 = half(half_in)?.mapv(|v| local_truncate_share(0, v, d));
                if fused {
                    ctx.send(
                        seats[2],
                        "y0 = A >> d",
                        Traffic::Online,
                        Message::tensor(&y0),
                    )?;
                }
                let y1: Tensor<R> = tensor::decode(&ctx.recv(seats[1])?, shape, seats[1])?;
                Rep::new(y0, y1)
            }
            1 => {
                // r = F(k_2): server1's `hi` component of the random sharing.
                let b = half(half_in)?;
                let y1 = tensor::sub(&b.mapv(|v| local_truncate_share(1, v, d)), &r.hi)?;
                ctx.send(
                    seats[0],
                    "y1 = −((−B) >> d) − r",
                    Traffic::Online,
                    Message::tensor(&y1),
                )?;
                Rep::new(y1, r.hi)
            }
            _ => {
                let y0 = if fused {
                    tensor::decode(&ctx.recv(seats[0])?, shape, seats[0])?
                } else {
                    half(half_in)?.mapv(|v| local_truncate_share(0, v, d))
                };
                Rep::new(r.lo, y0)
            }
        };
        ctx.charge(2 * out.lo.len() as u64);
        out.record(ctx, "truncated");
        Ok(Some(out))
    }

    /// **Π_trunc2** (see the module docs, and deviation D1).
    fn trunc2(
        &mut self,
        ctx: &mut dyn Context,
        z: Option<Input<R>>,
        shape: &[usize],
    ) -> Result<Option<Rep<R>>> {
        let cfg = self.fixed();
        check_trunc2(&cfg).map_err(ProtocolError::Unsupported)?;
        let (d, k) = (cfg.frac_bits, cfg.product_bits());
        let seats = self.seats.clone();
        let seat = self.seat;

        // Step 1: the pair (r, r/2^d) from the keys, no communication: component j of r is
        // F(k_j) >> 2 for j = 1, 2 and 0 for j = 0; r/2^d componentwise.
        self.step(ctx, steps::TRUNC_PAIR)?;
        let keys = self.keys.as_mut().expect("keys set up by the op");
        let raw = keys.random_in::<R>(shape);
        let drop = R::BITS - mask_bits(&cfg);
        let pair = seat.map(|i| {
            let comp = |j: usize, t: &Tensor<R>| {
                if j == 0 {
                    tensor::zeros::<R>(shape)
                } else {
                    t.mapv(|v| v.shr(drop))
                }
            };
            let r = Rep::new(comp(i, &raw.lo), comp(next(i), &raw.hi));
            let r_shift = r.map(|t| t.mapv(|v| v.shr(d)));
            (r, r_shift)
        });
        if let Some((r, rs)) = &pair {
            r.record(ctx, "r");
            rs.record(ctx, "r/2^d");
        }

        // Step 2: open c = z + 2^k + r to server0 and server2 (the holders of component 0).
        self.step(ctx, steps::OPEN_MASKED)?;
        let mut opened: Option<Tensor<R>> = None;
        if let (Some(i), Some(z), Some((r, _))) = (seat, z, &pair) {
            let label = "share of c = z + 2^k + r";
            // (what this server sends, to whom, what it already knows of c, from whom it hears)
            let (send, to, known, from): (Tensor<R>, &[usize], Tensor<R>, &[usize]) = match z {
                Input::Product { kind, x, y } => {
                    let zi = product_share(ctx, kind, &x, &y)?;
                    // Fused: w_i = z_i + α_i + r_i (+ 2^k at server0) is a 3-out-of-3 share of c;
                    // server1 sends w_1 to both, server0 and server2 send theirs to each other.
                    let keys = self.keys.as_mut().expect("keys set up by the op");
                    let top = if i == 0 { pow2::<R>(k) } else { R::zero() };
                    let w = tensor::add(&tensor::add(&zi, &keys.zero_in::<R>(shape))?, &r.lo)?
                        .mapv(|v| v.add(top));
                    let (to, from): (&[usize], &[usize]) = match i {
                        0 => (&[2], &[1, 2]),
                        1 => (&[0, 2], &[]),
                        _ => (&[0], &[0, 1]),
                    };
                    (w.clone(), to, w, from)
                }
                Input::Shared(x) => {
                    // Stand-alone: x + r is replicated; server0 lacks component 2 and server2
                    // component 1, so each sends the other the component it lacks.
                    let m = x.add(r)?;
                    let own = tensor::add(&m.lo, &m.hi)?.mapv(|v| v.add(pow2::<R>(k)));
                    match i {
                        0 => (m.hi, &[2][..], own, &[2][..]),
                        2 => (m.lo, &[0][..], own, &[0][..]),
                        _ => (m.lo, &[][..], own, &[][..]),
                    }
                }
            };
            for &j in to {
                ctx.send(seats[j], label, Traffic::Online, Message::tensor(&send))?;
            }
            if !from.is_empty() {
                let mut c = known;
                for &j in from {
                    let part: Tensor<R> = tensor::decode(&ctx.recv(seats[j])?, shape, seats[j])?;
                    c = tensor::add(&c, &part)?;
                }
                R::record(
                    ctx,
                    ValueClass::Opened,
                    "c = z + 2^k + r (masked product)",
                    &c,
                );
                opened = Some(c);
            }
        }

        // Step 3: z' = (c >> d) − 2^(k−d) − 1 − r/2^d; the public part into component 0.
        self.step(ctx, steps::TRUNCATE)?;
        let (Some(i), Some((_, rs))) = (seat, pair) else {
            return Ok(None);
        };
        let public = opened.map(|c| {
            let top = pow2::<R>(k - d);
            c.mapv(|v| v.shr(d).sub(top).sub(R::one()))
        });
        let mut out = rs.neg();
        if let Some(p) = &public {
            // Component 0 is `lo` at server0 and `hi` at server2.
            match i {
                0 => out.lo = tensor::add(&out.lo, p)?,
                2 => out.hi = tensor::add(&out.hi, p)?,
                _ => {}
            }
        } else if i != 1 {
            return Err(ProtocolError::Missing(
                "Π_trunc2: the masked product was not opened at a holder of component 0".into(),
            ));
        }
        ctx.charge(3 * out.lo.len() as u64);
        out.record(ctx, "truncated");
        Ok(Some(out))
    }
}
