//! Every kind of tree entry, read back through debugfs: type, mode, owner,
//! time, link count, size, device numbers, symlink targets, xattrs and
//! content.

mod common;

use std::path::{Path, PathBuf};

use common::*;

fn sample_image() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = image(dir.path(), "sample.ext4", &sample_tree(), &options());
    (dir, path)
}

fn cat(image: &Path, path: &str) -> Vec<u8> {
    debugfs(image, &format!("cat \"{path}\""))
}

#[test]
fn files_keep_mode_owner_time_and_content() {
    let (_dir, img) = sample_image();
    let s = Stat::of(&img, "/usr/bin/su");
    assert_eq!((s.field("Type"), s.mode(), s.num("User"), s.num("Group")), ("regular", 0o4755, 0, 0));
    assert_eq!((s.mtime(), s.num("Links"), s.num("Size")), (EPOCH, 1, 13));
    assert_eq!(cat(&img, "/usr/bin/su"), b"#!/bin/false\n");

    let s = Stat::of(&img, "/home/user/data");
    assert_eq!((s.mode(), s.num("User"), s.num("Group")), (0o600, 70000, 70001));
    assert_eq!(s.mtime(), FAR_FUTURE, "needs the epoch bits");
    assert_eq!(cat(&img, "/home/user/data"), vec![7u8; 10_000]);

    assert_eq!(Stat::of(&img, "/opt/before-epoch").mtime(), -1);
    let s = Stat::of(&img, "/etc/empty");
    assert_eq!((s.num("Size"), s.num("Blockcount"), s.field("Flags")), (0, 0, "0x80000"));
    assert_eq!(cat(&img, "/etc/\u{fc}nicode"), b"unicode");
    assert_eq!(cat(&img, &format!("/etc/{}", long_name())), b"long name");
}

#[test]
fn directories_count_their_subdirectories() {
    let (_dir, img) = sample_image();
    // `.`, the name in `/`, and `..` of bin and lib.
    let s = Stat::of(&img, "/usr");
    assert_eq!((s.field("Type"), s.mode(), s.num("Links")), ("directory", 0o755, 4));
    let s = Stat::of(&img, "/tmp");
    assert_eq!((s.mode(), s.num("Links")), (0o1777, 2));
    // etc usr dev run tmp home opt lost+found
    assert_eq!(Stat::of(&img, "/").num("Links"), 2 + 8);
    let s = Stat::of(&img, "/lost+found");
    assert_eq!((s.mode(), s.num("Size"), s.num("Links")), (0o700, 16384, 2));
    assert_eq!(s.mtime(), EPOCH, "the options' timestamp");
    let s = Stat::of(&img, "/home/user");
    assert_eq!((s.mode(), s.num("User"), s.num("Group")), (0o750, 1000, 1000));
}

#[test]
fn hardlinks_share_one_inode() {
    let (_dir, img) = sample_image();
    let inode = |path: &str| Stat::of(&img, path).num("Inode");
    let target = inode("/usr/bin/aaa-link");
    assert_eq!(inode("/usr/bin/hello"), target);
    assert_eq!(inode("/usr/bin/zzz-link"), target);
    assert_eq!(Stat::of(&img, "/usr/bin/hello").num("Links"), 3);
    assert_eq!(cat(&img, "/usr/bin/zzz-link"), b"shared by three names\n");
}

#[test]
fn symlinks_fast_and_slow() {
    let (_dir, img) = sample_image();
    let s = Stat::of(&img, "/bin");
    assert_eq!((s.field("Type"), s.mode(), s.num("Size")), ("symlink", 0o777, 7));
    assert!(s.0.contains("Fast link dest: \"usr/bin\""), "{}", s.0);
    assert_eq!(s.field("Flags"), "0x0", "no extents on a fast symlink");
    let s = Stat::of(&img, "/usr/lib/long-link");
    assert_eq!((s.field("Type"), s.num("Size"), s.num("Blockcount")), ("symlink", 120, 8));
    assert_eq!(cat(&img, "/usr/lib/long-link"), long_target().as_bytes());
}

#[test]
fn devices_fifos_and_sockets() {
    let (_dir, img) = sample_image();
    let s = Stat::of(&img, "/dev/null");
    assert_eq!((s.field("Type"), s.mode(), s.device()), ("character", 0o666, (1, 3)));
    assert!(!s.0.contains("New-style"), "old encoding for small numbers");
    let s = Stat::of(&img, "/dev/vda");
    assert_eq!((s.field("Type"), s.mode(), s.device()), ("block", 0o660, (254, 0)));
    let s = Stat::of(&img, "/dev/big");
    assert_eq!(s.device(), (300, 70000));
    assert!(s.0.contains("(New-style)"), "{}", s.0);
    let s = Stat::of(&img, "/run/initctl");
    assert_eq!((s.field("Type"), s.mode()), ("FIFO", 0o600));
    let s = Stat::of(&img, "/run/socket");
    assert_eq!((s.field("Type"), s.mode()), ("socket", 0o666));
}

#[test]
fn xattrs_in_the_inode_and_in_a_shared_block() {
    let (_dir, img) = sample_image();
    let list = debugfs_text(&img, "ea_list /usr/bin/ping");
    assert!(list.contains("user.comment (5) = \"hello\""), "{list}");
    let cap: String = cap_net_raw().iter().map(|b| format!("{b:02x} ")).collect();
    assert!(list.contains(&format!("security.capability (20) = {cap}")), "{list}");
    assert_eq!(Stat::of(&img, "/usr/bin/ping").num("ACL"), 0, "no attribute block");

    let a = Stat::of(&img, "/usr/bin/big-xattr-1");
    let b = Stat::of(&img, "/usr/bin/big-xattr-2");
    assert_ne!(a.field("ACL"), "0");
    assert_eq!(a.field("ACL"), b.field("ACL"), "one shared block");
    assert_eq!(a.num("Blockcount"), 16, "data block plus attribute block");
    let value = debugfs(&img, "ea_get /usr/bin/big-xattr-2 user.big");
    assert!(value.windows(1000).any(|w| w == [b'b'; 1000]), "{}", String::from_utf8_lossy(&value));
    let list = debugfs_text(&img, "ea_list /usr/bin/big-xattr-1");
    assert!(list.contains("trusted.small (1) = \"s\""), "{list}");

    // ACLs are stored in ext4's own format (version 1, short entries).
    let list = debugfs_text(&img, "ea_list /home/user");
    let disk = "01 00 00 00 01 00 07 00 02 00 05 00 e8 03 00 00 04 00 05 00 10 00 05 00 20 00 00 00";
    assert!(list.contains(&format!("system.posix_acl_access (28) = {disk}")), "{list}");
    assert!(list.contains(&format!("system.posix_acl_default (28) = {disk}")), "{list}");
}

#[test]
fn rdump_reproduces_the_tree() {
    let (dir, img) = sample_image();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    debugfs(&img, &format!("rdump / {}", out.display()));
    let tree = sample_tree();
    for (path, entry) in tree.iter() {
        let host = out.join(path.as_str());
        if let microroot_tree::Kind::File(blob) = &entry.kind {
            assert_eq!(std::fs::read(&host).unwrap(), &*blob.bytes(), "{path}");
        }
        if let microroot_tree::Kind::Symlink(target) = &entry.kind {
            assert_eq!(std::fs::read_link(&host).unwrap().to_str().unwrap(), target, "{path}");
        }
    }
}
