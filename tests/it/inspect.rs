//! The fields of `box inspect` that Docker users type, by value: what box was asked
//! for comes back where Docker puts it, with Docker's types (null, `[]` or `{}` where
//! Docker has them). `image inspect` and `info`: info.rs.

use std::path::Path;

use serde_json::{json, Value};

use crate::harness::*;

/// `box inspect ARGS NAME` as JSON: the one object.
fn inspect(sb: &Sandbox, args: &[&str]) -> Value {
    let mut all = vec!["inspect"];
    all.extend_from_slice(args);
    let v: Value = serde_json::from_str(&sb.ok(&all).stdout()).unwrap();
    v[0].clone()
}

fn template(sb: &Sandbox, name: &str, t: &str) -> String {
    let out = sb.ok(&["inspect", "-f", t, name]).stdout();
    out.strip_suffix('\n').unwrap_or(&out).to_string()
}

/// Docker's `HumanSizeWithPrecision(n, 3)`.
pub fn human(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i < units.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let s = format!("{v:.digits$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s}{}", units[i])
}

/// Fields whose values are maps (their keys are data, not fields).
const MAPS: &[&str] = &[
    "Labels",
    "Networks",
    "Ports",
    "PortBindings",
    "ExposedPorts",
    "Tmpfs",
    "Volumes",
    "IndexConfigs",
    "Runtimes",
    "Helpers",
];

/// Every field of `whole`, and every field of its struct-valued fields, rendered by
/// `{{json .A}}` and `{{json .A.B}}` in one template (`args` with `{}` for it), is
/// the value the JSON has.
pub fn every_field_renders(sb: &Sandbox, args: &[&str], whole: &Value, skip: &[&str]) {
    let mut fields = Vec::new();
    for (k, v) in whole.as_object().unwrap() {
        if skip.contains(&k.as_str()) {
            continue;
        }
        fields.push((format!(".{k}"), v));
        match v {
            Value::Object(m) if !MAPS.contains(&k.as_str()) => {
                fields.extend(m.iter().map(|(k2, v2)| (format!(".{k}.{k2}"), v2)));
            }
            _ => {}
        }
    }
    let template: String = fields
        .iter()
        .map(|(f, _)| format!("{{{{json {f}}}}}\n"))
        .collect();
    let args: Vec<&str> = args
        .iter()
        .map(|a| if *a == "{}" { template.as_str() } else { a })
        .collect();
    let out = sb.ok(&args).stdout();
    let lines: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), fields.len(), "{out}");
    for ((field, want), line) in fields.iter().zip(lines) {
        let got: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{field}: {line}: {e}"));
        assert_eq!(&&got, want, "{{{{json {field}}}}}");
    }
    assert!(fields.len() > 10, "{fields:?}");
}

