//! Failures against a real docker-registry: what is refused, what is not
//! found, and what is retried.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use microroot_registry::{media, Client, ClientOptions, Digest, Error, Reference, RetryPolicy};
use support::{data, Registry};

#[test]
fn unknown_tag_and_blob_are_not_found() {
    let registry = Registry::start();
    let client = registry.client();
    let reference = Reference::parse(&format!("{}/nobody/here:nope", registry.host())).unwrap();
    let err = client.manifest(&reference).unwrap_err();
    assert!(matches!(err, Error::ManifestNotFound { .. }), "{err:?}");
    let want = format!("{}/nobody/here:nope not found in {}\nhint:", registry.host(), registry.host());
    assert!(err.to_string().starts_with(&want), "{err}");

    let digest = Digest::of(b"missing");
    let err = client.blob(&registry.repo("nobody/here"), &digest, 7).unwrap_err();
    assert!(matches!(&err, Error::BlobNotFound { digest: d, .. } if *d == digest), "{err:?}");
    assert!(err.to_string().starts_with(&format!("blob {digest} not found in nobody/here on {}", registry.host())));
    // Not found is final: one request each, no retries.
    assert_eq!(registry.requests("GET", "/v2/nobody/here/").len(), 2);
}

#[test]
fn wrong_digests_are_rejected_before_sending() {
    let registry = Registry::start();
    let client = registry.client();
    let repo = registry.repo("digests");
    let payload = data(5000, 7);
    let claimed = Digest::of(b"something else");
    let err = client.push_blob(&repo, &claimed, &payload).unwrap_err();
    match &err {
        Error::DigestMismatch { expected, got, .. } => assert_eq!((*expected, *got), (claimed, Digest::of(&payload))),
        other => panic!("expected a digest mismatch, got {other:?}"),
    }
    assert!(err.to_string().contains(&format!("expected {claimed}, got {}", Digest::of(&payload))), "{err}");
    assert!(!client.blob_exists(&repo, &claimed).unwrap());
    assert!(!client.blob_exists(&repo, &Digest::of(&payload)).unwrap());
    assert!(registry.requests("POST", "/v2/digests/").is_empty());

    let manifest = br#"{"schemaVersion":2}"#;
    let err = client.push_manifest(&repo, &claimed.to_string(), media::OCI_MANIFEST, manifest).unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err:?}");
    let err = client.push_manifest(&repo, "bad tag!", media::OCI_MANIFEST, manifest).unwrap_err();
    assert!(matches!(err, Error::InvalidTag { .. }), "{err:?}");
}

#[test]
fn registry_rejects_a_manifest_with_missing_blobs() {
    let registry = Registry::start();
    let client = registry.client();
    let absent = Digest::of(b"absent");
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": absent.to_string(), "size": 6},
        "layers": [],
    }))
    .unwrap();
    let err = client.push_manifest(&registry.repo("incomplete"), "v1", media::OCI_MANIFEST, &manifest).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Status { status: 400, .. }), "{err:?}");
    assert!(text.contains("MANIFEST_BLOB_UNKNOWN"), "{text}");
}

#[test]
fn plain_http_is_refused_unless_insecure() {
    let registry = Registry::start();
    let client = Client::new(ClientOptions::default());
    let reference = Reference::parse(&format!("{}/any/thing:v1", registry.host())).unwrap();
    let started = Instant::now();
    let err = client.manifest(&reference).unwrap_err();
    assert!(matches!(err, Error::PlainHttpRefused { answered: true, .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&format!("hint: pass --insecure {}", registry.host())), "{text}");
    // Refused outright, not retried with backoff.
    assert!(started.elapsed() < Duration::from_secs(5));
    // The same client is fine once the registry is named insecure.
    let trusted =
        Client::new(ClientOptions { insecure: vec![registry.host().to_string()], ..ClientOptions::default() });
    assert!(trusted.manifest(&reference).unwrap_err().is_not_found());
}

/// A registry frozen with SIGSTOP accepts connections but never answers:
/// the read times out, which is transient, and the retry succeeds once it
/// is thawed.
#[test]
fn stalled_registry_is_retried() {
    let registry = Registry::start();
    let repo = registry.repo("stall");
    let blob = data(1000, 9);
    registry.client().push_blob(&repo, &Digest::of(&blob), &blob).unwrap();

    let signal = |sig: &str| {
        let status = Command::new("kill").arg(sig).arg(registry.pid().to_string()).status().unwrap();
        assert!(status.success(), "kill {sig} failed");
    };
    let quick = |attempts| {
        Client::new(ClientOptions {
            read_timeout: Duration::from_millis(700),
            retry: RetryPolicy {
                max_attempts: attempts,
                base_delay: Duration::from_millis(50),
                ..RetryPolicy::default()
            },
            ..registry.options()
        })
    };

    signal("-STOP");
    let err = quick(1).blob(&repo, &Digest::of(&blob), 1000).unwrap_err();
    assert!(matches!(err, Error::Network { .. }), "{err:?}");

    let pid = registry.pid();
    let thawer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1200));
        Command::new("kill").arg("-CONT").arg(pid.to_string()).status().unwrap()
    });
    let got = quick(6).blob(&repo, &Digest::of(&blob), 1000);
    assert!(thawer.join().unwrap().success());
    assert_eq!(got.unwrap(), blob);
}

