//! The SBOMs of real builds (against the mirror of the host's apt
//! sources): `sbom.spdx.json` and `sbom.cdx.json` beside the tarball,
//! valid against the published SPDX 2.3 and CycloneDX 1.5 schemas,
//! describing each package as the lockfile pins it, and identical across
//! rebuilds.

mod common;

#[path = "../../image/tests/schemas/validate.rs"]
mod validate;

use std::path::Path;

use common::{base_image, shared_cache, TestDir};
use microroot_image::lock::{LockedPackage, Lockfile};
use serde_json::Value;

fn read_json(path: &Path) -> Value {
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The lockfile entry of `name` in `dir`'s microroot.lock.
fn locked(dir: &TestDir, name: &str) -> LockedPackage {
    let lock = Lockfile::read(&dir.join("microroot.lock")).expect("a readable microroot.lock");
    lock.packages.into_iter().find(|p| p.name == name).unwrap_or_else(|| panic!("{name} is not locked"))
}

/// The purl up to the distro's version: `+` is percent-encoded, `:` is not
/// (purl spec, "Character encoding").
fn purl_prefix(name: &str, version: &str) -> String {
    format!("pkg:deb/debian/{name}@{}?arch=amd64&distro=debian-", version.replace('+', "%2B"))
}

#[test]
fn base_image_sboms_are_valid_and_listed_as_outputs() {
    let image = base_image();
    let dist = image.tarball.parent().unwrap();
    let spdx = read_json(&dist.join("sbom.spdx.json"));
    let cdx = read_json(&dist.join("sbom.cdx.json"));
    validate::assert_valid(&validate::spdx(), &spdx, "sbom.spdx.json of the base image");
    validate::assert_valid(&validate::cyclonedx(), &cdx, "sbom.cdx.json of the base image");
    let formats: Vec<&str> =
        image.report["outputs"].as_array().unwrap().iter().map(|o| o["format"].as_str().unwrap()).collect();
    assert_eq!(formats, ["tar.xz", "spdx", "cyclonedx"]);
    // The base image's packages, each with a purl and the .deb's sha256.
    let names: Vec<&str> = spdx["packages"].as_array().unwrap().iter().filter_map(|p| p["name"].as_str()).collect();
    for name in ["microroot-base", "busybox", "libc6", "libgcc-s1"] {
        assert!(names.contains(&name), "{name} not in {names:?}");
    }
    let libgcc = cdx["components"].as_array().unwrap().iter().find(|c| c["name"] == "libgcc-s1").unwrap();
    assert!(libgcc["purl"].as_str().unwrap().starts_with("pkg:deb/debian/libgcc-s1@"), "{libgcc}");

    // Regression: without a lockfile, a fresh resolution and the cached
    // plan list packages in different orders; the documents' ids must not
    // depend on it.
    let dir = TestDir::new();
    dir.microroot().args(["build", "--out", "again", "--cache-dir"]).arg(shared_cache()).stdout();
    for name in ["sbom.spdx.json", "sbom.cdx.json"] {
        let (a, b) = (std::fs::read(dist.join(name)).unwrap(), std::fs::read(dir.join("again").join(name)).unwrap());
        assert!(a == b, "{name} differs between two builds of the base image");
    }
}

#[test]
fn libc6_is_described_as_locked_and_rebuilds_are_identical() {
    let dir = TestDir::new();
    dir.write(
        "microroot.toml",
        "[image]\nname = \"sbom-test\"\n\n[packages]\ninclude = [\"busybox\", \"libc6\", \"zlib1g\"]\n",
    );
    dir.microroot().args(["lock", "--cache-dir"]).arg(shared_cache()).stdout();
    let build = |out: &str| {
        let args = ["build", "microroot.toml", "--locked", "--out", out, "--cache-dir"];
        dir.microroot().args(args).arg(shared_cache()).stdout();
        let out = dir.join(out);
        (std::fs::read(out.join("sbom.spdx.json")).unwrap(), std::fs::read(out.join("sbom.cdx.json")).unwrap())
    };
    let first = build("one");
    let spdx: Value = serde_json::from_slice(&first.0).unwrap();
    let cdx: Value = serde_json::from_slice(&first.1).unwrap();
    validate::assert_valid(&validate::spdx(), &spdx, "sbom.spdx.json");
    validate::assert_valid(&validate::cyclonedx(), &cdx, "sbom.cdx.json");

    let lock = locked(&dir, "libc6");
    let (version, sha256) = (lock.version.as_str(), lock.sha256.as_str());
    let libc6 = spdx["packages"].as_array().unwrap().iter().find(|p| p["name"] == "libc6").expect("libc6 in SPDX");
    assert_eq!(libc6["versionInfo"], version);
    assert_eq!(libc6["checksums"][0]["algorithm"], "SHA256");
    assert_eq!(libc6["checksums"][0]["checksumValue"], sha256);
    assert!(libc6["sourceInfo"].as_str().unwrap().starts_with("built package from: glibc "), "{libc6}");
    let declared = libc6["licenseDeclared"].as_str().unwrap();
    assert!(declared.contains("LGPL-2.1-or-later"), "libc6 declares {declared}");
    let purl_ref = libc6["externalRefs"][0]["referenceLocator"].as_str().unwrap();
    assert!(purl_ref.starts_with(&purl_prefix("libc6", version)), "{purl_ref}");
    assert!(!purl_ref.contains('+'), "`+` is percent-encoded in purls: {purl_ref}");

    let c = cdx["components"].as_array().unwrap().iter().find(|c| c["name"] == "libc6").expect("libc6 in CycloneDX");
    assert_eq!(c["version"], version);
    assert_eq!(c["purl"].as_str(), Some(purl_ref));
    assert_eq!(c["hashes"][0]["content"], sha256);
    assert_eq!(c["licenses"][0]["expression"].as_str(), Some(declared));
    let zlib = spdx["packages"].as_array().unwrap().iter().find(|p| p["name"] == "zlib1g").expect("zlib1g");
    assert_eq!(zlib["licenseDeclared"], "Zlib");
    // BusyBox's copyright file is not machine-readable.
    let busybox = spdx["packages"].as_array().unwrap().iter().find(|p| p["name"] == "busybox").expect("busybox");
    assert_eq!(busybox["licenseDeclared"], "NOASSERTION");

    // A second build from scratch gives the same bytes.
    let second = build("two");
    assert!(first.0 == second.0, "sbom.spdx.json differs between two builds of one lockfile");
    assert!(first.1 == second.1, "sbom.cdx.json differs between two builds of one lockfile");
}
