//! `box logs`: reads the container's json-file log (rotated files oldest first) and
//! writes each record to stdout or stderr, as the container wrote it. `-f` follows
//! the file until the container's shim is gone.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use boxc::container::Containers;

use super::Ctx;

#[derive(clap::Args)]
pub struct Args {
    /// Follow log output
    #[arg(short, long)]
    follow: bool,
    /// Number of lines to show from the end of the logs ("all" for all)
    #[arg(short = 'n', long, default_value = "all")]
    tail: String,
    /// Show timestamps
    #[arg(short, long)]
    timestamps: bool,
    /// Show logs since a time (RFC 3339, Unix seconds) or a duration ago (e.g. 42m, 1h30m)
    #[arg(long)]
    since: Option<String>,
    /// Show logs before a time (RFC 3339, Unix seconds) or a duration ago
    #[arg(long)]
    until: Option<String>,
    container: String,
}

#[derive(Deserialize)]
struct Record {
    log: String,
    stream: String,
    time: String,
}

pub fn run(ctx: &Ctx, a: Args) -> Result<i32> {
    let tail = match a.tail.as_str() {
        "all" | "-1" => None,
        n => Some(
            n.parse::<usize>()
                .with_context(|| format!("invalid --tail {n:?}: give a number or \"all\""))?,
        ),
    };
    let since = a.since.as_deref().map(parse_time).transpose()?;
    let until = a.until.as_deref().map(parse_time).transpose()?;
    let containers = Containers::open(&ctx.dirs.data)?;
    let id = containers.resolve(&a.container)?;
    let spec = containers.spec(&id)?;
    let path = spec.dir.join("ctr.log");

    let keep = |r: &Record| {
        let t = chrono::DateTime::parse_from_rfc3339(&r.time).ok();
        since.is_none_or(|s| t.is_some_and(|t| t >= s))
            && until.is_none_or(|u| t.is_some_and(|t| t <= u))
    };
    let mut out = Output {
        timestamps: a.timestamps,
    };
    let mut records: Vec<Record> = Vec::new();
    let mut log = Chain::new(&path, spec.log.max_file);
    log.read(&mut records);
    records.retain(&keep);
    let skip = tail.map_or(0, |n| records.len().saturating_sub(n));
    for r in &records[skip..] {
        out.write(r);
    }
    if !a.follow || until.is_some() {
        return Ok(0);
    }
    loop {
        // Checked before reading: what the shim wrote before it ended is read below.
        let alive = containers.shim_alive(&id);
        let mut fresh = Vec::new();
        log.read(&mut fresh);
        for r in fresh.iter().filter(|r| keep(r)) {
            out.write(r);
        }
        if !alive {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A container's log files read in order, oldest first, following the shim's
/// rotations (`ctr.log` becomes `ctr.log.1`, ...) by the identity of the file being
/// read: once it has moved, the shim writes no more to it, and the next file is the
/// one just below it. Nothing is read twice, and nothing is missed that the cap kept.
struct Chain {
    path: PathBuf,
    files: u32,
    /// The file being read, its identity, and a line still being written.
    cur: Option<(BufReader<File>, FileId)>,
    pending: String,
}

type FileId = (u64, u64);

impl Chain {
    fn new(path: &Path, files: u32) -> Chain {
        Chain {
            path: path.to_path_buf(),
            files: files.max(1),
            cur: None,
            pending: String::new(),
        }
    }

    /// Where a file is now: 0 for the current one, n for `ctr.log.n`.
    fn index_of(&self, id: FileId) -> Option<u32> {
        (0..self.files).find(|n| file_id(&box_shim::log::rotated(&self.path, *n)) == Some(id))
    }

    fn open(&mut self, n: u32) -> bool {
        let p = box_shim::log::rotated(&self.path, n);
        let Ok(f) = File::open(&p) else { return false };
        let Ok(m) = f.metadata() else { return false };
        self.cur = Some((BufReader::new(f), (m.dev(), m.ino())));
        self.pending.clear();
        true
    }

    /// Reads the whole records there are now, across rotations, into `out`.
    fn read(&mut self, out: &mut Vec<Record>) {
        loop {
            let Some(id) = self.cur.as_ref().map(|c| c.1) else {
                // Nothing read yet: the oldest file there is.
                if !(0..self.files).rev().any(|n| self.open(n)) {
                    return;
                }
                continue;
            };
            // Looked at before reading: a file that has moved is complete.
            let at = self.index_of(id);
            let reader = &mut self.cur.as_mut().expect("checked above").0;
            // A single file starts over when full (`max-file=1`): from its start again.
            let len = reader.get_ref().metadata().map_or(0, |m| m.len());
            if reader.stream_position().is_ok_and(|p| p > len) {
                let _ = reader.seek(SeekFrom::Start(0));
                self.pending.clear();
            }
            read_lines(reader, &mut self.pending, out);
            match at {
                Some(0) => return,
                Some(k) => {
                    // The next file, if no rotation came in between (else look again).
                    let read = self.cur.take();
                    if !self.open(k - 1) {
                        // Between a rotation's rename and its new file: next time.
                        self.cur = read;
                        return;
                    }
                    if self.index_of(id) != Some(k) {
                        self.cur = read;
                    }
                }
                // Ours is gone: every file left is newer; the oldest of them next.
                None => {
                    if !(0..self.files).rev().any(|n| self.open(n)) {
                        return;
                    }
                }
            }
        }
    }
}

struct Output {
    timestamps: bool,
}

impl Output {
    fn write(&mut self, r: &Record) {
        let text = if self.timestamps {
            format!("{} {}", r.time, r.log)
        } else {
            r.log.clone()
        };
        let res = if r.stream == "stderr" {
            let mut e = std::io::stderr().lock();
            e.write_all(text.as_bytes()).and_then(|()| e.flush())
        } else {
            let mut o = std::io::stdout().lock();
            o.write_all(text.as_bytes()).and_then(|()| o.flush())
        };
        if res.is_err() {
            // A closed pipe (`box logs c | head`): nobody reads any more.
            std::process::exit(0);
        }
    }
}

fn file_id(p: &Path) -> Option<FileId> {
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

/// Reads whole lines; a line still being written stays in `pending` for the next call.
fn read_lines(r: &mut BufReader<File>, pending: &mut String, out: &mut Vec<Record>) {
    loop {
        let before = pending.len();
        match r.read_line(pending) {
            Ok(0) | Err(_) => return,
            Ok(_) if !pending.ends_with('\n') => {
                // Not complete yet: leave the cursor at its start for the next call.
                let back = (pending.len() - before) as i64;
                pending.truncate(before);
                let _ = r.seek_relative(-back);
                return;
            }
            Ok(_) => {
                if let Ok(rec) = serde_json::from_str::<Record>(pending.trim_end()) {
                    out.push(rec);
                }
                pending.clear();
            }
        }
    }
}

/// `--since`/`--until`: RFC 3339, Unix seconds, or a Go-style duration before now.
fn parse_time(s: &str) -> Result<chrono::DateTime<chrono::FixedOffset>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t);
    }
    if let Ok(secs) = s.parse::<f64>() {
        if let Some(t) = chrono::DateTime::from_timestamp(secs as i64, 0) {
            return Ok(t.fixed_offset());
        }
    }
    match parse_duration(s) {
        Some(d) => Ok((chrono::Utc::now() - d).fixed_offset()),
        None => bail!("invalid time {s:?}: give RFC 3339 (2026-01-02T15:04:05Z), Unix seconds, or a duration such as 10m or 1h30m"),
    }
}

/// Go's `time.ParseDuration` for the units people type: h, m, s, ms.
fn parse_duration(s: &str) -> Option<chrono::Duration> {
    let mut total = 0f64;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let n: f64 = num.parse().ok()?;
        num.clear();
        let unit = match c {
            'h' => 3600.0,
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                0.001
            }
            'm' => 60.0,
            's' => 1.0,
            _ => return None,
        };
        total += n * unit;
        any = true;
    }
    (any && num.is_empty()).then(|| chrono::Duration::milliseconds((total * 1000.0) as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10m"), Some(chrono::Duration::minutes(10)));
        assert_eq!(parse_duration("1h30m"), Some(chrono::Duration::minutes(90)));
        assert_eq!(
            parse_duration("250ms"),
            Some(chrono::Duration::milliseconds(250))
        );
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("5x"), None);
        assert!(parse_time("2026-01-02T15:04:05Z").is_ok());
        assert!(parse_time("1700000000").is_ok());
        assert!(parse_time("yesterday").is_err());
    }
}
