//! `box stop`, `box kill` and `box restart`: signals go through the container's shim
//! (it alone knows that a stop means "do not restart"), and waiting for a stop is
//! waiting for the shim to end.
//!
//! A live shim whose socket cannot be reached (its runtime directory removed at a
//! logout) is told by signals instead: SIGTERM to the shim is a stop. Whatever
//! happens, success is never reported while the shim lives on without the request.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};

use boxc::container::control::{Control, ShimProcess, Waited};
use boxc::container::Containers;
use boxc::runtime::signal::{self, Signal};
use boxc::runtime::spec::ContainerSpec;

use super::{print, shim, Ctx};

#[derive(clap::Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container (default: its --stop-timeout, else 10)
    #[arg(short = 't', long = "time", visible_alias = "timeout")]
    time: Option<u64>,
    /// Signal to send instead of the container's stop signal
    #[arg(short, long)]
    signal: Option<String>,
    #[arg(required = true, value_name = "CONTAINER")]
    containers: Vec<String>,
}

#[derive(clap::Args)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short, long, default_value = "KILL")]
    signal: String,
    #[arg(required = true, value_name = "CONTAINER")]
    containers: Vec<String>,
}

#[derive(clap::Args)]
pub struct RestartArgs {
    /// Seconds to wait before killing the container (default: its --stop-timeout, else 10)
    #[arg(short = 't', long = "time", visible_alias = "timeout")]
    time: Option<u64>,
    #[arg(required = true, value_name = "CONTAINER")]
    containers: Vec<String>,
}

/// Runs `f` on each named container, printing each name as given when it succeeds and
/// each failure as one error line; fails (125) if any did, after trying them all.
pub fn each(names: &[String], mut f: impl FnMut(&str) -> Result<()>) -> Result<i32> {
    let mut failed = 0;
    for n in names {
        match f(n) {
            Ok(()) => print(&format!("{n}\n")),
            Err(e) => {
                super::report(&e);
                failed += 1;
            }
        }
    }
    Ok(if failed > 0 { super::EXIT_BOX_ERROR } else { 0 })
}

pub fn stop(ctx: &Ctx, a: StopArgs) -> Result<i32> {
    let containers = Containers::open(&ctx.dirs.data)?;
    let signal = a.signal.as_deref().map(signal::parse).transpose()?;
    each(&a.containers, |n| {
        let id = containers.resolve(n)?;
        let spec = containers.spec(&id)?;
        stop_container(ctx, &containers, &spec, a.time, signal)
    })
}

pub fn kill(ctx: &Ctx, a: KillArgs) -> Result<i32> {
    let containers = Containers::open(&ctx.dirs.data)?;
    let signal = signal::parse(&a.signal)?;
    each(&a.containers, |n| {
        let id = containers.resolve(n)?;
        let spec = containers.spec(&id)?;
        let not_running = || anyhow!("container {} is not running", spec.name);
        let mut ctl = match reach(ctx, &containers, &spec)?.ok_or_else(not_running)? {
            Reach::Socket(c) => c,
            Reach::Pid(p) => return kill_by_pid(&containers, &spec, &p, signal),
        };
        // A signal meant to end the container is a stop: no restart policy brings it
        // back. Others (SIGHUP to reload, say) are passed on as they are.
        if signal == Signal::KILL {
            // As Docker's: back once the container is dead.
            ctl.stop(signal.number())?;
            return finish_stop(&containers, &spec, ctl, Duration::ZERO);
        }
        if signal == spec.effective_stop_signal() {
            ctl.stop(signal.number())?;
        } else {
            ctl.signal(signal.number())?;
        }
        Ok(())
    })
}

pub fn restart(ctx: &Ctx, a: RestartArgs) -> Result<i32> {
    let containers = Containers::open(&ctx.dirs.data)?;
    each(&a.containers, |n| {
        let id = containers.resolve(n)?;
        let spec = containers.spec(&id)?;
        stop_container(ctx, &containers, &spec, a.time, None)?;
        super::start::start_container(ctx, &containers, &spec, false)
    })
}

/// How a command reaches a container's live shim.
pub enum Reach {
    /// A control connection to its socket.
    Socket(Control),
    /// Its pid alone: it lives, but its socket cannot be reached.
    Pid(ShimProcess),
}

/// How long a shim that holds its lock may take to listen and record its pid.
const START_GRACE: Duration = Duration::from_secs(5);

