//! What a container is made of, resolved once by `box run` from its flags, the image
//! config and Docker's defaults, then handed (as JSON) to the shim and the container's
//! init. Pure data and pure rules: nothing here touches the system.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::idmap::IdMapping;

/// Docker's default PATH, for images that set none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SpecError {
    #[error(
        "no command specified: the image has no Entrypoint or Cmd; give one after the image name"
    )]
    NoCommand,
    #[error("invalid environment variable {0:?}")]
    BadEnv(String),
    #[error("invalid restart policy {0:?}: choose no, on-failure[:MAX-RETRIES], always or unless-stopped")]
    BadRestart(String),
    #[error("invalid log option {0:?}: box's json-file log takes max-size=SIZE and max-file=N")]
    BadLogOpt(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerSpec {
    pub id: String,
    pub name: String,
    /// The image as the user named it, and its id.
    pub image: String,
    pub image_id: String,
    /// The store's root: overlay's lower directories are given relative to it.
    pub store_root: PathBuf,
    /// Short links of the image's layers (`l/<short>`), topmost first, as overlay wants.
    pub lower: Vec<String>,
    /// The digests of those layers: the image store keeps them while the container
    /// exists, even if its image is removed.
    pub layers: Vec<String>,
    /// The container's own directory: `upper/`, `work/`, `rootfs/`, `etc/`.
    pub dir: PathBuf,
    pub driver: String,
    pub idmap: IdMapping,
    pub process: Process,
    pub hostname: String,
    pub mounts: Vec<Mount>,
    pub read_only: bool,
    pub network: Network,
    pub security: Security,
    /// Run a tiny init as PID 1 that reaps zombies and forwards signals (`--init`).
    pub init: bool,
    pub remove: bool,
    pub stdin: bool,
    pub tty: bool,
    /// The image reference as the user typed it, which `box ps` shows.
    #[serde(default)]
    pub image_name: String,
    /// The entrypoint and command as decided at creation, for `box inspect`.
    #[serde(default)]
    pub entrypoint: Vec<String>,
    #[serde(default)]
    pub cmd: Vec<String>,
    /// The image's labels, overridden by `--label`.
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    /// `--stop-signal`, else the image's StopSignal; SIGTERM if neither.
    #[serde(default)]
    pub stop_signal: Option<String>,
    /// `--stop-timeout` in seconds (10 if unset).
    #[serde(default)]
    pub stop_timeout: Option<u64>,
    #[serde(default)]
    pub restart: RestartPolicy,
    #[serde(default)]
    pub log: LogOptions,
    /// Published ports, host ports decided (`-p`, `-P`).
    #[serde(default)]
    pub ports: Vec<crate::network::PortMapping>,
    /// `--expose`'d ports, besides the image's ExposedPorts (`80/tcp`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exposed: Vec<String>,
    /// Whether the container may reach the host's loopback (asked for with
    /// `--add-host NAME:host-gateway`).
    #[serde(default)]
    pub host_loopback: bool,
    /// `--add-host`, `--dns`, `--dns-search`, `--dns-option`, as given (the files in
    /// `etc/` are written from them).
    #[serde(default)]
    pub extra_hosts: Vec<crate::network::ExtraHost>,
    #[serde(default)]
    pub dns: crate::network::Dns,
    /// User networks the container is on, one interface each (`--network NAME`,
    /// `box network connect`). `network` is then how it reaches the outside.
    #[serde(default)]
    pub networks: Vec<crate::network::user::Attachment>,
    /// `--network container:NAME`: the container whose network namespace it joins.
    #[serde(default)]
    pub net_container: Option<String>,
    /// `--link NAME[:ALIAS]`.
    #[serde(default)]
    pub links: Vec<crate::network::user::Link>,
    /// What else `box run` was given, for `box inspect` alone.
    #[serde(default)]
    pub given: Given,
}

/// What `box run` was given that the rest of the spec keeps only as resolved (or not
/// at all), kept for `box inspect`, which shows it as Docker's `HostConfig` and
/// `Config` do. Nothing that runs the container reads it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Given {
    /// `--cap-add` and `--cap-drop`, normalized (`CAP_NET_ADMIN`, `ALL`), sorted,
    /// once each, as Docker keeps them; `security.caps` is what they resolved to.
    #[serde(default)]
    pub cap_add: Vec<String>,
    #[serde(default)]
    pub cap_drop: Vec<String>,
    /// `-P`.
    #[serde(default)]
    pub publish_all: bool,
    /// The image's exposed ports (`80/tcp`).
    #[serde(default)]
    pub exposed_ports: Vec<String>,
    /// `-d`: no stream was attached at creation.
    #[serde(default)]
    pub detach: bool,
}

