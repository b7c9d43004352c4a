//! The [`CachingResolver`] on its own (single flight, timeouts, failures)
//! and through a fetcher (address fallback, failures not cached). Host
//! names under `.invalid` never resolve for real: only the scripted lookup
//! can answer them.

mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use microroot_fetch::{CachingResolver, Error, Expected};
use support::lookup::{closed, ipv6_loopback, TestLookup};
use support::{blob, fast_options, fetcher, Conns, Server};
use ureq::config::{Config, IpFamily};
use ureq::unversioned::resolver::Resolver;
use ureq::unversioned::transport::{time, NextTimeout};

fn resolve(resolver: &CachingResolver, url: &str, limit: Option<Duration>) -> Result<Vec<SocketAddr>, ureq::Error> {
    resolve_with(resolver, url, limit, &Config::default())
}

fn resolve_with(
    resolver: &CachingResolver,
    url: &str,
    limit: Option<Duration>,
    config: &Config,
) -> Result<Vec<SocketAddr>, ureq::Error> {
    let after = limit.map_or(time::Duration::NotHappening, time::Duration::Exact);
    let timeout = NextTimeout { after, reason: ureq::Timeout::Resolve, ..NextTimeout::default() };
    resolver.resolve(&url.parse().unwrap(), config, timeout).map(|addrs| addrs.to_vec())
}

fn addrs(list: &[&str]) -> Vec<SocketAddr> {
    list.iter().map(|a| a.parse().unwrap()).collect()
}

