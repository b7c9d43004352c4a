//! Extended attributes: in the inode's spare bytes when they fit, the rest
//! in one attribute block.
//!
//! Names lose their namespace prefix for an index (`user.` 1, `trusted.` 4,
//! `security.` 6; the POSIX ACLs 2 and 3 with an empty name). Entries are
//! sorted by index, name length and name, as the kernel expects in blocks,
//! and are placed in the inode first while there is room. POSIX ACL values
//! arrive in the `system.posix_acl_*` xattr format (version 2) and are
//! stored in ext4's compact on-disk format (version 1), as the kernel does.

use std::collections::BTreeMap;

use microroot_tree::TreePath;

use crate::geometry::{BLOCK_USIZE, INODE_SIZE};
use crate::Error;

pub(crate) const MAGIC: u32 = 0xea02_0000;
/// Where in-inode attributes start: after the 128-byte base inode and
/// 32 bytes of `i_extra_isize` fields.
pub(crate) const IBODY_OFFSET: usize = 160;
const IBODY_LEN: usize = INODE_SIZE - IBODY_OFFSET;
const BLOCK_HEADER: usize = 32;

/// A node's attributes, laid out.
#[derive(Debug, Default)]
pub(crate) struct Encoded {
    /// The bytes from [`IBODY_OFFSET`] to the end of the inode; empty when
    /// nothing is stored there.
    pub ibody: Vec<u8>,
    /// An attribute block with reference count and checksum still zero.
    pub block: Option<Vec<u8>>,
}

struct Attr {
    index: u8,
    name: Vec<u8>,
    value: Vec<u8>,
}

impl Attr {
    fn entry_len(&self) -> usize {
        (16 + self.name.len()).next_multiple_of(4)
    }
    fn value_len(&self) -> usize {
        self.value.len().next_multiple_of(4)
    }
}

pub(crate) fn encode(path: &TreePath, xattrs: &BTreeMap<String, Vec<u8>>) -> Result<Encoded, Error> {
    let mut attrs = xattrs.iter().map(|(n, v)| attr(path, n, v)).collect::<Result<Vec<_>, _>>()?;
    attrs.sort_by(|a, b| (a.index, a.name.len(), &a.name).cmp(&(b.index, b.name.len(), &b.name)));
    // Both areas end in a 4-byte terminator after the entries.
    let (mut inode, mut block) = (Vec::new(), Vec::new());
    let (mut inode_used, mut block_used) = (4 + 4, BLOCK_HEADER + 4);
    for a in attrs {
        let len = a.entry_len() + a.value_len();
        if inode_used + len <= IBODY_LEN {
            inode_used += len;
            inode.push(a);
        } else if block_used + len <= BLOCK_USIZE {
            block_used += len;
            block.push(a);
        } else {
            let name = String::from_utf8_lossy(&a.name).into_owned();
            let reason = "the attributes do not fit in the inode and one 4096-byte block".to_owned();
            return Err(Error::Xattr { path: path.clone(), name, reason });
        }
    }
    let mut out = Encoded::default();
    if !inode.is_empty() {
        out.ibody = vec![0u8; IBODY_LEN];
        out.ibody[..4].copy_from_slice(&MAGIC.to_le_bytes());
        lay_out(&mut out.ibody, 4, 4, &inode);
    }
    if !block.is_empty() {
        let mut b = vec![0u8; BLOCK_USIZE];
        b[..4].copy_from_slice(&MAGIC.to_le_bytes());
        b[8..12].copy_from_slice(&1u32.to_le_bytes()); // h_blocks
        let hash = lay_out(&mut b, BLOCK_HEADER, 0, &block);
        b[12..16].copy_from_slice(&hash.to_le_bytes());
        out.block = Some(b);
    }
    Ok(out)
}

/// Sets a block's reference count and, with `metadata_csum`, its checksum,
/// which covers the block number.
pub(crate) fn seal_block(block: &mut [u8], number: u64, refcount: u32, fs_seed: Option<u32>) {
    block[4..8].copy_from_slice(&refcount.to_le_bytes());
    if let Some(seed) = fs_seed {
        block[16..20].fill(0);
        let sum = crate::crc32c::crc32c(crate::crc32c::crc32c(seed, &number.to_le_bytes()), block);
        block[16..20].copy_from_slice(&sum.to_le_bytes());
    }
}

/// Writes entries from `first` on and values down from the end of `area`;
/// value offsets count from `base`. Returns the block hash.
fn lay_out(area: &mut [u8], first: usize, base: usize, attrs: &[Attr]) -> u32 {
    let (mut at, mut end) = (first, area.len());
    // `ext4_xattr_rehash`: an entry without a hash makes the block's 0.
    let mut block_hash = Some(0u32);
    for a in attrs {
        let offs = if a.value.is_empty() {
            0
        } else {
            end -= a.value_len();
            area[end..end + a.value.len()].copy_from_slice(&a.value);
            end - base
        };
        let padded = if a.value.is_empty() { &[][..] } else { &area[end..end + a.value_len()] };
        let hash = entry_hash(&a.name, padded);
        let e = &mut area[at..at + a.entry_len()];
        e[0] = a.name.len() as u8;
        e[1] = a.index;
        e[2..4].copy_from_slice(&(offs as u16).to_le_bytes());
        e[8..12].copy_from_slice(&(a.value.len() as u32).to_le_bytes());
        e[12..16].copy_from_slice(&hash.to_le_bytes());
        e[16..16 + a.name.len()].copy_from_slice(&a.name);
        at += a.entry_len();
        block_hash = block_hash.filter(|_| hash != 0).map(|h| h.rotate_left(16) ^ hash);
    }
    block_hash.unwrap_or(0)
}

