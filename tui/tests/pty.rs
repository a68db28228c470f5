//! End to end: the real binary in a pseudo-terminal. It steps, sets a breakpoint from the command
//! line, continues to it, quits — and the terminal must be back in cooked mode, on the main
//! screen, with the cursor shown. The screen is read through a terminal emulator (vt100).

mod common;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

/// A hang guard, not a performance assertion: generous, so only a stuck debugger trips it.
const PATIENCE: Duration = Duration::from_secs(60);

struct Pty {
    master: std::fs::File,
    output: Receiver<Vec<u8>>,
    raw: Vec<u8>,
    screen: vt100::Parser,
    child: Child,
}

/// Starts the binary with `args` in a fresh pseudo-terminal (its controlling terminal, in a
/// session of its own); returns the master side and the child.
fn spawn_in_pty(args: &[&str], rows: u16, cols: u16) -> (OwnedFd, Child) {
    {
        let (mut master, mut slave) = (-1, -1);
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: openpty writes two fresh descriptors into `master` and `slave`.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                &ws,
            )
        };
        assert_eq!(rc, 0, "openpty failed");
        // The child must not inherit the master side, or closing ours would not hang it up.
        // SAFETY: fcntl on a descriptor just created here.
        unsafe { libc::fcntl(master, libc::F_SETFD, libc::FD_CLOEXEC) };
        // SAFETY: both descriptors were just created and are owned here.
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sharescope"));
        cmd.args(args)
            .env("TERM", "xterm-256color")
            .env_remove("NO_COLOR")
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("start sharescope");
        (master, child)
    }
}

impl Pty {
    fn spawn(args: &[&str], rows: u16, cols: u16) -> Pty {
        let (master, child) = spawn_in_pty(args, rows, cols);
        let master = std::fs::File::from(master);
        let mut reader = master.try_clone().unwrap();
        let (tx, output) = channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Pty {
            master,
            output,
            raw: Vec::new(),
            screen: vt100::Parser::new(rows, cols, 0),
            child,
        }
    }

    fn pump(&mut self, wait: Duration) {
        if let Ok(chunk) = self.output.recv_timeout(wait) {
            self.screen.process(&chunk);
            self.raw.extend(chunk);
        }
    }

    fn text(&self) -> String {
        self.screen.screen().contents()
    }

    /// Waits until the screen shows `what`.
    fn expect(&mut self, what: &str) {
        let start = Instant::now();
        while !self.text().contains(what) {
            assert!(
                start.elapsed() < PATIENCE,
                "screen never showed {what:?}; it shows:\n{}",
                self.text()
            );
            self.pump(Duration::from_millis(50));
        }
    }

    fn send(&mut self, keys: &str) {
        self.master.write_all(keys.as_bytes()).unwrap();
        self.master.flush().unwrap();
    }

