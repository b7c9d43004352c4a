//! Pulling: manifests by tag or digest, blobs by digest, every byte checked.

use std::io::{self, Read, Write};

use ureq::http::{Method, Response};
use ureq::Body;

use crate::challenge::Scope;
use crate::client::{Attempt, Client};
use crate::digest::{Digest, Hasher};
use crate::error::{Error, Result};
use crate::http::{header, status_error, Call};
use crate::media::MANIFEST_ACCEPT;
use crate::reference::{Reference, Repository};

/// Largest manifest accepted (the spec asks registries to take 4 MiB).
pub const MAX_MANIFEST_BYTES: u64 = 8 << 20;
const CHUNK: usize = 64 * 1024;

/// A manifest as the registry served it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// Its media type, from `Content-Type` (parameters dropped).
    pub media_type: String,
    /// The exact bytes; their SHA-256 is [`Manifest::digest`].
    pub bytes: Vec<u8>,
    /// The digest of `bytes`, checked against the reference's digest and
    /// the registry's `Docker-Content-Digest` when either is present.
    pub digest: Digest,
}

impl Client {
    /// Fetches the manifest `reference` names (its digest if it has one,
    /// else its tag), accepting OCI and Docker schema 2 manifests and
    /// indexes.
    pub fn manifest(&self, reference: &Reference) -> Result<Manifest> {
        let repo = reference.repository();
        let url = format!("{}/manifests/{}", self.base_url(repo), reference.manifest_path_part());
        let scope = Scope::pull(repo.name());
        let (media_type, bytes, announced) = self.with_retries(&url, || {
            let call = Call::new(Method::GET, url.as_str(), repo.registry(), &scope).header("accept", MANIFEST_ACCEPT);
            let response = self.send(&call)?;
            match response.status().as_u16() {
                200 => read_manifest(&url, response),
                404 => Err(Attempt::fatal(Error::ManifestNotFound {
                    reference: reference.to_string(),
                    registry: repo.registry().to_string(),
                })),
                _ => Err(Attempt::fatal(status_error(&call, response))),
            }
        })?;
        let digest = Digest::of(&bytes);
        let expected = reference.digest().copied().or(announced);
        if let Some(expected) = expected.filter(|e| *e != digest) {
            return Err(Error::DigestMismatch { what: format!("manifest {reference}"), expected, got: digest });
        }
        let media_type = media_type.or_else(|| embedded_media_type(&bytes)).ok_or_else(|| Error::BadResponse {
            url: url.clone(),
            reason: "the manifest has no Content-Type and no mediaType field".to_string(),
        })?;
        Ok(Manifest { media_type, bytes, digest })
    }

    /// Fetches blob `digest` of `size` bytes from `repo` into memory,
    /// verified. See [`Client::blob_to_writer`] for large blobs.
    pub fn blob(&self, repo: &Repository, digest: &Digest, size: u64) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(size.min(64 << 20) as usize);
        self.blob_to_writer(repo, digest, size, &mut out)?;
        Ok(out)
    }

    /// Streams blob `digest` of `size` bytes from `repo` into `out`,
    /// following redirects to storage and hashing as it goes. A transfer
    /// cut short is resumed with a `Range` request. On error, `out` may
    /// hold partial or wrong data and must be discarded.
    pub fn blob_to_writer(&self, repo: &Repository, digest: &Digest, size: u64, out: &mut dyn Write) -> Result<()> {
        let url = format!("{}/blobs/{digest}", self.base_url(repo));
        let scope = Scope::pull(repo.name());
        let mut sink = Sink { url: &url, digest, size, hasher: Hasher::default(), out };
        self.with_retries(&url, || {
            let mut call = Call::new(Method::GET, url.as_str(), repo.registry(), &scope);
            let offset = sink.hasher.len();
            if offset > 0 {
                call = call.header("range", format!("bytes={offset}-"));
            }
            let response = self.send(&call)?;
            let skip = match response.status().as_u16() {
                200 => match response.body().content_length() {
                    Some(len) if len != size => return Err(Attempt::fatal(size_mismatch(&url, size, len))),
                    _ => offset,
                },
                206 if offset > 0 && resumes_at(&response, offset) => 0,
                404 => {
                    return Err(Attempt::fatal(Error::BlobNotFound {
                        digest: *digest,
                        repository: repo.name().to_string(),
                        registry: repo.registry().to_string(),
                    }))
                }
                _ => return Err(Attempt::fatal(status_error(&call, response))),
            };
            sink.copy(self, skip, &mut response.into_body().into_reader())
        })?;
        let got = Digest::from(sink.hasher.finish().0);
        if got != *digest {
            return Err(Error::DigestMismatch { what: url, expected: *digest, got });
        }
        Ok(())
    }
}

