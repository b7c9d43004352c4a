//! Cutting a tree into layers and encoding each one.
//!
//! [`Layering::Single`] writes the whole tree as one tar. With
//! [`Layering::ByPackage`] every entry goes to the group of its
//! [`Entry::owner`] (a hardlink to the group of the file it links to, so no
//! link crosses layers); entries without an owner or with a generated one
//! ([`GENERATED_OWNERS`]) form the last layer. When there are more groups
//! than layers allowed, the largest packages keep a layer each and all the
//! smaller ones share one, so a package that is big enough to matter gets
//! the same layer digest in every image that has it.
//!
//! Each layer tar holds its entries plus their ancestor directories, with
//! the tree's headers, so extracting any layer alone keeps modes and
//! owners. Tars are [`TarWriter`] output with [`Naming::Bare`]; blobs are
//! gzip at [`LAYER_GZIP_LEVEL`] with mtime 0, no name and OS "unknown".
//! Both are made in one pass and kept in a [`Spill`] store, so a big
//! image's layers go to disk rather than stay in memory.

use std::collections::BTreeMap;
use std::io::{self, Write};

use microroot_tree::{Blob, BlobWriter, Entry, Kind, Spill, Tree, TreePath};
use microroot_writers::{compressed_writer, Compression, Naming, TarWriter};

use crate::spec::{Descriptor, MEDIA_TYPE_LAYER_GZIP};
use crate::{BuildError, Digest};

/// Owners that mark generated files rather than packages (the conventions
/// documented on [`Entry::owner`]): they go to the last layer.
pub const GENERATED_OWNERS: &[&str] = &["manifest", "microroot"];

/// The gzip level of every layer blob: Docker's and containerd's default.
pub const LAYER_GZIP_LEVEL: u32 = 6;

/// How a tree becomes layers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Layering {
    /// One layer with every entry.
    #[default]
    Single,
    /// A layer per owning package, at most `max_layers` in all (at least 1;
    /// keep it well under Docker's overlay limit of 127).
    ByPackage { max_layers: usize },
}

/// One encoded layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    /// sha256 of the uncompressed tar.
    pub diff_id: Digest,
    /// The gzip blob as the manifest lists it.
    pub descriptor: Descriptor,
    /// The owners whose entries it holds, sorted; empty for the layer of
    /// unowned and generated entries and for a [`Layering::Single`] layer.
    pub packages: Vec<String>,
    tar: Blob,
    blob: Blob,
}

impl Layer {
    /// The uncompressed tar (what a docker-archive stores).
    pub fn tar(&self) -> &Blob {
        &self.tar
    }

    /// The gzip blob (what an OCI layout stores).
    pub fn blob(&self) -> &Blob {
        &self.blob
    }
}

/// A planned layer: owners and the paths of their entries.
#[derive(Debug, Default)]
struct Group<'a> {
    owners: Vec<String>,
    paths: Vec<&'a TreePath>,
    size: u64,
}

/// Encodes `tree` as layers, lowest first, their tars and blobs kept in
/// `spill`.
pub(crate) fn build(tree: &Tree, layering: Layering, spill: &Spill) -> Result<Vec<Layer>, BuildError> {
    match layering {
        Layering::Single => Ok(vec![encode(tree, Vec::new(), "the whole tree", spill)?]),
        Layering::ByPackage { max_layers } => {
            let groups = plan(tree, max_layers)?;
            let encode_group = |g: &Group<'_>| {
                let label =
                    if g.owners.is_empty() { "files not from packages".to_owned() } else { g.owners.join(", ") };
                encode(&subtree(tree, &g.paths)?, g.owners.clone(), &label, spill)
            };
            parallel_map(&groups, encode_group).into_iter().collect()
        }
    }
}

