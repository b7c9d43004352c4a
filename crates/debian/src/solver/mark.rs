//! `MarkInstall` and the autoremover's mark-and-sweep, step by step as apt
//! does them (apt-pkg/depcache.cc). Of what matters when packages are
//! already installed, only keeping and upgrading them is done: nothing
//! installed is ever removed.

use std::collections::HashSet;
use std::ptr;

use super::apt::{Engine, Look};
use super::explain::{Clash, Failure};
use super::Provider;
use crate::index::{MultiArch, Package};
use crate::relation::{Alternatives, ArchQualifier, Relation};

/// apt gives up on dependency chains deeper than this.
const MAX_DEPTH: usize = 3000;

/// `Pre-Depends` then `Depends`: the only groups apt must satisfy.
pub(super) fn critical(p: &Package) -> impl Iterator<Item = &Alternatives> {
    p.pre_depends.iter().chain(p.depends.iter())
}

/// `Conflicts` and `Breaks` (both keep two packages from being installed
/// together), each with its field name.
pub(super) fn negatives(p: &Package) -> impl Iterator<Item = (&'static str, &Relation)> {
    let conflicts = p.conflicts.iter().flat_map(|g| g.iter()).map(|r| ("Conflicts", r));
    conflicts.chain(p.breaks.iter().flat_map(|g| g.iter()).map(|r| ("Breaks", r)))
}

/// Whether `p` itself (not another version of it) matches `rel`.
fn matches(rel: &Relation, p: &Package, arch: &str) -> bool {
    let allowed = match &rel.arch_qualifier {
        None | Some(ArchQualifier::Native) => true,
        Some(ArchQualifier::Any) => p.multi_arch == MultiArch::Allowed,
        Some(ArchQualifier::Arch(a)) => a == arch,
    };
    let provided = p.provides.iter().any(|pr| {
        pr.name == rel.name
            && match (&rel.constraint, &pr.version) {
                (None, _) => true,
                (Some(c), Some(v)) => c.satisfied_by(v),
                (Some(_), None) => false,
            }
    });
    allowed && ((rel.name == p.name && rel.satisfied_by(&p.version)) || provided)
}

impl<'a, P: Provider + ?Sized> Engine<'a, P> {
    /// Marks `name` for install; with `auto_inst`, its dependencies too.
    /// Returns false if it cannot be installed.
    pub(super) fn mark_install(&mut self, name: &'a str, auto_inst: bool, from_user: bool, depth: usize) -> bool {
        let state = *self.state(name);
        // Only the user may change a package that was protected from install.
        if depth > MAX_DEPTH || (!from_user && state.protected && !state.marked) {
            return false;
        }
        let Some(cand) = state.cand else { return false };
        if state.marked && !state.protected {
            return true;
        }
        // Installed at the candidate's version: nothing to do.
        if !state.marked && self.already_installed(cand) {
            return true;
        }
        if auto_inst && !self.dependencies_possible(cand, state.protected) {
            return false;
        }
        if !auto_inst {
            self.state(name).marked = true;
            return true;
        }
        let propagate = state.protected;
        let fail_early = !propagate && !from_user;
        let conflicts_ok = self.resolve_conflicts(cand, propagate, from_user);
        if !conflicts_ok && fail_early {
            return false;
        }
        // Marked, and protected while its own dependencies are resolved.
        let s = self.state(name);
        (s.marked, s.protected) = (true, true);
        let deps_ok = self.install_dependencies(cand, depth, propagate, from_user);
        self.state(name).protected = propagate;
        if !deps_ok && fail_early {
            // Dropped for the rest of the run; what it pulled in stays until the sweep.
            let s = self.state(name);
            (s.marked, s.cand) = (false, None);
            return false;
        }
        conflicts_ok && deps_ok
    }

    /// apt's `IsInstallOkDependenciesSatisfiableByCandidates`: a one-level
    /// look-ahead that rules a package out for good if some dependency has
    /// no candidate at all.
    fn dependencies_possible(&mut self, cand: &'a Package, protected: bool) -> bool {
        for group in critical(cand) {
            let possible = |e: &mut Self, look| e.group_satisfied(group, look);
            if possible(self, Look::Marked) || possible(self, Look::Candidate) {
                continue;
            }
            self.fail(cand, Failure::Unsatisfiable(group));
            if !protected {
                self.state(&cand.name).cand = None;
            }
            return false;
        }
        true
    }

    fn install_dependencies(&mut self, cand: &'a Package, depth: usize, propagate: bool, from_user: bool) -> bool {
        let mut ok = true;
        for group in critical(cand) {
            if self.group_satisfied(group, Look::Marked) {
                if propagate && !self.protect_sole_solution(group, depth) {
                    ok = false;
                }
                continue;
            }
            let solutions = self.solutions(group);
            if !self.install_one_of(&solutions, depth, propagate) {
                self.fail(cand, Failure::Failed(group));
                ok = false;
                if !propagate && !from_user {
                    break;
                }
            }
        }
        ok
    }

