//! Scenario errors: each names the file, the exact line and column, quotes the line, points at the
//! offending text and gives a hint (docs/scenario-format.md, "Errors").

use sim::scenario::{load_source, Source};
use sim::ScenarioError;
use std::path::PathBuf;

/// A valid scenario; each test breaks one thing in it. Line numbers are 1-based. The comment on
/// line 1 mentions `program:` and `name: "z"` so that a locator fooled by comments would be
/// caught. It truncates locally: with the default (dealer truncation at tf-encrypted's preset,
/// 20 bits of statistical security) it would be refused (see `dealer_truncation_below_40_bits_*`).
const BASE: &str = r#"// A comment that mentions program: [(name: "z")] and owner: "bob" to fool naive locators.
Scenario(
    name: "errors", truncation: Local,
    roles: (input_providers: ["alice", "bob"], output_receivers: ["carol"]),
    network: (default: (latency_us: 100, bandwidth_bps: 1_000_000_000)),
    seed: 1,
    inputs: [
        (name: "x", owner: "alice", shape: [2, 3], data: Values([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])),
        (name: "y", owner: "bob", shape: [3, 2], data: Random(Uniform(-1.0, 1.0))),
    ],
    program: [
        (name: "z", op: MatMul("x", "y")),
        (name: "w", op: Add("z", "z")),
    ],
    outputs: [(name: "w", to: "carol")],
)
"#;

fn source(text: &str) -> Source {
    Source {
        name: "errors.ron".into(),
        dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        text: text.into(),
    }
}

/// `BASE` with `from` (which must occur exactly once) replaced by `to`.
fn edit(from: &str, to: &str) -> String {
    assert_eq!(
        BASE.matches(from).count(),
        1,
        "`{from}` must occur once in BASE"
    );
    BASE.replace(from, to)
}

/// Loads `text`, expects an error, and checks its place, its quoted line and its rendering.
fn error_of(text: &str) -> ScenarioError {
    let e = match load_source(&source(text)) {
        Ok(_) => panic!("expected an error, the scenario loaded:\n{text}"),
        Err(sim::SimError::Scenario(e)) => e,
        Err(other) => panic!("expected a scenario error, got {other}"),
    };
    assert_eq!(e.file, "errors.ron");
    assert!(e.line > 0 && e.col > 0, "unlocated error: {e}");
    assert_eq!(
        e.line_text,
        text.lines().nth(e.line - 1).unwrap_or(""),
        "{e}"
    );
    // Rendering: `file:line:col: message`, the quoted line, a caret under the column, the hint.
    let shown = e.to_string();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(
        lines[0],
        format!("errors.ron:{}:{}: {}", e.line, e.col, e.message)
    );
    let gutter = format!("{} | ", e.line);
    assert_eq!(lines[1], format!("{gutter}{}", e.line_text));
    let caret = lines[2].find('^').expect("a caret line");
    assert_eq!(
        lines[2][..caret].chars().count(),
        gutter.len() + e.col - 1,
        "{shown}"
    );
    assert_eq!(lines[3], format!("hint: {}", e.hint));
    e
}

fn at(e: &ScenarioError) -> (usize, usize) {
    (e.line, e.col)
}

/// The text under the reported column.
fn pointed(e: &ScenarioError) -> String {
    e.line_text.chars().skip(e.col - 1).collect()
}

#[test]
fn the_base_scenario_is_valid() {
    let plan = load_source(&source(BASE)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.shapes["w"], vec![2, 2]);
}

#[test]
fn missing_comma_points_just_after_the_value_that_needs_one() {
    let e = error_of(&edit("    seed: 1,\n", "    seed: 1\n"));
    assert_eq!(e.message, "expected a comma");
    // Right after `seed: 1` on line 6, not at `inputs` on line 7.
    assert_eq!(at(&e), (6, 12));
    assert_eq!(e.hint, "separate fields and list items with `,`");
}

