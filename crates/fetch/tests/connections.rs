//! Parallel batches share name lookups and connections: one lookup per
//! host however many workers start at once, and keep-alive connections
//! reused across files and batches.

mod support;

use std::sync::Arc;
use std::time::Duration;

use microroot_fetch::{CachingResolver, Download, Expected, FetchOptions, Fetcher};
use support::lookup::TestLookup;
use support::{blob, fast_options, fetcher, Conns, Reply, Server};

/// 20 distinct files served at `/<prefix><i>.deb`, addressed by `url`;
/// batches with different `size` share no content.
fn items(server: &Server, prefix: &str, size: usize, url: impl Fn(&str) -> String) -> Vec<Download> {
    (0..20u8)
        .map(|i| {
            let data = blob(i, size + usize::from(i) * 1013);
            let path = format!("/{prefix}{i}.deb");
            server.script(&path, vec![Reply::Delayed(Duration::from_millis(20), data.clone())]);
            Download::new(vec![url(&path)], Expected::of(&data))
        })
        .collect()
}

/// Every item fetched, and the cached bytes hash to what was expected.
fn assert_all_verified(f: &Fetcher, items: &[Download], parallelism: usize) {
    let results = f.fetch_many(items, parallelism);
    for (item, result) in items.iter().zip(results) {
        let path = result.unwrap_or_else(|e| panic!("{}: {e}", item.name));
        assert_eq!(Expected::of(&std::fs::read(path).unwrap()), item.expected, "{}", item.name);
    }
}

#[test]
fn parallel_workers_look_a_host_up_once() {
    let dir = tempfile::tempdir().unwrap();
    // Connection: close, so every file needs a new connection and ureq asks
    // the resolver for each; a slow lookup makes all 8 workers overlap.
    let server = Server::start();
    let items = items(&server, "p", 20_000, |path| server.url_on("localhost", path));
    let lookup = Arc::new(TestLookup::system(Duration::from_millis(300)));
    let (f, _) = fetcher(dir.path(), fast_options());
    let f = f.with_resolver(&CachingResolver::new(lookup.clone()));

    assert_all_verified(&f, &items, 8);

    assert_eq!(lookup.calls("localhost"), 1);
    assert_eq!(lookup.total_calls(), 1);
    assert_eq!(server.connections(), 20);
}

#[test]
fn keep_alive_serves_a_batch_over_few_connections() {
    let dir = tempfile::tempdir().unwrap();
    // Clients queued behind the one being served wait for their first
    // reply, so give reads more room than the fast options do.
    let server = Server::start_with("127.0.0.1:0", Conns::OneAtATime { idle: Duration::from_millis(150) });
    let items = items(&server, "k", 20_000, |path| server.url(path));
    let options = FetchOptions { read_timeout: Duration::from_secs(30), ..fast_options() };
    let (f, _) = fetcher(dir.path(), options);

    assert_all_verified(&f, &items, 8);

    let connections = server.connections();
    eprintln!("{} files over {connections} connections", items.len());
    assert!(connections < items.len(), "{connections} connections for {} files", items.len());
}

#[test]
fn idle_pool_keeps_a_connection_per_worker() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with("127.0.0.1:0", Conns::KeepAlive);
    let first = items(&server, "a", 20_000, |path| server.url(path));
    let second = items(&server, "b", 50_000, |path| server.url(path));
    let (f, _) = fetcher(dir.path(), fast_options());

    assert_all_verified(&f, &first, 8);
    assert_all_verified(&f, &second, 8);

    // A worker opens a connection only while all others are busy, so the
    // first batch opens at most 8; the second opens none if all 8 were kept
    // idle (with ureq's default of 3 per host it would open up to 5 more).
    let connections = server.connections();
    eprintln!("{} files in two batches over {connections} connections", first.len() + second.len());
    assert!(connections <= 8, "{connections} connections for 8 workers");
}
