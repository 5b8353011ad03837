//! The client side of a shim's attach socket: relays the terminal or pipes to the
//! container and its output back, passes on signals (without a terminal) and window
//! sizes, and returns the container's exit status. Used by `box run`, `box attach`
//! and `box start -a`.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use box_shim::proto;
use boxc::container::control::Control;
use nix::sys::signal::{SigSet, Signal};

use super::terminal::{copy_stdin, die_of, winsize, DetachKeys, RawMode, StdinEnd};
use super::StatusError;

/// Signals `box` passes on to the container (with `--sig-proxy`, without a terminal)
/// instead of dying of them.
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
    /// Keys on stdin that detach, leaving the container running (with a terminal).
    pub detach_keys: Option<DetachKeys>,
    /// Pass signals on to the container; Docker's rule: never with a terminal, where
    /// the keys themselves reach the container and a hang-up is the client's own.
    pub sig_proxy: bool,
    /// This client's stdin is the container's for good (`box run -i`, `box start -i`):
    /// if the client ends without detaching, the container's stdin ends too.
    pub stdin_once: bool,
}

impl Options {
    /// The flags common to `run`, `start` and `attach`, resolved: detach keys apply
    /// to a terminal's stdin, signals are passed on only without a terminal.
    pub fn new(stdin: bool, tty: bool, keys: Option<&str>, sig_proxy: bool) -> Result<Options> {
        Ok(Options {
            stdin,
            tty,
            detach_keys: (stdin && tty).then(|| parse_keys(keys)).transpose()?,
            sig_proxy: sig_proxy && !tty,
            stdin_once: false,
        })
    }
}

/// `--detach-keys`, empty or missing for the default (Ctrl-P Ctrl-Q).
pub fn parse_keys(keys: Option<&str>) -> Result<DetachKeys> {
    Ok(keys
        .filter(|k| !k.is_empty())
        .map(str::parse)
        .transpose()?
        .unwrap_or_default())
}

fn winsize_frame() -> Option<Vec<u8>> {
    let ws = winsize()?;
    let mut p = ws.ws_row.to_be_bytes().to_vec();
    p.extend_from_slice(&ws.ws_col.to_be_bytes());
    Some(p)
}

/// Why a session ends before the container does: the detach keys, or (a positive
/// number) a signal that was not passed on.
const DETACHED: i32 = 0;

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
    if opts.stdin && opts.stdin_once {
        send(proto::STDIN_ONCE, &[]);
    }
    let raw = RawMode::enable(opts.tty);
    if opts.tty {
        if let Some(p) = winsize_frame() {
            send(proto::RESIZE, &p);
        }
    }
    let quit = Arc::new(AtomicI32::new(-1));
    let leave = {
        let stream = Arc::new(stream.try_clone()?);
        let quit = quit.clone();
        move |why: i32| {
            quit.store(why, Ordering::SeqCst);
            // Ends the main loop's read; the container runs on.
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    };
    {
        let send = send.clone();
        let leave = leave.clone();
        let (tty, proxy) = (opts.tty, opts.sig_proxy);
        let socket = socket.to_path_buf();
        std::thread::spawn(move || loop {
            let Ok(sig) = signals.wait() else { return };
            if sig == Signal::SIGWINCH {
                if let Some(p) = winsize_frame().filter(|_| tty) {
                    send(proto::RESIZE, &p);
                }
            } else if proxy {
                // On a connection of its own: this one's stdin may be waiting for the
                // container to read (the shim holds back a client that sends more
                // than it takes), and a Ctrl-C must not wait behind it.
                let own = Control::connect(&socket).and_then(|mut c| c.signal(sig as i32));
                if own.is_err() {
                    send(proto::SIGNAL, &(sig as i32).to_be_bytes());
                }
            } else {
                // Not passed on: it ends this client, as it would any program.
                leave(sig as i32);
                return;
            }
        });
    }
    if opts.stdin {
        let keys = opts.detach_keys.clone();
        let once = opts.stdin_once;
        std::thread::spawn(move || relay_stdin(keys, once, send, leave));
    }
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    loop {
        let frame = proto::read_frame(&mut stream);
        match quit.load(Ordering::SeqCst) {
            DETACHED => return Ok(0),
            sig if sig > 0 => {
                drop(raw);
                die_of(Signal::try_from(sig).unwrap_or(Signal::SIGTERM));
            }
            _ => {}
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
            // The shim still listens: it let this client go for not reading.
            None if UnixStream::connect(socket).is_ok() => anyhow::bail!(
                "the container's shim dropped this client: it stopped reading the container's output (the container runs on)"
            ),
            None => anyhow::bail!(
                "lost the container's shim before the container's exit status came: the shim died, or it dropped this client for not reading the container's output"
            ),
        }
    }
}

/// Copies stdin to the container until it ends, or until the detach keys. Its end is
/// the container's only if `once` (Docker's StdinOnce): the end of a `box attach`'s
/// stdin (a closed terminal, say) leaves the container's open.
fn relay_stdin(
    keys: Option<DetachKeys>,
    once: bool,
    send: impl Fn(u8, &[u8]),
    leave: impl Fn(i32),
) {
    let copied = copy_stdin(keys.as_ref(), |b| {
        send(proto::STDIN, b);
        true
    });
    match copied {
        StdinEnd::Ended if once => send(proto::STDIN_EOF, &[]),
        StdinEnd::Ended => {}
        StdinEnd::Detached => {
            send(proto::DETACH, &[]);
            leave(DETACHED);
        }
    }
}

/// `--sig-proxy`, as Docker spells it: `--sig-proxy=false` (a bare `--sig-proxy` is
/// true).
#[derive(clap::Args, Clone, Copy)]
pub struct SigProxy {
    /// Proxy received signals to the process (non-TTY mode only)
    #[arg(long = "sig-proxy", value_name = "BOOL", default_value_t = true,
          action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true")]
    pub sig_proxy: bool,
}

/// `box attach CONTAINER`: the running container's output, and its stdin and terminal
/// if it was created with them.
#[derive(clap::Args)]
pub struct Args {
    /// Do not attach STDIN
    #[arg(long)]
    no_stdin: bool,
    /// Override the key sequence for detaching a container (default ctrl-p,ctrl-q)
    #[arg(long, value_name = "KEYS")]
    detach_keys: Option<String>,
    #[command(flatten)]
    sig_proxy: SigProxy,
    container: String,
}

pub fn run(ctx: &super::Ctx, a: Args) -> Result<i32> {
    let containers = boxc::container::Containers::open(&ctx.dirs.data)?;
    let id = containers.resolve(&a.container)?;
    let spec = containers.spec(&id)?;
    let opts = Options::new(
        spec.stdin && !a.no_stdin,
        spec.tty,
        a.detach_keys.as_deref(),
        a.sig_proxy.sig_proxy,
    )?;
    // A shim that has reported the exit may still be finishing (reaping the network
    // helper): it is leaving, not attachable.
    containers.settle(&id);
    if !containers.shim_alive(&id) {
        anyhow::bail!("You cannot attach to a stopped container, start it first");
    }
    attach(&super::shim::attach_socket(ctx, &containers, &id), opts)
}
