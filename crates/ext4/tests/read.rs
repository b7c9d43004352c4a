//! `read_ext4_file` against images of both writers: this crate's (every
//! kind of entry, round-tripped exactly) and `mke2fs -d`'s in several
//! layouts (1 KiB blocks with 64-bit descriptors, 4 KiB blocks with 32-bit
//! descriptors and 128-byte inodes, ext2 block maps, inline data),
//! compared with the host directory they were made from.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use common::*;
use microroot_ext4::{read_ext4, read_ext4_file, ReadError};
use microroot_tree::{Entry, Kind, Meta, Tree, TreePath};

fn without_lost_found(mut tree: Tree) -> Tree {
    assert!(tree.get(&p("lost+found")).is_some_and(Entry::is_dir), "no lost+found");
    tree.remove(&p("lost+found"));
    tree
}

#[test]
fn round_trips_every_kind_of_entry() {
    let dir = tempfile::tempdir().unwrap();
    for csum in [true, false] {
        let opts = microroot_ext4::Options { metadata_csum: csum, ..options() };
        let (img, _) = image(dir.path(), &format!("sample-{csum}.ext4"), &sample_tree(), &opts);
        let read = without_lost_found(read_ext4_file(&img).unwrap());
        let want = sample_tree();
        for ((a, ea), (b, eb)) in read.iter().zip(want.iter()) {
            assert_eq!((a, ea), (b, eb));
        }
        assert_eq!(read, want);
        assert_eq!(read_ext4(&std::fs::read(&img).unwrap()).unwrap(), read_ext4_file(&img).unwrap());
    }
}

#[test]
fn a_missing_file_and_a_non_image_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let err = read_ext4_file(&dir.path().join("nope.ext4")).unwrap_err();
    assert!(matches!(err, ReadError::Io { .. }) && err.to_string().contains("nope.ext4"), "{err}");
    let junk = dir.path().join("junk");
    std::fs::write(&junk, vec![b'x'; 5000]).unwrap();
    let err = read_ext4_file(&junk).unwrap_err().to_string();
    assert!(err.contains("0xef53") && err.contains("hint:"), "{err}");
}

/// A host directory with files of several sizes, nested directories,
/// short and long symlinks, a hardlinked file, a fifo and odd modes.
fn host_dir(root: &Path) {
    let write = |rel: &str, data: &[u8], mode: u32| {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, data).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    write("etc/hostname", b"mke2fs\n", 0o644);
    write("etc/empty", b"", 0o600);
    write("etc/small", &[7; 50], 0o640);
    write("usr/bin/tool", &pattern(5000), 0o4755);
    write("usr/lib/big", &pattern(300_000), 0o644);
    write("usr/share/doc/deep/a/b/c/file", b"deep", 0o444);
    for i in 0..300 {
        write(&format!("usr/share/many/entry-with-a-long-name-{i:04}"), format!("{i}").as_bytes(), 0o644);
    }
    std::os::unix::fs::symlink("../lib/big", root.join("usr/bin/short")).unwrap();
    std::os::unix::fs::symlink("x".repeat(100), root.join("usr/bin/long")).unwrap();
    std::fs::hard_link(root.join("usr/bin/tool"), root.join("usr/bin/a-link")).unwrap();
    std::fs::hard_link(root.join("usr/bin/tool"), root.join("usr/bin/z-link")).unwrap();
    let fifo = root.join("run/fifo");
    std::fs::create_dir_all(fifo.parent().unwrap()).unwrap();
    let out = Command::new("mkfifo").arg(&fifo).output().expect("mkfifo (coreutils)");
    assert!(out.status.success());
    std::fs::set_permissions(root.join("usr/share"), std::fs::Permissions::from_mode(0o750)).unwrap();
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 253) as u8 ^ (i / 1024) as u8).collect()
}

