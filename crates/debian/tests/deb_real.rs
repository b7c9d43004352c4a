//! Real packages against the reference: each `.deb` is extracted into a
//! `Tree` and every member compared with `dpkg-deb -c` (paths, kinds,
//! modes, owners, sizes, device numbers, mtimes, link targets).
//!
//! The packages come from the host's apt: `apt-get download` checks them
//! against its signed indexes. They are cached under the target dir, so
//! only the first run needs the network. On a host without `apt-get` and
//! `dpkg-deb` the test says so and passes.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use microroot_debian::deb::{self, Extracted};
use microroot_tree::{Kind, Tree, TreePath};

const PACKAGES: [&str; 3] = ["busybox", "libc6", "hello"];

#[test]
fn real_packages_match_dpkg_deb() {
    assert!(has("apt-get") && has("dpkg-deb"), "needs apt-get and dpkg-deb: apt-get install apt dpkg");
    let names = Names::from_host();
    for (package, path) in PACKAGES.iter().zip(download(&PACKAGES)) {
        let bytes = fs::read(&path).unwrap();
        let control = deb::control(&bytes, package).unwrap();
        assert_eq!(control.field("Package"), Some(*package));
        let (tree, extracted, took) = extract(&bytes, package);
        let ours: Vec<String> = extracted.paths.iter().map(|p| render(&tree, p, &names)).collect();
        let reference = dpkg_listing(&path);
        // The package's `./` is listed but its header is not applied: the
        // image owns its root directory.
        assert!(extracted.paths[0].is_root() && reference[0].starts_with('d') && reference[0].ends_with(" ./"));
        for (i, (a, b)) in ours.iter().zip(&reference).enumerate().skip(1) {
            assert_eq!(a, b, "{package}: member {i} differs (ours, then dpkg-deb -c)");
        }
        assert_eq!(ours.len(), reference.len(), "{package}: member count");
        assert!(tree.iter().skip(1).all(|(_, e)| e.owner.as_deref() == Some(*package)));
        let member = deb::Deb::parse(&bytes, (*package).into()).unwrap().data_member().to_owned();
        println!(
            "{package}: {} members ({member}, e.g. `{}`), {} bytes of files, extracted in {took:?}; scripts {:?}, {} conffiles",
            ours.len(),
            reference[ours.len() / 2],
            extracted.bytes,
            control.scripts,
            control.conffiles.len(),
        );
    }
}

/// Extracts into a fresh tree; the time is the best of three runs.
fn extract(bytes: &[u8], package: &str) -> (Tree, Extracted, Duration) {
    let mut best = None;
    for _ in 0..3 {
        let mut tree = Tree::new();
        let start = Instant::now();
        let x = deb::extract_data(bytes, &mut tree, package.into(), &mut |_, _| true).unwrap();
        let took = start.elapsed();
        if best.as_ref().is_none_or(|(_, _, t)| took < *t) {
            best = Some((tree, x, took));
        }
    }
    best.unwrap()
}

fn has(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// The cached `.deb` of each package, fetching the missing ones.
fn download(packages: &[&str]) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("debs");
    fs::create_dir_all(&dir).unwrap();
    let cached = |pkg: &str| {
        let prefix = format!("{pkg}_");
        fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).find(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with(&prefix) && name.ends_with(".deb")
        })
    };
    let missing: Vec<&str> = packages.iter().copied().filter(|p| cached(p).is_none()).collect();
    if !missing.is_empty() {
        let policy = Command::new("apt-cache").args(["policy", missing[0]]).output().unwrap();
        let policy = String::from_utf8_lossy(&policy.stdout);
        if !policy.contains("Candidate:") || policy.contains("Candidate: (none)") {
            assert!(Command::new("apt-get").arg("update").status().unwrap().success(), "apt-get update");
        }
        let status = Command::new("apt-get").arg("download").args(&missing).current_dir(&dir).status().unwrap();
        assert!(status.success(), "apt-get download {missing:?} failed");
    }
    packages.iter().map(|p| cached(p).unwrap_or_else(|| panic!("{p} was not downloaded"))).collect()
}

