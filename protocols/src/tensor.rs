//! Ring tensors: n-dimensional arrays of ring elements with ring arithmetic.
//!
//! A tensor is an [`ndarray::ArrayD`] of a [`Ring`] element type. The functions here do the ring
//! arithmetic (wrapping for Z_2^k), PRG expansion and the wire encoding.

use crate::error::{ProtocolError, Result};
use crate::ring::{Ring, Z2k};
use ndarray::{ArrayD, IxDyn, Zip};
use rand::{RngCore, SeedableRng};

/// An n-dimensional tensor over the ring `R`.
pub type Tensor<R> = ArrayD<R>;

/// Number of elements of a shape, saturating at `usize::MAX` (never wrapping: a shape whose
/// product does not fit then matches no buffer length). Shapes from user input are checked with
/// [`checked_numel`] first.
pub fn numel(shape: &[usize]) -> usize {
    checked_numel(shape).unwrap_or(usize::MAX)
}

/// Number of elements of a shape, or `None` if the product does not fit in `usize`.
pub fn checked_numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
}

/// The shape `a` and `b` broadcast to (NumPy rules), or `None` if they are incompatible.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

fn zip_with<R: Ring>(a: &Tensor<R>, b: &Tensor<R>, f: impl Fn(R, R) -> R) -> Result<Tensor<R>> {
    if a.shape() == b.shape() {
        if let (Some(x), Some(y)) = (a.as_slice(), b.as_slice()) {
            // Both row-major: one pass writing the result once (no copy of `a` to update).
            let v: Vec<R> = x.iter().zip(y).map(|(&x, &y)| f(x, y)).collect();
            return Ok(ArrayD::from_shape_vec(a.raw_dim(), v).expect("same length"));
        }
        let mut out = a.clone();
        Zip::from(&mut out).and(b).for_each(|o, &y| *o = f(*o, y));
        return Ok(out);
    }
    let shape = broadcast_shape(a.shape(), b.shape()).ok_or_else(|| ProtocolError::Shape {
        op: "elementwise".into(),
        detail: format!("{:?} and {:?} do not broadcast", a.shape(), b.shape()),
    })?;
    let av = a.broadcast(IxDyn(&shape)).expect("checked broadcast");
    let bv = b.broadcast(IxDyn(&shape)).expect("checked broadcast");
    let mut out = av.to_owned();
    Zip::from(&mut out).and(&bv).for_each(|o, &y| *o = f(*o, y));
    Ok(out)
}

/// Elementwise `a + b` with broadcasting.
pub fn add<R: Ring>(a: &Tensor<R>, b: &Tensor<R>) -> Result<Tensor<R>> {
    zip_with(a, b, R::add)
}

/// `a += b` in place; `b` must broadcast to `a`'s shape.
pub fn add_assign<R: Ring>(a: &mut Tensor<R>, b: &Tensor<R>) -> Result<()> {
    zip_assign(a, b, R::add)
}

/// `a = f(a, b)` elementwise, in place; `b` must broadcast to `a`'s shape.
fn zip_assign<R: Ring>(a: &mut Tensor<R>, b: &Tensor<R>, f: impl Fn(R, R) -> R) -> Result<()> {
    if a.shape() == b.shape() {
        if let (Some(x), Some(y)) = (a.as_slice_mut(), b.as_slice()) {
            x.iter_mut().zip(y).for_each(|(o, &y)| *o = f(*o, y));
            return Ok(());
        }
    }
    let shape = a.shape().to_vec();
    let bv = b
        .broadcast(IxDyn(&shape))
        .ok_or_else(|| ProtocolError::Shape {
            op: "elementwise".into(),
            detail: format!("{:?} does not broadcast to {:?}", b.shape(), shape),
        })?;
    Zip::from(a).and(&bv).for_each(|o, &y| *o = f(*o, y));
    Ok(())
}

/// `a -= b` in place; `b` must broadcast to `a`'s shape.
pub fn sub_assign<R: Ring>(a: &mut Tensor<R>, b: &Tensor<R>) -> Result<()> {
    zip_assign(a, b, R::sub)
}

/// `a = b - a` in place (the reversed difference); `b` must broadcast to `a`'s shape.
pub fn rsub_assign<R: Ring>(a: &mut Tensor<R>, b: &Tensor<R>) -> Result<()> {
    zip_assign(a, b, |x, y| y.sub(x))
}

