//! Writing a tree onto the host, below a directory this crate just made.
//!
//! Entries go in path order, so every parent exists before its children
//! and was made here by `mkdir`; files are created with `O_EXCL`, links
//! with `symlink`/`link`, which never follow an existing name. Directory
//! modes and mtimes are set last, deepest first, so a read-only directory
//! can still be filled and adding children does not change its mtime.

use std::fs::{self, File, FileTimes, Permissions};
use std::os::unix::fs::{fchown, lchown, symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use microroot_tree::{Blob, Entry, Kind, Meta, Tree, TreePath};
use rustix::fs::{AtFlags, FileType, Mode, Timespec, Timestamps, XattrFlags, CWD};

use super::{BundleError, BundleReport};

pub(super) fn materialize(tree: &Tree, rootfs: &Path) -> Result<BundleReport, BundleError> {
    let as_root = rustix::process::geteuid().is_root();
    let mut report = BundleReport { chowned: as_root, ..BundleReport::default() };
    let root_entry = tree.get(&TreePath::root()).cloned().unwrap_or_else(|| Entry::dir(0o755));
    let mut dirs: Vec<(PathBuf, &Meta)> = Vec::new();
    let mut links = Vec::new();
    let w = Writer { as_root };
    w.chown(rootfs, &root_entry.meta)?;
    w.xattrs(rootfs, &root_entry.meta)?;
    for (path, entry) in tree.iter().filter(|(p, _)| !p.is_root()) {
        check_parent(tree, path)?;
        let host = rootfs.join(path.as_str());
        let meta = &entry.meta;
        match &entry.kind {
            Kind::Dir => {
                fs::create_dir(&host).map_err(io(&host, "create the directory"))?;
                w.chown(&host, meta)?;
                w.xattrs(&host, meta)?;
                dirs.push((host, meta));
                report.dirs += 1;
            }
            Kind::File(blob) => {
                w.file(&host, blob, meta)?;
                report.files += 1;
            }
            Kind::Hardlink(target) => links.push((host, rootfs.join(target.as_str()))),
            Kind::Symlink(target) => {
                symlink(target, &host).map_err(io(&host, "create the symlink"))?;
                w.chown(&host, meta)?;
                w.xattrs(&host, meta)?;
                set_mtime(&host, meta.mtime)?;
                report.symlinks += 1;
            }
            Kind::Fifo => {
                let mode = Mode::from_raw_mode(meta.mode & 0o7777);
                rustix::fs::mknodat(CWD, &host, FileType::Fifo, mode, 0)
                    .map_err(|e| io(&host, "create the fifo")(e.into()))?;
                w.chown(&host, meta)?;
                w.finish_path(&host, meta)?;
                report.fifos += 1;
            }
            Kind::CharDev { .. } | Kind::BlockDev { .. } => report.skipped_devices += 1,
            Kind::Socket => report.skipped_sockets += 1,
        }
    }
    for (host, target) in links {
        fs::hard_link(&target, &host).map_err(io(&host, "create the hardlink"))?;
        report.hardlinks += 1;
    }
    for (host, meta) in dirs.iter().rev() {
        w.finish_path(host, meta)?;
    }
    w.finish_path(rootfs, &root_entry.meta)?;
    Ok(report)
}

/// The parent of `path` must be a directory of the tree: then it is one
/// this module created, not a symlink.
fn check_parent(tree: &Tree, path: &TreePath) -> Result<(), BundleError> {
    let parent = path.parent().unwrap_or_default();
    match tree.get(&parent) {
        Some(e) if e.is_dir() => Ok(()),
        found => {
            let kind = found.map_or("missing entry", |e| e.kind.name());
            Err(BundleError::Parent { path: path.clone(), parent, kind })
        }
    }
}

fn io(path: &Path, action: &'static str) -> impl FnOnce(std::io::Error) -> BundleError {
    let path = path.to_owned();
    move |source| BundleError::Io { path, action, source }
}

struct Writer {
    as_root: bool,
}

impl Writer {
    /// A new regular file: content, owner, then mode (chown clears setuid)
    /// and mtime, all through the handle.
    fn file(&self, host: &Path, content: &Blob, meta: &Meta) -> Result<(), BundleError> {
        let mut file = File::create_new(host).map_err(io(host, "create"))?;
        content.write_to(&mut file).map_err(io(host, "write"))?;
        if self.as_root {
            fchown(&file, Some(meta.uid), Some(meta.gid)).map_err(io(host, "set the owner of"))?;
        }
        self.xattrs(host, meta)?;
        file.set_permissions(Permissions::from_mode(meta.mode & 0o7777)).map_err(io(host, "set the mode of"))?;
        let time = mtime(meta.mtime);
        file.set_times(FileTimes::new().set_accessed(time).set_modified(time)).map_err(io(host, "set the mtime of"))
    }

    fn chown(&self, host: &Path, meta: &Meta) -> Result<(), BundleError> {
        if self.as_root {
            lchown(host, Some(meta.uid), Some(meta.gid)).map_err(io(host, "set the owner of"))?;
        }
        Ok(())
    }

    /// Extended attributes need root for the `security.` and `trusted.`
    /// namespaces that images carry, so they are set only as root.
    fn xattrs(&self, host: &Path, meta: &Meta) -> Result<(), BundleError> {
        if !self.as_root {
            return Ok(());
        }
        for (name, value) in &meta.xattrs {
            rustix::fs::lsetxattr(host, name.as_str(), value, XattrFlags::empty())
                .map_err(|e| io(host, "set an extended attribute of")(e.into()))?;
        }
        Ok(())
    }

    /// Mode and mtime of a directory or fifo, by path.
    fn finish_path(&self, host: &Path, meta: &Meta) -> Result<(), BundleError> {
        fs::set_permissions(host, Permissions::from_mode(meta.mode & 0o7777)).map_err(io(host, "set the mode of"))?;
        set_mtime(host, meta.mtime)
    }
}

fn mtime(secs: i64) -> SystemTime {
    match u64::try_from(secs) {
        Ok(after) => UNIX_EPOCH + Duration::from_secs(after),
        Err(_) => UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs()),
    }
}

/// Sets atime and mtime of `host` itself, never of what a symlink points
/// to, and without opening it (a fifo would block).
fn set_mtime(host: &Path, secs: i64) -> Result<(), BundleError> {
    let time = Timespec { tv_sec: secs, tv_nsec: 0 };
    let times = Timestamps { last_access: time, last_modification: time };
    rustix::fs::utimensat(CWD, host, &times, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| io(host, "set the mtime of")(e.into()))
}
