//! The `microroot.toml` manifest: what goes into an image and what comes out.
//!
//! Parsing is strict (unknown keys are errors) and every error carries the
//! file, line and column plus a hint, because a manifest is hand-written.
//! [`Manifest::default_base`] is the embedded MicroRoot base image.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The embedded default manifest (also what `microroot init` writes).
pub const DEFAULT_MANIFEST: &str = include_str!("default.toml");

/// Paths no runtime needs, dropped unless `prune.defaults = false`.
pub const DEFAULT_EXCLUDES: &[&str] = &[
    "/usr/share/doc/**",
    "/usr/share/doc-base/**",
    "/usr/share/man/**",
    "/usr/share/info/**",
    "/usr/share/locale/**",
    "/usr/share/i18n/**",
    "/usr/share/lintian/**",
    "/usr/share/linda/**",
    "/usr/share/bug/**",
    "/usr/share/menu/**",
    "/usr/share/bash-completion/**",
    "/usr/share/zsh/**",
    "/usr/share/fish/**",
    "/usr/share/gitweb/**",
    "/usr/share/initramfs-tools/**",
    "/usr/lib/*/gconv/**",
    "/usr/lib/locale/**",
    "/usr/share/common-licenses/**",
    "/usr/share/pixmaps/**",
    "/usr/share/applications/**",
    "/etc/cron.daily/**",
    "/etc/logrotate.d/**",
    "/usr/lib/systemd/**",
    "/usr/lib/tmpfiles.d/**",
    "/usr/lib/sysusers.d/**",
    "/etc/init.d/**",
    "/etc/default/**",
];

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// A base image whose layers go into the tree before the packages: an
    /// OCI image layout directory, an oci-archive or docker-archive file
    /// (relative to the manifest), or a registry reference such as
    /// `registry.example:5000/team/base:1.0`. A tag is resolved once and
    /// pinned by digest in the lockfile.
    pub base: Option<String>,
    #[serde(default)]
    pub image: Image,
    #[serde(default)]
    pub source: Source,
    #[serde(default)]
    pub packages: Packages,
    #[serde(default)]
    pub prune: Prune,
    #[serde(default)]
    pub files: Vec<FileSpec>,
    #[serde(default)]
    pub dirs: Vec<DirSpec>,
    #[serde(default)]
    pub symlinks: Vec<SymlinkSpec>,
    #[serde(default)]
    pub devices: Vec<DeviceSpec>,
    /// gen_init_cpio file lists (`file`, `dir`, `nod`, `slink`, `pipe`,
    /// `sock` lines) whose entries are added to the image, relative to the
    /// manifest's directory.
    #[serde(default)]
    pub file_lists: Vec<PathBuf>,
    #[serde(default)]
    pub users: Vec<UserSpec>,
    #[serde(default)]
    pub groups: Vec<GroupSpec>,
    #[serde(default)]
    pub config: Config,
    #[serde(default)]
    pub kernel: Kernel,
    #[serde(default)]
    pub init: Init,
    #[serde(default)]
    pub vm: Vm,
    #[serde(default)]
    pub output: Output,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    #[serde(default = "default_name")]
    pub name: String,
    #[serde(default = "default_arch")]
    pub arch: String,
    #[serde(default = "default_hostname")]
    pub hostname: String,
    pub epoch: Option<i64>,
    /// The reference OCI outputs are tagged with (default `NAME:latest`).
    pub tag: Option<String>,
}

impl Default for Image {
    fn default() -> Self {
        Image { name: default_name(), arch: default_arch(), hostname: default_hostname(), epoch: None, tag: None }
    }
}

fn default_name() -> String {
    "microroot".into()
}
fn default_arch() -> String {
    "amd64".into()
}
fn default_hostname() -> String {
    "microroot".into()
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    #[serde(default = "default_suite")]
    pub suite: String,
    #[serde(default = "default_components")]
    pub components: Vec<String>,
    #[serde(default)]
    pub mirrors: Vec<String>,
    pub keyring: Option<PathBuf>,
}

impl Default for Source {
    fn default() -> Self {
        Source { suite: default_suite(), components: default_components(), mirrors: vec![], keyring: None }
    }
}

