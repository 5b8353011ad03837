//! `box cp` and `box top`: files in and out of running and stopped containers with
//! Docker's destination rules, paths resolved inside the container (its symlinks to
//! `/` lead to its own root, never the host's), and the container's processes only.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::harness::*;

/// What the test containers are made of: a tree, a symlink to `/` and one to a fake
/// `/etc/shadow`, which a path resolved on the host would miss.
const SETUP: &str = "mkdir -p /data/sub && echo one > /data/a.txt && echo two > /data/sub/b.txt \
    && ln -s a.txt /data/link && ln -s / /hostroot && echo fake-shadow > /etc/shadow \
    && ln -s /etc/shadow /s && echo inside > /etc/marker";

/// Polls `cond` until it holds, for at most `secs` seconds.
fn eventually(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `box run -d --name NAME [FLAGS] busybox sh -c SCRIPT`, then waits until the script
/// has reached `/ready` (which it creates; `box cp` itself tells).
fn detached(sb: &Sandbox, name: &str, flags: &[&str], script: &str) {
    let img = bb();
    let script = format!("{script}\ntouch /ready\nexec sleep 1000");
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(flags);
    args.extend_from_slice(&[img.as_str(), "sh", "-c", &script]);
    sb.ok(&args);
    let ready = format!("{name}:/ready");
    eventually(20, "the container's setup", || {
        sb.run(&["cp", &ready, "-"]).code() == 0
    });
}

/// A directory in the sandbox that belongs to the user.
fn user_dir(sb: &Sandbox, rel: &str) -> PathBuf {
    let p = sb.dir.join(rel);
    std::fs::create_dir_all(&p).unwrap();
    let mut cur = p.as_path();
    while cur != sb.dir {
        chown(cur, sb.user);
        cur = cur.parent().unwrap();
    }
    p
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The entries of a tar archive: (path, uid inside, contents or link target).
fn entries(bytes: &[u8]) -> Vec<(String, u64, String)> {
    let mut ar = tar::Archive::new(bytes);
    ar.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let path = e.path().unwrap().to_string_lossy().into_owned();
            let uid = e.header().uid().unwrap();
            let mut body = String::new();
            if let Some(l) = e.link_name().unwrap() {
                body = l.to_string_lossy().into_owned();
            } else {
                e.read_to_string(&mut body).unwrap();
            }
            (path, uid, body)
        })
        .collect()
}

/// `box cp CONTAINER:PATH -`, as (path, uid, contents) entries.
fn stream_out(sb: &Sandbox, src: &str) -> Vec<(String, u64, String)> {
    entries(&sb.ok(&["cp", src, "-"]).0.stdout)
}

/// The contents of the one file that `box cp CONTAINER:PATH -` streams.
fn cat(sb: &Sandbox, src: &str) -> String {
    let e = stream_out(sb, src);
    assert_eq!(e.len(), 1, "{src}: {e:?}");
    e[0].2.clone()
}

/// `box cp - DEST` with a tar archive holding `name` (text `body`) on stdin.
fn stream_in(sb: &Sandbox, dest: &str, name: &str, body: &str) -> Out {
    let mut ar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(body.len() as u64);
    h.set_mode(0o640);
    h.set_uid(4321);
    ar.append_data(&mut h, name, body.as_bytes()).unwrap();
    let bytes = ar.into_inner().unwrap();
    let mut c = sb
        .cmd(&["cp", "-", dest])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    c.stdin.take().unwrap().write_all(&bytes).unwrap();
    Out(c.wait_with_output().unwrap(), format!("cp - {dest}"))
}

