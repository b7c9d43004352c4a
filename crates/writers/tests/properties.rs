//! Random small trees: GNU tar lists back exactly the entries, types,
//! owners and sizes that the tree holds.

mod common;

use std::collections::BTreeMap;

use common::*;
use microroot_tree::{Entry, Kind, Meta, Tree, TreePath};
use microroot_writers::write_tree;
use proptest::prelude::*;

fn name() -> impl Strategy<Value = String> {
    // Up to 7 components of up to 60 bytes: long enough to need the ustar
    // prefix split and, now and then, a PAX path record.
    "[a-z0-9_-][a-z0-9._-]{0,59}"
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        2 => Just(Kind::Dir),
        4 => proptest::collection::vec(any::<u8>(), 0..1500).prop_map(|v| Kind::File(v.into())),
        1 => "[a-z0-9./]{1,130}".prop_map(Kind::Symlink),
        1 => Just(Kind::Fifo),
        1 => (0u32..4096, 0u32..1_048_576).prop_map(|(major, minor)| Kind::CharDev { major, minor }),
        1 => Just(Kind::Hardlink(TreePath::root())), // aimed at an earlier file below
    ]
}

fn entry() -> impl Strategy<Value = (Vec<String>, Kind, u32, u32)> {
    (proptest::collection::vec(name(), 1..8), kind(), 0u32..0o10000, any::<u32>())
}

/// Builds a tree from whatever inserts succeed; hardlinks point at the
/// most recently inserted regular file.
fn build(entries: Vec<(Vec<String>, Kind, u32, u32)>) -> Tree {
    let mut tree = Tree::new();
    let mut last_file: Option<TreePath> = None;
    for (components, kind, mode, uid) in entries {
        let kind = match kind {
            Kind::Hardlink(_) => match &last_file {
                Some(target) => Kind::Hardlink(target.clone()),
                None => continue,
            },
            other => other,
        };
        let mut meta = Meta::new(mode);
        (meta.uid, meta.gid, meta.mtime) = (uid, uid / 2, i64::from(uid) * 3 - 4_000_000_000);
        let is_file = matches!(kind, Kind::File(_));
        if let Ok(at) = tree.insert(&p(&components.join("/")), Entry::new(meta, kind)) {
            if is_file {
                last_file = Some(at);
            }
        }
    }
    tree
}

/// `type owner size name` for every member, as GNU tar should list it.
fn expected(tree: &Tree) -> Vec<String> {
    let mut first_name: BTreeMap<&TreePath, &TreePath> = BTreeMap::new();
    let mut lines = Vec::new();
    for (path, e) in tree.iter().skip(1) {
        let inode = match &e.kind {
            Kind::Hardlink(target) => Some(target),
            Kind::File(_) => Some(path),
            _ => None,
        };
        let first = inode.map(|i| *first_name.entry(i).or_insert(path));
        let (ty, size) = match &e.kind {
            Kind::Dir => ('d', "0".to_owned()),
            Kind::Symlink(_) => ('l', "0".to_owned()),
            Kind::Fifo => ('p', "0".to_owned()),
            Kind::CharDev { major, minor } => ('c', format!("{major},{minor}")),
            _ if first != Some(path) => ('h', "0".to_owned()),
            _ => ('-', tree.file(inode.unwrap()).unwrap().len().to_string()),
        };
        let (uid, gid) = match inode.map(|i| &tree.get(i).unwrap().meta) {
            Some(m) => (m.uid, m.gid),
            None => (e.meta.uid, e.meta.gid),
        };
        let slash = if e.is_dir() { "/" } else { "" };
        lines.push(format!("{ty} {uid}/{gid} {size} {}{slash}", path.as_str()));
    }
    lines
}

fn listed(tar: &[u8]) -> Vec<String> {
    let out = run_with_stdin("tar", &["--numeric-owner", "--quoting-style=literal", "-tvf", "-"], tar);
    let text = String::from_utf8(out).unwrap();
    text.lines()
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let name = f[5].to_owned();
            format!("{} {} {} {name}", &f[0][..1], f[1], f[2])
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn gnu_tar_lists_back_every_entry(entries in proptest::collection::vec(entry(), 1..24)) {
        let tree = build(entries);
        let tar = write_tree(&tree, Vec::new()).unwrap();
        prop_assert_eq!(listed(&tar), expected(&tree));
        prop_assert_eq!(&tar, &write_tree(&tree, Vec::new()).unwrap());
    }
}
