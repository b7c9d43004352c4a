//! A tree as a gen_init_cpio list, for `CONFIG_INITRAMFS_SOURCE`.

use std::collections::BTreeMap;

use microroot_tree::{Entry, Kind, Tree, TreePath};

use crate::Error;

/// Writes `tree` as a gen_init_cpio list. Each regular file is listed at
/// location `<files_dir>/<path>`, and returned with that location so the
/// caller can write it there; a hardlinked file is one `file` line with
/// its other names appended, placed where its last name sorts, after the
/// directories of all its names. The root's header, mtimes and xattrs are
/// not representable and are left out; names with whitespace or `${` are
/// refused.
pub fn render_list(tree: &Tree, files_dir: &str) -> Result<(String, Vec<(TreePath, String)>), Error> {
    check_word(&TreePath::root(), files_dir, "the files directory")?;
    let mut links: BTreeMap<&TreePath, Vec<&TreePath>> = BTreeMap::new();
    for (path, entry) in tree.iter() {
        if let Kind::Hardlink(target) = &entry.kind {
            links.entry(target).or_default().push(path);
        }
    }
    let last_name: BTreeMap<&TreePath, &TreePath> = links
        .iter()
        .map(|(file, names)| (*file, names.iter().copied().chain([*file]).max().expect("non-empty")))
        .collect();
    let mut pending: BTreeMap<&TreePath, &TreePath> = BTreeMap::new();
    for (file, last) in &last_name {
        pending.insert(*last, *file);
    }
    let mut text = String::new();
    let mut files = Vec::new();
    for (path, entry) in tree.iter().skip(1) {
        check_word(path, path.as_str(), "its name")?;
        let name = format!("/{}", path.as_str());
        let m = &entry.meta;
        let owner = format!("{:o} {} {}", m.mode & 0o7777, m.uid, m.gid);
        match &entry.kind {
            Kind::Dir => text.push_str(&format!("dir {name} {owner}\n")),
            Kind::File(_) if last_name.contains_key(path) => {}
            Kind::File(_) => {
                let location = format!("{files_dir}/{}", path.as_str());
                text.push_str(&format!("file {name} {location} {owner}\n"));
                files.push((path.clone(), location));
            }
            Kind::Hardlink(_) => {}
            Kind::Symlink(target) => {
                check_word(path, target, "its target")?;
                text.push_str(&format!("slink {name} {target} {owner}\n"));
            }
            Kind::CharDev { major, minor } => text.push_str(&format!("nod {name} {owner} c {major} {minor}\n")),
            Kind::BlockDev { major, minor } => text.push_str(&format!("nod {name} {owner} b {major} {minor}\n")),
            Kind::Fifo => text.push_str(&format!("pipe {name} {owner}\n")),
            Kind::Socket => text.push_str(&format!("sock {name} {owner}\n")),
        }
        if let Some(&file) = pending.get(path) {
            let Some(Entry { kind: Kind::File(_), meta: fm, .. }) = tree.get(file) else {
                return Err(Error::HardlinkTarget { path: path.clone(), target: file.clone() });
            };
            let location = format!("{files_dir}/{}", file.as_str());
            let names: String = links[file].iter().map(|l| format!(" /{}", l.as_str())).collect();
            let owner = format!("{:o} {} {}", fm.mode & 0o7777, fm.uid, fm.gid);
            text.push_str(&format!("file /{} {location} {owner}{names}\n", file.as_str()));
            files.push((file.clone(), location));
        }
    }
    Ok((text, files))
}

/// A name, location or target must be one non-empty word that
/// gen_init_cpio reads back unchanged.
fn check_word(path: &TreePath, word: &str, what: &'static str) -> Result<(), Error> {
    let reason = if word.is_empty() {
        "is empty"
    } else if word.chars().any(|c| c.is_whitespace() || c.is_control()) {
        "contains whitespace or control characters"
    } else if word.contains("${") {
        "contains `${`, which gen_init_cpio would expand"
    } else {
        return Ok(());
    };
    Err(Error::ListName { path: path.clone(), what, reason })
}
