//! The client side of a shim's attach socket: relays the terminal or pipes to the
//! container and its output back, passes on signals and window sizes, and returns the
//! container's exit status. Used by `box run` (and later `box attach`, `box start -a`).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use box_shim::proto;
use nix::sys::signal::{SigSet, Signal};

use super::StatusError;

/// Signals `box` passes on to the container instead of dying of them.
const PROXIED: [Signal; 6] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

pub struct Options {
    pub stdin: bool,
    pub tty: bool,
    /// Ctrl-P Ctrl-Q on stdin detaches, leaving the container running (Docker's keys).
    pub detach_keys: bool,
}

/// Docker's default detach keys: Ctrl-P, Ctrl-Q.
const DETACH: [u8; 2] = [0x10, 0x11];

/// Finds the detach keys in what the user typed, across reads: a Ctrl-P is held back
/// until the next byte shows whether it starts the sequence.
#[derive(Default)]
struct DetachKeys {
    held: bool,
}

impl DetachKeys {
    /// The bytes to pass on, and whether the user detached.
    fn scan(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len());
        for &b in input {
            if self.held {
                self.held = false;
                if b == DETACH[1] {
                    return (out, true);
                }
                out.push(DETACH[0]);
            }
            if b == DETACH[0] {
                self.held = true;
            } else {
                out.push(b);
            }
        }
        (out, false)
    }
}

/// Puts a terminal in raw mode for as long as it lives.
pub(super) struct RawMode(Option<rustix::termios::Termios>);

impl RawMode {
    pub(super) fn enable(tty: bool) -> RawMode {
        let stdin = std::io::stdin();
        if !tty || !rustix::termios::isatty(&stdin) {
            return RawMode(None);
        }
        let Ok(saved) = rustix::termios::tcgetattr(&stdin) else {
            return RawMode(None);
        };
        let mut raw = saved.clone();
        raw.make_raw();
        let _ = rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &raw);
        RawMode(Some(saved))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            let _ = rustix::termios::tcsetattr(
                std::io::stdin(),
                rustix::termios::OptionalActions::Now,
                t,
            );
        }
    }
}

/// The size of the user's terminal (stdout's, else stdin's).
pub(super) fn winsize() -> Option<rustix::termios::Winsize> {
    rustix::termios::tcgetwinsize(std::io::stdout())
        .or_else(|_| rustix::termios::tcgetwinsize(std::io::stdin()))
        .ok()
}

fn winsize_frame() -> Option<Vec<u8>> {
    let ws = winsize()?;
    let mut p = ws.ws_row.to_be_bytes().to_vec();
    p.extend_from_slice(&ws.ws_col.to_be_bytes());
    Some(p)
}

pub fn attach(socket: &Path, opts: Options) -> Result<i32> {
    let mut signals = SigSet::empty();
    for s in PROXIED {
        signals.add(s);
    }
    signals.add(Signal::SIGWINCH);
    // Blocked here, before any thread starts, so only the signal thread sees them.
    signals.thread_block().context("block signals")?;
    let mut stream = UnixStream::connect(socket).with_context(|| {
        format!(
            "cannot attach to the container's shim at {}",
            socket.display()
        )
    })?;
    let writer = Arc::new(Mutex::new(stream.try_clone()?));
    let send = {
        let writer = writer.clone();
        move |kind: u8, payload: &[u8]| {
            let mut w = writer.lock().expect("attach writer");
            let _ = proto::write_frame(&mut *w, kind, payload);
        }
    };
    let _raw = RawMode::enable(opts.tty);
    if opts.tty {
        if let Some(p) = winsize_frame() {
            send(proto::RESIZE, &p);
        }
    }
    {
        let send = send.clone();
        let tty = opts.tty;
        std::thread::spawn(move || loop {
            let Ok(sig) = signals.wait() else { return };
            if sig == Signal::SIGWINCH {
                if let Some(p) = winsize_frame().filter(|_| tty) {
                    send(proto::RESIZE, &p);
                }
            } else {
                send(proto::SIGNAL, &(sig as i32).to_be_bytes());
            }
        });
    }
    let detached = Arc::new(std::sync::atomic::AtomicBool::new(false));
    if opts.stdin {
        let send = send.clone();
        let detached = detached.clone();
        let keys = opts.detach_keys;
        let stream = stream.try_clone()?;
        std::thread::spawn(move || {
            let mut buf = [0u8; 32 * 1024];
            let mut stdin = std::io::stdin().lock();
            let mut scan = DetachKeys::default();
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => {
                        send(proto::STDIN_EOF, &[]);
                        return;
                    }
                    Ok(n) if keys => {
                        let (pass, detach) = scan.scan(&buf[..n]);
                        if !pass.is_empty() {
                            send(proto::STDIN, &pass);
                        }
                        if detach {
                            detached.store(true, std::sync::atomic::Ordering::SeqCst);
                            // Ends the main loop's read; the container runs on.
                            let _ = stream.shutdown(std::net::Shutdown::Both);
                            return;
                        }
                    }
                    Ok(n) => send(proto::STDIN, &buf[..n]),
                }
            }
        });
    }
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    loop {
        let frame = proto::read_frame(&mut stream);
        if detached.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(0);
        }
        match frame.context("reading from the container's shim")? {
            Some((proto::STDOUT, b)) => {
                let _ = out.write_all(&b).and_then(|()| out.flush());
            }
            Some((proto::STDERR, b)) => {
                let _ = err.write_all(&b).and_then(|()| err.flush());
            }
            Some((proto::EXIT, b)) if b.len() == 4 => {
                return Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            }
            Some((proto::START_FAILED, b)) if b.len() >= 4 => {
                let code = i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                return Err(StatusError {
                    code,
                    message: String::from_utf8_lossy(&b[4..]).into_owned(),
                }
                .into());
            }
            Some(_) => {}
            None => anyhow::bail!("lost the container's shim before the container ended"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_across_reads() {
        let mut d = DetachKeys::default();
        assert_eq!(d.scan(b"ab\x10"), (b"ab".to_vec(), false));
        assert_eq!(d.scan(b"\x11rest"), (vec![], true));
        let mut d = DetachKeys::default();
        assert_eq!(d.scan(b"\x10x\x10\x10\x11"), (b"\x10x\x10".to_vec(), true));
    }
}

/// `box attach CONTAINER`: the running container's output, and its stdin and terminal
/// if it was created with them.
#[derive(clap::Args)]
pub struct Args {
    /// Do not attach STDIN
    #[arg(long)]
    no_stdin: bool,
    container: String,
}

pub fn run(ctx: &super::Ctx, a: Args) -> Result<i32> {
    let containers = boxc::container::Containers::open(&ctx.dirs.data)?;
    let id = containers.resolve(&a.container)?;
    let spec = containers.spec(&id)?;
    // A shim that has reported the exit may still be finishing (reaping the network
    // helper): it is leaving, not attachable.
    containers.settle(&id);
    if !containers.shim_alive(&id) {
        anyhow::bail!("You cannot attach to a stopped container, start it first");
    }
    let stdin = spec.stdin && !a.no_stdin;
    attach(
        &super::shim::socket_path(ctx, &id),
        Options {
            stdin,
            tty: spec.tty,
            detach_keys: stdin && spec.tty,
        },
    )
}