#[test]
fn missing_comma_inside_a_list_points_between_the_items() {
    let e = error_of(&edit("3.0, 4.0", "3.0 4.0"));
    assert_eq!(e.message, "expected a comma");
    assert_eq!(at(&e), (8, 79));
    assert!(pointed(&e).starts_with(" 4.0"), "{e}");
}

#[test]
fn unclosed_parenthesis_says_the_file_ends_early() {
    let text = BASE.trim_end().strip_suffix(')').unwrap().to_string();
    let e = error_of(&text);
    assert_eq!(e.message, "the file ends in the middle of a value");
    // Just after the last thing in the file.
    assert_eq!(at(&e), (15, 41));
    assert_eq!(pointed(&e), "");
    assert_eq!(e.hint, "a parenthesis or bracket is not closed");
}

#[test]
fn a_fraction_where_a_whole_number_belongs() {
    let e = error_of(&edit("shape: [2, 3]", "shape: [2, 3.5]"));
    assert_eq!(e.message, "expected a whole number");
    assert_eq!(at(&e), (8, 48));
    assert!(pointed(&e).starts_with("3.5]"), "{e}");
}

#[test]
fn a_quoted_variant_name() {
    // (BASE sets `truncation` already: a second one would be a duplicate field.)
    let e = error_of(&edit(
        "    seed: 1,\n",
        "    seed: 1,\n    input_sharing: \"Dense\",\n",
    ));
    assert_eq!(e.message, "expected a name, found a string");
    assert_eq!(at(&e), (7, 20));
    assert_eq!(
        e.hint,
        "write enum variants without quotes: `Dense`, not `\"Dense\"`"
    );
}

#[test]
fn unknown_field_is_located_at_its_name_with_a_suggestion() {
    let e = error_of(&edit("(latency_us: 100", "(latncy_us: 100"));
    assert_eq!(e.message, "unknown field `latncy_us` in `LinkConfig`");
    assert_eq!(at(&e), (5, 25));
    assert!(pointed(&e).starts_with("latncy_us"), "{e}");
    assert!(
        e.hint.starts_with("did you mean `latency_us`? "),
        "{}",
        e.hint
    );
    assert!(
        e.hint
            .contains("`latency_us`, `jitter_us`, `bandwidth_bps`, `state`"),
        "{}",
        e.hint
    );
}

#[test]
fn unknown_top_level_field_is_an_error_not_ignored() {
    let e = error_of(&edit("    seed: 1,\n", "    seed: 1,\n    sede: 2,\n"));
    assert_eq!(e.message, "unknown field `sede` in `Scenario`");
    assert_eq!(at(&e), (7, 5));
    assert!(e.hint.starts_with("did you mean `seed`? "), "{}", e.hint);
}

#[test]
fn unknown_op_variant_is_located_with_a_suggestion() {
    let e = error_of(&edit("Add(\"z\", \"z\")", "Plus(\"z\", \"z\")"));
    assert_eq!(e.message, "unknown variant `Plus` of `Op`");
    assert_eq!(at(&e), (13, 25));
    assert!(e.hint.contains("`MatMul`"), "{}", e.hint);

    let e = error_of(&edit("MatMul(", "Matmul("));
    assert_eq!(e.message, "unknown variant `Matmul` of `Op`");
    assert_eq!(at(&e), (12, 25));
    assert!(e.hint.starts_with("did you mean `MatMul`? "), "{}", e.hint);
}

#[test]
fn missing_required_field_names_it() {
    let e = error_of(&edit("    seed: 1,\n", ""));
    assert_eq!(e.message, "missing field `seed` in `Scenario`");
    // ron notices at the scenario's closing parenthesis.
    assert_eq!(at(&e), (15, 1));
    assert!(e.hint.starts_with("add `seed: …`"), "{}", e.hint);
}

