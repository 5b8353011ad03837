//! The command line itself: shell completions as each shell loads them, man pages as
//! `man` renders them, `box help`, the messages and exit codes of common mistakes,
//! `--log-level`, colour, hints, and `box system df|prune|info`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::harness::*;

fn bb() -> String {
    image("busybox")
}

/// A checked-in completion script, copied where the test user can read it.
fn script(sb: &Sandbox, name: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("completions")
        .join(name);
    let dst = sb.dir.join(name);
    std::fs::copy(&src, &dst).unwrap();
    dst
}

/// `SHELL -c SCRIPT` as the sandbox's user, with its directories and box on `PATH`
/// (the scripts call `box` back).
fn shell(sb: &Sandbox, shell: &str, script: &str) -> Out {
    let envs: Vec<(String, String)> = sb
        .cmd(&[])
        .get_envs()
        .filter_map(|(k, v)| {
            Some((
                k.to_string_lossy().into_owned(),
                v?.to_string_lossy().into_owned(),
            ))
        })
        .collect();
    let mut c = if sb.user == User::Root {
        Command::new(shell)
    } else {
        let mut c = Command::new("setpriv");
        c.arg(format!("--reuid={}", sb.user.uid()))
            .arg(format!("--regid={}", sb.user.gid()))
            .arg("--init-groups")
            .arg(shell);
        c
    };
    c.arg("-c")
        .arg(script)
        .env_clear()
        .envs(envs)
        .env(
            "PATH",
            format!(
                "{}:/usr/local/bin:/usr/bin:/bin",
                box_bin().parent().unwrap().display()
            ),
        )
        .current_dir(&sb.dir)
        .stdin(Stdio::null());
    Out(c.output().unwrap(), format!("{shell} -c {script}"))
}

/// What bash's completion function offers with the cursor at the end of `line`, the
/// way bash calls it: COMP_* set, `$2` the word after the last word break.
fn bash_complete(sb: &Sandbox, line: &str) -> Vec<String> {
    let path = script(sb, "box.bash");
    let words: Vec<&str> = line.split(' ').collect();
    let cur = words.last().unwrap().rsplit([':', '=']).next().unwrap();
    let prev = words[words.len().saturating_sub(2)];
    let cmd = format!(
        r#"source {path}
COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}
COMP_WORDS=({words}); COMP_CWORD={cword}
_box box '{cur}' '{prev}'
printf '%s\n' "${{COMPREPLY[@]}}""#,
        path = path.display(),
        words = words
            .iter()
            .map(|w| format!("'{w}'"))
            .collect::<Vec<_>>()
            .join(" "),
        cword = words.len() - 1,
    );
    let out = shell(sb, "bash", &cmd);
    assert_eq!(out.code(), 0, "{}", out.both());
    out.stdout()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn completion_offers_names_in_bash_zsh_and_fish() {
    let sb = Sandbox::new(User::Sub);
    sb.ok(&["pull", "-q", &bb()]);
    sb.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "none",
        &bb(),
        "sleep",
        "300",
    ]);
    sb.ok(&["run", "--name", "old", "--network", "none", &bb(), "true"]);
    let has = |v: &[String], s: &str| v.iter().any(|x| x == s);

    let rm = bash_complete(&sb, "box rm ");
    assert!(has(&rm, "web") && has(&rm, "old"), "box rm: {rm:?}");
    let exec = bash_complete(&sb, "box exec ");
    assert!(
        has(&exec, "web") && !has(&exec, "old"),
        "box exec: {exec:?}"
    );
    let start = bash_complete(&sb, "box start ");
    assert!(
        has(&start, "old") && !has(&start, "web"),
        "box start: {start:?}"
    );
    let logs = bash_complete(&sb, "box logs w");
    assert_eq!(logs, ["web"]);
    let run = bash_complete(&sb, "box run ");
    assert!(has(&run, &bb()), "box run: {run:?}");
    assert!(!run.iter().any(|v| v.starts_with('-')), "no flags: {run:?}");
    let rmi = bash_complete(&sb, "box rmi ");
    assert!(has(&rmi, &bb()), "box rmi: {rmi:?}");
    // bash replaces only what follows the last `:`; box answers with just that.
    let tag = bash_complete(
        &sb,
        &format!("box run {}l", bb().trim_end_matches("latest")),
    );
    assert_eq!(tag, ["latest"], "repo:tag across bash's word breaks");
    assert_eq!(bash_complete(&sb, "box run --rest"), ["--restart"]);
    assert_eq!(bash_complete(&sb, "box run --pull=al"), ["always"]);
    let top = bash_complete(&sb, "box ");
    assert!(has(&top, "run") && has(&top, "system"), "{top:?}");

    let zsh = script(&sb, "_box");
    let out = shell(
        &sb,
        "zsh",
        &format!("autoload -U compinit; compinit; source {}", zsh.display()),
    );
    assert_eq!(out.code(), 0, "zsh loads _box:\n{}", out.both());
    assert_eq!(out.stderr(), "", "zsh loads _box quietly");
    // _describe is zsh's; standing in for it shows what the script hands it.
    let out = shell(
        &sb,
        "zsh",
        &format!(
            "autoload -U compinit; compinit; source {}
_describe() {{ print -rl -- \"${{(@P)3}}\" }}
words=(box exec ''); CURRENT=3; _box",
            zsh.display()
        ),
    );
    assert!(
        out.stdout().lines().any(|l| l.starts_with("web:")),
        "zsh: box exec:\n{}",
        out.both()
    );

    let fish = script(&sb, "box.fish");
    let out = shell(
        &sb,
        "fish",
        &format!("source {}; complete -C 'box rm '", fish.display()),
    );
    assert_eq!(out.code(), 0, "{}", out.both());
    let fish_out = out.stdout();
    assert!(
        fish_out.lines().any(|l| l.starts_with("web\t")) && fish_out.contains("old\t"),
        "fish: box rm:\n{}",
        out.both()
    );
    let out = shell(
        &sb,
        "fish",
        &format!("source {}; complete -C 'box run --rest'", fish.display()),
    );
    assert!(out.stdout().starts_with("--restart"), "{}", out.both());
}

#[test]
fn completion_scripts_are_what_box_prints() {
    let sb = Sandbox::new(User::NoSub);
    for (shell, file) in [("bash", "box.bash"), ("zsh", "_box"), ("fish", "box.fish")] {
        let printed = sb.ok(&["completion", shell]).stdout();
        let checked_in = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("completions")
                .join(file),
        )
        .unwrap();
        assert_eq!(printed, checked_in, "{file}");
    }
}