fn container_fields(user: User) {
    let sb = Sandbox::new(user);
    // slirp4netns: its addresses are fixed (pasta copies the host's: below).
    let network = "slirp4netns";
    let id = sb
        .ok(&[
            "run",
            "-d",
            "--name",
            "full",
            "-h",
            "myhost",
            "--network",
            network,
            "-p",
            "80",
            "--cap-add",
            "net_admin",
            "--cap-add",
            "CAP_NET_ADMIN",
            "--cap-drop",
            "mknod",
            "--dns",
            "10.0.0.53",
            "--dns-search",
            "example.org",
            "--dns-option",
            "ndots:2",
            "--add-host",
            "db.local:10.1.2.3",
            "--read-only",
            "--tmpfs",
            "/tmp",
            "--security-opt",
            "no-new-privileges",
            "--restart",
            "on-failure:2",
            "-l",
            "tier=front",
            "--stop-signal",
            "SIGINT",
            "--stop-timeout",
            "7",
            "--log-opt",
            "max-size=1m",
            &bb(),
            "sleep",
            "300",
        ])
        .stdout()
        .trim()
        .to_string();
    let v = inspect(&sb, &["full"]);
    let hc = &v["HostConfig"];
    let host_port = sb.ok(&["port", "full", "80"]).stdout();
    let host_port = host_port.trim().rsplit(':').next().unwrap().to_string();
    assert_eq!(hc["Dns"], json!(["10.0.0.53"]));
    assert_eq!(hc["DnsSearch"], json!(["example.org"]));
    assert_eq!(hc["DnsOptions"], json!(["ndots:2"]));
    assert_eq!(hc["ExtraHosts"], json!(["db.local:10.1.2.3"]));
    assert_eq!(hc["Links"], Value::Null);
    assert_eq!(hc["PublishAllPorts"], false);
    assert_eq!(
        hc["PortBindings"],
        json!({"80/tcp": [{"HostIp": "", "HostPort": host_port}]})
    );
    assert_eq!(hc["CapAdd"], json!(["CAP_NET_ADMIN"]), "normalized, once");
    assert_eq!(hc["CapDrop"], json!(["CAP_MKNOD"]));
    assert_eq!(hc["Privileged"], false);
    assert_eq!(hc["ReadonlyRootfs"], true);
    assert_eq!(hc["SecurityOpt"], json!(["no-new-privileges"]));
    assert_eq!(
        hc["RestartPolicy"],
        json!({"Name": "on-failure", "MaximumRetryCount": 2})
    );
    assert_eq!(hc["AutoRemove"], false);
    assert_eq!(
        hc["Init"],
        Value::Null,
        "a pointer in Docker, set by --init"
    );
    assert_eq!(
        hc["LogConfig"],
        json!({"Type": "json-file", "Config": {"max-size": "1048576", "max-file": "3"}})
    );
    assert_eq!(hc["NetworkMode"], network);
    assert_eq!(hc["Tmpfs"], json!({"/tmp": ""}));
    assert_eq!(hc["ShmSize"], 67108864);
    assert!(hc["MaskedPaths"]
        .as_array()
        .unwrap()
        .contains(&json!("/proc/kcore")));

    let c = &v["Config"];
    assert_eq!(c["Hostname"], "myhost");
    assert_eq!(c["Domainname"], "");
    assert_eq!(c["User"], "");
    for attach in ["AttachStdin", "AttachStdout", "AttachStderr"] {
        assert_eq!(c[attach], false, "-d attaches nothing: {attach}");
    }
    assert_eq!(c["Tty"], false);
    assert_eq!(c["OpenStdin"], false);
    assert_eq!(c["ExposedPorts"], json!({"80/tcp": {}}));
    assert_eq!(c["Volumes"], Value::Null);
    assert_eq!(c["StopSignal"], "SIGINT");
    assert_eq!(c["StopTimeout"], 7);
    assert_eq!(c["Labels"], json!({"tier": "front"}));
    assert_eq!(c["Entrypoint"], Value::Null);
    assert_eq!(c["Cmd"], json!(["sleep", "300"]));
    assert_eq!(c["Image"], bb());

    let ns = &v["NetworkSettings"];
    let pid = v["State"]["Pid"].as_i64().unwrap();
    assert_eq!(ns["SandboxKey"], format!("/proc/{pid}/ns/net"));
    assert_eq!(
        ns["Ports"],
        json!({"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": host_port}]})
    );
    assert_eq!(ns["IPAddress"], "10.0.2.100", "slirp4netns's guest address");
    assert_eq!(ns["IPPrefixLen"], 24);
    assert_eq!(ns["Gateway"], "10.0.2.2");
    assert_eq!(ns["MacAddress"], "");
    let nets: Vec<&String> = ns["Networks"].as_object().unwrap().keys().collect();
    assert_eq!(nets, ["slirp4netns"]);
    assert_eq!(ns["Networks"]["slirp4netns"]["IPAddress"], "10.0.2.100");
    assert_eq!(ns["Networks"]["slirp4netns"]["Gateway"], "10.0.2.2");

    assert_eq!(v["SizeRw"], Value::Null, "only with --size");
    assert_eq!(v["SizeRootFs"], Value::Null);
    assert_eq!(v["ExecIDs"], Value::Null);
    assert_eq!(v["AppArmorProfile"], "");
    assert_eq!(v["Platform"], "linux");
    let driver = sb.ok(&["info", "-f", "{{.Driver}}"]).stdout();
    assert_eq!(v["Driver"], driver.trim());
    assert_eq!(v["GraphDriver"]["Name"], driver.trim());
    let dir = sb.store().join("containers").join(&id);
    assert_eq!(
        v["GraphDriver"]["Data"]["UpperDir"],
        dir.join("upper").display().to_string()
    );
    let file = |k: &str| std::fs::read_to_string(v[k].as_str().unwrap()).unwrap();
    assert!(
        file("HostsPath").contains("db.local"),
        "{}",
        file("HostsPath")
    );
    assert!(file("ResolvConfPath").contains("10.0.0.53"));
    assert_eq!(file("HostnamePath"), "myhost\n");
    assert!(Path::new(v["LogPath"].as_str().unwrap()).exists());

    every_field_renders(&sb, &["inspect", "-f", "{}", "full"], &v, &[]);

    // Through templates, nil lists and maps print as Go's.
    assert_eq!(
        template(
            &sb,
            "full",
            "{{.HostConfig.CapAdd}} {{.HostConfig.Links}} {{.Config.Volumes}} {{.HostConfig.Init}} {{.SizeRw}} {{.NetworkSettings.IPAddress}}"
        ),
        "[CAP_NET_ADMIN] [] map[] <nil> <nil> 10.0.2.100"
    );

    // Stopped: no addresses, no ports, no sandbox, as Docker's.
    sb.ok(&["stop", "-t", "1", "full"]);
    let ns = inspect(&sb, &["full"])["NetworkSettings"].clone();
    assert_eq!(ns["IPAddress"], "");
    assert_eq!(ns["Ports"], json!({}));
    assert_eq!(ns["SandboxKey"], "");
    assert_eq!(ns["Networks"]["slirp4netns"]["IPAddress"], "");

    // Nothing asked for: Docker's empty values.
    sb.ok(&[
        "run",
        "-d",
        "-i",
        "--name",
        "plain",
        "--network",
        "none",
        &bb(),
        "sh",
        "-c",
        "head -c 100000 /dev/zero > /big; sleep 300",
    ]);
    // --size: the writable layer and the root filesystem, which is the image's
    // layers and it.
    let sized = {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let s = inspect(&sb, &["-s", "plain"]);
            if s["SizeRw"].as_u64().unwrap() >= 100_000 || std::time::Instant::now() > deadline {
                break s;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    let rw = sized["SizeRw"].as_u64().unwrap();
    let root = sized["SizeRootFs"].as_u64().unwrap();
    assert!(
        (100_000..101_000).contains(&rw),
        "the container wrote 100kB: {sized}"
    );
    let image_size: Value =
        serde_json::from_str(&sb.ok(&["image", "inspect", &bb()]).stdout()).unwrap();
    let image_size = image_size[0]["Size"].as_u64().unwrap();
    assert_eq!(root, rw + image_size, "{sized}");
    let size = format!("{} (virtual {})", human(rw), human(root));
    assert_eq!(
        sb.ok(&["ps", "--format", "{{.Names}} {{.Size}}"]).stdout(),
        format!("plain {size}\n")
    );
    let table = sb.ok(&["ps", "-s"]).stdout();
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].ends_with("   NAMES   SIZE"), "{table}");
    assert!(lines[1].ends_with(&format!("   plain   {size}")), "{table}");
    let json: Value =
        serde_json::from_str(sb.ok(&["ps", "-s", "--format", "json"]).stdout().trim()).unwrap();
    assert_eq!(json["Size"], size.as_str());
    let json: Value =
        serde_json::from_str(sb.ok(&["ps", "--format", "json"]).stdout().trim()).unwrap();
    assert_eq!(
        json["Size"], "0B",
        "as Docker's: measured only when asked for"
    );

    let v = inspect(&sb, &["plain"]);
    every_field_renders(&sb, &["inspect", "-f", "{}", "plain"], &v, &[]);
    let hc = &v["HostConfig"];
    for (k, want) in [
        ("CapAdd", Value::Null),
        ("CapDrop", Value::Null),
        ("Dns", json!([])),
        ("DnsSearch", json!([])),
        ("DnsOptions", json!([])),
        ("ExtraHosts", Value::Null),
        ("Links", Value::Null),
        ("SecurityOpt", Value::Null),
        ("Init", Value::Null),
        ("ReadonlyRootfs", json!(false)),
        ("PortBindings", json!({})),
        (
            "RestartPolicy",
            json!({"Name": "no", "MaximumRetryCount": 0}),
        ),
    ] {
        assert_eq!(hc[k], want, "HostConfig.{k}");
    }
    assert_eq!(v["Config"]["OpenStdin"], true);
    assert_eq!(v["Config"]["AttachStdin"], false, "detached");
    assert_eq!(v["Config"]["ExposedPorts"], Value::Null);
    assert_eq!(v["Config"]["StopSignal"], "");
    assert_eq!(v["Config"]["StopTimeout"], Value::Null);
    assert_eq!(v["Config"]["Labels"], json!({}));
    let ns = &v["NetworkSettings"];
    assert_eq!(ns["IPAddress"], "");
    assert_eq!(ns["Gateway"], "");
    assert_eq!(ns["Ports"], json!({}));
    assert_eq!(ns["Networks"]["none"]["IPAddress"], "");
    assert_eq!(
        template(
            &sb,
            "plain",
            "{{.Config.ExposedPorts}} {{.HostConfig.Dns}} {{.HostConfig.CapDrop}}"
        ),
        "map[] [] []"
    );

    // In the foreground: its output streams are attached; privileged: no masks.
    sb.ok(&[
        "run",
        "--name",
        "fg",
        "--init",
        "--privileged",
        "--network",
        "none",
        &bb(),
        "true",
    ]);
    let v = inspect(&sb, &["fg"]);
    assert_eq!(v["Config"]["AttachStdin"], false);
    assert_eq!(v["Config"]["AttachStdout"], true);
    assert_eq!(v["Config"]["AttachStderr"], true);
    assert_eq!(v["HostConfig"]["Privileged"], true);
    assert_eq!(v["HostConfig"]["MaskedPaths"], Value::Null);
    assert_eq!(v["HostConfig"]["Init"], true);

    // -P: the image's exposed ports, not published without a network of its own.
    sb.ok(&[
        "run",
        "-d",
        "--name",
        "cfg",
        "-P",
        "--network",
        "none",
        "-u",
        "0",
        "--entrypoint",
        "sleep",
        &image("runcfg"),
        "300",
    ]);
    let v = inspect(&sb, &["cfg"]);
    assert_eq!(v["HostConfig"]["PublishAllPorts"], true);
    assert_eq!(
        v["Config"]["ExposedPorts"],
        json!({"53/udp": {}, "80/tcp": {}})
    );
    assert_eq!(
        v["NetworkSettings"]["Ports"],
        json!({"53/udp": null, "80/tcp": null})
    );
    assert_eq!(v["Config"]["Entrypoint"], json!(["sleep"]));
    assert_eq!(v["Config"]["Cmd"], json!(["300"]));
    assert_eq!(v["Config"]["StopSignal"], "SIGUSR1");
    assert_eq!(v["Config"]["User"], "0");
}
per_user!(container_inspect_fields, container_fields);

