//! A name lookup for resolver tests: slow like the resolver that motivated
//! the cache, scripted where a test needs a given answer, counting calls.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use microroot_fetch::{Lookup, SystemLookup};

pub struct TestLookup {
    delay: Duration,
    /// `None`: ask the system resolver.
    answer: Option<Vec<SocketAddr>>,
    failures_left: AtomicUsize,
    calls: Mutex<HashMap<String, usize>>,
}

impl TestLookup {
    /// Asks the system resolver, after `delay`.
    pub fn system(delay: Duration) -> Self {
        Self { delay, answer: None, failures_left: AtomicUsize::new(0), calls: Mutex::default() }
    }

    /// Answers `addrs` for any host, after `delay`.
    pub fn answering(delay: Duration, addrs: Vec<SocketAddr>) -> Self {
        Self { answer: Some(addrs), ..Self::system(delay) }
    }

    /// Fails the first `n` calls with an error of kind `Other`.
    pub fn failing_first(self, n: usize) -> Self {
        Self { failures_left: AtomicUsize::new(n), ..self }
    }

    /// Lookups of `host` so far.
    pub fn calls(&self, host: &str) -> usize {
        self.calls.lock().unwrap().get(host).copied().unwrap_or(0)
    }

    /// Lookups of any host so far.
    pub fn total_calls(&self) -> usize {
        self.calls.lock().unwrap().values().sum()
    }
}

impl Lookup for TestLookup {
    fn lookup(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        *self.calls.lock().unwrap().entry(host.to_string()).or_default() += 1;
        thread::sleep(self.delay);
        let fail = self.failures_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
        if fail {
            return Err(io::Error::other(format!("scripted lookup failure for {host}")));
        }
        match &self.answer {
            Some(addrs) => Ok(addrs.clone()),
            None => SystemLookup.lookup(host, port),
        }
    }
}

/// Whether this machine can listen on the IPv6 loopback.
pub fn ipv6_loopback() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

/// `addr` after checking nothing listens there, so a connect is refused.
pub fn closed(addr: &str) -> SocketAddr {
    let addr: SocketAddr = addr.parse().unwrap();
    drop(TcpListener::bind(addr).unwrap_or_else(|e| panic!("{addr} is in use or unusable: {e}")));
    addr
}