/// `dpkg-deb -c` lines, normalized to single spaces, dates in UTC.
fn dpkg_listing(deb: &Path) -> Vec<String> {
    let out = Command::new("dpkg-deb").arg("-c").arg(deb).env("TZ", "UTC").output().unwrap();
    assert!(out.status.success(), "dpkg-deb -c {}", deb.display());
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .map(|line| {
            // perms owner size date time name: the name may hold spaces.
            let (mut head, mut rest) = (Vec::new(), line);
            for _ in 0..5 {
                let field = rest.trim_start();
                let end = field.find(' ').unwrap();
                head.push(&field[..end]);
                rest = &field[end..];
            }
            format!("{} {}", head.join(" "), rest.trim_start())
        })
        .collect()
}

/// One of our members in the same shape as a normalized `dpkg-deb -c` line.
fn render(tree: &Tree, path: &TreePath, names: &Names) -> String {
    let e = tree.get(path).unwrap_or_else(|| panic!("{path} not in the tree"));
    let (ty, size, name_suffix, link) = match &e.kind {
        Kind::Dir => ('d', "0".to_owned(), "/", String::new()),
        Kind::File(b) => ('-', b.len().to_string(), "", String::new()),
        Kind::Symlink(t) => ('l', "0".to_owned(), "", format!(" -> {t}")),
        Kind::Hardlink(t) => ('h', "0".to_owned(), "", format!(" link to ./{}", t.as_str())),
        Kind::CharDev { major, minor } => ('c', format!("{major},{minor}"), "", String::new()),
        Kind::BlockDev { major, minor } => ('b', format!("{major},{minor}"), "", String::new()),
        Kind::Fifo => ('p', "0".to_owned(), "", String::new()),
        Kind::Socket => ('s', "0".to_owned(), "", String::new()),
    };
    let owner = format!("{}/{}", names.user(e.meta.uid), names.group(e.meta.gid));
    let name = if path.is_root() { "./".to_owned() } else { format!("./{}{name_suffix}", path.as_str()) };
    format!("{}{} {owner} {size} {} {name}{link}", ty, perms(e.meta.mode), utc(e.meta.mtime))
}

/// `rwxr-xr-x`, with `s`/`S` and `t`/`T` as `ls` shows them.
fn perms(mode: u32) -> String {
    let mut out = String::new();
    for (shift, special, letter) in [(6, 0o4000, 's'), (3, 0o2000, 's'), (0, 0o1000, 't')] {
        let bits = (mode >> shift) & 7;
        out.push(if bits & 4 != 0 { 'r' } else { '-' });
        out.push(if bits & 2 != 0 { 'w' } else { '-' });
        out.push(match (bits & 1 != 0, mode & special != 0) {
            (true, true) => letter,
            (false, true) => letter.to_ascii_uppercase(),
            (true, false) => 'x',
            (false, false) => '-',
        });
    }
    out
}

/// `YYYY-MM-DD HH:MM` in UTC, as `TZ=UTC dpkg-deb -c` prints mtimes.
fn utc(secs: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64);
    microroot_debian::release::format_utc(t)[..16].to_owned()
}

/// uid/gid → name as `tar -tv` prints them: the archive's names are
/// Debian's fixed base-passwd ones, which the host shares.
struct Names {
    users: HashMap<u32, String>,
    groups: HashMap<u32, String>,
}

impl Names {
    fn from_host() -> Self {
        let read = |file: &str| {
            let text = fs::read_to_string(file).unwrap_or_default();
            text.lines()
                .filter_map(|l| {
                    let f: Vec<&str> = l.split(':').collect();
                    Some((f.get(2)?.parse().ok()?, f[0].to_owned()))
                })
                .collect()
        };
        Names { users: read("/etc/passwd"), groups: read("/etc/group") }
    }
    fn user(&self, id: u32) -> String {
        self.users.get(&id).cloned().unwrap_or_else(|| id.to_string())
    }
    fn group(&self, id: u32) -> String {
        self.groups.get(&id).cloned().unwrap_or_else(|| id.to_string())
    }
}
