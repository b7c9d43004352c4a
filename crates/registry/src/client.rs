//! The [`Client`], its options, the insecure-registry policy and the retry
//! loop every operation runs in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use microroot_fetch::CachingResolver;
use tracing::warn;

use crate::auth::RegistryAuth;
use crate::credentials::{normalize_registry, Credentials};
use crate::error::{Error, Result};
use crate::reference::Repository;
use crate::reporter::{NoopReporter, Reporter};
use crate::retry::RetryPolicy;

/// Default size of each `PATCH` of a chunked blob upload.
pub const DEFAULT_CHUNK_SIZE: usize = 8 << 20;

/// How a [`Client`] talks to registries.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Registries (`host[:port]`; a bare host matches any port) spoken to
    /// over plain HTTP. Every other registry is HTTPS only, including for
    /// redirects, upload locations and token realms.
    pub insecure: Vec<String>,
    /// Logins per registry; see [`Credentials::from_environment`].
    pub credentials: Credentials,
    /// Retries of transient failures, per operation.
    pub retry: RetryPolicy,
    /// Bytes per `PATCH` of a chunked upload; blobs no larger than this go
    /// up in one `PUT`. Raised to the registry's `OCI-Chunk-Min-Length`.
    pub chunk_size: usize,
    /// Budget for name lookup, and again for TCP and TLS setup.
    pub connect_timeout: Duration,
    /// Longest a single read may stall, headers or body.
    pub read_timeout: Duration,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            insecure: Vec::new(),
            credentials: Credentials::new(),
            retry: RetryPolicy::default(),
            chunk_size: DEFAULT_CHUNK_SIZE,
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(60),
            user_agent: concat!("microroot/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

/// A registry client: pulls and pushes manifests and blobs, handling
/// auth challenges, tokens, retries and digest checks. Cheap to share
/// across threads (`&Client` is `Sync`); tokens are cached per scope.
pub struct Client {
    pub(crate) secure: ureq::Agent,
    pub(crate) plain: ureq::Agent,
    pub(crate) options: ClientOptions,
    pub(crate) auth: Mutex<HashMap<String, RegistryAuth>>,
    pub(crate) reporter: Arc<dyn Reporter>,
}

impl Client {
    /// A client with `options`, reporting to a [`NoopReporter`].
    pub fn new(options: ClientOptions) -> Self {
        let resolver = CachingResolver::default();
        Self {
            secure: agent(&options, &resolver, true),
            plain: agent(&options, &resolver, false),
            options,
            auth: Mutex::new(HashMap::new()),
            reporter: Arc::new(NoopReporter),
        }
    }

    /// Resolves host names through `resolver` (for example the one a
    /// [`microroot_fetch::Fetcher`] uses) instead of a fresh one. Call
    /// before any request: both agents and their idle connections are
    /// replaced.
    pub fn with_resolver(mut self, resolver: &CachingResolver) -> Self {
        self.secure = agent(&self.options, resolver, true);
        self.plain = agent(&self.options, resolver, false);
        self
    }

    /// Sends progress and retry events to `reporter`.
    pub fn with_reporter(mut self, reporter: Arc<dyn Reporter>) -> Self {
        self.reporter = reporter;
        self
    }

    /// The options this client was made with.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// Whether `host_port` (a registry or any URL authority) may be spoken
    /// to over plain HTTP.
    pub fn is_insecure(&self, host_port: &str) -> bool {
        let wanted = normalize_registry(host_port);
        let host = host_without_port(&wanted);
        self.options.insecure.iter().map(|e| normalize_registry(e)).any(|e| e == wanted || e == host)
    }

    /// `scheme://host[:port]/v2/<name>` for a repository.
    pub(crate) fn base_url(&self, repo: &Repository) -> String {
        let scheme = if self.is_insecure(repo.registry()) { "http" } else { "https" };
        format!("{scheme}://{}/v2/{}", repo.api_host(), repo.name())
    }

    /// Refuses `http://` URLs whose host is not marked insecure.
    pub(crate) fn check_scheme(&self, url: &str) -> Result<()> {
        let Some(rest) = url.strip_prefix("http://") else { return Ok(()) };
        let host = authority(rest);
        if self.is_insecure(host) {
            return Ok(());
        }
        Err(Error::PlainHttpRefused { host: host.to_string(), url: url.to_string(), answered: false })
    }

    /// The agent for `url`: plain-HTTP-capable only for insecure hosts.
    pub(crate) fn agent_for(&self, url: &str) -> &ureq::Agent {
        if url.starts_with("http://") {
            &self.plain
        } else {
            &self.secure
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retry
    /// policy is used up; `what` names the operation in logs.
    pub(crate) fn with_retries<T>(&self, what: &str, mut attempt: impl FnMut() -> Result<T, Attempt>) -> Result<T> {
        let policy = &self.options.retry;
        let mut number = 1;
        loop {
            match attempt() {
                Ok(value) => return Ok(value),
                Err(Attempt::Fatal(error)) => return Err(*error),
                Err(Attempt::Retry { error, retry_after }) if number < policy.max_attempts => {
                    let wait = policy.delay(number, what, retry_after);
                    number += 1;
                    warn!(what, attempt = number, ?wait, "retrying: {}", error.summary());
                    self.reporter.retry(what, number, &error.summary());
                    std::thread::sleep(wait);
                }
                Err(Attempt::Retry { mut error, .. }) => {
                    if let Error::RateLimited { attempts, .. } = &mut *error {
                        *attempts = number;
                    }
                    return Err(*error);
                }
            }
        }
    }
}

/// The secure and the plain agent share one resolver, so a registry's host
/// is looked up once however many blobs move in parallel.
fn agent(options: &ClientOptions, resolver: &CachingResolver, https_only: bool) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .https_only(https_only)
        .timeout_per_read(Some(options.read_timeout))
        .user_agent(options.user_agent.as_str())
        .max_redirects(10);
    resolver.agent(config, options.connect_timeout)
}

/// `host[:port]` at the start of a URL without its scheme.
pub(crate) fn authority(after_scheme: &str) -> &str {
    after_scheme.split(['/', '?', '#']).next().unwrap_or(after_scheme)
}

fn host_without_port(host_port: &str) -> &str {
    if host_port.starts_with('[') {
        return host_port.split_once(']').map_or(host_port, |(h, _)| &host_port[..h.len() + 1]);
    }
    host_port.rsplit_once(':').map_or(host_port, |(h, _)| h)
}

/// How one attempt failed, which decides what happens next. The error is
/// boxed to keep the `Result`s that carry this small.
#[derive(Debug)]
pub(crate) enum Attempt {
    /// Transient: try again after a wait (the server's, if it named one).
    Retry { error: Box<Error>, retry_after: Option<Duration> },
    /// Final: 401 after authenticating, 403, 404, wrong content, bad input.
    Fatal(Box<Error>),
}

impl Attempt {
    pub(crate) fn retry(error: Error, retry_after: Option<Duration>) -> Self {
        Self::Retry { error: Box::new(error), retry_after }
    }

    pub(crate) fn fatal(error: Error) -> Self {
        Self::Fatal(Box::new(error))
    }
}

impl From<Error> for Attempt {
    fn from(error: Error) -> Self {
        Self::fatal(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insecure_matching() {
        let options = ClientOptions {
            insecure: vec!["127.0.0.1:5000".into(), "http://Plain.Example/".into()],
            ..Default::default()
        };
        let client = Client::new(options);
        assert!(client.is_insecure("127.0.0.1:5000"));
        assert!(!client.is_insecure("127.0.0.1:5001"));
        assert!(client.is_insecure("plain.example:8080"));
        assert!(client.is_insecure("plain.example"));
        assert!(!client.is_insecure("other.example"));
        assert!(client.check_scheme("http://127.0.0.1:5000/v2/x?y").is_ok());
        assert!(client.check_scheme("https://anything/v2/").is_ok());
        let err = client.check_scheme("http://127.0.0.1:5001/v2/").unwrap_err().to_string();
        assert!(err.contains("hint: pass --insecure 127.0.0.1:5001 "), "{err}");
        assert_eq!(host_without_port("[::1]:5000"), "[::1]");
    }

    #[test]
    fn retry_decisions() {
        let options = ClientOptions {
            retry: RetryPolicy { base_delay: Duration::ZERO, max_attempts: 3, ..Default::default() },
            ..Default::default()
        };
        let client = Client::new(options);
        let limited = || Error::RateLimited { registry: "r".into(), url: "u".into(), attempts: 0 };
        let mut calls = 0;
        let result: Result<()> = client.with_retries("x", || {
            calls += 1;
            Err(Attempt::retry(limited(), Some(Duration::ZERO)))
        });
        assert_eq!(calls, 3);
        let msg = result.unwrap_err().to_string();
        assert!(msg.starts_with("rate limited by r at u after 3 attempts"), "{msg}");

        calls = 0;
        let result: Result<()> = client.with_retries("x", || {
            calls += 1;
            Err(Attempt::fatal(Error::ManifestNotFound { reference: "a".into(), registry: "r".into() }))
        });
        assert_eq!(calls, 1);
        assert!(result.unwrap_err().is_not_found());

        calls = 0;
        let ok = client.with_retries("x", || {
            calls += 1;
            if calls < 2 {
                Err(Attempt::retry(limited(), None))
            } else {
                Ok(7)
            }
        });
        assert_eq!((ok.unwrap(), calls), (7, 2));
    }
}
