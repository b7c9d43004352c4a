//! The content-addressed cache on its own: concurrent writers, verification.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Barrier;

use microroot_fetch::{Cache, Error, Expected, CACHE_DIR_ENV};
use support::{all_files, blob, temp_files};

/// Set in child processes spawned by `concurrent_writers_in_processes`.
const CHILD_ENV: &str = "MICROROOT_FETCH_TEST_CHILD_CACHE";
const SHARED_LEN: usize = 8 << 20;

fn assert_single_valid_entry(root: &Path, data: &[u8]) -> PathBuf {
    let expected = Expected::of(data);
    let cache = Cache::new(root).verify_on_read(true);
    let path = cache.get(&expected).expect("entry present and valid");
    assert_eq!(all_files(root), std::slice::from_ref(&path));
    assert!(temp_files(root).is_empty());
    path
}

#[test]
fn concurrent_writers_in_threads() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path());
    let data = blob(1, 4 << 20);
    let expected = Expected::of(&data);
    let barrier = Barrier::new(8);

    let paths: Vec<PathBuf> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    cache.insert(&mut &data[..], &expected, "thread").unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let path = assert_single_valid_entry(dir.path(), &data);
    assert!(paths.iter().all(|p| *p == path));
}

/// Not a test on its own: the body of each child process below.
#[test]
fn child_writer() {
    let Some(root) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let data = blob(2, SHARED_LEN);
    Cache::new(root).insert(&mut &data[..], &Expected::of(&data), "child").unwrap();
}

#[test]
fn concurrent_writers_in_processes() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..3)
        .map(|_| {
            Command::new(&exe)
                .args(["--exact", "child_writer", "--test-threads=1", "--quiet"])
                .env(CHILD_ENV, dir.path())
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let data = blob(2, SHARED_LEN);
    Cache::new(dir.path()).insert(&mut &data[..], &Expected::of(&data), "parent").unwrap();

    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    assert_single_valid_entry(dir.path(), &data);
}

#[test]
fn insert_with_wrong_hash_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path());
    let expected = Expected::of(b"right");

    let err = cache.insert(&mut &b"wrong"[..], &expected, "file.deb").unwrap_err();

    assert!(matches!(&err, Error::HashMismatch { url, .. } if url == "file.deb"), "{err}");
    assert!(cache.get(&expected).is_none());
    assert!(all_files(dir.path()).is_empty());
}

#[test]
fn verify_mode_drops_a_corrupt_entry() {
    let dir = tempfile::tempdir().unwrap();
    let data = blob(3, 1000);
    let expected = Expected::of(&data);
    let path = Cache::new(dir.path()).insert(&mut &data[..], &expected, "x").unwrap();
    std::fs::write(&path, blob(4, 1000)).unwrap(); // same size, other bytes

    assert_eq!(Cache::new(dir.path()).get(&expected), Some(path.clone()), "size check only");
    assert_eq!(Cache::new(dir.path()).verify_on_read(true).get(&expected), None);
    assert!(!path.exists());
}

#[test]
fn wrong_size_entry_is_a_miss() {
    let dir = tempfile::tempdir().unwrap();
    let data = blob(5, 100);
    let cache = Cache::new(dir.path());
    cache.insert(&mut &data[..], &Expected::of(&data), "x").unwrap();
    let lying = Expected { size: 99, ..Expected::of(&data) };
    assert_eq!(cache.get(&lying), None);
}

#[test]
fn disk_full_error_names_cache_and_env() {
    let err = Error::Io {
        op: "write",
        path: PathBuf::from("/c/sha256/ab/.tmp-1-0"),
        cache: PathBuf::from("/c"),
        error: std::io::Error::from_raw_os_error(28),
    };
    let text = err.to_string();
    assert!(text.starts_with("cannot write /c/sha256/ab/.tmp-1-0: "), "{text}");
    assert!(text.contains("\nhint: the disk holding the cache at /c is full"), "{text}");
    assert!(text.contains(CACHE_DIR_ENV), "{text}");
}

#[test]
fn unwritable_cache_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"").unwrap();
    let cache = Cache::new(&file);

    let err = cache.insert(&mut &b"a"[..], &Expected::of(b"a"), "a").unwrap_err();

    assert!(matches!(&err, Error::Io { op: "create", .. }), "{err}");
    assert!(err.to_string().contains("not-a-dir"), "{err}");
}

#[test]
fn derived_entries_are_found_by_their_source_and_verified() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path()).verify_on_read(true);
    let source = Expected::of(b"a .deb").sha256;
    assert!(cache.get_derived("decoded", &source).is_none());

    let data = blob(3, 300_000);
    let mut derived = cache.derive().unwrap();
    derived.write_all(&data[..1000]).unwrap();
    derived.write_all(&data[1000..]).unwrap();
    let reader = derived.reopen().unwrap();
    let expected = derived.commit("decoded", &source).unwrap();
    assert_eq!(expected, Expected::of(&data));
    let (path, found) = cache.get_derived("decoded", &source).expect("just stored");
    assert_eq!(found, expected);
    assert_eq!(std::fs::read(&path).unwrap(), data);
    // The file opened while writing is the entry.
    use std::os::unix::fs::MetadataExt;
    assert_eq!(reader.metadata().unwrap().ino(), std::fs::metadata(&path).unwrap().ino());
    assert!(cache.get_derived("other kind", &source).is_none());
    assert!(temp_files(dir.path()).is_empty());

    // A corrupt blob is a miss, and is removed.
    std::fs::write(&path, blob(4, data.len())).unwrap();
    assert!(cache.get_derived("decoded", &source).is_none());
    assert!(!path.exists());

    // Dropped before its commit, a derived entry leaves nothing.
    let mut unfinished = cache.derive().unwrap();
    unfinished.write_all(b"partial").unwrap();
    drop(unfinished);
    assert!(temp_files(dir.path()).is_empty());
}
