//! Batch files: `.npy` (a directory of four) and `.npz`, as numpy writes them, memory-mapped so a
//! batch larger than RAM still runs and only the touched pages are read; and the `RESULT.npz`
//! writer, which writes a file whole or not at all.

use std::fs::File;
use std::io::{Cursor, Read, Write};
use std::path::Path;
use std::sync::Arc;

use memmap2::Mmap;
use npyz::WriterBuilder;

use crate::batch::{BatchResult, BatchView, Floats, Ints};
use crate::error::{Error, Result};

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
    fn parse(map: Arc<Mmap>, start: usize, end: usize, origin: String) -> Result<NpyArray> {
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

    fn floats(&self) -> Result<Floats<'_>> {
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

/// Opens an input file that will be memory-mapped, refusing what is not a regular file before
/// opening it: a FIFO would block forever, a device or a directory cannot be mapped.
/// `expected` names what should be there ("an .npy file").
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

/// A batch read from disk: four arrays, memory-mapped.
pub struct BatchFile {
    /// draft_probs, target_probs, draft_tokens, random_coins.
    pub arrays: [NpyArray; 4],
    /// A tree batch's `parents` [n] (SPEC §7); `None` for a chain batch.
    pub parents: Option<NpyArray>,
    /// Where it came from.
    pub origin: String,
}

impl BatchFile {
    /// Opens a batch: a directory holding the four `.npy` files, or one `.npz` with those keys.
    pub fn open(path: &Path) -> Result<BatchFile> {
        let origin = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        let mut parents = None;
        let arrays: Vec<NpyArray> = if meta.is_dir() {
            let p = path.join("parents.npy");
            if std::fs::symlink_metadata(&p).is_ok() {
                parents = Some(NpyArray::open(&p)?);
            }
            BATCH_ARRAYS
                .iter()
                .map(|name| {
                    let p = path.join(format!("{name}.npy"));
                    match std::fs::symlink_metadata(&p) {
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                            return Err(Error::format(
                                &origin,
                                format!(
                                    "batch directory has no {name}.npy (it needs {})",
                                    needed()
                                ),
                            ));
                        }
                        // Unreadable (permissions) is not missing: say what the OS said.
                        Err(e) => return Err(Error::io(&p, e)),
                        Ok(_) => {}
                    }
                    NpyArray::open(&p)
                })
                .collect::<Result<_>>()?
        } else {
            let (arrays, p) = open_npz(path)?;
            parents = p;
            arrays
        };
        let arrays: [NpyArray; 4] = arrays
            .try_into()
            .map_err(|_| Error::format(&origin, "expected four arrays"))?;
        let b = BatchFile {
            arrays,
            parents,
            origin,
        };
        // Check shapes and dtypes now.
        if b.is_tree() {
            let tree = b.tree()?;
            b.tree_view(&tree)?;
        } else {
            b.view()?;
        }
        Ok(b)
    }

    /// Whether this is a tree batch (it has `parents`).
    pub fn is_tree(&self) -> bool {
        self.parents.is_some()
    }

    /// The topology of a tree batch (its `parents` array, checked as SPEC §7 says).
    pub fn tree(&self) -> Result<crate::tree::Tree> {
        let Some(p) = &self.parents else {
            return Err(Error::format(&self.origin, "a chain batch has no parents"));
        };
        if p.shape.len() != 1 {
            return Err(Error::format(
                &p.origin,
                format!("shape {:?}: parents must have one dimension [n]", p.shape),
            ));
        }
        if p.shape[0] > crate::tree::MAX_NODES {
            return Err(Error::format(
                &p.origin,
                format!(
                    "{} nodes; at most {} are supported",
                    p.shape[0],
                    crate::tree::MAX_NODES
                ),
            ));
        }
        let ints = p.ints()?;
        let parents: Vec<i64> = (0..p.shape[0]).map(|i| ints.get(i)).collect();
        crate::tree::Tree::from_parents(&parents)
            .map_err(|e| Error::format(&p.origin, e.to_string()))
    }

    /// A view of a tree batch of `tree`, after checking the shapes: draft and target
    /// `[N, n, V]`, tokens and coins `[N, n]`.
    pub fn tree_view<'a>(
        &'a self,
        tree: &'a crate::tree::Tree,
    ) -> Result<crate::tree::batch::TreeView<'a>> {
        let [d, t, tok, c] = &self.arrays;
        let nn = tree.len();
        let [n, dn, v] = d.shape[..] else {
            return Err(Error::format(
                &d.origin,
                format!("shape {:?}: expected [N, n, V] for a tree batch", d.shape),
            ));
        };
        let dims = format!("(N, n, V) = ({n}, {nn}, {v}) from draft_probs and parents");
        if dn != nn {
            return Err(Error::format(
                &d.origin,
                format!(
                    "shape {:?}: expected [N, n, V] with n = {nn}, the length of parents",
                    d.shape
                ),
            ));
        }
        if v == 0 || v > u32::MAX as usize {
            return Err(Error::format(
                &d.origin,
                format!("V = {v} must be in 1..=2^32-1"),
            ));
        }
        for (a, want) in [(t, vec![n, nn, v]), (tok, vec![n, nn]), (c, vec![n, nn])] {
            if a.shape != want {
                return Err(Error::format(
                    &a.origin,
                    format!(
                        "shape {:?} does not fit the batch: expected {want:?} for {dims}",
                        a.shape
                    ),
                ));
            }
        }
        crate::tree::batch::TreeView::new(
            tree,
            v,
            d.floats()?,
            t.floats()?,
            tok.ints()?,
            c.floats()?,
        )
    }

    /// A view of the batch, after checking that the shapes agree:
    /// draft `[N, K, V]`, target `[N, K + 1, V]`, tokens `[N, K]`, coins `[N, K]`.
    pub fn view(&self) -> Result<BatchView<'_>> {
        if self.is_tree() {
            return Err(Error::format(
                &self.origin,
                "this is a tree batch (it has parents): verify it with a tree rule (--rule greedy, target-only, rrs or rrs-wor)",
            ));
        }
        let [d, t, tok, c] = &self.arrays;
        let (n, k, v) = crate::batch::check_batch_shapes(
            (&d.origin, &d.shape),
            (&t.origin, &t.shape),
            (&tok.origin, &tok.shape),
            (&c.origin, &c.shape),
        )?;
        Ok(BatchView {
            n,
            k,
            v,
            draft: d.floats()?,
            target: t.floats()?,
            tokens: tok.ints()?,
            coins: c.floats()?,
        })
    }
}

