//! `box port CONTAINER [PRIVATE_PORT[/PROTO]]`: the container's published ports.

use anyhow::{bail, Result};

use boxc::container::Containers;

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
    let host = |p: &boxc::network::PortMapping| {
        format!(
            "{}:{}",
            p.host_ip
                .map_or_else(|| "0.0.0.0".to_string(), |ip| ip.to_string()),
            p.host_port
        )
    };
    let Some(want) = &a.port else {
        let mut out = String::new();
        for p in &spec.ports {
            out.push_str(&format!(
                "{}/{} -> {}\n",
                p.container_port,
                p.proto.as_str(),
                host(p)
            ));
        }
        print(&out);
        return Ok(0);
    };
    let (num, proto) = want.split_once('/').unwrap_or((want, "tcp"));
    let found: Vec<String> = spec
        .ports
        .iter()
        .filter(|p| p.container_port.to_string() == num && p.proto.as_str() == proto)
        .map(|p| host(p) + "\n")
        .collect();
    if found.is_empty() {
        bail!("No public port '{num}/{proto}' published for {}", spec.name);
    }
    print(&found.concat());
    Ok(0)
}
