//! One HTTP exchange with a registry: build the request, attach cached
//! auth, answer a 401 challenge once, and classify what came back.

use std::io::Read;
use std::time::SystemTime;

use tracing::debug;
use ureq::http::{Method, Response};
use ureq::Body;

use crate::challenge::Scope;
use crate::client::{authority, Attempt, Client};
use crate::error::Error;
use crate::retry;

/// Largest error body read for its message.
const ERROR_BODY_LIMIT: u64 = 64 << 10;

/// A request that can be sent again (after a 401 or for a retry).
pub(crate) struct Call<'a> {
    pub(crate) method: Method,
    pub(crate) url: String,
    /// The registry as named, for credentials, tokens and messages.
    pub(crate) registry: &'a str,
    pub(crate) scope: &'a Scope,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Option<&'a [u8]>,
}

impl<'a> Call<'a> {
    pub(crate) fn new(method: Method, url: impl Into<String>, registry: &'a str, scope: &'a Scope) -> Self {
        Self { method, url: url.into(), registry, scope, headers: Vec::new(), body: None }
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn body(mut self, body: &'a [u8]) -> Self {
        self.body = Some(body);
        self
    }
}

impl Client {
    /// Sends `call`, authenticating on a 401. Transient statuses become
    /// [`Attempt::Retry`], a 401 that survives auth and a 403 are fatal;
    /// any other status is the caller's to judge.
    pub(crate) fn send(&self, call: &Call<'_>) -> Result<Response<Body>, Attempt> {
        self.check_scheme(&call.url)?;
        let cached = self.cached_auth(call.registry, call.scope);
        let response = self.run(call, cached.as_deref())?;
        if response.status().as_u16() != 401 {
            return self.classify(call, response);
        }
        let had_credentials = self.options.credentials.get(call.registry).is_some();
        let challenge = header(&response, "www-authenticate").unwrap_or_default().to_string();
        let fresh = match self.authenticate(call, &challenge)? {
            Some(fresh) if Some(&fresh) != cached.as_ref() => fresh,
            _ => return Err(Attempt::fatal(self.unauthorized(call, response, had_credentials))),
        };
        debug!(url = %call.url, "retrying with fresh credentials");
        let response = self.run(call, Some(&fresh))?;
        if response.status().as_u16() == 401 {
            return Err(Attempt::fatal(self.unauthorized(call, response, had_credentials)));
        }
        self.classify(call, response)
    }

    /// One request on the wire, with `authorization` if given.
    pub(crate) fn run(&self, call: &Call<'_>, authorization: Option<&str>) -> Result<Response<Body>, Attempt> {
        debug!(method = %call.method, url = %call.url, "request");
        let mut builder = ureq::http::Request::builder().method(call.method.clone()).uri(&call.url);
        for (name, value) in &call.headers {
            builder = builder.header(*name, value);
        }
        if let Some(auth) = authorization {
            builder = builder.header("authorization", auth);
        }
        let agent = self.agent_for(&call.url);
        let result = match call.body {
            Some(body) => builder.body(body).map(|r| agent.run(r)),
            None => builder.body(()).map(|r| agent.run(r)),
        };
        let result = result.map_err(|e| Error::BadResponse { url: call.url.clone(), reason: e.to_string() })?;
        result.map_err(|e| self.transport_error(&call.url, e))
    }

    pub(crate) fn classify(&self, call: &Call<'_>, response: Response<Body>) -> Result<Response<Body>, Attempt> {
        let status = response.status().as_u16();
        if retry::is_transient_status(status) {
            let retry_after =
                header(&response, "retry-after").and_then(|v| retry::parse_retry_after(v, SystemTime::now()));
            let error = if status == 429 {
                Error::RateLimited { registry: call.registry.to_string(), url: call.url.clone(), attempts: 1 }
            } else {
                status_error(call, response)
            };
            return Err(Attempt::retry(error, retry_after));
        }
        if status == 403 {
            let message = error_message(response);
            return Err(Attempt::fatal(Error::Denied {
                registry: call.registry.to_string(),
                method: call.method.to_string(),
                url: call.url.clone(),
                scope: call.scope.actions().to_string(),
                message,
            }));
        }
        Ok(response)
    }

    pub(crate) fn unauthorized(&self, call: &Call<'_>, response: Response<Body>, had_credentials: bool) -> Error {
        Error::Unauthorized {
            registry: call.registry.to_string(),
            method: call.method.to_string(),
            url: call.url.clone(),
            had_credentials,
            message: error_message(response),
        }
    }

