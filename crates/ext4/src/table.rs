//! The inode table: every node's inode, plus the reserved ones ext4 expects.
//!
//! Inode 1 (bad blocks) is empty but timestamped as mke2fs leaves it, inode
//! 8 is the journal when there is one, and inodes 3 to 7, 9 and 10 stay
//! zero: quotas, the resize inode and the rest are not used.

use crate::geometry::INODE_SIZE;
use crate::inode::{Inode, EXTENTS_FL};
use crate::nodes::{Body, Node, JOURNAL_INO};
use crate::plan::{Content, Layout, Placement, Prepared, FAST_SYMLINK_MAX};
use crate::Options;

/// Inodes 1 up to the last used one, each in its 256-byte slot.
/// `journal` is the journal inode's `i_block` and size.
pub(crate) fn inode_table(
    prep: &Prepared<'_>,
    layout: &Layout,
    opts: &Options,
    journal: Option<&([u8; 60], u64)>,
) -> Vec<u8> {
    let mut table = vec![0u8; prep.last_ino() as usize * INODE_SIZE];
    let slot = |ino: u32| (ino as usize - 1) * INODE_SIZE;
    Inode { time: opts.timestamp, ..Inode::default() }.encode(1, prep.csum, &mut table[slot(1)..]);
    if let Some((i_block, size)) = journal {
        let inode = Inode {
            mode: 0o100600,
            size: *size,
            time: opts.timestamp,
            links: 1,
            blocks: layout.journal.blocks(),
            flags: EXTENTS_FL,
            i_block: *i_block,
            ..Inode::default()
        };
        inode.encode(JOURNAL_INO, prep.csum, &mut table[slot(JOURNAL_INO)..]);
    }
    for ((node, c), p) in prep.nodes.iter().zip(&prep.content).zip(&layout.nodes) {
        node_inode(node, c, p, layout).encode(node.ino, prep.csum, &mut table[slot(node.ino)..]);
    }
    table
}

fn node_inode<'p>(node: &Node<'_>, c: &'p Content, p: &Placement, layout: &Layout) -> Inode<'p> {
    let mut inode = Inode {
        mode: node.mode,
        uid: node.uid,
        gid: node.gid,
        time: node.mtime,
        links: node.links as u16,
        blocks: p.blocks() + c.xattr_block.is_some() as u64,
        file_acl: c.xattr_block.map_or(0, |i| layout.xattr_blocks[i]),
        ibody: &c.ibody,
        ..Inode::default()
    };
    match &node.body {
        Body::Dir { .. } => extents(&mut inode, p, c.dir.len() as u64),
        Body::File(data) => extents(&mut inode, p, data.len()),
        Body::Symlink(target) if target.len() >= FAST_SYMLINK_MAX => extents(&mut inode, p, target.len() as u64),
        Body::Symlink(target) => {
            inode.size = target.len() as u64;
            inode.i_block[..target.len()].copy_from_slice(target);
        }
        &Body::Device { major, minor } => {
            // The kernel's encoding: the old 16-bit one in i_block[0] when
            // it fits, else the new 32-bit one in i_block[1].
            if major < 256 && minor < 256 {
                inode.i_block[..4].copy_from_slice(&(major << 8 | minor).to_le_bytes());
            } else {
                let new = (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12);
                inode.i_block[4..8].copy_from_slice(&new.to_le_bytes());
            }
        }
        Body::Special => {}
    }
    inode
}

fn extents(inode: &mut Inode<'_>, p: &Placement, size: u64) {
    inode.size = size;
    inode.flags = EXTENTS_FL;
    inode.i_block = crate::extent::root(&p.extents, &p.leaves);
}
