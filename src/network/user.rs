//! User-created networks (`box network create`), on disk and private to the user:
//!
//! ```text
//! $XDG_DATA_HOME/box/networks/<name>.json   one network: id, subnet, gateway, labels
//! $XDG_DATA_HOME/box/networks/.lock         flock'ed while addresses are handed out or
//!                                           members' /etc/hosts files are rewritten
//! ```
//!
//! Membership lives with the containers (`ContainerSpec::networks`), so removing a
//! container needs no second record to stay in step. A network's bridge exists only
//! inside the per-user namespace holder ([`super::holder`]), and only while a member
//! runs.
//!
//! Names are resolved by keeping every member's `/etc/hosts` current: each container's
//! file lists the members of its networks, and is rewritten in place (the bind mount
//! pins the inode) whenever a member joins, leaves, or is renamed. That is a few file
//! writes at those moments and nothing running in between, where a DNS responder would
//! be one more long-lived process per user that has to forward every other query.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::runtime::spec::ContainerSpec;

#[derive(Debug, Error)]
pub enum UserNetworkError {
    #[error("network {0} not found")]
    NotFound(String),
    #[error("network with name {0} already exists")]
    Exists(String),
    #[error("{0} is a pre-defined network and cannot be created or removed")]
    Predefined(String),
    #[error("invalid network name {0:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    BadName(String),
    #[error("invalid subnet {0:?}: want an IPv4 network such as 10.90.0.0/24 (prefix 8-30; IPv6 networks are not supported)")]
    BadSubnet(String),
    #[error("invalid gateway {0:?}: want an IPv4 address inside the subnet")]
    BadGateway(String),
    #[error("subnet {0} overlaps with network {1} ({2})")]
    Overlap(String, String, String),
    #[error("no free subnet left in 10.89.0.0/16: give one with --subnet")]
    NoSubnet,
    #[error("no free address left in network {0}")]
    Full(String),
    #[error("invalid address {0:?} for network {1}: want a free IPv4 address in {2}")]
    BadAddress(String, String, String),
    #[error("driver {0:?} is not supported: box networks are bridges (-d bridge)")]
    Driver(String),
    #[error("network {0} is in use by container {1}")]
    InUse(String, String),
    #[error("network store {path}: {op}: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        source: std::io::Error,
    },
    #[error("network store {path}: corrupt record: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// Names that `--network` already means something for.
pub const PREDEFINED: &[&str] = &[
    "bridge",
    "default",
    "host",
    "none",
    "pasta",
    "private",
    "slirp4netns",
];

/// An IPv4 network, `addr/prefix`, with the host bits clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Subnet {
    pub fn parse(s: &str) -> Option<Subnet> {
        let (a, p) = s.split_once('/')?;
        let addr: Ipv4Addr = a.parse().ok()?;
        let prefix: u8 = p.parse().ok()?;
        if !(8..=30).contains(&prefix) {
            return None;
        }
        let net = Subnet { addr, prefix };
        (net.network() == addr).then_some(net)
    }

    fn mask(self) -> u32 {
        u32::MAX << (32 - u32::from(self.prefix))
    }

    fn network(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }

    pub fn contains(self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.addr)
    }

    pub fn overlaps(self, other: Subnet) -> bool {
        let shorter = self.prefix.min(other.prefix);
        let m = if shorter == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(shorter))
        };
        u32::from(self.addr) & m == u32::from(other.addr) & m
    }

    /// The usable host addresses: not the network's, not the broadcast.
    fn hosts(self) -> impl Iterator<Item = Ipv4Addr> {
        let first = u32::from(self.addr) + 1;
        let last = (u32::from(self.addr) | !self.mask()) - 1;
        (first..=last).map(Ipv4Addr::from)
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// One user network, as `<name>.json` holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserNetwork {
    pub name: String,
    pub id: String,
    pub subnet: String,
    pub gateway: Ipv4Addr,
    pub created: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// No way out: members reach each other and nothing else.
    #[serde(default)]
    pub internal: bool,
}

impl UserNetwork {
    pub fn subnet(&self) -> Subnet {
        Subnet::parse(&self.subnet).expect("a subnet checked at creation")
    }

    /// The bridge's name in the holder's namespace (at most 15 bytes, the kernel's
    /// limit), as Docker names its own.
    pub fn bridge(&self) -> String {
        bridge_name(&self.id)
    }
}

pub fn bridge_name(network_id: &str) -> String {
    format!("br-{}", &network_id[..12])
}

/// A container's place on one network. Kept in the container's spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The network's name when the container joined (`network_id` is the truth).
    pub network: String,
    pub network_id: String,
    pub ip: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Ipv4Addr,
    /// The interface inside the container: `eth0`, `eth1`, ...
    pub ifname: String,
    /// `--network-alias` / `network connect --alias`: more names on this network.
    #[serde(default)]
    pub aliases: Vec<String>,
}

