//! A throwaway apt: its own config, sources, state and cache in a temp dir,
//! an empty dpkg status, one architecture, and the host's Debian keyring.
//! Nothing of the host's apt state is read or written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use microroot_debian::index::{read_index_file, Index};

pub const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

pub struct AptSandbox {
    dir: tempfile::TempDir,
}

impl AptSandbox {
    /// Sets up the sandbox for `uri suite component` and runs `apt-get update`.
    pub fn update(uri: &str, suite: &str, component: &str, arch: &str) -> AptSandbox {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        for sub in ["etc/apt.conf.d", "etc/preferences.d", "etc/trusted.gpg.d", "etc/sources.list.d"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        for sub in ["state/lists/partial", "cache/archives/partial", "dpkg"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        std::fs::write(root.join("dpkg/status"), "").unwrap();
        let sources =
            format!("Types: deb\nURIs: {uri}\nSuites: {suite}\nComponents: {component}\nSigned-By: {KEYRING}\n");
        std::fs::write(root.join("etc/sources.list.d/test.sources"), sources).unwrap();
        std::fs::write(root.join("apt.conf"), config(root, arch)).unwrap();
        let sandbox = AptSandbox { dir };
        let out = sandbox.apt_get(&["update"]);
        assert!(out.status.success(), "apt-get update failed:\n{}", String::from_utf8_lossy(&out.stderr));
        sandbox
    }

    /// Replaces the sandbox's dpkg status: what apt sees as installed.
    #[allow(dead_code)]
    pub fn set_status(&self, text: &str) {
        std::fs::write(self.dir.path().join("dpkg/status"), text).unwrap();
    }

    /// Runs `apt-get` with the sandbox's config.
    pub fn apt_get(&self, args: &[&str]) -> Output {
        Command::new("apt-get")
            .args(args)
            .env("APT_CONFIG", self.dir.path().join("apt.conf"))
            .env("LC_ALL", "C")
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run apt-get ({e}): this test compares the solver with apt\nhint: apt-get install apt")
            })
    }

    /// `apt-get install --simulate --no-install-recommends`: the `Inst` lines
    /// as sorted `name=version` strings, or apt's error output.
    pub fn simulate_install(&self, packages: &[&str]) -> Result<Vec<String>, String> {
        let mut args = vec!["install", "--simulate", "--no-install-recommends", "-o", "Debug::NoLocking=1"];
        args.extend(packages);
        let out = self.apt_get(&args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)));
        }
        let mut inst: Vec<String> = stdout.lines().filter_map(parse_inst).collect();
        inst.sort();
        Ok(inst)
    }

    /// The `Packages` index apt downloaded, parsed.
    pub fn index(&self) -> (Index, PathBuf) {
        let lists = self.dir.path().join("state/lists");
        let file = std::fs::read_dir(&lists)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                p.file_name().unwrap().to_string_lossy().contains("_binary-")
                    && p.to_string_lossy().contains("_Packages")
            })
            .unwrap_or_else(|| panic!("apt downloaded no Packages index into {}", lists.display()));
        let text = read_packages(&file);
        let index = Index::parse(&file.display().to_string(), &text).unwrap_or_else(|e| panic!("{e}"));
        (index, file)
    }
}

/// `Inst nginx (1.26.3-3+deb13u1 Debian:13.1/stable [amd64])` → `nginx=1.26.3-3+deb13u1`.
fn parse_inst(line: &str) -> Option<String> {
    let rest = line.strip_prefix("Inst ")?;
    let (name, rest) = rest.split_once(' ')?;
    // An upgrade shows the installed version in brackets first.
    let rest = if rest.starts_with('[') { rest.split_once("] ")?.1 } else { rest };
    let version = rest.strip_prefix('(')?.split(' ').next()?;
    Some(format!("{name}={version}"))
}

/// apt keeps lists plain or compressed depending on its config; what our
/// reader does not know (lz4) goes through apt's own helper.
pub fn read_packages(file: &Path) -> String {
    match file.extension().and_then(|e| e.to_str()) {
        None | Some("gz" | "xz" | "zst") => read_index_file(file).unwrap_or_else(|e| panic!("{e}")),
        Some(_) => {
            let out = Command::new("/usr/lib/apt/apt-helper").arg("cat-file").arg(file).output().unwrap();
            assert!(
                out.status.success(),
                "apt-helper cat-file {}: {}",
                file.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        }
    }
}

fn config(root: &Path, arch: &str) -> String {
    let r = root.display();
    format!(
        "Dir::Etc::Parts \"{r}/etc/apt.conf.d\";\n\
         Dir::Etc::SourceList \"{r}/etc/sources.list\";\n\
         Dir::Etc::SourceParts \"{r}/etc/sources.list.d\";\n\
         Dir::Etc::Preferences \"{r}/etc/preferences\";\n\
         Dir::Etc::PreferencesParts \"{r}/etc/preferences.d\";\n\
         Dir::Etc::Trusted \"{r}/etc/trusted.gpg\";\n\
         Dir::Etc::TrustedParts \"{r}/etc/trusted.gpg.d\";\n\
         Dir::State \"{r}/state\";\n\
         Dir::State::status \"{r}/dpkg/status\";\n\
         Dir::Cache \"{r}/cache\";\n\
         Dir::Log \"{r}/log\";\n\
         APT::Architecture \"{arch}\";\n\
         APT::Architectures {{ \"{arch}\"; }};\n\
         Acquire::Languages \"none\";\n\
         Acquire::GzipIndexes \"false\";\n\
         APT::Sandbox::User \"root\";\n\
         Debug::NoLocking \"true\";\n"
    )
}
