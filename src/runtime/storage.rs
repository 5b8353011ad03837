//! Which storage driver assembles a container's root filesystem, and why: the
//! kernel's overlayfs inside a user namespace (Linux 5.11+), else `fuse-overlayfs`,
//! else a plain copy. The choice is explained, so `box info` can say it.

use super::idmap::find_program;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    Overlay { configured: bool },
    FuseOverlayfs { configured: bool },
    Copy { configured: bool },
}

impl Driver {
    pub fn name(&self) -> &'static str {
        match self {
            Driver::Overlay { .. } => "overlay",
            Driver::FuseOverlayfs { .. } => "fuse-overlayfs",
            Driver::Copy { .. } => "copy",
        }
    }

    pub fn reason(&self) -> &'static str {
        match self {
            Driver::Overlay { configured: true } => "set in config.toml",
            Driver::Overlay { configured: false } => {
                "the kernel's overlayfs, mounted inside the user namespace"
            }
            Driver::FuseOverlayfs { configured: true } => "set in config.toml",
            Driver::FuseOverlayfs { configured: false } => {
                "the kernel's overlayfs cannot be used unprivileged here"
            }
            Driver::Copy { configured: true } => "set in config.toml",
            Driver::Copy { configured: false } => {
                "neither kernel overlayfs nor fuse-overlayfs is available"
            }
        }
    }
}

/// What the running kernel offers for unprivileged overlay mounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelOverlay {
    /// Linux 5.11+ with overlay: mountable in a user namespace with `userxattr`.
    Usable,
    TooOld,
    Missing,
}

impl KernelOverlay {
    pub fn describe(&self) -> &'static str {
        match self {
            KernelOverlay::Usable => "supported in user namespaces (Linux 5.11+, userxattr)",
            KernelOverlay::TooOld => {
                "present, but the kernel is older than 5.11: not mountable unprivileged"
            }
            KernelOverlay::Missing => {
                "not available (no overlay in /proc/filesystems and no module)"
            }
        }
    }
}

pub fn kernel_release() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|s| s.trim().to_string())
}

/// `(major, minor)` of a release string like `6.1.0-13-amd64`.
pub fn parse_release(r: &str) -> Option<(u32, u32)> {
    let mut it = r.split(|c: char| !c.is_ascii_digit());
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

pub fn kernel_overlay() -> KernelOverlay {
    let listed = std::fs::read_to_string("/proc/filesystems")
        .map(|f| f.lines().any(|l| l.ends_with("\toverlay")))
        .unwrap_or(false);
    let module = kernel_release().is_some_and(|r| {
        std::path::Path::new(&format!("/lib/modules/{r}/kernel/fs/overlayfs")).exists()
    });
    if !listed && !module {
        return KernelOverlay::Missing;
    }
    match kernel_release().as_deref().and_then(parse_release) {
        Some(v) if v >= (5, 11) => KernelOverlay::Usable,
        _ => KernelOverlay::TooOld,
    }
}

/// The driver to use: the configured one, or the best available.
pub fn choose_driver(configured: Option<&str>) -> Driver {
    match configured {
        Some("overlay") => Driver::Overlay { configured: true },
        Some("fuse-overlayfs") => Driver::FuseOverlayfs { configured: true },
        Some("copy") => Driver::Copy { configured: true },
        _ if kernel_overlay() == KernelOverlay::Usable => Driver::Overlay { configured: false },
        _ if find_program("fuse-overlayfs").is_some() => {
            Driver::FuseOverlayfs { configured: false }
        }
        _ => Driver::Copy { configured: false },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_releases() {
        assert_eq!(parse_release("6.1.0-13-amd64"), Some((6, 1)));
        assert_eq!(parse_release("5.11.22"), Some((5, 11)));
        assert_eq!(parse_release("x"), None);
    }
}
