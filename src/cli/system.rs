//! `box system df|prune|info`: Docker's management command for the whole store.
//! Prune is `container prune` then `image prune`, the same code; df reads records only
//! (image records, layer records, containers' writable layers), never a namespace.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;

use boxc::container::Containers;
use boxc::image::reference::familiar;
use boxc::image::store::{short_id, ImageRecord};
use boxc::output::{ago, human_size, table};

use super::{image, info, print, ps, rm, Ctx};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Show box disk usage
    Df(DfArgs),
    /// Remove unused data: stopped containers, then dangling (or all unused) images
    Prune(PruneArgs),
    /// Display system-wide information
    Info(info::Args),
}

#[derive(clap::Args)]
pub struct DfArgs {
    /// Show detailed information on space usage
    #[arg(short, long)]
    verbose: bool,
}

#[derive(clap::Args)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short, long)]
    all: bool,
    /// Prune anonymous volumes too (box creates none yet)
    #[arg(long)]
    volumes: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
}

pub fn run(ctx: &Ctx, c: Command) -> Result<i32> {
    match c {
        Command::Df(a) => df(ctx, a),
        Command::Prune(a) => prune(ctx, a),
        Command::Info(a) => info::run(ctx, a),
    }
}

fn prune(ctx: &Ctx, a: PruneArgs) -> Result<i32> {
    let mut what = vec![
        "all stopped containers",
        "all networks not used by at least one container",
    ];
    if a.volumes {
        what.push("all anonymous volumes not used by at least one container");
    }
    what.push(if a.all {
        "all images without at least one container associated to them"
    } else {
        "all dangling images"
    });
    let list: String = what.iter().map(|w| format!("  - {w}\n")).collect();
    if !a.force
        && !image::confirm(&format!(
            "WARNING! This will remove:\n{list}\nAre you sure you want to continue? [y/N] "
        ))
    {
        return Ok(0);
    }
    // Containers first: the images they used are then unused. Image pruning enters
    // the user namespace, so it comes last.
    let (containers, container_bytes) = rm::prune_containers(ctx)?;
    let networks = super::network::prune_networks(ctx)?;
    let (images, image_bytes) = image::prune_images(ctx, a.all)?;
    print(&format!(
        "{}{}{}Total reclaimed space: {}\n",
        rm::deleted_list("Deleted Containers:", &containers),
        rm::deleted_list("Deleted Networks:", &networks),
        rm::deleted_list("Deleted Images:", &images),
        human_size(container_bytes + image_bytes)
    ));
    Ok(0)
}

/// One image and what its layers weigh.
struct ImageUsage {
    record: ImageRecord,
    size: u64,
    /// Of `size`, bytes in layers that other images have too.
    shared: u64,
    containers: usize,
}

/// One container and its writable layer.
struct ContainerUsage {
    listed: ps::Listed,
    size: u64,
    running: bool,
}

struct Usage {
    images: Vec<ImageUsage>,
    /// Every image layer once.
    layers_size: u64,
    /// What pruning every unused image would free.
    images_reclaimable: u64,
    containers: Vec<ContainerUsage>,
}

fn usage(ctx: &Ctx) -> Result<Usage> {
    let store = ctx.store()?;
    let containers = Containers::open(&ctx.dirs.data)?;
    let listed = ps::list(&containers)?;
    let records = store.images()?;
    let layer_size = {
        let mut sizes = BTreeMap::new();
        for l in records.iter().flat_map(|r| &r.layers) {
            sizes
                .entry(l.digest.clone())
                .or_insert_with(|| store.layer_info(&l.digest).map(|i| i.size).unwrap_or(0));
        }
        sizes
    };
    let mut users: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &records {
        for l in unique(&r.layers) {
            *users.entry(l).or_default() += 1;
        }
    }
    let mut in_use: BTreeSet<&str> = BTreeSet::new();
    for c in &listed {
        in_use.extend(c.spec.layers.iter().map(String::as_str));
        if let Some(r) = records.iter().find(|r| r.id == c.spec.image_id) {
            in_use.extend(r.layers.iter().map(|l| l.digest.as_str()));
        }
    }
    let layers_size: u64 = layer_size.values().sum();
    let images_reclaimable = layer_size
        .iter()
        .filter(|(d, _)| !in_use.contains(d.as_str()))
        .map(|(_, s)| s)
        .sum();
    let images = records
        .iter()
        .map(|r| {
            let layers = unique(&r.layers);
            let size = layers.iter().map(|d| layer_size[*d]).sum();
            let shared = layers
                .iter()
                .filter(|d| users[**d] > 1)
                .map(|d| layer_size[*d])
                .sum();
            ImageUsage {
                record: r.clone(),
                size,
                shared,
                containers: listed.iter().filter(|c| c.spec.image_id == r.id).count(),
            }
        })
        .collect();
    let containers = listed
        .into_iter()
        .map(|c| {
            let running = c.state.is_live();
            ContainerUsage {
                size: rm::dir_size(&c.spec.dir.join("upper")),
                listed: c,
                running,
            }
        })
        .collect();
    Ok(Usage {
        images,
        layers_size,
        images_reclaimable,
        containers,
    })
}

