//! A kernel found in a tree: its image, its release string and an index of
//! its modules directory.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

use microroot_tree::{Blob, Tree, TreePath};

use crate::compress::{self, Format};
use crate::modinfo::{self, ModInfo};
use crate::{bzimage, Error, Result};

/// No module comes near this; it bounds memory on corrupt files.
const MAX_MODULE: u64 = 1 << 30;

/// A kernel image and, when it came from a tree, its modules.
#[derive(Debug)]
pub struct Kernel {
    version: String,
    image: Blob,
    image_path: Option<TreePath>,
    owner: Option<Arc<str>>,
    modules: Option<ModulesDir>,
}

/// The index of `lib/modules/<version>`.
#[derive(Debug)]
pub(crate) struct ModulesDir {
    /// Where the directory is in the source tree.
    pub dir: TreePath,
    /// Module files by normalized name.
    pub files: BTreeMap<String, ModuleFile>,
    /// Names of built-in modules, normalized.
    pub builtin: BTreeSet<String>,
    pub builtin_list: Blob,
    pub builtin_modinfo: Blob,
    /// `(normalized alias pattern, module)` of built-in modules.
    pub builtin_aliases: Vec<(String, String)>,
    /// `modules.order` lines (paths like `kernel/fs/fat/fat.ko`).
    pub order: Vec<String>,
    /// Aliases of every module file, read on first need.
    module_aliases: OnceLock<Vec<(String, String)>>,
}

/// One module file of the kernel.
#[derive(Clone, Debug)]
pub(crate) struct ModuleFile {
    /// Relative to the modules directory, as stored: `kernel/…/x.ko.xz`.
    pub relative: String,
    pub source: TreePath,
    pub format: Option<Format>,
    pub blob: Blob,
}

impl ModuleFile {
    /// The path without its compression suffix: `kernel/…/x.ko`.
    pub fn relative_uncompressed(&self) -> &str {
        let end = self.relative.rfind(".ko").map_or(self.relative.len(), |i| i + 3);
        &self.relative[..end]
    }

    /// The module's ELF bytes and what its `.modinfo` says.
    pub fn load(&self) -> Result<(Vec<u8>, ModInfo)> {
        let data = match self.format {
            None => self.blob.bytes().to_vec(),
            Some(format) => compress::decompress(format, &self.blob.bytes(), MAX_MODULE).map_err(|source| {
                Error::Decompress { what: format!("module `{}`", self.source), format: format.name(), source }
            })?,
        };
        let info = ModInfo::from_module(&data)
            .map_err(|reason| Error::Elf { what: format!("module `{}`", self.source), reason })?;
        Ok((data, info))
    }
}

impl Kernel {
    /// The one kernel in `tree`: `boot/vmlinuz-<version>` and its modules
    /// directory, `usr/lib/modules/<version>` or `lib/modules/<version>`.
    pub fn from_tree(tree: &Tree) -> Result<Kernel> {
        let versions = versions(tree);
        match versions.as_slice() {
            [] => Err(Error::NoKernelImage),
            [version] => Kernel::from_tree_version(tree, version),
            _ => Err(Error::SeveralKernels { versions }),
        }
    }

    /// The kernel `version` of a tree that may hold several.
    pub fn from_tree_version(tree: &Tree, version: &str) -> Result<Kernel> {
        let image_path = TreePath::new(&format!("boot/vmlinuz-{version}")).ok();
        let image = image_path.as_ref().and_then(|p| tree.file(p));
        let (Some(image_path), Some(image)) = (image_path, image) else {
            return Err(Error::NoSuchKernel { version: version.to_owned(), found: versions(tree) });
        };
        let owner = tree.get(&image_path).and_then(|e| e.owner.clone());
        let modules = ModulesDir::find(tree, version)?;
        Ok(Kernel { version: version.to_owned(), image: image.clone(), image_path: Some(image_path), owner, modules })
    }

    /// A kernel image on its own (a local `vmlinuz` file, say): no modules.
    /// The version is the one the image's header records.
    pub fn from_bzimage(bytes: impl Into<Blob>) -> Result<Kernel> {
        let image = bytes.into();
        let version = bzimage::kernel_version(&image.bytes())?;
        Ok(Kernel { version, image, image_path: None, owner: None, modules: None })
    }

    /// The release, e.g. `6.12.107+deb13-cloud-amd64`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The bzImage as found.
    pub fn image(&self) -> &Blob {
        &self.image
    }

    /// Where the image was in the tree.
    pub fn image_path(&self) -> Option<&TreePath> {
        self.image_path.as_ref()
    }

    /// The package that installed the image, if the tree recorded one.
    pub fn owner(&self) -> Option<&Arc<str>> {
        self.owner.as_ref()
    }

    /// The uncompressed ELF kernel; see [`crate::extract_vmlinux`].
    pub fn vmlinux(&self) -> Result<Vec<u8>> {
        bzimage::extract_vmlinux(&self.image.bytes())
    }

    /// The modules directory in the source tree.
    pub fn modules_dir(&self) -> Option<&TreePath> {
        self.modules.as_ref().map(|m| &m.dir)
    }

    /// Names of every module file, normalized, sorted.
    pub fn module_names(&self) -> impl Iterator<Item = &str> {
        self.modules.iter().flat_map(|m| m.files.keys().map(String::as_str))
    }

    /// Names of every built-in module, normalized, sorted.
    pub fn builtin_names(&self) -> impl Iterator<Item = &str> {
        self.modules.iter().flat_map(|m| m.builtin.iter().map(String::as_str))
    }

