//! The terminal session: raw mode, alternate screen and mouse capture, restored on every exit
//! path — normal return, error (the guard's `Drop`), panic (a hook that restores first), and
//! SIGTERM / SIGHUP / SIGINT (flags the event loop checks at least every 250 ms; it then returns
//! through the guard). A hung-up terminal (its master side closed) ends the debugger at once,
//! and nothing more is written to it.
//!
//! Input is read by crossterm on a thread of its own ([`spawn_reader`]), never on the UI thread:
//! crossterm's reader spins for ever once the tty has hung up under it (a read of 0 bytes or an
//! error other than "would block" does not end its loop), and whoever calls it then never
//! returns. The UI thread learns of a hang-up from its own poll(2) and from the reader's end.

use crate::app::App;
use crate::draw;
use crate::theme::Theme;
use crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event, KeyEventKind};
use crossterm::terminal::{self, EnterAlternateScreen, LeaveAlternateScreen};
use crossterm::{cursor, execute};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use sim::control::Controller;
use sim::scenario::Plan;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

/// Set once the terminal has hung up: nothing is written to it any more.
static HUNG_UP: AtomicBool = AtomicBool::new(false);

/// What the terminal's input side says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    /// Bytes (or events crossterm already holds) are waiting.
    Ready,
    /// Nothing within the timeout (or a signal interrupted the wait).
    Idle,
    /// The terminal is gone (hang-up, error): the debugger must exit.
    HungUp,
}

/// The descriptor crossterm reads events from: stdin when it is a terminal, else /dev/tty.
fn input_fd() -> std::os::fd::RawFd {
    use std::os::fd::AsRawFd;
    static TTY: std::sync::OnceLock<Option<std::fs::File>> = std::sync::OnceLock::new();
    // SAFETY: isatty only inspects the descriptor.
    if unsafe { libc::isatty(0) } == 1 {
        return 0;
    }
    TTY.get_or_init(|| std::fs::File::open("/dev/tty").ok())
        .as_ref()
        .map_or(0, |f| f.as_raw_fd())
}

/// Waits up to `timeout` for bytes on the terminal, telling a hang-up apart, with poll(2) only
/// (crossterm's own poll spins on a hung-up terminal, reading nothing, and never returns).
fn wait_input(timeout: Duration) -> Input {
    wait_tty(libc::POLLIN, timeout)
}

/// Whether the terminal has hung up (or can no longer be polled). Pending input is ignored.
fn tty_gone() -> bool {
    wait_tty(0, Duration::ZERO) == Input::HungUp
}

/// poll(2) on the input descriptor for `events` (hang-ups and errors are always reported).
fn wait_tty(events: libc::c_short, timeout: Duration) -> Input {
    let mut pfd = libc::pollfd {
        fd: input_fd(),
        events,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd for the duration of the call.
    let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
    if rc < 0 {
        return match io::Error::last_os_error().kind() {
            io::ErrorKind::Interrupted => Input::Idle,
            _ => Input::HungUp,
        };
    }
    if pfd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
        return Input::HungUp;
    }
    if pfd.revents & libc::POLLIN != 0 {
        Input::Ready
    } else {
        Input::Idle
    }
}

/// Notes that the terminal is gone: the guard will not write to it.
fn hung_up() {
    HUNG_UP.store(true, Ordering::SeqCst);
}

/// Puts the terminal back: leaves the alternate screen, shows the cursor, ends raw mode.
/// Nothing is written once the terminal has hung up.
pub fn restore() {
    if HUNG_UP.load(Ordering::SeqCst) {
        return;
    }
    let mut out = io::stdout();
    let _ = execute!(out, DisableMouseCapture, LeaveAlternateScreen, cursor::Show);
    let _ = terminal::disable_raw_mode();
    let _ = out.flush();
}

/// Restores the terminal when dropped.
pub struct Guard;

