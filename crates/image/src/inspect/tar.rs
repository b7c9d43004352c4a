//! Reading a (decompressed) rootfs tarball into a [`Tree`]: ustar, GNU and
//! PAX headers (long names, `mtime`, `SCHILY.xattr.*`), as GNU tar,
//! mmdebstrap and microroot's own writer make them.
//!
//! Names may start with `./`; `./` itself carries the root's header.
//! Absolute names and `..` components are errors. A hardlinked file ends up
//! at the first of its names in path order, the others linking to it, as
//! the cpio and ext4 readers give it, so trees of all formats compare.

use std::collections::BTreeMap;
use std::io::Read;

use microroot_tree::{Entry, Kind, Meta, Tree, TreePath};
use tar::EntryType;

pub(crate) fn read_tar(data: &[u8]) -> Result<Tree, String> {
    let mut tree = Tree::new();
    let mut archive = tar::Archive::new(data);
    for entry in archive.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let raw = String::from_utf8(entry.path_bytes().into_owned())
            .map_err(|e| format!("member name {:?} is not UTF-8", String::from_utf8_lossy(e.as_bytes())))?;
        let at = |reason: String| format!("member `{raw}`: {reason}");
        if raw.starts_with('/') || raw.split('/').any(|c| c == "..") {
            return Err(at("absolute names and `..` components could leave the root".into()));
        }
        let path = TreePath::new(&raw).map_err(|e| at(e.to_string()))?;
        let ty = entry.header().entry_type();
        let meta = meta(&mut entry).map_err(at)?;
        let header = entry.header();
        let device = || -> Result<(u32, u32), String> {
            let major = header.device_major().map_err(|e| e.to_string())?.unwrap_or(0);
            let minor = header.device_minor().map_err(|e| e.to_string())?.unwrap_or(0);
            Ok((major, minor))
        };
        let link = || -> Result<String, String> {
            let target = entry.link_name_bytes().ok_or("link member without a target")?;
            String::from_utf8(target.into_owned()).map_err(|_| "link target is not UTF-8".to_owned())
        };
        let kind = match ty {
            EntryType::Regular | EntryType::Continuous => {
                let mut body = Vec::with_capacity(entry.size().min(1 << 26) as usize);
                entry.read_to_end(&mut body).map_err(|e| at(e.to_string()))?;
                Kind::File(body.into())
            }
            EntryType::Directory => Kind::Dir,
            EntryType::Symlink => Kind::Symlink(link().map_err(at)?),
            EntryType::Link => {
                let target = link().map_err(at)?;
                Kind::Hardlink(TreePath::new(&target).map_err(|e| at(e.to_string()))?)
            }
            EntryType::Char => device().map(|(major, minor)| Kind::CharDev { major, minor }).map_err(at)?,
            EntryType::Block => device().map(|(major, minor)| Kind::BlockDev { major, minor }).map_err(at)?,
            EntryType::Fifo => Kind::Fifo,
            EntryType::XGlobalHeader => continue,
            other => return Err(at(format!("unsupported member type {:?}", other.as_byte() as char))),
        };
        tree.insert(&path, Entry::new(meta, kind)).map_err(|e| at(e.to_string()))?;
    }
    first_name_holds_the_file(&mut tree);
    Ok(tree)
}

/// mode/uid/gid/mtime from the header, PAX `mtime` and `SCHILY.xattr.*`.
fn meta(entry: &mut tar::Entry<'_, &[u8]>) -> Result<Meta, String> {
    let header = entry.header();
    let id = |n: std::io::Result<u64>| -> Result<u32, String> {
        let n = n.map_err(|e| e.to_string())?;
        u32::try_from(n).map_err(|_| format!("id {n} exceeds 32 bits"))
    };
    let mut meta = Meta::new(header.mode().map_err(|e| e.to_string())?);
    meta.uid = id(header.uid())?;
    meta.gid = id(header.gid())?;
    meta.mtime = header.mtime().map_err(|e| e.to_string())?.try_into().unwrap_or(i64::MAX);
    if let Some(records) = entry.pax_extensions().map_err(|e| e.to_string())? {
        for record in records {
            let record = record.map_err(|e| e.to_string())?;
            let Ok(key) = record.key() else { continue };
            if key == "mtime" {
                let secs = record.value().ok().and_then(|v| v.split('.').next()?.parse().ok());
                meta.mtime = secs.ok_or("pax `mtime` is not a number")?;
            } else if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                meta.xattrs.insert(name.to_owned(), record.value_bytes().to_vec());
            }
        }
    }
    Ok(meta)
}

/// Moves each hardlinked file to the first of its names in path order.
pub(crate) fn first_name_holds_the_file(tree: &mut Tree) {
    let mut groups: BTreeMap<TreePath, Vec<TreePath>> = BTreeMap::new();
    for (path, e) in tree.iter() {
        if let Kind::Hardlink(target) = &e.kind {
            groups.entry(target.clone()).or_insert_with(|| vec![target.clone()]).push(path.clone());
        }
    }
    for (file, names) in groups {
        let first = names.iter().min().expect("a group has its file").clone();
        if first == file {
            continue;
        }
        let Some(Kind::File(blob)) = tree.get(&file).map(|e| e.kind.clone()) else { continue };
        for name in &names {
            if let Some(e) = tree.get_mut(name) {
                e.kind = if *name == first { Kind::File(blob.clone()) } else { Kind::Hardlink(first.clone()) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> TreePath {
        TreePath::new(s).unwrap()
    }

    #[test]
    fn hardlinks_move_to_the_first_name() {
        let mut b = tar::Builder::new(Vec::new());
        let mut add = |name: &str, ty: EntryType, link: &str, body: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(ty);
            h.set_mode(0o755);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            h.set_size(body.len() as u64);
            if !link.is_empty() {
                h.set_link_name(link).unwrap();
            }
            b.append_data(&mut h, name, body).unwrap();
        };
        add("./", EntryType::Directory, "", b"");
        add("./usr/bin/z", EntryType::Regular, "", b"data");
        add("./usr/bin/a", EntryType::Link, "./usr/bin/z", b"");
        add("./usr/bin/sh", EntryType::Symlink, "z", b"");
        let tree = read_tar(&b.into_inner().unwrap()).unwrap();
        assert_eq!(tree.get(&p("usr/bin/a")).unwrap().kind, Kind::File("data".into()));
        assert_eq!(tree.get(&p("usr/bin/z")).unwrap().kind, Kind::Hardlink(p("usr/bin/a")));
        assert_eq!(tree.get(&TreePath::root()).unwrap().meta.mode, 0o755);

        // The tar crate refuses to write `..`; a raw header does not.
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.as_old_mut().name[..11].copy_from_slice(b"etc/../../x");
        h.set_cksum();
        b.append(&h, &b"x"[..]).unwrap();
        let err = read_tar(&b.into_inner().unwrap()).unwrap_err();
        assert!(err.contains("`etc/../../x`") && err.contains("`..`"), "{err}");
    }
}
