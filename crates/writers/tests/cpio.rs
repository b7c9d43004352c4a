//! newc cpio archives through GNU cpio: it lists every member with the
//! header we meant and extracts files, directories, symlinks and hardlinks
//! exactly; each initramfs compression decodes with the reference tool and
//! has the check and window sizes the kernel's decoders accept.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use common::*;
use microroot_tree::{Entry, Kind, Tree};
use microroot_writers::{write_cpio, write_initramfs, Compression, CpioWriter, Error};

/// The sample tree plus what only cpio can hold.
fn cpio_tree() -> Tree {
    let mut tree = sample_tree();
    tree.insert(&p("run/socket"), entry(0o755, Kind::Socket)).unwrap();
    tree
}

fn archive(dir: &Path, tree: &Tree) -> std::path::PathBuf {
    let path = dir.join("initramfs.cpio");
    write_file(&path, &write_cpio(tree, Vec::new()).unwrap());
    path
}

/// `cpio -tv` lines with runs of spaces collapsed.
fn cpio_listing(archive: &Path) -> Vec<String> {
    let out = run("cpio", &["-tv", "--numeric-uid-gid", "-F", archive.to_str().unwrap()]);
    String::from_utf8(out).unwrap().lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect()
}

/// `ls -l` style permissions, with the type letter.
fn perms(e: &Entry) -> String {
    let ty = match e.kind {
        Kind::Dir => 'd',
        Kind::File(_) | Kind::Hardlink(_) => '-',
        Kind::Symlink(_) => 'l',
        Kind::CharDev { .. } => 'c',
        Kind::BlockDev { .. } => 'b',
        Kind::Fifo => 'p',
        Kind::Socket => 's',
    };
    let mode = e.meta.mode;
    let mut out = ty.to_string();
    for (shift, special, letter) in [(6, 0o4000, 's'), (3, 0o2000, 's'), (0, 0o1000, 't')] {
        let bits = (mode >> shift) & 7;
        out.push(if bits & 4 != 0 { 'r' } else { '-' });
        out.push(if bits & 2 != 0 { 'w' } else { '-' });
        out.push(match (bits & 1 != 0, mode & special != 0) {
            (true, true) => letter,
            (false, true) => letter.to_ascii_uppercase(),
            (true, false) => 'x',
            (false, false) => '-',
        });
    }
    out
}

/// How `cpio -tv` shows a date more than six months away: `Nov 14 2023`
/// (after collapsing spaces), in UTC.
fn cpio_date(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!("{} {day} {year}", MONTHS[month as usize - 1])
}

#[test]
fn gnu_cpio_lists_every_member_with_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let tree = cpio_tree();
    let lines = cpio_listing(&archive(dir.path(), &tree));
    let names: Vec<&str> = tree.iter().skip(1).map(|(p, _)| p.as_str()).collect();
    assert_eq!(lines.len(), names.len(), "one member per entry, no root:\n{}", lines.join("\n"));
    for ((path, e), line) in tree.iter().skip(1).zip(&lines) {
        let inode = match &e.kind {
            Kind::Hardlink(target) => tree.get(target).unwrap(),
            _ => e,
        };
        let nlink = match path.as_str() {
            "usr/bin/hello" | "usr/bin/aaa-link" | "usr/bin/zzz-link" => 3,
            _ if e.is_dir() => 2,
            _ => 1,
        };
        let size = match &e.kind {
            Kind::CharDev { major, minor } | Kind::BlockDev { major, minor } => format!("{major}, {minor}"),
            Kind::Symlink(t) => t.len().to_string(),
            // Only the last name of a hardlinked file carries the data.
            Kind::File(b) if path.as_str() != "usr/bin/hello" => b.len().to_string(),
            Kind::Hardlink(_) if path.as_str() == "usr/bin/zzz-link" => inode.size().to_string(),
            _ => "0".to_owned(),
        };
        let m = &inode.meta;
        let mtime = m.mtime.clamp(0, i64::from(u32::MAX));
        let link = match &e.kind {
            Kind::Symlink(t) => format!(" -> {t}"),
            _ => String::new(),
        };
        let want =
            format!("{} {nlink} {} {} {size} {} {}{link}", perms(inode), m.uid, m.gid, cpio_date(mtime), path.as_str());
        assert_eq!(line, &want, "{path}");
    }
    assert!(lines.contains(&"crw-rw-rw- 1 0 0 1, 3 Nov 14 2023 dev/null".to_owned()));
    assert!(lines.contains(&"brw-rw---- 1 0 0 254, 0 Nov 14 2023 dev/vda".to_owned()));
    assert!(lines.contains(&"prw------- 1 0 0 0 Nov 14 2023 run/initctl".to_owned()));
    assert!(lines.contains(&"srwxr-xr-x 1 0 0 0 Nov 14 2023 run/socket".to_owned()));
    assert!(lines.contains(&"-rw------- 1 70000 70000 1000 Feb 7 2106 home/user/data".to_owned()), "mtime clamped");
}

