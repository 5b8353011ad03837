//! The only module with `unsafe` code: thin, safe wrappers over the few syscalls that
//! the `nix` and `rustix` crates cannot offer safely.
//!
//! Everything else in box uses the safe APIs of `rustix` and `nix`; keep it that way.

#![allow(unsafe_code)]

use std::io;

/// Which side of a [`fork`] the caller is on.
pub enum Forked {
    Parent { child: nix::unistd::Pid },
    Child,
}

/// Forks the calling process.
///
/// Callers must only fork while the process is single-threaded (before any async runtime
/// or worker thread starts): box forks to run `newuidmap` for itself, at start-up.
pub fn fork() -> io::Result<Forked> {
    // SAFETY: `fork` is unsafe because, in a multi-threaded process, the child may find
    // locks held by threads that no longer exist. We check that this process has exactly
    // one thread (the kernel's own count in /proc/self/status), so no other thread can
    // hold a lock.
    if thread_count()? != 1 {
        return Err(io::Error::other(
            "refusing to fork a multi-threaded process",
        ));
    }
    match unsafe { nix::unistd::fork() }.map_err(io::Error::from)? {
        nix::unistd::ForkResult::Parent { child } => Ok(Forked::Parent { child }),
        nix::unistd::ForkResult::Child => Ok(Forked::Child),
    }
}

/// Ends a forked child at once, without running destructors or atexit handlers that
/// belong to the parent's copy of the process state.
pub fn exit_child(code: i32) -> ! {
    // SAFETY: `_exit` has no preconditions; it is `unsafe` in libc only because it is an
    // FFI call.
    unsafe { libc::_exit(code) }
}

/// The number of threads of this process, as the kernel counts them.
pub fn thread_count() -> io::Result<usize> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| io::Error::other("no Threads: line in /proc/self/status"))
}
