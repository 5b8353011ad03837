//! Manifests and image configs as the registry serves them: OCI image manifests and
//! indexes, Docker schema 2 manifests and manifest lists, and choosing a platform.
//!
//! Only the fields box uses are modelled; the verified raw bytes are stored as they
//! came, so `box image inspect` shows what the registry said.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const ACCEPTED: &[&str] = &[OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST];

#[derive(Debug, Error)]
pub enum ManifestError {
    #[error("cannot parse the manifest: {0}")]
    Parse(serde_json::Error),
    #[error("unsupported manifest type {0:?}")]
    MediaType(String),
    #[error("unsupported manifest schema version {0} (only schema 2 is supported)")]
    Schema(u32),
    #[error("no image for platform {wanted} in the index (it has: {available})")]
    NoPlatform { wanted: Platform, available: String },
    #[error("unsupported layer type {0:?}")]
    LayerType(String),
    #[error("image config lists {diff_ids} layer digests but the manifest has {layers} layers")]
    LayerCount { diff_ids: usize, layers: usize },
    #[error("cannot parse the image config: {0}")]
    Config(serde_json::Error),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: String,
    #[serde(default)]
    pub size: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// The platform this box binary runs on, in Go's (and so the registries') names.
    pub fn host() -> Platform {
        let (architecture, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "aarch64" => ("arm64", Some("v8")),
            "arm" => ("arm", Some("v7")),
            "x86" => ("386", None),
            "powerpc64" => ("ppc64le", None),
            "s390x" => ("s390x", None),
            "riscv64" => ("riscv64", None),
            other => (other, None),
        };
        Platform {
            os: "linux".into(),
            architecture: architecture.into(),
            variant: variant.map(Into::into),
        }
    }

    /// Parses `os/arch[/variant]`.
    pub fn parse(s: &str) -> Option<Platform> {
        let mut it = s.split('/');
        let os = it.next().filter(|x| !x.is_empty())?.to_string();
        let architecture = it.next().filter(|x| !x.is_empty())?.to_string();
        let variant = it.next().filter(|x| !x.is_empty()).map(str::to_string);
        if it.next().is_some() {
            return None;
        }
        Some(Platform {
            os,
            architecture,
            variant,
        })
    }

    /// Whether an index entry serves this platform. A missing variant on either side
    /// matches (arm64 images rarely say v8), as containerd's matcher does.
    fn matches(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && match (&self.variant, &other.variant) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// What a manifest body turned out to be.
#[derive(Debug)]
pub enum Manifest {
    Image(ImageManifest),
    Index(Vec<Descriptor>),
}

#[derive(Debug, Clone)]
pub struct ImageManifest {
    pub media_type: String,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    schema_version: u32,
    #[serde(default)]
    media_type: Option<String>,
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
    manifests: Option<Vec<Descriptor>>,
}

impl Manifest {
    /// Parses a manifest body; `content_type` is the registry's header, used when the
    /// body does not name its own media type (OCI allows that).
    pub fn parse(body: &[u8], content_type: Option<&str>) -> Result<Manifest, ManifestError> {
        let raw: RawManifest = serde_json::from_slice(body).map_err(ManifestError::Parse)?;
        if raw.schema_version != 2 {
            return Err(ManifestError::Schema(raw.schema_version));
        }
        let media_type = raw
            .media_type
            .or(content_type.map(str::to_string))
            .unwrap_or_default();
        match (media_type.as_str(), raw.manifests, raw.config, raw.layers) {
            (OCI_INDEX | DOCKER_LIST, Some(m), _, _) | ("", Some(m), None, _) => {
                Ok(Manifest::Index(m))
            }
            (OCI_MANIFEST | DOCKER_MANIFEST | "", _, Some(config), Some(layers)) => {
                let media_type = if media_type.is_empty() {
                    OCI_MANIFEST.to_string()
                } else {
                    media_type
                };
                Ok(Manifest::Image(ImageManifest {
                    media_type,
                    config,
                    layers,
                }))
            }
            _ => Err(ManifestError::MediaType(media_type)),
        }
    }
}

/// Picks the manifest for `wanted` from an index.
pub fn choose_platform<'a>(
    entries: &'a [Descriptor],
    wanted: &Platform,
) -> Result<&'a Descriptor, ManifestError> {
    let exact = entries.iter().find(|d| d.platform.as_ref() == Some(wanted));
    exact
        .or_else(|| {
            entries
                .iter()
                .find(|d| d.platform.as_ref().is_some_and(|p| wanted.matches(p)))
        })
        .ok_or_else(|| ManifestError::NoPlatform {
            wanted: wanted.clone(),
            available: entries
                .iter()
                .filter_map(|d| d.platform.as_ref().map(|p| p.to_string()))
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// How a layer blob is compressed, from its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn of(media_type: &str) -> Result<Compression, ManifestError> {
        match media_type {
            "application/vnd.oci.image.layer.v1.tar+gzip"
            | "application/vnd.docker.image.rootfs.diff.tar.gzip"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
            | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => Ok(Compression::Gzip),
            "application/vnd.oci.image.layer.v1.tar+zstd"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd" => {
                Ok(Compression::Zstd)
            }
            "application/vnd.oci.image.layer.v1.tar"
            | "application/vnd.docker.image.rootfs.diff.tar"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar" => Ok(Compression::None),
            other => Err(ManifestError::LayerType(other.to_string())),
        }
    }
}

