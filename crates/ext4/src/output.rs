//! Image files that appear whole or not at all.
//!
//! The image is written into a temporary file in the target's directory
//! (same filesystem, so the rename is atomic), synced, given mode 0644 and
//! renamed over the target; the directory is synced after. Holes stay
//! holes, so a mostly empty image takes little disk space. On any error
//! the temporary file is removed and an existing target is left alone.

use std::ffi::OsString;
use std::fs::{File, Permissions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use microroot_tree::Tree;

use crate::{write_ext4, Error, Options, Summary};

/// Writes `tree` as an ext4 image at `path`, atomically.
pub fn write_ext4_file(tree: &Tree, opts: &Options, path: &Path) -> Result<Summary, Error> {
    let io_err = |action| move |source| Error::OutputIo { path: path.to_owned(), action, source };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io_err("write")(io::Error::new(io::ErrorKind::InvalidInput, "the path has no file name")))?;
    let mut prefix = OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    // Dropping `temp` on any early return removes the file.
    let temp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io_err("create a temporary file for"))?;
    let summary = {
        let mut out = BufWriter::with_capacity(1 << 20, temp.as_file());
        let summary = write_ext4(tree, opts, &mut out)
            .map_err(|source| Error::Output { path: path.to_owned(), source: Box::new(source) })?;
        out.flush().map_err(io_err("write"))?;
        summary
    };
    let file = temp.as_file();
    file.set_permissions(Permissions::from_mode(0o644)).map_err(io_err("set the mode of"))?;
    file.sync_all().map_err(io_err("sync"))?;
    temp.persist(path).map_err(|e| io_err("rename the temporary file to")(e.error))?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err("sync the directory of"))?;
    Ok(summary)
}
