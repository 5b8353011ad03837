//! `box inspect` (and `box container inspect`): Docker's JSON shape, every field a
//! Docker user types in a template, with box's values (an empty value or null where
//! box has nothing there, as Docker's own for a feature not in use). Names that are
//! not containers are looked up as images.
//!
//! The top level and `State` are here; `HostConfig` and `Config` in `config`,
//! `NetworkSettings` in `net`.

use anyhow::{anyhow, Result};
use serde_json::{json, Value};

use boxc::container::{Containers, State, Status};
use boxc::output::format::Object;
use boxc::runtime::spec::{ContainerSpec, Mount};

use super::{print, report, Ctx};

mod config;
mod net;

pub use config::image_config;

#[derive(clap::Args)]
pub struct Args {
    /// Only look for this kind of object: container or image
    #[arg(long = "type", value_parser = ["container", "image"])]
    kind: Option<String>,
    /// Format output: json, or a Go template run on each object ('{{.State.Status}}')
    #[arg(short, long, value_name = "FORMAT")]
    format: Option<String>,
    /// Display total file sizes if the type is container (SizeRw, SizeRootFs)
    #[arg(short, long)]
    size: bool,
    #[arg(required = true, value_name = "NAME|ID")]
    names: Vec<String>,
}

pub fn run(ctx: &Ctx, a: Args) -> Result<i32> {
    let format = a.format.as_deref().map(Object::parse).transpose()?;
    let containers = Containers::open(&ctx.dirs.data)?;
    let mut out = Vec::new();
    let mut failed = false;
    for n in &a.names {
        match lookup(ctx, &containers, n, a.kind.as_deref(), a.size) {
            Ok(v) => out.push(v),
            Err(e) => {
                report(&e);
                failed = true;
            }
        }
    }
    print_objects(&out, format.as_ref())?;
    Ok(if failed { super::EXIT_BOX_ERROR } else { 0 })
}

/// Docker's indented JSON array of what was inspected, or `--format` once per object.
pub fn print_objects(objects: &[Value], format: Option<&Object>) -> Result<()> {
    let text = match format {
        None => format!("{}\n", serde_json::to_string_pretty(objects)?),
        Some(f) => objects
            .iter()
            .map(|o| f.render(o))
            .collect::<Result<String, _>>()?,
    };
    print(&text);
    Ok(())
}

fn lookup(
    ctx: &Ctx,
    containers: &Containers,
    name: &str,
    kind: Option<&str>,
    size: bool,
) -> Result<Value> {
    if kind != Some("image") {
        if let Ok(id) = containers.resolve(name) {
            let spec = containers.spec(&id)?;
            let state = containers.current_state(&id)?;
            let sizes = if size {
                Some(super::ps::sizes(&ctx.store()?, &spec))
            } else {
                None
            };
            return Ok(describe(ctx, containers, &spec, &state, sizes));
        }
    }
    if kind != Some("container") {
        let store = ctx.store()?;
        if let Ok(img) = store.resolve(name, ctx.config.default_registry()) {
            return super::image::describe(ctx, &store, &img);
        }
    }
    Err(anyhow!(match kind {
        Some("container") => format!("No such container: {name}"),
        Some(_) => format!("No such image: {name}"),
        None => format!("No such object: {name}"),
    }))
}

/// A container as `docker inspect` shows it; `sizes` (writable layer, root
/// filesystem) with `--size`.
pub fn describe(
    ctx: &Ctx,
    containers: &Containers,
    spec: &ContainerSpec,
    st: &State,
    sizes: Option<(u64, u64)>,
) -> Value {
    let (path, args) = spec
        .process
        .args
        .split_first()
        .map(|(p, a)| (p.clone(), a.to_vec()))
        .unwrap_or_default();
    let mounts: Vec<Value> = spec
        .mounts
        .iter()
        .map(|m| match m {
            Mount::Bind {
                source,
                destination,
                readonly,
            } => json!({
                "Type": "bind", "Source": source, "Destination": destination,
                "Mode": if *readonly { "ro" } else { "" }, "RW": !readonly,
                "Propagation": "rprivate",
            }),
            Mount::Tmpfs { destination, .. } => json!({
                "Type": "tmpfs", "Source": "", "Destination": destination,
                "Mode": "", "RW": true, "Propagation": "",
            }),
        })
        .collect();
    let unknown = st.status == Status::Exited && st.exit_code.is_none();
    let zero_time = "0001-01-01T00:00:00Z";
    let link_name = |id: &str| containers.spec(id).ok().map(|s| s.name);
    json!({
        "Id": spec.id,
        "Created": st.created_at,
        "Path": path,
        "Args": args,
        "State": {
            "Status": st.status.as_str(),
            "Running": st.status == Status::Running,
            "Paused": false,
            "Restarting": st.status == Status::Restarting,
            "OOMKilled": false,
            "Dead": false,
            "Pid": st.pid.unwrap_or(0),
            "ExitCode": st.exit_code.unwrap_or(if unknown { super::wait::UNKNOWN_EXIT } else { 0 }),
            "Error": st.error.clone().unwrap_or_else(|| if unknown {
                "the container's shim ended without recording an exit status".into()
            } else {
                String::new()
            }),
            "StartedAt": st.started_at.as_deref().unwrap_or(zero_time),
            "FinishedAt": st.finished_at.as_deref().unwrap_or(zero_time),
        },
        "Image": spec.image_id,
        "ResolvConfPath": spec.dir.join("etc/resolv.conf"),
        "HostnamePath": spec.dir.join("etc/hostname"),
        "HostsPath": spec.dir.join("etc/hosts"),
        "LogPath": spec.dir.join("ctr.log"),
        "Name": format!("/{}", spec.name),
        "RestartCount": st.restart_count,
        "Driver": spec.driver,
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        // Neither AppArmor nor SELinux: box's confinement is seccomp and capabilities.
        "AppArmorProfile": "",
        // `box exec` sessions are not recorded.
        "ExecIDs": null,
        "HostConfig": config::host_config(spec, &link_name),
        "GraphDriver": {
            "Name": spec.driver,
            "Data": {
                "LowerDir": spec.lower.iter().map(|l| spec.store_root.join(l).display().to_string()).collect::<Vec<_>>().join(":"),
                "UpperDir": spec.dir.join("upper"),
                "WorkDir": spec.dir.join("work"),
                "MergedDir": spec.dir.join("rootfs"),
            },
        },
        // Docker leaves these out without --size; null prints <nil>, as Go's would.
        "SizeRw": sizes.map(|s| s.0),
        "SizeRootFs": sizes.map(|s| s.1),
        "Mounts": mounts,
        "Config": config::config(spec),
        "NetworkSettings": net::settings(spec, st),
        "Capabilities": spec.security.caps,
        "Box": {
            "ShimPid": st.shim_pid,
            "RuntimeDir": st.socket.as_ref().and_then(|s| s.parent()).map_or_else(
                || super::shim::runtime_dir(ctx, &spec.id),
                std::path::Path::to_path_buf
            ),
        },
    })
}

/// `--network` as given: a user network's name, `container:ID`, or a built-in mode.
pub fn network_mode(spec: &ContainerSpec) -> String {
    if let Some(a) = spec.networks.first() {
        return a.network.clone();
    }
    match &spec.net_container {
        Some(id) => format!("container:{id}"),
        None => spec.network.as_str().to_string(),
    }
}
