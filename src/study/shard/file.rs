//! A shard's file: where it goes, its bytes with their checksum, and reading them back checked.

use std::path::{Path, PathBuf};

use super::{FORMAT, MAX_SHARDS, ShardFile, VERSION};
use crate::error::{Error, Result};

/// The CRC-32 (8 hex digits) of a shard's compact JSON with its `checksum` field empty.
fn checksum(shard: &ShardFile) -> serde_json::Result<String> {
    let mut blank = shard.clone();
    blank.checksum = String::new();
    Ok(format!(
        "{:08x}",
        crc32fast::hash(&serde_json::to_vec(&blank)?)
    ))
}

/// Where a shard's file goes for `--out PATH`: PATH itself when it ends in `.json` (and is not a
/// directory, nor written with a trailing `/`), otherwise `PATH/shard-I-of-N.json`.
pub fn shard_path(out: &Path, index: u64, count: u64) -> PathBuf {
    let is_json = out.extension().is_some_and(|e| e == "json");
    let slash = out.as_os_str().to_string_lossy().ends_with('/');
    if is_json && !slash && !out.is_dir() {
        out.to_path_buf()
    } else {
        out.join(format!("shard-{index}-of-{count}.json"))
    }
}

/// Writes a shard's file at `path` (whole or not at all; its directory created if missing).
pub fn write_shard(path: &Path, shard: &ShardFile) -> Result<()> {
    let bytes = to_bytes(shard)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
    }
    crate::output::write_file(path, &bytes)
}

/// The shard file's bytes, with its checksum.
pub fn to_bytes(shard: &ShardFile) -> Result<Vec<u8>> {
    let err = |e: serde_json::Error| Error::Config(format!("the shard cannot be written: {e}"));
    let mut s = shard.clone();
    s.checksum = checksum(shard).map_err(err)?;
    let mut out = serde_json::to_vec_pretty(&s).map_err(err)?;
    out.push(b'\n');
    Ok(out)
}

/// Reads a shard file's bytes (`name` for messages): its format, version and checksum checked.
pub fn from_bytes(bytes: &[u8], name: &str) -> Result<ShardFile> {
    let v: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::format(name, format!("not a shard file (invalid JSON): {e}")))?;
    if v.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(Error::format(
            name,
            format!("not a shard file (its \"format\" is not \"{FORMAT}\")"),
        ));
    }
    let version = v.get("version").and_then(|x| x.as_u64());
    if version != Some(VERSION as u64) {
        let writer = v.get("specsim").and_then(|x| x.as_str()).unwrap_or("?");
        return Err(Error::format(
            name,
            format!(
                "shard version {} (written by specsim {writer}), but this specsim {} reads version {VERSION}: merge with the version that wrote it",
                version.map_or("?".to_string(), |v| v.to_string()),
                env!("CARGO_PKG_VERSION"),
            ),
        ));
    }
    let shard: ShardFile = serde_json::from_value(v)
        .map_err(|e| Error::format(name, format!("a malformed shard file: {e}")))?;
    if shard.count == 0 || shard.count > MAX_SHARDS || shard.index >= shard.count {
        return Err(Error::format(
            name,
            format!(
                "shard {}/{} is not I/N with 0 <= I < N <= {MAX_SHARDS}",
                shard.index, shard.count
            ),
        ));
    }
    let sum = checksum(&shard)
        .map_err(|e| Error::format(name, format!("a malformed shard file: {e}")))?;
    if sum != shard.checksum {
        return Err(Error::format(
            name,
            format!(
                "checksum mismatch (the file says {}, its contents give {sum}): the shard was changed or damaged",
                shard.checksum
            ),
        ));
    }
    Ok(shard)
}
