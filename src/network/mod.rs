//! Container networking without privilege. A container on the default network has a
//! network namespace of its own, connected to the outside by a user-mode helper that
//! the shim starts once the namespace exists: `pasta` (package passt) when installed,
//! else `slirp4netns`. Published ports are the helper's port forwards.
//!
//! This module holds the pure rules (which mode, the files a container's resolver
//! reads); [`helper`] starts and stops the helper programs and [`ports`] parses `-p`
//! and chooses and checks host ports before a container starts.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub mod helper;
pub mod holder;
pub mod netlink;
pub mod ports;
pub mod release;
pub mod user;

pub use crate::runtime::spec::Network;
pub use ports::{parse_publish, PortMapping, PortRequest, Proto};

#[derive(Debug, Error, PartialEq, Eq)]
pub enum NetworkError {
    #[error("network {0} not found")]
    UnknownNetwork(String),
    #[error("invalid --add-host {0:?}: want NAME:IP or NAME:host-gateway")]
    BadHost(String),
    #[error("invalid --dns server {0:?}: want an IP address")]
    BadDns(String),
    #[error("{0} is not installed: install the passt package (pasta) or slirp4netns for container networking, or use --network none")]
    NoHelper(&'static str),
    #[error(
        "ports and DNS settings need a network of the container's own; --network {0} has none"
    )]
    NotPrivate(&'static str),
    #[error("pasta does not run as root (it drops to nobody, who cannot join the container's namespaces): use --network slirp4netns")]
    PastaAsRoot,
}

/// Which network `--network` asks for, with the helper that is installed. pasta will
/// not run as root (it turns itself into `nobody`, who cannot join the container's
/// namespaces), so root's default is slirp4netns.
pub fn parse_mode(
    s: &str,
    available: &dyn Fn(&str) -> bool,
    root: bool,
) -> Result<Network, NetworkError> {
    let available = |p: &str| available(p) && !(root && p == "pasta");
    match s {
        "none" => Ok(Network::None),
        "host" => Ok(Network::Host),
        "pasta" if root => Err(NetworkError::PastaAsRoot),
        "pasta" if available("pasta") => Ok(Network::Pasta),
        "pasta" => Err(NetworkError::NoHelper("pasta")),
        "slirp4netns" if available("slirp4netns") => Ok(Network::Slirp4netns),
        "slirp4netns" => Err(NetworkError::NoHelper("slirp4netns")),
        "" | "default" | "bridge" | "private" => {
            if available("pasta") {
                Ok(Network::Pasta)
            } else if available("slirp4netns") {
                Ok(Network::Slirp4netns)
            } else {
                Err(NetworkError::NoHelper("pasta"))
            }
        }
        s if s.starts_with("container:") && s.len() > "container:".len() => Ok(Network::Container),
        other => Err(NetworkError::UnknownNetwork(other.to_string())),
    }
}

/// One `--add-host NAME:IP` (or `NAME:host-gateway`), Docker's syntax (also `NAME=IP`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraHost {
    pub name: String,
    /// `None` for host-gateway: the address that leads to the host.
    pub ip: Option<IpAddr>,
}

pub fn parse_add_host(s: &str) -> Result<ExtraHost, NetworkError> {
    let bad = || NetworkError::BadHost(s.to_string());
    let (name, ip) = s
        .split_once('=')
        .or_else(|| s.split_once(':'))
        .ok_or_else(bad)?;
    if name.is_empty() {
        return Err(bad());
    }
    let ip = match ip {
        "host-gateway" => None,
        ip => Some(ip.trim_matches(['[', ']']).parse().map_err(|_| bad())?),
    };
    Ok(ExtraHost {
        name: name.to_string(),
        ip,
    })
}

/// What a container's resolver reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dns {
    pub servers: Vec<IpAddr>,
    pub search: Vec<String>,
    pub options: Vec<String>,
}