/// A host path that nothing else uses: where an escape would land.
fn host_trap() -> String {
    format!(
        "/tmp/boxcp-escape-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

fn copy_out_of_a_running_container(user: User) {
    let sb = Sandbox::new(user);
    detached(&sb, "c1", &["--hostname", "myhost"], SETUP);
    let out = user_dir(&sb, "out");
    let o = |rel: &str| out.join(rel);

    // A file: into an existing directory, to a new name, not into a missing dir/.
    sb.ok(&["cp", "c1:/data/a.txt", &s(&out)]);
    assert_eq!(read(&o("a.txt")), "one\n");
    let meta = std::fs::metadata(o("a.txt")).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid()),
        (user.uid(), user.gid()),
        "files copied out belong to the user"
    );
    sb.ok(&["cp", "c1:/data/a.txt", &s(&o("renamed.txt"))]);
    assert_eq!(read(&o("renamed.txt")), "one\n");
    // Relative paths: the container's from its root, the local one from the cwd.
    sb.ok(&["cp", "c1:data/sub/b.txt", "out/renamed.txt"]);
    assert_eq!(
        read(&o("renamed.txt")),
        "two\n",
        "an existing file is replaced"
    );
    sb.run(&["cp", "c1:/data/a.txt", &format!("{}/", s(&o("nodir")))])
        .fails_with("does not exist");
    assert!(!o("nodir").exists());
    sb.run(&["cp", "c1:/data/a.txt", &s(&o("no/such"))])
        .fails_with("Could not find the file");

    // A directory: under its name into an existing one, as a new one, or its contents.
    sb.ok(&["cp", "c1:/data", &s(&out)]);
    assert_eq!(read(&o("data/sub/b.txt")), "two\n");
    assert_eq!(
        std::fs::read_link(o("data/link")).unwrap(),
        Path::new("a.txt")
    );
    sb.ok(&["cp", "c1:/data", &s(&o("copy"))]);
    assert_eq!(read(&o("copy/a.txt")), "one\n");
    assert_eq!(read(&o("copy/sub/b.txt")), "two\n");
    user_dir(&sb, "out/flat");
    sb.ok(&["cp", "c1:/data/.", &s(&o("flat"))]);
    assert_eq!(read(&o("flat/a.txt")), "one\n");
    assert!(!o("flat/data").exists(), "SRC/. copies the contents only");
    sb.run(&["cp", "c1:/data", &s(&o("a.txt"))])
        .fails_with("cannot copy a directory");

    // `-`: a tar archive on stdout, rooted at the source's name.
    let e = stream_out(&sb, "c1:/data");
    let names: Vec<&str> = e.iter().map(|(p, _, _)| p.trim_end_matches('/')).collect();
    assert_eq!(
        names,
        [
            "data",
            "data/a.txt",
            "data/link",
            "data/sub",
            "data/sub/b.txt"
        ]
    );
    assert!(e.iter().all(|(_, uid, _)| *uid == 0), "{e:?}");

    // Symlinks resolve inside the container, never on the host.
    assert_eq!(cat(&sb, "c1:/hostroot/etc/hostname"), "myhost\n");
    assert_eq!(cat(&sb, "c1:/hostroot/etc/marker"), "inside\n");
    sb.ok(&["cp", "-L", "c1:/s", &s(&o("shadow"))]);
    assert_eq!(read(&o("shadow")), "fake-shadow\n");
    sb.ok(&["cp", "c1:/s", &s(&o("s"))]);
    assert_eq!(
        std::fs::read_link(o("s")).unwrap(),
        Path::new("/etc/shadow"),
        "without -L the link itself"
    );

    sb.run(&["cp", "c1:/nope", &s(&out)])
        .fails_with("Could not find the file /nope in container c1");
    sb.run(&["cp", "c1:/nope", "-"])
        .fails_with("Could not find the file /nope in container c1");
    sb.run(&["cp", "nosuch:/etc", &s(&out)])
        .fails_with("No such container: nosuch");
    sb.run(&["cp", "c1:/etc", "c1:/tmp"])
        .fails_with("copying between containers is not supported");
    sb.run(&["cp", "a", "b"])
        .fails_with("must specify at least one container source");
    sb.ok(&["rm", "-f", "c1"]);
}
per_user!(
    copy_out_of_a_running_container,
    copy_out_of_a_running_container
);

