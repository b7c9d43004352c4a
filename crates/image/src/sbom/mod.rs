//! Software bills of materials, written with every build: SPDX 2.3
//! (`sbom.spdx.json`) and CycloneDX 1.5 (`sbom.cdx.json`).
//!
//! ```text
//! Lockfile (versions, .deb sha256) ─┐
//! InstalledPackage (control, license from the DEP-5 copyright file) ─┼─▶ Sbom ─▶ spdx::document
//! BootArtifacts (kernel, modules) + Tree (module bytes) ─┘              └─▶ cyclonedx::document
//! ```
//!
//! Both documents are deterministic: their identifiers derive from a hash
//! of the manifest, the lockfile and the epoch, and their timestamps are
//! the build epoch, so two builds of one plan give the same bytes.

mod cyclonedx;
pub mod dep5;
pub mod license;
mod spdx;

use std::collections::{BTreeMap, BTreeSet};

use microroot_debian::deb822;
use microroot_debian::relation::Relations;
use microroot_tree::{Tree, TreePath};
use sha2::{Digest, Sha256};

use crate::boot::BootArtifacts;
use crate::customize::InstalledPackage;
use crate::lock::Lockfile;
use crate::manifest::Manifest;

pub use dep5::declared_license;

/// The SPDX file name in the output directory.
pub const SPDX_FILE: &str = "sbom.spdx.json";
/// The CycloneDX file name in the output directory.
pub const CYCLONEDX_FILE: &str = "sbom.cdx.json";

/// What the SBOMs are made from besides the manifest and the tree: the
/// plan and the packages as unpacked.
#[derive(Clone, Copy)]
pub struct Inputs<'a> {
    pub lock: &'a Lockfile,
    pub packages: &'a [InstalledPackage],
}

/// The facts both documents state, gathered once.
#[derive(Debug, Clone)]
pub struct Sbom {
    pub image: String,
    pub arch: String,
    pub suite: String,
    pub codename: String,
    /// The purls' `distro` qualifier: `debian-13`, or `debian-<codename>`
    /// for a suite without a version (testing, unstable).
    pub distro: String,
    /// RFC 3339 UTC, from the build epoch.
    pub created: String,
    /// sha256 of the manifest, the lockfile and the epoch: names both
    /// documents.
    pub digest: [u8; 32],
    /// Sorted by name.
    pub packages: Vec<Package>,
    pub kernel: Option<Kernel>,
}

/// A Debian package in the image.
#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub architecture: String,
    /// The source package and its version (`Source: glibc (2.41-12)`; the
    /// package's own name and version when the field is absent).
    pub source: String,
    pub source_version: String,
    pub maintainer: Option<Party>,
    /// Of the .deb, as the lockfile pins it.
    pub sha256: String,
    /// The .deb's file name.
    pub file_name: String,
    /// SPDX expression from the DEP-5 copyright file; `None`: NOASSERTION.
    pub license: Option<String>,
    /// Packages of the image this one depends on (Depends, Pre-Depends).
    pub depends: Vec<String>,
}

/// A person or team, from a `Name <email>` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    pub name: String,
    pub email: Option<String>,
}

/// The VM kernel and the modules that went into the image.
#[derive(Debug, Clone)]
pub struct Kernel {
    /// The package name, or `linux` for a local bzImage.
    pub name: String,
    pub version: String,
    /// `uname -r`.
    pub release: String,
    pub sha256: String,
    /// The .deb's file name, for a packaged kernel.
    pub file_name: Option<String>,
    pub packaged: bool,
    pub modules: Vec<Module>,
}

/// A kernel module loaded at boot.
#[derive(Debug, Clone)]
pub struct Module {
    pub name: String,
    /// Where it is in the image (or the stage-1 initramfs).
    pub path: String,
    pub sha256: Option<String>,
}

