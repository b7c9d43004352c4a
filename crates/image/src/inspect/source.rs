//! From a file to a [`Tree`]: the format is recognized by its magic bytes,
//! never by the file name, then the format's reader runs.
//!
//! Adding a source is one [`Format`] variant, one rule in [`detect`] and
//! one arm in [`read`]; everything after (owners, sizes, diff, HTML) works
//! on the tree. A source that is a directory (an OCI image layout, say)
//! is recognized where [`read`] now refuses directories.

use std::io::Read;
use std::path::Path;

use microroot_tree::Tree;
use microroot_writers::{Codec, Sniffed};
use serde::Serialize;

use super::InspectError;

/// What kind of output a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Tar,
    /// newc cpio, possibly several concatenated archives (an initramfs).
    Cpio,
    Ext4,
    /// An OCI image layout, oci-archive or docker-archive: its layers
    /// applied in order.
    Oci,
}

/// A recognized file: its format and the compression around it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Detected {
    pub format: Format,
    pub compression: Option<Codec>,
}

impl Detected {
    /// `tar.xz`, `cpio.gz`, `ext4`: the names `[output] formats` uses.
    pub fn name(&self) -> String {
        let base = match self.format {
            Format::Tar => "tar",
            Format::Cpio => "cpio",
            Format::Ext4 => "ext4",
            Format::Oci => "oci",
        };
        match self.compression {
            None => base.to_owned(),
            Some(Codec::Gzip) => format!("{base}.gz"),
            Some(Codec::Xz) => format!("{base}.xz"),
            Some(Codec::Zstd) => format!("{base}.zst"),
        }
    }

    /// Whether the format stores extended attributes (newc cpio does not).
    pub fn holds_xattrs(&self) -> bool {
        self.format != Format::Cpio
    }
}

/// How many bytes of the (decoded) start recognize any format: ext4's
/// magic sits at 1080, tar's at 257.
const HEAD: usize = 4096;

/// Recognizes `path` and reads it into a tree. Returns the format and the
/// file's size on disk too.
pub fn read(path: &Path) -> Result<(Detected, u64, Tree), InspectError> {
    let io = |source| InspectError::Io { path: path.to_owned(), source };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_dir() && !path.join("oci-layout").is_file() {
        return Err(InspectError::Directory { path: path.to_owned() });
    }
    if let Some(tree) = read_oci(path)? {
        let size = match meta.is_dir() {
            true => dir_size(path),
            false => meta.len(),
        };
        return Ok((Detected { format: Format::Oci, compression: None }, size, tree));
    }
    let mut head = Vec::with_capacity(HEAD);
    std::fs::File::open(path).map_err(io)?.take(HEAD as u64).read_to_end(&mut head).map_err(io)?;
    if microroot_ext4::is_ext4(&head) {
        // Read in place: an image is mostly holes and unused blocks.
        let tree = microroot_ext4::read_ext4_file(path)
            .map_err(|source| InspectError::Ext4 { path: path.to_owned(), source })?;
        return Ok((Detected { format: Format::Ext4, compression: None }, meta.len(), tree));
    }
    let raw = std::fs::read(path).map_err(io)?;
    let detected = detect(path, &raw)?;
    let tree = match detected.format {
        Format::Tar => super::tar::read_tar(&decompress(path, &raw, detected)?)
            .map_err(|reason| InspectError::Tar { path: path.to_owned(), reason })?,
        Format::Cpio => {
            microroot_writers::read_cpio(&raw).map_err(|source| InspectError::Cpio { path: path.to_owned(), source })?
        }
        Format::Ext4 => microroot_ext4::read_ext4(&decompress(path, &raw, detected)?)
            .map_err(|source| InspectError::Ext4 { path: path.to_owned(), source })?,
        Format::Oci => unreachable!("OCI images are read above"),
    };
    Ok((detected, raw.len() as u64, tree))
}

/// The format of `raw`, looking through one layer of compression.
pub fn detect(path: &Path, raw: &[u8]) -> Result<Detected, InspectError> {
    let (compression, head) = match microroot_writers::sniff(raw) {
        Sniffed::Plain => (None, raw[..raw.len().min(HEAD)].to_vec()),
        Sniffed::Compressed(codec) => {
            let head = microroot_writers::decode_prefix(raw, codec, HEAD)
                .map_err(|source| InspectError::Decompress { path: path.to_owned(), codec: codec.name(), source })?;
            (Some(codec), head)
        }
        Sniffed::Unsupported(name) => return Err(InspectError::Compression { path: path.to_owned(), name }),
    };
    let format = if head.starts_with(b"07070") {
        Format::Cpio
    } else if microroot_ext4::is_ext4(&head) {
        Format::Ext4
    } else if is_tar(&head) {
        Format::Tar
    } else {
        let found = String::from_utf8_lossy(&raw[..raw.len().min(16)]).escape_debug().to_string();
        return Err(InspectError::Unknown { path: path.to_owned(), found });
    };
    Ok(Detected { format, compression })
}

/// A first tar header: the `ustar` magic (POSIX and GNU), or for old
/// v7 archives a header checksum that adds up.
fn is_tar(head: &[u8]) -> bool {
    let Some(header) = head.get(..512) else { return false };
    if &header[257..262] == b"ustar" {
        return true;
    }
    let stored = std::str::from_utf8(&header[148..156])
        .ok()
        .and_then(|s| u32::from_str_radix(s.trim_matches(|c: char| c == '\0' || c == ' '), 8).ok());
    let sum: u32 = header.iter().enumerate().map(|(i, &b)| if (148..156).contains(&i) { 32 } else { b as u32 }).sum();
    header[0] != 0 && stored == Some(sum)
}

fn decompress<'a>(path: &Path, raw: &'a [u8], detected: Detected) -> Result<std::borrow::Cow<'a, [u8]>, InspectError> {
    microroot_writers::decompress(raw).map_err(|source| InspectError::Decompress {
        path: path.to_owned(),
        codec: detected.compression.map_or("uncompressed", Codec::name),
        source,
    })
}

/// The tree of the one image in an OCI layout, oci-archive or
/// docker-archive; `None` when `path` is none of those (a rootfs tar, say).
fn read_oci(path: &Path) -> Result<Option<Tree>, InspectError> {
    let Ok(reader) = microroot_oci::ImageReader::open(path) else { return Ok(None) };
    if reader.images().map_or(true, |images| images.is_empty()) {
        return Ok(None);
    }
    let oci = |source| InspectError::Oci { path: path.to_owned(), source: Box::new(source) };
    let image = reader.select(&microroot_oci::Selector::default()).map_err(oci)?;
    let mut tree = Tree::new();
    image.apply(&mut tree, None).map_err(oci)?;
    Ok(Some(tree))
}

/// Bytes of the files below `dir`.
fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}
