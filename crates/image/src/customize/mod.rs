//! What Debian's maintainer scripts and base packages would have done,
//! done natively on the tree: merged-/usr links and the base directory
//! layout, BusyBox applet links, accounts, `/etc` basics, the CA bundle, the dpkg
//! database, and the manifest's own files. No script is ever run.

mod accounts;
pub mod busybox;
mod cacerts;
mod dpkg;
mod etc;
mod extra;
mod layout;

pub use accounts::accounts;
pub(crate) use accounts::{BASE_GROUPS, BASE_USERS};
pub use cacerts::ca_certificates;
pub use dpkg::{dpkg_database, InstalledPackage};
pub use etc::{etc_basics, OsInfo};
pub use extra::{extra_entries, ExtraError};
pub use layout::{base_layout, merged_usr, usr_spelling};

use std::sync::Arc;

use microroot_tree::{Blob, Entry, Tree, TreeError, TreePath};

/// Owner tag of entries microroot generates itself.
pub const GENERATED: &str = "microroot";
/// Owner tag of entries the manifest adds (`files`, `dirs`, …).
pub const FROM_MANIFEST: &str = "manifest";

/// [`GENERATED`], as an entry's owner.
pub fn generated() -> Arc<str> {
    Arc::from(GENERATED)
}

/// A generated file or directory that a package's content is in the way of.
#[derive(Debug, thiserror::Error)]
#[error("cannot create {path}: {source}\nhint: {blocker} installed something unexpected there; exclude it with [prune] exclude or drop the package")]
pub struct CustomizeError {
    pub path: String,
    /// The package (or `manifest`) that owns the entry in the way.
    pub blocker: String,
    pub source: TreeError,
}

impl CustomizeError {
    pub(crate) fn new(tree: &Tree, path: &TreePath, source: TreeError) -> Self {
        let at = match &source {
            TreeError::NotADirectory { path, .. } | TreeError::DirNotEmpty { path, .. } => path.clone(),
            _ => path.clone(),
        };
        // A directory made on the way has no owner: then whoever put
        // something inside it is the one in the way.
        let owned = std::iter::once((&at, tree.get(&at))).chain(tree.below(&at).map(|(p, e)| (p, Some(e))));
        let blocker = owned.filter_map(|(_, e)| e?.owner.as_deref()).next().unwrap_or("a package").to_owned();
        CustomizeError { path: path.to_string(), blocker, source }
    }
}

/// Adds a generated regular file, replacing what a package put there.
pub(crate) fn put(tree: &mut Tree, path: &str, mode: u32, content: impl Into<Blob>) -> Result<(), CustomizeError> {
    let path = TreePath::new(path).expect("static path");
    let entry = Entry::file(mode, content).with_owner(generated());
    tree.insert(&path, entry).map(drop).map_err(|e| CustomizeError::new(tree, &path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_package_in_the_way_is_named_not_a_panic() {
        let mut tree = Tree::new();
        let odd = TreePath::new("etc/passwd/x").unwrap();
        tree.insert(&odd, Entry::file(0o644, "").with_owner("weird-pkg".into())).unwrap();
        let err = accounts(&mut tree, &crate::Manifest::default_base()).unwrap_err().to_string();
        assert!(err.contains("cannot create /etc/passwd"), "{err}");
        assert!(err.contains("hint: weird-pkg installed something unexpected there"), "{err}");
    }
}
