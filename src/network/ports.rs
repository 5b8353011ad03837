//! Published ports: Docker's `-p` syntax, and the host ports, chosen and checked before
//! a container starts. A port that is taken is a clear error from `box run`, not a
//! helper that fails later; a port left to chance (`-p 80`, `-P`, a host range) is
//! picked here, once, and recorded in the container's spec. What a helper cannot
//! forward is refused here as well, rather than published and silently dead:
//! Debian 12's pasta cannot forward UDP to another port number, and slirp4netns drops
//! a container's UDP answers to the host's loopback unless the host's loopback is
//! open to the container.
//!
//! A port found taken may be on its way out: a check waits for helpers being ended
//! first (see [`super::release`]).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::OwnedFd;
use std::path::Path;

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum PortError {
    #[error("invalid port specification {0:?}: want [HOSTIP:][HOSTPORT:]CONTAINERPORT[/tcp|/udp], ports 1-65535, a host range as long as the container range or for one container port")]
    BadSpec(String),
    #[error("Bind for {addr} failed: port is already allocated")]
    Taken { addr: SocketAddr },
    #[error("Bind for {ip}:{first}-{last} failed: every port in the range is already allocated")]
    RangeTaken { ip: String, first: u16, last: u16 },
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{flag} is not possible with pasta {version}: it cannot forward UDP to another port number{}", why.text(*container_port))]
    PastaUdp {
        flag: String,
        version: String,
        container_port: u16,
        why: SamePort,
    },
    #[error("{flag} is not possible with slirp4netns: it drops the container's UDP answers to clients on the host's loopback")]
    SlirpLoopbackUdp { flag: String, spec: String },
}

/// Why pasta cannot have a UDP port on the host's side of the same number.
#[derive(Debug)]
pub enum SamePort {
    /// The flag asks for another number.
    Asked,
    Taken,
    Denied(std::io::Error),
}

impl SamePort {
    fn text(&self, port: u16) -> String {
        match self {
            SamePort::Asked => String::new(),
            SamePort::Taken => format!(", and host port {port} is already allocated"),
            SamePort::Denied(e) => format!(", and host port {port} cannot be bound: {e}"),
        }
    }
}

impl PortError {
    /// The `hint:` line: what to type instead.
    pub fn hint(&self) -> Option<String> {
        match self {
            PortError::PastaUdp {
                container_port: c,
                why,
                ..
            } => Some(match why {
                SamePort::Asked => format!(
                    "publish it on the same port (-p {c}:{c}/udp) or use --network slirp4netns"
                ),
                SamePort::Taken => {
                    format!("free host port {c}, or use --network slirp4netns, which forwards UDP to any port")
                }
                SamePort::Denied(_) => format!(
                    "host ports below {} need root: use --network slirp4netns, which forwards UDP to any port",
                    unprivileged_port_start()
                ),
            }),
            PortError::SlirpLoopbackUdp { spec, .. } => Some(format!(
                "publish it on every address (-p {spec}) and reach it at the host's own address, or use pasta with the same port number on both sides"
            )),
            PortError::Bind { source, .. }
                if source.kind() == std::io::ErrorKind::PermissionDenied =>
            {
                Some(format!(
                    "host ports below {} need root (sysctl net.ipv4.ip_unprivileged_port_start): publish it on a higher host port",
                    unprivileged_port_start()
                ))
            }
            _ => None,
        }
    }
}

fn unprivileged_port_start() -> String {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "1024".into())
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

/// One published port, its host port chosen.
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
        format!(
            "{}->{}/{}",
            self.host(),
            self.container_port,
            self.proto.as_str()
        )
    }

    /// The host's side: `0.0.0.0:8080`, `[::1]:8080`.
    pub fn host(&self) -> String {
        let ip = match self.host_ip {
            None => "0.0.0.0".to_string(),
            Some(IpAddr::V6(v6)) => format!("[{v6}]"),
            Some(v4) => v4.to_string(),
        };
        format!("{ip}:{}", self.host_port)
    }
}

