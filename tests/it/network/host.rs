//! The host as the container sees it: its loopback services out of reach unless
//! `--add-host NAME:host-gateway` asks, `--add-host` lines, and `--network host`
//! with the host's own interfaces and loopback.

use super::{helpers, host_service};
use crate::harness::*;

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
