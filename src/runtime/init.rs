//! The container's init: runs in the child the shim cloned into new namespaces, as
//! PID 1, and turns the spec into a running process. Reads as a script of named
//! steps (as crun's container init does); each step's error names what it did.
//!
//! Which process: the container's first process, in its new user, mount, pid, uts,
//! ipc, network and cgroup namespaces; root inside once the shim has written the id
//! maps. What it must not do: touch anything outside its mount namespace except the
//! container's own directory, or keep a capability the spec does not grant.

use std::ffi::{CString, OsStr};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use rustix::fs::{self as rfs, Mode, OFlags, ResolveFlags};
use thiserror::Error;

use super::plan::{self, Flags, MountOp};
use super::spec::{ContainerSpec, Seccomp};
use super::{caps, seccomp, user};
use crate::sys;

/// Exit statuses the way Docker reports a failed start.
pub const EXIT_START_FAILED: i32 = 125;
pub const EXIT_CANNOT_EXECUTE: i32 = 126;
pub const EXIT_NOT_FOUND: i32 = 127;

#[derive(Debug, Error)]
pub enum InitError {
    #[error("{step}: {source}")]
    Step {
        step: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    User(#[from] user::UserError),
    #[error("{0}")]
    Security(String),
    #[error("exec {cmd:?}: {reason}")]
    Exec {
        cmd: String,
        reason: String,
        code: i32,
    },
}

impl InitError {
    pub fn exit_code(&self) -> i32 {
        match self {
            InitError::Exec { code, .. } => *code,
            _ => EXIT_START_FAILED,
        }
    }
}

pub(crate) fn step<T, E: Into<std::io::Error>>(
    what: impl FnOnce() -> String,
    r: Result<T, E>,
) -> Result<T, InitError> {
    r.map_err(|e| InitError::Step {
        step: what(),
        source: e.into(),
    })
}

/// The whole init. Never returns: it execs the command, or reports on `report` and exits.
pub fn run(spec: &ContainerSpec, go: OwnedFd, report: OwnedFd, console: Option<OwnedFd>) -> ! {
    // The shim blocks signals it handles; the container starts with none blocked or
    // ignored.
    sys::unblock_all_signals();
    sys::default_signal_actions();
    let mut go = std::fs::File::from(go);
    let mut byte = [0u8; 1];
    if !matches!(go.read(&mut byte), Ok(1)) {
        sys::exit_child(EXIT_START_FAILED);
    }
    drop(go);
    let mut report = Some(report);
    let err = setup(spec, console).and_then(|(argv, env)| exec(spec, argv, env, &mut report));
    let e = match err {
        Ok(never) => match never {},
        Err(e) => e,
    };
    if let Some(report) = report {
        let _ = write!(std::fs::File::from(report), "{}\t{e}", e.exit_code());
    }
    sys::exit_child(e.exit_code())
}

/// Everything before exec, step by step.
fn setup(
    spec: &ContainerSpec,
    console: Option<OwnedFd>,
) -> Result<(Vec<CString>, Vec<CString>), InitError> {
    become_root(spec)?;
    if spec.network == super::spec::Network::Pasta {
        tune_tcp_for_pasta();
    }
    step(
        || "make mounts private".into(),
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        ),
    )?;
    let rootfs = spec.dir.join("rootfs");
    mount_rootfs(spec, &rootfs)?;
    let root = step(
        || format!("open {}", rootfs.display()),
        rfs::open(
            &rootfs,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        ),
    )?;
    let gid5 = spec.idmap.host_gid(5).is_some();
    for op in plan::plan(spec, gid5) {
        apply(&root, &op)?;
    }
    pivot(&rootfs)?;
    if spec.read_only {
        step(
            || "remount / read-only".into(),
            mount(
                None::<&str>,
                "/",
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | locked_flags("/"),
                None::<&str>,
            ),
        )?;
    }
    if let Some(sock) = console {
        open_terminal(&sock)?;
    }
    step(
        || "set hostname".into(),
        nix::unistd::sethostname(&spec.hostname),
    )?;
    if spec.network.private() {
        step(|| "bring up loopback".into(), sys::loopback_up())?;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let who = user::resolve(&spec.process.user, &passwd, &group)?;
    enter_workdir(&spec.process.cwd, who.uid, who.gid)?;
    let argv = argv(&spec.process.args)?;
    let env = environment(&spec.process.env, &who);
    drop_privileges(spec, &who)?;
    Ok((argv, env))
}

/// TCP settings of the container's network namespace for a pasta link; written while
/// the host's /proc is still mounted (its `sys/net` is the writer's namespace's, which
/// the container's root owns), before the container's own /proc is read-only.
///
/// Why: pasta as Debian 12 ships it (2023-03) drops segments from the container that
/// it cannot pass on to the host at once, and for connections to the host's loopback
/// it lets the container send as much as the host-side receiver's window, far more
/// than its own socket takes. Nor does it acknowledge a retransmission of data it
/// already has until something else changes, so the container's retransmission timer
/// backs off without ever taking an RTT sample: 200 ms, 400 ms, ... 6.4 s, and after
/// ~20 s of that pasta resets the connection. The container's TCP peer is pasta on
/// this same host, so a 5 ms floor for that timer, a 1 s ceiling and a 1 MiB send
/// buffer lose nothing. In `bench/network.sh` they turned 96-1560 MB/s, with resets,
/// into a steady ~1.4 GB/s (bench/README.md). The two timer files are Linux 6.11 and
/// 6.15; older kernels keep their defaults. Best effort: a container without them
/// still works.
fn tune_tcp_for_pasta() {
    for (file, value) in [
        ("/proc/sys/net/ipv4/tcp_wmem", "4096 16384 1048576"),
        ("/proc/sys/net/ipv4/tcp_rto_min_us", "5000"),
        ("/proc/sys/net/ipv4/tcp_rto_max_ms", "1000"),
    ] {
        let _ = std::fs::write(file, value);
    }
}

/// HOME comes from the user's passwd entry unless the image or `-e` set it.
pub(crate) fn environment(env: &[String], who: &user::ResolvedUser) -> Vec<CString> {
    let mut env = env.to_vec();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", who.home));
    }
    env.iter()
        .filter_map(|e| CString::new(e.as_bytes()).ok())
        .collect()
}

/// Opens a terminal in the container's own /dev/pts, makes it this process's
/// controlling terminal and stdio, and sends the master side to the shim (or, for
/// `box exec -t`, to the `box exec` process).
pub(crate) fn open_terminal(sock: &OwnedFd) -> Result<(), InitError> {
    use nix::fcntl::OFlag;
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let master = step(
        || "open /dev/ptmx".into(),
        nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC),
    )?;
    step(|| "grantpt".into(), nix::pty::grantpt(&master))?;
    step(|| "unlockpt".into(), nix::pty::unlockpt(&master))?;
    let name = step(|| "ptsname".into(), nix::pty::ptsname_r(&master))?;
    let slave = step(
        || format!("open {name}"),
        std::fs::File::options()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open(&name),
    )?;
    step(|| "setsid".into(), nix::unistd::setsid())?;
    step(
        || "make the terminal controlling".into(),
        rustix::process::ioctl_tiocsctty(&slave),
    )?;
    let _ = rustix::stdio::dup2_stdin(&slave);
    let _ = rustix::stdio::dup2_stdout(&slave);
    let _ = rustix::stdio::dup2_stderr(&slave);
    let fds = [master.as_raw_fd()];
    let iov = [std::io::IoSlice::new(b"t")];
    step(
        || "send the terminal to the shim".into(),
        sendmsg::<()>(
            sock.as_raw_fd(),
            &iov,
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::empty(),
            None,
        ),
    )?;
    Ok(())
}

