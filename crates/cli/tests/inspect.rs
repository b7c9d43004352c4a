//! `microroot inspect` and `microroot diff` on real builds: one image
//! written as tar.zst, ext4 and a full cpio.gz initramfs reads back to the
//! same sizes by package and by directory in every format; a diff names an
//! added package and its files; the `--html` page renders in headless
//! Chromium (Debian's `chromium`) with a treemap labelled by package.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{describe, run_ok, shared_cache, shared_root, tool, Microroot};
use serde_json::Value;

/// Builds `manifest` (TOML text) once per test binary into
/// `<shared>/inspect-<name>/out`.
fn build(name: &str, manifest: &str) -> PathBuf {
    let dir = shared_root().join(format!("inspect-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("m.toml"), manifest).unwrap();
    Microroot::new(&dir).arg("--cache-dir").arg(shared_cache()).args(["-q", "build", "m.toml", "-o", "out"]).stdout();
    dir.join("out")
}

/// busybox + libc6 as tar.zst, ext4 and a full initramfs: the same tree
/// three times (`initramfs = "full"` puts the whole image in the cpio).
fn all_formats() -> &'static Path {
    static OUT: OnceLock<PathBuf> = OnceLock::new();
    OUT.get_or_init(|| {
        build(
            "all",
            r#"
[image]
name = "inspect-all"
[packages]
include = ["busybox", "libc6"]
[config]
entrypoint = ["/bin/sh", "-c", "true"]
[output]
formats = ["tar.zst", "ext4", "cpio.gz"]
initramfs = "full"
"#,
        )
    })
}

fn inspect_json(path: &Path) -> Value {
    let dir = common::TestDir::new();
    let out = dir.microroot().args(["--json", "inspect"]).arg(path).stdout();
    serde_json::from_str(&out).expect("inspect --json prints JSON")
}

#[test]
fn every_format_gives_the_same_sizes_by_package_and_directory() {
    let out = all_formats();
    let tar = inspect_json(&out.join("rootfs.tar.zst"));
    assert_eq!(tar["format"], "tar.zst");
    assert_eq!(tar["by_package"][0][0], "libc6", "{}", tar["by_package"]);
    for (file, format) in [("rootfs.ext4", "ext4"), ("initramfs.cpio.gz", "cpio.gz")] {
        let other = inspect_json(&out.join(file));
        assert_eq!(other["format"], format);
        for key in ["total_bytes", "by_package", "by_directory", "versions"] {
            assert_eq!(other[key], tar[key], "{file}: {key} differs from the tarball's");
        }
        // What differs is only what a format cannot hold: ext4 adds lost+found.
        let extra = usize::from(format == "ext4");
        let count = |v: &Value| v["entries"].as_array().unwrap().len();
        assert_eq!(count(&other), count(&tar) + extra, "{file}: entries");
    }
    let text = common::TestDir::new().microroot().arg("inspect").arg(out.join("rootfs.ext4")).stdout();
    assert!(text.starts_with(&format!("{} (ext4): ", out.join("rootfs.ext4").display())), "{text}");
    assert!(text.contains("by package:\n") && text.contains("  libc6\n"), "{text}");
}

#[test]
fn diff_names_an_added_package_and_its_files() {
    let manifest = |packages: &str| {
        format!("[image]\nname = \"inspect\"\n[packages]\ninclude = [{packages}]\n[output]\nformats = [\"tar.xz\"]\n")
    };
    let a = build("busybox", &manifest(r#""busybox", "libc6""#)).join("rootfs.tar.xz");
    let b = build("zlib", &manifest(r#""busybox", "libc6", "zlib1g""#)).join("rootfs.tar.xz");
    let dir = common::TestDir::new();
    let json: Value =
        serde_json::from_str(&dir.microroot().args(["--json", "diff"]).arg(&a).arg(&b).stdout()).expect("JSON");
    assert_eq!(json["same"], false);
    let added: Vec<&str> =
        json["packages"]["added"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(added, ["zlib1g"], "{}", json["packages"]);
    let zlib_version = json["packages"]["added"][0]["to"].as_str().unwrap();
    assert!(json["packages"]["removed"].as_array().unwrap().is_empty());
    let zlib_files: Vec<&Value> =
        json["files"]["added"].as_array().unwrap().iter().filter(|f| f["package"] == "zlib1g").collect();
    assert!(zlib_files.iter().any(|f| f["path"].as_str().unwrap().contains("/libz.so.1")), "{zlib_files:?}");
    for f in zlib_files.iter().filter(|f| f["kind_b"] == "file") {
        assert_eq!(f["sha256_b"].as_str().map(str::len), Some(64), "{f}");
    }
    assert!(json["size_delta"].as_i64().unwrap() > 50_000, "libz is ~100 kB: {}", json["size_delta"]);

    let text = dir.microroot().arg("diff").arg(&a).arg(&b).arg("--html").arg(dir.join("diff.html")).stdout();
    assert!(text.contains(&format!("  + zlib1g {zlib_version}  (+")), "{text}");
    assert!(text.contains("  + /usr/lib/x86_64-linux-gnu/libz.so.1"), "{text}");
    let last = text.lines().last().unwrap();
    assert!(last.starts_with("1 package added, 0 removed, 0 changed; ") && last.contains(" (+"), "{last}");
    let page = std::fs::read_to_string(dir.join("diff.html")).unwrap();
    assert!(page.contains("Packages added") && page.contains("zlib1g"), "diff page");

    let (removed, changed) = (&json["files"]["removed"], &json["files"]["changed"]);
    assert!(removed.as_array().unwrap().is_empty(), "{removed}");
    let changed: Vec<&str> = changed.as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert!(changed.iter().all(|p| p.starts_with("/var/lib/dpkg/") || p.starts_with("/etc/")), "{changed:?}");

    // The same image in two formats: no differences, exit status 0.
    let tar = all_formats().join("rootfs.tar.zst");
    let same = dir.microroot().arg("diff").arg(&tar).arg(all_formats().join("rootfs.ext4")).stdout();
    assert!(same.contains("no differences\n0 packages added"), "{same}");
}

fn chromium(args: &[&str], page: &Path, profile: &Path) -> std::process::Output {
    let mut cmd = tool("chromium", "chromium");
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1200,800",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(args)
    .arg(format!("file://{}", page.display()));
    run_ok(&mut cmd)
}

#[test]
fn the_html_page_renders_a_treemap_in_headless_chromium() {
    let dir = common::TestDir::new();
    let image = all_formats().join("rootfs.ext4");
    let page = dir.join("report.html");
    dir.microroot().arg("inspect").arg(&image).arg("--html").arg(&page).stdout();
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("https://") && !html.contains("http://"), "no external resources");
    let again = dir.join("again.html");
    dir.microroot().args(["-q", "inspect"]).arg(&image).arg("--html").arg(&again).stdout();
    assert_eq!(std::fs::read(&again).unwrap(), html.as_bytes(), "deterministic");

    let shot = dir.join("shot.png");
    let out = chromium(&[&format!("--screenshot={}", shot.display())], &page, &dir.join("profile-1"));
    let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot ({e}):\n{}", describe(&out)));
    assert!(!png.is_empty());
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut pixels).expect("a frame");
    let px = info.color_type.samples();
    let colors: std::collections::BTreeSet<&[u8]> = pixels[..info.buffer_size()].chunks(px).collect();
    assert!(colors.len() > 20, "the screenshot is (nearly) one colour: {} colours", colors.len());

    let largest = inspect_json(&image)["by_package"][0][0].as_str().unwrap().to_owned();
    let out = chromium(&["--dump-dom", "--virtual-time-budget=5000"], &page, &dir.join("profile-2"));
    let dom = String::from_utf8_lossy(&out.stdout);
    let map = dom.split("id=\"treemap\"").nth(1).expect("the treemap element").split("id=\"tip\"").next().unwrap();
    let label = format!("<span class=\"name\">{largest}</span>");
    assert!(
        map.contains("class=\"pkg\"") && map.contains(&label),
        "no rendered label {label} in the treemap:\n{map:.2000}"
    );
}
