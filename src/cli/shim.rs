//! `box __shim ID`: the per-container supervisor, entered by re-exec so that `ps`
//! shows whose it is (`box __shim <id> <name>`). It detaches from the terminal,
//! binds the attach socket, says "ready" on stdout to the `box run` that started it,
//! and then lives exactly as long as the container (see the `box-shim` crate).

use std::io::Write;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

use anyhow::{Context, Result};

use boxc::container::{now, Containers, State, Status};
use boxc::runtime::create;

use super::Ctx;

#[derive(clap::Args)]
pub struct Args {
    pub id: String,
    /// The container's name, only so that `ps` shows it.
    pub name: Option<String>,
}

/// The runtime directory of a container: short, because a socket path is at most
/// 108 bytes.
pub fn runtime_dir(ctx: &Ctx, id: &str) -> PathBuf {
    ctx.dirs.runtime.join(&id[..12])
}

pub fn socket_path(ctx: &Ctx, id: &str) -> PathBuf {
    runtime_dir(ctx, id).join("attach.sock")
}

pub fn run(ctx: &Ctx, a: Args) -> Result<i32> {
    // Its own session: closing the terminal of `box run` must not end the container.
    let _ = nix::unistd::setsid();
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
    let mut ready = std::io::stdout();
    let result = prepare(ctx, &a.id);
    let (containers, spec, listener) = match result {
        Ok(x) => x,
        Err(e) => {
            let _ = writeln!(ready, "error: {e:#}");
            return Ok(125);
        }
    };
    let _ = writeln!(ready, "ready");
    let _ = ready.flush();
    // From here on nobody reads the shim's stdio.
    if let Ok(null) = std::fs::File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        let _ = rustix::stdio::dup2_stdin(&null);
        let _ = rustix::stdio::dup2_stdout(&null);
        let _ = rustix::stdio::dup2_stderr(&null);
    }
    let id = spec.id.clone();
    let created_at = containers
        .state(&id)
        .map(|s| s.created_at)
        .unwrap_or_else(|_| now());
    let state = |status, pid, code, started: Option<String>, finished, error| State {
        status,
        pid,
        shim_pid: Some(std::process::id() as i32),
        exit_code: code,
        created_at: created_at.clone(),
        started_at: started,
        finished_at: finished,
        error,
    };
    // Shared by the two callbacks below; the shim is single-threaded.
    let userns = std::cell::RefCell::new(None);
    let fuse = std::cell::Cell::new(None);
    let mounts = std::cell::RefCell::new(None);
    let started_at = std::cell::RefCell::new(None);
    let cfg = box_shim::Config {
        log: spec.dir.join("ctr.log"),
        wait_for_attach: true,
    };
    let mut start = || {
        let c = create::start(&spec)?;
        *userns.borrow_mut() = c.userns;
        fuse.set(c.fuse);
        *mounts.borrow_mut() = c.mounts;
        *started_at.borrow_mut() = Some(now());
        let running = state(
            Status::Running,
            Some(c.started.pid),
            None,
            started_at.borrow().clone(),
            None,
            None,
        );
        let _ = containers.write_state(&id, &running);
        Ok(c.started)
    };
    // Record, or remove, before `box run` hears the status.
    let mut finish = |outcome: &box_shim::Outcome, _: Option<i32>| {
        let (code, error) = match outcome {
            box_shim::Outcome::Exited(c) => (*c, None),
            box_shim::Outcome::StartFailed(c, m) => (*c, Some(m.clone())),
        };
        if let Some(f) = fuse.get() {
            // Its container is gone; its mount namespace goes with it. (SIGTERM is not
            // enough: it waits in a read on /dev/fuse.)
            let _ = nix::sys::signal::kill(f, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(f, None);
        }
        if spec.remove {
            let _ = create::remove_as_container(userns.borrow().as_ref(), &spec.idmap, &spec.dir);
            let _ = containers.remove(&id, &spec.name);
        } else {
            let exited = state(
                Status::Exited,
                None,
                Some(code),
                started_at.borrow().clone(),
                Some(now()),
                error,
            );
            let _ = containers.write_state(&id, &exited);
        }
        let _ = std::fs::remove_dir_all(runtime_dir(ctx, &id));
    };
    let outcome = box_shim::supervise(&cfg, listener, &mut start, &mut finish);
    // Only now, with the status reported, may the kernel unmount the container's tree.
    drop(mounts.take());
    Ok(match outcome {
        box_shim::Outcome::Exited(c) | box_shim::Outcome::StartFailed(c, _) => c,
    })
}

fn prepare(
    ctx: &Ctx,
    id: &str,
) -> Result<(Containers, boxc::runtime::spec::ContainerSpec, UnixListener)> {
    let containers = Containers::open(&ctx.dirs.data)?;
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
    Ok((containers, spec, listener))
}
