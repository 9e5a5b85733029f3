//! Opening input files safely: what is not a regular file (a FIFO that would block forever, a
//! device that never ends, a directory) is refused before it is opened, and text inputs are read
//! up to a bound, so a wrong path gives a clear error, never a hang or unbounded memory.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// Opens an input file, refusing what is not a regular file before opening it. `expected` names
/// what should be there ("an .npy file").
pub fn open_regular(path: &Path, expected: &str) -> Result<File> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let kind = meta.file_type();
    let what = if kind.is_file() {
        None
    } else if kind.is_dir() {
        Some("a directory")
    } else {
        use std::os::unix::fs::FileTypeExt;
        Some(if kind.is_fifo() {
            "a FIFO (named pipe)"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        })
    };
    if let Some(what) = what {
        return Err(Error::format(
            path.display().to_string(),
            format!("is {what}, where {expected} was expected"),
        ));
    }
    File::open(path).map_err(|e| Error::io(path, e))
}

/// Reads a regular UTF-8 text file of at most `limit` bytes (the bound is checked while reading,
/// so a file that grows, or lies about its size, cannot make it read more).
pub fn read_text(path: &Path, expected: &str, limit: u64) -> Result<String> {
    let file = open_regular(path, expected)?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(Error::format(
            path.display().to_string(),
            format!("is larger than {limit} bytes, more than {expected} can be"),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        Error::format(
            path.display().to_string(),
            format!("is not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_devices_directories_and_oversized_files() {
        let e = read_text(Path::new("/dev/zero"), "a tree", 1 << 20).unwrap_err();
        assert!(e.to_string().contains("is a device"), "{e}");
        let e = read_text(Path::new("/tmp"), "a tree", 1 << 20).unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
        let dir = std::env::temp_dir().join(format!("specsim-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let big = dir.join("big.json");
        std::fs::write(&big, vec![b' '; 101]).unwrap();
        let e = read_text(&big, "a tree", 100).unwrap_err();
        assert!(e.to_string().contains("larger than 100 bytes"), "{e}");
        assert_eq!(read_text(&big, "a tree", 101).unwrap().len(), 101);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
