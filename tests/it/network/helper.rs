//! The helper itself: which one a container gets by default (`box info`, the PATH,
//! `config.toml`), the TCP settings pasta's containers get, and no process of box's
//! (shim, helper, network holder) left behind once the containers are gone.

use std::time::{Duration, Instant};

use super::{free_port, helpers};
use crate::harness::*;

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
