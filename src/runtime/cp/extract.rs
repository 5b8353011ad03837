//! Unpacking an untrusted tar archive beneath a directory: every entry is resolved
//! from a descriptor of that directory with `openat2(RESOLVE_BENEATH)`, and absolute
//! names, `..` and symlinks leading out are refused.
//!
//! It must not resolve an entry's path from anywhere but that directory's descriptor,
//! nor replace a directory with a non-directory; where the archive goes and under
//! which name is the `receive` module's choice.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, Mode, OFlags, ResolveFlags, Timespec, Timestamps};
use rustix::io::Errno;

use super::{io_err, CpError};

/// How archive names become paths under the directory unpacked into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Map {
    /// As they are.
    AsIs,
    /// The archive's root renamed: to this name, or removed (only its contents land).
    Rebase(Option<OsString>),
}

/// An archive path's components: absolute paths, `..` and NUL are refused, `.` and
/// empty components dropped.
pub(super) fn components(raw: &[u8], dest: &str, place: &str) -> Result<Vec<OsString>, CpError> {
    let escape = |reason| CpError::Escape {
        entry: String::from_utf8_lossy(raw).into_owned(),
        dest: dest.to_string(),
        place: place.to_string(),
        reason,
    };
    if raw.starts_with(b"/") {
        return Err(escape("absolute path"));
    }
    if raw.contains(&0) {
        return Err(escape("NUL in path"));
    }
    let mut out = Vec::new();
    for c in raw.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err(escape("`..` in path")),
            c => out.push(OsStr::from_bytes(c).to_owned()),
        }
    }
    Ok(out)
}

pub(super) struct Extractor<'a> {
    root: OwnedFd,
    map: Map,
    /// With [`Map::Rebase`]: the archive's root, which every entry must be under.
    prefix: Vec<OsString>,
    /// The directory unpacked into, for messages.
    dir: PathBuf,
    dest: &'a str,
    place: &'a str,
    /// Directories unpacked: their mode and time are set last (a read-only directory
    /// could not receive its children, and creating children changes the time).
    dirs: Vec<(PathBuf, u32, i64)>,
}

