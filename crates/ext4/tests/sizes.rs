//! Sizing, options and large trees: big directories, files over 128 MiB,
//! several block groups, journal on and off, determinism.

mod common;

use std::io::Cursor;
use std::os::unix::fs::MetadataExt;

use common::*;
use microroot_ext4::{write_ext4, write_ext4_file, Error, Options, Size};
use microroot_tree::{Kind, Tree};
use sha2::{Digest, Sha256};

const MIB: u64 = 1 << 20;

fn in_memory(tree: &Tree, opts: &Options) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    let summary = write_ext4(tree, opts, &mut out).unwrap();
    assert_eq!(out.get_ref().len() as u64, summary.size_bytes);
    out.into_inner()
}

#[test]
fn empty_tree_gets_root_and_lost_found() {
    let dir = tempfile::tempdir().unwrap();
    let (img, summary) = image(dir.path(), "empty.ext4", &Tree::new(), &options());
    assert_eq!(summary.size_bytes % MIB, 0, "auto sizes are whole MiB");
    assert_eq!(summary.blocks * 4096, summary.size_bytes);
    let dump = dumpe2fs(&img);
    assert_eq!(field(&dump, "Filesystem state"), "clean");
    assert_eq!(field(&dump, "Free blocks"), summary.free_blocks.to_string());
    assert_eq!(field(&dump, "Free inodes"), summary.free_inodes.to_string());
    assert_eq!(field(&dump, "Inode count"), summary.inodes.to_string());
    let ls = debugfs_text(&img, "ls /");
    let names: Vec<&str> = ls.split_whitespace().filter(|t| !t.starts_with('(') && t.parse::<u32>().is_err()).collect();
    assert_eq!(names, [".", "..", "lost+found"]);
}

