//! Starting the user-mode network helper for a container's network namespace, from the
//! shim, after the namespace's id maps are written and before the container's command
//! runs (so its network is up when it starts).
//!
//! - `pasta` joins the container's user and network namespaces by its pid, configures
//!   the interface (the host's addresses and routes, copied), forwards published
//!   ports, and forwards DNS from 169.254.1.1 to the host's resolver. It stays in the
//!   foreground as the shim's child and dies with it. The container reaches
//!   the host's own loopback only with `host_loopback` (pasta's gateway mapping).
//! - `slirp4netns` stays in the foreground: it says "ready" on a pipe and exits when
//!   the shim's end of another pipe closes, however the shim ends. Ports are added
//!   through its API socket.

use std::io::{Read, Write};
use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use thiserror::Error;

use super::{Network, PortMapping, Proto};
use crate::runtime::idmap::find_program;

/// The address pasta answers DNS on (forwarded to the host's first resolver).
pub const PASTA_DNS: &str = "169.254.1.1";
/// slirp4netns's built-in resolver and host gateway, on its default 10.0.2.0/24.
pub const SLIRP_DNS: &str = "10.0.2.3";
pub const SLIRP_GATEWAY: &str = "10.0.2.2";

#[derive(Debug, Error)]
pub enum HelperError {
    #[error("{0} not found on PATH: install the {1} package, or use --network none")]
    Missing(&'static str, &'static str),
    #[error("cannot start {0}: {1}")]
    Spawn(&'static str, std::io::Error),
    #[error("{0} could not set up the container's network: {1}")]
    Failed(&'static str, String),
}

/// What a container's network needs from its helper.
pub struct Request<'a> {
    pub network: Network,
    /// The container's first process: its namespaces are the helper's target.
    pub pid: i32,
    /// Whether the container has a user namespace of its own (not when box runs as
    /// root with the host's ids).
    pub userns: bool,
    pub ports: &'a [PortMapping],
    pub host_loopback: bool,
    /// Where the helper may keep a pid file or a socket.
    pub runtime_dir: &'a Path,
    /// The name of the helper's interface, when the container's user networks have
    /// taken `ethN` (pasta's default is the host's interface name).
    pub ifname: Option<&'a str>,
}

/// A running helper; ended by [`Helper::stop`] or by the namespace going away.
pub struct Helper {
    pid: Option<nix::unistd::Pid>,
    /// slirp4netns exits when this closes.
    _exit: Option<OwnedFd>,
}

impl Helper {
    /// Tells the helper to end, without waiting: the kernel's teardown of its tap
    /// device as it exits takes 15-50 ms, which the container's exit status need not
    /// wait for. [`Helper::stop`] reaps it afterwards.
    pub fn kill(&self) {
        if let Some(p) = self.pid {
            let _ = nix::sys::signal::kill(p, nix::sys::signal::Signal::SIGKILL);
        }
    }

    /// Ends the helper and reaps it (it is the shim's child), so that its ports are
    /// free. Nothing is lost: its container is gone.
    pub fn stop(self) {
        if let Some(p) = self.pid {
            let _ = nix::sys::signal::kill(p, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(p, None);
        }
    }
}

/// Starts the helper the network asks for; `None` for networks without one.
pub fn start(req: &Request) -> Result<Option<Helper>, HelperError> {
    match req.network {
        Network::Pasta => pasta(req).map(Some),
        Network::Slirp4netns => slirp4netns(req).map(Some),
        Network::None | Network::Host | Network::Container => Ok(None),
    }
}

/// pasta's `-t`/`-u` value for the mappings of one protocol.
fn pasta_ports(ports: &[PortMapping], proto: Proto) -> String {
    let specs: Vec<String> = ports
        .iter()
        .filter(|m| m.proto == proto)
        .map(|m| match m.host_ip {
            Some(ip) => format!("{ip}/{}:{}", m.host_port, m.container_port),
            None => format!("{}:{}", m.host_port, m.container_port),
        })
        .collect();
    if specs.is_empty() {
        "none".into()
    } else {
        specs.join(",")
    }
}

fn pasta(req: &Request) -> Result<Helper, HelperError> {
    let prog = find_program("pasta").ok_or(HelperError::Missing("pasta", "passt"))?;
    let mut cmd = Command::new(prog);
    // In the foreground, as the shim's child: it dies with the shim (this version of
    // pasta does not notice the namespace going away by itself).
    cmd.args([
        "--config-net",
        "--quiet",
        "--foreground",
        "-T",
        "none",
        "-U",
        "none",
    ])
    .args(["--dns-forward", PASTA_DNS])
    .arg("-t")
    .arg(pasta_ports(req.ports, Proto::Tcp))
    .arg("-u")
    .arg(pasta_ports(req.ports, Proto::Udp));
    if !req.host_loopback {
        cmd.arg("--no-map-gw");
    }
    if let Some(i) = req.ifname {
        cmd.args(["-I", i]);
    }
    cmd.arg(req.pid.to_string());
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0);
    crate::sys::die_with_parent(&mut cmd);
    let mut child = cmd.spawn().map_err(|e| HelperError::Spawn("pasta", e))?;
    // Configured once the namespace has its default route (pasta adds routes last).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if has_default_route(req.pid) {
            break;
        }
        if let Ok(Some(_)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            return Err(HelperError::Failed("pasta", last_line(&err)));
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            return Err(HelperError::Failed(
                "pasta",
                "no network after 10 seconds".into(),
            ));
        }
        std::thread::sleep(std::time::Duration::from_micros(500));
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    // Reaped by the shim's loop like any child of its.
    std::mem::forget(child);
    Ok(Helper {
        pid: Some(pid),
        _exit: None,
    })
}