impl Attachment {
    /// Docker's rule: 02:42 and the four bytes of the address, so that a container
    /// keeps its MAC address with its IP.
    pub fn mac(&self) -> [u8; 6] {
        let o = self.ip.octets();
        [0x02, 0x42, o[0], o[1], o[2], o[3]]
    }

    pub fn mac_string(&self) -> String {
        self.mac()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    }
}

/// `--link NAME[:ALIAS]`, resolved to the container's id at creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub container_id: String,
    pub alias: String,
}

pub struct Networks {
    dir: PathBuf,
}

/// A held lock on the network store; released on drop.
pub struct NetworksLock(#[allow(dead_code)] fs::File);

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

impl Networks {
    pub fn open(data: &Path) -> Result<Networks, UserNetworkError> {
        let dir = data.join("networks");
        {
            use std::os::unix::fs::DirBuilderExt;
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(|source| UserNetworkError::Io {
                    path: dir.clone(),
                    op: "create",
                    source,
                })?;
        }
        Ok(Networks { dir })
    }

    /// Serialises creation, removal, address hand-out and /etc/hosts rewrites.
    pub fn lock(&self) -> Result<NetworksLock, UserNetworkError> {
        let path = self.dir.join(".lock");
        let io = |op, source| UserNetworkError::Io {
            path: path.clone(),
            op,
            source,
        };
        let f = fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| io("open", e))?;
        rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| io("lock", e.into()))?;
        Ok(NetworksLock(f))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    pub fn list(&self) -> Result<Vec<UserNetwork>, UserNetworkError> {
        let mut out = Vec::new();
        let entries = fs::read_dir(&self.dir).map_err(|source| UserNetworkError::Io {
            path: self.dir.clone(),
            op: "read",
            source,
        })?;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(n) = name.strip_suffix(".json") {
                if let Ok(net) = self.read(n) {
                    out.push(net);
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn read(&self, name: &str) -> Result<UserNetwork, UserNetworkError> {
        let path = self.path(name);
        let bytes = fs::read(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => UserNetworkError::NotFound(name.to_string()),
            _ => UserNetworkError::Io {
                path: path.clone(),
                op: "read",
                source,
            },
        })?;
        serde_json::from_slice(&bytes).map_err(|source| UserNetworkError::Corrupt { path, source })
    }

    /// By name, full id, or a unique id prefix, as Docker resolves them.
    pub fn get(&self, key: &str) -> Result<UserNetwork, UserNetworkError> {
        if valid_name(key) {
            if let Ok(n) = self.read(key) {
                return Ok(n);
            }
        }
        let all = self.list()?;
        let mut hits = all.into_iter().filter(|n| n.id.starts_with(key));
        match (hits.next(), hits.next()) {
            (Some(n), None) if !key.is_empty() => Ok(n),
            _ => Err(UserNetworkError::NotFound(key.to_string())),
        }
    }

    pub fn get_by_id(&self, id: &str) -> Option<UserNetwork> {
        self.list().ok()?.into_iter().find(|n| n.id == id)
    }

    /// Creates a network; without `subnet`, the first free 10.89.N.0/24 that neither
    /// another network nor one of the host's routes uses (pasta copies the host's
    /// routes into containers, so an overlap would shadow them).
    pub fn create(
        &self,
        req: &CreateRequest,
        host_routes: &[Subnet],
    ) -> Result<UserNetwork, UserNetworkError> {
        if PREDEFINED.contains(&req.name.as_str()) {
            return Err(UserNetworkError::Predefined(req.name.clone()));
        }
        if !valid_name(&req.name) {
            return Err(UserNetworkError::BadName(req.name.clone()));
        }
        if req.driver != "bridge" {
            return Err(UserNetworkError::Driver(req.driver.clone()));
        }
        let _lock = self.lock()?;
        if self.path(&req.name).exists() {
            return Err(UserNetworkError::Exists(req.name.clone()));
        }
        let existing = self.list()?;
        let subnet = match &req.subnet {
            Some(s) => {
                let net = Subnet::parse(s).ok_or_else(|| UserNetworkError::BadSubnet(s.clone()))?;
                if let Some(o) = existing.iter().find(|n| n.subnet().overlaps(net)) {
                    return Err(UserNetworkError::Overlap(
                        net.to_string(),
                        o.name.clone(),
                        o.subnet.clone(),
                    ));
                }
                net
            }
            None => {
                let taken: Vec<Subnet> = existing
                    .iter()
                    .map(UserNetwork::subnet)
                    .chain(host_routes.iter().copied())
                    .collect();
                free_subnet(&taken).ok_or(UserNetworkError::NoSubnet)?
            }
        };
        let gateway = match &req.gateway {
            Some(g) => {
                let ip: Ipv4Addr = g
                    .parse()
                    .map_err(|_| UserNetworkError::BadGateway(g.clone()))?;
                if !subnet.hosts().any(|h| h == ip) {
                    return Err(UserNetworkError::BadGateway(g.clone()));
                }
                ip
            }
            None => subnet.hosts().next().expect("a /30 or larger has hosts"),
        };
        let net = UserNetwork {
            name: req.name.clone(),
            id: crate::container::new_id(),
            subnet: subnet.to_string(),
            gateway,
            created: crate::container::now(),
            labels: req.labels.clone(),
            internal: req.internal,
        };
        let bytes = serde_json::to_vec_pretty(&net).expect("serialisable");
        crate::image::store::replace_atomic(&self.path(&net.name), &bytes).map_err(|e| {
            UserNetworkError::Io {
                path: self.path(&net.name),
                op: "write",
                source: std::io::Error::other(e.to_string()),
            }
        })?;
        Ok(net)
    }

    /// Removes a network no container is on (running or not: a stopped member would
    /// fail to start).
    pub fn remove(
        &self,
        net: &UserNetwork,
        specs: &[ContainerSpec],
    ) -> Result<(), UserNetworkError> {
        let _lock = self.lock()?;
        if let Some(c) = specs
            .iter()
            .find(|s| s.networks.iter().any(|a| a.network_id == net.id))
        {
            return Err(UserNetworkError::InUse(net.name.clone(), c.name.clone()));
        }
        let path = self.path(&net.name);
        fs::remove_file(&path).map_err(|source| UserNetworkError::Io {
            path,
            op: "remove",
            source,
        })
    }
}

/// What `box network create` asks for.
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    pub name: String,
    pub driver: String,
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub internal: bool,
}

/// The first 10.89.N.0/24 overlapping none of `taken`.
pub fn free_subnet(taken: &[Subnet]) -> Option<Subnet> {
    (0..=255u8)
        .map(|n| Subnet {
            addr: Ipv4Addr::new(10, 89, n, 0),
            prefix: 24,
        })
        .find(|s| !taken.iter().any(|t| t.overlaps(*s)))
}

/// The host's IPv4 routes other than the default one, from `/proc/net/route`.
pub fn host_routes() -> Vec<Subnet> {
    let Ok(text) = fs::read_to_string("/proc/net/route") else {
        return Vec::new();
    };
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?;
            if mask == 0 {
                return None;
            }
            Some(Subnet {
                // The file shows the bytes in memory order, read as a native number.
                addr: Ipv4Addr::from(dest.to_ne_bytes()),
                prefix: mask.count_ones() as u8,
            })
        })
        .collect()
}

