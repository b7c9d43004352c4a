//! From tree entries to inodes: numbering, directory listings, link counts.
//!
//! Inode 2 is the root and 11 is `lost+found`, as mke2fs makes them; every
//! other entry gets the next number in path order, so parents come before
//! their children and the numbering depends only on the tree. Hardlinks add
//! a name and a link to their target's inode instead of an inode of their own.

use std::collections::{BTreeMap, HashMap};

use microroot_tree::{Blob, Entry, Kind, Tree, TreePath};

use crate::Error;

pub(crate) const ROOT_INO: u32 = 2;
pub(crate) const JOURNAL_INO: u32 = 8;
pub(crate) const LOST_FOUND_INO: u32 = 11;
/// The first inode number not reserved by ext4.
pub(crate) const FIRST_FREE_INO: u32 = 12;
/// `EXT4_LINK_MAX`; directories beyond it count 1 (`dir_nlink`).
const LINK_MAX: u32 = 65000;

const S_IFDIR: u16 = 0o040000;

/// One name in a directory.
#[derive(Clone, Debug)]
pub(crate) struct DirEntry<'a> {
    pub name: &'a [u8],
    pub ino: u32,
    /// `EXT4_FT_*`.
    pub file_type: u8,
}

#[derive(Debug)]
pub(crate) enum Body<'a> {
    Dir {
        parent: u32,
        entries: Vec<DirEntry<'a>>,
    },
    File(&'a Blob),
    Symlink(&'a [u8]),
    Device {
        major: u32,
        minor: u32,
    },
    /// Fifos and sockets: nothing beyond the mode.
    Special,
}

/// One inode to write.
#[derive(Debug)]
pub(crate) struct Node<'a> {
    pub ino: u32,
    pub path: TreePath,
    /// Full `st_mode`.
    pub mode: u16,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    pub xattrs: Option<&'a BTreeMap<String, Vec<u8>>>,
    pub links: u32,
    pub body: Body<'a>,
}

/// Every inode of the tree in inode order: the root, `lost+found`, then
/// numbers from [`FIRST_FREE_INO`] on without gaps.
pub(crate) fn collect(tree: &Tree, timestamp: i64) -> Result<Vec<Node<'_>>, Error> {
    let root = TreePath::root();
    let lost_found = TreePath::new("lost+found").expect("a valid path");
    let mut nodes = vec![synthetic(ROOT_INO, root.clone(), 0o755, timestamp, tree.get(&root))?];
    let tree_lost_found = tree.get(&lost_found);
    if let Some(e) = tree_lost_found.filter(|e| !e.is_dir()) {
        return Err(Error::LostFound { kind: e.kind.name() });
    }
    nodes.push(synthetic(LOST_FOUND_INO, lost_found.clone(), 0o700, timestamp, tree_lost_found)?);

    let mut inos: HashMap<&TreePath, u32> = HashMap::from([(&root, ROOT_INO), (&lost_found, LOST_FOUND_INO)]);
    for (path, entry) in tree.iter() {
        if path.is_root() || *path == lost_found || matches!(entry.kind, Kind::Hardlink(_)) {
            continue;
        }
        let ino = FIRST_FREE_INO + (nodes.len() as u32 - 2);
        inos.insert(path, ino);
        nodes.push(node(ino, path, entry)?);
    }
    if tree_lost_found.is_none() {
        link(&mut nodes, ROOT_INO, b"lost+found", LOST_FOUND_INO, FT_DIR);
    }
    for (path, entry) in tree.iter().filter(|(p, _)| !p.is_root()) {
        add_name(tree, &inos, &mut nodes, path, entry)?;
    }
    for n in &mut nodes {
        if n.links > LINK_MAX {
            if !matches!(n.body, Body::Dir { .. }) {
                return Err(Error::TooManyLinks { path: n.path.clone(), links: n.links as u64 });
            }
            n.links = 1;
        }
    }
    Ok(nodes)
}

/// Puts `path`'s name into its parent directory.
fn add_name<'a>(
    tree: &'a Tree,
    inos: &HashMap<&TreePath, u32>,
    nodes: &mut [Node<'a>],
    path: &'a TreePath,
    entry: &Entry,
) -> Result<(), Error> {
    let name = path.file_name().as_bytes();
    if name.len() > 255 {
        return Err(Error::NameTooLong { path: path.clone(), len: name.len() });
    }
    let parent = parent_ino(tree, inos, path)?;
    let ino = match &entry.kind {
        Kind::Hardlink(target) => hardlink_ino(tree, inos, path, target)?,
        _ => inos[path],
    };
    link(nodes, parent, name, ino, file_type(&entry.kind));
    if let Body::Dir { parent: p, .. } = &mut nodes[index(ino)].body {
        *p = parent;
    }
    Ok(())
}

