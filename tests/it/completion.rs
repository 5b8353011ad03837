//! Shell completion as each shell loads it (bash sourcing the script, zsh
//! autoloading `_box` from `$fpath` through `compinit`, fish sourcing it), man pages as
//! `man` renders them, and `box help`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::harness::*;

/// A checked-in completion script, copied where the test user can read it.
fn script(sb: &Sandbox, name: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("completions")
        .join(name);
    let dst = sb.dir.join(name);
    std::fs::copy(&src, &dst).unwrap();
    dst
}

/// `SHELL -c SCRIPT` as the sandbox's user, with its directories and box on `PATH`
/// (the scripts call `box` back).
fn shell(sb: &Sandbox, shell: &str, script: &str) -> Out {
    let envs: Vec<(String, String)> = sb
        .cmd(&[])
        .get_envs()
        .filter_map(|(k, v)| {
            Some((
                k.to_string_lossy().into_owned(),
                v?.to_string_lossy().into_owned(),
            ))
        })
        .collect();
    let mut c = if sb.user == User::Root {
        Command::new(shell)
    } else {
        let mut c = Command::new("setpriv");
        c.arg(format!("--reuid={}", sb.user.uid()))
            .arg(format!("--regid={}", sb.user.gid()))
            .arg("--init-groups")
            .arg(shell);
        c
    };
    c.arg("-c")
        .arg(script)
        .env_clear()
        .envs(envs)
        .env(
            "PATH",
            format!(
                "{}:/usr/local/bin:/usr/bin:/bin",
                box_bin().parent().unwrap().display()
            ),
        )
        .current_dir(&sb.dir)
        .stdin(Stdio::null());
    Out(c.output().unwrap(), format!("{shell} -c {script}"))
}

/// What bash's completion function offers with the cursor at the end of `line`, the
/// way bash calls it: COMP_* set, `$2` the word after the last word break.
fn bash_complete(sb: &Sandbox, line: &str) -> Vec<String> {
    let path = script(sb, "box.bash");
    let words: Vec<&str> = line.split(' ').collect();
    let cur = words.last().unwrap().rsplit([':', '=']).next().unwrap();
    let prev = words[words.len().saturating_sub(2)];
    let cmd = format!(
        r#"source {path}
COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}
COMP_WORDS=({words}); COMP_CWORD={cword}
_box box '{cur}' '{prev}'
printf '%s\n' "${{COMPREPLY[@]}}""#,
        path = path.display(),
        words = words
            .iter()
            .map(|w| format!("'{w}'"))
            .collect::<Vec<_>>()
            .join(" "),
        cword = words.len() - 1,
    );
    let out = shell(sb, "bash", &cmd);
    assert_eq!(out.code(), 0, "{}", out.both());
    out.stdout()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Drives an interactive zsh on a pseudo-terminal (zpty): `_box` autoloaded from
/// `$fpath` by `compinit`, as installed; each line typed, then TAB. `compadd`, the
/// builtin every completion function ends in, records the matches it is given;
/// Ctrl-X records the line as TAB left it.
const ZSH_DRIVER: &str = r#"zmodload zsh/zpty || exit 2
dir=$1; shift
zpty z zsh -f -i
zpty -w z "fpath=($dir/zfunc \$fpath); autoload -U compinit; compinit -u -d $dir/zcompdump"
zpty -w z 'compadd() { if (( ${@[(I)-[OAD]]} )); then builtin compadd "$@"; return; fi; local -a m; builtin compadd -O m "$@"; (( $#m )) && print -rl -- $m >> $OUT; builtin compadd "$@"; }'
zpty -w z 'dump() { print -r -- "$BUFFER" > $OUT.line; BUFFER=; }; zle -N dump; bindkey "^X" dump'
n=0
for line in "$@"; do
  n=$((n+1))
  zpty -w z "OUT=$dir/zout/$n"
  zpty -w -n z "$line"$'\t\x18'
  for i in {1..600}; do [[ -e $dir/zout/$n.line ]] && break; sleep 0.05; done
done
zpty -d z
"#;

/// For each line: the matches zsh's completion offered after it, and the line as
/// TAB left it.
fn zsh_complete(sb: &Sandbox, lines: &[&str]) -> Vec<(Vec<String>, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions/_box");
    sb.write("zfunc/_box", &std::fs::read_to_string(src).unwrap());
    sb.write("zout/.keep", "");
    sb.write("drive.zsh", ZSH_DRIVER);
    let quoted: Vec<String> = lines.iter().map(|l| format!("'{l}'")).collect();
    let out = shell(
        sb,
        "zsh",
        &format!(
            "zsh -f {}/drive.zsh {} {}",
            sb.dir.display(),
            sb.dir.display(),
            quoted.join(" ")
        ),
    );
    assert_eq!(out.code(), 0, "zsh driver:\n{}", out.both());
    (1..=lines.len())
        .map(|n| {
            let read = |f: String| std::fs::read_to_string(sb.dir.join("zout").join(f));
            let matches = read(n.to_string()).unwrap_or_default();
            let line = read(format!("{n}.line"))
                .unwrap_or_else(|_| panic!("zsh did not finish {:?}", lines[n - 1]));
            (
                matches.lines().map(str::to_string).collect(),
                line.trim_end_matches('\n').to_string(),
            )
        })
        .collect()
}

