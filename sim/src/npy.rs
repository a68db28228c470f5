//! A reader for NumPy `.npy` files (format versions 1–3; f64, f32, i64, i32, u8, i8; C order).
//!
//! Nothing in a file is trusted: the header is parsed as the Python literal it is (a dict of a
//! string, a bool and a tuple of integers), at most [`MAX_HEADER_BYTES`] long; the element count
//! is a checked product; only regular files are opened, the file's length must be exactly what
//! the header promises, and reads never go past it.

use crate::files;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// The longest header accepted, in bytes (NumPy writes a few hundred; its own reader refuses
/// more than 10 000 unless told otherwise).
pub const MAX_HEADER_BYTES: usize = 65_536;

/// A loaded array: its shape and values as f64.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// Shape from the header.
    pub shape: Vec<usize>,
    /// Values in row-major order.
    pub values: Vec<f64>,
}

/// The element types read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// `<f8`, float64.
    F64,
    /// `<f4`, float32.
    F32,
    /// `<i8`, int64.
    I64,
    /// `<i4`, int32.
    I32,
    /// `|u1`, uint8.
    U8,
    /// `|i1`, int8.
    I8,
}

impl Dtype {
    fn from_descr(d: &str) -> Result<Dtype, String> {
        Ok(match d {
            "<f8" => Dtype::F64,
            "<f4" => Dtype::F32,
            "<i8" => Dtype::I64,
            "<i4" => Dtype::I32,
            "|u1" | "<u1" => Dtype::U8,
            "|i1" | "<i1" => Dtype::I8,
            other => {
                return Err(format!(
                    "unsupported dtype `{}` (use little-endian float64, float32, int64, int32, uint8 or int8)",
                    other.escape_debug()
                ))
            }
        })
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::F64 | Dtype::I64 => 8,
            Dtype::F32 | Dtype::I32 => 4,
            Dtype::U8 | Dtype::I8 => 1,
        }
    }

    fn decode(self, b: &[u8]) -> f64 {
        let a = |n: usize| -> [u8; 8] {
            let mut w = [0u8; 8];
            w[..n].copy_from_slice(&b[..n]);
            w
        };
        match self {
            Dtype::F64 => f64::from_le_bytes(a(8)),
            Dtype::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
            Dtype::I64 => i64::from_le_bytes(a(8)) as f64,
            Dtype::I32 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
            Dtype::U8 => b[0] as f64,
            Dtype::I8 => b[0] as i8 as f64,
        }
    }
}

/// What the header of an `.npy` file says.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyHeader {
    /// The array's shape.
    pub shape: Vec<usize>,
    /// Its element type.
    pub dtype: Dtype,
    /// Number of elements (the product of `shape`, checked).
    pub len: usize,
    /// Bytes of data that follow the header (`len` · element size, checked).
    pub data_bytes: u64,
    /// Where the data starts: magic, version, header length and header.
    pub data_offset: u64,
}

/// A value of the header's Python literal.
#[derive(Debug, Clone, PartialEq)]
enum Lit {
    Str(String),
    Bool(bool),
    Int(String),
    Tuple(Vec<Lit>),
}

/// A parser of the Python literals `.npy` headers are written in: `{'key': value, ...}` with
/// string, `True` / `False`, integer and tuple values.
struct LitParser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

