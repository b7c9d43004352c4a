//! One `Packages` paragraph → one owned [`Package`]: a single pass over the
//! paragraph's fields, then typed parsing of the ones microroot uses.

use std::fmt;

use super::IndexError;
use crate::deb822::Paragraph;
use crate::relation::{Op, Relation, RelationError, Relations};
use crate::version::{Version, VersionError};

/// `Multi-Arch:`; absent means [`MultiArch::No`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum MultiArch {
    #[default]
    No,
    Same,
    Foreign,
    Allowed,
}

/// `Priority:`, most important first (the order apt prefers providers in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    Required,
    Important,
    Standard,
    Optional,
    Extra,
}

/// The source package a binary was built from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Source {
    pub name: String,
    /// `None` when it is the binary's own version (the usual case; see
    /// [`Package::source_version`]).
    pub version: Option<Version>,
}

/// One `Provides:` entry, with its version when it is `name (= version)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Provide {
    pub name: String,
    pub version: Option<Version>,
}

/// One binary package of an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    pub version: Version,
    pub architecture: String,
    pub multi_arch: MultiArch,
    pub essential: bool,
    /// `Protected: yes` (or its older name `Important: yes`).
    pub important: bool,
    pub priority: Option<Priority>,
    pub section: Option<String>,
    pub source: Source,
    pub pre_depends: Relations,
    pub depends: Relations,
    pub recommends: Relations,
    pub suggests: Relations,
    pub conflicts: Relations,
    pub breaks: Relations,
    pub provides: Vec<Provide>,
    /// Path of the `.deb` below the mirror root.
    pub filename: String,
    pub size: u64,
    pub sha256: [u8; 32],
    /// In KiB, as dpkg counts it.
    pub installed_size: Option<u64>,
    /// The synopsis: the first line of `Description`.
    pub description: String,
    pub maintainer: String,
    pub homepage: Option<String>,
}

impl Package {
    /// The version of the source package, which defaults to the binary's.
    pub fn source_version(&self) -> &Version {
        self.source.version.as_ref().unwrap_or(&self.version)
    }
}

impl fmt::Display for Package {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({})", self.name, self.version, self.architecture)
    }
}

/// The fields read from a paragraph; `FIELDS[f as usize]` is the name.
#[derive(Debug, Clone, Copy)]
enum F {
    Package,
    Version,
    Architecture,
    MultiArch,
    Essential,
    Protected,
    Important,
    Priority,
    Section,
    Source,
    PreDepends,
    Depends,
    Recommends,
    Suggests,
    Conflicts,
    Breaks,
    Provides,
    Filename,
    Size,
    Sha256,
    InstalledSize,
    Description,
    Maintainer,
    Homepage,
    Replaces,
    Enhances,
}

const FIELDS: [&str; 26] = [
    "Package",
    "Version",
    "Architecture",
    "Multi-Arch",
    "Essential",
    "Protected",
    "Important",
    "Priority",
    "Section",
    "Source",
    "Pre-Depends",
    "Depends",
    "Recommends",
    "Suggests",
    "Conflicts",
    "Breaks",
    "Provides",
    "Filename",
    "Size",
    "SHA256",
    "Installed-Size",
    "Description",
    "Maintainer",
    "Homepage",
    "Replaces",
    "Enhances",
];

impl F {
    fn name(self) -> &'static str {
        FIELDS[self as usize]
    }
}

/// Where `name` is in [`FIELDS`]: an exact match is the fast path, field
/// names being case-insensitive the fallback.
fn field_index(name: &str) -> Option<usize> {
    let exact = match name {
        "Package" => Some(F::Package),
        "Version" => Some(F::Version),
        "Architecture" => Some(F::Architecture),
        "Depends" => Some(F::Depends),
        "Filename" => Some(F::Filename),
        "Size" => Some(F::Size),
        "SHA256" => Some(F::Sha256),
        "Description" => Some(F::Description),
        "Maintainer" => Some(F::Maintainer),
        "Section" => Some(F::Section),
        "Priority" => Some(F::Priority),
        "Installed-Size" => Some(F::InstalledSize),
        "Source" => Some(F::Source),
        _ => None,
    };
    exact
        .map(|f| f as usize)
        .or_else(|| FIELDS.iter().position(|f| f.len() == name.len() && f.eq_ignore_ascii_case(name)))
}

