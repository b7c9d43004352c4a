//! The CycloneDX 1.5 JSON document: the image as `metadata.component`,
//! each Debian package a `library` component (bom-ref = purl), the kernel
//! an `operating-system` component with its modules as `device-driver`
//! sub-components, and `dependencies` from Depends.

use serde_json::{json, Value};

use super::{Kernel, Package, Sbom};

pub fn document(sbom: &Sbom) -> Value {
    let (tool, version) = Sbom::tool();
    let image_ref = format!("image:{}", sbom.image);
    let mut components: Vec<Value> = sbom.packages.iter().map(|p| package(sbom, p)).collect();
    let mut top: Vec<String> = sbom.packages.iter().map(|p| purl(sbom, p)).collect();
    let mut dependencies: Vec<Value> = sbom
        .packages
        .iter()
        .map(|p| {
            let on: Vec<String> = p
                .depends
                .iter()
                .filter_map(|d| sbom.packages.iter().find(|q| &q.name == d))
                .map(|q| purl(sbom, q))
                .collect();
            json!({ "ref": purl(sbom, p), "dependsOn": on })
        })
        .collect();
    if let Some(k) = &sbom.kernel {
        let (component, kernel_ref) = kernel(sbom, k);
        components.push(component);
        dependencies.push(json!({ "ref": kernel_ref, "dependsOn": [] }));
        top.push(kernel_ref);
    }
    dependencies.insert(0, json!({ "ref": image_ref, "dependsOn": top }));
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": format!("urn:uuid:{}", super::uuid(&sbom.digest)),
        "version": 1,
        "metadata": {
            "timestamp": sbom.created,
            "tools": { "components": [{ "type": "application", "name": tool, "version": version }] },
            "component": {
                "type": "operating-system",
                "bom-ref": image_ref,
                "name": sbom.image,
                "description": format!("root filesystem built by {tool} from Debian {} ({}) for {}", sbom.codename, sbom.suite, sbom.arch),
            },
        },
        "components": components,
        "dependencies": dependencies,
    })
}

fn purl(sbom: &Sbom, p: &Package) -> String {
    sbom.purl(&p.name, &p.version, &p.architecture)
}

fn package(sbom: &Sbom, p: &Package) -> Value {
    let purl = purl(sbom, p);
    let mut v = json!({
        "type": "library",
        "bom-ref": purl,
        "name": p.name,
        "version": p.version,
        "publisher": "Debian",
        "hashes": [{ "alg": "SHA-256", "content": p.sha256 }],
        "purl": purl,
        "properties": [
            property("microroot:deb:architecture", &p.architecture),
            property("microroot:deb:filename", &p.file_name),
            property("microroot:deb:source", &p.source),
            property("microroot:deb:source_version", &p.source_version),
        ],
    });
    if let Some(expr) = &p.license {
        v["licenses"] = json!([{ "expression": expr }]);
    }
    if let Some(m) = &p.maintainer {
        let mut contact = json!({ "name": m.name });
        if let Some(email) = &m.email {
            contact["email"] = email.clone().into();
        }
        v["supplier"] = json!({ "name": m.name, "contact": [contact] });
    }
    if p.sha256.is_empty() {
        // From the base image: no .deb was fetched.
        let o = v.as_object_mut().expect("an object");
        o.remove("hashes");
        if let Some(props) = o.get_mut("properties").and_then(|p| p.as_array_mut()) {
            props.retain(|p| p["name"] != "microroot:deb:filename");
            props.push(property("microroot:origin", "base image"));
        }
    }
    v
}

fn kernel(sbom: &Sbom, k: &Kernel) -> (Value, String) {
    let kernel_ref =
        if k.packaged { sbom.purl(&k.name, &k.version, &sbom.arch) } else { format!("kernel:{}", k.release) };
    let modules: Vec<Value> = k
        .modules
        .iter()
        .map(|md| {
            let mut v = json!({
                "type": "device-driver",
                "bom-ref": format!("kernel-module:{}:{}", k.release, md.name),
                "name": md.name,
                "version": k.release,
                "licenses": [{ "expression": "GPL-2.0-only" }],
                "properties": [property("microroot:kernel:module_path", &md.path)],
            });
            if let Some(sha) = &md.sha256 {
                v["hashes"] = json!([{ "alg": "SHA-256", "content": sha }]);
            }
            v
        })
        .collect();
    let mut v = json!({
        "type": "operating-system",
        "bom-ref": kernel_ref,
        "name": k.name,
        "version": k.version,
        "description": format!("Linux kernel {} (vmlinuz, vmlinux)", k.release),
        "hashes": [{ "alg": "SHA-256", "content": k.sha256 }],
        "licenses": [{ "expression": "GPL-2.0-only" }],
        "properties": [property("microroot:kernel:release", &k.release)],
        "components": modules,
    });
    if k.packaged {
        v["purl"] = kernel_ref.clone().into();
        v["publisher"] = "Debian".into();
    }
    (v, kernel_ref)
}

fn property(name: &str, value: &str) -> Value {
    json!({ "name": name, "value": value })
}
