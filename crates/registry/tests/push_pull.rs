//! Round trips through a real docker-registry: blobs (one-shot and
//! chunked), manifests by tag and digest, mounts, and content checks.

mod support;

use microroot_registry::{media, Client, Digest, Error, PushOutcome, Reference};
use support::{data, Registry};

fn oci_manifest(config: &[u8], layers: &[&[u8]]) -> Vec<u8> {
    let descriptor = |media_type: &str, bytes: &[u8]| serde_json::json!({"mediaType": media_type, "digest": Digest::of(bytes).to_string(), "size": bytes.len()});
    let layers: Vec<_> = layers.iter().map(|l| descriptor("application/vnd.oci.image.layer.v1.tar", l)).collect();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_MANIFEST,
        "config": descriptor("application/vnd.oci.image.config.v1+json", config),
        "layers": layers,
    });
    serde_json::to_vec(&manifest).unwrap()
}

#[test]
fn push_then_pull_by_tag_and_by_digest() {
    let registry = Registry::start();
    let client = Client::new(microroot_registry::ClientOptions { chunk_size: 4 << 20, ..registry.options() });
    let repo = registry.repo("microroot/round-trip");
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#.to_vec();
    let small = data(1000, 1);
    let big = data(20 << 20, 2);

    for blob in [&config, &small, &big] {
        assert_eq!(client.push_blob(&repo, &Digest::of(blob), blob).unwrap(), PushOutcome::Uploaded);
    }
    // 20 MiB in 4 MiB chunks is five PATCHes, as the registry itself saw;
    // the small blobs went up in a single PUT each.
    let patches = registry.requests("PATCH", "/v2/microroot/round-trip/blobs/uploads/");
    assert_eq!(patches.len(), 5, "{patches:#?}");
    assert!(patches.iter().all(|l| l.contains("\" 202 ")), "{patches:#?}");
    assert_eq!(registry.requests("PUT", "/v2/microroot/round-trip/blobs/uploads/").len(), 3);
    assert_eq!(client.push_blob(&repo, &Digest::of(&big), &big).unwrap(), PushOutcome::Existed);

    let manifest = oci_manifest(&config, &[&small, &big]);
    let pushed = client.push_manifest(&repo, "v1", media::OCI_MANIFEST, &manifest).unwrap();
    assert_eq!(pushed, Digest::of(&manifest));

    let by_tag = client.manifest(&Reference::parse(&format!("{}/microroot/round-trip:v1", registry.host())).unwrap());
    let by_tag = by_tag.unwrap();
    assert_eq!((by_tag.media_type.as_str(), &by_tag.bytes, by_tag.digest), (media::OCI_MANIFEST, &manifest, pushed));
    let pinned = Reference::parse(&format!("{}/microroot/round-trip@{pushed}", registry.host())).unwrap();
    let by_digest = client.manifest(&pinned).unwrap();
    assert_eq!(by_digest, by_tag);

    assert_eq!(client.blob(&repo, &Digest::of(&small), small.len() as u64).unwrap(), small);
    let mut streamed = Vec::new();
    client.blob_to_writer(&repo, &Digest::of(&big), big.len() as u64, &mut streamed).unwrap();
    assert!(streamed == big, "20 MiB blob came back different");

    assert!(client.blob_exists(&repo, &Digest::of(&config)).unwrap());
    assert!(!client.blob_exists(&repo, &Digest::of(b"never pushed")).unwrap());
    assert!(!client.blob_exists(&registry.repo("microroot/other"), &Digest::of(&config)).unwrap());
}

#[test]
fn pushes_by_digest_and_empty_blobs() {
    let registry = Registry::start();
    let client = registry.client();
    let repo = registry.repo("by-digest");
    let config = b"{}".to_vec();
    let empty: &[u8] = b"";
    client.push_blob(&repo, &Digest::of(&config), &config).unwrap();
    client.push_blob(&repo, &Digest::of(empty), empty).unwrap();
    assert_eq!(client.blob(&repo, &Digest::of(empty), 0).unwrap(), empty);
    let manifest = oci_manifest(&config, &[empty]);
    let digest = Digest::of(&manifest);
    assert_eq!(client.push_manifest(&repo, &digest.to_string(), media::OCI_MANIFEST, &manifest).unwrap(), digest);
    let pulled = client.manifest(&Reference::with_digest(repo.clone(), digest)).unwrap();
    assert_eq!(pulled.bytes, manifest);
}

