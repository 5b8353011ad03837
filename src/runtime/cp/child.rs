//! The copying process of `box cp`: how it gets into the container, worked out on the
//! host before forking (join a running container's namespaces, or mount a stopped
//! one's root filesystem), the fork itself, and the child's exit status and error
//! read back on the host.
//!
//! The child must not touch a path before [`enter`] has put it in the container's
//! view of the world; what it does there (send or receive an archive) is the
//! caller's `work`, not this module's.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::sched::CloneFlags;

use super::{pipe, CpError, Target};
use crate::runtime::idmap::IdMapping;
use crate::runtime::{init, userns};
use crate::sys;

/// How the child gets into the container, worked out on the host before forking.
pub(super) enum Way {
    Join { user: Option<OwnedFd>, mnt: OwnedFd },
    Mount,
}

impl Way {
    pub(super) fn prepare(t: &Target) -> Result<Way, CpError> {
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
            if crate::runtime::procs::parent_of(pid) != Some(shim) {
                return Err(enter_err("its first process")(io::Error::other(
                    "the process has ended",
                )));
            }
        }
        Ok(Way::Join { user, mnt })
    }
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
pub(super) struct Child {
    pid: nix::unistd::Pid,
    errors: File,
}

/// The child's exit status when the other side of the data pipe went away.
const EXIT_PEER_GONE: i32 = 3;

/// Forks the child that enters the container and runs `work` on its end of the data
/// pipe (`theirs`). `ours` is the host's end, which the child closes: holding it open
/// would keep the child's read from ever seeing the end of the stream.
pub(super) fn spawn(
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
    pub(super) fn finish(mut self) -> Result<(), CpError> {
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
