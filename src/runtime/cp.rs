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

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use rustix::fs::{self as rfs, AtFlags, Mode, OFlags, ResolveFlags, Timespec, Timestamps};
use rustix::io::Errno;
use thiserror::Error;

use super::idmap::IdMapping;
use super::spec::ContainerSpec;
use super::{init, userns};
use crate::sys;

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

/// How the child gets into the container, worked out on the host before forking.
enum Way {
    Join { user: Option<OwnedFd>, mnt: OwnedFd },
    Mount,
}

impl Way {
    fn prepare(t: &Target) -> Result<Way, CpError> {
        let enter_err = |what: &'static str| {
            let name = t.name.to_string();
            move |source: io::Error| CpError::Enter { name, what, source }
        };
        let Some((pid, shim)) = t.running else {
            if t.spec.driver == "fuse-overlayfs" {
                return Err(CpError::FuseOverlayStopped);
            }
            return Ok(Way::Mount);
        };
        let open = |ns: &str| {
            File::open(format!("/proc/{pid}/ns/{ns}"))
                .map(OwnedFd::from)
                .map_err(enter_err("open its namespaces"))
        };
        let user = if t.spec.idmap != IdMapping::Host {
            Some(open("user")?)
        } else {
            None
        };
        let mnt = open("mnt")?;
        // The pid is the container's only while its shim has not reaped it: checked
        // after opening, so the namespaces held are the container's.
        if let Some(shim) = shim {
            if parent_pid(pid) != Some(shim) {
                return Err(enter_err("its first process")(io::Error::other(
                    "the process has ended",
                )));
            }
        }
        Ok(Way::Join { user, mnt })
    }
}

fn parent_pid(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// In the child: moves into the container's view of the filesystem.
fn enter(t: &Target, way: &Way) -> Result<(), CpError> {
    let name = t.name.to_string();
    let err = |what: &'static str| {
        let name = name.clone();
        move |e: nix::Error| CpError::Enter {
            name,
            what,
            source: e.into(),
        }
    };
    match way {
        Way::Join { user, mnt } => {
            // Nothing in the container may inspect or trace this process, which holds
            // the host's view of things until the last setns.
            nix::sys::prctl::set_dumpable(false).map_err(err("set non-dumpable"))?;
            if let Some(user) = user {
                nix::sched::setns(user, CloneFlags::CLONE_NEWUSER)
                    .map_err(err("join its user namespace"))?;
                become_root().map_err(err("become root of its user namespace"))?;
            }
            nix::sched::setns(mnt, CloneFlags::CLONE_NEWNS)
                .map_err(err("join its mount namespace"))?;
        }
        Way::Mount => {
            userns::enter(&t.spec.idmap).map_err(|e| CpError::Enter {
                name: name.clone(),
                what: "make its user namespace",
                source: io::Error::other(e),
            })?;
            nix::sched::unshare(CloneFlags::CLONE_NEWNS).map_err(err("make a mount namespace"))?;
            // The root filesystem's mount must not propagate to the host's namespace.
            nix::mount::mount(
                None::<&str>,
                "/",
                None::<&str>,
                nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
                None::<&str>,
            )
            .map_err(err("make mounts private"))?;
            let rootfs = t.spec.dir.join("rootfs");
            init::mount_rootfs(t.spec, &rootfs).map_err(|source| CpError::Mount {
                name: name.clone(),
                source,
            })?;
            nix::unistd::chroot(&rootfs).map_err(err("chroot into its root filesystem"))?;
        }
    }
    nix::unistd::chdir("/").map_err(err("enter its root directory"))
}

fn become_root() -> nix::Result<()> {
    let (g, u) = (nix::unistd::Gid::from_raw(0), nix::unistd::Uid::from_raw(0));
    nix::unistd::setresgid(g, g, g)?;
    nix::unistd::setresuid(u, u, u)
}

/// The forked child in the container, and the pipe it reports errors on.
struct Child {
    pid: nix::unistd::Pid,
    errors: File,
}

