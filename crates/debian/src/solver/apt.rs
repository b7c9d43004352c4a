//! apt's marking algorithm (`pkgDepCache::MarkInstall` and the autoremover's
//! mark-and-sweep), for an empty system or one that already has packages
//! installed (a base image's dpkg status).
//!
//! State is per package name (one architecture, `all` counting as native):
//! its candidate (highest version; cleared when it proved uninstallable),
//! whether it is marked for install, and whether it is protected (requested,
//! or the only way to satisfy a protected package's dependency).
//!
//! An installed package counts as marked at its installed version until it
//! is marked itself: a dependency it satisfies needs nothing new, one it
//! does not satisfy (too old) upgrades it to the candidate, and a package
//! installed at the candidate's version is never part of the answer.

use std::collections::HashMap;
use std::ptr;

use super::explain::Failure;
use super::{Provider, Request, SolveError};
use crate::index::{MultiArch, Package};
use crate::relation::{Alternatives, ArchQualifier, Relation};
use crate::version::Version;

#[derive(Debug, Default, Clone, Copy)]
pub(super) struct State<'a> {
    pub(super) cand: Option<&'a Package>,
    pub(super) marked: bool,
    pub(super) protected: bool,
}

/// Whether to look at candidates or at what is already marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Look {
    Candidate,
    Marked,
}

pub(super) struct Engine<'a, P: ?Sized> {
    pub(super) provider: &'a P,
    pub(super) arch: String,
    pub(super) states: HashMap<&'a str, State<'a>>,
    /// The first reason each package could not be installed.
    pub(super) failures: HashMap<&'a str, Failure<'a>>,
    /// What the system already has, by name (this architecture and `all`).
    installed: HashMap<&'a str, &'a Package>,
    /// Installed packages by the virtual names they provide.
    installed_provides: HashMap<&'a str, Vec<(&'a Package, Option<&'a Version>)>>,
}

impl<'a, P: Provider + ?Sized> Engine<'a, P> {
    pub(super) fn new(provider: &'a P, arch: &str, installed: &'a [Package]) -> Self {
        let usable = |p: &&'a Package| p.architecture == arch || p.architecture == "all";
        let installed: HashMap<&'a str, &'a Package> =
            installed.iter().filter(usable).map(|p| (p.name.as_str(), p)).collect();
        let mut installed_provides: HashMap<&'a str, Vec<_>> = HashMap::new();
        for p in installed.values() {
            for provide in &p.provides {
                installed_provides.entry(provide.name.as_str()).or_default().push((*p, provide.version.as_ref()));
            }
        }
        for list in installed_provides.values_mut() {
            list.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        }
        Engine {
            provider,
            arch: arch.to_owned(),
            states: HashMap::new(),
            failures: HashMap::new(),
            installed,
            installed_provides,
        }
    }

