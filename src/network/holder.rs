//! The per-user network namespace holder: one small process per user, in a user
//! namespace with the user's id mapping and a network namespace of its own, where
//! the bridges of user networks live. Without root there is no host namespace to put
//! a bridge in; podman keeps a "rootless netns" for the same reason.
//!
//! Containers on user networks are created inside the holder's user namespace (so
//! that it owns their network namespaces too, and a veth pair can join the two), each
//! with its own network namespace, plus its own pasta or slirp4netns for the way out
//! and for published ports. The bridges carry only the traffic between members, so
//! nothing needs NAT here, and the kernel modules for it (which an unprivileged user
//! cannot load) are not needed either.
//!
//! ```text
//! $XDG_RUNTIME_DIR/box/netns/alive.lock   flock'ed by the holder for its whole life
//! $XDG_RUNTIME_DIR/box/netns/attach.lock  flock'ed while a container is connected,
//!                                         and by the holder when it cleans up
//! $XDG_RUNTIME_DIR/box/netns/holder.pid   its pid, for /proc/PID/ns/{user,net}
//! $XDG_RUNTIME_DIR/box/netns/holder.log   what it said on stderr
//! ```
//!
//! It starts on demand ([`ensure`]) and ends by itself: whenever a link comes or goes
//! it takes the attach lock, deletes the bridges nobody is on, and exits when no
//! container link is left. A veth pair dies with its container's network namespace,
//! so a container that ends, however it ends, is noticed. Holding the attach lock
//! from "is the holder there?" until the container's veth exists closes the race with
//! a holder deciding to leave.

