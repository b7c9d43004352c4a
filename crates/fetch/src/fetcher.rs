//! Verified downloads ([`Fetcher::fetch_verified`]) and small unverified
//! ones ([`Fetcher::get_bytes`]).

use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use tracing::{debug, warn};

use crate::digest::Expected;
use crate::error::{Error, Result};
use crate::file_name;
use crate::http::{cancelled, network, Attempt, Fetcher};
use crate::staging::Staged;

const CHUNK: usize = 64 * 1024;

impl Fetcher {
    /// The cached file matching `expected`, downloading it from the first
    /// of `urls` that serves the right bytes if it is not cached yet.
    pub fn fetch_verified<S: AsRef<str>>(&self, urls: &[S], expected: &Expected) -> Result<PathBuf> {
        let urls: Vec<&str> = urls.iter().map(AsRef::as_ref).collect();
        let name = urls.first().map_or_else(|| expected.sha256.to_hex(), |u| file_name(u));
        self.fetch_one(&name, &urls, expected, None)
    }

    pub(crate) fn fetch_one(
        &self,
        name: &str,
        urls: &[&str],
        expected: &Expected,
        stop: Option<&AtomicBool>,
    ) -> Result<PathBuf> {
        if let Some(path) = self.cache.get(expected) {
            debug!(name, path = %path.display(), "cache hit");
            self.reporter.download_done(name, true);
            return Ok(path);
        }
        if self.options.offline {
            return Err(Error::Offline { name: name.to_string(), cache: self.cache.root().to_path_buf() });
        }
        if urls.is_empty() {
            return Err(Error::NoUrls { name: name.to_string() });
        }
        let space = self.cache.check_space(expected.size);
        let result = space.and_then(|()| self.try_urls(name, urls, expected, stop));
        match &result {
            Ok(_) => self.reporter.download_done(name, false),
            Err(e) => self.reporter.download_failed(name, e),
        }
        result
    }

    fn try_urls(&self, name: &str, urls: &[&str], expected: &Expected, stop: Option<&AtomicBool>) -> Result<PathBuf> {
        let mut errors = Vec::new();
        for url in urls {
            self.reporter.download_start(name, Some(expected.size));
            match self.with_retries(name, url, stop, || self.download(name, url, expected, stop)) {
                Ok(path) => return Ok(path),
                Err(Attempt::Fatal(e)) => return Err(e),
                Err(other) => {
                    let e = other.into_error();
                    warn!(url, "giving up on this url: {}", e.summary());
                    errors.push(e);
                }
            }
        }
        match errors.len() {
            1 => Err(errors.remove(0)),
            _ => Err(Error::AllUrlsFailed { name: name.to_string(), errors }),
        }
    }

    /// One attempt: stream `url` into a temp file, then verify and commit.
    fn download(
        &self,
        name: &str,
        url: &str,
        expected: &Expected,
        stop: Option<&AtomicBool>,
    ) -> Result<PathBuf, Attempt> {
        let response = self.request(url)?;
        if let Some(len) = response.body().content_length() {
            if len != expected.size {
                return Err(size_mismatch(url, expected, len));
            }
        }
        let blob = self.cache.blob_path(&expected.sha256);
        let mut staged = (self.cache).stage(blob.parent().unwrap_or(self.cache.root())).map_err(Attempt::Fatal)?;
        let mut reader = response.into_body().into_reader();
        self.stream(name, url, expected, stop, &mut reader, &mut staged)?;
        staged.commit_blob(expected, url).map_err(|e| match e {
            e if e.is_mismatch() => Attempt::NextUrl(e),
            e => Attempt::Fatal(e),
        })
    }

    fn stream(
        &self,
        name: &str,
        url: &str,
        expected: &Expected,
        stop: Option<&AtomicBool>,
        reader: &mut impl Read,
        staged: &mut Staged<'_>,
    ) -> Result<(), Attempt> {
        let mut buf = vec![0u8; CHUNK];
        loop {
            if stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
                return Err(Attempt::Fatal(cancelled(name)));
            }
            let n = read_chunk(reader, &mut buf).map_err(|e| {
                let detail = format!(" after {} of {} bytes", staged.len(), expected.size);
                network(url, e.into(), &detail)
            })?;
            if n == 0 {
                return Ok(());
            }
            let total = staged.len() + n as u64;
            if total > expected.size {
                // Stop at once rather than download an unbounded body.
                return Err(size_mismatch(url, expected, total));
            }
            staged.write(&buf[..n]).map_err(Attempt::Fatal)?;
            self.reporter.download_progress(name, total);
        }
    }

    /// The body of `url`, held in memory and *not* verified: for files
    /// checked by signature such as `InRelease`. Offline, the copy kept by
    /// [`crate::Cache::store_by_url`] is returned instead.
    pub fn get_bytes(&self, url: &str) -> Result<Vec<u8>> {
        if self.options.offline {
            let Some(bytes) = self.cache.load_by_url(url)? else {
                return Err(Error::Offline { name: url.to_string(), cache: self.cache.root().to_path_buf() });
            };
            self.reporter.download_done(url, true);
            return Ok(bytes);
        }
        self.reporter.download_start(url, None);
        let result = self.with_retries(url, url, None, || self.read_body(url)).map_err(Attempt::into_error);
        match &result {
            Ok(_) => self.reporter.download_done(url, false),
            Err(e) => self.reporter.download_failed(url, e),
        }
        result
    }

    fn read_body(&self, url: &str) -> Result<Vec<u8>, Attempt> {
        let limit = self.options.max_bytes_in_memory;
        let too_large = || Attempt::NextUrl(Error::TooLarge { url: url.to_string(), limit });
        let response = self.request(url)?;
        if response.body().content_length().is_some_and(|l| l > limit) {
            return Err(too_large());
        }
        let mut reader = response.into_body().into_reader();
        let mut bytes = Vec::new();
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = read_chunk(&mut reader, &mut buf)
                .map_err(|e| network(url, e.into(), &format!(" after {} bytes", bytes.len())))?;
            if n == 0 {
                return Ok(bytes);
            }
            if (bytes.len() + n) as u64 > limit {
                return Err(too_large());
            }
            bytes.extend_from_slice(&buf[..n]);
            self.reporter.download_progress(url, bytes.len() as u64);
        }
    }
}

fn size_mismatch(url: &str, expected: &Expected, got: u64) -> Attempt {
    Attempt::NextUrl(Error::SizeMismatch { url: url.to_string(), expected: expected.size, got })
}

fn read_chunk(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}
