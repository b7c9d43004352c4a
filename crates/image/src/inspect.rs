//! `microroot inspect`: what is in an output and what takes the space, by
//! package (from the image's own dpkg file lists) and by directory.
//!
//! ```text
//! file ─[source: magic bytes]─▶ tar | cpio | ext4 reader ─▶ Tree ─[dpkg]─▶ owners, versions ─▶ Image
//! Image ─▶ Inspection (tables, JSON)    Image ─[html]─▶ treemap page    (Image, Image) ─[crate::diff]─▶ Diff
//! ```
//!
//! [`load`] reads any supported output into an [`Image`]: a tarball
//! (`.tar`, gzip, xz, zstd), an initramfs (newc cpio, compressed or not,
//! concatenated archives too) or an ext4 image, recognized by content, not
//! name (see [`source`] for adding a source). Every reader gives the same
//! tree for the same image, except for what a format cannot hold: newc has
//! no extended attributes and no member for the root unless one was
//! written; ext4 always has `/lost+found`; mtimes are clamped to what each
//! format stores. File sizes, and so sizes by package and by directory, are
//! identical across formats.

mod dpkg;
pub mod html;
pub mod source;
mod tar;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use microroot_tree::{Kind, Tree, TreePath};
use serde::Serialize;

pub use source::{Detected, Format};

/// What the size tables call files no package lists.
pub const NO_PACKAGE: &str = "(no package)";

#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is a directory\nhint: inspect reads output files: rootfs.tar[.gz|.xz|.zst], initramfs.cpio[.gz|.xz|.zst], rootfs.ext4, and OCI image layouts (a directory with an oci-layout file)")]
    Directory { path: PathBuf },
    #[error("{path}: {source}")]
    Oci { path: PathBuf, source: Box<microroot_oci::ReadError> },
    #[error("{path}: not a tar archive, cpio archive, ext4 image or OCI image (it starts with \"{found}\")\nhint: inspect reads .tar, .cpio, .ext4 and OCI outputs, plain or compressed with gzip, xz or zstd; the format is recognized by content, not by name")]
    Unknown { path: PathBuf, found: String },
    #[error("{path}: {name} compression is not supported\nhint: recompress it with gzip, xz or zstd")]
    Compression { path: PathBuf, name: &'static str },
    #[error("{path}: cannot decompress the {codec} stream: {source}\nhint: the file is corrupt or truncated")]
    Decompress { path: PathBuf, codec: &'static str, source: std::io::Error },
    #[error(
        "{path}: not a valid tar archive: {reason}\nhint: the file is corrupt or truncated; `tar -tvf` shows where"
    )]
    Tar { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Cpio { path: PathBuf, source: microroot_writers::CpioReadError },
    #[error("{path}: {source}")]
    Ext4 { path: PathBuf, source: microroot_ext4::ReadError },
}

/// An output read back: its tree with owners set from the image's dpkg
/// database, and the installed package versions.
#[derive(Debug, Clone)]
pub struct Image {
    pub path: PathBuf,
    pub detected: Detected,
    /// Size of the file on disk.
    pub file_bytes: u64,
    pub tree: Tree,
    pub versions: BTreeMap<String, String>,
}

/// Reads any supported output (see the module docs) into an [`Image`].
pub fn load(path: &Path) -> Result<Image, InspectError> {
    let (detected, file_bytes, mut tree) = source::read(path)?;
    dpkg::assign_owners(&mut tree);
    let versions = dpkg::versions(&tree);
    Ok(Image { path: path.to_owned(), detected, file_bytes, tree, versions })
}

#[derive(Debug, Clone, Serialize)]
pub struct InspectEntry {
    /// `/usr/bin/x`.
    pub path: String,
    /// `file`, `directory`, `symlink`, `hardlink`, `character device`, ...
    pub kind: &'static str,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: i64,
    pub size: u64,
    /// A symlink's target as stored, or a hardlink's file (`/usr/bin/x`).
    pub link: Option<String>,
    pub package: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub archive: PathBuf,
    /// `tar.xz`, `cpio.gz`, `ext4`, ...
    pub format: String,
    /// The file's size on disk.
    pub compressed_bytes: u64,
    /// Every entry but the root, in path order.
    pub entries: Vec<InspectEntry>,
    /// Bytes of regular-file content (hardlinked files once).
    pub total_bytes: u64,
    /// Bytes by owning package, largest first ([`NO_PACKAGE`] for files no
    /// package lists).
    pub by_package: Vec<(String, u64)>,
    /// Installed versions from the image's dpkg status.
    pub versions: BTreeMap<String, String>,
    /// Bytes by directory, two levels deep, largest first.
    pub by_directory: Vec<(String, u64)>,
}

impl Inspection {
    pub fn of(image: &Image) -> Inspection {
        let tree = &image.tree;
        let mut by_package: BTreeMap<String, u64> = BTreeMap::new();
        let mut by_dir: BTreeMap<String, u64> = BTreeMap::new();
        for (path, e) in tree.iter().filter(|(_, e)| matches!(e.kind, Kind::File(_))) {
            *by_package.entry(package_of(e).to_owned()).or_default() += e.size();
            *by_dir.entry(directory_key(path)).or_default() += e.size();
        }
        Inspection {
            archive: image.path.clone(),
            format: image.detected.name(),
            compressed_bytes: image.file_bytes,
            entries: tree.iter().filter(|(p, _)| !p.is_root()).map(|(p, e)| entry(p, e)).collect(),
            total_bytes: tree.content_size(),
            by_package: largest_first(by_package),
            versions: image.versions.clone(),
            by_directory: largest_first(by_dir),
        }
    }

    /// The `n` largest regular files, largest first (then by path).
    pub fn largest(&self, n: usize) -> Vec<&InspectEntry> {
        let mut files: Vec<&InspectEntry> = self.entries.iter().filter(|e| e.kind == "file").collect();
        files.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.path.cmp(&b.path)));
        files.truncate(n);
        files
    }
}

/// Reads `path` and summarizes it.
pub fn inspect(path: &Path) -> Result<Inspection, InspectError> {
    Ok(Inspection::of(&load(path)?))
}

/// The owning package's name, or [`NO_PACKAGE`].
pub fn package_of(e: &microroot_tree::Entry) -> &str {
    e.owner.as_deref().unwrap_or(NO_PACKAGE)
}

/// The first two components of a file's directory: `/usr/lib`, `/etc`, `/`.
pub fn directory_key(path: &TreePath) -> String {
    let parent = path.parent().unwrap_or_default();
    let dirs: Vec<&str> = parent.components().take(2).collect();
    format!("/{}", dirs.join("/"))
}

fn entry(path: &TreePath, e: &microroot_tree::Entry) -> InspectEntry {
    let link = match &e.kind {
        Kind::Symlink(target) => Some(target.clone()),
        Kind::Hardlink(target) => Some(target.to_string()),
        _ => None,
    };
    InspectEntry {
        path: path.to_string(),
        kind: e.kind.name(),
        mode: e.meta.mode,
        uid: e.meta.uid.into(),
        gid: e.meta.gid.into(),
        mtime: e.meta.mtime,
        size: e.size(),
        link,
        package: e.owner.as_deref().map(str::to_owned),
    }
}

fn largest_first(m: BTreeMap<String, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<_> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

#[cfg(test)]
pub(crate) mod tests;
