use microroot_tree::Entry;

use super::*;
use crate::inspect::{html, load};

fn p(s: &str) -> TreePath {
    TreePath::new(s).unwrap()
}

#[test]
fn an_added_package_and_a_changed_file_across_formats() {
    let dir = tempfile::tempdir().unwrap();
    let (a_dir, b_dir) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a_dir).unwrap();
    std::fs::create_dir_all(&b_dir).unwrap();
    let a = crate::inspect::tests::sample(false);
    let mut b = crate::inspect::tests::sample(true);
    b.insert(&p("etc/passwd"), Entry::file(0o600, "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/:/bin/sh\n")).unwrap();
    let a_out = crate::inspect::tests::outputs(&a, &a_dir);
    let b_out = crate::inspect::tests::outputs(&b, &b_dir);

    // Same tree, other formats: nothing differs (ext4's lost+found, cpio's
    // missing xattrs and the root header are not changes).
    for other in &a_out[1..] {
        let d = diff(&load(&a_out[0]).unwrap(), &load(other).unwrap());
        assert!(d.same, "{}: {:?} {:?}", other.display(), d.files, d.packages);
    }

    // tar.zst against ext4.
    let (ia, ib) = (load(&a_out[0]).unwrap(), load(&b_out[3]).unwrap());
    let d = diff(&ia, &ib);
    assert!(!d.same);
    assert_eq!(d.packages.added.len(), 1);
    let zlib = &d.packages.added[0];
    assert_eq!((zlib.name.as_str(), zlib.to.as_deref(), zlib.bytes_b), ("zlib1g", Some("1:1.3.dfsg-3.1"), 5000));
    let added: Vec<&str> = d.files.added.iter().map(|f| f.path.as_str()).collect();
    assert!(added.contains(&"/usr/lib/x86_64-linux-gnu/libz.so.1.3.1"), "{added:?}");
    let libz = d.files.added.iter().find(|f| f.path.ends_with("libz.so.1.3.1")).unwrap();
    assert_eq!((libz.package.as_deref(), libz.size_b), (Some("zlib1g"), 5000));
    assert_eq!(libz.sha256_b.as_deref().map(str::len), Some(64));
    let passwd = d.files.changed.iter().find(|f| f.path == "/etc/passwd").unwrap();
    assert_eq!(passwd.what, ["content", "mode"]);
    assert_eq!(passwd.details[1], "0644 -> 0600");
    assert!(d.files.removed.is_empty(), "{:?}", d.files.removed);
    assert_eq!(d.size_delta, (ib.tree.content_size() - ia.tree.content_size()) as i64);
    let line = summary_line(&d);
    assert!(line.starts_with("1 package added, 0 removed, 0 changed; "), "{line}");

    let page = html::diff_page(&d, &ib);
    assert!(page.contains(r#"["libz.so.1.3.1",5000,1]"#), "added file highlighted");
    assert!(page.contains(r#""n":"zlib1g""#) && page.contains("Packages added"));
}
