//! The [`Fetcher`], its options, and one HTTP attempt with its retry loop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tracing::{debug, warn};
use ureq::http::Response;
use ureq::Body;

use crate::cache::Cache;
use crate::error::Error;
use crate::reporter::{NoopReporter, Reporter};
use crate::resolver::CachingResolver;
use crate::retry::{self, RetryPolicy};

/// How a [`Fetcher`] talks to mirrors.
#[derive(Clone, Debug)]
pub struct FetchOptions {
    /// Budget for name lookup, and again for TCP and TLS setup.
    pub connect_timeout: Duration,
    /// Longest a single read may stall, headers or body.
    pub read_timeout: Duration,
    /// Retries of transient failures, per URL.
    pub retry: RetryPolicy,
    /// Serve only from the cache; a miss is [`Error::Offline`].
    pub offline: bool,
    /// Largest body [`Fetcher::get_bytes`] will hold in memory.
    pub max_bytes_in_memory: u64,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            offline: false,
            max_bytes_in_memory: 64 << 20,
            user_agent: concat!("microroot/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

/// Downloads files into a [`Cache`], verifying every byte.
pub struct Fetcher {
    pub(crate) agent: ureq::Agent,
    pub(crate) cache: Cache,
    pub(crate) options: FetchOptions,
    pub(crate) reporter: Arc<dyn Reporter>,
}

impl Fetcher {
    /// A fetcher over `cache`, reporting to a [`NoopReporter`].
    pub fn new(cache: Cache, options: FetchOptions) -> Self {
        let agent = agent(&options, &CachingResolver::default());
        Self { agent, cache, options, reporter: Arc::new(NoopReporter) }
    }

    /// Resolves host names through `resolver` (for example one shared with
    /// another client) instead of a fresh one. Call before fetching: the
    /// agent and its idle connections are replaced.
    pub fn with_resolver(mut self, resolver: &CachingResolver) -> Self {
        self.agent = agent(&self.options, resolver);
        self
    }

    /// Sends progress events to `reporter`.
    pub fn with_reporter(mut self, reporter: Arc<dyn Reporter>) -> Self {
        self.reporter = reporter;
        self
    }

    /// The cache this fetcher fills.
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// Whether only the cache is used.
    pub fn is_offline(&self) -> bool {
        self.options.offline
    }

    /// Sends a GET; a non-200 status or transport failure is classified.
    pub(crate) fn request(&self, url: &str) -> Result<Response<Body>, Attempt> {
        debug!(url, "GET");
        let response = self.agent.get(url).call().map_err(|e| network(url, e, ""))?;
        let status = response.status().as_u16();
        if status == 200 {
            return Ok(response);
        }
        let error = Error::Http { url: url.to_string(), status };
        if !retry::is_transient_status(status) {
            return Err(Attempt::NextUrl(error));
        }
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(retry::parse_retry_after_seconds);
        Err(Attempt::Retry { error, retry_after })
    }

    /// Runs `attempt` until it succeeds, fails for good, or the policy's
    /// attempts for this URL are used up.
    pub(crate) fn with_retries<T>(
        &self,
        name: &str,
        url: &str,
        stop: Option<&AtomicBool>,
        mut attempt: impl FnMut() -> Result<T, Attempt>,
    ) -> Result<T, Attempt> {
        let policy = &self.options.retry;
        let mut number = 1;
        loop {
            if stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
                return Err(Attempt::Fatal(cancelled(name)));
            }
            match attempt() {
                Err(Attempt::Retry { error, retry_after }) if number < policy.max_attempts => {
                    let wait = policy.delay(number, url, retry_after);
                    number += 1;
                    warn!(url, attempt = number, ?wait, "retrying: {}", error.summary());
                    self.reporter.retry(name, number, &error.summary());
                    if !retry::sleep_unless(stop, wait) {
                        return Err(Attempt::Fatal(cancelled(name)));
                    }
                }
                other => return other,
            }
        }
    }
}

/// One agent per fetcher: its pool and resolver are what let parallel
/// workers share connections and name lookups.
fn agent(options: &FetchOptions, resolver: &CachingResolver) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_per_read(Some(options.read_timeout))
        .user_agent(options.user_agent.as_str());
    resolver.agent(config, options.connect_timeout)
}

/// How one attempt failed, which decides what happens next.
pub(crate) enum Attempt {
    /// Transient: try the same URL again after a wait.
    Retry { error: Error, retry_after: Option<Duration> },
    /// This URL will not work (404, wrong content): try the next one.
    NextUrl(Error),
    /// Local or final (disk full, cancelled): stop trying.
    Fatal(Error),
}

impl Attempt {
    pub(crate) fn into_error(self) -> Error {
        match self {
            Self::Retry { error, .. } | Self::NextUrl(error) | Self::Fatal(error) => error,
        }
    }
}

pub(crate) fn cancelled(name: &str) -> Error {
    Error::Cancelled { name: name.to_string() }
}

/// Classifies a transport error; `detail` is appended to its reason.
pub(crate) fn network(url: &str, error: ureq::Error, detail: &str) -> Attempt {
    let transient = retry::is_transient(&error);
    let error = Error::Network { url: url.to_string(), reason: format!("{error}{detail}") };
    if transient {
        Attempt::Retry { error, retry_after: None }
    } else {
        Attempt::NextUrl(error)
    }
}
