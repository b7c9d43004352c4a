//! Hand-made hostile and broken inputs: each must give its documented
//! error, and never write where a path or link points outside the tree.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use microroot_oci::spec::{
    ConfigFile, Descriptor, Index, Manifest, RootFs, MEDIA_TYPE_LAYER_GZIP, MEDIA_TYPE_LAYER_TAR,
};
use microroot_oci::{
    apply_layer, write_docker_archive, write_layout, ApplyError, Digest, ImageReader, Layering, ReadError, Selector,
};
use microroot_tree::{Kind, Tree};

/// A tar member: name, typeflag, link name, data.
type Member<'a> = (&'a str, u8, &'a str, &'a [u8]);

fn file<'a>(name: &'a str, data: &'a [u8]) -> Member<'a> {
    (name, b'0', "", data)
}

/// A tar with the names exactly as given (tar-rs's builder would refuse
/// `..`), ustar headers, mode 0644 (0755 for directories).
fn layer(members: &[Member<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for &(name, typeflag, link, data) in members {
        let mut h = tar::Header::new_ustar();
        let old = h.as_old_mut();
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_entry_type(tar::EntryType::new(typeflag));
        h.set_mode(if typeflag == b'5' { 0o755 } else { 0o644 });
        h.set_size(data.len() as u64);
        h.set_mtime(EPOCH as u64);
        h.set_uid(0);
        h.set_gid(0);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(512), 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

fn apply(tree: &mut Tree, members: &[Member<'_>]) -> Result<microroot_oci::ApplyStats, ApplyError> {
    apply_layer(tree, layer(members).as_slice(), None)
}

fn content(tree: &Tree, path: &str) -> Option<String> {
    tree.file(&p(path)).map(|b| String::from_utf8_lossy(&b.bytes()).into_owned())
}

#[test]
fn dot_dot_components_are_refused() {
    for name in ["../x", "/abs/../../x", "a/../b", "./.."] {
        let mut tree = Tree::new();
        let err = apply(&mut tree, &[file(name, b"pwned")]).unwrap_err();
        assert!(matches!(&err, ApplyError::DotDot { name: n } if n == name), "{name}: {err}");
        assert!(err.to_string().contains("hint:"), "{err}");
        assert_eq!(tree.len(), 1, "nothing was stored");
    }
    let mut tree = Tree::new();
    let err = apply(&mut tree, &[file("ok", b""), ("x", b'1', "../ok", b"")]).unwrap_err();
    assert!(matches!(err, ApplyError::DotDot { .. }), "hardlink targets too: {err}");
}

#[test]
fn absolute_names_are_taken_from_the_root() {
    let mut tree = Tree::new();
    let stats =
        apply(&mut tree, &[file("/etc/passwd", b"root:x:0:0::/root:/bin/sh\n"), file("./etc/group", b"")]).unwrap();
    assert_eq!(stats.entries, 2);
    assert_eq!(content(&tree, "etc/passwd").unwrap(), "root:x:0:0::/root:/bin/sh\n");
    assert!(tree.get(&p("etc/group")).is_some());
}

#[test]
fn whiteouts_that_escape_are_refused() {
    for name in [".wh...", "a/.wh...", ".wh..", "a/b/.wh.."] {
        let mut tree = Tree::new();
        apply(&mut tree, &[file("secret", b"keep")]).unwrap();
        let err = apply(&mut tree, &[file(name, b"")]).unwrap_err();
        assert!(matches!(err, ApplyError::WhiteoutName { .. }), "{name}: {err}");
        assert_eq!(content(&tree, "secret").unwrap(), "keep");
    }
}

#[test]
fn paths_through_symlinks_are_refused() {
    let mut tree = Tree::new();
    apply(&mut tree, &[("etc", b'5', "", b""), file("etc/passwd", b"real"), ("evil", b'2', "/etc", b"")]).unwrap();
    apply(&mut tree, &[("up", b'2', "../../..", b"")]).unwrap();
    let cases: [&[Member<'_>]; 5] = [
        &[file("evil/passwd", b"pwned")],
        &[file("evil/.wh.passwd", b"")],
        &[file("evil/.wh..wh..opq", b"")],
        &[("x", b'1', "evil/passwd", b"")],
        &[file("up/x", b"pwned")],
    ];
    for members in cases {
        let err = apply(&mut tree, members).unwrap_err();
        assert!(matches!(err, ApplyError::ThroughSymlink { .. }), "{:?}: {err}", members[0].0);
    }
    let err = apply(&mut tree, &[file("evil/passwd", b"pwned")]).unwrap_err();
    assert!(err.to_string().starts_with("layer member `evil/passwd` lies below `/evil`, a symlink to `/etc`"), "{err}");
    // The same within one layer.
    let err = apply(&mut Tree::new(), &[("lnk", b'2', "/", b""), file("lnk/etc/shadow", b"")]).unwrap_err();
    assert!(matches!(err, ApplyError::ThroughSymlink { .. }), "{err}");
    assert_eq!(content(&tree, "etc/passwd").unwrap(), "real");
}

#[test]
fn whiteouts_hide_lower_entries_only() {
    let mut tree = Tree::new();
    let lower = [
        ("a", b'5', "", &b""[..]),
        file("a/x", b"x"),
        file("a/sub/z", b"z"),
        file("b", b"b"),
        file("c", b"inode"),
        ("d", b'1', "c", b""),
        ("e", b'1', "c", b""),
    ];
    apply(&mut tree, &lower).unwrap();
    let upper = [file("a/new", b"same layer"), file("a/.wh..wh..opq", b""), file(".wh.b", b""), file(".wh.c", b"")];
    let stats = apply(&mut tree, &upper).unwrap();
    assert_eq!(stats.whiteouts, 3);
    let names: Vec<&str> = tree.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(names, ["", "a", "a/new", "d", "e"], "opaque a/ kept its same-layer child; b and c are gone");
    assert_eq!(content(&tree, "d").unwrap(), "inode", "the content moved to the first remaining link");
    assert!(matches!(&tree.get(&p("e")).unwrap().kind, Kind::Hardlink(t) if t.as_str() == "d"));
    // A whiteout of an entry of its own layer leaves it alone.
    apply(&mut tree, &[file("f", b"f"), file(".wh.f", b"")]).unwrap();
    assert_eq!(content(&tree, "f").unwrap(), "f");
}

#[test]
fn a_directory_replaces_a_symlink_instead_of_following_it() {
    let mut tree = Tree::new();
    apply(&mut tree, &[("usr/bin", b'5', "", b""), file("usr/bin/ls", b"ls"), ("bin", b'2', "usr/bin", b"")]).unwrap();
    apply(&mut tree, &[("bin", b'5', "", b""), file("bin/sh", b"sh")]).unwrap();
    assert!(tree.get(&p("bin")).unwrap().is_dir());
    assert_eq!(content(&tree, "bin/sh").unwrap(), "sh");
    assert!(tree.get(&p("usr/bin/sh")).is_none(), "nothing went through the old symlink");
}

/// A one-layer layout with exactly the given layer blob, descriptor and
/// diff id.
fn layout(dir: &Path, blob: &[u8], desc: Descriptor, diff_id: Digest) {
    fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    let put = |bytes: &[u8]| {
        let d = Digest::of(bytes);
        fs::write(dir.join("blobs/sha256").join(d.hex()), bytes).unwrap();
        Descriptor { digest: d, size: bytes.len() as u64, ..Descriptor::default() }
    };
    fs::write(dir.join("blobs/sha256").join(desc.digest.hex()), blob).unwrap();
    let config = ConfigFile {
        os: "linux".into(),
        architecture: "amd64".into(),
        rootfs: RootFs { kind: "layers".into(), diff_ids: vec![diff_id] },
        ..ConfigFile::default()
    };
    let config = Descriptor {
        media_type: "application/vnd.oci.image.config.v1+json".into(),
        ..put(&serde_json::to_vec(&config).unwrap())
    };
    let manifest = Manifest { schema_version: 2, config, layers: vec![desc], ..Manifest::default() };
    let manifest = Descriptor {
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        ..put(&serde_json::to_vec(&manifest).unwrap())
    };
    let index = Index { schema_version: 2, manifests: vec![manifest], ..Index::default() };
    fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

fn tar_desc(blob: &[u8]) -> Descriptor {
    Descriptor {
        media_type: MEDIA_TYPE_LAYER_TAR.into(),
        digest: Digest::of(blob),
        size: blob.len() as u64,
        ..Descriptor::default()
    }
}

fn unpack(dir: &Path) -> Result<Tree, ReadError> {
    let reader = ImageReader::open(dir)?;
    let image = reader.select(&Selector::default())?;
    let mut tree = Tree::new();
    image.apply(&mut tree, None)?;
    Ok(tree)
}

#[test]
fn blobs_are_verified_while_streaming() {
    let tmp = tempfile::tempdir().unwrap();
    let good = layer(&[file("etc/motd", b"hello")]);
    let evil = layer(&[file("etc/motd", b"pwned")]);
    assert_eq!(good.len(), evil.len());

    let ok = tmp.path().join("ok");
    layout(&ok, &good, tar_desc(&good), Digest::of(&good));
    assert_eq!(content(&unpack(&ok).unwrap(), "etc/motd").unwrap(), "hello");

    let wrong = tmp.path().join("wrong-digest");
    layout(&wrong, &evil, tar_desc(&good), Digest::of(&good));
    let err = unpack(&wrong).unwrap_err();
    let ReadError::Digest { blob, expected, got } = &err else { panic!("{err}") };
    assert_eq!(
        (blob.clone(), *expected, *got),
        (format!("layer {}", Digest::of(&good)), Digest::of(&good), Digest::of(&evil))
    );
    assert!(err.to_string().contains("hint:"), "{err}");

    let truncated = tmp.path().join("truncated");
    layout(&truncated, &good[..1000], tar_desc(&good), Digest::of(&good));
    let err = unpack(&truncated).unwrap_err();
    assert!(matches!(err, ReadError::Truncated { expected: 2048, got: 1000, .. }), "{err}");

    let long = tmp.path().join("too-long");
    let mut longer = good.clone();
    longer.extend_from_slice(&[0; 512]);
    layout(&long, &longer, tar_desc(&good), Digest::of(&good));
    assert!(matches!(unpack(&long).unwrap_err(), ReadError::TooLong { expected: 2048, .. }));

    // The blob is what the manifest says, but not what the config says.
    let diff = tmp.path().join("diff-id");
    layout(&diff, &evil, tar_desc(&evil), Digest::of(&good));
    assert!(matches!(unpack(&diff).unwrap_err(), ReadError::DiffId { .. }));

    // A hostile member inside a well-formed image.
    let dotdot = layer(&[file("../escape", b"")]);
    let hostile = tmp.path().join("hostile");
    layout(&hostile, &dotdot, tar_desc(&dotdot), Digest::of(&dotdot));
    let err = unpack(&hostile).unwrap_err();
    assert!(matches!(&err, ReadError::Apply { source: ApplyError::DotDot { .. }, .. }), "{err}");
}

#[test]
fn truncated_gzip_blobs_report_the_size_not_a_gzip_error() {
    let tmp = tempfile::tempdir().unwrap();
    let image = sample_image(Layering::Single);
    write_layout(&image, tmp.path()).unwrap();
    let desc = &image.manifest.layers[0];
    assert_eq!(desc.media_type, MEDIA_TYPE_LAYER_GZIP);
    let path = tmp.path().join("blobs/sha256").join(desc.digest.hex());
    let blob = fs::read(&path).unwrap();
    fs::write(&path, &blob[..blob.len() / 2]).unwrap();
    let err = unpack(tmp.path()).unwrap_err();
    assert!(matches!(&err, ReadError::Truncated { got, .. } if *got == blob.len() as u64 / 2), "{err}");
    assert!(err.to_string().starts_with(&format!("blob layer {} is truncated", desc.digest)), "{err}");
}

#[test]
fn tampered_configs_and_docker_layers_are_caught() {
    let tmp = tempfile::tempdir().unwrap();
    let image = sample_image(Layering::Single);
    let dir = tmp.path().join("layout");
    write_layout(&image, &dir).unwrap();
    let config = dir.join("blobs/sha256").join(image.config_digest().hex());
    let tampered = String::from_utf8(fs::read(&config).unwrap()).unwrap().replace("amd64", "arm64");
    fs::write(&config, tampered).unwrap();
    let reader = ImageReader::open(&dir).unwrap();
    let err = reader.select(&Selector::default()).unwrap_err();
    assert!(matches!(&err, ReadError::Digest { blob, .. } if blob.starts_with("config sha256:")), "{err}");

    // A docker-archive layer with one byte changed: the member name is
    // its digest, and the config's diff id says the same.
    let archive = tmp.path().join("docker.tar");
    write_docker_archive(&image, &archive).unwrap();
    let mut bytes = fs::read(&archive).unwrap();
    let at = bytes.windows(SCRIPT.len()).position(|w| w == SCRIPT).unwrap();
    bytes[at + 2] = b'X';
    fs::write(&archive, bytes).unwrap();
    let err = unpack(&archive).unwrap_err();
    assert!(matches!(&err, ReadError::Digest { blob, .. } if blob.ends_with(".tar")), "{err}");
}

#[test]
fn non_images_are_named_as_such() {
    let tmp = tempfile::tempdir().unwrap();
    let err = ImageReader::open(tmp.path()).unwrap_err();
    assert!(matches!(err, ReadError::NotAnImage { .. }), "{err}");
    let plain = tmp.path().join("plain.tar");
    fs::write(&plain, layer(&[file("hello", b"")])).unwrap();
    assert!(matches!(ImageReader::open(&plain).unwrap_err(), ReadError::NotAnImage { .. }));
}
