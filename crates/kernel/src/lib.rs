//! Linux kernels for microroot: the image a VMM boots and the modules the
//! guest loads.
//!
//! Data flow:
//!
//! ```text
//! Tree (linux-image-*.deb extracted) ──Kernel::from_tree──▶ Kernel { version, bzImage, modules dir }
//!   Kernel::vmlinux ── extract_vmlinux ──▶ ELF vmlinux (what Firecracker boots)
//!   resolve_modules(kernel, VM_MODULES) ──▶ ModuleSet { modules in load order, built-ins }
//!   install_modules(tree, kernel, set, meta) ──▶ usr/lib/modules/<ver>/… + depmod indexes
//! ```
//!
//! - [`extract_vmlinux`] reads the x86 boot protocol header of a bzImage,
//!   finds the compressed payload, decompresses it (zstd, xz or gzip) and
//!   checks that the result is an x86-64 ELF executable.
//! - [`Kernel`] indexes a kernel's modules directory: every module file by
//!   name, `modules.builtin`, `modules.order` and the aliases of built-in
//!   modules. Module names compare with `-` and `_` equal, as in kmod.
//! - [`resolve_modules`] turns requested names (module names, built-in
//!   names or aliases such as `fs-ext4`) into the modules to load, with
//!   their `depends=` and soft dependencies read natively from each
//!   module's ELF `.modinfo` section, dependencies first.
//! - [`install_modules`] writes the chosen modules, decompressed, into a
//!   tree together with the files `depmod` would have written for exactly
//!   that set (`modules.dep`, `modules.alias`, `modules.softdep` and their
//!   `.bin` indexes), so `modprobe` works in the image without running
//!   `depmod` there.
//!
//! Nothing here does I/O: the kernel comes in as a tree or as bytes.

mod bzimage;
mod compress;
mod depmod;
mod elf;
mod install;
mod kernel;
mod kmod_index;
mod modinfo;
mod resolve;

pub use bzimage::{extract_vmlinux, kernel_version, PayloadFormat};
pub use depmod::Depmod;
pub use install::install_modules;
pub use kernel::Kernel;
pub use modinfo::{normalize_name, ModInfo, Symbols};
pub use resolve::{resolve_modules, Module, ModuleSet};

use microroot_tree::{TreeError, TreePath};

/// What a microVM needs from a modular kernel: the virtio-mmio transport
/// Firecracker uses, the block and network devices, vsock for the host
/// channel, and ext4 for the root filesystem. Their dependencies come
/// along when resolved; entries built into the kernel resolve to nothing.
pub const VM_MODULES: &[&str] = &["virtio_mmio", "virtio_blk", "virtio_net", "vmw_vsock_virtio_transport", "ext4"];

/// Why a kernel could not be read or its modules resolved.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no kernel in the tree: nothing matches `boot/vmlinuz-*`\nhint: install a kernel package such as linux-image-cloud-amd64")]
    NoKernelImage,
    #[error("the tree holds {} kernels ({}); which one to use is ambiguous\nhint: pick one with Kernel::from_tree_version", versions.len(), versions.join(", "))]
    SeveralKernels { versions: Vec<String> },
    #[error("no kernel {version} in the tree: `boot/vmlinuz-{version}` is missing (found: {})", if found.is_empty() { "none".to_owned() } else { found.join(", ") })]
    NoSuchKernel { version: String, found: Vec<String> },
    #[error("kernel {version} has no modules directory: neither `usr/lib/modules/{version}` nor `lib/modules/{version}` is in the tree\nhint: the kernel package is incomplete, or its modules were filtered out")]
    NoModulesDir { version: String },
    #[error("kernel {version} was given as a bare image and has no modules\nhint: load it with Kernel::from_tree to use modules")]
    NoModules { version: String },
    #[error("not an x86 bzImage: {reason}")]
    NotBzImage { reason: String },
    #[error("the bzImage payload ({offset}+{length} bytes) lies outside the file ({file_len} bytes)\nhint: the kernel image is truncated")]
    PayloadOutOfBounds { offset: u64, length: u64, file_len: usize },
    #[error("the kernel payload is {format}-compressed, which microroot cannot decompress\nhint: use a kernel built with CONFIG_KERNEL_ZSTD, CONFIG_KERNEL_XZ or CONFIG_KERNEL_GZIP (Debian's kernels use zstd since Debian 13)")]
    UnsupportedCompression { format: &'static str },
    #[error("the kernel payload starts with {magic:02x?}, which is no known compression format")]
    UnknownCompression { magic: Vec<u8> },
    #[error("cannot decompress {what} ({format})")]
    Decompress {
        what: String,
        format: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} decompressed to {got} bytes, but the image records {expected}\nhint: the kernel image is corrupt")]
    SizeMismatch { what: String, expected: u64, got: u64 },
    #[error("{what} is not a usable ELF file: {reason}")]
    Elf { what: String, reason: String },
    #[error("{}", module_not_found(name, kernel_version, suggestions))]
    ModuleNotFound { name: String, kernel_version: String, suggestions: Vec<String> },
    #[error("module `{module}` of kernel {kernel_version} depends on `{dependency}`, which is neither a module file nor built in\nhint: the kernel's modules directory is incomplete")]
    MissingDependency { module: String, dependency: String, kernel_version: String },
    #[error("modules depend on each other in a cycle: {}", chain.join(" -> "))]
    DependencyCycle { chain: Vec<String> },
    #[error("cannot install `{path}`")]
    Install {
        path: TreePath,
        #[source]
        source: TreeError,
    },
}

fn module_not_found(name: &str, version: &str, suggestions: &[String]) -> String {
    let head =
        format!("module `{name}` is not in kernel {version}: no module file, built-in module or alias has that name");
    if suggestions.is_empty() {
        format!("{head}\nhint: the kernel may not have this driver; look in its config (`boot/config-{version}`)")
    } else {
        let list: Vec<String> = suggestions.iter().map(|s| format!("`{s}`")).collect();
        format!("{head}\nhint: did you mean {}?", list.join(", "))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
