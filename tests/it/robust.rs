//! Commands run from another environment than the container's start, and state that
//! interrupted commands leave: a shim whose socket is under another runtime directory
//! or gone (a logout), a name left pointing at nothing, a `box run` cut short before
//! its record was written.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::ctr::*;
use crate::harness::*;

/// A shell that ends at once on SIGTERM, with status 3, and on SIGUSR1 with 5 (as the
/// container's PID 1, it gets only the signals it has handlers for).
const TRAPS: &str = "trap 'exit 3' TERM; trap 'exit 5' USR1; while true; do sleep 0.1; done";

/// `box ARGS` with `XDG_RUNTIME_DIR` set to `runtime`, or unset (cron, `su -`), within
/// `limit`.
fn run_in(sb: &Sandbox, runtime: Option<&Path>, args: &[&str], limit: Duration) -> Out {
    let mut c: Command = sb.cmd(args);
    match runtime {
        Some(r) => c.env("XDG_RUNTIME_DIR", r),
        None => c.env_remove("XDG_RUNTIME_DIR"),
    };
    let o = Out(output_within(c, limit), args.join(" "));
    assert_eq!(
        o.code(),
        0,
        "box {} (XDG_RUNTIME_DIR {runtime:?}) failed as {:?}:\n{}",
        o.1,
        sb.user,
        o.both()
    );
    o
}

/// Another runtime directory of the user's own.
fn other_runtime(sb: &Sandbox) -> PathBuf {
    let dir = sb.dir.join("runtime2");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    chown(&dir, sb.user);
    dir
}

const LIMIT: Duration = Duration::from_secs(30);

/// A container started with one `XDG_RUNTIME_DIR` is stopped, killed, restarted,
/// waited for and removed from another, and from none: its shim recorded where it
/// listens.
fn other_runtime_dir(user: User) {
    let sb = Sandbox::new(user);
    let other = other_runtime(&sb);
    detached(&sb, &["--name", "web"], TRAPS);
    let o = run_in(&sb, Some(&other), &["stop", "web"], LIMIT);
    assert_eq!(o.stdout(), "web\n");
    assert_eq!(status(&sb, "web"), "exited", "stopped from another login");
    assert_eq!(
        inspect(&sb, "web")["State"]["ExitCode"],
        3,
        "by its stop signal"
    );

    sb.ok(&["start", "web"]);
    let shim = shim_pid(&sb, "web");
    run_in(&sb, Some(&other), &["restart", "web"], LIMIT);
    assert_eq!(status(&sb, "web"), "running");
    assert_ne!(shim_pid(&sb, "web"), shim, "a new shim");
    // `box restart` started the new shim under the other directory: found from here.
    let o = run_in(&sb, None, &["kill", "web"], LIMIT);
    assert_eq!(o.stdout(), "web\n");
    assert_eq!(inspect(&sb, "web")["State"]["ExitCode"], 137);

    detached(
        &sb,
        &["--name", "waited"],
        "trap 'exit 4' TERM; while true; do sleep 0.1; done",
    );
    let waiter = {
        let mut c = sb.cmd(&["wait", "waited"]);
        c.env("XDG_RUNTIME_DIR", &other);
        std::thread::spawn(move || output_within(c, LIMIT))
    };
    std::thread::sleep(Duration::from_millis(500));
    assert!(!waiter.is_finished(), "box wait waits");
    run_in(&sb, Some(&other), &["kill", "-s", "TERM", "waited"], LIMIT);
    let o = waiter.join().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "4\n", "{o:?}");

    sb.ok(&["start", "web"]);
    let t = Instant::now();
    run_in(&sb, None, &["rm", "-f", "web", "waited"], LIMIT);
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_eq!(sb.ok(&["ps", "-aq"]).stdout(), "");
}
per_user!(other_runtime_dir, other_runtime_dir);

/// The runtime directory removed under a live shim (logind, at logout): the commands
/// reach the shim by its pid, and never claim a success they did not have.
fn runtime_dir_removed(user: User) {
    let sb = Sandbox::new(user);
    let gone = || std::fs::remove_dir_all(sb.runtime().join("box")).unwrap();
    detached(&sb, &["--name", "web"], TRAPS);
    gone();
    let o = run_in(&sb, None, &["stop", "web"], LIMIT);
    assert_eq!(o.stdout(), "web\n");
    assert_eq!(status(&sb, "web"), "exited");
    assert_eq!(
        inspect(&sb, "web")["State"]["ExitCode"],
        3,
        "its stop signal, from its shim"
    );

    sb.ok(&["start", "web"]);
    let shim = shim_pid(&sb, "web");
    gone();
    sb.ok(&["restart", "-t", "1", "web"]);
    assert_eq!(status(&sb, "web"), "running");
    assert_ne!(shim_pid(&sb, "web"), shim, "a new shim");

    // A signal of the caller's own reaches the container's first process.
    gone();
    sb.ok(&["kill", "-s", "USR1", "web"]);
    eventually(5, "SIGUSR1 to end it", || status(&sb, "web") == "exited");
    assert_eq!(inspect(&sb, "web")["State"]["ExitCode"], 5);

    // A first process that ignores its stop signal gets SIGKILL after -t.
    let m = marker();
    detached(&sb, &["--name", "deaf"], &format!("exec {m}"));
    gone();
    let t = Instant::now();
    sb.ok(&["stop", "-t", "1", "deaf"]);
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
    assert_eq!(inspect(&sb, "deaf")["State"]["ExitCode"], 137);
    assert_eq!(processes_with(&m), 0);

    sb.ok(&["start", "deaf"]);
    gone();
    sb.ok(&["kill", "deaf"]);
    assert_eq!(status(&sb, "deaf"), "exited");
    assert_eq!(inspect(&sb, "deaf")["State"]["ExitCode"], 137);

    detached(&sb, &["--name", "ends"], "sleep 2; exit 4");
    gone();
    assert_eq!(sb.ok(&["wait", "ends"]).stdout(), "4\n", "waited for");

    sb.ok(&["start", "deaf"]);
    gone();
    let t = Instant::now();
    sb.ok(&["rm", "-f", "deaf"]);
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_eq!(processes_with(&m), 0);
    sb.ok(&["rm", "web", "ends"]);
    assert_eq!(sb.ok(&["ps", "-aq"]).stdout(), "");
}
per_user!(runtime_dir_removed, runtime_dir_removed);

