//! The Debian side of a build: find the mirror and keyring, fetch and
//! verify the suite's InRelease, fetch the Packages indexes it vouches for,
//! and solve the manifest's package list into a [`Lockfile`].
//!
//! Resolution is a pure function of the verified Release payload and the
//! manifest's resolution inputs, so its answer is kept in the cache under
//! the hash of both: a warm build skips the 50 MB index entirely.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use microroot_debian::index::{Index, IndexFile};
use microroot_debian::release::{Release, ReleaseError};
use microroot_debian::signature::{self, Keyring, SignatureError};
use microroot_fetch::{Expected, Fetcher, Sha256Hash};
use sha2::{Digest, Sha256};

use crate::lock::{inputs_fingerprint, LockedSource, Lockfile, LOCK_VERSION};
use crate::manifest::Manifest;

/// The host's Debian archive keyring, used when the manifest names none.
pub const DEFAULT_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("no Debian mirror configured: the manifest has no `source.mirrors` and the host's apt sources list none\nhint: add mirrors = [\"http://<mirror>/debian\"] under [source]")]
    NoMirror,
    #[error("cannot read the host's apt sources: {0}")]
    Sources(String),
    #[error("keyring {path}: {source}\nhint: install debian-archive-keyring or set `keyring = …` under [source]")]
    Keyring { path: PathBuf, source: Box<SignatureError> },
    #[error("cannot get {url}: {source}")]
    Fetch { url: String, source: microroot_fetch::Error },
    #[error("{url} is signed, but for `{found}`, not the suite `{asked}` the manifest asks for\nhint: the mirror may be misconfigured or replaying an old release; try another mirror")]
    WrongSuite { url: String, asked: String, found: String },
    #[error(transparent)]
    Signature(Box<SignatureError>),
    #[error(transparent)]
    Release(Box<ReleaseError>),
    #[error("{0}")]
    Index(String),
    #[error("{0}")]
    Solve(String),
    #[error(transparent)]
    Base(Box<crate::base::BaseError>),
}

impl From<SignatureError> for SourceError {
    fn from(e: SignatureError) -> Self {
        SourceError::Signature(Box::new(e))
    }
}

impl From<ReleaseError> for SourceError {
    fn from(e: ReleaseError) -> Self {
        SourceError::Release(Box::new(e))
    }
}

/// A suite whose InRelease verified.
pub struct Suite {
    pub mirrors: Vec<String>,
    pub name: String,
    pub release: Release,
    /// sha256 of the InRelease as fetched (and verified): identifies this
    /// exact suite state, and keys the plan cache.
    pub inrelease_sha256: String,
}

/// The mirrors to use: the manifest's, else the host's apt sources.
pub fn mirrors(manifest: &Manifest) -> Result<Vec<String>, SourceError> {
    if !manifest.source.mirrors.is_empty() {
        return Ok(manifest.source.mirrors.iter().map(|m| m.trim_end_matches('/').to_owned()).collect());
    }
    let sources = microroot_debian::sources::host_sources().map_err(|e| SourceError::Sources(e.to_string()))?;
    let mirror = microroot_debian::sources::primary_mirror(&sources).ok_or(SourceError::NoMirror)?;
    Ok(vec![mirror.uri])
}

fn keyring(manifest: &Manifest) -> Result<Keyring, SourceError> {
    let path = manifest.source.keyring.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_KEYRING));
    Keyring::load(&path).map_err(|source| SourceError::Keyring { path, source: Box::new(source) })
}

