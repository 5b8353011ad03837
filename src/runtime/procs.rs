//! A container's processes as the host sees them: every process in the container's
//! pid namespace, found through `/proc` (there is no daemon that keeps a list, and a
//! container's processes may fork and exit at any time).

use std::io;
use std::os::unix::fs::MetadataExt;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ProcsError {
    #[error("cannot read the pid namespace of process {pid}: {source}")]
    Namespace { pid: i32, source: io::Error },
    #[error("cannot list /proc: {0}")]
    List(io::Error),
}

/// Host pids of the processes in the pid namespace of `pid` (the container's first
/// process), in ascending order. Namespaces are compared by device and inode, as the
/// kernel identifies them; processes that end while listed, or whose namespace this
/// user may not read, are left out.
pub fn in_pid_namespace_of(pid: i32) -> Result<Vec<i32>, ProcsError> {
    let ns = |p: i32| std::fs::metadata(format!("/proc/{p}/ns/pid")).map(|m| (m.dev(), m.ino()));
    let target = ns(pid).map_err(|source| ProcsError::Namespace { pid, source })?;
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")
        .map_err(ProcsError::List)?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&p| ns(p).is_ok_and(|n| n == target))
        .collect();
    pids.sort_unstable();
    Ok(pids)
}

/// A process's parent, from `/proc/PID/stat`.
pub fn parent_of(pid: i32) -> Option<i32> {
    stat_after_name(pid)?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Whether process `pid` exists and has not exited (a zombie has).
pub fn living(pid: i32) -> bool {
    stat_after_name(pid)
        .and_then(|rest| rest.split_whitespace().next().map(str::to_string))
        .is_some_and(|state| state != "Z" && state != "X")
}

/// The fields of `/proc/PID/stat` after the command name (state, parent, ...): the
/// name is in parentheses and may hold spaces and parentheses itself.
fn stat_after_name(pid: i32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(stat[stat.rfind(')')? + 1..].to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_process_shares_its_namespace() {
        let me = std::process::id() as i32;
        let pids = super::in_pid_namespace_of(me).unwrap();
        assert!(pids.contains(&me));
        assert!(super::in_pid_namespace_of(-5).is_err());
    }
}
