//! The host's apt sources, so that microroot uses the mirror the machine is
//! already configured for instead of a host name written into the code.
//!
//! Reads `etc/apt/sources.list` and `etc/apt/sources.list.d/` (`*.list`
//! one-line files and `*.sources` deb822 files; anything else there, like
//! `*.disabled-by-farm`, is ignored) below a root directory, keeping only
//! enabled `deb` entries. [`primary_mirror`] then picks the main Debian
//! archive among them.

use std::path::{Path, PathBuf};

use crate::deb822::{self, Deb822Error};

/// Why the apt sources could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourcesError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Syntax { path: PathBuf, source: Deb822Error },
    #[error("{path}:{line}: {reason}\nhint: see sources.list(5) for the format")]
    Invalid { path: PathBuf, line: usize, reason: String },
}

/// Who signs a source's `InRelease`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedBy {
    Keyrings(Vec<PathBuf>),
    Fingerprints(Vec<String>),
    /// An ASCII-armored key block written into the `.sources` file.
    Inline(String),
}

/// One enabled `deb` entry: every URI × suite combination is a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptSource {
    pub uris: Vec<String>,
    pub suites: Vec<String>,
    pub components: Vec<String>,
    /// Empty means the host's architectures.
    pub architectures: Vec<String>,
    pub signed_by: Option<SignedBy>,
    pub file: PathBuf,
    pub line: usize,
}

/// The primary Debian archive: one URI and suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    pub uri: String,
    pub suite: String,
    pub components: Vec<String>,
    pub signed_by: Option<SignedBy>,
}

/// The host's sources (`root` = `/`).
pub fn host_sources() -> Result<Vec<AptSource>, SourcesError> {
    read_sources(Path::new("/"))
}

/// Reads the sources configured below `root`, in apt's order: the main
/// `sources.list`, then the parts directory sorted by file name.
pub fn read_sources(root: &Path) -> Result<Vec<AptSource>, SourcesError> {
    let etc = root.join("etc/apt");
    let mut files = vec![etc.join("sources.list")];
    let parts = etc.join("sources.list.d");
    match std::fs::read_dir(&parts) {
        Ok(dir) => {
            let mut names: Vec<PathBuf> = dir
                .map(|e| e.map(|e| e.path()).map_err(|source| SourcesError::Io { path: parts.clone(), source }))
                .collect::<Result<_, _>>()?;
            names.sort();
            files.extend(names);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(SourcesError::Io { path: parts, source }),
    }
    let mut out = Vec::new();
    for file in files {
        let parse = match file.extension().and_then(|e| e.to_str()) {
            Some("list") => parse_one_line,
            Some("sources") => parse_deb822,
            _ => continue,
        };
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(SourcesError::Io { path: file, source }),
        };
        out.extend(parse(&text, &file)?);
    }
    Ok(out)
}

/// The first `deb` source that looks like the main archive: a URI whose
/// path ends in `/debian`, a suite that is not `-security`, `-updates` or
/// `-backports`, and the `main` component.
pub fn primary_mirror(sources: &[AptSource]) -> Option<Mirror> {
    let secondary = ["-security", "-updates", "-backports", "proposed-updates"];
    sources.iter().find_map(|s| {
        let uri = s.uris.iter().find(|u| u.trim_end_matches('/').ends_with("/debian"))?;
        let suite = s.suites.iter().find(|suite| !secondary.iter().any(|x| suite.contains(x)))?;
        s.components.iter().any(|c| c == "main").then(|| Mirror {
            uri: uri.trim_end_matches('/').to_owned(),
            suite: suite.clone(),
            components: s.components.clone(),
            signed_by: s.signed_by.clone(),
        })
    })
}