fn needed() -> String {
    BATCH_ARRAYS.map(|n| format!("{n}.npy")).join(", ")
}

/// Opens the four arrays of an `.npz`: stored members are mapped in place; compressed ones are
/// inflated into an anonymous temporary file first (so memory stays bounded).
fn open_npz(path: &Path) -> Result<(Vec<NpyArray>, Option<NpyArray>)> {
    let origin = path.display().to_string();
    let file = open_regular(path, "an .npz archive or a batch directory")?;
    let mut zip = zip::ZipArchive::new(&file).map_err(|e| {
        Error::format(
            &origin,
            format!("not a batch directory nor a readable .npz archive: {e}"),
        )
    })?;
    // SAFETY: read-only map, see NpyArray::open.
    let map = Arc::new(unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?);
    let mut out = Vec::new();
    let has_parents = zip.file_names().any(|f| f == "parents.npy");
    let names = BATCH_ARRAYS
        .into_iter()
        .chain(has_parents.then_some("parents"));
    for name in names {
        let member = format!("{name}.npy");
        let member_origin = format!("{origin}[{name}]");
        let mut entry = zip.by_name(&member).map_err(|e| match e {
            zip::result::ZipError::FileNotFound => Error::format(
                &origin,
                format!("archive has no array '{name}' (it needs {})", needed()),
            ),
            zip::result::ZipError::UnsupportedArchive(why) => Error::format(
                &member_origin,
                format!(
                    "the member cannot be read: {why} (numpy writes stored or deflated members: use np.savez or np.savez_compressed)"
                ),
            ),
            e => Error::format(&member_origin, format!("the member cannot be read: {e}")),
        })?;
        let array = if entry.compression() == zip::CompressionMethod::Stored {
            let start = entry.data_start() as usize;
            let end = start + entry.size() as usize;
            if end > map.len() {
                return Err(Error::format(&member_origin, "archive is truncated"));
            }
            // numpy checks a stored member's CRC-32 as it reads it; so does this (one pass).
            let crc = crc32fast::hash(&map[start..end]);
            if crc != entry.crc32() {
                return Err(Error::format(
                    &member_origin,
                    format!(
                        "the member's CRC-32 is {crc:#010x}, the archive says {:#010x}: the archive is corrupt",
                        entry.crc32()
                    ),
                ));
            }
            NpyArray::parse(map.clone(), start, end, member_origin)?
        } else {
            let mut tmp = tempfile::tempfile().map_err(|e| Error::io(std::env::temp_dir(), e))?;
            inflate_member(&mut entry, &mut tmp).map_err(|e| {
                Error::format(&member_origin, format!("cannot inflate the member: {e}"))
            })?;
            // SAFETY: a private temporary file nobody else writes.
            let m = unsafe { Mmap::map(&tmp) }.map_err(|e| Error::io(std::env::temp_dir(), e))?;
            let len = m.len();
            NpyArray::parse(Arc::new(m), 0, len, member_origin)?
        };
        out.push(array);
    }
    let parents = if has_parents { out.pop() } else { None };
    Ok((out, parents))
}

