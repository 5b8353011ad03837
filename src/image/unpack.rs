//! Unpacking one layer tarball into its own directory, with the OCI layer semantics:
//! `.wh.NAME` whiteouts become overlay whiteouts (character device 0/0), `.wh..wh..opq`
//! marks its directory opaque (`user.overlay.opaque`, the xattr overlayfs reads when
//! mounted with `userxattr`, as it must be inside a user namespace).
//!
//! Safety against hostile layers is the kernel's job, not string checks alone: every
//! parent directory is opened with `openat2(RESOLVE_BENEATH)`, so no `..`, absolute
//! symlink or symlink chain can lead outside the layer directory, and the final
//! component is created relative to that directory fd with `O_NOFOLLOW`/`AT_*` flags.
//! Entries that would escape are refused with an error that names them; the caller
//! then throws the whole half-unpacked directory away.

use std::ffi::{OsStr, OsString};
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{self as rfs, AtFlags, Mode, OFlags, ResolveFlags, Timespec, Timestamps};
use rustix::io::Errno;
use thiserror::Error;

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_MARKER: &str = ".wh..wh..opq";
/// The xattr overlayfs reads (with `userxattr`) to hide a lower directory's contents.
pub const OPAQUE_XATTR: &str = "user.overlay.opaque";

#[derive(Debug, Error)]
pub enum UnpackError {
    #[error("layer entry {entry:?} would land outside the layer ({reason}); refusing the layer")]
    Escape { entry: String, reason: &'static str },
    #[error("layer entry {entry:?}: {op}: {source}")]
    Entry {
        entry: String,
        op: &'static str,
        source: io::Error,
    },
    #[error("layer entry {entry:?} has unsupported type {kind}")]
    Unsupported { entry: String, kind: String },
    #[error("reading the layer archive: {0}")]
    Archive(io::Error),
}

/// What the unpacker may do, which depends on the id mapping it runs under.
#[derive(Debug, Clone, Copy)]
pub struct UnpackOptions {
    /// Set owners from the archive (false with a single-id mapping: everything
    /// collapses to the user, who is root inside).
    pub chown: bool,
    /// Create device nodes (only real root can; unprivileged users skip them, and
    /// containers get their /dev at run time anyway).
    pub mknod: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct UnpackStats {
    /// Bytes of regular file content.
    pub size: u64,
    pub skipped_devices: u32,
    pub skipped_xattrs: u32,
    /// Files whose owner has no mapping in this namespace: left owned by root.
    pub unmapped_owners: u32,
}

/// Unpacks the tar stream `archive` into the existing, empty directory `dest`.
pub fn unpack<R: Read>(
    archive: R,
    dest: &Path,
    opts: UnpackOptions,
) -> Result<UnpackStats, UnpackError> {
    let root = rfs::open(
        dest,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| entry_err(".", "open layer directory", e))?;
    let mut ar = tar::Archive::new(archive);
    let mut u = Unpacker {
        root,
        opts,
        stats: UnpackStats::default(),
        dirs: Vec::new(),
    };
    for entry in ar.entries().map_err(UnpackError::Archive)? {
        let mut entry = entry.map_err(UnpackError::Archive)?;
        u.entry(&mut entry)?;
    }
    // Directory times last, deepest first: creating children changed them.
    for (path, mtime) in u.dirs.iter().rev() {
        let _ = set_times(&u.root, path, *mtime);
    }
    Ok(u.stats)
}

struct Unpacker {
    root: OwnedFd,
    opts: UnpackOptions,
    stats: UnpackStats,
    dirs: Vec<(OsString, i64)>,
}

/// An archive path, checked and split: `parent` is relative to the layer root ("" for
/// the root itself), `name` is the final component (None for the root).
struct Target {
    parent: OsString,
    name: Option<OsString>,
}

impl Target {
    /// The path for messages.
    fn shown(&self) -> String {
        match (&self.name, self.parent.is_empty()) {
            (None, _) => ".".into(),
            (Some(n), true) => n.to_string_lossy().into_owned(),
            (Some(n), false) => {
                format!("{}/{}", self.parent.to_string_lossy(), n.to_string_lossy())
            }
        }
    }
}

/// Refuses absolute paths and `..`; drops `.` components.
fn check_path(raw: &[u8]) -> Result<Target, UnpackError> {
    let shown = String::from_utf8_lossy(raw).into_owned();
    if raw.starts_with(b"/") {
        return Err(UnpackError::Escape {
            entry: shown,
            reason: "absolute path",
        });
    }
    if raw.contains(&0) {
        return Err(UnpackError::Escape {
            entry: shown,
            reason: "NUL in path",
        });
    }
    // Names stay bytes (not every layer is UTF-8); strings are only for messages.
    let mut comps: Vec<&[u8]> = Vec::new();
    for c in raw.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                return Err(UnpackError::Escape {
                    entry: shown,
                    reason: "`..` in path",
                })
            }
            c => comps.push(c),
        }
    }
    let name = comps.pop().map(|n| OsStr::from_bytes(n).to_owned());
    Ok(Target {
        parent: OsStr::from_bytes(&comps.join(&b'/')).to_owned(),
        name,
    })
}

