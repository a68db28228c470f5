//! Editing the `:` command line: the cursor, the session's history and Tab completion.
//! What a line means is `command.rs`'s business; this module only edits text.
//!
//! Keys: ←/→ (Ctrl-B/Ctrl-F), Home/End (Ctrl-A/Ctrl-E), Backspace and Delete (Ctrl-D) at the
//! cursor, Ctrl-U (kill to the start), Ctrl-K (kill to the end), Ctrl-W (kill the word before
//! the cursor), ↑/↓ (history), Tab (complete), Enter (run), Esc (cancel).

use crate::app::{App, Mode};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// The editing keys, for the help screen.
pub const HELP: &[(&str, &str)] = &[
    ("←/→ Home/End Ctrl-A/Ctrl-E", "move the cursor"),
    (
        "Ctrl-U / Ctrl-K / Ctrl-W",
        "delete to the start / to the end / a word back",
    ),
    ("↑/↓", "earlier / later commands of this session"),
    (
        "Tab",
        "complete a command, op, step, kind, party or keyword",
    ),
];

/// The command line's state besides its text (which [`Mode::Command`] holds).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LineState {
    /// Characters between the cursor and the end of the line (0: at the end). Counted from the
    /// end, so a line that a mode change pre-fills (`edit 2 div 0.5`) starts with the cursor at
    /// its end.
    pub back: usize,
    /// The lines run in this session, oldest first (a line equal to the one before it is not
    /// added again).
    pub history: Vec<String>,
    /// While ↑/↓ browse the history: the entry shown, and the line typed before browsing.
    browsing: Option<(usize, String)>,
    /// The candidates of the last ambiguous Tab, shown under the line until the next key.
    pub note: String,
}

/// What one key did to the line.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// The line changed (or the cursor moved); stay on the command line.
    Edited,
    /// Enter: run this line.
    Submit(String),
    /// Esc, or Backspace on an empty line: leave the command line.
    Cancel,
}

/// The byte offset of the cursor in `text`, `back` characters before its end.
pub fn cursor_byte(text: &str, back: usize) -> usize {
    let n = text.chars().count();
    let at = n.saturating_sub(back);
    text.char_indices().nth(at).map_or(text.len(), |(i, _)| i)
}

/// The start of the word before byte `at` (Ctrl-W): spaces before the cursor, then non-spaces.
fn word_start(text: &str, at: usize) -> usize {
    let head = &text[..at];
    let trimmed = head.trim_end_matches(char::is_whitespace);
    trimmed
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_whitespace())
        .map_or(0, |(i, c)| i + c.len_utf8())
}

impl LineState {
    /// Adds a line that was run to the history (not an empty one, nor a repeat of the last).
    pub fn remember(&mut self, line: &str) {
        let line = line.trim();
        if !line.is_empty() && self.history.last().map(String::as_str) != Some(line) {
            self.history.push(line.to_string());
        }
    }

    /// Forgets the cursor and browsing state when the command line closes (the history stays).
    pub fn close(&mut self) {
        self.back = 0;
        self.browsing = None;
        self.note.clear();
    }

    fn recall(&mut self, text: &mut String, up: bool) {
        let n = self.history.len();
        let next = match (&self.browsing, up) {
            (None, true) if n > 0 => Some(n - 1),
            (None, _) => return,
            (Some((i, _)), true) => Some(i.saturating_sub(1)),
            (Some((i, _)), false) if i + 1 < n => Some(i + 1),
            (Some(_), false) => None,
        };
        match next {
            Some(i) => {
                let draft = match self.browsing.take() {
                    Some((_, d)) => d,
                    None => text.clone(),
                };
                *text = self.history[i].clone();
                self.browsing = Some((i, draft));
            }
            None => {
                if let Some((_, draft)) = self.browsing.take() {
                    *text = draft;
                }
            }
        }
        self.back = 0;
    }