/// A name left pointing at a directory that is gone is free, for `box rename` too,
/// which takes it at once (it holds the names' lock while it does).
fn rename_onto_stale_name(user: User) {
    let sb = Sandbox::new(user);
    sb.ok(&["pull", "-q", &bb()]);
    sb.ok(&["run", "--name", "a", &bb(), "true"]);
    let link = sb.store().join("containers/names/stale");
    std::os::unix::fs::symlink("ab".repeat(32), &link).unwrap();
    chown(&link, user);
    let c = sb.cmd(&["rename", "a", "stale"]);
    let o = Out(output_within(c, Duration::from_secs(20)), "rename".into());
    assert_eq!(o.code(), 0, "{}", o.both());
    assert_eq!(
        sb.ok(&["ps", "-a", "--format", "{{.Names}}"]).stdout(),
        "stale\n"
    );
    sb.ok(&["rename", "stale", "b"]);
    sb.ok(&["rm", "b"]);
    assert_eq!(
        std::fs::read_dir(sb.store().join("containers/names"))
            .unwrap()
            .count(),
        0
    );
}
per_user!(rename_onto_stale_name, rename_onto_stale_name);

/// What a `box run` interrupted before it wrote the container's record leaves: the
/// directory, its lock files and the name, no `container.json`. Made here as the run
/// makes it.
fn interrupted_run(sb: &Sandbox, name: &str, old: bool) -> String {
    // The store's directories, the user's own.
    sb.ok(&["ps", "-a"]);
    let id: String = (0..64)
        .map(|_| char::from(b"0123456789abcdef"[rand::random_range(0..16)]))
        .collect();
    let containers = sb.store().join("containers");
    let dir = containers.join(&id);
    for sub in ["upper", "work", "rootfs", "etc"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        chown(&dir.join(sub), sb.user);
    }
    for f in ["live.lock", "shim.lock"] {
        std::fs::write(dir.join(f), "").unwrap();
        chown(&dir.join(f), sb.user);
    }
    chown(&dir, sb.user);
    let link = containers.join("names").join(name);
    std::os::unix::fs::symlink(&id, &link).unwrap();
    chown(&link, sb.user);
    if old {
        let o = Command::new("touch")
            .args(["-d", "1 minute ago"])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "{o:?}");
    }
    id
}

/// `box rm` (by name or id) and the prunes remove what an interrupted `box run` left,
/// and free its name; never a run in progress (it holds the container's lock until
/// the record is written, or is too young to have taken it).
fn interrupted_runs_are_removed(user: User) {
    let sb = Sandbox::new(user);
    sb.ok(&["pull", "-q", &bb()]);
    let containers = sb.store().join("containers");
    let id = interrupted_run(&sb, "x", true);
    sb.run(&["run", "--name", "x", &bb(), "true"])
        .fails_with("already in use");
    assert_eq!(sb.ok(&["rm", "x"]).stdout(), "x\n");
    assert!(!containers.join(&id).exists());
    sb.ok(&["run", "--rm", "--name", "x", &bb(), "true"]);

    let id = interrupted_run(&sb, "y", true);
    sb.ok(&["rm", &id[..12]]);
    assert!(!containers.join("names/y").exists(), "its name goes too");

    // One being made now: too young, or held by its run.
    let young = interrupted_run(&sb, "young", false);
    let held = interrupted_run(&sb, "held", true);
    let lock = std::fs::File::open(containers.join(&held).join("shim.lock")).unwrap();
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).unwrap();
    sb.run(&["rm", "young"]).fails_with("busy");
    sb.run(&["rm", "held"]).fails_with("busy");
    let z = interrupted_run(&sb, "z", true);
    let o = sb.ok(&["container", "prune", "-f"]);
    assert!(o.stdout().contains(&z), "{}", o.both());
    assert!(!o.stdout().contains(&held) && !o.stdout().contains(&young));
    assert!(!containers.join(&z).exists() && !containers.join("names/z").exists());
    assert!(containers.join(&held).exists() && containers.join(&young).exists());

    drop(lock);
    let o = sb.ok(&["system", "prune", "-f"]);
    assert!(o.stdout().contains(&held), "{}", o.both());
    assert!(!containers.join(&held).exists());
    std::thread::sleep(Duration::from_secs(5));
    sb.ok(&["rm", "young"]);
    let left: Vec<String> = std::fs::read_dir(&containers)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["names"], "nothing left");
    assert_eq!(
        std::fs::read_dir(containers.join("names")).unwrap().count(),
        0
    );
}
per_user!(interrupted_runs_are_removed, interrupted_runs_are_removed);
