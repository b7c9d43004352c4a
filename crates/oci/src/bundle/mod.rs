//! OCI runtime bundles: `config.json` plus `rootfs/` materialized from a
//! tree, for `runc run` or `crun run`.

mod rootfs;
mod runtime;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use microroot_tree::{Tree, TreePath};
use microroot_writers::write_atomic;

pub use runtime::{
    Capabilities, IdMapping, Linux, Mount, Namespace, Process, Rlimit, Root, RuntimeConfig, User, DEFAULT_PATH,
};

use crate::ImageConfig;

/// How the container's process runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleSpec {
    /// `process.args`: the image's entrypoint followed by its cmd.
    pub args: Vec<String>,
    /// `KEY=value`; a default `PATH` is added when missing, as Docker does.
    pub env: Vec<String>,
    /// Absolute.
    pub cwd: String,
    /// Numeric ids: a bundle has no `/etc/passwd` lookup.
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub hostname: String,
    /// Map container root to the user writing the bundle, like
    /// `runc spec --rootless`; then `uid` and `gid` must be 0.
    pub rootless: bool,
}

impl BundleSpec {
    /// The process of `config`, as user `uid:gid`, hostname `microroot`.
    pub fn from_image(config: &ImageConfig, uid: u32, gid: u32) -> Self {
        BundleSpec {
            args: config.entrypoint.iter().chain(&config.cmd).cloned().collect(),
            env: config.env.clone(),
            cwd: config.working_dir.clone().unwrap_or_else(|| "/".into()),
            uid,
            gid,
            additional_gids: Vec::new(),
            hostname: "microroot".into(),
            rootless: false,
        }
    }
}

/// What [`write_bundle`] wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BundleReport {
    pub dirs: usize,
    pub files: usize,
    pub symlinks: usize,
    pub hardlinks: usize,
    pub fifos: usize,
    /// Device nodes left out: the runtime provides `/dev`.
    pub skipped_devices: usize,
    /// Sockets left out: programs create them at run time.
    pub skipped_sockets: usize,
    /// Whether owners were set (only when running as root).
    pub chowned: bool,
}

/// Why a bundle could not be written.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("the bundle has nothing to run\nhint: give the image an entrypoint or a cmd")]
    NoArgs,
    #[error("working directory `{0}` is not absolute\nhint: start it with /")]
    RelativeCwd(String),
    #[error("a rootless bundle maps only container root, but the process runs as {uid}:{gid}\nhint: run as 0:0 or write a bundle that is not rootless")]
    RootlessUser { uid: u32, gid: u32 },
    #[error("`{}` already exists\nhint: write the bundle into a fresh staging directory", path.display())]
    Exists { path: PathBuf },
    #[error("cannot write `{path}`: its parent `{parent}` is a {kind}, not a directory the bundle created\nhint: the tree is inconsistent; a path below a symlink is never written through it")]
    Parent { path: TreePath, parent: TreePath, kind: &'static str },
    #[error("cannot {action} `{}`", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("cannot serialize config.json")]
    Json(#[source] serde_json::Error),
    #[error(transparent)]
    Output(#[from] microroot_writers::Error),
}

/// Writes a runtime bundle into `dir` (created if missing): `rootfs/`
/// from `tree` (which must not exist yet), then `config.json`. Owners are
/// set only when running as root; device nodes and sockets are skipped and
/// counted; mtimes are the tree's. Nothing is written through a symlink:
/// every parent is a directory this call created.
pub fn write_bundle(tree: &Tree, spec: &BundleSpec, dir: &Path) -> Result<BundleReport, BundleError> {
    if spec.args.is_empty() {
        return Err(BundleError::NoArgs);
    }
    if !spec.cwd.starts_with('/') {
        return Err(BundleError::RelativeCwd(spec.cwd.clone()));
    }
    if spec.rootless && (spec.uid != 0 || spec.gid != 0) {
        return Err(BundleError::RootlessUser { uid: spec.uid, gid: spec.gid });
    }
    let io = |path: &Path, action| {
        let path = path.to_owned();
        move |source| BundleError::Io { path, action, source }
    };
    fs::create_dir_all(dir).map_err(io(dir, "create the directory"))?;
    let rootfs = dir.join("rootfs");
    match fs::create_dir(&rootfs) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(BundleError::Exists { path: rootfs }),
        other => other.map_err(io(&rootfs, "create the directory"))?,
    }
    let report = rootfs::materialize(tree, &rootfs)?;
    let host = (rustix::process::geteuid().as_raw(), rustix::process::getegid().as_raw());
    let config = RuntimeConfig::new(spec, spec.rootless.then_some(host));
    let json = serde_json::to_vec_pretty(&config).map_err(BundleError::Json)?;
    let path = dir.join("config.json");
    write_atomic(&path, |out| {
        out.write_all(&json).map_err(|source| microroot_writers::Error::OutputIo {
            path: path.clone(),
            action: "write",
            source,
        })
    })?;
    Ok(report)
}
