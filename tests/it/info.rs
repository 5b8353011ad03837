//! The fields of `box image inspect` and `box info` that Docker users type, by value,
//! with Docker's types.

use std::path::Path;

use serde_json::{json, Value};

use crate::harness::*;
use crate::inspect::{every_field_renders, human};

#[test]
fn image_inspect_fields() {
    let sb = Sandbox::new(User::NoSub);
    sb.ok(&["pull", "-q", &bb()]);
    sb.ok(&["pull", "-q", &image("runcfg")]);
    let f = fixture("busybox");
    let v: Value = serde_json::from_str(&sb.ok(&["image", "inspect", &bb()]).stdout()).unwrap();
    let v = &v[0];
    every_field_renders(&sb, &["image", "inspect", "-f", "{}", &bb()], v, &[]);
    assert_eq!(v["Id"], f["config"]);
    assert_eq!(v["RepoTags"], json!([bb()]));
    assert_eq!(
        v["RepoDigests"],
        json!([format!(
            "{}/busybox@{}",
            registry(),
            f["manifest"].as_str().unwrap()
        )])
    );
    assert_eq!(v["Parent"], "");
    assert_eq!(v["Comment"], "");
    assert_eq!(v["Author"], "");
    assert_eq!(v["DockerVersion"], "");
    assert_eq!(v["Variant"], "");
    assert_eq!(v["Os"], "linux");
    let arch = sb.ok(&["version"]).stdout();
    let arch = arch
        .lines()
        .find_map(|l| l.strip_prefix("OS/Arch:"))
        .unwrap();
    assert_eq!(
        format!("linux/{}", v["Architecture"].as_str().unwrap()),
        arch.trim()
    );
    assert!(v["Size"].as_u64().unwrap() > 0);
    assert_eq!(v["VirtualSize"], v["Size"]);
    let listed = sb.ok(&["images", "--format", "{{.Size}}", &bb()]).stdout();
    assert_eq!(listed.trim(), human(v["Size"].as_u64().unwrap()));
    assert_eq!(
        v["RootFS"],
        json!({"Type": "layers", "Layers": f["diff_ids"]})
    );
    for t in ["Created", "Metadata"] {
        assert!(!v[t].is_null(), "{t}");
    }
    chrono::DateTime::parse_from_rfc3339(v["Metadata"]["LastTagTime"].as_str().unwrap()).unwrap();
    // Docker's whole Config, whatever the image sets.
    let keys: Vec<&str> = v["Config"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for k in [
        "Hostname",
        "Domainname",
        "User",
        "AttachStdin",
        "AttachStdout",
        "AttachStderr",
        "ExposedPorts",
        "Tty",
        "OpenStdin",
        "StdinOnce",
        "Env",
        "Cmd",
        "Image",
        "Volumes",
        "WorkingDir",
        "Entrypoint",
        "OnBuild",
        "Labels",
    ] {
        assert!(keys.contains(&k), "Config.{k}: {keys:?}");
    }
    let t = |img: &str, t: &str| {
        let out = sb.ok(&["image", "inspect", "-f", t, img]).stdout();
        out.trim_end_matches('\n').to_string()
    };
    assert_eq!(
        t(&bb(), "{{.Config.Labels}} {{.Config.ExposedPorts}} {{.Config.Volumes}} {{.Config.Entrypoint}} {{.Config.OnBuild}} {{.Config.Cmd}} {{.Config.WorkingDir}}|"),
        "map[] map[] map[] [] [] [sh] |"
    );
    let cfg = image("runcfg");
    assert_eq!(
        t(&cfg, "{{.Config.ExposedPorts}} {{.Config.StopSignal}} {{.Config.User}} {{.Config.WorkingDir}} {{json .Config.Entrypoint}}"),
        "map[53/udp:{} 80/tcp:{}] SIGUSR1 app /home/app/work [\"/bin/echo\",\"entry\"]"
    );
}

/// `{{.Field}}` of `box info` for `user`.
fn info(sb: &Sandbox, field: &str) -> String {
    let out = sb
        .ok(&["info", "-f", &format!("{{{{json .{field}}}}}")])
        .stdout();
    out.trim().to_string()
}

#[test]
fn info_fields() {
    for user in [User::Sub, User::Root] {
        let sb = Sandbox::new(user);
        let v: Value = serde_json::from_str(&sb.ok(&["info", "-f", "json"]).stdout()).unwrap();
        every_field_renders(&sb, &["info", "-f", "{}"], &v, &["SystemTime"]);
        let id = v["ID"].as_str().unwrap();
        assert_eq!(id.len(), 36, "a UUID: {id}");
        assert_eq!(id.matches('-').count(), 4, "{id}");
        assert_eq!(info(&sb, "ID"), format!("\"{id}\""), "the same every time");
        assert_ne!(
            info(&Sandbox::new(user), "ID"),
            format!("\"{id}\""),
            "another store, another id"
        );
        assert_eq!(v["CgroupDriver"], "none", "box makes no cgroups");
        let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
        assert_eq!(v["CgroupVersion"], if v2 { "2" } else { "1" });
        let t = chrono::DateTime::parse_from_rfc3339(v["SystemTime"].as_str().unwrap()).unwrap();
        let skew = (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds();
        assert!(skew.abs() < 60, "{t}");
        assert_eq!(v["Debug"], false);
        assert_eq!(
            sb.ok(&["--log-level", "debug", "info", "-f", "{{.Debug}}"])
                .stdout(),
            "true\n"
        );
        assert_eq!(v["Labels"], json!([]));
        assert_eq!(v["Swarm"]["LocalNodeState"], "inactive");
        assert_eq!(v["DefaultRuntime"], "box");
        assert!(
            v["Runtimes"]["box"]["path"]
                .as_str()
                .unwrap()
                .ends_with("/box"),
            "{v}"
        );
        assert_eq!(v["Plugins"]["Volume"], json!([]), "no volumes yet");
        assert_eq!(v["Plugins"]["Log"], json!(["json-file"]));
        for n in ["bridge", "host", "none"] {
            assert!(v["Plugins"]["Network"]
                .as_array()
                .unwrap()
                .contains(&json!(n)));
        }
        let mut security = vec!["name=seccomp,profile=builtin"];
        if user != User::Root {
            security.push("name=rootless");
        }
        security.push("name=cgroupns");
        assert_eq!(v["SecurityOptions"], json!(security));
        for limit in ["MemoryLimit", "SwapLimit", "CpuCfsQuota", "PidsLimit"] {
            assert_eq!(v[limit], false, "{limit}");
        }
        assert_eq!(v["IndexServerAddress"], "https://index.docker.io/v1/");
        assert_eq!(
            v["RegistryConfig"]["IndexConfigs"]["docker.io"],
            json!({"Name": "docker.io", "Mirrors": [], "Secure": true, "Official": true})
        );
        assert_eq!(
            v["RegistryConfig"]["InsecureRegistryCIDRs"],
            json!(["127.0.0.0/8"])
        );
        assert_eq!(v["HttpProxy"], "");
        assert_eq!(v["LoggingDriver"], "json-file");
        assert_eq!(v["OSType"], "linux");
        assert_eq!(
            v["Warnings"],
            json!([]),
            "{user:?} maps a full range or is root"
        );
    }

    // The registries of config.toml, and the proxies of the environment (passwords
    // hidden).
    let sb = Sandbox::new(User::NoSub);
    sb.write(
        "config/box/config.toml",
        "[registries]\ndefault = \"reg.lan:5000\"\ninsecure = [\"reg.lan:5000\"]\n[registries.mirrors]\n\"docker.io\" = [\"mirror.lan\"]\n",
    );
    let mut cmd = sb.cmd(&["info", "-f", "json"]);
    cmd.env("HTTPS_PROXY", "http://me:secret@proxy.lan:3128")
        .env("no_proxy", "localhost,.lan");
    let out = output_within(cmd, RUN_LIMIT);
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["HttpsProxy"], "http://xxxxx:xxxxx@proxy.lan:3128");
    assert_eq!(v["NoProxy"], "localhost,.lan");
    assert_eq!(v["IndexServerAddress"], "http://reg.lan:5000/");
    assert_eq!(
        v["RegistryConfig"]["IndexConfigs"]["reg.lan:5000"],
        json!({"Name": "reg.lan:5000", "Mirrors": [], "Secure": false, "Official": false})
    );
    assert_eq!(
        v["RegistryConfig"]["IndexConfigs"]["docker.io"]["Mirrors"],
        json!(["mirror.lan"])
    );
    assert_eq!(v["RegistryConfig"]["Mirrors"], json!(["mirror.lan"]));
    assert_eq!(
        v["Warnings"],
        json!(["WARNING: no subordinate id range: box maps one id"])
    );
    assert!(!v["SecurityOptions"].as_array().unwrap().is_empty());
}
