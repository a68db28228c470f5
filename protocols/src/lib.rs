//! # sharescope protocols
//!
//! Rings, fixed point, secret sharing and the protocol kernels of sharescope. Pure: no threads,
//! no I/O, no clocks. Kernels reach the world only through [`context::Context`].
//!
//! - [`ring`]: Z_2^64, Z_2^128, the odd ring Z_(2^64−1), Z_67.
//! - [`tensor`]: ring tensors, wire encoding, PRG expansion.
//! - [`prg`]: the seed-expanding PRG (AES-128-CTR).
//! - [`kernels`]: fast ring matmul / conv2d kernels.
//! - [`fixed`]: fixed-point encoding and hazards.
//! - [`fastmap`]: hash maps with a fast fixed hasher for the hot paths.
//! - [`encoded`]: a tensor tagged with its ring (Z_2^64 or Z_2^128), the protocol interface's value.
//! - [`clear`]: ReLU, MaxPool and argmax of public values, shared by the protocols.
//! - [`program`]: the protocol-independent program IR, shape rules and plaintext semantics.
//! - [`protocol`]: the protocol interface ([`protocol::Protocol`], [`protocol::Party`]) and the
//!   registry of protocols scenarios can name.
//! - [`pond`]: tf-encrypted's Pond protocol.
//! - [`securenn`]: SecureNN's exact comparison, ReLU and MaxPool (three parties).
//! - [`aby3`]: ABY3's replicated three-server protocol.
//! - [`additive`]: three-server additive sharing with a dealer, the worked example of
//!   `docs/new-protocol.md`.

pub mod aby3;
pub mod additive;
pub mod clear;
pub mod composite;
pub mod context;
pub mod cost;
pub mod encoded;
pub mod error;
pub mod fastmap;
pub mod fixed;
pub mod gradient;
pub mod kernels;
pub mod local;
pub mod pond;
pub mod prg;
pub mod program;
pub mod protocol;
pub mod ring;
pub mod securenn;
pub mod tensor;

pub use error::{ProtocolError, Result};
