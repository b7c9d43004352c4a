//! Runtime bundles: the rootfs on disk, `config.json` against what
//! `runc spec` generates, and a real run under runc and crun with a
//! static BusyBox as `/bin/sh`.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use microroot_oci::{write_bundle, BundleError, BundleSpec, ImageConfig};
use microroot_tree::{Kind, Tree};
use serde_json::Value;

const BUSYBOX: &str = "/bin/busybox";
const SCRIPT_ARG: &str = "echo hello from the bundle; echo \"$(pwd) $(busybox hostname) $GREETING\"; exit 3";

/// A tree with the host's static BusyBox as `/bin/sh`, plus a device node
/// and a fifo to see how the bundle treats them.
fn busybox_tree() -> Tree {
    let bytes = fs::read(BUSYBOX).unwrap_or_else(|e| {
        panic!("cannot read {BUSYBOX} ({e}); this test runs a static BusyBox\nhint: apt-get install busybox-static")
    });
    let mut tree = sample_tree();
    for dir in ["dev", "proc", "sys", "root", "run"] {
        put(&mut tree, dir, entry(0o755, Kind::Dir, None));
    }
    // `bin` is a symlink to usr/bin in the sample, as on merged-/usr systems.
    put(&mut tree, "usr/bin/busybox", entry(0o755, Kind::File(bytes.into()), Some("busybox-static")));
    put(&mut tree, "usr/bin/sh", entry(0o777, Kind::Symlink("busybox".into()), Some("busybox-static")));
    put(&mut tree, "dev/null", entry(0o666, Kind::CharDev { major: 1, minor: 3 }, None));
    put(&mut tree, "run/fifo", entry(0o620, Kind::Fifo, None));
    tree
}

fn spec(rootless: bool) -> BundleSpec {
    let config = ImageConfig {
        entrypoint: vec!["/bin/sh".into(), "-c".into()],
        cmd: vec![SCRIPT_ARG.into()],
        env: vec!["GREETING=hi".into()],
        working_dir: Some("/home/user".into()),
        ..ImageConfig::default()
    };
    BundleSpec { hostname: "box".into(), rootless, ..BundleSpec::from_image(&config, 0, 0) }
}

fn config_json(bundle: &Path) -> Value {
    serde_json::from_slice(&fs::read(bundle.join("config.json")).unwrap()).unwrap()
}

#[test]
fn the_rootfs_is_materialized_with_modes_links_and_times() {
    let tmp = tempfile::tempdir().unwrap();
    let report = write_bundle(&busybox_tree(), &spec(false), tmp.path()).unwrap();
    assert_eq!((report.skipped_devices, report.fifos, report.hardlinks), (1, 1, 2));
    let root = tmp.path().join("rootfs");
    let meta = |p: &str| fs::symlink_metadata(root.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    assert_eq!(fs::read(root.join("usr/bin/hello")).unwrap(), SCRIPT);
    assert_eq!(meta("usr/bin/hello").permissions().mode() & 0o7777, 0o755);
    assert_eq!(meta("usr/bin/su").permissions().mode() & 0o7777, 0o4755);
    assert_eq!(meta("tmp").permissions().mode() & 0o7777, 0o1777);
    assert_eq!(meta("usr/bin/aaa-hello").ino(), meta("usr/bin/hello").ino());
    assert_eq!(fs::read_link(root.join("bin")).unwrap(), Path::new("usr/bin"));
    assert!(meta("run/fifo").file_type().is_fifo());
    assert!(!root.join("dev/null").exists(), "devices are the runtime's job");
    assert_eq!(fs::read_to_string(root.join(LONG_PATH)).unwrap(), "a long way down\n");
    for p in ["etc", "usr/bin", "usr/bin/hello", "bin", "tmp"] {
        assert_eq!(meta(p).mtime(), EPOCH, "{p}");
    }
    if report.chowned {
        assert_eq!((meta("home/user/notes").uid(), meta("home/user/notes").gid()), (1000, 1000));
    }
    let again = write_bundle(&busybox_tree(), &spec(false), tmp.path()).unwrap_err();
    assert!(matches!(again, BundleError::Exists { .. }), "{again}");
}

#[test]
fn bad_specs_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = Tree::new();
    let none = BundleSpec { args: vec![], ..spec(false) };
    assert!(matches!(write_bundle(&tree, &none, tmp.path()), Err(BundleError::NoArgs)));
    let user = BundleSpec { uid: 1000, ..spec(true) };
    assert!(matches!(write_bundle(&tree, &user, tmp.path()), Err(BundleError::RootlessUser { .. })));
}