use std::fs;
use std::io::{BufRead, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use rustix::fs::FlockOperation;
use thiserror::Error;

use crate::runtime::idmap::IdMapping;

#[derive(Debug, Error)]
pub enum HolderError {
    #[error("network namespace holder: {what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("the network namespace holder could not start: {0}")]
    Start(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> HolderError {
    let what = what.into();
    move |source| HolderError::Io { what, source }
}

/// The holder's directory under box's runtime directory.
pub fn dir(runtime: &Path) -> PathBuf {
    runtime.join("netns")
}

fn lock_file(path: &Path, op: FlockOperation) -> Result<Option<fs::File>, HolderError> {
    let f = fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io(format!("open {}", path.display())))?;
    match rustix::fs::flock(&f, op) {
        Ok(()) => Ok(Some(f)),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
        Err(e) => Err(io(format!("lock {}", path.display()))(e.into())),
    }
}

/// A live holder's namespaces, with the attach lock held: it stays until this drops.
pub struct Holder {
    pub pid: i32,
    /// `None` when box runs as root with the host's ids: no user namespace then.
    pub userns: Option<OwnedFd>,
    pub netns: OwnedFd,
    _attach: fs::File,
}

/// Whether a holder runs now (without starting one).
pub fn running(runtime: &Path) -> Option<i32> {
    let d = dir(runtime);
    let free = lock_file(&d.join("alive.lock"), FlockOperation::NonBlockingLockShared).ok()?;
    if free.is_some() {
        return None;
    }
    fs::read_to_string(d.join("holder.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The user's holder, started if it is not running, and the attach lock.
pub fn ensure(runtime: &Path, idmap: &IdMapping) -> Result<Holder, HolderError> {
    let d = dir(runtime);
    {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&d)
            .map_err(io(format!("create {}", d.display())))?;
    }
    let attach = lock_file(&d.join("attach.lock"), FlockOperation::LockExclusive)?
        .expect("a blocking lock is taken");
    let pid = match running(runtime) {
        Some(pid) => pid,
        None => spawn(&d)?,
    };
    let open = |ns: &str| {
        fs::File::open(format!("/proc/{pid}/ns/{ns}"))
            .map(OwnedFd::from)
            .map_err(io(format!("open the holder's {ns} namespace")))
    };
    Ok(Holder {
        pid,
        userns: if *idmap == IdMapping::Host {
            None
        } else {
            Some(open("user")?)
        },
        netns: open("net")?,
        _attach: attach,
    })
}

/// Starts `box __netns-holder` and waits for its "ready".
fn spawn(d: &Path) -> Result<i32, HolderError> {
    let log = fs::File::create(d.join("holder.log")).map_err(io("create holder.log"))?;
    let mut cmd = Command::new("/proc/self/exe");
    cmd.arg("__netns-holder")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        // It makes a session of its own (so not a process group leader here, which
        // setsid(2) would refuse): signals to the starting shim's group miss it.
        .current_dir("/");
    let mut child = cmd.spawn().map_err(io("start box __netns-holder"))?;
    let mut line = String::new();
    let _ = std::io::BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line);
    match line.trim_end().strip_prefix("ready ") {
        Some(pid) => {
            // The first process, which forked the holder and left.
            let _ = child.wait();
            pid.parse()
                .map_err(|_| HolderError::Start(format!("it said {line:?}")))
        }
        None => {
            let _ = child.wait();
            let why = fs::read_to_string(d.join("holder.log")).unwrap_or_default();
            Err(HolderError::Start(
                line.strip_prefix("error ")
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .or(why.lines().last())
                    .unwrap_or("it exited")
                    .to_string(),
            ))
        }
    }
}

/// The holder itself (`box __netns-holder`). Says `ready PID` on stdout once its
/// namespaces exist, then waits for link changes until no container needs it.
pub fn run(runtime: &Path, idmap: &IdMapping) -> i32 {
    let d = dir(runtime);
    let say = |line: &str| {
        let mut out = std::io::stdout();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    // Not the starting shim's child (it would stay its zombie): the first process
    // exits at once, and its child, adopted by init, is the holder.
    match crate::sys::fork() {
        Ok(crate::sys::Forked::Child) => {}
        Ok(crate::sys::Forked::Parent { .. }) => crate::sys::exit_child(0),
        Err(e) => {
            say(&format!("error fork: {e}"));
            return 1;
        }
    }
    // Its own session: the terminal of the `box` that started it may close.
    let _ = nix::unistd::setsid();
    // Whatever its starter blocked (a shim blocks SIGTERM for its signalfd): the
    // SIGTERM of a logout or a shutdown must end it.
    crate::sys::unblock_all_signals();
    let alive = match lock_file(
        &d.join("alive.lock"),
        FlockOperation::NonBlockingLockExclusive,
    ) {
        Ok(Some(f)) => f,
        Ok(None) => {
            say("error another holder is running");
            return 1;
        }
        Err(e) => {
            say(&format!("error {e}"));
            return 1;
        }
    };
    let setup = || -> Result<crate::network::netlink::LinkEvents, String> {
        crate::runtime::userns::enter(idmap).map_err(|e| e.to_string())?;
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|e| format!("cannot create a network namespace: {e}"))?;
        crate::sys::loopback_up().map_err(|e| format!("loopback: {e}"))?;
        // Others open /proc/PID/ns/*: keep that allowed whatever the id changes did.
        let _ = nix::sys::prctl::set_dumpable(true);
        let pid = std::process::id();
        fs::write(d.join("holder.pid"), format!("{pid}\n"))
            .map_err(|e| format!("write holder.pid: {e}"))?;
        crate::network::netlink::LinkEvents::subscribe().map_err(|e| e.to_string())
    };
    let mut events = match setup() {
        Ok(e) => e,
        Err(e) => {
            say(&format!("error {e}"));
            return 1;
        }
    };
    say(&format!("ready {}", std::process::id()));
    if let Ok(null) = fs::File::options().read(true).write(true).open("/dev/null") {
        let _ = rustix::stdio::dup2_stdout(&null);
    }
    loop {
        // A link changed, or two seconds passed: a network namespace is torn down by
        // the kernel in the background, and its veth may outlast the last event seen
        // (also a start that failed before it made any link sends none).
        events.wait(Duration::from_secs(2));
        let _attach = match lock_file(&d.join("attach.lock"), FlockOperation::LockExclusive) {
            Ok(Some(f)) => f,
            Ok(None) => continue,
            // Its directory is gone (the runtime directory went with a logout, or was
            // removed): no `box` can find this holder any more, so nothing it holds
            // can be used again.
            Err(e) => {
                eprintln!("box netns holder: {e}: leaving");
                return 1;
            }
        };
        match crate::network::netlink::collect_garbage() {
            Ok(0) => {
                let _ = fs::remove_file(d.join("holder.pid"));
                drop(alive);
                return 0;
            }
            Ok(_) => {}
            Err(e) => eprintln!("box netns holder: {e}"),
        }
    }
}

impl Holder {
    /// Runs `f` in a forked child that has joined the holder's user namespace (where
    /// it may change the holder's and its containers' network namespaces), and
    /// returns its error text, if any.
    pub fn run_inside(&self, f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
        use std::io::Read;
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| format!("cannot create a pipe: {e}"))?;
        match crate::sys::fork().map_err(|e| format!("fork: {e}"))? {
            crate::sys::Forked::Child => {
                drop(r);
                let mut w = fs::File::from(w);
                let res = (|| {
                    if let Some(u) = &self.userns {
                        crate::runtime::userns::join(u)?;
                    }
                    f()
                })();
                if let Err(e) = &res {
                    let _ = w.write_all(e.as_bytes());
                }
                crate::sys::exit_child(i32::from(res.is_err()))
            }
            crate::sys::Forked::Parent { child } => {
                drop(w);
                let mut why = String::new();
                let _ = fs::File::from(r).read_to_string(&mut why);
                let status = nix::sys::wait::waitpid(child, None);
                match status {
                    Ok(nix::sys::wait::WaitStatus::Exited(_, 0)) => Ok(()),
                    _ if !why.is_empty() => Err(why),
                    other => Err(format!("the helper process ended: {other:?}")),
                }
            }
        }
    }

    /// Whether the process `pid` lives in the holder's user namespace (it was started
    /// on a user network), so that links can be added to it while it runs.
    pub fn contains(&self, pid: i32) -> bool {
        let theirs = fs::File::open(format!("/proc/{pid}/ns/user"))
            .ok()
            .and_then(crate::network::netlink::ns_inode);
        match &self.userns {
            Some(u) => theirs.is_some() && theirs == crate::network::netlink::ns_inode(u),
            None => true,
        }
    }
}