#[test]
fn gnu_cpio_extracts_content_modes_links_and_hardlinks() {
    let dir = tempfile::tempdir().unwrap();
    let tree = cpio_tree();
    let cpio = archive(dir.path(), &tree);
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let args = [
        "-idm",
        "--no-absolute-filenames",
        "--no-preserve-owner",
        "-D",
        root.to_str().unwrap(),
        "-F",
        cpio.to_str().unwrap(),
    ];
    let skip = ["dev/null", "dev/vda", "run/socket"];
    let mut args: Vec<&str> = args.to_vec();
    args.push("-f");
    args.extend(skip);
    run("cpio", &args);
    for (path, entry) in tree.iter().skip(1).filter(|(p, _)| !skip.contains(&p.as_str())) {
        let on_disk = root.join(path.as_str());
        let md = std::fs::symlink_metadata(&on_disk).unwrap_or_else(|e| panic!("{path}: {e}"));
        match &entry.kind {
            Kind::Symlink(target) => {
                assert_eq!(std::fs::read_link(&on_disk).unwrap().to_str(), Some(target.as_str()), "{path}");
                continue;
            }
            Kind::Hardlink(target) => {
                let file = std::fs::metadata(root.join(target.as_str())).unwrap();
                assert_eq!((md.ino(), md.nlink()), (file.ino(), 3), "{path}");
                assert_eq!(std::fs::read(&on_disk).unwrap(), b"#!/bin/sh\necho hello\n", "{path}");
                continue;
            }
            Kind::File(blob) => {
                assert_eq!(std::fs::read(&on_disk).unwrap(), &*blob.bytes(), "{path}");
                assert_eq!(md.len(), blob.len(), "{path}");
                assert_eq!(md.mtime(), entry.meta.mtime.clamp(0, i64::from(u32::MAX)), "{path}");
            }
            Kind::Dir => assert!(md.is_dir(), "{path}"),
            Kind::Fifo => assert!(std::os::unix::fs::FileTypeExt::is_fifo(&md.file_type()), "{path}"),
            other => panic!("{path}: unexpected {other:?}"),
        }
        assert_eq!(md.permissions().mode() & 0o7777, entry.meta.mode, "{path}");
    }
    assert_eq!(std::fs::metadata(root.join("etc/empty")).unwrap().len(), 0);
}

#[test]
fn same_tree_gives_same_bytes_and_inodes_count_from_one() {
    let tree = cpio_tree();
    let once = write_cpio(&tree, Vec::new()).unwrap();
    assert_eq!(once, write_cpio(&tree, Vec::new()).unwrap());
    let mut rebuilt = Tree::new();
    let entries: Vec<_> = tree.iter().skip(1).collect();
    for (path, e) in entries.iter().rev().filter(|(_, e)| !matches!(e.kind, Kind::Hardlink(_))) {
        rebuilt.insert(path, (*e).clone()).unwrap();
    }
    for (path, e) in entries.iter().filter(|(_, e)| matches!(e.kind, Kind::Hardlink(_))) {
        rebuilt.insert(path, (*e).clone()).unwrap();
    }
    for (path, e) in entries.iter().filter(|(_, e)| e.is_dir()) {
        rebuilt.insert(path, (*e).clone()).unwrap();
    }
    assert_eq!(write_cpio(&rebuilt, Vec::new()).unwrap(), once, "insertion order does not matter");
    let text = String::from_utf8_lossy(&once);
    let inodes: Vec<u32> = text.split("070701").skip(1).map(|m| u32::from_str_radix(&m[..8], 16).unwrap()).collect();
    let distinct = tree.len() - 1 - 2; // two names share the inode of usr/bin/hello
    assert_eq!(inodes.iter().max(), Some(&(distinct as u32)));
    assert_eq!(inodes.last(), Some(&0), "the trailer");
}

#[test]
fn a_hardlink_to_a_missing_file_is_an_error() {
    let mut tree = Tree::new();
    tree.insert(&p("a"), file(0o644, b"x")).unwrap();
    tree.insert(&p("b"), entry(0o644, Kind::Hardlink(p("a")))).unwrap();
    tree.remove(&p("a"));
    let err = CpioWriter::new(Vec::new()).append_tree(&tree).unwrap_err();
    assert!(matches!(err, Error::HardlinkTarget { .. }), "{err}");
}

const FORMATS: [(Compression, &str); 5] = [
    (Compression::None, "cat"),
    (Compression::Gzip { level: 9 }, "gzip"),
    (Compression::INITRAMFS_XZ, "xz"),
    (Compression::Zstd { level: 19 }, "zstd"),
    (Compression::Zstd { level: 22 }, "zstd"),
];

