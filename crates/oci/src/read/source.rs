//! Where an image's files come from: a directory, or the members of a tar
//! archive found by one scan and then read in place by offset.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use tar::EntryType;

use super::ReadError;

/// How many links one member lookup may follow inside an archive.
const MAX_LINKS: usize = 8;

/// A file of the image, opened for reading, and its size when known.
pub(crate) type Opened = (Box<dyn Read + Send>, u64);

#[derive(Debug)]
pub(crate) enum Source {
    Dir(PathBuf),
    Tar { path: PathBuf, members: BTreeMap<String, Member> },
}

#[derive(Clone, Debug)]
pub(crate) enum Member {
    Data {
        offset: u64,
        size: u64,
    },
    /// A hard or symbolic link member, by normalized target name.
    Link(String),
}

impl Source {
    /// Scans the archive at `path` once, noting where each member's data is.
    pub(crate) fn scan_tar(path: &Path) -> Result<Source, ReadError> {
        let io = |source| ReadError::Io { path: path.to_owned(), action: "read the archive", source };
        let file = File::open(path).map_err(|source| ReadError::Io { path: path.into(), action: "open", source })?;
        let mut archive = tar::Archive::new(file);
        let mut members = BTreeMap::new();
        for entry in archive.entries_with_seek().map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = normalize(&String::from_utf8_lossy(&entry.path_bytes()));
            let header = entry.header();
            let link = || entry.link_name_bytes().map(|l| String::from_utf8_lossy(&l).into_owned()).unwrap_or_default();
            let member = match header.entry_type() {
                EntryType::Regular | EntryType::Continuous => {
                    Member::Data { offset: entry.raw_file_position(), size: entry.size() }
                }
                EntryType::Link => Member::Link(normalize(&link())),
                EntryType::Symlink => Member::Link(resolve_symlink(&name, &link())),
                _ => continue,
            };
            members.insert(name, member);
        }
        Ok(Source::Tar { path: path.to_owned(), members })
    }

    /// Whether the image has a file called `name` (`/`-separated).
    pub(crate) fn has(&self, name: &str) -> bool {
        match self {
            Source::Dir(dir) => dir.join(name).is_file(),
            Source::Tar { members, .. } => self.data(members, name).is_some(),
        }
    }

    /// Opens `name`: a file below the directory, or an archive member.
    pub(crate) fn open(&self, name: &str) -> Result<Opened, ReadError> {
        match self {
            Source::Dir(dir) => {
                let path = dir.join(name);
                let open = |source| ReadError::Io { path: path.clone(), action: "open", source };
                let file = File::open(&path).map_err(open)?;
                let size = file.metadata().map_err(open)?.len();
                Ok((Box::new(file), size))
            }
            Source::Tar { path, members } => {
                let (offset, size) = self
                    .data(members, name)
                    .ok_or_else(|| ReadError::Missing { name: name.to_owned(), image: path.clone() })?;
                let io = |source| ReadError::Io { path: path.clone(), action: "read the archive", source };
                let mut file = File::open(path).map_err(io)?;
                file.seek(SeekFrom::Start(offset)).map_err(io)?;
                Ok((Box::new(file.take(size)), size))
            }
        }
    }

    fn data(&self, members: &BTreeMap<String, Member>, name: &str) -> Option<(u64, u64)> {
        let mut name = normalize(name);
        for _ in 0..MAX_LINKS {
            match members.get(&name)? {
                Member::Data { offset, size } => return Some((*offset, *size)),
                Member::Link(target) => name = target.clone(),
            }
        }
        None
    }

    pub(crate) fn path(&self) -> &Path {
        match self {
            Source::Dir(p) | Source::Tar { path: p, .. } => p,
        }
    }
}

/// `./a//b/` → `a/b`. Only used as a lookup key, never as a host path.
pub(crate) fn normalize(name: &str) -> String {
    name.split('/').filter(|c| !c.is_empty() && *c != ".").collect::<Vec<_>>().join("/")
}

/// The archive member a symlink member points to, `..` applied lexically.
fn resolve_symlink(name: &str, target: &str) -> String {
    let mut parts: Vec<&str> = if target.starts_with('/') { Vec::new() } else { name.split('/').collect() };
    parts.pop();
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlink_members_resolve_lexically() {
        assert_eq!(resolve_symlink("abc/layer.tar", "../def/layer.tar"), "def/layer.tar");
        assert_eq!(resolve_symlink("a.tar", "b.tar"), "b.tar");
        assert_eq!(normalize("./blobs//sha256/x"), "blobs/sha256/x");
    }
}
