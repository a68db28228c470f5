//! Fixed-point encoding of reals into Z_2^ℓ (ℓ = `ring_bits`: 64, or 128 for tf-encrypted's
//! int128 configurations) and the bounds that keep it correct.
//!
//! A real x is encoded as round(x · 2^f) mod 2^ℓ (two's complement for negatives). A product of
//! two encodings carries 2f fractional bits and must be truncated by f. Exceeding the bounds is a
//! [`Hazard`], reported to the caller, never just printed.
//!
//! **Statistical security of dealer truncation.** With k = int + 2f the servers open
//! c = z + 2^k + r, r uniform on [0, 2^64 − 2^(k+1)) (`pond/truncate.rs`). c is within
//! statistical distance 2^(k+1−64) of a value that does not depend on z, so the truncation has
//! σ = 63 − k bits of statistical security ([`FixedConfig::statistical_security`]): 20 for
//! tf-encrypted's 64-bit preset (16, 11). Over Z_2^128 every 64 becomes 128: σ = 127 − k, 43 for
//! the "high" preset (32, 20, [`FixedConfig::high`]). `gap_bits` is the lower bound σ is *required* to meet
//! (int + 2f + gap + 1 ≤ 64 is σ ≥ gap), not σ itself; a scenario that truncates with the dealer
//! also needs σ ≥ [`MIN_STATISTICAL_SECURITY`] unless it sets `weak_security`.

use serde::{Deserialize, Serialize};

/// The least statistical security σ = 63 − (int_bits + 2·frac_bits), in bits, that dealer
/// truncation may have in a scenario that does not opt in with `weak_security: true`
/// (statistical distance at most 2^−40 per opened element).
pub const MIN_STATISTICAL_SECURITY: u32 = 40;

/// Fixed-point configuration: fractional bits, integral bits and truncation gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedConfig {
    /// Fractional bits f (scale 2^f).
    pub frac_bits: u32,
    /// Integral bits: values must satisfy |x| < 2^int_bits.
    pub int_bits: u32,
    /// The statistical security dealer truncation is required to have at least: validation
    /// refuses int + 2f + gap + 1 > 64, i.e. σ = 63 − (int + 2f) < gap_bits (tf-encrypted uses
    /// 20). The real σ is [`FixedConfig::statistical_security`].
    #[serde(default = "default_gap")]
    pub gap_bits: u32,
    /// Accept dealer truncation with σ below [`MIN_STATISTICAL_SECURITY`] (teaching, or
    /// tf-encrypted's 64-bit preset); the run's report then states the real σ.
    #[serde(default)]
    pub weak_security: bool,
    /// ℓ, the ring Z_2^ℓ shares and encodings live in: 64 (the default) or 128 (tf-encrypted's
    /// int128 configurations, e.g. [`FixedConfig::high`]). Every headroom rule below is taken
    /// for this width; validation refuses any other value.
    #[serde(default = "default_ring_bits")]
    pub ring_bits: u32,
}

fn default_gap() -> u32 {
    20
}

fn default_ring_bits() -> u32 {
    64
}

impl Default for FixedConfig {
    /// tf-encrypted's 64-bit preset: 16 fractional, 11 integral bits, 20 gap bits. Its dealer
    /// truncation has σ = 20 bits of statistical security, below [`MIN_STATISTICAL_SECURITY`]:
    /// a scenario that truncates with it must set `weak_security`.
    fn default() -> Self {
        FixedConfig {
            frac_bits: 16,
            int_bits: 11,
            gap_bits: 20,
            weak_security: false,
            ring_bits: 64,
        }
    }
}

