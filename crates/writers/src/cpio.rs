//! The initramfs format: SVR4 "newc" cpio (magic `070701`), as the
//! kernel's `init/initramfs.c` unpacks it and `usr/gen_init_cpio` writes it.
//!
//! Each member is a 110-byte ASCII header (thirteen 8-digit hex fields:
//! inode, mode, uid, gid, nlink, mtime, size, device major/minor, rdev
//! major/minor, name size, checksum 0), the NUL-terminated name, and the
//! data, each padded to 4 bytes; `TRAILER!!!` ends the archive.
//!
//! The output depends only on the tree: members in path order (parents
//! first), names without a leading `/`, no member for the root (the
//! kernel's rootfs already has one), inode numbers counted from 1 in that
//! order, numeric owners, and the tree's mtimes clamped to the format's
//! unsigned 32 bits. Names of a hardlinked file share one inode and carry
//! its header; as GNU cpio does, only the last name in path order carries
//! the data, the earlier ones have size 0, and the kernel links them
//! together by inode number. Extended attributes have no place in newc
//! and are dropped.

pub mod list;
mod read;

use std::collections::BTreeMap;
use std::io::Write;

use microroot_tree::{Blob, Entry, Kind, Tree, TreePath};

use crate::Error;
pub use read::{read_cpio, CpioReadError};

const MAGIC: &str = "070701";
const HEADER_LEN: usize = 110;
const TRAILER: &str = "TRAILER!!!";

/// Writes tree entries as a newc cpio stream: [`CpioWriter::append_tree`],
/// then [`CpioWriter::finish`] for the trailer.
#[derive(Debug)]
pub struct CpioWriter<W: Write> {
    out: W,
    next_inode: u32,
}

/// One member's header fields.
struct Header<'a> {
    name: &'a str,
    inode: u32,
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u32,
    mtime: i64,
    size: u32,
    rdev: (u32, u32),
}

impl<W: Write> CpioWriter<W> {
    pub fn new(out: W) -> Self {
        CpioWriter { out, next_inode: 1 }
    }

    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// Writes every entry of `tree` but the root, in path order.
    pub fn append_tree(&mut self, tree: &Tree) -> Result<(), Error> {
        let groups = link_groups(tree)?;
        let mut group_inodes: BTreeMap<&TreePath, u32> = BTreeMap::new();
        for (path, entry) in tree.iter().skip(1) {
            let io = |source| Error::CpioEntry { path: path.clone(), source };
            let Some(group) = groups.get(path) else {
                let inode = self.take_inode();
                self.write_member(path, entry, inode)?;
                continue;
            };
            let inode = *group_inodes.entry(group.file).or_insert_with(|| {
                let inode = self.next_inode;
                self.next_inode += 1;
                inode
            });
            let Kind::File(blob) = &group.inode.kind else { unreachable!("link groups hold regular files") };
            let data = if group.last == path { Data::Blob(blob) } else { Data::Bytes(&[]) };
            let size = data_size(path, data)?;
            let m = &group.inode.meta;
            let header = Header {
                name: path.as_str(),
                inode,
                mode: group.inode.st_mode(),
                uid: m.uid,
                gid: m.gid,
                nlink: group.count,
                mtime: m.mtime,
                size,
                rdev: (0, 0),
            };
            self.write_raw(&header, data).map_err(io)?;
        }
        Ok(())
    }

    /// Writes the trailer, flushes, and hands back the writer.
    pub fn finish(mut self) -> Result<W, Error> {
        let trailer =
            Header { name: TRAILER, inode: 0, mode: 0, uid: 0, gid: 0, nlink: 1, mtime: 0, size: 0, rdev: (0, 0) };
        self.write_raw(&trailer, Data::Bytes(&[])).map_err(Error::CpioEnd)?;
        self.out.flush().map_err(Error::CpioEnd)?;
        Ok(self.out)
    }

    fn take_inode(&mut self) -> u32 {
        let inode = self.next_inode;
        self.next_inode += 1;
        inode
    }

    fn write_member(&mut self, path: &TreePath, entry: &Entry, inode: u32) -> Result<(), Error> {
        let (data, rdev, nlink) = match &entry.kind {
            Kind::File(blob) => (Data::Blob(blob), (0, 0), 1),
            Kind::Symlink(target) => (Data::Bytes(target.as_bytes()), (0, 0), 1),
            Kind::Dir => (Data::Bytes(&[]), (0, 0), 2),
            Kind::CharDev { major, minor } | Kind::BlockDev { major, minor } => (Data::Bytes(&[]), (*major, *minor), 1),
            Kind::Fifo | Kind::Socket => (Data::Bytes(&[]), (0, 0), 1),
            Kind::Hardlink(_) => unreachable!("hardlinks are written through their group"),
        };
        let size = data_size(path, data)?;
        let m = &entry.meta;
        let header = Header {
            name: path.as_str(),
            inode,
            mode: entry.st_mode(),
            uid: m.uid,
            gid: m.gid,
            nlink,
            mtime: m.mtime,
            size,
            rdev,
        };
        self.write_raw(&header, data).map_err(|source| Error::CpioEntry { path: path.clone(), source })
    }