    pub(crate) fn modules(&self) -> Result<&ModulesDir> {
        self.modules.as_ref().ok_or_else(|| Error::NoModules { version: self.version.clone() })
    }
}

/// Versions of every `boot/vmlinuz-*` that is (or links to) a file.
fn versions(tree: &Tree) -> Vec<String> {
    let boot = TreePath::new("boot").expect("valid");
    let Ok(boot) = tree.resolve(&boot, true) else { return Vec::new() };
    tree.children(&boot)
        .filter(|(p, _)| tree.file(p).is_some())
        .filter_map(|(p, _)| p.file_name().strip_prefix("vmlinuz-").map(str::to_owned))
        .filter(|v| !v.is_empty())
        .collect()
}

impl ModulesDir {
    fn find(tree: &Tree, version: &str) -> Result<Option<ModulesDir>> {
        for candidate in [format!("usr/lib/modules/{version}"), format!("lib/modules/{version}")] {
            let Ok(path) = TreePath::new(&candidate) else { continue };
            let Ok(dir) = tree.resolve(&path, true) else { continue };
            if tree.get(&dir).is_some_and(|e| e.is_dir()) {
                return Ok(Some(ModulesDir::index(tree, dir)));
            }
        }
        Err(Error::NoModulesDir { version: version.to_owned() })
    }

    fn index(tree: &Tree, dir: TreePath) -> ModulesDir {
        let prefix_len = dir.as_str().len() + usize::from(!dir.is_root());
        let mut files: BTreeMap<String, ModuleFile> = BTreeMap::new();
        for (path, _) in tree.below(&dir) {
            let relative = &path.as_str()[prefix_len..];
            let format = match module_suffix(relative) {
                Some(format) => format,
                None => continue,
            };
            let (Some(name), Some(blob)) = (modinfo::name_of_path(relative), tree.file(path)) else { continue };
            let file = ModuleFile { relative: relative.to_owned(), source: path.clone(), format, blob: blob.clone() };
            // As depmod's default search order: `updates/` overrides the rest.
            match files.get(&name) {
                Some(old) if !relative.starts_with("updates/") || old.relative.starts_with("updates/") => {}
                _ => {
                    files.insert(name, file);
                }
            }
        }
        let read = |name: &str| dir.join(name).ok().and_then(|p| tree.file(&p).cloned()).unwrap_or_default();
        let builtin_list = read("modules.builtin");
        let builtin_modinfo = read("modules.builtin.modinfo");
        let order = read("modules.order");
        ModulesDir {
            builtin: lines(&builtin_list).iter().filter_map(|l| modinfo::name_of_path(l)).collect(),
            builtin_aliases: builtin_aliases(&builtin_modinfo),
            order: lines(&order),
            builtin_list,
            builtin_modinfo,
            files,
            dir,
            module_aliases: OnceLock::new(),
        }
    }

    /// `(normalized pattern, module)` for the aliases of every module file,
    /// in module-name order. Reads (and decompresses) every module the
    /// first time, on as many threads as the host has cores.
    pub fn module_aliases(&self) -> Result<&[(String, String)]> {
        if let Some(aliases) = self.module_aliases.get() {
            return Ok(aliases);
        }
        let files: Vec<(&String, &ModuleFile)> = self.files.iter().collect();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
        let chunk = files.len().div_ceil(threads).max(1);
        let results: Vec<Result<Vec<(String, String)>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = files.chunks(chunk).map(|part| scope.spawn(move || aliases_of(part))).collect();
            handles.into_iter().map(|h| h.join().expect("alias scan thread panicked")).collect()
        });
        let mut all = Vec::new();
        for part in results {
            all.extend(part?);
        }
        Ok(self.module_aliases.get_or_init(|| all))
    }

    /// Positions of `modules.order` lines by path.
    pub fn order_index(&self) -> HashMap<&str, usize> {
        self.order.iter().enumerate().map(|(i, line)| (line.as_str(), i)).collect()
    }
}

fn aliases_of(files: &[(&String, &ModuleFile)]) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (name, file) in files {
        let (_, info) = file.load()?;
        out.extend(info.aliases.iter().filter_map(|a| modinfo::normalize_alias(a)).map(|a| (a, (*name).clone())));
    }
    Ok(out)
}

/// The compression of a module file name (`Some(None)` for a plain `.ko`),
/// or `None` if it is not a module.
fn module_suffix(path: &str) -> Option<Option<Format>> {
    let suffixes =
        [(".ko", None), (".ko.xz", Some(Format::Xz)), (".ko.zst", Some(Format::Zstd)), (".ko.gz", Some(Format::Gzip))];
    suffixes.into_iter().find(|(suffix, _)| path.ends_with(suffix)).map(|(_, format)| format)
}

fn lines(blob: &Blob) -> Vec<String> {
    let bytes = blob.bytes();
    let text = std::str::from_utf8(&bytes).unwrap_or_default();
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

/// `ext4.alias=fs-ext4` entries of `modules.builtin.modinfo`.
fn builtin_aliases(modinfo: &Blob) -> Vec<(String, String)> {
    modinfo
        .bytes()
        .split(|&b| b == 0)
        .filter_map(|entry| {
            let entry = std::str::from_utf8(entry).ok()?;
            let (module, rest) = entry.split_once('.')?;
            let alias = rest.strip_prefix("alias=")?;
            Some((modinfo::normalize_alias(alias)?, modinfo::normalize_name(module)))
        })
        .collect()
}
