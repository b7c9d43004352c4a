//! Shared helpers: write an image, then ask the e2fsprogs reference tools
//! about it. A missing tool fails the test with an install hint instead of
//! skipping it, so a passing run always means e2fsck agreed.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use microroot_ext4::{write_ext4_file, Options, Summary};
use microroot_tree::{Entry, Kind, Meta, Tree, TreePath};

pub const EPOCH: i64 = 1_700_000_000;

pub fn p(s: &str) -> TreePath {
    TreePath::new(s).unwrap()
}

pub fn entry(mode: u32, kind: Kind) -> Entry {
    let mut meta = Meta::new(mode);
    meta.mtime = EPOCH;
    Entry::new(meta, kind)
}

pub fn options() -> Options {
    Options::from_seed(b"microroot-ext4 tests", EPOCH)
}

/// Writes `tree` to `dir/name` and checks it with `e2fsck -fn`.
pub fn image(dir: &Path, name: &str, tree: &Tree, opts: &Options) -> (PathBuf, Summary) {
    let path = dir.join(name);
    let summary = write_ext4_file(tree, opts, &path).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), summary.size_bytes);
    e2fsck(&path);
    (path, summary)
}

fn tool(name: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(name);
    cmd.args(args).env("LC_ALL", "C").env("TZ", "UTC");
    // e2fsprogs lives in /sbin, which is not always on PATH.
    let path = std::env::var("PATH").unwrap_or_default();
    cmd.env("PATH", format!("{path}:/usr/sbin:/sbin"));
    match cmd.output() {
        Ok(out) => out,
        Err(e) => panic!("cannot run `{name}`: {e}\nhint: apt-get install e2fsprogs"),
    }
}

