//! Seccomp filters: Docker's default profile, and profiles in Docker's JSON format
//! (`--security-opt seccomp=FILE`), compiled to classic BPF with `seccompiler` and
//! installed on the calling thread.
//!
//! This module owns the profile model (rules with their capability, architecture and
//! kernel conditions), the one compiler, and installing. Its child `seccomp_profile`
//! reads both sources into that model: Docker's default profile, kept as data, and
//! Docker's JSON format. It does not choose when to install the filter (the container
//! init does, as its last step before exec) and never prints.
//!
//! Where box differs from runc + libseccomp, and why:
//! - A seccompiler filter has one action on match and one on mismatch, so a profile
//!   with several actions becomes several filters: one per action A other than allow
//!   (A on a matching rule, allow otherwise), and one for the default action (allow on
//!   any rule, the default otherwise). The kernel runs every installed filter and keeps
//!   the most restrictive verdict (KILL > TRAP > ERRNO > TRACE > LOG > ALLOW), so each
//!   call gets its rule's action, or the default. Docker's default profile gives two
//!   filters (clone3 → ENOSYS) unless CAP_SYS_ADMIN is granted. Should two rules with
//!   different actions both match one call, the more restrictive wins.
//! - Only the native ABI passes: a call made through another one (i386 `int 0x80` on
//!   x86_64, AArch32 on arm64) kills the process, where Docker allows the profile's
//!   sub-architectures. x32 call numbers match no rule and get the default action.
//! - seccompiler sets no_new_privs before installing, so setuid programs in the
//!   container do not gain privileges (Docker's `no-new-privileges`).
//! - `SCMP_ACT_NOTIFY` (a user-space listener) is refused: box runs no listener.
//!
//! As in runc, a rule whose action is the default action is dropped, several `args`
//! on distinct indexes must all match, and several on one index are alternatives.

#[path = "seccomp_profile.rs"]
mod seccomp_profile;

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;

use seccompiler::{
    BackendError, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch,
};
use syscalls::Sysno;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SeccompError {
    #[error("invalid seccomp profile: {0}")]
    Json(#[source] serde_json::Error),
    #[error("invalid seccomp profile: unknown action {action:?} for {context}")]
    UnknownAction { action: String, context: String },
    #[error(
        "seccomp action {action} for {context} is not supported (box runs no seccomp listener)"
    )]
    UnsupportedAction { action: String, context: String },
    #[error("invalid seccomp profile: unknown comparison {op:?} in the rule for {syscalls}")]
    UnknownOp { op: String, syscalls: String },
    #[error(
        "invalid seccomp profile: argument index {index} in the rule for {syscalls} is not 0-5"
    )]
    ArgIndex { index: u32, syscalls: String },
    #[error("invalid seccomp profile: minKernel {value:?} in the rule for {syscalls} is not \"<major>.<minor>\"")]
    MinKernel { value: String, syscalls: String },
    #[error("invalid seccomp profile: rule {index} sets both `name` and `names`")]
    NameAndNames { index: usize },
    #[error("invalid seccomp profile: both `architectures` and `archMap` are set; use one")]
    ArchitecturesAndArchMap,
    #[error("cannot read the kernel release from {path}: {source}")]
    KernelRelease {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot parse the kernel release {release:?} from {path}")]
    KernelReleaseFormat { path: PathBuf, release: String },
    #[error("seccomp filters are not supported on {arch}")]
    UnsupportedArch { arch: &'static str },
    #[error("cannot build the seccomp filter ({what}): {source}")]
    Compile { what: String, source: BackendError },
    #[error("cannot install seccomp filter {index} of {count}: {source}")]
    Apply {
        index: usize,
        count: usize,
        source: std::io::Error,
    },
}

/// A compiled filter, ready to install: one BPF program per action of the profile
/// (see the module documentation), in the order they must be installed.
#[derive(Clone, Debug)]
pub struct Filter(Vec<BpfProgram>);

impl Filter {
    /// Installs the filter on the calling thread (threads created afterwards inherit
    /// it). The caller either has CAP_SYS_ADMIN in its user namespace or has set
    /// no_new_privs; box does not set no_new_privs itself, as Docker does not.
    pub fn apply(&self) -> Result<(), SeccompError> {
        let count = self.0.len();
        for (i, program) in self.0.iter().enumerate() {
            crate::sys::install_seccomp(program).map_err(|source| SeccompError::Apply {
                index: i + 1,
                count,
                source,
            })?;
        }
        Ok(())
    }
}

/// Docker's default profile for a container whose effective capability set is `caps`
/// (capability names as Docker writes them, e.g. "CAP_SYS_ADMIN"); the profile's
/// capability-conditional rules (includes.caps / excludes.caps) depend on it.
pub fn docker_default(caps: &[&str]) -> Result<Filter, SeccompError> {
    compile(plan(&seccomp_profile::docker_default(), caps)?)
}

/// A profile in Docker's JSON format (`--security-opt seccomp=FILE`): defaultAction,
/// defaultErrnoRet, architectures/archMap, syscalls[] with names, action, errnoRet,
/// args (index, value, valueTwo, op), includes/excludes (caps, arches, minKernel).
/// Unknown syscall names are skipped (as libseccomp does for names the arch lacks);
/// unknown actions and comparisons are errors.
pub fn from_docker_json(text: &str, caps: &[&str]) -> Result<Filter, SeccompError> {
    let raw = seccomp_profile::parse_json(text)?;
    compile(plan(&raw.to_profile()?, caps)?)
}

// ---------------------------------------------------------------------------------
// The model both sources (`seccomp_profile`) are read into.

/// What the kernel does with a call: a Docker `SCMP_ACT_*` that seccompiler can express.
/// The order is the kernel's precedence, least restrictive first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Action {
    Allow,
    Log,
    Trace(u32),
    Errno(u32),
    Trap,
    KillThread,
    KillProcess,
}

