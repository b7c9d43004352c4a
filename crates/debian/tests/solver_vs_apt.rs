//! "The solver picks what apt picks": on the real Debian stable suite from
//! the host's mirror, `apt-get install --simulate --no-install-recommends`
//! into an empty system and [`solve`] on the very `Packages` file apt
//! downloaded must choose the same packages at the same versions. The same
//! again on systems that already have packages (apt's own answer for a
//! base set, written as the dpkg status, some of it at older versions):
//! [`solve_installed`] must name exactly what apt would unpack on top.
//!
//! Needs the network and apt-get; without apt-get it fails, it never skips.

mod common;

use std::time::Instant;

use microroot_debian::index::{parse_status, Index};
use microroot_debian::solver::{solve, solve_installed, Request};
use microroot_debian::sources::{host_sources, primary_mirror};

const ARCH: &str = "amd64";

/// Package sets to compare, each installed into its own empty system.
const SETS: &[&[&str]] = &[
    &["busybox"],
    &["nginx"],
    &["python3-minimal"],
    &["curl"],
    &["openssh-server"],
    &["libc6"],
    &["bash", "coreutils"],
    &["ca-certificates"],
    &["iproute2"],
    &["perl-base"],
    &["systemd"],
    &["apt"],
    &["python3"],
    &["git"],
    &["vim-tiny", "less"],
    &["dbus"],
    &["systemd-sysv", "udev"],
    &["sudo", "procps", "util-linux"],
    &["openssl", "wget", "iputils-ping"],
    &["postgresql"],
    // Alternatives, virtual packages and conflicts at work.
    &["exim4"],
    &["sysvinit-core"],
    &["docker.io"],
    &["xserver-xorg-core"],
];

fn diff(set: &[&str], apt: &[String], ours: &[String]) -> Option<String> {
    if apt == ours {
        return None;
    }
    let only = |a: &[String], b: &[String]| a.iter().filter(|x| !b.contains(x)).cloned().collect::<Vec<_>>().join(" ");
    Some(format!(
        "set [{}]: apt installs {} packages, the solver {}\n  only apt:    {}\n  only solver: {}",
        set.join(" "),
        apt.len(),
        ours.len(),
        only(apt, ours),
        only(ours, apt),
    ))
}

#[test]
fn solver_picks_what_apt_picks() {
    let sources = host_sources().unwrap_or_else(|e| panic!("{e}"));
    let mirror = primary_mirror(&sources)
        .unwrap_or_else(|| panic!("no Debian archive among the host's apt sources: {sources:#?}"));
    let apt = common::AptSandbox::update(&mirror.uri, "stable", "main", ARCH);

    let started = Instant::now();
    let (index, file) = apt.index();
    let build = if cfg!(debug_assertions) { "debug build" } else { "release build" };
    eprintln!("parsed {} packages from {} in {:?} ({build})", index.len(), file.display(), started.elapsed());
    assert!(index.len() > 50_000, "suspiciously small index: {} packages", index.len());

    let mut failures = Vec::new();
    for set in SETS {
        let expected = match apt.simulate_install(set) {
            Ok(inst) => inst,
            Err(out) => {
                failures.push(format!("set [{}]: apt-get failed:\n{out}", set.join(" ")));
                continue;
            }
        };
        let requests: Vec<Request> = set.iter().map(|s| s.parse().unwrap()).collect();
        let ours: Vec<String> = match solve(&index, ARCH, &requests) {
            Ok(solution) => {
                let mut pairs: Vec<String> = solution.pairs().map(|(n, v)| format!("{n}={v}")).collect();
                pairs.sort();
                pairs
            }
            Err(e) => {
                failures.push(format!(
                    "set [{}]: apt installs {} packages, the solver failed: {e}",
                    set.join(" "),
                    expected.len()
                ));
                continue;
            }
        };
        eprintln!("[{}]: {} packages", set.join(" "), expected.len());
        failures.extend(diff(set, &expected, &ours));
    }
    assert!(failures.is_empty(), "the solver and apt disagree:\n{}", failures.join("\n\n"));
}

