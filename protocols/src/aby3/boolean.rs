//! **ABY3's boolean sharing and conversions** (Mohassel & Rindal, CCS 2018, §3.2 and §5.3;
//! tf-encrypted's `tf_encrypted/protocol/aby3/aby3.py`): XOR-shared bit-packed words (one u64 word
//! per element, x = x_0 ⊕ x_1 ⊕ x_2, server i holding (x_i, x_{i+1}) like an arithmetic [`Rep`]),
//! the one-round [`and`], bit decomposition [`a2b`] (Kogge–Stone), bit extraction [`msb`],
//! bit composition [`b2a`] of words and [`b2a_bit`] of single bits.
//!
//! The circuits are [`circuit`]'s, run on [`Shared`] gates: XOR and every XOR-linear map are local
//! on each component, AND is [`and`]. Functions named after a sub-protocol (`a2b`, `msb`, …)
//! walk their own steps inside it (`crate::context::within`) and are called by every party, the
//! non-servers with `None` (they walk the steps and hold nothing); [`and`] and [`reshare_bits`]
//! run inside the caller's step, at servers only. Costs: `aby3::boolean_cost`.

use super::circuit::{self, Gates};
use super::rep::{self, next, prev, Keys, Rep};
use crate::context::{within, Context, Message, RingKind, Traffic, ValueClass};
use crate::error::{ProtocolError, Result};
use crate::protocol::Seats;
use crate::tensor::{self, Tensor};
use ndarray::{Axis, IxDyn};

/// Step: server0 shares x₀ + x₁ as a boolean input (A2B).
pub const A2B_INPUT: &str = "A2B input";
/// Step: server0 shares x₀ + x₁ as a boolean input (bit extraction).
pub const MSB_INPUT: &str = "MSB input";
/// Step: server1 shares −r₁ − r₂ as a boolean input (B2A).
pub const B2A_MASK: &str = "B2A mask";
/// Step: x − r₁ − r₂ is opened to server0 and server2 (B2A).
pub const B2A_OPEN: &str = "B2A open";
/// Step: server0 shares b₀ ⊕ b₁ arithmetically (single-bit B2A).
pub const BIT2A_INPUT: &str = "bit2A input";
/// Step: the product d·b₂ and b = d + b₂ − 2·d·b₂ (single-bit B2A).
pub const BIT2A_PRODUCT: &str = "bit2A product";

/// One server's boolean shares' local AND terms for `x ∧ y` plus a fresh boolean zero-sharing,
/// then [`reshare_bits`]: **ABY3's AND** (§3.2, tf-encrypted's `_and_private_private`):
/// z_i = (x_i ∧ y_i) ⊕ (x_i ∧ y_{i+1}) ⊕ (x_{i+1} ∧ y_i) ⊕ α_i, with α_0 ⊕ α_1 ⊕ α_2 = 0 from the
/// PRF keys, is a 3-out-of-3 XOR sharing of x ∧ y; server i sends z_i to server i − 1. One
/// round, 3 messages of 8n bytes (n words). Server i learns z_{i+1}, which α_{i+1} (made from
/// k_{i+1} and k_{i+2}, and server i lacks k_{i+2}) makes uniform. Runs inside the caller's step.
pub fn and(
    ctx: &mut dyn Context,
    seats: &Seats,
    i: usize,
    keys: &mut Keys,
    x: &Rep,
    y: &Rep,
    label: &str,
) -> Result<Rep> {
    let z = rep::and_local(x, y)?;
    // Three ANDs, two XORs and the mask per word.
    ctx.charge(6 * z.len() as u64);
    let alpha = keys.zero_xor(z.shape());
    let z = rep::xor_t(&z, &alpha)?;
    reshare_bits(ctx, seats, i, z, label)
}

