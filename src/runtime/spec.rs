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

/// Docker's rules for argv, environment, working directory and user.
pub fn resolve_process(
    image: &ImageRunConfig,
    flags: &ProcessFlags,
    hostname: &str,
    host_env: &dyn Fn(&str) -> Option<String>,
) -> Result<Process, SpecError> {
    let (entrypoint, cmd) = match &flags.entrypoint {
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
    };
    let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if args.is_empty() {
        return Err(SpecError::NoCommand);
    }

    let mut env: Vec<String> = Vec::new();
    let mut set = |kv: String| {
        let key = kv.split('=').next().unwrap_or("").to_string();
        env.retain(|e| e.split('=').next() != Some(key.as_str()));
        env.push(kv);
    };
    set(format!("PATH={DEFAULT_PATH}"));
    set(format!("HOSTNAME={hostname}"));
    if flags.tty {
        set("TERM=xterm".into());
    }
    for e in image.env.iter().flatten() {
        set(e.clone());
    }
    for e in &flags.env {
        if e.is_empty() || e.starts_with('=') {
            return Err(SpecError::BadEnv(e.clone()));
        }
        match e.split_once('=') {
            Some(_) => set(e.clone()),
            None => {
                if let Some(v) = host_env(e) {
                    set(format!("{e}={v}"));
                }
            }
        }
    }
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
