//! Opening a batch: a directory of `.npy` files or an `.npz` (stored members mapped in place,
//! compressed ones inflated to a temporary file), chain or tree.

use std::fs::File;
use std::io::{Cursor, Read, Write};
use std::path::Path;
use std::sync::Arc;

use memmap2::Mmap;

use super::{BATCH_ARRAYS, NpyArray, open_regular};
use crate::batch::ChainView;
use crate::error::{Error, Result};
use crate::rule::Rule;

/// A batch read from disk: four arrays, memory-mapped, and a tree batch's parents.
pub struct BatchFile {
    /// draft_probs, target_probs, draft_tokens, random_coins.
    pub arrays: [NpyArray; 4],
    /// A tree batch's `parents`, \[n\] (one tree for every round) or \[N, n\] (a tree per
    /// round) (SPEC §7, §10); `None` for a chain batch.
    pub parents: Option<NpyArray>,
    /// The shared tree of a batch whose `parents` is \[n\].
    shared: Option<crate::topology::Tree>,
    /// Where it came from.
    pub origin: String,
    /// A compatibility profile's optional inputs present in the batch (SPEC §14):
    /// `final_coins` \[N\], `exp_noise` \[N, V\].
    pub extras: Vec<(&'static str, NpyArray)>,
}

/// The optional arrays of a batch read by a compatibility profile.
pub const EXTRA_ARRAYS: [&str; 2] = ["final_coins", "exp_noise"];

impl BatchFile {
    /// Opens a batch: a directory holding the four `.npy` files, or one `.npz` with those keys.
    pub fn open(path: &Path) -> Result<BatchFile> {
        let origin = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        let mut parents = None;
        let mut extras = Vec::new();
        let arrays: Vec<NpyArray> = if meta.is_dir() {
            let p = path.join("parents.npy");
            if std::fs::symlink_metadata(&p).is_ok() {
                parents = Some(NpyArray::open(&p)?);
            }
            for name in EXTRA_ARRAYS {
                let p = path.join(format!("{name}.npy"));
                if std::fs::symlink_metadata(&p).is_ok() {
                    extras.push((name, NpyArray::open(&p)?));
                }
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
            let (arrays, p, e) = open_npz(path)?;
            parents = p;
            extras = e;
            arrays
        };
        let arrays: [NpyArray; 4] = arrays
            .try_into()
            .map_err(|_| Error::format(&origin, "expected four arrays"))?;
        let mut b = BatchFile {
            arrays,
            parents,
            shared: None,
            origin,
            extras,
        };
        if b.parents.as_ref().is_some_and(|p| p.shape.len() == 1) {
            b.shared = Some(b.tree()?);
        }
        // Check shapes, dtypes and the topology now.
        b.rounds()?;
        Ok(b)
    }

    /// The batch's rounds, chain or tree (shared or per-round parents), after checking the
    /// shapes (and every per-round parent array).
    pub fn rounds(&self) -> Result<crate::batch::Rounds<'_>> {
        use crate::batch::{Rounds, Topology, check_tree_shapes};
        let Some(p) = &self.parents else {
            return Ok(Rounds::chain(&self.view()?));
        };
        let [d, t, tok, c] = &self.arrays;
        fn named(a: &NpyArray) -> (&str, &[usize]) {
            (&a.origin, &a.shape)
        }
        let (_, nn, v) = check_tree_shapes(named(p), named(d), named(t), named(tok), named(c))?;
        let topology = match &self.shared {
            Some(t) => Topology::Shared(t),
            None => Topology::per_round(p.ints()?, nn)
                .map_err(|e| Error::format(&p.origin, e.to_string()))?,
        };
        Rounds::new(
            topology,
            v,
            d.floats()?,
            t.floats()?,
            tok.ints()?,
            c.floats()?,
        )
    }

    /// Whether this is a tree batch (it has `parents`).
    pub fn is_tree(&self) -> bool {
        self.parents.is_some()
    }

    /// The topology of a tree batch (its `parents` array, checked as SPEC §7 says).
    pub fn tree(&self) -> Result<crate::topology::Tree> {
        let Some(p) = &self.parents else {
            return Err(Error::format(&self.origin, "a chain batch has no parents"));
        };
        if p.shape.len() != 1 {
            return Err(Error::format(
                &p.origin,
                format!(
                    "shape {:?}: one shared tree has parents of one dimension [n]",
                    p.shape
                ),
            ));
        }
        if p.shape[0] > crate::topology::MAX_NODES {
            return Err(Error::format(
                &p.origin,
                format!(
                    "{} nodes; at most {} are supported",
                    p.shape[0],
                    crate::topology::MAX_NODES
                ),
            ));
        }
        let ints = p.ints()?;
        let parents: Vec<i64> = (0..p.shape[0]).map(|i| ints.get(i)).collect();
        crate::topology::Tree::from_parents(&parents)
            .map_err(|e| Error::format(&p.origin, e.to_string()))
    }

    /// A view of the batch, after checking that the shapes agree:
    /// draft `[N, K, V]`, target `[N, K + 1, V]`, tokens `[N, K]`, coins `[N, K]`.
    pub fn view(&self) -> Result<ChainView<'_>> {
        if self.is_tree() {
            return Err(Error::format(
                &self.origin,
                format!(
                    "this is a tree batch (it has parents): verify it with a tree rule (--rule {})",
                    Rule::tree_names()
                ),
            ));
        }
        let [d, t, tok, c] = &self.arrays;
        let (n, k, v) = crate::batch::check_batch_shapes(
            (&d.origin, &d.shape),
            (&t.origin, &t.shape),
            (&tok.origin, &tok.shape),
            (&c.origin, &c.shape),
        )?;
        Ok(ChainView {
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
#[allow(clippy::type_complexity)]
fn open_npz(
    path: &Path,
) -> Result<(
    Vec<NpyArray>,
    Option<NpyArray>,
    Vec<(&'static str, NpyArray)>,
)> {
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
    let present: Vec<&'static str> = EXTRA_ARRAYS
        .into_iter()
        .filter(|x| zip.file_names().any(|f| f == format!("{x}.npy")))
        .collect();
    let names = BATCH_ARRAYS
        .into_iter()
        .chain(has_parents.then_some("parents"))
        .chain(present.iter().copied());
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
    let extras: Vec<(&'static str, NpyArray)> = present
        .iter()
        .rev()
        .map(|&name| (name, out.pop().expect("read above")))
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let parents = if has_parents { out.pop() } else { None };
    Ok((out, parents, extras))
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
