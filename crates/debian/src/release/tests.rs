use std::time::UNIX_EPOCH;

use super::*;

const NAME: &str = "http://mirror.test/debian/dists/stable/InRelease";
/// `Date` of [`release`]: Sat, 12 Sep 2026 07:55:41 UTC.
const DATE: u64 = 1_789_199_741;
const XZ: &str = "packages.xz bytes";

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn sha(bytes: &str) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A Release in Debian's layout; `extra` lines go before the hash lists.
fn release(extra: &str) -> String {
    format!(
        "Origin: Debian\nLabel: Debian\nSuite: stable\nVersion: 13.7\nCodename: trixie\n\
         Date: Sat, 12 Sep 2026 07:55:41 UTC\nAcquire-By-Hash: yes\n\
         Architectures: all amd64 arm64\nComponents: main contrib\n{extra}\
         MD5Sum:\n 3e498904a30e240573dac8ddac594e6f 1961125 main/binary-amd64/Packages\n\
         SHA256:\n {a} 1961125 main/binary-amd64/Packages\n {b} 133992 main/binary-amd64/Packages.gz\n \
         {c} {len} main/binary-amd64/Packages.xz\n {d} 4000 main/binary-arm64/Packages.gz\n \
         {e} 120 Release\n",
        a = "ab".repeat(32),
        b = "cd".repeat(32),
        c = sha(XZ),
        len = XZ.len(),
        d = "ef".repeat(32),
        e = "01".repeat(32),
    )
}

fn parse(text: &str, now: u64) -> Result<Release, ReleaseError> {
    Release::parse(NAME, text, at(now))
}

#[test]
fn parses_fields_and_file_list() {
    let r = parse(&release(""), DATE + 60).unwrap();
    assert_eq!(r.origin.as_deref(), Some("Debian"));
    assert_eq!(r.label.as_deref(), Some("Debian"));
    assert_eq!((r.suite.as_deref(), r.codename.as_deref()), (Some("stable"), Some("trixie")));
    assert_eq!(r.version.as_deref(), Some("13.7"));
    assert_eq!(r.date, at(DATE));
    assert_eq!(r.valid_until, None);
    assert_eq!(r.architectures, ["all", "amd64", "arm64"]);
    assert_eq!(r.components, ["main", "contrib"]);
    assert!(r.acquire_by_hash);
    assert_eq!(r.files.len(), 5);
    assert_eq!(r.files[1].path, "main/binary-amd64/Packages.gz");
    assert_eq!((r.files[1].size, r.files[1].sha256), (133_992, [0xcd; 32]));
}

#[test]
fn future_date_is_refused() {
    let err = parse(&release(""), DATE - 3600).unwrap_err();
    assert!(matches!(err, ReleaseError::FutureDate { .. }), "{err}");
    assert!(err.to_string().starts_with(NAME), "{err}");
    // Clocks a little behind are tolerated.
    parse(&release(""), DATE - 60).unwrap();
}

#[test]
fn expired_valid_until_is_refused() {
    let text = release("Valid-Until: Sat, 19 Sep 2026 07:55:41 UTC\n");
    let week = 7 * 86_400;
    assert_eq!(parse(&text, DATE + week - 1).unwrap().valid_until, Some(at(DATE + week)));
    let err = parse(&text, DATE + week + 1).unwrap_err();
    assert!(matches!(err, ReleaseError::Expired { .. }), "{err}");
    assert!(err.to_string().contains("expired at 2026-09-19 07:55:41 UTC"), "{err}");
}

#[test]
fn find_index_prefers_xz_then_gz_then_plain() {
    let r = parse(&release(""), DATE).unwrap();
    for asked in ["main/binary-amd64/Packages", "main/binary-amd64/Packages.xz", "main/binary-amd64/Packages.gz"] {
        assert_eq!(r.find_index(asked).unwrap().path, "main/binary-amd64/Packages.xz");
    }
    assert_eq!(r.find_index("main/binary-arm64/Packages").unwrap().path, "main/binary-arm64/Packages.gz");
    assert_eq!(r.find_index("Release").unwrap().path, "Release");
    let err = r.find_index("main/binary-riscv64/Packages.xz").unwrap_err();
    assert!(err.to_string().contains("main/binary-riscv64/Packages"), "{err}");
}

#[test]
fn by_hash_paths_sit_next_to_the_index() {
    let r = parse(&release(""), DATE).unwrap();
    let gz = r.entry("main/binary-amd64/Packages.gz").unwrap();
    let expected = format!("main/binary-amd64/by-hash/SHA256/{}", "cd".repeat(32));
    assert_eq!(r.by_hash_path(gz).as_deref(), Some(expected.as_str()));
    assert_eq!(r.fetch_path(gz), expected);
    let top = r.entry("Release").unwrap();
    assert_eq!(r.by_hash_path(top), Some(format!("by-hash/SHA256/{}", "01".repeat(32))));

    let plain = parse(&release("").replace("Acquire-By-Hash: yes\n", ""), DATE).unwrap();
    assert_eq!(plain.by_hash_path(gz), None);
    assert_eq!(plain.fetch_path(gz), "main/binary-amd64/Packages.gz");
}

#[test]
fn verify_index_checks_size_and_sha256() {
    let r = parse(&release(""), DATE).unwrap();
    let path = "main/binary-amd64/Packages.xz";
    r.verify_index(path, XZ.as_bytes()).unwrap();

    let err = r.verify_index(path, b"short").unwrap_err();
    assert!(matches!(err, ReleaseError::SizeMismatch { expected: 17, got: 5, .. }), "{err}");
    let mut flipped = XZ.as_bytes().to_vec();
    flipped[0] ^= 1;
    let msg = r.verify_index(path, &flipped).unwrap_err().to_string();
    assert!(msg.contains(&sha(XZ)) && msg.contains(&hex::encode(Sha256::digest(&flipped))), "{msg}");
    assert!(msg.contains(NAME), "{msg}");
    let err = r.verify_index("main/binary-amd64/Packages.bz2", XZ.as_bytes()).unwrap_err();
    assert!(matches!(err, ReleaseError::NotListed { .. }), "{err}");
}

#[test]
fn malformed_releases_are_refused() {
    let no_sha = release("").split("SHA256:").next().unwrap().to_owned();
    let cases = [
        (no_sha, "missing field `SHA256`"),
        (release("").replace("Date: Sat, 12 Sep 2026 07:55:41 UTC\n", ""), "missing field `Date`"),
        (release("").replace("07:55:41 UTC", "07:55:41 CEST"), "is not an RFC 2822 date"),
        (release("").replace(" 4000 ", " 4k "), "is not `<sha256> <size> <path>`"),
        (release("").replace(&"ef".repeat(32), "ef"), "is not `<sha256> <size> <path>`"),
        (format!("{}\nOrigin: Evil\n", release("")), "expected one paragraph, found 2"),
        (release("broken line\n"), "malformed release file"),
    ];
    for (text, expected) in cases {
        let err = parse(&text, DATE).unwrap_err();
        assert!(err.to_string().contains(expected), "{err} (expected `{expected}`)");
    }
}
