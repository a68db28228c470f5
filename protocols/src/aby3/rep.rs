//! **2-out-of-3 replicated sharing** (ABY3, Mohassel & Rindal CCS 2018, §2.2 and §3), the core
//! every ABY3 op is built from: the share pair [`Rep`], the pairwise PRF keys [`Keys`] that give
//! zero-sharings and random sharings without communication, [`reshare`] (one round, after a
//! product) and [`open`] / [`open_xor`] (one round, every server learns the value).
//!
//! Indices are seats of `server0..server2` and are taken mod 3. Server i holds the pair
//! (x_i, x_{i+1}); any two servers together hold all three components, one server alone holds
//! two components of a 3-way sharing of which the third is uniform to it.
//!
//! Functions here send and receive inside the **caller's** step: they never call
//! [`Context::step`], so an op names its own steps (and a party that is not a server walks the
//! same steps and simply does not call them).

use crate::context::{Context, Message, RingKind, Traffic, ValueClass};
use crate::error::{ProtocolError, Result};
use crate::protocol::Seats;
use crate::ring::{Ring, Z2k};
use crate::tensor::{self, Prg, Tensor};
use rand::SeedableRng;

/// Number of servers.
pub const N: usize = 3;

/// Seat i + 1 mod 3.
pub fn next(i: usize) -> usize {
    (i + 1) % N
}

/// Seat i − 1 mod 3.
pub fn prev(i: usize) -> usize {
    (i + N - 1) % N
}

/// One server's replicated share of a value: at server i, `lo = x_i` and `hi = x_{i+1}`.
///
/// Arithmetic sharing: x = x_0 + x_1 + x_2 mod 2^64. Boolean sharing (bit-packed, 64 bits per
/// u64 word): x = x_0 ⊕ x_1 ⊕ x_2. The struct carries both; which one is the caller's business.
///
/// Generic over the ring: `Rep<u64>` (the default) for Z_2^64 and the boolean words, `Rep<u128>`
/// for the arithmetic part at `ring_bits: 128`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rep<R: Ring = u64> {
    /// x_i, the component this server shares with server i − 1.
    pub lo: Tensor<R>,
    /// x_{i+1}, the component this server shares with server i + 1.
    pub hi: Tensor<R>,
}

impl<R: Ring> Rep<R> {
    /// A pair from its two components.
    pub fn new(lo: Tensor<R>, hi: Tensor<R>) -> Rep<R> {
        Rep { lo, hi }
    }

    /// The shape of the shared value.
    pub fn shape(&self) -> &[usize] {
        self.lo.shape()
    }

    /// Applies `f` to both components (a local linear map: reshape, transpose, sum, scale …).
    pub fn map(&self, f: impl Fn(&Tensor<R>) -> Tensor<R>) -> Rep<R> {
        Rep {
            lo: f(&self.lo),
            hi: f(&self.hi),
        }
    }

    /// Applies a fallible `f` to both components.
    pub fn try_map(&self, f: impl Fn(&Tensor<R>) -> Result<Tensor<R>>) -> Result<Rep<R>> {
        Ok(Rep {
            lo: f(&self.lo)?,
            hi: f(&self.hi)?,
        })
    }

    /// Componentwise `a + b` (arithmetic), with broadcasting.
    pub fn add(&self, other: &Rep<R>) -> Result<Rep<R>> {
        Ok(Rep {
            lo: tensor::add(&self.lo, &other.lo)?,
            hi: tensor::add(&self.hi, &other.hi)?,
        })
    }

    /// Componentwise `a − b` (arithmetic), with broadcasting.
    pub fn sub(&self, other: &Rep<R>) -> Result<Rep<R>> {
        Ok(Rep {
            lo: tensor::sub(&self.lo, &other.lo)?,
            hi: tensor::sub(&self.hi, &other.hi)?,
        })
    }

    /// Componentwise `−a` (arithmetic).
    pub fn neg(&self) -> Rep<R> {
        self.map(tensor::neg)
    }

    /// Adds a public value to the shared value (arithmetic) at server `i`: the public value is
    /// added to component x_0, which server 0 holds as `lo` and server 2 as `hi`.
    pub fn add_public(&self, i: usize, c: &Tensor<R>) -> Result<Rep<R>> {
        Ok(Rep {
            lo: if i == 0 {
                tensor::add(&self.lo, c)?
            } else {
                broadcast_to(&self.lo, c)?
            },
            hi: if i == 2 {
                tensor::add(&self.hi, c)?
            } else {
                broadcast_to(&self.hi, c)?
            },
        })
    }

