//! Test harness for the `microroot` binary, in the style of ripgrep's
//! tests/util.rs: a temp directory per test plus a command builder that runs
//! the real binary in it, and helpers around the real reference tools (GNU
//! tar, xz, sha256sum, unshare/chroot).
//!
//! Builds go to the real Debian mirror named by the host's apt sources.
//! One cache is shared by every test that does not look at cache contents:
//! `target/tmp/microroot-cli-tests/cache`, warm across test binaries and
//! runs (entries are content-addressed and re-hashed on every read, and the
//! `InRelease` is fetched afresh by every online build, so a warm cache
//! cannot hide a stale suite). Each test binary builds the default image
//! into it once ([`base_image`]).
#![allow(dead_code)] // each test binary uses a different subset

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Where shared, reusable state lives: below cargo's per-target temp dir.
pub fn shared_root() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("microroot-cli-tests")
}

/// The cache shared by tests that only need packages, not a clean cache.
pub fn shared_cache() -> PathBuf {
    shared_root().join("cache")
}

/// A temp directory that is a test's working directory.
pub struct TestDir {
    dir: tempfile::TempDir,
}

impl TestDir {
    pub fn new() -> TestDir {
        TestDir { dir: tempfile::Builder::new().prefix("microroot-cli-").tempdir().expect("temp dir") }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes `contents` to `rel` (creating parents) and returns its path.
    pub fn write(&self, rel: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.join(rel);
        std::fs::create_dir_all(path.parent().expect("has parent")).expect("create parent");
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    }

    /// `microroot` with this directory as working directory.
    pub fn microroot(&self) -> Microroot {
        Microroot::new(self.path())
    }
}

/// A `microroot` invocation with a clean, test-owned environment: no
/// inherited cache dir, epoch or log settings, colour off, and the default
/// cache location pointed into the working directory so that a test that
/// forgets `--cache-dir` cannot touch the user's cache.
pub struct Microroot {
    cmd: Command,
}

impl Microroot {
    pub fn new(cwd: &Path) -> Microroot {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_microroot"));
        cmd.current_dir(cwd)
            .env_remove("MICROROOT_CACHE_DIR")
            .env_remove("SOURCE_DATE_EPOCH")
            .env_remove("MICROROOT_LOG")
            .env("XDG_CACHE_HOME", cwd.join(".xdg-cache"))
            .env("NO_COLOR", "1");
        Microroot { cmd }
    }

    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Microroot {
        self.cmd.arg(arg);
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&mut self, args: I) -> &mut Microroot {
        self.cmd.args(args);
        self
    }

    pub fn env(&mut self, key: &str, value: impl AsRef<OsStr>) -> &mut Microroot {
        self.cmd.env(key, value);
        self
    }

    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Microroot {
        self.cmd.current_dir(dir);
        self
    }

    /// The underlying command, e.g. to wrap it in a shell.
    pub fn command(&mut self) -> &mut Command {
        &mut self.cmd
    }

    pub fn output(&mut self) -> Output {
        self.cmd.output().expect("run microroot")
    }

    /// Runs and asserts success; returns stdout.
    pub fn stdout(&mut self) -> String {
        let out = self.output();
        assert!(out.status.success(), "{:?} failed:\n{}", self.cmd, describe(&out));
        String::from_utf8(out.stdout).expect("stdout is UTF-8")
    }

    /// Runs and asserts failure; returns stderr.
    pub fn fails(&mut self) -> String {
        let out = self.output();
        assert!(!out.status.success(), "{:?} succeeded but should have failed:\n{}", self.cmd, describe(&out));
        assert_eq!(out.status.code(), Some(1), "expected exit code 1:\n{}", describe(&out));
        String::from_utf8(out.stderr).expect("stderr is UTF-8")
    }
}

pub fn describe(out: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A reference tool; fails the test (never skips it) naming the Debian
/// package to install when it is missing.
pub fn tool(name: &str, package: &str) -> Command {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|dir| dir.join(name).is_file()))
        .unwrap_or(false);
    assert!(found, "`{name}` is not installed; this test needs it: apt-get install {package} (scripts/test.sh does)");
    Command::new(name)
}

/// Runs a reference tool and asserts success.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed:\n{}", describe(&out));
    out
}

/// GNU tar, checked to be GNU tar.
pub fn gnu_tar() -> Command {
    let version = run_ok(tool("tar", "tar").arg("--version"));
    assert!(String::from_utf8_lossy(&version.stdout).contains("GNU tar"), "`tar` is not GNU tar: apt-get install tar");
    // -J runs xz.
    tool("xz", "xz-utils");
    tool("tar", "tar")
}

/// `tar -tf` of an archive (compression detected by tar): member names.
pub fn tar_list(archive: &Path) -> Vec<String> {
    let out = run_ok(gnu_tar().arg("-tf").arg(archive));
    String::from_utf8(out.stdout).expect("UTF-8 names").lines().map(str::to_owned).collect()
}