    /// Records of `name` usable on this architecture, in provider order;
    /// then the installed one, when no record has its version.
    pub(super) fn records(&self, name: &str) -> Vec<&'a Package> {
        let arch = self.arch.as_str();
        let mut out: Vec<&'a Package> = self
            .provider
            .packages(name)
            .into_iter()
            .filter(|p| p.architecture == arch || p.architecture == "all")
            .collect();
        if let Some(installed) = self.installed.get(name) {
            if !out.iter().any(|p| p.version == installed.version) {
                out.push(installed);
            }
        }
        out
    }

    /// Whether the system already has `p`'s version of `p`.
    pub(super) fn already_installed(&self, p: &Package) -> bool {
        self.installed.get(p.name.as_str()).is_some_and(|i| i.version == p.version)
    }

    pub(super) fn state(&mut self, name: &'a str) -> &mut State<'a> {
        if !self.states.contains_key(name) {
            // The highest version; the first record wins a tie, as in apt.
            let cand = self.records(name).into_iter().reduce(|a, b| if b.version > a.version { b } else { a });
            self.states.insert(name, State { cand, ..State::default() });
        }
        self.states.get_mut(name).expect("inserted above")
    }

    /// The version of `name` seen through `look`.
    pub(super) fn version_of(&mut self, name: &'a str, look: Look) -> Option<&'a Package> {
        let s = *self.state(name);
        match look {
            Look::Candidate => s.cand,
            Look::Marked if s.marked => s.cand,
            Look::Marked => {
                // The installed version; the candidate's record when they
                // agree, so that providers compare equal to it.
                let installed = *self.installed.get(name)?;
                Some(s.cand.filter(|c| c.version == installed.version).unwrap_or(installed))
            }
        }
    }

    /// Packages that satisfy `rel` through `look`: the real package first,
    /// then providers, deduplicated (apt's `FromDependency`).
    pub(super) fn targets(&mut self, rel: &'a Relation, look: Look) -> Vec<&'a Package> {
        let any = match &rel.arch_qualifier {
            None | Some(ArchQualifier::Native) => false,
            Some(ArchQualifier::Any) => true,
            Some(ArchQualifier::Arch(a)) if *a == self.arch => false,
            Some(ArchQualifier::Arch(_)) => return Vec::new(),
        };
        let mut out = Vec::new();
        if let Some(p) = self.version_of(&rel.name, look) {
            if (!any || p.multi_arch == MultiArch::Allowed) && rel.satisfied_by(&p.version) {
                out.push(p);
            }
        }
        // Providers in the index, then installed ones the index does not
        // have at that version.
        let mut providers = self.provider.providers(&rel.name);
        if let Some(installed) = self.installed_provides.get(rel.name.as_str()) {
            providers.extend(installed.iter().copied());
        }
        for (p, provided) in providers {
            let version_ok = match (&rel.constraint, provided) {
                (None, _) => true,
                (Some(c), Some(v)) => c.satisfied_by(v),
                (Some(_), None) => false,
            };
            let current = self.version_of(&p.name, look).is_some_and(|q| ptr::eq(q, p));
            if version_ok
                && current
                && (!any || p.multi_arch == MultiArch::Allowed)
                && !out.iter().any(|q| ptr::eq(*q, p))
            {
                out.push(p);
            }
        }
        out
    }

    pub(super) fn group_satisfied(&mut self, group: &'a Alternatives, look: Look) -> bool {
        group.iter().any(|rel| !self.targets(rel, look).is_empty())
    }

    /// apt's `CompareProviders`: protected first, then the package named
    /// like the dependency, essential, important, higher priority, and
    /// finally the name apt's cache created last.
    fn rank(&mut self, rel: &Relation, list: &mut [&'a Package]) {
        let key = |e: &mut Self, p: &'a Package| {
            let same_group = rel.arch_qualifier.is_none() && p.name == rel.name;
            let priority = p.priority.map_or(0, |pr| pr as u8 + 1);
            let protected = e.state(&p.name).protected;
            (!protected, !same_group, !p.essential, !p.important, priority, usize::MAX - e.provider.first_seen(&p.name))
        };
        let mut keyed: Vec<_> = list.iter().map(|&p| (key(self, p), p)).collect();
        keyed.sort_by_key(|k| k.0);
        for (slot, (_, p)) in list.iter_mut().zip(keyed) {
            *slot = p;
        }
    }

    /// Every candidate that could satisfy `group`, alternatives in order.
    pub(super) fn solutions(&mut self, group: &'a Alternatives) -> Vec<&'a Package> {
        let mut out: Vec<&'a Package> = Vec::new();
        let arch = self.arch.clone();
        for rel in group.iter().filter(|r| r.applies_to_arch(&arch)) {
            let mut found = self.targets(rel, Look::Candidate);
            self.rank(rel, &mut found);
            out.extend(found.into_iter().filter(|p| !out.iter().any(|q| ptr::eq(*q, *p))).collect::<Vec<_>>());
        }
        // A protected package that is not marked was ruled out for good.
        out.retain(|p| self.states.get(p.name.as_str()).is_none_or(|s| s.marked || !s.protected));
        out
    }

    pub(super) fn fail(&mut self, package: &'a Package, failure: Failure<'a>) {
        self.failures.entry(&package.name).or_insert(failure);
    }

    /// Resolves a request to a record and makes it the candidate.
    pub(super) fn select(&mut self, request: &Request) -> Result<&'a Package, SolveError> {
        let records = self.records(&request.name);
        if records.is_empty() {
            return self.select_virtual(&request.name);
        }
        let Some(wanted) = &request.constraint else {
            let name = records[0].name.as_str();
            return Ok(self.state(name).cand.expect("a package with records has a candidate"));
        };
        let best = records.iter().filter(|p| wanted.satisfied_by(&p.version)).copied();
        let best = best.reduce(|a, b| if b.version > a.version { b } else { a });
        let Some(package) = best else {
            let available = records.iter().map(|p| p.version.to_string()).collect::<Vec<_>>().join(", ");
            let name = request.name.clone();
            return Err(SolveError::NoMatchingVersion { name, wanted: wanted.to_string(), available });
        };
        self.state(&package.name).cand = Some(package);
        Ok(package)
    }

    /// apt installs the sole provider of a requested virtual package.
    fn select_virtual(&mut self, name: &str) -> Result<&'a Package, SolveError> {
        let mut providers: Vec<&'a Package> = Vec::new();
        for (p, _) in self.provider.providers(name) {
            if self.version_of(&p.name, Look::Candidate).is_some_and(|c| ptr::eq(c, p)) {
                providers.push(p);
            }
        }
        match providers.as_slice() {
            [] => Err(super::explain::unknown(self.provider, name)),
            [one] => Ok(one),
            many => {
                let providers = many.iter().map(|p| format!("`{}`", p.name)).collect::<Vec<_>>().join(", ");
                Err(SolveError::VirtualPackage { name: name.to_owned(), providers })
            }
        }
    }

    /// apt-get's first pass: protect and mark a request, without its dependencies.
    pub(super) fn request(&mut self, package: &'a Package) {
        let state = self.state(&package.name);
        state.protected = true;
        state.marked = true;
    }

    /// apt-get's second pass over the requests.
    pub(super) fn install_requested(&mut self, package: &'a Package) {
        self.mark_install(&package.name, true, true, 0);
    }
}
