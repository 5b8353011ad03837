//! `--format` on `ps`, `images`, `inspect` and `info`: every field Docker names, JSON
//! that parses, `table` headers, and templates that do not parse.

use serde_json::Value;

use crate::harness::*;

/// `box ARGS` printing one JSON object per line.
fn json_lines(sb: &Sandbox, args: &[&str]) -> Vec<Value> {
    sb.ok(args)
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

/// `web`: running, labelled, with a bind mount and no network; `done`: exited.
fn two_containers(sb: &Sandbox) -> String {
    let src = sb.home().display().to_string();
    let id = sb
        .ok(&[
            "run",
            "-d",
            "--name",
            "web",
            "--network",
            "none",
            "-l",
            "tier=front",
            "-l",
            "a=b",
            "-v",
            &format!("{src}:/data:ro"),
            &bb(),
            "sleep",
            "300",
        ])
        .stdout()
        .trim()
        .to_string();
    sb.ok(&["run", "--name", "done", "--network", "none", &bb(), "true"]);
    id
}

fn ps_fields(user: User) {
    let sb = Sandbox::new(user);
    let id = two_containers(&sb);
    let src = sb.home().display().to_string();

    let rows = json_lines(&sb, &["ps", "--format", "json"]);
    assert_eq!(rows.len(), 1, "only the running one: {rows:?}");
    let r = &rows[0];
    let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "Command",
            "CreatedAt",
            "ID",
            "Image",
            "Labels",
            "LocalVolumes",
            "Mounts",
            "Names",
            "Networks",
            "Ports",
            "RunningFor",
            "Size",
            "State",
            "Status"
        ],
        "Docker's fields, in Docker's (sorted) order"
    );
    assert_eq!(r["Command"], "\"sleep 300\"");
    assert!(is_go_time(r["CreatedAt"].as_str().unwrap()), "{r}");
    assert_eq!(r["ID"], &id[..12]);
    assert_eq!(r["Image"], bb());
    assert_eq!(r["Labels"], "a=b,tier=front");
    assert_eq!(r["LocalVolumes"], "0");
    let cut: String = src.chars().take(14).collect::<String>() + "…";
    assert_eq!(r["Mounts"], cut.as_str(), "cut to 15 as Docker's");
    assert_eq!(r["Names"], "web");
    assert_eq!(r["Networks"], "none");
    assert_eq!(r["Ports"], "");
    assert!(r["RunningFor"].as_str().unwrap().ends_with(" ago"), "{r}");
    assert_eq!(r["Size"], "0B");
    assert_eq!(r["State"], "running");
    assert!(r["Status"].as_str().unwrap().starts_with("Up "), "{r}");

    // Each field through a template is what the JSON says (times may tick over; a
    // template that shows the size has it measured: inspect.rs).
    for (field, value) in r.as_object().unwrap() {
        if matches!(field.as_str(), "RunningFor" | "Status" | "Size") {
            continue;
        }
        let out = sb
            .ok(&["ps", "--format", &format!("{{{{.{field}}}}}")])
            .stdout();
        assert_eq!(out, format!("{}\n", value.as_str().unwrap()), "{field}");
    }
    let label = sb
        .ok(&["ps", "--format", "{{.Label \"tier\"}}|{{.Label \"nope\"}}"])
        .stdout();
    assert_eq!(label, "front|\n");
    let line = sb
        .ok(&["ps", "--format", "{{.Names}}\\t{{.State}}"])
        .stdout();
    assert_eq!(line, "web\trunning\n", "\\t is a tab");
    let whole = json_lines(&sb, &["ps", "--format", "{{json .}}"]);
    assert_eq!(whole[0]["ID"], r["ID"]);
    assert_eq!(whole[0]["Labels"], r["Labels"]);
    let funcs = sb
        .ok(&[
            "ps",
            "--format",
            "{{upper .Names}} {{lower \"AB\"}} {{title .State}} {{join (split .Labels \",\") \";\"}} {{truncate .ID 4}}{{println}}",
        ])
        .stdout();
    assert_eq!(
        funcs,
        format!("WEB ab Running a=b;tier=front {}\n\n", &id[..4])
    );
    let go = sb
        .ok(&[
            "ps",
            "--format",
            "{{slice .ID 0 4}} {{html \"<a&b>\"}} {{js \"it's\"}} {{urlquery .Labels}} {{printf \"%.3s|%-4s|\" .Names .State}}",
        ])
        .stdout();
    assert_eq!(
        go,
        format!(
            "{} &lt;a&amp;b&gt; it\\'s a%3Db%2Ctier%3Dfront web|running|\n",
            &id[..4]
        )
    );
    sb.run(&["ps", "--format", "{{define \"x\"}}{{end}}"])
        .fails_with("{{define}} is not supported in box's --format");

    // All states, untruncated, and a format of one's own winning over -q.
    let all = sb
        .ok(&["ps", "-a", "--format", "{{.Names}} {{.State}}"])
        .stdout();
    assert_eq!(all, "done exited\nweb running\n");
    let full = sb
        .ok(&["ps", "--no-trunc", "--format", "{{.ID}} {{.Mounts}}"])
        .stdout();
    assert_eq!(full, format!("{id} {src}\n"));
    assert_eq!(
        sb.ok(&["ps", "-q", "--format", "{{.Names}}"]).stdout(),
        "web\n"
    );
    assert_eq!(
        sb.ok(&["container", "ls", "--format", "{{.Names}}"])
            .stdout(),
        "web\n"
    );

    // table: Docker's headers, columns aligned as box's own tables.
    let t = sb
        .ok(&[
            "ps",
            "-a",
            "--format",
            "table {{.ID}}\\t{{upper .Names}}\\t{{.Label \"tier\"}}\\t{{.State}}",
        ])
        .stdout();
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines.len(), 3, "{t}");
    assert_eq!(lines[0], "CONTAINER ID   NAMES   TIER    STATE", "{t}");
    assert_eq!(
        lines[2],
        format!("{}   WEB     front   running", &id[..12]),
        "{t}"
    );
    assert!(lines[1].ends_with("   DONE            exited"), "{t}");
    let head = sb
        .ok(&["ps", "--format", "table {{.ID}}\\t{{.Image}}\\t{{.Command}}\\t{{.CreatedAt}}\\t{{.RunningFor}}\\t{{.Ports}}\\t{{.State}}\\t{{.Status}}\\t{{.Size}}\\t{{.Names}}\\t{{.Labels}}\\t{{.Mounts}}\\t{{.LocalVolumes}}\\t{{.Networks}}"])
        .stdout();
    let header: Vec<&str> = head
        .lines()
        .next()
        .unwrap()
        .split("   ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        header,
        [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED AT",
            "CREATED",
            "PORTS",
            "STATE",
            "STATUS",
            "SIZE",
            "NAMES",
            "LABELS",
            "MOUNTS",
            "LOCAL VOLUMES",
            "NETWORKS"
        ]
    );
    // `table` alone is the default listing.
    assert_eq!(
        sb.ok(&["ps", "--format", "table"]).stdout(),
        sb.ok(&["ps"]).stdout()
    );
}
per_user!(ps_fields, ps_fields);

