//! The image store under `$XDG_DATA_HOME/box`: blobs, unpacked layers, image records
//! and tags. A store that never lies:
//!
//! - Anything that counts as present appears by one `rename`: a layer directory is
//!   unpacked under `tmp/` and renamed into `layers/` whole; JSON files are written to a
//!   temporary name and renamed. An interrupted pull leaves only `tmp/` debris, which
//!   the next pull that finds no other pull running removes.
//! - Any number of box processes may work at once: pulls hold `locks/gc.lock` shared,
//!   removal holds it exclusively (so it never deletes a layer a pull is about to
//!   reference), and tag/record updates hold `locks/meta.lock`.
//!
//! ```text
//! blobs/sha256/<hex>        manifests and configs, as the registry served them
//! layers/<hex>/diff/        an unpacked layer, named by its compressed digest
//! layers/<hex>/layer.json   what the layer is (diff id, size); written before the rename
//! l/<short>                 symlink to ../layers/<hex>/diff: overlay's option string is
//!                           one page long, so deep images mount through these
//! images/<hex>.json         an image record, named by its config digest (the image id)
//! repositories.json         tags: "registry/repo:tag" -> image id
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::reference::{validate_digest, ImageRef};

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("image store {path}: {op}: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        source: io::Error,
    },
    #[error("image store {path}: corrupt record: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("No such image: {0}")]
    NoSuchImage(String),
    #[error("{0} matches more than one image; give more of the id")]
    Ambiguous(String),
    #[error("disk full (No space left on device) while writing {path}")]
    DiskFull { path: PathBuf },
}

fn io_err<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| {
        if source.raw_os_error() == Some(libc::ENOSPC) {
            StoreError::DiskFull {
                path: path.to_path_buf(),
            }
        } else {
            StoreError::Io {
                path: path.to_path_buf(),
                op,
                source,
            }
        }
    }
}

/// One layer of an image, as its record lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LayerRef {
    /// The blob's (compressed) digest: the layer's name in the store.
    pub digest: String,
    pub diff_id: String,
    pub media_type: String,
    pub compressed_size: i64,
}

/// What `layers/<hex>/layer.json` says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LayerInfo {
    pub digest: String,
    pub diff_id: String,
    /// Bytes of file content once unpacked.
    pub size: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageRecord {
    /// `sha256:<hex>` of the config: Docker's image id.
    pub id: String,
    /// `registry/repo@sha256:...` for each repository it was pulled from.
    pub repo_digests: Vec<String>,
    pub manifest_digest: String,
    pub manifest_media_type: String,
    pub config_digest: String,
    /// Lowest first.
    pub layers: Vec<LayerRef>,
    pub created: Option<String>,
    /// When the image was stored (RFC 3339).
    pub stored: String,
    /// Unpacked size of all layers.
    pub size: u64,
    pub platform: String,
}

impl ImageRecord {
    pub fn short_id(&self) -> &str {
        short_id(&self.id)
    }
}

/// The 12 hex digits Docker shows for an id.
pub fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Repositories {
    tags: BTreeMap<String, String>,
}

pub struct Store {
    root: PathBuf,
}

