//! Manifest, plan and build orchestration for microroot images.
//!
//! ```text
//! microroot.toml ─[manifest]─▶ Manifest
//!   ─[source]─▶ verified InRelease → Packages → solver ─▶ Lockfile (plan)
//!   ─[pipeline]─▶ verified .debs in the cache, each read on a worker as it
//!                 arrives ─[assemble]─▶ Tree (applied in plan order)
//!   ─[customize]─▶ Tree ─[outputs]─▶ out/dist/rootfs.tar.xz
//! ```
//!
//! [`build::build`] runs it all; [`build::lock`] stops after the plan.
//! Progress is reported through [`Progress`]; nothing here prints.

pub mod assemble;
pub mod base;
pub mod boot;
pub mod build;
pub mod customize;
pub mod diff;
pub mod inspect;
pub mod lock;
pub mod manifest;
pub mod oci;
pub mod outputs;
mod pipeline;
pub mod push;
pub mod report;
pub mod sbom;
mod solve;
pub mod source;
pub mod uptodate;
pub mod validate;

use std::path::PathBuf;

pub use build::{build, BuildOptions, Resources};
pub use manifest::Manifest;

/// Progress of a build: phases here, downloads through the fetch
/// crate's reporter.
pub trait Progress: microroot_fetch::Reporter {
    /// A new phase starts (`resolve`, `fetch`, `assemble`, `write`).
    fn phase(&self, phase: &str, detail: &str) {
        let _ = (phase, detail);
    }
}

/// Reports nothing.
pub struct Quiet;
impl microroot_fetch::Reporter for Quiet {}
impl Progress for Quiet {}

/// Anything that stops a build.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Manifest(#[from] manifest::ManifestError),
    #[error(transparent)]
    Lock(#[from] lock::LockError),
    #[error("--locked and `microroot lock` need a manifest file (the lockfile lives beside it)\nhint: run `microroot init` to write microroot.toml, then `microroot lock`")]
    LockedWithoutManifest,
    #[error("lockfile entry is invalid: {0}\nhint: run `microroot lock` again")]
    BadLock(String),
    #[error(transparent)]
    Source(#[from] source::SourceError),
    #[error(transparent)]
    Cache(#[from] microroot_fetch::Error),
    #[error("cannot fetch {} package(s):\n  {}\nhint: if the mirror no longer has these versions, run `microroot lock` to pick current ones", .0.len(), .0.join("\n  "))]
    Fetch(Vec<String>),
    #[error("cannot fetch {} package(s) offline:\n  {}\nhint: run once without --offline to fill the cache", .0.len(), .0.join("\n  "))]
    Offline(Vec<String>),
    #[error(transparent)]
    Assemble(#[from] assemble::AssembleError),
    #[error(transparent)]
    Extra(#[from] customize::ExtraError),
    #[error(transparent)]
    Customize(#[from] customize::CustomizeError),
    #[error(transparent)]
    Write(#[from] microroot_writers::Error),
    #[error("cannot write output {path}: {source}")]
    Output { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Ext4 { path: PathBuf, source: microroot_ext4::Error },
    #[error(transparent)]
    Boot(#[from] boot::PrepareError),
    #[error(transparent)]
    Oci(#[from] oci::OciError),
    #[error(transparent)]
    Base(#[from] base::BaseError),
}
