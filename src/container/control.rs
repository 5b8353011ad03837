//! Talking to a live shim as a control client (`box stop`, `kill`, `wait`, `rm -f`):
//! no output, only the container's end and exit status, and the socket's end when the
//! shim exits, however it exits. Waiting on that end needs no polling and no pid that
//! could be reused.
//!
//! A shim that does not answer (stopped with SIGSTOP, say) must not hang its callers:
//! every wait here has a limit, and [`Control::shim_process`] finds such a shim to end it, which
//! takes its container with it. A shim whose socket cannot be reached at all is
//! signalled by its pid ([`ShimProcess`]).

use std::io;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use box_shim::proto;

pub struct Control {
    stream: UnixStream,
    /// The shim's pid, as the kernel says it for the socket's listening end.
    shim: Option<i32>,
    /// The shim said the container's process has ended (`ENDED` or `EXIT`).
    ended: bool,
}

/// How a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    /// The container's run ended with this status (the shim may live on to restart it).
    Exited(i32),
    /// The container's process has ended; the shim is recording it.
    Ended,
    /// The shim is gone.
    Gone,
    TimedOut,
}

/// How long a write to a shim may block: it only fills the socket's buffer, so
/// anything longer is a shim that does not read.
const WRITE_LIMIT: Duration = Duration::from_secs(2);

impl Control {
    pub fn connect(socket: &Path) -> io::Result<Control> {
        let mut stream = UnixStream::connect(socket)?;
        stream.set_write_timeout(Some(WRITE_LIMIT))?;
        let shim =
            nix::sys::socket::getsockopt(&stream, nix::sys::socket::sockopt::PeerCredentials)
                .ok()
                .map(|c| c.pid())
                .filter(|p| *p > 0);
        proto::write_frame(&mut stream, proto::CONTROL, &[])?;
        Ok(Control {
            stream,
            shim,
            ended: false,
        })
    }

    /// Asks the shim to stop the container with `signal`: no restart follows.
    pub fn stop(&mut self, signal: i32) -> io::Result<()> {
        proto::write_frame(&mut self.stream, proto::STOP, &signal.to_be_bytes())
    }

    /// Passes a signal on to the container's first process.
    pub fn signal(&mut self, signal: i32) -> io::Result<()> {
        proto::write_frame(&mut self.stream, proto::SIGNAL, &signal.to_be_bytes())
    }

    /// Whether the shim has said that the container's process ended.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Waits for the container's next exit, or the shim's end, for at most `limit`.
    pub fn wait_exit(&mut self, limit: Option<Duration>) -> Waited {
        self.wait(limit, |w| matches!(w, Waited::Exited(_)))
    }

    /// Waits until the container's process has ended (the shim then records it), or
    /// the shim's end, for at most `limit`.
    pub fn wait_ended(&mut self, limit: Option<Duration>) -> Waited {
        if self.ended {
            return Waited::Ended;
        }
        self.wait(limit, |w| matches!(w, Waited::Exited(_) | Waited::Ended))
    }

    /// Waits until the shim has exited (and so has finished its work: recording the
    /// status, a `--rm` removal), for at most `limit`.
    pub fn wait_gone(&mut self, limit: Option<Duration>) -> Waited {
        self.wait(limit, |_| false)
    }

    fn wait(&mut self, limit: Option<Duration>, done: impl Fn(Waited) -> bool) -> Waited {
        let deadline = limit.map(|l| Instant::now() + l);
        loop {
            let left = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(l) if !l.is_zero() => Some(l),
                    _ => return Waited::TimedOut,
                },
                None => None,
            };
            let _ = self.stream.set_read_timeout(left);
            let got = match proto::read_frame(&mut self.stream) {
                Ok(Some((proto::EXIT, b))) if b.len() == 4 => {
                    Waited::Exited(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                }
                Ok(Some((proto::ENDED, _))) => Waited::Ended,
                Ok(Some(_)) => continue,
                Ok(None) => return Waited::Gone,
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut =>
                {
                    return Waited::TimedOut
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Waited::Gone,
            };
            self.ended = true;
            if done(got) {
                return got;
            }
        }
    }

    /// The shim, to end one that does not answer (SIGKILL; its container dies with
    /// it): the process that listens on the socket this client is connected to, if
    /// it is still container `id`'s shim (`box __shim ID`).
    pub fn shim_process(&self, id: &str) -> Option<ShimProcess> {
        self.shim.and_then(|pid| ShimProcess::find(pid, id))
    }
}

/// A live shim known by its pid alone, for when its socket cannot be reached (its
/// runtime directory removed at a logout, say). A pid may have been reused: only a
/// process whose command line is `box __shim ID` counts, and only its own children
/// are signalled as its container's.
pub struct ShimProcess {
    pid: i32,
}

impl ShimProcess {
    /// The shim of container `id`, if `pid` is one.
    pub fn find(pid: i32, id: &str) -> Option<ShimProcess> {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        (args.get(1) == Some(&&b"__shim"[..]) && args.get(2) == Some(&id.as_bytes()))
            .then_some(ShimProcess { pid })
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Sends `sig` to the shim; false if it has gone.
    pub fn signal(&self, sig: i32) -> bool {
        crate::sys::kill(self.pid, sig).is_ok()
    }

    /// Sends `sig` to `child` (the container's first process, as the state records
    /// it) if that is the shim's child still; returns whether it was sent.
    pub fn signal_child(&self, child: i32, sig: i32) -> bool {
        crate::runtime::procs::parent_of(child) == Some(self.pid)
            && crate::sys::kill(child, sig).is_ok()
    }
}
