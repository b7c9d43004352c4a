//! `microroot.lock`: the resolved answer, pinned. A locked build fetches
//! exactly these files and checks each against its sha256, so it needs no
//! index and gives the same bytes for as long as the mirror keeps them.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::manifest::Manifest;

pub const LOCK_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lockfile {
    pub version: u32,
    /// Fingerprint of the manifest parts that decide resolution; a lock
    /// whose fingerprint differs is out of date.
    pub inputs: String,
    pub source: LockedSource,
    #[serde(rename = "package", default)]
    pub packages: Vec<LockedPackage>,
    /// The kernel package of VM outputs (not part of the image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<LockedPackage>,
    /// The base image, pinned by digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<crate::base::LockedBase>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedSource {
    pub suite: String,
    pub codename: String,
    pub version: String,
    /// The Release file's `Date`, in UTC (RFC 2822).
    pub date: String,
    /// Seconds since the epoch of `date`: the default output epoch.
    pub date_epoch: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedPackage {
    pub name: String,
    pub version: String,
    pub architecture: String,
    /// Path below the mirror root (`pool/main/...`).
    pub filename: String,
    pub size: u64,
    pub sha256: String,
}

/// A lockfile that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot read lockfile {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("lockfile {path} is malformed: {message}\nhint: delete it and run `microroot lock`")]
    Malformed { path: PathBuf, message: String },
    #[error("lockfile {path} is out of date: the manifest's suite, architecture, components or packages changed\nhint: run `microroot lock` to update it")]
    Stale { path: PathBuf },
    #[error("--locked needs {path}, which does not exist\nhint: run `microroot lock` first")]
    Missing { path: PathBuf },
    #[error("cannot write lockfile {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// The fingerprint of everything that decides which packages resolve.
pub fn inputs_fingerprint(m: &Manifest) -> String {
    let mut h = Sha256::new();
    let mut packages = m.packages.include.clone();
    packages.sort();
    for part in [&m.source.suite, &m.image.arch, &m.source.components.join(","), &packages.join(",")] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    if let Some(kernel) = m.kernel_package() {
        h.update(b"kernel\0");
        h.update(kernel.as_bytes());
    }
    if let Some(base) = &m.base {
        h.update(b"base\0");
        h.update(base.as_bytes());
    }
    hex::encode(&h.finalize()[..16])
}

/// Where the lockfile of a manifest lives: beside it.
pub fn lock_path(manifest: &Path) -> PathBuf {
    manifest.with_file_name("microroot.lock")
}

impl Lockfile {
    pub fn read(path: &Path) -> Result<Lockfile, LockError> {
        let text = std::fs::read_to_string(path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => LockError::Missing { path: path.to_owned() },
            _ => LockError::Read { path: path.to_owned(), source },
        })?;
        let lock: Lockfile = toml::from_str(&text)
            .map_err(|e| LockError::Malformed { path: path.to_owned(), message: e.to_string() })?;
        if lock.version != LOCK_VERSION {
            let message = format!("version {} is not supported (expected {LOCK_VERSION})", lock.version);
            return Err(LockError::Malformed { path: path.to_owned(), message });
        }
        Ok(lock)
    }

    /// Fails unless the lock was made from a manifest that resolves the same.
    pub fn check_fresh(&self, manifest: &Manifest, path: &Path) -> Result<(), LockError> {
        if self.inputs == inputs_fingerprint(manifest) {
            Ok(())
        } else {
            Err(LockError::Stale { path: path.to_owned() })
        }
    }

    pub fn to_toml(&self) -> String {
        let body = toml::to_string_pretty(self).expect("lockfile serializes");
        format!("# microroot.lock: written by `microroot lock`; do not edit by hand.\n{body}")
    }

    /// Writes atomically: a temp file of its own beside `path`, synced,
    /// then renamed, so concurrent writers and crashes never leave a
    /// truncated lockfile.
    pub fn write(&self, path: &Path) -> Result<(), LockError> {
        let text = self.to_toml();
        microroot_writers::write_atomic(path, |w| {
            w.write_all(text.as_bytes()).map_err(|source| microroot_writers::Error::OutputIo {
                path: path.to_owned(),
                action: "write",
                source,
            })
        })
        .map(drop)
        .map_err(|e| LockError::Write { path: path.to_owned(), source: std::io::Error::other(e.to_string()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_detects_staleness() {
        let m = Manifest::default_base();
        let lock = Lockfile {
            version: LOCK_VERSION,
            inputs: inputs_fingerprint(&m),
            source: LockedSource {
                suite: "stable".into(),
                codename: "trixie".into(),
                version: "13.7".into(),
                date: "Sat, 12 Sep 2026 07:55:41 UTC".into(),
                date_epoch: 1_789_199_741,
            },
            packages: vec![LockedPackage {
                name: "busybox".into(),
                version: "1:1.37.0-6+b9".into(),
                architecture: "amd64".into(),
                filename: "pool/main/b/busybox/busybox_1.37.0-6+b9_amd64.deb".into(),
                size: 484_988,
                sha256: "00".repeat(32),
            }],
            kernel: None,
            base: None,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("microroot.lock");
        lock.write(&path).unwrap();
        assert_eq!(Lockfile::read(&path).unwrap(), lock);
        lock.check_fresh(&m, &path).unwrap();
        let mut other = m.clone();
        other.packages.include.push("curl".into());
        assert!(matches!(lock.check_fresh(&other, &path), Err(LockError::Stale { .. })));
    }
}
