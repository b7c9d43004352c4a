//! Offline mode and the by-URL area used for `InRelease`.

mod support;

use microroot_fetch::{Error, Expected, FetchOptions};
use support::{blob, fast_options, fetcher, Server};

fn offline() -> FetchOptions {
    FetchOptions { offline: true, ..fast_options() }
}

#[test]
fn offline_miss_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    server.serve("/pool/busybox_1_amd64.deb", b"bb");
    let (f, _) = fetcher(dir.path(), offline());

    let err = f.fetch_verified(&[server.url("/pool/busybox_1_amd64.deb")], &Expected::of(b"bb")).unwrap_err();

    assert!(matches!(err, Error::Offline { .. }), "{err}");
    let text = err.to_string();
    assert!(text.starts_with("busybox_1_amd64.deb is not in the cache at "), "{text}");
    assert!(text.ends_with("\nhint: run once without --offline to fill the cache"), "{text}");
    assert_eq!(server.hits("/pool/busybox_1_amd64.deb"), 0);
}

#[test]
fn offline_hit_is_served_from_cache() {
    let dir = tempfile::tempdir().unwrap();
    let data = blob(1, 777);
    let (f, rec) = fetcher(dir.path(), offline());
    let expected = Expected::of(&data);
    f.cache().insert(&mut &data[..], &expected, "local").unwrap();

    let path = f.fetch_verified(&["http://127.0.0.1:9/x.deb"], &expected).unwrap();

    assert_eq!(std::fs::read(path).unwrap(), data);
    assert_eq!(rec.events(), ["done x.deb cache=true"]);
}

#[test]
fn get_bytes_then_offline_reuse() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    server.serve("/dists/s/InRelease", b"signed text");
    let url = server.url("/dists/s/InRelease");
    let (online, _) = fetcher(dir.path(), fast_options());

    let bytes = online.get_bytes(&url).unwrap();
    assert_eq!(bytes, b"signed text");
    let (off, _) = fetcher(dir.path(), offline());
    assert!(matches!(off.get_bytes(&url), Err(Error::Offline { name, .. }) if name == url));

    // Only after the caller verified the bytes does it keep them.
    online.cache().store_by_url(&url, &bytes).unwrap();
    assert_eq!(off.get_bytes(&url).unwrap(), b"signed text");
    assert_eq!(server.hits("/dists/s/InRelease"), 1);
}

#[test]
fn store_by_url_replaces_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let (f, _) = fetcher(dir.path(), fast_options());
    let cache = f.cache();
    assert_eq!(cache.load_by_url("u").unwrap(), None);
    cache.store_by_url("u", b"one").unwrap();
    cache.store_by_url("u", b"two").unwrap();
    assert_eq!(cache.load_by_url("u").unwrap().as_deref(), Some(&b"two"[..]));
    assert_eq!(cache.load_by_url("v").unwrap(), None);
    assert!(support::temp_files(dir.path()).is_empty());
}

#[test]
fn get_bytes_refuses_oversized_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    server.serve("/big", &blob(2, 5000));
    let mut options = fast_options();
    options.max_bytes_in_memory = 4096;
    let (f, _) = fetcher(dir.path(), options);

    let err = f.get_bytes(&server.url("/big")).unwrap_err();

    assert!(matches!(err, Error::TooLarge { limit: 4096, .. }), "{err}");
}

#[test]
fn get_bytes_retries_and_reports_404() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let busy = support::Reply::Status(502, None);
    server.script("/r", vec![busy, support::Reply::Body(b"ok".to_vec())]);
    let (f, rec) = fetcher(dir.path(), fast_options());

    assert_eq!(f.get_bytes(&server.url("/r")).unwrap(), b"ok");
    assert_eq!(rec.count("retry"), 1);
    let err = f.get_bytes(&server.url("/nope")).unwrap_err();
    assert!(matches!(err, Error::Http { status: 404, .. }), "{err}");
    assert_eq!(server.hits("/nope"), 1);
}
