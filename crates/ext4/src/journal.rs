//! The internal journal (inode 8): a jbd2 version 2 superblock in its first
//! block and zeros after it, the state mke2fs leaves: clean, empty, no
//! transaction to replay, sequence 1.

use crate::geometry::BLOCK;

const MAGIC: u32 = 0xc03b_3998;
const SUPERBLOCK_V2: u32 = 4;

/// The journal superblock (big-endian, as jbd2 is) for a journal of
/// `blocks` blocks on the filesystem `uuid`.
pub(crate) fn superblock(blocks: u64, uuid: &[u8; 16]) -> Vec<u8> {
    let mut sb = vec![0u8; 1024];
    let fields: [(usize, u32); 8] = [
        (0x00, MAGIC),
        (0x04, SUPERBLOCK_V2),
        (0x0c, BLOCK as u32),  // s_blocksize
        (0x10, blocks as u32), // s_maxlen
        (0x14, 1),             // s_first: the first log block
        (0x18, 1),             // s_sequence
        (0x1c, 0),             // s_start: 0 means clean
        (0x40, 1),             // s_nr_users
    ];
    for (at, v) in fields {
        sb[at..at + 4].copy_from_slice(&v.to_be_bytes());
    }
    sb[0x30..0x40].copy_from_slice(uuid);
    sb
}
