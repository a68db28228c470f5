//! Input sharing by an input provider and output to a receiver.

use super::{InputSharing, PondParty, Value};
use crate::context::{Context, Message, PartyId, Traffic, ValueClass};
use crate::error::{ProtocolError, Result};
use crate::ring::Z2k;
use crate::tensor::{self, Tensor};

impl<R: Z2k> PondParty<R> {
    /// **Input sharing** of `name` by `owner` (n elements).
    ///
    /// Seeded: the owner draws a seed s, sends s to server0 (32 B) and x − PRG(s) to server1
    /// (8n B). Dense: the owner sends a random ⟨x⟩₀ (8n B) and x − ⟨x⟩₀ (8n B). One round.
    /// (Over Z_2^128 every 8n is 16n; the seed stays 32 B.)
    /// `value` is the encoded input, given only at the owner.
    pub fn share_input(
        &mut self,
        ctx: &mut dyn Context,
        name: &str,
        owner: PartyId,
        shape: &[usize],
        value: Option<&Tensor<R>>,
    ) -> Result<()> {
        self.step(ctx, "share input")?;
        let (s0, s1) = (self.place.server0, self.place.server1);
        if self.me == owner {
            let x = value
                .ok_or_else(|| ProtocolError::Missing(format!("owner has no data for `{name}`")))?;
            // The owner's input is part of its view.
            R::record(ctx, ValueClass::Dealt, &format!("input {name}"), x);
            // Step 1: pick ⟨x⟩₀ (from a seed, or dense); Step 2: ⟨x⟩₁ = x − ⟨x⟩₀.
            let x1 = match self.cfg.input_sharing {
                InputSharing::Seeded => {
                    let seed = tensor::fresh_seed(ctx.rng());
                    ctx.send(
                        s0,
                        &format!("seed → ⟨{name}⟩₀"),
                        Traffic::Online,
                        Message::seed(&seed),
                    )?;
                    // x − PRG(seed), straight into the message as the PRG is expanded (no
                    // tensor for ⟨x⟩₀ or ⟨x⟩₁).
                    let mut prg = <tensor::Prg as rand::SeedableRng>::from_seed(seed);
                    match (x.as_slice(), x.shape() == shape) {
                        (Some(xs), true) => Message::default().and_computed(shape, |at, piece| {
                            R::random_fill(piece, &mut prg);
                            for (p, &v) in piece.iter_mut().zip(&xs[at..]) {
                                *p = v.sub(*p);
                            }
                        }),
                        _ => Message::tensor(&tensor::sub(x, &tensor::random(shape, &mut prg))?),
                    }
                }
                InputSharing::Dense => {
                    let x0 = tensor::random::<R, _>(shape, ctx.rng());
                    ctx.send(
                        s0,
                        &format!("⟨{name}⟩₀"),
                        Traffic::Online,
                        Message::tensor(&x0),
                    )?;
                    Message::tensor(&tensor::sub(x, &x0)?)
                }
            };
            ctx.send(
                s1,
                &format!("⟨{name}⟩₁ = {name} − ⟨{name}⟩₀"),
                Traffic::Online,
                x1,
            )?;
            ctx.charge(2 * x.len() as u64);
        }
        let share = match self.server_index() {
            Some(0) => {
                let msg = ctx.recv(owner)?;
                Some(match self.cfg.input_sharing {
                    InputSharing::Seeded => {
                        tensor::expand_seed(&tensor::decode_seed(&msg, owner)?, shape)
                    }
                    InputSharing::Dense => tensor::decode(&msg, shape, owner)?,
                })
            }
            Some(_) => Some(tensor::decode(&ctx.recv(owner)?, shape, owner)?),
            None => None,
        };
        if let Some(s) = &share {
            R::record(ctx, ValueClass::Share, name, s);
        }
        self.set(
            name,
            Value::Private {
                share,
                shape: shape.to_vec(),
            },
        );
        Ok(())
    }

    /// **Reveal to a receiver**: server0 and server1 each send their share (8n B each, one
    /// round); the receiver adds them. Returns the encoded value at the receiver. A public value
    /// is sent by server0 alone.
    pub fn reveal_to(
        &mut self,
        ctx: &mut dyn Context,
        name: &str,
        receiver: PartyId,
    ) -> Result<Option<Tensor<R>>> {
        self.step(ctx, "reveal to receiver")?;
        let v = self.get(name)?;
        let shape = v.shape().to_vec();
        match v {
            Value::Private { share, .. } => {
                if let (Some(i), Some(s)) = (self.server_index(), share) {
                    ctx.send(
                        receiver,
                        &format!("⟨{name}⟩{i}"),
                        Traffic::Online,
                        Message::tensor(s),
                    )?;
                }
                if self.me == receiver {
                    let (s0, s1) = (self.place.server0, self.place.server1);
                    let mut opened: Tensor<R> = tensor::decode(&ctx.recv(s0)?, &shape, s0)?;
                    tensor::decode_add_assign(&mut opened, &ctx.recv(s1)?, s1)?;
                    R::record(ctx, ValueClass::Opened, name, &opened);
                    return Ok(Some(opened));
                }
                Ok(None)
            }
            Value::Public { value, .. } => {
                // A server already knows a public value; anyone else gets it from server0.
                let receiver_is_server =
                    receiver == self.place.server0 || receiver == self.place.server1;
                if receiver_is_server {
                    return Ok(if self.me == receiver {
                        value.clone()
                    } else {
                        None
                    });
                }
                if self.me == self.place.server0 {
                    let v = value.as_ref().expect("server0 knows public values");
                    ctx.send(receiver, name, Traffic::Online, Message::tensor(v))?;
                }
                if self.me == receiver {
                    let s0 = self.place.server0;
                    let v: Tensor<R> = tensor::decode(&ctx.recv(s0)?, &shape, s0)?;
                    R::record(ctx, ValueClass::Opened, name, &v);
                    return Ok(Some(v));
                }
                Ok(None)
            }
        }
    }
}
