//! Where a seccomp profile comes from: Docker's default profile, kept as data, and
//! profiles in Docker's JSON format. Both are read into the same [`Profile`] so that
//! [`super`] has one compiler; what `includes`/`excludes` mean and how a rule becomes
//! BPF is decided there, not here.
//!
//! The default profile is a transcription of moby's `profiles/seccomp/default.json`
//! (the moby/profiles repository, 2025: io_uring gone, `socket` limited to an
//! allow-list of address families), group by group and in upstream order, so that a
//! diff against a newer upstream stays easy to read. Names the running architecture
//! does not have (`chown32`, `_llseek`, ...) are skipped when compiling, as libseccomp
//! does, which is why the table can list every architecture's calls.

use serde::Deserialize;

use super::{describe, Action, Arg, CmpOp, Cond, KernelVersion, Profile, Rule, SeccompError};

// ---------------------------------------------------------------------------------
// Docker's default profile.

/// Docker's default profile, read into the model.
pub(super) fn docker_default() -> Profile<'static> {
    let cond = |c: &StaticCond| Cond {
        caps: c.caps.to_vec(),
        arches: c.arches.to_vec(),
        min_kernel: c.min_kernel,
    };
    let rule = |g: &Group| Rule {
        names: g.names.to_vec(),
        action: g.action,
        args: g.args.to_vec(),
        includes: cond(&g.includes),
        excludes: cond(&g.excludes),
    };
    Profile {
        default_action: DEFAULT_ACTION,
        rules: GROUPS.iter().flat_map(|s| s.iter()).map(rule).collect(),
    }
}

/// What happens to every call no group allows: it fails with EPERM
/// (`defaultAction: SCMP_ACT_ERRNO`, `defaultErrnoRet: 1`).
const DEFAULT_ACTION: Action = Action::Errno(1);

/// One entry of the profile's `syscalls` array, in a form that can live in a static.
#[derive(Clone, Copy, Debug)]
struct Group {
    names: &'static [&'static str],
    action: Action,
    args: &'static [Arg],
    includes: StaticCond,
    excludes: StaticCond,
}

/// Docker's `includes` / `excludes`: capabilities, architectures (libseccomp's short
/// names: `amd64`, `arm64`, ...) and a minimum kernel.
#[derive(Clone, Copy, Debug)]
struct StaticCond {
    caps: &'static [&'static str],
    arches: &'static [&'static str],
    min_kernel: Option<KernelVersion>,
}

const ANY: StaticCond = StaticCond {
    caps: &[],
    arches: &[],
    min_kernel: None,
};

impl Group {
    const fn allow(names: &'static [&'static str]) -> Self {
        Group {
            names,
            action: Action::Allow,
            args: &[],
            includes: ANY,
            excludes: ANY,
        }
    }
    const fn errno(names: &'static [&'static str], errno: u32) -> Self {
        Group {
            action: Action::Errno(errno),
            ..Group::allow(names)
        }
    }
    const fn args(self, args: &'static [Arg]) -> Self {
        Group { args, ..self }
    }
    const fn with_caps(self, caps: &'static [&'static str]) -> Self {
        Group {
            includes: StaticCond {
                caps,
                ..self.includes
            },
            ..self
        }
    }
    const fn without_caps(self, caps: &'static [&'static str]) -> Self {
        Group {
            excludes: StaticCond {
                caps,
                ..self.excludes
            },
            ..self
        }
    }
    const fn on_arches(self, arches: &'static [&'static str]) -> Self {
        Group {
            includes: StaticCond {
                arches,
                ..self.includes
            },
            ..self
        }
    }
    const fn not_on_arches(self, arches: &'static [&'static str]) -> Self {
        Group {
            excludes: StaticCond {
                arches,
                ..self.excludes
            },
            ..self
        }
    }
    const fn since_kernel(self, major: u32, minor: u32) -> Self {
        let min_kernel = Some(KernelVersion { major, minor });
        Group {
            includes: StaticCond {
                min_kernel,
                ..self.includes
            },
            ..self
        }
    }
}

