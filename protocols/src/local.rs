//! The local, linear, shape-changing ops every protocol applies to each of its shares (and to a
//! public value) alike: `Slice` and `Pad`. They move elements and add zeros, so applying them to
//! every share of an additive or replicated sharing gives a sharing of the result; no protocol
//! needs its own kernel, only a match arm that maps [`apply`] over what it holds.

use crate::program::Op;
use crate::ring::Ring;
use crate::tensor::Tensor;
use ndarray::{Axis, IxDyn};

/// Whether `op` is one of this module's ops.
pub fn handles(op: &Op) -> bool {
    matches!(op, Op::Slice { .. } | Op::Pad { .. })
}

/// `op` (a [`handles`] op, shapes validated by [`crate::program::infer_shape`]) applied to one
/// share or public value `t`. Any other op returns `t` unchanged.
pub fn apply<R: Ring>(op: &Op, t: &Tensor<R>) -> Tensor<R> {
    apply_with(op, t, R::zero())
}

/// [`apply`] over any element type, padding with `zero`: the shares' rings and the plaintext
/// shadow's f64 (`program::eval_f64`) move elements the same way.
pub fn apply_with<T: Clone>(op: &Op, t: &ndarray::ArrayD<T>, zero: T) -> ndarray::ArrayD<T> {
    match op {
        Op::Slice {
            axis, start, end, ..
        } => t
            .slice_axis(Axis(*axis), ndarray::Slice::from(*start..*end))
            .to_owned(),
        Op::Pad {
            axis,
            before,
            after,
            ..
        } => {
            let mut shape = t.shape().to_vec();
            let len = shape[*axis];
            shape[*axis] = len + before + after;
            let mut out = ndarray::ArrayD::from_elem(IxDyn(&shape), zero);
            out.slice_axis_mut(Axis(*axis), ndarray::Slice::from(*before..*before + len))
                .assign(t);
            out
        }
        _ => t.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_then_pad_puts_the_elements_back_with_zeros_around() {
        let t = Tensor::from_shape_vec(IxDyn(&[2, 3]), vec![1u64, 2, 3, 4, 5, 6]).unwrap();
        let s = apply(
            &Op::Slice {
                input: "x".into(),
                axis: 1,
                start: 1,
                end: 3,
            },
            &t,
        );
        assert_eq!(s.iter().copied().collect::<Vec<_>>(), vec![2, 3, 5, 6]);
        let p = apply(
            &Op::Pad {
                input: "x".into(),
                axis: 1,
                before: 1,
                after: 0,
            },
            &s,
        );
        assert_eq!(
            p.iter().copied().collect::<Vec<_>>(),
            vec![0, 2, 3, 0, 5, 6]
        );
    }
}
