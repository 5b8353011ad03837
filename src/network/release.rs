//! Ports on their way out. A helper being ended keeps its ports for the 15-50 ms the
//! kernel takes to tear down its tap device, after its container's exit is reported,
//! and Debian 12's pasta's listening sockets outlive the process by a few more
//! milliseconds. So the shim marks such a helper `releasing` in the container's runtime
//! directory until its ports can be bound again, and a port check that finds a port
//! taken waits for those marks to go before it says so: `box run --rm -p 80:80 ...`
//! twice in a row works, and the first one's exit was not delayed for it.

use std::path::Path;
use std::time::{Duration, Instant};

use super::ports::{probe, PortError, PortMapping};

/// The mark of a helper that is being ended, in its container's runtime directory:
/// the pid of the shim that ends it.
const RELEASING: &str = "releasing";

/// How long a port check waits for helpers that are being ended.
const RELEASE_LIMIT: Duration = Duration::from_secs(3);

/// How long a shim waits for the ports of the helper it ended to be free.
const FREE_LIMIT: Duration = Duration::from_secs(1);

/// Marks the helper of the container whose runtime directory is `dir` as ending, by
/// this (the shim's) process.
pub(crate) fn mark_releasing(dir: &Path) {
    let _ = std::fs::write(dir.join(RELEASING), std::process::id().to_string());
}

pub(crate) fn clear_releasing(dir: &Path) {
    let _ = std::fs::remove_file(dir.join(RELEASING));
}

/// Waits, at most [`FREE_LIMIT`], until every host port of `mappings` can be bound:
/// the ports of a helper that is gone, which the kernel may not have let go of yet.
pub(crate) fn await_free(mappings: &[PortMapping]) {
    let deadline = Instant::now() + FREE_LIMIT;
    for m in mappings {
        while matches!(
            probe(m.host_ip, m.host_port, m.proto),
            Err(PortError::Taken { .. })
        ) && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Waits, at most [`RELEASE_LIMIT`], until no container's runtime directory under
/// `root` has a helper marked releasing by a shim that is still there (a mark left by
/// a killed shim costs nothing).
pub(crate) fn wait_released(root: &Path) {
    let deadline = Instant::now() + RELEASE_LIMIT;
    while releasing(root) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn releasing(root: &Path) -> bool {
    let Ok(dirs) = std::fs::read_dir(root) else {
        return false;
    };
    dirs.flatten().any(|d| {
        std::fs::read_to_string(d.path().join(RELEASING))
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
            .is_some_and(crate::runtime::procs::living)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_releasing_helper_is_waited_for() {
        let root = std::env::temp_dir().join(format!("box-ports-{}", std::process::id()));
        let dir = root.join("abc");
        std::fs::create_dir_all(&dir).unwrap();
        // A mark by a process that is gone costs nothing.
        std::fs::write(dir.join(RELEASING), i32::MAX.to_string()).unwrap();
        assert!(!releasing(&root));
        // One by a living process is waited for until it goes.
        mark_releasing(&dir);
        assert!(releasing(&root));
        let t = std::thread::spawn({
            let dir = dir.clone();
            move || {
                std::thread::sleep(Duration::from_millis(50));
                clear_releasing(&dir);
            }
        });
        let start = Instant::now();
        wait_released(&root);
        assert!(start.elapsed() >= Duration::from_millis(40));
        assert!(start.elapsed() < RELEASE_LIMIT);
        t.join().unwrap();
        std::fs::remove_dir_all(&root).unwrap();
    }
}