fn default_suite() -> String {
    "stable".into()
}
fn default_components() -> Vec<String> {
    vec!["main".into()]
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Packages {
    #[serde(default)]
    pub include: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Prune {
    #[serde(default = "yes")]
    pub defaults: bool,
    #[serde(default)]
    pub exclude: Vec<String>,
}

impl Default for Prune {
    fn default() -> Self {
        Prune { defaults: true, exclude: vec![] }
    }
}

fn yes() -> bool {
    true
}

/// Ownership and permissions shared by the extra-entry tables.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Owner {
    /// Octal string such as `"0755"`.
    pub mode: Option<String>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    pub path: String,
    /// Inline text content.
    pub content: Option<String>,
    /// A host file to copy (relative to the manifest's directory).
    pub source: Option<PathBuf>,
    #[serde(flatten)]
    pub owner: Owner,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DirSpec {
    pub path: String,
    #[serde(flatten)]
    pub owner: Owner,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SymlinkSpec {
    pub path: String,
    pub target: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceSpec {
    pub path: String,
    /// `char`, `block` or `fifo`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub major: u32,
    #[serde(default)]
    pub minor: u32,
    #[serde(flatten)]
    pub owner: Owner,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    pub name: String,
    pub uid: u32,
    /// Primary group id (default: same as uid, creating the group).
    pub gid: Option<u32>,
    pub home: Option<String>,
    pub shell: Option<String>,
    /// A crypt(3) hash for /etc/shadow; default `*` (no password login).
    pub password_hash: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    pub name: String,
    pub gid: u32,
    #[serde(default)]
    pub members: Vec<String>,
}

/// Runtime configuration (OCI image config, init).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub entrypoint: Vec<String>,
    #[serde(default)]
    pub cmd: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    /// Ports the image exposes (OCI config), `"80"`, `"80/tcp"` or `"53/udp"`.
    #[serde(default)]
    pub ports: Vec<String>,
    /// OCI image config labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// OCI manifest and index annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// The signal that stops the container (OCI config), e.g. `SIGQUIT`.
    pub stop_signal: Option<String>,
}

/// The kernel of VM outputs: a Debian package or a local bzImage.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Kernel {
    /// A `linux-image-*` package (a metapackage is followed to the image
    /// package it depends on). Default for VM outputs:
    /// [`DEFAULT_KERNEL_PACKAGE`].
    pub package: Option<String>,
    /// A local bzImage instead of a package (relative to the manifest); it
    /// brings no modules, so its drivers must be built in.
    pub path: Option<PathBuf>,
    /// Modules to load besides the ones every microVM needs.
    #[serde(default)]
    pub modules: Vec<String>,
    /// Extra kernel command-line arguments.
    pub cmdline: Option<String>,
}

/// The Debian kernel VM outputs use unless `[kernel]` says otherwise.
pub const DEFAULT_KERNEL_PACKAGE: &str = "linux-image-cloud-amd64";

/// What runs as PID 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InitMode {
    /// microroot-init runs the entrypoint (default for VM outputs).
    Microroot,
    /// BusyBox init with a generated /etc/inittab.
    Busybox,
    /// The manifest's `script` as /sbin/init.
    Script,
    /// Nothing is added; the image brings its own.
    None,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Init {
    /// Default: `microroot` for VM outputs, else `none`.
    pub mode: Option<InitMode>,
    /// For `mode = "script"`: a host file (relative to the manifest).
    pub script: Option<PathBuf>,
    /// Seconds the other processes get between SIGTERM and SIGKILL once
    /// the app has exited.
    pub stop_timeout: Option<u32>,
}

/// How `microroot run` and the Firecracker config start the VM.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Vm {
    /// Guest memory in MiB.
    #[serde(default = "default_memory")]
    pub memory: u32,
    #[serde(default = "default_cpus")]
    pub cpus: u32,
    /// Port forwards `"HOST:GUEST"` (TCP, bound to 127.0.0.1).
    #[serde(default)]
    pub ports: Vec<String>,
}

impl Default for Vm {
    fn default() -> Self {
        Vm { memory: default_memory(), cpus: default_cpus(), ports: vec![] }
    }
}

fn default_memory() -> u32 {
    256
}
fn default_cpus() -> u32 {
    1
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    #[serde(default = "default_formats")]
    pub formats: Vec<String>,
    /// `rootfs.ext4` size: `"auto"` (content plus headroom) or a size such
    /// as `"256M"`, `"1G"` or a byte count.
    #[serde(default = "default_ext4_size")]
    pub ext4_size: String,
    /// Give `rootfs.ext4` a journal.
    #[serde(default)]
    pub ext4_journal: bool,
    /// `stage1` (init and modules, mounting `rootfs.ext4`) or `full` (the
    /// whole image). Default: `stage1` when `ext4` is also built.
    pub initramfs: Option<InitramfsKind>,
    /// OCI layers: `single` (one layer) or `packages` (a layer per
    /// package, so images built from the same packages share layers).
    #[serde(default)]
    pub layers: LayerMode,
    /// With `layers = "packages"`: the most layers an image gets; the
    /// smallest packages share layers beyond it.
    #[serde(default = "default_max_layers")]
    pub max_layers: usize,
}

impl Default for Output {
    fn default() -> Self {
        Output {
            formats: default_formats(),
            ext4_size: default_ext4_size(),
            ext4_journal: false,
            initramfs: None,
            layers: LayerMode::default(),
            max_layers: default_max_layers(),
        }
    }
}

fn default_max_layers() -> usize {
    64
}

/// How the tree is cut into OCI layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LayerMode {
    #[default]
    Single,
    Packages,
}

fn default_ext4_size() -> String {
    "auto".into()
}

/// What the initramfs holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InitramfsKind {
    Stage1,
    Full,
}

