//! box's per-container supervisor, the "shim": one small synchronous process per
//! container that holds its stdio, writes its log, serves an attach socket, reaps it,
//! and reports its exit status, so that no daemon is needed.
//!
//! What it does not do: create the container. The `box` binary passes a `start`
//! callback (namespaces, mounts and exec live in box's runtime); the shim only
//! supervises what `start` returns. Signals only wake the loop (signalfd); there is
//! no async runtime and no thread.

use std::io::{ErrorKind, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

pub mod log;
pub mod proto;

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

struct Client {
    stream: UnixStream,
    buf: Vec<u8>,
    /// False for control clients, which want no output.
    output: bool,
}

/// One container's supervisor: its attach socket and clients, its log, and the
/// signals that wake it. Lives as long as the shim; `run` once per start of the
/// container (more than once under a restart policy).
pub struct Supervisor {
    listener: UnixListener,
    clients: Vec<Client>,
    log: log::Log,
    sfd: Option<SignalFd>,
    stop: StopConfig,
}

/// How the container is stopped when the shim itself gets SIGTERM: its stop signal,
/// then SIGKILL after the timeout (a PID 1 without a handler ignores SIGTERM).
#[derive(Debug, Clone, Copy)]
pub struct StopConfig {
    pub signal: Signal,
    pub timeout: std::time::Duration,
}

/// What a client asked for while no container runs.
enum Request {
    Stop,
}

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
            clients: Vec::new(),
            log: log::Log::open(log),
            sfd,
            stop,
        }
    }

    /// Waits for the first client (a foreground `box run` or `box start -a`), so that
    /// not a byte of the container's output is missed.
    pub fn wait_for_client(&mut self) {
        let _ = self.listener.set_nonblocking(false);
        if let Ok((s, _)) = self.listener.accept() {
            self.clients.push(Client {
                stream: s,
                buf: Vec::new(),
                output: true,
            });
        }
        let _ = self.listener.set_nonblocking(true);
    }

    /// Waits `pause` between two runs (a restart's back-off), still answering clients.
    /// True if the user stopped the container meanwhile.
    pub fn pause(&mut self, pause: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + pause;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            let mut fds: Vec<PollFd> = Vec::new();
            if let Some(s) = &self.sfd {
                fds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
            }
            fds.push(PollFd::new(self.listener.as_fd(), PollFlags::POLLIN));
            for c in &self.clients {
                fds.push(PollFd::new(c.stream.as_fd(), PollFlags::POLLIN));
            }
            let ms = u16::try_from(left.as_millis().max(1)).unwrap_or(u16::MAX);
            let _ = poll(&mut fds, PollTimeout::from(ms));
            drop(fds);
            if self.take_signals().contains(&libc::SIGTERM) {
                return true;
            }
            self.accept();
            let mut stop = false;
            self.clients.retain_mut(|c| {
                let (alive, reqs) = read_client(c, None, false, None, &mut Vec::new(), &mut false);
                stop |= reqs.iter().any(|r| matches!(r, Request::Stop));
                alive
            });
            if stop {
                return true;
            }
        }
    }

    fn accept(&mut self) {
        while let Ok((s, _)) = self.listener.accept() {
            self.clients.push(Client {
                stream: s,
                buf: Vec::new(),
                output: true,
            });
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

    /// Starts the container with `start` and supervises it until it has ended.
    /// `finish` runs once it is gone and its output drained, before attached clients
    /// hear the status, so that a `--rm` container is removed by the time `box run`
    /// returns.
    pub fn run(
        &mut self,
        start: &mut dyn FnMut() -> Result<Started, (i32, String)>,
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
                broadcast(&mut self.clients, proto::START_FAILED, &payload, false);
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
        let mut pending_in: Vec<u8> = Vec::new();
        let mut eof_in = false;
        let mut status: Option<i32> = None;
        let mut stopped = false;
        // When a stop asked of the shim itself (SIGTERM) turns into SIGKILL.
        let mut kill_at: Option<std::time::Instant> = None;

        while status.is_none() {
            let mut fds: Vec<PollFd> = Vec::new();
            let sig_i = self.sfd.as_ref().map(|s| {
                fds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
                fds.len() - 1
            });
            fds.push(PollFd::new(self.listener.as_fd(), PollFlags::POLLIN));
            let out_i = out.as_ref().map(|f| {
                fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
                fds.len() - 1
            });
            let err_i = err.as_ref().map(|f| {
                fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
                fds.len() - 1
            });
            let in_i = stdin.as_ref().filter(|_| !pending_in.is_empty()).map(|f| {
                fds.push(PollFd::new(f.as_fd(), PollFlags::POLLOUT));
                fds.len() - 1
            });
            let first_client = fds.len();
            for c in &self.clients {
                fds.push(PollFd::new(c.stream.as_fd(), PollFlags::POLLIN));
            }
            // A timeout as a safety net: SIGCHLD is never lost with signalfd, but a
            // missing signalfd (out of fds) must not hang the shim.
            if poll(&mut fds, PollTimeout::from(1000u16)).is_err() {
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
            let ready_clients: Vec<bool> = (0..self.clients.len())
                .map(|k| ready(Some(first_client + k)))
                .collect();
            drop(fds);

            self.accept();
            if ready_out && !pump(&mut out, proto::STDOUT, &mut self.log, &mut self.clients) {
                out = None;
            }
            if ready_err && !pump(&mut err, proto::STDERR, &mut self.log, &mut self.clients) {
                err = None;
            }
            let mut k = 0;
            self.clients.retain_mut(|c| {
                let mut keep = true;
                if ready_clients.get(k).copied().unwrap_or(false) {
                    let (alive, reqs) = read_client(
                        c,
                        Some(pid),
                        pty,
                        out.as_ref(),
                        &mut pending_in,
                        &mut eof_in,
                    );
                    stopped |= reqs.iter().any(|r| matches!(r, Request::Stop));
                    keep = alive;
                }
                k += 1;
                keep
            });
            if ready_in || (!pending_in.is_empty() && stdin.is_some()) {
                if let Some(f) = &stdin {
                    match nix::unistd::write(f, &pending_in) {
                        Ok(n) => {
                            pending_in.drain(..n);
                        }
                        Err(nix::errno::Errno::EAGAIN) => {}
                        Err(_) => {
                            pending_in.clear();
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
            if ready_sig && self.take_signals().contains(&libc::SIGTERM) && !stopped {
                // The shim asked to end (a logout, a shutdown): a stop, as `box stop`.
                stopped = true;
                let _ = nix::sys::signal::kill(pid, self.stop.signal);
                kill_at = Some(std::time::Instant::now() + self.stop.timeout);
            }
            if kill_at.is_some_and(|t| std::time::Instant::now() >= t) {
                let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
                kill_at = None;
            }
            status = reap(pid);
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
        let ended = Ended {
            outcome: Outcome::Exited(code),
            stopped,
        };
        finish(&ended);
        broadcast(&mut self.clients, proto::EXIT, &code.to_be_bytes(), false);
        ended
    }
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
fn pump(fd: &mut Option<OwnedFd>, kind: u8, log: &mut log::Log, clients: &mut Vec<Client>) -> bool {
    let Some(f) = fd.as_ref() else { return false };
    let mut buf = [0u8; 65536];
    match nix::unistd::read(f, &mut buf) {
        Ok(0) => false,
        Ok(n) => {
            log.write(kind, &buf[..n]);
            broadcast(clients, kind, &buf[..n], true);
            true
        }
        Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => true,
        Err(_) => false,
    }
}

/// Sends a frame to every client (only to those that want output, if `output`).
fn broadcast(clients: &mut Vec<Client>, kind: u8, payload: &[u8], output: bool) {
    clients.retain_mut(|c| {
        if output && !c.output {
            return true;
        }
        let _ = c.stream.set_nonblocking(false);
        let ok = proto::write_frame(&mut c.stream, kind, payload).is_ok();
        let _ = c.stream.set_nonblocking(true);
        ok
    });
}

/// Handles what a client sent (`pid` is the running container, if one runs); returns
/// whether the client is still there, and what it asked of the shim itself.
fn read_client(
    c: &mut Client,
    pid: Option<Pid>,
    pty: bool,
    master: Option<&OwnedFd>,
    pending_in: &mut Vec<u8>,
    eof_in: &mut bool,
) -> (bool, Vec<Request>) {
    let mut requests = Vec::new();
    let mut buf = [0u8; 65536];
    let _ = c.stream.set_nonblocking(true);
    let alive = match c.stream.read(&mut buf) {
        Ok(0) => false,
        Ok(n) => {
            c.buf.extend_from_slice(&buf[..n]);
            true
        }
        Err(e) => e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted,
    };
    while let Some((kind, payload)) = proto::take_frame(&mut c.buf) {
        match kind {
            proto::CONTROL => c.output = false,
            proto::STDIN if pid.is_some() => pending_in.extend_from_slice(&payload),
            proto::STDIN_EOF => *eof_in = true,
            proto::RESIZE if pty && payload.len() == 4 => {
                if let Some(m) = master {
                    let ws = nix::pty::Winsize {
                        ws_row: u16::from_be_bytes([payload[0], payload[1]]),
                        ws_col: u16::from_be_bytes([payload[2], payload[3]]),
                        ws_xpixel: 0,
                        ws_ypixel: 0,
                    };
                    set_winsize(m.as_fd(), &ws);
                }
            }
            proto::SIGNAL | proto::STOP if payload.len() == 4 => {
                if kind == proto::STOP {
                    requests.push(Request::Stop);
                }
                let n = i32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]);
                if let (Ok(s), Some(pid)) = (Signal::try_from(n), pid) {
                    let _ = nix::sys::signal::kill(pid, s);
                }
            }
            _ => {}
        }
    }
    (alive, requests)
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
