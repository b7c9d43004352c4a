//! The reader against images this crate writes: deep extent trees (forced
//! with short extents), corrupt images, and byte flips that must give an
//! error or a tree, never a panic or a hang. `tests/read.rs` covers images
//! made by mke2fs.

use std::io::Cursor;

use microroot_tree::{Entry, Kind, Tree, TreePath};
use proptest::prelude::*;

use crate::{read_ext4, write_with, Options, ReadError};

fn p(s: &str) -> TreePath {
    TreePath::new(s).unwrap()
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i / 4096 + i % 251) as u8).collect()
}

fn write(tree: &Tree, max_extent: u64, csum: bool) -> Vec<u8> {
    let opts = Options { metadata_csum: csum, ..Options::from_seed(b"read", 1_700_000_000) };
    let mut out = Cursor::new(Vec::new());
    write_with(tree, &opts, max_extent, &mut out).unwrap();
    out.into_inner()
}

/// The tree as read, without the `lost+found` the writer adds.
fn read_back(image: &[u8]) -> Tree {
    let mut tree = read_ext4(image).unwrap();
    assert!(tree.get(&p("lost+found")).is_some_and(Entry::is_dir));
    tree.remove(&p("lost+found"));
    tree
}

#[test]
fn extent_index_blocks_are_followed() {
    let mut tree = Tree::new();
    tree.insert(&p("a"), Entry::file(0o644, pattern(50 * 4096 + 7))).unwrap();
    tree.insert(&p("b"), Entry::file(0o600, pattern(900 * 4096))).unwrap();
    tree.insert(&p("c"), Entry::file(0o644, pattern(3 * 4096))).unwrap();
    tree.insert(&p("d"), Entry::new(microroot_tree::Meta::new(0o600), Kind::Hardlink(p("b")))).unwrap();
    for csum in [true, false] {
        // Two-block extents: `b` needs 450 extents in two leaf blocks.
        let image = write(&tree, 2, csum);
        assert_eq!(read_back(&image), tree);
    }
}

#[test]
fn a_directory_loop_is_an_error() {
    let mut tree = Tree::new();
    tree.insert(&p("a/b/loopname"), Entry::file(0o644, "x")).unwrap();
    let mut image = write(&tree, crate::extent::MAX_LEN, false);
    // Inodes: a = 12, a/b = 13, a/b/loopname = 14. Point the file's record
    // at `a` as a directory.
    let at = image.windows(8).position(|w| w == b"loopname").unwrap() - 8;
    image[at..at + 4].copy_from_slice(&12u32.to_le_bytes());
    image[at + 7] = 2;
    match read_ext4(&image) {
        Err(e @ ReadError::Loop { ino: 12, .. }) => assert!(e.to_string().contains("`/a/b/loopname`"), "{e}"),
        other => panic!("expected a loop error, got {other:?}"),
    }
}

#[test]
fn bad_magic_truncation_and_wild_blocks_are_errors() {
    let mut tree = Tree::new();
    tree.insert(&p("f"), Entry::file(0o644, pattern(10_000))).unwrap();
    let image = write(&tree, crate::extent::MAX_LEN, true);

    let err = read_ext4(&vec![0u8; 4096]).unwrap_err();
    assert!(matches!(err, ReadError::Magic { found: 0 }), "{err}");
    assert!(err.to_string().contains("hint:"), "{err}");
    let err = read_ext4(&image[..1500]).unwrap_err();
    assert!(matches!(err, ReadError::Truncated { .. }), "{err}");

    let mut bad_sb = image.clone();
    bad_sb[1024 + 0x28] ^= 1; // inodes per group, under the checksum
    let err = read_ext4(&bad_sb).unwrap_err();
    assert!(err.to_string().contains("checksum"), "{err}");

    // The file's only extent: make it start past the end.
    let no_csum = write(&tree, crate::extent::MAX_LEN, false);
    let fs = super::disk::Fs::open(super::disk::Source::Bytes(&no_csum)).unwrap();
    let inode = super::inode::Inode::read(&fs, 12).unwrap();
    let start = u32::from_le_bytes(inode.i_block[20..24].try_into().unwrap());
    let mut wild = no_csum.clone();
    let at = find_inode_block(&no_csum, &inode.i_block);
    wild[at + 20..at + 24].copy_from_slice(&(start + 10_000_000).to_le_bytes());
    let err = read_ext4(&wild).unwrap_err();
    assert!(matches!(err, ReadError::BlockRange { .. }), "{err}");
}

/// Where the 60 bytes of `i_block` sit in the image.
fn find_inode_block(image: &[u8], i_block: &[u8; 60]) -> usize {
    image.windows(60).position(|w| w == i_block).unwrap()
}

thread_local! {
    static SAMPLE: Vec<u8> = sample();
}

fn sample() -> Vec<u8> {
    let mut tree = Tree::new();
    tree.insert(&p("etc/hostname"), Entry::file(0o644, "microroot\n")).unwrap();
    tree.insert(&p("usr/bin/big"), Entry::file(0o755, pattern(40_000))).unwrap();
    tree.insert(&p("usr/bin/link"), Entry::symlink("big")).unwrap();
    tree.insert(&p("usr/lib/long"), Entry::symlink("x".repeat(80))).unwrap();
    let mut e = Entry::file(0o644, "x");
    e.meta.xattrs.insert("user.big".into(), vec![b'b'; 300]);
    tree.insert(&p("usr/lib/attr"), e).unwrap();
    for i in 0..40 {
        tree.insert(&p(&format!("usr/share/f{i}")), Entry::file(0o644, pattern(i * 100))).unwrap();
    }
    let opts = Options { journal: false, metadata_csum: false, ..Options::from_seed(b"fuzz", 1_700_000_000) };
    let mut out = Cursor::new(Vec::new());
    write_with(&tree, &opts, 2, &mut out).unwrap();
    out.into_inner()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Flipped bytes give an error or a tree, never a panic or a hang.
    /// Without a journal, the metadata (superblock, descriptors, inode
    /// table, directories, extent leaves) fills most of the first blocks,
    /// where half of the flips land.
    #[test]
    fn flipped_bytes_never_panic(flips in prop::collection::vec((any::<bool>(), 0usize..1 << 22, any::<u8>()), 1..8)) {
        let mut image = SAMPLE.with(Clone::clone);
        for (early, at, x) in flips {
            let at = if early { at % (64 << 10) } else { at % image.len() };
            image[at] ^= x | 1;
        }
        let _ = read_ext4(&image);
    }
}