/// Every key path of `want` (arrays by their first element), as `a.b.c`.
fn key_paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let path = format!("{prefix}.{k}");
                out.insert(path.clone());
                key_paths(v, &path, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| key_paths(item, &format!("{prefix}[]"), out)),
        _ => {}
    }
}

fn runc_spec(rootless: bool) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = tool("runc", "runc");
    cmd.args(["spec", "--bundle", path_str(dir.path())]);
    if rootless {
        cmd.arg("--rootless");
    }
    run(&mut cmd);
    config_json(dir.path())
}

#[test]
fn config_json_has_what_runc_spec_generates() {
    for rootless in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        write_bundle(&busybox_tree(), &spec(rootless), tmp.path()).unwrap();
        let (ours, runc) = (config_json(tmp.path()), runc_spec(rootless));
        let (mut want, mut got) = (BTreeSet::new(), BTreeSet::new());
        key_paths(&runc, "", &mut want);
        key_paths(&ours, "", &mut got);
        let missing: Vec<_> = want.difference(&got).collect();
        assert!(missing.is_empty(), "rootless={rootless}: keys of `runc spec` missing: {missing:?}");
        for key in ["mounts", "linux"] {
            assert_eq!(ours[key], runc[key], "rootless={rootless}: `{key}` differs from runc spec");
        }
        let process = &ours["process"];
        assert_eq!(process["args"], serde_json::json!(["/bin/sh", "-c", SCRIPT_ARG]));
        assert_eq!(process["terminal"], false);
        assert_eq!(process["cwd"], "/home/user");
        assert_eq!(process["capabilities"], runc["process"]["capabilities"]);
        assert_eq!(ours["root"], serde_json::json!({"path": "rootfs", "readonly": false}));
        assert_eq!(ours["hostname"], "box");
        assert!(ours["linux"].get("cgroupsPath").is_none());
    }
}

static RUNS: AtomicUsize = AtomicUsize::new(0);

fn container_id() -> String {
    format!("microroot-oci-test-{}-{}", std::process::id(), RUNS.fetch_add(1, Ordering::SeqCst))
}

fn bundle(rootless: bool) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bundle");
    write_bundle(&busybox_tree(), &spec(rootless), &dir).unwrap();
    (tmp, dir)
}

/// Runs the runtime and checks what the container printed and returned.
fn assert_ran(out: &Output, what: &str) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{what}: exit status {}\nstdout:\n{stdout}\nstderr:\n{stderr}", out.status);
    assert_eq!(stdout, "hello from the bundle\n/home/user box hi\n", "{what}\nstderr:\n{stderr}");
}

#[test]
fn runc_runs_the_bundle() {
    for rootless in [false, true] {
        let (_tmp, dir) = bundle(rootless);
        let out = tool("runc", "runc").args(["run", "--bundle", path_str(&dir), &container_id()]).output().unwrap();
        assert_ran(&out, &format!("runc run (rootless={rootless})"));
    }
}

/// crun 1.8 refuses hybrid cgroup hosts whose v2 hierarchy has controllers
/// ("cgroups in hybrid mode not supported, drop all controllers from
/// cgroupv2"). On such a host the run is repeated in a private mount
/// namespace without `/sys/fs/cgroup/unified`, where crun sees plain v1;
/// the host itself is left as it is.
fn crun(dir: &Path) -> Output {
    let id = container_id();
    let out = tool("crun", "crun").args(["run", "--bundle", path_str(dir), &id]).output().unwrap();
    let hybrid = String::from_utf8_lossy(&out.stderr).contains("cgroups in hybrid mode not supported");
    if !hybrid {
        return out;
    }
    eprintln!("crun refuses this host's hybrid cgroups; running it with the unified hierarchy unmounted in a private mount namespace");
    let script = format!("umount /sys/fs/cgroup/unified && exec crun run --bundle '{}' '{id}'", path_str(dir));
    Command::new("unshare").args(["--mount", "--propagation", "private", "sh", "-c", &script]).output().unwrap()
}

#[test]
fn crun_runs_the_bundle() {
    for rootless in [false, true] {
        let (_tmp, dir) = bundle(rootless);
        assert_ran(&crun(&dir), &format!("crun run (rootless={rootless})"));
    }
}
