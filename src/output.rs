//! Writing outputs whole or not at all, the one way every command writes files.
//!
//! - A single file ([`AtomicFile`]) is written to a temporary file beside its target and renamed
//!   into place when complete.
//! - A set of files ([`FileSet`]) is written into a temporary directory beside its targets and
//!   moved into place only when every file is complete.
//! - A target that exists must be a regular file with one link. A FIFO, a device, a directory or
//!   a hard-linked file is refused, not replaced. A new file gets `0666` less the umask, as numpy
//!   would give it; a replaced file keeps its mode.
//! - Temporary files and directories are registered, so that [`remove_temporaries`] (called on
//!   SIGINT and SIGTERM by the command line) can delete them before the process ends.

use std::fs::Permissions;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// Temporary paths not yet renamed into place.
static TEMPORARIES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Registers a temporary path for [`remove_temporaries`] (e.g. a private runtime directory).
pub fn register_temporary(p: &Path) {
    register(p);
}

fn register(p: &Path) {
    if let Ok(mut t) = TEMPORARIES.lock() {
        t.push(p.to_path_buf());
    }
}

fn unregister(p: &Path) {
    if let Ok(mut t) = TEMPORARIES.lock() {
        t.retain(|x| x != p);
    }
}

/// Deletes every temporary file or directory still registered (for a signal handler; the
/// process exits right after). The newest go first (a set's temporary directory before the
/// directory made for it), each retried until it is gone: the main thread may still be writing a
/// file into it (a signal that lands while a study writes its files), which would leave a
/// directory that `remove_dir_all` found empty a moment before. The registry stays locked
/// throughout, so no commit moves files meanwhile.
pub fn remove_temporaries() {
    let mut registry = TEMPORARIES.lock().unwrap_or_else(|p| p.into_inner());
    for p in std::mem::take(&mut *registry).into_iter().rev() {
        for _ in 0..200 {
            let _ = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            if std::fs::symlink_metadata(&p).is_err() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}

/// A testing hook: `SPECSIM_TEST_HOLD_OUTPUT_MS` makes a commit wait that long with its
/// temporary written, so that a test can interrupt the process there.
fn hold_for_tests() {
    if let Some(ms) = std::env::var("SPECSIM_TEST_HOLD_OUTPUT_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

/// Checks a target before it is replaced: absent, or a regular file with one link. Returns the
/// existing file's permissions, to keep them.
pub fn check_target(path: &Path) -> Result<Option<Permissions>> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::write(path, e)),
    };
    let refuse = |what: &str| {
        Err(Error::Output {
            path: path.display().to_string(),
            message: format!(
                "is {what}; specsim writes its outputs as regular files, whole or not at all, and will not replace it"
            ),
        })
    };
    let kind = meta.file_type();
    if kind.is_symlink() {
        // Callers write through links (see `resolve`); a link still here dangles or loops.
        return refuse("a symbolic link that names no file");
    }
    if kind.is_dir() {
        return refuse("a directory");
    }
    if !kind.is_file() {
        return refuse("not a regular file (a FIFO, a device or a socket)");
    }
    if meta.nlink() > 1 {
        return refuse(&format!(
            "a file with {} hard links (replacing it would break them)",
            meta.nlink()
        ));
    }
    Ok(Some(meta.permissions()))
}

/// The file a target names: a symbolic link is followed, so that the file it points to is
/// replaced and the link kept, as numpy writes through it.
pub fn resolve(path: &Path) -> PathBuf {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
        }
        _ => path.to_path_buf(),
    }
}

/// The directory a target lives in (`.` for a bare file name).
fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A file being written beside its target; [`AtomicFile::commit`] renames it into place.
/// Dropped without a commit, it is deleted.
pub struct AtomicFile {
    tmp: tempfile::NamedTempFile,
    target: PathBuf,
    keep: Option<Permissions>,
}

impl AtomicFile {
    /// Starts writing `target` (checked by [`check_target`]).
    pub fn create(target: &Path) -> Result<AtomicFile> {
        let target = &resolve(target);
        let keep = check_target(target)?;
        let dir = parent_of(target);
        if !dir.is_dir() {
            return Err(Error::Output {
                path: target.display().to_string(),
                message: format!("the directory {} does not exist", dir.display()),
            });
        }
        let tmp = tempfile::Builder::new()
            .prefix(".specsim-")
            .permissions(Permissions::from_mode(0o666)) // less the umask, as open(2) does
            .tempfile_in(&dir)
            .map_err(|e| Error::write(target, e))?;
        register(tmp.path());
        Ok(AtomicFile {
            tmp,
            target: target.to_path_buf(),
            keep,
        })
    }

