//! The registry client: `oci-client` (what Kubewarden's policy fetcher uses) over rustls with
//! ring, trusting the node's store plus `--ca-file`, authenticating with the credential the
//! auth files name (Basic, or the registry's bearer-token challenge), every response size
//! bounded and every blob's bytes checked against its digest.

use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, RegistryOperation};

use crate::artifact::{Descriptor, sha256_digest};
use crate::auth::{AuthSources, Credential, find_credential};
use crate::error::OciError;
use crate::limits;
use crate::reference::Reference;

/// How to reach a registry: where credentials come from, which CAs to trust beyond the
/// node's store.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// The auth file sources.
    pub auth: AuthSources,
    /// `--ca-file`: PEM CA certificates trusted on top of the node's store.
    pub ca_file: Option<PathBuf>,
}

/// A client for one repository, authenticated for one operation.
pub(crate) struct Registry {
    client: Client,
    auth: RegistryAuth,
    /// Where the credential came from (for the stderr line).
    pub credential_source: String,
}

/// Every media type a manifest request accepts.
const MANIFEST_ACCEPT: &[&str] = &[
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

fn registry_error(what: &str, err: OciDistributionError) -> OciError {
    OciError::Registry(format!("{what}: {}", describe(&err)))
}

/// One line for a client error, without response bodies beyond the registry's error codes.
fn describe(err: &OciDistributionError) -> String {
    match err {
        OciDistributionError::RegistryError { envelope, .. } => {
            let codes: Vec<String> = envelope
                .errors
                .iter()
                .map(|e| format!("{:?}", e.code))
                .collect();
            format!("the registry answered {}", codes.join(", "))
        }
        OciDistributionError::ServerError { code, .. } => {
            format!("the registry answered HTTP {code}")
        }
        OciDistributionError::UnauthorizedError { .. } => {
            "the registry refused the credentials (unauthorized)".into()
        }
        OciDistributionError::AuthenticationFailure(_) => {
            "the registry's token service refused the credentials".into()
        }
        OciDistributionError::RequestError(e) => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(inner) = source {
                text = format!("{text}: {inner}");
                source = inner.source();
            }
            text
        }
        other => other.to_string(),
    }
    .replace(['\n', '\r'], " ")
}

fn is_not_found(err: &OciDistributionError) -> bool {
    match err {
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::ServerError { code, .. } => *code == 404,
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|e| {
            matches!(
                e.code,
                oci_client::errors::OciErrorCode::ManifestUnknown
                    | oci_client::errors::OciErrorCode::NameUnknown
                    | oci_client::errors::OciErrorCode::BlobUnknown
                    | oci_client::errors::OciErrorCode::NotFound
            )
        }),
        _ => false,
    }
}