/// Fetches (or, offline, loads from the cache) and verifies the InRelease.
/// Mirrors are tried in order; whatever one sends must verify, name the
/// suite that was asked for and be in date, or the next mirror is tried.
pub fn open_suite(manifest: &Manifest, fetcher: &Fetcher, now: SystemTime) -> Result<Suite, SourceError> {
    let mirrors = mirrors(manifest)?;
    let keys = keyring(manifest)?;
    let suite = &manifest.source.suite;
    let mut last_err = None;
    for (i, mirror) in mirrors.iter().enumerate() {
        let url = format!("{mirror}/dists/{suite}/InRelease");
        match fetch_inrelease(&url, suite, fetcher, &keys, now) {
            Ok((release, inrelease_sha256)) => {
                return Ok(Suite { mirrors: mirrors.clone(), name: suite.clone(), release, inrelease_sha256 });
            }
            Err(e) => {
                // The last mirror's error is the build's error: said once.
                if i + 1 < mirrors.len() {
                    tracing::warn!("{e}\ntrying the next mirror");
                }
                last_err = Some(e);
            }
        }
    }
    Err(last_err.unwrap_or(SourceError::NoMirror))
}

fn fetch_inrelease(
    url: &str,
    suite: &str,
    fetcher: &Fetcher,
    keys: &Keyring,
    now: SystemTime,
) -> Result<(Release, String), SourceError> {
    let fetch_err = |source| SourceError::Fetch { url: url.to_owned(), source };
    let bytes = if fetcher.is_offline() {
        let cache = fetcher.cache();
        let missing = || microroot_fetch::Error::Offline { name: url.to_owned(), cache: cache.root().to_owned() };
        cache.load_by_url(url).map_err(fetch_err)?.ok_or_else(|| fetch_err(missing()))?
    } else {
        fetcher.get_bytes(url).map_err(fetch_err)?
    };
    let verified = signature::verify_inrelease(url, &bytes, keys, now)?;
    let release = Release::parse(url, &verified.payload, now)?;
    // A validly signed Release of another suite (an old stable, say) must
    // not stand in for the one asked for.
    if release.suite.as_deref() != Some(suite) && release.codename.as_deref() != Some(suite) {
        return Err(SourceError::WrongSuite {
            url: url.to_owned(),
            asked: suite.to_owned(),
            found: format!(
                "Suite: {}, Codename: {}",
                release.suite.as_deref().unwrap_or("-"),
                release.codename.as_deref().unwrap_or("-")
            ),
        });
    }
    if !fetcher.is_offline() {
        // Kept for --offline builds, which verify it again.
        let _ = fetcher.cache().store_by_url(url, &bytes);
    }
    Ok((release, hex::encode(Sha256::digest(&bytes))))
}

/// What a base image has installed: its dpkg status.
pub struct BaseStatus<'a> {
    /// The base as the manifest names it, for errors.
    pub reference: &'a str,
    /// The base's config digest: keys the plan cache.
    pub config: &'a str,
    /// Reads `/var/lib/dpkg/status` of the base (empty when it has none);
    /// called only when the plan is not in the cache.
    pub status: &'a dyn Fn() -> Result<String, crate::base::BaseError>,
}

/// Resolves the manifest against the suite (on top of what the base has
/// installed), from the plan cache when this exact suite state was solved
/// for the same inputs before.
pub fn resolve(
    manifest: &Manifest,
    suite: &Suite,
    fetcher: &Fetcher,
    base: Option<&BaseStatus<'_>>,
) -> Result<Lockfile, SourceError> {
    let inputs = inputs_fingerprint(manifest);
    let plan_path = plan_path(fetcher, &suite.inrelease_sha256, &inputs, base);
    match Lockfile::read(&plan_path) {
        Ok(lock) if lock.inputs == inputs && lock.source == locked_source(suite) => {
            tracing::debug!(path = %plan_path.display(), "plan cache hit");
            return Ok(lock);
        }
        Ok(_) => tracing::warn!("ignoring plan cache entry {} made for another suite state", plan_path.display()),
        Err(_) => {}
    }
    let installed = match base {
        Some(b) => {
            let status = (b.status)().map_err(|e| SourceError::Base(Box::new(e)))?;
            let origin = format!("base `{}`: /var/lib/dpkg/status", b.reference);
            microroot_debian::index::parse_status(&origin, &status).map_err(|e| SourceError::Index(e.to_string()))?
        }
        None => Vec::new(),
    };
    let mut files = Vec::new();
    for component in &manifest.source.components {
        let (path, name) = fetch_index(suite, component, &manifest.image.arch, fetcher)?;
        files.push((format!("{}/{component}", suite.name), path, name));
    }
    let files: Vec<IndexFile<'_>> = files.iter().map(|(origin, path, name)| IndexFile { origin, path, name }).collect();
    let index = Index::read(&files).map_err(|e| SourceError::Index(e.to_string()))?;
    let (packages, kernel) = crate::solve::solve(
        &index,
        &manifest.image.arch,
        &manifest.packages.include,
        manifest.kernel_package(),
        &installed,
    )?;
    let lock = Lockfile { version: LOCK_VERSION, inputs, source: locked_source(suite), packages, kernel, base: None };
    if std::fs::create_dir_all(plan_path.parent().expect("has parent")).is_ok() {
        let _ = lock.write(&plan_path);
    }
    Ok(lock)
}