/// One port as `-p` or `-P` asks for it, before its host port is chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRequest {
    pub host_ip: Option<IpAddr>,
    /// The range the host port may come from (one port when both ends are equal);
    /// `None` for any free port.
    pub host: Option<(u16, u16)>,
    pub container_port: u16,
    pub proto: Proto,
    /// The flag as given (`-p 5353:53/udp`, `-P (53/udp)`), for errors.
    pub flag: String,
}

/// `A` or `A-B`, ports 1-65535.
fn port_range(r: &str) -> Option<(u16, u16)> {
    let (a, b) = r.split_once('-').unwrap_or((r, r));
    let a: u16 = a.parse().ok()?;
    let b: u16 = b.parse().ok()?;
    (a != 0 && b >= a).then_some((a, b))
}

/// `PORT[/PROTO]`, a port or a range: what `EXPOSE` and `--expose` say.
fn port_proto(s: &str) -> Option<((u16, u16), Proto)> {
    let (ports, proto) = match s.rsplit_once('/') {
        Some((p, "tcp")) => (p, Proto::Tcp),
        Some((p, "udp")) => (p, Proto::Udp),
        Some(_) => return None,
        None => (s, Proto::Tcp),
    };
    Some((port_range(ports)?, proto))
}

/// `-p` in Docker's syntax: `[HOSTIP:][HOSTPORT:]CONTAINERPORT[/PROTO]`, each port
/// possibly a range `A-B`. A host range as long as the container range maps port to
/// port; a host range for one container port gives it one free port from the range; a
/// missing host port means any free port for each container port.
pub fn parse_publish(spec: &str) -> Result<Vec<PortRequest>, PortError> {
    let bad = || PortError::BadSpec(spec.to_string());
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
    let (c0, c1) = port_range(container).ok_or_else(bad)?;
    let hosts: Vec<Option<(u16, u16)>> = if host.is_empty() {
        vec![None; usize::from(c1 - c0) + 1]
    } else {
        let (h0, h1) = port_range(host).ok_or_else(bad)?;
        if c0 == c1 {
            vec![Some((h0, h1))]
        } else if h1 - h0 == c1 - c0 {
            (h0..=h1).map(|h| Some((h, h))).collect()
        } else {
            return Err(bad());
        }
    };
    Ok((c0..=c1)
        .zip(hosts)
        .map(|(c, host)| PortRequest {
            host_ip,
            host,
            container_port: c,
            proto,
            flag: format!("-p {spec}"),
        })
        .collect())
}

/// `--expose PORT[/PROTO]` (a port or a range): the keys it adds to the image's
/// ExposedPorts, as `80/tcp`.
pub fn parse_expose(spec: &str) -> Result<Vec<String>, PortError> {
    let ((a, b), proto) = port_proto(spec).ok_or_else(|| PortError::BadSpec(spec.to_string()))?;
    Ok((a..=b).map(|p| format!("{p}/{}", proto.as_str())).collect())
}

/// `-P`: every port exposed (ExposedPorts keys such as "80/tcp"), each on any free
/// host port.
pub fn exposed(keys: &[String]) -> Vec<PortRequest> {
    keys.iter()
        .filter_map(|k| port_proto(k))
        .flat_map(|((a, b), proto)| {
            (a..=b).map(move |c| PortRequest {
                host_ip: None,
                host: None,
                container_port: c,
                proto,
                flag: format!("-P ({c}/{})", proto.as_str()),
            })
        })
        .collect()
}

/// Which helper forwards the ports: what it can forward decides which host ports a
/// request may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forwarder {
    Pasta,
    Slirp4netns { host_loopback: bool },
}

