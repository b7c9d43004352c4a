//! Turning a failed solve into a message a person can act on: close
//! matches for an unknown name, and for an unsatisfiable request the chain
//! from it down to the dependency nothing in the suite can meet.

use std::collections::HashSet;
use std::fmt;

use super::apt::{Engine, Look};
use super::mark::{critical, negatives};
use super::{Provider, SolveError};
use crate::index::Package;
use crate::relation::{Alternatives, ArchQualifier, Relation};

const HINT_MISSING: &str = "the suite has no version that fits; check the suite and components in the apt sources";
const HINT_CONFLICT: &str = "drop one of the conflicting packages from the request";

/// The first reason a package could not be installed.
#[derive(Debug, Clone)]
pub(super) enum Failure<'a> {
    /// No alternative of the group has any candidate.
    Unsatisfiable(&'a Alternatives),
    /// Candidates exist, but none of them could be installed.
    Failed(&'a Alternatives),
    Conflict(Clash<'a>),
}

/// Two packages that cannot be installed together.
#[derive(Debug, Clone)]
pub(super) struct Clash<'a> {
    pub(super) with: &'a Package,
    /// The package whose field says so (either side).
    pub(super) declarer: &'a Package,
    pub(super) field: &'static str,
    pub(super) rel: &'a Relation,
}

impl fmt::Display for Clash<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Clash { with, declarer, field, rel } = self;
        write!(f, "conflicts with {} {} ({} has `{field}: {rel}`)", with.name, with.version, declarer.name)
    }
}

/// `"\nhint: did you mean `a` or `b`?"`, or nothing without suggestions.
pub(super) fn did_you_mean(suggestions: &[String]) -> String {
    match suggestions {
        [] => String::new(),
        [one] => format!("\nhint: did you mean `{one}`?"),
        [init @ .., last] => {
            let init: Vec<String> = init.iter().map(|s| format!("`{s}`")).collect();
            format!("\nhint: did you mean {} or `{last}`?", init.join(", "))
        }
    }
}

pub(super) fn unknown<P: Provider + ?Sized>(provider: &P, name: &str) -> SolveError {
    SolveError::UnknownPackage { name: name.to_owned(), suggestions: suggestions(&provider.names(), name) }
}

/// Up to five names within a small edit distance of `query`, or starting with it.
fn suggestions(names: &[&str], query: &str) -> Vec<String> {
    let budget = (query.len() / 4).max(2);
    let mut scored: Vec<(usize, &str)> = names
        .iter()
        .filter(|n| n.len().abs_diff(query.len()) <= budget || (query.len() >= 3 && n.starts_with(query)))
        .map(|n| (strsim::levenshtein(n, query), *n))
        .filter(|(d, n)| *d <= budget || (query.len() >= 3 && n.starts_with(query)))
        .collect();
    scored.sort();
    scored.into_iter().take(5).map(|(_, n)| n.to_owned()).collect()
}

impl<'a, P: Provider + ?Sized> Engine<'a, P> {
    /// For a request whose closure is left broken: the chain from it down
    /// to the cause, and a hint.
    pub(super) fn broken_chain(&mut self, root: &'a Package) -> Option<(String, &'static str)> {
        let mut chain = Vec::new();
        let hint = self.find_broken(root, &mut chain, &mut HashSet::new())?;
        Some((chain.join(" → "), hint))
    }

    /// Depth-first through what `p` pulled in, to the first package with
    /// an unmet dependency or a conflict; `chain` is the path to it.
    fn find_broken(
        &mut self,
        p: &'a Package,
        chain: &mut Vec<String>,
        seen: &mut HashSet<&'a str>,
    ) -> Option<&'static str> {
        if !seen.insert(&p.name) {
            return None;
        }
        chain.push(format!("{} {}", p.name, p.version));
        if let Some(group) = critical(p).find(|g| !self.group_satisfied(g, Look::Marked)) {
            return Some(self.explain_group(group, chain, &mut HashSet::new()));
        }
        if let Some(clash) = self.violated_conflict(p) {
            chain.push(clash.to_string());
            return Some(HINT_CONFLICT);
        }
        for group in critical(p) {
            for rel in group.iter() {
                for target in self.targets(rel, Look::Marked) {
                    chain.push(group.to_string());
                    if let Some(hint) = self.find_broken(target, chain, seen) {
                        return Some(hint);
                    }
                    chain.pop();
                }
            }
        }
        chain.pop();
        None
    }

    fn violated_conflict(&mut self, x: &'a Package) -> Option<Clash<'a>> {
        for (field, rel) in negatives(x) {
            if let Some(with) = self.targets(rel, Look::Marked).into_iter().find(|p| p.name != x.name) {
                return Some(Clash { with, declarer: x, field, rel });
            }
        }
        self.marked_conflicting_with(x)
    }

    /// Follows a package that failed because of `group`, else describes
    /// why nothing can satisfy it.
    fn explain_group(
        &mut self,
        group: &'a Alternatives,
        chain: &mut Vec<String>,
        seen: &mut HashSet<&'a str>,
    ) -> &'static str {
        chain.push(group.to_string());
        let failed = self.related(group).into_iter().find(|p| self.failures.contains_key(p.name.as_str()));
        match failed {
            Some(p) if seen.insert(&p.name) => {
                chain.push(format!("{} {}", p.name, p.version));
                match self.failures[p.name.as_str()].clone() {
                    Failure::Unsatisfiable(g) | Failure::Failed(g) => self.explain_group(g, chain, seen),
                    Failure::Conflict(clash) => {
                        chain.push(clash.to_string());
                        HINT_CONFLICT
                    }
                }
            }
            _ => {
                chain.push(format!("not available: {}", self.describe(group)));
                HINT_MISSING
            }
        }
    }

    /// Every record named by or providing an alternative of `group`, best version first.
    fn related(&mut self, group: &'a Alternatives) -> Vec<&'a Package> {
        let mut out = Vec::new();
        for rel in group.iter() {
            let mut records = self.records(&rel.name);
            records.sort_by(|a, b| b.version.cmp(&a.version));
            out.extend(records);
            out.extend(self.provider.providers(&rel.name).into_iter().map(|(p, _)| p));
        }
        out
    }

    fn describe(&mut self, group: &'a Alternatives) -> String {
        let parts: Vec<String> = group.iter().map(|rel| self.describe_one(rel)).collect();
        parts.join("; ")
    }

    fn describe_one(&mut self, rel: &'a Relation) -> String {
        if let Some(ArchQualifier::Arch(a)) = &rel.arch_qualifier {
            if *a != self.arch {
                return format!("`{rel}` is for architecture {a}, not {}", self.arch);
            }
        }
        let mut found: Vec<String> =
            self.records(&rel.name).iter().map(|p| format!("{} {}", p.name, p.version)).collect();
        for (p, v) in self.provider.providers(&rel.name) {
            let provided = v.map(|v| format!(" (= {v})")).unwrap_or_default();
            found.push(format!("{} {} (provides {}{provided})", p.name, p.version, rel.name));
        }
        if found.is_empty() {
            format!("no package named `{}`", rel.name)
        } else {
            format!("candidates are {}", found.join(", "))
        }
    }
}