/// Something that makes a fixed-point result untrustworthy, detected before or after an op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Hazard {
    /// A value's magnitude reached the integral bound 2^int_bits.
    Overflow {
        /// Largest magnitude seen.
        max_abs: f64,
        /// The bound it must stay under.
        bound: f64,
    },
    /// A product before truncation does not leave the gap the truncation needs.
    TruncationHeadroom {
        /// Bits the largest pre-truncation magnitude needs.
        bits_needed: u32,
        /// Bits available for it.
        bits_available: u32,
    },
    /// SecureML's local truncation is likely to fail on some element (a huge error).
    LocalTruncationFailure {
        /// Failure probability per element.
        probability: f64,
        /// Elements truncated.
        elements: u64,
    },
    /// A polynomial approximation got an input outside the range it is accurate on.
    ApproximationRange {
        /// Which approximation.
        function: String,
        /// Largest magnitude seen.
        max_abs: f64,
        /// The accurate range is [-range, range].
        range: f64,
    },
    /// A composite op's approximation (exp, reciprocal, inverse square root, …) got an input
    /// outside the range it is accurate on, [lo, hi] (`crate::composite::domain`).
    OutsideRange {
        /// Which approximation.
        function: String,
        /// Smallest input seen.
        min: f64,
        /// Largest input seen.
        max: f64,
        /// The smallest accurate input.
        lo: f64,
        /// The largest accurate input.
        hi: f64,
    },
}

impl std::fmt::Display for Hazard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Hazard::Overflow { max_abs, bound } => {
                write!(f, "overflow: |x| reached {max_abs:.4} but must stay below {bound}")
            }
            Hazard::TruncationHeadroom { bits_needed, bits_available } => write!(
                f,
                "truncation headroom: product needs {bits_needed} bits, only {bits_available} available"
            ),
            Hazard::LocalTruncationFailure { probability, elements } => write!(
                f,
                "local truncation fails with probability {probability:.2e} per element ({elements} elements)"
            ),
            Hazard::ApproximationRange { function, max_abs, range } => write!(
                f,
                "{function} approximation input |x| = {max_abs:.3} outside its accurate range ±{range}"
            ),
            Hazard::OutsideRange { function, min, max, lo, hi } => write!(
                f,
                "{function} approximation inputs span [{min:.4}, {max:.4}], outside its accurate range [{lo}, {hi}]"
            ),
        }
    }
}

impl FixedConfig {
    /// tf-encrypted's "high" preset for int128 rings: Z_2^128, 32 fractional and 20 integral
    /// bits, 20 gap bits. Dealer truncation has σ = 127 − (20 + 64) = 43 bits.
    pub fn high() -> Self {
        FixedConfig {
            frac_bits: 32,
            int_bits: 20,
            gap_bits: 20,
            weak_security: false,
            ring_bits: 128,
        }
    }

    /// The ring width ℓ as validation reads it (anything but 128 is taken as 64 by the
    /// arithmetic; [`FixedConfig::validate`] refuses it first).
    fn ring(&self) -> u64 {
        if self.ring_bits == 128 {
            128
        } else {
            64
        }
    }

    /// Encodes one real into Z_2^ℓ for the ring `R` (round(x · 2^f), two's complement;
    /// saturating for inputs beyond the ring, which the bound checks report).
    pub fn encode_in<R: crate::ring::Z2k>(&self, x: f64) -> R {
        let v = (x * self.scale()).round();
        let v = if v.is_finite() {
            v.clamp(-1.7e38, 1.7e38) as i128
        } else {
            0
        };
        R::from_i128(v)
    }

    /// Decodes one element of ring `R` (read as signed) into a real.
    pub fn decode_in<R: crate::ring::Z2k>(&self, v: R) -> f64 {
        v.to_f64_signed() / self.scale()
    }

    /// The scale 2^f as a float.
    pub fn scale(&self) -> f64 {
        (2f64).powi(self.frac_bits as i32)
    }

    /// Encodes one real into Z_2^64.
    pub fn encode(&self, x: f64) -> u64 {
        let v = (x * self.scale()).round();
        // In range (always, for sane inputs) the i64 conversion is exact and much cheaper.
        if v.abs() < 9.2e18 {
            return v as i64 as u64;
        }
        // Otherwise saturate in i128 first so that NaN/huge inputs give a defined (if wrong) value; bound
        // checks report such inputs as hazards.
        let v = if v.is_finite() {
            v.clamp(-1.7e38, 1.7e38) as i128
        } else {
            0
        };
        v as u64
    }

