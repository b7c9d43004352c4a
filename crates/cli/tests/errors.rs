//! Bad input fails closed: each case gives a clear message (the file, the
//! place, what was expected and a `hint:` where a fix is known) and leaves
//! nothing in the out dir and nothing unverified in the cache.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use common::{assert_no_output, files_below, host_mirror, shared_cache, TestDir};
use microroot_debian::release::Release;
use microroot_debian::signature::{verify_inrelease, Keyring};
use microroot_fetch::{Cache, Expected, FetchOptions, Fetcher, Sha256Hash};

const DEBIAN_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// Builds `manifest` (written into a fresh test dir) with the given cache
/// and returns the dir and stderr; asserts failure and no output.
fn build_fails(manifest: &str, cache: Option<&Path>) -> (TestDir, String) {
    let dir = TestDir::new();
    dir.write("microroot.toml", manifest);
    let cache = cache.map(Path::to_owned).unwrap_or_else(|| dir.join("cache"));
    let err = dir.microroot().args(["build", "microroot.toml", "--out", "out/dist", "--cache-dir"]).arg(&cache).fails();
    assert_no_output(&dir.join("out/dist"));
    assert!(!dir.join("out").exists() || files_below(&dir.join("out")).is_empty(), "{err}");
    (dir, err)
}

fn assert_has(err: &str, wants: &[&str]) {
    for want in wants {
        assert!(err.contains(want), "no {want:?} in:\n{err}");
    }
}

#[test]
fn unquoted_string_is_reported_with_its_position() {
    let (_dir, err) = build_fails("[packages]\ninclude = [busybox]\n", None);
    assert_has(&err, &["error: microroot.toml:2:12: ", "quoted", "  | include = [busybox]", "\nhint: "]);
}

#[test]
fn unknown_key_is_reported_with_its_position() {
    let (_dir, err) = build_fails("[pakages]\ninclude = [\"busybox\"]\n", None);
    assert_has(
        &err,
        &["error: microroot.toml:1:2: unknown field `pakages`", "`packages`", "\nhint: check the spelling"],
    );
}

#[test]
fn unknown_package_suggests_the_right_name() {
    let (_dir, err) = build_fails("[packages]\ninclude = [\"busyboxx\"]\n", Some(&shared_cache()));
    assert_has(&err, &["unknown package `busyboxx`", "hint: did you mean `busybox`?"]);
}

#[test]
fn unsatisfiable_version_names_the_candidates() {
    let (_dir, err) = build_fails("[packages]\ninclude = [\"busybox (>= 1:99)\"]\n", Some(&shared_cache()));
    assert_has(&err, &["no version of `busybox` matches `>= 1:99`", "candidates are 1:", "\nhint: "]);
}

/// `busybox (>= 99)` is satisfiable: Debian's busybox has epoch 1, and
/// `1:x` is newer than any `0:y`. dpkg agrees with the solver.
#[test]
fn version_constraints_compare_epochs_like_dpkg() {
    let dir = TestDir::new();
    dir.write("microroot.toml", "[packages]\ninclude = [\"busybox (>= 99)\"]\n");
    dir.microroot().args(["lock", "--cache-dir"]).arg(shared_cache()).stdout();
    let lock = microroot_image::lock::Lockfile::read(&dir.join("microroot.lock")).unwrap();
    let busybox = lock.packages.iter().find(|p| p.name == "busybox").expect("busybox locked");
    assert!(busybox.version.starts_with("1:"), "{}", busybox.version);
    let status =
        common::tool("dpkg", "dpkg").args(["--compare-versions", &busybox.version, "ge", "99"]).status().unwrap();
    assert!(status.success(), "dpkg says {} < 99", busybox.version);
}

