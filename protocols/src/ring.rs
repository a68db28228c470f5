//! Rings the protocols compute in.
//!
//! [`Ring`] is the element trait. Pond works in Z_2^64 ([`u64`]) and, for high-precision
//! fixed point, Z_2^128 ([`u128`]); both use plain wrapping machine arithmetic. SecureNN's odd
//! ring Z_{2^64−1} and small prime field Z_p are elements with an explicit modulus
//! ([`OddRing`], [`Zp`]) and fit the same trait, so every tensor and kernel works for all of them.

use rand::RngCore;
use std::fmt::Debug;

/// An element of a finite commutative ring with a fixed-size byte encoding.
pub trait Ring: Copy + Clone + Debug + PartialEq + Eq + Default + Send + Sync + 'static {
    /// Bytes one element takes on the wire.
    const BYTES: usize;
    /// Human-readable name of the ring, e.g. `Z_2^64`.
    const NAME: &'static str;
    /// The ring's tag in messages and records (how a viewer reads a raw element).
    const KIND: crate::context::RingKind;
    /// Additive identity.
    fn zero() -> Self;
    /// Multiplicative identity.
    fn one() -> Self;
    /// `self + rhs` in the ring.
    fn add(self, rhs: Self) -> Self;
    /// `self - rhs` in the ring.
    fn sub(self, rhs: Self) -> Self;
    /// `self * rhs` in the ring.
    fn mul(self, rhs: Self) -> Self;
    /// `-self` in the ring.
    fn neg(self) -> Self {
        Self::zero().sub(self)
    }
    /// Embeds a 64-bit integer (reduced into the ring).
    fn from_u64(v: u64) -> Self;
    /// Embeds a signed integer (two's complement reduced into the ring).
    fn from_i128(v: i128) -> Self;
    /// A uniformly random element.
    fn random<G: RngCore + ?Sized>(rng: &mut G) -> Self;
    /// `n` uniformly random elements (rings override it to draw from the stream in bulk; the
    /// elements need not be those `n` calls of [`Ring::random`] would give).
    fn random_vec<G: RngCore + ?Sized>(n: usize, rng: &mut G) -> Vec<Self> {
        (0..n).map(|_| Self::random(rng)).collect()
    }
    /// Overwrites `out` with uniformly random elements: exactly the elements
    /// [`Ring::random_vec`]`(out.len(), rng)` would return, without allocating where the ring
    /// overrides it (Z_2^64, Z_2^128).
    fn random_fill<G: RngCore + ?Sized>(out: &mut [Self], rng: &mut G) {
        out.copy_from_slice(&Self::random_vec(out.len(), rng));
    }
    /// Appends the little-endian encoding (exactly [`Ring::BYTES`] bytes).
    fn encode(self, out: &mut Vec<u8>);
    /// Reads one element from exactly [`Ring::BYTES`] bytes.
    fn decode(bytes: &[u8]) -> Self;
    /// Appends the encodings of `xs`, in order (the same bytes as [`Ring::encode`] one by one;
    /// rings override it with a loop over fixed-size chunks that the compiler vectorises).
    fn encode_slice(xs: &[Self], out: &mut Vec<u8>) {
        out.reserve(xs.len() * Self::BYTES);
        for &x in xs {
            x.encode(out);
        }
    }
    /// The element as an unsigned integer in `[0, modulus)`.
    fn to_u128(self) -> u128;
    /// The element read as a signed integer in `[-modulus/2, modulus/2)`.
    fn to_i128(self) -> i128;
}

