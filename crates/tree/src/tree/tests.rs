use super::*;

fn p(s: &str) -> TreePath {
    TreePath::new(s).unwrap()
}

fn merged_usr() -> Tree {
    let mut t = Tree::new();
    t.insert(&p("usr/bin"), Entry::dir(0o755)).unwrap();
    t.insert(&p("bin"), Entry::symlink("usr/bin")).unwrap();
    t
}

#[test]
fn insert_follows_parent_symlinks() {
    let mut t = merged_usr();
    let at = t.insert(&p("bin/sh"), Entry::symlink("busybox")).unwrap();
    assert_eq!(at, p("usr/bin/sh"));
    assert!(t.get(&p("bin/sh")).is_none());
}

#[test]
fn dir_onto_symlink_keeps_symlink() {
    let mut t = merged_usr();
    t.insert(&p("bin"), Entry::dir(0o700)).unwrap();
    assert!(matches!(t.get(&p("bin")).unwrap().kind, Kind::Symlink(_)));
}

#[test]
fn absolute_and_dotdot_targets_stay_inside() {
    let mut t = Tree::new();
    t.insert(&p("etc/x"), Entry::symlink("/../../../etc/passwd")).unwrap();
    assert_eq!(t.resolve(&p("etc/x"), true).unwrap(), p("etc/passwd"));
    t.insert(&p("a/up"), Entry::symlink("../../../../..")).unwrap();
    assert_eq!(t.resolve(&p("a/up/etc"), true).unwrap(), p("etc"));
}

#[test]
fn symlink_loop_is_an_error() {
    let mut t = Tree::new();
    t.insert(&p("a"), Entry::symlink("b")).unwrap();
    t.insert(&p("b"), Entry::symlink("a")).unwrap();
    assert!(matches!(t.resolve(&p("a/x"), true), Err(TreeError::SymlinkLoop(_))));
}

#[test]
fn file_under_file_is_an_error() {
    let mut t = Tree::new();
    t.insert(&p("f"), Entry::file(0o644, "x")).unwrap();
    let err = t.insert(&p("f/g"), Entry::file(0o644, "y")).unwrap_err();
    assert!(err.to_string().contains("not a directory"), "{err}");
}

#[test]
fn non_empty_dir_is_not_replaced() {
    let mut t = Tree::new();
    t.insert(&p("d/f"), Entry::file(0o644, "x")).unwrap();
    assert!(t.insert(&p("d"), Entry::file(0o644, "y")).is_err());
    t.remove(&p("d/f"));
    t.insert(&p("d"), Entry::file(0o644, "y")).unwrap();
}

#[test]
fn children_and_remove() {
    let mut t = Tree::new();
    for f in ["usr/bin/a", "usr/bin/b", "usr/bin.d/c", "usr/lib/x"] {
        t.insert(&p(f), Entry::file(0o644, "")).unwrap();
    }
    let kids: Vec<_> = t.children(&p("usr")).map(|(p, _)| p.as_str().to_owned()).collect();
    assert_eq!(kids, ["usr/bin", "usr/bin.d", "usr/lib"]);
    let kids: Vec<_> = t.children(&p("usr/bin")).map(|(p, _)| p.as_str().to_owned()).collect();
    assert_eq!(kids, ["usr/bin/a", "usr/bin/b"]);
    assert_eq!(t.remove(&p("usr/bin")), 3);
    assert!(t.get(&p("usr/bin.d/c")).is_some());
}

#[test]
fn hardlink_needs_a_file() {
    let mut t = Tree::new();
    assert!(t.insert(&p("l"), Entry::new(Meta::new(0o644), Kind::Hardlink(p("nope")))).is_err());
    t.insert(&p("f"), Entry::file(0o644, "data")).unwrap();
    t.insert(&p("l"), Entry::new(Meta::new(0o644), Kind::Hardlink(p("f")))).unwrap();
    assert_eq!(t.file(&p("l")).unwrap().bytes(), &b"data"[..]);
}

#[test]
fn iteration_puts_parents_first() {
    let mut t = Tree::new();
    t.insert(&p("z/a"), Entry::file(0o644, "")).unwrap();
    t.insert(&p("a.b"), Entry::file(0o644, "")).unwrap();
    let seen: Vec<_> = t.iter().map(|(p, _)| p.clone()).collect();
    for (i, path) in seen.iter().enumerate() {
        if let Some(parent) = path.parent() {
            assert!(seen[..i].contains(&parent), "{path} before its parent");
        }
    }
}

#[test]
fn hardlink_does_not_replace_non_empty_dir() {
    let mut t = Tree::new();
    t.insert(&p("f"), Entry::file(0o644, "x")).unwrap();
    t.insert(&p("d/child"), Entry::file(0o644, "y")).unwrap();
    let err = t.insert(&p("d"), Entry::new(Meta::new(0o644), Kind::Hardlink(p("f")))).unwrap_err();
    assert!(matches!(err, TreeError::DirNotEmpty { .. }), "{err}");
}
