//! Shared fixtures: a tree with every kind of entry and edge case, and a
//! way to run the reference tools in a fixed locale and time zone.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::Path;
use std::process::{Command, Stdio};

use microroot_tree::{Entry, Kind, Meta, Tree, TreePath};

pub const EPOCH: i64 = 1_700_000_000;
/// 2286-11-20 17:46:40 UTC: beyond ustar's 11 octal digits.
pub const FAR_FUTURE: i64 = 10_000_000_000;
pub const PATH_150: &str = concat!(
    "srv/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/",
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/cccccccccccccccccccccccc"
);

pub fn p(s: &str) -> TreePath {
    TreePath::new(s).unwrap()
}

pub fn entry(mode: u32, kind: Kind) -> Entry {
    let mut meta = Meta::new(mode);
    meta.mtime = EPOCH;
    Entry::new(meta, kind)
}

pub fn file(mode: u32, content: &[u8]) -> Entry {
    entry(mode, Kind::File(content.into()))
}

/// A path over 255 bytes, so only a PAX `path` record can hold it.
pub fn path_300() -> String {
    format!("srv/{}/{}", "d".repeat(200), "e".repeat(95))
}

/// A 120-byte symlink target: longer than ustar's 100-byte linkname.
pub fn target_120() -> String {
    format!("../../{}", "x".repeat(114))
}

/// Every kind of entry and every header edge case the tar writer handles.
pub fn sample_tree() -> Tree {
    let mut tree = Tree::new();
    let mut put = |path: &str, e: Entry| {
        tree.insert(&p(path), e).unwrap();
    };
    for dir in ["dev", "etc", "home", "home/user", "opt", "run", "srv", "usr", "usr/bin", "usr/lib"] {
        put(dir, entry(0o755, Kind::Dir));
    }
    put("tmp", entry(0o1777, Kind::Dir));
    put("bin", entry(0o777, Kind::Symlink("usr/bin".into())));
    put("usr/bin/hello", file(0o755, b"#!/bin/sh\necho hello\n"));
    put("usr/bin/su", file(0o4755, b"\x7fELF pretend"));
    put("usr/bin/aaa-link", entry(0o755, Kind::Hardlink(p("usr/bin/hello"))));
    put("usr/bin/zzz-link", entry(0o755, Kind::Hardlink(p("usr/bin/hello"))));
    put("etc/empty", file(0o644, b""));
    put("etc/\u{fc}nicode", file(0o600, "gr\u{fc}\u{df}e\n".as_bytes()));
    put(PATH_150, file(0o644, b"one hundred and fifty\n"));
    put(&path_300(), file(0o640, b"three hundred\n"));
    put("usr/lib/long-link", entry(0o777, Kind::Symlink(target_120())));
    put("home/user/data", owned(file(0o600, &[7u8; 1000]), 70000, FAR_FUTURE));
    put("opt/huge-uid", owned(file(0o644, b"x"), 3_000_000_000, 0));
    put("opt/before-epoch", owned(file(0o644, b"y"), 0, -1));
    put("dev/null", entry(0o666, Kind::CharDev { major: 1, minor: 3 }));
    put("dev/vda", entry(0o660, Kind::BlockDev { major: 254, minor: 0 }));
    put("run/initctl", entry(0o600, Kind::Fifo));
    let mut ping = file(0o755, b"ping");
    ping.meta.xattrs.insert("security.capability".into(), vec![1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0]);
    ping.meta.xattrs.insert("user.comment".into(), b"hello xattr".to_vec());
    put("usr/bin/ping", ping);
    tree
}

pub fn owned(mut e: Entry, id: u32, mtime: i64) -> Entry {
    e.meta.uid = id;
    e.meta.gid = id;
    e.meta.mtime = mtime;
    e
}

/// Paths of sample-tree entries GNU tar cannot extract without root.
pub const DEVICES: [&str; 2] = ["dev/null", "dev/vda"];

/// Runs `program` in the C locale and UTC, failing the test on a non-zero
/// exit; returns stdout.
pub fn run(program: &str, args: &[&str]) -> Vec<u8> {
    run_with_stdin(program, args, &[])
}

pub fn run_with_stdin(program: &str, args: &[&str], stdin: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .env("LC_ALL", "C")
        .env("TZ", "UTC")
        .env_remove("TAR_OPTIONS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let feeder = std::thread::spawn(move || input.write_all(&stdin));
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

pub fn write_file(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
}

/// Members as python's `tarfile` reads them, one line each:
/// `name|type|mode|uid|gid|size|mtime|linkname|major,minor|xattrs`.
pub fn python_members(archive: &Path) -> Vec<String> {
    const SCRIPT: &str = r#"
import sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    for m in t.getmembers():
        x = ";".join(k[13:] + "=" + v.encode("utf-8", "surrogateescape").hex()
                     for k, v in sorted(m.pax_headers.items()) if k.startswith("SCHILY.xattr."))
        print("|".join([m.name, m.type.decode(), oct(m.mode), str(m.uid), str(m.gid), str(m.size),
                        str(int(m.mtime)), m.linkname, f"{m.devmajor},{m.devminor}", x]))
"#;
    let out = run("python3", &["-c", SCRIPT, archive.to_str().unwrap()]);
    String::from_utf8(out).unwrap().lines().map(str::to_owned).collect()
}
