//! How sizes, durations and bandwidths are written for people — one set of tiers for the
//! headless report, `sharescope compare` and the debugger alike.

/// A byte count: `812 B`, `12.5 kB`, `3.1 MB`, `12.0 GB`.
pub fn bytes(b: u64) -> String {
    if b < 10_000 {
        format!("{b} B")
    } else if b < 10_000_000 {
        format!("{:.1} kB", b as f64 / 1e3)
    } else if b < 10_000_000_000 {
        format!("{:.1} MB", b as f64 / 1e6)
    } else {
        format!("{:.1} GB", b as f64 / 1e9)
    }
}

/// A duration in nanoseconds: `750 ns`, `12.3 µs`, `4.56 ms`, `1.23 s`; `u64::MAX` is `never`.
pub fn duration(ns: u64) -> String {
    if ns == u64::MAX {
        "never".into()
    } else if ns < 1_000 {
        format!("{ns} ns")
    } else if ns < 1_000_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.2} ms", ns as f64 / 1e6)
    } else {
        format!("{:.2} s", ns as f64 / 1e9)
    }
}

/// A bandwidth in bits per second (0 = unlimited): `100 Mbit/s`, `10 Gbit/s`.
pub fn bandwidth(bps: u64) -> String {
    match bps {
        0 => "unlimited".into(),
        b if b >= 1_000_000_000 => format!("{} Gbit/s", b as f64 / 1e9),
        b if b >= 1_000_000 => format!("{} Mbit/s", b as f64 / 1e6),
        b if b >= 1_000 => format!("{} kbit/s", b as f64 / 1e3),
        b => format!("{b} bit/s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_times_and_rates_pick_readable_units() {
        assert_eq!(bytes(812), "812 B");
        assert_eq!(bytes(12_500), "12.5 kB");
        assert_eq!(bytes(612_220_000), "612.2 MB");
        assert_eq!(bytes(12_000_000_000), "12.0 GB");
        assert_eq!(duration(750), "750 ns");
        assert_eq!(duration(12_300), "12.3 µs");
        assert_eq!(duration(11_204_000), "11.20 ms");
        assert_eq!(duration(1_327_600_000), "1.33 s");
        assert_eq!(duration(u64::MAX), "never");
        assert_eq!(bandwidth(10_000_000_000), "10 Gbit/s");
        assert_eq!(bandwidth(100_000_000), "100 Mbit/s");
        assert_eq!(bandwidth(0), "unlimited");
    }
}
