//! gen_init_cpio lists: a tree rendered as a list and parsed back is the
//! same tree, for a hand-made example with every entry kind and for
//! generated trees.

mod common;

use common::*;
use microroot_tree::{Entry, Kind, Tree};
use microroot_writers::{parse_list, render_list, ListOptions};

/// A tree the list format can hold: no xattrs, no owners recorded, one
/// mtime, every parent listed.
fn listable_tree(mtime: i64) -> Tree {
    let mut tree = Tree::new();
    let mut put = |path: &str, mode: u32, kind: Kind| {
        let mut e = entry(mode, kind);
        e.meta.mtime = mtime;
        e.meta.uid = if path.starts_with("home") { 1000 } else { 0 };
        e.meta.gid = e.meta.uid;
        tree.insert(&p(path), e).unwrap();
    };
    for dir in ["bin", "dev", "etc", "home", "home/user", "sbin", "usr", "usr/bin", "z"] {
        put(dir, 0o755, Kind::Dir);
    }
    put("tmp", 0o1777, Kind::Dir);
    put("init", 0o755, Kind::File("#!/bin/sh\nexec /sbin/init\n".into()));
    put("usr/bin/busybox", 0o4755, Kind::File(vec![0x7f, b'E', b'L', b'F', 0, 1, 2].into()));
    // Names before and after the file: the list line goes after all of them.
    put("bin/sh", 0o4755, Kind::Hardlink(p("usr/bin/busybox")));
    put("z/ls", 0o4755, Kind::Hardlink(p("usr/bin/busybox")));
    put("etc/empty", 0o600, Kind::File(Vec::new().into()));
    put("home/user/notes", 0o640, Kind::File("note\n".into()));
    put("sbin/init", 0o777, Kind::Symlink("../usr/bin/busybox".into()));
    put("dev/console", 0o600, Kind::CharDev { major: 5, minor: 1 });
    put("dev/vda", 0o660, Kind::BlockDev { major: 254, minor: 0 });
    put("dev/initctl", 0o600, Kind::Fifo);
    put("dev/log", 0o666, Kind::Socket);
    tree
}

