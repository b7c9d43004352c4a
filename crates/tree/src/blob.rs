//! File content: bytes in memory, or a range of a spill file.
//!
//! A tree of a few megabytes keeps every file in memory. A big one (a
//! compiler, a runtime) would need its whole content in RAM, so a
//! [`Spill`] store decides per file: content is held in memory until the
//! store's budget is used up, and after that it is written to an unlinked
//! temporary file (one per store, in a directory the caller names, e.g.
//! the cache) and the [`Blob`] keeps only the file, an offset and a length.
//! Writers stream blobs with [`Blob::write_to`], so memory stays bounded
//! whatever the image's size. Where a blob lives never changes its bytes,
//! so outputs are identical whichever way each file went.

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Bytes moved per read or write when streaming a spilled blob.
const CHUNK: usize = 256 * 1024;

/// File content: shared and immutable. Cloning is cheap.
#[derive(Clone)]
pub struct Blob(Repr);

#[derive(Clone)]
enum Repr {
    Memory(Arc<[u8]>),
    Spilled { file: Arc<File>, offset: u64, len: u64 },
}

impl Blob {
    pub fn len(&self) -> u64 {
        match &self.0 {
            Repr::Memory(bytes) => bytes.len() as u64,
            Repr::Spilled { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `len` bytes at `offset` of `file`: content that already lives in a
    /// file this process holds open and that nobody changes (e.g. a
    /// verified cache entry), read from there as a spilled blob is.
    pub fn in_file(file: Arc<File>, offset: u64, len: u64) -> Blob {
        Blob(Repr::Spilled { file, offset, len })
    }

    /// Whether the content lives in a spill file rather than in memory.
    pub fn is_spilled(&self) -> bool {
        matches!(self.0, Repr::Spilled { .. })
    }

    /// The whole content; a spilled blob is read into memory. For the small
    /// files that passes read (configuration, copyright files); writers
    /// stream with [`Blob::write_to`] instead.
    ///
    /// # Panics
    /// If a spill file cannot be read: it is this process's own open,
    /// unlinked file, so that is an I/O failure of the disk under it.
    pub fn bytes(&self) -> Cow<'_, [u8]> {
        self.try_bytes().unwrap_or_else(|e| panic!("reading spilled file content back failed: {e}"))
    }

    /// The whole content, or the error reading a spill file back.
    pub fn try_bytes(&self) -> io::Result<Cow<'_, [u8]>> {
        match &self.0 {
            Repr::Memory(bytes) => Ok(Cow::Borrowed(bytes)),
            Repr::Spilled { .. } => self.range(0, self.len()).map(Cow::Owned),
        }
    }

    /// `len` bytes from `from` on (clamped to the content).
    pub fn range(&self, from: u64, len: u64) -> io::Result<Vec<u8>> {
        let end = from.saturating_add(len).min(self.len());
        let from = from.min(end);
        match &self.0 {
            Repr::Memory(bytes) => Ok(bytes[from as usize..end as usize].to_vec()),
            Repr::Spilled { file, offset, .. } => {
                let mut buf = vec![0; (end - from) as usize];
                file.read_exact_at(&mut buf, offset + from)?;
                Ok(buf)
            }
        }
    }

    /// Copies the content to `out`, a chunk at a time for spilled blobs.
    pub fn write_to(&self, out: &mut dyn Write) -> io::Result<()> {
        self.write_range_to(0, self.len(), out)
    }

    /// Copies `len` bytes from `from` on (clamped to the content) to `out`.
    pub fn write_range_to(&self, from: u64, len: u64, out: &mut dyn Write) -> io::Result<()> {
        let end = from.saturating_add(len).min(self.len());
        let from = from.min(end);
        match &self.0 {
            Repr::Memory(bytes) => out.write_all(&bytes[from as usize..end as usize]),
            Repr::Spilled { file, offset, .. } => {
                let mut buf = vec![0; CHUNK.min((end - from) as usize)];
                let mut at = from;
                while at < end {
                    let n = (end - at).min(CHUNK as u64) as usize;
                    file.read_exact_at(&mut buf[..n], offset + at)?;
                    out.write_all(&buf[..n])?;
                    at += n as u64;
                }
                Ok(())
            }
        }
    }

    /// A reader over the content.
    pub fn reader(&self) -> BlobReader<'_> {
        BlobReader { blob: self, pos: 0 }
    }
}

