//! `box port CONTAINER [PRIVATE_PORT[/PROTO]]`: the container's published ports, while
//! it runs (as Docker's: a stopped container's helper forwards nothing).

use anyhow::{bail, Result};

use boxc::container::{Containers, Status};

use super::{print, Ctx};

#[derive(clap::Args)]
pub struct Args {
    container: String,
    /// Only this container port (e.g. 80 or 53/udp)
    #[arg(value_name = "PRIVATE_PORT[/PROTO]")]
    port: Option<String>,
}

pub fn run(ctx: &Ctx, a: Args) -> Result<i32> {
    let containers = Containers::open(&ctx.dirs.data)?;
    let id = containers.resolve(&a.container)?;
    let spec = containers.spec(&id)?;
    let running = containers.current_state(&id)?.status == Status::Running;
    let ports: &[boxc::network::PortMapping] = if running { &spec.ports } else { &[] };
    let Some(want) = &a.port else {
        let mut out = String::new();
        for p in ports {
            out.push_str(&format!(
                "{}/{} -> {}\n",
                p.container_port,
                p.proto.as_str(),
                p.host()
            ));
        }
        print(&out);
        return Ok(0);
    };
    let (num, proto) = want.split_once('/').unwrap_or((want, "tcp"));
    let found: Vec<String> = ports
        .iter()
        .filter(|p| p.container_port.to_string() == num && p.proto.as_str() == proto)
        .map(|p| p.host() + "\n")
        .collect();
    if found.is_empty() {
        bail!("No public port '{num}/{proto}' published for {}", spec.name);
    }
    print(&found.concat());
    Ok(0)
}
