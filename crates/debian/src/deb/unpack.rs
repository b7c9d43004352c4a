//! Unpacking in two steps: [`read_member`] decompresses and checks each
//! member of a data tar on any thread, keeping contents in a [`Spill`]
//! store; [`Unpacked::apply`] then puts the members into a tree in archive
//! order. Only the second step needs the tree, so many packages can be read
//! at once while one thread applies them in a fixed order, and the tree
//! comes out the same whichever package was read first.

use std::collections::HashMap;
use std::fs::File;
use std::sync::Arc;

use microroot_tree::{Blob, Entry, Kind, Meta, Spill, SpillError, Tree, TreePath};
use tar::EntryType;

use super::{member_path, meta, Ctx, DebError, Extracted, Place, Result, TarEntry};

/// A package's data member, read and checked but not yet in a tree; see
/// [`super::Deb::read_data`].
#[derive(Debug)]
pub struct Unpacked {
    pub(super) at: Place,
    pub(super) members: Vec<Member>,
}

#[derive(Debug)]
pub(super) struct Member {
    /// The name as stored, for errors.
    raw: String,
    path: TreePath,
    meta: Meta,
    kind: Pending,
}

#[derive(Debug)]
enum Pending {
    Ready(Kind),
    /// A hardlink, by the target's name in the archive: where that file
    /// lands is known only once the tree is there.
    Hardlink(String),
}

/// Where the contents of regular files go.
pub(super) enum Bodies<'s> {
    /// Read into the store.
    Store(&'s Spill),
    /// Left where they are: `file` is a copy of the decompressed tar
    /// stream from its start, so a member's content is at the same offset
    /// there as in the stream.
    InCopy(&'s Arc<File>),
}

/// Reads one tar member; `None` for members that carry no file (PAX
/// global headers).
pub(super) fn read_member(ctx: &Ctx, entry: &mut TarEntry<'_, '_>, bodies: &Bodies<'_>) -> Result<Option<Member>> {
    let ty = entry.header().entry_type();
    if ty == EntryType::XGlobalHeader {
        return Ok(None);
    }
    let (raw, path) = ctx.path(entry)?;
    let meta = meta(ctx, &raw, entry)?;
    let kind = match ty {
        EntryType::Regular | EntryType::Continuous => Kind::File(match bodies {
            Bodies::Store(store) => body(ctx, &raw, entry, store)?,
            Bodies::InCopy(file) => Blob::in_file(Arc::clone(file), entry.raw_file_position(), entry.size()),
        }),
        EntryType::Link => {
            return Ok(Some(Member { kind: Pending::Hardlink(ctx.link(&raw, entry)?), raw, path, meta }))
        }
        EntryType::Symlink => Kind::Symlink(ctx.link(&raw, entry)?),
        EntryType::Directory => Kind::Dir,
        EntryType::Fifo => Kind::Fifo,
        EntryType::Char | EntryType::Block => {
            let (major, minor) = ctx.device(&raw, entry.header())?;
            match ty {
                EntryType::Char => Kind::CharDev { major, minor },
                _ => Kind::BlockDev { major, minor },
            }
        }
        other => {
            let ty = other.as_byte().escape_ascii();
            return Err(ctx.bad(&raw, format!("unsupported member type `{ty}`")));
        }
    };
    Ok(Some(Member { raw, path, meta, kind: Pending::Ready(kind) }))
}

fn body(ctx: &Ctx, raw: &str, entry: &mut TarEntry<'_, '_>, store: &Spill) -> Result<Blob> {
    let size = entry.size();
    store.store(entry, size).map_err(|e| match e {
        SpillError::Read(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => ctx.truncated(),
        SpillError::Read(e) => ctx.io(e),
        source => DebError::Spill { at: ctx.at.clone(), path: raw.to_owned(), source: Box::new(source) },
    })
}

impl Unpacked {
    /// Puts the members into `tree`, as [`super::Deb::extract_data`]
    /// describes, every entry owned by the package.
    pub fn apply(self, tree: &mut Tree, filter: &mut dyn FnMut(&TreePath, &Kind) -> bool) -> Result<Extracted> {
        let mut applier = Applier { tree, at: self.at, filter, files: HashMap::new(), out: Extracted::default() };
        for member in self.members {
            applier.member(member)?;
        }
        Ok(applier.out)
    }
}

/// A regular file member seen so far, for later hardlinks to it.
enum Seen {
    /// Installed: hardlinks point where it landed.
    Installed(TreePath),
    /// Rejected by the filter: the first hardlink to it becomes the file.
    Skipped(Blob),
}

struct Applier<'t, 'f> {
    tree: &'t mut Tree,
    at: Place,
    filter: &'f mut dyn FnMut(&TreePath, &Kind) -> bool,
    files: HashMap<TreePath, Seen>,
    out: Extracted,
}

impl Applier<'_, '_> {
    fn member(&mut self, member: Member) -> Result<()> {
        let Member { raw, path, meta, kind } = member;
        let kind = match kind {
            Pending::Ready(kind) => kind,
            Pending::Hardlink(target) => self.hardlink(&raw, &target)?,
        };
        let owner = Some(self.at.package.clone());
        self.place(&raw, path, Entry { meta, kind, owner })
    }

    fn bad(&self, raw: &str, reason: String) -> DebError {
        DebError::Member { at: self.at.clone(), path: raw.to_owned(), reason }
    }

    fn hardlink(&self, raw: &str, target: &str) -> Result<Kind> {
        let path = member_path(target).map_err(|why| self.bad(raw, format!("hardlink target `{target}`: {why}")))?;
        match self.files.get(&path) {
            Some(Seen::Installed(at)) => Ok(Kind::Hardlink(at.clone())),
            Some(Seen::Skipped(blob)) => Ok(Kind::File(blob.clone())),
            None => Err(self.bad(raw, format!("hardlink to `{target}`, which is not an earlier regular file"))),
        }
    }

    fn place(&mut self, raw: &str, path: TreePath, entry: Entry) -> Result<()> {
        if !(self.filter)(&path, &entry.kind) {
            if let Kind::File(blob) = entry.kind {
                self.files.insert(path, Seen::Skipped(blob));
            }
            self.out.skipped += 1;
            return Ok(());
        }
        // The image owns its root directory; a package's `./` is only listed.
        if !path.is_root() {
            let size = entry.size();
            // Hardlinks to this member point at the original file.
            let original = match &entry.kind {
                Kind::Hardlink(to) => Some(to.clone()),
                _ => None,
            };
            let is_file = matches!(entry.kind, Kind::File(_));
            let at = self.tree.insert(&path, entry).map_err(|source| {
                let (at, path) = (self.at.clone(), raw.to_owned());
                DebError::Tree { at, path, source: Box::new(source) }
            })?;
            match original.or(is_file.then_some(at)) {
                Some(file) => drop(self.files.insert(path.clone(), Seen::Installed(file))),
                None => drop(self.files.remove(&path)),
            }
            self.out.bytes += size;
        }
        self.out.paths.push(path);
        Ok(())
    }
}
