//! Pushing: blob existence checks, cross-repository mounts, monolithic and
//! chunked uploads, and manifests by tag or digest.

use tracing::debug;
use ureq::http::{Method, Response};
use ureq::Body;

use crate::challenge::Scope;
use crate::client::{Attempt, Client};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::http::{header, resolve_location, status_error, with_query, Call};
use crate::reference::{check_tag, Repository};

const OCTET_STREAM: &str = "application/octet-stream";

/// How [`Client::push_blob`] got a blob into a repository.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushOutcome {
    /// The repository already had it; nothing was sent.
    Existed,
    /// The registry linked it from the source repository; no bytes sent.
    Mounted,
    /// The bytes were uploaded.
    Uploaded,
}

impl Client {
    /// Whether `repo` has blob `digest` (`HEAD`; needs pull access).
    pub fn blob_exists(&self, repo: &Repository, digest: &Digest) -> Result<bool> {
        self.blob_exists_scoped(repo, digest, &Scope::pull(repo.name()))
    }

    fn blob_exists_scoped(&self, repo: &Repository, digest: &Digest, scope: &Scope) -> Result<bool> {
        let url = format!("{}/blobs/{digest}", self.base_url(repo));
        self.with_retries(&url, || {
            let call = Call::new(Method::HEAD, url.as_str(), repo.registry(), scope);
            let response = self.send(&call)?;
            match response.status().as_u16() {
                200 => Ok(true),
                404 => Ok(false),
                _ => Err(Attempt::fatal(status_error(&call, response))),
            }
        })
    }

    /// Uploads `data` as blob `digest` to `repo` unless it is already
    /// there. The digest is checked against `data` before anything is sent.
    pub fn push_blob(&self, repo: &Repository, digest: &Digest, data: &[u8]) -> Result<PushOutcome> {
        self.push_blob_from(repo, digest, data, None)
    }

    /// Like [`Client::push_blob`], but first asks the registry to mount the
    /// blob from `source` (another repository believed to hold it). A
    /// source on another registry cannot be mounted from and is ignored.
    pub fn push_blob_mounting(
        &self,
        repo: &Repository,
        digest: &Digest,
        data: &[u8],
        source: &Repository,
    ) -> Result<PushOutcome> {
        self.push_blob_from(repo, digest, data, Some(source))
    }

    fn push_blob_from(
        &self,
        repo: &Repository,
        digest: &Digest,
        data: &[u8],
        source: Option<&Repository>,
    ) -> Result<PushOutcome> {
        let got = Digest::of(data);
        if got != *digest {
            return Err(Error::DigestMismatch { what: format!("blob data for {repo}"), expected: *digest, got });
        }
        let source = source.filter(|s| s.registry() == repo.registry() && s.name() != repo.name());
        let scope = match source {
            Some(s) => Scope::push_mounting(repo.name(), s.name()),
            None => Scope::push(repo.name()),
        };
        if self.blob_exists_scoped(repo, digest, &scope)? {
            debug!(%repo, %digest, "blob exists");
            return Ok(PushOutcome::Existed);
        }
        let start = format!("{}/blobs/uploads/", self.base_url(repo));
        self.with_retries(&start, || {
            let upload = Upload { client: self, repo, scope: &scope, digest };
            upload.run(&start, data, source)
        })
    }

    /// Stores `bytes` as a manifest of `media_type` under `tag_or_digest`
    /// (a tag, or `sha256:…` which must be the bytes' digest) and returns
    /// the digest. Push the blobs it references first.
    pub fn push_manifest(
        &self,
        repo: &Repository,
        tag_or_digest: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Digest> {
        let digest = Digest::of(bytes);
        let invalid = |reason: &str| Error::InvalidTag {
            tag: tag_or_digest.to_string(),
            repository: repo.to_string(),
            reason: reason.to_string(),
        };
        if tag_or_digest.starts_with("sha256:") {
            let named: Digest = tag_or_digest.parse().map_err(|_| invalid("not a valid sha256 digest"))?;
            if named != digest {
                let what = format!("manifest for {repo}");
                return Err(Error::DigestMismatch { what, expected: named, got: digest });
            }
        } else {
            check_tag(tag_or_digest).map_err(invalid)?;
        }
        let url = format!("{}/manifests/{tag_or_digest}", self.base_url(repo));
        let scope = Scope::push(repo.name());
        self.with_retries(&url, || {
            let call = Call::new(Method::PUT, url.as_str(), repo.registry(), &scope)
                .header("content-type", media_type)
                .body(bytes);
            let response = self.send(&call)?;
            match response.status().as_u16() {
                200..=202 => check_announced(&url, &response, &digest).map_err(Attempt::fatal),
                _ => Err(Attempt::fatal(status_error(&call, response))),
            }
        })?;
        Ok(digest)
    }
}

/// One upload session: start (or mount), send, commit.
struct Upload<'a> {
    client: &'a Client,
    repo: &'a Repository,
    scope: &'a Scope,
    digest: &'a Digest,
}

