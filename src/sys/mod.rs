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

/// Starts `child` in a new process with the given namespace flags (`clone(2)` without
/// `CLONE_VM`: the child gets a copy of this process, as with fork). Returns its pid.
///
/// Callers must be single-threaded, as for [`fork`]; `child` must not return normally
/// in practice (it execs or exits), but if it does its value is the exit status.
pub fn clone_into(
    flags: nix::sched::CloneFlags,
    child: Box<dyn FnMut() -> isize + '_>,
) -> io::Result<nix::unistd::Pid> {
    if thread_count()? != 1 {
        return Err(io::Error::other(
            "refusing to clone a multi-threaded process",
        ));
    }
    // The child runs on this stack in its own copy of the address space; 8 MiB is what
    // a main thread gets, and untouched pages cost nothing.
    let mut stack = vec![0u8; 8 << 20];
    // SAFETY: `clone` is unsafe for the same reason as `fork` (locks held by other
    // threads; checked above: there are none) and because the child runs on `stack`,
    // which lives until `clone` returns in the parent; the child has its own copy.
    let pid = unsafe { nix::sched::clone(child, &mut stack, flags, Some(libc::SIGCHLD)) };
    pid.map_err(io::Error::from)
}

/// Brings the loopback interface up in the current network namespace.
pub fn loopback_up() -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let sock = rustix::net::socket(
        rustix::net::AddressFamily::INET,
        rustix::net::SocketType::DGRAM,
        None,
    )?;
    // SAFETY: `ifreq` is plain old data; zeroed is a valid value. The name is
    // NUL-terminated within the array, and both ioctls only read/write that struct.
    unsafe {
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo\0".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(io::Error::last_os_error());
        }
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// `--init`: stays as PID 1, runs the command as its child, forwards every signal to
/// it, reaps orphans, and exits with the command's status (128+N for signal N).
pub fn init_and_exec(
    file: &std::ffi::CStr,
    argv: &[std::ffi::CString],
    env: &[std::ffi::CString],
) -> io::Result<std::convert::Infallible> {
    use nix::sys::signal::{SigSet, SigmaskHow};
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    let all = SigSet::all();
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&all), None)?;
    match fork()? {
        Forked::Child => {
            let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&all), None);
            let e = nix::unistd::execve(file, argv, env).unwrap_err();
            exit_child(if e == nix::errno::Errno::ENOENT {
                127
            } else {
                126
            })
        }
        Forked::Parent { child } => {
            let sfd = SignalFd::with_flags(&all, SfdFlags::SFD_CLOEXEC)?;
            loop {
                let Some(info) = sfd.read_signal()? else {
                    continue;
                };
                let sig = info.ssi_signo as i32;
                if sig != libc::SIGCHLD {
                    if let Ok(s) = nix::sys::signal::Signal::try_from(sig) {
                        let _ = nix::sys::signal::kill(child, s);
                    }
                    continue;
                }
                while let Ok(st) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                    match st {
                        WaitStatus::Exited(p, code) if p == child => exit_child(code),
                        WaitStatus::Signaled(p, s, _) if p == child => exit_child(128 + s as i32),
                        WaitStatus::StillAlive => break,
                        _ => {}
                    }
                }
            }
        }
    }
}

/// Installs a seccomp filter on the calling thread *without* setting no_new_privs
/// (seccompiler's own `apply_filter` always sets it, which would break setuid programs
/// inside containers that did not ask for `no-new-privileges`, unlike Docker). The
/// kernel then requires CAP_SYS_ADMIN in the caller's user namespace, which a
/// container's init has as root of its namespace.
pub fn install_seccomp(program: &[seccompiler::sock_filter]) -> io::Result<()> {
    if program.is_empty() || program.len() > u16::MAX as usize {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "empty or oversized seccomp program",
        ));
    }
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `seccompiler::sock_filter` is `#[repr(C)]` with the same fields as the
    // kernel's `struct sock_filter`; `prog` points at `program`, which outlives the
    // call, and the kernel copies the program before returning.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Takes ownership of a descriptor that `recvmsg` just received with SCM_RIGHTS.
pub fn adopt_received_fd(fd: std::os::fd::RawFd) -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: the kernel installed this descriptor in our table for this message; no
    // other owner exists, so wrapping it once makes it closed exactly once.
    unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }
}
