//! Image references, parsed and normalised the way docker/distribution's
//! `ParseNormalizedNamed` does:
//! `[registry[:port]/]repository[:tag][@sha256:hex]`.
//!
//! - The first path component is a registry only if it contains `.` or `:`,
//!   is `localhost`, or has uppercase letters; otherwise the registry is
//!   `docker.io` (`index.docker.io` is an alias of it).
//! - On `docker.io` a one-component name gets `library/` in front.
//! - With neither tag nor digest the tag is `latest`; with a digest and no
//!   tag there is no tag, and with both the digest is what gets pulled.
//!
//! [`fmt::Display`] prints the full normalised form, which parses back to
//! the same value: `docker.io/library/alpine:latest`.

use std::fmt;
use std::str::FromStr;

use crate::digest::Digest;
use crate::error::Error;

/// The registry of references that name none.
pub const DEFAULT_REGISTRY: &str = "docker.io";
/// Where [`DEFAULT_REGISTRY`]'s API actually lives.
pub const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";
/// The tag of references that name neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";

const NAME_MAX: usize = 255;
const TAG_MAX: usize = 128;

/// A repository on a registry: `registry/name`, e.g. `docker.io/library/alpine`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Repository {
    registry: String,
    name: String,
}

/// A repository plus a tag and/or a digest.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Reference {
    repository: Repository,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Repository {
    /// Parses `[registry[:port]/]name` with docker's normalisation.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let fail = |reason: &str| Error::InvalidReference { input: input.to_string(), reason: reason.to_string() };
        let slash = input.find('/');
        let (registry, name) = match slash {
            Some(i) if looks_like_registry(&input[..i]) => (&input[..i], &input[i + 1..]),
            _ => (DEFAULT_REGISTRY, input),
        };
        let registry = if registry == "index.docker.io" { DEFAULT_REGISTRY } else { registry };
        check_registry(registry).map_err(fail)?;
        check_name(name).map_err(fail)?;
        let name = if registry == DEFAULT_REGISTRY && !name.contains('/') {
            format!("library/{name}")
        } else {
            name.to_string()
        };
        if registry.len() + 1 + name.len() > NAME_MAX {
            return Err(fail("the name is longer than 255 characters"));
        }
        Ok(Self { registry: registry.to_string(), name })
    }

    /// The registry as named: `host[:port]`, `docker.io` for Docker Hub.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path on the registry, e.g. `library/alpine`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `host[:port]` serving the registry API (Docker Hub's differs
    /// from its name).
    pub fn api_host(&self) -> &str {
        api_host(&self.registry)
    }
}

/// The `host[:port]` serving `registry`'s API.
pub fn api_host(registry: &str) -> &str {
    if registry == DEFAULT_REGISTRY {
        DOCKER_HUB_API_HOST
    } else {
        registry
    }
}

impl Reference {
    /// Parses a reference; see the module docs for the defaults applied.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let fail = |reason: &str| Error::InvalidReference { input: input.to_string(), reason: reason.to_string() };
        if input.len() == 64 && input.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(fail("a bare 64-hex-digit string is an image id, not a reference"));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((rest, d)) => {
                (rest, Some(d.parse::<Digest>().map_err(|_| fail("the digest is not sha256:<64 hex>"))?))
            }
            None => (input, None),
        };
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag {
            check_tag(tag).map_err(fail)?;
        }
        let repository = Repository::parse(name).map_err(|e| match e {
            Error::InvalidReference { reason, .. } => fail(&reason),
            other => other,
        })?;
        let tag = match (tag, digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, None) => Some(DEFAULT_TAG.to_string()),
            (None, Some(_)) => None,
        };
        Ok(Self { repository, tag, digest })
    }

    /// A reference to `tag` in `repository`.
    pub fn with_tag(repository: Repository, tag: &str) -> Result<Self, Error> {
        check_tag(tag).map_err(|reason| Error::InvalidReference {
            input: format!("{repository}:{tag}"),
            reason: reason.to_string(),
        })?;
        Ok(Self { repository, tag: Some(tag.to_string()), digest: None })
    }

    /// A reference to the manifest `digest` in `repository`.
    pub fn with_digest(repository: Repository, digest: Digest) -> Self {
        Self { repository, tag: None, digest: Some(digest) }
    }

    /// This reference pinned to `digest`, keeping the tag for display.
    pub fn pinned(&self, digest: Digest) -> Self {
        Self { digest: Some(digest), ..self.clone() }
    }

    /// The repository.
    pub fn repository(&self) -> &Repository {
        &self.repository
    }

    /// The registry as named (`docker.io` for Docker Hub).
    pub fn registry(&self) -> &str {
        &self.repository.registry
    }

    /// The tag, if any (`latest` when the input named neither tag nor digest).
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// What goes in `/v2/<name>/manifests/<here>`: the digest if there is
    /// one, else the tag.
    pub fn manifest_path_part(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => DEFAULT_TAG.to_string(),
        }
    }
}

impl FromStr for Reference {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl FromStr for Repository {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.name)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

fn looks_like_registry(first: &str) -> bool {
    first.contains(['.', ':']) || first == "localhost" || first.bytes().any(|b| b.is_ascii_uppercase())
}

/// `host[:port]` where host is dot-separated DNS labels or `[ipv6]`.
pub(crate) fn check_registry(registry: &str) -> Result<(), &'static str> {
    let (host, port) = match registry.strip_prefix('[') {
        Some(v6) => {
            let (addr, after) = v6.split_once(']').ok_or("the registry's IPv6 address lacks a closing ]")?;
            if addr.is_empty() || !addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
                return Err("the registry's IPv6 address is malformed");
            }
            (None, if after.is_empty() { None } else { Some(after.strip_prefix(':').ok_or("junk after ]")?) })
        }
        None => match registry.rsplit_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(registry), None),
        },
    };
    if let Some(port) = port {
        if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err("the registry port is not a number");
        }
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    match host {
        Some(h) if !h.split('.').all(label_ok) => Err("the registry host is not a valid host name"),
        _ => Ok(()),
    }
}

/// Slash-separated components of `[a-z0-9]+` joined by `.`, `_`, `__` or
/// runs of `-`.
fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("the repository name is empty");
    }
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err("the repository name must be lowercase");
    }
    for component in name.split('/') {
        check_component(component)?;
    }
    Ok(())
}

fn check_component(c: &str) -> Result<(), &'static str> {
    const BAD: &str = "a repository name component must be [a-z0-9]+ joined by '.', '_', '__' or '-'";
    let bytes = c.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return Err(BAD);
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        match &c[start..i] {
            "." | "_" | "__" => {}
            sep if sep.bytes().all(|b| b == b'-') => {}
            _ => return Err(BAD),
        }
    }
    Ok(())
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub(crate) fn check_tag(tag: &str) -> Result<(), &'static str> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    match tag.as_bytes() {
        [] => Err("the tag is empty"),
        t if t.len() > TAG_MAX => Err("the tag is longer than 128 characters"),
        [first, rest @ ..] if word(*first) && rest.iter().all(|&b| word(b) || b == b'.' || b == b'-') => Ok(()),
        _ => Err("a tag must be [A-Za-z0-9_][A-Za-z0-9_.-]*"),
    }
}