impl Ring for u64 {
    const BYTES: usize = 8;
    const NAME: &'static str = "Z_2^64";
    const KIND: crate::context::RingKind = crate::context::RingKind::Z64;
    #[inline(always)]
    fn zero() -> Self {
        0
    }
    #[inline(always)]
    fn one() -> Self {
        1
    }
    #[inline(always)]
    fn add(self, rhs: Self) -> Self {
        self.wrapping_add(rhs)
    }
    #[inline(always)]
    fn sub(self, rhs: Self) -> Self {
        self.wrapping_sub(rhs)
    }
    #[inline(always)]
    fn mul(self, rhs: Self) -> Self {
        self.wrapping_mul(rhs)
    }
    fn from_u64(v: u64) -> Self {
        v
    }
    fn from_i128(v: i128) -> Self {
        v as u64
    }
    fn random<G: RngCore + ?Sized>(rng: &mut G) -> Self {
        rng.next_u64()
    }
    /// Element i is the i-th little-endian 8-byte word of the stream.
    fn random_vec<G: RngCore + ?Sized>(n: usize, rng: &mut G) -> Vec<Self> {
        let mut words = vec![0u64; n];
        Self::random_fill(&mut words, rng);
        words
    }
    /// Element i is the i-th little-endian 8-byte word of the stream, so filling consecutive
    /// pieces of a buffer one after the other gives the elements of one fill of the whole.
    fn random_fill<G: RngCore + ?Sized>(out: &mut [Self], rng: &mut G) {
        rand::Fill::try_fill(out, rng).expect("ChaCha never fails");
    }
    fn encode(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn decode(bytes: &[u8]) -> Self {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[..8]);
        u64::from_le_bytes(b)
    }
    fn encode_slice(xs: &[Self], out: &mut Vec<u8>) {
        #[cfg(target_endian = "little")]
        {
            // SAFETY: a u64 is 8 initialised bytes with no padding, and u8 needs no alignment,
            // so the slice's memory read as bytes is valid for `size_of_val(xs)` bytes; on a
            // little-endian target those bytes are each element's little-endian encoding. One
            // bulk copy, no zeroing of the appended space first.
            let bytes = unsafe {
                std::slice::from_raw_parts(xs.as_ptr().cast::<u8>(), std::mem::size_of_val(xs))
            };
            out.extend_from_slice(bytes);
        }
        #[cfg(not(target_endian = "little"))]
        {
            let start = out.len();
            out.resize(start + xs.len() * 8, 0);
            for (chunk, x) in out[start..].chunks_exact_mut(8).zip(xs) {
                chunk.copy_from_slice(&x.to_le_bytes());
            }
        }
    }
    fn to_u128(self) -> u128 {
        self as u128
    }
    fn to_i128(self) -> i128 {
        self as i64 as i128
    }
}

