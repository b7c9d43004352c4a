//! Fetch, read and apply packages at once.
//!
//! ```text
//! fetch workers ──verified path──▶ read workers (one per job) ──ReadPackage──▶ this thread
//!   (network)                       (decompress, spill)                        applies in plan order
//! ```
//!
//! A package is read as soon as its download is verified, while others are
//! still downloading, and several are decompressed at once; downloads start
//! largest first and readers take the largest download waiting, so that
//! the longest decompressions do not come last. The tree is
//! still built by one thread in the plan's order (packages sorted by name),
//! holding back packages that arrive early, so the image is the same
//! whatever the download order and the number of jobs.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Condvar, Mutex};

use microroot_fetch::{Cache, Download, Fetcher};
use microroot_tree::{Spill, Tree};

use crate::assemble::{self, Applier, AssembleError, Excludes, ReadPackage};
use crate::customize::InstalledPackage;
use crate::lock::LockedPackage;
use crate::BuildError;

/// How packages are unpacked.
pub struct Unpack<'a> {
    pub excludes: &'a Excludes,
    pub spill: &'a Spill,
    /// Packages decompressed at once.
    pub jobs: usize,
    /// Where decoded package data is kept and found (see
    /// [`assemble::read_package`]); `None` decodes every package.
    pub cache: Option<&'a Cache>,
}

/// One package's fate, as the read workers report it.
enum Outcome {
    Read(Box<ReadPackage>),
    Failed(AssembleError),
    /// Not downloaded: the fetch results say why.
    NotFetched,
}

/// Fetches `packages` (sorted by name, one download each) and unpacks them
/// into `tree` in that order. Fetch failures are reported together, as a
/// build without the pipeline would.
pub fn fetch_and_unpack(
    tree: &mut Tree,
    packages: &[LockedPackage],
    downloads: &[Download],
    fetcher: &Fetcher,
    unpack: &Unpack<'_>,
) -> Result<Vec<InstalledPackage>, BuildError> {
    let arrivals = Arrivals::default();
    let (read_tx, read_rx) = mpsc::channel::<(usize, Outcome)>();
    // Largest first: the longest decompressions start early instead of
    // running alone at the end. `queue[k]` is the plan index of download k.
    let mut queue: Vec<usize> = (0..packages.len()).collect();
    queue.sort_by_key(|&i| (Reverse(packages[i].size), i));
    let queued: Vec<Download> = queue.iter().map(|&i| downloads[i].clone()).collect();
    let (results, applied) = std::thread::scope(|scope| {
        let (queue, queued, arrivals) = (&queue, &queued, &arrivals);
        let fetch = scope.spawn(move || {
            let started = std::time::Instant::now();
            let _closed = arrivals.closer();
            let report = |k: usize, result: &microroot_fetch::Result<PathBuf>| {
                let i = queue[k];
                arrivals.push(packages[i].size, i, result.as_ref().ok().cloned());
            };
            let results = fetcher.fetch_each(queued, microroot_fetch::DEFAULT_PARALLELISM, &report);
            let bytes: u64 = queue.iter().map(|&i| packages[i].size).sum();
            tracing::info!(
                packages = queue.len(),
                bytes,
                seconds = started.elapsed().as_secs_f64(),
                "downloads verified"
            );
            // Back in plan order.
            let mut results: Vec<_> = queue.iter().copied().zip(results).collect();
            results.sort_by_key(|(i, _)| *i);
            results.into_iter().map(|(_, result)| result).collect::<Vec<_>>()
        });
        for _ in 0..unpack.jobs.max(1) {
            let read_tx = read_tx.clone();
            scope.spawn(move || read_worker(packages, arrivals, &read_tx, unpack.spill, unpack.cache));
        }
        drop(read_tx);
        let applied = apply_in_order(tree, packages, &read_rx, unpack.excludes);
        // On an error the workers see the receiver gone and stop reading.
        drop(read_rx);
        (fetch.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)), applied)
    });
    fetch_failures(packages, &results, fetcher)?;
    Ok(applied?)
}

