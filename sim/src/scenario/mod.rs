//! Scenario files: parsing (with file:line:col errors), semantic validation and the resolved
//! [`Plan`] the simulator runs.

mod format;
mod validate;

pub use format::*;
pub use validate::{Plan, PlannedInput, PlannedOp};

use crate::error::{ScenarioError, SimError};
use std::path::{Path, PathBuf};

/// The default scenario built into the binary.
pub const BUILTIN_DEFAULT: &str = include_str!("../../../scenarios/beaver-multiplication.ron");
/// The name shown for the built-in scenario.
pub const BUILTIN_NAME: &str = "<built-in: scenarios/beaver-multiplication.ron>";

/// Where the scenario text came from (for error messages and relative `.npy` paths).
#[derive(Debug, Clone)]
pub struct Source {
    /// Display name (a path or `<built-in>`).
    pub name: String,
    /// The directory relative data paths are resolved against.
    pub dir: PathBuf,
    /// The text.
    pub text: String,
}

impl Source {
    /// Reads a scenario file.
    pub fn from_file(path: &Path) -> Result<Source, SimError> {
        let text = std::fs::read_to_string(path).map_err(|e| SimError::Io {
            path: path.display().to_string(),
            message: format!("cannot read scenario: {e}"),
        })?;
        Ok(Source {
            name: path.display().to_string(),
            dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            text,
        })
    }

    /// The built-in default scenario.
    pub fn builtin() -> Source {
        Source {
            name: BUILTIN_NAME.into(),
            dir: PathBuf::from("scenarios"),
            text: BUILTIN_DEFAULT.into(),
        }
    }

    /// The error for a problem at (line, col), quoting the line.
    pub fn error_at(
        &self,
        line: usize,
        col: usize,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError {
            file: self.name.clone(),
            line,
            col,
            line_text: self
                .text
                .lines()
                .nth(line.saturating_sub(1))
                .unwrap_or("")
                .to_string(),
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// The error for a problem found at the place the anchors lead to: each anchor is searched
    /// after the previous one's position; the position of the last one found is reported.
    pub fn error_near(
        &self,
        anchors: &[&str],
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> ScenarioError {
        let (line, col) = self.locate(anchors);
        self.error_at(line, col, message, hint)
    }

    /// 1-based (line, col) after following `anchors`, or (0, 0) if the first is absent.
    pub fn locate(&self, anchors: &[&str]) -> (usize, usize) {
        let mut pos = None;
        let mut from = 0;
        for a in anchors {
            match self.text[from..].find(a) {
                Some(i) => {
                    pos = Some(from + i);
                    from += i + a.len();
                }
                None => break,
            }
        }
        match pos {
            None => (0, 0),
            Some(p) => {
                let before = &self.text[..p];
                let line = before.matches('\n').count() + 1;
                let col = before
                    .rsplit('\n')
                    .next()
                    .map(|l| l.chars().count())
                    .unwrap_or(0)
                    + 1;
                (line, col)
            }
        }
    }
}

/// Parses scenario text (syntax and field names only).
pub fn parse(source: &Source) -> Result<Scenario, ScenarioError> {
    // `implicit_some` lets users write `latency_us: 5` for an optional field instead of `Some(5)`.
    let opts =
        ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
    opts.from_str::<Scenario>(&source.text).map_err(|e| {
        let msg = e.code.to_string();
        let hint = if msg.contains("Unexpected field") || msg.contains("unknown field") || msg.contains("NoSuchStructField") {
            "check the spelling; every field is listed in docs/scenario-format.md"
        } else if msg.contains("missing field") || msg.contains("Unexpected missing field") {
            "add the field; required fields are listed in docs/scenario-format.md"
        } else if msg.contains("variant") {
            "use one of the variants listed in docs/scenario-format.md"
        } else {
            "this is RON syntax: structs are `Name(field: value, ...)`, lists `[a, b]`, strings \"double-quoted\""
        };
        source.error_at(e.position.line, e.position.col, msg, hint)
    })
}

/// Loads, parses and validates a scenario file into a runnable plan.
pub fn load(path: &Path) -> Result<Plan, SimError> {
    let source = Source::from_file(path)?;
    Ok(Plan::new(&source, parse(&source)?)?)
}

/// Parses and validates scenario text.
pub fn load_source(source: &Source) -> Result<Plan, SimError> {
    Ok(Plan::new(source, parse(source)?)?)
}
