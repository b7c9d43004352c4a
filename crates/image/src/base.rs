//! Base images: `base = "…"` puts an OCI image's layers into the tree
//! before the packages. The base is a local OCI layout, oci-archive or
//! docker-archive, or a registry reference; either way its digest is pinned
//! in the lockfile, and every blob is verified as it is read.
//!
//! A registry image is pulled into an OCI layout in the cache
//! (`oci/<manifest digest>`), written to a temp directory and renamed, then
//! read like a local layout, so both paths share the verification and the
//! whiteout rules of `microroot_oci`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use microroot_oci::spec::{Descriptor, Index, Manifest as OciManifest, Platform};
use microroot_oci::{ImageReader, Selector};
use microroot_registry::{Client, ClientOptions, Credentials, Reference};
use microroot_tree::{Tree, TreePath};
use serde::{Deserialize, Serialize};

use crate::manifest::Manifest;

/// The owner of the base image's entries (reports, SBOM, layering).
pub const BASE_OWNER: &str = "base";

/// The base image as pinned in `microroot.lock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedBase {
    /// As the manifest names it.
    pub reference: String,
    /// The image manifest's digest (`sha256:…`); for a docker-archive,
    /// which stores no manifest, the config digest.
    pub digest: String,
    /// The image config's digest: the image id.
    pub config: String,
}

/// A base image that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BaseError {
    #[error("base `{reference}`: {source}")]
    Read { reference: String, source: Box<microroot_oci::ReadError> },
    #[error("base `{reference}`: {source}")]
    Registry { reference: String, source: Box<microroot_registry::Error> },
    #[error("base `{reference}` is not a file here and not a registry reference: {reason}\nhint: name an OCI layout directory or an image archive relative to the manifest, or a reference such as registry.example:5000/team/base:1.0")]
    Unknown { reference: String, reason: String },
    #[error("base `{reference}` has no image for linux/{arch}{}\nhint: pick a base built for this architecture, or change image.arch", .found.is_empty().then(String::new).unwrap_or_else(|| format!(" (it has {})", .found)))]
    NoPlatform { reference: String, arch: String, found: String },
    #[error("base `{reference}`: {what} is not valid JSON: {reason}")]
    Json { reference: String, what: String, reason: String },
    #[error("base `{reference}` is now {got}, but microroot.lock pins {expected}\nhint: run `microroot lock` to take the new base, or restore the old one")]
    Changed { reference: String, expected: String, got: String },
    #[error("cannot store the pulled base `{reference}` in {path}: {source}")]
    Store { reference: String, path: PathBuf, source: std::io::Error },
}

/// Where the base comes from.
enum Origin {
    File(PathBuf),
    Registry(Reference),
}

fn origin(reference: &str, base_dir: &Path) -> Result<Origin, BaseError> {
    let path = base_dir.join(reference);
    let looks_like_path = reference.starts_with(['.', '/']) || reference.ends_with(".tar");
    if path.exists() || looks_like_path {
        return Ok(Origin::File(path));
    }
    Reference::parse(reference)
        .map(Origin::Registry)
        .map_err(|e| BaseError::Unknown { reference: reference.to_owned(), reason: e.to_string() })
}

/// The platform a Debian architecture's base must have.
fn platform(arch: &str) -> Platform {
    let (architecture, variant) = microroot_oci::debian_platform(arch).unwrap_or(("amd64", None));
    Platform {
        architecture: architecture.to_owned(),
        os: "linux".to_owned(),
        variant: variant.map(str::to_owned),
        ..Platform::default()
    }
}

/// Registry access for base images.
#[derive(Debug, Clone, Default)]
pub struct RegistryAccess {
    /// Registries (`host[:port]`) that may be spoken to over plain HTTP.
    pub insecure: Vec<String>,
}

