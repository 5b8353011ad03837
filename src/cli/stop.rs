//! `box stop`, `box kill` and `box restart`: signals go through the container's shim
//! (it alone knows that a stop means "do not restart"), and waiting for a stop is
//! waiting for the shim to end.

use std::time::Duration;

use anyhow::{anyhow, Result};

use boxc::container::control::{Control, Waited};
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
        let mut ctl = control(ctx, &containers, &spec)?;
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

/// A control connection to a running container's shim.
pub fn control(ctx: &Ctx, containers: &Containers, spec: &ContainerSpec) -> Result<Control> {
    let not_running = || anyhow!("container {} is not running", spec.name);
    if !containers.shim_alive(&spec.id) {
        return Err(not_running());
    }
    Control::connect(&shim::socket_path(ctx, &spec.id)).map_err(|_| not_running())
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
    let Ok(mut ctl) = control(ctx, containers, spec) else {
        return Ok(());
    };
    let secs = timeout.or(spec.stop_timeout).unwrap_or(10);
    let sig = signal.unwrap_or_else(|| spec.effective_stop_signal());
    // A shim that does not even take the request is dealt with below.
    let _ = ctl.stop(sig.number());
    finish_stop(containers, spec, ctl, Duration::from_secs(secs))
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
            return kill_shim(containers, spec, &ctl);
        }
    }
    if ctl.wait_gone(Some(FINISH_GRACE)) == Waited::TimedOut {
        return kill_shim(containers, spec, &ctl);
    }
    Ok(())
}

fn kill_shim(containers: &Containers, spec: &ContainerSpec, ctl: &Control) -> Result<()> {
    if !ctl.kill_shim(&spec.id) {
        anyhow::bail!(
            "container {}: its shim does not answer and could not be killed",
            spec.name
        );
    }
    let deadline = std::time::Instant::now() + KILL_GRACE;
    while containers.shim_alive(&spec.id) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    super::warn(&format!(
        "the shim of container {} did not answer: killed it, and the container with it",
        spec.name
    ));
    Ok(())
}
