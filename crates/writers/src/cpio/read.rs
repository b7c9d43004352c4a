//! Reading an initramfs back into a [`Tree`], the way the kernel's
//! `init/initramfs.c` unpacks it.
//!
//! The input is a sequence of segments, each either a newc cpio archive
//! (`070701`, or `070702` whose checksums are not checked) or one gzip, xz
//! or zstd stream holding cpio archives, with zero padding between them:
//! an uncompressed early-microcode archive followed by a compressed main
//! one, say. Later members replace earlier ones of the same name. Regular
//! files with more than one link and the same inode number (within one
//! archive: the kernel forgets inode numbers at each trailer) are one file
//! with several names: the data is whichever member carries it (GNU cpio
//! puts it on the last name), the header that of the last member, and the
//! first name in path order becomes the [`Kind::File`], the others
//! [`Kind::Hardlink`]s to it, as the writers expect.
//!
//! Names are checked before they reach the tree: absolute names and `..`
//! components are errors, and parents that are symlinks are followed
//! inside the tree only (see [`Tree::insert`]).

use std::collections::BTreeMap;

use microroot_tree::{Entry, Kind, Meta, Tree, TreePath};

use crate::decompress::{decode_stream, sniff, Sniffed};

const HEADER_LEN: usize = 110;
const TRAILER: &[u8] = b"TRAILER!!!";
/// The kernel's limit on a member name (`PATH_MAX`).
const NAME_MAX: usize = 4096;