impl ContainerSpec {
    /// The signal that stops this container: `--stop-signal`, else the image's
    /// StopSignal, else SIGTERM.
    pub fn effective_stop_signal(&self) -> super::signal::Signal {
        self.stop_signal
            .as_deref()
            .and_then(|s| super::signal::parse(s).ok())
            .unwrap_or(super::signal::Signal::TERM)
    }
}

/// When the shim starts a container again after it ended (there is no daemon to do
/// it). Docker's policies; `unless-stopped` is `always` here, since nothing restarts
/// containers when the machine boots either way.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum RestartPolicy {
    #[default]
    No,
    /// `max_retries` 0 is unlimited.
    OnFailure {
        max_retries: u32,
    },
    Always,
    UnlessStopped,
}

impl RestartPolicy {
    pub fn parse(s: &str) -> Result<RestartPolicy, SpecError> {
        let bad = || SpecError::BadRestart(s.to_string());
        Ok(match s.split_once(':') {
            None if s == "no" || s.is_empty() => RestartPolicy::No,
            None if s == "always" => RestartPolicy::Always,
            None if s == "unless-stopped" => RestartPolicy::UnlessStopped,
            None if s == "on-failure" => RestartPolicy::OnFailure { max_retries: 0 },
            Some(("on-failure", n)) => RestartPolicy::OnFailure {
                max_retries: n.parse().map_err(|_| bad())?,
            },
            _ => return Err(bad()),
        })
    }

    /// Docker's name for it, as `box inspect` shows under HostConfig.RestartPolicy.
    pub fn name(&self) -> &'static str {
        match self {
            RestartPolicy::No => "no",
            RestartPolicy::OnFailure { .. } => "on-failure",
            RestartPolicy::Always => "always",
            RestartPolicy::UnlessStopped => "unless-stopped",
        }
    }

    pub fn max_retries(&self) -> u32 {
        match self {
            RestartPolicy::OnFailure { max_retries } => *max_retries,
            _ => 0,
        }
    }

    /// Whether to start the container again after a run that ended with `code`,
    /// having restarted it `restarts` times already. A stop by the user always wins.
    pub fn should_restart(&self, code: i32, stopped: bool, restarts: u32) -> bool {
        if stopped {
            return false;
        }
        match self {
            RestartPolicy::No => false,
            RestartPolicy::OnFailure { max_retries } => {
                code != 0 && (*max_retries == 0 || restarts < *max_retries)
            }
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
        }
    }
}

/// The restart back-off, as Docker's: 100 ms doubling up to a minute, and back to
/// 100 ms after a run of ten seconds or more.
pub fn restart_delay(
    previous: std::time::Duration,
    ran_for: std::time::Duration,
) -> std::time::Duration {
    use std::time::Duration;
    if ran_for >= Duration::from_secs(10) || previous.is_zero() {
        return Duration::from_millis(100);
    }
    (previous * 2).min(Duration::from_secs(60))
}

/// The size cap of a container's log (`--log-opt max-size=10m --log-opt max-file=3`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogOptions {
    /// Bytes per file; 0 for no cap.
    pub max_size: u64,
    /// Files kept in all, the current one included.
    pub max_file: u32,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            max_size: 10 << 20,
            max_file: 3,
        }
    }
}

