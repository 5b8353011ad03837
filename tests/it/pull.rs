//! `box pull`: what lands on disk, for every kind of image and every kind of user,
//! and what does not land when the image is hostile, tampered with or cut short.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::harness::*;

fn xattr(p: &Path, name: &str) -> Option<String> {
    let mut buf = [0u8; 256];
    let n = rustix::fs::lgetxattr(p, name, &mut buf[..]).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every entry type of the three-layer fixture, with owners as seen through the mapping.
fn multi_layer_contents(user: User) {
    let sb = Sandbox::new(user);
    let out = sb.ok(&["pull", &image("layers")]);
    assert!(
        out.stdout().contains("Status: Downloaded newer image"),
        "{}",
        out.both()
    );
    let l = layers("layers");
    let (l1, l2, l3) = (
        sb.layer_diff(&l[0]),
        sb.layer_diff(&l[1]),
        sb.layer_diff(&l[2]),
    );

    assert!(read(&l1.join("etc/passwd")).contains("app:x:1000:1000"));
    let home = lstat(&l1.join("home/app"));
    assert_eq!(
        (home.uid(), home.gid()),
        (user.host_uid(1000), user.host_uid(1000)),
        "owner of /home/app"
    );
    assert_eq!(home.mode() & 0o7777, 0o750);
    let owned = lstat(&l1.join("home/app/owned.txt"));
    assert_eq!(
        (owned.uid(), owned.mode() & 0o7777),
        (user.host_uid(1000), 0o640)
    );
    let suid = lstat(&l1.join("usr/bin/suid"));
    assert_eq!(suid.mode() & 0o7777, 0o4755, "setuid bit kept");
    assert_eq!(suid.uid(), user.host_uid(0));
    let (a, b) = (
        lstat(&l1.join("srv/hl-a.txt")),
        lstat(&l1.join("srv/hl-b.txt")),
    );
    assert_eq!(a.ino(), b.ino(), "hard link within a layer");
    assert_eq!(
        std::fs::read_link(l1.join("srv/link")).unwrap(),
        Path::new("hl-a.txt")
    );
    assert_eq!(
        std::fs::read_link(l1.join("srv/abslink")).unwrap(),
        Path::new("/etc/passwd")
    );

    let gone = lstat(&l2.join("data/gone.txt"));
    assert!(
        gone.file_type().is_char_device() && gone.rdev() == 0,
        "whiteout is a 0/0 character device"
    );
    assert_eq!(
        xattr(&l2.join("data/opq"), "user.overlay.opaque").as_deref(),
        Some("y"),
        "opaque directory"
    );
    assert!(!l2.join("data/opq/.wh..wh..opq").exists());
    assert_eq!(read(&l2.join("data/opq/new.txt")), "new");
    assert!(lstat(&l2.join("var/fifo")).file_type().is_fifo());

    assert_eq!(read(&l3.join("data/keep/a.txt")), "keep-a-v3");
    assert_eq!(
        xattr(&l3.join("etc/l3"), "user.boxtest").as_deref(),
        Some("hello"),
        "xattr from PAX header"
    );
    let odd = lstat(&l3.join("data/odd.txt"));
    assert_eq!(
        (odd.uid(), odd.gid(), odd.mode() & 0o7777),
        (user.host_uid(1234), user.host_uid(5678), 0o600)
    );
    let dev = l3.join("dev/null-copy");
    if user == User::Root {
        let m = lstat(&dev);
        assert!(m.file_type().is_char_device() && m.rdev() == rustix::fs::makedev(1, 3));
    } else {
        assert!(!dev.exists(), "unprivileged users cannot make device nodes");
        assert!(
            out.stderr().contains("skipped 1 device node"),
            "{}",
            out.both()
        );
    }
    assert_empty_tmp(&sb);
}
per_user!(multi_layer, multi_layer_contents);

fn busybox_and_images(user: User) {
    let sb = Sandbox::new(user);
    let out = sb.ok(&["pull", "-q", &image("busybox")]);
    assert_eq!(
        out.stdout(),
        format!("{}\n", image("busybox")),
        "-q prints only the reference"
    );
    let diff = sb.layer_diff(&layers("busybox")[0]);
    assert_eq!(
        std::fs::read_link(diff.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    assert_eq!(lstat(&diff.join("tmp")).mode() & 0o7777, 0o1777);
    let again = sb.ok(&["pull", &image("busybox")]);
    assert!(
        again.stdout().contains("Status: Image is up to date"),
        "{}",
        again.both()
    );
    let list = sb.ok(&["images"]).stdout();
    let want_id = &fixture("busybox")["config"].as_str().unwrap()[7..19];
    assert!(
        list.lines().next().unwrap().starts_with("REPOSITORY"),
        "{list}"
    );
    let row = list
        .lines()
        .find(|l| l.contains("/busybox"))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(row.contains("latest") && row.contains(want_id), "{row}");
}
per_user!(busybox, busybox_and_images);

fn hostile_layers(user: User) {
    let sb = Sandbox::new(user);
    let passwd_links = lstat(Path::new("/etc/passwd")).nlink();
    for name in [
        "hostile/dotdot",
        "hostile/abs",
        "hostile/symlink",
        "hostile/symlink-rel",
        "hostile/hardlink",
        "hostile/hardlink-abs",
    ] {
        sb.run(&["pull", &image(name)])
            .fails_with("outside the layer");
        assert!(
            sb.ok(&["images", "-q"]).stdout().is_empty(),
            "{name}: no image recorded"
        );
    }
    for f in [
        "/tmp/escape-abs.txt",
        "/tmp/escape-symlink.txt",
        "/tmp/escape-symrel.txt",
        "/escape-dotdot.txt",
    ] {
        assert!(!Path::new(f).exists(), "{f} escaped");
    }
    assert_eq!(
        lstat(Path::new("/etc/passwd")).nlink(),
        passwd_links,
        "no hard link to /etc/passwd"
    );
    let escaped = walk(&sb.dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("escape"))
        .collect::<Vec<_>>();
    assert!(escaped.is_empty(), "escaped into the sandbox: {escaped:?}");
    assert_eq!(
        std::fs::read_dir(sb.store().join("layers"))
            .unwrap()
            .count(),
        0,
        "no layer committed"
    );
    assert_empty_tmp(&sb);
}
per_user!(hostile, hostile_layers);

fn tampered_blobs(user: User) {
    let sb = Sandbox::new(user);
    for name in ["tamper", "tamper-gz"] {
        sb.run(&["pull", &image(name)])
            .fails_with("digest mismatch");
    }
    assert!(sb.ok(&["images", "-q"]).stdout().is_empty());
    assert_eq!(
        std::fs::read_dir(sb.store().join("layers"))
            .unwrap()
            .count(),
        0,
        "nothing of a mismatched blob is kept"
    );
    assert_empty_tmp(&sb);
    sb.ok(&["pull", "-q", &image("busybox")]);
}
per_user!(tamper, tampered_blobs);

#[test]
fn compressions_and_manifest_kinds() {
    let sb = Sandbox::new(User::Sub);
    sb.ok(&["pull", "-q", &image("zstd")]);
    let l = layers("zstd");
    assert_eq!(read(&sb.layer_diff(&l[0]).join("hello.txt")), "zstd layer");
    assert_eq!(read(&sb.layer_diff(&l[1]).join("plain.txt")), "plain layer");
    sb.ok(&["pull", "-q", &image("docker2")]);
    assert_eq!(
        read(&sb.layer_diff(&layers("docker2")[0]).join("docker2.txt")),
        "docker schema 2"
    );
    let inspect: serde_json::Value =
        serde_json::from_str(&sb.ok(&["image", "inspect", &image("docker2")]).stdout()).unwrap();
    assert_eq!(
        inspect[0]["Descriptor"]["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
}

/// The platform is chosen from OCI indexes and Docker manifest lists alike.
#[test]
fn platforms() {
    let sb = Sandbox::new(User::Sub);
    for name in ["multiarch", "dockerlist"] {
        sb.ok(&["pull", "-q", &image(name)]);
        let arch = |sb: &Sandbox| {
            let v: serde_json::Value =
                serde_json::from_str(&sb.ok(&["image", "inspect", &image(name)]).stdout()).unwrap();
            v[0]["Architecture"].as_str().unwrap().to_string()
        };
        assert_eq!(arch(&sb), "amd64");
        sb.ok(&["pull", "-q", "--platform", "linux/arm64", &image(name)]);
        assert_eq!(arch(&sb), "arm64");
        let digests = sb.ok(&["images", "--digests", "--no-trunc"]).stdout();
        let index = fixture(name)["manifest"].as_str().unwrap().to_string();
        assert!(
            digests.contains(&index),
            "repo digest is the index's:\n{digests}"
        );
    }
    sb.run(&["pull", &image("armonly")])
        .fails_with("no image for platform linux/amd64");
    sb.run(&["pull", "--platform", "linux", &image("busybox")])
        .fails_with("invalid platform");
}

#[test]
fn hundred_and_twenty_layers() {
    let sb = Sandbox::new(User::Sub);
    sb.ok(&["pull", "-q", &image("deep")]);
    let l = layers("deep");
    assert_eq!(l.len(), 120);
    for (i, d) in l.iter().enumerate() {
        let f = sb.layer_diff(d).join(format!("layers/{:03}.txt", i + 1));
        assert_eq!(read(&f), format!("{:03}", i + 1));
        let link = sb.store().join("l").join(&d[7..27]);
        assert_eq!(
            std::fs::canonicalize(&link).unwrap(),
            std::fs::canonicalize(sb.layer_diff(d)).unwrap(),
            "short link of layer {i}"
        );
    }
    assert!(lstat(&sb.layer_diff(&l[59]).join("layers/010.txt"))
        .file_type()
        .is_char_device());
}

#[test]
fn registry_errors() {
    let sb = Sandbox::new(User::Sub);
    sb.run(&["pull", "127.0.0.1:9/busybox"])
        .fails_with("registry 127.0.0.1:9 is unreachable");
    sb.run(&["pull", &image("no-such-repo")])
        .fails_with("no such image");
    sb.run(&["pull", &image("busybox:no-such-tag")])
        .fails_with("no such tag");
    sb.run(&["pull", "Busybox"])
        .fails_with("invalid reference format");
    sb.run(&["pull", &format!("{}/busybox@sha256:1234", registry())])
        .fails_with("invalid reference format");
    let wrong = format!("{}/busybox@sha256:{}", registry(), "0".repeat(64));
    sb.run(&["pull", &wrong]).fails_with("no such tag");
    sb.run(&["pull", "--bogus", "x"])
        .fails_with("unknown flag: --bogus");
}

#[test]
fn credentials_from_docker_and_podman_files() {
    let reg = env("BOX_TEST_AUTH_REGISTRY");
    let img = format!("{reg}/private/busybox");
    let sb = Sandbox::new(User::Sub);
    sb.run(&["pull", &img]).fails_with("unauthorized");
    let auth = |u: &str, p: &str| {
        use base64::Engine;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
        format!(r#"{{"auths":{{"{reg}":{{"auth":"{token}"}}}}}}"#)
    };
    sb.write("home/.docker/config.json", &auth("boxuser", "wrong"));
    sb.run(&["pull", &img]).fails_with("unauthorized");
    sb.write(
        "home/.docker/config.json",
        &auth(&env("BOX_TEST_AUTH_USER"), &env("BOX_TEST_AUTH_PASSWORD")),
    );
    sb.ok(&["pull", "-q", &img]);

    let sb = Sandbox::new(User::NoSub);
    sb.write(
        "runtime/containers/auth.json",
        &auth(&env("BOX_TEST_AUTH_USER"), &env("BOX_TEST_AUTH_PASSWORD")),
    );
    sb.ok(&["pull", "-q", &img]);
}

/// Eight pulls at once into one store, of the same and of different images.
#[test]
fn concurrent_pulls() {
    let sb = Sandbox::new(User::Sub);
    let names = [
        "busybox",
        "busybox",
        "busybox",
        "busybox:1.36",
        "layers",
        "zstd",
        "deep",
        "docker2",
    ];
    let children: Vec<_> = names
        .iter()
        .map(|n| {
            sb.cmd(&["pull", "-q", &image(n)])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (c, n) in children.into_iter().zip(names) {
        let o = c.wait_with_output().unwrap();
        assert!(
            o.status.success(),
            "pull {n}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let ids = sb.ok(&["images", "-q", "--no-trunc"]).stdout();
    assert_eq!(
        ids.lines().count(),
        5,
        "busybox:latest and :1.36 are one image:\n{ids}"
    );
    for n in ["busybox", "layers", "zstd", "deep", "docker2"] {
        for l in layers(n) {
            assert!(sb.layer_diff(&l).is_dir(), "{n}: layer {l}");
        }
    }
    let list = sb.ok(&["images"]).stdout();
    assert!(list.contains("1.36") && list.contains("/deep"), "{list}");
    assert_empty_tmp(&sb);
}

/// kill -9 and Ctrl-C in the middle of a big pull leave nothing that counts as
/// complete, and the next pull works.
#[test]
fn interrupted_pulls() {
    assert!(
        debian_available(),
        "the debian fixture is needed (tests/run.sh builds it)"
    );
    for signal in [libc::SIGKILL, libc::SIGINT] {
        let sb = Sandbox::new(User::Sub);
        let deb = image("debian:bookworm");
        let mut child = sb
            .cmd(&["pull", "-q", &deb])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let diff_started = || {
            std::fs::read_dir(sb.store().join("tmp"))
                .into_iter()
                .flatten()
                .flatten()
                .any(|e| {
                    std::fs::read_dir(e.path().join("diff"))
                        .map(|mut d| d.next().is_some())
                        .unwrap_or(false)
                })
        };
        let start = Instant::now();
        while !diff_started() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the pull never started unpacking"
            );
            assert!(
                child.try_wait().unwrap().is_none(),
                "the pull ended before it could be interrupted"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            child.try_wait().unwrap().is_none(),
            "the pull ended before it could be interrupted"
        );
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
            rustix::process::Signal::from_named_raw(signal).unwrap(),
        )
        .unwrap();
        let status = child.wait().unwrap();
        assert!(!status.success());
        assert!(
            sb.ok(&["images", "-q"]).stdout().is_empty(),
            "an interrupted pull records no image"
        );
        assert_eq!(
            std::fs::read_dir(sb.store().join("layers"))
                .unwrap()
                .count(),
            0,
            "no half layer in layers/"
        );
        sb.ok(&["pull", "-q", &deb]);
        assert_empty_tmp(&sb);
        assert!(read(
            &sb.layer_diff(&layers("debian:bookworm")[0])
                .join("etc/os-release")
        )
        .contains("bookworm"));
    }
}

#[test]
fn large_debian_pull() {
    assert!(
        debian_available(),
        "the debian fixture is needed (tests/run.sh builds it)"
    );
    let user = User::Sub;
    let sb = Sandbox::new(user);
    sb.ok(&["pull", "-q", &image("debian:bookworm")]);
    let diff = sb.layer_diff(&layers("debian:bookworm")[0]);
    assert_eq!(lstat(&diff.join("usr/bin/bash")).uid(), user.host_uid(0));
    // /var/mail is root:mail (gid 8) in Debian.
    assert_eq!(lstat(&diff.join("var/mail")).gid(), user.host_uid(8));
    let list = sb.ok(&["images"]).stdout();
    assert!(list.contains("bookworm"), "{list}");
}

/// A full disk fails the pull with a clear error and keeps the store consistent.
#[test]
fn disk_full() {
    let sb = Sandbox::new(User::Sub);
    let data = sb.dir.join("data");
    let opts = format!(
        "size=1m,mode=0700,uid={},gid={}",
        User::Sub.uid(),
        User::Sub.gid()
    );
    let st = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &opts, "tmpfs"])
        .arg(&data)
        .status()
        .unwrap();
    assert!(st.success(), "mounting a small tmpfs needs root");
    struct Umount(std::path::PathBuf);
    impl Drop for Umount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _u = Umount(data);
    sb.run(&["pull", &image("busybox")])
        .fails_with("No space left on device");
    assert!(sb.ok(&["images", "-q"]).stdout().is_empty());
    assert_eq!(
        std::fs::read_dir(sb.store().join("layers"))
            .unwrap()
            .count(),
        0
    );
    assert_empty_tmp(&sb);
}

pub fn assert_empty_tmp(sb: &Sandbox) {
    let left: Vec<_> = std::fs::read_dir(sb.store().join("tmp"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "debris in tmp/: {left:?}");
}

pub fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                out.extend(walk(&p));
            }
            out.push(p);
        }
    }
    out
}

/// config.toml: the default registry for short names, and mirrors tried first.
#[test]
fn default_registry_and_mirrors() {
    let sb = Sandbox::new(User::Sub);
    sb.write(
        "config/box/config.toml",
        &format!("[registries]\ndefault = \"{reg}\"\n[registries.mirrors]\n\"registry.invalid:5000\" = [\"127.0.0.1:9\", \"{reg}\"]\n", reg = registry()),
    );
    let out = sb.ok(&["pull", "busybox"]);
    assert!(
        out.stdout()
            .contains(&format!("{}/busybox:latest", registry())),
        "{}",
        out.both()
    );
    let list = sb.ok(&["images"]).stdout();
    assert!(
        list.lines().any(|l| l.starts_with("busybox ")),
        "the default registry is left out, as Docker leaves out docker.io:\n{list}"
    );
    // The first mirror is unreachable, the second has the image; the origin does not exist.
    sb.ok(&["pull", "-q", "registry.invalid:5000/layers"]);
    assert!(sb.layer_diff(&layers("layers")[0]).is_dir());
    sb.write("config/box/config.toml", "[registries]\nbogus = 1\n");
    sb.run(&["pull", "busybox"]).fails_with("config.toml");
}

/// On a terminal, a bar per layer; the pull still ends with the reference.
#[test]
fn progress_on_a_terminal() {
    let sb = Sandbox::new(User::Sub);
    let o = sb
        .in_terminal(&["pull", &image("layers")])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("Pull complete") && out.contains(&image("layers")),
        "{out}"
    );
}
