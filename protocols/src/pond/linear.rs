//! Local (communication-free) Pond operations: add, sub, neg, reshapes, reductions, and the
//! opening of a value to both servers.

use super::{PondParty, Value};
use crate::context::ValueClass;
use crate::context::{Context, Message, Traffic};
use crate::error::Result;
use crate::program::Op;
use crate::ring::{Ring, Z2k};
use crate::tensor::{self, Tensor};
use ndarray::IxDyn;

fn broadcast_to<R: Ring>(t: &Tensor<R>, shape: &[usize]) -> Tensor<R> {
    t.broadcast(IxDyn(shape))
        .expect("validated broadcast")
        .to_owned()
}

impl<R: Z2k> PondParty<R> {
    /// Add, sub and neg for every public/private combination. Local: 0 bytes, 0 rounds.
    /// A public addend is added by server0 only, so the sum of shares moves by exactly it.
    pub(crate) fn additive(
        &mut self,
        ctx: &mut dyn Context,
        op: &Op,
        operands: &[String],
        out_shape: &[usize],
    ) -> Result<Value<R>> {
        self.step(ctx, "local")?;
        let args: Vec<Value<R>> = operands
            .iter()
            .map(|n| self.get(n).cloned())
            .collect::<Result<_>>()?;
        let f = |a: &Tensor<R>, b: &Tensor<R>| -> Result<Tensor<R>> {
            match op {
                Op::Add(..) => tensor::add(a, b),
                _ => tensor::sub(a, b),
            }
        };
        let out_shape = out_shape.to_vec();
        let result = match (op, args.as_slice()) {
            (Op::Neg(_), [Value::Private { share, .. }]) => Value::Private {
                share: share.as_ref().map(tensor::neg),
                shape: out_shape,
            },
            (Op::Neg(_), [Value::Public { value, .. }]) => Value::Public {
                value: value.as_ref().map(tensor::neg),
                shape: out_shape,
            },
            (_, [Value::Public { value: a, .. }, Value::Public { value: b, .. }]) => {
                let value = match (a, b) {
                    (Some(a), Some(b)) => Some(f(a, b)?),
                    _ => None,
                };
                Value::Public {
                    value,
                    shape: out_shape,
                }
            }
            (_, [Value::Private { share: a, .. }, Value::Private { share: b, .. }]) => {
                let share = match (a, b) {
                    (Some(a), Some(b)) => Some(f(a, b)?),
                    _ => None,
                };
                Value::Private {
                    share,
                    shape: out_shape,
                }
            }
            (_, [Value::Private { share: a, .. }, Value::Public { value: p, .. }]) => {
                let share = match (self.server_index(), a) {
                    (Some(0), Some(a)) => {
                        Some(f(a, p.as_ref().expect("servers know public values"))?)
                    }
                    (Some(_), Some(a)) => Some(broadcast_to(a, &out_shape)),
                    _ => None,
                };
                Value::Private {
                    share,
                    shape: out_shape,
                }
            }
            (_, [Value::Public { value: p, .. }, Value::Private { share: b, .. }]) => {
                let share = match (self.server_index(), b) {
                    (Some(0), Some(b)) => {
                        Some(f(p.as_ref().expect("servers know public values"), b)?)
                    }
                    (Some(_), Some(b)) => Some(match op {
                        Op::Add(..) => broadcast_to(b, &out_shape),
                        _ => broadcast_to(&tensor::neg(b), &out_shape),
                    }),
                    _ => None,
                };
                Value::Private {
                    share,
                    shape: out_shape,
                }
            }
            _ => unreachable!("arity checked by validation"),
        };
        if let Value::Private { share: Some(s), .. } = &result {
            ctx.charge(s.len() as u64);
            R::record(ctx, ValueClass::Share, "result", s);
        }
        Ok(result)
    }

    /// A local, linear, shape-changing map applied to each share (or to the public value).
    pub(crate) fn unary_local(
        &mut self,
        ctx: &mut dyn Context,
        x: &str,
        out_shape: &[usize],
        f: impl Fn(&Tensor<R>) -> Tensor<R>,
    ) -> Result<Value<R>> {
        self.step(ctx, "local")?;
        let result = match self.get(x)? {
            Value::Private { share, .. } => Value::Private {
                share: share.as_ref().map(&f),
                shape: out_shape.to_vec(),
            },
            Value::Public { value, .. } => Value::Public {
                value: value.as_ref().map(&f),
                shape: out_shape.to_vec(),
            },
        };
        if let Value::Private { share: Some(s), .. } = &result {
            ctx.charge(s.len() as u64);
            R::record(ctx, ValueClass::Share, "result", s);
        }
        Ok(result)
    }

    /// Average pooling: a local window sum, then a public multiply by 1/(k·k) and a truncation.
    pub(crate) fn avgpool2d(
        &mut self,
        ctx: &mut dyn Context,
        x: &str,
        kernel: usize,
        stride: usize,
        out_shape: &[usize],
    ) -> Result<Value<R>> {
        self.step(ctx, "window sum")?;
        let inv: R = self.cfg.fixed.encode_in(1.0 / (kernel * kernel) as f64);
        let pool = |t: &Tensor<R>| -> Tensor<R> {
            let s = t.shape();
            let mut out = tensor::zeros::<R>(out_shape);
            for b in 0..s[0] {
                for c in 0..s[1] {
                    for i in 0..out_shape[2] {
                        for j in 0..out_shape[3] {
                            let mut acc = R::zero();
                            for di in 0..kernel {
                                for dj in 0..kernel {
                                    acc = acc.add(t[[b, c, i * stride + di, j * stride + dj]]);
                                }
                            }
                            out[[b, c, i, j]] = acc.mul(inv);
                        }
                    }
                }
            }
            out
        };
        match self.get(x)?.clone() {
            Value::Public { value, .. } => {
                let value = value.map(|v| self.truncate_public(&pool(&v)));
                Ok(Value::Public {
                    value,
                    shape: out_shape.to_vec(),
                })
            }
            Value::Private { share, .. } => {
                let summed = share.map(|s| pool(&s));
                if let Some(s) = &summed {
                    ctx.charge((s.len() * kernel * kernel) as u64);
                    R::record(ctx, ValueClass::Share, "window sum · 1/k² (scale 2f)", s);
                }
                let share = self.truncate(ctx, summed, out_shape)?;
                Ok(Value::Private {
                    share,
                    shape: out_shape.to_vec(),
                })
            }
        }
    }

    /// Opens a private value to both servers: each sends its share to the other (8n bytes each
    /// over Z_2^64, 16n over Z_2^128; one round). The result is public to the servers.
    pub(crate) fn reveal(&mut self, ctx: &mut dyn Context, x: &str) -> Result<Value<R>> {
        self.step(ctx, "open")?;
        let v = self.get(x)?.clone();
        let shape = v.shape().to_vec();
        match v {
            Value::Public { .. } => Ok(v),
            Value::Private { share, .. } => {
                let value = match (self.server_index(), share) {
                    (Some(i), Some(s)) => {
                        let peer = self.peer(i);
                        ctx.send(
                            peer,
                            &format!("⟨{x}⟩{}", i),
                            Traffic::Online,
                            Message::tensor(&s),
                        )?;
                        let other: Tensor<R> = tensor::decode(&ctx.recv(peer)?, &shape, peer)?;
                        let opened = tensor::add(&s, &other)?;
                        R::record(ctx, ValueClass::Opened, x, &opened);
                        Some(opened)
                    }
                    _ => None,
                };
                Ok(Value::Public { value, shape })
            }
        }
    }
}
