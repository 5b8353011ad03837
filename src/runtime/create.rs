//! Creating a container's first process, on the shim's side: its stdio (pipes, or a
//! pty for `-t`), the clone into new namespaces, the id maps written from outside,
//! and the wait until its init has exec'd the command or reported why it could not.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::sched::CloneFlags;

use super::idmap::IdMapping;
use super::init;
use super::spec::ContainerSpec;
use super::userns;
use crate::sys;

/// The container's first process as the shim sees it, plus a handle on its user
/// namespace: removing a `--rm` container's files needs its id mapping after it died.
pub struct Created {
    pub started: box_shim::Started,
    pub userns: Option<OwnedFd>,
    /// The `fuse-overlayfs` process serving the root filesystem, which the shim ends
    /// with the container (it would keep the mount namespace alive).
    pub fuse: Option<nix::unistd::Pid>,
    /// The container's mount namespace, held open so that tearing down its mounts
    /// happens after the shim has reported the exit status, not before.
    pub mounts: Option<OwnedFd>,
    /// The user-mode network helper, ended with the container.
    pub net: Option<crate::network::helper::Helper>,
}

fn pipe() -> Result<(OwnedFd, OwnedFd), (i32, String)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| {
        (
            init::EXIT_START_FAILED,
            format!("cannot create a pipe: {e}"),
        )
    })
}