/// Inflates a compressed `.npy` member into `out`, but only as far as its header asks, as numpy
/// reads it: the header first, then the data its shape and dtype need (a small member that
/// inflates to gigabytes of extra bytes is not inflated whole). A header that does not parse is
/// copied as read, for the parser to name what is wrong.
fn inflate_member(entry: &mut impl Read, out: &mut File) -> std::io::Result<()> {
    let mut head = Vec::new();
    entry.by_ref().take(12).read_to_end(&mut head)?;
    let declared = match head.get(6) {
        Some(1) if head.len() >= 10 => u16::from_le_bytes([head[8], head[9]]) as u64,
        Some(_) if head.len() >= 12 => {
            u32::from_le_bytes([head[8], head[9], head[10], head[11]]) as u64
        }
        _ => 0,
    };
    let prefix = if head.get(6) == Some(&1) { 10 } else { 12 };
    // Headers are small; a huge declared length is refused later by the header check.
    let rest = (prefix + declared)
        .saturating_sub(head.len() as u64)
        .min(1 << 20);
    entry.by_ref().take(rest).read_to_end(&mut head)?;
    out.write_all(&head)?;
    let need = npyz::NpyHeader::from_reader(&mut Cursor::new(&head))
        .ok()
        .and_then(|h| {
            let size = match h.dtype() {
                npyz::DType::Plain(t) => t.size_field(),
                _ => return None,
            };
            h.shape()
                .iter()
                .try_fold(size, |acc, &d| acc.checked_mul(d))
        });
    match need {
        Some(n) => std::io::copy(&mut entry.take(n), out).map(|_| ()),
        None => Ok(()),
    }
}

/// Writes `result` as `RESULT.npz` (`tokens` `[N, K + 1]` int32, `num_accepted` `[N]` int32,
/// `num_generated` `[N]` int32): into a temporary file beside `path`, renamed into place only when
/// complete, so the file is written whole or not at all.
pub fn write_result_npz(path: &Path, result: &BatchResult) -> Result<()> {
    let n = result.n() as u64;
    let acc: Vec<i32> = result.num_accepted.iter().map(|&x| x as i32).collect();
    let generated: Vec<i32> = result.num_generated().iter().map(|&x| x as i32).collect();
    write_i32_npz(
        path,
        &[
            ("tokens", vec![n, result.k as u64 + 1], &result.tokens),
            ("num_accepted", vec![n], &acc),
            ("num_generated", vec![n], &generated),
        ],
    )
}

/// Writes a tree batch's results as `RESULT.npz`: `tokens` `[N, depth + 1]` and `accepted_nodes`
/// `[N, depth]` (int32, padded with -1), `num_accepted` and `num_generated` `[N]` int32; whole or
/// not at all.
pub fn write_tree_result_npz(path: &Path, result: &crate::tree::batch::TreeResult) -> Result<()> {
    let n = result.n() as u64;
    let d = result.depth as u64;
    let acc: Vec<i32> = result.num_accepted.iter().map(|&x| x as i32).collect();
    let generated: Vec<i32> = result.num_generated().iter().map(|&x| x as i32).collect();
    write_i32_npz(
        path,
        &[
            ("tokens", vec![n, d + 1], &result.tokens),
            ("accepted_nodes", vec![n, d], &result.nodes),
            ("num_accepted", vec![n], &acc),
            ("num_generated", vec![n], &generated),
        ],
    )
}