impl Arg {
    const fn eq(index: u8, value: u64) -> Self {
        Arg {
            index,
            value,
            value_two: 0,
            op: CmpOp::Eq,
        }
    }
    const fn lt(index: u8, value: u64) -> Self {
        Arg {
            index,
            value,
            value_two: 0,
            op: CmpOp::Lt,
        }
    }
    /// `(arg & mask) == value`, Docker's `SCMP_CMP_MASKED_EQ` with `valueTwo`.
    const fn masked_eq(index: u8, mask: u64, value: u64) -> Self {
        Arg {
            index,
            value: mask,
            value_two: value,
            op: CmpOp::MaskedEq,
        }
    }
}

/// The namespace flags of clone(2) (CLONE_NEWNS | NEWUTS | NEWIPC | NEWUSER | NEWPID |
/// NEWNET | NEWCGROUP = 0x7E020000): without CAP_SYS_ADMIN, clone is allowed only
/// when none is set.
const CLONE_NAMESPACE_FLAGS: u64 = 0x7E02_0000;

/// Builds the `socket(domain == N)` groups of the family allow-list.
macro_rules! socket_families {
    ($($family:literal),+ $(,)?) => {
        [$(Group::allow(&["socket"]).args(&[Arg::eq(0, $family)])),+]
    };
}

/// The address families `socket` may create beyond 1-11 (AF_UNIX to AF_ROSE, one
/// `< 12` rule upstream). Left out on purpose upstream: AF_DECnet 12, AF_ECONET 19,
/// AF_ATMSVC 20, AF_IRDA 23, AF_WANPIPE 25 and AF_ISDN 34 (gone from the kernel),
/// AF_CAIF 37, AF_ALG 38 (kernel crypto API: attack surface with no container use)
/// and AF_VSOCK 40 (host/guest sockets, not isolated by network namespaces).
const SOCKET_FAMILIES: [Group; 25] = socket_families![
    13, // AF_NETBEUI
    14, // AF_SECURITY
    15, // AF_KEY
    16, // AF_NETLINK
    17, // AF_PACKET
    18, // AF_ASH
    21, // AF_RDS
    22, // AF_SNA
    24, // AF_PPPOX
    26, // AF_LLC
    27, // AF_IB
    28, // AF_MPLS
    29, // AF_CAN
    30, // AF_TIPC
    31, // AF_BLUETOOTH
    32, // AF_IUCV
    33, // AF_RXRPC
    35, // AF_PHONET
    36, // AF_IEEE802154
    39, // AF_NFC
    41, // AF_KCM
    42, // AF_QIPCRTR
    43, // AF_SMC
    44, // AF_XDP
    45, // AF_MCTP
];

/// The profile's `syscalls` array, in upstream order: the groups before the family
/// allow-list, the allow-list, the groups after it.
static GROUPS: [&[Group]; 3] = [BEFORE_FAMILIES, &SOCKET_FAMILIES, AFTER_FAMILIES];

