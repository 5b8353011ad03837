//! `box cp`: files between a container and the host, as Docker's, without a daemon.
//!
//! The two sides exchange a tar stream over a pipe. `box cp` itself stays on the host;
//! a forked child moves into the container's view of the world first and only then
//! touches a path:
//! - a running container: the child joins its user namespace (as root there) and its
//!   mount namespace, whose root becomes the child's root;
//! - a stopped one: the child makes a user namespace with the container's mapping, a
//!   mount namespace of its own, mounts the container's root filesystem as the
//!   container's init does, and chroots into it.
//!
//! Either way every path the child resolves, symlinks included, resolves inside the
//! container: a container's `/hostroot -> /` is the container's `/`, never the host's.
//! On the host side the archive that came out of the container is untrusted: it is
//! unpacked beneath the destination with `openat2(RESOLVE_BENEATH)`, and absolute
//! paths, `..` and symlinks leading out are refused (the same rules apply inside the
//! container, where they cost nothing).
//!
//! Files copied in belong to the container's root (uid 0 inside), files copied out to
//! the user running box: Docker's defaults.
//!
//! This module holds the entry points and the errors: the forked child and its way
//! into the container are in `child`, the archive's making in `send`, where an
//! archive lands in `receive`, and the unpacking beneath a directory in `extract`.
//! Nothing here prints: errors go back to the caller (`cli/cp.rs`), which reports
//! them once.

mod child;
mod extract;
mod receive;
mod send;

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use thiserror::Error;

use super::init;
use super::spec::ContainerSpec;
use child::{spawn, Way};
pub use receive::{receive, receive_stream};
use send::send;

#[derive(Debug, Error)]
pub enum CpError {
    #[error("Could not find the file {path}{place}")]
    NotFound { path: String, place: String },
    #[error("{path}{place} is not a directory")]
    NotADirectory { path: String, place: String },
    #[error("destination directory {path}{place} does not exist")]
    NoDestDir { path: String, place: String },
    #[error("cannot copy a directory to {path}{place}: it is not a directory")]
    DirOntoFile { path: String, place: String },
    #[error("cannot overwrite {what} {path}{place} with a {with}")]
    Conflict {
        what: &'static str,
        path: String,
        place: String,
        with: &'static str,
    },
    #[error(
        "archive entry {entry:?} would land outside {dest}{place} ({reason}); refusing the archive"
    )]
    Escape {
        entry: String,
        dest: String,
        place: String,
        reason: &'static str,
    },
    #[error("{op} {path}{place}: {source}")]
    Io {
        op: &'static str,
        path: String,
        place: String,
        source: io::Error,
    },
    #[error("reading the archive: {0}")]
    Archive(io::Error),
    #[error("writing the archive: {0}")]
    Send(io::Error),
    #[error("cannot enter container {name}: {what}: {source}")]
    Enter {
        name: String,
        what: &'static str,
        source: io::Error,
    },
    #[error("cannot mount the root filesystem of container {name}: {source}")]
    Mount {
        name: String,
        source: init::InitError,
    },
    #[error("box cp on a stopped container with the fuse-overlayfs driver is not implemented yet")]
    FuseOverlayStopped,
    #[error("cannot start the copying process: {0}")]
    Fork(io::Error),
    /// What the process in the container reported.
    #[error("{0}")]
    Container(String),
}

impl CpError {
    /// Whether this only says that the other side of the pipe went away: then the
    /// other side's own error is the one worth reporting (or, for `box cp c:/x - |
    /// head`, none at all).
    pub fn is_broken_pipe(&self) -> bool {
        let io = match self {
            CpError::Io { source, .. } => source,
            CpError::Archive(e) | CpError::Send(e) => e,
            _ => return false,
        };
        io.kind() == io::ErrorKind::BrokenPipe
    }
}

fn io_err(
    op: &'static str,
    path: impl AsRef<Path>,
    place: &str,
) -> impl FnOnce(io::Error) -> CpError {
    let path = path.as_ref().display().to_string();
    let place = place.to_string();
    move |source| {
        if source.kind() == io::ErrorKind::NotFound && op == "stat" {
            CpError::NotFound { path, place }
        } else {
            CpError::Io {
                op,
                path,
                place,
                source,
            }
        }
    }
}

