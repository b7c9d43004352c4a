use super::*;
use crate::lock::{LockedPackage, LockedSource, LOCK_VERSION};

fn locked(name: &str, version: &str, arch: &str) -> LockedPackage {
    LockedPackage {
        name: name.into(),
        version: version.into(),
        architecture: arch.into(),
        filename: format!("pool/main/x/{name}/{name}_{version}_{arch}.deb"),
        size: 1,
        sha256: hex::encode(Sha256::digest(name.as_bytes())),
    }
}

fn installed(name: &str, control: &str, license: Option<&str>) -> InstalledPackage {
    InstalledPackage {
        name: name.into(),
        architecture: "amd64".into(),
        control: format!("Package: {name}\n{control}"),
        files: vec![],
        md5sums: None,
        license: license.map(str::to_owned),
    }
}

fn lock() -> Lockfile {
    Lockfile {
        version: LOCK_VERSION,
        inputs: "0".repeat(32),
        source: LockedSource {
            suite: "stable".into(),
            codename: "trixie".into(),
            version: "13.2".into(),
            date: "Sat, 15 Nov 2025 10:00:00 UTC".into(),
            date_epoch: 1_763_200_800,
        },
        packages: vec![
            locked("libc6", "2.41-12+deb13u4", "amd64"),
            locked("busybox", "1:1.37.0-6+b9", "amd64"),
            locked("libgcc-s1", "14.2.0-19", "amd64"),
        ],
        kernel: None,
        base: None,
    }
}

fn packages() -> Vec<InstalledPackage> {
    vec![
        installed("busybox", "Source: busybox (1:1.37.0-6)\nMaintainer: Debian Install System Team <debian-boot@lists.debian.org>\nDepends: libc6 (>= 2.38)\n", None),
        installed(
            "libc6",
            "Source: glibc\nMaintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>\nDepends: libgcc-s1\n",
            Some("GPL-2.0-only AND LGPL-2.1-or-later AND LicenseRef-public-domain"),
        ),
        installed("libgcc-s1", "Maintainer: Jane Doe <jane@example.org>\nDepends: gcc-14-base (= 14.2.0-19), libc6 (>= 2.35)\n", None),
    ]
}

fn sbom(epoch: i64) -> Sbom {
    let (lock, packages) = (lock(), packages());
    Sbom::new(&Manifest::default_base(), &Inputs { lock: &lock, packages: &packages }, &Tree::new(), None, epoch)
}

#[test]
fn packages_carry_source_supplier_license_and_depends() {
    let s = sbom(1_700_000_000);
    assert_eq!(s.distro, "debian-13");
    let names: Vec<&str> = s.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["busybox", "libc6", "libgcc-s1"]);
    let busybox = &s.packages[0];
    assert_eq!((busybox.source.as_str(), busybox.source_version.as_str()), ("busybox", "1:1.37.0-6"));
    assert_eq!(busybox.depends, ["libc6"]);
    assert_eq!(busybox.file_name, "busybox_1:1.37.0-6+b9_amd64.deb");
    let libc6 = &s.packages[1];
    assert_eq!((libc6.source.as_str(), libc6.source_version.as_str()), ("glibc", "2.41-12+deb13u4"));
    assert_eq!(libc6.maintainer.as_ref().unwrap().email.as_deref(), Some("debian-glibc@lists.debian.org"));
    // gcc-14-base is not in the image: no dangling edge.
    assert_eq!(s.packages[2].depends, ["libc6"]);
}

#[test]
fn purls_follow_the_spec() {
    let s = sbom(0);
    assert_eq!(
        s.purl("busybox", "1:1.37.0-6+b9", "amd64"),
        "pkg:deb/debian/busybox@1:1.37.0-6%2Bb9?arch=amd64&distro=debian-13"
    );
    assert_eq!(purl_encode("1.0~rc1+dfsg"), "1.0~rc1%2Bdfsg");
    assert_eq!(purl_encode("a b@c"), "a%20b%40c");
}