impl Registry {
    /// Finds the credential for `reference` and authenticates for `operation`.
    pub async fn connect(
        reference: &Reference,
        options: &RegistryOptions,
        operation: RegistryOperation,
    ) -> Result<Registry, OciError> {
        // ring as rustls's provider, whoever asks first (a second install is a no-op error).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let found = find_credential(&options.auth, &reference.registry, &reference.repository)?;
        let auth = match &found.credential {
            Credential::Anonymous => RegistryAuth::Anonymous,
            Credential::Basic { username, password } => {
                RegistryAuth::Basic(username.clone(), password.clone())
            }
        };
        let mut extra_roots = Vec::new();
        if let Some(path) = &options.ca_file {
            use rustls_pki_types::pem::PemObject;
            let pem = std::fs::read(path)
                .map_err(|e| OciError::Usage(format!("--ca-file {}: {e}", path.display())))?;
            for cert in rustls_pki_types::CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| {
                    OciError::Usage(format!(
                        "--ca-file {}: not a PEM certificate file ({e})",
                        path.display()
                    ))
                })?;
                extra_roots.push(oci_client::client::Certificate {
                    encoding: oci_client::client::CertificateEncoding::Der,
                    data: cert.as_ref().to_vec(),
                });
            }
            if extra_roots.is_empty() {
                return Err(OciError::Usage(format!(
                    "--ca-file {}: no certificate in the file",
                    path.display()
                )));
            }
        }
        let config = ClientConfig {
            protocol: ClientProtocol::Https,
            extra_root_certificates: extra_roots,
            connect_timeout: Some(limits::CONNECT_TIMEOUT),
            read_timeout: Some(limits::READ_TIMEOUT),
            platform_resolver: None,
            ..ClientConfig::default()
        };
        let client = Client::new(config);
        client
            .auth(&reference.to_client(), &auth, operation)
            .await
            .map_err(|e| registry_error(&format!("authenticating to {}", reference.registry), e))?;
        Ok(Registry {
            client,
            auth,
            credential_source: found.source,
        })
    }

    /// The manifest at `reference` and its digest (the SHA-256 of the bytes as served, checked
    /// against a digest reference), or `None` when the registry has none.
    pub async fn manifest(
        &self,
        reference: &Reference,
    ) -> Result<Option<(Vec<u8>, String)>, OciError> {
        let result = self
            .client
            .pull_manifest_raw(&reference.to_client(), &self.auth, MANIFEST_ACCEPT)
            .await;
        let (bytes, _) = match result {
            Ok(found) => found,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => {
                return Err(registry_error(
                    &format!("fetching the manifest of {reference}"),
                    e,
                ));
            }
        };
        if bytes.len() as u64 > limits::MAX_METADATA_BYTES {
            return Err(OciError::TooLarge {
                what: format!("the manifest of {reference}"),
                limit: limits::MAX_METADATA_BYTES,
            });
        }
        let digest = sha256_digest(&bytes);
        if let Some(pinned) = reference.digest()
            && pinned != digest
        {
            return Err(OciError::DigestMismatch {
                what: format!("the manifest of {reference}"),
                found: digest,
            });
        }
        Ok(Some((bytes.to_vec(), digest)))
    }

    /// The blob `descriptor` names, at most `limit` bytes, whose size and SHA-256 are the
    /// descriptor's.
    pub async fn blob(
        &self,
        reference: &Reference,
        descriptor: &Descriptor,
        limit: u64,
    ) -> Result<Vec<u8>, OciError> {
        if descriptor.size > limit {
            return Err(OciError::TooLarge {
                what: format!("blob {}", descriptor.digest),
                limit,
            });
        }
        let client_descriptor = oci_client::manifest::OciDescriptor {
            media_type: descriptor.media_type.clone(),
            digest: descriptor.digest.clone(),
            size: descriptor.size as i64,
            ..Default::default()
        };
        let mut sink = CappedBuffer {
            bytes: Vec::new(),
            limit,
        };
        self.client
            .pull_blob(&reference.to_client(), &client_descriptor, &mut sink)
            .await
            .map_err(|e| match e {
                OciDistributionError::IoError(io)
                    if io.kind() == std::io::ErrorKind::FileTooLarge =>
                {
                    OciError::TooLarge {
                        what: format!("blob {}", descriptor.digest),
                        limit,
                    }
                }
                OciDistributionError::DigestError(_) => OciError::DigestMismatch {
                    what: format!("blob {}", descriptor.digest),
                    found: "other bytes".into(),
                },
                other => registry_error(&format!("fetching blob {}", descriptor.digest), other),
            })?;
        let found = sha256_digest(&sink.bytes);
        if found != descriptor.digest || sink.bytes.len() as u64 != descriptor.size {
            return Err(OciError::DigestMismatch {
                what: format!("blob {} ({} bytes)", descriptor.digest, descriptor.size),
                found: format!("{found} ({} bytes)", sink.bytes.len()),
            });
        }
        Ok(sink.bytes)
    }

    /// The referrers of `reference` (a digest reference): the OCI 1.1 referrers API, or the
    /// referrers tag (`sha256-<hex>`) where the registry has no such API.
    pub async fn referrers(&self, reference: &Reference) -> Result<Vec<Descriptor>, OciError> {
        let index = self
            .client
            .pull_referrers(&reference.to_client(), None)
            .await
            .map_err(|e| registry_error(&format!("listing the referrers of {reference}"), e))?;
        Ok(index
            .manifests
            .into_iter()
            .map(|entry| Descriptor {
                media_type: entry.media_type,
                digest: entry.digest,
                size: entry.size.max(0) as u64,
                artifact_type: entry.artifact_type,
                annotations: entry.annotations.unwrap_or_default().into_iter().collect(),
            })
            .collect())
    }

    /// Uploads a blob (skipped when the registry already has it).
    pub async fn push_blob(&self, reference: &Reference, bytes: &[u8]) -> Result<(), OciError> {
        let digest = sha256_digest(bytes);
        let image = reference.to_client();
        if self
            .client
            .blob_exists(&image, &digest)
            .await
            .unwrap_or(false)
        {
            return Ok(());
        }
        self.client
            .push_blob(&image, bytes.to_vec(), &digest)
            .await
            .map_err(|e| registry_error(&format!("uploading blob {digest}"), e))?;
        Ok(())
    }

    /// Uploads a manifest under `reference` (a tag, or its own digest).
    pub async fn push_manifest(
        &self,
        reference: &Reference,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<(), OciError> {
        let content_type = http::HeaderValue::from_str(media_type)
            .map_err(|_| OciError::Usage(format!("media type {media_type:?}")))?;
        self.client
            .push_manifest_raw(&reference.to_client(), bytes.to_vec(), content_type)
            .await
            .map_err(|e| registry_error(&format!("uploading the manifest of {reference}"), e))?;
        Ok(())
    }
}

/// An in-memory `AsyncWrite` that fails once more than `limit` bytes arrive.
struct CappedBuffer {
    bytes: Vec<u8>,
    limit: u64,
}

impl tokio::io::AsyncWrite for CappedBuffer {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if (self.bytes.len() + buf.len()) as u64 > self.limit {
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::FileTooLarge,
                "the blob is larger than allowed",
            )));
        }
        self.bytes.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