/// Why an initramfs could not be read. `at` says which segment: `the
/// archive` or `the gzip stream at byte 812`; `offset` counts bytes of
/// that segment's (decompressed) data.
#[derive(Debug, thiserror::Error)]
pub enum CpioReadError {
    #[error("{at}, byte {offset}: not a newc cpio member: expected the magic `070701` or `070702`, found {found:?}\nhint: inspect reads newc archives (`cpio -o -H newc`), plain or compressed with gzip, xz or zstd")]
    Magic { at: String, offset: u64, found: String },
    #[error(
        "byte {offset}: {format} compression is not supported\nhint: recompress the initramfs with gzip, xz or zstd"
    )]
    Compression { offset: u64, format: &'static str },
    #[error("{at}: cannot decompress: {source}\nhint: the file is corrupt or truncated")]
    Decompress {
        at: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{at}, byte {offset}: truncated: {what}\nhint: the file is incomplete; copy or build it again")]
    Truncated { at: String, offset: u64, what: String },
    #[error(
        "{at}, byte {offset}: header field `{field}` is {found:?}, not 8 hex digits\nhint: the archive is corrupt"
    )]
    Field { at: String, offset: u64, field: &'static str, found: String },
    #[error("{at}, byte {offset}: member `{name}`: {reason}\nhint: {hint}")]
    Member { at: String, offset: u64, name: String, reason: String, hint: &'static str },
}

const FIELDS: [&str; 13] = [
    "ino",
    "mode",
    "uid",
    "gid",
    "nlink",
    "mtime",
    "filesize",
    "devmajor",
    "devminor",
    "rdevmajor",
    "rdevminor",
    "namesize",
    "check",
];

/// Reads a whole initramfs (all its segments) into a tree.
pub fn read_cpio(data: &[u8]) -> Result<Tree, CpioReadError> {
    let mut builder = Builder::default();
    let mut pos = 0;
    while pos < data.len() {
        if data[pos] == 0 {
            pos += 1;
            continue;
        }
        let rest = &data[pos..];
        if rest.starts_with(b"07070") {
            pos += archive(rest, "the archive", pos as u64, &mut builder)?;
            continue;
        }
        match sniff(rest) {
            Sniffed::Compressed(codec) => {
                let at = format!("the {} stream at byte {pos}", codec.name());
                let (plain, used) = decode_stream(rest, codec)
                    .map_err(|source| CpioReadError::Decompress { at: at.clone(), source })?;
                let mut inner = 0;
                while inner < plain.len() {
                    if plain[inner] == 0 {
                        inner += 1;
                    } else {
                        inner += archive(&plain[inner..], &at, inner as u64, &mut builder)?;
                    }
                }
                pos += used.max(1);
            }
            Sniffed::Unsupported(format) => return Err(CpioReadError::Compression { offset: pos as u64, format }),
            Sniffed::Plain => return Err(magic_error("the archive", pos as u64, rest)),
        }
    }
    if builder.members == 0 {
        return Err(CpioReadError::Truncated { at: "the archive".into(), offset: 0, what: "no members at all".into() });
    }
    Ok(builder.tree)
}

fn magic_error(at: &str, offset: u64, rest: &[u8]) -> CpioReadError {
    let found = String::from_utf8_lossy(&rest[..rest.len().min(6)]).into_owned();
    CpioReadError::Magic { at: at.to_owned(), offset, found }
}

/// One archive, up to and including its trailer, from the start of `buf`
/// (`base` is where `buf` starts in its segment). Returns the bytes used.
fn archive(buf: &[u8], at: &str, base: u64, builder: &mut Builder) -> Result<usize, CpioReadError> {
    let mut pos = 0;
    loop {
        let offset = base + pos as u64;
        let truncated = |what: &str| CpioReadError::Truncated { at: at.to_owned(), offset, what: what.to_owned() };
        let rest = &buf[pos..];
        if rest.is_empty() {
            return Err(truncated("the archive ends without its TRAILER!!! member"));
        }
        if !(rest.starts_with(b"070701") || rest.starts_with(b"070702")) {
            return Err(magic_error(at, offset, rest));
        }
        let header = rest.get(..HEADER_LEN).ok_or_else(|| truncated("a member header is cut off"))?;
        let mut f = [0u32; 13];
        for (i, field) in FIELDS.iter().enumerate() {
            let raw = &header[6 + 8 * i..14 + 8 * i];
            let text = std::str::from_utf8(raw).ok().filter(|t| t.bytes().all(|b| b.is_ascii_hexdigit()));
            f[i] = text.and_then(|t| u32::from_str_radix(t, 16).ok()).ok_or_else(|| CpioReadError::Field {
                at: at.to_owned(),
                offset,
                field,
                found: String::from_utf8_lossy(raw).into_owned(),
            })?;
        }
        let name_size = f[11] as usize;
        if name_size == 0 || name_size > NAME_MAX {
            return Err(member_error(at, offset, "", format!("name size {name_size} is not 1 to {NAME_MAX}")));
        }
        let name_end = pos + HEADER_LEN + name_size;
        let name = buf.get(pos + HEADER_LEN..name_end - 1).ok_or_else(|| truncated("the member name is cut off"))?;
        let body_at = name_end.next_multiple_of(4);
        let body_end = body_at + f[6] as usize;
        let body = buf.get(body_at..body_end).ok_or_else(|| truncated("the member's data is cut off"))?;
        pos = body_end.next_multiple_of(4).min(buf.len());
        if name == TRAILER {
            builder.end_archive();
            return Ok(pos);
        }
        let name = std::str::from_utf8(name)
            .map_err(|_| member_error(at, offset, &String::from_utf8_lossy(name), "the name is not UTF-8".into()))?;
        builder.member(&f, name, body).map_err(|reason| member_error(at, offset, name, reason))?;
    }
}

fn member_error(at: &str, offset: u64, name: &str, reason: String) -> CpioReadError {
    let hint = "members are named relative to the root (`usr/bin/x`), without `..`";
    CpioReadError::Member { at: at.to_owned(), offset, name: name.to_owned(), reason, hint }
}

/// One inode with several names in the current archive.
#[derive(Default)]
struct Group {
    names: Vec<TreePath>,
    meta: Option<Meta>,
    data: Vec<u8>,
}

#[derive(Default)]
struct Builder {
    tree: Tree,
    /// By (inode, device major, device minor).
    links: BTreeMap<(u32, u32, u32), Group>,
    members: usize,
}

impl Builder {
    fn member(&mut self, f: &[u32; 13], name: &str, body: &[u8]) -> Result<(), String> {
        self.members += 1;
        if name.starts_with('/') || name.split('/').any(|c| c == "..") {
            return Err("absolute names and `..` components could leave the root".into());
        }
        let path = TreePath::new(name).map_err(|e| e.to_string())?;
        let mode = f[1];
        let mut meta = Meta::new(mode);
        (meta.uid, meta.gid, meta.mtime) = (f[2], f[3], f[5] as i64);
        let kind = match mode & 0o170000 {
            0o100000 if f[4] > 1 => {
                let group = self.links.entry((f[0], f[7], f[8])).or_default();
                group.names.push(path);
                group.meta = Some(meta);
                // The kernel writes a later body over the same inode
                // without truncating it.
                if group.data.len() < body.len() {
                    group.data.resize(body.len(), 0);
                }
                group.data[..body.len()].copy_from_slice(body);
                return Ok(());
            }
            0o100000 => Kind::File(body.into()),
            0o040000 => Kind::Dir,
            0o120000 => Kind::Symlink(String::from_utf8(body.to_vec()).map_err(|_| "the link target is not UTF-8")?),
            0o020000 => Kind::CharDev { major: f[9], minor: f[10] },
            0o060000 => Kind::BlockDev { major: f[9], minor: f[10] },
            0o010000 => Kind::Fifo,
            0o140000 => Kind::Socket,
            other => return Err(format!("unknown file type {other:o} in mode {mode:o}")),
        };
        self.tree.insert(&path, Entry::new(meta, kind)).map(drop).map_err(|e| e.to_string())
    }

    /// At a trailer: the archive's hardlinked files go into the tree.
    fn end_archive(&mut self) {
        for group in std::mem::take(&mut self.links).into_values() {
            let mut names = group.names;
            names.sort();
            let meta = group.meta.unwrap_or_else(|| Meta::new(0o644));
            let mut file = Entry::new(meta.clone(), Kind::File(group.data.into()));
            let mut first = None;
            for name in &names {
                // A name already taken by a directory with content stays so.
                if let Ok(landed) = self.tree.insert(name, file.clone()) {
                    if first.is_none() {
                        file = Entry::new(meta.clone(), Kind::Hardlink(landed.clone()));
                        first = Some(landed);
                    }
                }
            }
        }
    }
}
