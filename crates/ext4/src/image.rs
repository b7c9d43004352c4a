//! Rendering a laid-out filesystem and writing it front to back.
//!
//! Metadata is rendered into memory (inode tables only up to the last used
//! inode, bitmaps one block at a time as they are written), file contents
//! are borrowed from the tree, and every piece is
//! written in offset order. Whatever lies between pieces is never written
//! but skipped by seeking, so those bytes read as zeros and the image file
//! stays sparse.

use std::borrow::Cow;
use std::io::{Seek, SeekFrom, Write};

use crate::bitmap::Bitmaps;
use crate::crc32c::{crc32c, inode_seed};
use crate::extent::{leaf_blocks, root};
use crate::geometry::{has_backup, Geometry, BLOCK, BLOCK_USIZE, INODE_SIZE};
use crate::nodes::{Body, JOURNAL_INO};
use crate::plan::{Layout, Prepared, FAST_SYMLINK_MAX};
use crate::superblock::{descriptors, superblock, Counts, Group};
use microroot_tree::Blob;

use crate::table::inode_table;
use crate::{journal, xattr, Error, Options, Summary};

/// One piece of the image: bytes, or a bitmap rendered when written.
enum Piece<'a> {
    Bytes(Cow<'a, [u8]>),
    /// `len` bytes of a file from `from` on, streamed when written (the
    /// last block's tail is shorter).
    Blob {
        blob: &'a Blob,
        from: u64,
        len: u64,
    },
    BlockBitmap(u32),
    InodeBitmap(u32),
}

pub(crate) fn write<W: Write + Seek>(
    prep: &Prepared<'_>,
    geo: &Geometry,
    layout: &Layout,
    opts: &Options,
    out: &mut W,
) -> Result<Summary, Error> {
    let journal = (geo.journal_blocks > 0)
        .then(|| (root(&layout.journal.extents, &layout.journal.leaves), geo.journal_blocks * BLOCK));
    let table = inode_table(prep, layout, opts, journal.as_ref());
    let bitmaps = Bitmaps::new(geo, &layout.used, prep.last_ino());
    let mut pieces: Vec<(u64, Piece<'_>)> = Vec::new();
    let groups = groups(prep, geo, layout, &bitmaps, &mut pieces);
    let per_group = geo.inodes_per_group as usize * INODE_SIZE;
    for (g, inodes) in table.chunks(per_group).enumerate() {
        pieces.push((layout.inode_tables[g] * BLOCK, Piece::Bytes(Cow::Borrowed(inodes))));
    }
    let counts = Counts {
        free_blocks: groups.iter().map(|g| g.free_blocks as u64).sum(),
        free_inodes: groups.iter().map(|g| g.free_inodes).sum(),
        journal,
    };
    let gdt = descriptors(&groups, geo, prep.csum);
    for g in (0..geo.groups).filter(|&g| has_backup(g)) {
        let first = geo.first_block(g) * BLOCK;
        let sb = superblock(geo, opts, &counts, g);
        pieces.push((if g == 0 { 1024 } else { first }, Piece::Bytes(Cow::Owned(sb))));
        pieces.push((first + BLOCK, Piece::Bytes(Cow::Borrowed(&gdt))));
    }
    if let Some(first) = layout.journal.extents.first() {
        let sb = journal::superblock(geo.journal_blocks, &opts.uuid);
        pieces.push((first.start * BLOCK, Piece::Bytes(Cow::Owned(sb))));
    }
    content(prep, layout, &mut pieces);
    write_pieces(out, pieces, &bitmaps, geo.blocks * BLOCK)?;
    Ok(Summary {
        size_bytes: geo.blocks * BLOCK,
        blocks: geo.blocks,
        inodes: geo.inodes(),
        free_blocks: counts.free_blocks,
        free_inodes: counts.free_inodes,
    })
}

/// Each group's descriptor, and the bitmap pieces to write.
///
/// With checksums, groups that are untouched (no inodes; no blocks but
/// their superblock backup) are marked uninitialized as mke2fs marks them,
/// and their bitmaps are neither written nor checksummed: the kernel and
/// e2fsck derive them. Without, every non-zero bitmap is written.
fn groups<'a>(
    prep: &Prepared<'_>,
    geo: &Geometry,
    layout: &Layout,
    bitmaps: &Bitmaps<'_>,
    pieces: &mut Vec<(u64, Piece<'a>)>,
) -> Vec<Group> {
    let csum = prep.csum;
    let used_blocks = bitmaps.used_blocks();
    let mut buf = vec![0u8; BLOCK_USIZE];
    let mut groups = Vec::with_capacity(geo.groups as usize);
    for g in 0..geo.groups {
        let used_inodes = bitmaps.used_inodes(g);
        let last = g + 1 == geo.groups;
        let inode_uninit = csum.is_some() && used_inodes == 0;
        let block_uninit = csum.is_some() && !last && used_blocks[g as usize] == geo.backup_blocks(g);
        let mut group = Group {
            block_bitmap: layout.block_bitmaps[g as usize],
            inode_bitmap: layout.inode_bitmaps[g as usize],
            inode_table: layout.inode_tables[g as usize],
            free_blocks: (geo.group_blocks(g) - used_blocks[g as usize]) as u32,
            free_inodes: geo.inodes_per_group - used_inodes,
            block_uninit,
            inode_uninit,
            ..Group::default()
        };
        if !block_uninit {
            bitmaps.block_bitmap(g, &mut buf);
            group.block_bitmap_csum = csum.map_or(0, |s| crc32c(s, &buf));
            if buf.iter().any(|&b| b != 0) {
                pieces.push((group.block_bitmap * BLOCK, Piece::BlockBitmap(g)));
            }
        }
        if !inode_uninit {
            bitmaps.inode_bitmap(g, &mut buf);
            let len = geo.inodes_per_group as usize / 8;
            group.inode_bitmap_csum = csum.map_or(0, |s| crc32c(s, &buf[..len]));
            pieces.push((group.inode_bitmap * BLOCK, Piece::InodeBitmap(g)));
        }
        groups.push(group);
    }
    for node in &prep.nodes {
        if let Body::Dir { .. } = node.body {
            groups[((node.ino - 1) / geo.inodes_per_group) as usize].used_dirs += 1;
        }
    }
    groups
}

/// Directory, file and symlink blocks, extent leaves and attribute blocks.
fn content<'a>(prep: &'a Prepared<'_>, layout: &Layout, pieces: &mut Vec<(u64, Piece<'a>)>) {
    for ((node, c), p) in prep.nodes.iter().zip(&prep.content).zip(&layout.nodes) {
        let bytes: &[u8] = match &node.body {
            Body::Dir { .. } => &c.dir,
            Body::Symlink(target) if target.len() >= FAST_SYMLINK_MAX => target,
            _ => &[],
        };
        for e in &p.extents {
            let from = e.logical as usize * BLOCK_USIZE;
            let piece = match &node.body {
                Body::File(blob) => Piece::Blob { blob, from: from as u64, len: u64::from(e.len) * BLOCK },
                _ => Piece::Bytes(Cow::Borrowed(&bytes[from..(from + e.len as usize * BLOCK_USIZE).min(bytes.len())])),
            };
            pieces.push((e.start * BLOCK, piece));
        }
        let seed = prep.csum.map(|s| inode_seed(s, node.ino));
        for (block, leaf) in leaf_blocks(&p.extents, &p.leaves, seed).into_iter().zip(&p.leaves) {
            pieces.push((leaf * BLOCK, Piece::Bytes(Cow::Owned(block))));
        }
    }
    for (i, &number) in layout.xattr_blocks.iter().enumerate() {
        let mut block = prep.xattr_blocks[i].clone();
        xattr::seal_block(&mut block, number, prep.xattr_refs[i], prep.csum);
        pieces.push((number * BLOCK, Piece::Bytes(Cow::Owned(block))));
    }
    let journal = &layout.journal;
    let seed = prep.csum.map(|s| inode_seed(s, JOURNAL_INO));
    for (block, leaf) in leaf_blocks(&journal.extents, &journal.leaves, seed).into_iter().zip(&journal.leaves) {
        pieces.push((leaf * BLOCK, Piece::Bytes(Cow::Owned(block))));
    }
}

