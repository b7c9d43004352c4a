//! Inodes and where their bytes are: extent trees of any depth, classic
//! block maps, inline data.

use std::collections::HashSet;

use super::disk::{le16, le32, Fs};
use crate::error::ReadError;

const EXTENTS_FL: u32 = 0x0008_0000;
pub(crate) const INLINE_DATA_FL: u32 = 0x1000_0000;
const EXTENT_MAGIC: u16 = 0xf30a;
/// The deepest extent tree the kernel builds.
const MAX_DEPTH: u16 = 5;
/// An extent longer than this is uninitialized (reads as zeros).
const INIT_MAX_LEN: u64 = 32768;

pub(crate) const S_IFMT: u16 = 0o170000;
pub(crate) const S_IFDIR: u16 = 0o040000;
pub(crate) const S_IFLNK: u16 = 0o120000;

/// The fields of one inode that a tree entry needs.
#[derive(Debug)]
pub(crate) struct Inode {
    pub ino: u32,
    /// Full `st_mode`.
    pub mode: u16,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: i64,
    pub flags: u32,
    pub i_block: [u8; 60],
    /// The attribute block, 0 for none.
    pub file_acl: u64,
    /// The in-inode attribute area after the extra fields (may be empty).
    pub ibody: Vec<u8>,
}

impl Inode {
    pub fn read(fs: &Fs<'_>, ino: u32) -> Result<Inode, ReadError> {
        let raw = fs.raw_inode(ino)?;
        let mut i_block = [0u8; 60];
        i_block.copy_from_slice(&raw[0x28..0x64]);
        let lo_time = le32(&raw, 0x10) as i32 as i64;
        let (mut mtime, mut ibody) = (lo_time, Vec::new());
        if raw.len() > 128 {
            let extra = le16(&raw, 0x80) as usize;
            if !extra.is_multiple_of(4) || 128 + extra > raw.len() {
                let reason = format!("extra inode size {extra} does not fit a {}-byte inode", raw.len());
                return Err(ReadError::Corrupt { what: format!("inode {ino}"), reason });
            }
            if extra >= 12 {
                mtime = lo_time + ((le32(&raw, 0x88) as i64 & 3) << 32);
            }
            ibody = raw[128 + extra..].to_vec();
        }
        Ok(Inode {
            ino,
            mode: le16(&raw, 0x00),
            uid: le16(&raw, 0x02) as u32 | (le16(&raw, 0x78) as u32) << 16,
            gid: le16(&raw, 0x18) as u32 | (le16(&raw, 0x7a) as u32) << 16,
            size: le32(&raw, 0x04) as u64 | (le32(&raw, 0x6c) as u64) << 32,
            mtime,
            flags: le32(&raw, 0x20),
            i_block,
            file_acl: le32(&raw, 0x68) as u64 | (le16(&raw, 0x76) as u64) << 32,
            ibody,
        })
    }

    pub fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }

    /// A symlink whose target sits in `i_block` itself.
    pub fn is_fast_symlink(&self) -> bool {
        self.mode & S_IFMT == S_IFLNK && self.size < 60 && self.flags & INLINE_DATA_FL == 0
    }
}

/// What the reader may still do: blocks of extent trees and block maps are
/// visited once each (a block seen twice means a cycle or cross-linked
/// metadata), and the content held in memory has an upper bound.
pub(crate) struct Budget {
    seen: HashSet<u64>,
    content: u64,
    limit: u64,
    fs_bytes: u64,
}

impl Budget {
    pub fn new(fs: &Fs<'_>) -> Budget {
        let fs_bytes = fs.image_len();
        Budget { seen: HashSet::new(), content: 0, limit: fs_bytes.saturating_mul(2).max(64 << 20), fs_bytes }
    }

    fn visit(&mut self, block: u64, what: &dyn Fn() -> String) -> Result<(), ReadError> {
        if !self.seen.insert(block) {
            let reason = format!("mapping block {block} is used more than once");
            return Err(ReadError::Corrupt { what: what(), reason });
        }
        Ok(())
    }

    pub fn take(&mut self, bytes: u64) -> Result<(), ReadError> {
        self.content = self.content.saturating_add(bytes);
        if self.content > self.limit {
            return Err(ReadError::TooLarge { claimed: self.content, fs_bytes: self.fs_bytes });
        }
        Ok(())
    }
}

/// The inode's bytes: `size` of them, holes as zeros. `inline_tail` is the
/// `system.data` attribute of an inline-data inode.
pub(crate) fn content(
    fs: &Fs<'_>,
    inode: &Inode,
    inline_tail: &[u8],
    budget: &mut Budget,
) -> Result<Vec<u8>, ReadError> {
    let what = || format!("inode {}", inode.ino);
    budget.take(inode.size)?;
    if inode.flags & INLINE_DATA_FL != 0 {
        let mut data = inode.i_block.to_vec();
        data.extend_from_slice(inline_tail);
        if (data.len() as u64) < inode.size {
            let reason = format!("{} bytes of inline data for a size of {}", data.len(), inode.size);
            return Err(ReadError::Corrupt { what: what(), reason });
        }
        data.truncate(inode.size as usize);
        return Ok(data);
    }
    let bs = fs.block_size;
    let mut data = vec![0u8; inode.size as usize];
    let nblocks = inode.size.div_ceil(bs);
    let mut place = |logical: u64, start: u64, len: u64| -> Result<(), ReadError> {
        fs.check_range(start, len, &what)?;
        if logical >= nblocks {
            return Ok(()); // preallocated past the end
        }
        let len = len.min(nblocks - logical);
        let (from, to) = ((logical * bs) as usize, ((logical + len) * bs).min(inode.size) as usize);
        fs.read_blocks(start, &mut data[from..to], &what)
    };
    if inode.flags & EXTENTS_FL != 0 {
        extent_node(fs, &inode.i_block, None, &mut place, budget, &what)?;
    } else {
        block_map(fs, &inode.i_block, nblocks, &mut place, budget, &what)?;
    }
    Ok(data)
}

