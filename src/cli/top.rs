//! `box top CONTAINER [ps OPTIONS]`: the host's `ps`, cut down to the container's
//! processes, as Docker's daemon does it: run `ps` with the options given (`-ef` by
//! default), find its PID column, keep the rows whose pid is in the container's pid
//! namespace.

use std::collections::HashSet;
use std::process::Command;

use anyhow::{bail, Context, Result};

use boxc::container::Containers;
use boxc::runtime::idmap::find_program;
use boxc::runtime::procs;

use super::Ctx;

#[derive(clap::Args)]
#[command(override_usage = "box top CONTAINER [ps OPTIONS]")]
pub struct Args {
    container: String,
    /// Options for ps (default: -ef)
    #[arg(
        value_name = "ps OPTIONS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    ps_options: Vec<String>,
}

pub fn run(ctx: &Ctx, a: Args) -> Result<i32> {
    let containers = Containers::open(&ctx.dirs.data)?;
    let id = containers.resolve(&a.container)?;
    let spec = containers.spec(&id)?;
    let st = containers.current_state(&id)?;
    let pid = match (st.is_live(), st.pid) {
        (true, Some(pid)) => pid,
        _ => bail!("container {} is not running", spec.name),
    };
    let pids: HashSet<i32> = procs::in_pid_namespace_of(pid)?.into_iter().collect();
    let ps = find_program("ps")
        .context("ps not found on PATH: box top runs the host's ps (install the procps package)")?;
    // Docker passes the options as one string split on spaces: `box top c "-o pid,comm"`
    // and `box top c -o pid,comm` are the same.
    let joined = a.ps_options.join(" ");
    let mut opts: Vec<&str> = joined.split_whitespace().collect();
    if opts.is_empty() {
        opts.push("-ef");
    }
    let out = Command::new(&ps)
        .args(&opts)
        .output()
        .with_context(|| format!("run {}", ps.display()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        bail!(
            "ps {} failed: {}",
            opts.join(" "),
            err.lines().next().unwrap_or("").trim()
        );
    }
    let table = filter(&String::from_utf8_lossy(&out.stdout), &pids)?;
    super::print(&render(&table));
    Ok(0)
}

/// The header's titles and the rows of the container's processes, each cut into as
/// many cells as there are titles (the last one keeps its spaces: a command line).
fn filter(ps: &str, pids: &HashSet<i32>) -> Result<Vec<Vec<String>>> {
    let mut lines = ps.lines();
    let titles: Vec<String> = lines
        .next()
        .unwrap_or("")
        .split_whitespace()
        .map(String::from)
        .collect();
    let Some(col) = titles.iter().position(|t| t == "PID") else {
        bail!("couldn't find the PID field in the output of ps: give options that show it");
    };
    let mut table = vec![titles.clone()];
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(pid) = fields.get(col) else {
            bail!("unexpected ps output: no PID in {line:?}");
        };
        let pid: i32 = pid
            .parse()
            .with_context(|| format!("unexpected ps output: PID {pid:?} in {line:?}"))?;
        if !pids.contains(&pid) {
            continue;
        }
        let last = titles.len().saturating_sub(1).min(fields.len());
        let mut row: Vec<String> = fields[..last].iter().map(|s| s.to_string()).collect();
        row.push(fields[last..].join(" "));
        table.push(row);
    }
    Ok(table)
}

/// Columns as Docker's CLI prints them (Go's tabwriter: at least 20 wide, 3 spaces
/// of padding; the last column as it is).
fn render(table: &[Vec<String>]) -> String {
    let cols = table.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for row in table {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in table {
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                out.push_str(cell);
            } else {
                let w = (widths[i] + 3).max(20);
                out.push_str(cell);
                out.extend(std::iter::repeat_n(' ', w - cell.chars().count()));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_header_and_the_containers_rows() {
        let ps = "UID          PID    PPID  C STIME TTY          TIME CMD\n\
                  root           1       0  0 10:00 ?        00:00:01 /sbin/init splash\n\
                  user         200     150  0 10:01 ?        00:00:00 sleep 1000\n";
        let pids: HashSet<i32> = [200].into_iter().collect();
        let t = filter(ps, &pids).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[1][1], "200");
        assert_eq!(t[1][7], "sleep 1000");
        let text = render(&t);
        assert!(text.starts_with("UID                 PID                 PPID"));
        assert!(text.ends_with("sleep 1000\n"));
        assert!(filter("  COMMAND\n", &pids).is_err());
    }
}