/// Where a blob's bytes go, and how many have gone.
struct Sink<'a> {
    url: &'a str,
    digest: &'a Digest,
    size: u64,
    hasher: Hasher,
    out: &'a mut dyn Write,
}

impl Sink<'_> {
    /// Copies `body` to the writer after skipping `skip` bytes already written.
    fn copy(&mut self, client: &Client, mut skip: u64, body: &mut dyn Read) -> Result<(), Attempt> {
        let (url, size) = (self.url, self.size);
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let reason = format!("{e} after {} of {size} bytes", self.hasher.len());
                    return Err(Attempt::retry(Error::Network { url: url.to_string(), reason }, None));
                }
            };
            let dropped = skip.min(n as u64) as usize;
            skip -= dropped as u64;
            let data = &buf[dropped..n];
            let total = self.hasher.len() + data.len() as u64;
            if total > size {
                return Err(Attempt::fatal(size_mismatch(url, size, total)));
            }
            self.hasher.update(data);
            self.out.write_all(data).map_err(|error| Error::Write { digest: *self.digest, error })?;
            client.reporter.blob_progress(self.digest, total, size);
        }
        if self.hasher.len() < size {
            // A body that ends early is retried (resuming); if it keeps
            // ending there, the size mismatch is what gets reported.
            return Err(Attempt::retry(size_mismatch(url, size, self.hasher.len()), None));
        }
        Ok(())
    }
}

fn size_mismatch(url: &str, expected: u64, got: u64) -> Error {
    Error::SizeMismatch { what: url.to_string(), expected, got }
}

/// Whether a 206 answers `Range: bytes=offset-` (`Content-Range: bytes offset-…`).
fn resumes_at(response: &Response<Body>, offset: u64) -> bool {
    header(response, "content-range").is_some_and(|r| r.starts_with(&format!("bytes {offset}-")))
}

type RawManifest = (Option<String>, Vec<u8>, Option<Digest>);

fn read_manifest(url: &str, response: Response<Body>) -> Result<RawManifest, Attempt> {
    let media_type = header(&response, "content-type")
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_string())
        .filter(|t| !t.is_empty() && t != "application/octet-stream" && t != "text/plain");
    let announced = header(&response, "docker-content-digest").and_then(|d| d.parse::<Digest>().ok());
    let mut bytes = Vec::new();
    let mut reader = response.into_body().into_reader().take(MAX_MANIFEST_BYTES + 1);
    reader
        .read_to_end(&mut bytes)
        .map_err(|e| Attempt::retry(Error::Network { url: url.to_string(), reason: e.to_string() }, None))?;
    if bytes.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(Attempt::fatal(Error::TooLarge { url: url.to_string(), limit: MAX_MANIFEST_BYTES }));
    }
    Ok((media_type, bytes, announced))
}

/// The `mediaType` field of a manifest, for registries that send no type.
fn embedded_media_type(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Typed {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
    }
    serde_json::from_slice::<Typed>(bytes).ok()?.media_type
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientOptions;

    /// Yields `data` then fails like a connection reset.
    struct Cut<'a>(&'a [u8]);

    impl Read for Cut<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::ErrorKind::ConnectionReset.into());
            }
            let n = buf.len().min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn interrupted_body_resumes_without_duplicates() {
        let client = Client::new(ClientOptions::default());
        let blob: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let digest = Digest::of(&blob);
        let mut out = Vec::new();
        let mut sink =
            Sink { url: "u", digest: &digest, size: blob.len() as u64, hasher: Hasher::default(), out: &mut out };
        let cut = sink.copy(&client, 0, &mut Cut(&blob[..70_000]));
        assert!(matches!(cut, Err(Attempt::Retry { error, .. }) if matches!(*error, Error::Network { .. })));
        assert_eq!(sink.hasher.len(), 70_000);
        // The server ignored Range and sent everything again (200): the
        // first 70000 bytes are skipped.
        sink.copy(&client, 70_000, &mut &blob[..]).unwrap();
        assert_eq!(Digest::from(sink.hasher.finish().0), digest);
        assert!(out == blob);
    }

    #[test]
    fn short_and_long_bodies() {
        let client = Client::new(ClientOptions::default());
        let digest = Digest::of(b"abcd");
        let mut out = Vec::new();
        let mut sink = Sink { url: "u", digest: &digest, size: 4, hasher: Hasher::default(), out: &mut out };
        let short = sink.copy(&client, 0, &mut &b"ab"[..]);
        assert!(
            matches!(short, Err(Attempt::Retry { error, .. }) if matches!(*error, Error::SizeMismatch { expected: 4, got: 2, .. }))
        );
        let long = sink.copy(&client, 0, &mut &b"cdef"[..]);
        assert!(
            matches!(long, Err(Attempt::Fatal(error)) if matches!(*error, Error::SizeMismatch { expected: 4, got: 6, .. }))
        );
    }
}
