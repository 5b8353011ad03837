//! `box network create|ls|rm|inspect|connect|disconnect|prune`: user networks, where
//! containers reach each other by name (see `boxc::network::user` for the records and
//! `boxc::network::holder` for where the bridges live).

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};
use serde_json::{json, Value};

use boxc::container::Containers;
use boxc::network::holder;
use boxc::network::netlink;
use boxc::network::user::{self, Attachment, Networks, UserNetwork};
use boxc::output::format::{go_time, Listing, Object, Row as FormatRow};
use boxc::output::table;
use boxc::runtime::spec::ContainerSpec;

use super::{print, report, Ctx};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Create a network
    Create(CreateArgs),
    /// List networks
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Remove one or more networks
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Display detailed information on one or more networks
    Inspect(InspectArgs),
    /// Connect a container to a network
    Connect(ConnectArgs),
    /// Disconnect a container from a network
    Disconnect(DisconnectArgs),
    /// Remove all networks no container is on
    Prune(PruneArgs),
}

#[derive(clap::Args)]
pub struct CreateArgs {
    /// Driver to manage the network (only bridge)
    #[arg(short, long, default_value = "bridge")]
    driver: String,
    /// Subnet in CIDR format, e.g. 10.90.0.0/24 (default: a free 10.89.N.0/24)
    #[arg(long)]
    subnet: Option<String>,
    /// IPv4 gateway for the subnet (default: its first address)
    #[arg(long)]
    gateway: Option<String>,
    /// Restrict external access to the network
    #[arg(long)]
    internal: bool,
    /// Set metadata on the network (KEY=VALUE)
    #[arg(long = "label", value_name = "KEY[=VALUE]")]
    label: Vec<String>,
    /// The network's name
    name: String,
}

#[derive(clap::Args)]
pub struct LsArgs {
    /// Only show network IDs
    #[arg(short, long)]
    quiet: bool,
    /// Do not truncate the output
    #[arg(long)]
    no_trunc: bool,
    /// Filter: name=, id=, label=KEY[=VALUE], driver=
    #[arg(short, long, value_name = "FILTER")]
    filter: Vec<String>,
    /// Format output: table, table TEMPLATE, json, or a Go template ('{{.Name}}')
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
}

#[derive(clap::Args)]
pub struct RmArgs {
    /// Do not error if a network does not exist
    #[arg(short, long)]
    force: bool,
    #[arg(required = true, value_name = "NETWORK")]
    networks: Vec<String>,
}

#[derive(clap::Args)]
pub struct InspectArgs {
    /// Format the output with a Go template, or json
    #[arg(short, long, value_name = "FORMAT")]
    format: Option<String>,
    #[arg(required = true, value_name = "NETWORK")]
    networks: Vec<String>,
}

#[derive(clap::Args)]
pub struct ConnectArgs {
    /// Add a network-scoped alias for the container
    #[arg(long)]
    alias: Vec<String>,
    /// IPv4 address
    #[arg(long)]
    ip: Option<String>,
    network: String,
    container: String,
}

#[derive(clap::Args)]
pub struct DisconnectArgs {
    /// Force the container to disconnect from a network
    #[arg(short, long)]
    force: bool,
    network: String,
    container: String,
}

#[derive(clap::Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
}

pub fn run(ctx: &Ctx, c: Command) -> Result<i32> {
    let nets = Networks::open(&ctx.dirs.data)?;
    match c {
        Command::Create(a) => create(&nets, a),
        Command::Ls(a) => ls(ctx, &nets, a),
        Command::Rm(a) => rm(ctx, &nets, a),
        Command::Inspect(a) => inspect(ctx, &nets, a),
        Command::Connect(a) => connect(ctx, &nets, a),
        Command::Disconnect(a) => disconnect(ctx, &nets, a),
        Command::Prune(a) => prune(ctx, a),
    }
}

fn labels(list: &[String]) -> BTreeMap<String, String> {
    list.iter()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn create(nets: &Networks, a: CreateArgs) -> Result<i32> {
    let n = nets.create(
        &user::CreateRequest {
            name: a.name,
            driver: a.driver,
            subnet: a.subnet,
            gateway: a.gateway,
            labels: labels(&a.label),
            internal: a.internal,
        },
        &user::host_routes(),
    )?;
    print(&format!("{}\n", n.id));
    Ok(0)
}

/// The containers on `net`, with their attachment.
fn members<'a>(
    net: &UserNetwork,
    specs: &'a [ContainerSpec],
) -> Vec<(&'a ContainerSpec, &'a Attachment)> {
    specs
        .iter()
        .filter_map(|s| {
            s.networks
                .iter()
                .find(|a| a.network_id == net.id)
                .map(|a| (s, a))
        })
        .collect()
}

