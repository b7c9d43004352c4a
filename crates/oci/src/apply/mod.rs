//! Applying a layer's tar onto a [`Tree`], with OCI whiteouts.
//!
//! Member names are taken relative to the root: a leading `/`, empty and
//! `.` components are dropped. The rules that keep a hostile layer inside
//! the tree:
//!
//! - any `..` component is refused, even one that would stay inside;
//!   layers written by real tools never have one;
//! - no member, hardlink target or whiteout may lie below a symlink
//!   (placed by this layer, a lower one, or the tree it is applied to):
//!   links are never followed, so `evil -> /etc` then `evil/passwd` is an
//!   error, not a write to `/etc/passwd`;
//! - a whiteout must name one entry of its directory (`.wh.x`, never
//!   `.wh..` or `.wh...`), or be the opaque marker `.wh..wh..opq`.
//!
//! As the image-spec says, whiteouts hide only what lower layers put
//! there, never entries of the same layer. A member that replaces a
//! non-directory, or a non-directory replacing a directory, removes what
//! was there first (as containerd does); a directory over a directory only
//! updates its header. Removing a file that other entries hardlink keeps
//! the content under the first remaining link. Missing parent directories
//! are created 0755 and root-owned, as tar does.

mod member;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::{self, Read};
use std::sync::Arc;

use microroot_tree::{Entry, Kind, PathError, Tree, TreeError, TreePath};
use tar::EntryType;

use member::{layer_path, plan_kind, read_meta, Planned};

/// The prefix of a whiteout member's file name.
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// The file name that makes its directory opaque.
pub const WHITEOUT_OPAQUE: &str = ".wh..wh..opq";

/// What one layer did to the tree.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApplyStats {
    /// Members stored in the tree.
    pub entries: usize,
    /// Whiteout and opaque markers honored.
    pub whiteouts: usize,
    /// Entries of lower layers removed by them or replaced.
    pub removed: usize,
}

