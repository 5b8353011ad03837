//! `box inspect` (and `box container inspect`): Docker's JSON shape for the fields
//! that apply to box. Names that are not containers are looked up as images.

use anyhow::{anyhow, Result};
use serde_json::{json, Value};

use boxc::container::{Containers, State, Status};
use boxc::output::format::Object;
use boxc::runtime::spec::{ContainerSpec, Mount, Seccomp};

use super::{print, report, Ctx};

#[derive(clap::Args)]
pub struct Args {
    /// Only look for this kind of object: container or image
    #[arg(long = "type", value_parser = ["container", "image"])]
    kind: Option<String>,
    /// Format output: json, or a Go template run on each object ('{{.State.Status}}')
    #[arg(short, long, value_name = "FORMAT")]
    format: Option<String>,
    #[arg(required = true, value_name = "NAME|ID")]
    names: Vec<String>,
}

pub fn run(ctx: &Ctx, a: Args) -> Result<i32> {
    let format = a.format.as_deref().map(Object::parse).transpose()?;
    let containers = Containers::open(&ctx.dirs.data)?;
    let mut out = Vec::new();
    let mut failed = false;
    for n in &a.names {
        match lookup(ctx, &containers, n, a.kind.as_deref()) {
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

fn lookup(ctx: &Ctx, containers: &Containers, name: &str, kind: Option<&str>) -> Result<Value> {
    if kind != Some("image") {
        if let Ok(id) = containers.resolve(name) {
            let spec = containers.spec(&id)?;
            let state = containers.current_state(&id)?;
            return Ok(describe(ctx, &spec, &state));
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

/// A container as `docker inspect` shows it.
pub fn describe(ctx: &Ctx, spec: &ContainerSpec, st: &State) -> Value {
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
    let binds: Vec<String> = spec
        .mounts
        .iter()
        .filter_map(|m| match m {
            Mount::Bind {
                source,
                destination,
                readonly,
            } => Some(format!(
                "{}:{}{}",
                source.display(),
                destination,
                if *readonly { ":ro" } else { "" }
            )),
            Mount::Tmpfs { .. } => None,
        })
        .collect();
    let tmpfs: serde_json::Map<String, Value> = spec
        .mounts
        .iter()
        .filter_map(|m| match m {
            Mount::Tmpfs {
                destination,
                options,
            } => Some((destination.clone(), Value::from(options.join(",")))),
            Mount::Bind { .. } => None,
        })
        .collect();
    let mut security_opt = Vec::new();
    match &spec.security.seccomp {
        Seccomp::Default => {}
        Seccomp::Unconfined => security_opt.push("seccomp=unconfined".to_string()),
        Seccomp::Custom(_) => security_opt.push("seccomp=<profile>".to_string()),
    }
    if spec.security.no_new_privileges {
        security_opt.push("no-new-privileges".to_string());
    }
    let unknown = st.status == Status::Exited && st.exit_code.is_none();
    let zero_time = "0001-01-01T00:00:00Z";
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
        "HostConfig": {
            "Binds": if binds.is_empty() { Value::Null } else { json!(binds) },
            "LogConfig": {
                "Type": "json-file",
                "Config": {
                    "max-size": spec.log.max_size.to_string(),
                    "max-file": spec.log.max_file.to_string(),
                },
            },
            "NetworkMode": network_mode(spec),
            "PortBindings": port_bindings(spec),
            "RestartPolicy": {
                "Name": spec.restart.name(),
                "MaximumRetryCount": spec.restart.max_retries(),
            },
            "AutoRemove": spec.remove,
            "CapAdd": Value::Null,
            "CapDrop": Value::Null,
            "Privileged": spec.security.privileged,
            "ReadonlyRootfs": spec.read_only,
            "SecurityOpt": if security_opt.is_empty() { Value::Null } else { json!(security_opt) },
            "Tmpfs": if tmpfs.is_empty() { Value::Null } else { Value::Object(tmpfs) },
            "Init": spec.init,
        },
        "GraphDriver": {
            "Name": spec.driver,
            "Data": {
                "LowerDir": spec.lower.iter().map(|l| spec.store_root.join(l).display().to_string()).collect::<Vec<_>>().join(":"),
                "UpperDir": spec.dir.join("upper"),
                "WorkDir": spec.dir.join("work"),
                "MergedDir": spec.dir.join("rootfs"),
            },
        },
        "Mounts": mounts,
        "Config": {
            "Hostname": spec.hostname,
            "User": spec.process.user,
            "AttachStdin": false,
            "Tty": spec.tty,
            "OpenStdin": spec.stdin,
            "Env": spec.process.env,
            "Cmd": if spec.cmd.is_empty() { Value::Null } else { json!(spec.cmd) },
            "Image": super::ps::image_column(spec),
            "WorkingDir": spec.process.cwd,
            "Entrypoint": if spec.entrypoint.is_empty() { Value::Null } else { json!(spec.entrypoint) },
            "Labels": spec.labels,
            "StopSignal": spec.stop_signal,
            "StopTimeout": spec.stop_timeout,
        },
        "NetworkSettings": {
            "Ports": port_bindings(spec),
            "Networks": networks(spec),
        },
        "Capabilities": spec.security.caps,
        "Box": {
            "ShimPid": st.shim_pid,
            "RuntimeDir": super::shim::runtime_dir(ctx, &spec.id),
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

/// Docker's per-network endpoint settings, for user networks.
fn networks(spec: &ContainerSpec) -> Value {
    let mut map = serde_json::Map::new();
    for a in &spec.networks {
        let mut aliases = a.aliases.clone();
        aliases.push(spec.id[..12].to_string());
        map.insert(
            a.network.clone(),
            json!({
                "Aliases": aliases,
                "Links": spec.links.iter().map(|l| format!("{}:{}", &l.container_id[..12], l.alias)).collect::<Vec<_>>(),
                "NetworkID": a.network_id,
                "MacAddress": a.mac_string(),
                "Gateway": a.gateway.to_string(),
                "IPAddress": a.ip.to_string(),
                "IPPrefixLen": a.prefix,
                "IPv6Gateway": "",
                "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0,
                "DNSNames": [spec.name.clone(), spec.id[..12].to_string()],
            }),
        );
    }
    Value::Object(map)
}

/// Docker's `{"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}`.
fn port_bindings(spec: &ContainerSpec) -> Value {
    let mut map = serde_json::Map::new();
    for p in &spec.ports {
        let key = format!("{}/{}", p.container_port, p.proto.as_str());
        let entry = json!({
            "HostIp": p.host_ip.map_or_else(|| "0.0.0.0".to_string(), |ip| ip.to_string()),
            "HostPort": p.host_port.to_string(),
        });
        match map.get_mut(&key) {
            Some(Value::Array(a)) => a.push(entry),
            _ => {
                map.insert(key, json!([entry]));
            }
        }
    }
    Value::Object(map)
}
