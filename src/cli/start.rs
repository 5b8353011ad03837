//! `box start`: a new shim for a stopped container, which runs it again on the same
//! filesystem (its upper layer is kept).

use anyhow::{bail, Result};

use boxc::container::Containers;
use boxc::runtime::spec::ContainerSpec;

use super::{attach, shim, Ctx};

#[derive(clap::Args)]
pub struct Args {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short, long)]
    attach: bool,
    /// Attach the container's STDIN
    #[arg(short, long)]
    interactive: bool,
    /// Override the key sequence for detaching a container (default ctrl-p,ctrl-q)
    #[arg(long, value_name = "KEYS")]
    detach_keys: Option<String>,
    #[arg(required = true, value_name = "CONTAINER")]
    containers: Vec<String>,
}

pub fn run(ctx: &Ctx, a: Args) -> Result<i32> {
    let containers = Containers::open(&ctx.dirs.data)?;
    if a.attach || a.interactive {
        if a.containers.len() > 1 {
            bail!("you cannot start and attach multiple containers at once");
        }
        let id = containers.resolve(&a.containers[0])?;
        let spec = containers.spec(&id)?;
        let stdin = a.interactive && spec.stdin;
        // Docker's: signals are passed on without a terminal; stdin, as `run -i`'s,
        // is the container's for good.
        let opts = attach::Options {
            stdin_once: stdin,
            ..attach::Options::new(stdin, spec.tty, a.detach_keys.as_deref(), true)?
        };
        containers.settle(&id);
        if containers.shim_alive(&id) {
            bail!(
                "container {} is already running: use box attach to attach to it",
                spec.name
            );
        }
        start_container(ctx, &containers, &spec, true)?;
        return attach::attach(&shim::socket_path(ctx, &id), opts);
    }
    super::stop::each(&a.containers, |n| {
        let id = containers.resolve(n)?;
        let spec = containers.spec(&id)?;
        start_container(ctx, &containers, &spec, false)
    })
}

/// Starts the container's shim unless one runs already (starting a running container
/// is not an error). With `attach`, the container waits for a client before it starts.
pub fn start_container(
    ctx: &Ctx,
    containers: &Containers,
    spec: &ContainerSpec,
    attach: bool,
) -> Result<()> {
    containers.settle(&spec.id);
    if containers.shim_alive(&spec.id) {
        return Ok(());
    }
    super::run::start_shim(ctx, spec, attach)
}
