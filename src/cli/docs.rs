//! Shell completions and man pages, generated from the clap definitions alone, and
//! the test that keeps the checked-in copies in `completions/` and `man/` current.

use anyhow::Result;
use clap::CommandFactory;
use clap_complete::Shell;

use super::Cli;

#[derive(clap::Args)]
pub struct CompletionArgs {
    /// bash, zsh or fish
    #[arg(value_parser = ["bash", "zsh", "fish"])]
    shell: String,
}

pub fn completion(a: &CompletionArgs) -> Result<i32> {
    let script = completion_script(&a.shell);
    super::print(&script);
    Ok(0)
}

fn completion_script(shell: &str) -> String {
    let shell = match shell {
        "bash" => Shell::Bash,
        "zsh" => Shell::Zsh,
        _ => Shell::Fish,
    };
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "box", &mut buf);
    String::from_utf8(buf).expect("completion scripts are UTF-8")
}

#[cfg(test)]
/// `box.1` and one page per command (`box-pull.1`, `box-image-inspect.1`, ...).
fn man_pages() -> Vec<(String, Vec<u8>)> {
    let mut pages = Vec::new();
    let cmd = Cli::command();
    render(&cmd, "box", &mut pages);
    pages
}

#[cfg(test)]
fn render(cmd: &clap::Command, name: &str, pages: &mut Vec<(String, Vec<u8>)>) {
    let mut buf = Vec::new();
    let page = cmd
        .clone()
        .name(name.to_string())
        .display_name(name.replace('-', " "));
    clap_mangen::Man::new(page)
        .render(&mut buf)
        .expect("man page renders");
    pages.push((format!("{name}.1"), buf));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        render(sub, &format!("{name}-{}", sub.get_name()), pages);
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
                completion_script("bash").into_bytes(),
            ),
            (
                root.join("completions/_box"),
                completion_script("zsh").into_bytes(),
            ),
            (
                root.join("completions/box.fish"),
                completion_script("fish").into_bytes(),
            ),
        ];
        for (name, bytes) in man_pages() {
            files.push((root.join("man").join(name), bytes));
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