/// **Resharing of boolean words**: as [`rep::reshare`] (server i sends z_i to server i − 1 and
/// receives z_{i+1} from server i + 1), with the messages and records tagged
/// [`RingKind::BitWords`]. One round, 3 messages of 8n bytes. Runs inside the caller's step.
pub fn reshare_bits(
    ctx: &mut dyn Context,
    seats: &Seats,
    i: usize,
    z_i: Tensor<u64>,
    label: &str,
) -> Result<Rep> {
    ctx.send(
        seats[prev(i)],
        &format!("z{i} of {label}"),
        Traffic::Online,
        Message::default().and_words(RingKind::BitWords, &z_i),
    )?;
    let from = seats[next(i)];
    let hi: Tensor<u64> = tensor::decode(&ctx.recv(from)?, z_i.shape(), from)?;
    ctx.record(
        ValueClass::Share,
        &format!("{label} (z{i}, z{})", next(i)),
        RingKind::BitWords,
        &z_i,
    );
    Ok(Rep { lo: z_i, hi })
}

/// The boolean gates of a circuit at one party: components of XOR-shared words of shape [n]
/// (`None` at a party that is not a server: it walks the steps and holds nothing).
pub struct Shared<'a> {
    ctx: &'a mut dyn Context,
    seats: &'a Seats,
    keys: &'a mut Keys,
    label: &'a str,
}

impl<'a> Shared<'a> {
    /// Gates over `keys`' seat (none: not a server), messages labelled `label`.
    pub fn new(
        ctx: &'a mut dyn Context,
        seats: &'a Seats,
        keys: &'a mut Keys,
        label: &'a str,
    ) -> Self {
        Shared {
            ctx,
            seats,
            keys,
            label,
        }
    }
}

fn map_words(t: &Tensor<u64>, f: &dyn Fn(u64) -> u64) -> Tensor<u64> {
    t.mapv(f)
}

impl Gates for Shared<'_> {
    type W = Option<Rep>;
    fn xor(&self, a: &Option<Rep>, b: &Option<Rep>) -> Option<Rep> {
        match (a, b) {
            (Some(a), Some(b)) => Some(a.xor(b).expect("same shapes inside a circuit")),
            _ => None,
        }
    }
    fn linear(&self, a: &Option<Rep>, f: &dyn Fn(u64) -> u64) -> Option<Rep> {
        a.as_ref().map(|a| a.map(|t| map_words(t, f)))
    }
    fn xor_const(&self, a: &Option<Rep>, c: u64) -> Option<Rep> {
        let i = self.keys.seat()?;
        a.as_ref().map(|a| {
            let c = Tensor::from_elem(IxDyn(a.shape()), c);
            a.xor_public(i, &c).expect("same shapes")
        })
    }
    fn step(&mut self, name: &str) -> Result<()> {
        self.ctx.step(name)
    }
    fn and(&mut self, pairs: &[(&Option<Rep>, &Option<Rep>)]) -> Result<Vec<Option<Rep>>> {
        let Some(i) = self.keys.seat() else {
            return Ok(vec![None; pairs.len()]);
        };
        // One message for the whole layer: the pairs' words side by side.
        let mut xs = Vec::with_capacity(pairs.len());
        let mut ys = Vec::with_capacity(pairs.len());
        let mut lens = Vec::with_capacity(pairs.len());
        for (x, y) in pairs {
            let (x, y) = (
                need(x.as_ref(), "a circuit wire")?,
                need(y.as_ref(), "a circuit wire")?,
            );
            lens.push(x.lo.len());
            xs.push(x.clone());
            ys.push(y.clone());
        }
        let (x, y) = (concat(&xs), concat(&ys));
        let z = and(self.ctx, self.seats, i, self.keys, &x, &y, self.label)?;
        Ok(split(&z, &lens).into_iter().map(Some).collect())
    }
}

/// **The servers do `f`, the others hold nothing**: `f(i)` at server `i` (`seat`, from its
/// keys), `None` at a party that is not a server (it walks the same steps and holds nothing).
/// The one shape of every step here and in [`super::nonlinear`].
pub(crate) fn at_servers<T>(
    seat: Option<usize>,
    f: impl FnOnce(usize) -> Result<T>,
) -> Result<Option<T>> {
    seat.map(f).transpose()
}

