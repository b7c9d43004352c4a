//! A suite's `Release` file: the signed list of index files with their
//! sizes and SHA256 hashes.
//!
//! [`Release::parse`] takes the payload that [`crate::signature`] returned
//! after verifying `InRelease` — never the raw file — and refuses a release
//! dated in the future or past its `Valid-Until`, given the caller's `now`
//! so that tests are deterministic. [`Release::find_index`] picks the best
//! compressed variant of an index, [`Release::fetch_path`] gives its
//! by-hash path, and [`Release::verify_index`] checks downloaded bytes
//! against the signed size and SHA256: the next link of the chain
//! `InRelease → index → package`.

use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::deb822::{self, Paragraph};

#[cfg(test)]
mod tests;

pub use microroot_time::{format_utc, parse_rfc2822 as parse_date};

/// How far in the future a `Date` or a signature may lie before it is
/// refused, for clocks that are slightly off.
pub const CLOCK_SKEW: Duration = Duration::from_secs(300);

/// Compressed variants of an index, most preferred first.
const INDEX_SUFFIXES: [&str; 3] = [".xz", ".gz", ""];

/// A `Release` that cannot be used, or an index that does not match it.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("{release}: malformed release file")]
    Syntax {
        release: String,
        #[source]
        source: deb822::Deb822Error,
    },
    #[error("{release}: expected one paragraph, found {found}")]
    Paragraphs { release: String, found: usize },
    #[error("{release}: missing field `{field}`")]
    MissingField { release: String, field: &'static str },
    #[error("{release}: field `{field}`: `{value}` is not {what}")]
    BadField { release: String, field: &'static str, value: String, what: &'static str },
    #[error("{release}: SHA256 line `{line}` is not `<sha256> <size> <path>`")]
    BadEntry { release: String, line: String },
    #[error("{release} is dated {date}, in the future (now is {now})\n  hint: check the system clock")]
    FutureDate { release: String, date: String, now: String },
    #[error(
        "{release} expired at {valid_until} (now is {now})\n  hint: the mirror may be stale or \
         replaying an old release; use an up-to-date mirror, or check the system clock"
    )]
    Expired { release: String, valid_until: String, now: String },
    #[error("{release} does not list `{path}` (nor its .xz or .gz variant)")]
    NotListed { release: String, path: String },
    #[error("{path}: size {got} does not match {expected} listed in {release}")]
    SizeMismatch { release: String, path: String, expected: u64, got: u64 },
    #[error(
        "{path}: sha256 {got} does not match {expected} listed in {release}\n  hint: the mirror \
         may be mid-sync; retry later or use another mirror"
    )]
    HashMismatch { release: String, path: String, expected: String, got: String },
}

/// One line of the `SHA256:` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Path relative to the suite's directory, e.g. `main/binary-amd64/Packages.xz`.
    pub path: String,
    pub size: u64,
    pub sha256: [u8; 32],
}

impl FileEntry {
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }
}

/// The parsed, date-checked payload of a verified `InRelease`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// Where the release came from (URL or path), for error messages.
    pub source: String,
    pub origin: Option<String>,
    pub label: Option<String>,
    pub suite: Option<String>,
    pub codename: Option<String>,
    pub version: Option<String>,
    pub date: SystemTime,
    pub valid_until: Option<SystemTime>,
    pub architectures: Vec<String>,
    pub components: Vec<String>,
    pub acquire_by_hash: bool,
    /// The `SHA256:` list, in file order.
    pub files: Vec<FileEntry>,
}

impl Release {
    /// Parses a verified payload and checks its dates against `now`.
    pub fn parse(source: &str, payload: &str, now: SystemTime) -> Result<Self, ReleaseError> {
        let syntax = |e| ReleaseError::Syntax { release: source.to_owned(), source: e };
        let paras: Vec<Paragraph<'_>> = deb822::paragraphs(payload).collect::<Result<_, _>>().map_err(syntax)?;
        let [p] = paras.as_slice() else {
            return Err(ReleaseError::Paragraphs { release: source.to_owned(), found: paras.len() });
        };
        let field = |name: &str| p.get(name).map(str::to_owned);
        let list = |name: &str| p.get(name).unwrap_or("").split_whitespace().map(str::to_owned).collect();
        let date = p.get("Date").ok_or(ReleaseError::MissingField { release: source.to_owned(), field: "Date" })?;
        let release = Release {
            source: source.to_owned(),
            origin: field("Origin"),
            label: field("Label"),
            suite: field("Suite"),
            codename: field("Codename"),
            version: field("Version"),
            date: date_field(source, "Date", date)?,
            valid_until: p.get("Valid-Until").map(|v| date_field(source, "Valid-Until", v)).transpose()?,
            architectures: list("Architectures"),
            components: list("Components"),
            acquire_by_hash: p.get("Acquire-By-Hash").is_some_and(|v| v.eq_ignore_ascii_case("yes")),
            files: sha256_entries(source, p)?,
        };
        release.check_dates(now)?;
        Ok(release)
    }

