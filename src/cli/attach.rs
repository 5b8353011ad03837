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
}

/// Puts a terminal in raw mode for as long as it lives.
struct RawMode(Option<rustix::termios::Termios>);

impl RawMode {
    fn enable(tty: bool) -> RawMode {
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

fn winsize_frame() -> Option<Vec<u8>> {
    let ws = rustix::termios::tcgetwinsize(std::io::stdout())
        .or_else(|_| rustix::termios::tcgetwinsize(std::io::stdin()))
        .ok()?;
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
    if opts.stdin {
        let send = send.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 32 * 1024];
            let mut stdin = std::io::stdin().lock();
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => {
                        send(proto::STDIN_EOF, &[]);
                        return;
                    }
                    Ok(n) => send(proto::STDIN, &buf[..n]),
                }
            }
        });
    }
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    loop {
        match proto::read_frame(&mut stream).context("reading from the container's shim")? {
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
