//! umoci unpacks our layouts: every file arrives with its content and
//! mode, links stay links, and the runtime config follows the image's.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use common::*;
use microroot_oci::{write_layout, Layering};

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o7777
}

fn unpack(layering: Layering) {
    let tmp = tempfile::tempdir().unwrap();
    let image = sample_image(layering);
    let layout = tmp.path().join("layout");
    write_layout(&image, &layout).unwrap();
    let bundle = tmp.path().join("bundle");
    let image_ref = format!("{}:{TAG}", path_str(&layout));
    run(tool("umoci", "umoci").args(["unpack", "--rootless", "--image", &image_ref, path_str(&bundle)]));

    let root = bundle.join("rootfs");
    assert_eq!(fs::read(root.join("usr/bin/hello")).unwrap(), SCRIPT);
    assert_eq!(mode(&root.join("usr/bin/hello")), 0o755);
    assert_eq!(mode(&root.join("usr/bin/su")), 0o4755);
    assert_eq!(mode(&root.join("etc/empty")), 0o600);
    assert_eq!(mode(&root.join("tmp")), 0o1777);
    assert_eq!(mode(&root.join("home/user/notes")), 0o640);
    assert_eq!(fs::read_to_string(root.join(LONG_PATH)).unwrap(), "a long way down\n");
    assert_eq!(fs::read_link(root.join("bin")).unwrap(), Path::new("usr/bin"));
    let ino = |p: &str| fs::metadata(root.join(p)).unwrap().ino();
    assert_eq!(ino("usr/bin/hello"), ino("usr/bin/aaa-hello"), "hardlinks share an inode");
    assert_eq!(ino("usr/bin/hello"), ino("usr/bin/hello-again"));
    assert_eq!(fs::metadata(root.join("etc/os-release")).unwrap().mtime(), EPOCH);

    let config: serde_json::Value = serde_json::from_slice(&fs::read(bundle.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["process"]["args"], serde_json::json!(["/usr/bin/hello", "--greet"]));
    assert_eq!(config["process"]["cwd"], "/home/user");
    let env: Vec<&str> = config["process"]["env"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(env.contains(&"LANG=C.UTF-8"), "{env:?}");
}

#[test]
fn umoci_unpacks_a_single_layer_image() {
    unpack(Layering::Single);
}

#[test]
fn umoci_unpacks_a_layer_per_package() {
    unpack(Layering::ByPackage { max_layers: 10 });
}
