//! Shell completions and man pages, generated from the clap definition in `cli.rs`
//! (`sharescope completions SHELL`, `sharescope man [SUBCOMMAND]`), so they never drift from
//! the options the binary accepts.

use crate::cli::Cli;
use clap::CommandFactory;

/// The completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "sharescope", &mut out);
    out
}

/// What the exit codes mean, for the man page (the same as `cli::Outcome`).
const EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "success (for leak: no evidence of a leak)"),
    (
        "1",
        "a usage error: a wrong command line or scenario, a file that cannot be read",
    ),
    ("2", "an internal error of sharescope"),
    (
        "3",
        "leak found evidence that a party's view depends on another party's secrets",
    ),
    (
        "4",
        "run --strict: a hazard fired or an output's error exceeded the tolerance",
    ),
];

/// The man page (roff) of `sharescope`, or of one of its subcommands (`sharescope-run(1)`).
pub fn man_page(subcommand: Option<&str>) -> Result<Vec<u8>, String> {
    let mut cmd = Cli::command();
    cmd.build();
    let page = match subcommand {
        None => cmd,
        Some(name) => {
            let names: Vec<String> = cmd
                .get_subcommands()
                .map(|s| s.get_name().to_string())
                .filter(|n| n != "help")
                .collect();
            let sub = cmd.find_subcommand(name).cloned().ok_or_else(|| {
                format!("no subcommand `{name}`; the pages are {}", names.join(", "))
            })?;
            let title = format!("sharescope-{}", sub.get_name());
            sub.name(title)
        }
    };
    let man = clap_mangen::Man::new(page);
    let mut out = Vec::new();
    man.render(&mut out)
        .map_err(|e| format!("cannot render the man page: {e}"))?;
    if subcommand.is_none() {
        let mut roff = String::from(".SH \"EXIT STATUS\"\n");
        for (code, meaning) in EXIT_STATUS {
            let meaning = meaning.replace('-', "\\-");
            roff.push_str(&format!(".TP\n\\fB{code}\\fR\n{meaning}\n"));
        }
        roff.push_str(
            ".SH \"SEE ALSO\"\n\\fBsharescope man SUBCOMMAND\\fR prints a subcommand's page; \
             the README and docs/ describe the scenario format and the debugger's keys.\n",
        );
        out.extend_from_slice(roff.as_bytes());
    }
    Ok(out)
}