#[test]
fn man_pages_render_without_warnings() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "1"))
        .collect();
    pages.sort();
    assert!(pages.len() > 20, "{pages:?}");
    for page in &pages {
        let out = Command::new("man")
            .arg("-l")
            .arg(page)
            .env("MANWIDTH", "80")
            .stdin(Stdio::null())
            .output()
            .expect("man runs (tests/run.sh installs man-db)");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{}: {text}", page.display());
        let bad: Vec<&str> = text
            .lines()
            .filter(|l| {
                let l = l.to_ascii_lowercase();
                l.contains("warning") || l.contains("cannot")
            })
            .collect();
        assert!(bad.is_empty(), "{}: {bad:?}", page.display());
        assert!(text.contains("NAME") && text.contains("SYNOPSIS"), "{text}");
    }
    for name in [
        "run",
        "ps",
        "logs",
        "exec",
        "pull",
        "images",
        "rm",
        "stop",
        "cp",
        "inspect",
        "start",
        "system-df",
        "system-prune",
    ] {
        let page = dir.join(format!("box-{name}.1"));
        let out = Command::new("man")
            .arg("-l")
            .arg(&page)
            .env("MANWIDTH", "80")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("EXAMPLES"), "{name}: no EXAMPLES:\n{text}");
        let cmd = format!("box {}", name.replace('-', " "));
        assert!(text.contains(&cmd), "{name}: no example of {cmd}:\n{text}");
    }
}

#[test]
fn help_is_the_commands_own() {
    let sb = Sandbox::new(User::NoSub);
    for path in [&["run"][..], &["container", "ls"], &["system", "df"], &[]] {
        let mut help = vec!["help"];
        help.extend_from_slice(path);
        let mut own = path.to_vec();
        own.push("--help");
        let a = sb.ok(&help).stdout();
        assert_eq!(a, sb.ok(&own).stdout(), "box help {path:?}");
        assert!(a.contains("Usage: box"), "{a}");
    }
    assert!(sb.ok(&["help", "run"]).stdout().contains("Examples:"));
    sb.run(&["help", "frobnicate"])
        .fails_with("unrecognized subcommand");
}