impl Manifest {
    /// Whether any output is an OCI image, archive or runtime bundle.
    pub fn is_oci(&self) -> bool {
        self.output.formats.iter().any(|f| crate::validate::OCI_FORMATS.contains(&f.as_str()))
    }

    /// The reference OCI outputs are tagged with.
    pub fn tag(&self) -> String {
        self.image.tag.clone().unwrap_or_else(|| format!("{}:latest", self.image.name))
    }

    /// Whether any output boots: an ext4 image or an initramfs.
    pub fn is_vm(&self) -> bool {
        self.output.formats.iter().any(|f| f == "ext4" || f.starts_with("cpio"))
    }

    /// The effective init mode.
    pub fn init_mode(&self) -> InitMode {
        self.init.mode.unwrap_or(if self.is_vm() { InitMode::Microroot } else { InitMode::None })
    }

    /// The effective initramfs content, if an initramfs is built.
    pub fn initramfs_kind(&self) -> Option<InitramfsKind> {
        let has_cpio = self.output.formats.iter().any(|f| f.starts_with("cpio"));
        let has_ext4 = self.output.formats.iter().any(|f| f == "ext4");
        has_cpio.then(|| {
            self.output.initramfs.unwrap_or(if has_ext4 { InitramfsKind::Stage1 } else { InitramfsKind::Full })
        })
    }

    /// The kernel package VM outputs use, if the kernel comes from a package.
    pub fn kernel_package(&self) -> Option<&str> {
        if !self.is_vm() || self.kernel.path.is_some() {
            return None;
        }
        Some(self.kernel.package.as_deref().unwrap_or(DEFAULT_KERNEL_PACKAGE))
    }

    /// The command the init runs: entrypoint followed by cmd.
    pub fn argv(&self) -> Vec<String> {
        self.config.entrypoint.iter().chain(&self.config.cmd).cloned().collect()
    }
}

fn default_formats() -> Vec<String> {
    vec!["tar.xz".into()]
}

/// A manifest that could not be read or does not make sense.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read manifest {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}:{column}: {message}\n  | {snippet}\nhint: {hint}")]
    Syntax { path: PathBuf, line: usize, column: usize, message: String, snippet: String, hint: String },
    #[error("{path}: {message}\nhint: {hint}")]
    Invalid { path: PathBuf, message: String, hint: String },
    #[error("{path}:{line}:{column}: {message}\n  | {snippet}\nhint: {hint}")]
    InvalidAt { path: PathBuf, line: usize, column: usize, message: String, snippet: String, hint: String },
}

impl Manifest {
    /// The embedded MicroRoot base image.
    pub fn default_base() -> Manifest {
        Manifest::parse(DEFAULT_MANIFEST, Path::new("<default manifest>")).expect("embedded manifest parses")
    }

    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ManifestError::Read { path: path.to_owned(), source })?;
        Manifest::parse(&text, path)
    }

    /// Parses and validates; `path` only labels errors.
    pub fn parse(text: &str, path: &Path) -> Result<Manifest, ManifestError> {
        let manifest: Manifest = toml::from_str(text).map_err(|e| syntax_error(text, path, &e))?;
        crate::validate::validate(&manifest, path).map_err(|e| locate(e, text))?;
        Ok(manifest)
    }
}

/// 1-based line and column of byte `offset`, and that line's text.
fn position(text: &str, offset: usize) -> (usize, usize, String) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = offset - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    (line, column, text.lines().nth(line - 1).unwrap_or("").to_owned())
}

/// Points a validation error at the value it names (the first `quoted`
/// word of its message) when that value appears in the text.
fn locate(err: ManifestError, text: &str) -> ManifestError {
    let ManifestError::Invalid { path, message, hint } = err else { return err };
    let value = message.split('`').nth(1).filter(|v| !v.is_empty());
    let offset = value.and_then(|v| text.find(&format!("\"{v}\"")).or_else(|| text.find(v)));
    match offset {
        Some(offset) => {
            let (line, column, snippet) = position(text, offset);
            ManifestError::InvalidAt { path, line, column, message, snippet, hint }
        }
        None => ManifestError::Invalid { path, message, hint },
    }
}

fn syntax_error(text: &str, path: &Path, err: &toml::de::Error) -> ManifestError {
    let (line, column, snippet) = position(text, err.span().map(|s| s.start).unwrap_or(0));
    let message = err.message().trim().replace('\n', " ");
    let hint = if message.contains("unknown field") {
        "check the spelling against docs/manifest.md; `microroot init` writes a commented example".to_owned()
    } else if message.contains("must be quoted") {
        "strings need quotes, lists use [\"a\", \"b\"]".to_owned()
    } else if message.contains("invalid type") {
        "this key takes another type of value; see docs/manifest.md".to_owned()
    } else {
        "see docs/manifest.md for the manifest format".to_owned()
    };
    ManifestError::Syntax { path: path.to_owned(), line, column, message, snippet, hint }
}

#[cfg(test)]
mod tests;
