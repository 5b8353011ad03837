//! Helpers for the tests of containers' lives (lifecycle, attach, logs, survival):
//! detached containers, their state as `inspect` and `ps` say it, and waiting.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::*;

/// `box run -d [FLAGS] busybox sh -c SCRIPT`, returning the full id.
pub fn detached(sb: &Sandbox, flags: &[&str], script: &str) -> String {
    let img = bb();
    let mut args = vec!["run", "-d"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&[img.as_str(), "sh", "-c", script]);
    let id = sb.ok(&args).stdout().trim().to_string();
    assert!(
        id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "run -d prints the full id: {id:?}"
    );
    id
}

pub fn inspect(sb: &Sandbox, name: &str) -> Value {
    let out = sb.ok(&["inspect", name]).stdout();
    let v: Value = serde_json::from_str(&out).unwrap();
    v[0].clone()
}

pub fn status(sb: &Sandbox, name: &str) -> String {
    inspect(sb, name)["State"]["Status"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Polls `cond` until it holds, for at most `secs` seconds.
pub fn eventually(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The STATUS column of `box ps -a` for one container.
pub fn ps_status(sb: &Sandbox, name: &str) -> String {
    let out = sb
        .ok(&["ps", "-a", "--filter", &format!("name=^{name}$")])
        .stdout();
    let header = out.lines().next().unwrap();
    let col = header.find("STATUS").unwrap();
    let end = header.find("PORTS").unwrap();
    let line = out
        .lines()
        .skip(1)
        .find(|l| l.trim_end().ends_with(name))
        .unwrap_or_else(|| panic!("{name} not in ps -a:\n{out}"));
    line[col..end].trim().to_string()
}

/// How many processes' command lines contain `marker`.
pub fn processes_with(marker: &str) -> usize {
    let out = Command::new("pgrep").args(["-f", marker]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

/// Sends `sig` to a process of the host.
pub fn signal(pid: i64, sig: rustix::process::Signal) {
    rustix::process::kill_process(rustix::process::Pid::from_raw(pid as i32).unwrap(), sig)
        .unwrap();
}

/// The pid of the container's shim, as `inspect` says it.
pub fn shim_pid(sb: &Sandbox, name: &str) -> i64 {
    inspect(sb, name)["Box"]["ShimPid"].as_i64().unwrap()
}

/// A marker for a container's process that no other test uses: `sleep N`.
pub fn marker() -> String {
    format!("sleep {}", 1000 + rand::random::<u16>() as u32)
}
