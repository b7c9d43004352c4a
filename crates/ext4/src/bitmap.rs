//! Block and inode bitmaps, one group at a time.
//!
//! Nothing here holds a bitmap for the whole filesystem: each group's is
//! rendered into a one-block buffer when it is checksummed and again when
//! it is written, so a sparse 16 TiB image costs no more memory than a
//! small one.

use crate::alloc::Run;
use crate::geometry::{Geometry, BLOCK, BLOCKS_PER_GROUP};

/// Bits in one bitmap block.
const BITS: u64 = BLOCK * 8;

pub(crate) struct Bitmaps<'l> {
    geo: &'l Geometry,
    /// Sorted, merged used blocks.
    used: &'l [Run],
    last_ino: u32,
}

impl<'l> Bitmaps<'l> {
    pub fn new(geo: &'l Geometry, used: &'l [Run], last_ino: u32) -> Self {
        Bitmaps { geo, used, last_ino }
    }

    /// Used blocks in each group.
    pub fn used_blocks(&self) -> Vec<u64> {
        let mut used = vec![0u64; self.geo.groups as usize];
        for run in self.used {
            let mut at = run.start;
            while at < run.end() {
                let g = at / BLOCKS_PER_GROUP;
                let upto = run.end().min((g + 1) * BLOCKS_PER_GROUP);
                used[g as usize] += upto - at;
                at = upto;
            }
        }
        used
    }

    /// Used inodes in `group`: every number up to the last one is in use.
    pub fn used_inodes(&self, group: u32) -> u32 {
        let per_group = self.geo.inodes_per_group;
        self.last_ino.saturating_sub(group * per_group).min(per_group)
    }

    /// Blocks past the end of a short last group count as used.
    pub fn block_bitmap(&self, group: u32, out: &mut [u8]) {
        out.fill(0);
        let start = self.geo.first_block(group);
        let end = start + BLOCKS_PER_GROUP;
        let first = self.used.partition_point(|r| r.end() <= start);
        for r in self.used[first..].iter().take_while(|r| r.start < end) {
            set_bits(out, r.start.max(start) - start, r.end().min(end) - start);
        }
        set_bits(out, self.geo.group_blocks(group), BITS);
    }

    /// Bits past the group's inodes are set too.
    pub fn inode_bitmap(&self, group: u32, out: &mut [u8]) {
        out.fill(0);
        set_bits(out, 0, self.used_inodes(group) as u64);
        set_bits(out, self.geo.inodes_per_group as u64, BITS);
    }
}

fn set_bits(bits: &mut [u8], from: u64, to: u64) {
    let (mut i, to) = (from as usize, to as usize);
    while i < to && i % 8 != 0 {
        bits[i / 8] |= 1 << (i % 8);
        i += 1;
    }
    let whole = to.saturating_sub(i) / 8;
    bits[i / 8..i / 8 + whole].fill(0xff);
    i += whole * 8;
    while i < to {
        bits[i / 8] |= 1 << (i % 8);
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_exact_ranges() {
        let mut bits = [0u8; 4];
        set_bits(&mut bits, 3, 21);
        assert_eq!(bits, [0b1111_1000, 0xff, 0b0001_1111, 0]);
        let mut bits = [0u8; 2];
        set_bits(&mut bits, 5, 5);
        assert_eq!(bits, [0, 0]);
    }

    #[test]
    fn renders_runs_of_one_group_and_padding() {
        let geo = Geometry::new(BLOCKS_PER_GROUP + 100, 0, false).unwrap();
        let used = [Run { start: 0, len: 10 }, Run { start: BLOCKS_PER_GROUP - 2, len: 5 }];
        let b = Bitmaps::new(&geo, &used, 20);
        assert_eq!(b.used_blocks(), [12, 3]);
        let mut out = vec![0u8; BLOCK as usize];
        b.block_bitmap(1, &mut out);
        assert_eq!(out[0], 0b0000_0111);
        assert_eq!((out[11], out[12]), (0, 0b1111_0000), "blocks 100.. are past the end");
        assert!(out[13..].iter().all(|&b| b == 0xff));
        b.inode_bitmap(0, &mut out);
        assert_eq!(&out[..3], &[0xff, 0xff, 0x0f]);
    }
}
