//! Dense linear-algebra kernels over any [`Ring`]: matrix multiplication, `im2col` and 2-D
//! convolution, plus `f64` twins of the latter for the plaintext shadow computation.
//!
//! All matrices are dense and row-major; all tensors are NCHW. Ring arithmetic is exact, so
//! the blocked kernel and the textbook loop agree bit for bit whatever order they sum in.
//!
//! [`matmul`] is the hot path. It runs a cache-blocked, register-tiled i-k-j kernel (GotoBLAS
//! style: a `KC × NC` panel of B is packed once and stays in L2 while packed `MR`-row strips of
//! A stream past it, and an `MR × NR` tile of C is accumulated in registers). The blocking is
//! generic over the ring and over the micro-kernel that computes one tile. For `Z_2^64`
//! ([`u64`]) the CPU is probed at run time and, where available, an AVX-512 (F + DQ) build with
//! a `vpmullq` micro-kernel or an AVX2 build with a `vpmuludq`/`vpmulld` split-multiply
//! micro-kernel is used ([`matmul_u64_path`] reports which). Every other ring, and `u64` on
//! other CPUs, uses the portable micro-kernel.
//!
//! `unsafe` is confined to the `TypeId`-checked `&[R]` → `&[u64]` views and to the x86 module
//! (calls into `#[target_feature]` functions after feature detection, and unaligned SIMD loads
//! and stores from slices of exactly the vector's size).

use crate::ring::Ring;
use std::any::TypeId;

/// Depth (along `k`) of one packed panel of B.
const KC: usize = 128;
/// Width (along `n`) of one packed panel of B; `KC × NC` u64s = 256 KiB, sized for L2.
const NC: usize = 256;

/// Panics unless `a` is `m × k` and `b` is `k × n`.
fn check_matmul_dims(a_len: usize, b_len: usize, m: usize, k: usize, n: usize) {
    assert_eq!(
        a_len,
        m * k,
        "matmul: A has {a_len} elements, expected {m}×{k}"
    );
    assert_eq!(
        b_len,
        k * n,
        "matmul: B has {b_len} elements, expected {k}×{n}"
    );
}

/// Multiplies the `m × k` matrix `a` by the `k × n` matrix `b` (both row-major) in the ring `R`
/// and returns the `m × n` row-major product.
///
/// Uses the cache-blocked kernel; for `R = u64` it dispatches at run time to an AVX-512 or AVX2
/// build of that kernel when the CPU supports it (see [`matmul_u64_path`]). `k = 0` yields the
/// all-zero matrix. The result is exactly [`matmul_naive_ikj`]'s.
///
/// # Panics
/// If `a.len() != m * k` or `b.len() != k * n`.
pub fn matmul<R: Ring>(a: &[R], b: &[R], m: usize, k: usize, n: usize) -> Vec<R> {
    check_matmul_dims(a.len(), b.len(), m, k, n);
    let mut c = vec![R::zero(); m * n];
    matmul_acc(a, b, &mut c, m, k, n);
    c
}

/// `C += A · B` in place: adds the `m × n` product of `a` (`m × k`) and `b` (`k × n`) to `c`
/// (all row-major), with [`matmul`]'s kernel and no buffer for the product. The result is
/// exactly `c` plus [`matmul`]'s.
///
/// # Panics
/// If `a.len() != m * k`, `b.len() != k * n` or `c.len() != m * n`.
pub fn matmul_acc<R: Ring>(a: &[R], b: &[R], c: &mut [R], m: usize, k: usize, n: usize) {
    check_matmul_dims(a.len(), b.len(), m, k, n);
    assert_eq!(
        c.len(),
        m * n,
        "matmul: C has {} elements, expected {m}×{n}",
        c.len()
    );
    if let (Some(a64), Some(b64)) = (as_u64(a), as_u64(b)) {
        let c64 = as_u64_mut(c).expect("R is u64 here");
        gemm_u64(a64, b64, c64, m, k, n);
    } else {
        gemm_portable(a, b, c, m, k, n);
    }
}

/// The textbook i-k-j triple loop for `C = A · B` (row-major, ring arithmetic): no blocking,
/// no tiling, no CPU dispatch. The reference and benchmark baseline for [`matmul`].
///
/// # Panics
/// If `a.len() != m * k` or `b.len() != k * n`.
pub fn matmul_naive_ikj<R: Ring>(a: &[R], b: &[R], m: usize, k: usize, n: usize) -> Vec<R> {
    check_matmul_dims(a.len(), b.len(), m, k, n);
    let mut c = vec![R::zero(); m * n];
    for i in 0..m {
        let c_row = &mut c[i * n..(i + 1) * n];
        for p in 0..k {
            let a_ip = a[i * k + p];
            let b_row = &b[p * n..(p + 1) * n];
            for (c_ij, &b_pj) in c_row.iter_mut().zip(b_row) {
                *c_ij = c_ij.add(a_ip.mul(b_pj));
            }
        }
    }
    c
}

