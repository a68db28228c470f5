//! Ring tensors: n-dimensional arrays of ring elements with ring arithmetic.
//!
//! A tensor is an [`ndarray::ArrayD`] of a [`Ring`] element type. The functions here do the ring
//! arithmetic (wrapping for Z_2^k), PRG expansion and the wire encoding.

use crate::error::{ProtocolError, Result};
use crate::ring::Ring;
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
    let shape = a.shape().to_vec();
    let bv = b
        .broadcast(IxDyn(&shape))
        .ok_or_else(|| ProtocolError::Shape {
            op: "elementwise".into(),
            detail: format!("{:?} does not broadcast to {:?}", b.shape(), shape),
        })?;
    Zip::from(a).and(&bv).for_each(|o, &y| *o = o.add(y));
    Ok(())
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

/// Expands a 32-byte seed into a random tensor (the PRG of seeded shares: ChaCha12, the
/// `rand` crate's standard generator).
pub fn expand_seed<R: Ring>(seed: &[u8; 32], shape: &[usize]) -> Tensor<R> {
    let mut prg = Prg::from_seed(*seed);
    random(shape, &mut prg)
}

/// The pseudo-random generator that expands 32-byte seeds (ChaCha with 12 rounds).
pub type Prg = rand_chacha::ChaCha12Rng;

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
