//! `box cp [-L] CONTAINER:SRC_PATH DEST_PATH|-` and `box cp [-L] SRC_PATH|-
//! CONTAINER:DEST_PATH`: Docker's argument rules here, the copying in
//! `boxc::runtime::cp`.

use std::time::Duration;

use anyhow::{bail, Result};

use boxc::container::{ContainerError, Containers};
use boxc::runtime::cp::{self, LocalDest, LocalSrc, Target};

use super::Ctx;

#[derive(clap::Args)]
#[command(
    override_usage = "box cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n       box cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
    long_about = "Copy files/folders between a container and the local filesystem.\n\nUse '-' as the source to read a tar archive from stdin and extract it to a directory destination in a container. Use '-' as the destination to stream a tar archive of a container source to stdout. Works on running and stopped containers; paths in the container resolve inside it, symlinks included."
)]
pub struct Args {
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long = "follow-link")]
    follow_link: bool,
    /// CONTAINER:SRC_PATH, a local path, or - for a tar archive on stdin
    #[arg(value_name = "SRC_PATH", allow_hyphen_values = true)]
    src: String,
    /// CONTAINER:DEST_PATH, a local path, or - for a tar archive on stdout
    #[arg(value_name = "DEST_PATH", allow_hyphen_values = true)]
    dest: String,
}

/// Docker's reading of a cp argument: `NAME:PATH` names a container unless the
/// argument is an absolute path or starts with `.` (`./a:b` is a local file).
fn split(arg: &str) -> (Option<&str>, &str) {
    if arg.starts_with('/') {
        return (None, arg);
    }
    match arg.split_once(':') {
        Some((c, p)) if !c.starts_with('.') => (Some(c), p),
        _ => (None, arg),
    }
}

/// Paths in a container are relative to its root (`c1:` is the root itself).
fn in_container(path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    }
}

pub fn run(ctx: &Ctx, a: Args) -> Result<i32> {
    let (src_c, src_p) = split(&a.src);
    let (dst_c, dst_p) = split(&a.dest);
    match (src_c, dst_c) {
        (Some(_), Some(_)) => bail!("copying between containers is not supported"),
        (None, None) => bail!("must specify at least one container source"),
        _ => {}
    }
    if (src_c.is_none() && src_p.is_empty()) || (dst_c.is_none() && dst_p.is_empty()) {
        bail!("empty local path: give a path or -");
    }
    let containers = Containers::open(&ctx.dirs.data)?;
    let name = src_c.or(dst_c).expect("one side is a container");
    let id = containers.resolve(name)?;
    let spec = containers.spec(&id)?;
    // A stopped container is held for the copy, so that no shim mounts its upper
    // directory meanwhile; a running one is entered through its namespaces.
    containers.settle(&id);
    let lock = match containers.hold_stopped(&id, Duration::from_secs(30)) {
        Ok(l) => l,
        Err(ContainerError::Busy(_)) => {
            bail!("container {name} is busy: another box command holds it")
        }
        Err(e) => return Err(e.into()),
    };
    let running = match lock {
        Some(_) => None,
        None => {
            let st = containers.current_state(&id)?;
            match (st.is_live(), st.pid) {
                (true, Some(pid)) => Some((pid, st.shim_pid)),
                (true, None) => {
                    bail!("container {name} is restarting: try again once it runs")
                }
                // Its shim is starting.
                (false, _) => bail!("container {name} is starting: try again once it runs"),
            }
        }
    };
    let target = Target {
        spec: &spec,
        name,
        running,
    };
    if src_c.is_some() {
        let src = in_container(src_p);
        if dst_p == "-" {
            let mut out = std::io::stdout().lock();
            match cp::copy_out(&target, &src, a.follow_link, LocalDest::Stream(&mut out)) {
                // `box cp c:/dir - | tar t | head`: no one reads any more; not an error.
                Err(e) if e.is_broken_pipe() => {}
                r => r?,
            }
        } else {
            let dest = std::path::Path::new(dst_p);
            cp::copy_out(&target, &src, a.follow_link, LocalDest::Path(dest))?;
        }
    } else {
        let dest = in_container(dst_p);
        if src_p == "-" {
            let mut input = std::io::stdin().lock();
            cp::copy_in(&target, LocalSrc::Stream(&mut input), false, &dest)?;
        } else {
            let src = std::path::Path::new(src_p);
            cp::copy_in(&target, LocalSrc::Path(src), a.follow_link, &dest)?;
        }
    }
    drop(lock);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn container_or_local() {
        assert_eq!(split("c1:/etc"), (Some("c1"), "/etc"));
        assert_eq!(split("c1:"), (Some("c1"), ""));
        assert_eq!(split("/abs:x"), (None, "/abs:x"));
        assert_eq!(split("./a:b"), (None, "./a:b"));
        assert_eq!(split("local"), (None, "local"));
        assert_eq!(split("-"), (None, "-"));
    }
}