/// Position of inode `ino` in the list [`collect`] returns.
pub(crate) fn index(ino: u32) -> usize {
    match ino {
        ROOT_INO => 0,
        LOST_FOUND_INO => 1,
        _ => (ino - FIRST_FREE_INO) as usize + 2,
    }
}

/// The root or `lost+found`: the tree's entry if it has one, else a
/// root-owned directory with `mode` stamped `timestamp`.
fn synthetic<'a>(
    ino: u32,
    path: TreePath,
    mode: u32,
    timestamp: i64,
    entry: Option<&'a Entry>,
) -> Result<Node<'a>, Error> {
    match entry {
        Some(e) if !e.is_dir() => Err(Error::RootNotDir { kind: e.kind.name() }),
        Some(e) => node(ino, &path, e),
        None => Ok(Node {
            ino,
            path,
            mode: S_IFDIR | mode as u16,
            uid: 0,
            gid: 0,
            mtime: timestamp,
            xattrs: None,
            links: 2,
            body: Body::Dir { parent: ROOT_INO, entries: Vec::new() },
        }),
    }
}

fn node<'a>(ino: u32, path: &TreePath, entry: &'a Entry) -> Result<Node<'a>, Error> {
    let body = match &entry.kind {
        Kind::Dir => Body::Dir { parent: ROOT_INO, entries: Vec::new() },
        Kind::File(blob) => Body::File(blob),
        Kind::Symlink(target) => {
            if target.is_empty() || target.len() >= 4096 {
                return Err(Error::SymlinkTarget { path: path.clone(), len: target.len() });
            }
            Body::Symlink(target.as_bytes())
        }
        &Kind::CharDev { major, minor } | &Kind::BlockDev { major, minor } => {
            if major >= 4096 || minor >= 1 << 20 {
                return Err(Error::DeviceNumber { path: path.clone(), major, minor });
            }
            Body::Device { major, minor }
        }
        Kind::Fifo | Kind::Socket => Body::Special,
        Kind::Hardlink(_) => unreachable!("hardlinks share their target's inode"),
    };
    let meta = &entry.meta;
    Ok(Node {
        ino,
        path: path.clone(),
        mode: entry.st_mode() as u16,
        uid: meta.uid,
        gid: meta.gid,
        mtime: meta.mtime,
        xattrs: Some(&meta.xattrs).filter(|x| !x.is_empty()),
        // A directory's own `.` and its name in the parent; other inodes
        // count one link per name as names are added.
        links: if entry.is_dir() { 2 } else { 0 },
        body,
    })
}

/// Adds `name` to directory `dir` and counts the link it makes.
fn link<'a>(nodes: &mut [Node<'a>], dir: u32, name: &'a [u8], ino: u32, file_type: u8) {
    if let Body::Dir { entries, .. } = &mut nodes[index(dir)].body {
        entries.push(DirEntry { name, ino, file_type });
    }
    if file_type == FT_DIR {
        nodes[index(dir)].links += 1;
    } else {
        nodes[index(ino)].links += 1;
    }
}

fn parent_ino(tree: &Tree, inos: &HashMap<&TreePath, u32>, path: &TreePath) -> Result<u32, Error> {
    let parent = path.parent().unwrap_or_default();
    match tree.get(&parent) {
        _ if parent.is_root() => Ok(ROOT_INO),
        None => Err(Error::MissingParent { path: path.clone() }),
        Some(e) if !e.is_dir() => Err(Error::ParentNotDir { path: path.clone(), parent, kind: e.kind.name() }),
        Some(_) => Ok(inos[&parent]),
    }
}

/// The inode of the regular file a hardlink names, following links to links.
fn hardlink_ino(tree: &Tree, inos: &HashMap<&TreePath, u32>, path: &TreePath, target: &TreePath) -> Result<u32, Error> {
    let mut at = target;
    for _ in 0..40 {
        match tree.get(at).map(|e| &e.kind) {
            Some(Kind::File(_)) => return Ok(inos[at]),
            Some(Kind::Hardlink(next)) => at = next,
            _ => break,
        }
    }
    Err(Error::HardlinkTarget { path: path.clone(), target: target.clone() })
}

pub(crate) const FT_REG: u8 = 1;
pub(crate) const FT_DIR: u8 = 2;

fn file_type(kind: &Kind) -> u8 {
    match kind {
        Kind::File(_) | Kind::Hardlink(_) => FT_REG,
        Kind::Dir => FT_DIR,
        Kind::CharDev { .. } => 3,
        Kind::BlockDev { .. } => 4,
        Kind::Fifo => 5,
        Kind::Socket => 6,
        Kind::Symlink(_) => 7,
    }
}
