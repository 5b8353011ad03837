//! The command line itself: the messages and exit codes of common mistakes, what is
//! not implemented yet, `--log-level`, colour, hints, and `box system df|prune|info`.
//! (Completion, man pages and `box help`: `completion.rs`.)

use crate::harness::*;

/// `box ARGS` fails with exit 125 and exactly these lines on stderr, nothing on stdout.
fn says(sb: &Sandbox, args: &[&str], stderr: &[&str]) {
    let out = sb.run(args);
    assert_eq!(out.code(), 125, "box {args:?}:\n{}", out.both());
    let want: String = stderr.iter().map(|l| format!("{l}\n")).collect();
    assert_eq!(out.stderr(), want, "box {args:?}");
    assert_eq!(out.stdout(), "", "box {args:?}");
}

#[test]
fn common_mistakes_are_one_error_line_and_125() {
    let sb = Sandbox::new(User::Sub);
    // Docker's words for usage mistakes, and where to look.
    says(
        &sb,
        &["ps", "--bogus"],
        &["Error: unknown flag: --bogus", "hint: see 'box ps --help'"],
    );
    says(
        &sb,
        &["ps", "-z"],
        &[
            "Error: unknown shorthand flag: 'z' in -z",
            "hint: see 'box ps --help'",
        ],
    );
    says(
        &sb,
        &["container", "ls", "--al"],
        &[
            "Error: unknown flag: --al",
            "hint: did you mean '--all'? see 'box container ls --help'",
        ],
    );
    says(
        &sb,
        &["frobnicate"],
        &[
            "Error: unknown command \"frobnicate\" for \"box\"",
            "hint: see 'box --help'",
        ],
    );
    says(
        &sb,
        &["imagse"],
        &[
            "Error: unknown command \"imagse\" for \"box\"",
            "hint: did you mean 'box images'? see 'box --help'",
        ],
    );
    says(
        &sb,
        &["network", "frob"],
        &[
            "Error: unknown command \"frob\" for \"box network\"",
            "hint: see 'box network --help'",
        ],
    );
    says(
        &sb,
        &["rm"],
        &[
            "Error: \"box rm\" requires at least 1 argument.",
            "hint: see 'box rm --help'",
        ],
    );
    says(
        &sb,
        &["rename", "a"],
        &[
            "Error: \"box rename\" requires exactly 2 arguments.",
            "hint: see 'box rename --help'",
        ],
    );
    says(
        &sb,
        &["ps", "extra"],
        &[
            "Error: \"box ps\" accepts no arguments.",
            "hint: see 'box ps --help'",
        ],
    );
    says(
        &sb,
        &["--log-level", "loud", "ps"],
        &[
            "Error: invalid argument \"loud\" for \"--log-level\" flag: possible values are debug, info, warn, error",
            "hint: see 'box ps --help'",
        ],
    );
    says(
        &sb,
        &["logs", "--tail"],
        &[
            "Error: flag needs an argument: --tail",
            "hint: see 'box logs --help'",
        ],
    );
    // What does not exist.
    says(
        &sb,
        &["pull", "UPPER/case"],
        &["Error: invalid reference format: repository name \"UPPER/case\" must be lowercase"],
    );
    says(&sb, &["logs", "nope"], &["Error: No such container: nope"]);
    // One line per container that is not there: the others are still removed.
    says(
        &sb,
        &["rm", "nope", "nope2"],
        &[
            "Error: No such container: nope",
            "Error: No such container: nope2",
        ],
    );
    sb.run(&["inspect", "nope"])
        .fails_with("No such object: nope");
    sb.run(&["rmi", "nope"]).fails_with("No such image");
    // Not a terminal: no colour, whatever the level.
    let out = sb.run(&["logs", "nope"]);
    assert!(!out.stderr().contains('\x1b'), "{}", out.both());
}

/// Builds and volumes say so, with what to do instead, and nothing is created.
#[test]
fn what_is_not_implemented_says_so() {
    let sb = Sandbox::new(User::NoSub);
    let volume_hint =
        "hint: bind-mount a host directory instead: box run -v \"$PWD/data:/data\" IMAGE";
    says(
        &sb,
        &["volume", "ls"],
        &["Error: volumes are not implemented yet", volume_hint],
    );
    says(
        &sb,
        &["volume", "create", "--driver", "local", "data"],
        &["Error: volumes are not implemented yet", volume_hint],
    );
    let build_hint =
        "hint: build the image with podman or docker, push it to a registry, then box pull it";
    for args in [&["build", "-t", "app", "."][..], &["image", "build", "."]] {
        says(
            &sb,
            args,
            &["Error: builds are not implemented yet", build_hint],
        );
    }
    says(
        &sb,
        &["run", "--rm", "-v", "data:/data", &bb(), "true"],
        &[
            "Error: volumes are not implemented yet: -v data:/data asks for a volume, and box mounts only host paths and tmpfs",
            "hint: bind-mount a host directory instead: -v /ABSOLUTE/HOST/PATH:/data",
        ],
    );
    sb.run(&["run", "--rm", "-v", "/cache", &bb(), "true"])
        .fails_with("volumes are not implemented yet: -v /cache asks for a volume");
    sb.run(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,source=data,target=/data",
        &bb(),
        "true",
    ])
    .fails_with("volumes are not implemented yet: --mount type=volume,source=data,target=/data");
    sb.run(&["run", "--rm", "-v", "rel/dir:/data", &bb(), "true"])
        .fails_with("invalid mount source \"rel/dir\": it must be an absolute host path");
    // Refused before anything was pulled or created.
    assert_eq!(sb.ok(&["ps", "-aq"]).stdout(), "");
    assert_eq!(sb.ok(&["images", "-q"]).stdout(), "");
    // In help and completion all the same.
    let help = sb.ok(&["--help"]).stdout();
    assert!(
        help.contains("Manage volumes (not implemented yet)")
            && help.contains("Build an image from a Dockerfile (not implemented yet)"),
        "{help}"
    );
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
