//! `box exec`: a new process in a running container, as strong as the container's
//! own and no stronger.
//!
//! Which processes: the caller (`box exec`, on the host) forks a *joiner*, which
//! enters the container's user namespace (first: it grants the capabilities the other
//! joins need), then its pid, uts, ipc, net and cgroup namespaces. Joining a pid
//! namespace only places the caller's future children there, so the joiner forks the
//! *process*, born in the container's pid namespace; the process enters the mount
//! namespace (whose root is the container's pivoted root), takes its terminal or
//! stdio, resolves the user in the container's own /etc/passwd, drops privileges the
//! way the container's init did, and execs. It reports a failure through a pipe that
//! closes empty on a successful exec ("CODE\tmessage", as the init's report).
//!
//! The joiner waits for the process and exits with its status, so the caller's wait
//! gives the command's own status and the container's PID 1, which may not reap, never
//! inherits it. It stays out of the mount namespace: its /proc stays the host's, where
//! it can see itself (the fork's thread check reads /proc/self).
//!
//! Namespaces that are already the caller's own (the network of a `--network host`
//! container; every user namespace when box runs as root) are not joined: joining a
//! namespace the host owns fails from inside a user namespace, and is a no-op anyway.

use std::convert::Infallible;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;

use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use thiserror::Error;

use super::init::{self, step, InitError};
use super::spec::ContainerSpec;
use super::{create, user};
use crate::sys;

#[derive(Debug, Error)]
pub enum ExecError {
    #[error("cannot open the {ns} namespace of the container's process {pid}: {source}")]
    Namespace {
        ns: &'static str,
        pid: i32,
        source: std::io::Error,
    },
    #[error("cannot {what}: {source}")]
    Io {
        what: &'static str,
        source: std::io::Error,
    },
    /// What the process reported; `code` is Docker's status for it (125, 126, 127).
    #[error("{message}")]
    Start { code: i32, message: String },
}

impl ExecError {
    pub fn exit_code(&self) -> i32 {
        match self {
            ExecError::Start { code, .. } => *code,
            _ => init::EXIT_START_FAILED,
        }
    }
}

fn io_err(what: &'static str) -> impl FnOnce(std::io::Error) -> ExecError {
    move |source| ExecError::Io { what, source }
}

/// In the order they are joined.
const NAMESPACES: [(&str, CloneFlags); 7] = [
    ("user", CloneFlags::CLONE_NEWUSER),
    ("mnt", CloneFlags::CLONE_NEWNS),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("net", CloneFlags::CLONE_NEWNET),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
];

/// A running container's namespaces, held open: once open, they stay the ones of the
/// process that was checked to be the container's, even if its pid is reused.
pub struct Target {
    joins: Vec<(&'static str, CloneFlags, File)>,
}

impl Target {
    /// Opens the namespaces of `pid` (the container's first process) that differ from
    /// this process's own.
    pub fn open(pid: i32) -> Result<Target, ExecError> {
        let mut joins = Vec::new();
        for (ns, flag) in NAMESPACES {
            let theirs = File::open(format!("/proc/{pid}/ns/{ns}"))
                .and_then(|f| f.metadata().map(|m| (f, m)));
            let (file, meta) = theirs.map_err(|source| ExecError::Namespace { ns, pid, source })?;
            let same = std::fs::metadata(format!("/proc/self/ns/{ns}"))
                .is_ok_and(|own| own.dev() == meta.dev() && own.ino() == meta.ino());
            if !same {
                joins.push((ns, flag, file));
            }
        }
        Ok(Target { joins })
    }

    fn get(&self, ns: &str) -> Option<&File> {
        self.joins.iter().find(|j| j.0 == ns).map(|j| &j.2)
    }
}

/// Where the new process's stdin, stdout and stderr come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stdio {
    /// The caller's own stdout and stderr, and its stdin when `stdin` (else /dev/null):
    /// nothing to relay.
    Inherit { stdin: bool },
    /// A new terminal in the container's own /dev/pts (so `tty` names a device that
    /// exists inside), `(rows, columns)` in size; its master comes back to the caller.
    Terminal { size: Option<(u16, u16)> },
    /// /dev/null for all three: a detached process.
    Null,
}

/// What to run, already resolved on the caller's side.
#[derive(Debug, Clone)]
pub struct Request {
    pub args: Vec<String>,
    /// The whole environment: the container's, with `-e` applied.
    pub env: Vec<String>,
    /// `-u`; `None` runs as the container's own user.
    pub user: Option<String>,
    /// `-w`; `None` starts in the container's working directory.
    pub workdir: Option<String>,
    /// All capabilities and no seccomp filter, whatever the container has.
    pub privileged: bool,
    pub stdio: Stdio,
}

/// A process that has exec'd its command.
pub struct Running {
    joiner: Pid,
    /// The terminal's master side, with [`Stdio::Terminal`].
    pub terminal: Option<OwnedFd>,
}

impl Running {
    /// Waits for the command: its exit status, or 128+N when signal N ended it.
    pub fn wait(self) -> Result<i32, ExecError> {
        loop {
            match waitpid(self.joiner, None) {
                Ok(WaitStatus::Exited(_, code)) => return Ok(code),
                Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
                Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(io_err("wait for the exec'd process")(e.into())),
            }
        }
    }
}

