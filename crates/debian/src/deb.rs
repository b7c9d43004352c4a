//! Reading a `.deb` into a [`Tree`], natively: no dpkg, no host files.
//!
//! A `.deb` is an `ar` archive: `debian-binary` (`2.0`), then
//! `control.tar[.gz|.xz|.zst]` and `data.tar[.gz|.xz|.zst]`. [`Deb::parse`]
//! splits the container without copying the caller's bytes;
//! [`Deb::control`] reads the control member into a [`Control`] (the
//! paragraph for dpkg's status file, conffiles, md5sums and the names of the
//! maintainer scripts, which are never run); [`Deb::extract_data`] streams
//! the data member into a tree, offering each member to a filter first, and
//! returns what it installed as [`Extracted`]. [`control`] and
//! [`extract_data`] do both steps in one call.
//!
//! Member paths are checked before they reach the tree: absolute paths,
//! `..` components and hardlinks to anything but an earlier regular file
//! are errors. Symlinks are followed the way [`Tree::insert`] follows them,
//! inside the tree only, so `evil -> /etc` then `evil/passwd` writes the
//! tree's `etc/passwd`, never the host's.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::rc::Rc;
use std::sync::Arc;

use microroot_tree::{Kind, Meta, Spill, SpillError, Tree, TreeError, TreePath};
use tar::EntryType;

use crate::deb822;

mod unpack;

pub use unpack::Unpacked;

const AR_MAGIC: &[u8] = b"!<arch>\n";
const AR_HEADER: usize = 60;
/// The maintainer scripts dpkg would run; microroot only reports them.
const SCRIPTS: [&str; 5] = ["preinst", "postinst", "prerm", "postrm", "config"];

type Result<T, E = DebError> = std::result::Result<T, E>;

/// Which package, and which ar member of its `.deb`, an error is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub package: Arc<str>,
    /// `debian-binary`, `control.tar.xz`, `data.tar.zst`, ...
    pub member: String,
}

impl Place {
    fn new(package: &Arc<str>, member: &str) -> Self {
        Place { package: package.clone(), member: member.to_owned() }
    }
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.package, self.member)
    }
}

/// Why a `.deb` could not be read. Offsets in a tar member count bytes of
/// its decompressed stream; in the container, bytes of the `.deb`.
#[derive(Debug, thiserror::Error)]
pub enum DebError {
    #[error("{package}: not a .deb: expected the ar magic `!<arch>`, found {found:?}")]
    NotAr { package: Arc<str>, found: String },
    #[error("{package}: ar header at byte {offset}: expected {expected}, found {found:?}")]
    ArHeader { package: Arc<str>, offset: usize, expected: &'static str, found: String },
    #[error("{package}: no `{wanted}*` member in the .deb, found [{found}]")]
    MissingMember { package: Arc<str>, wanted: &'static str, found: String },
    #[error("{at}: expected format `2.x`, found {found:?}")]
    Format { at: Place, found: String },
    #[error("{at}: truncated at byte {offset}\nhint: the file is incomplete; fetch it again")]
    Truncated { at: Place, offset: u64 },
    #[error(
        "{at}: `{suffix}` compression is not supported\nhint: microroot reads .tar, .tar.gz, .tar.xz and .tar.zst"
    )]
    Unsupported { at: Place, suffix: String },
    #[error("{at}: corrupt at byte {offset}: {source}")]
    Corrupt { at: Place, offset: u64, source: io::Error },
    #[error("{at}: `{path}`: {reason}")]
    Member { at: Place, path: String, reason: String },
    #[error("{at}: `{path}`: {source}")]
    Tree { at: Place, path: String, source: Box<TreeError> },
    #[error("{at}: `{path}`: cannot keep the file's content")]
    Spill { at: Place, path: String, source: Box<SpillError> },
}

/// The control member of a package.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Control {
    /// The `control` file verbatim (fields in order), ending in one newline.
    pub paragraph: String,
    /// The `conffiles` lines, e.g. `/etc/ld.so.conf.d/x86_64-linux-gnu.conf`.
    pub conffiles: Vec<String>,
    /// The `md5sums` file verbatim, if the package has one.
    pub md5sums: Option<String>,
    /// Maintainer scripts present (`preinst`, `postinst`, ...), in archive order.
    pub scripts: Vec<String>,
    /// Every other control file (`shlibs`, `triggers`, `symbols`, ...) by name.
    pub other: BTreeMap<String, Vec<u8>>,
}

impl Control {
    /// A field of [`Control::paragraph`], matched case-insensitively.
    pub fn field(&self, name: &str) -> Option<&str> {
        deb822::paragraphs(&self.paragraph).next()?.ok()?.get(name)
    }
}

/// What [`Deb::extract_data`] put into the tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    /// Members installed, in archive order, named as in the archive
    /// (normalized: `./usr/bin/x` is `usr/bin/x`, `./` the root): what dpkg
    /// writes to `info/<pkg>.list`. Where a member landed can differ when a
    /// parent is a symlink (`bin -> usr/bin`).
    pub paths: Vec<TreePath>,
    /// Bytes of regular-file content installed.
    pub bytes: u64,
    /// How many members the filter rejected.
    pub skipped: usize,
}

