//! **Beaver multiplication** (Beaver, CRYPTO 1991) for n = 3 servers: elementwise product,
//! square and matmul are the same protocol with a different bilinear map ∘.
//!
//! 1. *deal triple* (offline): the dealer draws masks a (x's shape) and b (y's shape), computes
//!    c = a∘b and deals additive shares of all three: server0 and server1 each get a 32-byte
//!    seed that expands to (aᵢ, bᵢ, cᵢ); server2 gets (a₂, b₂, c₂) = (a, b, c) − the expanded
//!    shares, in full. 3 messages, 2·32 + 8(|x| + |y| + |z|) bytes.
//! 2. *open e, f* (online): server i sends eᵢ = xᵢ − aᵢ and fᵢ = yᵢ − bᵢ to each other server;
//!    everyone adds them up to e = x − a and f = y − b. n(n−1) = 6 messages of 8(|x| + |y|)
//!    bytes, one round.
//! 3. *combine*: zᵢ = cᵢ + e∘bᵢ + aᵢ∘f + [i=0]·e∘f, so Σzᵢ = c + e∘b + a∘f + e∘f = x∘y.
//!
//! When both operands are the same value (`square`, or `mul(x, x)`) there is one mask: b = a,
//! f = e, and only e is sent (8|x| bytes per message); the dealer deals (a, c = a∘a).
//! There is no mask reuse across products (Pond has it): every product opens its operands
//! afresh, which keeps the cost a function of the shapes alone.

use super::{AdditiveParty, Value, SERVERS};
use crate::context::{Context, Message, RingKind, Traffic};
use crate::error::{ProtocolError, Result};
use crate::tensor::{self, Prg, Tensor};
use rand::SeedableRng;

/// The bilinear map ∘ of a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bilinear {
    /// Elementwise (NumPy broadcasting).
    Elementwise,
    /// Matrix product of 2-D tensors.
    MatMul,
}

impl Bilinear {
    fn apply(self, x: &Tensor<u64>, y: &Tensor<u64>) -> Result<Tensor<u64>> {
        match self {
            Bilinear::Elementwise => tensor::mul(x, y),
            Bilinear::MatMul => tensor::matmul(x, y),
        }
    }

    /// Ring multiplications of one x ∘ y (for the deterministic compute model).
    fn work(self, x: &[usize], out: &[usize]) -> u64 {
        let n = tensor::numel(out) as u64;
        match self {
            Bilinear::Elementwise => n,
            Bilinear::MatMul => n * x[1] as u64,
        }
    }
}

/// A server's part of a triple: its shares of a, b (a again when both operands are one
/// value) and c.
struct TripleShare {
    a: Tensor<u64>,
    b: Tensor<u64>,
    c: Tensor<u64>,
}

impl AdditiveParty {
    /// The fixed-point product x ∘ y for every public/private mix, truncated back to f
    /// fractional bits. `x == y` (a square) uses one mask.
    pub(crate) fn product(
        &mut self,
        ctx: &mut dyn Context,
        map: Bilinear,
        x: &str,
        y: &str,
        out_shape: &[usize],
    ) -> Result<Value> {
        let (vx, vy) = (self.get(x)?.clone(), self.get(y)?.clone());
        let shape = out_shape.to_vec();
        let z = match (&vx, &vy) {
            (Value::Private { .. }, Value::Private { .. }) => {
                self.beaver(ctx, map, x, y, &vx, &vy, out_shape)?
            }
            (Value::Public { value: a, .. }, Value::Public { value: b, .. }) => {
                ctx.step("local product")?;
                let f = self.settings.fixed.frac_bits;
                let value = match (a, b) {
                    // Exact in the clear: an arithmetic shift of the product.
                    (Some(a), Some(b)) => Some(map.apply(a, b)?.mapv(|v| ((v as i64) >> f) as u64)),
                    _ => None,
                };
                return Ok(Value::Public { value, shape });
            }
            (Value::Private { share, .. }, Value::Public { value, .. })
            | (Value::Public { value, .. }, Value::Private { share, .. }) => {
                ctx.step("local product")?;
                match (share, value) {
                    (Some(s), Some(p)) => {
                        let z = if vx.is_private() {
                            map.apply(s, p)?
                        } else {
                            map.apply(p, s)?
                        };
                        ctx.charge(map.work(vx.shape(), out_shape));
                        ctx.record_share("product (scale 2f)", &z);
                        Some(z)
                    }
                    _ => None,
                }
            }
        };
        let share = self.truncate(ctx, z, out_shape)?;
        Ok(Value::Private { share, shape })
    }

