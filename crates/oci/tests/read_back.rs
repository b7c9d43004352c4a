//! Reading images back: what we wrote and what skopeo wrote, in every
//! format, unpacks to the tree we started from.

mod common;

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use common::*;
use microroot_oci::spec::Platform;
use microroot_oci::{
    write_docker_archive, write_layout, write_oci_archive, Digest, Format, Image, ImageConfig, ImageReader, Layering,
    ReadError, Selector,
};
use microroot_tree::{Kind, Tree};

/// Opens `path`, selects its only image, checks its format and returns
/// the unpacked tree.
fn unpack(path: &Path, format: Format) -> Tree {
    let reader = ImageReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(reader.format(), format, "{}", path.display());
    let image = reader.select(&Selector::default()).unwrap();
    let mut tree = Tree::new();
    let owner: Arc<str> = Arc::from("base-image");
    image.apply(&mut tree, Some(&owner)).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(tree.iter().filter(|(p, _)| !p.is_root()).all(|(_, e)| e.owner.as_deref() == Some("base-image")));
    tree
}

#[test]
fn our_three_formats_read_back_to_the_same_tree() {
    let tmp = tempfile::tempdir().unwrap();
    for layering in [Layering::Single, Layering::ByPackage { max_layers: 10 }] {
        let image = sample_image(layering);
        let n = image.layers.len();
        let (layout, oci, docker) = (
            tmp.path().join(format!("l{n}")),
            tmp.path().join(format!("{n}.oci")),
            tmp.path().join(format!("{n}.docker")),
        );
        write_layout(&image, &layout).unwrap();
        write_oci_archive(&image, &oci).unwrap();
        write_docker_archive(&image, &docker).unwrap();

        for (path, format) in [(&layout, Format::Layout), (&oci, Format::OciArchive)] {
            let reader = ImageReader::open(path).unwrap();
            let read = reader.select(&Selector { reference: Some(TAG.into()), platform: None }).unwrap();
            assert_eq!(read.manifest, image.manifest);
            assert_eq!(read.manifest_digest, Some(image.manifest_digest()));
            assert_eq!(read.config, image.config);
            assert_eq!(read.names, [TAG]);
            assert_same_tree(&unpack(path, format), &sample_tree());
        }
        let reader = ImageReader::open(&docker).unwrap();
        let read = reader.select(&Selector { reference: Some("microroot/sample:v1".into()), platform: None }).unwrap();
        assert_eq!(read.config, image.config);
        assert_eq!(read.config_digest, image.config_digest());
        let layers: Vec<Digest> = read.layers().iter().map(|d| d.digest).collect();
        assert_eq!(layers, image.layers.iter().map(|l| l.diff_id).collect::<Vec<_>>());
        assert_same_tree(&unpack(&docker, Format::DockerArchive), &sample_tree());
    }
}

#[test]
fn layer_streams_are_the_uncompressed_tars() {
    let tmp = tempfile::tempdir().unwrap();
    let image = sample_image(Layering::ByPackage { max_layers: 10 });
    write_layout(&image, tmp.path()).unwrap();
    let reader = ImageReader::open(tmp.path()).unwrap();
    let read = reader.select(&Selector::default()).unwrap();
    for (i, layer) in image.layers.iter().enumerate() {
        let mut stream = read.open_layer(i).unwrap();
        let mut tar = Vec::new();
        stream.read_to_end(&mut tar).unwrap();
        stream.finish().unwrap();
        assert_eq!(tar, &*layer.tar().bytes());
    }
    assert!(matches!(read.open_layer(9), Err(ReadError::NoLayer { index: 9, count: 3 })));
}

#[test]
fn what_skopeo_wrote_reads_back_to_the_same_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let image = sample_image(Layering::ByPackage { max_layers: 10 });
    let layout = tmp.path().join("layout");
    write_layout(&image, &layout).unwrap();
    let src = format!("oci:{}:{TAG}", path_str(&layout));
    let at = |name: &str| tmp.path().join(name);

    // skopeo's docker-archive: `<hex>.tar` layers plus legacy symlinked
    // `<id>/layer.tar` members and a `repositories` file.
    let docker = at("skopeo.docker");
    run(skopeo().args(["copy", "--quiet", &src, &format!("docker-archive:{}:microroot/x:v2", path_str(&docker))]));
    assert_same_tree(&unpack(&docker, Format::DockerArchive), &sample_tree());
    let reader = ImageReader::open(&docker).unwrap();
    assert_eq!(reader.images().unwrap()[0].names, ["docker.io/microroot/x:v2"], "skopeo expands the name");
    let read = reader.select(&Selector { reference: Some("microroot/x:v2".into()), platform: None }).unwrap();
    assert_eq!(read.manifest_digest, None, "a docker-archive stores no manifest blob");

    // zstd layers, recompressed by skopeo from the uncompressed archive.
    let zstd = at("zstd");
    let from_docker = format!("docker-archive:{}", path_str(&docker));
    run(skopeo().args([
        "copy",
        "--quiet",
        "--dest-compress-format",
        "zstd",
        &from_docker,
        &format!("oci:{}:z", path_str(&zstd)),
    ]));
    let reader = ImageReader::open(&zstd).unwrap();
    let read = reader.select(&Selector::default()).unwrap();
    assert!(read.layers().iter().all(|d| d.media_type.ends_with("+zstd")), "{:?}", read.layers());
    assert_same_tree(&unpack(&zstd, Format::Layout), &sample_tree());

    // gzip layers compressed by skopeo (Go's gzip, not ours).
    let gzip = at("gzip");
    run(skopeo().args(["copy", "--quiet", &from_docker, &format!("oci:{}:g", path_str(&gzip))]));
    assert_same_tree(&unpack(&gzip, Format::Layout), &sample_tree());

    let archive = at("skopeo.oci");
    run(skopeo().args(["copy", "--quiet", &src, &format!("oci-archive:{}:{TAG}", path_str(&archive))]));
    assert_same_tree(&unpack(&archive, Format::OciArchive), &sample_tree());
}

