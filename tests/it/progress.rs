//! Progress where no terminal is: `verify`, `run` and `study` print one line on stderr at most
//! every `SPECSIM_PROGRESS_SECONDS` (10 by default) with rounds done / total, rounds/s and the
//! ETA; `--quiet` silences them; a short job under the default interval prints none.

use crate::common::specsim_env;

fn progress_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("rounds/s") && l.contains("ETA"))
        .collect()
}

#[test]
fn long_jobs_print_progress_lines_off_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let batch = dir.path().join("b");
    let b = batch.to_str().unwrap();
    let save = specsim_env(
        &[
            "verify",
            "--generate",
            "600",
            "--k",
            "3",
            "--vocab",
            "64",
            "--cpu-only",
            "--save",
            b,
        ],
        &[],
    );
    assert_eq!(save.code, 0, "{}{}", save.stdout, save.stderr);
    let every = [("SPECSIM_PROGRESS_SECONDS", "0")];
    let out = dir.path().join("study");
    let jobs: [Vec<&str>; 3] = [
        vec![
            "verify",
            "--generate",
            "3000",
            "--k",
            "4",
            "--vocab",
            "64",
            "--chunk",
            "500",
            "--cpu-only",
        ],
        vec!["run", b, "--engine", "cpu"],
        vec![
            "study",
            "--engine",
            "cpu",
            "--k",
            "1,2",
            "--vocab",
            "64",
            "--rounds",
            "300",
            "--out",
            out.to_str().unwrap(),
        ],
    ];
    for job in &jobs {
        let o = specsim_env(job, &every);
        assert_eq!(o.code, 0, "{job:?}: {}{}", o.stdout, o.stderr);
        let lines = progress_lines(&o.stderr);
        assert!(
            !lines.is_empty(),
            "{job:?}: no progress line in {:?}",
            o.stderr
        );
        let cmd = job[0];
        assert!(
            lines
                .iter()
                .all(|l| l.starts_with(&format!("specsim {cmd}: ")) && l.contains(" rounds (")),
            "{lines:?}"
        );
        // No control characters: a log gets plain lines.
        assert!(
            !o.stderr.contains('\r') && !o.stderr.contains('\u{1b}'),
            "{:?}",
            o.stderr
        );
        // --quiet silences them; the default interval (10 s) prints none for a short job.
        let mut quiet = job.clone();
        quiet.push("--quiet");
        let o = specsim_env(&quiet, &every);
        assert_eq!(o.code, 0, "{quiet:?}: {}", o.stderr);
        assert!(
            progress_lines(&o.stderr).is_empty(),
            "{quiet:?}: {:?}",
            o.stderr
        );
        let o = specsim_env(job, &[]);
        assert!(
            progress_lines(&o.stderr).is_empty(),
            "{job:?}: {:?}",
            o.stderr
        );
    }
    // The last line of a verify counts every round.
    let o = specsim_env(&jobs[0], &every);
    let last = *progress_lines(&o.stderr).last().unwrap();
    assert!(last.contains("3000/3000 rounds (100.0%)"), "{last}");
}