impl Guard {
    /// Enters raw mode and the alternate screen; installs a panic hook that restores first.
    ///
    /// Only a panic on this (the UI) thread restores the terminal and prints. Party threads'
    /// panics are caught by the simulator and shown in the debugger as the run's failure;
    /// printing them would scribble over the screen, so they are silent while it is up.
    pub fn enter() -> io::Result<Guard> {
        let ui = std::thread::current().id();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().id() == ui {
                restore();
                previous(info);
            }
        }));
        terminal::enable_raw_mode()?;
        let guard = Guard;
        execute!(
            io::stdout(),
            EnterAlternateScreen,
            EnableMouseCapture,
            cursor::Hide
        )?;
        Ok(guard)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
        // Back to the default hook: panics print normally again.
        drop(std::panic::take_hook());
    }
}

/// Opens the debugger on `plan` and runs it until the user quits.
pub fn run(plan: Plan) -> io::Result<()> {
    let ctl = Controller::new(plan);
    let mut app = App::new(ctl, Theme::from_env());
    let palette = crate::theme::Palette::from_env();
    app.defer_long = true;
    let _guard = Guard::enter()?;
    let mut term = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    if let Err(e) = term.clear() {
        return failed(term, e);
    }
    // A signal that would kill the process sets this flag instead, so the loop returns and the
    // guard restores the terminal (Ctrl-C arrives as a key in raw mode; SIGINT from `kill` here).
    let signalled = Arc::new(AtomicBool::new(false));
    for sig in [SIGTERM, SIGHUP, SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&signalled))?;
    }
    let mut keys = spawn_reader();
    let mut redraw = true;
    loop {
        if redraw {
            let drawn = term.size().and_then(|size| {
                app.size = ratatui::layout::Rect::new(0, 0, size.width, size.height);
                term.draw(|f| {
                    draw::draw(f, &app);
                    palette.apply(f.buffer_mut());
                })
                .map(|_| ())
            });
            if let Err(e) = drawn {
                return failed(term, e);
            }
        }
        if app.pending.is_some() {
            // The "running…" status is on screen; now run the long key, with a watcher on the
            // keyboard that interrupts it, and the message line updated with the run's progress.
            let done = Arc::new(AtomicBool::new(false));
            let watcher = watch_for_interrupt(
                keys,
                app.ctl.interrupt_handle(),
                Arc::clone(&done),
                Arc::clone(&signalled),
            );
            let shown = Arc::new(AtomicBool::new(false));
            if let Some(areas) = crate::layout::areas(app.size, &app) {
                let (what, line, flag) = (app.pending_what, areas.message, Arc::clone(&shown));
                app.ctl.set_progress_observer(Some(Box::new(move |steps| {
                    let text = crate::app::running_message(what, Some(steps));
                    flag.store(true, Ordering::SeqCst);
                    let _ = write_line(line, &text);
                })));
            }
            app.run_pending();
            app.ctl.set_progress_observer(None);
            done.store(true, Ordering::SeqCst);
            let Ok(back) = watcher.join() else {
                return failed(term, io::Error::other("the keyboard watcher failed"));
            };
            keys = back;
            if HUNG_UP.load(Ordering::SeqCst) {
                return abandon(term);
            }
            if shown.load(Ordering::SeqCst) {
                // The progress line was written behind ratatui's back: repaint everything.
                if let Err(e) = term.clear() {
                    return failed(term, e);
                }
            }
            redraw = true;
            if signalled.load(Ordering::Relaxed) {
                return leave(term);
            }
            continue;
        }
        // Wakes for input, the reader's end (the terminal hung up) or every 250 ms to look at
        // the signal flag and for a hang-up; an idle debugger costs nothing measurable.
        redraw = false;
        match keys.recv_timeout(Duration::from_millis(250)) {
            Ok(ev) => {
                redraw = true;
                match ev {
                    Event::Key(k) if k.kind != KeyEventKind::Release => app.handle_key(k),
                    Event::Mouse(m) => app.handle_mouse(m),
                    _ => {}
                }
            }
            Err(RecvTimeoutError::Timeout) if !tty_gone() => {}
            // A terminal that hung up or cannot be read any more is gone.
            Err(_) => return abandon(term),
        }
        if app.quit || signalled.load(Ordering::Relaxed) {
            return leave(term);
        }
    }
}

