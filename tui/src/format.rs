//! Number formatting for the panes: sizes, durations and ring elements, each ring in the
//! formats that make sense for it ([`formats`]).

use protocols::context::RingKind;
use protocols::fixed::FixedConfig;

/// How ring elements are shown. Which formats a ring offers is [`formats`]; `v` cycles them for
/// the ring of the value selected in the shares pane (the view pane: for Z_2^64).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueFormat {
    /// Z_2^64's default: shares (and masks, seeds' expansions, messages) as raw unsigned ring
    /// elements, opened values and reconstructions decoded (fixed point, or integers for
    /// values that are integers, like DReLU's bit).
    Auto,
    /// Everything decoded as fixed point, shares too (a share decoded alone is meaningless: the
    /// panes say so).
    Decoded,
    /// Raw ring element in hexadecimal (the low 64 bits for Z_2^128).
    Hex,
    /// Raw ring element as an unsigned integer (Z_67: 0–66; bits: 0/1).
    Unsigned,
    /// Raw ring element as a signed integer: two's complement for Z_2^64 (and Z_2^128's low
    /// word), the representative in (−m/2, m/2] for Z_(2^64−1) and Z_67.
    Signed,
}

/// The formats ring `kind` offers, its default first.
pub fn formats(kind: RingKind) -> &'static [ValueFormat] {
    use ValueFormat::*;
    match kind {
        RingKind::Z64 => &[Auto, Decoded, Unsigned, Signed, Hex],
        RingKind::Z128 | RingKind::Odd => &[Unsigned, Signed, Hex],
        RingKind::Zp => &[Unsigned, Signed],
        RingKind::Bit => &[Unsigned],
        RingKind::Seed => &[Hex],
        // Boolean share words (ABY3): 64 independent bits, no number to read.
        RingKind::BitWords => &[Hex],
    }
}

/// The rings, in the order [`Formats`] keeps them.
const RINGS: [RingKind; 7] = [
    RingKind::Z64,
    RingKind::Z128,
    RingKind::Odd,
    RingKind::Zp,
    RingKind::Bit,
    RingKind::Seed,
    RingKind::BitWords,
];

/// The chosen format of each ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Formats([ValueFormat; 7]);

impl Default for Formats {
    fn default() -> Self {
        Formats(RINGS.map(|k| formats(k)[0]))
    }
}

impl Formats {
    fn slot(kind: RingKind) -> usize {
        RINGS.iter().position(|k| *k == kind).unwrap_or(0)
    }

    /// The format values of ring `kind` are shown in.
    pub fn get(&self, kind: RingKind) -> ValueFormat {
        self.0[Formats::slot(kind)]
    }

    /// Sets the format of ring `kind` (ignored when the ring does not offer it).
    pub fn set(&mut self, kind: RingKind, fmt: ValueFormat) {
        if formats(kind).contains(&fmt) {
            self.0[Formats::slot(kind)] = fmt;
        }
    }

    /// Moves ring `kind` to its next format (cycling) and returns it.
    pub fn cycle(&mut self, kind: RingKind) -> ValueFormat {
        let all = formats(kind);
        let at = all.iter().position(|f| *f == self.get(kind)).unwrap_or(0);
        let next = all[(at + 1) % all.len()];
        self.0[Formats::slot(kind)] = next;
        next
    }
}

/// What a value means beyond its ring: how a decoded reading reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Fixed point with f fractional bits.
    Fixed,
    /// Fixed point with 2f fractional bits (a product before truncation).
    Double,
    /// An integer (a bit or an index shared over Z_2^64: DReLU, MSB, [x > y], argmax).
    Integer,
}

/// How a value recorded under `label` reads when decoded: 2f fractional bits for products
/// before truncation ("scale 2f"), integers for SecureNN's bits and indices shared over
/// Z_2^64 (DReLU, MSB, [x > y], argmax: the labels `protocols::securenn` records them under),
/// fixed point otherwise.
pub fn scale_of(label: &str) -> Scale {
    if label.contains("scale 2f") {
        Scale::Double
    } else if label.starts_with("DReLU")
        || label.starts_with("MSB(")
        || label.starts_with('[')
        || label == "argmax(x)"
    {
        Scale::Integer
    } else {
        Scale::Fixed
    }
}