/// Reads a [`Blob`] from its start; see [`Blob::reader`].
pub struct BlobReader<'a> {
    blob: &'a Blob,
    pos: u64,
}

impl Read for BlobReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.blob.len() - self.pos;
        let n = (buf.len() as u64).min(left) as usize;
        match &self.blob.0 {
            Repr::Memory(bytes) => buf[..n].copy_from_slice(&bytes[self.pos as usize..][..n]),
            Repr::Spilled { file, offset, .. } => file.read_exact_at(&mut buf[..n], offset + self.pos)?,
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Default for Blob {
    fn default() -> Self {
        Blob(Repr::Memory(Arc::from(&[][..])))
    }
}

impl PartialEq for Blob {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Repr::Memory(a), Repr::Memory(b)) => a == b,
            _ => self.len() == other.len() && self.try_bytes().ok() == other.try_bytes().ok(),
        }
    }
}

impl Eq for Blob {}

impl From<Vec<u8>> for Blob {
    fn from(v: Vec<u8>) -> Self {
        Blob(Repr::Memory(v.into()))
    }
}

impl From<&[u8]> for Blob {
    fn from(v: &[u8]) -> Self {
        Blob(Repr::Memory(v.into()))
    }
}

impl From<&str> for Blob {
    fn from(v: &str) -> Self {
        Blob(Repr::Memory(v.as_bytes().into()))
    }
}

impl From<String> for Blob {
    fn from(v: String) -> Self {
        Blob(Repr::Memory(v.into_bytes().into()))
    }
}

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let place = if self.is_spilled() { ", spilled" } else { "" };
        write!(f, "Blob({} bytes{place})", self.len())
    }
}

/// Why content could not be spilled.
#[derive(Debug, thiserror::Error)]
pub enum SpillError {
    #[error("cannot create the spill file in {dir}")]
    Create { dir: PathBuf, source: io::Error },
    #[error(
        "cannot write {len} bytes of file content to the spill file in {dir}\nhint: a big image's file contents are kept there while it is written; free space there or choose another --cache-dir"
    )]
    Write { dir: PathBuf, len: u64, source: io::Error },
    #[error("reading file content to spill")]
    Read(#[source] io::Error),
}

/// Where the contents of a big tree go once a memory budget is spent; see
/// the module docs. Shared by reference between unpacking threads.
pub struct Spill {
    budget: u64,
    in_memory: AtomicU64,
    target: Option<Target>,
}

struct Target {
    dir: PathBuf,
    file: std::sync::OnceLock<Arc<File>>,
    end: AtomicU64,
}

impl Spill {
    /// Keeps up to `budget` bytes of content in memory, then spills to an
    /// unlinked file created in `dir` (only when first needed).
    pub fn new(dir: impl Into<PathBuf>, budget: u64) -> Self {
        let target = Target { dir: dir.into(), file: std::sync::OnceLock::new(), end: AtomicU64::new(0) };
        Spill { budget, in_memory: AtomicU64::new(0), target: Some(target) }
    }

    /// Everything in memory: for small trees and tests.
    pub fn memory() -> Self {
        Spill { budget: u64::MAX, in_memory: AtomicU64::new(0), target: None }
    }

    /// Bytes of content this store has kept in memory so far.
    pub fn in_memory(&self) -> u64 {
        self.in_memory.load(Ordering::Relaxed)
    }

    /// Bytes of content written to the spill file so far.
    pub fn spilled(&self) -> u64 {
        self.target.as_ref().map_or(0, |t| t.end.load(Ordering::Relaxed))
    }

