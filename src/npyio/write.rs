//! Writing `.npy` and `.npz` files: run results (chains and trees) and generated batches, each
//! whole or not at all.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use npyz::WriterBuilder;

use crate::batch::Outcomes;
use crate::error::{Error, Result};

/// Writes `result` as `RESULT.npz`: `tokens` `[N, depth + 1]` int32 (K + 1 for a chain, padded
/// with -1), for tree rounds `accepted_nodes` `[N, depth]` int32 (padded with -1), then
/// `num_accepted` and `num_generated` `[N]` int32: into a temporary file beside `path`, renamed
/// into place only when complete, so the file is written whole or not at all.
pub fn write_result_npz(path: &Path, result: &Outcomes) -> Result<()> {
    let n = result.n() as u64;
    let d = result.depth as u64;
    let acc: Vec<i32> = result.num_accepted.iter().map(|&x| x as i32).collect();
    let generated: Vec<i32> = result.num_generated().iter().map(|&x| x as i32).collect();
    let mut arrays = vec![("tokens", vec![n, d + 1], &result.tokens[..])];
    if let Some(nodes) = &result.nodes {
        arrays.push(("accepted_nodes", vec![n, d], &nodes[..]));
    }
    arrays.push(("num_accepted", vec![n], &acc));
    arrays.push(("num_generated", vec![n], &generated));
    write_i32_npz(path, &arrays)
}

/// The values of one `.npz` member.
pub enum NpzValues<'a> {
    /// float32.
    F32(&'a [f32]),
    /// int32.
    I32(&'a [i32]),
    /// int64.
    I64(&'a [i64]),
}

impl NpzValues<'_> {
    fn bytes(&self) -> u64 {
        match self {
            NpzValues::F32(v) => v.len() as u64 * 4,
            NpzValues::I32(v) => v.len() as u64 * 4,
            NpzValues::I64(v) => v.len() as u64 * 8,
        }
    }
}

/// Writes int32 arrays (name, shape, values) as an uncompressed `.npz` (as `np.savez` does): into
/// a temporary file beside `path`, renamed into place only when complete.
fn write_i32_npz(path: &Path, arrays: &[(&str, Vec<u64>, &[i32])]) -> Result<()> {
    let arrays: Vec<(&str, Vec<u64>, NpzValues)> = arrays
        .iter()
        .map(|(n, s, v)| (*n, s.clone(), NpzValues::I32(v)))
        .collect();
    write_npz(path, &arrays)
}

/// Writes arrays (name, shape, values) as an uncompressed `.npz` (as `np.savez` does): into a
/// temporary file beside `path`, renamed into place only when complete.
pub fn write_npz(path: &Path, arrays: &[(&str, Vec<u64>, NpzValues)]) -> Result<()> {
    let tmp = crate::output::AtomicFile::create(path)?;
    let io = |e: std::io::Error| Error::write(path, e);
    // Its own handle on the temporary file, so the writer borrows nothing of `tmp`.
    let file = tmp.file().try_clone().map_err(io)?;
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
    let mut members = || -> Result<()> {
        for (name, shape, values) in arrays {
            let large = values.bytes() > (1 << 31);
            let opts = zip::write::FileOptions::default()
                .compression_method(zip::CompressionMethod::Stored)
                // A fixed timestamp: the same results give the same bytes.
                .last_modified_time(zip::DateTime::default())
                .large_file(large);
            zip.start_file(format!("{name}.npy"), opts)
                .map_err(|e| Error::write(path, e.into()))?;
            macro_rules! member {
                ($v:expr) => {{
                    let mut w = npyz::WriteOptions::new()
                        .default_dtype()
                        .shape(shape)
                        .writer(&mut zip)
                        .begin_nd()
                        .map_err(io)?;
                    w.extend($v.iter().copied()).map_err(io)?;
                    w.finish().map_err(io)?;
                }};
            }
            match values {
                NpzValues::F32(v) => member!(v),
                NpzValues::I32(v) => member!(v),
                NpzValues::I64(v) => member!(v),
            }
        }
        Ok(())
    };
    if let Err(e) = members() {
        // A failed archive (a full disk) must not be finished again by the zip writer's drop,
        // which would print its own "ZipWriter drop failed" line; the temporary file is removed.
        std::mem::forget(zip);
        return Err(e);
    }
    let mut inner = zip.finish().map_err(|e| Error::write(path, e.into()))?;
    inner.flush().map_err(io)?;
    drop(inner);
    tmp.commit()
}

/// Writes an in-memory tree batch as a directory of five `.npy` files (`parents` int64, `[n]` or
/// per round `[N, n]`; rows and coins float32, tokens uint32), as numpy would: the five together or none of them.
pub fn write_tree_batch_dir(
    dir: &Path,
    batch: &crate::compare::adversarial_tree::TreeBatch,
) -> Result<()> {
    let mut set = crate::output::FileSet::create(dir)?;
    let (n, nn, v) = (batch.n as u64, batch.nodes() as u64, batch.v as u64);
    match &batch.per_round {
        Some(p) => write_npy(&mut set, dir, "parents", &[p.len() as u64 / nn, nn], p)?,
        None => {
            let parents: Vec<i64> = batch.tree.parents().iter().map(|&p| p as i64).collect();
            write_npy(&mut set, dir, "parents", &[nn], &parents)?
        }
    }
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
    let io = |e: std::io::Error| Error::write(&shown, e);
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
