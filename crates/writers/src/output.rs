//! Output files that appear whole or not at all.
//!
//! The content streams into a temporary file in the target's directory
//! (same filesystem, so the rename is atomic), is fsynced, gets mode 0644,
//! and is renamed over the target; the directory is then fsynced so the
//! rename survives a crash. On any error the temporary file is removed and
//! an existing target is left untouched.

use std::fs::{File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use microroot_tree::Tree;
use sha2::{Digest, Sha256};

use crate::{
    compressed_writer, kernel_compressed_writer, parallel_compressed_writer, Compression, CpioWriter, Error, TarWriter,
};

/// A finished output file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    pub path: PathBuf,
    /// Bytes in the file.
    pub size: u64,
    pub sha256: [u8; 32],
}

impl Written {
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }
}

/// Writes `path` atomically with whatever `write` puts into the writer it
/// is given, and reports the file's size and sha256.
pub fn write_atomic<F>(path: &Path, write: F) -> Result<Written, Error>
where
    F: FnOnce(&mut dyn Write) -> Result<(), Error>,
{
    let io_err = |action, source| Error::OutputIo { path: path.to_owned(), action, source };
    let (size, sha256) = replace_atomically(path, io_err, |file| {
        std::thread::scope(|scope| {
            // The sha256 is taken on a thread of its own, a block behind the
            // writes: for a big image it costs as much as the writing.
            let (blocks, to_hash) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
            let (hashed, spare) = std::sync::mpsc::sync_channel::<Vec<u8>>(3);
            let hasher = scope.spawn(move || {
                let mut hasher = Sha256::new();
                for block in to_hash {
                    hasher.update(&block);
                    let _ = hashed.try_send(block);
                }
                <[u8; 32]>::from(hasher.finalize())
            });
            let mut sink = HashedFile { file, block: Vec::with_capacity(HASH_BLOCK), blocks, spare, size: 0 };
            let written = write(&mut sink)
                .map_err(|source| Error::Output { path: path.to_owned(), source: Box::new(source) })
                .and_then(|()| sink.flush().map_err(|e| io_err("write", e)));
            let size = sink.size;
            drop(sink);
            let sha256 = hasher.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            written.map(|()| (size, sha256))
        })
    })?;
    Ok(Written { path: path.to_owned(), size, sha256 })
}

/// The file-replacing part of [`write_atomic`], for writers that need the
/// file itself (to seek): `write` fills a temporary file in the target's
/// directory (same filesystem, so the rename is atomic), which is then
/// synced, given mode 0644 and renamed over `path`; the directory is synced
/// after. On any error the temporary file is removed and an existing
/// target is left alone. `io_error` turns a failed step into the caller's
/// error.
pub fn replace_atomically<T, E>(
    path: &Path,
    io_error: impl Fn(&'static str, io::Error) -> E,
    write: impl FnOnce(&File) -> Result<T, E>,
) -> Result<T, E> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io_error("write", io::Error::new(io::ErrorKind::InvalidInput, "the path has no file name")))?;
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    // Dropping `temp` on any early return removes the file.
    let temp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| io_error("create a temporary file for", e))?;
    let value = write(temp.as_file())?;
    let file = temp.as_file();
    file.set_permissions(Permissions::from_mode(0o644)).map_err(|e| io_error("set the mode of", e))?;
    file.sync_all().map_err(|e| io_error("sync", e))?;
    temp.persist(path).map_err(|e| io_error("rename the temporary file to", e.error))?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io_error("sync the directory of", e))?;
    Ok(value)
}

/// Writes `tree` as a (compressed) tarball at `path`, atomically, with
/// [`Naming::Bare`](crate::Naming::Bare) member names.
pub fn write_tarball(tree: &Tree, path: &Path, compression: Compression) -> Result<Written, Error> {
    write_tarball_on(tree, path, compression, None)
}

/// [`write_tarball`], compressed on `threads` threads by
/// [`parallel_compressed_writer`] when `threads` is given: for big trees,
/// where the block-parallel stream's cost in size is small and its speed
/// counts.
pub fn write_tarball_on(
    tree: &Tree,
    path: &Path,
    compression: Compression,
    threads: Option<u32>,
) -> Result<Written, Error> {
    write_atomic(path, |out| {
        let encoder = match threads {
            Some(threads) => parallel_compressed_writer(out, compression, threads)?,
            None => compressed_writer(out, compression)?,
        };
        let mut tar = TarWriter::new(encoder);
        tar.append_tree(tree)?;
        tar.finish()?.finish()?;
        Ok(())
    })
}

/// Writes `tree` as a (compressed) newc cpio archive at `path`,
/// atomically: an initramfs. The stream is made by
/// [`kernel_compressed_writer`], so the kernel can unpack it whatever the
/// compression.
pub fn write_initramfs(tree: &Tree, path: &Path, compression: Compression) -> Result<Written, Error> {
    // The archive's size first (nothing is compressed or kept), so that
    // the stream can be made for exactly that much content.
    let mut counter = CpioWriter::new(Counter(0));
    counter.append_tree(tree)?;
    let size = counter.finish()?.0;
    write_atomic(path, |out| {
        let mut cpio = CpioWriter::new(kernel_compressed_writer(out, compression, Some(size))?);
        cpio.append_tree(tree)?;
        cpio.finish()?.finish()?;
        Ok(())
    })
}

/// Counts what is written to it, and drops it.
struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Counts and hashes every byte on its way to the file.
/// Bytes [`write_atomic`] collects before a write and a hash.
const HASH_BLOCK: usize = 1 << 20;

/// How often [`write_atomic`] asks the kernel to start writing a big
/// file's pages to disk, so that the final fsync has little left to wait
/// for.
const WRITEBACK_EVERY: u64 = 32 << 20;

/// Starts (does not wait for) the writeback of `len` bytes of `file` from
/// `from`.
#[allow(unsafe_code)]
fn start_writeback(file: &File, from: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(from), Ok(len)) = (libc::off64_t::try_from(from), libc::off64_t::try_from(len)) else { return };
    // SAFETY: the descriptor is open for as long as `file` is borrowed, and
    // the call only schedules I/O on it. A failure changes nothing: the
    // fsync at the end writes whatever is left.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), from, len, libc::SYNC_FILE_RANGE_WRITE);
    }
}

/// The file [`write_atomic`] fills: blocks go to the file, then to the
/// hashing thread, which hands them back to be filled again.
struct HashedFile<'f> {
    file: &'f File,
    block: Vec<u8>,
    blocks: std::sync::mpsc::SyncSender<Vec<u8>>,
    spare: std::sync::mpsc::Receiver<Vec<u8>>,
    size: u64,
}

impl HashedFile<'_> {
    fn write_block(&mut self) -> io::Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        self.file.write_all(&self.block)?;
        let end = self.size;
        if end % WRITEBACK_EVERY < self.block.len() as u64 && end >= WRITEBACK_EVERY {
            let boundary = end - end % WRITEBACK_EVERY;
            start_writeback(self.file, boundary - WRITEBACK_EVERY, WRITEBACK_EVERY);
        }
        let next = self.spare.try_recv().unwrap_or_else(|_| Vec::with_capacity(HASH_BLOCK));
        let full = std::mem::replace(&mut self.block, next);
        self.blocks.send(full).map_err(|_| io::Error::other("the hashing thread stopped"))?;
        self.block.clear();
        Ok(())
    }
}

impl Write for HashedFile<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(HASH_BLOCK - self.block.len());
        self.block.extend_from_slice(&buf[..n]);
        self.size += n as u64;
        if self.block.len() == HASH_BLOCK {
            self.write_block()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_block()
    }
}
