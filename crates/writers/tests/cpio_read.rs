//! `read_cpio` against archives of both writers, ours (every kind of
//! entry, each initramfs compression, concatenated segments) and GNU
//! cpio's (`cpio -o -H newc`, data on the last hardlink), plus hostile and
//! corrupt input.

mod common;

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Command, Stdio};

use common::*;
use microroot_tree::{Kind, Tree, TreePath};
use microroot_writers::{compressed_writer, read_cpio, write_cpio, Compression, CpioReadError};
use proptest::prelude::*;

/// One line per entry: what newc can hold, hardlinks shown as the group's
/// first name and read through to the file's header and content.
fn canon(tree: &Tree) -> Vec<String> {
    tree.iter()
        .filter(|(path, _)| !path.is_root())
        .map(|(path, e)| {
            let (meta, kind) = match &e.kind {
                Kind::Hardlink(target) => (&tree.get(target).unwrap().meta, format!("link to {target}")),
                Kind::File(blob) => (&e.meta, format!("file {:?}", blob.bytes())),
                other => (&e.meta, format!("{other:?}")),
            };
            let mtime = meta.mtime.clamp(0, u32::MAX as i64);
            format!("{path} {:o} {}:{} {mtime} {kind}", meta.mode, meta.uid, meta.gid)
        })
        .collect()
}

fn cpio_tree() -> Tree {
    let mut tree = sample_tree();
    tree.insert(&p("run/socket"), entry(0o755, Kind::Socket)).unwrap();
    // The writer moves a hardlinked file to its first name, as the reader does.
    let hello = tree.get(&p("usr/bin/hello")).unwrap().clone();
    tree.insert(&p("usr/bin/aaa-link"), hello.clone()).unwrap();
    for name in ["usr/bin/hello", "usr/bin/zzz-link"] {
        tree.insert(&p(name), entry(0o755, Kind::Hardlink(p("usr/bin/aaa-link")))).unwrap();
    }
    tree
}

