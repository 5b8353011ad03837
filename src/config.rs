//! Where box keeps things (XDG base directories) and the user's `config.toml`.
//!
//! Paths are worked out once, before box enters any user namespace: inside one, the
//! user is uid 0 and the password database would name root's home instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use crate::image::reference::DOCKER_HUB;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot find the home directory (set HOME)")]
    NoHome,
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("{path}: unknown storage driver {driver:?} (choose overlay, fuse-overlayfs or copy)")]
    Driver { path: PathBuf, driver: String },
}

/// The directories box uses, all private to the user.
#[derive(Debug, Clone)]
pub struct Dirs {
    /// `$XDG_DATA_HOME/box`: the image store, containers' layers, volumes.
    pub data: PathBuf,
    /// `$XDG_RUNTIME_DIR/box` (or `/tmp/box-$UID`): live state, sockets, locks.
    pub runtime: PathBuf,
    /// `$XDG_CONFIG_HOME/box/config.toml`.
    pub config_file: PathBuf,
    /// The user's home, for `~/.docker/config.json`.
    pub home: PathBuf,
    /// `$XDG_RUNTIME_DIR`, for `containers/auth.json`, if set.
    pub xdg_runtime: Option<PathBuf>,
}

impl Dirs {
    pub fn from_env() -> Result<Dirs, ConfigError> {
        let base = directories::BaseDirs::new().ok_or(ConfigError::NoHome)?;
        let uid = rustix::process::getuid().as_raw();
        let xdg_runtime = base.runtime_dir().map(Path::to_path_buf);
        let runtime = match &xdg_runtime {
            Some(r) => r.join("box"),
            None => PathBuf::from(format!("/tmp/box-{uid}")),
        };
        Ok(Dirs {
            data: base.data_dir().join("box"),
            runtime,
            config_file: base.config_dir().join("box").join("config.toml"),
            home: base.home_dir().to_path_buf(),
            xdg_runtime,
        })
    }
}

/// `config.toml`. Every field has a default, so a missing file is an empty config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub registries: Registries,
    #[serde(default)]
    pub storage: Storage,
    #[serde(default)]
    pub logs: Logs,
    #[serde(default)]
    pub network: NetworkConfig,
}

/// The network of containers started without `--network`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// `pasta`, `slirp4netns`, `none` or `host`; unset: pasta when installed (and not
    /// root), else slirp4netns.
    pub default: Option<String>,
}

impl NetworkConfig {
    /// What `--network` means when it is not given.
    pub fn default_mode(&self) -> &str {
        self.default.as_deref().unwrap_or("default")
    }
}

/// The default cap on each container's log, which `--log-opt` overrides.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Logs {
    /// Per file, in Docker's size syntax (`10m`); `-1` for no cap. Default 10m.
    pub max_size: Option<String>,
    /// Files kept in all. Default 3.
    pub max_file: Option<u32>,
}

impl Logs {
    pub fn options(
        &self,
    ) -> Result<crate::runtime::spec::LogOptions, crate::runtime::spec::SpecError> {
        let mut o = crate::runtime::spec::LogOptions::default();
        if let Some(s) = &self.max_size {
            o.set(&format!("max-size={s}"))?;
        }
        if let Some(n) = self.max_file {
            o.set(&format!("max-file={n}"))?;
        }
        Ok(o)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registries {
    /// The registry for short names like `ubuntu` (Docker Hub if unset).
    pub default: Option<String>,
    /// Registries spoken to over plain HTTP besides loopback ones.
    #[serde(default)]
    pub insecure: Vec<String>,
    /// Mirrors tried in order before the registry itself, by registry host.
    #[serde(default)]
    pub mirrors: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    /// `overlay` (default), `fuse-overlayfs` or `copy`.
    pub driver: Option<String>,
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.into(),
                    source,
                })
            }
        };
        let cfg: Config = toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.into(),
            source,
        })?;
        if let Some(d) = &cfg.storage.driver {
            if !matches!(d.as_str(), "overlay" | "fuse-overlayfs" | "copy") {
                return Err(ConfigError::Driver {
                    path: path.into(),
                    driver: d.clone(),
                });
            }
        }
        Ok(cfg)
    }

    pub fn default_registry(&self) -> &str {
        self.registries.default.as_deref().unwrap_or(DOCKER_HUB)
    }

    /// Whether box speaks plain HTTP to `registry`: loopback ones and `insecure` ones.
    pub fn plain_http(&self, registry: &str) -> bool {
        crate::image::reference::is_loopback_host(registry)
            || self.registries.insecure.iter().any(|h| h == registry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_config() {
        let c: Config = toml::from_str(
            "[registries]\ndefault = \"127.0.0.1:5000\"\ninsecure = [\"reg:5000\"]\n[registries.mirrors]\n\"docker.io\" = [\"mirror:5000\"]\n[storage]\ndriver = \"fuse-overlayfs\"\n",
        )
        .unwrap();
        assert_eq!(c.default_registry(), "127.0.0.1:5000");
        assert_eq!(c.registries.mirrors["docker.io"], vec!["mirror:5000"]);
        assert!(toml::from_str::<Config>("[registries]\nbogus = 1\n").is_err());
        assert_eq!(Config::default().default_registry(), "docker.io");
    }
}