fn matches(n: &UserNetwork, filters: &[String]) -> Result<bool> {
    for f in filters {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| anyhow!("bad format of filter (expected name=value): {f}"))?;
        let ok = match k {
            "name" => n.name.contains(v),
            "id" => n.id.starts_with(v),
            "driver" => v == "bridge",
            "label" => match v.split_once('=') {
                Some((lk, lv)) => n.labels.get(lk).is_some_and(|x| x == lv),
                None => n.labels.contains_key(v),
            },
            "type" => v == "custom",
            other => bail!("invalid filter '{other}'"),
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

const HEADERS: &[(&str, &str)] = &[
    ("ID", "NETWORK ID"),
    ("Name", "NAME"),
    ("Driver", "DRIVER"),
    ("Scope", "SCOPE"),
    ("IPv4", "IPV4"),
    ("IPv6", "IPV6"),
    ("Internal", "INTERNAL"),
    ("Labels", "LABELS"),
    ("CreatedAt", "CREATED AT"),
];

fn ls(_ctx: &Ctx, nets: &Networks, a: LsArgs) -> Result<i32> {
    let format = Listing::parse(a.format.as_deref())?;
    let mut list = Vec::new();
    for n in nets.list()? {
        if matches(&n, &a.filter)? {
            list.push(n);
        }
    }
    let id = |n: &UserNetwork| {
        if a.no_trunc {
            n.id.clone()
        } else {
            n.id[..12].to_string()
        }
    };
    // As Docker's: a format of one's own wins over -q.
    if a.quiet && format.is_default() {
        print(
            &list
                .iter()
                .map(|n| format!("{}\n", id(n)))
                .collect::<String>(),
        );
        return Ok(0);
    }
    if !format.is_default() {
        let rows: Vec<FormatRow> = list
            .iter()
            .map(|n| {
                let fields = json!({
                    "ID": id(n),
                    "Name": n.name,
                    "Driver": "bridge",
                    "Scope": "local",
                    "IPv4": "true",
                    "IPv6": "false",
                    "Internal": n.internal.to_string(),
                    "Labels": n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
                    "CreatedAt": go_time(&n.created),
                });
                FormatRow {
                    fields: fields.as_object().cloned().unwrap_or_default(),
                    labels: n.labels.clone(),
                }
            })
            .collect();
        print(&format.render(HEADERS, &rows)?);
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|n| vec![id(n), n.name.clone(), "bridge".into(), "local".into()])
        .collect();
    print(&table(&["NETWORK ID", "NAME", "DRIVER", "SCOPE"], &rows));
    Ok(0)
}

fn rm(ctx: &Ctx, nets: &Networks, a: RmArgs) -> Result<i32> {
    let specs = Containers::open(&ctx.dirs.data)?.specs();
    let mut failed = false;
    for name in &a.networks {
        let res = nets.get(name).and_then(|n| nets.remove(&n, &specs));
        match res {
            Ok(()) => print(&format!("{name}\n")),
            Err(user::UserNetworkError::NotFound(_)) if a.force => {}
            Err(e) => {
                report(&e.into());
                failed = true;
            }
        }
    }
    Ok(if failed { super::EXIT_BOX_ERROR } else { 0 })
}

/// Docker's `network inspect` object.
fn describe(n: &UserNetwork, specs: &[ContainerSpec]) -> Value {
    let mut containers = serde_json::Map::new();
    for (s, at) in members(n, specs) {
        containers.insert(
            s.id.clone(),
            json!({
                "Name": s.name,
                "EndpointID": "",
                "MacAddress": at.mac_string(),
                "IPv4Address": format!("{}/{}", at.ip, at.prefix),
                "IPv6Address": "",
            }),
        );
    }
    json!({
        "Name": n.name,
        "Id": n.id,
        "Created": n.created,
        "Scope": "local",
        "Driver": "bridge",
        "EnableIPv4": true,
        "EnableIPv6": false,
        "IPAM": {
            "Driver": "default",
            "Options": {},
            "Config": [{"Subnet": n.subnet, "Gateway": n.gateway.to_string()}],
        },
        "Internal": n.internal,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": false,
        "Containers": containers,
        "Options": {},
        "Labels": n.labels,
    })
}

fn inspect(ctx: &Ctx, nets: &Networks, a: InspectArgs) -> Result<i32> {
    let format = a.format.as_deref().map(Object::parse).transpose()?;
    let specs = Containers::open(&ctx.dirs.data)?.specs();
    let mut out = Vec::new();
    let mut failed = false;
    for name in &a.networks {
        match nets.get(name) {
            Ok(n) => out.push(describe(&n, &specs)),
            Err(e) => {
                report(&e.into());
                failed = true;
            }
        }
    }
    super::inspect::print_objects(&out, format.as_ref())?;
    Ok(if failed { super::EXIT_BOX_ERROR } else { 0 })
}

/// The running container's pid, if it runs.
fn running_pid(containers: &Containers, id: &str) -> Option<i32> {
    containers
        .current_state(id)
        .ok()
        .filter(|s| s.is_live())
        .and_then(|s| s.pid)
}

fn connect(ctx: &Ctx, nets: &Networks, a: ConnectArgs) -> Result<i32> {
    let containers = Containers::open(&ctx.dirs.data)?;
    let n = nets.get(&a.network)?;
    let id = containers.resolve(&a.container)?;
    let _lock = nets.lock()?;
    let mut spec = containers.spec(&id)?;
    if spec.networks.iter().any(|x| x.network_id == n.id) {
        bail!(
            "endpoint with name {} already exists in network {}",
            spec.name,
            n.name
        );
    }
    if matches!(
        spec.network,
        boxc::network::Network::Host | boxc::network::Network::Container
    ) {
        bail!(
            "container {} uses --network {}: it cannot be connected to a network",
            spec.name,
            super::inspect::network_mode(&spec)
        );
    }
    let all = containers.specs();
    let requested = match &a.ip {
        Some(s) => Some(s.parse().map_err(|_| {
            user::UserNetworkError::BadAddress(s.clone(), n.name.clone(), n.subnet.clone())
        })?),
        None => None,
    };
    let ip = user::allocate(&n, &all, requested)?;
    let att = user::attachment(&n, ip, a.alias.clone(), &spec.networks);
    if let Some(pid) = running_pid(&containers, &id) {
        let h = holder::ensure(&ctx.dirs.runtime, &spec.idmap)?;
        if spec.networks.is_empty() || !h.contains(pid) {
            bail!("container {} is running outside the user networks' namespace (it was started without a user network): stop it, connect it, and start it again", spec.name);
        }
        let bridge = n.bridge();
        h.run_inside(|| {
            let netns = std::fs::File::open(format!("/proc/{pid}/ns/net"))
                .map_err(|e| format!("open the container's network namespace: {e}"))?;
            netlink::attach(
                std::os::fd::AsFd::as_fd(&h.netns),
                std::os::fd::AsFd::as_fd(&netns),
                &[netlink::Endpoint {
                    bridge: &bridge,
                    gateway: att.gateway,
                    prefix: att.prefix,
                    ip: att.ip,
                    mac: att.mac(),
                    ifname: &att.ifname,
                }],
            )
            .map_err(|e| e.to_string())
        })
        .map_err(|e| anyhow!("cannot connect {} to {}: {e}", spec.name, n.name))?;
    }
    spec.networks.push(att);
    containers.write_spec(&spec)?;
    user::refresh_hosts(&containers.specs());
    Ok(0)
}

fn disconnect(ctx: &Ctx, nets: &Networks, a: DisconnectArgs) -> Result<i32> {
    let containers = Containers::open(&ctx.dirs.data)?;
    let id = containers.resolve(&a.container)?;
    let _lock = nets.lock()?;
    let mut spec = containers.spec(&id)?;
    // A removed network may still be named by a stopped member: -f drops it by name.
    let found = match nets.get(&a.network) {
        Ok(n) => spec.networks.iter().position(|x| x.network_id == n.id),
        Err(_) if a.force => spec.networks.iter().position(|x| x.network == a.network),
        Err(e) => return Err(e.into()),
    };
    let Some(i) = found else {
        bail!(
            "container {} is not connected to network {}",
            spec.name,
            a.network
        );
    };
    if let Some(pid) = running_pid(&containers, &id) {
        let h = holder::ensure(&ctx.dirs.runtime, &spec.idmap)?;
        let ifname = spec.networks[i].ifname.clone();
        if h.contains(pid) {
            h.run_inside(|| {
                let netns = std::fs::File::open(format!("/proc/{pid}/ns/net"))
                    .map_err(|e| format!("open the container's network namespace: {e}"))?;
                netlink::detach(std::os::fd::AsFd::as_fd(&netns), &ifname)
                    .map_err(|e| e.to_string())
            })
            .map_err(|e| anyhow!("cannot disconnect {}: {e}", spec.name))?;
        }
    }
    spec.networks.remove(i);
    containers.write_spec(&spec)?;
    user::refresh_hosts(&containers.specs());
    Ok(0)
}

fn prune(ctx: &Ctx, a: PruneArgs) -> Result<i32> {
    if !a.force
        && !super::image::confirm(
            "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ",
        )
    {
        return Ok(0);
    }
    let deleted = prune_networks(ctx)?;
    if !deleted.is_empty() {
        print(&format!("Deleted Networks:\n{}\n", deleted.join("\n")));
    }
    Ok(0)
}

/// Removes every network no container is on; returns their names.
pub fn prune_networks(ctx: &Ctx) -> Result<Vec<String>> {
    let nets = Networks::open(&ctx.dirs.data)?;
    let specs = Containers::open(&ctx.dirs.data)?.specs();
    let mut deleted = Vec::new();
    for n in nets.list()? {
        if members(&n, &specs).is_empty() && nets.remove(&n, &specs).is_ok() {
            deleted.push(n.name);
        }
    }
    Ok(deleted)
}