/// Runs `resolve` for `url` on `n` threads released together.
fn race(resolver: &CachingResolver, url: &str, n: usize) -> Vec<Result<Vec<SocketAddr>, ureq::Error>> {
    let barrier = Barrier::new(n);
    thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    resolve(resolver, url, None)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn concurrent_callers_share_one_lookup_with_every_address() {
    let answer = addrs(&["[2001:db8::1]:80", "192.0.2.1:80", "[2001:db8::2]:80"]);
    let lookup = Arc::new(TestLookup::answering(Duration::from_millis(300), answer.clone()));
    let resolver = CachingResolver::new(lookup.clone());

    for result in race(&resolver, "http://a.invalid/x", 8) {
        assert_eq!(result.unwrap(), answer);
    }
    assert_eq!(resolve(&resolver, "http://a.invalid/y", None).unwrap(), answer);
    assert_eq!(lookup.calls("a.invalid"), 1);

    // Another host, or the same host on another port, is another lookup.
    resolve(&resolver, "http://b.invalid/", None).unwrap();
    resolve(&resolver, "http://a.invalid:8080/", None).unwrap();
    assert_eq!((lookup.calls("b.invalid"), lookup.calls("a.invalid")), (1, 2));
}

#[test]
fn ip_literals_need_no_lookup() {
    let lookup = Arc::new(TestLookup::answering(Duration::ZERO, addrs(&["192.0.2.1:1"])));
    let resolver = CachingResolver::new(lookup.clone());

    assert_eq!(resolve(&resolver, "http://127.0.0.1:81/", None).unwrap(), addrs(&["127.0.0.1:81"]));
    assert_eq!(resolve(&resolver, "https://[::1]/", None).unwrap(), addrs(&["[::1]:443"]));
    assert_eq!(lookup.total_calls(), 0);
}

#[test]
fn ip_family_setting_filters_cached_addresses() {
    let lookup = Arc::new(TestLookup::answering(Duration::ZERO, addrs(&["[::1]:80", "127.0.0.1:80"])));
    let resolver = CachingResolver::new(lookup.clone());
    let v4_only = Config::builder().ip_family(IpFamily::Ipv4Only).build();

    assert_eq!(resolve_with(&resolver, "http://c.invalid/", None, &v4_only).unwrap(), addrs(&["127.0.0.1:80"]));
    assert_eq!(resolve(&resolver, "http://c.invalid/", None).unwrap(), addrs(&["[::1]:80", "127.0.0.1:80"]));
    assert_eq!(lookup.total_calls(), 1);
}

#[test]
fn no_address_is_host_not_found() {
    let resolver = CachingResolver::new(TestLookup::answering(Duration::ZERO, Vec::new()));
    let err = resolve(&resolver, "http://f.invalid/", None).unwrap_err();
    assert!(matches!(err, ureq::Error::HostNotFound), "{err}");
}

#[test]
fn a_caller_out_of_time_times_out_and_the_answer_is_kept() {
    let lookup = Arc::new(TestLookup::answering(Duration::from_millis(400), addrs(&["192.0.2.7:80"])));
    let resolver = CachingResolver::new(lookup.clone());

    let err = resolve(&resolver, "http://d.invalid/", Some(Duration::from_millis(20))).unwrap_err();
    assert!(matches!(err, ureq::Error::Timeout(ureq::Timeout::Resolve)), "{err}");

    // The lookup went on in the background; the next caller waits for it.
    assert_eq!(resolve(&resolver, "http://d.invalid/", None).unwrap(), addrs(&["192.0.2.7:80"]));
    assert_eq!(lookup.calls("d.invalid"), 1);
}

#[test]
fn waiters_on_a_failed_lookup_fail_and_the_next_call_looks_again() {
    let lookup = Arc::new(TestLookup::answering(Duration::from_millis(300), addrs(&["192.0.2.9:80"])).failing_first(1));
    let resolver = CachingResolver::new(lookup.clone());

    for result in race(&resolver, "http://e.invalid/", 4) {
        let err = result.unwrap_err();
        assert!(err.to_string().contains("scripted lookup failure for e.invalid"), "{err}");
    }
    assert_eq!(lookup.calls("e.invalid"), 1);
    assert_eq!(resolve(&resolver, "http://e.invalid/", None).unwrap(), addrs(&["192.0.2.9:80"]));
    assert_eq!(lookup.calls("e.invalid"), 2);
}

/// Downloads one file from `server` through a lookup answering `answer`.
fn download_via(server: &Server, answer: Vec<SocketAddr>) {
    let dir = tempfile::tempdir().unwrap();
    let data = blob(42, 30_000);
    server.serve("/f.deb", &data);
    let lookup = Arc::new(TestLookup::answering(Duration::ZERO, answer));
    let (f, _) = fetcher(dir.path(), fast_options());
    let f = f.with_resolver(&CachingResolver::new(lookup.clone()));

    let path = f.fetch_verified(&[server.url_on("mirror.invalid", "/f.deb")], &Expected::of(&data)).unwrap();

    assert_eq!(std::fs::read(path).unwrap(), data);
    assert_eq!((lookup.calls("mirror.invalid"), server.hits("/f.deb")), (1, 1));
}

#[test]
fn falls_back_from_a_dead_ipv6_address_to_ipv4() {
    // A host with AAAA and A records whose IPv6 side does not answer: the
    // connect to [::1] is refused (or unroutable without IPv6), and the
    // download goes on over 127.0.0.1 in the same attempt.
    let server = Server::start();
    let port = server.addr().port();
    let first =
        if ipv6_loopback() { closed(&format!("[::1]:{port}")) } else { format!("[::1]:{port}").parse().unwrap() };
    download_via(&server, vec![first, server.addr()]);
}

#[test]
fn falls_back_from_a_dead_ipv4_address_to_the_next() {
    // With IPv6 loopback: the reverse order, server on [::1] only and a
    // refused 127.0.0.1 first. Without it, this proves only that a refused
    // first address (127.0.0.2, on which nothing listens) is skipped.
    let (server, first) = if ipv6_loopback() {
        let server = Server::start_with("[::1]:0", Conns::Close);
        let first = closed(&format!("127.0.0.1:{}", server.addr().port()));
        (server, first)
    } else {
        eprintln!("no IPv6 loopback: checking 127.0.0.2 -> 127.0.0.1 instead");
        let server = Server::start();
        let first = closed(&format!("127.0.0.2:{}", server.addr().port()));
        (server, first)
    };
    download_via(&server, vec![first, server.addr()]);
}

#[test]
fn a_failed_lookup_is_not_cached() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let data = blob(43, 5_000);
    server.serve("/g.deb", &data);
    let lookup = Arc::new(TestLookup::answering(Duration::ZERO, vec![server.addr()]).failing_first(1));
    let (f, _) = fetcher(dir.path(), fast_options());
    let f = f.with_resolver(&CachingResolver::new(lookup.clone()));
    let urls = [server.url_on("mirror.invalid", "/g.deb")];

    let err = f.fetch_verified(&urls, &Expected::of(&data)).unwrap_err();
    assert!(matches!(&err, Error::Network { reason, .. } if reason.contains("scripted lookup failure")), "{err}");
    assert_eq!(server.hits("/g.deb"), 0);

    let path = f.fetch_verified(&urls, &Expected::of(&data)).unwrap();
    assert_eq!(std::fs::read(path).unwrap(), data);
    assert_eq!(lookup.calls("mirror.invalid"), 2);
}
