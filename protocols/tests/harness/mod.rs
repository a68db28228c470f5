//! The threaded test harness the protocol integration tests share: one thread per party, std
//! mpsc channels per directed link ([`Link`]), and a [`Meter`] that counts messages and bytes and
//! computes causal rounds as PROTOCOLS.md defines them (a message's round is 1 + the highest
//! round its sender had received; online and offline traffic each have their own depth).
//!
//! Each test file keeps its own `Context` impl (what it records differs) on top of these parts.

#![allow(dead_code)]

use protocols::context::PartyRng;
use protocols::context::{Message, Part, PartyId, Traffic};
use protocols::{ProtocolError, Result};
use rand::SeedableRng;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

pub struct Envelope {
    pub payload: Vec<u8>,
    pub parts: Vec<Part>,
    pub traffic: Traffic,
    /// Round relative to the sender's action start.
    pub round: u32,
    /// Round across the whole program (0 where a harness does not track it).
    pub abs_round: u32,
}

/// One party's ends of the links to every other party.
pub struct Link {
    pub me: PartyId,
    tx: Vec<Option<Sender<Envelope>>>,
    rx: Vec<Option<Receiver<Envelope>>>,
}

impl Link {
    pub fn send(&self, to: PartyId, env: Envelope) -> Result<()> {
        self.tx[to]
            .as_ref()
            .expect("link")
            .send(env)
            .map_err(|_| ProtocolError::Transport(format!("party {to} has gone")))
    }

    pub fn recv(&self, from: PartyId) -> Result<Envelope> {
        // A generous bound only turns a protocol deadlock into a test failure instead of a hang.
        match self.rx[from]
            .as_ref()
            .expect("link")
            .recv_timeout(Duration::from_secs(120))
        {
            Ok(e) => Ok(e),
            Err(RecvTimeoutError::Timeout) => Err(ProtocolError::Transport(format!(
                "party {} waits forever for {from} (deadlock)",
                self.me
            ))),
            Err(RecvTimeoutError::Disconnected) => {
                Err(ProtocolError::Transport(format!("party {from} has gone")))
            }
        }
    }

    /// Sends `msg` to `to` as `traffic`, counted (and its round set) by `meter`.
    pub fn send_metered(
        &self,
        meter: &mut Meter,
        to: PartyId,
        traffic: Traffic,
        msg: Message,
    ) -> Result<()> {
        let (payload, parts) = msg.into_parts();
        let round = meter.sent(traffic, payload.len() as u64);
        let env = Envelope {
            payload,
            parts,
            traffic,
            round,
            abs_round: 0,
        };
        self.send(to, env)
    }

    /// Receives from `from`, advancing `meter`'s depth.
    pub fn recv_metered(&self, meter: &mut Meter, from: PartyId) -> Result<Envelope> {
        let env = self.recv(from)?;
        meter.received(&env);
        Ok(env)
    }
}

/// Runs `f` at `parties` parties, one thread each, fully linked; party `me` gets its links and an
/// rng seeded from `seed` and `me`. Returns the parties' results in party order.
pub fn spawn<T: Send>(parties: usize, seed: u64, f: impl Fn(Link, PartyRng) -> T + Sync) -> Vec<T> {
    let mut tx: Vec<Vec<Option<Sender<Envelope>>>> = (0..parties)
        .map(|_| (0..parties).map(|_| None).collect())
        .collect();
    let mut rx: Vec<Vec<Option<Receiver<Envelope>>>> = (0..parties)
        .map(|_| (0..parties).map(|_| None).collect())
        .collect();
    for a in 0..parties {
        for b in 0..parties {
            if a != b {
                let (s, r) = channel();
                tx[a][b] = Some(s);
                rx[b][a] = Some(r);
            }
        }
    }
    std::thread::scope(|sc| {
        let handles: Vec<_> = tx
            .into_iter()
            .zip(rx)
            .enumerate()
            .map(|(me, (tx, rx))| {
                let f = &f;
                sc.spawn(move || {
                    let rng =
                        PartyRng::seed_from_u64(seed.wrapping_mul(1000).wrapping_add(me as u64));
                    f(Link { me, tx, rx }, rng)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("party thread"))
            .collect()
    })
}

/// Costs of one op or action, summed over all senders (rounds: the maximum).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Costs {
    pub online_msgs: u64,
    pub online_bytes: u64,
    pub online_rounds: u32,
    pub offline_msgs: u64,
    pub offline_bytes: u64,
    pub offline_rounds: u32,
}

impl Costs {
    pub fn merge(&mut self, o: &Costs) {
        self.online_msgs += o.online_msgs;
        self.online_bytes += o.online_bytes;
        self.online_rounds = self.online_rounds.max(o.online_rounds);
        self.offline_msgs += o.offline_msgs;
        self.offline_bytes += o.offline_bytes;
        self.offline_rounds = self.offline_rounds.max(o.offline_rounds);
    }
}

/// One party's causal depths (online and offline) and the costs it sent since [`Meter::begin`].
#[derive(Debug, Default, Clone, Copy)]
pub struct Meter {
    pub depth: u32,
    pub offline_depth: u32,
    pub costs: Costs,
}

impl Meter {
    /// Restarts the depths and the costs (a new op or action).
    pub fn begin(&mut self) {
        *self = Meter::default();
    }

    /// Counts a message of `bytes` sent as `traffic`; returns its round.
    pub fn sent(&mut self, traffic: Traffic, bytes: u64) -> u32 {
        match traffic {
            Traffic::Online => {
                self.costs.online_msgs += 1;
                self.costs.online_bytes += bytes;
                let r = self.depth + 1;
                self.costs.online_rounds = self.costs.online_rounds.max(r);
                r
            }
            Traffic::Offline => {
                self.costs.offline_msgs += 1;
                self.costs.offline_bytes += bytes;
                let r = self.offline_depth + 1;
                self.costs.offline_rounds = self.costs.offline_rounds.max(r);
                r
            }
        }
    }

    /// Advances the depth of a received envelope's traffic.
    pub fn received(&mut self, env: &Envelope) {
        match env.traffic {
            Traffic::Online => self.depth = self.depth.max(env.round),
            Traffic::Offline => self.offline_depth = self.offline_depth.max(env.round),
        }
    }
}