    /// Waits for the process to exit, collecting the rest of its output.
    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Drain what is left.
                let drain = Instant::now();
                while drain.elapsed() < Duration::from_millis(300) {
                    self.pump(Duration::from_millis(20));
                }
                return status;
            }
            assert!(start.elapsed() < PATIENCE, "sharescope did not exit");
            self.pump(Duration::from_millis(20));
        }
    }

    /// Whether the terminal is back in cooked mode (canonical input with echo).
    fn cooked(&self) -> bool {
        // SAFETY: tcgetattr fills a zeroed termios for a valid descriptor (a Linux pty master
        // shares its termios with the slave).
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::tcgetattr(self.master.as_raw_fd(), &mut t) };
        assert_eq!(rc, 0);
        t.c_lflag & libc::ICANON != 0 && t.c_lflag & libc::ECHO != 0
    }

    fn raw_contains(&self, seq: &[u8]) -> bool {
        self.raw.windows(seq.len()).any(|w| w == seq)
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn scenario_file(tag: &str) -> std::path::PathBuf {
    scenario_file_with(tag, common::SCENARIO)
}

fn scenario_file_with(tag: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sharescope-pty-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("scenario.ron");
    std::fs::write(&f, text).unwrap();
    f
}

#[test]
fn esc_interrupts_a_long_continue_and_continue_then_finishes() {
    // Realtime links of 100 ms and a sigmoid (a dozen rounds): the run takes seconds of wall
    // time, far longer than the Esc takes to arrive even on a loaded machine.
    let text = common::SCENARIO
        .replace("Add(\"z\", \"x\")", "Sigmoid(\"z\")")
        .replace(
            "seed: 42,",
            "network: (default: (latency_us: 100000), mode: Realtime),\n    seed: 42,",
        );
    let file = scenario_file_with("esc", &text);
    let mut pty = Pty::spawn(&["debug", file.to_str().unwrap()], 30, 100);
    pty.expect("paused before the first step");
    pty.send("c");
    pty.expect("running (continue)…");
    // The message line follows the run while the frame cannot be redrawn.
    pty.expect(" steps · Esc or Ctrl-C interrupts");
    pty.send("\x1b");
    pty.expect("continue interrupted → paused after step");
    pty.send("c");
    pty.expect("end of the run");
    pty.send("q");
    assert!(pty.wait_exit().success());
    assert!(pty.cooked());
    std::fs::remove_dir_all(file.parent().unwrap()).unwrap();
}

#[test]
fn debugger_steps_breaks_continues_quits_and_restores_the_terminal() {
    let file = scenario_file("main");
    let mut pty = Pty::spawn(&["debug", file.to_str().unwrap()], 30, 100);
    pty.expect("1 Outline");
    pty.expect("paused before the first step");
    assert!(!pty.cooked(), "the debugger runs in raw mode");
    pty.send("s");
    pty.expect("step 1/?");
    pty.send(":break kind add\r");
    pty.expect("breakpoint set: kind add");
    pty.send("c");
    pty.expect("breakpoint: kind add");
    assert!(
        pty.text().contains("◆ ▸ w"),
        "breakpoint marker on w:\n{}",
        pty.text()
    );
    pty.send("7");
    pty.expect("Why it reveals nothing");
    pty.send("q");
    let status = pty.wait_exit();
    assert!(status.success(), "{status:?}");
    assert!(pty.cooked(), "raw mode was switched off");
    assert!(
        pty.raw_contains(b"\x1b[?1049l"),
        "left the alternate screen"
    );
    assert!(pty.raw_contains(b"\x1b[?25h"), "showed the cursor again");
    std::fs::remove_dir_all(file.parent().unwrap()).unwrap();
}

#[test]
fn ctrl_c_quits_and_restores_the_terminal() {
    let file = scenario_file("ctrlc");
    let mut pty = Pty::spawn(&["debug", file.to_str().unwrap()], 24, 80);
    pty.expect("1 Outline");
    pty.send("\x03");
    let status = pty.wait_exit();
    assert!(status.success(), "{status:?}");
    assert!(pty.cooked());
    assert!(pty.raw_contains(b"\x1b[?1049l"));
    std::fs::remove_dir_all(file.parent().unwrap()).unwrap();
}

#[test]
fn sigterm_and_sighup_quit_and_restore_the_terminal() {
    for (tag, sig) in [("term", libc::SIGTERM), ("hup", libc::SIGHUP)] {
        let file = scenario_file(tag);
        let mut pty = Pty::spawn(&["debug", file.to_str().unwrap()], 24, 80);
        pty.expect("1 Outline");
        let rc = unsafe { libc::kill(pty.child.id() as libc::pid_t, sig) };
        assert_eq!(rc, 0);
        let status = pty.wait_exit();
        assert!(status.success(), "signal {sig}: {status:?}");
        assert!(pty.cooked(), "signal {sig}: terminal left in raw mode");
        assert!(
            pty.raw_contains(b"\x1b[?1049l"),
            "signal {sig}: alternate screen not left"
        );
        std::fs::remove_dir_all(file.parent().unwrap()).unwrap();
    }
}

#[test]
fn no_arguments_in_a_terminal_opens_the_debugger_on_the_builtin_scenario() {
    let mut pty = Pty::spawn(&[], 24, 80);
    pty.expect("beaver-multiplication");
    pty.expect("1 Outline");
    pty.send("q");
    assert!(pty.wait_exit().success());
    assert!(pty.cooked());
}

#[test]
fn a_too_small_terminal_gets_a_message() {
    let file = scenario_file("small");
    let mut pty = Pty::spawn(&["debug", file.to_str().unwrap()], 10, 40);
    pty.expect("Terminal too small");
    pty.send("q");
    assert!(pty.wait_exit().success());
    std::fs::remove_dir_all(file.parent().unwrap()).unwrap();
}

#[test]
fn a_hung_up_terminal_ends_the_debugger_within_a_second() {
    // The terminal goes away (tmux session killed, window closed, ssh dropped): the master side
    // closes, the kernel hangs up the tty and sends SIGHUP. The debugger must exit promptly and
    // end its party threads, not spin on the dead tty.
    let path = scenario_file("hangup");
    let (master, child) = spawn_in_pty(&["debug", path.to_str().unwrap()], 30, 100);
    let mut child = Reap(child);
    // Let it draw its first frame (read until some output arrived, or give up after a while).
    let mut file = std::fs::File::from(master);
    let mut buf = [0u8; 4096];
    let fd = file.as_raw_fd();
    let start = Instant::now();
    let mut seen = 0;
    while seen < 2000 && start.elapsed() < PATIENCE {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut pfd, 1, 200) } > 0 {
            match file.read(&mut buf) {
                Ok(n) if n > 0 => seen += n,
                _ => break,
            }
        }
    }
    assert!(seen > 0, "the debugger drew nothing");
    hang_up_and_expect_exit(file, &mut child);
}