#[test]
fn keyring_without_the_signing_key_is_refused() {
    let keyring = "/usr/share/keyrings/debian-archive-bullseye-stable.gpg";
    assert!(Path::new(keyring).is_file(), "{keyring} is missing: apt-get install debian-archive-keyring");
    let manifest = format!("[source]\nkeyring = \"{keyring}\"\n[packages]\ninclude = [\"busybox\"]\n");
    let (dir, err) = build_fails(&manifest, None);
    assert_has(
        &err,
        &["/dists/stable/InRelease: signed by key ", &format!("which is not in keyring {keyring}"), "hint: "],
    );
    // The key it names is one that really signed the suite.
    let (bytes, _) = host_inrelease();
    let signers = verify_inrelease("InRelease", &bytes, &Keyring::load(Path::new(DEBIAN_KEYRING)).unwrap(), now())
        .expect("the real keyring verifies the real InRelease")
        .signers;
    assert!(
        signers.iter().any(|s| err.contains(&s.fingerprint) || err.contains(&s.primary_fingerprint)),
        "names none of {signers:?}:\n{err}"
    );
    // Nothing unverified was kept.
    assert_eq!(files_below(&dir.join("cache")), Vec::<std::path::PathBuf>::new());
}

/// `source` resolves against the manifest's directory, not the working
/// directory: a decoy of the same name in the working directory is ignored.
#[test]
fn missing_files_source_names_the_path_and_a_hint() {
    let dir = TestDir::new();
    dir.write(
        "sub/microroot.toml",
        "[packages]\ninclude = [\"busybox\", \"libc6\", \"libgcc-s1\"]\n\
         [[files]]\npath = \"/etc/motd\"\nsource = \"missing-file\"\n",
    );
    dir.write("missing-file", "decoy\n");
    let err = dir
        .microroot()
        .args(["build", "sub/microroot.toml", "--out", "out", "--cache-dir"])
        .arg(shared_cache())
        .fails();
    assert_no_output(&dir.join("out"));
    assert_has(
        &err,
        &[
            "files: cannot read `sub/missing-file` for `/etc/motd`",
            "No such file or directory",
            "hint: paths in `source` are relative to the manifest's directory",
        ],
    );
    assert_eq!(err.matches("No such file or directory").count(), 1, "the cause is repeated:\n{err}");
}

#[test]
fn tampered_index_is_rejected() {
    let (inrelease, release) = host_inrelease();
    let entry = release.find_index("main/binary-amd64/Packages").expect("amd64 index listed").clone();
    let expected = Expected::parse(&entry.sha256_hex(), entry.size).unwrap();
    let by_hash = release.fetch_path(&entry);
    assert!(by_hash.contains("/by-hash/SHA256/"), "{by_hash}");
    // The real index, verified, from the shared cache or the mirror.
    let fetcher = Fetcher::new(Cache::new(shared_cache()), FetchOptions::default());
    let url = format!("{}/dists/stable/{by_hash}", host_mirror());
    let real = std::fs::read(fetcher.fetch_verified(&[url], &expected).expect("the real index")).unwrap();

    let mut altered = real.clone();
    altered[real.len() / 2] ^= 0x55;
    let truncated = real[..real.len() / 2].to_vec();
    for (bad, wants) in [
        (altered, vec!["sha256 mismatch".to_owned(), format!("expected {}", entry.sha256_hex())]),
        (truncated, vec!["size mismatch".to_owned(), format!("expected {} bytes, got {}", entry.size, real.len() / 2)]),
    ] {
        let bad_sha = Sha256Hash::of(&bad).to_hex();
        let mirror = Mirror::serve(HashMap::from([
            ("/debian/dists/stable/InRelease".to_owned(), inrelease.clone()),
            (format!("/debian/dists/stable/{by_hash}"), bad.clone()),
            (format!("/debian/dists/stable/{}", entry.path), bad),
        ]));
        let manifest = format!("[source]\nmirrors = [\"{}/debian\"]\n", mirror.url());
        let (dir, err) = build_fails(&(manifest + "[packages]\ninclude = [\"busybox\"]\n"), None);
        assert!(
            mirror.hits().iter().any(|p| p.ends_with(&by_hash)),
            "the index was not requested: {:?}",
            mirror.hits()
        );
        let wants: Vec<&str> = wants.iter().map(String::as_str).collect();
        assert_has(&err, &wants);
        assert_has(&err, &[&format!("{}/debian/dists/stable/{by_hash}", mirror.url())]);
        if wants[0] == "sha256 mismatch" {
            assert_has(&err, &[&format!("got {bad_sha}"), "out of sync or tampered with"]);
        }
        // Only the verified InRelease was kept; no index, good or bad.
        let kept = files_below(&dir.join("cache"));
        assert!(kept.iter().all(|p| p.starts_with("by-url")), "unverified bytes in the cache: {kept:?}");
        assert!(!dir.join("cache").join("sha256").join(&bad_sha[..2]).join(&bad_sha).exists());
    }
}

