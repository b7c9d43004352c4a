use microroot_tree::Tree;

use crate::manifest::Manifest;

use super::put;

/// What the suite says about itself, for /etc/os-release.
#[derive(Debug, Clone, Default)]
pub struct OsInfo {
    /// e.g. `13.7`
    pub version: String,
    /// e.g. `trixie`
    pub codename: String,
}

const NSSWITCH: &str = "\
passwd:         files
group:          files
shadow:         files
gshadow:        files
hosts:          files dns
networks:       files
protocols:      files
services:       files
ethers:         files
rpc:            files
netgroup:       files
";

/// hostname, hosts, nsswitch.conf, os-release and debian_version. The
/// os-release keeps `ID=debian` so that scanners (Syft, Trivy, Grype) map
/// the dpkg database to Debian's advisories.
pub fn etc_basics(tree: &mut Tree, manifest: &Manifest, os: &OsInfo) -> Result<(), super::CustomizeError> {
    let host = &manifest.image.hostname;
    put(tree, "etc/hostname", 0o644, format!("{host}\n"))?;
    put(
        tree,
        "etc/hosts",
        0o644,
        format!("127.0.0.1\tlocalhost\n127.0.1.1\t{host}\n::1\t\tlocalhost ip6-localhost ip6-loopback\n"),
    )?;
    put(tree, "etc/nsswitch.conf", 0o644, NSSWITCH)?;
    let major = os.version.split('.').next().unwrap_or("");
    let release = format!(
        "PRETTY_NAME=\"microroot {name} (Debian GNU/Linux {major} ({codename}))\"\n\
         NAME=\"Debian GNU/Linux\"\n\
         VERSION_ID=\"{major}\"\n\
         VERSION=\"{major} ({codename})\"\n\
         VERSION_CODENAME={codename}\n\
         ID=debian\n\
         VARIANT=\"microroot\"\n\
         VARIANT_ID=microroot\n\
         IMAGE_ID={name}\n",
        name = manifest.image.name,
        codename = os.codename,
    );
    put(tree, "usr/lib/os-release", 0o644, release)?;
    let link = microroot_tree::TreePath::new("etc/os-release").expect("static path");
    let entry = microroot_tree::Entry::symlink("../usr/lib/os-release").with_owner(super::generated());
    tree.insert(&link, entry).map_err(|e| super::CustomizeError::new(tree, &link, e))?;
    if !os.version.is_empty() {
        put(tree, "etc/debian_version", 0o644, format!("{}\n", os.version))?;
    }
    Ok(())
}