fn platform(arch: &str, variant: Option<&str>) -> Platform {
    Platform { os: "linux".into(), architecture: arch.into(), variant: variant.map(Into::into), ..Platform::default() }
}

#[test]
fn selects_by_name_and_platform() {
    let tmp = tempfile::tempdir().unwrap();
    let shared = tmp.path().join("shared");
    for (tag, arch) in [("amd", "amd64"), ("arm", "arm64"), ("armhf", "armhf")] {
        let config = ImageConfig { tag: Some(TAG.into()), ..ImageConfig::for_debian_arch(arch).unwrap() };
        let image = Image::build(&sample_tree(), &config, Layering::Single).unwrap();
        let dir = tmp.path().join(tag);
        write_layout(&image, &dir).unwrap();
        let (src, dest) = (format!("oci:{}:{TAG}", path_str(&dir)), format!("oci:{}:{tag}", path_str(&shared)));
        run(skopeo().args(["copy", "--quiet", &src, &dest]));
    }
    let reader = ImageReader::open(&shared).unwrap();
    assert_eq!(reader.images().unwrap().len(), 3);
    let select = |reference: Option<&str>, platform: Option<Platform>| {
        reader.select(&Selector { reference: reference.map(Into::into), platform })
    };
    let err = select(None, None).unwrap_err();
    assert!(matches!(err, ReadError::Ambiguous { .. }), "{err}");
    assert!(err.to_string().contains("armhf [linux/arm/v7]"), "{err}");
    assert_eq!(select(Some("arm"), None).unwrap().config.architecture, "arm64");
    let err = select(Some("nope"), None).unwrap_err();
    assert!(err.to_string().contains("no image named `nope`; it has: amd"), "{err}");
    assert_eq!(select(None, Some(platform("arm", Some("v7")))).unwrap().names, ["armhf"]);
    assert_eq!(select(None, Some(platform("arm", None))).unwrap().names, ["armhf"], "arm means arm/v7");
    assert_eq!(select(None, Some(platform("arm64", Some("v8")))).unwrap().names, ["arm"]);
    let err = select(None, Some(platform("s390x", None))).unwrap_err();
    assert!(matches!(err, ReadError::NoPlatform { .. }), "{err}");
}

#[test]
fn devices_fifos_and_xattrs_survive_the_round_trip() {
    let mut tree = sample_tree();
    put(&mut tree, "dev", entry(0o755, Kind::Dir, None));
    put(&mut tree, "dev/null", entry(0o666, Kind::CharDev { major: 1, minor: 3 }, None));
    put(&mut tree, "dev/loop0", entry(0o660, Kind::BlockDev { major: 7, minor: 0 }, None));
    put(&mut tree, "dev/fifo", entry(0o600, Kind::Fifo, None));
    let mut ping = entry(0o755, Kind::File("\x7fELF ping".into()), Some("iputils-ping"));
    ping.meta
        .xattrs
        .insert("security.capability".into(), vec![1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    ping.meta.xattrs.insert("user.comment".into(), b"raw\0bytes".to_vec());
    put(&mut tree, "usr/bin/ping", ping);

    let tmp = tempfile::tempdir().unwrap();
    let image = Image::build(&tree, &sample_config(), Layering::ByPackage { max_layers: 10 }).unwrap();
    let layout = tmp.path().join("layout");
    write_layout(&image, &layout).unwrap();
    assert_same_tree(&unpack(&layout, Format::Layout), &tree);
    let docker = tmp.path().join("skopeo.docker");
    let src = format!("oci:{}:{TAG}", path_str(&layout));
    run(skopeo().args(["copy", "--quiet", &src, &format!("docker-archive:{}", path_str(&docker))]));
    assert_same_tree(&unpack(&docker, Format::DockerArchive), &tree);
}
