//! Talking to a live shim as a control client (`box stop`, `kill`, `wait`, `rm -f`):
//! no output, only the container's exit status, and the socket's end when the shim
//! exits, however it exits. Waiting on that end needs no polling and no pid that
//! could be reused.

use std::io;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use box_shim::proto;

pub struct Control(UnixStream);

/// How a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    /// The container's run ended with this status (the shim may live on to restart it).
    Exited(i32),
    /// The shim is gone.
    Gone,
    TimedOut,
}

impl Control {
    pub fn connect(socket: &Path) -> io::Result<Control> {
        let mut s = UnixStream::connect(socket)?;
        proto::write_frame(&mut s, proto::CONTROL, &[])?;
        Ok(Control(s))
    }

    /// Asks the shim to stop the container with `signal`: no restart follows.
    pub fn stop(&mut self, signal: i32) -> io::Result<()> {
        proto::write_frame(&mut self.0, proto::STOP, &signal.to_be_bytes())
    }

    /// Passes a signal on to the container's first process.
    pub fn signal(&mut self, signal: i32) -> io::Result<()> {
        proto::write_frame(&mut self.0, proto::SIGNAL, &signal.to_be_bytes())
    }

    /// Waits for the container's next exit, or the shim's end, for at most `limit`.
    pub fn wait_exit(&mut self, limit: Option<Duration>) -> Waited {
        self.wait(limit, true)
    }

    /// Waits until the shim has exited (and so has finished its work: recording the
    /// status, a `--rm` removal), for at most `limit`.
    pub fn wait_gone(&mut self, limit: Option<Duration>) -> Waited {
        self.wait(limit, false)
    }

    fn wait(&mut self, limit: Option<Duration>, exit_counts: bool) -> Waited {
        let deadline = limit.map(|l| Instant::now() + l);
        loop {
            let left = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(l) if !l.is_zero() => Some(l),
                    _ => return Waited::TimedOut,
                },
                None => None,
            };
            let _ = self.0.set_read_timeout(left);
            match proto::read_frame(&mut self.0) {
                Ok(Some((proto::EXIT, b))) if exit_counts && b.len() == 4 => {
                    return Waited::Exited(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                }
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
            }
        }
    }
}
