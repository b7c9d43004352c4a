//! Live check of the signed chain against the host's Debian mirror (found
//! by [`microroot_debian::sources`], never written down here): `InRelease`
//! of `stable` verified with the keyring the host's source trusts, parsed, and
//! `main/binary-amd64/Packages.xz` fetched by hash and checked against it.
//!
//! The mirror is reachable wherever the suite runs, so a host without a
//! Debian source, keyring or network fails this test rather than skipping.

use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use microroot_debian::release::Release;
use microroot_debian::signature::{verify_inrelease, Keyring, SignatureError};
use microroot_debian::sources::{self, SignedBy};

/// Used when the host's source names no keyring file of its own.
const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// The host's main Debian mirror and the keyring its source trusts.
fn host_mirror() -> Option<(String, PathBuf)> {
    let mirror = sources::primary_mirror(&sources::host_sources().ok()?)?;
    let keyring = match mirror.signed_by {
        Some(SignedBy::Keyrings(files)) if files.len() == 1 => files[0].clone(),
        _ => PathBuf::from(KEYRING),
    };
    Some((mirror.uri, keyring))
}

fn get(url: &str) -> Result<Vec<u8>, ureq::Error> {
    ureq::get(url).call()?.body_mut().with_config().limit(512 << 20).read_to_vec()
}

fn setup_failed(why: &str) {
    panic!("cannot run the live release test: {why}");
}

#[test]
fn stable_inrelease_and_packages_verify() {
    let Some((mirror, keyring_path)) = host_mirror() else {
        return setup_failed("no Debian mirror in the host's apt sources");
    };
    if !keyring_path.exists() {
        return setup_failed(&format!("no archive keyring at {}", keyring_path.display()));
    }
    let url = format!("{mirror}/dists/stable/InRelease");
    let inrelease = match get(&url) {
        Ok(bytes) => bytes,
        Err(e) => return setup_failed(&format!("cannot fetch {url}: {e}")),
    };
    let start = Instant::now();
    let keyring = Keyring::load(&keyring_path).unwrap();
    eprintln!("loaded {} keys from {} in {:?}", keyring.len(), keyring.origin(), start.elapsed());
    let now = SystemTime::now();

    let start = Instant::now();
    let verified = verify_inrelease(&url, &inrelease, &keyring, now).unwrap();
    eprintln!("verified {url} ({} bytes) in {:?}", inrelease.len(), start.elapsed());
    for s in &verified.signers {
        eprintln!("  signed by {} (primary {}) {}", s.fingerprint, s.primary_fingerprint, s.user_id);
    }
    assert!(!verified.signers.is_empty());

    let start = Instant::now();
    let release = Release::parse(&url, &verified.payload, now).unwrap();
    eprintln!("parsed {} entries in {:?}", release.files.len(), start.elapsed());
    assert_eq!(release.suite.as_deref(), Some("stable"));
    assert!(release.components.iter().any(|c| c == "main"));
    assert!(release.architectures.iter().any(|a| a == "amd64"));

    let entry = release.find_index("main/binary-amd64/Packages").unwrap();
    assert_eq!(entry.path, "main/binary-amd64/Packages.xz");
    let fetch = release.fetch_path(entry);
    assert!(!release.acquire_by_hash || fetch.contains("/by-hash/SHA256/"), "{fetch}");
    let packages = get(&format!("{mirror}/dists/stable/{fetch}")).unwrap();
    release.verify_index(&entry.path, &packages).unwrap();
    eprintln!("verified {} ({} bytes) via {fetch}", entry.path, packages.len());

    // One byte changed inside the signed payload: refused.
    let text = String::from_utf8(inrelease).unwrap();
    let tampered = text.replacen("Suite: stable", "Suite: stablf", 1);
    assert_ne!(tampered, text);
    let err = verify_inrelease(&url, tampered.as_bytes(), &keyring, now).unwrap_err();
    assert!(matches!(err, SignatureError::BadSignature { .. }), "{err}");
}
