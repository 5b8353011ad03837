//! `box info`: where things are, how ids are mapped, which helpers were found, and
//! what the kernel offers — what a user needs to know when something does not work.

use anyhow::Result;

use boxc::runtime::idmap::{find_program, parse_subid, user_name, IdMapping};
use boxc::runtime::storage;

use super::{print, Ctx};

#[derive(clap::Args)]
pub struct Args {}

pub fn run(ctx: &Ctx, _a: Args) -> Result<i32> {
    let mut s = String::new();
    let mut line = |k: &str, v: &str| s.push_str(&format!("{k}: {v}\n"));
    let uid = rustix::process::getuid().as_raw();
    line("Version", env!("CARGO_PKG_VERSION"));
    line(
        "Kernel",
        &storage::kernel_release().unwrap_or_else(|| "unknown".into()),
    );
    line(
        "User",
        &format!(
            "{} (uid {uid})",
            user_name(uid).unwrap_or_else(|| "?".into())
        ),
    );
    line("Store", &ctx.dirs.data.display().to_string());
    line("Runtime directory", &ctx.dirs.runtime.display().to_string());
    let cfg = &ctx.dirs.config_file;
    line(
        "Config file",
        &format!(
            "{}{}",
            cfg.display(),
            if cfg.exists() {
                ""
            } else {
                " (not present; defaults in use)"
            }
        ),
    );
    line("Default registry", ctx.config.default_registry());
    line("Id mapping", &ctx.idmap.describe());
    if let IdMapping::Single { .. } = ctx.idmap {
        let name = user_name(uid).unwrap_or_else(|| uid.to_string());
        line(
            "Hint",
            &format!("to map a full id range, add a line like \"{name}:100000:65536\" to /etc/subuid and /etc/subgid (as root) and install the uidmap package; until then box uses one id"),
        );
    }
    let subuid = std::fs::read_to_string("/etc/subuid").unwrap_or_default();
    let subgid = std::fs::read_to_string("/etc/subgid").unwrap_or_default();
    let name = user_name(uid);
    let show = |ranges: Vec<(u32, u32)>| {
        if ranges.is_empty() {
            "none".to_string()
        } else {
            ranges
                .iter()
                .map(|(a, b)| format!("{a}:{b}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    line(
        "Subuid ranges",
        &show(parse_subid(&subuid, name.as_deref(), uid)),
    );
    line(
        "Subgid ranges",
        &show(parse_subid(&subgid, name.as_deref(), uid)),
    );
    let driver = storage::choose_driver(ctx.config.storage.driver.as_deref());
    line(
        "Storage driver",
        &format!("{} ({})", driver.name(), driver.reason()),
    );
    line("Kernel overlay", storage::kernel_overlay().describe());
    s.push_str("Helpers:\n");
    for (prog, package) in [
        ("newuidmap", "uidmap"),
        ("newgidmap", "uidmap"),
        ("fuse-overlayfs", "fuse-overlayfs"),
        ("pasta", "passt"),
        ("slirp4netns", "slirp4netns"),
    ] {
        let found = find_program(prog)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| format!("not found (install the {package} package)"));
        s.push_str(&format!("  {prog}: {found}\n"));
    }
    if let Ok(store) = ctx.store() {
        s.push_str(&format!(
            "Images: {}\n",
            store.images().map(|i| i.len()).unwrap_or(0)
        ));
    }
    print(&s);
    Ok(0)
}