    /// The replicated sharing of a public value with x_0 = c, x_1 = x_2 = 0, at server `i`.
    pub fn public(i: usize, c: &Tensor<R>) -> Rep<R> {
        let z = tensor::zeros::<R>(c.shape());
        Rep {
            lo: if i == 0 { c.clone() } else { z.clone() },
            hi: if i == 2 { c.clone() } else { z },
        }
    }
}

impl<R: Z2k> Rep<R> {
    /// Records both components under one label, `lo` then `hi` (the layout's order), as this
    /// party's share in the ring `R`.
    pub fn record(&self, ctx: &mut dyn Context, label: &str) {
        R::record(ctx, ValueClass::Share, label, &self.lo);
        R::record(ctx, ValueClass::Share, label, &self.hi);
    }
}

/// Records one tensor of the ring `R` as this party's share.
pub fn record_share<R: Z2k>(ctx: &mut dyn Context, label: &str, t: &Tensor<R>) {
    R::record(ctx, ValueClass::Share, label, t);
}

impl Rep {
    /// Componentwise `a ⊕ b` (boolean), with broadcasting.
    pub fn xor(&self, other: &Rep) -> Result<Rep> {
        Ok(Rep {
            lo: xor_t(&self.lo, &other.lo)?,
            hi: xor_t(&self.hi, &other.hi)?,
        })
    }

    /// XORs a public value into the shared value (boolean) at server `i` (into x_0, as
    /// [`Rep::add_public`]).
    pub fn xor_public(&self, i: usize, c: &Tensor<u64>) -> Result<Rep> {
        Ok(Rep {
            lo: if i == 0 {
                xor_t(&self.lo, c)?
            } else {
                broadcast_to(&self.lo, c)?
            },
            hi: if i == 2 {
                xor_t(&self.hi, c)?
            } else {
                broadcast_to(&self.hi, c)?
            },
        })
    }
}

/// The local part of a product (ABY3 §3.2, arithmetic): z_i = x_i·y_i + x_i·y_{i+1} +
/// x_{i+1}·y_i, elementwise with broadcasting, **before** rerandomisation (add
/// [`Keys::zero`] and [`reshare`]). Σ z_i = x·y: a 3-out-of-3 sharing.
pub fn mul_local<R: Ring>(x: &Rep<R>, y: &Rep<R>) -> Result<Tensor<R>> {
    let mut z = tensor::mul(&x.lo, &y.lo)?;
    z = tensor::add(&z, &tensor::mul(&x.lo, &y.hi)?)?;
    tensor::add(&z, &tensor::mul(&x.hi, &y.lo)?)
}

/// The local part of an AND (ABY3 §3.2, boolean): z_i = x_i∧y_i ⊕ x_i∧y_{i+1} ⊕ x_{i+1}∧y_i,
/// bitwise, before rerandomisation (⊕ [`Keys::zero_xor`], then [`reshare`]).
pub fn and_local(x: &Rep, y: &Rep) -> Result<Tensor<u64>> {
    let and = |a: &Tensor<u64>, b: &Tensor<u64>| -> Result<Tensor<u64>> {
        if a.shape() != b.shape() {
            return Err(ProtocolError::Shape {
                op: "and".into(),
                detail: format!("{:?} and {:?}", a.shape(), b.shape()),
            });
        }
        let mut o = a.clone();
        ndarray::Zip::from(&mut o).and(b).for_each(|o, &y| *o &= y);
        Ok(o)
    };
    let z = xor_t(&and(&x.lo, &y.lo)?, &and(&x.lo, &y.hi)?)?;
    xor_t(&z, &and(&x.hi, &y.lo)?)
}

/// `a` broadcast to the shape `a` and `c` broadcast to together (a copy when unchanged).
fn broadcast_to<R: Ring>(a: &Tensor<R>, c: &Tensor<R>) -> Result<Tensor<R>> {
    if a.shape() == c.shape() {
        return Ok(a.clone());
    }
    // Adding a broadcast zero gives `a` at the joint shape.
    tensor::add(a, &tensor::zeros::<R>(c.shape()))
}

