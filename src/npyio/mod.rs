//! Batch files: `.npy` (a directory of four) and `.npz`, as numpy writes them, memory-mapped so a
//! batch larger than RAM still runs and only the touched pages are read; and the `RESULT.npz`
//! writers, which write a file whole or not at all. This file reads one `.npy` array;
//! `batch_file.rs` opens a batch (a directory or an `.npz`), `write.rs` writes.

use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

use memmap2::Mmap;

use crate::batch::{Floats, Ints};
use crate::error::{Error, Result};

mod batch_file;
mod write;
pub use batch_file::BatchFile;
pub use write::{NpzValues, write_batch_dir, write_npz, write_result_npz, write_tree_batch_dir};

/// The four arrays of a batch, in file order.
pub const BATCH_ARRAYS: [&str; 4] = [
    "draft_probs",
    "target_probs",
    "draft_tokens",
    "random_coins",
];

/// Element types specsim reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    /// `<f4`
    F32,
    /// `<f8`
    F64,
    /// `<i4`
    I32,
    /// `<i8`
    I64,
    /// `<u4`
    U32,
}

impl Dtype {
    fn size(self) -> usize {
        match self {
            Dtype::F32 | Dtype::I32 | Dtype::U32 => 4,
            Dtype::F64 | Dtype::I64 => 8,
        }
    }
}

/// A parser's multi-line message as one line: its first line, then its last (the parser's own
/// summary, e.g. "expected value"), trimmed.
fn one_line(e: &dyn std::fmt::Display) -> String {
    let text = e.to_string();
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.trim().trim_start_matches('=').trim())
        .filter(|l| !l.is_empty() && !l.chars().all(|c| "|^-> ".contains(c)))
        .collect();
    match lines.as_slice() {
        [] => text,
        [one] => one.to_string(),
        [first, .., last] => format!("{first} ({last})"),
    }
}

/// Refuses a header whose declared length runs past the end of the bytes, before the parser
/// allocates a buffer of that length (a 100-byte file declaring a 4 GiB header made it allocate
/// 4 GiB; found by fuzzing).
/// Returns where the header ends (0 when the bytes are not an `.npy` prefix: the parser names
/// what is wrong).
fn check_header_length(bytes: &[u8], origin: &str) -> Result<usize> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Ok(0);
    }
    let (declared, prefix) = if bytes[6] == 1 {
        (u16::from_le_bytes([bytes[8], bytes[9]]) as u64, 10)
    } else if bytes.len() >= 12 {
        (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as u64,
            12,
        )
    } else {
        return Ok(0);
    };
    let have = bytes.len() as u64;
    if prefix + declared > have {
        return Err(Error::format(
            origin,
            format!(
                "not a valid .npy file: its header declares {declared} bytes, the file holds {have} in all"
            ),
        ));
    }
    // The parser of the header's Python literal backtracks exponentially in bracket nesting (a
    // 150-byte header of 21 nested brackets ran for minutes; found by fuzzing). numpy's headers
    // nest a few levels at most.
    let header = &bytes[prefix as usize..(prefix + declared) as usize];
    let (mut depth, mut deepest) = (0i32, 0i32);
    for &b in header {
        match b {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            _ => {}
        }
        deepest = deepest.max(depth);
    }
    if deepest > MAX_HEADER_NESTING {
        return Err(Error::format(
            origin,
            format!(
                "not a valid .npy file: its header nests brackets {deepest} deep (numpy's nest at most a few)"
            ),
        ));
    }
    Ok((prefix + declared) as usize)
}

/// How deep a `.npy` header's brackets may nest (see [`check_header_length`]).
const MAX_HEADER_NESTING: i32 = 8;

/// One `.npy` array whose data is read in place from a memory map.
pub struct NpyArray {
    map: Arc<Mmap>,
    start: usize,
    end: usize,
    /// Element type.
    pub dtype: Dtype,
    /// Shape.
    pub shape: Vec<usize>,
    /// Where it came from (for error messages).
    pub origin: String,
}