#[test]
fn images_fields() {
    let sb = Sandbox::new(User::NoSub);
    sb.ok(&["pull", "-q", &bb()]);
    let f = fixture("busybox");
    let rows = json_lines(&sb, &["images", "--format", "json"]);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "Containers",
            "CreatedAt",
            "CreatedSince",
            "Digest",
            "ID",
            "Repository",
            "SharedSize",
            "Size",
            "Tag",
            "UniqueSize",
            "VirtualSize"
        ]
    );
    assert_eq!(r["ID"], &f["config"].as_str().unwrap()[7..19]);
    assert_eq!(r["Repository"], format!("{}/busybox", registry()));
    assert_eq!(r["Tag"], "latest");
    assert_eq!(r["Digest"], f["manifest"]);
    assert_eq!(r["Containers"], "0");
    assert_eq!(r["SharedSize"], "N/A");
    assert_eq!(r["UniqueSize"], "N/A");
    assert_eq!(r["VirtualSize"], r["Size"]);
    let table = sb.ok(&["images"]).stdout();
    let size = table
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap()
        .to_string();
    assert_eq!(r["Size"], size.as_str(), "{table}");
    let created = r["CreatedAt"].as_str().unwrap();
    assert!(created.is_empty() || is_go_time(created), "{r}");
    let since = r["CreatedSince"].as_str().unwrap();
    assert!(since == "N/A" || since.ends_with(" ago"), "{r}");
    for (field, value) in r.as_object().unwrap() {
        let out = sb
            .ok(&["image", "ls", "--format", &format!("{{{{.{field}}}}}")])
            .stdout();
        assert_eq!(out, format!("{}\n", value.as_str().unwrap()), "{field}");
    }

    sb.ok(&["run", "--name", "c1", "--network", "none", &bb(), "true"]);
    assert_eq!(
        sb.ok(&[
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}} {{.Containers}}"
        ])
        .stdout(),
        format!("{}:latest 1\n", bb().trim_end_matches(":latest"))
    );
    let no_trunc = sb
        .ok(&["images", "--no-trunc", "--format", "{{.ID}}"])
        .stdout();
    assert_eq!(no_trunc, format!("{}\n", f["config"].as_str().unwrap()));
    let t = sb
        .ok(&[
            "images",
            "--format",
            "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.Digest}}\\t{{.CreatedSince}}\\t{{.CreatedAt}}\\t{{.Size}}\\t{{.Containers}}\\t{{.SharedSize}}\\t{{.UniqueSize}}",
        ])
        .stdout();
    let header: Vec<&str> = t
        .lines()
        .next()
        .unwrap()
        .split("   ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        header,
        [
            "REPOSITORY",
            "TAG",
            "IMAGE ID",
            "DIGEST",
            "CREATED",
            "CREATED AT",
            "SIZE",
            "CONTAINERS",
            "SHARED SIZE",
            "UNIQUE SIZE"
        ]
    );
    assert!(
        t.lines()
            .nth(1)
            .unwrap()
            .starts_with(&format!("{}/busybox", registry())),
        "{t}"
    );
}

