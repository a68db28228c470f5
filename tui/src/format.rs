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

pub use sim::units::{bandwidth as bps, bytes, duration as ns};

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
    fn ring_values_show_in_every_format() {
        let cfg = protocols::fixed::FixedConfig::default();
        let v = cfg.encode(-1.5);
        assert_eq!(ring(v, ValueFormat::Decoded, &cfg, false), "-1.500000");
        assert_eq!(ring(v, ValueFormat::Signed, &cfg, false), "-98304");
        assert_eq!(ring(v, ValueFormat::Hex, &cfg, false), "0xfffffffffffe8000");
        assert_eq!(fit("abcdef", 4), "abc…");
    }
}
