//! The MicroRoot base image, end to end: `microroot build` with no manifest
//! writes `rootfs.tar.xz`, GNU tar reads and extracts it, and the extracted
//! tree is a working system: BusyBox applets run inside it, the generated
//! /etc and dpkg database are what real tools expect, the promised glibc
//! libraries are there, and a third-party glibc binary (Debian's `hello`,
//! fetched separately) runs in it.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use common::{base_image, extract, gnu_tar, run_ok, shared_cache, tar_list, tar_list_verbose, tool, Runner, TestDir};

const MULTIARCH: &str = "usr/lib/x86_64-linux-gnu";

/// An extracted copy of the base image, private to one test.
fn extracted() -> (TestDir, std::path::PathBuf) {
    let dir = TestDir::new();
    let root = dir.join("rootfs");
    extract(&base_image().tarball, &root);
    (dir, root)
}

#[test]
fn build_without_manifest_writes_a_tarball_gnu_tar_reads() {
    let image = base_image();
    assert!(image.tarball.ends_with("dist/rootfs.tar.xz"), "{}", image.tarball.display());
    let listed = run_ok(gnu_tar().arg("-tJf").arg(&image.tarball));
    let names: Vec<&str> = std::str::from_utf8(&listed.stdout).unwrap().lines().collect();
    for want in ["usr/bin/busybox", "etc/passwd", "var/lib/dpkg/status", "bin", "usr/lib64/ld-linux-x86-64.so.2"] {
        assert!(
            names.iter().any(|n| n.trim_start_matches("./").trim_end_matches('/') == want),
            "no {want} in {names:?}"
        );
    }
    for name in &names {
        assert!(!name.starts_with('/') && !name.split('/').any(|c| c == ".."), "unsafe member name {name:?}");
    }
    // The summary describes the file that is on disk.
    let output = &image.report["outputs"][0];
    assert_eq!(output["sha256"], image.sha256.as_str());
    assert_eq!(output["bytes"], std::fs::metadata(&image.tarball).unwrap().len());
}

#[test]
fn busybox_applets_work_inside_the_image() {
    let (_dir, root) = extracted();
    assert_eq!(std::fs::read_link(root.join("usr/bin/sh")).unwrap(), Path::new("busybox"));
    assert_eq!(std::fs::read_link(root.join("bin")).unwrap(), Path::new("usr/bin"));
    assert_eq!(root.join("bin/sh").canonicalize().unwrap(), root.join("usr/bin/busybox").canonicalize().unwrap());

    let script = r#"set -e
echo hi
ls /
cat /etc/os-release
id
uname -s
printf 'b 2\na 1\nc 3\n' > /tmp/t
echo "sort:$(sort /tmp/t | head -n 1)"
sed -n 's/^c /sed:/p' /tmp/t
awk '{ s += $2 } END { print "awk:" s }' /tmp/t
echo "grep:$(grep -c '[ab]' /tmp/t)"
echo "wc:$(wc -l < /tmp/t)"
tar --help >/dev/null 2>&1 && echo tar:ok
mkdir -p /tmp/d/e/f && test -d /tmp/d/e/f && rm -r /tmp/d && test ! -e /tmp/d && echo mkdir-rm:ok
echo "which:$(command -v sed)"
echo done"#;
    let runner = Runner::detect(&root);
    let out = runner.sh(&root, script);
    assert!(out.status.success(), "{runner:?}: script failed:\n{}", common::describe(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"hi"), "{stdout}");
    for top in ["bin", "dev", "etc", "lib", "lib64", "proc", "root", "sbin", "sys", "tmp", "usr", "var"] {
        assert!(lines.contains(&top), "`ls /` lacks {top}:\n{stdout}");
    }
    for want in [
        "ID=debian",
        "VARIANT_ID=microroot",
        // Names from /etc/passwd and /etc/group through nsswitch's `files`.
        "uid=0(root) gid=0(root)",
        "Linux",
        "sort:a 1",
        "sed:3",
        "awk:6",
        "grep:2",
        "wc:3",
        "tar:ok",
        "mkdir-rm:ok",
        "which:/usr/bin/sed",
        "done",
    ] {
        assert!(lines.iter().any(|l| l.starts_with(want)), "no line starting {want:?} in:\n{stdout}");
    }
}

