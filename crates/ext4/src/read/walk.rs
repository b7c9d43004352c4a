//! From the root directory down: every name, then one tree entry per name.

use std::collections::{BTreeMap, HashMap};

use microroot_tree::{Entry, Kind, Meta, Tree, TreePath};

use super::disk::{le16, le32, Fs};
use super::inode::{content, Budget, Inode, INLINE_DATA_FL, S_IFMT};
use super::xattr;
use crate::error::ReadError;

const ROOT_INO: u32 = 2;

pub(crate) fn read_tree(fs: &Fs<'_>) -> Result<Tree, ReadError> {
    let mut budget = Budget::new(fs);
    let root = Inode::read(fs, ROOT_INO)?;
    if !root.is_dir() {
        let reason = format!("the root inode has mode {:o}, not a directory", root.mode);
        return Err(ReadError::Corrupt { what: "inode 2".into(), reason });
    }
    let mut inodes = HashMap::from([(ROOT_INO, root)]);
    let mut names = BTreeMap::from([(TreePath::root(), ROOT_INO)]);
    let mut dirs = HashMap::from([(ROOT_INO, TreePath::root())]);
    let mut pending = vec![(TreePath::root(), ROOT_INO)];
    while let Some((dir, ino)) = pending.pop() {
        for (name, child) in records(fs, &inodes[&ino], &dir, &mut budget)? {
            let path = dir.join(&name).map_err(|e| corrupt(&dir, e.to_string()))?;
            if let std::collections::hash_map::Entry::Vacant(slot) = inodes.entry(child) {
                slot.insert(Inode::read(fs, child)?);
            }
            if inodes[&child].is_dir() {
                if let Some(first) = dirs.insert(child, path.clone()) {
                    return Err(ReadError::Loop { ino: child, first, again: path });
                }
                pending.push((path.clone(), child));
            }
            names.insert(path, child);
        }
    }
    // Several names of one inode: the first in path order holds the file.
    let mut first_name: HashMap<u32, &TreePath> = HashMap::new();
    for (path, ino) in &names {
        if !inodes[ino].is_dir() {
            first_name.entry(*ino).or_insert(path);
        }
    }
    let mut tree = Tree::new();
    for (path, ino) in &names {
        let inode = &inodes[ino];
        let mut xattrs = xattr::read(fs, inode, &mut budget)?;
        let inline = xattrs.remove("system.data").unwrap_or_default();
        let kind = match first_name.get(ino) {
            Some(&first) if first != path => Kind::Hardlink(first.clone()),
            _ => kind(fs, inode, path, &inline, &mut budget)?,
        };
        let meta =
            Meta { mode: (inode.mode & 0o7777) as u32, uid: inode.uid, gid: inode.gid, mtime: inode.mtime, xattrs };
        tree.insert(path, Entry::new(meta, kind)).map_err(|e| corrupt(path, e.to_string()))?;
    }
    Ok(tree)
}

fn corrupt(path: &TreePath, reason: String) -> ReadError {
    ReadError::Corrupt { what: format!("`{path}`"), reason }
}

fn kind(fs: &Fs<'_>, inode: &Inode, path: &TreePath, inline: &[u8], budget: &mut Budget) -> Result<Kind, ReadError> {
    let device = || {
        let (old, new) = (le32(&inode.i_block, 0), le32(&inode.i_block, 4));
        if old != 0 {
            ((old >> 8) & 0xff, old & 0xff)
        } else {
            ((new & 0xfff00) >> 8, (new & 0xff) | ((new >> 12) & 0xfff00))
        }
    };
    Ok(match inode.mode & S_IFMT {
        0o040000 => Kind::Dir,
        0o100000 => Kind::File(content(fs, inode, inline, budget)?.into()),
        0o120000 => {
            let target = if inode.is_fast_symlink() {
                inode.i_block[..inode.size as usize].to_vec()
            } else {
                content(fs, inode, inline, budget)?
            };
            Kind::Symlink(String::from_utf8(target).map_err(|_| ReadError::Unsupported {
                feature: format!("a symlink target that is not UTF-8 (`{path}`)"),
                hint: "the tree holds UTF-8 names and targets only",
            })?)
        }
        0o020000 => {
            let (major, minor) = device();
            Kind::CharDev { major, minor }
        }
        0o060000 => {
            let (major, minor) = device();
            Kind::BlockDev { major, minor }
        }
        0o010000 => Kind::Fifo,
        0o140000 => Kind::Socket,
        other => return Err(corrupt(path, format!("inode {} has unknown file type {other:o}", inode.ino))),
    })
}

/// The names in directory `dir` (inode `inode`), without `.` and `..`.
fn records(fs: &Fs<'_>, inode: &Inode, dir: &TreePath, budget: &mut Budget) -> Result<Vec<(String, u32)>, ReadError> {
    let mut out = Vec::new();
    if inode.flags & INLINE_DATA_FL != 0 {
        // The parent's inode number, then records in the rest of `i_block`
        // and in `system.data`.
        parse(&inode.i_block[4..], fs.filetype, dir, &mut out)?;
        let tail = xattr::read(fs, inode, budget)?.remove("system.data").unwrap_or_default();
        parse(&tail, fs.filetype, dir, &mut out)?;
        return Ok(out);
    }
    let data = content(fs, inode, &[], budget)?;
    for block in data.chunks(fs.block_size as usize) {
        parse(block, fs.filetype, dir, &mut out)?;
    }
    Ok(out)
}

/// Directory records of one block (or inline area). Hashed directories'
/// index blocks look like one empty record, so they are skipped as such.
fn parse(area: &[u8], filetype: bool, dir: &TreePath, out: &mut Vec<(String, u32)>) -> Result<(), ReadError> {
    let mut at = 0;
    while at + 8 <= area.len() {
        let (ino, mut rec_len) = (le32(area, at), le16(area, at + 4) as usize);
        if (rec_len == 0 || rec_len == 65535) && area.len() >= 65536 {
            rec_len = area.len() - at; // 64 KiB blocks store 65536 so
        }
        let name_len = if filetype { area[at + 6] as usize } else { le16(area, at + 6) as usize };
        if rec_len < 8 || !rec_len.is_multiple_of(4) || at + rec_len > area.len() || 8 + name_len > rec_len {
            let reason = format!("bad directory record at byte {at}: length {rec_len}, name length {name_len}");
            return Err(corrupt(dir, reason));
        }
        let name = &area[at + 8..at + 8 + name_len];
        if ino != 0 && name != b"." && name != b".." {
            if name.is_empty() || name.contains(&b'/') || name.contains(&0) {
                return Err(corrupt(dir, format!("invalid name {:?} at byte {at}", String::from_utf8_lossy(name))));
            }
            let name = String::from_utf8(name.to_vec()).map_err(|e| ReadError::Unsupported {
                feature: format!(
                    "a file name that is not UTF-8 in `{dir}` ({:?})",
                    String::from_utf8_lossy(e.as_bytes())
                ),
                hint: "the tree holds UTF-8 names only; rename the file",
            })?;
            out.push((name, ino));
        }
        at += rec_len;
    }
    Ok(())
}