/// Which build of the `Z_2^64` matmul kernel [`matmul`] uses on this CPU: `"avx512"`,
/// `"avx2"` or `"portable"`.
pub fn matmul_u64_path() -> &'static str {
    match u64_path() {
        U64Path::Avx512 => "avx512",
        U64Path::Avx2 => "avx2",
        U64Path::Portable => "portable",
    }
}

/// The CPU-specific builds of the u64 kernel.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    not(any(target_arch = "x86", target_arch = "x86_64")),
    allow(dead_code)
)]
enum U64Path {
    Avx512,
    Avx2,
    Portable,
}

/// Detects the best u64 kernel for the running CPU (std caches the CPUID probe).
fn u64_path() -> U64Path {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512dq") {
            return U64Path::Avx512;
        }
        if is_x86_feature_detected!("avx2") {
            return U64Path::Avx2;
        }
    }
    U64Path::Portable
}

/// `C += A · B` over `Z_2^64` with the best kernel build for this CPU.
fn gemm_u64(a: &[u64], b: &[u64], c: &mut [u64], m: usize, k: usize, n: usize) {
    match u64_path() {
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        // SAFETY: `u64_path` returns Avx512 only after detecting AVX-512F and AVX-512DQ.
        U64Path::Avx512 => unsafe { x86::gemm_u64_avx512(a, b, c, m, k, n) },
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        // SAFETY: `u64_path` returns Avx2 only after detecting AVX2.
        U64Path::Avx2 => unsafe { x86::gemm_u64_avx2(a, b, c, m, k, n) },
        _ => gemm_portable(a, b, c, m, k, n),
    }
}

/// The portable blocked kernel (any ring, no CPU-specific code).
fn gemm_portable<R: Ring>(a: &[R], b: &[R], c: &mut [R], m: usize, k: usize, n: usize) {
    gemm_blocked::<R, 4, 4>(a, b, c, m, k, n, micro_kernel::<R, 4, 4>);
}

/// Builds of the blocked kernel for x86 vector extensions (selected at run time).
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
mod x86 {
    #[cfg(target_arch = "x86")]
    use std::arch::x86::*;
    #[cfg(target_arch = "x86_64")]
    use std::arch::x86_64::*;

    /// Rows of the AVX2 register tile (its width is one ymm = 4 u64 lanes).
    const AVX2_MR: usize = 4;
    /// Rows of the AVX-512 register tile (its width is one zmm = 8 u64 lanes).
    const AVX512_MR: usize = 8;

    /// The blocked kernel with the AVX-512 micro-kernel [`micro_u64_avx512`].
    ///
    /// # Safety
    /// The CPU must support AVX-512F and AVX-512DQ.
    #[target_feature(enable = "avx512f,avx512dq")]
    pub(super) unsafe fn gemm_u64_avx512(
        a: &[u64],
        b: &[u64],
        c: &mut [u64],
        m: usize,
        k: usize,
        n: usize,
    ) {
        // SAFETY: this function may only run on a CPU with AVX-512F/DQ (its own contract).
        let micro = |ap: &[u64], bp: &[u64]| unsafe { micro_u64_avx512(ap, bp) };
        super::gemm_blocked::<u64, AVX512_MR, 8>(a, b, c, m, k, n, micro);
    }

    /// The `AVX512_MR × 8` register tile: one zmm of B per step, `vpmullq` (AVX-512DQ's
    /// native 64-bit wrapping multiply) against each broadcast element of A, `vpaddq` into
    /// one accumulator per row.
    ///
    /// `apack` is `kc × AVX512_MR` and `bstrip` is `kc × 8` (packed, see `gemm_blocked`).
    ///
    /// # Safety
    /// The CPU must support AVX-512F and AVX-512DQ.
    #[target_feature(enable = "avx512f,avx512dq")]
    unsafe fn micro_u64_avx512(apack: &[u64], bstrip: &[u64]) -> [[u64; 8]; AVX512_MR] {
        let mut acc = [_mm512_setzero_si512(); AVX512_MR];
        for (a_col, b_row) in apack.chunks_exact(AVX512_MR).zip(bstrip.chunks_exact(8)) {
            // SAFETY: `b_row` is exactly 8 u64s (64 bytes); `loadu` needs no alignment.
            let b = unsafe { _mm512_loadu_si512(b_row.as_ptr().cast()) };
            for (acc_r, &a_r) in acc.iter_mut().zip(a_col) {
                let prod = _mm512_mullo_epi64(_mm512_set1_epi64(a_r as i64), b);
                *acc_r = _mm512_add_epi64(*acc_r, prod);
            }
        }
        let mut tile = [[0u64; 8]; AVX512_MR];
        for (tile_r, acc_r) in tile.iter_mut().zip(acc) {
            // SAFETY: `tile_r` is exactly 8 u64s (64 bytes); `storeu` needs no alignment.
            unsafe { _mm512_storeu_si512(tile_r.as_mut_ptr().cast(), acc_r) };
        }
        tile
    }

