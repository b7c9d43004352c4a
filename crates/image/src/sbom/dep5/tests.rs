use super::*;
use crate::sbom::license::{license_id, license_ref, parse};

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/copyright/", $name))
    };
}

#[test]
fn real_copyright_files() {
    assert_eq!(declared_license(fixture!("zlib1g")).as_deref(), Some("Zlib"));
    assert_eq!(
        declared_license(fixture!("nginx")).as_deref(),
        Some("BSD-2-Clause AND GPL-2.0-or-later AND LicenseRef-public-domain AND MIT")
    );
    assert_eq!(
        declared_license(fixture!("openssl")).as_deref(),
        Some("(Artistic-1.0-Perl OR GPL-1.0-or-later) AND Apache-2.0")
    );
    assert_eq!(
        declared_license(fixture!("libbpf1")).as_deref(),
        Some(
            "(GPL-2.0-only WITH Linux-syscall-note OR BSD-3-Clause) AND (LGPL-2.1-only OR BSD-2-Clause) \
             AND GPL-2.0-only AND GPL-2.0-only WITH Linux-syscall-note AND GPL-2.0-or-later"
        )
    );
    assert_eq!(
        declared_license(fixture!("libpcre2-8-0")).as_deref(),
        Some(
            "BSD-2-Clause AND BSD-3-Clause AND LicenseRef-BSD-3-clause-Cambridge-with-BINARY-LIBRARY-LIKE-PACKAGES-exception \
             AND LicenseRef-public-domain AND X11"
        )
    );
    // Not machine-readable: NOASSERTION in the SBOM.
    assert_eq!(declared_license(fixture!("busybox")), None);
}

#[test]
fn libc6_names_every_license_of_glibc_once() {
    let expr = declared_license(fixture!("libc6")).expect("libc6's copyright file is DEP-5");
    let parts: Vec<&str> = expr.split(" AND ").collect();
    for wanted in [
        "LGPL-2.1-or-later",
        "GPL-2.0-or-later",
        "GPL-2.0-only",
        "ISC",
        "BSL-1.0",
        "Unicode-DFS-2016",
        "(BSD-2-Clause OR GPL-2.0-only)",
        "LicenseRef-LGPL-2.1plus-with-link-exception",
        "LicenseRef-public-domain",
    ] {
        assert!(parts.contains(&wanted), "{wanted} missing from {expr}");
    }
    let mut sorted = parts.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(parts, sorted, "conjuncts are distinct and sorted");
    // `A and B` license lines are split into their conjuncts.
    assert!(!parts.iter().any(|p| p.contains(" AND ")));
}

#[test]
fn maps_debian_short_names() {
    let id = |name: &str| license_id(name).render();
    assert_eq!(id("GPL-2+"), "GPL-2.0-or-later");
    assert_eq!(id("GPL-2"), "GPL-2.0-only");
    assert_eq!(id("GPL-2.0"), "GPL-2.0-only");
    assert_eq!(id("GPL-3.0-or-later"), "GPL-3.0-or-later");
    assert_eq!(id("GPL"), "GPL-1.0-or-later");
    assert_eq!(id("LGPL-2.1+"), "LGPL-2.1-or-later");
    assert_eq!(id("LGPL-2"), "LGPL-2.0-only");
    assert_eq!(id("AGPL-3+"), "AGPL-3.0-or-later");
    assert_eq!(id("GFDL-NIV-1.3+"), "GFDL-1.3-no-invariants-or-later");
    assert_eq!(id("BSD-3-clause"), "BSD-3-Clause");
    assert_eq!(id("Expat"), "MIT");
    assert_eq!(id("Apache-2"), "Apache-2.0");
    assert_eq!(id("zlib"), "Zlib");
    assert_eq!(id("MPL-2.0"), "MPL-2.0");
    assert_eq!(id("Artistic"), "Artistic-1.0-Perl");
    assert_eq!(id("Perl"), "Artistic-1.0-Perl OR GPL-1.0-or-later");
    assert_eq!(id("public-domain"), "LicenseRef-public-domain");
    assert_eq!(id("GPL-4"), "LicenseRef-GPL-4");
    assert_eq!(id("BSD-3-clause-Berkeley"), "LicenseRef-BSD-3-clause-Berkeley");
    assert_eq!(license_ref("GPL-2+-or-X11"), "LicenseRef-GPL-2plus-or-X11");
    assert_eq!(license_ref("__AUTO_PERMISSIVE__"), "LicenseRef-AUTO-PERMISSIVE");
}

#[test]
fn maps_operators_and_exceptions() {
    let expr = |text: &str| parse(text).render();
    assert_eq!(expr("GPL-2+ or Artistic"), "GPL-2.0-or-later OR Artistic-1.0-Perl");
    assert_eq!(expr("BSD-3-clause and ISC"), "BSD-3-Clause AND ISC");
    // `and` binds tighter than `or`; commas group loosest.
    assert_eq!(expr("MIT or ISC and Zlib"), "MIT OR (ISC AND Zlib)");
    assert_eq!(expr("GPL-2+ or Artistic-2.0, and BSD-3-clause"), "(GPL-2.0-or-later OR Artistic-2.0) AND BSD-3-Clause");
    assert_eq!(expr("GPL-2 with Linux-syscall-note exception"), "GPL-2.0-only WITH Linux-syscall-note");
    assert_eq!(expr("GPL-3+ with GCC-3.1 exception"), "GPL-3.0-or-later WITH GCC-exception-3.1");
    assert_eq!(expr("GPL-2+ with Font exception or MIT"), "GPL-2.0-or-later WITH Font-exception-2.0 OR MIT");
    assert_eq!(expr("GPL-3+ with OpenSSL exception"), "LicenseRef-GPL-3plus-with-OpenSSL-exception");
    assert_eq!(expr("GPL-2+-with-link-exception"), "LicenseRef-GPL-2plus-with-link-exception");
    assert_eq!(expr("GPL 2"), "GPL-2.0-only");
    assert_eq!(expr("MIT or MIT"), "MIT");
    assert_eq!(expr(""), "LicenseRef-unknown");
}

#[test]
fn not_machine_readable_or_broken() {
    assert_eq!(declared_license("This package was debianized by someone.\n\nIt is GPL.\n"), None);
    assert_eq!(declared_license(""), None);
    // A license text with an unmarked blank line breaks only its paragraph.
    let text = "Format: copyright-format/1.0\n\n\
                Files: *\nCopyright: someone\nLicense: GPL-2+\n\n\
                License: GPL-2+\n text\n\nbroken text without a field\n\n\
                Files: x/*\nLicense: Expat\n";
    assert_eq!(declared_license(text).as_deref(), Some("GPL-2.0-or-later AND MIT"));
    // Only the header names a license.
    let text = "Format: http://dep.debian.net/deps/dep5\nLicense: ISC\n";
    assert_eq!(declared_license(text).as_deref(), Some("ISC"));
}
