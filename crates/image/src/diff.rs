//! `microroot diff A B`: what changed between two outputs, of the same
//! format or not: packages (versions from each image's dpkg status) and
//! files (content sha256, type, mode, owner, link target, device numbers,
//! size), with size deltas.
//!
//! Both sides are read with [`crate::inspect::load`], so a tarball compares
//! with an ext4 image or an initramfs. What one format cannot hold is not
//! called a change: extended attributes are compared only when both formats
//! store them (newc cpio does not), `/lost+found` is skipped when only one
//! side is ext4, and the root directory's own header (which tar and cpio
//! outputs do not store) and mtimes (which each format clamps differently,
//! and which reproducible builds pin anyway) are not compared.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use microroot_tree::{Entry, Kind, Tree, TreePath};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::inspect::{Format, Image, Inspection};
use crate::report::{human, human_delta};

/// One side of a diff.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub path: std::path::PathBuf,
    pub format: String,
    pub total_bytes: u64,
    pub packages: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PackageChange {
    pub name: String,
    /// The version in A (`None`: added).
    pub from: Option<String>,
    /// The version in B (`None`: removed).
    pub to: Option<String>,
    /// Bytes of files the package owns in A and in B.
    pub bytes_a: u64,
    pub bytes_b: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FileChange {
    pub path: String,
    /// What differs: `type`, `content`, `mode`, `owner`, `link`, `device`,
    /// `xattrs` (empty for added and removed files).
    pub what: Vec<&'static str>,
    pub kind_a: Option<&'static str>,
    pub kind_b: Option<&'static str>,
    pub size_a: u64,
    pub size_b: u64,
    pub sha256_a: Option<String>,
    pub sha256_b: Option<String>,
    /// The owning package in B, else in A.
    pub package: Option<String>,
    /// `"0644 -> 0755"`, `"0:0 -> 1000:1000"`, `"a -> b"` for what changed.
    pub details: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Changes<T> {
    pub added: Vec<T>,
    pub removed: Vec<T>,
    pub changed: Vec<T>,
}

impl<T> Default for Changes<T> {
    fn default() -> Self {
        Changes { added: Vec::new(), removed: Vec::new(), changed: Vec::new() }
    }
}

impl<T> Changes<T> {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub a: Side,
    pub b: Side,
    /// Nothing differs (the exit status stays 0 either way).
    pub same: bool,
    pub packages: Changes<PackageChange>,
    pub files: Changes<FileChange>,
    /// B's content bytes minus A's.
    pub size_delta: i64,
}

/// Compares two images; see the module docs for what counts as a change.
pub fn diff(a: &Image, b: &Image) -> Diff {
    let (ia, ib) = (Inspection::of(a), Inspection::of(b));
    let packages = packages(&ia, &ib);
    let files = files(a, b);
    let side = |i: &Image, s: &Inspection| Side {
        path: i.path.clone(),
        format: s.format.clone(),
        total_bytes: s.total_bytes,
        packages: i.versions.len(),
    };
    Diff {
        a: side(a, &ia),
        b: side(b, &ib),
        same: packages.is_empty() && files.is_empty(),
        packages,
        files,
        size_delta: ib.total_bytes as i64 - ia.total_bytes as i64,
    }
}

fn packages(a: &Inspection, b: &Inspection) -> Changes<PackageChange> {
    let bytes = |i: &Inspection| -> BTreeMap<String, u64> { i.by_package.iter().cloned().collect() };
    let (bytes_a, bytes_b) = (bytes(a), bytes(b));
    let names: BTreeSet<&String> = a.versions.keys().chain(b.versions.keys()).collect();
    let mut out = Changes::default();
    for name in names {
        let change = PackageChange {
            name: name.clone(),
            from: a.versions.get(name).cloned(),
            to: b.versions.get(name).cloned(),
            bytes_a: bytes_a.get(name).copied().unwrap_or(0),
            bytes_b: bytes_b.get(name).copied().unwrap_or(0),
        };
        match (&change.from, &change.to) {
            (None, Some(_)) => out.added.push(change),
            (Some(_), None) => out.removed.push(change),
            (from, to) if from != to || change.bytes_a != change.bytes_b => out.changed.push(change),
            _ => {}
        }
    }
    out
}

/// An entry as compared: hardlinks read through to their file.
struct View<'a> {
    kind: &'static str,
    entry: &'a Entry,
    content: Option<Cow<'a, [u8]>>,
}

fn view<'a>(tree: &'a Tree, e: &'a Entry) -> View<'a> {
    let content = match &e.kind {
        Kind::File(blob) => Some(blob.bytes()),
        Kind::Hardlink(target) => tree.file(target).map(|b| b.bytes()),
        _ => None,
    };
    let kind = if content.is_some() { "file" } else { e.kind.name() };
    View { kind, entry: e, content }
}

fn files(a: &Image, b: &Image) -> Changes<FileChange> {
    let xattrs = a.detected.holds_xattrs() && b.detected.holds_xattrs();
    let one_ext4 = (a.detected.format == Format::Ext4) != (b.detected.format == Format::Ext4);
    let lost_found = TreePath::new("lost+found").expect("a valid path");
    let paths: BTreeSet<&TreePath> = a.tree.iter().chain(b.tree.iter()).map(|(p, _)| p).collect();
    let mut out = Changes::default();
    for path in paths {
        if path.is_root() || (one_ext4 && *path == lost_found) {
            continue;
        }
        let (ea, eb) = (a.tree.get(path), b.tree.get(path));
        let (va, vb) = (ea.map(|e| view(&a.tree, e)), eb.map(|e| view(&b.tree, e)));
        let mut change = FileChange {
            path: path.to_string(),
            what: Vec::new(),
            kind_a: va.as_ref().map(|v| v.kind),
            kind_b: vb.as_ref().map(|v| v.kind),
            size_a: va.as_ref().and_then(|v| v.content.as_deref()).map_or(0, |c| c.len() as u64),
            size_b: vb.as_ref().and_then(|v| v.content.as_deref()).map_or(0, |c| c.len() as u64),
            sha256_a: va.as_ref().and_then(|v| v.content.as_deref()).map(sha256),
            sha256_b: vb.as_ref().and_then(|v| v.content.as_deref()).map(sha256),
            package: eb.or(ea).and_then(|e| e.owner.as_deref()).map(str::to_owned),
            details: Vec::new(),
        };
        match (va, vb) {
            (None, Some(_)) => out.added.push(change),
            (Some(_), None) => out.removed.push(change),
            (Some(va), Some(vb)) => {
                compare(&va, &vb, xattrs, &mut change);
                if !change.what.is_empty() {
                    out.changed.push(change);
                }
            }
            (None, None) => unreachable!("the path came from one of the trees"),
        }
    }
    out
}

fn compare(a: &View<'_>, b: &View<'_>, xattrs: bool, change: &mut FileChange) {
    let (ma, mb) = (&a.entry.meta, &b.entry.meta);
    let mut note = |what: &'static str, detail: String| {
        change.what.push(what);
        change.details.push(detail);
    };
    if a.kind != b.kind {
        note("type", format!("{} -> {}", a.kind, b.kind));
    } else if a.content != b.content {
        note(
            "content",
            format!(
                "{} -> {} bytes",
                a.content.as_deref().map_or(0, <[u8]>::len),
                b.content.as_deref().map_or(0, <[u8]>::len)
            ),
        );
    }
    if ma.mode != mb.mode {
        note("mode", format!("{:04o} -> {:04o}", ma.mode, mb.mode));
    }
    if (ma.uid, ma.gid) != (mb.uid, mb.gid) {
        note("owner", format!("{}:{} -> {}:{}", ma.uid, ma.gid, mb.uid, mb.gid));
    }
    match (&a.entry.kind, &b.entry.kind) {
        (Kind::Symlink(x), Kind::Symlink(y)) if x != y => note("link", format!("{x} -> {y}")),
        (Kind::CharDev { major, minor }, Kind::CharDev { major: j, minor: n })
        | (Kind::BlockDev { major, minor }, Kind::BlockDev { major: j, minor: n })
            if (major, minor) != (j, n) =>
        {
            note("device", format!("{major}:{minor} -> {j}:{n}"))
        }
        _ => {}
    }
    if xattrs && ma.xattrs != mb.xattrs {
        let names = |m: &BTreeMap<String, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>().join(",");
        note("xattrs", format!("[{}] -> [{}]", names(&ma.xattrs), names(&mb.xattrs)));
    }
}

/// `1 package added, 0 removed, 0 changed; 12 files added, 0 removed, 1
/// changed; 4.54 MB -> 4.66 MB (+121.4 kB)`.
pub fn summary_line(d: &Diff) -> String {
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    format!(
        "{} added, {} removed, {} changed; {} added, {} removed, {} changed; {} -> {} ({})",
        plural(d.packages.added.len(), "package"),
        d.packages.removed.len(),
        d.packages.changed.len(),
        plural(d.files.added.len(), "file"),
        d.files.removed.len(),
        d.files.changed.len(),
        human(d.a.total_bytes),
        human(d.b.total_bytes),
        human_delta(d.size_delta),
    )
}

fn sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

#[cfg(test)]
mod tests;