impl Ring for u128 {
    const BYTES: usize = 16;
    const NAME: &'static str = "Z_2^128";
    const KIND: crate::context::RingKind = crate::context::RingKind::Z128;
    #[inline(always)]
    fn zero() -> Self {
        0
    }
    #[inline(always)]
    fn one() -> Self {
        1
    }
    #[inline(always)]
    fn add(self, rhs: Self) -> Self {
        self.wrapping_add(rhs)
    }
    #[inline(always)]
    fn sub(self, rhs: Self) -> Self {
        self.wrapping_sub(rhs)
    }
    #[inline(always)]
    fn mul(self, rhs: Self) -> Self {
        self.wrapping_mul(rhs)
    }
    fn from_u64(v: u64) -> Self {
        v as u128
    }
    fn from_i128(v: i128) -> Self {
        v as u128
    }
    fn random<G: RngCore + ?Sized>(rng: &mut G) -> Self {
        ((rng.next_u64() as u128) << 64) | rng.next_u64() as u128
    }
    /// The elements [`Ring::random`] draws one by one (the stream's next 8-byte word the high
    /// half, the one after it the low half), from one bulk fill: 16 bytes read as a
    /// little-endian `u128` have the first word low, so each element is that with its halves
    /// swapped.
    fn random_fill<G: RngCore + ?Sized>(out: &mut [Self], rng: &mut G) {
        rand::Fill::try_fill(out, rng).expect("AES-CTR and ChaCha never fail");
        out.iter_mut().for_each(|x| *x = x.rotate_left(64));
    }
    fn encode(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn decode(bytes: &[u8]) -> Self {
        let mut b = [0u8; 16];
        b.copy_from_slice(&bytes[..16]);
        u128::from_le_bytes(b)
    }
    fn encode_slice(xs: &[Self], out: &mut Vec<u8>) {
        #[cfg(target_endian = "little")]
        {
            // SAFETY: as for u64: a u128 is 16 initialised bytes with no padding, laid out
            // little-endian on this target.
            let bytes = unsafe {
                std::slice::from_raw_parts(xs.as_ptr().cast::<u8>(), std::mem::size_of_val(xs))
            };
            out.extend_from_slice(bytes);
        }
        #[cfg(not(target_endian = "little"))]
        {
            let start = out.len();
            out.resize(start + xs.len() * 16, 0);
            for (chunk, x) in out[start..].chunks_exact_mut(16).zip(xs) {
                chunk.copy_from_slice(&x.to_le_bytes());
            }
        }
    }
    fn to_u128(self) -> u128 {
        self
    }
    fn to_i128(self) -> i128 {
        self as i128
    }
}

/// A ring Z_2^k of machine words (Z_2^64 = [`u64`], Z_2^128 = [`u128`]): the rings fixed-point
/// shares live in. Adds what fixed point and truncation need beyond [`Ring`] — the width, shifts,
/// powers of two, order — and the ring's place in [`crate::encoded::Encoded`], the ring-tagged
/// value at the protocol interface. Pond's (and Additive's, ABY3's arithmetic) kernels are
/// written once over `R: Z2k` and instantiated for both widths (ARCHITECTURE.md, "Ring width").
///
/// Their [`Ring::random_fill`] draws consecutive pieces of a buffer exactly as one fill of the
/// whole (Z_2^64 reads whole 8-byte words of the stream, Z_2^128 two words per element), which
/// the streamed PRG expansions ([`crate::tensor::zip_random_assign`]) rely on.
pub trait Z2k: Ring + Ord + std::hash::Hash {
    /// k: the ring is Z_2^k.
    const BITS: u32;
    /// Logical right shift by `f` (< BITS).
    fn shr(self, f: u32) -> Self;
    /// Arithmetic right shift by `f` (< BITS): the element read as signed, floor-divided by 2^f.
    fn sar(self, f: u32) -> Self;
    /// 2^e, or `None` when e ≥ BITS.
    fn pow2(e: u32) -> Option<Self>;
    /// The element read as signed (two's complement), as a float.
    fn to_f64_signed(self) -> f64;
    /// Wraps a tensor of this ring into the ring-tagged [`crate::encoded::Encoded`].
    fn wrap(t: crate::tensor::Tensor<Self>) -> crate::encoded::Encoded;
    /// The tensor inside `e` if `e` is over this ring.
    fn unwrap(e: &crate::encoded::Encoded) -> Option<&crate::tensor::Tensor<Self>>;
    /// Records `value` (a share, an opened value or something dealt) at the current step of
    /// `ctx`, in this ring ([`crate::context::Context::record`] for Z_2^64,
    /// [`crate::context::Context::record_wide`] for Z_2^128).
    fn record(
        ctx: &mut dyn crate::context::Context,
        class: crate::context::ValueClass,
        label: &str,
        value: &crate::tensor::Tensor<Self>,
    );
    /// Records the value of `shape` whose elements `fill` computes (consecutive pieces from
    /// the first, [`crate::context::Context::record_with`]): the same record as
    /// [`Z2k::record`] of the whole tensor. Z_2^64 builds only the elements the record keeps;
    /// Z_2^128 builds the whole tensor.
    fn record_with(
        ctx: &mut dyn crate::context::Context,
        class: crate::context::ValueClass,
        label: &str,
        shape: &[usize],
        fill: &mut dyn FnMut(&mut [Self]),
    ) {
        let mut v = vec![Self::zero(); crate::tensor::numel(shape)];
        v.chunks_mut(crate::tensor::PIECE).for_each(&mut *fill);
        let t = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(shape), v).expect("numel(shape)");
        Self::record(ctx, class, label, &t)
    }
}

impl Z2k for u64 {
    const BITS: u32 = 64;
    #[inline(always)]
    fn shr(self, f: u32) -> Self {
        self >> f
    }
    #[inline(always)]
    fn sar(self, f: u32) -> Self {
        ((self as i64) >> f) as u64
    }
    fn pow2(e: u32) -> Option<Self> {
        1u64.checked_shl(e)
    }
    fn to_f64_signed(self) -> f64 {
        self as i64 as f64
    }
    fn wrap(t: crate::tensor::Tensor<Self>) -> crate::encoded::Encoded {
        crate::encoded::Encoded::Z64(t)
    }
    fn unwrap(e: &crate::encoded::Encoded) -> Option<&crate::tensor::Tensor<Self>> {
        match e {
            crate::encoded::Encoded::Z64(t) => Some(t),
            crate::encoded::Encoded::Z128(_) => None,
        }
    }
    fn record(
        ctx: &mut dyn crate::context::Context,
        class: crate::context::ValueClass,
        label: &str,
        value: &crate::tensor::Tensor<Self>,
    ) {
        ctx.record(class, label, crate::context::RingKind::Z64, value)
    }
    fn record_with(
        ctx: &mut dyn crate::context::Context,
        class: crate::context::ValueClass,
        label: &str,
        shape: &[usize],
        fill: &mut dyn FnMut(&mut [Self]),
    ) {
        ctx.record_with(class, label, crate::context::RingKind::Z64, shape, fill)
    }
}

