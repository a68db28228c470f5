//! Input sharing by an input provider and output to a receiver.

use super::rep::{self, Rep};
use super::{steps, Aby3Party, Value};
use crate::context::{Context, Message, PartyId, Traffic, ValueClass};
use crate::error::{ProtocolError, Result};
use crate::pond::InputSharing;
use crate::ring::Z2k;
use crate::tensor::{self, Prg, Tensor};
use rand::{RngCore, SeedableRng};

/// The two 32-byte seeds of x_0 and x_1 derived from the owner's seed t (server0 gets t and
/// expands both; server2 gets only s_0, server1 only s_1).
fn derive_seeds(t: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
    let mut prg = Prg::from_seed(*t);
    let (mut s0, mut s1) = ([0u8; 32], [0u8; 32]);
    prg.fill_bytes(&mut s0);
    prg.fill_bytes(&mut s1);
    (s0, s1)
}

impl<R: Z2k> Aby3Party<R> {
    /// **Input sharing** of `name` by `owner` (n elements), one round.
    ///
    /// The owner splits x = x_0 + x_1 + x_2 and gives server i the pair (x_i, x_{i+1}).
    /// - *Seeded* (the default): x_0 = PRG(s_0), x_1 = PRG(s_1) with (s_0, s_1) = PRG(t) for a
    ///   fresh seed t, and x_2 = x − x_0 − x_1. server0 gets t (32 B), server1 gets s_1 and x_2
    ///   (32 + 8n B), server2 gets x_2 and s_0 (32 + 8n B): 3 messages, 16n + 96 B (with
    ///   16-byte elements at Z_2^128: 32n + 96 B).
    /// - *Dense*: x_0, x_1 uniform, and every server gets both of its components in full:
    ///   3 messages of 16n B, 48n B.
    ///
    /// Either way each server sees two components of which the third (the one it lacks) is
    /// uniform and unknown to it, so its pair is independent of x.
    pub fn share_input(
        &mut self,
        ctx: &mut dyn Context,
        name: &str,
        owner: PartyId,
        shape: &[usize],
        value: Option<&Tensor<R>>,
    ) -> Result<()> {
        self.step(ctx, steps::SHARE_INPUT)?;
        if rep::seat_of(&self.seats, owner).is_some() {
            return Err(ProtocolError::Unsupported(format!(
                "`{name}`: an ABY3 server cannot also be an input provider (it has no link to \
                 itself); add a separate party"
            )));
        }
        let sharing = self.settings.input_sharing;
        let seats = self.seats.clone();
        if ctx.me() == owner {
            let x = value
                .ok_or_else(|| ProtocolError::Missing(format!("owner has no data for `{name}`")))?;
            R::record(ctx, ValueClass::Dealt, &format!("input {name}"), x);
            match sharing {
                InputSharing::Seeded => {
                    let t = tensor::fresh_seed(ctx.rng());
                    let (s0, s1) = derive_seeds(&t);
                    let x0 = tensor::expand_seed::<R>(&s0, shape);
                    let x1 = tensor::expand_seed::<R>(&s1, shape);
                    let x2 = tensor::sub(&tensor::sub(x, &x0)?, &x1)?;
                    ctx.send(
                        seats[0],
                        &format!("seed → {name}0, {name}1"),
                        Traffic::Online,
                        Message::seed(&t),
                    )?;
                    ctx.send(
                        seats[1],
                        &format!("seed → {name}1; {name}2 = {name} − {name}0 − {name}1"),
                        Traffic::Online,
                        Message::seed(&s1).and(&x2),
                    )?;
                    ctx.send(
                        seats[2],
                        &format!("seed → {name}0; {name}2 = {name} − {name}0 − {name}1"),
                        Traffic::Online,
                        Message::seed(&s0).and(&x2),
                    )?;
                }
                InputSharing::Dense => {
                    let x0 = tensor::random::<R, _>(shape, ctx.rng());
                    let x1 = tensor::random::<R, _>(shape, ctx.rng());
                    let x2 = tensor::sub(&tensor::sub(x, &x0)?, &x1)?;
                    let c = [x0, x1, x2];
                    for i in 0..3 {
                        ctx.send(
                            seats[i],
                            &format!("({name}{i}, {name}{})", rep::next(i)),
                            Traffic::Online,
                            Message::tensor(&c[i]).and(&c[rep::next(i)]),
                        )?;
                    }
                }
            }
            ctx.charge(3 * x.len() as u64);
        }
        let share = match self.seat {
            Some(i) => {
                let msg = ctx.recv(owner)?;
                let n8 = R::BYTES * tensor::numel(shape);
                let r = match sharing {
                    InputSharing::Seeded => {
                        let expected = if i == 0 { 32 } else { 32 + n8 };
                        if msg.len() != expected {
                            return Err(ProtocolError::Malformed {
                                from: owner,
                                expected,
                                got: msg.len(),
                            });
                        }
                        let seed = tensor::decode_seed(&msg[..32], owner)?;
                        match i {
                            0 => {
                                let (s0, s1) = derive_seeds(&seed);
                                Rep::new(
                                    tensor::expand_seed(&s0, shape),
                                    tensor::expand_seed(&s1, shape),
                                )
                            }
                            1 => Rep::new(
                                tensor::expand_seed(&seed, shape),
                                tensor::decode(&msg[32..], shape, owner)?,
                            ),
                            _ => Rep::new(
                                tensor::decode(&msg[32..], shape, owner)?,
                                tensor::expand_seed(&seed, shape),
                            ),
                        }
                    }
                    InputSharing::Dense => {
                        if msg.len() != 2 * n8 {
                            return Err(ProtocolError::Malformed {
                                from: owner,
                                expected: 2 * n8,
                                got: msg.len(),
                            });
                        }
                        Rep::new(
                            tensor::decode(&msg[..n8], shape, owner)?,
                            tensor::decode(&msg[n8..], shape, owner)?,
                        )
                    }
                };
                r.record(ctx, name);
                Some(r)
            }
            None => None,
        };
        self.set(
            name,
            Value::Private {
                share,
                shape: shape.to_vec(),
            },
        );
        Ok(())
    }