#[test]
fn common_mistakes_are_one_error_line_and_125() {
    let sb = Sandbox::new(User::Sub);
    sb.run(&["pull", "UPPER/case"])
        .fails_with("invalid reference format");
    sb.run(&["logs", "nope"])
        .fails_with("No such container: nope");
    sb.run(&["ps", "--bogus"]).fails_with("--bogus");
    sb.run(&["frobnicate"]).fails_with("frobnicate");
    sb.run(&["--log-level", "loud", "ps"])
        .fails_with("invalid value 'loud'");
    // Not a terminal: no colour, whatever the level.
    let out = sb.run(&["logs", "nope"]);
    assert!(!out.stderr().contains('\x1b'), "{}", out.both());
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let sb = Sandbox::new(User::Sub);
    let out = sb.in_terminal(&["logs", "nope"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("\x1b[1;31mError:\x1b[0m"), "{text:?}");
    let out = sb
        .in_terminal(&["logs", "nope"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("Error: No such container") && !text.contains('\x1b'),
        "{text:?}"
    );
}

#[test]
fn log_level_debug_shows_registry_requests() {
    let sb = Sandbox::new(User::Sub);
    let quiet = sb.ok(&["pull", "-q", &bb()]);
    assert!(!quiet.stderr().contains("DEBUG"), "{}", quiet.both());
    let sb = Sandbox::new(User::Sub);
    let out = sb.ok(&["--log-level", "debug", "pull", "-q", &bb()]);
    let err = out.stderr();
    assert!(
        err.contains("GET manifest") && err.contains("entering a user namespace"),
        "{err}"
    );
    assert!(err.lines().all(|l| l.starts_with("DEBUG[+")), "{err}");
    // After the subcommand, too, and the command after the image stays the container's.
    let out = sb.ok(&[
        "run",
        "--log-level",
        "error",
        "--rm",
        "--network",
        "none",
        &bb(),
        "echo",
        "--log-level",
    ]);
    assert_eq!(out.stdout(), "--log-level\n", "{}", out.both());
}

#[test]
fn hints_say_what_to_do() {
    let reg = env("BOX_TEST_AUTH_REGISTRY");
    let sb = Sandbox::new(User::Sub);
    let out = sb.run(&["pull", &format!("{reg}/private/busybox")]);
    out.fails_with("unauthorized");
    let hint = out.stderr();
    assert!(
        hint.lines().any(|l| l.starts_with("hint: ")
            && l.contains("~/.docker/config.json")
            && l.contains(&reg)),
        "{hint}"
    );

    // No subordinate ids: a container user that cannot be mapped names the line to add.
    let sb = Sandbox::new(User::NoSub);
    let out = sb.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-u",
        "1000",
        &bb(),
        "id",
    ]);
    assert_ne!(out.code(), 0, "{}", out.both());
    let err = out.stderr();
    let name = User::NoSub.name();
    assert!(
        err.lines().any(|l| l.starts_with("hint: ")
            && l.contains(&format!("\"{name}:"))
            && l.contains("/etc/subuid")),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.starts_with("Error:")).count(),
        1,
        "{err}"
    );
}

fn system_df_and_prune(user: User) {
    let sb = Sandbox::new(user);
    sb.ok(&["pull", "-q", &bb()]);
    sb.ok(&["pull", "-q", &image("layers")]);
    sb.ok(&[
        "run",
        "--name",
        "writer",
        "--network",
        "none",
        &bb(),
        "sh",
        "-c",
        "head -c 100000 /dev/zero > /big",
    ]);
    let df = sb.ok(&["system", "df"]).stdout();
    let rows: Vec<Vec<&str>> = df
        .lines()
        .map(|l| {
            l.split("   ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect()
        })
        .collect();
    assert_eq!(
        rows[0],
        ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
        "{df}"
    );
    assert_eq!(rows[1][..3], ["Images", "2", "1"], "{df}");
    assert!(rows[1][4].ends_with("%)"), "{df}");
    assert_eq!(rows[2][..3], ["Containers", "1", "0"], "{df}");
    assert!(
        rows[2][3].starts_with("100"),
        "the container wrote 100kB: {df}"
    );
    assert_eq!(rows[3], ["Local Volumes", "0", "0", "0B", "0B"], "{df}");
    assert_eq!(rows[4], ["Build Cache", "0", "0", "0B", "0B"], "{df}");
    let verbose = sb.ok(&["system", "df", "-v"]).stdout();
    assert!(
        verbose.contains("Images space usage:") && verbose.contains("writer"),
        "{verbose}"
    );

    // Without -f and no terminal answer: nothing happens.
    let asked = sb.ok(&["system", "prune"]);
    assert!(
        asked.stderr().contains("WARNING! This will remove:"),
        "{}",
        asked.both()
    );
    assert_eq!(sb.ok(&["ps", "-aq"]).stdout().lines().count(), 1);

    let out = sb.ok(&["system", "prune", "-f"]).stdout();
    assert!(
        out.starts_with("Deleted Containers:\n") && out.contains("Total reclaimed space: 1"),
        "{out}"
    );
    assert!(!out.contains("Deleted Images"), "tagged images stay: {out}");
    assert_eq!(sb.ok(&["ps", "-aq"]).stdout(), "");
    let out = sb
        .ok(&["system", "prune", "-a", "-f", "--volumes"])
        .stdout();
    assert!(
        out.contains("Deleted Images:\nuntagged: ") && out.contains("deleted: sha256:"),
        "{out}"
    );
    assert_eq!(sb.ok(&["images", "-q"]).stdout(), "");
    let df = sb.ok(&["system", "df"]).stdout();
    assert!(df.lines().nth(1).unwrap().contains("0B"), "{df}");
    let info = sb.ok(&["system", "info"]).stdout();
    assert!(info.contains("Storage driver:"), "{info}");
}
per_user!(system_df_prune, system_df_and_prune);