    /// Whether a marked package (not only an installed one) satisfies `group`.
    fn group_satisfied_by_marks(&mut self, group: &'a Alternatives) -> bool {
        for rel in group.iter() {
            for p in self.targets(rel, Look::Marked) {
                if self.state(&p.name).marked {
                    return true;
                }
            }
        }
        false
    }

    /// Tries `solutions` in order; the first that installs wins.
    fn install_one_of(&mut self, solutions: &[&'a Package], depth: usize, propagate: bool) -> bool {
        for &p in solutions {
            if !self.state(&p.name).cand.is_some_and(|c| ptr::eq(c, p)) {
                continue;
            }
            if propagate && solutions.len() == 1 {
                if !self.mark_install(&p.name, false, false, depth + 1) {
                    continue;
                }
                self.state(&p.name).protected = true;
            }
            if self.mark_install(&p.name, true, false, depth + 1) {
                return true;
            }
        }
        false
    }

    /// A protected package's dependency with a single possible solution
    /// makes that solution protected too.
    fn protect_sole_solution(&mut self, group: &'a Alternatives, depth: usize) -> bool {
        // Satisfied by what is installed, not by anything marked: the
        // installed package stays as it is.
        if !self.group_satisfied_by_marks(group) {
            return true;
        }
        let mut all: Vec<&'a Package> = Vec::new();
        for rel in group.iter() {
            for p in self.targets(rel, Look::Candidate) {
                if !all.iter().any(|q| ptr::eq(*q, p)) {
                    all.push(p);
                }
            }
        }
        all.retain(|p| self.states.get(p.name.as_str()).is_none_or(|s| s.marked || !s.protected));
        let [sole] = all.as_slice() else { return true };
        if self.state(&sole.name).protected {
            return true;
        }
        self.state(&sole.name).protected = true;
        self.mark_install(&sole.name, true, false, depth + 1)
    }

    /// `Conflicts`/`Breaks` of `x` against marked packages fail `x`; a
    /// protected `x` also rules out the unmarked candidates it conflicts with.
    /// Unlike apt, a marked package is never unmarked to make room (apt then
    /// leaves the mess to its problem resolver): `x` fails instead.
    fn resolve_conflicts(&mut self, x: &'a Package, propagate: bool, from_user: bool) -> bool {
        let mut ok = true;
        for (field, rel) in negatives(x) {
            for p in self.targets(rel, Look::Candidate) {
                if p.name == x.name {
                    continue;
                }
                let s = self.state(&p.name);
                if s.marked {
                    self.fail(x, Failure::Conflict(Clash { with: p, declarer: x, field, rel }));
                    ok = false;
                    if !propagate && !from_user {
                        return false;
                    }
                } else if propagate {
                    (s.cand, s.protected) = (None, true);
                    self.fail(p, Failure::Conflict(Clash { with: x, declarer: x, field, rel }));
                }
            }
        }
        if let Some(clash) = self.marked_conflicting_with(x) {
            self.fail(x, Failure::Conflict(clash));
            ok = false;
        }
        ok
    }

    /// A marked package whose own `Conflicts`/`Breaks` match `x`.
    pub(super) fn marked_conflicting_with(&self, x: &Package) -> Option<Clash<'a>> {
        let mut marked: Vec<&'a Package> =
            self.states.values().filter(|s| s.marked).filter_map(|s| s.cand).filter(|m| m.name != x.name).collect();
        marked.sort_by(|a, b| a.name.cmp(&b.name));
        marked.into_iter().find_map(|m| {
            let (field, rel) = negatives(m).find(|(_, rel)| matches(rel, x, &self.arch))?;
            Some(Clash { with: m, declarer: m, field, rel })
        })
    }

    /// The autoremover: keep what the requests and the essential packages
    /// reach through `Pre-Depends`, `Depends`, `Recommends` and `Suggests`.
    pub(super) fn sweep(&mut self, roots: &[&'a Package]) -> Vec<&'a Package> {
        let mut stack: Vec<&'a Package> = roots.to_vec();
        let marked: Vec<&'a Package> = self.states.values().filter(|s| s.marked).filter_map(|s| s.cand).collect();
        stack.extend(marked.iter().filter(|p| p.essential || p.important));
        let mut seen: HashSet<&'a str> = HashSet::new();
        while let Some(p) = stack.pop() {
            if !seen.insert(&p.name) {
                continue;
            }
            let fields = [&p.pre_depends, &p.depends, &p.recommends, &p.suggests];
            for rel in fields.into_iter().flat_map(|f| f.iter()).flat_map(|g| g.iter()) {
                stack.extend(self.targets(rel, Look::Marked));
            }
        }
        let mut kept: Vec<&'a Package> =
            marked.into_iter().filter(|p| seen.contains(p.name.as_str()) && !self.already_installed(p)).collect();
        kept.sort_by(|a, b| a.name.cmp(&b.name));
        kept
    }
}