/// A held `flock`; released on drop.
pub struct Lock(#[allow(dead_code)] File);

/// A directory under `tmp/`, removed on drop unless it was renamed into place.
pub struct TmpDir {
    path: PathBuf,
    keep: bool,
}

impl TmpDir {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

/// The name of a layer's short link, derived from its digest so it needs no record.
pub fn short_link(digest: &str) -> String {
    hex_of(digest)[..20].to_string()
}

impl Store {
    /// Opens (creating) the store; every directory is private to the user.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        for sub in ["", "blobs/sha256", "layers", "l", "images", "tmp", "locks"] {
            let p = root.join(sub);
            create_private_dir(&p)?;
        }
        Ok(Store {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn lock(&self, name: &str, op: rustix::fs::FlockOperation) -> Result<Lock, StoreError> {
        let p = self.root.join("locks").join(name);
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .map_err(io_err(&p, "open lock"))?;
        rustix::fs::flock(&f, op).map_err(|e| StoreError::Io {
            path: p.clone(),
            op: "lock",
            source: e.into(),
        })?;
        Ok(Lock(f))
    }

    /// Held by anything that adds to the store, so that removal waits for it.
    pub fn lock_shared(&self) -> Result<Lock, StoreError> {
        self.lock("gc.lock", rustix::fs::FlockOperation::LockShared)
    }

    /// Held by removal: no pull is running meanwhile.
    pub fn lock_exclusive(&self) -> Result<Lock, StoreError> {
        self.lock("gc.lock", rustix::fs::FlockOperation::LockExclusive)
    }

    /// Takes the exclusive lock if no one else holds the store, to sweep `tmp/`.
    pub fn try_clean_tmp(&self) {
        if let Ok(_l) = self.lock(
            "gc.lock",
            rustix::fs::FlockOperation::NonBlockingLockExclusive,
        ) {
            self.clean_tmp();
        }
    }

    /// Removes debris of interrupted work; call only with the exclusive lock.
    pub fn clean_tmp(&self) {
        if let Ok(rd) = fs::read_dir(self.root.join("tmp")) {
            for e in rd.flatten() {
                let _ = fs::remove_dir_all(e.path()).or_else(|_| fs::remove_file(e.path()));
            }
        }
    }

    /// Serializes the download of one layer across processes; blocks.
    pub fn lock_layer(&self, digest: &str) -> Result<Lock, StoreError> {
        self.lock(
            &format!("layer-{}.lock", short_link(digest)),
            rustix::fs::FlockOperation::LockExclusive,
        )
    }

    fn meta_lock(&self) -> Result<Lock, StoreError> {
        self.lock("meta.lock", rustix::fs::FlockOperation::LockExclusive)
    }

    pub fn tmp_dir(&self, purpose: &str) -> Result<TmpDir, StoreError> {
        let name = format!(
            "{purpose}-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        );
        let path = self.root.join("tmp").join(name);
        fs::create_dir(&path).map_err(io_err(&path, "create temporary directory"))?;
        Ok(TmpDir { path, keep: false })
    }

    pub fn layer_dir(&self, digest: &str) -> PathBuf {
        self.root.join("layers").join(hex_of(digest))
    }

    /// The directory of a layer's files.
    pub fn layer_diff(&self, digest: &str) -> PathBuf {
        self.layer_dir(digest).join("diff")
    }

    pub fn has_layer(&self, digest: &str) -> bool {
        self.layer_dir(digest).join("layer.json").exists()
    }

    pub fn layer_info(&self, digest: &str) -> Result<LayerInfo, StoreError> {
        read_json(&self.layer_dir(digest).join("layer.json"))
    }

    /// Moves an unpacked layer (`tmp/.../diff`) into place with its record. If another
    /// process committed the same layer first, this copy is dropped: both are identical.
    pub fn commit_layer(&self, mut tmp: TmpDir, info: &LayerInfo) -> Result<(), StoreError> {
        write_json(&tmp.path.join("layer.json"), info)?;
        let dest = self.layer_dir(&info.digest);
        match fs::rename(&tmp.path, &dest) {
            Ok(()) => tmp.keep = true,
            Err(e) if matches!(e.raw_os_error(), Some(libc::EEXIST) | Some(libc::ENOTEMPTY)) => {}
            Err(e) => return Err(io_err(&dest, "commit layer")(e)),
        }
        let link = self.root.join("l").join(short_link(&info.digest));
        let target = Path::new("../layers")
            .join(hex_of(&info.digest))
            .join("diff");
        match std::os::unix::fs::symlink(&target, &link) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(io_err(&link, "create layer link")(e)),
        }
    }

    fn blob_path(&self, digest: &str) -> PathBuf {
        self.root.join("blobs/sha256").join(hex_of(digest))
    }

    pub fn put_blob(&self, digest: &str, bytes: &[u8]) -> Result<(), StoreError> {
        write_atomic(&self.blob_path(digest), bytes)
    }

    pub fn blob(&self, digest: &str) -> Result<Vec<u8>, StoreError> {
        let p = self.blob_path(digest);
        fs::read(&p).map_err(io_err(&p, "read blob"))
    }

    fn image_path(&self, id: &str) -> PathBuf {
        self.root
            .join("images")
            .join(format!("{}.json", hex_of(id)))
    }

    pub fn image(&self, id: &str) -> Result<Option<ImageRecord>, StoreError> {
        let p = self.image_path(id);
        if !p.exists() {
            return Ok(None);
        }
        read_json(&p).map(Some)
    }

    pub fn images(&self) -> Result<Vec<ImageRecord>, StoreError> {
        let dir = self.root.join("images");
        let mut out = Vec::new();
        for e in fs::read_dir(&dir).map_err(io_err(&dir, "list images"))? {
            let e = e.map_err(io_err(&dir, "list images"))?;
            let p = e.path();
            if p.extension().is_some_and(|x| x == "json") {
                out.push(read_json(&p)?);
            }
        }
        Ok(out)
    }

    /// All tags, `registry/repo:tag` → image id.
    pub fn tags(&self) -> Result<BTreeMap<String, String>, StoreError> {
        let p = self.root.join("repositories.json");
        if !p.exists() {
            return Ok(BTreeMap::new());
        }
        Ok(read_json::<Repositories>(&p)?.tags)
    }

    fn save_tags(&self, tags: BTreeMap<String, String>) -> Result<(), StoreError> {
        write_json(&self.root.join("repositories.json"), &Repositories { tags })
    }

    /// Records an image and points `tag` (if any) at it, merging repo digests with an
    /// earlier record of the same image.
    pub fn add_image(&self, mut rec: ImageRecord, tag: Option<&str>) -> Result<(), StoreError> {
        let _l = self.meta_lock()?;
        if let Some(old) = self.image(&rec.id)? {
            for d in old.repo_digests {
                if !rec.repo_digests.contains(&d) {
                    rec.repo_digests.push(d);
                }
            }
        }
        write_json(&self.image_path(&rec.id), &rec)?;
        if let Some(t) = tag {
            let mut tags = self.tags()?;
            tags.insert(t.to_string(), rec.id.clone());
            self.save_tags(tags)?;
        }
        Ok(())
    }

    /// Points `tag` at an image that is already stored.
    pub fn set_tag(&self, tag: &str, id: &str) -> Result<(), StoreError> {
        let _l = self.meta_lock()?;
        if self.image(id)?.is_none() {
            return Err(StoreError::NoSuchImage(id.to_string()));
        }
        let mut tags = self.tags()?;
        tags.insert(tag.to_string(), id.to_string());
        self.save_tags(tags)
    }

    /// Removes a tag; returns the id it pointed to.
    pub fn remove_tag(&self, tag: &str) -> Result<Option<String>, StoreError> {
        let _l = self.meta_lock()?;
        let mut tags = self.tags()?;
        let id = tags.remove(tag);
        self.save_tags(tags)?;
        Ok(id)
    }

    /// Removes an image record and every tag pointing to it. Its layers stay until
    /// [`Store::collect_garbage`].
    pub fn remove_image(&self, id: &str) -> Result<Vec<String>, StoreError> {
        let _l = self.meta_lock()?;
        let mut tags = self.tags()?;
        let untagged: Vec<String> = tags
            .iter()
            .filter(|(_, v)| *v == id)
            .map(|(k, _)| k.clone())
            .collect();
        tags.retain(|_, v| v != id);
        self.save_tags(tags)?;
        let p = self.image_path(id);
        match fs::remove_file(&p) {
            Ok(()) => Ok(untagged),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(untagged),
            Err(e) => Err(io_err(&p, "remove image record")(e)),
        }
    }

    /// Removes layers and blobs no image refers to; returns the bytes freed. The caller
    /// holds [`Store::lock_exclusive`]. A layer is first renamed into `tmp/`, so a
    /// removal cut short never leaves a half-deleted layer that looks whole.
    /// `in_use` lists layer digests that containers still mount.
    pub fn collect_garbage(&self, in_use: &[String]) -> Result<u64, StoreError> {
        let images = self.images()?;
        let mut keep_layers: BTreeSet<String> =
            in_use.iter().map(|d| hex_of(d).to_string()).collect();
        let mut keep_blobs = BTreeSet::new();
        for img in &images {
            keep_blobs.insert(hex_of(&img.manifest_digest).to_string());
            keep_blobs.insert(hex_of(&img.config_digest).to_string());
            for l in &img.layers {
                keep_layers.insert(hex_of(&l.digest).to_string());
            }
        }
        let mut freed = 0;
        let layers = self.root.join("layers");
        for e in fs::read_dir(&layers)
            .map_err(io_err(&layers, "list layers"))?
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            if keep_layers.contains(&name) {
                continue;
            }
            let digest = format!("sha256:{name}");
            freed += self.layer_info(&digest).map(|i| i.size).unwrap_or(0);
            if name.len() >= 20 {
                let _ = fs::remove_file(self.root.join("l").join(short_link(&digest)));
            }
            let trash = self
                .root
                .join("tmp")
                .join(format!("trash-{name}-{:08x}", rand::random::<u32>()));
            fs::rename(e.path(), &trash).map_err(io_err(&e.path(), "remove layer"))?;
            fs::remove_dir_all(&trash).map_err(io_err(&trash, "remove layer"))?;
        }
        // Per-layer download locks of layers that are gone: no pull runs now.
        if let Ok(rd) = fs::read_dir(self.root.join("locks")) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if let Some(short) = n
                    .strip_prefix("layer-")
                    .and_then(|x| x.strip_suffix(".lock"))
                {
                    if !keep_layers.iter().any(|l| l.starts_with(short)) {
                        let _ = fs::remove_file(e.path());
                    }
                }
            }
        }
        let blobs = self.root.join("blobs/sha256");
        for e in fs::read_dir(&blobs)
            .map_err(io_err(&blobs, "list blobs"))?
            .flatten()
        {
            if !keep_blobs.contains(&*e.file_name().to_string_lossy()) {
                let _ = fs::remove_file(e.path());
            }
        }
        Ok(freed)
    }

    /// Finds an image as Docker does: by reference (`name`, `name:tag`,
    /// `name@digest`), then by full or abbreviated id.
    pub fn resolve(&self, s: &str, default_registry: &str) -> Result<ImageRecord, StoreError> {
        if let Ok(r) = ImageRef::parse_with(s, default_registry) {
            if let Some(id) = self.lookup_ref(&r)? {
                if let Some(rec) = self.image(&id)? {
                    return Ok(rec);
                }
            }
        }
        let hex = s.strip_prefix("sha256:").unwrap_or(s);
        if !hex.is_empty() && hex.len() <= 64 && hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            let hex = hex.to_ascii_lowercase();
            let mut found = self
                .images()?
                .into_iter()
                .filter(|i| hex_of(&i.id).starts_with(&hex));
            if let Some(first) = found.next() {
                if found.next().is_some() {
                    return Err(StoreError::Ambiguous(s.to_string()));
                }
                return Ok(first);
            }
        }
        Err(StoreError::NoSuchImage(s.to_string()))
    }

    /// The image id a reference names, if it is stored.
    pub fn lookup_ref(&self, r: &ImageRef) -> Result<Option<String>, StoreError> {
        if let Some(d) = &r.digest {
            if validate_digest(d).is_ok() {
                let want = format!("{}@{d}", r.name());
                return Ok(self
                    .images()?
                    .into_iter()
                    .find(|i| i.repo_digests.contains(&want))
                    .map(|i| i.id));
            }
        }
        Ok(r.tagged().and_then(|t| self.tags().ok()?.get(&t).cloned()))
    }
}

