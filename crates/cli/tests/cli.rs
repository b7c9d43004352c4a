//! The command line around a build: `--help`, `completions`, `man`,
//! `inspect`, and the build's table and `--json` summary.

mod common;

use common::{base_image, run_ok, sha256sum, shared_cache, tool, TestDir};

const SUBCOMMANDS: &[&str] = &["build", "init", "lock", "inspect", "diff", "completions", "man"];

#[test]
fn help_lists_the_subcommands_and_global_flags() {
    let dir = TestDir::new();
    let help = dir.microroot().arg("--help").stdout();
    for sub in SUBCOMMANDS {
        assert!(help.lines().any(|l| l.trim_start().starts_with(&format!("{sub} "))), "--help lacks {sub}:\n{help}");
    }
    for flag in ["--json", "--quiet", "--verbose", "--cache-dir"] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
    let build = dir.microroot().args(["build", "--help"]).stdout();
    for flag in ["--out", "--arch", "--locked", "--offline", "[MANIFEST]"] {
        assert!(build.contains(flag), "build --help lacks {flag}:\n{build}");
    }
    let err = dir.microroot().arg("frobnicate").output();
    assert_eq!(err.status.code(), Some(2), "clap's usage error code");
}

#[test]
fn completions_bash_is_a_completion_script() {
    let dir = TestDir::new();
    let script = dir.microroot().args(["completions", "bash"]).stdout();
    assert!(script.contains("_microroot()"), "{script}");
    assert!(script.contains("complete -F _microroot"), "{script}");
    for sub in SUBCOMMANDS {
        assert!(script.contains(sub), "completion lacks {sub}");
    }
    // bash itself accepts it.
    let file = dir.write("microroot.bash", &script);
    run_ok(tool("bash", "bash").arg("-n").arg(&file));
}

#[test]
fn man_writes_the_pages() {
    let dir = TestDir::new();
    dir.microroot().args(["man", "--out", "pages"]).stdout();
    let page = std::fs::read_to_string(dir.join("pages/microroot.1")).expect("microroot.1 written");
    assert!(page.contains(".TH microroot 1"), "{page}");
    for sub in SUBCOMMANDS {
        assert!(dir.join(format!("pages/microroot-{sub}.1")).is_file(), "no page for {sub}");
    }
}

#[test]
fn inspect_shows_size_by_package_and_by_directory() {
    let dir = TestDir::new();
    let tarball = &base_image().tarball;
    let text = dir.microroot().arg("inspect").arg(tarball).stdout();
    let section = |name: &str| -> Vec<String> {
        text.lines()
            .skip_while(|l| *l != name)
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .map(|l| l.split_whitespace().last().unwrap_or_default().to_owned())
            .collect()
    };
    let packages = section("by package:");
    assert_eq!(packages.first().map(String::as_str), Some("libc6"), "libc6 is the largest:\n{text}");
    for name in ["busybox", "libgcc-s1"] {
        assert!(packages.iter().any(|p| p == name), "{name} missing:\n{text}");
    }
    let dirs = section("by directory:");
    assert!(dirs.iter().any(|d| d == "/usr/lib"), "{text}");
    assert!(dirs.iter().any(|d| d == "/usr/bin"), "{text}");
    assert!(!section("largest files:").is_empty(), "{text}");

    let json: serde_json::Value =
        serde_json::from_str(&dir.microroot().args(["--json", "inspect"]).arg(tarball).stdout()).expect("valid JSON");
    assert_eq!(json["by_package"][0][0], "libc6");
    assert_eq!(json["compressed_bytes"], std::fs::metadata(tarball).unwrap().len());
    let entries = json["entries"].as_array().unwrap();
    assert_eq!(entries.len(), common::tar_list(tarball).len(), "inspect and GNU tar disagree on the entry count");
    let shadow = entries.iter().find(|e| e["path"] == "/etc/shadow").expect("/etc/shadow");
    assert_eq!(shadow["mode"], 0o640);

    let err = dir.microroot().arg("inspect").arg(dir.write("junk.tar.xz", "not xz")).fails();
    assert!(err.contains("junk.tar.xz") && err.contains("hint: "), "{err}");
}

#[test]
fn build_json_summary_is_valid_and_complete() {
    let image = base_image();
    let r = &image.report;
    for key in ["image", "suite", "codename", "arch", "epoch", "entries", "content_bytes", "seconds"] {
        assert!(!r[key].is_null(), "no {key} in {r}");
    }
    assert_eq!(r["image"], "microroot-base");
    assert_eq!(r["arch"], "amd64");
    let outputs = r["outputs"].as_array().unwrap();
    // The tarball, then the SBOMs (SPDX, CycloneDX) that every build writes.
    let formats: Vec<&str> = outputs.iter().map(|o| o["format"].as_str().unwrap()).collect();
    assert_eq!(formats, ["tar.xz", "spdx", "cyclonedx"]);
    assert_eq!(outputs[0]["sha256"], image.sha256.as_str());
    let owners: Vec<&str> = r["packages"].as_array().unwrap().iter().map(|p| p["owner"].as_str().unwrap()).collect();
    for name in ["busybox", "libc6", "libgcc-s1", "microroot"] {
        assert!(owners.contains(&name), "{name} not in {owners:?}");
    }
    let bytes: u64 = r["packages"].as_array().unwrap().iter().map(|p| p["bytes"].as_u64().unwrap()).sum();
    assert_eq!(r["content_bytes"], bytes, "package sizes do not add up to the total");
}

#[test]
fn build_table_lists_every_package_and_the_output() {
    let dir = TestDir::new();
    let table = dir.microroot().args(["build", "--out", "out/dist", "--cache-dir"]).arg(shared_cache()).stdout();
    let lines: Vec<&str> = table.lines().collect();
    let codename = base_image().report["codename"].as_str().unwrap();
    assert!(lines[0].starts_with(&format!("microroot-base — Debian stable ({codename}), amd64, epoch ")), "{table}");
    assert_eq!(lines[1].split_whitespace().collect::<Vec<_>>(), ["package", "version", "entries", "size"]);
    for p in base_image().report["packages"].as_array().unwrap() {
        let owner = p["owner"].as_str().unwrap();
        let version = p["version"].as_str().unwrap_or("-");
        assert!(
            lines.iter().any(|l| l.split_whitespace().take(2).eq([owner, version])),
            "no row for {owner} {version}:\n{table}"
        );
    }
    assert!(lines.iter().any(|l| l.trim_start().starts_with("total ")), "{table}");
    let sha = sha256sum(&dir.join("out/dist/rootfs.tar.xz"));
    let output = lines.iter().find(|l| l.starts_with("out/dist/rootfs.tar.xz  ")).expect("an output line");
    assert!(output.ends_with(&format!("  sha256:{sha}")), "{output}");
    assert_eq!(sha, base_image().sha256);
}
