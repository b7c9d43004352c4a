//! OCI outputs: the image layout, oci-archive and docker-archive built from
//! the finished tree and `[config]`, and the runtime bundle.

use std::path::{Path, PathBuf};

use microroot_oci::{BundleSpec, Image, ImageConfig, Layering};
use microroot_tree::{Spill, Tree};
use microroot_writers::Written;

use crate::manifest::{LayerMode, Manifest};

/// An OCI output that could not be made.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error("cannot make the OCI image of `{image}`: {source}")]
    Config { image: String, source: microroot_oci::ConfigError },
    #[error("cannot make the OCI image of `{image}`: {source}")]
    Build { image: String, source: Box<microroot_oci::BuildError> },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: Box<microroot_oci::WriteError> },
    #[error("cannot write the runtime bundle {path}: {source}")]
    Bundle { path: PathBuf, source: Box<microroot_oci::BundleError> },
    #[error("the runtime bundle needs the user of [config]: {0}")]
    User(String),
}

/// The OCI output file (or directory) name of a format.
pub fn output_name(format: &str) -> &'static str {
    match format {
        "oci" => "image.oci",
        "oci-archive" => "image.oci.tar",
        "docker-archive" => "image.docker.tar",
        _ => "bundle",
    }
}

/// The image config `[config]` and `[image]` describe.
pub fn image_config(m: &Manifest, epoch: i64) -> Result<ImageConfig, OciError> {
    let bad = |source| OciError::Config { image: m.image.name.clone(), source };
    let mut config = ImageConfig::for_debian_arch(&m.image.arch).map_err(bad)?;
    config.entrypoint = m.config.entrypoint.clone();
    config.cmd = m.config.cmd.clone();
    config.env = m.config.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if !m.config.env.contains_key("PATH") {
        // What Docker and containerd give images without one.
        config.env.insert(0, microroot_oci::DEFAULT_PATH.to_owned());
    }
    config.user = m.config.user.clone();
    config.working_dir = m.config.workdir.clone();
    config.exposed_ports = m.config.ports.clone();
    config.labels = m.config.labels.clone();
    config.annotations = m.config.annotations.clone();
    config.stop_signal = m.config.stop_signal.clone();
    config.created = epoch;
    let tag = m.tag();
    // `host:5000/repo:tag` splits at the last `:` that is not in the host.
    let (repository, tag) = match tag.rsplit_once(':') {
        Some((repo, t)) if !t.contains('/') => (repo.to_owned(), t.to_owned()),
        _ => (tag.clone(), "latest".to_owned()),
    };
    config.repository = Some(repository);
    config.tag = Some(tag);
    config.validate().map_err(bad)?;
    Ok(config)
}

/// The OCI image of the tree, as the manifest's layering cuts it, its
/// layers kept in `spill`.
pub fn build_image(tree: &Tree, m: &Manifest, epoch: i64, spill: &Spill) -> Result<Image, OciError> {
    let config = image_config(m, epoch)?;
    let layering = match m.output.layers {
        LayerMode::Single => Layering::Single,
        LayerMode::Packages => Layering::ByPackage { max_layers: m.output.max_layers },
    };
    Image::build_in(tree, &config, layering, spill)
        .map_err(|source| OciError::Build { image: m.image.name.clone(), source: Box::new(source) })
}

/// Writes one OCI format into `dir` (the staging directory) and returns its
/// name and what was written. A directory output reports the bytes of its
/// blobs (or of its rootfs) and the image's manifest digest (or the
/// sha256 of the bundle's `config.json`). `image` is needed by every
/// format but `bundle`.
pub fn write(
    format: &str,
    image: Option<&Image>,
    tree: &Tree,
    m: &Manifest,
    epoch: i64,
    dir: &Path,
) -> Result<(String, Written), OciError> {
    let name = output_name(format).to_owned();
    let path = dir.join(&name);
    let write_err = |source| OciError::Write { path: path.clone(), source: Box::new(source) };
    let written = match (format, image) {
        ("oci", Some(image)) => {
            microroot_oci::write_layout(image, &path).map_err(write_err)?;
            let blobs = image.manifest_blob().len() as u64
                + image.config_blob().len() as u64
                + image.layers.iter().map(|l| l.descriptor.size).sum::<u64>();
            Written { path: path.clone(), size: blobs, sha256: *image.manifest_digest().as_bytes() }
        }
        ("oci-archive", Some(image)) => microroot_oci::write_oci_archive(image, &path).map_err(write_err)?,
        ("docker-archive", Some(image)) => microroot_oci::write_docker_archive(image, &path).map_err(write_err)?,
        _ => {
            let config = image_config(m, epoch)?;
            let (uid, gid, groups) =
                crate::boot::resolve_user(tree, m.config.user.as_deref()).map_err(|e| OciError::User(e.to_string()))?;
            let mut spec = BundleSpec::from_image(&config, uid, gid);
            spec.additional_gids = groups;
            spec.hostname = m.image.hostname.clone();
            microroot_oci::write_bundle(tree, &spec, &path)
                .map_err(|source| OciError::Bundle { path: path.clone(), source: Box::new(source) })?;
            let config_json = std::fs::read(path.join("config.json")).unwrap_or_default();
            Written { path: path.clone(), size: tree.content_size(), sha256: sha256(&config_json) }
        }
    };
    Ok((name, written))
}

fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(data).into()
}