/// Groups entries by owner and merges the smallest groups to fit.
fn plan(tree: &Tree, max_layers: usize) -> Result<Vec<Group<'_>>, BuildError> {
    if max_layers == 0 {
        return Err(BuildError::MaxLayers);
    }
    let mut packages: BTreeMap<&str, Group<'_>> = BTreeMap::new();
    let mut rest = Group::default();
    for (path, entry) in tree.iter().filter(|(p, _)| !p.is_root()) {
        let owner = match &entry.kind {
            Kind::Hardlink(target) => tree.get(target).and_then(|t| t.owner.as_deref()),
            _ => entry.owner.as_deref(),
        };
        let group = match owner.filter(|o| !GENERATED_OWNERS.contains(o)) {
            Some(owner) => {
                packages.entry(owner).or_insert_with(|| Group { owners: vec![owner.into()], ..Group::default() })
            }
            None => &mut rest,
        };
        group.paths.push(path);
        group.size += entry.size().next_multiple_of(512) + 512;
    }
    let slots = max_layers - usize::from(!rest.paths.is_empty());
    let mut groups: Vec<Group<'_>> = packages.into_values().collect();
    if groups.len() > slots {
        // Largest first, ties by name; the tail shares one layer.
        groups.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.owners.cmp(&b.owners)));
        let tail = groups.split_off(slots.saturating_sub(1));
        groups.sort_by(|a, b| a.owners.cmp(&b.owners));
        let merged = merge(tail);
        if slots == 0 {
            return Ok(vec![merge(vec![merged, rest])]);
        }
        groups.push(merged);
    }
    if !rest.paths.is_empty() || groups.is_empty() {
        groups.push(rest);
    }
    Ok(groups)
}

fn merge<'a>(groups: Vec<Group<'a>>) -> Group<'a> {
    let mut out = Group::default();
    for g in groups {
        out.owners.extend(g.owners);
        out.paths.extend(g.paths);
        out.size += g.size;
    }
    out.owners.sort();
    out.paths.sort();
    out
}

/// The entries at `paths` with their ancestor directories, as a tree.
fn subtree(tree: &Tree, paths: &[&TreePath]) -> Result<Tree, BuildError> {
    let mut sub = Tree::new();
    let mut links = Vec::new();
    let put = |sub: &mut Tree, path: &TreePath, entry: Entry| {
        sub.insert(path, entry).map(drop).map_err(|source| BuildError::Tree { path: path.clone(), source })
    };
    if let Some(root) = tree.get(&TreePath::root()) {
        put(&mut sub, &TreePath::root(), root.clone())?;
    }
    for &path in paths {
        let mut ancestor = path.parent();
        let mut missing = Vec::new();
        while let Some(dir) = ancestor.filter(|d| !d.is_root() && sub.get(d).is_none()) {
            ancestor = dir.parent();
            missing.push(dir);
        }
        for dir in missing.into_iter().rev() {
            match tree.get(&dir) {
                Some(e) if e.is_dir() => put(&mut sub, &dir, e.clone())?,
                Some(e) => {
                    return Err(BuildError::UnderNonDir { path: path.clone(), parent: dir, kind: e.kind.name() })
                }
                None => {} // an orphan: `insert` makes a 0755 directory
            };
        }
        let Some(entry) = tree.get(path) else { continue };
        match entry.kind {
            Kind::Hardlink(_) => links.push((path, entry)),
            _ => put(&mut sub, path, entry.clone())?,
        };
    }
    for (path, entry) in links {
        put(&mut sub, path, entry.clone())?;
    }
    Ok(sub)
}

/// Tar and gzip in one pass, hashing both on the way.
fn encode(tree: &Tree, packages: Vec<String>, label: &str, spill: &Spill) -> Result<Layer, BuildError> {
    let tar_err = |source| BuildError::Layer { layer: label.to_owned(), source };
    let io_err = |source| tar_err(microroot_writers::Error::EncoderFinish { format: "layer", source });
    let gz = compressed_writer(Hashed::new(spill.writer()), Compression::Gzip { level: LAYER_GZIP_LEVEL })
        .map_err(tar_err)?;
    let mut tar = TarWriter::new(Tee { tar: Hashed::new(spill.writer()), gz });
    tar.naming(Naming::Bare);
    tar.append_tree(tree).map_err(tar_err)?;
    let Tee { tar, gz } = tar.finish().map_err(tar_err)?;
    let (tar, diff_id) = tar.finish().map_err(io_err)?;
    let (blob, digest) = gz.finish().map_err(tar_err)?.finish().map_err(io_err)?;
    let descriptor =
        Descriptor { media_type: MEDIA_TYPE_LAYER_GZIP.into(), digest, size: blob.len(), ..Descriptor::default() };
    Ok(Layer { diff_id, descriptor, packages, tar, blob })
}

