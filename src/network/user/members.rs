//! A container's place on a user network: its `Attachment` (address, prefix,
//! gateway, interface name, aliases, and the MAC address that follows from the
//! address), a free address for a new member, and the next free `ethN`.
//!
//! It computes from records it is given: it must not read or write the store, nor
//! take its lock (the caller holds it while the address is handed out).

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::{UserNetwork, UserNetworkError};
use crate::runtime::spec::ContainerSpec;

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

#[cfg(test)]
mod tests {
    use super::*;

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
