//! Shell completion for bash, zsh and fish.
//!
//! The mechanism is clap_complete's dynamic completion (`CompleteEnv`, feature
//! `unstable-dynamic`): the scripts in `completions/` are small registration stubs, and
//! on every TAB the shell runs `BOX_COMPLETE=SHELL box -- WORDS`, which answers from the
//! clap definition (subcommands, flags, possible values, paths) and, for an argument
//! that names something, from the user's own records (`ARGS` says which).
//!
//! Why not static scripts that call a hidden `box __complete containers|images` for
//! names: clap_complete's static scripts have no hook for names, so each would have to
//! be patched per shell, and every new flag would need the scripts regenerated and
//! reinstalled. Here flags and names come from the binary that runs, so they cannot
//! disagree. The price: an unstable clap_complete feature (Cargo.lock pins it, and the
//! docs test notices a changed stub) and a stub that speaks to the box it finds on
//! `PATH`.
//!
//! Speed: a TAB costs one exec of box, building the clap definition and reading
//! `containers/names/` (symlinks), the containers' shim locks (is it running?) and
//! `repositories.json` (tags). No namespace is entered, no record is parsed per
//! container, nothing touches the network.
//!
//! Bash and zsh get stubs of box's own. Bash splits words at `:` and `=`
//! (`COMP_WORDBREAKS`), which would break every `repo:tag`, `name:path` and `--opt=x`:
//! box reads the command line itself and answers with what bash is about to replace.
//! Zsh's stub must also complete on the first TAB when autoloaded from `$fpath`.
//! Fish's stub is clap's; all three share the answers (`candidates`).
//!
//! A new kind of name (networks, volumes): a `Kind`, its lister in `names`, and rows in
//! `ARGS`; the test `every_completed_argument_exists` keeps the rows honest.

use std::ffi::{OsStr, OsString};
use std::path::Path;

use clap::Command;
use clap_complete::engine::{
    ArgValueCompleter, CompletionCandidate, PathCompleter, ValueCompleter,
};
use clap_complete::env::{EnvCompleter, Shells};
use clap_complete::CompleteEnv;

use boxc::config::{Config, Dirs};
use boxc::container::Containers;
use boxc::image::reference::familiar;
use boxc::image::store::{short_id, Store};

mod shells;

#[cfg(test)]
pub(super) use shells::split_line;
use shells::{Bash, FishShell, Zsh};

/// The variable that turns a run of box into a completion request.
const VAR: &str = "BOX_COMPLETE";

/// What an argument names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Containers,
    Running,
    Stopped,
    Images,
    /// `box inspect` takes either.
    ContainersOrImages,
    /// `box cp`: `CONTAINER:PATH` or a local path.
    CopyPath,
    /// User networks; for `run --network` also the built-in modes.
    Networks,
    NetworkModes,
}

/// Which argument of which (sub)command names what (other spellings of a command,
/// `container rm` say, complete as it does: see [`rows`]). Docker's choices: commands that
/// need a running container offer running ones (`port` too: only a running
/// container's ports are published), `start` stopped ones.
const ARGS: &[(&str, &str, Kind)] = &[
    ("run", "image", Kind::Images),
    ("exec", "container", Kind::Running),
    ("attach", "container", Kind::Running),
    ("top", "container", Kind::Running),
    ("port", "container", Kind::Running),
    ("stop", "containers", Kind::Running),
    ("kill", "containers", Kind::Running),
    ("start", "containers", Kind::Stopped),
    ("restart", "containers", Kind::Containers),
    ("rm", "containers", Kind::Containers),
    ("logs", "container", Kind::Containers),
    ("wait", "containers", Kind::Containers),
    ("rename", "container", Kind::Containers),
    ("inspect", "names", Kind::ContainersOrImages),
    ("cp", "src", Kind::CopyPath),
    ("cp", "dest", Kind::CopyPath),
    // Unlike `box inspect`, `box container inspect` is about containers only.
    ("container inspect", "names", Kind::Containers),
    ("pull", "image", Kind::Images),
    ("rmi", "images", Kind::Images),
    ("tag", "source", Kind::Images),
    ("tag", "target", Kind::Images),
    ("images", "repository", Kind::Images),
    ("image inspect", "images", Kind::Images),
    ("run", "network", Kind::NetworkModes),
    ("run", "link", Kind::Running),
    ("network rm", "networks", Kind::Networks),
    ("network inspect", "networks", Kind::Networks),
    ("network connect", "network", Kind::Networks),
    ("network connect", "container", Kind::Containers),
    ("network disconnect", "network", Kind::Networks),
    ("network disconnect", "container", Kind::Containers),
];

