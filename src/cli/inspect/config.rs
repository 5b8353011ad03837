//! `HostConfig` and `Config` of a container, and an image's `Config`, in Docker's
//! shape: Docker's field order, and null, `[]` or `{}` where Docker has them (a nil
//! list prints `[]` in a template, a nil pointer `<nil>`).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use boxc::runtime::plan::{MASKED, READ_ONLY};
use boxc::runtime::spec::{ContainerSpec, Mount, Seccomp};

/// A list, or null when empty, as Docker's optional lists are.
fn list_or_null<T: serde::Serialize>(items: &[T]) -> Value {
    if items.is_empty() {
        Value::Null
    } else {
        json!(items)
    }
}

/// Bytes of the private `/dev/shm` every container gets (`size=65536k`).
const SHM_SIZE: u64 = 64 << 20;

/// `HostConfig`: how the container was asked to run. `link_name` gives a linked
/// container's name from its id.
pub fn host_config(spec: &ContainerSpec, link_name: &dyn Fn(&str) -> Option<String>) -> Value {
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
    let tmpfs: Map<String, Value> = spec
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
    let extra_hosts: Vec<String> = spec
        .extra_hosts
        .iter()
        .map(|h| match h.ip {
            Some(ip) => format!("{}:{ip}", h.name),
            None => format!("{}:host-gateway", h.name),
        })
        .collect();
    // Docker's "/db:/web/alias": the target, then the alias under this container.
    let links: Vec<String> = spec
        .links
        .iter()
        .map(|l| {
            let target = link_name(&l.container_id).unwrap_or_else(|| l.container_id.clone());
            format!("/{target}:/{}/{}", spec.name, l.alias)
        })
        .collect();
    let strings = |v: &[std::net::IpAddr]| v.iter().map(|ip| ip.to_string()).collect::<Vec<_>>();
    let privileged = spec.security.privileged;
    json!({
        "Binds": list_or_null(&binds),
        "ContainerIDFile": "",
        "LogConfig": {
            "Type": "json-file",
            "Config": {
                "max-size": spec.log.max_size.to_string(),
                "max-file": spec.log.max_file.to_string(),
            },
        },
        "NetworkMode": super::network_mode(spec),
        "PortBindings": port_bindings(spec, ""),
        "RestartPolicy": {
            "Name": spec.restart.name(),
            "MaximumRetryCount": spec.restart.max_retries(),
        },
        "AutoRemove": spec.remove,
        "VolumeDriver": "",
        "VolumesFrom": null,
        "CapAdd": list_or_null(&spec.given.cap_add),
        "CapDrop": list_or_null(&spec.given.cap_drop),
        "CgroupnsMode": "private",
        "Dns": strings(&spec.dns.servers),
        "DnsOptions": spec.dns.options,
        "DnsSearch": spec.dns.search,
        "ExtraHosts": list_or_null(&extra_hosts),
        "GroupAdd": null,
        "IpcMode": "private",
        "Cgroup": "",
        "Links": list_or_null(&links),
        "OomScoreAdj": 0,
        "PidMode": "",
        "Privileged": privileged,
        "PublishAllPorts": spec.given.publish_all,
        "ReadonlyRootfs": spec.read_only,
        "SecurityOpt": list_or_null(&security_opt),
        "Tmpfs": if tmpfs.is_empty() { Value::Null } else { Value::Object(tmpfs) },
        "UTSMode": "",
        "UsernsMode": "",
        "ShmSize": SHM_SIZE,
        "Runtime": "box",
        "Isolation": "",
        // box sets no resource limits.
        "CpuShares": 0,
        "Memory": 0,
        "NanoCpus": 0,
        "MemorySwap": 0,
        "PidsLimit": null,
        "MaskedPaths": if privileged { Value::Null } else { json!(MASKED) },
        "ReadonlyPaths": if privileged { Value::Null } else { json!(READ_ONLY) },
        // A pointer in Docker: set only by --init.
        "Init": if spec.init { Value::Bool(true) } else { Value::Null },
    })
}

