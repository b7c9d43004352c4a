//! Bearer-token auth against a real docker-registry in `auth: token` mode,
//! with tokens from the JWT-issuing server in `support::token`.

mod support;

use std::time::Duration;

use microroot_registry::{
    media, Client, ClientOptions, Credentials, Digest, Error, PushOutcome, Reference, RetryPolicy,
};
use support::token::{TokenServer, SERVICE};
use support::{data, Registry, PASSWORD, USER};

/// Trusts plain HTTP to every port of 127.0.0.1 (registry and realm).
fn client(registry: &Registry, login: Option<(&str, &str)>) -> Client {
    let mut credentials = Credentials::new();
    if let Some((user, password)) = login {
        credentials.insert(registry.host(), user, password);
    }
    Client::new(ClientOptions {
        insecure: vec!["127.0.0.1".to_string()],
        credentials,
        retry: RetryPolicy { base_delay: Duration::from_millis(50), ..RetryPolicy::default() },
        ..ClientOptions::default()
    })
}

#[test]
fn tokens_are_fetched_per_scope_and_reused() {
    let tokens = TokenServer::start();
    let registry = Registry::start_with_tokens(&tokens);
    let client = client(&registry, Some((USER, PASSWORD)));
    let repo = registry.repo("team/app");
    let config = b"{}".to_vec();
    let layer = data(50_000, 1);
    for blob in [&config, &layer] {
        assert_eq!(client.push_blob(&repo, &Digest::of(blob), blob).unwrap(), PushOutcome::Uploaded);
    }
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": Digest::of(&config).to_string(), "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": Digest::of(&layer).to_string(), "size": layer.len()}],
    }))
    .unwrap();
    let digest = client.push_manifest(&repo, "v1", media::OCI_MANIFEST, &manifest).unwrap();
    let reference = Reference::parse(&format!("{}/team/app:v1", registry.host())).unwrap();
    assert_eq!(client.manifest(&reference).unwrap().digest, digest);
    assert_eq!(client.blob(&repo, &Digest::of(&layer), layer.len() as u64).unwrap(), layer);

    // One token for pull,push (blobs and manifest), one for pull; each
    // asked with the login and the registry's service.
    let seen = tokens.requests();
    let scopes: Vec<Vec<String>> = seen.iter().map(|r| r.scopes.clone()).collect();
    assert_eq!(
        scopes,
        [vec!["repository:team/app:pull,push".to_string()], vec!["repository:team/app:pull".to_string()]]
    );
    assert!(seen.iter().all(|r| r.user.as_deref() == Some(USER) && r.service.as_deref() == Some(SERVICE)));

    // A mount needs pull on the source too: one token for both scopes.
    let b = registry.repo("team/b");
    let d = Digest::of(&layer);
    assert_eq!(client.push_blob_mounting(&b, &d, &layer, &repo).unwrap(), PushOutcome::Mounted);
    let last = tokens.requests().pop().unwrap();
    assert_eq!(last.scopes, ["repository:team/b:pull,push", "repository:team/app:pull"]);
}

#[test]
fn anonymous_tokens_pull_but_cannot_push() {
    let tokens = TokenServer::start();
    let registry = Registry::start_with_tokens(&tokens);
    let repo = registry.repo("public/app");
    let blob = data(1000, 2);
    let digest = Digest::of(&blob);
    client(&registry, Some((USER, PASSWORD))).push_blob(&repo, &digest, &blob).unwrap();

    let anonymous = client(&registry, None);
    assert_eq!(anonymous.blob(&repo, &digest, 1000).unwrap(), blob);
    assert!(tokens.requests().last().unwrap().user.is_none());
    let other = data(10, 3);
    let err = anonymous.push_blob(&repo, &Digest::of(&other), &other).unwrap_err();
    assert!(matches!(err, Error::Unauthorized { had_credentials: false, .. }), "{err:?}");
    assert!(err.to_string().contains("hint: credentials are needed for"), "{err}");

    let wrong = client(&registry, Some((USER, "nope")));
    let err = wrong.blob(&repo, &digest, 1000).unwrap_err();
    assert!(
        matches!(&err, Error::Unauthorized { had_credentials: true, url, .. } if url.contains("/token?")),
        "{err:?}"
    );
}

#[test]
fn plain_http_realm_needs_insecure_too() {
    let tokens = TokenServer::start();
    let registry = Registry::start_with_tokens(&tokens);
    // Only the registry's own host:port is trusted, not the realm's port.
    let client = Client::new(ClientOptions { insecure: vec![registry.host().to_string()], ..ClientOptions::default() });
    let reference = Reference::parse(&format!("{}/x/y:z", registry.host())).unwrap();
    let err = client.manifest(&reference).unwrap_err();
    let realm_host = tokens.realm().trim_start_matches("http://").trim_end_matches("/token").to_string();
    assert!(matches!(&err, Error::PlainHttpRefused { host, answered: false, .. } if *host == realm_host), "{err:?}");
    assert!(err.to_string().contains(&format!("pass --insecure {realm_host}")), "{err}");
    assert!(tokens.requests().is_empty());
}