/// Writes `pieces` in offset order, seeking over the gaps, and makes the
/// image `size` bytes long. Offsets count from where `out` stands.
fn write_pieces<W: Write + Seek>(
    out: &mut W,
    mut pieces: Vec<(u64, Piece<'_>)>,
    bitmaps: &Bitmaps<'_>,
    size: u64,
) -> Result<(), Error> {
    pieces.sort_by_key(|(at, _)| *at);
    let start = out.stream_position().map_err(Error::Write)?;
    let mut buf = vec![0u8; BLOCK_USIZE];
    let mut pos = 0;
    for (at, piece) in &pieces {
        debug_assert!(*at >= pos, "overlapping pieces at byte {at}");
        if *at != pos {
            out.seek(SeekFrom::Start(start + at)).map_err(Error::Write)?;
        }
        let bytes: &[u8] = match piece {
            Piece::Bytes(bytes) => bytes,
            Piece::Blob { blob, from, len } => {
                blob.write_range_to(*from, *len, out).map_err(Error::Write)?;
                pos = at + (*len).min(blob.len() - from);
                continue;
            }
            Piece::BlockBitmap(g) => {
                bitmaps.block_bitmap(*g, &mut buf);
                &buf
            }
            Piece::InodeBitmap(g) => {
                bitmaps.inode_bitmap(*g, &mut buf);
                &buf
            }
        };
        out.write_all(bytes).map_err(Error::Write)?;
        pos = at + bytes.len() as u64;
    }
    if pos < size {
        out.seek(SeekFrom::Start(start + size - 1)).map_err(Error::Write)?;
        out.write_all(&[0]).map_err(Error::Write)?;
    }
    out.flush().map_err(Error::Write)
}