#[test]
fn tampered_inrelease_is_refused() {
    let (mut inrelease, _) = host_inrelease();
    // One hex digit of the first SHA256 line of the signed payload.
    let at = find(&inrelease, b"\nSHA256:\n ").expect("a SHA256 list") + 10;
    inrelease[at] = if inrelease[at] == b'0' { b'1' } else { b'0' };
    let mirror = Mirror::serve(HashMap::from([("/debian/dists/stable/InRelease".to_owned(), inrelease)]));
    let manifest = format!("[source]\nmirrors = [\"{}/debian\"]\n[packages]\ninclude = [\"busybox\"]\n", mirror.url());
    let (dir, err) = build_fails(&manifest, None);
    assert_has(&err, &[&format!("{}/debian/dists/stable/InRelease: bad signature by key ", mirror.url())]);
    assert_eq!(mirror.hits(), ["/debian/dists/stable/InRelease"], "went on after a bad signature");
    assert_eq!(files_below(&dir.join("cache")), Vec::<std::path::PathBuf>::new(), "kept a forged InRelease");
}

fn now() -> SystemTime {
    SystemTime::now()
}

/// The host mirror's current stable InRelease, and its verified Release.
fn host_inrelease() -> (Vec<u8>, Release) {
    let url = format!("{}/dists/stable/InRelease", host_mirror());
    let fetcher = Fetcher::new(Cache::new(shared_cache()), FetchOptions::default());
    let bytes = fetcher.get_bytes(&url).unwrap_or_else(|e| panic!("{url}: {e}"));
    let keyring = Keyring::load(Path::new(DEBIAN_KEYRING)).expect("apt-get install debian-archive-keyring");
    let verified = verify_inrelease(&url, &bytes, &keyring, now()).expect("the host mirror's InRelease verifies");
    let release = Release::parse(&url, &verified.payload, now()).expect("Release parses");
    (bytes, release)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A real HTTP/1.1 server on 127.0.0.1 serving fixed bytes by path (404
/// otherwise) and recording the paths asked for. Stops when dropped.
struct Mirror {
    addr: SocketAddr,
    hits: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Mirror {
    fn serve(files: HashMap<String, Vec<u8>>) -> Mirror {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (files, h, s) = (Arc::new(files), hits.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let (files, h) = (files.clone(), h.clone());
                if let Ok(stream) = stream {
                    std::thread::spawn(move || answer(stream, &files, &h));
                }
            }
        });
        Mirror { addr, hits, stop }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn hits(&self) -> Vec<String> {
        self.hits.lock().unwrap().clone()
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn answer(stream: TcpStream, files: &HashMap<String, Vec<u8>>, hits: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => break,
            Ok(_) if header == "\r\n" || header == "\n" => break,
            Ok(_) => {}
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("").to_owned();
    hits.lock().unwrap().push(path.clone());
    let mut stream = stream;
    let _ = match files.get(&path) {
        Some(body) => write!(stream, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())
            .and_then(|()| stream.write_all(body)),
        None => write!(stream, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    };
}
