//! The one door between protocol kernels and the world.
//!
//! Kernels never touch threads, sockets or clocks. They send and receive byte strings, draw
//! randomness, mark protocol steps and record values through [`Context`]. The simulator implements
//! it over in-memory channels with a network model; a socket implementation could run the same
//! kernels for real.

use crate::error::Result;
use crate::tensor::Tensor;
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};

/// Index of a party in the run (see the protocol's placement for which index plays which role).
pub type PartyId = usize;

/// Whether a message belongs to the online phase or to the dealer's offline phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Traffic {
    /// Data-dependent traffic between the parties during evaluation.
    Online,
    /// Correlated randomness from a dealer (crypto producer / helper), independent of the data.
    Offline,
}

/// What a protocol kernel may do besides computing.
pub trait Context {
    /// This party's index.
    fn me(&self) -> PartyId;
    /// Sends `payload` to party `to`. `label` says what the message carries (e.g. "e = x − a"),
    /// for the trace; the payload is the exact wire encoding and its length is what is counted.
    fn send(&mut self, to: PartyId, label: &str, traffic: Traffic, payload: Vec<u8>) -> Result<()>;
    /// Receives the next message from party `from` (links are FIFO).
    fn recv(&mut self, from: PartyId) -> Result<Vec<u8>>;
    /// This party's private randomness (a ChaCha stream derived from the scenario seed).
    fn rng(&mut self) -> &mut ChaCha20Rng;
    /// Ends the current protocol step and starts the one named `name`. Every party calls the same
    /// sequence of steps for an op, whether or not it has work in them, so steps line up.
    fn step(&mut self, name: &str) -> Result<()>;
    /// Records this party's share (or local value) `label` at the current step.
    fn record_share(&mut self, label: &str, share: &Tensor<u64>);
    /// Records a value that was opened (is known in the clear to this party) at the current step.
    fn record_opened(&mut self, label: &str, value: &Tensor<u64>);
    /// Declares `ring_ops` ring operations of local work (used by the deterministic cost model).
    fn charge(&mut self, ring_ops: u64);
}
