//! The pseudo-random generator that expands 32-byte seeds into masks and shares: AES-128 in
//! counter mode (AES-CTR), as real MPC implementations expand theirs (MP-SPDZ, ABY3's and
//! SecureNN's reference code, SecretFlow SPU).
//!
//! **Why AES and not ChaCha** (issue 11, measured): on the development machine (AMD EPYC with
//! AES-NI and VAES) the RustCrypto `aes` crate filled 9–10 GB/s in session 20's comparison,
//! ChaCha12 (`rand_chacha`, AVX2) 2.2–2.8 GB/s and ChaCha20 1.3–1.7 GB/s. Seed expansion is the
//! largest user-space cost of Pond's products and of SecureNN's comparisons.
//!
//! **Backends** ([`PrgBackend`], chosen once per generator in [`SeedableRng::from_seed`] by
//! [`prg_backend`]; std caches the CPUID probe):
//! - **VAES** (x86-64 with AES-NI, VAES and AVX-512F): four counter blocks per zmm register,
//!   8 registers (32 blocks, 512 bytes) per iteration, the keystream stored straight into the
//!   caller's slice; the round keys are expanded once with AES-NI's `aeskeygenassist` and kept
//!   in the generator. `cargo bench -p sharescope-protocols --bench prg` (session 22, a
//!   loaded 2-core machine, both backends in one run): 16–18 GB/s for fills of 8 KiB – 1 MiB
//!   against the `aes` crate's 2.8–3.6 GB/s in the same run, 14 GB/s against 3.4 for 256-byte
//!   fills. 8, 16 and 32 blocks per iteration measure within 6% of each other (17.0, 17.9 and
//!   18.1 GB/s on 8 KiB fills; out-of-order execution overlaps the independent iterations).
//! - **`aes` crate** everywhere else (and forced with [`AesCtrPrg::from_seed_with`] for the
//!   tests and the benchmark): it detects AES-NI at run time and falls back to a constant-time
//!   software AES elsewhere.
//!
//! Both give the same stream on every machine, only at different speeds (tests check them
//! against each other and against RustCrypto's `ctr`).
//!
//! **The stream.** A seed `s` is split into the AES-128 key `s[0..16]` and the initial counter
//! `s[16..32]` (a little-endian `u128`). Block `i` of the keystream is `AES_key(ctr₀ + i mod
//! 2¹²⁸)`, the counter encoded little-endian: exactly the keystream of RustCrypto's
//! `ctr::Ctr128LE<Aes128>` with key `s[0..16]` and IV `s[16..32]` (a test checks this). The
//! generator hands out the keystream **byte by byte in order**: `fill_bytes(n)` takes the next
//! `n` bytes, `next_u64` the next 8 (little-endian), `next_u32` the next 4. So filling a buffer
//! in pieces gives the same bytes as one fill of the whole, whatever the piece sizes, which the
//! streamed expansions of `tensor` rely on.
//!
//! Security: a 128-bit key, one stream per seed; a seed is never reused for two streams.

use aes::cipher::{generic_array::GenericArray, BlockEncrypt, KeyInit};
use aes::Aes128;
use rand::{CryptoRng, Error, RngCore, SeedableRng};

/// Blocks encrypted per batch by the `aes`-crate backend (it pipelines 8 blocks with AES-NI).
const BATCH: usize = 8;
/// Bytes of keystream buffered for small draws.
const BUF: usize = 16 * BATCH;

/// The AES implementations behind [`AesCtrPrg`]. Both give the same stream (module docs); they
/// differ only in speed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PrgBackend {
    /// Four blocks per AVX-512 register with VAES, written straight into the output (x86-64
    /// CPUs with AES-NI, VAES and AVX-512F).
    Vaes,
    /// The RustCrypto `aes` crate, 8 blocks at a time: AES-NI where the CPU has it, a
    /// constant-time software AES elsewhere.
    AesCrate,
}

impl PrgBackend {
    /// `"vaes"` or `"aes-crate"`.
    pub fn name(self) -> &'static str {
        match self {
            PrgBackend::Vaes => "vaes",
            PrgBackend::AesCrate => "aes-crate",
        }
    }

    /// Whether the running CPU can run this backend (std caches the CPUID probe).
    pub fn available(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            PrgBackend::Vaes => x86::available(),
            #[cfg(not(target_arch = "x86_64"))]
            PrgBackend::Vaes => false,
            PrgBackend::AesCrate => true,
        }
    }
}

