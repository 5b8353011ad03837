//! Image references, by Docker's rules: `ubuntu` is `docker.io/library/ubuntu:latest`,
//! a first component with a `.` or `:` (or `localhost`) is a registry host, and a
//! reference may carry a tag, a digest, or both.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

pub const DOCKER_HUB: &str = "docker.io";
const DEFAULT_TAG: &str = "latest";

#[derive(Debug, Error, PartialEq, Eq)]
pub enum RefError {
    #[error("invalid reference format: empty reference")]
    Empty,
    #[error("invalid reference format: repository name {0:?} must be lowercase")]
    Uppercase(String),
    #[error("invalid reference format: {0:?} is not a valid repository name")]
    BadName(String),
    #[error("invalid reference format: {0:?} is not a valid tag")]
    BadTag(String),
    #[error("invalid reference format: {0:?} is not a valid digest (want sha256:<64 hex digits>)")]
    BadDigest(String),
}

/// A fully qualified image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses `s`, qualifying short names with `default_registry` (Docker Hub unless the
    /// user's config names another). `library/` is added only for Docker Hub.
    pub fn parse_with(s: &str, default_registry: &str) -> Result<ImageRef, RefError> {
        if s.is_empty() {
            return Err(RefError::Empty);
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                validate_digest(d)?;
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i + 1..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        if let Some(t) = tag {
            validate_tag(t)?;
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, path)) if is_host(first) => (first.to_string(), path.to_string()),
            _ => (default_registry.to_string(), name.to_string()),
        };
        let registry = match registry.as_str() {
            "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_string(),
            _ => registry,
        };
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        validate_repository(&repository)?;
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, Some(_)) => None,
            (None, None) => Some(DEFAULT_TAG.to_string()),
        };
        Ok(ImageRef {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// `registry/repository`, the part that names a repository.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The same repository at `digest`, without a tag.
    pub fn with_digest(&self, digest: &str) -> ImageRef {
        ImageRef {
            tag: None,
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }

    /// The name as Docker prints it: Docker Hub's `library/` and the default registry
    /// are left out.
    pub fn familiar_name(&self, default_registry: &str) -> String {
        familiar(&self.registry, &self.repository, default_registry)
    }

    /// `name:tag` if tagged, for the tag store.
    pub fn tagged(&self) -> Option<String> {
        self.tag.as_ref().map(|t| format!("{}:{t}", self.name()))
    }
}

/// Docker's short form of `registry/repository`.
pub fn familiar(registry: &str, repository: &str, default_registry: &str) -> String {
    if registry == DOCKER_HUB {
        let short = repository.strip_prefix("library/").unwrap_or(repository);
        if default_registry == DOCKER_HUB {
            return short.to_string();
        }
        return format!("{DOCKER_HUB}/{repository}");
    }
    if registry == default_registry {
        return repository.to_string();
    }
    format!("{registry}/{repository}")
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl FromStr for ImageRef {
    type Err = RefError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImageRef::parse_with(s, DOCKER_HUB)
    }
}

fn is_host(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost"
}

/// A registry host on the loopback network, spoken to over plain HTTP as Docker does.
pub fn is_loopback_host(registry: &str) -> bool {
    let host = match registry.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => registry,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .map(|a| a.is_loopback())
            .unwrap_or(false)
}

fn validate_repository(repo: &str) -> Result<(), RefError> {
    if repo.len() > 255 || repo.is_empty() {
        return Err(RefError::BadName(repo.to_string()));
    }
    if repo.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(RefError::Uppercase(repo.to_string()));
    }
    for comp in repo.split('/') {
        if !valid_component(comp) {
            return Err(RefError::BadName(repo.to_string()));
        }
    }
    Ok(())
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn validate_tag(t: &str) -> Result<(), RefError> {
    let b = t.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|&x| x.is_ascii_alphanumeric() || x == b'_' || x == b'.' || x == b'-');
    if ok {
        Ok(())
    } else {
        Err(RefError::BadTag(t.to_string()))
    }
}

/// Checks `sha256:<64 lowercase hex>`, the only digest algorithm box stores.
pub fn validate_digest(d: &str) -> Result<(), RefError> {
    match d.strip_prefix("sha256:") {
        Some(hex)
            if hex.len() == 64
                && hex
                    .bytes()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()) =>
        {
            Ok(())
        }
        _ => Err(RefError::BadDigest(d.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> ImageRef {
        s.parse().unwrap()
    }

    #[test]
    fn docker_hub_short_names() {
        assert_eq!(p("ubuntu").to_string(), "docker.io/library/ubuntu:latest");
        assert_eq!(
            p("ubuntu:22.04").to_string(),
            "docker.io/library/ubuntu:22.04"
        );
        assert_eq!(p("user/app").to_string(), "docker.io/user/app:latest");
        assert_eq!(
            p("docker.io/ubuntu").to_string(),
            "docker.io/library/ubuntu:latest"
        );
        assert_eq!(p("index.docker.io/library/ubuntu").registry, "docker.io");
    }

    #[test]
    fn hosts_ports_and_digests() {
        let r = p("127.0.0.1:5000/busybox:1.36");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("127.0.0.1:5000", "busybox")
        );
        assert_eq!(r.tag.as_deref(), Some("1.36"));
        let d = format!("sha256:{}", "a".repeat(64));
        let r = p(&format!("localhost:5000/a/b@{d}"));
        assert_eq!(r.tag, None);
        assert_eq!(r.digest.as_deref(), Some(d.as_str()));
        let r = p(&format!("localhost/a:t@{d}"));
        assert_eq!(r.tag.as_deref(), Some("t"));
        assert_eq!(r.registry, "localhost");
    }

    #[test]
    fn refuses_bad_references() {
        assert!(matches!(
            "Ubuntu".parse::<ImageRef>(),
            Err(RefError::Uppercase(_))
        ));
        assert!(matches!(
            "a:b:c".parse::<ImageRef>(),
            Err(RefError::BadName(_))
        ));
        assert!(matches!(
            "ubuntu:".parse::<ImageRef>(),
            Err(RefError::BadTag(_))
        ));
        assert!(matches!(
            "ubuntu@sha256:abc".parse::<ImageRef>(),
            Err(RefError::BadDigest(_))
        ));
        assert!(matches!("".parse::<ImageRef>(), Err(RefError::Empty)));
        assert!(matches!(
            "a//b".parse::<ImageRef>(),
            Err(RefError::BadName(_))
        ));
        assert!(matches!(
            "-a".parse::<ImageRef>(),
            Err(RefError::BadName(_))
        ));
    }

    #[test]
    fn default_registry_from_config() {
        let r = ImageRef::parse_with("busybox", "127.0.0.1:5000").unwrap();
        assert_eq!(r.to_string(), "127.0.0.1:5000/busybox:latest");
        assert_eq!(r.familiar_name("127.0.0.1:5000"), "busybox");
        assert_eq!(
            p("ubuntu").familiar_name("127.0.0.1:5000"),
            "docker.io/library/ubuntu"
        );
        assert_eq!(p("ubuntu").familiar_name(DOCKER_HUB), "ubuntu");
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback_host("127.0.0.1:5000"));
        assert!(is_loopback_host("127.3.4.5"));
        assert!(is_loopback_host("localhost:80"));
        assert!(is_loopback_host("[::1]:5000"));
        assert!(!is_loopback_host("registry.example.com:5000"));
    }
}
