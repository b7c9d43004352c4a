//! The real Debian cloud kernel and the kmod reference tools.
//!
//! The kernel package is what `linux-image-cloud-amd64` depends on in the
//! stable suite of the host's Debian mirror (from its apt sources). A
//! throwaway apt configuration in a temp dir resolves and downloads it, so
//! apt checks it against the suite's signed index; nothing of the host's
//! apt state is touched. The `.deb` (about 35 MB) is cached under the
//! target dir, so only the first run needs the network.

#![allow(dead_code)] // each test binary uses a different subset

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use microroot_debian::sources::{host_sources, primary_mirror};
use microroot_tree::{Kind, Tree, TreePath};

pub const META_PACKAGE: &str = "linux-image-cloud-amd64";
const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// The cached kernel `.deb`, downloaded on first use.
pub fn kernel_deb() -> &'static Path {
    static DEB: OnceLock<PathBuf> = OnceLock::new();
    DEB.get_or_init(fetch)
}

/// The package extracted into a tree, and the package's name.
pub fn kernel_tree() -> &'static (Tree, String) {
    static TREE: OnceLock<(Tree, String)> = OnceLock::new();
    TREE.get_or_init(|| {
        let deb = kernel_deb();
        let bytes = fs::read(deb).unwrap();
        let package = deb.file_name().unwrap().to_str().unwrap().split('_').next().unwrap().to_owned();
        let mut tree = Tree::new();
        microroot_debian::deb::extract_data(&bytes, &mut tree, package.as_str().into(), &mut |_, _| true)
            .unwrap_or_else(|e| panic!("{e}"));
        (tree, package)
    })
}

/// The package unpacked by `dpkg-deb -x` and indexed by the real `depmod`,
/// as its postinst would on a host: the reference for everything depmod
/// writes. Returns the root to pass to `depmod -b` / `modprobe -d`.
pub fn depmod_reference(version: &str) -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("kernel-depmod-{version}"));
        let done = root.join(".complete");
        if !done.exists() {
            let _ = fs::remove_dir_all(&root);
            fs::create_dir_all(&root).unwrap();
            run("dpkg-deb", &["-x", kernel_deb().to_str().unwrap(), root.to_str().unwrap()]);
            // depmod reads <root>/lib/modules; the package ships usr/lib/modules.
            if !root.join("lib").exists() {
                std::os::unix::fs::symlink("usr/lib", root.join("lib")).unwrap();
            }
            run("depmod", &["-b", root.to_str().unwrap(), version]);
            fs::write(&done, "").unwrap();
        }
        root
    })
}

fn fetch() -> PathBuf {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kernel-deb");
    fs::create_dir_all(&cache).unwrap();
    if let Some(deb) = cached(&cache) {
        return deb;
    }
    let sources = host_sources().unwrap_or_else(|e| panic!("{e}"));
    let mirror = primary_mirror(&sources)
        .unwrap_or_else(|| panic!("no Debian archive among the host's apt sources: {sources:#?}"));
    let apt = AptSandbox::update(&mirror.uri, "stable", "main", "amd64");
    let depends = apt.run("apt-cache", &["depends", META_PACKAGE]);
    let package = depends
        .lines()
        .find_map(|l| l.trim().strip_prefix("Depends: ").filter(|p| p.starts_with("linux-image-")))
        .unwrap_or_else(|| panic!("{META_PACKAGE} depends on no linux-image package:\n{depends}"))
        .to_owned();
    let partial = cache.join("partial");
    let _ = fs::remove_dir_all(&partial);
    fs::create_dir_all(&partial).unwrap();
    apt.run_in(&partial, "apt-get", &["download", &package]);
    let deb =
        fs::read_dir(&partial).unwrap().map(|e| e.unwrap().path()).next().expect("apt-get download wrote nothing");
    let target = cache.join(deb.file_name().unwrap());
    fs::rename(&deb, &target).unwrap();
    target
}

fn cached(dir: &Path) -> Option<PathBuf> {
    fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).find(|p| {
        let name = p.file_name().unwrap().to_string_lossy();
        name.starts_with("linux-image-") && name.ends_with(".deb")
    })
}