    /// Decodes one element of Z_2^64 (read as signed) into a real.
    pub fn decode(&self, v: u64) -> f64 {
        (v as i64) as f64 / self.scale()
    }

    /// Decodes a product carrying 2f fractional bits.
    pub fn decode_double(&self, v: u64) -> f64 {
        (v as i64) as f64 / (self.scale() * self.scale())
    }

    /// The integral bound 2^int_bits that every value must stay under.
    pub fn bound(&self) -> f64 {
        (2f64).powi(self.int_bits as i32)
    }

    /// Bits k a truncation input may use: int + 2f (saturating, for configurations that
    /// [`FixedConfig::validate`] refuses).
    pub fn product_bits(&self) -> u32 {
        self.int_bits
            .saturating_add(self.frac_bits.saturating_mul(2))
    }

    /// The statistical security σ = 63 − (int + 2f) of dealer truncation, in bits: the opened
    /// c = z + 2^k + r is within statistical distance 2^−σ of a value independent of z, per
    /// element. 0 when there is no room at all.
    pub fn statistical_security(&self) -> u32 {
        (self.ring() as u32 - 1).saturating_sub(self.product_bits())
    }

    /// Checks the configuration itself: the dealer-assisted truncation needs
    /// int + 2f + gap + 1 ≤ 64, i.e. σ ≥ gap_bits. The sums are taken in u64, so absurd values
    /// are refused, not overflowed.
    ///
    /// Every bound is for the ring width ℓ = `ring_bits` (64 or 128; anything else is refused):
    /// 1 ≤ f ≤ ℓ/2 − 2, int + f < ℓ − 1, int + 2f < ℓ − 1, int + 2f + gap + 1 ≤ ℓ. At 128 bits
    /// int + f must also stay below 63, so that every value at scale f (inputs, outputs, the
    /// reconstructed results the reports decode) has an exact f64 reading of its signed value
    /// whatever the width.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.ring_bits != 64 && self.ring_bits != 128 {
            return Err(format!(
                "ring_bits = {} is not a ring sharescope has: use 64 (Z_2^64, the default) or \
                 128 (Z_2^128, tf-encrypted's int128 configurations)",
                self.ring_bits
            ));
        }
        let ring = self.ring();
        let (f, int, gap) = (
            u64::from(self.frac_bits),
            u64::from(self.int_bits),
            u64::from(self.gap_bits),
        );
        let max_f = ring / 2 - 2;
        if f == 0 || f > max_f {
            return Err(format!("frac_bits = {f} must be between 1 and {max_f}"));
        }
        if int + f >= ring - 1 {
            return Err(format!(
                "int_bits + frac_bits = {} leaves no room in a {ring}-bit ring (must be < {})",
                int + f,
                ring - 1
            ));
        }
        if ring > 64 && int + f >= 63 {
            return Err(format!(
                "int_bits + frac_bits = {} must stay below 63 so that values decode exactly \
                 (the 128-bit ring is for the headroom of products, int_bits + 2·frac_bits)",
                int + f
            ));
        }
        let k = int + 2 * f;
        if k + 1 >= ring {
            return Err(format!(
                "int_bits + 2·frac_bits = {k} leaves no room for the truncation mask (must be < {})",
                ring - 1
            ));
        }
        if k + gap + 1 > ring {
            return Err(format!(
                "int_bits + 2·frac_bits + gap_bits + 1 = {} exceeds {ring}: products would not \
                 leave the truncation gap; lower int_bits, frac_bits or gap_bits{}",
                k + gap + 1,
                if ring == 64 {
                    ", or use ring_bits: 128"
                } else {
                    ""
                }
            ));
        }
        Ok(())
    }

    /// Refuses a configuration whose dealer truncation has σ below
    /// [`MIN_STATISTICAL_SECURITY`], unless it opts in with `weak_security`. For a valid
    /// configuration ([`FixedConfig::validate`]); the caller decides whether dealer truncation is
    /// used at all.
    pub fn check_dealer_security(&self) -> std::result::Result<(), String> {
        if self.weak_security || self.statistical_security() >= MIN_STATISTICAL_SECURITY {
            return Ok(());
        }
        Err(self.dealer_security_text())
    }

    /// What the dealer truncation's σ means, for refusals and warnings: "dealer truncation
    /// with int_bits 11, frac_bits 16 has 20 bits of statistical security (…), below the
    /// minimum of 40" (or "…, at least the minimum of 40").
    pub fn dealer_security_text(&self) -> String {
        let sigma = self.statistical_security();
        let verdict = if sigma < MIN_STATISTICAL_SECURITY {
            "below"
        } else {
            "at least"
        };
        format!(
            "dealer truncation with int_bits {}, frac_bits {} has {sigma} bits of statistical \
             security (an opened value leaks with advantage up to 2^-{sigma} per element), \
             {verdict} the minimum of {MIN_STATISTICAL_SECURITY}",
            self.int_bits, self.frac_bits
        )
    }

    /// Overflow hazard if any real in `values` reaches the integral bound.
    pub fn check_bound(&self, values: impl IntoIterator<Item = f64>) -> Option<Hazard> {
        let max_abs = values.into_iter().fold(0f64, |m, v| m.max(v.abs()));
        (max_abs >= self.bound()).then(|| Hazard::Overflow {
            max_abs,
            bound: self.bound(),
        })
    }

    /// Headroom hazard for a product whose real values are `products` (before truncation).
    /// `gap` is the statistical gap the chosen truncation needs (0 for local truncation's
    /// correctness bound, which [`FixedConfig::local_truncation_failure_probability`] quantifies).
    pub fn check_product_headroom(
        &self,
        products: impl IntoIterator<Item = f64>,
    ) -> Option<Hazard> {
        let max_abs = products.into_iter().fold(0f64, |m, v| m.max(v.abs()));
        let encoded = max_abs * self.scale() * self.scale();
        let bits_needed = if encoded < 1.0 {
            1
        } else {
            (encoded.log2().floor() as u32).saturating_add(2)
        };
        let bits_available = self.product_bits() + 1;
        (bits_needed > bits_available).then_some(Hazard::TruncationHeadroom {
            bits_needed,
            bits_available,
        })
    }

    /// Probability that SecureML's local truncation fails on one element whose
    /// pre-truncation encoding (scale 2f) has magnitude `encoded_abs` = |z|: exactly |z|/2^64,
    /// the chance that a uniform share ⟨z⟩₀ makes the two shares straddle the ring's
    /// wrap-around (`pond/truncate.rs`, `local_truncate_share`).
    pub fn local_truncation_failure_probability(encoded_abs: f64) -> f64 {
        (encoded_abs.abs() / 2f64.powi(64)).min(1.0)
    }

    /// [`FixedConfig::local_truncation_failure_probability`] in this configuration's ring:
    /// |z|/2^ℓ (2^-64 times smaller over Z_2^128).
    pub fn local_failure_probability(&self, encoded_abs: f64) -> f64 {
        (encoded_abs.abs() / 2f64.powi(self.ring() as i32)).min(1.0)
    }
}