#[test]
fn cross_repository_mount() {
    let registry = Registry::start();
    let client = registry.client();
    let (a, b) = (registry.repo("team/a"), registry.repo("team/b"));
    let layer = data(300_000, 3);
    let digest = Digest::of(&layer);
    assert_eq!(client.push_blob(&a, &digest, &layer).unwrap(), PushOutcome::Uploaded);
    assert!(!client.blob_exists(&b, &digest).unwrap());

    assert_eq!(client.push_blob_mounting(&b, &digest, &layer, &a).unwrap(), PushOutcome::Mounted);
    assert!(client.blob_exists(&b, &digest).unwrap());
    assert_eq!(client.blob(&b, &digest, layer.len() as u64).unwrap(), layer);
    // The registry linked the blob into b itself, answering the mount with
    // 201, and no upload session for b ever started.
    let link = registry.storage().join(format!("repositories/team/b/_layers/sha256/{}/link", digest.hex()));
    assert_eq!(std::fs::read_to_string(&link).unwrap(), digest.to_string());
    let mounts = registry.requests("POST", "/v2/team/b/blobs/uploads/?mount=");
    assert_eq!(mounts.len(), 1, "{mounts:#?}");
    assert!(mounts[0].contains("\" 201 "), "{}", mounts[0]);
    assert!(registry.requests("PUT", "/v2/team/b/blobs/uploads/").is_empty());

    // A source that lacks the blob: the registry starts a normal upload.
    let other = data(1000, 4);
    let c = registry.repo("team/c");
    assert_eq!(client.push_blob_mounting(&c, &Digest::of(&other), &other, &a).unwrap(), PushOutcome::Uploaded);
    assert!(client.blob_exists(&c, &Digest::of(&other)).unwrap());
}

#[test]
fn corrupted_storage_is_caught() {
    let registry = Registry::start();
    let client = registry.client();
    let repo = registry.repo("corrupt");
    let layer = data(100_000, 5);
    let digest = Digest::of(&layer);
    client.push_blob(&repo, &digest, &layer).unwrap();
    let config = b"{}".to_vec();
    client.push_blob(&repo, &Digest::of(&config), &config).unwrap();
    let manifest = oci_manifest(&config, &[&layer]);
    let manifest_digest = client.push_manifest(&repo, "latest", media::OCI_MANIFEST, &manifest).unwrap();

    // Change bytes in the registry's own files, keeping sizes (and, for
    // the manifest, keeping it valid JSON, or the registry fails with 500).
    let corrupt = |d: &Digest, at: usize| {
        let path = registry.storage().join(format!("blobs/sha256/{}/{}/data", &d.hex()[..2], d.hex()));
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
        std::fs::write(&path, &bytes).unwrap();
        Digest::of(&bytes)
    };
    let bad_layer = corrupt(&digest, 10);
    match client.blob(&repo, &digest, layer.len() as u64) {
        Err(Error::DigestMismatch { expected, got, .. }) => assert_eq!((expected, got), (digest, bad_layer)),
        other => panic!("expected a digest mismatch, got {:?}", other.map(|bytes| bytes.len())),
    }
    let hex_at = manifest.windows(64).position(|w| w == digest.hex().as_bytes()).unwrap();
    let bad_manifest = corrupt(&manifest_digest, hex_at);
    let by_tag = Reference::parse(&format!("{}/corrupt", registry.host())).unwrap();
    let err = client.manifest(&by_tag).unwrap_err();
    assert!(
        matches!(err, Error::DigestMismatch { expected, got, .. } if expected == manifest_digest && got == bad_manifest),
        "{err:?}"
    );
    assert!(err.to_string().contains(&format!("expected {manifest_digest}, got {bad_manifest}")), "{err}");

    // The size given by the caller is checked against what is served.
    let err = client.blob(&repo, &Digest::of(&config), 3).unwrap_err();
    assert!(matches!(err, Error::SizeMismatch { expected: 3, got: 2, .. }), "{err}");
}