impl Unpacker {
    fn entry<R: Read>(&mut self, e: &mut tar::Entry<R>) -> Result<(), UnpackError> {
        let raw = e.path_bytes().into_owned();
        let t = check_path(&raw)?;
        let shown = t.shown();
        let kind = e.header().entry_type();
        let Some(name) = t.name.as_deref() else {
            // The layer root itself ("./"): only its metadata applies.
            if kind.is_dir() {
                let fd = open_dir(&self.root, OsStr::new("."), &shown)?;
                self.metadata(e, &fd, &shown)?;
            }
            return Ok(());
        };
        let parent = self.dir(&t.parent, &shown)?;
        let nb = name.as_bytes();

        if nb == OPAQUE_MARKER.as_bytes() {
            let fd = open_dir(&parent, OsStr::new("."), &shown)?;
            return rfs::fsetxattr(&fd, OPAQUE_XATTR, b"y", rfs::XattrFlags::empty())
                .map_err(|x| entry_err(&shown, "mark directory opaque", x));
        }
        if let Some(hidden) = nb.strip_prefix(WHITEOUT_PREFIX.as_bytes()) {
            let hidden = OsStr::from_bytes(hidden);
            remove_existing(&parent, hidden);
            return rfs::mknodat(
                &parent,
                hidden,
                rfs::FileType::CharacterDevice,
                Mode::empty(),
                0,
            )
            .map_err(|x| entry_err(&shown, "create whiteout", x));
        }

        use tar::EntryType as T;
        match kind {
            T::Directory => {
                match rfs::statat(&parent, name, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st)
                        if rfs::FileType::from_raw_mode(st.st_mode) == rfs::FileType::Directory => {
                    }
                    Ok(_) => {
                        remove_existing(&parent, name);
                        mkdir(&parent, name, &shown)?;
                    }
                    Err(_) => mkdir(&parent, name, &shown)?,
                }
                let fd = open_dir(&parent, name, &shown)?;
                self.metadata(e, &fd, &shown)?;
                self.dirs.push((relative(&t), mtime(e)));
            }
            T::Regular | T::Continuous => {
                let flags = OFlags::WRONLY
                    | OFlags::CREATE
                    | OFlags::EXCL
                    | OFlags::NOFOLLOW
                    | OFlags::CLOEXEC;
                let create = || rfs::openat(&parent, name, flags, Mode::from_raw_mode(0o600));
                // Layers are unpacked into empty directories: replacing is the rare case.
                let fd = match create() {
                    Err(Errno::EXIST) => {
                        remove_existing(&parent, name);
                        create()
                    }
                    other => other,
                }
                .map_err(|x| entry_err(&shown, "create file", x))?;
                let mut file = std::fs::File::from(fd);
                let n = io::copy(e, &mut file).map_err(|x| UnpackError::Entry {
                    entry: shown.clone(),
                    op: "write file",
                    source: x,
                })?;
                self.stats.size += n;
                let fd = OwnedFd::from(file);
                self.metadata(e, &fd, &shown)?;
                let _ = rfs::futimens(&fd, &times(mtime(e)));
            }
            T::Symlink => {
                let target = link_name(e, &shown)?;
                remove_existing(&parent, name);
                rfs::symlinkat(OsStr::from_bytes(&target), &parent, name)
                    .map_err(|x| entry_err(&shown, "create symlink", x))?;
                self.owner(e, &parent, name, &shown)?;
                let _ = rfs::utimensat(&parent, name, &times(mtime(e)), AtFlags::SYMLINK_NOFOLLOW);
            }
            T::Link => {
                let raw_target = link_name(e, &shown)?;
                let tt = check_path(&raw_target).map_err(|err| match err {
                    UnpackError::Escape { reason, .. } => UnpackError::Escape {
                        entry: format!(
                            "{shown} (hard link to {})",
                            String::from_utf8_lossy(&raw_target)
                        ),
                        reason,
                    },
                    other => other,
                })?;
                let Some(tname) = tt.name.as_deref() else {
                    return Err(UnpackError::Escape {
                        entry: shown,
                        reason: "hard link to the layer root",
                    });
                };
                let tparent = self.dir(&tt.parent, &shown)?;
                remove_existing(&parent, name);
                rfs::linkat(&tparent, tname, &parent, name, AtFlags::empty())
                    .map_err(|x| entry_err(&shown, "create hard link", x))?;
            }
            T::Char | T::Block if !self.opts.mknod => self.stats.skipped_devices += 1,
            T::Char | T::Block | T::Fifo => {
                let ft = match kind {
                    T::Char => rfs::FileType::CharacterDevice,
                    T::Block => rfs::FileType::BlockDevice,
                    _ => rfs::FileType::Fifo,
                };
                let major = e.header().device_major().ok().flatten().unwrap_or(0);
                let minor = e.header().device_minor().ok().flatten().unwrap_or(0);
                remove_existing(&parent, name);
                rfs::mknodat(
                    &parent,
                    name,
                    ft,
                    Mode::from_raw_mode(0o600),
                    rfs::makedev(major, minor),
                )
                .map_err(|x| entry_err(&shown, "create special file", x))?;
                self.owner(e, &parent, name, &shown)?;
                rfs::chmodat(
                    &parent,
                    name,
                    Mode::from_raw_mode(mode(e)),
                    AtFlags::empty(),
                )
                .map_err(|x| entry_err(&shown, "chmod", x))?;
                let _ = rfs::utimensat(&parent, name, &times(mtime(e)), AtFlags::SYMLINK_NOFOLLOW);
            }
            T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink => {}
            other => {
                return Err(UnpackError::Unsupported {
                    entry: shown,
                    kind: format!("{other:?}"),
                })
            }
        }
        Ok(())
    }

    /// Opens (creating as needed, like `mkdir -p`) a directory beneath the layer root.
    fn dir(&self, rel: &OsStr, shown: &str) -> Result<OwnedFd, UnpackError> {
        let how = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let path = if rel.is_empty() { OsStr::new(".") } else { rel };
        match rfs::openat2(&self.root, path, flags, Mode::empty(), how) {
            Ok(fd) => Ok(fd),
            Err(Errno::NOENT) if !rel.is_empty() => {
                let b = rel.as_bytes();
                let (up, last) = match b.iter().rposition(|&c| c == b'/') {
                    Some(i) => (&b[..i], &b[i + 1..]),
                    None => (&b[..0], b),
                };
                let parent = self.dir(OsStr::from_bytes(up), shown)?;
                match rfs::mkdirat(&parent, OsStr::from_bytes(last), Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(x) => return Err(entry_err(shown, "create parent directory", x)),
                }
                rfs::openat2(&self.root, path, flags, Mode::empty(), how)
                    .map_err(|x| resolve_err(shown, x))
            }
            Err(x) => Err(resolve_err(shown, x)),
        }
    }

    /// Owner, then mode (chown clears setuid bits, so the order matters), then xattrs.
    fn metadata<R: Read>(
        &mut self,
        e: &mut tar::Entry<R>,
        fd: &OwnedFd,
        shown: &str,
    ) -> Result<(), UnpackError> {
        if self.opts.chown {
            let (uid, gid) = ids(e);
            match rfs::fchown(fd, Some(uid), Some(gid)) {
                Ok(()) => {}
                Err(Errno::INVAL) => self.stats.unmapped_owners += 1,
                Err(x) => return Err(entry_err(shown, "chown", x)),
            }
        }
        rfs::fchmod(fd, Mode::from_raw_mode(mode(e))).map_err(|x| entry_err(shown, "chmod", x))?;
        if let Ok(Some(exts)) = e.pax_extensions() {
            for ext in exts.flatten() {
                let Some(key) = ext.key_bytes().strip_prefix(b"SCHILY.xattr.") else {
                    continue;
                };
                let key = OsStr::from_bytes(key);
                if rfs::fsetxattr(fd, key, ext.value_bytes(), rfs::XattrFlags::empty()).is_err() {
                    self.stats.skipped_xattrs += 1;
                }
            }
        }
        Ok(())
    }

    fn owner<R: Read>(
        &mut self,
        e: &tar::Entry<R>,
        parent: &OwnedFd,
        name: &OsStr,
        shown: &str,
    ) -> Result<(), UnpackError> {
        if !self.opts.chown {
            return Ok(());
        }
        let (uid, gid) = ids(e);
        match rfs::chownat(
            parent,
            name,
            Some(uid),
            Some(gid),
            AtFlags::SYMLINK_NOFOLLOW,
        ) {
            Ok(()) => Ok(()),
            Err(Errno::INVAL) => {
                self.stats.unmapped_owners += 1;
                Ok(())
            }
            Err(x) => Err(entry_err(shown, "chown", x)),
        }
    }
}