    /// Applies one editing key to `text` (Tab is [`complete`]'s, with the app at hand).
    pub fn key(&mut self, text: &mut String, key: KeyEvent) -> Edit {
        self.note.clear();
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let len = text.chars().count();
        self.back = self.back.min(len);
        let at = cursor_byte(text, self.back);
        match key.code {
            KeyCode::Esc => return Edit::Cancel,
            KeyCode::Enter => return Edit::Submit(text.clone()),
            KeyCode::Up => {
                self.recall(text, true);
                return Edit::Edited;
            }
            KeyCode::Down => {
                self.recall(text, false);
                return Edit::Edited;
            }
            KeyCode::Left => self.back = (self.back + 1).min(len),
            KeyCode::Right => self.back = self.back.saturating_sub(1),
            KeyCode::Home => self.back = len,
            KeyCode::End => self.back = 0,
            KeyCode::Char('b') if ctrl => self.back = (self.back + 1).min(len),
            KeyCode::Char('f') if ctrl => self.back = self.back.saturating_sub(1),
            KeyCode::Char('a') if ctrl => self.back = len,
            KeyCode::Char('e') if ctrl => self.back = 0,
            KeyCode::Char('u') if ctrl => {
                text.replace_range(..at, "");
            }
            KeyCode::Char('k') if ctrl => {
                text.truncate(at);
                self.back = 0;
            }
            KeyCode::Char('w') if ctrl => {
                let from = word_start(text, at);
                text.replace_range(from..at, "");
            }
            KeyCode::Backspace => {
                if text.is_empty() {
                    return Edit::Cancel;
                }
                if let Some((i, _)) = text[..at].char_indices().next_back() {
                    text.replace_range(i..at, "");
                }
            }
            KeyCode::Delete if self.back > 0 => {
                text.remove(at);
                self.back -= 1;
            }
            KeyCode::Char('d') if ctrl && self.back > 0 => {
                text.remove(at);
                self.back -= 1;
            }
            // Other control and Alt chords are not text.
            KeyCode::Char(_) if ctrl || key.modifiers.contains(KeyModifiers::ALT) => {}
            KeyCode::Char(c) => text.insert(at, c),
            _ => {}
        }
        self.browsing = None;
        Edit::Edited
    }
}

/// What Tab found for the text before the cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// Byte offset where the word being completed starts.
    pub from: usize,
    /// Every candidate that starts with that word.
    pub matches: Vec<String>,
}

/// The longest common prefix of `words` (by characters).
pub fn common_prefix(words: &[String]) -> String {
    let Some(first) = words.first() else {
        return String::new();
    };
    let mut end = first.len();
    for w in &words[1..] {
        end = first
            .char_indices()
            .zip(w.chars())
            .find(|((_, a), b)| a != b)
            .map_or(end.min(w.len()), |((i, _), _)| i.min(end));
    }
    first[..end].to_string()
}

/// The words of `head` with their byte offsets.
fn spans(head: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in head.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, &head[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &head[s..]));
    }
    out
}

/// The candidates for the word that ends at the end of `head` (the text before the cursor).
pub fn candidates(app: &App, head: &str) -> Completion {
    let words = spans(head);
    let fresh = head.is_empty() || head.ends_with(char::is_whitespace);
    // The words before the one being completed, and where that one starts.
    let (done, word_from) = if fresh {
        (&words[..], head.len())
    } else {
        (&words[..words.len() - 1], words[words.len() - 1].0)
    };
    let found = |from: usize, all: Vec<String>| {
        let word = &head[from..];
        let mut matches: Vec<String> = all
            .iter()
            .filter(|c| c.starts_with(word))
            .cloned()
            .collect();
        if matches.is_empty() {
            let lower = word.to_lowercase();
            matches = all
                .into_iter()
                .filter(|c| c.to_lowercase().starts_with(&lower))
                .collect();
        }
        matches.sort();
        matches.dedup();
        Completion { from, matches }
    };
    let Some((&(_, cmd), args)) = done.split_first() else {
        return found(word_from, command_names());
    };
    let numbers = || {
        (1..=app.ctl.breakpoints().len())
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
    };
    match cmd {
        "b" | "break" => break_candidates(app, word_from, args, &found),
        "edit" if args.is_empty() => found(word_from, numbers()),
        "edit" => break_candidates(app, word_from, &args[1..], &found),
        "d" | "delete" if args.is_empty() => found(word_from, numbers()),
        "link" if args.len() < 2 => found(word_from, parties(app)),
        "link" => found(
            word_from,
            ["latency=", "bandwidth=", "jitter=", "both"]
                .map(String::from)
                .to_vec(),
        ),
        "export" if args.is_empty() => found(word_from, vec!["chrome".into(), "json".into()]),
        _ => found(word_from, Vec::new()),
    }
}

