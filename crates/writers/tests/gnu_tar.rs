//! Round trips through the reference readers: GNU tar lists and extracts
//! what the writer produced, python's `tarfile` reads every header field.

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use common::*;
use microroot_tree::{Entry, Kind, Tree};
use microroot_writers::{write_tree, Error, Naming, TarWriter};

const WHEN: &str = "2023-11-14 22:13:20";

fn archive(dir: &Path, tree: &Tree, naming: Naming) -> std::path::PathBuf {
    let mut tar = TarWriter::new(Vec::new());
    tar.naming(naming).append_tree(tree).unwrap();
    let path = dir.join("rootfs.tar");
    write_file(&path, &tar.finish().unwrap());
    path
}

/// `tar -tv` lines with runs of spaces collapsed.
fn gnu_listing(archive: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["--numeric-owner", "--full-time", "--quoting-style=literal", "-tvf"];
    args.push(archive.to_str().unwrap());
    args.extend_from_slice(extra);
    let out = String::from_utf8(run("tar", &args)).unwrap();
    out.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect()
}

#[test]
fn gnu_tar_lists_every_entry_with_type_owner_size_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let tree = sample_tree();
    let lines = gnu_listing(&archive(dir.path(), &tree, Naming::Bare), &[]);
    let expected = [
        format!("crw-rw-rw- 0/0 1,3 {WHEN} dev/null"),
        format!("brw-rw---- 0/0 254,0 {WHEN} dev/vda"),
        format!("prw------- 0/0 0 {WHEN} run/initctl"),
        format!("drwxrwxrwt 0/0 0 {WHEN} tmp/"),
        format!("-rw-r--r-- 0/0 0 {WHEN} etc/empty"),
        format!("-rw------- 0/0 8 {WHEN} etc/\u{fc}nicode"),
        format!("-rwsr-xr-x 0/0 12 {WHEN} usr/bin/su"),
        format!("lrwxrwxrwx 0/0 0 {WHEN} bin -> usr/bin"),
        format!("lrwxrwxrwx 0/0 0 {WHEN} usr/lib/long-link -> {}", target_120()),
        format!("-rwxr-xr-x 0/0 21 {WHEN} usr/bin/aaa-link"),
        format!("hrwxr-xr-x 0/0 0 {WHEN} usr/bin/hello link to usr/bin/aaa-link"),
        format!("hrwxr-xr-x 0/0 0 {WHEN} usr/bin/zzz-link link to usr/bin/aaa-link"),
        "-rw------- 70000/70000 1000 2286-11-20 17:46:40 home/user/data".to_owned(),
        "-rw-r--r-- 3000000000/3000000000 1 1970-01-01 00:00:00 opt/huge-uid".to_owned(),
        "-rw-r--r-- 0/0 1 1969-12-31 23:59:59 opt/before-epoch".to_owned(),
        format!("-rw-r--r-- 0/0 22 {WHEN} {PATH_150}"),
        format!("-rw-r----- 0/0 14 {WHEN} {}", path_300()),
    ];
    for line in &expected {
        assert!(lines.contains(line), "missing `{line}` in\n{}", lines.join("\n"));
    }
    let names: Vec<&str> = lines.iter().map(|l| member_name(l)).collect();
    let mut want: Vec<String> = tree.iter().skip(1).map(|(p, e)| bare_name(p.as_str(), e)).collect();
    want.sort();
    assert_eq!(names, want, "every entry once, in path order, root not stored");
}

fn member_name(line: &str) -> &str {
    let rest = line.splitn(6, ' ').nth(5).unwrap();
    rest.split(" -> ").next().unwrap().split(" link to ").next().unwrap()
}

fn bare_name(path: &str, e: &Entry) -> String {
    if e.is_dir() {
        format!("{path}/")
    } else {
        path.to_owned()
    }
}

