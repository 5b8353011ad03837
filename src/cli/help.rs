//! `box help [COMMAND...]`, and the examples that `--help` and the man pages show.
//!
//! Examples live here, not beside each command's flags, so that they are one list to
//! keep true (and one place that knows how they are rendered: an "Examples:" block in
//! `--help`, an EXAMPLES section in the man pages).

use anyhow::Result;
use clap::Command;

#[derive(clap::Args)]
pub struct Args {
    /// The command, e.g. `run` or `container ls`
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    command: Vec<String>,
}

/// Prints what `box COMMAND --help` prints, by asking the same parser: the two cannot
/// differ, and an unknown command is the same one-line error.
pub fn run(a: &Args) -> Result<i32> {
    let mut args = vec!["box".to_string()];
    args.extend(a.command.iter().cloned());
    args.push("--help".into());
    match super::docs::command().try_get_matches_from(&args) {
        Err(e) => Ok(super::usage::report(e, &args)),
        // Only a command whose own flags swallow `--help` gets here.
        Ok(_) => Ok(super::usage::report(
            super::docs::command().error(
                clap::error::ErrorKind::InvalidSubcommand,
                format!("no help for {:?}", a.command.join(" ")),
            ),
            &args,
        )),
    }
}

/// (command path, [(what it does, the command line)])
pub const EXAMPLES: &[(&str, &[(&str, &str)])] = &[
    (
        "",
        &[
            ("A shell in a new Debian container, removed when it exits", "box run --rm -it debian bash"),
            ("A web server in the background, on the host's port 8080", "box run -d --name site -p 8080:80 nginx"),
            ("Containers, stopped ones too", "box ps -a"),
            ("Images, by name and tag", "box images --format '{{.Repository}}:{{.Tag}}'"),
            ("A command's help, with its examples", "box help run"),
            ("Shell completion in the current bash", "source <(box completion bash)"),
        ],
    ),
    (
        "container",
        &[
            ("Containers, stopped ones too (= box ps -a)", "box container ls -a"),
            ("A shell in a running container", "box container exec -it web sh"),
            ("Remove every stopped container, without asking", "box container prune -f"),
        ],
    ),
    (
        "container inspect",
        &[
            ("A container's configuration and state, as Docker's JSON", "box container inspect web"),
            ("Its status and main process", "box container inspect -f '{{.State.Status}} {{.State.Pid}}' web"),
        ],
    ),
    (
        "image",
        &[
            ("Images (= box images)", "box image ls"),
            ("Pull an image", "box image pull busybox"),
            ("An image's layers", "box image inspect -f '{{json .RootFS.Layers}}' busybox"),
            ("Remove every image no container uses, without asking", "box image prune -a -f"),
        ],
    ),
    (
        "network",
        &[
            ("A user network, where members find each other by name", "box network create app"),
            ("Networks", "box network ls"),
            ("Remove every unused network, without asking", "box network prune -f"),
        ],
    ),
    (
        "system",
        &[
            ("Disk space used by images and containers", "box system df"),
            ("Remove stopped containers, unused networks and dangling images", "box system prune -f"),
            ("The storage driver in use", "box system info -f '{{.Driver}}'"),
        ],
    ),
    (
        "volume",
        &[(
            "Not implemented yet: says so, with what to do instead, and exits with status 125",
            "box volume ls",
        )],
    ),
    (
        "build",
        &[(
            "Not implemented yet: says so, with what to do instead, and exits with status 125",
            "box build -t app .",
        )],
    ),
    (
        "port",
        &[
            ("Every published port of a container", "box port site"),
            ("Where one of its ports is published", "box port site 80/tcp"),
        ],
    ),
    (
        "version",
        &[("box's version, and the platform it pulls images for", "box version")],
    ),
    (
        "run",
        &[
            ("A shell in a new Debian container, removed when it exits", "box run --rm -it debian bash"),
            ("Pipe data through a container", "echo hi | box run --rm -i busybox cat"),
            (
                "In the background, with a name and a restart policy",
                "box run -d --name web --restart on-failure:3 busybox sh -c 'while true; do date; sleep 1; done'",
            ),
            ("The current directory, read-only, as the working directory", "box run --rm -v \"$PWD:/src:ro\" -w /src debian ls"),
            (
                "Locked down: read-only root, no capabilities, no privilege gain",
                "box run --rm --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges busybox id",
            ),
            ("With the image pulled again first, in case the tag moved", "box run --rm --pull always busybox date"),
            (
                "On a user network, where other members find it as db",
                "box run -d --name db --network app busybox httpd -f -p 80",
            ),
        ],
    ),
    (
        "network create",
        &[
            ("A network with a free 10.89.N.0/24", "box network create app"),
            ("With a subnet of your choice", "box network create --subnet 10.90.0.0/24 lab"),
        ],
    ),
    (
        "network ls",
        &[
            ("Networks", "box network ls"),
            ("Just the names", "box network ls --format '{{.Name}}'"),
        ],
    ),
    (
        "network inspect",
        &[(
            "The members and their addresses",
            "box network inspect -f '{{range .Containers}}{{.Name}} {{.IPv4Address}} {{end}}' app",
        )],
    ),
    (
        "network connect",
        &[("Connect a container, with one more name there", "box network connect --alias cache app web")],
    ),
    (
        "network disconnect",
        &[("Disconnect a container", "box network disconnect app web")],
    ),
    (
        "network rm",
        &[("Remove a network no container is on", "box network rm app")],
    ),
    (
        "network prune",
        &[("Remove every unused network, without asking", "box network prune -f")],
    ),
    (
        "ps",
        &[
            ("Running containers", "box ps"),
            ("All containers, stopped ones too", "box ps -a"),
            ("Ids of the containers that exited", "box ps -aq --filter status=exited"),
            ("The latest container, by name", "box ps -l --filter name=web"),
            ("With the size of each writable layer (and of the image under it)", "box ps -s"),
            ("Names and status, with a tab between (a template of Docker's fields)", "box ps --format '{{.Names}}\\t{{.Status}}'"),
            ("A table of one's own columns", "box ps -a --format 'table {{.ID}}\\t{{.Names}}\\t{{.Label \"tier\"}}'"),
            ("One JSON object per container", "box ps -a --format json"),
        ],
    ),
    (
        "logs",
        &[
            ("Follow a container's output, from its last 5 lines", "box logs -f --tail 5 web"),
            ("With timestamps, the last ten minutes", "box logs -t --since 10m web"),
        ],
    ),
    (
        "exec",
        &[
            ("A shell in a running container", "box exec -it web sh"),
            ("A command with an extra variable, in another directory", "box exec -e DEBUG=1 -w /tmp web env"),
            ("As another user", "box exec -u 1000 web id"),
        ],
    ),
    (
        "attach",
        &[("Attach to a container's terminal (Ctrl-P Ctrl-Q detaches)", "box attach shell")],
    ),
    (
        "pull",
        &[
            ("An image from Docker Hub (docker.io/library/busybox:latest)", "box pull busybox"),
            ("Another platform of a multi-platform image", "box pull --platform linux/arm64 alpine"),
            ("Quietly, from a registry on this machine (plain HTTP)", "box pull -q 127.0.0.1:5000/app:1.2"),
        ],
    ),
    (
        "images",
        &[
            ("All images", "box images"),
            ("One repository's images, with digests", "box images --digests busybox"),
            ("Only ids, in full", "box images -q --no-trunc"),
            ("Repository, tag and size of each", "box images --format '{{.Repository}}:{{.Tag}} {{.Size}}'"),
            ("One JSON object per image", "box images --format json"),
        ],
    ),
    (
        "rm",
        &[
            ("Remove a stopped container", "box rm web"),
            ("Remove a running container (killed first)", "box rm -f web"),
            ("Remove every container that exited", "box rm $(box ps -aq --filter status=exited)"),
        ],
    ),
    (
        "rmi",
        &[
            ("Untag an image (removed with its last tag)", "box rmi mybox:1"),
            ("Remove an image by id, whatever its tags", "box rmi -f 3f57d9401f8d"),
        ],
    ),
    (
        "tag",
        &[("A second name for an image", "box tag busybox mybox:1")],
    ),
    (
        "stop",
        &[
            ("Stop a container: its stop signal, SIGKILL after 10 seconds", "box stop web"),
            ("Give two containers 30 seconds", "box stop -t 30 web db"),
        ],
    ),
    (
        "start",
        &[
            ("Start a stopped container again, on the same filesystem", "box start web"),
            ("Start it attached to its output", "box start -a web"),
        ],
    ),
    (
        "restart",
        &[("Stop and start a container", "box restart web")],
    ),
    (
        "kill",
        &[
            ("Kill a container", "box kill web"),
            ("Send it another signal", "box kill -s HUP web"),
        ],
    ),
    (
        "wait",
        &[("Wait for a container to stop, and print its exit code", "box wait web")],
    ),
    (
        "cp",
        &[
            ("A file from a container to the current directory", "box cp web:/etc/hostname ."),
            ("A local file into a container", "box cp ./config.json web:/tmp/"),
            ("A directory of a container, as a tar archive on stdout", "box cp web:/var/log - | tar -tv"),
        ],
    ),
    (
        "top",
        &[
            ("A container's processes", "box top web"),
            ("With other ps options", "box top web -o pid,comm"),
        ],
    ),
    (
        "inspect",
        &[
            ("A container's configuration and state, as Docker's JSON", "box inspect web"),
            ("An image, when a container could have the same name", "box inspect --type image busybox"),
            ("One field, by a template of Docker's names", "box inspect -f '{{.State.Status}}' web"),
            ("Its labels, and where its ports are published, as JSON", "box inspect -f '{{json .Config.Labels}} {{json .NetworkSettings.Ports}}' web"),
            ("With the sizes of its writable layer and root filesystem", "box inspect -s -f '{{.SizeRw}} {{.SizeRootFs}}' web"),
        ],
    ),
    (
        "rename",
        &[("Give a container another name", "box rename web web-old")],
    ),
    (
        "image inspect",
        &[
            ("An image's configuration and layers", "box image inspect busybox"),
            ("Its command and exposed ports", "box image inspect -f '{{.Config.Cmd}} {{.Config.ExposedPorts}}' nginx"),
        ],
    ),
    (
        "image prune",
        &[
            ("Remove dangling images", "box image prune"),
            ("Remove every image no container uses, without asking", "box image prune -a -f"),
        ],
    ),
    (
        "container prune",
        &[("Remove every stopped container, without asking", "box container prune -f")],
    ),
    (
        "system df",
        &[
            ("Disk space used by images and containers", "box system df"),
            ("Per image and container", "box system df -v"),
        ],
    ),
    (
        "system prune",
        &[
            ("Remove stopped containers and dangling images", "box system prune"),
            ("Also every image no container uses, without asking", "box system prune -a -f"),
        ],
    ),
    (
        "info",
        &[
            ("Where box keeps things, how ids are mapped, which helpers it found", "box info"),
            ("One field, by Docker's name", "box info -f '{{.Driver}} {{.CgroupVersion}}'"),
            ("All of it as JSON", "box info -f json"),
        ],
    ),
    (
        "completion",
        &[
            ("Completion in the current bash", "source <(box completion bash)"),
            ("For zsh, installed in $fpath", "box completion zsh > ~/.zfunc/_box"),
            ("For fish", "box completion fish > ~/.config/fish/completions/box.fish"),
        ],
    ),
    (
        "help",
        &[
            ("Help for a command", "box help run"),
            ("Help for a management command's subcommand", "box help container ls"),
        ],
    ),
];