/// Gives the arguments in `ARGS` their completers. Rows whose argument is missing are
/// skipped (the unit test catches them), so completion never panics. Everything is
/// changed in place: clap numbers positionals, and lists subcommands, in the order
/// they were added.
pub fn attach(mut cmd: Command) -> Command {
    for (path, arg, kind) in rows() {
        cmd = at_path(cmd, path, &mut |sub| {
            sub.mut_args(|a| {
                if a.get_id() == arg {
                    a.add(ArgValueCompleter::new(move |cur: &OsStr| {
                        complete_names(kind, cur)
                    }))
                } else {
                    a
                }
            })
        });
    }
    cmd
}

/// The rows of `ARGS`, and those of each other spelling of a command (`container rm`
/// is `rm`), unless `ARGS` gives that spelling a row of its own for the argument.
fn rows() -> impl Iterator<Item = (&'static str, &'static str, Kind)> {
    let aliased = super::help::ALIASES.iter().flat_map(|&(alias, target)| {
        ARGS.iter()
            .filter(move |&&(p, arg, _)| {
                p == target && !ARGS.iter().any(|&(q, a, _)| q == alias && a == arg)
            })
            .map(move |&(_, arg, kind)| (alias, arg, kind))
    });
    ARGS.iter().copied().chain(aliased)
}

fn at_path(cmd: Command, path: &str, f: &mut dyn FnMut(Command) -> Command) -> Command {
    let (first, rest) = path.split_once(' ').unwrap_or((path, ""));
    cmd.mut_subcommands(|s| match (s.get_name() == first, rest) {
        (false, _) => s,
        (true, "") => f(s),
        (true, rest) => at_path(s, rest, f),
    })
}

/// Answers a completion request (`BOX_COMPLETE=SHELL box -- ...`) and exits; returns at
/// once, without building anything, when the variable is not set.
pub fn complete_from_env() {
    // Before anything else: every box run (the shim's too) passes here.
    if std::env::var_os(VAR).is_none() {
        return;
    }
    CompleteEnv::with_factory(super::docs::command)
        .var(VAR)
        .bin("box")
        .completer("box")
        .shells(Shells(&[&Bash, &Zsh, &FishShell]))
        .complete();
}

/// The stub that `box completion SHELL` prints and `completions/` holds.
pub fn registration(shell: &str) -> String {
    let adapter: &dyn EnvCompleter = match shell {
        "bash" => &Bash,
        "zsh" => &Zsh,
        _ => &FishShell,
    };
    let mut buf = Vec::new();
    adapter
        .write_registration(VAR, "box", "box", "box", &mut buf)
        .expect("writing to memory");
    String::from_utf8(buf).expect("stubs are UTF-8")
}

/// What to offer for word `index` of `words` (`words[0]` is box itself).
fn candidates(
    cmd: &mut Command,
    words: Vec<String>,
    index: usize,
    cwd: Option<&Path>,
) -> Vec<CompletionCandidate> {
    let mut words: Vec<String> = words.into_iter().take(index + 1).collect();
    let mut index = index;
    while words.len() <= index {
        words.push(String::new());
    }
    // After `run IMAGE` and `exec CONTAINER` comes the container's command, flags and
    // all: box's own parser gets a `--` there, so the completer must too.
    let split = super::command_after_positional(words.clone());
    if split.len() > words.len() {
        words = split;
        index += 1;
    }
    if let Some(at) = help_at(&words[..index]) {
        // `box help container <TAB>`: the subcommands of what is named so far.
        return commands(&words[at + 1..index], &words[index]);
    }
    let current_is_flag = words[index].starts_with('-');
    let args: Vec<OsString> = words.into_iter().map(OsString::from).collect();
    let mut out = clap_complete::engine::complete(cmd, args, index, cwd).unwrap_or_default();
    // Docker's habit: names, not flags, until the word starts with a dash.
    let is_flag = |c: &CompletionCandidate| c.get_value().to_string_lossy().starts_with('-');
    if !current_is_flag && out.iter().any(|c| !is_flag(c)) {
        out.retain(|c| !is_flag(c));
    }
    out
}

/// Where `help` is in the words before the cursor, if it is box's command.
fn help_at(before: &[String]) -> Option<usize> {
    let mut i = 1;
    while let Some(w) = before.get(i) {
        match w.as_str() {
            "--log-level" => i += 2,
            w if w.starts_with('-') => i += 1,
            "help" => return Some(i),
            _ => return None,
        }
    }
    None
}

/// The subcommands, starting with `cur`, of the command at `path` (`[]` for box).
fn commands(path: &[String], cur: &str) -> Vec<CompletionCandidate> {
    use clap::CommandFactory;
    let root = super::Cli::command();
    let mut cmd = &root;
    for name in path {
        match cmd.find_subcommand(name) {
            Some(sub) => cmd = sub,
            None => return Vec::new(),
        }
    }
    cmd.get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name().starts_with(cur))
        .map(|s| CompletionCandidate::new(s.get_name()).help(s.get_about().cloned()))
        .collect()
}

