//! Outputs are written whole or not at all (reliability classes 9, 10, 11): `--out` refuses
//! targets that are not regular files or are hard-linked, gives new files the umask's mode and
//! keeps a replaced file's mode, a failed multi-file output leaves the old set untouched, and an
//! interrupted write leaves no temporary file.

use crate::common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use common::{assert_refused, data, specsim};

fn batch() -> String {
    data("batches/f32_i32_dir")
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(".specsim-"))
        .collect()
}

#[test]
fn out_refuses_what_is_not_a_regular_file_and_keeps_modes() {
    let dir = tempfile::tempdir().unwrap();
    // A FIFO stays a FIFO.
    let fifo = dir.path().join("fifo.npz");
    if std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success())
    {
        let o = specsim(&[
            "run",
            &batch(),
            "--engine",
            "cpu",
            "--out",
            fifo.to_str().unwrap(),
        ]);
        assert_refused(&o, "fifo", &["fifo.npz", "not a regular file"]);
        assert!(
            std::fs::symlink_metadata(&fifo)
                .unwrap()
                .file_type()
                .is_fifo()
        );
    } else {
        eprintln!("!!! SKIPPING the FIFO case: mkfifo failed");
    }
    // A hard-linked file keeps its links.
    let a = dir.path().join("a.npz");
    std::fs::write(&a, b"old").unwrap();
    std::fs::hard_link(&a, dir.path().join("b.npz")).unwrap();
    let o = specsim(&[
        "run",
        &batch(),
        "--engine",
        "cpu",
        "--out",
        a.to_str().unwrap(),
    ]);
    assert_refused(&o, "hard link", &["a.npz", "2 hard links"]);
    assert_eq!(std::fs::read(&a).unwrap(), b"old");
    // A new file gets 0666 less the umask, like any file the process creates.
    let probe = dir.path().join("probe");
    std::fs::File::create(&probe).unwrap();
    let want = std::fs::metadata(&probe).unwrap().mode() & 0o777;
    let new = dir.path().join("new.npz");
    let o = specsim(&[
        "run",
        &batch(),
        "--engine",
        "cpu",
        "--out",
        new.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(std::fs::metadata(&new).unwrap().mode() & 0o777, want);
    // A replaced file keeps its mode.
    std::fs::set_permissions(&new, std::fs::Permissions::from_mode(0o640)).unwrap();
    let o = specsim(&[
        "run",
        &batch(),
        "--engine",
        "cpu",
        "--out",
        new.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(std::fs::metadata(&new).unwrap().mode() & 0o777, 0o640);
    // Through a symbolic link, the file it names is replaced and the link kept.
    let link = dir.path().join("link.npz");
    std::os::unix::fs::symlink(&new, &link).unwrap();
    let o = specsim(&[
        "run",
        &batch(),
        "--engine",
        "cpu",
        "--out",
        link.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // Into a missing directory: the message names it, not a temporary file.
    let missing = dir.path().join("nowhere/out.npz");
    let o = specsim(&[
        "run",
        &batch(),
        "--engine",
        "cpu",
        "--out",
        missing.to_str().unwrap(),
    ]);
    assert_refused(&o, "missing dir", &["nowhere", "does not exist"]);
    assert!(!o.stderr.contains(".specsim-"), "{}", o.stderr);
    assert!(leftovers(dir.path()).is_empty());
}

use std::os::unix::fs::FileTypeExt;

#[test]
fn a_failed_multi_file_output_leaves_the_old_set() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("study");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("results.csv"), "old csv").unwrap();
    // results.json cannot be replaced (a directory): nothing of the new set may land.
    std::fs::create_dir(out.join("results.json")).unwrap();
    let o = specsim(&[
        "study",
        "--engine",
        "cpu",
        "--quiet",
        "--rounds",
        "100",
        "--k",
        "1..2",
        "--vocab",
        "32",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_refused(&o, "study set", &["results.json", "a directory"]);
    assert_eq!(
        std::fs::read_to_string(out.join("results.csv")).unwrap(),
        "old csv"
    );
    assert!(!out.join("speedup.svg").exists());
    assert!(leftovers(&out).is_empty(), "{:?}", leftovers(&out));
    // verify --save: the same for its four arrays.
    let save = dir.path().join("saved");
    std::fs::create_dir(&save).unwrap();
    std::fs::write(save.join("draft_probs.npy"), "old").unwrap();
    std::fs::create_dir(save.join("random_coins.npy")).unwrap();
    let o = specsim(&[
        "verify",
        "--generate",
        "20",
        "--vocab",
        "9",
        "--cpu-only",
        "--save",
        save.to_str().unwrap(),
    ]);
    assert_refused(&o, "verify save", &["random_coins.npy", "a directory"]);
    assert_eq!(
        std::fs::read_to_string(save.join("draft_probs.npy")).unwrap(),
        "old"
    );
    assert!(leftovers(&save).is_empty());
}

/// Runs the binary with its output commit held, waits until `ready()` (its temporary exists),
/// sends `signal`, and returns whether it exited with success.
fn interrupt_held(args: &[&str], out: &Path, signal: &str, ready: impl Fn() -> bool) -> bool {
    let child = std::process::Command::new(common::BIN)
        .args(args)
        .arg(out)
        .env("SPECSIM_TEST_HOLD_OUTPUT_MS", "20000")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !ready() {
        assert!(
            std::time::Instant::now() < deadline,
            "no temporary appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let sent = std::process::Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(sent);
    child.wait_with_output().unwrap().status.success()
}

#[test]
fn an_interrupted_write_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    for signal in ["INT", "TERM"] {
        let out = dir.path().join(format!("{signal}.npz"));
        let ok = interrupt_held(
            &["run", &batch(), "--engine", "cpu", "--out"],
            &out,
            signal,
            || !leftovers(dir.path()).is_empty(),
        );
        assert!(!ok, "{signal}: exited with success");
        assert!(
            leftovers(dir.path()).is_empty(),
            "{signal}: {:?}",
            leftovers(dir.path())
        );
        assert!(!out.exists(), "{signal}: a partial output landed");
    }
}

/// A full disk: one error line (no "ZipWriter drop failed" after it), a non-zero exit, and no
/// file, temporary or final. Needs a small tmpfs, so root; skips loudly otherwise.
#[test]
fn a_full_disk_gives_one_error_line_and_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("full");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16k", "tmpfs"])
        .arg(&mnt)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("!!! SKIPPING the full-disk case: cannot mount a tmpfs (not root?)");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.clone());
    let batch = dir.path().join("batch");
    let o = specsim(&[
        "verify",
        "--generate",
        "3000",
        "--k",
        "8",
        "--vocab",
        "50",
        "--cpu-only",
        "--save",
        batch.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let out = mnt.join("out.npz");
    let o = specsim(&[
        "run",
        batch.to_str().unwrap(),
        "--engine",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_refused(&o, "full disk", &["out.npz", "No space left"]);
    assert_eq!(o.stderr.trim_end().lines().count(), 1, "{}", o.stderr);
    assert_eq!(
        std::fs::read_dir(&mnt).unwrap().count(),
        0,
        "files left on the full disk"
    );
}

/// An interrupted file set leaves neither its temporaries nor a directory it created.
#[test]
fn an_interrupted_file_set_leaves_no_new_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("new-study");
    let args = [
        "study", "--engine", "cpu", "--quiet", "--rounds", "50", "--k", "1", "--vocab", "16",
        "--out",
    ];
    let ok = interrupt_held(&args, &out, "INT", || {
        out.exists() && !leftovers(&out).is_empty()
    });
    assert!(!ok);
    assert!(
        !out.exists(),
        "the interrupted study left {}",
        out.display()
    );
}
