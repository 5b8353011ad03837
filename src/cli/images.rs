//! `box images [-a] [-q] [--digests] [--no-trunc] [REPOSITORY[:TAG]]`

use anyhow::Result;

use boxc::image::reference::familiar;
use boxc::image::store::{short_id, ImageRecord};
use boxc::output::format::{go_time, Listing, Row as FormatRow};
use boxc::output::{ago, human_size, table};
use serde_json::json;

use super::{print, Ctx};

#[derive(clap::Args)]
pub struct Args {
    /// Show all images (box keeps no intermediate images, so this is the default list)
    #[arg(short, long)]
    all: bool,
    /// Only show image IDs
    #[arg(short, long)]
    quiet: bool,
    /// Show digests
    #[arg(long)]
    digests: bool,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
    /// Format output: table, table TEMPLATE, json, or a Go template ('{{.Repository}}:{{.Tag}}')
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// Only images of this repository (and tag)
    #[arg(value_name = "REPOSITORY[:TAG]")]
    repository: Option<String>,
}

/// One line of the listing: a tag of an image, or an untagged image.
struct Row<'a> {
    repo: String,
    tag: String,
    image: &'a ImageRecord,
}

pub fn run(ctx: &Ctx, a: Args) -> Result<i32> {
    let format = Listing::parse(a.format.as_deref())?;
    let store = ctx.store()?;
    let default = ctx.config.default_registry();
    let mut images = store.images()?;
    images.sort_by(|x, y| y.created.cmp(&x.created).then(y.stored.cmp(&x.stored)));
    let tags = store.tags()?;
    let mut rows = Vec::new();
    for img in &images {
        let mine: Vec<&String> = tags
            .iter()
            .filter(|(_, id)| **id == img.id)
            .map(|(t, _)| t)
            .collect();
        if mine.is_empty() {
            rows.push(Row {
                repo: "<none>".into(),
                tag: "<none>".into(),
                image: img,
            });
        }
        for t in mine {
            let (name, tag) = t.rsplit_once(':').expect("stored tags have a tag");
            let (registry, repository) =
                name.split_once('/').expect("stored names have a registry");
            rows.push(Row {
                repo: familiar(registry, repository, default),
                tag: tag.into(),
                image: img,
            });
        }
    }
    if let Some(filter) = &a.repository {
        let (frepo, ftag) = match filter.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r.to_string(), Some(t.to_string())),
            _ => (filter.clone(), None),
        };
        let frepo = boxc::image::ImageRef::parse_with(&frepo, default)
            .map(|r| r.familiar_name(default))
            .unwrap_or(frepo);
        rows.retain(|r| r.repo == frepo && ftag.as_ref().is_none_or(|t| *t == r.tag));
    }
    let id = |img: &ImageRecord| {
        if a.no_trunc {
            img.id.clone()
        } else {
            short_id(&img.id).to_string()
        }
    };
    if !format.is_default() {
        let containers = boxc::container::Containers::open(&ctx.dirs.data)?.specs();
        let items: Vec<FormatRow> = rows
            .iter()
            .map(|r| {
                let used = containers
                    .iter()
                    .filter(|c| c.image_id == r.image.id)
                    .count();
                let fields = json!({
                    "Containers": used.to_string(),
                    "CreatedAt": r.image.created.as_deref().map(go_time).unwrap_or_default(),
                    "CreatedSince": ago(r.image.created.as_deref()),
                    "Digest": digest_for(r, default).unwrap_or_else(|| "<none>".into()),
                    "ID": id(r.image),
                    "Repository": r.repo,
                    "SharedSize": "N/A",
                    "Size": human_size(r.image.size),
                    "Tag": r.tag,
                    "UniqueSize": "N/A",
                    "VirtualSize": human_size(r.image.size),
                });
                FormatRow {
                    fields: fields.as_object().cloned().unwrap_or_default(),
                    labels: Default::default(),
                }
            })
            .collect();
        print(&format.render(HEADERS, &items)?);
        return Ok(0);
    }
    if a.quiet {
        let mut seen = std::collections::BTreeSet::new();
        let mut out = String::new();
        for r in &rows {
            if seen.insert(r.image.id.clone()) {
                out.push_str(&id(r.image));
                out.push('\n');
            }
        }
        print(&out);
        return Ok(0);
    }
    let mut headers = vec!["REPOSITORY", "TAG"];
    if a.digests {
        headers.push("DIGEST");
    }
    headers.extend(["IMAGE ID", "CREATED", "SIZE"]);
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut c = vec![r.repo.clone(), r.tag.clone()];
            if a.digests {
                c.push(digest_for(r, default).unwrap_or_else(|| "<none>".into()));
            }
            c.extend([
                id(r.image),
                ago(r.image.created.as_deref()),
                human_size(r.image.size),
            ]);
            c
        })
        .collect();
    print(&table(&headers, &cells));
    Ok(0)
}

/// `--format`'s fields, by Docker's names, and their `table` headers.
const HEADERS: &[(&str, &str)] = &[
    ("ID", "IMAGE ID"),
    ("Repository", "REPOSITORY"),
    ("Tag", "TAG"),
    ("Digest", "DIGEST"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("Size", "SIZE"),
    ("Containers", "CONTAINERS"),
    ("VirtualSize", "SIZE"),
    ("SharedSize", "SHARED SIZE"),
    ("UniqueSize", "UNIQUE SIZE"),
];

/// The repo digest of this row's repository.
fn digest_for(r: &Row, default: &str) -> Option<String> {
    r.image.repo_digests.iter().find_map(|d| {
        let (name, digest) = d.split_once('@')?;
        let (registry, repository) = name.split_once('/')?;
        (familiar(registry, repository, default) == r.repo || r.repo == "<none>")
            .then(|| digest.to_string())
    })
}