#[test]
fn duplicate_field_points_at_the_second_one() {
    let e = error_of(&edit("    seed: 1,\n", "    seed: 1,\n    seed: 2,\n"));
    assert_eq!(e.message, "field `seed` is given twice in `Scenario`");
    assert_eq!(at(&e), (7, 5));
    assert_eq!(e.hint, "remove one of the two");
}

#[test]
fn unknown_operand_points_at_it_and_suggests_the_close_name() {
    let e = error_of(&edit("MatMul(\"x\", \"y\")", "MatMul(\"x\", \"yy\")"));
    assert_eq!(
        e.message,
        "`z` uses `yy`, which is not defined before it (did you mean `y`?)"
    );
    assert_eq!(at(&e), (12, 37));
    assert!(pointed(&e).starts_with("\"yy\""), "{e}");
    assert_eq!(
        e.hint,
        "operands must name an input or an earlier statement"
    );
}

#[test]
fn operand_defined_later_says_so() {
    let e = error_of(&edit("MatMul(\"x\", \"y\")", "MatMul(\"x\", \"w\")"));
    assert_eq!(e.message, "`z` uses `w`, which is not defined before it");
    assert_eq!(at(&e), (12, 37));
    assert_eq!(
        e.hint,
        "`w` is defined later; move its statement before `z`"
    );
}

#[test]
fn operand_of_a_struct_variant_is_located_by_field() {
    let text = edit(
        "(name: \"w\", op: Add(\"z\", \"z\")),",
        "(name: \"w\", op: AvgPool2d(kernel: 2, input: \"zz\")),",
    );
    let e = error_of(&text);
    assert_eq!(
        e.message,
        "`w` uses `zz`, which is not defined before it (did you mean `z`?)"
    );
    assert_eq!(at(&e), (13, 53));
}

#[test]
fn matmul_inner_dimension_mismatch_points_at_the_op() {
    let e = error_of(&edit("shape: [3, 2]", "shape: [4, 2]"));
    // y is now 4×2 but Random data still fits (it is generated for the shape).
    assert_eq!(
        e.message,
        "`z`: matmul of [2, 3] by [4, 2]: inner dimensions 3 and 4 differ"
    );
    assert_eq!(at(&e), (12, 25));
    assert!(pointed(&e).starts_with("MatMul("), "{e}");
    assert_eq!(
        e.hint,
        "`x` is [2, 3], `y` is [4, 2]; `sharescope check` prints every value's shape"
    );
}

#[test]
fn broadcast_mismatch_points_at_the_op() {
    let e = error_of(&edit("Add(\"z\", \"z\")", "Add(\"z\", \"x\")"));
    assert_eq!(
        e.message,
        "`w`: shapes [2, 2] and [2, 3] do not broadcast (NumPy rules)"
    );
    assert_eq!(at(&e), (13, 25));
}

#[test]
fn too_few_values_for_the_shape() {
    let e = error_of(&edit("5.0, 6.0])", "5.0])"));
    assert_eq!(e.message, "input `x` has 5 values but shape [2, 3] needs 6");
    assert_eq!(at(&e), (8, 58));
    assert!(pointed(&e).starts_with("Values("), "{e}");
}

#[test]
fn owner_that_is_not_an_input_provider() {
    let e = error_of(&edit("\"y\", owner: \"bob\"", "\"y\", owner: \"bobby\""));
    assert_eq!(
        e.message,
        "input `y` is owned by `bobby`, which is not an input provider"
    );
    assert_eq!(at(&e), (9, 28));
    assert!(pointed(&e).starts_with("\"bobby\""), "{e}");
    assert_eq!(
        e.hint,
        "did you mean \"bob\"? otherwise add \"bobby\" to roles.input_providers, or use owner: \"public\" for a constant"
    );
}