type OnBase = (&'static [&'static str], &'static [(&'static str, &'static str)], &'static [&'static str]);

/// Systems that already have packages (a base image's): `(base, older,
/// request)`. `base` is installed as apt answers for it, with the packages
/// in `older` at an older version; then `request` is installed on top.
const ON_BASES: &[OnBase] = &[
    (&["busybox"], &[], &["nginx"]),
    (&["busybox"], &[], &["busybox", "zlib1g"]),
    (&["python3-minimal"], &[], &["curl"]),
    (&["bash", "coreutils"], &[], &["openssh-server"]),
    (&["mawk"], &[], &["exim4"]),
    (&["libc6"], &[("libc6", "2.36-9+deb12u10")], &["zlib1g"]),
    (&["libc6"], &[("libc6", "2.36-9+deb12u10")], &["nginx"]),
];

/// A dpkg status listing the index's `name=version` packages, installed;
/// `older` packages get the version given instead.
fn status_of(packages_text: &str, installed: &[String], older: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for para in packages_text.split("\n\n") {
        let field = |name: &str| para.lines().find_map(|l| l.strip_prefix(name)).map(str::trim);
        let (Some(name), Some(version)) = (field("Package:"), field("Version:")) else { continue };
        if !installed.contains(&format!("{name}={version}")) {
            continue;
        }
        let mut lines: Vec<String> = vec![format!("Package: {name}"), "Status: install ok installed".to_owned()];
        for line in para.lines().filter(|l| !l.starts_with("Package:")) {
            match older.iter().find(|(n, _)| *n == name) {
                Some((_, v)) if line.starts_with("Version:") => lines.push(format!("Version: {v}")),
                _ => lines.push(line.to_owned()),
            }
        }
        out.push_str(&lines.join("\n"));
        out.push_str("\n\n");
    }
    out
}

fn ours_on(index: &Index, status: &str, set: &[&str]) -> Result<Vec<String>, String> {
    let installed = parse_status("status", status).map_err(|e| e.to_string())?;
    let requests: Vec<Request> = set.iter().map(|s| s.parse().unwrap()).collect();
    let solution = solve_installed(index, ARCH, &requests, &installed).map_err(|e| e.to_string())?;
    let mut pairs: Vec<String> = solution.pairs().map(|(n, v)| format!("{n}={v}")).collect();
    pairs.sort();
    Ok(pairs)
}

#[test]
fn solver_picks_what_apt_picks_on_a_system_with_packages() {
    let sources = host_sources().unwrap_or_else(|e| panic!("{e}"));
    let mirror = primary_mirror(&sources)
        .unwrap_or_else(|| panic!("no Debian archive among the host's apt sources: {sources:#?}"));
    let apt = common::AptSandbox::update(&mirror.uri, "stable", "main", ARCH);
    let (index, file) = apt.index();
    let text = common::read_packages(&file);

    let mut failures = Vec::new();
    for (base, older, set) in ON_BASES {
        apt.set_status("");
        let installed = apt.simulate_install(base).unwrap_or_else(|e| panic!("apt-get install {base:?}: {e}"));
        let status = status_of(&text, &installed, older);
        assert_eq!(status.matches("Package:").count(), installed.len(), "{status}");
        apt.set_status(&status);
        let label =
            format!("{} on [{}]{}", set.join(" "), base.join(" "), if older.is_empty() { "" } else { " (older)" });
        let expected = match apt.simulate_install(set) {
            Ok(inst) => inst,
            Err(out) => {
                failures.push(format!("{label}: apt-get failed:\n{out}"));
                continue;
            }
        };
        match ours_on(&index, &status, set) {
            Ok(ours) => {
                eprintln!("{label}: {} packages", expected.len());
                failures.extend(diff(&[label.as_str()], &expected, &ours));
            }
            Err(e) => {
                failures.push(format!("{label}: apt installs {} packages, the solver failed: {e}", expected.len()))
            }
        }
    }
    assert!(failures.is_empty(), "the solver and apt disagree:\n{}", failures.join("\n\n"));
}

#[test]
fn differences_read_well() {
    let apt = ["a=1".to_owned(), "b=2".to_owned(), "c=1".to_owned()];
    let ours = ["a=1".to_owned(), "b=3".to_owned(), "d=1".to_owned()];
    assert_eq!(
        diff(&["x", "y"], &apt, &ours).unwrap(),
        "set [x y]: apt installs 3 packages, the solver 3\n  only apt:    b=2 c=1\n  only solver: b=3 d=1"
    );
    assert_eq!(diff(&["x"], &apt, &apt), None);
}