/// Elementwise `a - b` with broadcasting.
pub fn sub<R: Ring>(a: &Tensor<R>, b: &Tensor<R>) -> Result<Tensor<R>> {
    zip_with(a, b, R::sub)
}

/// Elementwise `a * b` with broadcasting.
pub fn mul<R: Ring>(a: &Tensor<R>, b: &Tensor<R>) -> Result<Tensor<R>> {
    zip_with(a, b, R::mul)
}

/// Elementwise `-a`.
pub fn neg<R: Ring>(a: &Tensor<R>) -> Tensor<R> {
    a.mapv(R::neg)
}

/// Every element multiplied by the scalar `k`.
pub fn scale<R: Ring>(a: &Tensor<R>, k: R) -> Tensor<R> {
    a.mapv(|v| v.mul(k))
}

/// Sums `a` over `axis` (or over everything, giving a 0-d tensor's worth as shape `[1]`).
pub fn reduce_sum<R: Ring>(a: &Tensor<R>, axis: Option<usize>) -> Tensor<R> {
    match axis {
        Some(ax) => a.fold_axis(ndarray::Axis(ax), R::zero(), |acc, &v| acc.add(v)),
        None => {
            let s = a.iter().fold(R::zero(), |acc, &v| acc.add(v));
            ArrayD::from_elem(IxDyn(&[1]), s)
        }
    }
}

/// The elements of `a` in row-major order, without copying when it is already laid out so.
pub fn into_row_major<T: Clone, D: ndarray::Dimension>(a: ndarray::Array<T, D>) -> Vec<T> {
    if a.is_standard_layout() {
        a.into_raw_vec_and_offset().0
    } else {
        a.iter().cloned().collect()
    }
}

/// A tensor of zeros.
pub fn zeros<R: Ring>(shape: &[usize]) -> Tensor<R> {
    ArrayD::from_elem(IxDyn(shape), R::zero())
}

/// A tensor of uniformly random ring elements drawn from `rng`.
pub fn random<R: Ring, G: RngCore + ?Sized>(shape: &[usize], rng: &mut G) -> Tensor<R> {
    let v = R::random_vec(numel(shape), rng);
    ArrayD::from_shape_vec(IxDyn(shape), v).expect("shape matches length")
}

/// Elements a streamed computation handles at a time (a piece of PRG output, of a message's
/// encoding): 8 kB of Z_2^64, so the piece stays in L1 while it is used.
pub const PIECE: usize = 1024;

/// A zeroed scratch piece for a streamed pass over `n` elements: [`PIECE`] elements, or `n` if
/// fewer, so that a small tensor (a scalar in a chain of products) does not zero a whole piece.
pub fn piece_buf<R: Ring>(n: usize) -> Vec<R> {
    vec![R::zero(); n.min(PIECE)]
}

/// `a = f(a, r)` elementwise in place, `r` the elements [`random`] would draw from `rng` for
/// `a`'s shape, in row-major order — drawn a [`PIECE`] at a time instead of as a whole tensor.
/// The rings Z_2^k draw pieces of a stream exactly as one whole (see [`crate::ring::Z2k`]).
pub fn zip_random_assign<R: Z2k, G: RngCore + ?Sized>(
    a: &mut Tensor<R>,
    rng: &mut G,
    f: impl Fn(R, R) -> R,
) {
    match a.as_slice_mut() {
        Some(x) => {
            let mut piece = piece_buf::<R>(x.len());
            for chunk in x.chunks_mut(PIECE) {
                let r = &mut piece[..chunk.len()];
                R::random_fill(r, rng);
                chunk
                    .iter_mut()
                    .zip(r.iter())
                    .for_each(|(o, &r)| *o = f(*o, r));
            }
        }
        None => {
            let r: Tensor<R> = random(a.shape(), rng);
            Zip::from(a).and(&r).for_each(|o, &r| *o = f(*o, r));
        }
    }
}