fn relative(t: &Target) -> OsString {
    let mut p = t.parent.clone();
    if let Some(n) = &t.name {
        if !p.is_empty() {
            p.push("/");
        }
        p.push(n);
    }
    p
}

fn link_name<R: Read>(e: &tar::Entry<R>, shown: &str) -> Result<Vec<u8>, UnpackError> {
    e.link_name_bytes()
        .map(|c| c.into_owned())
        .ok_or_else(|| UnpackError::Entry {
            entry: shown.to_string(),
            op: "read link target",
            source: io::ErrorKind::InvalidData.into(),
        })
}

/// A directory opened for reading (fchown, fchmod and fsetxattr refuse `O_PATH` fds).
fn open_dir(parent: &impl AsFd, name: &OsStr, shown: &str) -> Result<OwnedFd, UnpackError> {
    rfs::openat(
        parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|x| entry_err(shown, "open directory", x))
}

fn ids<R: Read>(e: &tar::Entry<R>) -> (rfs::Uid, rfs::Gid) {
    let h = e.header();
    let uid = h.uid().unwrap_or(0).try_into().unwrap_or(u32::MAX);
    let gid = h.gid().unwrap_or(0).try_into().unwrap_or(u32::MAX);
    (rfs::Uid::from_raw(uid), rfs::Gid::from_raw(gid))
}