pub(crate) fn become_root(spec: &ContainerSpec) -> Result<(), InitError> {
    if spec.idmap != super::idmap::IdMapping::Host {
        let (g, u) = (nix::unistd::Gid::from_raw(0), nix::unistd::Uid::from_raw(0));
        step(
            || "become root of the user namespace".into(),
            nix::unistd::setresgid(g, g, g),
        )?;
        step(
            || "become root of the user namespace".into(),
            nix::unistd::setresuid(u, u, u),
        )?;
    }
    Ok(())
}

/// Overlay of the image's layers under the container's own upper directory. The lower
/// directories are short relative links (`l/...`): overlay's option string is one page.
/// Also `box cp`'s way into a stopped container, so both see the same filesystem.
pub(crate) fn mount_rootfs(spec: &ContainerSpec, rootfs: &Path) -> Result<(), InitError> {
    match spec.driver.as_str() {
        "overlay" => {
            step(
                || format!("enter {}", spec.store_root.display()),
                std::env::set_current_dir(&spec.store_root),
            )?;
            let data = format!(
                "lowerdir={},upperdir={},workdir={},userxattr",
                spec.lower.join(":"),
                spec.dir.join("upper").display(),
                spec.dir.join("work").display()
            );
            step(
                || "mount the overlay root filesystem".into(),
                mount(
                    Some("overlay"),
                    rootfs,
                    Some("overlay"),
                    MsFlags::empty(),
                    Some(data.as_str()),
                ),
            )?;
            step(|| "leave the store".into(), std::env::set_current_dir("/"))
        }
        // The shim has mounted it already, in this mount namespace, with the helper
        // process sitting in it too. pivot_root would move that helper's root along
        // with ours, so the container moves on to a mount namespace of its own.
        "fuse-overlayfs" => step(|| "unshare the mount namespace".into(), nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)),
        other => Err(InitError::Security(format!(
            "storage driver {other} is not implemented yet for box run; use overlay or fuse-overlayfs"
        ))),
    }
}