#[test]
fn identifiers_and_times_are_derived() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339(1_763_200_800), "2025-11-15T10:00:00Z");
    assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    let u = uuid(&[0xff; 32]);
    assert_eq!(u, "ffffffff-ffff-5fff-bfff-ffffffffffff");
    let (a, b) = (sbom(1), sbom(2));
    assert_ne!(a.digest, b.digest, "the epoch is part of the identity");
    assert_eq!(sbom(1).digest, a.digest);
}

#[test]
fn documents_are_deterministic() {
    let render = |s: &Sbom| (s.spdx().to_string(), s.cyclonedx().to_string());
    assert_eq!(render(&sbom(7)), render(&sbom(7)));
    let spdx = sbom(7).spdx();
    assert_eq!(spdx["creationInfo"]["created"], "1970-01-01T00:00:07Z");
    let ns = spdx["documentNamespace"].as_str().unwrap();
    assert!(ns.starts_with("https://microroot.invalid/spdx/microroot-base-"), "{ns}");
    let libc6 = spdx["packages"].as_array().unwrap().iter().find(|p| p["name"] == "libc6").unwrap();
    assert_eq!(libc6["licenseDeclared"], "GPL-2.0-only AND LGPL-2.1-or-later AND LicenseRef-public-domain");
    assert_eq!(libc6["supplier"], "Organization: GNU Libc Maintainers (debian-glibc@lists.debian.org)");
    assert_eq!(spdx["hasExtractedLicensingInfos"][0]["licenseId"], "LicenseRef-public-domain");
    let busybox = spdx["packages"].as_array().unwrap().iter().find(|p| p["name"] == "busybox").unwrap();
    assert_eq!(busybox["licenseDeclared"], "NOASSERTION");
    let rels = spdx["relationships"].as_array().unwrap();
    assert!(rels.iter().any(|r| r["spdxElementId"] == "SPDXRef-Package-deb-busybox"
        && r["relationshipType"] == "DEPENDS_ON"
        && r["relatedSpdxElement"] == "SPDXRef-Package-deb-libc6"));
    let cdx = sbom(7).cyclonedx();
    assert_eq!(cdx["metadata"]["timestamp"], "1970-01-01T00:00:07Z");
    assert!(cdx["serialNumber"].as_str().unwrap().starts_with("urn:uuid:"));
    assert_eq!(cdx["components"][1]["licenses"][0]["expression"], libc6["licenseDeclared"]);
}