/// One element as the panes show it: the part of [`element`] before it becomes text.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Reading {
    /// `digits` hex digits (2 for a byte, 16 with `0x` for a word).
    Hex(u64, usize),
    /// An integer.
    Int(i128),
    /// A real.
    Real(f64),
}

/// How element `x` of ring `kind` reads in `fmt` (`share`: it is one party's share, which
/// `Auto` shows raw).
fn read(
    x: u64,
    kind: RingKind,
    fmt: ValueFormat,
    share: bool,
    scale: Scale,
    cfg: &FixedConfig,
) -> Reading {
    match (kind, offered(kind, fmt)) {
        (RingKind::Seed, _) => Reading::Hex(x, 2),
        (_, ValueFormat::Hex) => Reading::Hex(x, 16),
        (RingKind::Zp, ValueFormat::Signed) => {
            Reading::Int(if x > 33 { x as i128 - 67 } else { x as i128 })
        }
        (RingKind::Odd, ValueFormat::Signed) => {
            // The representative of x in (−(2^64−1)/2, (2^64−1)/2].
            let m = u64::MAX;
            Reading::Int(if x > m / 2 {
                -((m - x) as i128)
            } else {
                x as i128
            })
        }
        (_, ValueFormat::Signed) => Reading::Int(x as i64 as i128),
        (RingKind::Z64, ValueFormat::Decoded) => decode(x, scale, cfg),
        (RingKind::Z64, ValueFormat::Auto) if !share => decode(x, scale, cfg),
        _ => Reading::Int(x as i128),
    }
}

fn decode(x: u64, scale: Scale, cfg: &FixedConfig) -> Reading {
    match scale {
        Scale::Fixed => Reading::Real(cfg.decode(x)),
        Scale::Double => Reading::Real(cfg.decode_double(x)),
        Scale::Integer => Reading::Int(x as i64 as i128),
    }
}

fn text(r: Reading) -> String {
    match r {
        Reading::Hex(x, 2) => format!("{x:02x}"),
        Reading::Hex(x, _) => format!("{x:#018x}"),
        Reading::Int(i) => i.to_string(),
        Reading::Real(x) => real(x),
    }
}

/// Element `x` of ring `kind` in format `fmt` (a format the ring does not offer falls back to
/// the ring's default); `share` says it is one party's share (raw in `Auto`), `scale` how a
/// decoded reading reads it.
pub fn element(
    x: u64,
    kind: RingKind,
    fmt: ValueFormat,
    share: bool,
    scale: Scale,
    cfg: &FixedConfig,
) -> String {
    text(read(x, kind, fmt, share, scale, cfg))
}

/// Elements [`element_width`] looks at: a frame's cost stays bounded however large the
/// scenario's `trace.max_values`; a wider element further on is cut with `…`.
pub const WIDTH_SCAN: usize = 16_384;

/// The widest [`element`] of `values` (their first [`WIDTH_SCAN`]), found from the extremes of
/// their readings (no element is formatted but the few extremes: a frame formats only the
/// cells it shows).
pub fn element_width(
    values: impl IntoIterator<Item = u64>,
    kind: RingKind,
    fmt: ValueFormat,
    share: bool,
    scale: Scale,
    cfg: &FixedConfig,
) -> usize {
    let mut ints: Option<(i128, i128)> = None;
    let mut reals = RealExtremes::default();
    let mut hex = 0;
    for x in values.into_iter().take(WIDTH_SCAN) {
        match read(x, kind, fmt, share, scale, cfg) {
            // Every hex element has the same width.
            Reading::Hex(_, d) => {
                hex = if d == 2 { 2 } else { 18 };
                break;
            }
            Reading::Int(i) => {
                let (lo, hi) = ints.map_or((i, i), |(lo, hi)| (lo.min(i), hi.max(i)));
                ints = Some((lo, hi));
                // 20 characters is the widest a 64-bit integer gets: nothing can widen it.
                if int_width(lo).max(int_width(hi)) >= 20 {
                    break;
                }
            }
            Reading::Real(r) => reals.add(r),
        }
    }
    let int_w = ints.map_or(0, |(lo, hi)| int_width(lo).max(int_width(hi)));
    hex.max(int_w).max(reals.width()).max(1)
}

