//! The debugger's state and its one update function: every key, mouse event and command goes
//! through [`App::handle_key`], [`App::handle_mouse`] or [`App::execute_command`]. Drawing
//! (`draw.rs`, `panes/`) only reads this state.

use crate::command;
use crate::format::Formats;
use crate::layout::{self, Areas};
use crate::theme::Theme;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;
use sim::control::{Breakpoint, Controller, RunState, Stop};
use std::collections::BTreeSet;

/// The message line while a long movement runs: what runs, how far the run has got (once known),
/// and how to stop it.
pub fn running_message(what: &str, steps: Option<usize>) -> String {
    match steps {
        Some(n) => format!("running ({what})… {n} steps · Esc or Ctrl-C interrupts"),
        None => format!("running ({what})… Esc or Ctrl-C interrupts"),
    }
}

/// Whether `key` interrupts a running movement: Esc, or Ctrl-C (which quits when nothing runs).
pub fn is_interrupt_key(key: &KeyEvent) -> bool {
    key.code == KeyCode::Esc
        || (key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c'))
}

/// The panes, in the order Tab cycles them. The first seven have number keys (1–7); the view pane
/// has the letter `V` (digits also start counts, so no new digit key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pane {
    /// 1: ops and their steps.
    Outline,
    /// 2: the program's data-flow graph.
    Graph,
    /// 3: shares, reconstruction and messages of the current step.
    Shares,
    /// 4: bytes per link, link models, party states.
    Network,
    /// 5: op × party time and op × link bytes.
    Heatmaps,
    /// 6: one lane per party in virtual time.
    Timeline,
    /// 7: what the current step does, why it is private, what it costs.
    Explain,
    /// V: one party's view up to the cursor — everything it received, dealt and had opened.
    View,
}

impl Pane {
    /// All panes in Tab order (the number keys select the first seven).
    pub const ALL: [Pane; 8] = [
        Pane::Outline,
        Pane::Graph,
        Pane::Shares,
        Pane::Network,
        Pane::Heatmaps,
        Pane::Timeline,
        Pane::Explain,
        Pane::View,
    ];

    /// The pane's position in [`Pane::ALL`], from 1 (its number key for the first seven; it
    /// also indexes [`App::scroll`] as `number() - 1`).
    pub fn number(self) -> usize {
        Pane::ALL.iter().position(|p| *p == self).unwrap_or(0) + 1
    }

    /// The key that selects it, as titles and tabs show it: `1`–`7`, or `V`.
    pub fn key(self) -> char {
        match self {
            Pane::View => 'V',
            p => char::from_digit(p.number() as u32, 10).unwrap_or('?'),
        }
    }

    /// Its title.
    pub fn title(self) -> &'static str {
        match self {
            Pane::Outline => "Outline",
            Pane::Graph => "Graph",
            Pane::Shares => "Shares",
            Pane::Network => "Network",
            Pane::Heatmaps => "Heatmaps",
            Pane::Timeline => "Timeline",
            Pane::Explain => "Explain",
            Pane::View => "View",
        }
    }
}

/// A row of the outline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    /// Op `i`.
    Op(usize),
    /// Global step `k`.
    Step(usize),
    /// A call of a sub-protocol (`DReLU` inside `ReLU`): the global step it began at and its
    /// depth in the call path (0 = outermost; see `sim::trace::StepRecord::path`).
    Scope(usize, usize),
    /// Message `i` of step `k` (listed under the cursor's step).
    Message(usize, usize),
}

/// What the keyboard is talking to.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// Normal debugging keys.
    Normal,
    /// The `:` command line, with what has been typed.
    Command(String),
    /// The key reference.
    Help,
    /// The breakpoint list, with the selected entry.
    Breakpoints(usize),
}

/// What the heat map of ops × parties shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeatMetric {
    /// Virtual compute time.
    Compute,
    /// Virtual time spent waiting for messages.
    Wait,
}

