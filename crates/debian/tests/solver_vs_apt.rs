//! "The solver picks what apt picks": on the real Debian stable suite from
//! the host's mirror, `apt-get install --simulate --no-install-recommends`
//! into an empty system and [`solve`] on the very `Packages` file apt
//! downloaded must choose the same packages at the same versions.
//!
//! Needs the network and apt-get; without apt-get it fails, it never skips.

mod common;

use std::time::Instant;

use microroot_debian::solver::{solve, Request};
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
