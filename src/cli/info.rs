//! `box info`: where things are, how ids are mapped, which helpers were found, and
//! what the kernel offers — what a user needs to know when something does not work.

use anyhow::Result;

use boxc::image::reference::DOCKER_HUB;
use boxc::network::Network;
use boxc::runtime::idmap::{find_program, parse_subid, user_name, IdMapping};
use boxc::runtime::storage;

use boxc::output::format::Object;
use serde_json::{json, Value};

use super::{print, Ctx};

/// `docker info`'s fields, by Docker's names (scripts read `{{.ContainersRunning}}` or
/// `{{.DockerRootDir}}` as they would from Docker), with what is true of box: no
/// daemon, no cgroups of its own, no resource limits, no volumes or swarm, the
/// registries of `config.toml`. Box's own under `Box`.
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
    // Every container has a cgroup namespace of its own.
    let mut security = vec!["name=seccomp,profile=builtin".to_string()];
    if uid != 0 {
        security.push("name=rootless".into());
    }
    security.push("name=cgroupns".into());
    let mut network_drivers = vec!["bridge", "host", "none"];
    network_drivers.extend(
        ["pasta", "slirp4netns"]
            .into_iter()
            .filter(|p| !helpers[*p].is_null()),
    );
    let cgroup_v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let exe = std::env::current_exe().unwrap_or_else(|_| "box".into());
    let plugins = json!({
        "Volume": [],
        "Network": network_drivers,
        "Authorization": null,
        "Log": ["json-file"],
    });
    let swarm = json!({
        "NodeID": "",
        "NodeAddr": "",
        "LocalNodeState": "inactive",
        "ControlAvailable": false,
        "Error": "",
        "RemoteManagers": null,
    });
    let own = json!({
        "RuntimeDir": ctx.dirs.runtime,
        "ConfigFile": ctx.dirs.config_file,
        "DefaultRegistry": ctx.config.default_registry(),
        "IdMapping": ctx.idmap.describe(),
        "SubuidRanges": ranges("/etc/subuid"),
        "SubgidRanges": ranges("/etc/subgid"),
        "Helpers": helpers,
    });
    // In two parts: one json! of every field is past the macro's recursion limit.
    let mut info = json!({
        "ID": engine_id(ctx, uid),
        "Containers": listed.len(),
        "ContainersRunning": running,
        "ContainersPaused": 0,
        "ContainersStopped": listed.len() - running,
        "Images": images,
        "Driver": driver.name(),
        "DriverStatus": [["Reason", driver.reason()], ["Kernel overlay", storage::kernel_overlay().describe()]],
        "Plugins": plugins,
        // No cgroups of box's own: no resource limits of any kind.
        "MemoryLimit": false,
        "SwapLimit": false,
        "CpuCfsPeriod": false,
        "CpuCfsQuota": false,
        "CPUShares": false,
        "CPUSet": false,
        "PidsLimit": false,
        "IPv4Forwarding": read("/proc/sys/net/ipv4/ip_forward").trim() == "1",
        // User-mode networks: no iptables.
        "BridgeNfIptables": false,
        "BridgeNfIp6tables": false,
        "Debug": boxc::output::log_enabled(boxc::output::Level::Debug),
        "NFd": std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count()),
        "OomKillDisable": false,
        // No goroutines: box's threads.
        "NGoroutines": boxc::sys::thread_count().unwrap_or(1),
        "SystemTime": chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        "LoggingDriver": "json-file",
        "CgroupDriver": "none",
        "CgroupVersion": if cgroup_v2 { "2" } else { "1" },
        "NEventsListener": 0,
        "KernelVersion": storage::kernel_release().unwrap_or_default(),
        "OperatingSystem": os_field("PRETTY_NAME"),
        "OSVersion": os_field("VERSION_ID"),
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
    });
    let rest = json!({
        "IndexServerAddress": index_server(&ctx.config),
        "RegistryConfig": registry_config(&ctx.config),
        "NCPU": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "MemTotal": mem_total,
        "GenericResources": null,
        "DockerRootDir": ctx.dirs.data,
        "HttpProxy": proxy_env("HTTP_PROXY"),
        "HttpsProxy": proxy_env("HTTPS_PROXY"),
        "NoProxy": proxy_env("NO_PROXY"),
        "Name": read("/proc/sys/kernel/hostname").trim(),
        "Labels": [],
        "ExperimentalBuild": false,
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "Runtimes": { "box": { "path": exe } },
        "DefaultRuntime": "box",
        "Swarm": swarm,
        // There is no daemon to restart: containers never depend on box running.
        "LiveRestoreEnabled": true,
        "Isolation": "",
        "SecurityOptions": security,
        "Warnings": warnings,
        "Box": own,
    });
    if let (Value::Object(info), Value::Object(rest)) = (&mut info, rest) {
        info.extend(rest);
    }
    Ok(info)
}

