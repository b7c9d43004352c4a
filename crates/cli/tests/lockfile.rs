//! `microroot init`, `lock`, `build --locked` and `build --offline`.

mod common;

use std::path::{Path, PathBuf};

use common::{assert_no_output, base_image, files_below, sha256sum, shared_cache, TestDir};
use microroot_image::lock::Lockfile;

/// A test dir holding `microroot init`'s manifest.
fn initialized() -> (TestDir, PathBuf) {
    let dir = TestDir::new();
    dir.microroot().arg("init").stdout();
    let manifest = dir.join("microroot.toml");
    assert!(manifest.is_file(), "init wrote no microroot.toml");
    (dir, manifest)
}

/// `initialized` plus `microroot lock` against the shared cache.
fn locked() -> (TestDir, PathBuf, Lockfile) {
    let (dir, manifest) = initialized();
    let stdout = dir.microroot().args(["lock", "--cache-dir"]).arg(shared_cache()).stdout();
    let lock = Lockfile::read(&dir.join("microroot.lock")).expect("lock wrote a readable microroot.lock");
    assert!(stdout.starts_with(&format!("locked {} packages from stable (", lock.packages.len())), "{stdout}");
    (dir, manifest, lock)
}

fn build_sha(dir: &TestDir, args: &[&str], cache: &Path) -> String {
    let out = dir.join("out");
    let _ = std::fs::remove_dir_all(&out);
    dir.microroot().arg("build").args(args).arg("--out").arg(&out).arg("--cache-dir").arg(cache).stdout();
    sha256sum(&out.join("rootfs.tar.xz"))
}

#[test]
fn init_writes_the_base_manifest_and_refuses_to_overwrite() {
    let (dir, manifest) = initialized();
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert_eq!(text, microroot_image::manifest::DEFAULT_MANIFEST);
    assert!(text.contains("include = [\"busybox\", \"libc6\", \"libgcc-s1\"]"), "{text}");

    std::fs::write(&manifest, "# mine\n").unwrap();
    let err = dir.microroot().arg("init").fails();
    assert!(err.contains("microroot.toml already exists") && err.contains("hint: pass --force"), "{err}");
    assert_eq!(std::fs::read_to_string(&manifest).unwrap(), "# mine\n", "init overwrote without --force");

    dir.microroot().args(["init", "--force"]).stdout();
    assert_eq!(std::fs::read_to_string(&manifest).unwrap(), text);
    // Another name, and --show-defaults prints the excludes without writing.
    dir.microroot().args(["init", "other.toml"]).stdout();
    assert_eq!(std::fs::read_to_string(dir.join("other.toml")).unwrap(), text);
    let defaults = dir.microroot().args(["init", "--show-defaults", "third.toml"]).stdout();
    assert!(defaults.lines().any(|l| l == "/usr/share/doc/**"), "{defaults}");
    assert!(!dir.join("third.toml").exists());
}