fn create_private_dir(p: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::DirBuilderExt;
    match fs::DirBuilder::new().recursive(true).mode(0o700).create(p) {
        Ok(()) => Ok(()),
        Err(e) => Err(io_err(p, "create directory")(e)),
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(p: &Path) -> Result<T, StoreError> {
    let bytes = fs::read(p).map_err(io_err(p, "read"))?;
    serde_json::from_slice(&bytes).map_err(|source| StoreError::Corrupt {
        path: p.to_path_buf(),
        source,
    })
}

fn write_json<T: Serialize>(p: &Path, v: &T) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec_pretty(v).expect("store records serialize");
    write_atomic(p, &bytes)
}

/// Writes to a temporary sibling, syncs and renames, so readers see the old or the
/// new file, never a torn one, and the new one survives a crash.
pub fn write_atomic(p: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    write_via_rename(p, bytes, true)
}

/// As [`write_atomic`], without the sync: for state that is rewritten often and on
/// the start path of a container (readers still never see a torn file).
pub fn replace_atomic(p: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    write_via_rename(p, bytes, false)
}

fn write_via_rename(p: &Path, bytes: &[u8], sync: bool) -> Result<(), StoreError> {
    let tmp = p.with_extension(format!(
        "tmp-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let res = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        if sync {
            f.sync_data()?;
        }
        fs::rename(&tmp, p)
    })();
    if let Err(e) = res {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(p, "write")(e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, layers: &[&str]) -> ImageRecord {
        ImageRecord {
            id: id.into(),
            repo_digests: vec![],
            manifest_digest: format!("sha256:{}", "m".repeat(64)),
            manifest_media_type: String::new(),
            config_digest: id.into(),
            layers: layers
                .iter()
                .map(|d| LayerRef {
                    digest: d.to_string(),
                    diff_id: d.to_string(),
                    media_type: String::new(),
                    compressed_size: 0,
                })
                .collect(),
            created: None,
            stored: String::new(),
            size: 0,
            platform: String::new(),
        }
    }

    fn layer(store: &Store, digest: &str) {
        let tmp = store.tmp_dir("layer").unwrap();
        fs::create_dir(tmp.path().join("diff")).unwrap();
        store
            .commit_layer(
                tmp,
                &LayerInfo {
                    digest: digest.into(),
                    diff_id: digest.into(),
                    size: 1,
                },
            )
            .unwrap();
    }

    #[test]
    fn tags_resolution_and_garbage() {
        let dir = std::env::temp_dir().join(format!("box-store-test-{}", std::process::id()));
        let store = Store::open(&dir).unwrap();
        let (a, b) = (
            format!("sha256:{}", "a".repeat(64)),
            format!("sha256:{}", "b".repeat(64)),
        );
        let (l1, l2) = (
            format!("sha256:{}", "1".repeat(64)),
            format!("sha256:{}", "2".repeat(64)),
        );
        layer(&store, &l1);
        layer(&store, &l2);
        layer(&store, &l2); // a second commit of the same layer is dropped
        store
            .add_image(record(&a, &[&l1, &l2]), Some("docker.io/library/x:latest"))
            .unwrap();
        store
            .add_image(record(&b, &[&l2]), Some("docker.io/library/y:latest"))
            .unwrap();
        assert_eq!(store.resolve("x", "docker.io").unwrap().id, a);
        assert_eq!(store.resolve("bbbb", "docker.io").unwrap().id, b);
        assert!(matches!(
            store.resolve("z", "docker.io"),
            Err(StoreError::NoSuchImage(_))
        ));
        assert_eq!(
            store.remove_image(&a).unwrap(),
            vec!["docker.io/library/x:latest".to_string()]
        );
        let _l = store.lock_exclusive().unwrap();
        store.collect_garbage(&[]).unwrap();
        assert!(!store.has_layer(&l1));
        assert!(store.has_layer(&l2));
        assert!(store.root().join("l").join(short_link(&l2)).exists());
        assert!(fs::read_link(store.root().join("l").join(short_link(&l1))).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }
}