/// The value a server must hold (a share, or anything made of shares), or a clear error.
pub(crate) fn need<T>(x: Option<T>, what: &str) -> Result<T> {
    x.ok_or_else(|| ProtocolError::Missing(format!("a server holds no shares of {what}")))
}

/// 1-D Reps side by side.
pub(crate) fn concat(parts: &[Rep]) -> Rep {
    let cat = |f: &dyn Fn(&Rep) -> &Tensor<u64>| -> Tensor<u64> {
        let views: Vec<_> = parts.iter().map(|r| f(r).view()).collect();
        ndarray::concatenate(Axis(0), &views).expect("1-D words")
    };
    Rep {
        lo: cat(&|r| &r.lo),
        hi: cat(&|r| &r.hi),
    }
}

/// A 1-D Rep cut into pieces of `lens` words.
pub(crate) fn split(x: &Rep, lens: &[usize]) -> Vec<Rep> {
    let mut at = 0;
    lens.iter()
        .map(|&n| {
            let r = x.map(|t| t.slice_axis(Axis(0), (at..at + n).into()).to_owned());
            at += n;
            r
        })
        .collect()
}

/// `x` flattened to shape [n].
pub(crate) fn flat(x: &Rep) -> Rep {
    let n = x.lo.len();
    x.map(|t| tensor::reshape(t, &[n]).expect("same element count"))
}

/// `x` reshaped to `shape`.
pub(crate) fn shaped(x: Rep, shape: &[usize]) -> Result<Rep> {
    x.try_map(|t| tensor::reshape(t, shape))
}

/// **Boolean inputs of an arithmetic sharing's two halves** (ABY3 §5.3, the optimisation that
/// lets one party add two components locally, as tf-encrypted's `_a2b_private`): x = a + b with
/// a = x₀ + x₁ (server0 holds both) and b = x₂ (servers 1 and 2 hold it). b is a boolean sharing
/// with components (0, 0, x₂), no communication. a is server0's boolean input: with r from the
/// PRF keys, component 1 is r₁ (servers 0 and 1 draw it), component 2 is 0 and component 0 is
/// a ⊕ r₁, which server0 sends to server2 (the other holder of component 0): 1 message of 8n
/// bytes, one round. Server2 does not hold k₁, so a ⊕ r₁ is uniform to it. Inside the caller's
/// step; `x` flat ([n]).
fn sum_halves(
    ctx: &mut dyn Context,
    seats: &Seats,
    keys: &mut Keys,
    x: Option<&Rep>,
    n: usize,
) -> Result<(Option<Rep>, Option<Rep>)> {
    let r = keys.random(&[n]);
    let halves = at_servers(keys.seat(), |i| {
        let x = need(x, "x")?;
        let zero = tensor::zeros::<u64>(&[n]);
        Ok(match i {
            0 => {
                let a = tensor::add(&x.lo, &x.hi)?;
                let c0 = rep::xor_t(&a, &r.hi)?;
                ctx.record_dealt("(x₀ + x₁) ⊕ r₁ (to server2)", RingKind::BitWords, &c0);
                ctx.send(
                    seats[2],
                    "(x₀ + x₁) ⊕ r₁",
                    Traffic::Online,
                    Message::default().and_words(RingKind::BitWords, &c0),
                )?;
                (Rep::new(c0, r.hi), Rep::new(zero.clone(), zero))
            }
            1 => (Rep::new(r.lo, zero.clone()), Rep::new(zero, x.hi.clone())),
            _ => {
                let from = seats[0];
                let c0: Tensor<u64> = tensor::decode(&ctx.recv(from)?, &[n], from)?;
                (Rep::new(zero.clone(), c0), Rep::new(x.lo.clone(), zero))
            }
        })
    })?;
    Ok(halves.unzip())
}