/// `ext4_xattr_hash_entry`: the name bytes, then the value as padded
/// little-endian words.
fn entry_hash(name: &[u8], padded_value: &[u8]) -> u32 {
    let hash = name.iter().fold(0u32, |h, &b| h.rotate_left(5) ^ b as u32);
    padded_value.chunks_exact(4).fold(hash, |h, w| h.rotate_left(16) ^ u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
}

/// Splits a full attribute name into its index and stored name.
fn attr(path: &TreePath, name: &str, value: &[u8]) -> Result<Attr, Error> {
    let fail = |reason: &str| Error::Xattr { path: path.clone(), name: name.to_owned(), reason: reason.to_owned() };
    let (index, rest, value) = match name {
        "system.posix_acl_access" => {
            (2, "", acl_to_disk(value).ok_or_else(|| fail("not a POSIX ACL in xattr format"))?)
        }
        "system.posix_acl_default" => {
            (3, "", acl_to_disk(value).ok_or_else(|| fail("not a POSIX ACL in xattr format"))?)
        }
        _ => {
            let (index, rest) = [("user.", 1), ("trusted.", 4), ("security.", 6)]
                .iter()
                .find_map(|(prefix, index)| name.strip_prefix(prefix).map(|rest| (*index, rest)))
                .ok_or_else(|| fail("ext4 stores only the user, trusted and security namespaces and POSIX ACLs"))?;
            if rest.is_empty() {
                return Err(fail("the name after the namespace is empty"));
            }
            (index, rest, value.to_vec())
        }
    };
    if rest.len() > 255 {
        return Err(fail("the name after the namespace is longer than 255 bytes"));
    }
    Ok(Attr { index, name: rest.as_bytes().to_vec(), value })
}

const ACL_USER: u16 = 0x02;
const ACL_GROUP: u16 = 0x08;

/// `posix_acl_xattr` (version 2, 8 bytes per entry) to `ext4_acl` (version
/// 1, entries with an id only for named users and groups).
fn acl_to_disk(value: &[u8]) -> Option<Vec<u8>> {
    let (version, entries) = value.split_first_chunk::<4>()?;
    if u32::from_le_bytes(*version) != 2 || entries.len() % 8 != 0 {
        return None;
    }
    let mut out = 1u32.to_le_bytes().to_vec();
    for e in entries.chunks_exact(8) {
        let tag = u16::from_le_bytes([e[0], e[1]]);
        match tag {
            ACL_USER | ACL_GROUP => out.extend_from_slice(e),
            0x01 | 0x04 | 0x10 | 0x20 => out.extend_from_slice(&e[..4]),
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> TreePath {
        TreePath::new("f").unwrap()
    }

    #[test]
    fn small_attributes_stay_in_the_inode() {
        let x = BTreeMap::from([("security.capability".to_owned(), vec![1; 20])]);
        let e = encode(&p(), &x).unwrap();
        assert!(e.block.is_none());
        assert_eq!(e.ibody.len(), 96);
        assert_eq!(e.ibody[4], 10, "name length of `capability`");
        assert_eq!(e.ibody[5], 6, "security index");
    }

    #[test]
    fn large_attributes_go_to_a_block_sorted() {
        let x = BTreeMap::from([
            ("user.b".to_owned(), vec![2; 200]),
            ("user.a".to_owned(), vec![1; 300]),
            ("trusted.x".to_owned(), vec![3; 4]),
        ]);
        let e = encode(&p(), &x).unwrap();
        let block = e.block.unwrap();
        assert_eq!(&block[32 + 16..32 + 17], b"a");
        assert_eq!(&block[32 + 20 + 16..32 + 20 + 17], b"b");
        assert!(!e.ibody.is_empty(), "the 4-byte trusted value fits in the inode");
    }

    #[test]
    fn unknown_namespaces_and_oversized_sets_fail() {
        let x = BTreeMap::from([("os2.x".to_owned(), vec![])]);
        assert!(matches!(encode(&p(), &x), Err(Error::Xattr { .. })));
        let x = BTreeMap::from([("user.big".to_owned(), vec![0; 5000])]);
        assert!(matches!(encode(&p(), &x), Err(Error::Xattr { .. })));
    }

    #[test]
    fn acls_are_stored_compactly() {
        let mut v = 2u32.to_le_bytes().to_vec();
        for (tag, perm, id) in
            [(1u16, 6u16, u32::MAX), (2, 4, 1000), (4, 4, u32::MAX), (0x10, 4, u32::MAX), (0x20, 4, u32::MAX)]
        {
            v.extend_from_slice(&tag.to_le_bytes());
            v.extend_from_slice(&perm.to_le_bytes());
            v.extend_from_slice(&id.to_le_bytes());
        }
        let disk = acl_to_disk(&v).unwrap();
        assert_eq!(disk.len(), 4 + 4 + 8 + 4 + 4 + 4);
        assert_eq!(&disk[8..16], &[2, 0, 4, 0, 0xe8, 3, 0, 0]);
    }
}
