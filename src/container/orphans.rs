//! Container directories without a record: what a `box run` interrupted (Ctrl-C,
//! SIGKILL) between making the directory and writing `container.json` leaves, with
//! its name claimed. `box rm NAME|ID` and the prunes remove them.
//!
//! A `box run` holds the new container's `shim.lock` from before it claims the name
//! until the record is written ([`Containers::create`]), and the kernel lets go of
//! that lock however the run ends. So a directory without a record that nobody holds
//! is left behind for good, unless it is so young that its run has not taken the lock
//! yet: such ones are left alone for [`ORPHAN_AGE`]. A run in progress is never hit.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::{io_err, ContainerError, Containers};

/// How old a directory without a record must be before it counts as left behind:
/// far longer than a `box run` takes from making it to holding it.
pub const ORPHAN_AGE: Duration = Duration::from_secs(5);

impl Containers {
    /// Whether the container has its record (`container.json`).
    pub fn has_record(&self, id: &str) -> bool {
        self.dir(id).join("container.json").exists()
    }

    /// The id of the directory without a record that the name `key` leads to.
    pub fn orphan_named(&self, key: &str) -> Option<String> {
        let key = key.trim_start_matches('/');
        let target = fs::read_link(self.root.join("names").join(key)).ok()?;
        let id = target.to_string_lossy().into_owned();
        (id.len() == 64 && self.dir(&id).is_dir() && !self.has_record(&id)).then_some(id)
    }

    /// Takes a directory without a record out of the store, with every name that
    /// leads to it, if it was left behind (see the module's notes); returns the
    /// directory to delete, as [`Containers::unlink`]. `Busy` if a `box run` may
    /// still be making it.
    pub fn unlink_orphan(&self, id: &str) -> Result<PathBuf, ContainerError> {
        let busy = || ContainerError::Busy(id[..12.min(id.len())].to_string());
        let dir = self.dir(id);
        let made = fs::metadata(&dir)
            .and_then(|m| m.modified())
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => ContainerError::NoSuchContainer(id.to_string()),
                _ => io_err(&dir, "stat")(e),
            })?;
        // Too young to judge, and not even locked here: a run about to take its lock
        // must not find it taken.
        if SystemTime::now().duration_since(made).unwrap_or_default() < ORPHAN_AGE {
            return Err(busy());
        }
        let _hold = self.try_lock(id)?;
        // With a record now, it is an ordinary container, which its run has finished.
        if self.has_record(id) {
            return Err(busy());
        }
        let _names = self.lock_names()?;
        let names = self.root.join("names");
        for e in fs::read_dir(&names)
            .map_err(io_err(&names, "list names"))?
            .flatten()
        {
            if fs::read_link(e.path()).is_ok_and(|t| t == Path::new(id)) {
                let _ = fs::remove_file(e.path());
            }
        }
        self.to_trash(id)
    }
}
