//! BusyBox applet links, made without running BusyBox.
//!
//! Debian's busybox package installs only the binary; `busybox --install`
//! would have to run on the target. Instead the applet table is read from
//! the binary itself: `applet_names` is one sorted run of NUL-terminated
//! names starting `[\0[[\0`, and `applet_install_loc` packs one 4-bit
//! directory code per applet (1 /bin, 2 /sbin, 3 /usr/bin, 4 /usr/sbin) and
//! sits close to it. Works for any target architecture.

use microroot_tree::{Entry, Tree, TreePath};

const BUSYBOX: &str = "usr/bin/busybox";
/// How far from the name table the location table is looked for.
const WINDOW: usize = 64 * 1024;

/// The applets of a BusyBox binary with the directory each belongs in.
pub fn applets(binary: &[u8]) -> Option<Vec<(String, &'static str)>> {
    let start = memfind(binary, b"\0[\0[[\0")? + 1;
    let mut names: Vec<String> = Vec::new();
    let mut at = start;
    loop {
        let len = binary[at..].iter().position(|&b| b == 0)?;
        let name = &binary[at..at + len];
        let printable = !name.is_empty() && name.iter().all(|b| b.is_ascii_graphic());
        if !printable || names.last().is_some_and(|last| last.as_bytes() >= name) {
            break;
        }
        names.push(String::from_utf8_lossy(name).into_owned());
        at += len + 1;
    }
    let dirs = install_locations(binary, start, &names);
    Some(
        names
            .into_iter()
            .enumerate()
            .filter(|(_, n)| n != "linuxrc")
            .map(|(i, n)| (n, dirs.as_ref().map_or("usr/bin", |d| d[i])))
            .collect(),
    )
}

fn install_locations(binary: &[u8], names_at: usize, names: &[String]) -> Option<Vec<&'static str>> {
    let len = names.len().div_ceil(2);
    let lo = names_at.saturating_sub(WINDOW);
    let hi = (names_at + WINDOW).min(binary.len().saturating_sub(len));
    let index = |n: &str| names.iter().position(|x| x == n);
    (lo..hi).find_map(|off| {
        let table = &binary[off..off + len];
        let code = |i: usize| (table[i / 2] >> ((i % 2) * 4)) & 0xf;
        let valid =
            (0..names.len()).all(|i| code(i) <= 4) && (names.len().is_multiple_of(2) || table[len - 1] >> 4 == 0);
        // Anchors every BusyBox build agrees on.
        let anchored = index("sh").is_none_or(|i| code(i) == 1) && index("init").is_none_or(|i| code(i) == 2);
        let spread = (0..names.len()).any(|i| code(i) >= 3);
        (valid && anchored && spread)
            .then(|| (0..names.len()).map(|i| if matches!(code(i), 2 | 4) { "usr/sbin" } else { "usr/bin" }).collect())
    })
}

fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Whether the tree's BusyBox has the applet `name`.
pub fn has_applet(tree: &Tree, name: &str) -> bool {
    let bin = TreePath::new(BUSYBOX).expect("static path");
    tree.file(&bin).and_then(|b| applets(&b.bytes())).is_some_and(|a| a.iter().any(|(n, _)| n == name))
}

/// Adds a symlink for every applet that does not collide with a file a
/// package installed. Returns how many links were made.
pub fn link_applets(tree: &mut Tree) -> usize {
    let bin = TreePath::new(BUSYBOX).expect("static path");
    let Some(binary) = tree.file(&bin).cloned() else { return 0 };
    // The links are as old as the binary they point to.
    let mtime = tree.get(&bin).map_or(0, |e| e.meta.mtime);
    let Some(applets) = applets(&binary.bytes()) else { return 0 };
    let owner: std::sync::Arc<str> = "busybox".into();
    let mut made = 0;
    for (name, dir) in applets {
        let Ok(path) = TreePath::new(&format!("{dir}/{name}")) else { continue };
        if tree.get(&path).is_some() || path == bin {
            continue;
        }
        let target = if dir == "usr/bin" { "busybox" } else { "../bin/busybox" };
        let mut entry = Entry::symlink(target).with_owner(owner.clone());
        entry.meta.mtime = mtime;
        if tree.insert(&path, entry).is_ok() {
            made += 1;
        }
    }
    made
}

#[cfg(test)]
mod tests {
    use super::*;
    use microroot_tree::Kind;

    fn fake_binary() -> Vec<u8> {
        // names: [ [[ init ls sh  → codes 3 3 2 1 1
        let mut b = vec![0xAA; 100];
        b.extend_from_slice(&[0x33, 0x12, 0x01]);
        b.extend_from_slice(&[0xEE; 7]);
        b.extend_from_slice(b"\0[\0[[\0init\0ls\0sh\0\0\xff");
        b
    }

    #[test]
    fn reads_names_and_dirs() {
        let a = applets(&fake_binary()).unwrap();
        let names: Vec<_> = a.iter().map(|(n, d)| format!("{d}/{n}")).collect();
        assert_eq!(names, ["usr/bin/[", "usr/bin/[[", "usr/sbin/init", "usr/bin/ls", "usr/bin/sh"]);
    }

    #[test]
    fn links_do_not_replace_package_files() {
        let mut t = Tree::new();
        let mut bin = Entry::file(0o755, fake_binary());
        bin.meta.mtime = 1234;
        t.insert(&TreePath::new(BUSYBOX).unwrap(), bin).unwrap();
        t.insert(&TreePath::new("usr/bin/ls").unwrap(), Entry::file(0o755, "real ls")).unwrap();
        assert_eq!(link_applets(&mut t), 4);
        assert!(matches!(t.get(&TreePath::new("usr/bin/ls").unwrap()).unwrap().kind, Kind::File(_)));
        let init = t.get(&TreePath::new("usr/sbin/init").unwrap()).unwrap();
        assert_eq!(init.kind, Kind::Symlink("../bin/busybox".into()));
        assert_eq!(init.meta.mtime, 1234);
    }
}