/// One comparison on a syscall argument (an entry of Docker's `args`). For `MaskedEq`,
/// `value` is the mask and `value_two` what the masked argument must equal.
#[derive(Clone, Copy, Debug)]
struct Arg {
    index: u8,
    value: u64,
    value_two: u64,
    op: CmpOp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    MaskedEq,
}

/// `major.minor` of a kernel, as Docker's `minKernel` gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct KernelVersion {
    major: u32,
    minor: u32,
}

/// When a rule applies (Docker's `includes` / `excludes`).
#[derive(Debug, Default)]
struct Cond<'a> {
    caps: Vec<&'a str>,
    arches: Vec<&'a str>,
    min_kernel: Option<KernelVersion>,
}

/// One entry of a profile's `syscalls`.
#[derive(Debug)]
struct Rule<'a> {
    names: Vec<&'a str>,
    action: Action,
    args: Vec<Arg>,
    includes: Cond<'a>,
    excludes: Cond<'a>,
}

#[derive(Debug)]
struct Profile<'a> {
    default_action: Action,
    rules: Vec<Rule<'a>>,
}

/// A rule's names for error messages: the first few, then how many more.
fn describe(names: &[&str]) -> String {
    match names.len() {
        0 => "a rule with no names".to_string(),
        1..=3 => names.join(", "),
        n => format!("{}, ... ({} names)", names[..3].join(", "), n),
    }
}

// ---------------------------------------------------------------------------------
// Compiling: profile → plan (which calls get which action) → BPF programs.

/// Libseccomp's name for the native architecture (what `includes.arches` lists) and
/// seccompiler's target.
fn native_arch() -> Result<(&'static str, TargetArch), SeccompError> {
    if cfg!(target_arch = "x86_64") {
        Ok(("amd64", TargetArch::x86_64))
    } else if cfg!(target_arch = "aarch64") {
        Ok(("arm64", TargetArch::aarch64))
    } else if cfg!(target_arch = "riscv64") {
        Ok(("riscv64", TargetArch::riscv64))
    } else {
        Err(SeccompError::UnsupportedArch {
            arch: std::env::consts::ARCH,
        })
    }
}

/// When a call gets an action: always, or when one of the rules matches its arguments.
#[derive(Clone, Debug)]
enum Match {
    Always,
    AnyOf(Vec<SeccompRule>),
}

/// Syscall number → when it gets the action.
type Table = BTreeMap<i64, Match>;

/// The profile resolved for one container on this machine.
#[derive(Debug)]
struct Plan {
    arch: TargetArch,
    default_action: Action,
    by_action: BTreeMap<Action, Table>,
}

