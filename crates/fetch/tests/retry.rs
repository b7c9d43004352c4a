//! Retries and timeouts against a real HTTP server on 127.0.0.1: what is
//! retried (503, 429, cut connections, stalls, refused connections) and
//! what is not (404).

mod support;

use std::time::{Duration, Instant};

use microroot_fetch::{Error, Expected, RetryPolicy};
use support::{blob, fast_options, fetcher, temp_files, Reply, Server};

#[test]
fn transient_503_is_retried_then_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let data = blob(6, 2048);
    let busy = Reply::Status(503, None);
    server.script("/e.deb", vec![busy.clone(), busy, Reply::Body(data.clone())]);
    let (f, rec) = fetcher(dir.path(), fast_options());

    f.fetch_verified(&[server.url("/e.deb")], &Expected::of(&data)).unwrap();

    assert_eq!(server.hits("/e.deb"), 3);
    let retries: Vec<_> = rec.events().into_iter().filter(|e| e.starts_with("retry")).collect();
    assert_eq!(retries.len(), 2);
    assert!(retries[0].starts_with("retry e.deb 2 http 503 for http://"), "{retries:?}");
}

#[test]
fn retry_after_is_honored_up_to_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let data = blob(7, 10);
    server.script("/f", vec![Reply::Status(429, Some(3600)), Reply::Body(data.clone())]);
    let mut options = fast_options();
    options.retry.max_retry_after = Duration::from_millis(400);
    let (f, _) = fetcher(dir.path(), options);

    let start = Instant::now();
    f.fetch_verified(&[server.url("/f")], &Expected::of(&data)).unwrap();
    let elapsed = start.elapsed();

    assert!(elapsed >= Duration::from_millis(400), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
}

#[test]
fn not_found_is_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let (f, rec) = fetcher(dir.path(), fast_options());

    let err = f.fetch_verified(&[server.url("/missing.deb")], &Expected::of(b"x")).unwrap_err();

    assert!(matches!(err, Error::Http { status: 404, .. }), "{err}");
    let text = err.to_string();
    assert!(text.starts_with("http 404 for http://127.0.0.1:"), "{text}");
    assert!(text.contains("/missing.deb\nhint: "), "{text}");
    assert_eq!(server.hits("/missing.deb"), 1);
    assert_eq!(rec.count("retry"), 0);
    assert_eq!(rec.count("failed missing.deb"), 1);
}

#[test]
fn truncated_body_is_an_error_and_caches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let data = blob(12, 100_000);
    let cut = Reply::Truncated { body: data[..40_000].to_vec(), declared: data.len() };
    server.script("/i.deb", vec![cut]);
    let (f, _) = fetcher(dir.path(), fast_options());
    let expected = Expected::of(&data);

    let err = f.fetch_verified(&[server.url("/i.deb")], &expected).unwrap_err();

    assert!(matches!(err, Error::Network { .. }), "{err}");
    assert_eq!(server.hits("/i.deb"), 3, "a cut connection is transient");
    assert!(f.cache().get(&expected).is_none());
    assert!(temp_files(dir.path()).is_empty());
}

#[test]
fn stalled_read_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let data = blob(13, 10_000);
    let wait = Duration::from_secs(5);
    server.script("/j", vec![Reply::Stall { body: data[..10].to_vec(), declared: data.len(), wait }]);
    let mut options = fast_options();
    options.read_timeout = Duration::from_millis(300);
    options.retry = RetryPolicy { max_attempts: 2, ..options.retry };
    let (f, _) = fetcher(dir.path(), options);

    let start = Instant::now();
    let err = f.fetch_verified(&[server.url("/j")], &Expected::of(&data)).unwrap_err();

    assert!(start.elapsed() < Duration::from_secs(4), "{:?}", start.elapsed());
    assert!(err.to_string().contains("timeout"), "{err}");
    assert_eq!(server.hits("/j"), 2);
}

#[test]
fn connection_refused_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (f, rec) = fetcher(dir.path(), fast_options());

    let url = format!("http://127.0.0.1:{port}/k.deb");
    let err = f.fetch_verified(&[url], &Expected::of(b"k")).unwrap_err();

    assert!(matches!(err, Error::Network { .. }), "{err}");
    assert_eq!(rec.count("retry k.deb"), 2);
}
