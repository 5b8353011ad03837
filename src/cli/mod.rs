//! The command line: one module per command, each a clap struct and a `run` that
//! turns flags into calls on the library. Nothing below `cli` knows about clap.

use std::io::Write;

use anyhow::Result;
use clap::{Parser, Subcommand};

use boxc::config::{Config, Dirs};
use boxc::runtime::idmap::IdMapping;

mod attach;
mod complete;
mod container;
mod cp;
mod docs;
mod exec;
mod filters;
mod help;
mod hints;
mod image;
mod images;
mod info;
mod inspect;
mod logs;
mod netopts;
mod network;
mod notyet;
mod port;
mod ps;
mod pull;
mod rename;
mod rm;
mod rmi;
mod run;
mod shim;
mod start;
mod stop;
mod system;
mod tag;
mod terminal;
mod top;
mod usage;
mod wait;

/// Exit status for errors of box itself, as Docker's CLI uses it.
pub const EXIT_BOX_ERROR: i32 = 125;

#[derive(Parser)]
#[command(
    name = "box",
    version,
    about = "Rootless, daemonless containers",
    long_about = "Rootless, daemonless containers: Docker's command line, no root and no daemon.\n\nImages live in $XDG_DATA_HOME/box; live state in $XDG_RUNTIME_DIR/box; settings in $XDG_CONFIG_HOME/box/config.toml.",
    disable_help_subcommand = true
)]
pub struct Cli {
    /// How much box says on stderr: debug, info, warn or error
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "warn",
        value_name = "LEVEL",
        hide_possible_values = true
    )]
    log_level: LogLevel,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

#[derive(Subcommand)]
enum Command {
    /// Create and run a new container from an image
    Run(Box<run::Args>),
    /// List containers
    Ps(ps::Args),
    /// Fetch the logs of a container
    Logs(logs::Args),
    /// Attach local standard input, output, and error streams to a running container
    Attach(attach::Args),
    /// Execute a command in a running container
    Exec(exec::Args),
    /// Start one or more stopped containers
    Start(start::Args),
    /// Stop one or more running containers
    Stop(stop::StopArgs),
    /// Restart one or more containers
    Restart(stop::RestartArgs),
    /// Kill one or more running containers
    Kill(stop::KillArgs),
    /// Remove one or more containers
    Rm(rm::Args),
    /// Block until one or more containers stop, then print their exit codes
    Wait(wait::Args),
    /// Return low-level information on containers and images
    Inspect(inspect::Args),
    /// Rename a container
    Rename(rename::Args),
    /// List port mappings or a specific mapping for the container
    Port(port::Args),
    /// Copy files/folders between a container and the local filesystem
    Cp(cp::Args),
    /// Display the running processes of a container
    Top(top::Args),
    /// Manage containers
    #[command(subcommand)]
    Container(container::Command),
    /// Manage networks
    #[command(subcommand)]
    Network(network::Command),
    /// Manage volumes (not implemented yet)
    Volume(notyet::Args),
    /// Download an image from a registry
    Pull(pull::Args),
    /// List images
    Images(images::Args),
    /// Remove one or more images
    Rmi(rmi::Args),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(tag::Args),
    /// Build an image from a Dockerfile (not implemented yet)
    Build(notyet::Args),
    /// Manage images
    #[command(subcommand)]
    Image(image::Command),
    /// Display system-wide information
    Info(info::Args),
    /// Manage box: disk usage, pruning, information
    #[command(subcommand)]
    System(system::Command),
    /// Show the box version information
    Version,
    /// Print a shell completion script
    Completion(docs::CompletionArgs),
    /// Show the help of a command, as COMMAND --help does
    Help(help::Args),
    /// The per-container supervisor (started by box itself)
    #[command(name = "__shim", hide = true)]
    Shim(shim::Args),
}

/// What every command may need, worked out once before any namespace is entered.
pub struct Ctx {
    pub dirs: Dirs,
    pub config: Config,
    pub idmap: IdMapping,
}

impl Ctx {
    fn load() -> Result<Ctx> {
        let dirs = Dirs::from_env()?;
        let config = Config::load(&dirs.config_file)?;
        Ok(Ctx {
            dirs,
            config,
            idmap: IdMapping::detect(),
        })
    }

    /// Opens the store without entering a user namespace: for commands that only read
    /// records or write the user's own JSON files.
    pub fn store(&self) -> Result<boxc::image::store::Store> {
        Ok(boxc::image::store::Store::open(&self.dirs.data)?)
    }

    /// Moves this process into the store's user namespace, for commands that create or
    /// remove layer files owned by mapped ids. Must run before any thread starts.
    pub fn enter_userns(&self) -> Result<()> {
        boxc::debug!("entering a user namespace: {}", self.idmap.describe());
        boxc::runtime::userns::enter(&self.idmap)?;
        Ok(())
    }
}

