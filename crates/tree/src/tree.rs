use std::collections::BTreeMap;
use std::ops::Bound;

use crate::{Entry, Kind, Meta, PathError, TreePath};

/// How many symlinks one lookup may follow before it is called a loop
/// (the kernel's `MAXSYMLINKS`).
const MAX_SYMLINKS: usize = 40;

/// Why an operation on the tree failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    #[error(transparent)]
    Path(#[from] PathError),
    #[error("`{path}` is a {kind}, not a directory, so `{wanted}` cannot be created below it")]
    NotADirectory { path: TreePath, kind: &'static str, wanted: TreePath },
    #[error("cannot replace directory `{path}` with a {kind}: it is not empty")]
    DirNotEmpty { path: TreePath, kind: &'static str },
    #[error("too many levels of symbolic links resolving `{0}`")]
    SymlinkLoop(TreePath),
    #[error("hardlink `{path}` points to `{target}`, which is not a regular file in the tree")]
    HardlinkTarget { path: TreePath, target: TreePath },
}

/// A whole filesystem, sorted by path. See the crate docs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tree {
    entries: BTreeMap<TreePath, Entry>,
}

impl Default for Tree {
    fn default() -> Self {
        Tree::new()
    }
}

impl Tree {
    /// A tree holding only the root directory (mode 0755, root:root).
    pub fn new() -> Self {
        let mut entries = BTreeMap::new();
        entries.insert(TreePath::root(), Entry::dir(0o755));
        Tree { entries }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.len() <= 1
    }

    /// The entry stored at exactly `path` (no symlink is followed).
    pub fn get(&self, path: &TreePath) -> Option<&Entry> {
        self.entries.get(path)
    }

    pub fn get_mut(&mut self, path: &TreePath) -> Option<&mut Entry> {
        self.entries.get_mut(path)
    }

    /// Every entry, parents before children.
    pub fn iter(&self) -> impl Iterator<Item = (&TreePath, &Entry)> {
        self.entries.iter()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&TreePath, &mut Entry)> {
        self.entries.iter_mut()
    }

    /// The direct children of `dir`, sorted by name.
    pub fn children<'a>(&'a self, dir: &TreePath) -> impl Iterator<Item = (&'a TreePath, &'a Entry)> + 'a {
        let depth = dir.depth() + 1;
        self.below(dir).filter(move |(p, _)| p.depth() == depth)
    }

    /// Everything strictly below `dir`.
    pub fn below<'a>(&'a self, dir: &TreePath) -> impl Iterator<Item = (&'a TreePath, &'a Entry)> + 'a {
        let prefix = if dir.is_root() { String::new() } else { format!("{}/", dir.as_str()) };
        // Children are contiguous from `dir/` on, but not right after `dir`:
        // `usr/bin.d` sorts between `usr/bin` and `usr/bin/a`.
        let start = TreePath::raw(prefix.clone());
        self.entries
            .range((Bound::Included(start), Bound::Unbounded))
            .take_while(move |(p, _)| p.as_str().starts_with(&prefix))
    }

    /// Resolves `path` as the kernel would inside a chroot at the tree's
    /// root: symlinks in every parent component are followed, and the last
    /// component too when `follow_last` is set. Components that do not exist
    /// are kept as they are, like `realpath -m`.
    pub fn resolve(&self, path: &TreePath, follow_last: bool) -> Result<TreePath, TreeError> {
        let mut pending: Vec<String> = path.components().rev().map(str::to_owned).collect();
        let mut current = TreePath::root();
        let mut followed = 0;
        while let Some(comp) = pending.pop() {
            let next = current.join(&comp)?;
            let is_last = pending.is_empty();
            match self.entries.get(&next).map(|e| &e.kind) {
                Some(Kind::Symlink(target)) if !is_last || follow_last => {
                    followed += 1;
                    if followed > MAX_SYMLINKS {
                        return Err(TreeError::SymlinkLoop(path.clone()));
                    }
                    if target.starts_with('/') {
                        current = TreePath::root();
                    }
                    // `..` in a target stops at the root instead of failing:
                    // that is what the kernel does under chroot.
                    for c in target.split('/').rev() {
                        pending.push(c.to_owned());
                    }
                }
                _ => current = next,
            }
            while pending.last().is_some_and(|c| c.is_empty() || c == "." || c == "..") {
                if pending.pop().as_deref() == Some("..") {
                    current = current.parent().unwrap_or_default();
                }
            }
        }
        Ok(current)
    }

    /// Follows symlinks (and hardlinks) from `path` to a regular file.
    pub fn file(&self, path: &TreePath) -> Option<&crate::Blob> {
        let resolved = self.resolve(path, true).ok()?;
        match &self.entries.get(&resolved)?.kind {
            Kind::File(blob) => Some(blob),
            Kind::Hardlink(target) => match &self.entries.get(target)?.kind {
                Kind::File(blob) => Some(blob),
                _ => None,
            },
            _ => None,
        }
    }

    /// Creates `path` and any missing parents as directories with `meta`,
    /// following symlinks on the way. Returns where the directory ended up.
    pub fn mkdir_p(&mut self, path: &TreePath, meta: &Meta) -> Result<TreePath, TreeError> {
        let target = self.resolve(path, true)?;
        let mut at = TreePath::root();
        for comp in target.components() {
            at = at.join(comp)?;
            match self.entries.get(&at) {
                Some(e) if e.is_dir() => {}
                Some(e) => {
                    return Err(TreeError::NotADirectory { path: at, kind: e.kind.name(), wanted: path.clone() })
                }
                None => {
                    self.entries.insert(at.clone(), Entry::new(meta.clone(), Kind::Dir));
                }
            }
        }
        Ok(target)
    }

    /// Puts `entry` at `path`, unpacking-style:
    /// - parents are resolved through symlinks and created (0755) if missing;
    /// - a directory landing on a directory, or on a symlink that leads to
    ///   one (merged /usr), keeps what is there and only updates its header
    ///   in the first case;
    /// - anything else replaces what was there, except a non-empty directory.
    ///
    /// Returns the path the entry was stored at.
    pub fn insert(&mut self, path: &TreePath, entry: Entry) -> Result<TreePath, TreeError> {
        let Some(parent) = path.parent() else {
            // The root itself: only its header can change.
            if entry.is_dir() {
                self.entries.insert(TreePath::root(), entry);
                return Ok(TreePath::root());
            }
            return Err(TreeError::DirNotEmpty { path: TreePath::root(), kind: entry.kind.name() });
        };
        let parent = self.mkdir_p(&parent, &Meta::new(0o755))?;
        let at = parent.join(path.file_name())?;
        if self.entries.get(&at).is_some_and(Entry::is_dir) && !entry.is_dir() && self.below(&at).next().is_some() {
            return Err(TreeError::DirNotEmpty { path: at, kind: entry.kind.name() });
        }
        if let Kind::Hardlink(target) = &entry.kind {
            let target = self.resolve(target, false)?;
            if !matches!(self.entries.get(&target).map(|e| &e.kind), Some(Kind::File(_))) {
                return Err(TreeError::HardlinkTarget { path: at, target });
            }
            let entry = Entry { kind: Kind::Hardlink(target), ..entry };
            self.entries.insert(at.clone(), entry);
            return Ok(at);
        }
        match self.entries.get(&at) {
            Some(old) if old.is_dir() && entry.is_dir() => {
                self.entries.insert(at.clone(), entry);
                return Ok(at);
            }
            Some(Entry { kind: Kind::Symlink(_), .. }) if entry.is_dir() => {
                let resolved = self.resolve(&at, true)?;
                if self.entries.get(&resolved).is_some_and(Entry::is_dir) {
                    return Ok(resolved);
                }
            }
            _ => {}
        }
        self.entries.insert(at.clone(), entry);
        Ok(at)
    }

    /// Removes `path` (not following a final symlink) and everything below
    /// it. Returns how many entries went. The root is never removed.
    pub fn remove(&mut self, path: &TreePath) -> usize {
        if path.is_root() {
            return 0;
        }
        let doomed: Vec<TreePath> = std::iter::once(path)
            .filter(|p| self.entries.contains_key(*p))
            .cloned()
            .chain(self.below(path).map(|(p, _)| p.clone()))
            .collect();
        for p in &doomed {
            self.entries.remove(p);
        }
        doomed.len()
    }

    /// Keeps only the entries for which `keep` returns true (the root stays).
    pub fn retain(&mut self, mut keep: impl FnMut(&TreePath, &Entry) -> bool) {
        self.entries.retain(|p, e| p.is_root() || keep(p, e));
    }

    /// Sets every mtime later than `epoch` to `epoch`.
    pub fn clamp_mtimes(&mut self, epoch: i64) {
        for e in self.entries.values_mut() {
            e.meta.mtime = e.meta.mtime.min(epoch);
        }
    }

    /// Sum of regular-file content sizes.
    pub fn content_size(&self) -> u64 {
        self.entries.values().map(Entry::size).sum()
    }
}

#[cfg(test)]
mod tests;