/// Quits the loop: through the guard, which restores the terminal — unless it has hung up (a
/// SIGHUP usually means it is going away: look before writing to it).
fn leave<B: ratatui::backend::Backend>(term: Terminal<B>) -> io::Result<()> {
    if tty_gone() {
        return abandon(term);
    }
    Ok(())
}

/// Ends the loop on a failed write: a hung-up terminal is left alone (not an error: the user
/// closed it), any other failure is returned.
fn failed<B: ratatui::backend::Backend>(term: Terminal<B>, e: io::Error) -> io::Result<()> {
    if tty_gone() {
        return abandon(term);
    }
    Err(e)
}

/// Leaves a hung-up terminal alone: marks it gone (the guard writes nothing) and forgets
/// ratatui's terminal, whose drop would try to show the cursor on it.
fn abandon<B: ratatui::backend::Backend>(term: Terminal<B>) -> io::Result<()> {
    hung_up();
    std::mem::forget(term);
    Ok(())
}

/// Starts the thread that reads the terminal's events with crossterm and hands them over the
/// returned channel. It ends — dropping its sender, so the receiver sees the terminal gone —
/// when poll(2) reports a hang-up, when crossterm fails, or when nobody listens any more. If
/// the terminal hangs up while crossterm is reading, crossterm spins on this thread; the UI
/// thread still sees the hang-up with its own poll(2) and the process ends with it.
fn spawn_reader() -> Receiver<Event> {
    let (tx, rx) = mpsc::channel();
    // Wakes for bytes, a hang-up or every 100 ms: a resize reaches crossterm as a signal, not
    // as bytes on the terminal, so its queue is looked at on every wake-up.
    let read = move || loop {
        if wait_input(Duration::from_millis(100)) == Input::HungUp {
            return;
        }
        // Everything crossterm holds or parses from the bytes now waiting.
        loop {
            match event::poll(Duration::ZERO) {
                Ok(true) => {}
                Ok(false) => break,
                Err(_) => return,
            }
            let Ok(ev) = event::read() else { return };
            if tx.send(ev).is_err() {
                return;
            }
        }
    };
    // Without the thread there is no input: the receiver reports the terminal gone at once.
    let _ = std::thread::Builder::new()
        .name("terminal input".into())
        .spawn(read);
    rx
}

/// While a long movement runs on the UI thread, watches the keyboard on another: Esc or Ctrl-C
/// sets the controller's interrupt flag (the parties pause at the next step boundary, as gdb's
/// Ctrl-C stops the inferior); a terminating signal or a hang-up does too, so the loop can
/// quit. Other keys typed meanwhile are dropped. Ends when `done` is set, and hands `keys` back.
fn watch_for_interrupt(
    keys: Receiver<Event>,
    interrupt: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
    signalled: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Receiver<Event>> {
    std::thread::spawn(move || {
        while !done.load(Ordering::SeqCst) {
            if signalled.load(Ordering::Relaxed) {
                interrupt.store(true, Ordering::SeqCst);
            }
            match keys.recv_timeout(Duration::from_millis(50)) {
                Ok(Event::Key(k)) => {
                    if k.kind != KeyEventKind::Release && crate::app::is_interrupt_key(&k) {
                        interrupt.store(true, Ordering::SeqCst);
                    }
                }
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) if !tty_gone() => {}
                Err(_) => {
                    // The terminal is gone: stop the movement and let the main loop quit
                    // without drawing.
                    hung_up();
                    signalled.store(true, Ordering::SeqCst);
                    interrupt.store(true, Ordering::SeqCst);
                    break;
                }
            }
        }
        keys
    })
}

/// Writes `text` over the one-row area `at` (padded or cut to its width), outside ratatui: the
/// UI thread is busy running the movement, so the frame cannot be redrawn.
fn write_line(at: ratatui::layout::Rect, text: &str) -> io::Result<()> {
    let width = at.width as usize;
    let mut line: String = text.chars().take(width).collect();
    let pad = width.saturating_sub(line.chars().count());
    line.extend(std::iter::repeat_n(' ', pad));
    let mut out = io::stdout();
    crossterm::queue!(
        out,
        cursor::MoveTo(at.x, at.y),
        crossterm::style::ResetColor,
        crossterm::style::Print(line)
    )?;
    out.flush()
}