/// A rate limit (429 with `Retry-After`) and an overloaded server (503)
/// in front of a real registry: the pull waits as long as it is told,
/// retries, and gets the blob.
#[test]
fn rate_limits_and_overload_are_retried_honouring_retry_after() {
    let registry = Registry::start();
    let blob = data(5000, 3);
    registry.client().push_blob(&registry.repo("limited"), &Digest::of(&blob), &blob).unwrap();
    let front = support::Throttle::start(registry.host(), vec![(429, "Retry-After: 1\r\n"), (503, "")]);
    let client = Client::new(ClientOptions { insecure: vec![front.host().to_owned()], ..registry.options() });
    let repo = microroot_registry::Repository::parse(&format!("{}/limited", front.host())).unwrap();
    assert_eq!(client.blob(&repo, &Digest::of(&blob), 5000).unwrap(), blob);
    let requests = front.requests();
    let statuses: Vec<u16> = requests.iter().map(|r| r.1).collect();
    assert_eq!(statuses, [429, 503, 0], "refused twice, then passed through");
    // Retry-After: 1 was honoured (the default first backoff is 50 ms).
    let waited = requests[1].0 - requests[0].0;
    assert!(waited >= Duration::from_millis(950), "retried after {waited:?}, not the 1 s Retry-After asked for");
}

/// A registry that keeps refusing: the error says it is a rate limit and
/// names the registry, the URL and the attempts made.
#[test]
fn a_lasting_rate_limit_is_a_clear_error() {
    let registry = Registry::start();
    let refusals = vec![(429, "Retry-After: 0\r\n"); 10];
    let front = support::Throttle::start(registry.host(), refusals);
    let retry = RetryPolicy { max_attempts: 3, base_delay: Duration::from_millis(20), ..RetryPolicy::default() };
    let client = Client::new(ClientOptions { insecure: vec![front.host().to_owned()], retry, ..registry.options() });
    let reference = Reference::parse(&format!("{}/limited/app:1", front.host())).unwrap();
    let err = client.manifest(&reference).unwrap_err();
    assert_eq!(front.requests().len(), 3, "three attempts");
    let text = err.to_string();
    let want = format!(
        "rate limited by {} at http://{}/v2/limited/app/manifests/1 after 3 attempts\nhint: ",
        front.host(),
        front.host()
    );
    assert!(text.starts_with(&want), "{text}");
}

/// A registry that keeps its blobs elsewhere (S3 and the like) redirects
/// blob reads: the pull follows the redirect and still checks the digest.
#[test]
fn blob_redirects_to_storage_are_followed() {
    let storage = Registry::start();
    let blob = data(7000, 5);
    storage.client().push_blob(&storage.repo("moved"), &Digest::of(&blob), &blob).unwrap();
    let front = support::Throttle::start(storage.host(), vec![(307, "Location: http://$UPSTREAM$PATH\r\n")]);
    let client = Client::new(ClientOptions { insecure: vec![front.host().to_owned()], ..storage.options() });
    let repo = microroot_registry::Repository::parse(&format!("{}/moved", front.host())).unwrap();
    assert_eq!(client.blob(&repo, &Digest::of(&blob), 7000).unwrap(), blob);
    assert_eq!(front.requests().iter().map(|r| r.1).collect::<Vec<_>>(), [307], "the blob came from storage");
    assert_eq!(storage.requests("GET", "/blobs/").len(), 1, "{}", storage.access_log());
}