pub fn main() -> i32 {
    // Before anything else: what the caller left open stays out of shims and containers.
    boxc::sys::cloexec_inherited_fds();
    boxc::output::start_clock();
    // A TAB in a shell: answer and exit (returns at once when not asked).
    complete::complete_from_env();
    // The shim is on every container's start path: spare it building the whole
    // command line's definition (its arguments come from box itself).
    let args: Vec<String> = std::env::args().take(5).collect();
    if args.get(1).map(String::as_str) == Some("__shim") && args.len() >= 3 {
        let a = shim::Args {
            id: args[2].clone(),
            name: args.get(3).cloned(),
            mode: args.get(4).cloned(),
        };
        return match Ctx::load().and_then(|ctx| shim::run(&ctx, a)) {
            Ok(code) => code,
            Err(e) => {
                report(&e);
                EXIT_BOX_ERROR
            }
        };
    }
    if args.get(1).map(String::as_str) == Some("__drain") {
        return exec::drain();
    }
    if args.get(1).map(String::as_str) == Some("__netns-holder") {
        return match Ctx::load() {
            Ok(ctx) => boxc::network::holder::run(&ctx.dirs.runtime, &ctx.idmap),
            Err(e) => {
                report(&e);
                EXIT_BOX_ERROR
            }
        };
    }
    let args = command_after_positional(std::env::args().collect());
    let cli = match docs::command()
        .try_get_matches_from(&args)
        .and_then(|m| <Cli as clap::FromArgMatches>::from_arg_matches(&m))
    {
        Ok(c) => c,
        Err(e) => return usage::report(e, &args),
    };
    use boxc::output::Level;
    boxc::output::set_log_level(match cli.log_level {
        LogLevel::Debug => Level::Debug,
        LogLevel::Info => Level::Info,
        LogLevel::Warn => Level::Warn,
        LogLevel::Error => Level::Error,
    });
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            report(&e);
            e.downcast_ref::<StatusError>()
                .map(|s| s.code)
                .unwrap_or(EXIT_BOX_ERROR)
        }
    }
}

/// An error that ends box with a status of its own: a container that could not run
/// its command exits 126 (cannot execute) or 127 (not found), as Docker's does.
#[derive(Debug)]
pub struct StatusError {
    pub code: i32,
    pub message: String,
}

impl std::fmt::Display for StatusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StatusError {}

fn run(cli: Cli) -> Result<i32> {
    if let Command::Completion(a) = &cli.command {
        return docs::completion(a);
    }
    if let Command::Help(a) = &cli.command {
        return help::run(a);
    }
    if let Command::Version = &cli.command {
        print(&format!(
            "Version:  {}\nOS/Arch:  linux/{}\n",
            env!("CARGO_PKG_VERSION"),
            boxc::image::manifest::Platform::host().architecture
        ));
        return Ok(0);
    }
    match &cli.command {
        Command::Volume(_) => return Err(notyet::NotImplemented::Volumes.into()),
        Command::Build(_) => return notyet::build(),
        _ => {}
    }
    let ctx = Ctx::load()?;
    match cli.command {
        Command::Run(a) => run::run(&ctx, *a),
        Command::Ps(a) => ps::run(&ctx, a),
        Command::Logs(a) => logs::run(&ctx, a),
        Command::Attach(a) => attach::run(&ctx, a),
        Command::Exec(a) => exec::run(&ctx, a),
        Command::Start(a) => start::run(&ctx, a),
        Command::Stop(a) => stop::stop(&ctx, a),
        Command::Restart(a) => stop::restart(&ctx, a),
        Command::Kill(a) => stop::kill(&ctx, a),
        Command::Rm(a) => rm::run(&ctx, a),
        Command::Wait(a) => wait::run(&ctx, a),
        Command::Inspect(a) => inspect::run(&ctx, a),
        Command::Rename(a) => rename::run(&ctx, a),
        Command::Port(a) => port::run(&ctx, a),
        Command::Cp(a) => cp::run(&ctx, a),
        Command::Top(a) => top::run(&ctx, a),
        Command::Container(c) => container::run(&ctx, c),
        Command::Network(c) => network::run(&ctx, c),
        Command::Shim(a) => shim::run(&ctx, a),
        Command::Pull(a) => pull::run(&ctx, a),
        Command::Images(a) => images::run(&ctx, a),
        Command::Rmi(a) => rmi::run(&ctx, a),
        Command::Tag(a) => tag::run(&ctx, a),
        Command::Image(c) => image::run(&ctx, c),
        Command::Info(a) => info::run(&ctx, a),
        Command::System(c) => system::run(&ctx, c),
        Command::Version
        | Command::Completion(_)
        | Command::Help(_)
        | Command::Volume(_)
        | Command::Build(_) => {
            unreachable!("handled above")
        }
    }
}

