//! box's per-container supervisor, the "shim": one small synchronous process per
//! container that holds its stdio, writes its log, serves an attach socket, reaps it,
//! and reports its exit status, so that no daemon is needed.
//!
//! What it does not do: create the container. The `box` binary passes a `start`
//! callback (namespaces, mounts and exec live in box's runtime); the shim only
//! supervises what `start` returns. Signals only wake the loop (signalfd); there is
//! no async runtime and no thread.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

pub mod proto;

pub struct Config {
    /// Where the container's output is logged (Docker's json-file lines).
    pub log: PathBuf,
    /// Hold the container until the first client attaches (a foreground `box run`),
    /// so not a byte of its output is missed.
    pub wait_for_attach: bool,
}

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

struct Client {
    stream: UnixStream,
    buf: Vec<u8>,
}

/// Supervises the container until it has ended; returns how it ended. `finish` runs
/// once it is gone and its output drained, before attached clients hear the status,
/// so that a `--rm` container is removed by the time `box run` returns.
pub fn supervise(
    cfg: &Config,
    listener: UnixListener,
    start: &mut dyn FnMut() -> Result<Started, (i32, String)>,
    finish: &mut dyn FnMut(&Outcome, Option<i32>),
) -> Outcome {
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    mask.add(Signal::SIGTERM);
    let _ = mask.thread_block();
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).ok();

    let mut clients: Vec<Client> = Vec::new();
    if cfg.wait_for_attach {
        if let Ok((s, _)) = listener.accept() {
            clients.push(Client {
                stream: s,
                buf: Vec::new(),
            });
        }
    }
    let _ = listener.set_nonblocking(true);
    let started = match start() {
        Ok(s) => s,
        Err((code, msg)) => {
            let outcome = Outcome::StartFailed(code, msg.clone());
            finish(&outcome, None);
            let mut payload = code.to_be_bytes().to_vec();
            payload.extend_from_slice(msg.as_bytes());
            broadcast(&mut clients, proto::START_FAILED, &payload);
            return outcome;
        }
    };
    let pid = Pid::from_raw(started.pid);
    let mut log = File::options()
        .create(true)
        .append(true)
        .open(&cfg.log)
        .ok();
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

    while status.is_none() {
        let mut fds: Vec<PollFd> = Vec::new();
        let sig_i = sfd.as_ref().map(|s| {
            fds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        fds.push(PollFd::new(listener.as_fd(), PollFlags::POLLIN));
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
        for c in &clients {
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
        let ready_clients: Vec<bool> = (0..clients.len())
            .map(|k| ready(Some(first_client + k)))
            .collect();
        drop(fds);

        while let Ok((s, _)) = listener.accept() {
            clients.push(Client {
                stream: s,
                buf: Vec::new(),
            });
        }
        if ready_out && !pump(&mut out, proto::STDOUT, &mut log, &mut clients) {
            out = None;
        }
        if ready_err && !pump(&mut err, proto::STDERR, &mut log, &mut clients) {
            err = None;
        }
        let mut k = 0;
        clients.retain_mut(|c| {
            let keep = !ready_clients.get(k).copied().unwrap_or(false)
                || read_client(c, pid, pty, out.as_ref(), &mut pending_in, &mut eof_in);
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
        if ready_sig {
            if let Some(s) = &sfd {
                while let Ok(Some(info)) = s.read_signal() {
                    if info.ssi_signo as i32 == libc::SIGTERM {
                        let _ = nix::sys::signal::kill(pid, Signal::SIGTERM);
                    }
                }
            }
        }
        status = reap(pid);
    }
    // The container is gone: take what it left in the pipes, then report.
    for _ in 0..64 {
        let more_out = out.is_some() && pump(&mut out, proto::STDOUT, &mut log, &mut clients);
        let more_err = err.is_some() && pump(&mut err, proto::STDERR, &mut log, &mut clients);
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
    let outcome = Outcome::Exited(code);
    finish(&outcome, Some(code));
    broadcast(&mut clients, proto::EXIT, &code.to_be_bytes());
    outcome
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
fn pump(
    fd: &mut Option<OwnedFd>,
    kind: u8,
    log: &mut Option<File>,
    clients: &mut Vec<Client>,
) -> bool {
    let Some(f) = fd.as_ref() else { return false };
    let mut buf = [0u8; 65536];
    match nix::unistd::read(f, &mut buf) {
        Ok(0) => false,
        Ok(n) => {
            if let Some(l) = log.as_mut() {
                let _ = l.write_all(log_line(kind, &buf[..n]).as_bytes());
            }
            broadcast(clients, kind, &buf[..n]);
            true
        }
        Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => true,
        Err(_) => false,
    }
}

fn broadcast(clients: &mut Vec<Client>, kind: u8, payload: &[u8]) {
    clients.retain_mut(|c| {
        let _ = c.stream.set_nonblocking(false);
        let ok = proto::write_frame(&mut c.stream, kind, payload).is_ok();
        let _ = c.stream.set_nonblocking(true);
        ok
    });
}

/// Handles what a client sent; false when it has gone.
fn read_client(
    c: &mut Client,
    pid: Pid,
    pty: bool,
    master: Option<&OwnedFd>,
    pending_in: &mut Vec<u8>,
    eof_in: &mut bool,
) -> bool {
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
            proto::STDIN => pending_in.extend_from_slice(&payload),
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
            proto::SIGNAL if payload.len() == 4 => {
                let n = i32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]);
                if let Ok(s) = Signal::try_from(n) {
                    let _ = nix::sys::signal::kill(pid, s);
                }
            }
            _ => {}
        }
    }
    alive
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

/// One log record in Docker's json-file format.
fn log_line(kind: u8, bytes: &[u8]) -> String {
    let stream = if kind == proto::STDERR {
        "stderr"
    } else {
        "stdout"
    };
    let mut s = String::with_capacity(bytes.len() + 64);
    s.push_str("{\"log\":\"");
    for ch in String::from_utf8_lossy(bytes).chars() {
        match ch {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if (c as u32) < 0x20 => s.push_str(&format!("\\u{:04x}", c as u32)),
            c => s.push(c),
        }
    }
    s.push_str("\",\"stream\":\"");
    s.push_str(stream);
    s.push_str("\",\"time\":\"");
    s.push_str(&rfc3339_now());
    s.push_str("\"}\n");
    s
}

/// UTC now as RFC 3339 with nanoseconds, without a date library.
fn rfc3339_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Howard Hinnant's days-to-civil.
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_nanos()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_are_json() {
        let l = log_line(proto::STDERR, b"a\"b\n\x01");
        assert!(
            l.starts_with("{\"log\":\"a\\\"b\\n\\u0001\",\"stream\":\"stderr\",\"time\":\"20"),
            "{l}"
        );
        assert!(l.ends_with("Z\"}\n"));
    }
}
