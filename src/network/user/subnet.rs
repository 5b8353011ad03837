//! IPv4 subnets for user networks: parsing `addr/prefix`, overlaps, the host
//! addresses a subnet offers, the first free 10.89.N.0/24, and the host's own routes
//! (which a new network must not shadow).
//!
//! Pure arithmetic and one read of `/proc/net/route`: it must not know about the
//! store or about containers.

use std::fs;
use std::net::Ipv4Addr;

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
    pub(super) fn hosts(self) -> impl Iterator<Item = Ipv4Addr> {
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
}
