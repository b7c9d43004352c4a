//! The crate's one error type. Every variant names the URL or cache path it
//! is about; where a fix is known the message ends with a `hint:` line.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use crate::cache::CACHE_DIR_ENV;
use crate::digest::Sha256Hash;

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a fetch or cache operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The downloaded bytes do not have the expected SHA-256.
    #[error("sha256 mismatch for {url}: expected {expected}, got {got}\nhint: the mirror may be out of sync or tampered with; refresh the indexes or try another mirror")]
    HashMismatch { url: String, expected: Sha256Hash, got: Sha256Hash },
    /// The download (or its announced `Content-Length`) has the wrong size.
    #[error("size mismatch for {url}: expected {expected} bytes, got {got}\nhint: the mirror may be mid-sync or serving a truncated file; try again later or another mirror")]
    SizeMismatch { url: String, expected: u64, got: u64 },
    /// The server answered with a status other than 200.
    #[error("http {status} for {url}{}", status_hint(*status))]
    Http { url: String, status: u16 },
    /// The request failed below HTTP: connect, TLS, timeout, reset, DNS.
    #[error("request to {url} failed: {reason}{}", network_hint(reason))]
    Network { url: String, reason: String },
    /// A response for [`crate::Fetcher::get_bytes`] is larger than allowed.
    #[error("response from {url} is larger than the {limit} byte limit")]
    TooLarge { url: String, limit: u64 },
    /// Offline mode and the file is not in the cache.
    #[error("{name} is not in the cache at {} and offline mode allows no downloads\nhint: run once without --offline to fill the cache", cache.display())]
    Offline { name: String, cache: PathBuf },
    /// Every URL for a file failed; each URL's error in order.
    #[error("all {} urls failed for {name}:{}", errors.len(), list(errors))]
    AllUrlsFailed { name: String, errors: Vec<Error> },
    /// Nothing to download from.
    #[error("no url given for {name} and it is not in the cache")]
    NoUrls { name: String },
    /// Stopped because another download in the same batch failed.
    #[error("download of {name} cancelled because another download failed")]
    Cancelled { name: String },
    /// The cache's disk has less room than the file needs.
    #[error("not enough space in the cache at {}: {needed} bytes needed, {available} available\nhint: free some space or set {CACHE_DIR_ENV} to a directory on a larger disk", cache.display())]
    NoSpace { cache: PathBuf, needed: u64, available: u64 },
    /// No cache directory could be derived from the environment.
    #[error("no cache directory: none of {CACHE_DIR_ENV}, XDG_CACHE_HOME or HOME is set\nhint: set {CACHE_DIR_ENV} to a writable directory")]
    NoCacheDir,
    /// A file operation in the cache failed.
    #[error("cannot {op} {}: {error}{}", path.display(), io_hint(error, cache))]
    Io { op: &'static str, path: PathBuf, cache: PathBuf, error: io::Error },
}

impl Error {
    /// The first line of the message, without hints: for progress lines.
    pub fn summary(&self) -> String {
        let text = self.to_string();
        text.lines().next().unwrap_or_default().to_string()
    }

    /// Whether the error says the content itself was wrong (not transport).
    pub fn is_mismatch(&self) -> bool {
        matches!(self, Self::HashMismatch { .. } | Self::SizeMismatch { .. })
    }
}

fn status_hint(status: u16) -> &'static str {
    match status {
        404 | 410 => {
            "\nhint: the mirror does not have this file; refresh the indexes or check the mirror url and suite"
        }
        401 | 403 => "\nhint: the mirror refused access; check the mirror url or proxy",
        429 | 500..=599 => "\nhint: the mirror is overloaded or down; try again later or add a fallback mirror",
        _ => "",
    }
}

fn network_hint(reason: &str) -> &'static str {
    if reason.contains("host not found") || reason.contains("lookup address") {
        "\nhint: check the mirror host name and DNS"
    } else if reason.contains("timeout") || reason.contains("onnection") {
        "\nhint: check the network and http_proxy, or add a fallback mirror"
    } else {
        ""
    }
}

fn io_hint(error: &io::Error, cache: &Path) -> String {
    use io::ErrorKind as K;
    let full =
        matches!(error.kind(), K::StorageFull | K::QuotaExceeded) || matches!(error.raw_os_error(), Some(28 | 122));
    if full {
        return format!(
            "\nhint: the disk holding the cache at {} is full; free some space or set {CACHE_DIR_ENV} to a directory on a larger disk",
            cache.display()
        );
    }
    match error.kind() {
        K::PermissionDenied | K::ReadOnlyFilesystem => format!(
            "\nhint: the cache at {} is not writable; set {CACHE_DIR_ENV} to a writable directory",
            cache.display()
        ),
        _ => String::new(),
    }
}

fn list(errors: &[Error]) -> String {
    let mut out = String::new();
    for e in errors {
        let _ = write!(out, "\n  - {}", e.summary());
    }
    if errors.iter().any(Error::is_mismatch) {
        out.push_str("\nhint: a mirror served wrong content; it may be out of sync or tampered with");
    }
    out
}
