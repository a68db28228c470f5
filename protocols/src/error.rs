//! The one error type of the protocols crate.

use thiserror::Error;

/// Everything that can go wrong inside a protocol kernel.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ProtocolError {
    /// The transport could not deliver or receive a message (the run was aborted, a peer is gone).
    #[error("transport: {0}")]
    Transport(String),
    /// A received message did not have the size the protocol expects.
    #[error("malformed message from party {from}: expected {expected} bytes, got {got}")]
    Malformed {
        /// Sender of the message.
        from: usize,
        /// Bytes the protocol expected.
        expected: usize,
        /// Bytes that arrived.
        got: usize,
    },
    /// Operand shapes do not fit the operation.
    #[error("shape mismatch in {op}: {detail}")]
    Shape {
        /// The operation.
        op: String,
        /// What does not fit.
        detail: String,
    },
    /// A value the op needs is not held by this party in the form the op needs.
    #[error("{0}")]
    Missing(String),
    /// The operation is not supported by this protocol.
    #[error("unsupported: {0}")]
    Unsupported(String),
}

/// Result alias for the protocols crate.
pub type Result<T> = std::result::Result<T, ProtocolError>;
