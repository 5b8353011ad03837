//! User networks (`box network ...`), `--network container:NAME` and `--link`: members
//! reach each other by name, alias and address, non-members do not, and the
//! per-user namespace holder leaves when no container needs it.

use std::time::{Duration, Instant};

use crate::harness::*;

fn inspect(sb: &Sandbox, name: &str, format: &str) -> String {
    sb.ok(&["inspect", "-f", format, name])
        .stdout()
        .trim()
        .to_string()
}

/// `wget` from a fresh container on `net`, of `url`; what it printed, or "unreachable".
fn fetch_from(sb: &Sandbox, net: &str, url: &str) -> String {
    let o = sb.ok(&[
        "run",
        "--rm",
        "--network",
        net,
        &bb(),
        "sh",
        "-c",
        // Not the last command: as PID 1, wget would ignore timeout's SIGTERM.
        &format!("timeout 10 wget -qO- {url} 2>/dev/null || echo unreachable; true"),
    ]);
    o.stdout().trim().to_string()
}

/// The holder's pid while it runs (its pid file is gone once it left).
fn holder_pid(sb: &Sandbox) -> Option<i32> {
    std::fs::read_to_string(sb.runtime().join("box/netns/holder.pid"))
        .ok()
        .and_then(|p| p.trim().parse().ok())
}

