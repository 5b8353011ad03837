//! Container networking through the user-mode helpers (pasta, slirp4netns): egress,
//! DNS, the host's loopback only when asked, the host's network, what `box info` says,
//! the client address a server sees, and no process of box's left behind. Published
//! ports are `ports.rs`'s.
//!
//! This module holds the helpers these tests share with `ports.rs` (images, the
//! helpers a user may run, TCP and UDP clients and servers, free ports); the tests
//! themselves are in the submodules: egress and DNS (`egress`), the host's loopback
//! and `--network host` (`host`), the helper chosen and what it sets and leaves
//! behind (`helper`), and the client addresses servers see (`clients`). No test
//! belongs here.

mod clients;
mod egress;
mod helper;
mod host;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use crate::harness::*;

pub fn debian() -> String {
    if !debian_available() {
        panic!("the Debian fixture is missing: tests/run.sh builds it with mmdebstrap");
    }
    image("debian:bookworm")
}

/// The helpers a user can use: pasta will not run as root.
pub fn helpers(user: User) -> &'static [&'static str] {
    if user == User::Root {
        &["slirp4netns"]
    } else {
        &["pasta", "slirp4netns"]
    }
}

pub fn pid_of(sb: &Sandbox, name: &str) -> i64 {
    let v: serde_json::Value = serde_json::from_str(&sb.ok(&["inspect", name]).stdout()).unwrap();
    v[0]["State"]["Pid"].as_i64().unwrap()
}

/// What a TCP server at `addr:port` says, retried while the container's server starts.
pub fn fetch_from(addr: &str, port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(mut s) = TcpStream::connect((addr, port)) {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let _ = s.write_all(b"ping\n");
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            if !out.is_empty() {
                return out;
            }
        }
        assert!(
            Instant::now() < deadline,
            "nothing answered on {addr}:{port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn fetch(port: u16) -> String {
    fetch_from("127.0.0.1", port)
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs container NAME (detached, with `flags`) of Debian's perl answering UDP on port
/// `inside` (busybox's nc has no UDP), `echo:MESSAGE:CLIENT-ADDRESS`.
pub fn udp_echo_container(sb: &Sandbox, name: &str, flags: &[&str], inside: u16) {
    let server = format!("use IO::Socket::INET; my $s = IO::Socket::INET->new(LocalPort => {inside}, Proto => 'udp') or die $!; while (1) {{ my $m; $s->recv($m, 100); my $p = $s->peerhost; $s->send(\"echo:$m:$p\"); }}");
    let img = debian();
    let mut args = vec!["run", "-d", "--name", name];
    args.extend(flags);
    args.extend([img.as_str(), "perl", "-e", &server]);
    sb.ok(&args);
}

/// A TCP service on the host's loopback that says `answer` to every client: its port.
fn host_service(answer: &'static [u8]) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            let mut s = s;
            let _ = s.write_all(answer);
        }
    });
    port
}

/// A TCP server on port PORT, in Debian's perl, that tells each client its address.
pub fn tcp_peer_server(port: u16) -> String {
    format!("use IO::Socket::INET; my $s = IO::Socket::INET->new(LocalPort => {port}, Proto => 'tcp', Listen => 5, ReuseAddr => 1) or die $!; while (my $c = $s->accept) {{ my $l = <$c>; print $c 'peer:' . $c->peerhost . \"\\n\"; close $c; }}")
}

/// The host's own address on its default route's interface (not loopback).
pub fn host_address() -> String {
    let out = std::process::Command::new("hostname")
        .arg("-I")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("an address")
        .to_string()
}

/// Sends a datagram to `addr:port` until an answer comes back, or `None` after `wait`.
pub fn udp_ask(addr: &str, port: u16, wait: Duration) -> Option<String> {
    let u = UdpSocket::bind("0.0.0.0:0").unwrap();
    u.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 100];
    loop {
        u.send_to(b"datagram", (addr, port)).unwrap();
        if let Ok((n, _)) = u.recv_from(&mut buf) {
            return Some(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        if Instant::now() > deadline {
            return None;
        }
    }
}

/// The echo of a UDP server at `addr:port`, waiting for it to start.
pub fn udp_echo(addr: &str, port: u16) -> String {
    udp_ask(addr, port, Duration::from_secs(15))
        .unwrap_or_else(|| panic!("no UDP answer on {addr}:{port}"))
}