#[test]
fn etc_files_and_dpkg_database_are_generated() {
    let (_dir, root) = extracted();
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));

    let passwd = read("etc/passwd");
    assert!(passwd.starts_with("root:x:0:0:root:/root:/bin/sh\n"), "{passwd}");
    assert!(passwd.lines().any(|l| l.starts_with("nobody:x:65534:65534:")), "{passwd}");
    // Debian's fixed system accounts, which packages such as nginx expect.
    assert!(passwd.lines().any(|l| l == "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin"), "{passwd}");
    let group = read("etc/group");
    assert!(group.lines().any(|l| l == "root:x:0:"), "{group}");
    assert!(group.lines().any(|l| l.starts_with("nogroup:x:65534:")), "{group}");
    assert!(group.lines().any(|l| l == "staff:x:50:"), "{group}");
    let shadow = read("etc/shadow");
    assert!(shadow.lines().any(|l| l.starts_with("root:*:")), "root must have no password: {shadow}");
    // Mode as stored in the archive and as GNU tar extracted it.
    let listing = tar_list_verbose(&base_image().tarball);
    let shadow_line = listing.iter().find(|l| l.ends_with(" etc/shadow")).expect("etc/shadow listed");
    assert!(shadow_line.starts_with("-rw-r----- 0/42 "), "root:shadow 0640: {shadow_line}");
    assert_eq!(std::fs::metadata(root.join("etc/shadow")).unwrap().permissions().mode() & 0o7777, 0o640);
    let nsswitch = read("etc/nsswitch.conf");
    assert!(nsswitch.lines().any(|l| l.split_whitespace().eq(["passwd:", "files"])), "{nsswitch}");
    assert!(nsswitch.lines().any(|l| l.split_whitespace().eq(["hosts:", "files", "dns"])), "{nsswitch}");
    assert_eq!(read("etc/hostname"), "microroot\n");
    let os_release = read("etc/os-release");
    assert!(os_release.lines().any(|l| l == "ID=debian"), "{os_release}");

    // The dpkg database, read by dpkg itself.
    let admindir = root.join("var/lib/dpkg");
    let out = run_ok(tool("dpkg-query", "dpkg").arg(format!("--admindir={}", admindir.display())).args([
        "-W",
        "-f",
        "${Package}\t${Version}\t${Status}\t${Depends}\n",
    ]));
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    let row =
        |name: &str| rows.iter().find(|r| r[0] == name).unwrap_or_else(|| panic!("{name} not in dpkg db:\n{text}"));
    let libgcc = row("libgcc-s1");
    let gcc_base = libgcc[3]
        .split([',', ' '])
        .find(|d| d.starts_with("gcc-") && d.ends_with("-base"))
        .unwrap_or_else(|| panic!("libgcc-s1 depends on no gcc-N-base: {}", libgcc[3]));
    let report = &base_image().report;
    for name in ["busybox", "libc6", "libgcc-s1", gcc_base] {
        let r = row(name);
        assert_eq!(r[2], "install ok installed", "{name}: {r:?}");
        let in_report = report["packages"].as_array().unwrap().iter().find(|p| p["owner"] == name);
        assert_eq!(in_report.and_then(|p| p["version"].as_str()), Some(r[1]), "{name}: report vs dpkg db");
    }
    // The file lists, as dpkg reads them (`dpkg -S`, scanners).
    let libc = "/usr/lib/x86_64-linux-gnu/libc.so.6";
    let libgcc = "/usr/lib/x86_64-linux-gnu/libgcc_s.so.1";
    for (name, file) in [("busybox", "/usr/bin/busybox"), ("libc6", libc), ("libgcc-s1", libgcc)] {
        let out =
            run_ok(tool("dpkg-query", "dpkg").arg(format!("--admindir={}", admindir.display())).args(["-L", name]));
        let listed = String::from_utf8(out.stdout).unwrap();
        assert!(listed.lines().any(|l| l == file), "dpkg-query -L {name} lacks {file}:\n{listed}");
    }
    // dpkg checks every kept file against its package's md5sums, and finds
    // nothing half-installed or missing.
    for check in ["--verify", "--audit"] {
        let out = run_ok(tool("dpkg", "dpkg").arg(format!("--root={}", root.display())).arg(check));
        let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        assert!(said.trim().is_empty(), "dpkg {check} complains:\n{said}");
    }
}

