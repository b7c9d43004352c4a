//! One build, start to end: manifest → plan (lockfile) → verified .debs →
//! tree → customize → outputs. Outputs are written into a staging directory
//! inside the output directory and renamed into place only when all of them
//! succeeded, so a failed build leaves nothing behind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use microroot_fetch::{Cache, Download, Expected, FetchOptions, Fetcher};
use microroot_tree::{Spill, Tree};

use crate::assemble::Excludes;
use crate::customize::{self, InstalledPackage, OsInfo};
use crate::lock::{lock_path, LockedPackage, Lockfile};
use crate::manifest::Manifest;
use crate::report::{sizes_by_owner, BuildReport};
use crate::{pipeline, source, BuildError, Progress};

/// What to build and how.
#[derive(Clone)]
pub struct BuildOptions {
    /// `None` builds the embedded base image.
    pub manifest: Option<PathBuf>,
    pub out_dir: PathBuf,
    pub arch: Option<String>,
    /// Build exactly the lockfile beside the manifest, or fail.
    pub locked: bool,
    /// Use only the cache.
    pub offline: bool,
    pub cache_dir: Option<PathBuf>,
    /// `SOURCE_DATE_EPOCH`, when the caller's environment sets it.
    pub source_date_epoch: Option<i64>,
    /// Registries that base images may be pulled from over plain HTTP.
    pub insecure: Vec<String>,
    /// Threads and memory the build may use.
    pub resources: Resources,
    pub progress: Arc<dyn Progress>,
}

/// Threads and memory a build may use. Neither changes a byte of the
/// outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resources {
    /// Packages decompressed at once; 0 means one per core.
    pub jobs: usize,
    /// Bytes of file content kept in memory; beyond it, contents go to a
    /// spill file in the cache directory.
    pub memory_budget: u64,
    /// Keep each .deb's decoded data in the cache (about 3–4× the .deb's
    /// size on disk), so that later builds read packages without
    /// decompressing them and leave their contents there.
    pub keep_decoded: bool,
}

impl Default for Resources {
    fn default() -> Self {
        Resources { jobs: 0, memory_budget: DEFAULT_MEMORY_BUDGET, keep_decoded: true }
    }
}

/// File content held in memory by default: the base image fits many times
/// over, and a multi-gigabyte image stays within a small CI runner.
pub const DEFAULT_MEMORY_BUDGET: u64 = 64 << 20;

impl Resources {
    /// [`Resources::jobs`] with 0 resolved to the number of cores.
    pub fn threads(&self) -> usize {
        match self.jobs {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        }
    }
}

/// A manifest loaded, with what relative paths in it resolve against.
pub struct Loaded {
    pub manifest: Manifest,
    pub path: Option<PathBuf>,
    pub base_dir: PathBuf,
}

pub fn load(manifest: Option<&Path>, arch: Option<&str>) -> Result<Loaded, BuildError> {
    let (mut m, path) = match manifest {
        Some(p) => (Manifest::load(p)?, Some(p.to_owned())),
        None => (Manifest::default_base(), None),
    };
    if let Some(arch) = arch {
        m.image.arch = arch.to_owned();
        crate::validate::validate(&m, path.as_deref().unwrap_or(Path::new("--arch")))?;
    }
    let base_dir = path.as_deref().and_then(Path::parent).map(Path::to_owned).unwrap_or_else(|| PathBuf::from("."));
    // Host paths in a manifest are relative to the manifest, not the cwd.
    if let Some(keyring) = m.source.keyring.as_mut().filter(|k| k.is_relative()) {
        *keyring = base_dir.join(&*keyring);
    }
    Ok(Loaded { manifest: m, path, base_dir })
}

pub fn fetcher(opts: &BuildOptions) -> Result<Fetcher, BuildError> {
    // Re-hash on every read: a corrupted entry is deleted and fetched again.
    let cache = Cache::open(opts.cache_dir.as_deref())?.verify_on_read(true);
    let options = FetchOptions { offline: opts.offline, ..FetchOptions::default() };
    let reporter: Arc<dyn microroot_fetch::Reporter> = opts.progress.clone();
    Ok(Fetcher::new(cache, options).with_reporter(reporter))
}

/// The plan: the lockfile beside the manifest when it is current, else a
/// fresh resolution. `--locked` insists on the former.
pub fn plan(loaded: &Loaded, opts: &BuildOptions, fetcher: &Fetcher) -> Result<Lockfile, BuildError> {
    let lock_file = loaded.path.as_deref().map(lock_path);
    if let Some(path) = &lock_file {
        match Lockfile::read(path) {
            Ok(lock) => match lock.check_fresh(&loaded.manifest, path) {
                Ok(()) => return Ok(lock),
                Err(e) if opts.locked => return Err(e.into()),
                Err(_) => tracing::warn!("{} is out of date; resolving afresh (run `microroot lock`)", path.display()),
            },
            Err(e) if opts.locked => return Err(e.into()),
            Err(_) => {}
        }
    } else if opts.locked {
        return Err(BuildError::LockedWithoutManifest);
    }
    resolve(loaded, opts, fetcher)
}