/// An address for a new member: `requested` if free and inside, else the lowest free
/// one after the gateway.
pub fn allocate(
    net: &UserNetwork,
    specs: &[ContainerSpec],
    requested: Option<Ipv4Addr>,
) -> Result<Ipv4Addr, UserNetworkError> {
    let used: Vec<Ipv4Addr> = specs
        .iter()
        .flat_map(|s| s.networks.iter())
        .filter(|a| a.network_id == net.id)
        .map(|a| a.ip)
        .chain(std::iter::once(net.gateway))
        .collect();
    let subnet = net.subnet();
    match requested {
        Some(ip) => {
            if subnet.hosts().any(|h| h == ip) && !used.contains(&ip) {
                Ok(ip)
            } else {
                Err(UserNetworkError::BadAddress(
                    ip.to_string(),
                    net.name.clone(),
                    net.subnet.clone(),
                ))
            }
        }
        None => subnet
            .hosts()
            .find(|h| !used.contains(h))
            .ok_or_else(|| UserNetworkError::Full(net.name.clone())),
    }
}

/// The attachment for a container joining `net`, with the lowest free `ethN`.
pub fn attachment(
    net: &UserNetwork,
    ip: Ipv4Addr,
    aliases: Vec<String>,
    others: &[Attachment],
) -> Attachment {
    let ifname = (0..)
        .map(|n| format!("eth{n}"))
        .find(|n| !others.iter().any(|a| &a.ifname == n))
        .expect("an unused name");
    Attachment {
        network: net.name.clone(),
        network_id: net.id.clone(),
        ip,
        prefix: net.subnet().prefix,
        gateway: net.gateway,
        ifname,
        aliases,
    }
}

