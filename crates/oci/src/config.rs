//! What the caller says about an image ([`ImageConfig`]) and the checks
//! that keep it to what Docker, containerd and runc accept.

use std::collections::BTreeMap;

use crate::spec::{ConfigFile, ContainerConfig, Empty, History, Platform, RootFs};
use crate::Digest;

/// The image's run settings, platform, date and name.
///
/// `entrypoint` and `cmd` become the config's `Entrypoint` and `Cmd`
/// (omitted when empty), `env` entries are `KEY=value`, `exposed_ports`
/// are `80/tcp`-style (a bare `80` means tcp), `labels` go into the config
/// and `annotations` onto the manifest and the index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageConfig {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub exposed_ports: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub stop_signal: Option<String>,
    /// Go's name, as in the config: `linux`.
    pub os: String,
    /// Go's name: `amd64`, `arm64`, `arm`, `386`, ... See [`debian_platform`].
    pub architecture: String,
    /// `v7` for `arm`; `None` for most architectures.
    pub variant: Option<String>,
    /// Seconds since the Unix epoch, usually `SOURCE_DATE_EPOCH`.
    pub created: i64,
    /// The repository for docker-archive `RepoTags`, e.g. `microroot/hello`.
    pub repository: Option<String>,
    /// The tag: the layout's `org.opencontainers.image.ref.name`, and the
    /// part after `:` in `RepoTags` (`latest` when only a repository is set).
    pub tag: Option<String>,
}

impl Default for ImageConfig {
    /// linux/amd64, created at the epoch, no name, nothing to run.
    fn default() -> Self {
        ImageConfig {
            entrypoint: Vec::new(),
            cmd: Vec::new(),
            env: Vec::new(),
            user: None,
            working_dir: None,
            exposed_ports: Vec::new(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            stop_signal: None,
            os: "linux".to_owned(),
            architecture: "amd64".to_owned(),
            variant: None,
            created: 0,
            repository: None,
            tag: None,
        }
    }
}

/// A setting an image cannot carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment entry `{0}` has no `=`\nhint: write each entry as KEY=value")]
    Env(String),
    #[error("exposed port `{0}` is not PORT or PORT/PROTO\nhint: write e.g. 80, 80/tcp, 53/udp or 9/sctp, with a port from 1 to 65535")]
    Port(String),
    #[error("tag `{0}` is not a valid image tag\nhint: a tag has 1 to 128 letters, digits, `_`, `.` or `-` and does not start with `.` or `-`")]
    Tag(String),
    #[error("repository `{0}` is not a valid image name\nhint: use lowercase letters, digits and `._-` in `/`-separated parts, e.g. microroot/hello")]
    Repository(String),
    #[error("working directory `{0}` is not absolute\nhint: start it with /")]
    WorkingDir(String),
    #[error(
        "creation time {0} is outside the years 0000-9999 that an image date can hold\nhint: check SOURCE_DATE_EPOCH"
    )]
    Created(i64),
    #[error("the {what} of the image is empty\nhint: use Go's names, e.g. os linux and architecture amd64; see debian_platform")]
    Platform { what: &'static str },
    #[error("unknown Debian architecture `{0}`\nhint: known are amd64, arm64, armhf, armel, i386, ppc64el, s390x, riscv64, mips64el, loong64")]
    DebianArch(String),
}

/// OCI's `(architecture, variant)` for a Debian architecture name, or
/// `None` if the name is unknown. armel is ARMv5TE and armhf ARMv7 in
/// Debian, hence `arm` with `v5` and `v7`.
pub fn debian_platform(debian_arch: &str) -> Option<(&'static str, Option<&'static str>)> {
    Some(match debian_arch {
        "amd64" => ("amd64", None),
        "arm64" => ("arm64", None),
        "armhf" => ("arm", Some("v7")),
        "armel" => ("arm", Some("v5")),
        "i386" => ("386", None),
        "ppc64el" => ("ppc64le", None),
        "s390x" => ("s390x", None),
        "riscv64" => ("riscv64", None),
        "mips64el" => ("mips64le", None),
        "loong64" => ("loong64", None),
        _ => return None,
    })
}

impl ImageConfig {
    /// The defaults with the platform of a Debian architecture.
    pub fn for_debian_arch(debian_arch: &str) -> Result<Self, ConfigError> {
        let (arch, variant) =
            debian_platform(debian_arch).ok_or_else(|| ConfigError::DebianArch(debian_arch.into()))?;
        Ok(ImageConfig { architecture: arch.into(), variant: variant.map(Into::into), ..ImageConfig::default() })
    }

    pub fn platform(&self) -> Platform {
        Platform {
            architecture: self.architecture.clone(),
            os: self.os.clone(),
            variant: self.variant.clone(),
            ..Platform::default()
        }
    }

    /// `repository:tag` for a docker-archive's `RepoTags`, when named.
    pub fn repo_tag(&self) -> Option<String> {
        let repo = self.repository.as_deref()?;
        Some(format!("{repo}:{}", self.tag.as_deref().unwrap_or("latest")))
    }

