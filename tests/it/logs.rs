//! Containers' logs: Docker's json-file lines, both streams kept apart, `--tail`,
//! `--since`, `-t`, `-f`, and the cap on their size (`--log-opt`, `[logs]` in
//! config.toml) with rotation that `-f` follows.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::ctr::*;
use crate::harness::*;

fn logs(user: User) {
    let sb = Sandbox::new(user);
    let id = detached(
        &sb,
        &["--name", "talk"],
        "for i in 1 2 3; do echo out$i; echo err$i >&2; done; printf partial",
    );
    assert_eq!(sb.ok(&["wait", &id]).stdout(), "0\n");
    let o = sb.ok(&["logs", "talk"]);
    assert_eq!(o.stdout(), "out1\nout2\nout3\npartial");
    assert_eq!(o.stderr(), "err1\nerr2\nerr3\n");
    // Each stream keeps its order; between the two, the order is the shim's reading.
    let id = detached(
        &sb,
        &["--name", "lines"],
        "for i in 1 2 3 4; do echo line$i; done",
    );
    sb.ok(&["wait", &id]);
    assert_eq!(
        sb.ok(&["logs", "--tail", "2", "lines"]).stdout(),
        "line3\nline4\n"
    );
    assert_eq!(sb.ok(&["logs", "--tail", "0", "lines"]).stdout(), "");
    let o = sb.ok(&["logs", "-t", "--tail", "1", "lines"]);
    let (time, text) = o
        .stdout()
        .split_once(' ')
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .unwrap();
    assert!(time.starts_with("20") && time.ends_with('Z'), "{time}");
    assert_eq!(text, "line4\n");
    assert_eq!(
        sb.ok(&["logs", "--since", "1h", "lines"])
            .stdout()
            .lines()
            .count(),
        4
    );
    assert_eq!(
        sb.ok(&["logs", "--since", "2999-01-01T00:00:00Z", "talk"])
            .stdout(),
        ""
    );
    sb.run(&["logs", "--since", "yesterday", "talk"])
        .fails_with("invalid time");

    // -f follows until the container ends.
    detached(
        &sb,
        &["--name", "slow"],
        "for i in 1 2 3; do echo tick$i; sleep 0.3; done",
    );
    let started = Instant::now();
    let o = sb.ok(&["logs", "-f", "slow"]);
    assert_eq!(o.stdout(), "tick1\ntick2\ntick3\n");
    assert!(started.elapsed() < Duration::from_secs(10));
}
per_user!(logs, logs);

/// A chatty container's log stays under its cap: rotated files, the oldest dropped.
fn log_rotation(user: User) {
    let sb = Sandbox::new(user);
    let id = detached(
        &sb,
        &[
            "--name",
            "chatty",
            "--log-opt",
            "max-size=2k",
            "--log-opt",
            "max-file=2",
        ],
        "i=0; while [ $i -lt 400 ]; do echo line-$i; i=$((i+1)); done",
    );
    sb.ok(&["wait", &id]);
    let dir = sb.store().join("containers").join(&id);
    let size = |n: &str| std::fs::metadata(dir.join(n)).map(|m| m.len()).ok();
    assert!(size("ctr.log").unwrap() <= 2048);
    assert!(size("ctr.log.1").unwrap() <= 2048);
    assert_eq!(size("ctr.log.2"), None, "max-file=2 keeps two files");
    let out = sb.ok(&["logs", "chatty"]).stdout();
    assert!(out.ends_with("line-399\n"), "{out}");
    assert!(!out.contains("line-0\n"), "the oldest lines were dropped");
    let lines: Vec<&str> = out.lines().collect();
    let first: usize = lines[0].trim_start_matches("line-").parse().unwrap();
    assert_eq!(lines.len(), 400 - first, "nothing missing in between");
    assert_eq!(
        inspect(&sb, "chatty")["HostConfig"]["LogConfig"]["Config"]["max-size"],
        "2048"
    );
    sb.run(&["run", "-d", "--log-opt", "mode=fast", &bb(), "true"])
        .fails_with("invalid log option");
}
per_user!(log_rotation, log_rotation);

/// `[logs]` in config.toml caps every new container's log, unless `--log-opt` says
/// otherwise.
fn logs_config(user: User) {
    let sb = Sandbox::new(user);
    sb.write(
        "config/box/config.toml",
        "[logs]\nmax-size = \"1k\"\nmax-file = 2\n",
    );
    let script = "i=0; while [ $i -lt 200 ]; do echo line-$i; i=$((i+1)); done";
    let id = detached(&sb, &["--name", "capped"], script);
    sb.ok(&["wait", &id]);
    let cfg = inspect(&sb, "capped")["HostConfig"]["LogConfig"]["Config"].clone();
    assert_eq!(
        (cfg["max-size"].as_str(), cfg["max-file"].as_str()),
        (Some("1024"), Some("2"))
    );
    let dir = sb.store().join("containers").join(&id);
    let size = |n: &str| std::fs::metadata(dir.join(n)).map(|m| m.len()).ok();
    assert!(size("ctr.log").unwrap() <= 1024);
    assert!(size("ctr.log.1").unwrap() <= 1024);
    assert_eq!(size("ctr.log.2"), None, "max-file = 2 keeps two files");
    assert!(sb.ok(&["logs", "capped"]).stdout().ends_with("line-199\n"));
    // --log-opt wins over the file.
    let id = detached(&sb, &["--log-opt", "max-file=4"], script);
    sb.ok(&["wait", &id]);
    let cfg = inspect(&sb, &id)["HostConfig"]["LogConfig"]["Config"].clone();
    assert_eq!(
        (cfg["max-size"].as_str(), cfg["max-file"].as_str()),
        (Some("1024"), Some("4"))
    );
    assert!(sb
        .store()
        .join("containers")
        .join(&id)
        .join("ctr.log.3")
        .exists());
    sb.write("config/box/config.toml", "[logs]\nmax-size = \"lots\"\n");
    sb.run(&["run", "-d", &bb(), "true"])
        .fails_with("invalid log option");
}
per_user!(logs_config, logs_config);

/// `logs -f` across rotations, several between two of its looks: every line once,
/// in order.
fn logs_follow_rotation(user: User) {
    let sb = Sandbox::new(user);
    // Bursts of 40 lines (about three 1k files each), then a pause; eight files kept,
    // so that only missing a rotation (not the cap) could lose lines.
    let script = "sleep 1; i=0; while [ $i -lt 400 ]; do echo line-$i; i=$((i+1)); \
                  [ $((i % 40)) -eq 0 ] && sleep 0.3; done; true";
    let flags = [
        "--name",
        "spin",
        "--log-opt",
        "max-size=1k",
        "--log-opt",
        "max-file=8",
    ];
    detached(&sb, &flags, script);
    let follow = sb
        .cmd(&["logs", "-f", "spin"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    let o = follow.wait_with_output().unwrap();
    assert!(o.status.success(), "{o:?}");
    assert!(t.elapsed() < Duration::from_secs(60));
    let got: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    let want: Vec<String> = (0..400).map(|i| format!("line-{i}")).collect();
    assert_eq!(got.len(), want.len(), "every line once");
    assert_eq!(got, want);
    let dir = sb
        .store()
        .join("containers")
        .join(inspect(&sb, "spin")["Id"].as_str().unwrap());
    assert!(dir.join("ctr.log.7").exists(), "it did rotate");
}
per_user!(logs_follow_rotation, logs_follow_rotation);