    /// The blocked kernel with the AVX2 micro-kernel [`micro_u64_avx2`].
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn gemm_u64_avx2(
        a: &[u64],
        b: &[u64],
        c: &mut [u64],
        m: usize,
        k: usize,
        n: usize,
    ) {
        // SAFETY: this function may only run on a CPU with AVX2 (its own contract).
        let micro = |ap: &[u64], bp: &[u64]| unsafe { micro_u64_avx2(ap, bp) };
        super::gemm_blocked::<u64, AVX2_MR, 4>(a, b, c, m, k, n, micro);
    }

    /// AVX2 has no 64-bit lane multiply, so the `AVX2_MR × 4` tile is split as
    /// `a·b ≡ lo(a)·lo(b) + 2^32·(lo(a)·hi(b) + hi(a)·lo(b))  (mod 2^64)`:
    /// `vpmuludq` gives the first product exactly, and a single `vpmulld` of `a` against `b`
    /// with its 32-bit halves swapped gives both cross products mod 2^32 (all that matters
    /// after the shift). The two parts are accumulated separately over the whole panel depth
    /// and combined once at the end: 2 multiplies + 2 adds per 4 multiply-adds.
    ///
    /// `apack` is `kc × AVX2_MR` and `bstrip` is `kc × 4` (packed, see `gemm_blocked`).
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    unsafe fn micro_u64_avx2(apack: &[u64], bstrip: &[u64]) -> [[u64; 4]; AVX2_MR] {
        const SWAP_HALVES: i32 = 0b10_11_00_01;
        let mut lo = [_mm256_setzero_si256(); AVX2_MR];
        let mut cross = [_mm256_setzero_si256(); AVX2_MR];
        for (a_col, b_row) in apack.chunks_exact(AVX2_MR).zip(bstrip.chunks_exact(4)) {
            // SAFETY: `b_row` is exactly 4 u64s (32 bytes); `loadu` needs no alignment.
            let b = unsafe { _mm256_loadu_si256(b_row.as_ptr().cast()) };
            let b_swapped = _mm256_shuffle_epi32::<SWAP_HALVES>(b);
            for r in 0..AVX2_MR {
                let a = _mm256_set1_epi64x(a_col[r] as i64);
                lo[r] = _mm256_add_epi64(lo[r], _mm256_mul_epu32(a, b));
                cross[r] = _mm256_add_epi32(cross[r], _mm256_mullo_epi32(a, b_swapped));
            }
        }
        let mut tile = [[0u64; 4]; AVX2_MR];
        for r in 0..AVX2_MR {
            // Both 32-bit halves of each lane now hold the sum of the two cross terms.
            let x = _mm256_add_epi32(cross[r], _mm256_shuffle_epi32::<SWAP_HALVES>(cross[r]));
            let v = _mm256_add_epi64(lo[r], _mm256_slli_epi64::<32>(x));
            // SAFETY: `tile[r]` is exactly 4 u64s (32 bytes); `storeu` needs no alignment.
            unsafe { _mm256_storeu_si256(tile[r].as_mut_ptr().cast(), v) };
        }
        tile
    }
}

/// Views `&[R]` as `&[u64]` when `R` is `u64` (the specialisation hook for the fast path).
fn as_u64<R: Ring>(s: &[R]) -> Option<&[u64]> {
    if TypeId::of::<R>() == TypeId::of::<u64>() {
        // SAFETY: the TypeIds are equal, so `R` *is* `u64`: pointer, length, alignment and
        // validity of `s` are exactly those of a `&[u64]` with the same lifetime.
        Some(unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<u64>(), s.len()) })
    } else {
        None
    }
}

/// Views `&mut [R]` as `&mut [u64]` when `R` is `u64`.
fn as_u64_mut<R: Ring>(s: &mut [R]) -> Option<&mut [u64]> {
    if TypeId::of::<R>() == TypeId::of::<u64>() {
        // SAFETY: as in `as_u64`; the unique borrow of `s` moves into the returned slice.
        Some(unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast::<u64>(), s.len()) })
    } else {
        None
    }
}

