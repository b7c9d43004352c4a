//! `microroot inspect`: what is in a rootfs tarball and what takes the
//! space, by package (from the image's dpkg file lists) and by directory.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a tar archive (or an unsupported compression): {reason}\nhint: inspect reads .tar, .tar.gz, .tar.xz and .tar.zst")]
    Format { path: PathBuf, reason: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct InspectEntry {
    pub path: String,
    pub kind: char,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub size: u64,
    pub link: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub archive: PathBuf,
    pub compressed_bytes: u64,
    pub entries: Vec<InspectEntry>,
    pub total_bytes: u64,
    /// Bytes by owning package (`?` for files no package lists).
    pub by_package: Vec<(String, u64)>,
    /// Bytes by directory, two levels deep.
    pub by_directory: Vec<(String, u64)>,
}

fn decoder<'a>(path: &Path, raw: &'a [u8]) -> Box<dyn Read + 'a> {
    let name = path.to_string_lossy();
    if raw.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) || name.ends_with(".xz") {
        Box::new(liblzma::read::XzDecoder::new(raw))
    } else if raw.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(raw))
    } else if raw.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::stream::read::Decoder::with_buffer(raw).expect("in-memory zstd decoder"))
    } else {
        Box::new(raw)
    }
}

pub fn inspect(path: &Path) -> Result<Inspection, InspectError> {
    let raw = std::fs::read(path).map_err(|source| InspectError::Io { path: path.to_owned(), source })?;
    let bad = |reason: String| InspectError::Format { path: path.to_owned(), reason };
    let mut archive = tar::Archive::new(decoder(path, &raw));
    let mut entries = Vec::new();
    let mut lists: BTreeMap<String, String> = BTreeMap::new();
    for entry in archive.entries().map_err(|e| bad(e.to_string()))? {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        let name = entry.path().map_err(|e| bad(e.to_string()))?.to_string_lossy().into_owned();
        let name = format!("/{}", name.trim_start_matches("./").trim_end_matches('/'));
        let h = entry.header();
        let e = InspectEntry {
            kind: h.entry_type().as_byte() as char,
            mode: h.mode().unwrap_or(0),
            uid: h.uid().unwrap_or(0),
            gid: h.gid().unwrap_or(0),
            size: entry.size(),
            link: entry.link_name().ok().flatten().map(|l| l.to_string_lossy().into_owned()),
            path: name.clone(),
        };
        if name.starts_with("/var/lib/dpkg/info/") && name.ends_with(".list") {
            let mut text = String::new();
            entry.read_to_string(&mut text).map_err(|e| bad(e.to_string()))?;
            let pkg = name.rsplit('/').next().unwrap_or("").trim_end_matches(".list");
            lists.insert(pkg.split(':').next().unwrap_or(pkg).to_owned(), text);
        }
        entries.push(e);
    }
    Ok(summarize(path, raw.len() as u64, entries, &lists))
}

fn summarize(path: &Path, compressed: u64, entries: Vec<InspectEntry>, lists: &BTreeMap<String, String>) -> Inspection {
    // When two lists name a path (a shared directory), the first package
    // by name keeps it, so the report does not depend on map order.
    let mut owner: BTreeMap<String, &str> = BTreeMap::new();
    for (pkg, text) in lists {
        for line in text.lines() {
            // Lists spell paths as packages ship them; on merged /usr a
            // `/lib/x` lives at `/usr/lib/x`.
            if let Some(usr) = crate::customize::usr_spelling(line) {
                owner.entry(usr).or_insert(pkg);
            }
            owner.entry(line.to_owned()).or_insert(pkg);
        }
    }
    let mut by_package: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_dir: BTreeMap<String, u64> = BTreeMap::new();
    for e in entries.iter().filter(|e| e.kind == '0' || e.kind == '\0') {
        *by_package.entry(owner.get(&e.path).copied().unwrap_or("?").to_string()).or_default() += e.size;
        let dir: Vec<&str> = e.path.split('/').skip(1).collect();
        let key = format!("/{}", dir[..dir.len().saturating_sub(1).min(2)].join("/"));
        *by_dir.entry(key).or_default() += e.size;
    }
    let sorted = |m: BTreeMap<String, u64>| {
        let mut v: Vec<_> = m.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    };
    Inspection {
        archive: path.to_owned(),
        compressed_bytes: compressed,
        total_bytes: entries.iter().filter(|e| e.kind == '0').map(|e| e.size).sum(),
        entries,
        by_package: sorted(by_package),
        by_directory: sorted(by_dir),
    }
}
