//! Extent trees: where a file's blocks are.
//!
//! Up to four extents fit in the inode itself (depth 0). Beyond that the
//! inode holds up to four index entries, each pointing to a leaf block of up
//! to 340 extents (depth 1): 1360 extents of at most 128 MiB each, which
//! contiguous allocation never comes near. With `metadata_csum` every leaf
//! block ends in a checksum seeded by its inode.

use crate::alloc::Run;
use crate::crc32c::crc32c;
use crate::geometry::BLOCK_USIZE;

/// The longest initialized extent: 2^15 blocks, 128 MiB.
pub(crate) const MAX_LEN: u64 = 32768;
const IN_INODE: usize = 4;
const PER_LEAF: usize = (BLOCK_USIZE - 12) / 12;
const MAGIC: u16 = 0xf30a;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Extent {
    pub logical: u32,
    pub start: u64,
    pub len: u16,
}

/// `runs` (in file order) cut into extents of at most `max_len` blocks.
pub(crate) fn extents(runs: &[Run], max_len: u64) -> Vec<Extent> {
    let mut out = Vec::new();
    let mut logical = 0u64;
    for run in runs {
        let mut done = 0;
        while done < run.len {
            let len = (run.len - done).min(max_len);
            out.push(Extent { logical: logical as u32, start: run.start + done, len: len as u16 });
            logical += len;
            done += len;
        }
    }
    out
}

/// Leaf blocks a tree of `n` extents needs: none while they fit in the
/// inode, `None` when one level of index is not enough.
pub(crate) fn leaf_count(n: usize) -> Option<usize> {
    match n {
        0..=IN_INODE => Some(0),
        _ => Some(n.div_ceil(PER_LEAF)).filter(|&leaves| leaves <= IN_INODE),
    }
}

/// The 60-byte `i_block` root: the extents themselves, or index entries
/// for `leaves` (as many as [`leaf_count`] asked for).
pub(crate) fn root(extents: &[Extent], leaves: &[u64]) -> [u8; 60] {
    let mut out = [0u8; 60];
    if leaves.is_empty() {
        header(&mut out, extents.len(), IN_INODE, 0);
        for (i, e) in extents.iter().enumerate() {
            leaf_entry(&mut out[12 + 12 * i..24 + 12 * i], e);
        }
    } else {
        header(&mut out, leaves.len(), IN_INODE, 1);
        for (i, (chunk, &block)) in extents.chunks(PER_LEAF).zip(leaves).enumerate() {
            let e = &mut out[12 + 12 * i..24 + 12 * i];
            e[0..4].copy_from_slice(&chunk[0].logical.to_le_bytes());
            e[4..8].copy_from_slice(&(block as u32).to_le_bytes());
            e[8..10].copy_from_slice(&((block >> 32) as u16).to_le_bytes());
        }
    }
    out
}

/// The leaf blocks, in the order of `leaves`. `csum` is the inode's
/// checksum seed.
pub(crate) fn leaf_blocks(extents: &[Extent], leaves: &[u64], csum: Option<u32>) -> Vec<Vec<u8>> {
    extents
        .chunks(PER_LEAF)
        .take(leaves.len())
        .map(|chunk| {
            let mut block = vec![0u8; BLOCK_USIZE];
            header(&mut block, chunk.len(), PER_LEAF, 0);
            for (i, e) in chunk.iter().enumerate() {
                leaf_entry(&mut block[12 + 12 * i..24 + 12 * i], e);
            }
            if let Some(seed) = csum {
                let tail = 12 + 12 * PER_LEAF;
                let sum = crc32c(seed, &block[..tail]);
                block[tail..tail + 4].copy_from_slice(&sum.to_le_bytes());
            }
            block
        })
        .collect()
}

fn header(out: &mut [u8], entries: usize, max: usize, depth: u16) {
    out[0..2].copy_from_slice(&MAGIC.to_le_bytes());
    out[2..4].copy_from_slice(&(entries as u16).to_le_bytes());
    out[4..6].copy_from_slice(&(max as u16).to_le_bytes());
    out[6..8].copy_from_slice(&depth.to_le_bytes());
}

fn leaf_entry(out: &mut [u8], e: &Extent) {
    out[0..4].copy_from_slice(&e.logical.to_le_bytes());
    out[4..6].copy_from_slice(&e.len.to_le_bytes());
    out[6..8].copy_from_slice(&((e.start >> 32) as u16).to_le_bytes());
    out[8..12].copy_from_slice(&(e.start as u32).to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_cut_at_the_maximum_length() {
        let runs = [Run { start: 100, len: 70000 }, Run { start: 200_000, len: 5 }];
        let e = extents(&runs, MAX_LEN);
        assert_eq!(e.len(), 4);
        assert_eq!(e[2], Extent { logical: 65536, start: 65636, len: 4464 });
        assert_eq!(e[3], Extent { logical: 70000, start: 200_000, len: 5 });
    }

    #[test]
    fn depth_one_holds_four_leaves() {
        assert_eq!(leaf_count(4), Some(0));
        assert_eq!(leaf_count(5), Some(1));
        assert_eq!(leaf_count(340), Some(1));
        assert_eq!(leaf_count(341), Some(2));
        assert_eq!(leaf_count(1360), Some(4));
        assert_eq!(leaf_count(1361), None);
    }
}
