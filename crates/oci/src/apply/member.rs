//! Reading one tar member: its name, kind and header.

use std::io::Read;

use microroot_tree::{Kind, Meta, TreePath};
use tar::EntryType;

use super::ApplyError;

/// What a member becomes, before hardlink targets are looked up.
pub(super) enum Planned {
    Ready(Kind),
    Hardlink { target: TreePath, raw: String },
}

/// A member or link name as a tree path, by the module's rules.
pub(super) fn layer_path(name: &str, raw: &str) -> Result<TreePath, ApplyError> {
    let mut parts = Vec::new();
    for comp in raw.split('/') {
        match comp {
            "" | "." => {}
            ".." => return Err(ApplyError::DotDot { name: name.into() }),
            c => parts.push(c),
        }
    }
    TreePath::new(&parts.join("/")).map_err(|source| ApplyError::BadName { name: name.into(), source })
}

pub(super) fn plan_kind<R: Read>(name: &str, member: &mut tar::Entry<'_, R>) -> Result<Planned, ApplyError> {
    let header = member.header();
    let io = |source| ApplyError::Member { name: name.into(), source };
    let dev = |h: &tar::Header| -> Result<(u32, u32), ApplyError> {
        Ok((h.device_major().map_err(io)?.unwrap_or(0), h.device_minor().map_err(io)?.unwrap_or(0)))
    };
    let link = || {
        let bytes = member.link_name_bytes().unwrap_or_default().into_owned();
        String::from_utf8(bytes).map_err(|e| ApplyError::NotUtf8 { name: String::from_utf8_lossy(e.as_bytes()).into() })
    };
    Ok(Planned::Ready(match header.entry_type() {
        EntryType::Regular | EntryType::Continuous => {
            let mut content = Vec::with_capacity(member.size().min(1 << 20) as usize);
            member.read_to_end(&mut content).map_err(io)?;
            Kind::File(content.into())
        }
        EntryType::Link => {
            let raw = link()?;
            return Ok(Planned::Hardlink { target: layer_path(name, &raw)?, raw });
        }
        EntryType::Symlink => Kind::Symlink(link()?),
        EntryType::Char => dev(header).map(|(major, minor)| Kind::CharDev { major, minor })?,
        EntryType::Block => dev(header).map(|(major, minor)| Kind::BlockDev { major, minor })?,
        EntryType::Directory => Kind::Dir,
        EntryType::Fifo => Kind::Fifo,
        other => return Err(ApplyError::Unsupported { name: name.into(), typeflag: other.as_byte() as char }),
    }))
}

/// Mode, owner, mtime and xattrs, PAX records overriding the header.
pub(super) fn read_meta<R: Read>(name: &str, member: &mut tar::Entry<'_, R>) -> Result<Meta, ApplyError> {
    let io = |source| ApplyError::Member { name: name.into(), source };
    let header = member.header();
    let (mut uid, mut gid) = (header.uid().map_err(io)?, header.gid().map_err(io)?);
    let mut meta = Meta::new(header.mode().map_err(io)?);
    meta.mtime = header.mtime().map_err(io)? as i64;
    if let Some(pax) = member.pax_extensions().map_err(io)? {
        for ext in pax {
            let ext = ext.map_err(io)?;
            let (Ok(key), value) = (ext.key(), ext.value_bytes()) else { continue };
            let number = || std::str::from_utf8(value).ok().and_then(|v| v.split('.').next()?.parse::<i64>().ok());
            match key {
                "mtime" => meta.mtime = number().unwrap_or(meta.mtime),
                "uid" => uid = number().and_then(|n| u64::try_from(n).ok()).unwrap_or(uid),
                "gid" => gid = number().and_then(|n| u64::try_from(n).ok()).unwrap_or(gid),
                _ => {
                    if let Some(attr) = key.strip_prefix("SCHILY.xattr.") {
                        meta.xattrs.insert(attr.to_owned(), value.to_vec());
                    }
                }
            }
        }
    }
    let id = |field, value: u64| u32::try_from(value).map_err(|_| ApplyError::Id { name: name.into(), field, value });
    meta.uid = id("uid", uid)?;
    meta.gid = id("gid", gid)?;
    Ok(meta)
}
