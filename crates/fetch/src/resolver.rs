//! Name resolution once per host, shared by every thread of an agent.
//!
//! ureq asks its resolver before *every* request, even one that then reuses
//! a pooled connection, and a system resolver that retries parallel A/AAAA
//! lookups can stall each of those calls for seconds. [`CachingResolver`]
//! looks each `host:port` up once: the first caller starts the lookup on a
//! thread of its own and every caller, first or later, waits for that one
//! answer within its own budget (single flight). Answers are kept for the
//! resolver's life, which is one build; a failed lookup is forgotten at once
//! so that the next request asks again.
//!
//! Every address is returned, IPv6 and IPv4 in the order the lookup gave
//! them, because ureq's connector moves on to the next address when one is
//! refused or unreachable.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use tracing::debug;
use ureq::config::{Config, ConfigBuilder};
use ureq::http::Uri;
use ureq::typestate::AgentScope;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

/// Idle connections an agent keeps per host: one for each parallel worker
/// and then some, so a batch reuses its connections instead of dropping all
/// but ureq's default of 3 after each request.
pub const MAX_IDLE_PER_HOST: usize = 16;

/// Idle connections an agent keeps in all: a few hosts' worth.
const MAX_IDLE: usize = 4 * MAX_IDLE_PER_HOST;

/// Turns a host name and port into addresses.
pub trait Lookup: Send + Sync + 'static {
    /// All addresses for `host`, in the order they should be tried.
    fn lookup(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>>;
}

impl<T: Lookup + ?Sized> Lookup for Arc<T> {
    fn lookup(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        (**self).lookup(host, port)
    }
}

/// The system resolver (`getaddrinfo` through std).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        Ok((host, port).to_socket_addrs()?.collect())
    }
}

type Answer = Result<Arc<[SocketAddr]>, Arc<io::Error>>;

/// One lookup in flight or done; callers wait on `done`.
#[derive(Default)]
struct Flight {
    answer: Mutex<Option<Answer>>,
    done: Condvar,
}

impl Flight {
    fn finish(&self, answer: Answer) {
        *self.answer.lock().unwrap_or_else(PoisonError::into_inner) = Some(answer);
        self.done.notify_all();
    }

    /// The answer, or `None` if `limit` passed first.
    fn wait(&self, limit: Option<Duration>) -> Option<Answer> {
        let answer = self.answer.lock().unwrap_or_else(PoisonError::into_inner);
        let pending = |a: &mut Option<Answer>| a.is_none();
        let answer = match limit {
            None => self.done.wait_while(answer, pending).unwrap_or_else(PoisonError::into_inner),
            Some(limit) => {
                self.done.wait_timeout_while(answer, limit, pending).unwrap_or_else(PoisonError::into_inner).0
            }
        };
        answer.clone()
    }
}

struct Inner {
    lookup: Box<dyn Lookup>,
    /// Keyed by `host:port`; holds answers and lookups in flight, never failures.
    flights: Mutex<HashMap<String, Arc<Flight>>>,
}

/// A [`Resolver`] that looks each host up once and shares the answer.
/// Clones share one cache.
#[derive(Clone)]
pub struct CachingResolver {
    inner: Arc<Inner>,
}

impl Default for CachingResolver {
    /// Over the [`SystemLookup`].
    fn default() -> Self {
        Self::new(SystemLookup)
    }
}

impl fmt::Debug for CachingResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachingResolver").finish_non_exhaustive()
    }
}

impl CachingResolver {
    /// A resolver asking `lookup` for names it has not seen yet.
    pub fn new(lookup: impl Lookup) -> Self {
        Self { inner: Arc::new(Inner { lookup: Box::new(lookup), flights: Mutex::new(HashMap::new()) }) }
    }

    /// An agent from `config` that resolves through this cache and keeps
    /// an idle connection for every parallel worker. Name lookup gets the
    /// same budget as the connect: the system resolver has none of its own.
    pub fn agent(&self, config: ConfigBuilder<AgentScope>, connect_timeout: Duration) -> ureq::Agent {
        let config = config
            .timeout_resolve(Some(connect_timeout))
            .timeout_connect(Some(connect_timeout))
            .max_idle_connections(MAX_IDLE)
            .max_idle_connections_per_host(MAX_IDLE_PER_HOST)
            .build();
        ureq::Agent::with_parts(config, DefaultConnector::new(), self.clone())
    }