/// What was wrong with a paragraph; [`Problem::at`] adds where.
#[derive(Debug)]
pub(super) enum Problem {
    Missing(&'static str),
    Bad { field: &'static str, value: String, reason: String },
    Version(VersionError),
    Relation { field: &'static str, source: RelationError },
}

impl Problem {
    pub(super) fn at(self, origin: &str, para: &Paragraph<'_>) -> IndexError {
        let (origin, line) = (origin.to_owned(), para.line);
        let package = para.get("Package").unwrap_or("<unnamed>").to_owned();
        match self {
            Problem::Missing(field) => IndexError::MissingField { origin, line, package, field },
            Problem::Bad { field, value, reason } => {
                IndexError::BadField { origin, line, package, field, value, reason }
            }
            Problem::Version(source) => IndexError::Version { origin, line, package, source },
            Problem::Relation { field, source } => {
                IndexError::Relation { origin, line, package, field, source: Box::new(source) }
            }
        }
    }
}

/// The paragraph's values, indexed like [`FIELDS`].
struct Fields<'a>([Option<&'a str>; FIELDS.len()]);

impl<'a> Fields<'a> {
    fn collect(para: &Paragraph<'a>) -> Self {
        let mut slots = [None; FIELDS.len()];
        for &(name, value) in &para.fields {
            if let Some(i) = field_index(name) {
                slots[i] = Some(value);
            }
        }
        Fields(slots)
    }

    fn get(&self, field: F) -> Option<&'a str> {
        self.0[field as usize]
    }

    fn required(&self, field: F) -> Result<&'a str, Problem> {
        self.get(field).filter(|v| !v.is_empty()).ok_or(Problem::Missing(field.name()))
    }

    fn relations(&self, field: F) -> Result<Relations, Problem> {
        let field_name = field.name();
        Relations::parse(self.get(field).unwrap_or(""))
            .map_err(|source| Problem::Relation { field: field_name, source })
    }

    fn yes(&self, field: F) -> bool {
        self.get(field).is_some_and(|v| v.eq_ignore_ascii_case("yes"))
    }

    fn number(&self, field: F) -> Result<Option<u64>, Problem> {
        let Some(value) = self.get(field) else { return Ok(None) };
        let bad = |e: std::num::ParseIntError| Problem::Bad {
            field: field.name(),
            value: value.into(),
            reason: e.to_string(),
        };
        value.parse().map(Some).map_err(bad)
    }
}

/// The relation fields in the order apt's cache generator reads them.
const MENTION_ORDER: [F; 9] = [
    F::PreDepends,
    F::Depends,
    F::Conflicts,
    F::Breaks,
    F::Recommends,
    F::Suggests,
    F::Replaces,
    F::Enhances,
    F::Provides,
];

/// Calls `mention` with the package name of each alternative in a
/// relation field, skipping arch-qualified ones (apt files those under
/// separate `name:arch` entries).
fn mentions<'a>(field: &'a str, mention: &mut impl FnMut(&'a str)) {
    let bytes = field.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && !matches!(bytes[i], b' ' | b'\t' | b'\n' | b'(' | b'[' | b'<' | b',' | b'|' | b':') {
            i += 1;
        }
        let qualified = bytes.get(i) == Some(&b':');
        if i > start && !qualified {
            mention(&field[start..i]);
        }
        while i < bytes.len() && !matches!(bytes[i], b',' | b'|') {
            i += 1;
        }
        i += 1;
    }
}

/// Parses a paragraph, calling `mention` with every package name it
/// mentions (itself, then relation targets) in the order apt's cache
/// generator would first create them.
pub(super) fn parse_package<'a>(para: &Paragraph<'a>, mention: &mut impl FnMut(&'a str)) -> Result<Package, Problem> {
    parse_fields(para, mention, true)
}

/// A dpkg status paragraph: a package as installed, which has no `.deb`
/// (`filename` empty, `size` 0, `sha256` zero).
pub(super) fn parse_installed(para: &Paragraph<'_>) -> Result<Package, Problem> {
    parse_fields(para, &mut |_| {}, false)
}

