//! `box exec [OPTIONS] CONTAINER COMMAND [ARG...]`: a new process in a running
//! container (see `boxc::runtime::exec`). Without `-t` the process simply shares this
//! one's stdio; with `-t` this process relays between the user's terminal and the
//! terminal it got inside the container.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use nix::sys::signal::{SigSet, Signal};

use boxc::container::{Containers, Status};
use boxc::runtime::exec::{self, ExecError, Request, Stdio, Target};
use boxc::runtime::spec;

use super::{attach, Ctx, StatusError};

#[derive(clap::Args)]
pub struct Args {
    /// Keep STDIN open and pass it to the command
    #[arg(short, long)]
    interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    tty: bool,
    /// Run the command in the background
    #[arg(short, long)]
    detach: bool,
    /// Set environment variables (KEY=VALUE, or KEY to pass the host's value)
    #[arg(short, long = "env", value_name = "KEY[=VALUE]")]
    env: Vec<String>,
    /// Read environment variables from a file
    #[arg(long = "env-file", value_name = "FILE")]
    env_file: Vec<PathBuf>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long)]
    user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    workdir: Option<String>,
    /// Give extended privileges to the command
    #[arg(long)]
    privileged: bool,
    /// The running container (name, id or id prefix)
    container: String,
    /// The command and its arguments
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

pub fn run(ctx: &Ctx, a: Args) -> Result<i32> {
    if let Some(w) = a.workdir.as_deref().filter(|w| !w.starts_with('/')) {
        bail!("the working directory {w:?} is invalid: it needs to be an absolute path");
    }
    let containers = Containers::open(&ctx.dirs.data)?;
    let id = containers.resolve(&a.container)?;
    let pid = running_pid(&containers, &id, &a.container)?;
    let target = Target::open(pid)?;
    // The pid was the container's when the state was read; if the container stopped
    // since, the namespaces just opened may be a stranger's.
    if running_pid(&containers, &id, &a.container)? != pid {
        bail!("container {} is not running", a.container);
    }
    let spec = containers.spec(&id)?;

    let mut flags = Vec::new();
    for f in &a.env_file {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("cannot read env file {}", f.display()))?;
        flags.extend(spec::parse_env_file(&text));
    }
    flags.extend(a.env.iter().cloned());
    let mut env = spec.process.env.clone();
    let tty = a.tty && !a.detach;
    if tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        spec::set_env(&mut env, "TERM=xterm".into());
    }
    spec::apply_env_flags(&mut env, &flags, &|k| std::env::var(k).ok())?;

    let stdio = if a.detach {
        Stdio::Null
    } else if tty {
        Stdio::Terminal {
            size: attach::winsize().map(|w| (w.ws_row, w.ws_col)),
        }
    } else {
        Stdio::Inherit {
            stdin: a.interactive,
        }
    };
    let req = Request {
        args: a.command,
        env,
        user: a.user,
        workdir: a.workdir,
        privileged: a.privileged,
        stdio,
    };
    let mut running = exec::start(&spec, &target, &req).map_err(status)?;
    if a.detach {
        return Ok(0);
    }
    if let Some(master) = running.terminal.take() {
        relay(master, a.interactive)?;
    }
    running.wait().map_err(status)
}

/// The host pid of the container's first process, if the container runs.
fn running_pid(containers: &Containers, id: &str, name: &str) -> Result<i32> {
    let state = containers.current_state(id)?;
    match (state.status, state.pid) {
        (Status::Running, Some(pid)) => Ok(pid),
        (Status::Restarting, _) => {
            bail!("container {name} is restarting, wait until the container is running")
        }
        _ => bail!("container {name} is not running"),
    }
}

/// Docker's statuses: 126 and 127 when the command cannot run, 125 otherwise.
fn status(e: ExecError) -> anyhow::Error {
    StatusError {
        code: e.exit_code(),
        message: e.to_string(),
    }
    .into()
}

/// Copies the container's terminal to stdout until the command (and anything else
/// holding the terminal) is gone, the user's terminal in raw mode meanwhile, with
/// stdin typed into it when `stdin` and window-size changes passed on.
fn relay(master: OwnedFd, stdin: bool) -> Result<()> {
    let mut winch = SigSet::empty();
    winch.add(Signal::SIGWINCH);
    // Blocked before any thread starts, so only the thread waiting for it sees it.
    winch.thread_block().context("block SIGWINCH")?;
    let master = std::fs::File::from(master);
    let _raw = attach::RawMode::enable(true);
    {
        let master = master.try_clone()?;
        std::thread::spawn(move || {
            while winch.wait().is_ok() {
                if let Some(ws) = attach::winsize() {
                    let _ = rustix::termios::tcsetwinsize(&master, ws);
                }
            }
        });
    }
    if stdin {
        let mut master = master.try_clone()?;
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut master);
        });
    }
    let mut master = master;
    let mut out = std::io::stdout();
    let mut buf = [0u8; 32 * 1024];
    loop {
        match master.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if out.write_all(&buf[..n]).and_then(|()| out.flush()).is_err() {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // EIO: every holder of the terminal's other side has closed it.
            Err(_) => break,
        }
    }
    Ok(())
}