fn copy_into_a_running_container(user: User) {
    let sb = Sandbox::new(user);
    // Once /go arrives, the container says who owns what was copied in.
    detached(
        &sb,
        "c2",
        &[],
        "mkdir /dst && ln -s / /hostroot && (until [ -f /go ]; do sleep 0.1; done; \
         stat -c '%u:%g %a' /dst/file.txt /dst/dir/sub/x.txt /dst/made/y.txt /dst/streamed.txt) &",
    );
    sb.write("host/file.txt", "hello\n");
    sb.write("host/dir/sub/x.txt", "x\n");
    sb.write("host/dir/y.txt", "y\n");
    let h = |rel: &str| s(&sb.dir.join("host").join(rel));

    sb.ok(&["cp", &h("file.txt"), "c2:/dst/"]);
    assert_eq!(cat(&sb, "c2:/dst/file.txt"), "hello\n");
    sb.ok(&["cp", &h("file.txt"), "c2:/dst/new.txt"]);
    assert_eq!(cat(&sb, "c2:/dst/new.txt"), "hello\n");
    sb.run(&["cp", &h("file.txt"), "c2:/dst/nodir/"])
        .fails_with("does not exist");
    sb.run(&["cp", &h("file.txt"), "c2:/nodir/x"])
        .fails_with("Could not find the file /nodir in container c2");
    sb.run(&["cp", &h("nope"), "c2:/dst"])
        .fails_with("Could not find the file");

    sb.ok(&["cp", &h("dir"), "c2:/dst"]);
    assert_eq!(cat(&sb, "c2:/dst/dir/sub/x.txt"), "x\n");
    sb.ok(&["cp", &h("dir"), "c2:/dst/made"]);
    assert_eq!(cat(&sb, "c2:/dst/made/y.txt"), "y\n");
    sb.ok(&["cp", &h("dir/."), "c2:/dst"]);
    assert_eq!(cat(&sb, "c2:/dst/y.txt"), "y\n");
    let o = stream_in(&sb, "c2:/dst", "streamed.txt", "from a stream\n");
    assert_eq!(o.code(), 0, "{}", o.both());
    assert_eq!(cat(&sb, "c2:/dst/streamed.txt"), "from a stream\n");
    stream_in(&sb, "c2:/nope", "x", "x").fails_with("Could not find the file /nope");

    // Through the container's symlink to `/`: into its /tmp, not the host's.
    let trap = host_trap();
    sb.ok(&["cp", &h("file.txt"), &format!("c2:/hostroot{trap}")]);
    assert!(!Path::new(&trap).exists(), "{trap} written on the host");
    assert_eq!(cat(&sb, &format!("c2:{trap}")), "hello\n");

    // Owned by the container's root, whoever owned them on the host (or in the
    // archive); modes kept.
    sb.write("host/go", "");
    sb.ok(&["cp", &h("go"), "c2:/go"]);
    eventually(10, "the container's report", || {
        sb.ok(&["logs", "c2"]).stdout().lines().count() == 4
    });
    assert_eq!(
        sb.ok(&["logs", "c2"]).stdout(),
        "0:0 644\n0:0 644\n0:0 644\n0:0 640\n"
    );
    sb.ok(&["rm", "-f", "c2"]);
}
per_user!(copy_into_a_running_container, copy_into_a_running_container);

