//! Layer-per-package images: how many layers, what each holds, and that a
//! package shared by two images gets the same layer digest in both.

mod common;

use common::*;
use microroot_oci::{write_layout, Image, Layering};
use microroot_tree::{Kind, Tree};

fn packages(image: &Image) -> Vec<String> {
    image.layers.iter().map(|l| l.packages.join("+")).collect()
}

fn members(layer: &microroot_oci::Layer) -> Vec<String> {
    let mut archive = tar::Archive::new(layer.tar().reader());
    archive.entries().unwrap().map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned()).collect()
}

#[test]
fn one_layer_per_package_then_the_unowned_files() {
    let image = sample_image(Layering::ByPackage { max_layers: 10 });
    assert_eq!(packages(&image), ["base-files", "hello", ""]);
    let hello = members(&image.layers[1]);
    assert!(hello.contains(&"usr/bin/hello".to_owned()) && hello.contains(&"usr/bin/".to_owned()), "{hello:?}");
    assert!(!hello.iter().any(|m| m.starts_with("etc")), "{hello:?}");
    let rest = members(&image.layers[2]);
    assert!(rest.contains(&"etc/hostname".to_owned()), "generated files go last: {rest:?}");
    assert!(rest.contains(&"home/user/notes".to_owned()), "{rest:?}");
    let history: Vec<_> = image.config.history.iter().map(|h| h.comment.clone().unwrap()).collect();
    assert_eq!(history, ["packages: base-files", "packages: hello", "files not from packages"]);
    assert_eq!(image.config.rootfs.diff_ids.len(), 3);
}

#[test]
fn too_many_packages_merge_the_smallest() {
    let two = sample_image(Layering::ByPackage { max_layers: 2 });
    assert_eq!(packages(&two), ["base-files+hello", ""]);
    let one = sample_image(Layering::ByPackage { max_layers: 1 });
    assert_eq!(packages(&one), ["base-files+hello"]);
    assert_eq!(one.layers.len(), 1);
    let single = sample_image(Layering::Single);
    assert_eq!(single.config.history[0].comment.as_deref(), Some("all files"));
    assert!(Image::build(&sample_tree(), &sample_config(), Layering::ByPackage { max_layers: 0 }).is_err());
}

/// The sample plus a package `extra` and a changed generated file.
fn other_tree() -> Tree {
    let mut tree = sample_tree();
    put(&mut tree, "usr/bin/extra", entry(0o755, Kind::File("#!/bin/sh\n".into()), Some("extra")));
    put(&mut tree, "etc/hostname", entry(0o644, Kind::File("other\n".into()), Some("microroot")));
    tree
}

#[test]
fn images_sharing_a_package_share_its_layer() {
    let a = sample_image(Layering::ByPackage { max_layers: 10 });
    let b = Image::build(&other_tree(), &sample_config(), Layering::ByPackage { max_layers: 10 }).unwrap();
    assert_eq!(packages(&b), ["base-files", "extra", "hello", ""]);
    let digest = |image: &Image, pkg: &str| {
        image.layers.iter().find(|l| l.packages == [pkg]).map(|l| l.descriptor.digest).unwrap()
    };
    assert_eq!(digest(&a, "hello"), digest(&b, "hello"));
    assert_eq!(digest(&a, "base-files"), digest(&b, "base-files"));
    assert_ne!(a.layers.last().unwrap().descriptor.digest, b.layers.last().unwrap().descriptor.digest);

    // skopeo agrees: both images in one layout store the shared layers once.
    let tmp = tempfile::tempdir().unwrap();
    let (da, db, shared) = (tmp.path().join("a"), tmp.path().join("b"), tmp.path().join("shared"));
    write_layout(&a, &da).unwrap();
    write_layout(&b, &db).unwrap();
    for (dir, tag) in [(&da, "a"), (&db, "b")] {
        let src = format!("oci:{}:{TAG}", path_str(dir));
        run(skopeo().args(["copy", "--quiet", &src, &format!("oci:{}:{tag}", path_str(&shared))]));
    }
    let blobs = std::fs::read_dir(shared.join("blobs/sha256")).unwrap().count();
    // 3 + 4 layers with 2 shared, plus a config and a manifest each.
    assert_eq!(blobs, 3 + 4 - 2 + 4);
    let inspect = json(&run(skopeo().args(["inspect", &format!("oci:{}:b", path_str(&shared))])));
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 4);
}

#[test]
fn layers_kept_on_disk_are_the_same_image() {
    let dir = tempfile::tempdir().unwrap();
    for layering in [Layering::Single, Layering::ByPackage { max_layers: 10 }] {
        let in_memory = sample_image(layering);
        // No budget at all: every layer tar and blob goes to a file.
        let spill = microroot_tree::Spill::new(dir.path(), 0);
        let on_disk = Image::build_in(&sample_tree(), &sample_config(), layering, &spill).unwrap();
        assert!(on_disk.layers.iter().all(|l| l.tar().is_spilled() && l.blob().is_spilled()));
        assert_eq!(spill.in_memory(), 0);
        assert_eq!(on_disk.manifest_digest(), in_memory.manifest_digest(), "{layering:?}");
        for (a, b) in on_disk.layers.iter().zip(&in_memory.layers) {
            assert_eq!((a.tar(), a.blob()), (b.tar(), b.blob()));
        }
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        write_layout(&on_disk, &a).unwrap();
        write_layout(&in_memory, &b).unwrap();
        let blobs = |d: &std::path::Path| {
            let mut names: Vec<_> =
                std::fs::read_dir(d.join("blobs/sha256")).unwrap().map(|e| e.unwrap().file_name()).collect();
            names.sort();
            names
        };
        assert_eq!(blobs(&a), blobs(&b));
        std::fs::remove_dir_all(&a).unwrap();
        std::fs::remove_dir_all(&b).unwrap();
    }
}
