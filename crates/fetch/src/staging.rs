//! Temp files that become cache entries: write → fsync → verify → rename.
//!
//! The temp file sits in the entry's own directory so the rename is atomic.
//! Two writers of the same entry each use their own temp file; whichever
//! renames last wins, and both wrote the same verified bytes. A temp file
//! that is never committed is removed on drop.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use tracing::debug;

use crate::cache::Cache;
use crate::digest::{Expected, Hasher};
use crate::error::{Error, Result};

/// Prefix of temp files in cache directories.
pub(crate) const TEMP_PREFIX: &str = ".tmp-";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// An uncommitted write into the cache.
pub(crate) struct Staged<'c> {
    cache: &'c Cache,
    path: PathBuf,
    file: File,
    hasher: Hasher,
    committed: bool,
}

impl Cache {
    /// Opens a fresh temp file in `dir`, creating the directory.
    pub(crate) fn stage(&self, dir: &Path) -> Result<Staged<'_>> {
        fs::create_dir_all(dir).map_err(|e| self.io_error("create", dir, e))?;
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!("{TEMP_PREFIX}{}-{n}", std::process::id()));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => return Ok(Staged { cache: self, path, file, hasher: Hasher::default(), committed: false }),
                // A leftover from a crashed process with a recycled pid.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(self.io_error("create", &path, e)),
            }
        }
    }
}

impl<'c> Staged<'c> {
    /// Appends bytes, hashing them on the way.
    pub(crate) fn write(&mut self, data: &[u8]) -> Result<()> {
        self.file.write_all(data).map_err(|e| self.cache.io_error("write", &self.path, e))?;
        self.hasher.update(data);
        Ok(())
    }

    /// Bytes written so far.
    pub(crate) fn len(&self) -> u64 {
        self.hasher.len()
    }

    /// Verifies against `expected` and renames into the blob store. On a
    /// mismatch the temp file is deleted and no entry appears.
    pub(crate) fn commit_blob(mut self, expected: &Expected, origin: &str) -> Result<PathBuf> {
        self.sync()?;
        let (got, len) = std::mem::take(&mut self.hasher).finish();
        if len != expected.size {
            return Err(Error::SizeMismatch { url: origin.to_string(), expected: expected.size, got: len });
        }
        if got != expected.sha256 {
            return Err(Error::HashMismatch { url: origin.to_string(), expected: expected.sha256, got });
        }
        let dest = self.cache.blob_path(&expected.sha256);
        self.rename_to(&dest)?;
        Ok(dest)
    }

    /// The temporary file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The cache this entry goes to.
    pub(crate) fn cache(&self) -> &'c Cache {
        self.cache
    }

    /// Stores the bytes under their own sha256, whatever it is: for
    /// entries made here rather than downloaded, which can be made again.
    /// Not synced: a crash may leave the entry short or empty, and then it
    /// fails the size or hash check of the next read, like any corruption.
    pub(crate) fn commit_as_written(mut self) -> Result<Expected> {
        let (sha256, size) = std::mem::take(&mut self.hasher).finish();
        let dest = self.cache.blob_path(&sha256);
        if let Some(dir) = dest.parent() {
            fs::create_dir_all(dir).map_err(|e| self.cache.io_error("create", dir, e))?;
        }
        self.commit_unsynced_to(&dest)?;
        Ok(Expected::new(sha256, size))
    }

    /// Renames into `dest` without verification (by-URL copies, which the
    /// caller verified by signature).
    pub(crate) fn commit_to(mut self, dest: &Path) -> Result<PathBuf> {
        self.sync()?;
        self.rename_to(dest)?;
        Ok(dest.to_path_buf())
    }

    fn sync(&mut self) -> Result<()> {
        self.file.sync_all().map_err(|e| self.cache.io_error("fsync", &self.path, e))
    }

    /// Renames into `dest` unsynced (see [`Staged::commit_as_written`]).
    pub(crate) fn commit_unsynced_to(mut self, dest: &Path) -> Result<PathBuf> {
        self.rename(dest)?;
        Ok(dest.to_path_buf())
    }

    fn rename(&mut self, dest: &Path) -> Result<()> {
        fs::rename(&self.path, dest).map_err(|e| self.cache.io_error("rename into", dest, e))?;
        self.committed = true;
        Ok(())
    }

    /// Renames into `dest` and syncs the directory.
    fn rename_to(&mut self, dest: &Path) -> Result<()> {
        self.rename(dest)?;
        debug!(path = %dest.display(), "cache entry committed");
        // Make the rename itself durable; failure here loses no data.
        if let Some(dir) = dest.parent() {
            if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
                debug!(dir = %dir.display(), error = %e, "directory fsync failed");
            }
        }
        Ok(())
    }
}

impl Drop for Staged<'_> {
    fn drop(&mut self) {
        if !self.committed {
            if let Err(e) = fs::remove_file(&self.path) {
                debug!(path = %self.path.display(), error = %e, "cannot remove temp file");
            }
        }
    }
}
