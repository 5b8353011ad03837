//! The receiving side of `box cp`: where an archive lands, by Docker's rules for the
//! destination (an existing directory, a new name, a file to replace), and reading
//! the archive through to its end.
//!
//! It decides where and under which name; it must not create anything itself: every
//! entry is unpacked by the `extract` module, beneath the directory chosen here.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::extract::{components, Extractor, Map};
use super::{io_err, CpError};

/// Unpacks an archive made by `send::send` at `dest`, with Docker's rules: into
/// `dest` if it is a directory (only the source directory's contents when
/// `contents_only`), else as `dest` itself, whose parent must exist.
pub fn receive<R: Read>(
    archive: R,
    dest: &str,
    contents_only: bool,
    place: &str,
) -> Result<(), CpError> {
    let mut ar = tar::Archive::new(archive);
    let mut entries = ar.entries().map_err(CpError::Archive)?;
    let Some(first) = entries.next() else {
        return drain(ar);
    };
    let mut first = first.map_err(CpError::Archive)?;
    let root_is_dir = first.header().entry_type().is_dir();
    let (dir, map) = plan(dest, root_is_dir, contents_only, place)?;
    let prefix = components(&first.path_bytes(), dest, place)?;
    let mut x = Extractor::open(&dir, map, Some(prefix), dest, place)?;
    x.entry(&mut first)?;
    drop(first);
    for e in entries {
        x.entry(&mut e.map_err(CpError::Archive)?)?;
    }
    x.finish();
    drain(ar)
}

/// Reads what follows the archive's end (`tar` pads its output to whole records), so
/// that the sender does not find the pipe closed on it after a complete archive.
fn drain<R: Read>(ar: tar::Archive<R>) -> Result<(), CpError> {
    io::copy(&mut ar.into_inner(), &mut io::sink())
        .map(drop)
        .map_err(CpError::Archive)
}

/// Unpacks any tar archive (`box cp - CONTAINER:DIR`) in the existing directory `dest`.
pub fn receive_stream<R: Read>(archive: R, dest: &str, place: &str) -> Result<(), CpError> {
    let meta = std::fs::metadata(dest).map_err(io_err("stat", dest, place))?;
    if !meta.is_dir() {
        return Err(CpError::NotADirectory {
            path: dest.to_string(),
            place: place.to_string(),
        });
    }
    let mut x = Extractor::open(Path::new(dest), Map::AsIs, None, dest, place)?;
    let mut ar = tar::Archive::new(archive);
    for e in ar.entries().map_err(CpError::Archive)? {
        x.entry(&mut e.map_err(CpError::Archive)?)?;
    }
    x.finish();
    drain(ar)
}