/// Whether the network namespace of `pid` has a default route, IPv4 or IPv6.
fn has_default_route(pid: i32) -> bool {
    let v4 = std::fs::read_to_string(format!("/proc/{pid}/net/route")).unwrap_or_default();
    if v4
        .lines()
        .skip(1)
        .any(|l| l.split_whitespace().nth(1) == Some("00000000"))
    {
        return true;
    }
    let v6 = std::fs::read_to_string(format!("/proc/{pid}/net/ipv6_route")).unwrap_or_default();
    v6.lines()
        .any(|l| l.starts_with("00000000000000000000000000000000 00 ") && !l.contains(" lo"))
}

fn last_line(s: &str) -> String {
    s.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("Failed to send"))
        .unwrap_or("it exited")
        .to_string()
}

fn slirp4netns(req: &Request) -> Result<Helper, HelperError> {
    let prog =
        find_program("slirp4netns").ok_or(HelperError::Missing("slirp4netns", "slirp4netns"))?;
    let fail = |e: &dyn std::fmt::Display| HelperError::Failed("slirp4netns", e.to_string());
    // Without O_CLOEXEC: these two ends are the helper's, passed by number.
    let (ready_r, ready_w) = nix::unistd::pipe().map_err(|e| fail(&e))?;
    let (exit_r, exit_w) = nix::unistd::pipe().map_err(|e| fail(&e))?;
    for keep in [&ready_r, &exit_w] {
        let _ = nix::fcntl::fcntl(
            keep,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        );
    }
    let api: PathBuf = req.runtime_dir.join("slirp.sock");
    let _ = std::fs::remove_file(&api);
    let mut cmd = Command::new(prog);
    cmd.args(["--configure", "--mtu", "65520"])
        .arg(format!("--ready-fd={}", ready_w.as_raw_fd()))
        .arg(format!("--exit-fd={}", exit_r.as_raw_fd()))
        .arg("--api-socket")
        .arg(&api);
    if !req.host_loopback {
        cmd.arg("--disable-host-loopback");
    }
    if req.userns {
        cmd.arg(format!("--userns-path=/proc/{}/ns/user", req.pid));
    }
    cmd.arg("--netns-type=path")
        .arg(format!("/proc/{}/ns/net", req.pid))
        .arg("tap0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // Not in the shim's process group: the shim's signals are not its.
    cmd.process_group(0);
    crate::sys::die_with_parent(&mut cmd);
    let mut child = cmd
        .spawn()
        .map_err(|e| HelperError::Spawn("slirp4netns", e))?;
    drop((ready_w, exit_r));
    let mut ready = [0u8; 1];
    let got = std::fs::File::from(ready_r).read(&mut ready);
    if !matches!(got, Ok(1)) {
        let _ = child.kill();
        let out = child
            .wait_with_output()
            .map(|o| o.stderr)
            .unwrap_or_default();
        return Err(fail(&last_line(&String::from_utf8_lossy(&out))));
    }
    for m in req.ports {
        add_hostfwd(&api, m).map_err(|e| fail(&e))?;
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    // Reaped by the shim's loop like any child; not waited for here.
    std::mem::forget(child);
    Ok(Helper {
        pid: Some(pid),
        _exit: Some(exit_w),
    })
}

/// One port forward through slirp4netns's API: one request per connection.
fn add_hostfwd(api: &Path, m: &PortMapping) -> Result<(), String> {
    let host_addr = m
        .host_ip
        .map_or_else(|| "0.0.0.0".to_string(), |ip: IpAddr| ip.to_string());
    let req = serde_json::json!({
        "execute": "add_hostfwd",
        "arguments": {
            "proto": m.proto.as_str(),
            "host_addr": host_addr,
            "host_port": m.host_port,
            "guest_port": m.container_port,
        }
    });
    let mut s = UnixStream::connect(api).map_err(|e| format!("API socket: {e}"))?;
    s.write_all(req.to_string().as_bytes())
        .and_then(|()| s.shutdown(std::net::Shutdown::Write))
        .map_err(|e| format!("API socket: {e}"))?;
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    let v: serde_json::Value = serde_json::from_str(&answer).unwrap_or_default();
    if let Some(e) = v.get("error") {
        return Err(format!(
            "cannot publish {}: {}",
            m.display(),
            e.get("desc").and_then(|d| d.as_str()).unwrap_or("refused")
        ));
    }
    Ok(())
}

/// The host's default gateway, as pasta copies it into the container: where
/// `host-gateway` leads with pasta.
pub fn host_gateway() -> Option<IpAddr> {
    let routes = std::fs::read_to_string("/proc/net/route").ok()?;
    routes.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() > 2 && f[1] == "00000000" {
            let g = u32::from_str_radix(f[2], 16).ok()?;
            Some(IpAddr::V4(std::net::Ipv4Addr::from(g.swap_bytes())))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasta_port_specs() {
        let m = |ip: Option<&str>, h, c, proto| PortMapping {
            host_ip: ip.map(|i| i.parse().unwrap()),
            host_port: h,
            container_port: c,
            proto,
        };
        let ports = vec![
            m(None, 8080, 80, Proto::Tcp),
            m(Some("127.0.0.1"), 9000, 90, Proto::Tcp),
            m(None, 5353, 53, Proto::Udp),
        ];
        assert_eq!(pasta_ports(&ports, Proto::Tcp), "8080:80,127.0.0.1/9000:90");
        assert_eq!(pasta_ports(&ports, Proto::Udp), "5353:53");
        assert_eq!(pasta_ports(&[], Proto::Udp), "none");
    }
}
