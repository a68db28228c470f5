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

use super::{Mask, PondParty, Value};
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
        let shape = out_shape.to_vec();
        if self.get(x)?.is_private() && self.get(y)?.is_private() {
            let z = self.beaver(ctx, map, x, y, out_shape)?;
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
    /// untruncated product (scale 2f), `None` at other parties.
    pub(crate) fn beaver(
        &mut self,
        ctx: &mut dyn Context,
        map: Bilinear,
        x: &str,
        y: &str,
        out_shape: &[usize],
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
        let mut pending: Vec<(String, Tensor<R>)> = Vec::new();
        // server0's seed stream after its masks: ⟨c⟩₀ is expanded from it at the combine step,
        // where it is needed (issue 11: one tensor less held while the masked inputs open).
        let mut c_prg: Option<tensor::Prg> = None;
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
                    // a = ⟨a⟩₀ + ⟨a⟩₁, the second share added in place as it is expanded.
                    let mut a: Tensor<R> = tensor::random(s, &mut prg0);
                    tensor::add_random_assign(&mut a, &mut prg1);
                    a
                };
                R::record(ctx, ValueClass::Dealt, &format!("mask of {n}"), &a);
                self.masks.insert(n.clone(), Mask::Producer { a });
            }
            let a = self.producer_mask(x)?;
            let b = self.producer_mask(y)?;
            let mut c = map.apply(a, b)?;
            ctx.charge(map.work(a.shape(), b.shape(), out_shape));
            if c.shape() != out_shape {
                return Err(ProtocolError::Shape {
                    op: "beaver".into(),
                    detail: format!("a∘b is {:?}, expected {out_shape:?}", c.shape()),
                });
            }
            R::record(ctx, ValueClass::Dealt, "c = a∘b", &c);
            // ⟨c⟩₁ = c − ⟨c⟩₀ in place: c is not needed once recorded.
            tensor::sub_random_assign(&mut c, &mut prg0);
            ctx.send(
                s1,
                "⟨c⟩₁ = a∘b − ⟨c⟩₀",
                Traffic::Offline,
                Message::tensor(&c),
            )?;
        }
        if let Some(i) = self.server_index() {
            let seed = tensor::decode_seed(&ctx.recv(cp)?, cp)?;
            let mut prg = tensor::Prg::from_seed(seed);
            for (k, (n, s)) in fresh.iter().zip(&shapes).enumerate() {
                let a = if k == 1 && reuse {
                    pending[0].1.clone()
                } else {
                    tensor::random(s, &mut prg)
                };
                pending.push((n.clone(), a));
            }
            if i == 0 {
                c_prg = Some(prg);
            }
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
        if let Some(i) = self.server_index() {
            if !fresh.is_empty() {
                let expected: usize = shapes.iter().map(|s| R::BYTES * tensor::numel(s)).sum();
                let mut msg = Message::with_capacity(expected);
                let mut mine = Vec::new();
                for (n, a) in &pending {
                    let e_i = tensor::sub(self.share_of(n)?.expect("server holds share"), a)?;
                    msg = msg.and(&e_i);
                    mine.push(e_i);
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
                for ((n, a), (mut e, s)) in pending.drain(..).zip(mine.into_iter().zip(&shapes)) {
                    let len = R::BYTES * tensor::numel(s);
                    // e = ⟨e⟩ᵢ + ⟨e⟩ⱼ, the peer's part added in place as it is decoded.
                    tensor::decode_add_assign(&mut e, &theirs[off..off + len], peer)?;
                    off += len;
                    R::record(ctx, ValueClass::Opened, &opened_label(&n, x, reuse), &e);
                    self.masks.insert(n, Mask::Server { a, e });
                }
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
            let mut z = match c_prg {
                Some(mut prg) => tensor::random(out_shape, &mut prg),
                None => tensor::decode(&ctx.recv(cp)?, out_shape, cp)?,
            };
            let (a, e) = self.server_mask(x)?;
            let (b, f) = self.server_mask(y)?;
            combine(map, i, &mut z, (a, e), (b, f))?;
            ctx.charge(2 * map.work(e.shape(), f.shape(), out_shape));
            R::record(ctx, ValueClass::Share, "product (scale 2f)", &z);
            return Ok(Some(z));
        }
        Ok(None)
    }

    fn producer_mask(&self, n: &str) -> Result<&Tensor<R>> {
        match self.masks.get(n) {
            Some(Mask::Producer { a }) => Ok(a),
            _ => Err(ProtocolError::Missing(format!(
                "producer has no mask for `{n}`"
            ))),
        }
    }

    fn server_mask(&self, n: &str) -> Result<(&Tensor<R>, &Tensor<R>)> {
        match self.masks.get(n) {
            Some(Mask::Server { a, e }) => Ok((a, e)),
            _ => Err(ProtocolError::Missing(format!(
                "server has no mask for `{n}`"
            ))),
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