impl<'a> Extractor<'a> {
    pub(super) fn open(
        dir: &Path,
        map: Map,
        prefix: Option<Vec<OsString>>,
        dest: &'a str,
        place: &'a str,
    ) -> Result<Extractor<'a>, CpError> {
        let root = rfs::open(
            dir,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| io_err("open", dir, place)(e.into()))?;
        Ok(Extractor {
            root,
            map,
            prefix: prefix.unwrap_or_default(),
            dir: dir.to_path_buf(),
            dest,
            place,
            dirs: Vec::new(),
        })
    }

    fn escape(&self, entry: &[u8], reason: &'static str) -> CpError {
        CpError::Escape {
            entry: String::from_utf8_lossy(entry).into_owned(),
            dest: self.dest.to_string(),
            place: self.place.to_string(),
            reason,
        }
    }

    /// Where an archive name lands, relative to the root; `None` for the root itself.
    fn target(&self, raw: &[u8]) -> Result<Option<Vec<OsString>>, CpError> {
        let comps = components(raw, self.dest, self.place)?;
        let out: Vec<OsString> = match &self.map {
            Map::AsIs => comps,
            Map::Rebase(base) => {
                let Some(rest) = comps.strip_prefix(self.prefix.as_slice()) else {
                    return Err(self.escape(raw, "outside the copied directory"));
                };
                base.iter().cloned().chain(rest.iter().cloned()).collect()
            }
        };
        Ok((!out.is_empty()).then_some(out))
    }

    fn shown(&self, rel: &Path) -> String {
        self.dir.join(rel).display().to_string()
    }

    fn fail(&self, op: &'static str, rel: &Path, e: Errno) -> CpError {
        CpError::Io {
            op,
            path: self.shown(rel),
            place: self.place.to_string(),
            source: e.into(),
        }
    }

    pub(super) fn entry<R: Read>(&mut self, e: &mut tar::Entry<R>) -> Result<(), CpError> {
        use tar::EntryType as T;
        let raw = e.path_bytes().into_owned();
        let kind = e.header().entry_type();
        if matches!(
            kind,
            T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink
        ) {
            return Ok(());
        }
        let Some(mut comps) = self.target(&raw)? else {
            return Ok(());
        };
        let name = comps.pop().expect("not empty");
        let parent_rel: PathBuf = comps.iter().collect();
        let rel = parent_rel.join(&name);
        let parent = self.dir(&parent_rel, &raw)?;
        let mode = e.header().mode().unwrap_or(0o644) & 0o7777;
        let mtime = e.header().mtime().unwrap_or(0).try_into().unwrap_or(0);
        match kind {
            T::Directory => {
                match rfs::statat(&parent, &name, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) if is_dir(&st) => {}
                    Ok(_) => {
                        return Err(CpError::Conflict {
                            what: "non-directory",
                            path: self.shown(&rel),
                            place: self.place.to_string(),
                            with: "directory",
                        })
                    }
                    Err(Errno::NOENT) => rfs::mkdirat(&parent, &name, Mode::from_raw_mode(0o700))
                        .map_err(|x| self.fail("create directory", &rel, x))?,
                    Err(x) => return Err(self.fail("stat", &rel, x)),
                }
                self.dirs.push((rel, mode, mtime));
            }
            T::Regular | T::Continuous => {
                self.make_room(&parent, &name, &rel)?;
                let fd = rfs::openat(
                    &parent,
                    &name,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(|x| self.fail("create", &rel, x))?;
                let mut f = File::from(fd);
                io::copy(e, &mut f).map_err(|x| CpError::Io {
                    op: "write",
                    path: self.shown(&rel),
                    place: self.place.to_string(),
                    source: x,
                })?;
                rfs::fchmod(&f, Mode::from_raw_mode(mode))
                    .map_err(|x| self.fail("chmod", &rel, x))?;
                let _ = rfs::futimens(&f, &times(mtime));
            }
            T::Symlink => {
                let target = link_name(e).ok_or_else(|| self.escape(&raw, "no link target"))?;
                self.make_room(&parent, &name, &rel)?;
                rfs::symlinkat(OsStr::from_bytes(&target), &parent, &name)
                    .map_err(|x| self.fail("create symlink", &rel, x))?;
                let _ = rfs::utimensat(&parent, &name, &times(mtime), AtFlags::SYMLINK_NOFOLLOW);
            }
            T::Link => {
                let target = link_name(e).ok_or_else(|| self.escape(&raw, "no link target"))?;
                let Some(mut tcomps) = self.target(&target)? else {
                    return Err(self.escape(&raw, "hard link to the copied root"));
                };
                let tname = tcomps.pop().expect("not empty");
                let tparent_rel: PathBuf = tcomps.iter().collect();
                let tparent = self.dir(&tparent_rel, &raw)?;
                self.make_room(&parent, &name, &rel)?;
                rfs::linkat(&tparent, &tname, &parent, &name, AtFlags::empty())
                    .map_err(|x| self.fail("create hard link", &rel, x))?;
            }
            T::Fifo | T::Char | T::Block => {
                let ft = match kind {
                    T::Char => rfs::FileType::CharacterDevice,
                    T::Block => rfs::FileType::BlockDevice,
                    _ => rfs::FileType::Fifo,
                };
                let major = e.header().device_major().ok().flatten().unwrap_or(0);
                let minor = e.header().device_minor().ok().flatten().unwrap_or(0);
                self.make_room(&parent, &name, &rel)?;
                match rfs::mknodat(
                    &parent,
                    &name,
                    ft,
                    Mode::from_raw_mode(0o600),
                    rfs::makedev(major, minor),
                ) {
                    Ok(()) => {}
                    // Only real root makes device nodes; they are left out, as when
                    // box unpacks layers.
                    Err(Errno::PERM) if kind != T::Fifo => return Ok(()),
                    Err(x) => return Err(self.fail("create special file", &rel, x)),
                }
                rfs::chmodat(&parent, &name, Mode::from_raw_mode(mode), AtFlags::empty())
                    .map_err(|x| self.fail("chmod", &rel, x))?;
            }
            _ => {
                // Other kinds (sparse or multi-volume parts) are not made by box or
                // Docker; nothing sensible can be done with them.
                return Err(CpError::Io {
                    op: "unpack",
                    path: self.shown(&rel),
                    place: self.place.to_string(),
                    source: io::Error::other(format!("unsupported entry type {kind:?}")),
                });
            }
        }
        Ok(())
    }

    /// A later entry replaces a non-directory of the same name, as tar does; a
    /// directory is never replaced by a non-directory.
    fn make_room(&self, parent: &OwnedFd, name: &OsStr, rel: &Path) -> Result<(), CpError> {
        match rfs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
            Err(Errno::NOENT) => Ok(()),
            Ok(st) if is_dir(&st) => Err(CpError::Conflict {
                what: "directory",
                path: self.shown(rel),
                place: self.place.to_string(),
                with: "non-directory",
            }),
            Ok(_) => rfs::unlinkat(parent, name, AtFlags::empty())
                .map_err(|x| self.fail("replace", rel, x)),
            Err(x) => Err(self.fail("stat", rel, x)),
        }
    }

    /// Opens a directory beneath the root, creating what is missing (as `mkdir -p`).
    /// No symlink may lead out of the root on the way.
    fn dir(&self, rel: &Path, entry: &[u8]) -> Result<OwnedFd, CpError> {
        let how = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let path = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        let resolve_err = |x: Errno| match x {
            Errno::XDEV => self.escape(entry, "a symlink in its path leads out of the destination"),
            Errno::LOOP => self.escape(entry, "too many symlinks in its path"),
            x => self.fail("open directory", rel, x),
        };
        match rfs::openat2(&self.root, path, flags, Mode::empty(), how) {
            Ok(fd) => Ok(fd),
            Err(Errno::NOENT) if !rel.as_os_str().is_empty() => {
                let up = rel.parent().unwrap_or(Path::new(""));
                let last = rel.file_name().unwrap_or(rel.as_os_str());
                let parent = self.dir(up, entry)?;
                match rfs::mkdirat(&parent, last, Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(x) => return Err(self.fail("create directory", rel, x)),
                }
                rfs::openat2(&self.root, path, flags, Mode::empty(), how).map_err(resolve_err)
            }
            Err(x) => Err(resolve_err(x)),
        }
    }

    /// Directories' modes and times, deepest first. Re-resolved without following any
    /// symlink: a later entry may have put one where a directory was.
    pub(super) fn finish(self) {
        for (rel, mode, mtime) in self.dirs.iter().rev() {
            let Ok(fd) = rfs::openat2(
                &self.root,
                rel,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
                ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS,
            ) else {
                continue;
            };
            let _ = rfs::fchmod(&fd, Mode::from_raw_mode(*mode));
            let _ = rfs::futimens(&fd, &times(*mtime));
        }
    }
}

