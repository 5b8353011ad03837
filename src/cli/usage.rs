//! How a mistake on the command line reads: Docker's words (cobra's and pflag's),
//! not clap's, since those are what Docker users know and scripts match: `unknown
//! flag: --bogus`, `unknown command "frob" for "box"`, `"box rm" requires at least 1
//! argument.`. One `Error:` line, one `hint:` line pointing at the command's help,
//! status 125.
//!
//! The words come from clap's error context (which argument, which value), never
//! from its rendered text; the command's path from the words typed, which clap's
//! error does not always carry.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::Command;

use super::EXIT_BOX_ERROR;

/// Help and version go to stdout with status 0; anything else is a usage mistake in
/// `args` (the command line as parsed, `box` first).
pub fn report(e: clap::Error, args: &[String]) -> i32 {
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        super::print(&e.render().to_string());
        return 0;
    }
    let path = command_path(args);
    let (line, suggestion) = describe(&e, &path);
    super::error_line(&line);
    let see = format!("see '{} --help'", path.join(" "));
    super::hint(&match suggestion {
        Some(s) => format!("did you mean {s}? {see}"),
        None => see,
    });
    EXIT_BOX_ERROR
}

/// The error line, and what clap suggests instead (quoted), if anything.
fn describe(e: &clap::Error, path: &[String]) -> (String, Option<String>) {
    let name = path.join(" ");
    let text = |k: ContextKind| match e.get(k) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => v.first().cloned(),
        Some(ContextValue::StyledStr(s)) => Some(s.to_string()),
        _ => None,
    };
    let arg = text(ContextKind::InvalidArg).unwrap_or_default();
    match e.kind() {
        ErrorKind::UnknownArgument => {
            let line = if let Some(long) = arg.strip_prefix("--") {
                format!("unknown flag: --{}", long.split('=').next().unwrap_or(long))
            } else if let Some(c) = arg.strip_prefix('-').and_then(|s| s.chars().next()) {
                format!("unknown shorthand flag: '{c}' in {arg}")
            } else {
                too_many(find(path).as_ref(), &name)
            };
            let suggested = text(ContextKind::SuggestedArg).map(|s| format!("'{s}'"));
            (line, suggested)
        }
        ErrorKind::InvalidSubcommand => {
            let sub = text(ContextKind::InvalidSubcommand).unwrap_or_default();
            let suggested = text(ContextKind::SuggestedSubcommand).map(|s| format!("'{name} {s}'"));
            (format!("unknown command {sub:?} for {name:?}"), suggested)
        }
        ErrorKind::MissingRequiredArgument if !arg.starts_with('-') => {
            (too_few(find(path).as_ref(), &name), None)
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let value = text(ContextKind::InvalidValue).unwrap_or_default();
            // "--last <N>" as clap shows it; pflag names the flag alone.
            let flag = arg.split(' ').next().unwrap_or(&arg).to_string();
            if value.is_empty() && e.kind() == ErrorKind::InvalidValue {
                return (format!("flag needs an argument: {flag}"), None);
            }
            let why = match e.get(ContextKind::ValidValue) {
                Some(ContextValue::Strings(valid)) => {
                    format!("possible values are {}", valid.join(", "))
                }
                _ => std::error::Error::source(e)
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "invalid value".into()),
            };
            let what = if flag.starts_with('-') {
                format!("{flag:?} flag")
            } else {
                format!("{name:?}")
            };
            let suggested = text(ContextKind::SuggestedValue).map(|s| format!("'{s}'"));
            (
                format!("invalid argument {value:?} for {what}: {why}"),
                suggested,
            )
        }
        _ => (clap_line(e), None),
    }
}

/// clap's own first line, for the rarer mistakes: its words are clear enough there.
fn clap_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let first = lines
        .next()
        .unwrap_or("invalid command line")
        .trim_start_matches("error: ")
        .to_string();
    if !first.ends_with(':') {
        return first;
    }
    // "the following required arguments were not provided:" names them below.
    let names: Vec<&str> = text
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(str::trim)
        .collect();
    format!("{first} {}", names.join(" "))
}

/// `box`, `box ps`, `box container ls`: the command whose parsing failed, as far as
/// the words name commands (box's own flags and their values skipped).
fn command_path(args: &[String]) -> Vec<String> {
    use clap::CommandFactory;
    let root = super::Cli::command();
    let mut cmd = &root;
    let mut path = vec!["box".to_string()];
    let mut words = args.iter().skip(1);
    while let Some(w) = words.next() {
        if w == "--log-level" {
            words.next();
        } else if w.starts_with('-') {
            continue;
        } else if let Some(sub) = cmd.find_subcommand(w) {
            path.push(w.clone());
            cmd = sub;
        } else {
            break;
        }
    }
    path
}