/// The child's exit status when the other side of the data pipe went away.
const EXIT_PEER_GONE: i32 = 3;

/// Forks the child that enters the container and runs `work` on its end of the data
/// pipe (`theirs`). `ours` is the host's end, which the child closes: holding it open
/// would keep the child's read from ever seeing the end of the stream.
fn spawn(
    t: &Target,
    way: &Way,
    theirs: OwnedFd,
    ours: RawFd,
    work: impl FnOnce(File) -> Result<(), CpError>,
) -> Result<Child, CpError> {
    let (err_r, err_w) = pipe()?;
    let err_r_raw = err_r.as_raw_fd();
    let pid = sys::fork_run(move || {
        let _ = nix::unistd::close(ours);
        let _ = nix::unistd::close(err_r_raw);
        let mut errors = File::from(err_w);
        match enter(t, way).and_then(|()| work(File::from(theirs))) {
            Ok(()) => 0,
            Err(e) if e.is_broken_pipe() => EXIT_PEER_GONE,
            Err(e) => {
                let _ = write!(errors, "{e}");
                1
            }
        }
    })
    .map_err(CpError::Fork)?;
    // Here, in the parent, the closure and with it the child's ends are gone.
    Ok(Child {
        pid,
        errors: File::from(err_r),
    })
}

impl Child {
    fn finish(mut self) -> Result<(), CpError> {
        use nix::sys::wait::{waitpid, WaitStatus};
        let mut msg = String::new();
        let _ = self.errors.read_to_string(&mut msg);
        let status = loop {
            match waitpid(self.pid, None) {
                Err(nix::Error::EINTR) => continue,
                other => break other,
            }
        };
        match status {
            Ok(WaitStatus::Exited(_, 0)) => Ok(()),
            Ok(WaitStatus::Exited(_, EXIT_PEER_GONE)) => {
                Err(CpError::Send(io::ErrorKind::BrokenPipe.into()))
            }
            _ if !msg.trim().is_empty() => Err(CpError::Container(msg.trim().to_string())),
            other => Err(CpError::Container(format!(
                "the copying process in the container failed: {other:?}"
            ))),
        }
    }
}

/// Writes `src` as a tar archive whose root entry is named after it (its last
/// component), as Docker's archives are.
fn send<W: Write>(out: W, src: &str, follow: bool, place: &str) -> Result<(), CpError> {
    let path = Path::new(src);
    let wants_dir = contents_only(src) || src.ends_with('/');
    let meta = if follow {
        std::fs::metadata(path)
    } else {
        std::fs::symlink_metadata(path)
    }
    .map_err(io_err("stat", src, place))?;
    if wants_dir && !meta.is_dir() {
        return Err(CpError::NotADirectory {
            path: src.to_string(),
            place: place.to_string(),
        });
    }
    let name = match path.file_name() {
        Some(n) => PathBuf::from(n),
        // `..`, `/`: name it after what it is, or `.` for the root.
        None => std::fs::canonicalize(path)
            .ok()
            .and_then(|p| p.file_name().map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(".")),
    };
    // Only the source itself is followed with `-L`; what lies below it is copied as
    // it is (symlinks as symlinks).
    let real = if follow {
        std::fs::canonicalize(path).map_err(io_err("stat", src, place))?
    } else {
        path.to_path_buf()
    };
    let mut s = Sender {
        ar: tar::Builder::new(out),
        links: HashMap::new(),
        place,
    };
    s.add(&real, &name, &meta)?;
    s.ar.into_inner()
        .and_then(|mut w| w.flush())
        .map_err(CpError::Send)
}

struct Sender<'a, W: Write> {
    ar: tar::Builder<W>,
    /// Files with several links, by (device, inode): the archive name of the first.
    links: HashMap<(u64, u64), PathBuf>,
    place: &'a str,
}