/// apt with its own config, sources, state and cache in a temp dir.
struct AptSandbox {
    dir: tempfile::TempDir,
}

impl AptSandbox {
    fn update(uri: &str, suite: &str, component: &str, arch: &str) -> AptSandbox {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for sub in ["etc/apt.conf.d", "etc/preferences.d", "etc/trusted.gpg.d", "etc/sources.list.d"] {
            fs::create_dir_all(root.join(sub)).unwrap();
        }
        for sub in ["state/lists/partial", "cache/archives/partial", "dpkg"] {
            fs::create_dir_all(root.join(sub)).unwrap();
        }
        fs::write(root.join("dpkg/status"), "").unwrap();
        let sources =
            format!("Types: deb\nURIs: {uri}\nSuites: {suite}\nComponents: {component}\nSigned-By: {KEYRING}\n");
        fs::write(root.join("etc/sources.list.d/kernel.sources"), sources).unwrap();
        let r = root.display();
        let config = format!(
            "Dir::Etc::Parts \"{r}/etc/apt.conf.d\";\nDir::Etc::SourceList \"{r}/etc/sources.list\";\n\
             Dir::Etc::SourceParts \"{r}/etc/sources.list.d\";\nDir::Etc::Preferences \"{r}/etc/preferences\";\n\
             Dir::Etc::PreferencesParts \"{r}/etc/preferences.d\";\nDir::Etc::Trusted \"{r}/etc/trusted.gpg\";\n\
             Dir::Etc::TrustedParts \"{r}/etc/trusted.gpg.d\";\nDir::State \"{r}/state\";\n\
             Dir::State::status \"{r}/dpkg/status\";\nDir::Cache \"{r}/cache\";\nDir::Log \"{r}/log\";\n\
             APT::Architecture \"{arch}\";\nAPT::Architectures {{ \"{arch}\"; }};\nAcquire::Languages \"none\";\n\
             APT::Sandbox::User \"root\";\nDebug::NoLocking \"true\";\n"
        );
        fs::write(root.join("apt.conf"), config).unwrap();
        let apt = AptSandbox { dir };
        apt.run("apt-get", &["update"]);
        apt
    }

    fn run(&self, program: &str, args: &[&str]) -> String {
        self.run_in(self.dir.path(), program, args)
    }

    fn run_in(&self, cwd: &Path, program: &str, args: &[&str]) -> String {
        let mut cmd = Command::new(program);
        cmd.current_dir(cwd).env("APT_CONFIG", self.dir.path().join("apt.conf"));
        output(cmd, program, args, "apt")
    }
}

/// Runs a reference tool in the C locale; fails the test on a non-zero
/// exit, or with an install hint when the tool is missing.
pub fn run(program: &str, args: &[&str]) -> String {
    output(Command::new(program), program, args, package_of(program))
}

fn package_of(program: &str) -> &'static str {
    match program {
        "modinfo" | "modprobe" | "depmod" => "kmod",
        "readelf" => "binutils",
        "dpkg-deb" => "dpkg",
        _ => "the package that provides it",
    }
}

fn output(mut cmd: Command, program: &str, args: &[&str], package: &str) -> String {
    cmd.args(args).env("LC_ALL", "C");
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {program} ({e}): these tests compare with it\nhint: apt-get install {package}")
    });
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Writes the directories and files of `tree` below `under` to `dest`
/// (which stands for `under`).
pub fn write_out(tree: &Tree, under: &TreePath, dest: &Path) {
    let skip = under.as_str().len() + 1;
    fs::create_dir_all(dest).unwrap();
    for (path, entry) in tree.below(under) {
        let target = dest.join(&path.as_str()[skip..]);
        match &entry.kind {
            Kind::Dir => fs::create_dir_all(&target).unwrap(),
            Kind::File(blob) => fs::write(&target, blob.bytes()).unwrap(),
            other => panic!("{path}: unexpected {other:?}"),
        }
    }
}