#[test]
fn completion_offers_names_in_bash_zsh_and_fish() {
    let sb = Sandbox::new(User::Sub);
    sb.ok(&["pull", "-q", &bb()]);
    sb.ok(&["network", "create", "app"]);
    sb.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "none",
        &bb(),
        "sleep",
        "300",
    ]);
    sb.ok(&["run", "--name", "old", "--network", "none", &bb(), "true"]);
    let has = |v: &[String], s: &str| v.iter().any(|x| x == s);

    let rm = bash_complete(&sb, "box rm ");
    assert!(has(&rm, "web") && has(&rm, "old"), "box rm: {rm:?}");
    let exec = bash_complete(&sb, "box exec ");
    assert!(
        has(&exec, "web") && !has(&exec, "old"),
        "box exec: {exec:?}"
    );
    let start = bash_complete(&sb, "box start ");
    assert!(
        has(&start, "old") && !has(&start, "web"),
        "box start: {start:?}"
    );
    let logs = bash_complete(&sb, "box logs w");
    assert_eq!(logs, ["web"]);
    // Only a running container has published ports.
    assert_eq!(bash_complete(&sb, "box port "), ["web"]);
    assert_eq!(bash_complete(&sb, "box container port "), ["web"]);
    assert_eq!(bash_complete(&sb, "box container top w"), ["web"]);
    let run = bash_complete(&sb, "box run ");
    assert!(has(&run, &bb()), "box run: {run:?}");
    assert!(!run.iter().any(|v| v.starts_with('-')), "no flags: {run:?}");
    assert!(has(&bash_complete(&sb, "box container run "), &bb()));
    let rmi = bash_complete(&sb, "box rmi ");
    assert!(has(&rmi, &bb()), "box rmi: {rmi:?}");
    // bash replaces only what follows the last `:`; box answers with just that.
    let tag = bash_complete(
        &sb,
        &format!("box run {}l", bb().trim_end_matches("latest")),
    );
    assert_eq!(tag, ["latest"], "repo:tag across bash's word breaks");
    assert_eq!(bash_complete(&sb, "box run --rest"), ["--restart"]);
    assert_eq!(bash_complete(&sb, "box run --pull=al"), ["always"]);
    let top = bash_complete(&sb, "box ");
    assert!(
        has(&top, "run") && has(&top, "system") && has(&top, "volume"),
        "{top:?}"
    );

    // Networks: the user's, and for --network the built-in modes and containers.
    let modes = bash_complete(&sb, "box run --network ");
    for m in ["app", "none", "host", "pasta", "slirp4netns"] {
        assert!(has(&modes, m), "run --network: {modes:?}");
    }
    assert_eq!(bash_complete(&sb, "box run --network a"), ["app"]);
    assert_eq!(bash_complete(&sb, "box run --network=a"), ["app"]);
    assert_eq!(
        bash_complete(&sb, "box run --network container:w"),
        ["web"],
        "bash replaces what follows the colon"
    );
    assert_eq!(bash_complete(&sb, "box network rm "), ["app"]);
    assert_eq!(bash_complete(&sb, "box network inspect a"), ["app"]);
    assert_eq!(bash_complete(&sb, "box network connect "), ["app"]);
    let members = bash_complete(&sb, "box network connect app ");
    assert!(has(&members, "web") && has(&members, "old"), "{members:?}");
    assert_eq!(bash_complete(&sb, "box network disconnect a"), ["app"]);

    // `help` completes the commands named so far.
    let sub = bash_complete(&sb, "box help container ");
    assert!(has(&sub, "ls") && has(&sub, "port"), "{sub:?}");
    assert!(!has(&sub, "container") && !has(&sub, "images"), "{sub:?}");
    assert_eq!(bash_complete(&sb, "box help system p"), ["prune"]);

    // zsh, with _box autoloaded from $fpath by compinit.
    let z = zsh_complete(
        &sb,
        &[
            "box exec ",
            "box run ",
            &format!("box run {}l", bb().trim_end_matches("latest")),
            "box network rm ",
            "box help container po",
            "box ps --al",
        ],
    );
    assert!(
        has(&z[0].0, "web") && !has(&z[0].0, "old"),
        "zsh: box exec: {:?}",
        z[0]
    );
    assert_eq!(z[0].1, "box exec web ", "one running container: completed");
    assert!(has(&z[1].0, &bb()), "zsh: box run: {:?}", z[1]);
    assert!(!z[1].0.iter().any(|v| v.starts_with('-')), "{:?}", z[1]);
    assert_eq!(z[2].1, format!("box run {} ", bb()), "zsh: repo:tag");
    assert_eq!(z[3].1, "box network rm app ", "zsh: {:?}", z[3]);
    assert_eq!(z[4].1, "box help container port ", "zsh: {:?}", z[4]);
    assert_eq!(z[5].1, "box ps --all ", "zsh: {:?}", z[5]);

    let fish = script(&sb, "box.fish");
    let out = shell(
        &sb,
        "fish",
        &format!("source {}; complete -C 'box rm '", fish.display()),
    );
    assert_eq!(out.code(), 0, "{}", out.both());
    let fish_out = out.stdout();
    assert!(
        fish_out.lines().any(|l| l.starts_with("web\t")) && fish_out.contains("old\t"),
        "fish: box rm:\n{}",
        out.both()
    );
    let out = shell(
        &sb,
        "fish",
        &format!("source {}; complete -C 'box run --rest'", fish.display()),
    );
    assert!(out.stdout().starts_with("--restart"), "{}", out.both());
    let out = shell(
        &sb,
        "fish",
        &format!("source {}; complete -C 'box network rm '", fish.display()),
    );
    assert!(out.stdout().starts_with("app"), "{}", out.both());
}