fn round_trip(tree: &Tree, mtime: i64) -> Tree {
    let dir = tempfile::tempdir().unwrap();
    let (text, files) = render_list(tree, "files").unwrap();
    for (path, location) in &files {
        let on_disk = dir.path().join(location);
        std::fs::create_dir_all(on_disk.parent().unwrap()).unwrap();
        std::fs::write(on_disk, &*tree.file(path).unwrap().bytes()).unwrap();
    }
    let mut opts = ListOptions::new("initramfs.list", dir.path());
    opts.mtime = mtime;
    parse_list(&text, &opts).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[test]
fn rendered_lists_parse_back_to_the_same_tree() {
    let tree = listable_tree(EPOCH);
    let (text, files) = render_list(&tree, "files").unwrap();
    let expected = "dir /bin 755 0 0\n\
        dir /dev 755 0 0\n\
        nod /dev/console 600 0 0 c 5 1\n\
        pipe /dev/initctl 600 0 0\n\
        sock /dev/log 666 0 0\n\
        nod /dev/vda 660 0 0 b 254 0\n\
        dir /etc 755 0 0\n\
        file /etc/empty files/etc/empty 600 0 0\n\
        dir /home 755 1000 1000\n\
        dir /home/user 755 1000 1000\n\
        file /home/user/notes files/home/user/notes 640 1000 1000\n\
        file /init files/init 755 0 0\n\
        dir /sbin 755 0 0\n\
        slink /sbin/init ../usr/bin/busybox 777 0 0\n\
        dir /tmp 1777 0 0\n\
        dir /usr 755 0 0\n\
        dir /usr/bin 755 0 0\n\
        dir /z 755 0 0\n\
        file /usr/bin/busybox files/usr/bin/busybox 4755 0 0 /bin/sh /z/ls\n";
    assert_eq!(text, expected);
    assert_eq!(files.len(), 4);
    assert_eq!(round_trip(&tree, EPOCH), tree);
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    #[derive(Clone, Debug)]
    enum Item {
        Dir(u32),
        File(u32, Vec<u8>),
        Symlink(String),
        Link(usize),
        Dev(bool, u32, u32),
        Fifo,
        Socket,
    }

    fn item() -> impl Strategy<Value = Item> {
        prop_oneof![
            (0u32..0o7777).prop_map(Item::Dir),
            ((0u32..0o7777), proptest::collection::vec(any::<u8>(), 0..64)).prop_map(|(m, d)| Item::File(m, d)),
            "[a-z./]{1,12}".prop_map(Item::Symlink),
            (0usize..16).prop_map(Item::Link),
            (any::<bool>(), 0u32..4096, 0u32..1_000_000).prop_map(|(b, ma, mi)| Item::Dev(b, ma, mi)),
            Just(Item::Fifo),
            Just(Item::Socket),
        ]
    }

    fn tree_of(items: Vec<(Vec<String>, Item, u32)>) -> Tree {
        let mut tree = Tree::new();
        let mut files = Vec::new();
        for (components, item, owner) in items {
            let path = p(&components.join("/"));
            let mut meta = microroot_tree::Meta::new(0o644);
            (meta.uid, meta.gid, meta.mtime) = (owner, owner / 2, 42);
            let kind = match item {
                Item::Dir(mode) => {
                    meta.mode = mode;
                    Kind::Dir
                }
                Item::File(mode, data) => {
                    meta.mode = mode;
                    Kind::File(data.into())
                }
                Item::Symlink(t) => Kind::Symlink(t),
                Item::Link(i) if !files.is_empty() => {
                    let target: &microroot_tree::TreePath = &files[i % files.len()];
                    match tree.get(target) {
                        Some(e @ Entry { kind: Kind::File(_), .. }) => meta = e.meta.clone(),
                        _ => continue,
                    }
                    Kind::Hardlink(target.clone())
                }
                Item::Link(_) => continue,
                Item::Dev(block, major, minor) if block => Kind::BlockDev { major, minor },
                Item::Dev(_, major, minor) => Kind::CharDev { major, minor },
                Item::Fifo => Kind::Fifo,
                Item::Socket => Kind::Socket,
            };
            let is_file = matches!(kind, Kind::File(_));
            // Symlinked parents and replaced entries are the tree's
            // business; keep whatever it accepts.
            if let Ok(at) = tree.insert(&path, Entry::new(meta, kind)) {
                if is_file {
                    files.push(at);
                }
            }
        }
        // Links whose file was replaced afterwards are not a valid tree.
        let broken: Vec<_> = tree
            .iter()
            .filter(|(_, e)| matches!(&e.kind, Kind::Hardlink(t) if !matches!(tree.get(t).map(|f| &f.kind), Some(Kind::File(_)))))
            .map(|(p, _)| p.clone())
            .collect();
        for path in broken {
            tree.remove(&path);
        }
        // Hardlinks carry their file's header, as the list format writes it.
        let files: Vec<_> = tree
            .iter()
            .filter(|(_, e)| matches!(e.kind, Kind::File(_)))
            .map(|(p, e)| (p.clone(), e.meta.clone()))
            .collect();
        for (path, meta) in files {
            for (_, e) in tree.iter_mut() {
                if matches!(&e.kind, Kind::Hardlink(t) if *t == path) {
                    e.meta = meta.clone();
                }
            }
        }
        // Parents the tree made on its own get the list's one mtime too.
        for (path, e) in tree.iter_mut() {
            if !path.is_root() {
                e.meta.mtime = 42;
            }
        }
        tree
    }

    proptest! {
        #[test]
        fn parse_of_render_is_identity(
            items in proptest::collection::vec(
                (proptest::collection::vec("[a-c]{1,2}", 1..4), item(), 0u32..70_000),
                0..24,
            )
        ) {
            let tree = tree_of(items);
            prop_assert_eq!(round_trip(&tree, 42), tree);
        }
    }
}
