//! `box tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]`

use anyhow::{bail, Result};

use boxc::image::ImageRef;

use super::Ctx;

#[derive(clap::Args)]
pub struct Args {
    #[arg(value_name = "SOURCE_IMAGE[:TAG]")]
    source: String,
    #[arg(value_name = "TARGET_IMAGE[:TAG]")]
    target: String,
}

pub fn run(ctx: &Ctx, a: Args) -> Result<i32> {
    let store = ctx.store()?;
    let default = ctx.config.default_registry();
    let img = store.resolve(&a.source, default)?;
    let target = ImageRef::parse_with(&a.target, default)?;
    if target.digest.is_some() {
        bail!(
            "refusing to create a tag with a digest reference: {}",
            a.target
        );
    }
    store.set_tag(
        &target
            .tagged()
            .expect("a reference without digest has a tag"),
        &img.id,
    )?;
    Ok(0)
}
