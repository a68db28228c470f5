//! The `sharescope` binary.

// mimalloc: recording the trace makes many small allocations; glibc's malloc made the runtime
// about 1.7× slower per op (measured on the 10,000-multiplication benchmark).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use std::io::Write;
use std::process::ExitCode;
use tui::cli::{execute, Cli, Outcome};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print to stdout and succeed; a wrong command line is the
            // user's error (exit 1, not clap's default 2, which means an internal error here).
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
    };
    // A party thread's panic is caught by the simulator and reported as the run's failure (party,
    // op, step and the panic message); only panics of the main thread print here.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() == Some("main") {
            default_hook(info);
        }
    }));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| execute(cli)))
        .unwrap_or_else(|_| {
            Outcome::Internal("sharescope panicked (see the message above)".into())
        });
    match outcome {
        Outcome::Ok => ExitCode::SUCCESS,
        Outcome::Leak => ExitCode::from(3),
        Outcome::Strict(why) => {
            let _ = writeln!(std::io::stderr(), "strict: {why}");
            ExitCode::from(4)
        }
        // Written without eprintln!, which panics when stderr is gone (a hung-up terminal).
        Outcome::UserError(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e}");
            ExitCode::from(1)
        }
        Outcome::Internal(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "internal error: {e}\nThis is a bug in sharescope; please report it with the scenario file."
            );
            ExitCode::from(2)
        }
    }
}
