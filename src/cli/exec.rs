//! `box exec [OPTIONS] CONTAINER COMMAND [ARG...]`: a new process in a running
//! container (see `boxc::runtime::exec`). Without `-t` the process simply shares this
//! one's stdio; with `-t` this process relays between the user's terminal and the
//! terminal it got inside the container.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};

use boxc::container::{Containers, Status};
use boxc::runtime::exec::{self, ExecError, Request, Stdio, Target};
use boxc::runtime::spec;

use super::terminal::{self, DetachKeys};
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
    /// Override the key sequence for detaching from the command (default ctrl-p,ctrl-q)
    #[arg(long, value_name = "KEYS")]
    detach_keys: Option<String>,
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
    let keys = attach::parse_keys(a.detach_keys.as_deref())?;
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
            size: terminal::winsize().map(|w| (w.ws_row, w.ws_col)),
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
        if relay(master, a.interactive.then_some(keys))? == Relayed::Detached {
            // The command runs on; its joiner, this process's child, still reaps it.
            return Ok(0);
        }
    }
    running.wait().map_err(status)
}

/// `box __drain`: keeps the terminal of a command that `box exec -it` detached from
/// (its stdin), reading and dropping what the command writes, until the command is
/// gone. Docker's daemon holds that terminal; without one, this small process does:
/// with nobody holding it, the command would get a hang-up.
pub fn drain() -> i32 {
    let _ = nix::unistd::setsid();
    let _ = std::env::set_current_dir("/");
    let mut buf = [0u8; 16 * 1024];
    let mut stdin = std::io::stdin().lock();
    loop {
        match stdin.read(&mut buf) {
            Ok(0) => return 0,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // EIO: every holder of the terminal's other side has closed it.
            Err(_) => return 0,
            Ok(_) => {}
        }
    }
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

#[derive(Debug, PartialEq, Eq)]
enum Relayed {
    Ended,
    Detached,
}

/// Copies the container's terminal to stdout until the command (and anything else
/// holding the terminal) is gone, the user's terminal in raw mode meanwhile, with
/// stdin typed into it when `stdin` has the detach keys, and window-size changes
/// passed on. The detach keys hand the terminal to `box __drain` and return.
fn relay(master: OwnedFd, stdin: Option<DetachKeys>) -> Result<Relayed> {
    let mut winch = SigSet::empty();
    winch.add(Signal::SIGWINCH);
    // Blocked before any thread starts, so only the thread waiting for it sees it.
    winch.thread_block().context("block SIGWINCH")?;
    let master = std::fs::File::from(master);
    let raw = terminal::RawMode::enable(true);
    {
        let master = master.try_clone()?;
        std::thread::spawn(move || {
            while winch.wait().is_ok() {
                if let Some(ws) = terminal::winsize() {
                    let _ = rustix::termios::tcsetwinsize(&master, ws);
                }
            }
        });
    }
    let (detach_r, detach_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    if let Some(keys) = stdin {
        let mut master = master.try_clone()?;
        std::thread::spawn(move || {
            let copied = terminal::copy_stdin(Some(&keys), |b| master.write_all(b).is_ok());
            if copied == terminal::StdinEnd::Detached {
                let _ = nix::unistd::write(&detach_w, &[1]);
            }
        });
    }
    let mut out = std::io::stdout();
    let mut buf = [0u8; 32 * 1024];
    // Until stdin ends: then only the command's end is waited for.
    let mut keys_open = true;
    loop {
        let mut fds = vec![PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        if keys_open {
            fds.push(PollFd::new(detach_r.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        let detach = fds
            .get(1)
            .and_then(|f| f.revents())
            .unwrap_or(PollFlags::empty());
        let master_ready = fds[0].revents().is_some_and(|r| !r.is_empty());
        drop(fds);
        if detach.contains(PollFlags::POLLIN) {
            drop(raw);
            hand_over(master)?;
            return Ok(Relayed::Detached);
        }
        if !detach.is_empty() {
            keys_open = false;
        }
        if !master_ready {
            continue;
        }
        match (&master).read(&mut buf) {
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
    Ok(Relayed::Ended)
}

/// Gives the terminal of a detached command to `box __drain`.
fn hand_over(master: std::fs::File) -> Result<()> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().context("cannot find the box binary")?;
    std::process::Command::new(exe)
        .arg("__drain")
        // Out of the terminal's foreground group at once: the hang-up that follows
        // when this process leaves must not reach it before its setsid.
        .process_group(0)
        .stdin(std::process::Stdio::from(master))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("cannot hand the command's terminal over")?;
    Ok(())
}
