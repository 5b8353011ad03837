//! `box container SUBCOMMAND`: Docker's management-command spelling of the container
//! commands (`box container ls` is `box ps`, and so on): the same arguments and the
//! same code. `container create` is absent, as `box create` is.

use anyhow::Result;

use super::{attach, cp, exec, inspect, logs, port, ps, rename, rm, start, stop, top, wait, Ctx};

#[derive(clap::Subcommand)]
pub enum Command {
    /// List containers
    #[command(visible_alias = "ps", alias = "list")]
    Ls(ps::Args),
    /// Display detailed information on one or more containers
    Inspect(inspect::Args),
    /// Fetch the logs of a container
    Logs(logs::Args),
    /// Attach to a running container
    Attach(attach::Args),
    /// Execute a command in a running container
    Exec(exec::Args),
    /// Start one or more stopped containers
    Start(start::Args),
    /// Stop one or more running containers
    Stop(stop::StopArgs),
    /// Restart one or more containers
    Restart(stop::RestartArgs),
    /// Kill one or more running containers
    Kill(stop::KillArgs),
    /// Remove one or more containers
    Rm(rm::Args),
    /// Block until one or more containers stop, then print their exit codes
    Wait(wait::Args),
    /// Rename a container
    Rename(rename::Args),
    /// Remove all stopped containers
    Prune(rm::PruneArgs),
    /// Create and run a new container from an image
    Run(Box<super::run::Args>),
    /// Display the running processes of a container
    Top(top::Args),
    /// List port mappings or a specific mapping for the container
    Port(port::Args),
    /// Copy files/folders between a container and the local filesystem
    Cp(cp::Args),
}

pub fn run(ctx: &Ctx, c: Command) -> Result<i32> {
    match c {
        Command::Ls(a) => ps::run(ctx, a),
        Command::Inspect(a) => inspect::run(ctx, a),
        Command::Logs(a) => logs::run(ctx, a),
        Command::Attach(a) => attach::run(ctx, a),
        Command::Exec(a) => exec::run(ctx, a),
        Command::Start(a) => start::run(ctx, a),
        Command::Stop(a) => stop::stop(ctx, a),
        Command::Restart(a) => stop::restart(ctx, a),
        Command::Kill(a) => stop::kill(ctx, a),
        Command::Rm(a) => rm::run(ctx, a),
        Command::Wait(a) => wait::run(ctx, a),
        Command::Rename(a) => rename::run(ctx, a),
        Command::Prune(a) => rm::prune(ctx, a),
        Command::Run(a) => super::run::run(ctx, *a),
        Command::Top(a) => top::run(ctx, a),
        Command::Port(a) => port::run(ctx, a),
        Command::Cp(a) => cp::run(ctx, a),
    }
}
