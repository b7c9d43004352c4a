//! OCI images from microroot trees, and trees from OCI images.
//!
//! Writing flows one way, and is deterministic: the same tree, config and
//! layering give bit-identical blobs and digests.
//!
//! ```text
//! &Tree ─Layering─▶ layer tars (TarWriter, Naming::Bare) ─gzip─▶ Layer { diff_id, descriptor }
//!   + ImageConfig ─▶ config blob ─▶ manifest ─▶ Image
//! Image ─▶ write_layout (dir) | write_oci_archive (tar) | write_docker_archive (tar)
//! &Tree + BundleSpec ─▶ write_bundle (config.json + rootfs/ on the host)
//! ```
//!
//! Reading goes the other way, verifying every blob as it streams:
//!
//! ```text
//! path ─ImageReader::open─▶ (layout | oci-archive | docker-archive)
//!      ─select(Selector)─▶ ReadImage { manifest, config, layers }
//!      ─open_layer─▶ LayerStream ─apply_layer─▶ &mut Tree
//! ```
//!
//! - [`spec`] holds the JSON documents of the image-spec and `docker save`.
//! - [`ImageConfig`] is what the caller says about the image;
//!   [`debian_platform`] maps Debian architecture names to OCI ones.
//! - [`Layering`] chooses one layer or one per package ([`Entry::owner`]).
//! - [`apply_layer`] unpacks a layer tar onto a tree with whiteouts and
//!   refuses `..`, paths through symlinks and escaping whiteouts.
//!
//! The crate knows nothing of manifests or Debian beyond that mapping.
//!
//! [`Entry::owner`]: microroot_tree::Entry::owner

mod apply;
mod bundle;
mod config;
mod digest;
mod image;
mod layers;
mod read;
pub mod spec;
mod write;

pub use apply::{apply_layer, ApplyError, ApplyStats, WHITEOUT_OPAQUE, WHITEOUT_PREFIX};
pub use bundle::{write_bundle, BundleError, BundleReport, BundleSpec, RuntimeConfig, DEFAULT_PATH};
pub use config::{debian_platform, ConfigError, ImageConfig};
pub use digest::{Digest, DigestError};
pub use image::{BuildError, Image};
pub use layers::{Layer, Layering, GENERATED_OWNERS, LAYER_GZIP_LEVEL};
pub use microroot_time::rfc3339;
pub use read::{Format, ImageReader, ImageRef, LayerStream, ReadError, ReadImage, Selector, MAX_JSON};
pub use write::{write_docker_archive, write_layout, write_oci_archive, WriteError};

/// The runtime-spec types of `config.json`.
pub mod runtime {
    pub use crate::bundle::{Capabilities, IdMapping, Linux, Mount, Namespace, Process, Rlimit, Root, User};
}