    /// Maps a transport failure: plain HTTP where TLS was required is
    /// refused with a hint, connection trouble is retried.
    pub(crate) fn transport_error(&self, url: &str, error: ureq::Error) -> Attempt {
        let text = error.to_string();
        let plain_answer = text.contains("InvalidContentType") || text.contains("corrupt message");
        // A redirect to http:// from an HTTPS-only agent names its target.
        let refused = match &error {
            ureq::Error::RequireHttpsOnly(target) => Some(target.as_str()),
            _ if plain_answer => Some(url),
            _ => None,
        };
        if let Some(refused) = refused {
            let host = authority(refused.split_once("://").map_or(refused, |(_, rest)| rest));
            return Attempt::fatal(Error::PlainHttpRefused {
                host: host.to_string(),
                url: refused.to_string(),
                answered: plain_answer,
            });
        }
        let transient = retry::is_transient(&error);
        let error = Error::Network { url: url.to_string(), reason: text };
        if transient {
            Attempt::retry(error, None)
        } else {
            Attempt::fatal(error)
        }
    }
}

/// A response header as text.
pub(crate) fn header<'r>(response: &'r Response<Body>, name: &str) -> Option<&'r str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// An [`Error::Status`] for a status the caller did not expect.
pub(crate) fn status_error(call: &Call<'_>, response: Response<Body>) -> Error {
    let status = response.status().as_u16();
    Error::Status { method: call.method.to_string(), url: call.url.clone(), status, message: error_message(response) }
}

/// The registry's explanation: `CODE: message` from the spec's error JSON
/// (`{"errors":[{"code":…,"message":…}]}`), else the start of the body.
pub(crate) fn error_message(response: Response<Body>) -> String {
    let mut text = String::new();
    let mut reader = response.into_body().into_reader().take(ERROR_BODY_LIMIT);
    let _ = reader.read_to_string(&mut text);
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    if let Ok(parsed) = serde_json::from_str::<Errors>(&text) {
        let parts: Vec<String> = parsed.errors.iter().map(|e| format!("{}: {}", e.code, e.message)).collect();
        return parts.join("; ");
    }
    let text = text.trim();
    text.char_indices().nth(200).map_or(text, |(i, _)| &text[..i]).to_string()
}

/// Resolves a `Location` header against the URL of the request that
/// returned it: absolute, scheme-relative, absolute-path or relative.
pub(crate) fn resolve_location(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_string();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
    if let Some(net) = location.strip_prefix("//") {
        return format!("{scheme}://{net}");
    }
    let authority = authority(rest);
    if location.starts_with('/') {
        return format!("{scheme}://{authority}{location}");
    }
    let path = rest.split(['?', '#']).next().unwrap_or(rest);
    let dir = path.rfind('/').map_or(path, |i| &path[..=i]);
    let dir = if dir == authority { format!("{authority}/") } else { dir.to_string() };
    format!("{scheme}://{dir}{location}")
}

/// Appends `key=value` to `url`'s query, percent-encoding the value.
pub(crate) fn with_query(url: &str, key: &str, value: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{key}={}", encode(value))
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub(crate) fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let base = "http://127.0.0.1:5000/v2/a/b/blobs/uploads/";
        assert_eq!(resolve_location(base, "https://s3.example/x?y=1"), "https://s3.example/x?y=1");
        assert_eq!(
            resolve_location(base, "/v2/a/b/blobs/uploads/uuid?_state=x%3D"),
            "http://127.0.0.1:5000/v2/a/b/blobs/uploads/uuid?_state=x%3D"
        );
        assert_eq!(resolve_location(base, "//other:1/p"), "http://other:1/p");
        assert_eq!(resolve_location(base, "uuid"), "http://127.0.0.1:5000/v2/a/b/blobs/uploads/uuid");
        assert_eq!(resolve_location("https://h?q", "x"), "https://h/x");
    }

    #[test]
    fn queries() {
        assert_eq!(with_query("https://h/p", "digest", "sha256:ab"), "https://h/p?digest=sha256%3Aab");
        assert_eq!(with_query("https://h/p?_state=1", "from", "a/b"), "https://h/p?_state=1&from=a%2Fb");
        assert_eq!(encode("repository:x/y:pull,push"), "repository%3Ax%2Fy%3Apull%2Cpush");
    }
}
