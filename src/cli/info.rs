//! `box info`: where things are, how ids are mapped, which helpers were found, and
//! what the kernel offers — what a user needs to know when something does not work.

use anyhow::Result;

use boxc::network::Network;
use boxc::runtime::idmap::{find_program, parse_subid, user_name, IdMapping};
use boxc::runtime::storage;

use boxc::output::format::Object;
use serde_json::{json, Value};

use super::{print, Ctx};

/// `docker info`'s fields that box can fill, by Docker's names (scripts read
/// `{{.ContainersRunning}}` or `{{.DockerRootDir}}` as they would from Docker), and
/// box's own under `Box`.
fn info_json(ctx: &Ctx) -> Result<Value> {
    let containers = boxc::container::Containers::open(&ctx.dirs.data)?;
    let listed = super::ps::list(&containers)?;
    let running = listed.iter().filter(|c| c.state.is_live()).count();
    let images = ctx.store().and_then(|s| Ok(s.images()?.len())).unwrap_or(0);
    let driver = storage::choose_driver(ctx.config.storage.driver.as_deref());
    let uid = rustix::process::getuid().as_raw();
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let os_release = read("/etc/os-release");
    let os_field = |k: &str| {
        os_release
            .lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_default()
    };
    let mem_total: u64 = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024);
    let name = user_name(uid);
    let ranges = |file: &str| -> Vec<String> {
        parse_subid(&read(file), name.as_deref(), uid)
            .iter()
            .map(|(a, b)| format!("{a}:{b}"))
            .collect()
    };
    let helpers: serde_json::Map<String, Value> = [
        "newuidmap",
        "newgidmap",
        "fuse-overlayfs",
        "pasta",
        "slirp4netns",
    ]
    .iter()
    .map(|p| (p.to_string(), json!(find_program(p))))
    .collect();
    let mut warnings = Vec::new();
    if let IdMapping::Single { .. } = ctx.idmap {
        warnings.push("WARNING: no subordinate id range: box maps one id".to_string());
    }
    let mut security = vec!["name=seccomp,profile=builtin".to_string()];
    if uid != 0 {
        security.push("name=rootless".into());
    }
    Ok(json!({
        "Containers": listed.len(),
        "ContainersRunning": running,
        "ContainersPaused": 0,
        "ContainersStopped": listed.len() - running,
        "Images": images,
        "Driver": driver.name(),
        "DriverStatus": [["Reason", driver.reason()], ["Kernel overlay", storage::kernel_overlay().describe()]],
        "LoggingDriver": "json-file",
        "CgroupVersion": if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() { "2" } else { "1" },
        "KernelVersion": storage::kernel_release().unwrap_or_default(),
        "OperatingSystem": os_field("PRETTY_NAME"),
        "OSVersion": os_field("VERSION_ID"),
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "NCPU": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "MemTotal": mem_total,
        "DockerRootDir": ctx.dirs.data,
        "Name": read("/proc/sys/kernel/hostname").trim(),
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "SecurityOptions": security,
        "Warnings": warnings,
        "Box": {
            "RuntimeDir": ctx.dirs.runtime,
            "ConfigFile": ctx.dirs.config_file,
            "DefaultRegistry": ctx.config.default_registry(),
            "IdMapping": ctx.idmap.describe(),
            "SubuidRanges": ranges("/etc/subuid"),
            "SubgidRanges": ranges("/etc/subgid"),
            "Helpers": helpers,
        },
    }))
}

#[derive(clap::Args)]
pub struct Args {
    /// Format output: json, or a Go template ('{{.ContainersRunning}}', '{{json .}}')
    #[arg(short, long, value_name = "FORMAT")]
    format: Option<String>,
}

pub fn run(ctx: &Ctx, a: Args) -> Result<i32> {
    if let Some(f) = a.format.as_deref() {
        let f = Object::parse(f)?;
        print(&f.render(&info_json(ctx)?)?);
        return Ok(0);
    }
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
    let root = rustix::process::geteuid().is_root();
    line(
        "Network",
        &match boxc::network::parse_mode("default", &|p| find_program(p).is_some(), root) {
            Ok(n) => {
                let why = match n {
                    Network::Slirp4netns if root => ": pasta does not run as root",
                    Network::Slirp4netns => ": pasta is not installed",
                    _ => "",
                };
                format!(
                    "{} (the default{why}; --network pasta|slirp4netns|none|host chooses)",
                    n.as_str()
                )
            }
            Err(e) => format!("none available: {e}"),
        },
    );
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