impl LogOptions {
    /// Applies one `--log-opt KEY=VALUE`.
    pub fn set(&mut self, opt: &str) -> Result<(), SpecError> {
        let bad = || SpecError::BadLogOpt(opt.to_string());
        match opt.split_once('=') {
            Some(("max-size", v)) => self.max_size = parse_size(v).ok_or_else(bad)?,
            Some(("max-file", v)) => {
                self.max_file = v.parse().ok().filter(|n| *n >= 1).ok_or_else(bad)?
            }
            _ => return Err(bad()),
        }
        Ok(())
    }
}

/// Docker's sizes: `1024`, `10k`, `10m`, `1g` (powers of 1024), `-1` for no cap.
pub fn parse_size(v: &str) -> Option<u64> {
    if v == "-1" {
        return Some(0);
    }
    let v = v.to_ascii_lowercase();
    let v = v.trim_end_matches('b');
    let (num, mult) = match v.chars().last()? {
        'k' => (&v[..v.len() - 1], 1u64 << 10),
        'm' => (&v[..v.len() - 1], 1 << 20),
        'g' => (&v[..v.len() - 1], 1 << 30),
        _ => (v, 1),
    };
    let n: f64 = num.parse().ok()?;
    (n >= 0.0).then_some((n * mult as f64) as u64)
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Process {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    /// `-u` or the image's User, resolved inside the container's own /etc/passwd.
    pub user: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Mount {
    Bind {
        source: PathBuf,
        destination: String,
        readonly: bool,
    },
    Tmpfs {
        destination: String,
        options: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// A network namespace of its own with only loopback.
    None,
    /// The host's network namespace.
    Host,
    /// A network namespace of its own, connected by `pasta`.
    Pasta,
    /// A network namespace of its own, connected by `slirp4netns`.
    Slirp4netns,
    /// Another container's network namespace (`--network container:NAME`).
    Container,
}

impl Network {
    /// Whether the container has a network namespace of its own.
    pub fn private(self) -> bool {
        !matches!(self, Network::Host | Network::Container)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Network::None => "none",
            Network::Host => "host",
            Network::Pasta => "pasta",
            Network::Slirp4netns => "slirp4netns",
            Network::Container => "container",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Security {
    /// Capability names (`CAP_CHOWN`, ...) the process keeps.
    pub caps: Vec<String>,
    pub privileged: bool,
    pub seccomp: Seccomp,
    pub no_new_privileges: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "mode", content = "profile", rename_all = "lowercase")]
pub enum Seccomp {
    Default,
    Unconfined,
    /// A profile in Docker's JSON format, read by `box run` from the user's file.
    Custom(String),
}

/// The parts of an image config's `config` object that decide how a container runs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageRunConfig {
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub env: Option<Vec<String>>,
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    #[serde(default)]
    pub working_dir: Option<String>,
    #[serde(default)]
    pub stop_signal: Option<String>,
    #[serde(default)]
    pub labels: Option<std::collections::BTreeMap<String, String>>,
    /// Keys such as "80/tcp", for `-P`.
    #[serde(default)]
    pub exposed_ports: Option<std::collections::BTreeMap<String, serde_json::Value>>,
}

impl ImageRunConfig {
    /// From a whole image config document (the `config` member may be absent).
    pub fn from_image_config(doc: &serde_json::Value) -> ImageRunConfig {
        doc.get("config")
            .and_then(|c| serde_json::from_value(c.clone()).ok())
            .unwrap_or_default()
    }
}

/// What the command line says about the process; `None` means "the image decides".
#[derive(Debug, Clone, Default)]
pub struct ProcessFlags {
    /// `--entrypoint`: `Some("")` clears the image's entrypoint.
    pub entrypoint: Option<String>,
    pub command: Vec<String>,
    /// `-e` and `--env-file` lines in order; `KEY` alone takes the value from `host_env`.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub tty: bool,
}

/// The entrypoint and command a container runs, by Docker's rules.
pub fn command_parts(image: &ImageRunConfig, flags: &ProcessFlags) -> (Vec<String>, Vec<String>) {
    match &flags.entrypoint {
        // A new entrypoint drops the image's Cmd too.
        Some(e) if e.is_empty() => (vec![], flags.command.clone()),
        Some(e) => (vec![e.clone()], flags.command.clone()),
        None => {
            let cmd = if flags.command.is_empty() {
                image.cmd.clone().unwrap_or_default()
            } else {
                flags.command.clone()
            };
            (image.entrypoint.clone().unwrap_or_default(), cmd)
        }
    }
}

/// Docker's rules for argv, environment, working directory and user.
pub fn resolve_process(
    image: &ImageRunConfig,
    flags: &ProcessFlags,
    hostname: &str,
    host_env: &dyn Fn(&str) -> Option<String>,
) -> Result<Process, SpecError> {
    let (entrypoint, cmd) = command_parts(image, flags);
    let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if args.is_empty() {
        return Err(SpecError::NoCommand);
    }

    let mut env: Vec<String> = Vec::new();
    set_env(&mut env, format!("PATH={DEFAULT_PATH}"));
    set_env(&mut env, format!("HOSTNAME={hostname}"));
    if flags.tty {
        set_env(&mut env, "TERM=xterm".into());
    }
    for e in image.env.iter().flatten() {
        set_env(&mut env, e.clone());
    }
    apply_env_flags(&mut env, &flags.env, host_env)?;
    let cwd = flags
        .workdir
        .clone()
        .or_else(|| image.working_dir.clone())
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| "/".into());
    let user = flags
        .user
        .clone()
        .or_else(|| image.user.clone())
        .unwrap_or_default();
    Ok(Process {
        args,
        env,
        cwd,
        user,
    })
}

/// Sets `KEY=VALUE` in `env`, in place of any earlier value of KEY.
pub fn set_env(env: &mut Vec<String>, kv: String) {
    let key = kv.split('=').next().unwrap_or("").to_string();
    env.retain(|e| e.split('=').next() != Some(key.as_str()));
    env.push(kv);
}

/// Applies `-e` and `--env-file` lines over `env` by Docker's rules (`box run` and
/// `box exec` alike): `KEY=VALUE` sets, `KEY` alone takes `host_env`'s value or
/// nothing.
pub fn apply_env_flags(
    env: &mut Vec<String>,
    flags: &[String],
    host_env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), SpecError> {
    for e in flags {
        if e.is_empty() || e.starts_with('=') {
            return Err(SpecError::BadEnv(e.clone()));
        }
        match e.split_once('=') {
            Some(_) => set_env(env, e.clone()),
            None => {
                if let Some(v) = host_env(e) {
                    set_env(env, format!("{e}={v}"));
                }
            }
        }
    }
    Ok(())
}

/// Lines of an `--env-file`: `KEY=value` or `KEY`; blank lines and `#` comments skipped.
pub fn parse_env_file(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.trim_start())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_end_matches('\r').to_string())
        .collect()
}

