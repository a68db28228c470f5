//! The `sharescope` binary.

use clap::Parser;
use std::process::ExitCode;
use tui::cli::{execute, Cli, Outcome};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match execute(cli) {
        Outcome::Ok => ExitCode::SUCCESS,
        Outcome::UserError(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
        Outcome::Internal(e) => {
            eprintln!("internal error: {e}\nThis is a bug in sharescope; please report it with the scenario file.");
            ExitCode::from(2)
        }
    }
}