#[rustfmt::skip]
const BEFORE_FAMILIES: &[Group] = &[
    Group::allow(&[
        "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat",
        "capget", "capset", "chdir", "chmod", "chown", "chown32", "clock_adjtime",
        "clock_adjtime64", "clock_getres", "clock_getres_time64", "clock_gettime",
        "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "close",
        "close_range", "connect", "copy_file_range", "creat", "dup", "dup2", "dup3",
        "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
        "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve",
        "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64",
        "fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat",
        "fchmodat2", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync",
        "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat",
        "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64",
        "futex", "futex_requeue", "futex_time64", "futex_wait", "futex_waitv", "futex_wake",
        "futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid", "getegid32",
        "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32",
        "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid",
        "getpriority", "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32",
        "getrlimit", "get_robust_list", "getrusage", "getsid", "getsockname", "getsockopt",
        "get_thread_area", "gettid", "gettimeofday", "getuid", "getuid32", "getxattr",
        "getxattrat", "inotify_add_watch", "inotify_init", "inotify_init1",
        "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents",
        "io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup",
        "io_submit", "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset",
        "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link", "linkat",
        "listen", "listmount", "listxattr", "listxattrat", "llistxattr", "_llseek",
        "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise",
        "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret", "mincore",
        "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap",
        "mmap2", "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
        "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink",
        "mremap", "mseal", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock",
        "munlockall", "munmap", "name_to_handle_at", "nanosleep", "newfstatat",
        "_newselect", "open", "openat", "openat2", "pause", "pidfd_open",
        "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect",
        "poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2",
        "prlimit64", "process_mrelease", "pselect6", "pselect6_time64", "pwrite64",
        "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv",
        "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages",
        "removexattr", "removexattrat", "rename", "renameat", "renameat2",
        "restart_syscall", "riscv_hwprobe", "rmdir", "rseq", "rt_sigaction",
        "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
        "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
        "sched_getaffinity", "sched_getattr", "sched_getparam", "sched_get_priority_max",
        "sched_get_priority_min", "sched_getscheduler", "sched_rr_get_interval",
        "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr",
        "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select",
        "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send", "sendfile",
        "sendfile64", "sendmmsg", "sendmsg", "sendto", "setfsgid", "setfsgid32", "setfsuid",
        "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setitimer",
        "setpgid", "setpriority", "setregid", "setregid32", "setresgid", "setresgid32",
        "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit",
        "set_robust_list", "setsid", "setsockopt", "set_thread_area", "set_tid_address",
        "setuid", "setuid32", "setxattr", "setxattrat", "shmat", "shmctl", "shmdt",
        "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask",
        "sigreturn", "socketcall", "socketpair", "splice", "stat", "stat64", "statfs",
        "statfs64", "statmount", "statx", "symlink", "symlinkat", "sync", "sync_file_range",
        "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete",
        "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
        "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
        "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate", "truncate64",
        "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "uretprobe", "utime",
        "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid",
        "waitpid", "write", "writev",
    ]),
    Group::allow(&["process_vm_readv", "process_vm_writev", "ptrace"]).since_kernel(4, 8),
    // socket(2) by address family. socketcall(2), allowed above, cannot be filtered
    // this way: its arguments are behind a pointer.
    Group::allow(&["socket"]).args(&[Arg::lt(0, 12)]),
];

const AFTER_FAMILIES: &[Group] = &[
    // personality(2): only PER_LINUX (0), UNAME26 (8), ADDR_NO_RANDOMIZE (0x20000) and
    // their combination, plus the 0xffffffff query.
    Group::allow(&["personality"]).args(&[Arg::eq(0, 0x0)]),
    Group::allow(&["personality"]).args(&[Arg::eq(0, 0x0008)]),
    Group::allow(&["personality"]).args(&[Arg::eq(0, 0x20000)]),
    Group::allow(&["personality"]).args(&[Arg::eq(0, 0x20008)]),
    Group::allow(&["personality"]).args(&[Arg::eq(0, 0xffff_ffff)]),
    Group::allow(&["sync_file_range2", "swapcontext"]).on_arches(&["ppc64le"]),
    Group::allow(&[
        "arm_fadvise64_64",
        "arm_sync_file_range",
        "sync_file_range2",
        "breakpoint",
        "cacheflush",
        "set_tls",
    ])
    .on_arches(&["arm", "arm64"]),
    Group::allow(&["arch_prctl"]).on_arches(&["amd64", "x32"]),
    Group::allow(&["modify_ldt"]).on_arches(&["amd64", "x32", "x86"]),
    Group::allow(&[
        "s390_pci_mmio_read",
        "s390_pci_mmio_write",
        "s390_runtime_instr",
    ])
    .on_arches(&["s390", "s390x"]),
    Group::allow(&["riscv_flush_icache"]).on_arches(&["riscv64"]),
    Group::allow(&["open_by_handle_at"]).with_caps(&["CAP_DAC_READ_SEARCH"]),
    Group::allow(&[
        "bpf",
        "clone",
        "clone3",
        "fanotify_init",
        "fsconfig",
        "fsmount",
        "fsopen",
        "fspick",
        "lookup_dcookie",
        "lsm_get_self_attr",
        "lsm_list_modules",
        "lsm_set_self_attr",
        "mount",
        "mount_setattr",
        "move_mount",
        "open_tree",
        "perf_event_open",
        "quotactl",
        "quotactl_fd",
        "setdomainname",
        "sethostname",
        "setns",
        "syslog",
        "umount",
        "umount2",
        "unshare",
    ])
    .with_caps(&["CAP_SYS_ADMIN"]),
    // Without CAP_SYS_ADMIN: clone without namespace flags (s390 swaps clone's first
    // two arguments).
    Group::allow(&["clone"])
        .args(&[Arg::masked_eq(0, CLONE_NAMESPACE_FLAGS, 0)])
        .without_caps(&["CAP_SYS_ADMIN"])
        .not_on_arches(&["s390", "s390x"]),
    Group::allow(&["clone"])
        .args(&[Arg::masked_eq(1, CLONE_NAMESPACE_FLAGS, 0)])
        .on_arches(&["s390", "s390x"])
        .without_caps(&["CAP_SYS_ADMIN"]),
    // clone3 passes its flags in memory, out of seccomp's reach: fail it with ENOSYS so
    // that glibc falls back to clone, whose flags the rule above checks.
    Group::errno(&["clone3"], 38).without_caps(&["CAP_SYS_ADMIN"]),
    Group::allow(&["reboot"]).with_caps(&["CAP_SYS_BOOT"]),
    Group::allow(&["chroot"]).with_caps(&["CAP_SYS_CHROOT"]),
    Group::allow(&["delete_module", "init_module", "finit_module"]).with_caps(&["CAP_SYS_MODULE"]),
    Group::allow(&["acct"]).with_caps(&["CAP_SYS_PACCT"]),
    Group::allow(&[
        "kcmp",
        "pidfd_getfd",
        "process_madvise",
        "process_vm_readv",
        "process_vm_writev",
        "ptrace",
    ])
    .with_caps(&["CAP_SYS_PTRACE"]),
    Group::allow(&["iopl", "ioperm"]).with_caps(&["CAP_SYS_RAWIO"]),
    Group::allow(&["settimeofday", "stime", "clock_settime", "clock_settime64"])
        .with_caps(&["CAP_SYS_TIME"]),
    Group::allow(&["vhangup"]).with_caps(&["CAP_SYS_TTY_CONFIG"]),
    Group::allow(&[
        "get_mempolicy",
        "mbind",
        "set_mempolicy",
        "set_mempolicy_home_node",
    ])
    .with_caps(&["CAP_SYS_NICE"]),
    Group::allow(&["syslog"]).with_caps(&["CAP_SYSLOG"]),
    Group::allow(&["bpf"]).with_caps(&["CAP_BPF"]),
    Group::allow(&["perf_event_open"]).with_caps(&["CAP_PERFMON"]),
];