/// A UUID that names this user's box on this machine, as Docker's engine ID names a
/// daemon: the same on every call, different for another user or store.
fn engine_id(ctx: &Ctx, uid: u32) -> String {
    use sha2::{Digest, Sha256};
    let machine = std::fs::read_to_string("/etc/machine-id").unwrap_or_default();
    let digest = Sha256::new()
        .chain_update(b"box engine\0")
        .chain_update(machine.trim())
        .chain_update(format!("\0{uid}\0{}", ctx.dirs.data.display()))
        .finalize();
    let h = hex::encode(&digest[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// A proxy variable as the registry client reads it (upper case first), with any
/// password hidden as Docker hides it.
fn proxy_env(upper: &str) -> String {
    let v = std::env::var(upper)
        .or_else(|_| std::env::var(upper.to_ascii_lowercase()))
        .unwrap_or_default();
    mask_credentials(&v)
}

/// `http://user:pass@proxy:3128` as `http://xxxxx:xxxxx@proxy:3128`.
fn mask_credentials(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    match rest.split_once('@') {
        Some((_, host)) => {
            let scheme = if scheme.is_empty() {
                String::new()
            } else {
                format!("{scheme}://")
            };
            format!("{scheme}xxxxx:xxxxx@{host}")
        }
        None => url.to_string(),
    }
}

/// Where short names are pulled from, as Docker's index address names Docker Hub.
fn index_server(config: &boxc::config::Config) -> String {
    match config.default_registry() {
        DOCKER_HUB => "https://index.docker.io/v1/".into(),
        r => format!(
            "{}://{r}/",
            if config.plain_http(r) {
                "http"
            } else {
                "https"
            }
        ),
    }
}

/// Docker's `RegistryConfig`, from `config.toml`: every registry it names, and
/// Docker Hub.
fn registry_config(config: &boxc::config::Config) -> Value {
    let r = &config.registries;
    let mut names: Vec<&str> = vec![DOCKER_HUB, config.default_registry()];
    names.extend(r.insecure.iter().map(String::as_str));
    names.extend(r.mirrors.keys().map(String::as_str));
    names.sort_unstable();
    names.dedup();
    let indexes: serde_json::Map<String, Value> = names
        .into_iter()
        .map(|n| {
            let index = json!({
                "Name": n,
                "Mirrors": r.mirrors.get(n).cloned().unwrap_or_default(),
                "Secure": !config.plain_http(n),
                "Official": n == DOCKER_HUB,
            });
            (n.to_string(), index)
        })
        .collect();
    json!({
        "InsecureRegistryCIDRs": ["127.0.0.0/8"],
        "IndexConfigs": indexes,
        "Mirrors": r.mirrors.get(DOCKER_HUB).cloned().unwrap_or_default(),
    })
}

#[derive(clap::Args)]
pub struct Args {
    /// Format output: json, or a Go template of Docker's fields ('{{.ContainersRunning}}', '{{json .}}')
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
        &match boxc::network::parse_mode(
            ctx.config.network.default_mode(),
            &|p| find_program(p).is_some(),
            root,
        ) {
            Ok(n) => {
                let why = match n {
                    _ if ctx.config.network.default.is_some() => ", from config.toml",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_passwords_are_hidden() {
        assert_eq!(
            mask_credentials("http://u:p@proxy:3128"),
            "http://xxxxx:xxxxx@proxy:3128"
        );
        assert_eq!(mask_credentials("proxy:3128"), "proxy:3128");
        assert_eq!(mask_credentials("u:p@proxy"), "xxxxx:xxxxx@proxy");
        assert_eq!(mask_credentials(""), "");
    }
}
