//! The SPDX 2.3 JSON document: the image as a package that the document
//! DESCRIBES and that CONTAINS each Debian package (and the kernel, which
//! CONTAINS its modules); DEPENDS_ON between packages of the image.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::{Package, Party, Sbom};

const NOASSERTION: &str = "NOASSERTION";

pub fn document(sbom: &Sbom) -> Value {
    let (tool, version) = Sbom::tool();
    let image_id = "SPDXRef-Image";
    let mut packages = vec![json!({
        "SPDXID": image_id,
        "name": sbom.image,
        "description": format!("root filesystem built by {tool} from Debian {} ({}) for {}", sbom.codename, sbom.suite, sbom.arch),
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": false,
        "primaryPackagePurpose": "OPERATING_SYSTEM",
        "licenseConcluded": NOASSERTION,
        "licenseDeclared": NOASSERTION,
        "copyrightText": NOASSERTION,
    })];
    let mut relationships = vec![relationship("SPDXRef-DOCUMENT", "DESCRIBES", image_id)];
    for p in &sbom.packages {
        packages.push(package(sbom, p));
        relationships.push(relationship(image_id, "CONTAINS", &package_id(&p.name)));
    }
    for p in &sbom.packages {
        for dep in &p.depends {
            relationships.push(relationship(&package_id(&p.name), "DEPENDS_ON", &package_id(dep)));
        }
    }
    if let Some(k) = &sbom.kernel {
        let kernel_id = "SPDXRef-Kernel";
        let mut kernel = json!({
            "SPDXID": kernel_id,
            "name": k.name,
            "versionInfo": k.version,
            "description": format!("Linux kernel {} (vmlinuz, vmlinux)", k.release),
            "downloadLocation": NOASSERTION,
            "filesAnalyzed": false,
            "primaryPackagePurpose": "OPERATING_SYSTEM",
            "checksums": [checksum(&k.sha256)],
            "licenseConcluded": NOASSERTION,
            "licenseDeclared": "GPL-2.0-only",
            "copyrightText": NOASSERTION,
        });
        if k.packaged {
            kernel["externalRefs"] = json!([purl_ref(&sbom.purl(&k.name, &k.version, &sbom.arch))]);
            kernel["packageFileName"] = k.file_name.clone().into();
            kernel["supplier"] = "Organization: Debian".into();
        }
        packages.push(kernel);
        relationships.push(relationship(image_id, "CONTAINS", kernel_id));
        for md in &k.modules {
            let id = format!("SPDXRef-Module-{}", sanitize(&md.name));
            let mut module = json!({
                "SPDXID": id,
                "name": md.name,
                "versionInfo": k.release,
                "packageFileName": md.path,
                "downloadLocation": NOASSERTION,
                "filesAnalyzed": false,
                "primaryPackagePurpose": "FILE",
                "licenseConcluded": NOASSERTION,
                "licenseDeclared": "GPL-2.0-only",
                "copyrightText": NOASSERTION,
            });
            if let Some(sha) = &md.sha256 {
                module["checksums"] = json!([checksum(sha)]);
            }
            packages.push(module);
            relationships.push(relationship(kernel_id, "CONTAINS", &id));
        }
    }
    let mut doc = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": sbom.image,
        "documentNamespace": namespace(sbom),
        "creationInfo": {
            "created": sbom.created,
            "creators": [format!("Tool: {tool}-{version}")],
        },
        "packages": packages,
        "relationships": relationships,
    });
    let refs = license_refs(sbom);
    if !refs.is_empty() {
        doc["hasExtractedLicensingInfos"] = refs.into_iter().map(extracted_license).collect();
    }
    doc
}

/// `https://microroot.invalid/spdx/<image>-<digest prefix>`: `.invalid`
/// (RFC 2606) can never resolve to anyone's document.
pub fn namespace(sbom: &Sbom) -> String {
    format!("https://microroot.invalid/spdx/{}-{}", sanitize(&sbom.image), hex::encode(&sbom.digest[..16]))
}

fn package(sbom: &Sbom, p: &Package) -> Value {
    let mut v = json!({
        "SPDXID": package_id(&p.name),
        "name": p.name,
        "versionInfo": p.version,
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": false,
        "packageFileName": p.file_name,
        "checksums": [checksum(&p.sha256)],
        "sourceInfo": format!("built package from: {} {}", p.source, p.source_version),
        "licenseConcluded": NOASSERTION,
        "licenseDeclared": p.license.as_deref().unwrap_or(NOASSERTION),
        "copyrightText": NOASSERTION,
        "externalRefs": [purl_ref(&sbom.purl(&p.name, &p.version, &p.architecture))],
    });
    if let Some(m) = &p.maintainer {
        v["supplier"] = agent(m).into();
    }
    if p.sha256.is_empty() {
        // From the base image: no .deb was fetched.
        let o = v.as_object_mut().expect("an object");
        o.remove("checksums");
        o.remove("packageFileName");
        o.insert("comment".into(), "installed in the base image".into());
    }
    v
}

/// `Organization: Name (email)` for teams and lists, `Person: …` else.
fn agent(party: &Party) -> String {
    let team_words = ["team", "maintainers", "group", "developers", "project", "debian"];
    let lower = party.name.to_ascii_lowercase();
    let email = party.email.as_deref().unwrap_or_default();
    let team = team_words.iter().any(|w| lower.contains(w)) || email.contains("lists.") || email.contains("@tracker.");
    let kind = if team { "Organization" } else { "Person" };
    let name = if party.name.is_empty() { email } else { &party.name };
    match &party.email {
        Some(email) => format!("{kind}: {name} ({email})"),
        None => format!("{kind}: {name}"),
    }
}

fn package_id(name: &str) -> String {
    format!("SPDXRef-Package-deb-{}", sanitize(name))
}

/// What SPDX ids may hold: letters, digits, `.` and `-` (`+` → `plus`).
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '+' => "plus".to_owned(),
            c if c.is_ascii_alphanumeric() || c == '.' || c == '-' => c.to_string(),
            _ => "-".to_owned(),
        })
        .collect()
}

fn checksum(sha256: &str) -> Value {
    json!({ "algorithm": "SHA256", "checksumValue": sha256 })
}

fn purl_ref(purl: &str) -> Value {
    json!({ "referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": purl })
}

fn relationship(from: &str, kind: &str, to: &str) -> Value {
    json!({ "spdxElementId": from, "relationshipType": kind, "relatedSpdxElement": to })
}

/// Every `LicenseRef-…` the packages' expressions use: SPDX wants each
/// defined in the document.
fn license_refs(sbom: &Sbom) -> BTreeSet<(String, String)> {
    let mut refs = BTreeSet::new();
    for p in &sbom.packages {
        let Some(expr) = &p.license else { continue };
        for id in expr.split(|c: char| c.is_whitespace() || c == '(' || c == ')') {
            if id.starts_with("LicenseRef-") {
                refs.insert((id.to_owned(), p.name.clone()));
            }
        }
    }
    // One definition per id, naming the first package (by name) using it.
    let mut seen = BTreeSet::new();
    refs.into_iter().filter(|(id, _)| seen.insert(id.clone())).collect()
}

fn extracted_license((id, package): (String, String)) -> Value {
    let short = id.trim_start_matches("LicenseRef-");
    json!({
        "licenseId": id,
        "name": short,
        "extractedText": format!(
            "A license that Debian's machine-readable copyright files name `{short}` and that is not on the SPDX \
             License List; its text is in /usr/share/doc/{package}/copyright of the package {package}."
        ),
    })
}