/// Elementwise XOR with broadcasting.
pub fn xor_t(a: &Tensor<u64>, b: &Tensor<u64>) -> Result<Tensor<u64>> {
    if a.shape() == b.shape() {
        let mut out = a.clone();
        ndarray::Zip::from(&mut out)
            .and(b)
            .for_each(|o, &y| *o ^= y);
        return Ok(out);
    }
    let shape =
        tensor::broadcast_shape(a.shape(), b.shape()).ok_or_else(|| ProtocolError::Shape {
            op: "xor".into(),
            detail: format!("{:?} and {:?} do not broadcast", a.shape(), b.shape()),
        })?;
    let av = a.broadcast(ndarray::IxDyn(&shape)).expect("checked");
    let bv = b.broadcast(ndarray::IxDyn(&shape)).expect("checked");
    let mut out = av.to_owned();
    ndarray::Zip::from(&mut out)
        .and(&bv)
        .for_each(|o, &y| *o ^= y);
    Ok(out)
}

/// The pairwise PRF keys of one party. Server i holds k_i (which it drew) and k_{i+1} (which
/// server i + 1 sent it), each expanded by a ChaCha12 stream ([`Prg`]); every draw takes the
/// same number of elements from both streams, in the same order at every server, so server i's
/// k_{i+1} stream stays in step with server i + 1's own k_{i+1} stream (the paper's counter).
/// A party that is not a server holds no keys.
#[derive(Debug, Clone)]
pub struct Keys {
    /// This party's seat, if it is a server.
    seat: Option<usize>,
    /// Stream of k_i.
    own: Option<Prg>,
    /// Stream of k_{i+1}.
    next: Option<Prg>,
}

/// The step name of key setup.
pub const KEY_SETUP: &str = "ABY3 key setup";

impl Keys {
    /// Key setup, once per run, in a step of its own ([`KEY_SETUP`]): every server i draws a
    /// 32-byte key k_i and sends it to server i − 1. 3 offline messages (the keys do not depend
    /// on data), 96 bytes, one round. Parties that are not seats walk the step and hold nothing.
    pub fn setup(ctx: &mut dyn Context, seats: &Seats) -> Result<Keys> {
        ctx.step(KEY_SETUP)?;
        let me = ctx.me();
        let Some(i) = seat_of(seats, me) else {
            return Ok(Keys {
                seat: None,
                own: None,
                next: None,
            });
        };
        let k = tensor::fresh_seed(ctx.rng());
        ctx.record_dealt(&format!("k{i}"), RingKind::Seed, &seed_tensor(&k));
        ctx.send(
            seats[prev(i)],
            &format!("k{i}"),
            Traffic::Offline,
            Message::seed(&k),
        )?;
        let from = seats[next(i)];
        let kn = tensor::decode_seed(&ctx.recv(from)?, from)?;
        ctx.record(
            ValueClass::Dealt,
            &format!("k{}", next(i)),
            RingKind::Seed,
            &seed_tensor(&kn),
        );
        Ok(Keys {
            seat: Some(i),
            own: Some(Prg::from_seed(k)),
            next: Some(Prg::from_seed(kn)),
        })
    }

    /// Keys from known seeds (tests, and for a server that restores state): `k[j]` is k_j.
    pub fn from_seeds(seat: usize, k: &[[u8; 32]; 3]) -> Keys {
        Keys {
            seat: Some(seat),
            own: Some(Prg::from_seed(k[seat])),
            next: Some(Prg::from_seed(k[next(seat)])),
        }
    }

    /// This party's seat, if it is a server (holds keys).
    pub fn seat(&self) -> Option<usize> {
        self.seat
    }

    /// F(k_i) and F(k_{i+1}) for `shape`, in the ring `R`; zeros at a party without keys.
    fn draw<R: Ring>(&mut self, shape: &[usize]) -> (Tensor<R>, Tensor<R>) {
        match (&mut self.own, &mut self.next) {
            (Some(a), Some(b)) => (tensor::random(shape, a), tensor::random(shape, b)),
            _ => (tensor::zeros(shape), tensor::zeros(shape)),
        }
    }

    /// An arithmetic zero-sharing: server i gets α_i = F(k_i) − F(k_{i+1}), so α_0 + α_1 + α_2 = 0,
    /// and α_i looks uniform to server i − 1 (which lacks k_{i+1}) and to server i + 1 (which
    /// lacks k_i). No communication. (At a party without keys: zeros, which it should not use.)
    pub fn zero(&mut self, shape: &[usize]) -> Tensor<u64> {
        self.zero_in::<u64>(shape)
    }

    /// [`Keys::zero`] in the ring `R` (Z_2^128 draws two stream words per element).
    pub fn zero_in<R: Ring>(&mut self, shape: &[usize]) -> Tensor<R> {
        let (a, b) = self.draw::<R>(shape);
        tensor::sub(&a, &b).expect("same shape")
    }

