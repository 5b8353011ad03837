//! The three shells' sides of completion: the stubs `box completion SHELL` prints,
//! and how each shell's request is read and answered (all from `candidates`).

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;

use clap::Command;
use clap_complete::engine::CompletionCandidate;
use clap_complete::env::{EnvCompleter, Fish};

use super::candidates;

fn help_line(c: &CompletionCandidate) -> Option<String> {
    c.get_help()
        .map(|h| h.to_string().lines().next().unwrap_or_default().to_string())
        .filter(|h| !h.is_empty())
}

/// Values that the user goes on typing after (a directory, `CONTAINER:`, `--opt=`):
/// no space after them.
fn continues(value: &str) -> bool {
    value.ends_with(['/', ':', '='])
}

/// A stub with box's names in: the variable, the binary, the program to ask.
fn stub(script: &str, var: &str, bin: &str, completer: &str) -> Vec<u8> {
    script
        .replace("VAR", var)
        .replace("COMPLETER", completer)
        .replace("BIN", bin)
        .into_bytes()
}

pub(super) struct Bash;

impl EnvCompleter for Bash {
    fn name(&self) -> &'static str {
        "bash"
    }
    fn is(&self, name: &str) -> bool {
        name == "bash"
    }
    fn write_registration(
        &self,
        var: &str,
        _name: &str,
        bin: &str,
        completer: &str,
        buf: &mut dyn Write,
    ) -> std::io::Result<()> {
        let script = r#"# bash completion for box(1), from `box completion bash`. box itself answers
# each TAB (VAR=bash box -- LINE WORD), from its flags and the user's own
# containers and images; bash's COMP_WORDS are not used, since bash splits
# repo:tag and --opt=value apart.
_box() {
    local IFS=$'\013'
    COMPREPLY=($(VAR=bash "COMPLETER" -- "${COMP_LINE:0:COMP_POINT}" "$2" 2>/dev/null))
    if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *[/:=] ]]; then
        compopt -o nospace 2>/dev/null
    fi
    return 0
}
complete -o nosort -F _box BIN 2>/dev/null || complete -F _box BIN
"#;
        buf.write_all(&stub(script, var, bin, completer))
    }
    fn write_complete(
        &self,
        cmd: &mut Command,
        args: Vec<OsString>,
        current_dir: Option<&Path>,
        buf: &mut dyn Write,
    ) -> std::io::Result<()> {
        let line = args.first().map(|a| a.to_string_lossy().into_owned());
        let bash_word = args.get(1).map(|a| a.to_string_lossy().into_owned());
        let (words, typed) = split_line(&line.unwrap_or_default());
        let bash_word = bash_word.unwrap_or_default();
        // Bash replaces only its own last word, which starts after the last `:` or `=`;
        // what comes before it in the word as typed stays and is cut off the answers.
        let keep = typed
            .strip_suffix(bash_word.as_str())
            .unwrap_or_default()
            .to_string();
        let quoted = typed.starts_with(['\'', '"']);
        let index = words.len() - 1;
        let mut first = true;
        for c in candidates(cmd, words, index, current_dir) {
            let value = c.get_value().to_string_lossy();
            let Some(rest) = value.strip_prefix(keep.as_str()) else {
                continue;
            };
            if !first {
                buf.write_all(b"\x0b")?;
            }
            first = false;
            let rest = if quoted {
                rest.to_string()
            } else {
                bash_escape(rest)
            };
            buf.write_all(rest.as_bytes())?;
        }
        Ok(())
    }
}

/// Backslashes before what the shell would otherwise read as syntax (a space in a path).
fn bash_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if " \t\n'\"\\$`()&;|<>*?[]!#{}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Splits the command line up to the cursor as the shell would, as far as completion
/// needs: the words without their quotes and backslashes, the last one being the word
/// completed ("" after a space), and that last word as typed.
pub(in crate::cli) fn split_line(line: &str) -> (Vec<String>, String) {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut typed = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, ' ' | '\t' | '\n') => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    typed.clear();
                    in_word = false;
                }
                continue;
            }
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None | Some('"'), '\\') => {
                typed.push(c);
                if let Some(next) = chars.next() {
                    typed.push(next);
                    word.push(next);
                }
                in_word = true;
                continue;
            }
            _ => word.push(c),
        }
        typed.push(c);
        in_word = true;
    }
    words.push(word);
    (words, typed)
}