fn plan(profile: &Profile<'_>, caps: &[&str]) -> Result<Plan, SeccompError> {
    let (arch_name, arch) = native_arch()?;
    let mut kernel = None;
    let mut by_action: BTreeMap<Action, Table> = BTreeMap::new();
    for rule in &profile.rules {
        // Like runc: libseccomp refuses a rule whose action is the default.
        if rule.action == profile.default_action || !applies(rule, caps, arch_name, &mut kernel)? {
            continue;
        }
        let Some(when) = matcher(&rule.args).map_err(|source| SeccompError::Compile {
            what: format!("{:?} for {}", rule.action, describe(&rule.names)),
            source,
        })?
        else {
            continue;
        };
        let table = by_action.entry(rule.action).or_default();
        for name in &rule.names {
            // Names this architecture lacks are skipped, as libseccomp does.
            if let Ok(sysno) = Sysno::from_str(name) {
                merge(table, i64::from(sysno.id()), when.clone());
            }
        }
    }
    Ok(Plan {
        arch,
        default_action: profile.default_action,
        by_action,
    })
}

/// Docker's includes/excludes, evaluated as moby does: every included capability must
/// be held, any excluded one drops the rule; arches name the native architecture;
/// minKernel compares with the running kernel (read only when a rule asks).
fn applies(
    rule: &Rule<'_>,
    caps: &[&str],
    arch: &str,
    kernel: &mut Option<KernelVersion>,
) -> Result<bool, SeccompError> {
    let held = |cap: &&str| caps.iter().any(|c| c.eq_ignore_ascii_case(cap));
    let (inc, exc) = (&rule.includes, &rule.excludes);
    if exc.arches.contains(&arch) || exc.caps.iter().any(held) {
        return Ok(false);
    }
    if (!inc.arches.is_empty() && !inc.arches.contains(&arch)) || !inc.caps.iter().all(held) {
        return Ok(false);
    }
    for (min, wanted) in [(exc.min_kernel, false), (inc.min_kernel, true)] {
        if let Some(min) = min {
            let running = match *kernel {
                Some(v) => v,
                None => *kernel.insert(running_kernel()?),
            };
            if (running >= min) != wanted {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

fn running_kernel() -> Result<KernelVersion, SeccompError> {
    let path = PathBuf::from("/proc/sys/kernel/osrelease");
    let release = std::fs::read_to_string(&path).map_err(|source| SeccompError::KernelRelease {
        path: path.clone(),
        source,
    })?;
    // "6.8.0-45-generic", "3.12-1-amd64": major and the leading digits of minor.
    let mut parts = release.trim().split('.');
    let major = parts.next().and_then(|p| p.parse().ok());
    let minor = parts
        .next()
        .map(|p| p.chars().take_while(char::is_ascii_digit).collect());
    match (major, minor.and_then(|m: String| m.parse().ok())) {
        (Some(major), Some(minor)) => Ok(KernelVersion { major, minor }),
        _ => Err(SeccompError::KernelReleaseFormat { path, release }),
    }
}

/// The seccompiler rules for a rule's `args`; None when they can never match.
fn matcher(args: &[Arg]) -> Result<Option<Match>, BackendError> {
    if args.is_empty() {
        return Ok(Some(Match::Always));
    }
    let conditions = args.iter().map(condition).collect::<Result<Vec<_>, _>>()?;
    let repeated = args
        .iter()
        .enumerate()
        .any(|(i, a)| args[..i].iter().any(|b| b.index == a.index));
    let rules = if repeated {
        // Alternatives: one rule per comparison that can match.
        conditions
            .into_iter()
            .flatten()
            .map(|c| SeccompRule::new(vec![c]))
            .collect::<Result<Vec<_>, _>>()?
    } else {
        match conditions.into_iter().collect::<Option<Vec<_>>>() {
            Some(all) => vec![SeccompRule::new(all)?],
            None => Vec::new(),
        }
    };
    Ok((!rules.is_empty()).then_some(Match::AnyOf(rules)))
}

/// One comparison on the full 64-bit argument, as libseccomp does on 64-bit
/// architectures. None for a masked comparison that can never hold (a value with bits
/// outside the mask), which seccompiler would otherwise silently mask.
fn condition(arg: &Arg) -> Result<Option<SeccompCondition>, BackendError> {
    let (op, value) = match arg.op {
        CmpOp::Eq => (SeccompCmpOp::Eq, arg.value),
        CmpOp::Ne => (SeccompCmpOp::Ne, arg.value),
        CmpOp::Lt => (SeccompCmpOp::Lt, arg.value),
        CmpOp::Le => (SeccompCmpOp::Le, arg.value),
        CmpOp::Gt => (SeccompCmpOp::Gt, arg.value),
        CmpOp::Ge => (SeccompCmpOp::Ge, arg.value),
        CmpOp::MaskedEq if arg.value_two & !arg.value != 0 => return Ok(None),
        CmpOp::MaskedEq => (SeccompCmpOp::MaskedEq(arg.value), arg.value_two),
    };
    SeccompCondition::new(arg.index, SeccompCmpArgLen::Qword, op, value).map(Some)
}

/// Adds `when` for `nr`: an unconditional match wins, conditions accumulate.
fn merge(table: &mut Table, nr: i64, when: Match) {
    match table.entry(nr) {
        Entry::Vacant(e) => {
            e.insert(when);
        }
        Entry::Occupied(mut e) => match (e.get_mut(), when) {
            (Match::Always, _) => {}
            (slot, Match::Always) => *slot = Match::Always,
            (Match::AnyOf(rules), Match::AnyOf(more)) => rules.extend(more),
        },
    }
}

fn compile(plan: Plan) -> Result<Filter, SeccompError> {
    // Installing a filter needs prctl and seccomp; a filter that may refuse them must
    // come after the others.
    let install_calls = [Sysno::prctl, Sysno::seccomp].map(|s| i64::from(s.id()));
    let mut programs: Vec<(bool, BpfProgram)> = Vec::new();
    for (action, table) in &plan.by_action {
        if *action == Action::Allow {
            continue;
        }
        let blocks = install_calls.iter().any(|nr| table.contains_key(nr));
        programs.push((
            blocks,
            build(table.clone(), Action::Allow, *action, plan.arch)?,
        ));
    }
    if plan.default_action != Action::Allow {
        // Every call some rule matches passes this filter; its own filter (above)
        // applies the rule's action.
        let mut listed = Table::new();
        for (nr, when) in plan.by_action.into_values().flatten() {
            merge(&mut listed, nr, when);
        }
        let blocks = !install_calls
            .iter()
            .all(|nr| matches!(listed.get(nr), Some(Match::Always)));
        programs.push((
            blocks,
            build(listed, plan.default_action, Action::Allow, plan.arch)?,
        ));
    }
    programs.sort_by_key(|(blocks, _)| *blocks);
    Ok(Filter(programs.into_iter().map(|(_, p)| p).collect()))
}

fn build(
    table: Table,
    mismatch: Action,
    on_match: Action,
    arch: TargetArch,
) -> Result<BpfProgram, SeccompError> {
    let what = if on_match == Action::Allow {
        format!("default action {mismatch:?}")
    } else {
        format!("{on_match:?} rules")
    };
    let err = |source| SeccompError::Compile {
        what: what.clone(),
        source,
    };
    let rules = table
        .into_iter()
        .map(|(nr, when)| match when {
            Match::Always => (nr, Vec::new()),
            Match::AnyOf(rules) => (nr, rules),
        })
        .collect();
    let filter = SeccompFilter::new(
        rules,
        seccomp_action(mismatch),
        seccomp_action(on_match),
        arch,
    )
    .map_err(err)?;
    BpfProgram::try_from(filter).map_err(err)
}

fn seccomp_action(action: Action) -> SeccompAction {
    match action {
        Action::Allow => SeccompAction::Allow,
        Action::Log => SeccompAction::Log,
        Action::Trace(data) => SeccompAction::Trace(data),
        Action::Errno(errno) => SeccompAction::Errno(errno),
        Action::Trap => SeccompAction::Trap,
        Action::KillThread => SeccompAction::KillThread,
        Action::KillProcess => SeccompAction::KillProcess,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::errno::Errno;
    use nix::sched::CloneFlags;

    use crate::runtime::spec::DEFAULT_CAPS as DOCKER_CAPS;

    fn nr(name: &str) -> i64 {
        i64::from(Sysno::from_str(name).unwrap().id())
    }

    fn default_plan(caps: &[&str]) -> Plan {
        plan(&seccomp_profile::docker_default(), caps).unwrap()
    }

    #[test]
    fn default_profile_compiles_for_each_cap_set() {
        for caps in [&[][..], DOCKER_CAPS, &["CAP_SYS_ADMIN"]] {
            let filter = docker_default(caps).unwrap();
            assert!(filter.0.iter().all(|p| !p.is_empty()));
        }
        // clone3 → ENOSYS needs its own filter unless CAP_SYS_ADMIN allows it.
        assert_eq!(docker_default(DOCKER_CAPS).unwrap().0.len(), 2);
        assert_eq!(docker_default(&["CAP_SYS_ADMIN"]).unwrap().0.len(), 1);
    }

    #[test]
    fn capabilities_choose_the_conditional_groups() {
        let docker = default_plan(DOCKER_CAPS);
        let allow = &docker.by_action[&Action::Allow];
        eprintln!("Docker's default caps: {} syscalls allowed", allow.len());
        assert!(allow.len() > 300);
        assert!(
            allow.contains_key(&nr("chroot")),
            "CAP_SYS_CHROOT allows chroot"
        );
        for denied in [
            "mount", "unshare", "setns", "reboot", "keyctl", "bpf", "clone3",
        ] {
            assert!(
                !allow.contains_key(&nr(denied)),
                "{denied} must not be allowed"
            );
        }
        assert!(matches!(&allow[&nr("clone")], Match::AnyOf(r) if r.len() == 1));
        assert!(matches!(&allow[&nr("socket")], Match::AnyOf(r) if r.len() == 26));
        assert!(matches!(&allow[&nr("personality")], Match::AnyOf(r) if r.len() == 5));
        let enosys = &docker.by_action[&Action::Errno(38)];
        assert_eq!(enosys.keys().collect::<Vec<_>>(), [&nr("clone3")]);

        let none = default_plan(&[]);
        assert!(!none.by_action[&Action::Allow].contains_key(&nr("chroot")));

        let admin = default_plan(&["cap_sys_admin"]);
        let allow = &admin.by_action[&Action::Allow];
        for name in ["mount", "unshare", "setns", "clone", "clone3"] {
            assert!(
                matches!(allow[&nr(name)], Match::Always),
                "{name} with CAP_SYS_ADMIN"
            );
        }
        assert!(!admin.by_action.contains_key(&Action::Errno(38)));
        #[cfg(target_arch = "x86_64")]
        assert!(allow.contains_key(&nr("arch_prctl")) && allow.contains_key(&nr("modify_ldt")));
    }

    const SMALL_PROFILE: &str = r#"{
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": null}],
        "syscalls": [
            {"names": ["read", "write", "no_such_call", "chown32"], "action": "SCMP_ACT_ALLOW"},
            {"name": "getpid", "action": "SCMP_ACT_ALLOW", "comment": "old single-name form"},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
             "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
            {"names": ["uselib"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "99.0"}},
            {"names": ["s390_runtime_instr"], "action": "SCMP_ACT_ALLOW",
             "includes": {"arches": ["s390x"]}},
            {"names": ["kill"], "action": "SCMP_ACT_KILL_PROCESS",
             "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}]}
        ]
    }"#;

    #[test]
    fn a_hand_written_profile_compiles() {
        let raw = seccomp_profile::parse_json(SMALL_PROFILE).unwrap();
        let plan = plan(&raw.to_profile().unwrap(), &[]).unwrap();
        let allow = &plan.by_action[&Action::Allow];
        for name in ["read", "write", "getpid", "personality", "clone", "ptrace"] {
            assert!(allow.contains_key(&nr(name)), "{name} allowed");
        }
        for name in ["mount", "uselib"] {
            assert!(!allow.contains_key(&nr(name)), "{name} not allowed");
        }
        assert!(plan.by_action[&Action::Errno(38)].contains_key(&nr("clone3")));
        assert!(plan.by_action[&Action::KillProcess].contains_key(&nr("kill")));
        // Allow, ENOSYS, kill, and the default.
        assert_eq!(from_docker_json(SMALL_PROFILE, &[]).unwrap().0.len(), 3);
        assert_eq!(
            from_docker_json(SMALL_PROFILE, &["CAP_SYS_ADMIN"])
                .unwrap()
                .0
                .len(),
            2
        );
    }

    #[test]
    fn a_masked_value_outside_its_mask_never_matches() {
        let never = Arg {
            index: 0,
            value: 0xff,
            value_two: 0x100,
            op: CmpOp::MaskedEq,
        };
        assert!(matches!(matcher(&[never]), Ok(None)));
        // On one index the comparisons are alternatives, so the other one still counts.
        let eq = Arg {
            index: 0,
            value: 1,
            value_two: 0,
            op: CmpOp::Eq,
        };
        assert!(matches!(matcher(&[never, eq]), Ok(Some(Match::AnyOf(r))) if r.len() == 1));
    }

    #[test]
    fn malformed_profiles_are_refused_with_context() {
        let err = |text: &str| from_docker_json(text, &[]).unwrap_err().to_string();
        assert!(err("{not json").starts_with("invalid seccomp profile"));
        assert!(err(r#"{"syscalls": []}"#).contains("defaultAction"));
        let e = err(r#"{"defaultAction": "SCMP_ACT_MAYBE"}"#);
        assert!(
            e.contains("SCMP_ACT_MAYBE") && e.contains("defaultAction"),
            "{e}"
        );
        let e = err(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"],
                "action": "SCMP_ACT_ALLOW",
                "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ALMOST"}]}]}"#,
        );
        assert!(e.contains("SCMP_CMP_ALMOST") && e.contains("read"), "{e}");
        let e = err(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"],
                "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
        );
        assert!(e.contains("index 6"), "{e}");
        let e = err(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"],
                "action": "SCMP_ACT_NOTIFY"}]}"#,
        );
        assert!(
            e.contains("SCMP_ACT_NOTIFY") && e.contains("not supported"),
            "{e}"
        );
        let e = err(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"],
                "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "four"}}]}"#,
        );
        assert!(e.contains("minKernel") && e.contains("four"), "{e}");
    }

    /// Runs `check` in a new thread with `filter` installed on that thread alone.
    fn in_filtered_thread<T: Send + 'static>(filter: Filter, check: fn() -> T) -> T {
        std::thread::spawn(move || {
            // Without CAP_SYS_ADMIN (a developer's `cargo test`), the kernel wants
            // no_new_privs first; it only affects this thread.
            nix::sys::prctl::set_no_new_privs().expect("no_new_privs");
            filter.apply().expect("installing the filter");
            check()
        })
        .join()
        .expect("the filtered thread panicked")
    }

    #[test]
    fn docker_default_filters_a_live_thread() {
        let filter = docker_default(DOCKER_CAPS).unwrap();
        let (cwd, unshare, clone3, spawn) = in_filtered_thread(filter, || {
            let cwd = std::env::current_dir().map(|_| ());
            // Denied without CAP_SYS_ADMIN; had the filter failed, this would only
            // have moved this thread into a new UTS namespace.
            let unshare = nix::sched::unshare(CloneFlags::CLONE_NEWUTS);
            #[allow(unsafe_code)]
            // SAFETY: clone3 with a null pointer and size 0 creates nothing: the
            // kernel refuses the size (EINVAL) before reading memory, and the filter
            // answers before the kernel does.
            let clone3 = unsafe { libc::syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 0) };
            let clone3 = (clone3 == -1).then(Errno::last);
            // glibc's posix_spawn tries clone3 and falls back to clone on ENOSYS.
            let spawn = std::process::Command::new("true")
                .status()
                .map(|s| s.success());
            (cwd, unshare, clone3, spawn)
        });
        assert!(cwd.is_ok(), "getcwd is allowed: {cwd:?}");
        assert_eq!(unshare, Err(Errno::EPERM));
        assert_eq!(clone3, Some(Errno::ENOSYS));
        assert!(matches!(spawn, Ok(true)), "spawning works: {spawn:?}");
        // The test's other threads are not filtered.
        assert!(std::env::current_dir().is_ok());
    }

    #[test]
    fn a_json_profile_applies_each_action() {
        let filter = from_docker_json(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"names": ["unshare"], "action": "SCMP_ACT_ERRNO"}
            ]}"#,
            &[],
        )
        .unwrap();
        let (cwd, mkdir, unshare) = in_filtered_thread(filter, || {
            let cwd = std::env::current_dir().map_err(|e| e.raw_os_error());
            let mkdir =
                std::fs::create_dir("/nonexistent/box-seccomp").map_err(|e| e.raw_os_error());
            let unshare = nix::sched::unshare(CloneFlags::CLONE_NEWUTS);
            (cwd.map(|_| ()), mkdir, unshare)
        });
        assert_eq!(cwd, Err(Some(libc::ENOSYS)));
        assert_eq!(mkdir, Err(Some(libc::EACCES)));
        assert_eq!(unshare, Err(Errno::EPERM));
    }
}
