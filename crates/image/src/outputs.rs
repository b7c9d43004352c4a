//! Writes the manifest's output formats. All outputs are first written into
//! a staging directory inside the output directory, then renamed into
//! place together; any failure removes the staging directory.

use std::path::{Path, PathBuf};

use microroot_tree::{Spill, Tree};

use microroot_writers::{Compression, Written};

use crate::boot::BootArtifacts;

use crate::manifest::Manifest;
use crate::report::OutputFile;
use crate::{BuildError, Progress};

/// The file name and compression of a `[output] formats` entry (one of
/// [`crate::validate::FORMATS`]). The x86 BCJ filter only helps x86 code.
pub fn format_spec(format: &str, arch: &str) -> (String, Compression) {
    let name = format!("rootfs.{format}");
    let compression = match Compression::from_file_name(&name).expect("formats are validated with the manifest") {
        Compression::Xz { level, extreme, .. } => {
            Compression::Xz { level, extreme, x86_bcj: matches!(arch, "amd64" | "i386") }
        }
        other => other,
    };
    (name, compression)
}

/// From this much file content on, tarballs are compressed in blocks on
/// every core ([`microroot_writers::parallel_compressed_writer`]); smaller
/// trees, the base image among them, get the single-block stream, the
/// smallest. The choice depends on the tree alone, so the bytes do not
/// depend on the machine.
pub const PARALLEL_COMPRESSION_FROM: u64 = 64 << 20;

/// How outputs are written: neither changes what they hold beyond the
/// epoch.
#[derive(Clone, Copy)]
pub struct WriteOptions<'a> {
    /// The mtime of generated files and the images' creation time.
    pub epoch: i64,
    /// Compressor threads for big trees.
    pub threads: usize,
    /// Where OCI layers are kept while they are written out.
    pub spill: &'a Spill,
}

const STAGING_PREFIX: &str = ".microroot-staging-";

struct Staging(PathBuf);

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn write_all(
    tree: &Tree,
    m: &Manifest,
    out_dir: &Path,
    progress: &dyn Progress,
    boot: Option<&BootArtifacts>,
    how: WriteOptions<'_>,
    sbom: &crate::sbom::Inputs<'_>,
) -> Result<Vec<OutputFile>, BuildError> {
    // Every level of the out dir this build creates, deepest first.
    let created: Vec<PathBuf> =
        out_dir.ancestors().take_while(|p| !p.as_os_str().is_empty() && !p.exists()).map(Path::to_owned).collect();
    remove_stale_staging(out_dir);
    let result = write_staged(tree, m, out_dir, progress, boot, how, sbom);
    if result.is_err() {
        for dir in &created {
            // Only succeeds while empty: never removes anything but what we made.
            let _ = std::fs::remove_dir(dir);
        }
    }
    result
}

