//! `--link NAME[:ALIAS]`: the link as kept in the container's spec, the address the
//! linked container has on a network both share, and Docker's legacy link variables
//! (ALIAS_NAME, ALIAS_PORT_*, ALIAS_ENV_*).
//!
//! It resolves and formats: it must not write anything, `/etc/hosts` included (that
//! is the `hosts` module's).

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::runtime::spec::ContainerSpec;

/// `--link NAME[:ALIAS]`, resolved to the container's id at creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub container_id: String,
    pub alias: String,
}

/// The address a linked container has on a network both share.
pub fn link_target<'a>(
    spec: &ContainerSpec,
    link: &Link,
    all: &'a [ContainerSpec],
) -> Option<(Ipv4Addr, &'a ContainerSpec)> {
    let other = all.iter().find(|o| o.id == link.container_id)?;
    let ip = other
        .networks
        .iter()
        .find(|t| spec.networks.iter().any(|m| m.network_id == t.network_id))?
        .ip;
    Some((ip, other))
}

/// Docker's legacy link variables for `link`: ALIAS_NAME, ALIAS_PORT, and for each
/// exposed port ALIAS_PORT_80_TCP{,_ADDR,_PORT,_PROTO}, then ALIAS_ENV_* from the
/// linked container's environment (but HOME and PATH, and HOSTNAME, which box adds).
pub fn link_env(
    me: &str,
    alias: &str,
    ip: Ipv4Addr,
    ports: &[(u16, &str)],
    env: &[String],
) -> Vec<String> {
    let prefix = alias.to_uppercase().replace('-', "_");
    let mut out = vec![format!("{prefix}_NAME=/{me}/{alias}")];
    let mut ports = ports.to_vec();
    // Docker's order: by port number, tcp before udp.
    ports.sort_by_key(|(p, proto)| (*p, *proto != "tcp"));
    ports.dedup();
    if let Some((p, proto)) = ports.first() {
        out.push(format!("{prefix}_PORT={proto}://{ip}:{p}"));
    }
    for (p, proto) in &ports {
        let k = format!("{prefix}_PORT_{p}_{}", proto.to_uppercase());
        out.push(format!("{k}={proto}://{ip}:{p}"));
        out.push(format!("{k}_ADDR={ip}"));
        out.push(format!("{k}_PORT={p}"));
        out.push(format!("{k}_PROTO={proto}"));
    }
    for e in env {
        if let Some((k, v)) = e.split_once('=') {
            if !["HOME", "PATH", "HOSTNAME"].contains(&k) {
                out.push(format!("{prefix}_ENV_{k}={v}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_variables_are_dockers() {
        let env = link_env(
            "web",
            "db-1",
            "10.89.0.3".parse().unwrap(),
            &[(5432, "tcp"), (53, "udp"), (80, "tcp")],
            &["PATH=/bin".into(), "PGDATA=/data".into()],
        );
        assert_eq!(
            env,
            vec![
                "DB_1_NAME=/web/db-1",
                "DB_1_PORT=udp://10.89.0.3:53",
                "DB_1_PORT_53_UDP=udp://10.89.0.3:53",
                "DB_1_PORT_53_UDP_ADDR=10.89.0.3",
                "DB_1_PORT_53_UDP_PORT=53",
                "DB_1_PORT_53_UDP_PROTO=udp",
                "DB_1_PORT_80_TCP=tcp://10.89.0.3:80",
                "DB_1_PORT_80_TCP_ADDR=10.89.0.3",
                "DB_1_PORT_80_TCP_PORT=80",
                "DB_1_PORT_80_TCP_PROTO=tcp",
                "DB_1_PORT_5432_TCP=tcp://10.89.0.3:5432",
                "DB_1_PORT_5432_TCP_ADDR=10.89.0.3",
                "DB_1_PORT_5432_TCP_PORT=5432",
                "DB_1_PORT_5432_TCP_PROTO=tcp",
                "DB_1_ENV_PGDATA=/data",
            ]
        );
    }
}
