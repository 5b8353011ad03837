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

/// Runs `child` in a forked copy of this process and returns the child's pid to the
/// parent. The child never comes back into the caller's code: it ends with `child`'s
/// value as its exit status, or 101 if `child` panics (an unwinding panic would
/// otherwise run the parent's code a second time, in the child).
///
/// Single-threaded callers only, as for [`fork`] (which this checks).
pub fn fork_run(child: impl FnOnce() -> i32) -> io::Result<nix::unistd::Pid> {
    match fork()? {
        Forked::Parent { child } => Ok(child),
        Forked::Child => {
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child));
            exit_child(code.unwrap_or(101))
        }
    }
}

/// Ends a forked child at once, without running destructors or atexit handlers that
/// belong to the parent's copy of the process state.
pub fn exit_child(code: i32) -> ! {
    // SAFETY: `_exit` has no preconditions; it is `unsafe` in libc only because it is an
    // FFI call.
    unsafe { libc::_exit(code) }
}

/// Unblocks every signal: a shim blocks those it reads from its signalfd, and its
/// children (a container's init, an exec, the network holder) inherit the mask.
pub fn unblock_all_signals() {
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    );
}

/// Puts every signal back to its default action, for a process about to exec a
/// container's command: an ignored signal stays ignored across execve, and Rust's
/// runtime ignores SIGPIPE in box itself, which `yes | head` in a container must not
/// inherit (nor whatever else box's own caller ignored).
pub fn default_signal_actions() {
    // The kernel's `struct sigaction`, all zeros: SIG_DFL, no flags, an empty mask,
    // whatever the architecture's field order (and whether it has `sa_restorer`).
    let dfl = [0u64; 4];
    for sig in 1..=libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: `rt_sigaction` reads `dfl`, which is larger than the kernel's struct
        // and outlives the call, and writes nothing (no old action asked for). The
        // new action is SIG_DFL, so no code of ours can run in signal context. The raw
        // syscall, not libc's `sigaction`, which refuses the signals the C library
        // reserves for itself (those may be ignored too, by whoever started box).
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                dfl.as_ptr(),
                std::ptr::null_mut::<libc::c_void>(),
                8usize,
            );
        }
    }
}

/// Marks every descriptor above stderr close-on-exec: whatever the caller left open
/// (`exec 5</etc/shadow` in a shell, a make jobserver's pipe) must not reach a shim
/// or a container, which pass on only stdio, as Docker's. Run first thing in `main`,
/// before box opens anything of its own; box's own descriptors are close-on-exec
/// already, and those it hands to a helper by number are made after this.
pub fn cloexec_inherited_fds() {
    // SAFETY: with CLOSE_RANGE_CLOEXEC, close_range(2) closes nothing: it only sets
    // the close-on-exec flag of the descriptors in the range, so no owner of one of
    // them in this process is affected until an exec, which is the point.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc == 0 {
        return;
    }
    // Kernels before 5.11: one by one, as /proc lists them.
    for fd in fds_above_stderr() {
        // SAFETY: F_SETFD only changes the flag of a descriptor number (one that is
        // not open, such as the listing's own, fails with EBADF).
        unsafe {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
}

/// Closes every descriptor above stderr, for a process that stays behind without
/// an exec and will not return to its callers: `--init`'s PID 1, a clone of the shim,
/// once its command is forked off. Close-on-exec does nothing for it, and it would
/// otherwise keep the shim's sockets, listener and log open for the container's life.
pub fn close_fds_for_good() {
    // SAFETY: close_range(2) takes three integers. Closing descriptors that objects of
    // this process still own is sound here only because the caller never uses or
    // drops those objects again: `--init`'s PID 1 goes on with descriptors it makes
    // afterwards (its signalfd) and ends with `_exit`.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
    if rc == 0 {
        return;
    }
    // Kernels before 5.9: one by one, as /proc lists them.
    for fd in fds_above_stderr() {
        // SAFETY: as above: the owners of these descriptors are never used again (one
        // that is not open, such as the listing's own, fails with EBADF).
        unsafe {
            libc::close(fd);
        }
    }
}

/// The process's descriptors above stderr, as /proc lists them (the listing's own
/// among them, closed by the time the caller acts on it).
fn fds_above_stderr() -> Vec<i32> {
    std::fs::read_dir("/proc/self/fd")
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .filter(|fd| *fd > 2)
                .collect()
        })
        .unwrap_or_default()
}

