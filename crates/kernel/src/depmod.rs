//! What `depmod` would write for a set of modules, computed from their
//! `.modinfo` instead of their symbol tables (`modpost` derived `depends=`
//! from the same symbols).
//!
//! Ordering follows depmod so the files match byte for byte: modules in
//! `modules.order` order (unlisted ones after, by path); a module's
//! dependencies are its transitive `depends=`, ordered by a topological
//! sort that puts users before what they use, so the last entry of a
//! `modules.dep` line is loaded first. Index priorities are the module's
//! position. `modules.symbols` and `modules.devname` are not produced:
//! modprobe works without them.

use std::collections::{BTreeMap, HashMap};

use crate::kmod_index::Index;
use crate::modinfo;
use crate::{Kernel, Module, ModuleSet, Result};

/// The files of a modules directory besides the modules themselves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Depmod {
    files: BTreeMap<&'static str, Vec<u8>>,
}

impl Depmod {
    /// Everything modprobe reads, for exactly the modules of `set`; the
    /// built-in lists come from `kernel`.
    pub fn new(kernel: &Kernel, set: &ModuleSet) -> Result<Depmod> {
        let dir = kernel.modules()?;
        let graph = Graph::new(&set.modules);
        let mut files = BTreeMap::new();
        files.insert("modules.dep", graph.modules_dep().into_bytes());
        files.insert("modules.dep.bin", graph.modules_dep_bin());
        files.insert("modules.alias", graph.modules_alias().into_bytes());
        files.insert("modules.alias.bin", graph.modules_alias_bin());
        files.insert("modules.softdep", graph.modules_softdep().into_bytes());
        files.insert("modules.order", graph.modules_order(&dir.order).into_bytes());
        files.insert("modules.builtin", dir.builtin_list.bytes().to_vec());
        files.insert("modules.builtin.bin", builtin_bin(&dir.builtin_list));
        files.insert("modules.builtin.modinfo", dir.builtin_modinfo.bytes().to_vec());
        files.insert("modules.builtin.alias.bin", builtin_alias_bin(&dir.builtin_aliases));
        Ok(Depmod { files })
    }

    /// `(file name, contents)`, sorted by name.
    pub fn files(&self) -> impl Iterator<Item = (&'static str, &[u8])> {
        self.files.iter().map(|(name, data)| (*name, data.as_slice()))
    }

    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.files.get(name).map(Vec::as_slice)
    }
}

/// The modules in depmod's order with their dependency lines.
struct Graph<'a> {
    modules: Vec<&'a Module>,
    /// For each module (by position), all its dependencies in line order.
    lines: Vec<Vec<usize>>,
}

