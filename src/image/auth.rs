//! Registry credentials, read from the files a user's existing logins wrote:
//! `$XDG_RUNTIME_DIR/containers/auth.json` (podman, skopeo) first, then
//! `~/.docker/config.json` (docker). Only inline `auth` entries are understood;
//! credential helpers are not run.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde::Deserialize;

use crate::config::Dirs;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    Basic {
        username: String,
        password: String,
    },
    /// A registry token stored by a previous login (`registrytoken`), sent as is.
    Bearer(String),
}

#[derive(Deserialize)]
struct AuthFile {
    #[serde(default)]
    auths: std::collections::BTreeMap<String, AuthEntry>,
}

#[derive(Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    registrytoken: Option<String>,
}

/// The files searched, in order.
pub fn auth_files(dirs: &Dirs) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Some(rt) = &dirs.xdg_runtime {
        files.push(rt.join("containers/auth.json"));
    }
    files.push(dirs.home.join(".docker/config.json"));
    files
}

/// Credentials for `registry`, if any auth file has them. Unreadable or malformed
/// files are skipped: a broken docker config must not stop anonymous pulls.
pub fn lookup(dirs: &Dirs, registry: &str) -> Option<Credentials> {
    auth_files(dirs).iter().find_map(|f| lookup_in(f, registry))
}

fn lookup_in(file: &Path, registry: &str) -> Option<Credentials> {
    let text = std::fs::read(file).ok()?;
    let parsed: AuthFile = serde_json::from_slice(&text).ok()?;
    let keys = keys_for(registry);
    parsed
        .auths
        .iter()
        .find(|(k, _)| keys.iter().any(|want| normalize(k) == *want))
        .and_then(|(_, e)| decode(e))
}

/// Docker Hub's credentials are stored under its old v1 URL.
fn keys_for(registry: &str) -> Vec<String> {
    if registry == "docker.io" {
        vec![
            "index.docker.io".into(),
            "docker.io".into(),
            "registry-1.docker.io".into(),
        ]
    } else {
        vec![registry.to_string()]
    }
}

/// `https://host:port/v1/` → `host:port`.
fn normalize(key: &str) -> String {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    k.split('/').next().unwrap_or(k).to_string()
}

fn decode(e: &AuthEntry) -> Option<Credentials> {
    if let Some(t) = e.registrytoken.as_ref().filter(|t| !t.is_empty()) {
        return Some(Credentials::Bearer(t.clone()));
    }
    if let Some(a) = e.auth.as_ref().filter(|a| !a.is_empty()) {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(a.trim())
            .ok()?;
        let s = String::from_utf8(raw).ok()?;
        let (u, p) = s.split_once(':')?;
        return Some(Credentials::Basic {
            username: u.into(),
            password: p.into(),
        });
    }
    Some(Credentials::Basic {
        username: e.username.clone()?,
        password: e.password.clone()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_docker_config() {
        let dir = std::env::temp_dir().join(format!("box-auth-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("config.json");
        // "u:p:w" — passwords may contain colons.
        std::fs::write(&f, r#"{"auths":{"https://index.docker.io/v1/":{"auth":"dTpwOnc="},"reg:5000":{"auth":"YTpi"}}}"#).unwrap();
        let basic = |u: &str, p: &str| {
            Some(Credentials::Basic {
                username: u.into(),
                password: p.into(),
            })
        };
        assert_eq!(lookup_in(&f, "docker.io"), basic("u", "p:w"));
        assert_eq!(lookup_in(&f, "reg:5000"), basic("a", "b"));
        assert_eq!(lookup_in(&f, "other"), None);
        std::fs::write(&f, r#"{"auths":{"tok:5000":{"registrytoken":"abc"}}}"#).unwrap();
        assert_eq!(
            lookup_in(&f, "tok:5000"),
            Some(Credentials::Bearer("abc".into()))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
