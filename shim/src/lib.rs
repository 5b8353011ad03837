//! box's per-container supervisor, the "shim": one small synchronous process per
//! container that holds its stdio, writes its log, serves an attach socket, reaps it,
//! and reports its exit status, so that no daemon is needed.
//!
//! What it does not do: create the container. The `box` binary passes a `start`
//! callback (namespaces, mounts and exec live in box's runtime); the shim only
//! supervises what `start` returns. Signals only wake the loop (signalfd); there is
//! no async runtime and no thread.

use std::collections::VecDeque;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

mod clients;
pub mod log;
pub mod proto;

use clients::{Clients, Request};

pub use log::LogConfig;

/// What the `start` callback hands back: the container's first process and the
/// shim's ends of its stdio. With a terminal, `stdout` is the pty master and `stdin`
/// a duplicate of it.
pub struct Started {
    pub pid: i32,
    pub stdin: Option<OwnedFd>,
    pub stdout: OwnedFd,
    pub stderr: Option<OwnedFd>,
    pub pty: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The exit status, 128+N for death by signal N.
    Exited(i32),
    /// The container never ran its command: status (125, 126, 127) and why.
    StartFailed(i32, String),
}

/// How one run of the container ended, and whether the user asked it to stop (`box
/// stop`, `box kill`, or SIGTERM to the shim), which overrides any restart policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub outcome: Outcome,
    pub stopped: bool,
}

/// One container's supervisor: its attach socket and clients, its log, and the
/// signals that wake it. Lives as long as the shim; `run` once per start of the
/// container (more than once under a restart policy).
pub struct Supervisor {
    listener: UnixListener,
    clients: Clients,
    log: log::Log,
    sfd: Option<SignalFd>,
    stop: StopConfig,
    /// A stop request came while the clients were given their last output: the
    /// container has ended, and must not be restarted ([`Supervisor::pause`]).
    stop_asked: bool,
}

/// How the container is stopped when the shim itself gets SIGTERM: its stop signal
/// (a number: real-time ones included), then SIGKILL after the timeout (a PID 1
/// without a handler ignores SIGTERM).
#[derive(Debug, Clone, Copy)]
pub struct StopConfig {
    pub signal: i32,
    pub timeout: Duration,
}

/// How long the first client of a foreground run may take to come: a `box run`
/// killed before it attached must not leave a shim waiting for ever.
const FIRST_CLIENT: Duration = Duration::from_secs(30);

/// Stdin the shim holds for a container that does not read it yet. Past it the
/// shim stops reading from the clients that send stdin, as a full pipe would stop
/// their writes: a `cat 10G | box run -i` grows nothing but the kernel's buffers.
const STDIN_BOUND: usize = 1 << 20;