#[test]
fn kernel_and_modules_are_components() {
    let mut lock = lock();
    lock.kernel = Some(locked("linux-image-6.12-cloud-amd64", "6.12.57-1", "amd64"));
    let packages = packages();
    let mut tree = Tree::new();
    let module = TreePath::new("usr/lib/modules/6.12/kernel/drivers/block/virtio_blk.ko.xz").unwrap();
    tree.insert(&module, microroot_tree::Entry::file(0o644, "module bytes")).unwrap();
    let boot = BootArtifacts {
        bzimage: vec![1, 2, 3],
        vmlinux: vec![],
        kernel_version: "6.12.57+deb13-cloud-amd64".into(),
        kernel_package: Some("linux-image-6.12-cloud-amd64".into()),
        modules: vec!["virtio_blk".into()],
        module_paths: vec![format!("/{}", module.as_str())],
        stage1: None,
    };
    let s = Sbom::new(&Manifest::default_base(), &Inputs { lock: &lock, packages: &packages }, &tree, Some(&boot), 0);
    let k = s.kernel.as_ref().unwrap();
    assert!(k.packaged);
    assert_eq!(k.modules[0].sha256.as_deref(), Some(hex::encode(Sha256::digest(b"module bytes")).as_str()));
    let spdx = s.spdx();
    let kernel = spdx["packages"].as_array().unwrap().iter().find(|p| p["SPDXID"] == "SPDXRef-Kernel").unwrap();
    assert_eq!(kernel["licenseDeclared"], "GPL-2.0-only");
    assert_eq!(kernel["versionInfo"], "6.12.57-1");
    let cdx = s.cyclonedx();
    let kernel = cdx["components"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(kernel["type"], "operating-system");
    assert_eq!(kernel["components"][0]["type"], "device-driver");
    assert_eq!(kernel["components"][0]["name"], "virtio_blk");
}

#[test]
fn source_and_party_fields() {
    assert_eq!(source_of(Some("glibc (2.41-12)"), "libc6", "2.41-12+b1"), ("glibc".into(), "2.41-12".into()));
    assert_eq!(source_of(None, "hello", "2.10-5"), ("hello".into(), "2.10-5".into()));
    assert_eq!(
        party("Jane Doe <jane@example.org>"),
        Some(Party { name: "Jane Doe".into(), email: Some("jane@example.org".into()) })
    );
    assert_eq!(party("Nobody"), Some(Party { name: "Nobody".into(), email: None }));
    assert_eq!(party(" "), None);
}

#[test]
fn base_packages_get_licenses_from_their_copyright_files_and_dependency_edges() {
    let mut lock = lock();
    // The image adds busybox on a base that has libc6 and libgcc-s1.
    lock.packages.retain(|p| p.name == "busybox");
    lock.base = Some(crate::base::LockedBase {
        reference: "base.oci".into(),
        digest: format!("sha256:{}", "1".repeat(64)),
        config: format!("sha256:{}", "2".repeat(64)),
    });
    let packages: Vec<InstalledPackage> = packages().into_iter().filter(|p| p.name == "busybox").collect();
    let mut tree = Tree::new();
    let file = |tree: &mut Tree, path: &str, text: &str| {
        tree.insert(&TreePath::new(path).unwrap(), microroot_tree::Entry::file(0o644, text.to_owned())).unwrap();
    };
    file(
        &mut tree,
        "var/lib/dpkg/status",
        "Package: busybox\nStatus: install ok installed\nVersion: 1:1.37.0-6+b9\nArchitecture: amd64\n\n\
         Package: libc6\nStatus: install ok installed\nVersion: 2.41-12\nArchitecture: amd64\nSource: glibc\nDepends: libgcc-s1\n\n\
         Package: libgcc-s1\nStatus: install ok installed\nVersion: 14.2.0-19\nArchitecture: amd64\nProvides: libgcc1 (= 1:14.2.0-19)\n",
    );
    // libc6's copyright file is kept; libgcc-s1's doc dir is a link to another package's.
    file(&mut tree, "usr/share/doc/libc6/copyright", "Format: copyright-format/1.0\n\nFiles: *\nLicense: LGPL-2.1+\n");
    tree.insert(&TreePath::new("usr/share/doc/libgcc-s1").unwrap(), microroot_tree::Entry::symlink("gcc-14-base"))
        .unwrap();
    file(
        &mut tree,
        "usr/share/doc/gcc-14-base/copyright",
        "Format: copyright-format/1.0\n\nFiles: *\nLicense: GPL-3+\n",
    );
    let s = Sbom::new(&Manifest::default_base(), &Inputs { lock: &lock, packages: &packages }, &tree, None, 0);
    let names: Vec<&str> = s.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["busybox", "libc6", "libgcc-s1"]);
    // busybox (planned) depends on libc6 (from the base), and so on down.
    assert_eq!(s.packages[0].depends, ["libc6"]);
    assert_eq!(s.packages[1].depends, ["libgcc-s1"]);
    assert_eq!(s.packages[1].license.as_deref(), Some("LGPL-2.1-or-later"));
    assert_eq!(s.packages[2].license.as_deref(), Some("GPL-3.0-or-later"));
    assert_eq!((s.packages[1].source.as_str(), s.packages[1].sha256.as_str()), ("glibc", ""));
}