impl NpyArray {
    /// Parses the `.npy` bytes `[start, end)` of `storage`.
    pub(crate) fn parse(
        map: Arc<Mmap>,
        start: usize,
        end: usize,
        origin: String,
    ) -> Result<NpyArray> {
        let bytes = &map[start..end];
        let header_end = check_header_length(bytes, &origin)?;
        // numpy accepts newlines inside the header's dict (its literal_eval does); the parser
        // here does not: parse a copy with them as spaces (same length, same data offset).
        let mut head = bytes[..header_end.min(bytes.len())].to_vec();
        if let Some((_, inner)) = head.split_last_mut() {
            for b in inner.iter_mut().skip(10) {
                if *b == b'\n' || *b == b'\r' {
                    *b = b' ';
                }
            }
        }
        let mut cur = Cursor::new(if head.is_empty() { bytes } else { &head[..] });
        let header = npyz::NpyHeader::from_reader(&mut cur).map_err(|e| {
            Error::format(&origin, format!("not a valid .npy file: {}", one_line(&e)))
        })?;
        let offset = cur.position() as usize;
        if header.order() == npyz::Order::Fortran {
            return Err(Error::format(
                &origin,
                "array is in Fortran order; save it C-contiguous (np.ascontiguousarray)",
            ));
        }
        let descr = match header.dtype() {
            npyz::DType::Plain(ts) => ts.to_string(),
            other => other.descr().to_string(),
        };
        let dtype = match descr.as_str() {
            "<f4" => Dtype::F32,
            "<f8" => Dtype::F64,
            "<i4" => Dtype::I32,
            "<i8" => Dtype::I64,
            "<u4" => Dtype::U32,
            d => {
                return Err(Error::format(
                    &origin,
                    format!(
                        "dtype {d} is not supported (probabilities and coins: little-endian float32 '<f4' or float64 '<f8'; tokens: int32, int64 or uint32)"
                    ),
                ));
            }
        };
        let shape: Vec<usize> = header.shape().iter().map(|&d| d as usize).collect();
        let need = shape
            .iter()
            .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| Error::format(&origin, format!("shape {shape:?} is too large")))?;
        let have = bytes.len() - offset;
        if have < need {
            return Err(Error::format(
                &origin,
                format!(
                    "file is truncated: shape {shape:?} of {descr} needs {need} bytes of data, the file holds {have}"
                ),
            ));
        }
        Ok(NpyArray {
            map,
            start: start + offset,
            end: start + offset + need,
            dtype,
            shape,
            origin,
        })
    }

    /// Parses `.npy` bytes held in memory (copied into an anonymous map): for tests and fuzzing
    /// of the header parser.
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<NpyArray> {
        let mut m =
            memmap2::MmapMut::map_anon(bytes.len().max(1)).map_err(|e| Error::io(origin, e))?;
        m[..bytes.len()].copy_from_slice(bytes);
        let map = m.make_read_only().map_err(|e| Error::io(origin, e))?;
        NpyArray::parse(Arc::new(map), 0, bytes.len(), origin.to_string())
    }

    /// Memory-maps and parses one `.npy` file.
    pub fn open(path: &Path) -> Result<NpyArray> {
        let file = open_regular(path, "an .npy file")?;
        // SAFETY: the map is read-only; like numpy's mmap_mode='r', a file changed by another
        // process while specsim runs gives unspecified values (never memory unsafety in the
        // bounds-checked readers).
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        let len = map.len();
        NpyArray::parse(Arc::new(map), 0, len, path.display().to_string())
    }

    /// The raw little-endian data bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.map[self.start..self.end]
    }

    /// The values of a float array (an error naming the array for any other dtype).
    pub fn float_values(&self) -> Result<Floats<'_>> {
        self.floats()
    }

    pub(crate) fn floats(&self) -> Result<Floats<'_>> {
        match self.dtype {
            Dtype::F32 => Ok(Floats::F32(self.bytes())),
            Dtype::F64 => Ok(Floats::F64(self.bytes())),
            d => Err(Error::format(
                &self.origin,
                format!("dtype {d:?} found where float32 or float64 was expected"),
            )),
        }
    }

    fn ints(&self) -> Result<Ints<'_>> {
        match self.dtype {
            Dtype::I32 => Ok(Ints::I32(self.bytes())),
            Dtype::I64 => Ok(Ints::I64(self.bytes())),
            Dtype::U32 => Ok(Ints::U32(self.bytes())),
            d => Err(Error::format(
                &self.origin,
                format!("dtype {d:?} found where int32, int64 or uint32 token ids were expected"),
            )),
        }
    }
}

pub use crate::files::open_regular;
