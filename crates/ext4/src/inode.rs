//! The 256-byte on-disk inode.
//!
//! Every inode carries 32 bytes of `i_extra_isize` fields (nanosecond and
//! epoch bits, creation time, the high half of the checksum); the
//! remaining 96 bytes hold in-inode extended attributes. Times are the
//! entry's mtime for atime, ctime, mtime and crtime alike, and the
//! generation is always 0, so nothing depends on when the image was made.

use crate::crc32c::{crc32c, inode_seed};
use crate::geometry::INODE_SIZE;
use crate::xattr::IBODY_OFFSET;

pub(crate) const EXTENTS_FL: u32 = 0x0008_0000;
const EXTRA_ISIZE: u16 = 32;

/// Field values of one inode.
#[derive(Debug)]
pub(crate) struct Inode<'a> {
    /// Full `st_mode`.
    pub mode: u16,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub time: i64,
    pub links: u16,
    /// Filesystem blocks charged to the inode: data, extent leaves and the
    /// attribute block.
    pub blocks: u64,
    pub flags: u32,
    pub i_block: [u8; 60],
    /// The attribute block, 0 for none.
    pub file_acl: u64,
    /// In-inode attributes from [`IBODY_OFFSET`] on, or empty.
    pub ibody: &'a [u8],
}

impl Default for Inode<'_> {
    fn default() -> Self {
        Inode {
            mode: 0,
            uid: 0,
            gid: 0,
            size: 0,
            time: 0,
            links: 0,
            blocks: 0,
            flags: 0,
            i_block: [0; 60],
            file_acl: 0,
            ibody: &[],
        }
    }
}

impl Inode<'_> {
    /// Writes the inode into its 256-byte slot, checksummed when `fs_seed`
    /// is given (`metadata_csum`).
    pub fn encode(&self, ino: u32, fs_seed: Option<u32>, out: &mut [u8]) {
        let out = &mut out[..INODE_SIZE];
        out.fill(0);
        let (time, extra) = split_time(self.time);
        let sectors = self.blocks * 8;
        put16(out, 0x00, self.mode);
        put16(out, 0x02, self.uid as u16);
        put32(out, 0x04, self.size as u32);
        for at in [0x08, 0x0c, 0x10] {
            put32(out, at, time); // atime, ctime, mtime
        }
        put16(out, 0x18, self.gid as u16);
        put16(out, 0x1a, self.links);
        put32(out, 0x1c, sectors as u32);
        put32(out, 0x20, self.flags);
        out[0x28..0x64].copy_from_slice(&self.i_block);
        put32(out, 0x68, self.file_acl as u32);
        put32(out, 0x6c, (self.size >> 32) as u32);
        put16(out, 0x74, (sectors >> 32) as u16);
        put16(out, 0x76, (self.file_acl >> 32) as u16);
        put16(out, 0x78, (self.uid >> 16) as u16);
        put16(out, 0x7a, (self.gid >> 16) as u16);
        put16(out, 0x80, EXTRA_ISIZE);
        for at in [0x84, 0x88, 0x8c, 0x94] {
            put32(out, at, extra); // ctime, mtime, atime, crtime extra
        }
        put32(out, 0x90, time); // crtime
        out[IBODY_OFFSET..IBODY_OFFSET + self.ibody.len()].copy_from_slice(self.ibody);
        if let Some(seed) = fs_seed {
            let sum = crc32c(inode_seed(seed, ino), out);
            put16(out, 0x7c, sum as u16);
            put16(out, 0x82, (sum >> 16) as u16);
        }
    }
}

/// Seconds as ext4 stores them: the low 32 bits, plus two epoch bits in
/// the `_extra` field that extend the signed 32-bit range up to 2446.
/// Times outside that range are clamped.
pub(crate) fn split_time(t: i64) -> (u32, u32) {
    let t = t.clamp(i32::MIN as i64, i32::MAX as i64 + (3 << 32));
    let epoch = ((t - (t as i32 as i64)) >> 32) as u32 & 3;
    (t as u32, epoch)
}

pub(crate) fn put16(out: &mut [u8], at: usize, v: u16) {
    out[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

pub(crate) fn put32(out: &mut [u8], at: usize, v: u32) {
    out[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::split_time;

    fn join(lo: u32, extra: u32) -> i64 {
        lo as i32 as i64 + ((extra as i64 & 3) << 32)
    }

    #[test]
    fn times_round_trip_across_epochs() {
        for t in [0, -1, i32::MIN as i64, 1_700_000_000, 1 << 31, 10_000_000_000, 15_032_385_535] {
            let (lo, extra) = split_time(t);
            assert_eq!(join(lo, extra), t, "{t}");
        }
        assert_eq!(join_pair(split_time(i64::MAX)), 15_032_385_535);
        assert_eq!(join_pair(split_time(i64::MIN)), i32::MIN as i64);
    }

    fn join_pair((lo, extra): (u32, u32)) -> i64 {
        join(lo, extra)
    }
}