/// `C += A · B`, GotoBLAS style, with `micro` computing one `MR × NR` register tile.
///
/// Loop order (outer to inner): `NC`-wide column panels of B; `KC`-deep panels, where the
/// `KC × NC` block of B is packed into `NR`-wide strips (it stays in L2); `MR`-row strips of A,
/// packed `kc × MR` (it stays in L1); the strips of the B panel; then `micro`, which reads both
/// packs strictly sequentially. Ragged edges are zero-padded in the packs and only the valid
/// part of the tile is added to C. `#[inline(always)]` so each `target_feature` wrapper gets its
/// own copy compiled for its instruction set.
#[inline(always)]
fn gemm_blocked<R: Ring, const MR: usize, const NR: usize>(
    a: &[R],
    b: &[R],
    c: &mut [R],
    m: usize,
    k: usize,
    n: usize,
    micro: impl Fn(&[R], &[R]) -> [[R; NR]; MR],
) {
    assert!(a.len() == m * k && b.len() == k * n && c.len() == m * n);
    if m == 0 || k == 0 || n == 0 {
        return;
    }
    let kc_max = KC.min(k);
    let mut b_pack = vec![R::zero(); kc_max * NC.min(n).div_ceil(NR) * NR];
    let mut a_pack = vec![R::zero(); kc_max * MR];
    for jc in (0..n).step_by(NC) {
        let nc = NC.min(n - jc);
        for pc in (0..k).step_by(KC) {
            let kc = KC.min(k - pc);
            let b_panel = &mut b_pack[..nc.div_ceil(NR) * kc * NR];
            pack_b::<R, NR>(b, n, pc, kc, jc, nc, b_panel);
            let a_strip = &mut a_pack[..kc * MR];
            for i0 in (0..m).step_by(MR) {
                let rows = MR.min(m - i0);
                pack_a::<R, MR>(a, k, i0, rows, pc, a_strip);
                for (s, b_strip) in b_panel.chunks_exact(kc * NR).enumerate() {
                    let j0 = jc + s * NR;
                    let width = NR.min(jc + nc - j0);
                    let tile = micro(a_strip, b_strip);
                    for (r, tile_row) in tile.iter().enumerate().take(rows) {
                        let c_row = &mut c[(i0 + r) * n + j0..][..width];
                        for (c_ij, &t) in c_row.iter_mut().zip(tile_row) {
                            *c_ij = c_ij.add(t);
                        }
                    }
                }
            }
        }
    }
}

/// Packs `B[pc..pc+kc, jc..jc+nc]` into `NR`-wide strips, each `kc × NR` contiguous and
/// zero-padded on the right.
#[inline(always)]
fn pack_b<R: Ring, const NR: usize>(
    b: &[R],
    n: usize,
    pc: usize,
    kc: usize,
    jc: usize,
    nc: usize,
    out: &mut [R],
) {
    for (s, strip) in out.chunks_exact_mut(kc * NR).enumerate() {
        let j0 = jc + s * NR;
        let width = NR.min(jc + nc - j0);
        for (p, dst) in strip.chunks_exact_mut(NR).enumerate() {
            dst[..width].copy_from_slice(&b[(pc + p) * n + j0..][..width]);
            dst[width..].fill(R::zero());
        }
    }
}

/// Packs `A[i0..i0+rows, pc..pc+kc]` column by column into `out` (`kc × MR`, with
/// `kc = out.len() / MR`), zero-filling rows `rows..MR`.
#[inline(always)]
fn pack_a<R: Ring, const MR: usize>(
    a: &[R],
    k: usize,
    i0: usize,
    rows: usize,
    pc: usize,
    out: &mut [R],
) {
    let kc = out.len() / MR;
    for r in 0..MR {
        if r < rows {
            let src = &a[(i0 + r) * k + pc..][..kc];
            for (dst, &v) in out[r..].iter_mut().step_by(MR).zip(src) {
                *dst = v;
            }
        } else {
            out[r..].iter_mut().step_by(MR).for_each(|d| *d = R::zero());
        }
    }
}

/// The portable register tile: `tile[r][j] = Σ_p a_pack[p][r] · b_strip[p][j]`, with
/// `a_pack` packed `kc × MR` and `b_strip` packed `kc × NR`.
#[inline(always)]
fn micro_kernel<R: Ring, const MR: usize, const NR: usize>(
    a_pack: &[R],
    b_strip: &[R],
) -> [[R; NR]; MR] {
    let mut acc = [[R::zero(); NR]; MR];
    for (a_col, b_row) in a_pack.chunks_exact(MR).zip(b_strip.chunks_exact(NR)) {
        for (acc_row, &a_rp) in acc.iter_mut().zip(a_col) {
            for (acc_rj, &b_pj) in acc_row.iter_mut().zip(b_row) {
                *acc_rj = acc_rj.add(a_rp.mul(b_pj));
            }
        }
    }
    acc
}

/// Output height and width of a 2-D convolution of an `h × w` image with a `kh × kw` kernel,
/// the given stride and symmetric zero padding: `((h + 2·pad − kh)/stride + 1, …)`.
///
/// Returns `None` when the kernel does not fit in the padded input, or when `stride` or a
/// kernel dimension is zero.
pub fn conv2d_output_hw(
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    stride: usize,
    pad: usize,
) -> Option<(usize, usize)> {
    if stride == 0 || kh == 0 || kw == 0 {
        return None;
    }
    let pad2 = pad.checked_mul(2)?;
    let ph = h.checked_add(pad2)?.checked_sub(kh)?;
    let pw = w.checked_add(pad2)?.checked_sub(kw)?;
    Some((ph / stride + 1, pw / stride + 1))
}

