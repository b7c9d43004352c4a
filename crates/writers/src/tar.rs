//! The tar writer: one POSIX ustar member per tree entry, PAX only where
//! ustar falls short.
//!
//! Member names follow [`Naming`]. Owners are numeric only (`uname` and
//! `gname` stay empty), the mode field holds permission bits only, and
//! mtimes are written exactly as the tree has them: clamping to
//! `SOURCE_DATE_EPOCH` is the caller's job.

mod header;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write;

use microroot_tree::{Blob, Entry, Kind, Meta, Tree, TreePath};

use crate::Error;
use header::{Fields, BLOCK};

/// How tree paths become member names. Every tar extractor accepts both;
/// they differ for tools that match member names literally.
///
/// The default is [`Naming::Bare`]: Docker, BuildKit, containerd and
/// go-containerregistry write OCI layers that way, `docker export` does too,
/// and the image-spec's changeset example lists `etc/my-app-config`.
/// Layer consumers that look members up by name (kata-containers
/// genpolicy, shifter) have had bugs with `./` names, never with bare ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Naming {
    /// `usr/bin/x`, directories as `usr/bin/`, and no member for the root:
    /// the extraction directory keeps its own mode and owner.
    #[default]
    Bare,
    /// `./usr/bin/x`, directories as `./usr/bin/`, and the root as `./`
    /// carrying its mode, owner and mtime: what `tar -C root -c .` writes,
    /// as in mmdebstrap and Buildroot `rootfs.tar` outputs.
    DotSlash,
}

impl Naming {
    /// The member name for `path`, or `None` for a root that is not stored.
    pub fn member_name(self, path: &TreePath, is_dir: bool) -> Option<String> {
        let slash = if is_dir { "/" } else { "" };
        match (self, path.is_root()) {
            (Naming::Bare, true) => None,
            (Naming::Bare, false) => Some(format!("{}{slash}", path.as_str())),
            (Naming::DotSlash, true) => Some("./".to_owned()),
            (Naming::DotSlash, false) => Some(format!("./{}{slash}", path.as_str())),
        }
    }
}

/// Writes tree entries as a tar stream, in the style of tar-rs `Builder`:
/// `append` entries, then `finish` to write the end-of-archive marker.
#[derive(Debug)]
pub struct TarWriter<W: Write> {
    out: W,
    naming: Naming,
}

impl<W: Write> TarWriter<W> {
    pub fn new(out: W) -> Self {
        TarWriter { out, naming: Naming::default() }
    }

    pub fn naming(&mut self, naming: Naming) -> &mut Self {
        self.naming = naming;
        self
    }

    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// Writes one entry as it is. A [`Kind::Hardlink`] becomes a link member
    /// (type `1`) naming its target, which must already be in the archive;
    /// [`TarWriter::append_tree`] takes care of that ordering.
    pub fn append(&mut self, path: &TreePath, entry: &Entry) -> Result<(), Error> {
        self.write_member(path, &entry.meta, &entry.kind)
    }

    /// Writes every entry of `tree` in path order, parents first.
    ///
    /// A hardlinked file is one inode with several names; its content goes
    /// with whichever name comes first in path order and the others become
    /// links to that name, all with the inode's (the regular file's) header.
    pub fn append_tree(&mut self, tree: &Tree) -> Result<(), Error> {
        let inodes = link_groups(tree)?;
        for (path, entry) in tree.iter() {
            match inodes.get(path) {
                Some(&(first, inode)) if first == path => self.append(path, inode)?,
                Some(&(first, inode)) => self.write_member(path, &inode.meta, &Kind::Hardlink(first.clone()))?,
                None => self.append(path, entry)?,
            }
        }
        Ok(())
    }

    /// Writes the two zero blocks that end an archive, flushes, and hands
    /// back the writer (to finish a compressor, say).
    pub fn finish(mut self) -> Result<W, Error> {
        self.out.write_all(&[0; 2 * BLOCK]).map_err(Error::TarEnd)?;
        self.out.flush().map_err(Error::TarEnd)?;
        Ok(self.out)
    }

