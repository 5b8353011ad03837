//! `box rename CONTAINER NEW_NAME`: claims the new name before releasing the old
//! one, under the names' lock, so a name is never taken twice, lost, or left behind.

use anyhow::Result;

use boxc::container::Containers;

use super::Ctx;

#[derive(clap::Args)]
pub struct Args {
    container: String,
    new_name: String,
}

pub fn run(ctx: &Ctx, a: Args) -> Result<i32> {
    let containers = Containers::open(&ctx.dirs.data)?;
    let id = containers.resolve(&a.container)?;
    let spec = containers.spec(&id)?;
    containers.rename(&id, &a.new_name)?;
    if !spec.networks.is_empty() {
        boxc::network::user::refresh_members(&ctx.dirs.data, &containers);
    }
    Ok(0)
}
