//! One test against the real Debian mirror configured on this host.
//!
//! The mirror comes from the host's apt sources at run time, so no host
//! name is written here; a host without one fails the test.

use std::path::Path;

use microroot_fetch::{Cache, FetchOptions, Fetcher};

/// The first `URIs:` value in `/etc/apt/sources.list.d/*.sources`.
fn host_mirror() -> Option<String> {
    let mut files: Vec<_> = std::fs::read_dir("/etc/apt/sources.list.d")
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "sources"))
        .collect();
    files.sort();
    files.iter().find_map(|path| first_uri(path))
}

fn first_uri(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .filter_map(|line| line.strip_prefix("URIs:"))
        .find_map(|uris| uris.split_whitespace().next())
        .map(|uri| uri.trim_end_matches('/').to_string())
}

#[test]
fn real_mirror_release_file() {
    let mirror =
        host_mirror().expect("the host's apt sources name a Debian mirror (/etc/apt/sources.list.d/*.sources)");
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(Cache::new(dir.path()), FetchOptions::default());

    let bytes = fetcher.get_bytes(&format!("{mirror}/dists/stable/Release")).unwrap();

    assert!(bytes.starts_with(b"Origin: Debian"), "{:?}", String::from_utf8_lossy(&bytes[..80.min(bytes.len())]));
}