impl RegistryAccess {
    /// A client with the host's registry logins (docker/podman auth files).
    pub fn client(&self) -> Result<Client, microroot_registry::Error> {
        let credentials = Credentials::from_environment().unwrap_or_default();
        Ok(Client::new(ClientOptions { insecure: self.insecure.clone(), credentials, ..ClientOptions::default() }))
    }
}

/// Resolves the manifest's base to a digest (a tag is asked once, here).
pub fn pin(m: &Manifest, base_dir: &Path, access: &RegistryAccess) -> Result<Option<LockedBase>, BaseError> {
    let Some(reference) = m.base.as_deref() else { return Ok(None) };
    let want = platform(&m.image.arch);
    match origin(reference, base_dir)? {
        Origin::File(path) => {
            let read = |source| BaseError::Read { reference: reference.to_owned(), source: Box::new(source) };
            let reader = ImageReader::open(&path).map_err(read)?;
            let image = reader.select(&Selector { reference: None, platform: Some(want) }).map_err(read)?;
            let config = image.config_digest.to_string();
            let digest = image.manifest_digest.map(|d| d.to_string()).unwrap_or_else(|| config.clone());
            Ok(Some(LockedBase { reference: reference.to_owned(), digest, config }))
        }
        Origin::Registry(r) => {
            let registry = |source| BaseError::Registry { reference: reference.to_owned(), source: Box::new(source) };
            let client = access.client().map_err(registry)?;
            let (digest, manifest) = platform_manifest(&client, &r, reference, &want)?;
            Ok(Some(LockedBase {
                reference: reference.to_owned(),
                digest: digest.to_string(),
                config: manifest.config.digest.to_string(),
            }))
        }
    }
}

/// The image manifest for `want` below `r` (following an index).
fn platform_manifest(
    client: &Client,
    r: &Reference,
    name: &str,
    want: &Platform,
) -> Result<(microroot_registry::Digest, OciManifest), BaseError> {
    let registry = |source| BaseError::Registry { reference: name.to_owned(), source: Box::new(source) };
    let json = |what: &str, e: serde_json::Error| BaseError::Json {
        reference: name.to_owned(),
        what: what.to_owned(),
        reason: e.to_string(),
    };
    let top = client.manifest(r).map_err(registry)?;
    let value: serde_json::Value = serde_json::from_slice(&top.bytes).map_err(|e| json("the manifest", e))?;
    if value.get("manifests").is_none() {
        let manifest: OciManifest = serde_json::from_value(value).map_err(|e| json("the manifest", e))?;
        return Ok((top.digest, manifest));
    }
    let index: Index = serde_json::from_value(value).map_err(|e| json("the image index", e))?;
    let matches = |d: &&Descriptor| {
        d.platform.as_ref().is_some_and(|p| {
            p.os == want.os
                && p.architecture == want.architecture
                && (want.variant.is_none() || p.variant == want.variant)
        })
    };
    let Some(chosen) = index.manifests.iter().find(matches) else {
        let found: Vec<String> = index
            .manifests
            .iter()
            .filter_map(|d| d.platform.as_ref())
            .map(|p| {
                format!(
                    "{}/{}{}",
                    p.os,
                    p.architecture,
                    p.variant.as_ref().map(|v| format!("/{v}")).unwrap_or_default()
                )
            })
            .collect();
        return Err(BaseError::NoPlatform {
            reference: name.to_owned(),
            arch: want.architecture.clone(),
            found: found.join(", "),
        });
    };
    let digest: microroot_registry::Digest = chosen.digest.to_string().parse().map_err(registry)?;
    let pinned = r.pinned(digest);
    let one = client.manifest(&pinned).map_err(registry)?;
    let manifest: OciManifest = serde_json::from_slice(&one.bytes).map_err(|e| json("the manifest", e))?;
    Ok((one.digest, manifest))
}

