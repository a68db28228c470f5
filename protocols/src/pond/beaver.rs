//! **Beaver multiplication** for every bilinear map: elementwise product, matmul and conv2d are
//! the same protocol with a different ∘.
//!
//! Offline (crypto producer): masks a, b and c = a∘b. server0 gets one 32-byte seed from which it
//! expands ⟨a⟩₀, ⟨b⟩₀, ⟨c⟩₀; server1 gets a seed for ⟨a⟩₁, ⟨b⟩₁ at once and ⟨c⟩₁ = c − ⟨c⟩₀ in
//! full once the producer has computed c (it is needed only at the combine step, so the servers
//! open their masked inputs while the producer multiplies).
//! Online: the servers open e = x − a and f = y − b, then
//! ⟨z⟩ᵢ = ⟨c⟩ᵢ + e∘⟨b⟩ᵢ + ⟨a⟩ᵢ∘f + [i=0]·e∘f, and truncate.
//!
//! **Mask reuse**: a private value is masked and opened once; later products read the cached
//! (⟨a⟩ᵢ, e), so only their fresh operands cost online bytes (tf-encrypted caches the same way).
//! The cache is keyed by name and a mask belongs to the value it was opened for: storing a new
//! value under a name (`PondParty::set`) drops that name's mask.

use super::{Mask, MaskShare, MaskStream, PondParty, ProducerMask, Value};
use crate::context::{Context, Message, Traffic, ValueClass};
use crate::error::{ProtocolError, Result};
use crate::ring::{Ring, Z2k};
use crate::tensor::{self, Tensor};
use rand::SeedableRng;

/// The bilinear map ∘ of a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bilinear {
    /// Elementwise product (with broadcasting).
    Elementwise,
    /// Matrix product.
    MatMul,
    /// NCHW convolution.
    Conv2d { stride: usize, padding: usize },
    /// A convolution's backward map (`crate::gradient`): dW from (X, dY), or dX from (dY, W).
    Gradient(crate::gradient::ConvMap),
}

impl Bilinear {
    /// x ∘ y over the ring.
    pub(crate) fn apply<R: Ring>(self, x: &Tensor<R>, y: &Tensor<R>) -> Result<Tensor<R>> {
        match self {
            Bilinear::Elementwise => tensor::mul(x, y),
            Bilinear::MatMul => tensor::matmul(x, y),
            Bilinear::Conv2d { stride, padding } => tensor::conv2d(x, y, stride, padding),
            Bilinear::Gradient(m) => Ok(m.apply(x, y)),
        }
    }

    /// Ring multiplications of one x ∘ y, for the cost model.
    fn work(self, x: &[usize], y: &[usize], out: &[usize]) -> u64 {
        let n: usize = out.iter().product();
        (match self {
            Bilinear::Elementwise => n,
            Bilinear::MatMul => n * x[1],
            Bilinear::Conv2d { .. } => n * y[1] * y[2] * y[3],
            Bilinear::Gradient(m) => return m.work(),
        }) as u64
    }
}

impl<R: Z2k> PondParty<R> {
    /// The fixed-point product x ∘ y for every public/private combination, truncated back to f
    /// fractional bits.
    pub(crate) fn product(
        &mut self,
        ctx: &mut dyn Context,
        map: Bilinear,
        x: &str,
        y: &str,
        out_shape: &[usize],
    ) -> Result<Value<R>> {
        self.product_consuming(ctx, map, (x, y), out_shape, &[])
    }

