//! One small hand-written index per rule the solver shares with apt.

use super::*;

const SHA: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Builds an index from terse paragraphs, filling in the fields the solver
/// does not look at.
fn index(text: &str) -> Index {
    let full: Vec<String> = text
        .trim()
        .split("\n\n")
        .map(|para| {
            let mut p = para.trim().to_owned();
            if !p.contains("Architecture:") {
                p.push_str("\nArchitecture: amd64");
            }
            if !p.contains("Version:") {
                p.push_str("\nVersion: 1");
            }
            format!("{p}\nFilename: pool/x.deb\nSize: 1\nSHA256: {SHA}\n")
        })
        .collect();
    Index::parse("test", &full.join("\n")).unwrap()
}

fn solve_names(index: &Index, requests: &[&str]) -> Vec<String> {
    let requests: Vec<Request> = requests.iter().map(|r| r.parse().unwrap()).collect();
    let solution = solve(index, "amd64", &requests).unwrap_or_else(|e| panic!("{e}"));
    solution.pairs().map(|(n, v)| format!("{n}={v}")).collect()
}

fn solve_err(index: &Index, requests: &[&str]) -> String {
    let requests: Vec<Request> = requests.iter().map(|r| r.parse().unwrap()).collect();
    solve(index, "amd64", &requests).unwrap_err().to_string()
}

#[test]
fn follows_depends_and_pre_depends_only() {
    let idx = index(
        "Package: a\nPre-Depends: b\nDepends: c\nRecommends: r\nSuggests: s\n\n\
         Package: b\n\nPackage: c\nDepends: d\n\nPackage: d\n\nPackage: r\n\nPackage: s\n\nPackage: unrelated",
    );
    assert_eq!(solve_names(&idx, &["a"]), ["a=1", "b=1", "c=1", "d=1"]);
}

#[test]
fn candidate_is_the_highest_version_unless_pinned() {
    let idx = index("Package: a\nVersion: 1.0\n\nPackage: a\nVersion: 1.0+b1\n\nPackage: a\nVersion: 1.0~rc1");
    assert_eq!(solve_names(&idx, &["a"]), ["a=1.0+b1"]);
    assert_eq!(solve_names(&idx, &["a=1.0~rc1"]), ["a=1.0~rc1"]);
    assert_eq!(solve_names(&idx, &["a (<< 1.0+b1)"]), ["a=1.0"]);
    let err = solve_err(&idx, &["a=2"]);
    assert!(err.starts_with("no version of `a` matches `= 2`: candidates are 1.0, 1.0+b1, 1.0~rc1"), "{err}");
}

#[test]
fn first_installable_alternative_wins() {
    let idx = index("Package: a\nDepends: x | y\n\nPackage: x\n\nPackage: y");
    assert_eq!(solve_names(&idx, &["a"]), ["a=1", "x=1"]);
    let idx = index("Package: a\nDepends: missing | y\n\nPackage: y");
    assert_eq!(solve_names(&idx, &["a"]), ["a=1", "y=1"]);
}

#[test]
fn an_alternative_already_selected_wins() {
    let idx = index("Package: a\nDepends: x | y\n\nPackage: x\n\nPackage: y");
    assert_eq!(solve_names(&idx, &["a", "y"]), ["a=1", "y=1"]);
    // Pulled in earlier by another dependency of the same package.
    let idx = index("Package: a\nDepends: b, x | y\n\nPackage: b\nDepends: y\n\nPackage: x\n\nPackage: y");
    assert_eq!(solve_names(&idx, &["a"]), ["a=1", "b=1", "y=1"]);
}

#[test]
fn an_alternative_that_cannot_install_is_skipped_and_its_leftovers_swept() {
    // x needs z (fine) and w (which needs something missing): x fails after
    // z was marked; apt's autoremover then drops z again.
    let idx = index(
        "Package: a\nDepends: x | y\n\nPackage: x\nDepends: z, w\n\nPackage: z\n\n\
         Package: w\nDepends: missing\n\nPackage: y",
    );
    assert_eq!(solve_names(&idx, &["a"]), ["a=1", "y=1"]);
}

#[test]
fn version_constraints_pick_among_candidates() {
    let idx = index("Package: a\nDepends: b (>= 2)\n\nPackage: b\nVersion: 3\n\nPackage: b\nVersion: 1");
    assert_eq!(solve_names(&idx, &["a"]), ["a=1", "b=3"]);
}

