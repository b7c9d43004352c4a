//! Writes the manifest's output formats. All outputs are first written into
//! a staging directory inside the output directory, then renamed into
//! place together; any failure removes the staging directory.

use std::path::{Path, PathBuf};

use microroot_tree::Tree;
use microroot_writers::Compression;

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
) -> Result<Vec<OutputFile>, BuildError> {
    // Every level of the out dir this build creates, deepest first.
    let created: Vec<PathBuf> =
        out_dir.ancestors().take_while(|p| !p.as_os_str().is_empty() && !p.exists()).map(Path::to_owned).collect();
    remove_stale_staging(out_dir);
    let result = write_staged(tree, m, out_dir, progress);
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
) -> Result<Vec<OutputFile>, BuildError> {
    let io = |path: &Path, source| BuildError::Output { path: path.to_owned(), source };
    std::fs::create_dir_all(out_dir).map_err(|e| io(out_dir, e))?;
    let staging = Staging(out_dir.join(format!("{STAGING_PREFIX}{}", std::process::id())));
    std::fs::create_dir_all(&staging.0).map_err(|e| io(&staging.0, e))?;
    let mut written = Vec::new();
    for format in &m.output.formats {
        let (name, compression) = format_spec(format, &m.image.arch);
        progress.phase("write", &name);
        let staged = staging.0.join(&name);
        let w = microroot_writers::write_tarball(tree, &staged, compression)?;
        written.push((name, format.clone(), w));
    }
    let mut outputs = Vec::new();
    for (name, format, w) in written {
        let path = out_dir.join(&name);
        std::fs::rename(staging.0.join(&name), &path).map_err(|e| io(&path, e))?;
        outputs.push(OutputFile { path, format, bytes: w.size, sha256: hex::encode(w.sha256) });
    }
    Ok(outputs)
}
