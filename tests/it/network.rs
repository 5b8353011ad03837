//! Container networking through the user-mode helpers (pasta, slirp4netns): egress,
//! DNS, the host's loopback only when asked, the host's network, what `box info` says,
//! the client address a server sees, and no process of box's left behind. Published
//! ports are `ports.rs`'s.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use crate::harness::*;

pub fn bb() -> String {
    image("busybox")
}

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

/// Egress and DNS, on each helper: names resolve through the helper, and the
/// Debian archive (which these machines reach) answers.
fn egress_and_dns(user: User) {
    let sb = Sandbox::new(user);
    if user == User::Root {
        sb.run(&["run", "--rm", "--network", "pasta", &bb(), "true"])
            .fails_with("pasta does not run as root");
    }
    for &net in helpers(user) {
        let o = sb.run(&[
            "run",
            "--rm",
            "--network",
            net,
            &bb(),
            "sh",
            "-c",
            "cat /etc/resolv.conf; nslookup deb.debian.org >/dev/null && echo resolved; \
             wget -q -O- http://deb.debian.org/debian/dists/bookworm/Release | head -1",
        ]);
        assert_eq!(o.code(), 0, "{net}: {}", o.both());
        let out = o.stdout();
        let forwarder = if net == "pasta" {
            "169.254.1.1"
        } else {
            "10.0.2.3"
        };
        assert!(
            out.contains(&format!("nameserver {forwarder}")),
            "{net}: {out}"
        );
        assert!(out.contains("resolved\n"), "{net}: {out}");
        assert!(out.contains("Origin: Debian"), "{net}: {out}");
    }
    let o = sb.ok(&[
        "run",
        "--rm",
        "--dns",
        "192.0.2.53",
        "--dns-search",
        "example.com",
        "--dns-option",
        "ndots:2",
        "-h",
        "named",
        &bb(),
        "sh",
        "-c",
        "cat /etc/resolv.conf; hostname",
    ]);
    assert_eq!(
        o.stdout(),
        "search example.com\nnameserver 192.0.2.53\noptions ndots:2\nnamed\n"
    );
    let o = sb.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        &bb(),
        "sh",
        "-c",
        "ls /sys/class/net",
    ]);
    assert_eq!(o.stdout(), "lo\n", "none: loopback only");
}
per_user!(egress_and_dns, egress_and_dns);

/// The `apt-get update` of a Debian container fetches Debian's package lists (apt says
/// "Reading package lists" and exits 0 even when every source failed, so what counts
/// is a `Hit:` or `Get:` line and no failure).
fn debian_apt_get_update(user: User) {
    let sb = Sandbox::new(user);
    let img = debian();
    let mut args = vec!["run", "--rm", &img, "apt-get"];
    if user == User::NoSub {
        // One id mapped: apt's methods cannot drop to the `_apt` user (uid 42 is not
        // mapped, setgroups is denied), so they run as the container's root.
        args.extend(["-o", "APT::Sandbox::User=root"]);
    }
    args.push("update");
    let o = sb.run(&args);
    assert_eq!(o.code(), 0, "{}", o.both());
    let out = o.both();
    assert!(
        out.lines()
            .any(|l| l.starts_with("Hit:") || l.starts_with("Get:")),
        "nothing fetched:\n{out}"
    );
    assert!(
        !out.lines()
            .any(|l| l.starts_with("Err:") || l.starts_with("W: Failed") || l.starts_with("E:")),
        "a source failed:\n{out}"
    );
}
per_user!(debian_apt_get_update, debian_apt_get_update);

/// The host's own loopback services are out of reach unless `--add-host
/// NAME:host-gateway` asks for them.
fn host_loopback(user: User) {
    let sb = Sandbox::new(user);
    let port = host_service(b"from-host\n");
    for &net in helpers(user) {
        let gateway = if net == "pasta" {
            gateway()
        } else {
            "10.0.2.2".into()
        };
        let o = sb.run(&[
            "run",
            "--rm",
            "--network",
            net,
            &bb(),
            "sh",
            "-c",
            &format!("nc -w 2 {gateway} {port}; nc -w 2 127.0.0.1 {port}; echo done"),
        ]);
        assert_eq!(
            o.stdout(),
            "done\n",
            "{net}: the host is out of reach: {}",
            o.both()
        );
        let o = sb.ok(&[
            "run",
            "--rm",
            "--network",
            net,
            "--add-host",
            "host.box.internal:host-gateway",
            &bb(),
            "sh",
            "-c",
            // `timeout`: this pasta (Debian 12's) does not pass on the host's FIN to
            // a connection the container half-closed, so nc would wait forever. Not
            // the last command: as PID 1, nc would ignore timeout's SIGTERM. The first
            // line only: this pasta may also reopen the host side of such a
            // connection, and the host's answer then comes more than once.
            &format!(
                "grep host.box.internal /etc/hosts; timeout 5 nc host.box.internal {port} </dev/null | head -n 1; true"
            ),
        ]);
        assert_eq!(
            o.stdout(),
            format!("{gateway}\thost.box.internal\nfrom-host\n"),
            "{net}"
        );
    }
    sb.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--add-host",
        "h:host-gateway",
        &bb(),
        "true",
    ])
    .fails_with("needs a network that leads to the host");
    let o = sb.ok(&[
        "run",
        "--rm",
        "--add-host",
        "db:10.1.2.3",
        &bb(),
        "grep",
        "-w",
        "db",
        "/etc/hosts",
    ]);
    // `-w`: the random hostname may contain "db" too.
    assert_eq!(o.stdout(), "10.1.2.3\tdb\n");
}
per_user!(host_loopback, host_loopback);