    fn write_member(&mut self, path: &TreePath, meta: &Meta, kind: &Kind) -> Result<(), Error> {
        let Some(name) = self.naming.member_name(path, matches!(kind, Kind::Dir)) else {
            return Ok(());
        };
        let member = Member::new(self.naming, path, kind)?;
        let blocks = header::encode(&Fields {
            name: &name,
            linkname: &member.linkname,
            typeflag: member.typeflag,
            mode: meta.mode,
            uid: meta.uid,
            gid: meta.gid,
            size: member.size(),
            mtime: meta.mtime,
            dev: member.dev,
            xattrs: &meta.xattrs,
        });
        let size = member.size() as usize;
        let pad = size.next_multiple_of(BLOCK) - size;
        let io = |source| Error::TarEntry { path: path.clone(), source };
        self.out.write_all(&blocks).map_err(io)?;
        if let Some(blob) = member.data {
            blob.write_to(&mut self.out).map_err(io)?;
        }
        self.out.write_all(&[0; BLOCK][..pad]).map_err(io)
    }
}

/// Writes `tree` as a complete tar stream with [`Naming::Bare`] names and
/// returns the writer.
pub fn write_tree<W: Write>(tree: &Tree, out: W) -> Result<W, Error> {
    let mut tar = TarWriter::new(out);
    tar.append_tree(tree)?;
    tar.finish()
}

/// What a kind becomes in a member header.
struct Member<'a> {
    typeflag: u8,
    linkname: Cow<'a, str>,
    dev: (u32, u32),
    data: Option<&'a Blob>,
}

impl<'a> Member<'a> {
    fn size(&self) -> u64 {
        self.data.map_or(0, Blob::len)
    }

    fn new(naming: Naming, path: &TreePath, kind: &'a Kind) -> Result<Self, Error> {
        let plain = |typeflag| Member { typeflag, linkname: Cow::Borrowed(""), dev: (0, 0), data: None };
        Ok(match kind {
            Kind::File(blob) => Member { data: Some(blob), ..plain(b'0') },
            Kind::Hardlink(target) => {
                let name = naming
                    .member_name(target, false)
                    .ok_or_else(|| Error::HardlinkTarget { path: path.clone(), target: target.clone() })?;
                Member { linkname: Cow::Owned(name), ..plain(b'1') }
            }
            Kind::Symlink(target) => Member { linkname: Cow::Borrowed(target), ..plain(b'2') },
            Kind::CharDev { major, minor } => Member { dev: (*major, *minor), ..plain(b'3') },
            Kind::BlockDev { major, minor } => Member { dev: (*major, *minor), ..plain(b'4') },
            Kind::Dir => plain(b'5'),
            Kind::Fifo => plain(b'6'),
            Kind::Socket => return Err(Error::Unsupported { path: path.clone(), kind: kind.name() }),
        })
    }
}

/// For every path of a hardlinked inode: the inode's first path in archive
/// order and its regular-file entry.
fn link_groups(tree: &Tree) -> Result<BTreeMap<&TreePath, (&TreePath, &Entry)>, Error> {
    let mut groups: BTreeMap<&TreePath, (&Entry, Vec<&TreePath>)> = BTreeMap::new();
    for (path, entry) in tree.iter() {
        let Kind::Hardlink(target) = &entry.kind else { continue };
        let inode = tree.get(target).filter(|e| matches!(e.kind, Kind::File(_)));
        let inode = inode.ok_or_else(|| Error::HardlinkTarget { path: path.clone(), target: target.clone() })?;
        groups.entry(target).or_insert_with(|| (inode, vec![target])).1.push(path);
    }
    let mut inodes = BTreeMap::new();
    for (inode, names) in groups.into_values() {
        let Some(first) = names.iter().copied().min() else { continue };
        inodes.extend(names.into_iter().map(|name| (name, (first, inode))));
    }
    Ok(inodes)
}
