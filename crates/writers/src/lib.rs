//! Deterministic output writers for a microroot [`Tree`](microroot_tree::Tree).
//!
//! Data flows one way:
//!
//! ```text
//! &Tree ──TarWriter──▶ Encoder (none | gzip | xz | zstd) ──▶ write_atomic ──▶ rootfs.tar.xz
//!                                                                 └─▶ Written { size, sha256 }
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
//!
//! Nothing from the host (user names, umask, clock, locale, CPU count)
//! reaches an output: the bytes depend only on the tree and the options.

mod compress;
mod output;
mod tar;

use std::io;
use std::path::PathBuf;

use microroot_tree::TreePath;

pub use compress::{compressed_writer, Compression, Encoder};
pub use output::{write_atomic, write_tarball, Written};
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