impl<W: Write> Sender<'_, W> {
    fn add(&mut self, path: &Path, name: &Path, meta: &std::fs::Metadata) -> Result<(), CpError> {
        let ft = meta.file_type();
        let mut h = tar::Header::new_gnu();
        h.set_metadata_in_mode(meta, tar::HeaderMode::Complete);
        let send = CpError::Send;
        if ft.is_dir() {
            self.ar
                .append_data(&mut h, name, io::empty())
                .map_err(send)?;
            let mut children: Vec<OsString> = std::fs::read_dir(path)
                .map_err(io_err("read directory", path, self.place))?
                .filter_map(|e| e.ok().map(|e| e.file_name()))
                .collect();
            children.sort();
            for c in children {
                let p = path.join(&c);
                match std::fs::symlink_metadata(&p) {
                    Ok(m) => self.add(&p, &name.join(&c), &m)?,
                    // Removed since it was listed (the container runs).
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err("stat", &p, self.place)(e)),
                }
            }
            Ok(())
        } else if ft.is_symlink() {
            let target = std::fs::read_link(path).map_err(io_err("read link", path, self.place))?;
            self.ar.append_link(&mut h, name, target).map_err(send)
        } else if ft.is_file() {
            if meta.nlink() > 1 {
                let key = (meta.dev(), meta.ino());
                if let Some(first) = self.links.get(&key) {
                    h.set_entry_type(tar::EntryType::Link);
                    h.set_size(0);
                    return self.ar.append_link(&mut h, name, first).map_err(send);
                }
                self.links.insert(key, name.to_path_buf());
            }
            let f = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(path)
                .map_err(io_err("open", path, self.place))?;
            let data = Exact {
                inner: f,
                left: meta.len(),
            };
            self.ar.append_data(&mut h, name, data).map_err(|e| {
                if e.kind() == io::ErrorKind::BrokenPipe {
                    CpError::Send(e)
                } else {
                    io_err("read", path, self.place)(e)
                }
            })
        } else if ft.is_fifo() || ft.is_char_device() || ft.is_block_device() {
            let dev = meta.rdev();
            let _ = h.set_device_major(rfs::major(dev));
            let _ = h.set_device_minor(rfs::minor(dev));
            self.ar.append_data(&mut h, name, io::empty()).map_err(send)
        } else {
            // Sockets cannot be archived; Docker leaves them out too.
            Ok(())
        }
    }
}

/// A file's contents as exactly `left` bytes, the size its header announced: a file
/// that a running container grows or truncates meanwhile must not corrupt the archive
/// (cut at the size, or padded with zeros).
struct Exact {
    inner: File,
    left: u64,
}

impl Read for Exact {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let n = match self.inner.read(&mut buf[..want])? {
            0 => {
                buf[..want].fill(0);
                want
            }
            n => n,
        };
        self.left -= n as u64;
        Ok(n)
    }
}

/// Unpacks an archive made by [`send`] at `dest`, with Docker's rules: into `dest` if
/// it is a directory (only the source directory's contents when `contents_only`),
/// else as `dest` itself, whose parent must exist.
pub fn receive<R: Read>(
    archive: R,
    dest: &str,
    contents_only: bool,
    place: &str,
) -> Result<(), CpError> {
    let mut ar = tar::Archive::new(archive);
    let mut entries = ar.entries().map_err(CpError::Archive)?;
    let Some(first) = entries.next() else {
        return drain(ar);
    };
    let mut first = first.map_err(CpError::Archive)?;
    let root_is_dir = first.header().entry_type().is_dir();
    let (dir, map) = plan(dest, root_is_dir, contents_only, place)?;
    let prefix = components(&first.path_bytes(), dest, place)?;
    let mut x = Extractor::open(&dir, map, Some(prefix), dest, place)?;
    x.entry(&mut first)?;
    drop(first);
    for e in entries {
        x.entry(&mut e.map_err(CpError::Archive)?)?;
    }
    x.finish();
    drain(ar)
}