/// A fresh answer from the suite (or the plan cache for its state).
fn resolve(loaded: &Loaded, opts: &BuildOptions, fetcher: &Fetcher) -> Result<Lockfile, BuildError> {
    let lock = resolve_in_suite(loaded, opts, fetcher);
    // The suite's index (some 150 MB parsed, on every core) is gone: give
    // its pages back before the unpack workers allocate in other arenas.
    release_freed_memory();
    lock
}

/// Returns the allocator's free pages to the system (glibc keeps freed
/// memory of each thread's arena until told).
#[allow(unsafe_code)]
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn resolve_in_suite(loaded: &Loaded, opts: &BuildOptions, fetcher: &Fetcher) -> Result<Lockfile, BuildError> {
    opts.progress.phase("resolve", &format!("{} ({})", loaded.manifest.source.suite, loaded.manifest.image.arch));
    let suite = source::open_suite(&loaded.manifest, fetcher, SystemTime::now())?;
    let Some(reference) = &loaded.manifest.base else {
        return Ok(source::resolve(&loaded.manifest, &suite, fetcher, None)?);
    };
    // The packages go on top of what the base has installed.
    opts.progress.phase("base", reference);
    let access = registry_access(opts);
    let locked = crate::base::pin(&loaded.manifest, &loaded.base_dir, &access)?.expect("the manifest names a base");
    let status = || {
        let mut tree = Tree::new();
        let cache = fetcher.cache().root();
        crate::base::apply(&mut tree, &loaded.manifest, &loaded.base_dir, &locked, cache, &access)?;
        Ok(crate::base::dpkg_status(&tree))
    };
    let base = source::BaseStatus { reference, config: &locked.config, status: &status };
    let mut lock = source::resolve(&loaded.manifest, &suite, fetcher, Some(&base))?;
    lock.base = Some(locked);
    Ok(lock)
}

fn registry_access(opts: &BuildOptions) -> crate::base::RegistryAccess {
    crate::base::RegistryAccess { insecure: opts.insecure.clone() }
}

/// The downloads of `packages`, one per package, from each mirror in turn.
fn downloads(packages: &[LockedPackage], mirrors: &[String]) -> Result<Vec<Download>, BuildError> {
    packages
        .iter()
        .map(|p| {
            let urls = mirrors.iter().map(|m| format!("{m}/{}", p.filename)).collect();
            let expected =
                Expected::parse(&p.sha256, p.size).map_err(|e| BuildError::BadLock(format!("{}: {e}", p.name)))?;
            Ok(Download::new(urls, expected))
        })
        .collect()
}

/// Fetches .debs (verified, in parallel), in the order given.
fn fetch_debs(
    packages: &[LockedPackage],
    mirrors: &[String],
    fetcher: &Fetcher,
) -> Result<Vec<(LockedPackage, PathBuf)>, BuildError> {
    let results = fetcher.fetch_many(&downloads(packages, mirrors)?, microroot_fetch::DEFAULT_PARALLELISM);
    pipeline::fetch_failures(packages, &results, fetcher)?;
    Ok(packages.iter().cloned().zip(results.into_iter().flatten()).collect())
}