impl Supervisor {
    pub fn new(listener: UnixListener, log: LogConfig, stop: StopConfig) -> Supervisor {
        let mut mask = SigSet::empty();
        mask.add(Signal::SIGCHLD);
        mask.add(Signal::SIGTERM);
        let _ = mask.thread_block();
        let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).ok();
        let _ = listener.set_nonblocking(true);
        Supervisor {
            listener,
            clients: Clients::default(),
            log: log::Log::open(log),
            sfd,
            stop,
            stop_asked: false,
        }
    }

    /// Waits for the first client (a foreground `box run` or `box start -a`), so that
    /// not a byte of the container's output is missed. False if none came in time.
    pub fn wait_for_client(&mut self) -> bool {
        let deadline = Instant::now() + FIRST_CLIENT;
        while self.clients.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let mut fds = [PollFd::new(self.listener.as_fd(), PollFlags::POLLIN)];
            let _ = poll(&mut fds, timeout(left));
            self.clients.accept(&self.listener);
        }
        true
    }

    /// Waits `pause` between two runs (a restart's back-off), still answering clients.
    /// True if the user stopped the container meanwhile.
    pub fn pause(&mut self, pause: Duration) -> bool {
        if self.stop_asked {
            return true;
        }
        let deadline = Instant::now() + pause;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let mut fds: Vec<PollFd> = Vec::new();
            if let Some(s) = &self.sfd {
                fds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
            }
            fds.push(PollFd::new(self.listener.as_fd(), PollFlags::POLLIN));
            let first_client = fds.len();
            for (fd, flags) in self.clients.interests(false) {
                fds.push(PollFd::new(fd, flags));
            }
            let _ = poll(&mut fds, timeout(left));
            let ready = revents(&fds, first_client);
            drop(fds);
            if self.take_signals().contains(&libc::SIGTERM) {
                return true;
            }
            let requests = self.clients.serve(&ready);
            self.clients.accept(&self.listener);
            if requests.iter().any(|r| matches!(r, Request::Stop(_))) {
                return true;
            }
        }
    }

    /// Pending signals' numbers (SIGCHLD only wakes the loop).
    fn take_signals(&mut self) -> Vec<i32> {
        let mut out = Vec::new();
        if let Some(s) = &self.sfd {
            while let Ok(Some(info)) = s.read_signal() {
                out.push(info.ssi_signo as i32);
            }
        }
        out
    }

    /// Gives the clients what they have not taken yet (the last output, the exit
    /// status), dropping those that take nothing for [`clients::STALL`].
    fn flush_clients(&mut self) {
        while self.clients.pending() {
            let mut fds: Vec<PollFd> = self
                .clients
                .interests(false)
                .into_iter()
                .map(|(fd, flags)| PollFd::new(fd, flags))
                .collect();
            let _ = poll(&mut fds, PollTimeout::from(100u16));
            let ready = revents(&fds, 0);
            drop(fds);
            // Stdin and signals mean nothing now: the container has ended. A stop
            // still does: no restart follows.
            let requests = self.clients.serve(&ready);
            self.stop_asked |= requests.iter().any(|r| matches!(r, Request::Stop(_)));
            let _ = self.clients.drop_stalled(true);
        }
    }

    /// Starts the container with `start` and supervises it until it has ended.
    /// `finish` runs once it is gone and its output drained, before attached clients
    /// hear the status, so that a `--rm` container is removed by the time `box run`
    /// returns.
    /// `idle` runs once the container has started and nothing is left to do, right
    /// before the shim first sleeps without a timeout: the moment to give back what
    /// starting up touched.
    pub fn run(
        &mut self,
        start: &mut dyn FnMut() -> Result<Started, (i32, String)>,
        idle: &mut dyn FnMut(),
        finish: &mut dyn FnMut(&Ended),
    ) -> Ended {
        let started = match start() {
            Ok(s) => s,
            Err((code, msg)) => {
                let ended = Ended {
                    outcome: Outcome::StartFailed(code, msg.clone()),
                    stopped: false,
                };
                finish(&ended);
                let mut payload = code.to_be_bytes().to_vec();
                payload.extend_from_slice(msg.as_bytes());
                self.clients.broadcast(proto::START_FAILED, &payload, false);
                self.flush_clients();
                return ended;
            }
        };
        let pid = Pid::from_raw(started.pid);
        let mut out = Some(started.stdout);
        let mut err = started.stderr;
        let mut stdin = started.stdin;
        for fd in [out.as_ref(), err.as_ref(), stdin.as_ref()]
            .into_iter()
            .flatten()
        {
            set_nonblocking(fd.as_fd());
        }
        let pty = started.pty;
        let mut pending_in: VecDeque<u8> = VecDeque::new();
        let mut eof_in = false;
        let mut status: Option<i32> = None;
        let mut stopped = false;
        // When a stop asked of the shim itself (SIGTERM) turns into SIGKILL.
        let mut kill_at: Option<Instant> = None;
        let mut settled = false;

        while status.is_none() {
            // A stdin-once client dropped for stalling has left without detaching.
            let dropped = self.clients.drop_stalled(false);
            // A client too far behind holds the output back, for a while at most.
            let hold = self.clients.holding_back();
            let mut fds: Vec<PollFd> = Vec::new();
            let sig_i = self.sfd.as_ref().map(|s| {
                fds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
                fds.len() - 1
            });
            fds.push(PollFd::new(self.listener.as_fd(), PollFlags::POLLIN));
            let out_i = out.as_ref().filter(|_| !hold).map(|f| {
                fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
                fds.len() - 1
            });
            let err_i = err.as_ref().filter(|_| !hold).map(|f| {
                fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
                fds.len() - 1
            });
            let in_i = stdin.as_ref().filter(|_| !pending_in.is_empty()).map(|f| {
                fds.push(PollFd::new(f.as_fd(), PollFlags::POLLOUT));
                fds.len() - 1
            });
            let first_client = fds.len();
            for (fd, flags) in self.clients.interests(pending_in.len() > STDIN_BOUND) {
                fds.push(PollFd::new(fd, flags));
            }
            // Idle, the shim sleeps until something happens: a thousand idle
            // containers must not wake a thousand times a second. A timeout only
            // while output is held back (to see the stall end), while a SIGKILL is
            // due, or as a safety net without a signalfd (out of fds), which is what
            // tells of SIGCHLD.
            let wait = if hold {
                PollTimeout::from(100u16)
            } else if let Some(t) = kill_at {
                timeout(t.saturating_duration_since(Instant::now()))
            } else if self.sfd.is_none() {
                PollTimeout::from(1000u16)
            } else {
                PollTimeout::NONE
            };
            // Before the first indefinite sleep, a look without waiting: if there is
            // nothing to do (a command that has ended already would have its SIGCHLD
            // here), the shim settles first.
            let first_sleep = wait == PollTimeout::NONE && !settled;
            let mut polled = poll(&mut fds, if first_sleep { PollTimeout::ZERO } else { wait });
            if first_sleep && polled == Ok(0) {
                settled = true;
                idle();
                polled = poll(&mut fds, PollTimeout::NONE);
            }
            if polled.is_err() {
                continue;
            }
            let ready = |i: Option<usize>| {
                i.and_then(|i| fds[i].revents())
                    .is_some_and(|r| !r.is_empty())
            };
            let ready_out = ready(out_i);
            let ready_err = ready(err_i);
            let ready_in = ready(in_i);
            let ready_sig = ready(sig_i);
            let ready_clients = revents(&fds, first_client);
            drop(fds);

            let mut requests = self.clients.serve(&ready_clients);
            requests.extend(dropped);
            self.clients.accept(&self.listener);
            if ready_out && !pump(&mut out, proto::STDOUT, &mut self.log, &mut self.clients) {
                out = None;
            }
            if ready_err && !pump(&mut err, proto::STDERR, &mut self.log, &mut self.clients) {
                err = None;
            }
            for r in requests {
                match r {
                    // Its stdin gone, the container takes no more: nothing is kept.
                    Request::Stdin(b) if stdin.is_some() => pending_in.extend(b),
                    Request::Stdin(_) => {}
                    Request::StdinEof => eof_in = true,
                    Request::Resize(rows, cols) if pty => {
                        if let Some(m) = &out {
                            let ws = nix::pty::Winsize {
                                ws_row: rows,
                                ws_col: cols,
                                ws_xpixel: 0,
                                ws_ypixel: 0,
                            };
                            set_winsize(m.as_fd(), &ws);
                        }
                    }
                    Request::Resize(..) => {}
                    Request::Signal(n) => kill(pid, n),
                    Request::Stop(n) => {
                        stopped = true;
                        kill(pid, n);
                    }
                    Request::Hangup if pty => {
                        // What closing a terminal does: SIGHUP (and SIGCONT) to its
                        // session and its foreground process group.
                        let group = out.as_ref().and_then(|m| nix::unistd::tcgetpgrp(m).ok());
                        for sig in [libc::SIGHUP, libc::SIGCONT] {
                            kill(pid, sig);
                            if let Some(g) = group.filter(|g| *g != pid) {
                                kill(Pid::from_raw(-g.as_raw()), sig);
                            }
                        }
                    }
                    Request::Hangup => eof_in = true,
                }
            }
            if ready_in || (!pending_in.is_empty() && stdin.is_some()) {
                if let Some(f) = &stdin {
                    match nix::unistd::write(f, pending_in.as_slices().0) {
                        Ok(n) => {
                            pending_in.drain(..n);
                            if pending_in.is_empty() {
                                // A burst's buffer is not kept for the shim's life.
                                pending_in = VecDeque::new();
                            }
                        }
                        Err(nix::errno::Errno::EAGAIN) => {}
                        Err(_) => {
                            pending_in = VecDeque::new();
                            stdin = None;
                        }
                    }
                }
            }
            if eof_in && pending_in.is_empty() && stdin.is_some() {
                if pty {
                    // A terminal has no end of file; ^D at the start of a line is one.
                    if let Some(f) = &stdin {
                        let _ = nix::unistd::write(f, &[4u8]);
                    }
                }
                stdin = None;
                eof_in = false;
            }
            if ready_sig && self.take_signals().contains(&libc::SIGTERM) {
                // The shim asked to end (a logout, a shutdown, a `box stop` that cannot
                // reach the socket): a stop, as `box stop`'s. After an earlier stop
                // request too, whose sender may have gone before its SIGKILL: one is
                // due now.
                stopped = true;
                kill(pid, self.stop.signal);
                kill_at.get_or_insert_with(|| Instant::now() + self.stop.timeout);
            }
            if kill_at.is_some_and(|t| Instant::now() >= t) {
                kill(pid, libc::SIGKILL);
                kill_at = None;
            }
            status = reap(pid);
        }
        // A SIGTERM that came with the end, not read yet, is a stop all the same: a
        // `box stop` without the socket sends it, then the container's SIGKILL.
        if self.take_signals().contains(&libc::SIGTERM) {
            stopped = true;
        }
        // The container is gone: take what it left in the pipes, then report.
        for _ in 0..64 {
            let more_out =
                out.is_some() && pump(&mut out, proto::STDOUT, &mut self.log, &mut self.clients);
            let more_err =
                err.is_some() && pump(&mut err, proto::STDERR, &mut self.log, &mut self.clients);
            if !more_out {
                out = None;
            }
            if !more_err {
                err = None;
            }
            if out.is_none() && err.is_none() {
                break;
            }
        }
        let code = status.expect("loop ends with a status");
        self.clients.broadcast(proto::ENDED, &[], false);
        let ended = Ended {
            outcome: Outcome::Exited(code),
            stopped,
        };
        finish(&ended);
        self.clients
            .broadcast(proto::EXIT, &code.to_be_bytes(), false);
        self.flush_clients();
        ended
    }
}