/// Writes int32 arrays (name, shape, values) as an uncompressed `.npz`: into a temporary file
/// beside `path`, renamed into place only when complete.
fn write_i32_npz(path: &Path, arrays: &[(&str, Vec<u64>, &[i32])]) -> Result<()> {
    let tmp = crate::output::AtomicFile::create(path)?;
    let io = |e: std::io::Error| Error::io(path, e);
    let mut npz = npyz::npz::NpzWriter::new(std::io::BufWriter::new(tmp.file()));
    let written = (|| -> Result<()> {
        for (name, shape, values) in arrays {
            let large = values.len() as u64 * 4 > (1 << 31);
            let opts = zip::write::FileOptions::default()
                .compression_method(zip::CompressionMethod::Stored)
                // A fixed timestamp: the same results give the same bytes.
                .last_modified_time(zip::DateTime::default())
                .large_file(large);
            let mut w = npz
                .array::<i32>(name, opts)
                .map_err(io)?
                .default_dtype()
                .shape(shape)
                .begin_nd()
                .map_err(io)?;
            w.extend(values.iter().copied()).map_err(io)?;
            w.finish().map_err(io)?;
        }
        let mut inner = npz
            .zip_writer()
            .finish()
            .map_err(|e| Error::io(path, e.into()))?;
        inner.flush().map_err(io)
    })();
    if let Err(e) = written {
        // A failed archive (a full disk) must not be finished again by the zip writer's drop,
        // which would print its own "ZipWriter drop failed" line; the temporary file is removed.
        std::mem::forget(npz);
        return Err(e);
    }
    drop(npz);
    tmp.commit()
}

/// Writes an in-memory tree batch as a directory of five `.npy` files (`parents` int64, rows and
/// coins float32, tokens uint32), as numpy would: the five together or none of them.
pub fn write_tree_batch_dir(dir: &Path, batch: &crate::tree::generate::TreeBatch) -> Result<()> {
    let mut set = crate::output::FileSet::create(dir)?;
    let (n, nn, v) = (batch.n as u64, batch.tree.len() as u64, batch.v as u64);
    let parents: Vec<i64> = batch.tree.parents().iter().map(|&p| p as i64).collect();
    write_npy(&mut set, dir, "parents", &[nn], &parents)?;
    write_npy(&mut set, dir, "draft_probs", &[n, nn, v], &batch.draft)?;
    write_npy(&mut set, dir, "target_probs", &[n, nn, v], &batch.target)?;
    write_npy(&mut set, dir, "random_coins", &[n, nn], &batch.coins)?;
    write_npy(&mut set, dir, "draft_tokens", &[n, nn], &batch.tokens)?;
    set.commit()
}

/// Writes one `.npy` file of a file set.
fn write_npy<T: npyz::AutoSerialize + Copy>(
    set: &mut crate::output::FileSet,
    dir: &Path,
    name: &str,
    shape: &[u64],
    data: &[T],
) -> Result<()> {
    let file = format!("{name}.npy");
    let shown = dir.join(&file);
    let io = |e: std::io::Error| Error::io(&shown, e);
    let f = File::create(set.path(&file)).map_err(io)?;
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(std::io::BufWriter::new(f))
        .begin_nd()
        .map_err(io)?;
    w.extend(data.iter().copied()).map_err(io)?;
    w.finish().map_err(io)
}

/// Writes an in-memory batch as a directory of four `.npy` files (float32 / uint32), as numpy
/// would, e.g. for `verify --generate --save`: the four together or none of them.
pub fn write_batch_dir(dir: &Path, batch: &crate::batch::Batch) -> Result<()> {
    let mut set = crate::output::FileSet::create(dir)?;
    let (n, k, v) = (batch.n as u64, batch.k as u64, batch.v as u64);
    write_npy(&mut set, dir, "draft_probs", &[n, k, v], &batch.draft)?;
    write_npy(&mut set, dir, "target_probs", &[n, k + 1, v], &batch.target)?;
    write_npy(&mut set, dir, "random_coins", &[n, k], &batch.coins)?;
    write_npy(&mut set, dir, "draft_tokens", &[n, k], &batch.tokens)?;
    set.commit()
}
