//! Container networking through the user-mode helpers (pasta, slirp4netns): egress,
//! DNS, published ports, the host's loopback only when asked, and no helper left
//! behind.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use crate::harness::*;

fn bb() -> String {
    image("busybox")
}

/// The helper processes (pasta runs as `passt.avx2` or `pasta`, slirp4netns) whose
/// command line names `marker`.
fn helpers_with(marker: &str) -> usize {
    let out = std::process::Command::new("pgrep")
        .args(["-f", &format!("(pasta|slirp4netns).*{marker}")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

fn pid_of(sb: &Sandbox, name: &str) -> i64 {
    let v: serde_json::Value = serde_json::from_str(&sb.ok(&["inspect", name]).stdout()).unwrap();
    v[0]["State"]["Pid"].as_i64().unwrap()
}

/// A TCP request to the host port, retried while the container's server starts.
fn fetch(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let _ = s.write_all(b"ping\n");
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            if !out.is_empty() {
                return out;
            }
        }
        assert!(Instant::now() < deadline, "nothing answered on port {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Egress and DNS, on each helper: names resolve through the helper, and the
/// Debian archive (which these machines reach) answers.
/// The helpers a user can use: pasta will not run as root.
fn helpers(user: User) -> &'static [&'static str] {
    if user == User::Root {
        &["slirp4netns"]
    } else {
        &["pasta", "slirp4netns"]
    }
}

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

/// The `apt-get update` of a Debian container reaches Debian's archive.
#[test]
fn debian_apt_get_update() {
    if !debian_available() {
        panic!("the Debian fixture is missing: tests/run.sh builds it with mmdebstrap");
    }
    let sb = Sandbox::new(User::Sub);
    let o = sb.run(&[
        "run",
        "--rm",
        &image("debian:bookworm"),
        "apt-get",
        "update",
    ]);
    assert_eq!(o.code(), 0, "{}", o.both());
    assert!(o.stdout().contains("Reading package lists"), "{}", o.both());
}

/// A UDP echo server on port PORT, in Debian's perl (busybox's nc has no UDP).
fn udp_echo_server(port: u16) -> String {
    format!("use IO::Socket::INET; my $s = IO::Socket::INET->new(LocalPort => {port}, Proto => 'udp') or die $!; while (1) {{ my $m; $s->recv($m, 100); $s->send(\"echo:$m\"); }}")
}

/// The host's own address on its default route's interface (not loopback).
fn host_address() -> String {
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

/// Sends a datagram to `addr:port` until the echo comes back.
fn udp_echo(addr: &str, port: u16) -> String {
    let u = UdpSocket::bind("0.0.0.0:0").unwrap();
    u.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut buf = [0u8; 100];
    loop {
        u.send_to(b"datagram", (addr, port)).unwrap();
        if let Ok((n, _)) = u.recv_from(&mut buf) {
            return String::from_utf8_lossy(&buf[..n]).into_owned();
        }
        assert!(Instant::now() < deadline, "no UDP answer on port {port}");
    }
}

/// Published TCP and UDP ports answer from the host, on each helper; a taken port is
/// refused before anything starts; `box port` and `box ps` show them.
fn published_ports(user: User) {
    if !debian_available() {
        panic!("the Debian fixture is missing: tests/run.sh builds it with mmdebstrap");
    }
    let sb = Sandbox::new(user);
    for &net in helpers(user) {
        let tcp = free_port();
        let udp = free_port();
        let name = format!("srv-{net}");
        let id = sb
            .ok(&[
                "run",
                "-d",
                "--name",
                &name,
                "--network",
                net,
                "-p",
                &format!("127.0.0.1:{tcp}:80"),
                &bb(),
                "sh",
                "-c",
                "while true; do echo pong | nc -l -p 80 >/dev/null; done",
            ])
            .stdout();
        assert_eq!(fetch(tcp), "pong\n", "{net}: tcp from the host");
        // What each helper (Debian 12's) can do with UDP: pasta forwards from the
        // host's loopback but cannot translate a port number; slirp4netns translates,
        // but answers a loopback client only where the host's loopback is reachable.
        let udp_name = format!("udp-{net}");
        let (inside, client) = if net == "pasta" {
            (udp, "127.0.0.1".to_string())
        } else {
            (53, host_address())
        };
        let publish = format!("{udp}:{inside}/udp");
        let server = udp_echo_server(inside);
        sb.ok(&[
            "run",
            "-d",
            "--name",
            &udp_name,
            "--network",
            net,
            "-p",
            &publish,
            &image("debian:bookworm"),
            "perl",
            "-e",
            &server,
        ]);
        assert_eq!(
            udp_echo(&client, udp),
            "echo:datagram",
            "{net}: udp from the host"
        );
        assert_eq!(
            sb.ok(&["port", &udp_name]).stdout(),
            format!("{inside}/udp -> 0.0.0.0:{udp}\n")
        );
        assert_eq!(
            sb.ok(&["port", &name]).stdout(),
            format!("80/tcp -> 127.0.0.1:{tcp}\n")
        );
        assert_eq!(
            sb.ok(&["port", &name, "80"]).stdout(),
            format!("127.0.0.1:{tcp}\n")
        );
        sb.run(&["port", &name, "81"])
            .fails_with("No public port '81/tcp'");
        let ps = sb.ok(&["ps"]).stdout();
        assert!(ps.contains(&format!("127.0.0.1:{tcp}->80/tcp")), "{ps}");
        assert!(ps.contains(&format!("0.0.0.0:{udp}->{inside}/udp")), "{ps}");
        // Taken: by this container's helper now.
        sb.run(&[
            "run",
            "--rm",
            "--network",
            net,
            "-p",
            &format!("127.0.0.1:{tcp}:80"),
            &bb(),
            "true",
        ])
        .fails_with(&format!(
            "Bind for 127.0.0.1:{tcp} failed: port is already allocated"
        ));
        let pid = pid_of(&sb, &name);
        sb.ok(&["rm", "-f", id.trim(), &udp_name]);
        assert_eq!(helpers_with(&format!("{pid}")), 0, "{net}: no helper left");
        assert!(
            TcpListener::bind(("127.0.0.1", tcp)).is_ok(),
            "{net}: the port is free again"
        );
        assert!(
            UdpSocket::bind(("0.0.0.0", udp)).is_ok(),
            "{net}: the port is free again"
        );
    }
    // A port taken by someone else is refused too, and nothing is left behind.
    let busy = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    sb.run(&[
        "run",
        "-d",
        "--name",
        "late",
        "-p",
        &format!("{port}:80"),
        &bb(),
        "true",
    ])
    .fails_with("port is already allocated");
    assert_eq!(sb.ok(&["ps", "-aq"]).stdout(), "");
    sb.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-p",
        "80",
        &bb(),
        "true",
    ])
    .fails_with("--network none has none");
    sb.run(&["run", "--rm", "-p", "80:x", &bb(), "true"])
        .fails_with("invalid port specification");
}
per_user!(published_ports, published_ports);

/// `-P` publishes the image's ExposedPorts (runcfg: 80/tcp and 53/udp) on free ports.
#[test]
fn publish_all() {
    let sb = Sandbox::new(User::Sub);
    sb.ok(&[
        "run",
        "-d",
        "--name",
        "all",
        "-P",
        "-u",
        "0",
        "--entrypoint",
        "sh",
        &image("runcfg"),
        "-c",
        "while true; do echo all | nc -l -p 80 >/dev/null; done",
    ]);
    let ports = sb.ok(&["port", "all"]).stdout();
    let lines: Vec<&str> = ports.lines().collect();
    assert_eq!(lines.len(), 2, "{ports}");
    assert!(
        lines.iter().any(|l| l.starts_with("53/udp -> 0.0.0.0:")),
        "{ports}"
    );
    let tcp: u16 = lines
        .iter()
        .find_map(|l| l.strip_prefix("80/tcp -> 0.0.0.0:"))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(fetch(tcp), "all\n");
    sb.ok(&["rm", "-f", "all"]);
}

/// The host's own loopback services are out of reach unless `--add-host
/// NAME:host-gateway` asks for them.
fn host_loopback(user: User) {
    let sb = Sandbox::new(user);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            let mut s = s;
            let _ = s.write_all(b"from-host\n");
        }
    });
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

/// A helper dies with its container, also when the shim is killed.
#[test]
fn no_helper_left() {
    let sb = Sandbox::new(User::Sub);
    sb.ok(&["run", "-d", "--name", "n1", &bb(), "sleep", "300"]);
    let pid = pid_of(&sb, "n1");
    assert_eq!(helpers_with(&format!("{pid}")), 1, "pasta runs for it");
    let v: serde_json::Value = serde_json::from_str(&sb.ok(&["inspect", "n1"]).stdout()).unwrap();
    let shim = v[0]["Box"]["ShimPid"].as_i64().unwrap();
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(shim as i32).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while helpers_with(&format!("{pid}")) != 0 {
        assert!(Instant::now() < deadline, "pasta outlived its shim");
        std::thread::sleep(Duration::from_millis(50));
    }
    sb.ok(&["rm", "n1"]);
    sb.ok(&["run", "--rm", "--network", "slirp4netns", &bb(), "true"]);
    assert_eq!(helpers_with(&sb.dir.display().to_string()), 0);
}
