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
}

impl Cache {
    /// Starts a derived entry.
    pub fn derive(&self) -> Result<Derived<'_>> {
        Ok(Derived { staged: self.stage(&self.root().join("sha256"))? })
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
    /// the same file, so what was written can be read back from here.
    pub fn reopen(&self) -> Result<std::fs::File> {
        let path = self.staged.path();
        std::fs::File::open(path).map_err(|e| self.staged.cache().io_error("open", path, e))
    }

    /// Stores what was written as a blob and records it as `kind` derived
    /// from `source`.
    pub fn commit(self, kind: &str, source: &Sha256Hash) -> Result<Expected> {
        let cache = self.staged.cache();
        let expected = self.staged.commit_as_written()?;
        let record = cache.derived_record(kind, source);
        let mut staged = cache.stage(record.parent().expect("a record has a directory"))?;
        staged.write(format!("{} {}\n", expected.sha256.to_hex(), expected.size).as_bytes())?;
        staged.commit_unsynced_to(&record)?;
        debug!(kind, source = %source, blob = %expected.sha256, "derived entry stored");
        Ok(expected)
    }
}

/// How often a derived entry's pages are handed to the disk while it is
/// written: left to the kernel, hundreds of megabytes of them pile up and
/// it throttles every writer, the build's outputs included.
const WRITEBACK_EVERY: u64 = 32 << 20;

impl Write for Derived<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let before = self.staged.len();
        self.staged.write(buf).map_err(io::Error::other)?;
        let after = self.staged.len();
        if after / WRITEBACK_EVERY > before / WRITEBACK_EVERY {
            let boundary = after - after % WRITEBACK_EVERY;
            self.staged.start_writeback(boundary - WRITEBACK_EVERY, WRITEBACK_EVERY);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
