//! `box pull`: manifest → platform → config → layers, streamed.
//!
//! Each layer is downloaded, hashed, decompressed and unpacked as its bytes arrive
//! (the async side only moves chunks; a blocking thread does the rest), into a
//! temporary directory that is committed only after both its blob digest and its
//! diff id check out. Nothing is trusted, or kept, before its digest matches.

use std::io::{self, BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};
use thiserror::Error;
use tokio::sync::mpsc;

use super::auth;
use super::manifest::{
    choose_platform, Compression, Descriptor, ImageConfig, ImageManifest, Manifest, ManifestError,
    Platform,
};
use super::reference::ImageRef;
use super::registry::{Registry, RegistryError};
use super::store::{ImageRecord, LayerInfo, LayerRef, Store, StoreError};
use super::unpack::{self, UnpackError, UnpackOptions, UnpackStats};
use crate::config::{Config, Dirs};

/// Layers fetched at once: enough to keep both the network and the cores busy.
const PARALLEL_LAYERS: usize = 4;

#[derive(Debug, Error)]
pub enum PullError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("{reference}: {source}")]
    Manifest {
        reference: String,
        source: ManifestError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("layer {digest}: {source}")]
    Layer { digest: String, source: LayerError },
}

#[derive(Debug, Error)]
pub enum LayerError {
    #[error("digest mismatch: the registry sent content with digest {actual}, expected {expected}; nothing of it was kept")]
    DigestMismatch { expected: String, actual: String },
    #[error("uncompressed digest mismatch: got {actual}, the image config says {expected}; nothing of it was kept")]
    DiffIdMismatch { expected: String, actual: String },
    #[error("download failed: {0}")]
    Transfer(String),
    #[error("cannot decompress: {0}")]
    Decompress(io::Error),
    #[error(transparent)]
    Unpack(#[from] UnpackError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a pull reports as it goes; the command line draws bars from it. The library
/// itself never prints.
pub trait Progress: Send + Sync {
    fn layer_start(&self, _digest: &str, _size: u64) {}
    fn layer_bytes(&self, _digest: &str, _n: u64) {}
    fn layer_done(&self, _digest: &str, _status: &str) {}
}

pub struct NoProgress;
impl Progress for NoProgress {}

pub struct PullContext {
    pub store: Arc<Store>,
    pub config: Config,
    pub dirs: Dirs,
    pub unpack: UnpackOptions,
}

#[derive(Debug)]
pub struct PullOutcome {
    pub id: String,
    /// The digest the reference resolved to (an index's, for multi-platform images).
    pub digest: String,
    /// Whether anything new was stored (Docker's "Downloaded newer image").
    pub downloaded: bool,
    pub warnings: Vec<String>,
}

pub async fn pull(
    ctx: &PullContext,
    r: &ImageRef,
    platform: &Platform,
    progress: Arc<dyn Progress>,
) -> Result<PullOutcome, PullError> {
    let store = ctx.store.clone();
    store.try_clean_tmp();
    let _shared = store.lock_shared()?;

    let (registry, body, digest) = fetch_top_manifest(ctx, r).await?;
    let manifest_err = |source| PullError::Manifest {
        reference: r.to_string(),
        source,
    };
    let (manifest, manifest_body, manifest_digest) =
        match Manifest::parse(&body, None).map_err(manifest_err)? {
            Manifest::Image(m) => (m, body, digest.clone()),
            Manifest::Index(entries) => {
                let chosen = choose_platform(&entries, platform).map_err(manifest_err)?;
                let child = r.with_digest(&chosen.digest);
                let (b, d) = registry.manifest(&child).await?;
                match Manifest::parse(&b, None).map_err(manifest_err)? {
                    Manifest::Image(m) => (m, b, d),
                    Manifest::Index(_) => {
                        return Err(manifest_err(ManifestError::MediaType(
                            "nested index".into(),
                        )))
                    }
                }
            }
        };
    for l in &manifest.layers {
        Compression::of(&l.media_type).map_err(manifest_err)?;
    }

    let id = manifest.config.digest.clone();
    let repo_digest = format!("{}@{digest}", r.name());
    let complete = store
        .image(&id)?
        .is_some_and(|rec| rec.layers.iter().all(|l| store.has_layer(&l.digest)));
    if complete {
        let mut rec = store.image(&id)?.expect("checked above");
        let known = rec.repo_digests.contains(&repo_digest);
        rec.repo_digests.push(repo_digest);
        rec.repo_digests.dedup();
        let was_tagged = r.tagged().is_some_and(|t| {
            store.tags().ok().and_then(|m| m.get(&t).cloned()) == Some(id.clone())
        });
        store.add_image(rec, r.tagged().as_deref())?;
        return Ok(PullOutcome {
            id,
            digest,
            downloaded: !(known && was_tagged),
            warnings: vec![],
        });
    }

    let config_body = registry.blob(r, &manifest.config).await?;
    let config = ImageConfig::parse(&config_body).map_err(manifest_err)?;
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(manifest_err(ManifestError::LayerCount {
            diff_ids: config.rootfs.diff_ids.len(),
            layers: manifest.layers.len(),
        }));
    }

    let registry = Arc::new(registry);
    let jobs = manifest
        .layers
        .iter()
        .zip(&config.rootfs.diff_ids)
        .map(|(desc, diff_id)| {
            let (registry, store, progress) = (registry.clone(), store.clone(), progress.clone());
            let (desc, diff_id, r, opts) = (desc.clone(), diff_id.clone(), r.clone(), ctx.unpack);
            async move {
                fetch_layer(
                    &registry,
                    &store,
                    &r,
                    &desc,
                    &diff_id,
                    opts,
                    progress.as_ref(),
                )
                .await
                .map_err(|source| PullError::Layer {
                    digest: desc.digest.clone(),
                    source,
                })
            }
        });
    let stats: Vec<UnpackStats> = futures_util::stream::iter(jobs)
        .buffered(PARALLEL_LAYERS)
        .try_collect()
        .await?;

    let size = manifest
        .layers
        .iter()
        .map(|l| store.layer_info(&l.digest).map(|i| i.size))
        .sum::<Result<u64, _>>()?;
    store.put_blob(&manifest_digest, &manifest_body)?;
    store.put_blob(&id, &config_body)?;
    let rec = record(&manifest, &manifest_digest, &config, repo_digest, size);
    store.add_image(rec, r.tagged().as_deref())?;
    Ok(PullOutcome {
        id,
        digest,
        downloaded: true,
        warnings: warnings(&stats),
    })
}

/// Asks the mirrors, then the registry itself, for the reference's manifest.
async fn fetch_top_manifest(
    ctx: &PullContext,
    r: &ImageRef,
) -> Result<(Registry, Bytes, String), PullError> {
    let hosts = Registry::candidates(&ctx.config, &r.registry);
    let last = hosts.len() - 1;
    for (i, host) in hosts.iter().enumerate() {
        let registry = Registry::new(&ctx.config, host, auth::lookup(&ctx.dirs, host));
        match registry.manifest(r).await {
            Ok((body, digest)) => return Ok((registry, body, digest)),
            Err(e) if i < last && !matches!(e, RegistryError::DigestMismatch { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    unreachable!("the candidate list always ends with the registry itself")
}

fn record(
    m: &ImageManifest,
    manifest_digest: &str,
    config: &ImageConfig,
    repo_digest: String,
    size: u64,
) -> ImageRecord {
    let platform = Platform {
        os: config.os.clone(),
        architecture: config.architecture.clone(),
        variant: config.variant.clone(),
    };
    ImageRecord {
        id: m.config.digest.clone(),
        repo_digests: vec![repo_digest],
        manifest_digest: manifest_digest.to_string(),
        manifest_media_type: m.media_type.clone(),
        config_digest: m.config.digest.clone(),
        layers: m
            .layers
            .iter()
            .zip(&config.rootfs.diff_ids)
            .map(|(l, d)| LayerRef {
                digest: l.digest.clone(),
                diff_id: d.clone(),
                media_type: l.media_type.clone(),
                compressed_size: l.size,
            })
            .collect(),
        created: config.created.clone(),
        stored: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        size,
        platform: platform.to_string(),
    }
}

fn warnings(stats: &[UnpackStats]) -> Vec<String> {
    let sum = |f: fn(&UnpackStats) -> u32| stats.iter().map(f).sum::<u32>();
    let mut w = Vec::new();
    let devices = sum(|s| s.skipped_devices);
    if devices > 0 {
        w.push(format!("skipped {devices} device node(s): unprivileged users cannot create device files (containers get their /dev at run time)"));
    }
    let unmapped = sum(|s| s.unmapped_owners);
    if unmapped > 0 {
        w.push(format!("{unmapped} file(s) are owned by ids outside this user's subordinate range; they were left owned by root"));
    }
    let xattrs = sum(|s| s.skipped_xattrs);
    if xattrs > 0 {
        w.push(format!(
            "{xattrs} extended attribute(s) could not be set and were skipped"
        ));
    }
    w
}

async fn fetch_layer(
    registry: &Registry,
    store: &Arc<Store>,
    r: &ImageRef,
    desc: &Descriptor,
    diff_id: &str,
    opts: UnpackOptions,
    progress: &dyn Progress,
) -> Result<UnpackStats, LayerError> {
    // One process unpacks a given layer at a time; the others wait and then find it.
    let lock = {
        let (store, digest) = (store.clone(), desc.digest.clone());
        tokio::task::spawn_blocking(move || store.lock_layer(&digest))
            .await
            .expect("lock task panicked")?
    };
    if store.has_layer(&desc.digest) {
        progress.layer_done(&desc.digest, "Already exists");
        return Ok(UnpackStats::default());
    }
    let compression = Compression::of(&desc.media_type)?;
    let tmp = store.tmp_dir("layer")?;
    let diff = tmp.path().join("diff");
    std::fs::create_dir(&diff).map_err(|e| LayerError::Unpack(UnpackError::Archive(e)))?;

    progress.layer_start(&desc.digest, desc.size.max(0) as u64);
    let mut stream = registry
        .blob_stream(r, desc)
        .await
        .map_err(|e| LayerError::Transfer(e.to_string()))?
        .stream;
    let (tx, rx) = mpsc::channel::<Result<Bytes, String>>(32);
    let expected = (desc.digest.clone(), desc.size, diff_id.to_string());
    let worker = tokio::task::spawn_blocking(move || {
        unpack_verified(
            rx,
            compression,
            &expected.0,
            expected.1,
            &expected.2,
            &diff,
            opts,
        )
    });
    while let Some(chunk) = stream.next().await {
        let msg = chunk.map_err(|e| e.to_string());
        let failed = msg.is_err();
        if let Ok(b) = &msg {
            progress.layer_bytes(&desc.digest, b.len() as u64);
        }
        if tx.send(msg).await.is_err() || failed {
            break;
        }
    }
    drop(tx);
    let (stats, size) = worker.await.expect("unpack task panicked")?;
    store.commit_layer(
        tmp,
        &LayerInfo {
            digest: desc.digest.clone(),
            diff_id: diff_id.to_string(),
            size,
        },
    )?;
    drop(lock);
    progress.layer_done(&desc.digest, "Pull complete");
    Ok(stats)
}

/// Runs on a blocking thread: hash, decompress, hash again, unpack. On any failure the
/// rest of the stream is still read, so that a tampered blob is reported as the digest
/// mismatch it is rather than as whatever garbage it decompressed to.
fn unpack_verified(
    rx: mpsc::Receiver<Result<Bytes, String>>,
    compression: Compression,
    digest: &str,
    size: i64,
    diff_id: &str,
    dest: &Path,
    opts: UnpackOptions,
) -> Result<(UnpackStats, u64), LayerError> {
    let mut src = ChannelReader {
        rx,
        cur: Bytes::new(),
        hasher: Sha256::new(),
        len: 0,
        error: None,
    };
    let (result, actual_diff_id) = {
        let mut tar = HashingReader {
            inner: decoder(compression, &mut src)?,
            hasher: Sha256::new(),
        };
        let res = unpack::unpack(&mut tar, dest, opts);
        if res.is_ok() {
            // Read past the archive's end so the whole tar stream is hashed.
            let _ = io::copy(&mut tar, &mut io::sink());
        }
        (
            res,
            format!("sha256:{}", hex::encode(tar.hasher.finalize())),
        )
    };
    let _ = io::copy(&mut src, &mut io::sink());
    let actual = format!("sha256:{}", hex::encode(src.hasher.finalize_reset()));
    if actual != digest && (src.error.is_none() || src.len as i64 >= size) {
        return Err(LayerError::DigestMismatch {
            expected: digest.into(),
            actual,
        });
    }
    if let Some(e) = src.error {
        return Err(LayerError::Transfer(e));
    }
    let stats = result.map_err(|e| match e {
        UnpackError::Archive(io) if compression != Compression::None => LayerError::Decompress(io),
        other => LayerError::Unpack(other),
    })?;
    if actual_diff_id != diff_id {
        return Err(LayerError::DiffIdMismatch {
            expected: diff_id.into(),
            actual: actual_diff_id,
        });
    }
    Ok((stats, stats.size))
}

fn decoder<'a>(
    c: Compression,
    src: &'a mut ChannelReader,
) -> Result<Box<dyn Read + 'a>, LayerError> {
    Ok(match c {
        Compression::None => Box::new(src),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
            256 * 1024,
            src,
        ))),
        Compression::Zstd => Box::new(zstd::Decoder::new(src).map_err(LayerError::Decompress)?),
    })
}

/// Reads the chunks the async side sends, hashing every byte on the way.
struct ChannelReader {
    rx: mpsc::Receiver<Result<Bytes, String>>,
    cur: Bytes,
    hasher: Sha256,
    len: u64,
    error: Option<String>,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => {
                    self.hasher.update(&b);
                    self.len += b.len() as u64;
                    self.cur = b;
                }
                Some(Err(e)) => {
                    self.error = Some(e.clone());
                    return Err(io::Error::other(e));
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        let _ = self.cur.split_to(n);
        Ok(n)
    }
}

struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}