    fn check_dates(&self, now: SystemTime) -> Result<(), ReleaseError> {
        if self.date > now + CLOCK_SKEW {
            return Err(ReleaseError::FutureDate {
                release: self.source.clone(),
                date: format_utc(self.date),
                now: format_utc(now),
            });
        }
        match self.valid_until {
            Some(until) if until < now => Err(ReleaseError::Expired {
                release: self.source.clone(),
                valid_until: format_utc(until),
                now: format_utc(now),
            }),
            _ => Ok(()),
        }
    }

    /// The entry listed for exactly `path`.
    pub fn entry(&self, path: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.path == path)
    }

    /// The best listed variant of an index: for `main/binary-amd64/Packages`
    /// (with or without a `.xz`/`.gz` suffix) the `.xz` entry, else `.gz`,
    /// else the uncompressed one.
    pub fn find_index(&self, path: &str) -> Result<&FileEntry, ReleaseError> {
        let base = [".xz", ".gz"].iter().find_map(|s| path.strip_suffix(s)).unwrap_or(path);
        INDEX_SUFFIXES
            .iter()
            .find_map(|suffix| self.entry(&format!("{base}{suffix}")))
            .ok_or_else(|| ReleaseError::NotListed { release: self.source.clone(), path: base.to_owned() })
    }

    /// The by-hash path of `entry` (`main/binary-amd64/by-hash/SHA256/<hex>`)
    /// when the release says `Acquire-By-Hash: yes`.
    pub fn by_hash_path(&self, entry: &FileEntry) -> Option<String> {
        self.acquire_by_hash.then(|| match entry.path.rsplit_once('/') {
            Some((dir, _)) => format!("{dir}/by-hash/SHA256/{}", entry.sha256_hex()),
            None => format!("by-hash/SHA256/{}", entry.sha256_hex()),
        })
    }

    /// The path to download `entry` from, relative to the suite directory:
    /// by-hash when available (immune to mirror updates mid-download).
    pub fn fetch_path(&self, entry: &FileEntry) -> String {
        self.by_hash_path(entry).unwrap_or_else(|| entry.path.clone())
    }

    /// Checks `bytes` against the size and SHA256 listed for `path`.
    pub fn verify_index(&self, path: &str, bytes: &[u8]) -> Result<(), ReleaseError> {
        let entry = self
            .entry(path)
            .ok_or_else(|| ReleaseError::NotListed { release: self.source.clone(), path: path.to_owned() })?;
        let got = bytes.len() as u64;
        if got != entry.size {
            return Err(ReleaseError::SizeMismatch {
                release: self.source.clone(),
                path: path.to_owned(),
                expected: entry.size,
                got,
            });
        }
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        if digest != entry.sha256 {
            return Err(ReleaseError::HashMismatch {
                release: self.source.clone(),
                path: path.to_owned(),
                expected: entry.sha256_hex(),
                got: hex::encode(digest),
            });
        }
        Ok(())
    }
}

fn sha256_entries(release: &str, p: &Paragraph<'_>) -> Result<Vec<FileEntry>, ReleaseError> {
    if p.get("SHA256").is_none() {
        return Err(ReleaseError::MissingField { release: release.to_owned(), field: "SHA256" });
    }
    p.lines("SHA256")
        .map(|line| {
            parse_entry(line)
                .ok_or_else(|| ReleaseError::BadEntry { release: release.to_owned(), line: line.to_owned() })
        })
        .collect()
}

fn parse_entry(line: &str) -> Option<FileEntry> {
    let mut parts = line.split_whitespace();
    let (hash, size, path) = (parts.next()?, parts.next()?, parts.next()?);
    let mut sha256 = [0u8; 32];
    hex::decode_to_slice(hash, &mut sha256).ok()?;
    let size = size.parse().ok()?;
    parts.next().is_none().then(|| FileEntry { path: path.to_owned(), size, sha256 })
}

fn date_field(release: &str, field: &'static str, value: &str) -> Result<SystemTime, ReleaseError> {
    parse_date(value).ok_or_else(|| ReleaseError::BadField {
        release: release.to_owned(),
        field,
        value: value.to_owned(),
        what: "an RFC 2822 date",
    })
}
