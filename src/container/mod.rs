//! Containers on disk, private to the user, so that any `box` process can find them
//! without a daemon:
//!
//! ```text
//! $XDG_DATA_HOME/box/containers/<id>/container.json  the spec, written once by `box run`
//! $XDG_DATA_HOME/box/containers/<id>/state.json      what the shim last recorded
//! $XDG_DATA_HOME/box/containers/<id>/shim.lock       flock'ed by whoever changes the
//!                                                    container: its shim for its whole
//!                                                    life, `box cp` to a stopped one,
//!                                                    `box rm` while it removes
//! $XDG_DATA_HOME/box/containers/<id>/live.lock       flock'ed by the live shim alone:
//!                                                    the one truth about "running"
//! $XDG_DATA_HOME/box/containers/<id>/{upper,work,rootfs,etc}/
//! $XDG_DATA_HOME/box/containers/names/<name>         symlink to the id: creating it
//!                                                    claims the name, atomically; the
//!                                                    directory is flock'ed to move a
//!                                                    name (rename, removal), so none
//!                                                    is left behind
//! $XDG_DATA_HOME/box/containers/.trash-<id>          a container being removed
//! $XDG_RUNTIME_DIR/box/<id>/attach.sock              the shim's socket while it lives,
//!                                                    under the runtime directory of
//!                                                    whoever started it: the state
//!                                                    records where
//! ```
//!
//! A state file can lie: a shim killed with SIGKILL, or a reboot, leaves "running"
//! behind. So "running" is believed only while the shim holds `live.lock`, which the
//! kernel releases however the shim ends ([`Containers::current_state`]). A shim takes
//! `shim.lock` first and `live.lock` second, and keeps both: whoever holds
//! `shim.lock` knows that no shim runs, and a `box cp` holding it is not mistaken for
//! a shim.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::image::store::replace_atomic;
use crate::runtime::spec::ContainerSpec;

pub mod control;
mod names;
mod orphans;

/// The lock file only a live shim holds.
const LIVE_LOCK: &str = "live.lock";
pub use names::random_name;

#[derive(Debug, Error)]
pub enum ContainerError {
    #[error("the container name {name:?} is already in use by container {id}; remove it or choose another name")]
    NameInUse { name: String, id: String },
    #[error("invalid container name {0:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    BadName(String),
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    #[error("container id prefix {0:?} is ambiguous: it matches several containers")]
    Ambiguous(String),
    #[error("container {0} is busy: another box command holds it")]
    Busy(String),
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
    /// Between two runs under a restart policy, in the back-off.
    Restarting,
    Exited,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Restarting => "restarting",
            Status::Exited => "exited",
        }
    }
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
    /// How often the shim restarted it under its restart policy.
    #[serde(default)]
    pub restart_count: u32,
    /// Where its shim listens, recorded by the shim as it starts: under the runtime
    /// directory of the environment that started it, which need not be the caller's
    /// (`su -`, cron, another login). Missing in records of an older box.
    #[serde(default)]
    pub socket: Option<PathBuf>,
}

impl State {
    pub fn created() -> State {
        State {
            status: Status::Created,
            pid: None,
            shim_pid: None,
            exit_code: None,
            created_at: now(),
            started_at: None,
            finished_at: None,
            error: None,
            restart_count: 0,
            socket: None,
        }
    }

    /// Running or between restarts: a shim is in charge.
    pub fn is_live(&self) -> bool {
        matches!(self.status, Status::Running | Status::Restarting)
    }
}

/// A hold on a container (`shim.lock`), and for its shim, the mark that it lives
/// (`live.lock`); released when the holder ends, however.
pub struct ShimLock {
    _hold: fs::File,
    _live: Option<fs::File>,
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