fn apply(root: &OwnedFd, op: &MountOp) -> Result<(), InitError> {
    match op {
        MountOp::Fs {
            fstype,
            target,
            flags,
            data,
        } => {
            let fd = ensure(root, target, false)?;
            let data = (!data.is_empty()).then_some(data.as_str());
            step(
                || format!("mount {fstype} on {target}"),
                mount(
                    Some(*fstype),
                    &fd_path(&fd),
                    Some(*fstype),
                    ms(*flags),
                    data,
                ),
            )
        }
        MountOp::Bind {
            source,
            target,
            readonly,
            file,
        } => {
            if !source.exists() {
                return Err(InitError::Step {
                    step: format!("bind {}", source.display()),
                    source: std::io::ErrorKind::NotFound.into(),
                });
            }
            let fd = ensure(root, target, *file)?;
            let at = fd_path(&fd);
            step(
                || format!("bind {} on {target}", source.display()),
                mount(
                    Some(source.as_path()),
                    &at,
                    None::<&str>,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None::<&str>,
                ),
            )?;
            if *readonly {
                remount_readonly(root, target)?;
            }
            Ok(())
        }
        MountOp::Symlink { link, target } => {
            let (parent, name) = split(link);
            let dir = ensure(root, parent, false)?;
            match rfs::symlinkat(target.as_str(), &dir, name) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => Ok(()),
                Err(e) => Err(InitError::Step {
                    step: format!("symlink {link}"),
                    source: e.into(),
                }),
            }
        }
        MountOp::Mask { target } => {
            let Ok(fd) = resolve(root, target) else {
                return Ok(());
            };
            let at = fd_path(&fd);
            let is_dir = rfs::fstat(&fd)
                .map(|s| rfs::FileType::from_raw_mode(s.st_mode) == rfs::FileType::Directory)
                .unwrap_or(false);
            let r = if is_dir {
                mount(
                    Some("tmpfs"),
                    &at,
                    Some("tmpfs"),
                    MsFlags::MS_RDONLY,
                    None::<&str>,
                )
            } else {
                mount(
                    Some("/dev/null"),
                    &at,
                    None::<&str>,
                    MsFlags::MS_BIND,
                    None::<&str>,
                )
            };
            step(|| format!("mask {target}"), r)
        }
        MountOp::ReadOnly { target } => {
            let Ok(fd) = resolve(root, target) else {
                return Ok(());
            };
            let at = fd_path(&fd);
            step(
                || format!("bind {target} read-only"),
                mount(
                    Some(&at),
                    &at,
                    None::<&str>,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None::<&str>,
                ),
            )?;
            remount_readonly(root, target)
        }
    }
}

/// Remounts a bind mount read-only, keeping the flags the kernel locks in a user
/// namespace (nosuid, nodev, noexec...): dropping them would be refused.
fn remount_readonly(root: &OwnedFd, target: &str) -> Result<(), InitError> {
    let fd = step(|| format!("open {target}"), resolve(root, target))?;
    let at = fd_path(&fd);
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | locked_flags(&at);
    step(
        || format!("remount {target} read-only"),
        mount(None::<&str>, &at, None::<&str>, flags, None::<&str>),
    )
}

fn locked_flags(path: impl AsRef<Path>) -> MsFlags {
    use nix::sys::statvfs::FsFlags;
    let Ok(st) = nix::sys::statvfs::statvfs(path.as_ref()) else {
        return MsFlags::empty();
    };
    let f = st.flags();
    let mut m = MsFlags::empty();
    for (s, mf) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(s) {
            m |= mf;
        }
    }
    m
}

fn ms(f: Flags) -> MsFlags {
    let mut m = MsFlags::empty();
    m.set(MsFlags::MS_NOSUID, f.nosuid);
    m.set(MsFlags::MS_NODEV, f.nodev);
    m.set(MsFlags::MS_NOEXEC, f.noexec);
    m.set(MsFlags::MS_RDONLY, f.readonly);
    m
}

