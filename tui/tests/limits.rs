//! The debugger refuses the values the scenario format refuses (issue 8): a `:link` latency or
//! jitter the virtual clock (ns in a u64) cannot hold leaves the link unchanged.

mod common;

use common::{app, keys};

#[test]
fn link_refuses_latencies_and_jitters_the_virtual_clock_cannot_hold() {
    let mut a = app();
    keys(&mut a, "nnn");
    let pos = a.ctl.position();
    let before = a.ctl.plan().links[0][1];
    // 18446744073709552 µs is 2^64 ns + 385 ns: it used to wrap to a 0.4 µs link.
    for setting in [
        "latency=18446744073709552",
        "latency=18446744073709551615",
        "jitter=18446744073709551615",
        "latency=1000000000001",
    ] {
        keys(
            &mut a,
            &format!(":link server0 server1 {setting} both<Enter>"),
        );
        assert!(a.message.starts_with("error: "), "{setting}: {}", a.message);
        assert!(
            a.message.contains("does not fit the virtual clock"),
            "{setting}: {}",
            a.message
        );
        assert!(a.message.contains("the link is unchanged"), "{}", a.message);
        assert_eq!(a.ctl.plan().links[0][1], before, "{setting}");
        assert_eq!(a.ctl.position(), pos);
    }
    // The largest accepted latency runs.
    keys(&mut a, ":link server0 server1 latency=1000000000000<Enter>");
    assert!(
        a.message.starts_with("link server0 → server1"),
        "{}",
        a.message
    );
    assert_eq!(a.ctl.plan().links[0][1].latency_us, 1_000_000_000_000);
}

/// The real binary with `args`.
fn sharescope(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_sharescope"))
        .args(args)
        .output()
        .expect("the sharescope binary runs")
}

fn shipped(name: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn check_prints_the_memory_estimate_and_its_budget() {
    let o = sharescope(&["check", &shipped("mnist-network-a.ron")]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    let line = out
        .lines()
        .find(|l| l.starts_with("memory: estimated peak "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains(" MiB; budget "), "{line}");
    let o = sharescope(&[
        "check",
        "--memory-limit",
        "3G",
        &shipped("mnist-network-a.ron"),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("budget 3.0 GiB (--memory-limit)"), "{out}");
}

#[test]
fn every_command_refuses_a_plan_over_its_memory_limit_with_a_located_error() {
    let path = shipped("mnist-network-a.ron");
    for cmd in ["check", "run", "debug", "compare"] {
        let o = sharescope(&[cmd, "--memory-limit", "10M", &path]);
        let err = String::from_utf8_lossy(&o.stderr);
        if cmd == "debug" && err.contains("needs a terminal") {
            continue; // checked before the scenario is loaded when stdout is not a terminal
        }
        assert_eq!(o.status.code(), Some(1), "{cmd}: {err}");
        assert!(err.contains("mnist-network-a.ron:"), "{cmd}: {err}");
        assert!(
            err.contains("the run would need an estimated"),
            "{cmd}: {err}"
        );
        assert!(err.contains("10.0 MiB (--memory-limit)"), "{err}");
    }
}

#[test]
fn a_memory_limit_that_is_not_a_size_is_a_usage_error() {
    for bad in ["8X", "0", "-1G", "lots"] {
        let o = sharescope(&[
            "check",
            &format!("--memory-limit={bad}"),
            &shipped("mlp.ron"),
        ]);
        assert_eq!(o.status.code(), Some(1), "{bad}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("--memory-limit"), "{bad}: {err}");
    }
}

#[test]
fn compare_skips_a_protocol_whose_estimate_exceeds_the_budget() {
    // A budget just above mlp.ron's estimate under Pond: SecureNN's exact ReLU needs more.
    let path = shipped("mlp.ron");
    let pond = sharescope(&["check", &path]);
    let out = String::from_utf8_lossy(&pond.stdout);
    let mib: f64 = out
        .lines()
        .find_map(|l| l.strip_prefix("memory: estimated peak "))
        .and_then(|l| l.split(" MiB").next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    let limit = format!("{}M", mib.ceil() as u64 + 1);
    let o = sharescope(&[
        "compare",
        "--memory-limit",
        &limit,
        "--protocols",
        "pond,securenn",
        &path,
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{out}{err}");
    let securenn = out
        .lines()
        .find(|l| l.starts_with("securenn "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        securenn.contains("skipped: needs an estimated"),
        "{securenn}"
    );
    assert!(securenn.contains("--memory-limit"), "{securenn}");
    assert!(
        !out.lines()
            .any(|l| l.starts_with("pond ") && l.contains("skipped")),
        "{out}"
    );
}
