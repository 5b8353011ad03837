//! `box wait`: blocks until containers stop, then prints their exit codes.

use std::time::Duration;

use anyhow::Result;

use boxc::container::control::Waited;
use boxc::container::{Containers, Status};

use super::stop::{reach, Reach};
use super::{print, Ctx};

#[derive(clap::Args)]
pub struct Args {
    #[arg(required = true, value_name = "CONTAINER")]
    containers: Vec<String>,
}

/// The status printed when it is unknown: the shim died before recording one.
pub const UNKNOWN_EXIT: i32 = -1;

pub fn run(ctx: &Ctx, a: Args) -> Result<i32> {
    let containers = Containers::open(&ctx.dirs.data)?;
    let mut failed = false;
    for n in &a.containers {
        match wait_one(ctx, &containers, n) {
            Ok(code) => print(&format!("{code}\n")),
            Err(e) => {
                super::report(&e);
                failed = true;
            }
        }
    }
    Ok(if failed { super::EXIT_BOX_ERROR } else { 0 })
}

fn wait_one(ctx: &Ctx, containers: &Containers, name: &str) -> Result<i32> {
    let id = containers.resolve(name)?;
    let spec = containers.spec(&id)?;
    match reach(ctx, containers, &spec)? {
        Some(Reach::Socket(mut ctl)) => {
            // Before the container's first start the shim is not running it yet.
            if let Waited::Exited(code) = ctl.wait_exit(None) {
                return Ok(code);
            }
        }
        Some(Reach::Pid(_)) => {
            // Without the socket, the state tells: the next end the shim records, or
            // the shim's own.
            let finished = |c: &Containers| c.state(&id).ok().and_then(|s| s.finished_at);
            let before = finished(containers);
            while containers.shim_alive(&id) && finished(containers) == before {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        None => {}
    }
    let st = containers.current_state(&id)?;
    Ok(match st.status {
        Status::Created => 0,
        _ => st.exit_code.unwrap_or(UNKNOWN_EXIT),
    })
}