#[test]
fn promised_libraries_are_present_and_docs_are_pruned() {
    let names = tar_list(&base_image().tarball);
    let (_dir, root) = extracted();
    let libs = [
        "libc.so.6",
        "libm.so.6",
        "libresolv.so.2",
        "libpthread.so.0",
        "libdl.so.2",
        "librt.so.1",
        "libutil.so.1",
        "libanl.so.1",
        "libnsl.so.1",
        "libgcc_s.so.1",
        "libnss_files.so.2",
        "libnss_dns.so.2",
    ];
    for lib in libs {
        // Through the merged-/usr link, as the dynamic loader looks.
        let path = root.join("lib/x86_64-linux-gnu").join(lib);
        let meta = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{lib} missing ({e})"));
        assert!(meta.is_file() && meta.len() > 4096, "{lib}: {meta:?}");
        assert!(std::fs::read(&path).unwrap().starts_with(b"\x7fELF"), "{lib} is not ELF");
    }
    assert!(root.join("usr/lib64/ld-linux-x86-64.so.2").is_file());
    assert!(root.join(MULTIARCH).join("ld-linux-x86-64.so.2").is_file());
    for pruned in ["usr/share/doc", "usr/share/man", "usr/share/locale", "usr/share/info", "usr/lib/locale"] {
        assert!(!root.join(pruned).exists(), "{pruned} exists");
        assert!(!names.iter().any(|n| n.trim_start_matches("./").starts_with(pruned)), "{pruned} in the archive");
    }
    let gconv: Vec<_> = names.iter().filter(|n| n.contains("gconv")).collect();
    assert!(gconv.is_empty(), "gconv in the archive: {gconv:?}");
}

/// Debian's `hello` (not in the base) is resolved, fetched and verified by
/// the library into a plain tar; its binary is copied into the extracted
/// base image and run there.
#[test]
fn a_third_party_glibc_binary_runs_in_the_image() {
    let base_names = tar_list(&base_image().tarball);
    assert!(!base_names.iter().any(|n| n.ends_with("bin/hello")), "hello is already in the base image");

    let donor = TestDir::new();
    let manifest = donor.write(
        "hello.toml",
        "[image]\nname = \"hello-donor\"\n[packages]\ninclude = [\"hello\"]\n[output]\nformats = [\"tar\"]\n",
    );
    let opts = microroot_image::BuildOptions {
        manifest: Some(manifest),
        out_dir: donor.join("out"),
        arch: None,
        locked: false,
        offline: false,
        cache_dir: Some(shared_cache()),
        source_date_epoch: None,
        insecure: vec![],
        resources: microroot_image::Resources::default(),
        progress: Arc::new(microroot_image::Quiet),
    };
    let report = microroot_image::build(&opts).unwrap_or_else(|e| panic!("building hello: {e}"));
    assert!(report.packages.iter().any(|p| p.owner == "hello"), "{:?}", report.packages);
    let tar = donor.join("out/rootfs.tar");
    let member = tar_list(&tar).into_iter().find(|n| n.ends_with("usr/bin/hello")).expect("hello in its image");
    run_ok(gnu_tar().arg("-xf").arg(&tar).arg("-C").arg(donor.path()).arg(&member));
    let hello = std::fs::read(donor.join(&member)).unwrap();
    // Dynamically linked against glibc: it names the loader.
    assert!(hello.starts_with(b"\x7fELF"));
    assert!(hello.windows(27).any(|w| w == b"/lib64/ld-linux-x86-64.so.2"), "hello is not dynamically linked");

    let (_dir, root) = extracted();
    let dest = root.join("usr/bin/hello");
    std::fs::write(&dest, &hello).unwrap();
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755)).unwrap();
    let runner = Runner::detect(&root);
    let out = runner.sh(&root, "/usr/bin/hello");
    assert!(out.status.success(), "{}", common::describe(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Hello, world!\n");

    let out = runner.sh(&root, "/usr/lib64/ld-linux-x86-64.so.2 --list /usr/bin/hello");
    assert!(out.status.success(), "{}", common::describe(&out));
    let deps = String::from_utf8(out.stdout).unwrap();
    assert!(!deps.contains("not found"), "{deps}");
    assert!(
        deps.lines().any(|l| l.trim_start().starts_with("libc.so.6 => ") && l.contains("x86_64-linux-gnu/libc.so.6")),
        "{deps}"
    );
}