#[test]
fn unsatisfiable_versions_print_the_chain() {
    let idx = index(
        "Package: nginx\nVersion: 1.26.3-3\nDepends: libssl3t64 (>= 3.4)\n\n\
         Package: libssl3t64\nVersion: 3.0.11-1",
    );
    let err = solve_err(&idx, &["nginx"]);
    assert_eq!(
        err,
        "cannot install `nginx`: nginx 1.26.3-3 → libssl3t64 (>= 3.4) → not available: candidates are \
         libssl3t64 3.0.11-1\nhint: the suite has no version that fits; check the suite and components in the apt sources"
    );
    let idx = index("Package: a\nDepends: b\n\nPackage: b\nDepends: c | d\n\nPackage: c\nDepends: gone");
    let err = solve_err(&idx, &["a"]);
    assert!(
        err.starts_with(
            "cannot install `a`: a 1 → b → b 1 → c | d → c 1 → gone → not available: no package named `gone`"
        ),
        "{err}"
    );
}

#[test]
fn virtual_packages_and_versioned_provides() {
    let idx = index("Package: a\nDepends: mta\n\nPackage: exim\nProvides: mta");
    assert_eq!(solve_names(&idx, &["a"]), ["a=1", "exim=1"]);
    let idx = index(
        "Package: a\nDepends: libfoo (>= 2)\n\nPackage: old\nProvides: libfoo\n\n\
         Package: new\nProvides: libfoo (= 2.5)",
    );
    assert_eq!(solve_names(&idx, &["a"]), ["a=1", "new=1"]);
}

#[test]
fn providers_are_ranked_like_apt() {
    // The real package beats providers; then essential, then priority.
    let idx = index("Package: a\nDepends: awk\n\nPackage: gawk\nProvides: awk\n\nPackage: awk");
    assert_eq!(solve_names(&idx, &["a"]), ["a=1", "awk=1"]);
    let idx = index(
        "Package: a\nDepends: awk\n\nPackage: gawk\nPriority: optional\nProvides: awk\n\n\
         Package: mawk\nPriority: required\nProvides: awk",
    );
    assert_eq!(solve_names(&idx, &["a"]), ["a=1", "mawk=1"]);
    let idx = index(
        "Package: a\nDepends: sh\n\nPackage: zsh\nPriority: required\nProvides: sh\n\n\
         Package: dash\nEssential: yes\nPriority: optional\nProvides: sh",
    );
    assert_eq!(solve_names(&idx, &["a"]), ["a=1", "dash=1"]);
    // All else equal, the name apt's cache created last wins.
    let idx = index("Package: a\nDepends: v\n\nPackage: p1\nProvides: v\n\nPackage: p2\nProvides: v");
    assert_eq!(solve_names(&idx, &["a"]), ["a=1", "p2=1"]);
}

#[test]
fn arch_qualifiers() {
    let idx = index("Package: a\nDepends: python3:any\n\nPackage: python3\nMulti-Arch: allowed");
    assert_eq!(solve_names(&idx, &["a"]), ["a=1", "python3=1"]);
    let idx = index("Package: a\nDepends: perl:any\n\nPackage: perl");
    assert!(solve_err(&idx, &["a"]).contains("perl:any → not available"));
    let idx = index("Package: a\nDepends: libc6:native\n\nPackage: libc6\nMulti-Arch: same");
    assert_eq!(solve_names(&idx, &["a"]), ["a=1", "libc6=1"]);
    let idx = index("Package: a\nDepends: libc6:i386\n\nPackage: libc6");
    assert!(solve_err(&idx, &["a"]).contains("`libc6:i386` is for architecture i386, not amd64"));
}

#[test]
fn other_architectures_are_ignored_and_all_is_native() {
    let idx = index(
        "Package: a\nDepends: b, c\n\nPackage: b\nArchitecture: i386\nVersion: 9\n\n\
         Package: b\nVersion: 1\n\nPackage: c\nArchitecture: all",
    );
    assert_eq!(solve_names(&idx, &["a"]), ["a=1", "b=1", "c=1"]);
}

#[test]
fn essential_packages_come_only_when_needed() {
    let idx = index("Package: a\n\nPackage: base-files\nEssential: yes\n\nPackage: b\nDepends: base-files");
    assert_eq!(solve_names(&idx, &["a"]), ["a=1"]);
    assert_eq!(solve_names(&idx, &["b"]), ["b=1", "base-files=1"]);
}