fn split(path: &str) -> (&str, &str) {
    let p = path.trim_end_matches('/');
    match p.rsplit_once('/') {
        Some((a, b)) => (if a.is_empty() { "/" } else { a }, b),
        None => ("/", p),
    }
}

/// `/proc/self/fd/N`: mounting onto an fd's path mounts on exactly what was resolved.
fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Resolves a container path as if the rootfs were `/`: symlinks in the image cannot
/// lead a mount outside it.
fn resolve(root: &OwnedFd, path: &str) -> rustix::io::Result<OwnedFd> {
    let rel = path.trim_start_matches('/');
    let rel = if rel.is_empty() { "." } else { rel };
    rfs::openat2(
        root,
        rel,
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
}

/// Resolves `path` inside the root, creating it (directories, or an empty file as the
/// last component when `file`) if it does not exist.
fn ensure(root: &OwnedFd, path: &str, file: bool) -> Result<OwnedFd, InitError> {
    if let Ok(fd) = resolve(root, path) {
        return Ok(fd);
    }
    let (parent, name) = split(path);
    let dir = if parent == "/" {
        resolve(root, "/").map_err(|e| InitError::Step {
            step: "open /".into(),
            source: e.into(),
        })?
    } else {
        ensure(root, parent, false)?
    };
    let created = if file {
        rfs::openat(
            &dir,
            name,
            OFlags::CREATE | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o644),
        )
        .map(drop)
    } else {
        rfs::mkdirat(&dir, name, Mode::from_raw_mode(0o755))
    };
    match created {
        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
        Err(e) => {
            return Err(InitError::Step {
                step: format!("create {path}"),
                source: e.into(),
            })
        }
    }
    step(|| format!("open {path}"), resolve(root, path))
}

/// Makes the rootfs `/`, with the old root detached (pivot_root onto itself).
fn pivot(rootfs: &Path) -> Result<(), InitError> {
    step(
        || "enter the root filesystem".into(),
        std::env::set_current_dir(rootfs),
    )?;
    step(|| "pivot_root".into(), nix::unistd::pivot_root(".", "."))?;
    step(
        || "detach the old root".into(),
        umount2(".", MntFlags::MNT_DETACH),
    )?;
    step(|| "chdir /".into(), std::env::set_current_dir("/"))
}

/// The working directory is created if missing, as Docker does, owned by the user.
fn enter_workdir(cwd: &str, uid: u32, gid: u32) -> Result<(), InitError> {
    if !Path::new(cwd).exists() {
        step(
            || format!("create working directory {cwd}"),
            std::fs::create_dir_all(cwd),
        )?;
        let _ = std::os::unix::fs::chown(cwd, Some(uid), Some(gid));
    }
    step(
        || format!("enter working directory {cwd}"),
        std::env::set_current_dir(cwd),
    )
}

/// Bounding set, no_new_privs, seccomp, then the user's ids and the remaining caps.
/// `box exec` applies the same to the processes it adds, so they are no stronger.
pub(crate) fn drop_privileges(
    spec: &ContainerSpec,
    who: &user::ResolvedUser,
) -> Result<(), InitError> {
    let sec = &spec.security;
    let keep = if sec.privileged {
        caps::all_names()
    } else {
        sec.caps.clone()
    };
    caps::limit_bounding(&keep).map_err(|e| InitError::Security(e.to_string()))?;
    if sec.no_new_privileges {
        step(
            || "set no_new_privs".into(),
            nix::sys::prctl::set_no_new_privs(),
        )?;
    }
    let cap_refs: Vec<&str> = keep.iter().map(String::as_str).collect();
    let filter = match (&sec.seccomp, sec.privileged) {
        (Seccomp::Unconfined, _) | (Seccomp::Default, true) => None,
        (Seccomp::Default, false) => Some(seccomp::docker_default(&cap_refs)),
        (Seccomp::Custom(text), _) => Some(seccomp::from_docker_json(text, &cap_refs)),
    };
    let filter = filter
        .transpose()
        .map_err(|e| InitError::Security(e.to_string()))?;
    // Installed while still root with CAP_SYS_ADMIN in the namespace; the profile
    // allows what follows (setgroups, setresuid, capset, execve).
    if let Some(f) = &filter {
        f.apply().map_err(|e| InitError::Security(e.to_string()))?;
    }
    let groups: Vec<nix::unistd::Gid> = who
        .additional_gids
        .iter()
        .map(|g| nix::unistd::Gid::from_raw(*g))
        .collect();
    if spec.idmap.host_gid(who.gid).is_none()
        || who
            .additional_gids
            .iter()
            .any(|g| spec.idmap.host_gid(*g).is_none())
    {
        return Err(InitError::Security(format!("group id {} is not mapped in this user namespace (box fell back to a single id: there is no range for this user in /etc/subuid and /etc/subgid; add one as root, e.g. USER:100000:65536, to map 65536 ids; see box info)", who.gid)));
    }
    if spec.idmap.host_uid(who.uid).is_none() {
        return Err(InitError::Security(format!("user id {} is not mapped in this user namespace (box fell back to a single id: there is no range for this user in /etc/subuid and /etc/subgid; add one as root, e.g. USER:100000:65536, to map 65536 ids; see box info)", who.uid)));
    }
    // setgroups is denied in a single-id namespace; there the only group is 0 anyway.
    if !matches!(spec.idmap, super::idmap::IdMapping::Single { .. }) {
        step(
            || "set supplementary groups".into(),
            nix::unistd::setgroups(&groups),
        )?;
    }
    let (g, u) = (
        nix::unistd::Gid::from_raw(who.gid),
        nix::unistd::Uid::from_raw(who.uid),
    );
    step(
        || format!("set group id {}", who.gid),
        nix::unistd::setresgid(g, g, g),
    )?;
    step(
        || format!("set user id {}", who.uid),
        nix::unistd::setresuid(u, u, u),
    )?;
    if who.uid == 0 {
        caps::set_process(&keep).map_err(|e| InitError::Security(e.to_string()))?;
    }
    Ok(())
}

