//! Builds the static `microroot-init` with a nested cargo.
//!
//! The binary is for the image, not for this build: it is compiled for
//! `x86_64-unknown-linux-gnu` with `+crt-static`, `no_std` (the
//! `microroot_init_static` cfg), `panic=abort`, `opt-level=z`, fat LTO and
//! stripped symbols. An explicit `--target` keeps those flags away from
//! build scripts, and a target directory inside `OUT_DIR` keeps the nested
//! cargo from waiting on the outer one's lock.
//!
//! `MICROROOT_INIT_BIN=/path/to/microroot-init` embeds a prebuilt binary
//! instead (for hosts that cannot build it). On any other host than
//! x86_64 Linux the blob is empty and `binary()` returns `None`.

use std::env;
use std::ffi::OsString;
use std::fs;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const TARGET: &str = "x86_64-unknown-linux-gnu";

/// Rust flags of the static build, `\x1f`-separated as in
/// `CARGO_ENCODED_RUSTFLAGS`.
const RUSTFLAGS: [&str; 3] = ["-Ctarget-feature=+crt-static", "--cfg", "microroot_init_static"];

/// Release-profile settings, as `CARGO_PROFILE_RELEASE_*` variables.
const PROFILE: [(&str, &str); 8] = [
    ("OPT_LEVEL", "z"),
    ("LTO", "fat"),
    ("CODEGEN_UNITS", "1"),
    ("PANIC", "abort"),
    ("STRIP", "symbols"),
    ("DEBUG", "false"),
    ("DEBUG_ASSERTIONS", "false"),
    ("OVERFLOW_CHECKS", "false"),
];

/// Variables of the outer build that would change or break the nested one.
fn is_outer_variable(name: &str) -> bool {
    const PREFIXES: [&str; 4] = ["CARGO_PROFILE_", "CARGO_BUILD_", "CARGO_TARGET_", "CLIPPY_"];
    const NAMES: [&str; 6] = [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_INCREMENTAL",
        "CARGO_PRIMARY_PACKAGE",
        "__CARGO_FIX_PLZ",
    ];
    PREFIXES.iter().any(|p| name.starts_with(p)) || NAMES.contains(&name)
}

fn main() {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir.parent().and_then(Path::parent).expect("crates/init-blob in a workspace");
    let blob = out_dir.join("microroot-init");

    println!("cargo:rerun-if-env-changed=MICROROOT_INIT_BIN");
    for path in ["crates/init/src", "crates/init/Cargo.toml", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", workspace.join(path).display());
    }

    if let Some(prebuilt) = env::var_os("MICROROOT_INIT_BIN") {
        fs::copy(&prebuilt, &blob)
            .unwrap_or_else(|e| panic!("cannot copy MICROROOT_INIT_BIN={}: {e}", Path::new(&prebuilt).display()));
        return;
    }
    let host = env::var("HOST").unwrap_or_default();
    if host != TARGET {
        println!(
            "cargo:warning=microroot-init is only built on {TARGET} (this host is {host}); \
             set MICROROOT_INIT_BIN to embed a prebuilt one"
        );
        fs::write(&blob, b"").expect("write empty blob");
        return;
    }
    build(workspace, &out_dir.join("target"));
    let built = out_dir.join("target").join(TARGET).join("release").join("microroot-init");
    fs::copy(&built, &blob).unwrap_or_else(|e| panic!("cannot copy {}: {e}", built.display()));
}

fn build(workspace: &Path, target_dir: &Path) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args(["build", "--release", "--locked", "--package", "microroot-init", "--bin", "microroot-init"])
        .args(["--target", TARGET, "--manifest-path"])
        .arg(workspace.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    if env::var("CARGO_NET_OFFLINE").is_ok_and(|v| v == "true" || v == "1") {
        command.arg("--offline");
    }
    for (name, _) in env::vars_os() {
        if name.to_str().is_some_and(is_outer_variable) {
            command.env_remove(name);
        }
    }
    command.env("CARGO_ENCODED_RUSTFLAGS", RUSTFLAGS.join("\x1f"));
    for (key, value) in PROFILE {
        command.env(format!("CARGO_PROFILE_RELEASE_{key}"), value);
    }
    // Anything on stdout would be read as build-script directives.
    command.stdout(Stdio::from(std::io::stderr().as_fd().try_clone_to_owned().expect("dup stderr")));
    let status = command.status().unwrap_or_else(|e| panic!("cannot run cargo for microroot-init: {e}"));
    assert!(
        status.success(),
        "building the static microroot-init failed ({status}); see the output above\n\
         hint: it needs the x86_64-unknown-linux-gnu target and glibc's static libraries (libc6-dev)"
    );
}
