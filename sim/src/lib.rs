//! # sharescope sim
//!
//! Party threads, the simulated network (latency, bandwidth, virtual clock), exact accounting,
//! the trace, step control, scenario loading and the plaintext shadow.
//!
//! ```no_run
//! let plan = sim::scenario::load(std::path::Path::new("scenarios/beaver-multiplication.ron")).unwrap();
//! let result = sim::run(&plan).unwrap();
//! println!("{} online bytes in {} rounds", result.totals.bytes, result.totals.rounds);
//! ```

pub mod attack;
pub mod compare;
pub mod control;
pub mod dag;
pub mod engine;
pub mod error;
pub mod estimate;
pub mod files;
pub mod import;
pub mod leak;
pub mod liveness;
pub mod memory;
pub mod metrics;
pub mod network;
pub mod npy;
mod party;
pub mod profiles;
pub mod progress;
pub mod report;
mod results;
pub mod scenario;
pub mod shadow;
mod steplog;
pub mod trace;
pub mod train;
pub mod units;
pub mod view;

pub use engine::{
    run, run_keeping_partial, FailedRun, OutputValue, Progress, RunResult, Simulation, Totals,
};
pub use error::{Result, ScenarioError, SimError};
pub use party::PartyStatus;