impl Sbom {
    pub fn new(m: &Manifest, inputs: &Inputs<'_>, tree: &Tree, boot: Option<&BootArtifacts>, epoch: i64) -> Sbom {
        let lock = inputs.lock;
        let version_id = lock.source.version.split('.').next().unwrap_or_default();
        let distro = match version_id {
            "" => format!("debian-{}", lock.source.codename),
            v => format!("debian-{v}"),
        };
        // The plan in a canonical order: a fresh resolution and a cached
        // plan may list the same packages differently.
        let mut pinned: Vec<String> = lock
            .packages
            .iter()
            .chain(&lock.kernel)
            .map(|p| format!("{}\0{}\0{}", p.name, p.version, p.sha256))
            .collect();
        pinned.sort();
        let mut h = Sha256::new();
        for part in [
            concat!("microroot-sbom\0", env!("CARGO_PKG_VERSION")),
            &toml::to_string(m).unwrap_or_default(),
            &format!("{}\0{}\0{}", lock.source.suite, lock.source.codename, lock.source.date_epoch),
            &pinned.join("\n"),
            &lock.base.as_ref().map(|b| b.digest.clone()).unwrap_or_default(),
            &epoch.to_string(),
        ] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        Sbom {
            image: m.image.name.clone(),
            arch: m.image.arch.clone(),
            suite: lock.source.suite.clone(),
            codename: lock.source.codename.clone(),
            distro,
            created: rfc3339(epoch),
            digest: h.finalize().into(),
            packages: packages(inputs, tree),
            kernel: boot.map(|b| kernel(lock, tree, b)),
        }
    }

    pub fn spdx(&self) -> serde_json::Value {
        spdx::document(self)
    }

    pub fn cyclonedx(&self) -> serde_json::Value {
        cyclonedx::document(self)
    }

    /// `pkg:deb/debian/<name>@<version>?arch=<arch>&distro=<distro>`.
    pub fn purl(&self, name: &str, version: &str, arch: &str) -> String {
        format!("pkg:deb/debian/{name}@{}?arch={arch}&distro={}", purl_encode(version), purl_encode(&self.distro))
    }

    /// The tool that made the documents, with its version.
    pub fn tool() -> (&'static str, &'static str) {
        ("microroot", env!("CARGO_PKG_VERSION"))
    }
}