/// The host ports a request may have, under `fwd`.
fn candidates(r: &PortRequest, fwd: Forwarder) -> Result<Option<(u16, u16)>, PortError> {
    let c = r.container_port;
    match (fwd, r.proto) {
        (Forwarder::Pasta, Proto::Udp) => match r.host {
            None => Ok(Some((c, c))),
            Some((a, b)) if a <= c && c <= b => Ok(Some((c, c))),
            Some(_) => Err(pasta_udp(r, SamePort::Asked)),
        },
        (
            Forwarder::Slirp4netns {
                host_loopback: false,
            },
            Proto::Udp,
        ) if r.host_ip.is_some_and(|ip| ip.is_loopback()) => {
            let host = match r.host {
                Some((a, b)) if a == b => format!("{a}:"),
                Some((a, b)) => format!("{a}-{b}:"),
                None => String::new(),
            };
            Err(PortError::SlirpLoopbackUdp {
                flag: r.flag.clone(),
                spec: format!("{host}{c}/udp"),
            })
        }
        _ => Ok(r.host),
    }
}

fn pasta_udp(r: &PortRequest, why: SamePort) -> PortError {
    PortError::PastaUdp {
        flag: r.flag.clone(),
        version: super::helper::pasta_version(),
        container_port: r.container_port,
        why,
    }
}

/// A probe's socket, held until every port of a container is chosen, so that two
/// requests never get the same port.
type Held = OwnedFd;

/// Binds `port` as the helper will (0: any free one); the socket and the port bound.
pub(crate) fn probe(ip: Option<IpAddr>, port: u16, proto: Proto) -> Result<(Held, u16), PortError> {
    let a = SocketAddr::new(ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)), port);
    let res = match proto {
        Proto::Tcp => TcpListener::bind(a).and_then(|s| Ok((s.local_addr()?.port(), s.into()))),
        Proto::Udp => UdpSocket::bind(a).and_then(|s| Ok((s.local_addr()?.port(), s.into()))),
    };
    match res {
        Ok((port, held)) => Ok((held, port)),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(PortError::Taken { addr: a }),
        Err(source) => Err(PortError::Bind { addr: a, source }),
    }
}

/// The first free port of `range` (any when `None`).
fn pick(
    ip: Option<IpAddr>,
    range: Option<(u16, u16)>,
    proto: Proto,
) -> Result<(Held, u16), PortError> {
    let Some((a, b)) = range else {
        return probe(ip, 0, proto);
    };
    if a == b {
        return probe(ip, a, proto);
    }
    let mut other = None;
    for p in a..=b {
        match probe(ip, p, proto) {
            Ok(x) => return Ok(x),
            Err(PortError::Taken { .. }) => {}
            Err(e) => {
                other.get_or_insert(e);
            }
        }
    }
    Err(other.unwrap_or_else(|| PortError::RangeTaken {
        ip: ip.map_or_else(|| "0.0.0.0".into(), |i| i.to_string()),
        first: a,
        last: b,
    }))
}

fn taken(e: &PortError) -> bool {
    matches!(e, PortError::Taken { .. } | PortError::RangeTaken { .. })
}

/// `attempt`, and once more (once per command: `waited`) after the helpers that are
/// releasing ports have let them go, if it found a port taken.
fn retry_once_released<T>(
    waited: &mut bool,
    runtime_root: &Path,
    mut attempt: impl FnMut() -> Result<T, PortError>,
) -> Result<T, PortError> {
    match attempt() {
        Err(e) if taken(&e) && !*waited => {
            *waited = true;
            super::release::wait_released(runtime_root);
            attempt()
        }
        r => r,
    }
}

