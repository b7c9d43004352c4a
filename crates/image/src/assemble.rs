//! Unpacks verified .debs into a tree in two steps: [`read_package`]
//! (decompress and check, on any thread) and [`Applier::apply`] (into the
//! tree, in a fixed order), applying the path excludes so that pruned
//! content never reaches the tree. The `pipeline` module runs them while the
//! downloads go on.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use globset::{GlobSet, GlobSetBuilder};
use microroot_debian::deb::{Control, Deb, DebError, Unpacked};
use microroot_fetch::{Cache, Sha256Hash};
use microroot_tree::{Kind, Spill, Tree, TreePath};

use crate::customize::InstalledPackage;
use crate::lock::LockedPackage;
use crate::manifest::{Manifest, DEFAULT_EXCLUDES};

/// A package's .deb could not be read into the tree.
#[derive(Debug, thiserror::Error)]
pub enum AssembleError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Deb(#[from] DebError),
    #[error("{package}: control says Package `{found}`, but the index and lockfile say `{package}`\nhint: the cache or mirror holds the wrong file; delete the cache entry and rebuild")]
    WrongPackage { package: String, found: String },
}

/// The manifest's path excludes, compiled.
pub struct Excludes {
    set: GlobSet,
}

impl Excludes {
    pub fn new(manifest: &Manifest) -> Excludes {
        let mut b = GlobSetBuilder::new();
        let defaults = if manifest.prune.defaults { DEFAULT_EXCLUDES } else { &[] };
        let patterns = defaults.iter().copied().chain(manifest.prune.exclude.iter().map(String::as_str));
        for pattern in patterns {
            // Validated when the manifest was parsed.
            if let Ok(glob) = globset::GlobBuilder::new(pattern).literal_separator(true).build() {
                b.add(glob);
            }
        }
        Excludes { set: b.build().expect("globs compiled one by one") }
    }

    /// Matches the path where a member lands on merged /usr, too: a
    /// package's `./lib/x86_64-linux-gnu/gconv/x` is `/usr/lib/…/gconv/x`.
    pub fn excludes(&self, path: &TreePath) -> bool {
        let path = path.to_string();
        self.set.is_match(&path) || crate::customize::usr_spelling(&path).is_some_and(|p| self.set.is_match(p))
    }

    /// A directory is a prune root when what would lie below it is excluded;
    /// such directories are removed once empty.
    fn prunes_below(&self, dir: &TreePath) -> bool {
        self.set.is_match(format!("{dir}/x"))
    }
}

/// A package's .deb read on a worker thread: control checked, data
/// decompressed (contents in memory or the spill store), not yet in a tree.
pub struct ReadPackage {
    control: Control,
    data: Unpacked,
}

/// What the cache calls a .deb's decompressed data member (see
/// [`read_package`]).
pub const DECODED_DATA: &str = "deb-data-tar";

/// Reads `file`, the verified .deb of `pkg`. With a `cache`, the data
/// member's decompressed tar is kept there the first time (a derived entry
/// of the .deb, [`DECODED_DATA`]) and read from there, verified, with no
/// decompression, by later builds: a rebuild decodes only the packages
/// that changed.
pub fn read_package(
    pkg: &LockedPackage,
    file: &Path,
    spill: &Spill,
    cache: Option<&Cache>,
) -> Result<ReadPackage, AssembleError> {
    let bytes = std::fs::read(file).map_err(|source| AssembleError::Read { path: file.to_owned(), source })?;
    let deb = Deb::parse(&bytes, Arc::from(pkg.name.as_str()))?;
    let control: Control = deb.control()?;
    let found = control.field("Package").unwrap_or_default();
    if found != pkg.name {
        return Err(AssembleError::WrongPackage { package: pkg.name.clone(), found: found.to_owned() });
    }
    let key = pkg.sha256.parse::<Sha256Hash>().ok();
    let (Some(cache), Some(key)) = (cache, key) else {
        return Ok(ReadPackage { control, data: deb.read_data(spill)? });
    };
    if let Some((path, _)) = cache.get_derived(DECODED_DATA, &key) {
        let tar = std::fs::File::open(&path).map_err(|source| AssembleError::Read { path: path.clone(), source })?;
        return Ok(ReadPackage { control, data: deb.read_data_from(&Arc::new(tar))? });
    }
    let data = match read_into_copy(&deb, cache, &key)? {
        Ok(data) => data,
        // The copy only saves later builds work: when it cannot be made (a
        // full disk, a read-only cache), the package is read as without one.
        Err(e) => {
            tracing::debug!(package = %pkg.name, error = %e, "decoded data not kept in the cache");
            deb.read_data(spill)?
        }
    };
    Ok(ReadPackage { control, data })
}

/// Reads the data member into a new decoded copy in `cache`, derived from
/// the .deb `key`; the inner error says why the copy could not be made.
fn read_into_copy(deb: &Deb<'_>, cache: &Cache, key: &Sha256Hash) -> Result<Result<Unpacked, String>, AssembleError> {
    let (mut copy, file) = match cache.derive().and_then(|copy| Ok((copy.reopen()?, copy))) {
        Ok((file, copy)) => (copy, Arc::new(file)),
        Err(e) => return Ok(Err(e.to_string())),
    };
    let data = match deb.read_data_into_copy(&mut copy, &file)? {
        Ok(data) => data,
        Err(e) => return Ok(Err(e.to_string())),
    };
    // Uncommitted, the file is still there for the blobs in `data` (this
    // process holds it open); the next build decodes the package again.
    if let Err(e) = copy.commit(DECODED_DATA, key) {
        tracing::debug!(error = %e, "decoded data not kept in the cache");
    }
    Ok(Ok(data))
}

