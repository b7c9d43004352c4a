//! Shared fixtures: a sample tree with every entry kind an image carries,
//! a canonical form to compare trees by, and a way to run the reference
//! tools (skopeo, umoci, runc, crun) that fails loudly when one is missing.

#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use microroot_oci::{Image, ImageConfig, Layering};
use microroot_tree::{Entry, Kind, Meta, Tree, TreePath};

pub const EPOCH: i64 = 1_700_000_000;
pub const TAG: &str = "v1";
pub const LONG_PATH: &str = concat!(
    "usr/share/doc/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/",
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/long-file-name.txt"
);
pub const SCRIPT: &[u8] = b"#!/bin/sh\necho hello from microroot\n";

pub fn p(s: &str) -> TreePath {
    TreePath::new(s).unwrap()
}

pub fn entry(mode: u32, kind: Kind, owner: Option<&str>) -> Entry {
    let mut meta = Meta::new(mode);
    meta.mtime = EPOCH;
    Entry { meta, kind, owner: owner.map(Arc::from) }
}

pub fn put(tree: &mut Tree, path: &str, e: Entry) {
    tree.insert(&p(path), e).unwrap();
}

/// Directories, an executable script, a setuid file, a file owned by
/// 1000:1000, a symlink, hardlinks on both sides of their file in path
/// order, a path over 100 bytes, and an empty file; owned by two packages
/// and a generated file.
pub fn sample_tree() -> Tree {
    let mut t = Tree::new();
    for dir in ["etc", "usr", "usr/bin", "usr/share", "usr/share/doc", "var", "home", "home/user"] {
        put(&mut t, dir, entry(0o755, Kind::Dir, None));
    }
    put(&mut t, "tmp", entry(0o1777, Kind::Dir, None));
    put(&mut t, "bin", entry(0o777, Kind::Symlink("usr/bin".into()), Some("base-files")));
    put(&mut t, "etc/os-release", entry(0o644, Kind::File("ID=microroot\n".into()), Some("base-files")));
    put(&mut t, "etc/empty", entry(0o600, Kind::File("".into()), Some("base-files")));
    put(&mut t, "etc/hostname", entry(0o644, Kind::File("box\n".into()), Some("microroot")));
    put(&mut t, "usr/bin/hello", entry(0o755, Kind::File(SCRIPT.into()), Some("hello")));
    put(&mut t, "usr/bin/aaa-hello", entry(0o755, Kind::Hardlink(p("usr/bin/hello")), Some("hello")));
    put(&mut t, "usr/bin/hello-again", entry(0o755, Kind::Hardlink(p("usr/bin/hello")), Some("hello")));
    put(&mut t, "usr/bin/su", entry(0o4755, Kind::File("\x7fELF pretend".into()), Some("hello")));
    put(&mut t, LONG_PATH, entry(0o644, Kind::File("a long way down\n".into()), Some("hello")));
    let mut own = entry(0o640, Kind::File("mine\n".into()), None);
    own.meta.uid = 1000;
    own.meta.gid = 1000;
    put(&mut t, "home/user/notes", own);
    let mut tree = t;
    for (_, e) in tree.iter_mut() {
        e.meta.mtime = EPOCH;
    }
    tree
}

pub fn sample_config() -> ImageConfig {
    ImageConfig {
        entrypoint: vec!["/usr/bin/hello".into()],
        cmd: vec!["--greet".into()],
        env: vec!["PATH=/usr/bin:/bin".into(), "LANG=C.UTF-8".into()],
        user: Some("0:0".into()),
        working_dir: Some("/home/user".into()),
        exposed_ports: vec!["8080/tcp".into()],
        labels: BTreeMap::from([("org.example.label".into(), "yes".into())]),
        annotations: BTreeMap::from([("org.opencontainers.image.title".into(), "sample".into())]),
        created: EPOCH,
        repository: Some("microroot/sample".into()),
        tag: Some(TAG.into()),
        ..ImageConfig::default()
    }
}

pub fn sample_image(layering: Layering) -> Image {
    Image::build(&sample_tree(), &sample_config(), layering).unwrap()
}

/// A tree by content: hardlinked files become files plus the group's
/// first path, so trees that name the same inode differently compare
/// equal. Owners are left out.
#[derive(Debug, PartialEq, Eq)]
pub struct Canon {
    pub meta: Meta,
    pub kind: String,
    pub inode: Option<String>,
}

pub fn canonical(tree: &Tree) -> BTreeMap<String, Canon> {
    let inode_of = |path: &TreePath, e: &Entry| match &e.kind {
        Kind::Hardlink(t) => Some(t.clone()),
        Kind::File(_) => Some(path.clone()),
        _ => None,
    };
    let mut groups: BTreeMap<TreePath, Vec<String>> = BTreeMap::new();
    for (path, e) in tree.iter() {
        if let Some(inode) = inode_of(path, e) {
            groups.entry(inode).or_default().push(path.as_str().into());
        }
    }
    let canon = |path: &TreePath, e: &Entry| match inode_of(path, e) {
        Some(inode) => {
            let file = tree.get(&inode).unwrap_or_else(|| panic!("{path} links to missing {inode}"));
            let Kind::File(blob) = &file.kind else { panic!("{path} links to a {}", file.kind.name()) };
            let group = &groups[&inode];
            Canon {
                meta: file.meta.clone(),
                kind: format!("file {:?}", String::from_utf8_lossy(&blob.bytes())),
                inode: (group.len() > 1).then(|| group.iter().min().unwrap().clone()),
            }
        }
        None => Canon { meta: e.meta.clone(), kind: format!("{:?}", e.kind), inode: None },
    };
    tree.iter().map(|(path, e)| (path.as_str().to_owned(), canon(path, e))).collect()
}

/// Compares by [`canonical`], leaving out the root: layers never carry it
/// (`Naming::Bare`), the extraction directory keeps its own.
pub fn assert_same_tree(got: &Tree, want: &Tree) {
    let (mut got, mut want) = (canonical(got), canonical(want));
    got.remove("");
    want.remove("");
    for (path, w) in &want {
        assert_eq!(got.get(path), Some(w), "entry /{path}");
    }
    let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    assert!(extra.is_empty(), "unexpected entries: {extra:?}");
}

/// A command for `tool`, failing with the Debian package to install when
/// it is not on PATH.
pub fn tool(name: &str, package: &str) -> Command {
    let found =
        std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()));
    assert!(found, "`{name}` is not installed; this test needs it\nhint: apt-get install {package}");
    Command::new(name)
}

/// Runs `cmd`, failing with its output unless it succeeds.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed with {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn skopeo() -> Command {
    let mut cmd = tool("skopeo", "skopeo");
    // No registries, policy files or auth of the host: only local transports.
    cmd.arg("--insecure-policy");
    cmd
}

pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}