/// Docker's default capability set.
pub const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> ImageRunConfig {
        ImageRunConfig {
            user: Some("app".into()),
            env: Some(vec!["PATH=/img/bin".into(), "FOO=image".into()]),
            entrypoint: Some(vec!["/entry".into()]),
            cmd: Some(vec!["default".into()]),
            working_dir: Some("/srv".into()),
            stop_signal: None,
            labels: None,
            exposed_ports: None,
        }
    }

    fn host(k: &str) -> Option<String> {
        (k == "HOSTVAR").then(|| "from-host".to_string())
    }

    #[test]
    fn entrypoint_and_cmd() {
        let p = resolve_process(&image(), &ProcessFlags::default(), "h", &host).unwrap();
        assert_eq!(p.args, ["/entry", "default"]);
        let f = ProcessFlags {
            command: vec!["x".into()],
            ..Default::default()
        };
        assert_eq!(
            resolve_process(&image(), &f, "h", &host).unwrap().args,
            ["/entry", "x"]
        );
        let f = ProcessFlags {
            entrypoint: Some("/bin/sh".into()),
            ..Default::default()
        };
        assert_eq!(
            resolve_process(&image(), &f, "h", &host).unwrap().args,
            ["/bin/sh"],
            "a new entrypoint drops Cmd"
        );
        let f = ProcessFlags {
            entrypoint: Some(String::new()),
            command: vec!["ls".into()],
            ..Default::default()
        };
        assert_eq!(
            resolve_process(&image(), &f, "h", &host).unwrap().args,
            ["ls"]
        );
        let f = ProcessFlags {
            entrypoint: Some(String::new()),
            ..Default::default()
        };
        assert_eq!(
            resolve_process(&image(), &f, "h", &host),
            Err(SpecError::NoCommand)
        );
    }

    #[test]
    fn environment_order_and_defaults() {
        let f = ProcessFlags {
            env: vec!["FOO=flag".into(), "HOSTVAR".into(), "MISSING".into()],
            tty: true,
            ..Default::default()
        };
        let p = resolve_process(&image(), &f, "myhost", &host).unwrap();
        assert_eq!(
            p.env,
            [
                "HOSTNAME=myhost",
                "TERM=xterm",
                "PATH=/img/bin",
                "FOO=flag",
                "HOSTVAR=from-host"
            ]
        );
        let p = resolve_process(
            &ImageRunConfig {
                cmd: Some(vec!["sh".into()]),
                ..Default::default()
            },
            &ProcessFlags::default(),
            "h",
            &host,
        )
        .unwrap();
        assert!(p.env.contains(&format!("PATH={DEFAULT_PATH}")));
        assert_eq!((p.cwd.as_str(), p.user.as_str()), ("/", ""));
        let f = ProcessFlags {
            env: vec!["=x".into()],
            ..Default::default()
        };
        assert!(resolve_process(&image(), &f, "h", &host).is_err());
    }

    #[test]
    fn workdir_user_and_env_files() {
        let f = ProcessFlags {
            workdir: Some("/w".into()),
            user: Some("1000:1000".into()),
            ..Default::default()
        };
        let p = resolve_process(&image(), &f, "h", &host).unwrap();
        assert_eq!((p.cwd.as_str(), p.user.as_str()), ("/w", "1000:1000"));
        let p = resolve_process(&image(), &ProcessFlags::default(), "h", &host).unwrap();
        assert_eq!((p.cwd.as_str(), p.user.as_str()), ("/srv", "app"));
        assert_eq!(parse_env_file("# c\nA=1\n\n  B\n"), ["A=1", "B"]);
    }
}

