//! Containers on disk, private to the user, so that any `box` process can find them
//! without a daemon:
//!
//! ```text
//! $XDG_DATA_HOME/box/containers/<id>/container.json  the spec, written once by `box run`
//! $XDG_DATA_HOME/box/containers/<id>/state.json      what the shim last recorded
//! $XDG_DATA_HOME/box/containers/<id>/{upper,work,rootfs,etc}/
//! $XDG_DATA_HOME/box/containers/names/<name>         symlink to the id: creating it
//!                                                    claims the name, atomically
//! $XDG_RUNTIME_DIR/box/<id>/attach.sock              the shim's socket while it lives
//! ```

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::image::store::replace_atomic;
use crate::runtime::spec::ContainerSpec;

mod names;
pub use names::random_name;

#[derive(Debug, Error)]
pub enum ContainerError {
    #[error("the container name {name:?} is already in use by container {id}; remove it or choose another name")]
    NameInUse { name: String, id: String },
    #[error("invalid container name {0:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    BadName(String),
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    #[error("container store {path}: {op}: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        source: io::Error,
    },
    #[error("container store {path}: corrupt record: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(transparent)]
    Store(#[from] crate::image::store::StoreError),
}

fn io_err<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(io::Error) -> ContainerError + 'a {
    move |source| ContainerError::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}

/// A container's life, as recorded by `box run` and its shim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Running,
    Exited,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub status: Status,
    /// Host pid of the container's first process, while it runs.
    pub pid: Option<i32>,
    pub shim_pid: Option<i32>,
    pub exit_code: Option<i32>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Why the container could not start, if it could not.
    pub error: Option<String>,
}

pub struct Containers {
    root: PathBuf,
}

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// 64 random hex digits, as Docker's ids.
pub fn new_id() -> String {
    (0..4)
        .map(|_| format!("{:016x}", rand::random::<u64>()))
        .collect()
}

fn valid_name(n: &str) -> bool {
    let b = n.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c))
}

impl Containers {
    pub fn open(data: &Path) -> Result<Containers, ContainerError> {
        let root = data.join("containers");
        let names = root.join("names");
        fs::create_dir_all(&names).map_err(io_err(&names, "create directory"))?;
        Ok(Containers { root })
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Claims `name` (or a random free one) for a new id and makes its directories.
    pub fn create(&self, name: Option<&str>) -> Result<(String, String, PathBuf), ContainerError> {
        let id = new_id();
        let name = match name {
            Some(n) => {
                let n = n.trim_start_matches('/');
                if !valid_name(n) {
                    return Err(ContainerError::BadName(n.to_string()));
                }
                self.claim(n, &id)?;
                n.to_string()
            }
            None => loop {
                let n = random_name();
                match self.claim(&n, &id) {
                    Ok(()) => break n,
                    Err(ContainerError::NameInUse { .. }) => continue,
                    Err(e) => return Err(e),
                }
            },
        };
        let dir = self.dir(&id);
        for sub in ["upper", "work", "rootfs", "etc"] {
            let p = dir.join(sub);
            fs::create_dir_all(&p).map_err(io_err(&p, "create directory"))?;
        }
        Ok((id, name, dir))
    }

    fn claim(&self, name: &str, id: &str) -> Result<(), ContainerError> {
        let link = self.root.join("names").join(name);
        match std::os::unix::fs::symlink(id, &link) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let owner = fs::read_link(&link)
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default();
                Err(ContainerError::NameInUse {
                    name: name.to_string(),
                    id: owner,
                })
            }
            Err(e) => Err(io_err(&link, "claim name")(e)),
        }
    }

    pub fn write_spec(&self, spec: &ContainerSpec) -> Result<(), ContainerError> {
        let bytes = serde_json::to_vec_pretty(spec).expect("specs serialize");
        Ok(replace_atomic(
            &self.dir(&spec.id).join("container.json"),
            &bytes,
        )?)
    }

    pub fn spec(&self, id: &str) -> Result<ContainerSpec, ContainerError> {
        read_json(&self.dir(id).join("container.json"))
    }

    pub fn write_state(&self, id: &str, state: &State) -> Result<(), ContainerError> {
        let bytes = serde_json::to_vec_pretty(state).expect("states serialize");
        Ok(replace_atomic(&self.dir(id).join("state.json"), &bytes)?)
    }

    pub fn state(&self, id: &str) -> Result<State, ContainerError> {
        read_json(&self.dir(id).join("state.json"))
    }

    /// Ids of every container.
    pub fn ids(&self) -> Result<Vec<String>, ContainerError> {
        let mut out = Vec::new();
        for e in fs::read_dir(&self.root)
            .map_err(io_err(&self.root, "list containers"))?
            .flatten()
        {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.len() == 64 {
                out.push(n);
            }
        }
        Ok(out)
    }

    /// Specs of every container whose record can be read.
    pub fn specs(&self) -> Vec<ContainerSpec> {
        self.ids()
            .unwrap_or_default()
            .iter()
            .filter_map(|id| self.spec(id).ok())
            .collect()
    }

    /// Layers that containers mount, which the image store must keep.
    pub fn layers_in_use(&self) -> Vec<String> {
        self.specs().into_iter().flat_map(|s| s.layers).collect()
    }

    /// Removes a container's directory and its name. Files a container wrote may belong
    /// to subordinate ids: call this inside the user namespace.
    pub fn remove(&self, id: &str, name: &str) -> Result<(), ContainerError> {
        let dir = self.dir(id);
        let link = self.root.join("names").join(name);
        if fs::read_link(&link)
            .map(|p| p == Path::new(id))
            .unwrap_or(false)
        {
            let _ = fs::remove_file(&link);
        }
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&dir, "remove")(e)),
        }
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(p: &Path) -> Result<T, ContainerError> {
    let bytes = fs::read(p).map_err(io_err(p, "read"))?;
    serde_json::from_slice(&bytes).map_err(|source| ContainerError::Corrupt {
        path: p.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_taken_once() {
        let dir = std::env::temp_dir().join(format!("box-ctr-test-{}", std::process::id()));
        let c = Containers::open(&dir).unwrap();
        let (id, name, d) = c.create(Some("web")).unwrap();
        assert_eq!((name.as_str(), id.len()), ("web", 64));
        assert!(d.join("upper").is_dir());
        assert!(matches!(
            c.create(Some("web")),
            Err(ContainerError::NameInUse { .. })
        ));
        assert!(matches!(
            c.create(Some("-bad")),
            Err(ContainerError::BadName(_))
        ));
        let (_, random, _) = c.create(None).unwrap();
        assert!(random.contains('_'));
        c.remove(&id, "web").unwrap();
        c.create(Some("web")).unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }
}
