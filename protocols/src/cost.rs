//! What an op costs on the wire, as a protocol's documented formulas state it: bytes and
//! messages, online and offline, and online rounds.
//!
//! Each protocol states its formulas in its own `cost` module ([`crate::pond::cost`],
//! [`crate::securenn::cost`]); the tests run every op and assert the simulator's accounting is
//! exactly these, and `sharescope check` prints them before anything runs.

use serde::Serialize;

/// Bytes of one element of Z_2^64 (and of the odd ring Z_(2^64−1)).
pub const ELEMENT: u64 = 8;
/// Bytes of a PRG seed or key.
pub const SEED: u64 = 32;

/// The accounting of one op, or of a part of one: the same figures the simulator's trace keeps
/// per op (`OpStats`), under the same names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Cost {
    /// Online bytes (payload lengths only).
    pub bytes: u64,
    /// Offline (dealer) bytes.
    pub offline_bytes: u64,
    /// Online messages.
    pub messages: u64,
    /// Offline messages.
    pub offline_messages: u64,
    /// Online rounds: the causal depth of the op's online messages, counted from the op's start.
    pub rounds: u32,
}

impl Cost {
    /// Nothing sent (a local op).
    pub const ZERO: Cost = Cost {
        bytes: 0,
        offline_bytes: 0,
        messages: 0,
        offline_messages: 0,
        rounds: 0,
    };

    /// `self`, then `next` causally after it: traffic adds up and so do rounds.
    pub fn then(self, next: Cost) -> Cost {
        Cost {
            bytes: self.bytes + next.bytes,
            offline_bytes: self.offline_bytes + next.offline_bytes,
            messages: self.messages + next.messages,
            offline_messages: self.offline_messages + next.offline_messages,
            rounds: self.rounds + next.rounds,
        }
    }

    /// `self` repeated `k` times one after another.
    pub fn times(self, k: u64) -> Cost {
        Cost {
            bytes: self.bytes * k,
            offline_bytes: self.offline_bytes * k,
            messages: self.messages * k,
            offline_messages: self.offline_messages * k,
            rounds: self.rounds * k as u32,
        }
    }
}

/// The most seats a protocol may have: the parties whose causal depth an op moves, indexed like
/// the protocol's roles (Pond: server0 (P0), server1 (P1) and the producer (the dealer,
/// SecureNN's helper P2), in that order; ABY3: its three servers).
pub const FLOW_PARTIES: usize = 4;

/// How an op moves the online causal depths of server0, server1 and the producer (the round
/// rule of PROTOCOLS.md: a message's round is 1 + the highest round its sender had received).
///
/// A max-plus linear map: `gain[j][i]` is the most rounds a causal chain adds from party i's
/// depth at the op's start to party j's depth at its end (`None`: no chain), and `reach[i]` the
/// most rounds from party i's start depth to the op's deepest online message. Composing the
/// message patterns of a protocol in the order each party runs them gives the op's flow exactly;
/// it does not depend on the sizes of the tensors, only on who sends to whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    gain: [[Option<u32>; FLOW_PARTIES]; FLOW_PARTIES],
    reach: [Option<u32>; FLOW_PARTIES],
}

fn plus(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    Some(a? + b?)
}

impl Flow {
    /// No online message: every depth stays.
    pub const LOCAL: Flow = Flow {
        gain: [
            [Some(0), None, None, None],
            [None, Some(0), None, None],
            [None, None, Some(0), None],
            [None, None, None, Some(0)],
        ],
        reach: [None; FLOW_PARTIES],
    };

    /// Party `from` sends one message to each party in `to` (one round, nothing received first).
    pub fn send(from: usize, to: &[usize]) -> Flow {
        let mut f = Flow::LOCAL;
        for &j in to {
            f.gain[j][from] = Some(1);
        }
        f.reach[from] = Some(1);
        f
    }

