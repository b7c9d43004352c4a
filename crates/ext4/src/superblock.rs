//! The superblock (primary and backups) and the group descriptor table.
//!
//! Features: `has_journal` (optional), `ext_attr`, `dir_index`; `filetype`,
//! `extent`, `64bit`, `flex_bg`; `sparse_super`, `large_file`, `huge_file`,
//! `dir_nlink`, `extra_isize` and `metadata_csum` (optional). No
//! `resize_inode` and so no reserved descriptor blocks: growing the
//! filesystem online past its descriptor table makes the kernel switch it
//! to `meta_bg` (Linux 3.7 on), offline `resize2fs` moves what it needs.
//! Hash flags are fixed (signed), not taken from the host's `char`.

use crate::crc32c::crc32c;
use crate::geometry::{Geometry, BLOCK, BLOCK_USIZE, DESC_SIZE, INODE_SIZE};
use crate::inode::{put16, put32, split_time};
use crate::nodes::{FIRST_FREE_INO, JOURNAL_INO};
use crate::Options;

const COMPAT_HAS_JOURNAL: u32 = 0x4;
const COMPAT_EXT_ATTR: u32 = 0x8;
const COMPAT_DIR_INDEX: u32 = 0x20;
const INCOMPAT_FILETYPE: u32 = 0x2;
const INCOMPAT_EXTENTS: u32 = 0x40;
const INCOMPAT_64BIT: u32 = 0x80;
const INCOMPAT_FLEX_BG: u32 = 0x200;
const RO_COMPAT_SPARSE_SUPER: u32 = 0x1;
const RO_COMPAT_LARGE_FILE: u32 = 0x2;
const RO_COMPAT_HUGE_FILE: u32 = 0x8;
const RO_COMPAT_DIR_NLINK: u32 = 0x20;
const RO_COMPAT_EXTRA_ISIZE: u32 = 0x40;
const RO_COMPAT_METADATA_CSUM: u32 = 0x400;
const BG_INODE_UNINIT: u16 = 0x1;
const BG_BLOCK_UNINIT: u16 = 0x2;
/// `EXT4_BG_INODE_ZEROED`: the inode table needs no lazy zeroing.
const BG_INODE_ZEROED: u16 = 0x4;
/// mke2fs's default flex group size, 16.
const LOG_GROUPS_PER_FLEX: u8 = 4;

/// Values that vary between images, beyond the geometry and options.
pub(crate) struct Counts {
    pub free_blocks: u64,
    pub free_inodes: u32,
    /// The journal inode's `i_block` and size, backed up in the superblock.
    pub journal: Option<([u8; 60], u64)>,
}

/// The 1024-byte superblock as stored in `group` (`s_block_group_nr`
/// differs between copies, and so does the checksum).
pub(crate) fn superblock(geo: &Geometry, opts: &Options, counts: &Counts, group: u32) -> Vec<u8> {
    let mut sb = vec![0u8; 1024];
    let s = &mut sb[..];
    let (time, _) = split_time(opts.timestamp.max(0));
    let time_hi = (opts.timestamp.max(0) >> 32) as u8;
    let csum = opts.metadata_csum;
    put32(s, 0x00, geo.inodes());
    put32(s, 0x04, geo.blocks as u32);
    put32(s, 0x0c, counts.free_blocks as u32);
    put32(s, 0x10, counts.free_inodes);
    put32(s, 0x18, 2); // log2(block size) - 10
    put32(s, 0x1c, 2); // cluster size: one block
    put32(s, 0x20, BLOCK as u32 * 8);
    put32(s, 0x24, BLOCK as u32 * 8);
    put32(s, 0x28, geo.inodes_per_group);
    put32(s, 0x30, time); // wtime
    put16(s, 0x36, 0xffff); // no mount-count checks
    put16(s, 0x38, 0xef53);
    put16(s, 0x3a, 1); // clean
    put16(s, 0x3c, 1); // on errors: continue
    put32(s, 0x40, time); // lastcheck
    put32(s, 0x4c, 1); // dynamic revision
    put32(s, 0x54, FIRST_FREE_INO - 1);
    put16(s, 0x58, INODE_SIZE as u16);
    put16(s, 0x5a, group as u16);
    let journal = if counts.journal.is_some() { COMPAT_HAS_JOURNAL } else { 0 };
    put32(s, 0x5c, COMPAT_EXT_ATTR | COMPAT_DIR_INDEX | journal);
    put32(s, 0x60, INCOMPAT_FILETYPE | INCOMPAT_EXTENTS | INCOMPAT_64BIT | INCOMPAT_FLEX_BG);
    let ro = RO_COMPAT_SPARSE_SUPER
        | RO_COMPAT_LARGE_FILE
        | RO_COMPAT_HUGE_FILE
        | RO_COMPAT_DIR_NLINK
        | RO_COMPAT_EXTRA_ISIZE;
    put32(s, 0x64, ro | if csum { RO_COMPAT_METADATA_CSUM } else { 0 });
    s[0x68..0x78].copy_from_slice(&opts.uuid);
    s[0x78..0x78 + opts.label.len()].copy_from_slice(opts.label.as_bytes());
    s[0xec..0xfc].copy_from_slice(&opts.hash_seed);
    s[0xfc] = 1; // half_md4, as mke2fs
    put16(s, 0xfe, DESC_SIZE as u16);
    put32(s, 0x100, 0x0004 | 0x0008); // user_xattr, acl
    put32(s, 0x108, time); // mkfs_time
    if let Some((i_block, size)) = &counts.journal {
        put32(s, 0xe0, JOURNAL_INO);
        s[0xfd] = 1; // EXT3_JNL_BACKUP_BLOCKS
        s[0x10c..0x148].copy_from_slice(i_block);
        put32(s, 0x148, (size >> 32) as u32);
        put32(s, 0x14c, *size as u32);
    }
    put32(s, 0x150, (geo.blocks >> 32) as u32);
    put32(s, 0x158, (counts.free_blocks >> 32) as u32);
    put16(s, 0x15c, 32); // min_extra_isize
    put16(s, 0x15e, 32); // want_extra_isize
    put32(s, 0x160, 0x1); // signed directory hash
    s[0x174] = LOG_GROUPS_PER_FLEX;
    s[0x175] = csum as u8; // 1: crc32c
    s[0x274] = time_hi; // wtime_hi
    s[0x276] = time_hi; // mkfs_time_hi
    s[0x277] = time_hi; // lastcheck_hi
    if csum {
        let sum = crc32c(!0, &s[..0x3fc]);
        put32(s, 0x3fc, sum);
    }
    sb
}

