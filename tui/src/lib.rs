//! # sharescope (binary crate)
//!
//! The command line and the terminal debugger.

pub mod cli;