/// Why a layer could not be applied. `name` is the member name as stored.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("cannot read the layer tar")]
    Read {
        #[source]
        source: io::Error,
    },
    #[error("cannot read layer member `{name}`")]
    Member {
        name: String,
        #[source]
        source: io::Error,
    },
    #[error("layer member name `{name}` is not UTF-8\nhint: microroot trees hold UTF-8 paths only")]
    NotUtf8 { name: String },
    #[error("layer member `{name}` has a `..` component\nhint: layers name paths below the root without `..`; this layer is malformed or hostile")]
    DotDot { name: String },
    #[error("layer member `{name}` is not a valid path")]
    BadName {
        name: String,
        #[source]
        source: PathError,
    },
    #[error("layer member `{name}` lies below `{symlink}`, a symlink to `{target}`\nhint: symlinks are never followed while unpacking, since that is how a layer reaches outside the root; the layer must name the real path")]
    ThroughSymlink { name: String, symlink: TreePath, target: String },
    #[error("layer member `{name}` lies below `{parent}`, which is a {kind}")]
    UnderNonDir { name: String, parent: TreePath, kind: &'static str },
    #[error("whiteout `{name}` names no entry of its directory\nhint: a whiteout is `.wh.` plus one file name, or `.wh..wh..opq`; this layer is malformed or hostile")]
    WhiteoutName { name: String },
    #[error("hardlink `{name}` points to `{target}`, which is not a regular file of this or a lower layer")]
    HardlinkTarget { name: String, target: String },
    #[error("layer member `{name}` has tar type `{typeflag}`, which a tree cannot hold")]
    Unsupported { name: String, typeflag: char },
    #[error("layer member `{name}` is a {kind} at the root, which must stay a directory")]
    RootNotDir { name: String, kind: &'static str },
    #[error("layer member `{name}` has {field} {value}, which does not fit 32 bits")]
    Id { name: String, field: &'static str, value: u64 },
    #[error("layer member `{name}` would land at `{at}` through a link")]
    Redirected { name: String, at: TreePath },
    #[error("cannot store layer member `{name}`")]
    Tree {
        name: String,
        #[source]
        source: TreeError,
    },
}

/// Applies the layer tar `layer` onto `tree`, marking what it adds with
/// `owner`. See the module docs for the rules. On error the tree holds
/// the members before the bad one.
pub fn apply_layer(tree: &mut Tree, layer: impl Read, owner: Option<&Arc<str>>) -> Result<ApplyStats, ApplyError> {
    let mut applier = Applier::new(tree, owner.cloned());
    let mut archive = tar::Archive::new(layer);
    for member in archive.entries().map_err(|source| ApplyError::Read { source })? {
        let mut member = member.map_err(|source| ApplyError::Read { source })?;
        applier.member(&mut member)?;
    }
    Ok(applier.stats)
}

struct Applier<'t> {
    tree: &'t mut Tree,
    owner: Option<Arc<str>>,
    /// Paths this layer stored: whiteouts spare them.
    added: HashSet<TreePath>,
    /// Hardlinked file → the hardlinks to it.
    links: HashMap<TreePath, BTreeSet<TreePath>>,
    stats: ApplyStats,
}

impl<'t> Applier<'t> {
    fn new(tree: &'t mut Tree, owner: Option<Arc<str>>) -> Self {
        let mut links: HashMap<TreePath, BTreeSet<TreePath>> = HashMap::new();
        for (path, entry) in tree.iter() {
            if let Kind::Hardlink(target) = &entry.kind {
                links.entry(target.clone()).or_default().insert(path.clone());
            }
        }
        Applier { tree, owner, added: HashSet::new(), links, stats: ApplyStats::default() }
    }

    fn member<R: Read>(&mut self, member: &mut tar::Entry<'_, R>) -> Result<(), ApplyError> {
        let raw = member.path_bytes().into_owned();
        let name = String::from_utf8(raw)
            .map_err(|e| ApplyError::NotUtf8 { name: String::from_utf8_lossy(e.as_bytes()).into_owned() })?;
        if member.header().entry_type() == EntryType::XGlobalHeader {
            return Ok(());
        }
        let path = layer_path(&name, &name)?;
        if let Some(target) = path.file_name().strip_prefix(WHITEOUT_PREFIX) {
            return self.whiteout(&name, &path, target);
        }
        let planned = plan_kind(&name, member)?;
        let meta = read_meta(&name, member)?;
        let is_dir = matches!(planned, Planned::Ready(Kind::Dir));
        if path.is_root() {
            return match planned {
                Planned::Ready(Kind::Dir) => self.store(&name, &path, Entry::new(meta, Kind::Dir)),
                Planned::Ready(kind) => Err(ApplyError::RootNotDir { name, kind: kind.name() }),
                Planned::Hardlink { .. } => Err(ApplyError::RootNotDir { name, kind: "hardlink" }),
            };
        }
        self.check_parents(&name, &path)?;
        self.make_room(&path, is_dir);
        let kind = match planned {
            Planned::Hardlink { target, raw } => self.hardlink(&name, &path, &target, raw)?,
            Planned::Ready(kind) => kind,
        };
        self.store(&name, &path, Entry::new(meta, kind))
    }

    fn store(&mut self, name: &str, path: &TreePath, mut entry: Entry) -> Result<(), ApplyError> {
        entry.owner = self.owner.clone();
        let link_target = match &entry.kind {
            Kind::Hardlink(target) => Some(target.clone()),
            _ => None,
        };
        let at = self.tree.insert(path, entry).map_err(|source| ApplyError::Tree { name: name.into(), source })?;
        if &at != path {
            // `check_parents` rules this out; never let a link redirect a member.
            return Err(ApplyError::Redirected { name: name.into(), at });
        }
        if let Some(target) = link_target {
            self.links.entry(target).or_default().insert(at.clone());
        }
        self.added.insert(at);
        self.stats.entries += 1;
        Ok(())
    }

    /// The file a hardlink member shares, checked after `make_room`.
    fn hardlink(&self, name: &str, path: &TreePath, target: &TreePath, raw: String) -> Result<Kind, ApplyError> {
        self.check_parents(name, target)?;
        let bad = || ApplyError::HardlinkTarget { name: name.to_owned(), target: raw.clone() };
        match self.tree.get(target).map(|e| &e.kind) {
            _ if target == path => Err(bad()),
            Some(Kind::File(_)) => Ok(Kind::Hardlink(target.clone())),
            Some(Kind::Hardlink(inode)) => Ok(Kind::Hardlink(inode.clone())),
            _ => Err(bad()),
        }
    }

    /// Refuses `path` when a parent is a symlink or not a directory.
    fn check_parents(&self, name: &str, path: &TreePath) -> Result<(), ApplyError> {
        let mut at = TreePath::root();
        for comp in path.parent().unwrap_or_default().components() {
            at = at.join(comp).map_err(|source| ApplyError::BadName { name: name.into(), source })?;
            match self.tree.get(&at).map(|e| &e.kind) {
                None | Some(Kind::Dir) => {}
                Some(Kind::Symlink(target)) => {
                    let (symlink, target) = (at.clone(), target.clone());
                    return Err(ApplyError::ThroughSymlink { name: name.into(), symlink, target });
                }
                Some(kind) => return Err(ApplyError::UnderNonDir { name: name.into(), parent: at, kind: kind.name() }),
            }
        }
        Ok(())
    }

    fn whiteout(&mut self, name: &str, path: &TreePath, target: &str) -> Result<(), ApplyError> {
        self.check_parents(name, path)?;
        let dir = path.parent().unwrap_or_default();
        if path.file_name() == WHITEOUT_OPAQUE {
            self.remove_lower(&dir, false, true);
        } else if target.starts_with(".wh.") {
            return Ok(()); // AUFS bookkeeping (`.wh..wh.plnk`), as Docker ignores it
        } else {
            if matches!(target, "" | "." | "..") {
                return Err(ApplyError::WhiteoutName { name: name.into() });
            }
            let hidden = dir.join(target).map_err(|source| ApplyError::BadName { name: name.into(), source })?;
            self.remove_lower(&hidden, true, true);
        }
        self.stats.whiteouts += 1;
        Ok(())
    }

    /// Clears `path` for a new member.
    fn make_room(&mut self, path: &TreePath, new_is_dir: bool) {
        match self.tree.get(path) {
            None => {}
            Some(old) if old.is_dir() && new_is_dir => {}
            Some(old) if old.is_dir() => self.remove_lower(path, true, false),
            Some(_) => self.remove_one(path),
        }
    }

    /// Removes what is below `path` (and `path` itself if `with_self`),
    /// sparing, if `spare_added`, this layer's entries and their parents.
    fn remove_lower(&mut self, path: &TreePath, with_self: bool, spare_added: bool) {
        let itself = (with_self && self.tree.get(path).is_some()).then(|| path.clone());
        let mut doomed: Vec<TreePath> =
            itself.into_iter().chain(self.tree.below(path).map(|(p, _)| p.clone())).collect();
        if spare_added {
            let mut spared = HashSet::new();
            for added in self.added.iter().filter(|a| a.starts_with(path)) {
                let mut at = Some(added.clone());
                while let Some(p) = at.filter(|p| p.starts_with(path) && spared.insert(p.clone())) {
                    at = p.parent();
                }
            }
            doomed.retain(|p| !spared.contains(p));
        }
        // Children first, so removing one entry never takes others along.
        for p in doomed.iter().rev() {
            self.remove_one(p);
        }
    }

    /// Removes the entry at `path`; a removed file's content moves to its
    /// first remaining hardlink.
    fn remove_one(&mut self, path: &TreePath) {
        let Some(old) = self.tree.get(path).cloned() else { return };
        match &old.kind {
            Kind::File(_) => {
                if let Some(mut names) = self.links.remove(path) {
                    if let Some(first) = names.pop_first() {
                        for other in &names {
                            if let Some(e) = self.tree.get_mut(other) {
                                e.kind = Kind::Hardlink(first.clone());
                            }
                        }
                        if let Some(e) = self.tree.get_mut(&first) {
                            e.kind = old.kind.clone();
                            e.meta = old.meta.clone();
                        }
                        if !names.is_empty() {
                            self.links.insert(first, names);
                        }
                    }
                }
            }
            Kind::Hardlink(target) => {
                if let Some(names) = self.links.get_mut(target) {
                    names.remove(path);
                }
            }
            _ => {}
        }
        self.stats.removed += self.tree.remove(path);
    }
}