    fn write_raw(&mut self, h: &Header<'_>, data: Data<'_>) -> std::io::Result<()> {
        let name_size = h.name.len() + 1;
        let mtime = h.mtime.clamp(0, i64::from(u32::MAX));
        let fields = [h.inode, h.mode, h.uid, h.gid, h.nlink, mtime as u32, h.size, 0, 0, h.rdev.0, h.rdev.1];
        let mut header = String::with_capacity(HEADER_LEN);
        header.push_str(MAGIC);
        for field in fields.into_iter().chain([name_size as u32, 0]) {
            header.push_str(&format!("{field:08X}"));
        }
        self.out.write_all(header.as_bytes())?;
        self.out.write_all(h.name.as_bytes())?;
        self.out.write_all(&[0; 4][..1 + pad(HEADER_LEN + name_size)])?;
        match data {
            Data::Bytes(bytes) => self.out.write_all(bytes)?,
            Data::Blob(blob) => blob.write_to(&mut self.out)?,
        }
        self.out.write_all(&[0; 4][..pad(data.len() as usize)])
    }
}

/// A member's content: a file's blob, or bytes such as a symlink's target.
#[derive(Clone, Copy)]
enum Data<'a> {
    Bytes(&'a [u8]),
    Blob(&'a Blob),
}

impl Data<'_> {
    fn len(self) -> u64 {
        match self {
            Data::Bytes(bytes) => bytes.len() as u64,
            Data::Blob(blob) => blob.len(),
        }
    }
}

/// Bytes of zero padding after `len` bytes to reach a multiple of 4.
fn pad(len: usize) -> usize {
    (4 - len % 4) % 4
}

fn data_size(path: &TreePath, data: Data<'_>) -> Result<u32, Error> {
    u32::try_from(data.len()).map_err(|_| Error::CpioTooLarge { path: path.clone(), size: data.len() })
}

/// Writes `tree` as a complete newc archive and returns the writer.
pub fn write_cpio<W: Write>(tree: &Tree, out: W) -> Result<W, Error> {
    let mut cpio = CpioWriter::new(out);
    cpio.append_tree(tree)?;
    cpio.finish()
}

/// A hardlinked inode as seen from one of its names.
struct Group<'a> {
    /// The regular-file entry's path, which names the inode.
    file: &'a TreePath,
    inode: &'a Entry,
    /// The name that carries the data.
    last: &'a TreePath,
    count: u32,
}

/// For every name of a file that has hardlinks: its group.
fn link_groups(tree: &Tree) -> Result<BTreeMap<&TreePath, Group<'_>>, Error> {
    let mut names: BTreeMap<&TreePath, (&Entry, Vec<&TreePath>)> = BTreeMap::new();
    for (path, entry) in tree.iter() {
        let Kind::Hardlink(target) = &entry.kind else { continue };
        let inode = tree.get(target).filter(|e| matches!(e.kind, Kind::File(_)));
        let inode = inode.ok_or_else(|| Error::HardlinkTarget { path: path.clone(), target: target.clone() })?;
        names.entry(target).or_insert_with(|| (inode, vec![target])).1.push(path);
    }
    let mut groups = BTreeMap::new();
    for (file, (inode, paths)) in names {
        let last = paths.iter().copied().max().expect("a group has its file");
        for &path in &paths {
            groups.insert(path, Group { file, inode, last, count: paths.len() as u32 });
        }
    }
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use microroot_tree::Meta;

    use super::*;

    fn p(s: &str) -> TreePath {
        TreePath::new(s).unwrap()
    }

    #[test]
    fn headers_are_newc_and_aligned() {
        let mut tree = Tree::new();
        let mut meta = Meta::new(0o644);
        meta.mtime = 0x6553_F100;
        tree.insert(&p("hello"), Entry::new(meta, Kind::File("hi\n".into()))).unwrap();
        let out = write_cpio(&tree, Vec::new()).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        let expected = concat!(
            "070701",
            "00000001",
            "000081A4",
            "00000000",
            "00000000",
            "00000001",
            "6553F100",
            "00000003",
            "00000000",
            "00000000",
            "00000000",
            "00000000",
            "00000006",
            "00000000",
            "hello\0",
            "hi\n\0",
            "070701",
            "00000000",
            "00000000",
            "00000000",
            "00000000",
            "00000001",
            "00000000",
            "00000000",
            "00000000",
            "00000000",
            "00000000",
            "00000000",
            "0000000B",
            "00000000",
            "TRAILER!!!\0\0\0\0",
        );
        assert_eq!(text, expected);
        assert_eq!(out.len() % 4, 0);
    }

    #[test]
    fn hardlinks_share_an_inode_and_the_last_name_has_the_data() {
        let mut tree = Tree::new();
        tree.insert(&p("b"), Entry::file(0o755, "data")).unwrap();
        tree.insert(&p("a"), Entry::new(Meta::new(0o600), Kind::Hardlink(p("b")))).unwrap();
        tree.insert(&p("c"), Entry::new(Meta::new(0o600), Kind::Hardlink(p("b")))).unwrap();
        tree.insert(&p("d"), Entry::file(0o644, "")).unwrap();
        let out = String::from_utf8(write_cpio(&tree, Vec::new()).unwrap()).unwrap();
        let members: Vec<&str> = out.split(MAGIC).skip(1).collect();
        let field = |m: &str, i: usize| u32::from_str_radix(&m[i * 8..i * 8 + 8], 16).unwrap();
        // (inode, mode, nlink, size) for a, b, c, d.
        let got: Vec<(u32, u32, u32, u32)> =
            members[..4].iter().map(|m| (field(m, 0), field(m, 1), field(m, 4), field(m, 6))).collect();
        assert_eq!(got, [(1, 0o100755, 3, 0), (1, 0o100755, 3, 0), (1, 0o100755, 3, 4), (2, 0o100644, 1, 0)]);
    }
}