    /// The file to write into.
    pub fn file(&self) -> &std::fs::File {
        self.tmp.as_file()
    }

    /// Flushes it to disk, gives it the replaced file's mode, and renames it into place.
    pub fn commit(self) -> Result<()> {
        hold_for_tests();
        let target = self.target;
        let io = |e: std::io::Error| Error::write(&target, e);
        self.tmp.as_file().sync_all().map_err(io)?;
        if let Some(p) = self.keep {
            self.tmp.as_file().set_permissions(p).map_err(io)?;
        }
        let tmp_path = self.tmp.path().to_path_buf();
        self.tmp
            .persist(&target)
            .map_err(|e| Error::write(&target, e.error))?;
        unregister(&tmp_path);
        Ok(())
    }
}

/// Writes `bytes` to `path`, whole or not at all (an [`AtomicFile`]).
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let f = AtomicFile::create(path)?;
    f.file()
        .write_all(bytes)
        .map_err(|e| Error::write(resolve(path), e))?;
    f.commit()
}

/// A set of files written into a temporary directory beside their directory and moved into it
/// only when all are complete ([`FileSet::commit`]); dropped without a commit, nothing of it is
/// left.
pub struct FileSet {
    tmp: Option<tempfile::TempDir>,
    dir: PathBuf,
    names: Vec<String>,
    /// Whether `dir` was created for this set (removed again if the set is not committed).
    created: bool,
}

impl FileSet {
    /// Starts a set of files for `dir` (created if missing).
    pub fn create(dir: &Path) -> Result<FileSet> {
        let created = !dir.exists();
        if created {
            std::fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
            // Created for this set: an interrupted run removes it again (commit keeps it).
            register(dir);
        }
        let tmp = tempfile::Builder::new()
            .prefix(".specsim-")
            .tempdir_in(dir)
            .map_err(|e| Error::write(dir, e))?;
        register(tmp.path());
        Ok(FileSet {
            tmp: Some(tmp),
            dir: dir.to_path_buf(),
            names: Vec::new(),
            created,
        })
    }

    /// Where to write the file `name` of the set for now.
    pub fn path(&mut self, name: &str) -> PathBuf {
        self.names.push(name.to_string());
        self.tmp.as_ref().expect("not committed").path().join(name)
    }

    /// Writes `bytes` as the file `name`.
    pub fn write(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        let p = self.path(name);
        let mut f = std::fs::File::create(&p).map_err(|e| Error::write(self.dir.join(name), e))?;
        f.write_all(bytes)
            .and_then(|_| f.sync_all())
            .map_err(|e| Error::write(self.dir.join(name), e))
    }

    /// Checks every target, flushes every file to disk, then moves every file into place. The
    /// moves hold the temporaries' lock, so a signal handler waits for them instead of deleting
    /// files that are halfway in place.
    pub fn commit(mut self) -> Result<()> {
        hold_for_tests();
        let tmp = self.tmp.take().expect("committed once");
        let tmp_dev = std::fs::metadata(tmp.path())
            .map_err(|e| Error::write(&self.dir, e))?
            .dev();
        let mut plan = Vec::new();
        for name in &self.names {
            let to = resolve(&self.dir.join(name));
            let perm = check_target(&to)?;
            // A link into another file system cannot be renamed onto: refuse before any move.
            let to_dir = parent_of(&to);
            if std::fs::metadata(&to_dir).map(|m| m.dev()).ok() != Some(tmp_dev) {
                return Err(Error::Output {
                    path: self.dir.join(name).display().to_string(),
                    message: format!(
                        "names {}, on another file system, which cannot be replaced whole",
                        to.display()
                    ),
                });
            }
            let from = tmp.path().join(name);
            std::fs::File::open(&from)
                .and_then(|f| f.sync_all())
                .map_err(|e| Error::write(&to, e))?;
            if let Some(p) = perm {
                std::fs::set_permissions(&from, p).map_err(|e| Error::write(&to, e))?;
            }
            plan.push((from, to));
        }
        {
            let mut registry = TEMPORARIES.lock().unwrap_or_else(|p| p.into_inner());
            for (from, to) in &plan {
                std::fs::rename(from, to).map_err(|e| Error::write(to, e))?;
            }
            registry.retain(|x| x != tmp.path() && x != &self.dir);
        }
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all(); // the renames themselves reach the disk
        }
        drop(tmp);
        Ok(())
    }
}

impl Drop for FileSet {
    fn drop(&mut self) {
        if let Some(t) = self.tmp.take() {
            // Not committed: the temporaries go, and so does a directory made for the set.
            unregister(t.path());
            drop(t);
            if self.created {
                unregister(&self.dir);
                let _ = std::fs::remove_dir(&self.dir); // only if empty
            }
        }
    }
}