/// `f(a, r)` elementwise into a new tensor, `r` the elements [`random`] would draw from `rng`
/// for `a`'s shape (drawn a [`PIECE`] at a time): the same elements as `zip_random_assign` on
/// a copy of `a`, written once.
pub fn zip_random<R: Z2k, G: RngCore + ?Sized>(
    a: &Tensor<R>,
    rng: &mut G,
    f: impl Fn(R, R) -> R,
) -> Tensor<R> {
    let Some(x) = a.as_slice() else {
        let mut out = a.clone();
        zip_random_assign(&mut out, rng, f);
        return out;
    };
    let mut out = Vec::with_capacity(x.len());
    let mut piece = piece_buf::<R>(x.len());
    for chunk in x.chunks(PIECE) {
        let r = &mut piece[..chunk.len()];
        R::random_fill(r, rng);
        out.extend(chunk.iter().zip(r.iter()).map(|(&x, &r)| f(x, r)));
    }
    ArrayD::from_shape_vec(a.raw_dim(), out).expect("same length")
}

/// Advances `prg` past `n` elements of `R` without drawing them: where drawing [`random`] of
/// `n` elements would leave it (Z_2^k reads exactly [`Ring::BYTES`] bytes of the stream per
/// element, [`crate::ring::Z2k`]).
pub fn skip_random<R: Z2k>(prg: &mut Prg, n: usize) {
    prg.skip((n as u64).saturating_mul(R::BYTES as u64))
}

/// `a -= PRG output` in place: the same elements as `sub(a, &random(a.shape(), rng))`.
pub fn sub_random_assign<R: Z2k, G: RngCore + ?Sized>(a: &mut Tensor<R>, rng: &mut G) {
    zip_random_assign(a, rng, R::sub)
}

/// `a += PRG output` in place: the same elements as `add(a, &random(a.shape(), rng))`.
pub fn add_random_assign<R: Z2k, G: RngCore + ?Sized>(a: &mut Tensor<R>, rng: &mut G) {
    zip_random_assign(a, rng, R::add)
}

/// Expands a 32-byte seed into a random tensor (the PRG of seeded shares: AES-128-CTR,
/// [`crate::prg`]).
pub fn expand_seed<R: Ring>(seed: &[u8; 32], shape: &[usize]) -> Tensor<R> {
    let mut prg = Prg::from_seed(*seed);
    random(shape, &mut prg)
}

/// The pseudo-random generator that expands 32-byte seeds: AES-128 in counter mode
/// ([`crate::prg::AesCtrPrg`]; until session 20 it was ChaCha12).
pub type Prg = crate::prg::AesCtrPrg;

/// Draws a fresh 32-byte seed from `rng`.
pub fn fresh_seed<G: RngCore + ?Sized>(rng: &mut G) -> [u8; 32] {
    let mut s = [0u8; 32];
    rng.fill_bytes(&mut s);
    s
}

/// Wire encoding of a tensor: its elements in row-major order, [`Ring::BYTES`] each, no header
/// (the receiver knows the shape from the protocol).
pub fn encode<R: Ring>(a: &Tensor<R>) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(a, &mut out);
    out
}

/// Appends the wire encoding of `a` to `out` (see [`encode`]).
pub fn encode_into<R: Ring>(a: &Tensor<R>, out: &mut Vec<u8>) {
    match a.as_slice() {
        // Row-major and contiguous (nearly always): one bulk loop.
        Some(s) => R::encode_slice(s, out),
        None => {
            out.reserve(a.len() * R::BYTES);
            a.iter().for_each(|v| v.encode(out));
        }
    }
}

/// Decodes a tensor of the given shape; `from` names the sender for the error.
pub fn decode<R: Ring>(bytes: &[u8], shape: &[usize], from: usize) -> Result<Tensor<R>> {
    let n = numel(shape);
    if bytes.len() != n * R::BYTES {
        return Err(ProtocolError::Malformed {
            from,
            expected: n * R::BYTES,
            got: bytes.len(),
        });
    }
    let v: Vec<R> = bytes.chunks_exact(R::BYTES).map(R::decode).collect();
    Ok(ArrayD::from_shape_vec(IxDyn(shape), v).expect("shape matches length"))
}

