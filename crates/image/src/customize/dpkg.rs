use microroot_tree::{Tree, TreePath};

use super::put;

/// A package as unpacked into the tree, for the dpkg database.
#[derive(Debug, Clone)]
pub struct InstalledPackage {
    pub name: String,
    pub architecture: String,
    /// The package's control paragraph as shipped in its .deb.
    pub control: String,
    /// Every path the package installed that is still in the tree.
    pub files: Vec<TreePath>,
    /// The package's `md5sums` control file, if it ships one.
    pub md5sums: Option<String>,
    /// The SPDX license expression its machine-readable copyright file
    /// declares (read during unpacking, even when the file is pruned);
    /// `None` when there is none, for the SBOM's NOASSERTION.
    pub license: Option<String>,
}

/// /var/lib/dpkg/status (each package `install ok installed`) and
/// `info/<pkg>.list`, so that dpkg-aware scanners see what is installed and
/// which package owns which file.
pub fn dpkg_database(tree: &mut Tree, packages: &[InstalledPackage]) -> Result<(), super::CustomizeError> {
    let mut sorted: Vec<&InstalledPackage> = packages.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut status = String::new();
    for pkg in &sorted {
        status.push_str(&status_paragraph(&pkg.control));
        status.push('\n');
        // dpkg writes the root directory as `/.`; a bare `/` reads back as
        // an empty name, which dpkg-query rejects as a fatal error.
        let list: String = pkg
            .files
            .iter()
            // Listed as the package spells them (`/bin/x`), kept if the
            // entry survived wherever it landed (`/usr/bin/x`).
            .filter(|p| exists(tree, p))
            .map(|p| if p.is_root() { "/.\n".to_owned() } else { format!("{p}\n") })
            .collect();
        let info = if pkg.architecture == "all" || !multi_arch_same(&pkg.control) {
            pkg.name.clone()
        } else {
            format!("{}:{}", pkg.name, pkg.architecture)
        };
        put(tree, &format!("var/lib/dpkg/info/{info}.list"), 0o644, list)?;
        if let Some(sums) = &pkg.md5sums {
            // Only files still in the image, so `dpkg --verify` reports no
            // pruned documentation as missing.
            let kept: String = sums
                .lines()
                .filter(|l| {
                    l.split_once("  ").and_then(|(_, p)| TreePath::new(p).ok()).is_some_and(|p| exists(tree, &p))
                })
                .map(|l| format!("{l}\n"))
                .collect();
            put(tree, &format!("var/lib/dpkg/info/{info}.md5sums"), 0o644, kept)?;
        }
    }
    // Without `info/format` 1, dpkg looks for `libc6.list` instead of the
    // `libc6:amd64.list` written above for Multi-Arch: same packages.
    put(tree, "var/lib/dpkg/info/format", 0o644, "1\n")?;
    put(tree, "var/lib/dpkg/status", 0o644, status)?;
    put(tree, "var/lib/dpkg/available", 0o644, "")?;
    Ok(())
}

/// Whether `path`, spelled as a package ships it, survived wherever it landed.
fn exists(tree: &Tree, path: &TreePath) -> bool {
    tree.resolve(path, false).is_ok_and(|at| tree.get(&at).is_some())
}

fn multi_arch_same(control: &str) -> bool {
    control.lines().any(|l| l.trim().eq_ignore_ascii_case("multi-arch: same"))
}

/// The control paragraph with `Status:` inserted after `Package:`, as dpkg
/// writes it.
fn status_paragraph(control: &str) -> String {
    let mut out = String::with_capacity(control.len() + 32);
    for line in control.trim_end().lines() {
        out.push_str(line);
        out.push('\n');
        if line.starts_with("Package:") {
            out.push_str("Status: install ok installed\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lists_packages_in_order() {
        let mut tree = Tree::new();
        tree.insert(&TreePath::new("usr/bin").unwrap(), microroot_tree::Entry::dir(0o755)).unwrap();
        tree.insert(&TreePath::new("bin").unwrap(), microroot_tree::Entry::symlink("usr/bin")).unwrap();
        tree.insert(&TreePath::new("usr/bin/hello").unwrap(), microroot_tree::Entry::file(0o755, "x")).unwrap();
        let pkgs = [
            InstalledPackage {
                name: "zz".into(),
                architecture: "all".into(),
                control: "Package: zz\nVersion: 1\n".into(),
                files: vec![],
                md5sums: None,
                license: None,
            },
            InstalledPackage {
                name: "hello".into(),
                architecture: "amd64".into(),
                control: "Package: hello\nVersion: 2\n".into(),
                files: vec![TreePath::new("bin/hello").unwrap()],
                md5sums: Some("aaaa  bin/hello\nbbbb  usr/share/doc/hello/copyright\n".into()),
                license: None,
            },
        ];
        dpkg_database(&mut tree, &pkgs).unwrap();
        let status = tree.file(&TreePath::new("var/lib/dpkg/status").unwrap()).unwrap();
        assert_eq!(
            std::str::from_utf8(&status.bytes()).unwrap(),
            "Package: hello\nStatus: install ok installed\nVersion: 2\n\nPackage: zz\nStatus: install ok installed\nVersion: 1\n\n"
        );
        // Spelled as the package ships it; found through the merged-/usr link.
        let list = tree.file(&TreePath::new("var/lib/dpkg/info/hello.list").unwrap()).unwrap();
        assert_eq!(&*list.bytes(), b"/bin/hello\n");
        // Pruned files are not listed as installed.
        let sums = tree.file(&TreePath::new("var/lib/dpkg/info/hello.md5sums").unwrap()).unwrap();
        assert_eq!(&*sums.bytes(), b"aaaa  bin/hello\n");
    }
}
