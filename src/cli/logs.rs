//! `box logs`: reads the container's json-file log (rotated files oldest first) and
//! writes each record to stdout or stderr, as the container wrote it. `-f` follows
//! the file until the container's shim is gone.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
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
    for n in (1..spec.log.max_file.max(1)).rev() {
        read_records(&box_shim::log::rotated(&path, n), &mut records);
    }
    // The current file is read through one handle that `-f` then keeps following.
    let mut reader = std::fs::File::open(&path).ok().map(BufReader::new);
    let mut pending = String::new();
    if let Some(r) = reader.as_mut() {
        read_lines(r, &mut pending, &mut records);
    }
    records.retain(&keep);
    let skip = tail.map_or(0, |n| records.len().saturating_sub(n));
    for r in &records[skip..] {
        out.write(r);
    }
    if !a.follow || until.is_some() {
        return Ok(0);
    }
    let mut inode = file_id(&path);
    loop {
        let alive = containers.shim_alive(&id);
        // Checked before reading: whatever the old file got before its rotation is
        // then read below, before switching to the new one.
        let now_id = file_id(&path);
        let rotated = now_id.is_some() && now_id != inode;
        let mut fresh = Vec::new();
        if let Some(r) = reader.as_mut() {
            read_lines(r, &mut pending, &mut fresh);
        }
        for r in fresh.iter().filter(|r| keep(r)) {
            out.write(r);
        }
        if rotated {
            inode = now_id;
            reader = std::fs::File::open(&path).ok().map(BufReader::new);
            pending.clear();
            continue;
        }
        if !alive {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(50));
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

fn file_id(p: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

fn read_records(p: &Path, out: &mut Vec<Record>) {
    if let Ok(f) = std::fs::File::open(p) {
        read_lines(&mut BufReader::new(f), &mut String::new(), out);
    }
}

/// Reads whole lines; a line still being written stays in `pending` for the next call.
fn read_lines(r: &mut BufReader<std::fs::File>, pending: &mut String, out: &mut Vec<Record>) {
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
