//! # sharescope (binary crate)
//!
//! The command line and the terminal debugger. The debugger's state and update live in
//! [`app`]; drawing is pure ([`draw`], [`layout`], one module per pane in [`panes`]); the run
//! itself is driven through `sim::control::Controller`.

pub mod app;
pub mod bench;
pub mod chrome;
pub mod cli;
pub mod command;
pub mod draw;
pub mod format;
pub mod layout;
pub mod line_edit;
pub mod manual;
pub mod panes;
pub mod progress;
pub mod terminal;
pub mod theme;
