//! Reading images: OCI layout directories, oci-archives and
//! docker-archives, told apart by their files.
//!
//! [`ImageReader::open`] finds the format, [`ImageReader::images`] lists
//! what it holds and [`ImageReader::select`] picks one by name and
//! platform, giving a [`ReadImage`]: manifest, config and layer
//! descriptors, plus [`ReadImage::open_layer`] for a verified,
//! decompressed layer stream and [`ReadImage::apply`] to unpack all
//! layers onto a tree. Every blob is checked against its descriptor's
//! digest and size as it is read.

mod error;
mod select;
mod source;
mod verify;

use std::path::Path;
use std::sync::Arc;

use microroot_tree::Tree;
use serde::de::DeserializeOwned;

pub use error::ReadError;
pub use select::{ImageRef, Selector};
pub use verify::LayerStream;

use crate::spec::{ConfigFile, Descriptor, LayoutVersion, Manifest, Platform};
use crate::{apply_layer, Digest};
use source::Source;
use verify::{read_small, Expect};

/// The largest JSON document (index, manifest, config) read into memory.
pub const MAX_JSON: u64 = 16 << 20;

/// The kinds of image storage that [`ImageReader::open`] recognizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A directory with `oci-layout`, `index.json` and `blobs/`.
    Layout,
    /// A tar of such a directory.
    OciArchive,
    /// A tar with `manifest.json`, as `docker save` writes.
    DockerArchive,
}

/// An opened image store. See the module docs.
#[derive(Debug)]
pub struct ImageReader {
    source: Source,
    format: Format,
}

impl ImageReader {
    /// Opens `path` and detects its [`Format`]: a directory must be an OCI
    /// layout; a file is scanned as a tar, and is an oci-archive if it has
    /// `oci-layout` and `index.json` (Docker 25+ archives have both kinds of
    /// files and are read this way), else a docker-archive if it has
    /// `manifest.json`.
    pub fn open(path: &Path) -> Result<ImageReader, ReadError> {
        let meta =
            std::fs::metadata(path).map_err(|source| ReadError::Io { path: path.into(), action: "open", source })?;
        let (source, format) = if meta.is_dir() {
            (Source::Dir(path.to_owned()), Format::Layout)
        } else {
            let source = Source::scan_tar(path)?;
            let format = if source.has("oci-layout") { Format::OciArchive } else { Format::DockerArchive };
            (source, format)
        };
        let wanted: &[&str] = match format {
            Format::DockerArchive => &["manifest.json"],
            _ => &["oci-layout", "index.json"],
        };
        if !wanted.iter().all(|name| source.has(name)) {
            return Err(ReadError::NotAnImage { path: path.to_owned() });
        }
        let reader = ImageReader { source, format };
        if format != Format::DockerArchive {
            let version: LayoutVersion = reader.json_file("oci-layout")?;
            if !version.image_layout_version.starts_with("1.") {
                return Err(ReadError::LayoutVersion { path: path.into(), version: version.image_layout_version });
            }
        }
        Ok(reader)
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn path(&self) -> &Path {
        self.source.path()
    }

    /// Every image the store holds, with its names and platform (when the
    /// index says; docker-archives only tell it in the config).
    pub fn images(&self) -> Result<Vec<ImageRef>, ReadError> {
        select::list(self)
    }

    /// The image `selector` names. See [`Selector`].
    pub fn select(&self, selector: &Selector) -> Result<ReadImage<'_>, ReadError> {
        select::select(self, selector)
    }

    /// A whole file of the store, not content-addressed (`index.json`,
    /// `manifest.json`), parsed.
    fn json_file<T: DeserializeOwned>(&self, name: &str) -> Result<T, ReadError> {
        let (reader, size) = self.source.open(name)?;
        let expect = Expect { blob: name.to_owned(), digest: None, size: Some(size) };
        parse(&read_small(reader, expect, MAX_JSON)?, name)
    }

    /// A blob by descriptor, verified, parsed.
    fn json_blob<T: DeserializeOwned>(&self, desc: &Descriptor, what: &str) -> Result<(T, Vec<u8>), ReadError> {
        let (reader, _) = self.source.open(&blob_path(&desc.digest))?;
        let expect =
            Expect { blob: format!("{what} {}", desc.digest), digest: Some(desc.digest), size: Some(desc.size) };
        let bytes = read_small(reader, expect, MAX_JSON)?;
        Ok((parse(&bytes, what)?, bytes))
    }
}