fn plan_path(fetcher: &Fetcher, inrelease_sha256: &str, inputs: &str, base: Option<&BaseStatus<'_>>) -> PathBuf {
    // The solver's version is part of the key: a fixed solver re-solves.
    let version = env!("CARGO_PKG_VERSION");
    // So is the base: another base has other packages installed.
    let base =
        base.map(|b| format!("-{}", b.config.trim_start_matches("sha256:").chars().take(16).collect::<String>()));
    let base = base.unwrap_or_default();
    fetcher.cache().root().join("plans").join(format!("{}-{inputs}{base}-{version}.lock", &inrelease_sha256[..32]))
}

/// The plan solved for the InRelease last verified from the first mirror,
/// if the cache has both. It is only a guess at what [`resolve`] will say:
/// a caller may start work with it but must compare it with the real plan.
pub fn cached_plan(manifest: &Manifest, fetcher: &Fetcher) -> Option<Lockfile> {
    // A plan on a base depends on the base, which is not known yet.
    if manifest.base.is_some() {
        return None;
    }
    let mirror = mirrors(manifest).ok()?.into_iter().next()?;
    let url = format!("{mirror}/dists/{}/InRelease", manifest.source.suite);
    let bytes = fetcher.cache().load_by_url(&url).ok()??;
    let path = plan_path(fetcher, &hex::encode(Sha256::digest(&bytes)), &inputs_fingerprint(manifest), None);
    Lockfile::read(&path).ok()
}

fn locked_source(suite: &Suite) -> LockedSource {
    let r = &suite.release;
    LockedSource {
        suite: suite.name.clone(),
        codename: r.codename.clone().unwrap_or_default(),
        version: r.version.clone().unwrap_or_default(),
        date: microroot_debian::release::format_utc(r.date),
        date_epoch: r.date.duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0),
    }
}

/// Downloads one component's Packages index (verified against the
/// Release) and returns where it is and its name in the suite.
fn fetch_index(
    suite: &Suite,
    component: &str,
    arch: &str,
    fetcher: &Fetcher,
) -> Result<(PathBuf, String), SourceError> {
    let entry = suite.release.find_index(&format!("{component}/binary-{arch}/Packages"))?;
    // By-hash first (immune to a mirror updating mid-build), then the
    // canonical name; both are checked against the same hash.
    let paths = [suite.release.fetch_path(entry), entry.path.clone()];
    let mut urls: Vec<String> = Vec::new();
    for rel in paths.iter() {
        for m in &suite.mirrors {
            let url = format!("{m}/dists/{}/{rel}", suite.name);
            if !urls.contains(&url) {
                urls.push(url);
            }
        }
    }
    let expected = Expected::new(Sha256Hash::from_bytes(entry.sha256), entry.size);
    let path = fetcher
        .fetch_verified(&urls, &expected)
        .map_err(|source| SourceError::Fetch { url: urls[0].clone(), source })?;
    Ok((path, entry.path.clone()))
}
