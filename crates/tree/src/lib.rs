//! The in-memory filesystem tree that every microroot build goes through.
//!
//! A [`Tree`] maps normalized paths ([`TreePath`]) to [`Entry`] values: a
//! [`Meta`] header (mode, owner, mtime, xattrs) plus a [`Kind`] (directory,
//! file with a [`Blob`] of content, symlink, hardlink, device, fifo, socket).
//! Sources (Debian packages, manifest files) insert into it; writers (tar,
//! cpio, ext4, OCI) only read it. The only I/O is a [`Blob`]'s: content
//! that a [`Spill`] store moved out of memory lives in an unlinked temporary
//! file and is read back from there.
//!
//! Paths are resolved the way a kernel would inside a chroot: symlinks in
//! parent components are followed, absolute link targets are taken relative
//! to the tree's root and `..` never climbs above it. So inserting
//! `bin/sh` into a tree where `bin -> usr/bin` puts the file at `usr/bin/sh`,
//! exactly as unpacking a package onto a merged-/usr system does.

mod blob;
mod entry;
mod path;
mod tree;

pub use blob::{Blob, BlobReader, BlobWriter, Spill, SpillError};
pub use entry::{Entry, Kind, Meta};
pub use path::{PathError, TreePath};
pub use tree::{Tree, TreeError};