fn wait_holder_gone(sb: &Sandbox, pid: i32) {
    // It leaves once the kernel has torn down its members' network namespaces, which
    // it does in the background, one after another for the whole machine: under the
    // load of parallel tests that has taken over 20 s.
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::path::Path::new(&format!("/proc/{pid}")).exists() || holder_pid(sb).is_some() {
        assert!(
            Instant::now() < deadline,
            "the network holder {pid} outlived every container"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn user_networks(user: User) {
    let sb = Sandbox::new(user);
    let id = sb.ok(&["network", "create", "front"]).stdout();
    assert_eq!(id.trim().len(), 64, "{id}");
    sb.ok(&["network", "create", "--subnet", "10.99.7.0/24", "back"]);
    sb.run(&["network", "create", "front"])
        .fails_with("network with name front already exists");
    sb.run(&["network", "create", "--subnet", "10.99.0.0/16", "other"])
        .fails_with("overlaps with network back");
    sb.run(&["network", "create", "host"])
        .fails_with("pre-defined network");
    assert_eq!(
        sb.ok(&["network", "ls", "--format", "{{.Name}} {{.Driver}}"])
            .stdout(),
        "back bridge\nfront bridge\n"
    );
    assert_eq!(
        sb.ok(&[
            "network",
            "inspect",
            "-f",
            "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}",
            "back"
        ])
        .stdout(),
        "10.99.7.0/24 10.99.7.1\n"
    );

    // A server on "front", known there as web and www.
    sb.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "front",
        "--network-alias",
        "www",
        &bb(),
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/etc",
    ]);
    let web_host = inspect(&sb, "web", "{{.Config.Hostname}}");
    let web_ip = inspect(
        &sb,
        "web",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
    );
    assert!(web_ip.starts_with("10.89."), "{web_ip}");
    assert_eq!(inspect(&sb, "web", "{{.HostConfig.NetworkMode}}"), "front");
    for url in [
        "http://web/hostname".to_string(),
        "http://www/hostname".to_string(),
        format!("http://{web_ip}/hostname"),
    ] {
        assert_eq!(fetch_from(&sb, "front", &url), web_host, "{url}");
    }
    // Not from another network, by name or by address.
    assert_eq!(
        fetch_from(&sb, "back", "http://web/hostname"),
        "unreachable"
    );
    assert_eq!(
        fetch_from(&sb, "back", &format!("http://{web_ip}/hostname")),
        "unreachable"
    );
    let holder = holder_pid(&sb).expect("a holder runs while members do");

    // A running member of "back" joins "front" and leaves again.
    sb.ok(&[
        "run",
        "-d",
        "--name",
        "c2",
        "--network",
        "back",
        "--ip",
        "10.99.7.9",
        &bb(),
        "sleep",
        "300",
    ]);
    sb.ok(&["network", "connect", "--alias", "cee", "front", "c2"]);
    let o = sb.ok(&[
        "exec",
        "c2",
        "sh",
        "-c",
        "ip -4 -o addr show eth0 | awk '{print $4}'; timeout 10 wget -qO- http://web/hostname",
    ]);
    assert_eq!(o.stdout(), format!("10.99.7.9/24\n{web_host}\n"));
    let hosts = sb.ok(&["exec", "web", "cat", "/etc/hosts"]).stdout();
    assert!(hosts.contains("\tc2 cee "), "{hosts}");
    sb.run(&["network", "connect", "front", "c2"])
        .fails_with("already exists in network front");
    sb.ok(&["network", "disconnect", "front", "c2"]);
    let hosts = sb.ok(&["exec", "web", "cat", "/etc/hosts"]).stdout();
    // By name and alias: the short ids are hex and may well contain "c2".
    assert!(
        !hosts.contains("\tc2 ") && !hosts.contains(" cee "),
        "{hosts}"
    );
    let o = sb.ok(&["exec", "c2", "sh", "-c", "ip -o link | grep -c eth1; true"]);
    assert_eq!(o.stdout(), "0\n", "eth1 is gone");
    sb.run(&["network", "rm", "front"])
        .fails_with("network front is in use by container web");
    sb.run(&["run", "--rm", "--network", "nosuch", &bb(), "true"])
        .fails_with("network nosuch not found");
    sb.run(&["run", "--rm", "--network-alias", "x", &bb(), "true"])
        .fails_with("only supported for user networks");

    sb.ok(&["rm", "-f", "web", "c2"]);
    wait_holder_gone(&sb, holder);
    sb.ok(&["network", "rm", "front"]);
    assert_eq!(
        sb.ok(&["network", "prune", "-f"]).stdout(),
        "Deleted Networks:\nback\n"
    );
    assert_eq!(sb.ok(&["network", "ls", "-q"]).stdout(), "");
}
per_user!(user_networks, user_networks);

/// A holder whose runtime directory goes away (a logout removes $XDG_RUNTIME_DIR)
/// leaves: nothing can find it any more. So does one sent SIGTERM (a logout, a
/// shutdown), whatever its starter blocked. The container goes on, and is removed.
fn holder_leaves_on_logout(user: User) {
    let sb = Sandbox::new(user);
    sb.ok(&["network", "create", "n1"]);
    let member = || {
        sb.ok(&[
            "run",
            "-d",
            "--name",
            "m",
            "--network",
            "n1",
            &bb(),
            "sleep",
            "300",
        ]);
        holder_pid(&sb).expect("a holder runs while a member does")
    };
    let gone = |pid: i32, why: &str| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::path::Path::new(&format!("/proc/{pid}")).exists() {
            assert!(Instant::now() < deadline, "the holder {pid} stays {why}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let pid = member();
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    );
    gone(pid, "after SIGTERM");
    sb.ok(&["rm", "-f", "m"]);
    let pid = member();
    // Away at once (the holder may be creating its lock file in it meanwhile), then
    // deleted.
    let netns = sb.runtime().join("box/netns");
    let away = sb.runtime().join("box/netns.gone");
    std::fs::rename(&netns, &away).unwrap();
    let _ = std::fs::remove_dir_all(&away);
    gone(pid, "without its directory");
    sb.ok(&["rm", "-f", "m"]);
}
per_user!(holder_leaves_on_logout, holder_leaves_on_logout);

fn container_network(user: User) {
    let sb = Sandbox::new(user);
    sb.ok(&[
        "run",
        "-d",
        "--name",
        "srv",
        &bb(),
        "httpd",
        "-f",
        "-p",
        "8080",
        "-h",
        "/etc",
    ]);
    let host = inspect(&sb, "srv", "{{.Config.Hostname}}");
    let o = sb.ok(&[
        "run",
        "--rm",
        "--network",
        "container:srv",
        &bb(),
        "sh",
        "-c",
        "hostname; timeout 10 wget -qO- http://127.0.0.1:8080/hostname",
    ]);
    assert_eq!(o.stdout(), format!("{host}\n{host}\n"));
    sb.run(&[
        "run",
        "--rm",
        "--network",
        "container:srv",
        "-p",
        "80",
        &bb(),
        "true",
    ])
    .fails_with("conflicting options: port publishing");
    sb.ok(&["stop", "-t", "0", "srv"]);
    sb.run(&["run", "--rm", "--network", "container:srv", &bb(), "true"])
        .fails_with("it is not running");
    sb.run(&[
        "run",
        "--rm",
        "--network",
        "container:nosuch",
        &bb(),
        "true",
    ])
    .fails_with("No such container: nosuch");
}
per_user!(container_network, container_network);

fn links(user: User) {
    let sb = Sandbox::new(user);
    sb.ok(&["network", "create", "ln"]);
    // runcfg exposes 80/tcp and 53/udp and sets FOO and BAR.
    sb.ok(&[
        "run",
        "-d",
        "--name",
        "db",
        "--network",
        "ln",
        "--entrypoint",
        "sleep",
        // Its user "app" (uid 1000) is not mapped for the user without subuids.
        "-u",
        "0",
        &image("runcfg"),
        "300",
    ]);
    let ip = inspect(
        &sb,
        "db",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
    );
    let id = inspect(&sb, "db", "{{.Id}}");
    let o = sb.ok(&[
        "run",
        "--rm",
        "--name",
        "client",
        "--network",
        "ln",
        "--link",
        "db:pg",
        &bb(),
        "sh",
        "-c",
        "env | grep ^PG_ | sort; grep -w pg /etc/hosts",
    ]);
    let want = format!(
        "PG_ENV_BAR=image\nPG_ENV_FOO=from-image\nPG_NAME=/client/pg\n\
         PG_PORT=udp://{ip}:53\n\
         PG_PORT_53_UDP=udp://{ip}:53\nPG_PORT_53_UDP_ADDR={ip}\nPG_PORT_53_UDP_PORT=53\nPG_PORT_53_UDP_PROTO=udp\n\
         PG_PORT_80_TCP=tcp://{ip}:80\nPG_PORT_80_TCP_ADDR={ip}\nPG_PORT_80_TCP_PORT=80\nPG_PORT_80_TCP_PROTO=tcp\n\
         {ip}\tpg db {}\n",
        &id[..12]
    );
    assert_eq!(o.stdout(), want);
    sb.run(&["run", "--rm", "--link", "db", &bb(), "true"])
        .fails_with("--link needs a user network");
    sb.run(&[
        "run",
        "--rm",
        "--network",
        "ln",
        "--link",
        "nosuch:x",
        &bb(),
        "true",
    ])
    .fails_with("could not get container for nosuch");
    sb.ok(&["rm", "-f", "db"]);
}
per_user!(links, links);

/// `network ls --format` with every field Docker's has, `json` and `table`; a format
/// of one's own wins over `-q`, as Docker's (`table` does not).
#[test]
fn network_ls_format() {
    let sb = Sandbox::new(User::Sub);
    let id = sb
        .ok(&[
            "network",
            "create",
            "--internal",
            "--label",
            "k=v",
            "--label",
            "tier=db",
            "fmt",
        ])
        .stdout()
        .trim()
        .to_string();
    sb.ok(&["network", "create", "plain"]);
    let ls = |args: &[&str]| {
        let mut all = vec!["network", "ls"];
        all.extend(args);
        sb.ok(&all).stdout()
    };
    let one = |format: &str| ls(&["--filter", "name=fmt", "--format", format]);
    assert_eq!(one("{{.ID}}"), format!("{}\n", &id[..12]));
    assert_eq!(
        ls(&["--no-trunc", "--filter", "name=fmt", "--format", "{{.ID}}"]),
        format!("{id}\n")
    );
    assert_eq!(
        one("{{.Name}}|{{.Driver}}|{{.Scope}}|{{.IPv4}}|{{.IPv6}}|{{.Internal}}"),
        "fmt|bridge|local|true|false|true\n"
    );
    assert_eq!(one("{{.Labels}}"), "k=v,tier=db\n");
    assert_eq!(one("{{.Label \"tier\"}}|{{.Label \"nope\"}}"), "db|\n");
    let created = one("{{.CreatedAt}}");
    let shape = is_go_time(created.trim());
    assert!(shape, "CreatedAt as Go prints a time: {created:?}");
    let json: serde_json::Value = serde_json::from_str(one("json").trim()).unwrap();
    for (k, v) in [
        ("Name", "fmt"),
        ("Driver", "bridge"),
        ("Scope", "local"),
        ("IPv4", "true"),
        ("IPv6", "false"),
        ("Internal", "true"),
        ("Labels", "k=v,tier=db"),
    ] {
        assert_eq!(json[k], v, "{k} in {json}");
    }
    assert_eq!(json["ID"], &id[..12]);
    assert_eq!(json["CreatedAt"], created.trim());
    assert_eq!(
        ls(&["--format", "table {{.Name}}\t{{.Internal}}"]),
        "NAME    INTERNAL\nfmt     true\nplain   false\n"
    );
    let table = ls(&["--format", "table"]);
    assert!(
        table.starts_with("NETWORK ID     NAME    DRIVER   SCOPE\n"),
        "{table}"
    );
    assert_eq!(table.lines().count(), 3, "{table}");
    // -q: the ids, unless a format of one's own says otherwise.
    let ids = ls(&["-q"]);
    assert_eq!(ids.lines().count(), 2, "{ids}");
    assert!(ids.lines().all(|l| l.len() == 12), "{ids}");
    assert_eq!(ls(&["-q", "--format", "table"]), ids);
    assert_eq!(ls(&["-q", "--format", "{{.Name}}"]), "fmt\nplain\n");
    sb.run(&["network", "ls", "--format", "{{.Nope}}"])
        .fails_with("can't evaluate field Nope");
}