/// Reads what follows the archive's end (`tar` pads its output to whole records), so
/// that the sender does not find the pipe closed on it after a complete archive.
fn drain<R: Read>(ar: tar::Archive<R>) -> Result<(), CpError> {
    io::copy(&mut ar.into_inner(), &mut io::sink())
        .map(drop)
        .map_err(CpError::Archive)
}

/// Unpacks any tar archive (`box cp - CONTAINER:DIR`) in the existing directory `dest`.
pub fn receive_stream<R: Read>(archive: R, dest: &str, place: &str) -> Result<(), CpError> {
    let meta = std::fs::metadata(dest).map_err(io_err("stat", dest, place))?;
    if !meta.is_dir() {
        return Err(CpError::NotADirectory {
            path: dest.to_string(),
            place: place.to_string(),
        });
    }
    let mut x = Extractor::open(Path::new(dest), Map::AsIs, None, dest, place)?;
    let mut ar = tar::Archive::new(archive);
    for e in ar.entries().map_err(CpError::Archive)? {
        x.entry(&mut e.map_err(CpError::Archive)?)?;
    }
    x.finish();
    drain(ar)
}

/// How archive names become paths under the directory unpacked into.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Map {
    /// As they are.
    AsIs,
    /// The archive's root renamed: to this name, or removed (only its contents land).
    Rebase(Option<OsString>),
}

/// Where to unpack and how, from what `dest` is and whether the archive holds a
/// directory.
fn plan(
    dest: &str,
    root_is_dir: bool,
    contents_only: bool,
    place: &str,
) -> Result<(PathBuf, Map), CpError> {
    let p = Path::new(dest);
    let trailing = dest.ends_with('/');
    let s = |x: &Path| x.display().to_string();
    let parent = || match p.parent() {
        Some(q) if q.as_os_str().is_empty() => PathBuf::from("."),
        Some(q) => q.to_path_buf(),
        None => PathBuf::from("/"),
    };
    let renamed = || -> Result<Map, CpError> {
        match p.file_name() {
            Some(n) => Ok(Map::Rebase(Some(n.to_owned()))),
            None => Err(CpError::NoDestDir {
                path: dest.to_string(),
                place: place.to_string(),
            }),
        }
    };
    match std::fs::metadata(p) {
        Ok(m) if m.is_dir() => Ok((
            p.to_path_buf(),
            if root_is_dir && contents_only {
                Map::Rebase(None)
            } else {
                Map::AsIs
            },
        )),
        Ok(_) if root_is_dir => Err(CpError::DirOntoFile {
            path: dest.to_string(),
            place: place.to_string(),
        }),
        Ok(_) if trailing => Err(CpError::NotADirectory {
            path: dest.to_string(),
            place: place.to_string(),
        }),
        Ok(_) => Ok((parent(), renamed()?)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if trailing && !root_is_dir {
                return Err(CpError::NoDestDir {
                    path: dest.to_string(),
                    place: place.to_string(),
                });
            }
            let up = parent();
            match std::fs::metadata(&up) {
                Ok(m) if m.is_dir() => Ok((up, renamed()?)),
                Ok(_) => Err(CpError::NotADirectory {
                    path: s(&up),
                    place: place.to_string(),
                }),
                Err(e) => Err(io_err("stat", &up, place)(e)),
            }
        }
        Err(e) => Err(io_err("stat", p, place)(e)),
    }
}

/// An archive path's components: absolute paths, `..` and NUL are refused, `.` and
/// empty components dropped.
fn components(raw: &[u8], dest: &str, place: &str) -> Result<Vec<OsString>, CpError> {
    let escape = |reason| CpError::Escape {
        entry: String::from_utf8_lossy(raw).into_owned(),
        dest: dest.to_string(),
        place: place.to_string(),
        reason,
    };
    if raw.starts_with(b"/") {
        return Err(escape("absolute path"));
    }
    if raw.contains(&0) {
        return Err(escape("NUL in path"));
    }
    let mut out = Vec::new();
    for c in raw.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err(escape("`..` in path")),
            c => out.push(OsStr::from_bytes(c).to_owned()),
        }
    }
    Ok(out)
}