/// Sends signal `sig` by number, real-time ones included (`SIGRTMIN+3`), which
/// `nix`'s `Signal` cannot name.
pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: kill(2) takes two integers and touches no memory of ours.
    if unsafe { libc::kill(pid, sig) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Makes a program started with `cmd` die with the thread that starts it (a helper
/// such as `pasta` must not outlive a shim killed with SIGKILL).
pub fn die_with_parent(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and only calls
    // prctl(2), which is async-signal-safe and touches no memory of the parent's.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                .map_err(io::Error::from)
        });
    }
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
/// `forked` runs in PID 1 once the child exists (to let go of what only the command's
/// exec should keep open).
pub fn init_and_exec(
    file: &std::ffi::CStr,
    argv: &[std::ffi::CString],
    env: &[std::ffi::CString],
    forked: impl FnOnce(),
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
            forked();
            let sfd = SignalFd::with_flags(&all, SfdFlags::SFD_CLOEXEC)?;
            loop {
                let Some(info) = sfd.read_signal()? else {
                    continue;
                };
                let sig = info.ssi_signo as i32;
                if sig != libc::SIGCHLD {
                    let _ = kill(child.as_raw(), sig);
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

/// Gives back the memory an idle process does not need, without losing anything: the
/// shim calls it once its container has started, before it settles into its loop.
///
/// - `malloc_trim(0)` returns the free parts of the heap to the kernel.
/// - Every mapping of a file that is not writable (`r--p`, `r-xp`: the text and
///   read-only data of box and of the libraries) and holds no page of its own (no
///   `Anonymous` and no `Swap` page) is dropped with `madvise(MADV_DONTNEED)`. Start-up
///   touched megabytes of box's text that the idle loop never runs again; they count in
///   the process's Rss and Pss until they are dropped.
///
/// Why it is lossless: every resident page of such a mapping is the file's own page in
/// the page cache, mapped as it is: no write was possible, and a private mapping's
/// copy-on-write copy is an anonymous page (`Anonymous` while resident, `Swap` once
/// swapped out), which rules the mapping out. `MADV_DONTNEED` only unmaps those pages
/// from this process; the page cache keeps them, and the next access maps them back from
/// it (a minor fault) with the same contents. For clean pages it is what the kernel
/// itself may do at any time under memory pressure. `Private_Dirty` is no reason to keep
/// a mapping: it also counts page-cache pages that are dirty because the *file* was
/// written (a binary copied into place moments ago, not yet written back; every page of
/// a file on tmpfs), and those stay in the page cache just the same. Mappings with a
/// page of their own (such as the relocated `.data.rel.ro` of a position-independent
/// binary, `r--p` after relocation but anonymous underneath) are left alone: dropping
/// those pages would lose the relocations. The process is single-threaded when it
/// calls this (checked: it refuses otherwise), so no mapping changes between reading
/// `/proc/self/smaps` and the `madvise`.
///
/// A mapping the kernel refuses to advise (a locked or device one) is left as it was.
/// Returns the bytes dropped from the mappings' resident sets, as `/proc/self/smaps`
/// counted them.
pub fn trim_resident() -> io::Result<u64> {
    if thread_count()? != 1 {
        return Err(io::Error::other(
            "refusing to trim a multi-threaded process",
        ));
    }
    let ranges = file_page_ranges(&std::fs::read_to_string("/proc/self/smaps")?);
    let mut dropped = 0;
    for (start, end, rss) in ranges {
        // SAFETY: `[start, end)` is a whole mapping of this process (page-aligned, as
        // the kernel lists it) that maps a file read-only and holds only the file's own
        // page-cache pages (checked above; this process has one thread, this one, which
        // has not mapped, unmapped or mprotected anything since, so still true). Unmapping
        // them changes no memory contents that any Rust reference could observe: the
        // next read faults in the same bytes from the page cache. Nothing can have
        // written there (no `w` permission), so no data is lost.
        let rc =
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
        if rc == 0 {
            dropped += rss;
        }
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only releases free memory at the top of glibc's heaps (and,
    // since glibc 2.8, whole free pages inside them); it takes the allocator's own locks
    // and touches no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
    Ok(dropped)
}

/// The mappings in `smaps` (the text of /proc/PID/smaps) that map a file without write
/// permission, have no anonymous page (resident or swapped out) and some resident page:
/// `(start, end, resident bytes)`.
fn file_page_ranges(smaps: &str) -> Vec<(usize, usize, u64)> {
    struct Mapping {
        start: usize,
        end: usize,
        candidate: bool,
        rss: u64,
        own: u64,
    }
    let mut out = Vec::new();
    let mut cur: Option<Mapping> = None;
    let flush = |m: Option<Mapping>, out: &mut Vec<(usize, usize, u64)>| {
        if let Some(m) = m {
            if m.candidate && m.rss > 0 && m.own == 0 {
                out.push((m.start, m.end, m.rss));
            }
        }
    };
    for line in smaps.lines() {
        let mut fields = line.split_ascii_whitespace();
        let Some(first) = fields.next() else {
            continue;
        };
        if let Some(kb_field) = first.strip_suffix(':') {
            let Some(m) = cur.as_mut() else { continue };
            let kb = || {
                line[first.len()..]
                    .split_ascii_whitespace()
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
            };
            match kb_field {
                "Rss" => m.rss = kb().unwrap_or(0) * 1024,
                // An unreadable count means "not known to be the file's".
                "Anonymous" | "Swap" => m.own += kb().unwrap_or(1),
                _ => {}
            }
            continue;
        }
        // A mapping's header: START-END PERMS OFFSET DEV INODE [PATH]
        let Some((start, end)) = first.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) else {
            continue;
        };
        flush(cur.take(), &mut out);
        let perms = fields.next().unwrap_or("");
        let inode = fields.nth(2).unwrap_or("0");
        cur = Some(Mapping {
            start,
            end,
            // A file (inode 0 is anonymous memory, the stack, the heap, [vdso], ...)
            // mapped readable but not writable.
            candidate: inode != "0" && perms.len() == 4 && !perms.contains('w'),
            rss: 0,
            own: 0,
        });
    }
    flush(cur.take(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::file_page_ranges;

    #[test]
    fn only_read_only_file_mappings_without_pages_of_their_own() {
        let smaps = "\
00400000-00600000 r-xp 00000000 fd:01 1234                       /usr/local/bin/box
Rss:                 600 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me dw
00600000-00640000 r--p 00200000 fd:01 1234                       /usr/local/bin/box
Rss:                 256 kB
Private_Dirty:       180 kB
Anonymous:           180 kB
00640000-00650000 rw-p 00240000 fd:01 1234                       /usr/local/bin/box
Rss:                  64 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
00650000-00700000 rw-p 00000000 00:00 0                          [heap]
Rss:                  64 kB
Private_Dirty:        64 kB
Anonymous:            64 kB
00700000-00720000 r--p 00250000 fd:01 1234                       /usr/local/bin/box
Rss:                  32 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
Swap:                  8 kB
7f0000000000-7f0000010000 r--p 00000000 fd:01 99                 /usr/lib/x86_64-linux-gnu/libc.so.6
Rss:                  64 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
7f0000010000-7f0000020000 r-xp 00010000 fd:01 99                 /usr/lib/x86_64-linux-gnu/libc.so.6
Rss:                   0 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
7f0000020000-7f0000030000 r-xp 00000000 00:1f 77                 /tmp/box (deleted)
Rss:                  64 kB
Private_Dirty:        64 kB
Anonymous:             0 kB
Swap:                  0 kB
7fff00000000-7fff00002000 r-xp 00000000 00:00 0                  [vdso]
Rss:                   8 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
";
        assert_eq!(
            file_page_ranges(smaps),
            vec![
                (0x400000, 0x600000, 600 * 1024),
                (0x7f0000000000, 0x7f0000010000, 64 * 1024),
                // Dirty in the page cache (a file just written, or on tmpfs), but the
                // file's own pages all the same.
                (0x7f0000020000, 0x7f0000030000, 64 * 1024),
            ]
        );
    }

    #[test]
    fn trim_resident_refuses_a_multi_threaded_process() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || rx.recv());
        assert!(super::trim_resident().is_err());
        drop(tx);
        let _ = t.join();
    }
}
