//! The three image outputs: an OCI layout directory, an oci-archive and a
//! docker-archive.
//!
//! Every file is written with [`write_atomic`]; archives are
//! [`write_tarball`] output (sorted names, numeric owner 0, one mtime: the
//! image's creation time), so the same [`Image`] gives the same bytes.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use microroot_tree::{Kind, Tree};
use microroot_writers::{write_atomic, write_tarball, Compression, Written};

use crate::{BuildError, Image};

/// Why an image output could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("cannot {action} `{}`", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Output(#[from] microroot_writers::Error),
}

/// Writes `image` as an OCI image layout into `dir`, creating it if
/// needed: blobs first, then `oci-layout`, and `index.json` last, so a
/// reader never sees an index naming a missing blob. Files already in
/// `dir` are replaced; others are left alone, so stage `dir` fresh.
pub fn write_layout(image: &Image, dir: &Path) -> Result<(), WriteError> {
    let tree = image.layout_tree()?;
    fs::create_dir_all(dir).map_err(io(dir, "create the directory"))?;
    let last = ["oci-layout", "index.json"];
    let files = tree
        .iter()
        .filter(|(p, _)| !last.contains(&p.as_str()))
        .chain(last.iter().filter_map(|name| tree.iter().find(|(p, _)| p.as_str() == *name)));
    for (path, entry) in files.filter(|(p, _)| !p.is_root()) {
        let target = dir.join(path.as_str());
        match &entry.kind {
            Kind::Dir => fs::create_dir_all(&target).map_err(io(&target, "create the directory"))?,
            Kind::File(blob) => {
                write_atomic(&target, |out| {
                    blob.write_to(out).map_err(|source| microroot_writers::Error::OutputIo {
                        path: target.clone(),
                        action: "write",
                        source,
                    })
                })?;
            }
            _ => {} // a layout tree holds only files and directories
        }
    }
    Ok(())
}

/// Writes `image` as an oci-archive: a tar of its OCI layout, as skopeo's
/// `oci-archive:` transport and `podman load` read.
pub fn write_oci_archive(image: &Image, path: &Path) -> Result<Written, WriteError> {
    Ok(write_tar(&image.layout_tree()?, path)?)
}

/// Writes `image` as a docker-archive, as `docker load` and skopeo's
/// `docker-archive:` transport read: `manifest.json`, the config blob and
/// the uncompressed layer tars, whose sha256 are the config's diff ids.
pub fn write_docker_archive(image: &Image, path: &Path) -> Result<Written, WriteError> {
    Ok(write_tar(&image.docker_archive_tree()?, path)?)
}

fn io(path: &Path, action: &'static str) -> impl FnOnce(io::Error) -> WriteError {
    let path = path.to_owned();
    move |source| WriteError::Io { path, action, source }
}

fn write_tar(tree: &Tree, path: &Path) -> Result<Written, microroot_writers::Error> {
    write_tarball(tree, path, Compression::None)
}