/// The command names: the first word of each alternative in `command::HELP`, and `quit`.
pub fn command_names() -> Vec<String> {
    let mut names: Vec<String> = crate::command::HELP
        .iter()
        .flat_map(|(k, _)| k.split(" / "))
        .filter_map(|alt| alt.split_whitespace().next())
        .filter(|w| w.chars().all(|c| c.is_ascii_lowercase()))
        .map(String::from)
        .collect();
    names.push("quit".into());
    names.sort();
    names.dedup();
    names
}

/// What `break` takes first.
pub const BREAK_KINDS: [&str; 7] = ["op", "kind", "step", "party", "div", "bytes", "hazard"];

fn parties(app: &App) -> Vec<String> {
    app.ctl.plan().parties.clone()
}

/// Candidates after `break` (`args`: the words after it, before the one being completed).
fn break_candidates(
    app: &App,
    word_from: usize,
    args: &[(usize, &str)],
    found: &dyn Fn(usize, Vec<String>) -> Completion,
) -> Completion {
    let Some(&(_, what)) = args.first() else {
        return found(word_from, BREAK_KINDS.map(String::from).to_vec());
    };
    // The name is the rest of the line (step names have spaces): from the word after `what`.
    let from = args.get(1).map_or(word_from, |(s, _)| *s);
    let t = app.ctl.trace();
    let all: Vec<String> = match what {
        "op" => t.ops.iter().map(|o| o.name.clone()).collect(),
        "kind" => app
            .ctl
            .plan()
            .ops
            .iter()
            .map(|o| o.kind().to_string())
            .collect(),
        "step" => t
            .steps
            .iter()
            .flat_map(|s| {
                [
                    s.name.clone(),
                    sim::control::base_step_name(&s.name).to_string(),
                ]
            })
            .collect(),
        "party" => parties(app),
        _ => Vec::new(),
    };
    found(from, all)
}

/// The most candidates listed under the line.
const SHOWN: usize = 12;

impl App {
    /// A key on the `:` line whose text is `text`.
    pub fn command_line_key(&mut self, mut text: String, key: KeyEvent) {
        if key.code == KeyCode::Tab {
            self.complete(&mut text);
            self.mode = Mode::Command(text);
            return;
        }
        match self.line.key(&mut text, key) {
            Edit::Edited => self.mode = Mode::Command(text),
            Edit::Cancel => {
                self.line.close();
                self.mode = Mode::Normal;
            }
            Edit::Submit(line) => {
                self.line.close();
                self.line.remember(&line);
                self.mode = Mode::Normal;
                self.execute_command(&line);
            }
        }
    }

    /// Tab: completes the word before the cursor to the candidates' common prefix (and a space
    /// when only one is left); lists them under the line when several are.
    fn complete(&mut self, text: &mut String) {
        self.line.back = self.line.back.min(text.chars().count());
        let at = cursor_byte(text, self.line.back);
        let c = candidates(self, &text[..at]);
        let word = text[c.from..at].to_string();
        let back = self.line.back;
        let (insert, note) = match c.matches.as_slice() {
            [] if word.is_empty() => (String::new(), "nothing to complete here".to_string()),
            [] => (word.clone(), format!("no completion for `{word}`")),
            // A `key=` takes its value right after it; anything else ends with a space.
            [one] if one.ends_with('=') => (one.clone(), String::new()),
            [one] => (format!("{one} "), String::new()),
            many => {
                let mut shown: Vec<&str> = many.iter().take(SHOWN).map(String::as_str).collect();
                if many.len() > SHOWN {
                    shown.push("…");
                }
                let note = format!("{} candidates: {}", many.len(), shown.join("  "));
                let prefix = common_prefix(many);
                // A case-insensitive match may not extend what was typed.
                let insert = if prefix.len() > word.len() {
                    prefix
                } else {
                    word.clone()
                };
                (insert, note)
            }
        };
        // The text after the cursor is unchanged, and so is the cursor's distance from the end.
        text.replace_range(c.from..at, &insert);
        self.line.back = back;
        self.line.note = note;
    }
}

/// The command line as drawn: `:`, the text with the cursor (a reversed cell), and what
/// Tab last found.
pub fn render(text: &str, state: &LineState) -> (String, String, String) {
    let at = cursor_byte(text, state.back.min(text.chars().count()));
    let (before, rest) = text.split_at(at);
    let mut chars = rest.chars();
    let under = chars.next().map_or(" ".to_string(), String::from);
    (format!(":{before}"), under, chars.as_str().to_string())
}