struct Extractor<'a> {
    root: OwnedFd,
    map: Map,
    /// With [`Map::Rebase`]: the archive's root, which every entry must be under.
    prefix: Vec<OsString>,
    /// The directory unpacked into, for messages.
    dir: PathBuf,
    dest: &'a str,
    place: &'a str,
    /// Directories unpacked: their mode and time are set last (a read-only directory
    /// could not receive its children, and creating children changes the time).
    dirs: Vec<(PathBuf, u32, i64)>,
}

impl<'a> Extractor<'a> {
    fn open(
        dir: &Path,
        map: Map,
        prefix: Option<Vec<OsString>>,
        dest: &'a str,
        place: &'a str,
    ) -> Result<Extractor<'a>, CpError> {
        let root = rfs::open(
            dir,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| io_err("open", dir, place)(e.into()))?;
        Ok(Extractor {
            root,
            map,
            prefix: prefix.unwrap_or_default(),
            dir: dir.to_path_buf(),
            dest,
            place,
            dirs: Vec::new(),
        })
    }

    fn escape(&self, entry: &[u8], reason: &'static str) -> CpError {
        CpError::Escape {
            entry: String::from_utf8_lossy(entry).into_owned(),
            dest: self.dest.to_string(),
            place: self.place.to_string(),
            reason,
        }
    }

    /// Where an archive name lands, relative to the root; `None` for the root itself.
    fn target(&self, raw: &[u8]) -> Result<Option<Vec<OsString>>, CpError> {
        let comps = components(raw, self.dest, self.place)?;
        let out: Vec<OsString> = match &self.map {
            Map::AsIs => comps,
            Map::Rebase(base) => {
                let Some(rest) = comps.strip_prefix(self.prefix.as_slice()) else {
                    return Err(self.escape(raw, "outside the copied directory"));
                };
                base.iter().cloned().chain(rest.iter().cloned()).collect()
            }
        };
        Ok((!out.is_empty()).then_some(out))
    }

    fn shown(&self, rel: &Path) -> String {
        self.dir.join(rel).display().to_string()
    }

    fn fail(&self, op: &'static str, rel: &Path, e: Errno) -> CpError {
        CpError::Io {
            op,
            path: self.shown(rel),
            place: self.place.to_string(),
            source: e.into(),
        }
    }

    fn entry<R: Read>(&mut self, e: &mut tar::Entry<R>) -> Result<(), CpError> {
        use tar::EntryType as T;
        let raw = e.path_bytes().into_owned();
        let kind = e.header().entry_type();
        if matches!(
            kind,
            T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink
        ) {
            return Ok(());
        }
        let Some(mut comps) = self.target(&raw)? else {
            return Ok(());
        };
        let name = comps.pop().expect("not empty");
        let parent_rel: PathBuf = comps.iter().collect();
        let rel = parent_rel.join(&name);
        let parent = self.dir(&parent_rel, &raw)?;
        let mode = e.header().mode().unwrap_or(0o644) & 0o7777;
        let mtime = e.header().mtime().unwrap_or(0).try_into().unwrap_or(0);
        match kind {
            T::Directory => {
                match rfs::statat(&parent, &name, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) if is_dir(&st) => {}
                    Ok(_) => {
                        return Err(CpError::Conflict {
                            what: "non-directory",
                            path: self.shown(&rel),
                            place: self.place.to_string(),
                            with: "directory",
                        })
                    }
                    Err(Errno::NOENT) => rfs::mkdirat(&parent, &name, Mode::from_raw_mode(0o700))
                        .map_err(|x| self.fail("create directory", &rel, x))?,
                    Err(x) => return Err(self.fail("stat", &rel, x)),
                }
                self.dirs.push((rel, mode, mtime));
            }
            T::Regular | T::Continuous => {
                self.make_room(&parent, &name, &rel)?;
                let fd = rfs::openat(
                    &parent,
                    &name,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(|x| self.fail("create", &rel, x))?;
                let mut f = File::from(fd);
                io::copy(e, &mut f).map_err(|x| CpError::Io {
                    op: "write",
                    path: self.shown(&rel),
                    place: self.place.to_string(),
                    source: x,
                })?;
                rfs::fchmod(&f, Mode::from_raw_mode(mode))
                    .map_err(|x| self.fail("chmod", &rel, x))?;
                let _ = rfs::futimens(&f, &times(mtime));
            }
            T::Symlink => {
                let target = link_name(e).ok_or_else(|| self.escape(&raw, "no link target"))?;
                self.make_room(&parent, &name, &rel)?;
                rfs::symlinkat(OsStr::from_bytes(&target), &parent, &name)
                    .map_err(|x| self.fail("create symlink", &rel, x))?;
                let _ = rfs::utimensat(&parent, &name, &times(mtime), AtFlags::SYMLINK_NOFOLLOW);
            }
            T::Link => {
                let target = link_name(e).ok_or_else(|| self.escape(&raw, "no link target"))?;
                let Some(mut tcomps) = self.target(&target)? else {
                    return Err(self.escape(&raw, "hard link to the copied root"));
                };
                let tname = tcomps.pop().expect("not empty");
                let tparent_rel: PathBuf = tcomps.iter().collect();
                let tparent = self.dir(&tparent_rel, &raw)?;
                self.make_room(&parent, &name, &rel)?;
                rfs::linkat(&tparent, &tname, &parent, &name, AtFlags::empty())
                    .map_err(|x| self.fail("create hard link", &rel, x))?;
            }
            T::Fifo | T::Char | T::Block => {
                let ft = match kind {
                    T::Char => rfs::FileType::CharacterDevice,
                    T::Block => rfs::FileType::BlockDevice,
                    _ => rfs::FileType::Fifo,
                };
                let major = e.header().device_major().ok().flatten().unwrap_or(0);
                let minor = e.header().device_minor().ok().flatten().unwrap_or(0);
                self.make_room(&parent, &name, &rel)?;
                match rfs::mknodat(
                    &parent,
                    &name,
                    ft,
                    Mode::from_raw_mode(0o600),
                    rfs::makedev(major, minor),
                ) {
                    Ok(()) => {}
                    // Only real root makes device nodes; they are left out, as when
                    // box unpacks layers.
                    Err(Errno::PERM) if kind != T::Fifo => return Ok(()),
                    Err(x) => return Err(self.fail("create special file", &rel, x)),
                }
                rfs::chmodat(&parent, &name, Mode::from_raw_mode(mode), AtFlags::empty())
                    .map_err(|x| self.fail("chmod", &rel, x))?;
            }
            _ => {
                // Other kinds (sparse or multi-volume parts) are not made by box or
                // Docker; nothing sensible can be done with them.
                return Err(CpError::Io {
                    op: "unpack",
                    path: self.shown(&rel),
                    place: self.place.to_string(),
                    source: io::Error::other(format!("unsupported entry type {kind:?}")),
                });
            }
        }
        Ok(())
    }

    /// A later entry replaces a non-directory of the same name, as tar does; a
    /// directory is never replaced by a non-directory.
    fn make_room(&self, parent: &OwnedFd, name: &OsStr, rel: &Path) -> Result<(), CpError> {
        match rfs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
            Err(Errno::NOENT) => Ok(()),
            Ok(st) if is_dir(&st) => Err(CpError::Conflict {
                what: "directory",
                path: self.shown(rel),
                place: self.place.to_string(),
                with: "non-directory",
            }),
            Ok(_) => rfs::unlinkat(parent, name, AtFlags::empty())
                .map_err(|x| self.fail("replace", rel, x)),
            Err(x) => Err(self.fail("stat", rel, x)),
        }
    }

    /// Opens a directory beneath the root, creating what is missing (as `mkdir -p`).
    /// No symlink may lead out of the root on the way.
    fn dir(&self, rel: &Path, entry: &[u8]) -> Result<OwnedFd, CpError> {
        let how = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let path = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        let resolve_err = |x: Errno| match x {
            Errno::XDEV => self.escape(entry, "a symlink in its path leads out of the destination"),
            Errno::LOOP => self.escape(entry, "too many symlinks in its path"),
            x => self.fail("open directory", rel, x),
        };
        match rfs::openat2(&self.root, path, flags, Mode::empty(), how) {
            Ok(fd) => Ok(fd),
            Err(Errno::NOENT) if !rel.as_os_str().is_empty() => {
                let up = rel.parent().unwrap_or(Path::new(""));
                let last = rel.file_name().unwrap_or(rel.as_os_str());
                let parent = self.dir(up, entry)?;
                match rfs::mkdirat(&parent, last, Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(x) => return Err(self.fail("create directory", rel, x)),
                }
                rfs::openat2(&self.root, path, flags, Mode::empty(), how).map_err(resolve_err)
            }
            Err(x) => Err(resolve_err(x)),
        }
    }

    /// Directories' modes and times, deepest first. Re-resolved without following any
    /// symlink: a later entry may have put one where a directory was.
    fn finish(self) {
        for (rel, mode, mtime) in self.dirs.iter().rev() {
            let Ok(fd) = rfs::openat2(
                &self.root,
                rel,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
                ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS,
            ) else {
                continue;
            };
            let _ = rfs::fchmod(&fd, Mode::from_raw_mode(*mode));
            let _ = rfs::futimens(&fd, &times(*mtime));
        }
    }
}