/// `a = f(a, d)` elementwise in place, `d` the tensor of `a`'s shape that [`decode`] would
/// read from `bytes` (no decoded tensor is built); `from` names the sender for the error.
pub fn decode_zip_assign<R: Ring>(
    a: &mut Tensor<R>,
    bytes: &[u8],
    from: usize,
    f: impl Fn(R, R) -> R,
) -> Result<()> {
    if bytes.len() != a.len() * R::BYTES {
        return Err(ProtocolError::Malformed {
            from,
            expected: a.len() * R::BYTES,
            got: bytes.len(),
        });
    }
    let words = bytes.chunks_exact(R::BYTES);
    match a.as_slice_mut() {
        Some(x) => x
            .iter_mut()
            .zip(words)
            .for_each(|(o, w)| *o = f(*o, R::decode(w))),
        // Logical (row-major) order, as the encoding is.
        None => a
            .iter_mut()
            .zip(words)
            .for_each(|(o, w)| *o = f(*o, R::decode(w))),
    }
    Ok(())
}

/// `a += decode(bytes)` in place (see [`decode_zip_assign`]).
pub fn decode_add_assign<R: Ring>(a: &mut Tensor<R>, bytes: &[u8], from: usize) -> Result<()> {
    decode_zip_assign(a, bytes, from, R::add)
}

/// Decodes a 32-byte seed.
pub fn decode_seed(bytes: &[u8], from: usize) -> Result<[u8; 32]> {
    bytes.try_into().map_err(|_| ProtocolError::Malformed {
        from,
        expected: 32,
        got: bytes.len(),
    })
}

/// Matrix product of two 2-D tensors over the ring (fast kernel).
pub fn matmul<R: Ring>(a: &Tensor<R>, b: &Tensor<R>) -> Result<Tensor<R>> {
    let (sa, sb) = (a.shape(), b.shape());
    if sa.len() != 2 || sb.len() != 2 || sa[1] != sb[0] {
        return Err(ProtocolError::Shape {
            op: "matmul".into(),
            detail: format!("{sa:?} · {sb:?}"),
        });
    }
    let (m, k, n) = (sa[0], sa[1], sb[1]);
    let (a, b) = (a.as_standard_layout(), b.as_standard_layout());
    let (av, bv) = (
        a.as_slice().expect("standard layout"),
        b.as_slice().expect("standard layout"),
    );
    let c = crate::kernels::matmul(av, bv, m, k, n);
    Ok(ArrayD::from_shape_vec(IxDyn(&[m, n]), c).expect("m·n elements"))
}

/// `c += a · b` in place for 2-D tensors over the ring (the fast kernel, no buffer for the
/// product): the same elements as `add_assign(c, &matmul(a, b)?)`.
pub fn matmul_acc<R: Ring>(a: &Tensor<R>, b: &Tensor<R>, c: &mut Tensor<R>) -> Result<()> {
    let (sa, sb) = (a.shape(), b.shape());
    if sa.len() != 2 || sb.len() != 2 || sa[1] != sb[0] || c.shape() != [sa[0], sb[1]] {
        return Err(ProtocolError::Shape {
            op: "matmul".into(),
            detail: format!("{sa:?} · {sb:?} into {:?}", c.shape()),
        });
    }
    let (m, k, n) = (sa[0], sa[1], sb[1]);
    let (a, b) = (a.as_standard_layout(), b.as_standard_layout());
    let (av, bv) = (
        a.as_slice().expect("standard layout"),
        b.as_slice().expect("standard layout"),
    );
    match c.as_slice_mut() {
        Some(cv) => crate::kernels::matmul_acc(av, bv, cv, m, k, n),
        None => {
            let p = crate::kernels::matmul(av, bv, m, k, n);
            c.iter_mut().zip(p).for_each(|(o, v)| *o = o.add(v));
        }
    }
    Ok(())
}

/// NCHW 2-D convolution of `x` with filters `w` (out_c, in_c, kh, kw) over the ring.
pub fn conv2d<R: Ring>(
    x: &Tensor<R>,
    w: &Tensor<R>,
    stride: usize,
    pad: usize,
) -> Result<Tensor<R>> {
    let (sx, sw) = (x.shape(), w.shape());
    if sx.len() != 4 || sw.len() != 4 || sx[1] != sw[1] {
        return Err(ProtocolError::Shape {
            op: "conv2d".into(),
            detail: format!("input {sx:?} filters {sw:?}"),
        });
    }
    let xv: Vec<R> = x.iter().copied().collect();
    let wv: Vec<R> = w.iter().copied().collect();
    let (out, shape) = crate::kernels::conv2d(
        &xv,
        [sx[0], sx[1], sx[2], sx[3]],
        &wv,
        [sw[0], sw[1], sw[2], sw[3]],
        stride,
        pad,
    );
    Ok(ArrayD::from_shape_vec(IxDyn(&shape), out).expect("conv output shape"))
}

