//! `WWW-Authenticate` parsing (RFC 9110 §11.6.1) and token scopes.

/// One authentication challenge: a scheme and its parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme in lowercase: `bearer`, `basic`, …
    pub scheme: String,
    /// Parameters in order; names in lowercase, values unquoted.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// The value of parameter `name` (lowercase).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Parses every challenge in a `WWW-Authenticate` value, e.g.
/// `Bearer realm="https://auth.docker.io/token",service="registry.docker.io"`.
/// Unparseable tails are dropped rather than failing the whole header.
pub fn parse_www_authenticate(header: &str) -> Vec<Challenge> {
    let mut cursor = Cursor { s: header, pos: 0 };
    let mut out: Vec<Challenge> = Vec::new();
    loop {
        cursor.skip(|c| c == ',' || c.is_ascii_whitespace());
        let token = cursor.token();
        if token.is_empty() {
            break;
        }
        cursor.skip(|c| c == ' ' || c == '\t');
        if cursor.peek() == Some('=') && !out.is_empty() && !is_token68_tail(&cursor) {
            cursor.pos += 1;
            cursor.skip(|c| c == ' ' || c == '\t');
            let value = cursor.value();
            if let Some(last) = out.last_mut() {
                last.params.push((token.to_ascii_lowercase(), value));
            }
        } else if cursor.peek() == Some('=') {
            // token68 (`Basic dXNlcg==`): not used by registries; skip it.
            cursor.skip(|c| c == '=');
        } else {
            out.push(Challenge { scheme: token.to_ascii_lowercase(), params: Vec::new() });
        }
    }
    out
}

/// `=` followed by more `=` or the end/comma is token68 padding, not a param.
fn is_token68_tail(c: &Cursor<'_>) -> bool {
    let rest = &c.s[c.pos + 1..];
    rest.starts_with('=') || rest.trim_start().is_empty() || rest.trim_start().starts_with(',')
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<char> {
        self.s[self.pos..].chars().next()
    }

    fn skip(&mut self, f: impl Fn(char) -> bool) {
        while let Some(c) = self.peek().filter(|&c| f(c)) {
            self.pos += c.len_utf8();
        }
    }

    fn token(&mut self) -> &'a str {
        let start = self.pos;
        self.skip(|c| !(c == ',' || c == '=' || c == '"' || c.is_ascii_whitespace()));
        &self.s[start..self.pos]
    }

    fn value(&mut self) -> String {
        if self.peek() != Some('"') {
            return self.token().to_string();
        }
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.s[self.pos..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += i + 1;
                    return out;
                }
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        out.push(escaped);
                    }
                }
                c => out.push(c),
            }
        }
        self.pos = self.s.len();
        out
    }
}

/// The access a request needs, as token scopes:
/// `repository:NAME:pull` or `repository:NAME:pull,push`, plus
/// `repository:SOURCE:pull` for a cross-repository mount.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Scope(Vec<String>);

impl Scope {
    pub(crate) fn pull(name: &str) -> Self {
        Self(vec![format!("repository:{name}:pull")])
    }

    pub(crate) fn push(name: &str) -> Self {
        Self(vec![format!("repository:{name}:pull,push")])
    }

    pub(crate) fn push_mounting(name: &str, from: &str) -> Self {
        Self(vec![format!("repository:{name}:pull,push"), format!("repository:{from}:pull")])
    }

    pub(crate) fn items(&self) -> &[String] {
        &self.0
    }

    /// `pull` or `pull,push` for messages.
    pub(crate) fn actions(&self) -> &str {
        self.0.first().and_then(|s| s.rsplit(':').next()).unwrap_or("pull")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(c: &Challenge) -> Vec<(&str, &str)> {
        c.params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    #[test]
    fn docker_hub_bearer() {
        // As sent by registry-1.docker.io for an anonymous manifest GET.
        let h = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#;
        let c = parse_www_authenticate(h);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(
            params(&c[0]),
            [
                ("realm", "https://auth.docker.io/token"),
                ("service", "registry.docker.io"),
                ("scope", "repository:library/alpine:pull")
            ]
        );
    }

    #[test]
    fn ghcr_and_insufficient_scope() {
        let h = r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:user/image:pull,push",error="insufficient_scope""#;
        let c = &parse_www_authenticate(h)[0];
        assert_eq!(c.param("scope"), Some("repository:user/image:pull,push"));
        assert_eq!(c.param("error"), Some("insufficient_scope"));
    }

    #[test]
    fn basic_and_multiple_challenges() {
        // docker-registry's htpasswd auth.
        let c = parse_www_authenticate(r#"Basic realm="microroot-test""#);
        assert_eq!(c, [Challenge { scheme: "basic".into(), params: vec![("realm".into(), "microroot-test".into())] }]);
        let h = r#"Bearer realm="https://a/t", service=reg , Basic realm="x\"y",charset="UTF-8""#;
        let c = parse_www_authenticate(h);
        assert_eq!(c.len(), 2);
        assert_eq!(params(&c[0]), [("realm", "https://a/t"), ("service", "reg")]);
        assert_eq!(c[1].scheme, "basic");
        assert_eq!(params(&c[1]), [("realm", "x\"y"), ("charset", "UTF-8")]);
    }

    #[test]
    fn odd_input_does_not_panic() {
        for h in
            ["", ",,", "Bearer", "Bearer realm=", "Bearer realm=\"unterminated", "Basic dXNlcjpwdw==", "=x", "é=\"ü\""]
        {
            let _ = parse_www_authenticate(h);
        }
        assert_eq!(parse_www_authenticate("Basic dXNlcjpwdw==")[0].scheme, "basic");
        assert_eq!(parse_www_authenticate("Bearer realm=\"unterminated")[0].param("realm"), Some("unterminated"));
    }

    #[test]
    fn scopes() {
        assert_eq!(Scope::pull("a/b").items(), ["repository:a/b:pull"]);
        assert_eq!(Scope::push("a/b").actions(), "pull,push");
        assert_eq!(Scope::push_mounting("b", "a").items(), ["repository:b:pull,push", "repository:a:pull"]);
    }
}