/// **A2B, bit decomposition** (ABY3 §5.3): a boolean sharing of the words of an arithmetic
/// sharing `x`. Follows tf-encrypted's `_a2b_private` (two operands, not the paper's 3→2
/// full-adder layer): server0 inputs a = x₀ + x₁, b = x₂ is free ([`sum_halves`]), then the
/// [`circuit::kogge_stone`] adder computes a + b = x. Steps: [`A2B_INPUT`], `KS generate`,
/// `KS layer 1..6`. Cost (`boolean_cost::a2b`): 22 messages, 296n bytes, 8 rounds.
pub fn a2b(
    ctx: &mut dyn Context,
    seats: &Seats,
    keys: &mut Keys,
    x: Option<&Rep>,
    shape: &[usize],
) -> Result<Option<Rep>> {
    within(ctx, "A2B", |ctx| {
        let n = tensor::numel(shape);
        ctx.step(A2B_INPUT)?;
        let x = x.map(flat);
        let (a, b) = sum_halves(ctx, seats, keys, x.as_ref(), n)?;
        let mut g = Shared::new(ctx, seats, keys, "A2B");
        let s = circuit::kogge_stone(&mut g, &a, &b)?;
        finish(ctx, s, shape, "A2B(x) (words)")
    })
}

/// Records a boolean result and gives it `shape`.
fn finish(
    ctx: &mut dyn Context,
    s: Option<Rep>,
    shape: &[usize],
    label: &str,
) -> Result<Option<Rep>> {
    s.map(|s| {
        let s = shaped(s, shape)?;
        ctx.record(ValueClass::Share, label, RingKind::BitWords, &s.lo);
        Ok(s)
    })
    .transpose()
}

/// **Bit extraction of the MSB** (ABY3 §5.3; tf-encrypted's `_msb_private` /
/// `_bit_extract_private`): a boolean sharing of MSB(x) (bit 0 of each word; the other bits 0)
/// of an arithmetic sharing `x`: the sign bit of x read as a signed 64-bit integer, exact for
/// every x ∈ Z_2^64. The inputs of [`a2b`], then only the carry into bit 63
/// ([`circuit::msb_of_sum`]). Steps: [`MSB_INPUT`], `carry generate`, `carry level 1..6`.
/// Cost (`boolean_cost::msb`): 22 messages, 176n bytes, 8 rounds.
pub fn msb(
    ctx: &mut dyn Context,
    seats: &Seats,
    keys: &mut Keys,
    x: Option<&Rep>,
    shape: &[usize],
) -> Result<Option<Rep>> {
    within(ctx, "MSB", |ctx| {
        let n = tensor::numel(shape);
        ctx.step(MSB_INPUT)?;
        let x = x.map(flat);
        let (a, b) = sum_halves(ctx, seats, keys, x.as_ref(), n)?;
        let mut g = Shared::new(ctx, seats, keys, "MSB");
        let m = circuit::msb_of_sum(&mut g, &a, &b)?;
        finish(ctx, m, shape, "MSB(x) (bit)")
    })
}

/// **B2A, bit composition of words** (ABY3 §5.3, as tf-encrypted's `_b2a_private`, "ppa"
/// method): an arithmetic sharing of the 64-bit words of a boolean sharing `x`.
///
/// [`B2A_MASK`]: the PRF keys give r₁ (servers 0, 1) and r₂ (servers 1, 2); server1, which
/// holds both, inputs v = −r₁ − r₂ as a boolean sharing (components (0, v ⊕ s₂, s₂), s₂ from
/// the keys of servers 1 and 2; it sends v ⊕ s₂ to server0): 1 message of 8n bytes. Then
/// y = x + v = x − r₁ − r₂ by [`circuit::kogge_stone`]. [`B2A_OPEN`]: y is opened to server0
/// (server1 sends it component 2) and to server2 (server0 sends it component 1): 2 messages of
/// 8n bytes. The result has components (y, r₁, r₂): y + r₁ + r₂ = x. Server0 lacks r₂ and
/// server2 lacks r₁, so the y each learns is uniform to it. Cost (`boolean_cost::b2a`):
/// 24 messages, 312n bytes, 8 rounds.
pub fn b2a(
    ctx: &mut dyn Context,
    seats: &Seats,
    keys: &mut Keys,
    x: Option<&Rep>,
    shape: &[usize],
) -> Result<Option<Rep>> {
    within(ctx, "B2A", |ctx| b2a_steps(ctx, seats, keys, x, shape))
}

