//! Deterministic output writers for a microroot [`Tree`](microroot_tree::Tree).
//!
//! Data flows one way:
//!
//! ```text
//! &Tree ──TarWriter──▶ Encoder (none | gzip | xz | zstd) ──▶ write_atomic ──▶ rootfs.tar.xz
//!                                                                 └─▶ Written { size, sha256 }
//! &Tree ──CpioWriter──▶ kernel_compressed_writer ──▶ write_atomic ──▶ initramfs.cpio.xz
//! ```
//!
//! - [`TarWriter`] serializes entries as POSIX ustar headers, adding a PAX
//!   extended header only when a value does not fit ustar (long names, large
//!   sizes, ids or mtimes) or the entry has xattrs. [`write_tree`] writes a
//!   whole tree; [`Naming`] chooses between `usr/bin/x` (the default, as in
//!   OCI layers) and `./usr/bin/x` (as in mmdebstrap and Buildroot tarballs).
//! - [`compressed_writer`] wraps any writer in the [`Encoder`] for a
//!   [`Compression`]; every encoder is single-threaded and configured so
//!   the same input gives the same bytes on every host.
//! - [`write_atomic`] streams into a temporary file next to the target and
//!   renames it into place only once everything was written and synced, so
//!   no partial output is ever left behind. [`write_tarball`] combines all
//!   three.
//! - [`CpioWriter`] writes the newc cpio archives the kernel unpacks as an
//!   initramfs; [`write_initramfs`] compresses one with
//!   [`kernel_compressed_writer`], whose xz and zstd streams stay within
//!   what the kernel's own decompressors accept. [`cpio::list`] reads and
//!   writes the kernel's `gen_init_cpio` file lists.
//! - The way back, for `microroot inspect`: [`sniff`] recognizes a
//!   compressed stream by its magic, [`decompress`] and [`decode_stream`]
//!   decode it, and [`read_cpio`] reads an initramfs (concatenated
//!   archives, compressed or not) into a tree.
//!
//! Nothing from the host (user names, umask, clock, locale, CPU count)
//! reaches an output: the bytes depend only on the tree and the options.

mod compress;
pub mod cpio;
mod decompress;
mod output;
mod tar;

use std::io;
use std::path::PathBuf;

use microroot_tree::TreePath;

pub use compress::{
    compressed_writer, kernel_compressed_writer, parallel_compressed_writer, parallel_thread_memory, parallel_threads,
    Compression, Encoder, PARALLEL_BLOCK,
};
pub use cpio::list::{parse_list, render_list, ListError, ListOptions};
pub use cpio::{read_cpio, write_cpio, CpioReadError, CpioWriter};
pub use decompress::{decode_prefix, decode_stream, decompress, sniff, Codec, Sniffed};
pub use output::{replace_atomically, write_atomic, write_initramfs, write_tarball, write_tarball_on, Written};
pub use tar::{write_tree, Naming, TarWriter};

/// Why writing an output failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot store `{path}` in a tar archive: tar has no {kind} entries\nhint: remove it from the tree; programs create sockets at runtime")]
    Unsupported { path: TreePath, kind: &'static str },
    #[error("hardlink `{path}` points to `{target}`, which is not a regular file in the tree")]
    HardlinkTarget { path: TreePath, target: TreePath },
    #[error("cannot write tar entry `{path}`")]
    TarEntry {
        path: TreePath,
        #[source]
        source: io::Error,
    },
    #[error("cannot write the end-of-archive marker of the tar archive")]
    TarEnd(#[source] io::Error),
    #[error("cannot write cpio entry `{path}`")]
    CpioEntry {
        path: TreePath,
        #[source]
        source: io::Error,
    },
    #[error("cannot write the trailer of the cpio archive")]
    CpioEnd(#[source] io::Error),
    #[error("`{path}` is {size} bytes, but a newc cpio archive holds files of at most 4 GiB - 1\nhint: keep large files out of the initramfs; put them on a disk image")]
    CpioTooLarge { path: TreePath, size: u64 },
    #[error("cannot list `{path}` for gen_init_cpio: {what} {reason}\nhint: the list format separates fields with whitespace; rename the entry")]
    ListName { path: TreePath, what: &'static str, reason: &'static str },
    #[error("{format} level {level} is out of range: expected {range}")]
    Level { format: &'static str, level: i64, range: &'static str },
    #[error("cannot set up the {format} encoder")]
    EncoderSetup {
        format: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("cannot finish the {format} stream")]
    EncoderFinish {
        format: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("cannot {action} `{path}`")]
    OutputIo {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("cannot write `{path}`; nothing was left behind")]
    Output {
        path: PathBuf,
        #[source]
        source: Box<Error>,
    },
}