#[test]
fn a_directory_with_5000_entries() {
    let mut tree = Tree::new();
    tree.insert(&p("many"), entry(0o755, Kind::Dir)).unwrap();
    for i in 0..5000 {
        let kind = if i % 50 == 0 { Kind::Dir } else { Kind::File(format!("{i}").into()) };
        tree.insert(&p(&format!("many/entry-with-a-longish-name-{i:05}")), entry(0o644, kind)).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let (img, _) = image(dir.path(), "many.ext4", &tree, &options());
    let s = Stat::of(&img, "/many");
    assert_eq!(s.num("Links"), 2 + 100);
    assert!(s.num("Size") > 40 * 4096, "spans many blocks: {}", s.num("Size"));
    let ls = debugfs_text(&img, "ls -p /many");
    assert_eq!(ls.lines().filter(|l| l.contains("entry-with-a-longish-name-")).count(), 5000);
    assert_eq!(debugfs(&img, "cat /many/entry-with-a-longish-name-04999"), b"4999");
    assert_eq!(Stat::of(&img, "/many/entry-with-a-longish-name-04950").field("Type"), "directory");
}

/// Each 4 KiB block starts with its own number, so a misplaced block
/// changes the hash.
fn numbered_blocks(len: usize) -> Vec<u8> {
    let mut data = vec![0x5a; len];
    for (i, block) in data.chunks_mut(4096).enumerate() {
        let n = (i as u32).to_le_bytes();
        let k = block.len().min(4);
        block[..k].copy_from_slice(&n[..k]);
    }
    data
}

#[test]
fn a_file_over_128_mib_takes_several_extents() {
    let len = 129 * MIB as usize + 12345;
    let data = numbered_blocks(len);
    let mut tree = Tree::new();
    tree.insert(&p("big"), entry(0o644, Kind::File(data.clone().into()))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (img, _) = image(dir.path(), "big.ext4", &tree, &options());
    let s = Stat::of(&img, "/big");
    assert_eq!(s.num("Size"), len as i64);
    let extents = s.extents();
    assert!(extents.len() >= 2, "{}", s.0);
    let out = dir.path().join("big.out");
    debugfs(&img, &format!("dump /big {}", out.display()));
    let back = std::fs::read(&out).unwrap();
    assert_eq!(back.len(), len);
    assert_eq!(Sha256::digest(&back), Sha256::digest(&data));
}

#[test]
fn several_groups_around_superblock_backups() {
    // 300 MiB of files in a 1 GiB image: data crosses group 1's backup,
    // and 10000 more inodes fill group 0's 8192 and go on in group 1.
    let blob: microroot_tree::Blob = numbered_blocks(60 * MIB as usize).into();
    let mut tree = sample_tree();
    for i in 0..5 {
        tree.insert(&p(&format!("srv/part-{i}")), entry(0o644, Kind::File(blob.clone()))).unwrap();
    }
    for i in 0..10_000 {
        tree.insert(&p(&format!("var/many/{i}")), entry(0o644, Kind::File(Vec::new().into()))).unwrap();
    }
    let opts = Options { size: Size::Fixed(1 << 30), ..options() };
    let dir = tempfile::tempdir().unwrap();
    let (img, summary) = image(dir.path(), "groups.ext4", &tree, &opts);
    assert_eq!(summary.size_bytes, 1 << 30);
    let dump = dumpe2fs(&img);
    assert_eq!(field(&dump, "Block count"), "262144");
    assert_eq!(field(&dump, "Inodes per group"), "8192");
    assert!(Stat::of(&img, "/var/many/9999").num("Inode") > 8192);
    assert_eq!(field(&dump, "Total journal size"), "32M", "what mke2fs picks for 1 GiB");
    let out = dir.path().join("part.out");
    debugfs(&img, &format!("dump /srv/part-2 {}", out.display()));
    assert_eq!(Sha256::digest(std::fs::read(&out).unwrap()), Sha256::digest(blob.bytes()));
}

#[test]
fn a_sparse_terabyte() {
    // 8192 groups, 128 descriptor blocks copied to 20 backups, nearly all
    // groups untouched: their bitmaps are never written.
    let opts = Options { size: Size::Fixed(1 << 40), ..options() };
    let dir = tempfile::tempdir().unwrap();
    let (img, summary) = image(dir.path(), "tera.ext4", &sample_tree(), &opts);
    assert_eq!(summary.size_bytes, 1 << 40);
    let on_disk = std::fs::metadata(&img).unwrap().blocks() * 512;
    assert!(on_disk < 64 * MIB, "{on_disk} bytes allocated");
    assert_eq!(field(&dumpe2fs(&img), "Block count"), "268435456");
    assert_eq!(debugfs(&img, "cat /etc/hostname"), b"microroot\n");
}

#[test]
fn odd_fixed_sizes() {
    let dir = tempfile::tempdir().unwrap();
    // Rounded down to whole blocks.
    let opts = Options { size: Size::Fixed(64 * MIB + 1000), ..options() };
    let (_, summary) = image(dir.path(), "round.ext4", &sample_tree(), &opts);
    assert_eq!(summary.size_bytes, 64 * MIB);
    // Group 1 would hold one block: too short for its backup, dropped.
    let opts = Options { size: Size::Fixed((32768 + 1) * 4096), ..options() };
    let (_, summary) = image(dir.path(), "dropped.ext4", &sample_tree(), &opts);
    assert_eq!(summary.blocks, 32768);
    // Group 2 has no backup: a one-block group is kept.
    let opts = Options { size: Size::Fixed((2 * 32768 + 1) * 4096), ..options() };
    let (_, summary) = image(dir.path(), "short.ext4", &sample_tree(), &opts);
    assert_eq!(summary.blocks, 2 * 32768 + 1);
}

#[test]
fn a_fixed_size_too_small_names_the_size_needed() {
    let dir = tempfile::tempdir().unwrap();
    let mut tree = Tree::new();
    tree.insert(&p("data"), entry(0o644, Kind::File(vec![1u8; 8 << 20].into()))).unwrap();
    let opts = Options { size: Size::Fixed(8 * MIB), ..options() };
    let target = dir.path().join("small.ext4");
    let err = write_ext4_file(&tree, &opts, &target).unwrap_err();
    let Error::Output { source, .. } = &err else { panic!("{err:?}") };
    let Error::TooSmall { size, needed } = **source else { panic!("{source:?}") };
    assert_eq!(size, 8 * MIB);
    assert!(needed > 12 * MIB, "data, journal and metadata: {needed}");
    let message = source.to_string();
    assert!(message.contains(&format!("needs at least {needed} bytes; set size larger or use auto")), "{message}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing left behind");
    // The size it names is enough.
    let opts = Options { size: Size::Fixed(needed), ..options() };
    let (_, summary) = image(dir.path(), "enough.ext4", &tree, &opts);
    assert_eq!(summary.size_bytes, needed);
}

#[test]
fn auto_size_leaves_headroom() {
    let mut tree = Tree::new();
    tree.insert(&p("data"), entry(0o644, Kind::File(vec![1u8; 20 << 20].into()))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let opts = Options { size: Size::Auto { headroom_percent: 50, min_bytes: 0 }, ..options() };
    let (_, s) = image(dir.path(), "headroom.ext4", &tree, &opts);
    let used = s.blocks - s.free_blocks;
    assert!(s.free_blocks * 100 >= used * 50, "{s:?}");
    assert!(s.free_blocks * 100 < used * 50 + 256 * 100, "no more than a MiB beyond: {s:?}");
    let opts = Options { size: Size::Auto { headroom_percent: 0, min_bytes: 100 * MIB }, ..options() };
    let (_, s) = image(dir.path(), "min.ext4", &tree, &opts);
    assert_eq!(s.size_bytes, 100 * MIB);
}

#[test]
fn journal_on_and_off() {
    let dir = tempfile::tempdir().unwrap();
    let (img, _) = image(dir.path(), "journal.ext4", &sample_tree(), &options());
    let dump = dumpe2fs(&img);
    assert!(field(&dump, "Filesystem features").split(' ').any(|f| f == "has_journal"), "{dump}");
    assert_eq!(field(&dump, "Journal inode"), "8");
    assert_eq!(field(&dump, "Total journal size"), "4096k");
    assert_eq!(field(&dump, "Journal start"), "0", "clean");
    assert_eq!(field(&dump, "Journal backup"), "inode blocks");

    let opts = Options { journal: false, ..options() };
    let (img, _) = image(dir.path(), "plain.ext4", &sample_tree(), &opts);
    let dump = dumpe2fs(&img);
    assert!(!dump.contains("has_journal"), "{dump}");
    assert!(!dump.contains("Journal inode"), "{dump}");
}

#[test]
fn metadata_checksums_on_and_off() {
    let dir = tempfile::tempdir().unwrap();
    let (img, _) = image(dir.path(), "csum.ext4", &sample_tree(), &options());
    let dump = dumpe2fs(&img);
    assert!(field(&dump, "Filesystem features").contains("metadata_csum"));
    assert_eq!(field(&dump, "Checksum type"), "crc32c");
    let opts = Options { metadata_csum: false, ..options() };
    let (img, _) = image(dir.path(), "nocsum.ext4", &sample_tree(), &opts);
    assert!(!dumpe2fs(&img).contains("metadata_csum"));
}

#[test]
fn label_uuid_and_hash_seed_come_from_the_options() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options { label: "sixteen-byte-lab".into(), ..options() };
    let (img, _) = image(dir.path(), "label.ext4", &Tree::new(), &opts);
    let dump = dumpe2fs(&img);
    assert_eq!(field(&dump, "Filesystem volume name"), "sixteen-byte-lab");
    assert_eq!(field(&dump, "Filesystem UUID"), microroot_ext4::format_uuid(&opts.uuid));
    assert_eq!(field(&dump, "Directory Hash Seed"), microroot_ext4::format_uuid(&opts.hash_seed));
    assert_eq!(field(&dump, "Filesystem created"), "Tue Nov 14 22:13:20 2023");

    let opts = Options { label: "seventeen-bytes!!".into(), ..options() };
    let err = write_ext4(&Tree::new(), &opts, &mut Cursor::new(Vec::new())).unwrap_err();
    assert!(matches!(err, Error::Label { len: 17, .. }), "{err}");
}

#[test]
fn same_input_same_bytes() {
    let tree = sample_tree();
    let a = in_memory(&tree, &options());
    let b = in_memory(&tree.clone(), &options());
    assert!(a == b, "two writes differ");
    let dir = tempfile::tempdir().unwrap();
    let (img, _) = image(dir.path(), "file.ext4", &tree, &options());
    assert!(std::fs::read(img).unwrap() == a, "file and in-memory writes differ");
    let other = Options::from_seed(b"another image", EPOCH);
    assert!(in_memory(&tree, &other) != a);
}

#[test]
fn broken_trees_are_errors_naming_the_path() {
    let mut tree = sample_tree();
    tree.retain(|path, _| path.as_str() != "usr/bin");
    let err = write_ext4(&tree, &options(), &mut Cursor::new(Vec::new())).unwrap_err();
    assert!(matches!(&err, Error::MissingParent { path } if path.as_str().starts_with("usr/bin/")), "{err}");

    let mut tree = sample_tree();
    tree.retain(|path, _| path.as_str() != "usr/bin/aaa-link");
    let err = write_ext4(&tree, &options(), &mut Cursor::new(Vec::new())).unwrap_err();
    assert!(matches!(&err, Error::HardlinkTarget { path, .. } if path.as_str() == "usr/bin/hello"), "{err}");

    let mut tree = Tree::new();
    tree.insert(&p("lost+found"), entry(0o644, Kind::File("x".into()))).unwrap();
    let err = write_ext4(&tree, &options(), &mut Cursor::new(Vec::new())).unwrap_err();
    assert!(matches!(err, Error::LostFound { kind: "file" }), "{err}");
}

#[test]
fn a_lost_found_from_the_tree_is_inode_11() {
    let mut tree = Tree::new();
    let mut lf = entry(0o700, Kind::Dir);
    lf.meta.mtime = 1234;
    tree.insert(&p("lost+found"), lf).unwrap();
    tree.insert(&p("lost+found/stray"), entry(0o644, Kind::File("x".into()))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (img, _) = image(dir.path(), "lf.ext4", &tree, &options());
    let s = Stat::of(&img, "/lost+found");
    assert_eq!((s.num("Inode"), s.mtime(), s.num("Size")), (11, 1234, 16384));
    assert_eq!(debugfs(&img, "cat /lost+found/stray"), b"x");
}
