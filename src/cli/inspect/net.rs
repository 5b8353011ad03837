//! `NetworkSettings` of `box inspect`, as Docker's: one entry under `Networks` per
//! network the container is on (its user networks, else its `--network` mode; none
//! for `container:NAME`), addresses only while it runs (a stopped container of
//! Docker's has none either), and the top-level `IPAddress`, `Gateway`, ... of the
//! default network, which for box is the container's own pasta or slirp4netns.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde_json::{json, Map, Value};

use boxc::container::{State, Status};
use boxc::network::helper;
use boxc::runtime::spec::{ContainerSpec, Network};

/// One endpoint's address, as Docker shows it.
#[derive(Default)]
struct Address {
    ip: String,
    prefix: u8,
    gateway: String,
    mac: String,
}

pub fn settings(spec: &ContainerSpec, st: &State) -> Value {
    let pid = st.pid.filter(|_| st.status == Status::Running);
    let running = pid.is_some();
    let default = match running && spec.networks.is_empty() {
        true => default_address(spec.network),
        false => Address::default(),
    };
    json!({
        "Bridge": "",
        "SandboxID": "",
        "SandboxKey": pid.map(|p| format!("/proc/{p}/ns/net")).unwrap_or_default(),
        "Ports": if running { ports(spec) } else { json!({}) },
        "HairpinMode": false,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "SecondaryIPAddresses": null,
        "SecondaryIPv6Addresses": null,
        "EndpointID": "",
        "Gateway": default.gateway,
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "IPAddress": default.ip,
        "IPPrefixLen": default.prefix,
        "IPv6Gateway": "",
        "MacAddress": default.mac,
        "Networks": networks(spec, running, &default),
    })
}

/// Where the container's ports are published, while it runs: every exposed port,
/// null when not published (Docker's `{"80/tcp": null}`).
fn ports(spec: &ContainerSpec) -> Value {
    let mut map: BTreeMap<String, Value> = super::config::exposed_ports(spec)
        .into_iter()
        .map(|p| (p, Value::Null))
        .collect();
    if let Value::Object(published) = super::config::port_bindings(spec, "0.0.0.0") {
        map.extend(published);
    }
    json!(map)
}

/// The address of the container's own user-mode network: what slirp4netns
/// configures, or what pasta copies from the host (its address on the interface of
/// the default route, and the host's gateway). MAC addresses are the kernel's choice
/// inside the container: not known here.
fn default_address(mode: Network) -> Address {
    match mode {
        Network::Slirp4netns => Address {
            ip: helper::SLIRP_ADDRESS.into(),
            prefix: 24,
            gateway: helper::SLIRP_GATEWAY.into(),
            mac: String::new(),
        },
        Network::Pasta => {
            let route = helper::default_route();
            let (ip, prefix) = route
                .as_ref()
                .and_then(|(iface, _)| host_address(iface))
                .unwrap_or((Ipv4Addr::UNSPECIFIED, 0));
            Address {
                ip: if prefix == 0 {
                    String::new()
                } else {
                    ip.to_string()
                },
                prefix,
                gateway: route.map(|(_, g)| g.to_string()).unwrap_or_default(),
                mac: String::new(),
            }
        }
        Network::None | Network::Host | Network::Container => Address::default(),
    }
}

/// The host's IPv4 address and prefix on `iface` (that of its default route).
fn host_address(iface: &str) -> Option<(Ipv4Addr, u8)> {
    nix::ifaddrs::getifaddrs().ok()?.find_map(|a| {
        if a.interface_name != iface {
            return None;
        }
        let ip = a.address?.as_sockaddr_in()?.ip();
        let mask = a.netmask?.as_sockaddr_in()?.ip();
        Some((ip, u32::from(mask).count_ones() as u8))
    })
}

/// Docker's endpoint settings, one per network.
/// `default` is the address on the container's own network (see [`settings`]).
fn networks(spec: &ContainerSpec, running: bool, default: &Address) -> Value {
    let short = &spec.id[..12];
    let mut map = Map::new();
    for a in &spec.networks {
        let mut aliases = a.aliases.clone();
        aliases.push(short.to_string());
        let mut dns_names = vec![spec.name.clone()];
        dns_names.extend(a.aliases.iter().cloned());
        dns_names.push(short.to_string());
        let addr = if running {
            Address {
                ip: a.ip.to_string(),
                prefix: a.prefix,
                gateway: a.gateway.to_string(),
                mac: a.mac_string(),
            }
        } else {
            Address::default()
        };
        let links: Vec<String> = spec
            .links
            .iter()
            .map(|l| format!("{}:{}", &l.container_id[..12], l.alias))
            .collect();
        map.insert(
            a.network.clone(),
            endpoint(
                &addr,
                &a.network_id,
                json!(aliases),
                if links.is_empty() {
                    Value::Null
                } else {
                    json!(links)
                },
                if running {
                    json!(dns_names)
                } else {
                    Value::Null
                },
            ),
        );
    }
    if spec.networks.is_empty() && spec.net_container.is_none() {
        map.insert(
            spec.network.as_str().to_string(),
            endpoint(default, "", Value::Null, Value::Null, Value::Null),
        );
    }
    Value::Object(map)
}

fn endpoint(addr: &Address, network_id: &str, aliases: Value, links: Value, dns: Value) -> Value {
    json!({
        "IPAMConfig": null,
        "Links": links,
        "Aliases": aliases,
        "MacAddress": addr.mac,
        "DriverOpts": null,
        "NetworkID": network_id,
        "EndpointID": "",
        "Gateway": addr.gateway,
        "IPAddress": addr.ip,
        "IPPrefixLen": addr.prefix,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "DNSNames": dns,
    })
}
