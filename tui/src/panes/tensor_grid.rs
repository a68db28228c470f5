//! Index arithmetic for showing a tensor as matrices: the last two axes are rows and columns,
//! the leading axes are fixed at a chosen index (a slice such as `[n=0, c=1, :, :]`).

/// The names of the axes of an `ndim`-axis tensor: NCHW for images (the program's layout for
/// conv2d and pooling), `i, j` for matrices, `c, h, w` for three axes, `a0, a1, …` beyond.
pub fn axis_names(ndim: usize) -> Vec<String> {
    let named: &[&str] = match ndim {
        2 => &["i", "j"],
        3 => &["c", "h", "w"],
        4 => &["n", "c", "h", "w"],
        _ => &[],
    };
    if named.is_empty() {
        (0..ndim).map(|k| format!("a{k}")).collect()
    } else {
        named.iter().map(|s| s.to_string()).collect()
    }
}

/// Decimal digits of `n`.
pub fn digits(n: usize) -> usize {
    n.max(1).ilog10() as usize + 1
}

/// One matrix of a tensor of two or more axes: the leading axes at fixed indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    /// The sizes of the leading axes.
    pub lead_shape: Vec<usize>,
    /// Their indices (each within its axis).
    pub lead: Vec<usize>,
    /// The leading axis the keys move (an index into `lead`).
    pub axis: usize,
    /// Rows (the second-to-last axis).
    pub rows: usize,
    /// Columns (the last axis).
    pub cols: usize,
    /// The first column asked for.
    col: usize,
    names: Vec<String>,
}

impl Slice {
    /// The slice of a tensor of `shape` (two or more axes) at leading indices `lead` (missing
    /// ones are 0, each clamped to its axis), with leading axis `axis` selected and the columns
    /// from `col` on shown.
    pub fn new(shape: &[usize], lead: &[usize], axis: usize, col: usize) -> Slice {
        let nd = shape.len().max(2);
        let lead_shape: Vec<usize> = shape[..shape.len().saturating_sub(2)].to_vec();
        let lead = lead_shape
            .iter()
            .enumerate()
            .map(|(k, n)| lead.get(k).copied().unwrap_or(0).min(n.saturating_sub(1)))
            .collect();
        Slice {
            axis: axis.min(lead_shape.len().saturating_sub(1)),
            lead_shape,
            lead,
            rows: shape.get(shape.len().wrapping_sub(2)).copied().unwrap_or(1),
            cols: shape.last().copied().unwrap_or(1),
            col,
            names: axis_names(nd),
        }
    }

    /// The flat (row-major) index of the slice's first element.
    pub fn offset(&self) -> usize {
        let mut off = 0;
        for (i, n) in self.lead.iter().zip(&self.lead_shape) {
            off = off * n + i;
        }
        off * self.rows * self.cols
    }

    /// The flat index of element (`r`, `c`) of the slice.
    pub fn flat(&self, r: usize, c: usize) -> usize {
        self.offset() + r * self.cols + c
    }

    /// The rows of the slice holding recorded elements when the first `recorded` elements of
    /// the tensor are recorded.
    pub fn recorded_rows(&self, recorded: usize) -> usize {
        recorded
            .saturating_sub(self.offset())
            .min(self.rows * self.cols)
            .div_ceil(self.cols.max(1))
    }

    /// The first column shown when `visible` columns fit.
    pub fn col0(&self, visible: usize) -> usize {
        self.col.min(self.cols.saturating_sub(visible))
    }

    /// The slice as an index: `[n=0, c=1, :, :]`, the selected leading axis in `‹›` when
    /// `mark` is set.
    pub fn label(&self, mark: bool) -> String {
        let mut parts: Vec<String> = self
            .lead
            .iter()
            .enumerate()
            .map(|(k, i)| {
                if mark && k == self.axis {
                    format!("{}=‹{i}›", self.names[k])
                } else {
                    format!("{}={i}", self.names[k])
                }
            })
            .collect();
        parts.extend([":".to_string(), ":".to_string()]);
        format!("[{}]", parts.join(", "))
    }

    /// The corner of the matrix header: the row and column axes (`h\w`).
    pub fn corner(&self) -> String {
        let nd = self.names.len();
        format!("{}\\{}", self.names[nd - 2], self.names[nd - 1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_index_row_major_and_name_their_axes() {
        let s = Slice::new(&[2, 3, 4, 5], &[1, 2], 1, 0);
        assert_eq!(s.offset(), (3 + 2) * 20);
        assert_eq!(s.flat(1, 2), 100 + 5 + 2);
        assert_eq!(s.label(true), "[n=1, c=‹2›, :, :]");
        assert_eq!(s.corner(), "h\\w");
        // Out-of-range indices are clamped; a matrix has no leading axes.
        let s = Slice::new(&[2, 3, 4, 5], &[9], 7, 0);
        assert_eq!((s.lead.clone(), s.axis), (vec![1, 0], 1));
        let m = Slice::new(&[100, 10], &[], 0, 8);
        assert_eq!(
            (m.label(true), m.corner(), m.offset()),
            ("[:, :]".into(), "i\\j".into(), 0)
        );
        assert_eq!(m.col0(4), 6);
        assert_eq!(m.recorded_rows(256), 26);
        assert_eq!(Slice::new(&[4, 10, 10], &[3], 0, 0).recorded_rows(256), 0);
        assert_eq!(digits(99), 2);
    }
}