#[test]
fn conflicts_and_breaks_steer_alternatives() {
    let idx = index("Package: a\nDepends: x | y\n\nPackage: b\nConflicts: x\n\nPackage: x\n\nPackage: y");
    assert_eq!(solve_names(&idx, &["a", "b"]), ["a=1", "b=1", "y=1"]);
    let idx = index("Package: a\nDepends: x | y\n\nPackage: b\n\nPackage: x\nBreaks: b (<< 2)\n\nPackage: y");
    assert_eq!(solve_names(&idx, &["a", "b"]), ["a=1", "b=1", "y=1"]);
    // A package conflicting with what it provides does not conflict with itself.
    let idx = index("Package: a\nDepends: mta\n\nPackage: exim\nProvides: mta\nConflicts: mta");
    assert_eq!(solve_names(&idx, &["a"]), ["a=1", "exim=1"]);
}

#[test]
fn conflicting_requests_are_reported() {
    let idx = index("Package: a\nConflicts: b\n\nPackage: b");
    let err = solve_err(&idx, &["a", "b"]);
    assert_eq!(
        err,
        "cannot install `a`: a 1 → conflicts with b 1 (a has `Conflicts: b`)\n\
         hint: drop one of the conflicting packages from the request"
    );
    // A dependency ruled out by a requested package's conflict.
    let idx = index("Package: a\nDepends: x\n\nPackage: b\nBreaks: x (<< 2)\n\nPackage: x");
    let err = solve_err(&idx, &["b", "a"]);
    assert!(err.contains("a 1 → x → x 1 → conflicts with b 1 (b has `Breaks: x (<< 2)`)"), "{err}");
}

#[test]
fn dependency_cycles_terminate() {
    let idx = index("Package: a\nDepends: b\n\nPackage: b\nDepends: a");
    assert_eq!(solve_names(&idx, &["b"]), ["a=1", "b=1"]);
}

#[test]
fn unknown_names_suggest_close_matches() {
    let idx = index("Package: nginx\n\nPackage: nginx-common\n\nPackage: curl");
    assert_eq!(solve_err(&idx, &["ngnix"]), "unknown package `ngnix`\nhint: did you mean `nginx`?");
    let err = solve_err(&idx, &["ngin"]);
    assert_eq!(err, "unknown package `ngin`\nhint: did you mean `nginx` or `nginx-common`?");
    assert_eq!(solve_err(&idx, &["zzzzzzzz"]), "unknown package `zzzzzzzz`");
}

#[test]
fn virtual_requests() {
    let idx = index("Package: exim\nProvides: mta\n\nPackage: awk1\nProvides: awk\n\nPackage: awk2\nProvides: awk");
    assert_eq!(solve_names(&idx, &["mta"]), ["exim=1"]);
    let err = solve_err(&idx, &["awk"]);
    assert_eq!(err, "`awk` is a virtual package provided by `awk1`, `awk2`\nhint: request one of them by name");
}

#[test]
fn requests_parse() {
    let r: Request = "nginx=1.26.3-3".parse().unwrap();
    assert_eq!(r.to_string(), "nginx (= 1.26.3-3)");
    let r: Request = "libc6 (>= 2.36)".parse().unwrap();
    assert_eq!(r.to_string(), "libc6 (>= 2.36)");
    assert!("a:i386".parse::<Request>().is_err());
    assert!("a=".parse::<Request>().is_err());
}

/// The trait is all the solver needs: a provider that hides packages.
struct Without<'i> {
    index: &'i Index,
    hidden: &'static str,
}

impl Provider for Without<'_> {
    fn packages(&self, name: &str) -> Vec<&Package> {
        if name == self.hidden {
            return Vec::new();
        }
        Provider::packages(self.index, name)
    }
    fn providers(&self, name: &str) -> Vec<(&Package, Option<&Version>)> {
        Provider::providers(self.index, name).into_iter().filter(|(p, _)| p.name != self.hidden).collect()
    }
    fn names(&self) -> Vec<&str> {
        Provider::names(self.index).into_iter().filter(|n| *n != self.hidden).collect()
    }
}

