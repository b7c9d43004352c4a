use microroot_tree::{Entry, Meta, Tree, TreePath};

use super::generated;

/// The top-level links of a merged-/usr system, made before any package is
/// unpacked so that `./bin/x` in a package lands in `/usr/bin/x`.
pub fn merged_usr(tree: &mut Tree, arch: &str) {
    let mut links = vec![("bin", "usr/bin"), ("sbin", "usr/sbin"), ("lib", "usr/lib")];
    match arch {
        "amd64" | "ppc64el" | "s390x" | "riscv64" | "arm64" => links.push(("lib64", "usr/lib64")),
        "i386" | "armhf" | "armel" => {}
        _ => {}
    }
    for (link, target) in links {
        let dir = TreePath::new(target).expect("static path");
        tree.mkdir_p(&dir, &Meta::new(0o755)).expect("fresh tree");
        let entry = Entry::symlink(target).with_owner(generated());
        tree.insert(&TreePath::new(link).expect("static path"), entry).expect("fresh tree");
    }
}

/// Directories every root filesystem has, with their conventional modes.
pub fn base_layout(tree: &mut Tree) -> Result<(), super::CustomizeError> {
    const DIRS: &[(&str, u32)] = &[
        ("dev", 0o755),
        ("etc", 0o755),
        ("home", 0o755),
        ("proc", 0o555),
        ("root", 0o700),
        ("run", 0o755),
        ("sys", 0o555),
        ("tmp", 0o1777),
        ("usr/local/bin", 0o755),
        ("var/cache", 0o755),
        ("var/lib", 0o755),
        ("var/log", 0o755),
        ("var/tmp", 0o1777),
    ];
    for (path, mode) in DIRS {
        let path = TreePath::new(path).expect("static path");
        if tree.get(&path).is_none() {
            let err = |tree: &Tree, e| super::CustomizeError::new(tree, &path, e);
            tree.mkdir_p(&path, &Meta::new(0o755)).map_err(|e| err(tree, e))?;
            tree.insert(&path, Entry::dir(*mode).with_owner(generated())).map_err(|e| err(tree, e))?;
        }
    }
    Ok(())
}