fn compress(data: &[u8], c: Compression) -> Vec<u8> {
    let mut enc = compressed_writer(Vec::new(), c).unwrap();
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

#[test]
fn reads_back_what_the_writer_wrote_in_every_compression() {
    let tree = cpio_tree();
    let plain = write_cpio(&tree, Vec::new()).unwrap();
    let read = read_cpio(&plain).unwrap();
    assert_eq!(canon(&read), canon(&tree));
    assert!(read.iter().all(|(_, e)| e.meta.xattrs.is_empty()), "newc holds no xattrs");
    for c in [Compression::Gzip { level: 9 }, Compression::INITRAMFS_XZ, Compression::Zstd { level: 12 }] {
        assert_eq!(read_cpio(&compress(&plain, c)).unwrap(), read, "{c:?}");
    }
}

#[test]
fn concatenated_segments_are_unpacked_in_order() {
    let mut early = Tree::new();
    early.insert(&p("kernel/x86/microcode/GenuineIntel.bin"), file(0o644, b"ucode")).unwrap();
    let mut main = Tree::new();
    main.insert(&p("init"), file(0o755, b"#!/bin/sh\n")).unwrap();
    main.insert(&p("etc/version"), file(0o644, b"1")).unwrap();
    let mut patch = Tree::new();
    patch.insert(&p("etc/version"), file(0o644, b"2")).unwrap();

    let mut image = write_cpio(&early, Vec::new()).unwrap();
    image.extend_from_slice(&[0; 512]);
    image.extend(compress(&write_cpio(&main, Vec::new()).unwrap(), Compression::Gzip { level: 6 }));
    image.extend_from_slice(&[0; 4]);
    image.extend(compress(&write_cpio(&patch, Vec::new()).unwrap(), Compression::Zstd { level: 3 }));
    let tree = read_cpio(&image).unwrap();
    assert_eq!(&*tree.file(&p("kernel/x86/microcode/GenuineIntel.bin")).unwrap().bytes(), b"ucode");
    assert_eq!(&*tree.file(&p("init")).unwrap().bytes(), b"#!/bin/sh\n");
    assert_eq!(&*tree.file(&p("etc/version")).unwrap().bytes(), b"2", "the later segment wins");
}

#[test]
fn reads_what_gnu_cpio_writes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let put = |rel: &str, data: &[u8], mode: u32| {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, data).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    put("etc/hostname", b"gnu\n", 0o644);
    put("usr/bin/tool", &[0x7f; 3000], 0o4755);
    put("usr/lib/empty", b"", 0o600);
    std::fs::hard_link(root.join("usr/bin/tool"), root.join("usr/bin/a-name")).unwrap();
    std::fs::hard_link(root.join("usr/bin/tool"), root.join("usr/lib/z-name")).unwrap();
    std::os::unix::fs::symlink("../lib/empty", root.join("usr/bin/link")).unwrap();
    let find = Command::new("find").arg(".").current_dir(&root).output().expect("find (findutils)");
    let mut cpio = Command::new("cpio")
        .args(["-o", "-H", "newc", "--quiet"])
        .current_dir(&root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run cpio: {e}\nhint: apt-get install cpio"));
    cpio.stdin.take().unwrap().write_all(&find.stdout).unwrap();
    let out = cpio.wait_with_output().unwrap();
    assert!(out.status.success());

    let tree = read_cpio(&out.stdout).unwrap();
    let md = |rel: &str| root.join(rel).symlink_metadata().unwrap();
    let e = tree.get(&p("usr/bin/a-name")).unwrap();
    assert_eq!(e.kind, Kind::File(vec![0x7f; 3000].into()), "the first name holds the data");
    assert_eq!((e.meta.mode, e.meta.mtime), (0o4755, md("usr/bin/tool").mtime()));
    for other in ["usr/bin/tool", "usr/lib/z-name"] {
        assert_eq!(tree.get(&p(other)).unwrap().kind, Kind::Hardlink(p("usr/bin/a-name")), "{other}");
    }
    assert_eq!(tree.get(&p("usr/bin/link")).unwrap().kind, Kind::Symlink("../lib/empty".into()));
    assert_eq!(&*tree.file(&p("etc/hostname")).unwrap().bytes(), b"gnu\n");
    let root_meta = &tree.get(&TreePath::root()).unwrap().meta;
    assert_eq!(root_meta.mode, md("").mode() & 0o7777, "`.` sets the root's header");
    assert_eq!(tree.len(), 11, "root, etc, usr, usr/bin, usr/lib and six names");
}

/// One newc member, built by hand.
fn member(name: &str, mode: u32, body: &[u8]) -> Vec<u8> {
    let mut out =
        format!("070701{:08X}{mode:08X}{:08X}{:08X}{:08X}{:08X}{:08X}", 1, 0, 0, 1, 0, body.len()).into_bytes();
    out.extend(format!("{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}", 0, 0, 0, 0, name.len() + 1, 0).into_bytes());
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    out.resize(out.len().next_multiple_of(4), 0);
    out.extend_from_slice(body);
    out.resize(out.len().next_multiple_of(4), 0);
    out
}

fn with_trailer(mut members: Vec<u8>) -> Vec<u8> {
    members.extend(member("TRAILER!!!", 0, b""));
    members
}

#[test]
fn escaping_names_and_corrupt_archives_are_errors() {
    for name in ["../etc/passwd", "/etc/passwd", "usr/../../x"] {
        let err = read_cpio(&with_trailer(member(name, 0o100644, b"x"))).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, CpioReadError::Member { .. }) && text.contains(name) && text.contains("hint:"), "{text}");
    }
    let good = with_trailer(member("etc/x", 0o100644, b"hello"));
    assert_eq!(&*read_cpio(&good).unwrap().file(&p("etc/x")).unwrap().bytes(), b"hello");
    let err = read_cpio(&good[..good.len() - 20]).unwrap_err();
    assert!(matches!(err, CpioReadError::Truncated { .. }), "{err}");
    let err = read_cpio(&good[..119]).unwrap_err();
    assert!(err.to_string().contains("cut off"), "{err}");
    let err = read_cpio(b"070707 old portable format").unwrap_err();
    assert!(matches!(err, CpioReadError::Magic { .. }), "{err}");
    let err = read_cpio(b"BZh91AY&SY").unwrap_err();
    assert!(err.to_string().contains("bzip2"), "{err}");
    let mut bad_hex = good.clone();
    bad_hex[6 + 8] = b'G';
    assert!(matches!(read_cpio(&bad_hex).unwrap_err(), CpioReadError::Field { field: "mode", .. }));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Flipped bytes give an error or a tree, never a panic.
    #[test]
    fn flipped_bytes_never_panic(flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..6), gz in any::<bool>()) {
        let plain = write_cpio(&cpio_tree(), Vec::new()).unwrap();
        let mut data = if gz { compress(&plain, Compression::Gzip { level: 1 }) } else { plain };
        for (at, x) in flips {
            let at = at % data.len();
            data[at] ^= x | 1;
        }
        let _ = read_cpio(&data);
    }
}