/// Kills the debugger if the test fails, so none outlives it.
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Closes the master side (the terminal is gone: the kernel hangs up the tty and sends SIGHUP);
/// the debugger must then exit promptly and successfully.
fn hang_up_and_expect_exit(master: std::fs::File, child: &mut Reap) {
    drop(master);
    let gone = Instant::now();
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            gone.elapsed() < PATIENCE,
            "the debugger outlived its terminal"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = gone.elapsed();
    eprintln!("exited {took:?} after the hang-up ({status})");
    assert!(status.success(), "{status}");
    // One second is the promise; the margin is for a loaded machine.
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn a_terminal_hung_up_while_a_frame_is_written_ends_the_debugger() {
    // The failure the test above caught about 1 run in 25 on a loaded machine, made certain: the
    // terminal goes away while the debugger is writing a frame, after it has read input once.
    // It used to ask crossterm for input next, whose reader spins for ever on a hung-up tty (a
    // read of 0 bytes does not end its loop): the debugger outlived its terminal.
    let path = scenario_file("hangup-draw");
    let (master, child) = spawn_in_pty(&["debug", path.to_str().unwrap()], 300, 400);
    let mut child = Reap(child);
    let mut file = std::fs::File::from(master);
    let fd = file.as_raw_fd();
    let wait_output = |ms: i32| {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, ms) == 1 }
    };
    // Read the first frame to its end (no output for half a second): the debugger then waits
    // for input, its input reader set up.
    let (start, mut buf, mut seen) = (Instant::now(), [0u8; 8192], 0);
    while start.elapsed() < PATIENCE && (seen == 0 || wait_output(500)) {
        if wait_output(200) {
            match file.read(&mut buf) {
                Ok(n) if n > 0 => seen += n,
                _ => break,
            }
        }
    }
    assert!(seen > 0, "the debugger drew nothing");
    // A resize makes it redraw the whole screen: 300×399 cells, far more than the pty's
    // buffers (~68 KiB) hold. Nobody reads it, so once its first bytes arrive the debugger is
    // in the middle of the frame, and its next writes fail with EIO when the terminal goes.
    let ws = libc::winsize {
        ws_row: 300,
        ws_col: 399,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize.
    assert_eq!(unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) }, 0);
    assert!(
        wait_output(PATIENCE.as_millis() as i32),
        "no redraw after the resize"
    );
    hang_up_and_expect_exit(file, &mut child);
}

/// Runs a headless command in a pty to its end; returns everything it wrote and the screen.
fn headless_in_pty(args: &[&str]) -> (Vec<u8>, String) {
    let mut pty = Pty::spawn(args, 30, 160);
    let status = pty.wait_exit();
    assert!(status.success(), "{args:?}: {status:?}\n{}", pty.text());
    (pty.raw.clone(), pty.text())
}