/// Where to unpack and how, from what `dest` is and whether the archive holds a
/// directory.
fn plan(
    dest: &str,
    root_is_dir: bool,
    contents_only: bool,
    place: &str,
) -> Result<(PathBuf, Map), CpError> {
    let p = Path::new(dest);
    let trailing = dest.ends_with('/');
    let s = |x: &Path| x.display().to_string();
    let parent = || match p.parent() {
        Some(q) if q.as_os_str().is_empty() => PathBuf::from("."),
        Some(q) => q.to_path_buf(),
        None => PathBuf::from("/"),
    };
    let renamed = || -> Result<Map, CpError> {
        match p.file_name() {
            Some(n) => Ok(Map::Rebase(Some(n.to_owned()))),
            None => Err(CpError::NoDestDir {
                path: dest.to_string(),
                place: place.to_string(),
            }),
        }
    };
    match std::fs::metadata(p) {
        Ok(m) if m.is_dir() => Ok((
            p.to_path_buf(),
            if root_is_dir && contents_only {
                Map::Rebase(None)
            } else {
                Map::AsIs
            },
        )),
        Ok(_) if root_is_dir => Err(CpError::DirOntoFile {
            path: dest.to_string(),
            place: place.to_string(),
        }),
        Ok(_) if trailing => Err(CpError::NotADirectory {
            path: dest.to_string(),
            place: place.to_string(),
        }),
        Ok(_) => Ok((parent(), renamed()?)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if trailing && !root_is_dir {
                return Err(CpError::NoDestDir {
                    path: dest.to_string(),
                    place: place.to_string(),
                });
            }
            let up = parent();
            match std::fs::metadata(&up) {
                Ok(m) if m.is_dir() => Ok((up, renamed()?)),
                Ok(_) => Err(CpError::NotADirectory {
                    path: s(&up),
                    place: place.to_string(),
                }),
                Err(e) => Err(io_err("stat", &up, place)(e)),
            }
        }
        Err(e) => Err(io_err("stat", p, place)(e)),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::super::send::send;
    use super::super::tmp;
    use super::*;

    fn archive(src: &Path) -> Vec<u8> {
        let mut out = Vec::new();
        send(&mut out, &src.to_string_lossy(), false, "").unwrap();
        out
    }

    #[test]
    fn docker_destination_rules() {
        let d = tmp("rules");
        std::fs::create_dir_all(d.join("src/sub")).unwrap();
        std::fs::write(d.join("src/a"), "a").unwrap();
        std::fs::write(d.join("src/sub/b"), "b").unwrap();
        std::os::unix::fs::symlink("/etc", d.join("src/abs")).unwrap();
        std::fs::hard_link(d.join("src/a"), d.join("src/sub/a2")).unwrap();
        std::fs::create_dir(d.join("out")).unwrap();
        let s = |p: &Path| p.to_string_lossy().into_owned();
        let dir_ar = archive(&d.join("src"));
        // Directory into an existing directory: under its own name.
        receive(&dir_ar[..], &s(&d.join("out")), false, "").unwrap();
        assert_eq!(std::fs::read(d.join("out/src/sub/b")).unwrap(), b"b");
        assert_eq!(
            std::fs::read_link(d.join("out/src/abs")).unwrap(),
            Path::new("/etc")
        );
        let ino = |p: &Path| std::fs::metadata(p).unwrap().ino();
        assert_eq!(ino(&d.join("out/src/a")), ino(&d.join("out/src/sub/a2")));
        // To a missing path: created with the directory's contents.
        receive(&dir_ar[..], &s(&d.join("out/new")), false, "").unwrap();
        assert_eq!(std::fs::read(d.join("out/new/a")).unwrap(), b"a");
        // `SRC/.` into an existing directory: the contents only.
        std::fs::create_dir(d.join("out/flat")).unwrap();
        let dot_ar = {
            let mut out = Vec::new();
            send(&mut out, &format!("{}/.", s(&d.join("src"))), false, "").unwrap();
            out
        };
        receive(&dot_ar[..], &s(&d.join("out/flat")), true, "").unwrap();
        assert_eq!(std::fs::read(d.join("out/flat/sub/b")).unwrap(), b"b");
        // A file: into a directory, as a new name, over a file; not into a missing dir/.
        let file_ar = archive(&d.join("src/a"));
        receive(&file_ar[..], &s(&d.join("out")), false, "").unwrap();
        assert_eq!(std::fs::read(d.join("out/a")).unwrap(), b"a");
        receive(&file_ar[..], &s(&d.join("out/renamed")), false, "").unwrap();
        assert_eq!(std::fs::read(d.join("out/renamed")).unwrap(), b"a");
        receive(&file_ar[..], &s(&d.join("out/renamed")), false, "").unwrap();
        assert!(matches!(
            receive(
                &file_ar[..],
                &format!("{}/", s(&d.join("out/nodir"))),
                false,
                ""
            ),
            Err(CpError::NoDestDir { .. })
        ));
        assert!(matches!(
            receive(&file_ar[..], &s(&d.join("out/no/such")), false, ""),
            Err(CpError::NotFound { .. })
        ));
        assert!(matches!(
            receive(&dir_ar[..], &s(&d.join("out/a")), false, ""),
            Err(CpError::DirOntoFile { .. })
        ));
        assert!(matches!(
            send(Vec::new(), &s(&d.join("nope")), false, " in container c1"),
            Err(CpError::NotFound { .. })
        ));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