fn unique(layers: &[boxc::image::store::LayerRef]) -> Vec<&str> {
    let set: BTreeSet<&str> = layers.iter().map(|l| l.digest.as_str()).collect();
    set.into_iter().collect()
}

/// Docker's RECLAIMABLE cell: the size, and its share of the total when there is one.
fn reclaimable(bytes: u64, total: u64) -> String {
    match (bytes * 100).checked_div(total) {
        Some(percent) => format!("{} ({percent}%)", human_size(bytes)),
        None => human_size(bytes),
    }
}

fn df(ctx: &Ctx, a: DfArgs) -> Result<i32> {
    let u = usage(ctx)?;
    if a.verbose {
        return df_verbose(ctx, &u);
    }
    let containers_size: u64 = u.containers.iter().map(|c| c.size).sum();
    let stopped_size: u64 = u
        .containers
        .iter()
        .filter(|c| !c.running)
        .map(|c| c.size)
        .sum();
    let rows = vec![
        vec![
            "Images".to_string(),
            u.images.len().to_string(),
            u.images
                .iter()
                .filter(|i| i.containers > 0)
                .count()
                .to_string(),
            human_size(u.layers_size),
            reclaimable(u.images_reclaimable, u.layers_size),
        ],
        vec![
            "Containers".to_string(),
            u.containers.len().to_string(),
            u.containers
                .iter()
                .filter(|c| c.running)
                .count()
                .to_string(),
            human_size(containers_size),
            reclaimable(stopped_size, containers_size),
        ],
        // Volumes and a build cache: box has none yet.
        vec![
            "Local Volumes".into(),
            "0".into(),
            "0".into(),
            human_size(0),
            human_size(0),
        ],
        vec![
            "Build Cache".into(),
            "0".into(),
            "0".into(),
            human_size(0),
            human_size(0),
        ],
    ];
    print(&table(
        &["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
        &rows,
    ));
    Ok(0)
}

fn df_verbose(ctx: &Ctx, u: &Usage) -> Result<i32> {
    let default = ctx.config.default_registry();
    let tags = ctx.store()?.tags()?;
    let mut image_rows = Vec::new();
    for i in &u.images {
        let mine: Vec<&String> = tags
            .iter()
            .filter(|(_, id)| **id == i.record.id)
            .map(|(t, _)| t)
            .collect();
        let names: Vec<(String, String)> = if mine.is_empty() {
            vec![("<none>".into(), "<none>".into())]
        } else {
            mine.iter()
                .filter_map(|t| {
                    let (name, tag) = t.rsplit_once(':')?;
                    let (registry, repository) = name.split_once('/')?;
                    Some((familiar(registry, repository, default), tag.to_string()))
                })
                .collect()
        };
        for (repo, tag) in names {
            image_rows.push(vec![
                repo,
                tag,
                short_id(&i.record.id).to_string(),
                ago(i.record.created.as_deref()),
                human_size(i.size),
                human_size(i.shared),
                human_size(i.size - i.shared),
                i.containers.to_string(),
            ]);
        }
    }
    let container_rows: Vec<Vec<String>> = u
        .containers
        .iter()
        .map(|c| {
            let spec = &c.listed.spec;
            vec![
                spec.id[..12].to_string(),
                ps::image_column(spec),
                format!("\"{}\"", ps::command_line(spec)),
                "0".into(),
                human_size(c.size),
                ago(Some(&c.listed.state.created_at)),
                ps::status_text(&c.listed.state),
                spec.name.clone(),
            ]
        })
        .collect();
    let mut out = String::from("Images space usage:\n\n");
    out.push_str(&table(
        &[
            "REPOSITORY",
            "TAG",
            "IMAGE ID",
            "CREATED",
            "SIZE",
            "SHARED SIZE",
            "UNIQUE SIZE",
            "CONTAINERS",
        ],
        &image_rows,
    ));
    out.push_str("\nContainers space usage:\n\n");
    out.push_str(&table(
        &[
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "LOCAL VOLUMES",
            "SIZE",
            "CREATED",
            "STATUS",
            "NAMES",
        ],
        &container_rows,
    ));
    out.push_str("\nLocal Volumes space usage:\n\n");
    out.push_str(&table(&["VOLUME NAME", "LINKS", "SIZE"], &[]));
    out.push_str("\nBuild cache usage: 0B\n");
    print(&out);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reclaimable_like_docker() {
        assert_eq!(reclaimable(0, 0), "0B");
        assert_eq!(reclaimable(500, 1000), "500B (50%)");
        assert_eq!(reclaimable(1000, 1000), "1kB (100%)");
    }
}