/// A container to copy from or into.
pub struct Target<'a> {
    pub spec: &'a ContainerSpec,
    /// The name as the user wrote it, for messages.
    pub name: &'a str,
    /// While it runs: host pids of its first process and of its shim. `None` for a
    /// stopped container, which the caller must hold (`Containers::try_lock`) so that
    /// no shim mounts the same upper directory meanwhile.
    pub running: Option<(i32, Option<i32>)>,
}

impl Target<'_> {
    fn place(&self) -> String {
        format!(" in container {}", self.name)
    }
}

/// Where copied-out files go on the host.
pub enum LocalDest<'a> {
    Path(&'a Path),
    /// `-`: the tar archive itself.
    Stream(&'a mut dyn Write),
}

/// What is copied into a container.
pub enum LocalSrc<'a> {
    Path(&'a Path),
    /// `-`: a tar archive, extracted in the destination directory.
    Stream(&'a mut dyn Read),
}

/// Copies `src` (an absolute path in the container) to the host. `follow`: a symlink
/// at `src` itself is followed (inside the container).
pub fn copy_out(t: &Target, src: &str, follow: bool, dest: LocalDest) -> Result<(), CpError> {
    let way = Way::prepare(t)?;
    let (r, w) = pipe()?;
    let place = t.place();
    let contents_only = contents_only(src);
    let src = src.to_string();
    let child = spawn(t, &way, w, r.as_raw_fd(), move |out| {
        send(out, &src, follow, &place)
    })?;
    let host = match dest {
        LocalDest::Stream(out) => io::copy(&mut File::from(r), out).map(drop).map_err(io_err(
            "write",
            "standard output",
            "",
        )),
        LocalDest::Path(p) => receive(File::from(r), &p.to_string_lossy(), contents_only, ""),
    };
    // The read end is closed here: a child still writing gets EPIPE, not a hang.
    let sent = child.finish();
    settle(sent, host)
}

/// Copies `src` from the host into the container at `dest` (an absolute path there).
pub fn copy_in(t: &Target, src: LocalSrc, follow: bool, dest: &str) -> Result<(), CpError> {
    let way = Way::prepare(t)?;
    let (r, w) = pipe()?;
    let place = t.place();
    let dest = dest.to_string();
    let contents_only = match &src {
        LocalSrc::Path(p) => Some(contents_only(&p.to_string_lossy())),
        LocalSrc::Stream(_) => None,
    };
    let child = spawn(
        t,
        &way,
        r,
        w.as_raw_fd(),
        move |input| match contents_only {
            Some(c) => receive(input, &dest, c, &place),
            None => receive_stream(input, &dest, &place),
        },
    )?;
    let mut out = File::from(w);
    let host = match src {
        LocalSrc::Path(p) => send(&mut out, &p.to_string_lossy(), follow, ""),
        LocalSrc::Stream(input) => io::copy(input, &mut out).map(drop).map_err(CpError::Send),
    };
    drop(out);
    let received = child.finish();
    // The sender's own failure explains the receiver's (a truncated archive); a
    // receiver that gave up first leaves the sender only a broken pipe.
    match host {
        Err(e) if !e.is_broken_pipe() => Err(e),
        host => received.and(host),
    }
}

/// Copy-out: the child sent. Its real failure comes first; a host that stopped
/// reading leaves it only a broken pipe.
fn settle(sent: Result<(), CpError>, host: Result<(), CpError>) -> Result<(), CpError> {
    match sent {
        Err(e) if !e.is_broken_pipe() => Err(e),
        sent => host.and(sent),
    }
}

fn contents_only(path: &str) -> bool {
    path == "." || path.ends_with("/.")
}

fn pipe() -> Result<(OwnedFd, OwnedFd), CpError> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| CpError::Fork(e.into()))
}

/// A fresh directory for a unit test.
#[cfg(test)]
fn tmp(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "box-cp-{tag}-{}-{:x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}