fn b2a_steps(
    ctx: &mut dyn Context,
    seats: &Seats,
    keys: &mut Keys,
    x: Option<&Rep>,
    shape: &[usize],
) -> Result<Option<Rep>> {
    let n = tensor::numel(shape);
    ctx.step(B2A_MASK)?;
    let r = keys.random(&[n]);
    let s = keys.random(&[n]);
    let x = x.map(flat);
    let seat = keys.seat();
    let zero = tensor::zeros::<u64>(&[n]);
    let v = at_servers(seat, |i| {
        Ok(match i {
            0 => {
                let from = seats[1];
                let c1: Tensor<u64> = tensor::decode(&ctx.recv(from)?, &[n], from)?;
                Rep::new(zero.clone(), c1)
            }
            1 => {
                // r.lo = r₁, r.hi = r₂; s.hi = s₂.
                let v = tensor::neg(&tensor::add(&r.lo, &r.hi)?);
                let c1 = rep::xor_t(&v, &s.hi)?;
                ctx.record_dealt("(−r₁ − r₂) ⊕ s₂ (to server0)", RingKind::BitWords, &c1);
                ctx.send(
                    seats[0],
                    "(−r₁ − r₂) ⊕ s₂",
                    Traffic::Online,
                    Message::default().and_words(RingKind::BitWords, &c1),
                )?;
                Rep::new(c1, s.hi.clone())
            }
            _ => Rep::new(s.lo.clone(), zero.clone()),
        })
    })?;
    let mut g = Shared::new(ctx, seats, keys, "B2A");
    let y = circuit::kogge_stone(&mut g, &x, &v)?;
    ctx.step(B2A_OPEN)?;
    let Some(i) = seat else { return Ok(None) };
    let y = need(y.as_ref(), "y")?;
    let third = |ctx: &mut dyn Context, from: usize| -> Result<Tensor<u64>> {
        tensor::decode(&ctx.recv(seats[from])?, &[n], seats[from])
    };
    let send = |ctx: &mut dyn Context, to: usize, what: &str, t: &Tensor<u64>| {
        ctx.send(
            seats[to],
            what,
            Traffic::Online,
            Message::default().and_words(RingKind::BitWords, t),
        )
    };
    let out = match i {
        0 => {
            // Server0 holds (y₀, y₁): sends y₁ to server2, receives y₂ from server1.
            send(ctx, 2, "y₁ of x − r₁ − r₂", &y.hi)?;
            let y2 = third(ctx, 1)?;
            let open = rep::xor_t(&rep::xor_t(&y.lo, &y.hi)?, &y2)?;
            ctx.record_opened("x − r₁ − r₂ (B2A)", &open);
            Rep::new(open, r.hi)
        }
        1 => {
            send(ctx, 0, "y₂ of x − r₁ − r₂", &y.hi)?;
            Rep::new(r.lo, r.hi)
        }
        _ => {
            let y1 = third(ctx, 0)?;
            let open = rep::xor_t(&rep::xor_t(&y.lo, &y.hi)?, &y1)?;
            ctx.record_opened("x − r₁ − r₂ (B2A)", &open);
            Rep::new(r.lo, open)
        }
    };
    let out = shaped(out, shape)?;
    ctx.record_share("B2A(x)", &out.lo);
    Ok(Some(out))
}