fn is_dir(st: &rfs::Stat) -> bool {
    rfs::FileType::from_raw_mode(st.st_mode) == rfs::FileType::Directory
}

fn link_name<R: Read>(e: &tar::Entry<R>) -> Option<Vec<u8>> {
    e.link_name_bytes().map(|c| c.into_owned())
}

fn times(secs: i64) -> Timestamps {
    let t = Timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "box-cp-{tag}-{}-{:x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn archive(src: &Path) -> Vec<u8> {
        let mut out = Vec::new();
        send(&mut out, &src.to_string_lossy(), false, "").unwrap();
        out
    }

    #[test]
    fn docker_destination_rules() {
        let d = tmp("rules");
        std::fs::create_dir_all(d.join("src/sub")).unwrap();
        std::fs::write(d.join("src/a"), "a").unwrap();
        std::fs::write(d.join("src/sub/b"), "b").unwrap();
        std::os::unix::fs::symlink("/etc", d.join("src/abs")).unwrap();
        std::fs::hard_link(d.join("src/a"), d.join("src/sub/a2")).unwrap();
        std::fs::create_dir(d.join("out")).unwrap();
        let s = |p: &Path| p.to_string_lossy().into_owned();
        let dir_ar = archive(&d.join("src"));
        // Directory into an existing directory: under its own name.
        receive(&dir_ar[..], &s(&d.join("out")), false, "").unwrap();
        assert_eq!(std::fs::read(d.join("out/src/sub/b")).unwrap(), b"b");
        assert_eq!(
            std::fs::read_link(d.join("out/src/abs")).unwrap(),
            Path::new("/etc")
        );
        let ino = |p: &Path| std::fs::metadata(p).unwrap().ino();
        assert_eq!(ino(&d.join("out/src/a")), ino(&d.join("out/src/sub/a2")));
        // To a missing path: created with the directory's contents.
        receive(&dir_ar[..], &s(&d.join("out/new")), false, "").unwrap();
        assert_eq!(std::fs::read(d.join("out/new/a")).unwrap(), b"a");
        // `SRC/.` into an existing directory: the contents only.
        std::fs::create_dir(d.join("out/flat")).unwrap();
        let dot_ar = {
            let mut out = Vec::new();
            send(&mut out, &format!("{}/.", s(&d.join("src"))), false, "").unwrap();
            out
        };
        receive(&dot_ar[..], &s(&d.join("out/flat")), true, "").unwrap();
        assert_eq!(std::fs::read(d.join("out/flat/sub/b")).unwrap(), b"b");
        // A file: into a directory, as a new name, over a file; not into a missing dir/.
        let file_ar = archive(&d.join("src/a"));
        receive(&file_ar[..], &s(&d.join("out")), false, "").unwrap();
        assert_eq!(std::fs::read(d.join("out/a")).unwrap(), b"a");
        receive(&file_ar[..], &s(&d.join("out/renamed")), false, "").unwrap();
        assert_eq!(std::fs::read(d.join("out/renamed")).unwrap(), b"a");
        receive(&file_ar[..], &s(&d.join("out/renamed")), false, "").unwrap();
        assert!(matches!(
            receive(
                &file_ar[..],
                &format!("{}/", s(&d.join("out/nodir"))),
                false,
                ""
            ),
            Err(CpError::NoDestDir { .. })
        ));
        assert!(matches!(
            receive(&file_ar[..], &s(&d.join("out/no/such")), false, ""),
            Err(CpError::NotFound { .. })
        ));
        assert!(matches!(
            receive(&dir_ar[..], &s(&d.join("out/a")), false, ""),
            Err(CpError::DirOntoFile { .. })
        ));
        assert!(matches!(
            send(Vec::new(), &s(&d.join("nope")), false, " in container c1"),
            Err(CpError::NotFound { .. })
        ));
        std::fs::remove_dir_all(&d).unwrap();
    }

    fn entry(ar: &mut tar::Builder<Vec<u8>>, kind: tar::EntryType, path: &str, link: &str) {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(0o644);
        h.set_size(if kind == tar::EntryType::Regular {
            1
        } else {
            0
        });
        {
            let gnu = h.as_gnu_mut().unwrap();
            gnu.name[..path.len()].copy_from_slice(path.as_bytes());
            gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        h.set_cksum();
        let data: &[u8] = if kind == tar::EntryType::Regular {
            b"x"
        } else {
            b""
        };
        ar.append(&h, data).unwrap();
    }

    #[test]
    fn hostile_archives_stay_beneath_the_destination() {
        use tar::EntryType as T;
        let d = tmp("hostile");
        let outside = d.join("outside");
        std::fs::create_dir(&outside).unwrap();
        let dest = d.join("dest");
        std::fs::create_dir(&dest).unwrap();
        let cases: Vec<Vec<(T, String, String)>> = vec![
            vec![(T::Regular, "../escaped".into(), String::new())],
            vec![(
                T::Regular,
                format!("{}/abs", outside.display()),
                String::new(),
            )],
            vec![
                (T::Symlink, "link".into(), outside.display().to_string()),
                (T::Regular, "link/through".into(), String::new()),
            ],
            vec![
                (T::Symlink, "rel".into(), "../outside".into()),
                (T::Regular, "rel/through".into(), String::new()),
            ],
            vec![(T::Link, "hard".into(), "../outside/x".into())],
        ];
        for case in cases {
            let mut ar = tar::Builder::new(Vec::new());
            for (k, p, l) in &case {
                entry(&mut ar, *k, p, l);
            }
            let bytes = ar.into_inner().unwrap();
            let r = receive_stream(&bytes[..], &dest.to_string_lossy(), "");
            assert!(matches!(r, Err(CpError::Escape { .. })), "{case:?}: {r:?}");
            assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "{case:?}");
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn exact_pads_and_cuts() {
        let d = tmp("exact");
        std::fs::write(d.join("f"), "abc").unwrap();
        let mut s = String::new();
        Exact {
            inner: File::open(d.join("f")).unwrap(),
            left: 2,
        }
        .read_to_string(&mut s)
        .unwrap();
        assert_eq!(s, "ab");
        let mut v = Vec::new();
        Exact {
            inner: File::open(d.join("f")).unwrap(),
            left: 5,
        }
        .read_to_end(&mut v)
        .unwrap();
        assert_eq!(v, b"abc\0\0");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
