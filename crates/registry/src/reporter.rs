//! Progress events; the CLI draws them, the library only reports.

use crate::digest::Digest;

/// Receives progress and retry events from a [`crate::Client`]. Every
/// method has an empty default, so implement only what you show.
pub trait Reporter: Send + Sync {
    /// `done` of `total` bytes of blob `digest` have been transferred.
    fn blob_progress(&self, digest: &Digest, done: u64, total: u64) {
        let _ = (digest, done, total);
    }

    /// Attempt number `attempt` of `what` starts after `reason`.
    fn retry(&self, what: &str, attempt: u32, reason: &str) {
        let _ = (what, attempt, reason);
    }
}

/// A [`Reporter`] that ignores everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopReporter;

impl Reporter for NoopReporter {}