#[test]
fn lock_pins_every_package_and_a_locked_build_matches_a_plain_one() {
    let (dir, _manifest, lock) = locked();
    let text = std::fs::read_to_string(dir.join("microroot.lock")).unwrap();
    for name in ["busybox", "libc6", "libgcc-s1"] {
        let p = lock.packages.iter().find(|p| p.name == name).unwrap_or_else(|| panic!("{name} not locked:\n{text}"));
        assert!(p.sha256.len() == 64 && p.sha256.bytes().all(|b| b.is_ascii_hexdigit()), "{name}: {}", p.sha256);
        assert!(p.filename.starts_with("pool/main/") && p.filename.ends_with(".deb"), "{name}: {}", p.filename);
        assert!(text.contains(&format!("sha256 = \"{}\"", p.sha256)), "{text}");
        // The same versions the plain build used.
        let built = base_image().report["packages"].as_array().unwrap().iter().find(|r| r["owner"] == name).cloned();
        assert_eq!(built.and_then(|r| r["version"].as_str().map(str::to_owned)).as_deref(), Some(p.version.as_str()));
    }
    // Exactly the packages of the plain build (the rest of its rows are
    // microroot's own files).
    let mut locked: Vec<&str> = lock.packages.iter().map(|p| p.name.as_str()).collect();
    let mut built: Vec<&str> = base_image().report["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["version"].as_str().and(r["owner"].as_str()))
        .collect();
    locked.sort_unstable();
    built.sort_unstable();
    assert_eq!(locked, built);
    assert_eq!(build_sha(&dir, &["microroot.toml", "--locked"], &shared_cache()), base_image().sha256);
}

#[test]
fn locked_build_refuses_a_lockfile_older_than_the_manifest() {
    let (dir, manifest, _) = locked();
    let text = std::fs::read_to_string(&manifest).unwrap();
    let edited =
        text.replace("include = [\"busybox\", \"libc6\", \"libgcc-s1\"]", "include = [\"busybox\", \"libc6\"]");
    assert_ne!(edited, text);
    std::fs::write(&manifest, edited).unwrap();
    let cache = dir.join("cache");
    let err = dir
        .microroot()
        .args(["build", "microroot.toml", "--locked", "--out", "out", "--cache-dir"])
        .arg(&cache)
        .fails();
    assert!(err.contains("microroot.lock is out of date"), "{err}");
    assert!(err.contains("hint: run `microroot lock`"), "{err}");
    assert_no_output(&dir.join("out"));
    assert!(files_below(&cache).is_empty(), "a refused build touched the cache: {:?}", files_below(&cache));
}

#[test]
fn locked_build_names_a_file_the_mirror_does_not_have() {
    base_image(); // puts every package into the shared cache
    let (dir, manifest, lock) = locked();
    let busybox = lock.packages.iter().find(|p| p.name == "busybox").unwrap();
    let gone = busybox.filename.replace("_amd64.deb", "+gone1_amd64.deb");
    let text = std::fs::read_to_string(dir.join("microroot.lock")).unwrap();
    std::fs::write(dir.join("microroot.lock"), text.replace(&busybox.filename, &gone)).unwrap();

    // A cache with every other package already in it, so the only download
    // is the missing one, and nothing at all may be added.
    let cache = dir.join("cache");
    let shared = microroot_fetch::Cache::new(shared_cache());
    let ours = microroot_fetch::Cache::new(&cache);
    for p in lock.packages.iter().filter(|p| p.name != "busybox") {
        let expected = microroot_fetch::Expected::parse(&p.sha256, p.size).unwrap();
        let from = shared.get(&expected).unwrap_or_else(|| panic!("{} not in the shared cache", p.name));
        let to = ours.blob_path(&expected.sha256);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    }
    let before = files_below(&cache);
    let err = dir
        .microroot()
        .arg("build")
        .arg(&manifest)
        .args(["--locked", "--out", "out", "--cache-dir"])
        .arg(&cache)
        .fails();
    assert!(err.contains(&format!("busybox {} ({gone})", busybox.version)), "{err}");
    assert!(err.contains("http 404"), "{err}");
    assert!(err.contains("hint: if the mirror no longer has these versions, run `microroot lock`"), "{err}");
    assert_no_output(&dir.join("out"));
    // Nothing changed in the cache but the decoded copies of the .debs it
    // read (entries derived from them, named by their records).
    let mut after = files_below(&cache);
    let records: Vec<PathBuf> = after.iter().filter(|f| f.starts_with("derived/deb-data-tar")).cloned().collect();
    for record in &records {
        let deb = record.file_name().unwrap();
        assert!(
            before.iter().any(|f| f.file_name() == Some(deb)),
            "{record:?} is not derived from a .deb of the cache"
        );
        let text = std::fs::read_to_string(cache.join(record)).unwrap();
        let sha = text.split(' ').next().unwrap();
        let blob = PathBuf::from("sha256").join(&sha[..2]).join(sha);
        after.retain(|f| f != record && *f != blob);
    }
    assert_eq!(after, before, "the failed build changed the cache");
}

#[test]
fn offline_build_from_a_warm_cache_matches_the_online_one() {
    // The embedded manifest: InRelease and plan from the cache.
    let dir = TestDir::new();
    assert_eq!(build_sha(&dir, &["--offline"], &shared_cache()), base_image().sha256);
    // A lockfile: no InRelease at all.
    let (dir, _, _) = locked();
    assert_eq!(build_sha(&dir, &["microroot.toml", "--offline", "--locked"], &shared_cache()), base_image().sha256);
}

#[test]
fn offline_build_from_an_empty_cache_names_what_is_missing() {
    let dir = TestDir::new();
    let cache = dir.join("empty-cache");
    let err = dir.microroot().args(["build", "--offline", "--out", "out", "--cache-dir"]).arg(&cache).fails();
    assert!(err.contains("/dists/stable/InRelease is not in the cache at"), "{err}");
    assert!(err.contains("hint: run once without --offline"), "{err}");
    assert_eq!(err.matches("hint:").count(), 1, "one hint, once:\n{err}");
    assert_no_output(&dir.join("out"));
    assert!(files_below(&cache).is_empty(), "{:?}", files_below(&cache));

    // With a lockfile the first thing missing is a package.
    let (dir, _, lock) = locked();
    let err = dir
        .microroot()
        .args(["build", "microroot.toml", "--offline", "--locked", "--out", "out", "--cache-dir"])
        .arg(&cache)
        .fails();
    let busybox = lock.packages.iter().find(|p| p.name == "busybox").unwrap();
    let file = busybox.filename.rsplit('/').next().unwrap();
    assert!(err.contains(&format!("{file} is not in the cache at")), "{err}");
    assert!(err.contains("hint: run once without --offline"), "{err}");
    assert!(!err.contains("run `microroot lock`"), "offline, the mirror was never asked:\n{err}");
    assert_no_output(&dir.join("out"));
    assert!(files_below(&cache).is_empty(), "{:?}", files_below(&cache));
}