impl LitParser<'_> {
    fn skip_ws(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8, what: &str) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!(
                "malformed .npy header: expected `{}` {what}",
                c as char
            ))
        }
    }

    fn value(&mut self) -> Result<Lit, String> {
        self.skip_ws();
        match self.s.get(self.i) {
            Some(&q @ (b'\'' | b'"')) => {
                self.i += 1;
                let start = self.i;
                while self.s.get(self.i).is_some_and(|&c| c != q && c != b'\\') {
                    self.i += 1;
                }
                if self.s.get(self.i) != Some(&q) {
                    return Err("malformed .npy header: an unterminated string".into());
                }
                let text = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                self.i += 1;
                Ok(Lit::Str(text))
            }
            Some(b'(') => {
                self.depth += 1;
                if self.depth > 4 {
                    return Err("malformed .npy header: tuples nested too deeply".into());
                }
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    if self.eat(b')') {
                        break;
                    }
                    items.push(self.value()?);
                    if !self.eat(b',') {
                        self.expect(b')', "to close the tuple")?;
                        break;
                    }
                }
                self.depth -= 1;
                Ok(Lit::Tuple(items))
            }
            Some(c) if c.is_ascii_alphanumeric() => {
                let start = self.i;
                while self
                    .s
                    .get(self.i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                {
                    self.i += 1;
                }
                let word = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
                match word {
                    "True" => Ok(Lit::Bool(true)),
                    "False" => Ok(Lit::Bool(false)),
                    // Python 2 wrote long integers with an `L`.
                    w if w.trim_end_matches('L').bytes().all(|c| c.is_ascii_digit())
                        && !w.trim_end_matches('L').is_empty() =>
                    {
                        Ok(Lit::Int(w.trim_end_matches('L').to_string()))
                    }
                    w => Err(format!(
                        "malformed .npy header: unexpected `{}`",
                        w.escape_debug()
                    )),
                }
            }
            Some(_) => {
                let rest = String::from_utf8_lossy(&self.s[self.i..]);
                let shown: String = rest.chars().take(12).collect();
                Err(format!(
                    "malformed .npy header: unexpected `{}`",
                    shown.escape_debug()
                ))
            }
            None => Err("malformed .npy header: it ends in the middle of a value".into()),
        }
    }

    /// The whole header: one dict, then only whitespace.
    fn dict(&mut self) -> Result<Vec<(String, Lit)>, String> {
        self.expect(b'{', "at the start of the header")?;
        let mut out: Vec<(String, Lit)> = Vec::new();
        loop {
            if self.eat(b'}') {
                break;
            }
            let Lit::Str(key) = self.value()? else {
                return Err("malformed .npy header: a key that is not a string".into());
            };
            self.expect(b':', &format!("after '{}'", key.escape_debug()))?;
            let v = self.value()?;
            if out.iter().any(|(k, _)| *k == key) {
                return Err(format!(
                    "malformed .npy header: '{}' is given twice",
                    key.escape_debug()
                ));
            }
            out.push((key, v));
            if !self.eat(b',') {
                self.expect(b'}', "to close the header")?;
                break;
            }
        }
        self.skip_ws();
        if self.i != self.s.len() {
            return Err("malformed .npy header: text after the closing `}`".into());
        }
        Ok(out)
    }
}

/// The 10- or 12-byte preamble: (header length, where the header starts).
fn preamble(bytes: &[u8]) -> Result<(usize, usize), String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("not a .npy file (missing the \\x93NUMPY magic)".into());
    }
    let (hlen, hstart) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err("truncated .npy header".into());
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => return Err(format!("unsupported .npy format version {v}")),
    };
    if hlen > MAX_HEADER_BYTES {
        return Err(format!(
            "the .npy header claims {hlen} bytes, more than the {MAX_HEADER_BYTES} accepted"
        ));
    }
    Ok((hlen, hstart))
}

/// Parses the header of an `.npy` file from the file's first bytes (at least the whole header).
pub fn parse_header(bytes: &[u8]) -> Result<NpyHeader, String> {
    let (hlen, hstart) = preamble(bytes)?;
    let text = bytes
        .get(hstart..hstart + hlen)
        .ok_or("truncated .npy header")?;
    let text = std::str::from_utf8(text).map_err(|_| "the .npy header is not text")?;
    let dict = LitParser {
        s: text.as_bytes(),
        i: 0,
        depth: 0,
    }
    .dict()?;
    let get = |key: &str| {
        dict.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .ok_or(format!("the .npy header lacks '{key}'"))
    };
    let dtype =
        match get("descr")? {
            Lit::Str(d) => Dtype::from_descr(d)?,
            _ => return Err(
                "the .npy header's 'descr' is not a string (structured dtypes are not supported)"
                    .into(),
            ),
        };
    match get("fortran_order")? {
        Lit::Bool(false) => {}
        Lit::Bool(true) => {
            return Err(
                "Fortran-order arrays are not supported; save with np.ascontiguousarray".into(),
            )
        }
        _ => return Err("the .npy header's 'fortran_order' is not True or False".into()),
    }
    let Lit::Tuple(dims) = get("shape")? else {
        return Err("the .npy header's 'shape' is not a tuple".into());
    };
    let shape: Vec<usize> = dims
        .iter()
        .map(|d| match d {
            Lit::Int(s) => s
                .parse::<usize>()
                .map_err(|_| format!("shape entry {s} is too large")),
            other => Err(format!("bad shape entry {other:?}")),
        })
        .collect::<Result<_, _>>()?;
    let too_many = || format!("shape {shape:?} has more elements than this machine can address");
    let len = protocols::tensor::checked_numel(&shape).ok_or_else(too_many)?;
    let data_bytes = (len as u64)
        .checked_mul(dtype.size() as u64)
        .ok_or_else(too_many)?;
    Ok(NpyHeader {
        shape,
        dtype,
        len,
        data_bytes,
        data_offset: (hstart + hlen) as u64,
    })
}

