//! Paths the public API only reaches with huge trees: extent index blocks
//! (forced with a tiny maximum extent length) and directories with more
//! subdirectories than a link count holds.

use std::io::BufWriter;
use std::path::Path;
use std::process::Command;

use microroot_tree::{Entry, Kind, Meta, Tree, TreePath};

use crate::nodes::{collect, index};
use crate::{write_with, Error, Options};

fn p(s: &str) -> TreePath {
    TreePath::new(s).unwrap()
}

fn run(tool: &str, args: &[&str]) -> std::process::Output {
    let path = format!("{}:/usr/sbin:/sbin", std::env::var("PATH").unwrap_or_default());
    Command::new(tool)
        .args(args)
        .env("PATH", path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{tool}`: {e}\nhint: apt-get install e2fsprogs"))
}

fn e2fsck(image: &Path) {
    let out = run("e2fsck", &["-fn", image.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "e2fsck: {text}{}", String::from_utf8_lossy(&out.stderr));
}

/// `debugfs -R 'dump'` of `path` into a host file, read back.
fn dump(image: &Path, path: &str) -> Vec<u8> {
    let host = image.with_extension("out");
    let request = format!("dump {path} {}", host.display());
    let out = run("debugfs", &["-R", &request, image.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::read(host).unwrap()
}

fn stat(image: &Path, path: &str) -> String {
    let out = run("debugfs", &["-R", &format!("stat {path}"), image.to_str().unwrap()]);
    String::from_utf8(out.stdout).unwrap()
}

fn write_file(tree: &Tree, opts: &Options, max_extent: u64, path: &Path) -> Result<(), Error> {
    let file = std::fs::File::create(path).unwrap();
    write_with(tree, opts, max_extent, &mut BufWriter::new(file)).map(|_| ())
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i / 4096 + i % 251) as u8).collect()
}

#[test]
fn extent_index_blocks_with_short_extents() {
    let mut tree = Tree::new();
    // Interleaved with small files, so no two of its runs merge.
    tree.insert(&p("a"), Entry::file(0o644, pattern(50 * 4096 + 7))).unwrap();
    tree.insert(&p("b"), Entry::file(0o644, pattern(1500 * 4096))).unwrap();
    tree.insert(&p("c"), Entry::file(0o644, pattern(3 * 4096))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for csum in [true, false] {
        let opts = Options { metadata_csum: csum, ..Options::from_seed(b"index", 1_700_000_000) };
        let image = dir.path().join(format!("index-{csum}.ext4"));
        // With one-block extents `b` needs 1500: more than four leaves.
        match write_file(&tree, &opts, 1, &image) {
            Err(Error::FileTooLarge { path, size }) => assert_eq!((path.as_str(), size), ("b", 1500 * 4096)),
            other => panic!("expected FileTooLarge, got {other:?}"),
        }
        // Two-block extents: `a` needs 26 (one leaf), `b` 750 (three
        // leaves), the 1024-block journal 512 (two leaves).
        write_file(&tree, &opts, 2, &image).unwrap();
        e2fsck(&image);
        assert_eq!(dump(&image, "/a"), pattern(50 * 4096 + 7));
        assert_eq!(dump(&image, "/b"), pattern(1500 * 4096));
        assert_eq!(dump(&image, "/c"), pattern(3 * 4096));
        let a = stat(&image, "/a");
        assert!(a.contains("Blockcount: 416"), "51 blocks data, 1 leaf: {a}");
        let b = stat(&image, "/b");
        let journal = stat(&image, "<8>");
        assert_eq!(journal.matches("ETB0").count(), 2, "{journal}");
        assert!(b.contains("(ETB0):"), "index blocks listed: {b}");
        assert_eq!(b.matches("ETB0").count(), 3, "{b}");
    }
}

#[test]
fn directories_past_the_link_limit_count_one() {
    let mut tree = Tree::new();
    tree.insert(&p("d"), Entry::dir(0o755)).unwrap();
    for i in 0..65_001 {
        tree.insert(&p(&format!("d/{i}")), Entry::dir(0o755)).unwrap();
    }
    tree.insert(&p("small"), Entry::dir(0o755)).unwrap();
    tree.insert(&p("small/one"), Entry::dir(0o755)).unwrap();
    let nodes = collect(&tree, 0).unwrap();
    let by_path = |s: &str| nodes.iter().find(|n| n.path.as_str() == s).unwrap();
    assert_eq!(by_path("d").links, 1, "dir_nlink: too many to count");
    assert_eq!(by_path("small").links, 3);
    assert_eq!(nodes[index(by_path("small/one").ino)].links, 2);
}

#[test]
fn a_file_with_too_many_hardlinks_is_an_error() {
    let mut tree = Tree::new();
    tree.insert(&p("f"), Entry::file(0o644, "x")).unwrap();
    for i in 0..65_000 {
        tree.insert(&p(&format!("l{i}")), Entry::new(Meta::new(0o644), Kind::Hardlink(p("f")))).unwrap();
    }
    let err = collect(&tree, 0).unwrap_err();
    assert!(matches!(err, Error::TooManyLinks { links: 65_001, .. }), "{err}");
}
