//! **ABY3** (Mohassel & Rindal, CCS 2018) as tf-encrypted runs it: three servers, 2-out-of-3
//! replicated sharing over Z_2^64 (arithmetic) and Z_2 (boolean, bit-packed). See `docs/aby3.md`.

pub mod rep;

// Boolean circuits and the exact nonlinear ops (issue 10 §2, "Boolean circuits").
pub mod boolean;
pub mod boolean_cost;
pub mod circuit;
pub mod nonlinear;
