//! The three image outputs, checked with skopeo: it must read each one and
//! report exactly the manifest, config and layers we wrote, and copy them.

mod common;

use std::fs;

use common::*;
use microroot_oci::{write_docker_archive, write_layout, write_oci_archive, Digest, Image, Layering};

fn digests(image: &Image) -> Vec<String> {
    image.layers.iter().map(|l| l.descriptor.digest.to_string()).collect()
}

fn diff_ids(image: &Image) -> Vec<String> {
    image.layers.iter().map(|l| l.diff_id.to_string()).collect()
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array().unwrap_or_else(|| panic!("not an array: {v}")).iter().map(|s| s.as_str().unwrap().to_owned()).collect()
}

/// What `skopeo inspect` says about the config, whatever the transport.
fn assert_config(inspect: &serde_json::Value) {
    assert_eq!(inspect["Architecture"], "amd64");
    assert_eq!(inspect["Os"], "linux");
    assert_eq!(inspect["Created"], "2023-11-14T22:13:20Z");
    assert_eq!(strings(&inspect["Env"]), ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"]);
    assert_eq!(inspect["Labels"]["org.example.label"], "yes");
}

#[test]
fn skopeo_reads_and_copies_the_layout() {
    let tmp = tempfile::tempdir().unwrap();
    for layering in [Layering::Single, Layering::ByPackage { max_layers: 10 }] {
        let image = sample_image(layering);
        let dir = tmp.path().join(format!("layout-{}", image.layers.len()));
        write_layout(&image, &dir).unwrap();
        let oci = format!("oci:{}:{TAG}", path_str(&dir));

        let raw = run(skopeo().args(["inspect", "--raw", &oci]));
        assert_eq!(raw.stdout, image.manifest_blob(), "skopeo sees our manifest byte for byte");
        let config = run(skopeo().args(["inspect", "--config", "--raw", &oci]));
        assert_eq!(config.stdout, image.config_blob());

        let inspect = json(&run(skopeo().args(["inspect", &oci])));
        assert_eq!(inspect["Digest"], image.manifest_digest().to_string());
        assert_eq!(strings(&inspect["Layers"]), digests(&image));
        assert_config(&inspect);

        let copy = tmp.path().join(format!("copy-{}", image.layers.len()));
        let dest = format!("oci:{}:{TAG}", path_str(&copy));
        run(skopeo().args(["copy", "--quiet", &oci, &dest]));
        let copied = json(&run(skopeo().args(["inspect", &dest])));
        assert_eq!(copied["Digest"], image.manifest_digest().to_string(), "copied unchanged");
        for layer in &image.layers {
            let blob = fs::read(copy.join("blobs/sha256").join(layer.descriptor.digest.hex())).unwrap();
            assert_eq!(Digest::of(&blob), layer.descriptor.digest);
        }
    }
}

#[test]
fn skopeo_reads_the_oci_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let image = sample_image(Layering::ByPackage { max_layers: 10 });
    let archive = tmp.path().join("image.oci.tar");
    let written = write_oci_archive(&image, &archive).unwrap();
    assert_eq!(written.size, fs::metadata(&archive).unwrap().len());
    for reference in
        [format!("oci-archive:{}", path_str(&archive)), format!("oci-archive:{}:{TAG}", path_str(&archive))]
    {
        let inspect = json(&run(skopeo().args(["inspect", &reference])));
        assert_eq!(inspect["Digest"], image.manifest_digest().to_string());
        assert_eq!(strings(&inspect["Layers"]), digests(&image));
        assert_config(&inspect);
    }
    let raw = run(skopeo().args(["inspect", "--raw", &format!("oci-archive:{}", path_str(&archive))]));
    assert_eq!(raw.stdout, image.manifest_blob());
}

#[test]
fn skopeo_reads_and_converts_the_docker_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let image = sample_image(Layering::ByPackage { max_layers: 10 });
    let archive = tmp.path().join("image.docker.tar");
    write_docker_archive(&image, &archive).unwrap();
    let source = format!("docker-archive:{}", path_str(&archive));
    let inspect = json(&run(skopeo().args(["inspect", &source])));
    assert_eq!(strings(&inspect["Layers"]), diff_ids(&image), "docker-archive layers are the uncompressed tars");
    assert_eq!(strings(&inspect["RepoTags"]), Vec::<String>::new(), "skopeo lists no tags for archives");
    assert_config(&inspect);
    let config = run(skopeo().args(["inspect", "--config", "--raw", &source]));
    assert_eq!(config.stdout, image.config_blob(), "the config blob is stored as built");

    // By name, as `docker load` would tag it.
    let named = format!("docker-archive:{}:microroot/sample:{TAG}", path_str(&archive));
    run(skopeo().args(["inspect", &named]));

    let oci = tmp.path().join("from-docker");
    let dest = format!("oci:{}:{TAG}", path_str(&oci));
    run(skopeo().args(["copy", "--quiet", &source, &dest]));
    let copied = json(&run(skopeo().args(["inspect", "--config", "--raw", &dest])));
    let ours: serde_json::Value = serde_json::from_slice(image.config_blob()).unwrap();
    assert_eq!(copied["rootfs"], ours["rootfs"], "same diff ids after skopeo recompressed the layers");
}

#[test]
fn outputs_are_bit_identical_across_builds() {
    let tmp = tempfile::tempdir().unwrap();
    let build = |n: usize| {
        let image = sample_image(Layering::ByPackage { max_layers: 10 });
        let oci = write_oci_archive(&image, &tmp.path().join(format!("{n}.oci.tar"))).unwrap();
        let docker = write_docker_archive(&image, &tmp.path().join(format!("{n}.docker.tar"))).unwrap();
        (image.manifest_digest(), digests(&image), diff_ids(&image), oci.sha256, docker.sha256)
    };
    let first = build(1);
    assert_eq!(first, build(2));
    let single = sample_image(Layering::Single);
    assert_eq!(single.manifest_digest(), sample_image(Layering::Single).manifest_digest());
    assert_ne!(single.manifest_digest(), first.0);
    // Pinned: a change to any encoder, header or JSON field shows up here.
    let gz = single.layers[0].blob().bytes();
    assert_eq!(&gz[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255], "gzip header: no name, mtime 0, OS unknown");
}