/// A `.deb` split into its members, borrowing the caller's bytes.
#[derive(Debug, Clone)]
pub struct Deb<'a> {
    package: Arc<str>,
    control: (&'a str, &'a [u8]),
    data: (&'a str, &'a [u8]),
}

/// Reads the control member of `deb`; `package` names it in errors.
pub fn control(deb: &[u8], package: &str) -> Result<Control> {
    Deb::parse(deb, package.into())?.control()
}

/// Extracts the data member of `deb` into `tree`, every entry owned by
/// `owner`. See [`Deb::extract_data`].
pub fn extract_data(
    deb: &[u8],
    tree: &mut Tree,
    owner: Arc<str>,
    filter: &mut dyn FnMut(&TreePath, &Kind) -> bool,
) -> Result<Extracted> {
    Deb::parse(deb, owner)?.extract_data(tree, filter)
}

impl<'a> Deb<'a> {
    /// Splits the ar container and checks `debian-binary`. `package` names
    /// the package in errors and owns the extracted entries. `deb` is taken
    /// to be verified already (its sha256 against the signed index): xz
    /// members are decoded without checking their own CRCs.
    pub fn parse(deb: &'a [u8], package: Arc<str>) -> Result<Self> {
        let members = ar_members(deb, &package)?;
        let find = |wanted: &'static str| {
            let found = members.iter().find(|(name, _)| name.starts_with(wanted));
            found.copied().ok_or_else(|| {
                let found = members.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
                DebError::MissingMember { package: package.clone(), wanted, found }
            })
        };
        let (name, version) = find("debian-binary")?;
        let version = String::from_utf8_lossy(version);
        if version.trim().split('.').next() != Some("2") || !version.contains('.') {
            let (at, found) = (Place::new(&package, name), version.into_owned());
            return Err(DebError::Format { at, found });
        }
        let (control, data) = (find("control.tar")?, find("data.tar")?);
        Ok(Deb { package, control, data })
    }

    /// The ar member holding the files, e.g. `data.tar.xz`.
    pub fn data_member(&self) -> &'a str {
        self.data.0
    }

    /// Reads the control member.
    pub fn control(&self) -> Result<Control> {
        let (mut control, mut text) = (Control::default(), None);
        self.walk(self.control, |ctx, entry| {
            if entry.header().entry_type() != EntryType::Regular {
                return Ok(());
            }
            let name = ctx.path(entry)?.1.as_str().to_owned();
            let body = read_body(ctx, entry)?;
            match name.as_str() {
                "control" => text = Some(ctx.utf8(&name, body)?),
                "md5sums" => control.md5sums = Some(ctx.utf8(&name, body)?),
                "conffiles" => {
                    let lines = ctx.utf8(&name, body)?;
                    let lines = lines.lines().map(str::trim).filter(|l| !l.is_empty());
                    control.conffiles = lines.map(str::to_owned).collect();
                }
                script if SCRIPTS.contains(&script) => control.scripts.push(name),
                _ => drop(control.other.insert(name, body)),
            }
            Ok(())
        })?;
        let ctx = Ctx::new(&self.package, self.control.0);
        let text = text.ok_or_else(|| ctx.bad("control", "no `control` file"))?;
        let mut paragraphs = deb822::paragraphs(&text);
        match (paragraphs.next(), paragraphs.next()) {
            (Some(Ok(p)), None) if p.get("Package").is_some() => {}
            (Some(Err(e)), _) => return Err(ctx.bad("control", e.to_string())),
            _ => return Err(ctx.bad("control", "expected one paragraph with a `Package` field")),
        }
        control.paragraph = format!("{}\n", text.trim_end());
        Ok(control)
    }

    /// Streams the data member into `tree`. Each member is offered to
    /// `filter` with its archive path and kind (a hardlink's target is
    /// where that file landed); rejected ones are skipped, but a rejected
    /// directory's children are still offered one by one.
    pub fn extract_data(&self, tree: &mut Tree, filter: &mut dyn FnMut(&TreePath, &Kind) -> bool) -> Result<Extracted> {
        self.read_data(&Spill::memory())?.apply(tree, filter)
    }

    /// Decompresses and checks the data member without a tree, file
    /// contents going to `store`: the part of unpacking that can run on
    /// many packages at once. [`Unpacked::apply`] then puts it in a tree.
    pub fn read_data(&self, store: &Spill) -> Result<Unpacked> {
        let decoded = Ctx::new(&self.package, self.data.0).decoder(self.data.1)?;
        self.unpack(decoded, &unpack::Bodies::Store(store))
    }

    /// [`Deb::read_data`], writing the decompressed tar stream to `copy`
    /// (e.g. a cache entry that [`Deb::read_data_from`] reads later, with
    /// no decompression) and leaving file contents there: `copy_file` is
    /// the file `copy` writes to, from its start, and the blobs point into
    /// it. `copy` is flushed at the end. The outer error is the package's;
    /// the inner one a failed write to `copy`, after which the blobs are
    /// not usable (read again with [`Deb::read_data`]).
    pub fn read_data_into_copy(
        &self,
        copy: &mut dyn Write,
        copy_file: &Arc<std::fs::File>,
    ) -> Result<std::result::Result<Unpacked, io::Error>> {
        let mut copied = Ok(());
        let inner = Ctx::new(&self.package, self.data.0).decoder(self.data.1)?;
        let copying = Copying { inner, copy: &mut *copy, copied: &mut copied };
        let unpacked = self.unpack(Box::new(copying), &unpack::Bodies::InCopy(copy_file))?;
        Ok(copied.and_then(|()| copy.flush()).map(|()| unpacked))
    }

    /// [`Deb::read_data`] from the data member's decompressed tar stream
    /// in `tar`, as [`Deb::read_data_into_copy`] wrote it: the same checks,
    /// no decompression, and file contents left in `tar` (which must stay
    /// as it is, e.g. a verified cache entry).
    pub fn read_data_from(&self, tar: &Arc<std::fs::File>) -> Result<Unpacked> {
        let reader = io::BufReader::with_capacity(1 << 20, &**tar);
        self.unpack(Box::new(reader), &unpack::Bodies::InCopy(tar))
    }

    /// Reads the members of the data member's tar stream `inner`.
    fn unpack<'r>(&self, inner: Box<dyn Read + 'r>, bodies: &unpack::Bodies<'_>) -> Result<Unpacked> {
        let ctx = Ctx::new(&self.package, self.data.0);
        let mut members = Vec::new();
        Self::walk_stream(&ctx, inner, |ctx, entry| {
            members.extend(unpack::read_member(ctx, entry, bodies)?);
            Ok(())
        })?;
        Ok(Unpacked { at: ctx.at, members })
    }

    /// Runs `each` on every member of the tar stream in `member`.
    fn walk(
        &self,
        (name, body): (&'a str, &'a [u8]),
        each: impl FnMut(&Ctx, &mut TarEntry<'_, 'a>) -> Result<()>,
    ) -> Result<()> {
        let ctx = Ctx::new(&self.package, name);
        Self::walk_stream(&ctx, ctx.decoder(body)?, each)
    }

    /// Runs `each` on every member of the tar stream `inner`.
    fn walk_stream<'r>(
        ctx: &Ctx,
        inner: Box<dyn Read + 'r>,
        mut each: impl FnMut(&Ctx, &mut TarEntry<'_, 'r>) -> Result<()>,
    ) -> Result<()> {
        let pos = ctx.pos.clone();
        let mut archive = tar::Archive::new(Counted { inner, pos });
        for entry in archive.entries().map_err(|e| ctx.io(e))? {
            each(ctx, &mut entry.map_err(|e| ctx.io(e))?)?;
        }
        Ok(())
    }
}

