//! `box image ls|pull|rm|tag|inspect|prune`

use std::io::{BufRead, IsTerminal};

use anyhow::Result;
use serde_json::{json, Value};

use boxc::image::reference::familiar;
use boxc::image::store::{ImageRecord, Store};
use boxc::output::human_size;

use super::{images, print, pull, report, rmi, tag, Ctx};

#[derive(clap::Subcommand)]
pub enum Command {
    /// List images
    #[command(visible_alias = "list")]
    Ls(images::Args),
    /// Download an image from a registry
    Pull(pull::Args),
    /// Remove one or more images
    Rm(rmi::Args),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(tag::Args),
    /// Display detailed information on one or more images
    Inspect(InspectArgs),
    /// Remove unused images
    Prune(PruneArgs),
    /// Build an image from a Dockerfile (not implemented yet)
    Build(super::notyet::Args),
}

#[derive(clap::Args)]
pub struct InspectArgs {
    /// Format output: json, or a Go template run on each image ('{{.Id}}')
    #[arg(short, long, value_name = "FORMAT")]
    format: Option<String>,
    #[arg(value_name = "IMAGE", required = true)]
    images: Vec<String>,
}

#[derive(clap::Args)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short, long)]
    all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
}

pub fn run(ctx: &Ctx, c: Command) -> Result<i32> {
    match c {
        Command::Ls(a) => images::run(ctx, a),
        Command::Pull(a) => pull::run(ctx, a),
        Command::Rm(a) => rmi::run(ctx, a),
        Command::Tag(a) => tag::run(ctx, a),
        Command::Inspect(a) => inspect(ctx, a),
        Command::Prune(a) => prune(ctx, a),
        Command::Build(_) => super::notyet::build(),
    }
}

fn inspect(ctx: &Ctx, a: InspectArgs) -> Result<i32> {
    let format = a
        .format
        .as_deref()
        .map(boxc::output::format::Object::parse)
        .transpose()?;
    let store = ctx.store()?;
    let mut out = Vec::new();
    let mut failed = false;
    for name in &a.images {
        match store
            .resolve(name, ctx.config.default_registry())
            .map_err(anyhow::Error::from)
            .and_then(|img| describe(ctx, &store, &img))
        {
            Ok(v) => out.push(v),
            Err(e) => {
                report(&e);
                failed = true;
            }
        }
    }
    super::inspect::print_objects(&out, format.as_ref())?;
    Ok(if failed { super::EXIT_BOX_ERROR } else { 0 })
}

/// Docker's `image inspect` shape: every field Docker has, empty where box (or the
/// image) has nothing for it.
pub fn describe(ctx: &Ctx, store: &Store, img: &ImageRecord) -> Result<Value> {
    let default = ctx.config.default_registry();
    let config: Value = serde_json::from_slice(&store.blob(&img.config_digest)?)?;
    let short = |name: &str| {
        let (registry, repo) = name.split_once('/').unwrap_or(("", name));
        familiar(registry, repo, default)
    };
    let repo_tags: Vec<String> = store
        .tags()?
        .into_iter()
        .filter(|(_, id)| *id == img.id)
        .map(|(t, _)| {
            let (name, tag) = t.rsplit_once(':').unwrap_or((&t, "latest"));
            format!("{}:{tag}", short(name))
        })
        .collect();
    let repo_digests: Vec<String> = img
        .repo_digests
        .iter()
        .map(|d| {
            let (name, digest) = d.split_once('@').unwrap_or((d, ""));
            format!("{}@{digest}", short(name))
        })
        .collect();
    let lower: Vec<String> = img
        .layers
        .iter()
        .rev()
        .map(|l| store.layer_diff(&l.digest).display().to_string())
        .collect();
    let text = |k: &str| config.get(k).cloned().unwrap_or(json!(""));
    Ok(json!({
        "Id": img.id,
        "RepoTags": repo_tags,
        "RepoDigests": repo_digests,
        "Parent": "",
        "Comment": text("comment"),
        "Created": img.created.clone().unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
        "DockerVersion": text("docker_version"),
        "Author": text("author"),
        "Config": super::inspect::image_config(config.get("config")),
        "Architecture": text("architecture"),
        "Variant": text("variant"),
        "Os": text("os"),
        "Size": img.size,
        // Gone from Docker's API 1.44, still in many scripts: the same as Size.
        "VirtualSize": img.size,
        "GraphDriver": { "Name": "overlay", "Data": { "LowerDir": lower.join(":") } },
        "RootFS": { "Type": "layers", "Layers": img.layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>() },
        // When box stored it under its tag.
        "Metadata": { "LastTagTime": img.stored },
        "Descriptor": { "mediaType": img.manifest_media_type, "digest": img.manifest_digest },
    }))
}

fn prune(ctx: &Ctx, a: PruneArgs) -> Result<i32> {
    let what = if a.all {
        "all images without at least one container associated to them"
    } else {
        "all dangling images"
    };
    if !a.force
        && !confirm(&format!(
            "WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] "
        ))
    {
        return Ok(0);
    }
    let (lines, freed) = prune_images(ctx, a.all)?;
    print(&format!(
        "{}Total reclaimed space: {}\n",
        super::rm::deleted_list("Deleted Images:", &lines),
        human_size(freed)
    ));
    Ok(0)
}

/// Removes dangling images (with `all`, every image no container uses) and the layers
/// nothing uses any more (`image prune`, `system prune`); returns Docker's
/// "untagged: ..." and "deleted: ..." lines and the bytes freed. Enters the store's
/// user namespace: call it last.
pub fn prune_images(ctx: &Ctx, all: bool) -> Result<(Vec<String>, u64)> {
    ctx.enter_userns()?;
    let store = ctx.store()?;
    let _gc = store.lock_exclusive()?;
    let tags = store.tags()?;
    let containers = boxc::container::Containers::open(&ctx.dirs.data)?.specs();
    let mut out = Vec::new();
    for img in store.images()? {
        let tagged = tags.values().any(|id| *id == img.id);
        let used = containers.iter().any(|c| c.image_id == img.id);
        if (tagged && !all) || used {
            continue;
        }
        for t in store.remove_image(&img.id)? {
            out.push(format!("untagged: {t}"));
        }
        out.push(format!("deleted: {}", img.id));
    }
    let in_use: Vec<String> = containers.into_iter().flat_map(|c| c.layers).collect();
    let freed = store.collect_garbage(&in_use)?;
    store.clean_tmp();
    Ok((out, freed))
}

/// Asks on the terminal; anything but y/yes (or no terminal answer at all) is no.
pub fn confirm(question: &str) -> bool {
    eprint!("{question}");
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        eprintln!();
    }
    let mut line = String::new();
    if stdin.lock().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}
