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
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
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
/// slirp4netns's address for the container in its default 10.0.2.0/24.
pub const SLIRP_ADDRESS: &str = "10.0.2.100";

#[derive(Debug, Error)]
pub enum HelperError {
    #[error("{0} not found on PATH: install the {1} package, or use --network none")]
    Missing(&'static str, &'static str),
    #[error("cannot start {0}: {1}")]
    Spawn(&'static str, std::io::Error),
    #[error("{0} could not set up the container's network: {1}")]
    Failed(&'static str, String),
    #[error(transparent)]
    Ports(super::ports::PortError),
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

/// A running helper, the shim's child. Ended with its container: [`Helper::kill`] when
/// the container is gone, then dropped (reaped) once the exit status is out; dropping it
/// also ends it, on any path that gives up on the container.
pub struct Helper {
    pid: nix::unistd::Pid,
    /// Signals go through this, never by pid: the shim reaps any child that exits, and
    /// a helper that died by itself leaves a pid that may be someone else's.
    pidfd: Option<OwnedFd>,
    /// slirp4netns exits when this closes.
    _exit: Option<OwnedFd>,
    /// The container's runtime directory, where the helper is marked releasing its
    /// ports from [`Helper::kill`] until they are free again.
    dir: PathBuf,
    ports: Vec<PortMapping>,
}

impl Helper {
    fn new(pid: u32, exit: Option<OwnedFd>, req: &Request) -> Helper {
        let pid = nix::unistd::Pid::from_raw(pid as i32);
        let pidfd = rustix::process::Pid::from_raw(pid.as_raw()).and_then(|p| {
            rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok()
        });
        Helper {
            pid,
            pidfd,
            _exit: exit,
            dir: req.runtime_dir.to_path_buf(),
            ports: req.ports.to_vec(),
        }
    }

    /// Tells the helper to end, without waiting: the kernel's teardown of its tap
    /// device as it exits takes 15-50 ms, which the container's exit status need not
    /// wait for. Until its ports are free, a port check of `box run` that finds one
    /// of them taken waits (see [`super::release`]).
    pub fn kill(&self) {
        if !self.ports.is_empty() {
            super::release::mark_releasing(&self.dir);
        }
        self.signal_kill();
    }

    fn signal_kill(&self) {
        match &self.pidfd {
            Some(fd) => {
                let _ = rustix::process::pidfd_send_signal(fd, rustix::process::Signal::KILL);
            }
            // A kernel without pidfds (before 5.3): by pid, as there is no other way.
            None => {
                let _ = nix::sys::signal::kill(self.pid, nix::sys::signal::Signal::SIGKILL);
            }
        }
    }

    /// Ends the helper and reaps it, so that its ports are free. Nothing is lost: its
    /// container is gone.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        self.signal_kill();
        match &self.pidfd {
            // If the shim's loop reaped it already, this returns at once.
            Some(fd) => {
                let _ = rustix::process::waitid(
                    rustix::process::WaitId::PidFd(fd.as_fd()),
                    rustix::process::WaitIdOptions::EXITED,
                );
            }
            None => {
                let _ = nix::sys::wait::waitpid(self.pid, None);
            }
        }
        // pasta's listening sockets outlive it by up to some 50 ms (Debian 12's pasta,
        // kernel 6.18): its ports are free only once they can be bound again.
        if !self.ports.is_empty() {
            super::release::await_free(&self.ports);
            super::release::clear_releasing(&self.dir);
        }
    }
}

/// Starts the helper the network asks for; `None` for networks without one. Its host
/// ports are checked first: a port taken since `box run` chose it, or when a stopped
/// container starts again, is Docker's "port is already allocated", not the helper's
/// own words.
pub fn start(req: &Request) -> Result<Option<Helper>, HelperError> {
    if !req.ports.is_empty() {
        let root = req.runtime_dir.parent().unwrap_or(req.runtime_dir);
        super::ports::check(req.ports, root).map_err(HelperError::Ports)?;
    }
    match req.network {
        Network::Pasta => pasta(req).map(Some),
        Network::Slirp4netns => slirp4netns(req).map(Some),
        Network::None | Network::Host | Network::Container => Ok(None),
    }
}

/// The version pasta reports, for messages: Debian 12's says "unknown version", so
/// the passt package's version stands in.
pub fn pasta_version() -> String {
    let run = |prog: &str, args: &[&str]| {
        Command::new(prog)
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let reported = run("pasta", &["--version"])
        .and_then(|v| v.lines().next().map(str::to_string))
        .map(|l| l.trim_start_matches("pasta").trim().to_string())
        .filter(|v| !v.is_empty() && v != "unknown version");
    reported
        .or_else(|| run("dpkg-query", &["-W", "-f", "${Version}", "passt"]))
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "(unknown version)".into())
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
    let (stderr, log) = log_file(req, "pasta")?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
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
            return Err(HelperError::Failed("pasta", log_tail(&log)));
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(HelperError::Failed(
                "pasta",
                "no network after 10 seconds".into(),
            ));
        }
        std::thread::sleep(std::time::Duration::from_micros(500));
    }
    // Reaped by the shim's loop like any child of its, or by the helper's drop.
    Ok(Helper::new(child.id(), None, req))
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

/// The helper's stderr: a file in the container's runtime directory, read when the
/// helper fails. (A pipe would need a reader for the helper's whole life, or block it
/// once full.)
fn log_file(req: &Request, name: &'static str) -> Result<(Stdio, PathBuf), HelperError> {
    let path = req.runtime_dir.join(format!("{name}.log"));
    let f = std::fs::File::create(&path).map_err(|e| HelperError::Spawn(name, e))?;
    Ok((Stdio::from(f), path))
}

fn log_tail(path: &Path) -> String {
    last_line(&std::fs::read_to_string(path).unwrap_or_default())
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
        .arg("tap0");
    let (stderr, log) = log_file(req, "slirp4netns")?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
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
        let _ = child.wait();
        return Err(fail(&log_tail(&log)));
    }
    // Reaped by the shim's loop like any child, or by the helper's drop (which also
    // ends it if a port cannot be added).
    let helper = Helper::new(child.id(), Some(exit_w), req);
    for m in req.ports {
        add_hostfwd(&api, m).map_err(|e| fail(&e))?;
    }
    Ok(helper)
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
    default_route().map(|(_, gateway)| IpAddr::V4(gateway))
}

/// The interface and gateway of the host's IPv4 default route, from
/// `/proc/net/route` (addresses there are in the kernel's byte order).
pub fn default_route() -> Option<(String, std::net::Ipv4Addr)> {
    let routes = std::fs::read_to_string("/proc/net/route").ok()?;
    routes.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() > 2 && f[1] == "00000000" {
            let g = u32::from_str_radix(f[2], 16).ok()?;
            Some((f[0].to_string(), std::net::Ipv4Addr::from(g.swap_bytes())))
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