/// Splits an ar archive into `(name, body)` pairs.
fn ar_members<'a>(deb: &'a [u8], package: &Arc<str>) -> Result<Vec<(&'a str, &'a [u8])>> {
    if !deb.starts_with(AR_MAGIC) {
        let found = String::from_utf8_lossy(&deb[..deb.len().min(8)]).into_owned();
        return Err(DebError::NotAr { package: package.clone(), found });
    }
    let (mut pos, mut members) = (AR_MAGIC.len(), Vec::new());
    while pos < deb.len() {
        let bad = |expected, found: &[u8]| {
            let found = String::from_utf8_lossy(found).into_owned();
            DebError::ArHeader { package: package.clone(), offset: pos, expected, found }
        };
        let Some(header) = deb.get(pos..pos + AR_HEADER) else {
            return Err(bad("a 60-byte member header", &deb[pos..]));
        };
        if &header[58..] != b"`\n" {
            return Err(bad("the header terminator \"`\\n\"", &header[58..]));
        }
        let name = std::str::from_utf8(&header[..16]).map_err(|_| bad("a name", &header[..16]))?;
        let name = name.trim_end().trim_end_matches('/');
        let size = std::str::from_utf8(&header[48..58]).ok().and_then(|s| s.trim().parse().ok());
        let size: usize = size.ok_or_else(|| bad("a decimal member size", &header[48..58]))?;
        let start = pos + AR_HEADER;
        let Some(body) = deb.get(start..start.saturating_add(size)) else {
            let (at, offset) = (Place::new(package, name), deb.len() as u64);
            return Err(DebError::Truncated { at, offset });
        };
        members.push((name, body));
        pos = start + size + (size & 1);
    }
    Ok(members)
}

/// A reader that writes what it reads to `copy`, until a write fails
/// (the error goes to `copied`).
struct Copying<'c, R> {
    inner: R,
    copy: &'c mut dyn Write,
    copied: &'c mut io::Result<()>,
}

