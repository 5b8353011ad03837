//! The mount plan of a container: the list of mounts its init performs, in order,
//! built from the spec as plain data so that it can be checked without root (as
//! bubblewrap and crun turn options into a list of setup operations first).

use std::path::PathBuf;

use super::spec::{ContainerSpec, Mount, Network};

/// One mount operation. Targets are paths inside the container's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountOp {
    /// A fresh filesystem: proc, tmpfs, devpts, mqueue, sysfs.
    Fs {
        fstype: &'static str,
        target: String,
        flags: Flags,
        data: String,
    },
    /// A host path bound into the container; `file` says what to create as target.
    Bind {
        source: PathBuf,
        target: String,
        readonly: bool,
        file: bool,
    },
    /// A symlink created in the container (e.g. /dev/fd).
    Symlink { link: String, target: String },
    /// Hide a file (bind /dev/null over it) or a directory (empty read-only tmpfs).
    Mask { target: String },
    /// Make an existing path read-only (bind it onto itself, remount read-only).
    ReadOnly { target: String },
}

/// The mount flags box uses, kept symbolic so the plan is readable in tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags {
    pub nosuid: bool,
    pub nodev: bool,
    pub noexec: bool,
    pub readonly: bool,
}

const SAFE: Flags = Flags {
    nosuid: true,
    nodev: true,
    noexec: true,
    readonly: false,
};
const NOSUID: Flags = Flags {
    nosuid: true,
    nodev: false,
    noexec: false,
    readonly: false,
};

