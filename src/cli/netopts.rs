//! `box run`'s network flags: `--network` (repeatable), `--network-alias`, `--ip` and
//! `--link`, turned into the container's network mode, its user network attachments
//! and its links.

use anyhow::{bail, Context, Result};

use boxc::container::Containers;
use boxc::network::user::{self, Attachment, Link, UserNetwork};
use boxc::network::Network;
use boxc::runtime::spec::ContainerSpec;

use super::Ctx;

/// What the `--network` flags chose.
pub struct NetChoice {
    /// How the container reaches the outside (pasta, slirp4netns), or none, host,
    /// container.
    pub mode: Network,
    /// User networks, in the order of their interfaces.
    pub user: Vec<UserNetwork>,
    /// `container:NAME`, resolved to an id.
    pub container: Option<String>,
}

fn helper_mode(name: &str) -> Result<Network, boxc::network::NetworkError> {
    boxc::network::parse_mode(
        name,
        &|p| boxc::runtime::idmap::find_program(p).is_some(),
        rustix::process::geteuid().is_root(),
    )
}

pub fn choose(ctx: &Ctx, values: &[String]) -> Result<NetChoice> {
    let mut builtin = None;
    let mut container = None;
    let mut users: Vec<UserNetwork> = Vec::new();
    for v in values {
        match helper_mode(v) {
            Ok(Network::Container) => {
                let target = v.strip_prefix("container:").unwrap_or_default();
                let containers = Containers::open(&ctx.dirs.data)?;
                container = Some(containers.resolve(target)?);
                builtin = Some(Network::Container);
            }
            Ok(m) => builtin = Some(m),
            Err(boxc::network::NetworkError::UnknownNetwork(_)) => {
                let n = user::Networks::open(&ctx.dirs.data)?.get(v)?;
                if !users.iter().any(|u| u.id == n.id) {
                    users.push(n);
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    if values.len() > 1 && (builtin.is_some() || container.is_some()) {
        bail!("conflicting options: --network {} cannot be combined with other networks (only user networks can)", values.join(" --network "));
    }
    let mode = match builtin {
        Some(m) => m,
        // Members of internal networks only have no way out.
        None if !users.is_empty() && users.iter().all(|u| u.internal) => Network::None,
        None => helper_mode(ctx.config.network.default_mode())
            .context("the default network of config.toml ([network] default)")?,
    };
    Ok(NetChoice {
        mode,
        user: users,
        container,
    })
}

impl NetChoice {
    /// Flags that need a user network.
    pub fn check_conflicts(&self, aliases: &[String], ip: bool, links: &[String]) -> Result<()> {
        if self.user.is_empty() {
            if !aliases.is_empty() {
                bail!(
                    "network-scoped aliases are only supported for user networks (--network NAME)"
                );
            }
            if ip {
                bail!("--ip needs a user network (--network NAME)");
            }
            if !links.is_empty() {
                bail!("--link needs a user network that both containers are on: create one with `box network create NAME` and run both with --network NAME");
            }
        }
        Ok(())
    }

    /// The container's attachments: an address on each network (`--ip` on the first),
    /// aliases on all of them.
    pub fn attach(
        &self,
        all: &[ContainerSpec],
        ip: Option<&str>,
        aliases: &[String],
    ) -> Result<Vec<Attachment>> {
        let mut out: Vec<Attachment> = Vec::new();
        for (i, n) in self.user.iter().enumerate() {
            let requested = match ip.filter(|_| i == 0) {
                Some(s) => Some(s.parse().map_err(|_| {
                    user::UserNetworkError::BadAddress(
                        s.to_string(),
                        n.name.clone(),
                        n.subnet.clone(),
                    )
                })?),
                None => None,
            };
            let addr = user::allocate(n, all, requested)?;
            out.push(user::attachment(n, addr, aliases.to_vec(), &out));
        }
        Ok(out)
    }
}

/// `--link NAME[:ALIAS]`: each linked container must share one of `mine` networks.
/// Docker's variables go at the front of `env`, where the image's and the user's own
/// take precedence.
pub fn links(
    containers: &Containers,
    store: &boxc::image::store::Store,
    me: &str,
    mine: &[Attachment],
    values: &[String],
    env: &mut Vec<String>,
) -> Result<Vec<Link>> {
    let mut links = Vec::new();
    let mut vars = Vec::new();
    for v in values {
        let (name, alias) = v.split_once(':').unwrap_or((v, v));
        let id = containers
            .resolve(name)
            .with_context(|| format!("could not get container for {name}"))?;
        let target = containers.spec(&id)?;
        let Some(shared) = target
            .networks
            .iter()
            .find(|t| mine.iter().any(|m| m.network_id == t.network_id))
        else {
            bail!("cannot link to {name}: it is on none of this container's user networks");
        };
        let exposed = exposed_ports(store, &target);
        let ports: Vec<(u16, &str)> = exposed
            .iter()
            .map(|(p, proto)| (*p, proto.as_str()))
            .collect();
        vars.extend(user::link_env(
            me,
            alias,
            shared.ip,
            &ports,
            &target.process.env,
        ));
        links.push(Link {
            container_id: id,
            alias: alias.to_string(),
        });
    }
    let key = |e: &String| e.split('=').next().unwrap_or_default().to_string();
    let own: Vec<String> = env.iter().map(key).collect();
    vars.retain(|v| !own.contains(&key(v)));
    env.splice(0..0, vars);
    Ok(links)
}

/// The ports a container exposes: its image's ExposedPorts, its `--expose`'d and its
/// published ones.
fn exposed_ports(store: &boxc::image::store::Store, spec: &ContainerSpec) -> Vec<(u16, String)> {
    let mut out: Vec<(u16, String)> = spec
        .ports
        .iter()
        .map(|p| (p.container_port, p.proto.as_str().to_string()))
        .collect();
    let config = store
        .image(&spec.image_id)
        .ok()
        .flatten()
        .and_then(|img| store.blob(&img.config_digest).ok())
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    let image_keys: Vec<String> = config
        .map(|c| boxc::runtime::spec::ImageRunConfig::from_image_config(&c))
        .iter()
        .flat_map(|cfg| cfg.exposed_ports.iter().flat_map(|m| m.keys().cloned()))
        .collect();
    for k in image_keys.iter().chain(&spec.exposed) {
        let (p, proto) = k.split_once('/').unwrap_or((k, "tcp"));
        if let Ok(p) = p.parse() {
            out.push((p, proto.to_string()));
        }
    }
    out.sort();
    out.dedup();
    out
}
