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
            .filter(|p| tree.resolve(p, false).is_ok_and(|at| tree.get(&at).is_some()))
            .map(|p| if p.is_root() { "/.\n".to_owned() } else { format!("{p}\n") })
            .collect();
        let info = if pkg.architecture == "all" || !multi_arch_same(&pkg.control) {
            pkg.name.clone()
        } else {
            format!("{}:{}", pkg.name, pkg.architecture)
        };
        put(tree, &format!("var/lib/dpkg/info/{info}.list"), 0o644, list)?;
    }
    // Without `info/format` 1, dpkg looks for `libc6.list` instead of the
    // `libc6:amd64.list` written above for Multi-Arch: same packages.
    put(tree, "var/lib/dpkg/info/format", 0o644, "1\n")?;
    put(tree, "var/lib/dpkg/status", 0o644, status)?;
    put(tree, "var/lib/dpkg/available", 0o644, "")?;
    Ok(())
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
        let file = TreePath::new("usr/bin/hello").unwrap();
        tree.insert(&file, microroot_tree::Entry::file(0o755, "x")).unwrap();
        let pkgs = [
            InstalledPackage {
                name: "zz".into(),
                architecture: "all".into(),
                control: "Package: zz\nVersion: 1\n".into(),
                files: vec![],
            },
            InstalledPackage {
                name: "hello".into(),
                architecture: "amd64".into(),
                control: "Package: hello\nVersion: 2\n".into(),
                files: vec![file],
            },
        ];
        dpkg_database(&mut tree, &pkgs).unwrap();
        let status = tree.file(&TreePath::new("var/lib/dpkg/status").unwrap()).unwrap();
        assert_eq!(
            std::str::from_utf8(status.bytes()).unwrap(),
            "Package: hello\nStatus: install ok installed\nVersion: 2\n\nPackage: zz\nStatus: install ok installed\nVersion: 1\n\n"
        );
        let list = tree.file(&TreePath::new("var/lib/dpkg/info/hello.list").unwrap()).unwrap();
        assert_eq!(list.bytes(), b"/usr/bin/hello\n");
    }
}