    /// [`PondParty::product`], where the operands named in `dying` are read by no later op
    /// ([`crate::protocol::Party::last_use`]): a Beaver product masks a dying operand's share in
    /// place and combines into its opened value's buffer, so fewer fresh tensors are held.
    pub(crate) fn product_consuming(
        &mut self,
        ctx: &mut dyn Context,
        map: Bilinear,
        (x, y): (&str, &str),
        out_shape: &[usize],
        dying: &[String],
    ) -> Result<Value<R>> {
        let shape = out_shape.to_vec();
        if self.get(x)?.is_private() && self.get(y)?.is_private() {
            let z = self.beaver(ctx, map, x, y, out_shape, dying)?;
            let share = self.truncate(ctx, z, out_shape)?;
            return Ok(Value::Private { share, shape });
        }
        self.step(ctx, "local product")?;
        let (vx, vy) = (self.get(x)?, self.get(y)?);
        match (vx, vy) {
            (Value::Public { value: a, .. }, Value::Public { value: b, .. }) => {
                let value = match (a, b) {
                    (Some(a), Some(b)) => Some(self.truncate_public(&map.apply(a, b)?)),
                    _ => None,
                };
                Ok(Value::Public { value, shape })
            }
            (Value::Private { share, .. }, Value::Public { value, .. })
            | (Value::Public { value, .. }, Value::Private { share, .. }) => {
                // Public × private: each server applies ∘ to its share; no triple is needed.
                let z = match (share, value) {
                    (Some(s), Some(p)) => {
                        let z = if vx.is_private() {
                            map.apply(s, p)?
                        } else {
                            map.apply(p, s)?
                        };
                        ctx.charge(map.work(vx.shape(), vy.shape(), out_shape));
                        R::record(ctx, ValueClass::Share, "product (scale 2f)", &z);
                        Some(z)
                    }
                    _ => None,
                };
                let share = self.truncate(ctx, z, out_shape)?;
                Ok(Value::Private { share, shape })
            }
            (Value::Private { .. }, Value::Private { .. }) => unreachable!("handled above"),
        }
    }

