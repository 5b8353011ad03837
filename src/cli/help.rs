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
    match super::docs::command().try_get_matches_from(args) {
        Err(e) => Ok(super::usage::report(e)),
        // Only a command whose own flags swallow `--help` gets here.
        Ok(_) => Ok(super::usage::report(super::docs::command().error(
            clap::error::ErrorKind::InvalidSubcommand,
            format!("no help for {:?}", a.command.join(" ")),
        ))),
    }
}

/// (command path, [(what it does, the command line)])
pub const EXAMPLES: &[(&str, &[(&str, &str)])] = &[
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
        ],
    ),
    (
        "rename",
        &[("Give a container another name", "box rename web web-old")],
    ),
    (
        "image inspect",
        &[("An image's configuration and layers", "box image inspect busybox")],
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
        &[("Where box keeps things, how ids are mapped, which helpers it found", "box info")],
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

/// The examples of a command, by its path ("run", "system df").
pub fn examples(path: &str) -> Option<&'static [(&'static str, &'static str)]> {
    EXAMPLES.iter().find(|(p, _)| *p == path).map(|(_, e)| *e)
}

/// Gives every command with examples an "Examples:" block at the end of `--help`.
pub fn with_examples(cmd: Command) -> Command {
    fn walk(mut cmd: Command, path: &str) -> Command {
        if let Some(ex) = examples(path) {
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

    /// An example for a command that no longer exists would be a lie.
    #[test]
    fn examples_name_real_commands() {
        use clap::CommandFactory;
        let cmd = super::super::Cli::command();
        for (path, ex) in EXAMPLES {
            let mut sub = &cmd;
            for part in path.split(' ') {
                sub = sub
                    .find_subcommand(part)
                    .unwrap_or_else(|| panic!("examples for {path:?}, which is no command"));
            }
            for (_, line) in *ex {
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
}
