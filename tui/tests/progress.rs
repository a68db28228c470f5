//! Issue 9, item 15: with standard error not a terminal (a pipe, as in CI and these tests), the
//! headless commands write no progress at all — stderr stays empty and stdout is the report.
//! (`pty.rs` checks that the bar appears on a terminal.)

use std::process::Command;

#[test]
fn piped_headless_commands_write_no_progress() {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/beaver-multiplication.ron");
    let file = file.to_str().unwrap();
    for args in [
        vec!["run", file],
        vec!["leak", "--runs", "2", file],
        vec!["compare", "--protocols", "pond,securenn", file],
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_sharescope"))
            .args(&args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{args:?}: {o:?}");
        assert!(
            o.stderr.is_empty(),
            "{args:?} wrote to stderr: {:?}",
            String::from_utf8_lossy(&o.stderr)
        );
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            !out.contains("ETA") && !out.contains('\r'),
            "{args:?}: {out}"
        );
    }
}
