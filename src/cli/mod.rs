//! The command line: one module per command, each a clap struct and a `run` that
//! turns flags into calls on the library. Nothing below `cli` knows about clap.

use std::io::Write;

use anyhow::Result;
use clap::{Parser, Subcommand};

use boxc::config::{Config, Dirs};
use boxc::runtime::idmap::IdMapping;

mod attach;
mod docs;
mod image;
mod images;
mod info;
mod pull;
mod rmi;
mod run;
mod shim;
mod tag;

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
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create and run a new container from an image
    Run(Box<run::Args>),
    /// Download an image from a registry
    Pull(pull::Args),
    /// List images
    Images(images::Args),
    /// Remove one or more images
    Rmi(rmi::Args),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(tag::Args),
    /// Manage images
    #[command(subcommand)]
    Image(image::Command),
    /// Display system-wide information
    Info(info::Args),
    /// Show the box version information
    Version,
    /// Print a shell completion script
    Completion(docs::CompletionArgs),
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
        boxc::runtime::userns::enter(&self.idmap)?;
        Ok(())
    }
}

pub fn main() -> i32 {
    // The shim is on every container's start path: spare it building the whole
    // command line's definition (its arguments come from box itself).
    let args: Vec<String> = std::env::args().take(4).collect();
    if args.get(1).map(String::as_str) == Some("__shim") && args.len() >= 3 {
        let a = shim::Args {
            id: args[2].clone(),
            name: args.get(3).cloned(),
        };
        return match Ctx::load().and_then(|ctx| shim::run(&ctx, a)) {
            Ok(code) => code,
            Err(e) => {
                report(&e);
                EXIT_BOX_ERROR
            }
        };
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
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
    if let Command::Version = &cli.command {
        print(&format!(
            "Version:  {}\nOS/Arch:  linux/{}\n",
            env!("CARGO_PKG_VERSION"),
            boxc::image::manifest::Platform::host().architecture
        ));
        return Ok(0);
    }
    let ctx = Ctx::load()?;
    match cli.command {
        Command::Run(a) => run::run(&ctx, *a),
        Command::Shim(a) => shim::run(&ctx, a),
        Command::Pull(a) => pull::run(&ctx, a),
        Command::Images(a) => images::run(&ctx, a),
        Command::Rmi(a) => rmi::run(&ctx, a),
        Command::Tag(a) => tag::run(&ctx, a),
        Command::Image(c) => image::run(&ctx, c),
        Command::Info(a) => info::run(&ctx, a),
        Command::Version | Command::Completion(_) => unreachable!("handled above"),
    }
}

/// Help and version go to stdout with status 0; a usage mistake is one error line,
/// a hint, and status 125, as for any other box error.
fn usage_error(e: clap::Error) -> i32 {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        print(&e.render().to_string());
        return 0;
    }
    let text = e.render().to_string();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let mut first = lines
        .next()
        .unwrap_or("invalid command line")
        .trim_start_matches("error: ")
        .to_string();
    if first.ends_with(':') {
        // "the following required arguments were not provided:" names them below.
        let names: Vec<&str> = text
            .lines()
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .map(str::trim)
            .collect();
        first = format!("{} {}", first, names.join(" "));
    }
    eprintln!("Error: {first}");
    for l in lines.filter(|l| l.trim_start().starts_with("tip:")) {
        eprintln!("hint: {}", l.trim_start().trim_start_matches("tip: "));
    }
    if let Some(usage) = text.lines().find(|l| l.starts_with("Usage: ")) {
        let cmd: Vec<&str> = usage
            .trim_start_matches("Usage: ")
            .split_whitespace()
            .take_while(|w| !w.starts_with('[') && !w.starts_with('<'))
            .collect();
        eprintln!("See '{} --help'.", cmd.join(" "));
    }
    EXIT_BOX_ERROR
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
    eprintln!("Error: {line}");
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
    eprintln!("WARNING: {msg}");
}
