//! Many downloads on a bounded pool of scoped threads.
//!
//! Workers take the next item from a shared counter. After the first hard
//! error a stop flag is raised: items not yet started and downloads in
//! flight (checked between chunks and during retry waits) end as
//! [`Error::Cancelled`], so a batch fails within about one chunk's time.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;

use tracing::debug;

use crate::digest::Expected;
use crate::error::{Error, Result};
use crate::file_name;
use crate::http::{cancelled, Fetcher};

/// Default number of parallel downloads.
pub const DEFAULT_PARALLELISM: usize = 8;

/// One file to fetch: where from, and what it must be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Download {
    /// Name for progress and errors.
    pub name: String,
    /// Mirror URLs, tried in order.
    pub urls: Vec<String>,
    /// Hash and size the file must have.
    pub expected: Expected,
}

impl Download {
    /// Named after the last path segment of the first URL.
    pub fn new(urls: Vec<String>, expected: Expected) -> Self {
        let name = urls.first().map_or_else(|| expected.sha256.to_hex(), |u| file_name(u));
        Self { name, urls, expected }
    }
}

impl Fetcher {
    /// Fetches every item with at most `parallelism` downloads at once
    /// (0 means [`DEFAULT_PARALLELISM`]); results are in item order. After
    /// the first failure the rest stop promptly with [`Error::Cancelled`],
    /// except offline, where every item gets its own answer from the cache.
    pub fn fetch_many(&self, items: &[Download], parallelism: usize) -> Vec<Result<PathBuf>> {
        self.fetch_each(items, parallelism, &|_, _| {})
    }

    /// [`Fetcher::fetch_many`], calling `done` with each item's index and
    /// result as soon as it is known (on the worker's thread, in completion
    /// order), so a caller can start on a file while others download.
    pub fn fetch_each(
        &self,
        items: &[Download],
        parallelism: usize,
        done: &(dyn Fn(usize, &Result<PathBuf>) + Sync),
    ) -> Vec<Result<PathBuf>> {
        let workers = match parallelism {
            0 => DEFAULT_PARALLELISM,
            n => n,
        }
        .min(items.len());
        let next = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let mut slots: Vec<Option<Result<PathBuf>>> = items.iter().map(|_| None).collect();
        debug!(items = items.len(), workers, "fetching in parallel");
        thread::scope(|scope| {
            let handles: Vec<_> =
                (0..workers).map(|_| scope.spawn(|| self.worker(items, &next, &stop, done))).collect();
            for handle in handles {
                let done = handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                for (index, result) in done {
                    slots[index] = Some(result);
                }
            }
        });
        slots.into_iter().map(|slot| slot.expect("every index is taken by exactly one worker")).collect()
    }

    fn worker(
        &self,
        items: &[Download],
        next: &AtomicUsize,
        stop: &AtomicBool,
        report: &(dyn Fn(usize, &Result<PathBuf>) + Sync),
    ) -> Vec<(usize, Result<PathBuf>)> {
        let mut done = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(index) else {
                return done;
            };
            let result = if stop.load(Ordering::Relaxed) {
                Err(cancelled(&item.name))
            } else {
                let urls: Vec<&str> = item.urls.iter().map(String::as_str).collect();
                self.fetch_one(&item.name, &urls, &item.expected, Some(stop))
            };
            // Offline, each item is only a look in the cache: all are
            // looked at, so that the error names everything missing.
            if !self.is_offline() && matches!(&result, Err(e) if !matches!(e, Error::Cancelled { .. })) {
                stop.store(true, Ordering::Relaxed);
            }
            report(index, &result);
            done.push((index, result));
        }
    }
}
