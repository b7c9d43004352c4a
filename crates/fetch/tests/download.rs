//! `fetch_verified` against a real HTTP server on 127.0.0.1: the cache,
//! verification and fallback mirrors.

mod support;

use microroot_fetch::{Error, Expected};
use support::{blob, fast_options, fetcher, temp_files, Server};

#[test]
fn verified_download_lands_in_cache() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let data = blob(1, 300_000);
    server.serve("/pool/a.deb", &data);
    let (f, rec) = fetcher(dir.path(), fast_options());
    let expected = Expected::of(&data);

    let path = f.fetch_verified(&[server.url("/pool/a.deb")], &expected).unwrap();

    assert_eq!(path, f.cache().blob_path(&expected.sha256));
    assert_eq!(std::fs::read(&path).unwrap(), data);
    assert_eq!(rec.events(), ["start a.deb Some(300000)", "done a.deb cache=false"]);
    assert!(temp_files(dir.path()).is_empty());
}

#[test]
fn second_call_is_a_cache_hit_without_request() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let data = blob(2, 1000);
    server.serve("/b.deb", &data);
    let (f, rec) = fetcher(dir.path(), fast_options());
    let urls = [server.url("/b.deb")];

    let first = f.fetch_verified(&urls, &Expected::of(&data)).unwrap();
    let second = f.fetch_verified(&urls, &Expected::of(&data)).unwrap();

    assert_eq!(first, second);
    assert_eq!(server.hits("/b.deb"), 1);
    assert_eq!(rec.count("done b.deb cache=true"), 1);
}

#[test]
fn wrong_content_is_a_hash_mismatch_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let good = blob(3, 5000);
    server.serve("/c.deb", &blob(4, 5000));
    let (f, _) = fetcher(dir.path(), fast_options());
    let expected = Expected::of(&good);

    let err = f.fetch_verified(&[server.url("/c.deb")], &expected).unwrap_err();

    assert!(
        matches!(&err, Error::HashMismatch { url, expected: e, .. }
        if url.ends_with("/c.deb") && *e == expected.sha256),
        "{err}"
    );
    assert!(err.to_string().contains("hint:"), "{err}");
    assert_eq!(server.hits("/c.deb"), 1, "a mismatch is never retried");
    assert!(!f.cache().blob_path(&expected.sha256).exists());
    assert!(temp_files(dir.path()).is_empty());
    assert!(f.cache().get(&expected).is_none());
}

#[test]
fn wrong_length_is_a_size_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let good = blob(5, 100);
    server.serve("/d.deb", &blob(5, 150));
    let (f, _) = fetcher(dir.path(), fast_options());

    let err = f.fetch_verified(&[server.url("/d.deb")], &Expected::of(&good)).unwrap_err();

    assert!(matches!(err, Error::SizeMismatch { expected: 100, got: 150, .. }), "{err}");
    assert!(temp_files(dir.path()).is_empty());
}

#[test]
fn falls_back_to_the_next_url() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let data = blob(8, 4096);
    server.serve("/bad/g.deb", &blob(9, 4096));
    server.serve("/good/g.deb", &data);
    let (f, _) = fetcher(dir.path(), fast_options());
    let urls = [server.url("/gone/g.deb"), server.url("/bad/g.deb"), server.url("/good/g.deb")];

    let path = f.fetch_verified(&urls, &Expected::of(&data)).unwrap();

    assert_eq!(std::fs::read(path).unwrap(), data);
    assert_eq!(server.hits("/gone/g.deb"), 1);
    assert_eq!(server.hits("/bad/g.deb"), 1);
}

#[test]
fn all_urls_failing_reports_each() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    server.serve("/bad/h.deb", &blob(10, 64));
    let (f, _) = fetcher(dir.path(), fast_options());
    let urls = [server.url("/bad/h.deb"), server.url("/gone/h.deb")];

    let err = f.fetch_verified(&urls, &Expected::of(&blob(11, 64))).unwrap_err();

    let Error::AllUrlsFailed { name, errors } = &err else { panic!("{err}") };
    assert_eq!(name, "h.deb");
    assert!(errors[0].is_mismatch() && matches!(errors[1], Error::Http { status: 404, .. }));
    let text = err.to_string();
    assert!(text.starts_with("all 2 urls failed for h.deb:\n  - sha256 mismatch for"), "{text}");
    assert!(text.contains("\nhint: a mirror served wrong content"), "{text}");
}
