//! Opening the files a scenario names (the scenario itself, `.npy` data) without trusting them:
//! only regular files are opened (a FIFO would block `open` until some writer appears, and
//! `/dev/zero` or a terminal never ends), and every read is bounded by a size known beforehand.

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// What kind of non-regular file `meta` describes, in words ("a directory", "a FIFO (named
/// pipe)", …).
fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
}

/// Opens `path` for reading if it is a regular file (symbolic links are followed), and returns
/// it with its length. The file type is checked before opening, since opening a FIFO blocks
/// until a writer appears; and again on the open handle. Errors are sentences (without the
/// path, which the caller names).
pub fn open_regular(path: &Path) -> Result<(File, u64), std::io::Error> {
    let not_regular = |meta: &std::fs::Metadata| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{}, not a regular file", kind_of(meta)),
        )
    };
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(not_regular(&meta));
    }
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular(&meta));
    }
    Ok((file, meta.len()))
}

/// Reads exactly `len` bytes from `r` (never more, however long the file has grown); an error
/// if it ends early.
pub fn read_exact_len(r: &mut impl Read, len: u64) -> Result<Vec<u8>, std::io::Error> {
    let cap = usize::try_from(len).map_err(|_| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "the file is too large")
    })?;
    let mut out = Vec::new();
    out.try_reserve_exact(cap).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::OutOfMemory,
            format!("cannot allocate {cap} bytes to read the file"),
        )
    })?;
    r.take(len).read_to_end(&mut out)?;
    if out.len() as u64 != len {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!(
                "the file ended after {} of {len} bytes (it changed while being read)",
                out.len()
            ),
        ));
    }
    Ok(out)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn special_files_are_refused_without_opening_them() {
        let e = open_regular(Path::new("/dev/zero")).unwrap_err();
        assert!(e.to_string().contains("character device"), "{e}");
        let e = open_regular(Path::new("/")).unwrap_err();
        assert!(e.to_string().contains("directory"), "{e}");
    }

    #[test]
    fn reads_stop_at_the_promised_length() {
        let mut zero = std::io::repeat(0);
        assert_eq!(read_exact_len(&mut zero, 10).unwrap().len(), 10);
        let mut short: &[u8] = &[1, 2, 3];
        assert!(read_exact_len(&mut short, 4).is_err());
    }
}