/// The container's `/etc/hosts`: its own names on its first network, `--add-host`
/// lines, then every other member of each of its networks by name, aliases and short
/// id, and `--link` aliases. Docker's embedded DNS answers the same names.
pub fn hosts_file(spec: &ContainerSpec, all: &[ContainerSpec]) -> String {
    let mut out = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    match spec.networks.first() {
        Some(a) => {
            let mut names = vec![spec.hostname.clone()];
            for n in std::iter::once(&spec.name).chain(&a.aliases) {
                if !names.contains(n) {
                    names.push(n.clone());
                }
            }
            out.push_str(&format!("{}\t{}\n", a.ip, names.join(" ")));
        }
        None => out.push_str(&format!("127.0.1.1\t{}\n", spec.hostname)),
    }
    for h in &spec.extra_hosts {
        if let Some(ip) = h.ip {
            out.push_str(&format!("{ip}\t{}\n", h.name));
        }
    }
    for mine in &spec.networks {
        for other in all.iter().filter(|o| o.id != spec.id) {
            for theirs in other
                .networks
                .iter()
                .filter(|t| t.network_id == mine.network_id)
            {
                let mut names = vec![other.name.clone()];
                names.extend(theirs.aliases.iter().cloned());
                names.push(other.id[..12].to_string());
                out.push_str(&format!("{}\t{}\n", theirs.ip, names.join(" ")));
            }
        }
    }
    for l in &spec.links {
        if let Some((ip, other)) = link_target(spec, l, all) {
            out.push_str(&format!(
                "{ip}\t{} {} {}\n",
                l.alias,
                other.name,
                &other.id[..12]
            ));
        }
    }
    out
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

/// Rewrites the `/etc/hosts` of every container on a user network or with links, where
/// it changed. In place: the running containers see their bind-mounted file change.
/// Call with the store's lock held.
pub fn refresh_hosts(all: &[ContainerSpec]) {
    for spec in all
        .iter()
        .filter(|s| !s.networks.is_empty() || !s.links.is_empty())
    {
        let path = spec.dir.join("etc").join("hosts");
        let want = hosts_file(spec, all);
        if fs::read_to_string(&path).is_ok_and(|have| have == want) {
            continue;
        }
        if let Ok(mut f) = fs::File::options().write(true).truncate(true).open(&path) {
            let _ = f.write_all(want.as_bytes());
        }
    }
}

/// After a member joined, left, or was renamed: every member's `/etc/hosts` again,
/// under the store's lock.
pub fn refresh_members(data: &Path, containers: &crate::container::Containers) {
    if let Ok(nets) = Networks::open(data) {
        if let Ok(_lock) = nets.lock() {
            refresh_hosts(&containers.specs());
        }
    }
}

/// Whether a change to this container concerns other containers' `/etc/hosts`.
pub fn is_member(spec: &ContainerSpec) -> bool {
    !spec.networks.is_empty() || !spec.links.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Subnet {
        Subnet::parse(x).unwrap()
    }

    #[test]
    fn subnets() {
        assert_eq!(Subnet::parse("10.89.0.0/24"), Some(s("10.89.0.0/24")));
        assert_eq!(Subnet::parse("10.89.0.1/24"), None, "host bits set");
        assert_eq!(Subnet::parse("10.89.0.0/31"), None);
        assert_eq!(Subnet::parse("fd00::/64"), None);
        assert!(s("10.0.0.0/8").overlaps(s("10.89.3.0/24")));
        assert!(s("10.89.3.0/24").overlaps(s("10.0.0.0/8")));
        assert!(!s("10.89.3.0/24").overlaps(s("10.89.4.0/24")));
        assert!(s("10.89.3.0/24").contains("10.89.3.77".parse().unwrap()));
        assert_eq!(
            s("10.89.3.0/30").hosts().collect::<Vec<_>>(),
            vec![
                "10.89.3.1".parse::<Ipv4Addr>().unwrap(),
                "10.89.3.2".parse().unwrap()
            ]
        );
    }

    #[test]
    fn free_subnets_skip_taken_and_host_routes() {
        assert_eq!(free_subnet(&[]), Some(s("10.89.0.0/24")));
        assert_eq!(
            free_subnet(&[s("10.89.0.0/24"), s("10.89.1.0/25")]),
            Some(s("10.89.2.0/24"))
        );
        assert_eq!(free_subnet(&[s("10.0.0.0/8")]), None);
    }

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

    #[test]
    fn mac_follows_the_address() {
        let a = Attachment {
            network: "n".into(),
            network_id: "0".repeat(64),
            ip: "10.89.0.2".parse().unwrap(),
            prefix: 24,
            gateway: "10.89.0.1".parse().unwrap(),
            ifname: "eth0".into(),
            aliases: vec![],
        };
        assert_eq!(a.mac_string(), "02:42:0a:59:00:02");
    }
}