/// All failed downloads of `packages` (one result each) as one error.
pub(crate) fn fetch_failures(
    packages: &[LockedPackage],
    results: &[microroot_fetch::Result<PathBuf>],
    fetcher: &Fetcher,
) -> Result<(), BuildError> {
    let failures: Vec<String> = packages
        .iter()
        .zip(results)
        .filter_map(|(pkg, r)| r.as_ref().err().map(|e| (pkg, e)))
        .map(|(pkg, e)| format!("{} {} ({}): {}", pkg.name, pkg.version, pkg.filename, e.summary()))
        .collect();
    if failures.is_empty() {
        return Ok(());
    }
    // Offline, the mirror was never asked: only the cache can be short.
    Err(if fetcher.is_offline() { BuildError::Offline(failures) } else { BuildError::Fetch(failures) })
}

/// Downloads verified and not yet taken by a reader, largest first (the
/// order they finish in, small files first, would leave the longest
/// decompressions for last).
#[derive(Default)]
struct Arrivals {
    state: Mutex<Waiting>,
    changed: Condvar,
}

/// Downloads by size (then plan order), each with its file (`None`: it
/// failed); and whether the fetch is over.
#[derive(Default)]
struct Waiting {
    ready: BinaryHeap<(u64, Reverse<usize>, Option<PathBuf>)>,
    closed: bool,
}

/// Marks [`Arrivals`] closed when dropped: no more downloads will come.
struct Closer<'a>(&'a Arrivals);

impl Drop for Closer<'_> {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.changed.notify_all();
    }
}

impl Arrivals {
    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn closer(&self) -> Closer<'_> {
        Closer(self)
    }

    /// Package `index` (of `size` bytes) is downloaded (`None`: failed).
    fn push(&self, size: u64, index: usize, path: Option<PathBuf>) {
        self.lock().ready.push((size, Reverse(index), path));
        self.changed.notify_one();
    }

    /// The largest arrival, waiting for one; `None` once closed and empty.
    fn take(&self) -> Option<(usize, Option<PathBuf>)> {
        let mut state = self.lock();
        loop {
            if let Some((_, Reverse(index), path)) = state.ready.pop() {
                return Some((index, path));
            }
            if state.closed {
                return None;
            }
            state = self.changed.wait(state).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }
}

/// Reads packages as their downloads finish, until the fetch is over or
/// nobody wants the results any more.
fn read_worker(
    packages: &[LockedPackage],
    arrivals: &Arrivals,
    out: &mpsc::Sender<(usize, Outcome)>,
    spill: &Spill,
    cache: Option<&Cache>,
) {
    loop {
        let Some((index, path)) = arrivals.take() else { return };
        let outcome = match path {
            Some(path) => match assemble::read_package(&packages[index], &path, spill, cache) {
                Ok(read) => Outcome::Read(Box::new(read)),
                Err(e) => Outcome::Failed(e),
            },
            None => Outcome::NotFetched,
        };
        if out.send((index, outcome)).is_err() {
            return;
        }
    }
}

/// Applies packages strictly in index order, holding back early arrivals.
/// Stops at the first package that failed or was not fetched.
fn apply_in_order(
    tree: &mut Tree,
    packages: &[LockedPackage],
    read: &mpsc::Receiver<(usize, Outcome)>,
    excludes: &Excludes,
) -> Result<Vec<InstalledPackage>, AssembleError> {
    let mut applier = Applier::new(excludes);
    let mut early = BTreeMap::new();
    let mut next = 0;
    while next < packages.len() {
        let outcome = match early.remove(&next) {
            Some(outcome) => outcome,
            None => match read.recv() {
                Ok((index, outcome)) if index == next => outcome,
                Ok((index, outcome)) => {
                    early.insert(index, outcome);
                    continue;
                }
                // Every worker is gone: the fetch ended early; its results
                // say what is missing.
                Err(_) => break,
            },
        };
        match outcome {
            Outcome::Read(package) => applier.apply(tree, &packages[next], *package)?,
            Outcome::Failed(e) => return Err(e),
            Outcome::NotFetched => break,
        }
        next += 1;
    }
    Ok(applier.finish(tree))
}
