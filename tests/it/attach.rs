//! Attaching to a container: `box attach`, `box run` and `box start -a` in the
//! foreground, `box exec -it`; detach keys, which signals are passed on (without a
//! terminal only, as Docker's `--sig-proxy`), and a client that stops reading.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rustix::process::Signal;

use crate::ctr::*;
use crate::harness::*;
use crate::term::Session;

fn pause() {
    std::thread::sleep(Duration::from_millis(700));
}

/// `box attach` to a `-dit` container; Ctrl-P Ctrl-Q detaches and leaves it running,
/// as do keys of one's own (`--detach-keys`), on `attach` and `run`.
fn attach_and_detach_keys(user: User) {
    let sb = Sandbox::new(user);
    sb.ok(&["run", "-dit", "--name", "shell", &bb(), "sh"]);
    // Types each line once the one before it has shown its mark (the detach keys
    // must reach a client in raw mode, past the outer terminal's own Ctrl-Q).
    let session = |args: &[&str], typed: &[(&[u8], &str)]| {
        let mut s = Session::start(&sb, args);
        for (keys, mark) in typed {
            s.send(keys);
            if !mark.is_empty() {
                s.expect(mark);
            }
        }
        let (status, out) = s.finish();
        assert_eq!(status.code(), Some(0), "{args:?}: {out}");
        out
    };
    let out = session(
        &["attach", "shell"],
        &[
            (b"echo attached-$((6*7))\n", "attached-42"),
            (b"\x10\x11", ""),
        ],
    );
    assert!(out.contains("attached-42"), "{out}");
    assert_eq!(status(&sb, "shell"), "running", "detached, not stopped");
    let out = session(
        &["attach", "--detach-keys", "ctrl-x,x", "shell"],
        &[
            (b"echo custom-$((6*7))\n", "custom-42"),
            (b"\x10\x11\n", ""),
            (b"\x18x", ""),
        ],
    );
    assert!(out.contains("custom-42"), "{out}");
    assert_eq!(status(&sb, "shell"), "running", "detached, not stopped");
    let out = session(
        &[
            "run",
            "-it",
            "--detach-keys=ctrl-a",
            "--name",
            "fg",
            &bb(),
            "sh",
        ],
        &[(b"echo fg-$((6*7))\n", "fg-42"), (b"\x01", "")],
    );
    assert!(out.contains("fg-42"), "{out}");
    assert_eq!(status(&sb, "fg"), "running", "box run detached from it");
    sb.run(&["attach", "--detach-keys", "ctrl-1", "shell"])
        .fails_with("invalid detach keys");
    sb.ok(&["rm", "-f", "shell", "fg"]);
    sb.ok(&["run", "--name", "over", &bb(), "true"]);
    sb.run(&["attach", "over"])
        .fails_with("You cannot attach to a stopped container");
}
per_user!(attach_and_detach_keys, attach_and_detach_keys);

/// Closing the window of a `box attach` to a `-dit` shell ends the client only: with
/// a terminal, signals are not passed on (Docker's rule), and the end of the
/// client's stdin is not the container's.
fn tty_hangup_keeps_container(user: User) {
    let sb = Sandbox::new(user);
    sb.ok(&["run", "-dit", "--name", "shell", &bb(), "sh"]);
    // SIGHUP to `box attach` itself (`script` runs it as its only child: its shell
    // execs the command line), then the whole window gone: `script` killed, its pty
    // hangs up `box attach`'s session (SIGHUP, and stdin at its end).
    for direct in [true, false] {
        let mut s = Session::start(&sb, &["attach", "shell"]);
        s.send(b"echo hup-$((6*7))\n");
        s.expect("hup-42");
        let st = if direct {
            let children = format!("/proc/{0}/task/{0}/children", s.id());
            let child = std::fs::read_to_string(children).unwrap();
            let attach: i64 = child.split_whitespace().next().unwrap().parse().unwrap();
            signal(attach, Signal::HUP);
            s.finish().0
        } else {
            s.close_window()
        };
        if direct {
            assert_eq!(st.code(), Some(128 + libc::SIGHUP), "box attach died of it");
        }
        pause();
        assert_eq!(status(&sb, "shell"), "running", "the shell lives on");
        assert_eq!(
            sb.ok(&["exec", "shell", "echo", "alive"]).stdout(),
            "alive\n"
        );
    }
    sb.ok(&["rm", "-f", "shell"]);
}
per_user!(tty_hangup_keeps_container, tty_hangup_keeps_container);