impl<'a> Graph<'a> {
    fn new(set: &'a [Module]) -> Graph<'a> {
        let mut modules: Vec<&Module> = set.iter().collect();
        modules
            .sort_by(|a, b| (a.order.is_none(), a.order, &a.relative).cmp(&(b.order.is_none(), b.order, &b.relative)));
        let position: HashMap<&str, usize> = modules.iter().enumerate().map(|(i, m)| (m.name.as_str(), i)).collect();
        let exporter: HashMap<&str, usize> = modules
            .iter()
            .enumerate()
            .flat_map(|(i, m)| m.symbols.exports.iter().map(move |s| (s.as_str(), i)))
            .collect();
        let direct: Vec<Vec<usize>> = modules.iter().map(|m| direct_deps(m, &position, &exporter)).collect();
        let rank = topological_rank(&direct);
        let lines = (0..modules.len())
            .map(|i| {
                let mut all = Vec::new();
                collect(&direct, i, &mut all);
                all.sort_by_key(|&d| rank[d]);
                all
            })
            .collect();
        Graph { modules, lines }
    }

    fn line(&self, i: usize) -> String {
        let mut line = format!("{}:", self.modules[i].relative);
        for &d in &self.lines[i] {
            line.push(' ');
            line.push_str(&self.modules[d].relative);
        }
        line
    }

    fn modules_dep(&self) -> String {
        (0..self.modules.len()).map(|i| self.line(i) + "\n").collect()
    }

    fn modules_dep_bin(&self) -> Vec<u8> {
        let mut index = Index::default();
        for (i, m) in self.modules.iter().enumerate() {
            index.insert(&m.name, &self.line(i), i as u32);
        }
        index.to_bytes()
    }

    fn modules_alias(&self) -> String {
        let mut out = String::from("# Aliases extracted from modules themselves.\n");
        for m in &self.modules {
            for alias in &m.info.aliases {
                out.push_str(&format!("alias {alias} {}\n", m.name));
            }
        }
        out
    }

    fn modules_alias_bin(&self) -> Vec<u8> {
        let mut index = Index::default();
        for (i, m) in self.modules.iter().enumerate() {
            for alias in m.info.aliases.iter().filter_map(|a| modinfo::normalize_alias(a)) {
                index.insert(&alias, &m.name, i as u32);
            }
        }
        index.to_bytes()
    }

    fn modules_softdep(&self) -> String {
        let mut out = String::from("# Soft dependencies extracted from modules themselves.\n");
        for m in &self.modules {
            for softdep in &m.info.softdeps {
                out.push_str(&format!("softdep {} {softdep}\n", m.name));
            }
        }
        out
    }

    /// The kernel's `modules.order` lines for the modules present.
    fn modules_order(&self, order: &[String]) -> String {
        let present: std::collections::HashSet<&str> = self.modules.iter().map(|m| m.relative.as_str()).collect();
        order.iter().filter(|line| present.contains(line.as_str())).map(|line| format!("{line}\n")).collect()
    }
}

/// The modules `m` depends on (`depends=`, those present), in the order
/// depmod finds them: by the first imported symbol each one exports.
fn direct_deps(m: &Module, position: &HashMap<&str, usize>, exporter: &HashMap<&str, usize>) -> Vec<usize> {
    let wanted: Vec<usize> = m.info.depends.iter().filter_map(|d| position.get(d.as_str()).copied()).collect();
    let by_symbol = m.symbols.imports.iter().filter_map(|s| exporter.get(s.as_str()).copied());
    let mut deps: Vec<usize> = Vec::new();
    for d in by_symbol.filter(|d| wanted.contains(d)).chain(wanted.iter().copied()) {
        if !deps.contains(&d) {
            deps.push(d);
        }
    }
    deps
}

/// depmod's topological order: Kahn's algorithm over "users first", with
/// the ready modules kept on a stack. Returns each module's rank.
fn topological_rank(direct: &[Vec<usize>]) -> Vec<usize> {
    let mut users = vec![0usize; direct.len()];
    for deps in direct {
        for &d in deps {
            users[d] += 1;
        }
    }
    let mut ready: Vec<usize> = (0..direct.len()).filter(|&i| users[i] == 0).collect();
    // Modules in a cycle keep the last rank; the resolver refuses cycles.
    let mut rank = vec![usize::MAX; direct.len()];
    let mut next = 0;
    while let Some(i) = ready.pop() {
        rank[i] = next;
        next += 1;
        for &d in &direct[i] {
            users[d] -= 1;
            if users[d] == 0 {
                ready.push(d);
            }
        }
    }
    rank
}

/// Every module `i` depends on, directly or not, each once.
fn collect(direct: &[Vec<usize>], i: usize, out: &mut Vec<usize>) {
    for &d in &direct[i] {
        if !out.contains(&d) {
            out.push(d);
            collect(direct, d, out);
        }
    }
}

/// `modules.builtin.bin`: each built-in module name with an empty value.
fn builtin_bin(list: &microroot_tree::Blob) -> Vec<u8> {
    let mut index = Index::default();
    let bytes = list.bytes();
    let text = std::str::from_utf8(&bytes).unwrap_or_default();
    for line in text.lines().filter(|l| l.starts_with(|c: char| c.is_ascii_alphabetic())) {
        if let Some(name) = modinfo::name_of_path(line) {
            index.insert(&name, "", 0);
        }
    }
    index.to_bytes()
}

/// `modules.builtin.alias.bin`: aliases of built-in modules.
fn builtin_alias_bin(aliases: &[(String, String)]) -> Vec<u8> {
    let mut index = Index::default();
    for (alias, module) in aliases {
        index.insert(alias, module, 0);
    }
    index.to_bytes()
}