/// Candidates for an argument of `kind` that start with `current`.
fn complete_names(kind: Kind, current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(cur) = current.to_str() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    match kind {
        Kind::Containers | Kind::Running | Kind::Stopped => {
            out = names::containers(kind, cur);
        }
        Kind::Images => out = names::images(cur),
        Kind::ContainersOrImages => {
            out = names::containers(Kind::Containers, cur);
            out.extend(names::images(cur));
        }
        Kind::CopyPath => {
            // A path inside a container is not completed: that would mean entering it.
            if !cur.contains(':') {
                out = names::containers(Kind::Containers, cur)
                    .into_iter()
                    .map(|c| c.value_suffix(":"))
                    .collect();
                out.extend(PathCompleter::any().complete(current));
            }
        }
        Kind::Networks | Kind::NetworkModes => {
            let mut all = names::networks();
            if kind == Kind::NetworkModes {
                all.extend(["none", "host", "pasta", "slirp4netns"].map(String::from));
                all.extend(
                    names::containers(Kind::Running, "")
                        .into_iter()
                        .map(|c| format!("container:{}", c.get_value().to_string_lossy())),
                );
            }
            out = all
                .into_iter()
                .filter(|n| n.starts_with(cur))
                .map(CompletionCandidate::new)
                .collect();
        }
    }
    out
}

trait Suffix {
    fn value_suffix(self, suffix: &str) -> Self;
}

impl Suffix for CompletionCandidate {
    fn value_suffix(self, suffix: &str) -> Self {
        let mut v = self.get_value().to_os_string();
        v.push(suffix);
        CompletionCandidate::new(v).help(self.get_help().cloned())
    }
}

/// The user's containers and images, read straight from their records.
mod names {
    use super::*;

    fn dirs() -> Option<Dirs> {
        Dirs::from_env().ok()
    }

    /// The user's network names.
    pub fn networks() -> Vec<String> {
        dirs()
            .and_then(|d| boxc::network::user::Networks::open(&d.data).ok())
            .and_then(|n| n.list().ok())
            .unwrap_or_default()
            .into_iter()
            .map(|n| n.name)
            .collect()
    }

