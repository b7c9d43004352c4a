//! What ca-certificates' maintainer script (`update-ca-certificates`) would
//! make: the bundle `/etc/ssl/certs/ca-certificates.crt` that curl, Go,
//! Python and OpenSSL-based clients read, and a `<name>.pem` link per
//! certificate. Without it an image with ca-certificates trusts nothing.

use microroot_tree::{Entry, Kind, Tree, TreePath};

use super::{generated, put, CustomizeError};

const SHARE: &str = "usr/share/ca-certificates";

/// Builds the bundle from every `*.crt` below /usr/share/ca-certificates,
/// in path order (the package's default: all certificates enabled).
/// Returns how many certificates went in; nothing happens without any.
pub fn ca_certificates(tree: &mut Tree) -> Result<usize, CustomizeError> {
    let share = TreePath::new(SHARE).expect("static path");
    let certs: Vec<(TreePath, Vec<u8>)> = tree
        .below(&share)
        .filter(|(p, _)| p.as_str().ends_with(".crt"))
        .filter_map(|(p, e)| match &e.kind {
            Kind::File(blob) => Some((p.clone(), blob.bytes().to_vec())),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Ok(0);
    }
    let mut bundle = Vec::new();
    for (path, pem) in &certs {
        bundle.extend_from_slice(pem);
        if !pem.ends_with(b"\n") {
            bundle.push(b'\n');
        }
        let name = path.file_name().trim_end_matches(".crt");
        let link = TreePath::new(&format!("etc/ssl/certs/{name}.pem")).expect("a file name");
        let entry = Entry::symlink(format!("{path}")).with_owner(generated());
        tree.insert(&link, entry).map_err(|e| CustomizeError::new(tree, &link, e))?;
    }
    put(tree, "etc/ssl/certs/ca-certificates.crt", 0o644, bundle)?;
    Ok(certs.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundles_every_certificate_in_order() {
        let mut tree = Tree::new();
        for (name, pem) in [("mozilla/B.crt", "B\n"), ("mozilla/A.crt", "A"), ("mozilla/readme", "x")] {
            let path = TreePath::new(&format!("{SHARE}/{name}")).unwrap();
            tree.insert(&path, Entry::file(0o644, pem)).unwrap();
        }
        assert_eq!(ca_certificates(&mut tree).unwrap(), 2);
        let bundle = tree.file(&TreePath::new("etc/ssl/certs/ca-certificates.crt").unwrap()).unwrap();
        assert_eq!(&*bundle.bytes(), b"A\nB\n");
        let link = tree.get(&TreePath::new("etc/ssl/certs/A.pem").unwrap()).unwrap();
        assert_eq!(link.kind, Kind::Symlink("/usr/share/ca-certificates/mozilla/A.crt".into()));
    }

    #[test]
    fn nothing_without_certificates() {
        let mut tree = Tree::new();
        assert_eq!(ca_certificates(&mut tree).unwrap(), 0);
        assert!(tree.get(&TreePath::new("etc/ssl").unwrap()).is_none());
    }
}
