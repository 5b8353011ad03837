//! Entering a user namespace with box's id mapping, from the calling process itself.
//!
//! Why the whole process moves: unpacking and removing layers must run as root of a
//! namespace whose ids map to the user's subordinate ranges, or file owners would be
//! wrong (and subuid-owned files could not be removed). A process cannot write its own
//! multi-range map, and `newuidmap` must run from outside the namespace, so box forks a
//! helper first, unshares, and lets the helper map it (as util-linux `unshare` does).
//! This must happen while the process is single-threaded: before any async runtime.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::Command;

use nix::sched::CloneFlags;
use thiserror::Error;

use super::idmap::{find_program, IdMapping, IdRange};
use crate::sys;

#[derive(Debug, Error)]
pub enum UsernsError {
    #[error("cannot create a user namespace: {0} (are unprivileged user namespaces disabled? see /proc/sys/user/max_user_namespaces)")]
    Unshare(nix::Error),
    #[error("{helper} failed to map ids for box: {detail}")]
    Helper {
        helper: &'static str,
        detail: String,
    },
    #[error("{helper} not found on PATH (install the uidmap package)")]
    MissingHelper { helper: &'static str },
    #[error("cannot write {file}: {source}")]
    WriteMap {
        file: String,
        source: std::io::Error,
    },
    #[error("cannot become root of the user namespace: {0}")]
    SetId(nix::Error),
    #[error("cannot fork the id-mapping helper: {0}")]
    Fork(std::io::Error),
}

/// Moves this process into a new user namespace with `mapping`, as root inside.
/// Does nothing for [`IdMapping::Host`].
pub fn enter(mapping: &IdMapping) -> Result<(), UsernsError> {
    match mapping {
        IdMapping::Host => Ok(()),
        IdMapping::Single { uid, gid, .. } => {
            nix::sched::unshare(CloneFlags::CLONE_NEWUSER).map_err(UsernsError::Unshare)?;
            write_proc("/proc/self/setgroups", "deny", "setgroups")?;
            write_proc("/proc/self/uid_map", &format!("0 {uid} 1\n"), "uid_map")?;
            write_proc("/proc/self/gid_map", &format!("0 {gid} 1\n"), "gid_map")?;
            become_root()
        }
        IdMapping::Subordinate { uids, gids } => {
            let newuidmap = find_program("newuidmap").ok_or(UsernsError::MissingHelper {
                helper: "newuidmap",
            })?;
            let newgidmap = find_program("newgidmap").ok_or(UsernsError::MissingHelper {
                helper: "newgidmap",
            })?;
            let pid = std::process::id().to_string();
            let uid_cmd = map_command(&newuidmap, &pid, uids);
            let gid_cmd = map_command(&newgidmap, &pid, gids);
            let (go_r, go_w) = nix::unistd::pipe().map_err(|e| UsernsError::Fork(e.into()))?;
            let (err_r, err_w) = nix::unistd::pipe().map_err(|e| UsernsError::Fork(e.into()))?;
            match sys::fork().map_err(UsernsError::Fork)? {
                sys::Forked::Child => {
                    drop(go_w);
                    drop(err_r);
                    helper_child(go_r, err_w, uid_cmd, gid_cmd)
                }
                sys::Forked::Parent { child } => {
                    drop(go_r);
                    drop(err_w);
                    let unshared = nix::sched::unshare(CloneFlags::CLONE_NEWUSER);
                    let mut go = std::fs::File::from(go_w);
                    if unshared.is_ok() {
                        let _ = go.write_all(b"1");
                    }
                    drop(go);
                    let mut detail = String::new();
                    let _ = std::fs::File::from(err_r).read_to_string(&mut detail);
                    let status = nix::sys::wait::waitpid(child, None);
                    unshared.map_err(UsernsError::Unshare)?;
                    let ok = matches!(status, Ok(nix::sys::wait::WaitStatus::Exited(_, 0)));
                    if !ok {
                        let (helper, detail) = detail
                            .split_once('\0')
                            .map(|(h, d)| (h.to_string(), d.trim().to_string()))
                            .unwrap_or(("newuidmap".into(), detail.trim().to_string()));
                        return Err(UsernsError::Helper {
                            helper: if helper == "newgidmap" {
                                "newgidmap"
                            } else {
                                "newuidmap"
                            },
                            detail: if detail.is_empty() {
                                format!("{status:?}")
                            } else {
                                detail
                            },
                        });
                    }
                    become_root()
                }
            }
        }
    }
}

fn map_command(program: &std::path::Path, pid: &str, ranges: &[IdRange]) -> Command {
    let mut cmd = Command::new(program);
    cmd.arg(pid);
    for r in ranges {
        cmd.args([
            r.inside.to_string(),
            r.outside.to_string(),
            r.count.to_string(),
        ]);
    }
    cmd
}

/// The forked helper: still in the parent's namespace, it waits until the parent has
/// unshared, runs the two setuid helpers on it, and reports failure on `err`.
fn helper_child(go: OwnedFd, err: OwnedFd, mut uid_cmd: Command, mut gid_cmd: Command) -> ! {
    let mut byte = [0u8; 1];
    let mut go = std::fs::File::from(go);
    let mut err = std::fs::File::from(err);
    if !matches!(go.read(&mut byte), Ok(1)) {
        sys::exit_child(1);
    }
    for (name, cmd) in [("newuidmap", &mut uid_cmd), ("newgidmap", &mut gid_cmd)] {
        match cmd.output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => {
                let _ = write!(err, "{name}\0{}", String::from_utf8_lossy(&out.stderr));
                sys::exit_child(1);
            }
            Err(e) => {
                let _ = write!(err, "{name}\0{e}");
                sys::exit_child(1);
            }
        }
    }
    sys::exit_child(0)
}

