//! Published ports (`-p`, `-P`, `--expose`): answered from the host over TCP and UDP
//! on each helper, ranges, random ports, `box port` and `box ps` while the container
//! runs, a taken port refused before anything starts, ports the helper cannot forward
//! refused with a hint, and a port free again as soon as its container is stopped or
//! its foreground run has returned.
//!
//! Fixed host ports, one block per test user (tests run two at a time): 18000-18059.
//! Every other port is picked free by the test.

use std::net::{TcpListener, UdpSocket};
use std::time::Duration;

use crate::harness::*;
use crate::network::{
    fetch, free_port, helpers, host_address, pid_of, udp_ask, udp_echo, udp_echo_container,
};

/// The first of this user's twenty fixed host ports.
fn block(user: User) -> u16 {
    match user {
        User::Sub => 18000,
        User::NoSub => 18020,
        User::Root => 18040,
    }
}

/// A busybox shell that serves `PORT` on each of `ports`, one nc loop each.
fn serve_each(ports: &[u16]) -> String {
    let loops: Vec<String> = ports
        .iter()
        .map(|p| format!("(while true; do echo {p} | nc -l -p {p} >/dev/null; done) &"))
        .collect();
    format!("{} wait", loops.join(" "))
}

/// Whether a helper process for the container with first process `pid` still runs.
fn helper_for(pid: i64) -> bool {
    let out = std::process::Command::new("pgrep")
        .args(["-f", &format!("(pasta|slirp4netns).*[^0-9]{pid}([^0-9]|$)")])
        .output()
        .unwrap();
    !out.stdout.is_empty()
}

