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
//!
//! This module owns the records and the store (`Networks`); the submodules own the
//! rest: IPv4 subnets and the host's routes (`subnet`), a member's address and
//! interface (`members`), the `/etc/hosts` files (`hosts`) and `--link` (`links`).
//! None of them touches a bridge or a namespace: that is the holder's and netlink's.

mod hosts;
mod links;
mod members;
mod subnet;

use std::collections::BTreeMap;
use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::runtime::spec::ContainerSpec;

pub use hosts::{hosts_file, is_member, refresh_hosts, refresh_members};
pub use links::{link_env, link_target, Link};
pub use members::{allocate, attachment, Attachment};
pub use subnet::{free_subnet, host_routes, Subnet};

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