impl<R: Read> Read for Copying<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.copied.is_ok() {
            *self.copied = self.copy.write_all(&buf[..n]);
        }
        Ok(n)
    }
}

/// A reader that counts the bytes it hands out and notices the end of its
/// input, so errors can say where the stream stopped.
struct Counted<'a> {
    inner: Box<dyn Read + 'a>,
    pos: Rc<Cell<(u64, bool)>>,
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let (pos, _) = self.pos.get();
        self.pos.set((pos + n as u64, n == 0 && !buf.is_empty()));
        Ok(n)
    }
}

type TarEntry<'e, 'a> = tar::Entry<'e, Counted<'a>>;

/// Which member is being read and how far its stream got: the context of
/// every error raised while reading it.
struct Ctx {
    at: Place,
    pos: Rc<Cell<(u64, bool)>>,
}

impl Ctx {
    fn new(package: &Arc<str>, member: &str) -> Self {
        let at = Place::new(package, member);
        Ctx { at, pos: Rc::default() }
    }

    fn decoder<'a>(&self, body: &'a [u8]) -> Result<Box<dyn Read + 'a>> {
        let suffix = self.at.member.split_once(".tar").map_or("", |(_, s)| s);
        Ok(match suffix {
            "" => Box::new(body),
            ".gz" => Box::new(flate2::read::GzDecoder::new(body)),
            ".xz" => {
                let stream = crate::verified_xz_stream().map_err(|e| self.io(e))?;
                Box::new(liblzma::bufread::XzDecoder::new_stream(body, stream))
            }
            ".zst" => Box::new(zstd::Decoder::with_buffer(body).map_err(|e| self.io(e))?),
            _ => {
                let (at, suffix) = (self.at.clone(), suffix.to_owned());
                return Err(DebError::Unsupported { at, suffix });
            }
        })
    }

    fn truncated(&self) -> DebError {
        let (at, offset) = (self.at.clone(), self.pos.get().0);
        DebError::Truncated { at, offset }
    }

    fn io(&self, source: io::Error) -> DebError {
        let (offset, ended) = self.pos.get();
        if ended || source.kind() == io::ErrorKind::UnexpectedEof {
            return self.truncated();
        }
        let at = self.at.clone();
        DebError::Corrupt { at, offset, source }
    }

    fn bad(&self, path: &str, reason: impl Into<String>) -> DebError {
        let (at, path, reason) = (self.at.clone(), path.to_owned(), reason.into());
        DebError::Member { at, path, reason }
    }

    fn utf8(&self, path: &str, bytes: Vec<u8>) -> Result<String> {
        String::from_utf8(bytes).map_err(|_| self.bad(path, "expected UTF-8 text"))
    }

    /// The member's name as stored and as a checked tree path.
    fn path(&self, entry: &TarEntry<'_, '_>) -> Result<(String, TreePath)> {
        let bytes = entry.path_bytes();
        let raw = self.utf8(&String::from_utf8_lossy(&bytes), bytes.to_vec())?;
        let path = member_path(&raw).map_err(|reason| self.bad(&raw, reason))?;
        Ok((raw, path))
    }

    /// A link member's target, exactly as stored.
    fn link(&self, raw: &str, entry: &TarEntry<'_, '_>) -> Result<String> {
        let target = entry.link_name_bytes().filter(|t| !t.is_empty());
        let target = target.ok_or_else(|| self.bad(raw, "link member without a target"))?;
        String::from_utf8(target.into_owned()).map_err(|_| self.bad(raw, "link target is not UTF-8"))
    }

    fn device(&self, raw: &str, header: &tar::Header) -> Result<(u32, u32)> {
        let major = header.device_major().map_err(|e| self.io(e))?;
        let minor = header.device_minor().map_err(|e| self.io(e))?;
        major.zip(minor).ok_or_else(|| self.bad(raw, "device member without major/minor numbers"))
    }
}

/// Rejects what could leave the package root; normalizes the rest.
fn member_path(raw: &str) -> Result<TreePath, String> {
    if raw.starts_with('/') {
        return Err("absolute path, expected one relative to the package root".into());
    }
    if raw.split('/').any(|c| c == "..") {
        return Err("path climbs with `..`, expected one inside the package".into());
    }
    TreePath::new(raw).map_err(|e| e.to_string())
}

fn read_body(ctx: &Ctx, entry: &mut TarEntry<'_, '_>) -> Result<Vec<u8>> {
    let size = entry.size();
    // The header's size is not trusted for the allocation.
    let mut body = Vec::with_capacity(size.min(1 << 26) as usize);
    entry.read_to_end(&mut body).map_err(|e| ctx.io(e))?;
    if body.len() as u64 != size {
        return Err(ctx.truncated());
    }
    Ok(body)
}

