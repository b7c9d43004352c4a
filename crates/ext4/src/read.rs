//! Reading an ext2, ext3 or ext4 image back into a [`Tree`]: what
//! `microroot inspect` and `microroot diff` see of a `rootfs.ext4`.
//!
//! ```text
//! image ─▶ superblock ─▶ group descriptors (32 or 64 bytes) ─▶ inode tables
//!   root inode 2 ─walk directories─▶ names ─▶ inodes ─▶ extents / block maps / inline data ─▶ Tree
//! ```
//!
//! It reads what this crate writes and what `mke2fs -d` makes: 1 to 64 KiB
//! blocks, 128-byte and larger inodes, extent trees of any depth, classic
//! block maps (ext2/ext3), inline data, fast and slow symlinks, devices,
//! fifos, sockets, in-inode and block extended attributes (POSIX ACLs come
//! back in the `system.posix_acl_*` xattr format), and linear or hashed
//! directories (hashed ones are read linearly, which their layout allows).
//! An inode with several names becomes one [`Kind::File`] at the first name
//! in path order and [`Kind::Hardlink`]s at the others, the shape the tar and
//! cpio writers give hardlinks. The journal is not replayed, and checksums
//! other than the superblock's are not checked: a clean image is expected.
//!
//! Nothing in the image is trusted: every block number is checked against
//! the filesystem, extent and block-map blocks may be visited once only,
//! directory loops are errors, and the bytes of file content held in memory
//! are bounded by the image's size, so corrupt input gives a [`ReadError`]
//! and never a panic or an endless loop.
//!
//! [`Kind::File`]: microroot_tree::Kind::File
//! [`Kind::Hardlink`]: microroot_tree::Kind::Hardlink

mod disk;
mod inode;
mod walk;
mod xattr;

use std::path::Path;

use microroot_tree::Tree;

use crate::error::ReadError;
use disk::{Fs, Source};

/// Reads an ext2/3/4 image held in memory into a tree.
pub fn read_ext4(image: &[u8]) -> Result<Tree, ReadError> {
    walk::read_tree(&Fs::open(Source::Bytes(image))?)
}

/// Reads the ext2/3/4 image at `path` into a tree. Only the blocks that
/// hold metadata and file content are read, so a large, mostly empty image
/// costs little.
pub fn read_ext4_file(path: &Path) -> Result<Tree, ReadError> {
    let io = |source| ReadError::Io { path: path.to_owned(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    walk::read_tree(&Fs::open(Source::File { file, path: path.to_owned(), len })?)
}

/// Whether `head` (the first 1084 bytes of a file or more) starts like an
/// ext2/3/4 filesystem: the superblock magic at byte 1080.
pub fn is_ext4(head: &[u8]) -> bool {
    head.get(1080..1082) == Some(&[0x53, 0xef][..])
}

#[cfg(test)]
mod tests;