/// Chooses a host port for every request, as `fwd` can forward it; `runtime_root` is
/// where the shims mark helpers still releasing their ports.
pub fn reserve(
    reqs: &[PortRequest],
    fwd: Forwarder,
    runtime_root: &Path,
) -> Result<Vec<PortMapping>, PortError> {
    let mut held = Vec::new();
    let mut out = Vec::new();
    let mut waited = false;
    for r in reqs {
        let range = candidates(r, fwd)?;
        let picked = retry_once_released(&mut waited, runtime_root, || {
            pick(r.host_ip, range, r.proto)
        });
        let (sock, port) = match picked {
            Ok(x) => x,
            // pasta's only choice was the container's own port number.
            Err(e) if range != r.host && fwd == Forwarder::Pasta => {
                return Err(pasta_udp(
                    r,
                    match e {
                        PortError::Bind { source, .. } => SamePort::Denied(source),
                        _ => SamePort::Taken,
                    },
                ))
            }
            Err(e) => return Err(e),
        };
        held.push(sock);
        out.push(PortMapping {
            host_ip: r.host_ip,
            host_port: port,
            container_port: r.container_port,
            proto: r.proto,
        });
    }
    Ok(out)
}

/// Checks that every host port of `mappings` is free, as a helper is about to bind
/// them (a container started again, or one whose port was taken since `box run`).
pub fn check(mappings: &[PortMapping], runtime_root: &Path) -> Result<(), PortError> {
    let mut held = Vec::new();
    let mut waited = false;
    for m in mappings {
        let (sock, _) = retry_once_released(&mut waited, runtime_root, || {
            probe(m.host_ip, m.host_port, m.proto)
        })?;
        held.push(sock);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request as (host address, host range, container port, protocol).
    type Parsed = (Option<String>, Option<(u16, u16)>, u16, Proto);

    fn p(s: &str) -> Vec<Parsed> {
        parse_publish(s)
            .unwrap()
            .into_iter()
            .map(|r| {
                (
                    r.host_ip.map(|ip| ip.to_string()),
                    r.host,
                    r.container_port,
                    r.proto,
                )
            })
            .collect()
    }

    #[test]
    fn publish_syntax() {
        let ip = |s: &str| Some(s.to_string());
        assert_eq!(
            p("8080:80"),
            vec![(None, Some((8080, 8080)), 80, Proto::Tcp)]
        );
        assert_eq!(p("80"), vec![(None, None, 80, Proto::Tcp)]);
        assert_eq!(p("53/udp"), vec![(None, None, 53, Proto::Udp)]);
        assert_eq!(
            p("127.0.0.1:8080:80/udp"),
            vec![(ip("127.0.0.1"), Some((8080, 8080)), 80, Proto::Udp)]
        );
        assert_eq!(
            p("127.0.0.1::80"),
            vec![(ip("127.0.0.1"), None, 80, Proto::Tcp)]
        );
        assert_eq!(
            p("[::1]:8080:80"),
            vec![(ip("::1"), Some((8080, 8080)), 80, Proto::Tcp)]
        );
        assert_eq!(
            p("8000-8001:90-91"),
            vec![
                (None, Some((8000, 8000)), 90, Proto::Tcp),
                (None, Some((8001, 8001)), 91, Proto::Tcp)
            ]
        );
        // One container port, a host range: one free port of the range.
        assert_eq!(
            p("127.0.0.1:8000-8010:80/udp"),
            vec![(ip("127.0.0.1"), Some((8000, 8010)), 80, Proto::Udp)]
        );
        assert_eq!(p("90-91").len(), 2);
        for bad in [
            "",
            "x",
            "80/sctp",
            "8000-8002:90-91",
            "8000:90-91",
            "0",
            "1:2:3:4",
            "nope:80:80",
            "70000",
            "90-80",
        ] {
            assert!(parse_publish(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_publish("5353:53/udp").unwrap()[0].flag,
            "-p 5353:53/udp"
        );
    }

    #[test]
    fn expose_and_publish_all() {
        assert_eq!(parse_expose("80").unwrap(), vec!["80/tcp"]);
        assert_eq!(
            parse_expose("7000-7001/udp").unwrap(),
            vec!["7000/udp", "7001/udp"]
        );
        assert!(parse_expose("80/sctp").is_err());
        assert!(parse_expose("1:80").is_err());
        let all = exposed(&["53/udp".into(), "80/tcp".into(), "junk".into()]);
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].flag, "-P (53/udp)");
        assert_eq!(all[0].host, None);
    }

    fn req(spec: &str) -> PortRequest {
        parse_publish(spec).unwrap().remove(0)
    }

    #[test]
    fn what_each_helper_forwards() {
        let slirp = Forwarder::Slirp4netns {
            host_loopback: false,
        };
        // pasta: UDP on the container's own port number, or not at all.
        assert_eq!(
            candidates(&req("53/udp"), Forwarder::Pasta).unwrap(),
            Some((53, 53))
        );
        assert_eq!(
            candidates(&req("50-60:53/udp"), Forwarder::Pasta).unwrap(),
            Some((53, 53))
        );
        let e = candidates(&req("5353:53/udp"), Forwarder::Pasta).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("-p 5353:53/udp is not possible with pasta ")
                && e.to_string()
                    .ends_with(": it cannot forward UDP to another port number"),
            "{e}"
        );
        assert_eq!(
            e.hint().unwrap(),
            "publish it on the same port (-p 53:53/udp) or use --network slirp4netns"
        );
        assert!(candidates(&req("60-70:53/udp"), Forwarder::Pasta).is_err());
        assert_eq!(
            candidates(&req("5353:53"), Forwarder::Pasta).unwrap(),
            Some((5353, 5353))
        );
        // slirp4netns: any port, but not UDP for the host's loopback alone.
        assert_eq!(
            candidates(&req("5353:53/udp"), slirp).unwrap(),
            Some((5353, 5353))
        );
        let e = candidates(&req("127.0.0.1:5353:53/udp"), slirp).unwrap_err();
        assert_eq!(e.to_string(), "-p 127.0.0.1:5353:53/udp is not possible with slirp4netns: it drops the container's UDP answers to clients on the host's loopback");
        assert!(
            e.hint().unwrap().contains("-p 5353:53/udp"),
            "{:?}",
            e.hint()
        );
        let open = Forwarder::Slirp4netns {
            host_loopback: true,
        };
        assert!(candidates(&req("127.0.0.1:5353:53/udp"), open).is_ok());
        assert!(candidates(&req("127.0.0.1:5353:53"), slirp).is_ok());
    }

    #[test]
    fn taken_ports_are_refused_and_free_ones_picked() {
        let none = Path::new("/nonexistent");
        let slirp = Forwarder::Slirp4netns {
            host_loopback: false,
        };
        let busy = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = busy.local_addr().unwrap().port();
        let e = reserve(&[req(&format!("127.0.0.1:{port}:80"))], slirp, none)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!("Bind for 127.0.0.1:{port} failed: port is already allocated")
        );
        let m = reserve(&[req("127.0.0.1::80")], slirp, none).unwrap();
        assert_ne!(m[0].host_port, 0);
        // UDP on the same number is another port.
        reserve(&[req(&format!("{port}:80/udp"))], slirp, none).unwrap();
        // A range: the busy port is skipped.
        let next = port.checked_add(1).unwrap();
        let m = reserve(&[req(&format!("127.0.0.1:{port}-{next}:80"))], slirp, none);
        if let Ok(m) = m {
            assert_eq!(m[0].host_port, next);
        }
        let e = reserve(&[req(&format!("127.0.0.1:{port}-{port}:80"))], slirp, none).unwrap_err();
        assert!(taken(&e), "{e}");
        // Two requests never get the same port.
        let two = reserve(&[req("127.0.0.1::80"), req("127.0.0.1::81")], slirp, none).unwrap();
        assert_ne!(two[0].host_port, two[1].host_port);
        let free = two[0].host_port;
        drop(two);
        let twice = format!("127.0.0.1:{free}:80");
        let e = reserve(&[req(&twice), req(&twice)], slirp, none).unwrap_err();
        assert!(taken(&e), "one host port for two container ports: {e}");
    }
}