impl Z2k for u128 {
    const BITS: u32 = 128;
    #[inline(always)]
    fn shr(self, f: u32) -> Self {
        self >> f
    }
    #[inline(always)]
    fn sar(self, f: u32) -> Self {
        ((self as i128) >> f) as u128
    }
    fn pow2(e: u32) -> Option<Self> {
        1u128.checked_shl(e)
    }
    fn to_f64_signed(self) -> f64 {
        self as i128 as f64
    }
    fn wrap(t: crate::tensor::Tensor<Self>) -> crate::encoded::Encoded {
        crate::encoded::Encoded::Z128(t)
    }
    fn unwrap(e: &crate::encoded::Encoded) -> Option<&crate::tensor::Tensor<Self>> {
        match e {
            crate::encoded::Encoded::Z128(t) => Some(t),
            crate::encoded::Encoded::Z64(_) => None,
        }
    }
    fn record(
        ctx: &mut dyn crate::context::Context,
        class: crate::context::ValueClass,
        label: &str,
        value: &crate::tensor::Tensor<Self>,
    ) {
        ctx.record_wide(class, label, value)
    }
}

/// An element of the odd ring Z_{2^64 − 1} (SecureNN's ShareConvert target).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default, Hash, PartialOrd, Ord)]
pub struct OddRing(pub u64);

impl OddRing {
    /// The modulus 2^64 − 1.
    pub const MODULUS: u64 = u64::MAX;
    /// Reduces a 128-bit value modulo 2^64 − 1.
    #[inline(always)]
    pub fn reduce(v: u128) -> Self {
        let m = Self::MODULUS as u128;
        // 2^64 ≡ 1 (mod 2^64−1): fold the high half onto the low half.
        let folded = (v >> 64) + (v & (u64::MAX as u128));
        let folded = (folded >> 64) + (folded & (u64::MAX as u128));
        OddRing((folded % m) as u64)
    }
}

impl Ring for OddRing {
    const BYTES: usize = 8;
    const NAME: &'static str = "Z_(2^64-1)";
    const KIND: crate::context::RingKind = crate::context::RingKind::Odd;
    fn zero() -> Self {
        OddRing(0)
    }
    fn one() -> Self {
        OddRing(1)
    }
    #[inline(always)]
    fn add(self, rhs: Self) -> Self {
        Self::reduce(self.0 as u128 + rhs.0 as u128)
    }
    #[inline(always)]
    fn sub(self, rhs: Self) -> Self {
        Self::reduce(self.0 as u128 + (Self::MODULUS - rhs.0) as u128)
    }
    #[inline(always)]
    fn mul(self, rhs: Self) -> Self {
        Self::reduce(self.0 as u128 * rhs.0 as u128)
    }
    fn from_u64(v: u64) -> Self {
        Self::reduce(v as u128)
    }
    fn from_i128(v: i128) -> Self {
        let m = Self::MODULUS as i128;
        OddRing(v.rem_euclid(m) as u64)
    }
    fn random<G: RngCore + ?Sized>(rng: &mut G) -> Self {
        // Rejection sampling keeps the distribution exactly uniform.
        loop {
            let v = rng.next_u64();
            if v != u64::MAX {
                return OddRing(v);
            }
        }
    }
    fn encode(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0.to_le_bytes());
    }
    fn decode(bytes: &[u8]) -> Self {
        OddRing(u64::decode(bytes) % Self::MODULUS)
    }
    fn to_u128(self) -> u128 {
        self.0 as u128
    }
    fn to_i128(self) -> i128 {
        if self.0 > Self::MODULUS / 2 {
            self.0 as i128 - Self::MODULUS as i128
        } else {
            self.0 as i128
        }
    }
}

/// SecureNN's small prime: p = 67.
pub const SECURENN_P: u8 = 67;

/// An element of the prime field Z_p with p = [`SECURENN_P`] (one byte on the wire).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default, Hash, PartialOrd, Ord)]
pub struct Zp(pub u8);

