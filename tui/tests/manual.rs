//! `sharescope completions SHELL` and `sharescope man [SUBCOMMAND]` (issue 9, item 20): generated
//! from the clap definition, so every subcommand is in them.

use std::process::{Command, Output};

const SUBCOMMANDS: [&str; 7] = [
    "run",
    "check",
    "debug",
    "compare",
    "leak",
    "completions",
    "man",
];

fn sharescope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sharescope"))
        .args(args)
        .output()
        .expect("the sharescope binary runs")
}

#[test]
fn every_shell_gets_a_script_that_knows_the_subcommands() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = sharescope(&["completions", shell]);
        assert!(o.status.success(), "{shell}: {o:?}");
        let text = String::from_utf8(o.stdout).unwrap();
        assert!(text.len() > 500, "{shell}: {} bytes", text.len());
        for sub in SUBCOMMANDS {
            assert!(text.contains(sub), "{shell} script lacks `{sub}`");
        }
        // Options of the subcommands too.
        assert!(
            text.contains("chrome-trace"),
            "{shell} script lacks --chrome-trace"
        );
        assert!(o.stderr.is_empty());
    }
    let o = sharescope(&["completions", "tcsh"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "an unknown shell is a usage error"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("possible values"));
}

#[test]
fn the_man_page_lists_the_subcommands_and_exit_codes_and_each_has_its_own() {
    let o = sharescope(&["man"]);
    assert!(o.status.success(), "{o:?}");
    let page = String::from_utf8(o.stdout).unwrap();
    assert!(
        page.starts_with(".ie") || page.contains(".TH sharescope 1"),
        "roff: {page}"
    );
    assert!(page.contains(".TH sharescope 1"));
    assert!(page.contains(".SH SUBCOMMANDS"));
    for sub in SUBCOMMANDS {
        assert!(
            page.contains(&format!("sharescope\\-{sub}(1)")),
            "no {sub} in:\n{page}"
        );
    }
    assert!(page.contains(".SH \"EXIT STATUS\""));
    for code in ["0", "1", "2", "3", "4"] {
        assert!(
            page.contains(&format!("\\fB{code}\\fR")),
            "exit code {code}"
        );
    }
    let o = sharescope(&["man", "run"]);
    assert!(o.status.success(), "{o:?}");
    let run = String::from_utf8(o.stdout).unwrap();
    assert!(
        run.contains(".TH sharescope\\-run 1") || run.contains(".TH sharescope-run 1"),
        "{run}"
    );
    for opt in ["json", "chrome\\-trace", "strict", "memory\\-limit", "seed"] {
        assert!(run.contains(opt), "man run lacks {opt}");
    }
    let o = sharescope(&["man", "nosuch"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no subcommand `nosuch`") && err.contains("run, debug"),
        "{err}"
    );
}