// ---------------------------------------------------------------------------------
// Docker's JSON format.

/// Reads a profile in Docker's JSON format; [`RawProfile::to_profile`] checks it.
pub(super) fn parse_json(text: &str) -> Result<RawProfile, SeccompError> {
    serde_json::from_str(text).map_err(SeccompError::Json)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawProfile {
    default_action: String,
    default_errno_ret: Option<u32>,
    architectures: Option<Vec<String>>,
    arch_map: Option<Vec<RawArch>>,
    syscalls: Option<Vec<RawSyscall>>,
}

/// Only checked for shape: the filter covers the native architecture alone.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct RawArch {
    architecture: String,
    sub_architectures: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSyscall {
    /// Deprecated single-name form, still accepted by Docker.
    name: Option<String>,
    names: Option<Vec<String>>,
    action: String,
    errno_ret: Option<u32>,
    args: Option<Vec<RawArg>>,
    includes: Option<RawCond>,
    excludes: Option<RawCond>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawArg {
    index: u32,
    value: u64,
    #[serde(default)]
    value_two: u64,
    op: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCond {
    caps: Option<Vec<String>>,
    arches: Option<Vec<String>>,
    min_kernel: Option<String>,
}

impl RawProfile {
    pub(super) fn to_profile(&self) -> Result<Profile<'_>, SeccompError> {
        let has_architectures = self.architectures.as_ref().is_some_and(|v| !v.is_empty());
        if has_architectures && self.arch_map.as_ref().is_some_and(|v| !v.is_empty()) {
            return Err(SeccompError::ArchitecturesAndArchMap);
        }
        let default_errno = self.default_errno_ret.unwrap_or(libc::EPERM as u32);
        let default_action = action(&self.default_action, default_errno, "defaultAction")?;
        let mut rules = Vec::new();
        for (index, raw) in self.syscalls.iter().flatten().enumerate() {
            rules.push(raw.to_rule(index)?);
        }
        Ok(Profile {
            default_action,
            rules,
        })
    }
}

impl RawSyscall {
    fn to_rule(&self, index: usize) -> Result<Rule<'_>, SeccompError> {
        let mut names: Vec<&str> = self.names.iter().flatten().map(String::as_str).collect();
        if let Some(name) = &self.name {
            if !names.is_empty() {
                return Err(SeccompError::NameAndNames { index });
            }
            names.push(name);
        }
        let syscalls = describe(&names);
        let errno = self.errno_ret.unwrap_or(libc::EPERM as u32);
        let action = action(&self.action, errno, &syscalls)?;
        let mut args = Vec::new();
        for raw in self.args.iter().flatten() {
            args.push(raw.to_arg(&syscalls)?);
        }
        Ok(Rule {
            names,
            action,
            args,
            includes: RawCond::to_cond(self.includes.as_ref(), &syscalls)?,
            excludes: RawCond::to_cond(self.excludes.as_ref(), &syscalls)?,
        })
    }
}

impl RawCond {
    fn to_cond<'a>(raw: Option<&'a RawCond>, syscalls: &str) -> Result<Cond<'a>, SeccompError> {
        let Some(raw) = raw else {
            return Ok(Cond::default());
        };
        let strs = |v: &'a Option<Vec<String>>| v.iter().flatten().map(String::as_str).collect();
        let min_kernel = match raw.min_kernel.as_deref() {
            None | Some("") => None,
            Some(v) => Some(parse_min_kernel(v).ok_or_else(|| SeccompError::MinKernel {
                value: v.to_string(),
                syscalls: syscalls.to_string(),
            })?),
        };
        Ok(Cond {
            caps: strs(&raw.caps),
            arches: strs(&raw.arches),
            min_kernel,
        })
    }
}