#[test]
fn headless_commands_draw_a_progress_bar_on_a_terminal_and_erase_it() {
    // Issue 9, item 15: the bar is drawn when the run starts and when it ends, so even a short
    // run shows it (no wall-time assumption); the report that follows is clean.
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/beaver-multiplication.ron");
    let file = file.to_str().unwrap();
    let ops = sim::scenario::load(std::path::Path::new(file))
        .unwrap()
        .ops
        .len();
    let (raw, screen) = headless_in_pty(&["run", file]);
    let raw = String::from_utf8_lossy(&raw);
    assert!(raw.contains("sharescope run ["), "no bar in {raw:?}");
    assert!(
        raw.contains(&format!(" 0/{ops} ops")),
        "no start in {raw:?}"
    );
    assert!(
        raw.contains(&format!(" {ops}/{ops} ops")),
        "no end in {raw:?}"
    );
    assert!(!screen.contains("ETA"), "the bar was not erased:\n{screen}");
    assert!(
        screen.contains("total: 384 B online"),
        "the report follows:\n{screen}"
    );
    let (raw, _) = headless_in_pty(&["leak", "--runs", "2", file]);
    let raw = String::from_utf8_lossy(&raw);
    assert!(raw.contains("sharescope leak ["), "no bar in {raw:?}");
    assert!(raw.contains(" runs"), "{raw:?}");
    let (raw, _) = headless_in_pty(&["compare", "--protocols", "pond,securenn", file]);
    let raw = String::from_utf8_lossy(&raw);
    assert!(raw.contains("sharescope compare ["), "no bar in {raw:?}");
    assert!(raw.contains(" 2/2 protocols"), "{raw:?}");
}

#[test]
fn the_command_line_edits_completes_and_recalls_in_a_real_terminal() {
    // Issue 9, item 7: the keys as a terminal sends them (escape sequences, control bytes).
    let file = scenario_file("line");
    let mut pty = Pty::spawn(&["debug", file.to_str().unwrap()], 30, 100);
    pty.expect("paused before the first step");
    // ← moves the cursor: `tol 5`, ←, `0.` → `tol 0.5`.
    pty.send(":tol 5\x1b[D0.\r");
    pty.expect("tolerance set to 0.5");
    // ↑ recalls it; Ctrl-U clears it instead of inserting a `u`.
    pty.send(":\x1b[A");
    pty.expect(":tol 0.5");
    pty.send("\x15br\tk\ta\t");
    pty.expect(":break kind add");
    // Ctrl-A, then a typo at the start is deleted with Delete (ESC [3~).
    pty.send("\x01x\x1b[D\x1b[3~\r");
    pty.expect("breakpoint set: kind add");
    pty.send("q");
    assert!(pty.wait_exit().success());
    assert!(pty.cooked());
    std::fs::remove_dir_all(file.parent().unwrap()).unwrap();
}

/// Training in a real terminal: the header names the iteration, epoch and batch; `s` past the
/// end of an iteration opens the next; `c` stops at a breakpoint of a later iteration; `I`
/// jumps back.
#[test]
fn the_debugger_walks_through_training_iterations_in_a_real_terminal() {
    let file = scenario_file_with("train", &common::small_training_text());
    let mut pty = Pty::spawn(&["debug", file.to_str().unwrap()], 40, 160);
    pty.expect("iteration 0 of 5 (epoch 1 of 1, batch 1 of 5)");
    pty.send("G");
    pty.expect("end of iteration 0 · s or c opens iteration 1");
    pty.send("s");
    pty.expect("opened iteration 1 of 5");
    pty.expect("iteration 1 of 5 (epoch 1 of 1, batch 2 of 5) · seed");
    pty.send(":break op it3/d.w\r");
    pty.expect("breakpoint set: op it3/d.w");
    pty.send("c");
    pty.expect("breakpoint: op it3/d.w");
    pty.expect("iteration 3 of 5 (epoch 1 of 1, batch 4 of 5) · seed");
    pty.send("I0\r");
    pty.expect("opened iteration 0 of 5");
    pty.send("q");
    assert!(pty.wait_exit().success());
    assert!(pty.cooked());
    std::fs::remove_dir_all(file.parent().unwrap()).unwrap();
}
