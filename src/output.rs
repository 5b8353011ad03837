//! How box shows things: Docker's table layout, human sizes and ages, and progress
//! bars on a terminal. Data goes to stdout; progress and messages to stderr.
//!
//! Messages: errors, warnings, hints and the `--log-level` diagnostics all go through
//! [`message`], so that one place decides what is shown (the level) and how (colour
//! only on a terminal, never with `NO_COLOR`). No logging crate: box's diagnostics are
//! a handful of lines, and the library's dependencies (oci-client's `tracing`) stay
//! silent unless a subscriber is installed, which box never does.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::image::pull::Progress;

pub mod format;

/// Columns padded like Docker's tabwriter: each as wide as its widest cell plus three.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let last = cells.len() - 1;
        for (i, c) in cells.iter().enumerate() {
            out.push_str(c);
            if i < last {
                out.push_str(&" ".repeat(widths[i] - c.chars().count() + 3));
            }
        }
        out.push('\n');
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// Docker's `HumanSizeWithPrecision(size, 3)`: decimal units, three significant digits.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    format!("{}{}", three_significant(v), UNITS[i])
}

/// Go's `%.3g` for the values sizes take (0 ≤ v < 1000).
fn three_significant(v: f64) -> String {
    let decimals = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    // Rounding may carry into a fourth digit (999.6 -> "1000"); Go prints 1e+03.
    if s == "1000" {
        "1e+03".into()
    } else {
        s
    }
}

/// Docker's `HumanDuration`, as in "Up 3 minutes" and "2 days ago".
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    let minutes = s / 60;
    let hours = (s as f64 / 3600.0 + 0.5) as i64;
    match () {
        _ if s < 1 => "Less than a second".into(),
        _ if s == 1 => "1 second".into(),
        _ if s < 60 => format!("{s} seconds"),
        _ if minutes == 1 => "About a minute".into(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", s / 3600 / 24 / 365),
    }
}

/// "2 days ago" for an RFC 3339 time, or "N/A" when unknown.
pub fn ago(rfc3339: Option<&str>) -> String {
    match rfc3339.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()) {
        Some(t) => format!(
            "{} ago",
            human_duration((chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds())
        ),
        None => "N/A".into(),
    }
}

/// Whether stderr is a terminal that should get progress bars.
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// How much box says on stderr, from `--log-level`: each level includes the ones after
/// it. Errors are always shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug = 0,
    Info = 1,
    Warn = 2,
    Error = 3,
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Warn as u8);

pub fn set_log_level(level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

/// Whether a message of `level` is shown; lets callers skip formatting debug lines.
pub fn log_enabled(level: Level) -> bool {
    level == Level::Error || level as u8 >= LEVEL.load(Ordering::Relaxed)
}

/// Colour on stderr: only on a terminal, and never when `NO_COLOR` is set to anything
/// (<https://no-color.org>) or the terminal is `dumb`.
pub fn stderr_color() -> bool {
    static COLOR: OnceLock<bool> = OnceLock::new();
    *COLOR.get_or_init(|| {
        std::io::stderr().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
    })
}

/// Since the process started, for debug lines: where the time goes.
fn elapsed() -> std::time::Duration {
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}

/// Starts the clock of debug lines' timestamps (call early in `main`).
pub fn start_clock() {
    let _ = elapsed();
}

/// One message on stderr, as one write (so lines of concurrent threads never mix):
/// `Error: ...` in red, `WARNING: ...` in yellow, `hint: ...`, and `DEBUG[+0.012s] ...`
/// / `INFO: ...` when the level asks for them.
pub fn message(kind: Kind, text: &str) {
    let (level, label, colour) = match kind {
        Kind::Error => (Level::Error, "Error:".to_string(), "1;31"),
        Kind::Hint => (Level::Error, "hint:".to_string(), "36"),
        Kind::Warning => (Level::Warn, "WARNING:".to_string(), "33"),
        Kind::Info => (Level::Info, "INFO:".to_string(), "34"),
        Kind::Debug => (
            Level::Debug,
            format!("DEBUG[+{:.3}s]", elapsed().as_secs_f64()),
            "2",
        ),
    };
    if !log_enabled(level) {
        return;
    }
    let line = if stderr_color() {
        format!("\x1b[{colour}m{label}\x1b[0m {text}\n")
    } else {
        format!("{label} {text}\n")
    };
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Error,
    Hint,
    Warning,
    Info,
    Debug,
}

/// `box --log-level debug` diagnostics: `boxc::debug!("GET {url}")`. Formats nothing
/// unless the level is on.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => {
        if $crate::output::log_enabled($crate::output::Level::Debug) {
            $crate::output::message($crate::output::Kind::Debug, &format!($($arg)*));
        }
    };
}

