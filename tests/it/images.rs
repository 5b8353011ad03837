//! `box images`, `tag`, `image inspect` and `info`: what the store shows.

use serde_json::Value;

use crate::harness::*;

#[test]
fn images_columns_and_flags() {
    let sb = Sandbox::new(User::Sub);
    sb.ok(&["pull", "-q", &image("busybox")]);
    sb.ok(&["pull", "-q", &image("busybox:1.36")]);
    sb.ok(&["pull", "-q", &image("layers")]);
    let list = sb.ok(&["images"]).stdout();
    let lines: Vec<&str> = list.lines().collect();
    let header: Vec<&str> = lines[0]
        .split("   ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(header, ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]);
    assert_eq!(lines.len(), 4, "{list}");
    let bb_id = &fixture("busybox")["config"].as_str().unwrap()[7..19];
    let bb_rows: Vec<&&str> = lines.iter().filter(|l| l.contains(bb_id)).collect();
    assert_eq!(bb_rows.len(), 2, "two tags, one image:\n{list}");
    assert!(
        lines.iter().all(|l| l == &lines[0] || l.contains("ago")),
        "{list}"
    );

    let q = sb.ok(&["images", "-q"]).stdout();
    assert_eq!(q.lines().count(), 2, "-q lists each image once:\n{q}");
    assert!(q.lines().all(|l| l.len() == 12));
    let full = sb.ok(&["images", "-q", "--no-trunc"]).stdout();
    assert!(
        full.lines()
            .any(|l| l == fixture("busybox")["config"].as_str().unwrap()),
        "{full}"
    );
    let d = sb.ok(&["images", "--digests"]).stdout();
    assert!(d.lines().next().unwrap().contains("DIGEST"));
    assert!(
        d.contains(fixture("busybox")["manifest"].as_str().unwrap()),
        "{d}"
    );
    let only = sb
        .ok(&["images", &format!("{}/busybox", registry())])
        .stdout();
    assert_eq!(only.lines().count(), 3, "{only}");
}

#[test]
fn tag_and_inspect() {
    let sb = Sandbox::new(User::NoSub);
    sb.ok(&["pull", "-q", &image("layers")]);
    sb.ok(&["tag", &image("layers"), "myapp:v1"]);
    let v: Value =
        serde_json::from_str(&sb.ok(&["image", "inspect", "myapp:v1"]).stdout()).unwrap();
    let f = fixture("layers");
    assert_eq!(v[0]["Id"], f["config"]);
    let tags: Vec<&str> = v[0]["RepoTags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        tags.contains(&"myapp:v1")
            && tags.contains(&format!("{}/layers:latest", registry()).as_str()),
        "{tags:?}"
    );
    assert_eq!(
        v[0]["RepoDigests"][0],
        format!("{}/layers@{}", registry(), f["manifest"].as_str().unwrap())
    );
    assert_eq!(v[0]["RootFS"]["Layers"], f["diff_ids"]);
    assert_eq!(v[0]["Os"], "linux");
    assert_eq!(v[0]["Config"]["Cmd"][0], "sh");
    // By abbreviated id, too.
    let by_id: Value = serde_json::from_str(
        &sb.ok(&["image", "inspect", &f["config"].as_str().unwrap()[7..15]])
            .stdout(),
    )
    .unwrap();
    assert_eq!(by_id[0]["Id"], f["config"]);
    sb.run(&["image", "inspect", "nosuch"])
        .fails_with("No such image: nosuch");
    sb.run(&["tag", "nosuch", "x"]).fails_with("No such image");
    sb.run(&["tag", "myapp:v1", "Bad"])
        .fails_with("invalid reference format");
}

#[test]
fn info_says_how_ids_are_mapped() {
    let sub = Sandbox::new(User::Sub).ok(&["info"]).stdout();
    assert!(
        sub.contains("Id mapping: subordinate ids") && sub.contains("200000:65536"),
        "{sub}"
    );
    let nosub = Sandbox::new(User::NoSub).ok(&["info"]).stdout();
    assert!(
        nosub.contains("Id mapping: single id") && nosub.contains("/etc/subuid"),
        "{nosub}"
    );
    let root = Sandbox::new(User::Root).ok(&["info"]).stdout();
    assert!(root.contains("Id mapping: host ids"), "{root}");
    for key in [
        "Store:",
        "Storage driver:",
        "Kernel overlay:",
        "newuidmap:",
        "fuse-overlayfs:",
    ] {
        assert!(sub.contains(key), "{key} missing:\n{sub}");
    }
}

#[test]
fn version_and_help() {
    let sb = Sandbox::new(User::Sub);
    assert!(sb
        .ok(&["version"])
        .stdout()
        .contains(env!("CARGO_PKG_VERSION")));
    assert!(sb.ok(&["--help"]).stdout().contains("pull"));
    sb.run(&["frobnicate"])
        .fails_with("unknown command \"frobnicate\" for \"box\"");
}
