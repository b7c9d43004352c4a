//! Readers that check a blob's size and digest as it streams past, and the
//! layer stream that decompresses on top of them.
//!
//! Decompressors and the tar parser may wrap or replace the `io::Error` a
//! reader returns, so a mismatch is also kept in a [`Failure`] slot that
//! the caller looks at first when anything fails.

use std::io::{self, BufRead, BufReader, Read};
use std::sync::{Arc, Mutex};

use flate2::bufread::MultiGzDecoder;

use super::ReadError;
use crate::digest::Hasher;
use crate::Digest;

/// What a blob must be: its name in messages, and the digest and size
/// the descriptor promises (each may be unknown).
#[derive(Clone, Debug)]
pub(crate) struct Expect {
    pub(crate) blob: String,
    pub(crate) digest: Option<Digest>,
    pub(crate) size: Option<u64>,
}

/// Where a verifying reader leaves the mismatch it found.
#[derive(Clone, Debug, Default)]
pub(crate) struct Failure(Arc<Mutex<Option<ReadError>>>);

impl Failure {
    fn set(&self, e: ReadError) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
    }

    pub(crate) fn take(&self) -> Option<ReadError> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// The recorded mismatch if there is one, else `e` as a read error.
    fn or_io(&self, e: io::Error, blob: &str) -> ReadError {
        self.take().unwrap_or_else(|| ReadError::Decompress { blob: blob.to_owned(), source: e })
    }
}

/// Passes bytes through and checks them against an [`Expect`] at the end.
pub(crate) struct Verified<R> {
    inner: R,
    hasher: Hasher,
    expect: Expect,
    failure: Failure,
    done: bool,
}

impl<R: Read> Verified<R> {
    pub(crate) fn new(inner: R, expect: Expect, failure: Failure) -> Self {
        Verified { inner, hasher: Hasher::default(), expect, failure, done: false }
    }

    fn check(&self) -> Result<(), ReadError> {
        let (got, blob) = (self.hasher.len, self.expect.blob.clone());
        match self.expect.size {
            Some(expected) if got < expected => return Err(ReadError::Truncated { blob, expected, got }),
            Some(expected) if got > expected => return Err(ReadError::TooLong { blob, expected }),
            _ => {}
        }
        let digest = self.hasher.clone().finish();
        match self.expect.digest {
            Some(expected) if expected != digest => Err(ReadError::Digest { blob, expected, got: digest }),
            _ => Ok(()),
        }
    }
}

impl<R: Read> Read for Verified<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        let too_long = self.expect.size.is_some_and(|s| self.hasher.len > s);
        if n == 0 || too_long {
            self.done = true;
            if let Err(e) = self.check() {
                let message = e.to_string();
                self.failure.set(e);
                return Err(io::Error::new(io::ErrorKind::InvalidData, message));
            }
        }
        Ok(n)
    }
}

/// Reads a small blob (JSON) whole, verified, refusing more than `limit`.
pub(crate) fn read_small(inner: impl Read, expect: Expect, limit: u64) -> Result<Vec<u8>, ReadError> {
    if expect.size.is_some_and(|s| s > limit) {
        return Err(ReadError::TooLarge { blob: expect.blob, limit });
    }
    let blob = expect.blob.clone();
    let failure = Failure::default();
    let mut out = Vec::new();
    Verified::new(inner, expect, failure.clone())
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| failure.or_io(e, &blob))?;
    if out.len() as u64 > limit {
        return Err(ReadError::TooLarge { blob, limit });
    }
    Ok(out)
}

type Raw = BufReader<Verified<Box<dyn Read + Send>>>;

enum Decoder {
    Plain(Raw),
    Gzip(Box<MultiGzDecoder<Raw>>),
    Zstd(zstd::stream::read::Decoder<'static, Raw>),
}

/// A layer's uncompressed tar stream. The stored blob is checked against
/// its descriptor (digest and size) as it streams, and the uncompressed
/// bytes against the config's diff id. Call [`LayerStream::finish`] after
/// consuming it: a tar parser stops at the end-of-archive marker, and the
/// checks happen at the end of the data.
pub struct LayerStream {
    decoder: Decoder,
    diff: Hasher,
    diff_id: Option<Digest>,
    blob: String,
    failure: Failure,
}

impl LayerStream {
    /// Picks the decompressor by the blob's magic bytes, whatever the
    /// media type says: gzip (`1f 8b`), zstd (`28 b5 2f fd`), else a plain
    /// tar (whose first bytes are a member name).
    pub(crate) fn new(inner: Box<dyn Read + Send>, expect: Expect, diff_id: Option<Digest>) -> Result<Self, ReadError> {
        let blob = expect.blob.clone();
        let failure = Failure::default();
        let mut raw = BufReader::with_capacity(64 * 1024, Verified::new(inner, expect, failure.clone()));
        let magic = raw.fill_buf().map_err(|e| failure.or_io(e, &blob))?;
        let decoder = if magic.starts_with(&[0x1f, 0x8b]) {
            Decoder::Gzip(Box::new(MultiGzDecoder::new(raw)))
        } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            let zstd = zstd::stream::read::Decoder::with_buffer(raw);
            Decoder::Zstd(zstd.map_err(|e| failure.or_io(e, &blob))?)
        } else {
            Decoder::Plain(raw)
        };
        Ok(LayerStream { decoder, diff: Hasher::default(), diff_id, blob, failure })
    }

    /// The blob's name in messages: `layer sha256:...` or an archive member.
    pub fn blob(&self) -> &str {
        &self.blob
    }

    /// A size or digest mismatch found so far, taken out. When reading the
    /// stream failed, this is the real reason, if there is one.
    pub fn take_failure(&mut self) -> Option<ReadError> {
        self.failure.take()
    }

    /// Reads whatever is left, uncompressed and stored, and reports any
    /// size, digest or diff id mismatch.
    pub fn finish(mut self) -> Result<(), ReadError> {
        if let Err(e) = io::copy(&mut self, &mut io::sink()) {
            return Err(self.failure.or_io(e, &self.blob));
        }
        let raw = match &mut self.decoder {
            Decoder::Plain(r) => r,
            Decoder::Gzip(d) => d.get_mut(),
            Decoder::Zstd(d) => d.get_mut(),
        };
        if let Err(e) = io::copy(raw, &mut io::sink()) {
            return Err(self.failure.or_io(e, &self.blob));
        }
        if let Some(e) = self.failure.take() {
            return Err(e);
        }
        let got = self.diff.clone().finish();
        match self.diff_id {
            Some(expected) if expected != got => Err(ReadError::DiffId { blob: self.blob, expected, got }),
            _ => Ok(()),
        }
    }
}

impl Read for LayerStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match &mut self.decoder {
            Decoder::Plain(r) => r.read(buf),
            Decoder::Gzip(d) => d.read(buf),
            Decoder::Zstd(d) => d.read(buf),
        }?;
        self.diff.update(&buf[..n]);
        Ok(n)
    }
}
