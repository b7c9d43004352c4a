use std::io;
use std::path::PathBuf;

use crate::{ApplyError, Digest};

/// Why an image could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot {action} `{}`", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("`{}` is not an OCI layout, an oci-archive or a docker-archive\nhint: a layout has oci-layout and index.json; a docker-archive is a tar with manifest.json; decompress .tar.gz archives first", path.display())]
    NotAnImage { path: PathBuf },
    #[error("`{}` has image layout version {version}, but only 1.x is understood", path.display())]
    LayoutVersion { path: PathBuf, version: String },
    #[error("`{name}` is missing from `{}`\nhint: the archive is incomplete; write or copy it again", image.display())]
    Missing { name: String, image: PathBuf },
    #[error("cannot parse {what}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("`{}` has no image named `{reference}`; it has: {available}\nhint: pick one of those names", image.display())]
    NoSuchRef { image: PathBuf, reference: String, available: String },
    #[error("`{}` has no image for {wanted}; it has: {available}\nhint: pick one of those platforms", image.display())]
    NoPlatform { image: PathBuf, wanted: String, available: String },
    #[error("`{}` holds several images: {available}\nhint: select one by name or platform", image.display())]
    Ambiguous { image: PathBuf, available: String },
    #[error("`{}` holds no image", image.display())]
    Empty { image: PathBuf },
    #[error("index {blob} nests more than {limit} levels deep")]
    TooDeep { blob: String, limit: usize },
    #[error("the manifest of `{}` lists {manifest} layers, but its config has {config} diff ids\nhint: the image is malformed", image.display())]
    LayerCount { image: PathBuf, manifest: usize, config: usize },
    #[error("there is no layer {index}: the image has {count}")]
    NoLayer { index: usize, count: usize },
    #[error("blob {blob} has digest {got}, expected {expected}\nhint: the image is corrupt or was tampered with; fetch or copy it again")]
    Digest { blob: String, expected: Digest, got: Digest },
    #[error("blob {blob} is truncated: expected {expected} bytes, got {got}\nhint: the copy was interrupted; fetch or copy it again")]
    Truncated { blob: String, expected: u64, got: u64 },
    #[error("blob {blob} is longer than the {expected} bytes its descriptor says\nhint: the image is corrupt or was tampered with; fetch or copy it again")]
    TooLong { blob: String, expected: u64 },
    #[error("blob {blob} is larger than the {limit} bytes allowed for a JSON document")]
    TooLarge { blob: String, limit: u64 },
    #[error("layer {blob} unpacks to a tar with digest {got}, but the config's diff id is {expected}\nhint: the image is corrupt or was tampered with")]
    DiffId { blob: String, expected: Digest, got: Digest },
    #[error("cannot decompress blob {blob}")]
    Decompress {
        blob: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot apply layer {blob}")]
    Apply {
        blob: String,
        #[source]
        source: ApplyError,
    },
}
