//! The fixed shape of the filesystem: block and group counts, inodes per
//! group, and the superblock backups that sit at fixed places.

/// Bytes per block. 4 KiB everywhere: the page size, and what mke2fs picks
/// for anything but floppies.
pub(crate) const BLOCK: u64 = 4096;
pub(crate) const BLOCK_USIZE: usize = BLOCK as usize;
/// One block of bitmap covers a group.
pub(crate) const BLOCKS_PER_GROUP: u64 = BLOCK * 8;
pub(crate) const INODE_SIZE: usize = 256;
pub(crate) const INODES_PER_BLOCK: u32 = (BLOCK as usize / INODE_SIZE) as u32;
/// Group descriptors are 64 bytes with the `64bit` feature.
pub(crate) const DESC_SIZE: usize = 64;
/// mke2fs's default `inode_ratio`.
const BYTES_PER_INODE: u64 = 16384;
/// 16 TiB: block numbers stay within 32 bits, inode counts within `u32`.
pub(crate) const MAX_BLOCKS: u64 = 1 << 32;

/// Block and inode counts derived from a size, plus what follows from them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub blocks: u64,
    pub groups: u32,
    pub inodes_per_group: u32,
    /// Inode table blocks per group.
    pub itable_blocks: u64,
    /// Group descriptor table blocks, in group 0 and after every backup.
    pub gdt_blocks: u64,
    /// 0 without a journal.
    pub journal_blocks: u64,
}

impl Geometry {
    /// The shape of a filesystem of (at most) `blocks` blocks with room for
    /// at least `min_inodes` inodes, or `None` if that many do not fit.
    ///
    /// Like mke2fs, a last group too short to hold its own superblock
    /// backup is dropped, so `blocks` may come out smaller.
    pub fn new(blocks: u64, min_inodes: u64, journal: bool) -> Option<Geometry> {
        let mut blocks = blocks.min(MAX_BLOCKS);
        let mut groups = blocks.div_ceil(BLOCKS_PER_GROUP);
        if groups > 1 {
            let last = groups - 1;
            let rem = blocks - last * BLOCKS_PER_GROUP;
            if has_backup(last as u32) && rem < 2 + gdt_blocks(groups) {
                blocks = last * BLOCKS_PER_GROUP;
                groups = last;
            }
        }
        if groups == 0 {
            return None;
        }
        // Capped so the inode count stays a `u32`.
        let max_per_group = ((u32::MAX as u64 / groups).min(BLOCKS_PER_GROUP) / 16) * 16;
        let wanted = (blocks * BLOCK / BYTES_PER_INODE).max(min_inodes).max(16);
        let per_group = wanted.div_ceil(groups).next_multiple_of(INODES_PER_BLOCK as u64).min(max_per_group);
        if per_group * groups < min_inodes {
            return None;
        }
        Some(Geometry {
            blocks,
            groups: groups as u32,
            inodes_per_group: per_group as u32,
            itable_blocks: per_group / INODES_PER_BLOCK as u64,
            gdt_blocks: gdt_blocks(groups),
            journal_blocks: if journal { journal_blocks(blocks) } else { 0 },
        })
    }

    pub fn inodes(&self) -> u32 {
        self.inodes_per_group * self.groups
    }

    pub fn first_block(&self, group: u32) -> u64 {
        group as u64 * BLOCKS_PER_GROUP
    }

    /// Blocks in `group`; only the last one may be short.
    pub fn group_blocks(&self, group: u32) -> u64 {
        (self.blocks - self.first_block(group)).min(BLOCKS_PER_GROUP)
    }

    /// Blocks a superblock copy and the descriptor table take at the start
    /// of `group` (0 for groups without a backup).
    pub fn backup_blocks(&self, group: u32) -> u64 {
        if has_backup(group) {
            1 + self.gdt_blocks
        } else {
            0
        }
    }
}

fn gdt_blocks(groups: u64) -> u64 {
    (groups * DESC_SIZE as u64).div_ceil(BLOCK)
}

/// `sparse_super`: copies of the superblock live in groups 0, 1 and the
/// powers of 3, 5 and 7.
pub(crate) fn has_backup(group: u32) -> bool {
    fn power_of(mut n: u32, base: u32) -> bool {
        while n.is_multiple_of(base) {
            n /= base;
        }
        n == 1
    }
    group <= 1 || power_of(group, 3) || power_of(group, 5) || power_of(group, 7)
}

/// The journal size mke2fs picks for a filesystem of `blocks` 4 KiB blocks
/// (`ext2fs_default_journal_size`): 4 MiB up to 128 MiB, growing to 1 GiB
/// from 128 GiB on.
pub(crate) fn journal_blocks(blocks: u64) -> u64 {
    const TABLE: [(u64, u64); 8] = [
        (32768, 1024),
        (256 * 1024, 4096),
        (512 * 1024, 8192),
        (4096 * 1024, 16384),
        (8192 * 1024, 32768),
        (16384 * 1024, 65536),
        (32768 * 1024, 131072),
        (u64::MAX, 262144),
    ];
    TABLE.iter().find(|(limit, _)| blocks < *limit).map_or(262144, |(_, size)| *size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backups_follow_sparse_super() {
        let with: Vec<u32> = (0..50).filter(|g| has_backup(*g)).collect();
        assert_eq!(with, [0, 1, 3, 5, 7, 9, 25, 27, 49]);
    }

    #[test]
    fn inodes_fill_whole_table_blocks() {
        let g = Geometry::new(16384, 0, false).unwrap();
        assert_eq!((g.groups, g.inodes_per_group, g.itable_blocks), (1, 4096, 256));
        let g = Geometry::new(70000, 90_000, true).unwrap();
        assert_eq!(g.groups, 3);
        assert!(g.inodes() >= 90_000 && g.inodes_per_group.is_multiple_of(16));
        assert_eq!(g.journal_blocks, 4096);
        assert!(Geometry::new(70000, 100_000, false).is_none(), "3 groups hold 98304 inodes");
    }

    #[test]
    fn a_last_group_too_short_for_its_backup_is_dropped() {
        let g = Geometry::new(BLOCKS_PER_GROUP + 2, 0, false).unwrap();
        assert_eq!((g.blocks, g.groups), (BLOCKS_PER_GROUP, 1));
        let g = Geometry::new(2 * BLOCKS_PER_GROUP + 1, 0, false).unwrap();
        assert_eq!(g.groups, 3, "group 2 has no backup, one block is fine");
    }
}
