//! Extended attributes: the in-inode area and the attribute block, with
//! POSIX ACLs turned back into the `system.posix_acl_*` xattr format.

use std::collections::BTreeMap;

use super::disk::{le16, le32, Fs};
use super::inode::{content, Budget, Inode};
use crate::error::ReadError;

const MAGIC: u32 = 0xea02_0000;
const BLOCK_HEADER: usize = 32;

/// Every attribute of `inode`, full names as keys. Inline data's
/// `system.data` is among them.
pub(crate) fn read(fs: &Fs<'_>, inode: &Inode, budget: &mut Budget) -> Result<BTreeMap<String, Vec<u8>>, ReadError> {
    let mut out = BTreeMap::new();
    let what = || format!("extended attributes of inode {}", inode.ino);
    if inode.ibody.len() >= 4 && le32(&inode.ibody, 0) == MAGIC {
        entries(fs, &inode.ibody, 4, 4, &mut out, budget, &what)?;
    }
    if inode.file_acl != 0 {
        let block = fs.block(inode.file_acl, &what)?;
        if le32(&block, 0) != MAGIC || le32(&block, 8) != 1 {
            let reason = format!("attribute block {} has no valid header", inode.file_acl);
            return Err(ReadError::Corrupt { what: what(), reason });
        }
        entries(fs, &block, BLOCK_HEADER, 0, &mut out, budget, &what)?;
    }
    Ok(out)
}

/// Entries from `first` on until the 4-byte terminator; value offsets
/// count from `base`.
fn entries(
    fs: &Fs<'_>,
    area: &[u8],
    first: usize,
    base: usize,
    out: &mut BTreeMap<String, Vec<u8>>,
    budget: &mut Budget,
    what: &dyn Fn() -> String,
) -> Result<(), ReadError> {
    let bad = |reason: String| ReadError::Corrupt { what: what(), reason };
    let mut at = first;
    while at + 4 <= area.len() && le32(area, at) != 0 {
        let Some(e) = area.get(at..at + 16) else {
            return Err(bad(format!("entry at byte {at} runs past the end")));
        };
        let (name_len, index, offs) = (e[0] as usize, e[1], le16(e, 2) as usize);
        let (inum, size) = (le32(e, 4), le32(e, 8) as usize);
        let name = area.get(at + 16..at + 16 + name_len).ok_or_else(|| bad(format!("name at byte {at} is cut off")))?;
        let name = std::str::from_utf8(name).map_err(|_| bad(format!("name at byte {at} is not UTF-8")))?;
        let value = if inum != 0 {
            // `ea_inode`: the value is the content of another inode.
            let mut v = content(fs, &Inode::read(fs, inum)?, &[], budget)?;
            v.truncate(size);
            v
        } else {
            let range = (base + offs)..(base + offs).saturating_add(size);
            area.get(range).ok_or_else(|| bad(format!("value of `{name}` lies outside its area")))?.to_vec()
        };
        let (full, value) = match index {
            1 => (format!("user.{name}"), value),
            2 => ("system.posix_acl_access".to_owned(), acl_from_disk(&value).ok_or_else(|| bad("bad ACL".into()))?),
            3 => ("system.posix_acl_default".to_owned(), acl_from_disk(&value).ok_or_else(|| bad("bad ACL".into()))?),
            4 => (format!("trusted.{name}"), value),
            6 => (format!("security.{name}"), value),
            7 => (format!("system.{name}"), value),
            8 => ("system.richacl".to_owned(), value),
            _ => return Err(bad(format!("unknown attribute name index {index}"))),
        };
        out.insert(full, value);
        at += (16 + name_len).next_multiple_of(4);
    }
    Ok(())
}

const ACL_USER: u16 = 0x02;
const ACL_GROUP: u16 = 0x08;

/// `ext4_acl` (version 1: ids only for named users and groups) to
/// `posix_acl_xattr` (version 2: 8 bytes per entry, -1 for no id).
fn acl_from_disk(value: &[u8]) -> Option<Vec<u8>> {
    let (version, mut rest) = value.split_first_chunk::<4>()?;
    if u32::from_le_bytes(*version) != 1 {
        return None;
    }
    let mut out = 2u32.to_le_bytes().to_vec();
    while !rest.is_empty() {
        let tag = u16::from_le_bytes([*rest.first()?, *rest.get(1)?]);
        let len = if matches!(tag, ACL_USER | ACL_GROUP) { 8 } else { 4 };
        let e = rest.get(..len)?;
        out.extend_from_slice(&e[..4]);
        out.extend_from_slice(if len == 8 { &e[4..8] } else { &[0xff; 4] });
        rest = &rest[len..];
    }
    Some(out)
}