/// Published ports by container port, Docker's `{"80/tcp": [{"HostIp": "",
/// "HostPort": "8080"}]}`; `any_ip` stands for an address not given.
pub fn port_bindings(spec: &ContainerSpec, any_ip: &str) -> Value {
    let mut map: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for p in &spec.ports {
        map.entry(format!("{}/{}", p.container_port, p.proto.as_str()))
            .or_default()
            .push(json!({
                "HostIp": p.host_ip.map_or_else(|| any_ip.to_string(), |ip| ip.to_string()),
                "HostPort": p.host_port.to_string(),
            }));
    }
    json!(map)
}

/// The image's exposed ports and the published ones: Docker's `Config.ExposedPorts`.
pub fn exposed_ports(spec: &ContainerSpec) -> Vec<String> {
    let mut ports: Vec<String> = spec.given.exposed_ports.clone();
    ports.extend(
        spec.ports
            .iter()
            .map(|p| format!("{}/{}", p.container_port, p.proto.as_str())),
    );
    ports.sort();
    ports.dedup();
    ports
}

/// `Config`: what the container runs, as resolved from the image and the flags.
pub fn config(spec: &ContainerSpec) -> Value {
    let exposed: Map<String, Value> = exposed_ports(spec)
        .into_iter()
        .map(|p| (p, json!({})))
        .collect();
    // Streams attached at creation: none with -d; stdin with -i.
    let attached = !spec.given.detach;
    json!({
        "Hostname": spec.hostname,
        "Domainname": "",
        "User": spec.process.user,
        "AttachStdin": attached && spec.stdin,
        "AttachStdout": attached,
        "AttachStderr": attached,
        "ExposedPorts": if exposed.is_empty() { Value::Null } else { Value::Object(exposed) },
        "Tty": spec.tty,
        "OpenStdin": spec.stdin,
        "StdinOnce": attached && spec.stdin,
        "Env": spec.process.env,
        "Cmd": list_or_null(&spec.cmd),
        "Image": super::super::ps::image_column(spec),
        // Volumes are not implemented yet.
        "Volumes": null,
        "WorkingDir": spec.process.cwd,
        "Entrypoint": list_or_null(&spec.entrypoint),
        "OnBuild": null,
        "Labels": spec.labels,
        "StopSignal": spec.stop_signal.clone().unwrap_or_default(),
        "StopTimeout": spec.stop_timeout,
    })
}

/// An image's `Config` in Docker's full shape: what the image sets, over Docker's
/// empty values for what it does not (so `{{.Config.Labels}}` prints `map[]`, not
/// an error, for an image without labels). Fields Docker does not know stay.
pub fn image_config(raw: Option<&Value>) -> Value {
    let mut out = json!({
        "Hostname": "",
        "Domainname": "",
        "User": "",
        "AttachStdin": false,
        "AttachStdout": false,
        "AttachStderr": false,
        "ExposedPorts": null,
        "Tty": false,
        "OpenStdin": false,
        "StdinOnce": false,
        "Env": null,
        "Cmd": null,
        "Image": "",
        "Volumes": null,
        "WorkingDir": "",
        "Entrypoint": null,
        "OnBuild": null,
        "Labels": null,
        "StopSignal": "",
    });
    if let (Some(Value::Object(given)), Value::Object(o)) = (raw, &mut out) {
        for (k, v) in given {
            o.insert(k.clone(), v.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_configs_have_dockers_fields() {
        let c = image_config(Some(
            &json!({"Cmd": ["sh"], "Env": ["A=1"], "Shell": ["x"]}),
        ));
        let keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            &keys[..4],
            ["Hostname", "Domainname", "User", "AttachStdin"]
        );
        assert_eq!(keys.last(), Some(&"Shell"), "kept, after Docker's own");
        assert_eq!(c["Cmd"], json!(["sh"]));
        assert_eq!(c["Labels"], Value::Null);
        assert_eq!(c["Entrypoint"], Value::Null);
        assert_eq!(image_config(None)["WorkingDir"], "");
    }
}