impl Ring for Zp {
    const BYTES: usize = 1;
    const NAME: &'static str = "Z_67";
    const KIND: crate::context::RingKind = crate::context::RingKind::Zp;
    fn zero() -> Self {
        Zp(0)
    }
    fn one() -> Self {
        Zp(1)
    }
    #[inline(always)]
    fn add(self, rhs: Self) -> Self {
        Zp(((self.0 as u16 + rhs.0 as u16) % SECURENN_P as u16) as u8)
    }
    #[inline(always)]
    fn sub(self, rhs: Self) -> Self {
        Zp(((self.0 as u16 + SECURENN_P as u16 - rhs.0 as u16) % SECURENN_P as u16) as u8)
    }
    #[inline(always)]
    fn mul(self, rhs: Self) -> Self {
        Zp(((self.0 as u16 * rhs.0 as u16) % SECURENN_P as u16) as u8)
    }
    fn from_u64(v: u64) -> Self {
        Zp((v % SECURENN_P as u64) as u8)
    }
    fn from_i128(v: i128) -> Self {
        Zp(v.rem_euclid(SECURENN_P as i128) as u8)
    }
    fn random<G: RngCore + ?Sized>(rng: &mut G) -> Self {
        // 256 − 256 mod 67 = 201: reject above to stay uniform.
        loop {
            let b = (rng.next_u32() & 0xff) as u8;
            if b < 201 {
                return Zp(b % SECURENN_P);
            }
        }
    }
    fn random_vec<G: RngCore + ?Sized>(n: usize, rng: &mut G) -> Vec<Self> {
        random_zp_vec(n, rng, false)
    }
    fn encode(self, out: &mut Vec<u8>) {
        out.push(self.0);
    }
    fn decode(bytes: &[u8]) -> Self {
        Zp(bytes[0] % SECURENN_P)
    }
    fn to_u128(self) -> u128 {
        self.0 as u128
    }
    fn to_i128(self) -> i128 {
        if self.0 > SECURENN_P / 2 {
            self.0 as i128 - SECURENN_P as i128
        } else {
            self.0 as i128
        }
    }
}

// Byte → element, or REJECT: bytes below 201 = 3 · 67 map to b mod 67; for Z_p \ {0}, bytes
// below 198 = 3 · 66 map to 1 + b mod 66.
const REJECT: u8 = u8::MAX;
const fn zp_table(nonzero: bool) -> [u8; 256] {
    let mut t = [REJECT; 256];
    let mut b = 0;
    while b < 256 {
        if nonzero && b < 198 {
            t[b] = (b % 66) as u8 + 1;
        } else if !nonzero && b < 201 {
            t[b] = (b % 67) as u8;
        }
        b += 1;
    }
    t
}
const ZP_ANY: [u8; 256] = zp_table(false);
const ZP_NONZERO: [u8; 256] = zp_table(true);

/// The bytes below it are accepted by [`random_zp_vec`]: 201 = 3 · 67 (198 = 3 · 66 for
/// Z_p \ {0}); exactly the bytes [`zp_map`] does not map to `REJECT`.
pub(crate) fn zp_limit(nonzero: bool) -> u8 {
    if nonzero {
        198
    } else {
        201
    }
}

/// The byte → element table of [`random_zp_vec`]: `REJECT` for a rejected byte.
pub(crate) fn zp_map(nonzero: bool) -> &'static [u8; 256] {
    if nonzero {
        &ZP_NONZERO
    } else {
        &ZP_ANY
    }
}

/// The accepted elements of one 256-byte buffer of the stream, in stream order, written to
/// `out[..k]` (k returned), as [`random_zp_vec`] compacts each buffer it reads. Branch-free:
/// every byte's image is written at the current length, which only advances past accepted
/// ones (`out` has room for all 256).
#[inline]
pub(crate) fn compact_zp(buf: &[u8; 256], map: &[u8; 256], out: &mut [u8; 256]) -> usize {
    let mut len = 0;
    for &b in buf {
        let v = map[b as usize];
        // len ≤ number of bytes seen so far < 256.
        out[len & 255] = v;
        len += usize::from(v != REJECT);
    }
    len
}

