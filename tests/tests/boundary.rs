//! The protocol boundary (issue 10, ARCHITECTURE.md "The protocol boundary"): the simulator and
//! the debugger talk to protocols only through `protocols::protocol` (`Protocol`, `Party`,
//! `CostModel`, the registry), and the protocols crate knows nothing of the simulator.
//!
//! The check reads `sim/src` and `tui/src` as code — comments, doc comments and string literals
//! (user-facing text, scenario snippets in unit tests) blanked out — and fails on any mention of
//! a protocol's module (`pond::`, `securenn::`), Pond's `Placement`, or Pond's seat names
//! (`server0`, `server1`, `producer`) as identifiers. Two places are allowed, each for a reason
//! written beside it.

use std::path::{Path, PathBuf};

/// Tokens no simulator or debugger code may contain.
const FORBIDDEN: &[&str] = &[
    "pond::",
    "securenn::",
    "Placement",
    "server0",
    "server1",
    "producer",
    "PondParty",
    "Nonlinear",
];

/// (file, token, why it may appear there).
const ALLOWED: &[(&str, &str, &str)] = &[
    (
        "sim/src/scenario/format.rs",
        "server0",
        "the scenario format's `roles` keeps its `server0` field (a user-facing name)",
    ),
    (
        "sim/src/scenario/format.rs",
        "server1",
        "the scenario format's `roles` keeps its `server1` field",
    ),
    (
        "sim/src/scenario/format.rs",
        "producer",
        "the scenario format's `roles` keeps its `producer` field",
    ),
    (
        "sim/src/attack.rs",
        "securenn::",
        "the simulator side of SecureNN's helper probe, reached only through `Protocol::probe`",
    ),
];

/// The workspace, or the tree `SHARESCOPE_BOUNDARY_ROOT` names (to show the check failing on
/// an older tree: `git archive <rev> sim/src tui/src protocols | tar -x -C DIR`).
fn root() -> PathBuf {
    std::env::var_os("SHARESCOPE_BOUNDARY_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `src` with comments, string literals and char literals replaced by spaces (newlines kept, so
/// line numbers stay).
fn code_only(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !ident_before(&b, i) {
            // A raw string r"…" or r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let close: String = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            let start = j + 1;
            let rest: String = b[start..].iter().collect();
            let len = rest.find(&close).map_or(rest.len(), |k| k + close.len());
            let end = start + rest[..len].chars().count();
            for &ch in &b[i..end.min(b.len())] {
                out.push(blank(ch));
            }
            i = end;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < b.len() {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && char_literal_len(&b, i).is_some() {
            let n = char_literal_len(&b, i).unwrap();
            out.extend(std::iter::repeat_n(' ', n));
            i += n;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_before(b: &[char], i: usize) -> bool {
    i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_')
}

/// The length of a char literal starting at `b[i] == '\''` (`'a'`, `'\n'`, `'\u{..}'`), or
/// `None` for a lifetime.
fn char_literal_len(b: &[char], i: usize) -> Option<usize> {
    if b.get(i + 1) == Some(&'\\') {
        let close = b[i + 2..].iter().take(12).position(|&c| c == '\'')?;
        return Some(close + 3);
    }
    (b.get(i + 2) == Some(&'\'')).then_some(3)
}

/// Every forbidden token in `code`, with its line.
fn offences(code: &str) -> Vec<(usize, &'static str)> {
    let mut out = Vec::new();
    for (n, line) in code.lines().enumerate() {
        for t in FORBIDDEN {
            let mut from = 0;
            while let Some(k) = line[from..].find(t) {
                let at = from + k;
                let before = line[..at].chars().last();
                let after = line[at + t.len()..].chars().next();
                let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                // `pond::` also matches `protocols::pond::`; identifiers must stand alone.
                let standalone = if t.ends_with("::") {
                    !word(before)
                } else {
                    !word(before) && !word(after)
                };
                if standalone {
                    out.push((n + 1, *t));
                }
                from = at + t.len();
            }
        }
    }
    out
}

#[test]
fn the_simulator_and_the_debugger_name_no_protocol() {
    let root = root();
    let mut files = Vec::new();
    rust_files(&root.join("sim/src"), &mut files);
    rust_files(&root.join("tui/src"), &mut files);
    files.sort();
    assert!(files.len() > 20, "found the sources");
    let mut bad = Vec::new();
    for f in &files {
        let rel = f
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let code = code_only(&std::fs::read_to_string(f).unwrap());
        for (line, t) in offences(&code) {
            if !ALLOWED
                .iter()
                .any(|(file, tok, _)| *file == rel && *tok == t)
            {
                bad.push(format!("{rel}:{line}: `{t}`"));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "protocol-specific code outside protocols/ (reach it through protocols::protocol):\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_check_sees_code_and_not_text() {
    let code = code_only(
        "let p = plan.placement; // server0\nlet s = \"server1 and pond::x\";\n\
         let r = r#\"producer\"#; let c = '\"'; fn f<'a>(x: &'a str) { protocols::pond::Pond }",
    );
    let found: Vec<&str> = offences(&code).into_iter().map(|(_, t)| t).collect();
    assert_eq!(found, vec!["pond::"], "{code}");
    assert_eq!(
        offences("let x = Placement::new(); let y = server0;")
            .into_iter()
            .map(|(_, t)| t)
            .collect::<Vec<_>>(),
        vec!["Placement", "server0"]
    );
    assert!(offences("let producers = my_server0_x;").is_empty());
}

#[test]
fn protocols_know_nothing_of_the_simulator() {
    let root = root();
    let manifest = std::fs::read_to_string(root.join("protocols/Cargo.toml")).unwrap();
    assert!(
        !manifest.contains("sharescope-sim") && !manifest.contains("../sim"),
        "protocols/Cargo.toml must not depend on the simulator"
    );
    let mut files = Vec::new();
    rust_files(&root.join("protocols/src"), &mut files);
    for f in files {
        let code = code_only(&std::fs::read_to_string(&f).unwrap());
        assert!(
            !code.contains("sim::") || code.contains("prop_sim::"),
            "{} uses the simulator",
            f.display()
        );
    }
}

#[test]
fn every_registered_protocol_is_named_once_and_found_by_name() {
    let reg = protocols::protocol::registry();
    assert!(reg.len() >= 4, "Pond and the three SecureNN variants");
    for p in reg {
        let found = protocols::protocol::by_name(p.name()).expect("found");
        assert_eq!(found.name(), p.name());
        assert_eq!(
            reg.iter().filter(|q| q.name() == p.name()).count(),
            1,
            "{} is registered once",
            p.name()
        );
        let scenario = sim::scenario::ProtocolKind::named(p.name()).unwrap();
        assert_eq!(
            sim::compare::parse_protocol(&p.short_name()).unwrap(),
            scenario
        );
        let (_, layout) = p.share_layout();
        assert_eq!(
            layout.len(),
            p.roles().len(),
            "{}: a layout per seat",
            p.name()
        );
    }
}
