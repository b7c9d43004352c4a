//! The crate's one error type. Every variant names the registry, reference
//! or URL it is about; where a fix is known the message ends with a `hint:`.

use std::io;
use std::path::PathBuf;

use crate::digest::Digest;

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An image reference or repository name that does not parse.
    #[error("invalid image reference {input:?}: {reason}\nhint: the form is [registry[:port]/]repository[:tag][@sha256:<64 hex>], repository in lowercase")]
    InvalidReference { input: String, reason: String },
    /// A digest that is not `sha256:<64 lowercase hex>`.
    #[error("invalid digest {value:?}: expected sha256:<64 lowercase hex digits>")]
    InvalidDigest { value: String },
    /// The registry has no manifest for this tag or digest.
    #[error("{reference} not found in {registry}\nhint: check the repository name and tag; some registries also answer 'not found' for private repositories without credentials")]
    ManifestNotFound { reference: String, registry: String },
    /// The registry has no blob with this digest in this repository.
    #[error("blob {digest} not found in {repository} on {registry}\nhint: the manifest names a layer the registry does not hold; the image may be incomplete or garbage-collected")]
    BlobNotFound { digest: Digest, repository: String, registry: String },
    /// 401: no credentials, wrong ones, or a token the registry refused.
    #[error("unauthorized: {registry} refused {method} {url}{}\nhint: credentials {}", detail(message), unauthorized_hint(*had_credentials, registry))]
    Unauthorized { registry: String, method: String, url: String, had_credentials: bool, message: String },
    /// 403: authenticated, but not allowed.
    #[error(
        "denied: {registry} forbids {method} {url}{}\nhint: the account lacks {scope} access to this repository",
        detail(message)
    )]
    Denied { registry: String, method: String, url: String, scope: String, message: String },
    /// 429 on every attempt.
    #[error("rate limited by {registry} at {url} after {attempts} attempts\nhint: wait and try again; anonymous Docker Hub pulls have a low limit that logging in raises")]
    RateLimited { registry: String, url: String, attempts: u32 },
    /// Any other status the operation did not expect.
    #[error("http {status} for {method} {url}{}{}", detail(message), status_hint(*status))]
    Status { method: String, url: String, status: u16, message: String },
    /// The request failed below HTTP: connect, TLS, timeout, reset, DNS.
    #[error("request to {url} failed: {reason}{}", network_hint(reason))]
    Network { url: String, reason: String },
    /// A host not named as insecure answered (or was pointed to) over plain HTTP.
    #[error("refusing plain HTTP to {url}: {host} is not marked insecure{}\nhint: pass --insecure {host} if you trust the network path to it", if *answered { " and answered a TLS handshake in plain HTTP" } else { "" })]
    PlainHttpRefused { host: String, url: String, answered: bool },
    /// Content whose SHA-256 is not the one it was asked for or announced with.
    #[error("digest mismatch for {what}: expected {expected}, got {got}\nhint: the data was corrupted in transit or the registry serves the wrong content")]
    DigestMismatch { what: String, expected: Digest, got: Digest },
    /// Content of the wrong length.
    #[error("size mismatch for {what}: expected {expected} bytes, got {got}\nhint: check the size recorded in the manifest; the registry may hold a truncated blob")]
    SizeMismatch { what: String, expected: u64, got: u64 },
    /// A response body larger than this client accepts (manifests, tokens).
    #[error("response from {url} is larger than the {limit} byte limit")]
    TooLarge { url: String, limit: u64 },
    /// The registry broke the protocol (missing `Location`, bad token JSON…).
    #[error("bad response from {url}: {reason}")]
    BadResponse { url: String, reason: String },
    /// A tag or digest for a manifest push that is neither.
    #[error("invalid tag {tag:?} for {repository}: {reason}\nhint: a tag is [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}; a digest is sha256:<64 hex>")]
    InvalidTag { tag: String, repository: String, reason: String },
    /// A docker/podman credentials file that cannot be used.
    #[error("cannot use credentials file {}: {reason}\nhint: fix or remove the file, or pass credentials explicitly", path.display())]
    CredentialsFile { path: PathBuf, reason: String },
    /// The writer given to [`crate::Client::blob_to_writer`] failed.
    #[error("cannot write blob {digest}: {error}")]
    Write { digest: Digest, error: io::Error },
}

impl Error {
    /// The first line of the message, without hints.
    pub fn summary(&self) -> String {
        self.to_string().lines().next().unwrap_or_default().to_string()
    }

    /// Whether the registry said the thing does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::ManifestNotFound { .. } | Self::BlobNotFound { .. })
    }
}

fn detail(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

fn unauthorized_hint(had_credentials: bool, registry: &str) -> String {
    if had_credentials {
        format!("for {registry} were rejected; check the username and password (or token) given for it")
    } else {
        format!(
            "are needed for {registry} (or the repository does not exist); log in with `docker login {registry}` or pass a username and password for it"
        )
    }
}

fn status_hint(status: u16) -> &'static str {
    match status {
        400 => "\nhint: the registry rejected the request; see its message above",
        405 => "\nhint: the registry does not allow this operation (read-only mirror or deletes disabled?)",
        416 => "\nhint: the upload went out of step with the registry; try again",
        500..=599 => "\nhint: the registry is failing; try again later",
        _ => "",
    }
}

fn network_hint(reason: &str) -> &'static str {
    if reason.contains("host not found") || reason.contains("lookup address") {
        "\nhint: check the registry host name and DNS"
    } else if reason.contains("certificate") || reason.contains("UnknownIssuer") {
        "\nhint: the registry's TLS certificate is not trusted by the system roots"
    } else if reason.contains("timeout") || reason.contains("onnection") {
        "\nhint: check the network and proxy settings, and that the registry is up"
    } else {
        ""
    }
}
