use std::collections::BTreeMap;
use std::sync::Arc;

use crate::{Blob, TreePath};

/// The header every entry carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meta {
    /// Permission bits including setuid/setgid/sticky (`0o7777`); the file
    /// type lives in [`Kind`].
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Seconds since the Unix epoch.
    pub mtime: i64,
    /// Extended attributes, e.g. `security.capability`.
    pub xattrs: BTreeMap<String, Vec<u8>>,
}

impl Meta {
    /// root:root with the given permission bits and mtime 0.
    pub fn new(mode: u32) -> Self {
        Meta { mode: mode & 0o7777, uid: 0, gid: 0, mtime: 0, xattrs: BTreeMap::new() }
    }
}

/// What an entry is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File(Blob),
    /// The target exactly as stored in the link.
    Symlink(String),
    /// Another regular file of the same tree, which must precede this one
    /// in path order when written.
    Hardlink(TreePath),
    CharDev {
        major: u32,
        minor: u32,
    },
    BlockDev {
        major: u32,
        minor: u32,
    },
    Fifo,
    Socket,
}

impl Kind {
    /// The `S_IFMT` bits for this kind (hardlinks report a regular file).
    pub fn type_bits(&self) -> u32 {
        match self {
            Kind::Dir => 0o040000,
            Kind::File(_) | Kind::Hardlink(_) => 0o100000,
            Kind::Symlink(_) => 0o120000,
            Kind::CharDev { .. } => 0o020000,
            Kind::BlockDev { .. } => 0o060000,
            Kind::Fifo => 0o010000,
            Kind::Socket => 0o140000,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Kind::Dir => "directory",
            Kind::File(_) => "file",
            Kind::Symlink(_) => "symlink",
            Kind::Hardlink(_) => "hardlink",
            Kind::CharDev { .. } => "character device",
            Kind::BlockDev { .. } => "block device",
            Kind::Fifo => "fifo",
            Kind::Socket => "socket",
        }
    }
}

/// One node of the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub meta: Meta,
    pub kind: Kind,
    /// Who put it there: a package name, `manifest`, or `microroot` for
    /// generated files. Used for size reports and the package database.
    pub owner: Option<Arc<str>>,
}

impl Entry {
    pub fn new(meta: Meta, kind: Kind) -> Self {
        Entry { meta, kind, owner: None }
    }

    pub fn dir(mode: u32) -> Self {
        Entry::new(Meta::new(mode), Kind::Dir)
    }

    pub fn file(mode: u32, content: impl Into<Blob>) -> Self {
        Entry::new(Meta::new(mode), Kind::File(content.into()))
    }

    pub fn symlink(target: impl Into<String>) -> Self {
        Entry::new(Meta::new(0o777), Kind::Symlink(target.into()))
    }

    pub fn with_owner(mut self, owner: Arc<str>) -> Self {
        self.owner = Some(owner);
        self
    }

    /// Full `st_mode`: type bits plus permission bits.
    pub fn st_mode(&self) -> u32 {
        self.kind.type_bits() | (self.meta.mode & 0o7777)
    }

    /// Bytes of content (regular files only).
    pub fn size(&self) -> u64 {
        match &self.kind {
            Kind::File(b) => b.len(),
            _ => 0,
        }
    }

    pub fn is_dir(&self) -> bool {
        matches!(self.kind, Kind::Dir)
    }
}