/// The host's default gateway, which pasta gives containers as theirs.
fn gateway() -> String {
    let routes = std::fs::read_to_string("/proc/net/route").unwrap();
    let hex = routes
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f[1] == "00000000")
        .map(|f| f[2].to_string())
        .expect("a default route");
    let g = u32::from_str_radix(&hex, 16).unwrap();
    std::net::Ipv4Addr::from(g.swap_bytes()).to_string()
}

/// `--network host`: the container sees the host's own interfaces, and the host's
/// loopback services are its own.
fn network_host(user: User) {
    let sb = Sandbox::new(user);
    let port = host_service(b"host-loopback\n");
    let o = sb.ok(&[
        "run",
        "--rm",
        "--network",
        "host",
        &bb(),
        "sh",
        "-c",
        &format!("ls /sys/class/net; echo --; timeout 5 nc 127.0.0.1 {port} </dev/null | head -n 1; true"),
    ]);
    let mut host_ifaces: Vec<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    host_ifaces.sort();
    let out = o.stdout();
    let (ifaces, answer) = out.split_once("--\n").expect("two parts");
    let mut seen: Vec<String> = ifaces.lines().map(str::to_string).collect();
    seen.sort();
    assert_eq!(seen, host_ifaces, "the host's interfaces");
    assert!(seen.len() > 1, "more than loopback: {seen:?}");
    assert_eq!(answer, "host-loopback\n", "{}", o.both());
}
per_user!(network_host, network_host);

/// `box info` names the helper a container gets by default: pasta when installed
/// (not for root, which pasta will not run as), else slirp4netns, else none.
fn info_network(user: User) {
    let sb = Sandbox::new(user);
    let network_line = |path: Option<&str>| {
        let mut c = sb.cmd(&["info"]);
        if let Some(p) = path {
            c.env("PATH", p);
        }
        let o = output_within(c, RUN_LIMIT);
        assert!(o.status.success(), "{o:?}");
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .find(|l| l.starts_with("Network: "))
            .expect("a Network: line")
            .to_string()
    };
    let expected = if user == User::Root {
        "Network: slirp4netns (the default: pasta does not run as root; --network pasta|slirp4netns|none|host chooses)"
    } else {
        "Network: pasta (the default; --network pasta|slirp4netns|none|host chooses)"
    };
    assert_eq!(network_line(None), expected);
    // Without pasta on the PATH: slirp4netns, which `box run` then uses.
    // (setpriv: the harness finds it on the PATH it gives the command.)
    let bin_with = |name: &str, progs: &[&str]| {
        let bin = sb.dir.join(name);
        std::fs::create_dir_all(&bin).unwrap();
        for prog in progs.iter().chain(&["setpriv"]) {
            std::os::unix::fs::symlink(format!("/usr/bin/{prog}"), bin.join(prog)).unwrap();
        }
        bin.display().to_string()
    };
    let only_slirp = bin_with("bin-slirp", &["slirp4netns", "newuidmap", "newgidmap"]);
    if user != User::Root {
        assert_eq!(
            network_line(Some(&only_slirp)),
            "Network: slirp4netns (the default: pasta is not installed; --network pasta|slirp4netns|none|host chooses)"
        );
    }
    let mut c = sb.cmd(&["run", "--rm", &bb(), "cat", "/etc/resolv.conf"]);
    c.env("PATH", &only_slirp);
    let o = output_within(c, RUN_LIMIT);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("nameserver 10.0.2.3"),
        "slirp4netns's resolver: {o:?}"
    );
    let none = network_line(Some(&bin_with("bin-none", &[])));
    assert!(
        none.starts_with("Network: none available: pasta is not installed"),
        "{none}"
    );
    // config.toml's default, which box run follows.
    sb.write(
        "config/box/config.toml",
        "[network]\ndefault = \"slirp4netns\"\n",
    );
    assert_eq!(
        network_line(None),
        "Network: slirp4netns (the default, from config.toml; --network pasta|slirp4netns|none|host chooses)"
    );
    let o = sb.ok(&["run", "--rm", &bb(), "cat", "/etc/resolv.conf"]);
    assert!(o.stdout().contains("nameserver 10.0.2.3"), "{}", o.both());
    sb.write("config/box/config.toml", "[network]\ndefault = \"none\"\n");
    let o = sb.ok(&["run", "--rm", &bb(), "cat", "/proc/net/dev"]);
    assert_eq!(o.stdout().lines().count(), 3, "only lo: {}", o.both());
    sb.write("config/box/config.toml", "[network]\ndefault = \"nonet\"\n");
    sb.run(&["run", "--rm", &bb(), "true"])
        .fails_with("[network] default");
}
per_user!(info_network, info_network);

