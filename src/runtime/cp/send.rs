//! The sending side of `box cp`: a path becomes a tar archive written to a pipe,
//! whichever side of the copy it runs on (in the container for copy-out, on the host
//! for copy-in).
//!
//! It only reads: it must not follow a symlink below the source (only the source
//! itself, with `-L`), and it must not let a file that changes while it is read
//! corrupt the archive.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rustix::fs as rfs;

use super::{contents_only, io_err, CpError};

/// Writes `src` as a tar archive whose root entry is named after it (its last
/// component), as Docker's archives are.
pub(super) fn send<W: Write>(out: W, src: &str, follow: bool, place: &str) -> Result<(), CpError> {
    let path = Path::new(src);
    let wants_dir = contents_only(src) || src.ends_with('/');
    let meta = if follow {
        std::fs::metadata(path)
    } else {
        std::fs::symlink_metadata(path)
    }
    .map_err(io_err("stat", src, place))?;
    if wants_dir && !meta.is_dir() {
        return Err(CpError::NotADirectory {
            path: src.to_string(),
            place: place.to_string(),
        });
    }
    let name = match path.file_name() {
        Some(n) => PathBuf::from(n),
        // `..`, `/`: name it after what it is, or `.` for the root.
        None => std::fs::canonicalize(path)
            .ok()
            .and_then(|p| p.file_name().map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(".")),
    };
    // Only the source itself is followed with `-L`; what lies below it is copied as
    // it is (symlinks as symlinks).
    let real = if follow {
        std::fs::canonicalize(path).map_err(io_err("stat", src, place))?
    } else {
        path.to_path_buf()
    };
    let mut s = Sender {
        ar: tar::Builder::new(out),
        links: HashMap::new(),
        place,
    };
    s.add(&real, &name, &meta)?;
    s.ar.into_inner()
        .and_then(|mut w| w.flush())
        .map_err(CpError::Send)
}

struct Sender<'a, W: Write> {
    ar: tar::Builder<W>,
    /// Files with several links, by (device, inode): the archive name of the first.
    links: HashMap<(u64, u64), PathBuf>,
    place: &'a str,
}

impl<W: Write> Sender<'_, W> {
    fn add(&mut self, path: &Path, name: &Path, meta: &std::fs::Metadata) -> Result<(), CpError> {
        let ft = meta.file_type();
        let mut h = tar::Header::new_gnu();
        h.set_metadata_in_mode(meta, tar::HeaderMode::Complete);
        let send = CpError::Send;
        if ft.is_dir() {
            self.ar
                .append_data(&mut h, name, io::empty())
                .map_err(send)?;
            let mut children: Vec<OsString> = std::fs::read_dir(path)
                .map_err(io_err("read directory", path, self.place))?
                .filter_map(|e| e.ok().map(|e| e.file_name()))
                .collect();
            children.sort();
            for c in children {
                let p = path.join(&c);
                match std::fs::symlink_metadata(&p) {
                    Ok(m) => self.add(&p, &name.join(&c), &m)?,
                    // Removed since it was listed (the container runs).
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err("stat", &p, self.place)(e)),
                }
            }
            Ok(())
        } else if ft.is_symlink() {
            let target = std::fs::read_link(path).map_err(io_err("read link", path, self.place))?;
            self.ar.append_link(&mut h, name, target).map_err(send)
        } else if ft.is_file() {
            if meta.nlink() > 1 {
                let key = (meta.dev(), meta.ino());
                if let Some(first) = self.links.get(&key) {
                    h.set_entry_type(tar::EntryType::Link);
                    h.set_size(0);
                    return self.ar.append_link(&mut h, name, first).map_err(send);
                }
                self.links.insert(key, name.to_path_buf());
            }
            let f = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(path)
                .map_err(io_err("open", path, self.place))?;
            let data = Exact {
                inner: f,
                left: meta.len(),
            };
            self.ar.append_data(&mut h, name, data).map_err(|e| {
                if e.kind() == io::ErrorKind::BrokenPipe {
                    CpError::Send(e)
                } else {
                    io_err("read", path, self.place)(e)
                }
            })
        } else if ft.is_fifo() || ft.is_char_device() || ft.is_block_device() {
            let dev = meta.rdev();
            let _ = h.set_device_major(rfs::major(dev));
            let _ = h.set_device_minor(rfs::minor(dev));
            self.ar.append_data(&mut h, name, io::empty()).map_err(send)
        } else {
            // Sockets cannot be archived; Docker leaves them out too.
            Ok(())
        }
    }
}

/// A file's contents as exactly `left` bytes, the size its header announced: a file
/// that a running container grows or truncates meanwhile must not corrupt the archive
/// (cut at the size, or padded with zeros).
struct Exact {
    inner: File,
    left: u64,
}

impl Read for Exact {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let n = match self.inner.read(&mut buf[..want])? {
            0 => {
                buf[..want].fill(0);
                want
            }
            n => n,
        };
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tmp;
    use super::*;

    #[test]
    fn exact_pads_and_cuts() {
        let d = tmp("exact");
        std::fs::write(d.join("f"), "abc").unwrap();
        let mut s = String::new();
        Exact {
            inner: File::open(d.join("f")).unwrap(),
            left: 2,
        }
        .read_to_string(&mut s)
        .unwrap();
        assert_eq!(s, "ab");
        let mut v = Vec::new();
        Exact {
            inner: File::open(d.join("f")).unwrap(),
            left: 5,
        }
        .read_to_end(&mut v)
        .unwrap();
        assert_eq!(v, b"abc\0\0");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
