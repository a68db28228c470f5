//! How sizes, durations and bandwidths are written for people — one set of tiers for the
//! headless report, `sharescope compare` and the debugger alike.

/// `v` in the first tier it is below: `(limit, divisor, unit, decimals)`; past the last, the
/// last tier's unit.
fn tiered(v: u64, tiers: &[(u64, f64, &str, usize)]) -> String {
    let (_, div, unit, decimals) = tiers
        .iter()
        .find(|t| v < t.0)
        .or(tiers.last())
        .copied()
        .expect("at least one tier");
    if decimals == 0 {
        format!("{v} {unit}")
    } else {
        format!("{:.*} {unit}", decimals, v as f64 / div)
    }
}

/// A byte count: `812 B`, `12.5 kB`, `3.1 MB`, `12.0 GB`.
pub fn bytes(b: u64) -> String {
    tiered(
        b,
        &[
            (10_000, 1.0, "B", 0),
            (10_000_000, 1e3, "kB", 1),
            (10_000_000_000, 1e6, "MB", 1),
            (u64::MAX, 1e9, "GB", 1),
        ],
    )
}

/// A duration in nanoseconds: `750 ns`, `12.3 µs`, `4.56 ms`, `1.23 s`; `u64::MAX` is `never`.
pub fn duration(ns: u64) -> String {
    if ns == u64::MAX {
        return "never".into();
    }
    tiered(
        ns,
        &[
            (1_000, 1.0, "ns", 0),
            (1_000_000, 1e3, "µs", 1),
            (1_000_000_000, 1e6, "ms", 2),
            (u64::MAX, 1e9, "s", 2),
        ],
    )
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

/// The width of a text column: its longest entry (in characters), and at least `min`, so a
/// long entry (an op kind such as `conv2d_grad_filters`) widens its column instead of pushing
/// the rest of its row out of line.
pub fn column_width<'a>(min: usize, entries: impl IntoIterator<Item = &'a str>) -> usize {
    entries
        .into_iter()
        .map(|e| e.chars().count())
        .fold(min, usize::max)
}

/// `text` cut to at most `width` characters, its last one `…` when it was cut.
pub fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        text.chars()
            .take(width.saturating_sub(1))
            .collect::<String>()
            + "…"
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

    #[test]
    fn a_column_is_as_wide_as_its_longest_entry() {
        assert_eq!(column_width(11, ["mul", "input"]), 11);
        assert_eq!(column_width(11, ["mul", "conv2d_grad_filters"]), 19);
        assert_eq!(fit("short", 8), "short");
        assert_eq!(fit("a_rather_long_name", 8), "a_rathe…");
    }
}