/// Unfolds an NCHW tensor `x` (shape `n × c × h × w`) into the patch matrix of a
/// `kh × kw` convolution with the given stride and zero padding.
///
/// Returns `(matrix, rows, cols)` with `rows = c·kh·kw` and `cols = n·oh·ow` (row-major).
/// Row `(ci·kh + ki)·kw + kj` and column `(b·oh + oy)·ow + ox` hold
/// `x[b, ci, oy·stride + ki − pad, ox·stride + kj − pad]` (zero outside the image), so a
/// weight matrix `out_c × (c·kh·kw)` times this matrix is the convolution as an
/// `out_c × (n·oh·ow)` matrix; see [`conv2d`] for the reorder to NCHW.
///
/// # Panics
/// If `x.len() != n·c·h·w` or [`conv2d_output_hw`] returns `None`.
#[allow(clippy::too_many_arguments)]
pub fn im2col<R: Ring>(
    x: &[R],
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    stride: usize,
    pad: usize,
) -> (Vec<R>, usize, usize) {
    assert_eq!(
        x.len(),
        n * c * h * w,
        "im2col: input is not {n}×{c}×{h}×{w}"
    );
    let (oh, ow) = conv2d_output_hw(h, w, kh, kw, stride, pad).unwrap_or_else(|| {
        panic!("im2col: {kh}×{kw} kernel (stride {stride}, pad {pad}) does not fit {h}×{w}")
    });
    let rows = c * kh * kw;
    let cols = n * oh * ow;
    let mut out = vec![R::zero(); rows * cols];
    if cols == 0 {
        return (out, rows, cols);
    }
    for (row, dst_row) in out.chunks_exact_mut(cols).enumerate() {
        let (ci, ki, kj) = (row / (kh * kw), (row / kw) % kh, row % kw);
        for (b, dst_img) in dst_row.chunks_exact_mut(oh * ow).enumerate() {
            let plane = &x[(b * c + ci) * h * w..][..h * w];
            for (oy, dst) in dst_img.chunks_exact_mut(ow).enumerate() {
                let Some(iy) = (oy * stride + ki).checked_sub(pad).filter(|&iy| iy < h) else {
                    continue; // padding row: stays zero
                };
                let src = &plane[iy * w..][..w];
                for (ox, d) in dst.iter_mut().enumerate() {
                    if let Some(&v) = (ox * stride + kj)
                        .checked_sub(pad)
                        .and_then(|ix| src.get(ix))
                    {
                        *d = v;
                    }
                }
            }
        }
    }
    (out, rows, cols)
}

/// Panics unless the shapes and buffer lengths of a convolution agree; returns `(oh, ow)`.
fn check_conv_dims(
    x_len: usize,
    xs: [usize; 4],
    w_len: usize,
    ws: [usize; 4],
    s: usize,
    p: usize,
) -> (usize, usize) {
    let [n, c, h, w] = xs;
    let [oc, ic, kh, kw] = ws;
    assert_eq!(x_len, n * c * h * w, "conv2d: input is not {xs:?}");
    assert_eq!(w_len, oc * ic * kh * kw, "conv2d: weights are not {ws:?}");
    assert_eq!(c, ic, "conv2d: input has {c} channels, weights expect {ic}");
    conv2d_output_hw(h, w, kh, kw, s, p).unwrap_or_else(|| {
        panic!("conv2d: {kh}×{kw} kernel (stride {s}, pad {p}) does not fit {h}×{w}")
    })
}

/// 2-D convolution (cross-correlation, as in every NN framework) of the NCHW tensor `x`
/// (shape `xshape = [n, c, h, w]`) with weights `w` (shape `wshape = [out_c, c, kh, kw]`),
/// given stride and symmetric zero padding, in the ring `R`.
///
/// Computed as [`im2col`] + [`matmul`] + a reorder to NCHW. Returns the output and its shape
/// `[n, out_c, oh, ow]`.
///
/// # Panics
/// If buffer lengths do not match the shapes, the channel counts differ, or the kernel does
/// not fit (see [`conv2d_output_hw`]).
pub fn conv2d<R: Ring>(
    x: &[R],
    xshape: [usize; 4],
    w: &[R],
    wshape: [usize; 4],
    stride: usize,
    pad: usize,
) -> (Vec<R>, [usize; 4]) {
    let (oh, ow) = check_conv_dims(x.len(), xshape, w.len(), wshape, stride, pad);
    let [n, c, h, wd] = xshape;
    let [oc, _, kh, kw] = wshape;
    let (cols, rows, ncols) = im2col(x, n, c, h, wd, kh, kw, stride, pad);
    let y = matmul(w, &cols, oc, rows, ncols); // oc × (n·oh·ow)
    let plane = oh * ow;
    let mut out = vec![R::zero(); n * oc * plane];
    if ncols > 0 {
        // ncols = n·plane > 0, so plane > 0 too.
        for (o, y_row) in y.chunks_exact(ncols).enumerate() {
            for (b, src) in y_row.chunks_exact(plane).enumerate() {
                out[(b * oc + o) * plane..][..plane].copy_from_slice(src);
            }
        }
    }
    (out, [n, oc, oh, ow])
}

