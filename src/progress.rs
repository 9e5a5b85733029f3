//! Progress of a long job, wherever its output goes: on a terminal, indicatif's bar on stderr;
//! otherwise (a log, a notebook, CI) one plain line on stderr at most every
//! [`line_interval`] (10 s by default), with rounds done / total, rounds/s and the ETA; nothing
//! when quiet. The command line and the Python package share it.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// The environment variable that sets the seconds between two progress lines (not on a
/// terminal; default 10). `0` prints a line at every step (tests, debugging).
pub const INTERVAL_VAR: &str = "SPECSIM_PROGRESS_SECONDS";

/// Seconds between two progress lines when stderr is not a terminal: [`INTERVAL_VAR`], or 10.
pub fn line_interval() -> Duration {
    std::env::var(INTERVAL_VAR)
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(Duration::from_secs(10), Duration::from_secs_f64)
}

/// How progress is shown.
enum Show {
    /// Nothing.
    Quiet,
    /// A bar on a terminal.
    Bar(indicatif::ProgressBar),
    /// Plain lines at most every `every`.
    Lines { every: Duration, last: Instant },
}

/// The progress of `total` rounds of work (see the module's documentation).
pub struct Progress {
    show: Show,
    what: String,
    message: String,
    total: u64,
    done: u64,
    start: Instant,
}

impl Progress {
    /// Progress of `total` rounds of `what` (`"verify"`, `"study"`): a bar when stderr is a
    /// terminal, lines otherwise, nothing when `quiet`.
    pub fn new(what: &str, total: u64, quiet: bool) -> Progress {
        let show = if quiet {
            Show::Quiet
        } else if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg} [{bar:30}] {pos}/{len} rounds, {per_sec}, ETA {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            Show::Bar(bar)
        } else {
            Show::Lines {
                every: line_interval(),
                last: Instant::now(),
            }
        };
        Progress::with(show, what, total)
    }

    /// Progress shown as plain lines every `every` whatever stderr is (for tests and for callers
    /// that know their output is a log).
    pub fn lines(what: &str, total: u64, every: Duration) -> Progress {
        let show = Show::Lines {
            every,
            last: Instant::now(),
        };
        Progress::with(show, what, total)
    }

    /// No progress shown.
    pub fn quiet() -> Progress {
        Progress::with(Show::Quiet, "", 0)
    }

    fn with(show: Show, what: &str, total: u64) -> Progress {
        Progress {
            show,
            what: what.to_string(),
            message: String::new(),
            total,
            done: 0,
            start: Instant::now(),
        }
    }

    /// What is being done now (a configuration's label), shown with the next line or on the bar.
    pub fn set_message(&mut self, message: &str) {
        self.message = message.to_string();
        if let Show::Bar(bar) = &self.show {
            bar.set_message(message.to_string());
        }
    }

    /// `n` more rounds done.
    pub fn inc(&mut self, n: u64) {
        self.done += n;
        match &mut self.show {
            Show::Quiet => {}
            Show::Bar(bar) => bar.inc(n),
            Show::Lines { every, last } => {
                let now = Instant::now();
                if now.duration_since(*last) >= *every {
                    *last = now;
                    let line = self.line(now);
                    // A closed stderr must not stop the work.
                    let _ = writeln!(std::io::stderr().lock(), "{line}");
                }
            }
        }
    }

    /// The progress line at `now`: `specsim verify: 1200/5000 rounds (24.0%), 310 rounds/s,
    /// ETA 12 s` (and the message, when there is one).
    pub fn line(&self, now: Instant) -> String {
        let secs = now.duration_since(self.start).as_secs_f64();
        let rate = if secs > 0.0 {
            self.done as f64 / secs
        } else {
            0.0
        };
        let left = self.total.saturating_sub(self.done);
        let eta = if rate > 0.0 {
            format_duration(left as f64 / rate)
        } else {
            "unknown".into()
        };
        let pct = if self.total > 0 {
            100.0 * self.done as f64 / self.total as f64
        } else {
            100.0
        };
        let mut s = format!(
            "specsim {}: {}/{} rounds ({pct:.1}%), {rate:.0} rounds/s, ETA {eta}",
            self.what, self.done, self.total
        );
        if !self.message.is_empty() {
            s += &format!(" ({})", self.message);
        }
        s
    }

    /// Rounds done so far.
    pub fn done(&self) -> u64 {
        self.done
    }

    /// Clears the bar (lines need no clearing).
    pub fn finish(&mut self) {
        if let Show::Bar(bar) = &self.show {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// `75 s` → `1 min 15 s`; `4000 s` → `1 h 6 min`.
fn format_duration(secs: f64) -> String {
    let s = secs.round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_says_rounds_rate_and_eta() {
        let mut p = Progress::lines("verify", 1000, Duration::from_secs(3600));
        p.set_message("kary:3,3 rrs");
        p.inc(250);
        let later = p.start + Duration::from_secs(10);
        let line = p.line(later);
        assert_eq!(
            line,
            "specsim verify: 250/1000 rounds (25.0%), 25 rounds/s, ETA 30 s (kary:3,3 rrs)"
        );
        assert_eq!(format_duration(75.0), "1 min 15 s");
        assert_eq!(format_duration(4000.0), "1 h 6 min");
    }

    #[test]
    fn the_interval_defaults_to_ten_seconds() {
        // The variable is read, not set, here (tests share the environment).
        if std::env::var_os(INTERVAL_VAR).is_none() {
            assert_eq!(line_interval(), Duration::from_secs(10));
        }
    }
}