fn copy_with_a_stopped_container(user: User) {
    let sb = Sandbox::new(user);
    // First run: sets up. Later runs (`start -a`): report what was copied in.
    let script = format!(
        "if [ -d /in ]; then stat -c '%u:%g %a' /in/file.txt /in/streamed.txt; cat /in/file.txt; ls /in/dir; else {SETUP}; fi"
    );
    sb.ok(&["run", "--name", "s1", &bb(), "sh", "-c", &script]);
    let out = user_dir(&sb, "out");

    sb.ok(&["cp", "s1:/data", &s(&out)]);
    assert_eq!(read(&out.join("data/sub/b.txt")), "two\n");
    sb.ok(&["cp", "s1:/data/a.txt", &s(&out.join("single"))]);
    assert_eq!(read(&out.join("single")), "one\n");
    assert_eq!(cat(&sb, "s1:/hostroot/etc/marker"), "inside\n");
    sb.ok(&["cp", "-L", "s1:/s", &s(&out.join("shadow"))]);
    assert_eq!(read(&out.join("shadow")), "fake-shadow\n");
    sb.run(&["cp", "s1:/nope", &s(&out)])
        .fails_with("Could not find the file /nope in container s1");

    sb.write("host/in/file.txt", "hello\n");
    sb.write("host/in/dir/x.txt", "x\n");
    sb.ok(&["cp", &s(&sb.dir.join("host/in")), "s1:/"]);
    let o = stream_in(&sb, "s1:/in", "streamed.txt", "streamed\n");
    assert_eq!(o.code(), 0, "{}", o.both());
    let trap = host_trap();
    sb.ok(&[
        "cp",
        &s(&sb.dir.join("host/in/file.txt")),
        &format!("s1:/hostroot{trap}"),
    ]);
    assert!(!Path::new(&trap).exists(), "{trap} written on the host");
    assert_eq!(cat(&sb, &format!("s1:{trap}")), "hello\n");

    // Nothing stays mounted on the host's side.
    let rootfs = sb.store().join("containers");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&s(&rootfs)),
        "a container's root filesystem is still mounted:\n{mounts}"
    );

    let o = sb.ok(&["start", "-a", "s1"]);
    assert_eq!(o.stdout(), "0:0 644\n0:0 640\nhello\nx.txt\n");
}
per_user!(copy_with_a_stopped_container, copy_with_a_stopped_container);

/// With the fuse-overlayfs driver a running container is entered as any other; a
/// stopped one is refused, clearly.
fn fuse_overlayfs_driver(user: User) {
    let sb = Sandbox::new(user);
    sb.write(
        "config/box/config.toml",
        "[storage]\ndriver = \"fuse-overlayfs\"\n",
    );
    detached(&sb, "f1", &[], SETUP);
    assert_eq!(cat(&sb, "f1:/hostroot/etc/marker"), "inside\n");
    sb.write("host/file.txt", "hello\n");
    sb.ok(&["cp", &s(&sb.dir.join("host/file.txt")), "f1:/data/"]);
    assert_eq!(cat(&sb, "f1:/data/file.txt"), "hello\n");
    sb.ok(&["stop", "-t", "0", "f1"]);
    sb.run(&["cp", "f1:/data", "-"]).fails_with(
        "box cp on a stopped container with the fuse-overlayfs driver is not implemented yet",
    );
}
per_user!(fuse_overlayfs_driver, fuse_overlayfs_driver);

fn top(user: User) {
    let sb = Sandbox::new(user);
    let img = bb();
    sb.ok(&[
        "run",
        "-d",
        "--name",
        "t1",
        &img,
        "sh",
        "-c",
        "sleep 1001 & exec sleep 1002",
    ]);
    let rows = |out: &str| out.lines().skip(1).map(String::from).collect::<Vec<_>>();
    eventually(10, "both sleeps", || {
        rows(&sb.ok(&["top", "t1"]).stdout()).len() == 2
    });
    let o = sb.ok(&["top", "t1"]).stdout();
    let header = o.lines().next().unwrap();
    for col in ["UID", "PID", "PPID", "CMD"] {
        assert!(header.split_whitespace().any(|c| c == col), "{o}");
    }
    let r = rows(&o);
    assert!(r.iter().any(|l| l.ends_with("sleep 1001")), "{o}");
    assert!(r.iter().any(|l| l.ends_with("sleep 1002")), "{o}");

    let st: serde_json::Value = serde_json::from_str(&sb.ok(&["inspect", "t1"]).stdout()).unwrap();
    let pid = st[0]["State"]["Pid"].as_i64().unwrap();
    let o = sb.ok(&["top", "t1", "-o", "pid,comm"]).stdout();
    let mut lines = o.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["PID", "COMMAND"]);
    let r: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(r.len(), 2, "{o}");
    assert!(r.iter().all(|f| f[1] == "sleep"), "{o}");
    assert!(r.iter().any(|f| f[0] == pid.to_string()), "{o}");

    sb.ok(&["run", "--name", "t2", &img, "true"]);
    sb.run(&["top", "t2"])
        .fails_with("container t2 is not running");
    sb.run(&["top", "nosuch"])
        .fails_with("No such container: nosuch");
    sb.ok(&["rm", "-f", "t1"]);
}
per_user!(top, top);