/// Puts the pinned base's layers into `tree` (entries owned by
/// [`BASE_OWNER`]).
pub fn apply(
    tree: &mut Tree,
    m: &Manifest,
    base_dir: &Path,
    locked: &LockedBase,
    cache_root: &Path,
    access: &RegistryAccess,
) -> Result<(), BaseError> {
    let reference = locked.reference.as_str();
    let read = |source| BaseError::Read { reference: reference.to_owned(), source: Box::new(source) };
    let path = match origin(reference, base_dir)? {
        Origin::File(path) => path,
        Origin::Registry(r) => pull(&r, locked, cache_root, access)?,
    };
    let reader = ImageReader::open(&path).map_err(read)?;
    let image = reader.select(&Selector { reference: None, platform: Some(platform(&m.image.arch)) }).map_err(read)?;
    let config = image.config_digest.to_string();
    if config != locked.config {
        return Err(BaseError::Changed {
            reference: reference.to_owned(),
            expected: locked.config.clone(),
            got: config,
        });
    }
    let owner: Arc<str> = Arc::from(BASE_OWNER);
    image.apply(tree, Some(&owner)).map_err(read)
}

/// The pinned registry image as an OCI layout in the cache.
fn pull(r: &Reference, locked: &LockedBase, cache_root: &Path, access: &RegistryAccess) -> Result<PathBuf, BaseError> {
    let name = locked.reference.as_str();
    let registry = |source| BaseError::Registry { reference: name.to_owned(), source: Box::new(source) };
    let hex = locked.digest.trim_start_matches("sha256:");
    let layout = cache_root.join("oci").join(hex);
    if layout.join("index.json").exists() {
        return Ok(layout);
    }
    let store = |path: &Path, source| BaseError::Store { reference: name.to_owned(), path: path.to_owned(), source };
    let client = access.client().map_err(registry)?;
    let digest: microroot_registry::Digest = locked.digest.parse().map_err(registry)?;
    let one = client.manifest(&r.pinned(digest)).map_err(registry)?;
    let manifest: OciManifest = serde_json::from_slice(&one.bytes).map_err(|e| BaseError::Json {
        reference: name.to_owned(),
        what: "the manifest".to_owned(),
        reason: e.to_string(),
    })?;
    let parent = cache_root.join("oci");
    std::fs::create_dir_all(&parent).map_err(|e| store(&parent, e))?;
    let tmp = tempfile::Builder::new().prefix(".pull-").tempdir_in(&parent).map_err(|e| store(&parent, e))?;
    let blobs = tmp.path().join("blobs/sha256");
    std::fs::create_dir_all(&blobs).map_err(|e| store(&blobs, e))?;
    let put = |hex: &str, data: &[u8]| std::fs::write(blobs.join(hex), data).map_err(|e| store(&blobs.join(hex), e));
    put(hex, &one.bytes)?;
    for d in std::iter::once(&manifest.config).chain(&manifest.layers) {
        let digest: microroot_registry::Digest = d.digest.to_string().parse().map_err(registry)?;
        let data = client.blob(r.repository(), &digest, d.size).map_err(registry)?;
        put(&digest.hex(), &data)?;
    }
    let media_type = manifest.media_type.clone().unwrap_or_else(|| one.media_type.clone());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{ "mediaType": media_type, "digest": locked.digest, "size": one.bytes.len() }],
    });
    let write = |file: &str, text: String| {
        std::fs::write(tmp.path().join(file), text).map_err(|e| store(&tmp.path().join(file), e))
    };
    write("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}".to_owned())?;
    write("index.json", index.to_string())?;
    let tmp = tmp.keep();
    if std::fs::rename(&tmp, &layout).is_err() {
        // Another build stored it first.
        let _ = std::fs::remove_dir_all(&tmp);
    }
    Ok(layout)
}

/// The base's dpkg status (`/var/lib/dpkg/status`): what it has
/// installed. Empty when it has none (a base not made from packages).
pub fn dpkg_status(tree: &Tree) -> String {
    let path = TreePath::new("var/lib/dpkg/status").expect("static path");
    tree.file(&path).map(|blob| String::from_utf8_lossy(&blob.bytes()).into_owned()).unwrap_or_default()
}