fn write_proc(path: &str, text: &str, _file: &str) -> Result<(), UsernsError> {
    std::fs::write(path, text).map_err(|source| UsernsError::WriteMap {
        file: path.to_string(),
        source,
    })
}

/// Writes the id maps of `pid`, a child that has just created its user namespace;
/// called from outside that namespace (by the shim, for its container).
pub fn map_process(pid: i32, mapping: &IdMapping) -> Result<(), UsernsError> {
    match mapping {
        IdMapping::Host => Ok(()),
        IdMapping::Single { uid, gid, .. } => {
            write_proc(&format!("/proc/{pid}/setgroups"), "deny", "setgroups")?;
            write_proc(
                &format!("/proc/{pid}/uid_map"),
                &format!("0 {uid} 1\n"),
                "uid_map",
            )?;
            write_proc(
                &format!("/proc/{pid}/gid_map"),
                &format!("0 {gid} 1\n"),
                "gid_map",
            )
        }
        IdMapping::Subordinate { uids, gids } => {
            // Both helpers at once: each is a setuid exec on the start path.
            let mut running = Vec::new();
            for (helper, ranges) in [("newuidmap", uids), ("newgidmap", gids)] {
                let name = static_name(helper);
                let prog =
                    find_program(helper).ok_or(UsernsError::MissingHelper { helper: name })?;
                let child = map_command(&prog, &pid.to_string(), ranges)
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .map_err(|e| UsernsError::Helper {
                        helper: name,
                        detail: e.to_string(),
                    })?;
                running.push((name, child));
            }
            let mut failure = None;
            for (helper, child) in running {
                match child.wait_with_output() {
                    Ok(out) if out.status.success() => {}
                    Ok(out) => {
                        let detail = String::from_utf8_lossy(&out.stderr).trim().to_string();
                        failure.get_or_insert(UsernsError::Helper { helper, detail });
                    }
                    Err(e) => {
                        failure.get_or_insert(UsernsError::Helper {
                            helper,
                            detail: e.to_string(),
                        });
                    }
                }
            }
            failure.map_or(Ok(()), Err)
        }
    }
}

fn static_name(h: &str) -> &'static str {
    if h == "newgidmap" {
        "newgidmap"
    } else {
        "newuidmap"
    }
}

/// Joins an existing user namespace (the caller must be single-threaded, and the
/// owner of that namespace or above it) as its root: the user's own id is root there.
pub fn join(ns: impl std::os::fd::AsFd) -> Result<(), String> {
    nix::sched::setns(ns, CloneFlags::CLONE_NEWUSER)
        .map_err(|e| format!("cannot join the user namespace: {e}"))?;
    become_root().map_err(|e| e.to_string())
}

fn become_root() -> Result<(), UsernsError> {
    let root_g = nix::unistd::Gid::from_raw(0);
    let root_u = nix::unistd::Uid::from_raw(0);
    nix::unistd::setresgid(root_g, root_g, root_g).map_err(UsernsError::SetId)?;
    nix::unistd::setresuid(root_u, root_u, root_u).map_err(UsernsError::SetId)?;
    Ok(())
}