fn parse_fields<'a>(
    para: &Paragraph<'a>,
    mention: &mut impl FnMut(&'a str),
    from_index: bool,
) -> Result<Package, Problem> {
    let f = Fields::collect(para);
    if let Some(name) = f.get(F::Package) {
        mention(name);
    }
    for field in MENTION_ORDER {
        mentions(f.get(field).unwrap_or(""), mention);
    }
    let name = f.required(F::Package)?.to_owned();
    let version = Version::parse(f.required(F::Version)?).map_err(Problem::Version)?;
    let source = parse_source(f.get(F::Source), &name)?;
    Ok(Package {
        architecture: f.required(F::Architecture)?.to_owned(),
        multi_arch: parse_multi_arch(f.get(F::MultiArch))?,
        essential: f.yes(F::Essential),
        important: f.yes(F::Protected) || f.yes(F::Important),
        priority: f.get(F::Priority).map(parse_priority),
        section: f.get(F::Section).map(str::to_owned),
        pre_depends: f.relations(F::PreDepends)?,
        depends: f.relations(F::Depends)?,
        recommends: f.relations(F::Recommends)?,
        suggests: f.relations(F::Suggests)?,
        conflicts: f.relations(F::Conflicts)?,
        breaks: f.relations(F::Breaks)?,
        provides: parse_provides(f.get(F::Provides))?,
        filename: if from_index { f.required(F::Filename)?.to_owned() } else { String::new() },
        size: if from_index { f.number(F::Size)?.ok_or(Problem::Missing("Size"))? } else { 0 },
        sha256: if from_index { parse_sha256(f.required(F::Sha256)?)? } else { [0; 32] },
        installed_size: f.number(F::InstalledSize)?,
        description: f.get(F::Description).and_then(|d| d.lines().next()).unwrap_or("").trim().to_owned(),
        maintainer: f.get(F::Maintainer).unwrap_or("").to_owned(),
        homepage: f.get(F::Homepage).map(str::to_owned),
        name,
        version,
        source,
    })
}

fn parse_multi_arch(value: Option<&str>) -> Result<MultiArch, Problem> {
    Ok(match value {
        None | Some("no") => MultiArch::No,
        Some("same") => MultiArch::Same,
        Some("foreign") => MultiArch::Foreign,
        Some("allowed") => MultiArch::Allowed,
        Some(other) => {
            let reason = "expected no, same, foreign or allowed".into();
            return Err(Problem::Bad { field: "Multi-Arch", value: other.into(), reason });
        }
    })
}

/// Unknown priorities count as `extra`, as apt counts them.
fn parse_priority(value: &str) -> Priority {
    match value {
        "required" => Priority::Required,
        "important" => Priority::Important,
        "standard" => Priority::Standard,
        "optional" => Priority::Optional,
        _ => Priority::Extra,
    }
}

/// `Source: name` or `Source: name (version)`; absent means the binary's own.
fn parse_source(value: Option<&str>, name: &str) -> Result<Source, Problem> {
    let Some(value) = value else { return Ok(Source { name: name.to_owned(), version: None }) };
    let bad = |reason: String| Problem::Bad { field: "Source", value: value.into(), reason };
    match value.split_once('(') {
        None => Ok(Source { name: value.trim().to_owned(), version: None }),
        Some((src, rest)) => {
            let ver = rest.trim().strip_suffix(')').ok_or_else(|| bad("unclosed `(`".into()))?;
            let version = Version::parse(ver).map_err(|e| bad(e.to_string()))?;
            Ok(Source { name: src.trim().to_owned(), version: Some(version) })
        }
    }
}

fn parse_provides(field: Option<&str>) -> Result<Vec<Provide>, Problem> {
    let Some(field) = field.filter(|f| !f.trim().is_empty()) else { return Ok(Vec::new()) };
    let bad = |value: String, reason: &str| Problem::Bad { field: "Provides", value, reason: reason.into() };
    let mut out = Vec::with_capacity(memchr::memchr_iter(b',', field.as_bytes()).count() + 1);
    for item in field.trim_end().trim_end_matches(',').split(',') {
        let rel = Relation::parse(item).map_err(|source| Problem::Relation { field: "Provides", source })?;
        let version = match rel.constraint {
            None => None,
            Some(c) if c.op == Op::Eq => Some(c.version),
            Some(_) => return Err(bad(item.trim().to_owned(), "a provided version must be `(= version)`")),
        };
        out.push(Provide { name: rel.name, version });
    }
    Ok(out)
}

fn parse_sha256(value: &str) -> Result<[u8; 32], Problem> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(value, &mut out).map_err(|e| Problem::Bad {
        field: "SHA256",
        value: value.into(),
        reason: format!("expected 64 hex digits: {e}"),
    })?;
    Ok(out)
}
