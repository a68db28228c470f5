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