/// The host's IPv4 address and prefix on the interface of its default route, which
/// pasta copies into the container.
fn host_address() -> (String, u64, String) {
    let routes = std::fs::read_to_string("/proc/net/route").unwrap();
    let (iface, gw) = routes
        .lines()
        .skip(1)
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[1] == "00000000").then(|| {
                let g = u32::from_str_radix(f[2], 16).unwrap();
                (
                    f[0].to_string(),
                    std::net::Ipv4Addr::from(g.swap_bytes()).to_string(),
                )
            })
        })
        .expect("a default route");
    let out = std::process::Command::new("ip")
        .args(["-4", "-o", "addr", "show", "dev", &iface])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let cidr = text
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .unwrap_or_else(|| panic!("{text}"))
        .to_string();
    let (ip, prefix) = cidr.split_once('/').unwrap();
    (ip.to_string(), prefix.parse().unwrap(), gw)
}

/// pasta's address is the host's; user networks have their own, and a link.
#[test]
fn network_settings_of_pasta_and_user_networks() {
    let sb = Sandbox::new(User::Sub);
    sb.ok(&[
        "run",
        "-d",
        "--name",
        "p",
        "--network",
        "pasta",
        &bb(),
        "sleep",
        "300",
    ]);
    let (ip, prefix, gw) = host_address();
    let ns = inspect(&sb, &["p"])["NetworkSettings"].clone();
    assert_eq!(ns["IPAddress"], ip.as_str(), "{ns}");
    assert_eq!(ns["IPPrefixLen"], prefix);
    assert_eq!(ns["Gateway"], gw.as_str());
    assert_eq!(ns["Networks"]["pasta"]["IPAddress"], ip.as_str());

    sb.ok(&["network", "create", "lnk"]);
    assert_eq!(
        sb.ok(&[
            "network",
            "ls",
            "--format",
            "{{.Name}} {{.Driver}} {{.Scope}} {{.Internal}} {{.IPv6}}"
        ])
        .stdout(),
        "lnk bridge local false false\n"
    );
    let listed: Value = serde_json::from_str(
        sb.ok(&["network", "ls", "--format", "json"])
            .stdout()
            .trim(),
    )
    .unwrap();
    assert_eq!(listed["Name"], "lnk");
    sb.ok(&[
        "run",
        "-d",
        "--name",
        "db",
        "--network",
        "lnk",
        &bb(),
        "sleep",
        "300",
    ]);
    sb.ok(&[
        "run",
        "-d",
        "--name",
        "app",
        "--network",
        "lnk",
        "--network-alias",
        "api",
        "--link",
        "db:pg",
        &bb(),
        "sleep",
        "300",
    ]);
    let v = inspect(&sb, &["app"]);
    assert_eq!(v["HostConfig"]["Links"], json!(["/db:/app/pg"]));
    let ns = &v["NetworkSettings"];
    assert_eq!(
        ns["IPAddress"], "",
        "no default network: Docker's top level is empty"
    );
    let keys: Vec<&String> = ns["Networks"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["lnk"]);
    let e = &ns["Networks"]["lnk"];
    let member = sb
        .ok(&[
            "network",
            "inspect",
            "-f",
            "{{range .Containers}}{{if eq .Name \"app\"}}{{.IPv4Address}} {{.MacAddress}}{{end}}{{end}}",
            "lnk",
        ])
        .stdout();
    let (cidr, mac) = member.trim().split_once(' ').unwrap();
    assert_eq!(
        format!("{}/{}", e["IPAddress"].as_str().unwrap(), e["IPPrefixLen"]),
        cidr
    );
    assert_eq!(e["MacAddress"], mac);
    assert!(e["Gateway"].as_str().unwrap().ends_with(".1"), "{e}");
    assert!(
        e["Aliases"].as_array().unwrap().contains(&json!("api")),
        "{e}"
    );
    assert_eq!(e["DNSNames"][0], "app");
    assert_eq!(
        template(&sb, "app", "{{.NetworkSettings.Networks.lnk.IPAddress}}"),
        e["IPAddress"].as_str().unwrap()
    );
}