    /// The directory spill files go to, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.target.as_ref().map(|t| t.dir.as_path())
    }

    /// Counts `len` more bytes as held in memory, or, when they would go
    /// past the budget, counts nothing and gives the spill target.
    fn past_budget(&self, len: u64) -> Option<&Target> {
        let held = self.in_memory.fetch_add(len, Ordering::Relaxed);
        let target = self.target.as_ref().filter(|_| held.saturating_add(len) > self.budget)?;
        self.in_memory.fetch_sub(len, Ordering::Relaxed);
        Some(target)
    }

    /// Reads exactly `len` bytes from `from` into a blob: in memory while
    /// the budget lasts, else into the spill file. A short read is an
    /// [`io::ErrorKind::UnexpectedEof`] inside [`SpillError::Read`].
    pub fn store(&self, from: &mut dyn Read, len: u64) -> Result<Blob, SpillError> {
        match self.past_budget(len) {
            Some(target) => target.store(from, len),
            None => {
                // The length comes from an archive header: not trusted for
                // the allocation, only checked afterwards.
                let mut body = Vec::with_capacity(len.min(1 << 20) as usize);
                from.take(len).read_to_end(&mut body).map_err(SpillError::Read)?;
                if body.len() as u64 != len {
                    return Err(SpillError::Read(io::ErrorKind::UnexpectedEof.into()));
                }
                Ok(Blob::from(body))
            }
        }
    }
}

/// A blob written as a stream whose length is not known in advance (an
/// archive being made): held in memory while its [`Spill`] store's budget
/// lasts, then moved to an unlinked file of its own in the store's
/// directory. [`BlobWriter::finish`] gives the blob.
pub struct BlobWriter<'a> {
    spill: &'a Spill,
    memory: Vec<u8>,
    file: Option<io::BufWriter<File>>,
    len: u64,
}

impl Spill {
    /// Starts a blob of unknown length; see [`BlobWriter`].
    pub fn writer(&self) -> BlobWriter<'_> {
        BlobWriter { spill: self, memory: Vec::new(), file: None, len: 0 }
    }
}

impl BlobWriter<'_> {
    /// Moves what is held in memory to a file of its own.
    fn spill_to_file(&mut self, target: &Target) -> io::Result<()> {
        let file = tempfile::tempfile_in(&target.dir).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot create a spill file in {}: {e}", target.dir.display()))
        })?;
        let mut file = io::BufWriter::with_capacity(CHUNK, file);
        file.write_all(&self.memory)?;
        self.spill.in_memory.fetch_sub(self.memory.len() as u64, Ordering::Relaxed);
        self.memory = Vec::new();
        self.file = Some(file);
        Ok(())
    }

    /// The blob written so far: in memory, or the whole of its own file.
    pub fn finish(mut self) -> io::Result<Blob> {
        let Some(file) = self.file.take() else {
            // The memory stays counted: the blob holds it.
            return Ok(Blob::from(std::mem::take(&mut self.memory)));
        };
        let file = file.into_inner().map_err(io::IntoInnerError::into_error)?;
        Ok(Blob(Repr::Spilled { file: Arc::new(file), offset: 0, len: self.len }))
    }
}

impl Write for BlobWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.file.is_none() {
            match self.spill.past_budget(buf.len() as u64) {
                Some(target) => self.spill_to_file(target)?,
                None => self.memory.extend_from_slice(buf),
            }
        }
        if let Some(file) = &mut self.file {
            file.write_all(buf)?;
        }
        self.len += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().map_or(Ok(()), Write::flush)
    }
}

impl Drop for BlobWriter<'_> {
    fn drop(&mut self) {
        // Unfinished (an error on the way): its memory is no longer held.
        self.spill.in_memory.fetch_sub(self.memory.len() as u64, Ordering::Relaxed);
    }
}

impl Target {
    fn file(&self) -> Result<&Arc<File>, SpillError> {
        if let Some(file) = self.file.get() {
            return Ok(file);
        }
        let file =
            tempfile::tempfile_in(&self.dir).map_err(|source| SpillError::Create { dir: self.dir.clone(), source })?;
        Ok(self.file.get_or_init(|| Arc::new(file)))
    }