/// The tree a faithful reader must find for `root`, built from the host's
/// own metadata. Hardlinks: the first name in path order holds the file.
fn expected(root: &Path) -> Tree {
    let mut tree = Tree::new();
    let mut inodes: std::collections::HashMap<u64, TreePath> = Default::default();
    let mut paths = Vec::new();
    fn walk(dir: &Path, root: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            out.push(path.strip_prefix(root).unwrap().to_owned());
            if path.symlink_metadata().unwrap().is_dir() {
                walk(&path, root, out);
            }
        }
    }
    walk(root, root, &mut paths);
    let mut paths: Vec<TreePath> = paths.iter().map(|p| TreePath::new(p.to_str().unwrap()).unwrap()).collect();
    paths.sort();
    for path in paths {
        let host = root.join(path.as_str());
        let md = host.symlink_metadata().unwrap();
        let mut meta = Meta::new(md.mode());
        (meta.uid, meta.gid, meta.mtime) = (md.uid(), md.gid(), md.mtime());
        let ft = md.file_type();
        let kind = if ft.is_dir() {
            Kind::Dir
        } else if ft.is_symlink() {
            Kind::Symlink(std::fs::read_link(&host).unwrap().to_str().unwrap().to_owned())
        } else if ft.is_file() && md.nlink() > 1 && inodes.contains_key(&md.ino()) {
            Kind::Hardlink(inodes[&md.ino()].clone())
        } else if ft.is_file() {
            inodes.insert(md.ino(), path.clone());
            Kind::File(std::fs::read(&host).unwrap().into())
        } else {
            Kind::Fifo
        };
        tree.insert(&path, Entry::new(meta, kind)).unwrap();
    }
    tree
}

fn mke2fs(dir: &Path, name: &str, source: &Path, args: &[&str]) -> std::path::PathBuf {
    let img = dir.join(name);
    let path = format!("{}:/usr/sbin:/sbin", std::env::var("PATH").unwrap_or_default());
    let out = Command::new("mke2fs")
        .args(["-q", "-F", "-E", "root_owner=0:0"])
        .args(args)
        .arg("-d")
        .arg(source)
        .arg(&img)
        .arg("8M")
        .env("PATH", path)
        .env("E2FSPROGS_FAKE_TIME", "1700000000")
        .output()
        .unwrap_or_else(|e| panic!("cannot run mke2fs: {e}\nhint: apt-get install e2fsprogs"));
    assert!(out.status.success(), "mke2fs {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    e2fsck(&img);
    img
}

#[test]
fn reads_what_mke2fs_makes() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("root");
    host_dir(&source);
    let want = expected(&source);
    let layouts: [(&str, &[&str]); 4] = [
        ("default.ext4", &["-t", "ext4"]),
        ("narrow.ext4", &["-t", "ext4", "-b", "4096", "-I", "128", "-O", "^64bit,^metadata_csum"]),
        ("ext2.img", &["-t", "ext2"]),
        ("inline.ext4", &["-t", "ext4", "-O", "inline_data"]),
    ];
    for (name, args) in layouts {
        let img = mke2fs(dir.path(), name, &source, args);
        let mut read = without_lost_found(read_ext4_file(&img).unwrap());
        // mke2fs gives the root the source directory's header; compare the rest.
        read.insert(&TreePath::root(), want.get(&TreePath::root()).unwrap().clone()).unwrap();
        for (path, entry) in want.iter() {
            assert_eq!(read.get(path), Some(entry), "{name}: {path}");
        }
        assert_eq!(read.len(), want.len(), "{name}: extra entries");
    }
}

/// The same tree with every file's content moved to a spill file.
fn spilled(tree: &Tree, dir: &Path) -> Tree {
    let spill = microroot_tree::Spill::new(dir, 0);
    let mut out = tree.clone();
    for (_, e) in out.iter_mut() {
        if let Kind::File(blob) = &e.kind {
            e.kind = Kind::File(spill.store(&mut blob.reader(), blob.len()).unwrap());
        }
    }
    assert!(spill.spilled() > 0);
    out
}

#[test]
fn spilled_contents_write_the_same_image() {
    let dir = tempfile::tempdir().unwrap();
    let mut tree = sample_tree();
    // Several blocks and a partial last block.
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    tree.insert(&p("etc/big"), entry(0o644, Kind::File(big.into()))).unwrap();
    let (memory, _) = image(dir.path(), "memory.ext4", &tree, &options());
    let (spill, _) = image(dir.path(), "spill.ext4", &spilled(&tree, dir.path()), &options());
    assert!(std::fs::read(&memory).unwrap() == std::fs::read(&spill).unwrap(), "images differ");
    assert_eq!(without_lost_found(read_ext4_file(&spill).unwrap()), tree);
}