/// The backend [`SeedableRng::from_seed`] picks on the running CPU: [`PrgBackend::Vaes`] where
/// available, else [`PrgBackend::AesCrate`].
pub fn prg_backend() -> PrgBackend {
    if PrgBackend::Vaes.available() {
        PrgBackend::Vaes
    } else {
        PrgBackend::AesCrate
    }
}

/// The expanded key, in the form its backend uses.
#[derive(Clone)]
enum Cipher {
    /// Only constructed after [`x86::available`] returned true.
    #[cfg(target_arch = "x86_64")]
    Vaes(x86::RoundKeys),
    /// Boxed: the crate's key schedule (encryption and decryption keys, and the software
    /// fallback's) is several times the size of the rest of the generator.
    AesCrate(Box<Aes128>),
}

/// AES-128-CTR keystream as a [`RngCore`] (see the module docs for the exact stream).
#[derive(Clone)]
pub struct AesCtrPrg {
    cipher: Cipher,
    /// The counter of the next block not yet encrypted.
    counter: u128,
    /// Buffered keystream; `buf[pos..]` not yet handed out.
    buf: [u8; BUF],
    pos: usize,
}

impl std::fmt::Debug for AesCtrPrg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("AesCtrPrg").finish_non_exhaustive()
    }
}

/// Encrypts the `out.len() / 16` counter blocks from `*counter` on into `out` (a multiple of
/// 16 bytes) and advances `*counter` past them (mod 2¹²⁸).
fn keystream_blocks(cipher: &Cipher, counter: &mut u128, out: &mut [u8]) {
    debug_assert_eq!(out.len() % 16, 0);
    match cipher {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Cipher::Vaes` is only built after `x86::available()` (AES-NI, VAES, AVX-512F).
        Cipher::Vaes(keys) => *counter = unsafe { x86::keystream(keys, *counter, out) },
        Cipher::AesCrate(aes) => {
            let mut batch = [GenericArray::<u8, _>::default(); BATCH];
            for chunk in out.chunks_mut(BUF) {
                let n = chunk.len() / 16;
                for b in batch.iter_mut().take(n) {
                    b.copy_from_slice(&counter.to_le_bytes());
                    *counter = counter.wrapping_add(1);
                }
                aes.encrypt_blocks(&mut batch[..n]);
                for (dst, b) in chunk.chunks_exact_mut(16).zip(&batch) {
                    dst.copy_from_slice(b);
                }
            }
        }
    }
}

impl AesCtrPrg {
    /// [`SeedableRng::from_seed`] with the given backend, or `None` where the running CPU
    /// cannot run it ([`PrgBackend::available`]). The stream is the same whichever backend
    /// runs it; this is for tests and benchmarks that compare them.
    pub fn from_seed_with(seed: [u8; 32], backend: PrgBackend) -> Option<Self> {
        if !backend.available() {
            return None;
        }
        Some(Self::from_seed_on(seed, backend))
    }

    /// The generator of `seed` on `backend`, which must be available on this CPU (falls back
    /// to the `aes` crate otherwise).
    fn from_seed_on(seed: [u8; 32], backend: PrgBackend) -> Self {
        let mut key = [0u8; 16];
        key.copy_from_slice(&seed[..16]);
        let mut ctr = [0u8; 16];
        ctr.copy_from_slice(&seed[16..]);
        let cipher = match backend {
            #[cfg(target_arch = "x86_64")]
            PrgBackend::Vaes if x86::available() => {
                // SAFETY: `x86::available()` checked AES-NI.
                Cipher::Vaes(unsafe { x86::expand_key(&key) })
            }
            _ => Cipher::AesCrate(Box::new(Aes128::new(GenericArray::from_slice(&key)))),
        };
        AesCtrPrg {
            cipher,
            counter: u128::from_le_bytes(ctr),
            buf: [0; BUF],
            pos: BUF,
        }
    }

    /// The backend this generator runs on.
    pub fn backend(&self) -> PrgBackend {
        match self.cipher {
            #[cfg(target_arch = "x86_64")]
            Cipher::Vaes(_) => PrgBackend::Vaes,
            Cipher::AesCrate(_) => PrgBackend::AesCrate,
        }
    }

    /// Encrypts the next `out.len() / 16` counter blocks into `out` (a multiple of 16 bytes).
    fn keystream_blocks(&mut self, out: &mut [u8]) {
        keystream_blocks(&self.cipher, &mut self.counter, out);
    }

    /// Refills the buffer with the next [`BATCH`] blocks.
    fn refill(&mut self) {
        keystream_blocks(&self.cipher, &mut self.counter, &mut self.buf);
        self.pos = 0;
    }

    /// The next `N` bytes of the stream.
    #[inline]
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        if self.pos + N <= BUF {
            out.copy_from_slice(&self.buf[self.pos..self.pos + N]);
            self.pos += N;
        } else {
            self.fill_bytes(&mut out);
        }
        out
    }
}

impl AesCtrPrg {
    /// The stream of `seed` from its byte `offset` on: [`SeedableRng::from_seed`] followed by
    /// [`AesCtrPrg::skip`]`(offset)` (nothing before it is encrypted).
    pub fn from_seed_at(seed: [u8; 32], offset: u64) -> Self {
        let mut g = Self::from_seed(seed);
        g.skip(offset);
        g
    }

    /// Advances the stream by `n` bytes without handing them out: the next byte is the one a
    /// `fill_bytes` of `n` bytes would have been followed by (no block before it is encrypted).
    pub fn skip(&mut self, n: u64) {
        let buffered = (BUF - self.pos) as u64;
        if n <= buffered {
            self.pos += n as usize;
            return;
        }
        // The buffer is used up: whole blocks are skipped by the counter alone.
        let n = n - buffered;
        self.counter = self.counter.wrapping_add((n / 16) as u128);
        self.pos = BUF;
        let rest = (n % 16) as usize;
        if rest > 0 {
            self.refill();
            self.pos = rest;
        }
    }
}

/// A 32-byte seed derived from a 64-bit seed: the first 32 bytes of ChaCha20 stream `stream` of
/// `seed` (`rand_chacha`'s `seed_from_u64`, then `set_stream`). [`party_rng`] uses streams
/// 1, 2, …; the scenario's random inputs use stream 0 of their own input seed.
pub fn derived_seed(seed: u64, stream: u64) -> [u8; 32] {
    let mut k = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    k.set_stream(stream);
    let mut s = [0u8; 32];
    k.fill_bytes(&mut s);
    s
}

impl SeedableRng for AesCtrPrg {
    type Seed = [u8; 32];

    fn from_seed(seed: [u8; 32]) -> Self {
        Self::from_seed_on(seed, prg_backend())
    }
}

impl RngCore for AesCtrPrg {
    #[inline]
    fn next_u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take::<4>())
    }

    #[inline]
    fn next_u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take::<8>())
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        // 1. What is buffered.
        let n = dest.len().min(BUF - self.pos);
        dest[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        let rest = &mut dest[n..];
        if rest.is_empty() {
            return;
        }
        // 2. Whole blocks straight into `dest` (the buffer is empty here).
        let whole = rest.len() / 16 * 16;
        let (blocks, tail) = rest.split_at_mut(whole);
        self.keystream_blocks(blocks);
        // 3. The tail from a fresh buffer.
        if !tail.is_empty() {
            self.refill();
            tail.copy_from_slice(&self.buf[..tail.len()]);
            self.pos = tail.len();
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for AesCtrPrg {}

/// The private randomness of party `party` in a run with scenario seed `seed`: the AES-CTR
/// stream whose 32-byte seed is the first 32 bytes of ChaCha20 stream `party + 1` of `seed`
/// (the stream the party drew from directly before session 20).
pub fn party_rng(seed: u64, party: usize) -> AesCtrPrg {
    AesCtrPrg::from_seed(derived_seed(seed, party as u64 + 1))
}

/// The VAES backend (x86-64 only, selected at run time). `unsafe` is confined to this module:
/// calls into `#[target_feature]` functions after feature detection, and unaligned SIMD loads
/// and stores from arrays and slices of at least the vector's size.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// zmm registers (4 blocks each) in flight per iteration of the main loop: 32 blocks. The
    /// ignored test `vaes_blocks_per_iteration` measures 2, 4 and 8 (8, 16 and 32 blocks).
    pub(super) const REGS: usize = 8;
    /// The most registers an iteration may use ([`keystream_regs`]'s `R`).
    const MAX_REGS: usize = 8;

    /// The 11 AES-128 encryption round keys.
    #[derive(Clone, Copy)]
    pub(super) struct RoundKeys([[u8; 16]; 11]);

    /// Whether the CPU has AES-NI (for the key expansion), VAES and AVX-512F (for the blocks).
    pub(super) fn available() -> bool {
        is_x86_feature_detected!("aes")
            && is_x86_feature_detected!("vaes")
            && is_x86_feature_detected!("avx512f")
    }

    /// The AES-128 key schedule of `key` (FIPS-197 §5.2) with `aeskeygenassist`.
    ///
    /// # Safety
    /// The CPU must support AES-NI.
    #[target_feature(enable = "aes")]
    pub(super) unsafe fn expand_key(key: &[u8; 16]) -> RoundKeys {
        let mut out = [[0u8; 16]; 11];
        // SAFETY: `key` is 16 bytes; `loadu` needs no alignment.
        let mut k = unsafe { _mm_loadu_si128(key.as_ptr().cast()) };
        out[0] = key_bytes(k);
        macro_rules! round {
            ($i:expr, $rcon:expr) => {{
                // The last word of the previous key, rotated, substituted and xored with rcon,
                // broadcast; the previous key's words xored in prefix order.
                let t = _mm_shuffle_epi32::<0xff>(_mm_aeskeygenassist_si128::<$rcon>(k));
                k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
                k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
                k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
                k = _mm_xor_si128(k, t);
                out[$i] = key_bytes(k);
            }};
        }
        round!(1, 0x01);
        round!(2, 0x02);
        round!(3, 0x04);
        round!(4, 0x08);
        round!(5, 0x10);
        round!(6, 0x20);
        round!(7, 0x40);
        round!(8, 0x80);
        round!(9, 0x1b);
        round!(10, 0x36);
        RoundKeys(out)
    }

    /// The 16 bytes of `k`.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn key_bytes(k: __m128i) -> [u8; 16] {
        let mut b = [0u8; 16];
        // SAFETY: `b` is 16 bytes; `storeu` needs no alignment.
        unsafe { _mm_storeu_si128(b.as_mut_ptr().cast(), k) };
        b
    }

    /// Four 128-bit lanes plus `inc` (its low 64-bit words < 2⁶⁴, high words 0) as four
    /// independent little-endian `u128`s mod 2¹²⁸: 64-bit adds, then a carry into each high
    /// word whose low word wrapped.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn add_u128x4(v: __m512i, inc: __m512i) -> __m512i {
        let s = _mm512_add_epi64(v, inc);
        // Low words (even positions) that wrapped; high words gained 0 and never compare less.
        let carried = _mm512_cmplt_epu64_mask(s, v) & 0x55;
        _mm512_mask_add_epi64(s, carried << 1, s, _mm512_set1_epi64(1))
    }

    /// Encrypts `R` registers of counter blocks, `base` + `incs[j]` in register `j`, into
    /// `out` (exactly `64 R` bytes).
    #[inline]
    #[target_feature(enable = "avx512f,vaes")]
    fn encrypt_regs<const R: usize>(
        rk: &[__m512i; 11],
        base: __m512i,
        incs: &[__m512i; MAX_REGS],
        out: &mut [u8],
    ) {
        debug_assert_eq!(out.len(), 64 * R);
        let mut b = [_mm512_setzero_si512(); R];
        for j in 0..R {
            b[j] = _mm512_xor_si512(add_u128x4(base, incs[j]), rk[0]);
        }
        for key in &rk[1..10] {
            for bj in b.iter_mut() {
                *bj = _mm512_aesenc_epi128(*bj, *key);
            }
        }
        for (bj, dst) in b.iter_mut().zip(out.chunks_exact_mut(64)) {
            *bj = _mm512_aesenclast_epi128(*bj, rk[10]);
            // SAFETY: `dst` is exactly 64 bytes; `storeu` needs no alignment.
            unsafe { _mm512_storeu_si512(dst.as_mut_ptr().cast(), *bj) };
        }
    }

    /// The lane increments of the registers of an iteration: register `j` holds the
    /// counters `4j, 4j + 1, 4j + 2, 4j + 3` past the iteration's first.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn lane_incs() -> [__m512i; MAX_REGS] {
        let mut incs = [_mm512_set_epi64(0, 3, 0, 2, 0, 1, 0, 0); MAX_REGS];
        let four = _mm512_set_epi64(0, 4, 0, 4, 0, 4, 0, 4);
        for j in 1..MAX_REGS {
            incs[j] = _mm512_add_epi64(incs[j - 1], four);
        }
        incs
    }

    /// Writes the keystream of the `out.len() / 16` counter blocks from `counter` on into
    /// `out` (a multiple of 16 bytes) and returns the counter after them (mod 2¹²⁸): block `i`
    /// is `AES(counter + i)`, the counter little-endian, as the `aes`-crate backend computes.
    ///
    /// # Safety
    /// The CPU must support VAES and AVX-512F.
    #[target_feature(enable = "avx512f,vaes")]
    pub(super) unsafe fn keystream(keys: &RoundKeys, counter: u128, out: &mut [u8]) -> u128 {
        // SAFETY: the same contract.
        unsafe { keystream_regs::<REGS>(keys, counter, out) }
    }

    /// [`keystream`] with `R` registers per iteration of the main loop (`R` ≤ [`MAX_REGS`]).
    ///
    /// # Safety
    /// The CPU must support VAES and AVX-512F.
    #[target_feature(enable = "avx512f,vaes")]
    pub(super) unsafe fn keystream_regs<const R: usize>(
        keys: &RoundKeys,
        mut counter: u128,
        out: &mut [u8],
    ) -> u128 {
        const { assert!(R <= MAX_REGS) };
        debug_assert_eq!(out.len() % 16, 0);
        let mut rk = [_mm512_setzero_si512(); 11];
        for (r, k) in rk.iter_mut().zip(&keys.0) {
            // SAFETY: `k` is 16 bytes; `loadu` needs no alignment.
            *r = _mm512_broadcast_i32x4(unsafe { _mm_loadu_si128(k.as_ptr().cast()) });
        }
        let incs = lane_incs();
        let mut chunks = out.chunks_exact_mut(64 * R);
        for chunk in &mut chunks {
            encrypt_regs::<R>(&rk, counter_x4(counter), &incs, chunk);
            counter = counter.wrapping_add(4 * R as u128);
        }
        // The rest: halves of the iteration while they fit, then one partial register.
        let mut rest = chunks.into_remainder();
        macro_rules! part {
            ($r:expr) => {
                if $r < R && rest.len() >= 64 * $r {
                    let (head, tail) = rest.split_at_mut(64 * $r);
                    encrypt_regs::<$r>(&rk, counter_x4(counter), &incs, head);
                    counter = counter.wrapping_add(4 * $r as u128);
                    rest = tail;
                }
            };
        }
        part!(4);
        part!(2);
        part!(1);
        if !rest.is_empty() {
            let mut last = [0u8; 64];
            encrypt_regs::<1>(&rk, counter_x4(counter), &incs, &mut last);
            rest.copy_from_slice(&last[..rest.len()]);
            counter = counter.wrapping_add((rest.len() / 16) as u128);
        }
        counter
    }

    /// `counter` in all four 128-bit lanes (little-endian).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn counter_x4(counter: u128) -> __m512i {
        let (lo, hi) = (counter as u64 as i64, (counter >> 64) as u64 as i64);
        _mm512_set_epi64(hi, lo, hi, lo, hi, lo, hi, lo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::{KeyIvInit, StreamCipher};

    fn reference(seed: [u8; 32], n: usize) -> Vec<u8> {
        let mut c = ctr::Ctr128LE::<Aes128>::new(
            GenericArray::from_slice(&seed[..16]),
            GenericArray::from_slice(&seed[16..]),
        );
        let mut out = vec![0u8; n];
        c.apply_keystream(&mut out);
        out
    }

    fn seed(k: u8) -> [u8; 32] {
        std::array::from_fn(|i| (i as u8).wrapping_mul(31).wrapping_add(k))
    }

    #[test]
    fn a_stream_started_at_an_offset_is_the_rest_of_the_whole_stream() {
        let whole = reference(seed(7), 700);
        for off in [0usize, 1, 15, 16, 17, 127, 128, 129, 333, 512] {
            let mut got = vec![0u8; 700 - off];
            AesCtrPrg::from_seed_at(seed(7), off as u64).fill_bytes(&mut got);
            assert_eq!(got, whole[off..], "offset {off}");
            let mut g = AesCtrPrg::from_seed_at(seed(7), off as u64);
            let w = g.next_u64();
            let want = u64::from_le_bytes(whole[off..off + 8].try_into().unwrap());
            assert_eq!(w, want, "offset {off}, next_u64");
        }
    }

    #[test]
    fn the_stream_is_rustcrypto_ctr128le_keystream() {
        for n in [0, 1, 15, 16, 17, 127, 128, 129, 1000, 4096 + 3] {
            let mut got = vec![0u8; n];
            AesCtrPrg::from_seed(seed(n as u8)).fill_bytes(&mut got);
            assert_eq!(got, reference(seed(n as u8), n), "n = {n}");
        }
    }

    #[test]
    fn fips_197_aes128_block_is_the_first_block_of_the_stream() {
        // FIPS-197 Appendix C.1: key 000102…0f, plaintext 00112233…ff.
        let mut s = [0u8; 32];
        for (i, b) in s[..16].iter_mut().enumerate() {
            *b = i as u8;
        }
        let pt: [u8; 16] = std::array::from_fn(|i| (i as u8) * 0x11);
        s[16..].copy_from_slice(&pt);
        let mut out = [0u8; 16];
        AesCtrPrg::from_seed(s).fill_bytes(&mut out);
        let want = [
            0x69, 0xc4, 0xe0, 0xd8, 0x6a, 0x7b, 0x04, 0x30, 0xd8, 0xcd, 0xb7, 0x80, 0x70, 0xb4,
            0xc5, 0x5a,
        ];
        assert_eq!(out, want);
    }

    #[test]
    fn draws_in_any_pieces_are_one_stream() {
        let whole = reference(seed(7), 5000);
        // Mixed piece sizes, words and bytes, crossing buffer and block boundaries.
        let pieces = [3usize, 8, 4, 200, 1, 8, 129, 16, 8, 2048, 5, 4, 8];
        let mut prg = AesCtrPrg::from_seed(seed(7));
        let mut got = Vec::new();
        let mut i = 0;
        while got.len() + 2100 < whole.len() {
            let p = pieces[i % pieces.len()];
            i += 1;
            match p {
                4 => got.extend_from_slice(&prg.next_u32().to_le_bytes()),
                8 => got.extend_from_slice(&prg.next_u64().to_le_bytes()),
                _ => {
                    let mut b = vec![0u8; p];
                    prg.fill_bytes(&mut b);
                    got.extend_from_slice(&b);
                }
            }
        }
        assert_eq!(got, whole[..got.len()]);
    }

    #[test]
    fn skipping_bytes_leaves_the_stream_where_drawing_them_does() {
        let whole = reference(seed(9), 6000);
        for (first, skip) in [
            (0usize, 0u64),
            (0, 1),
            (3, 13),
            (5, 16),
            (1, 127),
            (0, 128),
            (7, 129),
            (100, 4096 + 5),
            (128, 2000),
        ] {
            let mut prg = AesCtrPrg::from_seed(seed(9));
            let mut head = vec![0u8; first];
            prg.fill_bytes(&mut head);
            prg.skip(skip);
            let mut next = [0u8; 300];
            prg.fill_bytes(&mut next);
            let at = first + skip as usize;
            assert_eq!(next[..], whole[at..at + 300], "first {first}, skip {skip}");
        }
    }

    #[test]
    fn the_counter_wraps_around() {
        let mut s = seed(1);
        s[16..].copy_from_slice(&u128::MAX.to_le_bytes());
        let mut got = vec![0u8; 64];
        AesCtrPrg::from_seed(s).fill_bytes(&mut got);
        assert_eq!(got, reference(s, 64));
    }

    /// The backends this CPU can run (the `aes` crate always).
    fn backends() -> Vec<PrgBackend> {
        [PrgBackend::Vaes, PrgBackend::AesCrate]
            .into_iter()
            .filter(|b| b.available())
            .collect()
    }

    /// The stream of `seed` on `backend`, drawn as `pieces` (fills, words and skips) until
    /// `n` bytes were passed; skipped bytes are zero in the result.
    fn drawn_in_pieces(seed: [u8; 32], backend: PrgBackend, n: usize, pieces: &[usize]) -> Vec<u8> {
        let mut g = AesCtrPrg::from_seed_with(seed, backend).expect("available");
        assert_eq!(g.backend(), backend);
        let mut got = Vec::with_capacity(n);
        for (i, &p) in pieces.iter().cycle().enumerate() {
            let p = p.min(n - got.len());
            if p == 0 && got.len() == n {
                break;
            }
            match (i % 5, p) {
                (1, 8) => got.extend_from_slice(&g.next_u64().to_le_bytes()),
                (2, 4) => got.extend_from_slice(&g.next_u32().to_le_bytes()),
                (3, _) => {
                    g.skip(p as u64);
                    got.resize(got.len() + p, 0);
                }
                _ => {
                    let mut b = vec![0u8; p];
                    g.fill_bytes(&mut b);
                    got.extend_from_slice(&b);
                }
            }
        }
        got
    }

    /// `reference` with the bytes `drawn_in_pieces` skips zeroed.
    fn reference_skipped(seed: [u8; 32], n: usize, pieces: &[usize]) -> Vec<u8> {
        let mut want = reference(seed, n);
        let mut at = 0;
        for (i, &p) in pieces.iter().cycle().enumerate() {
            let p = p.min(n - at);
            if p == 0 && at == n {
                break;
            }
            if i % 5 == 3 {
                want[at..at + p].fill(0);
            }
            at += p;
        }
        want
    }

    #[test]
    fn every_backend_gives_the_ctr128le_stream_in_any_pieces() {
        use rand::Rng;
        let mut r = rand_chacha::ChaCha20Rng::seed_from_u64(0xae5);
        for case in 0..300 {
            let seed: [u8; 32] = r.gen();
            let n = r.gen_range(0..2000);
            // Odd piece sizes, and words where the piece is 4 or 8.
            let pieces: Vec<usize> = (0..r.gen_range(1..12))
                .map(|_| match r.gen_range(0..4) {
                    0 => 4,
                    1 => 8,
                    2 => r.gen_range(0..40),
                    _ => r.gen_range(0..700),
                })
                .collect();
            if pieces.iter().all(|&p| p == 0) {
                continue;
            }
            let want = reference_skipped(seed, n, &pieces);
            for b in backends() {
                let got = drawn_in_pieces(seed, b, n, &pieces);
                assert_eq!(got, want, "case {case}, {b:?}, n {n}, pieces {pieces:?}");
            }
        }
    }

    #[test]
    fn every_backend_carries_the_counter_across_its_halves_and_wraps() {
        // Counters just below 2⁶⁴ (the low word wraps into the high one) and just below 2¹²⁸
        // (the whole counter wraps to 0), each a few blocks before the boundary, so the wrap
        // falls into every lane of every register of an iteration, and into the partial one.
        let starts = [(1u128 << 64) - 1, u128::MAX, u128::MAX - (u64::MAX as u128)];
        for base in starts {
            for back in 0..40u128 {
                let mut s = seed(back as u8);
                s[16..].copy_from_slice(&base.wrapping_sub(back).to_le_bytes());
                for n in [16, 48, 64, 80, 128, 512, 16 * 33 + 5, 1000, 2000] {
                    let want = reference(s, n);
                    for b in backends() {
                        let mut got = vec![0u8; n];
                        let mut g = AesCtrPrg::from_seed_with(s, b).expect("available");
                        g.fill_bytes(&mut got);
                        assert_eq!(got, want, "{b:?}, counter {base:#x} - {back}, n {n}");
                        // And after a skip across the boundary.
                        let mut g = AesCtrPrg::from_seed_with(s, b).expect("available");
                        g.skip(n as u64 / 2);
                        let mut rest = vec![0u8; n - n / 2];
                        g.fill_bytes(&mut rest);
                        assert_eq!(rest, want[n / 2..], "{b:?}, skip, counter {base:#x}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_vaes_backend_is_used_where_the_cpu_has_it() {
        #[cfg(target_arch = "x86_64")]
        let has = is_x86_feature_detected!("aes")
            && is_x86_feature_detected!("vaes")
            && is_x86_feature_detected!("avx512f");
        #[cfg(not(target_arch = "x86_64"))]
        let has = false;
        let want = if has {
            PrgBackend::Vaes
        } else {
            PrgBackend::AesCrate
        };
        assert_eq!(prg_backend(), want);
        assert_eq!(AesCtrPrg::from_seed(seed(3)).backend(), want);
        assert_eq!(party_rng(1, 0).backend(), want);
        assert_eq!(AesCtrPrg::from_seed(seed(3)).clone().backend(), want);
        assert_eq!(PrgBackend::Vaes.available(), has);
        assert_eq!(
            AesCtrPrg::from_seed_with(seed(3), PrgBackend::Vaes).is_some(),
            has
        );
        let forced = AesCtrPrg::from_seed_with(seed(3), PrgBackend::AesCrate).expect("always");
        assert_eq!(forced.backend(), PrgBackend::AesCrate);
    }

    /// Throughput of the VAES main loop with 2, 4 and 8 registers (8, 16 and 32 blocks) per
    /// iteration, interleaved: `cargo test --release -p sharescope-protocols --lib
    /// vaes_blocks_per_iteration -- --ignored --nocapture`.
    #[cfg(target_arch = "x86_64")]
    #[test]
    #[ignore = "a measurement, not a check"]
    fn vaes_blocks_per_iteration() {
        if !PrgBackend::Vaes.available() {
            return;
        }
        // SAFETY: VAES, AVX-512F and AES-NI were detected just above.
        let keys = unsafe { x86::expand_key(&[7; 16]) };
        type Kernel = unsafe fn(&x86::RoundKeys, u128, &mut [u8]) -> u128;
        let kernels: [(usize, Kernel); 3] = [
            (8, x86::keystream_regs::<2>),
            (16, x86::keystream_regs::<4>),
            (32, x86::keystream_regs::<8>),
        ];
        for piece in [8usize << 10, 1 << 20] {
            let mut buf = vec![0u8; piece];
            let mut best = [f64::MAX; 3];
            for _ in 0..7 {
                for (b, (_, k)) in best.iter_mut().zip(&kernels) {
                    let start = std::time::Instant::now();
                    let mut c = 0;
                    for _ in 0..(64 << 20) / piece {
                        // SAFETY: as above.
                        c = unsafe { k(&keys, c, &mut buf) };
                        std::hint::black_box(&buf);
                    }
                    *b = b.min(start.elapsed().as_secs_f64());
                }
            }
            for ((blocks, _), t) in kernels.iter().zip(best) {
                let gbs = (64 << 20) as f64 / t / 1e9;
                println!("{blocks:>2} blocks/iteration, {piece:>7}-byte fills: {gbs:.2} GB/s");
            }
        }
    }

    #[test]
    fn debug_prints_no_key_material() {
        for b in backends() {
            let g = AesCtrPrg::from_seed_with([0xab; 32], b).expect("available");
            let d = format!("{g:?}");
            assert_eq!(d, "AesCtrPrg { .. }");
        }
    }

    #[test]
    fn parties_and_seeds_get_different_streams() {
        let draw = |seed, party| party_rng(seed, party).next_u64();
        assert_eq!(draw(5, 1), draw(5, 1));
        assert_ne!(draw(5, 1), draw(5, 2));
        assert_ne!(draw(5, 1), draw(6, 1));
    }

    #[test]
    fn different_seeds_give_different_streams() {
        let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
        AesCtrPrg::from_seed(seed(1)).fill_bytes(&mut a);
        AesCtrPrg::from_seed(seed(2)).fill_bytes(&mut b);
        assert_ne!(a, b);
    }
}
