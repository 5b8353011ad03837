//! `box rm` and `box container prune`. A removal first takes the container's
//! `shim.lock` (so no shim can start it meanwhile), then takes it out of every listing with
//! one rename, then deletes its files: an interrupted removal leaves a `.trash-`
//! directory that the next removal finishes, never a half-deleted container. A
//! directory without a record, which an interrupted `box run` left with its name, is
//! removed too, by name or id, and by the prunes.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};

use boxc::container::{ContainerError, Containers};
use boxc::runtime::create;
use boxc::runtime::signal::Signal;
use boxc::runtime::spec::ContainerSpec;

use super::{print, shim, Ctx};

#[derive(clap::Args)]
pub struct Args {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short, long)]
    force: bool,
    /// Remove anonymous volumes associated with the container (box creates none)
    #[arg(short, long)]
    volumes: bool,
    #[arg(required = true, value_name = "CONTAINER")]
    containers: Vec<String>,
}

#[derive(clap::Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
}

pub fn run(ctx: &Ctx, a: Args) -> Result<i32> {
    let containers = Containers::open(&ctx.dirs.data)?;
    let _ = a.volumes;
    finish_trash(&containers, ctx);
    super::stop::each(&a.containers, |n| {
        let id = match containers.resolve(n) {
            Ok(id) => id,
            Err(e) => containers.orphan_named(n).ok_or(e)?,
        };
        if !containers.has_record(&id) {
            return remove_orphan(ctx, &containers, &id)
                .map_err(|e| anyhow!("cannot remove container {n}: {e}"));
        }
        let spec = containers.spec(&id)?;
        remove_container(ctx, &containers, &spec, a.force)
    })
}

/// Removes what an interrupted `box run` left: a directory without a record, and its
/// name. `Busy` while a run may still be making it.
fn remove_orphan(ctx: &Ctx, containers: &Containers, id: &str) -> Result<(), ContainerError> {
    let trash = containers.unlink_orphan(id)?;
    // Nothing ran in it: its files are the user's own.
    let _ = create::remove_as_container(None, &ctx.idmap, &trash);
    Ok(())
}

/// Removes one container; a running one only with `force` (killed first).
pub fn remove_container(
    ctx: &Ctx,
    containers: &Containers,
    spec: &ContainerSpec,
    force: bool,
) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    containers.settle(&spec.id);
    let lock = loop {
        match containers.try_lock(&spec.id) {
            Ok(l) => break l,
            // Removed meanwhile by someone else (a `--rm` shim, another `box rm`).
            Err(ContainerError::NoSuchContainer(_)) => return Ok(()),
            Err(ContainerError::Busy(_)) if containers.shim_alive(&spec.id) && !force => bail!(
                "cannot remove container {}: container is running: stop the container before removing or force remove",
                spec.name
            ),
            Err(ContainerError::Busy(_)) if Instant::now() > deadline => {
                bail!("cannot remove container {}: it stays busy", spec.name)
            }
            Err(ContainerError::Busy(_)) if containers.shim_alive(&spec.id) => {
                // A shim that does not answer is killed; one that is starting and not
                // listening yet is asked again shortly.
                let _ =
                    super::stop::stop_container(ctx, containers, spec, Some(0), Some(Signal::KILL));
                std::thread::sleep(Duration::from_millis(10));
            }
            // Another command holds it for a moment (a copy, a shim starting).
            Err(ContainerError::Busy(_)) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(e.into()),
        }
    };
    let runtime_dirs = shim::runtime_dirs(ctx, containers, &spec.id);
    let trash = containers.unlink(&spec.id, &spec.name)?;
    drop(lock);
    if boxc::network::user::is_member(spec) {
        boxc::network::user::refresh_members(&ctx.dirs.data, containers);
    }
    for d in runtime_dirs {
        let _ = std::fs::remove_dir_all(d);
    }
    create::remove_as_container(None, &spec.idmap, &trash)
        .map_err(|e| anyhow!("removing {}: {e}", trash.display()))
}

/// Deletes what interrupted removals left.
fn finish_trash(containers: &Containers, ctx: &Ctx) {
    for t in containers.trash() {
        let _ = create::remove_as_container(None, &ctx.idmap, &t);
    }
}

pub fn prune(ctx: &Ctx, a: PruneArgs) -> Result<i32> {
    if !a.force
        && !super::image::confirm(
            "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ",
        )
    {
        return Ok(0);
    }
    let (deleted, space) = prune_containers(ctx)?;
    print(&format!(
        "{}Total reclaimed space: {}\n",
        deleted_list("Deleted Containers:", &deleted),
        boxc::output::human_size(space)
    ));
    Ok(0)
}

/// Removes every container whose shim is gone (`container prune`, `system prune`);
/// returns their ids and the bytes their writable layers held. A container that
/// cannot be removed is reported and skipped.
pub fn prune_containers(ctx: &Ctx) -> Result<(Vec<String>, u64)> {
    let containers = Containers::open(&ctx.dirs.data)?;
    finish_trash(&containers, ctx);
    let mut deleted = Vec::new();
    let mut space = 0;
    for id in containers.ids()? {
        if !containers.has_record(&id) {
            match remove_orphan(ctx, &containers, &id) {
                Ok(()) => deleted.push(id),
                // A run in progress, a record written meanwhile, or removed meanwhile.
                Err(ContainerError::Busy(_) | ContainerError::NoSuchContainer(_)) => {}
                Err(e) => super::report(&e.into()),
            }
            continue;
        }
        let Ok(spec) = containers.spec(&id) else {
            continue;
        };
        containers.settle(&id);
        if containers.shim_alive(&id) {
            continue;
        }
        let size = dir_size(&spec.dir.join("upper"));
        match remove_container(ctx, &containers, &spec, false) {
            Ok(()) => {
                deleted.push(id);
                space += size;
            }
            Err(e) => super::report(&e),
        }
    }
    Ok((deleted, space))
}

/// Docker's "Deleted Containers:" block: a heading, one line each, a blank line;
/// nothing when nothing was deleted.
pub fn deleted_list(heading: &str, lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    format!("{heading}\n{}\n\n", lines.join("\n"))
}

/// Bytes in a tree, as far as it can be read.
pub fn dir_size(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.path().symlink_metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
