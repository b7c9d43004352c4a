//! `microroot push IMAGE REF`: an OCI layout, oci-archive or docker-archive
//! to a registry, per the OCI distribution spec. Blobs the repository has
//! are skipped, blobs another repository of the registry has are mounted
//! (`--from`), the rest are uploaded (in chunks when large); the manifest
//! goes last, byte for byte as stored, so its digest does not change.

use std::path::{Path, PathBuf};

use microroot_oci::spec::{Descriptor, Manifest as OciManifest};
use microroot_oci::{ImageReader, Selector};
use microroot_registry::{Digest, PushOutcome, Reference, Repository};
use serde::Serialize;

use crate::base::RegistryAccess;

/// What a push did.
#[derive(Debug, Clone, Serialize)]
pub struct PushReport {
    pub image: PathBuf,
    pub reference: String,
    /// The pushed manifest's digest: pull by `REPO@DIGEST`.
    pub digest: String,
    pub blobs: Vec<PushedBlob>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PushedBlob {
    pub digest: String,
    pub bytes: u64,
    /// `existed`, `mounted` or `uploaded`.
    pub outcome: &'static str,
}

/// A push that failed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("cannot push {path}: {source}")]
    Read { path: PathBuf, source: Box<microroot_oci::ReadError> },
    #[error("cannot push to `{reference}`: {source}")]
    Registry { reference: String, source: Box<microroot_registry::Error> },
    #[error("`{reference}` is not an image reference: {source}\nhint: write REGISTRY/REPOSITORY[:TAG], e.g. 127.0.0.1:5000/team/app:1.0")]
    Reference { reference: String, source: Box<microroot_registry::Error> },
}

/// Pushes the one image at `image` to `reference` (tag `latest` unless
/// named). `from`: a repository of the same registry to mount blobs from.
pub fn push(
    image: &Path,
    reference: &str,
    from: Option<&str>,
    access: &RegistryAccess,
) -> Result<PushReport, PushError> {
    let read = |source| PushError::Read { path: image.to_owned(), source: Box::new(source) };
    let target = Reference::parse(reference)
        .map_err(|source| PushError::Reference { reference: reference.to_owned(), source: Box::new(source) })?;
    // `--from team/base` names a repository of the target's registry.
    let from = from
        .map(|f| match f.starts_with(&format!("{}/", target.registry())) {
            true => Repository::parse(f),
            false => Repository::parse(&format!("{}/{f}", target.registry())),
        })
        .transpose()
        .map_err(|source| PushError::Reference {
            reference: from.unwrap_or_default().to_owned(),
            source: Box::new(source),
        })?;
    let registry = |source| PushError::Registry { reference: reference.to_owned(), source: Box::new(source) };
    let reader = ImageReader::open(image).map_err(read)?;
    let selected = reader.select(&Selector::default()).map_err(read)?;
    let client = access.client().map_err(registry)?;
    let repo = target.repository();
    let mut blobs = Vec::new();
    let mut send = |digest: &microroot_oci::Digest, data: &[u8]| -> Result<(), PushError> {
        let digest: Digest = digest.to_string().parse().map_err(registry)?;
        let outcome = match &from {
            Some(source) => client.push_blob_mounting(repo, &digest, data, source),
            None => client.push_blob(repo, &digest, data),
        }
        .map_err(registry)?;
        let outcome = match outcome {
            PushOutcome::Existed => "existed",
            PushOutcome::Mounted => "mounted",
            PushOutcome::Uploaded => "uploaded",
        };
        blobs.push(PushedBlob { digest: digest.to_string(), bytes: data.len() as u64, outcome });
        Ok(())
    };
    for (index, layer) in selected.layers().iter().enumerate() {
        let mut data = Vec::with_capacity(layer.size as usize);
        selected.copy_layer_blob(index, &mut data).map_err(read)?;
        send(&layer.digest, &data)?;
    }
    send(&selected.config_digest, selected.config_bytes())?;
    let (media_type, manifest) = match selected.manifest_bytes() {
        Some(bytes) => {
            let media_type = selected
                .manifest
                .media_type
                .clone()
                .unwrap_or_else(|| microroot_oci::spec::MEDIA_TYPE_MANIFEST.to_owned());
            (media_type, bytes.to_vec())
        }
        // A docker-archive stores no manifest: describe its blobs as an
        // OCI manifest with uncompressed layers.
        None => oci_manifest_for(&selected.manifest),
    };
    let tag = target.tag().map(str::to_owned).unwrap_or_else(|| microroot_registry::DEFAULT_TAG.to_owned());
    let tag_or_digest = match target.digest() {
        Some(d) => d.to_string(),
        None => tag,
    };
    let digest = client.push_manifest(repo, &tag_or_digest, &media_type, &manifest).map_err(registry)?;
    Ok(PushReport { image: image.to_owned(), reference: target.to_string(), digest: digest.to_string(), blobs })
}

fn oci_manifest_for(made_up: &OciManifest) -> (String, Vec<u8>) {
    use microroot_oci::spec::{MEDIA_TYPE_CONFIG, MEDIA_TYPE_LAYER_TAR, MEDIA_TYPE_MANIFEST};
    let retype = |d: &Descriptor, media_type: &str| Descriptor { media_type: media_type.to_owned(), ..d.clone() };
    let manifest = OciManifest {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_MANIFEST.to_owned()),
        config: retype(&made_up.config, MEDIA_TYPE_CONFIG),
        layers: made_up.layers.iter().map(|l| retype(l, MEDIA_TYPE_LAYER_TAR)).collect(),
        ..OciManifest::default()
    };
    let bytes = serde_json::to_vec(&manifest).expect("manifests serialize");
    (MEDIA_TYPE_MANIFEST.to_owned(), bytes)
}
