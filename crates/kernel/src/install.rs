//! Putting a resolved module set into an image tree.

use std::sync::Arc;

use microroot_tree::{Entry, Kind, Meta, Tree, TreePath};

use crate::{Depmod, Error, Kernel, ModuleSet, Result};

/// Writes the modules of `set`, decompressed, to
/// `usr/lib/modules/<version>/<relative path>` (`.ko`, no compression
/// suffix) and the [`Depmod`] files beside them. Files get `meta`,
/// directories the same owner and mtime with mode 0755. Module files are
/// owned by the kernel's package, generated files by `microroot`. Returns
/// the paths written, sorted.
pub fn install_modules(tree: &mut Tree, kernel: &Kernel, set: &ModuleSet, meta: &Meta) -> Result<Vec<TreePath>> {
    let depmod = Depmod::new(kernel, set)?;
    let base = TreePath::new(&format!("usr/lib/modules/{}", kernel.version()))
        .map_err(|e| Error::Install { path: TreePath::root(), source: e.into() })?;
    let dir_meta = Meta { mode: 0o755, ..meta.clone() };
    let package: Arc<str> = kernel.owner().cloned().unwrap_or_else(|| Arc::from("microroot"));
    let generated: Arc<str> = Arc::from("microroot");
    let mut written = Vec::new();
    let mut put = |tree: &mut Tree, path: TreePath, data: Vec<u8>, owner: &Arc<str>| -> Result<()> {
        let install = |source| Error::Install { path: path.clone(), source };
        if let Some(parent) = path.parent() {
            tree.mkdir_p(&parent, &dir_meta).map_err(install)?;
        }
        let entry = Entry::new(meta.clone(), Kind::File(data.into())).with_owner(owner.clone());
        written.push(tree.insert(&path, entry).map_err(install)?);
        Ok(())
    };
    for module in &set.modules {
        put(tree, module.path_in_tree.clone(), module.data.clone(), &package)?;
    }
    for (name, data) in depmod.files() {
        let owner = if matches!(name, "modules.builtin" | "modules.builtin.modinfo") { &package } else { &generated };
        let path = base.join(name).expect("file names are plain");
        put(tree, path, data.to_vec(), owner)?;
    }
    written.sort();
    Ok(written)
}