#[test]
fn output_to_a_party_that_is_not_a_receiver() {
    let e = error_of(&edit("to: \"carol\"", "to: \"alice\""));
    assert_eq!(
        e.message,
        "output `w` goes to `alice`, which is not an output receiver"
    );
    assert_eq!(at(&e), (15, 31));
    assert_eq!(e.hint, "add \"alice\" to roles.output_receivers");
}

#[test]
fn output_of_an_unknown_value() {
    let e = error_of(&edit("(name: \"w\", to:", "(name: \"ww\", to:"));
    assert_eq!(
        e.message,
        "output `ww` is not a value of the program (did you mean `w`?)"
    );
    assert_eq!(at(&e), (15, 22));
}

#[test]
fn a_server_cannot_be_an_input_provider() {
    let e = error_of(&edit("[\"alice\", \"bob\"]", "[\"alice\", \"server1\"]"));
    assert_eq!(
        e.message,
        "`server1` is a Pond server and cannot also be an input provider"
    );
    assert_eq!(at(&e), (4, 40));
    assert!(pointed(&e).starts_with("\"server1\""), "{e}");
}

#[test]
fn one_party_in_two_pond_seats() {
    let e = error_of(&edit(
        "    roles: (",
        "    roles: (server0: \"s\", server1: \"s\", ",
    ));
    assert_eq!(
        e.message,
        "party `s` holds two Pond seats (server0 and server1)"
    );
    assert_eq!(at(&e), (4, 36));
}

#[test]
fn npy_file_that_does_not_exist() {
    let e = error_of(&edit(
        "Random(Uniform(-1.0, 1.0))",
        "Npy(\"data/no-such-file.npy\")",
    ));
    assert!(
        e.message.starts_with("input `y`: cannot read "),
        "{}",
        e.message
    );
    assert!(e.message.contains("no-such-file.npy"), "{}", e.message);
    assert_eq!(at(&e), (9, 60));
    assert!(pointed(&e).starts_with("\"data/no-such-file.npy\""), "{e}");
    assert!(
        e.hint
            .starts_with("paths are relative to the scenario file"),
        "{}",
        e.hint
    );
}