/// Reaches the container's shim: `None` if none lives.
pub fn reach(ctx: &Ctx, containers: &Containers, spec: &ContainerSpec) -> Result<Option<Reach>> {
    let deadline = Instant::now() + START_GRACE;
    loop {
        if !containers.shim_alive(&spec.id) {
            return Ok(None);
        }
        let sockets = shim::sockets(ctx, containers, &spec.id);
        if let Some(c) = sockets.iter().find_map(|s| Control::connect(s).ok()) {
            return Ok(Some(Reach::Socket(c)));
        }
        // The shim records its pid once it listens: a shim with one and no socket
        // lost its runtime directory.
        let state = containers.state(&spec.id).ok();
        if let Some(p) = state
            .and_then(|s| s.shim_pid)
            .and_then(|pid| ShimProcess::find(pid, &spec.id))
        {
            boxc::debug!(
                "container {}: no socket answers at {sockets:?}: signalling its shim, pid {}",
                spec.name,
                p.pid()
            );
            return Ok(Some(Reach::Pid(p)));
        }
        // Else it is starting, and not listening yet.
        if Instant::now() > deadline {
            bail!(
                "container {}: its shim runs but cannot be reached (tried {}) and has not recorded its pid",
                spec.name,
                sockets
                    .iter()
                    .map(|s| s.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// How long a shim may take to see its container killed (it only has to reap it).
const KILL_GRACE: Duration = Duration::from_secs(5);
/// How long a shim may then take to record the end and exit (a `--rm` removal).
const FINISH_GRACE: Duration = Duration::from_secs(120);

/// Stops a container: its stop signal, then SIGKILL after the timeout; returns once
/// its shim has finished (status recorded, `--rm` removal done). Stopping a container
/// that is not running is not an error, as with Docker.
pub fn stop_container(
    ctx: &Ctx,
    containers: &Containers,
    spec: &ContainerSpec,
    timeout: Option<u64>,
    signal: Option<Signal>,
) -> Result<()> {
    let secs = Duration::from_secs(timeout.or(spec.stop_timeout).unwrap_or(10));
    let mut ctl = match reach(ctx, containers, spec)? {
        None => return Ok(()),
        Some(Reach::Socket(c)) => c,
        Some(Reach::Pid(p)) => return stop_by_pid(containers, spec, &p, secs, signal),
    };
    let sig = signal.unwrap_or_else(|| spec.effective_stop_signal());
    // A shim that does not even take the request is dealt with below.
    let _ = ctl.stop(sig.number());
    finish_stop(containers, spec, ctl, secs)
}

/// [`stop_container`] without the socket. SIGTERM to the shim is a stop (no restart
/// follows; the stop signal now, SIGKILL after the container's stop timeout); a
/// signal of the caller's own goes to the container's first process besides, and,
/// past `timeout`, SIGKILL. The shim still records the status (and removes a `--rm`
/// container); one that does not end is killed.
fn stop_by_pid(
    containers: &Containers,
    spec: &ContainerSpec,
    shim: &ShimProcess,
    timeout: Duration,
    signal: Option<Signal>,
) -> Result<()> {
    // The first process as the state says it now (a restart changes it).
    let to_first = |sig: Signal| {
        let pid = containers.state(&spec.id).ok().and_then(|s| s.pid);
        pid.is_some_and(|p| shim.signal_child(p, sig.number()))
    };
    if !shim.signal(libc::SIGTERM) {
        // Gone meanwhile.
        return Ok(());
    }
    if let Some(sig) = signal.filter(|s| *s != spec.effective_stop_signal()) {
        to_first(sig);
    }
    if shim_gone(containers, &spec.id, timeout) {
        return Ok(());
    }
    to_first(Signal::KILL);
    if shim_gone(containers, &spec.id, KILL_GRACE + FINISH_GRACE) {
        return Ok(());
    }
    kill_shim(containers, spec, Some(shim))
}

/// `box kill` without the socket: SIGKILL and the stop signal are stops
/// ([`stop_by_pid`]); other signals go to the container's first process.
fn kill_by_pid(
    containers: &Containers,
    spec: &ContainerSpec,
    shim: &ShimProcess,
    signal: Signal,
) -> Result<()> {
    if signal == Signal::KILL {
        return stop_by_pid(containers, spec, shim, Duration::ZERO, Some(signal));
    }
    if signal == spec.effective_stop_signal() {
        // Delivered by the shim; its SIGKILL after the stop timeout comes with it.
        if shim.signal(libc::SIGTERM) {
            return Ok(());
        }
    } else if let Some(pid) = containers.state(&spec.id).ok().and_then(|s| s.pid) {
        if shim.signal_child(pid, signal.number()) {
            return Ok(());
        }
    }
    bail!(
        "container {}: cannot deliver {}: its shim cannot be reached, and its process is not running now",
        spec.name,
        signal
    )
}

/// Waits up to `limit` for the container's shim to end (its `live.lock` let go).
fn shim_gone(containers: &Containers, id: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while containers.shim_alive(id) {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// After a stop request: waits `timeout` for the shim to end, then SIGKILL. A shim
/// that does not answer is killed itself (its container dies with it), so that no
/// stop, kill or forced removal waits for ever.
fn finish_stop(
    containers: &Containers,
    spec: &ContainerSpec,
    mut ctl: Control,
    timeout: Duration,
) -> Result<()> {
    if ctl.wait_gone(Some(timeout)) != Waited::TimedOut {
        return Ok(());
    }
    if !ctl.ended() {
        let _ = ctl.stop(Signal::KILL.number());
        if ctl.wait_ended(Some(KILL_GRACE)) == Waited::TimedOut {
            return kill_shim(containers, spec, ctl.shim_process(&spec.id).as_ref());
        }
    }
    if ctl.wait_gone(Some(FINISH_GRACE)) == Waited::TimedOut {
        return kill_shim(containers, spec, ctl.shim_process(&spec.id).as_ref());
    }
    Ok(())
}

/// Ends a shim that does not answer, with SIGKILL: its container dies with it.
fn kill_shim(
    containers: &Containers,
    spec: &ContainerSpec,
    shim: Option<&ShimProcess>,
) -> Result<()> {
    if !shim.is_some_and(|s| s.signal(libc::SIGKILL)) {
        if !containers.shim_alive(&spec.id) {
            return Ok(());
        }
        bail!(
            "container {}: its shim does not answer and could not be killed",
            spec.name
        );
    }
    shim_gone(containers, &spec.id, KILL_GRACE);
    super::warn(&format!(
        "the shim of container {} did not answer: killed it, and the container with it",
        spec.name
    ));
    Ok(())
}
