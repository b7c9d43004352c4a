//! Skipping a build whose outputs are already there.
//!
//! Builds are reproducible: the same manifest, plan, host inputs and
//! microroot give the same bytes. So after a build, a stamp in the output
//! directory records a fingerprint of all of them plus each output's size
//! and mtime; the next build with the same fingerprint, whose outputs are
//! untouched, returns the recorded report instead of writing them again.
//! The plan still comes from a verified InRelease (or the lockfile), so a
//! suite that moved on is never missed.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::build::{BuildOptions, Loaded};
use crate::lock::Lockfile;
use crate::report::BuildReport;

/// The stamp's file name inside the output directory.
pub const STAMP: &str = ".microroot-build.json";

#[derive(Serialize, Deserialize)]
struct Stamp {
    fingerprint: String,
    report: BuildReport,
    files: Vec<StampedFile>,
}

#[derive(Serialize, Deserialize, PartialEq, Eq)]
struct StampedFile {
    name: String,
    bytes: u64,
    mtime_ns: u128,
}

/// Everything an output depends on, hashed; `None` when an input cannot
/// be read (the build itself then reports it).
pub fn fingerprint(loaded: &Loaded, opts: &BuildOptions, lock: &Lockfile) -> Option<String> {
    let mut h = Sha256::new();
    let mut part = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    part(env!("CARGO_PKG_VERSION").as_bytes());
    // The program itself: a rebuilt microroot may write other bytes.
    let exe = std::env::current_exe().ok().and_then(|p| p.metadata().ok())?;
    part(&exe.len().to_le_bytes());
    part(&mtime_ns(&exe).to_le_bytes());
    let m = &loaded.manifest;
    part(toml::to_string(m).ok()?.as_bytes());
    part(toml::to_string(lock).ok()?.as_bytes());
    part(format!("{:?}", opts.source_date_epoch).as_bytes());
    let base = &loaded.base_dir;
    let mut host_files: Vec<PathBuf> = m.files.iter().filter_map(|f| f.source.as_ref()).map(|s| base.join(s)).collect();
    host_files.extend(m.init.script.iter().chain(&m.kernel.path).map(|p| base.join(p)));
    for file in &host_files {
        part(&std::fs::read(file).ok()?);
    }
    for list in &m.file_lists {
        let host = base.join(list);
        let text = std::fs::read_to_string(&host).ok()?;
        let opts = microroot_writers::ListOptions {
            file_name: list.display().to_string(),
            base_dir: host.parent().map(Path::to_owned).unwrap_or_default(),
            mtime: 0,
            env: None,
        };
        let tree = microroot_writers::parse_list(&text, &opts).ok()?;
        part(text.as_bytes());
        for (path, entry) in tree.iter() {
            part(path.as_str().as_bytes());
            part(format!("{:?}", entry.kind).as_bytes());
            if let microroot_tree::Kind::File(blob) = &entry.kind {
                part(&blob.bytes());
            }
        }
    }
    Some(hex::encode(h.finalize()))
}

fn mtime_ns(meta: &std::fs::Metadata) -> u128 {
    meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos())
}

fn stamped(path: &Path) -> Option<StampedFile> {
    let meta = std::fs::metadata(path).ok()?;
    let name = path.file_name()?.to_str()?.to_owned();
    Some(StampedFile { name, bytes: meta.len(), mtime_ns: mtime_ns(&meta) })
}

/// The recorded report, if `out_dir` holds this fingerprint's outputs,
/// untouched.
pub fn current(out_dir: &Path, fingerprint: &str) -> Option<BuildReport> {
    let text = std::fs::read(out_dir.join(STAMP)).ok()?;
    let stamp: Stamp = serde_json::from_slice(&text).ok()?;
    if stamp.fingerprint != fingerprint || stamp.files.len() != stamp.report.outputs.len() {
        return None;
    }
    for file in &stamp.files {
        if stamped(&out_dir.join(&file.name)).as_ref() != Some(file) {
            return None;
        }
    }
    let mut report = stamp.report;
    for output in &mut report.outputs {
        output.path = out_dir.join(output.path.file_name()?);
    }
    report.up_to_date = true;
    Some(report)
}

/// Records a finished build's outputs (best effort: without a stamp the
/// next build just does the work again).
pub fn record(out_dir: &Path, fingerprint: &str, report: &BuildReport) {
    let files: Option<Vec<StampedFile>> = report.outputs.iter().map(|o| stamped(&o.path)).collect();
    let Some(files) = files else { return };
    let stamp = Stamp { fingerprint: fingerprint.to_owned(), report: report.clone(), files };
    let Ok(text) = serde_json::to_vec_pretty(&stamp) else { return };
    let _ = microroot_writers::write_atomic(&out_dir.join(STAMP), |out| {
        out.write_all(&text).map_err(|source| microroot_writers::Error::OutputIo {
            path: out_dir.join(STAMP),
            action: "write",
            source,
        })
    });
}
