//! The container's log: Docker's json-file format, one record per line of output, kept
//! under a size cap by rotation, so that a chatty container cannot fill the disk.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::proto;

/// Where and how much to log. `max_size` 0 means no cap.
#[derive(Debug, Clone)]
pub struct LogConfig {
    pub path: PathBuf,
    pub max_size: u64,
    /// How many files to keep in all, the current one included (`ctr.log`,
    /// `ctr.log.1`, ...); with 1, the file starts over when it is full.
    pub max_files: u32,
}

pub struct Log {
    cfg: LogConfig,
    file: Option<File>,
    size: u64,
}

/// The path of the `n`th rotated file (0 is the current one).
pub fn rotated(path: &Path, n: u32) -> PathBuf {
    if n == 0 {
        return path.to_path_buf();
    }
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

impl Log {
    pub fn open(cfg: LogConfig) -> Log {
        let file = File::options()
            .create(true)
            .append(true)
            .open(&cfg.path)
            .ok();
        let size = file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map_or(0, |m| m.len());
        Log { cfg, file, size }
    }

    /// Logs what the container wrote on `kind` (stdout or stderr): one record per
    /// line; a last line without its newline is a record of its own, as Docker's
    /// partial messages.
    pub fn write(&mut self, kind: u8, bytes: &[u8]) {
        let time = rfc3339_now();
        for line in bytes.split_inclusive(|b| *b == b'\n') {
            let rec = record(kind, line, &time);
            if self.cfg.max_size > 0 && self.size + rec.len() as u64 > self.cfg.max_size {
                self.rotate();
            }
            if let Some(f) = self.file.as_mut() {
                if f.write_all(rec.as_bytes()).is_ok() {
                    self.size += rec.len() as u64;
                }
            }
        }
    }

    fn rotate(&mut self) {
        let path = &self.cfg.path;
        if self.cfg.max_files > 1 {
            for n in (1..self.cfg.max_files).rev() {
                let _ = std::fs::rename(rotated(path, n - 1), rotated(path, n));
            }
            self.file = File::options().create(true).append(true).open(path).ok();
        } else {
            self.file = File::options()
                .create(true)
                .write(true)
                .truncate(true)
                .open(path)
                .ok();
        }
        self.size = 0;
    }
}

/// One log record in Docker's json-file format.
fn record(kind: u8, bytes: &[u8], time: &str) -> String {
    let stream = if kind == proto::STDERR {
        "stderr"
    } else {
        "stdout"
    };
    let mut s = String::with_capacity(bytes.len() + 64);
    s.push_str("{\"log\":\"");
    for ch in String::from_utf8_lossy(bytes).chars() {
        match ch {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if (c as u32) < 0x20 => s.push_str(&format!("\\u{:04x}", c as u32)),
            c => s.push(c),
        }
    }
    s.push_str("\",\"stream\":\"");
    s.push_str(stream);
    s.push_str("\",\"time\":\"");
    s.push_str(time);
    s.push_str("\"}\n");
    s
}

/// UTC now as RFC 3339 with nanoseconds, without a date library.
fn rfc3339_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Howard Hinnant's days-to-civil.
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_nanos()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_json_lines() {
        let l = record(proto::STDERR, b"a\"b\n", "T");
        assert_eq!(
            l,
            "{\"log\":\"a\\\"b\\n\",\"stream\":\"stderr\",\"time\":\"T\"}\n"
        );
        assert!(record(proto::STDOUT, b"\x01", "T").contains("\\u0001"));
        assert!(rfc3339_now().ends_with('Z'));
    }

    #[test]
    fn rotation_keeps_the_cap() {
        let dir = std::env::temp_dir().join(format!("box-shim-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ctr.log");
        let mut log = Log::open(LogConfig {
            path: path.clone(),
            max_size: 1000,
            max_files: 3,
        });
        for i in 0..200 {
            log.write(proto::STDOUT, format!("line {i}\n").as_bytes());
        }
        let sizes: Vec<u64> = (0..4)
            .map(|n| std::fs::metadata(rotated(&path, n)).map_or(0, |m| m.len()))
            .collect();
        assert!(sizes[..3].iter().all(|s| *s > 0 && *s <= 1000), "{sizes:?}");
        assert_eq!(sizes[3], 0, "only three files are kept");
        let last = std::fs::read_to_string(&path).unwrap();
        assert!(last.contains("line 199\\n"), "{last}");
        // Each line is a record of its own, split from one chunk too.
        log.write(proto::STDOUT, b"x\ny");
        let last = std::fs::read_to_string(&path).unwrap();
        assert!(last.contains("{\"log\":\"x\\n\"") && last.contains("{\"log\":\"y\""));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
