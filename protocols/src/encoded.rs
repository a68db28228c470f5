//! [`Encoded`]: a fixed-point encoded tensor (or a share of one) tagged with its ring, Z_2^64 or
//! Z_2^128 — the value that crosses the protocol interface ([`crate::protocol::Party`],
//! [`crate::protocol::Held`], [`crate::protocol::Protocol::reconstruct`]).
//!
//! A scenario's `fixed_point.ring_bits` picks the ring ([`crate::fixed::FixedConfig::ring_bits`]);
//! the simulator encodes inputs with [`Encoded::encode`] and decodes results with
//! [`Encoded::decode`] without knowing which it is. The enum holds one tensor of one width, so a
//! 64-bit run keeps 8 bytes per element: nothing is widened.

use crate::context::RingKind;
use crate::fixed::FixedConfig;
use crate::ring::Z2k;
use crate::tensor::Tensor;
use ndarray::ArrayD;

/// A tensor over Z_2^64 or Z_2^128.
#[derive(Debug, Clone, PartialEq)]
pub enum Encoded {
    /// Over Z_2^64 (the default ring, `ring_bits: 64`).
    Z64(Tensor<u64>),
    /// Over Z_2^128 (`ring_bits: 128`, tf-encrypted's int128 configurations).
    Z128(Tensor<u128>),
}

impl From<Tensor<u64>> for Encoded {
    fn from(t: Tensor<u64>) -> Self {
        Encoded::Z64(t)
    }
}

impl From<Tensor<u128>> for Encoded {
    fn from(t: Tensor<u128>) -> Self {
        Encoded::Z128(t)
    }
}

impl PartialEq<Tensor<u64>> for Encoded {
    fn eq(&self, other: &Tensor<u64>) -> bool {
        matches!(self, Encoded::Z64(t) if t == other)
    }
}

impl Encoded {
    /// Encodes reals in the ring `cfg.ring_bits` names.
    pub fn encode(cfg: &FixedConfig, t: &ArrayD<f64>) -> Encoded {
        match cfg.ring_bits {
            128 => Encoded::Z128(t.mapv(|v| cfg.encode_in::<u128>(v))),
            _ => Encoded::Z64(t.mapv(|v| cfg.encode(v))),
        }
    }

    /// Decodes to reals (each element read as signed, divided by 2^f).
    pub fn decode(&self, cfg: &FixedConfig) -> ArrayD<f64> {
        match self {
            Encoded::Z64(t) => t.mapv(|v| cfg.decode(v)),
            Encoded::Z128(t) => t.mapv(|v| cfg.decode_in(v)),
        }
    }

    /// The ring's tag.
    pub fn kind(&self) -> RingKind {
        match self {
            Encoded::Z64(_) => RingKind::Z64,
            Encoded::Z128(_) => RingKind::Z128,
        }
    }

    /// The tensor's shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            Encoded::Z64(t) => t.shape(),
            Encoded::Z128(t) => t.shape(),
        }
    }

    /// Elements.
    pub fn len(&self) -> usize {
        match self {
            Encoded::Z64(t) => t.len(),
            Encoded::Z128(t) => t.len(),
        }
    }

    /// Whether it has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The Z_2^64 tensor, if it is one.
    pub fn as_z64(&self) -> Option<&Tensor<u64>> {
        u64::unwrap(self)
    }

    /// The Z_2^128 tensor, if it is one.
    pub fn as_z128(&self) -> Option<&Tensor<u128>> {
        u128::unwrap(self)
    }

    /// The tensor over ring `R`, if it is one.
    pub fn as_ring<R: Z2k>(&self) -> Option<&Tensor<R>> {
        R::unwrap(self)
    }

    /// The elements widened to u128 in row-major order (Z_2^64 zero-extended).
    pub fn to_u128_vec(&self) -> Vec<u128> {
        match self {
            Encoded::Z64(t) => t.iter().map(|&v| v as u128).collect(),
            Encoded::Z128(t) => t.iter().copied().collect(),
        }
    }
}

/// The tensor of ring `R` inside `e` (the value `name` at a party's boundary), or the error of
/// a value encoded in another ring than the party computes in.
pub fn in_ring<'a, R: Z2k>(name: &str, e: &'a Encoded) -> crate::error::Result<&'a Tensor<R>> {
    R::unwrap(e).ok_or_else(|| {
        crate::error::ProtocolError::Missing(format!(
            "`{name}` is encoded in {}, the party computes in {}",
            e.kind().name(),
            R::NAME
        ))
    })
}

/// ⟨x⟩₀ + ⟨x⟩₁ + … over the ring of the first share: `None` if there are none or they differ in
/// ring or shape. Reconstruction of additive sharings, for every ring at once.
pub fn sum_shares<'a>(shares: impl IntoIterator<Item = &'a Encoded>) -> Option<Encoded> {
    fn add<R: Z2k>(acc: &mut Tensor<R>, s: &Tensor<R>) -> Option<()> {
        if acc.shape() != s.shape() {
            return None;
        }
        ndarray::Zip::from(acc)
            .and(s)
            .for_each(|a, &b| *a = a.add(b));
        Some(())
    }
    let mut it = shares.into_iter();
    let mut acc = it.next()?.clone();
    for s in it {
        match (&mut acc, s) {
            (Encoded::Z64(a), Encoded::Z64(b)) => add(a, b)?,
            (Encoded::Z128(a), Encoded::Z128(b)) => add(a, b)?,
            _ => return None,
        }
    }
    Some(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_in_either_ring() {
        let x = ArrayD::from_shape_vec(vec![3], vec![1.5, -2.25, 1e5]).unwrap();
        let narrow = FixedConfig::default();
        let wide = FixedConfig::high();
        let a = Encoded::encode(&narrow, &x);
        let b = Encoded::encode(&wide, &x);
        assert_eq!((a.kind(), b.kind()), (RingKind::Z64, RingKind::Z128));
        assert_eq!(b.decode(&wide), x);
        assert!(a.as_z64().is_some() && b.as_z128().is_some() && a.as_z128().is_none());
        // -2.25 · 2^32 sign-extends through all 128 bits.
        assert_eq!(b.as_z128().unwrap()[1], (-(9i128 << 30)) as u128);
    }

    #[test]
    fn shares_sum_only_within_one_ring_and_shape() {
        let t =
            |v: &[u128]| Encoded::Z128(Tensor::from_shape_vec(vec![v.len()], v.to_vec()).unwrap());
        let s = sum_shares([&t(&[u128::MAX, 5]), &t(&[2, 1])]).unwrap();
        assert_eq!(s, t(&[1, 6]));
        let narrow = Encoded::Z64(Tensor::from_shape_vec(vec![2], vec![1, 2]).unwrap());
        assert_eq!(sum_shares([&t(&[1, 2]), &narrow]), None);
        assert_eq!(sum_shares([&t(&[1, 2]), &t(&[1])]), None);
        assert_eq!(sum_shares(std::iter::empty()), None);
    }
}