#[cfg(test)]
mod lifecycle_tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn restart_policies() {
        let p = RestartPolicy::parse;
        assert_eq!(p("no").unwrap(), RestartPolicy::No);
        assert_eq!(p("always").unwrap(), RestartPolicy::Always);
        assert_eq!(
            p("on-failure:3").unwrap(),
            RestartPolicy::OnFailure { max_retries: 3 }
        );
        assert!(p("sometimes").is_err() && p("on-failure:x").is_err());
        let f = RestartPolicy::OnFailure { max_retries: 2 };
        assert!(f.should_restart(1, false, 0) && f.should_restart(1, false, 1));
        assert!(!f.should_restart(1, false, 2), "two retries, then no more");
        assert!(!f.should_restart(0, false, 0), "success is not a failure");
        assert!(RestartPolicy::Always.should_restart(0, false, 99));
        assert!(
            !RestartPolicy::Always.should_restart(0, true, 0),
            "a stop wins"
        );
        assert!(!RestartPolicy::No.should_restart(1, false, 0));
    }

    #[test]
    fn back_off_doubles_and_resets() {
        let ms = Duration::from_millis;
        assert_eq!(restart_delay(Duration::ZERO, ms(5)), ms(100));
        assert_eq!(restart_delay(ms(100), ms(5)), ms(200));
        assert_eq!(restart_delay(ms(40_000), ms(5)), ms(60_000));
        assert_eq!(restart_delay(ms(6400), Duration::from_secs(11)), ms(100));
    }

    #[test]
    fn log_options() {
        let mut o = LogOptions::default();
        o.set("max-size=1k").unwrap();
        o.set("max-file=5").unwrap();
        assert_eq!((o.max_size, o.max_file), (1024, 5));
        o.set("max-size=2m").unwrap();
        assert_eq!(o.max_size, 2 << 20);
        assert!(o.set("max-file=0").is_err() && o.set("mode=fast").is_err());
        assert_eq!(parse_size("-1"), Some(0));
    }
}
