//! `fetch_many` on a bounded worker pool.

mod support;

use std::time::Duration;

use microroot_fetch::{Download, Error, Expected};
use support::{blob, fast_options, fetcher, temp_files, Reply, Server};

#[test]
fn fetches_twenty_items_in_parallel() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let items: Vec<Download> = (0..20u8)
        .map(|i| {
            let data = blob(i, 10_000 + usize::from(i) * 997);
            let path = format!("/pool/p{i}.deb");
            server.script(&path, vec![Reply::Delayed(Duration::from_millis(20), data.clone())]);
            Download::new(vec![server.url(&path)], Expected::of(&data))
        })
        .collect();
    let (f, rec) = fetcher(dir.path(), fast_options());

    let results = f.fetch_many(&items, 4);

    assert_eq!(results.len(), 20);
    for (item, result) in items.iter().zip(&results) {
        let path = result.as_ref().unwrap();
        assert_eq!(*path, f.cache().blob_path(&item.expected.sha256));
        assert_eq!(std::fs::metadata(path).unwrap().len(), item.expected.size);
    }
    assert_eq!(rec.count("done"), 20);
    assert!((0..20).all(|i| server.hits(&format!("/pool/p{i}.deb")) == 1));
    assert!(temp_files(dir.path()).is_empty());

    // All cached now: a second batch makes no requests.
    assert!(f.fetch_many(&items, 0).iter().all(Result::is_ok));
    assert!((0..20).all(|i| server.hits(&format!("/pool/p{i}.deb")) == 1));
}

#[test]
fn stops_promptly_after_a_hard_error() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let mut items = vec![Download::new(vec![server.url("/missing.deb")], Expected::of(b"m"))];
    for i in 0..40u8 {
        let data = blob(i, 1000);
        let path = format!("/slow/s{i}.deb");
        server.script(&path, vec![Reply::Delayed(Duration::from_millis(100), data.clone())]);
        items.push(Download::new(vec![server.url(&path)], Expected::of(&data)));
    }
    let (f, _) = fetcher(dir.path(), fast_options());

    let results = f.fetch_many(&items, 2);

    assert!(matches!(results[0], Err(Error::Http { status: 404, .. })));
    let cancelled = results.iter().filter(|r| matches!(r, Err(Error::Cancelled { .. }))).count();
    let requested: usize = (0..40).map(|i| server.hits(&format!("/slow/s{i}.deb"))).sum();
    assert!(cancelled >= 35, "only {cancelled} cancelled");
    assert!(requested <= 5, "{requested} slow items were still requested");
    assert!(temp_files(dir.path()).is_empty());
}

#[test]
fn empty_batch_is_fine() {
    let dir = tempfile::tempdir().unwrap();
    let (f, _) = fetcher(dir.path(), fast_options());
    assert!(f.fetch_many(&[], 8).is_empty());
}