/// Parses a deb822 `.sources` file.
pub fn parse_deb822(text: &str, file: &Path) -> Result<Vec<AptSource>, SourcesError> {
    let mut out = Vec::new();
    for para in deb822::paragraphs(text) {
        let para = para.map_err(|source| SourcesError::Syntax { path: file.to_owned(), source })?;
        let invalid = |reason: String| SourcesError::Invalid { path: file.to_owned(), line: para.line, reason };
        let words =
            |field: &str| para.get(field).unwrap_or("").split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        let enabled = para.get("Enabled").is_none_or(|v| !v.eq_ignore_ascii_case("no"));
        if !enabled || !words("Types").iter().any(|t| t == "deb") {
            continue;
        }
        let (uris, suites) = (words("URIs"), words("Suites"));
        if uris.is_empty() || suites.is_empty() {
            return Err(invalid("a `deb` entry needs `URIs` and `Suites`".into()));
        }
        let signed_by = para.get("Signed-By").map(parse_signed_by).transpose().map_err(invalid)?;
        let (components, architectures) = (words("Components"), words("Architectures"));
        let file = file.to_owned();
        out.push(AptSource { uris, suites, components, architectures, signed_by, file, line: para.line });
    }
    Ok(out)
}

/// Parses one-line `deb [options] uri suite [component…]` entries.
pub fn parse_one_line(text: &str, file: &Path) -> Result<Vec<AptSource>, SourcesError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let invalid =
            |reason: &str| SourcesError::Invalid { path: file.to_owned(), line: i + 1, reason: reason.into() };
        let (kind, rest) = line.split_once(char::is_whitespace).ok_or_else(|| invalid("expected `deb uri suite`"))?;
        match kind {
            "deb" => {}
            "deb-src" => continue,
            _ => return Err(invalid("the type must be `deb` or `deb-src`")),
        }
        let (options, rest) = match rest.trim_start().strip_prefix('[') {
            Some(r) => r.split_once(']').ok_or_else(|| invalid("unclosed `[` in the options"))?,
            None => ("", rest),
        };
        let mut words = rest.split_whitespace().map(str::to_owned);
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else {
            return Err(invalid("expected `deb uri suite [component…]`"));
        };
        let mut source = AptSource {
            uris: vec![uri],
            suites: vec![suite],
            components: words.collect(),
            architectures: Vec::new(),
            signed_by: None,
            file: file.to_owned(),
            line: i + 1,
        };
        apply_options(&mut source, options).map_err(|r| invalid(&r))?;
        out.push(source);
    }
    Ok(out)
}

/// `arch=amd64,arm64 signed-by=/path` (other options are apt's business).
fn apply_options(source: &mut AptSource, options: &str) -> Result<(), String> {
    for option in options.split_whitespace() {
        let Some((key, value)) = option.split_once('=') else {
            return Err(format!("option `{option}` is not `key=value`"));
        };
        match key.trim_end_matches(['+', '-']) {
            "arch" => source.architectures = value.split(',').map(str::to_owned).collect(),
            "signed-by" => source.signed_by = Some(parse_signed_by(&value.replace(',', " "))?),
            _ => {}
        }
    }
    Ok(())
}

/// A key block, keyring paths, or fingerprints.
fn parse_signed_by(value: &str) -> Result<SignedBy, String> {
    if value.contains("-----BEGIN PGP PUBLIC KEY BLOCK-----") {
        // deb822 writes empty lines of a multi-line value as ` .`.
        let lines: Vec<&str> = value.lines().map(str::trim).map(|l| if l == "." { "" } else { l }).collect();
        return Ok(SignedBy::Inline(lines.join("\n") + "\n"));
    }
    let items: Vec<&str> = value.split_whitespace().collect();
    if items.is_empty() {
        return Err("`Signed-By` is empty".into());
    }
    let paths = items.iter().filter(|i| i.starts_with('/')).count();
    match paths {
        0 => Ok(SignedBy::Fingerprints(items.iter().map(|s| s.to_string()).collect())),
        n if n == items.len() => Ok(SignedBy::Keyrings(items.iter().map(PathBuf::from).collect())),
        _ => Err("`Signed-By` mixes keyring paths and fingerprints".into()),
    }
}

#[cfg(test)]
mod tests;