    /// server0 and server1 send each other one message, crossing (an opening): one round.
    pub fn exchange() -> Flow {
        Flow::send(0, &[1]).beside(Flow::send(1, &[0]))
    }

    /// server0 and server1 each send the producer (SecureNN's helper) one message.
    pub fn to_helper() -> Flow {
        Flow::send(0, &[2]).beside(Flow::send(1, &[2]))
    }

    /// Two patterns whose messages do not depend on each other (each party sends the messages of
    /// both before it receives those of either).
    pub fn beside(self, other: Flow) -> Flow {
        let mut f = self;
        for j in 0..FLOW_PARTIES {
            for i in 0..FLOW_PARTIES {
                f.gain[j][i] = f.gain[j][i].max(other.gain[j][i]);
            }
            f.reach[j] = f.reach[j].max(other.reach[j]);
        }
        f
    }

    /// `self`, then `next`: every party runs its part of `next` after its part of `self`.
    pub fn then(self, next: Flow) -> Flow {
        let mut f = Flow {
            gain: [[None; FLOW_PARTIES]; FLOW_PARTIES],
            reach: self.reach,
        };
        for i in 0..FLOW_PARTIES {
            for k in 0..FLOW_PARTIES {
                for j in 0..FLOW_PARTIES {
                    f.gain[j][i] = f.gain[j][i].max(plus(next.gain[j][k], self.gain[k][i]));
                }
                f.reach[i] = f.reach[i].max(plus(next.reach[k], self.gain[k][i]));
            }
        }
        f
    }

    /// `self` repeated `k` times.
    pub fn times(self, k: u64) -> Flow {
        (0..k).fold(Flow::LOCAL, |acc, _| acc.then(self))
    }

    /// The depths after the op from the depths `before` it (one per seat, at most
    /// [`FLOW_PARTIES`]; missing seats count as depth 0), and the round of its deepest online
    /// message (`None` if it sends none). The result has `before.len()` depths.
    pub fn apply(&self, before: &[u32]) -> (Vec<u32>, Option<u32>) {
        let n = before.len().min(FLOW_PARTIES);
        let depth = |i: usize| Some(before.get(i).copied().unwrap_or(0));
        let after = (0..n)
            .map(|j| {
                (0..n)
                    .filter_map(|i| plus(self.gain[j][i], depth(i)))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let deepest = (0..n).filter_map(|i| plus(self.reach[i], depth(i))).max();
        (after, deepest)
    }

    /// The op's own rounds: the depth of its deepest message counted from the op's start.
    pub fn rounds(&self) -> u32 {
        self.apply(&[0; FLOW_PARTIES]).1.unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_opening_is_one_round_and_two_in_a_row_are_two() {
        assert_eq!(Flow::LOCAL.rounds(), 0);
        assert_eq!(Flow::exchange().rounds(), 1);
        assert_eq!(Flow::exchange().then(Flow::exchange()).rounds(), 2);
        assert_eq!(Flow::exchange().beside(Flow::exchange()).rounds(), 1);
        // Each server sends at its own depth + 1 and then hears the other's: the shallower one
        // ends one past the deeper one, which stays (its message went out at 6, the other's at 4).
        assert_eq!(Flow::exchange().apply(&[3, 5, 0]), (vec![6, 5, 0], Some(6)));
    }

    #[test]
    fn a_chain_through_the_helper_leaves_the_servers_at_different_depths() {
        // Both servers → helper → server1: server0 never hears of it.
        let f = Flow::to_helper().then(Flow::send(2, &[1]));
        assert_eq!(f.apply(&[4, 4, 0]), (vec![4, 6, 5], Some(6)));
        // An opening after it: server0 sends at 5, server1 at 7.
        let g = f.then(Flow::exchange());
        assert_eq!(g.apply(&[4, 4, 0]), (vec![7, 6, 5], Some(7)));
        assert_eq!(g.rounds(), 3);
    }
}
