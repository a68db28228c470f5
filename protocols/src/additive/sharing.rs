//! Input sharing, opening, output to a receiver, and the local (linear) ops.

use super::{AdditiveParty, Value, SERVERS};
use crate::context::{Context, Message, PartyId, RingKind, Traffic};
use crate::error::{ProtocolError, Result};
use crate::pond::InputSharing;
use crate::program::Op;
use crate::tensor::{self, Tensor};
use ndarray::IxDyn;

impl AdditiveParty {
    /// **Input sharing** of `owner`'s `name` (n elements), one round, 3 messages.
    ///
    /// Seeded (the default): the owner sends server0 and server1 a 32-byte seed each, from which
    /// they expand x₀ and x₁, and server2 x₂ = x − x₀ − x₁ in full (2·32 + 8n bytes). Dense: the
    /// owner sends every server its share in full (3·8n bytes). Both give the same distribution
    /// (x₀, x₁ uniform); seeded is the default because it sends a third of the bytes, dense
    /// because a learner can read every share on the wire.
    pub(crate) fn input(
        &mut self,
        ctx: &mut dyn Context,
        name: &str,
        owner: PartyId,
        shape: &[usize],
        value: Option<&Tensor<u64>>,
    ) -> Result<()> {
        ctx.step("share input")?;
        let seeded = self.settings.input_sharing == InputSharing::Seeded;
        if self.me == owner {
            let x = value
                .ok_or_else(|| ProtocolError::Missing(format!("owner has no data for `{name}`")))?;
            ctx.record_dealt(&format!("input {name}"), RingKind::Z64, x);
            // x₂ = x − x₀ − x₁, the first SERVERS − 1 shares random.
            let mut last = x.clone();
            for i in 0..SERVERS - 1 {
                let to = self.server_id(i);
                let share = if seeded {
                    let seed = tensor::fresh_seed(ctx.rng());
                    ctx.send(
                        to,
                        &format!("seed → ⟨{name}⟩{i}"),
                        Traffic::Online,
                        Message::seed(&seed),
                    )?;
                    tensor::expand_seed::<u64>(&seed, shape)
                } else {
                    let share = tensor::random::<u64, _>(shape, ctx.rng());
                    ctx.send(
                        to,
                        &format!("⟨{name}⟩{i}"),
                        Traffic::Online,
                        Message::tensor(&share),
                    )?;
                    share
                };
                last = tensor::sub(&last, &share)?;
            }
            let l = SERVERS - 1;
            ctx.send(
                self.server_id(l),
                &format!("⟨{name}⟩{l} = {name} − ⟨{name}⟩0 − ⟨{name}⟩1"),
                Traffic::Online,
                Message::tensor(&last),
            )?;
            ctx.charge((SERVERS * x.len()) as u64);
        }
        let share = match self.server() {
            Some(i) => {
                let msg = ctx.recv(owner)?;
                Some(if seeded && i < SERVERS - 1 {
                    tensor::expand_seed(&tensor::decode_seed(&msg, owner)?, shape)
                } else {
                    tensor::decode(&msg, shape, owner)?
                })
            }
            None => None,
        };
        if let Some(s) = &share {
            ctx.record_share(name, s);
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

    /// Server `i` sends `msg` to every other server, then receives one message of `expected`
    /// bytes from each, in seat order: one round, n(n−1) messages over all servers.
    pub(crate) fn exchange(
        &self,
        ctx: &mut dyn Context,
        i: usize,
        label: &str,
        msg: Message,
        expected: usize,
    ) -> Result<Vec<Vec<u8>>> {
        for j in (0..SERVERS).filter(|&j| j != i) {
            ctx.send(self.server_id(j), label, Traffic::Online, msg.clone())?;
        }
        let mut got = Vec::with_capacity(SERVERS - 1);
        for j in (0..SERVERS).filter(|&j| j != i) {
            let from = self.server_id(j);
            let bytes = ctx.recv(from)?;
            if bytes.len() != expected {
                return Err(ProtocolError::Malformed {
                    from,
                    expected,
                    got: bytes.len(),
                });
            }
            got.push(bytes);
        }
        Ok(got)
    }

    /// Server `i` opens its share `s` of a value of `shape` to every server: the sum of all
    /// shares.
    pub(crate) fn open_shares(
        &self,
        ctx: &mut dyn Context,
        i: usize,
        label: &str,
        s: &Tensor<u64>,
    ) -> Result<Tensor<u64>> {
        let theirs = self.exchange(ctx, i, label, Message::tensor(s), 8 * s.len())?;
        let mut sum = s.clone();
        for (k, bytes) in theirs.iter().enumerate() {
            let from = self.server_id(if k < i { k } else { k + 1 });
            tensor::add_assign(&mut sum, &tensor::decode(bytes, s.shape(), from)?)?;
        }
        ctx.charge((SERVERS * s.len()) as u64);
        Ok(sum)
    }

    /// **Reveal** (`Op::Reveal`): every server sends its share to every other one (6 messages of
    /// 8n bytes, one round); the value is public to the servers. A public value stays public.
    pub(crate) fn open(&mut self, ctx: &mut dyn Context, x: &str, v: &Value) -> Result<Value> {
        ctx.step("open")?;
        let shape = v.shape().to_vec();
        match v {
            Value::Public { .. } => Ok(v.clone()),
            Value::Private { share, .. } => {
                let value = match (self.server(), share) {
                    (Some(i), Some(s)) => {
                        let opened = self.open_shares(ctx, i, &format!("⟨{x}⟩{i}"), s)?;
                        ctx.record_opened(x, &opened);
                        Some(opened)
                    }
                    _ => None,
                };
                Ok(Value::Public { value, shape })
            }
        }
    }

    /// **Output to a receiver** (never a server: scenarios keep them apart): every server sends
    /// its share (3 messages of 8n bytes, one round) and the receiver adds them. A public value
    /// is sent by server0 alone (8n bytes).
    pub(crate) fn output(
        &mut self,
        ctx: &mut dyn Context,
        name: &str,
        receiver: PartyId,
    ) -> Result<Option<Tensor<u64>>> {
        ctx.step("output")?;
        let v = self.get(name)?.clone();
        let shape = v.shape().to_vec();
        let senders: Vec<usize> = match &v {
            Value::Private { .. } => (0..SERVERS).collect(),
            Value::Public { .. } => vec![0],
        };
        if let Some(i) = self.server().filter(|i| senders.contains(i)) {
            let (label, t) = match &v {
                Value::Private { share, .. } => (format!("⟨{name}⟩{i}"), share.as_ref()),
                Value::Public { value, .. } => (name.to_string(), value.as_ref()),
            };
            let t = t.ok_or_else(|| {
                ProtocolError::Missing(format!("server{i} holds nothing of `{name}`"))
            })?;
            ctx.send(receiver, &label, Traffic::Online, Message::tensor(t))?;
        }
        if self.me != receiver {
            return Ok(None);
        }
        let mut sum = tensor::zeros::<u64>(&shape);
        for i in senders {
            let from = self.server_id(i);
            tensor::add_assign(&mut sum, &tensor::decode(&ctx.recv(from)?, &shape, from)?)?;
        }
        ctx.record_opened(name, &sum);
        Ok(Some(sum))
    }

    /// Add, sub and neg for every public/private mix. Local. A public addend is added by server0
    /// only, so the sum of the shares moves by exactly it.
    pub(crate) fn linear(
        &mut self,
        ctx: &mut dyn Context,
        op: &Op,
        args: &[Value],
        out_shape: &[usize],
    ) -> Result<Value> {
        ctx.step("local")?;
        let sub = matches!(op, Op::Sub(..));
        let f = |a: &Tensor<u64>, b: &Tensor<u64>| {
            if sub {
                tensor::sub(a, b)
            } else {
                tensor::add(a, b)
            }
        };
        let widen = |t: Tensor<u64>| -> Tensor<u64> {
            t.broadcast(IxDyn(out_shape))
                .expect("validated broadcast")
                .to_owned()
        };
        let shape = out_shape.to_vec();
        let server0 = self.server() == Some(0);
        let result = match args {
            [Value::Private { share, .. }] => Value::Private {
                share: share.as_ref().map(tensor::neg),
                shape,
            },
            [Value::Public { value, .. }] => Value::Public {
                value: value.as_ref().map(tensor::neg),
                shape,
            },
            [Value::Public { value: a, .. }, Value::Public { value: b, .. }] => Value::Public {
                value: match (a, b) {
                    (Some(a), Some(b)) => Some(f(a, b)?),
                    _ => None,
                },
                shape,
            },
            [Value::Private { share: a, .. }, Value::Private { share: b, .. }] => Value::Private {
                share: match (a, b) {
                    (Some(a), Some(b)) => Some(f(a, b)?),
                    _ => None,
                },
                shape,
            },
            [Value::Private { share: a, .. }, Value::Public { value: p, .. }] => Value::Private {
                share: match (a, p) {
                    (Some(a), Some(p)) if server0 => Some(f(a, p)?),
                    (Some(a), _) => Some(widen(a.clone())),
                    (None, _) => None,
                },
                shape,
            },
            [Value::Public { value: p, .. }, Value::Private { share: b, .. }] => Value::Private {
                share: match (p, b) {
                    (Some(p), Some(b)) if server0 => Some(f(p, b)?),
                    (_, Some(b)) if sub => Some(widen(tensor::neg(b))),
                    (_, Some(b)) => Some(widen(b.clone())),
                    (_, None) => None,
                },
                shape,
            },
            _ => {
                return Err(ProtocolError::Shape {
                    op: op.kind().into(),
                    detail: format!("expected 1 or 2 operands, got {}", args.len()),
                })
            }
        };
        if let Value::Private { share: Some(s), .. } = &result {
            ctx.charge(s.len() as u64);
            ctx.record_share("result", s);
        }
        Ok(result)
    }

    /// A local linear map that moves or sums elements (reduce_sum, transpose, reshape,
    /// flatten), applied to each share or to the public value.
    pub(crate) fn reshaping(
        &mut self,
        ctx: &mut dyn Context,
        x: &Value,
        out_shape: &[usize],
        f: impl Fn(&Tensor<u64>) -> Tensor<u64>,
    ) -> Result<Value> {
        ctx.step("local")?;
        let shape = out_shape.to_vec();
        let result = match x {
            Value::Private { share, .. } => Value::Private {
                share: share.as_ref().map(&f),
                shape,
            },
            Value::Public { value, .. } => Value::Public {
                value: value.as_ref().map(&f),
                shape,
            },
        };
        if let Value::Private { share: Some(s), .. } = &result {
            ctx.charge(s.len() as u64);
            ctx.record_share("result", s);
        }
        Ok(result)
    }
}