/// The widest [`real`] of some numbers, from a few extremes (the sign counted when any is
/// negative, so it may be one wider than needed).
#[derive(Debug, Default, Clone, Copy)]
pub struct RealExtremes {
    neg: bool,
    zero: bool,
    /// Largest magnitude printed with six decimals (1e-4 ≤ |x| < 1e7).
    fixed: Option<f64>,
    /// Smallest and largest magnitudes printed in scientific notation.
    sci: Option<(f64, f64)>,
    /// Width of NaN / infinities.
    special: usize,
}

impl RealExtremes {
    /// Takes `x` into account.
    pub fn add(&mut self, x: f64) {
        if !x.is_finite() {
            self.special = self.special.max(real(x).chars().count());
            return;
        }
        self.neg |= x < 0.0;
        let a = x.abs();
        if a == 0.0 {
            self.zero = true;
        } else if !(1e-4..1e7).contains(&a) {
            self.sci = Some(self.sci.map_or((a, a), |(lo, hi)| (lo.min(a), hi.max(a))));
        } else {
            self.fixed = Some(self.fixed.map_or(a, |f| f.max(a)));
        }
    }

    /// The width of the widest [`real`] of the numbers added (0 for none).
    pub fn width(&self) -> usize {
        let signed = |a: f64| real(if self.neg { -a } else { a }).chars().count();
        let sci = self.sci.map_or(0, |(lo, hi)| signed(lo).max(signed(hi)));
        let fixed = self.fixed.map_or(0, signed);
        sci.max(fixed).max(usize::from(self.zero)).max(self.special)
    }
}

fn int_width(i: i128) -> usize {
    let digits = if i == 0 {
        1
    } else {
        i.unsigned_abs().ilog10() as usize + 1
    };
    digits + usize::from(i < 0)
}

/// The short name of format `fmt` for ring `kind` (`0–66` for Z_67's unsigned reading, …),
/// as pane titles show it.
pub fn name(kind: RingKind, fmt: ValueFormat) -> &'static str {
    match (kind, offered(kind, fmt)) {
        (RingKind::Seed, _) => "hex bytes",
        (RingKind::Bit, _) => "0/1",
        (RingKind::Zp, ValueFormat::Unsigned) => "0–66",
        (RingKind::Zp, _) => "signed −33…33",
        (RingKind::Z128, ValueFormat::Hex) => "hex (low 64 bits)",
        (RingKind::Z128, ValueFormat::Signed) => "signed (low 64 bits)",
        (RingKind::Z128, _) => "unsigned (low 64 bits)",
        (_, ValueFormat::Auto) => "auto",
        (_, ValueFormat::Decoded) => "decoded",
        (_, ValueFormat::Hex) => "hex",
        (_, ValueFormat::Unsigned) => "unsigned",
        (_, ValueFormat::Signed) => "signed",
    }
}

/// What format `fmt` shows for ring `kind`, in words (the line under a value's title).
pub fn describe(kind: RingKind, fmt: ValueFormat) -> &'static str {
    match (kind, offered(kind, fmt)) {
        (RingKind::Z64, ValueFormat::Auto) => "auto: shares raw (unsigned), values decoded",
        (RingKind::Z64, ValueFormat::Decoded) => "decoded: fixed point, shares too",
        (RingKind::Odd, ValueFormat::Signed) => "signed (−(2^64−1)/2 … (2^64−1)/2)",
        (RingKind::Z64, ValueFormat::Signed) => "signed (two's complement)",
        (k, f) => name(k, f),
    }
}

/// `fmt` when ring `kind` offers it, else the ring's default.
fn offered(kind: RingKind, fmt: ValueFormat) -> ValueFormat {
    if formats(kind).contains(&fmt) {
        fmt
    } else {
        formats(kind)[0]
    }
}