/// Published TCP and UDP ports answer from the host, on each helper; `box port` and
/// `box ps` show them while the container runs and not once it is stopped; a stop
/// frees them at once; a taken port is refused before anything starts.
fn published_ports(user: User) {
    let sb = Sandbox::new(user);
    let host = host_address();
    for &net in helpers(user) {
        let (tcp, udp) = (free_port(), free_port());
        let name = format!("srv-{net}");
        sb.ok(&[
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
        ]);
        assert_eq!(fetch(tcp), "pong\n", "{net}: tcp from the host");
        // What each helper (Debian 12's) can do with UDP: pasta forwards only to the
        // same port number (from the host's loopback, or another host); slirp4netns
        // to any, answering clients on the host's non-loopback addresses.
        let udp_name = format!("udp-{net}");
        let (inside, client) = if net == "pasta" {
            (udp, "127.0.0.1".to_string())
        } else {
            (53, host.clone())
        };
        let publish = format!("{udp}:{inside}/udp");
        udp_echo_container(&sb, &udp_name, &["--network", net, "-p", &publish], inside);
        assert!(
            udp_echo(&client, udp).starts_with("echo:datagram:"),
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
        // Stopped: the ports are free the moment `box stop` returns, and neither
        // `box port` nor `box ps` shows them (Docker's neither).
        let pid = pid_of(&sb, &name);
        sb.ok(&["stop", "-t", "0", &name, &udp_name]);
        assert!(!helper_for(pid), "{net}: the helper is gone");
        drop(TcpListener::bind(("127.0.0.1", tcp)).expect("the tcp port is free"));
        drop(UdpSocket::bind(("0.0.0.0", udp)).expect("the udp port is free"));
        assert_eq!(sb.ok(&["port", &name]).stdout(), "");
        sb.run(&["port", &name, "80"])
            .fails_with("No public port '80/tcp'");
        let ps = sb
            .ok(&["ps", "-a", "--format", "{{.Names}}:{{.Ports}}"])
            .stdout();
        assert!(ps.contains(&format!("{name}:\n")), "{ps}");
        assert!(!ps.contains("->"), "{ps}");
        // Started again, on the same ports; refused while one is taken.
        let squatter = TcpListener::bind(("127.0.0.1", tcp)).unwrap();
        sb.run(&["start", &name]).fails_with(&format!(
            "Bind for 127.0.0.1:{tcp} failed: port is already allocated"
        ));
        drop(squatter);
        sb.ok(&["start", &name]);
        assert_eq!(fetch(tcp), "pong\n", "{net}: started again");
        let pid = pid_of(&sb, &name);
        sb.ok(&["rm", "-f", &name, &udp_name]);
        assert!(!helper_for(pid), "{net}: no helper left");
        drop(TcpListener::bind(("127.0.0.1", tcp)).expect("free after rm -f"));
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

/// Ports a helper cannot forward are refused before the container is created, with
/// a hint: UDP to another port number with pasta, UDP for the host's loopback only
/// with slirp4netns (whose answers to loopback clients it drops).
fn unforwardable_ports(user: User) {
    let sb = Sandbox::new(user);
    let p = free_port();
    if user != User::Root {
        let o = sb.run(&["run", "-d", "-p", &format!("{p}:53/udp"), &bb(), "true"]);
        o.fails_with(&format!("-p {p}:53/udp is not possible with pasta "));
        o.fails_with(": it cannot forward UDP to another port number");
        assert!(
            o.stderr().contains(
                "hint: publish it on the same port (-p 53:53/udp) or use --network slirp4netns"
            ),
            "{}",
            o.both()
        );
        // A range that does not hold the container's port number.
        sb.run(&[
            "run",
            "-d",
            "-p",
            &format!("{p}-{}:53/udp", p + 1),
            &bb(),
            "true",
        ])
        .fails_with("it cannot forward UDP to another port number");
        // Any port means the same port for pasta: 53 is not the user's to bind.
        let o = sb.run(&["run", "-d", "-p", "53/udp", &bb(), "true"]);
        o.fails_with("and host port 53 cannot be bound: Permission denied");
        assert!(o.stderr().contains("hint: host ports below 1024 need root"));
        // The same port, taken.
        let busy = UdpSocket::bind("0.0.0.0:0").unwrap();
        let b = busy.local_addr().unwrap().port();
        sb.run(&["run", "-d", "-p", &format!("{b}/udp"), &bb(), "true"])
            .fails_with(&format!("and host port {b} is already allocated"));
    }
    let o = sb.run(&[
        "run",
        "-d",
        "--network",
        "slirp4netns",
        "-p",
        &format!("127.0.0.1:{p}:53/udp"),
        &bb(),
        "true",
    ]);
    o.fails_with(&format!("-p 127.0.0.1:{p}:53/udp is not possible with slirp4netns: it drops the container's UDP answers to clients on the host's loopback"));
    assert!(
        o.stderr().contains(&format!(
            "hint: publish it on every address (-p {p}:53/udp)"
        )),
        "{}",
        o.both()
    );
    assert_eq!(sb.ok(&["ps", "-aq"]).stdout(), "", "nothing was created");
}
per_user!(unforwardable_ports, unforwardable_ports);

/// Ranges: port to port (`-p A-C:A-C`), one free port of a host range for one
/// container port (`-p 127.0.0.1:A-B:80`, and for UDP), and a random port (`-p 80`),
/// each answered from the host and shown by `box port`.
fn port_ranges(user: User) {
    let sb = Sandbox::new(user);
    let b = block(user);
    let (r0, r2) = (b, b + 2);
    sb.ok(&[
        "run",
        "-d",
        "--name",
        "range",
        "-p",
        &format!("{r0}-{r2}:{r0}-{r2}"),
        &bb(),
        "sh",
        "-c",
        &serve_each(&[r0, r0 + 1, r2]),
    ]);
    for p in r0..=r2 {
        assert_eq!(fetch(p), format!("{p}\n"));
    }
    assert_eq!(
        sb.ok(&["port", "range"]).stdout(),
        (r0..=r2)
            .map(|p| format!("{p}/tcp -> 0.0.0.0:{p}\n"))
            .collect::<String>()
    );
    // One of a range: the first free one (its first port is taken here).
    let (h0, h1) = (b + 3, b + 7);
    let squatter = TcpListener::bind(("127.0.0.1", h0)).unwrap();
    sb.ok(&[
        "run",
        "-d",
        "--name",
        "one-of",
        "-p",
        &format!("127.0.0.1:{h0}-{h1}:80"),
        "-p",
        "80",
        &bb(),
        "sh",
        "-c",
        &serve_each(&[80]),
    ]);
    drop(squatter);
    let ports = sb.ok(&["port", "one-of", "80"]).stdout();
    let lines: Vec<&str> = ports.lines().collect();
    assert_eq!(
        lines.first(),
        Some(&&*format!("127.0.0.1:{}", h0 + 1)),
        "{ports}"
    );
    assert_eq!(fetch(h0 + 1), "80\n");
    let random: u16 = lines
        .get(1)
        .and_then(|l| l.strip_prefix("0.0.0.0:"))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("a random port: {ports}"));
    assert!(!(h0..=h1).contains(&random), "{ports}");
    assert_eq!(fetch(random), "80\n");
    // UDP from a range: the container's own number under pasta (which can do no
    // other), any free one under slirp4netns.
    let (u0, u1) = (b + 8, b + 12);
    for &net in helpers(user) {
        let inside = if net == "pasta" { b + 10 } else { 53 };
        let name = format!("udp-range-{net}");
        let publish = format!("{u0}-{u1}:{inside}/udp");
        udp_echo_container(&sb, &name, &["--network", net, "-p", &publish], inside);
        let port: u16 = sb
            .ok(&["port", &name, &format!("{inside}/udp")])
            .stdout()
            .trim()
            .strip_prefix("0.0.0.0:")
            .and_then(|p| p.parse().ok())
            .expect("a port");
        if net == "pasta" {
            assert_eq!(port, inside);
            assert!(udp_echo("127.0.0.1", port).starts_with("echo:datagram:"));
        } else {
            assert!((u0..=u1).contains(&port), "{port}");
            assert!(udp_echo(&host_address(), port).starts_with("echo:datagram:"));
        }
        sb.ok(&["rm", "-f", &name]);
    }
    sb.ok(&["rm", "-f", "range", "one-of"]);
}
per_user!(port_ranges, port_ranges);

/// `-P` publishes every exposed port (the image's and `--expose`'s) on free host
/// ports, UDP under pasta on the container's own number; a port `-p` publishes is
/// not published twice.
fn publish_all(user: User) {
    let sb = Sandbox::new(user);
    let host = host_address();
    // runcfg exposes 80/tcp and 53/udp.
    let runcfg = |extra: &[&str]| {
        let mut args = vec!["run", "-d", "--name", "all", "-P", "-u", "0"];
        args.extend(extra);
        let img = image("runcfg");
        args.extend([
            "--entrypoint",
            "sh",
            &*img,
            "-c",
            "while true; do echo all | nc -l -p 80 >/dev/null; done",
        ]);
        sb.run(&args)
    };
    if user != User::Root {
        // Port 53 on the host is root's: pasta has no other number for it.
        runcfg(&[]).fails_with("-P (53/udp) is not possible with pasta");
    }
    runcfg(&["--network", "slirp4netns"]);
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
    // A UDP port exposed with --expose answers, on each helper.
    for &net in helpers(user) {
        let p = free_port();
        let fixed = free_port();
        let (expose, publish) = (format!("{p}/udp"), format!("{fixed}:7000"));
        let flags = [
            "--network",
            net,
            "-P",
            "--expose",
            &expose,
            "--expose",
            "7000-7001",
            "-p",
            &publish,
        ];
        udp_echo_container(&sb, "exposed", &flags, p);
        let ports = sb.ok(&["port", "exposed"]).stdout();
        assert_eq!(ports.lines().count(), 3, "{ports}");
        assert!(
            ports.contains(&format!("7000/tcp -> 0.0.0.0:{fixed}\n")),
            "-p wins over -P: {ports}"
        );
        let host_port: u16 = sb
            .ok(&["port", "exposed", &format!("{p}/udp")])
            .stdout()
            .trim()
            .strip_prefix("0.0.0.0:")
            .and_then(|x| x.parse().ok())
            .unwrap();
        let client = if net == "pasta" {
            assert_eq!(host_port, p, "pasta: the same number");
            "127.0.0.1"
        } else {
            &host
        };
        assert!(
            udp_echo(client, host_port).starts_with("echo:datagram:"),
            "{net}"
        );
        sb.ok(&["rm", "-f", "exposed"]);
    }
    sb.run(&["run", "--rm", "--expose", "80/sctp", &bb(), "true"])
        .fails_with("invalid port specification");
}
per_user!(publish_all, publish_all);

/// A foreground run's port is free for the next run at once: twenty runs in a row on
/// the same host port all start (the shim reports the exit before its helper has let
/// go of the port; the next port check waits for it).
fn back_to_back(user: User) {
    let sb = Sandbox::new(user);
    let publish = format!("127.0.0.1:{}:80", free_port());
    for i in 0..20 {
        let o = sb.run(&["run", "--rm", "-p", &publish, &bb(), "true"]);
        assert_eq!(o.code(), 0, "run {i}: {}", o.both());
    }
}
per_user!(back_to_back, back_to_back);

/// A UDP port with slirp4netns is not answered to clients on the host's loopback
/// (README: use the host's own address), unless the host's loopback is open to the
/// container; then the container sees such a client as 10.0.2.2.
fn slirp_udp_and_loopback(user: User) {
    let sb = Sandbox::new(user);
    let p = free_port();
    let publish = format!("{p}:53/udp");
    let open = [
        "--network",
        "slirp4netns",
        "--add-host",
        "host:host-gateway",
    ];
    udp_echo_container(&sb, "open", &[&open[..], &["-p", &publish]].concat(), 53);
    assert_eq!(udp_echo("127.0.0.1", p), "echo:datagram:10.0.2.2");
    sb.ok(&["rm", "-f", "open"]);
    let q = free_port();
    let publish = format!("{q}:53/udp");
    udp_echo_container(
        &sb,
        "closed",
        &["--network", "slirp4netns", "-p", &publish],
        53,
    );
    // Answered at the host's address (the server is up), not at its loopback.
    assert!(udp_echo(&host_address(), q).starts_with("echo:datagram:"));
    assert_eq!(udp_ask("127.0.0.1", q, Duration::from_secs(2)), None);
    sb.ok(&["rm", "-f", "closed"]);
}
per_user!(slirp_udp_and_loopback, slirp_udp_and_loopback);