/// The parts of an image config that box reads; the rest stays in the stored bytes.
#[derive(Debug, Clone, Deserialize)]
pub struct ImageConfig {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub rootfs: RootFs,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RootFs {
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

impl ImageConfig {
    pub fn parse(body: &[u8]) -> Result<ImageConfig, ManifestError> {
        serde_json::from_slice(body).map_err(ManifestError::Config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(arch: &str, variant: Option<&str>) -> Descriptor {
        Descriptor {
            media_type: OCI_MANIFEST.into(),
            digest: format!("sha256:{arch}"),
            size: 1,
            platform: Some(Platform {
                os: "linux".into(),
                architecture: arch.into(),
                variant: variant.map(Into::into),
            }),
        }
    }

    #[test]
    fn chooses_platform() {
        let idx = vec![
            entry("amd64", None),
            entry("arm64", Some("v8")),
            entry("arm", Some("v7")),
        ];
        let p = |s| Platform::parse(s).unwrap();
        assert_eq!(
            choose_platform(&idx, &p("linux/amd64")).unwrap().digest,
            "sha256:amd64"
        );
        assert_eq!(
            choose_platform(&idx, &p("linux/arm64")).unwrap().digest,
            "sha256:arm64"
        );
        assert_eq!(
            choose_platform(&idx, &p("linux/arm64/v8")).unwrap().digest,
            "sha256:arm64"
        );
        assert!(choose_platform(&idx, &p("linux/arm/v6")).is_err());
        let err = choose_platform(&idx, &p("linux/s390x"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("linux/amd64, linux/arm64/v8, linux/arm/v7"),
            "{err}"
        );
        assert!(Platform::parse("linux").is_none());
    }

    #[test]
    fn parses_manifest_kinds() {
        let img = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
            "config":{"mediaType":"x","digest":"sha256:c","size":1},"layers":[{"mediaType":"y","digest":"sha256:l","size":2}]}"#;
        assert!(
            matches!(Manifest::parse(img, None).unwrap(), Manifest::Image(m) if m.layers.len() == 1)
        );
        let idx =
            br#"{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"sha256:a","size":1}]}"#;
        assert!(
            matches!(Manifest::parse(idx, Some(OCI_INDEX)).unwrap(), Manifest::Index(m) if m.len() == 1)
        );
        assert!(matches!(
            Manifest::parse(br#"{"schemaVersion":1}"#, None),
            Err(ManifestError::Schema(1))
        ));
    }

    #[test]
    fn compression_from_media_type() {
        assert_eq!(
            Compression::of("application/vnd.oci.image.layer.v1.tar+zstd").unwrap(),
            Compression::Zstd
        );
        assert_eq!(
            Compression::of("application/vnd.docker.image.rootfs.diff.tar.gzip").unwrap(),
            Compression::Gzip
        );
        assert!(Compression::of("application/x-foo").is_err());
    }
}
