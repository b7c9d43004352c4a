//! An encoded image: layers, config and manifest blobs, ready for any of
//! the writers.

use microroot_tree::{Blob, Entry, Meta, Spill, Tree, TreeError, TreePath};
use serde::Serialize;

use crate::layers::{self, Layer, Layering};
use crate::spec::{
    Descriptor, DockerManifestEntry, History, Index, LayoutVersion, Manifest, ANNOTATION_REF_NAME, MEDIA_TYPE_CONFIG,
    MEDIA_TYPE_INDEX, MEDIA_TYPE_MANIFEST,
};
use crate::{ConfigError, Digest, ImageConfig};

/// Why an image could not be built from a tree.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("max_layers is 0\nhint: allow at least one layer")]
    MaxLayers,
    #[error("`{path}` lies below `{parent}`, a {kind}, so no layer can hold it\nhint: the tree is inconsistent; remove `{path}` or make `{parent}` a directory")]
    UnderNonDir { path: TreePath, parent: TreePath, kind: &'static str },
    #[error("cannot place `{path}` in a layer")]
    Tree {
        path: TreePath,
        #[source]
        source: TreeError,
    },
    #[error("cannot encode the layer of {layer}")]
    Layer {
        layer: String,
        #[source]
        source: microroot_writers::Error,
    },
    #[error("cannot serialize the {what}")]
    Json {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

/// Everything an image is made of, in memory. Blobs are shared, so cloning
/// is cheap. Built once by [`Image::build`], written by
/// [`write_layout`](crate::write_layout),
/// [`write_oci_archive`](crate::write_oci_archive) and
/// [`write_docker_archive`](crate::write_docker_archive).
#[derive(Clone, Debug)]
pub struct Image {
    pub manifest: Manifest,
    /// The manifest as `index.json` lists it: digest, size, platform and
    /// the `org.opencontainers.image.ref.name` annotation for the tag.
    pub manifest_descriptor: Descriptor,
    pub config: crate::spec::ConfigFile,
    pub layers: Vec<Layer>,
    /// `index.json`.
    pub index: Index,
    /// `repository:tag` for a docker-archive, if named.
    pub repo_tag: Option<String>,
    config_blob: Vec<u8>,
    manifest_blob: Vec<u8>,
    created: i64,
}

impl Image {
    /// Layers `tree` and describes it with `config`. The same tree, config
    /// and layering always give the same bytes, hence the same digests.
    /// Layers are held in memory; see [`Image::build_in`].
    pub fn build(tree: &Tree, config: &ImageConfig, layering: Layering) -> Result<Image, BuildError> {
        Image::build_in(tree, config, layering, &Spill::memory())
    }

    /// [`Image::build`] with the layers' tars and blobs kept in `spill`:
    /// in memory while its budget lasts, then on disk.
    pub fn build_in(tree: &Tree, config: &ImageConfig, layering: Layering, spill: &Spill) -> Result<Image, BuildError> {
        config.validate()?;
        let layers = layers::build(tree, layering, spill)?;
        let created = config.created_rfc3339()?;
        let history = layers.iter().map(|l| History {
            created: Some(created.clone()),
            created_by: Some("microroot".into()),
            comment: Some(match (layering, l.packages.as_slice()) {
                (Layering::Single, _) => "all files".to_owned(),
                (_, []) => "files not from packages".to_owned(),
                (_, names) => format!("packages: {}", names.join(", ")),
            }),
            ..History::default()
        });
        let config_file = config.config_file(layers.iter().map(|l| l.diff_id).collect(), history.collect())?;
        let config_blob = json(&config_file, "image config")?;
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(MEDIA_TYPE_MANIFEST.into()),
            config: descriptor(MEDIA_TYPE_CONFIG, &config_blob),
            layers: layers.iter().map(|l| l.descriptor.clone()).collect(),
            annotations: config.annotations.clone(),
            ..Manifest::default()
        };
        let manifest_blob = json(&manifest, "image manifest")?;
        let mut manifest_descriptor = descriptor(MEDIA_TYPE_MANIFEST, &manifest_blob);
        manifest_descriptor.platform = Some(config.platform());
        if let Some(tag) = &config.tag {
            manifest_descriptor.annotations.insert(ANNOTATION_REF_NAME.into(), tag.clone());
        }
        let index = Index {
            schema_version: 2,
            media_type: Some(MEDIA_TYPE_INDEX.into()),
            manifests: vec![manifest_descriptor.clone()],
            annotations: config.annotations.clone(),
        };
        Ok(Image {
            manifest,
            manifest_descriptor,
            config: config_file,
            layers,
            index,
            repo_tag: config.repo_tag(),
            config_blob,
            manifest_blob,
            created: config.created.max(0),
        })
    }

    pub fn manifest_digest(&self) -> Digest {
        self.manifest_descriptor.digest
    }

    pub fn config_digest(&self) -> Digest {
        self.manifest.config.digest
    }

    /// The config blob exactly as stored.
    pub fn config_blob(&self) -> &[u8] {
        &self.config_blob
    }

    /// The manifest blob exactly as stored.
    pub fn manifest_blob(&self) -> &[u8] {
        &self.manifest_blob
    }

    /// The files of an OCI image layout (`oci-layout`, `index.json`,
    /// `blobs/sha256/...`) as a tree, with the image's creation time as
    /// mtime.
    pub fn layout_tree(&self) -> Result<Tree, BuildError> {
        let mut files = Files::new(self.created);
        files.put("oci-layout", json(&LayoutVersion { image_layout_version: "1.0.0".into() }, "oci-layout")?.into());
        files.put("index.json", json(&self.index, "index.json")?.into());
        files.blob(self.config_digest(), self.config_blob.clone().into());
        files.blob(self.manifest_digest(), self.manifest_blob.clone().into());
        for layer in &self.layers {
            files.blob(layer.descriptor.digest, layer.blob().clone());
        }
        Ok(files.tree)
    }

    /// The files of a `docker save` archive: `manifest.json`, the config as
    /// `<hex>.json` and each uncompressed layer as `<diff_id hex>.tar`, the
    /// names skopeo uses.
    pub fn docker_archive_tree(&self) -> Result<Tree, BuildError> {
        let mut files = Files::new(self.created);
        let config_name = format!("{}.json", self.config_digest().hex());
        let layer_names: Vec<String> = self.layers.iter().map(|l| format!("{}.tar", l.diff_id.hex())).collect();
        let entry = DockerManifestEntry {
            config: config_name.clone(),
            repo_tags: self.repo_tag.iter().cloned().collect(),
            layers: layer_names.clone(),
        };
        files.put("manifest.json", json(&[entry], "manifest.json")?.into());
        files.put(&config_name, self.config_blob.clone().into());
        for (layer, name) in self.layers.iter().zip(&layer_names) {
            files.put(name, layer.tar().clone());
        }
        Ok(files.tree)
    }
}

fn json<T: Serialize + ?Sized>(value: &T, what: &'static str) -> Result<Vec<u8>, BuildError> {
    serde_json::to_vec(value).map_err(|source| BuildError::Json { what, source })
}

fn descriptor(media_type: &str, blob: &[u8]) -> Descriptor {
    Descriptor {
        media_type: media_type.into(),
        digest: Digest::of(blob),
        size: blob.len() as u64,
        ..Descriptor::default()
    }
}

/// A tree of plain files (0644) and directories (0755), root-owned, all
/// with one mtime.
struct Files {
    tree: Tree,
    mtime: i64,
}

impl Files {
    fn new(mtime: i64) -> Self {
        Files { tree: Tree::new(), mtime }
    }

    fn meta(&self, mode: u32) -> Meta {
        Meta { mtime: self.mtime, ..Meta::new(mode) }
    }

    fn put(&mut self, name: &str, content: Blob) {
        let path = TreePath::new(name).unwrap_or_default();
        // Names here are fixed strings and hex digests: parents are plain
        // directories and nothing can fail.
        if let Some(parent) = path.parent() {
            let _ = self.tree.mkdir_p(&parent, &self.meta(0o755));
        }
        let _ = self.tree.insert(&path, Entry::new(self.meta(0o644), microroot_tree::Kind::File(content)));
    }

    fn blob(&mut self, digest: Digest, content: Blob) {
        self.put(&format!("blobs/sha256/{}", digest.hex()), content);
    }
}