/// The whole debugger state.
pub struct App {
    /// The run, its history and the cursor.
    pub ctl: Controller,
    /// The pane keys go to.
    pub focus: Pane,
    /// The pane shown in the detail area (never the outline).
    pub detail: Pane,
    /// Modal state.
    pub mode: Mode,
    /// The format each ring's values are shown in (`v` cycles the selected value's ring).
    pub formats: Formats,
    /// The shares pane's selected value, slice and column scroll.
    pub shares: crate::panes::shares::Cursor,
    /// The op × party heat map's metric.
    pub heat_metric: HeatMetric,
    /// Reconstructed elements further than this from the shadow are marked.
    pub tolerance: f64,
    /// The outline's selection.
    pub selected: Row,
    /// Ops expanded by hand (the cursor's op is always expanded).
    pub expanded: BTreeSet<usize>,
    /// Sub-protocol calls expanded by hand, as (first step, depth); the calls the cursor is in
    /// are always expanded.
    pub expanded_scopes: BTreeSet<(usize, usize)>,
    /// Vertical scroll of each pane, by pane number − 1 (the view pane's is its top line, kept
    /// within its content; see [`App::follow_cursor`]).
    pub scroll: [usize; 8],
    /// Whose view the view pane shows (a party index).
    pub view_party: usize,
    /// The cursor position and party the view pane last scrolled to (it re-anchors when either
    /// changes, not on every command).
    pub view_anchored: Option<(usize, usize)>,
    /// A pending count (`#10n`): `Some` from the `#` that starts it on.
    pub count: Option<usize>,
    /// The last message (a stop reason, an error, a confirmation).
    pub message: String,
    /// Colours.
    pub theme: Theme,
    /// Set when the user quits.
    pub quit: bool,
    /// Defer keys that may run the simulation for long (continue, step over/out) to
    /// [`App::run_pending`], so the terminal loop can first draw a "running…" status. Off by
    /// default (tests drive keys synchronously).
    pub defer_long: bool,
    /// A deferred key, run by [`App::run_pending`].
    pub pending: Option<KeyEvent>,
    /// What the deferred key does ("continue", "step over", …), for the running message.
    pub pending_what: &'static str,
    /// The terminal size last drawn (for mouse hit-testing).
    pub size: Rect,
    /// The `:` line's cursor, history and completion note (its text is in [`Mode::Command`]).
    pub line: crate::line_edit::LineState,
    /// The training iteration the panes last showed (`None` outside training): when a movement
    /// or `:iteration` opens another, the outline's expansions and the panes' scrolls reset
    /// and the message line says which iteration is open.
    pub iteration_shown: Option<usize>,
}

impl App {
    /// A debugger over `ctl`.
    pub fn new(ctl: Controller, theme: Theme) -> App {
        let mut app = App {
            ctl,
            focus: Pane::Outline,
            detail: Pane::Shares,
            mode: Mode::Normal,
            formats: Formats::default(),
            shares: Default::default(),
            heat_metric: HeatMetric::Compute,
            tolerance: 1e-3,
            selected: Row::Op(0),
            expanded: BTreeSet::new(),
            expanded_scopes: BTreeSet::new(),
            scroll: [0; 8],
            view_party: 0,
            view_anchored: None,
            count: None,
            message: String::new(),
            theme,
            quit: false,
            defer_long: false,
            pending: None,
            pending_what: "",
            size: Rect::new(0, 0, 80, 24),
            line: Default::default(),
            iteration_shown: None,
        };
        app.iteration_shown = app.ctl.iteration().map(|i| i.index);
        app.message = app.start_message();
        app.follow_cursor();
        app
    }

    fn start_message(&self) -> String {
        match self.ctl.state() {
            RunState::Failed(m) => format!("run failed: {m}"),
            _ => format!(
                "paused before the first step · {} breakpoint(s) · press s to step, ? for help",
                self.ctl.breakpoints().len()
            ),
        }
    }