/// Fetches and unpacks the plan's packages onto `base` (or an empty tree)
/// and customizes: the image's final tree, and the packages as unpacked
/// (for the SBOM).
fn assemble_tree(
    loaded: &Loaded,
    opts: &BuildOptions,
    fetcher: &Fetcher,
    lock: &Lockfile,
    base: Option<Tree>,
) -> Result<(Tree, Vec<InstalledPackage>), BuildError> {
    let m = &loaded.manifest;
    let has_base = base.is_some();
    let mut tree = base.unwrap_or_default();
    let saved = crate::base::save(&tree);
    // A base brings its own /bin (a merged-/usr link or not).
    if tree.get(&microroot_tree::TreePath::new("bin").expect("static path")).is_none() {
        customize::merged_usr(&mut tree, &m.image.arch);
    }
    let mut packages = lock.packages.clone();
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    let downloads = downloads(&packages, &source::mirrors(m)?)?;
    let jobs = opts.resources.threads();
    opts.progress.phase("fetch", &format!("{} packages, unpacked on {jobs} threads as they arrive", packages.len()));
    let spill = Spill::new(fetcher.cache().root(), opts.resources.memory_budget);
    let keep = opts.resources.keep_decoded.then(|| fetcher.cache());
    let unpack = pipeline::Unpack { excludes: &Excludes::new(m), spill: &spill, jobs, cache: keep };
    let installed = pipeline::fetch_and_unpack(&mut tree, &packages, &downloads, fetcher, &unpack)?;
    if spill.spilled() > 0 {
        tracing::info!(
            in_memory = spill.in_memory(),
            spilled = spill.spilled(),
            "file contents beyond the memory budget were spilled"
        );
    }
    opts.progress.phase("assemble", &format!("{} packages", installed.len()));
    customize::base_layout(&mut tree)?;
    customize::busybox::link_applets(&mut tree);
    customize::ca_certificates(&mut tree)?;
    customize::accounts(&mut tree, m)?;
    let os = OsInfo { version: lock.source.version.clone(), codename: lock.source.codename.clone() };
    customize::etc_basics(&mut tree, m, &os)?;
    customize::extra_entries(&mut tree, m, &loaded.base_dir)?;
    customize::dpkg_database(&mut tree, &installed)?;
    if has_base {
        crate::base::merge(&mut tree, &saved);
    }
    stamp(&mut tree, epoch(m, opts, lock));
    Ok((tree, installed))
}

/// Generated entries get the epoch as mtime; package files keep theirs,
/// clamped to it.
fn stamp(tree: &mut Tree, epoch: i64) {
    for (_, e) in tree.iter_mut() {
        let generated = e.owner.as_deref().is_none_or(|o| o == customize::GENERATED || o == customize::FROM_MANIFEST);
        if generated {
            e.meta.mtime = epoch;
        }
    }
    tree.clamp_mtimes(epoch);
}

/// The output epoch: manifest, then SOURCE_DATE_EPOCH, then the suite date.
pub fn epoch(m: &Manifest, opts: &BuildOptions, lock: &Lockfile) -> i64 {
    m.image.epoch.or(opts.source_date_epoch).unwrap_or(lock.source.date_epoch)
}

/// The whole build.
pub fn build(opts: &BuildOptions) -> Result<BuildReport, BuildError> {
    let loaded = load(opts.manifest.as_deref(), opts.arch.as_deref())?;
    let fetcher = fetcher(opts)?;
    // The guess below works from the cache only: nothing is downloaded for
    // a plan that has not been verified yet.
    let offline = Fetcher::new(fetcher.cache().clone(), FetchOptions { offline: true, ..FetchOptions::default() });
    let guess = guessed_plan(&loaded, opts, &fetcher);
    let up_to_date = |lock: &Lockfile| {
        crate::uptodate::fingerprint(&loaded, opts, lock).and_then(|f| crate::uptodate::current(&opts.out_dir, &f))
    };
    // Outputs already made from the likely plan: only confirm the plan.
    let mut known = None;
    match &guess {
        Some(g) if up_to_date(g).is_some() => {
            let lock = plan(&loaded, opts, &fetcher)?;
            if &lock == g {
                return Ok(up_to_date(g).expect("checked above"));
            }
            known = Some(lock);
        }
        Some(_) => {}
        None => {
            let lock = plan(&loaded, opts, &fetcher)?;
            if let Some(report) = up_to_date(&lock) {
                return Ok(report);
            }
            known = Some(lock);
        }
    }
    let (lock, (tree, installed), kernel) = std::thread::scope(|scope| -> Result<_, BuildError> {
        // While the suite's InRelease is fetched and verified, unpack the
        // plan cached for the one verified last time. The suite rarely
        // changes between builds, and the work is kept only when the
        // verified plan turns out identical, so the result cannot differ.
        let guess = guess.filter(|_| known.is_none()).map(|guess| {
            let (loaded, offline) = (&loaded, &offline);
            scope.spawn(move || {
                let tree = prepare(loaded, opts, offline, &guess);
                (guess, tree)
            })
        });
        let lock = match known {
            Some(lock) => lock,
            None => plan(&loaded, opts, &fetcher)?,
        };
        // The kernel (fetch, unpack, vmlinux) is independent of the tree.
        let kernel = {
            let (loaded, fetcher, lock) = (&loaded, &fetcher, lock.clone());
            scope.spawn(move || kernel_input(loaded, opts, fetcher, &lock))
        };
        let join_kernel = |handle: std::thread::ScopedJoinHandle<'_, _>| -> Result<_, BuildError> {
            handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        };
        if let Some(Ok((guess, Ok(assembled)))) = guess.map(|handle| handle.join()) {
            if guess == lock {
                let kernel = join_kernel(kernel)?;
                return Ok((lock, assembled, kernel));
            }
            tracing::debug!("the suite changed since the last build; unpacking again");
        }
        let assembled = prepare(&loaded, opts, &fetcher, &lock)?;
        let kernel = join_kernel(kernel)?;
        Ok((lock, assembled, kernel))
    })?;
    let epoch = epoch(&loaded.manifest, opts, &lock);
    let mut tree = tree;
    let boot = crate::boot::prepare(&mut tree, &loaded.manifest, &loaded.base_dir, kernel)?;
    stamp(&mut tree, epoch);
    // OCI layers of a big tree go to disk past the budget, as its files did.
    let spill = Spill::new(fetcher.cache().root(), opts.resources.memory_budget);
    let outputs = crate::outputs::write_all(
        &tree,
        &loaded.manifest,
        &opts.out_dir,
        opts.progress.as_ref(),
        boot.as_ref(),
        crate::outputs::WriteOptions { epoch, threads: opts.resources.threads(), spill: &spill },
        &crate::sbom::Inputs { lock: &lock, packages: &installed },
    )?;
    let versions: BTreeMap<String, String> =
        lock.packages.iter().map(|p| (p.name.clone(), p.version.clone())).collect();
    let report = BuildReport {
        image: loaded.manifest.image.name.clone(),
        suite: lock.source.suite.clone(),
        codename: lock.source.codename.clone(),
        arch: loaded.manifest.image.arch.clone(),
        epoch,
        packages: sizes_by_owner(&tree, &versions),
        entries: tree.len(),
        content_bytes: tree.content_size(),
        outputs,
        up_to_date: false,
    };
    if let Some(fingerprint) = crate::uptodate::fingerprint(&loaded, opts, &lock) {
        crate::uptodate::record(&opts.out_dir, &fingerprint, &report);
    }
    Ok(report)
}