    /// **Output to a receiver**: each server i sends its x_i (`lo`) to the receiver, which adds
    /// the three (3 messages of 8n B, one round). A public value is sent by server0 alone (8n B).
    /// Returns the encoded value at the receiver.
    pub fn reveal_to(
        &mut self,
        ctx: &mut dyn Context,
        name: &str,
        receiver: PartyId,
    ) -> Result<Option<Tensor<R>>> {
        self.step(ctx, steps::REVEAL_TO)?;
        if rep::seat_of(&self.seats, receiver).is_some() {
            return Err(ProtocolError::Unsupported(format!(
                "`{name}`: an ABY3 server cannot also be an output receiver; add a separate party"
            )));
        }
        let v = self.get(name)?.clone();
        let shape = v.shape().to_vec();
        let seats = self.seats.clone();
        let me = ctx.me();
        match v {
            Value::Private { share, .. } => {
                if let (Some(i), Some(s)) = (self.seat, &share) {
                    ctx.send(
                        receiver,
                        &format!("{name}{i}"),
                        Traffic::Online,
                        Message::tensor(&s.lo),
                    )?;
                }
                if me == receiver {
                    let mut sum = tensor::zeros::<R>(&shape);
                    for &s in &seats {
                        let part: Tensor<R> = tensor::decode(&ctx.recv(s)?, &shape, s)?;
                        sum = tensor::add(&sum, &part)?;
                    }
                    R::record(ctx, ValueClass::Opened, name, &sum);
                    return Ok(Some(sum));
                }
                Ok(None)
            }
            Value::Public { value, .. } => {
                if self.seat == Some(0) {
                    let v = value.as_ref().ok_or_else(|| {
                        ProtocolError::Missing(format!("server0 does not know public `{name}`"))
                    })?;
                    ctx.send(receiver, name, Traffic::Online, Message::tensor(v))?;
                }
                if me == receiver {
                    let v: Tensor<R> = tensor::decode(&ctx.recv(seats[0])?, &shape, seats[0])?;
                    R::record(ctx, ValueClass::Opened, name, &v);
                    return Ok(Some(v));
                }
                Ok(None)
            }
        }
    }
}