/// One group's descriptor fields.
#[derive(Clone, Debug, Default)]
pub(crate) struct Group {
    pub block_bitmap: u64,
    pub inode_bitmap: u64,
    pub inode_table: u64,
    pub free_blocks: u32,
    pub free_inodes: u32,
    pub used_dirs: u32,
    pub block_bitmap_csum: u32,
    pub inode_bitmap_csum: u32,
    /// `EXT4_BG_BLOCK_UNINIT`: nothing but a superblock backup in use.
    pub block_uninit: bool,
    /// `EXT4_BG_INODE_UNINIT`: no inode in use.
    pub inode_uninit: bool,
}

/// The descriptor table, padded to whole blocks. With `metadata_csum`
/// (`fs_seed`) each descriptor is checksummed and says how much of its
/// inode table was never used, which speeds up e2fsck and mounting.
pub(crate) fn descriptors(groups: &[Group], geo: &Geometry, fs_seed: Option<u32>) -> Vec<u8> {
    let mut table = vec![0u8; geo.gdt_blocks as usize * BLOCK_USIZE];
    for (i, (g, d)) in groups.iter().zip(table.chunks_exact_mut(DESC_SIZE)).enumerate() {
        let split = |v: u64| (v as u32, (v >> 32) as u32);
        for (at, v) in [(0x00, g.block_bitmap), (0x04, g.inode_bitmap), (0x08, g.inode_table)] {
            let (lo, hi) = split(v);
            put32(d, at, lo);
            put32(d, at + 0x20, hi);
        }
        for (at, v) in [(0x0c, g.free_blocks), (0x0e, g.free_inodes), (0x10, g.used_dirs)] {
            put16(d, at, v as u16);
            put16(d, at + 0x20, (v >> 16) as u16);
        }
        if let Some(seed) = fs_seed {
            let flags = BG_INODE_ZEROED
                | if g.inode_uninit { BG_INODE_UNINIT } else { 0 }
                | if g.block_uninit { BG_BLOCK_UNINIT } else { 0 };
            put16(d, 0x12, flags);
            for (at, v) in [(0x18, g.block_bitmap_csum), (0x1a, g.inode_bitmap_csum)] {
                put16(d, at, v as u16);
                put16(d, at + 0x20, (v >> 16) as u16);
            }
            // Used inodes come first in every group, so the unused tail of
            // the table is exactly the free inodes.
            put16(d, 0x1c, g.free_inodes as u16);
            put16(d, 0x32, (g.free_inodes >> 16) as u16);
            let sum = crc32c(crc32c(seed, &(i as u32).to_le_bytes()), d);
            put16(d, 0x1e, sum as u16);
        }
    }
    table
}