/// A blob being written and its sha256.
struct Hashed<'a> {
    out: BlobWriter<'a>,
    hasher: sha2::Sha256,
}

impl<'a> Hashed<'a> {
    fn new(out: BlobWriter<'a>) -> Self {
        Hashed { out, hasher: sha2::Digest::new() }
    }

    fn finish(self) -> io::Result<(Blob, Digest)> {
        let digest = Digest::from_bytes(sha2::Digest::finalize(self.hasher).into());
        Ok((self.out.finish()?, digest))
    }
}

impl Write for Hashed<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        sha2::Digest::update(&mut self.hasher, &buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The layer's tar, written both as it is and through gzip.
struct Tee<'a> {
    tar: Hashed<'a>,
    gz: microroot_writers::Encoder<Hashed<'a>>,
}

impl Write for Tee<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tar.write_all(buf)?;
        self.gz.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tar.flush()?;
        self.gz.flush()
    }
}

/// `f` over `items` on up to `available_parallelism` threads, in order.
fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(items.len()).max(1);
    let chunk = items.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = items.chunks(chunk).map(|c| s.spawn(|| c.iter().map(&f).collect::<Vec<R>>())).collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn tree(owners: &[(&str, &str, usize)]) -> Tree {
        let mut t = Tree::new();
        for &(path, owner, size) in owners {
            let e = Entry::file(0o644, vec![b'x'; size]).with_owner(Arc::from(owner));
            t.insert(&TreePath::new(path).unwrap(), e).unwrap();
        }
        t
    }

    fn owners(groups: &[Group<'_>]) -> Vec<String> {
        groups.iter().map(|g| g.owners.join("+")).collect()
    }

    #[test]
    fn smallest_packages_share_a_layer() {
        let t = tree(&[
            ("a", "big", 9000),
            ("b", "mid", 5000),
            ("c", "small", 10),
            ("d", "tiny", 1),
            ("e", "microroot", 1),
        ]);
        assert_eq!(owners(&plan(&t, 10).unwrap()), ["big", "mid", "small", "tiny", ""]);
        assert_eq!(owners(&plan(&t, 4).unwrap()), ["big", "mid", "small+tiny", ""]);
        assert_eq!(owners(&plan(&t, 3).unwrap()), ["big", "mid+small+tiny", ""]);
        assert_eq!(owners(&plan(&t, 2).unwrap()), ["big+mid+small+tiny", ""]);
        assert_eq!(owners(&plan(&t, 1).unwrap()), ["big+mid+small+tiny"]);
        assert!(plan(&t, 0).is_err());
    }

    #[test]
    fn layers_carry_ancestors_and_hardlinks_follow_their_file() {
        let mut t = tree(&[("usr/bin/x", "pkg", 3)]);
        let mut link =
            Entry::new(microroot_tree::Meta::new(0o644), Kind::Hardlink(TreePath::new("usr/bin/x").unwrap()));
        link.owner = Some(Arc::from("other"));
        t.insert(&TreePath::new("usr/bin/a-link").unwrap(), link).unwrap();
        let groups = plan(&t, 5).unwrap();
        assert_eq!(owners(&groups), ["pkg", ""]);
        let sub = subtree(&t, &groups[0].paths).unwrap();
        let names: Vec<_> = sub.iter().map(|(p, _)| p.as_str().to_owned()).collect();
        assert_eq!(names, ["", "usr", "usr/bin", "usr/bin/a-link", "usr/bin/x"]);
        let sub_rest = subtree(&t, &groups[1].paths).unwrap();
        assert_eq!(sub_rest.len(), 3, "the unowned directories usr and usr/bin and the root");
    }
}
