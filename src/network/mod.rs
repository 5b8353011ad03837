//! Container networking without privilege. A container on the default network has a
//! network namespace of its own, connected to the outside by a user-mode helper that
//! the shim starts once the namespace exists: `pasta` (package passt) when installed,
//! else `slirp4netns`. Published ports are the helper's port forwards.
//!
//! This module holds the pure rules (which mode, Docker's `-p` syntax, the files a
//! container's resolver reads); [`helper`] starts and stops the helper programs and
//! [`ports`] checks host ports before a container starts.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub mod helper;
pub mod holder;
pub mod netlink;
pub mod ports;
pub mod user;

pub use crate::runtime::spec::Network;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum NetworkError {
    #[error("invalid port specification {0:?}: want [HOSTIP:][HOSTPORT:]CONTAINERPORT[/tcp|/udp], ports 1-65535, ranges of equal length")]
    BadPort(String),
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// One published port, after ranges are expanded. `host_port` 0 means "any free port",
/// which `box run` replaces by a real one before the container starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub container_port: u16,
    pub proto: Proto,
}

impl PortMapping {
    /// Docker's `0.0.0.0:8080->80/tcp`, as `box ps` and `box port` show it.
    pub fn display(&self) -> String {
        let ip = self.host_ip.map_or_else(
            || "0.0.0.0".to_string(),
            |ip| match ip {
                IpAddr::V6(v6) => format!("[{v6}]"),
                v4 => v4.to_string(),
            },
        );
        format!(
            "{ip}:{}->{}/{}",
            self.host_port,
            self.container_port,
            self.proto.as_str()
        )
    }
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

/// `-p` in Docker's syntax: `[HOSTIP:][HOSTPORT:]CONTAINERPORT[/PROTO]`, each port
/// possibly a range `A-B`. A host range must be as long as the container range; a
/// missing host port means any free port for each container port.
pub fn parse_publish(spec: &str) -> Result<Vec<PortMapping>, NetworkError> {
    let bad = || NetworkError::BadPort(spec.to_string());
    let (addr, proto) = match spec.rsplit_once('/') {
        Some((a, "tcp")) => (a, Proto::Tcp),
        Some((a, "udp")) => (a, Proto::Udp),
        Some(_) => return Err(bad()),
        None => (spec, Proto::Tcp),
    };
    // An IPv6 host address comes in brackets: [::1]:8080:80.
    let (host_ip, rest) = if let Some(r) = addr.strip_prefix('[') {
        let (ip, rest) = r.split_once(']').ok_or_else(bad)?;
        let rest = rest.strip_prefix(':').ok_or_else(bad)?;
        (Some(ip.parse::<IpAddr>().map_err(|_| bad())?), rest)
    } else {
        let parts: Vec<&str> = addr.split(':').collect();
        match parts.as_slice() {
            [_] | [_, _] => (None, addr),
            [ip, h, c] => {
                let ip = if ip.is_empty() {
                    None
                } else {
                    Some(ip.parse::<IpAddr>().map_err(|_| bad())?)
                };
                (ip, &addr[addr.len() - h.len() - c.len() - 1..])
            }
            _ => return Err(bad()),
        }
    };
    let (host, container) = match rest.split_once(':') {
        Some((h, c)) => (h, c),
        None => ("", rest),
    };
    let range = |r: &str| -> Result<(u16, u16), NetworkError> {
        let (a, b) = r.split_once('-').unwrap_or((r, r));
        let a: u16 = a.parse().map_err(|_| bad())?;
        let b: u16 = b.parse().map_err(|_| bad())?;
        if a == 0 || b < a {
            return Err(bad());
        }
        Ok((a, b))
    };
    let (c0, c1) = range(container)?;
    let hosts: Vec<u16> = if host.is_empty() {
        vec![0; usize::from(c1 - c0) + 1]
    } else {
        let (h0, h1) = range(host)?;
        if h1 - h0 != c1 - c0 {
            return Err(bad());
        }
        (h0..=h1).collect()
    };
    Ok((c0..=c1)
        .zip(hosts)
        .map(|(c, h)| PortMapping {
            host_ip,
            host_port: h,
            container_port: c,
            proto,
        })
        .collect())
}

/// `-P`: every port the image exposes (`ExposedPorts` keys such as "80/tcp"), each on
/// any free host port.
pub fn exposed(ports: &[String]) -> Vec<PortMapping> {
    ports
        .iter()
        .filter_map(|p| parse_publish(p).ok())
        .flatten()
        .collect()
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

    fn p(s: &str) -> Vec<(Option<&'static str>, u16, u16, Proto)> {
        parse_publish(s)
            .unwrap()
            .into_iter()
            .map(|m| {
                (
                    m.host_ip
                        .map(|ip| &*Box::leak(ip.to_string().into_boxed_str())),
                    m.host_port,
                    m.container_port,
                    m.proto,
                )
            })
            .collect()
    }

    #[test]
    fn publish_syntax() {
        assert_eq!(p("8080:80"), vec![(None, 8080, 80, Proto::Tcp)]);
        assert_eq!(p("80"), vec![(None, 0, 80, Proto::Tcp)]);
        assert_eq!(p("53/udp"), vec![(None, 0, 53, Proto::Udp)]);
        assert_eq!(
            p("127.0.0.1:8080:80/udp"),
            vec![(Some("127.0.0.1"), 8080, 80, Proto::Udp)]
        );
        assert_eq!(
            p("127.0.0.1::80"),
            vec![(Some("127.0.0.1"), 0, 80, Proto::Tcp)]
        );
        assert_eq!(
            p("[::1]:8080:80"),
            vec![(Some("::1"), 8080, 80, Proto::Tcp)]
        );
        assert_eq!(
            p("8000-8001:90-91"),
            vec![(None, 8000, 90, Proto::Tcp), (None, 8001, 91, Proto::Tcp)]
        );
        assert_eq!(p("90-91").len(), 2);
        for bad in [
            "",
            "x",
            "80/sctp",
            "8000-8002:90-91",
            "0",
            "1:2:3:4",
            "nope:80:80",
            "70000",
        ] {
            assert!(parse_publish(bad).is_err(), "{bad}");
        }
        let m = &parse_publish("127.0.0.1:8080:80").unwrap()[0];
        assert_eq!(m.display(), "127.0.0.1:8080->80/tcp");
    }

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