/// Removes staging directories of builds that were killed before they could
/// clean up (their process is gone).
fn remove_stale_staging(out_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(out_dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(STAGING_PREFIX)) else { continue };
        let alive = Path::new("/proc").join(pid).exists() || !Path::new("/proc/self").exists();
        if !alive {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn write_staged(
    tree: &Tree,
    m: &Manifest,
    out_dir: &Path,
    progress: &dyn Progress,
    boot: Option<&BootArtifacts>,
    how: WriteOptions<'_>,
    sbom: &crate::sbom::Inputs<'_>,
) -> Result<Vec<OutputFile>, BuildError> {
    let WriteOptions { epoch, threads, spill } = how;
    let io = |path: &Path, source| BuildError::Output { path: path.to_owned(), source };
    std::fs::create_dir_all(out_dir).map_err(|e| io(out_dir, e))?;
    let staging = Staging(out_dir.join(format!("{STAGING_PREFIX}{}", std::process::id())));
    std::fs::create_dir_all(&staging.0).map_err(|e| io(&staging.0, e))?;
    let mut written = Vec::new();
    let mut vm_files: Vec<(&str, Option<String>)> = Vec::new();
    // Built once for all OCI formats that share it.
    let mut oci_image = None;
    for format in &m.output.formats {
        if crate::validate::OCI_FORMATS.contains(&format.as_str()) {
            progress.phase("write", crate::oci::output_name(format));
            // The bundle is the tree itself; the image formats share layers.
            let image = match (format.as_str(), &mut oci_image) {
                ("bundle", _) => None,
                (_, Some(image)) => Some(&*image),
                (_, None) => Some(&*oci_image.insert(crate::oci::build_image(tree, m, epoch, spill)?)),
            };
            let (name, w) = crate::oci::write(format, image, tree, m, epoch, &staging.0)?;
            written.push((name, format.clone(), w));
        } else if format.starts_with("tar") {
            let (name, compression) = format_spec(format, &m.image.arch);
            progress.phase("write", &name);
            let staged = staging.0.join(&name);
            let parallel = tree.content_size() >= PARALLEL_COMPRESSION_FROM;
            let threads = parallel.then(|| u32::try_from(threads).unwrap_or(u32::MAX));
            let w = microroot_writers::write_tarball_on(tree, &staged, compression, threads)?;
            written.push((name, format.clone(), w));
        } else if format == "ext4" {
            let name = "rootfs.ext4".to_owned();
            progress.phase("write", &name);
            let staged = staging.0.join(&name);
            let w = write_ext4(tree, m, &staged, epoch)?;
            vm_files.push(("disk", Some(name.clone())));
            written.push((name, format.clone(), w));
        } else if format == "cpio-list" {
            progress.phase("write", "initramfs.list");
            let initramfs = initramfs_tree(tree, boot);
            let (list, dir) = ("initramfs.list".to_owned(), "initramfs.files".to_owned());
            let w = write_cpio_list(initramfs, &staging.0, &list, &dir)?;
            written.push((dir, "cpio-list-files".into(), Written { path: PathBuf::new(), size: 0, sha256: [0; 32] }));
            written.push((list, format.clone(), w));
        } else if format.starts_with("cpio") {
            let name = format!("initramfs.{format}");
            let compression = match format.strip_prefix("cpio") {
                Some(".gz") => Compression::Gzip { level: 9 },
                Some(".xz") => Compression::INITRAMFS_XZ,
                Some(".zst") => Compression::Zstd { level: 12 },
                _ => Compression::None,
            };
            progress.phase("write", &name);
            let staged = staging.0.join(&name);
            let w = microroot_writers::write_initramfs(initramfs_tree(tree, boot), &staged, compression)?;
            vm_files.push(("initrd", Some(name.clone())));
            written.push((name, format.clone(), w));
        }
    }
    if let Some(boot) = boot {
        progress.phase("write", "vmlinuz, vmlinux, vm_config.json");
        for (name, data) in [("vmlinuz", &boot.bzimage), ("vmlinux", &boot.vmlinux)] {
            let w = write_bytes(&staging.0.join(name), data)?;
            written.push((name.to_owned(), name.to_owned(), w));
        }
        let file = |what: &str| vm_files.iter().find(|(w, _)| *w == what).and_then(|(_, n)| n.clone());
        let config = crate::boot::firecracker_config(m, "vmlinux", file("initrd").as_deref(), file("disk").as_deref());
        let text = serde_json::to_string_pretty(&config).expect("JSON values serialize") + "\n";
        let w = write_bytes(&staging.0.join("vm_config.json"), text.as_bytes())?;
        written.push(("vm_config.json".into(), "firecracker".into(), w));
    }
    // Every build describes itself: SPDX and CycloneDX beside the outputs.
    let (spdx, cdx) = (crate::sbom::SPDX_FILE, crate::sbom::CYCLONEDX_FILE);
    progress.phase("write", &format!("{spdx}, {cdx}"));
    let doc = crate::sbom::Sbom::new(m, sbom, tree, boot, epoch);
    for (name, format, value) in [(spdx, "spdx", doc.spdx()), (cdx, "cyclonedx", doc.cyclonedx())] {
        let text = serde_json::to_string_pretty(&value).expect("JSON values serialize") + "\n";
        let w = write_bytes(&staging.0.join(name), text.as_bytes())?;
        written.push((name.to_owned(), format.to_owned(), w));
    }
    let mut outputs = Vec::new();
    for (name, format, w) in written {
        let path = out_dir.join(&name);
        if path.is_dir() {
            std::fs::remove_dir_all(&path).map_err(|e| io(&path, e))?;
        }
        std::fs::rename(staging.0.join(&name), &path).map_err(|e| io(&path, e))?;
        if format == "cpio-list-files" {
            continue;
        }
        outputs.push(OutputFile { path, format, bytes: w.size, sha256: hex::encode(w.sha256) });
    }
    Ok(outputs)
}

/// What the initramfs holds: the stage-1 tree, or the whole image.
fn initramfs_tree<'a>(tree: &'a Tree, boot: Option<&'a BootArtifacts>) -> &'a Tree {
    boot.and_then(|b| b.stage1.as_ref()).unwrap_or(tree)
}

/// `rootfs.ext4`, sized and labelled by the manifest, with a UUID derived
/// from the image name and epoch (so rebuilds give the same bytes).
fn write_ext4(tree: &Tree, m: &Manifest, path: &Path, epoch: i64) -> Result<Written, BuildError> {
    let seed = format!("microroot-ext4\0{}\0{epoch}", m.image.name);
    let mut opts = microroot_ext4::Options::from_seed(seed.as_bytes(), epoch);
    opts.journal = m.output.ext4_journal;
    opts.label = m.image.name.chars().take(16).collect();
    if m.output.ext4_size != "auto" {
        opts.size = microroot_ext4::Size::Fixed(crate::validate::parse_size(&m.output.ext4_size).expect("validated"));
    }
    microroot_ext4::write_ext4_file(tree, &opts, path)
        .map_err(|source| BuildError::Ext4 { path: path.to_owned(), source })?;
    hash_file(path)
}

fn hash_file(path: &Path) -> Result<Written, BuildError> {
    use sha2::{Digest, Sha256};
    let io = |source| BuildError::Output { path: path.to_owned(), source };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut file, &mut hasher).map_err(io)?;
    Ok(Written { path: path.to_owned(), size, sha256: hasher.finalize().into() })
}

/// A `gen_init_cpio` file list plus the regular files it names, for the
/// kernel's `CONFIG_INITRAMFS_SOURCE`.
fn write_cpio_list(tree: &Tree, dir: &Path, list: &str, files_dir: &str) -> Result<Written, BuildError> {
    let (text, files) = microroot_writers::render_list(tree, files_dir)?;
    for (path, location) in files {
        let target = dir.join(&location);
        let io = |source| BuildError::Output { path: target.clone(), source };
        std::fs::create_dir_all(target.parent().expect("has parent")).map_err(io)?;
        let data = tree.file(&path).map(|b| b.bytes().to_vec()).unwrap_or_default();
        std::fs::write(&target, data).map_err(io)?;
    }
    write_bytes(&dir.join(list), text.as_bytes())
}

fn write_bytes(path: &Path, data: &[u8]) -> Result<Written, BuildError> {
    Ok(microroot_writers::write_atomic(path, |out| {
        out.write_all(data).map_err(|source| microroot_writers::Error::OutputIo {
            path: path.to_owned(),
            action: "write",
            source,
        })
    })?)
}