/// Management-command spellings and the command each one is (the same arguments and
/// code): their help shows that command's examples, spelled their way.
pub const ALIASES: &[(&str, &str)] = &[
    ("container ls", "ps"),
    ("container inspect", "inspect"),
    ("container logs", "logs"),
    ("container attach", "attach"),
    ("container exec", "exec"),
    ("container start", "start"),
    ("container stop", "stop"),
    ("container restart", "restart"),
    ("container kill", "kill"),
    ("container rm", "rm"),
    ("container wait", "wait"),
    ("container rename", "rename"),
    ("container run", "run"),
    ("container top", "top"),
    ("container port", "port"),
    ("container cp", "cp"),
    ("image ls", "images"),
    ("image pull", "pull"),
    ("image rm", "rmi"),
    ("image tag", "tag"),
    ("image build", "build"),
    ("system info", "info"),
];

/// The examples of a command, by its path ("run", "system df", "" for box itself):
/// its own, or those of the command it is another spelling of.
pub fn examples(path: &str) -> Vec<(&'static str, String)> {
    let own = |p: &str| EXAMPLES.iter().find(|(q, _)| *q == p).map(|(_, e)| *e);
    if let Some(ex) = own(path) {
        return ex.iter().map(|(w, l)| (*w, l.to_string())).collect();
    }
    let Some((_, target)) = ALIASES.iter().find(|(a, _)| *a == path) else {
        return Vec::new();
    };
    let typed = format!("box {target}");
    own(target)
        .unwrap_or_default()
        .iter()
        .map(|(w, l)| (*w, l.replacen(&typed, &format!("box {path}"), 1)))
        .collect()
}

