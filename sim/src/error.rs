//! The one error type of the sim crate.

use std::fmt;
use thiserror::Error;

/// A scenario problem with its place in the file and a hint.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioError {
    /// The file (or `<built-in>`).
    pub file: String,
    /// 1-based line, if known.
    pub line: usize,
    /// 1-based column, if known.
    pub col: usize,
    /// The offending line's text, if known.
    pub line_text: String,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            writeln!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.col, self.message
            )?;
            let num = self.line.to_string();
            writeln!(f, "{} | {}", num, self.line_text)?;
            writeln!(
                f,
                "{} | {}^",
                " ".repeat(num.len()),
                " ".repeat(self.col.saturating_sub(1))
            )?;
        } else {
            writeln!(f, "{}: {}", self.file, self.message)?;
        }
        write!(f, "hint: {}", self.hint)
    }
}

/// Everything that can end a simulation run early.
#[derive(Debug, Error)]
pub enum SimError {
    /// The scenario file is malformed or inconsistent.
    #[error("{0}")]
    Scenario(ScenarioError),
    /// A party returned an error or panicked.
    #[error("party `{party}` failed in op `{op}`{}: {message}", step_suffix(.step))]
    PartyFailed {
        /// The failing party.
        party: String,
        /// The program op it was running.
        op: String,
        /// The protocol step it was in.
        step: String,
        /// What went wrong.
        message: String,
    },
    /// Every live party waits for a message that nobody will send.
    #[error("deadlock in op `{op}`: {waits}")]
    Deadlock {
        /// The op where it happened (of the first waiting party).
        op: String,
        /// Who waits for whom, e.g. "server0 waits for producer (finished), ...".
        waits: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The path.
        path: String,
        /// The OS error.
        message: String,
    },
    /// A command-line argument is wrong (e.g. `sharescope leak --party` names no party).
    #[error("{0}")]
    Usage(String),
    /// `sharescope import` refused a model: where (node, op type, position), what, and a hint.
    #[error("{0}")]
    Import(String),
    /// An invariant of the simulator broke (a bug in sharescope).
    #[error("internal error: {0}")]
    Internal(String),
}

/// " (step `name`)", or nothing when the party failed before the op's first step.
fn step_suffix(step: &str) -> String {
    if step.is_empty() {
        String::new()
    } else {
        format!(" (step `{step}`)")
    }
}

impl SimError {
    /// The label of the op the run failed in, for a party's failure or a deadlock.
    pub fn op(&self) -> Option<&str> {
        match self {
            SimError::PartyFailed { op, .. } | SimError::Deadlock { op, .. } => Some(op),
            _ => None,
        }
    }

    /// Whether the error is the user's (exit code 1) rather than sharescope's (exit code 2).
    pub fn is_user_error(&self) -> bool {
        !matches!(self, SimError::Internal(_))
    }
}

impl From<ScenarioError> for SimError {
    fn from(e: ScenarioError) -> Self {
        SimError::Scenario(e)
    }
}

/// Result alias for the sim crate.
pub type Result<T> = std::result::Result<T, SimError>;
