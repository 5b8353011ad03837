//! Detached containers and the commands around them, with no daemon: every answer
//! comes from files, locks and the shims. Also what happens when things die.

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::*;

fn bb() -> String {
    image("busybox")
}

/// `box run -d [FLAGS] busybox sh -c SCRIPT`, returning the full id.
fn detached(sb: &Sandbox, flags: &[&str], script: &str) -> String {
    let img = bb();
    let mut args = vec!["run", "-d"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&[img.as_str(), "sh", "-c", script]);
    let id = sb.ok(&args).stdout().trim().to_string();
    assert!(
        id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "run -d prints the full id: {id:?}"
    );
    id
}

fn inspect(sb: &Sandbox, name: &str) -> Value {
    let out = sb.ok(&["inspect", name]).stdout();
    let v: Value = serde_json::from_str(&out).unwrap();
    v[0].clone()
}

fn status(sb: &Sandbox, name: &str) -> String {
    inspect(sb, name)["State"]["Status"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Polls `cond` until it holds, for at most `secs` seconds.
fn eventually(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The STATUS column of `box ps -a` for one container.
fn ps_status(sb: &Sandbox, name: &str) -> String {
    let out = sb
        .ok(&["ps", "-a", "--filter", &format!("name={name}")])
        .stdout();
    let header = out.lines().next().unwrap();
    let col = header.find("STATUS").unwrap();
    let end = header.find("PORTS").unwrap();
    let line = out
        .lines()
        .skip(1)
        .find(|l| l.trim_end().ends_with(name))
        .unwrap_or_else(|| panic!("{name} not in ps -a:\n{out}"));
    line[col..end].trim().to_string()
}

fn processes_with(marker: &str) -> usize {
    let out = std::process::Command::new("pgrep")
        .args(["-f", marker])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

fn detached_basics(user: User) {
    let sb = Sandbox::new(user);
    // A trap: as PID 1, a process without a handler ignores SIGTERM (as in Docker).
    let id = detached(
        &sb,
        &["--name", "web"],
        "trap 'exit 143' TERM; echo started; while true; do sleep 0.1; done",
    );
    let ps = sb.ok(&["ps"]).stdout();
    let mut lines = ps.lines();
    let header = lines.next().unwrap();
    for col in [
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ] {
        assert!(header.contains(col), "{header}");
    }
    let row = lines.next().unwrap();
    assert!(row.starts_with(&id[..12]), "{ps}");
    assert!(
        row.contains(&bb().trim_end_matches(":latest").to_string()) || row.contains(&bb()),
        "{ps}"
    );
    assert!(row.contains("\"sh -c trap 'exit 14…\""), "{ps}");
    assert!(
        row.contains("Up ") && row.trim_end().ends_with("web"),
        "{ps}"
    );
    assert_eq!(sb.ok(&["ps", "-q"]).stdout(), format!("{}\n", &id[..12]));
    assert_eq!(
        sb.ok(&["ps", "-q", "--no-trunc"]).stdout(),
        format!("{id}\n")
    );
    eventually(5, "the first log line", || {
        sb.ok(&["logs", "web"]).stdout() == "started\n"
    });
    let st = inspect(&sb, &id[..5]);
    assert_eq!(st["Name"], "/web");
    assert_eq!(st["Id"], id.as_str());
    assert_eq!(st["State"]["Running"], true);
    assert!(st["State"]["Pid"].as_i64().unwrap() > 0);

    // A second container gets a Docker-style random name.
    let other = detached(&sb, &[], "true");
    sb.ok(&["wait", &other]);
    let name = inspect(&sb, &other)["Name"].as_str().unwrap().to_string();
    let parts: Vec<&str> = name.trim_start_matches('/').split('_').collect();
    assert_eq!(parts.len(), 2, "adjective_name: {name}");

    // Stopping: SIGTERM ends sleep (143); the state says so everywhere.
    assert_eq!(sb.ok(&["stop", "web"]).stdout(), "web\n");
    assert_eq!(status(&sb, "web"), "exited");
    assert_eq!(inspect(&sb, "web")["State"]["ExitCode"], 143);
    assert!(ps_status(&sb, "web").starts_with("Exited (143) "));
    assert_eq!(sb.ok(&["wait", "web"]).stdout(), "143\n");
    assert_eq!(sb.ok(&["ps", "-q"]).stdout(), "", "nothing runs");
    assert_eq!(
        sb.ok(&["rm", "web", &other]).stdout(),
        format!("web\n{other}\n")
    );
    assert_eq!(sb.ok(&["ps", "-aq"]).stdout(), "");
    sb.run(&["inspect", "web"])
        .fails_with("No such object: web");
    sb.run(&["rm", "web"]).fails_with("No such container: web");
}
per_user!(detached_basics, detached_basics);

/// A container that cannot start is an error of `run -d` itself, with Docker's status.
#[test]
fn detached_start_failure() {
    let sb = Sandbox::new(User::Sub);
    let img = bb();
    sb.run(&["run", "-d", "--name", "bad", &img, "no-such-cmd"])
        .fails_with_code(127, "executable file not found");
    assert!(ps_status(&sb, "bad").starts_with("Exited (127)"));
    assert!(inspect(&sb, "bad")["State"]["Error"]
        .as_str()
        .unwrap()
        .contains("no-such-cmd"));
}

#[test]
fn ps_filters_and_limits() {
    let sb = Sandbox::new(User::Sub);
    let a = detached(&sb, &["--name", "alpha", "-l", "tier=web"], "exit 3");
    let b = detached(&sb, &["--name", "beta", "--label", "tier=db"], "sleep 300");
    sb.ok(&["wait", &a]);
    let ids = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["ps", "-q", "--no-trunc"];
        all.extend_from_slice(args);
        sb.ok(&all).stdout().lines().map(str::to_string).collect()
    };
    assert_eq!(ids(&[]), vec![b.clone()], "only running by default");
    assert_eq!(ids(&["-a"]), vec![b.clone(), a.clone()], "newest first");
    assert_eq!(ids(&["-l"]), vec![b.clone()]);
    assert_eq!(ids(&["-n", "2"]), vec![b.clone(), a.clone()]);
    assert_eq!(ids(&["-a", "--filter", "name=alp"]), vec![a.clone()]);
    assert_eq!(ids(&["--filter", "status=exited"]), vec![a.clone()]);
    assert_eq!(ids(&["-a", "--filter", "label=tier=db"]), vec![b.clone()]);
    assert_eq!(ids(&["-a", "--filter", "label=tier"]).len(), 2);
    assert_eq!(
        ids(&[
            "-a",
            "--filter",
            "label=tier=web",
            "--filter",
            "status=running"
        ]),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(&["-a", "--filter", &format!("ancestor={}", bb())]).len(),
        2
    );
    assert_eq!(ids(&["-a", "--filter", "ancestor=other"]).len(), 0);
    assert!(ps_status(&sb, "alpha").starts_with("Exited (3) "));
    sb.run(&["ps", "--filter", "color=red"])
        .fails_with("invalid filter");
    assert_eq!(inspect(&sb, "beta")["Config"]["Labels"]["tier"], "db");
}

fn logs(user: User) {
    let sb = Sandbox::new(user);
    let id = detached(
        &sb,
        &["--name", "talk"],
        "for i in 1 2 3; do echo out$i; echo err$i >&2; done; printf partial",
    );
    assert_eq!(sb.ok(&["wait", &id]).stdout(), "0\n");
    let o = sb.ok(&["logs", "talk"]);
    assert_eq!(o.stdout(), "out1\nout2\nout3\npartial");
    assert_eq!(o.stderr(), "err1\nerr2\nerr3\n");
    // Each stream keeps its order; between the two, the order is the shim's reading.
    let id = detached(
        &sb,
        &["--name", "lines"],
        "for i in 1 2 3 4; do echo line$i; done",
    );
    sb.ok(&["wait", &id]);
    assert_eq!(
        sb.ok(&["logs", "--tail", "2", "lines"]).stdout(),
        "line3\nline4\n"
    );
    assert_eq!(sb.ok(&["logs", "--tail", "0", "lines"]).stdout(), "");
    let o = sb.ok(&["logs", "-t", "--tail", "1", "lines"]);
    let (time, text) = o
        .stdout()
        .split_once(' ')
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .unwrap();
    assert!(time.starts_with("20") && time.ends_with('Z'), "{time}");
    assert_eq!(text, "line4\n");
    assert_eq!(
        sb.ok(&["logs", "--since", "1h", "lines"])
            .stdout()
            .lines()
            .count(),
        4
    );
    assert_eq!(
        sb.ok(&["logs", "--since", "2999-01-01T00:00:00Z", "talk"])
            .stdout(),
        ""
    );
    sb.run(&["logs", "--since", "yesterday", "talk"])
        .fails_with("invalid time");

    // -f follows until the container ends.
    detached(
        &sb,
        &["--name", "slow"],
        "for i in 1 2 3; do echo tick$i; sleep 0.3; done",
    );
    let started = Instant::now();
    let o = sb.ok(&["logs", "-f", "slow"]);
    assert_eq!(o.stdout(), "tick1\ntick2\ntick3\n");
    assert!(started.elapsed() < Duration::from_secs(10));
}
per_user!(logs, logs);

/// A chatty container's log stays under its cap: rotated files, the oldest dropped.
#[test]
fn log_rotation() {
    let sb = Sandbox::new(User::Sub);
    let id = detached(
        &sb,
        &[
            "--name",
            "chatty",
            "--log-opt",
            "max-size=2k",
            "--log-opt",
            "max-file=2",
        ],
        "i=0; while [ $i -lt 400 ]; do echo line-$i; i=$((i+1)); done",
    );
    sb.ok(&["wait", &id]);
    let dir = sb.store().join("containers").join(&id);
    let size = |n: &str| std::fs::metadata(dir.join(n)).map(|m| m.len()).ok();
    assert!(size("ctr.log").unwrap() <= 2048);
    assert!(size("ctr.log.1").unwrap() <= 2048);
    assert_eq!(size("ctr.log.2"), None, "max-file=2 keeps two files");
    let out = sb.ok(&["logs", "chatty"]).stdout();
    assert!(out.ends_with("line-399\n"), "{out}");
    assert!(!out.contains("line-0\n"), "the oldest lines were dropped");
    let lines: Vec<&str> = out.lines().collect();
    let first: usize = lines[0].trim_start_matches("line-").parse().unwrap();
    assert_eq!(lines.len(), 400 - first, "nothing missing in between");
    assert_eq!(
        inspect(&sb, "chatty")["HostConfig"]["LogConfig"]["Config"]["max-size"],
        "2048"
    );
    sb.run(&["run", "-d", "--log-opt", "mode=fast", &bb(), "true"])
        .fails_with("invalid log option");
}

/// `box stop`: the stop signal first, SIGKILL after the timeout.
fn stop_and_kill(user: User) {
    let sb = Sandbox::new(user);
    detached(
        &sb,
        &["--name", "stubborn"],
        "trap '' TERM; echo ready; while true; do sleep 0.1; done",
    );
    eventually(5, "ready", || {
        sb.ok(&["logs", "stubborn"]).stdout() == "ready\n"
    });
    let t = Instant::now();
    sb.ok(&["stop", "-t", "1", "stubborn"]);
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "waited for the timeout: {took:?}"
    );
    assert_eq!(inspect(&sb, "stubborn")["State"]["ExitCode"], 137, "killed");

    // The image's StopSignal (runcfg: SIGUSR1) is what stop sends.
    let img = image("runcfg");
    sb.ok(&[
        "run",
        "-d",
        "--name",
        "usr1",
        "-u",
        "0",
        "--entrypoint",
        "sh",
        &img,
        "-c",
        "trap 'exit 42' USR1; echo ready; while true; do sleep 0.1; done",
    ]);
    eventually(5, "ready", || {
        sb.ok(&["logs", "usr1"]).stdout() == "ready\n"
    });
    sb.ok(&["stop", "usr1"]);
    assert_eq!(inspect(&sb, "usr1")["State"]["ExitCode"], 42);

    // kill: SIGKILL by default, or the signal given.
    detached(
        &sb,
        &["--name", "k"],
        "trap 'exit 7' HUP; echo ready; while true; do sleep 0.1; done",
    );
    eventually(5, "ready", || sb.ok(&["logs", "k"]).stdout() == "ready\n");
    assert_eq!(sb.ok(&["kill", "-s", "HUP", "k"]).stdout(), "k\n");
    assert_eq!(sb.ok(&["wait", "k"]).stdout(), "7\n");
    detached(&sb, &["--name", "k2"], "sleep 300");
    sb.ok(&["kill", "k2"]);
    assert_eq!(sb.ok(&["wait", "k2"]).stdout(), "137\n");
    sb.run(&["kill", "k2"]).fails_with("is not running");
    sb.run(&["kill", "-s", "NOPE", "k2"])
        .fails_with("invalid signal");
    // Stopping a stopped container is fine, as Docker's.
    sb.ok(&["stop", "k2"]);
}
per_user!(stop_and_kill, stop_and_kill);

/// `start` runs a stopped container again on the same filesystem; `-a` attaches.
fn start_and_restart(user: User) {
    let sb = Sandbox::new(user);
    let id = detached(
        &sb,
        &["--name", "again"],
        "echo run >> /count; cat /count | wc -l; exit 3",
    );
    assert_eq!(sb.ok(&["wait", &id]).stdout(), "3\n");
    let o = sb.run(&["start", "-a", "again"]);
    assert_eq!(o.code(), 3, "{}", o.both());
    assert_eq!(o.stdout().trim(), "2", "the container's files persist");
    assert_eq!(sb.ok(&["start", "again"]).stdout(), "again\n");
    assert_eq!(sb.ok(&["wait", "again"]).stdout(), "3\n");
    assert_eq!(sb.ok(&["logs", "again"]).stdout(), "1\n2\n3\n");

    detached(&sb, &["--name", "srv"], "sleep 300");
    let before = inspect(&sb, "srv")["State"]["Pid"].as_i64().unwrap();
    assert_eq!(sb.ok(&["restart", "-t", "0", "srv"]).stdout(), "srv\n");
    let after = inspect(&sb, "srv")["State"].clone();
    assert_eq!(after["Status"], "running");
    assert_ne!(after["Pid"].as_i64().unwrap(), before, "a new process");
    // Starting a running container is not an error.
    sb.ok(&["start", "srv"]);
    sb.run(&["start", "-a", "srv"])
        .fails_with("already running");
}
per_user!(start_and_restart, start_and_restart);

/// Restart policies are the shim's job: it restarts in place, with back-off, and
/// counts; a stop by the user wins.
fn restart_policies(user: User) {
    let sb = Sandbox::new(user);
    let id = detached(
        &sb,
        &["--name", "flaky", "--restart", "on-failure:2"],
        "echo try; exit 1",
    );
    eventually(20, "two restarts, then exited", || {
        let st = inspect(&sb, &id);
        st["State"]["Status"] == "exited" && st["RestartCount"] == 2
    });
    assert_eq!(sb.ok(&["logs", "flaky"]).stdout(), "try\ntry\ntry\n");
    let st = inspect(&sb, "flaky");
    assert_eq!(st["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
    assert_eq!(st["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 2);

    detached(
        &sb,
        &["--name", "fine", "--restart", "on-failure"],
        "exit 0",
    );
    assert_eq!(sb.ok(&["wait", "fine"]).stdout(), "0\n");
    eventually(5, "fine exited", || status(&sb, "fine") == "exited");
    assert_eq!(
        inspect(&sb, "fine")["RestartCount"],
        0,
        "success is not a failure"
    );

    detached(
        &sb,
        &["--name", "forever", "--restart", "always"],
        "sleep 0.2",
    );
    eventually(20, "a restart", || {
        inspect(&sb, "forever")["RestartCount"].as_u64().unwrap() >= 2
    });
    sb.ok(&["stop", "forever"]);
    let count = inspect(&sb, "forever")["RestartCount"].clone();
    std::thread::sleep(Duration::from_millis(800));
    let st = inspect(&sb, "forever");
    assert_eq!(st["State"]["Status"], "exited", "stopped stays stopped");
    assert_eq!(st["RestartCount"], count);

    detached(
        &sb,
        &["--name", "killed", "--restart", "unless-stopped"],
        "sleep 300",
    );
    sb.ok(&["kill", "killed"]);
    assert_eq!(sb.ok(&["wait", "killed"]).stdout(), "137\n");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(status(&sb, "killed"), "exited", "a kill is a stop too");

    sb.run(&["run", "--rm", "--restart", "always", &bb(), "true"])
        .fails_with("conflicting options");
    sb.run(&["run", "-d", "--restart", "sometimes", &bb(), "true"])
        .fails_with("invalid restart policy");
}
per_user!(restart_policies, restart_policies);

fn rm_rename_prune(user: User) {
    let sb = Sandbox::new(user);
    detached(&sb, &["--name", "busy"], "echo x > /file; sleep 300");
    sb.run(&["rm", "busy"])
        .fails_with("container is running: stop the container before removing or force remove");
    assert_eq!(status(&sb, "busy"), "running", "a refused rm loses nothing");
    sb.ok(&["rename", "busy", "renamed"]);
    sb.run(&["inspect", "--type", "container", "busy"])
        .fails_with("No such container: busy");
    assert_eq!(inspect(&sb, "renamed")["Name"], "/renamed");
    detached(&sb, &["--name", "busy"], "true");
    sb.run(&["rename", "renamed", "busy"])
        .fails_with("already in use");
    sb.run(&["rename", "renamed", "b@d"])
        .fails_with("invalid container name");
    sb.ok(&["wait", "busy"]);
    assert_eq!(sb.ok(&["rm", "-f", "-v", "renamed"]).stdout(), "renamed\n");
    sb.run(&["rm", "renamed"]).fails_with("No such container");

    detached(&sb, &["--name", "keep"], "sleep 300");
    detached(&sb, &["--name", "gone1"], "exit 0");
    sb.ok(&["wait", "gone1"]);
    let o = sb.ok(&["container", "prune", "-f"]);
    assert!(
        o.stdout().starts_with("Deleted Containers:\n"),
        "{}",
        o.both()
    );
    assert!(o.stdout().contains("Total reclaimed space: "));
    let names = sb.ok(&["container", "ls", "-a"]).stdout();
    let names: Vec<&str> = names
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().last().unwrap())
        .collect();
    assert_eq!(names, vec!["keep"], "prune keeps what runs");
    assert_eq!(status(&sb, "keep"), "running");
}
per_user!(rm_rename_prune, rm_rename_prune);

/// `box attach` to a `-dit` container; Ctrl-P Ctrl-Q detaches and leaves it running.
#[test]
fn attach_and_detach_keys() {
    let sb = Sandbox::new(User::Sub);
    sb.ok(&["run", "-dit", "--name", "shell", &bb(), "sh"]);
    let mut s = sb
        .in_terminal(&["attach", "shell"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = s.stdin.take().unwrap();
    let pause = || std::thread::sleep(Duration::from_millis(700));
    pause();
    input.write_all(b"echo attached-$((6*7))\n").unwrap();
    pause();
    input.write_all(b"\x10\x11").unwrap();
    let o = s.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("attached-42"), "{out}");
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert_eq!(status(&sb, "shell"), "running", "detached, not stopped");
    sb.ok(&["rm", "-f", "shell"]);
    sb.ok(&["run", "--name", "over", &bb(), "true"]);
    sb.run(&["attach", "over"])
        .fails_with("You cannot attach to a stopped container");
}

/// A shim killed with SIGKILL takes its container along, and leaves a state that no
/// longer claims to run; the runtime directory gone (a reboot) changes nothing.
fn shim_killed(user: User) {
    let sb = Sandbox::new(user);
    let marker = format!("sleep {}", 1000 + rand::random::<u16>() as u32);
    let id = detached(&sb, &["--name", "victim"], &format!("exec {marker}"));
    eventually(5, "the container's process", || {
        processes_with(&marker) == 1
    });
    let shim = inspect(&sb, "victim")["Box"]["ShimPid"].as_i64().unwrap();
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(shim as i32).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    eventually(5, "the container to die with its shim", || {
        processes_with(&marker) == 0
    });
    assert_eq!(ps_status(&sb, "victim"), "Exited (unknown)");
    let st = inspect(&sb, "victim");
    assert_eq!(st["State"]["Running"], false);
    assert_eq!(st["State"]["ExitCode"], -1);
    assert_eq!(
        sb.ok(&["wait", "victim"]).stdout(),
        "-1\n",
        "wait does not hang"
    );
    sb.ok(&["stop", "victim"]);
    // As after a reboot: the runtime directory is gone too. It starts again.
    let _ = std::fs::remove_dir_all(sb.runtime().join("box"));
    sb.ok(&["start", "victim"]);
    assert_eq!(status(&sb, "victim"), "running");
    sb.ok(&["rm", "-f", &id]);
    assert_eq!(sb.ok(&["ps", "-aq"]).stdout(), "");
    assert_eq!(processes_with(&marker), 0);
}
per_user!(shim_killed, shim_killed);

/// The container's first process killed from outside: an ordinary exit, 137.
#[test]
fn container_pid1_killed() {
    let sb = Sandbox::new(User::Sub);
    detached(&sb, &["--name", "p1"], "sleep 300");
    let pid = inspect(&sb, "p1")["State"]["Pid"].as_i64().unwrap();
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid as i32).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    assert_eq!(sb.ok(&["wait", "p1"]).stdout(), "137\n");
    assert!(ps_status(&sb, "p1").starts_with("Exited (137)"));
    sb.ok(&["rm", "p1"]);
}

/// `box run` in the foreground killed with SIGKILL: the container lives on under
/// its shim, logging, and can be stopped and removed.
#[test]
fn foreground_client_killed() {
    let sb = Sandbox::new(User::Sub);
    sb.ok(&["pull", "-q", &bb()]);
    let mut child = sb
        .cmd(&[
            "run",
            "--name",
            "fg",
            &bb(),
            "sh",
            "-c",
            "while true; do echo tick; sleep 0.1; done",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 5];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut buf).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(status(&sb, "fg"), "running");
    let before = sb.ok(&["logs", "fg"]).stdout().lines().count();
    std::thread::sleep(Duration::from_millis(500));
    let after = sb.ok(&["logs", "fg"]).stdout().lines().count();
    assert!(after > before, "still logging: {before} then {after}");
    sb.ok(&["stop", "-t", "1", "fg"]);
    sb.ok(&["rm", "fg"]);
}

/// Closing the terminal of a `-it` session (its session leader gets SIGHUP) does not
/// hang anything or leave a state that lies.
#[test]
fn terminal_closed() {
    let sb = Sandbox::new(User::Sub);
    sb.ok(&["pull", "-q", &bb()]);
    let mut s = sb
        .in_terminal(&["run", "-it", "--name", "tty", &bb(), "sh"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    // `script` owns the terminal: ending it hangs up the session, as closing a window.
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(s.id() as i32).unwrap(),
        rustix::process::Signal::HUP,
    )
    .unwrap();
    drop(s.stdin.take());
    s.wait().unwrap();
    eventually(10, "the session's shell to end", || {
        status(&sb, "tty") == "exited"
    });
    assert!(ps_status(&sb, "tty").starts_with("Exited ("));
    sb.ok(&["rm", "tty"]);
    assert_eq!(sb.ok(&["ps", "-aq"]).stdout(), "");

    // A detached container started from a terminal outlives it.
    let o = sb
        .in_terminal(&["run", "-d", "--name", "bg", &bb(), "sleep", "300"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(status(&sb, "bg"), "running");
    sb.ok(&["rm", "-f", "bg"]);
}

/// Fifty `run -d` / `rm -f` pairs at once, and ten runs racing for one name: nothing
/// lost, nothing corrupt, each name taken once.
#[test]
fn concurrency() {
    let sb = std::sync::Arc::new(Sandbox::new(User::Sub));
    sb.ok(&["pull", "-q", &bb()]);
    let threads: Vec<_> = (0..50)
        .map(|i| {
            let sb = sb.clone();
            std::thread::spawn(move || {
                let name = format!("c{i}");
                let run = sb.run(&["run", "-d", "--name", &name, &bb(), "sleep", "300"]);
                let rm = sb.run(&["rm", "-f", &name]);
                (run.code(), rm.code(), run.both(), rm.both())
            })
        })
        .collect();
    for t in threads {
        let (run, rm, run_out, rm_out) = t.join().unwrap();
        assert_eq!((run, rm), (0, 0), "{run_out}\n{rm_out}");
    }
    assert_eq!(sb.ok(&["ps", "-aq"]).stdout(), "");
    let left: Vec<String> = std::fs::read_dir(sb.store().join("containers"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, vec!["names"], "no directory or trash left");
    assert_eq!(
        std::fs::read_dir(sb.store().join("containers/names"))
            .unwrap()
            .count(),
        0,
        "no name left"
    );

    let racers: Vec<_> = (0..10)
        .map(|_| {
            let sb = sb.clone();
            std::thread::spawn(move || {
                sb.run(&["run", "-d", "--name", "one", &bb(), "sleep", "300"])
                    .code()
            })
        })
        .collect();
    let codes: Vec<i32> = racers.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(codes.iter().filter(|c| **c == 0).count(), 1, "{codes:?}");
    assert!(codes.iter().all(|c| *c == 0 || *c == 125), "{codes:?}");
    assert_eq!(sb.ok(&["ps", "-q"]).stdout().lines().count(), 1);
    sb.ok(&["rm", "-f", "one"]);
}

/// SIGTERM to a shim (a logout, a shutdown) stops its container as `box stop` does:
/// the stop signal, then SIGKILL after the stop timeout, and no restart.
#[test]
fn shim_terminated() {
    let sb = Sandbox::new(User::Sub);
    detached(
        &sb,
        &[
            "--name",
            "deaf",
            "--stop-timeout",
            "1",
            "--restart",
            "always",
        ],
        "exec sleep 300",
    );
    let shim = inspect(&sb, "deaf")["Box"]["ShimPid"].as_i64().unwrap();
    let t = Instant::now();
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(shim as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    eventually(10, "the container to stop", || {
        status(&sb, "deaf") == "exited"
    });
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    let st = inspect(&sb, "deaf");
    assert_eq!(st["State"]["ExitCode"], 137);
    assert_eq!(st["RestartCount"], 0);
}