/// Decodes a public or reconstructed encoded tensor to reals.
pub fn decode_tensor(cfg: &FixedConfig, t: &crate::tensor::Tensor<u64>) -> ndarray::ArrayD<f64> {
    t.mapv(|v| cfg.decode(v))
}

/// Encodes reals into a ring tensor.
pub fn encode_tensor(cfg: &FixedConfig, t: &ndarray::ArrayD<f64>) -> crate::tensor::Tensor<u64> {
    t.mapv(|v| cfg.encode(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn encode_decode_round_trips_within_half_an_ulp(x in -2047.0f64..2047.0) {
            let c = FixedConfig::default();
            let back = c.decode(c.encode(x));
            prop_assert!((back - x).abs() <= 0.5 / c.scale() + 1e-12);
        }

        #[test]
        fn encoding_is_additively_homomorphic(x in -1000.0f64..1000.0, y in -1000.0f64..1000.0) {
            let c = FixedConfig::default();
            let s = c.encode(x).wrapping_add(c.encode(y));
            prop_assert!((c.decode(s) - (x + y)).abs() <= 1.0 / c.scale() + 1e-12);
        }
    }

    #[test]
    fn bounds_raise_hazards() {
        let c = FixedConfig::default();
        assert!(c.check_bound([1.0, -2047.9]).is_none());
        assert!(matches!(
            c.check_bound([3000.0]),
            Some(Hazard::Overflow { .. })
        ));
        assert!(c.check_product_headroom([2000.0]).is_none());
        assert!(matches!(
            c.check_product_headroom([5000.0]),
            Some(Hazard::TruncationHeadroom { .. })
        ));
    }

    #[test]
    fn config_validation_rejects_products_without_room_for_a_mask() {
        let bad = FixedConfig {
            frac_bits: 30,
            int_bits: 3,
            gap_bits: 0,
            weak_security: false,
            ring_bits: 64,
        };
        assert!(bad.validate().unwrap_err().contains("no room"));
    }

    #[test]
    fn config_validation_names_the_problem() {
        assert!(FixedConfig::default().validate().is_ok());
        let bad = FixedConfig {
            frac_bits: 20,
            int_bits: 10,
            gap_bits: 20,
            weak_security: false,
            ring_bits: 64,
        };
        assert!(bad.validate().unwrap_err().contains("exceeds 64"));
    }

    #[test]
    fn absurd_bit_counts_are_refused_without_overflow() {
        let huge_int = FixedConfig {
            int_bits: 4_294_967_290,
            ..FixedConfig::default()
        };
        assert_eq!(
            huge_int.validate().unwrap_err(),
            "int_bits + frac_bits = 4294967306 leaves no room in a 64-bit ring (must be < 63)"
        );
        let huge_gap = FixedConfig {
            gap_bits: u32::MAX,
            ..FixedConfig::default()
        };
        assert!(
            huge_gap
                .validate()
                .unwrap_err()
                .starts_with("int_bits + 2·frac_bits + gap_bits + 1 = 4294967339 exceeds 64"),
            "{:?}",
            huge_gap.validate()
        );
        let huge_frac = FixedConfig {
            frac_bits: u32::MAX,
            ..FixedConfig::default()
        };
        assert!(huge_frac.validate().is_err());
        // The derived figures saturate instead of overflowing.
        assert_eq!(huge_int.product_bits(), u32::MAX);
        assert_eq!(huge_int.statistical_security(), 0);
    }

    #[test]
    fn statistical_security_is_63_minus_int_plus_twice_frac() {
        let c = FixedConfig::default();
        assert_eq!(c.product_bits(), 43);
        assert_eq!(c.statistical_security(), 20);
        // gap_bits is only the lower bound: the largest gap tf-encrypted's preset admits is σ.
        let at_bound = FixedConfig { gap_bits: 20, ..c };
        assert!(at_bound.validate().is_ok());
        assert!(FixedConfig { gap_bits: 21, ..c }.validate().is_err());
        let secure = FixedConfig {
            frac_bits: 8,
            int_bits: 7,
            ..c
        };
        assert_eq!(secure.statistical_security(), MIN_STATISTICAL_SECURITY);
    }

    #[test]
    fn dealer_security_below_the_minimum_needs_the_opt_in() {
        let preset = FixedConfig::default();
        assert_eq!(
            preset.check_dealer_security().unwrap_err(),
            "dealer truncation with int_bits 11, frac_bits 16 has 20 bits of statistical \
             security (an opened value leaks with advantage up to 2^-20 per element), below the \
             minimum of 40"
        );
        let opted_in = FixedConfig {
            weak_security: true,
            ..preset
        };
        assert!(opted_in.check_dealer_security().is_ok());
        let secure = FixedConfig {
            frac_bits: 8,
            int_bits: 7,
            ..preset
        };
        assert!(secure.check_dealer_security().is_ok());
        let one_short = FixedConfig {
            int_bits: 8,
            ..secure
        };
        assert!(one_short.check_dealer_security().is_err());
    }
}
