//! Scenario files: parsing (with file:line:col errors), semantic validation and the resolved
//! [`Plan`] the simulator runs.

mod format;
mod validate;

pub use format::*;
pub use validate::closest;
pub(crate) use validate::{distribution_is_valid, random_seed, random_values};
pub use validate::{InputData, Plan, PlannedInput, PlannedMetrics, PlannedOp};

use crate::error::{ScenarioError, SimError};
use crate::memory::MemoryBudget;
use std::path::{Path, PathBuf};

/// The default scenario built into the binary.
pub const BUILTIN_DEFAULT: &str = include_str!("../../../scenarios/beaver-multiplication.ron");
/// The largest scenario file read, in bytes (64 MiB): inline data beyond that belongs in `.npy`
/// files.
pub const MAX_SCENARIO_BYTES: u64 = 64 << 20;
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
    /// Reads a scenario file: a regular file (not a FIFO, a device or a directory) of at most
    /// [`MAX_SCENARIO_BYTES`], in UTF-8.
    pub fn from_file(path: &Path) -> Result<Source, SimError> {
        let io = |message: String| SimError::Io {
            path: path.display().to_string(),
            message,
        };
        let (mut file, len) = crate::files::open_regular(path).map_err(|e| {
            io(if e.kind() == std::io::ErrorKind::NotFound {
                "no such scenario file (the shipped scenarios are in scenarios/, e.g. \
                 scenarios/beaver-multiplication.ron)"
                    .to_string()
            } else if e.kind() == std::io::ErrorKind::InvalidInput {
                format!("cannot read the scenario: {e}; give the path of a scenario file (RON)")
            } else {
                format!("cannot read the scenario: {e}")
            })
        })?;
        if len > MAX_SCENARIO_BYTES {
            return Err(io(format!(
                "the scenario is {len} bytes, more than the {MAX_SCENARIO_BYTES} accepted \
                 (64 MiB); put large data in .npy files (`data: Npy(\"file.npy\")`)"
            )));
        }
        let bytes = crate::files::read_exact_len(&mut file, len)
            .map_err(|e| io(format!("cannot read the scenario: {e}")))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            io(format!(
                "cannot read the scenario: it is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ))
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
///
/// `Option` fields may be written bare (`latency_us: 500`) or as `Some(500)`.
pub fn parse(source: &Source) -> Result<Scenario, ScenarioError> {
    let opts =
        ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
    opts.from_str::<Scenario>(&source.text)
        .map_err(|e| syntax_error(source, &e))
}

/// Turns ron's error into a located sentence with a hint.
fn syntax_error(source: &Source, e: &ron::error::SpannedError) -> ScenarioError {
    use ron::Error as E;
    let text = &source.text;
    let mut at = byte_offset(text, e.position.line, e.position.col);
    // ron reports identifier errors just after the identifier: point at its first character.
    let back_over = |ident: &str, at: &mut usize| {
        if text[..*at].ends_with(ident) {
            *at -= ident.len();
        }
    };
    let (message, hint) = match &e.code {
        E::NoSuchStructField {
            expected,
            found,
            outer,
        } => {
            back_over(found, &mut at);
            let inside = outer
                .as_deref()
                .map(|o| format!(" in `{o}`"))
                .unwrap_or_default();
            (
                format!("unknown field `{found}`{inside}"),
                format!(
                    "{}the fields here are {}",
                    did_you_mean(found, expected),
                    quoted_list(expected)
                ),
            )
        }
        E::NoSuchEnumVariant {
            expected,
            found,
            outer,
        } => {
            back_over(found, &mut at);
            let of = outer
                .as_deref()
                .map(|o| format!(" of `{o}`"))
                .unwrap_or_default();
            if outer.as_deref() == Some("ProtocolKind") {
                // The names come from `protocols::protocol::registry()`.
                (
                    format!("unknown protocol `{found}`"),
                    format!(
                        "{}the registered protocols are {}",
                        did_you_mean(found, expected),
                        quoted_list(expected)
                    ),
                )
            } else {
            (
                format!("unknown variant `{found}`{of}"),
                format!(
                    "{}the variants are {}",
                    did_you_mean(found, expected),
                    quoted_list(expected)
                ),
            )
            }
        }
        E::MissingStructField { field, outer } => {
            let inside = outer
                .as_deref()
                .map(|o| format!(" in `{o}`"))
                .unwrap_or_default();
            (
                format!("missing field `{field}`{inside}"),
                format!(
                    "add `{field}: …` before this closing parenthesis; required fields are listed in docs/scenario-format.md"
                ),
            )
        }
        E::DuplicateStructField { field, outer } => {
            back_over(field, &mut at);
            let inside = outer
                .as_deref()
                .map(|o| format!(" in `{o}`"))
                .unwrap_or_default();
            (
                format!("field `{field}` is given twice{inside}"),
                "remove one of the two".to_string(),
            )
        }
        E::ExpectedComma
            if text[at..].starts_with('.')
                && text[..at].ends_with(|c: char| c.is_ascii_digit()) =>
        {
            // `shape: [4.5]`: ron read `4` as an integer and stopped at the dot.
            at = previous_token_end(text, at).min(at);
            while at > 0 && text.as_bytes()[at - 1].is_ascii_digit() {
                at -= 1;
            }
            (
                "expected a whole number".to_string(),
                "sizes, counts and integer settings are whole numbers: write 4, not 4.5"
                    .to_string(),
            )
        }
        E::ExpectedComma => {
            at = previous_token_end(text, at);
            (
                "expected a comma".to_string(),
                "separate fields and list items with `,`".to_string(),
            )
        }
        E::ExpectedArrayEnd => (
            "expected `]` or a comma".to_string(),
            "list items are separated by `,` and the list closes with `]`".to_string(),
        ),
        E::ExpectedStructLikeEnd | E::ExpectedOptionEnd => (
            "expected `)` or a comma".to_string(),
            "fields are separated by `,` and the parenthesis must be closed".to_string(),
        ),
        E::Eof => {
            at = previous_token_end(text, text.len());
            (
            "the file ends in the middle of a value".to_string(),
            "a parenthesis or bracket is not closed".to_string(),
        )
        }
        E::ExpectedString | E::ExpectedStringEnd => (
            lower_first(&e.code.to_string()),
            "strings are written in double quotes: \"like this\"".to_string(),
        ),
        E::TrailingCharacters => (
            "unexpected text after the scenario".to_string(),
            "a file holds one `Scenario(...)`; remove what follows its closing parenthesis"
                .to_string(),
        ),
        E::ExpectedIdentifier if text[at..].starts_with('"') => {
            let quoted = text[at + 1..].split('"').next().unwrap_or("");
            (
                "expected a name, found a string".to_string(),
                format!("write enum variants without quotes: `{quoted}`, not `\"{quoted}\"`"),
            )
        }
        E::ExpectedArray => (
            "expected a list".to_string(),
            "this field takes a list: `[a, b, ...]`".to_string(),
        ),
        E::InvalidValueForType { expected, found } => (
            format!("expected {expected}, found {found}"),
            "see the field's type in docs/scenario-format.md".to_string(),
        ),
        E::ExpectedInteger | E::IntegerOutOfBounds | E::UnderscoreAtBeginning => (
            lower_first(&e.code.to_string()),
            "this field takes a non-negative whole number, e.g. 42".to_string(),
        ),
        E::ExpectedFloat | E::FloatUnderscore => (
            lower_first(&e.code.to_string()),
            "this field takes a number, e.g. 1.5 or -2".to_string(),
        ),
        E::Message(m) => (
            lower_first(m),
            "see the field's type in docs/scenario-format.md".to_string(),
        ),
        other => (
            lower_first(&other.to_string()),
            "this is RON syntax: structs are `(field: value, ...)`, lists `[a, b]`, variants `Name(...)`, strings \"double-quoted\""
                .to_string(),
        ),
    };
    let (line, col) = line_col(text, at);
    source.error_at(line, col, message, hint)
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

fn quoted_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Other libraries' names (NumPy, ONNX, PyTorch) for variants the format spells differently;
/// a hint offers ours when it is among the candidates.
const ALIASES: &[(&str, &str)] = &[
    ("Sum", "ReduceSum"),
    ("ReduceMean", "Mean"),
    ("Maximum", "Max"),
    ("Minimum", "Min"),
    ("Divide", "Div"),
    ("Multiply", "Mul"),
    ("Subtract", "Sub"),
    ("Negative", "Neg"),
    ("Concatenate", "Concat"),
    ("Rsqrt", "InvSqrt"),
    ("Ln", "Log"),
    ("Amax", "ReduceMax"),
    ("Select", "Where"),
    ("GreaterThan", "Greater"),
    ("LessThan", "Less"),
    ("Dot", "MatMul"),
    ("Gemm", "MatMul"),
];

/// Whether `a` is `b` with two neighbouring letters swapped (`sede`, `seed`).
fn swapped_neighbours(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len() != b.len() {
        return false;
    }
    let diff: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
    matches!(diff.as_slice(), [i, j] if *j == i + 1 && a[*i] == b[*j] && a[*j] == b[*i])
}

/// `"did you mean `x`? "` when one of `candidates` is close to `word`, else `""`: the same name
/// in other case, our name for another library's (`Sum` → `ReduceSum`), or a typo. A word of
/// up to four letters must be one edit away (`Max` is not a typo of `Mul`, nor `Erf` of `Exp`).
fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    let same_case = || {
        candidates
            .iter()
            .find(|c| c.eq_ignore_ascii_case(word))
            .copied()
    };
    let alias = || {
        ALIASES
            .iter()
            .find(|(from, _)| from.eq_ignore_ascii_case(word))
            .and_then(|(_, to)| candidates.iter().find(|c| *c == to).copied())
    };
    let typo = || {
        validate::closest(word, candidates.iter().copied()).filter(|c| {
            word.chars().count() > 4
                || validate::edit_distance(word, c) <= 1
                || swapped_neighbours(word, c)
        })
    };
    same_case()
        .filter(|c| *c != word)
        .or_else(alias)
        .or_else(typo)
        .map(|c| format!("did you mean `{c}`? "))
        .unwrap_or_default()
}

/// The byte offset of ron's (1-based line, 1-based byte column), clamped to the text.
fn byte_offset(text: &str, line: usize, col: usize) -> usize {
    if line == 0 {
        return 0;
    }
    let line_start = text
        .split_inclusive('\n')
        .take(line - 1)
        .map(str::len)
        .sum::<usize>();
    let mut at = (line_start + col.saturating_sub(1)).min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// 1-based (line, column in characters) of a byte offset.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

/// Where the token before byte `at` ends (skipping whitespace and comments), so that "expected a
/// comma" points just after the value that needs one. `at` itself if a token is in the way.
fn previous_token_end(text: &str, at: usize) -> usize {
    let mut lx = Lexer::new(text);
    let mut last_end = None;
    loop {
        lx.skip_trivia();
        if lx.i >= at || lx.i >= text.len() {
            break;
        }
        lx.token();
        if lx.i > at {
            return at; // `at` is inside a token
        }
        last_end = Some(lx.i);
    }
    last_end.unwrap_or(at)
}

/// One step of a path into the scenario text: a struct field or the n-th item of a list or of a
/// variant's parentheses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathSeg<'a> {
    /// The value of a `field: value`.
    Field(&'a str),
    /// The n-th (0-based) item of `[...]` or of `Variant(...)`.
    Item(usize),
}

impl Source {
    /// 1-based (line, col) of the value at `path` (e.g. `program`, item 3, `op`, item 1: the
    /// second operand of the fourth statement). Comments and layout do not matter. If the path
    /// leaves the text early (a field left at its default), the deepest value found is reported;
    /// (0, 0) if the text does not parse.
    pub fn locate_path(&self, path: &[PathSeg]) -> (usize, usize) {
        let mut lx = Lexer::new(&self.text);
        lx.skip_attributes();
        let Some(root) = lx.value(0) else {
            return (0, 0);
        };
        let mut node = &root;
        for seg in path {
            let next = match seg {
                PathSeg::Field(k) => node.fields.iter().find(|(key, _)| key == k).map(|(_, v)| v),
                PathSeg::Item(i) => node.items.get(*i),
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        line_col(&self.text, node.start)
    }

    /// Whether the text writes every field and item of `path` (e.g. `network`, `default`: the
    /// scenario sets the default link itself), whatever the defaults would give.
    pub fn has_path(&self, path: &[PathSeg]) -> bool {
        let mut lx = Lexer::new(&self.text);
        lx.skip_attributes();
        let Some(root) = lx.value(0) else {
            return false;
        };
        let mut node = &root;
        for seg in path {
            let next = match seg {
                PathSeg::Field(k) => node.fields.iter().find(|(key, _)| key == k).map(|(_, v)| v),
                PathSeg::Item(i) => node.items.get(*i),
            };
            match next {
                Some(n) => node = n,
                None => return false,
            }
        }
        true
    }

    /// The error for a problem at the value `path` leads to (see [`Source::locate_path`]).
    pub fn error_at_path(
        &self,
        path: &[PathSeg],
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> ScenarioError {
        let (line, col) = self.locate_path(path);
        self.error_at(line, col, message, hint)
    }
}

/// A value in the text: where it starts, its `field: value` pairs and its unnamed items.
#[derive(Debug, Default)]
struct Node {
    start: usize,
    fields: Vec<(String, Node)>,
    items: Vec<Node>,
}

/// A tolerant RON scanner that only finds where values are (the real parsing is ron's).
struct Lexer<'t> {
    s: &'t [u8],
    i: usize,
}

const MAX_DEPTH: usize = 256;

impl<'t> Lexer<'t> {
    fn new(text: &'t str) -> Self {
        Lexer {
            s: text.as_bytes(),
            i: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// Skips whitespace, `// line` and nested `/* block */` comments.
    fn skip_trivia(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_ascii_whitespace() {
                self.i += 1;
            } else if self.s[self.i..].starts_with(b"//") {
                while self.peek().is_some_and(|c| c != b'\n') {
                    self.i += 1;
                }
            } else if self.s[self.i..].starts_with(b"/*") {
                let mut depth = 0usize;
                while self.i < self.s.len() {
                    if self.s[self.i..].starts_with(b"/*") {
                        depth += 1;
                        self.i += 2;
                    } else if self.s[self.i..].starts_with(b"*/") {
                        depth -= 1;
                        self.i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        self.i += 1;
                    }
                }
            } else {
                break;
            }
        }
    }

    /// Skips `#![enable(...)]` attributes.
    fn skip_attributes(&mut self) {
        loop {
            self.skip_trivia();
            if self.peek() != Some(b'#') {
                return;
            }
            while self.peek().is_some_and(|c| c != b']') {
                self.i += 1;
            }
            self.i += 1;
        }
    }

    fn is_ident_byte(c: u8) -> bool {
        c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
    }

    /// Consumes one token: a string, an identifier, a number-like atom or one punctuation byte.
    fn token(&mut self) {
        let Some(c) = self.peek() else { return };
        if c == b'"' {
            self.string();
            return;
        }
        if c == b'r' && matches!(self.s.get(self.i + 1), Some(b'"' | b'#')) && self.raw_string() {
            return;
        }
        if Self::is_ident_byte(c) || matches!(c, b'-' | b'+' | b'.') {
            self.i += 1;
            while self
                .peek()
                .is_some_and(|c| Self::is_ident_byte(c) || matches!(c, b'.' | b'+' | b'-'))
            {
                self.i += 1;
            }
        } else if c == b'\'' {
            // A char literal.
            self.i += 1;
            while let Some(c) = self.peek() {
                self.i += 1;
                if c == b'\\' {
                    self.i += 1;
                } else if c == b'\'' {
                    break;
                }
            }
        } else {
            self.i += 1;
        }
    }

    fn string(&mut self) {
        self.i += 1;
        while let Some(c) = self.peek() {
            self.i += 1;
            if c == b'\\' {
                self.i += 1;
            } else if c == b'"' {
                break;
            }
        }
        self.i = self.i.min(self.s.len());
    }

    /// `r"..."` or `r#"..."#`; false (nothing consumed) if this is an identifier like `r#x`.
    fn raw_string(&mut self) -> bool {
        let mut j = self.i + 1;
        let mut hashes = 0;
        while self.s.get(j) == Some(&b'#') {
            hashes += 1;
            j += 1;
        }
        if self.s.get(j) != Some(&b'"') {
            return false;
        }
        j += 1;
        let mut close = vec![b'"'];
        close.extend(std::iter::repeat_n(b'#', hashes));
        while j < self.s.len() && !self.s[j..].starts_with(&close) {
            j += 1;
        }
        self.i = (j + close.len()).min(self.s.len());
        true
    }

    /// Reads one value; `None` at the end of the text or at a closing bracket.
    fn value(&mut self, depth: usize) -> Option<Node> {
        self.skip_trivia();
        let start = self.i;
        let c = self.peek()?;
        if depth > MAX_DEPTH || matches!(c, b')' | b']' | b'}' | b',' | b':') {
            return None;
        }
        let mut node = Node {
            start,
            ..Node::default()
        };
        match c {
            b'(' | b'[' | b'{' => self.group(&mut node, depth),
            _ => {
                let ident = Self::is_ident_byte(c) && !c.is_ascii_digit();
                self.token();
                if ident {
                    self.skip_trivia();
                    if self.peek() == Some(b'(') {
                        self.group(&mut node, depth);
                    }
                }
            }
        }
        Some(node)
    }

    /// Reads `(...)`, `[...]` or `{...}` into `node`'s fields and items.
    fn group(&mut self, node: &mut Node, depth: usize) {
        let close = match self.peek() {
            Some(b'(') => b')',
            Some(b'[') => b']',
            _ => b'}',
        };
        self.i += 1;
        loop {
            self.skip_trivia();
            match self.peek() {
                None => return,
                Some(c) if c == close => {
                    self.i += 1;
                    return;
                }
                Some(b',' | b':') => {
                    self.i += 1;
                    continue;
                }
                Some(b')' | b']' | b'}') => {
                    // A mismatched bracket: give up on this group.
                    self.i += 1;
                    return;
                }
                _ => {}
            }
            // `key: value`?
            let save = self.i;
            if self
                .peek()
                .is_some_and(|c| Self::is_ident_byte(c) && !c.is_ascii_digit())
            {
                self.token();
                let key = String::from_utf8_lossy(&self.s[save..self.i]).into_owned();
                self.skip_trivia();
                if self.peek() == Some(b':') {
                    self.i += 1;
                    if let Some(v) = self.value(depth + 1) {
                        node.fields.push((key, v));
                    }
                    continue;
                }
                self.i = save;
            }
            let before = self.i;
            match self.value(depth + 1) {
                Some(v) => node.items.push(v),
                None if self.i == before => self.i += 1,
                None => {}
            }
        }
    }
}

/// Loads, parses and validates a scenario file into a runnable plan (with the machine's memory
/// budget, [`MemoryBudget::machine`]).
pub fn load(path: &Path) -> Result<Plan, SimError> {
    load_with_budget(path, MemoryBudget::machine())
}

/// [`load`] with a memory budget (`--memory-limit`).
pub fn load_with_budget(path: &Path, budget: MemoryBudget) -> Result<Plan, SimError> {
    let source = Source::from_file(path)?;
    load_source_with_budget(&source, budget)
}

/// Parses and validates scenario text (with the machine's memory budget).
pub fn load_source(source: &Source) -> Result<Plan, SimError> {
    load_source_with_budget(source, MemoryBudget::machine())
}

/// [`load_source`] with a memory budget.
pub fn load_source_with_budget(source: &Source, budget: MemoryBudget) -> Result<Plan, SimError> {
    Ok(Plan::with_budget(source, parse(source)?, budget)?)
}