/// Gives every command with examples an "Examples:" block at the end of `--help`, and
/// an alias's usage line its own spelling (`box container top CONTAINER ...`).
pub fn with_examples(cmd: Command) -> Command {
    fn walk(mut cmd: Command, path: &str) -> Command {
        if let Some((_, target)) = ALIASES.iter().find(|(a, _)| *a == path) {
            if let Some(usage) = cmd.get_overridden_usage() {
                let usage = usage
                    .to_string()
                    .replace(&format!("box {target} "), &format!("box {path} "));
                cmd = cmd.override_usage(usage);
            }
        }
        let ex = examples(path);
        if !ex.is_empty() {
            let mut text = String::from("Examples:\n");
            for (what, line) in ex {
                text.push_str(&format!("  # {what}\n  {line}\n\n"));
            }
            cmd = cmd.after_long_help(text.trim_end().to_string());
        }
        // In place: clap lists subcommands in the order they were added.
        cmd.mut_subcommands(|s| {
            let sub = if path.is_empty() {
                s.get_name().to_string()
            } else {
                format!("{path} {}", s.get_name())
            };
            walk(s, &sub)
        })
    }
    walk(cmd, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'c>(cmd: &'c clap::Command, path: &str) -> Option<&'c clap::Command> {
        let mut sub = cmd;
        for part in path.split(' ').filter(|p| !p.is_empty()) {
            sub = sub.find_subcommand(part)?;
        }
        Some(sub)
    }

    /// Every command, as its path ("", "run", "container ls", ...).
    fn paths(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
        out.push(path.to_string());
        for s in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let sub = format!("{path} {}", s.get_name());
            paths(s, sub.trim_start(), out);
        }
    }

    /// An example for a command that no longer exists would be a lie, and a command
    /// without one is harder to learn: every command has some, and each parses.
    #[test]
    fn every_command_has_examples_that_parse() {
        use clap::CommandFactory;
        let cmd = super::super::Cli::command();
        for (path, _) in EXAMPLES {
            assert!(
                find(&cmd, path).is_some(),
                "examples for {path:?}, which is no command"
            );
        }
        let mut all = Vec::new();
        paths(&cmd, "", &mut all);
        for path in &all {
            let ex = examples(path);
            assert!(!ex.is_empty(), "no examples for {path:?}");
            for (_, line) in &ex {
                assert!(line.contains(&format!("box {path}")), "{path}: {line}");
                // Every box command in it (around pipes, `$(...)`, `<(...)`) parses.
                for part in line.split(['|', '(', ')', '>', '<']).map(str::trim) {
                    if !part.starts_with("box ") {
                        continue;
                    }
                    let (words, _) = super::super::complete::split_line(part);
                    let words = super::super::command_after_positional(words);
                    if let Err(e) = super::super::docs::command().try_get_matches_from(&words) {
                        panic!("{line}: {e}");
                    }
                }
            }
        }
    }

    /// An alias is the same command: the same arguments, so the same page.
    #[test]
    fn aliases_take_what_their_command_takes() {
        use clap::CommandFactory;
        let mut cmd = super::super::Cli::command();
        cmd.build();
        let args = |c: &clap::Command| -> Vec<String> {
            c.get_arguments().map(|a| a.get_id().to_string()).collect()
        };
        for (alias, target) in ALIASES {
            let a = find(&cmd, alias).unwrap_or_else(|| panic!("no command {alias:?}"));
            let t = find(&cmd, target).unwrap_or_else(|| panic!("no command {target:?}"));
            assert_eq!(args(a), args(t), "{alias} and {target}");
        }
    }
}
