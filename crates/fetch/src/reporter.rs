//! Progress events. The CLI turns them into bars; libraries only emit them.

use crate::error::Error;

/// Receives progress events; called from worker threads, hence `Send + Sync`.
///
/// Every method has an empty default, so an implementation picks the events
/// it cares about. `name` is the file name a download is known by (the last
/// segment of its first URL, or the URL itself for [`crate::Fetcher::get_bytes`]).
pub trait Reporter: Send + Sync {
    /// A download from the network begins; `total_bytes` if known.
    fn download_start(&self, name: &str, total_bytes: Option<u64>) {
        let _ = (name, total_bytes);
    }

    /// `bytes` received so far in the current attempt (restarts at zero
    /// after [`Reporter::retry`] or a move to the next mirror).
    fn download_progress(&self, name: &str, bytes: u64) {
        let _ = (name, bytes);
    }

    /// The file is available and verified.
    fn download_done(&self, name: &str, from_cache: bool) {
        let _ = (name, from_cache);
    }

    /// The download failed for good.
    fn download_failed(&self, name: &str, error: &Error) {
        let _ = (name, error);
    }

    /// A transient failure; `attempt` is the number of the attempt about to
    /// start (2 for the first retry).
    fn retry(&self, name: &str, attempt: u32, reason: &str) {
        let _ = (name, attempt, reason);
    }
}

/// Ignores every event.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopReporter;

impl Reporter for NoopReporter {}