#[test]
fn python_tarfile_reads_every_header_field() {
    let dir = tempfile::tempdir().unwrap();
    let tree = sample_tree();
    let members = python_members(&archive(dir.path(), &tree, Naming::Bare));
    let linked: BTreeSet<&str> = ["usr/bin/aaa-link", "usr/bin/hello", "usr/bin/zzz-link"].into();
    for (path, entry) in tree.iter().skip(1).filter(|(p, _)| !linked.contains(p.as_str())) {
        let want = python_line(path.as_str(), entry);
        assert!(members.contains(&want), "missing `{want}` in\n{}", members.join("\n"));
    }
    assert_eq!(members.len(), tree.len() - 1);
}

/// What `common::python_members` prints for an entry outside hardlink groups.
fn python_line(path: &str, e: &Entry) -> String {
    let (ty, link, dev) = match &e.kind {
        Kind::File(_) => ('0', "", (0, 0)),
        Kind::Symlink(t) => ('2', t.as_str(), (0, 0)),
        Kind::CharDev { major, minor } => ('3', "", (*major, *minor)),
        Kind::BlockDev { major, minor } => ('4', "", (*major, *minor)),
        Kind::Dir => ('5', "", (0, 0)),
        Kind::Fifo => ('6', "", (0, 0)),
        other => panic!("unexpected {other:?}"),
    };
    let xattrs: Vec<String> = e.meta.xattrs.iter().map(|(k, v)| format!("{k}={}", hex(v))).collect();
    let m = &e.meta;
    let size = e.size();
    format!(
        "{path}|{ty}|{:#o}|{}|{}|{size}|{}|{link}|{},{}|{}",
        m.mode,
        m.uid,
        m.gid,
        m.mtime,
        dev.0,
        dev.1,
        xattrs.join(";")
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn gnu_tar_lists_xattrs_of_every_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let tar = archive(dir.path(), &sample_tree(), Naming::Bare);
    let lines = gnu_listing(&tar, &["--xattrs", "--xattrs-include=*", "-v"]);
    let at = lines.iter().position(|l| l.ends_with(" usr/bin/ping")).unwrap();
    assert!(lines[at].starts_with("-rwxr-xr-x*"), "{}", lines[at]);
    assert_eq!(lines[at + 1..at + 3], ["x: 10 security.capability", "x: 11 user.comment"]);
}

#[test]
fn gnu_tar_extracts_content_modes_mtimes_and_links() {
    let dir = tempfile::tempdir().unwrap();
    let tree = sample_tree();
    let tar = archive(dir.path(), &tree, Naming::Bare);
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let mut args = vec!["-xpf", tar.to_str().unwrap(), "-C", root.to_str().unwrap(), "--no-same-owner"];
    let excludes: Vec<String> = DEVICES.iter().map(|d| format!("--exclude={d}")).collect();
    args.extend(excludes.iter().map(String::as_str));
    run("tar", &args);
    for (path, entry) in tree.iter().skip(1).filter(|(p, _)| !DEVICES.contains(&p.as_str())) {
        check_extracted(&root, path.as_str(), entry);
    }
}

fn check_extracted(root: &Path, path: &str, entry: &Entry) {
    let on_disk = root.join(path);
    let md = std::fs::symlink_metadata(&on_disk).unwrap_or_else(|e| panic!("{path}: {e}"));
    match &entry.kind {
        Kind::Symlink(target) => {
            assert_eq!(std::fs::read_link(&on_disk).unwrap().to_str(), Some(target.as_str()), "{path}");
            return;
        }
        Kind::Hardlink(target) => {
            assert_eq!(md.ino(), std::fs::metadata(root.join(target.as_str())).unwrap().ino(), "{path}");
            assert_eq!(md.nlink(), 3, "{path}");
            return;
        }
        Kind::File(blob) => assert_eq!(std::fs::read(&on_disk).unwrap(), &*blob.bytes(), "{path}"),
        Kind::Dir => assert!(md.is_dir(), "{path}"),
        Kind::Fifo => assert!(md.file_type().is_fifo(), "{path}"),
        other => panic!("{path}: unexpected {other:?}"),
    }
    assert_eq!(md.permissions().mode() & 0o7777, entry.meta.mode, "{path}");
    assert_eq!(md.mtime(), entry.meta.mtime, "{path}");
}

#[test]
fn dot_slash_naming_stores_the_root_like_mmdebstrap() {
    let dir = tempfile::tempdir().unwrap();
    let mut tree = sample_tree();
    tree.get_mut(&p("")).unwrap().meta.mtime = EPOCH;
    let tar = archive(dir.path(), &tree, Naming::DotSlash);
    let lines = gnu_listing(&tar, &[]);
    assert_eq!(lines[0], format!("drwxr-xr-x 0/0 0 {WHEN} ./"));
    assert_eq!(lines[1], format!("lrwxrwxrwx 0/0 0 {WHEN} ./bin -> usr/bin"));
    assert_eq!(lines[2], format!("drwxr-xr-x 0/0 0 {WHEN} ./dev/"));
    let link = format!("hrwxr-xr-x 0/0 0 {WHEN} ./usr/bin/hello link to ./usr/bin/aaa-link");
    assert!(lines.contains(&link), "{}", lines.join("\n"));
    assert!(lines.contains(&format!("-rw-r----- 0/0 14 {WHEN} ./{}", path_300())));

    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    run("tar", &["-xpf", tar.to_str().unwrap(), "-C", root.to_str().unwrap(), "--exclude=./dev/*"]);
    check_extracted(&root, "usr/bin/zzz-link", tree.get(&p("usr/bin/zzz-link")).unwrap());
    check_extracted(&root, PATH_150, tree.get(&p(PATH_150)).unwrap());
    assert_eq!(std::fs::metadata(&root).unwrap().mtime(), EPOCH, "the root's header applies to the target");
}

#[test]
fn same_tree_gives_same_bytes_whatever_the_insertion_order() {
    let tree = sample_tree();
    let once = write_tree(&tree, Vec::new()).unwrap();
    assert_eq!(once, write_tree(&tree, Vec::new()).unwrap());

    let mut reversed = Tree::new();
    let entries: Vec<_> = tree.iter().skip(1).filter(|(_, e)| !matches!(e.kind, Kind::Hardlink(_))).collect();
    let links: Vec<_> = tree.iter().filter(|(_, e)| matches!(e.kind, Kind::Hardlink(_))).collect();
    for (path, entry) in entries.into_iter().rev().chain(links) {
        reversed.insert(path, entry.clone()).unwrap();
    }
    assert_eq!(once, write_tree(&reversed, Vec::new()).unwrap());
    assert_eq!(once.len() % 512, 0);
    assert!(once.ends_with(&[0; 1024]));
}

#[test]
fn sockets_are_refused_with_a_hint() {
    let mut tree = Tree::new();
    tree.insert(&p("run/sock"), entry(0o755, Kind::Socket)).unwrap();
    let err = write_tree(&tree, Vec::new()).unwrap_err();
    assert!(matches!(&err, Error::Unsupported { path, .. } if path.as_str() == "run/sock"));
    assert!(err.to_string().contains("\nhint: "), "{err}");
}

#[test]
fn dangling_hardlink_is_an_error_naming_both_paths() {
    let mut tree = Tree::new();
    tree.insert(&p("a"), file(0o644, b"a")).unwrap();
    tree.insert(&p("b"), entry(0o644, Kind::Hardlink(p("a")))).unwrap();
    tree.remove(&p("a"));
    let err = write_tree(&tree, Vec::new()).unwrap_err();
    assert_eq!(err.to_string(), "hardlink `/b` points to `/a`, which is not a regular file in the tree");
}

#[test]
fn append_writes_single_entries() {
    let dir = tempfile::tempdir().unwrap();
    let mut tar = TarWriter::new(Vec::new());
    tar.append(&p("etc/motd"), &file(0o644, b"hi\n")).unwrap();
    tar.append(&p("etc/issue"), &entry(0o644, Kind::Hardlink(p("etc/motd")))).unwrap();
    let path = dir.path().join("two.tar");
    write_file(&path, &tar.finish().unwrap());
    let lines = gnu_listing(&path, &[]);
    assert_eq!(
        lines,
        [format!("-rw-r--r-- 0/0 3 {WHEN} etc/motd"), format!("hrw-r--r-- 0/0 0 {WHEN} etc/issue link to etc/motd")]
    );
}
