//! From requested names to the modules to load, in order.
//!
//! A name is looked up the way `modprobe` does: a module file, then a
//! built-in module, then the aliases of built-in modules, then the aliases
//! of every module file (only read when it comes to that). An alias may
//! match several modules; all of them are loaded. Each module brings its
//! `softdep` pre-dependencies first, then its `depends=` (recursively),
//! then itself, then its post-dependencies. Soft dependencies that the
//! kernel lacks are skipped, as modprobe skips them.

use std::collections::{BTreeSet, HashMap, HashSet};

use microroot_tree::TreePath;

use crate::kernel::{ModuleFile, ModulesDir};
use crate::modinfo::{self, ModInfo, Symbols};
use crate::{Error, Kernel, Result};

/// A module chosen for loading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Module {
    /// Normalized name (`-` as `_`), as `lsmod` shows it.
    pub name: String,
    /// Relative to the modules directory, without compression suffix:
    /// `kernel/drivers/block/virtio_blk.ko`.
    pub relative: String,
    /// Where [`crate::install_modules`] puts it:
    /// `usr/lib/modules/<version>/kernel/drivers/block/virtio_blk.ko`.
    pub path_in_tree: TreePath,
    /// The file it was read from, in the kernel's tree (maybe `.ko.xz`).
    pub source: TreePath,
    /// The decompressed ELF object.
    pub data: Vec<u8>,
    pub info: ModInfo,
    pub symbols: Symbols,
    /// Its line in the kernel's `modules.order`, if listed.
    pub order: Option<usize>,
}

/// What [`resolve_modules`] chose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleSet {
    pub kernel_version: String,
    /// Dependencies before their users, each module once.
    pub modules: Vec<Module>,
    /// Names that turned out to be built into the kernel, sorted.
    pub builtin: Vec<String>,
}

impl ModuleSet {
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.modules.iter().map(|m| m.name.as_str())
    }

    /// Bytes of decompressed module code.
    pub fn size(&self) -> u64 {
        self.modules.iter().map(|m| m.data.len() as u64).sum()
    }
}

/// Resolves `requested` (module names, built-in names or aliases) against
/// `kernel`'s modules; see the module docs for the order.
pub fn resolve_modules(kernel: &Kernel, requested: &[&str]) -> Result<ModuleSet> {
    let dir = kernel.modules()?;
    let mut r = Resolver {
        kernel,
        dir,
        order: dir.order_index(),
        out: Vec::new(),
        done: HashSet::new(),
        builtin: BTreeSet::new(),
        stack: Vec::new(),
    };
    for name in requested {
        match r.lookup(name)? {
            Found::Modules(names) => {
                for module in names {
                    r.visit(&module)?;
                }
            }
            Found::Builtin(module) => {
                r.builtin.insert(module);
            }
            Found::Nothing => return Err(not_found(kernel, dir, name)),
        }
    }
    Ok(ModuleSet {
        kernel_version: kernel.version().to_owned(),
        modules: r.out,
        builtin: r.builtin.into_iter().collect(),
    })
}

enum Found {
    Modules(Vec<String>),
    Builtin(String),
    Nothing,
}

struct Resolver<'a> {
    kernel: &'a Kernel,
    dir: &'a ModulesDir,
    order: HashMap<&'a str, usize>,
    out: Vec<Module>,
    done: HashSet<String>,
    builtin: BTreeSet<String>,
    /// Modules being visited, outermost first: a cycle shows up here.
    stack: Vec<String>,
}

