//! `box pull [-q] [--platform os/arch[/variant]] REF`

use std::sync::Arc;

use anyhow::{anyhow, Context, Result};

use boxc::image::manifest::Platform;
use boxc::image::pull::{self, NoProgress, Progress, PullContext};
use boxc::image::unpack::UnpackOptions;
use boxc::image::ImageRef;
use boxc::output;
use boxc::runtime::idmap::IdMapping;

use super::{print, warn, Ctx};

#[derive(clap::Args)]
pub struct Args {
    /// Suppress verbose output: print only the image reference
    #[arg(short, long)]
    quiet: bool,
    /// Pull for this platform instead of the host's (os/arch[/variant])
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    platform: Option<String>,
    /// The image: NAME[:TAG|@DIGEST]
    #[arg(value_name = "IMAGE")]
    image: String,
}

pub fn run(ctx: &Ctx, a: Args) -> Result<i32> {
    let r = ImageRef::parse_with(&a.image, ctx.config.default_registry())?;
    let platform = parse_platform(a.platform.as_deref())?;
    ctx.enter_userns()?;
    let outcome = pull_image(ctx, &r, &platform, a.quiet)?;
    let shown = r.familiar_name(ctx.config.default_registry());
    if !a.quiet {
        print(&format!("Digest: {}\n", outcome.digest));
        let what = if outcome.downloaded {
            "Downloaded newer image"
        } else {
            "Image is up to date"
        };
        let tag = r
            .tag
            .as_deref()
            .map(|t| format!(":{t}"))
            .unwrap_or_else(|| format!("@{}", outcome.digest));
        print(&format!("Status: {what} for {shown}{tag}\n"));
    }
    print(&format!("{r}\n"));
    Ok(0)
}

pub fn parse_platform(p: Option<&str>) -> Result<Platform> {
    match p {
        None => Ok(Platform::host()),
        Some(s) => Platform::parse(s).ok_or_else(|| {
            anyhow!("invalid platform {s:?}: want os/arch[/variant], e.g. linux/arm64")
        }),
    }
}

/// Pulls in a fresh async runtime; the caller has already entered the user namespace.
/// Shared with `box run` for images that are missing.
pub fn pull_image(
    ctx: &Ctx,
    r: &ImageRef,
    platform: &Platform,
    quiet: bool,
) -> Result<pull::PullOutcome> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let store = Arc::new(ctx.store()?);
    let pctx = PullContext {
        store,
        config: ctx.config.clone(),
        dirs: ctx.dirs.clone(),
        unpack: UnpackOptions {
            chown: !matches!(ctx.idmap, IdMapping::Single { .. }),
            mknod: matches!(ctx.idmap, IdMapping::Host),
        },
    };
    if !quiet {
        let tag = r.tag.clone().or(r.digest.clone()).unwrap_or_default();
        print(&format!(
            "{tag}: Pulling from {}\n",
            r.familiar_name(ctx.config.default_registry())
        ));
    }
    let bars = (!quiet && output::stderr_is_terminal()).then(|| Arc::new(output::Bars::new()));
    let progress: Arc<dyn Progress> = match &bars {
        Some(b) => b.clone(),
        None => Arc::new(NoProgress),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let outcome = rt.block_on(pull::pull(&pctx, r, platform, progress));
    if let Some(b) = &bars {
        b.finish();
    }
    let outcome = outcome?;
    for w in &outcome.warnings {
        warn(w);
    }
    Ok(outcome)
}