/// `n` uniformly random elements of Z_p (of Z_p \ {0} when `nonzero`), drawn from whole bytes
/// of the stream by rejection (a byte b < 201 gives b mod 67, uniform; 201 = 3 · 67) — one
/// ChaCha block serves dozens of elements.
pub(crate) fn random_zp_vec<G: RngCore + ?Sized>(n: usize, rng: &mut G, nonzero: bool) -> Vec<Zp> {
    let map = zp_map(nonzero);
    // Each buffer compacted branch-free ([`compact_zp`]); the accepted elements past n, and the
    // rest of the last buffer, are dropped.
    let mut out = Vec::with_capacity(n + 256);
    let (mut buf, mut vals) = ([0u8; 256], [0u8; 256]);
    while out.len() < n {
        rng.fill_bytes(&mut buf);
        let k = compact_zp(&buf, map, &mut vals);
        out.extend_from_slice(&vals[..k]);
    }
    out.truncate(n);
    out.into_iter().map(Zp).collect()
}

/// Advances `rng` exactly as [`random_zp_vec`]`(n, rng, nonzero)` would, without building the
/// elements: the same 256-byte buffers are read until n bytes were accepted (counting only).
pub(crate) fn skip_zp_vec<G: RngCore + ?Sized>(n: usize, rng: &mut G, nonzero: bool) {
    let limit = zp_limit(nonzero);
    let mut len = 0;
    let mut buf = [0u8; 256];
    while len < n {
        rng.fill_bytes(&mut buf);
        len += buf.iter().filter(|&&b| b < limit).count();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    #[test]
    fn the_acceptance_limit_is_where_the_byte_table_stops_rejecting() {
        for nonzero in [false, true] {
            let (map, limit) = (zp_map(nonzero), zp_limit(nonzero));
            for b in 0..=255u8 {
                assert_eq!(map[b as usize] != REJECT, b < limit, "byte {b}, {nonzero}");
            }
        }
    }

    #[test]
    fn skipping_zp_elements_reads_the_stream_as_drawing_them_does() {
        for n in [0, 1, 200, 201, 256, 257, 4096, 65_536] {
            for nonzero in [false, true] {
                let mut a = crate::tensor::Prg::seed_from_u64(n as u64 + 7);
                let mut b = a.clone();
                let _ = random_zp_vec(n, &mut a, nonzero);
                skip_zp_vec(n, &mut b, nonzero);
                assert_eq!(a.next_u64(), b.next_u64(), "n = {n}, nonzero = {nonzero}");
            }
        }
    }

    fn ring_laws<R: Ring>(n: usize) {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        for _ in 0..n {
            let (a, b, c) = (
                R::random(&mut rng),
                R::random(&mut rng),
                R::random(&mut rng),
            );
            assert_eq!(a.add(b), b.add(a));
            assert_eq!(a.mul(b), b.mul(a));
            assert_eq!(a.add(b).add(c), a.add(b.add(c)));
            assert_eq!(a.mul(b).mul(c), a.mul(b.mul(c)));
            assert_eq!(a.mul(b.add(c)), a.mul(b).add(a.mul(c)));
            assert_eq!(a.sub(b).add(b), a);
            assert_eq!(a.add(a.neg()), R::zero());
            assert_eq!(a.mul(R::one()), a);
            let mut buf = Vec::new();
            a.encode(&mut buf);
            assert_eq!(buf.len(), R::BYTES);
            assert_eq!(R::decode(&buf), a);
        }
        // The bulk encoding is the element-by-element one, appended after what is there.
        let xs: Vec<R> = (0..n % 97 + 3).map(|_| R::random(&mut rng)).collect();
        let mut one_by_one = vec![0xAB];
        xs.iter().for_each(|x| x.encode(&mut one_by_one));
        let mut bulk = vec![0xAB];
        R::encode_slice(&xs, &mut bulk);
        assert_eq!(bulk, one_by_one);
    }

    #[test]
    fn z2_64_is_a_commutative_ring() {
        ring_laws::<u64>(1000);
    }
    #[test]
    fn z2_128_is_a_commutative_ring() {
        ring_laws::<u128>(1000);
    }
    #[test]
    fn odd_ring_is_a_commutative_ring() {
        ring_laws::<OddRing>(1000);
        assert_eq!(OddRing(u64::MAX - 1).add(OddRing(1)), OddRing(0));
        assert_eq!(OddRing::from_i128(-1), OddRing(u64::MAX - 1));
    }
    #[test]
    fn zp_is_a_field_of_67_elements() {
        ring_laws::<Zp>(1000);
        for a in 1..SECURENN_P {
            assert!(
                (1..SECURENN_P).any(|b| Zp(a).mul(Zp(b)) == Zp(1)),
                "{a} has an inverse"
            );
        }
    }
}