#[test]
fn custom_providers() {
    let idx = index("Package: a\nDepends: x | y\n\nPackage: x\n\nPackage: y");
    let provider = Without { index: &idx, hidden: "x" };
    let solution = solve(&provider, "amd64", &["a".parse().unwrap()]).unwrap();
    assert_eq!(solution.pairs().map(|(n, _)| n).collect::<Vec<_>>(), ["a", "y"]);
}

/// Solves on a system whose dpkg status is `status` (terse paragraphs,
/// `Status` and defaults filled in).
fn solve_on(index: &Index, status: &str, requests: &[&str]) -> Vec<String> {
    let full: Vec<String> = status
        .trim()
        .split("\n\n")
        .map(|para| {
            let mut p = format!("{}\nStatus: install ok installed", para.trim());
            if !p.contains("Architecture:") {
                p.push_str("\nArchitecture: amd64");
            }
            if !p.contains("Version:") {
                p.push_str("\nVersion: 1");
            }
            p
        })
        .collect();
    let installed = crate::index::parse_status("status", &full.join("\n\n")).unwrap();
    let requests: Vec<Request> = requests.iter().map(|r| r.parse().unwrap()).collect();
    let solution = solve_installed(index, "amd64", &requests, &installed).unwrap_or_else(|e| panic!("{e}"));
    solution.pairs().map(|(n, v)| format!("{n}={v}")).collect()
}

#[test]
fn installed_packages_satisfy_dependencies_and_are_not_unpacked_again() {
    let idx = index(
        "Package: app\nDepends: libc6 (>= 2), awk, libz\n\n\
         Package: libc6\nVersion: 3\n\n\
         Package: libz\nDepends: libc6\n\n\
         Package: mawk\nProvides: awk\n\n\
         Package: gawk\nProvides: awk",
    );
    // Empty system: everything (apt ranks gawk, the name it saw last, first).
    assert_eq!(solve_on(&idx, "Package: unrelated", &["app"]), ["app=1", "gawk=1", "libc6=3", "libz=1"]);
    // libc6 2 is good enough, mawk (installed) provides awk: only app and libz.
    let status = "Package: libc6\nVersion: 2\n\nPackage: mawk\nProvides: awk";
    assert_eq!(solve_on(&idx, status, &["app"]), ["app=1", "libz=1"]);
    // Requested and already installed at the candidate: nothing to do.
    assert_eq!(solve_on(&idx, "Package: libc6\nVersion: 3", &["libc6"]), Vec::<String>::new());
    // An installed version newer than the mirror's stays.
    assert_eq!(solve_on(&idx, "Package: libc6\nVersion: 4", &["libz"]), ["libz=1"]);
}

#[test]
fn installed_packages_too_old_for_a_dependency_are_upgraded() {
    let idx = index(
        "Package: app\nDepends: libc6 (>= 3), tool\n\n\
         Package: libc6\nVersion: 3\n\n\
         Package: tool\nVersion: 2\nDepends: libc6",
    );
    let status = "Package: libc6\nVersion: 2\n\nPackage: tool\nVersion: 1\nDepends: libc6";
    // libc6 is upgraded; tool 1 satisfies `tool` and stays.
    assert_eq!(solve_on(&idx, status, &["app"]), ["app=1", "libc6=3"]);
    // Asking for tool by name upgrades it, as apt-get install does.
    assert_eq!(solve_on(&idx, status, &["tool"]), ["tool=2"]);
    // A request's own dependency that the installed version satisfies is
    // not upgraded for it, even when something deeper upgrades it later.
    let idx = index(
        "Package: app\nDepends: libc6 (>= 1), lib\n\n\
         Package: lib\nDepends: libc6 (>= 3)\n\n\
         Package: libc6\nVersion: 3",
    );
    assert_eq!(solve_on(&idx, "Package: libc6\nVersion: 2", &["app"]), ["app=1", "lib=1", "libc6=3"]);
    assert_eq!(solve_on(&idx, "Package: libc6\nVersion: 2", &["app", "libc6"]), ["app=1", "lib=1", "libc6=3"]);
}

#[test]
fn installed_packages_missing_from_the_mirror_still_count() {
    let idx = index("Package: app\nDepends: libold (>= 1), virt");
    let status = "Package: libold\nVersion: 1.5\n\nPackage: provider\nProvides: virt";
    assert_eq!(solve_on(&idx, status, &["app"]), ["app=1"]);
    assert_eq!(solve_on(&idx, status, &["libold"]), Vec::<String>::new());
}
