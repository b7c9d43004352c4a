//! What the image's own package database says: which package owns which
//! path (`/var/lib/dpkg/info/*.list`) and which versions are installed
//! (`/var/lib/dpkg/status`, and `status.d/*` as distroless images keep it).

use std::collections::BTreeMap;
use std::sync::Arc;

use microroot_tree::{Kind, Tree, TreePath};

const INFO: &str = "var/lib/dpkg/info";

/// Sets each entry's owner to the package whose file list names it. Lists
/// spell paths as the packages ship them (`/bin/x`), so each is resolved
/// through the tree's symlinks (`bin -> usr/bin`). A path two packages
/// list (a shared directory) goes to the first by name, so the answer does
/// not depend on the order of the lists.
pub(crate) fn assign_owners(tree: &mut Tree) {
    let Ok(info) = TreePath::new(INFO) else { return };
    let lists: Vec<(Arc<str>, String)> = tree
        .children(&info)
        .filter_map(|(path, e)| {
            let pkg = path.file_name().strip_suffix(".list")?;
            let Kind::File(blob) = &e.kind else { return None };
            let pkg = pkg.split(':').next().unwrap_or(pkg);
            Some((Arc::from(pkg), String::from_utf8_lossy(&blob.bytes()).into_owned()))
        })
        .collect();
    let mut owners: BTreeMap<TreePath, Arc<str>> = BTreeMap::new();
    for (pkg, text) in &lists {
        for line in text.lines() {
            let Ok(path) = TreePath::new(line) else { continue };
            let Ok(resolved) = tree.resolve(&path, false) else { continue };
            if !resolved.is_root() && tree.get(&resolved).is_some() {
                owners.entry(resolved).or_insert_with(|| pkg.clone());
            }
        }
    }
    for (path, owner) in owners {
        if let Some(e) = tree.get_mut(&path) {
            e.owner = Some(owner);
        }
    }
}

/// Installed packages and their versions.
pub(crate) fn versions(tree: &Tree) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut texts = Vec::new();
    if let Some(status) = TreePath::new("var/lib/dpkg/status").ok().and_then(|p| tree.file(&p)) {
        texts.push(status.bytes());
    }
    if let Ok(dir) = TreePath::new("var/lib/dpkg/status.d") {
        texts.extend(tree.children(&dir).filter_map(|(_, e)| match &e.kind {
            Kind::File(blob) => Some(blob.bytes()),
            _ => None,
        }));
    }
    for text in texts {
        let text = String::from_utf8_lossy(&text);
        for paragraph in microroot_debian::deb822::paragraphs(&text).flatten() {
            let installed = paragraph.get("Status").is_none_or(|s| s.ends_with(" installed"));
            if let (Some(name), Some(version), true) = (paragraph.get("Package"), paragraph.get("Version"), installed) {
                out.insert(name.to_owned(), version.to_owned());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use microroot_tree::Entry;

    use super::*;

    fn p(s: &str) -> TreePath {
        TreePath::new(s).unwrap()
    }

    #[test]
    fn owners_follow_merged_usr_and_versions_come_from_status() {
        let mut t = Tree::new();
        t.insert(&p("usr/bin/busybox"), Entry::file(0o755, "bb")).unwrap();
        t.insert(&p("bin"), Entry::symlink("usr/bin")).unwrap();
        t.insert(&p("etc/passwd"), Entry::file(0o644, "root")).unwrap();
        t.insert(&p("var/lib/dpkg/info/busybox.list"), Entry::file(0o644, "/.\n/bin\n/bin/busybox\n")).unwrap();
        t.insert(&p("var/lib/dpkg/info/libc6:amd64.list"), Entry::file(0o644, "/.\n/usr\n/usr/bin\n")).unwrap();
        let status = "Package: busybox\nStatus: install ok installed\nVersion: 1:1.37.0-6\n\n\
                      Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n\n\
                      Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.41-12\n";
        t.insert(&p("var/lib/dpkg/status"), Entry::file(0o644, status)).unwrap();
        assign_owners(&mut t);
        let owner = |s: &str| t.get(&p(s)).unwrap().owner.as_deref().map(str::to_owned);
        assert_eq!(owner("usr/bin/busybox").as_deref(), Some("busybox"));
        assert_eq!(owner("bin").as_deref(), Some("busybox"), "the link itself, listed as /bin");
        assert_eq!(owner("usr/bin").as_deref(), Some("libc6"));
        assert_eq!(owner("etc/passwd"), None);
        let v = versions(&t);
        assert_eq!(
            v.into_iter().collect::<Vec<_>>(),
            [("busybox".to_owned(), "1:1.37.0-6".to_owned()), ("libc6".to_owned(), "2.41-12".to_owned())]
        );
    }
}