/// **Single-bit B2A** (bit injection of ABY3 §5.4 specialised to one bit): an arithmetic
/// sharing of the bit b (bit 0 of each word) of a boolean sharing `b`, b ∈ {0, 1} as an integer.
///
/// b = b₀ ⊕ b₁ ⊕ b₂ = d ⊕ b₂ with d = b₀ ⊕ b₁, which server0 holds alone, and b₂, which servers
/// 1 and 2 hold (an arithmetic sharing (0, 0, b₂), free). [`BIT2A_INPUT`]: server0 inputs d
/// arithmetically, components (d − r₁, r₁, 0) with r₁ from the keys of servers 0 and 1; it sends
/// d − r₁ to server2 (1 message, 8n bytes). [`BIT2A_PRODUCT`]: one ABY3 product d·b₂ (local
/// terms + zero-sharing, [`rep::reshare`]: 3 messages, 24n bytes) and b = d + b₂ − 2·d·b₂, local.
/// Server2 sees d − r₁ (it lacks k₁); the resharing is the usual one. Cost
/// (`boolean_cost::b2a_bit`): 4 messages, 32n bytes, 2 rounds. Not tf-encrypted's
/// `_b2a_single_private` (a 3-party OT, `__mul_ab_routine`: 1 round, more messages): this is
/// the paper's one-party-input trick of bit decomposition applied to the XOR of two bits.
pub fn b2a_bit(
    ctx: &mut dyn Context,
    seats: &Seats,
    keys: &mut Keys,
    b: Option<&Rep>,
    shape: &[usize],
) -> Result<Option<Rep>> {
    within(ctx, "bit2A", |ctx| {
        let n = tensor::numel(shape);
        ctx.step(BIT2A_INPUT)?;
        let r = keys.random(&[n]);
        let seat = keys.seat();
        let b = b.map(flat);
        let zero = tensor::zeros::<u64>(&[n]);
        let bit = |t: &Tensor<u64>| t.mapv(|w| w & 1);
        let (d, c) = at_servers(seat, |i| {
            let b = need(b.as_ref(), "b")?;
            Ok(match i {
                0 => {
                    let dv = bit(&rep::xor_t(&b.lo, &b.hi)?);
                    let e0 = tensor::sub(&dv, &r.hi)?;
                    ctx.record_dealt("(b₀ ⊕ b₁) − r₁ (to server2)", RingKind::Z64, &e0);
                    ctx.send(
                        seats[2],
                        "(b₀ ⊕ b₁) − r₁",
                        Traffic::Online,
                        Message::tensor(&e0),
                    )?;
                    (Rep::new(e0, r.hi), Rep::new(zero.clone(), zero))
                }
                1 => (Rep::new(r.lo, zero.clone()), Rep::new(zero, bit(&b.hi))),
                _ => {
                    let from = seats[0];
                    let e0: Tensor<u64> = tensor::decode(&ctx.recv(from)?, &[n], from)?;
                    (Rep::new(zero.clone(), e0), Rep::new(bit(&b.lo), zero))
                }
            })
        })?
        .unzip();
        ctx.step(BIT2A_PRODUCT)?;
        let alpha = keys.zero(&[n]);
        let (Some(i), Some(d), Some(c)) = (seat, d, c) else {
            return Ok(None);
        };
        let z = tensor::add(&rep::mul_local(&d, &c)?, &alpha)?;
        let dc = rep::reshare(ctx, seats, i, z, "d·b₂")?;
        let out = d.add(&c)?.sub(&dc.map(|t| tensor::scale(t, 2u64)))?;
        let out = shaped(out, shape)?;
        ctx.record_share("[b] (bit2A)", &out.lo);
        Ok(Some(out))
    })
}

