//! Image files that appear whole or not at all.
//!
//! The image is written into a temporary file in the target's directory
//! (same filesystem, so the rename is atomic), synced, given mode 0644 and
//! renamed over the target; the directory is synced after. Holes stay
//! holes, so a mostly empty image takes little disk space. On any error
//! the temporary file is removed and an existing target is left alone.

use std::io::{BufWriter, Write};
use std::path::Path;

use microroot_tree::Tree;

use crate::{write_ext4, Error, Options, Summary};

/// Writes `tree` as an ext4 image at `path`, atomically.
pub fn write_ext4_file(tree: &Tree, opts: &Options, path: &Path) -> Result<Summary, Error> {
    let io_err = |action, source| Error::OutputIo { path: path.to_owned(), action, source };
    microroot_writers::replace_atomically(path, io_err, |file| {
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let summary = write_ext4(tree, opts, &mut out)
            .map_err(|source| Error::Output { path: path.to_owned(), source: Box::new(source) })?;
        out.flush().map_err(|e| io_err("write", e))?;
        Ok(summary)
    })
}
