//! The image as a source of bytes, its superblock and group descriptors.

use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use crate::crc32c::crc32c;
use crate::error::ReadError;

/// Where the image's bytes come from.
pub(crate) enum Source<'a> {
    Bytes(&'a [u8]),
    File { file: std::fs::File, path: PathBuf, len: u64 },
}

impl Source<'_> {
    fn len(&self) -> u64 {
        match self {
            Source::Bytes(b) => b.len() as u64,
            Source::File { len, .. } => *len,
        }
    }

    fn read_at(&self, offset: u64, buf: &mut [u8], what: &dyn Fn() -> String) -> Result<(), ReadError> {
        let end = offset.checked_add(buf.len() as u64);
        if end.is_none_or(|end| end > self.len()) {
            return Err(ReadError::Truncated { what: what(), len: self.len() });
        }
        match self {
            Source::Bytes(b) => {
                buf.copy_from_slice(&b[offset as usize..offset as usize + buf.len()]);
                Ok(())
            }
            Source::File { file, path, .. } => {
                file.read_exact_at(buf, offset).map_err(|source| ReadError::Io { path: path.clone(), source })
            }
        }
    }
}

const MAGIC: u16 = 0xef53;
const INCOMPAT_FILETYPE: u32 = 0x2;
const INCOMPAT_64BIT: u32 = 0x80;
const RO_COMPAT_METADATA_CSUM: u32 = 0x400;
/// Incompatible features whose on-disk format this reader knows:
/// filetype, recover, extents, 64bit, mmp, flex_bg, ea_inode, csum_seed,
/// largedir, inline_data, casefold.
const INCOMPAT_KNOWN: u32 = 0x2 | 0x4 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x2000 | 0x4000 | 0x8000 | 0x20000;
const INCOMPAT_NAMES: [(u32, &str); 5] = [
    (0x1, "compression"),
    (0x8, "an external journal device"),
    (0x10, "meta_bg"),
    (0x1000, "dirdata"),
    (0x10000, "encryption"),
];

/// An open filesystem: geometry from the superblock and where each group's
/// inode table is.
pub(crate) struct Fs<'a> {
    src: Source<'a>,
    pub block_size: u64,
    pub blocks: u64,
    pub inodes: u32,
    inodes_per_group: u32,
    pub inode_size: usize,
    /// `filetype`: directory records carry a type byte and 8-bit name lengths.
    pub filetype: bool,
    inode_tables: Vec<u64>,
}