fn is_dir(st: &rfs::Stat) -> bool {
    rfs::FileType::from_raw_mode(st.st_mode) == rfs::FileType::Directory
}

fn link_name<R: Read>(e: &tar::Entry<R>) -> Option<Vec<u8>> {
    e.link_name_bytes().map(|c| c.into_owned())
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

#[cfg(test)]
mod tests {
    use super::super::receive_stream;
    use super::super::tmp;
    use super::*;

    fn entry(ar: &mut tar::Builder<Vec<u8>>, kind: tar::EntryType, path: &str, link: &str) {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(0o644);
        h.set_size(if kind == tar::EntryType::Regular {
            1
        } else {
            0
        });
        {
            let gnu = h.as_gnu_mut().unwrap();
            gnu.name[..path.len()].copy_from_slice(path.as_bytes());
            gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        h.set_cksum();
        let data: &[u8] = if kind == tar::EntryType::Regular {
            b"x"
        } else {
            b""
        };
        ar.append(&h, data).unwrap();
    }

    #[test]
    fn hostile_archives_stay_beneath_the_destination() {
        use tar::EntryType as T;
        let d = tmp("hostile");
        let outside = d.join("outside");
        std::fs::create_dir(&outside).unwrap();
        let dest = d.join("dest");
        std::fs::create_dir(&dest).unwrap();
        let cases: Vec<Vec<(T, String, String)>> = vec![
            vec![(T::Regular, "../escaped".into(), String::new())],
            vec![(
                T::Regular,
                format!("{}/abs", outside.display()),
                String::new(),
            )],
            vec![
                (T::Symlink, "link".into(), outside.display().to_string()),
                (T::Regular, "link/through".into(), String::new()),
            ],
            vec![
                (T::Symlink, "rel".into(), "../outside".into()),
                (T::Regular, "rel/through".into(), String::new()),
            ],
            vec![(T::Link, "hard".into(), "../outside/x".into())],
        ];
        for case in cases {
            let mut ar = tar::Builder::new(Vec::new());
            for (k, p, l) in &case {
                entry(&mut ar, *k, p, l);
            }
            let bytes = ar.into_inner().unwrap();
            let r = receive_stream(&bytes[..], &dest.to_string_lossy(), "");
            assert!(matches!(r, Err(CpError::Escape { .. })), "{case:?}: {r:?}");
            assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "{case:?}");
        }
        std::fs::remove_dir_all(&d).unwrap();
    }
}