impl Upload<'_> {
    fn call(&self, method: Method, url: &str) -> Call<'_> {
        Call::new(method, url, self.repo.registry(), self.scope)
    }

    fn run(&self, start: &str, data: &[u8], source: Option<&Repository>) -> Result<PushOutcome, Attempt> {
        let url = match source {
            Some(source) => with_query(&with_query(start, "mount", &self.digest.to_string()), "from", source.name()),
            None => start.to_string(),
        };
        let call = self.call(Method::POST, &url).body(&[]);
        let response = self.client.send(&call)?;
        match response.status().as_u16() {
            201 if source.is_some() => {
                check_announced(&url, &response, self.digest)?;
                debug!(repo = %self.repo, digest = %self.digest, "mounted");
                return Ok(PushOutcome::Mounted);
            }
            202 => {}
            _ => return Err(Attempt::fatal(status_error(&call, response))),
        }
        let min_chunk = header(&response, "oci-chunk-min-length").and_then(|v| v.trim().parse::<usize>().ok());
        let chunk = self.client.options.chunk_size.max(min_chunk.unwrap_or(0)).max(1);
        let mut location = self.location(&url, &response)?;
        let mut offset = 0;
        if data.len() > chunk {
            for piece in data.chunks(chunk) {
                location = self.patch(&location, offset, piece)?;
                offset += piece.len();
            }
        }
        let put_url = with_query(&location, "digest", &self.digest.to_string());
        let call = self.call(Method::PUT, &put_url).header("content-type", OCTET_STREAM).body(&data[offset..]);
        let response = self.client.send(&call)?;
        match response.status().as_u16() {
            201 | 204 => check_announced(&put_url, &response, self.digest)?,
            // The session expired or went out of step: start over.
            404 | 416 => return Err(Attempt::retry(status_error(&call, response), None)),
            _ => return Err(Attempt::fatal(status_error(&call, response))),
        }
        debug!(repo = %self.repo, digest = %self.digest, bytes = data.len(), chunk, "uploaded");
        Ok(PushOutcome::Uploaded)
    }

    /// Sends bytes `offset..offset+piece.len()`; returns the next location.
    fn patch(&self, location: &str, offset: usize, piece: &[u8]) -> Result<String, Attempt> {
        let range = format!("{offset}-{}", offset + piece.len() - 1);
        let call = self
            .call(Method::PATCH, location)
            .header("content-type", OCTET_STREAM)
            .header("content-range", range.clone())
            .body(piece);
        let response = self.client.send(&call)?;
        match response.status().as_u16() {
            202 => {}
            404 | 416 => return Err(Attempt::retry(status_error(&call, response), None)),
            _ => return Err(Attempt::fatal(status_error(&call, response))),
        }
        let end = offset + piece.len() - 1;
        if let Some(r) = header(&response, "range").filter(|r| !r.ends_with(&format!("-{end}"))) {
            let reason = format!("after sending bytes {range} the registry reports Range {r}");
            return Err(Attempt::retry(Error::BadResponse { url: location.to_string(), reason }, None));
        }
        self.location(location, &response)
    }

    /// The `Location` of the next request, resolved and scheme-checked.
    fn location(&self, url: &str, response: &Response<Body>) -> Result<String, Attempt> {
        let location = header(response, "location").ok_or_else(|| Error::BadResponse {
            url: url.to_string(),
            reason: format!("status {} without a Location header", response.status().as_u16()),
        })?;
        let resolved = resolve_location(url, location);
        self.client.check_scheme(&resolved)?;
        Ok(resolved)
    }
}

/// Fails if the registry announces a `Docker-Content-Digest` other than `digest`.
fn check_announced(url: &str, response: &Response<Body>, digest: &Digest) -> Result<(), Error> {
    match header(response, "docker-content-digest").and_then(|d| d.parse::<Digest>().ok()) {
        Some(announced) if announced != *digest => Err(Error::DigestMismatch {
            what: format!("registry's answer from {url}"),
            expected: *digest,
            got: announced,
        }),
        _ => Ok(()),
    }
}