    /// Beaver's protocol for x ∘ y, both private; a server's share of the product at scale 2f
    /// (`None` at every other party).
    #[allow(clippy::too_many_arguments)]
    fn beaver(
        &mut self,
        ctx: &mut dyn Context,
        map: Bilinear,
        x: &str,
        y: &str,
        vx: &Value,
        vy: &Value,
        out_shape: &[usize],
    ) -> Result<Option<Tensor<u64>>> {
        let same = x == y;
        let (sx, sy) = (vx.shape().to_vec(), vy.shape().to_vec());

        // Step 1 (offline): the dealer deals a, b, c = a∘b.
        ctx.step("deal triple")?;
        if self.is_dealer() {
            self.deal_triple(ctx, map, same, &sx, &sy, out_shape)?;
        }
        let triple = match self.server() {
            Some(i) => Some(self.receive_triple(ctx, i, same, &sx, &sy, out_shape)?),
            None => None,
        };

        // Step 2 (online): open e = x − a and f = y − b.
        ctx.step("open e, f")?;
        let (Some(i), Some(t)) = (self.server(), triple) else {
            ctx.step("combine")?;
            return Ok(None);
        };
        let share = |v: &Value| match v {
            Value::Private { share: Some(s), .. } => Ok(s.clone()),
            _ => Err(ProtocolError::Missing(format!("server{i} holds no share"))),
        };
        let e_i = tensor::sub(&share(vx)?, &t.a)?;
        let f_i = tensor::sub(&share(vy)?, &t.b)?;
        let (msg, label, bytes) = if same {
            (
                Message::tensor(&e_i),
                format!("e{i} = ⟨{x}⟩{i} − a{i}"),
                8 * e_i.len(),
            )
        } else {
            (
                Message::tensor(&e_i).and(&f_i),
                format!("e{i} = ⟨{x}⟩{i} − a{i}, f{i} = ⟨{y}⟩{i} − b{i}"),
                8 * (e_i.len() + f_i.len()),
            )
        };
        let theirs = self.exchange(ctx, i, &label, msg, bytes)?;
        let (mut e, mut f) = (e_i.clone(), f_i);
        for (k, m) in theirs.iter().enumerate() {
            let from = self.server_id(if k < i { k } else { k + 1 });
            let cut = 8 * e_i.len();
            tensor::add_assign(&mut e, &tensor::decode(&m[..cut], &sx, from)?)?;
            if !same {
                tensor::add_assign(&mut f, &tensor::decode(&m[cut..], &sy, from)?)?;
            }
        }
        if same {
            f = e.clone();
        }
        ctx.record_opened(&format!("e = {x} − a (masked {x})"), &e);
        if !same {
            ctx.record_opened(&format!("f = {y} − b (masked {y})"), &f);
        }

        // Step 3: zᵢ = cᵢ + e∘bᵢ + aᵢ∘f + [i=0]·e∘f.
        ctx.step("combine")?;
        let mut z = t.c;
        tensor::add_assign(&mut z, &map.apply(&e, &t.b)?)?;
        tensor::add_assign(&mut z, &map.apply(&t.a, &f)?)?;
        if i == 0 {
            tensor::add_assign(&mut z, &map.apply(&e, &f)?)?;
        }
        ctx.charge(3 * map.work(&sx, out_shape));
        ctx.record_share("product (scale 2f)", &z);
        Ok(Some(z))
    }