#[test]
fn inspect_templates() {
    let sb = Sandbox::new(User::Sub);
    let id = two_containers(&sb);
    let src = sb.home().display().to_string();
    let one = |args: &[&str]| sb.ok(args).stdout();
    assert_eq!(
        one(&["inspect", "-f", "{{.State.Status}}", "web"]),
        "running\n"
    );
    assert_eq!(
        one(&[
            "inspect",
            "--format",
            "{{.State.Status}} {{.Name}}",
            "web",
            "done"
        ]),
        "running /web\nexited /done\n",
        "one line per object"
    );
    assert_eq!(
        one(&["inspect", "-f", "{{index .Config.Labels \"tier\"}}", "web"]),
        "front\n"
    );
    assert_eq!(
        one(&[
            "inspect",
            "-f",
            "{{.Config.Labels.tier}} {{.Config.Labels}}",
            "web"
        ]),
        "front map[a:b tier:front]\n"
    );
    assert_eq!(
        one(&[
            "inspect",
            "-f",
            "{{range .Mounts}}{{.Source}}:{{.Destination}}:{{.RW}}{{end}}",
            "web"
        ]),
        format!("{src}:/data:false\n")
    );
    assert_eq!(
        one(&[
            "inspect",
            "-f",
            "{{.Path}} {{.Args}} {{join .Config.Cmd \",\"}} {{upper .HostConfig.NetworkMode}}",
            "web"
        ]),
        "sleep [300] sleep,300 NONE\n"
    );
    assert_eq!(
        one(&[
            "inspect",
            "-f",
            "{{if .State.Running}}up{{else}}down{{end}} {{len .Mounts}}",
            "web"
        ]),
        "up 1\n"
    );
    let state: Value =
        serde_json::from_str(&one(&["inspect", "-f", "{{json .State}}", "web"])).unwrap();
    assert_eq!(state["Status"], "running");
    assert!(state["Pid"].as_i64().unwrap() > 0);
    let pretty: Value = serde_json::from_str(&one(&["inspect", "web"])).unwrap();
    let line = one(&["inspect", "--format", "json", "web"]);
    assert_eq!(line.lines().count(), 1, "{line}");
    let compact: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(compact["Id"], id.as_str());
    assert_eq!(compact["Config"], pretty[0]["Config"]);
    let whole: Value = serde_json::from_str(&one(&["inspect", "-f", "{{json .}}", "web"])).unwrap();
    assert_eq!(whole["Mounts"], pretty[0]["Mounts"]);
    assert_eq!(
        one(&["container", "inspect", "-f", "{{.Id}}", "web"]),
        format!("{id}\n")
    );
    let f = fixture("busybox");
    assert_eq!(
        one(&["image", "inspect", "-f", "{{.Id}} {{.Os}}", &bb()]),
        format!("{} linux\n", f["config"].as_str().unwrap())
    );
    assert_eq!(
        one(&[
            "inspect",
            "--type",
            "image",
            "-f",
            "{{index .RepoDigests 0}}",
            &bb()
        ]),
        format!(
            "{}/busybox@{}\n",
            registry(),
            f["manifest"].as_str().unwrap()
        )
    );
    let img: Value =
        serde_json::from_str(&one(&["image", "inspect", "--format", "json", &bb()])).unwrap();
    assert_eq!(img["Id"], f["config"]);
    sb.run(&["inspect", "-f", "{{.Nope}}", "web"])
        .fails_with("can't evaluate field Nope");
}