impl Resolver<'_> {
    fn lookup(&self, name: &str) -> Result<Found> {
        let normalized = modinfo::normalize_name(name);
        if self.dir.files.contains_key(&normalized) {
            return Ok(Found::Modules(vec![normalized]));
        }
        if self.dir.builtin.contains(&normalized) {
            return Ok(Found::Builtin(normalized));
        }
        let Some(alias) = modinfo::normalize_alias(name) else { return Ok(Found::Nothing) };
        let matches = |aliases: &[(String, String)]| -> Vec<String> {
            let mut names: Vec<String> = Vec::new();
            for (pattern, module) in aliases {
                if modinfo::fnmatch(pattern, &alias) && !names.contains(module) {
                    names.push(module.clone());
                }
            }
            names
        };
        if let Some(module) = matches(&self.dir.builtin_aliases).into_iter().next() {
            return Ok(Found::Builtin(module));
        }
        let modules = matches(self.dir.module_aliases()?);
        Ok(if modules.is_empty() { Found::Nothing } else { Found::Modules(modules) })
    }

    fn visit(&mut self, name: &str) -> Result<()> {
        if self.done.contains(name) {
            return Ok(());
        }
        if let Some(at) = self.stack.iter().position(|s| s == name) {
            let mut chain = self.stack[at..].to_vec();
            chain.push(name.to_owned());
            return Err(Error::DependencyCycle { chain });
        }
        let file = self.dir.files.get(name).expect("visit is only called for module files");
        let (data, info) = file.load()?;
        self.stack.push(name.to_owned());
        for soft in &info.softdep_pre {
            self.visit_soft(soft)?;
        }
        for dep in &info.depends {
            if self.dir.files.contains_key(dep) {
                self.visit(dep)?;
            } else if self.dir.builtin.contains(dep) {
                self.builtin.insert(dep.clone());
            } else {
                return Err(Error::MissingDependency {
                    module: name.to_owned(),
                    dependency: dep.clone(),
                    kernel_version: self.kernel.version().to_owned(),
                });
            }
        }
        self.stack.pop();
        let module = self.module(name, file, data, info.clone())?;
        self.out.push(module);
        self.done.insert(name.to_owned());
        for soft in &info.softdep_post {
            self.visit_soft(soft)?;
        }
        Ok(())
    }

    /// A soft dependency: loaded if the kernel has it, skipped if not, and
    /// never an error for closing a loop (softdeps may point both ways).
    fn visit_soft(&mut self, name: &str) -> Result<()> {
        match self.lookup(name)? {
            Found::Modules(names) => {
                for module in names {
                    if !self.stack.contains(&module) {
                        self.visit(&module)?;
                    }
                }
            }
            Found::Builtin(module) => {
                self.builtin.insert(module);
            }
            Found::Nothing => {}
        }
        Ok(())
    }

    fn module(&self, name: &str, file: &ModuleFile, data: Vec<u8>, info: ModInfo) -> Result<Module> {
        let relative = file.relative_uncompressed().to_owned();
        let path = format!("usr/lib/modules/{}/{relative}", self.kernel.version());
        let symbols = Symbols::from_module(&data)
            .map_err(|reason| Error::Elf { what: format!("module `{}`", file.source), reason })?;
        Ok(Module {
            name: name.to_owned(),
            path_in_tree: TreePath::new(&path).expect("module paths come from tree paths"),
            source: file.source.clone(),
            order: self.order.get(relative.as_str()).copied(),
            relative,
            data,
            info,
            symbols,
        })
    }
}

fn not_found(kernel: &Kernel, dir: &ModulesDir, name: &str) -> Error {
    let wanted = modinfo::normalize_name(name);
    let candidates = dir.files.keys().chain(&dir.builtin);
    Error::ModuleNotFound {
        name: name.to_owned(),
        kernel_version: kernel.version().to_owned(),
        suggestions: suggestions(&wanted, candidates),
    }
}

/// Up to five names close to `wanted`: few edits away, or containing it.
fn suggestions<'a>(wanted: &str, candidates: impl Iterator<Item = &'a String>) -> Vec<String> {
    let budget = (wanted.chars().count() / 4).clamp(1, 3);
    let mut scored: Vec<(usize, &String)> = candidates
        .filter_map(|c| {
            let distance = strsim::levenshtein(wanted, c);
            if distance <= budget {
                Some((distance, c))
            } else if wanted.len() >= 3 && c.contains(wanted) {
                Some((budget + 1 + c.len() - wanted.len(), c))
            } else {
                None
            }
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(5).map(|(_, c)| c.clone()).collect()
}

#[cfg(test)]
mod tests;
