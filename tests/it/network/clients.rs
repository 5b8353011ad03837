//! The client address a server in the container sees, over TCP and UDP, on each
//! helper: from the host's loopback, from the host's own address, and from another
//! host (a network namespace joined to the host by a veth pair, `Peer`).

use super::{
    debian, fetch, fetch_from, free_port, helpers, host_address, tcp_peer_server, udp_echo,
    udp_echo_container,
};
use crate::harness::*;

/// A network namespace standing in for another host, joined to the host by a veth
/// pair (tests run as root). Removed on drop.
struct Peer {
    ns: String,
    /// The host's address on the link, and the peer's.
    host: String,
    addr: String,
}

impl Peer {
    fn new() -> Peer {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 60;
        let id = format!("{}x{n}", std::process::id() % 100_000);
        let ns = format!("boxtest-peer-{id}");
        let (a, b) = (format!("bxp{id}a"), format!("bxp{id}b"));
        // 198.18.0.0/15 is for benchmarks and tests (RFC 2544); one /30 per peer.
        let net = std::process::id() % 250;
        let (host, addr) = (
            format!("198.18.{net}.{}", 4 * n + 1),
            format!("198.18.{net}.{}", 4 * n + 2),
        );
        let ip = |args: &[&str]| {
            let o = std::process::Command::new("ip")
                .args(args)
                .output()
                .unwrap();
            assert!(o.status.success(), "ip {args:?}: {o:?}");
        };
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &ns])
            .output();
        ip(&["netns", "add", &ns]);
        let peer = Peer { ns, host, addr };
        ip(&[
            "link", "add", &a, "type", "veth", "peer", "name", &b, "netns", &peer.ns,
        ]);
        ip(&["addr", "add", &format!("{}/30", peer.host), "dev", &a]);
        ip(&["link", "set", &a, "up"]);
        ip(&[
            "-n",
            &peer.ns,
            "addr",
            "add",
            &format!("{}/30", peer.addr),
            "dev",
            &b,
        ]);
        ip(&["-n", &peer.ns, "link", "set", &b, "up"]);
        ip(&["-n", &peer.ns, "link", "set", "lo", "up"]);
        peer
    }

    /// A line to `port` on the host's link address, from the peer, over TCP: the answer.
    fn tcp_ask(&self, port: u16) -> String {
        let script = format!(
            "exec 3<>/dev/tcp/{}/{port} && echo ping >&3 && timeout 10 cat <&3",
            self.host
        );
        let o = std::process::Command::new("ip")
            .args(["netns", "exec", &self.ns, "bash", "-c", &script])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// A UDP datagram from the peer to `port` on the host's link address: the answer.
    fn udp_ask(&self, port: u16) -> Option<String> {
        let script = format!(
            "import socket, time\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.settimeout(0.3)\nend = time.time() + 15\nwhile time.time() < end:\n    s.sendto(b'datagram', ('{}', {port}))\n    try:\n        print(s.recvfrom(200)[0].decode()); break\n    except OSError:\n        pass\n",
            self.host
        );
        let o = std::process::Command::new("ip")
            .args(["netns", "exec", &self.ns, "python3", "-c", &script])
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout).trim().to_string();
        (!out.is_empty()).then_some(out)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // The veth pair goes with the namespace.
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.ns])
            .output();
    }
}

/// What a server in the container sees as its client's address (README, Network):
/// pasta keeps another host's address (TCP and UDP) and shows loopback clients as
/// 127.0.0.1; slirp4netns keeps a client's non-loopback address and shows loopback
/// clients as its gateway, 10.0.2.2.
fn client_addresses(user: User) {
    let sb = Sandbox::new(user);
    let host = host_address();
    for &net in helpers(user) {
        let (tcp, udp) = (free_port(), free_port());
        let tcp_name = format!("tcp-{net}");
        sb.ok(&[
            "run",
            "-d",
            "--name",
            &tcp_name,
            "--network",
            net,
            "-p",
            &format!("{tcp}:8080"),
            &debian(),
            "perl",
            "-e",
            &tcp_peer_server(8080),
        ]);
        assert_eq!(
            fetch(tcp),
            if net == "pasta" {
                "peer:127.0.0.1\n"
            } else {
                "peer:10.0.2.2\n"
            },
            "{net}"
        );
        if net == "slirp4netns" {
            assert_eq!(fetch_from(&host, tcp), format!("peer:{host}\n"), "{net}");
        } else {
            // pasta from another host: the client's address, once the client has sent
            // something (this pasta completes the container's handshake only then).
            let peer = Peer::new();
            assert_eq!(peer.tcp_ask(tcp), format!("peer:{}\n", peer.addr), "{net}");
        }
        // UDP: pasta on the same port number, answered from the host's loopback and
        // from another host; slirp4netns from the host's own address.
        let inside = if net == "pasta" { udp } else { 53 };
        let udp_name = format!("udp-{net}");
        let publish = format!("{udp}:{inside}/udp");
        udp_echo_container(&sb, &udp_name, &["--network", net, "-p", &publish], inside);
        if net == "pasta" {
            assert_eq!(udp_echo("127.0.0.1", udp), "echo:datagram:127.0.0.1");
            let peer = Peer::new();
            assert_eq!(
                peer.udp_ask(udp).as_deref(),
                Some(&*format!("echo:datagram:{}", peer.addr)),
                "pasta keeps another host's address"
            );
        } else {
            assert_eq!(udp_echo(&host, udp), format!("echo:datagram:{host}"));
        }
        sb.ok(&["rm", "-f", &tcp_name, &udp_name]);
    }
}
per_user!(client_addresses, client_addresses);
