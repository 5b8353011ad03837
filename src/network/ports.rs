//! Host ports, checked before a container starts: a port that is taken is a clear
//! error from `box run`, not a helper that fails later; a port left to chance (`-p 80`,
//! `-P`) is picked here, once, and recorded in the container's spec.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};

use thiserror::Error;

use super::{PortMapping, Proto};

#[derive(Debug, Error)]
pub enum PortError {
    #[error("Bind for {addr} failed: port is already allocated")]
    Taken { addr: SocketAddr },
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

fn addr(m: &PortMapping, port: u16) -> SocketAddr {
    SocketAddr::new(m.host_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)), port)
}

/// Binds the mapping's host port as the helper will, and reports the port bound (a
/// free one when it is 0). The socket is closed on return: the helper binds it next.
fn probe(m: &PortMapping, port: u16) -> Result<u16, PortError> {
    let a = addr(m, port);
    let res = match m.proto {
        Proto::Tcp => TcpListener::bind(a).and_then(|s| s.local_addr()),
        Proto::Udp => UdpSocket::bind(a).and_then(|s| s.local_addr()),
    };
    match res {
        Ok(local) => Ok(local.port()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(PortError::Taken { addr: a }),
        Err(source) => Err(PortError::Bind { addr: a, source }),
    }
}

/// Checks every host port, and picks free ones where none is given.
pub fn reserve(mappings: &mut [PortMapping]) -> Result<(), PortError> {
    for m in mappings.iter_mut() {
        m.host_port = probe(m, m.host_port)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taken_ports_are_refused_and_free_ones_picked() {
        let busy = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = busy.local_addr().unwrap().port();
        let mut m = vec![PortMapping {
            host_ip: Some("127.0.0.1".parse().unwrap()),
            host_port: port,
            container_port: 80,
            proto: Proto::Tcp,
        }];
        let e = reserve(&mut m).unwrap_err().to_string();
        assert_eq!(
            e,
            format!("Bind for 127.0.0.1:{port} failed: port is already allocated")
        );
        m[0].host_port = 0;
        reserve(&mut m).unwrap();
        assert_ne!(m[0].host_port, 0);
        // UDP on the same number is another port.
        let mut u = vec![PortMapping {
            proto: Proto::Udp,
            host_port: port,
            ..m[0].clone()
        }];
        reserve(&mut u).unwrap();
    }
}
