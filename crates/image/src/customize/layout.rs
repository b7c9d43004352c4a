use microroot_tree::{Entry, Meta, Tree, TreePath};

use super::generated;

/// The top-level directories that are links into /usr on a merged-/usr
/// system (`lib64` only where the ABI has one).
const MERGED: &[&str] = &["bin", "sbin", "lib", "lib64"];

fn has_lib64(arch: &str) -> bool {
    matches!(arch, "amd64" | "ppc64el" | "s390x" | "riscv64" | "arm64")
}

/// The `/usr/…` spelling of an absolute path below one of the merged-/usr
/// links (`/lib/x` → `/usr/lib/x`), where a package's member really lands.
pub fn usr_spelling(path: &str) -> Option<String> {
    let top = path.strip_prefix('/')?.split('/').next()?;
    MERGED.contains(&top).then(|| format!("/usr{path}"))
}

/// The top-level links of a merged-/usr system, made before any package is
/// unpacked so that `./bin/x` in a package lands in `/usr/bin/x`.
pub fn merged_usr(tree: &mut Tree, arch: &str) {
    for link in MERGED.iter().filter(|l| **l != "lib64" || has_lib64(arch)) {
        let target = format!("usr/{link}");
        let dir = TreePath::new(&target).expect("static path");
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