    /// Moves the outline selection to the cursor, and the view pane to the cursor's step (when
    /// the cursor or the viewed party changed since it last did).
    pub fn follow_cursor(&mut self) {
        self.follow_iteration();
        self.selected = match self.ctl.current_step() {
            Some(s) => Row::Step(s.index),
            None => Row::Op(self.ctl.next_step().map(|s| s.op).unwrap_or(0)),
        };
        if self.detail == Pane::View {
            self.anchor_view();
        }
    }

    /// After a movement or command that opened another training iteration: a fresh outline
    /// and panes (op and step numbers are the new iteration's), and the message line names it.
    fn follow_iteration(&mut self) {
        let at = self.ctl.iteration();
        let index = at.map(|i| i.index);
        if index == self.iteration_shown {
            return;
        }
        self.iteration_shown = index;
        self.expanded.clear();
        self.expanded_scopes.clear();
        self.shares = Default::default();
        self.scroll = [0; 8];
        self.view_anchored = None;
        if let Some(at) = at {
            self.message = if self.message.is_empty() {
                format!("opened {at}")
            } else {
                format!("opened {at} · {}", self.message)
            };
        }
    }

    /// Scrolls the view pane to the cursor's step, unless it already did for this cursor
    /// position and party (laid out only while the pane is shown: a view is the whole run).
    fn anchor_view(&mut self) {
        let at = (self.ctl.position(), self.view_party);
        if self.view_anchored != Some(at) {
            self.view_anchored = Some(at);
            self.scroll[Pane::View.number() - 1] = crate::panes::view::anchor(self);
        }
    }

    /// Shows the view of the party `by` places after the current one (cycling; negative goes
    /// back), scrolled to its items at the cursor.
    pub fn cycle_view_party(&mut self, by: isize) {
        let n = self.ctl.trace().parties.len().max(1) as isize;
        self.view_party = (self.view_party as isize + by).rem_euclid(n) as usize;
        self.anchor_view();
        let name = &self.ctl.trace().parties[self.view_party];
        self.set_message(format!("view of {name}"));
    }

    /// The outline's rows: every op, with the steps of expanded ops (and of the cursor's op) as
    /// a tree of their sub-protocol calls; a collapsed call is one row.
    pub fn outline_rows(&self) -> Vec<Row> {
        let t = self.ctl.trace();
        let cur = self.ctl.current_op();
        let mut rows = Vec::with_capacity(t.ops.len() + 16);
        for op in &t.ops {
            rows.push(Row::Op(op.index));
            if !(Some(op.index) == cur || self.expanded.contains(&op.index)) {
                continue;
            }
            let end = op.end_step.min(self.ctl.completed());
            let mut k = op.first_step;
            while k < end {
                let s = &t.steps[k];
                // The calls this step begins: those it does not share with the step before.
                let shared = k
                    .checked_sub(1)
                    .filter(|_| k > op.first_step)
                    .and_then(|j| t.steps.get(j))
                    .map_or(0, |p| p.common_depth(s));
                let mut collapsed = None;
                for (d, &start) in s.path_starts.iter().enumerate().skip(shared) {
                    rows.push(Row::Scope(start, d));
                    if !self.scope_open(start, d) {
                        collapsed = Some((d, start));
                        break;
                    }
                }
                if let Some((d, start)) = collapsed {
                    k = self.scope_end(start, d).max(k + 1);
                    continue;
                }
                rows.push(Row::Step(k));
                if k + 1 == self.ctl.position() {
                    let n = s.messages().count();
                    rows.extend((0..n).map(|i| Row::Message(k, i)));
                }
                k += 1;
            }
        }
        rows
    }

    /// Whether the outline shows the steps of the call of depth `depth` that began at step
    /// `start`: when the cursor is in it (the step just run or the next one belongs to it) or
    /// it was expanded by hand.
    pub fn scope_open(&self, start: usize, depth: usize) -> bool {
        self.scope_at_cursor(start, depth) || self.expanded_scopes.contains(&(start, depth))
    }

    /// Whether the step just run or the next one is in the call of depth `depth` that began at
    /// step `start`.
    pub fn scope_at_cursor(&self, start: usize, depth: usize) -> bool {
        [self.ctl.current_step(), self.ctl.next_step()]
            .into_iter()
            .flatten()
            .any(|s| s.is_within(depth, start))
    }