impl RawArg {
    fn to_arg(&self, syscalls: &str) -> Result<Arg, SeccompError> {
        let op = match self.op.as_str() {
            "SCMP_CMP_EQ" => CmpOp::Eq,
            "SCMP_CMP_NE" => CmpOp::Ne,
            "SCMP_CMP_LT" => CmpOp::Lt,
            "SCMP_CMP_LE" => CmpOp::Le,
            "SCMP_CMP_GT" => CmpOp::Gt,
            "SCMP_CMP_GE" => CmpOp::Ge,
            "SCMP_CMP_MASKED_EQ" => CmpOp::MaskedEq,
            other => {
                return Err(SeccompError::UnknownOp {
                    op: other.to_string(),
                    syscalls: syscalls.to_string(),
                })
            }
        };
        let index =
            u8::try_from(self.index)
                .ok()
                .filter(|i| *i <= 5)
                .ok_or(SeccompError::ArgIndex {
                    index: self.index,
                    syscalls: syscalls.to_string(),
                })?;
        Ok(Arg {
            index,
            value: self.value,
            value_two: self.value_two,
            op,
        })
    }
}

/// Docker's action names, as runc reads them (`SCMP_ACT_KILL` kills the thread;
/// `errno` serves ERRNO and TRACE).
fn action(name: &str, errno: u32, context: &str) -> Result<Action, SeccompError> {
    Ok(match name {
        "SCMP_ACT_ALLOW" => Action::Allow,
        "SCMP_ACT_LOG" => Action::Log,
        "SCMP_ACT_TRACE" => Action::Trace(errno),
        "SCMP_ACT_ERRNO" => Action::Errno(errno),
        "SCMP_ACT_TRAP" => Action::Trap,
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => Action::KillThread,
        "SCMP_ACT_KILL_PROCESS" => Action::KillProcess,
        "SCMP_ACT_NOTIFY" => {
            return Err(SeccompError::UnsupportedAction {
                action: name.to_string(),
                context: context.to_string(),
            })
        }
        _ => {
            return Err(SeccompError::UnknownAction {
                action: name.to_string(),
                context: context.to_string(),
            })
        }
    })
}

/// "4.8" as Docker writes `minKernel` (exactly two numbers).
fn parse_min_kernel(text: &str) -> Option<KernelVersion> {
    let (major, minor) = text.split_once('.')?;
    let version = KernelVersion {
        major: major.parse().ok()?,
        minor: minor.parse().ok()?,
    };
    (version != KernelVersion { major: 0, minor: 0 }).then_some(version)
}