/// Docker's masked and read-only paths.
pub const MASKED: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];
pub const READ_ONLY: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Device nodes bound from the host into the private /dev.
pub const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// The plan for `spec`: /proc, /dev, /sys, the /etc files, the user's mounts, then
/// masks (unless privileged). The root filesystem itself is mounted before this.
pub fn plan(spec: &ContainerSpec, gid5_mapped: bool) -> Vec<MountOp> {
    let mut ops = vec![MountOp::Fs {
        fstype: "proc",
        target: "/proc".into(),
        flags: SAFE,
        data: String::new(),
    }];
    ops.push(MountOp::Fs {
        fstype: "tmpfs",
        target: "/dev".into(),
        flags: NOSUID,
        data: "mode=755,size=65536k".into(),
    });
    for d in DEVICES {
        ops.push(MountOp::Bind {
            source: format!("/dev/{d}").into(),
            target: format!("/dev/{d}"),
            readonly: false,
            file: true,
        });
    }
    let pts = if gid5_mapped {
        "newinstance,ptmxmode=0666,mode=0620,gid=5"
    } else {
        "newinstance,ptmxmode=0666,mode=0620"
    };
    ops.push(MountOp::Fs {
        fstype: "devpts",
        target: "/dev/pts".into(),
        flags: Flags {
            nosuid: true,
            noexec: true,
            ..Default::default()
        },
        data: pts.into(),
    });
    ops.push(MountOp::Symlink {
        link: "/dev/ptmx".into(),
        target: "pts/ptmx".into(),
    });
    ops.push(MountOp::Fs {
        fstype: "tmpfs",
        target: "/dev/shm".into(),
        flags: SAFE,
        data: "mode=1777,size=65536k".into(),
    });
    ops.push(MountOp::Fs {
        fstype: "mqueue",
        target: "/dev/mqueue".into(),
        flags: SAFE,
        data: String::new(),
    });
    for (link, target) in [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
        ("/dev/core", "/proc/kcore"),
    ] {
        ops.push(MountOp::Symlink {
            link: link.into(),
            target: target.into(),
        });
    }
    // sysfs can only be mounted by the owner of the network namespace (a joined one
    // belongs to the user namespace the container joined with it).
    let sys_ro = !spec.security.privileged;
    match spec.network {
        Network::None | Network::Pasta | Network::Slirp4netns | Network::Container => {
            ops.push(MountOp::Fs {
                fstype: "sysfs",
                target: "/sys".into(),
                flags: Flags {
                    readonly: sys_ro,
                    ..SAFE
                },
                data: String::new(),
            })
        }
        Network::Host => ops.push(MountOp::Bind {
            source: "/sys".into(),
            target: "/sys".into(),
            readonly: sys_ro,
            file: false,
        }),
    }
    for f in ["hostname", "hosts", "resolv.conf"] {
        ops.push(MountOp::Bind {
            source: spec.dir.join("etc").join(f),
            target: format!("/etc/{f}"),
            readonly: false,
            file: true,
        });
    }
    for m in &spec.mounts {
        ops.push(match m {
            Mount::Bind {
                source,
                destination,
                readonly,
            } => MountOp::Bind {
                source: source.clone(),
                target: destination.clone(),
                readonly: *readonly,
                file: !source.is_dir(),
            },
            Mount::Tmpfs {
                destination,
                options,
            } => MountOp::Fs {
                fstype: "tmpfs",
                target: destination.clone(),
                flags: NOSUID,
                data: options.join(","),
            },
        });
    }
    if !spec.security.privileged {
        ops.extend(MASKED.iter().map(|p| MountOp::Mask {
            target: p.to_string(),
        }));
        ops.extend(READ_ONLY.iter().map(|p| MountOp::ReadOnly {
            target: p.to_string(),
        }));
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::idmap::IdMapping;
    use crate::runtime::spec::*;

    pub fn spec() -> ContainerSpec {
        ContainerSpec {
            id: "c".repeat(64),
            name: "n".into(),
            image: "busybox".into(),
            image_id: String::new(),
            store_root: "/s".into(),
            lower: vec![],
            layers: vec![],
            dir: "/s/containers/c".into(),
            driver: "overlay".into(),
            idmap: IdMapping::Host,
            process: Process {
                args: vec!["true".into()],
                env: vec![],
                cwd: "/".into(),
                user: String::new(),
            },
            hostname: "h".into(),
            mounts: vec![Mount::Tmpfs {
                destination: "/scratch".into(),
                options: vec!["size=1m".into()],
            }],
            read_only: false,
            network: Network::None,
            security: Security {
                caps: vec![],
                privileged: false,
                seccomp: Seccomp::Default,
                no_new_privileges: false,
            },
            init: false,
            remove: false,
            stdin: false,
            tty: false,
            image_name: "busybox".into(),
            entrypoint: vec![],
            cmd: vec!["true".into()],
            labels: Default::default(),
            stop_signal: None,
            stop_timeout: None,
            restart: RestartPolicy::No,
            log: LogOptions::default(),
            ports: vec![],
            exposed: vec![],
            host_loopback: false,
            extra_hosts: vec![],
            networks: vec![],
            net_container: None,
            links: vec![],
            given: Default::default(),
            dns: Default::default(),
        }
    }

    #[test]
    fn default_plan_has_docker_layout() {
        let ops = plan(&spec(), true);
        assert_eq!(
            ops[0],
            MountOp::Fs {
                fstype: "proc",
                target: "/proc".into(),
                flags: SAFE,
                data: String::new()
            }
        );
        assert!(ops.contains(&MountOp::Mask {
            target: "/proc/kcore".into()
        }));
        assert!(ops.contains(&MountOp::ReadOnly {
            target: "/proc/sysrq-trigger".into()
        }));
        let sys = ops
            .iter()
            .find(|o| {
                matches!(
                    o,
                    MountOp::Fs {
                        fstype: "sysfs",
                        ..
                    }
                )
            })
            .unwrap();
        assert!(matches!(
            sys,
            MountOp::Fs {
                flags: Flags { readonly: true, .. },
                ..
            }
        ));
        let scratch = ops
            .iter()
            .position(|o| matches!(o, MountOp::Fs { target, .. } if target == "/scratch"))
            .unwrap();
        let first_mask = ops
            .iter()
            .position(|o| matches!(o, MountOp::Mask { .. }))
            .unwrap();
        assert!(scratch < first_mask, "user mounts come before masks");
    }

    #[test]
    fn privileged_and_host_network() {
        let mut s = spec();
        s.security.privileged = true;
        s.network = Network::Host;
        let ops = plan(&s, false);
        assert!(!ops
            .iter()
            .any(|o| matches!(o, MountOp::Mask { .. } | MountOp::ReadOnly { .. })));
        assert!(ops.contains(&MountOp::Bind {
            source: "/sys".into(),
            target: "/sys".into(),
            readonly: false,
            file: false
        }));
        assert!(ops.iter().any(
            |o| matches!(o, MountOp::Fs { fstype: "devpts", data, .. } if !data.contains("gid=5"))
        ));
    }
}
