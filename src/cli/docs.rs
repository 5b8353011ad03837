//! Shell completions and man pages, generated from the clap definitions alone, and
//! the test that keeps the checked-in copies in `completions/` and `man/` current.

use anyhow::Result;
use clap::CommandFactory;

use super::{complete, help, Cli};

#[derive(clap::Args)]
pub struct CompletionArgs {
    /// bash, zsh or fish
    #[arg(value_parser = ["bash", "zsh", "fish"])]
    shell: String,
}

pub fn completion(a: &CompletionArgs) -> Result<i32> {
    super::print(&complete::registration(&a.shell));
    Ok(0)
}

/// The whole command line: the clap definition with the examples that `--help` shows
/// and the completers of names. Parsing, help, completion and man pages all use it.
pub fn command() -> clap::Command {
    complete::attach(help::with_examples(Cli::command()))
}

#[cfg(test)]
/// `box.1` and one page per command (`box-pull.1`, `box-image-inspect.1`, ...).
fn man_pages() -> Vec<(String, Vec<u8>)> {
    let mut pages = Vec::new();
    let mut cmd = command();
    cmd.build();
    render(&cmd, "box", "", &mut pages);
    pages
}

/// One page: clap_mangen's sections, then EXAMPLES before VERSION. clap_mangen would
/// print `after_long_help` as one filled paragraph under "EXTRA", which mangles
/// command lines, so the examples are set here, each line as it is typed.
#[cfg(test)]
fn render(cmd: &clap::Command, name: &str, path: &str, pages: &mut Vec<(String, Vec<u8>)>) {
    let mut page = cmd
        .clone()
        .name(name.to_string())
        .bin_name(name.replace('-', " "));
    // Shown as EXAMPLES below, not as EXTRA.
    page = page.after_long_help(None::<&str>).after_help(None::<&str>);
    let mut buf = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut buf)
        .expect("man page renders");
    let mut text = String::from_utf8(buf).expect("man pages are UTF-8");
    let ex = help::examples(path);
    if !ex.is_empty() {
        let section = examples_roff(&ex);
        match text.find(".SH VERSION") {
            Some(at) => text.insert_str(at, &section),
            None => text.push_str(&section),
        }
    }
    pages.push((format!("{name}.1"), text.into_bytes()));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let sub_path = if path.is_empty() {
            sub.get_name().to_string()
        } else {
            format!("{path} {}", sub.get_name())
        };
        render(sub, &format!("{name}-{}", sub.get_name()), &sub_path, pages);
    }
}

#[cfg(test)]
fn examples_roff(ex: &[(&str, String)]) -> String {
    let mut s = String::from(".SH EXAMPLES\n");
    for (what, line) in ex {
        s.push_str(&format!(
            ".PP\n{}:\n.RS 4\n.nf\n{}\n.fi\n.RE\n",
            roff_escape(what),
            roff_escape(line)
        ));
    }
    s
}

/// Text as roff reads it literally: backslashes, dashes and quotes escaped (groff
/// would print a typographic quote that a copied command cannot use), and no line
/// that starts like a request.
#[cfg(test)]
fn roff_escape(s: &str) -> String {
    let e = s
        .replace('\\', "\\e")
        .replace('-', "\\-")
        .replace('\'', "\\(aq")
        .replace('`', "\\(ga");
    if e.starts_with(['.', '\'']) {
        format!("\\&{e}")
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Fails when `completions/` or `man/` differ from what the binary generates;
    /// `BOX_UPDATE_DOCS=1 cargo test` rewrites them.
    #[test]
    fn checked_in_docs_are_current() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files: Vec<(std::path::PathBuf, Vec<u8>)> = vec![
            (
                root.join("completions/box.bash"),
                complete::registration("bash").into_bytes(),
            ),
            (
                root.join("completions/_box"),
                complete::registration("zsh").into_bytes(),
            ),
            (
                root.join("completions/box.fish"),
                complete::registration("fish").into_bytes(),
            ),
        ];
        for (name, bytes) in man_pages() {
            files.push((root.join("man").join(name), bytes));
        }
        for (name, bytes) in man_pages() {
            let text = String::from_utf8(bytes).unwrap();
            assert!(text.contains("\n.SH EXAMPLES\n"), "{name} has no EXAMPLES");
        }
        let update = std::env::var_os("BOX_UPDATE_DOCS").is_some();
        let mut stale = Vec::new();
        for (path, want) in &files {
            if std::fs::read(path).ok().as_deref() != Some(want.as_slice()) {
                if update {
                    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                    std::fs::write(path, want).unwrap();
                } else {
                    stale.push(path.display().to_string());
                }
            }
        }
        for dir in ["man"] {
            for e in std::fs::read_dir(root.join(dir))
                .into_iter()
                .flatten()
                .flatten()
            {
                if !files.iter().any(|(p, _)| *p == e.path()) {
                    if update {
                        std::fs::remove_file(e.path()).unwrap();
                    } else {
                        stale.push(format!("{} (no longer generated)", e.path().display()));
                    }
                }
            }
        }
        assert!(
            stale.is_empty(),
            "stale generated docs (run BOX_UPDATE_DOCS=1 cargo test): {stale:?}"
        );
    }
}
