//! Talking to a registry, through the `oci-client` crate: authentication (anonymous
//! token flow, basic and bearer), plain HTTP for loopback and configured registries,
//! mirrors, and errors sorted into the kinds a user can act on.
//!
//! Every byte that leaves this module has had its digest checked, or is a layer
//! stream whose digest the caller checks as it unpacks (see `pull`).

use bytes::Bytes;
use oci_client::client::{ClientConfig, ClientProtocol, SizedStream};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::Reference;
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::auth::Credentials;
use super::manifest::{Descriptor, ACCEPTED};
use super::reference::ImageRef;
use crate::config::Config;

#[derive(Debug, Error)]
pub enum RegistryError {
    #[error("registry {host} is unreachable: {detail}")]
    Unreachable { host: String, detail: String },
    /// The CLI adds the fix as a hint line: where box reads credentials from.
    #[error("unauthorized: {host} refused access to {repository}{}", if *.logged_in { " with the stored credentials" } else { "" })]
    Unauthorized {
        host: String,
        repository: String,
        logged_in: bool,
    },
    #[error("no such image: {reference} (the registry does not know this repository)")]
    UnknownRepository { reference: String },
    #[error("no such tag: {reference}")]
    UnknownManifest { reference: String },
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("registry {host}: {detail}")]
    Protocol { host: String, detail: String },
}

/// A connection to one registry (or the mirror that answered for it).
pub struct Registry {
    client: oci_client::Client,
    auth: RegistryAuth,
    /// The host actually spoken to: the registry itself or one of its mirrors.
    pub host: String,
    logged_in: bool,
}

impl Registry {
    /// The hosts to try for `registry`: its mirrors in order, then itself.
    pub fn candidates(config: &Config, registry: &str) -> Vec<String> {
        let mut hosts = config
            .registries
            .mirrors
            .get(registry)
            .cloned()
            .unwrap_or_default();
        hosts.push(registry.to_string());
        hosts
    }

    pub fn new(config: &Config, host: &str, creds: Option<Credentials>) -> Registry {
        let plain = config.plain_http(host);
        let protocol = if plain {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        };
        let client = oci_client::Client::new(ClientConfig {
            protocol,
            connect_timeout: Some(std::time::Duration::from_secs(30)),
            read_timeout: Some(std::time::Duration::from_secs(120)),
            user_agent: concat!("box/", env!("CARGO_PKG_VERSION")),
            ..Default::default()
        });
        let logged_in = creds.is_some();
        crate::debug!(
            "registry {host}: {} {}",
            if plain { "plain HTTP" } else { "HTTPS" },
            if logged_in {
                "with stored credentials"
            } else {
                "anonymously"
            }
        );
        let auth = match creds {
            Some(Credentials::Basic { username, password }) => {
                RegistryAuth::Basic(username, password)
            }
            Some(Credentials::Bearer(token)) => RegistryAuth::Bearer(token),
            None => RegistryAuth::Anonymous,
        };
        Registry {
            client,
            auth,
            host: host.to_string(),
            logged_in,
        }
    }

    fn reference(&self, r: &ImageRef) -> Reference {
        match (&r.tag, &r.digest) {
            (_, Some(d)) => {
                Reference::with_digest(self.host.clone(), r.repository.clone(), d.clone())
            }
            (Some(t), None) => {
                Reference::with_tag(self.host.clone(), r.repository.clone(), t.clone())
            }
            (None, None) => {
                Reference::with_tag(self.host.clone(), r.repository.clone(), "latest".into())
            }
        }
    }

    /// Fetches a manifest or index by tag or digest; returns its bytes and digest.
    pub async fn manifest(&self, r: &ImageRef) -> Result<(Bytes, String), RegistryError> {
        let reference = self.reference(r);
        crate::debug!("registry {}: GET manifest {reference}", self.host);
        let (body, _) = match self
            .client
            .pull_manifest_raw(&reference, &self.auth, ACCEPTED)
            .await
        {
            Ok(x) => x,
            Err(e) => {
                let err = self.error(e, r);
                // Registries answer MANIFEST_UNKNOWN for unknown repositories too; the
                // tag list tells "no such image" from "no such tag".
                if let RegistryError::UnknownManifest { .. } = err {
                    if let Err(e) = self
                        .client
                        .list_tags(&reference, &self.auth, Some(1), None)
                        .await
                    {
                        if let RegistryError::UnknownRepository { .. }
                        | RegistryError::UnknownManifest { .. } = self.error(e, r)
                        {
                            return Err(RegistryError::UnknownRepository {
                                reference: r.to_string(),
                            });
                        }
                    }
                }
                return Err(err);
            }
        };
        let digest = sha256_digest(&body);
        if let Some(want) = &r.digest {
            if *want != digest {
                return Err(RegistryError::DigestMismatch {
                    what: format!("manifest of {r}"),
                    expected: want.clone(),
                    actual: digest,
                });
            }
        }
        Ok((body, digest))
    }

