//! `box run`: containers under their own shim, as each kind of user.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::process::Stdio;

use crate::harness::*;
use crate::term::Session;

/// Output of `box run --rm busybox sh -c SCRIPT` with extra flags before the image.
fn sh(sb: &Sandbox, flags: &[&str], script: &str) -> Out {
    let img = bb();
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&[img.as_str(), "sh", "-c", script]);
    sb.run(&args)
}

/// `box run --rm IMAGE sh -c SCRIPT` for images without a shell: busybox's is
/// borrowed from its layer directory.
fn with_borrowed_shell(sb: &Sandbox, img: &str, script: &str) -> Out {
    sb.ok(&["pull", "-q", &bb()]);
    let bin = sb.layer_diff(&layers("busybox")[0]).join("bin");
    let bbx = format!("{}:/bbx:ro", bin.display());
    sb.ok(&[
        "run",
        "--rm",
        "-e",
        "PATH=/bbx",
        "-v",
        &bbx,
        img,
        "/bbx/sh",
        "-c",
        script,
    ])
}

fn containers_left(sb: &Sandbox) -> Vec<String> {
    std::fs::read_dir(sb.store().join("containers"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != "names")
                .collect()
        })
        .unwrap_or_default()
}

fn basics(user: User) {
    let sb = Sandbox::new(user);
    let o = sb.ok(&["run", "--rm", &bb(), "echo", "hello"]);
    assert_eq!(o.stdout(), "hello\n");
    assert!(
        o.stderr().contains("Unable to find image"),
        "pulled on first use: {}",
        o.both()
    );
    assert_eq!(sh(&sb, &[], "exit 3").code(), 3);
    sb.run(&["run", "--rm", &bb(), "no-such-command"])
        .fails_with_code(127, "executable file not found");
    sb.run(&["run", "--rm", &bb(), "/etc/passwd"])
        .fails_with_code(126, "ermission denied");
    let mut c = sb
        .cmd(&["run", "--rm", "-i", &bb(), "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(b"hi\n").unwrap();
    let o = c.wait_with_output().unwrap();
    assert_eq!(
        (o.status.code(), String::from_utf8_lossy(&o.stdout).as_ref()),
        (Some(0), "hi\n"),
        "stdin EOF reaches the container"
    );
    assert!(
        containers_left(&sb).is_empty(),
        "--rm leaves nothing: {:?}",
        containers_left(&sb)
    );
    // Without --rm the container stays, exited, with its status recorded.
    let o = sb.run(&["run", &bb(), "sh", "-c", "echo data > /new; exit 4"]);
    assert_eq!(o.code(), 4);
    let left = containers_left(&sb);
    assert_eq!(left.len(), 1);
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            sb.store()
                .join("containers")
                .join(&left[0])
                .join("state.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (state["status"].as_str(), state["exit_code"].as_i64()),
        (Some("exited"), Some(4))
    );
}
per_user!(basics, basics);

fn image_config(user: User) {
    let sb = Sandbox::new(user);
    let img = image("runcfg");
    if user == User::NoSub {
        // The image's user (uid 1000) has no mapping with a single id.
        sb.run(&["run", "--rm", &img]).fails_with("not mapped");
        let o = sb.ok(&["run", "--rm", "-u", "root", &img]);
        assert_eq!(o.stdout(), "entry cmd1\n");
        return;
    }
    assert_eq!(sb.ok(&["run", "--rm", &img]).stdout(), "entry cmd1\n");
    assert_eq!(
        sb.ok(&["run", "--rm", &img, "other"]).stdout(),
        "entry other\n"
    );
    let script = "id -u; id -g; id -G; pwd; echo $HOME $FOO $BAR $HOSTNAME";
    let o = sb.ok(&[
        "run",
        "--rm",
        "--entrypoint",
        "sh",
        "-e",
        "FOO=flag",
        "--hostname",
        "myhost",
        &img,
        "-c",
        script,
    ]);
    assert_eq!(
        o.stdout(),
        "1000\n1000\n1000 50\n/home/app/work\n/home/app flag image myhost\n"
    );
    let o = sb.ok(&[
        "run",
        "--rm",
        "-u",
        "0:50",
        "-w",
        "/tmp",
        "--entrypoint",
        "",
        &img,
        "sh",
        "-c",
        "id -u; id -g; pwd",
    ]);
    assert_eq!(o.stdout(), "0\n50\n/tmp\n");
    sb.run(&["run", "--rm", "-u", "ghost", &img])
        .fails_with("unable to find user ghost");
    sb.write("envfile", "# comment\nFROMFILE=yes\nFOO=file\n");
    let env = sb.dir.join("envfile");
    let o = sb.ok(&[
        "run",
        "--rm",
        "--env-file",
        env.to_str().unwrap(),
        "-e",
        "FOO=last",
        "--entrypoint",
        "sh",
        &img,
        "-c",
        "echo $FROMFILE $FOO",
    ]);
    assert_eq!(o.stdout(), "yes last\n");
}
per_user!(image_config, image_config);

/// The three-layer fixture seen from inside: whiteouts and opaque directories
/// applied, owners through the mapping.
fn layers_inside(user: User) {
    let sb = Sandbox::new(user);
    let img = image("layers");
    sb.ok(&["pull", "-q", &bb()]);
    let script = "ls /data; ls /data/opq; cat /data/keep/a.txt; echo; stat -c %u:%g /home/app/owned.txt; ls -l /usr/bin/suid | cut -c1-10";
    // The layers image has no shell: borrow busybox's, from its layer directory.
    let o = with_borrowed_shell(&sb, &img, script);
    let owner = if user == User::NoSub {
        "0:0"
    } else {
        "1000:1000"
    };
    assert_eq!(
        o.stdout(),
        format!("keep\nodd.txt\nopq\nnew.txt\nkeep-a-v3\n{owner}\n-rwsr-xr-x\n")
    );
}
per_user!(layers_inside, layers_inside);

fn isolation(user: User) {
    let sb = Sandbox::new(user);
    let script = "ps -o pid > /tmp/ps; wc -l < /tmp/ps; grep -E '^(Seccomp|CapEff|NoNewPrivs):' /proc/self/status; hostname | wc -c; \
                  cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '; \
                  (echo c > /proc/sysrq-trigger) 2>/dev/null && echo sysrq-writable; \
                  (cat /proc/kcore | head -c1 | wc -c); ls /sys/firmware | wc -l; touch /sys/x 2>/dev/null && echo sys-writable; echo end";
    let o = sh(&sb, &["--network", "none"], script);
    assert_eq!(o.code(), 0, "{}", o.both());
    assert_eq!(
        o.stdout(),
        "3\nCapEff:\t00000000a80425fb\nNoNewPrivs:\t0\nSeccomp:\t2\n13\nlo\n0\n0\nend\n",
        "ps sees only the container (header, sh, ps); seccomp filter on; Docker's capabilities; private network; masks and read-only paths"
    );
    let o = sh(
        &sb,
        &["--cap-drop", "ALL", "--security-opt", "no-new-privileges"],
        "grep -E '^(CapEff|CapBnd|NoNewPrivs):' /proc/self/status",
    );
    assert_eq!(
        o.stdout(),
        "CapEff:\t0000000000000000\nCapBnd:\t0000000000000000\nNoNewPrivs:\t1\n"
    );
    let o = sh(
        &sb,
        &["--cap-drop", "ALL", "--cap-add", "chown"],
        "grep CapEff /proc/self/status",
    );
    assert_eq!(o.stdout(), "CapEff:\t0000000000000001\n");
    let o = sh(
        &sb,
        &["--security-opt", "seccomp=unconfined"],
        "grep Seccomp: /proc/self/status",
    );
    assert_eq!(o.stdout(), "Seccomp:\t0\n");
    let o = sh(
        &sb,
        &["--privileged"],
        "grep -E '^(Seccomp|CapEff):' /proc/self/status; grep -c ' /proc/kcore ' /proc/mounts",
    );
    let out = o.stdout();
    assert!(
        out.starts_with("CapEff:\t000001f")
            && out.contains("Seccomp:\t0\n")
            && out.ends_with("\n0\n"),
        "privileged: all caps, no seccomp, no masks: {}",
        o.both()
    );
    // Seccomp in force: Docker's profile refuses keyctl (busybox has no keyctl
    // applet; unshare of a user namespace is refused without CAP_SYS_ADMIN).
    let o = sh(&sb, &[], "unshare -U true 2>&1; echo $?");
    assert!(
        o.stdout().trim_end().ends_with('1'),
        "unshare must fail under the default profile: {}",
        o.both()
    );
}
per_user!(isolation, isolation);

fn bind_mounts(user: User) {
    let sb = Sandbox::new(user);
    sb.write("share/in.txt", "from host\n");
    let share = sb.dir.join("share");
    let v = format!("{}:/mnt", share.display());
    let o = sh(&sb, &["-v", &v], "cat /mnt/in.txt; echo out > /mnt/out.txt");
    assert_eq!(o.stdout(), "from host\n", "{}", o.both());
    let m = lstat(&share.join("out.txt"));
    assert_eq!(
        (m.uid(), m.gid()),
        (user.uid(), user.gid()),
        "files the container's root writes belong to the user"
    );
    let o = sh(
        &sb,
        &["-v", &format!("{v}:ro")],
        "echo x > /mnt/ro.txt 2>/dev/null || echo refused",
    );
    assert_eq!(o.stdout(), "refused\n");
    let o = sh(
        &sb,
        &[
            "--mount",
            &format!("type=bind,source={},target=/m2,readonly", share.display()),
        ],
        "cat /m2/in.txt",
    );
    assert_eq!(o.stdout(), "from host\n");
    let o = sh(
        &sb,
        &[
            "--read-only",
            "--tmpfs",
            "/scratch",
            "--mount",
            "type=tmpfs,target=/t2",
        ],
        "touch /x 2>/dev/null || echo ro; touch /scratch/a /t2/b && echo tmpfs-ok",
    );
    assert_eq!(o.stdout(), "ro\ntmpfs-ok\n");
    sh(&sb, &["-v", "/no/such/dir:/mnt"], "true")
        .fails_with("bind source path does not exist: /no/such/dir");
    sh(&sb, &["-v", "relative:/mnt"], "true").fails_with("volumes are not implemented yet");
}
per_user!(bind_mounts, bind_mounts);

#[test]
fn refusals() {
    let sb = Sandbox::new(User::Sub);
    sb.ok(&["pull", "-q", &bb()]);
    sh(&sb, &["--network", "mynet"], "true").fails_with("network mynet not found");
    sh(&sb, &["--network", "container:x"], "true").fails_with("No such container: x");
    sh(&sb, &["--security-opt", "apparmor=x"], "true").fails_with("unsupported --security-opt");
    sh(&sb, &["--cap-add", "bogus"], "true").fails_with("unknown capability");
    sb.run(&["run", "--pull", "never", &image("zstd"), "true"])
        .fails_with("No such image");
    sb.ok(&["run", "--name", "taken", &bb(), "true"]);
    sb.run(&["run", "--name", "taken", &bb(), "true"])
        .fails_with("already in use");
    // After the image, everything is the command, flags too (here: the arguments of
    // the image's entrypoint, `echo entry`).
    let o = sb.ok(&["run", "--rm", "-u", "0", &image("runcfg"), "--entrypoint"]);
    assert_eq!(o.stdout(), "entry --entrypoint\n");
}

#[test]
fn init() {
    let sb = Sandbox::new(User::Sub);
    let o = sh(
        &sb,
        &["--init"],
        "echo $$; ps -o pid,comm > /tmp/ps; tail -n +2 /tmp/ps | wc -l",
    );
    assert_eq!(
        o.stdout(),
        "2\n3\n",
        "with --init the command is not PID 1: {}",
        o.both()
    );
    // --network host: network::host::network_host.
}

/// SIGTERM sent to `box run` is passed on to the container.
#[test]
fn signals_are_forwarded() {
    let sb = Sandbox::new(User::Sub);
    sb.ok(&["pull", "-q", &bb()]);
    let mut child = sb
        .cmd(&[
            "run",
            "--rm",
            &bb(),
            "sh",
            "-c",
            "trap 'echo got-term; exit 5' TERM; echo ready; while true; do sleep 0.1; done",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut out = child.stdout.take().unwrap();
    let mut buf = [0u8; 6];
    std::io::Read::read_exact(&mut out, &mut buf).unwrap();
    assert_eq!(&buf, b"ready\n");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert_eq!(rest, "got-term\n");
    assert_eq!(
        child.wait().unwrap().code(),
        Some(5),
        "the container's own status"
    );
}

/// A `-t` session through a real pseudo-terminal: Ctrl-C reaches the container's
/// foreground process, the shell survives and exits with its own status.
#[test]
fn terminal_session() {
    let sb = Sandbox::new(User::Sub);
    sb.ok(&["pull", "-q", &bb()]);
    let mut s = Session::start(&sb, &["run", "--rm", "-it", &bb(), "sh"]);
    s.send(b"echo up-$((6*7))\n");
    s.expect("up-42");
    s.send(b"sleep 30\n");
    // Until `sleep` runs: nothing it prints says so.
    std::thread::sleep(std::time::Duration::from_millis(700));
    s.send(b"\x03");
    s.expect("^C");
    s.send(b"echo after-$((40+2)); tty\n");
    s.expect("after-42");
    s.send(b"exit 7\n");
    let (status, out) = s.finish();
    assert!(out.contains("^C") && out.contains("after-42"), "{out}");
    assert!(
        out.contains("/dev/pts/0"),
        "the terminal is the container's own: {out}"
    );
    assert_eq!(status.code(), Some(7), "{out}");
}

/// An image of 120 layers mounts (overlay's option string is one page long: box
/// passes short relative links), with a whiteout from layer 60 applied.
#[test]
fn deep_image_mounts() {
    let sb = Sandbox::new(User::Sub);
    let o = with_borrowed_shell(
        &sb,
        &image("deep"),
        "ls /layers | wc -l; cat /layers/120.txt; test -e /layers/010.txt || echo gone",
    );
    assert_eq!(
        o.stdout(),
        "119\n120gone\n",
        "the layer files have no newline"
    );
}

/// The fuse-overlayfs driver, forced in config.toml: the same layer semantics, and no
/// helper left behind.
fn fuse_overlayfs(user: User) {
    let sb = Sandbox::new(user);
    sb.write(
        "config/box/config.toml",
        "[storage]\ndriver = \"fuse-overlayfs\"\n",
    );
    assert!(sb
        .ok(&["info"])
        .stdout()
        .contains("Storage driver: fuse-overlayfs (set in config.toml)"));
    let script = "mount | grep ' / ' | cut -d' ' -f5; ls /data; ls /data/opq; cat /data/keep/a.txt; echo; echo new > /data/w.txt && cat /data/w.txt";
    let o = with_borrowed_shell(&sb, &image("layers"), script);
    assert_eq!(
        o.stdout(),
        "fuse.fuse-overlayfs\nkeep\nodd.txt\nopq\nnew.txt\nkeep-a-v3\nnew\n"
    );
    let o = sh(&sb, &[], "echo $$");
    assert_eq!(
        o.stdout(),
        "1\n",
        "the helper is not in the container's pid namespace"
    );
    let helpers = std::process::Command::new("pgrep")
        .args([
            "-u",
            &user.uid().to_string(),
            "-f",
            &sb.dir.display().to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        helpers.stdout.is_empty(),
        "processes left: {}",
        String::from_utf8_lossy(&helpers.stdout)
    );
    assert!(containers_left(&sb).is_empty());
}
per_user!(fuse_overlayfs, fuse_overlayfs);

/// `--platform` picks the image from an index, pulling again when the stored one is
/// for another platform. (The arm64 image only holds data: the borrowed busybox shell
/// is the host's.)
#[test]
fn run_platform() {
    let sb = Sandbox::new(User::Sub);
    let img = image("multiarch");
    sb.ok(&["pull", "-q", &bb()]);
    let bin = sb.layer_diff(&layers("busybox")[0]).join("bin");
    let bbx = format!("{}:/bbx:ro", bin.display());
    for (platform, want) in [
        ("linux/amd64", "amd64"),
        ("linux/arm64", "arm64"),
        ("linux/amd64", "amd64"),
    ] {
        let o = sb.ok(&[
            "run",
            "--rm",
            "--platform",
            platform,
            "-v",
            &bbx,
            &img,
            "/bbx/cat",
            "/arch.txt",
        ]);
        assert_eq!(o.stdout(), want, "{platform}: {}", o.both());
    }
}

/// `--security-opt seccomp=PROFILE.json` in Docker's format, and `--pull always`.
#[test]
fn seccomp_profile_file_and_pull_always() {
    let sb = Sandbox::new(User::Sub);
    sb.write(
        "deny-mkdir.json",
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}"#,
    );
    let profile = format!("seccomp={}", sb.dir.join("deny-mkdir.json").display());
    let o = sh(
        &sb,
        &["--security-opt", &profile],
        "mkdir /made 2>&1 || echo refused; touch /file && echo touch-ok",
    );
    assert!(
        o.stdout().contains("refused") && o.stdout().ends_with("touch-ok\n"),
        "{}",
        o.both()
    );
    sb.write("bad.json", "{\"syscalls\": []}");
    let bad = format!("seccomp={}", sb.dir.join("bad.json").display());
    sh(&sb, &["--security-opt", &bad], "true").fails_with("seccomp profile");
    let o = sb.ok(&["run", "--rm", "--pull", "always", &bb(), "true"]);
    assert!(
        o.stderr().contains("Status: Image is up to date"),
        "--pull always asks the registry: {}",
        o.both()
    );
}

/// `--init` detached: `box run -d` returns once the command runs (the init's PID 1
/// stays, the shim must not wait for it), the command is PID 1's child, a stop goes
/// through the init to the command, and a missing command is 127 as without `--init`.
#[test]
fn init_detached() {
    let sb = Sandbox::new(User::Sub);
    let id = sb
        .ok(&["run", "-d", "--init", &bb(), "sleep", "300"])
        .stdout();
    let id = id.trim();
    assert_eq!(
        sb.ok(&["inspect", "-f", "{{.State.Status}}", id]).stdout(),
        "running\n"
    );
    // PID 1 is box's init (without --init it would be the sleep itself).
    let o = sb.ok(&["exec", id, "cat", "/proc/1/comm"]);
    assert_eq!(o.stdout(), "box\n", "{}", o.both());
    sb.ok(&["stop", "-t", "5", id]);
    assert_eq!(
        sb.ok(&["inspect", "-f", "{{.State.ExitCode}}", id])
            .stdout(),
        "143\n",
        "SIGTERM reached sleep through the init"
    );
    let o = sb.run(&["run", "--rm", "--init", &bb(), "no-such-command"]);
    assert_eq!(o.code(), 127, "{}", o.both());
}
