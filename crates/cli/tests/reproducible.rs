//! Reproducibility: nothing of the building host's environment reaches the
//! output, and the output epoch is the one asked for.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use common::{base_image, describe, sha256sum, shared_cache, tar_list_verbose, TestDir};

/// One cold build from an empty cache, with its own environment.
struct Env<'a> {
    umask: &'a str,
    tz: &'a str,
    lc_all: &'a str,
    lang: &'a str,
    /// Working directory, relative to the test dir.
    cwd: &'a str,
    /// `--out`, relative to `cwd`.
    out: &'a str,
}

fn spawn(dir: &TestDir, env: &Env<'_>) -> std::process::Child {
    let cwd = dir.join(env.cwd);
    std::fs::create_dir_all(&cwd).unwrap();
    let mut mr = dir.microroot();
    mr.current_dir(&cwd).env("TZ", env.tz).env("LC_ALL", env.lc_all).env("LANG", env.lang).args([
        "--json",
        "build",
        "--out",
        env.out,
        "--cache-dir",
        "cache",
    ]);
    // `sh -c 'umask …; exec microroot …'`: the umask applies to microroot.
    let inner = mr.command();
    let mut cmd = common::tool("sh", "dash");
    cmd.arg("-c")
        .arg(format!("umask {}; exec \"$0\" \"$@\"", env.umask))
        .arg(inner.get_program())
        .args(inner.get_args());
    cmd.current_dir(&cwd);
    for (key, value) in inner.get_envs() {
        match value {
            Some(v) => cmd.env(key, v),
            None => cmd.env_remove(key),
        };
    }
    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().expect("spawn sh")
}

/// The build's sha256 by sha256sum, checked against its `--json` summary.
fn digest(out: &Output, tarball: &Path) -> String {
    assert!(out.status.success(), "build failed:\n{}", describe(out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("--json prints JSON");
    let ours = sha256sum(tarball);
    assert_eq!(report["outputs"][0]["sha256"], ours.as_str(), "--json sha256 differs from sha256sum");
    let reported = report["outputs"][0]["path"].as_str().expect("output path");
    assert!(tarball.ends_with(reported), "--json names {reported}, the file is {}", tarball.display());
    ours
}

#[test]
fn host_environment_does_not_reach_the_output() {
    let dir = TestDir::new();
    let a = Env { umask: "022", tz: "UTC", lc_all: "C", lang: "C", cwd: "a", out: "out/dist" };
    let b = Env {
        umask: "077",
        tz: "Pacific/Kiritimati",
        lc_all: "C.UTF-8",
        lang: "de_DE.UTF-8",
        cwd: "elsewhere/deeper",
        out: "another-name",
    };
    // Both cold (empty caches of their own), run side by side.
    let (child_a, child_b) = (spawn(&dir, &a), spawn(&dir, &b));
    let (out_a, out_b) = (child_a.wait_with_output().unwrap(), child_b.wait_with_output().unwrap());
    let tar_a = dir.join("a/out/dist/rootfs.tar.xz");
    let tar_b = dir.join("elsewhere/deeper/another-name/rootfs.tar.xz");
    let (sha_a, sha_b) = (digest(&out_a, &tar_a), digest(&out_b, &tar_b));
    assert_eq!(sha_a, sha_b, "umask, TZ, locale, cache or paths changed the output");
    // The umasks did apply: they shaped the out dirs microroot created.
    let mode = |p: &str| std::fs::metadata(dir.join(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode("a/out/dist"), mode("elsewhere/deeper/another-name")), (0o755, 0o700));
    // Both caches were really filled from nothing.
    for cache in ["a/cache", "elsewhere/deeper/cache"] {
        assert!(common::files_below(&dir.join(cache)).len() >= 5, "{cache} was not used");
    }
    // And a warm build in the shared cache, with the test's own environment,
    // agrees with the cold ones.
    assert_eq!(base_image().sha256, sha_a, "warm and cold builds differ");
}

#[test]
fn source_date_epoch_sets_the_output_epoch() {
    // 2023-11-14 22:13:20 UTC: older than any package file in stable, so
    // every entry is clamped to it.
    const EPOCH: i64 = 1_700_000_000;
    const EPOCH_UTC: &str = "2023-11-14 22:13:20";
    let dir = TestDir::new();
    let stdout = dir
        .microroot()
        .env("SOURCE_DATE_EPOCH", EPOCH.to_string())
        .args(["--json", "build", "--out", "dist", "--cache-dir"])
        .arg(shared_cache())
        .stdout();
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["epoch"], EPOCH);
    let tarball = dir.join("dist/rootfs.tar.xz");
    assert_ne!(sha256sum(&tarball), base_image().sha256, "SOURCE_DATE_EPOCH did not change the output");

    // `--full-time` in UTC prints `YYYY-MM-DD HH:MM:SS`, which sorts as time.
    let time = |line: &str| line.split_whitespace().skip(3).take(2).collect::<Vec<_>>().join(" ");
    let listing = tar_list_verbose(&tarball);
    let max = listing.iter().map(|l| time(l)).max().expect("entries");
    assert_eq!(max, EPOCH_UTC);
    // Without it, the epoch is the suite's Release date, also the newest mtime.
    let default_epoch = base_image().report["epoch"].as_i64().expect("epoch in the report");
    assert!(default_epoch > EPOCH, "the suite's date {default_epoch} is older than {EPOCH}");
    let default_max = tar_list_verbose(&base_image().tarball).iter().map(|l| time(l)).max().unwrap();
    let date =
        common::run_ok(common::tool("date", "coreutils").args(["-u", "+%F %T", "-d"]).arg(format!("@{default_epoch}")));
    assert_eq!(default_max, String::from_utf8_lossy(&date.stdout).trim());
}

#[test]
fn a_bad_source_date_epoch_is_an_error() {
    let dir = TestDir::new();
    let err = dir
        .microroot()
        .env("SOURCE_DATE_EPOCH", "yesterday")
        .args(["build", "--out", "dist", "--cache-dir", "c"])
        .fails();
    assert!(err.contains("SOURCE_DATE_EPOCH") && err.contains("yesterday"), "{err}");
    common::assert_no_output(&dir.join("dist"));
}

#[test]
fn an_unchanged_build_is_up_to_date_and_anything_changed_rebuilds() {
    let dir = TestDir::new();
    let build = |epoch: Option<&str>| -> serde_json::Value {
        let mut mr = dir.microroot();
        if let Some(e) = epoch {
            mr.env("SOURCE_DATE_EPOCH", e);
        }
        let out = mr.args(["--json", "build", "--out", "dist", "--cache-dir"]).arg(shared_cache()).stdout();
        serde_json::from_str(&out).unwrap()
    };
    let first = build(None);
    assert_eq!(first["up_to_date"], false);
    let second = build(None);
    assert_eq!(second["up_to_date"], true, "{second}");
    assert_eq!(second["outputs"], first["outputs"]);
    let tarball = dir.join("dist/rootfs.tar.xz");
    assert_eq!(sha256sum(&tarball), first["outputs"][0]["sha256"].as_str().unwrap());

    // An output that was touched is written again, with the same bytes.
    std::fs::write(&tarball, b"changed").unwrap();
    let third = build(None);
    assert_eq!(third["up_to_date"], false);
    assert_eq!(sha256sum(&tarball), first["outputs"][0]["sha256"].as_str().unwrap());
    // Another epoch is another build.
    let fourth = build(Some("1700000000"));
    assert_eq!(fourth["up_to_date"], false);
    assert_ne!(sha256sum(&tarball), first["outputs"][0]["sha256"].as_str().unwrap());
}