    /// A boolean zero-sharing: α_i = F(k_i) ⊕ F(k_{i+1}), so α_0 ⊕ α_1 ⊕ α_2 = 0.
    pub fn zero_xor(&mut self, shape: &[usize]) -> Tensor<u64> {
        let (a, b) = self.draw::<u64>(shape);
        xor_t(&a, &b).expect("same shape")
    }

    /// A replicated sharing of a uniformly random value r: r_i = F(k_i), so server i holds
    /// (F(k_i), F(k_{i+1})); r = Σ r_i (arithmetic) or ⊕ r_i (boolean: the same bits). No
    /// communication. (At a party without keys, zeros.)
    pub fn random(&mut self, shape: &[usize]) -> Rep {
        self.random_in::<u64>(shape)
    }

    /// [`Keys::random`] in the ring `R`.
    pub fn random_in<R: Ring>(&mut self, shape: &[usize]) -> Rep<R> {
        let (lo, hi) = self.draw::<R>(shape);
        Rep { lo, hi }
    }
}

/// The seat `me` sits in, if any.
pub fn seat_of(seats: &Seats, me: usize) -> Option<usize> {
    seats.iter().take(N).position(|&p| p == me)
}

/// A seed as a tensor of its 32 bytes, for recording.
pub(crate) fn seed_tensor(seed: &[u8; 32]) -> Tensor<u64> {
    Tensor::from_shape_vec(vec![32], seed.iter().map(|&b| b as u64).collect()).expect("32 bytes")
}

/// **Resharing** (ABY3 §3.2, after a product): server i sends its 3-out-of-3 share z_i to server
/// i − 1 and receives z_{i+1} from server i + 1; returns (z_i, z_{i+1}), a 2-out-of-3 sharing
/// again. One round, 3 messages of 8n bytes. z_i must already be rerandomised (+ α_i from
/// [`Keys::zero`] or [`Keys::zero_xor`]): the receiver sees z_{i+1}, which is uniform to it
/// because of α_{i+1}, whose key k_{i+2} it does not hold. Runs inside the caller's step;
/// records the received component as a share.
pub fn reshare<R: Z2k>(
    ctx: &mut dyn Context,
    seats: &Seats,
    i: usize,
    z_i: Tensor<R>,
    label: &str,
) -> Result<Rep<R>> {
    ctx.send(
        seats[prev(i)],
        &format!("z{i} of {label}"),
        Traffic::Online,
        Message::tensor(&z_i),
    )?;
    let from = seats[next(i)];
    let hi: Tensor<R> = tensor::decode(&ctx.recv(from)?, z_i.shape(), from)?;
    // The new pair (z_i, z_{i+1}) under one label, in layout order (the debugger reconstructs).
    let reshared = format!("{label} (reshared)");
    R::record(ctx, ValueClass::Share, &reshared, &z_i);
    R::record(ctx, ValueClass::Share, &reshared, &hi);
    Ok(Rep { lo: z_i, hi })
}

/// Sends the missing component: server i sends its `hi` = x_{i+1} to server i − 1, which lacks
/// exactly that one, and receives x_{i+2} from server i + 1.
fn exchange_missing<R: Ring>(
    ctx: &mut dyn Context,
    seats: &Seats,
    i: usize,
    x: &Rep<R>,
    label: &str,
) -> Result<Tensor<R>> {
    ctx.send(
        seats[prev(i)],
        &format!("x{} of {label}", next(i)),
        Traffic::Online,
        Message::tensor(&x.hi),
    )?;
    let from = seats[next(i)];
    tensor::decode(&ctx.recv(from)?, x.shape(), from)
}

/// **Opening** an arithmetic sharing to the three servers: server i sends x_{i+1} to server
/// i − 1 and receives x_{i+2} from server i + 1, then x = x_i + x_{i+1} + x_{i+2}. One round,
/// 3 messages of 8n bytes. Runs inside the caller's step; records the opened value.
pub fn open<R: Z2k>(
    ctx: &mut dyn Context,
    seats: &Seats,
    i: usize,
    x: &Rep<R>,
    label: &str,
) -> Result<Tensor<R>> {
    let third = exchange_missing(ctx, seats, i, x, label)?;
    let v = tensor::add(&tensor::add(&x.lo, &x.hi)?, &third)?;
    R::record(ctx, ValueClass::Opened, label, &v);
    Ok(v)
}