    /// Names (and, once the word is a prefix of one, ids) of containers of `kind`.
    pub fn containers(kind: Kind, cur: &str) -> Vec<CompletionCandidate> {
        let Some(dirs) = dirs() else {
            return Vec::new();
        };
        let names_dir = dirs.data.join("containers/names");
        let Ok(entries) = std::fs::read_dir(&names_dir) else {
            return Vec::new();
        };
        let Ok(containers) = Containers::open(&dirs.data) else {
            return Vec::new();
        };
        let mut found: Vec<(String, String, bool)> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let id = std::fs::read_link(e.path()).ok()?.into_os_string();
                let id = id.into_string().ok()?;
                if id.len() < 12 || !containers.dir(&id).join("container.json").exists() {
                    return None;
                }
                // A shim outlives its container briefly (it records the exit, cleans
                // up): running is what its state says while a shim holds it.
                let running =
                    containers.shim_alive(&id) && containers.state(&id).is_ok_and(|s| s.is_live());
                match kind {
                    Kind::Running if !running => None,
                    Kind::Stopped if running => None,
                    _ => Some((name, id, running)),
                }
            })
            .collect();
        found.sort();
        let state = |running: bool| if running { "running" } else { "stopped" };
        let mut out: Vec<CompletionCandidate> = found
            .iter()
            .filter(|(name, _, _)| name.starts_with(cur))
            .map(|(name, id, running)| {
                CompletionCandidate::new(name)
                    .help(Some(format!("{} {}", &id[..12], state(*running)).into()))
            })
            .collect();
        if !cur.is_empty() {
            let hex = cur.to_ascii_lowercase();
            out.extend(found.iter().filter(|(_, id, _)| id.starts_with(&hex)).map(
                |(name, id, running)| {
                    CompletionCandidate::new(&id[..12.max(hex.len()).min(id.len())])
                        .help(Some(format!("{name} {}", state(*running)).into()))
                },
            ));
        }
        out
    }

    /// `repo:tag` of every tagged image as `box images` shows it (and, once the word is
    /// a prefix of one, image ids).
    pub fn images(cur: &str) -> Vec<CompletionCandidate> {
        let Some(dirs) = dirs() else {
            return Vec::new();
        };
        if !dirs.data.join("images").is_dir() {
            return Vec::new();
        }
        let Ok(store) = Store::open(&dirs.data) else {
            return Vec::new();
        };
        let config = Config::load(&dirs.config_file).unwrap_or_default();
        let default = config.default_registry();
        let mut out = Vec::new();
        for (tag, id) in store.tags().unwrap_or_default() {
            let Some((name, t)) = tag.rsplit_once(':') else {
                continue;
            };
            let (registry, repository) = name.split_once('/').unwrap_or(("", name));
            let shown = format!("{}:{t}", familiar(registry, repository, default));
            if shown.starts_with(cur) {
                out.push(
                    CompletionCandidate::new(shown).help(Some(short_id(&id).to_string().into())),
                );
            }
        }
        let hex = cur
            .strip_prefix("sha256:")
            .unwrap_or(cur)
            .to_ascii_lowercase();
        if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            let ids = std::fs::read_dir(dirs.data.join("images"))
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
                .filter(|n| n.starts_with(&hex));
            for id in ids {
                out.push(CompletionCandidate::new(
                    &id[..12.max(hex.len()).min(id.len())],
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_completed_argument_exists() {
        use clap::CommandFactory;
        let mut cmd = super::super::Cli::command();
        cmd.build();
        for (path, arg, _) in rows() {
            let mut sub = &cmd;
            for part in path.split(' ') {
                sub = sub
                    .find_subcommand(part)
                    .unwrap_or_else(|| panic!("no command {path:?}"));
            }
            assert!(
                sub.get_arguments().any(|a| a.get_id() == arg),
                "{path:?} has no argument {arg:?}"
            );
        }
    }

    /// Positional arguments that name nothing box keeps: a command and its
    /// arguments, a new name, a port, ps options, a shell.
    const FREE: &[(&str, &str)] = &[
        ("run", "command"),
        ("exec", "command"),
        ("rename", "new_name"),
        ("port", "port"),
        ("top", "ps_options"),
        ("network create", "name"),
        ("completion", "shell"),
        ("volume", "args"),
        ("build", "args"),
        // `candidates` answers for `help` itself, knowing the words before.
        ("help", "command"),
    ];

    /// Every argument that names a container, an image, a network or a command
    /// completes names: a new command's arguments need a row in `ARGS` (or in `FREE`).
    #[test]
    fn every_positional_argument_completes() {
        use clap::CommandFactory;
        fn walk(cmd: &Command, path: &str, missing: &mut Vec<String>) {
            for a in cmd.get_positionals() {
                let id = a.get_id().as_str();
                // Another spelling of a command is free where that command is.
                let spelled = crate::cli::help::ALIASES
                    .iter()
                    .find(|(alias, _)| *alias == path)
                    .map_or(path, |(_, target)| *target);
                let known = rows().any(|(p, arg, _)| p == path && arg == id)
                    || FREE.iter().any(|(p, arg)| *p == spelled && *arg == id);
                if !known {
                    missing.push(format!("{path:?} {id:?}"));
                }
            }
            for s in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
                let sub = format!("{path} {}", s.get_name());
                walk(s, sub.trim_start(), missing);
            }
        }
        let mut cmd = super::super::Cli::command();
        cmd.build();
        let mut missing = Vec::new();
        walk(&cmd, "", &mut missing);
        assert!(missing.is_empty(), "no completion for {missing:#?}");
    }

    fn values(words: &str) -> Vec<String> {
        let mut cmd = super::super::docs::command();
        let words: Vec<String> = words.split(' ').map(str::to_string).collect();
        let index = words.len() - 1;
        candidates(&mut cmd, words, index, None)
            .iter()
            .map(|c| c.get_value().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn flags_only_after_a_dash() {
        let top = values("box ");
        assert!(top.contains(&"run".to_string()), "{top:?}");
        assert!(!top.iter().any(|v| v.starts_with('-')), "{top:?}");
        assert_eq!(values("box run --rest"), ["--restart"]);
        assert!(values("box ps --").contains(&"--all".to_string()));
        assert!(values("box container ").contains(&"prune".to_string()));
    }

    #[test]
    fn help_completes_the_commands_named_so_far() {
        let top = values("box help ");
        assert!(top.contains(&"container".to_string()) && top.contains(&"run".to_string()));
        let sub = values("box help container ");
        assert!(
            sub.contains(&"ls".to_string()) && sub.contains(&"top".to_string()),
            "{sub:?}"
        );
        assert!(!sub.contains(&"container".to_string()), "{sub:?}");
        assert_eq!(values("box help system d"), ["df"]);
        assert_eq!(values("box --log-level debug help image bu"), ["build"]);
        assert!(values("box help nope ").is_empty());
    }

    #[test]
    fn the_containers_command_is_not_boxs() {
        // `box run IMAGE --<TAB>`: the container's flags, not box run's.
        assert!(!values("box run busybox --").contains(&"--rm".to_string()));
        assert!(values("box run --").contains(&"--rm".to_string()));
    }
}
