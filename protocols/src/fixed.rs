//! Fixed-point encoding of reals into Z_2^64 and the bounds that keep it correct.
//!
//! A real x is encoded as round(x · 2^f) mod 2^64 (two's complement for negatives). A product of
//! two encodings carries 2f fractional bits and must be truncated by f. Exceeding the bounds is a
//! [`Hazard`], reported to the caller, never just printed.

use serde::{Deserialize, Serialize};

/// Fixed-point configuration: fractional bits, integral bits and truncation gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedConfig {
    /// Fractional bits f (scale 2^f).
    pub frac_bits: u32,
    /// Integral bits: values must satisfy |x| < 2^int_bits.
    pub int_bits: u32,
    /// Statistical gap bits of the dealer-assisted truncation mask (tf-encrypted uses 20).
    #[serde(default = "default_gap")]
    pub gap_bits: u32,
}

fn default_gap() -> u32 {
    20
}

impl Default for FixedConfig {
    /// tf-encrypted's 64-bit preset: 16 fractional, 11 integral bits, 20 gap bits.
    fn default() -> Self {
        FixedConfig {
            frac_bits: 16,
            int_bits: 11,
            gap_bits: 20,
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
        }
    }
}

impl FixedConfig {
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

    /// Bits k a truncation input may use: int + 2f.
    pub fn product_bits(&self) -> u32 {
        self.int_bits + 2 * self.frac_bits
    }

    /// Checks the configuration itself: the dealer-assisted truncation needs
    /// int + 2f + gap + 1 ≤ 64.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.frac_bits == 0 || self.frac_bits > 30 {
            return Err(format!(
                "frac_bits = {} must be between 1 and 30",
                self.frac_bits
            ));
        }
        if self.int_bits + self.frac_bits >= 63 {
            return Err(format!(
                "int_bits + frac_bits = {} leaves no room in a 64-bit ring (must be < 63)",
                self.int_bits + self.frac_bits
            ));
        }
        if self.product_bits() + 1 >= 64 {
            return Err(format!(
                "int_bits + 2·frac_bits = {} leaves no room for the truncation mask (must be < 63)",
                self.product_bits()
            ));
        }
        if self.product_bits() + self.gap_bits + 1 > 64 {
            return Err(format!(
                "int_bits + 2·frac_bits + gap_bits + 1 = {} exceeds 64: products would not leave the \
                 truncation gap; lower int_bits, frac_bits or gap_bits",
                self.product_bits() + self.gap_bits + 1
            ));
        }
        Ok(())
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
            encoded.log2().floor() as u32 + 2
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
        };
        assert!(bad.validate().unwrap_err().contains("exceeds 64"));
    }
}