/// `tar -tvf --full-time` in UTC: one line per member.
pub fn tar_list_verbose(archive: &Path) -> Vec<String> {
    let out = run_ok(gnu_tar().env("TZ", "UTC").args(["--full-time", "-tvf"]).arg(archive));
    String::from_utf8(out.stdout).expect("UTF-8 listing").lines().map(str::to_owned).collect()
}

/// Extracts an archive with GNU tar into `dir` (created).
pub fn extract(archive: &Path, dir: &Path) {
    std::fs::create_dir_all(dir).expect("create extraction dir");
    run_ok(gnu_tar().arg("-xf").arg(archive).arg("-C").arg(dir));
}

/// sha256 of a file by coreutils' sha256sum: independent of microroot.
pub fn sha256sum(path: &Path) -> String {
    let out = run_ok(tool("sha256sum", "coreutils").arg(path));
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let hex = text.split_whitespace().next().expect("a digest").to_owned();
    assert_eq!(hex.len(), 64, "sha256sum printed {text:?}");
    hex
}

/// The host's primary Debian mirror, from its apt sources (as microroot
/// finds it by default).
pub fn host_mirror() -> String {
    let sources = microroot_debian::sources::host_sources().expect("read the host's apt sources");
    microroot_debian::sources::primary_mirror(&sources)
        .expect("the host's apt sources name a Debian mirror")
        .uri
        .trim_end_matches('/')
        .to_owned()
}

/// Asserts that a failed build left nothing: the out dir is absent or empty.
pub fn assert_no_output(out: &Path) {
    if let Ok(dir) = std::fs::read_dir(out) {
        let left: Vec<_> = dir.map(|e| e.expect("dir entry").path()).collect();
        assert!(left.is_empty(), "a failed build left files in {}: {left:?}", out.display());
    }
}

/// Every file below `dir`, relative, sorted (empty when `dir` is absent).
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).expect("below root").to_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The default image, built once per test binary with `--json` into the
/// shared cache.
pub struct BaseImage {
    pub tarball: PathBuf,
    pub sha256: String,
    /// The `--json` summary of the build.
    pub report: serde_json::Value,
}

pub fn base_image() -> &'static BaseImage {
    static IMAGE: OnceLock<BaseImage> = OnceLock::new();
    IMAGE.get_or_init(|| {
        // One directory per test binary (`<binary>::common`), replaced each run.
        let name = module_path!().split("::").next().expect("crate name");
        let dir = shared_root().join(format!("image-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create image dir");
        let stdout =
            Microroot::new(&dir).args(["--json", "build", "--out", "dist", "--cache-dir"]).arg(shared_cache()).stdout();
        let report: serde_json::Value = serde_json::from_str(&stdout).expect("build --json prints JSON");
        let tarball = dir.join("dist/rootfs.tar.xz");
        assert!(tarball.is_file(), "the build did not write {}", tarball.display());
        let sha256 = sha256sum(&tarball);
        BaseImage { tarball, sha256, report }
    })
}

/// How commands are run inside an extracted rootfs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runner {
    /// `unshare --user --map-root-user --root=DIR`: no privileges needed.
    Unshare,
    /// `chroot DIR`: needs root.
    Chroot,
}

impl Runner {
    fn command(self, root: &Path) -> Command {
        let mut cmd = match self {
            Runner::Unshare => {
                let mut c = Command::new("unshare");
                c.args(["--user", "--map-root-user"]).arg(format!("--root={}", root.display()));
                c
            }
            Runner::Chroot => {
                let mut c = Command::new("chroot");
                c.arg(root);
                c
            }
        };
        cmd.env_clear().env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin").env("HOME", "/root");
        cmd
    }

    fn package(self) -> &'static str {
        match self {
            Runner::Unshare => "util-linux",
            Runner::Chroot => "coreutils",
        }
    }

    /// The first way that works here, probed once on `root` (an extracted
    /// image). Fails the test when neither does.
    pub fn detect(root: &Path) -> Runner {
        static RUNNER: OnceLock<Runner> = OnceLock::new();
        *RUNNER.get_or_init(|| {
            let mut tried = Vec::new();
            for runner in [Runner::Unshare, Runner::Chroot] {
                let out = runner.command(root).args(["/bin/sh", "-c", "echo probe"]).output();
                match out {
                    Ok(o) if o.status.success() && o.stdout == b"probe\n" => return runner,
                    Ok(o) => tried.push(format!("{runner:?}: {}", describe(&o))),
                    Err(e) => tried.push(format!("{runner:?}: {e} (apt-get install {})", runner.package())),
                }
            }
            panic!(
                "cannot run anything inside the image: neither `unshare --user --map-root-user --root` \
                 (needs unprivileged user namespaces) nor `chroot` (needs root) works here:\n{}",
                tried.join("\n")
            )
        })
    }

    /// Runs `/bin/sh -c script` inside `root`.
    pub fn sh(self, root: &Path, script: &str) -> Output {
        self.command(root).args(["/bin/sh", "-c", script]).output().expect("run inside the image")
    }
}