    /// Fetches a small blob (an image config) whole, and checks its digest.
    pub async fn blob(&self, r: &ImageRef, desc: &Descriptor) -> Result<Bytes, RegistryError> {
        let reference = self.reference(r);
        crate::debug!("registry {}: GET blob {}", self.host, desc.digest);
        self.authenticate(&reference).await;
        let mut buf: Vec<u8> = Vec::with_capacity(desc.size.max(0) as usize);
        let layer = oci_desc(desc);
        self.client
            .pull_blob(&reference, &layer, &mut buf)
            .await
            .map_err(|e| self.error(e, r))?;
        let actual = sha256_digest(&buf);
        if actual != desc.digest {
            return Err(RegistryError::DigestMismatch {
                what: format!("blob of {r}"),
                expected: desc.digest.clone(),
                actual,
            });
        }
        Ok(buf.into())
    }

    /// Opens a layer blob as a stream of chunks. The caller hashes it as it consumes it.
    pub async fn blob_stream(
        &self,
        r: &ImageRef,
        desc: &Descriptor,
    ) -> Result<SizedStream, RegistryError> {
        let reference = self.reference(r);
        crate::debug!(
            "registry {}: GET layer {} ({} bytes)",
            self.host,
            desc.digest,
            desc.size
        );
        self.authenticate(&reference).await;
        self.client
            .pull_blob_stream(&reference, &oci_desc(desc))
            .await
            .map_err(|e| self.error(e, r))
    }

    /// Makes the credentials known to the client, which then runs the token flow
    /// itself when a request needs one.
    async fn authenticate(&self, reference: &Reference) {
        self.client
            .store_auth_if_needed(reference.resolve_registry(), &self.auth)
            .await;
    }

    /// Sorts a client error into what the user can act on.
    pub fn error(&self, e: OciDistributionError, r: &ImageRef) -> RegistryError {
        let host = self.host.clone();
        crate::debug!("registry {host}: {}", error_chain(&e));
        let unauthorized = || RegistryError::Unauthorized {
            host: host.clone(),
            repository: r.repository.clone(),
            logged_in: self.logged_in,
        };
        match e {
            OciDistributionError::RequestError(re) if re.is_connect() || re.is_timeout() => {
                RegistryError::Unreachable {
                    host,
                    detail: root_cause(&re),
                }
            }
            OciDistributionError::UnauthorizedError { .. }
            | OciDistributionError::AuthenticationFailure(_) => unauthorized(),
            OciDistributionError::RegistryError { envelope, .. } => {
                let code = envelope.errors.first().map(|e| &e.code);
                match code {
                    Some(OciErrorCode::NameUnknown) => RegistryError::UnknownRepository {
                        reference: r.to_string(),
                    },
                    Some(OciErrorCode::ManifestUnknown) | Some(OciErrorCode::NotFound) => {
                        RegistryError::UnknownManifest {
                            reference: r.to_string(),
                        }
                    }
                    Some(OciErrorCode::Unauthorized) | Some(OciErrorCode::Denied) => unauthorized(),
                    _ => RegistryError::Protocol {
                        host,
                        detail: envelope.to_string(),
                    },
                }
            }
            OciDistributionError::ServerError { code: 404, .. } => RegistryError::UnknownManifest {
                reference: r.to_string(),
            },
            OciDistributionError::ServerError {
                code: 401 | 403, ..
            } => unauthorized(),
            OciDistributionError::DigestError(d) => RegistryError::Protocol {
                host,
                detail: format!("digest check failed: {d}"),
            },
            other => RegistryError::Protocol {
                host,
                detail: error_chain(&other),
            },
        }
    }
}

fn oci_desc(d: &Descriptor) -> oci_client::manifest::OciDescriptor {
    oci_client::manifest::OciDescriptor {
        media_type: d.media_type.clone(),
        digest: d.digest.clone(),
        size: d.size,
        ..Default::default()
    }
}

pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The innermost error: "Connection refused (os error 111)" rather than the URL.
fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur = e;
    while let Some(inner) = cur.source() {
        cur = inner;
    }
    cur.to_string()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        let t = inner.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = inner.source();
    }
    s
}
