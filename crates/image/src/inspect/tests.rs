//! One small image written in every format reads back to the same sizes;
//! detection goes by content; the HTML page is deterministic.

use std::path::{Path, PathBuf};

use microroot_tree::{Entry, Kind, Meta, Tree, TreePath};
use microroot_writers::{write_initramfs, write_tarball, Compression};

use super::*;

fn p(s: &str) -> TreePath {
    TreePath::new(s).unwrap()
}

/// A merged-/usr image with two packages, a hardlink and files of no package.
pub(crate) fn sample(with_zlib: bool) -> Tree {
    let mut t = Tree::new();
    let mut put = |path: &str, e: Entry| {
        t.insert(&p(path), e).unwrap();
    };
    put("usr/bin/busybox", Entry::file(0o755, vec![1u8; 9000]));
    put("usr/bin/sh", Entry::new(Meta::new(0o755), Kind::Hardlink(p("usr/bin/busybox"))));
    put("bin", Entry::symlink("usr/bin"));
    put("usr/lib/x86_64-linux-gnu/libc.so.6", Entry::file(0o755, vec![2u8; 20000]));
    put("etc/passwd", Entry::file(0o644, "root:x:0:0::/root:/bin/sh\n"));
    put("dev/null", Entry::new(Meta::new(0o666), Kind::CharDev { major: 1, minor: 3 }));
    let mut lists = vec![
        ("busybox", "/.\n/bin\n/bin/busybox\n/usr\n/usr/bin\n/usr/bin/sh\n", "1:1.37.0-6"),
        ("libc6:amd64", "/.\n/usr\n/usr/lib\n/usr/lib/x86_64-linux-gnu/libc.so.6\n", "2.41-12"),
    ];
    if with_zlib {
        put("usr/lib/x86_64-linux-gnu/libz.so.1.3.1", Entry::file(0o644, vec![3u8; 5000]));
        lists.push(("zlib1g:amd64", "/.\n/usr/lib/x86_64-linux-gnu/libz.so.1.3.1\n", "1:1.3.dfsg-3.1"));
    }
    let mut status = String::new();
    for (name, list, version) in &lists {
        put(&format!("var/lib/dpkg/info/{name}.list"), Entry::file(0o644, *list));
        let pkg = name.split(':').next().unwrap();
        status.push_str(&format!("Package: {pkg}\nStatus: install ok installed\nVersion: {version}\n\n"));
    }
    put("var/lib/dpkg/status", Entry::file(0o644, status));
    t
}

/// `tree` as tar.zst, cpio.gz, cpio (plain) and ext4 below `dir`.
pub(crate) fn outputs(tree: &Tree, dir: &Path) -> Vec<PathBuf> {
    let tar = dir.join("rootfs.tar.zst");
    write_tarball(tree, &tar, Compression::Zstd { level: 3 }).unwrap();
    let cpio = dir.join("initramfs.cpio.gz");
    write_initramfs(tree, &cpio, Compression::Gzip { level: 6 }).unwrap();
    let plain = dir.join("plain-name.tar.xz"); // a lying name: it is cpio
    write_initramfs(tree, &plain, Compression::None).unwrap();
    let ext4 = dir.join("rootfs.ext4");
    microroot_ext4::write_ext4_file(tree, &microroot_ext4::Options::from_seed(b"t", 0), &ext4).unwrap();
    vec![tar, cpio, plain, ext4]
}

#[test]
fn every_format_gives_the_same_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let tree = sample(false);
    let mut seen = Vec::new();
    for path in outputs(&tree, dir.path()) {
        let insp = inspect(&path).unwrap();
        seen.push(insp.format.clone());
        assert_eq!(insp.total_bytes, tree.content_size(), "{}", insp.format);
        let pkgs: Vec<(&str, u64)> = insp.by_package.iter().map(|(n, b)| (n.as_str(), *b)).collect();
        assert_eq!(pkgs[..2], [("libc6", 20000), ("busybox", 9000)], "{}", insp.format);
        assert_eq!(pkgs[2].0, NO_PACKAGE);
        assert_eq!(insp.versions["busybox"], "1:1.37.0-6");
        assert_eq!(insp.by_directory[0], ("/usr/lib".to_owned(), 20000));
        let sh = insp.entries.iter().find(|e| e.path == "/usr/bin/sh").unwrap();
        assert_eq!((sh.kind, sh.link.as_deref()), ("hardlink", Some("/usr/bin/busybox")), "{}", insp.format);
        assert_eq!(insp.largest(1)[0].path, "/usr/lib/x86_64-linux-gnu/libc.so.6");
    }
    assert_eq!(seen, ["tar.zst", "cpio.gz", "cpio", "ext4"]);
}

#[test]
fn unknown_and_unsupported_files_are_named_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.tar.xz");
    std::fs::write(&junk, "not xz").unwrap();
    let err = inspect(&junk).unwrap_err().to_string();
    assert!(err.contains("junk.tar.xz") && err.contains("not a tar archive") && err.contains("hint: "), "{err}");
    let bz = dir.path().join("x.cpio.bz2");
    std::fs::write(&bz, "BZh91AY&SY....").unwrap();
    assert!(inspect(&bz).unwrap_err().to_string().contains("bzip2 compression is not supported"));
    let err = inspect(dir.path()).unwrap_err().to_string();
    assert!(err.contains("is a directory") && err.contains("hint:"), "{err}");
    let bad_xz = dir.path().join("bad.tar.xz");
    let mut data = std::fs::read(&outputs(&sample(false), dir.path())[0]).unwrap();
    data.truncate(data.len() / 2);
    std::fs::write(&bad_xz, data).unwrap();
    let err = inspect(&bad_xz).unwrap_err().to_string();
    assert!(err.contains("bad.tar.xz") && err.contains("hint:"), "{err}");
}

#[test]
fn the_html_page_is_self_contained_and_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let path = &outputs(&sample(true), dir.path())[0];
    let page = || {
        let image = load(path).unwrap();
        html::inspect_page(&image, &Inspection::of(&image), 10)
    };
    let html = page();
    assert_eq!(html, page());
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains(" src="), "external resources");
    assert!(html.contains("<td>libc6</td><td>2.41-12</td>"), "{html}");
    let data = html.split("id=\"treemap-data\">").nth(1).unwrap();
    assert!(data.contains(r#""h":0,"n":"libc6","s":20000,"st":0,"v":"2.41-12"},"#), "the largest first: {data}");
    assert!(html.contains("function squarify"));
}
