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