/// `e2fsck -fn` must find nothing at all to fix.
pub fn e2fsck(image: &Path) {
    let out = tool("e2fsck", &["-fn", image.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "e2fsck -fn {} exited with {}:\n{}{}",
        image.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// stdout of `debugfs -R <request>`; debugfs reports errors on stderr
/// with exit status 0, so they are checked here.
pub fn debugfs(image: &Path, request: &str) -> Vec<u8> {
    let out = tool("debugfs", &["-R", request, image.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let complaints: Vec<&str> = stderr.lines().filter(|l| !l.starts_with("debugfs ")).collect();
    assert!(out.status.success() && complaints.is_empty(), "debugfs -R '{request}': {stderr}");
    out.stdout
}

pub fn debugfs_text(image: &Path, request: &str) -> String {
    String::from_utf8(debugfs(image, request)).unwrap()
}

/// `dumpe2fs -h` output.
pub fn dumpe2fs(image: &Path) -> String {
    let out = tool("dumpe2fs", &["-h", image.to_str().unwrap()]);
    assert!(out.status.success(), "dumpe2fs: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The value of `Field name:` in `dumpe2fs -h` output.
pub fn field<'a>(dump: &'a str, name: &str) -> &'a str {
    dump.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
        .unwrap_or_else(|| panic!("no `{name}` in\n{dump}"))
        .trim()
}

/// 2286-11-20 17:46:40 UTC: past 2038, so it needs the epoch bits.
pub const FAR_FUTURE: i64 = 10_000_000_000;

/// `security.capability` granting CAP_NET_RAW (v2 format, 20 bytes).
pub fn cap_net_raw() -> Vec<u8> {
    let mut v = 0x0200_0001u32.to_le_bytes().to_vec(); // VFS_CAP_REVISION_2 | effective
    v.extend_from_slice(&(1u32 << 13).to_le_bytes()); // permitted: CAP_NET_RAW
    v.extend_from_slice(&[0; 12]);
    v
}

/// A POSIX ACL in xattr format: user::rwx, user:1000:r-x, group::r-x,
/// mask::r-x, other::---.
pub fn acl() -> Vec<u8> {
    let mut v = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in
        [(1u16, 7u16, u32::MAX), (2, 5, 1000), (4, 5, u32::MAX), (0x10, 5, u32::MAX), (0x20, 0, u32::MAX)]
    {
        v.extend_from_slice(&tag.to_le_bytes());
        v.extend_from_slice(&perm.to_le_bytes());
        v.extend_from_slice(&id.to_le_bytes());
    }
    v
}

pub fn long_target() -> String {
    format!("../../{}", "x".repeat(114))
}

pub fn long_name() -> String {
    "n".repeat(255)
}

/// Every kind of entry, with owners, modes, times and xattrs worth checking.
pub fn sample_tree() -> Tree {
    let mut t = Tree::new();
    let mut ins = |path: &str, e: Entry| {
        t.insert(&p(path), e).unwrap();
    };
    ins("etc", entry(0o755, Kind::Dir));
    ins("etc/hostname", entry(0o644, Kind::File("microroot\n".into())));
    ins("etc/empty", entry(0o600, Kind::File(Vec::new().into())));
    ins("etc/\u{fc}nicode", entry(0o640, Kind::File("unicode".into())));
    ins(&format!("etc/{}", long_name()), entry(0o644, Kind::File("long name".into())));
    ins("usr", entry(0o755, Kind::Dir));
    ins("usr/bin", entry(0o755, Kind::Dir));
    ins("usr/bin/su", entry(0o4755, Kind::File("#!/bin/false\n".into())));
    ins("usr/bin/aaa-link", entry(0o755, Kind::File("shared by three names\n".into())));
    ins("usr/bin/hello", entry(0o755, Kind::Hardlink(p("usr/bin/aaa-link"))));
    ins("usr/bin/zzz-link", entry(0o755, Kind::Hardlink(p("usr/bin/aaa-link"))));
    let mut ping = entry(0o755, Kind::File(vec![0x7f, b'E', b'L', b'F'].into()));
    ping.meta.xattrs.insert("security.capability".into(), cap_net_raw());
    ping.meta.xattrs.insert("user.comment".into(), b"hello".to_vec());
    ins("usr/bin/ping", ping);
    // Too big for the inode: both share one attribute block.
    for name in ["usr/bin/big-xattr-1", "usr/bin/big-xattr-2"] {
        let mut e = entry(0o644, Kind::File("x".into()));
        e.meta.xattrs.insert("user.big".into(), vec![b'b'; 1000]);
        e.meta.xattrs.insert("trusted.small".into(), b"s".to_vec());
        ins(name, e);
    }
    ins("usr/lib", entry(0o755, Kind::Dir));
    ins("usr/lib/long-link", entry(0o777, Kind::Symlink(long_target())));
    ins("bin", entry(0o777, Kind::Symlink("usr/bin".into())));
    ins("dev", entry(0o755, Kind::Dir));
    ins("dev/null", entry(0o666, Kind::CharDev { major: 1, minor: 3 }));
    ins("dev/vda", entry(0o660, Kind::BlockDev { major: 254, minor: 0 }));
    ins("dev/big", entry(0o600, Kind::CharDev { major: 300, minor: 70000 }));
    ins("run", entry(0o755, Kind::Dir));
    ins("run/initctl", entry(0o600, Kind::Fifo));
    ins("run/socket", entry(0o666, Kind::Socket));
    ins("tmp", entry(0o1777, Kind::Dir));
    let mut home = entry(0o750, Kind::Dir);
    home.meta.uid = 1000;
    home.meta.gid = 1000;
    home.meta.xattrs.insert("system.posix_acl_access".into(), acl());
    home.meta.xattrs.insert("system.posix_acl_default".into(), acl());
    ins("home", entry(0o755, Kind::Dir));
    ins("home/user", home);
    let mut data = entry(0o600, Kind::File(vec![7u8; 10_000].into()));
    data.meta.uid = 70000;
    data.meta.gid = 70001;
    data.meta.mtime = FAR_FUTURE;
    ins("home/user/data", data);
    let mut old = entry(0o644, Kind::File("1".into()));
    old.meta.mtime = -1;
    ins("opt", entry(0o755, Kind::Dir));
    ins("opt/before-epoch", old);
    t
}

/// `debugfs -R 'stat <path>'`, read field by field.
pub struct Stat(pub String);

impl Stat {
    pub fn of(image: &Path, path: &str) -> Stat {
        Stat(debugfs_text(image, &format!("stat \"{path}\"")))
    }

    /// The token after the first `name:`.
    pub fn field(&self, name: &str) -> &str {
        let key = format!("{name}:");
        let mut tokens = self.0.split_whitespace();
        tokens.find(|t| *t == key).and_then(|_| tokens.next()).unwrap_or_else(|| panic!("no `{key}` in\n{}", self.0))
    }

    pub fn mode(&self) -> u32 {
        u32::from_str_radix(self.field("Mode"), 8).unwrap()
    }

    pub fn num(&self, name: &str) -> i64 {
        self.field(name).parse().unwrap()
    }

    /// mtime in seconds, decoded from the raw `0xlo:extra` pair.
    pub fn mtime(&self) -> i64 {
        let (lo, extra) = self.field("mtime").split_once(':').unwrap();
        let lo = u32::from_str_radix(lo.trim_start_matches("0x"), 16).unwrap();
        let extra = u32::from_str_radix(extra, 16).unwrap();
        lo as i32 as i64 + ((extra as i64 & 3) << 32)
    }

    /// `(major, minor)` of a device inode.
    pub fn device(&self) -> (u32, u32) {
        let line = self.0.lines().find(|l| l.contains("Device major/minor number:")).expect("a device");
        let nums = line.split("number:").nth(1).unwrap().split_whitespace().next().unwrap();
        let (major, minor) = nums.split_once(':').unwrap();
        (major.parse().unwrap(), minor.parse().unwrap())
    }

    /// Extents as `(logical range, physical range)` text pairs, e.g.
    /// `("0-32767", "1060-33827")`.
    pub fn extents(&self) -> Vec<(String, String)> {
        let Some(list) = self.0.split("EXTENTS:\n").nth(1) else { return Vec::new() };
        list.split(", ")
            .filter_map(|e| e.trim().strip_prefix('('))
            .filter_map(|e| e.split_once("):"))
            .filter(|(_, phys)| !phys.is_empty())
            .map(|(l, p)| (l.to_owned(), p.trim().to_owned()))
            .collect()
    }
}
