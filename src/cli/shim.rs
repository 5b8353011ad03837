//! `box __shim ID NAME MODE`: the per-container supervisor, entered by re-exec so that
//! `ps` shows whose it is. It detaches from the terminal, takes the container's shim
//! lock, binds the attach socket, and then lives exactly as long as the container
//! (across restarts under a restart policy; see the `box-shim` crate).
//!
//! To the `box` that started it, it says one line on stdout: `ready` once a client
//! may attach (MODE `attach`: the container starts when the first client is there),
//! or, with MODE `detach`, once the container runs; `error CODE<TAB>why` if not.

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use boxc::container::{now, Containers, ShimLock, State, Status};
use boxc::runtime::create;

use super::Ctx;

#[derive(clap::Args)]
pub struct Args {
    pub id: String,
    /// The container's name, only so that `ps` shows it.
    pub name: Option<String>,
    /// `attach` (wait for a client before starting) or `detach`.
    pub mode: Option<String>,
}

/// The runtime directory of a container: short, because a socket path is at most
/// 108 bytes.
pub fn runtime_dir(ctx: &Ctx, id: &str) -> PathBuf {
    ctx.dirs.runtime.join(&id[..12])
}

pub fn socket_path(ctx: &Ctx, id: &str) -> PathBuf {
    runtime_dir(ctx, id).join("attach.sock")
}

/// Where the container's shim may listen, in the order to try: the socket it
/// recorded as it started (its runtime directory depends on the environment it was
/// started from: another login's `XDG_RUNTIME_DIR`, or none under cron or `su -`),
/// then this command's own (records of an older box).
pub fn sockets(ctx: &Ctx, containers: &Containers, id: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = containers
        .state(id)
        .ok()
        .and_then(|s| s.socket)
        .into_iter()
        .collect();
    let own = socket_path(ctx, id);
    if !out.contains(&own) {
        out.push(own);
    }
    out
}

/// The socket to attach to: the first of [`sockets`] that exists.
pub fn attach_socket(ctx: &Ctx, containers: &Containers, id: &str) -> PathBuf {
    sockets(ctx, containers, id)
        .into_iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| socket_path(ctx, id))
}

/// The runtime directories the container's shims may have left: those of
/// [`sockets`], when they are a container's (named after its id), nothing else.
pub fn runtime_dirs(ctx: &Ctx, containers: &Containers, id: &str) -> Vec<PathBuf> {
    sockets(ctx, containers, id)
        .iter()
        .filter_map(|s| s.parent())
        .filter(|d| d.file_name().is_some_and(|n| n == &id[..12]))
        .map(PathBuf::from)
        .collect()
}

/// The one line to the starting `box`, then stdio goes to /dev/null: from here on
/// nobody reads it.
struct Ready(Option<std::io::Stdout>);

impl Ready {
    fn say(&mut self, line: &str) {
        let Some(mut out) = self.0.take() else { return };
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
        if let Ok(null) = std::fs::File::options()
            .read(true)
            .write(true)
            .open("/dev/null")
        {
            let _ = rustix::stdio::dup2_stdin(&null);
            let _ = rustix::stdio::dup2_stdout(&null);
            let _ = rustix::stdio::dup2_stderr(&null);
        }
    }
}

