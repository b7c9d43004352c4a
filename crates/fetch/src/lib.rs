//! Verified downloads into a content-addressed cache.
//!
//! Data flow: a caller names a file by its [`Expected`] sha256 and size plus
//! one or more mirror URLs. The [`Fetcher`] first asks the [`Cache`]; on a
//! miss it streams each URL in turn into a temp file beside the final entry,
//! hashing as it goes, and the cache renames the temp file into place only
//! once sha256 and size match. Transient failures are retried under a
//! [`RetryPolicy`]; a mismatch or a 404 moves on to the next URL.
//! [`Fetcher::fetch_many`] runs the same path on a bounded pool of threads.
//! Progress goes to a [`Reporter`]; nothing here draws bars or parses formats.
//!
//! All threads of a fetcher share one HTTP agent: its [`CachingResolver`]
//! resolves each mirror host once, however many workers ask at the same
//! moment, and its pool keeps an idle keep-alive connection for every
//! worker ([`MAX_IDLE_PER_HOST`]), so a batch of downloads costs one name
//! lookup and a handful of connections, not one of each per file.
//!
//! Files that are signed rather than known by hash (`InRelease`) come in
//! through [`Fetcher::get_bytes`]; once the caller has checked the
//! signature it may keep a copy with [`Cache::store_by_url`] so that offline
//! builds can reuse it (and check it again).
//!
//! Fail closed: no byte from the network leaves this crate unless it matched
//! the expected hash, whether it came from the cache, a retry or a fallback
//! mirror. The only exception is [`Fetcher::get_bytes`], whose caller must
//! verify what it gets.

mod cache;
mod derived;
mod digest;
mod error;
mod fetcher;
mod http;
mod parallel;
mod reporter;
mod resolver;
mod retry;
mod staging;

pub use cache::{Cache, CACHE_DIR_ENV};
pub use derived::Derived;
pub use digest::{Expected, Hasher, InvalidDigest, Sha256Hash};
pub use error::{Error, Result};
pub use http::{FetchOptions, Fetcher};
pub use parallel::{Download, DEFAULT_PARALLELISM};
pub use reporter::{NoopReporter, Reporter};
pub use resolver::{CachingResolver, Lookup, SystemLookup, MAX_IDLE_PER_HOST};
pub use retry::{is_transient, is_transient_status, parse_retry_after_seconds, RetryPolicy};

/// A short display name for a URL: its last path segment.
pub(crate) fn file_name(url: &str) -> String {
    let no_query = url.split(['?', '#']).next().unwrap_or(url);
    let after_scheme = no_query.split_once("://").map_or(no_query, |(_, rest)| rest);
    let path = after_scheme.split_once('/').map_or("", |(_, path)| path);
    match path.trim_end_matches('/').rsplit('/').next() {
        Some(last) if !last.is_empty() => last.to_string(),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::file_name;

    #[test]
    fn file_name_is_last_segment() {
        assert_eq!(file_name("http://m/debian/pool/a/b_1_all.deb"), "b_1_all.deb");
        assert_eq!(file_name("http://m/x/InRelease?y=1"), "InRelease");
        assert_eq!(file_name("http://m"), "http://m");
    }
}