    /// Checks every field; [`crate::Image::build`] calls this first.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(bad) = self.env.iter().find(|e| e.split_once('=').is_none_or(|(k, _)| k.is_empty())) {
            return Err(ConfigError::Env(bad.clone()));
        }
        for port in &self.exposed_ports {
            normalize_port(port)?;
        }
        if let Some(tag) = self.tag.as_deref().filter(|t| !valid_tag(t)) {
            return Err(ConfigError::Tag(tag.to_owned()));
        }
        if let Some(repo) = self.repository.as_deref().filter(|r| !valid_repository(r)) {
            return Err(ConfigError::Repository(repo.to_owned()));
        }
        if let Some(dir) = self.working_dir.as_deref().filter(|d| !d.starts_with('/')) {
            return Err(ConfigError::WorkingDir(dir.to_owned()));
        }
        for (what, value) in [("os", &self.os), ("architecture", &self.architecture)] {
            if value.is_empty() {
                return Err(ConfigError::Platform { what });
            }
        }
        self.created_rfc3339().map(drop)
    }

    pub(crate) fn created_rfc3339(&self) -> Result<String, ConfigError> {
        microroot_time::rfc3339(self.created).ok_or(ConfigError::Created(self.created))
    }

    /// The config blob for layers with these diff ids and history entries.
    pub(crate) fn config_file(&self, diff_ids: Vec<Digest>, history: Vec<History>) -> Result<ConfigFile, ConfigError> {
        let ports = self.exposed_ports.iter().map(|p| Ok((normalize_port(p)?, Empty {})));
        let non_empty = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        let config = ContainerConfig {
            user: self.user.clone(),
            exposed_ports: ports.collect::<Result<_, ConfigError>>()?,
            env: self.env.clone(),
            entrypoint: non_empty(&self.entrypoint),
            cmd: non_empty(&self.cmd),
            volumes: BTreeMap::new(),
            working_dir: self.working_dir.clone(),
            labels: self.labels.clone(),
            stop_signal: self.stop_signal.clone(),
        };
        Ok(ConfigFile {
            created: Some(self.created_rfc3339()?),
            author: None,
            architecture: self.architecture.clone(),
            os: self.os.clone(),
            variant: self.variant.clone(),
            config: Some(config),
            rootfs: RootFs { kind: "layers".into(), diff_ids },
            history,
        })
    }
}

/// `80` → `80/tcp`; checks the port number and protocol.
fn normalize_port(port: &str) -> Result<String, ConfigError> {
    let (num, proto) = port.split_once('/').unwrap_or((port, "tcp"));
    let num_ok = !num.starts_with('0') && num.parse::<u16>().is_ok_and(|n| n > 0);
    if !num_ok || !matches!(proto, "tcp" | "udp" | "sctp") {
        return Err(ConfigError::Port(port.to_owned()));
    }
    Ok(format!("{num}/{proto}"))
}

/// Docker's tag grammar: `[\w][\w.-]{0,127}`.
fn valid_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    (1..=128).contains(&bytes.len()) && word(bytes[0]) && bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-')
}

/// A simplified Docker reference name: `/`-separated parts of lowercase
/// alphanumerics joined by `.`, `_` or `-`; the first part may be a
/// registry host with a `:port`.
fn valid_repository(repo: &str) -> bool {
    let part_ok = |part: &str| {
        let b = part.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter().all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'-'))
    };
    let mut parts = repo.split('/');
    let first = parts.next().unwrap_or("");
    let (host, port) = first.split_once(':').unwrap_or((first, "1"));
    part_ok(host) && port.parse::<u16>().is_ok() && parts.all(part_ok) && repo.len() <= 255
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_names_map_to_go_names() {
        assert_eq!(debian_platform("armhf"), Some(("arm", Some("v7"))));
        assert_eq!(debian_platform("i386"), Some(("386", None)));
        assert_eq!(debian_platform("ppc64el"), Some(("ppc64le", None)));
        assert_eq!(debian_platform("x86_64"), None);
        let cfg = ImageConfig::for_debian_arch("armel").unwrap();
        assert_eq!((cfg.architecture.as_str(), cfg.variant.as_deref()), ("arm", Some("v5")));
    }

    #[test]
    fn validation_names_the_bad_value() {
        let bad = |f: fn(&mut ImageConfig)| {
            let mut c = ImageConfig::default();
            f(&mut c);
            c.validate().unwrap_err().to_string()
        };
        assert!(bad(|c| c.env = vec!["PATH".into()]).starts_with("environment entry `PATH`"));
        assert!(bad(|c| c.exposed_ports = vec!["80/icmp".into()]).contains("`80/icmp`"));
        assert!(bad(|c| c.exposed_ports = vec!["0".into()]).contains("`0`"));
        assert!(bad(|c| c.tag = Some("-x".into())).contains("tag `-x`"));
        assert!(bad(|c| c.repository = Some("Hello".into())).contains("`Hello`"));
        assert!(bad(|c| c.created = i64::MAX).contains("outside the years"));
        let mut ok = ImageConfig { repository: Some("localhost:5000/a/b-c".into()), ..ImageConfig::default() };
        ok.exposed_ports = vec!["80".into(), "53/udp".into()];
        ok.validate().unwrap();
        assert_eq!(ok.repo_tag().unwrap(), "localhost:5000/a/b-c:latest");
        assert_eq!(normalize_port("80").unwrap(), "80/tcp");
    }
}