#[test]
fn npy_file_with_the_wrong_shape() {
    let dir = std::env::temp_dir().join(format!("sharescope-npy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("y.npy"),
        sim::npy::write_npy_bytes(&[5], &[1.0, 2.0, 3.0, 4.0, 5.0]),
    )
    .unwrap();
    let text = edit("Random(Uniform(-1.0, 1.0))", "Npy(\"y.npy\")");
    let src = Source {
        name: "errors.ron".into(),
        dir: dir.clone(),
        text: text.clone(),
    };
    let e = match load_source(&src) {
        Err(sim::SimError::Scenario(e)) => e,
        other => panic!("expected a scenario error, got {other:?}"),
    };
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(
        e.message,
        "input `y`: y.npy holds shape [5] but the scenario says [3, 2]"
    );
    assert_eq!(at(&e), (9, 60));

    // And a file in the right shape loads.
    std::fs::create_dir_all(&dir).unwrap();
    let vals = [1.0, -2.0, 3.5, 4.0, 0.25, -6.0];
    std::fs::write(dir.join("y.npy"), sim::npy::write_npy_bytes(&[3, 2], &vals)).unwrap();
    let plan = load_source(&src).unwrap_or_else(|e| panic!("{e}"));
    // The values are read when asked for (a run starts), so the file is still needed here.
    let y = plan.inputs.iter().find(|i| i.name == "y").unwrap();
    assert_eq!(
        y.values().unwrap().iter().copied().collect::<Vec<_>>(),
        vals
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn duplicate_statement_name_points_at_the_second_definition() {
    let e = error_of(&edit("(name: \"w\", op:", "(name: \"z\", op:"));
    assert_eq!(
        e.message,
        "`z` is defined twice (it is already an earlier statement)"
    );
    // Line 13, the second `z`; not line 12 (the first) nor the comment on line 1.
    assert_eq!(at(&e), (13, 16));
    assert_eq!(
        e.hint,
        "the program is in SSA form: every statement needs a new name"
    );
}

#[test]
fn statement_reusing_an_input_name() {
    let e = error_of(&edit("(name: \"w\", op:", "(name: \"x\", op:"));
    assert_eq!(e.message, "`x` is defined twice (it is already an input)");
    assert_eq!(at(&e), (13, 16));
}

#[test]
fn duplicate_input_name() {
    let e = error_of(&edit("(name: \"y\", owner", "(name: \"x\", owner"));
    assert_eq!(e.message, "input `x` is defined twice");
    assert_eq!(at(&e), (9, 16));
    assert_eq!(e.hint, "give every value a unique name");
}

#[test]
fn maxpool_is_refused_for_pond() {
    let e = error_of(&edit(
        "(name: \"w\", op: Add(\"z\", \"z\")),",
        "(name: \"w\", op: MaxPool2d(input: \"z\", kernel: 2)),",
    ));
    assert_eq!(e.message, "`w`: Pond has no exact max pool");
    assert_eq!(at(&e), (13, 25));
}

#[test]
fn link_to_an_unknown_party() {
    let e = error_of(&edit(
        "1_000_000_000)),",
        "1_000_000_000), links: [(from: \"server0\", to: \"carrol\", state: Held)]),",
    ));
    assert_eq!(e.message, "link names unknown party `carrol`");
    assert_eq!(at(&e), (5, 103));
    assert!(e.hint.starts_with("did you mean \"carol\"? "), "{}", e.hint);
}

#[test]
fn bare_option_values_are_accepted() {
    // `state: Held` without `Some(...)`, and `Some(...)` still works.
    let text = edit(
        "1_000_000_000)),",
        "1_000_000_000), links: [(from: \"server0\", to: \"server1\", state: Held, latency_us: Some(5))]),",
    );
    let plan = load_source(&source(&text)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.links[0][1].latency_us, 5);
    assert_eq!(plan.links[0][1].state, sim::scenario::LinkState::Held);
}

#[test]
fn fault_on_an_unknown_party_or_op() {
    let e = error_of(&edit(
        "    seed: 1,\n",
        "    seed: 1,\n    faults: [(party: \"server2\", op: \"z\", kind: Panic)],\n",
    ));
    assert_eq!(e.message, "fault names unknown party `server2`");
    assert_eq!(at(&e), (7, 22));
    assert!(
        e.hint.starts_with("did you mean \"server0\"? "),
        "{}",
        e.hint
    );

    let e = error_of(&edit(
        "    seed: 1,\n",
        "    seed: 1,\n    faults: [(party: \"server1\", op: \"input z\", kind: Error)],\n",
    ));
    assert_eq!(e.message, "fault names unknown op `input z`");
    assert_eq!(at(&e), (7, 37));
    assert!(
        e.hint.starts_with("did you mean \"input x\"? "),
        "{}",
        e.hint
    );
}

#[test]
fn breakpoint_on_an_unknown_op() {
    let e = error_of(&edit(
        "    seed: 1,\n",
        "    seed: 1,\n    breakpoints: [Hazard, Op(\"ww\")],\n",
    ));
    assert_eq!(e.message, "breakpoint on unknown op `ww`");
    assert_eq!(at(&e), (7, 30));
    assert!(e.hint.starts_with("did you mean \"w\"? "), "{}", e.hint);
}

#[test]
fn invalid_fixed_point_config_points_at_it() {
    let e = error_of(&edit(
        "    seed: 1,\n",
        "    seed: 1,\n    fixed_point: (frac_bits: 20, int_bits: 11),\n",
    ));
    assert!(
        e.message
            .starts_with("int_bits + 2·frac_bits + gap_bits + 1 = 72 exceeds 64"),
        "{}",
        e.message
    );
    assert_eq!(at(&e), (7, 18));
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    /// Characters that upset parsers: brackets, quotes, comment starts, escapes, non-ASCII.
    const TRICKY: &[&str] = &[
        "\"", "(", ")", "[", "]", ",", ":", "/", "*", "/*", "//", "'", "\\", "é", "µ", "\n", "#",
        "r#\"", "-", "0", "_", " ",
    ];

    fn check_located(text: &str) {
        match load_source(&source(text)) {
            Ok(_) => {}
            Err(sim::SimError::Scenario(e)) => {
                let lines = text.lines().count().max(1);
                assert!(e.line >= 1 && e.line <= lines + 1, "{e}");
                assert!(e.col >= 1, "{e}");
                assert_eq!(
                    e.line_text,
                    text.lines().nth(e.line - 1).unwrap_or(""),
                    "{e}"
                );
                assert!(e.to_string().contains("hint: "));
            }
            Err(other) => panic!("not a scenario error: {other}"),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn an_insertion_anywhere_gives_a_located_error_or_a_valid_scenario(
            at in 0usize..BASE.len(),
            which in 0usize..TRICKY.len(),
        ) {
            let mut at = at;
            while !BASE.is_char_boundary(at) {
                at -= 1;
            }
            let text = format!("{}{}{}", &BASE[..at], TRICKY[which], &BASE[at..]);
            check_located(&text);
        }

        #[test]
        fn a_deletion_anywhere_gives_a_located_error_or_a_valid_scenario(
            at in 0usize..BASE.len(),
            len in 1usize..12,
        ) {
            let mut from = at;
            while !BASE.is_char_boundary(from) {
                from -= 1;
            }
            let mut to = (from + len).min(BASE.len());
            while !BASE.is_char_boundary(to) {
                to += 1;
            }
            let text = format!("{}{}", &BASE[..from], &BASE[to..]);
            check_located(&text);
        }

        #[test]
        fn any_prefix_gives_a_located_error(cut in 0usize..BASE.len()) {
            let mut cut = cut;
            while !BASE.is_char_boundary(cut) {
                cut -= 1;
            }
            check_located(&BASE[..cut]);
        }
    }
}

// ------------------------------------------------------------ dealer truncation's security

/// BASE with dealer truncation instead of local.
fn dealer() -> String {
    edit("truncation: Local,", "truncation: Dealer,")
}

#[test]
fn dealer_truncation_below_40_bits_is_refused_at_fixed_point() {
    let text = dealer().replace(
        "    seed: 1,\n",
        "    seed: 1,\n    fixed_point: (frac_bits: 16, int_bits: 11),\n",
    );
    let e = error_of(&text);
    assert_eq!(
        e.message,
        "dealer truncation with int_bits 11, frac_bits 16 has 20 bits of statistical security \
         (an opened value leaks with advantage up to 2^-20 per element), below the minimum of 40"
    );
    assert_eq!(at(&e), (7, 18));
    assert_eq!(
        e.hint,
        "`z` truncates with the dealer; lower int_bits and frac_bits so that \
         int_bits + 2·frac_bits ≤ 23 (e.g. frac_bits: 8, int_bits: 7), or, for teaching, set \
         `weak_security: true` in fixed_point"
    );
}

#[test]
fn dealer_truncation_below_40_bits_is_refused_at_truncation_when_fixed_point_is_left_out() {
    let e = error_of(&dealer());
    assert!(
        e.message.contains("has 20 bits of statistical security"),
        "{e}"
    );
    assert_eq!(pointed(&e), "Dealer,");
    assert_eq!(at(&e), (3, 33));
    assert!(
        e.hint.ends_with(
            "or, for teaching, write `fixed_point: (frac_bits: 16, int_bits: 11, \
             weak_security: true)`"
        ),
        "{}",
        e.hint
    );
}

#[test]
fn dealer_truncation_below_40_bits_is_refused_at_the_top_when_nothing_is_set() {
    let e = error_of(&edit(" truncation: Local,", ""));
    assert!(e.message.contains("below the minimum of 40"), "{e}");
    assert_eq!(at(&e), (2, 1));
}

#[test]
fn dealer_truncation_below_40_bits_runs_with_weak_security_and_says_so() {
    let text = dealer().replace(
        "    seed: 1,\n",
        "    seed: 1,\n    fixed_point: (frac_bits: 16, int_bits: 11, weak_security: true),\n",
    );
    let plan = load_source(&source(&text)).unwrap_or_else(|e| panic!("{e}"));
    assert!(plan.scenario.fixed_point.weak_security);
    assert_eq!(plan.warnings.len(), 1, "{:?}", plan.warnings);
    assert!(
        plan.warnings[0].starts_with(
            "dealer truncation with int_bits 11, frac_bits 16 has 20 bits of statistical \
             security (an opened value leaks with advantage up to 2^-20 per element), below the \
             minimum of 40; accepted because fixed_point sets weak_security"
        ),
        "{}",
        plan.warnings[0]
    );
    // The run's reports carry the warning.
    let r = sim::run(&plan).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        sim::report::text_report(&r).contains(&format!("⚠ warning: {}", plan.warnings[0])),
        "{}",
        sim::report::text_report(&r)
    );
    assert_eq!(
        sim::report::json_report(&r)["warnings"][0],
        plan.warnings[0].as_str()
    );
}

#[test]
fn dealer_truncation_at_40_bits_needs_no_opt_in() {
    let text = dealer().replace(
        "    seed: 1,\n",
        "    seed: 1,\n    fixed_point: (frac_bits: 8, int_bits: 7),\n",
    );
    let plan = load_source(&source(&text)).unwrap_or_else(|e| panic!("{e}"));
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
}

#[test]
fn weak_dealer_security_is_no_error_when_nothing_truncates_with_the_dealer() {
    // Local truncation opens nothing; a program without private products truncates nothing.
    assert!(load_source(&source(BASE)).unwrap().warnings.is_empty());
    let linear = dealer().replace("MatMul(\"x\", \"y\")", "Transpose(\"x\")");
    let plan = load_source(&source(&linear)).unwrap_or_else(|e| panic!("{e}"));
    assert!(plan.warnings.is_empty());
}

#[test]
fn absurd_fixed_point_bit_counts_are_refused_not_overflowed() {
    for (field, value) in [("int_bits", "4294967290"), ("gap_bits", "4294967295")] {
        let e = error_of(&edit(
            "    seed: 1,\n",
            &format!(
                "    seed: 1,\n    fixed_point: (frac_bits: 16, int_bits: 11, {field}: {value}),\n"
            )
            .replace("int_bits: 11, int_bits", "int_bits"),
        ));
        assert_eq!(at(&e), (7, 18), "{e}");
        assert!(
            e.message.contains("leaves no room") || e.message.contains("exceeds 64"),
            "{e}"
        );
    }
}

#[test]
fn weak_security_is_a_known_fixed_point_field() {
    let e = error_of(&edit(
        "    seed: 1,\n",
        "    seed: 1,\n    fixed_point: (frac_bits: 16, int_bits: 11, weak_securty: true),\n",
    ));
    assert_eq!(e.message, "unknown field `weak_securty` in `FixedConfig`");
    assert!(
        e.hint.starts_with(
            "did you mean `weak_security`? the fields here are `frac_bits`, \
             `int_bits`, `gap_bits`, `weak_security`"
        ),
        "{}",
        e.hint
    );
}

#[test]
fn a_network_profile_sets_every_link_and_links_can_start_from_one() {
    use sim::profiles::{SECURENN_WAN, WAN};
    let text = edit(
        "network: (default: (latency_us: 100, bandwidth_bps: 1_000_000_000))",
        r#"network: (profile: "securenn-wan", links: [(from: "server0", to: "server1", profile: "wan", jitter_us: 3)])"#,
    );
    let plan = load_source(&source(&text)).unwrap_or_else(|e| panic!("{e}"));
    let n = plan.parties.len();
    for (i, j) in (0..n).flat_map(|i| (0..n).map(move |j| (i, j))) {
        let want = match (i, j) {
            (0, 1) => sim::scenario::LinkConfig {
                jitter_us: 3,
                ..WAN.link
            },
            _ => SECURENN_WAN.link,
        };
        assert!(i == j || plan.links[i][j] == want, "{i} → {j}");
    }
    assert_eq!(plan.links[0][1].latency_us, 20_000);
    assert_eq!(plan.links[1][0].latency_us, 29_000);
}

#[test]
fn an_unknown_network_profile_is_located_with_a_suggestion() {
    let e = error_of(&edit(
        "network: (default: (latency_us: 100, bandwidth_bps: 1_000_000_000))",
        r#"network: (profile: "securenn-wna")"#,
    ));
    assert_eq!(e.message, "unknown network profile `securenn-wna`");
    assert_eq!(at(&e), (5, 24));
    assert!(pointed(&e).starts_with("\"securenn-wna\""), "{e}");
    assert!(e
        .hint
        .starts_with("did you mean `securenn-wan`? the profiles are lan, wan"));
    // In a link override too.
    let e = error_of(&edit(
        "network: (default: (latency_us: 100, bandwidth_bps: 1_000_000_000))",
        r#"network: (links: [(from: "server0", to: "server1", profile: "lna")])"#,
    ));
    assert!(pointed(&e).starts_with("\"lna\""), "{e}");
    assert!(e.hint.starts_with("did you mean `lan`?"), "{e}");
    // A profile and a default link at once: which one would win is not obvious, so neither.
    let e = error_of(&edit(
        "network: (default:",
        r#"network: (profile: "wan", default:"#,
    ));
    assert!(
        e.message.contains("both `profile: \"wan\"` and `default`"),
        "{e}"
    );
    assert!(pointed(&e).starts_with("(latency_us: 100"), "{e}");
}

#[test]
fn the_op_hint_suggests_only_real_near_misses() {
    // `Max` is an op now (it used to be refused with "did you mean `Mul`?"), and so are `Log`
    // and `ReduceMax`.
    for op in [
        "Max(\"z\", \"z\")",
        "Log(\"z\")",
        "ReduceMax(input: \"z\", axis: Some(0))",
    ] {
        let text = edit("Add(\"z\", \"z\")", op);
        let parsed = sim::scenario::parse(&source(&text));
        assert!(parsed.is_ok(), "{op}: {:?}", parsed.err());
    }
    // A short name with two of three letters changed is another word, not a typo:
    // `Erf` is not `Exp`, `Cos` is not `Abs`.
    for word in ["Erf", "Cos"] {
        let e = error_of(&edit("Add(\"z\", \"z\")", &format!("{word}(\"z\")")));
        assert_eq!(e.message, format!("unknown variant `{word}` of `Op`"));
        assert!(!e.hint.contains("did you mean"), "{word}: {}", e.hint);
    }
    // Other libraries' names for these ops, and a case slip, point at ours.
    for (word, ours) in [
        ("Sum", "ReduceSum"),
        ("ReduceMean", "Mean"),
        ("Maximum", "Max"),
        ("Divide", "Div"),
        ("Concatenate", "Concat"),
        ("Rsqrt", "InvSqrt"),
        ("Ln", "Log"),
        ("Amax", "ReduceMax"),
        ("LOG", "Log"),
        ("SOFTMAX", "Softmax"),
        ("Softmx", "Softmax"),
    ] {
        let e = error_of(&edit("Add(\"z\", \"z\")", &format!("{word}(\"z\")")));
        assert!(
            e.hint.starts_with(&format!("did you mean `{ours}`? ")),
            "{word}: {}",
            e.hint
        );
    }
}
