//! What goes where: every inode's content prepared once, then laid out on
//! a given [`Geometry`] by one pass of the [`Allocator`].
//!
//! Order on disk, from block 0: superblock and descriptors, all block
//! bitmaps, all inode bitmaps, all inode tables (`flex_bg` packs every
//! group's metadata at the front), the journal, then for each inode in
//! number order its attribute block, its data and its extent leaves.

use std::collections::HashMap;

use microroot_tree::Tree;

use crate::alloc::{Allocator, Run};
use crate::crc32c::{fs_seed, inode_seed};
use crate::extent::{extents, leaf_count, Extent};
use crate::geometry::{has_backup, Geometry, BLOCK};
use crate::nodes::{collect, Body, Node, LOST_FOUND_INO};
use crate::{dir, xattr, Error, Options};

/// Fast symlinks keep targets shorter than this in `i_block`.
pub(crate) const FAST_SYMLINK_MAX: usize = 60;
/// mke2fs makes `lost+found` 16 KiB, so e2fsck has room to reconnect
/// orphans without allocating.
const LOST_FOUND_BLOCKS: u64 = 4;
/// `EXT4_XATTR_REFCOUNT_MAX`: a shared attribute block serves at most this
/// many inodes.
const XATTR_REFCOUNT_MAX: u32 = 1024;

/// The tree as inodes, with everything that does not depend on where
/// blocks end up already encoded.
pub(crate) struct Prepared<'a> {
    pub nodes: Vec<Node<'a>>,
    pub content: Vec<Content>,
    /// Distinct attribute blocks, shared by identical attribute sets.
    pub xattr_blocks: Vec<Vec<u8>>,
    pub xattr_refs: Vec<u32>,
    /// `metadata_csum` seed.
    pub csum: Option<u32>,
}

#[derive(Default)]
pub(crate) struct Content {
    /// Data blocks (not counting extent leaves or attribute blocks).
    pub blocks: u64,
    /// Rendered directory blocks.
    pub dir: Vec<u8>,
    pub ibody: Vec<u8>,
    pub xattr_block: Option<usize>,
}

impl Prepared<'_> {
    /// The highest inode number in use; every number below it is used too.
    pub fn last_ino(&self) -> u32 {
        self.nodes.last().map_or(LOST_FOUND_INO, |n| n.ino)
    }
}

pub(crate) fn prepare<'a>(tree: &'a Tree, opts: &Options) -> Result<Prepared<'a>, Error> {
    let nodes = collect(tree, opts.timestamp)?;
    let csum = opts.metadata_csum.then(|| fs_seed(&opts.uuid));
    let mut prep =
        Prepared { nodes: Vec::new(), content: Vec::new(), xattr_blocks: Vec::new(), xattr_refs: Vec::new(), csum };
    let mut shared: HashMap<Vec<u8>, usize> = HashMap::new();
    for node in &nodes {
        let mut c = Content::default();
        if let Some(xattrs) = node.xattrs {
            let enc = xattr::encode(&node.path, xattrs)?;
            c.ibody = enc.ibody;
            c.xattr_block = enc.block.map(|block| prep.share(&mut shared, block));
        }
        match &node.body {
            Body::Dir { parent, entries } => {
                let min = if node.ino == LOST_FOUND_INO { LOST_FOUND_BLOCKS } else { 1 };
                c.dir = dir::render(node.ino, *parent, entries, min, csum.map(|s| inode_seed(s, node.ino)));
                c.blocks = c.dir.len() as u64 / BLOCK;
            }
            Body::File(data) => c.blocks = data.len().div_ceil(BLOCK),
            Body::Symlink(target) if target.len() >= FAST_SYMLINK_MAX => c.blocks = 1,
            _ => {}
        }
        prep.content.push(c);
    }
    prep.nodes = nodes;
    Ok(prep)
}

impl Prepared<'_> {
    /// The index of an attribute block equal to `block`, reusing one while
    /// it has references to spare.
    fn share(&mut self, shared: &mut HashMap<Vec<u8>, usize>, block: Vec<u8>) -> usize {
        if let Some(&i) = shared.get(&block) {
            if self.xattr_refs[i] < XATTR_REFCOUNT_MAX {
                self.xattr_refs[i] += 1;
                return i;
            }
        }
        let i = self.xattr_blocks.len();
        self.xattr_blocks.push(block.clone());
        self.xattr_refs.push(1);
        shared.insert(block, i);
        i
    }
}

/// Where an inode's blocks are.
#[derive(Debug, Default)]
pub(crate) struct Placement {
    pub extents: Vec<Extent>,
    pub leaves: Vec<u64>,
}

impl Placement {
    pub fn blocks(&self) -> u64 {
        self.extents.iter().map(|e| e.len as u64).sum::<u64>() + self.leaves.len() as u64
    }
}

pub(crate) struct Layout {
    pub block_bitmaps: Vec<u64>,
    pub inode_bitmaps: Vec<u64>,
    pub inode_tables: Vec<u64>,
    pub journal: Placement,
    /// Per node, in the order of [`Prepared::nodes`].
    pub nodes: Vec<Placement>,
    pub xattr_blocks: Vec<u64>,
    /// Every used block as sorted, merged runs.
    pub used: Vec<Run>,
    /// One past the last used block; beyond the filesystem's end when it
    /// is too small.
    pub end: u64,
}

impl Layout {
    pub fn used_blocks(&self) -> u64 {
        self.used.iter().map(|r| r.len).sum()
    }
}

pub(crate) fn lay_out(geo: &Geometry, prep: &Prepared<'_>, max_extent: u64) -> Result<Layout, Error> {
    let reserved = (0..geo.groups)
        .filter(|&g| has_backup(g))
        .map(|g| Run { start: geo.first_block(g), len: geo.backup_blocks(g) })
        .collect();
    let mut a = Allocator::new(reserved);
    let groups = geo.groups as usize;
    let block_bitmaps = (0..groups).map(|_| a.alloc_contiguous(1)).collect();
    let inode_bitmaps = (0..groups).map(|_| a.alloc_contiguous(1)).collect();
    let inode_tables = (0..groups).map(|_| a.alloc_contiguous(geo.itable_blocks)).collect();
    let journal = place(&mut a, geo.journal_blocks, max_extent).expect("a journal fits in four extent leaves");
    let mut xattr_blocks = vec![None; prep.xattr_blocks.len()];
    let mut nodes = Vec::with_capacity(prep.nodes.len());
    for (node, c) in prep.nodes.iter().zip(&prep.content) {
        if let Some(i) = c.xattr_block {
            xattr_blocks[i].get_or_insert_with(|| a.alloc_contiguous(1));
        }
        let size = match node.body {
            Body::File(data) => data.len(),
            _ => c.blocks * BLOCK,
        };
        nodes.push(
            place(&mut a, c.blocks, max_extent).ok_or_else(|| Error::FileTooLarge { path: node.path.clone(), size })?,
        );
    }
    let end = a.end();
    Ok(Layout {
        block_bitmaps,
        inode_bitmaps,
        inode_tables,
        journal,
        nodes,
        xattr_blocks: xattr_blocks.into_iter().map(|b| b.expect("every shared block has a user")).collect(),
        used: a.into_used(),
        end,
    })
}

/// `blocks` data blocks and the extent leaves that map them.
fn place(a: &mut Allocator, blocks: u64, max_extent: u64) -> Option<Placement> {
    let extents = extents(&a.alloc(blocks), max_extent);
    let leaves = (0..leaf_count(extents.len())?).map(|_| a.alloc_contiguous(1)).collect();
    Some(Placement { extents, leaves })
}