/// `runtime_dir` is the container's live directory, where a network helper may keep
/// its files.
pub fn start(
    spec: &ContainerSpec,
    runtime_dir: &std::path::Path,
    dirs: &crate::config::Dirs,
) -> Result<Created, (i32, String)> {
    let fail =
        |what: &str, e: &dyn std::fmt::Display| (init::EXIT_START_FAILED, format!("{what}: {e}"));
    // Namespaces joined rather than made: another container's, or the user network
    // holder's user namespace. Taken first: the holder's lock is held until the
    // container's links exist.
    let join = Join::prepare(spec, dirs).map_err(|e| (init::EXIT_START_FAILED, e))?;
    // (shim's end, container's end) of each stream.
    let (mut shim_in, mut shim_out, shim_err, child_in, child_out, child_err);
    // With a terminal, the container's init opens it in its own /dev/pts (so `tty`
    // names a device that exists inside) and sends the master back over this socket.
    let mut console = None;
    if spec.tty {
        let null = || {
            std::fs::File::open("/dev/null")
                .map(OwnedFd::from)
                .map_err(|e| fail("open /dev/null", &e))
        };
        let (ours, theirs) = nix::sys::socket::socketpair(
            nix::sys::socket::AddressFamily::Unix,
            nix::sys::socket::SockType::Stream,
            None,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| fail("cannot create the console socket", &e))?;
        console = Some((ours, theirs));
        shim_in = None;
        shim_out = null()?;
        shim_err = None;
        child_in = null()?;
        child_out = null()?;
        child_err = null()?;
    } else {
        if spec.stdin {
            let (r, w) = pipe()?;
            child_in = r;
            shim_in = Some(w);
        } else {
            child_in = std::fs::File::open("/dev/null")
                .map_err(|e| fail("open /dev/null", &e))?
                .into();
            shim_in = None;
        }
        let (r, w) = pipe()?;
        shim_out = r;
        child_out = w;
        let (r, w) = pipe()?;
        shim_err = Some(r);
        child_err = w;
    }
    let (go_r, go_w) = pipe()?;
    let (report_r, report_w) = pipe()?;

    let mut flags = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWCGROUP;
    if spec.idmap != IdMapping::Host && join.userns().is_none() {
        flags |= CloneFlags::CLONE_NEWUSER;
    }
    if spec.network.private() {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    // Raw numbers of the shim's ends, which the child must close so that it never
    // holds a pipe open against itself (a dead shim must end its wait on `go`).
    let shim_ends: Vec<i32> = [
        Some(&shim_out),
        shim_in.as_ref(),
        shim_err.as_ref(),
        Some(&go_w),
        Some(&report_r),
    ]
    .into_iter()
    .flatten()
    .map(|f| f.as_raw_fd())
    .collect();
    let (console_shim, console_child) = match console {
        Some((a, b)) => (Some(a), Some(b)),
        None => (None, None),
    };
    let shim_ends: Vec<i32> = shim_ends
        .into_iter()
        .chain(console_shim.as_ref().map(|f| f.as_raw_fd()))
        .collect();
    let mut child_fds = Some((
        child_in,
        child_out,
        child_err,
        go_r,
        report_w,
        console_child,
    ));
    let child: Box<dyn FnMut() -> isize + '_> = Box::new(move || {
        // In the new process: still the shim's copy, not yet mapped or mounted.
        for fd in &shim_ends {
            let _ = nix::unistd::close(*fd);
        }
        let (i, o, e, go, report, console) = child_fds.take().expect("the child runs once");
        let _ = rustix::stdio::dup2_stdin(&i);
        let _ = rustix::stdio::dup2_stdout(&o);
        let _ = rustix::stdio::dup2_stderr(&e);
        drop((i, o, e));
        init::run(spec, go, report, console)
    });
    let pid = match &join {
        Join::Nothing => sys::clone_into(flags, child)
            .map_err(|e| fail("cannot create the container's namespaces", &e))?,
        joined => match spawn_joined(flags, child, joined) {
            Ok(pid) => pid,
            Err((pid, msg)) => {
                if let Some(pid) = pid {
                    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
                    let _ = nix::sys::wait::waitpid(pid, None);
                }
                return Err((init::EXIT_START_FAILED, msg));
            }
        },
    };
    // The closure, and with it the container's ends of the pipes, is gone here.
    // The container's links exist: the holder may clean up again.
    drop(join);

    let userns = if spec.idmap != IdMapping::Host {
        std::fs::File::open(format!("/proc/{pid}/ns/user"))
            .ok()
            .map(OwnedFd::from)
    } else {
        None
    };
    let abort = |msg: String| {
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(pid, None);
        (init::EXIT_START_FAILED, msg)
    };
    if flags.contains(CloneFlags::CLONE_NEWUSER) {
        if let Err(e) = userns::map_process(pid.as_raw(), &spec.idmap) {
            return Err(abort(e.to_string()));
        }
    }
    let fuse = if spec.driver == "fuse-overlayfs" {
        match mount_fuse_overlayfs(spec, pid) {
            Ok(p) => Some(p),
            Err(e) => return Err(abort(e)),
        }
    } else {
        None
    };
    // The network is up before the command starts.
    let net = crate::network::helper::start(&crate::network::helper::Request {
        network: spec.network,
        pid: pid.as_raw(),
        userns: spec.idmap != IdMapping::Host,
        ports: &spec.ports,
        host_loopback: spec.host_loopback,
        runtime_dir,
        ifname: (!spec.networks.is_empty()).then_some("tap0"),
    });
    let net = match net {
        Ok(n) => n,
        Err(e) => {
            if let Some(f) = fuse {
                let _ = nix::sys::signal::kill(f, nix::sys::signal::Signal::SIGKILL);
            }
            return Err(abort(e.to_string()));
        }
    };
    if nix::unistd::write(&go_w, b"1").is_err() {
        return Err(abort(
            "the container's init died before it was mapped".into(),
        ));
    }
    drop(go_w);
    if let Some(sock) = &console_shim {
        // Nothing comes if the init failed before its terminal: the report says why.
        if let Some(master) = receive_fd(sock) {
            if spec.stdin {
                shim_in = master.try_clone().ok();
            }
            shim_out = master;
        }
    }
    // The report pipe closes with nothing in it when the command is exec'd.
    let mut report = String::new();
    let _ = std::fs::File::from(report_r).read_to_string(&mut report);
    if !report.is_empty() {
        let _ = nix::sys::wait::waitpid(pid, None);
        if let Some(f) = fuse {
            let _ = nix::sys::signal::kill(f, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(f, None);
        }
        let (code, msg) = report.split_once('\t').unwrap_or(("125", report.as_str()));
        return Err((
            code.parse().unwrap_or(init::EXIT_START_FAILED),
            msg.to_string(),
        ));
    }
    Ok(Created {
        started: box_shim::Started {
            pid: pid.as_raw(),
            stdin: shim_in,
            stdout: shim_out,
            stderr: shim_err,
            pty: spec.tty,
        },
        userns,
        fuse,
        mounts: std::fs::File::open(format!("/proc/{pid}/ns/mnt"))
            .ok()
            .map(OwnedFd::from),
        net,
    })
}

