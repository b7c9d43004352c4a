//! The content-addressed cache (`sha256/ab/abcdef…`) and the small by-URL
//! area (`by-url/<sha256 of url>`) for signed files such as `InRelease`.
//!
//! Entries only ever appear by an atomic rename of a fully written, fsynced
//! and verified temp file in the same directory (see `staging`), so a
//! present entry of the right size is trusted; [`Cache::verify_on_read`]
//! re-hashes on every lookup for the paranoid.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use tracing::{debug, warn};

use crate::digest::{hash_file, Expected, Sha256Hash};
use crate::error::{Error, Result};

/// Environment variable that overrides the cache directory.
pub const CACHE_DIR_ENV: &str = "MICROROOT_CACHE_DIR";

/// A content-addressed store of verified files.
#[derive(Clone, Debug)]
pub struct Cache {
    root: PathBuf,
    verify_on_read: bool,
}

impl Cache {
    /// A cache rooted at `root`; directories are created on first write.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into(), verify_on_read: false }
    }

    /// A cache at `explicit` if given, else at [`Cache::default_dir`].
    pub fn open(explicit: Option<&Path>) -> Result<Self> {
        let root = match explicit {
            Some(path) => path.to_path_buf(),
            None => Self::default_dir()?,
        };
        Ok(Self::new(root))
    }

    /// `$MICROROOT_CACHE_DIR`, else `$XDG_CACHE_HOME/microroot`, else
    /// `$HOME/.cache/microroot`.
    pub fn default_dir() -> Result<PathBuf> {
        resolve_dir(|name| std::env::var_os(name))
    }

    /// Re-hash entries on every [`Cache::get`]; a corrupt entry is deleted
    /// and reported as a miss.
    pub fn verify_on_read(mut self, yes: bool) -> Self {
        self.verify_on_read = yes;
        self
    }

    /// The cache directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob with this digest lives (whether or not it exists).
    pub fn blob_path(&self, sha256: &Sha256Hash) -> PathBuf {
        let hex = sha256.to_hex();
        self.root.join("sha256").join(&hex[..2]).join(hex)
    }

    /// The path of a cached blob matching `expected`, or `None` on a miss.
    pub fn get(&self, expected: &Expected) -> Option<PathBuf> {
        let path = self.blob_path(&expected.sha256);
        let meta = fs::metadata(&path).ok()?;
        if !meta.is_file() || meta.len() != expected.size {
            debug!(path = %path.display(), size = meta.len(), "cache entry has wrong size");
            return None;
        }
        if self.verify_on_read && !self.rehash_ok(&path, expected) {
            return None;
        }
        Some(path)
    }

    fn rehash_ok(&self, path: &Path, expected: &Expected) -> bool {
        match hash_file(path) {
            Ok((sha, len)) if sha == expected.sha256 && len == expected.size => true,
            result => {
                warn!(path = %path.display(), ?result, "removing corrupt cache entry");
                let _ = fs::remove_file(path);
                false
            }
        }
    }

    /// Copies `reader` into the cache if it matches `expected`; `origin`
    /// (a URL or file name) is what errors name.
    pub fn insert(&self, reader: &mut dyn Read, expected: &Expected, origin: &str) -> Result<PathBuf> {
        let blob = self.blob_path(&expected.sha256);
        let mut staged = self.stage(blob.parent().unwrap_or(&self.root))?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io_error("read from", Path::new(origin), e)),
            };
            staged.write(&buf[..n])?;
        }
        staged.commit_blob(expected, origin)
    }

    /// Where the last good copy of `url` is kept.
    pub fn by_url_path(&self, url: &str) -> PathBuf {
        let key = Sha256Hash::of(url.as_bytes()).to_hex();
        self.root.join("by-url").join(key)
    }

    /// The stored copy of `url`, if any. The caller must verify it again.
    pub fn load_by_url(&self, url: &str) -> Result<Option<Vec<u8>>> {
        let path = self.by_url_path(url);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io_error("read", &path, e)),
        }
    }

    /// Atomically replaces the stored copy of `url`; call it only after the
    /// bytes have been verified (e.g. an `InRelease` signature checked).
    pub fn store_by_url(&self, url: &str, bytes: &[u8]) -> Result<PathBuf> {
        let path = self.by_url_path(url);
        let mut staged = self.stage(path.parent().unwrap_or(&self.root))?;
        staged.write(bytes)?;
        debug!(url, path = %path.display(), "storing by-url copy");
        staged.commit_to(&path)
    }

    /// Fails early when the cache's disk cannot hold `needed` more bytes.
    pub(crate) fn check_space(&self, needed: u64) -> Result<()> {
        fs::create_dir_all(&self.root).map_err(|e| self.io_error("create", &self.root, e))?;
        match fs4::available_space(&self.root) {
            Ok(available) if available < needed => Err(Error::NoSpace { cache: self.root.clone(), needed, available }),
            Ok(_) => Ok(()),
            Err(e) => {
                debug!(error = %e, "cannot query free space; continuing");
                Ok(())
            }
        }
    }

    pub(crate) fn io_error(&self, op: &'static str, path: &Path, error: io::Error) -> Error {
        Error::Io { op, path: path.to_path_buf(), cache: self.root.clone(), error }
    }
}

fn resolve_dir(env: impl Fn(&str) -> Option<OsString>) -> Result<PathBuf> {
    let set = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = set(CACHE_DIR_ENV) {
        return Ok(dir);
    }
    // The XDG spec says relative values are invalid and must be ignored.
    if let Some(xdg) = set("XDG_CACHE_HOME").filter(|p| p.is_absolute()) {
        return Ok(xdg.join("microroot"));
    }
    set("HOME").map(|home| home.join(".cache").join("microroot")).ok_or(Error::NoCacheDir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.into())
    }

    #[test]
    fn dir_precedence() {
        let all = [(CACHE_DIR_ENV, "/m"), ("XDG_CACHE_HOME", "/x"), ("HOME", "/h")];
        assert_eq!(resolve_dir(env(&all)).unwrap(), Path::new("/m"));
        assert_eq!(resolve_dir(env(&all[1..])).unwrap(), Path::new("/x/microroot"));
        assert_eq!(resolve_dir(env(&all[2..])).unwrap(), Path::new("/h/.cache/microroot"));
        let relative = [("XDG_CACHE_HOME", "rel"), ("HOME", "/h")];
        assert_eq!(resolve_dir(env(&relative)).unwrap(), Path::new("/h/.cache/microroot"));
        assert!(matches!(resolve_dir(env(&[("HOME", "")])), Err(Error::NoCacheDir)));
    }

    #[test]
    fn blob_layout() {
        let cache = Cache::new("/c");
        let sha = Sha256Hash::of(b"");
        let want = format!("/c/sha256/e3/{sha}");
        assert_eq!(cache.blob_path(&sha), Path::new(&want));
    }
}