/// Percent-encodes a purl component: everything but letters, digits,
/// `.-_~` and `:` (which the purl spec says must stay as it is).
pub fn purl_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'~' | b':' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn packages(inputs: &Inputs<'_>, tree: &Tree) -> Vec<Package> {
    let installed: BTreeMap<&str, &InstalledPackage> = inputs.packages.iter().map(|p| (p.name.as_str(), p)).collect();
    let fields = |p: &InstalledPackage, name: &str| -> Option<String> {
        let para = deb822::paragraphs(&p.control).next()?.ok()?;
        para.get(name).map(str::to_owned)
    };
    let mut out: Vec<Package> = Vec::new();
    // Each package's Pre-Depends + Depends and Provides, by name.
    let mut relations: BTreeMap<String, (String, String)> = BTreeMap::new();
    for locked in &inputs.lock.packages {
        let p = installed.get(locked.name.as_str());
        let field = |name: &str| p.and_then(|p| fields(p, name));
        let (source, source_version) = source_of(field("Source").as_deref(), &locked.name, &locked.version);
        let depends = [field("Pre-Depends"), field("Depends")].into_iter().flatten().collect::<Vec<_>>().join(", ");
        relations.insert(locked.name.clone(), (depends, field("Provides").unwrap_or_default()));
        out.push(Package {
            name: locked.name.clone(),
            version: locked.version.clone(),
            architecture: locked.architecture.clone(),
            source,
            source_version,
            maintainer: field("Maintainer").as_deref().and_then(party),
            sha256: locked.sha256.clone(),
            file_name: locked.filename.rsplit('/').next().unwrap_or_default().to_owned(),
            license: p.and_then(|p| p.license.clone()),
            depends: Vec::new(),
        });
    }
    for (package, depends, provides) in base_packages(tree, inputs) {
        relations.insert(package.name.clone(), (depends, provides));
        out.push(package);
    }
    // Virtual package name → the image packages that provide it.
    let mut provided: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for (name, (_, provides)) in &relations {
        for group in Relations::parse(provides).unwrap_or_default().iter() {
            for r in group.iter() {
                provided.entry(r.name.clone()).or_default().insert(name);
            }
        }
    }
    for package in &mut out {
        let (depends, _) = &relations[&package.name];
        let mut edges: Vec<String> = Vec::new();
        for group in Relations::parse(depends).unwrap_or_default().iter() {
            let hit = group.iter().find_map(|r| match relations.contains_key(&r.name) {
                true => Some(r.name.as_str()),
                false => provided.get(&r.name).and_then(|set| set.first().copied()),
            });
            if let Some(name) = hit.filter(|n| *n != package.name) {
                edges.push(name.to_owned());
            }
        }
        edges.sort();
        edges.dedup();
        package.depends = edges;
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Packages the base image brought, each with its `Pre-Depends` +
/// `Depends` and its `Provides`: the image's dpkg status lists them beside
/// the planned ones. No .deb was fetched, so they carry no checksum or file
/// name; the license is read from the package's copyright file when the
/// base kept it (`/usr/share/doc/<package>/copyright`).
fn base_packages(tree: &Tree, inputs: &Inputs<'_>) -> Vec<(Package, String, String)> {
    if inputs.lock.base.is_none() {
        return Vec::new();
    }
    let Some(status) = tree.file(&TreePath::new("var/lib/dpkg/status").expect("static path")) else {
        return Vec::new();
    };
    let bytes = status.bytes();
    let text = String::from_utf8_lossy(&bytes);
    let planned: BTreeSet<&str> = inputs.lock.packages.iter().map(|p| p.name.as_str()).collect();
    deb822::paragraphs(&text)
        .filter_map(Result::ok)
        .filter_map(|para| {
            let name = para.get("Package")?.to_owned();
            if planned.contains(name.as_str()) {
                return None;
            }
            let version = para.get("Version")?.to_owned();
            let (source, source_version) = source_of(para.get("Source"), &name, &version);
            let copyright = TreePath::new(&format!("usr/share/doc/{name}/copyright")).ok();
            let license = copyright
                .and_then(|path| tree.file(&path).map(|b| String::from_utf8_lossy(&b.bytes()).into_owned()))
                .and_then(|text| declared_license(&text));
            let depends = [para.get("Pre-Depends"), para.get("Depends")].into_iter().flatten().collect::<Vec<_>>();
            let package = Package {
                architecture: para.get("Architecture").unwrap_or("all").to_owned(),
                maintainer: para.get("Maintainer").and_then(party),
                sha256: String::new(),
                file_name: String::new(),
                license,
                depends: Vec::new(),
                name,
                version,
                source,
                source_version,
            };
            Some((package, depends.join(", "), para.get("Provides").unwrap_or_default().to_owned()))
        })
        .collect()
}

/// `Source: glibc (2.41-12)` → (`glibc`, `2.41-12`); absent: the binary's.
pub fn source_of(field: Option<&str>, name: &str, version: &str) -> (String, String) {
    let Some(field) = field.map(str::trim).filter(|f| !f.is_empty()) else {
        return (name.to_owned(), version.to_owned());
    };
    match field.split_once('(') {
        Some((source, v)) => (source.trim().to_owned(), v.trim_end_matches(')').trim().to_owned()),
        None => (field.to_owned(), version.to_owned()),
    }
}

/// `Name <email>` (the email optional).
pub fn party(field: &str) -> Option<Party> {
    let field = field.trim();
    let (name, email) = match field.split_once('<') {
        Some((name, rest)) => (name.trim(), rest.split_once('>').map(|(e, _)| e.trim()).filter(|e| !e.is_empty())),
        None => (field, None),
    };
    (!name.is_empty() || email.is_some()).then(|| Party { name: name.to_owned(), email: email.map(str::to_owned) })
}

fn kernel(lock: &Lockfile, tree: &Tree, boot: &BootArtifacts) -> Kernel {
    let locked = lock.kernel.as_ref().filter(|k| boot.kernel_package.as_deref() == Some(k.name.as_str()));
    let stage1 = boot.stage1.as_ref();
    let modules = boot
        .modules
        .iter()
        .zip(&boot.module_paths)
        .map(|(name, path)| {
            let at = TreePath::new(path).ok();
            let blob = at.and_then(|at| tree.file(&at).or_else(|| stage1.and_then(|s| s.file(&at))));
            Module {
                name: name.clone(),
                path: path.clone(),
                sha256: blob.map(|b| hex::encode(Sha256::digest(b.bytes()))),
            }
        })
        .collect();
    match locked {
        Some(k) => Kernel {
            name: k.name.clone(),
            version: k.version.clone(),
            release: boot.kernel_version.clone(),
            sha256: k.sha256.clone(),
            file_name: k.filename.rsplit('/').next().map(str::to_owned),
            packaged: true,
            modules,
        },
        None => Kernel {
            name: "linux".into(),
            version: boot.kernel_version.clone(),
            release: boot.kernel_version.clone(),
            sha256: hex::encode(Sha256::digest(&boot.bzimage)),
            file_name: None,
            packaged: false,
            modules,
        },
    }
}

/// `1970-01-01T00:00:00Z` for `secs` since the epoch; the epoch itself
/// for a time outside the years 0000-9999 (the OCI config refuses those).
pub fn rfc3339(secs: i64) -> String {
    microroot_oci::rfc3339(secs).unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}

/// A UUID (version 5 layout) from the first bytes of `digest`.
pub fn uuid(digest: &[u8; 32]) -> String {
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

#[cfg(test)]
mod tests;