/// Starts `req` in the container whose namespaces `target` holds, and returns once
/// the command runs (or with the reason it could not: [`ExecError::Start`]).
///
/// The caller must be single-threaded (it forks).
pub fn start(spec: &ContainerSpec, target: &Target, req: &Request) -> Result<Running, ExecError> {
    let mut spec = spec.clone();
    if req.privileged {
        spec.security.privileged = true;
    }
    let (report_r, report_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| io_err("create a pipe")(e.into()))?;
    let (console_ours, console_theirs) = if matches!(req.stdio, Stdio::Terminal { .. }) {
        let (a, b) = nix::sys::socket::socketpair(
            nix::sys::socket::AddressFamily::Unix,
            nix::sys::socket::SockType::Stream,
            None,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| io_err("create the terminal's socket")(e.into()))?;
        (Some(a), Some(b))
    } else {
        (None, None)
    };
    let joiner = match sys::fork().map_err(io_err("fork"))? {
        sys::Forked::Child => {
            drop((report_r, console_ours));
            sys::exit_child(joiner(&spec, target, req, report_w, console_theirs))
        }
        sys::Forked::Parent { child } => child,
    };
    drop((report_w, console_theirs));
    // Nothing comes if the process failed before its terminal: the report says why.
    let terminal = console_ours.as_ref().and_then(create::receive_fd);
    let mut report = String::new();
    let _ = File::from(report_r).read_to_string(&mut report);
    if !report.is_empty() {
        let _ = waitpid(joiner, None);
        let (code, message) = report.split_once('\t').unwrap_or(("125", report.as_str()));
        return Err(ExecError::Start {
            code: code.parse().unwrap_or(init::EXIT_START_FAILED),
            message: message.to_string(),
        });
    }
    Ok(Running { joiner, terminal })
}

/// The joiner's whole life; returns its exit status.
fn joiner(
    spec: &ContainerSpec,
    target: &Target,
    req: &Request,
    report: OwnedFd,
    console: Option<OwnedFd>,
) -> i32 {
    // Blocked, not ignored (the process unblocks them): a Ctrl-C or hang-up meant for
    // `box exec` must not end the joiner before it has reaped the process.
    let mut quiet = SigSet::empty();
    for s in [
        Signal::SIGHUP,
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGTERM,
        Signal::SIGPIPE,
    ] {
        quiet.add(s);
    }
    let _ = quiet.thread_block();
    if let Err(e) = join(spec, target) {
        return fail(report, e);
    }
    match sys::fork() {
        Err(e) => fail(
            report,
            InitError::Step {
                step: "fork in the container's pid namespace".into(),
                source: e,
            },
        ),
        Ok(sys::Forked::Child) => {
            let e = match process(spec, target, req, console) {
                Ok(never) => match never {},
                Err(e) => e,
            };
            sys::exit_child(fail(report, e))
        }
        Ok(sys::Forked::Parent { child }) => {
            drop((report, console));
            loop {
                match waitpid(child, None) {
                    Ok(WaitStatus::Exited(_, code)) => return code,
                    Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
                    Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
                    Err(_) => return init::EXIT_START_FAILED,
                }
            }
        }
    }
}

fn fail(report: OwnedFd, e: InitError) -> i32 {
    let _ = write!(File::from(report), "{}\t{e}", e.exit_code());
    e.exit_code()
}

/// The user namespace, as its root, then every other namespace but the mount one.
fn join(spec: &ContainerSpec, target: &Target) -> Result<(), InitError> {
    for (ns, flag, file) in &target.joins {
        if *ns == "mnt" {
            continue;
        }
        step(
            || format!("join the container's {ns} namespace"),
            nix::sched::setns(file, *flag),
        )?;
        if *ns == "user" {
            init::become_root(spec)?;
        }
    }
    Ok(())
}

/// In the container's pid namespace: everything up to the exec.
fn process(
    spec: &ContainerSpec,
    target: &Target,
    req: &Request,
    console: Option<OwnedFd>,
) -> Result<Infallible, InitError> {
    sys::unblock_all_signals();
    sys::default_signal_actions();
    let Some(mnt) = target.get("mnt") else {
        return Err(InitError::Security(
            "the container shares box's own mount namespace".into(),
        ));
    };
    step(
        || "join the container's mount namespace".into(),
        nix::sched::setns(mnt, CloneFlags::CLONE_NEWNS),
    )?;
    match (req.stdio, console) {
        (Stdio::Terminal { size }, Some(sock)) => {
            init::open_terminal(&sock)?;
            if let Some((rows, cols)) = size {
                let ws = rustix::termios::Winsize {
                    ws_row: rows,
                    ws_col: cols,
                    ws_xpixel: 0,
                    ws_ypixel: 0,
                };
                let _ = rustix::termios::tcsetwinsize(std::io::stdin(), ws);
            }
        }
        (stdio, _) => {
            // Its own session, as a process the container started would be: it is
            // not part of the job that `box exec` is on the caller's terminal.
            step(|| "setsid".into(), nix::unistd::setsid())?;
            let null = step(
                || "open /dev/null".into(),
                File::options().read(true).write(true).open("/dev/null"),
            )?;
            if stdio != (Stdio::Inherit { stdin: true }) {
                let _ = rustix::stdio::dup2_stdin(&null);
            }
            if stdio == Stdio::Null {
                let _ = rustix::stdio::dup2_stdout(&null);
                let _ = rustix::stdio::dup2_stderr(&null);
            }
        }
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let who = user::resolve(
        req.user.as_deref().unwrap_or(&spec.process.user),
        &passwd,
        &group,
    )?;
    // Unlike the container's own working directory, an exec's is not created.
    let cwd = req.workdir.as_deref().unwrap_or(&spec.process.cwd);
    step(
        || format!("enter working directory {cwd}"),
        std::env::set_current_dir(cwd),
    )?;
    let argv = init::argv(&req.args)?;
    let env = init::environment(&req.env, &who);
    init::drop_privileges(spec, &who)?;
    let prog = &req.args[0];
    let file = init::find_program(prog, &req.env)?;
    let e = nix::unistd::execve(&file, &argv, &env).unwrap_err();
    Err(init::exec_error(prog, e.into()))
}