/// **Opening** a boolean sharing to the three servers (as [`open`], with ⊕). Records the opened
/// words as Z_2^64 values.
pub fn open_xor(
    ctx: &mut dyn Context,
    seats: &Seats,
    i: usize,
    x: &Rep,
    label: &str,
) -> Result<Tensor<u64>> {
    let third = exchange_missing(ctx, seats, i, x, label)?;
    let v = xor_t(&xor_t(&x.lo, &x.hi)?, &third)?;
    ctx.record_opened(label, &v);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha20Rng;
    use std::sync::mpsc::{channel, Receiver, Sender};

    /// A threaded context over mpsc channels (one per ordered pair).
    struct Ctx {
        me: usize,
        tx: Vec<Option<Sender<Vec<u8>>>>,
        rx: Vec<Option<Receiver<Vec<u8>>>>,
        rng: crate::context::PartyRng,
        sent: usize,
        bytes: usize,
        received: Vec<Vec<u8>>,
        opened: Vec<Tensor<u64>>,
    }

    impl Context for Ctx {
        fn me(&self) -> usize {
            self.me
        }
        fn send(&mut self, to: usize, _: &str, _: Traffic, msg: Message) -> Result<()> {
            self.sent += 1;
            self.bytes += msg.payload().len();
            self.tx[to]
                .as_ref()
                .unwrap()
                .send(msg.payload().to_vec())
                .map_err(|e| ProtocolError::Transport(e.to_string()))
        }
        fn recv(&mut self, from: usize) -> Result<Vec<u8>> {
            let m = self.rx[from]
                .as_ref()
                .unwrap()
                .recv()
                .map_err(|e| ProtocolError::Transport(e.to_string()))?;
            self.received.push(m.clone());
            Ok(m)
        }
        fn rng(&mut self) -> &mut crate::context::PartyRng {
            &mut self.rng
        }
        fn step(&mut self, _: &str) -> Result<()> {
            Ok(())
        }
        fn record(&mut self, class: ValueClass, _: &str, _: RingKind, v: &Tensor<u64>) {
            if class == ValueClass::Opened {
                self.opened.push(v.clone());
            }
        }
        fn charge(&mut self, _: u64) {}
    }

    /// Runs `f` at 4 parties (3 servers + 1 bystander, seats [0, 1, 2]).
    fn run<T: Send + 'static>(
        seed: u64,
        f: impl Fn(&mut Ctx, &[usize]) -> T + Send + Sync + Clone + 'static,
    ) -> Vec<(T, Ctx)> {
        let n = 4;
        let mut tx: Vec<Vec<Option<Sender<Vec<u8>>>>> = (0..n).map(|_| vec![None; n]).collect();
        let mut rx: Vec<Vec<Option<Receiver<Vec<u8>>>>> =
            (0..n).map(|_| (0..n).map(|_| None).collect()).collect();
        for a in 0..n {
            for b in 0..n {
                let (s, r) = channel();
                tx[a][b] = Some(s);
                rx[b][a] = Some(r);
            }
        }
        let mut handles = Vec::new();
        for (me, (t, r)) in tx.into_iter().zip(rx).enumerate() {
            let f = f.clone();
            handles.push(std::thread::spawn(move || {
                let mut c = Ctx {
                    me,
                    tx: t,
                    rx: r,
                    rng: crate::context::PartyRng::seed_from_u64(seed * 10 + me as u64),
                    sent: 0,
                    bytes: 0,
                    received: Vec::new(),
                    opened: Vec::new(),
                };
                let out = f(&mut c, &[0, 1, 2]);
                (out, c)
            }));
        }
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    }

    fn t(v: Vec<u64>) -> Tensor<u64> {
        let n = v.len();
        Tensor::from_shape_vec(vec![n], v).unwrap()
    }

    /// Shares x by hand: components x0 random, x1 random, x2 = x − x0 − x1.
    fn share(x: &Tensor<u64>, seed: u64) -> [Rep; 3] {
        let mut g = ChaCha20Rng::seed_from_u64(seed);
        let c0: Tensor<u64> = tensor::random(x.shape(), &mut g);
        let c1: Tensor<u64> = tensor::random(x.shape(), &mut g);
        let c2 = tensor::sub(&tensor::sub(x, &c0).unwrap(), &c1).unwrap();
        let c = [c0, c1, c2];
        [0, 1, 2].map(|i| Rep::new(c[i].clone(), c[next(i)].clone()))
    }

    #[test]
    fn keys_zero_sums_to_zero_and_random_is_replicated() {
        let out = run(1, |ctx, seats| {
            let mut k = Keys::setup(ctx, seats).unwrap();
            let z = k.zero(&[5]);
            let zx = k.zero_xor(&[5]);
            let r = k.random(&[5]);
            (k.seat(), z, zx, r)
        });
        let mut sum = tensor::zeros::<u64>(&[5]);
        let mut x = tensor::zeros::<u64>(&[5]);
        for (o, _) in &out[..3] {
            sum = tensor::add(&sum, &o.1).unwrap();
            x = xor_t(&x, &o.2).unwrap();
        }
        assert_eq!(sum, tensor::zeros::<u64>(&[5]));
        assert_eq!(x, tensor::zeros::<u64>(&[5]));
        // Not trivially zero.
        assert_ne!(out[0].0 .1, tensor::zeros::<u64>(&[5]));
        for i in 0..3 {
            assert_eq!(out[i].0 .0, Some(i));
            // Server i's hi is server i+1's lo.
            assert_eq!(out[i].0 .3.hi, out[next(i)].0 .3.lo);
            assert_eq!(out[i].1.sent, 1);
            assert_eq!(out[i].1.bytes, 32);
        }
        assert_eq!(out[3].0 .0, None);
        assert_eq!(out[3].1.sent, 0);
    }

    #[test]
    fn open_and_reshare_reconstruct() {
        for seed in 0..20u64 {
            let mut g = ChaCha20Rng::seed_from_u64(seed);
            let n = g.gen_range(1..9);
            let x = t((0..n).map(|_| g.gen()).collect());
            let y = t((0..n).map(|_| g.gen()).collect());
            let xs = share(&x, seed);
            let ys = share(&y, seed + 100);
            // Read the same components as boolean sharings: x' = ⊕ components.
            let bool_of =
                |s: &[Rep; 3]| xor_t(&xor_t(&s[0].lo, &s[1].lo).unwrap(), &s[2].lo).unwrap();
            let (bx, by) = (bool_of(&xs), bool_of(&ys));
            let mut xor3 = bx.clone();
            ndarray::Zip::from(&mut xor3)
                .and(&by)
                .for_each(|o, &v| *o &= v);
            let out = run(seed, move |ctx, seats| {
                let i = seat_of(seats, ctx.me)?;
                let mut k = Keys::setup(ctx, seats).unwrap();
                let (a, b) = (&xs[i], &ys[i]);
                // z_i = x_i y_i + x_i y_{i+1} + x_{i+1} y_i + α_i
                let z = mul_local(a, b).unwrap();
                let z = tensor::add(&z, &k.zero(a.shape())).unwrap();
                let p = reshare(ctx, seats, i, z, "x·y").unwrap();
                let opened = open(ctx, seats, i, &p, "x·y").unwrap();
                // AND of boolean sharings, opened with ⊕.
                let w = and_local(a, b).unwrap();
                let w = xor_t(&w, &k.zero_xor(a.shape())).unwrap();
                let q = reshare(ctx, seats, i, w, "x∧y").unwrap();
                let bx = open_xor(ctx, seats, i, &q, "x∧y").unwrap();
                Some((p, opened, bx))
            });
            let xy = tensor::mul(&x, &y).unwrap();
            for i in 0..3 {
                let (p, o, bx) = out[i].0.as_ref().unwrap();
                assert_eq!(o, &xy, "seed {seed} server {i}");
                assert_eq!(bx, &xor3);
                assert_eq!(p.hi, out[next(i)].0.as_ref().unwrap().0.lo);
                // key + reshare + open + reshare + open_xor
                assert_eq!(out[i].1.sent, 5);
                assert_eq!(out[i].1.bytes, 32 + 4 * 8 * n);
            }
        }
    }

    #[test]
    fn public_constants_go_into_x0() {
        let x = t(vec![5, 7]);
        let c = t(vec![10, 20]);
        let s = share(&x, 3);
        let r: Vec<Rep> = (0..3).map(|i| s[i].add_public(i, &c).unwrap()).collect();
        let sum = tensor::add(&tensor::add(&r[0].lo, &r[1].lo).unwrap(), &r[2].lo).unwrap();
        assert_eq!(sum, t(vec![15, 27]));
        for i in 0..3 {
            assert_eq!(r[i].hi, r[next(i)].lo);
        }
        let p: Vec<Rep> = (0..3).map(|i| Rep::public(i, &c)).collect();
        for i in 0..3 {
            assert_eq!(p[i].hi, p[next(i)].lo);
        }
    }
}
