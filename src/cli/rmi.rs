//! `box rmi [-f] IMAGE...`: untag, and remove images (and their layers no other image
//! uses) once nothing names them.

use anyhow::{bail, Result};

use boxc::container::Containers;
use boxc::image::reference::familiar;
use boxc::image::store::{short_id, Store};
use boxc::image::ImageRef;
use boxc::runtime::spec::ContainerSpec;

use super::{print, report, Ctx};

#[derive(clap::Args)]
pub struct Args {
    /// Force removal of images with several tags
    #[arg(short, long)]
    force: bool,
    #[arg(value_name = "IMAGE", required = true)]
    images: Vec<String>,
}

pub fn run(ctx: &Ctx, a: Args) -> Result<i32> {
    ctx.enter_userns()?;
    let store = ctx.store()?;
    let _gc = store.lock_exclusive()?;
    let containers = Containers::open(&ctx.dirs.data)?.specs();
    let mut failed = false;
    for name in &a.images {
        match remove_one(ctx, &store, &containers, name, a.force) {
            Ok(out) => print(&out),
            Err(e) => {
                report(&e);
                failed = true;
            }
        }
    }
    let in_use: Vec<String> = containers.into_iter().flat_map(|c| c.layers).collect();
    store.collect_garbage(&in_use)?;
    store.clean_tmp();
    Ok(if failed { super::EXIT_BOX_ERROR } else { 0 })
}

/// Docker's rules: a tag given by name is untagged, and the image goes with its last
/// tag; an image given by id goes whole, but only with -f if several tags name it.
fn remove_one(
    ctx: &Ctx,
    store: &Store,
    containers: &[ContainerSpec],
    name: &str,
    force: bool,
) -> Result<String> {
    let default = ctx.config.default_registry();
    let img = store.resolve(name, default)?;
    // Its layers stay while a container uses them; -f removes the image regardless.
    if let Some(c) = containers
        .iter()
        .find(|c| c.image_id == img.id)
        .filter(|_| !force)
    {
        bail!(
            "conflict: unable to delete {} (must be forced) - image is being used by container {}",
            short_id(&img.id),
            &c.id[..12]
        );
    }
    let tags: Vec<String> = store
        .tags()?
        .into_iter()
        .filter(|(_, id)| *id == img.id)
        .map(|(t, _)| t)
        .collect();
    let by_tag = ImageRef::parse_with(name, default)
        .ok()
        .and_then(|r| r.tagged())
        .filter(|t| tags.contains(t));
    let mut out = String::new();
    if let Some(t) = by_tag {
        store.remove_tag(&t)?;
        out.push_str(&format!("Untagged: {}\n", shown(&t, default)));
        if tags.len() > 1 {
            return Ok(out);
        }
    } else if tags.len() > 1 && !force {
        bail!(
            "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
            short_id(&img.id)
        );
    }
    for t in store.remove_image(&img.id)? {
        out.push_str(&format!("Untagged: {}\n", shown(&t, default)));
    }
    out.push_str(&format!("Deleted: {}\n", img.id));
    Ok(out)
}

fn shown(tag: &str, default: &str) -> String {
    let (name, t) = tag.rsplit_once(':').unwrap_or((tag, "latest"));
    let (registry, repo) = name.split_once('/').unwrap_or(("", name));
    format!("{}:{t}", familiar(registry, repo, default))
}
