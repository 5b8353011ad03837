//! Detached containers and the commands around them, with no daemon: every answer
//! comes from files, locks and the shims. (Attaching is in `attach`, logs in `logs`,
//! what happens when things die in `survival`.)

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::ctr::*;
use crate::harness::*;

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
fn detached_start_failure(user: User) {
    let sb = Sandbox::new(user);
    let img = bb();
    sb.run(&["run", "-d", "--name", "bad", &img, "no-such-cmd"])
        .fails_with_code(127, "executable file not found");
    assert!(ps_status(&sb, "bad").starts_with("Exited (127)"));
    assert!(inspect(&sb, "bad")["State"]["Error"]
        .as_str()
        .unwrap()
        .contains("no-such-cmd"));
}
per_user!(detached_start_failure, detached_start_failure);

/// `ps` filters as Docker's: `name` and `id` are regular expressions, same keys
/// are alternatives (but `label`s must all match), different keys must all match.
fn ps_filters_and_limits(user: User) {
    let sb = Sandbox::new(user);
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
    // Regular expressions, with or without the leading slash; not substrings only.
    assert_eq!(ids(&["-a", "--filter", "name=^alpha$"]), vec![a.clone()]);
    assert_eq!(ids(&["-a", "--filter", "name=^/beta$"]), vec![b.clone()]);
    assert_eq!(ids(&["-a", "--filter", "name=^alp$"]), Vec::<String>::new());
    assert_eq!(ids(&["-a", "--filter", "name=a$"]).len(), 2);
    assert_eq!(
        ids(&["-a", "--filter", "name=^alpha$", "--filter", "name=^beta$"]),
        vec![b.clone(), a.clone()],
        "one key: alternatives"
    );
    assert_eq!(
        ids(&["-a", "--filter", &format!("id=^{}", &a[..6])]),
        vec![a.clone()]
    );
    assert_eq!(
        ids(&["-a", "--filter", &format!("id={}", &b[20..40])]),
        vec![b.clone()]
    );
    // exited=N: containers that ran and ended so; like Docker, not without -a.
    assert_eq!(ids(&["-a", "--filter", "exited=3"]), vec![a.clone()]);
    assert_eq!(ids(&["-a", "--filter", "exited=0"]), Vec::<String>::new());
    assert_eq!(ids(&["--filter", "exited=3"]), Vec::<String>::new());
    // before= and since= a container, stopped ones included.
    assert_eq!(ids(&["--filter", "before=beta"]), vec![a.clone()]);
    assert_eq!(ids(&["--filter", "since=alpha"]), vec![b.clone()]);
    assert_eq!(
        ids(&["--filter", &format!("since={}", &b[..12])]),
        Vec::<String>::new()
    );
    // Labels must all match, as Docker's.
    assert_eq!(
        ids(&["-a", "--filter", "label=tier", "--filter", "label=tier=db"]),
        vec![b.clone()]
    );
    assert_eq!(
        ids(&[
            "-a",
            "--filter",
            "label=tier=web",
            "--filter",
            "label=tier=db"
        ]),
        Vec::<String>::new()
    );
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
    // By the image's id, or a prefix of it.
    let image_id = inspect(&sb, "alpha")["Image"].as_str().unwrap().to_string();
    let hex = image_id.trim_start_matches("sha256:");
    assert_eq!(
        ids(&["-a", "--filter", &format!("ancestor={image_id}")]).len(),
        2
    );
    assert_eq!(
        ids(&["-a", "--filter", &format!("ancestor={}", &hex[..10])]).len(),
        2
    );
    assert!(ps_status(&sb, "alpha").starts_with("Exited (3) "));
    sb.run(&["ps", "--filter", "color=red"])
        .fails_with("invalid filter");
    sb.run(&["ps", "--filter", "name=("])
        .fails_with("not a regular expression");
    sb.run(&["ps", "--filter", "exited=x"])
        .fails_with("not an exit code");
    sb.run(&["ps", "--filter", "before=nobody"])
        .fails_with("No such container: nobody");
    assert_eq!(inspect(&sb, "beta")["Config"]["Labels"]["tier"], "db");
}
per_user!(ps_filters_and_limits, ps_filters_and_limits);

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

/// `box start -i`: the stdin of the session reaches the container run again.
fn start_interactive(user: User) {
    let sb = Sandbox::new(user);
    sb.ok(&["pull", "-q", &bb()]);
    let feed = |args: &[&str], input: &str| {
        let mut c = sb
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "box {args:?}: {o:?}");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let img = bb();
    assert_eq!(
        feed(&["run", "-i", "--name", "cat", &img, "cat"], "first\n"),
        "first\n"
    );
    assert_eq!(feed(&["start", "-i", "cat"], "second\n"), "second\n");
    assert_eq!(feed(&["start", "-ai", "cat"], "third\n"), "third\n");
    assert_eq!(sb.ok(&["logs", "cat"]).stdout(), "first\nsecond\nthird\n");
}
per_user!(start_interactive, start_interactive);