fn parse<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, ReadError> {
    serde_json::from_slice(bytes).map_err(|source| ReadError::Json { what: what.to_owned(), source })
}

fn blob_path(digest: &Digest) -> String {
    format!("blobs/sha256/{}", digest.hex())
}

/// Where a layer's bytes are and what they must hash to.
#[derive(Clone, Debug)]
struct LayerSource {
    name: String,
    expect: Expect,
    diff_id: Option<Digest>,
}

/// One selected image. See the module docs.
#[derive(Debug)]
pub struct ReadImage<'r> {
    /// For docker-archives, a manifest made up from `manifest.json`: layer
    /// digests are the member names' digests (the diff ids for skopeo and
    /// Docker archives), sizes the member sizes.
    pub manifest: Manifest,
    /// The manifest blob's digest; `None` for docker-archives, which store
    /// no manifest blob.
    pub manifest_digest: Option<Digest>,
    pub config: ConfigFile,
    pub config_digest: Digest,
    /// Ref names or `RepoTags`.
    pub names: Vec<String>,
    manifest_raw: Option<Vec<u8>>,
    config_raw: Vec<u8>,
    layers: Vec<LayerSource>,
    reader: &'r ImageReader,
}

impl ReadImage<'_> {
    /// The layer descriptors, lowest first.
    pub fn layers(&self) -> &[Descriptor] {
        &self.manifest.layers
    }

    pub fn platform(&self) -> Platform {
        Platform {
            architecture: self.config.architecture.clone(),
            os: self.config.os.clone(),
            variant: self.config.variant.clone(),
            ..Platform::default()
        }
    }

    /// The manifest blob exactly as stored (its digest is
    /// `manifest_digest`); `None` for docker-archives.
    pub fn manifest_bytes(&self) -> Option<&[u8]> {
        self.manifest_raw.as_deref()
    }

    /// The config blob exactly as stored, verified.
    pub fn config_bytes(&self) -> &[u8] {
        &self.config_raw
    }

    /// Layer `index` as stored (compressed or not), verified against its
    /// descriptor's digest and size, streamed into `out`. Returns the bytes
    /// copied. On error, discard what `out` received.
    pub fn copy_layer_blob(&self, index: usize, out: &mut dyn std::io::Write) -> Result<u64, ReadError> {
        let layer = self.layers.get(index).ok_or(ReadError::NoLayer { index, count: self.layers.len() })?;
        let (reader, _) = self.reader.source.open(&layer.name)?;
        let blob = layer.expect.blob.clone();
        let failure = verify::Failure::default();
        let mut verified = verify::Verified::new(reader, layer.expect.clone(), failure.clone());
        std::io::copy(&mut verified, out).map_err(|source| {
            failure.take().unwrap_or_else(|| ReadError::Io {
                path: self.reader.path().join(&blob),
                action: "copy",
                source,
            })
        })
    }

    /// Layer `index` (0 = lowest) as an uncompressed tar stream, verified
    /// against its descriptor and diff id; see [`LayerStream`].
    pub fn open_layer(&self, index: usize) -> Result<LayerStream, ReadError> {
        let layer = self.layers.get(index).ok_or(ReadError::NoLayer { index, count: self.layers.len() })?;
        let (reader, _) = self.reader.source.open(&layer.name)?;
        LayerStream::new(reader, layer.expect.clone(), layer.diff_id)
    }

    /// Applies every layer onto `tree` with [`apply_layer`], lowest first,
    /// marking entries with `owner`. On error the tree holds part of the
    /// image (possibly from a layer that then failed verification), so
    /// throw it away.
    pub fn apply(&self, tree: &mut Tree, owner: Option<&Arc<str>>) -> Result<(), ReadError> {
        for index in 0..self.layers.len() {
            let mut stream = self.open_layer(index)?;
            if let Err(source) = apply_layer(tree, &mut stream, owner) {
                let blob = stream.blob().to_owned();
                return Err(stream.take_failure().unwrap_or(ReadError::Apply { blob, source }));
            }
            stream.finish()?;
        }
        Ok(())
    }
}
