//! What Debian's maintainer scripts would have made, made natively: here
//! the CA bundle of ca-certificates, checked with the host's real OpenSSL.

mod common;

use common::*;

#[test]
fn ca_certificates_bundle_is_built_and_verifies() {
    let dir = TestDir::new();
    dir.write("microroot.toml", "[packages]\ninclude = [\"ca-certificates\"]\n[output]\nformats = [\"tar\"]\n");
    dir.microroot().args(["build", "microroot.toml", "-q", "--out", "out", "--cache-dir"]).arg(shared_cache()).stdout();
    let root = dir.join("root");
    std::fs::create_dir_all(&root).unwrap();
    extract(&dir.join("out/rootfs.tar"), &root);

    let certs: Vec<_> = std::fs::read_dir(root.join("usr/share/ca-certificates/mozilla"))
        .expect("ca-certificates ships /usr/share/ca-certificates/mozilla")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "crt"))
        .collect();
    assert!(certs.len() > 100, "only {} certificates", certs.len());
    let bundle = root.join("etc/ssl/certs/ca-certificates.crt");
    let text = std::fs::read_to_string(&bundle).expect("the bundle exists");
    assert_eq!(text.matches("-----BEGIN CERTIFICATE-----").count(), certs.len());

    // Every root verifies against the bundle, as a TLS client would check it.
    for cert in certs.iter().take(5) {
        let out = run_ok(tool("openssl", "openssl").arg("verify").arg("-CAfile").arg(&bundle).arg(cert));
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(said.trim_end().ends_with(": OK"), "{said}");
        // And the per-certificate link resolves inside the image.
        let name = cert.file_stem().unwrap().to_str().unwrap();
        let link = std::fs::read_link(root.join(format!("etc/ssl/certs/{name}.pem"))).unwrap();
        assert!(root.join(link.strip_prefix("/").unwrap()).is_file(), "{}", link.display());
    }
}