/// `State.StartedAt` and `FinishedAt` as Docker's: RFC 3339, the zero time until
/// the first end, and the last end kept while the container runs again.
fn inspect_times(user: User) {
    let sb = Sandbox::new(user);
    const ZERO: &str = "0001-01-01T00:00:00Z";
    let time = |name: &str, which: &str| -> String {
        inspect(&sb, name)["State"][which]
            .as_str()
            .unwrap()
            .to_string()
    };
    let parse =
        |t: &str| chrono::DateTime::parse_from_rfc3339(t).unwrap_or_else(|e| panic!("{t:?}: {e}"));
    detached(&sb, &["--name", "t"], "sleep 300");
    let started = time("t", "StartedAt");
    parse(&started);
    assert_eq!(time("t", "FinishedAt"), ZERO, "not finished yet");
    sb.ok(&["stop", "-t", "0", "t"]);
    let finished = time("t", "FinishedAt");
    assert!(
        parse(&finished) > parse(&started),
        "{started} then {finished}"
    );
    assert_eq!(time("t", "StartedAt"), started);
    sb.ok(&["start", "t"]);
    let again = time("t", "StartedAt");
    assert!(parse(&again) > parse(&finished), "{finished} then {again}");
    assert_eq!(time("t", "FinishedAt"), finished, "the last end, as Docker");
    sb.ok(&["rm", "-f", "t"]);
}
per_user!(inspect_times, inspect_times);

/// Real-time signals by name and number: systemd's `SIGRTMIN+3` (37) as the stop
/// signal and for `kill -s`.
fn real_time_signals(user: User) {
    let sb = Sandbox::new(user);
    let script = "trap 'echo got-37; exit 7' 37; echo ready; while true; do sleep 0.1; done";
    detached(
        &sb,
        &["--name", "rt", "--stop-signal", "SIGRTMIN+3"],
        script,
    );
    eventually(5, "ready", || sb.ok(&["logs", "rt"]).stdout() == "ready\n");
    assert_eq!(inspect(&sb, "rt")["Config"]["StopSignal"], "SIGRTMIN+3");
    let t = Instant::now();
    sb.ok(&["stop", "rt"]);
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "not the SIGKILL after 10 s"
    );
    assert_eq!(inspect(&sb, "rt")["State"]["ExitCode"], 7);
    for sig in ["RTMIN+3", "SIGRTMIN+3", "37", "rtmax-27"] {
        sb.ok(&["start", "rt"]);
        eventually(5, "ready again", || {
            sb.ok(&["logs", "--tail", "1", "rt"]).stdout() == "ready\n"
        });
        sb.ok(&["kill", "-s", sig, "rt"]);
        assert_eq!(sb.ok(&["wait", "rt"]).stdout(), "7\n", "kill -s {sig}");
    }
    sb.run(&["kill", "-s", "RTMIN+31", "rt"])
        .fails_with("invalid signal");
    sb.run(&["run", "-d", "--stop-signal", "RTMAX+1", &bb(), "true"])
        .fails_with("invalid signal");
}
per_user!(real_time_signals, real_time_signals);

/// Renames of one container at once: one wins at a time, and in the end exactly one
/// name leads to it, the one its record has.
fn concurrent_renames(user: User) {
    let sb = std::sync::Arc::new(Sandbox::new(user));
    let id = detached(&sb, &["--name", "r0"], "sleep 300");
    for round in 0..3 {
        let threads: Vec<_> = (1..=8)
            .map(|i| {
                let (sb, id) = (sb.clone(), id.clone());
                std::thread::spawn(move || sb.run(&["rename", &id, &format!("r{round}{i}")]).code())
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), 0, "each rename succeeds in turn");
        }
    }
    let name = inspect(&sb, &id)["Name"]
        .as_str()
        .unwrap()
        .trim_start_matches('/')
        .to_string();
    let links: Vec<String> = std::fs::read_dir(sb.store().join("containers/names"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(links, vec![name.clone()], "one name, the record's");
    assert_eq!(
        sb.ok(&["ps", "--format", "{{.Names}}"]).stdout(),
        format!("{name}\n")
    );
    sb.ok(&["rm", "-f", &name]);
    assert_eq!(
        std::fs::read_dir(sb.store().join("containers/names"))
            .unwrap()
            .count(),
        0
    );
}
per_user!(concurrent_renames, concurrent_renames);