/// Parses the bytes of a whole `.npy` file.
pub fn parse_npy(bytes: &[u8]) -> Result<NpyArray, String> {
    let h = parse_header(bytes)?;
    let data = &bytes[h.data_offset as usize..];
    if data.len() as u64 != h.data_bytes {
        return Err(format!(
            "data holds {} bytes but shape {:?} of {:?} needs {}",
            data.len(),
            h.shape,
            h.dtype,
            h.data_bytes
        ));
    }
    Ok(NpyArray {
        values: data
            .chunks_exact(h.dtype.size())
            .map(|b| h.dtype.decode(b))
            .collect(),
        shape: h.shape,
    })
}

/// An opened `.npy` file whose header has been read and checked against the file's length;
/// the data is read on demand, never past what the header promises.
#[derive(Debug)]
pub struct NpyFile {
    /// The header.
    pub header: NpyHeader,
    file: File,
}

impl NpyFile {
    /// Opens a regular file and reads its header. Errors are sentences naming the path.
    pub fn open(path: &Path) -> Result<NpyFile, String> {
        let shown = path.display();
        let (mut file, file_len) =
            files::open_regular(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
        // The preamble, then the header it announces (bounded by MAX_HEADER_BYTES).
        let read = |file: &mut File, n: u64| {
            files::read_exact_len(file, n).map_err(|e| format!("cannot read {shown}: {e}"))
        };
        let mut head = read(&mut file, file_len.min(12))?;
        let (hlen, hstart) = preamble(&head).map_err(|e| format!("{shown}: {e}"))?;
        let end = ((hstart + hlen) as u64).min(file_len);
        if end > head.len() as u64 {
            let more = read(&mut file, end - head.len() as u64)?;
            head.extend(more);
        }
        let header = parse_header(&head).map_err(|e| format!("{shown}: {e}"))?;
        let have = file_len.saturating_sub(header.data_offset);
        if have != header.data_bytes {
            return Err(format!(
                "{shown}: data holds {have} bytes but shape {:?} of {:?} needs {}",
                header.shape, header.dtype, header.data_bytes
            ));
        }
        file.seek(SeekFrom::Start(header.data_offset))
            .map_err(|e| format!("cannot read {shown}: {e}"))?;
        Ok(NpyFile { header, file })
    }

    /// Calls `f` with every value in row-major order, reading the file in bounded chunks (no
    /// buffer of the whole array).
    pub fn for_each(mut self, mut f: impl FnMut(f64)) -> Result<(), String> {
        let size = self.header.dtype.size();
        let mut left = self.header.data_bytes;
        let mut buf = vec![0u8; 1 << 16];
        while left > 0 {
            let chunk = left.min(buf.len() as u64) as usize;
            self.file
                .read_exact(&mut buf[..chunk])
                .map_err(|e| format!("cannot read the data: {e} (did the file change?)"))?;
            buf[..chunk]
                .chunks_exact(size)
                .for_each(|b| f(self.header.dtype.decode(b)));
            left -= chunk as u64;
        }
        Ok(())
    }

    /// Reads every value.
    pub fn read(self) -> Result<NpyArray, String> {
        let mut values = Vec::new();
        values
            .try_reserve_exact(self.header.len)
            .map_err(|_| format!("cannot allocate {} values", self.header.len))?;
        let shape = self.header.shape.clone();
        self.for_each(|v| values.push(v))?;
        Ok(NpyArray { shape, values })
    }
}

/// Reads an `.npy` file (see [`NpyFile`]). Errors are sentences naming what is wrong.
pub fn read_npy(path: &Path) -> Result<NpyArray, String> {
    NpyFile::open(path)?.read()
}

/// Encodes f64 values as an `.npy` file (used by tests and exports).
pub fn write_npy_bytes(shape: &[usize], values: &[f64]) -> Vec<u8> {
    let shape_s = match shape.len() {
        1 => format!("({},)", shape[0]),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape_s}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    for v in values {
        out.extend(v.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// A version-1 file with header text `h` and `data`.
    fn with_header(h: &str, data: &[u8]) -> Vec<u8> {
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((h.len() as u16).to_le_bytes());
        out.extend(h.as_bytes());
        out.extend(data);
        out
    }

    #[test]
    fn npy_round_trips() {
        let bytes = write_npy_bytes(&[2, 3], &[1.0, -2.5, 3.0, 4.0, 5.0, 6.25]);
        let a = parse_npy(&bytes).unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.values, vec![1.0, -2.5, 3.0, 4.0, 5.0, 6.25]);
    }

    #[test]
    fn npy_errors_are_sentences() {
        assert!(parse_npy(b"hello world!").unwrap_err().contains("magic"));
        let mut bytes = write_npy_bytes(&[4], &[1.0, 2.0, 3.0, 4.0]);
        bytes.truncate(bytes.len() - 8);
        assert!(parse_npy(&bytes).unwrap_err().contains("needs"));
    }

    #[test]
    fn headers_numpy_writes_parse() {
        for (h, shape) in [
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
                vec![],
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",
                vec![3],
            ),
            (
                "{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (1, 2)}\n",
                vec![1, 2],
            ),
            (
                "{'shape': (2L, 1L), 'fortran_order': False, 'descr': '<f8'}",
                vec![2, 1],
            ),
        ] {
            let n: usize = shape.iter().product();
            let h =
                parse_npy(&with_header(h, &vec![0; 8 * n])).unwrap_or_else(|e| panic!("{h}: {e}"));
            assert_eq!(h.shape, shape);
        }
    }

    #[test]
    fn malformed_shapes_are_errors_not_panics() {
        for h in [
            "{'descr': '<f8', 'fortran_order': False, 'shape': ), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': é4,), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (é4,), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (4,, }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (-4,), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (((((((1,),),),),),),), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999,), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), 'shape': (4,)}",
            "{'descr': '<f8', 'fortran_order': False}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (4,)} trailing",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (4,)",
            "{'descr': '<f8', 'fortran_order': False, 'shape': '",
            "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (4,)}",
        ] {
            let e = parse_npy(&with_header(h, &[0; 32])).unwrap_err();
            assert!(!e.is_empty(), "{h}");
        }
    }

    #[test]
    fn an_element_count_that_overflows_is_refused() {
        // 2^32 · 2^32 · 2 wraps to 0 elements in 64 bits, which an empty data section matches.
        let h = "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 2), }";
        let e = parse_npy(&with_header(h, &[])).unwrap_err();
        assert!(e.contains("more elements"), "{e}");
        // 2^61 elements fit in usize but not their 2^64 bytes.
        let h = "{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,), }";
        assert!(parse_npy(&with_header(h, &[])).is_err());
    }

    #[test]
    fn a_header_longer_than_the_maximum_is_refused_before_it_is_read() {
        let mut v2 = b"\x93NUMPY\x02\x00".to_vec();
        v2.extend(u32::MAX.to_le_bytes());
        let e = parse_npy(&v2).unwrap_err();
        assert!(e.contains("more than the 65536"), "{e}");
    }

    /// Fuzz-style: many random mutations of valid files (byte flips, insertions of the
    /// characters headers are made of and of multi-byte UTF-8, deletions, truncations) parse or
    /// fail with a sentence; none panics.
    #[test]
    fn mutated_headers_never_panic() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(8);
        let seeds = [
            write_npy_bytes(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
            write_npy_bytes(&[4], &[1.0, 2.0, 3.0, 4.0]),
            with_header(
                "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }",
                &[1, 2, 3, 4],
            ),
        ];
        let pieces: &[&[u8]] = &[
            b"(",
            b")",
            b",",
            b"'",
            b"\"",
            b":",
            b"{",
            b"}",
            b"\\",
            b" ",
            b"\n",
            b"9",
            b"L",
            b"True",
            b"-",
            "é".as_bytes(),
            "€".as_bytes(),
            b"\xff",
            b"\x00",
            b"18446744073709551616",
        ];
        let mut ok = 0;
        for case in 0..20_000 {
            let mut b = seeds[case % seeds.len()].clone();
            for _ in 0..rng.gen_range(1..4) {
                if b.is_empty() {
                    break;
                }
                // Mostly inside the header (bytes 8 .. 10 + header length).
                let at = rng.gen_range(0..b.len().min(80));
                match rng.gen_range(0..4) {
                    0 => b[at] = rng.gen(),
                    1 => {
                        let p = pieces[rng.gen_range(0..pieces.len())];
                        b.splice(at..at, p.iter().copied());
                    }
                    2 => {
                        b.remove(at);
                    }
                    _ => b.truncate(at),
                }
            }
            match std::panic::catch_unwind(|| parse_npy(&b)) {
                Ok(Ok(_)) => ok += 1,
                Ok(Err(e)) => assert!(!e.is_empty()),
                Err(_) => panic!("parse_npy panicked on {:?}", String::from_utf8_lossy(&b)),
            }
        }
        // Some mutations (of padding spaces, say) leave a valid file.
        assert!(ok > 0);
    }
}