/// Namespaces a container joins instead of making its own.
enum Join {
    Nothing,
    /// `--network container:NAME`: that container's user (if any) and network
    /// namespaces. Sharing the user namespace is what lets this container's init own
    /// what it mounts (sysfs) in a network namespace it did not make.
    Container {
        userns: Option<OwnedFd>,
        netns: OwnedFd,
    },
    /// User networks: the holder's user namespace, a network namespace of its own,
    /// and a veth pair to each network's bridge.
    Networks {
        holder: crate::network::holder::Holder,
        endpoints: Vec<crate::network::user::Attachment>,
    },
}

impl Join {
    fn prepare(spec: &ContainerSpec, dirs: &crate::config::Dirs) -> Result<Join, String> {
        if let Some(target) = &spec.net_container {
            let containers =
                crate::container::Containers::open(&dirs.data).map_err(|e| e.to_string())?;
            let short = &target[..12.min(target.len())];
            let pid = containers
                .current_state(target)
                .ok()
                .filter(|s| s.is_live())
                .and_then(|s| s.pid)
                .ok_or_else(|| {
                    format!("cannot join the network of container {short}: it is not running")
                })?;
            let open = |ns: &str| {
                std::fs::File::open(format!("/proc/{pid}/ns/{ns}"))
                    .map(OwnedFd::from)
                    .map_err(|e| format!("cannot join the network of container {short}: {e}"))
            };
            return Ok(Join::Container {
                userns: if spec.idmap == IdMapping::Host {
                    None
                } else {
                    Some(open("user")?)
                },
                netns: open("net")?,
            });
        }
        if spec.networks.is_empty() {
            return Ok(Join::Nothing);
        }
        let nets = crate::network::user::Networks::open(&dirs.data).map_err(|e| e.to_string())?;
        for a in &spec.networks {
            if nets.get_by_id(&a.network_id).is_none() {
                return Err(format!("network {} not found", a.network));
            }
        }
        let holder = crate::network::holder::ensure(&dirs.runtime, &spec.idmap)
            .map_err(|e| e.to_string())?;
        Ok(Join::Networks {
            holder,
            endpoints: spec.networks.clone(),
        })
    }

    fn userns(&self) -> Option<&OwnedFd> {
        match self {
            Join::Nothing => None,
            Join::Container { userns, .. } => userns.as_ref(),
            Join::Networks { holder, .. } => holder.userns.as_ref(),
        }
    }
}

