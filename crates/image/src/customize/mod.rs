//! What Debian's maintainer scripts and base packages would have done,
//! done natively on the tree: merged-/usr links and the base directory
//! layout, BusyBox applet links, accounts, `/etc` basics, the dpkg
//! database, and the manifest's own files. No script is ever run.

mod accounts;
pub mod busybox;
mod dpkg;
mod etc;
mod extra;
mod layout;

pub use accounts::accounts;
pub use dpkg::{dpkg_database, InstalledPackage};
pub use etc::{etc_basics, OsInfo};
pub use extra::{extra_entries, ExtraError};
pub use layout::{base_layout, merged_usr};

use std::sync::Arc;

/// Owner tag of files microroot generates itself.
pub fn generated() -> Arc<str> {
    Arc::from("microroot")
}

/// Adds a generated regular file, replacing what a package put there.
pub(crate) fn put(tree: &mut microroot_tree::Tree, path: &str, mode: u32, content: impl Into<microroot_tree::Blob>) {
    let path = microroot_tree::TreePath::new(path).expect("static path");
    let entry = microroot_tree::Entry::file(mode, content).with_owner(generated());
    tree.insert(&path, entry).expect("generated files go into plain directories");
}