/// The container's `/etc/resolv.conf`: `--dns` servers if given, else the helper's
/// forwarder (pasta, slirp4netns), else the host's own (host network); the host's
/// search domains unless `--dns-search` says otherwise.
pub fn resolv_conf(host: &str, dns: &Dns, forwarder: Option<IpAddr>) -> String {
    let mut out = String::new();
    let host_search: Vec<&str> = host
        .lines()
        .filter_map(|l| l.strip_prefix("search "))
        .flat_map(str::split_whitespace)
        .collect();
    let search: Vec<&str> = if dns.search.is_empty() {
        host_search
    } else {
        dns.search
            .iter()
            .map(String::as_str)
            .filter(|s| *s != ".")
            .collect()
    };
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    if !dns.servers.is_empty() {
        for s in &dns.servers {
            out.push_str(&format!("nameserver {s}\n"));
        }
    } else if let Some(f) = forwarder {
        out.push_str(&format!("nameserver {f}\n"));
    } else {
        for l in host.lines().filter(|l| l.starts_with("nameserver ")) {
            out.push_str(l);
            out.push('\n');
        }
    }
    let opts: Vec<&str> = if dns.options.is_empty() {
        host.lines()
            .filter_map(|l| l.strip_prefix("options "))
            .flat_map(str::split_whitespace)
            .collect()
    } else {
        dns.options.iter().map(String::as_str).collect()
    };
    if !opts.is_empty() {
        out.push_str(&format!("options {}\n", opts.join(" ")));
    }
    out
}

/// The container's `/etc/hosts`: loopback names, its own hostname, then `--add-host`
/// entries (host-gateway resolved to `gateway`).
pub fn hosts_file(hostname: &str, extra: &[ExtraHost], gateway: Option<IpAddr>) -> String {
    let mut out = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    out.push_str(&format!("127.0.1.1\t{hostname}\n"));
    for h in extra {
        if let Some(ip) = h.ip.or(gateway) {
            out.push_str(&format!("{ip}\t{}\n", h.name));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        let both = |_: &str| true;
        let slirp_only = |p: &str| p == "slirp4netns";
        let neither = |_: &str| false;
        assert_eq!(parse_mode("", &both, false), Ok(Network::Pasta));
        assert_eq!(
            parse_mode("", &both, true),
            Ok(Network::Slirp4netns),
            "root"
        );
        assert_eq!(
            parse_mode("pasta", &both, true),
            Err(NetworkError::PastaAsRoot)
        );
        assert_eq!(
            parse_mode("bridge", &slirp_only, false),
            Ok(Network::Slirp4netns)
        );
        assert_eq!(parse_mode("none", &neither, false), Ok(Network::None));
        assert_eq!(
            parse_mode("pasta", &slirp_only, false),
            Err(NetworkError::NoHelper("pasta"))
        );
        assert!(matches!(
            parse_mode("default", &neither, false),
            Err(NetworkError::NoHelper(_))
        ));
        assert!(matches!(
            parse_mode("mynet", &both, false),
            Err(NetworkError::UnknownNetwork(_))
        ));
    }

    #[test]
    fn resolver_files() {
        let host = "search lan\nnameserver 127.0.0.53\noptions edns0\n";
        let fwd: IpAddr = "169.254.1.1".parse().unwrap();
        assert_eq!(
            resolv_conf(host, &Dns::default(), Some(fwd)),
            "search lan\nnameserver 169.254.1.1\noptions edns0\n"
        );
        let dns = Dns {
            servers: vec!["9.9.9.9".parse().unwrap()],
            search: vec!["example.com".into()],
            options: vec!["ndots:2".into()],
        };
        assert_eq!(
            resolv_conf(host, &dns, Some(fwd)),
            "search example.com\nnameserver 9.9.9.9\noptions ndots:2\n"
        );
        assert_eq!(
            resolv_conf(host, &Dns::default(), None),
            "search lan\nnameserver 127.0.0.53\noptions edns0\n"
        );
        let extra = vec![
            parse_add_host("db:10.0.0.5").unwrap(),
            parse_add_host("host.docker.internal:host-gateway").unwrap(),
        ];
        let hosts = hosts_file("abc", &extra, Some("192.0.2.1".parse().unwrap()));
        assert!(hosts.contains("127.0.1.1\tabc\n"));
        assert!(hosts.contains("10.0.0.5\tdb\n"));
        assert!(hosts.contains("192.0.2.1\thost.docker.internal\n"));
        assert!(parse_add_host("nocolon").is_err());
        assert!(parse_add_host("x:notanip").is_err());
    }
}
