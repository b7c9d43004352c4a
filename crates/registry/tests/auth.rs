//! A real docker-registry with htpasswd (Basic) auth over plain HTTP.

mod support;

use std::path::Path;

use base64::Engine as _;
use microroot_registry::{Client, ClientOptions, Credentials, Digest, Error, PushOutcome, Reference};
use support::{data, Registry, PASSWORD, USER};

#[test]
fn anonymous_is_refused_with_a_hint() {
    let registry = Registry::start_with_auth();
    let client = registry.client();
    let reference = Reference::parse(&format!("{}/private/app:v1", registry.host())).unwrap();
    let err = client.manifest(&reference).unwrap_err();
    assert!(matches!(err, Error::Unauthorized { had_credentials: false, .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.starts_with(&format!("unauthorized: {} refused GET", registry.host())), "{text}");
    assert!(text.contains(&format!("hint: credentials are needed for {}", registry.host())), "{text}");
    // 401 is not retried: one request.
    assert_eq!(registry.requests("GET", "/v2/private/app/manifests/v1").len(), 1);
}

#[test]
fn wrong_password_is_refused() {
    let registry = Registry::start_with_auth();
    let client = registry.client_with_login(USER, "wrong");
    let blob = data(100, 1);
    let err = client.push_blob(&registry.repo("private/app"), &Digest::of(&blob), &blob).unwrap_err();
    assert!(matches!(err, Error::Unauthorized { had_credentials: true, .. }), "{err:?}");
    assert!(err.to_string().contains("hint: credentials for"), "{err}");
    assert!(err.to_string().contains("were rejected"), "{err}");
}

#[test]
fn right_credentials_push_and_pull() {
    let registry = Registry::start_with_auth();
    let client = registry.client_with_login(USER, PASSWORD);
    let repo = registry.repo("private/app");
    let blob = data(3 << 20, 2);
    let digest = Digest::of(&blob);
    assert_eq!(client.push_blob(&repo, &digest, &blob).unwrap(), PushOutcome::Uploaded);
    assert_eq!(client.blob(&repo, &digest, blob.len() as u64).unwrap(), blob);
    assert!(client.blob_exists(&repo, &digest).unwrap());
    // The Basic challenge was answered once; later requests sent
    // credentials up front.
    let log = registry.access_log();
    let refused = log.lines().filter(|l| l.contains("/v2/private/") && l.contains("\" 401 ")).count();
    assert_eq!(refused, 1, "{log}");
}

#[test]
fn credentials_from_a_docker_config_file() {
    let registry = Registry::start_with_auth();
    let dir = tempfile::tempdir().unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    let config = serde_json::json!({"auths": {format!("http://{}", registry.host()): {"auth": auth}}});
    let path = dir.path().join("auth.json");
    std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();

    // This is the only test in this binary that touches the environment.
    std::env::set_var(microroot_registry::REGISTRY_AUTH_FILE_ENV, &path);
    std::env::set_var("DOCKER_CONFIG", dir.path().join("nowhere"));
    let credentials = Credentials::from_environment().unwrap();
    std::env::remove_var(microroot_registry::REGISTRY_AUTH_FILE_ENV);
    assert_eq!(credentials.get(registry.host()).map(|l| l.username.as_str()), Some(USER));

    let client = Client::new(ClientOptions { credentials, ..registry.options() });
    let repo = registry.repo("private/from-file");
    let blob = data(10, 3);
    client.push_blob(&repo, &Digest::of(&blob), &blob).unwrap();
    assert!(client.blob_exists(&repo, &Digest::of(&blob)).unwrap());

    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, b"{\"auths\": 3}").unwrap();
    let err = Credentials::from_config_json(&std::fs::read(&broken).unwrap(), Path::new(&broken)).unwrap_err();
    assert!(err.to_string().contains("broken.json"), "{err}");
}
