use std::path::{Path, PathBuf};

use microroot_tree::{Entry, Kind, Meta, Tree, TreeError, TreePath};

use crate::manifest::{Manifest, Owner};
use crate::validate::parse_mode;

/// A manifest entry that could not be added.
#[derive(Debug, thiserror::Error)]
pub enum ExtraError {
    #[error("files: cannot read `{host}` for `{path}`: {source}\nhint: paths in `source` are relative to the manifest's directory")]
    Source { path: String, host: PathBuf, source: std::io::Error },
    #[error("{table}: cannot add `{path}`: {source}")]
    Tree { table: &'static str, path: String, source: TreeError },
    #[error("file_lists: cannot read {host}: {source}\nhint: paths in `file_lists` are relative to the manifest's directory")]
    ListRead { host: PathBuf, source: std::io::Error },
    #[error(transparent)]
    List(#[from] microroot_writers::ListError),
}

fn meta(owner: &Owner, default_mode: u32) -> Meta {
    let mut m = Meta::new(owner.mode.as_deref().and_then(parse_mode).unwrap_or(default_mode));
    m.uid = owner.uid.unwrap_or(0);
    m.gid = owner.gid.unwrap_or(0);
    m
}

fn add(tree: &mut Tree, table: &'static str, path: &str, entry: Entry) -> Result<(), ExtraError> {
    let err = |source| ExtraError::Tree { table, path: path.to_owned(), source };
    let at = TreePath::new(path).map_err(|e| err(e.into()))?;
    tree.insert(&at, entry.with_owner(super::FROM_MANIFEST.into())).map_err(err)?;
    Ok(())
}

/// Adds the manifest's `dirs`, `files`, `symlinks` and `devices`, in that
/// order, over whatever packages installed. `base` is the manifest's
/// directory, against which relative `source` paths resolve.
pub fn extra_entries(tree: &mut Tree, manifest: &Manifest, base: &Path) -> Result<(), ExtraError> {
    for d in &manifest.dirs {
        add(tree, "dirs", &d.path, Entry::new(meta(&d.owner, 0o755), Kind::Dir))?;
    }
    for f in &manifest.files {
        let content = match (&f.content, &f.source) {
            (Some(text), _) => text.clone().into_bytes(),
            (None, Some(src)) => {
                let host = base.join(src);
                std::fs::read(&host).map_err(|source| ExtraError::Source { path: f.path.clone(), host, source })?
            }
            (None, None) => Vec::new(),
        };
        add(tree, "files", &f.path, Entry::new(meta(&f.owner, 0o644), Kind::File(content.into())))?;
    }
    for s in &manifest.symlinks {
        add(tree, "symlinks", &s.path, Entry::symlink(s.target.clone()))?;
    }
    for d in &manifest.devices {
        let kind = match d.kind.as_str() {
            "char" => Kind::CharDev { major: d.major, minor: d.minor },
            "block" => Kind::BlockDev { major: d.major, minor: d.minor },
            _ => Kind::Fifo,
        };
        add(tree, "devices", &d.path, Entry::new(meta(&d.owner, 0o600), kind))?;
    }
    for list in &manifest.file_lists {
        let host = base.join(list);
        let text =
            std::fs::read_to_string(&host).map_err(|source| ExtraError::ListRead { host: host.clone(), source })?;
        let opts = microroot_writers::ListOptions {
            file_name: list.display().to_string(),
            base_dir: host.parent().map(Path::to_owned).unwrap_or_default(),
            mtime: 0,
            env: None,
        };
        let entries = microroot_writers::parse_list(&text, &opts)?;
        for (path, entry) in entries.iter().filter(|(p, _)| !p.is_root()) {
            let existing_dir = tree.get(path).is_some_and(|e| e.is_dir());
            match (&entry.kind, existing_dir) {
                // A `dir` line over an existing directory sets its owner and mode.
                (Kind::Dir, true) => tree.get_mut(path).expect("checked").meta = entry.meta.clone(),
                _ => add(tree, "file_lists", &format!("/{}", path.as_str()), entry.clone())?,
            }
        }
    }
    Ok(())
}