/// What "decoded" means for a share, said in the panes when a share is shown decoded.
pub const DECODED_SHARE_NOTE: &str = "a share decoded alone is a uniformly random ring element \
     read as fixed point (e.g. ±6.5e13): meaningless; only the sum of the shares decodes to the \
     value";

pub use sim::units::{bandwidth as bps, bytes, duration as ns};

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

    fn el(x: u64, kind: RingKind, fmt: ValueFormat, share: bool) -> String {
        element(x, kind, fmt, share, Scale::Fixed, &FixedConfig::default())
    }

    #[test]
    fn z64_values_show_in_every_format() {
        let cfg = FixedConfig::default();
        let v = cfg.encode(-1.5);
        assert_eq!(el(v, RingKind::Z64, ValueFormat::Auto, false), "-1.500000");
        assert_eq!(el(v, RingKind::Z64, ValueFormat::Auto, true), v.to_string());
        assert_eq!(
            el(v, RingKind::Z64, ValueFormat::Decoded, true),
            "-1.500000"
        );
        assert_eq!(el(v, RingKind::Z64, ValueFormat::Signed, false), "-98304");
        assert_eq!(
            el(v, RingKind::Z64, ValueFormat::Hex, false),
            "0xfffffffffffe8000"
        );
        let one = element(
            1,
            RingKind::Z64,
            ValueFormat::Auto,
            false,
            Scale::Integer,
            &cfg,
        );
        assert_eq!(
            one, "1",
            "an integer-valued reconstruction is not fixed point"
        );
        assert_eq!(fit("abcdef", 4), "abc…");
    }

    #[test]
    fn other_rings_offer_only_their_formats() {
        // Z_67 never decodes as fixed point: Auto/Decoded fall back to 0–66.
        assert_eq!(el(56, RingKind::Zp, ValueFormat::Decoded, false), "56");
        assert_eq!(el(56, RingKind::Zp, ValueFormat::Signed, false), "-11");
        assert_eq!(el(1, RingKind::Bit, ValueFormat::Hex, false), "1");
        assert_eq!(el(0xab, RingKind::Seed, ValueFormat::Signed, false), "ab");
        // ABY3's boolean share words read as 64 bits in hex, never as a number.
        assert_eq!(
            el(0xab, RingKind::BitWords, ValueFormat::Decoded, false),
            "0x00000000000000ab"
        );
        assert_eq!(
            el(u64::MAX - 1, RingKind::Odd, ValueFormat::Signed, false),
            "-1"
        );
        assert_eq!(
            el(u64::MAX, RingKind::Z128, ValueFormat::Signed, false),
            "-1"
        );
        let mut f = Formats::default();
        assert_eq!(f.get(RingKind::Z64), ValueFormat::Auto);
        let cycle: Vec<_> = (0..3).map(|_| f.cycle(RingKind::Zp)).collect();
        assert_eq!(
            cycle,
            [
                ValueFormat::Signed,
                ValueFormat::Unsigned,
                ValueFormat::Signed
            ]
        );
        assert_eq!(f.cycle(RingKind::Bit), ValueFormat::Unsigned);
        assert_eq!(f.cycle(RingKind::BitWords), ValueFormat::Hex);
        assert_eq!(f.get(RingKind::Z64), ValueFormat::Auto, "rings cycle alone");
    }

    #[test]
    fn widths_come_from_the_extremes() {
        let cfg = FixedConfig::default();
        let vals = [cfg.encode(1.5), cfg.encode(-2.25), cfg.encode(-0.00001), 0];
        for fmt in formats(RingKind::Z64) {
            for share in [false, true] {
                let widest = vals
                    .iter()
                    .map(|&x| el(x, RingKind::Z64, *fmt, share).chars().count())
                    .max()
                    .unwrap();
                let w = element_width(vals, RingKind::Z64, *fmt, share, Scale::Fixed, &cfg);
                assert_eq!(w, widest, "{fmt:?} share {share}");
            }
        }
        assert_eq!(
            element_width(
                [3, 66],
                RingKind::Zp,
                ValueFormat::Signed,
                false,
                Scale::Fixed,
                &cfg
            ),
            2
        );
    }
}