#[test]
fn every_initramfs_compression_decodes_to_the_archive() {
    let tree = cpio_tree();
    let plain = write_cpio(&tree, Vec::new()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (i, (compression, tool)) in FORMATS.into_iter().enumerate() {
        let path = dir.path().join(format!("initramfs{i}.cpio"));
        let written = write_initramfs(&tree, &path, compression).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len() as u64, written.size);
        let decoded = if tool == "cat" { bytes } else { run(tool, &["-dc", path.to_str().unwrap()]) };
        assert_eq!(decoded, plain, "{compression:?}");
        assert_eq!(write_initramfs(&tree, &path, compression).unwrap().sha256, written.sha256, "deterministic");
    }
}

#[test]
fn initramfs_xz_has_the_crc32_check_the_kernel_verifies() {
    let dir = tempfile::tempdir().unwrap();
    for (compression, filter) in [
        (Compression::INITRAMFS_XZ, "--lzma2=dict=1MiB"),
        (Compression::Xz { level: 6, extreme: false, x86_bcj: true }, "--x86 --lzma2=dict=1MiB"),
        (Compression::Xz { level: 0, extreme: false, x86_bcj: false }, "--lzma2=dict=256KiB"),
    ] {
        let path = dir.path().join("initramfs.cpio.xz");
        write_initramfs(&cpio_tree(), &path, compression).unwrap();
        let info = String::from_utf8(run("xz", &["--robot", "--list", "-vv", path.to_str().unwrap()])).unwrap();
        let stream = info.lines().find(|l| l.starts_with("stream\t")).unwrap();
        assert_eq!(stream.split('\t').nth(8), Some("CRC32"), "{stream}");
        let block = info.lines().find(|l| l.starts_with("block\t")).unwrap();
        assert!(block.contains(&format!("\t{filter}")), "{compression:?}: {block}");
    }
}

#[test]
fn a_small_initramfs_gets_a_zstd_window_no_bigger_than_itself() {
    // The kernel's decoder allocates the whole window at boot.
    let dir = tempfile::tempdir().unwrap();
    let mut tree = Tree::new();
    let noise: Vec<u8> = (0..1_500_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    tree.insert(&p("init"), file(0o755, &noise)).unwrap();
    let path = dir.path().join("initramfs.cpio.zst");
    write_initramfs(&tree, &path, Compression::Zstd { level: 19 }).unwrap();
    let info = String::from_utf8(run("zstd", &["-lv", path.to_str().unwrap()])).unwrap();
    let bytes = |label: &str| -> u64 {
        let line = info.lines().find(|l| l.trim_start().starts_with(label)).unwrap_or_else(|| panic!("{info}"));
        line.split('(').nth(1).and_then(|r| r.split(' ').next()).unwrap().parse().unwrap()
    };
    let (window, content) = (bytes("Window Size:"), bytes("Decompressed Size:"));
    assert!(content > 1_500_000 && window <= content, "window {window} for {content} bytes\n{info}");
    // And the kernel-style stream still decompresses to the archive.
    let out = run("zstd", &["-dc", path.to_str().unwrap()]);
    assert_eq!(out.len() as u64, content);
}

#[test]
fn initramfs_zstd_windows_stay_within_8_mib() {
    let dir = tempfile::tempdir().unwrap();
    let mut big = Tree::new();
    let noise: Vec<u8> = (0..20_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    big.insert(&p("noise"), file(0o644, &noise)).unwrap();
    let path = dir.path().join("initramfs.cpio.zst");
    write_initramfs(&big, &path, Compression::Zstd { level: 22 }).unwrap();
    let info = String::from_utf8(run("zstd", &["-lv", path.to_str().unwrap()])).unwrap();
    let window = info.lines().find(|l| l.trim_start().starts_with("Window Size:")).unwrap();
    assert!(window.contains("(8388608 B)"), "{window}\n{info}");
    assert!(info.contains("Zstandard Frames: 1\n"), "{info}");
}

/// Files whose contents live in a spill file are written byte for byte as
/// if they were in memory, by the tar and the cpio writer.
#[test]
fn spilled_contents_give_the_same_archives() {
    let dir = tempfile::tempdir().unwrap();
    let mut tree = microroot_tree::Tree::new();
    let big: Vec<u8> = (0..700_000u32).map(|i| (i % 253) as u8).collect();
    tree.insert(&p("big"), file(0o644, &big)).unwrap();
    tree.insert(&p("small"), file(0o600, b"x")).unwrap();
    tree.insert(&p("link"), entry(0o644, Kind::Hardlink(p("big")))).unwrap();
    let spill = microroot_tree::Spill::new(dir.path(), 0);
    let mut spilled = tree.clone();
    for (_, e) in spilled.iter_mut() {
        if let Kind::File(blob) = &e.kind {
            e.kind = Kind::File(spill.store(&mut blob.reader(), blob.len()).unwrap());
        }
    }
    assert_eq!(spill.spilled(), 700_001);
    let tar = |t: &microroot_tree::Tree| microroot_writers::write_tree(t, Vec::new()).unwrap();
    let cpio = |t: &microroot_tree::Tree| microroot_writers::write_cpio(t, Vec::new()).unwrap();
    assert!(tar(&tree) == tar(&spilled), "tar differs");
    assert!(cpio(&tree) == cpio(&spilled), "cpio differs");
}