/// Containers behind pasta get TCP settings that keep Debian 12's pasta from stalling
/// bulk transfers (src/runtime/init.rs, `tune_tcp_for_pasta`); slirp4netns's keep the
/// kernel's defaults. (No 200 ms floor to compare with: tcp_rto_min_us is Linux 6.11+.)
fn pasta_tcp_settings(user: User) {
    let sb = Sandbox::new(user);
    for &net in helpers(user) {
        let o = sb.ok(&[
            "run",
            "--rm",
            "--network",
            net,
            &bb(),
            "cat",
            "/proc/sys/net/ipv4/tcp_wmem",
        ]);
        let wmem = o
            .stdout()
            .split_whitespace()
            .last()
            .unwrap_or_default()
            .to_string();
        if net == "pasta" {
            assert_eq!(wmem, "1048576", "{}", o.both());
        } else {
            assert_ne!(wmem, "1048576", "{}", o.both());
        }
    }
}
per_user!(pasta_tcp_settings, pasta_tcp_settings);

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

/// Every process of box's for this sandbox: those whose environment names its
/// directories (the shims, their helpers, the network holder; not the containers'
/// own processes, which have their image's environment).
fn box_processes(sb: &Sandbox) -> Vec<String> {
    let marker = format!("XDG_RUNTIME_DIR={}", sb.runtime().display());
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let Ok(env) = std::fs::read(e.path().join("environ")) else {
            continue;
        };
        let ours = env.split(|b| *b == 0).any(|v| v == marker.as_bytes());
        let zombie = std::fs::read_to_string(e.path().join("stat"))
            .map(|s| {
                s.rsplit_once(')')
                    .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
            })
            .unwrap_or(true);
        if ours && !zombie {
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            out.push(format!(
                "{pid} {}",
                String::from_utf8_lossy(&cmd).replace('\0', " ")
            ));
        }
    }
    out
}

/// After `box rm -f` of every container (one on pasta, one on slirp4netns, one on a
/// user network), no process of box's is left: no shim, no helper, and the network
/// holder leaves within its few seconds. A helper also dies with its shim.
fn no_helper_left(user: User) {
    let sb = Sandbox::new(user);
    sb.ok(&["network", "create", "left"]);
    let mut names = Vec::new();
    for (name, net) in [
        ("on-pasta", "pasta"),
        ("on-slirp", "slirp4netns"),
        ("on-user", "left"),
    ] {
        if user == User::Root && net == "pasta" {
            continue;
        }
        sb.ok(&[
            "run",
            "-d",
            "--name",
            name,
            "--network",
            net,
            "-p",
            &format!("127.0.0.1:{}:80", free_port()),
            &bb(),
            "sleep",
            "300",
        ]);
        names.push(name);
    }
    let running = box_processes(&sb);
    for helper in helpers(user) {
        assert!(
            running.iter().any(|p| p.contains(helper)),
            "{helper} runs: {running:?}"
        );
    }
    assert!(
        running.iter().any(|p| p.contains("__netns-holder")),
        "the holder runs: {running:?}"
    );
    let mut rm = vec!["rm", "-f"];
    rm.extend(&names);
    sb.ok(&rm);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = box_processes(&sb);
        if left.is_empty() {
            break;
        }
        // Only the holder may take a little while (it rechecks every 2 s).
        assert!(
            left.iter().all(|p| p.contains("__netns-holder")),
            "left after rm -f: {left:?}"
        );
        assert!(Instant::now() < deadline, "the holder stays: {left:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // A helper dies with its shim, even a killed one.
    sb.ok(&["run", "-d", "--name", "n1", &bb(), "sleep", "300"]);
    let v: serde_json::Value = serde_json::from_str(&sb.ok(&["inspect", "n1"]).stdout()).unwrap();
    let shim = v[0]["Box"]["ShimPid"].as_i64().unwrap();
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(shim as i32).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !box_processes(&sb).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the helper outlived its shim: {:?}",
            box_processes(&sb)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    sb.ok(&["rm", "n1"]);
}
per_user!(no_helper_left, no_helper_left);