/// Puts packages into a tree one by one, in the order the caller fixes,
/// and collects what the dpkg database and the SBOM need about each.
pub struct Applier<'a> {
    excludes: &'a Excludes,
    installed: Vec<InstalledPackage>,
    doc_links: Vec<Option<String>>,
}

impl<'a> Applier<'a> {
    pub fn new(excludes: &'a Excludes) -> Self {
        Applier { excludes, installed: Vec::new(), doc_links: Vec::new() }
    }

    /// Unpacks one read package into `tree`.
    pub fn apply(&mut self, tree: &mut Tree, pkg: &LockedPackage, read: ReadPackage) -> Result<(), AssembleError> {
        let ReadPackage { control, data } = read;
        // The copyright file is read for the SBOM as it streams by, whether
        // or not the image keeps it (the default excludes prune
        // /usr/share/doc).
        let doc = format!("usr/share/doc/{}", pkg.name);
        let (mut copyright, mut doc_link) = (None, None);
        let excludes = self.excludes;
        let mut keep = |path: &TreePath, kind: &Kind| {
            let at = path.as_str();
            match kind {
                Kind::File(blob) if at.strip_prefix(&doc) == Some("/copyright") => {
                    copyright = Some(String::from_utf8_lossy(&blob.bytes()).into_owned());
                }
                Kind::Symlink(target) if at == doc || at.strip_prefix(&doc) == Some("/copyright") => {
                    doc_link = linked_package(target);
                }
                _ => {}
            }
            !excludes.excludes(path)
        };
        let extracted = data.apply(tree, &mut keep)?;
        if copyright.is_none() {
            // A hardlink to a file the image kept.
            let at = TreePath::new(&format!("{doc}/copyright")).expect("package names are path-safe");
            copyright = tree.file(&at).map(|b| String::from_utf8_lossy(&b.bytes()).into_owned());
        }
        self.installed.push(InstalledPackage {
            name: pkg.name.clone(),
            architecture: pkg.architecture.clone(),
            control: control.paragraph,
            files: extracted.paths,
            md5sums: control.md5sums,
            license: copyright.as_deref().and_then(crate::sbom::declared_license),
        });
        self.doc_links.push(doc_link);
        Ok(())
    }

    /// After the last package: licenses through doc-directory links, and
    /// directories the excludes emptied removed.
    pub fn finish(mut self, tree: &mut Tree) -> Vec<InstalledPackage> {
        // A package whose doc directory links to another's (libgcc-s1 →
        // gcc-14-base) is covered by that package's copyright file.
        for (i, link) in self.doc_links.iter().enumerate() {
            if let (None, Some(other)) = (&self.installed[i].license, link) {
                let license = self.installed.iter().find(|p| &p.name == other).and_then(|p| p.license.clone());
                self.installed[i].license = license;
            }
        }
        remove_pruned_dirs(tree, self.excludes);
        self.installed
    }
}

/// The package a doc-directory or copyright symlink points into:
/// `gcc-14-base`, `../gcc-14-base/copyright` → `gcc-14-base`.
fn linked_package(target: &str) -> Option<String> {
    let dir = target.trim_end_matches('/');
    let dir = dir.strip_suffix("/copyright").unwrap_or(dir);
    dir.rsplit('/').next().filter(|n| !n.is_empty() && *n != "..").map(str::to_owned)
}

/// Removes empty directories that an exclude pattern emptied (e.g.
/// /usr/share/doc), deepest first.
fn remove_pruned_dirs(tree: &mut Tree, excludes: &Excludes) {
    let mut dirs: Vec<TreePath> =
        tree.iter().filter(|(p, e)| e.is_dir() && excludes.prunes_below(p)).map(|(p, _)| p.clone()).collect();
    dirs.sort_by_key(|p| std::cmp::Reverse(p.depth()));
    for dir in dirs {
        if tree.below(&dir).next().is_none() {
            tree.remove(&dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_excludes_match_docs_but_not_libs() {
        let ex = Excludes::new(&Manifest::default_base());
        let p = |s: &str| TreePath::new(s).unwrap();
        assert!(ex.excludes(&p("usr/share/doc/libc6/copyright")));
        assert!(ex.excludes(&p("usr/lib/x86_64-linux-gnu/gconv/UTF-16.so")));
        assert!(ex.excludes(&p("usr/lib/x86_64-linux-gnu/libmvec.so.1")));
        assert!(!ex.excludes(&p("usr/lib/x86_64-linux-gnu/libm.so.6")));
        assert!(ex.excludes(&p("lib/x86_64-linux-gnu/libmvec.so.1")), "merged-/usr spelling");
        assert!(!ex.excludes(&p("lib/x86_64-linux-gnu/libc.so.6")));
        assert!(!ex.excludes(&p("usr/share/doc")));
        assert!(ex.prunes_below(&p("usr/share/doc")));
        assert!(!ex.prunes_below(&p("usr/share")));
    }

    #[test]
    fn doc_links_name_the_package_whose_copyright_applies() {
        assert_eq!(linked_package("gcc-14-base").as_deref(), Some("gcc-14-base"));
        assert_eq!(linked_package("../libssl3t64/copyright").as_deref(), Some("libssl3t64"));
        assert_eq!(linked_package("/usr/share/doc/openssl/").as_deref(), Some("openssl"));
        assert_eq!(linked_package(".."), None);
    }
}