pub(crate) fn argv(args: &[String]) -> Result<Vec<CString>, InitError> {
    args.iter()
        .map(|a| {
            CString::new(a.as_bytes()).map_err(|_| InitError::Exec {
                cmd: a.clone(),
                reason: "argument contains NUL".into(),
                code: EXIT_START_FAILED,
            })
        })
        .collect()
}

/// Finds the program on the container's PATH and execs it; with `--init`, a small
/// PID 1 stays behind to reap and forward signals. The shim takes the end of `report`
/// (close-on-exec) as the sign that the command runs: with `--init`, PID 1 closes its
/// copy (and every other descriptor but stdio) once the command is forked off, and the
/// command's copy goes with its exec.
fn exec(
    spec: &ContainerSpec,
    argv: Vec<CString>,
    env: Vec<CString>,
    report: &mut Option<OwnedFd>,
) -> Result<std::convert::Infallible, InitError> {
    let prog = &spec.process.args[0];
    let file_c = find_program(prog, &spec.process.env)?;
    // The container dies with its shim, so a shim killed with SIGKILL leaves nothing
    // running that no one supervises. Set last: changing ids clears it.
    step(
        || "set the parent-death signal".into(),
        nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL),
    )?;
    if spec.init {
        // PID 1 never execs: it lets go of everything it has from the shim itself.
        return sys::init_and_exec(&file_c, &argv, &env, || {
            drop(report.take());
            sys::close_fds_for_good();
        })
        .map_err(|e| exec_error(prog, e));
    }
    let e = nix::unistd::execve(&file_c, &argv, &env).unwrap_err();
    Err(exec_error(prog, e.into()))
}

/// The program to exec, looked up on the PATH of `env` (the process's own, as the
/// container sees it), with Docker's "not found" error (127).
pub(crate) fn find_program(prog: &str, env: &[String]) -> Result<CString, InitError> {
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(super::spec::DEFAULT_PATH);
    let file = find_executable(prog, path).ok_or_else(|| InitError::Exec {
        cmd: prog.to_string(),
        reason: if prog.contains('/') {
            "no such file or directory".into()
        } else {
            "executable file not found in $PATH".into()
        },
        code: EXIT_NOT_FOUND,
    })?;
    Ok(CString::new(file.as_os_str().as_bytes()).expect("paths have no NUL"))
}

/// Docker's statuses for a failed execve: 127 when the file is missing, else 126.
pub(crate) fn exec_error(prog: &str, e: std::io::Error) -> InitError {
    let code = match e.raw_os_error() {
        Some(libc::ENOENT) => EXIT_NOT_FOUND,
        _ => EXIT_CANNOT_EXECUTE,
    };
    InitError::Exec {
        cmd: prog.to_string(),
        reason: e.to_string(),
        code,
    }
}

fn find_executable(prog: &str, path: &str) -> Option<PathBuf> {
    if prog.contains('/') {
        return Path::new(prog).exists().then(|| PathBuf::from(prog));
    }
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(OsStr::new(prog)))
        .find(|p| std::fs::metadata(p).map(|m| m.is_file()).unwrap_or(false))
}