    /// Beaver's protocol for x ∘ y with both operands private; returns the server's share of the
    /// untruncated product (scale 2f), `None` at other parties. `dying`: the operands no later op
    /// reads (their shares and masks may be consumed here).
    pub(crate) fn beaver(
        &mut self,
        ctx: &mut dyn Context,
        map: Bilinear,
        x: &str,
        y: &str,
        out_shape: &[usize],
        dying: &[String],
    ) -> Result<Option<Tensor<R>>> {
        let mut fresh: Vec<String> = Vec::new();
        for n in [x, y] {
            if !self.masks.contains_key(n) && !fresh.iter().any(|f| f == n) {
                fresh.push(n.to_string());
            }
        }
        let shapes: Vec<Vec<usize>> = fresh
            .iter()
            .map(|n| self.get(n).map(|v| v.shape().to_vec()))
            .collect::<Result<_>>()?;
        let (s0, s1, cp) = (self.place.server0, self.place.server1, self.place.producer);
        // The planted flaw (tests of the leak checker): one mask for two fresh operands.
        let reuse = self.planted_mask_reuse && fresh.len() == 2 && shapes[0] == shapes[1];

        // Step 1 (offline): the producer deals masks for fresh operands and c = a ∘ b. The seeds
        // go first; ⟨c⟩₁ follows when c is computed.
        self.step(ctx, "deal triple")?;
        // A server's seed stream: its mask shares ⟨a⟩ᵢ, ⟨b⟩ᵢ, then (server0) ⟨c⟩₀, drawn where
        // they are used (issue 11: no mask share is held as a whole tensor).
        let mut server_prg: Option<tensor::Prg> = None;
        if self.is_producer() {
            let (seed0, seed1) = (tensor::fresh_seed(ctx.rng()), tensor::fresh_seed(ctx.rng()));
            ctx.send(
                s0,
                "seed → ⟨a⟩₀, ⟨b⟩₀, ⟨c⟩₀",
                Traffic::Offline,
                Message::seed(&seed0),
            )?;
            ctx.send(
                s1,
                "seed → ⟨a⟩₁, ⟨b⟩₁",
                Traffic::Offline,
                Message::seed(&seed1),
            )?;
            let (mut prg0, mut prg1) =
                (tensor::Prg::from_seed(seed0), tensor::Prg::from_seed(seed1));
            for (k, (n, s)) in fresh.iter().zip(&shapes).enumerate() {
                let a = if k == 1 && reuse {
                    // The planted flaw: the second fresh operand gets the first one's mask.
                    self.producer_mask(&fresh[0])?.clone()
                } else {
                    // a = ⟨a⟩₀ + ⟨a⟩₁: the two streams where its shares start.
                    let a = ProducerMask {
                        s0: prg0.clone(),
                        s1: prg1.clone(),
                        shape: s.clone(),
                    };
                    tensor::skip_random::<R>(&mut prg0, tensor::numel(s));
                    tensor::skip_random::<R>(&mut prg1, tensor::numel(s));
                    a
                };
                let mut mask = a.stream::<R>();
                R::record_with(
                    ctx,
                    ValueClass::Dealt,
                    &format!("mask of {n}"),
                    s,
                    &mut |piece| mask.fill(piece),
                );
                self.masks
                    .insert(n.clone(), Mask::Producer { a: Box::new(a) });
            }
            // prg0 now stands at ⟨c⟩₀.
            let a = self.producer_mask(x)?.clone();
            let b = self.producer_mask(y)?.clone();
            let msg =
                if map == Bilinear::Elementwise && a.shape == out_shape && b.shape == out_shape {
                    // ⟨c⟩₁ = a∘b − ⟨c⟩₀ straight into the message, a piece at a time: no tensor of
                    // a, b or c is built.
                    ctx.charge(map.work(&a.shape, &b.shape, out_shape));
                    let n = tensor::numel(out_shape);
                    let product = |(mut sa, mut sb): (MaskStream<R>, MaskStream<R>)| {
                        let mut tb = tensor::piece_buf::<R>(n);
                        move |piece: &mut [R]| {
                            sa.fill(piece);
                            let tb = &mut tb[..piece.len()];
                            sb.fill(tb);
                            piece
                                .iter_mut()
                                .zip(tb.iter())
                                .for_each(|(c, &b)| *c = c.mul(b));
                        }
                    };
                    let mut c = product((a.stream(), b.stream()));
                    R::record_with(ctx, ValueClass::Dealt, "c = a∘b", out_shape, &mut c);
                    let mut c = product((a.stream(), b.stream()));
                    let mut c0 = tensor::piece_buf::<R>(n);
                    Message::default().and_computed(out_shape, |_, piece| {
                        c(piece);
                        let c0 = &mut c0[..piece.len()];
                        R::random_fill(c0, &mut prg0);
                        piece
                            .iter_mut()
                            .zip(c0.iter())
                            .for_each(|(c, &r)| *c = c.sub(r));
                    })
                } else {
                    let (a, b) = (a.tensor::<R>(), b.tensor::<R>());
                    let mut c = map.apply(&a, &b)?;
                    ctx.charge(map.work(a.shape(), b.shape(), out_shape));
                    if c.shape() != out_shape {
                        return Err(ProtocolError::Shape {
                            op: "beaver".into(),
                            detail: format!("a∘b is {:?}, expected {out_shape:?}", c.shape()),
                        });
                    }
                    drop((a, b));
                    R::record(ctx, ValueClass::Dealt, "c = a∘b", &c);
                    // ⟨c⟩₁ = c − ⟨c⟩₀ in place: c is not needed once recorded.
                    tensor::sub_random_assign(&mut c, &mut prg0);
                    Message::tensor(&c)
                };
            ctx.send(s1, "⟨c⟩₁ = a∘b − ⟨c⟩₀", Traffic::Offline, msg)?;
        }
        if self.server_index().is_some() {
            let seed = tensor::decode_seed(&ctx.recv(cp)?, cp)?;
            server_prg = Some(tensor::Prg::from_seed(seed));
        }

        // Step 2 (online): open e = x − a (and f = y − b) for the fresh operands only.
        self.step(
            ctx,
            if fresh.is_empty() {
                "reuse masks"
            } else {
                "open masked inputs"
            },
        )?;
        // server0's stream after its mask shares: ⟨c⟩₀, expanded at the combine step.
        let mut c_prg: Option<tensor::Prg> = None;
        if let (Some(i), Some(mut prg)) = (self.server_index(), server_prg) {
            if !fresh.is_empty() {
                let expected: usize = shapes.iter().map(|s| R::BYTES * tensor::numel(s)).sum();
                let mut mine: Vec<(MaskShare, Tensor<R>)> = Vec::new();
                for (k, (n, s)) in fresh.iter().zip(&shapes).enumerate() {
                    // ⟨a⟩ᵢ is the stream from here: e_i = x_i − ⟨a⟩ᵢ as it is drawn (the
                    // planted flaw reads the first operand's share again instead).
                    let (share, e_i) = if k == 1 && reuse {
                        let share = mine[0].0.clone();
                        let e_i = self.masked(n, &mut share.prg.clone(), dying)?;
                        (share, e_i)
                    } else {
                        let share = MaskShare {
                            prg: prg.clone(),
                            shape: s.clone(),
                        };
                        (share, self.masked(n, &mut prg, dying)?)
                    };
                    mine.push((share, e_i));
                }
                let mut msg = Message::with_capacity(expected);
                for (_, e_i) in &mine {
                    msg = msg.and(e_i);
                }
                let peer = self.peer(i);
                let label = fresh
                    .iter()
                    .map(|n| format!("⟨{n} − a_{n}⟩{i}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                ctx.send(peer, &label, Traffic::Online, msg)?;
                let theirs = ctx.recv(peer)?;
                if theirs.len() != expected {
                    return Err(ProtocolError::Malformed {
                        from: peer,
                        expected,
                        got: theirs.len(),
                    });
                }
                let mut off = 0;
                for (n, ((a, mut e), s)) in fresh.iter().zip(mine.into_iter().zip(&shapes)) {
                    let len = R::BYTES * tensor::numel(s);
                    // e = ⟨e⟩ᵢ + ⟨e⟩ⱼ, the peer's part added in place as it is decoded.
                    tensor::decode_add_assign(&mut e, &theirs[off..off + len], peer)?;
                    off += len;
                    R::record(ctx, ValueClass::Opened, &opened_label(n, x, reuse), &e);
                    self.masks
                        .insert(n.clone(), Mask::Server { a: Box::new(a), e });
                }
            }
            if i == 0 {
                c_prg = Some(prg);
            }
        }
        if self.server_index().is_none() && !self.is_producer() {
            for n in &fresh {
                self.masks.insert(n.clone(), Mask::Elsewhere);
            }
        }

        // Step 3: ⟨z⟩ᵢ = ⟨c⟩ᵢ + e∘⟨b⟩ᵢ + ⟨a⟩ᵢ∘f + [i=0]·e∘f. By bilinearity server0 folds its two
        // e-terms into one, e∘(⟨b⟩₀ + f), so each server applies ∘ twice.
        self.step(ctx, "combine")?;
        if let Some(i) = self.server_index() {
            // ⟨c⟩ᵢ: server0's stream, or server1's message from the producer.
            let mut c = match c_prg {
                Some(prg) => CShare::Seeded(Box::new(prg)),
                None => {
                    let bytes = ctx.recv(cp)?;
                    let expected = R::BYTES * tensor::numel(out_shape);
                    if bytes.len() != expected {
                        return Err(ProtocolError::Malformed {
                            from: cp,
                            expected,
                            got: bytes.len(),
                        });
                    }
                    CShare::Sent(bytes, cp)
                }
            };
            let z = self.combine_step(map, i, (x, y), out_shape, &mut c, dying)?;
            let (e, f) = (z.1, z.2);
            let z = z.0;
            ctx.charge(2 * map.work(&e, &f, out_shape));
            R::record(ctx, ValueClass::Share, "product (scale 2f)", &z);
            return Ok(Some(z));
        }
        Ok(None)
    }

    /// Server's e_i = x_i − ⟨a⟩ᵢ with ⟨a⟩ᵢ drawn from `prg`: in the share's own buffer when `n`
    /// dies with this op (no later op reads x_i), else into a new tensor.
    fn masked(&mut self, n: &str, prg: &mut tensor::Prg, dying: &[String]) -> Result<Tensor<R>> {
        if dying.iter().any(|d| d == n) {
            if let Some(Value::Private { share, .. }) = self.values.get_mut(n) {
                if let Some(mut t) = share.take() {
                    tensor::sub_random_assign(&mut t, prg);
                    return Ok(t);
                }
            }
        }
        let x = self
            .share_of(n)?
            .ok_or_else(|| ProtocolError::Missing(format!("server holds no share of `{n}`")))?;
        Ok(tensor::zip_random(x, prg, R::sub))
    }

    /// Server `i`'s combine step: its share of the untruncated product, and the shapes of e and
    /// f (for the charge). An elementwise product of operands of the result's shape is one
    /// streamed pass (the mask shares and ⟨c⟩ᵢ drawn a piece at a time), in the buffer of a
    /// dying operand's e (its mask is dropped after this op) or of ⟨c⟩ᵢ; other maps expand the
    /// mask shares whole and combine into ⟨c⟩ᵢ.
    fn combine_step(
        &mut self,
        map: Bilinear,
        i: usize,
        (x, y): (&str, &str),
        out_shape: &[usize],
        c: &mut CShare,
        dying: &[String],
    ) -> Result<(Tensor<R>, Vec<usize>, Vec<usize>)> {
        let (ea, eshape) = {
            let (a, e) = self.server_mask(x)?;
            (a.shape.clone(), e.shape().to_vec())
        };
        let fshape = self.server_mask(y)?.1.shape().to_vec();
        let streamed = map == Bilinear::Elementwise
            && ea == out_shape
            && eshape == out_shape
            && fshape == out_shape
            && self.server_mask(y)?.0.shape == out_shape
            && self.server_mask(x)?.1.is_standard_layout()
            && self.server_mask(y)?.1.is_standard_layout();
        if !streamed {
            let mut z = c.whole(out_shape)?;
            let (a, e) = self.server_mask(x)?;
            let (b, f) = self.server_mask(y)?;
            combine(map, i, &mut z, (&a.tensor(), e), (&b.tensor(), f))?;
            return Ok((z, eshape, fshape));
        }
        // The elementwise product is symmetric in (a, e) and (b, f): the buffer of whichever
        // operand dies becomes z.
        let dies = |n: &str| dying.iter().any(|d| d == n);
        let (x, y) = if !dies(x) && dies(y) { (y, x) } else { (x, y) };
        let z = if dies(x) {
            let Some(Mask::Server { a, mut e }) = self.masks.remove(x) else {
                return Err(ProtocolError::Missing(format!(
                    "server has no mask for `{x}`"
                )));
            };
            let mut pa = a.prg.clone();
            if x == y {
                // A square: f = e and ⟨b⟩ᵢ = ⟨a⟩ᵢ.
                let mut pb = a.prg;
                fused_combine(i, slice_mut(&mut e)?, None, None, Some(c), &mut pa, &mut pb);
            } else {
                let (b, f) = self.server_mask(y)?;
                let mut pb = b.prg.clone();
                let f = Some(slice(f)?);
                fused_combine(i, slice_mut(&mut e)?, None, f, Some(c), &mut pa, &mut pb);
            }
            e
        } else {
            let mut z = c.whole(out_shape)?;
            let (a, e) = self.server_mask(x)?;
            let (b, f) = self.server_mask(y)?;
            let (mut pa, mut pb) = (a.prg.clone(), b.prg.clone());
            fused_combine(
                i,
                slice_mut(&mut z)?,
                Some(slice(e)?),
                Some(slice(f)?),
                None,
                &mut pa,
                &mut pb,
            );
            z
        };
        Ok((z, eshape, fshape))
    }

    fn producer_mask(&self, n: &str) -> Result<&ProducerMask> {
        match self.masks.get(n) {
            Some(Mask::Producer { a }) => Ok(a),
            _ => Err(ProtocolError::Missing(format!(
                "producer has no mask for `{n}`"
            ))),
        }
    }

    fn server_mask(&self, n: &str) -> Result<(&MaskShare, &Tensor<R>)> {
        match self.masks.get(n) {
            Some(Mask::Server { a, e }) => Ok((a, e)),
            _ => Err(ProtocolError::Missing(format!(
                "server has no mask for `{n}`"
            ))),
        }
    }
}

fn slice<R>(t: &Tensor<R>) -> Result<&[R]> {
    t.as_slice()
        .ok_or_else(|| ProtocolError::Missing("a mask in standard layout".into()))
}

fn slice_mut<R>(t: &mut Tensor<R>) -> Result<&mut [R]> {
    t.as_slice_mut()
        .ok_or_else(|| ProtocolError::Missing("a mask in standard layout".into()))
}

/// A server's share ⟨c⟩ᵢ of the triple's product, read where it is used.
enum CShare {
    /// server0: its seed's stream, at ⟨c⟩₀'s first element.
    Seeded(Box<tensor::Prg>),
    /// server1: the producer's message ⟨c⟩₁ (checked to be the result's size).
    Sent(Vec<u8>, crate::context::PartyId),
}

impl CShare {
    /// The whole share as a tensor of `shape`.
    fn whole<R: Z2k>(&mut self, shape: &[usize]) -> Result<Tensor<R>> {
        match self {
            CShare::Seeded(prg) => Ok(tensor::random(shape, prg.as_mut())),
            CShare::Sent(bytes, from) => tensor::decode(bytes, shape, *from),
        }
    }

    /// Elements `at..at + piece.len()` into `piece` (in order: a seeded share is drawn on).
    fn fill<R: Z2k>(&mut self, at: usize, piece: &mut [R]) {
        match self {
            CShare::Seeded(prg) => R::random_fill(piece, prg.as_mut()),
            CShare::Sent(bytes, _) => {
                let words = bytes[at * R::BYTES..].chunks_exact(R::BYTES);
                for (p, w) in piece.iter_mut().zip(words) {
                    *p = R::decode(w);
                }
            }
        }
    }
}

/// Server `i`'s elementwise combine in one pass over `out`:
/// z = c + e·(⟨b⟩₀ + f) + ⟨a⟩₀·f for server0, z = c + e·⟨b⟩₁ + ⟨a⟩₁·f for server1, the mask
/// shares drawn from `a` and `b` a [`tensor::PIECE`] at a time. `e: None`: `out` holds e on
/// entry; `c: None`: `out` holds c on entry (exactly one of the two); `f: None`: f = e (a
/// square). The same ring elements as [`combine`] on whole tensors.
fn fused_combine<R: Z2k>(
    i: usize,
    out: &mut [R],
    e: Option<&[R]>,
    f: Option<&[R]>,
    mut c: Option<&mut CShare>,
    a: &mut tensor::Prg,
    b: &mut tensor::Prg,
) {
    let mut ra = tensor::piece_buf::<R>(out.len());
    let mut rb = tensor::piece_buf::<R>(out.len());
    let mut rc = tensor::piece_buf::<R>(out.len());
    for (k, chunk) in out.chunks_mut(tensor::PIECE).enumerate() {
        let at = k * tensor::PIECE;
        let len = chunk.len();
        R::random_fill(&mut ra[..len], a);
        R::random_fill(&mut rb[..len], b);
        if let Some(c) = c.as_deref_mut() {
            c.fill(at, &mut rc[..len]);
        }
        let held_c = c.is_none();
        for j in 0..len {
            let ek = match e {
                Some(e) => e[at + j],
                None => chunk[j],
            };
            let fk = match f {
                Some(f) => f[at + j],
                None => ek,
            };
            let ck = if held_c { chunk[j] } else { rc[j] };
            chunk[j] = if i == 0 {
                ck.add(ek.mul(rb[j].add(fk))).add(ra[j].mul(fk))
            } else {
                ck.add(ek.mul(rb[j])).add(ra[j].mul(fk))
            };
        }
    }
}

/// Server `i`'s combine step, in place on `z` (its share ⟨c⟩ᵢ on entry):
/// z += e∘(⟨b⟩₀ + f) + ⟨a⟩₀∘f for server0, z += e∘⟨b⟩₁ + ⟨a⟩₁∘f for server1 — the same ring
/// elements whatever order the terms are added in. An elementwise product of operands of z's
/// shape is one pass with no temporary; a matmul accumulates into z with no product buffer.
fn combine<R: Ring>(
    map: Bilinear,
    i: usize,
    z: &mut Tensor<R>,
    (a, e): (&Tensor<R>, &Tensor<R>),
    (b, f): (&Tensor<R>, &Tensor<R>),
) -> Result<()> {
    let same = [a, e, b, f].iter().all(|t| t.shape() == z.shape());
    match map {
        Bilinear::Elementwise if same => {
            if let (Some(zs), Some(a), Some(e), Some(b), Some(f)) = (
                z.as_slice_mut(),
                a.as_slice(),
                e.as_slice(),
                b.as_slice(),
                f.as_slice(),
            ) {
                let terms = zs.iter_mut().zip(a.iter().zip(e)).zip(b.iter().zip(f));
                if i == 0 {
                    for ((z, (&a, &e)), (&b, &f)) in terms {
                        *z = z.add(e.mul(b.add(f))).add(a.mul(f));
                    }
                } else {
                    for ((z, (&a, &e)), (&b, &f)) in terms {
                        *z = z.add(e.mul(b)).add(a.mul(f));
                    }
                }
                return Ok(());
            }
        }
        Bilinear::MatMul => {
            if i == 0 {
                tensor::matmul_acc(e, &tensor::add(b, f)?, z)?;
            } else {
                tensor::matmul_acc(e, b, z)?;
            }
            return tensor::matmul_acc(a, f, z);
        }
        _ => {}
    }
    if i == 0 {
        tensor::add_assign(z, &map.apply(e, &tensor::add(b, f)?)?)?;
    } else {
        tensor::add_assign(z, &map.apply(e, b)?)?;
    }
    tensor::add_assign(z, &map.apply(a, f)?)
}

/// The label of an opened masked operand, in the explain pane's letters: the left operand `x`
/// opens as e = x − a, the right one as f = y − b (b is the right operand's own mask; with the
/// planted mask reuse it is a, and the label says so).
fn opened_label(n: &str, x: &str, reused: bool) -> String {
    if n == x {
        format!("e = {n} − a (masked {n})")
    } else if reused {
        format!("f = {n} − a (masked {n} with {x}'s mask a: reused)")
    } else {
        format!("f = {n} − b (masked {n})")
    }
}

#[cfg(test)]
mod tests {
    use super::opened_label;

    #[test]
    fn opened_labels_use_the_explain_panes_letters() {
        assert_eq!(opened_label("x", "x", false), "e = x − a (masked x)");
        assert_eq!(opened_label("y", "x", false), "f = y − b (masked y)");
        assert_eq!(
            opened_label("w1", "h", true),
            "f = w1 − a (masked w1 with h's mask a: reused)"
        );
    }
}