fn mode<R: Read>(e: &tar::Entry<R>) -> u32 {
    e.header().mode().unwrap_or(0o644) & 0o7777
}

fn mtime<R: Read>(e: &tar::Entry<R>) -> i64 {
    e.header().mtime().unwrap_or(0).try_into().unwrap_or(0)
}

fn times(secs: i64) -> Timestamps {
    let t = Timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

/// Re-resolves beneath the root: a later entry may have replaced a directory with a
/// symlink, which must not lead this outside the layer.
fn set_times(root: &OwnedFd, path: &OsStr, secs: i64) -> rustix::io::Result<()> {
    let how = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS;
    let fd = rfs::openat2(
        root,
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        how,
    )?;
    rfs::futimens(&fd, &times(secs))
}

fn mkdir(parent: &OwnedFd, name: &OsStr, shown: &str) -> Result<(), UnpackError> {
    rfs::mkdirat(parent, name, Mode::from_raw_mode(0o700))
        .map_err(|x| entry_err(shown, "create directory", x))
}

/// A later entry replaces an earlier one of the same name, as tar does.
fn remove_existing(parent: &impl AsFd, name: &OsStr) {
    match rfs::unlinkat(parent, name, AtFlags::empty()) {
        Err(Errno::ISDIR) | Err(Errno::PERM) => {
            let _ = remove_tree(parent, name);
        }
        _ => {}
    }
}

fn remove_tree(parent: &impl AsFd, name: &OsStr) -> rustix::io::Result<()> {
    let fd = rfs::openat(
        parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut dir = rfs::Dir::read_from(&fd)?;
    let mut children = Vec::new();
    while let Some(ent) = dir.read() {
        let ent = ent?;
        let n = ent.file_name().to_bytes();
        if n != b"." && n != b".." {
            children.push(OsStr::from_bytes(n).to_owned());
        }
    }
    for c in children {
        if rfs::unlinkat(&fd, c.as_os_str(), AtFlags::empty()).is_err() {
            remove_tree(&fd, &c)?;
        }
    }
    rfs::unlinkat(parent, name, AtFlags::REMOVEDIR)
}

fn entry_err(entry: &str, op: &'static str, e: Errno) -> UnpackError {
    UnpackError::Entry {
        entry: entry.to_string(),
        op,
        source: e.into(),
    }
}

fn resolve_err(entry: &str, e: Errno) -> UnpackError {
    match e {
        Errno::XDEV => UnpackError::Escape {
            entry: entry.to_string(),
            reason: "a symlink in its path leads out of the layer",
        },
        Errno::LOOP => UnpackError::Escape {
            entry: entry.to_string(),
            reason: "too many symlinks in its path",
        },
        other => entry_err(entry, "open parent directory", other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_paths() {
        assert!(matches!(
            check_path(b"/etc/passwd"),
            Err(UnpackError::Escape { .. })
        ));
        assert!(matches!(
            check_path(b"a/../../b"),
            Err(UnpackError::Escape { .. })
        ));
        let t = check_path(b"./usr//bin/./sh").unwrap();
        assert_eq!(t.parent, "usr/bin");
        assert_eq!(t.name.as_deref(), Some(OsStr::new("sh")));
        let t = check_path(b"./").unwrap();
        assert!(t.name.is_none());
    }
}
