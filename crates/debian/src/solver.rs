//! Picks the packages `apt-get install --no-install-recommends` would
//! install into an empty system, or into one that has a base image's
//! packages already, so that a microroot plan matches what a Debian user
//! expects from the same package list.
//!
//! The engine (`solver/apt.rs`, `solver/mark.rs`) follows apt's own greedy
//! marking (`MarkInstall` in `depcache.cc`) rather than a SAT search,
//! because "the same answer as apt" is the contract: requests are marked
//! first, then their `Pre-Depends` and `Depends` are walked in apt's order;
//! the first installable alternative wins unless one is already selected;
//! providers are ranked as apt ranks them; a package whose dependencies
//! fail is dropped for the rest of the run; leftovers nothing needs are
//! swept at the end. Package data comes through the [`Provider`] trait
//! (after resolvo's `DependencyProvider`), so tests feed small hand-written
//! indexes. Failures are explained by `solver/explain.rs`.

mod apt;
mod explain;
mod mark;

use std::fmt;
use std::str::FromStr;

use crate::index::{Index, Package};
use crate::relation::{Constraint, Op, Relation, RelationError};
use crate::version::Version;

/// Where the solver gets package data from.
pub trait Provider {
    /// Every record of the real package `name` (all versions and architectures).
    fn packages(&self, name: &str) -> Vec<&Package>;
    /// Every record with `Provides: name`, and the version it provides.
    fn providers(&self, name: &str) -> Vec<(&Package, Option<&Version>)>;
    /// Every real package name, for "did you mean" hints.
    fn names(&self) -> Vec<&str>;
    /// The order in which apt's cache first creates `name`: apt breaks ties
    /// between equal providers, and orders requests, by it.
    fn first_seen(&self, _name: &str) -> usize {
        usize::MAX
    }
}

impl Provider for Index {
    fn packages(&self, name: &str) -> Vec<&Package> {
        self.get(name).collect()
    }
    fn providers(&self, name: &str) -> Vec<(&Package, Option<&Version>)> {
        Index::providers(self, name).map(|(p, pr)| (p, pr.version.as_ref())).collect()
    }
    fn names(&self) -> Vec<&str> {
        Index::names(self).collect()
    }
    fn first_seen(&self, name: &str) -> usize {
        Index::first_seen(self, name).unwrap_or(usize::MAX)
    }
}

/// One requested package: `name`, `name=version` or `name (op version)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub name: String,
    pub constraint: Option<Constraint>,
}

impl FromStr for Request {
    type Err = SolveError;
    fn from_str(text: &str) -> Result<Self, SolveError> {
        let bad = |source| SolveError::BadRequest { text: text.to_owned(), source };
        if let Some((name, version)) = text.split_once('=').filter(|(n, _)| !n.contains('(')) {
            let version = Version::parse(version)
                .map_err(|source| bad(RelationError::Version { text: text.to_owned(), source }))?;
            let constraint = Some(Constraint { op: Op::Eq, version });
            return Ok(Request { name: name.trim().to_owned(), constraint });
        }
        let rel = Relation::parse(text).map_err(bad)?;
        if rel.arch_qualifier.is_some() || rel.restrictions.is_some() {
            let reason = "only `name`, `name=version` and `name (op version)` are accepted";
            return Err(bad(RelationError::Syntax { text: text.to_owned(), reason }));
        }
        Ok(Request { name: rel.name, constraint: rel.constraint })
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.constraint {
            Some(c) => write!(f, "{} ({c})", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// The packages to install, sorted by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Solution<'a> {
    pub packages: Vec<&'a Package>,
}

impl Solution<'_> {
    /// `(name, version)` pairs, sorted by name.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &Version)> {
        self.packages.iter().map(|p| (p.name.as_str(), &p.version))
    }
}

/// Why no installable set was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SolveError {
    #[error("bad package request: {source}")]
    BadRequest { text: String, source: RelationError },
    #[error("unknown package `{name}`{}", explain::did_you_mean(suggestions))]
    UnknownPackage { name: String, suggestions: Vec<String> },
    #[error("no version of `{name}` matches `{wanted}`: candidates are {available}\nhint: pick one of those versions")]
    NoMatchingVersion { name: String, wanted: String, available: String },
    #[error("`{name}` is a virtual package provided by {providers}\nhint: request one of them by name")]
    VirtualPackage { name: String, providers: String },
    #[error("cannot install `{request}`: {chain}\nhint: {hint}")]
    Unsatisfiable { request: String, chain: String, hint: &'static str },
}

/// Solves `requests` for architecture `arch` against `provider`, for an
/// empty system.
pub fn solve<'a, P: Provider + ?Sized>(
    provider: &'a P,
    arch: &str,
    requests: &[Request],
) -> Result<Solution<'a>, SolveError> {
    solve_installed(provider, arch, requests, &[])
}

/// Solves `requests` for a system that already has `installed` (read from
/// its dpkg status with [`crate::index::parse_status`]), as `apt-get
/// install` there would: what is installed and good enough stays, what is
/// too old for a new package is upgraded, and the answer holds only what
/// has to be unpacked. Nothing installed is removed.
pub fn solve_installed<'a, P: Provider + ?Sized>(
    provider: &'a P,
    arch: &str,
    requests: &[Request],
    installed: &'a [Package],
) -> Result<Solution<'a>, SolveError> {
    let mut engine = apt::Engine::new(provider, arch, installed);
    let mut roots = Vec::with_capacity(requests.len());
    for request in requests {
        let package = engine.select(request)?;
        engine.request(package);
        roots.push(package);
    }
    // apt resolves the requests' dependencies in the order of its package cache.
    roots.sort_by_key(|p| provider.first_seen(&p.name));
    roots.dedup_by(|a, b| a.name == b.name);
    for package in &roots {
        engine.install_requested(package);
    }
    for package in &roots {
        if let Some((chain, hint)) = engine.broken_chain(package) {
            return Err(SolveError::Unsatisfiable { request: package.name.clone(), chain, hint });
        }
    }
    Ok(Solution { packages: engine.sweep(&roots) })
}

#[cfg(test)]
mod tests;