#[test]
fn info_templates() {
    let sb = Sandbox::new(User::Sub);
    let v: Value =
        serde_json::from_str(&sb.ok(&["info", "--format", "{{json .}}"]).stdout()).unwrap();
    for key in [
        "ServerVersion",
        "Containers",
        "ContainersRunning",
        "ContainersStopped",
        "Images",
        "Driver",
        "KernelVersion",
        "OperatingSystem",
        "OSType",
        "Architecture",
        "NCPU",
        "MemTotal",
        "DockerRootDir",
        "Name",
    ] {
        assert!(v.get(key).is_some(), "{key} missing: {v}");
    }
    assert_eq!(v["ServerVersion"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["OSType"], "linux");
    assert_eq!(v["DockerRootDir"], sb.store().display().to_string());
    assert!(v["NCPU"].as_u64().unwrap() >= 1);
    assert!(v["MemTotal"].as_u64().unwrap() > 0);
    assert_eq!(v["Images"], 0);
    let as_json: Value = serde_json::from_str(&sb.ok(&["info", "-f", "json"]).stdout()).unwrap();
    assert_eq!(as_json["Driver"], v["Driver"]);

    two_containers(&sb);
    assert_eq!(
        sb.ok(&[
            "info",
            "-f",
            "{{.Containers}} {{.ContainersRunning}} {{.ContainersStopped}} {{.Images}}"
        ])
        .stdout(),
        "2 1 1 1\n"
    );
    assert_eq!(
        sb.ok(&[
            "system",
            "info",
            "--format",
            "{{.OSType}}/{{.Architecture}}"
        ])
        .stdout(),
        format!("linux/{}\n", std::env::consts::ARCH)
    );
}

#[test]
fn bad_templates() {
    let sb = Sandbox::new(User::Sub);
    sb.run(&["ps", "--format", "{{.Names"])
        .fails_with("template parsing error: template: :1: unclosed action");
    sb.run(&["images", "--format", "{{nope .ID}}"])
        .fails_with("template parsing error: template: :1: function \"nope\" not defined");
    sb.run(&["inspect", "-f", "{{if .State}}x", "whatever"])
        .fails_with("template parsing error: template: :1: unexpected EOF");
    sb.run(&["info", "--format", "{{end}}"])
        .fails_with("template parsing error: template: :1: unexpected {{end}}");
    sb.run(&["image", "inspect", "-f", "{{.Id", "x"])
        .fails_with("template parsing error");
    let out = sb.run(&["ps", "-a", "--format", "table {{.Nope}}"]);
    assert_eq!(
        out.code(),
        0,
        "no rows, nothing to evaluate: {}",
        out.both()
    );
    sb.ok(&["run", "--name", "x", "--network", "none", &bb(), "true"]);
    sb.run(&["ps", "-a", "--format", "{{.Nope}}"])
        .fails_with("can't evaluate field Nope");
}