/// [`conv2d`] over `f64` by direct loops, for the plaintext shadow computation. Same shapes,
/// layout and panics; each output sums over `(ci, ki, kj)` in lexicographic order.
pub fn conv2d_f64(
    x: &[f64],
    xshape: [usize; 4],
    w: &[f64],
    wshape: [usize; 4],
    stride: usize,
    pad: usize,
) -> (Vec<f64>, [usize; 4]) {
    let (oh, ow) = check_conv_dims(x.len(), xshape, w.len(), wshape, stride, pad);
    let [n, c, h, wd] = xshape;
    let [oc, _, kh, kw] = wshape;
    let mut out = Vec::with_capacity(n * oc * oh * ow);
    for b in 0..n {
        for o in 0..oc {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = 0.0;
                    for ci in 0..c {
                        let plane = &x[(b * c + ci) * h * wd..][..h * wd];
                        let kern = &w[(o * c + ci) * kh * kw..][..kh * kw];
                        for ki in 0..kh {
                            let Some(iy) = (oy * stride + ki).checked_sub(pad).filter(|&iy| iy < h)
                            else {
                                continue;
                            };
                            for kj in 0..kw {
                                if let Some(ix) =
                                    (ox * stride + kj).checked_sub(pad).filter(|&ix| ix < wd)
                                {
                                    acc += plane[iy * wd + ix] * kern[ki * kw + kj];
                                }
                            }
                        }
                    }
                    out.push(acc);
                }
            }
        }
    }
    (out, [n, oc, oh, ow])
}