/// Docker reads everything after `run IMAGE` (and `exec CONTAINER`) as the command,
/// flags too: `box run img --version` runs `--version` in the container. clap would
/// take a known flag there for box's own, so a `--` goes in right after that first
/// positional argument, found with the subcommand's own definition (which flags take
/// a value).
fn command_after_positional(mut args: Vec<String>) -> Vec<String> {
    use clap::CommandFactory;
    let root = Cli::command();
    let takes_value_in = |cmd: &clap::Command, flag: &str| -> bool {
        // Global flags (`--log-level`) are box's own wherever they come.
        let globals = root.get_arguments().filter(|a| a.is_global_set());
        cmd.get_arguments().chain(globals).any(|a| {
            let named = match flag.strip_prefix("--") {
                Some(long) => {
                    a.get_long() == Some(long)
                        || a.get_all_aliases().is_some_and(|al| al.contains(&long))
                }
                None => flag.len() == 2 && a.get_short() == flag.chars().nth(1),
            };
            // `--sig-proxy=false`: a value only after `=`.
            named && a.get_action().takes_values() && !a.is_require_equals_set()
        })
    };
    // The subcommand: after box's own flags (`box --log-level debug run`), and inside
    // `container` (`box container exec`).
    let mut at = 1;
    while args.get(at).is_some_and(|a| a.starts_with('-')) {
        let a = &args[at];
        at += if !a.contains('=') && takes_value_in(&root, a) {
            2
        } else {
            1
        };
    }
    if args.get(at).is_some_and(|a| a == "container") {
        at += 1;
    }
    let Some(sub_name) = args.get(at).cloned() else {
        return args;
    };
    if !matches!(sub_name.as_str(), "run" | "exec") {
        return args;
    }
    let parent = if at > 1 && args[at - 1] == "container" {
        root.find_subcommand("container").unwrap_or(&root)
    } else {
        &root
    };
    let Some(sub) = parent.find_subcommand(&sub_name) else {
        return args;
    };
    let takes_value = |flag: &str| takes_value_in(sub, flag);
    let mut i = at + 1;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--" {
            return args;
        }
        if a.starts_with('-') && a.len() > 1 {
            // `--name=x` and `-ex` carry their value; `--name x` and `-e x` do not.
            if !a.contains('=') && (a.starts_with("--") || a.len() == 2) && takes_value(a) {
                i += 1;
            } else if !a.starts_with("--") && a.len() > 2 {
                // Clustered short flags (`-dw`): the first that takes a value takes
                // the rest of the cluster, or the next argument if it is the last.
                let cluster: Vec<char> = a[1..].chars().collect();
                let first = cluster.iter().position(|c| takes_value(&format!("-{c}")));
                if first == Some(cluster.len() - 1) {
                    i += 1;
                }
            }
            i += 1;
            continue;
        }
        // The first positional: the image (or container). The rest is the command.
        if i + 1 < args.len() {
            args.insert(i + 1, "--".into());
        }
        return args;
    }
    args
}

/// Prints the error chain once, on one line: "Error: what: why: root cause".
pub fn report(e: &anyhow::Error) {
    let mut line = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !line.contains(&c) {
            line.push_str(": ");
            line.push_str(&c);
        }
    }
    error_line(&line);
    if let Some(h) = hints::for_error(e, &line) {
        hint(&h);
    }
}

fn error_line(text: &str) {
    boxc::output::message(boxc::output::Kind::Error, text);
}

/// The fix, when box knows it, on a line of its own after the error.
pub fn hint(text: &str) {
    boxc::output::message(boxc::output::Kind::Hint, text);
}

/// Writes data to stdout; a closed pipe (`box images | head -1`) is not an error.
pub fn print(s: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(s.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

pub fn warn(msg: &str) {
    boxc::output::message(boxc::output::Kind::Warning, msg);
}

#[cfg(test)]
mod tests {
    use super::command_after_positional as split;

    fn v(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn the_command_after_the_image_is_the_containers() {
        assert_eq!(
            split(v("box run --rm -e A=1 img --entrypoint x")),
            v("box run --rm -e A=1 img -- --entrypoint x")
        );
        assert_eq!(
            split(v("box run -it --name=n img sh")),
            v("box run -it --name=n img -- sh")
        );
        assert_eq!(split(v("box run -d img")), v("box run -d img"));
        assert_eq!(
            split(v("box run -dw /x img ls")),
            v("box run -dw /x img -- ls")
        );
        assert_eq!(split(v("box run img -- ls")), v("box run img -- -- ls"));
        assert_eq!(split(v("box ps -a")), v("box ps -a"));
        assert_eq!(
            split(v("box --log-level debug run --log-level info img ls -l")),
            v("box --log-level debug run --log-level info img -- ls -l")
        );
        assert_eq!(
            split(v("box container exec c ls -l")),
            v("box container exec c -- ls -l")
        );
        // A value only after `=`: the image is not taken for `--sig-proxy`'s.
        assert_eq!(
            split(v("box run --sig-proxy --detach-keys ctrl-x img ls")),
            v("box run --sig-proxy --detach-keys ctrl-x img -- ls")
        );
        assert_eq!(
            split(v("box run --sig-proxy=false img ls")),
            v("box run --sig-proxy=false img -- ls")
        );
    }
}