/// Creates the container's first process inside joined namespaces. `setns` into a
/// user namespace changes the whole (single-threaded) process for good, so a forked
/// child does it, clones the container with CLONE_PARENT (the shim stays its parent,
/// to reap it and to be the parent its death signal watches), connects its veth
/// pairs, reports the pid and exits.
fn spawn_joined(
    flags: CloneFlags,
    child: Box<dyn FnMut() -> isize + '_>,
    join: &Join,
) -> Result<nix::unistd::Pid, (Option<nix::unistd::Pid>, String)> {
    let (r, w) = pipe().map_err(|(_, m)| (None, m))?;
    match sys::fork().map_err(|e| (None, format!("fork: {e}")))? {
        sys::Forked::Child => {
            drop(r);
            let mut w = std::fs::File::from(w);
            let mut child = Some(child);
            let mut run = || -> Result<(), String> {
                if let Some(u) = join.userns() {
                    userns::join(u)?;
                }
                if let Join::Container { netns, .. } = join {
                    nix::sched::setns(netns, CloneFlags::CLONE_NEWNET)
                        .map_err(|e| format!("cannot join the network namespace: {e}"))?;
                }
                let pid = sys::clone_into(
                    flags | CloneFlags::CLONE_PARENT,
                    child.take().expect("cloned once"),
                )
                .map_err(|e| format!("cannot create the container's namespaces: {e}"))?;
                let _ = writeln!(w, "pid {pid}");
                if let Join::Networks { holder, endpoints } = join {
                    let netns = std::fs::File::open(format!("/proc/{pid}/ns/net"))
                        .map_err(|e| format!("open the container's network namespace: {e}"))?;
                    let bridges: Vec<String> = endpoints
                        .iter()
                        .map(|a| crate::network::user::bridge_name(&a.network_id))
                        .collect();
                    let eps: Vec<_> = endpoints
                        .iter()
                        .zip(&bridges)
                        .map(|(a, bridge)| crate::network::netlink::Endpoint {
                            bridge,
                            gateway: a.gateway,
                            prefix: a.prefix,
                            ip: a.ip,
                            mac: a.mac(),
                            ifname: &a.ifname,
                        })
                        .collect();
                    crate::network::netlink::attach(holder.netns.as_fd(), netns.as_fd(), &eps)
                        .map_err(|e| {
                            format!("cannot connect the container to its networks: {e}")
                        })?;
                }
                Ok(())
            };
            let code = match run() {
                Ok(()) => {
                    let _ = writeln!(w, "ok");
                    0
                }
                Err(e) => {
                    let _ = writeln!(w, "error {e}");
                    1
                }
            };
            sys::exit_child(code)
        }
        sys::Forked::Parent { child: helper } => {
            drop(child);
            drop(w);
            // Line by line, not to the end: the container inherited the write end too
            // (it has not exec'd yet), so the end comes when the helper says so.
            let mut pid = None;
            let mut error = None;
            let mut lines = std::io::BufReader::new(std::fs::File::from(r));
            loop {
                let mut l = String::new();
                if std::io::BufRead::read_line(&mut lines, &mut l).unwrap_or(0) == 0 {
                    break;
                }
                let l = l.trim_end();
                if let Some(p) = l.strip_prefix("pid ") {
                    pid = p.parse().ok().map(nix::unistd::Pid::from_raw);
                } else if let Some(e) = l.strip_prefix("error ") {
                    error = Some(e.to_string());
                    break;
                } else if l == "ok" {
                    break;
                }
            }
            let _ = nix::sys::wait::waitpid(helper, None);
            if let Some(e) = error {
                return Err((pid, e));
            }
            pid.ok_or_else(|| (None, "the container could not be created".to_string()))
        }
    }
}

/// Receives one file descriptor sent with SCM_RIGHTS.
pub(crate) fn receive_fd(sock: &OwnedFd) -> Option<OwnedFd> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut buf = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .ok()?;
    for c in msg.cmsgs().ok()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            return fds.first().map(|fd| sys::adopt_received_fd(*fd));
        }
    }
    None
}