    /// Reserves `len` bytes at the end of the file and copies into them, so
    /// threads write side by side without a lock.
    fn store(&self, from: &mut dyn Read, len: u64) -> Result<Blob, SpillError> {
        let file = self.file()?.clone();
        let offset = self.end.fetch_add(len, Ordering::Relaxed);
        let mut buf = vec![0; CHUNK.min(len as usize)];
        let mut done = 0;
        while done < len {
            let want = (len - done).min(CHUNK as u64) as usize;
            from.read_exact(&mut buf[..want]).map_err(SpillError::Read)?;
            file.write_all_at(&buf[..want], offset + done).map_err(|source| SpillError::Write {
                dir: self.dir.clone(),
                len,
                source,
            })?;
            done += want as u64;
        }
        Ok(Blob(Repr::Spilled { file, offset, len }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_spills_once_the_budget_is_spent() {
        let dir = std::env::temp_dir();
        let spill = Spill::new(&dir, 10);
        let a = spill.store(&mut &b"12345678"[..], 8).unwrap();
        let b = spill.store(&mut &b"abcdef"[..], 6).unwrap();
        let c = spill.store(&mut &b"xy"[..], 2).unwrap();
        assert!(!a.is_spilled() && b.is_spilled() && !c.is_spilled());
        assert_eq!((spill.in_memory(), spill.spilled()), (10, 6));
        assert_eq!(&*b.bytes(), b"abcdef");
        assert_eq!(b.range(2, 3).unwrap(), b"cde");
        let mut part = Vec::new();
        b.write_range_to(4, 10, &mut part).unwrap();
        assert_eq!(part, b"ef");
        assert_eq!(b, Blob::from("abcdef"));
        let mut out = Vec::new();
        b.write_to(&mut out).unwrap();
        assert_eq!(out, b"abcdef");
        let mut read = String::new();
        b.reader().read_to_string(&mut read).unwrap();
        assert_eq!(read, "abcdef");
    }

    #[test]
    fn a_stream_moves_to_its_own_file_once_the_budget_is_spent() {
        let spill = Spill::new(std::env::temp_dir(), 10);
        let mut small = spill.writer();
        small.write_all(b"1234").unwrap();
        small.write_all(b"56").unwrap();
        let small = small.finish().unwrap();
        assert!(!small.is_spilled());
        assert_eq!(spill.in_memory(), 6);
        let mut big = spill.writer();
        big.write_all(b"abc").unwrap();
        big.write_all(b"defgh").unwrap();
        let big = big.finish().unwrap();
        assert!(big.is_spilled());
        assert_eq!(spill.in_memory(), 6, "what moved to the file is no longer counted");
        assert_eq!((&*small.bytes(), &*big.bytes()), (&b"123456"[..], &b"abcdefgh"[..]));
        let mut dropped = spill.writer();
        dropped.write_all(b"xyz").unwrap();
        drop(dropped);
        assert_eq!(spill.in_memory(), 6, "an unfinished stream gives its memory back");
        let memory = Spill::memory();
        let mut all = memory.writer();
        all.write_all(&[7; 100]).unwrap();
        assert!(!all.finish().unwrap().is_spilled());
    }

    #[test]
    fn short_input_is_an_error_in_memory_and_spilled() {
        let spill = Spill::new(std::env::temp_dir(), 4);
        for len in [3, 100] {
            let err = spill.store(&mut &b"ab"[..], len).unwrap_err();
            assert!(matches!(err, SpillError::Read(e) if e.kind() == io::ErrorKind::UnexpectedEof));
        }
    }

    #[test]
    fn a_missing_spill_directory_is_named() {
        let spill = Spill::new("/nonexistent/microroot-spill", 0);
        let err = spill.store(&mut &b"ab"[..], 2).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/microroot-spill"), "{err}");
    }
}