/// The VM kernel: fetched (verified like every .deb) and unpacked.
fn kernel_input(
    loaded: &Loaded,
    opts: &BuildOptions,
    fetcher: &Fetcher,
    lock: &Lockfile,
) -> Result<Option<crate::boot::KernelInput>, BuildError> {
    let m = &loaded.manifest;
    let kernel_deb = match (m.kernel_package(), &lock.kernel) {
        (Some(_), Some(kernel)) => {
            opts.progress.phase("kernel", &format!("{} {}", kernel.name, kernel.version));
            let mirrors = source::mirrors(m)?;
            let mut fetched = fetch_debs(std::slice::from_ref(kernel), &mirrors, fetcher)?;
            Some(fetched.remove(0))
        }
        (Some(_), None) => return Err(crate::boot::PrepareError::NoLockedKernel.into()),
        (None, _) => None,
    };
    let deb = kernel_deb.as_ref().map(|(p, path)| (p.name.as_str(), path.as_path()));
    Ok(crate::boot::load_kernel(m, &loaded.base_dir, deb)?)
}

/// The plan [`plan`] will most likely return, when it has to resolve (no
/// current lockfile): the one cached for the last verified InRelease.
fn guessed_plan(loaded: &Loaded, opts: &BuildOptions, fetcher: &Fetcher) -> Option<Lockfile> {
    let has_lock = loaded.path.as_deref().map(lock_path).is_some_and(|p| p.exists());
    if opts.locked || has_lock {
        return None;
    }
    source::cached_plan(&loaded.manifest, fetcher)
}

/// Fetches the plan's packages and builds the final tree.
fn prepare(
    loaded: &Loaded,
    opts: &BuildOptions,
    fetcher: &Fetcher,
    lock: &Lockfile,
) -> Result<(Tree, Vec<InstalledPackage>), BuildError> {
    let base = match &lock.base {
        Some(locked) => {
            opts.progress.phase("base", &format!("{} ({})", locked.reference, locked.digest));
            let mut tree = Tree::new();
            let access = registry_access(opts);
            crate::base::apply(&mut tree, &loaded.manifest, &loaded.base_dir, locked, fetcher.cache().root(), &access)?;
            Some(tree)
        }
        None => None,
    };
    assemble_tree(loaded, opts, fetcher, lock, base)
}

/// Resolves and writes the lockfile beside the manifest.
pub fn lock(opts: &BuildOptions) -> Result<(PathBuf, Lockfile), BuildError> {
    let loaded = load(opts.manifest.as_deref(), opts.arch.as_deref())?;
    let path = loaded.path.as_deref().map(lock_path).ok_or(BuildError::LockedWithoutManifest)?;
    let fetcher = fetcher(opts)?;
    let lock = resolve(&loaded, opts, &fetcher)?;
    lock.write(&path)?;
    Ok((path, lock))
}