/// Without a terminal, a signal to the client reaches the container's process
/// (`attach`, and `run` in the foreground); with `--sig-proxy=false` it ends the
/// client alone.
fn signals_without_tty(user: User) {
    let sb = Sandbox::new(user);
    let script = "trap 'echo got-term; exit 3' TERM; while true; do echo tick; sleep 0.2; done";
    let img = bb();
    // Starts `box ARGS`, waits until it relays the container's output, sends it
    // SIGTERM, and returns how it ended and what it printed.
    let term = |args: &[&str]| {
        let mut c = sb
            .cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(c.stdout.take().unwrap());
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        assert_eq!(first, "tick\n", "{args:?}");
        signal(c.id().into(), Signal::TERM);
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
        (c.wait().unwrap(), rest)
    };
    detached(&sb, &["--name", "p"], script);
    let (st, out) = term(&["attach", "p"]);
    assert_eq!(st.code(), Some(3), "the container's status: {out}");
    assert!(out.contains("got-term"), "{out}");
    assert_eq!(sb.ok(&["wait", "p"]).stdout(), "3\n");

    detached(&sb, &["--name", "q"], script);
    let (st, _) = term(&["attach", "--sig-proxy=false", "q"]);
    assert_eq!(st.signal(), Some(libc::SIGTERM), "the client died of it");
    assert_eq!(status(&sb, "q"), "running");
    assert!(!sb.ok(&["logs", "q"]).stdout().contains("got-term"));

    let (st, out) = term(&["run", "--name", "r", &img, "sh", "-c", script]);
    assert_eq!(st.code(), Some(3), "{out}");
    assert!(out.contains("got-term"), "{out}");
    let (st, _) = term(&[
        "run",
        "--sig-proxy=false",
        "--name",
        "s",
        &img,
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(st.signal(), Some(libc::SIGTERM));
    assert_eq!(status(&sb, "s"), "running", "only the client ended");
    sb.ok(&["rm", "-f", "q", "s"]);
}
per_user!(signals_without_tty, signals_without_tty);

/// A client that stops reading (its stdout a pipe nobody reads) never stalls the
/// shim: it is dropped, the log goes on, and `box stop` keeps to its timeout.
fn stalled_reader(user: User) {
    let sb = Sandbox::new(user);
    let flags = [
        "--name",
        "chat",
        "--log-opt",
        "max-size=1m",
        "--log-opt",
        "max-file=2",
    ];
    let script = "i=0; while true; do echo chatter-$i-0123456789abcdefghijklmnopqrstuvwxyz; i=$((i+1)); done";
    detached(&sb, &flags, script);
    let stuck = sb
        .cmd(&["attach", "chat"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let logged = || -> u64 {
        let last = sb.ok(&["logs", "--tail", "1", "chat"]).stdout();
        last.split('-')
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    // Held back at most a couple of seconds by the stalled client, then it goes on.
    std::thread::sleep(Duration::from_secs(4));
    let before = logged();
    std::thread::sleep(Duration::from_secs(1));
    let after = logged();
    assert!(after > before, "the log goes on: {before} then {after}");
    let t = Instant::now();
    sb.ok(&["stop", "-t", "1", "chat"]);
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "stop took {:?}",
        t.elapsed()
    );
    assert_eq!(inspect(&sb, "chat")["State"]["ExitCode"], 137);
    assert!(logged() >= after);
    let o = stuck.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(125), "{err}");
    assert!(err.contains("dropped this client"), "{err}");
}
per_user!(stalled_reader, stalled_reader);

/// `box exec -it` detaches with the keys, and the command runs on (nobody hangs up
/// its terminal).
fn exec_detach_keys(user: User) {
    let sb = Sandbox::new(user);
    detached(&sb, &["--name", "box1"], "sleep 300");
    let m = marker();
    let mut s = Session::start(
        &sb,
        &["exec", "-it", "--detach-keys", "ctrl-x", "box1", "sh"],
    );
    s.send(b"echo ex-$((6*7))\n");
    s.expect("ex-42");
    s.send(format!("exec {m}\n").as_bytes());
    eventually(30, "the command to run", || processes_with(&m) == 1);
    s.send(b"\x18");
    let (status, out) = s.finish();
    assert_eq!(status.code(), Some(0), "{out}");
    pause();
    assert_eq!(processes_with(&m), 1, "the command runs on");
    sb.run(&["exec", "-it", "--detach-keys", "ctrl-", "box1", "true"])
        .fails_with("invalid detach keys");
    sb.ok(&["rm", "-f", "box1"]);
    eventually(5, "the command to end with its container", || {
        processes_with(&m) == 0
    });
}
per_user!(exec_detach_keys, exec_detach_keys);

/// A `box run -i` dropped for not reading the container's output (its stdout a pipe
/// nobody reads) has left without detaching: the container's stdin ends with it, as
/// when the client goes by itself.
fn stalled_stdin_once_client(user: User) {
    let sb = Sandbox::new(user);
    sb.ok(&["pull", "-q", &bb()]);
    let script = "dd if=/dev/zero bs=1000 count=4000 2>/dev/null; cat >/dev/null; exit 7";
    let mut client = sb
        .cmd(&["run", "-i", "--name", "once", &bb(), "sh", "-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Open, and never closed by this side until the end: only the drop ends it. (The
    // client itself waits on its full stdout meanwhile.)
    let input = client.stdin.take();
    eventually(20, "the client's drop to end the container's stdin", || {
        sb.run(&["inspect", "once"]).code() == 0 && status(&sb, "once") == "exited"
    });
    assert_eq!(inspect(&sb, "once")["State"]["ExitCode"], 7);
    drop(input);
    let o = client.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("dropped this client"), "{err}");
    sb.ok(&["rm", "once"]);
}
per_user!(stalled_stdin_once_client, stalled_stdin_once_client);

/// The shim's resident memory, the most it has been (kB).
fn peak_rss_kb(pid: i64) -> u64 {
    let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    st.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Stdin the container does not read yet stays in the kernel's buffers, not in the
/// shim: tens of MB piped into a container that reads late all arrive, and the shim
/// stays small. Stdin sent after the container's has closed is not kept at all.
fn stdin_is_bounded(user: User) {
    const SIZE: usize = 48 << 20;
    const SMALL_KB: u64 = 24 << 10;
    let sb = Sandbox::new(user);
    sb.ok(&["pull", "-q", &bb()]);
    let data: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    let sum = {
        let mut c = std::process::Command::new("md5sum")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(&data).unwrap();
        let o = c.wait_with_output().unwrap();
        String::from_utf8_lossy(&o.stdout)[..32].to_string()
    };
    let data = std::sync::Arc::new(data);
    let feed = |child: &mut std::process::Child| {
        let mut input = child.stdin.take().unwrap();
        let data = data.clone();
        std::thread::spawn(move || {
            let _ = input.write_all(&data);
        })
    };
    let mut late = sb
        .cmd(&[
            "run",
            "-i",
            "--name",
            "late",
            &bb(),
            "sh",
            "-c",
            "sleep 4; md5sum",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let writer = feed(&mut late);
    eventually(10, "the container to run", || {
        sb.run(&["inspect", "late"]).code() == 0 && status(&sb, "late") == "running"
    });
    let shim = shim_pid(&sb, "late");
    std::thread::sleep(Duration::from_secs(2));
    let peak = peak_rss_kb(shim);
    let o = late.wait_with_output().unwrap();
    writer.join().unwrap();
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(String::from_utf8_lossy(&o.stdout)[..32], sum, "every byte");
    assert!(peak < SMALL_KB, "the shim grew to {peak} kB");

    // The container's stdin closed: what a later attach sends goes nowhere.
    let m = marker();
    detached(
        &sb,
        &["-i", "--name", "closed"],
        &format!("exec 0<&-; exec {m}"),
    );
    let mut att = sb
        .cmd(&["attach", "closed"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    feed(&mut att).join().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let peak = peak_rss_kb(shim_pid(&sb, "closed"));
    assert!(peak < SMALL_KB, "the shim grew to {peak} kB");
    sb.ok(&["rm", "-f", "late", "closed"]);
    let _ = att.wait();
}
per_user!(stdin_is_bounded, stdin_is_bounded);