    fn flight(&self, key: &str, host: &str, port: u16) -> Arc<Flight> {
        let mut flights = self.inner.flights.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(flight) = flights.get(key) {
            return flight.clone();
        }
        let flight = Arc::new(Flight::default());
        flights.insert(key.to_string(), flight.clone());
        drop(flights);
        self.start(key, host, port, &flight);
        flight
    }

    /// Looks up on a thread of its own, so that a caller whose budget runs
    /// out can return while the answer still arrives for the next caller.
    fn start(&self, key: &str, host: &str, port: u16, flight: &Arc<Flight>) {
        let (this, owned_key, owned_host, task) = (self.clone(), key.to_string(), host.to_string(), flight.clone());
        let spawned = thread::Builder::new().name(format!("resolve {host}")).spawn(move || {
            let host = owned_host.as_str();
            let answer = panic::catch_unwind(AssertUnwindSafe(|| this.inner.lookup.lookup(host, port)))
                .unwrap_or_else(|_| Err(io::Error::other(format!("lookup of {host} panicked"))));
            debug!(host, port, ?answer, "looked up");
            this.settle(&owned_key, &task, answer);
        });
        if let Err(error) = spawned {
            self.settle(key, flight, Err(error));
        }
    }

    fn settle(&self, key: &str, flight: &Arc<Flight>, answer: io::Result<Vec<SocketAddr>>) {
        let answer: Answer = match answer {
            Ok(addrs) if !addrs.is_empty() => Ok(addrs.into()),
            Ok(_) => Err(Arc::new(io::Error::new(io::ErrorKind::NotFound, "lookup returned no address"))),
            Err(error) => Err(Arc::new(error)),
        };
        if answer.is_err() {
            // Forget before waking the waiters, so a retry starts afresh.
            let mut flights = self.inner.flights.lock().unwrap_or_else(PoisonError::into_inner);
            if flights.get(key).is_some_and(|f| Arc::ptr_eq(f, flight)) {
                flights.remove(key);
            }
        }
        flight.finish(answer);
    }

    fn addresses(&self, uri: &Uri, timeout: &NextTimeout) -> Result<Arc<[SocketAddr]>, ureq::Error> {
        let bad = || ureq::Error::BadUri(format!("{uri}: no host or unknown scheme"));
        let (scheme, authority) = uri.scheme().zip(uri.authority()).ok_or_else(bad)?;
        let key = DefaultResolver::host_and_port(scheme, authority).ok_or_else(bad)?;
        if let Ok(literal) = key.parse::<SocketAddr>() {
            return Ok(Arc::new([literal]));
        }
        let (host, port) = key.rsplit_once(':').and_then(|(h, p)| Some((h, p.parse().ok()?))).ok_or_else(bad)?;
        let limit = (!timeout.after.is_not_happening()).then(|| *timeout.after);
        match self.flight(&key, host, port).wait(limit) {
            Some(Ok(addrs)) => Ok(addrs),
            // ureq's contract for "no address"; its message carries the DNS hint.
            Some(Err(error)) if error.kind() == io::ErrorKind::NotFound => Err(ureq::Error::HostNotFound),
            Some(Err(error)) => Err(ureq::Error::Io(io::Error::new(error.kind(), error.to_string()))),
            None => Err(ureq::Error::Timeout(timeout.reason)),
        }
    }
}

impl Resolver for CachingResolver {
    fn resolve(&self, uri: &Uri, config: &Config, timeout: NextTimeout) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let addrs = self.addresses(uri, &timeout)?;
        let mut out = self.empty();
        for addr in config.ip_family().keep_wanted(addrs.iter().copied()) {
            // ureq keeps at most 16; the first ones are the ones to try.
            if out.try_push(addr).is_err() {
                break;
            }
        }
        if out.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(out)
    }
}