fn timeout(d: Duration) -> PollTimeout {
    PollTimeout::from(u16::try_from(d.as_millis().max(1)).unwrap_or(u16::MAX))
}

/// The events each poll entry from `first` on got.
fn revents(fds: &[PollFd], first: usize) -> Vec<PollFlags> {
    fds[first.min(fds.len())..]
        .iter()
        .map(|f| f.revents().unwrap_or(PollFlags::empty()))
        .collect()
}

/// Sends a signal by number (real-time ones too, which `nix`'s `Signal` cannot name).
fn kill(pid: Pid, sig: i32) {
    // SAFETY: kill(2) takes two integers and touches no memory of ours.
    let _ = unsafe { libc::kill(pid.as_raw(), sig) };
}

/// The container's status if it has ended: its exit code, or 128+N for signal N.
fn reap(pid: Pid) -> Option<i32> {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(p, code)) if p == pid => return Some(code),
            Ok(WaitStatus::Signaled(p, s, _)) if p == pid => return Some(128 + s as i32),
            Ok(WaitStatus::StillAlive) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// Moves what is readable now from `fd` to the log and the clients. False once the
/// stream has ended (or, for a pty, the terminal has hung up).
///
/// Never inlined: its 64 KiB buffer would make the supervisor loop's own frame that
/// large, and the stack probes on entering a frame touch every page of it, so each
/// idle shim would keep 64 KiB of dirty stack for its whole life.
#[inline(never)]
fn pump(fd: &mut Option<OwnedFd>, kind: u8, log: &mut log::Log, clients: &mut Clients) -> bool {
    let Some(f) = fd.as_ref() else { return false };
    let mut buf = [0u8; 65536];
    match nix::unistd::read(f, &mut buf) {
        Ok(0) => false,
        Ok(n) => {
            log.write(kind, &buf[..n]);
            clients.broadcast(kind, &buf[..n], true);
            true
        }
        Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => true,
        Err(_) => false,
    }
}

fn set_nonblocking(fd: BorrowedFd) {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    if let Ok(flags) = fcntl(fd, FcntlArg::F_GETFL) {
        let _ = fcntl(
            fd,
            FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
        );
    }
}

nix::ioctl_write_ptr_bad!(tiocswinsz, libc::TIOCSWINSZ, nix::pty::Winsize);

/// Sets a terminal's size (the kernel then sends SIGWINCH to its foreground group).
pub fn set_winsize(fd: BorrowedFd, ws: &nix::pty::Winsize) {
    // SAFETY: TIOCSWINSZ reads one `winsize` from the pointer, which is valid for the
    // call; a non-terminal fd just fails with ENOTTY.
    let _ = unsafe { tiocswinsz(fd.as_raw_fd(), ws) };
}