    /// The dealer's part of step 1.
    fn deal_triple(
        &self,
        ctx: &mut dyn Context,
        map: Bilinear,
        same: bool,
        sx: &[usize],
        sy: &[usize],
        out_shape: &[usize],
    ) -> Result<()> {
        let a: Tensor<u64> = tensor::random(sx, ctx.rng());
        // The planted flaw (leak-checker tests only): b = a for two different operands, so
        // e − f = x − y is in the clear. The servers cannot tell: the bytes are the same.
        let b: Tensor<u64> = if same || (self.reuse_mask && sx == sy) {
            a.clone()
        } else {
            tensor::random(sy, ctx.rng())
        };
        let c = map.apply(&a, &b)?;
        ctx.record_dealt("mask a", RingKind::Z64, &a);
        if !same {
            ctx.record_dealt("mask b", RingKind::Z64, &b);
        }
        ctx.record_dealt("c = a∘b", RingKind::Z64, &c);
        let (mut a_last, mut b_last, mut c_last) = (a, b, c);
        for i in 0..SERVERS - 1 {
            let seed = tensor::fresh_seed(ctx.rng());
            let t = expand_triple(&seed, same, sx, sy, out_shape);
            a_last = tensor::sub(&a_last, &t.a)?;
            b_last = tensor::sub(&b_last, &t.b)?;
            c_last = tensor::sub(&c_last, &t.c)?;
            ctx.send(
                self.server_id(i),
                &format!("seed → a{i}, b{i}, c{i}"),
                Traffic::Offline,
                Message::seed(&seed),
            )?;
        }
        let l = SERVERS - 1;
        let msg = if same {
            Message::tensor(&a_last).and(&c_last)
        } else {
            Message::tensor(&a_last).and(&b_last).and(&c_last)
        };
        ctx.send(
            self.server_id(l),
            &format!("a{l}, b{l}, c{l} = (a, b, c) − the seeded shares"),
            Traffic::Offline,
            msg,
        )?;
        ctx.charge(map.work(sx, out_shape) + (SERVERS * (sx.len() + sy.len())) as u64);
        Ok(())
    }

    /// A server's part of step 1: its triple shares, from a seed or in full.
    fn receive_triple(
        &self,
        ctx: &mut dyn Context,
        i: usize,
        same: bool,
        sx: &[usize],
        sy: &[usize],
        out_shape: &[usize],
    ) -> Result<TripleShare> {
        let dealer = self.dealer_id();
        let msg = ctx.recv(dealer)?;
        if i < SERVERS - 1 {
            let seed = tensor::decode_seed(&msg, dealer)?;
            return Ok(expand_triple(&seed, same, sx, sy, out_shape));
        }
        let (na, nb, nc) = (
            tensor::numel(sx),
            if same { 0 } else { tensor::numel(sy) },
            tensor::numel(out_shape),
        );
        let expected = 8 * (na + nb + nc);
        if msg.len() != expected {
            return Err(ProtocolError::Malformed {
                from: dealer,
                expected,
                got: msg.len(),
            });
        }
        let a: Tensor<u64> = tensor::decode(&msg[..8 * na], sx, dealer)?;
        let b = if same {
            a.clone()
        } else {
            tensor::decode(&msg[8 * na..8 * (na + nb)], sy, dealer)?
        };
        let c = tensor::decode(&msg[8 * (na + nb)..], out_shape, dealer)?;
        Ok(TripleShare { a, b, c })
    }
}

/// The shares a seed expands to: aᵢ, then bᵢ (unless one mask serves both), then cᵢ.
fn expand_triple(
    seed: &[u8; 32],
    same: bool,
    sx: &[usize],
    sy: &[usize],
    out_shape: &[usize],
) -> TripleShare {
    let mut prg = Prg::from_seed(*seed);
    let a: Tensor<u64> = tensor::random(sx, &mut prg);
    let b = if same {
        a.clone()
    } else {
        tensor::random(sy, &mut prg)
    };
    let c = tensor::random(out_shape, &mut prg);
    TripleShare { a, b, c }
}