impl<'a> Fs<'a> {
    pub fn open(src: Source<'a>) -> Result<Self, ReadError> {
        let mut sb = vec![0u8; 1024];
        src.read_at(1024, &mut sb, &|| "the superblock (bytes 1024 to 2047)".to_owned())?;
        let magic = le16(&sb, 0x38);
        if magic != MAGIC {
            return Err(ReadError::Magic { found: magic });
        }
        let bad = |reason: String| ReadError::Corrupt { what: "the superblock".into(), reason };
        let (incompat, ro_compat) = (le32(&sb, 0x60), le32(&sb, 0x64));
        if ro_compat & RO_COMPAT_METADATA_CSUM != 0 && crc32c(!0, &sb[..0x3fc]) != le32(&sb, 0x3fc) {
            return Err(bad("its checksum does not match its contents".into()));
        }
        if let Some((_, name)) = INCOMPAT_NAMES.iter().find(|(bit, _)| incompat & bit != 0) {
            let hint =
                "mount the image, or copy its files out with debugfs `rdump`, and inspect the directory's tarball";
            return Err(ReadError::Unsupported { feature: (*name).to_owned(), hint });
        }
        if incompat & !INCOMPAT_KNOWN != 0 {
            let feature = format!("unknown incompatible features {:#x}", incompat & !INCOMPAT_KNOWN);
            return Err(ReadError::Unsupported { feature, hint: "check the image with `e2fsck -fn`" });
        }
        let log = le32(&sb, 0x18);
        if log > 6 {
            return Err(bad(format!("block size 2^(10+{log}) is larger than 64 KiB")));
        }
        let block_size = 1024u64 << log;
        let wide = incompat & INCOMPAT_64BIT != 0;
        let blocks = le32(&sb, 0x04) as u64 | if wide { (le32(&sb, 0x150) as u64) << 32 } else { 0 };
        let first_data_block = le32(&sb, 0x14) as u64;
        let (blocks_per_group, inodes_per_group) = (le32(&sb, 0x20) as u64, le32(&sb, 0x28));
        let inode_size = if le32(&sb, 0x4c) == 0 { 128 } else { le16(&sb, 0x58) as usize };
        let desc_size = if wide { le16(&sb, 0xfe) as u64 } else { 32 };
        let per_group_max = block_size * 8;
        if blocks_per_group == 0 || blocks_per_group > per_group_max {
            return Err(bad(format!("{blocks_per_group} blocks per group; expected 1 to {per_group_max}")));
        }
        if inodes_per_group == 0 || inodes_per_group as u64 > per_group_max {
            return Err(bad(format!("{inodes_per_group} inodes per group; expected 1 to {per_group_max}")));
        }
        if inode_size < 128 || !inode_size.is_power_of_two() || inode_size as u64 > block_size {
            return Err(bad(format!("inode size {inode_size}; expected a power of two from 128 to the block size")));
        }
        if !(32..=1024).contains(&desc_size) || !desc_size.is_power_of_two() || (wide && desc_size < 64) {
            return Err(bad(format!("group descriptor size {desc_size}; expected 32, or 64 to 1024 with 64bit")));
        }
        if first_data_block >= blocks {
            return Err(bad(format!("first data block {first_data_block} is past the last block {blocks}")));
        }
        let groups = (blocks - first_data_block).div_ceil(blocks_per_group);
        let gdt_at = (first_data_block + 1) * block_size;
        // Bounds the allocation below by the image's real size.
        if groups.saturating_mul(desc_size).saturating_add(gdt_at) > src.len() {
            return Err(ReadError::Truncated { what: format!("{groups} group descriptors"), len: src.len() });
        }
        let mut gdt = vec![0u8; (groups * desc_size) as usize];
        src.read_at(gdt_at, &mut gdt, &|| "the group descriptor table".to_owned())?;
        let inode_tables = gdt
            .chunks_exact(desc_size as usize)
            .map(|d| le32(d, 0x08) as u64 | if desc_size >= 64 { (le32(d, 0x28) as u64) << 32 } else { 0 })
            .collect();
        let inodes = le32(&sb, 0x00);
        if inodes as u64 > groups * inodes_per_group as u64 {
            return Err(bad(format!("{inodes} inodes do not fit in {groups} groups of {inodes_per_group}")));
        }
        Ok(Fs {
            src,
            block_size,
            blocks,
            inodes,
            inodes_per_group,
            inode_size,
            filetype: incompat & INCOMPAT_FILETYPE != 0,
            inode_tables,
        })
    }

    /// The image's length in bytes, which bounds what is read into memory.
    pub fn image_len(&self) -> u64 {
        self.src.len()
    }

    /// Checks that `count` blocks from `start` lie inside the filesystem.
    pub fn check_range(&self, start: u64, count: u64, what: &dyn Fn() -> String) -> Result<(), ReadError> {
        match start.checked_add(count) {
            Some(end) if end <= self.blocks && (start > 0 || count == 0) => Ok(()),
            _ => Err(ReadError::BlockRange { what: what(), block: start, blocks: self.blocks }),
        }
    }

    /// One whole block.
    pub fn block(&self, n: u64, what: &dyn Fn() -> String) -> Result<Vec<u8>, ReadError> {
        let mut buf = vec![0u8; self.block_size as usize];
        self.read_blocks(n, &mut buf, what)?;
        Ok(buf)
    }

    /// Fills `buf` from block `start` on (`buf` may end mid-block).
    pub fn read_blocks(&self, start: u64, buf: &mut [u8], what: &dyn Fn() -> String) -> Result<(), ReadError> {
        self.check_range(start, (buf.len() as u64).div_ceil(self.block_size), what)?;
        self.src.read_at(start * self.block_size, buf, what)
    }

    /// The raw bytes of inode `ino` (`inode_size` of them).
    pub fn raw_inode(&self, ino: u32) -> Result<Vec<u8>, ReadError> {
        let what = || format!("inode {ino}");
        if ino == 0 || ino > self.inodes {
            let reason = format!("inode number out of range 1 to {}", self.inodes);
            return Err(ReadError::Corrupt { what: what(), reason });
        }
        let (group, index) = ((ino - 1) / self.inodes_per_group, (ino - 1) % self.inodes_per_group);
        let table = self.inode_tables[group as usize];
        let offset = index as u64 * self.inode_size as u64;
        let table_blocks = (offset + self.inode_size as u64).div_ceil(self.block_size);
        self.check_range(table, table_blocks, &|| format!("the inode table of group {group}"))?;
        let mut raw = vec![0u8; self.inode_size];
        self.src.read_at(table * self.block_size + offset, &mut raw, &what)?;
        Ok(raw)
    }
}

pub(crate) fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

pub(crate) fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
