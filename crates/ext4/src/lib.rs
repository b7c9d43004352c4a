//! Writes a microroot [`Tree`] as an ext4 filesystem image, natively: no
//! mke2fs, no loop mount, no root privileges.
//!
//! ```text
//! &Tree ─collect─▶ inodes ─prepare─▶ directory blocks, xattrs ─size─▶ Geometry ─lay out─▶ Layout
//!                                                                                          │
//!   image (sparse) ◀── pieces in offset order ◀── superblocks, descriptors, bitmaps, inodes ◀─┘
//! ```
//!
//! [`write_ext4`] writes to any `Write + Seek`; [`write_ext4_file`] writes a
//! file atomically. [`read_ext4`] and [`read_ext4_file`] read an image
//! (this crate's or `mke2fs -d`'s) back into a tree. The features are those of `mke2fs -t ext4` (e2fsprogs
//! 1.47) without `resize_inode` and `orphan_file`: `has_journal` (see
//! [`Options::journal`]), `ext_attr`, `dir_index`, `filetype`, `extent`,
//! `64bit`, `flex_bg`, `sparse_super`, `large_file`, `huge_file`,
//! `dir_nlink`, `extra_isize` and `metadata_csum`.
//!
//! - **Inodes.** The root is inode 2 and `lost+found` inode 11 (16 KiB,
//!   mode 0700, as mke2fs makes it); the others follow in path order from
//!   12 on. Hardlinks share their target's inode. Inodes are 256 bytes with
//!   32 bytes of extra fields; extended attributes go into the remaining 96
//!   bytes when they fit, else into one attribute block, shared between
//!   inodes with identical sets.
//! - **Blocks.** 4 KiB blocks, groups of 32768. With `flex_bg` every
//!   group's bitmaps and inode table sit together at the front, then the
//!   journal, then each inode's blocks in inode order, so every file is
//!   contiguous except where a superblock backup is in the way. Files map
//!   their blocks with extents (in the inode, or one level of index blocks
//!   beyond four); fast symlinks keep their target in the inode.
//! - **Directories** are linear: records in tree order, never crossing a
//!   block. The kernel indexes a directory itself once it grows at runtime.
//! - **Size.** [`Size::Fixed`] or [`Size::Auto`]: the smallest whole number
//!   of MiB holding content, metadata and headroom. Inode count follows
//!   mke2fs's one per 16 KiB, raised to fit the tree plus headroom.
//! - **Checksums.** With [`Options::metadata_csum`], the superblock, group
//!   descriptors, bitmaps, inodes, directory blocks, extent blocks and
//!   attribute blocks carry crc32c checksums, and groups nothing was put in
//!   are marked uninitialized, as mke2fs marks them.
//!
//! Output is deterministic: the bytes depend only on the tree and the
//! [`Options`]. Times come from the tree (atime, ctime and crtime equal the
//! mtime) or [`Options::timestamp`]; generations are 0; no reserved blocks
//! for root (`tune2fs -m` can add some); unused space is zeros, left as
//! holes so the image file is sparse.

mod alloc;
mod bitmap;
mod crc32c;
mod dir;
mod error;
mod extent;
mod geometry;
mod image;
mod inode;
mod journal;
mod nodes;
mod output;
mod plan;
mod read;
mod sizing;
mod superblock;
mod table;
mod uuid;
mod xattr;

use std::io::{Seek, Write};

use microroot_tree::Tree;

pub use error::{Error, ReadError};
pub use output::write_ext4_file;
pub use read::{is_ext4, read_ext4, read_ext4_file};
pub use uuid::{format_uuid, uuid_from_seed};

/// How large the filesystem is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Size {
    /// The smallest whole number of MiB that holds the tree, the metadata
    /// and a journal with `headroom_percent` of the used blocks (and of the
    /// inodes) left free, but at least `min_bytes`.
    Auto { headroom_percent: u32, min_bytes: u64 },
    /// Exactly this many bytes, rounded down to whole 4 KiB blocks. Like
    /// mke2fs, a last block group too short for its superblock backup is
    /// left out. Too small a size is an error naming the size needed.
    Fixed(u64),
}

impl Default for Size {
    fn default() -> Self {
        Size::Auto { headroom_percent: 20, min_bytes: 0 }
    }
}

/// Everything about the image that does not come from the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub size: Size,
    /// The filesystem UUID; see [`uuid_from_seed`].
    pub uuid: [u8; 16],
    /// The seed of directory hashes (`s_hash_seed`).
    pub hash_seed: [u8; 16],
    /// The volume label, at most 16 bytes.
    pub label: String,
    /// An internal journal (inode 8), sized as mke2fs would for the
    /// filesystem's size: 4 MiB below 128 MiB up to 1 GiB from 128 GiB.
    pub journal: bool,
    /// crc32c checksums on all metadata (`metadata_csum`), as mke2fs does
    /// by default. Off only for readers older than Linux 3.18.
    pub metadata_csum: bool,
    /// Seconds since the epoch for the superblock's creation, write and
    /// check times, and for the root and `lost+found` when the tree does not
    /// give them a time.
    pub timestamp: i64,
}

impl Options {
    /// Defaults with a UUID and hash seed derived from `seed`: auto size
    /// with 20% headroom, a journal, checksums, no label.
    pub fn from_seed(seed: &[u8], timestamp: i64) -> Self {
        let mut hash = seed.to_vec();
        hash.extend_from_slice(b"\0hash_seed");
        Options {
            size: Size::default(),
            uuid: uuid_from_seed(seed),
            hash_seed: uuid_from_seed(&hash),
            label: String::new(),
            journal: true,
            metadata_csum: true,
            timestamp,
        }
    }
}

/// What was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The image's length: blocks times 4096.
    pub size_bytes: u64,
    pub blocks: u64,
    pub inodes: u32,
    pub free_blocks: u64,
    pub free_inodes: u32,
}

/// Writes `tree` as an ext4 image to `out`, starting at its current
/// position.
///
/// Unused ranges are skipped with `seek`, not written, so they must read as
/// zeros: give a new or truncated file, or an empty `Cursor`. The stream
/// ends up exactly [`Summary::size_bytes`] past the starting position.
pub fn write_ext4<W: Write + Seek>(tree: &Tree, opts: &Options, out: &mut W) -> Result<Summary, Error> {
    write_with(tree, opts, extent::MAX_LEN, out)
}

/// [`write_ext4`] with extents of at most `max_extent` blocks, so tests
/// reach the extent index with small files.
fn write_with<W: Write + Seek>(tree: &Tree, opts: &Options, max_extent: u64, out: &mut W) -> Result<Summary, Error> {
    if opts.label.len() > 16 {
        return Err(Error::Label { label: opts.label.clone(), len: opts.label.len() });
    }
    let prep = plan::prepare(tree, opts)?;
    let (geo, layout) = sizing::choose(&prep, &opts.size, opts.journal, max_extent)?;
    image::write(&prep, &geo, &layout, opts, out)
}

#[cfg(test)]
mod tests;