pub(super) struct Zsh;

impl EnvCompleter for Zsh {
    fn name(&self) -> &'static str {
        "zsh"
    }
    fn is(&self, name: &str) -> bool {
        name == "zsh"
    }
    fn write_registration(
        &self,
        var: &str,
        _name: &str,
        bin: &str,
        completer: &str,
        buf: &mut dyn Write,
    ) -> std::io::Result<()> {
        let script = r#"#compdef BIN
# zsh completion for box(1), from `box completion zsh`. box itself answers
# each TAB (VAR=zsh box -- WORDS), from its flags and the user's own
# containers and images. Works sourced and autoloaded from $fpath.
_box() {
    local -a answers spaced unspaced
    local a
    answers=("${(@f)$(VAR=zsh _CLAP_COMPLETE_INDEX=$((CURRENT - 1)) "COMPLETER" -- "${words[@]}" 2>/dev/null)}")
    for a in "${answers[@]}"; do
        case $a in
            S*) spaced+=("${a#S}") ;;
            N*) unspaced+=("${a#N}") ;;
        esac
    done
    (( ${#spaced} )) && _describe -V values spaced
    (( ${#unspaced} )) && _describe -V values unspaced -S ''
    return 0
}
if [ "$funcstack[1]" = "_box" ]; then
    _box "$@"
else
    compdef _box BIN
fi
"#;
        buf.write_all(&stub(script, var, bin, completer))
    }
    fn write_complete(
        &self,
        cmd: &mut Command,
        args: Vec<OsString>,
        current_dir: Option<&Path>,
        buf: &mut dyn Write,
    ) -> std::io::Result<()> {
        let index: usize = std::env::var("_CLAP_COMPLETE_INDEX")
            .ok()
            .and_then(|i| i.parse().ok())
            .unwrap_or(args.len().saturating_sub(1));
        let words = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        for c in candidates(cmd, words, index, current_dir) {
            let value = c.get_value().to_string_lossy();
            // One answer a line: S or N (space after it or not), the value with `:`
            // escaped for _describe, then `:help`.
            let mut line = String::from(if continues(&value) { "N" } else { "S" });
            line.push_str(&value.replace('\\', "\\\\").replace(':', "\\:"));
            if let Some(h) = help_line(&c) {
                line.push(':');
                line.push_str(&h);
            }
            line.push('\n');
            buf.write_all(line.as_bytes())?;
        }
        Ok(())
    }
}

/// clap's fish stub, with box's answers.
pub(super) struct FishShell;

impl EnvCompleter for FishShell {
    fn name(&self) -> &'static str {
        "fish"
    }
    fn is(&self, name: &str) -> bool {
        name == "fish"
    }
    fn write_registration(
        &self,
        var: &str,
        name: &str,
        bin: &str,
        completer: &str,
        buf: &mut dyn Write,
    ) -> std::io::Result<()> {
        writeln!(
            buf,
            "# fish completion for box(1), from `box completion fish`. box itself answers\n\
             # each TAB ({var}=fish box -- WORDS), from its flags and the user's own\n\
             # containers and images."
        )?;
        Fish.write_registration(var, name, bin, completer, buf)
    }
    fn write_complete(
        &self,
        cmd: &mut Command,
        args: Vec<OsString>,
        current_dir: Option<&Path>,
        buf: &mut dyn Write,
    ) -> std::io::Result<()> {
        let index = args.len().saturating_sub(1);
        let words = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        for c in candidates(cmd, words, index, current_dir) {
            let mut line = c.get_value().to_string_lossy().into_owned();
            if let Some(h) = help_line(&c) {
                line.push('\t');
                line.push_str(&h);
            }
            line.push('\n');
            buf.write_all(line.as_bytes())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_as_the_shell_does() {
        let (w, t) = split_line("box run --name=x 'a b' busybox:1");
        assert_eq!(w, ["box", "run", "--name=x", "a b", "busybox:1"]);
        assert_eq!(t, "busybox:1");
        let (w, t) = split_line("box rm ");
        assert_eq!(w, ["box", "rm", ""]);
        assert_eq!(t, "");
        let (w, t) = split_line(r"box cp my\ fi");
        assert_eq!(w, ["box", "cp", "my fi"]);
        assert_eq!(t, r"my\ fi");
        let (w, _) = split_line("box rm 'unfinished");
        assert_eq!(w, ["box", "rm", "unfinished"]);
    }
}