/// `C = A · B` over `f64` (row-major, `m × k` times `k × n`), for the plaintext shadow
/// computation: ndarray's `dot`, i.e. the `matrixmultiply` crate's cache-blocked, vectorised
/// dgemm (2.3× our own blocked i-k-j loop at 512³ on the AVX2 machine). Deterministic: one
/// thread, a fixed summation order for a given shape and CPU.
///
/// # Panics
/// If `a.len() != m * k` or `b.len() != k * n`.
pub fn matmul_f64(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    check_matmul_dims(a.len(), b.len(), m, k, n);
    let av = ndarray::ArrayView2::from_shape((m, k), a).expect("dimensions checked");
    let bv = ndarray::ArrayView2::from_shape((k, n), b).expect("dimensions checked");
    crate::tensor::into_row_major(av.dot(&bv))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::{OddRing, Zp};
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha20Rng;

    fn random_vec<R: Ring>(rng: &mut ChaCha20Rng, len: usize) -> Vec<R> {
        (0..len).map(|_| R::random(rng)).collect()
    }

    /// Fixed edge shapes plus random ones: 1×1, zero dims, non-multiples of MR/NR/KC/NC.
    fn shapes(rng: &mut ChaCha20Rng, random: usize) -> Vec<(usize, usize, usize)> {
        let mut s = vec![
            (1, 1, 1),
            (1, 0, 1),
            (3, 0, 5),
            (0, 4, 3),
            (4, 3, 0),
            (0, 0, 0),
            (1, 7, 1),
            (7, 1, 9),
            (4, 4, 4),
            (8, 8, 8),
            (5, 9, 13),
            (9, 257, 3),
            (3, 300, 133),
            (13, 31, 129),
            (17, 258, 140),
        ];
        s.extend((0..random).map(|_| {
            (
                rng.gen_range(1..40),
                rng.gen_range(0..70),
                rng.gen_range(1..40),
            )
        }));
        s
    }

    fn blocked_matches_naive<R: Ring>(seed: u64, random: usize) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        for (m, k, n) in shapes(&mut rng, random) {
            let a = random_vec::<R>(&mut rng, m * k);
            let b = random_vec::<R>(&mut rng, k * n);
            let fast = matmul(&a, &b, m, k, n);
            assert_eq!(
                fast,
                matmul_naive_ikj(&a, &b, m, k, n),
                "{} {m}×{k}×{n}",
                R::NAME
            );
            if k == 0 {
                assert!(fast.iter().all(|&v| v == R::zero()));
            }
        }
    }

    #[test]
    fn kernels_matmul_u64_matches_naive() {
        blocked_matches_naive::<u64>(1, 60);
    }

    #[test]
    fn kernels_matmul_u128_matches_naive() {
        blocked_matches_naive::<u128>(2, 40);
    }

    #[test]
    fn kernels_matmul_odd_ring_matches_naive() {
        blocked_matches_naive::<OddRing>(3, 40);
    }

    #[test]
    fn kernels_matmul_zp_matches_naive() {
        blocked_matches_naive::<Zp>(4, 40);
    }

    type U64Gemm = fn(&[u64], &[u64], &mut [u64], usize, usize, usize);

    /// Every u64 kernel build this CPU can run (not just the one `matmul` picks).
    fn u64_builds() -> Vec<(&'static str, U64Gemm)> {
        #[allow(unused_mut)]
        let mut builds: Vec<(&'static str, U64Gemm)> = vec![("portable", gemm_portable::<u64>)];
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        {
            if is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 was just detected.
                builds.push(("avx2", |a, b, c, m, k, n| unsafe {
                    x86::gemm_u64_avx2(a, b, c, m, k, n)
                }));
            }
            if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512dq") {
                // SAFETY: AVX-512F and AVX-512DQ were just detected.
                builds.push(("avx512", |a, b, c, m, k, n| unsafe {
                    x86::gemm_u64_avx512(a, b, c, m, k, n)
                }));
            }
        }
        builds
    }

    #[test]
    fn kernels_every_u64_build_matches_naive() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let builds = u64_builds();
        assert!(builds.iter().any(|(name, _)| *name == matmul_u64_path()));
        for (m, k, n) in shapes(&mut rng, 40) {
            let a = random_vec::<u64>(&mut rng, m * k);
            let b = random_vec::<u64>(&mut rng, k * n);
            let want = matmul_naive_ikj(&a, &b, m, k, n);
            for (name, gemm) in &builds {
                let mut c = vec![0u64; m * n];
                gemm(&a, &b, &mut c, m, k, n);
                assert_eq!(c, want, "{name} {m}×{k}×{n}");
            }
        }
    }

    #[test]
    fn kernels_matmul_f64_matches_ring_on_small_integers() {
        let mut rng = ChaCha20Rng::seed_from_u64(6);
        for (m, k, n) in shapes(&mut rng, 20) {
            let ai: Vec<i64> = (0..m * k).map(|_| rng.gen_range(-9..=9)).collect();
            let bi: Vec<i64> = (0..k * n).map(|_| rng.gen_range(-9..=9)).collect();
            let ring = matmul(&to_ring::<u64>(&ai), &to_ring::<u64>(&bi), m, k, n);
            let float = matmul_f64(&to_f64(&ai), &to_f64(&bi), m, k, n);
            let ring: Vec<f64> = ring.iter().map(|v| v.to_i128() as f64).collect();
            assert_eq!(ring, float, "{m}×{k}×{n}");
        }
    }

    #[test]
    #[should_panic(expected = "matmul: A has")]
    fn kernels_matmul_rejects_bad_shape() {
        matmul(&[1u64, 2, 3], &[1u64, 2], 2, 2, 1);
    }

    fn to_ring<R: Ring>(v: &[i64]) -> Vec<R> {
        v.iter().map(|&x| R::from_i128(x as i128)).collect()
    }

    fn to_f64(v: &[i64]) -> Vec<f64> {
        v.iter().map(|&x| x as f64).collect()
    }

    /// The direct 6-loop convolution (plus the batch loop), written independently of im2col.
    fn naive_conv<R: Ring>(
        x: &[R],
        xs: [usize; 4],
        w: &[R],
        ws: [usize; 4],
        s: usize,
        p: usize,
    ) -> Vec<R> {
        let [n, c, h, wd] = xs;
        let [oc, _, kh, kw] = ws;
        let oh = (h + 2 * p - kh) / s + 1;
        let ow = (wd + 2 * p - kw) / s + 1;
        let mut out = vec![R::zero(); n * oc * oh * ow];
        for b in 0..n {
            for o in 0..oc {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut acc = R::zero();
                        for ci in 0..c {
                            for ki in 0..kh {
                                for kj in 0..kw {
                                    let iy = (oy * s + ki) as isize - p as isize;
                                    let ix = (ox * s + kj) as isize - p as isize;
                                    if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                        continue;
                                    }
                                    let xv = x[((b * c + ci) * h + iy as usize) * wd + ix as usize];
                                    let wv = w[((o * c + ci) * kh + ki) * kw + kj];
                                    acc = acc.add(xv.mul(wv));
                                }
                            }
                        }
                        out[((b * oc + o) * oh + oy) * ow + ox] = acc;
                    }
                }
            }
        }
        out
    }

    /// Random conv problems with stride 1/2 and pad 0/1/2 that fit.
    fn conv_cases(
        rng: &mut ChaCha20Rng,
        count: usize,
    ) -> Vec<([usize; 4], [usize; 4], usize, usize)> {
        let mut cases = vec![
            ([1, 1, 1, 1], [1, 1, 1, 1], 1, 0),
            ([1, 1, 1, 1], [2, 1, 3, 3], 1, 1),
            ([2, 3, 5, 4], [4, 3, 5, 4], 1, 0),
            ([1, 2, 7, 7], [3, 2, 3, 3], 2, 2),
            ([0, 2, 5, 5], [3, 2, 3, 3], 1, 1),
        ];
        while cases.len() < count {
            let (s, p) = (rng.gen_range(1..=2), rng.gen_range(0..=2));
            let xs = [
                rng.gen_range(1..=3),
                rng.gen_range(1..=4),
                rng.gen_range(1..=9),
                rng.gen_range(1..=9),
            ];
            let ws = [
                rng.gen_range(1..=5),
                xs[1],
                rng.gen_range(1..=4),
                rng.gen_range(1..=4),
            ];
            if conv2d_output_hw(xs[2], xs[3], ws[2], ws[3], s, p).is_some() {
                cases.push((xs, ws, s, p));
            }
        }
        cases
    }

    #[test]
    fn kernels_conv2d_u64_matches_naive_convolution() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let mut seen = std::collections::HashSet::new();
        for (xs, ws, s, p) in conv_cases(&mut rng, 120) {
            seen.insert((s, p));
            let x = random_vec::<u64>(&mut rng, xs.iter().product());
            let w = random_vec::<u64>(&mut rng, ws.iter().product());
            let (y, ys) = conv2d(&x, xs, &w, ws, s, p);
            let (oh, ow) = conv2d_output_hw(xs[2], xs[3], ws[2], ws[3], s, p).unwrap();
            assert_eq!(ys, [xs[0], ws[0], oh, ow]);
            assert_eq!(
                y,
                naive_conv(&x, xs, &w, ws, s, p),
                "x {xs:?} w {ws:?} stride {s} pad {p}"
            );
        }
        for s in 1..=2 {
            for p in 0..=2 {
                assert!(seen.contains(&(s, p)), "stride {s} pad {p} not covered");
            }
        }
    }

    #[test]
    fn kernels_conv2d_other_rings_match_naive_convolution() {
        let mut rng = ChaCha20Rng::seed_from_u64(8);
        for (xs, ws, s, p) in conv_cases(&mut rng, 25) {
            let x = random_vec::<OddRing>(&mut rng, xs.iter().product());
            let w = random_vec::<OddRing>(&mut rng, ws.iter().product());
            assert_eq!(
                conv2d(&x, xs, &w, ws, s, p).0,
                naive_conv(&x, xs, &w, ws, s, p)
            );
            let x = random_vec::<Zp>(&mut rng, xs.iter().product());
            let w = random_vec::<Zp>(&mut rng, ws.iter().product());
            assert_eq!(
                conv2d(&x, xs, &w, ws, s, p).0,
                naive_conv(&x, xs, &w, ws, s, p)
            );
        }
    }

    #[test]
    fn kernels_conv2d_f64_matches_ring_on_small_integers() {
        let mut rng = ChaCha20Rng::seed_from_u64(9);
        for (xs, ws, s, p) in conv_cases(&mut rng, 60) {
            let xi: Vec<i64> = (0..xs.iter().product())
                .map(|_| rng.gen_range(-8..=8))
                .collect();
            let wi: Vec<i64> = (0..ws.iter().product())
                .map(|_| rng.gen_range(-8..=8))
                .collect();
            let (ring, rs) = conv2d(&to_ring::<u64>(&xi), xs, &to_ring::<u64>(&wi), ws, s, p);
            let (float, fs) = conv2d_f64(&to_f64(&xi), xs, &to_f64(&wi), ws, s, p);
            assert_eq!(rs, fs);
            let ring: Vec<f64> = ring.iter().map(|v| v.to_i128() as f64).collect();
            assert_eq!(ring, float, "x {xs:?} w {ws:?} stride {s} pad {p}");
        }
    }

    #[test]
    fn kernels_im2col_layout() {
        // 1×1×3×3 image 1..=9, 2×2 kernel, stride 1, no padding: 4 rows × 4 columns.
        let x: Vec<u64> = (1..=9).collect();
        let (m, rows, cols) = im2col(&x, 1, 1, 3, 3, 2, 2, 1, 0);
        assert_eq!((rows, cols), (4, 4));
        #[rustfmt::skip]
        assert_eq!(m, vec![
            1, 2, 4, 5, // (ki, kj) = (0, 0) at each of the 4 output positions
            2, 3, 5, 6, // (0, 1)
            4, 5, 7, 8, // (1, 0)
            5, 6, 8, 9, // (1, 1)
        ]);
        // Padding 1 with a 1×1 kernel and stride 2: corners of the padded 5×5 are zero.
        let (m, rows, cols) = im2col(&x, 1, 1, 3, 3, 1, 1, 2, 1);
        assert_eq!((rows, cols), (1, 9));
        assert_eq!(m, vec![0, 0, 0, 0, 5, 0, 0, 0, 0]);
    }

    #[test]
    fn kernels_conv2d_output_hw_edges() {
        assert_eq!(conv2d_output_hw(5, 5, 3, 3, 1, 0), Some((3, 3)));
        assert_eq!(conv2d_output_hw(5, 6, 3, 3, 2, 1), Some((3, 3)));
        assert_eq!(conv2d_output_hw(2, 2, 3, 3, 1, 0), None);
        assert_eq!(conv2d_output_hw(2, 2, 3, 3, 1, 1), Some((2, 2)));
        assert_eq!(conv2d_output_hw(5, 5, 3, 3, 0, 0), None);
        assert_eq!(conv2d_output_hw(5, 5, 0, 3, 1, 0), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn kernels_prop_matmul_u64_matches_naive(m in 0usize..24, k in 0usize..40, n in 0usize..24, seed: u64) {
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            let a = random_vec::<u64>(&mut rng, m * k);
            let b = random_vec::<u64>(&mut rng, k * n);
            prop_assert_eq!(matmul(&a, &b, m, k, n), matmul_naive_ikj(&a, &b, m, k, n));
        }
    }
}
