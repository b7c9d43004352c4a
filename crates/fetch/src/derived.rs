//! Entries made from other entries (a `.deb`'s decoded data member): their
//! content is known only once written, so they are hashed on the way and
//! stored under their own sha256 like any blob, and a small record under
//! `derived/<kind>/<source sha256>` names the blob. Reading goes through
//! [`Cache::get`], so a derived entry is verified like any other; a record
//! whose blob is gone or corrupt is a miss. Derived entries can always be
//! made again, so they are not synced to disk: after a crash one may be
//! short or garbled, and its check on the next read removes it.

use std::fs;
use std::io::{self, Write};

use tracing::debug;

use crate::cache::Cache;
use crate::digest::{Expected, Sha256Hash};
use crate::error::Result;
use crate::staging::Staged;

/// A derived entry being written; see the module docs. Dropped without
/// [`Derived::commit`], it leaves nothing behind.
pub struct Derived<'c> {
    staged: Staged<'c>,
    buffer: Vec<u8>,
}

impl Cache {
    /// Starts a derived entry.
    pub fn derive(&self) -> Result<Derived<'_>> {
        Ok(Derived { staged: self.stage(&self.root().join("sha256"))?, buffer: Vec::with_capacity(BUFFER) })
    }

    /// The blob derived as `kind` from the entry `source`, verified, with
    /// what it must be; `None` if there is none (or it failed its check).
    pub fn get_derived(&self, kind: &str, source: &Sha256Hash) -> Option<(std::path::PathBuf, Expected)> {
        let record = fs::read_to_string(self.derived_record(kind, source)).ok()?;
        let (sha, size) = record.trim().split_once(' ')?;
        let expected = Expected::parse(sha, size.parse().ok()?).ok()?;
        let path = self.get(&expected)?;
        Some((path, expected))
    }

    fn derived_record(&self, kind: &str, source: &Sha256Hash) -> std::path::PathBuf {
        self.root().join("derived").join(kind).join(source.to_hex())
    }
}

impl Derived<'_> {
    /// The entry being written, opened for reading: once committed it is
    /// the same file, so what was written (and flushed) can be read back
    /// from here.
    pub fn reopen(&self) -> Result<std::fs::File> {
        let path = self.staged.path();
        std::fs::File::open(path).map_err(|e| self.staged.cache().io_error("open", path, e))
    }

    fn write_buffer(&mut self) -> Result<()> {
        if !self.buffer.is_empty() {
            self.staged.write(&self.buffer)?;
            self.buffer.clear();
        }
        Ok(())
    }

    /// Stores what was written as a blob and records it as `kind` derived
    /// from `source`.
    pub fn commit(mut self, kind: &str, source: &Sha256Hash) -> Result<Expected> {
        let cache = self.staged.cache();
        self.write_buffer()?;
        let expected = self.staged.commit_as_written()?;
        let record = cache.derived_record(kind, source);
        let mut staged = cache.stage(record.parent().expect("a record has a directory"))?;
        staged.write(format!("{} {}\n", expected.sha256.to_hex(), expected.size).as_bytes())?;
        staged.commit_unsynced_to(&record)?;
        debug!(kind, source = %source, blob = %expected.sha256, "derived entry stored");
        Ok(expected)
    }
}

/// Bytes collected before they go to the file: the decoders hand over a
/// few kilobytes at a time.
const BUFFER: usize = 1 << 20;

impl Write for Derived<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.buffer.len() + buf.len() > BUFFER {
            self.write_buffer().map_err(io::Error::other)?;
        }
        if buf.len() >= BUFFER {
            self.staged.write(buf).map_err(io::Error::other)?;
        } else {
            self.buffer.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    /// Puts everything written so far in the file (where
    /// [`Derived::reopen`] sees it).
    fn flush(&mut self) -> io::Result<()> {
        self.write_buffer().map_err(io::Error::other)
    }
}