/// mode/uid/gid/mtime from the header, PAX `mtime` and `SCHILY.xattr.*`.
fn meta(ctx: &Ctx, raw: &str, entry: &mut TarEntry<'_, '_>) -> Result<Meta> {
    let header = entry.header();
    let number = |n: io::Result<u64>| n.map_err(|e| ctx.io(e));
    let id = |n| u32::try_from(n).map_err(|_| ctx.bad(raw, format!("id {n} exceeds 32 bits")));
    let mut meta = Meta::new(header.mode().map_err(|e| ctx.io(e))?);
    meta.uid = id(number(header.uid())?)?;
    meta.gid = id(number(header.gid())?)?;
    meta.mtime = number(header.mtime())?.try_into().unwrap_or(i64::MAX);
    let Some(records) = entry.pax_extensions().map_err(|e| ctx.io(e))? else {
        return Ok(meta);
    };
    for record in records {
        let record = record.map_err(|e| ctx.io(e))?;
        let key = record.key().map_err(|_| ctx.bad(raw, "pax record key is not UTF-8"))?;
        if key == "mtime" {
            let secs = record.value().ok().and_then(|v| v.split('.').next()?.parse().ok());
            meta.mtime = secs.ok_or_else(|| ctx.bad(raw, "pax `mtime` is not a number"))?;
        } else if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
            meta.xattrs.insert(name.to_owned(), record.value_bytes().to_vec());
        }
    }
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use microroot_tree::Entry;

    fn p(s: &str) -> TreePath {
        TreePath::new(s).unwrap()
    }

    fn header(ty: EntryType, mode: u32, size: usize) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(ty);
        h.set_mode(mode);
        h.set_size(size as u64);
        h.set_mtime(1_700_000_000);
        h.set_uid(0);
        h.set_gid(0);
        h
    }

    /// Appends a member whose name and link go into the header verbatim, so
    /// hostile names survive (the builder's own setters refuse them).
    fn add(b: &mut tar::Builder<Vec<u8>>, ty: EntryType, name: &str, link: &str, body: &[u8]) {
        let mode = if ty == EntryType::Directory { 0o755 } else { 0o644 };
        let mut h = header(ty, mode, body.len());
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_link_name_literal(link).unwrap();
        h.set_cksum();
        b.append(&h, body).unwrap();
    }

    /// A PAX extended header for the next member.
    fn pax(b: &mut tar::Builder<Vec<u8>>, records: &[(&str, &[u8])]) {
        let mut data = Vec::new();
        for (key, value) in records {
            let rest = key.len() + value.len() + 3;
            let mut len = rest + 1;
            while len != rest + len.to_string().len() {
                len = rest + len.to_string().len();
            }
            write!(data, "{len} {key}=").unwrap();
            data.extend_from_slice(value);
            data.push(b'\n');
        }
        add(b, EntryType::XHeader, "PaxHeaders/x", "", &data);
    }

    fn tar(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        b.into_inner().unwrap()
    }

    fn ar(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = AR_MAGIC.to_vec();
        for (name, body) in members {
            let size = body.len();
            writeln!(out, "{name:<16}{:<12}{:<6}{:<6}{:<8}{size:<10}`", 0, 0, 0, 100644).unwrap();
            out.extend_from_slice(body);
            if body.len() % 2 == 1 {
                out.push(b'\n');
            }
        }
        out
    }

    fn compress(suffix: &str, bytes: &[u8]) -> Vec<u8> {
        match suffix {
            ".gz" => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(bytes).unwrap();
                e.finish().unwrap()
            }
            ".xz" => {
                let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
                e.write_all(bytes).unwrap();
                e.finish().unwrap()
            }
            ".zst" => zstd::encode_all(bytes, 3).unwrap(),
            _ => bytes.to_vec(),
        }
    }

    fn control_tar() -> Vec<u8> {
        tar(|b| {
            add(b, EntryType::Directory, "./", "", b"");
            let files: [(&str, &[u8]); 5] = [
                ("./control", b"Package: pkg\nVersion: 1.0-1\nDescription: x\n more\n\n"),
                ("./conffiles", b"/etc/pkg.conf\n\n"),
                ("./md5sums", b"0123  usr/bin/hello\n"),
                ("./postinst", b"#!/bin/sh\n"),
                ("./shlibs", b"libpkg 1 pkg\n"),
            ];
            for (name, body) in files {
                add(b, EntryType::Regular, name, "", body);
            }
        })
    }

    fn deb(suffix: &str, data: &[u8]) -> Vec<u8> {
        let control = compress(suffix, &control_tar());
        let (cname, dname) = (format!("control.tar{suffix}"), format!("data.tar{suffix}"));
        ar(&[("debian-binary", b"2.0\n"), (&cname, &control), (&dname, &compress(suffix, data))])
    }

    fn extract_into(tree: &mut Tree, deb: &[u8]) -> Result<Extracted> {
        extract_data(deb, tree, "pkg".into(), &mut |_, _| true)
    }

    fn err(deb: &[u8]) -> String {
        extract_into(&mut Tree::new(), deb).unwrap_err().to_string()
    }

    fn one_of_each() -> Vec<u8> {
        tar(|b| {
            add(b, EntryType::Directory, "./", "", b"");
            add(b, EntryType::Directory, "./usr/bin/", "", b"");
            let mut h = header(EntryType::Regular, 0o4755, 5);
            h.set_uid(1000);
            h.set_gid(50);
            h.set_mtime(42);
            b.append_data(&mut h, "./usr/bin/hello", &b"hello"[..]).unwrap();
            add(b, EntryType::Symlink, "./usr/bin/hi", "hello", b"");
            add(b, EntryType::Link, "./usr/bin/hello2", "./usr/bin/hello", b"");
            let mut h = header(EntryType::Char, 0o666, 0);
            h.set_device_major(1).unwrap();
            h.set_device_minor(3).unwrap();
            b.append_data(&mut h, "./dev/null", io::empty()).unwrap();
            h.set_entry_type(EntryType::Block);
            h.set_device_major(8).unwrap();
            h.set_device_minor(0).unwrap();
            b.append_data(&mut h, "./dev/sda", io::empty()).unwrap();
            add(b, EntryType::Fifo, "./run/initctl", "", b"");
        })
    }

    #[test]
    fn every_entry_kind() {
        let mut tree = Tree::new();
        let x = extract_into(&mut tree, &deb(".xz", &one_of_each())).unwrap();
        let names: Vec<_> = x.paths.iter().map(TreePath::as_str).collect();
        assert_eq!(
            names,
            ["", "usr/bin", "usr/bin/hello", "usr/bin/hi", "usr/bin/hello2", "dev/null", "dev/sda", "run/initctl"]
        );
        assert_eq!((x.bytes, x.skipped), (5, 0));
        let hello = tree.get(&p("usr/bin/hello")).unwrap();
        assert_eq!(hello.kind, Kind::File("hello".into()));
        assert_eq!((hello.meta.mode, hello.meta.uid, hello.meta.gid, hello.meta.mtime), (0o4755, 1000, 50, 42));
        assert_eq!(hello.owner.as_deref(), Some("pkg"));
        let kind = |s: &str| tree.get(&p(s)).unwrap().kind.clone();
        assert_eq!(kind("usr/bin/hi"), Kind::Symlink("hello".into()));
        assert_eq!(kind("usr/bin/hello2"), Kind::Hardlink(p("usr/bin/hello")));
        assert_eq!(kind("dev/null"), Kind::CharDev { major: 1, minor: 3 });
        assert_eq!(kind("dev/sda"), Kind::BlockDev { major: 8, minor: 0 });
        assert_eq!(kind("run/initctl"), Kind::Fifo);
        assert_eq!(tree.get(&p("usr/bin")).unwrap().owner.as_deref(), Some("pkg"));
        assert_eq!(tree.get(&TreePath::root()).unwrap().owner, None, "the root stays the image's");
    }

    #[test]
    fn every_compression() {
        for suffix in ["", ".gz", ".xz", ".zst"] {
            let deb = deb(suffix, &one_of_each());
            let parsed = Deb::parse(&deb, "pkg".into()).unwrap();
            assert_eq!(parsed.data_member(), format!("data.tar{suffix}"));
            assert_eq!(parsed.control().unwrap().field("Version"), Some("1.0-1"));
            let mut tree = Tree::new();
            assert_eq!(parsed.extract_data(&mut tree, &mut |_, _| true).unwrap().paths.len(), 8, "{suffix}");
        }
        let control_tar = compress(".xz", &control_tar());
        let bz2 = ar(&[("debian-binary", b"2.0\n"), ("control.tar.xz", &control_tar), ("data.tar.bz2", b"BZh9")]);
        assert_eq!(control(&bz2, "pkg").unwrap().field("package"), Some("pkg"));
        let e = err(&bz2);
        assert!(e.starts_with("pkg: data.tar.bz2: `.bz2` compression is not supported\nhint: "), "{e}");
    }

    #[test]
    fn control_member() {
        let c = control(&deb(".gz", &one_of_each()), "pkg").unwrap();
        assert_eq!(c.paragraph, "Package: pkg\nVersion: 1.0-1\nDescription: x\n more\n");
        assert_eq!(c.field("Description"), Some("x\n more"));
        assert_eq!(c.conffiles, ["/etc/pkg.conf"]);
        assert_eq!(c.md5sums.as_deref(), Some("0123  usr/bin/hello\n"));
        assert_eq!(c.scripts, ["postinst"]);
        assert_eq!(c.other.keys().collect::<Vec<_>>(), ["shlibs"]);
        let bad = tar(|b| add(b, EntryType::Regular, "./control", "", b"Version: 1\n"));
        let deb = ar(&[("debian-binary", b"2.0\n"), ("control.tar", &bad), ("data.tar", &one_of_each())]);
        let e = control(&deb, "pkg").unwrap_err().to_string();
        assert_eq!(e, "pkg: control.tar: `control`: expected one paragraph with a `Package` field");
    }

    #[test]
    fn pax_records_and_long_names() {
        let long = format!("./usr/share/{}/file", "d".repeat(120));
        let data = tar(|b| {
            pax(b, &[("path", long.as_bytes()), ("mtime", b"1700000001.25"), ("SCHILY.xattr.user.k", b"v\0x")]);
            add(b, EntryType::Regular, "./short", "", b"abc");
            pax(b, &[("linkpath", long.as_bytes())]);
            add(b, EntryType::Symlink, "./link", "x", b"");
            let mut h = header(EntryType::Regular, 0o644, 2);
            b.append_data(&mut h, format!("./gnu/{}", "g".repeat(150)), &b"gn"[..]).unwrap();
        });
        let mut tree = Tree::new();
        extract_into(&mut tree, &deb("", &data)).unwrap();
        let file = tree.get(&p(&long)).unwrap();
        assert_eq!((file.meta.mtime, file.size()), (1_700_000_001, 3));
        assert_eq!(file.meta.xattrs.get("user.k").map(Vec::as_slice), Some(&b"v\0x"[..]));
        assert_eq!(tree.get(&p("link")).unwrap().kind, Kind::Symlink(long.clone()));
        assert!(tree.file(&p(&format!("gnu/{}", "g".repeat(150)))).is_some());
        assert!(tree.get(&p("short")).is_none());
    }

    #[test]
    fn hostile_members_are_rejected() {
        let cases: [(EntryType, &str, &str, &str); 5] = [
            (EntryType::Regular, "../etc/passwd", "", "path climbs with `..`"),
            (EntryType::Regular, "./usr/../../x", "", "path climbs with `..`"),
            (EntryType::Regular, "/etc/passwd", "", "absolute path"),
            (EntryType::Link, "./x", "./missing", "hardlink to `./missing`, which is not an earlier regular file"),
            (EntryType::Link, "./y", "../../etc/shadow", "hardlink target `../../etc/shadow`: path climbs"),
        ];
        for (ty, name, link, why) in cases {
            let e = err(&deb(".xz", &tar(|b| add(b, ty, name, link, b""))));
            assert!(e.starts_with(&format!("pkg: data.tar.xz: `{name}`: {why}")), "{e}");
        }
        let to_dir = tar(|b| {
            add(b, EntryType::Directory, "./d/", "", b"");
            add(b, EntryType::Link, "./h", "./d", b"");
        });
        assert!(err(&deb("", &to_dir)).contains("`./h`: hardlink to `./d`, which is not"));
    }

    #[test]
    fn symlink_traversal_stays_in_the_tree() {
        let data = tar(|b| {
            add(b, EntryType::Symlink, "./evil", "/etc", b"");
            add(b, EntryType::Regular, "./evil/passwd", "", b"pwned-by-microroot-test\n");
        });
        let mut tree = Tree::new();
        let x = extract_into(&mut tree, &deb(".gz", &data)).unwrap();
        assert_eq!(x.paths, [p("evil"), p("evil/passwd")]);
        assert_eq!(tree.get(&p("etc/passwd")).unwrap().kind, Kind::File("pwned-by-microroot-test\n".into()));
        assert_eq!(tree.get(&p("evil")).unwrap().kind, Kind::Symlink("/etc".into()));
        let host = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        assert!(!host.contains("pwned-by-microroot-test"));
    }

    #[test]
    fn merged_usr_parents_are_followed() {
        let mut tree = Tree::new();
        tree.insert(&p("usr/bin"), Entry::dir(0o755)).unwrap();
        tree.insert(&p("bin"), Entry::symlink("usr/bin")).unwrap();
        let data = tar(|b| {
            add(b, EntryType::Directory, "./bin/", "", b"");
            add(b, EntryType::Regular, "./bin/sh", "", b"#!");
            add(b, EntryType::Link, "./bin/sh2", "./bin/sh", b"");
        });
        let x = extract_into(&mut tree, &deb(".zst", &data)).unwrap();
        assert_eq!(x.paths, [p("bin"), p("bin/sh"), p("bin/sh2")]);
        assert_eq!(tree.get(&p("bin")).unwrap().kind, Kind::Symlink("usr/bin".into()));
        assert_eq!(tree.get(&p("usr/bin/sh")).unwrap().size(), 2);
        assert_eq!(tree.get(&p("usr/bin/sh2")).unwrap().kind, Kind::Hardlink(p("usr/bin/sh")));
    }

    #[test]
    fn filter_skips_members_not_their_children() {
        let data = tar(|b| {
            add(b, EntryType::Directory, "./usr/share/doc/", "", b"");
            add(b, EntryType::Directory, "./usr/share/doc/pkg/", "", b"");
            add(b, EntryType::Regular, "./usr/share/doc/pkg/copyright", "", b"(c)");
            add(b, EntryType::Regular, "./usr/share/doc/pkg/README", "", b"hi");
            add(b, EntryType::Link, "./usr/bin/readme", "./usr/share/doc/pkg/README", b"");
        });
        let mut offered = Vec::new();
        let mut filter = |path: &TreePath, _: &Kind| {
            offered.push(path.as_str().to_owned());
            !path.starts_with(&p("usr/share/doc")) || path.file_name() == "copyright"
        };
        let mut tree = Tree::new();
        let x = extract_data(&deb("", &data), &mut tree, "pkg".into(), &mut filter).unwrap();
        assert_eq!(offered.len(), 5);
        assert_eq!((x.paths.len(), x.skipped, x.bytes), (2, 3, 5));
        assert_eq!(tree.get(&p("usr/share/doc/pkg")).unwrap().owner, None, "made as a parent");
        assert_eq!(tree.get(&p("usr/bin/readme")).unwrap().kind, Kind::File("hi".into()));
    }

    #[test]
    fn corrupt_and_truncated_input() {
        let good = deb(".xz", &one_of_each());
        assert_eq!(err(b"hello"), "pkg: not a .deb: expected the ar magic `!<arch>`, found \"hello\"");
        let cut = &good[..good.len() - 100];
        assert!(err(cut).starts_with(&format!("pkg: data.tar.xz: truncated at byte {}\nhint:", cut.len())));
        let v3 = ar(&[("debian-binary", b"3.0\n"), ("control.tar", b""), ("data.tar", b"")]);
        assert_eq!(err(&v3), "pkg: debian-binary: expected format `2.x`, found \"3.0\\n\"");
        let no_data = ar(&[("debian-binary", b"2.0\n"), ("control.tar", b"")]);
        assert_eq!(err(&no_data), "pkg: no `data.tar*` member in the .deb, found [debian-binary, control.tar]");

        let xz = compress(".xz", &one_of_each());
        let short_xz = ar(&[("debian-binary", b"2.0\n"), ("control.tar", b""), ("data.tar.xz", &xz[..xz.len() / 2])]);
        assert!(err(&short_xz).starts_with("pkg: data.tar.xz: truncated at byte "), "{}", err(&short_xz));
        let plain = one_of_each();
        let mid_file = ar(&[("debian-binary", b"2.0\n"), ("control.tar", b""), ("data.tar", &plain[..1536 + 3])]);
        assert_eq!(err(&mid_file).lines().next(), Some("pkg: data.tar: truncated at byte 1539"));
        let mut flipped = plain.clone();
        flipped[512 + 10] ^= 1;
        let bad_sum = ar(&[("debian-binary", b"2.0\n"), ("control.tar", b""), ("data.tar", &flipped)]);
        assert_eq!(err(&bad_sum), "pkg: data.tar: corrupt at byte 1024: archive header checksum mismatch");
        let garbage =
            ar(&[("debian-binary", b"2.0\n"), ("control.tar", b""), ("data.tar.gz", b"this is not gzip at all")]);
        assert!(err(&garbage).starts_with("pkg: data.tar.gz: corrupt at byte 0: "), "{}", err(&garbage));
    }

    #[test]
    fn a_kept_copy_of_the_data_gives_the_same_tree() {
        // Blobs compare by content, wherever it lives.
        let listing =
            |tree: &Tree| tree.iter().map(|(p, e)| (p.clone(), e.meta.clone(), e.kind.clone())).collect::<Vec<_>>();
        for suffix in ["", ".gz", ".xz", ".zst"] {
            let bytes = deb(suffix, &one_of_each());
            let deb = Deb::parse(&bytes, "pkg".into()).unwrap();
            let mut direct = Tree::new();
            deb.read_data(&Spill::memory()).unwrap().apply(&mut direct, &mut |_, _| true).unwrap();

            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("copy");
            let mut copy = std::fs::File::create(&path).unwrap();
            let file = Arc::new(std::fs::File::open(&path).unwrap());
            let unpacked = deb.read_data_into_copy(&mut copy, &file).unwrap().unwrap();
            let mut from_copy = Tree::new();
            unpacked.apply(&mut from_copy, &mut |_, _| true).unwrap();
            assert_eq!(listing(&from_copy), listing(&direct), "{suffix}");
            assert!(from_copy.iter().any(|(_, e)| matches!(&e.kind, Kind::File(b) if b.is_spilled())));

            // Read back from the copy alone: no decompression, same tree.
            let again = deb.read_data_from(&Arc::new(std::fs::File::open(&path).unwrap())).unwrap();
            let mut from_file = Tree::new();
            again.apply(&mut from_file, &mut |_, _| true).unwrap();
            assert_eq!(listing(&from_file), listing(&direct), "{suffix}");
        }
    }

    #[test]
    fn a_failed_copy_is_reported_and_the_package_still_reads() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::StorageFull, "no space left"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let bytes = deb(".xz", &one_of_each());
        let deb = Deb::parse(&bytes, "pkg".into()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = Arc::new(std::fs::File::create(dir.path().join("copy")).unwrap());
        let copied = deb.read_data_into_copy(&mut Full, &file).unwrap();
        assert_eq!(copied.unwrap_err().kind(), io::ErrorKind::StorageFull);
        assert!(deb.read_data(&Spill::memory()).is_ok());
    }
}