/// `box --log-level info` messages.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => {
        if $crate::output::log_enabled($crate::output::Level::Info) {
            $crate::output::message($crate::output::Kind::Info, &format!($($arg)*));
        }
    };
}

/// One bar per layer, as Docker draws them.
pub struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    pub fn new() -> Bars {
        Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Mutex::new(HashMap::new()),
        }
    }

    fn bar(&self, digest: &str) -> ProgressBar {
        let mut bars = self.bars.lock().expect("progress lock");
        bars.entry(digest.to_string())
            .or_insert_with(|| {
                let b = self.multi.add(ProgressBar::new(0));
                b.set_style(
                    ProgressStyle::with_template(
                        "{prefix}: {msg:<16} [{bar:30}] {bytes}/{total_bytes}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
                b.set_prefix(crate::image::store::short_id(digest).to_string());
                b
            })
            .clone()
    }
}

impl Bars {
    /// Ends the bar block with a newline, so what follows starts on its own line.
    pub fn finish(&self) {
        if !self.bars.lock().expect("progress lock").is_empty() {
            eprintln!();
        }
    }
}

impl Default for Bars {
    fn default() -> Self {
        Bars::new()
    }
}

impl Progress for Bars {
    fn layer_start(&self, digest: &str, size: u64) {
        let b = self.bar(digest);
        b.set_length(size);
        b.set_message("Downloading");
    }
    fn layer_bytes(&self, digest: &str, n: u64) {
        self.bar(digest).inc(n);
    }
    fn layer_done(&self, digest: &str, status: &str) {
        let b = self.bar(digest);
        b.set_style(ProgressStyle::with_template("{prefix}: {msg}").expect("valid template"));
        b.finish_with_message(status.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_docker() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(1000), "1kB");
        assert_eq!(human_size(4_261_000), "4.26MB");
        assert_eq!(human_size(77_900_000), "77.9MB");
        assert_eq!(human_size(123_456_789), "123MB");
    }

    #[test]
    fn durations_like_docker() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(45), "45 seconds");
        assert_eq!(human_duration(60), "About a minute");
        assert_eq!(human_duration(3 * 60), "3 minutes");
        assert_eq!(human_duration(3600), "About an hour");
        assert_eq!(human_duration(5 * 3600), "5 hours");
        assert_eq!(human_duration(3 * 86400), "3 days");
        assert_eq!(human_duration(3 * 7 * 86400), "3 weeks");
        assert_eq!(human_duration(90 * 86400), "3 months");
        assert_eq!(human_duration(3 * 365 * 86400), "3 years");
    }

    #[test]
    fn levels_include_the_more_severe() {
        set_log_level(Level::Error);
        assert!(!log_enabled(Level::Warn) && log_enabled(Level::Error));
        set_log_level(Level::Debug);
        assert!(log_enabled(Level::Debug) && log_enabled(Level::Warn));
        set_log_level(Level::Warn);
        assert!(!log_enabled(Level::Info) && log_enabled(Level::Warn));
    }

    #[test]
    fn pads_columns() {
        let t = table(&["A", "BB"], &[vec!["xxxx".into(), "y".into()]]);
        assert_eq!(t, "A      BB\nxxxx   y\n");
    }
}