/// The definition of the command at `path` (`["box", "container", "ls"]`).
fn find(path: &[String]) -> Option<Command> {
    let mut cmd = super::docs::command();
    for name in path.iter().skip(1) {
        cmd = cmd.find_subcommand(name)?.clone();
    }
    Some(cmd)
}

/// How many positional arguments a command takes: at least, and at most (`None`:
/// no limit).
fn arity(cmd: &Command) -> (usize, Option<usize>) {
    let mut min = 0;
    let mut max = Some(0);
    for a in cmd.get_positionals() {
        let range = a.get_num_args().unwrap_or_default();
        if a.is_required_set() {
            min += range.min_values().max(1);
        }
        let most = range.max_values();
        max = max.and_then(|m| (most != usize::MAX).then(|| m + most));
    }
    (min, max)
}

fn arguments(n: usize) -> String {
    if n == 1 {
        "1 argument".into()
    } else {
        format!("{n} arguments")
    }
}

/// cobra's words for too few positional arguments.
fn too_few(cmd: Option<&Command>, name: &str) -> String {
    match cmd.map(arity) {
        Some((min, Some(max))) if min == max => {
            format!("{name:?} requires exactly {}.", arguments(min))
        }
        Some((min, _)) => format!("{name:?} requires at least {}.", arguments(min.max(1))),
        None => format!("{name:?} requires more arguments."),
    }
}

/// cobra's words for too many.
fn too_many(cmd: Option<&Command>, name: &str) -> String {
    match cmd.map(arity) {
        Some((_, Some(0))) => format!("{name:?} accepts no arguments."),
        Some((min, Some(max))) if min == max => {
            format!("{name:?} requires exactly {}.", arguments(max))
        }
        Some((_, Some(max))) => format!("{name:?} requires at most {}.", arguments(max)),
        _ => format!("{name:?} got an unexpected argument."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error line and the hint for a command line.
    fn mistake(line: &str) -> (String, String) {
        let words: Vec<String> = line.split(' ').map(str::to_string).collect();
        let e = super::super::docs::command()
            .try_get_matches_from(&words)
            .err()
            .unwrap_or_else(|| panic!("{line} parses"));
        let path = command_path(&words);
        let (l, s) = describe(&e, &path);
        (l, format!("{} / {}", path.join(" "), s.unwrap_or_default()))
    }

    #[test]
    fn mistakes_read_as_dockers() {
        assert_eq!(mistake("box ps --bogus").0, "unknown flag: --bogus");
        assert_eq!(mistake("box ps --bogus").1, "box ps / ");
        assert_eq!(mistake("box ps --bogus=1").0, "unknown flag: --bogus");
        assert_eq!(mistake("box ps -z").0, "unknown shorthand flag: 'z' in -z");
        assert_eq!(mistake("box ps --al").1, "box ps / '--all'");
        assert_eq!(
            mistake("box frob").0,
            "unknown command \"frob\" for \"box\""
        );
        assert_eq!(mistake("box pss").1, "box / 'box ps'");
        assert_eq!(
            mistake("box container frob"),
            (
                "unknown command \"frob\" for \"box container\"".into(),
                "box container / ".into()
            )
        );
        assert_eq!(
            mistake("box rm").0,
            "\"box rm\" requires at least 1 argument."
        );
        assert_eq!(
            mistake("box rename a").0,
            "\"box rename\" requires exactly 2 arguments."
        );
        assert_eq!(
            mistake("box rename a b c").0,
            "\"box rename\" requires exactly 2 arguments."
        );
        assert_eq!(mistake("box ps x").0, "\"box ps\" accepts no arguments.");
        assert_eq!(
            mistake("box container rm").0,
            "\"box container rm\" requires at least 1 argument."
        );
        assert_eq!(
            mistake("box run").0,
            "\"box run\" requires at least 1 argument."
        );
        assert_eq!(
            mistake("box --log-level loud ps").0,
            "invalid argument \"loud\" for \"--log-level\" flag: possible values are debug, info, warn, error"
        );
        assert_eq!(
            mistake("box ps -n x").0,
            "invalid argument \"x\" for \"--last\" flag: invalid digit found in string"
        );
        assert_eq!(mistake("box ps -n").0, "flag needs an argument: --last");
        assert_eq!(mistake("box logs --tail").1, "box logs / ");
        assert_eq!(
            mistake("box --log-level info container ls x").1,
            "box container ls / "
        );
    }
}