pub fn run(ctx: &Ctx, a: Args) -> Result<i32> {
    // Its own session: closing the terminal of `box run` must not end the container.
    let _ = nix::unistd::setsid();
    // Nor keep the directory it was started from busy (an unmount, a removal).
    let _ = std::env::set_current_dir("/");
    // Blocked, not ignored: ignored dispositions would survive into the container.
    let mut quiet = nix::sys::signal::SigSet::empty();
    for s in [
        nix::sys::signal::SIGHUP,
        nix::sys::signal::SIGINT,
        nix::sys::signal::SIGPIPE,
        nix::sys::signal::SIGQUIT,
    ] {
        quiet.add(s);
    }
    let _ = quiet.thread_block();
    let ready = RefCell::new(Ready(Some(std::io::stdout())));
    let attach = a.mode.as_deref() != Some("detach");
    let (containers, spec, listener, _lock) = match prepare(ctx, &a.id) {
        Ok(x) => x,
        Err(e) => {
            ready.borrow_mut().say(&format!("error 125\t{e:#}"));
            return Ok(125);
        }
    };
    if attach {
        ready.borrow_mut().say("ready");
    }
    let id = spec.id.clone();
    let sock = socket_path(ctx, &id);
    let before = containers.state(&id).ok();
    // Where this shim is, at once: a command run from another environment finds the
    // socket by it, or the shim by its pid.
    let mut found = before.clone().unwrap_or_else(State::created);
    found.shim_pid = Some(std::process::id() as i32);
    found.socket = Some(sock.clone());
    let _ = containers.write_state(&id, &found);
    let created_at = before.as_ref().map_or_else(now, |s| s.created_at.clone());
    // Docker's: a container that runs again still shows when it last finished.
    let finished_at = RefCell::new(before.and_then(|s| s.finished_at));
    let state = |status, pid, code, started: Option<String>, finished, error, restarts| State {
        status,
        pid,
        shim_pid: Some(std::process::id() as i32),
        exit_code: code,
        created_at: created_at.clone(),
        started_at: started,
        finished_at: finished,
        error,
        restart_count: restarts,
        socket: Some(sock.clone()),
    };
    // Shared by the two callbacks below; the shim is single-threaded.
    let userns = RefCell::new(None);
    let fuse = Cell::new(None);
    let mounts = RefCell::new(None);
    let net = RefCell::new(None::<boxc::network::helper::Helper>);
    let dying = RefCell::new(None::<boxc::network::helper::Helper>);
    let rt = runtime_dir(ctx, &spec.id);
    let started_at = RefCell::new(None);
    let ran_since = Cell::new(Instant::now());
    let restarts = Cell::new(0u32);
    let again = Cell::new(false);
    let mut sup = box_shim::Supervisor::new(
        listener,
        box_shim::LogConfig {
            path: spec.dir.join("ctr.log"),
            max_size: spec.log.max_size,
            max_files: spec.log.max_file,
        },
        box_shim::StopConfig {
            signal: spec.effective_stop_signal().number(),
            timeout: Duration::from_secs(spec.stop_timeout.unwrap_or(10)),
        },
    );
    if attach && !sup.wait_for_client() {
        // Its `box run` is gone before it attached: the container stays created, as
        // Docker's when its client dies between create and start.
        let _ = std::fs::remove_dir_all(runtime_dir(ctx, &id));
        return Ok(125);
    }
    let mut start = || {
        let c = create::start(&spec, &rt, &ctx.dirs)?;
        *net.borrow_mut() = c.net;
        *userns.borrow_mut() = c.userns;
        fuse.set(c.fuse);
        *mounts.borrow_mut() = c.mounts;
        *started_at.borrow_mut() = Some(now());
        ran_since.set(Instant::now());
        let running = state(
            Status::Running,
            Some(c.started.pid),
            None,
            started_at.borrow().clone(),
            finished_at.borrow().clone(),
            None,
            restarts.get(),
        );
        let _ = containers.write_state(&id, &running);
        ready.borrow_mut().say("ready");
        Ok(c.started)
    };
    // Idle from here on: give back the pages starting up needed.
    let mut idle = || {
        let _ = boxc::sys::trim_resident();
    };
    // Record, restart or remove, before attached clients hear the status.
    let mut finish = |ended: &box_shim::Ended| {
        let (code, error) = match &ended.outcome {
            box_shim::Outcome::Exited(c) => (*c, None),
            box_shim::Outcome::StartFailed(c, m) => {
                ready.borrow_mut().say(&format!("error {c}\t{m}"));
                (*c, Some(m.clone()))
            }
        };
        // Killed now, reaped once the status is out (or before a restart, which
        // needs its ports).
        if let Some(n) = net.take() {
            n.kill();
            *dying.borrow_mut() = Some(n);
        }
        if let Some(f) = fuse.take() {
            // Its container is gone; its mount namespace goes with it. (SIGTERM is not
            // enough: it waits in a read on /dev/fuse.)
            let _ = nix::sys::signal::kill(f, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(f, None);
        }
        // A container that could not start is not restarted, as Docker's.
        again.set(
            error.is_none()
                && spec
                    .restart
                    .should_restart(code, ended.stopped, restarts.get()),
        );
        if again.get() {
            restarts.set(restarts.get() + 1);
            if let Some(n) = dying.take() {
                n.stop();
            }
        }
        if spec.remove && !again.get() {
            // `unlink` goes by the name the record has now (a rename may have changed it).
            if let Ok(trash) = containers.unlink(&id, &spec.name) {
                if boxc::network::user::is_member(&spec) {
                    boxc::network::user::refresh_members(&ctx.dirs.data, &containers);
                }
                let _ = create::remove_as_container(userns.borrow().as_ref(), &spec.idmap, &trash);
            }
        } else {
            let status = if again.get() {
                Status::Restarting
            } else {
                Status::Exited
            };
            *finished_at.borrow_mut() = Some(now());
            let st = state(
                status,
                None,
                Some(code),
                started_at.borrow().clone(),
                finished_at.borrow().clone(),
                error,
                restarts.get(),
            );
            let _ = containers.write_state(&id, &st);
        }
    };
    let mut delay = Duration::ZERO;
    let code = loop {
        let ended = sup.run(&mut start, &mut idle, &mut finish);
        if let Some(n) = dying.take() {
            n.stop();
        }
        // Only now, with the status reported, may the kernel unmount the container's tree.
        drop(mounts.take());
        let code = match ended.outcome {
            box_shim::Outcome::Exited(c) | box_shim::Outcome::StartFailed(c, _) => c,
        };
        if !again.get() {
            break code;
        }
        delay = boxc::runtime::spec::restart_delay(delay, ran_since.get().elapsed());
        if sup.pause(delay) {
            // Stopped by the user while waiting to restart.
            if let Ok(mut st) = containers.state(&id) {
                st.status = Status::Exited;
                let _ = containers.write_state(&id, &st);
            }
            break code;
        }
    };
    let _ = std::fs::remove_dir_all(runtime_dir(ctx, &id));
    Ok(code)
}

/// How long a starting shim waits for another command to let go of its container.
const LOCK_WAIT: Duration = Duration::from_secs(30);

fn prepare(
    ctx: &Ctx,
    id: &str,
) -> Result<(
    Containers,
    boxc::runtime::spec::ContainerSpec,
    UnixListener,
    ShimLock,
)> {
    let containers = Containers::open(&ctx.dirs.data)?;
    // Another command may hold the container for a moment (a `box cp` into it).
    let lock = containers
        .lock_as_shim(id, LOCK_WAIT)
        .map_err(|e| match e {
            boxc::container::ContainerError::Busy(_) if !containers.shim_alive(id) => {
                anyhow::anyhow!(
                    "container {} is busy: another box command holds it",
                    &id[..12]
                )
            }
            boxc::container::ContainerError::Busy(_) => {
                anyhow::anyhow!("container {} is already running", &id[..12])
            }
            e => e.into(),
        })?;
    let spec = containers.spec(id)?;
    let rt = runtime_dir(ctx, id);
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&rt)
            .with_context(|| format!("create {}", rt.display()))?;
    }
    let sock = socket_path(ctx, id);
    let _ = std::fs::remove_file(&sock);
    let listener = UnixListener::bind(&sock).with_context(|| format!("bind {}", sock.display()))?;
    Ok((containers, spec, listener, lock))
}
