//! Usernames and passwords per registry.
//!
//! [`Credentials::from_environment`] reads, first match per registry wins:
//! 1. the file named by `$REGISTRY_AUTH_FILE` (podman/skopeo's `auth.json`),
//! 2. `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`.
//!
//! Both have the same shape: `{"auths": {"<registry>": {"auth":
//! "<base64 user:password>"}}}` (or `username`/`password` fields). Keys may
//! be URLs (`https://index.docker.io/v1/`); they are reduced to
//! `host[:port]`, and Docker Hub's aliases to `docker.io`. Credential
//! helpers (`credsStore`, `credHelpers`) and identity tokens are not run or
//! used; entries that rely on them are skipped with a debug log.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use tracing::debug;

use crate::error::{Error, Result};
use crate::reference::DEFAULT_REGISTRY;

/// Names a podman/skopeo-style auth file read by [`Credentials::from_environment`].
pub const REGISTRY_AUTH_FILE_ENV: &str = "REGISTRY_AUTH_FILE";

/// A username and password (or registry token used as a password).
#[derive(Clone, PartialEq, Eq)]
pub struct Login {
    /// The user name.
    pub username: String,
    /// The password or access token.
    pub password: String,
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login").field("username", &self.username).field("password", &"<redacted>").finish()
    }
}

impl Login {
    /// The `Authorization: Basic …` header value.
    pub(crate) fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw))
    }
}

/// Logins keyed by registry (`host[:port]`, `docker.io` for Docker Hub).
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    logins: HashMap<String, Login>,
}

impl Credentials {
    /// No credentials: every request is anonymous.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the login for `registry`, replacing any earlier one.
    pub fn insert(&mut self, registry: &str, username: &str, password: &str) {
        let login = Login { username: username.to_string(), password: password.to_string() };
        self.logins.insert(normalize_registry(registry), login);
    }

    /// The login for `registry`, if any.
    pub fn get(&self, registry: &str) -> Option<&Login> {
        self.logins.get(&normalize_registry(registry))
    }

    /// Whether there are no logins at all.
    pub fn is_empty(&self) -> bool {
        self.logins.is_empty()
    }

    /// Adds `other`'s logins for registries this set has none for.
    pub fn fill_from(&mut self, other: Credentials) {
        for (registry, login) in other.logins {
            self.logins.entry(registry).or_insert(login);
        }
    }

    /// Reads the files listed in the module docs; missing files are fine,
    /// unreadable or malformed ones are errors.
    pub fn from_environment() -> Result<Self> {
        let mut all = Self::new();
        for path in config_paths(|name| std::env::var_os(name)) {
            match std::fs::read(&path) {
                Ok(bytes) => all.fill_from(Self::from_config_json(&bytes, &path)?),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => debug!(path = %path.display(), "no auth file"),
                Err(e) => return Err(Error::CredentialsFile { path, reason: e.to_string() }),
            }
        }
        Ok(all)
    }

    /// Parses a docker `config.json` or podman `auth.json`; `path` is only
    /// for messages.
    pub fn from_config_json(bytes: &[u8], path: &Path) -> Result<Self> {
        let bad = |reason: String| Error::CredentialsFile { path: path.to_path_buf(), reason };
        let file: ConfigFile = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        let mut out = Self::new();
        for (key, entry) in file.auths {
            let registry = normalize_registry(&key);
            if let Some(login) = entry.login(&key).map_err(bad)? {
                out.logins.entry(registry).or_insert(login);
            } else if file.creds_store.is_some() || file.cred_helpers.contains_key(&key) {
                debug!(registry, path = %path.display(), "credential helpers are not supported; entry skipped");
            }
        }
        Ok(out)
    }
}

#[derive(serde::Deserialize)]
struct ConfigFile {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(rename = "credsStore")]
    creds_store: Option<String>,
    #[serde(rename = "credHelpers", default)]
    cred_helpers: HashMap<String, String>,
}

#[derive(serde::Deserialize)]
struct AuthEntry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

impl AuthEntry {
    fn login(&self, key: &str) -> Result<Option<Login>, String> {
        if let Some(auth) = self.auth.as_deref().filter(|a| !a.is_empty()) {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|e| format!("the auth entry for {key} is not base64: {e}"))?;
            let text = String::from_utf8(raw).map_err(|_| format!("the auth entry for {key} is not UTF-8"))?;
            let (user, pass) =
                text.split_once(':').ok_or_else(|| format!("the auth entry for {key} is not username:password"))?;
            return Ok(Some(Login { username: user.to_string(), password: pass.to_string() }));
        }
        match (&self.username, &self.password) {
            (Some(u), Some(p)) if !u.is_empty() => Ok(Some(Login { username: u.clone(), password: p.clone() })),
            _ => Ok(None),
        }
    }
}

fn config_paths(env: impl Fn(&str) -> Option<OsString>) -> Vec<PathBuf> {
    let set = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let mut paths = Vec::new();
    paths.extend(set(REGISTRY_AUTH_FILE_ENV));
    match set("DOCKER_CONFIG") {
        Some(dir) => paths.push(dir.join("config.json")),
        None => paths.extend(set("HOME").map(|h| h.join(".docker").join("config.json"))),
    }
    paths
}

/// `https://index.docker.io/v1/` → `docker.io`; `Host:5000/x` → `host:5000`.
pub(crate) fn normalize_registry(key: &str) -> String {
    let key = key.trim();
    let key = key.strip_prefix("https://").or_else(|| key.strip_prefix("http://")).unwrap_or(key);
    let host = key.split('/').next().unwrap_or(key).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => DEFAULT_REGISTRY.to_string(),
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_entries() {
        // "dXNlcjpwYTpzcw==" is base64 of "user:pa:ss".
        let json = br#"{
            "auths": {
                "https://index.docker.io/v1/": {"auth": "dXNlcjpwYTpzcw=="},
                "localhost:5000": {"username": "u2", "password": "p2"},
                "helped.example": {}
            },
            "credsStore": "desktop"
        }"#;
        let c = Credentials::from_config_json(json, Path::new("config.json")).unwrap();
        let hub = c.get("docker.io").unwrap();
        assert_eq!((hub.username.as_str(), hub.password.as_str()), ("user", "pa:ss"));
        assert_eq!(c.get("registry-1.docker.io"), Some(hub));
        assert_eq!(c.get("LOCALHOST:5000").unwrap().username, "u2");
        assert!(c.get("helped.example").is_none());
        assert!(!format!("{hub:?}").contains("pa:ss"));
        assert_eq!(hub.basic_header(), "Basic dXNlcjpwYTpzcw==");
    }

    #[test]
    fn malformed_config_names_the_file() {
        let err = Credentials::from_config_json(br#"{"auths":{"r":{"auth":"***"}}}"#, Path::new("/x/c.json"));
        let msg = err.unwrap_err().to_string();
        assert!(msg.starts_with("cannot use credentials file /x/c.json: the auth entry for r is not base64"), "{msg}");
        assert!(msg.contains("hint:"));
    }

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.into())
    }

    #[test]
    fn paths_in_order() {
        let vars = [(REGISTRY_AUTH_FILE_ENV, "/a.json"), ("DOCKER_CONFIG", "/d"), ("HOME", "/h")];
        assert_eq!(config_paths(env(&vars)), [PathBuf::from("/a.json"), PathBuf::from("/d/config.json")]);
        assert_eq!(config_paths(env(&vars[2..])), [PathBuf::from("/h/.docker/config.json")]);
        assert!(config_paths(env(&[("DOCKER_CONFIG", "")])).is_empty());
    }
}