#[test]
fn completion_scripts_are_what_box_prints() {
    let sb = Sandbox::new(User::NoSub);
    for (shell, file) in [("bash", "box.bash"), ("zsh", "_box"), ("fish", "box.fish")] {
        let printed = sb.ok(&["completion", shell]).stdout();
        let checked_in = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("completions")
                .join(file),
        )
        .unwrap();
        assert_eq!(printed, checked_in, "{file}");
    }
}

/// Every page renders with groff's warnings on, and has the command's flags and
/// examples.
#[test]
fn man_pages_render_without_warnings() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "1"))
        .collect();
    pages.sort();
    assert!(pages.len() > 60, "{pages:?}");
    for page in &pages {
        let out = Command::new("man")
            .arg("--warnings=w")
            .arg("-l")
            .arg(page)
            .env("MANWIDTH", "80")
            .stdin(Stdio::null())
            .output()
            .expect("man runs (tests/run.sh installs man-db)");
        let text = String::from_utf8_lossy(&out.stdout);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{}: {err}", page.display());
        assert_eq!(err, "", "{}: groff warns", page.display());
        for section in ["NAME", "SYNOPSIS", "OPTIONS", "EXAMPLES"] {
            assert!(
                text.lines().any(|l| l == section),
                "{}: no {section}:\n{text}",
                page.display()
            );
        }
        // `box-container-ls.1` shows `box container ls ...`.
        let name = page
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .replace('-', " ");
        let examples = &text[text.find("\nEXAMPLES\n").unwrap()..];
        assert!(
            examples.contains(&format!("{name} ")) || examples.contains(&format!("{name}\n")),
            "{}: no example of {name}:\n{examples}",
            page.display()
        );
    }
    // The flags, and examples of --format and info -f.
    let read = |name: &str| {
        let out = Command::new("man")
            .arg("-l")
            .arg(dir.join(format!("{name}.1")))
            .env("MANWIDTH", "200")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let ps = read("box-ps");
    assert!(ps.contains("--format") && ps.contains("-s, --size"), "{ps}");
    assert!(
        ps.contains("box ps --format '{{.Names}}\\t{{.Status}}'"),
        "{ps}"
    );
    assert!(read("box-info").contains("box info -f '{{.Driver}}"));
    assert!(read("box-system-info").contains("box system info -f '{{.Driver}}"));
    assert!(read("box-inspect").contains("box inspect -f '{{.State.Status}}' web"));
    assert!(read("box-container-top").contains("box container top web"));
    assert!(read("box-volume").contains("Not implemented yet"));
}

#[test]
fn help_is_the_commands_own() {
    let sb = Sandbox::new(User::NoSub);
    for path in [&["run"][..], &["container", "ls"], &["system", "df"], &[]] {
        let mut help = vec!["help"];
        help.extend_from_slice(path);
        let mut own = path.to_vec();
        own.push("--help");
        let a = sb.ok(&help).stdout();
        assert_eq!(a, sb.ok(&own).stdout(), "box help {path:?}");
        assert!(a.contains("Usage: box"), "{a}");
    }
    assert!(sb.ok(&["help", "run"]).stdout().contains("Examples:"));
    sb.run(&["help", "frobnicate"])
        .fails_with("unknown command \"frobnicate\" for \"box\"");
    sb.run(&["help", "container", "frob"])
        .fails_with("unknown command \"frob\" for \"box container\"");
    // Aliases are the same command, with the same page.
    let alias = sb.ok(&["help", "container", "top"]).stdout();
    assert!(alias.contains("Usage: box container top"), "{alias}");
    assert!(alias.contains("box container top web"), "{alias}");
}
