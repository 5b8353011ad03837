//! `box exec`: new processes in running containers, as each kind of user.

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::harness::*;
use crate::term::Session;

/// `box run -d --name NAME [FLAGS] busybox sh -c SCRIPT`.
fn detached(sb: &Sandbox, name: &str, flags: &[&str], script: &str) {
    let img = bb();
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(flags);
    args.extend_from_slice(&[img.as_str(), "sh", "-c", script]);
    sb.ok(&args);
}

/// Polls `cond` until it holds, for at most `secs` seconds.
fn eventually(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Status, output, files and processes: the exec'd process is one of the container's.
fn basics(user: User) {
    let sb = Sandbox::new(user);
    detached(
        &sb,
        "c",
        &[],
        "echo from-container > /tmp/made; exec sleep 600",
    );
    assert_eq!(sb.run(&["exec", "c", "sh", "-c", "exit 7"]).code(), 7);
    let o = sb.ok(&["exec", "c", "sh", "-c", "echo out; echo err >&2"]);
    assert_eq!((o.stdout(), o.stderr()), ("out\n".into(), "err\n".into()));
    // `run -d` returns once the container runs, not once its script got anywhere.
    eventually(10, "the container's script", || {
        sb.run(&["exec", "c", "cat", "/proc/1/cmdline"]).stdout() == "sleep\x00600\x00"
    });
    assert_eq!(
        sb.ok(&["exec", "c", "cat", "/tmp/made"]).stdout(),
        "from-container\n",
        "a file the container wrote"
    );
    let o = sb.ok(&[
        "exec",
        "c",
        "sh",
        "-c",
        "echo $$; ps -o pid,comm > /tmp/ps; tail -n +2 /tmp/ps | wc -l; hostname; pwd",
    ]);
    let lines: Vec<String> = o.stdout().lines().map(str::to_string).collect();
    assert_ne!(lines[0], "1", "{}", o.both());
    assert_eq!(
        lines[1],
        "3",
        "only the container's processes: sleep, sh, ps: {}",
        o.both()
    );
    let hostname = lines[2].clone();
    assert_eq!(hostname.len(), 12, "the container's hostname: {}", o.both());
    assert_eq!(lines[3], "/", "the container's working directory");
    // Arguments after the command are its own, flags too.
    assert_eq!(sb.ok(&["exec", "c", "echo", "-n", "x"]).stdout(), "x");
    sb.run(&["exec", "c", "no-such-command"])
        .fails_with_code(127, "executable file not found");
    sb.run(&["exec", "c", "/etc/passwd"])
        .fails_with_code(126, "ermission denied");
    sb.run(&["exec", "nosuch", "true"])
        .fails_with("No such container: nosuch");
    sb.ok(&["run", "--name", "stopped", &bb(), "true"]);
    sb.run(&["exec", "stopped", "true"])
        .fails_with("container stopped is not running");

    // -d: back at once, the command runs on.
    let o = sb.ok(&[
        "exec",
        "-d",
        "c",
        "sh",
        "-c",
        "sleep 0.5; echo done > /tmp/d",
    ]);
    assert_eq!(o.stdout(), "", "-d prints nothing");
    eventually(10, "the detached command", || {
        sb.run(&["exec", "c", "cat", "/tmp/d"]).stdout() == "done\n"
    });
    sb.run(&["exec", "-d", "c", "no-such-command"])
        .fails_with_code(127, "executable file not found");

    // -i passes stdin, EOF included; without it the command reads nothing.
    for (flags, want) in [(&["-i"][..], "typed\n"), (&[][..], "")] {
        let mut args = vec!["exec"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["c", "cat"]);
        let mut child = sb
            .cmd(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(b"typed\n");
        drop(stdin);
        let o = child.wait_with_output().unwrap();
        assert_eq!(
            (o.status.code(), String::from_utf8_lossy(&o.stdout).as_ref()),
            (Some(0), want),
            "box exec {flags:?} c cat"
        );
    }
}
per_user!(basics, basics);

/// `-e`, `--env-file`, `-w` and `-u`, over the container's own environment and user.
fn process_flags(user: User) {
    let sb = Sandbox::new(user);
    detached(
        &sb,
        "c",
        &["-e", "FROMRUN=run", "-w", "/etc"],
        "exec sleep 600",
    );
    sb.write("envfile", "# comment\nFROMFILE=file\nFROMRUN=file\n");
    let env_file = sb.dir.join("envfile");
    let o = sb.ok(&[
        "exec",
        "--env-file",
        env_file.to_str().unwrap(),
        "-e",
        "FOO=bar",
        "c",
        "sh",
        "-c",
        "echo $FOO $FROMFILE $FROMRUN $HOME; pwd",
    ]);
    assert_eq!(o.stdout(), "bar file file /root\n/etc\n", "{}", o.both());
    let o = sb.ok(&["exec", "-w", "/tmp", "c", "sh", "-c", "pwd; echo $FROMRUN"]);
    assert_eq!(o.stdout(), "/tmp\nrun\n");
    sb.run(&["exec", "-w", "/no/such/dir", "c", "true"])
        .fails_with("/no/such/dir");
    sb.run(&["exec", "-w", "relative", "c", "true"])
        .fails_with("absolute path");
    sb.run(&["exec", "-u", "ghost", "c", "true"])
        .fails_with("unable to find user ghost");
    if user == User::NoSub {
        // One id only: 1000 cannot exist in the container's user namespace.
        sb.run(&["exec", "-u", "1000", "c", "id", "-u"])
            .fails_with("user id 1000 is not mapped");
        return;
    }
    let o = sb.ok(&["exec", "-u", "1000:50", "c", "sh", "-c", "id -u; id -g"]);
    assert_eq!(o.stdout(), "1000\n50\n");
    // Without -u, the container's own user, working directory and environment.
    let img = image("runcfg");
    sb.ok(&[
        "run",
        "-d",
        "--name",
        "app",
        "--entrypoint",
        "sh",
        &img,
        "-c",
        "exec sleep 600",
    ]);
    let o = sb.ok(&["exec", "app", "sh", "-c", "id -u; id -G; pwd; echo $HOME"]);
    assert_eq!(o.stdout(), "1000\n1000 50\n/home/app/work\n/home/app\n");
    assert_eq!(
        sb.ok(&["exec", "-u", "root", "app", "id", "-u"]).stdout(),
        "0\n"
    );
}
per_user!(process_flags, process_flags);

/// Capabilities, seccomp and no_new_privs are the container's, not more.
fn security(user: User) {
    let sb = Sandbox::new(user);
    let status = "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/$1/status";
    let compare = |name: &str| -> String {
        let own = sb
            .ok(&["exec", name, "sh", "-c", status, "-", "self"])
            .stdout();
        let first = sb
            .ok(&["exec", name, "sh", "-c", status, "-", "1"])
            .stdout();
        assert_eq!(
            own, first,
            "the container's first process and the exec'd one"
        );
        own
    };
    detached(&sb, "c", &[], "exec sleep 600");
    let own = compare("c");
    assert!(
        own.contains("CapEff:\t00000000a80425fb\n") && own.contains("Seccomp:\t2\n"),
        "{own}"
    );
    detached(
        &sb,
        "locked",
        &[
            "--cap-drop",
            "ALL",
            "--cap-add",
            "chown",
            "--security-opt",
            "no-new-privileges",
        ],
        "exec sleep 600",
    );
    assert_eq!(
        compare("locked"),
        "CapEff:\t0000000000000001\nCapBnd:\t0000000000000001\nNoNewPrivs:\t1\nSeccomp:\t2\n"
    );
    let o = sb.ok(&[
        "exec",
        "--privileged",
        "c",
        "grep",
        "-E",
        "^(CapEff|Seccomp):",
        "/proc/self/status",
    ]);
    assert!(
        o.stdout().starts_with("CapEff:\t000001f") && o.stdout().contains("Seccomp:\t0\n"),
        "--privileged: every capability, no filter: {}",
        o.both()
    );
    let o = sb.ok(&["exec", "c", "grep", "SigIgn", "/proc/self/status"]);
    assert_eq!(
        o.stdout(),
        "SigIgn:\t0000000000000000\n",
        "no signal ignored (box itself ignores SIGPIPE)"
    );
}
per_user!(security, security);

/// `-t`: a terminal of the container's own, sized as the user's; `-it` types into it.
fn terminal(user: User) {
    let sb = Sandbox::new(user);
    detached(&sb, "c", &[], "exec sleep 600");
    // `script`'s terminal has no size unless told; give it one first.
    let mut cmd = sb.in_terminal(&["exec", "-t", "c", "sh", "-c", "tty; stty size"]);
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let line = format!("stty rows 33 cols 101; {}", args[1]);
    cmd = {
        let mut c = std::process::Command::new("script");
        c.args(["-qec", &line, "/dev/null"])
            .env_clear()
            .envs(cmd.get_envs().filter_map(|(k, v)| Some((k, v?))))
            .current_dir(&sb.dir);
        c
    };
    let o = cmd.stdin(Stdio::null()).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("/dev/pts/") && out.contains("33 101"),
        "a terminal inside, the user's size: {out}"
    );
    assert_eq!(o.status.code(), Some(0), "{out}");

    let mut s = Session::start(&sb, &["exec", "-it", "c", "sh"]);
    s.send(b"echo up-$((6*7))\n");
    s.expect("up-42");
    s.send(b"sleep 30\n");
    // Until `sleep` runs: nothing it prints says so.
    std::thread::sleep(Duration::from_millis(700));
    s.send(b"\x03");
    s.expect("^C");
    s.send(b"echo after-$((40+2)); tty\n");
    s.expect("after-42");
    s.send(b"exit 5\n");
    let (status, out) = s.finish();
    assert!(
        out.contains("after-42") && out.contains("/dev/pts/"),
        "Ctrl-C stops the foreground command, the shell lives on: {out}"
    );
    assert_eq!(status.code(), Some(5), "{out}");
}
per_user!(terminal, terminal);

/// A `--network host` container shares the host's network namespace, which exec must
/// not try to join from inside the container's user namespace.
#[test]
fn network_host() {
    let sb = Sandbox::new(User::Sub);
    detached(&sb, "h", &["--network", "host"], "exec sleep 600");
    let o = sb.ok(&[
        "exec",
        "h",
        "sh",
        "-c",
        "cat /proc/net/dev | tail -n +3 | wc -l",
    ]);
    let host = std::fs::read_to_string("/proc/net/dev")
        .unwrap()
        .lines()
        .count()
        - 2;
    assert_eq!(o.stdout().trim(), host.to_string(), "the host's interfaces");
}
