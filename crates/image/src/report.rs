//! Size accounting of a finished tree: bytes by owning package and by
//! top directories, plus the output files' digests.

use std::collections::BTreeMap;
use std::path::PathBuf;

use microroot_tree::Tree;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OwnerSize {
    /// Package name, `microroot` (generated) or `manifest`.
    pub owner: String,
    pub version: Option<String>,
    /// Entries of every kind (files, directories, links).
    pub entries: usize,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutputFile {
    pub path: PathBuf,
    pub format: String,
    pub bytes: u64,
    pub sha256: String,
}

/// What a build made, for the size table and `--json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildReport {
    pub image: String,
    pub suite: String,
    pub codename: String,
    pub arch: String,
    pub epoch: i64,
    pub packages: Vec<OwnerSize>,
    pub entries: usize,
    pub content_bytes: u64,
    pub outputs: Vec<OutputFile>,
    /// The outputs were already current; nothing was written.
    #[serde(default)]
    pub up_to_date: bool,
}

/// Bytes of regular-file content per owner, largest first.
pub fn sizes_by_owner(tree: &Tree, versions: &BTreeMap<String, String>) -> Vec<OwnerSize> {
    // Every package appears, even one whose files were all pruned.
    let mut by: BTreeMap<String, (usize, u64)> = versions.keys().map(|k| (k.clone(), (0, 0))).collect();
    for (_, e) in tree.iter() {
        let owner = e.owner.as_deref().unwrap_or(crate::customize::GENERATED).to_owned();
        let slot = by.entry(owner).or_default();
        slot.0 += 1;
        slot.1 += e.size();
    }
    let mut rows: Vec<OwnerSize> = by
        .into_iter()
        .map(|(owner, (files, bytes))| OwnerSize {
            version: versions.get(&owner).cloned(),
            owner,
            entries: files,
            bytes,
        })
        .collect();
    rows.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.owner.cmp(&b.owner)));
    rows
}

/// Human-readable byte counts (`1.4 MB`), decimal units.
pub fn human(bytes: u64) -> String {
    const UNITS: &[&str] = &["B", "kB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    match unit {
        0 => format!("{bytes} B"),
        _ if v < 10.0 => format!("{v:.2} {}", UNITS[unit]),
        _ => format!("{v:.1} {}", UNITS[unit]),
    }
}

/// A signed size change: `+1.40 MB`, `-512 B`, `0 B`.
pub fn human_delta(delta: i64) -> String {
    match delta {
        0 => "0 B".to_owned(),
        d if d > 0 => format!("+{}", human(d as u64)),
        d => format!("-{}", human(d.unsigned_abs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use microroot_tree::{Entry, TreePath};

    #[test]
    fn sums_by_owner() {
        let mut t = Tree::new();
        let add = |t: &mut Tree, p: &str, n: usize, o: &str| {
            t.insert(&TreePath::new(p).unwrap(), Entry::file(0o644, vec![0; n]).with_owner(o.into())).unwrap();
        };
        add(&mut t, "a", 10, "libc6");
        add(&mut t, "b", 5, "libc6");
        add(&mut t, "c", 100, "busybox");
        let rows = sizes_by_owner(&t, &BTreeMap::from([("libc6".into(), "2.41".into())]));
        assert_eq!(rows[0].owner, "busybox");
        assert_eq!((rows[1].entries, rows[1].bytes, rows[1].version.as_deref()), (2, 15, Some("2.41")));
        assert_eq!(human(1_400_000), "1.40 MB");
        assert_eq!(human(826_128), "826.1 kB");
        assert_eq!(human(512), "512 B");
        assert_eq!(
            (human_delta(-512), human_delta(0), human_delta(1_400_000)),
            ("-512 B".into(), "0 B".into(), "+1.40 MB".into())
        );
    }
}
