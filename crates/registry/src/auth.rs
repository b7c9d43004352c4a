//! Answers to 401 challenges, remembered per registry.
//!
//! `Bearer realm=…,service=…` → `GET realm?service=…&scope=…` (with Basic
//! credentials if the registry has a login, else anonymously) for a token,
//! cached per scope until shortly before it expires; `Basic realm=…` → the
//! registry's login as Basic auth. After the first challenge, later
//! requests send the right header up front.

use std::io::Read;
use std::time::{Duration, Instant};

use tracing::debug;
use ureq::http::Method;

use crate::challenge::{parse_www_authenticate, Challenge, Scope};
use crate::client::{Attempt, Client};
use crate::error::Error;
use crate::http::{status_error, with_query, Call};

/// Largest token response read.
const TOKEN_BODY_LIMIT: u64 = 1 << 20;
/// Lifetime of a token whose response does not say (the spec's default).
const DEFAULT_TOKEN_SECONDS: u64 = 60;
/// Tokens are dropped this long before they expire.
const EXPIRY_MARGIN: Duration = Duration::from_secs(10);

/// What a registry asked for, and the tokens it gave.
#[derive(Default)]
pub(crate) struct RegistryAuth {
    basic: bool,
    tokens: Vec<(Scope, String, Instant)>,
}

impl Client {
    /// The `Authorization` value to send before any challenge, if known.
    pub(crate) fn cached_auth(&self, registry: &str, scope: &Scope) -> Option<String> {
        let map = self.auth.lock().unwrap_or_else(|e| e.into_inner());
        let state = map.get(registry)?;
        if state.basic {
            return self.options.credentials.get(registry).map(|l| l.basic_header());
        }
        let now = Instant::now();
        state.tokens.iter().find(|(s, _, until)| s == scope && *until > now).map(|(_, t, _)| format!("Bearer {t}"))
    }

    /// The `Authorization` value answering `header` (a `WWW-Authenticate`
    /// value), or `None` when this client has nothing to answer with.
    pub(crate) fn authenticate(&self, call: &Call<'_>, header: &str) -> Result<Option<String>, Attempt> {
        let challenges = parse_www_authenticate(header);
        debug!(registry = call.registry, ?challenges, "auth challenge");
        if let Some(bearer) = challenges.iter().find(|c| c.scheme == "bearer") {
            let (token, lifetime) = self.fetch_token(call, bearer)?;
            let until = Instant::now() + lifetime.saturating_sub(EXPIRY_MARGIN);
            let mut map = self.auth.lock().unwrap_or_else(|e| e.into_inner());
            let state = map.entry(call.registry.to_string()).or_default();
            state.basic = false;
            state.tokens.retain(|(s, _, _)| s != call.scope);
            state.tokens.push((call.scope.clone(), token.clone(), until));
            return Ok(Some(format!("Bearer {token}")));
        }
        if challenges.iter().any(|c| c.scheme == "basic") {
            let mut map = self.auth.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(call.registry.to_string()).or_default().basic = true;
            return Ok(self.options.credentials.get(call.registry).map(|l| l.basic_header()));
        }
        Ok(None)
    }

    fn fetch_token(&self, call: &Call<'_>, challenge: &Challenge) -> Result<(String, Duration), Attempt> {
        let realm = challenge.param("realm").ok_or_else(|| Error::BadResponse {
            url: call.url.clone(),
            reason: format!("Bearer challenge without a realm: {:?}", challenge.params),
        })?;
        let mut url = realm.to_string();
        if let Some(service) = challenge.param("service") {
            url = with_query(&url, "service", service);
        }
        for scope in call.scope.items() {
            url = with_query(&url, "scope", scope);
        }
        let login = self.options.credentials.get(call.registry);
        let token_call = Call::new(Method::GET, url, call.registry, call.scope);
        debug!(url = %token_call.url, user = login.map(|l| l.username.as_str()), "fetching token");
        self.check_scheme(&token_call.url)?;
        let response = self.run(&token_call, login.map(|l| l.basic_header()).as_deref())?;
        match response.status().as_u16() {
            200 => {}
            401 => return Err(Attempt::fatal(self.unauthorized(&token_call, response, login.is_some()))),
            _ => {
                let response = self.classify(&token_call, response)?;
                return Err(Attempt::fatal(status_error(&token_call, response)));
            }
        }
        let mut text = String::new();
        let read = response.into_body().into_reader().take(TOKEN_BODY_LIMIT).read_to_string(&mut text);
        read.map_err(|e| Attempt::retry(Error::Network { url: token_call.url.clone(), reason: e.to_string() }, None))?;
        parse_token(&text).map_err(|reason| Attempt::fatal(Error::BadResponse { url: token_call.url.clone(), reason }))
    }
}

/// A token response: `token` or `access_token`, and `expires_in` seconds.
fn parse_token(text: &str) -> Result<(String, Duration), String> {
    #[derive(serde::Deserialize)]
    struct TokenResponse {
        token: Option<String>,
        access_token: Option<String>,
        expires_in: Option<u64>,
    }
    let parsed: TokenResponse = serde_json::from_str(text).map_err(|e| format!("token response is not JSON: {e}"))?;
    let token = parsed.token.or(parsed.access_token).filter(|t| !t.is_empty());
    let token = token.ok_or("token response has neither token nor access_token")?;
    let seconds = parsed.expires_in.filter(|&s| s > 0).unwrap_or(DEFAULT_TOKEN_SECONDS);
    Ok((token, Duration::from_secs(seconds)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_responses() {
        let hub = r#"{"token":"abc","access_token":"abc","expires_in":300,"issued_at":"2024-01-01T00:00:00Z"}"#;
        assert_eq!(parse_token(hub).unwrap(), ("abc".to_string(), Duration::from_secs(300)));
        assert_eq!(parse_token(r#"{"access_token":"x"}"#).unwrap(), ("x".to_string(), Duration::from_secs(60)));
        assert!(parse_token(r#"{"token":""}"#).unwrap_err().contains("neither"));
        assert!(parse_token("<html>").unwrap_err().contains("not JSON"));
    }
}