/// Reshapes (row-major) keeping every element.
pub fn reshape<R: Ring>(a: &Tensor<R>, shape: &[usize]) -> Result<Tensor<R>> {
    if numel(shape) != a.len() {
        return Err(ProtocolError::Shape {
            op: "reshape".into(),
            detail: format!(
                "{:?} has {} elements, {:?} needs {}",
                a.shape(),
                a.len(),
                shape,
                numel(shape)
            ),
        });
    }
    let v: Vec<R> = a.iter().copied().collect();
    Ok(ArrayD::from_shape_vec(IxDyn(shape), v).expect("checked size"))
}

/// Reverses the axes (a matrix transpose for 2-D tensors), as a standard-layout copy.
pub fn transpose<R: Ring>(a: &Tensor<R>) -> Tensor<R> {
    a.t().as_standard_layout().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Message;
    use rand::SeedableRng;

    /// Lengths around the streaming piece's boundaries.
    const LENGTHS: [usize; 6] = [0, 1, PIECE - 1, PIECE, PIECE + 1, 3 * PIECE + 17];

    fn ramp<R: Ring>(n: usize) -> Tensor<R> {
        let v = (0..n as u64)
            .map(|i| R::from_u64(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
            .collect();
        ArrayD::from_shape_vec(IxDyn(&[n]), v).unwrap()
    }

    fn streamed_prg_equals_whole<R: Z2k>() {
        for n in LENGTHS {
            let a = ramp::<R>(n);
            let whole: Tensor<R> = random(&[n], &mut Prg::seed_from_u64(n as u64));
            let mut got = a.clone();
            let mut prg = Prg::seed_from_u64(n as u64);
            sub_random_assign(&mut got, &mut prg);
            assert_eq!(got, sub(&a, &whole).unwrap(), "n = {n}");
            // The stream continues where one whole draw would have left it.
            assert_eq!(R::random(&mut prg), {
                let mut p = Prg::seed_from_u64(n as u64);
                let _: Tensor<R> = random(&[n], &mut p);
                R::random(&mut p)
            });
            let mut got = a.clone();
            add_random_assign(&mut got, &mut Prg::seed_from_u64(n as u64));
            assert_eq!(got, add(&a, &whole).unwrap(), "n = {n}");
        }
        // A transposed (not row-major) tensor: element [i, j] gets the stream's element for
        // its own position, as `sub` of a random tensor of the same shape pairs them.
        let a = reshape(&ramp::<R>(6 * 5), &[6, 5]).unwrap().reversed_axes();
        assert!(a.as_slice().is_none());
        let whole: Tensor<R> = random(a.shape(), &mut Prg::seed_from_u64(9));
        let mut got = a.clone();
        sub_random_assign(&mut got, &mut Prg::seed_from_u64(9));
        assert_eq!(got, sub(&a, &whole).unwrap());
    }

    #[test]
    fn streamed_prg_expansion_draws_what_a_whole_tensor_draws() {
        streamed_prg_equals_whole::<u64>();
        streamed_prg_equals_whole::<u128>();
    }

    #[test]
    fn skipping_elements_leaves_the_stream_where_drawing_them_does() {
        fn check<R: Z2k>() {
            for n in LENGTHS {
                let mut drawn = Prg::seed_from_u64(5);
                let _: Tensor<R> = random(&[n], &mut drawn);
                let mut skipped = Prg::seed_from_u64(5);
                skip_random::<R>(&mut skipped, n);
                assert_eq!(R::random(&mut skipped), R::random(&mut drawn), "n = {n}");
            }
        }
        check::<u64>();
        check::<u128>();
    }

    #[test]
    fn random_fill_gives_the_elements_of_random_vec() {
        fn check<R: Ring>() {
            for n in LENGTHS {
                let mut out = vec![R::zero(); n];
                R::random_fill(&mut out, &mut Prg::seed_from_u64(3));
                assert_eq!(out, R::random_vec(n, &mut Prg::seed_from_u64(3)));
            }
        }
        check::<u64>();
        check::<u128>();
        check::<crate::ring::OddRing>();
        check::<crate::ring::Zp>();
    }

    #[test]
    fn decoding_in_place_equals_decoding_then_combining() {
        fn check<R: Ring>() {
            for n in LENGTHS {
                let (a, b) = (ramp::<R>(n), neg(&ramp::<R>(n)).mapv(|v| v.add(R::one())));
                let bytes = encode(&b);
                let mut got = a.clone();
                decode_add_assign(&mut got, &bytes, 1).unwrap();
                assert_eq!(got, add(&a, &decode(&bytes, &[n], 1).unwrap()).unwrap());
                let mut got = a.clone();
                decode_zip_assign(&mut got, &bytes, 1, |x, y| x.sub(y)).unwrap();
                assert_eq!(got, sub(&a, &b).unwrap());
            }
            // A wrong length is the same error decoding gives.
            let mut a = ramp::<R>(4);
            let bytes = encode(&ramp::<R>(3));
            assert_eq!(
                decode_add_assign(&mut a, &bytes, 2).unwrap_err(),
                decode::<R>(&bytes, &[4], 2).unwrap_err()
            );
        }
        check::<u64>();
        check::<u128>();
        check::<crate::ring::Zp>();
    }

    #[test]
    fn a_computed_message_is_the_message_of_the_tensor() {
        for n in LENGTHS {
            let t = ramp::<u64>(n);
            let xs = t.as_slice().unwrap();
            let computed = Message::default()
                .and(&ramp::<u128>(2))
                .and_computed(&[n], |at, piece: &mut [u64]| {
                    piece.copy_from_slice(&xs[at..at + piece.len()])
                });
            assert_eq!(computed, Message::default().and(&ramp::<u128>(2)).and(&t));
        }
    }

    #[test]
    fn in_place_arithmetic_equals_the_allocating_one() {
        let a = reshape(&ramp::<u64>(12), &[3, 4]).unwrap();
        let b = reshape(&ramp::<u64>(12).mapv(|v| v ^ 0xff), &[3, 4]).unwrap();
        let row = ramp::<u64>(4);
        for (x, y) in [(&a, &b), (&a, &row)] {
            let mut got = x.clone();
            add_assign(&mut got, y).unwrap();
            assert_eq!(got, add(x, y).unwrap());
            let mut got = x.clone();
            sub_assign(&mut got, y).unwrap();
            assert_eq!(got, sub(x, y).unwrap());
            let mut got = x.clone();
            rsub_assign(&mut got, y).unwrap();
            assert_eq!(got, neg(&sub(x, y).unwrap()));
        }
        // Transposed operands take the general path and agree.
        let t = transpose(&a).reversed_axes();
        assert!(t.as_slice().is_none());
        assert_eq!(add(&t, &b).unwrap(), add(&a, &b).unwrap());
        let mut got = t.clone();
        sub_assign(&mut got, &b).unwrap();
        assert_eq!(got, sub(&a, &b).unwrap());
        assert!(add_assign(&mut a.clone(), &ramp::<u64>(3)).is_err());
    }

    #[test]
    fn accumulating_matmul_equals_adding_the_product() {
        let a = reshape(&ramp::<u64>(5 * 7), &[5, 7]).unwrap();
        let b = reshape(&ramp::<u64>(7 * 3), &[7, 3]).unwrap();
        let c = reshape(&ramp::<u64>(5 * 3), &[5, 3]).unwrap();
        let mut got = c.clone();
        matmul_acc(&a, &b, &mut got).unwrap();
        assert_eq!(got, add(&c, &matmul(&a, &b).unwrap()).unwrap());
        // Z_2^128 takes the portable kernel.
        let a128 = a.mapv(|v| v as u128 * 3);
        let mut got = c.mapv(|v| v as u128);
        matmul_acc(&a128, &b.mapv(|v| v as u128), &mut got).unwrap();
        let want = add(
            &c.mapv(|v| v as u128),
            &matmul(&a128, &b.mapv(|v| v as u128)).unwrap(),
        )
        .unwrap();
        assert_eq!(got, want);
        assert!(matmul_acc(&a, &b, &mut zeros(&[5, 4])).is_err());
    }
}
