//! The SBOMs against the published SPDX 2.3 and CycloneDX 1.5 JSON
//! schemas (vendored in tests/schemas), for an image with and without a
//! kernel, plus broken documents that the validators must reject (which
//! shows they are wired up, `$ref`s included).

#[path = "schemas/validate.rs"]
mod validate;

use microroot_image::boot::BootArtifacts;
use microroot_image::customize::InstalledPackage;
use microroot_image::lock::{LockedPackage, LockedSource, Lockfile, LOCK_VERSION};
use microroot_image::sbom::{Inputs, Sbom};
use microroot_image::Manifest;
use microroot_tree::{Entry, Tree, TreePath};
use serde_json::{json, Value};

fn locked(name: &str, version: &str) -> LockedPackage {
    LockedPackage {
        name: name.into(),
        version: version.into(),
        architecture: "amd64".into(),
        filename: format!("pool/main/x/{name}/{name}_{version}_amd64.deb"),
        size: 1,
        sha256: "ab".repeat(32),
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

fn inputs() -> (Lockfile, Vec<InstalledPackage>) {
    let lock = Lockfile {
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
            locked("busybox", "1:1.37.0-6+b9"),
            locked("libc6", "2.41-12+deb13u4"),
            locked("libstdc++6", "14.2.0-19"),
        ],
        kernel: Some(locked("linux-image-cloud-amd64", "6.12.57-1")),
        base: None,
    };
    let packages = vec![
        installed("busybox", "Maintainer: Debian Install System Team <debian-boot@lists.debian.org>\nDepends: libc6\n", None),
        installed(
            "libc6",
            "Source: glibc\nMaintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>\n",
            Some("(BSD-2-Clause OR GPL-2.0-only) AND GPL-2.0-only WITH Linux-syscall-note AND LGPL-2.1-or-later AND LicenseRef-public-domain"),
        ),
        installed("libstdc++6", "Source: gcc-14 (14.2.0-19)\nMaintainer: Matthias Klose\nDepends: libc6 | libc6.1\n", Some("GPL-3.0-or-later WITH GCC-exception-3.1")),
    ];
    (lock, packages)
}

fn documents(with_kernel: bool) -> (Value, Value) {
    let (lock, packages) = inputs();
    let mut tree = Tree::new();
    let module = TreePath::new("usr/lib/modules/6.12.57/kernel/drivers/block/virtio_blk.ko.xz").unwrap();
    tree.insert(&module, Entry::file(0o644, "module")).unwrap();
    let boot = BootArtifacts {
        bzimage: vec![0; 16],
        vmlinux: vec![],
        kernel_version: "6.12.57+deb13-cloud-amd64".into(),
        kernel_package: Some("linux-image-cloud-amd64".into()),
        modules: vec!["virtio_blk".into(), "missing".into()],
        module_paths: vec![format!("/{}", module.as_str()), "/usr/lib/modules/missing.ko".into()],
        stage1: None,
    };
    let boot = with_kernel.then_some(&boot);
    let sbom =
        Sbom::new(&Manifest::default_base(), &Inputs { lock: &lock, packages: &packages }, &tree, boot, 1_763_200_800);
    (sbom.spdx(), sbom.cyclonedx())
}

#[test]
fn sboms_match_the_published_schemas() {
    let (spdx, cyclonedx) = (validate::spdx(), validate::cyclonedx());
    for with_kernel in [false, true] {
        let (s, c) = documents(with_kernel);
        validate::assert_valid(&spdx, &s, &format!("the SPDX document (kernel: {with_kernel})"));
        validate::assert_valid(&cyclonedx, &c, &format!("the CycloneDX document (kernel: {with_kernel})"));
    }
}

#[test]
fn broken_documents_are_rejected() {
    let (spdx, cyclonedx) = (validate::spdx(), validate::cyclonedx());
    let (s, c) = documents(true);

    let mut broken = s.clone();
    broken.as_object_mut().unwrap().remove("documentNamespace");
    assert!(!validate::errors(&spdx, &broken).is_empty(), "SPDX without documentNamespace passed");
    let mut broken = s.clone();
    broken["relationships"][0]["relationshipType"] = "IS_FRIENDS_WITH".into();
    assert!(!validate::errors(&spdx, &broken).is_empty(), "an unknown SPDX relationship passed");
    let mut broken = s;
    broken["packages"][1]["checksums"][0]["algorithm"] = "SHA-256".into();
    assert!(!validate::errors(&spdx, &broken).is_empty(), "a misspelled SPDX checksum algorithm passed");

    let mut broken = c.clone();
    broken["serialNumber"] = "urn:uuid:not-a-uuid".into();
    assert!(!validate::errors(&cyclonedx, &broken).is_empty(), "a bad serialNumber passed");
    let mut broken = c.clone();
    broken["metadata"]["timestamp"] = "yesterday".into();
    assert!(!validate::errors(&cyclonedx, &broken).is_empty(), "a timestamp that is no date-time passed");
    let mut broken = c.clone();
    broken["components"][0]["type"] = "package".into();
    assert!(!validate::errors(&cyclonedx, &broken).is_empty(), "an unknown component type passed");
    // Through the `$ref` to the vendored spdx.schema.json.
    let mut broken = c.clone();
    broken["components"][0]["licenses"] = json!([{ "license": { "id": "Not-A-License-Id" } }]);
    assert!(!validate::errors(&cyclonedx, &broken).is_empty(), "an unknown SPDX license id passed");
    let mut fixed = c;
    fixed["components"][0]["licenses"] = json!([{ "license": { "id": "GPL-2.0-or-later" } }]);
    validate::assert_valid(&cyclonedx, &fixed, "a listed SPDX license id");
}
