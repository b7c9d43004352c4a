//! ustar header blocks, plus the PAX extended header (`x`) that carries
//! whatever one does not hold.
//!
//! Field layout (POSIX.1-2001, `ustar\0` magic, version `00`):
//! name 0..100, mode 100..108, uid 108..116, gid 116..124, size 124..136,
//! mtime 136..148, chksum 148..156, typeflag 156, linkname 157..257,
//! magic 257..263, version 263..265, uname 265..297, gname 297..329,
//! devmajor 329..337, devminor 337..345, prefix 345..500.

use std::collections::BTreeMap;

pub(crate) const BLOCK: usize = 512;

const NAME: std::ops::Range<usize> = 0..100;
const MODE: std::ops::Range<usize> = 100..108;
const UID: std::ops::Range<usize> = 108..116;
const GID: std::ops::Range<usize> = 116..124;
const SIZE: std::ops::Range<usize> = 124..136;
const MTIME: std::ops::Range<usize> = 136..148;
const CHKSUM: std::ops::Range<usize> = 148..156;
const TYPEFLAG: usize = 156;
const LINKNAME: std::ops::Range<usize> = 157..257;
const MAGIC: std::ops::Range<usize> = 257..265;
const DEVMAJOR: std::ops::Range<usize> = 329..337;
const DEVMINOR: std::ops::Range<usize> = 337..345;
const PREFIX: std::ops::Range<usize> = 345..500;

/// Everything one archive member's header says.
pub(crate) struct Fields<'a> {
    pub name: &'a str,
    pub linkname: &'a str,
    pub typeflag: u8,
    /// Permission bits only; the type is in `typeflag`.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: i64,
    pub dev: (u32, u32),
    pub xattrs: &'a BTreeMap<String, Vec<u8>>,
}

/// The header blocks for `f`: a PAX `x` header with its records when
/// needed, then the ustar header. Content blocks are the caller's.
pub(crate) fn encode(f: &Fields<'_>) -> Vec<u8> {
    let mut pax = Vec::new();
    let mut block = [0u8; BLOCK];
    if !put_name(&mut block, f.name) {
        record(&mut pax, "path", f.name.as_bytes());
    }
    if !put_str(&mut block[LINKNAME], f.linkname) {
        record(&mut pax, "linkpath", f.linkname.as_bytes());
    }
    put_octal(&mut block[MODE], u64::from(f.mode & 0o7777));
    put_number(&mut block[UID], u64::from(f.uid), "uid", &mut pax);
    put_number(&mut block[GID], u64::from(f.gid), "gid", &mut pax);
    put_number(&mut block[SIZE], f.size, "size", &mut pax);
    match u64::try_from(f.mtime) {
        Ok(mtime) => put_number(&mut block[MTIME], mtime, "mtime", &mut pax),
        Err(_) => {
            record(&mut pax, "mtime", f.mtime.to_string().as_bytes());
            put_octal(&mut block[MTIME], 0);
        }
    }
    block[TYPEFLAG] = f.typeflag;
    block[MAGIC].copy_from_slice(b"ustar\x0000");
    put_number(&mut block[DEVMAJOR], u64::from(f.dev.0), "SCHILY.devmajor", &mut pax);
    put_number(&mut block[DEVMINOR], u64::from(f.dev.1), "SCHILY.devminor", &mut pax);
    for (name, value) in f.xattrs {
        record(&mut pax, &format!("SCHILY.xattr.{name}"), value);
    }
    set_checksum(&mut block);

    let mut out = Vec::with_capacity(BLOCK * 3);
    if !pax.is_empty() {
        out.extend_from_slice(&pax_header(f.name, pax.len() as u64));
        out.extend_from_slice(&pax);
        out.resize(out.len().next_multiple_of(BLOCK), 0);
    }
    out.extend_from_slice(&block);
    out
}

