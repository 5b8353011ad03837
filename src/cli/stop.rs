//! `box stop`, `box kill` and `box restart`: signals go through the container's shim
//! (it alone knows that a stop means "do not restart"), and waiting for a stop is
//! waiting for the shim to end.

use std::time::Duration;

use anyhow::{anyhow, Result};
use nix::sys::signal::Signal;

use boxc::container::control::{Control, Waited};
use boxc::container::Containers;
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
    let signal = a.signal.as_deref().map(parse_signal).transpose()?;
    each(&a.containers, |n| {
        let id = containers.resolve(n)?;
        let spec = containers.spec(&id)?;
        stop_container(ctx, &containers, &spec, a.time, signal)
    })
}

pub fn kill(ctx: &Ctx, a: KillArgs) -> Result<i32> {
    let containers = Containers::open(&ctx.dirs.data)?;
    let signal = parse_signal(&a.signal)?;
    each(&a.containers, |n| {
        let id = containers.resolve(n)?;
        let spec = containers.spec(&id)?;
        let mut ctl = control(ctx, &containers, &spec)?;
        // A signal meant to end the container is a stop: no restart policy brings it
        // back. Others (SIGHUP to reload, say) are passed on as they are.
        let ends = signal == Signal::SIGKILL || signal == spec.effective_stop_signal();
        if ends {
            ctl.stop(signal as i32)?;
        } else {
            ctl.signal(signal as i32)?;
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

fn parse_signal(s: &str) -> Result<Signal> {
    Ok(boxc::runtime::signal::parse(s)?)
}

/// A control connection to a running container's shim.
pub fn control(ctx: &Ctx, containers: &Containers, spec: &ContainerSpec) -> Result<Control> {
    let not_running = || anyhow!("container {} is not running", spec.name);
    if !containers.shim_alive(&spec.id) {
        return Err(not_running());
    }
    Control::connect(&shim::socket_path(ctx, &spec.id)).map_err(|_| not_running())
}

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
    ctl.stop(sig as i32)?;
    if ctl.wait_gone(Some(Duration::from_secs(secs))) == Waited::TimedOut {
        ctl.stop(Signal::SIGKILL as i32)?;
        ctl.wait_gone(None);
    }
    Ok(())
}