/// Mounts the root filesystem with the `fuse-overlayfs` helper, for kernels (or
/// configurations) where the kernel's overlay cannot be used. The helper runs in the
/// container's user and mount namespaces but not its pid namespace (it must not show
/// up, or die, as one of the container's processes): a forked child joins them and
/// execs it in the foreground; the mount is ready when it appears in the container's
/// mount table.
fn mount_fuse_overlayfs(
    spec: &ContainerSpec,
    pid: nix::unistd::Pid,
) -> Result<nix::unistd::Pid, String> {
    use std::os::unix::process::CommandExt;
    let prog = super::idmap::find_program("fuse-overlayfs")
        .ok_or("fuse-overlayfs not found on PATH (install the fuse-overlayfs package)")?;
    let open = |ns: &str| {
        std::fs::File::open(format!("/proc/{pid}/ns/{ns}"))
            .map_err(|e| format!("open the container's {ns} namespace: {e}"))
    };
    let userns = if spec.idmap != IdMapping::Host {
        Some(open("user")?)
    } else {
        None
    };
    let mntns = open("mnt")?;
    let rootfs = spec.dir.join("rootfs");
    let log = spec.dir.join("fuse-overlayfs.log");
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        spec.lower
            .iter()
            .map(|l| spec.store_root.join(l).display().to_string())
            .collect::<Vec<_>>()
            .join(":"),
        spec.dir.join("upper").display(),
        spec.dir.join("work").display()
    );
    let child = match sys::fork().map_err(|e| format!("fork: {e}"))? {
        sys::Forked::Child => {
            // In the helper: joins the container's namespaces, then becomes fuse-overlayfs.
            let joined = userns.as_ref().is_none_or(|u| {
                userns::join(u).is_ok()
            }) && nix::sched::setns(&mntns, CloneFlags::CLONE_NEWNS).is_ok()
                // It must not outlive the shim either (set after the ids changed).
                && nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).is_ok();
            if !joined {
                sys::exit_child(125);
            }
            let mut cmd = std::process::Command::new(prog);
            cmd.args(["-f", "-o", &opts]).arg(&rootfs);
            if let Ok(f) = std::fs::File::create(&log) {
                cmd.stderr(f);
            }
            let _ = cmd.exec();
            sys::exit_child(127)
        }
        sys::Forked::Parent { child } => child,
    };
    let mountinfo = format!("/proc/{pid}/mountinfo");
    let target = format!(" {} ", rootfs.display());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if std::fs::read_to_string(&mountinfo)
            .is_ok_and(|m| m.lines().any(|l| l.contains(&target) && l.contains("fuse")))
        {
            return Ok(child);
        }
        let gone = !matches!(
            nix::sys::wait::waitpid(child, Some(nix::sys::wait::WaitPidFlag::WNOHANG)),
            Ok(nix::sys::wait::WaitStatus::StillAlive)
        );
        if gone || std::time::Instant::now() > deadline {
            let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
            let why = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(format!(
                "fuse-overlayfs could not mount the root filesystem: {}",
                if why.trim().is_empty() {
                    "it exited"
                } else {
                    why.trim()
                }
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// The quick way, without a namespace: the tree is usually all the user's own (the
/// container ran as its root), but overlay leaves `work/work` with mode 0. Returns
/// whether `dir` is gone.
fn remove_as_user(dir: &std::path::Path) -> bool {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    fn open_up(d: &std::path::Path, uid: u32) {
        let Ok(entries) = std::fs::read_dir(d) else {
            return;
        };
        for e in entries.flatten() {
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            if m.is_dir() {
                if m.uid() == uid && m.mode() & 0o700 != 0o700 {
                    let _ =
                        std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(0o700));
                }
                open_up(&e.path(), uid);
            }
        }
    }
    open_up(dir, rustix::process::getuid().as_raw());
    remove_tree(dir)
}

/// Removes `dir`; true if it is gone. Another removal may be finishing the same tree
/// (`box rm` finishes what interrupted removals left): gone is gone, whoever removed
/// what.
fn remove_tree(dir: &std::path::Path) -> bool {
    std::fs::remove_dir_all(dir).is_ok() || !dir.exists()
}

/// Removes a directory tree whose files may belong to the container's mapped ids, from
/// a child in the container's user namespace (kept alive by `userns`), or in a fresh
/// one with the same mapping when the container never got that far.
pub fn remove_as_container(
    userns: Option<&OwnedFd>,
    idmap: &IdMapping,
    dir: &std::path::Path,
) -> std::io::Result<()> {
    if *idmap == IdMapping::Host {
        // As `remove_tree`, keeping the error.
        return match std::fs::remove_dir_all(dir) {
            Err(_) if !dir.exists() => Ok(()),
            r => r,
        };
    }
    if remove_as_user(dir) {
        return Ok(());
    }
    match sys::fork()? {
        sys::Forked::Child => {
            let entered = match userns {
                Some(ns) => userns::join(ns).is_ok(),
                None => userns::enter(idmap).is_ok(),
            };
            sys::exit_child(if entered && remove_tree(dir) { 0 } else { 1 })
        }
        sys::Forked::Parent { child } => match nix::sys::wait::waitpid(child, None) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, 0)) => Ok(()),
            other => Err(std::io::Error::other(format!(
                "removal in the container's user namespace failed: {other:?}"
            ))),
        },
    }
}