/// What the base had in the files microroot writes itself, so that the
/// customize passes add to them instead of replacing them.
#[derive(Debug, Default)]
pub struct Saved {
    files: Vec<(&'static str, String)>,
}

const MERGED_FILES: &[&str] = &["etc/passwd", "etc/group", "etc/shadow", "etc/gshadow", "var/lib/dpkg/status"];

/// Remembers the base's accounts and dpkg status.
pub fn save(tree: &Tree) -> Saved {
    let files = MERGED_FILES
        .iter()
        .filter_map(|f| {
            let blob = tree.file(&TreePath::new(f).expect("static path"))?;
            Some((*f, String::from_utf8_lossy(&blob.bytes()).into_owned()))
        })
        .collect();
    Saved { files }
}

/// Adds the base's accounts and dpkg status entries that the image's own
/// do not define (by name), keeping the file's mode and owner.
pub fn merge(tree: &mut Tree, saved: &Saved) {
    for (file, old) in &saved.files {
        let path = TreePath::new(file).expect("static path");
        let Some(entry) = tree.get(&path) else { continue };
        let Some(blob) = tree.file(&path) else { continue };
        let new = String::from_utf8_lossy(&blob.bytes()).into_owned();
        let merged = if *file == "var/lib/dpkg/status" { merge_status(&new, old) } else { merge_lines(&new, old) };
        if merged != new {
            let mut entry = entry.clone();
            entry.kind = microroot_tree::Kind::File(merged.into_bytes().into());
            let _ = tree.insert(&path, entry);
        }
    }
}

/// `name:…` lines of `old` whose name `new` lacks, appended.
fn merge_lines(new: &str, old: &str) -> String {
    let names: std::collections::BTreeSet<&str> = new.lines().filter_map(|l| l.split(':').next()).collect();
    let mut out = new.to_owned();
    for line in old.lines().filter(|l| l.split(':').next().is_some_and(|n| !n.is_empty() && !names.contains(n))) {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// dpkg status paragraphs of `old` for packages `new` does not list.
fn merge_status(new: &str, old: &str) -> String {
    let package = |p: &str| p.lines().find_map(|l| l.strip_prefix("Package:")).map(|n| n.trim().to_owned());
    let names: std::collections::BTreeSet<String> = new.split("\n\n").filter_map(package).collect();
    let mut out = new.trim_end_matches('\n').to_owned();
    for paragraph in old.split("\n\n").filter(|p| package(p).is_some_and(|n| !names.contains(&n))) {
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(paragraph.trim_matches('\n'));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_and_status_of_the_base_are_kept_where_the_image_has_none() {
        let new = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n";
        let old = "root:x:0:0:root:/root:/bin/bash\nnginx:x:101:101::/nonexistent:/usr/sbin/nologin\n";
        assert_eq!(merge_lines(new, old), format!("{new}nginx:x:101:101::/nonexistent:/usr/sbin/nologin\n"));
        let new = "Package: libc6\nVersion: 2\n\nPackage: busybox\nVersion: 1\n";
        let old = "Package: libc6\nVersion: 1\n\nPackage: zlib1g\nVersion: 3\n";
        assert_eq!(
            merge_status(new, old),
            "Package: libc6\nVersion: 2\n\nPackage: busybox\nVersion: 1\n\nPackage: zlib1g\nVersion: 3\n"
        );
        assert_eq!(merge_status(new, ""), new);
    }

    #[test]
    fn references_and_paths_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("base.tar"), b"").unwrap();
        assert!(matches!(origin("base.tar", dir.path()), Ok(Origin::File(_))));
        assert!(matches!(origin("./missing", dir.path()), Ok(Origin::File(_))));
        assert!(matches!(origin("127.0.0.1:5000/team/base:1.0", dir.path()), Ok(Origin::Registry(_))));
        assert!(matches!(origin("Not A Ref", dir.path()), Err(BaseError::Unknown { .. })));
    }
}