    /// Makes a new container's directories, then claims `name` (or a random free
    /// one) for it: its id, name and directory. In that order, a name never points at
    /// nothing. The container is held (`shim.lock`) until the caller drops the lock
    /// returned last, once its record is written: a directory without a record that
    /// nobody holds was left by an interrupted `box run` ([`Containers::unlink_orphan`]).
    pub fn create(
        &self,
        name: Option<&str>,
    ) -> Result<(String, String, PathBuf, ShimLock), ContainerError> {
        let id = new_id();
        let dir = self.dir(&id);
        for sub in ["upper", "work", "rootfs", "etc"] {
            let p = dir.join(sub);
            fs::create_dir_all(&p).map_err(io_err(&p, "create directory"))?;
        }
        // Made now: a container without one is an older box's, whose shims mark their
        // life with `shim.lock` alone (see `shim_alive`).
        let live = dir.join(LIVE_LOCK);
        fs::File::create(&live).map_err(io_err(&live, "create"))?;
        let claimed = self
            .try_lock(&id)
            .and_then(|hold| Ok((hold, self.claim_name(name, &id)?)));
        match claimed {
            Ok((hold, name)) => Ok((id, name, dir, hold)),
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }

    /// The id of the container called `key`: its name, its id, or a unique prefix of
    /// its id, as Docker accepts.
    pub fn resolve(&self, key: &str) -> Result<String, ContainerError> {
        let key = key.trim_start_matches('/');
        if let Ok(target) = fs::read_link(self.root.join("names").join(key)) {
            let id = target.to_string_lossy().into_owned();
            if self.has_record(&id) {
                return Ok(id);
            }
        }
        if !key.is_empty() && key.bytes().all(|b| b.is_ascii_hexdigit()) {
            let key = key.to_ascii_lowercase();
            let mut found = self.ids()?.into_iter().filter(|id| id.starts_with(&key));
            if let Some(id) = found.next() {
                if found.next().is_some() {
                    return Err(ContainerError::Ambiguous(key));
                }
                return Ok(id);
            }
        }
        Err(ContainerError::NoSuchContainer(key.to_string()))
    }

    /// Holds the container while changing it (a copy into a stopped container, a
    /// removal), so that no shim starts meanwhile. `Busy` if someone holds it
    /// already: its shim (then [`Containers::shim_alive`] says so) or another command.
    pub fn try_lock(&self, id: &str) -> Result<ShimLock, ContainerError> {
        Ok(ShimLock {
            _hold: self.flock(id, "shim.lock")?,
            _live: None,
        })
    }

    /// Holds a stopped container (see [`Containers::try_lock`]), waiting up to `wait`
    /// while another command holds it; `None` if its shim runs (or is starting).
    pub fn hold_stopped(
        &self,
        id: &str,
        wait: Duration,
    ) -> Result<Option<ShimLock>, ContainerError> {
        let deadline = Instant::now() + wait;
        loop {
            match self.try_lock(id) {
                Ok(l) => return Ok(Some(l)),
                Err(ContainerError::Busy(_)) if self.shim_alive(id) => return Ok(None),
                Err(ContainerError::Busy(_)) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The shim's hold on its container, for its whole life: `shim.lock` (waiting up
    /// to `wait` while another command holds it, a `box cp` say), then `live.lock`,
    /// which marks the shim alive. `Busy` if a shim runs already.
    pub fn lock_as_shim(&self, id: &str, wait: Duration) -> Result<ShimLock, ContainerError> {
        let deadline = Instant::now() + wait;
        let mut lock = self
            .hold_stopped(id, wait)?
            .ok_or_else(|| ContainerError::Busy(id[..12.min(id.len())].to_string()))?;
        // A shim that just ended may still hold its `live.lock` for a moment.
        let live = loop {
            match self.flock(id, LIVE_LOCK) {
                Ok(f) => break f,
                Err(ContainerError::Busy(_)) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(e),
            }
        };
        lock._live = Some(live);
        Ok(lock)
    }

    /// An exclusive, non-blocking flock on one of the container's lock files.
    fn flock(&self, id: &str, name: &str) -> Result<fs::File, ContainerError> {
        let path = self.dir(id).join(name);
        let f = fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => ContainerError::NoSuchContainer(id.to_string()),
                _ => io_err(&path, "open")(e),
            })?;
        rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive)
            .map_err(|_| ContainerError::Busy(id[..12.min(id.len())].to_string()))?;
        Ok(f)
    }

    /// Whether a shim is alive for the container: it holds `live.lock`. (A container
    /// without that file is an older box's: its shim holds `shim.lock`.)
    pub fn shim_alive(&self, id: &str) -> bool {
        let dir = self.dir(id);
        let f = match fs::File::open(dir.join(LIVE_LOCK)) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                match fs::File::open(dir.join("shim.lock")) {
                    Ok(f) => f,
                    Err(_) => return false,
                }
            }
            Err(_) => return false,
        };
        rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockShared).is_err()
    }

    /// Waits for a shim that has recorded its container's end but not exited yet (it
    /// is unmounting, reporting to clients), so that `box wait; box start` or `box
    /// wait; box rm` do not find the container busy. Gives up after a few seconds.
    pub fn settle(&self, id: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while self.shim_alive(id)
            && self.state(id).is_ok_and(|s| !s.is_live())
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// The recorded state, corrected: a container whose shim is gone is not running,
    /// whatever the file says (the shim was killed, or the machine rebooted), and its
    /// exit status is unknown.
    pub fn current_state(&self, id: &str) -> Result<State, ContainerError> {
        let st = self.state(id)?;
        if !st.is_live() || self.shim_alive(id) {
            return Ok(st);
        }
        // The shim may have ended normally just now: its last word counts.
        let mut st = self.state(id)?;
        if st.is_live() {
            st.status = Status::Exited;
            st.pid = None;
            st.exit_code = None;
        }
        Ok(st)
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

    /// Ids of every container (not those being removed).
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
        let trash = self.unlink(id, name)?;
        match fs::remove_dir_all(&trash) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&trash, "remove")(e)),
        }
    }

    /// Takes a container out of every listing at once: its name is released and its
    /// directory renamed to `.trash-<id>`, which the caller then deletes (an
    /// interrupted deletion is finished by [`Containers::trash`]'s next caller).
    pub fn unlink(&self, id: &str, name: &str) -> Result<PathBuf, ContainerError> {
        // Under the names' lock, by the name the record has now (a rename may have
        // changed it since the caller read it).
        let _names = self.lock_names()?;
        let name = self.spec(id).map_or_else(|_| name.to_string(), |s| s.name);
        self.release_name(id, &name);
        self.to_trash(id)
    }

    /// Moves the container's directory aside in one step (no command sees half a
    /// container), to be deleted at leisure; already gone is fine.
    fn to_trash(&self, id: &str) -> Result<PathBuf, ContainerError> {
        let dir = self.dir(id);
        let trash = self.root.join(format!(".trash-{id}"));
        match fs::rename(&dir, &trash) {
            Ok(()) => Ok(trash),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(trash),
            Err(e) => Err(io_err(&dir, "remove")(e)),
        }
    }

    /// Directories of removals that did not finish.
    pub fn trash(&self) -> Vec<PathBuf> {
        fs::read_dir(&self.root)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with(".trash-"))
                    .map(|e| e.path())
                    .collect()
            })
            .unwrap_or_default()
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
        let (id, name, d, _) = c.create(Some("web")).unwrap();
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
        let (_, random, _, _) = c.create(None).unwrap();
        assert!(random.contains('_'));
        c.remove(&id, "web").unwrap();
        c.create(Some("web")).unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }
}