type Place<'p> = dyn FnMut(u64, u64, u64) -> Result<(), ReadError> + 'p;

/// One node of an extent tree: its leaves go to `place`, its index
/// entries are followed, each level exactly one shallower.
fn extent_node(
    fs: &Fs<'_>,
    node: &[u8],
    depth: Option<u16>,
    place: &mut Place<'_>,
    budget: &mut Budget,
    what: &dyn Fn() -> String,
) -> Result<(), ReadError> {
    let bad = |reason: String| ReadError::Corrupt { what: what(), reason };
    if le16(node, 0) != EXTENT_MAGIC {
        return Err(bad(format!("extent header magic {:#06x}, expected 0xf30a", le16(node, 0))));
    }
    let (entries, max, d) = (le16(node, 2) as usize, le16(node, 4) as usize, le16(node, 6));
    if d > MAX_DEPTH || depth.is_some_and(|want| want != d) {
        return Err(bad(format!("extent tree node of depth {d} where {depth:?} was expected")));
    }
    if entries > max || 12 + 12 * entries > node.len() {
        return Err(bad(format!("extent node claims {entries} entries (at most {max}) in {} bytes", node.len())));
    }
    for e in node[12..12 + 12 * entries].chunks_exact(12) {
        if d == 0 {
            let (logical, raw_len) = (le32(e, 0) as u64, le16(e, 4) as u64);
            let start = (le16(e, 6) as u64) << 32 | le32(e, 8) as u64;
            // Uninitialized extents read as zeros, which `data` already is.
            if raw_len <= INIT_MAX_LEN && raw_len > 0 {
                place(logical, start, raw_len)?;
            }
        } else {
            let leaf = le32(e, 4) as u64 | (le16(e, 8) as u64) << 32;
            budget.visit(leaf, what)?;
            let block = fs.block(leaf, what)?;
            extent_node(fs, &block, Some(d - 1), place, budget, what)?;
        }
    }
    Ok(())
}

/// ext2/ext3 block maps: 12 direct pointers, then single, double and
/// triple indirect blocks. Contiguous pointers are read as one run.
fn block_map(
    fs: &Fs<'_>,
    i_block: &[u8; 60],
    nblocks: u64,
    place: &mut Place<'_>,
    budget: &mut Budget,
    what: &dyn Fn() -> String,
) -> Result<(), ReadError> {
    let mut runs = Runs { run: None, place };
    let ptr = |i: usize| le32(i_block, 4 * i) as u64;
    let mut logical = 0;
    for i in 0..12 {
        if logical < nblocks && ptr(i) != 0 {
            runs.push(logical, ptr(i))?;
        }
        logical += 1;
    }
    for (level, i) in [(1, 12), (2, 13), (3, 14)] {
        indirect(fs, ptr(i), level, &mut logical, nblocks, &mut runs, budget, what)?;
    }
    runs.flush()
}

#[allow(clippy::too_many_arguments)]
fn indirect(
    fs: &Fs<'_>,
    block: u64,
    level: u32,
    logical: &mut u64,
    nblocks: u64,
    runs: &mut Runs<'_, '_>,
    budget: &mut Budget,
    what: &dyn Fn() -> String,
) -> Result<(), ReadError> {
    let per = fs.block_size / 4;
    if *logical >= nblocks {
        return Ok(());
    }
    if block == 0 {
        *logical = logical.saturating_add(per.saturating_pow(level));
        return Ok(());
    }
    budget.visit(block, what)?;
    let data = fs.block(block, what)?;
    for p in data.chunks_exact(4).map(|p| le32(p, 0) as u64) {
        if *logical >= nblocks {
            break;
        }
        if level == 1 {
            if p != 0 {
                runs.push(*logical, p)?;
            }
            *logical += 1;
        } else {
            indirect(fs, p, level - 1, logical, nblocks, runs, budget, what)?;
        }
    }
    Ok(())
}

/// Coalesces single-block mappings into runs before placing them.
struct Runs<'p, 'q> {
    /// (logical, start, len)
    run: Option<(u64, u64, u64)>,
    place: &'p mut Place<'q>,
}

impl Runs<'_, '_> {
    fn push(&mut self, logical: u64, start: u64) -> Result<(), ReadError> {
        match &mut self.run {
            Some((l, s, len)) if *l + *len == logical && *s + *len == start => *len += 1,
            _ => {
                self.flush()?;
                self.run = Some((logical, start, 1));
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ReadError> {
        match self.run.take() {
            Some((l, s, len)) => (self.place)(l, s, len),
            None => Ok(()),
        }
    }
}