/// The explain pane's text for the boolean steps (by step name), if one of them.
pub fn explain(step: &str) -> Option<&'static str> {
    Some(match step {
        A2B_INPUT | MSB_INPUT => {
            "Bit decomposition needs x as bits, but x is shared arithmetically: x = x₀ + x₁ + x₂. \
             Server0 holds x₀ and x₁, so it adds them itself and enters a = x₀ + x₁ as a boolean \
             (XOR) input: it sends a ⊕ r₁ to server2, where r₁ comes from the key server0 shares \
             with server1, which server2 lacks — a uniformly random word to it. x₂ is already a \
             boolean sharing (0, 0, x₂): servers 1 and 2 hold it. What remains is to add the two \
             words a + x₂ in a circuit."
        }
        circuit::KS_GENERATE | circuit::CARRY_GENERATE => {
            "Adding two words bit by bit: position j generates a carry when a_j ∧ b_j and \
             propagates an incoming one when a_j ⊕ b_j. The XOR is free on XOR shares (each \
             server XORs its two components); the AND costs one round: each server computes \
             x_i∧y_i ⊕ x_i∧y_{i+1} ⊕ x_{i+1}∧y_i, masks it with its part of a zero-sharing (from the \
             pairwise keys) and sends it to its neighbour. What a server receives is masked by a \
             key it does not hold, so it is a uniform word whatever the secret."
        }
        _ if step.starts_with(circuit::KS_LAYER) => {
            "A carry chain: the carry into bit j depends on every lower bit, so a ripple adder \
             needs 63 AND rounds. Kogge–Stone computes all carries as prefixes instead: layer i \
             combines every position with the one 2^i below it, (G, P) ← (G ⊕ P∧(G≪2^i), \
             P∧(P≪2^i)), doubling the span each (generate, propagate) pair covers. After \
             log₂ 64 = 6 layers every span reaches bit 0 and G_j is the carry out of bit j; the \
             sum is a ⊕ b ⊕ (G≪1). Both ANDs of a layer travel in one message, so a layer is one \
             round; the shares stay uniform XOR shares throughout."
        }
        _ if step.starts_with(circuit::CARRY_LEVEL) => {
            "Bit extraction: for the sign only the carry into bit 63 matters, not every carry. \
             Each level pairs adjacent groups of bits, (g, p) = (g_hi ⊕ p_hi∧g_lo, p_hi∧p_lo), \
             halving their number: 64 → 32 → … → 1 group in log₂ 64 = 6 levels, and both ANDs of \
             a level fit in one word (a free bit permutation packs them), half the bytes of the \
             full adder. The MSB of x is a₆₃ ⊕ b₆₃ ⊕ that carry: in two's complement it is the sign \
             bit, 1 exactly when x < 0."
        }
        B2A_MASK => {
            "Bit composition: to turn XOR-shared words back into an arithmetic sharing, the \
             servers subtract a random r₁ + r₂ inside the boolean circuit. r₁ comes from the keys \
             of servers 0 and 1, r₂ from those of servers 1 and 2; server1 knows both and enters \
             −r₁ − r₂ as a boolean input, masked by a key server0 lacks."
        }
        B2A_OPEN => {
            "y = x − r₁ − r₂ is opened to server0 and server2 only. Server0 lacks r₂ and server2 \
             lacks r₁, so y is a uniform word to each. The arithmetic shares are (y, r₁, r₂): \
             they add up to x."
        }
        BIT2A_INPUT => {
            "A bit b = b₀ ⊕ b₁ ⊕ b₂ to an arithmetic 0/1. Server0 holds b₀ and b₁, so it computes \
             d = b₀ ⊕ b₁ and enters it arithmetically: it sends d − r₁ to server2, with r₁ from a \
             key server2 lacks (uniform to server2). b₂ is held by servers 1 and 2 already."
        }
        BIT2A_PRODUCT => {
            "d ⊕ b₂ = d + b₂ − 2·d·b₂ over the integers: one ABY3 product, whose local terms are \
             a 3-out-of-3 sharing rerandomised by a zero-sharing and reshared (each server sends \
             one masked element to its neighbour). The result is an arithmetic sharing of b."
        }
        _ => return None,
    })
}