    /// One past the last recorded step of the call of depth `depth` that began at `start`.
    pub fn scope_end(&self, start: usize, depth: usize) -> usize {
        let steps =
            &self.ctl.trace().steps[..self.ctl.completed().min(self.ctl.trace().steps.len())];
        start
            + steps
                .get(start..)
                .unwrap_or_default()
                .iter()
                .take_while(|s| s.is_within(depth, start))
                .count()
    }

    /// Sets the message line.
    pub(crate) fn set_message(&mut self, m: impl Into<String>) {
        self.message = m.into();
    }

    fn report(&mut self, what: &str, stop: Stop) {
        let mut m = stop_message(what, stop.clone(), self.ctl.position());
        if let (Stop::End, Some(at)) = (&stop, self.ctl.iteration()) {
            m = if at.index + 1 < at.iterations {
                format!(
                    "end of iteration {} · s or c opens iteration {}",
                    at.index,
                    at.index + 1
                )
            } else {
                format!("end of the run (iteration {}, the last)", at.index)
            };
        }
        self.set_message(m);
        self.follow_cursor();
    }

    /// Handles one key in the current mode.
    pub fn handle_key(&mut self, key: KeyEvent) {
        if key.modifiers.contains(KeyModifiers::CONTROL)
            && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('q'))
        {
            self.quit = true;
            return;
        }
        match self.mode.clone() {
            Mode::Help => {
                if matches!(
                    key.code,
                    KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q') | KeyCode::Enter
                ) {
                    self.mode = Mode::Normal;
                }
            }
            Mode::Command(text) => self.command_line_key(text, key),
            Mode::Breakpoints(sel) => {
                let n = self.ctl.breakpoints().len();
                match key.code {
                    KeyCode::Esc | KeyCode::Char('B') | KeyCode::Char('q') => {
                        self.mode = Mode::Normal
                    }
                    KeyCode::Up | KeyCode::Char('k') => {
                        self.mode = Mode::Breakpoints(sel.saturating_sub(1))
                    }
                    KeyCode::Down | KeyCode::Char('j') => {
                        self.mode = Mode::Breakpoints((sel + 1).min(n.saturating_sub(1)))
                    }
                    KeyCode::Char('d') | KeyCode::Delete | KeyCode::Char('x') => {
                        if let Some(b) = self.ctl.remove_breakpoint(sel) {
                            let d = b.describe(&self.ctl.plan().parties);
                            self.set_message(format!("deleted breakpoint: {d}"));
                        }
                        let n = self.ctl.breakpoints().len();
                        self.mode = Mode::Breakpoints(sel.min(n.saturating_sub(1)));
                    }
                    KeyCode::Char(':') => self.mode = Mode::Command("break ".into()),
                    KeyCode::Enter | KeyCode::Char('e') => {
                        if let Some(b) = self.ctl.breakpoints().get(sel).cloned() {
                            let spec = crate::command::breakpoint_spec(self, &b);
                            self.mode = Mode::Command(format!("edit {} {spec}", sel + 1));
                        }
                    }
                    _ => {}
                }
            }
            Mode::Normal => self.normal_key(key),
        }
    }

    /// The pending count for a motion (1 without one). Counts start with `#` (`#10n`, `#37s`),
    /// so the pane keys 1–7 can never turn into one: `3` then `7` focuses the Shares pane and
    /// then the Explain pane, and the next `s` steps once.
    fn take_count(&mut self) -> usize {
        self.count.take().map_or(1, |c| c.max(1))
    }

    /// Runs a key deferred by `defer_long` (see [`App::pending`]).
    pub fn run_pending(&mut self) {
        if let Some(key) = self.pending.take() {
            let defer = std::mem::replace(&mut self.defer_long, false);
            self.normal_key(key);
            self.defer_long = defer;
        }
    }

    fn normal_key(&mut self, key: KeyEvent) {
        if key.code == KeyCode::Char('#') {
            self.count = Some(0);
            return;
        }
        if let KeyCode::Char(d @ '0'..='9') = key.code {
            let digit = d as usize - '0' as usize;
            match self.count {
                // Inside a count (after `#`): another digit.
                Some(c) => {
                    self.count = Some(c.saturating_mul(10).saturating_add(digit).min(1_000_000))
                }
                // Otherwise a pane key; 0, 8 and 9 do nothing.
                None if (1..=7).contains(&digit) => self.focus_pane(Pane::ALL[digit - 1]),
                None => {}
            }
            return;
        }
        if key.code == KeyCode::Esc && self.count.is_some() {
            self.count = None;
            return;
        }
        // A count of steps runs long.
        let counted_steps = key.code == KeyCode::Char('s') && self.count.is_some_and(|c| c > 1);
        if self.defer_long
            && (counted_steps || matches!(key.code, KeyCode::Char('c' | 'n' | 'f' | 'G')))
        {
            let what = match key.code {
                KeyCode::Char('c') => "continue",
                KeyCode::Char('n') => "step over",
                KeyCode::Char('f') => "step out",
                KeyCode::Char('G') => "last",
                _ => "step into",
            };
            self.set_message(running_message(what, None));
            self.pending = Some(key);
            self.pending_what = what;
            return;
        }
        match key.code {
            KeyCode::Char('s') => {
                let n = self.take_count();
                let stop = self.ctl.step(n);
                self.report("step into", stop);
            }
            KeyCode::Char('n') => {
                let n = self.take_count();
                let mut stop = Stop::Done;
                for _ in 0..n {
                    stop = self.ctl.step_over();
                    if stop != Stop::Done {
                        break;
                    }
                }
                self.report("step over", stop);
            }
            KeyCode::Char('f') => {
                let n = self.take_count();
                let mut stop = Stop::Done;
                for _ in 0..n {
                    stop = self.ctl.step_out();
                    if stop != Stop::Done {
                        break;
                    }
                }
                self.report("step out", stop);
            }
            KeyCode::Char('p') | KeyCode::Char('N') => {
                let n = self.take_count();
                let stop = self.ctl.step_back(n);
                self.report("step back", stop);
            }
            KeyCode::Char('c') => {
                self.count = None;
                let stop = self.ctl.resume();
                self.report("continue", stop);
            }
            KeyCode::Char('P') => {
                self.count = None;
                let stop = self.ctl.reverse_resume();
                self.report("reverse-continue", stop);
            }
            KeyCode::Char('g') | KeyCode::Home => {
                self.count = None;
                let stop = self.ctl.first();
                self.report("first", stop);
            }
            KeyCode::Char('G') | KeyCode::End => {
                self.count = None;
                let stop = self.ctl.last();
                self.report("last", stop);
            }
            KeyCode::Char('r') => {
                self.count = None;
                self.ctl.restart(None);
                let seed = self.ctl.plan().scenario.seed;
                self.set_message(format!("restarted with seed {seed}"));
                self.follow_cursor();
            }
            KeyCode::Char('R') => {
                self.count = None;
                let seed = next_seed(self.ctl.plan().scenario.seed);
                self.ctl.restart(Some(seed));
                self.set_message(format!("restarted with a new seed: {seed}"));
                self.follow_cursor();
            }
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Char('?') => self.mode = Mode::Help,
            KeyCode::Char(':') => self.mode = Mode::Command(String::new()),
            KeyCode::Char('B') => self.mode = Mode::Breakpoints(0),
            KeyCode::Char('I') => {
                if self.ctl.iteration().is_some() {
                    self.mode = Mode::Command("iteration ".into());
                } else {
                    self.set_message("I goes to a training iteration: this is not a training run");
                }
            }
            KeyCode::Char('V') => self.focus_pane(Pane::View),
            KeyCode::Char('b') => self.toggle_breakpoint_at_selection(),
            KeyCode::Char('v') => {
                let m = crate::panes::shares::cycle_format(self);
                self.set_message(m);
            }
            KeyCode::Char('[' | ']' | '<' | '>' | 'a' | 'h' | 'l')
            | KeyCode::Left
            | KeyCode::Right
                if self.focus == Pane::Shares =>
            {
                crate::panes::shares::key(self, key.code);
            }
            KeyCode::Char('w') => {
                self.heat_metric = match self.heat_metric {
                    HeatMetric::Compute => HeatMetric::Wait,
                    HeatMetric::Wait => HeatMetric::Compute,
                };
            }
            KeyCode::Tab => self.cycle_focus(1),
            KeyCode::BackTab => self.cycle_focus(Pane::ALL.len() - 1),
            KeyCode::Up | KeyCode::Char('k') => self.move_in_focus(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_in_focus(1),
            KeyCode::PageUp => self.move_in_focus(-10),
            KeyCode::PageDown => self.move_in_focus(10),
            KeyCode::Enter => self.activate_selection(),
            KeyCode::Right | KeyCode::Char('l') if self.focus == Pane::View => {
                self.cycle_view_party(1)
            }
            KeyCode::Left | KeyCode::Char('h') if self.focus == Pane::View => {
                self.cycle_view_party(-1)
            }
            KeyCode::Char(' ') | KeyCode::Right | KeyCode::Left => self.toggle_expand(),
            KeyCode::Esc => {
                self.count = None;
                self.message.clear();
            }
            _ => {}
        }
        self.count = None;
    }

    /// Focuses `p` (showing it in the detail area unless it is the outline).
    pub fn focus_pane(&mut self, p: Pane) {
        self.focus = p;
        if p != Pane::Outline {
            self.detail = p;
        }
        if p == Pane::View {
            self.anchor_view();
        }
    }

    fn cycle_focus(&mut self, by: usize) {
        let i = (self.focus.number() - 1 + by) % Pane::ALL.len();
        self.focus_pane(Pane::ALL[i]);
    }

    fn move_in_focus(&mut self, delta: isize) {
        if self.focus == Pane::Outline {
            let rows = self.outline_rows();
            let at = rows.iter().position(|r| *r == self.selected).unwrap_or(0);
            let to = (at as isize + delta).clamp(0, rows.len().saturating_sub(1) as isize);
            if let Some(r) = rows.get(to as usize) {
                self.selected = *r;
            }
        } else if matches!(self.focus, Pane::View | Pane::Shares) {
            let max = match self.focus {
                Pane::View => crate::panes::view::max_scroll(self),
                _ => crate::panes::shares::max_scroll(self),
            };
            let s = &mut self.scroll[self.focus.number() - 1];
            *s = (*s as isize + delta).clamp(0, max as isize) as usize;
        } else {
            let s = &mut self.scroll[self.focus.number() - 1];
            *s = (*s as isize + delta).max(0) as usize;
        }
    }

    fn toggle_expand(&mut self) {
        if self.focus != Pane::Outline {
            return;
        }
        let op = match self.selected {
            Row::Op(i) => i,
            Row::Scope(start, depth) => {
                // Open it, or close it (the calls the cursor is in stay open).
                if self.scope_at_cursor(start, depth) {
                    self.set_message("the cursor is inside this sub-protocol: it stays open");
                } else if !self.expanded_scopes.remove(&(start, depth)) {
                    self.expanded_scopes.insert((start, depth));
                }
                return;
            }
            Row::Step(k) | Row::Message(k, _) => match self.ctl.trace().steps.get(k) {
                Some(s) => s.op,
                None => return,
            },
        };
        if !self.expanded.remove(&op) {
            self.expanded.insert(op);
        }
        self.selected = Row::Op(op);
    }

    /// Enter: go to the selected step (its end), or to the start of the selected op.
    fn activate_selection(&mut self) {
        if self.focus != Pane::Outline {
            return;
        }
        let target = match self.selected {
            Row::Step(k) | Row::Message(k, _) => k + 1,
            // A sub-protocol call: to its start (before its first step).
            Row::Scope(start, _) => start,
            Row::Op(i) => {
                let op = &self.ctl.trace().ops[i];
                if op.first_step < op.end_step {
                    op.first_step
                } else {
                    self.set_message("that op has not begun; use c or n to run to it");
                    return;
                }
            }
        };
        let stop = self.ctl.goto(target);
        self.report("go to", stop);
    }

    fn toggle_breakpoint_at_selection(&mut self) {
        let b = match self.selected {
            Row::Op(i) => Breakpoint::Op(self.ctl.trace().ops[i].name.clone()),
            Row::Step(k) | Row::Message(k, _) => match self.ctl.trace().steps.get(k) {
                Some(s) => Breakpoint::Step(s.name.clone()),
                None => return,
            },
            // A call: a breakpoint on its first step.
            Row::Scope(start, _) => match self.ctl.trace().steps.get(start) {
                Some(s) => Breakpoint::Step(s.name.clone()),
                None => return,
            },
        };
        let d = b.describe(&self.ctl.plan().parties);
        if self.ctl.toggle_breakpoint(b) {
            self.set_message(format!("breakpoint set: {d}"));
        } else {
            self.set_message(format!("breakpoint cleared: {d}"));
        }
    }

    /// Runs a `:` command line.
    pub fn execute_command(&mut self, text: &str) {
        match command::run(self, text) {
            Ok(m) => self.set_message(m),
            Err(e) => self.set_message(format!("error: {e}")),
        }
        self.follow_cursor();
    }

    /// Handles a mouse event: click focuses a pane and selects an outline row; the wheel scrolls.
    pub fn handle_mouse(&mut self, ev: MouseEvent) {
        if self.mode != Mode::Normal {
            return;
        }
        let areas = layout::areas(self.size, self);
        let Some(areas) = areas else { return };
        let hit = |r: Rect| {
            ev.column >= r.x
                && ev.column < r.x + r.width
                && ev.row >= r.y
                && ev.row < r.y + r.height
        };
        let pane = areas
            .panes
            .iter()
            .find(|(_, r)| hit(*r))
            .map(|(p, r)| (*p, *r));
        if let Some(tab) = areas.tabs.iter().find(|(_, r)| hit(*r)) {
            if let MouseEventKind::Down(MouseButton::Left) = ev.kind {
                self.focus_pane(tab.0);
            }
            return;
        }
        let Some((pane, rect)) = pane else { return };
        match ev.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                self.focus_pane(pane);
                if pane == Pane::Outline {
                    self.click_outline(rect, &areas, ev.row);
                }
            }
            MouseEventKind::ScrollDown => {
                self.focus_pane(pane);
                self.move_in_focus(3);
            }
            MouseEventKind::ScrollUp => {
                self.focus_pane(pane);
                self.move_in_focus(-3);
            }
            _ => {}
        }
    }

    fn click_outline(&mut self, rect: Rect, _areas: &Areas, row: u16) {
        let rows = self.outline_rows();
        let inner_top = rect.y + 2; // border + header line
        if row < inner_top {
            return;
        }
        let height = rect.height.saturating_sub(3) as usize;
        let first = crate::panes::outline::first_visible(&rows, self.selected, height);
        if let Some(r) = rows.get(first + (row - inner_top) as usize) {
            self.selected = *r;
        }
    }
}

/// The seed `R` restarts with: a fixed mix of the old one (reproducible).
pub fn next_seed(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The message line after movement `what` stopped with `stop` at step `pos`.
pub fn stop_message(what: &str, stop: Stop, pos: usize) -> String {
    match stop {
        Stop::Done => format!("{what} → after step {pos}"),
        Stop::Breakpoint(b) => format!("breakpoint: {b} (after step {pos})"),
        Stop::End => "end of the run".to_string(),
        Stop::Start => "at the start".to_string(),
        Stop::Failed(e) => format!("run failed: {e}"),
        Stop::Interrupted => format!("{what} interrupted → paused after step {pos}"),
    }
}
