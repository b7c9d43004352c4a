//! Linear directories: `.`, `..`, then one record per name in tree order.
//!
//! Records never cross a block; the last record of each block stretches to
//! its end. With `metadata_csum` each block ends in a 12-byte tail record
//! holding the block's checksum. Linear blocks are what e2fsck and the
//! kernel read without an index; the kernel turns a directory into an
//! htree itself once it grows past one block at runtime.

use crate::crc32c::crc32c;
use crate::geometry::BLOCK_USIZE;
use crate::nodes::{DirEntry, FT_DIR};

const TAIL: usize = 12;
const DOTS: usize = 24;

/// A record's length: an 8-byte header and the name, padded to 4 bytes.
fn rec_len(name_len: usize) -> usize {
    (8 + name_len).next_multiple_of(4)
}

fn usable(csum: bool) -> usize {
    if csum {
        BLOCK_USIZE - TAIL
    } else {
        BLOCK_USIZE
    }
}

/// How many blocks [`render`] fills for `entries`.
pub(crate) fn block_count(entries: &[DirEntry<'_>], csum: bool) -> u64 {
    let usable = usable(csum);
    let (mut blocks, mut pos) = (1, DOTS);
    for e in entries {
        let len = rec_len(e.name.len());
        if pos + len > usable {
            blocks += 1;
            pos = 0;
        }
        pos += len;
    }
    blocks
}

/// The blocks of directory `ino` below `parent`, padded with empty blocks
/// to `min_blocks`. `csum` is the directory inode's checksum seed.
pub(crate) fn render(ino: u32, parent: u32, entries: &[DirEntry<'_>], min_blocks: u64, csum: Option<u32>) -> Vec<u8> {
    let usable = usable(csum.is_some());
    let blocks = block_count(entries, csum.is_some()).max(min_blocks);
    let mut out = vec![0u8; blocks as usize * BLOCK_USIZE];
    let mut chunks = out.chunks_exact_mut(BLOCK_USIZE);
    let mut block = chunks.next().expect("at least one block");
    record(block, 0, ino, 12, b".", FT_DIR);
    record(block, 12, parent, 12, b"..", FT_DIR);
    let (mut pos, mut last) = (DOTS, 12);
    for e in entries {
        let len = rec_len(e.name.len());
        if pos + len > usable {
            seal(block, last, usable, csum);
            block = chunks.next().expect("block_count counted this block");
            pos = 0;
        }
        record(block, pos, e.ino, len, e.name, e.file_type);
        last = pos;
        pos += len;
    }
    seal(block, last, usable, csum);
    for empty in chunks {
        // One unused record spanning the block.
        record(empty, 0, 0, usable, b"", 0);
        seal(empty, 0, usable, csum);
    }
    out
}

fn record(block: &mut [u8], at: usize, ino: u32, len: usize, name: &[u8], file_type: u8) {
    block[at..at + 4].copy_from_slice(&ino.to_le_bytes());
    block[at + 4..at + 6].copy_from_slice(&(len as u16).to_le_bytes());
    block[at + 6] = name.len() as u8;
    block[at + 7] = file_type;
    block[at + 8..at + 8 + name.len()].copy_from_slice(name);
}

/// Stretches the last record to the end and writes the checksum tail.
fn seal(block: &mut [u8], last: usize, usable: usize, csum: Option<u32>) {
    block[last + 4..last + 6].copy_from_slice(&((usable - last) as u16).to_le_bytes());
    if let Some(seed) = csum {
        record(block, usable, 0, TAIL, b"", 0xde);
        let sum = crc32c(seed, &block[..usable]);
        block[usable + 8..usable + 12].copy_from_slice(&sum.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(names: &[Vec<u8>]) -> Vec<DirEntry<'_>> {
        names.iter().enumerate().map(|(i, n)| DirEntry { name: n, ino: 12 + i as u32, file_type: 1 }).collect()
    }

    #[test]
    fn records_never_cross_blocks() {
        // 255-byte names take 264-byte records: 15 fit in a 4084-byte block
        // after the dots, 15 more per block after that.
        let names: Vec<Vec<u8>> = (0..40).map(|i| format!("{i:0>255}").into_bytes()).collect();
        let list = entries(&names);
        assert_eq!(block_count(&list, true), 3);
        let bytes = render(2, 2, &list, 1, Some(7));
        assert_eq!(bytes.len(), 3 * BLOCK_USIZE);
        for block in bytes.chunks(BLOCK_USIZE) {
            let mut at = 0;
            while at < BLOCK_USIZE {
                let len = u16::from_le_bytes([block[at + 4], block[at + 5]]) as usize;
                assert!(len >= 12 && at + len <= BLOCK_USIZE);
                at += len;
            }
            assert_eq!(at, BLOCK_USIZE);
            assert_eq!(block[BLOCK_USIZE - 5], 0xde, "checksum tail");
        }
    }

    #[test]
    fn pads_to_the_minimum_with_empty_blocks() {
        let bytes = render(11, 2, &[], 4, None);
        assert_eq!(bytes.len(), 4 * BLOCK_USIZE);
        assert_eq!(&bytes[BLOCK_USIZE..BLOCK_USIZE + 8], &[0, 0, 0, 0, 0, 0x10, 0, 0]);
    }
}