/// The header of the `x` member itself, named GNU tar's reproducible way
/// (`%d/PaxHeaders/%f`) so a reader without PAX support extracts the
/// records to a recognizable place.
fn pax_header(name: &str, size: u64) -> [u8; BLOCK] {
    let trimmed = name.strip_suffix('/').unwrap_or(name);
    let pax_name = match trimmed.rsplit_once('/') {
        Some((dir, file)) => format!("{dir}/PaxHeaders/{file}"),
        None => format!("PaxHeaders/{trimmed}"),
    };
    let mut block = [0u8; BLOCK];
    put_name(&mut block, &pax_name);
    put_octal(&mut block[MODE], 0o644);
    put_octal(&mut block[UID], 0);
    put_octal(&mut block[GID], 0);
    put_octal(&mut block[SIZE], size);
    put_octal(&mut block[MTIME], 0);
    block[TYPEFLAG] = b'x';
    block[MAGIC].copy_from_slice(b"ustar\x0000");
    put_octal(&mut block[DEVMAJOR], 0);
    put_octal(&mut block[DEVMINOR], 0);
    set_checksum(&mut block);
    block
}

/// Stores `name` in name (and prefix, split at a `/`) when it fits and
/// returns true; otherwise stores a truncated copy and returns false.
fn put_name(block: &mut [u8; BLOCK], name: &str) -> bool {
    match split_name(name) {
        Some((prefix, rest)) => put_str(&mut block[PREFIX], prefix) & put_str(&mut block[NAME], rest),
        None => {
            put_str(&mut block[NAME], name);
            false
        }
    }
}

/// The ustar split: `prefix` (at most 155 bytes) + `/` + `name` (at most
/// 100, not empty, so a directory's trailing `/` is never the split point).
pub(crate) fn split_name(name: &str) -> Option<(&str, &str)> {
    if name.len() <= NAME.len() {
        return Some(("", name));
    }
    let search_end = (PREFIX.len() + 1).min(name.len() - 1);
    let at = name.as_bytes()[..search_end].iter().rposition(|&b| b == b'/')?;
    let (prefix, rest) = (&name[..at], &name[at + 1..]);
    (at > 0 && rest.len() <= NAME.len()).then_some((prefix, rest))
}

/// Copies `s` into `field` when it fits (a full field needs no NUL) and
/// returns true; otherwise stores as much as fits on a char boundary.
fn put_str(field: &mut [u8], s: &str) -> bool {
    let mut end = s.len().min(field.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    field[..end].copy_from_slice(&s.as_bytes()[..end]);
    end == s.len()
}

/// Zero-padded octal with a trailing NUL, as GNU tar and tar-rs write it.
fn put_octal(field: &mut [u8], value: u64) -> bool {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    if text.len() > digits {
        return false;
    }
    field[..digits].copy_from_slice(text.as_bytes());
    field[digits] = 0;
    true
}

/// Octal when it fits; otherwise a PAX record and 0 in the field, which is
/// what GNU tar does in POSIX format.
fn put_number(field: &mut [u8], value: u64, key: &str, pax: &mut Vec<u8>) {
    if !put_octal(field, value) {
        record(pax, key, value.to_string().as_bytes());
        put_octal(field, 0);
    }
}

/// Appends one `"<len> <key>=<value>\n"` record; `len` counts itself.
pub(crate) fn record(pax: &mut Vec<u8>, key: &str, value: &[u8]) {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body;
    while body + len.to_string().len() != len {
        len = body + len.to_string().len();
    }
    pax.extend_from_slice(format!("{len} {key}=").as_bytes());
    pax.extend_from_slice(value);
    pax.push(b'\n');
}

/// Six octal digits, NUL, space: the sum of all bytes with the field
/// itself counted as spaces.
fn set_checksum(block: &mut [u8; BLOCK]) {
    block[CHKSUM].fill(b' ');
    let sum: u32 = block.iter().map(|&b| u32::from(b)).sum();
    block[CHKSUM].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

#[cfg(test)]
mod tests;
