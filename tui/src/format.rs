//! Number formatting for the panes: sizes, durations and ring elements.

/// How ring elements are shown in the shares pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueFormat {
    /// Decoded fixed point (the real number the share stands for, alone meaningless).
    Decoded,
    /// Raw ring element in hexadecimal.
    Hex,
    /// Raw ring element as an unsigned integer.
    Unsigned,
    /// Raw ring element as a two's-complement signed integer.
    Signed,
}

impl ValueFormat {
    /// The next format in the cycle.
    pub fn next(self) -> ValueFormat {
        match self {
            ValueFormat::Decoded => ValueFormat::Hex,
            ValueFormat::Hex => ValueFormat::Unsigned,
            ValueFormat::Unsigned => ValueFormat::Signed,
            ValueFormat::Signed => ValueFormat::Decoded,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            ValueFormat::Decoded => "decoded",
            ValueFormat::Hex => "hex",
            ValueFormat::Unsigned => "unsigned",
            ValueFormat::Signed => "signed",
        }
    }
}

/// A byte count: `812 B`, `12.5 kB`, `3.1 MB`.
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

/// A duration in nanoseconds: `750 ns`, `12.3 µs`, `4.56 ms`, `1.23 s`.
pub fn ns(t: u64) -> String {
    if t == u64::MAX {
        "never".into()
    } else if t < 1_000 {
        format!("{t} ns")
    } else if t < 1_000_000 {
        format!("{:.1} µs", t as f64 / 1e3)
    } else if t < 1_000_000_000 {
        format!("{:.2} ms", t as f64 / 1e6)
    } else {
        format!("{:.2} s", t as f64 / 1e9)
    }
}

/// A bandwidth in bits per second (0 = unlimited).
pub fn bps(b: u64) -> String {
    match b {
        0 => "unlimited".into(),
        b if b >= 1_000_000_000 => format!("{} Gbit/s", b as f64 / 1e9),
        b if b >= 1_000_000 => format!("{} Mbit/s", b as f64 / 1e6),
        b if b >= 1_000 => format!("{} kbit/s", b as f64 / 1e3),
        b => format!("{b} bit/s"),
    }
}

/// One ring element in `fmt`; `double` means the value carries 2f fractional bits.
pub fn ring(v: u64, fmt: ValueFormat, cfg: &protocols::fixed::FixedConfig, double: bool) -> String {
    match fmt {
        ValueFormat::Decoded => real(if double {
            cfg.decode_double(v)
        } else {
            cfg.decode(v)
        }),
        ValueFormat::Hex => format!("{v:#018x}"),
        ValueFormat::Unsigned => v.to_string(),
        ValueFormat::Signed => (v as i64).to_string(),
    }
}

/// A real with a sensible number of digits.
pub fn real(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else if x.abs() >= 1e7 || x.abs() < 1e-4 {
        format!("{x:.3e}")
    } else {
        format!("{x:.6}")
    }
}

/// `s` cut to at most `w` characters (with an ellipsis when cut).
pub fn fit(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        s.to_string()
    } else if w == 0 {
        String::new()
    } else {
        let mut out: String = s.chars().take(w - 1).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_times_pick_readable_units() {
        assert_eq!(bytes(812), "812 B");
        assert_eq!(bytes(12_500), "12.5 kB");
        assert_eq!(ns(750), "750 ns");
        assert_eq!(ns(12_300), "12.3 µs");
        assert_eq!(ns(u64::MAX), "never");
        assert_eq!(bps(10_000_000_000), "10 Gbit/s");
    }

    #[test]
    fn ring_values_show_in_every_format() {
        let cfg = protocols::fixed::FixedConfig::default();
        let v = cfg.encode(-1.5);
        assert_eq!(ring(v, ValueFormat::Decoded, &cfg, false), "-1.500000");
        assert_eq!(ring(v, ValueFormat::Signed, &cfg, false), "-98304");
        assert_eq!(ring(v, ValueFormat::Hex, &cfg, false), "0xfffffffffffe8000");
        assert_eq!(fit("abcdef", 4), "abc…");
    }
}
