//! What happens when things die: the shim (SIGKILL, SIGTERM, SIGSTOP), the
//! container's first process, a foreground `box run`, the terminal of a `-it`
//! session; whatever it is, the state stays true and nothing hangs. Also many
//! commands at once, and what a container inherits from the shell that starts it.

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rustix::process::Signal;

use crate::ctr::*;
use crate::harness::*;
use crate::term::Session;

/// A shim killed with SIGKILL takes its container along, and leaves a state that no
/// longer claims to run; the runtime directory gone (a reboot) changes nothing.
fn shim_killed(user: User) {
    let sb = Sandbox::new(user);
    let marker = marker();
    let id = detached(&sb, &["--name", "victim"], &format!("exec {marker}"));
    eventually(5, "the container's process", || {
        processes_with(&marker) == 1
    });
    let shim = shim_pid(&sb, "victim");
    signal(shim, Signal::KILL);
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
fn container_pid1_killed(user: User) {
    let sb = Sandbox::new(user);
    detached(&sb, &["--name", "p1"], "sleep 300");
    let pid = inspect(&sb, "p1")["State"]["Pid"].as_i64().unwrap();
    signal(pid, Signal::KILL);
    assert_eq!(sb.ok(&["wait", "p1"]).stdout(), "137\n");
    assert!(ps_status(&sb, "p1").starts_with("Exited (137)"));
    sb.ok(&["rm", "p1"]);
}
per_user!(container_pid1_killed, container_pid1_killed);

/// `box run` in the foreground killed with SIGKILL: the container lives on under
/// its shim, logging, and can be stopped and removed.
fn foreground_client_killed(user: User) {
    let sb = Sandbox::new(user);
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
per_user!(foreground_client_killed, foreground_client_killed);

/// Closing the terminal of a `-it` session (its session leader gets SIGHUP) does not
/// hang anything or leave a state that lies.
fn terminal_closed(user: User) {
    let sb = Sandbox::new(user);
    sb.ok(&["pull", "-q", &bb()]);
    let mut s = Session::start(&sb, &["run", "-it", "--name", "tty", &bb(), "sh"]);
    // Attached, its shell listening: a window closed before then leaves a container
    // that never started (its shim gives up on a client that never came).
    s.send(b"echo up-$((6*7))\n");
    s.expect("up-42");
    s.close_window();
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
per_user!(terminal_closed, terminal_closed);

/// Fifty `run -d` / `rm -f` pairs at once, and ten runs racing for one name: nothing
/// lost, nothing corrupt, each name taken once.
fn concurrency(user: User) {
    let sb = std::sync::Arc::new(Sandbox::new(user));
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
per_user!(concurrency, concurrency);

/// SIGTERM to a shim (a logout, a shutdown) stops its container as `box stop` does:
/// the stop signal, then SIGKILL after the stop timeout, and no restart.
fn shim_terminated(user: User) {
    let sb = Sandbox::new(user);
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
    let shim = shim_pid(&sb, "deaf");
    let t = Instant::now();
    signal(shim, Signal::TERM);
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
per_user!(shim_terminated, shim_terminated);

/// A shim that does not answer (stopped with SIGSTOP) cannot hang `box stop` or
/// `box rm -f`: past their waits, box kills it, and the container with it.
fn shim_stopped(user: User) {
    let sb = Sandbox::new(user);
    let m = marker();
    for (name, cmd) in [
        ("frozen", &["stop", "-t", "1"][..]),
        ("frozen2", &["rm", "-f"][..]),
    ] {
        detached(&sb, &["--name", name], &format!("exec {m}"));
        eventually(5, "the container's process", || processes_with(&m) == 1);
        let shim = shim_pid(&sb, name);
        signal(shim, Signal::STOP);
        let t = Instant::now();
        let mut args = cmd.to_vec();
        args.push(name);
        let o = sb.ok(&args);
        assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
        assert!(o.stderr().contains("did not answer"), "{}", o.both());
        eventually(5, "the container to die with its shim", || {
            processes_with(&m) == 0
        });
    }
    assert_eq!(ps_status(&sb, "frozen"), "Exited (unknown)");
    assert_eq!(
        sb.ok(&["ps", "-aq"]).stdout().lines().count(),
        1,
        "frozen2 is gone"
    );
    sb.ok(&["rm", "frozen"]);
}
per_user!(shim_stopped, shim_stopped);

/// A container whose shim was killed is not running, even while another command
/// (a `box cp` into it) holds it; `box start` then waits for the copy and starts it.
fn killed_shim_during_copy(user: User) {
    let sb = Sandbox::new(user);
    let m = marker();
    detached(&sb, &["--name", "held"], &format!("exec {m}"));
    eventually(5, "the container's process", || processes_with(&m) == 1);
    signal(shim_pid(&sb, "held"), Signal::KILL);
    eventually(5, "the container to die", || processes_with(&m) == 0);
    // A copy in from stdin holds the container until its stdin ends.
    let mut cp = sb
        .cmd(&["cp", "-", "held:/tmp"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        ps_status(&sb, "held"),
        "Exited (unknown)",
        "not Up during the copy"
    );
    assert_eq!(status(&sb, "held"), "exited");
    let mut start = sb
        .cmd(&["start", "held"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        start.try_wait().unwrap().is_none(),
        "start waits for the copy"
    );
    let dir = sb.dir.join("tarsrc");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("copied"), "in\n").unwrap();
    let tar = std::process::Command::new("tar")
        .args(["-c", "-C"])
        .arg(&dir)
        .arg("copied")
        .output()
        .unwrap();
    let mut input = cp.stdin.take().unwrap();
    input.write_all(&tar.stdout).unwrap();
    drop(input);
    let o = cp.wait_with_output().unwrap();
    assert!(o.status.success(), "{o:?}");
    let o = start.wait_with_output().unwrap();
    assert!(o.status.success(), "{o:?}");
    assert_eq!(status(&sb, "held"), "running");
    assert_eq!(
        sb.ok(&["exec", "held", "cat", "/tmp/copied"]).stdout(),
        "in\n"
    );
    sb.ok(&["rm", "-f", "held"]);
}
per_user!(killed_shim_during_copy, killed_shim_during_copy);

/// A descriptor the calling shell left open (`exec 7<secret`) reaches neither the
/// container (`run`, `run -d`, `exec`) nor its shim: only stdio is passed on. The
/// shim does not stay in the caller's directory either.
fn inherited_fds(user: User) {
    let sb = Sandbox::new(user);
    sb.ok(&["pull", "-q", &bb()]);
    // Readable by root alone, who opens it and then runs box as the test user.
    let secret = sb.dir.join("secret");
    std::fs::write(&secret, "secret\n").unwrap();
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let with_fd = |args: &[&str]| {
        let c = sb.cmd(args);
        let mut w = std::process::Command::new("sh");
        w.arg("-c")
            .arg(format!(
                "exec 7<{} 8<>{}; exec \"$@\"",
                secret.display(),
                secret.display()
            ))
            .arg("sh")
            .arg(c.get_program())
            .args(c.get_args())
            .env_clear()
            .envs(c.get_envs().filter_map(|(k, v)| Some((k, v?))))
            .current_dir(&sb.dir)
            .stdin(Stdio::null());
        Out(output_within(w, RUN_LIMIT), args.join(" "))
    };
    // The shell's own descriptors, not those of a program it runs.
    let fds = "ls /proc/$$/fd; true";
    let o = with_fd(&["run", "--rm", &bb(), "sh", "-c", fds]);
    assert_eq!(o.stdout(), "0\n1\n2\n", "{}", o.both());
    let o = with_fd(&["run", "-d", "--name", "bg", &bb(), "sleep", "300"]);
    assert_eq!(o.code(), 0, "{}", o.both());
    let pid = inspect(&sb, "bg")["State"]["Pid"].as_i64().unwrap();
    let fds_of = |pid: i64| -> Vec<String> {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read_link(e.path()).ok())
            .map(|p| p.display().to_string())
            .collect()
    };
    let shim = shim_pid(&sb, "bg");
    // Nor does it keep the caller's directory busy.
    let cwd = std::fs::read_link(format!("/proc/{shim}/cwd")).unwrap();
    assert_eq!(cwd, std::path::Path::new("/"), "the shim's directory");
    for (who, pid) in [("the container", pid), ("its shim", shim)] {
        let open = fds_of(pid);
        assert!(
            !open.iter().any(|p| p.contains("secret")),
            "{who} holds the caller's descriptor: {open:?}"
        );
    }
    let mut numbers: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    numbers.sort();
    assert_eq!(numbers, ["0", "1", "2"], "the container's first process");
    let o = with_fd(&["exec", "bg", "sh", "-c", fds]);
    assert_eq!(o.stdout(), "0\n1\n2\n", "{}", o.both());
    let o = with_fd(&["exec", "bg", "cat", "/proc/self/fd/7"]);
    assert_ne!(o.code(), 0, "{}", o.both());
    sb.ok(&["rm", "-f", "bg"]);
}
per_user!(inherited_fds, inherited_fds);

/// With `--init`, PID 1 is a clone of the shim that never execs: it lets go of the
/// shim's descriptors (its sockets, its listener, the log) once the command runs.
fn init_holds_nothing_of_the_shim(user: User) {
    let sb = Sandbox::new(user);
    let m = marker();
    detached(&sb, &["--init", "--name", "tini"], &format!("exec {m}"));
    eventually(5, "the command", || processes_with(&m) == 1);
    let init = inspect(&sb, "tini")["State"]["Pid"].as_i64().unwrap();
    let open: Vec<(String, String)> = std::fs::read_dir(format!("/proc/{init}/fd"))
        .unwrap()
        .flatten()
        .map(|e| {
            let to = std::fs::read_link(e.path()).unwrap_or_default();
            (
                e.file_name().to_string_lossy().into_owned(),
                to.display().to_string(),
            )
        })
        .collect();
    let beyond_stdio: Vec<&(String, String)> = open
        .iter()
        .filter(|(n, _)| !["0", "1", "2"].contains(&n.as_str()))
        .filter(|(_, to)| to != "anon_inode:[signalfd]")
        .collect();
    assert!(beyond_stdio.is_empty(), "PID 1 holds {open:?}");
    sb.ok(&["rm", "-f", "tini"]);
}
per_user!(
    init_holds_nothing_of_the_shim,
    init_holds_nothing_of_the_shim
);

/// SIGTERM to a shim after a stop request whose `box stop` was killed before its
/// SIGKILL (a logout after an interrupted stop): the SIGKILL comes from the shim,
/// after the stop timeout.
fn shim_terminated_after_interrupted_stop(user: User) {
    let sb = Sandbox::new(user);
    let m = marker();
    detached(
        &sb,
        &["--name", "deaf", "--stop-timeout", "1"],
        &format!("exec {m}"),
    );
    let mut stop = sb.cmd(&["stop", "-t", "600", "deaf"]).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(700));
    stop.kill().unwrap();
    stop.wait().unwrap();
    assert_eq!(status(&sb, "deaf"), "running", "its PID 1 ignores SIGTERM");
    signal(shim_pid(&sb, "deaf"), Signal::TERM);
    eventually(10, "the container to be killed", || {
        status(&sb, "deaf") == "exited"
    });
    assert_eq!(inspect(&sb, "deaf")["State"]["ExitCode"], 137);
    assert_eq!(processes_with(&m), 0);
    sb.ok(&["rm", "deaf"]);
}
per_user!(
    shim_terminated_after_interrupted_stop,
    shim_terminated_after_interrupted_stop
);

/// A stop that comes while the shim gives a slow client the last output of a run
/// (a client that takes nothing, for up to two seconds) is kept: under a restart
/// policy, the container is not started again. The stop is sent as `box stop` sends
/// it, on a control connection made while the container ran.
fn stop_while_flushing(user: User) {
    use box_shim::proto;
    let sb = Sandbox::new(user);
    let script =
        "echo started; sleep 1; dd if=/dev/zero bs=1000 count=900 2>/dev/null | tr '\\0' x; exit 3";
    detached(&sb, &["--name", "flush", "--restart", "always"], script);
    // Attached and not read: the end of the run's output waits for it.
    let stuck = sb
        .cmd(&["attach", "flush"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let dir = inspect(&sb, "flush")["Box"]["RuntimeDir"]
        .as_str()
        .unwrap()
        .to_string();
    let mut ctl = std::os::unix::net::UnixStream::connect(format!("{dir}/attach.sock")).unwrap();
    proto::write_frame(&mut ctl, proto::CONTROL, &[]).unwrap();
    // The run's end recorded, the shim gives the clients what is left.
    eventually(10, "the run to end", || {
        status(&sb, "flush") == "restarting"
    });
    proto::write_frame(&mut ctl, proto::STOP, &libc::SIGTERM.to_be_bytes()).unwrap();
    ctl.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let t = Instant::now();
    // Until the shim's end (a restarted run would send its own ENDED and EXIT).
    while t.elapsed() < Duration::from_secs(8) {
        match proto::read_frame(&mut ctl) {
            Ok(Some(_)) => continue,
            Ok(None) => break,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(
        t.elapsed() < Duration::from_secs(8),
        "the shim lived on: {:?}",
        t.elapsed()
    );
    eventually(5, "the shim to end", || status(&sb, "flush") == "exited");
    assert_eq!(inspect(&sb, "flush")["State"]["ExitCode"], 3);
    let logs = sb.ok(&["logs", "flush"]).stdout();
    assert_eq!(logs.matches("started").count(), 1, "run once");
    drop(stuck.wait_with_output().unwrap());
    sb.ok(&["rm", "flush"]);
}
per_user!(stop_while_flushing, stop_while_flushing);
